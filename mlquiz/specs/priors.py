"""Grading spec of the priors exercise (CURRICULUM.md, **priors**).

The negative log priors are compared with the reference on weights of several shapes
(``d = w.size``, a matrix included), a single weight (d = 1), large and small scales, and
``w = 0``, where only the normalising constant remains; independently, they are checked against
-sum(log density) with the densities written out. The two lambdas are compared with the
reference and checked through the MAP view itself: on a one-feature regression, the ridge or
lasso solution with the learner's lambda must be the minimiser of the MAP objective
(negative log-likelihood with noise variance ``noise_var`` plus the negative log prior).
"""

from __future__ import annotations

import math

import numpy as np

from mlquiz.grading.numeric import compare
from mlquiz.grading.references import load_reference
from mlquiz.grading.spec import Case, Check, FunctionSpec, Mismatch, Mistake

ref = load_reference("priors")


# ---------------------------------------------------------------------------------------------
# Inputs


def _prior_cases(rng, scales):
    """Weights of several shapes and magnitudes, each with a prior scale (sigma or b) drawn
    from ``scales`` (a list of (low, high) ranges, one per case)."""
    weights = [
        ("w of shape (5,)", rng.normal(size=5)),
        ("a (3, 4) matrix of weights: d = w.size = 12", rng.normal(size=(3, 4))),
        ("d=1: a single weight", rng.normal(size=1)),
        ("large weights, |w| up to 1e3", rng.uniform(-1e3, 1e3, size=4)),
        ("small weights, about 1e-3", rng.normal(scale=1e-3, size=6)),
        ("w = 0: only the normalising constant remains", np.zeros(3)),
    ]
    cases = []
    for (label, w), (low, high) in zip(weights, scales):
        scale = float(rng.uniform(low, high))
        cases.append(Case(f"{label}, scale {scale:.3g}", (w, scale)))
    return cases


def _gaussian_cases(rng):
    return _prior_cases(rng, [(0.6, 0.9), (1.5, 2.5), (2.0, 4.0), (200.0, 400.0),
                              (1e-3, 3e-3), (0.2, 0.4)])


def _laplace_cases(rng):
    return _prior_cases(rng, [(0.7, 0.95), (1.5, 2.5), (2.0, 4.0), (200.0, 400.0),
                              (1e-3, 3e-3), (0.2, 0.4)])


def _lambda_cases(rng):
    """(noise_var, scale) pairs, far from noise_var = scale**2 or scale = 1 so that the
    classic mistakes give different numbers."""
    pairs = [
        ("noise_var about 0.3, prior scale about 2", (0.2, 0.4), (1.6, 2.4)),
        ("noise_var about 4, prior scale about 0.5", (3.0, 5.0), (0.3, 0.45)),
        ("small noise_var about 1e-4, prior scale about 0.03", (5e-5, 2e-4), (0.02, 0.04)),
        ("large noise_var about 1e3, prior scale about 40", (5e2, 2e3), (30.0, 50.0)),
    ]
    return [Case(label, (float(rng.uniform(*nv)), float(rng.uniform(*sc))))
            for label, nv, sc in pairs]


# ---------------------------------------------------------------------------------------------
# Independent checks: the densities written out, and the MAP objective on a fixed problem


def _gaussian_density(w, sigma):
    return np.exp(-(w**2) / (2 * sigma**2)) / np.sqrt(2 * math.pi * sigma**2)


def _laplace_density(w, b):
    return np.exp(-np.abs(w) / b) / (2 * b)


def _check_density(density):
    def check(case, got, expected):
        w, scale = case.args
        value = -float(np.sum(np.log(density(w, scale))))
        return compare(got, value, 1e-9, 1e-9 * w.size, "neg_log_prior")

    return check


# One feature, five samples: the ridge and lasso solutions have closed forms in w.
_X = np.array([1.0, -2.0, 0.5, 3.0, -1.5])
_Y = np.array([0.8, -2.5, 1.0, 2.0, -1.0])
_XY, _XX = float(_X @ _Y), float(_X @ _X)


