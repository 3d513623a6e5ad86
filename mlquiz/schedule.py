"""The spaced-repetition schedule: items, their FSRS state, the review log, graded attempts.

Every exercise and every flashcard is an *item* (``exercise:<id>``, ``card:<id>``) whose
state (due, stability, difficulty, state, step) is computed by the ``fsrs`` package, never
here: a review appends a row to ``reviews`` and stores the card that
``Scheduler.review_card`` returns, in one transaction. Fuzzing is off, and each review keeps
the desired retention it was scheduled with, so replaying an item's log through ``fsrs``
gives exactly its stored state (``tests/test_schedule.py`` checks it).

Rules of mlquiz on top of FSRS:

* New items (never reviewed) enter in curriculum order, at most ``new_per_day`` a UTC day.
* A graded exercise is a review: Good when every function passes, Again otherwise, Hard for
  a pass after ``mlquiz hint`` since the item's last review. A failure on an item whose last
  review is an Again of the same day is stored as an attempt but is not a review (no new
  lapse); the next pass is the recovery. Its duration is the time since ``mlquiz next``
  showed the exercise or it was last graded, whichever is later.
* A graded file in which every function is still "not implemented" (an untouched stub) is
  neither a review nor an attempt.
* Every graded file's source is kept in ``submissions`` with its verdict, and so is a file
  that ``reset`` or ``restore`` is about to overwrite.
* Failing an exercise calls for the flashcards of its formulas (``items.requested_at``): they
  are due at once, until their next review.

``fsrs`` and sqlite-utils are imported only where a review or a write needs them, so
``next_item`` stays cheap.
"""

from __future__ import annotations

import json
import os
import warnings
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from mlquiz import clock
from mlquiz.curriculum import Exercise, exercises, get_exercise
from mlquiz.store import Store, StoreError, open_store

__all__ = [
    "open_store", "Store", "StoreError", "ScheduleError", "UnknownItem", "ConfigError",
    "next_item", "due_items", "record_review", "record_graded_submission", "record_attempt",
    "record_reports", "record_hint", "hint_count", "history", "stats", "attempts", "get_attempt",
    "reset_exercise", "restore_attempt", "default_file", "get_config", "set_config",
    "config_values", "resolve_item", "catalogue", "sync_items", "new_items",
]

KINDS = ("exercise", "card")
SOURCES = ("grade", "flashcard")
AGAIN, HARD, GOOD, EASY = 1, 2, 3, 4
RATINGS = {AGAIN: "Again", HARD: "Hard", GOOD: "Good", EASY: "Easy"}
NEW, LEARNING, REVIEW, RELEARNING = 0, 1, 2, 3  # 1-3 are fsrs.State; 0: never reviewed
STATES = {NEW: "new", LEARNING: "learning", REVIEW: "review", RELEARNING: "relearning"}


class ScheduleError(Exception):
    """A request the schedule cannot satisfy; the message says why."""


class UnknownItem(ScheduleError):
    pass


class ConfigError(ScheduleError, ValueError):
    pass


# --- settings -----------------------------------------------------------------------------

def _parse_retention(text) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ConfigError(f"retention must be a number such as 0.9, not {text!r}") from None
    if not 0.7 <= value <= 0.99:
        raise ConfigError(f"retention must be between 0.7 and 0.99 (the share of reviews you "
                          f"aim to recall), not {value}")
    return value


def _parse_new_per_day(text) -> int:
    try:
        value = int(str(text).strip())
    except (TypeError, ValueError):
        raise ConfigError(f"new_per_day must be a whole number, not {text!r}") from None
    if not 0 <= value <= 10_000:
        raise ConfigError(f"new_per_day must be between 0 and 10000, not {value}")
    return value


SETTINGS = {
    "retention": (0.9, _parse_retention,
                  "desired retention: the probability of recall FSRS schedules for (0.7-0.99)"),
    "new_per_day": (10, _parse_new_per_day,
                    "how many new items (never practised) enter the schedule a day"),
}


def _setting(key):
    if key not in SETTINGS:
        raise ConfigError(f"unknown setting {key!r}; settings: {', '.join(SETTINGS)}")
    return SETTINGS[key]


