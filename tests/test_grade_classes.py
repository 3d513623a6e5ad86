"""Each class of wrong implementation the grader must catch, with a case built for it.

For every class, wrong implementations of that class (several styles where cheap, written
here, not derived from the grader's own mistake formulas) must fail the function concerned,
with the case built for the class named in the report, while the reference passes the same
seeds (tests/test_grade_*.py grade the references on their own seeds too).
"""

import textwrap

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


def assert_reference_passes(exercise_id, seeds=SEEDS):
    for seed in seeds:
        report = grade_file(get_exercise(exercise_id).reference_path, seed=seed)
        assert report.passed, {f.name: f.explanation for f in report.functions if f.verdict != "pass"}


# ---------------------------------------------------------------------------------------------
# AdaBoost

STUMP_BY_LOOPS = """
def fit_stump(X, y, w):
    # every feature, threshold and polarity in the curriculum's order, kept when {better}
    best = None
    total = float(np.sum(w))
    for j in range(X.shape[1]):
        values = np.unique(X[:, j])
        for t in [values[0] - 1.0] + [(a + b) / 2 for a, b in zip(values[:-1], values[1:])]:
            for p in {polarities}:
                pred = np.where(X[:, j] <= t, p, -p)
                err = sum(wi for wi, yi, pi in zip(w, y, pred) if yi != pi)
                if best is None or {better}:
                    best, stump = err, (j, float(t), p)
    return stump
"""


def test_adaboost_reference_passes():
    assert_reference_passes("adaboost")


@pytest.mark.parametrize("source", [
    "def weighted_error(w, y, pred):\n    return float(np.sum(w[pred != y]) / np.sum(w))\n",
    "def weighted_error(w, y, pred):\n    return float(np.average(pred != y, weights=w))\n",
])
def test_normalised_weighted_error_fails(tmp_path, source):
    assert_fails(override(tmp_path, "adaboost", source), "weighted_error",
                 "weights that do not sum to 1", also="does not normalise")


@pytest.mark.parametrize("polarities,better", [
    ("(-1, 1)", "err < best - 1e-12 * total"),  # ties between polarities go to -1
    ("(1, -1)", "err < best - 1e-12 * total or err <= best + 1e-12 * total and p == -1 "
                "and stump[:2] == (j, float(t))"),
])
def test_polarity_ties_broken_towards_minus_one_fail(tmp_path, polarities, better):
    path = override(tmp_path, "adaboost", STUMP_BY_LOOPS.format(polarities=polarities, better=better))
    assert_fails(path, "fit_stump", "both polarities tie", also="expected (0,")


@pytest.mark.parametrize("polarities,better", [
    ("(1, -1)", "err < best"),  # no tolerance at all
    ("(1, -1)", "err < best - 1e-12"),  # an absolute tolerance
])
def test_ties_without_the_relative_tolerance_fail(tmp_path, polarities, better):
    path = override(tmp_path, "adaboost", STUMP_BY_LOOPS.format(polarities=polarities, better=better))
    assert_fails(path, "fit_stump", "1e-1", also="feature differs")


def test_tie_tolerance_not_scaled_by_the_total_weight_fails(tmp_path):
    path = mutant(tmp_path, get_exercise("adaboost"), "errors[j] <= best + TIE_TOL * total",
                  "errors[j] <= best + TIE_TOL")
    assert_fails(path, "fit_stump", "weights that do not sum to 1")


def test_stump_loops_with_the_tolerance_pass(tmp_path):
    """The loop-based stump search above, written correctly, passes: the cases test the
    contract, not the reference's summation order."""
    path = override(tmp_path, "adaboost", STUMP_BY_LOOPS.format(
        polarities="(1, -1)", better="err < best - 1e-12 * total"))
    for seed in SEEDS:
        assert grade_file(path, seed=seed).function("fit_stump").verdict == "pass"


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

