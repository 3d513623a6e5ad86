"""Exercise: the Taylor expansion (泰勒展开式) and XGBoost's second-order objective.

Fill in every function below, keeping its name, signature and conventions (shapes and formulas
are in each docstring). Replace each ``raise NotImplementedError`` with your code; numpy and
the standard library only.

Grade your work with

    mlquiz grade exercises/taylor.py

which runs your functions on random inputs and compares them with the reference and with
independent checks. ``mlquiz hint taylor`` gives hints.
"""

import math

import numpy as np


def taylor_polynomial(derivs, x0, x):
    """Taylor polynomial of a function at ``x0``, from its derivatives there.

    Parameters
    ----------
    derivs : sequence of float, length K + 1
        ``derivs[k]`` is the k-th derivative f^(k)(x0) (``derivs[0]`` is f(x0)).
    x0 : float
        The expansion point.
    x : float or ndarray of any shape
        Where to evaluate the polynomial.

    Returns
    -------
    float or ndarray of the shape of ``x``
        T_K(x); a number when ``x`` is a number.

    Notes
    -----
    T_K(x) = sum_{k=0}^{K} f^(k)(x0) (x - x0)^k / k!
    """
    raise NotImplementedError


def grad_hess(y, y_pred, loss):
    """First and second derivatives of a loss with respect to the prediction, per sample.

    Parameters
    ----------
    y : ndarray, shape (N,)
        Targets: real values for ``"squared"``, labels in {0, 1} for ``"logistic"``.
    y_pred : ndarray, shape (N,)
        Current predictions yhat: real values for ``"squared"``, logits for ``"logistic"``.
    loss : str
        ``"squared"`` or ``"logistic"``.

    Returns
    -------
    g : ndarray, shape (N,)
        dl/dyhat.
    h : ndarray, shape (N,)
        d^2 l / dyhat^2.

    Raises
    ------
    ValueError
        For any other loss name.

    Notes
    -----
    squared:  l = 0.5 (y - yhat)^2,                          g = yhat - y,  h = 1.
    logistic: l = -(y log p + (1 - y) log(1 - p)), p = g(yhat),  g = p - y,  h = p (1 - p).
    h of the logistic loss is computed as g(yhat) g(-yhat), which keeps its precision.
    """
    raise NotImplementedError


def leaf_weight(G, H, lam):
    """Optimal weight of a leaf (or of several leaves, elementwise).

    Parameters
    ----------
    G : float or ndarray, shape (T,)
        Sum of the gradients g over the samples of each leaf.
    H : float or ndarray, shape (T,)
        Sum of the hessians h over the samples of each leaf.
    lam : float
        L2 penalty on the leaf weights (lambda), with H + lam > 0.

    Returns
    -------
    float or ndarray, shape (T,)
        w*.

    Notes
    -----
    w* = argmin_w G w + 0.5 (H + lam) w^2 = -G / (H + lam).
    """
    raise NotImplementedError


def structure_score(G, H, lam, gamma):
    """Objective of a tree whose leaves all take their optimal weights (lower is better).

    Parameters
    ----------
    G : ndarray, shape (T,)
        Per-leaf sums of the gradients.
    H : ndarray, shape (T,)
        Per-leaf sums of the hessians.
    lam : float
        L2 penalty on the leaf weights.
    gamma : float
        Penalty per leaf.

    Returns
    -------
    float
        The structure score.

    Notes
    -----
    score = -0.5 sum_j G_j^2 / (H_j + lam) + gamma T,  with T = len(G) the number of leaves;
    each term -0.5 G_j^2 / (H_j + lam) is min_w G_j w + 0.5 (H_j + lam) w^2.
    """
    raise NotImplementedError


def split_gain(GL, HL, GR, HR, lam, gamma):
    """Gain of splitting a leaf into a left and a right child (higher is better).

    Parameters
    ----------
    GL, HL : float
        Sums of the gradients and hessians of the samples going left.
    GR, HR : float
        The same for the samples going right.
    lam : float
        L2 penalty on the leaf weights.
    gamma : float
        Penalty per leaf.

    Returns
    -------
    float
        score(parent) - score(children); a split is worth making when it is positive.

    Notes
    -----
    gain = 0.5 (GL^2 / (HL + lam) + GR^2 / (HR + lam) - (GL + GR)^2 / (HL + HR + lam)) - gamma
    """
    raise NotImplementedError
