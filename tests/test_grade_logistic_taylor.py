"""Grading the logistic_regression and taylor exercises end to end: the references pass, the
stubs are not implemented, and a reference with one deliberate mistake fails exactly the
functions the mistake reaches, with the right explanation."""

import pytest

from mlquiz.curriculum import get_exercise
from conftest import failing, mutant
from mlquiz.grading.engine import grade_file

LOGISTIC = get_exercise("logistic_regression")
TAYLOR = get_exercise("taylor")

# With extreme logits in their cases, every function that calls the sigmoid on them fails when
# the sigmoid does; log_likelihood (np.logaddexp) and fit (moderate logits) do not call it there.
USES_SIGMOID_AT_EXTREME_LOGITS = {"sigmoid", "sigmoid_grad", "predict_proba", "gradient",
                                  "gradient_ascent_step"}


def _verdicts(report):
    return {f.name: f.verdict for f in report.functions}


@pytest.mark.parametrize("exercise", [LOGISTIC, TAYLOR], ids=lambda e: e.id)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_passes(exercise, seed):
    report = grade_file(exercise.reference_path, seed=seed)
    assert report.seed == seed
    assert [f.name for f in report.functions] == list(exercise.functions)
    explanations = {f.name: f.explanation for f in report.functions if f.verdict != "pass"}
    assert report.passed, explanations


@pytest.mark.parametrize("exercise", [LOGISTIC, TAYLOR], ids=lambda e: e.id)
def test_stub_is_not_implemented(exercise):
    report = grade_file(exercise.stub_path, seed=0)
    assert not report.passed
    assert set(_verdicts(report).values()) == {"not_implemented"}
    assert [f.name for f in report.functions] == list(exercise.functions)


def test_sigmoid_that_overflows_fails(tmp_path):
    naive = "\n\ndef sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n"
    report = grade_file(mutant(tmp_path, LOGISTIC, append=naive), seed=0)
    assert failing(report) == USES_SIGMOID_AT_EXTREME_LOGITS
    sigmoid = report.function("sigmoid")
    assert sigmoid.verdict == "fail"
    assert "overflow" in sigmoid.explanation
    assert "1e3" in sigmoid.explanation  # names the case: the extreme logits


def test_sigmoid_that_returns_nan_fails(tmp_path):
    # silences numpy, so only the comparison can catch it: exp(1e3) / (1 + exp(1e3)) is inf/inf
    quiet_nan = ("\n\ndef sigmoid(z):\n"
                 "    with np.errstate(over='ignore', invalid='ignore'):\n"
                 "        return np.exp(z) / (1 + np.exp(z))\n")
    report = grade_file(mutant(tmp_path, LOGISTIC, append=quiet_nan), seed=0)
    assert failing(report) == USES_SIGMOID_AT_EXTREME_LOGITS
    sigmoid = report.function("sigmoid")
    assert "nan" in sigmoid.explanation
    assert "warning" not in sigmoid.explanation


def test_gradient_with_the_wrong_sign_fails(tmp_path):
    path = mutant(tmp_path, LOGISTIC, "return X.T @ (y - predict_proba(theta, X))",
                   "return X.T @ (predict_proba(theta, X) - y)")
    report = grade_file(path, seed=0)
    # the step and the fit call the gradient, so they go downhill too
    assert failing(report) == {"gradient", "gradient_ascent_step", "fit"}
    assert "classic mistake: the gradient has the wrong sign" in (
        report.function("gradient").explanation)
    assert "stepped downhill" in report.function("gradient_ascent_step").explanation
    assert "stepped downhill" in report.function("fit").explanation


def test_fit_with_the_summed_gradient_fails(tmp_path):
    path = mutant(tmp_path, LOGISTIC, "theta = theta + lr * gradient(theta, X, y) / n_samples",
                   "theta = theta + lr * gradient(theta, X, y)")
    report = grade_file(path, seed=0)
    assert failing(report) == {"fit"}
    explanation = report.function("fit").explanation
    assert "classic mistake: used the summed gradient" in explanation


def test_log_likelihood_with_log_of_zero_fails(tmp_path):
    naive = ("\n\ndef log_likelihood(theta, X, y):\n"
             "    h = predict_proba(theta, X)\n"
             "    return np.sum(y * np.log(h) + (1 - y) * np.log(1 - h))\n")
    report = grade_file(mutant(tmp_path, LOGISTIC, append=naive), seed=0)
    assert failing(report) == {"log_likelihood"}
    assert "divide by zero" in report.function("log_likelihood").explanation


def test_taylor_polynomial_missing_the_factorial_fails(tmp_path):
    path = mutant(tmp_path, TAYLOR, "total = total + d * dx**k / math.factorial(k)",
                   "total = total + d * dx**k")
    report = grade_file(path, seed=0)
    assert failing(report) == {"taylor_polynomial"}
    assert "classic mistake: missing factorial" in report.function("taylor_polynomial").explanation


@pytest.mark.parametrize("old, new, function, message", [
    ("return -np.asarray(G, dtype=float) / (np.asarray(H, dtype=float) + lam)",
     "return np.asarray(G, dtype=float) / (np.asarray(H, dtype=float) + lam)",
     "leaf_weight", "leaf weight without the minus sign"),
    ("return float(0.5 * (children - parent) - gamma)",
     "return float((children - parent) - gamma)",
     "split_gain", "split gain without the 1/2"),
    ("return float(0.5 * (children - parent) - gamma)",
     "return float(0.5 * (children - parent))",
     "split_gain", "split gain without gamma"),
    ("return float(-0.5 * np.sum(G**2 / (H + lam)) + gamma * G.size)",
     "return float(-0.5 * np.sum(G**2 / (H + lam)))",
     "structure_score", "structure score without gamma T"),
    ("return p - y, p * _sigmoid(-y_pred)",
     "return y - p, p * _sigmoid(-y_pred)",
     "grad_hess", "g has the wrong sign"),
    ('raise ValueError(f"unknown loss {loss!r}: expected \'squared\' or \'logistic\'")',
     "return y_pred - y, np.ones_like(y_pred)",
     "grad_hess", "should raise ValueError"),
], ids=["leaf-sign", "gain-half", "gain-gamma", "score-gamma", "g-sign", "no-raise"])
def test_taylor_mistakes_fail_with_their_message(tmp_path, old, new, function, message):
    report = grade_file(mutant(tmp_path, TAYLOR, old, new), seed=0)
    assert failing(report) == {function}
    assert message in report.function(function).explanation
