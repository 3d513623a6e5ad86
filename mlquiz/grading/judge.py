"""The grading process's side of grading: draw the cases, run the references, compare.

Called by :func:`mlquiz.grading.engine.grade_file`; every comparison and check happens here, never in
the learner's process, whose answers arrive as plain JSON data.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import stat
import tempfile
import threading
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from mlquiz.grading import _child as wire
from mlquiz.curriculum import Exercise
from mlquiz.grading.report import (DEFAULT_MEMORY_MB, FAIL, NOT_IMPLEMENTED, PASS, FunctionReport,
                                   failure_details)
from mlquiz.grading.numeric import compare, compare_discrete
from mlquiz.grading.references import load_reference
from mlquiz.grading.spec import Call, Case, FunctionSpec, Mismatch, Result


def load_specs(exercise: Exercise) -> list:
    """The FunctionSpecs of an exercise, in the order of its declared functions."""
    specs = importlib.import_module(f"mlquiz.specs.{exercise.id}").FUNCTIONS
    assert [s.name for s in specs] == list(exercise.functions), exercise.id
    return specs


def draw_cases(spec: FunctionSpec, seed: int, index: int) -> list:
    """The cases of function number ``index`` for ``seed`` (each function its own stream), with
    every scalar argument a plain Python float or int (as the curriculum types them)."""
    cases = spec.cases(np.random.default_rng([seed, index]))
    for case in cases:
        case.args, case.kwargs = plain(case.args), plain(case.kwargs)
        case.then = tuple(plain(call) for call in case.then)
    return cases


def plain(value):
    """``value`` with numpy scalars turned into Python floats, ints and bools, inside tuples,
    lists, dicts and :class:`Call` arguments too (arrays, 0-d ones included, stay arrays)."""
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, Call):
        return Call(value.function, plain(value.args), plain(value.kwargs))
    return value


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
    function to ``report`` (or set ``report.file_problem`` when the file did not load);
    ``on_function(function_report)`` is called as each is finished (before root causes are
    named: they need every function's verdict)."""
    with quiet():
        _grade_in_sandbox(sandbox, exercise, seed, timeout, report, on_function)


def _grade_in_sandbox(sandbox, exercise, seed, timeout, report, on_function) -> None:
    specs = load_specs(exercise)
    cases = [draw_cases(spec, seed, i) for i, spec in enumerate(specs)]
    jobs = [_encode_job(spec, case) for spec, spec_cases in zip(specs, cases) for case in spec_cases]
    reference = load_reference(exercise.id)
    expected = _Expected(reference, [(spec, case) for spec, spec_cases in zip(specs, cases) for case in spec_cases])
    run = sandbox.run(report.source, jobs, timeout, meanwhile=expected.compute_all)
    report.stdout, report.stderr = run.stdout, run.stderr
    if run.import_error:
        report.file_problem = _load_problem(run, report.memory_mb)
        report.functions = [FunctionReport(spec.name, FAIL, cases_total=len(c))
                            for spec, c in zip(specs, cases)]
        for function in report.functions:
            on_function and on_function(function)
        return
    context = dict(exercise=exercise.id, seed=seed, file=report.file)
    job = 0
    for spec, spec_cases in zip(specs, cases):
        indices = range(job, job + len(spec_cases))
        job += len(spec_cases)
        report.functions.append(_judge_function(spec, spec_cases, indices, run, expected, context))
        on_function and on_function(report.functions[-1])
    _name_root_causes(report, specs, cases)


_quiet_lock = threading.Lock()
_quiet_users = 0
_quiet_filters = None


@contextmanager
def quiet():
    """mlquiz's own formulas (cases, references, checks, mistakes) may warn ("Degrees of
    freedom <= 0" on a batch of one); the learner sees none of it. Warnings are silenced while
    any thread grades (catch_warnings alone is not thread-safe: the first grader in installs
    the filter, the last one out restores it); numpy's error state is per thread."""
    global _quiet_users, _quiet_filters
    with _quiet_lock:
        if _quiet_users == 0:
            _quiet_filters = warnings.catch_warnings()
            _quiet_filters.__enter__()
            warnings.simplefilter("ignore")
        _quiet_users += 1
    try:
        with np.errstate(all="ignore"):
            yield
    finally:
        with _quiet_lock:
            _quiet_users -= 1
            if _quiet_users == 0:
                _quiet_filters.__exit__(None, None, None)


def _load_problem(run, memory_mb) -> str:
    """Why the file did not load, said once for the whole file."""
    error = run.import_error
    if run.memory_needed_mb:
        return (f"--memory {memory_mb} MB is too small: numpy alone takes {run.memory_needed_mb} MB in "
                f"the process that runs your code; allow more (the default is {DEFAULT_MEMORY_MB} MB)")
    message = f"your file failed to load: {error['type']}: {error['message']}"
    if error["type"] == "ModuleNotFoundError":
        message += " (exercises run with numpy and the standard library only)"
    if error.get("traceback"):
        message += "\n" + error["traceback"].rstrip()
    return message


