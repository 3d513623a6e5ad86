"""Grading spec of the l1 exercise (CURRICULUM.md, **l1**).

The penalty, the subgradient and the soft threshold are compared with the reference on small
random cases that build in the curriculum's edge cases on purpose: exact zeros in ``w`` (the
subgradient is exactly 0 there), tiny but nonzero weights (it is +-lam there), values exactly
at +t and -t (the soft threshold gives 0), a single weight (d = 1), large and small magnitudes.

``lasso_fit`` has no unique output to compare value for value: it is graded with its default
arguments on well-conditioned problems (N >= D, lam >= 0.05 max |X^T y|, also N close to 2 D
with correlated columns and an identity design) on the objective it reaches, at most 1e-4 (relative) above the reference's optimum (coordinate descent run to a
change of 1e-13, far tighter than that).
"""

from __future__ import annotations

import numpy as np

from mlquiz.grading.numeric import compare, numerical_gradient
from mlquiz.grading.references import load_reference
from mlquiz.grading.spec import Case, Check, FunctionSpec, Mismatch, Mistake

ref = load_reference("l1")

LASSO_RTOL = 1e-4  # the objective a learner's lasso reaches: at most this far above the optimum


# ---------------------------------------------------------------------------------------------
# Inputs


def _with_zeros(rng, shape, scale=1.0, zeros=2):
    """Random weights of ``shape`` with ``zeros`` entries set to exactly 0."""
    w = rng.normal(scale=scale, size=shape)
    flat = w.reshape(-1)
    flat[rng.choice(flat.size, size=zeros, replace=False)] = 0.0
    return w


def _penalty_cases(rng):
    tiny = np.array([1e-12, -1e-12, 0.0, 3.0, -2.0])
    return [
        Case("w of shape (8,) with two exact zeros, lam=0.7", (_with_zeros(rng, 8), 0.7)),
        Case("a (3, 4) matrix of weights with exact zeros: every element counts",
             (_with_zeros(rng, (3, 4), zeros=3), float(rng.uniform(0.5, 2.0)))),
        Case("large weights, |w| up to 1e3, lam=2.5",
             (np.concatenate([rng.uniform(-1e3, 1e3, size=4), [0.0]]), 2.5)),
        Case("tiny nonzero weights (+-1e-12) next to an exact zero, lam=1.5", (tiny, 1.5)),
        Case("d=1: a single weight of exactly 0", (np.array([0.0]), 0.8)),
        Case("d=1: a single negative weight", (np.array([-abs(rng.normal()) - 0.1]), 1.2)),
    ]


def _threshold_cases(rng):
    t = 0.5
    at_t = np.array([t, -t, 0.0, 0.2, -0.3, 1.7, -2.4, 0.5000001, -0.4999999])
    return [
        Case("values exactly at +t and -t, at 0 and on both sides of t, t=0.5", (at_t, t)),
        Case("a (3, 4) matrix, t=0.8", (rng.normal(size=(3, 4)), 0.8)),
        Case("large values, |w| up to 1e3, t=100",
             (np.concatenate([rng.uniform(-1e3, 1e3, size=5), [100.0, -100.0]]), 100.0)),
        Case("small values about 1e-6, t=1e-6", (rng.normal(scale=1e-6, size=6), 1e-6)),
        Case("t=0: nothing is shrunk", (rng.normal(size=5), 0.0)),
        Case("d=1: a single value below the threshold", (np.array([0.3]), 0.4)),
    ]


def lasso_problem(rng, n, d, frac, x_scale=1.0, w_scale=1.0):
    """A well-conditioned lasso problem: Gaussian X (N, D), a sparse true w, a little noise,
    and lam = frac * max|X^T y|."""
    X = rng.normal(scale=x_scale, size=(n, d))
    w_true = rng.normal(scale=w_scale, size=d) * (rng.random(d) < 0.6)
    w_true[0] = w_scale  # at least one true nonzero
    y = X @ w_true + 0.1 * x_scale * w_scale * rng.normal(size=n)
    lam = frac * float(np.abs(X.T @ y).max())
    return X, y, lam


