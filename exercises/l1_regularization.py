"""Exercise: L1 regularization (L1正则化) and the lasso.

Fill in every function below, keeping its name, signature and conventions (shapes and formulas
are in each docstring). Replace each ``raise NotImplementedError`` with your code; numpy and
the standard library only. ``lasso_fit`` may use any method: it is graded on the objective it
reaches with its default arguments (at most 1e-4, relative, above the optimum).

Grade your work with

    mlquiz grade exercises/l1_regularization.py

which runs your functions on random inputs and compares them with the reference and with
independent checks. ``mlquiz hint l1`` gives hints.
"""

import numpy as np


def l1_penalty(w, lam):
    """L1 penalty of the weights.

    Parameters
    ----------
    w : ndarray of any shape, e.g. (D,)
        Weights; every element is penalised.
    lam : float
        Regularization strength lambda >= 0.

    Returns
    -------
    float
        The penalty.

    Notes
    -----
    penalty = lam * sum_i |w_i|
    """
    raise NotImplementedError


def l1_subgradient(w, lam):
    """A subgradient of the L1 penalty: the gradient away from 0, and 0 at 0.

    Parameters
    ----------
    w : ndarray of any shape, e.g. (D,)
        Weights.
    lam : float
        Regularization strength lambda >= 0.

    Returns
    -------
    ndarray, the shape of ``w``
        lam * sign(w).

    Notes
    -----
    d/dw_i (lam |w_i|) = lam * sign(w_i) for w_i != 0. At w_i = 0 every value in
    [-lam, lam] is a subgradient; the convention is 0, exactly (np.sign(0) is 0).
    """
    raise NotImplementedError


def soft_threshold(w, t):
    """Soft-thresholding operator, elementwise.

    Parameters
    ----------
    w : ndarray of any shape, e.g. (D,)
        Values to shrink.
    t : float
        Threshold t >= 0.

    Returns
    -------
    ndarray, the shape of ``w``
        Each value moved towards 0 by t, and exactly 0 where |w_i| <= t.

    Notes
    -----
    S_t(w) = sign(w) * max(|w| - t, 0), the minimiser over u of 0.5 (u - w)^2 + t |u|
    (the proximal operator of t |.|). Values with |w_i| exactly t give 0.
    """
    raise NotImplementedError


def lasso_fit(X, y, lam, n_iter=1000):
    """The lasso: least squares with an L1 penalty.

    Parameters
    ----------
    X : ndarray, shape (N, D)
        Design matrix, one row per sample (no intercept is added).
    y : ndarray, shape (N,)
        Targets.
    lam : float
        Regularization strength lambda >= 0.
    n_iter : int, default 1000
        Number of full passes over the D coordinates (at most; the passes may stop early
        once the weights no longer change).

    Returns
    -------
    w : ndarray, shape (D,)
        The weights reached: the minimiser, to within the accuracy of the method.

    Notes
    -----
    w = argmin_w 0.5 ||y - X w||^2 + lam ||w||_1, by any method.
    Cyclic coordinate descent (the fastest to converge) minimises over one w_j at a
    time, the others fixed. With rho_j = X_j^T (y - X w + X_j w_j), the correlation of
    column j with the residual that leaves w_j out, the exact minimiser over w_j is
        w_j = S_lam(rho_j) / ||X_j||^2     (S the soft threshold; w_j = 0 if X_j = 0).
    The residual r = y - X w is updated after every coordinate, so a pass costs O(N D).
    At the optimum: X_j^T r = lam sign(w_j) where w_j != 0, and |X_j^T r| <= lam where w_j = 0.
    """
    raise NotImplementedError
