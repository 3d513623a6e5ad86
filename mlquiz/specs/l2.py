"""Grading spec of the l2 exercise (CURRICULUM.md, **l2**).

Every function is compared with the reference on a few small random cases: vectors and a
matrix of weights (every element is penalised), large (|w| up to 1e3) and small (1e-4)
magnitudes, a single weight (d = 1). Independent checks: the penalty against the squared
Frobenius norm, the gradient against centred differences of the penalty, the decay step against
its "shrink, then step" form, and ridge's solution against the stationarity of its objective.
"""

from __future__ import annotations

import numpy as np

from mlquiz.grading.numeric import compare, numerical_gradient
from mlquiz.grading.references import load_reference
from mlquiz.grading.spec import Case, Check, FunctionSpec, Mismatch, Mistake

ref = load_reference("l2")


# ---------------------------------------------------------------------------------------------
# Inputs


def _weights(rng):
    """(label, w, lam) triples: shapes and magnitudes the penalty functions must handle."""
    return [
        ("w of shape (6,), lam=0.3", rng.normal(size=6), 0.3),
        ("a (3, 4) matrix of weights: every element is penalised",
         rng.normal(size=(3, 4)), float(rng.uniform(0.5, 2.0))),
        ("large weights, |w| up to 1e3, lam=1e-3", rng.uniform(-1e3, 1e3, size=5), 1e-3),
        ("small weights, |w| about 1e-4, lam=50", rng.normal(scale=1e-4, size=4), 50.0),
        ("d=1: a single weight", rng.normal(size=1), float(rng.uniform(0.1, 3.0))),
    ]


def _penalty_cases(rng):
    return [Case(label, (w, lam)) for label, w, lam in _weights(rng)]


def _step_cases(rng):
    cases = []
    for (label, w, lam), lr in zip(_weights(rng), (0.1, 0.05, 0.5, 1e-3, 0.2)):
        grad = rng.normal(scale=float(np.abs(w).max()), size=w.shape)
        cases.append(Case(f"{label}, lr={lr:g}", (w, grad, lr, lam)))
    return cases


def _regression(rng, n, d, x_scale=1.0):
    X = rng.normal(scale=x_scale, size=(n, d))
    y = X @ rng.normal(size=d) + 0.3 * x_scale * rng.normal(size=n)
    return X, y


def _ridge_cases(rng):
    cases = []
    for label, n, d, x_scale, lam in [
        ("N=20 samples, D=4 features, lam=1", 20, 4, 1.0, 1.0),
        ("N=6 < D=8: more features than samples (lam > 0 keeps the solution unique)",
         6, 8, 1.0, 0.5),
        ("d=1: a single feature, N=10", 10, 1, 1.0, 2.0),
        ("large magnitudes: X about 1e2, lam=1e4", 15, 3, 1e2, 1e4),
        ("small lam=1e-3, N=12, D=5", 12, 5, 1.0, 1e-3),
    ]:
        X, y = _regression(rng, n, d, x_scale)
        cases.append(Case(label, (X, y, lam)))
    return cases


# ---------------------------------------------------------------------------------------------
# Independent checks


def _check_norm(case, got, expected):
    """lam / 2 times the squared Frobenius norm, computed through np.linalg.norm."""
    w, lam = case.args
    return compare(got, 0.5 * lam * np.linalg.norm(w.ravel()) ** 2, 1e-9, 1e-12, "penalty")


def _check_finite_differences(case, got, expected):
    """Centred differences of lam / 2 * sum(w**2), written out here (exact for a quadratic
    up to rounding; the step is relative to the size of the weights)."""
    w, lam = case.args
    h = 1e-6 * max(1.0, float(np.abs(w).max()))
    numeric = numerical_gradient(lambda v: 0.5 * lam * np.sum(v**2), w, h=h)
    scale = lam * float(np.abs(w).max())
    return compare(got, numeric, 1e-6, 1e-6 * scale, "gradient")


def _check_shrink_form(case, got, expected):
    """Weight decay as 'shrink the weights by (1 - lr lam), then take the plain step'."""
    w, grad, lr, lam = case.args
    return compare(got, (1.0 - lr * lam) * w - lr * grad, 1e-9, 1e-12, "w_new")


def _check_stationary(case, got, expected):
    """At the minimiser, the gradient X^T (X w - y) + lam w of the ridge objective is 0."""
    X, y, lam = case.args
    w = np.asarray(got, dtype=float).reshape(-1)
    gradient = X.T @ (X @ w - y) + lam * w
    scale = float(np.abs(X.T @ y).max() + (np.abs(X.T @ X).max() + lam) * np.abs(w).max())
    worst = float(np.abs(gradient).max())
    if worst <= 1e-9 * scale:
        return None
    return Mismatch("w", f"the gradient X^T (X w - y) + lam w of the ridge objective is not 0 at "
                         f"your w: max |gradient| = {worst:.3g}, allowed {1e-9 * scale:.3g} "
                         f"(1e-9 relative)")


