"""The SVM references (svm_primal, svm_dual) against independent oracles: finite differences and
the subgradient inequality for the hinge objective, the KKT conditions and zero duality gap at
the SMO solution, direct double loops for the kernels and the dual objective, and
scikit-learn's SVC (libsvm) on the same data."""

import time

import numpy as np
import pytest
from sklearn.svm import SVC

from mlquiz.grading.numeric import numerical_gradient
from mlquiz.grading.references import load_reference

primal = load_reference("svm_primal")
dual = load_reference("svm_dual")


# ---------------------------------------------------------------------------------------------
# Problems, and the SVM's quantities written out independently of the references


def linear_problem(rng, n, d, separable, gap=0.4, noise=0.6):
    """X (n, d), y (n,) in {-1, +1}: labels from a random hyperplane; separable data keep a gap
    on each side of it, non-separable labels are flipped by noise."""
    u = rng.normal(size=d)
    u /= np.linalg.norm(u)
    X = rng.normal(size=(n, d))
    s = X @ u + 0.2 * rng.normal()
    if separable:
        X += np.outer(gap * np.sign(s), u)
    else:
        s = s + noise * rng.normal(size=n)
    return X, np.where(s > 0, 1.0, -1.0)


def ring_problem(rng, n):
    X = rng.uniform(-2.5, 2.5, size=(n, 2))
    y = np.where((X**2).sum(1) < 1.3**2, 1.0, -1.0)
    y[rng.random(n) < 0.1] *= -1
    return X, y


def gram(X1, X2, kernel, gamma):
    """The kernel matrix by a double loop over pairs."""
    if kernel == "linear":
        k = lambda a, c: float(np.dot(a, c))  # noqa: E731
    else:
        k = lambda a, c: float(np.exp(-gamma * np.sum((a - c) ** 2)))  # noqa: E731
    return np.array([[k(a, c) for c in X2] for a in X1])


def primal_value(alpha, b, K, y, C):
    """0.5 ||w||^2 + C sum(hinge) in feature space, with w = sum_i alpha_i y_i phi(x_i):
    ||w||^2 = (alpha y)^T K (alpha y) and f(x_i) = (K (alpha y))_i + b."""
    v = alpha * y
    f = K @ v + b
    return 0.5 * v @ K @ v + C * np.maximum(0.0, 1.0 - y * f).sum()


def dual_value(alpha, K, y):
    return alpha.sum() - 0.5 * sum(alpha[i] * alpha[j] * y[i] * y[j] * K[i, j]
                                   for i in range(len(y)) for j in range(len(y)))


def svc(X, y, C, kernel="linear", gamma=1.0):
    """scikit-learn's SVC fitted tightly, and its multipliers as a full alpha (N,)."""
    model = SVC(C=C, kernel=kernel, gamma=gamma, tol=1e-6, shrinking=False).fit(X, y)
    alpha = np.zeros(len(y))
    alpha[model.support_] = np.abs(model.dual_coef_[0])  # dual_coef_ holds alpha_i y_i
    return model, alpha


PROBLEMS = [
    # (label, draw(rng) -> (X, y), C, kernel, gamma)
    ("linear separable C=10", lambda r: linear_problem(r, 40, 2, True), 10.0, "linear", 1.0),
    ("linear noisy C=0.1", lambda r: linear_problem(r, 60, 2, False), 0.1, "linear", 1.0),
    ("linear noisy C=1 D=4", lambda r: linear_problem(r, 50, 4, False), 1.0, "linear", 1.0),
    ("rbf ring C=3 gamma=0.5", lambda r: ring_problem(r, 60), 3.0, "rbf", 0.5),
    ("rbf ring C=10 gamma=1", lambda r: ring_problem(r, 50), 10.0, "rbf", 1.0),
]
PROBLEM_PARAMS = [pytest.param(*p, id=p[0]) for p in PROBLEMS]
LINEAR_PARAMS = [pytest.param(*p, id=p[0]) for p in PROBLEMS if p[3] == "linear"]


# ---------------------------------------------------------------------------------------------
# svm_primal


def test_hinge_objective_by_hand():
    X = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]])
    y = np.array([1.0, -1.0, -1.0])
    w, b, C = np.array([0.5, -1.0]), 0.25, 2.0
    # margins: 1 * (0.5 + 0.25) = 0.75; -1 * (-2 + 0.25) = 1.75; -1 * (0.5 + 0.25) = -0.75
    expected = 0.5 * (0.25 + 1.0) + C * (0.25 + 0.0 + 1.75)
    assert primal.hinge_objective(w, b, X, y, C) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize("seed", range(4))
