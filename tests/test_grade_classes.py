"""Each class of wrong implementation the grader must catch, with a case built for it.

For every class, wrong implementations of that class (several styles where cheap, written
here, not derived from the grader's own mistake formulas) must fail the function concerned,
with the case built for the class named in the report, while the reference passes the same
seeds (tests/test_grade_*.py grade the references on their own seeds too).
"""

import textwrap
from pathlib import Path

import pytest

from conftest import mutant
from mlquiz.curriculum import exercises, get_exercise
from mlquiz.grading.engine import grade_file
from mlquiz.grading.judge import load_specs

SEEDS = (0, 1)


def override(tmp_path, exercise_id, source, old=None, new=None):
    """The reference of an exercise with ``old`` replaced by ``new`` and ``source`` (functions
    that replace the reference's) appended."""
    return mutant(tmp_path, get_exercise(exercise_id), old, new, "\n\n" + textwrap.dedent(source))


def assert_fails(path, function, label, seeds=SEEDS, also=None):
    """``function`` fails on every seed, and fails the case built for the class (the one whose
    label contains ``label``) when graded on that case alone, which the report names (and its
    explanation says ``also``, when given)."""
    exercise = get_exercise(path.stem) or next(e for e in exercises() if e.file == path.name)
    spec = next(s for s in load_specs(exercise) if s.name == function)
    all_cases = spec.cases
    for seed in seeds:
        assert grade_file(path, seed=seed).function(function).verdict == "fail"
        spec.cases = lambda rng: [c for c in all_cases(rng) if label in c.label]
        try:
            f = grade_file(path, seed=seed).function(function)
        finally:
            spec.cases = all_cases
        assert f.cases_total >= 1 and f.verdict == "fail", (seed, f.explanation)
        assert label in f.failure["case"], (seed, f.explanation)
        if also:
            assert also in f.explanation, (seed, f.explanation)


@pytest.mark.parametrize("exercise_id", ["adaboost", "gbdt", "svm_primal", "svm_dual", "l1",
                                         "logistic_regression"])
@pytest.mark.parametrize("kind", ["reference", "correct alternative"])
def test_correct_files_pass_the_cases_of_every_class(tmp_path, exercise_id, kind):
    """The reference and the differently-written correct file of tools/correct/ pass: the
    cases test the curriculum, not the reference's way of computing."""
    path = get_exercise(exercise_id).reference_path if kind == "reference" else \
        correct_with(tmp_path, exercise_id)
    for seed in SEEDS:
        report = grade_file(path, seed=seed)
        assert report.passed, {f.name: f.explanation for f in report.functions if f.verdict != "pass"}


# ---------------------------------------------------------------------------------------------
# AdaBoost

CORRECT = Path(__file__).parents[1] / "tools" / "correct"
STUMP_SEARCH = "                if best is None or err < best - 1e-12 * total:\n"


def correct_with(tmp_path, exercise_id, old=None, new=None):
    """The correct alternative of tools/correct/ (loops, recursive trees, ...), with ``old``
    (which must occur once) replaced by ``new``: a file written independently of the reference."""
    exercise = get_exercise(exercise_id)
    source = (CORRECT / exercise.file).read_text(encoding="utf-8")
    if old is not None:
        assert source.count(old) == 1, old
        source = source.replace(old, new)
    path = tmp_path / exercise.file
    path.write_text(source, encoding="utf-8")
    return path


@pytest.mark.parametrize("source", [
    "def weighted_error(w, y, pred):\n    return float(np.sum(w[pred != y]) / np.sum(w))\n",
    "def weighted_error(w, y, pred):\n    return float(np.average(pred != y, weights=w))\n",
])
def test_normalised_weighted_error_fails(tmp_path, source):
    assert_fails(override(tmp_path, "adaboost", source), "weighted_error",
                 "weights that do not sum to 1", also="does not normalise")


