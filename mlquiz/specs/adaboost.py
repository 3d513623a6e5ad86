"""Grading spec of the adaboost exercise (CURRICULUM.md, **adaboost**).

Every function is compared with the reference on small random cases and on the curriculum's
edge cases: a weighted error of exactly 0 and 1, weights that do not sum to 1 (weighted_error
does not normalise), an error of 0 or 1 given to ``compute_alpha`` (clipped, so alpha stays
finite), separable data (a stump with zero weighted error, which ends the fit), samples exactly
on a threshold, ties between features and between thresholds (a duplicated column, repeated
values, uniform weights), ties between polarities, near-ties within and beyond the tolerance
(1e-12 of the total weight, with totals of 1, 1000 and 1e-3), a single class, a batch of one,
and a score of exactly 0 (predicted +1). ``fit_stump`` is compared output by output (feature,
threshold, polarity) and shown whole; ``adaboost_fit``'s model is graded round by round: each
stump exactly, each alpha within 1e-9 (relative), and its length (a zero-error stump ends the
fit). Predictions are labels: "3 of 40 labels differ".
"""

from __future__ import annotations

import numpy as np

from mlquiz.grading.numeric import compare, compare_discrete, distinct
from mlquiz.grading.references import load_reference
from mlquiz.grading.spec import Case, Check, FunctionSpec, Mismatch, Mistake

ref = load_reference("adaboost")


# ---------------------------------------------------------------------------------------------
# Inputs


def _labels(rng, n):
    """n labels in {-1, +1}, both present when n >= 2."""
    y = rng.choice([-1.0, 1.0], size=n)
    if n >= 2:
        y[:2] = [-1.0, 1.0]
        rng.shuffle(y)
    return y


def _data(rng, n, d):
    """X (n, d) continuous and labels y (n,) from a rule no single stump gets right."""
    X = rng.normal(size=(n, d))
    score = X[:, 0] + np.sin(2 * X[:, -1]) + 0.5 * rng.normal(size=n)
    return X, np.where(score > 0, 1.0, -1.0)


def _tied_data(rng, n):
    """Integer features with repeated values, column 2 a copy of column 0: ties everywhere."""
    X = rng.integers(0, 4, size=(n, 2)).astype(float)
    X = np.hstack([X, X[:, :1]])
    return X, _labels(rng, n)


