"""The AdaBoost and GBDT references against independent oracles: brute-force searches written
plainly here, scikit-learn's AdaBoostClassifier (SAMME), DecisionTreeRegressor and
GradientBoostingRegressor, and AdaBoost's own identities (the training-error bound)."""

import numpy as np
import pytest
from sklearn.ensemble import AdaBoostClassifier, GradientBoostingRegressor
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from mlquiz.grading.numeric import numerical_gradient
from mlquiz.grading.references import load_reference

ada = load_reference("adaboost")
gbdt = load_reference("gbdt")


def labels(rng, n):
    y = rng.choice([-1.0, 1.0], size=n)
    y[:2] = [-1.0, 1.0]  # both classes present
    return y


def float32_data(rng, n, d):
    """Continuous data exactly representable in float32 (scikit-learn's trees compare in
    float32), so that its trees and ours see the same values.

    Compared on the training points only: a small node can often be split into the same two
    sets by several features, an exact tie that we break towards the lowest feature and
    scikit-learn at random; the partition, hence every training prediction, is the same, but a
    new point may fall on different sides. The brute-force oracle below covers new points."""
    return rng.normal(size=(n, d)).astype(np.float32).astype(np.float64)


# ---------------------------------------------------------------------------------------------
# AdaBoost


def brute_force_stump(X, y, w):
    """Every feature, every candidate threshold in increasing order, polarity +1 then -1;
    keep a candidate only when it beats the best so far by more than the tie tolerance."""
    total = w.sum()
    best, best_err = None, np.inf
    for j in range(X.shape[1]):
        values = np.unique(X[:, j])
        candidates = [values[0] - 1.0] + [(a + b) / 2 for a, b in zip(values[:-1], values[1:])]
        for t in candidates:
            for polarity in (1, -1):
                pred = np.where(X[:, j] <= t, polarity, -polarity)
                err = w[pred != y].sum()
                if err < best_err - 1e-12 * total:
                    best, best_err = (j, float(t), polarity), err
    return best


@pytest.mark.parametrize("seed", range(8))
def test_fit_stump_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, d = int(rng.integers(1, 25)), int(rng.integers(1, 5))
    if seed % 2:
        X = rng.normal(size=(n, d))
        w = rng.dirichlet(np.ones(n))
    else:  # repeated values, duplicated columns and uniform weights: many exact ties
        X = rng.integers(0, 4, size=(n, d)).astype(float)
        X = np.hstack([X, X[:, :1]])
        w = np.full(n, 1.0 / n)
    y = rng.choice([-1.0, 1.0], size=n)
    stump = ada.fit_stump(X, y, w)
    expected = brute_force_stump(X, y, w)
    assert (int(stump[0]), float(stump[1]), int(stump[2])) == expected


def test_fit_stump_tie_breaks():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    y = np.array([1.0, 1.0, -1.0, -1.0])
    w = np.full(4, 0.25)
    # identical columns: the lowest feature; a perfect split at 1.5 with polarity +1
    assert ada.fit_stump(X, y, w) == (0, 1.5, 1)
    # every stump has error 1/2: feature 0, threshold min - 1, polarity +1
    y = np.array([1.0, -1.0, 1.0, -1.0])
    X = np.array([[0.0], [0.0], [1.0], [1.0]])
    assert ada.fit_stump(X, y, w) == (0, -1.0, 1)
    # one class only: everything on the ``>`` side, predicted -polarity
    assert ada.fit_stump(X, -np.ones(4), w) == (0, -1.0, 1)
    assert ada.fit_stump(X, np.ones(4), w) == (0, -1.0, -1)


def test_stump_predict_threshold_goes_left():
    X = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    np.testing.assert_array_equal(ada.stump_predict((0, 2.0, 1), X), [1, 1, -1])
    np.testing.assert_array_equal(ada.stump_predict((1, 5.0, -1), X), [-1, -1, -1])


