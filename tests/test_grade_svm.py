"""Grading the svm_primal and svm_dual exercises end to end: the references pass, the stubs are
not implemented, and a reference with one deliberate mistake fails exactly the functions the
mistake reaches, with the right explanation."""

import pytest

from mlquiz.curriculum import get_exercise
from conftest import failing, mutant
from mlquiz.grading.engine import grade_file

PRIMAL = get_exercise("svm_primal")
DUAL = get_exercise("svm_dual")


def _grade(path, seed=0):
    return grade_file(path, seed=seed)


@pytest.mark.parametrize("exercise", [PRIMAL, DUAL], ids=lambda e: e.id)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_passes(exercise, seed):
    report = _grade(exercise.reference_path, seed)
    assert report.seed == seed
    assert [f.name for f in report.functions] == list(exercise.functions)
    explanations = {f.name: f.explanation for f in report.functions if f.verdict != "pass"}
    assert report.passed, explanations


@pytest.mark.parametrize("exercise", [PRIMAL, DUAL], ids=lambda e: e.id)
def test_stub_is_not_implemented(exercise):
    report = _grade(exercise.stub_path)
    assert not report.passed
    assert [f.name for f in report.functions] == list(exercise.functions)
    assert {f.verdict for f in report.functions} == {"not_implemented"}


# ---------------------------------------------------------------------------------------------
# svm_primal


def test_subgradient_counting_margin_one_fails(tmp_path):
    path = mutant(tmp_path, PRIMAL, "active = y * (X @ w + b) < 1.0",
                   "active = y * (X @ w + b) <= 1.0")
    report = _grade(path)
    assert failing(report) == {"hinge_subgradient"}
    explanation = report.function("hinge_subgradient").explanation
    assert "margin exactly 1" in explanation  # the case, and the classic mistake
    assert "looks like a classic mistake: counted the samples with margin exactly 1" in explanation


def test_subgradient_without_the_regulariser_fails(tmp_path):
    path = mutant(tmp_path, PRIMAL, "dw = w - C * X[active].T @ y[active]",
                   "dw = -C * X[active].T @ y[active]")
    report = _grade(path)
    assert failing(report) == {"hinge_subgradient"}
    assert "left out the regulariser's gradient w" in report.function(
        "hinge_subgradient").explanation


def test_objective_without_the_half_fails(tmp_path):
    path = mutant(tmp_path, PRIMAL, "return float(0.5 * w @ w + C", "return float(w @ w + C")
    report = _grade(path)
    assert failing(report) == {"hinge_objective"}
    assert "lacks its 0.5" in report.function("hinge_objective").explanation


def test_fit_that_stops_early_fails_on_its_objective(tmp_path):
    path = mutant(tmp_path, PRIMAL, "tol=1e-9, max_iter=1_000_000", "tol=1e-9, max_iter=10")
    report = _grade(path)
    assert failing(report) == {"fit_primal"}
    explanation = report.function("fit_primal").explanation
    assert explanation.startswith("objective reached: the objective reached, J(w, b) =")
    assert "above the optimum" in explanation and "at most 0.001 above" in explanation


SUBGRADIENT_DESCENT = '''

def fit_primal(X, y, C):
    w, b = np.zeros(X.shape[1]), 0.0
    for t in range(1, 301):
        dw, db = hinge_subgradient(w, b, X, y, C)
        step = 1.0 / (t * (1.0 + C * len(y)))
        w, b = w - step * dw, b - step * db
    return w, b
'''


def test_fit_by_subgradient_descent_fails(tmp_path):
    report = _grade(mutant(tmp_path, PRIMAL, append=SUBGRADIENT_DESCENT))
    assert failing(report) == {"fit_primal"}
    assert "above the optimum" in report.function("fit_primal").explanation


def test_fit_returning_a_wrong_shape_fails(tmp_path):
    path = mutant(tmp_path, PRIMAL, "return X.T @ (alpha * y), b", "return X.T @ (alpha * y)")
    report = _grade(path)
    assert failing(report) == {"fit_primal"}
    assert "must return two values (w, b)" in report.function("fit_primal").explanation


# ---------------------------------------------------------------------------------------------
# svm_dual


def test_bias_over_every_support_vector_fails(tmp_path):
    path = mutant(tmp_path, DUAL, "free = (alpha > tol) & (alpha < C - tol)", "free = alpha > tol")
    report = _grade(path)
    assert failing(report) == {"bias_from_dual"}
    explanation = report.function("bias_from_dual").explanation
    assert "looks like a classic mistake: the bias was taken from bound support vectors" in (
        explanation)
    assert "every support vector" in explanation


BIAS_FROM_A_BOUND_VECTOR = '''

def bias_from_dual(alpha, K, y, C, tol=1e-8):
    i = int(np.argmax(alpha))  # the largest multiplier: alpha_i = C, a bound support vector
    return float(y[i] - (alpha * y) @ K[:, i])
'''


