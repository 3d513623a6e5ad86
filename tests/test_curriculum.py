"""Consistency of the curriculum: every declared exercise has a reference, a stub with the same
interface, and a grading spec; its stub is "not implemented", its reference passes, and a
slightly perturbed reference fails every function, which proves the grader can fail."""

import ast
import os
import re
from pathlib import Path

import pytest

from conftest import reference_source
from mlquiz.curriculum import data_dir, exercises
from mlquiz.grading.engine import grade_file
from mlquiz.grading.judge import load_specs

CURRICULUM_MD = Path(__file__).resolve().parents[2] / "shared" / "CURRICULUM.md"
IDS = [ex.id for ex in exercises()]


def test_declarations_match_the_curriculum_table():
    if not CURRICULUM_MD.is_file():
        # CI lays shared/ beside the clone: missing there, the contract is not checked at all.
        assert not os.environ.get("CI"), f"{CURRICULUM_MD} is missing in CI"
        pytest.skip("shared/CURRICULUM.md is not beside this checkout")
    rows = re.findall(r"^\| (\w+) \| [^|]+ \| exercises/([\w.]+) \| ([^|]+) \|$", CURRICULUM_MD.read_text(), re.M)
    table = {topic: (file, re.findall(r"`(\w+)`", functions)) for topic, file, functions in rows}
    declared = {ex.id: (ex.file, list(ex.functions)) for ex in exercises()}
    assert declared == table


def _public_functions(path):
    tree = ast.parse(path.read_text())
    return {node.name: (ast.unparse(node.args), ast.get_docstring(node))
            for node in tree.body if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")}


@pytest.mark.parametrize("exercise", exercises(), ids=IDS)
def test_stub_mirrors_the_reference(exercise):
    reference = _public_functions(data_dir("reference") / exercise.file)
    stub = _public_functions(data_dir("exercises") / exercise.file)
    assert set(exercise.functions) <= set(reference)
    assert stub == reference, "a stub keeps the reference's signatures and docstrings"
    for node in ast.parse((data_dir("exercises") / exercise.file).read_text()).body:
        if isinstance(node, ast.FunctionDef):
            last = node.body[-1]
            assert isinstance(last, ast.Raise) and "NotImplementedError" in ast.unparse(last), node.name


@pytest.mark.parametrize("exercise", exercises(), ids=IDS)
def test_every_function_has_a_docstring_with_hints_declared(exercise):
    reference = _public_functions(data_dir("reference") / exercise.file)
    for name in exercise.functions:
        assert reference[name][1], f"{name} has no docstring"
    assert 2 <= len(exercise.hints) <= 3
    assert [s.name for s in load_specs(exercise)] == list(exercise.functions)


@pytest.mark.parametrize("exercise", exercises(), ids=IDS)
def test_stub_is_not_implemented(exercise):
    report = grade_file(data_dir("exercises") / exercise.file)
    assert [f.verdict for f in report.functions] == ["not_implemented"] * len(exercise.functions)


@pytest.mark.parametrize("exercise", exercises(), ids=IDS)
def test_reference_passes(exercise):
    report = grade_file(data_dir("reference") / exercise.file)
    assert report.passed, {f.name: f.explanation for f in report.functions if f.verdict != "pass"}


PERTURB = '''

def _mlquiz_perturbed(value):
    """Nudge every number a function returns: floats by 1% (and 0.01), integers by one."""
    import numpy as _np
    if isinstance(value, (bool, _np.bool_, str)) or value is None:
        return value
    if isinstance(value, (int, _np.integer)):
        return value + 1
    if isinstance(value, (float, _np.floating)):
        return value * 1.01 + 0.01
    if isinstance(value, _np.ndarray):
        if value.dtype.kind == "f":
            return value * 1.01 + 0.01
        return value + 1 if value.dtype.kind in "iu" else value
    if isinstance(value, (list, tuple)):
        return type(value)(_mlquiz_perturbed(v) for v in value)
    if isinstance(value, dict):
        return {k: _mlquiz_perturbed(v) for k, v in value.items()}
    return value


def _mlquiz_wrap(function):
    def wrapped(*args, **kwargs):
        return _mlquiz_perturbed(function(*args, **kwargs))
    return wrapped


for _name in NAMES:
    globals()[_name] = _mlquiz_wrap(globals()[_name])
'''


@pytest.mark.parametrize("exercise", exercises(), ids=IDS)
def test_perturbed_reference_fails_every_function(exercise, submission):
    source = reference_source(exercise.id) + PERTURB.replace("NAMES", repr(list(exercise.functions)))
    report = grade_file(submission(exercise.id, source), seed=2024)
    passing = [f.name for f in report.functions if f.verdict != "fail"]
    assert not passing, f"the grader did not catch a 1% error in {passing}"
