"""Backpropagation through fully connected layers (reference).

Nielsen's notation (cost C, weighted input z, activation a, error delta), batch first: a batch
``x`` is ``(N, D_in)`` and a weight matrix is ``(D_in, D_out)``, the transpose of the book's.
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
    return x @ W + b


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
    return dz @ W.T, x.T @ dz, dz.sum(axis=0)


def _sigmoid(z):
    # exp of a non-positive number only: no overflow for any z.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


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
    # (BP1) delta_L = (a_L - y) * s'(z_L)        (BP2) delta_l = (delta_{l+1} W_{l+1}^T) * s'(z_l)
    # (BP3) dC/db_l = sum_batch delta_l           (BP4) dC/dW_l = a_{l-1}^T delta_l
    # with s'(z) = s(z) (1 - s(z)) = a (1 - a).
    activations = [x]
    for W, b in zip(weights, biases):
        activations.append(_sigmoid(dense_forward(activations[-1], W, b)))
    grad_weights = [None] * len(weights)
    grad_biases = [None] * len(biases)
    a_out = activations[-1]
    delta = (a_out - y) * a_out * (1 - a_out)
    for layer in reversed(range(len(weights))):
        a_in = activations[layer]
        d_in, grad_weights[layer], grad_biases[layer] = dense_backward(delta, a_in, weights[layer])
        delta = d_in * a_in * (1 - a_in)
    return grad_weights, grad_biases
