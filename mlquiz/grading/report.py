"""What grading returns: a :class:`Report` of one :class:`FunctionReport` per function.

The verdicts are ``PASS``, ``FAIL`` and ``NOT_IMPLEMENTED``. A failure is a dict built by
:func:`failure_details`. Nothing here imports numpy: the CLI and the schedule read reports too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

DEFAULT_MEMORY_MB = 1024

PASS, FAIL, NOT_IMPLEMENTED = "pass", "fail", "not_implemented"


class GradingError(Exception):
    """A usage error: no such file, unknown exercise. The CLI exits with 2."""


class SandboxRequired(GradingError):
    """``--require-sandbox`` and a layer of the sandbox is missing: nothing was graded."""


@dataclass
class FunctionReport:
    """The verdict on one function.

    ``failure`` (None when it passed) holds the first failing case: ``case`` (its label),
    ``shapes``, ``output`` (which returned value is wrong), ``message``, ``max_abs_error``,
    ``max_rel_error``, ``rtol``, ``atol``, ``mistake`` (the one classic mistake it matches),
    ``traceback`` (trimmed to the learner's file), ``root_cause`` ("fix sigmoid first: gradient
    calls it"), ``inputs`` (name -> the value as text), ``expected`` and ``got`` (as text),
    ``case_file`` (the case saved as .npz) and ``snippet`` (two lines of Python that load it
    and call the learner's function), any of which may be None.
    """

    name: str
    verdict: str
    cases_total: int = 0
    cases_failed: int = 0
    seconds: float = 0.0
    failure: dict | None = None

    @property
    def explanation(self) -> str:
        """The failure in words, on one or more lines ("" for a pass), in English (as
        ``--json`` gives it)."""
        return self.explain(_untranslated)

    def explain(self, _: Callable[[str], str] | None = None) -> str:
        """The failure in words, its labels in the learner's language (``_``: a gettext, by
        default ``mlquiz.i18n._``); the spec's own diagnostics stay as written."""
        if self.failure is None:
            return ""
        if _ is None:
            from mlquiz.i18n import _
        f = self.failure
        lines = [f["message"]]
        if f.get("root_cause"):
            lines.insert(0, f["root_cause"])
        errors = [label.format(error=f"{f[key]:.3g}") for key, label in
                  (("max_abs_error", _("max abs error {error}")),
                   ("max_rel_error", _("max rel error {error}")))
                  if f.get(key) is not None]
        tolerances = [f"{key} {f[key]:g}" for key in ("rtol", "atol") if f.get(key) is not None]
        if errors:
            lines[-1] += ": " + ", ".join(errors) + (f" ({', '.join(tolerances)})" if tolerances else "")
        if f.get("mistake"):
            lines.append(_("looks like a classic mistake: {mistake}").format(mistake=f["mistake"]))
        if f.get("case"):
            shapes = ", ".join(f"{k} {v}" for k, v in (f.get("shapes") or {}).items())
            lines.append(_("first failing case: {case}").format(case=f["case"])
                         + (f" [{shapes}]" if shapes else ""))
        for name, text in (f.get("inputs") or {}).items():
            lines.append(_labelled(f"  {name} = ", text))
        for key, label in (("expected", _("expected: ")), ("got", _("got: "))):
            if f.get(key) is not None:
                lines.append(_labelled("  " + label, f[key]))
        if f.get("case_file"):
            lines.append(_("this case is saved in {file}; to replay it in Python:")
                         .format(file=f["case_file"]))
            lines.extend("    " + line for line in f["snippet"].splitlines())
        if f.get("traceback"):
            lines.append(f["traceback"].rstrip())
        return "\n".join(lines)


def _untranslated(message: str) -> str:
    return message


def _labelled(label, text) -> str:
    """``label`` then ``text``, its continuation lines indented under the first."""
    from mlquiz.i18n import columns

    return label + text.replace("\n", "\n" + " " * columns(label))


@dataclass
class Report:
    """The verdict on one file. ``file_problem`` says why the whole file could not be graded
    (a syntax error, not UTF-8, an import that fails or is forbidden, too little memory for
    numpy), once for the file; every function then fails without a failure of its own."""

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
    file_problem: str | None = None
    sandbox: dict = field(default_factory=dict)  # {layer: True or why it is missing} (isolation.LAYERS)
    source: str = field(default="", repr=False)  # the text graded (stored with the verdict)
    notes: list = field(default_factory=list)  # what grading left out, e.g. a notebook's magics

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


def failure_details(message, **details) -> dict:
    failure = dict(case=None, shapes=None, output=None, message=message, max_abs_error=None,
                   max_rel_error=None, rtol=None, atol=None, mistake=None, traceback=None,
                   root_cause=None, inputs=None, expected=None, got=None, case_file=None,
                   snippet=None)
    failure.update(details)
    return failure
