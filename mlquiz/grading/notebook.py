"""Grade a Jupyter notebook: its code cells, joined in order, are the learner's file.

``python_of(path)`` reads a ``.ipynb`` file with ``nbformat`` and returns a
:class:`NotebookCode`: the Python text of every code cell (top to bottom, one after another),
with what is not Python left out, and a map from a line of that text back to its cell. Left
out, each replaced by ``pass`` at the same indentation so that line numbers and blocks stay as
they were, and listed in ``notes``:

- IPython line magics (``%timeit f(x)``, ``x = %time f(x)``) and shell lines (``!pip ...``,
  ``files = !ls``), and help lines (``np.sum?``);
- whole cells that start with a cell magic (``%%time``, ``%%bash``).

Cells are numbered 1, 2, ... from the top of the notebook, markdown cells included, as a
learner counts them on screen. ``NotebookCode.locate`` rewrites the places in a report that
name a line of the joined text (a syntax error, a traceback) to name the cell and its line.
"""

from __future__ import annotations

import io
import re
import tempfile
import tokenize
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mlquiz.grading.report import GradingError

SUFFIX = ".ipynb"
_MAGIC = re.compile(r"^(\s*)(?:[%!]|[A-Za-z_][\w, ]*=\s*[%!])")  # %line, !shell, x = %magic
_HELP = re.compile(r"^(\s*)(?:\?+\S|[\w.\[\]()]+\?{1,2}\s*$)")  # ?name, name?, name??


def is_notebook(path) -> bool:
    return Path(path).suffix.lower() == SUFFIX


@dataclass
class NotebookCode:
    """The Python text of a notebook's code cells, and where each of its lines came from."""

    source: str
    name: str = "notebook"  # the notebook's file name, as tracebacks show it
    cell_of_line: list = field(default_factory=list)  # line number - 1 -> (cell, line in cell)
    notes: list = field(default_factory=list)  # what was left out, one sentence each

    def where(self, line: int) -> str:
        """``cell 3, line 2`` for line ``line`` (1-based) of ``source``."""
        if 1 <= line <= len(self.cell_of_line):
            cell, within = self.cell_of_line[line - 1]
            return f"cell {cell}, line {within}"
        return f"line {line}"

    def locate(self, text: str | None, filename: str) -> str | None:
        """``text`` with each ``File "<filename>", line N`` (a traceback) and a leading
        ``syntax error at line N`` or ``line N:`` (a problem found before running) naming
        the cell instead."""
        if not text:
            return text
        text = re.sub(rf'File "{re.escape(filename)}", line (\d+)',
                      lambda m: f'File "{self.name}", {self.where(int(m.group(1)))}', text)
        return re.sub(r"^(syntax error at |)line (\d+)",
                      lambda m: m.group(1) + self.where(int(m.group(2))), text)

    def locate_report(self, report, filename: str) -> None:
        """Name cells in every failure of ``report`` (a Report graded from ``filename``)."""
        report.file_problem = self.locate(report.file_problem, filename)
        for function in report.functions:
            if function.failure:
                for key in ("message", "traceback"):
                    function.failure[key] = self.locate(function.failure.get(key), filename)


@contextmanager
def as_python(path):
    """``(python_path, code)``: for a notebook, a temporary ``.py`` file holding its code and
    the NotebookCode (removed on exit); for any other file, ``(path, None)``."""
    if not is_notebook(path):
        yield Path(path), None
        return
    code = python_of(path)
    with tempfile.TemporaryDirectory(prefix="mlquiz-notebook-") as folder:
        python_path = Path(folder, Path(path).stem + ".py")
        python_path.write_text(code.source, encoding="utf-8")
        yield python_path, code


def python_of(path) -> NotebookCode:
    """The code cells of the notebook at ``path`` as one Python text (see the module
    docstring). Raises GradingError when the file is not a notebook nbformat can read."""
    import warnings

    import nbformat

    path = Path(path)
    try:
        with warnings.catch_warnings():  # nbformat warns about missing cell ids, old minor versions
            warnings.simplefilter("ignore")
            notebook = nbformat.read(str(path), as_version=4)
        cells = list(notebook.cells)
    except (OSError, UnicodeDecodeError) as exc:
        raise GradingError(f"cannot read {path}: {exc}") from None
    except Exception as exc:  # nbformat's errors: not JSON, not a notebook, unknown version
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GradingError(f"{path} is not a notebook that can be read ({reason})") from None
    code = NotebookCode("", name=path.name)
    lines = []
    for number, cell in enumerate(cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        text = cell.get("source") or ""
        text = "".join(text) if isinstance(text, list) else str(text)
        cell_lines = text.splitlines() or [""]
        if cell_lines[0].lstrip().startswith("%%"):
            code.notes.append(f"cell {number} left out: it starts with the cell magic "
                              f"{cell_lines[0].split()[0]}")
            cell_lines = ["pass"] + [""] * (len(cell_lines) - 1)
        else:
            for i, line in enumerate(cell_lines):
                match = _MAGIC.match(line) or _HELP.match(line)
                if match and _starts_statement(cell_lines[:i]):
                    code.notes.append(f"cell {number}, line {i + 1} left out (IPython, not "
                                      f"Python): {line.strip()}")
                    cell_lines[i] = f"{match.group(1)}pass"
        lines += cell_lines
        code.cell_of_line += [(number, i + 1) for i in range(len(cell_lines))]
    code.source = "".join(line + "\n" for line in lines)
    return code


def _starts_statement(previous: list) -> bool:
    """Does a line after the lines ``previous`` of a cell begin a statement (rather than
    continue brackets, a string or a backslash)? ``(a\\n % b)`` is Python, not a magic."""
    try:
        for _ in tokenize.generate_tokens(io.StringIO("".join(l + "\n" for l in previous)).readline):
            pass
    except (tokenize.TokenError, SyntaxError):
        return False
    return True
