"""backprop, written with loops over samples and explicit Jacobians (a correct alternative)."""
import numpy as np


def dense_forward(x, W, b):
    return np.einsum("ni,io->no", x, W) + b[None, :]


def dense_backward(dz, x, W):
    dx = np.zeros((dz.shape[0], W.shape[0]))
    dW = np.zeros_like(W, dtype=float)
    for n in range(dz.shape[0]):
        dx[n] = W @ dz[n]  # the Jacobian dz/dx of one sample is W.T
        dW += np.outer(x[n], dz[n])
    return dx, dW, np.array([dz[:, o].sum() for o in range(dz.shape[1])])


def _g(z):
    return np.exp(-np.logaddexp(0.0, -z))


def backprop(x, y, weights, biases):
    grads_W = [np.zeros_like(W, dtype=float) for W in weights]
    grads_b = [np.zeros_like(b, dtype=float) for b in biases]
    for n in range(x.shape[0]):
        a = [x[n]]
        for W, b in zip(weights, biases):
            a.append(_g(a[-1] @ W + b))
        upstream = a[-1] - y[n]  # dC/da_L
        for layer in range(len(weights) - 1, -1, -1):
            jac = np.diag(a[layer + 1] * _g(-(a[layer] @ weights[layer] + biases[layer])))
            delta = jac @ upstream
            grads_W[layer] += np.outer(a[layer], delta)
            grads_b[layer] += delta
            upstream = weights[layer] @ delta
    return grads_W, grads_b