def test_formulas_match_sklearn_samme():
    """scikit-learn's SAMME with two classes: its estimator weight is log((1 - e) / e), twice
    the curriculum's alpha, and its re-weighting w exp(2 alpha I(wrong)) / Z equals
    w exp(-alpha y G(x)) / Z. Feed its (Gini) stumps through our formulas round by round."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = np.where(X[:, 0] + 0.8 * X[:, 1] ** 2 - 0.5 + 0.3 * rng.normal(size=80) > 0, 1.0, -1.0)
    clf = AdaBoostClassifier(DecisionTreeClassifier(max_depth=1), n_estimators=12,
                             random_state=0).fit(X, y)
    assert len(clf.estimators_) == 12
    w = np.full(len(y), 1.0 / len(y))
    for m, estimator in enumerate(clf.estimators_):
        pred = estimator.predict(X)
        err = ada.weighted_error(w, y, pred)
        alpha = ada.compute_alpha(err)
        assert err == pytest.approx(clf.estimator_errors_[m], rel=1e-9)
        assert 2 * alpha == pytest.approx(clf.estimator_weights_[m], rel=1e-9)
        w = ada.update_weights(w, alpha, y, pred)


def test_compute_alpha_closed_form_and_clipping():
    assert ada.compute_alpha(0.25) == pytest.approx(0.5 * np.log(3.0), rel=1e-14)
    assert ada.compute_alpha(0.5) == 0.0
    assert ada.compute_alpha(0.0) == pytest.approx(0.5 * np.log((1 - 1e-10) / 1e-10), rel=1e-12)
    # 1 - (1 - 1e-10) keeps only ~7 digits of 1e-10
    assert ada.compute_alpha(1.0) == pytest.approx(-0.5 * np.log((1 - 1e-10) / 1e-10), rel=1e-8)


@pytest.mark.parametrize("seed", range(4))
def test_update_leaves_last_stump_at_one_half(seed):
    """After the update the weights sum to 1 and the stump just used has weighted error 1/2:
    both sides end with weight Z/2 (Li Hang, 8.1)."""
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(30, 2)), labels(rng, 30)
    w = rng.dirichlet(np.ones(30))
    pred = ada.stump_predict(ada.fit_stump(X, y, w), X)
    err = ada.weighted_error(w, y, pred)
    assert 0 < err < 0.5
    new = ada.update_weights(w, ada.compute_alpha(err), y, pred)
    assert new.sum() == pytest.approx(1.0, abs=1e-14)
    assert ada.weighted_error(new, y, pred) == pytest.approx(0.5, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_training_error_bounded_by_product_of_normalisers(seed):
    """(1/N) sum_i I(G(x_i) != y_i) <= (1/N) sum_i exp(-y_i f(x_i)) = prod_m Z_m, with
    Z_m = 2 sqrt(e_m (1 - e_m))."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 3))
    y = np.where(np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] > 0, 1.0, -1.0)
    model = ada.adaboost_fit(X, y, 10)
    assert len(model) == 10
    w = np.full(len(y), 1.0 / len(y))
    product = 1.0
    f = np.zeros(len(y))
    for alpha, stump in model:
        pred = np.where(X[:, stump[0]] <= stump[1], stump[2], -stump[2])
        err = w[pred != y].sum()
        assert alpha == pytest.approx(0.5 * np.log((1 - err) / err), rel=1e-12)
        Z = np.sum(w * np.exp(-alpha * y * pred))
        assert Z == pytest.approx(2 * np.sqrt(err * (1 - err)), rel=1e-12)
        product *= Z
        w = w * np.exp(-alpha * y * pred) / Z
        f += alpha * pred
    assert np.mean(np.exp(-y * f)) == pytest.approx(product, rel=1e-10)
    training_error = np.mean(ada.adaboost_predict(model, X) != y)
    assert training_error <= product
    np.testing.assert_array_equal(ada.adaboost_predict(model, X), np.where(f >= 0, 1, -1))


def test_zero_error_stump_ends_the_fit():
    X = np.array([[0.0, 3.0], [1.0, 1.0], [2.0, 2.0], [3.0, 0.0]])
    y = np.array([-1.0, -1.0, 1.0, 1.0])
    model = ada.adaboost_fit(X, y, 5)
    assert len(model) == 1
    alpha, stump = model[0]
    assert stump == (0, 1.5, -1)
    assert alpha == pytest.approx(0.5 * np.log((1 - 1e-10) / 1e-10), rel=1e-12)
    np.testing.assert_array_equal(ada.adaboost_predict(model, X), y)


