"""The grading process's side of grading: draw the cases, run the references, compare.

Called by :func:`mlquiz.grading.engine.grade_file`; every comparison and check happens here, never in
the learner's process, whose answers arrive as plain JSON data.
"""

from __future__ import annotations

import importlib
import inspect

import numpy as np

from mlquiz.grading import _child as wire
from mlquiz.curriculum import Exercise
from mlquiz.grading.report import FAIL, NOT_IMPLEMENTED, PASS, FunctionReport, failure_details
from mlquiz.grading.numeric import compare
from mlquiz.grading.references import load_reference
from mlquiz.grading.spec import Call, Case, FunctionSpec, Mismatch, Result


def load_specs(exercise: Exercise) -> list:
    """The FunctionSpecs of an exercise, in the order of its declared functions."""
    specs = importlib.import_module(f"mlquiz.specs.{exercise.id}").FUNCTIONS
    assert [s.name for s in specs] == list(exercise.functions), exercise.id
    return specs


def draw_cases(spec: FunctionSpec, seed: int, index: int) -> list:
    """The cases of function number ``index`` for ``seed`` (each function its own stream)."""
    return spec.cases(np.random.default_rng([seed, index]))


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


def grade_in_sandbox(sandbox, exercise: Exercise, seed: int, timeout: float, report, *,
                     on_function=None) -> None:
    """Draw every function's cases, run them in ``sandbox``, and append a FunctionReport per
    function to ``report``; ``on_function(function_report)`` is called as each is finished."""
    specs = load_specs(exercise)
    cases = [draw_cases(spec, seed, i) for i, spec in enumerate(specs)]
    jobs = [_encode_job(spec, case) for spec, spec_cases in zip(specs, cases) for case in spec_cases]
    run = sandbox.run(report.source, jobs, timeout)
    report.stdout, report.stderr = run.stdout, run.stderr
    reference = load_reference(exercise.id)

    job = 0
    for spec, spec_cases in zip(specs, cases):
        indices = range(job, job + len(spec_cases))
        job += len(spec_cases)
        report.functions.append(_judge_function(spec, spec_cases, indices, run, reference))
        on_function and on_function(report.functions[-1])


def _judge_function(spec, cases, indices, run, reference) -> FunctionReport:
    result = FunctionReport(spec.name, PASS, cases_total=len(cases))
    if run.import_error:
        error = run.import_error
        result.verdict = FAIL
        message = f"your file failed to load: {error['type']}: {error['message']}"
        if error["type"] == "ModuleNotFoundError":
            message += " (exercises run with numpy and the standard library only)"
        result.failure = failure_details(message, traceback=error.get("traceback") or None)
        return result
    if spec.name not in run.functions_defined:
        result.verdict = FAIL
        result.failure = failure_details(f"{spec.name} is not defined in your file")
        return result
    for case, index in zip(cases, indices):
        event = run.results.get(index)
        failure, not_implemented = _judge_case(spec, case, event, run, reference)
        if event is not None:
            result.seconds += event["seconds"]
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
        return failure_details(f"{spec.name} {reason}", **where), False
    error = event.get("error") or {}
    if error.get("type") == "NotImplementedError":
        raiser = error.get("function")
        if raiser and raiser != spec.name:  # e.g. tree_predict is graded on the learner's fit_tree
            return failure_details(f"{spec.name} is graded through your {raiser}, which is not implemented "
                            "yet (raises NotImplementedError)"), True
        return failure_details(f"{spec.name} is not implemented yet (raises NotImplementedError)"), True
    if case.raises:
        if error.get("type") == case.raises:
            return None, False
        what = f"raised {error.get('type')}" if not event.get("ok") else "returned a value"
        return failure_details(f"{spec.name} should raise {case.raises} here, but {what}", **where), False
    if not event.get("ok"):
        return failure_details(f"{spec.name} raised {error.get('type')}: {error.get('message')}",
                        traceback=error.get("traceback") or None, **where), False
    if event.get("warnings"):
        return failure_details(f"{spec.name} raised a numpy warning ({event['warnings'][0]}); "
                        "numerically careless code fails", **where), False
    if event.get("mutated"):
        return failure_details(f"{spec.name} modified its input in place ({', '.join(event['mutated'])}); "
                        "graded functions must not change their arguments", **where), False
    try:
        got = wire.decode(event.get("value"), np)
    except (ValueError, TypeError, KeyError, RecursionError):
        return failure_details(f"{spec.name} returned something mlquiz cannot read", **where), False
    problem = _unreadable(got)
    if problem:
        return failure_details(f"{spec.name} returned {problem}", **where), False

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
    return failure_details(mismatch.message, output=mismatch.output, max_abs_error=mismatch.max_abs_error,
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
