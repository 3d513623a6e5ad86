"""Graded attempts and the files kept: every graded file with its verdict and the review it
makes, and the files that ``start``, ``reset`` and ``restore`` are about to overwrite.

What is a review (decided from the submitted text itself, ``not_a_review``): a file that is
empty, does not parse, defines none of the exercise's functions, is an untouched stub (each
of the exercise's functions it defines does nothing but ``raise NotImplementedError``), or is
identical to a file already graded for the exercise, is not recorded: nothing recalled.

Rules for the others: a graded exercise is a review, Good when every function passes, Again
otherwise, Hard for a pass when a hint was used since the exercise's last pass. Once the
exercise has been failed in the learner's day (``config.learner_day``), further failures
that day are stored as attempts but are not reviews (no new lapse); a pass is always a
review. Its duration is the time since ``mlquiz start``, ``mlquiz next`` showed the exercise
or it was last graded, whichever is latest. Failing an exercise calls for the flashcards of
its formulas (``items.requested_at``): they are due at once, until their next review.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from mlquiz import clock
from mlquiz.curriculum import Exercise
from mlquiz.i18n import _, listing
from mlquiz.schedule.items import (ScheduleError, UnknownItem, deck_cards_for_exercise,
                                   default_file, exercise_named, open_schedule)
from mlquiz.schedule.config import learner_day
from mlquiz.schedule.review import AGAIN, GOOD, HARD, RATINGS, Review, apply_review
from mlquiz.schedule.store import Store


# The notes stored with an attempt, in English (``note_text`` shows them in the learner's
# language): a graded file of a watch session after its first review (review=False), and a
# file saved before ``reset``/``start`` or ``restore`` overwrote it.
WITHHELD = "not a review: one review per exercise a watch session"
SAVED_BEFORE_RESET = "saved before reset"
SAVED_BEFORE_RESTORE = "saved before restoring attempt {attempt}"


def note_text(note: str | None) -> str:
    """A stored note in the learner's language ("" for None; a note of an older mlquiz as
    it is)."""
    import re

    if not note:
        return ""
    if note == WITHHELD:
        return _("not a review: one review per exercise a watch session")
    if note == SAVED_BEFORE_RESET:
        return _("saved before reset")
    restored = re.fullmatch(SAVED_BEFORE_RESTORE.format(attempt=r"(\d+)"), note)
    if restored:
        return _("saved before restoring attempt {attempt}").format(attempt=restored[1])
    return note


def untouched() -> str:
    """The reason an untouched stub is not a review, in the learner's language."""
    return _("nothing in the file is implemented yet")


class Attempt(NamedTuple):
    exercise: str
    attempt: int
    passed: bool
    rating: int  # the attempt's rating; a review only when review is not None
    review: Review | None
    duration_seconds: float | None

    @property
    def counted(self) -> bool:
        return self.review is not None

    @property
    def rating_name(self) -> str:
        return RATINGS[self.rating]


def _source_text(source) -> str:
    if isinstance(source, bytes):
        return source.decode("utf-8", errors="replace")
    return str(source)


def _report_json(report) -> str | None:
    if report is None:
        return None
    if isinstance(report, str):
        try:
            json.loads(report)
            return report
        except ValueError:
            return json.dumps({"text": report})
    if hasattr(report, "to_dict"):
        report = report.to_dict()
    return json.dumps(report, default=str, ensure_ascii=False)


def _next_attempt(store: Store, exercise_id: str) -> int:
    return store.value("SELECT coalesce(max(attempt), 0) + 1 FROM submissions WHERE exercise = ?",
                       (exercise_id,))


class NotRecorded(NamedTuple):
    """A graded file that is not a review, and why (one line for the learner)."""
    exercise: str
    reason: str