def test_adaboost_predict_maps_zero_to_plus_one():
    model = [(0.7, (0, 0.5, 1)), (0.7, (0, 0.5, -1))]  # the two votes cancel everywhere
    np.testing.assert_array_equal(ada.adaboost_predict(model, np.array([[0.0], [1.0]])), [1, 1])


# ---------------------------------------------------------------------------------------------
# GBDT


def test_negative_gradient_is_minus_the_derivative_of_the_loss():
    rng = np.random.default_rng(1)
    y, f = rng.normal(size=6), rng.normal(size=6)
    grad = numerical_gradient(lambda f_: 0.5 * np.sum((y - f_) ** 2), f)
    np.testing.assert_allclose(gbdt.negative_gradient(y, f), -grad, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("max_depth, min_samples_leaf", [(1, 1), (2, 1), (3, 1), (4, 3), (6, 1)])
def test_fit_tree_matches_sklearn(max_depth, min_samples_leaf):
    rng = np.random.default_rng(max_depth)
    X = float32_data(rng, 60, 3)
    r = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] + 0.1 * rng.normal(size=60)
    tree = gbdt.fit_tree(X, r, max_depth, min_samples_leaf)
    sk = DecisionTreeRegressor(max_depth=max_depth, min_samples_leaf=min_samples_leaf,
                               random_state=0).fit(X, r)
    np.testing.assert_allclose(gbdt.tree_predict(tree, X), sk.predict(X), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n_estimators, learning_rate, max_depth", [(5, 0.1, 1), (20, 0.3, 2),
                                                                    (8, 1.0, 3)])
def test_gbdt_matches_sklearn(n_estimators, learning_rate, max_depth):
    rng = np.random.default_rng(n_estimators)
    X = float32_data(rng, 50, 2)
    y = 3.0 + np.sin(3 * X[:, 0]) + X[:, 1] ** 2 + 0.1 * rng.normal(size=50)
    model = gbdt.gbdt_fit(X, y, n_estimators, learning_rate, max_depth)
    # criterion is deprecated (and ignored) in scikit-learn 1.9: its trees are squared_error;
    # the default init is the mean of y
    sk = GradientBoostingRegressor(loss="squared_error", learning_rate=learning_rate,
                                   n_estimators=n_estimators, max_depth=max_depth,
                                   random_state=0).fit(X, y)
    np.testing.assert_allclose(gbdt.gbdt_predict(model, X), sk.predict(X), rtol=1e-9, atol=1e-10)


def brute_force_tree(X, r, depth, max_depth, min_samples_leaf):
    """CART written plainly: try every split, compute both children's squared errors directly,
    keep a split only when it beats the best so far by more than the tie tolerance.
    A leaf is ("leaf", value); a split is (feature, threshold, left, right)."""
    sse = np.sum((r - r.mean()) ** 2)
    if depth == max_depth or np.all(r == r[0]):
        return ("leaf", r.mean())
    best, best_sse = None, np.inf
    for j in range(X.shape[1]):
        values = np.unique(X[:, j])
        for t in (values[:-1] + values[1:]) / 2:
            left = X[:, j] <= t
            if min(left.sum(), (~left).sum()) < min_samples_leaf:
                continue
            children = (np.sum((r[left] - r[left].mean()) ** 2)
                        + np.sum((r[~left] - r[~left].mean()) ** 2))
            if children < best_sse - 1e-12 * sse:
                best, best_sse = (j, t), children
    if best is None or sse - best_sse <= 1e-12 * sse:
        return ("leaf", r.mean())
    j, t = best
    left = X[:, j] <= t
    return (j, t, brute_force_tree(X[left], r[left], depth + 1, max_depth, min_samples_leaf),
            brute_force_tree(X[~left], r[~left], depth + 1, max_depth, min_samples_leaf))


def brute_force_predict(node, x):
    while node[0] != "leaf":
        node = node[2] if x[node[0]] <= node[1] else node[3]
    return node[1]