def get_config(store: Store, key: str):
    default, parse, _ = _setting(key)
    stored = store.value("SELECT value FROM config WHERE key = ?", (key,))
    return default if stored is None else parse(stored)


def set_config(store: Store, key: str, value):
    """Validate and store a setting; returns the value as stored. A new retention applies to
    reviews from now on (each review keeps the retention it was scheduled with)."""
    _, parse, _ = _setting(key)
    parsed = parse(value)
    with store.write():
        store.db["config"].upsert({"key": key, "value": str(parsed)}, pk="key")
    return parsed


def config_values(store: Store) -> dict:
    """Every setting: ``{key: {"value", "default", "help"}}``."""
    return {key: {"value": get_config(store, key), "default": default, "help": help_text}
            for key, (default, _, help_text) in SETTINGS.items()}


# --- the items: exercises and flashcards, in curriculum order ----------------------------

class CatalogueEntry(NamedTuple):
    id: str
    kind: str
    ref: str
    topic: str | None


def deck_card_ids() -> tuple[str, ...]:
    """The flashcard ids in curriculum order."""
    from mlquiz.cards.deck import card_ids

    return tuple(card_ids())


def deck_cards_for_exercise(exercise_id: str) -> list[str]:
    """The ids of the flashcards of an exercise's formulas."""
    from mlquiz.cards.deck import cards_for_exercise

    return list(cards_for_exercise(exercise_id))


def _card_topic(card: str, exercise_ids: list) -> str | None:
    """The topic of a card from its id, ``<topic>.<name>`` (the deck checks that form)."""
    for exercise_id in exercise_ids:  # longest first: bn_backward before bn
        rest = card[len(exercise_id):]
        if card.startswith(exercise_id) and rest and not rest[0].isalnum():
            return exercise_id
    return None


def catalogue(card_ids=None) -> list[CatalogueEntry]:
    """Every item in curriculum order: for each topic its flashcards (learn the formulas),
    then its exercise (implement them); cards of no topic last. ``card_ids``: the deck's
    card ids (default: ``deck_card_ids()``)."""
    topics = exercises()
    exercise_ids = sorted((ex.id for ex in topics), key=len, reverse=True)
    by_topic = {ex.id: [] for ex in topics}
    loose = []
    for card in dict.fromkeys(deck_card_ids() if card_ids is None else card_ids):
        topic = _card_topic(card, exercise_ids)
        (by_topic[topic] if topic else loose).append(card)
    entries = []
    for ex in topics:
        entries += [CatalogueEntry(f"card:{c}", "card", c, ex.id) for c in by_topic[ex.id]]
        entries.append(CatalogueEntry(f"exercise:{ex.id}", "exercise", ex.id, ex.id))
    entries += [CatalogueEntry(f"card:{c}", "card", c, None) for c in loose]
    return entries


def _fingerprint(entries) -> str:
    """Count and CRC-32 of the list (zlib: hashlib's import alone would slow ``next``)."""
    text = "\n".join(f"{e.id}\t{e.topic or ''}" for e in entries)
    return f"{len(entries)}:{zlib.crc32(text.encode()):08x}"


def _sources_signature() -> str:
    """Size and modification time of the files the item list comes from: curriculum.toml
    and everything under mlquiz/cards/. Cheaper than loading the deck on every start."""
    package = Path(__file__).resolve().parent
    paths = [str(package / "curriculum.toml")]
    for folder, subfolders, files in os.walk(package / "cards"):
        subfolders[:] = sorted(d for d in subfolders
                               if d != "__pycache__" and not d.startswith("."))
        paths += [os.path.join(folder, name) for name in sorted(files)]
    parts = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:  # removed meanwhile
            continue
        parts.append(f"{path}:{info.st_size}:{info.st_mtime_ns}")
    text = "\n".join(parts)
    return f"{len(parts)}:{zlib.crc32(text.encode()):08x}"


