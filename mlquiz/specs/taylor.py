"""Grading spec of the taylor exercise (CURRICULUM.md, **taylor**).

Every function is compared with the reference on a few small random cases and on edge cases:
``x`` exactly at ``x0`` and a scalar ``x`` (the result has the shape of ``x``), a polynomial
of order 0, logits of exactly -1e3, 0 and +1e3 for the logistic loss (graded with an absolute
tolerance: p - y and p (1 - p) lose relative precision there), an unknown loss name (which
must raise ValueError), a batch of one, gradient sums of exactly 0 (a weight of 0, a score and
a gain of exactly 0).
"""

from __future__ import annotations

import math

import numpy as np

from mlquiz.grading.numeric import compare
from mlquiz.grading.references import load_reference
from mlquiz.grading.spec import Case, Check, FunctionSpec, Mistake

ref = load_reference("taylor")


# ---------------------------------------------------------------------------------------------
# Inputs


def _exp_derivs(x0, order):
    return np.full(order + 1, math.exp(x0))


def _sin_derivs(x0, order):
    cycle = [math.sin(x0), math.cos(x0), -math.sin(x0), -math.cos(x0)]
    return np.array([cycle[k % 4] for k in range(order + 1)])


def _taylor_cases(rng):
    x0 = float(rng.uniform(-1, 1))
    x0_sin = float(rng.uniform(-2, 2))
    x0_at = float(rng.uniform(-1, 1))
    x_at = x0_at + rng.uniform(-0.5, 0.5, size=5)
    x_at[2] = x0_at  # (x - x0)^0 = 1 and every other power 0
    return [
        Case("exp at x0, order 5, x of shape (6,)",
             (_exp_derivs(x0, 5), x0, x0 + rng.uniform(-1, 1, size=6))),
        Case("sin at x0, order 7, x of shape (2, 3)",
             (_sin_derivs(x0_sin, 7), x0_sin, x0_sin + rng.uniform(-1.5, 1.5, size=(2, 3)))),
        Case("random derivatives, order 3, a scalar x: the result is a scalar",
             (rng.normal(size=4), 0.5, float(rng.uniform(-1, 2)))),
        Case("x exactly at x0 among the points, order 4", (rng.normal(size=5), x0_at, x_at)),
        Case("order 0: a constant", (np.array([float(rng.normal())]), 0.0, rng.normal(size=3))),
    ]


def _grad_hess_cases(rng):
    extreme = np.array([-1e3, -40.0, 0.0, 40.0, 1e3, -1e3, 0.0, 1e3])
    return [
        Case("squared loss, N=6", (rng.normal(size=6), rng.normal(size=6), "squared")),
        Case("logistic loss, N=7 logits",
             ((rng.random(7) < 0.5).astype(float), rng.normal(scale=3.0, size=7), "logistic")),
        Case("logistic loss, logits of exactly -1e3, 0 and +1e3",
             (np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0]), extreme, "logistic")),
        Case("squared loss, N=1: a batch of one", (rng.normal(size=1), rng.normal(size=1),
                                                   "squared")),
        Case("logistic loss, N=1: a logit of exactly 0", (np.array([1.0]), np.array([0.0]),
                                                          "logistic")),
        Case("an unknown loss name must raise ValueError",
             (rng.normal(size=3), rng.normal(size=3), "hinge"), raises="ValueError"),
    ]


def _sums(rng, leaves):
    """Per-leaf sums of gradients (any sign) and of hessians (positive)."""
    return rng.normal(scale=3.0, size=leaves), rng.uniform(0.5, 5.0, size=leaves)


def _leaf_cases(rng):
    G, H = _sums(rng, 4)
    G0, H0 = _sums(rng, 3)
    G0[1] = 0.0
    return [
        Case("T=4 leaves, lam=1", (G, H, 1.0)),
        Case("a single leaf (scalars), lam=0.3", (float(G[0]), float(H[0]), 0.3)),
        Case("a leaf with G = 0 (weight 0), lam=0", (G0, H0, 0.0)),
    ]