def correlated_lasso_problem(rng, n, d, rho, frac, max_condition=10.0):
    """A lasso problem with N close to 2 D and columns correlated by about ``rho`` (X = Z L^T,
    L L^T the equicorrelation matrix), redrawn until the condition number of X is below
    ``max_condition``: Jacobi-style updates (every coordinate at once) diverge on it."""
    corr = (1 - rho) * np.eye(d) + rho * np.ones((d, d))
    L = np.linalg.cholesky(corr)
    for _ in range(100):
        X = rng.normal(size=(n, d)) @ L.T
        if np.linalg.cond(X) < max_condition:
            break
    w_true = rng.normal(size=d) * (rng.random(d) < 0.7)
    w_true[0] = 1.0
    y = X @ w_true + 0.1 * rng.normal(size=n)
    return X, y, frac * float(np.abs(X.T @ y).max())


def _lasso_cases(rng):
    cases = []
    for label, n, d, frac, x_scale, w_scale in [
        ("N=12 samples, D=4 features, lam = 0.06 max|X^T y|", 12, 4, 0.06, 1.0, 1.0),
        ("N=20, D=5, lam = 0.1 max|X^T y|", 20, 5, 0.1, 1.0, 1.0),
        ("N=40, D=8, lam = 0.05 max|X^T y| (the smallest lam graded: few zeros)",
         40, 8, 0.05, 1.0, 1.0),
        ("d=1: a single feature, N=10, lam = 0.3 max|X^T y|", 10, 1, 0.3, 1.0, 1.0),
        ("lam = 1.2 max|X^T y|: the solution is exactly w = 0", 15, 4, 1.2, 1.0, 1.0),
        ("large X (about 1e2) and small w (about 1e-3), N=25, D=6", 25, 6, 0.15, 1e2, 1e-3),
        ("small X (about 1e-2) and large w (about 1e3), N=18, D=3", 18, 3, 0.2, 1e-2, 1e3),
    ]:
        cases.append(Case(label, lasso_problem(rng, n, d, frac, x_scale, w_scale)))
    y = rng.normal(size=5)
    return cases + [
        Case("N close to 2D, correlated columns (about 0.5), condition number below 10: N=13, "
             "D=6, lam = 0.05 max|X^T y|", correlated_lasso_problem(rng, 13, 6, 0.5, 0.05)),
        Case("N close to 2D, correlated columns (about 0.4), N=17, D=8, lam = 0.08 max|X^T y|",
             correlated_lasso_problem(rng, 17, 8, 0.4, 0.08)),
        Case("an identity design (N=D=5): every column's squared norm is exactly 1, "
             "lam = 0.3 max|X^T y|", (np.eye(5), y, 0.3 * float(np.abs(y).max()))),
    ]


# ---------------------------------------------------------------------------------------------
# Independent checks


def _check_zero_at_zero(case, got, expected):
    """The curriculum's convention: exactly 0 where w is exactly 0."""
    w = case.args[0]
    got = np.asarray(got, dtype=float).reshape(w.shape)
    at_zero = got[w == 0]
    if np.all(at_zero == 0):
        return None
    return Mismatch("subgradient", f"where w is exactly 0 the subgradient must be exactly 0; "
                                   f"got {at_zero[at_zero != 0][0]!r} there")


def _check_finite_differences(case, got, expected):
    """Centred differences of lam * sum(|w|) where |w| is differentiable
    (elements farther from 0 than the step)."""
    w, lam = case.args
    h = 1e-7 * max(1.0, float(np.abs(w).max()))
    numeric = numerical_gradient(lambda v: lam * np.sum(np.abs(v)), w, h=h)
    smooth = np.abs(w) > 2 * h
    got = np.asarray(got, dtype=float).reshape(w.shape)
    return compare(got[smooth], numeric[smooth], 1e-6, 1e-9 * lam, "subgradient")