@pytest.mark.parametrize("old,new", [
    ("            for p in (1, -1):\n", "            for p in (-1, 1):\n"),  # ties go to -1
    (STUMP_SEARCH, "                if best is None or err < best - 1e-12 * total or (\n"
                   "                        err <= best + 1e-12 * total and p == -1 and stump[:2] == (j, float(t))):\n"),
])
def test_polarity_ties_broken_towards_minus_one_fail(tmp_path, old, new):
    path = correct_with(tmp_path, "adaboost", old, new)
    assert_fails(path, "fit_stump", "both polarities tie", also="expected (0,")


@pytest.mark.parametrize("better", [
    "err < best",  # no tolerance at all
    "err < best - 1e-12",  # an absolute tolerance
])
def test_ties_without_the_relative_tolerance_fail(tmp_path, better):
    path = correct_with(tmp_path, "adaboost", STUMP_SEARCH,
                        f"                if best is None or {better}:\n")
    assert_fails(path, "fit_stump", "1e-1", also="feature differs")


def test_tie_tolerance_not_scaled_by_the_total_weight_fails(tmp_path):
    path = mutant(tmp_path, get_exercise("adaboost"), "errors[j] <= best + TIE_TOL * total",
                  "errors[j] <= best + TIE_TOL")
    assert_fails(path, "fit_stump", "weights that do not sum to 1")


@pytest.mark.parametrize("error", [
    "float(np.mean(pred != y))",  # the error rate
    "float(np.sum(pred != y)) / len(y)",
])
def test_alpha_from_the_unweighted_error_count_fails(tmp_path, error):
    source = f"""
    def adaboost_fit(X, y, n_rounds):
        w = np.full(len(y), 1.0 / len(y))
        model = []
        for _ in range(n_rounds):
            stump = fit_stump(X, y, w)
            pred = stump_predict(stump, X)
            alpha = compute_alpha({error})
            model.append((alpha, stump))
            if weighted_error(w, y, pred) == 0:
                break
            w = update_weights(w, alpha, y, pred)
        return model
    """
    report = grade_file(override(tmp_path, "adaboost", source), seed=0)
    f = report.function("adaboost_fit")
    assert f.verdict == "fail"
    assert "its alpha is not" in f.explanation
    assert "without the 1/2" not in f.explanation  # not the explanation that fits


def test_a_stump_is_shown_whole(tmp_path):
    path = override(tmp_path, "adaboost", """
    _fit_stump = fit_stump

    def fit_stump(X, y, w):
        feature, threshold, polarity = _fit_stump(X, y, w)
        return (feature, threshold, -polarity)
    """)
    f = grade_file(path, seed=0).function("fit_stump")
    assert "expected (" in f.explanation and "polarity differs" in f.explanation
    assert "inf" not in f.explanation


def test_labels_are_counted(tmp_path):
    path = override(tmp_path, "adaboost", """
    def adaboost_predict(model, X):
        f = sum(alpha * stump_predict(stump, X) for alpha, stump in model)
        return -np.sign(f)
    """)
    f = grade_file(path, seed=0).function("adaboost_predict")
    assert f.verdict == "fail" and " labels differ" in f.explanation


# ---------------------------------------------------------------------------------------------
# GBDT

NO_GAIN_RULE = "    if best is None or best[0] <= 1e-12 * node:\n"


def wrong_no_gain_rule(tmp_path, style, recursive_rule, reference_rule):
    """A tree whose no-gain rule is wrong: the recursive tree of tools/correct/ or the
    reference, with their rule replaced."""
    if style == "recursive":
        return correct_with(tmp_path, "gbdt", NO_GAIN_RULE, f"    if {recursive_rule}:\n")
    return mutant(tmp_path, get_exercise("gbdt"), "if best is None or best <= TOL * sse:",
                  f"if {reference_rule}:")


@pytest.mark.parametrize("style", ["recursive", "reference"])
def test_a_split_that_gains_nothing_fails(tmp_path, style):
    path = wrong_no_gain_rule(tmp_path, style, "best is None", "best is None")
    assert_fails(path, "fit_tree", "a node whose best split gains nothing")