def _score_cases(rng):
    G, H = _sums(rng, 5)
    G1, H1 = _sums(rng, 1)
    return [
        Case("T=5 leaves, lam=1, gamma=0.5", (G, H, 1.0, 0.5)),
        Case("a single leaf, lam=0, gamma=2", (G1, H1, 0.0, 2.0)),
        Case("every G = 0 and gamma = 0: a score of exactly 0",
             (np.zeros(3), rng.uniform(0.5, 5.0, size=3), 1.0, 0.0)),
    ]


def _gain_cases(rng):
    (GL, GR), (HL, HR) = _sums(rng, 2)
    (GL2, GR2), (HL2, HR2) = _sums(rng, 2)
    (GL3, GR3), (HL3, HR3) = _sums(rng, 2)
    return [
        Case("random sums, lam=1, gamma=0.2", (GL, HL, GR, HR, 1.0, 0.2)),
        Case("lam=0, a large gamma: a negative gain", (GL2, HL2, GR2, HR2, 0.0, 50.0)),
        Case("GL = GR = 0 and gamma = 0: a gain of exactly 0",
             (0.0, float(HL3), 0.0, float(HR3), 1.0, 0.0)),
        Case("GL = -GR: the parent's gradient sum is 0", (GL3, HL3, -GL3, HR3, 0.5, 0.1)),
    ]


# ---------------------------------------------------------------------------------------------
# Independent checks


def _check_leaf_optimal(case, got, expected):
    """w* is where the derivative of G w + 0.5 (H + lam) w^2 vanishes: G + (H + lam) w* = 0."""
    G, H, lam = case.args
    residual = np.asarray(G, dtype=float) + (np.asarray(H, dtype=float) + lam) * np.asarray(
        got, dtype=float)
    scale = np.abs(np.asarray(G, dtype=float)) + 1.0
    return compare(residual / scale, np.zeros_like(residual), rtol=0.0, atol=1e-9,
                   name="G + (H + lam) w, the derivative of the leaf objective at w")


# ---------------------------------------------------------------------------------------------
# Classic mistakes (each returns what the mistaken formula gives on the case's inputs)


def _no_factorial(derivs, x0, x):
    dx = np.asarray(x, dtype=float) - x0
    return sum(d * dx**k for k, d in enumerate(derivs))


def _powers_of_x(derivs, x0, x):
    x = np.asarray(x, dtype=float)
    return sum(d * x**k / math.factorial(k) for k, d in enumerate(derivs))


def _one_term_short(derivs, x0, x):
    return ref.taylor_polynomial(derivs[:-1], x0, x) if len(derivs) > 1 else np.zeros_like(x)


def _gh(y, y_pred, loss):
    return ref.grad_hess(y, y_pred, loss)


def _logit_as_probability(y, y_pred, loss):
    g, h = ref.grad_hess(y, y_pred, loss)
    if loss == "logistic":
        return y_pred - y, y_pred * (1 - y_pred)
    return g, h


def _hessian_is_p(y, y_pred, loss):
    g, h = ref.grad_hess(y, y_pred, loss)
    if loss == "logistic":
        return g, g + y  # p itself
    return g, h


def _score_terms(G, H, lam):
    G, H = np.asarray(G, dtype=float), np.asarray(H, dtype=float)
    return np.sum(G**2 / (H + lam)), G.size


def _bracket(GL, HL, GR, HR, lam):
    return GL**2 / (HL + lam) + GR**2 / (HR + lam) - (GL + GR) ** 2 / (HL + HR + lam)


