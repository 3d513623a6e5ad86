"""L2 regularization (L2正则化, 防止过拟合): the penalty, its gradient, weight decay, ridge.

Reference implementation. The L2 penalty lam / 2 ||w||^2 grows with the square of every
weight; its gradient lam * w pulls each weight towards zero in proportion to its size, which
is why a gradient step on a loss plus the penalty is called weight decay. Added to least
squares it gives ridge regression, which has a closed form.
"""

import numpy as np


def l2_penalty(w, lam):
    """L2 penalty of the weights.

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
    penalty = lam / 2 * sum_i w_i^2
    The 1/2 makes the gradient lam * w.
    """
    w = np.asarray(w, dtype=float)
    return float(lam / 2 * np.sum(w**2))


def l2_grad(w, lam):
    """Gradient of the L2 penalty with respect to the weights.

    Parameters
    ----------
    w : ndarray of any shape, e.g. (D,)
        Weights.
    lam : float
        Regularization strength lambda >= 0.

    Returns
    -------
    ndarray, the shape of ``w``
        d penalty / dw.

    Notes
    -----
    d/dw (lam / 2 * sum_i w_i^2) = lam * w
    """
    return lam * np.asarray(w, dtype=float)


def weight_decay_step(w, grad, lr, lam):
    """One gradient-descent step on a loss plus the L2 penalty (weight decay).

    Parameters
    ----------
    w : ndarray of any shape, e.g. (D,)
        Current weights.
    grad : ndarray, the shape of ``w``
        Gradient of the (unregularized) loss at ``w``.
    lr : float
        Learning rate (step size) > 0.
    lam : float
        Regularization strength lambda >= 0.

    Returns
    -------
    ndarray, the shape of ``w``
        The new weights (``w`` itself is not modified).

    Notes
    -----
    w_new = w - lr * (grad + lam * w) = (1 - lr * lam) * w - lr * grad:
    every step shrinks (decays) the weights by the factor 1 - lr * lam.
    """
    w = np.asarray(w, dtype=float)
    return w - lr * (np.asarray(grad, dtype=float) + lam * w)


def ridge_fit(X, y, lam):
    """Ridge regression: least squares with an L2 penalty, in closed form.

    Parameters
    ----------
    X : ndarray, shape (N, D)
        Design matrix, one row per sample (no intercept is added; a bias, if wanted, is a
        column of ones in ``X``, and it is penalised like every weight).
    y : ndarray, shape (N,)
        Targets.
    lam : float
        Regularization strength lambda > 0.

    Returns
    -------
    w : ndarray, shape (D,)
        The minimiser.

    Notes
    -----
    w = argmin_w 0.5 ||y - X w||^2 + lam / 2 ||w||^2.
    Setting the gradient X^T (X w - y) + lam w to zero gives the normal equations
    (X^T X + lam I) w = X^T y; X^T X + lam I is positive definite for lam > 0, so the system
    has one solution (solve it, do not invert the matrix).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    A = X.T @ X + lam * np.eye(X.shape[1])
    return np.linalg.solve(A, X.T @ y)
