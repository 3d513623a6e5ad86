"""Grading the svm_primal and svm_dual exercises end to end: the references pass, the stubs are
not implemented, and a reference with one deliberate mistake fails exactly the functions the
mistake reaches, with the right explanation."""

from pathlib import Path

import pytest

from mlquiz.curriculum import get_exercise
from conftest import failing, mutant
from mlquiz.grading.engine import grade_file

CORRECT = Path(__file__).parents[1] / "tools" / "correct"
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



@pytest.mark.parametrize("exercise", [PRIMAL, DUAL], ids=["svm_primal", "svm_dual"])
def test_a_different_correct_solution_passes(tmp_path, exercise):
    """The second-order SMO of tools/correct/ (a different pair selection, a different bias)."""
    path = tmp_path / exercise.file
    path.write_text((CORRECT / exercise.file).read_text(encoding="utf-8"), encoding="utf-8")
    report = _grade(path, seed=3)
    explanations = {f.name: f.explanation for f in report.functions if f.verdict != "pass"}
    assert report.passed, explanations