def sync_items(store: Store, force: bool = False) -> bool:
    """Bring the items table up to date with the curriculum and the deck: add new items,
    renumber positions, mark items no longer listed inactive (their history stays). Unless
    ``force``, nothing is loaded while the source files are unchanged, and nothing is
    written while the list is. Returns whether the items changed.

    A deck that fails to load (a bug, not something a learner can cause) must not stop the
    schedule: it is reported as a ``RuntimeWarning``, the items stay as they were (a new
    database gets the exercises), and the next start tries again."""
    signature = _sources_signature()
    if not force and store.get_meta("items_sources") == signature:
        return False
    try:
        cards = deck_card_ids()
    except Exception as exc:  # noqa: BLE001 - see the docstring
        warnings.warn(f"mlquiz: the flashcard deck could not be loaded ({exc}); the schedule "
                      "keeps its items as they were", RuntimeWarning, stacklevel=2)
        cards = None
    entries = catalogue(() if cards is None else cards)
    fingerprint = _fingerprint(entries)
    with store.write():
        if cards is None:
            if store.value("SELECT count(*) FROM items"):
                return False
        elif store.get_meta("items_fingerprint") == fingerprint:  # or another process did it
            store.set_meta("items_sources", signature)
            return False
        else:
            store.conn.execute("UPDATE items SET active = 0")
        store.db["items"].upsert_all(
            [{"id": e.id, "kind": e.kind, "ref": e.ref, "topic": e.topic, "position": i,
              "active": 1} for i, e in enumerate(entries)],
            pk="id",
        )
        if cards is not None:
            store.set_meta("items_fingerprint", fingerprint)
            store.set_meta("items_sources", signature)
    return True


def _exercise(name: str) -> Exercise:
    found = get_exercise(name.removeprefix("exercise:")) if name else None
    if found is None:
        raise UnknownItem(f"unknown exercise {name!r}; `mlquiz topics` lists them")
    return found


def resolve_item(store: Store, name: str) -> str:
    """An item id from what a learner types: ``exercise:backprop``, ``backprop``,
    ``backprop.py``, ``card:<id>`` or a bare card id."""
    name = name.strip()
    if name.startswith(("exercise:", "card:")):
        candidate = name
    elif get_exercise(name) is not None:
        candidate = f"exercise:{get_exercise(name).id}"
    else:
        candidate = f"card:{name}"
    if store.value("SELECT 1 FROM items WHERE id = ?", (candidate,)) is None:
        raise UnknownItem(f"unknown item {name!r}: give an exercise (e.g. bn_backward), its "
                          "file name, or a flashcard as card:<id>")
    return candidate


# --- what is due --------------------------------------------------------------------------

class DueItem(NamedTuple):
    id: str
    kind: str
    ref: str
    topic: str | None
    state: int
    due: datetime | None  # None: a new item
    shown_at: str | None = None

    @property
    def new(self) -> bool:
        return self.state == NEW

    @property
    def state_name(self) -> str:
        return STATES[self.state]


class NextItem(NamedTuple):
    item: DueItem | None
    due_count: int  # items to practise by the end of the (UTC) day, this one and new ones included
    new_count: int  # of which new
    next_due: datetime | None  # when nothing is due now: when something next will be

    def to_dict(self) -> dict:
        if self.item is None:
            return {"item": None, "next_due": _iso(self.next_due)}
        return {"item": self.item.id, "kind": self.item.kind, "due": _iso(self.item.due),
                "due_count": self.due_count, "new": self.item.new, "new_count": self.new_count,
                "state": self.item.state_name, "ref": self.item.ref, "topic": self.item.topic}


# When an item is due: its FSRS due date, or earlier when it was called for (requested_at).
_WHEN = "coalesce(min(due, requested_at), due, requested_at)"
_ITEM_COLUMNS = f"id, kind, ref, topic, state, {_WHEN} AS due, shown_at"


def _due_item(row) -> DueItem:
    return DueItem(row["id"], row["kind"], row["ref"], row["topic"], row["state"],
                   _parse(row["due"]), row["shown_at"])


def _new_left(store: Store, now: datetime) -> int:
    """How many new items may still enter today."""
    start = clock.day_start(now)
    introduced = store.value("SELECT count(*) FROM items WHERE introduced >= ? AND introduced < ?",
                             (_fmt(start), _fmt(start + timedelta(days=1))))
    return max(0, get_config(store, "new_per_day") - introduced)