@pytest.mark.parametrize("seed", [0, 1])
def test_bias_from_a_bound_support_vector_fails(tmp_path, seed):
    report = _grade(mutant(tmp_path, DUAL, append=BIAS_FROM_A_BOUND_VECTOR), seed)
    assert failing(report) == {"bias_from_dual"}
    explanation = report.function("bias_from_dual").explanation
    assert "b differs from the expected value" in explanation
    assert "the bias was taken from bound support vectors (alpha = C)" in explanation
    assert "the first one with alpha = C" in explanation


def test_bias_ignoring_tol_fails(tmp_path):
    path = mutant(tmp_path, DUAL, "free = (alpha > tol) & (alpha < C - tol)",
                   "free = (alpha > 0) & (alpha < C)")
    report = _grade(path)
    assert failing(report) == {"bias_from_dual"}
    explanation = report.function("bias_from_dual").explanation
    assert "tol=1e-3" in explanation and "ignored tol" in explanation


def test_smo_that_stops_after_a_few_steps_fails(tmp_path):
    path = mutant(tmp_path, DUAL, "tol=1e-3, max_iter=100000)", "tol=1e-3, max_iter=5)")
    report = _grade(path)
    assert failing(report) == {"smo_fit"}
    explanation = report.function("smo_fit").explanation
    assert explanation.startswith("KKT gap: the KKT gap of your alpha")
    assert "allowed: 10 * tol = 0.01" in explanation and "stopped before" in explanation


def test_smo_with_a_loose_tolerance_fails(tmp_path):
    path = mutant(tmp_path, DUAL, "tol=1e-3, max_iter=100000)", "tol=0.5, max_iter=100000)")
    report = _grade(path)
    assert failing(report) == {"smo_fit"}
    assert "KKT gap" in report.function("smo_fit").explanation


def test_smo_bias_over_every_support_vector_fails_on_decision_values(tmp_path):
    path = mutant(tmp_path, DUAL, "        b = yg[free].mean()",
                   "        b = yg[alpha > 0].mean()")
    report = _grade(path)
    assert failing(report) == {"smo_fit"}
    explanation = report.function("smo_fit").explanation
    assert explanation.startswith("held-out decision values: decision values f(x)")
    assert "Your alpha is right, your b is not" in explanation and "free support vectors" in explanation


def test_smo_breaking_the_equality_constraint_fails(tmp_path):
    path = mutant(tmp_path, DUAL, "        alpha[j] -= y[j] * t\n        # Land",
                   "        alpha[j] -= 0.5 * y[j] * t\n        # Land")
    report = _grade(path)
    assert "smo_fit" in failing(report)
    assert "sum(alpha y) = 0 does not hold" in report.function("smo_fit").explanation


def test_smo_accepting_an_unknown_kernel_fails(tmp_path):
    old = "raise ValueError(f\"unknown kernel {kernel!r}: use 'linear' or 'rbf'\")"
    path = mutant(tmp_path, DUAL, old, "K = linear_kernel(X, X)")
    report = _grade(path)
    assert failing(report) == {"smo_fit"}
    assert "should raise ValueError" in report.function("smo_fit").explanation


def test_rbf_with_the_distance_instead_of_its_square_fails(tmp_path):
    path = mutant(tmp_path, DUAL, "np.exp(-gamma * np.maximum(sq_dist, 0.0))",
                   "np.exp(-gamma * np.sqrt(np.maximum(sq_dist, 0.0)))")
    report = _grade(path)
    # smo_fit builds its kernel with rbf_kernel, so it solves another problem on the RBF case.
    assert failing(report) == {"rbf_kernel", "smo_fit"}
    assert "instead of its square" in report.function("rbf_kernel").explanation


def test_dual_objective_without_the_half_fails(tmp_path):
    path = mutant(tmp_path, DUAL, "alpha.sum() - 0.5 * v @", "alpha.sum() - v @")
    report = _grade(path)
    assert failing(report) == {"dual_objective"}
    assert "lacks its 0.5" in report.function("dual_objective").explanation


def test_weights_and_decision_without_labels_fail(tmp_path):
    path = mutant(tmp_path, DUAL, append=(
        "\n\ndef weights_from_dual(alpha, X, y):\n    return X.T @ alpha\n"
        "\n\ndef decision_function(alpha, b, K_test, y):\n    return K_test @ alpha + b\n"))
    report = _grade(path)
    assert failing(report) == {"weights_from_dual", "decision_function"}
    for name in ("weights_from_dual", "decision_function"):
        assert "left the labels out" in report.function(name).explanation


# ---------------------------------------------------------------------------------------------
# A correct solution written differently (loops, broadcasting, second-order SMO, b minimising
# the objective) passes: the grader asks for what every correct answer shares.

