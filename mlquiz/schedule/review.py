"""Reviews: what is due, what to practise next, and one FSRS review of an item.

An item's state is computed by the ``fsrs`` package, never here: a review appends a row to
``reviews`` and stores the card that ``Scheduler.review_card`` returns, in one transaction.
Each review keeps the desired retention it was scheduled with, so replaying an item's log
through ``fsrs`` gives exactly its stored state.
"""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from mlquiz import clock
from mlquiz.curriculum import display_path, grade_command
from mlquiz.schedule.config import get_config
from mlquiz.schedule.items import (KINDS, NEW, REVIEW, STATES, ScheduleError, UnknownItem,
                                   default_file)
from mlquiz.schedule.store import Store

SOURCES = ("grade", "flashcard")
AGAIN, HARD, GOOD, EASY = 1, 2, 3, 4
RATINGS = {AGAIN: "Again", HARD: "Hard", GOOD: "Good", EASY: "Easy"}


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
    file: Path | None = None  # an exercise's file (``items.default_file``)

    def to_dict(self) -> dict:
        """The JSON of ``mlquiz next --json``; for an exercise with its ``file`` (as the
        learner would type it) and the ``command`` that grades it."""
        if self.item is None:
            return {"item": None, "next_due": clock.format_optional(self.next_due)}
        data = {"item": self.item.id, "kind": self.item.kind,
                "due": clock.format_optional(self.item.due), "due_count": self.due_count,
                "new": self.item.new, "new_count": self.new_count,
                "state": self.item.state_name, "ref": self.item.ref, "topic": self.item.topic}
        if self.file is not None:
            data["file"] = display_path(self.file)
            data["command"] = grade_command(self.file, self.item.ref)
        return data


# When an item is due: its FSRS due date, or earlier when it was called for (requested_at).
WHEN_DUE = "coalesce(min(due, requested_at), due, requested_at)"
_ITEM_COLUMNS = f"id, kind, ref, topic, state, {WHEN_DUE} AS due, shown_at"


def _due_item(row) -> DueItem:
    return DueItem(row["id"], row["kind"], row["ref"], row["topic"], row["state"],
                   clock.parse_optional(row["due"]), row["shown_at"])


def _new_left(store: Store, now: datetime) -> int:
    """How many new items may still enter today."""
    start = clock.day_start(now)
    introduced = store.value("SELECT count(*) FROM items WHERE introduced >= ? AND introduced < ?",
                             (clock.format_time(start), clock.format_time(start + timedelta(days=1))))
    return max(0, get_config(store, "new_per_day") - introduced)


def new_items_allowed(store: Store, now: datetime) -> list[DueItem]:
    """The new items that may still enter today, in curriculum order."""
    return _new_items(store, _new_left(store, now))


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
    now = clock.current(now)
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    with store.snapshot():
        rows = store.rows(f"SELECT {_ITEM_COLUMNS} FROM items WHERE {WHEN_DUE} <= ? AND active = 1 "
                          f"ORDER BY {WHEN_DUE}, position", (clock.format_time(now),))
        items = [_due_item(r) for r in rows] + new_items_allowed(store, now)
    return [item for item in items if kind is None or item.kind == kind]


def next_item(store: Store, now: datetime | None = None, mark_shown: bool = True) -> NextItem:
    """What to practise now: the most overdue due item, else the next new item allowed today;
    with the count for the rest of the day, or, when nothing is due, when the next item is.
    ``mark_shown`` notes when an item was first shown (the duration of its next graded review
    runs from then), unless the disk is full (``Store.full_disk``)."""
    now = clock.current(now)
    end = clock.next_day_start(now)
    with store.snapshot():
        due_now = store.row(f"SELECT {_ITEM_COLUMNS} FROM items WHERE {WHEN_DUE} <= ? AND active = 1 "
                            f"ORDER BY {WHEN_DUE}, position LIMIT 1", (clock.format_time(now),))
        due_today = store.value(f"SELECT count(*) FROM items WHERE {WHEN_DUE} < ? AND active = 1",
                                (clock.format_time(end),))
        new_left = _new_left(store, now)
        new = _new_items(store, new_left)
        item = _due_item(due_now) if due_now else (new[0] if new else None)
        next_due = None
        if item is None:
            earliest = store.value(
                "SELECT min(due) FROM items WHERE due IS NOT NULL AND active = 1")
            candidates = [clock.parse_optional(earliest)] if earliest else []
            waiting = store.value("SELECT 1 FROM items WHERE state = 0 AND active = 1 LIMIT 1")
            if waiting and get_config(store, "new_per_day") > 0:
                candidates.append(end)  # tomorrow's new items
            next_due = min(candidates) if candidates else None
    if item is not None and mark_shown and item.shown_at is None and store.full_disk is None:
        with store.write():
            store.conn.execute("UPDATE items SET shown_at = ? WHERE id = ? AND shown_at IS NULL",
                               (clock.format_time(now), item.id))
    file = default_file(store, item.ref) if item is not None and item.kind == "exercise" else None
    return NextItem(item, due_today + len(new), len(new), next_due, file)