def _new_items(store: Store, limit: int) -> list[DueItem]:
    if limit <= 0:
        return []
    rows = store.rows(f"SELECT {_ITEM_COLUMNS} FROM items WHERE state = 0 AND active = 1 "
                      "AND requested_at IS NULL ORDER BY position LIMIT ?", (limit,))
    return [_due_item(r) for r in rows]


def new_items(store: Store, topic: str | None = None, kind: str | None = None) -> list[DueItem]:
    """Every new item (of ``topic``, of ``kind``) in curriculum order, whatever today's
    allowance: for a learner who chooses to study a topic now."""
    rows = store.rows(f"SELECT {_ITEM_COLUMNS} FROM items WHERE state = 0 AND active = 1 "
                      "AND (? IS NULL OR topic = ?) AND (? IS NULL OR kind = ?) ORDER BY position",
                      (topic, topic, kind, kind))
    return [_due_item(r) for r in rows]


def due_items(store: Store, now: datetime | None = None, kind: str | None = None) -> list[DueItem]:
    """Items to practise now: reviewed items due now, most overdue first, then the new items
    allowed today in curriculum order. ``kind``: only ``"exercise"`` or only ``"card"``
    (the new items allowed are the same: the first ones of the curriculum)."""
    now = _now(now)
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    with store.snapshot():
        rows = store.rows(f"SELECT {_ITEM_COLUMNS} FROM items WHERE {_WHEN} <= ? AND active = 1 "
                          f"ORDER BY {_WHEN}, position", (_fmt(now),))
        items = [_due_item(r) for r in rows] + _new_items(store, _new_left(store, now))
    return [item for item in items if kind is None or item.kind == kind]


def next_item(store: Store, now: datetime | None = None, mark_shown: bool = True) -> NextItem:
    """What to practise now: the most overdue due item, else the next new item allowed today;
    with the count for the rest of the day, or, when nothing is due, when the next item is.
    ``mark_shown`` notes when an item was first shown (the duration of its next graded review
    runs from then)."""
    now = _now(now)
    end = clock.next_day_start(now)
    with store.snapshot():
        due_now = store.row(f"SELECT {_ITEM_COLUMNS} FROM items WHERE {_WHEN} <= ? AND active = 1 "
                            f"ORDER BY {_WHEN}, position LIMIT 1", (_fmt(now),))
        due_today = store.value(f"SELECT count(*) FROM items WHERE {_WHEN} < ? AND active = 1",
                                (_fmt(end),))
        new_left = _new_left(store, now)
        new = _new_items(store, new_left)
        item = _due_item(due_now) if due_now else (new[0] if new else None)
        next_due = None
        if item is None:
            earliest = store.value(
                "SELECT min(due) FROM items WHERE due IS NOT NULL AND active = 1")
            candidates = [_parse(earliest)] if earliest else []
            waiting = store.value("SELECT 1 FROM items WHERE state = 0 AND active = 1 LIMIT 1")
            if waiting and get_config(store, "new_per_day") > 0:
                candidates.append(end)  # tomorrow's new items
            next_due = min(candidates) if candidates else None
    if item is not None and mark_shown and item.shown_at is None:
        with store.write():
            store.conn.execute("UPDATE items SET shown_at = ? WHERE id = ? AND shown_at IS NULL",
                               (_fmt(now), item.id))
    return NextItem(item, due_today + len(new), len(new), next_due)


# --- reviews --------------------------------------------------------------------------------

class Review(NamedTuple):
    id: int
    item_id: str
    rating: int
    reviewed_at: datetime
    state: int
    due: datetime
    duration_seconds: float | None

    @property
    def rating_name(self) -> str:
        return RATINGS[self.rating]


def _rating(value) -> int:
    try:
        rating = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"rating must be 1 (Again) to 4 (Easy), not {value!r}") from None
    if rating not in RATINGS:
        raise ValueError(f"rating must be 1 (Again) to 4 (Easy), not {value!r}")
    return rating


def _card_from_row(row, now):
    from fsrs import Card, State

    card_id = zlib.crc32(row["id"].encode())  # fsrs wants an int id; it plays no part in scheduling
    if row["state"] == NEW:
        return Card(card_id=card_id, due=now)
    return Card(card_id=card_id, state=State(row["state"]), step=row["step"],
                stability=row["stability"], difficulty=row["difficulty"],
                due=_parse(row["due"]), last_review=_parse(row["last_review"]))