TREE_BY_RECURSION = """
def _sse(v):
    return float(np.sum((v - v.mean()) ** 2)) if len(v) else 0.0


def fit_tree(X, r, max_depth, min_samples_leaf=1):
    # a recursive CART tree as tuples; a split is kept when {keep}
    X, r = np.asarray(X, dtype=float), np.asarray(r, dtype=float)
    if max_depth == 0 or np.all(r == r[0]):
        return ("leaf", float(np.mean(r)))
    node, best = _sse(r), None
    for j in range(X.shape[1]):
        values = np.unique(X[:, j])
        for a, b in zip(values[:-1], values[1:]):
            t = (a + b) / 2
            left = X[:, j] {side} t
            if min(left.sum(), (~left).sum()) < min_samples_leaf:
                continue
            gain = node - _sse(r[left]) - _sse(r[~left])
            if best is None or gain > best[0] + 1e-12 * node:
                best = (gain, j, t)
    if best is None or not ({keep}):
        return ("leaf", float(np.mean(r)))
    _, j, t = best
    left = X[:, j] {side} t
    return ("split", j, t, fit_tree(X[left], r[left], max_depth - 1, min_samples_leaf),
            fit_tree(X[~left], r[~left], max_depth - 1, min_samples_leaf))


def tree_predict(tree, X):
    out = []
    for x in np.asarray(X, dtype=float):
        node = tree
        while node[0] == "split":
            node = node[3] if x[node[1]] {side} node[2] else node[4]
        out.append(node[1])
    return np.array(out)
"""
CORRECT_TREE = dict(keep="best[0] > 1e-12 * node", side="<=")


def test_gbdt_reference_and_a_recursive_tree_pass(tmp_path):
    assert_reference_passes("gbdt")
    path = override(tmp_path, "gbdt", TREE_BY_RECURSION.format(**CORRECT_TREE))
    for seed in SEEDS:
        report = grade_file(path, seed=seed)
        assert report.passed, {f.name: f.explanation for f in report.functions if f.verdict != "pass"}


@pytest.mark.parametrize("style", ["recursive", "reference"])
def test_a_split_that_gains_nothing_fails(tmp_path, style):
    if style == "recursive":
        path = override(tmp_path, "gbdt", TREE_BY_RECURSION.format(keep="best[0] >= 0", side="<="))
    else:
        path = mutant(tmp_path, get_exercise("gbdt"), "if best is None or best <= TOL * sse:",
                      "if best is None:")
    assert_fails(path, "fit_tree", "a node whose best split gains nothing")


@pytest.mark.parametrize("style", ["recursive", "reference"])
def test_the_no_gain_rule_in_absolute_terms_fails(tmp_path, style):
    if style == "recursive":
        path = override(tmp_path, "gbdt", TREE_BY_RECURSION.format(keep="best[0] > 1e-12", side="<="))
    else:
        path = mutant(tmp_path, get_exercise("gbdt"), "if best is None or best <= TOL * sse:",
                      "if best is None or best <= TOL:")
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


def test_svm_primal_reference_passes():
    assert_reference_passes("svm_primal")


@pytest.mark.parametrize("first", ["np.flatnonzero(alpha > 0)[0]", "int(np.argmax(alpha > 1e-8))"])
def test_bias_from_the_first_support_vector_fails(tmp_path, first):
    path = mutant(tmp_path, get_exercise("svm_primal"),
                  "    if free.any():\n        return alpha, float(yg[free].mean())\n",
                  f"    return alpha, float(yg[{first}])\n")
    assert_fails(path, "fit_primal", "first support vector is bound", also="your w is right, your b is not")


# ---------------------------------------------------------------------------------------------
# SVM, dual form


def test_svm_dual_reference_passes():
    assert_reference_passes("svm_dual")


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


def test_l1_reference_and_fista_pass(tmp_path):
    assert_reference_passes("l1")
    path = override(tmp_path, "l1", """
    def lasso_fit(X, y, lam, n_iter=1000):
        # FISTA with step 1 / ||X||_2^2, run for 20 n_iter steps
        step = 1.0 / np.linalg.norm(X, 2) ** 2
        w = v = np.zeros(X.shape[1])
        t = 1.0
        for _ in range(20 * n_iter):
            u = v + step * (X.T @ (y - X @ v))
            w_next = np.sign(u) * np.maximum(np.abs(u) - step * lam, 0.0)
            t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
            v = w_next + (t - 1) / t_next * (w_next - w)
            w, t = w_next, t_next
        return w
    """)
    for seed in SEEDS:
        assert grade_file(path, seed=seed).function("lasso_fit").verdict == "pass"


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
