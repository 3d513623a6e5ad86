"""Grading spec for bn_forward: training-mode normalisation, the running statistics and
inference, against the reference and against what normalisation guarantees by definition
(every column of the output has mean beta and variance gamma^2 var / (var + eps))."""

import numpy as np

from mlquiz.grading.numeric import compare
from mlquiz.grading.references import load_reference
from mlquiz.grading.spec import Case, Check, FunctionSpec, Mistake

ref = load_reference("bn_forward")

SHAPES = [
    ("a small batch", 4, 3, 1.0, {}),
    ("a batch of one", 1, 3, 1.0, {}),
    ("large magnitudes", 8, 5, 1e3, {}),
    ("small magnitudes, eps=1e-3", 6, 2, 1e-3, {"eps": 1e-3}),
    ("two samples", 2, 4, 1.0, {}),
]


def _batch(rng, n, d, scale):
    offset = scale * rng.standard_normal(d)
    return offset + scale * rng.uniform(0.5, 2.0, d) * rng.standard_normal((n, d))


def _forward_cases(rng):
    return [Case(f"{label}: N={n}, D={d}",
                 (_batch(rng, n, d, scale), rng.uniform(0.5, 2.0, d), rng.standard_normal(d)), kwargs)
            for label, n, d, scale, kwargs in SHAPES]


def _column_statistics(case, got, expected):
    """mean(out, 0) = beta and var(out, 0) = gamma^2 var / (var + eps), from the definition."""
    x, gamma, beta = case.args
    eps = case.kwargs.get("eps", 1e-5)
    out = np.asarray(got, dtype=float).reshape(x.shape)
    var = x.var(axis=0)
    return (compare(out.mean(axis=0), beta, 1e-7, 1e-9, "mean of each output column")
            or compare(out.var(axis=0), gamma**2 * var / (var + eps), 1e-6, 1e-9,
                       "variance of each output column"))


def _normalised_unbiased(x, gamma, beta, eps=1e-5):
    if x.shape[0] < 2:
        raise ValueError
    return gamma * (x - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + eps) + beta


def _eps_outside_sqrt(x, gamma, beta, eps=1e-5):
    return gamma * (x - x.mean(0)) / (x.std(0) + eps) + beta


def _train_cases(rng):
    cases = []
    for label, n, d, scale, kwargs in SHAPES:
        x = _batch(rng, n, d, scale)
        args = (x, rng.uniform(0.5, 2.0, d), rng.standard_normal(d),
                scale * rng.standard_normal(d), scale**2 * rng.uniform(0.5, 2.0, d))
        if n == 1:
            cases.append(Case(f"{label}: the unbiased variance is undefined", args, raises="ValueError"))
        else:
            cases.append(Case(f"{label}: N={n}, D={d}", args, kwargs))
    x = _batch(rng, 5, 3, 1.0)
    cases.append(Case("momentum=0.3: N=5, D=3", (x, np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)),
                      {"momentum": 0.3}))
    return cases


def _running_var_biased(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    out, mean, _ = ref.batchnorm_train_step(x, gamma, beta, running_mean, running_var, momentum, eps)
    return out, mean, (1 - momentum) * running_var + momentum * x.var(0)


def _momentum_swapped(x, gamma, beta, running_mean, running_var, momentum=0.1, eps=1e-5):
    out, _, _ = ref.batchnorm_train_step(x, gamma, beta, running_mean, running_var, momentum, eps)
    return (out, momentum * running_mean + (1 - momentum) * x.mean(0),
            momentum * running_var + (1 - momentum) * x.var(0, ddof=1))


def _inference_cases(rng):
    cases = []
    for label, n, d, scale, kwargs in SHAPES:
        cases.append(Case(f"{label}: N={n}, D={d}",
                          (_batch(rng, n, d, scale), rng.uniform(0.5, 2.0, d), rng.standard_normal(d),
                           scale * rng.standard_normal(d), scale**2 * rng.uniform(0.5, 2.0, d)), kwargs))
    return cases


def _inference_with_batch_statistics(x, gamma, beta, running_mean, running_var, eps=1e-5):
    return ref.batchnorm_forward(x, gamma, beta, eps)


FUNCTIONS = [
    FunctionSpec(
        "batchnorm_forward", _forward_cases, outputs=("out",), rtol=1e-7, atol=1e-9,
        checks=(Check("normalisation", _column_statistics),),
        mistakes=(
            Mistake("normalised with the unbiased variance (N - 1); batch norm divides by N", _normalised_unbiased),
            Mistake("eps is added outside the square root: use sqrt(var + eps)", _eps_outside_sqrt),
        ),
    ),
    FunctionSpec(
        "batchnorm_train_step", _train_cases, outputs=("out", "new_running_mean", "new_running_var"),
        rtol=1e-7, atol=1e-9,
        mistakes=(
            Mistake("the running variance is updated with the biased variance; PyTorch uses the "
                    "unbiased one (N - 1) for the running estimate", _running_var_biased),
            Mistake("momentum weights the old statistics: new = (1 - momentum) * old + momentum * batch",
                    _momentum_swapped),
        ),
    ),
    FunctionSpec(
        "batchnorm_inference", _inference_cases, outputs=("out",), rtol=1e-7, atol=1e-9,
        mistakes=(Mistake("normalised with the batch's statistics; inference uses the running ones",
                          _inference_with_batch_statistics),),
    ),
]