def due_cards(store: Store, now: datetime | None = None, topic: str | None = None,
              include_new: bool = False) -> list:
    """The flashcards to review now, as ``(DueItem, cards.deck.Card)`` pairs in review order
    (of ``topic`` only, when given); with ``include_new``, every new card after them, beyond
    today's allowance. Raises ``DeckError`` when a due card's topic file is broken."""
    from mlquiz.cards.deck import get_card

    items = due_items(store, now, kind="card")
    if include_new:
        seen = {item.id for item in items}
        items += [item for item in new_items(store, topic, "card") if item.id not in seen]
    out = []
    for item in items:
        found = get_card(item.ref)  # loads only the files of the topics due
        if found is not None and (topic is None or found.topic == topic):
            out.append((item, found))
    return out


def card_states(store: Store) -> dict[str, dict]:
    """Each card's schedule row (``state``, ``due``, ``reps``, ``lapses``) by card id."""
    rows = store.rows("SELECT ref, state, due, reps, lapses FROM items WHERE kind = 'card'")
    return {row["ref"]: row for row in rows}


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
                due=clock.parse_optional(row["due"]), last_review=clock.parse_optional(row["last_review"]))


def apply_review(store: Store, item_id: str, rating: int, source: str,
            duration_seconds: float | None, now: datetime) -> Review:
    """Apply one review inside the caller's write transaction (``record_review`` opens one)."""
    from fsrs import Rating, Scheduler

    row = store.row("SELECT * FROM items WHERE id = ?", (item_id,))
    if row is None:
        raise UnknownItem(f"unknown item {item_id!r}")
    last = clock.parse_optional(row["last_review"])
    if last is not None and now < last:  # an item's reviews stay in time order
        raise ScheduleError(
            f"this review of {item_id} is dated {clock.format_time(now)}, earlier than its last "
            f"review at {row['last_review']}; reviews are recorded in time order (is "
            "MLQUIZ_NOW or the system clock set back?)")
    retention = get_config(store, "retention")
    scheduler = Scheduler(desired_retention=retention, enable_fuzzing=False)
    card, _ = scheduler.review_card(
        _card_from_row(row, now), Rating(rating), review_datetime=now,
        review_duration=None if duration_seconds is None else round(duration_seconds * 1000))
    state = {"state": int(card.state), "step": card.step, "stability": card.stability,
             "difficulty": card.difficulty, "due": clock.format_time(card.due)}
    reviews = store.db["reviews"].insert(
        {"item_id": item_id, "rating": rating, "reviewed_at": clock.format_time(now), "source": source,
         "duration_seconds": duration_seconds, "retention": retention, "hints": row["hints"],
         "state_before": row["state"], **state})
    lapse = rating == AGAIN and row["state"] == REVIEW
    store.db["items"].update(item_id, {
        **state, "last_review": clock.format_time(now), "reps": row["reps"] + 1,
        "lapses": row["lapses"] + lapse, "introduced": row["introduced"] or clock.format_time(now),
        "shown_at": None, "hints": 0, "requested_at": None})
    return Review(reviews.last_pk, item_id, rating, now, state["state"], card.due,
                  duration_seconds)


def record_review(store: Store, item_id: str, rating, source: str,
                  duration_seconds: float | None = None, now: datetime | None = None) -> Review:
    """Review ``item_id`` (rating 1 Again .. 4 Easy, as in FSRS; ``source`` "grade" or
    "flashcard"): append it to the log and store the item's new FSRS state, atomically.
    ``now`` None: the clock is read under the write lock, so that concurrent reviews of an
    item are timed in the order they are written."""
    rating = _rating(rating)
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")
    if duration_seconds is not None and duration_seconds < 0:
        raise ValueError("duration_seconds cannot be negative")
    with store.write():
        return apply_review(store, item_id, rating, source, duration_seconds, clock.current(now))
