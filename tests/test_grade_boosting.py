"""Grading the adaboost and gbdt exercises end to end: the references pass, the stubs are not
implemented, and a reference with one deliberate mistake fails exactly the functions the
mistake reaches, with the classic mistake named.

A fit is graded through the learner's own predict function, so a mistake in a predict function
also fails the fit it grades; the two GBDT predict functions are graded on a tree or model
fitted by the learner's own fit, so a mistake in a fit also fails its predict function.
"""

import time

import pytest

from mlquiz.curriculum import get_exercise
from conftest import failing, mutant
from mlquiz.grading.engine import grade_file
from mlquiz.grading.judge import draw_cases, load_specs, run_reference
from mlquiz.grading.references import load_reference

ADABOOST = get_exercise("adaboost")
GBDT = get_exercise("gbdt")


def _grade(path, expected_failing, explained):
    """Grade ``path`` with seed 0; exactly ``expected_failing`` fail, each function of ``explained``
    with its explanation containing the given text."""
    report = grade_file(path, seed=0)
    assert failing(report) == set(expected_failing), {f.name: f.explanation for f in report.functions}
    for name, text in explained.items():
        assert report.function(name).verdict == "fail"
        assert text in report.function(name).explanation, report.function(name).explanation
    return report


# ---------------------------------------------------------------------------------------------
# The references and the stubs


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("exercise", [ADABOOST, GBDT], ids=lambda e: e.id)
def test_reference_passes(exercise, seed):
    report = grade_file(exercise.reference_path, seed=seed)
    assert report.seed == seed
    assert [f.name for f in report.functions] == list(exercise.functions)
    assert report.passed, {f.name: f.explanation for f in report.functions if f.verdict != "pass"}


@pytest.mark.parametrize("exercise", [ADABOOST, GBDT], ids=lambda e: e.id)
def test_stub_is_not_implemented(exercise):
    report = grade_file(exercise.stub_path, seed=0)
    assert [f.name for f in report.functions] == list(exercise.functions)
    assert {f.verdict for f in report.functions} == {"not_implemented"}


@pytest.mark.parametrize("exercise", [ADABOOST, GBDT], ids=lambda e: e.id)
def test_reference_side_of_grading_is_cheap(exercise):
    """Drawing every case and running the reference on it (what the grading process computes
    besides the comparisons) takes a few milliseconds; allow a wide margin."""
    specs, reference = load_specs(exercise), load_reference(exercise.id)
    started = time.process_time()
    for index, spec in enumerate(specs):
        for case in draw_cases(spec, 0, index):
            run_reference(reference, spec, case)
    assert time.process_time() - started < 0.3


# ---------------------------------------------------------------------------------------------
# AdaBoost


def test_alpha_without_the_half_fails(tmp_path):
    path = mutant(tmp_path, ADABOOST, "return 0.5 * float(np.log((1.0 - err) / err))",
                   "return float(np.log((1.0 - err) / err))")
    _grade(path, {"compute_alpha", "adaboost_fit"},
           {"compute_alpha": "alpha without the 1/2", "adaboost_fit": "alpha without the 1/2"})


def test_weights_not_renormalised_fail(tmp_path):
    path = mutant(tmp_path, ADABOOST, "return new / new.sum()", "return new")
    _grade(path, {"update_weights", "adaboost_fit"},
           {"update_weights": "weights not renormalised",
            "adaboost_fit": "weights not renormalised"})


def test_unclipped_alpha_fails(tmp_path):
    """err arrives as a Python float (the curriculum's type), so 1 / 0 raises."""
    path = mutant(tmp_path, ADABOOST,
                   "    err = float(np.clip(err, ERR_CLIP, 1.0 - ERR_CLIP))\n", "")
    _grade(path, {"compute_alpha", "adaboost_fit"},
           {"compute_alpha": "ZeroDivisionError", "adaboost_fit": "ZeroDivisionError"})


def test_stump_ignoring_the_weights_fails(tmp_path):
    override = ("\n\n_fit_stump = fit_stump\n\n\ndef fit_stump(X, y, w):\n"
                "    return _fit_stump(X, y, np.full(len(y), 1.0 / len(y)))\n")
    path = mutant(tmp_path, ADABOOST, append=override)
    _grade(path, {"fit_stump", "adaboost_fit"}, {"fit_stump": "ignored the weights"})


def test_stump_ties_broken_the_wrong_way_fail(tmp_path):
    path = mutant(tmp_path, ADABOOST, "k, p = tied[0][0], tied[1][0]",
                   "k, p = tied[0][-1], tied[1][-1]")
    report = _grade(path, {"fit_stump", "adaboost_fit"}, {})
    assert "ties between features and thresholds" in report.function("fit_stump").explanation


