"""Grading spec of the gbdt exercise (CURRICULUM.md, **gbdt**).

Trees and models are the learner's own objects, so ``fit_tree`` and ``gbdt_fit`` are graded
through the learner's own ``tree_predict`` and ``gbdt_predict`` (a chained call), and the two
predict functions on a tree or model fitted by the learner's own fit in the same case (a
``Call`` as an argument). Predictions are compared on the training points, on every midpoint
between two distinct values of a feature (so on every threshold a tree can choose: samples
exactly on a threshold, which go left) and outside the data. Edge cases: max_depth 0 (the root
is a leaf), a leaf with one sample, min_samples_leaf, constant targets, ties between features
and thresholds (a duplicated column, repeated values), a batch of one, one tree, a learning
rate of 1, a mean of y far from 0, a node whose best split gains nothing (XOR-like residuals
below a real split: a leaf), targets at a tiny scale (1e-7: the no-gain rule is relative to the
node's squared error) and two adjacent floats whose midpoint rounds to the lower one.
"""

from __future__ import annotations

import numpy as np

from mlquiz.grading.numeric import distinct, median
from mlquiz.grading.references import load_reference
from mlquiz.grading.spec import Call, Case, FunctionSpec, Mistake, Result

ref = load_reference("gbdt")


# ---------------------------------------------------------------------------------------------
# Inputs


def test_points(X):
    """The training points, every midpoint (a + b) / 2 of two distinct values of a feature
    (computed as the trees compute their thresholds, so every threshold of every node is
    among them) and points below and above the data: (M, D)."""
    columns = []
    for j in range(X.shape[1]):
        values = distinct(X[:, j])
        a, b = np.triu_indices(values.size, k=1)
        columns.append((values[a] + values[b]) / 2 if values.size > 1 else values)
    rows = max(c.size for c in columns)
    midpoints = np.stack([np.resize(c, rows) for c in columns], axis=1)
    return np.vstack([X, midpoints, X.min(0) - 1.0, X.max(0) + 1.0])


def _smooth(rng, n, d, offset=0.0):
    """X (n, d) and a nonlinear target with noise, its mean near ``offset``."""
    X = rng.normal(size=(n, d))
    y = offset + np.sin(2 * X[:, 0]) + X[:, -1] ** 2 + 0.1 * rng.normal(size=n)
    return X, y


def _tied(rng, n):
    """Integer features with repeated values, column 2 a copy of column 0, few distinct
    targets: ties between features and between thresholds."""
    X = rng.integers(0, 4, size=(n, 2)).astype(float)
    return np.hstack([X, X[:, :1]]), rng.integers(-2, 3, size=n).astype(float)


def _outlier(rng, n):
    """One sample far from the rest, at the top of feature 1 and inside the range of feature
    0: the best depth-1 split leaves it alone in a leaf."""
    X = rng.normal(size=(n, 2))
    r = 0.1 * rng.normal(size=n)
    i = int(np.argmax(X[:, 1]))
    X[i, 0] = median(X[:, 0])
    r[i] = 5.0
    return X, r


def _zero_gain(rng):
    """X (16, 3), r (16,): feature 2 separates two groups (the root's split). In one group, r
    is an XOR of features 0 and 1 (two samples in each of the four cells), so every split of
    that node gains exactly nothing and it is a leaf; the other group has a real split."""
    cells = np.repeat([[0, 0], [0, 1], [1, 0], [1, 1]], 2, axis=0)
    low, high = np.sort(rng.normal(size=2)), np.sort(rng.normal(size=2))
    xor = np.column_stack([low[cells[:, 0]], high[cells[:, 1]], np.zeros(8)])
    r_xor = 3.0 + 0.5 * np.where(cells[:, 0] == cells[:, 1], 1.0, -1.0)
    other = np.column_stack([rng.normal(size=(8, 2)), np.ones(8)])
    r_other = 10.0 + np.where(other[:, 0] > median(other[:, 0]), 1.0, -1.0)
    order = rng.permutation(16)
    return np.vstack([xor, other])[order], np.concatenate([r_xor, r_other])[order]


def _adjacent_floats(rng):
    """X (8, 1) whose best split lies between two adjacent doubles a < b: their midpoint
    (a + b) / 2 rounds to a, so only ``x <= threshold`` sends a to the left."""
    a = float(rng.uniform(1.0, 2.0))
    b = float(np.nextafter(a, np.inf))
    if (a + b) / 2 != a:  # round half to even: step once more so that it rounds down
        a, b = b, float(np.nextafter(b, np.inf))
    x = np.array([a - 3.0, a - 2.0, a - 1.0, a, b, b + 1.0, b + 2.0, b + 3.0])
    r = np.array([0.0, 0.1, -0.1, 0.05, 5.0, 5.1, 4.9, 5.05]) + rng.normal(scale=0.01, size=8)
    return x[:, None], r


