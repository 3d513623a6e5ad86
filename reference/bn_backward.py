"""Batch normalization, backward (reference).

Training-mode statistics as in bn_forward: mu = mean(x, 0), var = mean((x - mu)**2, 0),
x_hat = (x - mu) / sqrt(var + eps), out = gamma * x_hat + beta.
"""

import numpy as np


def batchnorm_backward(dout, x, gamma, eps=1e-5):
    """Gradients of the loss through training-mode batch normalization.

    Parameters
    ----------
    dout : (N, D) upstream gradient dL/dout.
    x : (N, D) the batch that was normalised (statistics are recomputed from it).
    gamma : (D,) scale.
    eps : float

    Returns
    -------
    dx : (N, D)
    dgamma : (D,) = sum(dout * x_hat, 0)
    dbeta : (D,) = sum(dout, 0)

    Notes
    -----
    x reaches the loss along three paths: directly through x_hat, through the batch mean mu and
    through the batch variance var; dx sums all three. A batch of one gives dx = 0,
    dgamma = 0, dbeta = dout[0].
    """
    # With dx_hat = dout * gamma and inv_std = 1 / sqrt(var + eps):
    #   dL/dvar = sum(dx_hat * (x - mu), 0) * -0.5 * inv_std**3
    #   dL/dmu  = -sum(dx_hat, 0) * inv_std + dL/dvar * mean(-2 (x - mu), 0)
    #   dL/dx   = dx_hat * inv_std + dL/dvar * 2 (x - mu) / N + dL/dmu / N
    # which simplifies to inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat)).
    mu = x.mean(axis=0)
    inv_std = 1 / np.sqrt(((x - mu) ** 2).mean(axis=0) + eps)
    x_hat = (x - mu) * inv_std
    dx_hat = dout * gamma
    dx = inv_std * (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0))
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
