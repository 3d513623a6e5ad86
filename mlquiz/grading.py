"""The grading engine: run a learner's file on seeded random cases and judge every function.

``grade_file(path)`` returns a :class:`Report`. The learner's functions run in the sandbox
(``mlquiz.sandbox``); the references, the independent checks and every comparison run here,
in the grading process. See ``mlquiz/spec.py`` for what a spec declares.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mlquiz import _child as wire
from mlquiz.curriculum import Exercise, get_exercise
from mlquiz.numeric import compare
from mlquiz.references import load_reference
from mlquiz.sandbox import run_jobs
from mlquiz.spec import Call, Case, FunctionSpec, Mismatch, Result

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
                if failure.get(key) is not None and not np.isfinite(failure[key]):
                    failure[key] = str(failure[key])  # JSON has no inf
        return data


def grade_file(path, exercise: str | None = None, seed: int | None = None,
               timeout: float | None = None, memory_mb: int = DEFAULT_MEMORY_MB) -> Report:
    """Grade the learner's file ``path`` (the exercise is recognised from its name unless
    ``exercise`` is given). ``seed`` defaults to a fresh random one, printed in the report."""
    started = time.perf_counter()
    path = Path(path)
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
    specs = load_specs(found)

    try:
        report.source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        report.source = path.read_bytes().decode("utf-8", errors="replace")
        problem = "your file is not UTF-8 text"
    else:
        problem = _static_problem(path, report.source)
    if problem:
        report.functions = [FunctionReport(s.name, FAIL, failure=_failure(problem)) for s in specs]
    else:
        _grade_in_sandbox(path, found, specs, seed, timeout, memory_mb, report)
    report.seconds = time.perf_counter() - started
    return report


def load_specs(exercise: Exercise) -> list:
    specs = importlib.import_module(f"mlquiz.specs.{exercise.id}").FUNCTIONS
    assert [s.name for s in specs] == list(exercise.functions), exercise.id
    return specs


def draw_cases(spec: FunctionSpec, seed: int, index: int) -> list:
    """The cases of function number ``index`` for ``seed`` (each function its own stream)."""
    return spec.cases(np.random.default_rng([seed, index]))


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


def _failure(message, **details) -> dict:
    failure = dict(case=None, shapes=None, output=None, message=message, max_abs_error=None,
                   max_rel_error=None, rtol=None, atol=None, mistake=None, traceback=None)
    failure.update(details)
    return failure


def _calls(spec: FunctionSpec, case: Case) -> list:
    return [Call(spec.name, case.args, case.kwargs), *case.then]


def _encode_job(spec, case):
    return {"function": spec.name,
            "calls": [{"function": c.function, "args": [wire.encode(a, np) for a in c.args],
                       "kwargs": {k: wire.encode(v, np) for k, v in c.kwargs.items()}}
                      for c in _calls(spec, case)]}


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)):
        return type(value)(_copy(v) for v in value)
    return value


def run_reference(module, spec: FunctionSpec, case: Case):
    """The reference's output on a case (chained calls included), on copies of the inputs."""
    results = []

    def resolve(value):
        if isinstance(value, Result):
            return results[value.index]
        if isinstance(value, Call):  # an argument computed by another function of the module
            return getattr(module, value.function)(*[resolve(a) for a in value.args],
                                                   **{k: resolve(v) for k, v in value.kwargs.items()})
        if isinstance(value, (list, tuple)):
            return type(value)(resolve(v) for v in value)
        return _copy(value)

    for call in _calls(spec, case):
        function = getattr(module, call.function)
        results.append(function(*[resolve(a) for a in call.args],
                                **{k: resolve(v) for k, v in call.kwargs.items()}))
    return results[-1]


def _grade_in_sandbox(path, exercise, specs, seed, timeout, memory_mb, report):
    cases = [draw_cases(spec, seed, i) for i, spec in enumerate(specs)]
    jobs, owners = [], []
    for spec, spec_cases in zip(specs, cases):
        for case in spec_cases:
            jobs.append(_encode_job(spec, case))
            owners.append((spec, case))
    run = run_jobs(path.resolve(), report.source, jobs, timeout, memory_mb)
    report.stdout, report.stderr = run.stdout, run.stderr
    reference = load_reference(exercise.id)

    job = 0
    for spec, spec_cases in zip(specs, cases):
        indices = range(job, job + len(spec_cases))
        job += len(spec_cases)
        report.functions.append(_judge_function(spec, spec_cases, indices, run, reference))


