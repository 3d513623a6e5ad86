"""Exercise: logistic regression (逻辑回归) - prediction, log-likelihood, gradient ascent.

Fill in every function below, keeping its name, signature and conventions (shapes and formulas
are in each docstring; ``X`` is ``(N, D)``, ``theta`` is ``(D,)``, labels ``y`` in {0, 1}).
Replace each ``raise NotImplementedError`` with your code; numpy only.

Grade your work with

    mlquiz grade exercises/logistic_regression.py

which runs your functions on random inputs, including extreme logits (|z| up to 1e3): an
overflow or a nan there fails the function. ``mlquiz hint logistic_regression`` gives hints.
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
    raise NotImplementedError


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
    raise NotImplementedError


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
    raise NotImplementedError


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
    raise NotImplementedError


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
    raise NotImplementedError


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
    raise NotImplementedError


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
    raise NotImplementedError