class _Expected:
    """The references' outputs on the cases (``jobs``: (spec, case) in job order), computed
    while the learner's child runs (:meth:`compute_all`) or else when first needed."""

    def __init__(self, reference, jobs):
        self.reference, self.jobs, self.outputs = reference, jobs, {}

    def compute_all(self):
        for index, (spec, case) in enumerate(self.jobs):
            if not case.raises:
                try:
                    self.outputs[index] = run_reference(self.reference, spec, case)
                except Exception:  # noqa: BLE001 (raised again, where it is needed)
                    pass

    def __getitem__(self, index):
        if index not in self.outputs:
            spec, case = self.jobs[index]
            self.outputs[index] = run_reference(self.reference, spec, case)
        return self.outputs[index]


def _judge_function(spec, cases, indices, run, expected, context) -> FunctionReport:
    """The one place where a function's report is finished: every case judged, the first
    failure kept (with its inputs and values, and saved for the learner)."""
    result = FunctionReport(spec.name, PASS, cases_total=len(cases))
    if spec.name not in run.functions_defined:
        result.verdict = FAIL
        result.failure = failure_details(f"{spec.name} is not defined in your file")
        return result
    first = None
    for case, index in zip(cases, indices):
        event = run.results.get(index)
        failure, not_implemented = _judge_case(spec, case, event, run, expected, index)
        if event is not None:
            result.seconds += event["seconds"]
        if not_implemented:
            result.verdict = NOT_IMPLEMENTED
            result.failure = failure
            return result
        if failure:
            result.cases_failed += 1
            if result.failure is None:
                result.failure, first = failure, (case, event, index)
    if result.cases_failed:
        result.verdict = FAIL
        if result.failure.get("case"):
            show_case(result.failure, spec, *first, expected, context)
    return result


def _judge_case(spec, case, event, run, expected, index):
    """(failure dict or None, not_implemented) for case number ``index``."""
    reference = expected.reference
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
    problem = _unreadable(got) or _low_precision(spec, got)
    if problem:
        return failure_details(f"{spec.name} returned {problem}", **where), False

    wanted = expected[index]
    mismatch = _compare_outputs(spec, got, wanted) if spec.compare_to_reference else None
    for check in spec.checks:
        if mismatch:
            break
        verdict = check.fn(case, got, wanted)
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


def _low_precision(spec, got) -> str | None:
    """A float result held in less than float64 (float32, float16), whatever its values.
    Labels are exempt: predictions of -1 and +1 may be of any numeric dtype."""
    if spec.discrete and len(spec.outputs) == 1:
        return None
    single = len(spec.outputs) == 1 or not isinstance(got, (list, tuple))
    for name, value in ([(spec.outputs[0], got)] if single else zip(spec.outputs, got)):
        dtype = _narrow_dtype(value)
        if dtype:
            return (f"{name} in {dtype}; results are computed in float64 (float32 rounding hides "
                    "inside loose tolerances and fails elsewhere): keep every array float64")
    return None


def _narrow_dtype(value) -> str | None:
    if isinstance(value, np.ndarray):
        return str(value.dtype) if value.dtype.kind == "f" and value.dtype.itemsize < 8 else None
    if isinstance(value, (list, tuple)):
        return next((d for d in map(_narrow_dtype, value) if d), None)
    return None


def _compare_outputs(spec, got, expected) -> Mismatch | None:
    if spec.discrete:
        return compare_discrete(got, expected, spec.outputs, spec.rtol, spec.atol)
    if len(spec.outputs) == 1:
        return compare(got, expected, spec.rtol, spec.atol, spec.outputs[0])
    if not isinstance(got, (list, tuple)) or len(got) != len(spec.outputs):
        count = len(got) if isinstance(got, (list, tuple)) else "a single value"
        return Mismatch(spec.outputs[0], f"expected {len(spec.outputs)} values "
                        f"({', '.join(spec.outputs)}), got {count}")
    for name, g, e in zip(spec.outputs, got, expected):
        mismatch = compare(g, e, spec.rtol, spec.atol, name)
        if mismatch:
            return mismatch
    return None