def test_hinge_subgradient_is_the_gradient_away_from_margin_one(seed):
    rng = np.random.default_rng(seed)
    n, d = 15, 3
    X, y = rng.normal(size=(n, d)), rng.choice([-1.0, 1.0], size=n)
    w, b, C = rng.normal(size=d), float(rng.normal()), float(rng.uniform(0.1, 10))
    assert np.abs(y * (X @ w + b) - 1).min() > 1e-4
    dw, db = primal.hinge_subgradient(w, b, X, y, C)
    numeric = numerical_gradient(lambda t: primal.hinge_objective(t[:-1], t[-1], X, y, C),
                                 np.append(w, b))
    np.testing.assert_allclose(dw, numeric[:-1], rtol=1e-6, atol=1e-6)
    assert db == pytest.approx(numeric[-1], rel=1e-6, abs=1e-6)


def _margin_one_data(rng):
    """Integer data where the first 4 samples have margin exactly 1, the others not."""
    while True:
        w = np.array([1.0, -2.0, 1.0])
        b = 1.0
        X = rng.integers(-3, 4, size=(12, 3)).astype(float)
        y = rng.choice([-1.0, 1.0], size=12)
        for i in range(4):
            X[i, 0] = y[i] - b - X[i, 1:] @ w[1:]
        margins = y * (X @ w + b)
        if (margins[:4] == 1.0).all() and (margins[4:] != 1.0).all() and (margins < 1).any():
            return w, b, X, y, 0.7


@pytest.mark.parametrize("seed", range(3))
def test_hinge_subgradient_takes_zero_at_margin_one(seed):
    """At margin exactly 1 the hinge contributes 0: the result is the gradient of the objective
    without those samples (differentiable there), and a true subgradient of the whole one:
    J(theta') >= J(theta) + g . (theta' - theta) for every theta'."""
    rng = np.random.default_rng(seed)
    w, b, X, y, C = _margin_one_data(rng)
    dw, db = primal.hinge_subgradient(w, b, X, y, C)
    rest = slice(4, None)
    numeric = numerical_gradient(
        lambda t: primal.hinge_objective(t[:-1], t[-1], X[rest], y[rest], C), np.append(w, b))
    np.testing.assert_allclose(dw, numeric[:-1], rtol=1e-6, atol=1e-6)
    assert db == pytest.approx(numeric[-1], rel=1e-6, abs=1e-6)

    theta, g = np.append(w, b), np.append(dw, db)
    value = primal.hinge_objective(w, b, X, y, C)
    for _ in range(200):
        other = theta + rng.normal(scale=rng.choice([1e-3, 1e-1, 1.0]), size=theta.size)
        assert primal.hinge_objective(other[:-1], other[-1], X, y, C) >= (
            value + g @ (other - theta) - 1e-12)


@pytest.mark.parametrize("label, draw, C, kernel, gamma", LINEAR_PARAMS)
def test_fit_primal_reaches_the_optimum_of_svc(label, draw, C, kernel, gamma):
    X, y = draw(np.random.default_rng(11))
    w, b = primal.fit_primal(X, y, C)
    model = SVC(C=C, kernel="linear", tol=1e-8, shrinking=False).fit(X, y)

    def J(w, b):
        return 0.5 * w @ w + C * np.maximum(0.0, 1.0 - y * (X @ w + b)).sum()

    ours, theirs = J(w, b), J(model.coef_[0], model.intercept_[0])
    assert ours <= theirs * (1 + 1e-6)
    assert ours == pytest.approx(theirs, rel=1e-4)
    np.testing.assert_allclose(w, model.coef_[0], rtol=0, atol=1e-3 * (1 + np.abs(w).max()))


def test_fit_primal_large_c_separable_is_hard_margin():
    """Separable data and C = 1e3: the fit separates every point with margin >= 1 (up to the
    solver's tolerance), and at least two points lie on the margin."""
    X, y = linear_problem(np.random.default_rng(5), 40, 2, True, gap=0.5)
    w, b = primal.fit_primal(X, y, 1e3)
    margins = y * (X @ w + b)
    assert margins.min() >= 1 - 1e-6
    assert (np.abs(margins - 1) < 1e-6).sum() >= 2


# ---------------------------------------------------------------------------------------------
# svm_dual: kernels and formulas