def _defined_functions(tree) -> dict:
    """The functions a module defines at its top level, by name."""
    import ast

    return {node.name: node for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _does_nothing(function) -> bool:
    """Is the body only a docstring, ``pass``, ``...`` or ``raise NotImplementedError``?"""
    import ast

    for statement in function.body:
        if isinstance(statement, ast.Pass):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # a docstring or ``...``
        if isinstance(statement, ast.Raise) and statement.exc is not None:
            raised = statement.exc.func if isinstance(statement.exc, ast.Call) else statement.exc
            if isinstance(raised, ast.Name) and raised.id == "NotImplementedError":
                continue
        return False
    return True


def _whose_functions(names) -> str | None:
    """The exercise whose functions a file defines most of (None: no exercise's)."""
    from mlquiz.curriculum import exercises

    best = max(exercises(), key=lambda ex: len(set(ex.functions) & names))
    return best.id if set(best.functions) & names else None


def not_a_review(store: Store, exercise_id: str, source) -> str | None:
    """Why a graded file of ``exercise_id`` is not a review, or None when it is one: an empty
    file, a file that does not parse, one that defines none of the exercise's functions, an
    untouched stub, or a file identical to one already graded for the exercise."""
    import ast

    exercise = exercise_named(exercise_id)
    text = _source_text(source)
    if not text.strip():
        return _("the file is empty")
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        if exc.lineno:
            problem = _("line {line}: {message}").format(line=exc.lineno, message=exc.msg)
        else:
            problem = exc.msg
        return _("the file does not parse ({problem}): fix it and grade again").format(
            problem=problem)
    except (ValueError, RecursionError, MemoryError) as exc:
        return _("the file does not parse ({problem}): fix it and grade again").format(
            problem=type(exc).__name__)
    defined = _defined_functions(tree)
    own = [defined[name] for name in exercise.functions if name in defined]
    if not own:
        other = _whose_functions(set(defined))
        if other is not None and other != exercise.id:
            return _("this file defines {other}'s functions: --exercise {other}?").format(
                other=other)
        return _("this file defines none of {id}'s functions ({functions})").format(
            id=exercise.id, functions=listing(exercise.functions))
    if all(_does_nothing(function) for function in own):
        return untouched()
    same = store.value("SELECT attempt FROM submissions WHERE exercise = ? AND kind = 'graded' "
                       "AND sha256 = ? ORDER BY attempt DESC LIMIT 1", (exercise.id, _sha(text)))
    if same is not None:
        return _("unchanged since attempt {attempt}: a review is a fresh rewrite "
                 "(`mlquiz start {id}` lays the stub)").format(attempt=same, id=exercise.id)
    return None


def record_attempt(store: Store, exercise_id: str, file_path, source, passed: bool,
                   report=None, now: datetime | None = None, check: bool = False, *,
                   review: bool = True) -> Attempt | NotRecorded:
    """Store a graded file (its source and the report as JSON) and, in the same transaction,
    the review it makes (see the module docstring for the rules). Returns the details. With
    ``check`` (as ``record_reports`` does), a file that ``not_a_review`` refuses is not
    recorded: the answer is a ``NotRecorded`` (decided in the same transaction, so that two
    gradings of one file at once make one review). ``review=False`` stores the attempt without
    a review (``mlquiz watch``: one review per exercise a session). ``now`` None: the clock is
    read under the write lock (as in ``record_review``)."""
    allow_review = review
    exercise = exercise_named(exercise_id)
    item_id = f"exercise:{exercise.id}"
    passed = bool(passed)
    text = _source_text(source)
    report_json = _report_json(report)
    file_path = str(Path(file_path).expanduser().resolve())
    with store.write():
        now = clock.current(now)
        row = store.row("SELECT shown_at, hints FROM items WHERE id = ?", (item_id,))
        if row is None:
            raise UnknownItem(_("{id} is not in the schedule").format(id=exercise.id))
        reason = not_a_review(store, exercise.id, text) if check else None
        if reason is not None:
            return NotRecorded(exercise.id, reason)
        last_graded = store.value("SELECT created_at FROM submissions WHERE exercise = ? AND "
                                  "kind = 'graded' ORDER BY attempt DESC LIMIT 1", (exercise.id,))
        since = [t for t in (clock.parse_optional(row["shown_at"]), clock.parse_optional(last_graded)) if t is not None]
        duration = max(0.0, (now - max(since)).total_seconds()) if since else None
        if passed:
            rating = HARD if row["hints"] > 0 else GOOD
        else:
            rating = AGAIN
        review = None
        if allow_review and (passed or not _failed_today(store, item_id, now)):
            review = apply_review(store, item_id, rating, "grade", duration, now)
        if not passed:
            _request_cards(store, exercise.id, now)
        number = _next_attempt(store, exercise.id)
        store.db["submissions"].insert({
            "exercise": exercise.id, "attempt": number, "created_at": clock.format_time(now),
            "kind": "graded", "file_path": file_path, "source": text,
            "sha256": _sha(text), "passed": int(passed), "rating": rating,
            "review_id": review.id if review else None, "duration_seconds": duration,
            "report": report_json, "note": None if allow_review else WITHHELD})
    return Attempt(exercise.id, number, passed, rating, review, duration)


def _request_cards(store: Store, exercise_id: str, now: datetime) -> None:
    """A failed exercise makes the flashcards of its formulas due now (new ones included)."""
    card_items = [f"card:{card}" for card in deck_cards_for_exercise(exercise_id)]
    if card_items:
        marks = ", ".join("?" * len(card_items))
        store.conn.execute(f"UPDATE items SET requested_at = ? WHERE id IN ({marks}) AND active = 1 "
                           "AND requested_at IS NULL AND (due IS NULL OR due > ?)",
                           (clock.format_time(now), *card_items, clock.format_time(now)))


def _failed_today(store: Store, item_id: str, now: datetime) -> bool:
    """Has the item been failed (rated Again) since the learner's day began?"""
    start = learner_day(store).start(now)
    return store.value("SELECT 1 FROM reviews WHERE item_id = ? AND rating = ? AND reviewed_at >= ? "
                       "LIMIT 1", (item_id, AGAIN, clock.format_time(start))) is not None


def record_reports(db, reports, now: datetime | None = None, *,
                   review: bool = True) -> list[Attempt | NotRecorded]:
    """Record grading reports (``mlquiz.grading.report.Report``: ``exercise``, ``file``,
    ``source``, ``passed``, ``to_dict()``) in the database at ``db`` (None: the default one).
    Returns an Attempt for each report, or a ``NotRecorded`` saying why the file is not a
    review (``not_a_review``: decided from the source text, not from the report).
    ``review=False``: attempts only (``record_attempt``)."""
    results = []
    with open_schedule(db) as store:
        for report in reports:
            results.append(record_attempt(store, report.exercise, Path(report.file), report.source,
                                          report.passed, report, now, check=True,
                                          review=review))
    return results


def attempts(store: Store, exercise_id: str) -> list[dict]:
    """The stored files of an exercise, oldest first (without their source)."""
    exercise = exercise_named(exercise_id)
    return store.rows(
        "SELECT attempt, created_at, kind, file_path, passed, rating, review_id, "
        "duration_seconds, note, length(source) AS chars FROM submissions "
        "WHERE exercise = ? ORDER BY attempt", (exercise.id,))


def get_attempt(store: Store, exercise_id: str, number: int | None = None) -> dict:
    """One stored file with its source (default: the latest)."""
    exercise = exercise_named(exercise_id)
    if number is None:
        row = store.row("SELECT * FROM submissions WHERE exercise = ? ORDER BY attempt DESC "
                        "LIMIT 1", (exercise.id,))
        if row is None:
            raise ScheduleError(_("no stored attempts of {id} yet").format(id=exercise.id))
        return row
    row = store.row("SELECT * FROM submissions WHERE exercise = ? AND attempt = ?",
                    (exercise.id, number))
    if row is None:
        count = _next_attempt(store, exercise.id) - 1
        known = _("attempts 1 to {count}").format(count=count) if count else _("none yet")
        raise ScheduleError(_("{id} has no attempt {number} ({known}; `mlquiz attempts {id}` "
                              "lists them)").format(id=exercise.id, number=number, known=known))
    return row


class FileChange(NamedTuple):
    path: Path
    saved_attempt: int | None  # where the overwritten file is in the history (None: no file)
    saved_now: bool  # False: it was already stored (or was the stub)
    restored_attempt: int | None = None


def _read_for_saving(path: Path) -> str | None:
    if path.is_dir():
        raise ScheduleError(_("{path} is a folder, not an exercise file").format(path=path))
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ScheduleError(_("cannot read {path}: {error}").format(
            path=path, error=exc.strerror)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScheduleError(_("{path} is not UTF-8 text; it was not overwritten (move it away "
                              "first)").format(path=path)) from None


def _save_current(store: Store, exercise: Exercise, path: Path, note: str, now, skip: str):
    """Store the file at ``path`` unless it is missing, equal to ``skip`` or already stored;
    returns (attempt, saved_now). Runs in the caller's write transaction."""
    text = _read_for_saving(path)
    if text is None:
        return None, False
    if text == skip:
        return None, False
    digest = _sha(text)
    known = store.value("SELECT attempt FROM submissions WHERE exercise = ? AND sha256 = ? "
                        "ORDER BY attempt DESC LIMIT 1", (exercise.id, digest))
    if known is not None:
        return known, False
    number = _next_attempt(store, exercise.id)
    store.db["submissions"].insert({
        "exercise": exercise.id, "attempt": number, "created_at": clock.format_time(now), "kind": "saved",
        "file_path": str(path), "source": text, "sha256": digest, "passed": None,
        "rating": None, "review_id": None, "duration_seconds": None, "report": None,
        "note": note})
    return number, True


def _write_file(path: Path, text: str) -> None:
    """Replace the file atomically (a temporary file beside it, then rename)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.mlquiz-{os.getpid()}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        raise ScheduleError(_("cannot write {path}: {error}").format(
            path=path, error=exc.strerror)) from None


def reset_exercise(store: Store, exercise_id: str, file=None,
                   now: datetime | None = None) -> FileChange:
    """Save the exercise's current file in the history, then put the fresh stub there."""
    now = clock.current(now)
    exercise = exercise_named(exercise_id)
    try:
        stub = exercise.stub_path.read_text(encoding="utf-8")
    except OSError:
        raise ScheduleError(_("the stub of {id} is missing ({path})").format(
            id=exercise.id, path=exercise.stub_path)) from None
    path = Path(file).expanduser().resolve() if file else default_file(store, exercise.id)
    with store.write():
        saved, saved_now = _save_current(store, exercise, path, SAVED_BEFORE_RESET, now, stub)
    _write_file(path, stub)
    return FileChange(path, saved, saved_now)


def start_exercise(store: Store, exercise_id: str, file=None,
                   now: datetime | None = None) -> FileChange:
    """Start a review from a blank page: ``reset_exercise`` (the current file is kept in the
    history, the stub laid), and the attempt is timed from now (``items.shown_at``)."""
    now = clock.current(now)
    change = reset_exercise(store, exercise_id, file, now)
    with store.write():
        store.conn.execute("UPDATE items SET shown_at = ? WHERE id = ?",
                           (clock.format_time(now), f"exercise:{exercise_named(exercise_id).id}"))
    return change


def restore_attempt(store: Store, exercise_id: str, attempt: int | None = None, file=None,
                    now: datetime | None = None) -> FileChange:
    """Write a stored attempt (default: the latest) back to the exercise's file, saving the
    file it replaces first."""
    now = clock.current(now)
    exercise = exercise_named(exercise_id)
    row = get_attempt(store, exercise.id, attempt)
    path = Path(file).expanduser().resolve() if file else default_file(store, exercise.id)
    with store.write():
        saved, saved_now = _save_current(
            store, exercise, path, SAVED_BEFORE_RESTORE.format(attempt=row["attempt"]), now,
            row["source"])
    _write_file(path, row["source"])
    return FileChange(path, saved, saved_now, row["attempt"])


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()
