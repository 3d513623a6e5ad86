"""The references of l2, l1 and priors against independent oracles: finite differences, closed
forms written out here, optimality conditions, scikit-learn's Ridge and Lasso, and the MAP
objective built from densities written out here. Never a reference against itself."""

import math

import numpy as np
import pytest
from sklearn.linear_model import Lasso, Ridge

from mlquiz.grading.numeric import numerical_gradient
from mlquiz.grading.references import load_reference

l2 = load_reference("l2")
l1 = load_reference("l1")
priors = load_reference("priors")

SHAPES = [(1,), (7,), (3, 4)]


def regression(rng, n, d, noise=0.3):
    X = rng.normal(size=(n, d))
    w_true = rng.normal(size=d) * (rng.random(d) < 0.7)
    return X, X @ w_true + noise * rng.normal(size=n)


def ridge_objective(X, y, lam, w):
    return 0.5 * np.sum((y - X @ w) ** 2) + 0.5 * lam * np.sum(w**2)


def lasso_objective(X, y, lam, w):
    return 0.5 * np.sum((y - X @ w) ** 2) + lam * np.sum(np.abs(w))


# ---------------------------------------------------------------------------------------------
# l2


def test_l2_penalty_known_values():
    assert l2.l2_penalty(np.array([3.0, 4.0]), 2.0) == pytest.approx(25.0)
    assert l2.l2_penalty(np.array([[1.0, -1.0], [2.0, 0.0]]), 0.5) == pytest.approx(1.5)
    assert l2.l2_penalty(np.array([5.0]), 0.0) == 0.0


@pytest.mark.parametrize("shape", SHAPES)
def test_l2_penalty_is_half_lam_squared_norm(shape):
    rng = np.random.default_rng(1)
    w, lam = rng.normal(size=shape), 0.7
    expected = 0.5 * lam * sum(v * v for v in w.ravel().tolist())
    assert l2.l2_penalty(w, lam) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_l2_grad_matches_finite_differences(shape, scale):
    rng = np.random.default_rng(2)
    w, lam = rng.normal(scale=scale, size=shape), 1.3
    numeric = numerical_gradient(lambda v: 0.5 * lam * np.sum(v**2), w, h=1e-6 * scale)
    np.testing.assert_allclose(l2.l2_grad(w, lam), numeric, rtol=1e-6, atol=1e-9 * scale)
    # and against the reference's own penalty
    numeric = numerical_gradient(lambda v: l2.l2_penalty(v, lam), w, h=1e-6 * scale)
    np.testing.assert_allclose(l2.l2_grad(w, lam), numeric, rtol=1e-6, atol=1e-9 * scale)