def _check_prox(case, got, expected):
    """u = S_t(w) minimises 0.5 (u - w)^2 + t |u|: u = 0 exactly where |w| <= t, and elsewhere
    u has the sign of w and w - u = t sign(u)."""
    w, t = case.args
    u = np.asarray(got, dtype=float).reshape(w.shape)
    inside = np.abs(w) <= t
    if np.any(u[inside] != 0):
        i = np.flatnonzero((u != 0) & inside)[0]
        return Mismatch("out", f"where |w| <= t the result must be exactly 0 (at w = "
                               f"{w.flat[i]!r}, t = {t!r} you returned {u.flat[i]!r})")
    outside = ~inside
    scale = 1e-12 * max(1.0, float(np.abs(w).max()))
    bad = outside & ((np.sign(u) != np.sign(w)) | (np.abs(w - u - t * np.sign(w)) > scale))
    if np.any(bad):
        i = np.flatnonzero(bad)[0]
        return Mismatch("out", f"where |w| > t the result is w - t sign(w) (at w = {w.flat[i]!r}, "
                               f"t = {t!r} you returned {u.flat[i]!r})")
    return None


def lasso_objective(X, y, lam, w):
    """0.5 ||y - X w||^2 + lam ||w||_1."""
    return 0.5 * float(np.sum((y - X @ w) ** 2)) + lam * float(np.sum(np.abs(w)))


def _check_objective(case, got, expected):
    """The objective reached, against the reference's optimum (relative tolerance
    LASSO_RTOL)."""
    X, y, lam = case.args
    w = np.asarray(got, dtype=float)
    d = X.shape[1]
    if w.shape != (d,) and not (w.size == d == 1):
        return Mismatch("w", f"w has shape {w.shape}, expected ({d},)")
    w = w.reshape(d)
    if not np.all(np.isfinite(w)):
        return Mismatch("w", "w contains nan or inf")
    reached = lasso_objective(X, y, lam, w)
    optimum = min(lasso_objective(X, y, lam, np.asarray(expected, dtype=float)), reached)
    excess = (reached - optimum) / optimum
    if excess <= LASSO_RTOL:
        return None
    return Mismatch("w", f"the objective 0.5 ||y - X w||^2 + lam ||w||_1 at your w is "
                         f"{reached:.10g}, {excess:.3g} (relative) above the optimum "
                         f"{optimum:.10g}; allowed: at most {LASSO_RTOL:g} (relative) above it")


# ---------------------------------------------------------------------------------------------
# Classic mistakes (each returns what the mistaken formula gives on the case's inputs)


def _unless_zero(w):
    """A mistaken lasso whose solution is w = 0 says nothing (a solver that does nothing
    returns it too): it is not matched."""
    if not np.any(w):
        raise ValueError("the mistaken problem's solution is w = 0")
    return w


def _threshold_after_dividing(X, y, lam):
    """Coordinate descent with w_j = S_lam(rho_j / ||X_j||^2): it minimises
    0.5 ||y - X w||^2 + lam sum_j ||X_j||^2 |w_j|, i.e. the lasso in v_j = ||X_j||^2 w_j
    with columns X_j / ||X_j||^2."""
    col_sq = np.sum(X**2, axis=0)
    return _unless_zero(ref.lasso_fit(X / col_sq, y, lam) / col_sq)


# The lasso mistakes are matched loosely: a learner's solution is close to, not equal to, the
# mistaken problem's optimum.
_LOOSE = dict(rtol=1e-3, atol=1e-6)

