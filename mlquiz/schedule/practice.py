"""What the practice loop asks of the schedule: for ``mlquiz watch``, the verdicts the
schedule holds for files as they are now, recording each graded save (one review per
exercise a session: ``review=False`` after the first) and hints (:class:`ScheduleLink`); and
for ``mlquiz solution``, the reference once the learner's own file has passed."""

from __future__ import annotations

import json
from dataclasses import dataclass

from mlquiz.curriculum import Exercise
from mlquiz.i18n import _, ngettext
from mlquiz.schedule.attempts import Attempt, attempts, get_attempt, record_reports, untouched
from mlquiz.schedule.hints import record_hint
from mlquiz.schedule.items import ScheduleError, exercise_named, open_schedule
from mlquiz.schedule.store import StoreError


class NotPassedYet(ScheduleError):
    """The solution of an exercise is asked for before the learner's own file passed."""


def recorded_or_why(result) -> tuple[Attempt | None, str | None]:
    """An answer of ``record_reports`` as ``(attempt, None)``, or ``(None, why)`` for a file
    that is not a review (an untouched stub, or whatever the schedule's rules say)."""
    if isinstance(result, Attempt):
        return result, None
    return None, getattr(result, "reason", None) or untouched()


class ScheduleLink:
    """The schedule at ``db`` (None: the default database) as a watch session uses it."""

    def __init__(self, db=None):
        self.db = db

    def stored(self, exercise_ids) -> dict:
        """exercise id -> (source, {function: verdict}) of its latest stored attempt, when
        that is a graded file; {} when the database cannot be read (the verdicts are only a
        shortcut: the files are graded instead)."""
        result = {}
        try:
            with open_schedule(self.db) as store:
                for exercise_id in exercise_ids:
                    try:
                        row = get_attempt(store, exercise_id)
                    except ScheduleError:
                        continue
                    if row["kind"] != "graded" or not row["report"]:
                        continue
                    try:
                        verdicts = {f["name"]: f["verdict"] for f in json.loads(row["report"])["functions"]}
                    except (ValueError, KeyError, TypeError):
                        continue
                    result[exercise_id] = (row["source"], verdicts)
        except (StoreError, ScheduleError):
            return {}
        return result

    def record(self, report, review: bool = True) -> tuple:
        """Record a graded report (``review=False``: an attempt only): ``(attempt, why not
        recorded, error)``, one of the three not None; ``error`` when the schedule cannot
        record it (the verdict stands)."""
        try:
            result = record_reports(self.db, [report], review=review)[0]
        except (StoreError, ScheduleError) as exc:
            return None, None, str(exc)
        return (*recorded_or_why(result), None)

    def hint(self, exercise_id: str) -> int:
        """Record a hint of the exercise; its level (as ``mlquiz hint``)."""
        with open_schedule(self.db) as store:
            return record_hint(store, exercise_id)


@dataclass
class Solution:
    """The reference of an exercise and the learner's passing file it is shown beside."""

    exercise: Exercise
    reference: str
    learner: str
    attempt: int
    file_path: str


def solution(store, exercise_id: str) -> Solution:
    """The reference of an exercise, once the learner's own file has passed: a graded
    submission of it in the schedule with every function passing (the latest such is shown
    beside the reference). Raises NotPassedYet before that."""
    exercise = exercise_named(exercise_id)
    rows = attempts(store, exercise.id)
    passed = [row for row in rows if row["kind"] == "graded" and row["passed"]]
    if not passed:
        graded = sum(row["kind"] == "graded" for row in rows)
        tried = (ngettext("{n} graded attempt, none passed yet",
                          "{n} graded attempts, none passed yet", graded).format(n=graded)
                 if graded else _("not graded yet"))
        raise NotPassedYet(_("the solution of {id} is shown once your own file passes ({tried}); "
                             "grade it with `mlquiz grade` or `mlquiz watch`, or ask for a hint: "
                             "`mlquiz hint {id}`").format(id=exercise.id, tried=tried))
    row = get_attempt(store, exercise.id, passed[-1]["attempt"])
    return Solution(exercise, exercise.reference_path.read_text(encoding="utf-8"), row["source"],
                    row["attempt"], row["file_path"])
