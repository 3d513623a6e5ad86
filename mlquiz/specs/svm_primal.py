"""Grading spec of the svm_primal exercise (CURRICULUM.md, **svm_primal**).

``hinge_objective`` and ``hinge_subgradient`` are compared with the reference; the subgradient
also with centred differences of the objective wherever no margin is near 1, and on
integer-valued data where some margins are exactly 1 in floating point (the convention: the
hinge contributes 0 there). ``fit_primal`` has many correct answers (any solver, any b in a
flat interval), so it is graded on the objective it reaches: at most 1e-3 (relative) above the
optimum, which is the reference's fit on the same problem. Its problems are drawn as in the
svm_dual spec (well-conditioned, so that solving the dual converges quickly), also far from the
origin (the bias is not regularised), with a bound first support vector, with two points (no
free support vector), and with a duplicated point of both labels. When the objective is too
high, the best bias for the learner's w says whether w or b is at fault.
"""

from __future__ import annotations

import numpy as np

from mlquiz.grading.numeric import compare, numerical_gradient
from mlquiz.grading.references import load_reference
from mlquiz.grading.spec import Case, Check, FunctionSpec, Mismatch, Mistake
from mlquiz.specs.svm_dual import duplicated, linear_problem, solved

ref = load_reference("svm_primal")

FIT_RTOL = 1e-3  # fit_primal: objective at most this much (relative) above the optimum


# ---------------------------------------------------------------------------------------------
# Inputs


def _labels(rng, n):
    """n labels in {-1, +1}, both classes present when n >= 2."""
    y = rng.choice([-1.0, 1.0], size=n)
    if n >= 2:
        y[:2] = [-1.0, 1.0]
    return y


def _random_point(rng, n, d, C):
    """(w, b, X, y, C) with continuous values: no margin is exactly 1."""
    return rng.normal(size=d), float(rng.normal()), rng.normal(size=(n, d)), _labels(rng, n), C


def _margin_one_point(rng, n=12, d=3, n_on_margin=3, C=0.5):
    """(w, b, X, y, C) with integer w, b, X, so every margin is an integer computed exactly;
    the first ``n_on_margin`` samples have margin y_i (x_i . w + b) == 1 exactly."""
    w = rng.integers(-2, 3, size=d).astype(float)
    w[0] = 1.0
    b = float(rng.integers(-2, 3))
    X = rng.integers(-3, 4, size=(n, d)).astype(float)
    y = _labels(rng, n)
    for i in range(n_on_margin):
        # x_i[0] * 1 + x_i[1:] . w[1:] + b = y_i, so y_i (x_i . w + b) = y_i^2 = 1.
        X[i, 0] = y[i] - b - X[i, 1:] @ w[1:]
    return w, b, X, y, C


def _objective_cases(rng):
    return [
        Case("N=12, D=3, C=1", _random_point(rng, 12, 3, 1.0)),
        Case("C=0.01 small: the norm dominates", _random_point(rng, 10, 2, 0.01)),
        Case("C=100 large: the hinge losses dominate", _random_point(rng, 10, 4, 100.0)),
        Case("integer data, at least 3 samples with margin exactly 1", _margin_one_point(rng)),
        Case("N=1: a single sample", _random_point(rng, 1, 2, 2.0)),
    ]


def _subgradient_cases(rng):
    w0 = np.zeros(3)
    return [
        Case("N=12, D=3, C=1, no margin near 1", _random_point(rng, 12, 3, 1.0)),
        Case("C=10, N=20, D=2, no margin near 1", _random_point(rng, 20, 2, 10.0)),
        Case("integer data, at least 3 of 12 samples with margin exactly 1 (the hinge's "
             "subgradient is 0 there)", _margin_one_point(rng)),
        Case("integer data, at least 5 of 8 samples with margin exactly 1",
             _margin_one_point(rng, n=8, d=2, n_on_margin=5, C=2.0)),
        Case("w = 0, b = 0: every margin is 0, every sample is active",
             (w0, 0.0, rng.normal(size=(6, 3)), _labels(rng, 6), 1.0)),
        Case("N=1: a single sample with margin exactly 1", _margin_one_point(rng, 1, 2, 1, 3.0)),
    ]


def _fit_problem(rng, n, d, C, separable, noise=0.6):
    """(X, y, C): a linear problem (see the svm_dual spec) on which SMO converges quickly."""
    X, y, _ = solved(rng, lambda r: linear_problem(r, n, d, separable, noise), C)
    return X, y, C


def _far_from_the_origin(rng, problem, distance):
    """The problem moved by a random vector of length ``distance``: the same optimal w, a
    bias that must move with it (a regularised bias cannot)."""
    X, y, C = problem
    shift = rng.normal(size=X.shape[1])
    return X + distance * shift / np.linalg.norm(shift), y, C