def _matching_mistake(spec, case, got) -> str | None:
    """The classic mistake the learner's output matches, when exactly one does (when several
    fit, the output cannot tell them apart and none is named)."""
    matched = []
    for mistake in spec.mistakes:
        try:
            wrong = mistake.fn(*_copy(case.args), **_copy(case.kwargs))
        except Exception:  # a mistake formula may not apply to every case
            continue
        if isinstance(wrong, (list, tuple)) and len(spec.outputs) > 1:
            same = isinstance(got, (list, tuple)) and len(wrong) == len(got) and all(
                compare(g, w, mistake.rtol, mistake.atol) is None for g, w in zip(got, wrong))
        else:
            same = compare(got, wrong, mistake.rtol, mistake.atol) is None
        if same and mistake.message not in matched:
            matched.append(mistake.message)
    return matched[0] if len(matched) == 1 else None


# ---------------------------------------------------------------------------------------------
# The failing case in the learner's hands

SHOWN_ELEMENTS = 24  # arrays up to this size are shown whole, larger ones by their first rows
SHOWN_ROWS = 3


def case_folder() -> Path:
    """Where failing cases are saved: ``mlquiz-cases-<user>`` in the temporary folder."""
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return Path(tempfile.gettempdir(), f"mlquiz-cases-{user}")


def _private(folder: Path) -> bool:
    """The folder is a real directory of this user's that no one else may write in (a shared
    temporary folder must not let another user plant files or links there)."""
    info = os.lstat(folder)
    mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return stat.S_ISDIR(info.st_mode) and mine and not info.st_mode & 0o022


def show_case(failure, spec, case, event, index, expected, context) -> None:
    """Add the first failing case's inputs, expected and returned values to ``failure`` (the
    case is number ``index`` of ``expected``, the references' outputs), and save the case to an
    .npz file with a two-line snippet that replays it in Python."""
    reference = expected.reference
    arrays = {}
    call = Call(spec.name, case.args, case.kwargs)
    rendered = [_render_call(call, reference, arrays, "")]
    for extra in case.then:
        rendered.append(_render_call(extra, reference, arrays, "", rendered))
    failure["inputs"] = {name: _show(value) for name, value in _named_args(call, reference)}
    if event is not None and event.get("ok") and not case.raises:
        try:
            got, wanted = wire.decode(event.get("value"), np), expected[index]
            prefix = ""
            if failure.get("output") in spec.outputs and len(spec.outputs) > 1 \
                    and isinstance(got, (list, tuple)) and len(got) == len(spec.outputs):
                output = spec.outputs.index(failure["output"])  # only the wrong output
                got, wanted, prefix = got[output], wanted[output], f"{failure['output']} = "
            failure["got"], failure["expected"] = (prefix + _show(got, prefix), prefix + _show(wanted, prefix))
        except Exception:  # shown for information only; the verdict stands without it
            pass
    name = f"{context['exercise']}-{spec.name}-seed{context['seed']}.npz"
    try:
        folder = case_folder()
        folder.mkdir(mode=0o700, exist_ok=True)
        if not _private(folder):
            return
        np.savez(folder / name, **arrays)
    except OSError:
        return
    path = folder / name
    failure["case_file"] = str(path)
    failure["snippet"] = (f"import numpy as np, runpy; ns = runpy.run_path({str(Path(context['file']).resolve())!r}); "
                          f"c = np.load({str(path)!r})\n{rendered[-1]}")


def _named_args(call, module):
    names = _parameter_names(module, call.function)
    return [(names[i] if i < len(names) else f"arg{i + 1}", v) for i, v in enumerate(call.args)] + \
        list(call.kwargs.items())


def _render_call(call, module, arrays, prefix, earlier=()) -> str:
    """Python source calling the learner's ``call.function`` as the case does, with arrays
    read from the npz file ``c`` (their keys stored in ``arrays``)."""
    parts = []
    for name, value in _named_args(call, module):
        text = _render(value, module, arrays, prefix + name, earlier)
        parts.append(text if name not in call.kwargs else f"{name}={text}")
    return f'ns["{call.function}"]({", ".join(parts)})'


def _render(value, module, arrays, key, earlier) -> str:
    if isinstance(value, np.ndarray):
        arrays[key] = value
        return f'c["{key}"]'
    if isinstance(value, Result):
        return earlier[value.index]
    if isinstance(value, Call):
        return _render_call(value, module, arrays, key + "_", earlier)
    if isinstance(value, (list, tuple)):
        items = [_render(v, module, arrays, f"{key}_{i}", earlier) for i, v in enumerate(value)]
        if isinstance(value, tuple):
            return f"({', '.join(items)}{',' if len(items) == 1 else ''})"
        return f"[{', '.join(items)}]"
    return repr(value)