FUNCTIONS = [
    FunctionSpec(
        name="l1_penalty",
        cases=_penalty_cases,
        outputs=("penalty",),
        mistakes=(
            Mistake("the absolute value is missing: lam * sum(w); the L1 penalty is "
                    "lam * sum(|w|)", lambda w, lam: lam * np.sum(w)),
            Mistake("lam / 2 * sum(|w|): the L1 penalty has no 1/2 (that belongs to L2)",
                    lambda w, lam: lam / 2 * np.sum(np.abs(w))),
            Mistake("squared the weights: that is an L2 penalty; L1 is lam * sum(|w|)",
                    lambda w, lam: lam * np.sum(w**2)),
            Mistake("averaged |w| (mean) instead of summing it",
                    lambda w, lam: lam * np.mean(np.abs(w))),
        ),
    ),
    FunctionSpec(
        name="l1_subgradient",
        cases=_penalty_cases,
        outputs=("subgradient",),
        checks=(Check("exactly 0 at w = 0", _check_zero_at_zero),
                Check("finite differences of the penalty away from 0", _check_finite_differences)),
        mistakes=(
            Mistake("the subgradient is +lam where w is exactly 0 (w >= 0 counted as positive); "
                    "the convention is 0 there, as np.sign(0) = 0",
                    lambda w, lam: lam * np.where(w >= 0, 1.0, -1.0)),
            Mistake("the subgradient is -lam where w is exactly 0 (w > 0 else -1); the "
                    "convention is 0 there, as np.sign(0) = 0",
                    lambda w, lam: lam * np.where(w > 0, 1.0, -1.0)),
            Mistake("weights near 0 were treated as 0: only an exact 0 gets the subgradient 0; "
                    "any nonzero weight, however tiny, gets lam * sign(w)",
                    lambda w, lam: lam * np.sign(w) * (np.abs(w) > 1e-9)),
            Mistake("lam is missing: sign(w) is the subgradient of sum(|w|), the penalty's is "
                    "lam * sign(w)", lambda w, lam: np.sign(w)),
            Mistake("lam * w is the L2 gradient; the L1 subgradient is lam * sign(w)",
                    lambda w, lam: lam * w),
        ),
    ),
    FunctionSpec(
        name="soft_threshold",
        cases=_threshold_cases,
        atol=1e-15,
        checks=(Check("optimality of the proximal step", _check_prox),),
        mistakes=(
            Mistake("hard thresholding: values with |w| > t were kept unchanged; soft "
                    "thresholding also moves them towards 0 by t",
                    lambda w, t: np.where(np.abs(w) > t, w, 0.0)),
            Mistake("the sign is lost: max(|w| - t, 0); multiply by sign(w)",
                    lambda w, t: np.maximum(np.abs(w) - t, 0.0)),
            Mistake("max(w - t, 0) shrinks only the positive side; negative values move towards "
                    "0 too: sign(w) * max(|w| - t, 0)", lambda w, t: np.maximum(w - t, 0.0)),
            Mistake("w - t * sign(w) without the max: values with |w| < t must become exactly 0, "
                    "not cross to the other side", lambda w, t: w - t * np.sign(w)),
        ),
    ),
    FunctionSpec(
        name="lasso_fit",
        cases=_lasso_cases,
        outputs=("w",),
        compare_to_reference=False,
        checks=(Check("lasso objective within 1e-4 (relative) of the optimum", _check_objective),),
        mistakes=(
            Mistake("your w solves the lasso with lam * N: it minimises (1 / (2N)) ||y - X w||^2 "
                    "+ lam ||w||_1 (scikit-learn's scaling); the curriculum's objective is "
                    "0.5 ||y - X w||^2 + lam ||w||_1, without 1/N",
                    lambda X, y, lam: _unless_zero(ref.lasso_fit(X, y, lam * len(y))), **_LOOSE),
            Mistake("your w solves the lasso with lam / 2: it minimises ||y - X w||^2 + "
                    "lam ||w||_1 (the data term without its 1/2)",
                    lambda X, y, lam: _unless_zero(ref.lasso_fit(X, y, lam / 2)), **_LOOSE),
            Mistake("the coordinate update divided before thresholding, S_lam(rho_j / ||X_j||^2); "
                    "it is S_lam(rho_j) / ||X_j||^2", _threshold_after_dividing, **_LOOSE),
            Mistake("lam was ignored: that is the least-squares solution",
                    lambda X, y, lam: np.linalg.lstsq(X, y, rcond=None)[0], **_LOOSE),
        ),
    ),
]
