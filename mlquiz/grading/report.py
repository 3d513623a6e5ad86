"""What grading returns: a :class:`Report` of one :class:`FunctionReport` per function.

The verdicts are ``PASS``, ``FAIL`` and ``NOT_IMPLEMENTED``. A failure is a dict built by
:func:`failure_details`. Nothing here imports numpy: the CLI and the schedule read reports too.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

DEFAULT_MEMORY_MB = 1024

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
    sandbox: dict = field(default_factory=dict)  # {layer: True or why it is missing} (isolation.LAYERS)
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


def failure_details(message, **details) -> dict:
    failure = dict(case=None, shapes=None, output=None, message=message, max_abs_error=None,
                   max_rel_error=None, rtol=None, atol=None, mistake=None, traceback=None)
    failure.update(details)
    return failure
