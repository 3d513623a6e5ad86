"""The grading engine: run a learner's file on seeded random cases and judge every function.

``grade_file(path)`` returns a :class:`Report`. The learner's functions run in the sandbox
(``mlquiz.sandbox``); the cases, the references, the independent checks and every comparison
run here, in the grading process (``mlquiz.judging``). See ``mlquiz/spec.py`` for what a spec
declares. This module does not import numpy, so that the sandbox's child can start first and
load its own numpy while this process loads the rest.
"""

from __future__ import annotations

import ast
import math
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mlquiz.curriculum import get_exercise
from mlquiz.sandbox import Sandbox

DEFAULT_MEMORY_MB = 1024
FORBIDDEN_MODULES = ("mlquiz", "reference")

PASS, FAIL, NOT_IMPLEMENTED = "pass", "fail", "not_implemented"


class GradingError(Exception):
    """A usage error: no such file, unknown exercise. The CLI exits with 2."""


@dataclass
class FunctionReport:
    """The verdict on one function.

    ``failure`` (None when it passed) holds the first failing case: ``case`` (its label),
    ``shapes``, ``output`` (which returned value is wrong), ``message``, ``max_abs_error``,
    ``max_rel_error``, ``rtol``, ``atol``, ``mistake`` (a classic mistake it matches) and
    ``traceback`` (trimmed to the learner's file), any of which may be None.
    """

    name: str
    verdict: str
    cases_total: int = 0
    cases_failed: int = 0
    seconds: float = 0.0
    failure: dict | None = None

    @property
    def explanation(self) -> str:
        """The failure in words, on one or more lines ("" for a pass)."""
        if self.failure is None:
            return ""
        f = self.failure
        lines = [f["message"]]
        errors = [f"{label} {f[key]:.3g}" for key, label in
                  (("max_abs_error", "max abs error"), ("max_rel_error", "max rel error"))
                  if f.get(key) is not None]
        tolerances = [f"{key} {f[key]:g}" for key in ("rtol", "atol") if f.get(key) is not None]
        if errors:
            lines[0] += ": " + ", ".join(errors) + (f" ({', '.join(tolerances)})" if tolerances else "")
        if f.get("case"):
            shapes = ", ".join(f"{k} {v}" for k, v in (f.get("shapes") or {}).items())
            lines.append(f"first failing case: {f['case']}" + (f" [{shapes}]" if shapes else ""))
        if f.get("mistake"):
            lines.append(f"looks like a classic mistake: {f['mistake']}")
        if f.get("traceback"):
            lines.append(f["traceback"].rstrip())
        return "\n".join(lines)


@dataclass
class Report:
    exercise: str
    title: str
    file: str
    seed: int
    functions: list = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    timeout: float = 0.0
    memory_mb: int = DEFAULT_MEMORY_MB
    seconds: float = 0.0
    source: str = field(default="", repr=False)  # the text graded (stored with the verdict)

    @property
    def passed(self) -> bool:
        return all(f.verdict == PASS for f in self.functions)

    def function(self, name: str) -> FunctionReport:
        return next(f for f in self.functions if f.name == name)

    def to_dict(self) -> dict:
        data = asdict(self)
        del data["source"]
        data["passed"] = self.passed
        for entry, report in zip(data["functions"], self.functions):
            entry["explanation"] = report.explanation
            failure = entry["failure"] or {}
            for key in ("max_abs_error", "max_rel_error"):
                if failure.get(key) is not None and not math.isfinite(failure[key]):
                    failure[key] = str(failure[key])  # JSON has no inf
        return data


def grade_file(path, exercise: str | None = None, seed: int | None = None,
               timeout: float | None = None, memory_mb: int = DEFAULT_MEMORY_MB) -> Report:
    """Grade the learner's file ``path`` (the exercise is recognised from its name unless
    ``exercise`` is given). ``seed`` defaults to a fresh random one, printed in the report."""
    started = time.perf_counter()
    path = Path(path)
    if path.is_dir():
        raise GradingError(f"{path} is a folder; grade one file, or every file in it with --all")
    if not path.is_file():
        raise GradingError(f"no such file: {path}")
    found = get_exercise(exercise or path.name)
    if found is None:
        if exercise:
            raise GradingError(f"unknown exercise {exercise!r}; `mlquiz topics` lists them")
        raise GradingError(f"cannot tell which exercise {path.name} is; name the file after an "
                           "exercise (e.g. bn_backward.py) or pass --exercise NAME")
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    timeout = found.timeout if timeout is None else float(timeout)
    report = Report(found.id, f"{found.title_en} ({found.title_zh})", str(path), seed,
                    timeout=timeout, memory_mb=memory_mb)
    try:
        report.source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        report.source = path.read_bytes().decode("utf-8", errors="replace")
        problem = "your file is not UTF-8 text"
    else:
        problem = _static_problem(path, report.source)
    if problem:
        report.functions = [FunctionReport(name, FAIL, failure=failure_details(problem)) for name in found.functions]
    else:
        with Sandbox(path.resolve(), memory_mb, len(found.functions), timeout) as sandbox:
            from mlquiz import judging  # numpy, the specs and the references, while the child starts

            judging.grade_in_sandbox(sandbox, found, seed, timeout, report)
    report.seconds = time.perf_counter() - started
    return report


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


def failure_details(message, **details) -> dict:
    failure = dict(case=None, shapes=None, output=None, message=message, max_abs_error=None,
                   max_rel_error=None, rtol=None, atol=None, mistake=None, traceback=None)
    failure.update(details)
    return failure