def _tree_inputs(rng):
    """(label, args, kwargs) of the trees graded by fit_tree and tree_predict."""
    X, r = _smooth(rng, 20, 3)
    Xd, rd = _smooth(rng, 12, 2)
    Xl, rl = _smooth(rng, 18, 2)
    Xo, ro = _outlier(rng, 9)
    Xt, rt = _tied(rng, 16)
    Xc = rng.normal(size=(7, 2))
    return [
        ("N=20, D=3, max_depth=2", (X, r, 2), {}),
        ("max_depth=0: the root is a leaf, the mean of r", (X, r, 0), {}),
        ("an outlier split off alone: a leaf with one sample (max_depth=1)", (Xo, ro, 1), {}),
        ("max_depth=6 on N=12: a deep tree, leaves of one sample", (Xd, rd, 6), {}),
        ("min_samples_leaf=4, max_depth=3", (Xl, rl, 3), {"min_samples_leaf": 4}),
        ("repeated values, a duplicated column: ties; max_depth=3", (Xt, rt, 3), {}),
        ("symmetric targets: two thresholds of one feature tie (max_depth=1)",
         (np.arange(8.0)[:, None], np.array([3.0, 0, 0, 0, 0, 0, 0, 3]), 1), {}),
        ("constant r: a single leaf at any depth", (Xc, np.full(7, 1.5), 3), {}),
        ("N=1: a batch of one", (rng.normal(size=(1, 2)), np.array([0.7]), 2), {}),
        ("a node whose best split gains nothing (XOR-like residuals below a real split): a "
         "leaf; max_depth=3", (*_zero_gain(rng), 3), {}),
        ("targets at a tiny scale (1e-7): the 1e-12 rule is relative to the node's squared "
         "error; max_depth=2", (X, 1e-7 * r, 2), {}),
        ("two adjacent floats whose midpoint rounds to the lower one (x <= threshold goes "
         "left); max_depth=1", (*_adjacent_floats(rng), 1), {}),
    ]


def _gbdt_inputs(rng):
    """(label, args) of the models graded by gbdt_fit and gbdt_predict; the mean of y is far
    from 0 and the learning rate below 1 except where stated."""
    X, y = _smooth(rng, 20, 2, offset=3.0)
    X2, y2 = _smooth(rng, 16, 3, offset=-2.0)
    Xt, yt = _tied(rng, 15)
    return [
        ("N=20, 5 trees, learning rate 0.1, max_depth=1", (X, y, 5, 0.1, 1)),
        ("N=16, D=3, 8 trees, learning rate 0.3, max_depth=2", (X2, y2, 8, 0.3, 2)),
        ("a learning rate of 1, 3 trees, max_depth=2", (X, y, 3, 1.0, 2)),
        ("a single tree, learning rate 0.5", (X2, y2, 1, 0.5, 3)),
        ("max_depth=0: every tree is a leaf (0), the model is the mean of y",
         (X, y, 3, 0.5, 0)),
        ("repeated values, a duplicated column: ties; 4 trees", (Xt, yt + 4.0, 4, 0.2, 2)),
        ("N=1: a batch of one", (X[:1], y[:1], 2, 0.1, 2)),
        ("targets at a tiny scale (1e-7), 3 trees, learning rate 0.5, max_depth=2",
         (X, 1e-7 * y, 3, 0.5, 2)),
    ]


def _negative_gradient_cases(rng):
    return [
        Case("N=8", (rng.normal(size=8), rng.normal(size=8))),
        Case("targets far from the predictions", (10.0 + rng.normal(size=5), rng.normal(size=5))),
        Case("N=1: a batch of one", (rng.normal(size=1), rng.normal(size=1))),
    ]


def _fit_tree_cases(rng):
    return [Case(label, args, kwargs,
                 then=(Call("tree_predict", (Result(0), test_points(args[0]))),))
            for label, args, kwargs in _tree_inputs(rng)]


def _tree_predict_cases(rng):
    return [Case(label, (Call("fit_tree", args, kwargs), test_points(args[0])))
            for label, args, kwargs in _tree_inputs(rng)]


def _gbdt_fit_cases(rng):
    return [Case(label, args, then=(Call("gbdt_predict", (Result(0), test_points(args[0]))),))
            for label, args in _gbdt_inputs(rng)]


def _gbdt_predict_cases(rng):
    return [Case(label, (Call("gbdt_fit", args), test_points(args[0])))
            for label, args in _gbdt_inputs(rng)]


# ---------------------------------------------------------------------------------------------
# Classic mistakes (each returns what the mistaken code gives on the case's inputs)


def _predict_lt(tree, X):
    """tree_predict with x < threshold going left."""
    if "value" in tree:
        return np.full(X.shape[0], tree["value"])
    left = X[:, tree["feature"]] < tree["threshold"]
    return np.where(left, _predict_lt(tree["left"], X), _predict_lt(tree["right"], X))


def _tree_mistake(how):
    """A fit_tree mistake: fn(X, r, max_depth, min_samples_leaf=1) -> predictions on the
    test points, by the reference with ``how(X, r, max_depth, min_samples_leaf)`` -> (tree,
    predict)."""
    def fn(X, r, max_depth, min_samples_leaf=1):
        tree, predict = how(X, r, max_depth, min_samples_leaf)
        return predict(tree, test_points(X))
    return fn