OTHER_PRIMAL = '''import numpy as np


def hinge_objective(w, b, X, y, C):
    total = 0.5 * sum(v * v for v in w)
    for xi, yi in zip(X, y):
        total += C * max(0.0, 1.0 - yi * (float(np.dot(xi, w)) + b))
    return total


def hinge_subgradient(w, b, X, y, C):
    dw, db = np.array(w, dtype=float), 0.0
    for xi, yi in zip(X, y):
        if yi * (xi @ w + b) < 1:
            dw = dw - C * yi * xi
            db -= C * yi
    return dw, db


def fit_primal(X, y, C):
    # The dual by SMO with second-order pair selection, then w = X^T (alpha y) and the b that
    # minimises the objective for that w (the hinge sum is piecewise linear in b).
    n = len(y)
    K = X @ X.T
    alpha, G = np.zeros(n), -np.ones(n)
    for _ in range(200000):
        up = ((y > 0) & (alpha < C)) | ((y < 0) & (alpha > 0))
        low = ((y > 0) & (alpha > 0)) | ((y < 0) & (alpha < C))
        s = -y * G
        i = np.flatnonzero(up)[np.argmax(s[up])]
        if s[i] - s[low].min() < 1e-8:
            break
        a = np.maximum(K[i, i] + np.diag(K) - 2 * K[i], 1e-12)
        j = int(np.argmax(np.where(low & (s < s[i]), (s[i] - s) ** 2 / a, -np.inf)))
        t = min((s[i] - s[j]) / a[j], C - alpha[i] if y[i] > 0 else alpha[i],
                alpha[j] if y[j] > 0 else C - alpha[j])
        alpha[i] += y[i] * t
        alpha[j] -= y[j] * t
        G += t * y * (K[:, i] - K[:, j])
    w = X.T @ (alpha * y)
    candidates = y - X @ w  # the kinks of the hinge sum in b
    values = [hinge_objective(w, b, X, y, C) for b in candidates]
    return w, float(candidates[int(np.argmin(values))])
'''

OTHER_DUAL = '''import numpy as np


def linear_kernel(X1, X2):
    return np.einsum("md,nd->mn", X1, X2)


def rbf_kernel(X1, X2, gamma):
    diff = X1[:, None, :] - X2[None, :, :]
    return np.exp(-gamma * np.einsum("mnd,mnd->mn", diff, diff))


def dual_objective(alpha, K, y):
    n = len(alpha)
    quad = 0.0
    for i in range(n):
        for j in range(n):
            quad += alpha[i] * alpha[j] * y[i] * y[j] * K[i, j]
    return alpha.sum() - quad / 2


def weights_from_dual(alpha, X, y):
    return (alpha[:, None] * y[:, None] * X).sum(axis=0)


def bias_from_dual(alpha, K, y, C, tol=1e-8):
    values = [y[i] - sum(alpha[j] * y[j] * K[j, i] for j in range(len(y)))
              for i in range(len(y)) if tol < alpha[i] < C - tol]
    return sum(values) / len(values)


def decision_function(alpha, b, K_test, y):
    return np.array([sum(a * yi * k for a, yi, k in zip(alpha, y, row)) + b for row in K_test])


def smo_fit(X, y, C, kernel="linear", gamma=1.0, tol=1e-3, max_iter=100000):
    # Second-order working-set selection (Fan, Chen & Lin 2005), minimisation form.
    if kernel == "linear":
        K = linear_kernel(X, X)
    elif kernel == "rbf":
        K = rbf_kernel(X, X, gamma)
    else:
        raise ValueError(kernel)
    n = len(y)
    Q = y[:, None] * y[None, :] * K
    alpha = np.zeros(n)
    G = -np.ones(n)
    for _ in range(max_iter):
        up = ((y > 0) & (alpha < C)) | ((y < 0) & (alpha > 0))
        low = ((y > 0) & (alpha > 0)) | ((y < 0) & (alpha < C))
        s = -y * G
        i = np.flatnonzero(up)[np.argmax(s[up])]
        if s[i] - s[low].min() < tol:
            break
        cand = low & (s < s[i])
        a = np.maximum(K[i, i] + np.diag(K) - 2 * K[i], 1e-12)
        gain = np.where(cand, (s[i] - s) ** 2 / a, -np.inf)
        j = int(np.argmax(gain))
        # move along d_i = y_i t, d_j = -y_j t
        t = (s[i] - s[j]) / a[j]
        t = min(t, C - alpha[i] if y[i] > 0 else alpha[i], alpha[j] if y[j] > 0 else C - alpha[j])
        old_i, old_j = alpha[i], alpha[j]
        alpha[i] = min(max(alpha[i] + y[i] * t, 0.0), C)
        alpha[j] = min(max(alpha[j] - y[j] * t, 0.0), C)
        G += Q[:, i] * (alpha[i] - old_i) + Q[:, j] * (alpha[j] - old_j)
    s = -y * G
    free = (alpha > 1e-12) & (alpha < C - 1e-12)
    if free.any():
        return alpha, float(s[free].mean())
    return alpha, float((s[up].max() + s[low].min()) / 2)  # no free multiplier: the KKT midpoint
'''


@pytest.mark.parametrize("exercise, source", [(PRIMAL, OTHER_PRIMAL), (DUAL, OTHER_DUAL)],
                         ids=["svm_primal", "svm_dual"])
def test_a_different_correct_solution_passes(tmp_path, exercise, source):
    path = tmp_path / exercise.file
    path.write_text(source, encoding="utf-8")
    report = _grade(path, seed=3)
    explanations = {f.name: f.explanation for f in report.functions if f.verdict != "pass"}
    assert report.passed, explanations