def test_less_than_in_stump_predict_fails(tmp_path):
    """adaboost_fit's model is graded itself: its stumps sit between sample values, so the
    learner's own `<` in stump_predict does not change it."""
    path = mutant(tmp_path, ADABOOST, "np.where(X[:, feature] <= threshold",
                   "np.where(X[:, feature] < threshold")
    _grade(path, {"stump_predict", "adaboost_predict"},
           {"stump_predict": "< instead of <=", "adaboost_predict": "labels differ"})


def test_fit_going_on_after_a_perfect_stump_fails(tmp_path):
    path = mutant(tmp_path, ADABOOST, "        if err == 0.0:\n            break\n", "")
    _grade(path, {"adaboost_fit"}, {"adaboost_fit": "zero weighted error"})


def test_sign_of_zero_fails(tmp_path):
    path = mutant(tmp_path, ADABOOST, "return np.where(f >= 0, 1.0, -1.0)", "return np.sign(f)")
    _grade(path, {"adaboost_predict"}, {"adaboost_predict": "np.sign gives 0"})


# ---------------------------------------------------------------------------------------------
# GBDT


def test_gbdt_without_the_learning_rate_fails(tmp_path):
    path = mutant(tmp_path, GBDT, '''        f = f + learning_rate * tree_predict(tree, X)
        trees.append(tree)
    return {"init": init, "learning_rate": learning_rate, "trees": trees}''',
                   '''        f = f + tree_predict(tree, X)
        trees.append(tree)
    return {"init": init, "learning_rate": 1.0, "trees": trees}''')
    _grade(path, {"gbdt_fit", "gbdt_predict"},
           {"gbdt_fit": "GBDT without the learning rate"})


def test_gbdt_starting_from_zero_fails(tmp_path):
    path = mutant(tmp_path, GBDT, "    init = float(np.mean(y))", "    init = 0.0")
    _grade(path, {"gbdt_fit", "gbdt_predict"},
           {"gbdt_fit": "GBDT starting from 0 instead of the mean"})


def test_gbdt_predict_without_the_learning_rate_fails(tmp_path):
    path = mutant(tmp_path, GBDT, 'f = f + model["learning_rate"] * tree_predict(tree, X)',
                   "f = f + tree_predict(tree, X)")
    _grade(path, {"gbdt_fit", "gbdt_predict"},
           {"gbdt_predict": "GBDT without the learning rate",
            "gbdt_fit": "used when fitting but not when predicting"})


def test_gradient_instead_of_negative_gradient_fails(tmp_path):
    path = mutant(tmp_path, GBDT, "    return y - f", "    return f - y")
    _grade(path, {"negative_gradient", "gbdt_fit", "gbdt_predict"},
           {"negative_gradient": "the negative gradient of 0.5 (y - f)^2 is the residual"})


def test_less_than_in_tree_predict_fails(tmp_path):
    path = mutant(tmp_path, GBDT, 'left = X[rows, node["feature"]] <= node["threshold"]',
                   'left = X[rows, node["feature"]] < node["threshold"]')
    _grade(path, {"fit_tree", "tree_predict", "gbdt_fit", "gbdt_predict"},
           {"fit_tree": "< instead of <=", "tree_predict": "< instead of <="})


def test_min_samples_leaf_ignored_fails(tmp_path):
    path = mutant(tmp_path, GBDT, "ok = (xs[1:] > xs[:-1]) & (k >= min_samples_leaf) & "
                   "(N - k >= min_samples_leaf)", "ok = xs[1:] > xs[:-1]")
    _grade(path, {"fit_tree", "tree_predict"}, {"fit_tree": "min_samples_leaf ignored"})


def test_tree_one_level_too_deep_fails(tmp_path):
    path = mutant(tmp_path, GBDT, "if depth >= max_depth or", "if depth > max_depth or")
    _grade(path, {"fit_tree", "tree_predict", "gbdt_fit", "gbdt_predict"},
           {"fit_tree": "one level too deep"})


def test_tree_ties_broken_the_wrong_way_fail(tmp_path):
    path = mutant(tmp_path, GBDT, "return j, float(thresholds[j][tied[0]])",
                   "return j, float(thresholds[j][tied[-1]])")
    report = _grade(path, {"fit_tree", "tree_predict"}, {})
    assert "two thresholds of one feature tie" in report.function("fit_tree").explanation