def _boost(X, y, n_estimators, learning_rate, max_depth, init=None, shrink_fit=True,
           shrink_predict=True, update_residuals=True):
    """GBDT with one classic mistake switched on; its predictions on test_points(X)."""
    f0 = float(np.mean(y)) if init is None else init
    f = np.full(len(y), f0)
    points = test_points(X)
    out = np.full(len(points), f0)
    r = y - f
    for _ in range(n_estimators):
        if update_residuals:
            r = y - f
        tree = ref.fit_tree(X, r, max_depth)
        f = f + (learning_rate if shrink_fit else 1.0) * ref.tree_predict(tree, X)
        out = out + (learning_rate if shrink_predict else 1.0) * ref.tree_predict(tree, points)
    return out


def _fitted(call):
    """The reference's tree or model for a ``Call("fit_tree" | "gbdt_fit", ...)`` argument."""
    return getattr(ref, call.function)(*call.args, **call.kwargs)


def _model_predict(call, X, with_init=True, shrink=True):
    model = _fitted(call)
    out = np.full(X.shape[0], model["init"] if with_init else 0.0)
    for tree in model["trees"]:
        out = out + (model["learning_rate"] if shrink else 1.0) * ref.tree_predict(tree, X)
    return out


LESS_THAN = ("a threshold test with < instead of <=: a sample exactly on a threshold goes "
             "left (x <= threshold)")

FUNCTIONS = [
    FunctionSpec(
        name="negative_gradient",
        cases=_negative_gradient_cases,
        outputs=("r",),
        mistakes=(
            Mistake("that is the gradient f - y; the negative gradient of 0.5 (y - f)^2 is the "
                    "residual y - f", lambda y, f: f - y),
        ),
    ),
    FunctionSpec(
        name="fit_tree",
        cases=_fit_tree_cases,
        outputs=("tree_predict(tree, X_test)",),
        rtol=1e-9,
        atol=1e-12,
        mistakes=(
            Mistake(LESS_THAN, _tree_mistake(
                lambda X, r, d, m: (ref.fit_tree(X, r, d, m), _predict_lt))),
            Mistake("min_samples_leaf ignored: a split leaving fewer than min_samples_leaf "
                    "samples on a side is not a candidate", _tree_mistake(
                        lambda X, r, d, m: (ref.fit_tree(X, r, d), ref.tree_predict))),
            Mistake("the tree is one level too deep: max_depth=0 is a single leaf, max_depth=1 "
                    "a single split", _tree_mistake(
                        lambda X, r, d, m: (ref.fit_tree(X, r, d + 1, m), ref.tree_predict))),
            Mistake("the tree is one level too shallow: max_depth=1 is a single split",
                    _tree_mistake(lambda X, r, d, m: (ref.fit_tree(X, r, max(d - 1, 0), m),
                                                      ref.tree_predict))),
        ),
    ),
    FunctionSpec(
        name="tree_predict",
        cases=_tree_predict_cases,
        outputs=("pred",),
        rtol=1e-9,
        atol=1e-12,
        mistakes=(
            Mistake(LESS_THAN, lambda call, X: _predict_lt(_fitted(call), X)),
        ),
    ),
    FunctionSpec(
        name="gbdt_fit",
        cases=_gbdt_fit_cases,
        outputs=("gbdt_predict(model, X_test)",),
        rtol=1e-9,
        atol=1e-12,
        mistakes=(
            Mistake("GBDT without the learning rate: f_m = f_{m-1} + learning_rate * tree_m",
                    lambda *args: _boost(*args, shrink_fit=False, shrink_predict=False)),
            Mistake("the learning rate is applied when predicting but not to the running "
                    "predictions f_m = f_{m-1} + learning_rate * tree_m(x) that the residuals "
                    "come from", lambda *args: _boost(*args, shrink_fit=False)),
            Mistake("the learning rate is used when fitting but not when predicting: "
                    "f_M(x) = f_0 + learning_rate * sum_m tree_m(x)",
                    lambda *args: _boost(*args, shrink_predict=False)),
            Mistake("GBDT starting from 0 instead of the mean: f_0 = mean(y)",
                    lambda *args: _boost(*args, init=0.0)),
            Mistake("the residuals are not updated: tree m fits r_m = y - f_{m-1}, the residuals "
                    "of the model so far", lambda *args: _boost(*args, update_residuals=False)),
        ),
    ),
    FunctionSpec(
        name="gbdt_predict",
        cases=_gbdt_predict_cases,
        outputs=("pred",),
        rtol=1e-9,
        atol=1e-12,
        mistakes=(
            Mistake("GBDT without the learning rate: f_M(x) = f_0 + learning_rate * "
                    "sum_m tree_m(x)", lambda call, X: _model_predict(call, X, shrink=False)),
            Mistake("left out f_0 = mean(y): f_M(x) = f_0 + learning_rate * sum_m tree_m(x)",
                    lambda call, X: _model_predict(call, X, with_init=False)),
        ),
    ),
]