@pytest.mark.parametrize("style", ["recursive", "reference"])
def test_the_no_gain_rule_in_absolute_terms_fails(tmp_path, style):
    path = wrong_no_gain_rule(tmp_path, style, "best is None or best[0] <= 1e-12",
                              "best is None or best <= TOL")
    assert_fails(path, "fit_tree", "targets at a tiny scale")
    assert_fails(path, "gbdt_fit", "targets at a tiny scale")


def test_less_than_in_the_fit_fails_between_adjacent_floats(tmp_path):
    path = mutant(tmp_path, get_exercise("gbdt"), "    left = X[:, feature] <= threshold\n",
                  "    left = X[:, feature] < threshold\n")
    assert_fails(path, "fit_tree", "two adjacent floats")


# ---------------------------------------------------------------------------------------------
# SVM, primal form

REGULARISED_BIAS = """
def fit_primal(X, y, C):
    # dual coordinate descent on the SVM without a bias, a constant column {scale} appended:
    # the bias b = {scale} v is regularised through v
    X = np.hstack([np.asarray(X, dtype=float), np.full((len(y), 1), {scale})])
    alpha, w = np.zeros(len(y)), np.zeros(X.shape[1])
    sq = (X ** 2).sum(1)
    for _ in range(3000):
        for i in range(len(y)):
            new = min(max(alpha[i] + (1.0 - y[i] * (X[i] @ w)) / sq[i], 0.0), C)
            w += (new - alpha[i]) * y[i] * X[i]
            alpha[i] = new
    return w[:-1], float(w[-1] * {scale})
"""


@pytest.mark.parametrize("scale", [1.0, 10.0])
def test_a_regularised_bias_fails_far_from_the_origin(tmp_path, scale):
    path = override(tmp_path, "svm_primal", REGULARISED_BIAS.format(scale=scale))
    assert_fails(path, "fit_primal", "far from the origin", seeds=(0,))


@pytest.mark.parametrize("first", ["np.flatnonzero(alpha > 0)[0]", "int(np.argmax(alpha > 1e-8))"])
def test_bias_from_the_first_support_vector_fails(tmp_path, first):
    path = mutant(tmp_path, get_exercise("svm_primal"),
                  "    if free.any():\n        return alpha, float(yg[free].mean())\n",
                  f"    return alpha, float(yg[{first}])\n")
    assert_fails(path, "fit_primal", "first support vector is bound", also="your w is right, your b is not")


# ---------------------------------------------------------------------------------------------
# SVM, dual form


@pytest.mark.parametrize("stop", [
    "        if t * (violation - 0.5 * t * eta) < tol:  # the gain of this step\n            break\n",
    "        if 0.5 * violation ** 2 / eta < tol:  # the unclipped step's gain\n            break\n",
])
def test_smo_stopping_on_a_small_step_fails_on_its_kkt_gap(tmp_path, stop):
    path = mutant(tmp_path, get_exercise("svm_dual"),
                  "        alpha[i] += y[i] * t\n", stop + "        alpha[i] += y[i] * t\n")
    report = grade_file(path, seed=0)
    f = report.function("smo_fit")
    assert f.verdict == "fail", f.explanation
    assert "KKT gap" in f.explanation and "stopped before" in f.explanation


def test_smo_ignoring_gamma_is_told_to_check_its_kernel(tmp_path):
    path = mutant(tmp_path, get_exercise("svm_dual"), "        K = rbf_kernel(X, X, gamma)\n",
                  "        K = rbf_kernel(X, X, 1.0)\n")
    f = grade_file(path, seed=0).function("smo_fit")
    assert "gamma = 0.5 ignored" in f.explanation and "check the kernel matrix" in f.explanation
    assert "stopped before" not in f.explanation


