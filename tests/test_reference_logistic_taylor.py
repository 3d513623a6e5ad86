"""The logistic_regression and taylor references against independent oracles: finite
differences, closed forms, scikit-learn, the Lagrange remainder, dense grids. Never the
reference against itself."""

import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from mlquiz.grading.numeric import numerical_gradient
from mlquiz.grading.references import load_reference

lr = load_reference("logistic_regression")
ty = load_reference("taylor")


def _problem(seed, n=40, d=3):
    """A non-separable problem with a bias column: labels drawn from a logistic model."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, d - 1))])
    p = 1 / (1 + np.exp(-(X @ rng.normal(size=d))))  # moderate logits: no overflow
    y = (rng.random(n) < p).astype(float)
    return rng, X, y


# ---------------------------------------------------------------------------------------------
# logistic regression: closed forms


def test_sigmoid_closed_forms():
    z = np.array([0.0, math.log(3.0), -math.log(3.0), math.log(9.0)])
    np.testing.assert_allclose(lr.sigmoid(z), [0.5, 0.75, 0.25, 0.9], rtol=1e-15)
    np.testing.assert_allclose(lr.sigmoid_grad(z), [0.25, 0.1875, 0.1875, 0.09], rtol=1e-14)


def test_sigmoid_extreme_logits_without_warnings():
    z = np.array([-1e3, -745.5, -710.0, -37.0, 0.0, 37.0, 710.0, 1e3])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        g = lr.sigmoid(z)
        dg = lr.sigmoid_grad(z)
    assert g[0] == 0.0 and g[-1] == 1.0 and g[4] == 0.5
    # g(-z) = e^{-z} / (1 + e^{-z}) ~ e^{-|z|} there, to full relative precision
    np.testing.assert_allclose(g[2:4], [math.exp(-710.0), math.exp(-37.0) / (1 + math.exp(-37.0))],
                               rtol=1e-14)
    np.testing.assert_allclose(g + lr.sigmoid(-z), 1.0, rtol=1e-15)  # g(-z) = 1 - g(z)
    # g'(z) = e^{-|z|} / (1 + e^{-|z|})^2, in relative terms even where 1 - g(z) would cancel
    e = np.exp(-np.abs(z[1:-1]))
    np.testing.assert_allclose(dg[1:-1], e / (1 + e) ** 2, rtol=1e-14)
    assert dg[0] == 0.0 and dg[-1] == 0.0


def test_sigmoid_keeps_shape():
    z = np.random.default_rng(0).normal(size=(3, 4))
    assert lr.sigmoid(z).shape == (3, 4)
    assert lr.sigmoid_grad(z).shape == (3, 4)
    np.testing.assert_allclose(lr.sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-15)


def test_log_likelihood_and_gradient_at_zero():
    _, X, y = _problem(1, n=9)
    theta = np.zeros(3)
    assert lr.log_likelihood(theta, X, y) == pytest.approx(9 * math.log(0.5), rel=1e-15)
    np.testing.assert_allclose(lr.predict_proba(theta, X), np.full(9, 0.5))
    np.testing.assert_allclose(lr.gradient(theta, X, y), X.T @ (y - 0.5), rtol=1e-14)


def test_log_likelihood_matches_the_direct_formula():
    rng, X, y = _problem(2, n=15)
    theta = rng.normal(size=3)
    h = 1 / (1 + np.exp(-(X @ theta)))
    direct = np.sum(y * np.log(h) + (1 - y) * np.log(1 - h))
    assert lr.log_likelihood(theta, X, y) == pytest.approx(direct, rel=1e-12)


def test_log_likelihood_finite_at_extreme_logits():
    X = np.array([[1e3], [1e3], [-1e3], [-1e3], [0.0]])
    y = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        value = lr.log_likelihood(np.array([1.0]), X, y)
    # right labels cost e^{-1000} ~ 0, each wrong one costs 1000, the logit 0 costs log 2
    assert value == pytest.approx(-2000.0 - math.log(2.0), rel=1e-15)


def test_gradient_is_the_finite_difference_of_the_log_likelihood():
    for seed in range(3):
        rng, X, y = _problem(seed, n=12, d=4)
        theta = rng.normal(size=4)
        numeric = numerical_gradient(lambda t: lr.log_likelihood(t, X, y), theta)
        np.testing.assert_allclose(lr.gradient(theta, X, y), numeric, rtol=1e-7, atol=1e-7)


def test_sigmoid_grad_is_the_finite_difference_of_the_sigmoid():
    z = np.random.default_rng(3).normal(scale=4.0, size=10)
    numeric = np.array([numerical_gradient(lambda t: float(lr.sigmoid(t)), np.array(v)) for v in z])
    np.testing.assert_allclose(lr.sigmoid_grad(z), numeric, rtol=1e-7, atol=1e-10)


def test_gradient_ascent_step_climbs_the_log_likelihood():
    rng, X, y = _problem(4)
    theta = rng.normal(size=3)
    g = X.T @ (y - 1 / (1 + np.exp(-(X @ theta))))
    new = lr.gradient_ascent_step(theta, X, y, 1e-3)
    np.testing.assert_allclose(new, theta + 1e-3 * g, rtol=1e-13)
    assert lr.log_likelihood(new, X, y) > lr.log_likelihood(theta, X, y)


def test_fit_small_cases():
    _, X, y = _problem(5, n=6)
    np.testing.assert_array_equal(lr.fit(X, y, n_iter=0), np.zeros(3))
    # one step from 0: h = 1/2 everywhere
    np.testing.assert_allclose(lr.fit(X, y, lr=0.3, n_iter=1), 0.3 * X.T @ (y - 0.5) / 6,
                               rtol=1e-14)
    # two steps, written out
    t1 = 0.3 * X.T @ (y - 0.5) / 6
    t2 = t1 + 0.3 * X.T @ (y - 1 / (1 + np.exp(-(X @ t1)))) / 6
    np.testing.assert_allclose(lr.fit(X, y, lr=0.3, n_iter=2), t2, rtol=1e-13)


def test_fit_does_not_modify_its_inputs():
    _, X, y = _problem(6, n=5)
    X0, y0 = X.copy(), y.copy()
    lr.fit(X, y, n_iter=3)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_fit_converges_to_scikit_learns_maximum_likelihood():
    _, X, y = _problem(7, n=200, d=3)
    assert 0 < y.mean() < 1
    theta = lr.fit(X, y, lr=4.0, n_iter=3000)
    # the gradient vanishes at the fit
    np.testing.assert_allclose(lr.gradient(theta, X, y) / len(y), 0.0, atol=1e-10)
    # scikit-learn, unpenalised (C = inf), the bias already a column of X
    gold = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=10_000)
    gold.fit(X, y)
    np.testing.assert_allclose(theta, gold.coef_.ravel(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# taylor


def test_taylor_polynomial_of_exp_within_the_lagrange_remainder():
    x0 = 0.3
    x = x0 + np.linspace(-1.0, 1.0, 21)
    for order in (1, 3, 6):
        approx = ty.taylor_polynomial([math.exp(x0)] * (order + 1), x0, x)
        assert approx.shape == x.shape
        error = np.exp(x) - approx
        dx = np.abs(x - x0)
        bound = np.exp(np.maximum(x, x0)) * dx ** (order + 1) / math.factorial(order + 1)
        assert np.all(np.abs(error) <= bound * (1 + 1e-9) + 1e-15)
        # every derivative of exp is positive: beyond x0 the polynomial falls short by at least
        right = x > x0
        lower = math.exp(x0) * dx[right] ** (order + 1) / math.factorial(order + 1)
        assert np.all(error[right] >= lower * (1 - 1e-9) - 1e-15)


def test_taylor_polynomial_of_sin_within_the_lagrange_remainder():
    x0 = 1.1
    x = x0 + np.linspace(-1.5, 1.5, 13).reshape(13, 1) * np.ones((1, 2))
    for order in (2, 5, 9):
        derivs = [[math.sin(x0), math.cos(x0), -math.sin(x0), -math.cos(x0)][k % 4]
                  for k in range(order + 1)]
        approx = ty.taylor_polynomial(derivs, x0, x)
        assert approx.shape == (13, 2)
        bound = np.abs(x - x0) ** (order + 1) / math.factorial(order + 1)
        assert np.all(np.abs(np.sin(x) - approx) <= bound + 1e-15)


def test_taylor_polynomial_scalar_and_exact_points():
    value = ty.taylor_polynomial([1.0, 2.0, 6.0], 1.0, 3.0)  # 1 + 2*2 + 6*4/2
    assert np.ndim(value) == 0
    assert value == 17.0
    assert ty.taylor_polynomial([4.0, -1.0, 9.0], 2.0, 2.0) == 4.0  # at x0: f(x0)
    np.testing.assert_array_equal(ty.taylor_polynomial([2.5], 0.0, np.zeros((2, 3))),
                                  np.full((2, 3), 2.5))
    # a cubic equals its own third-order expansion anywhere: p(x) = x^3 - 2x at x0 = -1
    x = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(ty.taylor_polynomial([1.0, 1.0, -6.0, 6.0], -1.0, x),
                               x**3 - 2 * x, rtol=1e-13, atol=1e-13)


def _squared_loss(y, y_pred):
    return 0.5 * (y - y_pred) ** 2


def _logistic_loss(y, y_pred):
    # -(y log p + (1 - y) log(1 - p)) with p = 1 / (1 + e^{-yhat}), written independently
    return np.logaddexp(0.0, y_pred) - y * y_pred


@pytest.mark.parametrize("loss, loss_fn", [("squared", _squared_loss),
                                           ("logistic", _logistic_loss)])
def test_grad_hess_against_finite_differences(loss, loss_fn):
    rng = np.random.default_rng(8)
    y = (rng.random(9) < 0.5).astype(float) if loss == "logistic" else rng.normal(size=9)
    y_pred = rng.normal(scale=2.0, size=9)
    g, h = ty.grad_hess(y, y_pred, loss)
    assert g.shape == h.shape == (9,)
    # g: differences of the summed loss (each loss depends only on its own prediction)
    numeric_g = numerical_gradient(lambda p: loss_fn(y, p).sum(), y_pred)
    np.testing.assert_allclose(g, numeric_g, rtol=1e-7, atol=1e-8)
    # h: differences of the first derivative, and second differences of the loss itself
    numeric_h = numerical_gradient(lambda p: ty.grad_hess(y, p, loss)[0].sum(), y_pred)
    np.testing.assert_allclose(h, numeric_h, rtol=1e-7, atol=1e-8)
    e = 1e-4
    second = (loss_fn(y, y_pred + e) - 2 * loss_fn(y, y_pred) + loss_fn(y, y_pred - e)) / e**2
    np.testing.assert_allclose(h, second, rtol=1e-5, atol=1e-6)
    # the second-order expansion of the loss is exact to O(step^3)
    step = 1e-3
    expansion = loss_fn(y, y_pred) + g * step + 0.5 * h * step**2
    assert np.all(np.abs(loss_fn(y, y_pred + step) - expansion) < 1e-9)


def test_grad_hess_logistic_extreme_logits_and_closed_forms():
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    z = np.array([-1e3, -1e3, 0.0, 1e3, 1e3])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        g, h = ty.grad_hess(y, z, "logistic")
    np.testing.assert_array_equal(g, [0.0, -1.0, -0.5, 1.0, 0.0])
    np.testing.assert_array_equal(h, [0.0, 0.0, 0.25, 0.0, 0.0])
    g, h = ty.grad_hess(np.array([2.0]), np.array([0.5]), "squared")
    np.testing.assert_array_equal(g, [-1.5])
    np.testing.assert_array_equal(h, [1.0])


def test_grad_hess_rejects_an_unknown_loss():
    with pytest.raises(ValueError):
        ty.grad_hess(np.zeros(2), np.zeros(2), "hinge")


def _grid_minimum(G, H, lam):
    """Minimise G w + 0.5 (H + lam) w^2 on a dense grid. Returns (argmin, min, spacing, slack):
    the true minimum lies in [min - slack, min], slack = 0.5 (H + lam) spacing^2."""
    half_width = 3 * (abs(G) + 1.0)  # |w*| = |G| / (H + lam) < |G| + 1 when H + lam >= 1/2
    w = np.linspace(-half_width, half_width, 600_001)
    objective = G * w + 0.5 * (H + lam) * w**2
    i = int(np.argmin(objective))
    spacing = w[1] - w[0]
    return w[i], objective[i], spacing, 0.5 * (H + lam) * spacing**2 + 1e-12


def test_leaf_weight_minimises_the_leaf_objective_on_a_grid():
    rng = np.random.default_rng(9)
    G = np.append(rng.normal(scale=3.0, size=4), 0.0)
    H = rng.uniform(0.5, 5.0, size=5)
    for lam in (0.0, 1.0):
        w = ty.leaf_weight(G, H, lam)
        assert w.shape == (5,)
        for j in range(5):
            w_grid, _, spacing, _ = _grid_minimum(G[j], H[j], lam)
            assert abs(w[j] - w_grid) <= spacing
    assert ty.leaf_weight(0.0, 2.0, 1.0) == 0.0
    assert ty.leaf_weight(3.0, 2.0, 1.0) == pytest.approx(-1.0)


def test_structure_score_is_the_sum_of_the_minimised_leaf_objectives_plus_gamma_t():
    rng = np.random.default_rng(10)
    G = rng.normal(scale=3.0, size=4)
    H = rng.uniform(0.5, 5.0, size=4)
    lam, gamma = 0.7, 0.4
    minima = [_grid_minimum(G[j], H[j], lam) for j in range(4)]
    by_grid = sum(m[1] for m in minima) + gamma * 4
    slack = sum(m[3] for m in minima)
    score = ty.structure_score(G, H, lam, gamma)
    assert np.ndim(score) == 0
    assert by_grid - slack <= score <= by_grid + 1e-12
    assert ty.structure_score(np.zeros(3), np.ones(3), 1.0, 0.0) == 0.0
    assert ty.structure_score(np.array([2.0]), np.array([1.0]), 1.0, 3.0) == pytest.approx(2.0)


def test_split_gain_is_parent_score_minus_children_scores():
    rng = np.random.default_rng(11)
    for _ in range(5):
        GL, GR = rng.normal(scale=3.0, size=2)
        HL, HR = rng.uniform(0.5, 5.0, size=2)
        lam, gamma = float(rng.uniform(0, 2)), float(rng.uniform(0, 1))
        # each score from its leaves' grid-minimised objectives, independently of the reference
        leaves = [_grid_minimum(GL + GR, HL + HR, lam), _grid_minimum(GL, HL, lam),
                  _grid_minimum(GR, HR, lam)]
        parent = leaves[0][1] + gamma
        children = leaves[1][1] + leaves[2][1] + 2 * gamma
        gain = ty.split_gain(GL, HL, GR, HR, lam, gamma)
        assert gain == pytest.approx(parent - children, abs=sum(m[3] for m in leaves))
    assert ty.split_gain(0.0, 1.0, 0.0, 2.0, 1.0, 0.0) == 0.0
    # a pure split (G's of opposite signs) with no penalties: 0.5 (1/1 + 1/1 - 0) = 1
    assert ty.split_gain(1.0, 1.0, -1.0, 1.0, 0.0, 0.0) == pytest.approx(1.0)
    assert ty.split_gain(1.0, 1.0, -1.0, 1.0, 0.0, 1.5) == pytest.approx(-0.5)