def test_weight_decay_step_is_a_descent_step_on_loss_plus_penalty():
    """The step on L(w) + lam/2 ||w||^2 with L(w) = 0.5 ||A w - b||^2, its full gradient taken
    by finite differences."""
    rng = np.random.default_rng(3)
    A, b = rng.normal(size=(6, 4)), rng.normal(size=6)
    w, lr, lam = rng.normal(size=4), 0.05, 0.8
    loss_grad = A.T @ (A @ w - b)
    full = numerical_gradient(lambda v: 0.5 * np.sum((A @ v - b) ** 2) + 0.5 * lam * v @ v, w)
    w_before = w.copy()
    step = l2.weight_decay_step(w, loss_grad, lr, lam)
    np.testing.assert_allclose(step, w - lr * full, rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(w, w_before)


def test_weight_decay_step_shrinks_without_a_loss_gradient():
    w = np.array([2.0, -4.0, 0.0])
    np.testing.assert_allclose(l2.weight_decay_step(w, np.zeros(3), 0.1, 0.5), 0.95 * w)


@pytest.mark.parametrize("n, d, lam", [(30, 5, 1.0), (8, 12, 0.3), (10, 1, 5.0), (25, 4, 1e-3)])
def test_ridge_fit_matches_scikit_learn(n, d, lam):
    """scikit-learn's Ridge minimises ||y - X w||^2 + alpha ||w||^2: twice our objective with
    alpha = lam, so the same minimiser."""
    rng = np.random.default_rng(4)
    X, y = regression(rng, n, d)
    w = l2.ridge_fit(X, y, lam)
    gold = Ridge(alpha=lam, fit_intercept=False, solver="svd").fit(X, y).coef_
    assert w.shape == (d,)
    np.testing.assert_allclose(w, gold, rtol=1e-8, atol=1e-10)
    assert ridge_objective(X, y, lam, w) <= ridge_objective(X, y, lam, gold) * (1 + 1e-12)


def test_ridge_fit_is_stationary_and_a_minimum():
    rng = np.random.default_rng(5)
    X, y = regression(rng, 20, 6)
    lam = 0.7
    w = l2.ridge_fit(X, y, lam)
    numeric = numerical_gradient(lambda v: ridge_objective(X, y, lam, v), w)
    np.testing.assert_allclose(numeric, 0.0, atol=1e-6)
    best = ridge_objective(X, y, lam, w)
    for _ in range(20):
        assert ridge_objective(X, y, lam, w + 1e-3 * rng.normal(size=6)) > best


# ---------------------------------------------------------------------------------------------
# l1


def test_l1_penalty_known_values():
    assert l1.l1_penalty(np.array([3.0, -4.0, 0.0]), 2.0) == pytest.approx(14.0)
    assert l1.l1_penalty(np.array([[1.0, -1.0], [-2.5, 0.0]]), 0.5) == pytest.approx(2.25)


@pytest.mark.parametrize("shape", SHAPES)
def test_l1_subgradient_matches_finite_differences_away_from_zero(shape):
    rng = np.random.default_rng(6)
    w, lam = rng.normal(size=shape), 0.9
    w[np.abs(w) < 1e-3] = 0.5  # away from the kink
    numeric = numerical_gradient(lambda v: lam * np.sum(np.abs(v)), w)
    np.testing.assert_allclose(l1.l1_subgradient(w, lam), numeric, rtol=1e-8, atol=1e-10)


def test_l1_subgradient_is_exactly_zero_at_zero_and_lam_at_tiny_weights():
    w = np.array([0.0, -0.0, 1e-300, -1e-12, 5.0])
    got = l1.l1_subgradient(w, 2.0)
    assert got.tolist() == [0.0, 0.0, 2.0, -2.0, 2.0]


def test_l1_subgradient_satisfies_the_subgradient_inequality():
    """g is a subgradient of f = lam ||.||_1 at w: f(v) >= f(w) + g . (v - w) for every v."""
    rng = np.random.default_rng(7)
    lam = 1.7
    w = rng.normal(size=9)
    w[[1, 4, 6]] = 0.0
    g = l1.l1_subgradient(w, lam)

    def f(v):
        return lam * np.sum(np.abs(v))

    for _ in range(200):
        v = w + rng.normal(size=9) * rng.choice([1e-3, 1.0, 10.0])
        assert f(v) >= f(w) + g @ (v - w) - 1e-12


def test_soft_threshold_known_values_and_exact_zeros():
    t = 0.5
    w = np.array([0.5, -0.5, 0.0, 0.2, -0.3, 1.75, -2.5, 0.5 + 2**-20])
    got = l1.soft_threshold(w, t)
    np.testing.assert_array_equal(got[:5], 0.0)
    np.testing.assert_allclose(got[5:], [1.25, -2.0, 2**-20], rtol=1e-15)


@pytest.mark.parametrize("t", [0.0, 0.3, 2.0])
def test_soft_threshold_minimises_the_proximal_objective(t):
    """S_t(w) minimises 0.5 (u - w)^2 + t |u|: compare with a brute-force search on a grid."""
    rng = np.random.default_rng(8)
    w = rng.uniform(-3, 3, size=(2, 5))
    grid = np.linspace(-4, 4, 80001)  # step 1e-4
    u = l1.soft_threshold(w, t)
    assert u.shape == w.shape
    for wi, ui in zip(w.ravel(), u.ravel()):
        objective = 0.5 * (grid - wi) ** 2 + t * np.abs(grid)
        assert 0.5 * (ui - wi) ** 2 + t * abs(ui) <= objective.min() + 1e-12
        assert abs(ui - grid[objective.argmin()]) <= 1e-4


def _lasso_problem(rng, n, d, frac):
    X, y = regression(rng, n, d, noise=0.1)
    return X, y, frac * np.abs(X.T @ y).max()


LASSO_PROBLEMS = [(20, 5, 0.1), (40, 8, 0.05), (10, 1, 0.3), (60, 15, 0.02), (12, 12, 0.2)]


@pytest.mark.parametrize("n, d, frac", LASSO_PROBLEMS)
def test_lasso_fit_satisfies_the_optimality_conditions(n, d, frac):
    """0 is in the subdifferential: X_j^T r = lam sign(w_j) where w_j != 0, and
    |X_j^T r| <= lam where w_j = 0 (r = y - X w)."""
    rng = np.random.default_rng(9)
    X, y, lam = _lasso_problem(rng, n, d, frac)
    w = l1.lasso_fit(X, y, lam)
    assert w.shape == (d,)
    correlation = X.T @ (y - X @ w)
    active = w != 0
    assert active.any()
    tol = 1e-9 * lam
    np.testing.assert_allclose(correlation[active], lam * np.sign(w[active]), rtol=0, atol=tol)
    assert np.all(np.abs(correlation[~active]) <= lam + tol)


@pytest.mark.parametrize("n, d, frac", LASSO_PROBLEMS)
def test_lasso_fit_matches_scikit_learn_objective(n, d, frac):
    """scikit-learn's Lasso minimises (1 / (2N)) ||y - X w||^2 + alpha ||w||_1: ours divided by
    N with alpha = lam / N."""
    rng = np.random.default_rng(10)
    X, y, lam = _lasso_problem(rng, n, d, frac)
    w = l1.lasso_fit(X, y, lam)
    gold = Lasso(alpha=lam / n, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(X, y).coef_
    ours, theirs = lasso_objective(X, y, lam, w), lasso_objective(X, y, lam, gold)
    assert ours <= theirs * (1 + 1e-12)
    assert (ours - theirs) / theirs > -1e-9  # scikit-learn is as good: both at the optimum
    np.testing.assert_allclose(w, gold, rtol=1e-6, atol=1e-8)


def test_lasso_fit_is_zero_when_lam_exceeds_every_correlation():
    rng = np.random.default_rng(11)
    X, y = regression(rng, 15, 4)
    w = l1.lasso_fit(X, y, 1.01 * np.abs(X.T @ y).max())
    np.testing.assert_array_equal(w, 0.0)


def test_lasso_fit_without_penalty_is_least_squares():
    rng = np.random.default_rng(12)
    X, y = regression(rng, 30, 4)
    np.testing.assert_allclose(l1.lasso_fit(X, y, 0.0), np.linalg.lstsq(X, y, rcond=None)[0],
                               rtol=1e-9, atol=1e-11)


def test_lasso_fit_honours_n_iter():
    """n_iter counts full passes from w = 0: the objective can only go down with more passes,
    and one pass is not yet the optimum."""
    rng = np.random.default_rng(13)
    X, y = regression(rng, 30, 6)
    X[:, 1] = X[:, 0] + 0.3 * X[:, 1]  # correlated columns: several passes are needed
    lam = 0.05 * np.abs(X.T @ y).max()
    values = [lasso_objective(X, y, lam, l1.lasso_fit(X, y, lam, n_iter=k))
              for k in (0, 1, 2, 5, 1000)]
    assert values[0] == pytest.approx(0.5 * y @ y)  # no pass: w = 0
    assert all(a >= b - 1e-12 for a, b in zip(values, values[1:]))
    assert values[1] > values[-1] * (1 + 1e-6)


# ---------------------------------------------------------------------------------------------
# priors


def gaussian_log_density(x, sigma):
    return math.log(math.exp(-x * x / (2 * sigma * sigma)) / math.sqrt(2 * math.pi * sigma**2))


def laplace_log_density(x, b):
    return math.log(math.exp(-abs(x) / b) / (2 * b))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("scale", [0.05, 1.3, 40.0])
def test_neg_log_priors_are_minus_sum_of_log_densities(shape, scale):
    rng = np.random.default_rng(14)
    w = rng.normal(scale=scale, size=shape)
    gaussian = -sum(gaussian_log_density(x, scale) for x in w.ravel().tolist())
    laplace = -sum(laplace_log_density(x, scale) for x in w.ravel().tolist())
    assert priors.gaussian_neg_log_prior(w, scale) == pytest.approx(gaussian, rel=1e-12)
    assert priors.laplace_neg_log_prior(w, scale) == pytest.approx(laplace, rel=1e-12)


def test_neg_log_priors_integrate_to_one():
    """exp(-neg_log_prior) of one weight is a probability density: it integrates to 1."""
    grid = np.linspace(-60, 60, 240001)
    step = grid[1] - grid[0]
    for scale in (0.7, 2.0):
        for neg_log in (priors.gaussian_neg_log_prior, priors.laplace_neg_log_prior):
            density = np.exp([-neg_log(np.array([x]), scale) for x in grid[::10]])
            assert np.sum(density) * step * 10 == pytest.approx(1.0, rel=1e-4)


def neg_log_likelihood(X, y, w, noise_var):
    """-log prod_i N(y_i; x_i . w, noise_var), the Gaussian density written out."""
    r = y - X @ w
    return float(np.sum(r**2) / (2 * noise_var) + len(y) / 2 * math.log(2 * math.pi * noise_var))


def test_lambda_known_values():
    assert priors.ridge_lambda_from_prior(0.5, 2.0) == pytest.approx(0.125)
    assert priors.lasso_lambda_from_prior(0.5, 2.0) == pytest.approx(0.25)


@pytest.mark.parametrize("noise_var, sigma", [(0.25, 2.0), (4.0, 0.5), (1e-2, 0.3)])
def test_ridge_with_prior_lambda_is_the_map_estimate(noise_var, sigma):
    """The MAP objective NLL + Gaussian neg log prior has zero gradient at ridge's solution
    (finite differences), and is larger anywhere near it."""
    rng = np.random.default_rng(15)
    X, y = regression(rng, 25, 5)
    lam = priors.ridge_lambda_from_prior(noise_var, sigma)
    w = l2.ridge_fit(X, y, lam)

    def map_objective(v):
        return neg_log_likelihood(X, y, v, noise_var) - sum(
            gaussian_log_density(x, sigma) for x in v.tolist())

    gradient = numerical_gradient(map_objective, w, h=1e-5)
    scale = np.abs(X.T @ y).max() / noise_var
    np.testing.assert_allclose(gradient, 0.0, atol=1e-7 * scale)
    best = map_objective(w)
    for _ in range(10):
        assert map_objective(w + 1e-3 * rng.normal(size=5)) > best


@pytest.mark.parametrize("noise_var, b", [(0.25, 0.5), (2.0, 0.8), (1e-2, 0.05)])
def test_lasso_with_prior_lambda_is_the_map_estimate(noise_var, b):
    """The MAP objective NLL + Laplace neg log prior equals, up to a constant, the lasso
    objective divided by noise_var; the lasso's solution with lam = noise_var / b minimises it
    (no perturbation, no other solver's answer does better)."""
    rng = np.random.default_rng(16)
    X, y = regression(rng, 25, 5)
    lam = priors.lasso_lambda_from_prior(noise_var, b)
    w = l1.lasso_fit(X, y, lam)

    def map_objective(v):
        return neg_log_likelihood(X, y, v, noise_var) - sum(
            laplace_log_density(x, b) for x in v.tolist())

    # The ratio: (MAP(v) - MAP(u)) * noise_var = lasso(v) - lasso(u) for any v, u.
    u, v = rng.normal(size=5), rng.normal(size=5)
    assert (map_objective(v) - map_objective(u)) * noise_var == pytest.approx(
        lasso_objective(X, y, lam, v) - lasso_objective(X, y, lam, u), rel=1e-9)
    best = map_objective(w)
    for _ in range(30):
        assert map_objective(w + 1e-3 * rng.normal(size=5)) >= best
    gold = Lasso(alpha=lam / 25, fit_intercept=False, tol=1e-14, max_iter=100_000).fit(X, y).coef_
    assert best <= map_objective(gold) + 1e-9 * abs(best)