def test_a_wrong_rbf_kernel_is_named_as_smo_fits_root_cause(tmp_path):
    path = mutant(tmp_path, get_exercise("svm_dual"), "return np.exp(-gamma * np.maximum(sq_dist, 0.0))",
                  "return np.exp(-np.maximum(sq_dist, 0.0))")
    report = grade_file(path, seed=0)
    assert report.function("rbf_kernel").verdict == "fail"
    assert report.function("smo_fit").explanation.startswith("fix rbf_kernel first: smo_fit calls it")
    assert "root_cause" not in (report.function("rbf_kernel").failure or {}) or \
        not report.function("rbf_kernel").failure["root_cause"]


# ---------------------------------------------------------------------------------------------
# Lasso

JACOBI_LASSO = """
def lasso_fit(X, y, lam, n_iter=1000):
    # every coordinate updated at once from the same residual ({how})
    w = np.zeros(X.shape[1])
    col_sq = (X ** 2).sum(0)
    for _ in range(n_iter):
        rho = X.T @ (y - X @ w) + col_sq * w
        {update}
    return w
"""


@pytest.mark.parametrize("how,update", [
    ("plain", "w = np.sign(rho) * np.maximum(np.abs(rho) - lam, 0.0) / col_sq"),
    ("as a gradient step", "u = w + X.T @ (y - X @ w) / col_sq\n"
                           "        w = np.sign(u) * np.maximum(np.abs(u) - lam / col_sq, 0.0)"),
])
def test_a_jacobi_style_lasso_fails_on_correlated_columns(tmp_path, how, update):
    path = override(tmp_path, "l1", JACOBI_LASSO.format(how=how, update=update))
    assert_fails(path, "lasso_fit", "correlated columns", seeds=(0,))


def test_skipping_columns_of_squared_norm_one_fails_on_an_identity_design(tmp_path):
    path = mutant(tmp_path, get_exercise("l1"), "if col_sq[j] == 0.0:", "if col_sq[j] == 1.0:")
    assert_fails(path, "lasso_fit", "identity design")


# ---------------------------------------------------------------------------------------------
# Logistic regression


@pytest.mark.parametrize("body", [
    "return 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))",
    "return 0.5 * (1.0 + np.tanh(np.asarray(z, dtype=float) / 2))",
    "z = np.asarray(z, dtype=float)\n    return np.where(z < -36, 0.0, 1.0 / (1.0 + np.exp(-np.maximum(z, -36))))",
])
def test_a_sigmoid_without_its_left_tail_fails(tmp_path, body):
    path = override(tmp_path, "logistic_regression", f"def sigmoid(z):\n    {body}\n")
    assert_fails(path, "sigmoid", "the left tail")


def test_a_naive_sigmoid_is_the_root_cause_of_its_callers(tmp_path):
    path = override(tmp_path, "logistic_regression",
                    "def sigmoid(z):\n    return 1.0 / (1.0 + np.exp(-z))\n")
    report = grade_file(path, seed=0)
    for name, how in (("predict_proba", "calls it"), ("sigmoid_grad", "calls it"),
                      ("gradient", "calls it through predict_proba")):
        f = report.function(name)
        assert f.verdict == "fail"
        assert f.explanation.splitlines()[0] == f"fix sigmoid first: {name} {how}", f.explanation
    assert not report.function("sigmoid").failure["root_cause"]


def test_functions_graded_with_each_other_are_named_together_as_the_root_cause(tmp_path):
    """A tree with median leaves fails fit_tree and tree_predict (each graded with the other:
    which is wrong cannot be told) and, through them, both GBDT functions."""
    path = mutant(tmp_path, get_exercise("gbdt"),
                  "    if depth >= max_depth or np.all(r == r[0]):\n        return {\"value\": float(np.mean(r))}",
                  "    if depth >= max_depth or np.all(r == r[0]):\n        return {\"value\": float(np.median(r))}")
    report = grade_file(path, seed=0)
    fit, predict = report.function("gbdt_fit"), report.function("gbdt_predict")
    assert fit.failure["root_cause"] == ("fix fit_tree or tree_predict first (each is graded with "
                                         "the other): gbdt_fit calls fit_tree")
    assert predict.failure["root_cause"].endswith("gbdt_predict depends on fit_tree through gbdt_fit")
    assert not report.function("fit_tree").failure["root_cause"]
