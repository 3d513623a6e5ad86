"""Exercise: Backpropagation.

Fill in every function below, then grade your work:

    mlquiz grade exercises/backprop.py

Stuck? `mlquiz hint backprop` shows the next hint.
"""

import numpy as np


def dense_forward(x, W, b):
    """Affine layer: z = x W + b.

    Parameters
    ----------
    x : (N, D_in) inputs, one row per sample.
    W : (D_in, D_out) weights.
    b : (D_out,) biases.

    Returns
    -------
    z : (N, D_out)
    """
    raise NotImplementedError


def dense_backward(dz, x, W):
    """Gradients of an affine layer, given the upstream gradient ``dz = dC/dz``.

    Parameters
    ----------
    dz : (N, D_out) gradient of the cost with respect to z.
    x : (N, D_in) the layer's input.
    W : (D_in, D_out) weights.

    Returns
    -------
    dx : (N, D_in) = dz W^T
    dW : (D_in, D_out) = x^T dz
    db : (D_out,) = sum of dz over the batch (dC/db = delta)
    """
    raise NotImplementedError


def backprop(x, y, weights, biases):
    """Gradients of C = 0.5 * sum((a_L - y)**2) for a sigmoid network.

    Every layer, the last included, is a = sigmoid(a_prev W + b).

    Parameters
    ----------
    x : (N, D_0) inputs.
    y : (N, D_L) targets.
    weights : list of L arrays, weights[l] is (D_l, D_{l+1}).
    biases : list of L arrays, biases[l] is (D_{l+1},).

    Returns
    -------
    grad_weights, grad_biases : lists with the shapes of ``weights`` and ``biases``.

    Notes
    -----
    Run forward keeping every activation, then propagate the error delta = dC/dz backwards
    with Nielsen's four equations (batch first).
    """
    raise NotImplementedError
