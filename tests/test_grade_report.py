"""What a report says and hands over: float64 results, arguments typed as the curriculum
types them, one file-level problem, the failing case shown and saved, no warnings of mlquiz's
own, bad options refused. Real files, the real sandbox and the real CLI."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import mutant
from mlquiz.curriculum import exercises, get_exercise
from mlquiz.grading.engine import grade_file

MLQUIZ = str(Path(sys.executable).with_name("mlquiz"))

# one function per exercise whose result is floating point
FLOAT_RESULT = {"backprop": "dense_forward", "bn_forward": "batchnorm_forward",
                "bn_backward": "batchnorm_backward", "l2": "l2_grad", "l1": "soft_threshold",
                "priors": "gaussian_neg_log_prior", "logistic_regression": "predict_proba",
                "svm_primal": "hinge_subgradient", "svm_dual": "rbf_kernel",
                "adaboost": "update_weights", "gbdt": "negative_gradient", "taylor": "split_gain"}

NARROWED = """

def _narrow(value):
    if isinstance(value, (tuple, list)):
        return type(value)(_narrow(v) for v in value)
    return np.asarray(value, dtype=np.{dtype}) if np.asarray(value).dtype.kind == "f" else value


_wide_{name} = {name}


def {name}(*args, **kwargs):
    return _narrow(_wide_{name}(*args, **kwargs))
