"""Grading l2, l1 and priors end to end: the references pass, the stubs are not implemented,
and a reference with one classic mistake fails exactly the function it breaks, naming the
mistake."""

from pathlib import Path

import pytest

from mlquiz.curriculum import get_exercise
from mlquiz.grading.engine import grade_file

EXERCISES = ["l2", "l1", "priors"]


@pytest.mark.parametrize("exercise", EXERCISES)
@pytest.mark.parametrize("seed", [0, 1])
def test_reference_passes(exercise, seed):
    report = grade_file(get_exercise(exercise).reference_path, seed=seed)
    assert report.passed, [(f.name, f.explanation) for f in report.functions]
    assert [f.name for f in report.functions] == list(get_exercise(exercise).functions)


@pytest.mark.parametrize("exercise", EXERCISES)
def test_stub_is_not_implemented(exercise):
    report = grade_file(get_exercise(exercise).stub_path, seed=3)
    assert not report.passed
    assert {f.verdict for f in report.functions} == {"not_implemented"}


# (exercise, text of the reference, its replacement, the function that must fail, words that
# its explanation must contain)
SABOTAGE = [
    ("l2", "return float(lam / 2 * np.sum(w**2))", "return float(lam * np.sum(w**2))",
     "l2_penalty", ["the 1/2 is missing"]),
    ("l2", "return lam * np.asarray(w, dtype=float)", "return 2 * lam * np.asarray(w, dtype=float)",
     "l2_grad", ["2 * lam * w is the gradient of lam * ||w||^2"]),
    ("l2", "return w - lr * (np.asarray(grad, dtype=float) + lam * w)",
     "return w - lr * np.asarray(grad, dtype=float) - lam * w",
     "weight_decay_step", ["not scaled by the learning rate"]),
    ("l2", "A = X.T @ X + lam * np.eye(X.shape[1])", "A = X.T @ X + lam",
     "ridge_fit", ["added lam to every entry of X.T @ X"]),
    ("l1", "return lam * np.sign(np.asarray(w, dtype=float))",
     "return lam * np.where(np.asarray(w, dtype=float) >= 0, 1.0, -1.0)",
     "l1_subgradient", ["+lam where w is exactly 0"]),
    ("l1", "return lam * np.sign(np.asarray(w, dtype=float))",
     "return lam * np.asarray(w, dtype=float) / np.abs(np.asarray(w, dtype=float))",
     "l1_subgradient", ["numpy warning"]),
    ("l1", "return np.sign(w) * np.maximum(np.abs(w) - t, 0.0)",
     "return np.where(np.abs(w) > t, w, 0.0)",
     "soft_threshold", ["hard thresholding"]),
    ("l1", "new = np.sign(rho) * max(abs(rho) - lam, 0.0) / col_sq[j]",
     "new = np.sign(rho) * max(abs(rho) - lam / 2, 0.0) / col_sq[j]",
     "lasso_fit", ["above the optimum", "at most 0.0001 (relative)", "lasso with lam / 2"]),
    ("l1", "def lasso_fit(X, y, lam, n_iter=1000):", "def lasso_fit(X, y, lam, n_iter=2):",
     "lasso_fit", ["above the optimum", "at most 0.0001 (relative)"]),
    ("priors", "return noise_var / sigma**2", "return sigma**2 / noise_var",
     "ridge_lambda_from_prior", ["lambda is inverted"]),
    ("priors", "return noise_var / b\n", "return b / noise_var\n",
     "lasso_lambda_from_prior", ["lambda is inverted"]),
    ("priors", " + w.size / 2 * math.log(2 * math.pi * sigma**2)", "",
     "gaussian_neg_log_prior", ["the normalising constant is missing"]),
    ("priors", "w.size * math.log(2 * b)", "w.size * math.log(b)",
     "laplace_neg_log_prior", ["log(b) in the constant"]),
]


@pytest.mark.parametrize("exercise, old, new, function, words", SABOTAGE,
                         ids=[f"{s[3]}-{i}" for i, s in enumerate(SABOTAGE)])
def test_one_mistake_fails_exactly_its_function(tmp_path, exercise, old, new, function, words):
    found = get_exercise(exercise)
    source = found.reference_path.read_text(encoding="utf-8")
    assert source.count(old) == 1, old
    path = Path(tmp_path, found.file)
    path.write_text(source.replace(old, new), encoding="utf-8")

    report = grade_file(path, seed=7)

    failed = [f.name for f in report.functions if f.verdict != "pass"]
    assert failed == [function], [(f.name, f.explanation) for f in report.functions]
    explanation = report.function(function).explanation
    assert report.function(function).verdict == "fail"
    for word in words:
        assert word in explanation, explanation
