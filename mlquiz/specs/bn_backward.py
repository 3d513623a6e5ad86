"""Grading spec for bn_backward: the gradients against the reference and against centred
finite differences of the reference's forward pass, so a verdict never rests on the
reference's backward alone."""

import numpy as np

from mlquiz.grading.numeric import compare, numerical_gradient
from mlquiz.grading.references import load_reference
from mlquiz.grading.spec import Case, Check, FunctionSpec, Mistake

ref = load_reference("bn_backward")
forward = load_reference("bn_forward").batchnorm_forward


def _cases(rng):
    cases = []
    for label, n, d, scale, kwargs in [
        ("a small batch", 4, 3, 1.0, {}),
        ("a batch of one", 1, 3, 1.0, {}),
        ("large magnitudes", 8, 5, 1e3, {}),
        ("small magnitudes, eps=1e-3", 6, 2, 1e-3, {"eps": 1e-3}),
        ("two samples, one feature", 2, 1, 1.0, {}),
    ]:
        x = scale * (rng.standard_normal(d) + rng.uniform(0.5, 2.0, d) * rng.standard_normal((n, d)))
        dout = rng.standard_normal((n, d))
        cases.append(Case(f"{label}: N={n}, D={d}", (dout, x, rng.uniform(0.5, 2.0, d)), kwargs))
    return cases


def _finite_differences(case, got, expected):
    """Gradients of L = sum(dout * batchnorm_forward(x, gamma, beta)) by centred differences."""
    dout, x, gamma = case.args
    eps = case.kwargs.get("eps", 1e-5)
    beta = np.zeros_like(gamma)
    # The output bends on the scale of sqrt(var + eps): step well inside it.
    h = 1e-3 * np.sqrt(x.var(axis=0) + eps).min()
    numeric = (
        numerical_gradient(lambda v: np.sum(dout * forward(v, gamma, beta, eps)), x, h=h),
        numerical_gradient(lambda v: np.sum(dout * forward(x, v, beta, eps)), gamma, h=1e-4),
        numerical_gradient(lambda v: np.sum(dout * forward(x, gamma, v, eps)), beta, h=1e-4),
    )
    for name, g, n in zip(("dx", "dgamma", "dbeta"), got, numeric):
        mismatch = compare(g, n, 1e-4, 1e-6 * (1 + np.abs(n).max()), name)
        if mismatch:
            return mismatch
    return None


def _statistics(x, eps):
    mu = x.mean(0)
    inv_std = 1 / np.sqrt(x.var(0) + eps)
    return (x - mu) * inv_std, inv_std


def _without_mean_term(dout, x, gamma, eps=1e-5):
    x_hat, inv_std = _statistics(x, eps)
    dx_hat = dout * gamma
    return inv_std * (dx_hat - x_hat * (dx_hat * x_hat).mean(0)), (dout * x_hat).sum(0), dout.sum(0)


def _without_variance_term(dout, x, gamma, eps=1e-5):
    x_hat, inv_std = _statistics(x, eps)
    dx_hat = dout * gamma
    return inv_std * (dx_hat - dx_hat.mean(0)), (dout * x_hat).sum(0), dout.sum(0)


def _statistics_as_constants(dout, x, gamma, eps=1e-5):
    x_hat, inv_std = _statistics(x, eps)
    return dout * gamma * inv_std, (dout * x_hat).sum(0), dout.sum(0)


def _unbiased_variance(dout, x, gamma, eps=1e-5):
    """The biased variance replaced by the unbiased one throughout the usual formula."""
    inv_std = 1 / np.sqrt(x.var(0, ddof=1) + eps)
    x_hat = (x - x.mean(0)) * inv_std
    dx_hat = dout * gamma
    dx = inv_std * (dx_hat - dx_hat.mean(0) - x_hat * (dx_hat * x_hat).mean(0))
    return dx, (dout * x_hat).sum(0), dout.sum(0)


def _unbiased_variance_derived(dout, x, gamma, eps=1e-5):
    """The same mistake, carried consistently through the derivation (1 / (N - 1))."""
    n = x.shape[0]
    inv_std = 1 / np.sqrt(x.var(0, ddof=1) + eps)
    x_hat = (x - x.mean(0)) * inv_std
    dx_hat = dout * gamma
    dx = inv_std * (dx_hat - dx_hat.mean(0) - x_hat * (dx_hat * x_hat).sum(0) / (n - 1))
    return dx, (dout * x_hat).sum(0), dout.sum(0)


FUNCTIONS = [
    FunctionSpec(
        "batchnorm_backward", _cases, outputs=("dx", "dgamma", "dbeta"), rtol=1e-6, atol=1e-9,
        checks=(Check("finite differences of batchnorm_forward", _finite_differences),),
        mistakes=(
            Mistake("dx is missing the mean-of-gradient term -mean(dx_hat, 0): the path from x "
                    "through the batch mean", _without_mean_term),
            Mistake("dx is missing the term -x_hat * mean(dx_hat * x_hat, 0): the path from x "
                    "through the batch variance", _without_variance_term),
            Mistake("dx treats the batch mean and variance as constants (dx = dout * gamma / std); "
                    "they depend on x too", _statistics_as_constants),
            Mistake("the variance is the unbiased one (N - 1); batch norm normalises with the "
                    "biased variance (N)", _unbiased_variance),
            Mistake("the variance is the unbiased one (N - 1); batch norm normalises with the "
                    "biased variance (N)", _unbiased_variance_derived),
        ),
    ),
]