def test_kernels_against_a_double_loop():
    rng = np.random.default_rng(0)
    X1, X2 = rng.normal(size=(5, 3)), rng.normal(scale=2.0, size=(7, 3))
    np.testing.assert_allclose(dual.linear_kernel(X1, X2), gram(X1, X2, "linear", None),
                               rtol=1e-13, atol=1e-13)
    for gamma in (0.1, 0.5, 2.0):
        K = dual.rbf_kernel(X1, X2, gamma)
        assert K.shape == (5, 7)
        np.testing.assert_allclose(K, gram(X1, X2, "rbf", gamma), rtol=1e-12, atol=1e-15)
    K = dual.rbf_kernel(X1, X1, 0.7)
    np.testing.assert_allclose(np.diag(K), 1.0, rtol=0, atol=1e-14)
    np.testing.assert_allclose(K, K.T, rtol=0, atol=1e-15)


def test_dual_objective_weights_and_decision_against_loops():
    rng = np.random.default_rng(1)
    X, y = linear_problem(rng, 9, 3, False)
    alpha = rng.uniform(0, 2, size=9)
    K = gram(X, X, "linear", None)
    assert dual.dual_objective(alpha, K, y) == pytest.approx(dual_value(alpha, K, y), rel=1e-12)
    w = dual.weights_from_dual(alpha, X, y)
    np.testing.assert_allclose(w, sum(alpha[i] * y[i] * X[i] for i in range(9)), rtol=1e-12)
    X_test = rng.normal(size=(4, 3))
    K_test = gram(X_test, X, "linear", None)
    f = dual.decision_function(alpha, 0.3, K_test, y)
    np.testing.assert_allclose(f, X_test @ w + 0.3, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("label, draw, C, kernel, gamma", PROBLEM_PARAMS)
def test_formulas_at_the_svc_solution(label, draw, C, kernel, gamma):
    """With libsvm's multipliers: our decision function is SVC's, our bias from the free
    support vectors is its intercept, and (linear kernel) our weights are its coef_."""
    X, y = draw(np.random.default_rng(3))
    model, alpha = svc(X, y, C, kernel, gamma)
    K = gram(X, X, kernel, gamma)
    X_test = np.random.default_rng(4).uniform(-2.5, 2.5, size=(30, X.shape[1]))
    K_test = gram(X_test, X, kernel, gamma)
    b = model.intercept_[0]
    np.testing.assert_allclose(dual.decision_function(alpha, b, K_test, y),
                               model.decision_function(X_test), rtol=1e-10, atol=1e-10)
    free = (alpha > 1e-8) & (alpha < C - 1e-8)
    assert free.any()
    assert dual.bias_from_dual(alpha, K, y, C) == pytest.approx(b, abs=1e-5)
    if kernel == "linear":
        np.testing.assert_allclose(dual.weights_from_dual(alpha, X, y), model.coef_[0],
                                   rtol=1e-10, atol=1e-12)


def test_bias_from_dual_averages_the_free_support_vectors():
    """Two free support vectors asking for different biases: their mean; the bound one and the
    non-support vector do not count, nor one within tol of a bound."""
    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(6, 2)), np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    K = gram(X, X, "linear", None)
    C = 1.0
    alpha = np.array([0.3, 0.6, C, 0.0, 1e-10, C - 1e-10])
    f0 = K @ (alpha * y)
    assert dual.bias_from_dual(alpha, K, y, C) == pytest.approx(
        ((y[0] - f0[0]) + (y[1] - f0[1])) / 2, rel=1e-12)
    assert dual.bias_from_dual(alpha, K, y, C, tol=0.35) == pytest.approx(y[1] - f0[1],
                                                                          rel=1e-12)