def _first_bound(rng, C=1.0):
    """A problem whose first sample lies deep on the wrong side of the margin: a bound
    support vector (alpha = C), from which b cannot be read."""
    X, y, C = _fit_problem(rng, 30, 2, C, False, 0.3)
    w = ref.fit_primal(X, y, C)[0]
    outlier = -2.0 * w / (w @ w) * np.sign(y[0])  # y_0 (w . x + b) is far below 1
    return np.vstack([outlier + X.mean(0), X]), np.concatenate([[y[0]], y]), C


def _two_points(rng, C):
    """Two points, one of each class, at distance about 2: with C below 2 / ||x1 - x2||^2
    both multipliers are bound (no free support vector), above it both are free."""
    x = rng.normal(size=2)
    step = rng.normal(size=2)
    return np.vstack([x, x + 2.0 * step / np.linalg.norm(step)]), np.array([1.0, -1.0]), C


def _fit_cases(rng):
    return [
        Case("separable, N=30, D=2, C=100 (large: nearly hard margin)",
             _fit_problem(rng, 30, 2, 100.0, True)),
        Case("separable, N=30, D=3, C=1", _fit_problem(rng, 30, 3, 1.0, True)),
        Case("non-separable, N=40, D=2, C=0.1 (small)", _fit_problem(rng, 40, 2, 0.1, False)),
        Case("non-separable, N=30, D=3, C=10", _fit_problem(rng, 30, 3, 10.0, False, 0.3)),
        Case("data far from the origin (moved by 30): the bias is not regularised; N=30, D=2, "
             "C=1", _far_from_the_origin(rng, _fit_problem(rng, 30, 2, 1.0, False, 0.3), 30.0)),
        Case("data far from the origin (moved by 30), separable, N=30, D=3, C=10",
             _far_from_the_origin(rng, _fit_problem(rng, 30, 3, 10.0, True), 30.0)),
        Case("problems where the first support vector is bound: the first sample lies deep on "
             "the wrong side; N=31, D=2, C=1", _first_bound(rng)),
        Case("a problem with no free support vector (two points, C=0.2): b must still be "
             "optimal", _two_points(rng, 0.2)),
        Case("two points, C=10: both support vectors free", _two_points(rng, 10.0)),
        Case("duplicated points with opposite labels (a curvature of 0 along that pair), N=24, "
             "C=1", solved(rng, lambda r: duplicated(r, 24), 1.0)[:2] + (1.0,)),
    ]


# ---------------------------------------------------------------------------------------------
# Independent checks


def _check_finite_differences(case, got, expected):
    """(dw, db) against centred differences of the objective, on cases where no margin is
    within 1e-3 of 1: there the objective is differentiable and the subgradient is its
    gradient."""
    w, b, X, y, C = case.args
    if np.abs(y * (X @ w + b) - 1.0).min() < 1e-3:
        return None
    theta = np.append(w, b)
    numeric = numerical_gradient(lambda t: ref.hinge_objective(t[:-1], t[-1], X, y, C), theta)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return None  # the comparison with the reference has said so
    return (compare(got[0], numeric[:-1], rtol=1e-5, atol=1e-5, name="dw")
            or compare(got[1], numeric[-1], rtol=1e-5, atol=1e-5, name="db"))


def _split_fit(case, got):
    """(w, b) from the learner's output, or a message saying what is wrong with its form."""
    X = case.args[0]
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return None, "fit_primal must return two values (w, b)"
    w, b = np.asarray(got[0], dtype=float), np.asarray(got[1], dtype=float)
    if w.shape != (X.shape[1],):
        return None, f"w has shape {w.shape}, expected ({X.shape[1]},)"
    if b.size != 1:
        return None, f"b must be a single number, got shape {b.shape}"
    if not (np.isfinite(w).all() and np.isfinite(b).all()):
        return None, "w or b contains nan or inf"
    return (w, float(b.reshape(()))), None


def best_bias(w, X, y, C) -> float:
    """The b minimising J(w, b) for a fixed w: J is convex and piecewise linear in b, with
    kinks where a margin y_i (x_i . w + b) is exactly 1, at b = y_i - x_i . w; one of them is a
    minimiser."""
    kinks = y - X @ w
    values = [ref.hinge_objective(w, b, X, y, C) for b in kinks]
    return float(kinks[int(np.argmin(values))])