def _review(store: Store, item_id: str, rating: int, source: str,
            duration_seconds: float | None, now: datetime) -> Review:
    """Apply one review inside the caller's write transaction."""
    from fsrs import Rating, Scheduler

    row = store.row("SELECT * FROM items WHERE id = ?", (item_id,))
    if row is None:
        raise UnknownItem(f"unknown item {item_id!r}")
    last = _parse(row["last_review"])
    if last is not None and now < last:
        now = last  # an item's reviews stay in time order, whatever the callers' clocks say
    retention = get_config(store, "retention")
    scheduler = Scheduler(desired_retention=retention, enable_fuzzing=False)
    card, _ = scheduler.review_card(
        _card_from_row(row, now), Rating(rating), review_datetime=now,
        review_duration=None if duration_seconds is None else round(duration_seconds * 1000))
    state = {"state": int(card.state), "step": card.step, "stability": card.stability,
             "difficulty": card.difficulty, "due": _fmt(card.due)}
    reviews = store.db["reviews"].insert(
        {"item_id": item_id, "rating": rating, "reviewed_at": _fmt(now), "source": source,
         "duration_seconds": duration_seconds, "retention": retention, "hints": row["hints"],
         "state_before": row["state"], **state})
    lapse = rating == AGAIN and row["state"] == REVIEW
    store.db["items"].update(item_id, {
        **state, "last_review": _fmt(now), "reps": row["reps"] + 1,
        "lapses": row["lapses"] + lapse, "introduced": row["introduced"] or _fmt(now),
        "shown_at": None, "hints": 0, "requested_at": None})
    return Review(reviews.last_pk, item_id, rating, now, state["state"], card.due,
                  duration_seconds)


def record_review(store: Store, item_id: str, rating, source: str,
                  duration_seconds: float | None = None, now: datetime | None = None) -> Review:
    """Review ``item_id`` (rating 1 Again .. 4 Easy, as in FSRS; ``source`` "grade" or
    "flashcard"): append it to the log and store the item's new FSRS state, atomically."""
    now = _now(now)
    rating = _rating(rating)
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    if duration_seconds is not None and duration_seconds < 0:
        raise ValueError("duration_seconds cannot be negative")
    with store.write():
        return _review(store, item_id, rating, source, duration_seconds, now)


# --- graded attempts ------------------------------------------------------------------------

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


def record_attempt(store: Store, exercise_id: str, file_path, source, passed: bool,
                   report=None, now: datetime | None = None) -> Attempt:
    """Store a graded file (its source and the report as JSON) and, in the same transaction,
    the review it makes (see the module docstring for the rules). Returns the details."""
    now = _now(now)
    exercise = _exercise(exercise_id)
    item_id = f"exercise:{exercise.id}"
    passed = bool(passed)
    text = _source_text(source)
    report_json = _report_json(report)
    file_path = str(Path(file_path).expanduser().resolve())
    with store.write():
        row = store.row("SELECT shown_at, hints FROM items WHERE id = ?", (item_id,))
        if row is None:
            raise UnknownItem(f"{exercise.id} is not in the schedule")
        last_graded = store.value("SELECT created_at FROM submissions WHERE exercise = ? AND "
                                  "kind = 'graded' ORDER BY attempt DESC LIMIT 1", (exercise.id,))
        since = [t for t in (_parse(row["shown_at"]), _parse(last_graded)) if t is not None]
        duration = max(0.0, (now - max(since)).total_seconds()) if since else None
        if passed:
            rating = HARD if row["hints"] > 0 else GOOD
        else:
            rating = AGAIN
        review = None
        if not _failed_today(store, item_id, now) or passed:
            review = _review(store, item_id, rating, "grade", duration, now)
        if not passed:
            _request_cards(store, exercise.id, now)
        number = _next_attempt(store, exercise.id)
        store.db["submissions"].insert({
            "exercise": exercise.id, "attempt": number, "created_at": _fmt(now),
            "kind": "graded", "file_path": file_path, "source": text,
            "sha256": _sha(text), "passed": int(passed), "rating": rating,
            "review_id": review.id if review else None, "duration_seconds": duration,
            "report": report_json, "note": None})
    return Attempt(exercise.id, number, passed, rating, review, duration)