"""


def run(*args, cwd=None):
    return subprocess.run([MLQUIZ, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_a_float32_result_fails_in_every_exercise(tmp_path, exercise):
    name = FLOAT_RESULT[exercise.id]
    dtype = "float16" if exercise.id in ("l2", "taylor") else "float32"
    path = mutant(tmp_path, exercise, append=NARROWED.format(name=name, dtype=dtype))
    f = grade_file(path, seed=0).function(name)
    assert f.verdict == "fail"
    assert f"returned {dtype}" not in f.explanation  # the output is named, then its dtype
    assert f" in {dtype}; results are computed in float64" in f.explanation, f.explanation


ARGUMENT_TYPES = {
    "bn_forward": ("def batchnorm_forward(x, gamma, beta, eps=1e-5):\n",
                   "    assert type(eps) is float, type(eps)\n"),
    "logistic_regression": ("def fit(X, y, lr=0.1, n_iter=1000):\n",
                            "    assert type(lr) is float and type(n_iter) is int, (type(lr), type(n_iter))\n"),
    "gbdt": ("def fit_tree(X, r, max_depth, min_samples_leaf=1):\n",
             "    assert type(max_depth) is int and type(min_samples_leaf) is int\n"),
    "svm_dual": ('def smo_fit(X, y, C, kernel="linear", gamma=1.0, tol=1e-3, max_iter=100000):\n',
                 "    assert type(C) is float and type(gamma) is float and type(max_iter) is int\n"),
    "adaboost": ("def compute_alpha(err):\n", "    assert type(err) is float, type(err)\n"),
    "l1": ("def lasso_fit(X, y, lam, n_iter=1000):\n",
           "    assert type(lam) is float and type(n_iter) is int, (type(lam), type(n_iter))\n"),
}


@pytest.mark.parametrize("exercise_id", sorted(ARGUMENT_TYPES))
def test_float_arguments_arrive_as_python_floats_and_ints_as_ints(tmp_path, exercise_id):
    signature, check = ARGUMENT_TYPES[exercise_id]
    exercise = get_exercise(exercise_id)
    source = exercise.reference_path.read_text()
    end_of_docstring = source.index('"""\n', source.index('"""', source.index(signature)) + 3) + 4
    path = tmp_path / exercise.file
    path.write_text(source[:end_of_docstring] + check + source[end_of_docstring:])
    report = grade_file(path, seed=3)
    assert report.passed, {f.name: f.explanation for f in report.functions if f.verdict != "pass"}


@pytest.mark.parametrize("source,problem", [
    ("import numpy as np\n\ndef batchnorm_backward(dout, x, gamma eps=1e-5):\n    pass\n",
     "syntax error at line 3"),
    ("import numpy as np\nraise RuntimeError('half-written')\n", "RuntimeError: half-written"),
    ("from reference.bn_backward import batchnorm_backward\n", "not mlquiz's reference"),
])
def test_a_file_level_problem_is_reported_once(tmp_path, source, problem):
    path = tmp_path / "bn_backward.py"
    path.write_text(source)
    report = grade_file(path, seed=0)
    assert problem in report.file_problem
    assert all(f.verdict == "fail" and f.failure is None for f in report.functions)
    out = run("grade", path, "--no-record").stdout
    assert problem in out and out.count("cannot be graded") == 1
    assert "Reproduce this run" not in out


def test_a_file_that_is_not_utf8_is_one_problem(tmp_path):
    path = tmp_path / "logistic_regression.py"
    path.write_bytes(b"# caf\xe9\nimport numpy as np\n")
    report = grade_file(path, seed=0)
    assert "not UTF-8" in report.file_problem
    assert len(report.functions) == 7 and all(f.failure is None for f in report.functions)


def test_the_failing_case_is_shown_and_saved_and_replays(tmp_path):
    path = mutant(tmp_path, get_exercise("l2"), "return lam * np.asarray(w, dtype=float)",
                  "return 2 * lam * np.asarray(w, dtype=float)")
    f = grade_file(path, seed=5).function("l2_grad")
    failure = f.failure
    assert set(failure["inputs"]) == {"w", "lam"} and failure["expected"] and failure["got"]
    assert "expected: " in f.explanation and "got: " in f.explanation
    saved = Path(failure["case_file"])
    assert saved.suffix == ".npz" and str(saved) in f.explanation
    lines = failure["snippet"].splitlines()
    assert len(lines) == 2
    replay = subprocess.run([sys.executable, "-c", f"{lines[0]}\nprint(repr(({lines[1]}).tolist()))"],
                            capture_output=True, text=True, timeout=60)
    assert replay.returncode == 0, replay.stderr
    # the replay gives the learner's (wrong) values: twice the reference's
    with np.load(saved) as case:
        w = case["w"]
    lam = float(failure["inputs"]["lam"])
    np.testing.assert_allclose(eval(replay.stdout), 2 * lam * w)


def test_large_inputs_are_shown_by_their_first_rows(tmp_path):
    path = mutant(tmp_path, get_exercise("bn_backward"), "dout.sum(axis=0)\n",
                  "dout.mean(axis=0)\n")
    f = grade_file(path, seed=0).function("batchnorm_backward")
    shown = [text for text in f.failure["inputs"].values() if "shape" in text]
    assert all("first" in text for text in shown)
    assert all(len(text.splitlines()) <= 6 for text in f.failure["inputs"].values())


def test_mlquizs_own_warnings_are_never_shown(tmp_path):
    """The classic-mistake formulas evaluated on a batch of one warn ("Degrees of freedom
    <= 0"); nothing of it reaches the learner."""
    path = mutant(tmp_path, get_exercise("bn_backward"), "    return dx, (dout * x_hat)",
                  "    return dx + 1e-3, (dout * x_hat)")
    result = run("grade", path, "--no-record", "--seed", "0")
    assert result.returncode == 1 and "batchnorm_backward" in result.stdout
    assert "Warning" not in result.stdout + result.stderr
    assert "Degrees of freedom" not in result.stdout + result.stderr


@pytest.mark.parametrize("seed", ["-1", str(2**32), "abc"])
def test_a_seed_out_of_range_is_a_usage_error(seed):
    result = run("grade", get_exercise("taylor").reference_path, "--seed", seed, "--no-record")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "--seed" in result.stderr


def test_the_largest_seed_works():
    result = run("grade", get_exercise("taylor").reference_path, "--seed", str(2**32 - 1), "--no-record")
    assert result.returncode == 0, result.stdout + result.stderr


def test_too_little_memory_for_numpy_says_so():
    result = run("grade", get_exercise("taylor").reference_path, "--memory", "64", "--no-record")
    assert result.returncode == 1
    assert "--memory 64 MB is too small" in result.stdout
    assert "sys.exit" not in result.stdout


def test_a_classic_mistake_is_named_only_when_it_is_the_one_that_fits():
    from mlquiz.grading.judge import _matching_mistake
    from mlquiz.grading.spec import Case, FunctionSpec, Mistake

    case = Case("x", (np.array([1.0, 2.0]),))
    doubled = Mistake("doubled", lambda x: 2 * x)
    squared = Mistake("squared", lambda x: x**2)  # 2x and x^2 agree at 2, not at 1
    spec = FunctionSpec("f", cases=lambda rng: [case], mistakes=(doubled, squared))
    assert _matching_mistake(spec, case, np.array([2.0, 4.0])) == "doubled"
    at_two = Case("x", (np.array([2.0]),))
    assert _matching_mistake(spec, at_two, np.array([4.0])) is None  # both fit: neither is named


def test_the_json_report_holds_the_file_problem(tmp_path):
    import json

    path = tmp_path / "taylor.py"
    path.write_text("def taylor_polynomial(:\n")
    data = json.loads(run("grade", path, "--json", "--no-record").stdout)
    assert "syntax error" in data["file_problem"] and not data["passed"]


def test_labels_may_be_of_any_numeric_dtype(tmp_path):
    """The curriculum: predictions of -1 and +1 may be of any numeric dtype, float32 included."""
    path = mutant(tmp_path, get_exercise("adaboost"), append="""

_predict = adaboost_predict


def adaboost_predict(model, X):
    return _predict(model, X).astype(np.float32)
""")
    assert grade_file(path, seed=0).function("adaboost_predict").verdict == "pass"


def test_a_case_is_not_saved_in_a_folder_others_may_write(tmp_path, monkeypatch):
    from mlquiz.grading import judge

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setattr(judge, "case_folder", lambda: shared)
    path = mutant(tmp_path, get_exercise("l2"), "return lam * np.asarray(w, dtype=float)",
                  "return 2 * lam * np.asarray(w, dtype=float)")
    f = grade_file(path, seed=5).function("l2_grad")
    assert f.failure["case_file"] is None and f.failure["got"]
    assert list(shared.iterdir()) == []