def _separable(rng, n):
    """Only feature 1 separates the classes, -1 below the gap (a zero-error stump, polarity -1)."""
    X = rng.normal(size=(n, 3))
    X[:, 1] = np.concatenate([rng.uniform(-2, -0.5, n // 2), rng.uniform(0.5, 2, n - n // 2)])
    y = np.where(X[:, 1] > 0, 1.0, -1.0)
    X[:, 0] = rng.normal(size=n) + 0.3 * y  # related to y, but overlapping
    return X, y


def test_points(X):
    """Where to evaluate a fitted model: the training points, every candidate threshold of
    every feature (midpoints of consecutive distinct values, exactly as the stumps compute
    them, so samples fall exactly on a threshold) and points below and above the data."""
    columns = []
    for j in range(X.shape[1]):
        values = distinct(X[:, j])
        columns.append((values[:-1] + values[1:]) / 2 if values.size > 1 else values)
    rows = max(c.size for c in columns)
    thresholds = np.stack([np.resize(c, rows) for c in columns], axis=1)
    return np.vstack([X, thresholds, X.min(0) - 1.0, X.max(0) + 1.0])


def _away_from_zero(model, X):
    """The rows of X where the model's score sum_m alpha_m G_m(x) is clearly not 0. Where it is
    0 in exact arithmetic (fitted votes can cancel: 0.5 log 2.5 + 0.5 log 2 = 0.5 log 3 +
    0.5 log(5/3)), rounding decides its sign, differently for equally correct code."""
    scale = sum(abs(float(alpha)) for alpha, _ in model)
    return X[np.abs(_score(model, X)) > 1e-9 * scale]


def _weighted_error_cases(rng):
    w = rng.dirichlet(np.ones(10))
    y = _labels(rng, 10)
    pred = _labels(rng, 10)
    w1 = rng.dirichlet(np.ones(8))
    y1 = _labels(rng, 8)
    return [
        Case("N=10, random weights", (w, y, pred)),
        Case("predictions as integers (any numeric dtype)", (w, y, pred.astype(np.int64))),
        Case("every prediction right: an error of exactly 0", (w1, y1, y1.copy())),
        Case("every prediction wrong: an error of sum(w) = 1", (w1, y1, -y1)),
        Case("N=1: a batch of one", (np.array([1.0]), np.array([1.0]), np.array([-1.0]))),
        Case("weights that do not sum to 1 (weighted_error does not normalise)",
             (rng.uniform(0.5, 3.0, size=9), _labels(rng, 9), _labels(rng, 9))),
    ]


def _alpha_cases(rng):
    return [
        Case("a random error in (0, 1/2)", (float(rng.uniform(0.02, 0.48)),)),
        Case("an error above 1/2: a negative alpha", (float(rng.uniform(0.55, 0.95)),)),
        Case("an error of exactly 1/2: alpha = 0", (0.5,)),
        Case("an error of exactly 0 (clipped to 1e-10: alpha stays finite)", (0.0,)),
        Case("an error of exactly 1 (clipped to 1 - 1e-10)", (1.0,)),
    ]


def _round(rng, n):
    """The inputs of update_weights as a round of AdaBoost produces them."""
    X, y = _data(rng, n, 2)
    w = rng.dirichlet(np.ones(n))
    pred = ref.stump_predict(ref.fit_stump(X, y, w), X)
    return w, ref.compute_alpha(ref.weighted_error(w, y, pred)), y, pred


def _update_cases(rng):
    w, alpha, y, pred = _round(rng, 12)
    n = 6
    y6 = _labels(rng, n)
    return [
        Case("a round of AdaBoost: N=12, alpha from the stump's error", (w, alpha, y, pred)),
        Case("uniform weights, a random alpha", (np.full(n, 1.0 / n), float(rng.uniform(0.1, 1)),
                                                 y6, _labels(rng, n))),
        Case("a negative alpha (error above 1/2)", (rng.dirichlet(np.ones(n)),
                                                    float(-rng.uniform(0.1, 1)), y6,
                                                    _labels(rng, n))),
        Case("every prediction right", (rng.dirichlet(np.ones(n)), 2.0, y6, y6.copy())),
        Case("N=1: a batch of one", (np.array([1.0]), 0.7, np.array([1.0]), np.array([-1.0]))),
    ]


def _stump_cases(rng):
    X, y = _data(rng, 15, 3)
    X2, y2 = _data(rng, 20, 2)
    first = ref.stump_predict(ref.fit_stump(X2, y2, np.full(20, 0.05)), X2)
    w2 = np.where(first != y2, 4.0, 1.0)  # the first stump's mistakes weigh 4 times more
    Xt, yt = _tied_data(rng, 12)
    Xs, ys = _separable(rng, 10)
    Xc = rng.normal(size=(6, 2))
    return [
        Case("N=15, D=3, uneven random weights", (X, y, rng.dirichlet(np.full(15, 0.3)))),
        Case("the weights of a second round: the first stump's mistakes weigh more",
             (X2, y2, w2 / w2.sum())),
        Case("repeated values, a duplicated column, uniform weights: ties between features "
             "and thresholds", (Xt, yt, np.full(12, 1.0 / 12))),
        Case("separable data: a stump with zero weighted error", (Xs, ys,
                                                                  rng.dirichlet(np.ones(10)))),
        Case("a single class: the best stump puts everything on one side (min - 1)",
             (Xc, np.ones(6), np.full(6, 1.0 / 6))),
        Case("N=1: a batch of one", (rng.normal(size=(1, 2)), np.array([-1.0]), np.array([1.0]))),
        Case("a stump search where both polarities tie at the minimum (opposite labels of equal "
             "weight at every value): polarity +1 wins", _polarity_tie(rng)),
        Case("near-ties with non-dyadic weights: two features' errors 1e-14 of the total weight "
             "apart, where summation order moves the last bits (tied: the lowest feature wins)",
             _near_tie(rng, total=1.0, gap=1e-14)),
        Case("weights that do not sum to 1 (total 1000): errors 1e-14 of the total weight apart "
             "are tied (the tolerance scales with the total weight)",
             _near_tie(rng, total=1000.0, gap=1e-14)),
        Case("weights that do not sum to 1 (total 1e-3): errors 1e-11 of the total weight apart "
             "are not tied (the tolerance scales with the total weight)",
             _near_tie(rng, total=1e-3, gap=1e-11)),
    ]


def _polarity_tie(rng):
    """X (2k, 2) with each value of each feature held by one +1 and one -1 sample of equal
    weight (weights not summing to 1): every candidate stump errs on exactly half the weight,
    so both polarities tie everywhere and (0, min - 1, +1) wins."""
    k = 5
    X = np.repeat(rng.normal(size=(k, 2)), 2, axis=0)
    w = np.repeat(rng.uniform(0.05, 0.3, size=k), 2)
    y = np.tile([1.0, -1.0], k)
    return X, y, w


def _near_tie(rng, total, gap):
    """X (6, 2), y, w (summing to ``total``) where feature 0's best stump errs on sample 2
    alone and feature 1's on sample 5 alone, with w[5] = w[2] - gap * total: within the tie
    tolerance (1e-12 of the total weight) when gap is below it, so feature 0 wins; beyond it
    otherwise, so feature 1 wins. Other candidates err by far more."""
    y = np.array([1.0, 1.0, 1.0, -1.0, -1.0, -1.0])
    X = np.column_stack([[0.0, 1.0, 5.0, 2.0, 3.0, 4.0], [0.0, 1.0, 2.0, 3.0, 4.0, -1.0]])
    X = X * rng.uniform(0.5, 2.0) + rng.normal()
    w = rng.uniform(0.8, 1.2, size=6)
    w[2] = w[5] = rng.uniform(0.1, 0.2)
    w = w * (total / w.sum())
    w[5] = w[2] - gap * total
    return X, y, w


def _stump_predict_cases(rng):
    X = rng.normal(size=(8, 3))
    on = X.copy()
    on[::2, 1] = X[3, 1]  # half the samples exactly on the threshold
    return [
        Case("polarity +1, samples exactly on the threshold", ((1, float(X[3, 1]), 1), on)),
        Case("polarity -1, samples exactly on the threshold", ((1, float(X[3, 1]), -1), on)),
        Case("threshold min - 1: every sample on the > side",
             ((2, float(X[:, 2].min() - 1.0), 1), X)),
        Case("N=1: a batch of one", ((0, 0.25, -1), np.array([[0.25, 3.0, -1.0]]))),
    ]


def _fit_cases(rng):
    """adaboost_fit is graded on the model itself, round by round (the curriculum fixes its
    format, a list of (alpha, stump))."""
    X, y = _data(rng, 24, 3)
    X1, y1 = _data(rng, 10, 2)
    Xt, yt = _tied_data(rng, 14)
    Xs, ys = _separable(rng, 12)
    return [
        Case("N=24, D=3, 6 rounds", (X, y, 6)),
        Case("n_rounds=1: a single stump", (X1, y1, 1)),
        Case("repeated values and a duplicated column: ties; 4 rounds", (Xt, yt, 4)),
        Case("separable data: the first stump has zero error and ends the fit", (Xs, ys, 5)),
        Case("N=1: a batch of one", (rng.normal(size=(1, 2)), np.array([1.0]), 3)),
    ]


def _predict_cases(rng):
    X, y = _data(rng, 16, 2)
    Z = rng.normal(size=(10, 3))
    Z[:3] = [[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0], [1.0, -1.0, 1.0]]
    # 0.5 G1 + 0.25 G2 - 0.75 G3 (dyadic votes: exact) is exactly 0 when all three agree
    cancelling = [(0.5, (0, 0.0, 1)), (0.25, (1, 0.0, 1)), (0.75, (2, 0.0, -1))]
    model = ref.adaboost_fit(X, y, 5)
    return [
        Case("a fitted model of 5 rounds, on the training points and every threshold",
             (model, _away_from_zero(model, test_points(X)))),
        Case("scores of exactly 0 (votes that cancel) are +1", (cancelling, Z)),
        Case("a single stump", ([(0.4, (1, 0.1, -1))], Z)),
        Case("N=1: a batch of one", (ref.adaboost_fit(X, y, 3), X[:1])),
    ]


# ---------------------------------------------------------------------------------------------
# Independent checks


def _check_normalised(case, got, expected):
    return compare(np.sum(got), 1.0, rtol=0.0, atol=1e-12, name="the sum of the new weights")


STUMP = ("feature", "threshold", "polarity")
ALPHA_RTOL = 1e-9


def _check_model(case, got, expected):
    """The model round by round: each stump exactly (its threshold within 1e-12), each alpha
    within ALPHA_RTOL, and as many rounds as the reference (a zero-error stump ends the fit)."""
    if not isinstance(got, (list, tuple)):
        return Mismatch("model", "adaboost_fit returns a list of (alpha, stump) pairs, one per round")
    for m, (g, e) in enumerate(zip(got, expected), start=1):
        if not (isinstance(g, (list, tuple)) and len(g) == 2 and isinstance(g[1], (list, tuple))):
            return Mismatch("model", f"round {m} is not a pair (alpha, (feature, threshold, polarity))")
        wrong_stump = compare_discrete(g[1], e[1], STUMP, 1e-12, 1e-12)
        if wrong_stump:
            return Mismatch("model", f"round {m}: the stump is wrong: {wrong_stump.message}")
        wrong_alpha = compare(g[0], e[0], ALPHA_RTOL, 1e-12, f"alpha of round {m}")
        if wrong_alpha:
            wrong_alpha.message = (f"round {m}: its stump is right, its alpha is not: expected "
                                   f"{e[0]:.10g}, got {float(np.asarray(g[0], dtype=float).reshape(-1)[0]):.10g}")
            return wrong_alpha
    if len(got) != len(expected):
        why = (" (a stump with exactly zero weighted error ends the fit)"
               if len(got) > len(expected) else "")
        return Mismatch("model", f"the model has {len(got)} rounds, expected {len(expected)}{why}")
    return None


# ---------------------------------------------------------------------------------------------
# Classic mistakes (each returns what the mistaken formula gives on the case's inputs)


def _stump_at_a_value(X, y, w):
    """The best stump with its threshold on the largest sample value below the midpoint."""
    feature, threshold, polarity = ref.fit_stump(X, y, w)
    below = X[:, feature][X[:, feature] <= threshold]
    return (feature, float(below.max()) if below.size else threshold, polarity)


def _boost(X, y, n_rounds, half=0.5, normalise=True, count_errors=False):
    """The model of AdaBoost with alpha = half * log((1 - e) / e), e the weighted error (or the
    fraction of mistakes if ``count_errors``), and optionally unnormalised weights."""
    w = np.full(len(y), 1.0 / len(y))
    model = []
    for _ in range(n_rounds):
        stump = ref.fit_stump(X, y, w)
        pred = ref.stump_predict(stump, X)
        err = float(np.mean(pred != y)) if count_errors else float(np.sum(w[pred != y]))
        clipped = float(np.clip(err, 1e-10, 1 - 1e-10))
        alpha = half * float(np.log((1 - clipped) / clipped))
        model.append((alpha, stump))
        if np.sum(w[pred != y]) == 0:
            break
        w = w * np.exp(-alpha * y * pred)
        if normalise:
            w = w / w.sum()
    return model


def _no_early_stop(X, y, n_rounds):
    """The model of adaboost_fit if a zero-error stump did not end the fit."""
    w = np.full(len(y), 1.0 / len(y))
    model = []
    for _ in range(n_rounds):
        stump = ref.fit_stump(X, y, w)
        pred = ref.stump_predict(stump, X)
        alpha = ref.compute_alpha(ref.weighted_error(w, y, pred))
        model.append((alpha, stump))
        w = ref.update_weights(w, alpha, y, pred)
    return model


def _score(model, X):
    return sum(alpha * ref.stump_predict(stump, X) for alpha, stump in model)


FUNCTIONS = [
    FunctionSpec(
        name="weighted_error",
        cases=_weighted_error_cases,
        outputs=("err",),
        rtol=1e-12,
        atol=1e-14,
        mistakes=(
            Mistake("counted the misclassified samples (the error rate); the weighted error "
                    "sums their weights, e = sum(w[pred != y])",
                    lambda w, y, pred: np.mean(pred != y)),
            Mistake("summed the weights of the correctly classified samples; e = "
                    "sum(w[pred != y])", lambda w, y, pred: np.sum(w[pred == y])),
            Mistake("divided by sum(w): weighted_error does not normalise, e = sum(w[pred != y])",
                    lambda w, y, pred: np.sum(w[pred != y]) / np.sum(w)),
        ),
    ),
    FunctionSpec(
        name="compute_alpha",
        cases=_alpha_cases,
        outputs=("alpha",),
        rtol=1e-9,
        atol=1e-12,
        mistakes=(
            Mistake("alpha without the 1/2: alpha = 0.5 * log((1 - err) / err)",
                    lambda err: np.log((1 - np.clip(err, 1e-10, 1 - 1e-10))
                                       / np.clip(err, 1e-10, 1 - 1e-10))),
            Mistake("the ratio is upside down: alpha = 0.5 * log((1 - err) / err) is positive "
                    "for an error below 1/2",
                    lambda err: 0.5 * np.log(np.clip(err, 1e-10, 1 - 1e-10)
                                             / (1 - np.clip(err, 1e-10, 1 - 1e-10)))),
        ),
    ),
    FunctionSpec(
        name="update_weights",
        cases=_update_cases,
        outputs=("w",),
        rtol=1e-10,
        atol=1e-14,
        checks=(Check("the weights sum to 1", _check_normalised),),
        mistakes=(
            Mistake("weights not renormalised: divide by Z_m = sum(w * exp(-alpha * y * pred)) "
                    "so they sum to 1",
                    lambda w, alpha, y, pred: w * np.exp(-alpha * y * pred)),
            Mistake("the exponent has the wrong sign: w * exp(-alpha * y * pred) / Z makes the "
                    "misclassified samples (y * pred = -1) heavier",
                    lambda w, alpha, y, pred: w * np.exp(alpha * y * pred)
                    / np.sum(w * np.exp(alpha * y * pred))),
        ),
    ),
    FunctionSpec(
        name="fit_stump",
        cases=_stump_cases,
        outputs=STUMP,
        rtol=1e-12,
        atol=1e-12,
        discrete=True,
        mistakes=(
            Mistake("ignored the weights: the stump must minimise the weighted error "
                    "sum(w[pred != y]), not the number of mistakes",
                    lambda X, y, w: ref.fit_stump(X, y, np.full(len(y), 1.0 / len(y)))),
            Mistake("the threshold is a sample value; use the midpoint (a + b) / 2 between "
                    "consecutive distinct values", _stump_at_a_value),
        ),
    ),
    FunctionSpec(
        name="stump_predict",
        cases=_stump_predict_cases,
        outputs=("pred",),
        discrete=True,
        mistakes=(
            Mistake("a threshold test with < instead of <=: a sample exactly on the threshold "
                    "gets polarity (x <= threshold)",
                    lambda stump, X: np.where(X[:, stump[0]] < stump[1], stump[2], -stump[2])),
            Mistake("polarity reversed: the stump predicts polarity where x <= threshold",
                    lambda stump, X: -ref.stump_predict(stump, X)),
        ),
    ),
    FunctionSpec(
        name="adaboost_fit",
        cases=_fit_cases,
        outputs=("model",),
        compare_to_reference=False,
        checks=(Check("the model round by round", _check_model),),
        mistakes=(
            Mistake("alpha without the 1/2: alpha_m = 0.5 * log((1 - e_m) / e_m)",
                    lambda X, y, n_rounds: _boost(X, y, n_rounds, half=1.0)),
            Mistake("alpha from the fraction of misclassified samples; e_m is the weighted "
                    "error sum(w[pred != y])",
                    lambda X, y, n_rounds: _boost(X, y, n_rounds, count_errors=True)),
            Mistake("weights not renormalised: divide by Z_m after each update so they sum to 1",
                    lambda X, y, n_rounds: _boost(X, y, n_rounds, normalise=False)),
            Mistake("the fit went on after a stump with zero weighted error; such a stump is "
                    "kept and ends the fit", _no_early_stop),
        ),
    ),
    FunctionSpec(
        name="adaboost_predict",
        cases=_predict_cases,
        outputs=("pred",),
        discrete=True,
        mistakes=(
            Mistake("np.sign gives 0 for a score of exactly 0; the curriculum maps it to +1",
                    lambda model, X: np.sign(_score(model, X))),
            Mistake("ignored the votes: f(x) = sum_m alpha_m G_m(x), each stump weighted by its "
                    "alpha", lambda model, X: np.where(
                        _score([(1.0, s) for _, s in model], X) >= 0, 1.0, -1.0)),
        ),
    ),
]
