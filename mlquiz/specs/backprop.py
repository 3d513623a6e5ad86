"""Grading spec for backprop: dense layers and a sigmoid network, checked against the
reference and against centred finite differences of the reference's forward pass."""

import numpy as np

from mlquiz.grading.numeric import compare, numerical_gradient
from mlquiz.grading.references import load_reference
from mlquiz.grading.spec import Case, Check, FunctionSpec, Mistake

ref = load_reference("backprop")


def _layer_cases(rng):
    cases = []
    for label, (n, d_in, d_out), scale in [
        ("a small batch", (4, 3, 2), 1.0),
        ("a batch of one", (1, 3, 4), 1.0),
        ("large magnitudes", (6, 5, 3), 1e3),
        ("small magnitudes", (5, 2, 3), 1e-3),
    ]:
        cases.append(Case(f"{label}: N={n}, D_in={d_in}, D_out={d_out}",
                          (scale * rng.standard_normal((n, d_in)),
                           scale * rng.standard_normal((d_in, d_out)),
                           scale * rng.standard_normal(d_out))))
    return cases


def _forward_cases(rng):
    return _layer_cases(rng)


def _backward_cases(rng):
    # dense_backward(dz, x, W): dz is (N, D_out)
    return [Case(c.label, (rng.standard_normal((c.args[0].shape[0], c.args[1].shape[1])) * np.abs(c.args[0]).max(),
                           c.args[0], c.args[1]))
            for c in _layer_cases(rng)]


def _dense_fd(case, got, expected):
    """d/dtheta of sum(dz * dense_forward(x, W, b)), by centred differences at b = 0."""
    dz, x, W = case.args
    b = np.zeros(W.shape[1])
    numeric = (
        numerical_gradient(lambda v: np.sum(dz * ref.dense_forward(v, W, b)), x, h=1e-3 * np.abs(x).max()),
        numerical_gradient(lambda v: np.sum(dz * ref.dense_forward(x, v, b)), W, h=1e-3 * np.abs(W).max()),
        numerical_gradient(lambda v: np.sum(dz * ref.dense_forward(x, W, v)), b,
                           h=1e-3 * (1 + np.abs(x @ W).max())),
    )
    for name, g, n in zip(("dx", "dW", "db"), got, numeric):
        mismatch = compare(g, n, 1e-6, 1e-9 * (1 + np.abs(n).max()), name)
        if mismatch:
            return mismatch
    return None


def _network_cases(rng):
    cases = []
    for label, sizes, n in [
        ("one layer", [3, 2], 4),
        ("two layers", [3, 4, 2], 5),
        ("three layers, a batch of one", [2, 3, 3, 1], 1),
        ("two layers, wide", [5, 6, 3], 3),
    ]:
        weights = [rng.standard_normal((a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
        biases = [rng.standard_normal(b) for b in sizes[1:]]
        x = rng.standard_normal((n, sizes[0]))
        y = rng.uniform(0, 1, (n, sizes[-1]))
        cases.append(Case(f"{label}: layer sizes {sizes}, N={n}", (x, y, weights, biases)))
    return cases


def _cost(x, y, weights, biases):
    a = x
    for W, b in zip(weights, biases):
        a = 1 / (1 + np.exp(-ref.dense_forward(a, W, b)))
    return 0.5 * np.sum((a - y) ** 2)


def _network_fd(case, got, expected):
    """Every gradient against centred differences of the cost C = 0.5 sum((a_L - y)^2)."""
    x, y, weights, biases = case.args
    for kind, params, grads in (("grad_weights", weights, got[0]), ("grad_biases", biases, got[1])):
        for i, p in enumerate(params):
            def cost_at(v, i=i, kind=kind):
                ws = [v if (kind == "grad_weights" and j == i) else w for j, w in enumerate(weights)]
                bs = [v if (kind == "grad_biases" and j == i) else b for j, b in enumerate(biases)]
                return _cost(x, y, ws, bs)
            mismatch = compare(grads[i], numerical_gradient(cost_at, p, h=1e-5), 1e-5, 1e-8, f"{kind}[{i}]")
            if mismatch:
                return mismatch
    return None


def _delta_without_sigmoid_prime(x, y, weights, biases):
    """Mistake: delta_L = a_L - y (the cross-entropy error), forgetting s'(z_L)."""
    activations = [x]
    for W, b in zip(weights, biases):
        activations.append(1 / (1 + np.exp(-(activations[-1] @ W + b))))
    gw, gb = [None] * len(weights), [None] * len(biases)
    delta = activations[-1] - y
    for layer in reversed(range(len(weights))):
        a_in = activations[layer]
        gw[layer], gb[layer] = a_in.T @ delta, delta.sum(0)
        delta = (delta @ weights[layer].T) * a_in * (1 - a_in)
    return gw, gb


def _biases_averaged(x, y, weights, biases):
    gw, gb = ref.backprop(x, y, weights, biases)
    return gw, [g / x.shape[0] for g in gb]


FUNCTIONS = [
    FunctionSpec(
        "dense_forward", _forward_cases, outputs=("z",), rtol=1e-9, atol=1e-9,
        mistakes=(Mistake("the bias b is not added (z = x W + b)", lambda x, W, b: x @ W),),
    ),
    FunctionSpec(
        "dense_backward", _backward_cases, outputs=("dx", "dW", "db"), rtol=1e-9, atol=1e-9,
        checks=(Check("finite differences of dense_forward", _dense_fd),),
        mistakes=(
            Mistake("db is not summed over the batch: dC/db = dz.sum(0), one row per sample adds up",
                    lambda dz, x, W: (dz @ W.T, x.T @ dz, dz)),
            Mistake("db is averaged over the batch; the cost sums over samples, so db = dz.sum(0)",
                    lambda dz, x, W: (dz @ W.T, x.T @ dz, dz.mean(0))),
        ),
    ),
    FunctionSpec(
        "backprop", _network_cases, outputs=("grad_weights", "grad_biases"), rtol=1e-7, atol=1e-10,
        checks=(Check("finite differences of the cost", _network_fd),),
        mistakes=(
            Mistake("the output error misses the sigmoid's derivative: delta_L = (a_L - y) * s'(z_L)",
                    _delta_without_sigmoid_prime),
            Mistake("the bias gradients are averaged over the batch; they are summed (BP3)",
                    _biases_averaged),
        ),
    ),
]