@pytest.mark.parametrize("seed", range(6))
def test_fit_tree_matches_brute_force_with_ties(seed):
    """Repeated values, a duplicated column and a few distinct targets: ties between features
    and thresholds are decided by the tie-break; tested also exactly on every threshold."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 30))
    X = rng.integers(0, 5, size=(n, 2)).astype(float)
    X = np.hstack([X[:, :1], X])  # column 0 duplicated as column 1
    r = rng.integers(-2, 3, size=n).astype(float)
    max_depth, min_samples_leaf = int(rng.integers(0, 4)), int(rng.integers(1, 4))
    tree = gbdt.fit_tree(X, r, max_depth, min_samples_leaf)
    oracle = brute_force_tree(X, r, 0, max_depth, min_samples_leaf)
    grid = np.arange(-1.0, 5.5, 0.5)  # training values and every midpoint
    X_test = np.stack(np.meshgrid(grid, grid, grid), axis=-1).reshape(-1, 3)
    expected = [brute_force_predict(oracle, x) for x in X_test]
    np.testing.assert_allclose(gbdt.tree_predict(tree, X_test), expected, rtol=1e-12,
                               atol=1e-12)


def test_tree_leaf_conditions():
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    r = np.array([1.0, 2.0, 4.0, 9.0])
    # depth 0: the root is a leaf valued mean(r)
    np.testing.assert_allclose(gbdt.tree_predict(gbdt.fit_tree(X, r, 0), X), np.full(4, 4.0))
    # constant targets: a single leaf at any depth
    np.testing.assert_allclose(gbdt.tree_predict(gbdt.fit_tree(X, np.full(4, 2.5), 5), X), 2.5)
    # unlimited depth: every sample alone in its leaf; a sample on a threshold goes left
    tree = gbdt.fit_tree(X, r, 10)
    np.testing.assert_allclose(gbdt.tree_predict(tree, X), r)
    np.testing.assert_allclose(gbdt.tree_predict(tree, np.array([[2.5], [0.5], [-7.0]])),
                               [4.0, 1.0, 1.0])
    # min_samples_leaf=2: the only split left is 1.5
    np.testing.assert_allclose(gbdt.tree_predict(gbdt.fit_tree(X, r, 10, 2), X),
                               [1.5, 1.5, 6.5, 6.5])
    # a single sample
    np.testing.assert_allclose(gbdt.tree_predict(gbdt.fit_tree(X[:1], r[:1], 3), X), 1.0)


def test_gbdt_starts_from_the_mean_and_shrinks_each_tree():
    """One depth-0 tree fits the mean residual, 0: the model is the mean. One stump with
    learning rate lr moves each side's prediction lr of the way to its mean."""
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    y = np.array([1.0, 1.0, 5.0, 5.0])
    np.testing.assert_allclose(gbdt.gbdt_predict(gbdt.gbdt_fit(X, y, 3, 0.5, 0), X), 3.0)
    model = gbdt.gbdt_fit(X, y, 1, 0.25, 1)
    np.testing.assert_allclose(gbdt.gbdt_predict(model, X), [2.5, 2.5, 3.5, 3.5])


@pytest.mark.parametrize("total", [1.0, 1000.0, 1e-3])
def test_stump_near_ties_within_the_tolerance_go_to_the_lowest_feature(total):
    """Feature 0's best stump errs on sample 2 alone, feature 1's on sample 5 alone, whose
    weight is 1e-14 of the total smaller: a tie (within 1e-12 of the total weight), so
    feature 0 wins; 1e-11 of the total apart is no tie, and feature 1 wins. Without the
    tolerance, or with it not scaled by the total weight, one of the two goes wrong."""
    y = np.array([1.0, 1.0, 1.0, -1.0, -1.0, -1.0])
    X = np.column_stack([[0.0, 1.0, 5.0, 2.0, 3.0, 4.0], [0.0, 1.0, 2.0, 3.0, 4.0, -1.0]])
    for gap, feature in ((1e-14, 0), (1e-11, 1)):
        w = np.array([0.9, 1.1, 0.15, 1.0, 0.95, 0.15]) * total / 4.25
        w[5] = w[2] - gap * total
        assert ada.fit_stump(X, y, w)[0] == feature, (gap, total)