def _check_ridge_map(case, got, expected):
    """With lam = the learner's value, w = x^T y / (x^T x + lam) must zero the derivative of
    ||y - x w||^2 / (2 noise_var) + w^2 / (2 sigma^2)."""
    noise_var, sigma = case.args
    lam = float(np.asarray(got, dtype=float).reshape(-1)[0])
    w = _XY / (_XX + lam)
    derivative = (_XX * w - _XY) / noise_var + w / sigma**2
    if abs(derivative) <= 1e-9 * abs(_XY) / noise_var:
        return None
    return Mismatch("lam", f"on a one-feature regression, ridge with lam = {lam:.6g} gives "
                           f"w = {w:.6g}, where the MAP objective ||y - x w||^2 / (2 noise_var) + "
                           f"w^2 / (2 sigma^2) still has the slope {derivative:.3g}")


def _check_lasso_map(case, got, expected):
    """With lam = the learner's value, w = S_lam(x^T y) / x^T x must minimise
    ||y - x w||^2 / (2 noise_var) + |w| / b: x^T (y - x w) / noise_var = sign(w) / b where
    w != 0, and |x^T y| / noise_var <= 1 / b where w = 0."""
    noise_var, b = case.args
    lam = float(np.asarray(got, dtype=float).reshape(-1)[0])
    w = math.copysign(max(abs(_XY) - lam, 0.0), _XY) / _XX
    correlation = (_XY - _XX * w) / noise_var
    if w != 0:
        holds = abs(correlation - math.copysign(1.0, w) / b) <= 1e-9 * abs(_XY) / noise_var
    else:
        holds = abs(correlation) <= (1 + 1e-9) / b
    if holds:
        return None
    return Mismatch("lam", f"on a one-feature regression, the lasso with lam = {lam:.6g} gives "
                           f"w = {w:.6g}, which does not minimise the MAP objective "
                           f"||y - x w||^2 / (2 noise_var) + |w| / b")


# ---------------------------------------------------------------------------------------------
# Classic mistakes (each returns what the mistaken formula gives on the case's inputs)


def _quadratic(w, sigma):
    return float(np.sum(w**2)) / (2 * sigma**2)


def _gaussian_constant(sigma):
    return 0.5 * math.log(2 * math.pi * sigma**2)


def _absolute(w, b):
    return float(np.sum(np.abs(w))) / b


