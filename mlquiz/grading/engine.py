"""The grading engine: run a learner's file on seeded random cases and judge every function.

``grade_file(path)`` returns a :class:`~mlquiz.grading.report.Report`. The learner's functions
run in the sandbox (``mlquiz.grading.sandbox``); the cases, the references, the independent
checks and every comparison run in the grading process (``mlquiz.grading.judge``). See
``mlquiz/grading/spec.py`` for what a spec declares. This module does not import numpy, so
that the sandbox's child can start first and load its own numpy while this process loads the
rest.
"""

from __future__ import annotations

import ast
import os
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from mlquiz.curriculum import UnknownExercise, get_exercise, require_exercise
from mlquiz.grading import sandbox as sandboxes
from mlquiz.grading.notebook import as_python, is_notebook
from mlquiz.grading.report import (DEFAULT_MEMORY_MB, FAIL, FunctionReport, GradingError, Report,
                                   SandboxRequired)
from mlquiz.grading.sandbox import Sandbox, SandboxUnavailable

FORBIDDEN_MODULES = ("mlquiz", "reference")
MAX_SEED = 2**32 - 1


def grade_file(path, exercise: str | None = None, seed: int | None = None,
               timeout: float | None = None, memory_mb: int = DEFAULT_MEMORY_MB, *,
               on_function=None, require_sandbox: bool = False) -> Report:
    """Grade the learner's file ``path``, a Python file or a notebook (the exercise is
    recognised from its name unless ``exercise`` is given). ``seed`` defaults to a fresh
    random one, printed in the report. ``on_function(function_report)`` is called as each
    function's verdict is ready. ``report.sandbox`` says which layers of the sandbox held;
    with ``require_sandbox`` a missing one is a ``SandboxRequired`` error, raised before any
    of the learner's code runs."""
    started = time.perf_counter()
    path = Path(path)
    if path.is_dir():
        raise GradingError(f"{path} is a folder; grade one file, or every file in it with --all")
    if not path.is_file():
        raise GradingError(f"no such file: {path}")
    if exercise:
        try:
            found = require_exercise(exercise)
        except UnknownExercise as exc:
            raise GradingError(str(exc)) from None
    else:
        found = get_exercise(path.stem if is_notebook(path) else path.name)
    if found is None:
        raise GradingError(f"cannot tell which exercise {path.name} is; name the file after an "
                           "exercise (e.g. bn_backward.py) or pass --exercise NAME")
    # a fresh seed from the system's randomness (``secrets`` costs a few ms to import)
    seed = int.from_bytes(os.urandom(4), "little") % 2**31 if seed is None else int(seed)
    if not 0 <= seed <= MAX_SEED:
        raise GradingError(f"a seed is a whole number from 0 to {MAX_SEED}, not {seed}")
    timeout = found.timeout if timeout is None else float(timeout)
    report = Report(found.id, f"{found.title_en} ({found.title_zh})", str(path), seed,
                    timeout=timeout, memory_mb=memory_mb)
    with as_python(path) as (python_path, notebook):  # a notebook's code cells as a .py file
        try:
            report.source = python_path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            report.source = python_path.read_bytes().decode("utf-8", errors="replace")
            problem = "your file is not UTF-8 text"
        else:
            problem = _static_problem(python_path, report.source)
        if problem:
            report.file_problem = notebook.locate(problem, str(python_path)) if notebook else problem
            report.functions = [FunctionReport(name, FAIL) for name in found.functions]
            for function in report.functions:
                on_function and on_function(function)
        else:
            with interruptible(), Sandbox(python_path.resolve(), memory_mb, len(found.functions),
                                          timeout, require=require_sandbox) as sandbox:
                from mlquiz.grading import judge  # numpy, the specs and the references, while the child starts

                try:
                    judge.grade_in_sandbox(sandbox, found, seed, timeout, report,
                                           on_function=on_function)
                except SandboxUnavailable as exc:
                    raise SandboxRequired(
                        f"not graded: {exc}; grading with --require-sandbox needs every layer "
                        "(`mlquiz doctor` lists them)") from None
            report.sandbox = sandbox.layers
        if notebook:
            notebook.locate_report(report, str(python_path.resolve()))
            report.notes = notebook.notes
    report.seconds = time.perf_counter() - started
    return report


@contextmanager
def interruptible():
    """SIGTERM and SIGHUP (a closed terminal, a batch system's timeout) end grading as Ctrl-C
    does: every child's process group is killed at once, KeyboardInterrupt unwinds the
    sandboxes (their scratch folders removed) and nothing is recorded. Only the main thread can
    handle signals; grading in another thread relies on the main thread's ``interruptible``."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised = []

    def stop(signum, frame):
        sandboxes.interrupt()
        if not raised:  # once: a second signal must not break the cleanup of the first
            raised.append(signum)
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
        sandboxes.resume()


def _static_problem(path: Path, source: str) -> str | None:
    """What is wrong with the file before running it: a syntax error, or importing mlquiz's
    own implementation."""
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        where = f"line {exc.lineno}" + (f", column {exc.offset}" if exc.offset else "")
        text = (exc.text or "").rstrip()
        return f"syntax error at {where}: {exc.msg}" + (f"\n    {text}" if text else "")
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value] if node.value.split(".")[0] in FORBIDDEN_MODULES else []
        for name in names:
            if name.split(".")[0] in FORBIDDEN_MODULES:
                return (f"line {node.lineno}: your file uses {name!r}; an exercise must be your own "
                        "code (numpy and the standard library only), not mlquiz's reference")
    return None
