"""Exercise: regularization as a prior (L2↔高斯分布, L1↔拉普拉斯分布), the MAP view.

Fill in every function below, keeping its name, signature and conventions (shapes and formulas
are in each docstring). Replace each ``raise NotImplementedError`` with your code; numpy and
the standard library only.

Grade your work with

    mlquiz grade exercises/priors.py

which runs your functions on random inputs and compares them with the reference and with
independent checks. ``mlquiz hint priors`` gives hints.
"""

import math

import numpy as np


def gaussian_neg_log_prior(w, sigma):
    """Negative log density of the weights under independent N(0, sigma^2) priors.

    Parameters
    ----------
    w : ndarray of any shape, e.g. (D,)
        Weights; d = w.size of them, each with its own prior.
    sigma : float
        Standard deviation of the prior, sigma > 0.

    Returns
    -------
    float
        -log p(w).

    Notes
    -----
    p(w_i) = exp(-w_i^2 / (2 sigma^2)) / sqrt(2 pi sigma^2), so
    -log p(w) = sum_i w_i^2 / (2 sigma^2) + d / 2 * log(2 pi sigma^2).
    Up to the constant, this is the L2 penalty lam / 2 ||w||^2 with lam = 1 / sigma^2.
    """
    raise NotImplementedError


def laplace_neg_log_prior(w, b):
    """Negative log density of the weights under independent Laplace(0, b) priors.

    Parameters
    ----------
    w : ndarray of any shape, e.g. (D,)
        Weights; d = w.size of them, each with its own prior.
    b : float
        Scale of the prior, b > 0 (its variance is 2 b^2).

    Returns
    -------
    float
        -log p(w).

    Notes
    -----
    p(w_i) = exp(-|w_i| / b) / (2 b), so
    -log p(w) = sum_i |w_i| / b + d * log(2 b).
    Up to the constant, this is the L1 penalty lam ||w||_1 with lam = 1 / b.
    """
    raise NotImplementedError


def ridge_lambda_from_prior(noise_var, sigma):
    """The ridge lambda whose solution is the MAP estimate under a Gaussian prior.

    Parameters
    ----------
    noise_var : float
        Variance of the Gaussian noise on the targets, y = X w + noise, noise_var > 0.
    sigma : float
        Standard deviation of the N(0, sigma^2) prior on every weight, sigma > 0.

    Returns
    -------
    float
        lam such that ridge_fit(X, y, lam) is the MAP estimate.

    Notes
    -----
    MAP minimises ||y - X w||^2 / (2 noise_var) + ||w||^2 / (2 sigma^2) (+ constants);
    times noise_var: 0.5 ||y - X w||^2 + (noise_var / sigma^2) / 2 ||w||^2, so
    lam = noise_var / sigma^2. A vaguer prior (larger sigma) regularizes less.
    """
    raise NotImplementedError


def lasso_lambda_from_prior(noise_var, b):
    """The lasso lambda whose solution is the MAP estimate under a Laplace prior.

    Parameters
    ----------
    noise_var : float
        Variance of the Gaussian noise on the targets, y = X w + noise, noise_var > 0.
    b : float
        Scale of the Laplace(0, b) prior on every weight, b > 0.

    Returns
    -------
    float
        lam such that the lasso solution (of 0.5 ||y - X w||^2 + lam ||w||_1) is the MAP
        estimate.

    Notes
    -----
    MAP minimises ||y - X w||^2 / (2 noise_var) + ||w||_1 / b (+ constants);
    times noise_var: 0.5 ||y - X w||^2 + (noise_var / b) ||w||_1, so lam = noise_var / b.
    """
    raise NotImplementedError