def test_no_free_support_vector_gives_the_midpoint():
    """x = +1 (y = +1) and x = -1 (y = -1) with C = 0.1: both multipliers at C, w = 0.2, and
    every b in [-0.8, 0.8] is optimal; by symmetry the midpoint is 0."""
    X, y, C = np.array([[1.0], [-1.0]]), np.array([1.0, -1.0]), 0.1
    alpha, b = dual.smo_fit(X, y, C, tol=1e-12)
    np.testing.assert_array_equal(alpha, [C, C])
    assert b == pytest.approx(0.0, abs=1e-12)
    assert dual.bias_from_dual(alpha, gram(X, X, "linear", None), y, C) == pytest.approx(
        0.0, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# svm_dual: SMO


@pytest.mark.parametrize("label, draw, C, kernel, gamma", PROBLEM_PARAMS)
def test_smo_solution_satisfies_kkt_and_zero_duality_gap(label, draw, C, kernel, gamma):
    X, y = draw(np.random.default_rng(7))
    alpha, b = dual.smo_fit(X, y, C, kernel=kernel, gamma=gamma, tol=1e-9)
    assert alpha.shape == (len(y),)
    assert alpha.min() >= 0 and alpha.max() <= C
    assert abs(alpha @ y) <= 1e-10 * C * len(y)
    K = gram(X, X, kernel, gamma)
    margins = y * (K @ (alpha * y) + b)
    eps = 1e-7
    assert (margins[alpha == 0] >= 1 - eps).all()
    free = (alpha > 0) & (alpha < C)
    assert free.any()
    np.testing.assert_allclose(margins[free], 1.0, rtol=0, atol=eps)
    assert (margins[alpha == C] <= 1 + eps).all()
    # Zero duality gap: the primal objective at (w(alpha), b) equals the dual one.
    assert primal_value(alpha, b, K, y, C) == pytest.approx(dual_value(alpha, K, y), rel=1e-7)


@pytest.mark.parametrize("label, draw, C, kernel, gamma", PROBLEM_PARAMS)
def test_smo_matches_svc(label, draw, C, kernel, gamma):
    X, y = draw(np.random.default_rng(7))
    model, alpha_svc = svc(X, y, C, kernel, gamma)
    K = gram(X, X, kernel, gamma)
    theirs = dual_value(alpha_svc, K, y)
    X_test = np.random.default_rng(8).uniform(-2.5, 2.5, size=(40, X.shape[1]))
    f_svc = model.decision_function(X_test)
    # tol=1e-9, and the default tol=1e-3 against the tolerances smo_fit is graded with
    for tol, close in ((1e-9, 1e-4), (1e-3, 1e-2)):
        alpha, b = dual.smo_fit(X, y, C, kernel=kernel, gamma=gamma, tol=tol)
        ours = dual_value(alpha, K, y)
        assert ours >= theirs * (1 - 1e-4)
        if tol == 1e-9:  # at least as good as libsvm's (tol=1e-6) solution
            assert ours >= theirs * (1 - 1e-12)
        f = gram(X_test, X, kernel, gamma) @ (alpha * y) + b
        np.testing.assert_allclose(f, f_svc, rtol=0, atol=close * (1 + np.abs(f_svc).max()))


@pytest.mark.parametrize("seed", range(3))
def test_smo_finds_the_same_support_vectors_as_svc(seed):
    """Separable data with a wide gap: the support vectors (alpha > 0) are the points on the
    margin, clearly determined; ours and libsvm's are the same set."""
    X, y = linear_problem(np.random.default_rng(seed), 50, 2, True, gap=0.5)
    model, _ = svc(X, y, 10.0)
    alpha, _ = dual.smo_fit(X, y, 10.0, tol=1e-9)
    assert set(np.flatnonzero(alpha > 1e-8)) == set(model.support_)


def test_smo_converges_fast_on_200_points():
    X, y = linear_problem(np.random.default_rng(0), 200, 2, False)
    K = gram(X, X, "linear", None)
    started = time.perf_counter()
    alpha, b = dual.smo_fit(X, y, 1.0)
    seconds = time.perf_counter() - started
    assert seconds < 0.5
    # Converged (the KKT violation is below tol), not stopped by max_iter:
    score = y - K @ (alpha * y)
    up = np.where(y > 0, alpha < 1.0, alpha > 0)
    low = np.where(y > 0, alpha > 0, alpha < 1.0)
    assert score[up].max() - score[low].min() <= 1e-3 + 1e-9


def test_smo_counts_pair_updates():
    X, y = linear_problem(np.random.default_rng(1), 30, 2, False)
    alpha, _ = dual.smo_fit(X, y, 1.0, max_iter=0)
    np.testing.assert_array_equal(alpha, 0.0)
    alpha, _ = dual.smo_fit(X, y, 1.0, max_iter=1)
    assert (alpha != 0).sum() == 2
    assert alpha @ y == pytest.approx(0.0, abs=1e-15)


def test_smo_rejects_an_unknown_kernel():
    X, y = linear_problem(np.random.default_rng(1), 10, 2, False)
    with pytest.raises(ValueError, match="poly"):
        dual.smo_fit(X, y, 1.0, kernel="poly")


def test_smo_does_not_modify_its_inputs():
    X, y = linear_problem(np.random.default_rng(2), 20, 2, False)
    X0, y0 = X.copy(), y.copy()
    dual.smo_fit(X, y, 1.0, kernel="rbf")
    primal.fit_primal(X, y, 1.0)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