def _judge_function(spec, cases, indices, run, reference) -> FunctionReport:
    result = FunctionReport(spec.name, PASS, cases_total=len(cases))
    if run.import_error:
        error = run.import_error
        result.verdict = FAIL
        result.failure = _failure(f"your file failed to load: {error['type']}: {error['message']}",
                                  traceback=error.get("traceback") or None)
        return result
    if spec.name not in run.functions_defined:
        result.verdict = FAIL
        result.failure = _failure(f"{spec.name} is not defined in your file")
        return result
    for case, index in zip(cases, indices):
        event = run.results.get(index)
        failure, not_implemented = _judge_case(spec, case, event, run, reference)
        if event is not None:
            result.seconds += float(event.get("seconds", 0.0) or 0.0)
        if not_implemented:
            result.verdict = NOT_IMPLEMENTED
            result.failure = failure
            return result
        if failure:
            result.cases_failed += 1
            if result.failure is None:
                result.failure = failure
    if result.cases_failed:
        result.verdict = FAIL
    return result


def _judge_case(spec, case, event, run, reference):
    """(failure dict or None, not_implemented) for one case."""
    where = dict(case=case.label, shapes=case.shapes(_parameter_names(reference, spec.name)))
    if event is None:
        reason = run.function_errors.get(spec.name, "the case did not run")
        return _failure(f"{spec.name} {reason}", **where), False
    error = event.get("error") or {}
    if error.get("type") == "NotImplementedError":
        raiser = error.get("function")
        if raiser and raiser != spec.name:  # e.g. tree_predict is graded on the learner's fit_tree
            return _failure(f"{spec.name} is graded through your {raiser}, which is not implemented "
                            "yet (raises NotImplementedError)"), True
        return _failure(f"{spec.name} is not implemented yet (raises NotImplementedError)"), True
    if case.raises:
        if error.get("type") == case.raises:
            return None, False
        what = f"raised {error.get('type')}" if not event.get("ok") else "returned a value"
        return _failure(f"{spec.name} should raise {case.raises} here, but {what}", **where), False
    if not event.get("ok"):
        return _failure(f"{spec.name} raised {error.get('type')}: {error.get('message')}",
                        traceback=error.get("traceback") or None, **where), False
    if event.get("warnings"):
        return _failure(f"{spec.name} raised a numpy warning ({event['warnings'][0]}); "
                        "numerically careless code fails", **where), False
    if event.get("mutated"):
        return _failure(f"{spec.name} modified its input in place ({', '.join(event['mutated'])}); "
                        "graded functions must not change their arguments", **where), False
    try:
        got = wire.decode(event.get("value"), np)
    except (ValueError, TypeError, KeyError):
        return _failure(f"{spec.name} returned something mlquiz cannot read", **where), False
    problem = _unreadable(got)
    if problem:
        return _failure(f"{spec.name} returned {problem}", **where), False

    expected = run_reference(reference, spec, case)
    mismatch = _compare_outputs(spec, got, expected) if spec.compare_to_reference else None
    for check in spec.checks:
        if mismatch:
            break
        verdict = check.fn(case, got, expected)
        if isinstance(verdict, str):
            verdict = Mismatch(spec.outputs[0], verdict)
        if verdict:
            verdict.message = f"{check.name}: {verdict.message}"
            mismatch = verdict
    if not mismatch:
        return None, False
    return _failure(mismatch.message, output=mismatch.output, max_abs_error=mismatch.max_abs_error,
                    max_rel_error=mismatch.max_rel_error, rtol=mismatch.rtol, atol=mismatch.atol,
                    mistake=_matching_mistake(spec, case, got), **where), False


def _parameter_names(module, name) -> tuple:
    return tuple(inspect.signature(getattr(module, name)).parameters)


def _unreadable(value) -> str | None:
    if value is None:
        return "None (is a `return` missing?)"
    if isinstance(value, wire.Opaque):
        return f"a {value.type_name} object where numbers were expected"
    if isinstance(value, (list, tuple)):
        for item in value:
            problem = _unreadable(item)
            if problem:
                return problem
    return None


def _compare_outputs(spec, got, expected) -> Mismatch | None:
    rtol, atol = (0.0, 0.0) if spec.exact else (spec.rtol, spec.atol)
    if len(spec.outputs) == 1:
        return compare(got, expected, rtol, atol, spec.outputs[0])
    if not isinstance(got, (list, tuple)) or len(got) != len(spec.outputs):
        count = len(got) if isinstance(got, (list, tuple)) else "a single value"
        return Mismatch(spec.outputs[0], f"expected {len(spec.outputs)} values "
                        f"({', '.join(spec.outputs)}), got {count}")
    for name, g, e in zip(spec.outputs, got, expected):
        mismatch = compare(g, e, rtol, atol, name)
        if mismatch:
            return mismatch
    return None


def _matching_mistake(spec, case, got) -> str | None:
    for mistake in spec.mistakes:
        try:
            with np.errstate(all="ignore"):
                wrong = mistake.fn(*_copy(case.args), **_copy(case.kwargs))
        except Exception:  # a mistake formula may not apply to every case
            continue
        if isinstance(wrong, (list, tuple)) and len(spec.outputs) > 1:
            matched = len(wrong) == len(got) and all(
                compare(g, w, mistake.rtol, mistake.atol) is None for g, w in zip(got, wrong))
        else:
            matched = compare(got, wrong, mistake.rtol, mistake.atol) is None
        if matched:
            return mistake.message
    return None