def _show(value, prefix="") -> str:
    """A value as the report shows it: small arrays whole, large ones by their first rows
    (their lines aligned as if ``prefix`` came first)."""
    if isinstance(value, wire.Opaque):
        return repr(value)
    if isinstance(value, Call):
        return f"your {value.function}(...)"
    if isinstance(value, (list, tuple)):
        opening, closing = ("(", ",)" if len(value) == 1 else ")") if isinstance(value, tuple) else ("[", "]")
        items = [_show(v, prefix + " ") for v in value]
        flat = opening + ", ".join(items) + closing
        if len(flat) + len(prefix) <= 96 and "\n" not in flat:
            return flat
        return opening + (",\n" + " " * (len(prefix) + 1)).join(items) + closing  # one item a line
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return f"{value:.10g}"
    if not isinstance(value, np.ndarray):
        return repr(value)
    options = dict(precision=10, separator=", ", max_line_width=96, threshold=10**6, prefix=prefix)
    if value.size <= SHOWN_ELEMENTS or value.ndim == 0:
        return np.array2string(value, **options)
    head = np.array2string(value[:SHOWN_ROWS] if value.ndim > 1 else value[:SHOWN_ELEMENTS // 2], **options)
    return f"{head[:-1]}, ...]  (shape {value.shape}, first {SHOWN_ROWS if value.ndim > 1 else SHOWN_ELEMENTS // 2} shown)"


# ---------------------------------------------------------------------------------------------
# Root causes: a failing function that calls another failing graded function


def _name_root_causes(report, specs, cases) -> None:
    """Add "fix sigmoid first: gradient calls it" to a failing function that reaches another
    failing graded function through the file's own call graph (its AST), or through the calls
    its cases chain (gbdt_predict is graded on the learner's gbdt_fit), when that function
    does not reach it back. Only the deepest such functions are named; functions that reach
    each other (a fit graded through its predict, the predict on its fit) cannot be told apart
    and are not named for each other."""
    failing = {f.name for f in report.functions if f.verdict == FAIL and f.failure}
    if len(failing) < 2:
        return
    calls = call_graph(report.source)
    graph = {name: set(callees) for name, callees in calls.items()}
    for spec, spec_cases in zip(specs, cases):
        for case in spec_cases:
            graph.setdefault(spec.name, set()).update(_chained(case) - {spec.name})
    reach = {name: _reachable(graph, name) for name in failing}
    for f in report.functions:
        if f.name not in failing:
            continue
        causes = {g for g in reach[f.name] & failing if f.name not in reach[g]}
        # the deepest: every cause it reaches reaches it back (the same cycle)
        roots = sorted(g for g in causes if all(g in reach[h] for h in reach[g] & causes))
        groups = []  # roots that reach each other are graded with each other: named together
        for root in roots:
            group = next((g for g in groups if root in reach[g[0]]), None)
            group.append(root) if group else groups.append([root])
        if groups:
            f.failure["root_cause"] = "; ".join(_fix_first(graph, calls, f.name, group) for group in groups)


def _fix_first(graph, calls, caller, group) -> str:
    how = _how_it_depends(graph, calls, caller, group[0])
    if len(group) == 1:
        return f"fix {group[0]} first: {how}"
    return (f"fix {' or '.join(group)} first (each is graded with the other): "
            + how.replace(" it", " " + group[0], 1))


def _how_it_depends(graph, calls, caller, callee) -> str:
    """"f calls it" or "f calls it through g" along a shortest path of the file's call graph;
    "f depends on it through g" when the path also goes through a case's chained call."""
    path = _shortest_path(calls, caller, callee)
    verb = "calls it"
    if path is None:
        path, verb = _shortest_path(graph, caller, callee), "depends on it"
    between = path[1:-1]
    return f"{caller} {verb}" + (f" through {', '.join(between)}" if between else "")


def _shortest_path(graph, start, goal) -> list | None:
    paths, queue = {start: [start]}, [start]
    for name in queue:  # breadth first: the queue grows while it is walked
        for next_name in sorted(graph.get(name, ())):
            if next_name not in paths:
                paths[next_name] = paths[name] + [next_name]
                queue.append(next_name)
    return paths.get(goal)


def call_graph(source: str) -> dict:
    """{top-level function name: names of the file's top-level functions it calls directly}."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    functions = {node.name: node for node in tree.body
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    graph = {}
    for name, node in functions.items():
        called = {sub.func.id for sub in ast.walk(node)
                  if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name)}
        graph[name] = called & set(functions) - {name}
    return graph


def _reachable(graph, name) -> set:
    seen, stack = set(), [name]
    while stack:
        for callee in graph.get(stack.pop(), ()):
            if callee not in seen:
                seen.add(callee)
                stack.append(callee)
    return seen - {name}


def _chained(case) -> set:
    """Names of the functions a case calls besides the graded one (Call arguments, then)."""
    names = set()

    def visit(value):
        if isinstance(value, Call):
            names.add(value.function)
            for v in (*value.args, *value.kwargs.values()):
                visit(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                visit(v)

    visit(case.args)
    visit(tuple(case.kwargs.values()))
    visit(case.then)
    return names
