"""Exercise: the support vector machine in its primal form (SVM 原形式).

Labels are y in {-1, +1}. The soft-margin linear SVM minimises

    J(w, b) = 0.5 ||w||^2 + C sum_i max(0, 1 - y_i (w . x_i + b)).

Fill in every function below, keeping its name, signature and conventions (shapes and formulas
are in each docstring). Replace each ``raise NotImplementedError`` with your code; numpy and
the standard library only.

Grade your work with

    mlquiz grade exercises/svm_primal.py

which runs your functions on random inputs and compares them with the reference and with
independent checks (finite differences; for ``fit_primal``, the objective your fit reaches).
``mlquiz hint svm_primal`` gives hints.
"""

import numpy as np


def hinge_objective(w, b, X, y, C):
    """The soft-margin SVM's primal objective.

    Parameters
    ----------
    w : ndarray, shape (D,)
        Weights.
    b : float
        Bias.
    X : ndarray, shape (N, D)
        Samples, one per row.
    y : ndarray, shape (N,)
        Labels in {-1, +1}.
    C : float
        Weight of the hinge losses, C > 0.

    Returns
    -------
    float
        J(w, b).

    Notes
    -----
    J(w, b) = 0.5 ||w||^2 + C sum_i max(0, 1 - y_i (X w + b)_i)
    """
    raise NotImplementedError


def hinge_subgradient(w, b, X, y, C):
    """A subgradient of the primal objective ``hinge_objective`` with respect to w and b.

    Parameters
    ----------
    w : ndarray, shape (D,)
        Weights.
    b : float
        Bias.
    X : ndarray, shape (N, D)
        Samples.
    y : ndarray, shape (N,)
        Labels in {-1, +1}.
    C : float
        Weight of the hinge losses.

    Returns
    -------
    dw : ndarray, shape (D,)
        Subgradient with respect to w.
    db : float
        Subgradient with respect to b.

    Notes
    -----
    max(0, 1 - m) has slope -1 for m < 1 and 0 for m > 1; at the kink m = 1 any slope in
    [-1, 0] is a subgradient, and the convention here is 0. So only the active samples,
    A = {i : y_i (w . x_i + b) < 1} (strictly), contribute:

        dw = w - C sum_{i in A} y_i x_i,     db = -C sum_{i in A} y_i.

    Where no margin equals 1 exactly, this is the gradient.
    """
    raise NotImplementedError


def fit_primal(X, y, C):
    """Fit a linear soft-margin SVM: minimise ``hinge_objective`` over w and b.

    Parameters
    ----------
    X : ndarray, shape (N, D)
        Training samples.
    y : ndarray, shape (N,)
        Labels in {-1, +1}, both classes present.
    C : float
        Weight of the hinge losses, C > 0.

    Returns
    -------
    w : ndarray, shape (D,)
        Weights.
    b : float
        Bias.

    Notes
    -----
    Any method is accepted that reaches J(w, b) at most 1e-3 (relative) above the minimum
    with its default arguments. Subgradient descent converges too slowly for that.

    One method that does (the reference's): solve the dual problem, maximise
    sum(alpha) - 0.5 (alpha y)^T X X^T (alpha y) subject to 0 <= alpha <= C and
    sum(alpha y) = 0, by SMO with maximal-violating-pair selection (``smo_fit`` of the
    svm_dual exercise) down to a KKT violation of 1e-9, computing the kernel rows
    X @ x_i on demand; then map back: w = X^T (alpha y), and b = y_i - w . x_i averaged over
    the free support vectors (0 < alpha_i < C), which lie on the margin. Strong duality
    makes this (w, b) the minimiser of J. The tight tolerance matters: a KKT violation of
    eps leaves J up to about C eps (number of samples near the margin) above the minimum.
    """
    raise NotImplementedError
