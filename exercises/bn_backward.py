"""Exercise: Batch normalization, backward.

Fill in every function below, then grade your work:

    mlquiz grade exercises/bn_backward.py

Stuck? `mlquiz hint bn_backward` shows the next hint.
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
    raise NotImplementedError
