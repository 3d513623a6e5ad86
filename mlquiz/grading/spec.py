"""What a grading spec declares for each graded function.

A spec module ``mlquiz/specs/<exercise id>.py`` defines ``FUNCTIONS``, a list of
:class:`FunctionSpec`, one per function named in ``curriculum.toml``, in the same order.

For every function the engine

1. draws the cases from ``cases(rng)`` (``rng`` is ``numpy.random.default_rng([seed, index])``, one stream per function);
2. runs the learner's function on each case in a sandboxed child process (inputs are copies;
   a case may chain further calls, e.g. a fit followed by the learner's own predict);
3. in the grading process, compares the learner's output with the reference's output on the
   same inputs (``compare_to_reference``, within ``rtol``/``atol``), then runs every
   independent :class:`Check` (finite differences, closed forms, optimality conditions);
4. for a failing case, evaluates each :class:`Mistake` on the case's inputs and, when the
   learner's output matches one, names the classic mistake in plain words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Result:
    """Placeholder for the value returned by call number ``index`` of the same case
    (0 is the graded function's own call). Lets a case chain ``fit`` into ``predict``."""

    index: int = 0


@dataclass
class Call:
    """A further call in a case: ``function(*args, **kwargs)``, args may hold :class:`Result`.

    A Call may also stand as an argument: it is evaluated first, with the same side's
    functions (the learner's in the sandbox, the reference's here), e.g.
    ``Case("depth 2", (Call("fit_tree", (X, r, 2)), X_test))`` grades ``tree_predict`` on the
    learner's own tree."""

    function: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass
class Case:
    """One set of inputs for the graded function.

    ``label`` says what the case exercises ("N=1 batch of one", "|z| up to 1e3").
    The graded output is the result of the last call: the function's own call, or the last of
    ``then`` (for instance ``Call("tree_predict", (Result(0), X_test))``).
    Both the learner's and the reference's functions are called the same way.
    ``raises`` names an exception the call must raise instead (e.g. "ValueError").
    """

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    then: tuple = ()
    raises: str | None = None

    def shapes(self, names=()) -> dict:
        """The arguments as reports show them: arrays by shape, {"x": [4, 3], "eps": 1e-05}.
        ``names`` are the parameter names of the graded function (else arg1, arg2, ...)."""
        import numpy as np

        described = {}
        for i, value in enumerate(self.args):
            name = names[i] if i < len(names) else f"arg{i + 1}"
            described[name] = _describe(value, np)
        for name, value in self.kwargs.items():
            described[name] = _describe(value, np)
        return described


def _describe(value, np):
    if isinstance(value, np.ndarray):
        return list(value.shape)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, np.ndarray) for v in value):
        return [list(v.shape) for v in value]
    if isinstance(value, (int, float, str)):
        return value
    if isinstance(value, Call):
        return f"{value.function}(...)"
    return type(value).__name__


@dataclass
class Mismatch:
    """Why an output is wrong: which output, and by how much."""

    output: str
    message: str
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    rtol: float | None = None
    atol: float | None = None


@dataclass
class Check:
    """An independent check of the learner's output.

    ``fn(case, got, expected)`` returns ``None`` when the check holds, otherwise a
    :class:`Mismatch` or a message string. ``got`` is the learner's output converted to floats
    (arrays, or tuples/lists of them); ``expected`` is the reference's output on the same case.
    """

    name: str
    fn: Callable[[Case, Any, Any], "Mismatch | str | None"]


@dataclass
class Mistake:
    """A classic mistake: ``fn(*case.args, **case.kwargs)`` returns what the mistaken formula
    gives. When the learner's failing output matches it, ``message`` is shown."""

    message: str
    fn: Callable[..., Any]
    rtol: float = 1e-6
    atol: float = 1e-8


@dataclass
class FunctionSpec:
    """How one function is graded.

    outputs: names of the returned values in order, e.g. ("dx", "dgamma", "dbeta");
        a single name means the function returns one value.
    cases: rng -> list of Case.
    compare_to_reference: compare with the reference's output within rtol/atol; turn it off
        where the answer is not unique (fits graded on their objective) and use checks.
    discrete: the result is discrete, compared and shown as such: several numbers (a stump:
        integers exactly, floats within rtol/atol, "expected (1, 0.35, +1), got (0, 0.35, +1)")
        or one array of labels, compared exactly ("12 of 40 labels differ").
    """

    name: str
    cases: Callable[[Any], list]
    outputs: tuple = ("out",)
    rtol: float = 1e-7
    atol: float = 1e-10
    compare_to_reference: bool = True
    checks: tuple = ()
    mistakes: tuple = ()
    discrete: bool = False