def _check_objective(case, got, expected):
    """The objective reached against the optimum; when it is too high, whether w or b is at
    fault: the best b for the learner's w says which."""
    X, y, C = case.args
    fitted, problem = _split_fit(case, got)
    if problem:
        return Mismatch("w", problem)
    value = ref.hinge_objective(*fitted, X, y, C)
    best = ref.hinge_objective(*expected, X, y, C)
    excess = (value - best) / abs(best)
    if excess <= FIT_RTOL:
        return None
    w, b = fitted
    b_star = best_bias(w, X, y, C)
    with_b_star = (ref.hinge_objective(w, b_star, X, y, C) - best) / abs(best)
    if with_b_star <= FIT_RTOL:
        why = (f"your w is right, your b is not: for your w the best bias is b = {b_star:.8g} "
               f"(J within {with_b_star:.2g} of the optimum), yours is b = {b:.8g}. b is not "
               "regularised: it is read off the free support vectors (0 < alpha_i < C, on the "
               "margin), not a bound one, and stays optimal when the data are moved")
        output = "b"
    else:
        why = (f"w itself is off: even the best b for your w leaves J {with_b_star:.3g} "
               "(relative) above the optimum. Subgradient descent converges slowly: solve the "
               "dual (SMO) to a tight tolerance, or minimise more accurately")
        output = "w"
    return Mismatch(
        output,
        f"the objective reached, J(w, b) = {value:.10g}, is {excess:.3g} (relative) above the "
        f"optimum {best:.10g}; allowed: at most {FIT_RTOL:g} above. {why}",
        max_abs_error=float(value - best), max_rel_error=float(excess), rtol=FIT_RTOL, atol=0.0,
    )


# ---------------------------------------------------------------------------------------------
# Classic mistakes (each returns what the mistaken formula gives on the case's inputs)


def _hinge(w, b, X, y):
    return np.maximum(0.0, 1.0 - y * (X @ w + b))


def _active(w, b, X, y):
    return y * (X @ w + b) < 1.0


def _subgradient(w, b, X, y, C, active):
    return w - C * X[active].T @ y[active], -C * y[active].sum()


def _no_regulariser(w, b, X, y, C):
    dw, db = _subgradient(w, b, X, y, C, _active(w, b, X, y))
    return dw - w, db


def _hinge_sign_flipped(w, b, X, y, C):
    active = _active(w, b, X, y)
    return w + C * X[active].T @ y[active], C * y[active].sum()


FUNCTIONS = [
    FunctionSpec(
        name="hinge_objective",
        cases=_objective_cases,
        outputs=("J",),
        mistakes=(
            Mistake("the regulariser lacks its 0.5: the objective is 0.5 ||w||^2 + C sum(hinge)",
                    lambda w, b, X, y, C: w @ w + C * _hinge(w, b, X, y).sum()),
            Mistake("averaged the hinge losses; the objective sums them: "
                    "0.5 ||w||^2 + C sum(max(0, 1 - y (X w + b)))",
                    lambda w, b, X, y, C: 0.5 * w @ w + C * _hinge(w, b, X, y).mean()),
            Mistake("left out the bias: the margin is y (X w + b)",
                    lambda w, b, X, y, C: 0.5 * w @ w + C * _hinge(w, 0.0, X, y).sum()),
            Mistake("put C on the regulariser; C weighs the hinge losses: "
                    "0.5 ||w||^2 + C sum(hinge)",
                    lambda w, b, X, y, C: 0.5 * C * w @ w + _hinge(w, b, X, y).sum()),
        ),
    ),
    FunctionSpec(
        name="hinge_subgradient",
        cases=_subgradient_cases,
        outputs=("dw", "db"),
        atol=1e-9,
        checks=(Check("finite differences of hinge_objective", _check_finite_differences),),
        mistakes=(
            Mistake("counted the samples with margin exactly 1 as active; at the hinge's kink "
                    "(y (x . w + b) == 1) the convention takes the subgradient 0, so only "
                    "margins strictly below 1 count",
                    lambda w, b, X, y, C: _subgradient(w, b, X, y, C, y * (X @ w + b) <= 1.0)),
            Mistake("left out the regulariser's gradient w: dw = w - C sum_active y_i x_i",
                    _no_regulariser),
            Mistake("the hinge term has the wrong sign: the gradient of max(0, 1 - y (x . w + b)) "
                    "is -y x (and -y for b) on the active samples", _hinge_sign_flipped),
            Mistake("counted only misclassified samples (margin < 0); every sample with "
                    "margin below 1 is active",
                    lambda w, b, X, y, C: _subgradient(w, b, X, y, C, y * (X @ w + b) < 0)),
            Mistake("counted every sample; only those with margin y (x . w + b) < 1 are active",
                    lambda w, b, X, y, C: _subgradient(w, b, X, y, C, np.ones(len(y), bool))),
        ),
    ),
    FunctionSpec(
        name="fit_primal",
        cases=_fit_cases,
        outputs=("w", "b"),
        compare_to_reference=False,
        checks=(Check("objective reached", _check_objective),),
    ),
]
