"""Exercise: L2 regularization (L2正则化, 防止过拟合).

Fill in every function below, keeping its name, signature and conventions (shapes and formulas
are in each docstring). Replace each ``raise NotImplementedError`` with your code; numpy and
the standard library only.

Grade your work with

    mlquiz grade exercises/l2_regularization.py

which runs your functions on random inputs and compares them with the reference and with
independent checks. ``mlquiz hint l2`` gives hints.
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
    raise NotImplementedError


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
    raise NotImplementedError


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
    raise NotImplementedError


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
    raise NotImplementedError
