"""Logistic regression (逻辑回归): prediction, log-likelihood and gradient ascent.

Reference implementation. Conventions (CURRICULUM.md): ``X`` is ``(N, D)``, one row per sample
(a bias, if any, is a column of ones in ``X``); ``theta`` is ``(D,)``; labels ``y`` are ``(N,)``
in {0, 1}. Training *maximises* the log-likelihood, so the update climbs its gradient.
"""

import numpy as np


def sigmoid(z):
    """The logistic function, elementwise, without warnings for any finite ``z``.

    Parameters
    ----------
    z : ndarray of any shape (or a number)
        Logits.

    Returns
    -------
    ndarray of the shape of ``z``
        ``g(z)`` in [0, 1].

    Notes
    -----
    g(z) = 1 / (1 + exp(-z)). For z < 0 the same value is written exp(z) / (1 + exp(z)), so
    exp is only ever taken of -|z| <= 0 and cannot overflow (below z = -745 it underflows to
    0, the nearest double to the true value).
    """
    z = np.asarray(z, dtype=float)
    e = np.exp(-np.abs(z))  # in (0, 1]: never overflows
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_grad(z):
    """Derivative of the sigmoid, elementwise.

    Parameters
    ----------
    z : ndarray of any shape (or a number)
        Logits.

    Returns
    -------
    ndarray of the shape of ``z``
        ``g'(z)`` in [0, 0.25].

    Notes
    -----
    g'(z) = g(z) (1 - g(z)) = g(z) g(-z). The second form keeps its relative precision for
    large |z|, where 1 - g(z) would cancel.
    """
    z = np.asarray(z, dtype=float)
    return sigmoid(z) * sigmoid(-z)


def predict_proba(theta, X):
    """Probability of the label 1 for every sample.

    Parameters
    ----------
    theta : ndarray, shape (D,)
        Parameters.
    X : ndarray, shape (N, D)
        Samples, one per row.

    Returns
    -------
    ndarray, shape (N,)
        h = P(y = 1 | x; theta).

    Notes
    -----
    h = g(X theta).
    """
    return sigmoid(X @ theta)


def log_likelihood(theta, X, y):
    """Log-likelihood of the labels, finite for any logits.

    Parameters
    ----------
    theta : ndarray, shape (D,)
        Parameters.
    X : ndarray, shape (N, D)
        Samples, one per row.
    y : ndarray, shape (N,)
        Labels in {0, 1}.

    Returns
    -------
    float
        l(theta), at most 0.

    Notes
    -----
    l(theta) = sum_i y_i log h_i + (1 - y_i) log(1 - h_i), with h = g(X theta).
    With z = X theta: log h = -log(1 + e^{-z}) = -logaddexp(0, -z) and
    log(1 - h) = -log(1 + e^{z}) = -logaddexp(0, z), which never take the log of 0.
    """
    z = X @ theta
    return float(-np.sum(y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z)))


def gradient(theta, X, y):
    """Gradient of the log-likelihood with respect to ``theta``.

    Parameters
    ----------
    theta : ndarray, shape (D,)
        Parameters.
    X : ndarray, shape (N, D)
        Samples, one per row.
    y : ndarray, shape (N,)
        Labels in {0, 1}.

    Returns
    -------
    ndarray, shape (D,)
        dl/dtheta.

    Notes
    -----
    dl/dtheta = X^T (y - h), summed over the samples (not averaged).
    """
    return X.T @ (y - predict_proba(theta, X))


def gradient_ascent_step(theta, X, y, lr):
    """One step of gradient ascent on the log-likelihood.

    Parameters
    ----------
    theta : ndarray, shape (D,)
        Current parameters (not modified).
    X : ndarray, shape (N, D)
        Samples, one per row.
    y : ndarray, shape (N,)
        Labels in {0, 1}.
    lr : float
        Learning rate.

    Returns
    -------
    ndarray, shape (D,)
        The new parameters.

    Notes
    -----
    theta_new = theta + lr * X^T (y - h)  (the summed gradient).
    """
    return theta + lr * gradient(theta, X, y)


def fit(X, y, lr=0.1, n_iter=1000):
    """Fit by gradient ascent on the mean log-likelihood, from ``theta = 0``.

    Parameters
    ----------
    X : ndarray, shape (N, D)
        Samples, one per row.
    y : ndarray, shape (N,)
        Labels in {0, 1}.
    lr : float, default 0.1
        Learning rate.
    n_iter : int, default 1000
        Number of steps, exactly.

    Returns
    -------
    ndarray, shape (D,)
        theta after ``n_iter`` steps.

    Notes
    -----
    theta_0 = 0;  theta_{t+1} = theta_t + lr * X^T (y - g(X theta_t)) / N.
    The mean gradient (divided by N) lets one learning rate serve every N.
    """
    n_samples, n_features = X.shape
    theta = np.zeros(n_features)
    for _ in range(n_iter):
        theta = theta + lr * gradient(theta, X, y) / n_samples
    return theta
