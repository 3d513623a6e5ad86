"""Batch normalization, forward (reference). Ioffe & Szegedy 2015, PyTorch's conventions.

Per feature (column) over the batch: mu = mean(x, 0), var = mean((x - mu)**2, 0) (biased),
x_hat = (x - mu) / sqrt(var + eps), out = gamma * x_hat + beta.
"""

import numpy as np


def batchnorm_forward(x, gamma, beta, eps=1e-5):
    """Training-mode batch normalization.

    Parameters
    ----------
    x : (N, D) a batch.
    gamma, beta : (D,) scale and shift.
    eps : float added to the variance.

    Returns
    -------
    out : (N, D) = gamma * (x - mu) / sqrt(var + eps) + beta, with the batch's mean and biased
        variance. A batch of one gives ``beta`` in every row (x_hat is 0).
    """
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def batchnorm_train_step(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    """One training step: normalise with the batch statistics and update the running ones.

    Parameters
    ----------
    x : (N, D) a batch, N >= 2.
    gamma, beta, running_mean, running_var : (D,)
    momentum : float, weight of the new batch in the running averages.

    Returns
    -------
    out : (N, D) as ``batchnorm_forward``.
    new_running_mean : (D,) = (1 - momentum) * running_mean + momentum * mu
    new_running_var : (D,) = (1 - momentum) * running_var + momentum * var_unbiased, where
        var_unbiased divides by N - 1 (as PyTorch).

    Raises
    ------
    ValueError for a batch of one (the unbiased variance is undefined).
    """
    n = x.shape[0]
    if n < 2:
        raise ValueError("batchnorm_train_step needs at least 2 samples (unbiased variance)")
    mu = x.mean(axis=0)
    var_unbiased = ((x - mu) ** 2).sum(axis=0) / (n - 1)
    out = batchnorm_forward(x, gamma, beta, eps)
    new_mean = (1 - momentum) * running_mean + momentum * mu
    new_var = (1 - momentum) * running_var + momentum * var_unbiased
    return out, new_mean, new_var


def batchnorm_inference(x, gamma, beta, running_mean, running_var, eps=1e-5):
    """Inference-mode batch normalization with the running statistics.

    Parameters
    ----------
    x : (N, D); gamma, beta, running_mean, running_var : (D,)

    Returns
    -------
    out : (N, D) = gamma * (x - running_mean) / sqrt(running_var + eps) + beta
    """
    return gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