FUNCTIONS = [
    FunctionSpec(
        name="taylor_polynomial",
        cases=_taylor_cases,
        rtol=1e-9,
        atol=1e-12,
        mistakes=(
            Mistake("missing factorial: each term is f^(k)(x0) (x - x0)^k / k!, divided by k!",
                    _no_factorial),
            Mistake("expanded in powers of x; the terms are powers of (x - x0)", _powers_of_x),
            Mistake("left out the last term: derivs holds f(x0), f'(x0), ..., f^(K)(x0), so the "
                    "sum runs over k = 0..K, all of them", _one_term_short),
        ),
    ),
    FunctionSpec(
        name="grad_hess",
        cases=_grad_hess_cases,
        outputs=("g", "h"),
        rtol=1e-7,
        atol=1e-12,  # p - y and p (1 - p) lose relative precision for large |logit|
        mistakes=(
            Mistake("g has the wrong sign: g is the derivative of the loss, yhat - y for the "
                    "squared loss and p - y for the logistic loss (y - yhat is the negative "
                    "gradient, GBDT's residual)",
                    lambda y, y_pred, loss: (-_gh(y, y_pred, loss)[0], _gh(y, y_pred, loss)[1])),
            Mistake("logistic loss: treated the logit yhat as the probability; p = sigmoid(yhat)",
                    _logit_as_probability),
            Mistake("logistic loss: h = p, the sigmoid itself; h is its derivative p (1 - p)",
                    _hessian_is_p),
        ),
    ),
    FunctionSpec(
        name="leaf_weight",
        cases=_leaf_cases,
        checks=(Check("minimises G w + 0.5 (H + lam) w^2", _check_leaf_optimal),),
        mistakes=(
            Mistake("leaf weight without the minus sign: w* = -G / (H + lam) minimises "
                    "G w + 0.5 (H + lam) w^2", lambda G, H, lam: np.asarray(G) / (H + lam)),
            Mistake("forgot lam in the denominator: w* = -G / (H + lam)",
                    lambda G, H, lam: -np.asarray(G) / np.asarray(H)),
        ),
    ),
    FunctionSpec(
        name="structure_score",
        cases=_score_cases,
        mistakes=(
            Mistake("structure score without the 1/2: -0.5 * sum(G^2 / (H + lam)) + gamma T",
                    lambda G, H, lam, gamma: -_score_terms(G, H, lam)[0]
                    + gamma * _score_terms(G, H, lam)[1]),
            Mistake("structure score without gamma T, the penalty of gamma per leaf",
                    lambda G, H, lam, gamma: -0.5 * _score_terms(G, H, lam)[0]),
            Mistake("counted gamma once; the penalty is gamma per leaf, gamma * T",
                    lambda G, H, lam, gamma: -0.5 * _score_terms(G, H, lam)[0] + gamma),
            Mistake("the sum has the wrong sign: each leaf's best objective is "
                    "-0.5 G^2 / (H + lam) (a minimum, never above 0)",
                    lambda G, H, lam, gamma: 0.5 * _score_terms(G, H, lam)[0]
                    + gamma * _score_terms(G, H, lam)[1]),
        ),
    ),
    FunctionSpec(
        name="split_gain",
        cases=_gain_cases,
        mistakes=(
            Mistake("split gain without the 1/2: 0.5 * (GL^2/(HL+lam) + GR^2/(HR+lam) - "
                    "(GL+GR)^2/(HL+HR+lam)) - gamma",
                    lambda GL, HL, GR, HR, lam, gamma: _bracket(GL, HL, GR, HR, lam) - gamma),
            Mistake("split gain without gamma: a split adds a leaf, which costs gamma",
                    lambda GL, HL, GR, HR, lam, gamma: 0.5 * _bracket(GL, HL, GR, HR, lam)),
            Mistake("gamma with the wrong sign: the extra leaf costs gamma, so subtract it",
                    lambda GL, HL, GR, HR, lam, gamma: 0.5 * _bracket(GL, HL, GR, HR, lam)
                    + gamma),
            Mistake("the gain is reversed: it is score(parent) - score(children), positive when "
                    "the split helps",
                    lambda GL, HL, GR, HR, lam, gamma: -0.5 * _bracket(GL, HL, GR, HR, lam)
                    + gamma),
        ),
    ),
]
