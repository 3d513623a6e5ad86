"""Notebooks graded from their code cells: IPython lines left out with a note, errors naming
the cell, through the real command line and through grade_file."""

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conftest import reference_source
from mlquiz.grading.engine import grade_file
from mlquiz.grading.notebook import python_of

MLQUIZ = str(Path(sys.executable).with_name("mlquiz"))


def run(*args):
    return subprocess.run([MLQUIZ, *map(str, args)], capture_output=True, text=True, timeout=300)


def notebook(path, cells):
    """Write a notebook whose cells are ``("md", text)`` or code text."""
    made = [new_markdown_cell(c[1]) if isinstance(c, tuple) else new_code_cell(c) for c in cells]
    nbformat.write(new_notebook(cells=made), str(path))
    return path


def split_functions(source: str) -> list:
    """A module's text cut into cells at each top-level ``def``."""
    cells, current = [], []
    for line in source.splitlines():
        if line.startswith("def ") and current:
            cells.append("\n".join(current))
            current = []
        current.append(line)
    cells.append("\n".join(current))
    return cells


def test_the_reference_split_over_cells_with_magics_and_shell_lines_passes(tmp_path):
    cells = [("md", "# L2 regularization\nMy notes, `%not code`."),
             "%matplotlib inline\n!pip list\nnp?\nresult = !ls\nt = %time 1 + 1",
             "%%bash\necho this is not Python",
             *split_functions(reference_source("l2"))]
    path = notebook(tmp_path / "work.ipynb", cells)
    result = run("grade", path, "--exercise", "l2", "--no-record")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASS") == 4
    for text in ("cell 2, line 1 left out (IPython, not Python): %matplotlib inline",
                 "cell 2, line 2 left out (IPython, not Python): !pip list",
                 "cell 2, line 3 left out", "cell 2, line 4 left out", "cell 2, line 5 left out",
                 "cell 3 left out: it starts with the cell magic %%bash"):
        assert "note: " + text in result.stdout
    data = json.loads(run("grade", path, "--exercise", "l2", "--no-record", "--json").stdout)
    assert data["passed"] and len(data["notes"]) == 6


def test_a_notebook_named_after_the_exercise_needs_no_exercise_option(tmp_path):
    path = notebook(tmp_path / "bn_backward.ipynb", ["import numpy as np", reference_source("bn_backward")])
    result = run("grade", path, "--no-record")
    assert result.returncode == 0 and "PASS  batchnorm_backward" in result.stdout


def test_a_wrong_implementation_in_a_notebook_fails(tmp_path):
    wrong = reference_source("bn_backward").replace("return dx,", "return 2 * dx,")
    path = notebook(tmp_path / "mine.ipynb", [wrong])
    result = run("grade", path, "--exercise", "bn_backward", "--no-record")
    assert result.returncode == 1 and "FAIL  batchnorm_backward" in result.stdout


def test_a_traceback_names_the_cell_and_its_line(tmp_path):
    source = reference_source("bn_backward")
    broken = source.replace("    return dx,", "    undefined_name\n    return dx,")
    cells = [("md", "intro"), "import numpy as np\n%load_ext autoreload", broken]
    line_in_cell = broken.splitlines().index("    undefined_name") + 1
    report = grade_file(notebook(tmp_path / "nb.ipynb", cells), exercise="bn_backward")
    failure = report.functions[0].failure
    assert f'File "nb.ipynb", cell 3, line {line_in_cell}, in batchnorm_backward' in failure["traceback"]
    assert "undefined_name" in failure["traceback"] and "NameError" in failure["message"]


def test_an_error_while_loading_names_the_cell(tmp_path):
    cells = ["import numpy as np", "x = 1", "\n\ny = 1 / 0"]
    report = grade_file(notebook(tmp_path / "nb.ipynb", cells), exercise="bn_backward")
    assert 'File "nb.ipynb", cell 3, line 3, in <module>' in report.file_problem


def test_a_syntax_error_names_the_cell(tmp_path):
    cells = [("md", "title"), "import numpy as np", "x = 1\n\ndef batchnorm_backward(:\n    pass"]
    result = run("grade", notebook(tmp_path / "nb.ipynb", cells), "-e", "bn_backward", "--no-record")
    assert result.returncode == 1
    assert "syntax error at cell 3, line 3" in result.stdout


def test_percent_and_bang_inside_python_are_kept(tmp_path):
    """A line that continues brackets or a string is Python, even when it starts with % or !."""
    code = python_of(notebook(tmp_path / "nb.ipynb", [
        "y = (7\n     % 4)\ntext = '''\n!not a shell line\n'''\nassert y == 3"])).source
    namespace = {}
    exec(code, namespace)
    assert namespace["y"] == 3 and "!not a shell line" in namespace["text"]


def test_line_numbers_map_back_to_cells(tmp_path):
    code = python_of(notebook(tmp_path / "nb.ipynb", [("md", "a"), "a = 1\nb = 2", ("md", "b"),
                                                       "", "c = 3\n%time c\nd = 4"]))
    lines = code.source.splitlines()
    assert [code.where(i + 1) for i, line in enumerate(lines)] == [
        "cell 2, line 1", "cell 2, line 2", "cell 4, line 1", "cell 5, line 1",
        "cell 5, line 2", "cell 5, line 3"]
    assert lines[4] == "pass" and lines[5] == "d = 4"


@pytest.mark.parametrize("content", ["{not json", '{"cells": "nonsense"}', "", "[1, 2]"])
def test_a_file_that_is_not_a_notebook_is_a_clear_usage_error(tmp_path, content):
    path = tmp_path / "broken.ipynb"
    path.write_text(content)
    result = run("grade", path, "-e", "bn_backward", "--no-record")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "is not a notebook that can be read" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_passing_notebook_is_recorded_and_unlocks_the_solution(tmp_path):
    path = notebook(tmp_path / "taylor.ipynb", [reference_source("taylor")])
    assert run("solution", "taylor").returncode == 1
    assert run("grade", path).returncode == 0
    shown = run("solution", "taylor")
    assert shown.returncode == 0 and "is the reference, line for line" in shown.stdout