FUNCTIONS = [
    FunctionSpec(
        name="gaussian_neg_log_prior",
        cases=_gaussian_cases,
        outputs=("neg_log_prior",),
        checks=(Check("-sum(log N(w_i; 0, sigma^2))", _check_density(_gaussian_density)),),
        mistakes=(
            Mistake("the normalising constant is missing: -log p(w) also has d/2 * "
                    "log(2 pi sigma^2), the log of the density's 1 / sqrt(2 pi sigma^2) per weight",
                    lambda w, sigma: _quadratic(w, sigma)),
            Mistake("the constant is counted once; every one of the d = w.size weights has its "
                    "own normaliser: d/2 * log(2 pi sigma^2)",
                    lambda w, sigma: _quadratic(w, sigma) + _gaussian_constant(sigma)),
            Mistake("log(2 pi sigma) in the constant; the Gaussian's normaliser is "
                    "1 / sqrt(2 pi sigma^2), so the constant is d/2 * log(2 pi sigma^2)",
                    lambda w, sigma: _quadratic(w, sigma)
                    + w.size / 2 * math.log(2 * math.pi * sigma)),
            Mistake("sigma used where the variance sigma^2 belongs (in the quadratic term)",
                    lambda w, sigma: float(np.sum(w**2)) / (2 * sigma)
                    + w.size * _gaussian_constant(sigma)),
            Mistake("the sign of the constant is flipped: -log(1 / sqrt(2 pi sigma^2)) = "
                    "+1/2 log(2 pi sigma^2)",
                    lambda w, sigma: _quadratic(w, sigma) - w.size * _gaussian_constant(sigma)),
            Mistake("returned log p(w); the penalty is the negative log prior -log p(w)",
                    lambda w, sigma: -ref.gaussian_neg_log_prior(w, sigma)),
        ),
    ),
    FunctionSpec(
        name="laplace_neg_log_prior",
        cases=_laplace_cases,
        outputs=("neg_log_prior",),
        checks=(Check("-sum(log Laplace(w_i; 0, b))", _check_density(_laplace_density)),),
        mistakes=(
            Mistake("the normalising constant is missing: -log p(w) also has d * log(2 b), the "
                    "log of the density's 1 / (2 b) per weight", _absolute),
            Mistake("log(b) in the constant; the Laplace density is exp(-|w| / b) / (2 b), so "
                    "the constant is d * log(2 b)",
                    lambda w, b: _absolute(w, b) + w.size * math.log(b)),
            Mistake("the constant is counted once; every one of the d = w.size weights has its "
                    "own normaliser: d * log(2 b)",
                    lambda w, b: _absolute(w, b) + math.log(2 * b)),
            Mistake("multiplied |w| by b; the density is exp(-|w| / b) / (2 b), so the term "
                    "is sum(|w|) / b",
                    lambda w, b: b * float(np.sum(np.abs(w))) + w.size * math.log(2 * b)),
            Mistake("the sign of the constant is flipped: -log(1 / (2 b)) = +log(2 b)",
                    lambda w, b: _absolute(w, b) - w.size * math.log(2 * b)),
            Mistake("returned log p(w); the penalty is the negative log prior -log p(w)",
                    lambda w, b: -ref.laplace_neg_log_prior(w, b)),
        ),
    ),
    FunctionSpec(
        name="ridge_lambda_from_prior",
        cases=_lambda_cases,
        outputs=("lam",),
        checks=(Check("MAP objective stationary at the ridge solution", _check_ridge_map),),
        mistakes=(
            Mistake("lambda is inverted: sigma**2 / noise_var; it is noise_var / sigma**2 "
                    "(more noise, more regularization; a vaguer prior, less)",
                    lambda noise_var, sigma: sigma**2 / noise_var),
            Mistake("sigma is not squared: the prior's variance sigma**2 divides, "
                    "lambda = noise_var / sigma**2", lambda noise_var, sigma: noise_var / sigma),
            Mistake("noise_var is missing: 1 / sigma**2 weighs the prior against the likelihood "
                    "||y - X w||^2 / (2 noise_var); multiplied by noise_var to match ridge's "
                    "0.5 ||y - X w||^2, lambda = noise_var / sigma**2",
                    lambda noise_var, sigma: 1 / sigma**2),
            Mistake("halved: the 1/2 of the Gaussian exponent is the 1/2 of ridge's "
                    "lam / 2 ||w||^2, so lambda = noise_var / sigma**2",
                    lambda noise_var, sigma: noise_var / (2 * sigma**2)),
        ),
    ),
    FunctionSpec(
        name="lasso_lambda_from_prior",
        cases=_lambda_cases,
        outputs=("lam",),
        checks=(Check("MAP objective minimised at the lasso solution", _check_lasso_map),),
        mistakes=(
            Mistake("lambda is inverted: b / noise_var; it is noise_var / b (more noise, more "
                    "regularization; a wider prior, less)", lambda noise_var, b: b / noise_var),
            Mistake("noise_var is missing: 1 / b weighs the prior against the likelihood "
                    "||y - X w||^2 / (2 noise_var); multiplied by noise_var to match the "
                    "lasso's 0.5 ||y - X w||^2, lambda = noise_var / b",
                    lambda noise_var, b: 1 / b),
            Mistake("used the noise's standard deviation: lambda = noise_var / b with the "
                    "variance, not sqrt(noise_var) / b",
                    lambda noise_var, b: math.sqrt(noise_var) / b),
            Mistake("b squared: the Laplace scale enters as |w| / b, so lambda = noise_var / b",
                    lambda noise_var, b: noise_var / b**2),
            Mistake("halved: the lasso's objective is 0.5 ||y - X w||^2 + lam ||w||_1, so "
                    "lambda = noise_var / b", lambda noise_var, b: noise_var / (2 * b)),
        ),
    ),
]