def _request_cards(store: Store, exercise_id: str, now: datetime) -> None:
    """A failed exercise makes the flashcards of its formulas due now (new ones included)."""
    card_items = [f"card:{card}" for card in deck_cards_for_exercise(exercise_id)]
    if card_items:
        marks = ", ".join("?" * len(card_items))
        store.conn.execute(f"UPDATE items SET requested_at = ? WHERE id IN ({marks}) AND active = 1 "
                           "AND requested_at IS NULL AND (due IS NULL OR due > ?)",
                           (_fmt(now), *card_items, _fmt(now)))


def _failed_today(store: Store, item_id: str, now: datetime) -> bool:
    """Is the item's last review an Again of the same UTC day?"""
    last = store.row("SELECT rating, reviewed_at FROM reviews WHERE item_id = ? "
                     "ORDER BY id DESC LIMIT 1", (item_id,))
    return (last is not None and last["rating"] == AGAIN
            and clock.day_start(_parse(last["reviewed_at"])) == clock.day_start(now))


def record_graded_submission(store: Store, exercise_id: str, file_path, source, passed: bool,
                             report=None, now: datetime | None = None) -> int:
    """``record_attempt`` returning only the rating: Good (3), Hard (2: passed after a hint)
    or Again (1; a repeated failure the same day is stored but adds no review)."""
    return record_attempt(store, exercise_id, file_path, source, passed, report, now).rating


def record_reports(db, reports, now: datetime | None = None) -> list[Attempt | None]:
    """Record grading reports (``mlquiz.grading.Report``: ``exercise``, ``file``, ``source``,
    ``passed``, ``functions``, ``to_dict()``) in the database at ``db`` (None: the default one).
    Returns an Attempt for each report, or None for a file with nothing implemented yet (an
    untouched stub is not a review)."""
    now = _now(now)
    results = []
    with open_store(db) as store:
        for report in reports:
            if all(f.verdict == "not_implemented" for f in report.functions):
                results.append(None)
                continue
            results.append(record_attempt(store, report.exercise, Path(report.file), report.source,
                                          report.passed, report, now))
    return results


# --- hints --------------------------------------------------------------------------------

def hint_count(store: Store, exercise_id: str) -> int:
    """Hints used for the exercise since its last review."""
    exercise = _exercise(exercise_id)
    return store.value("SELECT hints FROM items WHERE id = ?", (f"exercise:{exercise.id}",)) or 0


def record_hint(store: Store, exercise_id: str, now: datetime | None = None) -> int:
    """Record that a hint was shown; returns its level (1 = the first hint of the exercise,
    capped at the last one). A pass after this, before the next review, is rated Hard."""
    now = _now(now)
    exercise = _exercise(exercise_id)
    if not exercise.hints:
        raise ScheduleError(f"{exercise.id} has no hints")
    item_id = f"exercise:{exercise.id}"
    with store.write():
        used = store.value("SELECT hints FROM items WHERE id = ?", (item_id,))
        if used is None:
            raise UnknownItem(f"{exercise.id} is not in the schedule")
        level = min(used + 1, len(exercise.hints))
        store.db["items"].update(item_id, {"hints": used + 1})
        store.db["hints"].insert({"exercise": exercise.id, "level": level, "used_at": _fmt(now)})
    return level


# --- the history of files: attempts, reset, restore --------------------------------------

def attempts(store: Store, exercise_id: str) -> list[dict]:
    """The stored files of an exercise, oldest first (without their source)."""
    exercise = _exercise(exercise_id)
    return store.rows(
        "SELECT attempt, created_at, kind, file_path, passed, rating, review_id, "
        "duration_seconds, note, length(source) AS chars FROM submissions "
        "WHERE exercise = ? ORDER BY attempt", (exercise.id,))