# ---------------------------------------------------------------------------------------------
# Classic mistakes (each returns what the mistaken formula gives on the case's inputs)


def _ridge_with(X, y, matrix_lam):
    return np.linalg.solve(X.T @ X + matrix_lam, X.T @ y)


FUNCTIONS = [
    FunctionSpec(
        name="l2_penalty",
        cases=_penalty_cases,
        outputs=("penalty",),
        checks=(Check("lam / 2 * ||w||^2", _check_norm),),
        mistakes=(
            Mistake("the 1/2 is missing: lam * sum(w**2); the L2 penalty is lam / 2 * sum(w**2), "
                    "so that its gradient is lam * w", lambda w, lam: lam * np.sum(w**2)),
            Mistake("used the norm ||w|| instead of its square: the penalty is "
                    "lam / 2 * sum(w**2)", lambda w, lam: lam / 2 * np.linalg.norm(w.ravel())),
            Mistake("averaged the squares (mean) instead of summing them",
                    lambda w, lam: lam / 2 * np.mean(w**2)),
            Mistake("that is the L1 penalty's sum of |w|; the L2 penalty squares the weights",
                    lambda w, lam: lam / 2 * np.sum(np.abs(w))),
        ),
    ),
    FunctionSpec(
        name="l2_grad",
        cases=_penalty_cases,
        outputs=("gradient",),
        checks=(Check("finite differences of the penalty", _check_finite_differences),),
        mistakes=(
            Mistake("2 * lam * w is the gradient of lam * ||w||^2; with the penalty's 1/2, "
                    "d/dw (lam / 2 * ||w||^2) = lam * w", lambda w, lam: 2 * lam * w),
            Mistake("lam / 2 * w: the 2 of the square cancels the 1/2, the gradient is lam * w",
                    lambda w, lam: lam / 2 * w),
            Mistake("the sign is flipped: the penalty grows with |w|, its gradient lam * w "
                    "points away from 0", lambda w, lam: -lam * w),
            Mistake("lam * sign(w) is the L1 subgradient; the L2 gradient is lam * w",
                    lambda w, lam: lam * np.sign(w)),
        ),
    ),
    FunctionSpec(
        name="weight_decay_step",
        cases=_step_cases,
        outputs=("w_new",),
        checks=(Check("(1 - lr lam) w - lr grad", _check_shrink_form),),
        mistakes=(
            Mistake("the decay term is not scaled by the learning rate: w - lr * grad - lam * w; "
                    "the step is w - lr * (grad + lam * w)",
                    lambda w, grad, lr, lam: w - lr * grad - lam * w),
            Mistake("the weight decay is missing: w - lr * grad is a plain gradient step; add "
                    "the penalty's gradient lam * w to grad",
                    lambda w, grad, lr, lam: w - lr * grad),
            Mistake("the decay has the wrong sign: w - lr * (grad - lam * w) grows the weights; "
                    "the penalty's gradient +lam * w is added to grad",
                    lambda w, grad, lr, lam: w - lr * (grad - lam * w)),
            Mistake("stepped uphill: w + lr * (grad + lam * w); gradient descent subtracts",
                    lambda w, grad, lr, lam: w + lr * (grad + lam * w)),
            Mistake("2 * lam * w is the gradient of lam * ||w||^2, not of lam / 2 * ||w||^2: "
                    "the step is w - lr * (grad + lam * w)",
                    lambda w, grad, lr, lam: w - lr * (grad + 2 * lam * w)),
        ),
    ),
    FunctionSpec(
        name="ridge_fit",
        cases=_ridge_cases,
        outputs=("w",),
        rtol=1e-6,
        atol=1e-9,
        checks=(Check("stationarity of the ridge objective", _check_stationary),),
        mistakes=(
            Mistake("added lam to every entry of X.T @ X (X.T @ X + lam); lam belongs on the "
                    "diagonal only: X.T @ X + lam * np.eye(D)",
                    lambda X, y, lam: _ridge_with(X, y, lam)),
            Mistake("solved (X^T X + 2 lam I) w = X^T y; the gradient of lam / 2 ||w||^2 is "
                    "lam w, so the system is (X^T X + lam I) w = X^T y",
                    lambda X, y, lam: _ridge_with(X, y, 2 * lam * np.eye(X.shape[1]))),
            Mistake("solved (X^T X + lam / 2 I) w = X^T y; the gradient of lam / 2 ||w||^2 is "
                    "lam w, so the system is (X^T X + lam I) w = X^T y",
                    lambda X, y, lam: _ridge_with(X, y, lam / 2 * np.eye(X.shape[1]))),
            Mistake("the penalty is missing: that is ordinary least squares; ridge solves "
                    "(X^T X + lam I) w = X^T y",
                    lambda X, y, lam: np.linalg.lstsq(X, y, rcond=None)[0]),
        ),
    ),
]
