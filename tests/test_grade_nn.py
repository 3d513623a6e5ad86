"""The grader on the neural-network exercises: references pass, stubs are not implemented,
each classic mistake fails with the right words, and the finite-difference checks judge a
gradient without the reference's backward."""

import pytest

from conftest import mutant
from mlquiz.curriculum import data_dir, get_exercise
from mlquiz.grading.engine import grade_file
from mlquiz.grading.judge import draw_cases, load_specs

NN = ["backprop", "bn_forward", "bn_backward"]


@pytest.mark.parametrize("exercise", NN)
def test_reference_passes_and_stub_is_not_implemented(exercise):
    ex = get_exercise(exercise)
    report = grade_file(data_dir("reference") / ex.file)
    assert report.passed, [f.explanation for f in report.functions]
    stub = grade_file(data_dir("exercises") / ex.file)
    assert [f.verdict for f in stub.functions] == ["not_implemented"] * len(ex.functions)


def grade_variant(tmp_path, exercise, old, new):
    return grade_file(mutant(tmp_path, get_exercise(exercise), old, new), seed=11)


def failing(report):
    """Explanations of the functions that did not pass, by name."""
    return {f.name: f.explanation for f in report.functions if f.verdict != "pass"}


def test_dx_without_the_mean_of_gradient_term(tmp_path):
    report = grade_variant(tmp_path, "bn_backward", "dx_hat - dx_hat.mean(axis=0) - ", "dx_hat - ")
    (text,) = failing(report).values()
    assert "dx differs" in text and "mean-of-gradient term" in text


def test_unbiased_variance_used_to_normalise(tmp_path):
    report = grade_variant(tmp_path, "bn_forward", "var = ((x - mu) ** 2).mean(axis=0)",
                           "var = ((x - mu) ** 2).sum(axis=0) / max(len(x) - 1, 1)")
    assert set(failing(report)) == {"batchnorm_forward", "batchnorm_train_step"}
    assert "unbiased variance (N - 1)" in failing(report)["batchnorm_forward"]


def test_bn_backward_with_the_unbiased_variance(tmp_path):
    report = grade_variant(tmp_path, "bn_backward", "inv_std = 1 / np.sqrt(((x - mu) ** 2).mean(axis=0) + eps)",
                           "inv_std = 1 / np.sqrt(((x - mu) ** 2).sum(axis=0) / max(len(x) - 1, 1) + eps)")
    (text,) = failing(report).values()
    assert "unbiased one (N - 1)" in text


def test_db_not_summed_over_the_batch(tmp_path):
    report = grade_variant(tmp_path, "backprop", "return dz @ W.T, x.T @ dz, dz.sum(axis=0)",
                           "return dz @ W.T, x.T @ dz, dz")
    texts = failing(report)
    assert "db is not summed over the batch" in texts["dense_backward"]
    assert "db has shape" in texts["dense_backward"]


def test_output_error_without_the_sigmoid_derivative(tmp_path):
    report = grade_variant(tmp_path, "backprop", "delta = (a_out - y) * a_out * (1 - a_out)", "delta = a_out - y")
    texts = failing(report)
    assert list(texts) == ["backprop"]
    assert "misses the sigmoid's derivative" in texts["backprop"]


def test_running_variance_updated_with_the_biased_one(tmp_path):
    report = grade_variant(tmp_path, "bn_forward", "var_unbiased = ((x - mu) ** 2).sum(axis=0) / (n - 1)",
                           "var_unbiased = ((x - mu) ** 2).mean(axis=0)")
    texts = failing(report)
    assert list(texts) == ["batchnorm_train_step"]
    assert "new_running_var differs" in texts["batchnorm_train_step"]
    assert "unbiased one (N - 1) for the running estimate" in texts["batchnorm_train_step"]


def test_batch_of_one_is_graded(tmp_path):
    """Normalising with np.std(ddof=1) breaks only on a batch of one: that case must catch it."""
    report = grade_variant(tmp_path, "bn_forward", "return gamma * (x - mu) / np.sqrt(var + eps) + beta",
                           "return gamma * (x - mu) / np.sqrt(var + eps) + beta if len(x) > 1 else x")
    text = failing(report)["batchnorm_forward"]
    assert "batch of one" in text


def test_train_step_must_refuse_a_batch_of_one(tmp_path):
    report = grade_variant(tmp_path, "bn_forward", '        raise ValueError("batchnorm_train_step needs', '        pass  # ("')
    text = failing(report)["batchnorm_train_step"]
    assert "should raise ValueError" in text


@pytest.mark.parametrize("exercise, function, outputs", [
    ("bn_backward", "batchnorm_backward", 3),
    ("backprop", "dense_backward", 3),
])
def test_finite_differences_judge_without_the_reference_backward(exercise, function, outputs):
    """The check compares with differences of the forward pass: a correct gradient passes it,
    a slightly wrong one fails it, whatever the reference's backward says."""
    spec = next(s for s in load_specs(get_exercise(exercise)) if s.name == function)
    (check,) = spec.checks
    from mlquiz.grading.references import load_reference

    backward = getattr(load_reference(exercise), function)
    for case in draw_cases(spec, 5, 0):
        right = backward(*case.args, **case.kwargs)
        assert check.fn(case, right, None) is None
        wrong = (right[0] * 1.001 + 1e-3,) + tuple(right[1:])
        assert check.fn(case, wrong, None) is not None