def get_attempt(store: Store, exercise_id: str, number: int | None = None) -> dict:
    """One stored file with its source (default: the latest)."""
    exercise = _exercise(exercise_id)
    if number is None:
        row = store.row("SELECT * FROM submissions WHERE exercise = ? ORDER BY attempt DESC "
                        "LIMIT 1", (exercise.id,))
        if row is None:
            raise ScheduleError(f"no stored attempts of {exercise.id} yet")
        return row
    row = store.row("SELECT * FROM submissions WHERE exercise = ? AND attempt = ?",
                    (exercise.id, number))
    if row is None:
        count = _next_attempt(store, exercise.id) - 1
        known = f"attempts 1 to {count}" if count else "none yet"
        raise ScheduleError(f"{exercise.id} has no attempt {number} ({known}; "
                            f"`mlquiz attempts {exercise.id}` lists them)")
    return row


def default_file(store: Store, exercise_id: str) -> Path:
    """The exercise's file: the one last graded, else ``./exercises/<file>``."""
    exercise = _exercise(exercise_id)
    last = store.value("SELECT file_path FROM submissions WHERE exercise = ? AND kind = 'graded' "
                       "ORDER BY attempt DESC LIMIT 1", (exercise.id,))
    return Path(last) if last else Path.cwd() / "exercises" / exercise.file


class FileChange(NamedTuple):
    path: Path
    saved_attempt: int | None  # where the overwritten file is in the history (None: no file)
    saved_now: bool  # False: it was already stored (or was the stub)
    restored_attempt: int | None = None


def _read_for_saving(path: Path) -> str | None:
    if path.is_dir():
        raise ScheduleError(f"{path} is a folder, not an exercise file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ScheduleError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScheduleError(f"{path} is not UTF-8 text; it was not overwritten (move it "
                            "away first)") from None


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
        "exercise": exercise.id, "attempt": number, "created_at": _fmt(now), "kind": "saved",
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
        raise ScheduleError(f"cannot write {path}: {exc.strerror}") from None


def reset_exercise(store: Store, exercise_id: str, file=None,
                   now: datetime | None = None) -> FileChange:
    """Save the exercise's current file in the history, then put the fresh stub there."""
    now = _now(now)
    exercise = _exercise(exercise_id)
    try:
        stub = exercise.stub_path.read_text(encoding="utf-8")
    except OSError:
        raise ScheduleError(
            f"the stub of {exercise.id} is missing ({exercise.stub_path})") from None
    path = Path(file).expanduser().resolve() if file else default_file(store, exercise.id)
    with store.write():
        saved, saved_now = _save_current(store, exercise, path, "saved before reset", now, stub)
    _write_file(path, stub)
    return FileChange(path, saved, saved_now)


def restore_attempt(store: Store, exercise_id: str, attempt: int | None = None, file=None,
                    now: datetime | None = None) -> FileChange:
    """Write a stored attempt (default: the latest) back to the exercise's file, saving the
    file it replaces first."""
    now = _now(now)
    exercise = _exercise(exercise_id)
    row = get_attempt(store, exercise.id, attempt)
    path = Path(file).expanduser().resolve() if file else default_file(store, exercise.id)
    with store.write():
        saved, saved_now = _save_current(
            store, exercise, path, f"saved before restoring attempt {row['attempt']}", now,
            row["source"])
    _write_file(path, row["source"])
    return FileChange(path, saved, saved_now, row["attempt"])


# --- the log and the statistics -----------------------------------------------------------

def history(store: Store, item: str | None = None, limit: int | None = None) -> list[dict]:
    """The review log, oldest first (of one item, or of all; ``limit``: the latest only)."""
    where, params = "", []
    if item is not None:
        where, params = "WHERE r.item_id = ?", [resolve_item(store, item)]
    sql = ("SELECT r.id, r.item_id AS item, i.kind, r.reviewed_at, r.rating, r.source, "
           "r.duration_seconds, r.hints, r.state_before, r.state, r.stability, r.difficulty, "
           f"r.due, r.retention FROM reviews r JOIN items i ON i.id = r.item_id {where} "
           "ORDER BY r.id DESC")
    if limit:
        sql += " LIMIT ?"
        params.append(int(limit))
    rows = store.rows(sql, params)
    rows.reverse()
    for row in rows:
        row["rating_name"] = RATINGS[row["rating"]]
        row["state_name"] = STATES[row["state"]]
    return rows


def stats(store: Store, now: datetime | None = None) -> dict:
    """Items by kind and state, due today, reviews a day over the last 30 days, measured
    retention against the target, due items over the next 7 days, and progress per topic."""
    now = _now(now)
    today = clock.day_start(now)
    tomorrow = today + timedelta(days=1)
    month_ago = today - timedelta(days=29)
    with store.snapshot():
        counts = store.rows("SELECT kind, state, count(*) AS n FROM items WHERE active = 1 "
                            "GROUP BY kind, state")
        due_reviews = store.value(f"SELECT count(*) FROM items WHERE {_WHEN} < ? AND active = 1",
                                  (_fmt(tomorrow),))
        new_left = len(_new_items(store, _new_left(store, now)))
        per_day = dict(store.conn.execute(
            "SELECT substr(reviewed_at, 1, 10), count(*) FROM reviews WHERE reviewed_at >= ? "
            "GROUP BY 1", (_fmt(month_ago),)).fetchall())
        recall = store.row(
            "SELECT count(*) AS n, coalesce(sum(rating > 1), 0) AS recalled FROM reviews "
            "WHERE reviewed_at >= ? AND state_before = ?", (_fmt(month_ago), REVIEW))
        forecast_rows = dict(store.conn.execute(
            f"SELECT max(substr({_WHEN}, 1, 10), ?), count(*) FROM items WHERE {_WHEN} < ? "
            "AND active = 1 "
            "GROUP BY 1", (today.date().isoformat(), _fmt(today + timedelta(days=7)))).fetchall())
        exercise_rows = {r["ref"]: r for r in store.rows(
            "SELECT ref, state, due, reps, lapses FROM items WHERE kind = 'exercise'")}
        graded = {r["exercise"]: r for r in store.rows(
            "SELECT exercise, count(*) AS attempts, max(passed) AS passed FROM submissions "
            "WHERE kind = 'graded' GROUP BY exercise")}
        cards = {r["topic"]: r for r in store.rows(
            "SELECT topic, count(*) AS total, sum(state > 0) AS seen, sum(state = 2) AS review "
            "FROM items WHERE kind = 'card' AND active = 1 GROUP BY topic")}
        retention = get_config(store, "retention")

    items = {kind: {name: 0 for name in STATES.values()} for kind in KINDS}
    for row in counts:
        items.setdefault(row["kind"], {name: 0 for name in STATES.values()})
        items[row["kind"]][STATES[row["state"]]] = row["n"]
    for counts_of_kind in items.values():
        counts_of_kind["total"] = sum(counts_of_kind.values())
    days = [(month_ago + timedelta(days=i)).date().isoformat() for i in range(30)]
    week = [(today + timedelta(days=i)).date().isoformat() for i in range(7)]
    topics = []
    for exercise in exercises():
        row = exercise_rows.get(exercise.id, {})
        done = graded.get(exercise.id, {})
        deck = cards.get(exercise.id, {})
        topics.append({
            "topic": exercise.id, "title": exercise.title_en, "title_zh": exercise.title_zh,
            "exercise": {"state": STATES.get(row.get("state"), "new"), "due": row.get("due"),
                         "reviews": row.get("reps", 0), "lapses": row.get("lapses", 0),
                         "attempts": done.get("attempts", 0),
                         "passed": bool(done.get("passed"))},
            "cards": {"total": deck.get("total", 0), "seen": deck.get("seen") or 0,
                      "review": deck.get("review") or 0},
        })
    return {
        "now": _fmt(now),
        "items": items,
        "due_today": {"reviews": due_reviews, "new": new_left, "total": due_reviews + new_left},
        "reviews_per_day": [{"date": d, "count": per_day.get(d, 0)} for d in days],
        "reviews_last_30_days": sum(per_day.get(d, 0) for d in days),
        "retention": {"target": retention,
                      "measured": recall["recalled"] / recall["n"] if recall["n"] else None,
                      "reviews": recall["n"]},
        "forecast": [{"date": d, "due": forecast_rows.get(d, 0)} for d in week],
        "topics": topics,
    }


# --- small helpers --------------------------------------------------------------------------

def _now(now: datetime | None) -> datetime:
    return clock.now() if now is None else clock.as_utc(now)


def _fmt(moment: datetime) -> str:
    return clock.format_time(moment)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else clock.format_time(moment)


def _parse(text: str | None) -> datetime | None:
    return None if text is None else clock.parse_time(text)


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()
