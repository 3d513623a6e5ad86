"""Reviews: what is due, what to practise next, and one FSRS review of an item.

An item's state is computed by the ``fsrs`` package, never here: a review appends a row to
``reviews`` and stores the card that ``Scheduler.review_card`` returns, in one transaction.
Each review row points to the scheduler configuration it was made with (``schedulers``:
parameters, retention, steps, fuzzing), and its fuzz is drawn from a generator seeded by the
item and the review's number (``fuzz_seed``), so replaying an item's log through ``fsrs``
gives exactly its stored state and every stored row (``replay_state``; ``mlquiz undo`` uses it).
"""

from __future__ import annotations

import zlib
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from mlquiz import clock
from mlquiz.curriculum import display_path, grade_command
from mlquiz.i18n import _
from mlquiz.schedule.config import get_config, learner_day
from mlquiz.schedule.items import (KINDS, LEARNING, NEW, RELEARNING, REVIEW, STATES, ScheduleError,
                                  UnknownItem, card_question, default_file)
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
    question: dict[str, str] | None = None  # a card's question by language (``items.card_question``)

    def to_dict(self) -> dict:
        """The JSON of ``mlquiz next --json``; for an exercise with its ``file`` (as the
        learner would type it), the ``start`` command that lays its stub and the ``command``
        that grades it."""
        if self.item is None:
            return {"item": None, "next_due": clock.format_optional(self.next_due)}
        data = {"item": self.item.id, "kind": self.item.kind,
                "due": clock.format_optional(self.item.due), "due_count": self.due_count,
                "new": self.item.new, "new_count": self.new_count,
                "state": self.item.state_name, "ref": self.item.ref, "topic": self.item.topic}
        if self.file is not None:
            data["file"] = display_path(self.file)
            data["start"] = f"mlquiz start {self.item.ref}"
            data["command"] = grade_command(self.file, self.item.ref)
        return data


# When an item is due: its FSRS due date, or earlier when it was called for (requested_at).
WHEN_DUE = "coalesce(min(due, requested_at), due, requested_at)"
_ITEM_COLUMNS = f"id, kind, ref, topic, state, {WHEN_DUE} AS due, shown_at"
# Items that can be practised: in the curriculum, not suspended, not buried.
_PRACTISABLE = "active = 1 AND suspended = 0 AND (buried_until IS NULL OR buried_until <= :now)"
# Due now: due by now, or, for an item whose interval is counted in days (a card in review,
# any exercise), due before the end of the learner's day (as Anki shows a day's reviews).
_AVAILABLE = (f"({WHEN_DUE} <= :now OR ({WHEN_DUE} < :end AND (state = {REVIEW} "
              "OR kind = 'exercise')))")
# Lowest retrievability first: fsrs's R = (1 + FACTOR * t / S) ** -w20 falls as the whole days
# t since the last review over the stability S grow, whatever the parameters, so ordering by
# t / S descending is ordering by R (ties: the longer wait in fractions of a day, then position).
_ELAPSED = "(julianday(:now) - julianday(last_review))"
_LOWEST_R_FIRST = (f"CAST({_ELAPSED} AS INTEGER) / stability DESC, {_ELAPSED} / stability DESC, "
                   "position")


def _reading(store: Store):
    """A consistent read: a snapshot, unless the caller's transaction already is one."""
    return nullcontext() if store.conn.in_transaction else store.snapshot()


def _due_item(row) -> DueItem:
    return DueItem(row["id"], row["kind"], row["ref"], row["topic"], row["state"],
                   clock.parse_optional(row["due"]), row["shown_at"])


def _params(store: Store, now: datetime) -> dict:
    """The query parameters of the learner's day: ``now``, its ``start`` and ``end``."""
    day = learner_day(store)
    return {"now": clock.format_time(now), "start": clock.format_time(day.start(now)),
            "end": clock.format_time(day.end(now))}


def _new_left(store: Store, params: dict) -> int:
    """How many new items may still enter in the learner's day (``_params``)."""
    introduced = store.value("SELECT count(*) FROM items WHERE introduced >= :start "
                             "AND introduced < :end", params)
    return max(0, get_config(store, "new_per_day") - introduced)


def queue(store: Store, now: datetime | None = None, limit: int | None = None,
          params: dict | None = None) -> list[DueItem]:
    """What to practise now, in order (as Anki orders a day's study):

    1. items in learning or relearning that are due, earliest due first;
    2. cards called for by a failed exercise (``requested_at``), earliest call first; the new
       ones among them count against ``new_per_day``;
    3. due reviews, lowest retrievability first;
    4. new items, in curriculum order, as many as ``new_per_day`` still allows today.

    Suspended and buried items are left out. ``limit``: at most that many (``next`` asks
    for one)."""
    now = clock.current(now)
    params = params or _params(store, now)
    out: list[DueItem] = []

    def take(sql, extra=None, limited=True):
        limited = limited and limit is not None
        rows = store.rows(f"SELECT {_ITEM_COLUMNS} FROM items WHERE {_PRACTISABLE} AND {sql}"
                          + (" LIMIT :limit" if limited else ""),
                          {**params, **(extra or {}), "limit": limit})
        return [_due_item(r) for r in rows]

    def full():
        return limit is not None and len(out) >= limit

    with _reading(store):
        out += take(f"state IN ({LEARNING}, {RELEARNING}) AND {_AVAILABLE} "
                    f"ORDER BY {WHEN_DUE}, position")
        new_left = _new_left(store, params)
        if not full():
            for item in take("requested_at IS NOT NULL AND state IN (0, 2) "
                             "ORDER BY requested_at, position", limited=False):
                if item.new:
                    if new_left <= 0:
                        continue
                    new_left -= 1
                out.append(item)
        if not full():
            out += take(f"state = {REVIEW} AND requested_at IS NULL AND {_AVAILABLE} "
                        f"ORDER BY {_LOWEST_R_FIRST}")
        if not full() and new_left > 0:
            out += take("state = 0 AND requested_at IS NULL ORDER BY position LIMIT :left",
                        {"left": new_left if limit is None else min(new_left, limit)},
                        limited=False)
    return out if limit is None else out[:limit]


def new_items(store: Store, topic: str | None = None, kind: str | None = None) -> list[DueItem]:
    """Every new item (of ``topic``, of ``kind``) in curriculum order, whatever today's
    allowance: for a learner who chooses to study a topic now."""
    rows = store.rows(f"SELECT {_ITEM_COLUMNS} FROM items WHERE state = 0 AND active = 1 "
                      "AND suspended = 0 AND (? IS NULL OR topic = ?) AND (? IS NULL OR kind = ?) "
                      "ORDER BY position", (topic, topic, kind, kind))
    return [_due_item(r) for r in rows]


def due_items(store: Store, now: datetime | None = None, kind: str | None = None) -> list[DueItem]:
    """``queue``, of one ``kind`` only (``"exercise"`` or ``"card"``) when given."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    return [item for item in queue(store, now) if kind is None or item.kind == kind]


def due_today(store: Store, now: datetime, params: dict | None = None) -> int:
    """Items already practised that are due before the learner's day ends."""
    return store.value(f"SELECT count(*) FROM items WHERE {_PRACTISABLE} AND state > 0 "
                       f"AND {WHEN_DUE} < :end", params or _params(store, now))


def new_count(store: Store, now: datetime, params: dict | None = None) -> int:
    """How many new items ``queue`` holds: the new cards called for, then the others, up to
    what ``new_per_day`` still allows today."""
    params = params or _params(store, now)
    left = _new_left(store, params)
    called, others = store.conn.execute(
        "SELECT coalesce(sum(requested_at IS NOT NULL), 0), coalesce(sum(requested_at IS NULL), 0) "
        f"FROM items WHERE {_PRACTISABLE} AND state = 0", params).fetchone()
    called = min(left, called)
    return called + min(left - called, others)


def _next_due(store: Store, now: datetime) -> datetime | None:
    """When something can next be practised, when nothing can now: a learning step's time,
    the start of the day a day-scale item is due on, the end of a burial, or tomorrow's new
    items."""
    day = learner_day(store)
    params = _params(store, now)
    step = store.value(f"SELECT min(due) FROM items WHERE {_PRACTISABLE} AND kind = 'card' "
                       f"AND state IN ({LEARNING}, {RELEARNING})", params)
    daily = store.value(f"SELECT min(due) FROM items WHERE {_PRACTISABLE} AND due IS NOT NULL "
                        f"AND (state = {REVIEW} OR kind = 'exercise')", params)
    buried = store.value("SELECT min(buried_until) FROM items WHERE active = 1 AND suspended = 0 "
                         "AND buried_until > :now", params)
    candidates = [clock.parse_time(t) for t in (step, buried) if t]
    if daily:
        candidates.append(max(day.start(clock.parse_time(daily)), now))
    waiting = store.value("SELECT 1 FROM items WHERE state = 0 AND active = 1 AND suspended = 0 "
                          "LIMIT 1")
    if waiting and get_config(store, "new_per_day") > 0:
        candidates.append(day.end(now))  # tomorrow's new items
    return min(candidates) if candidates else None


def next_item(store: Store, now: datetime | None = None, mark_shown: bool = True) -> NextItem:
    """What to practise now: the head of ``queue`` (an exercise with its file, a card with its
    question), with the count for the rest of the learner's day, or, when nothing is due,
    when the next item is. ``mark_shown`` notes when an item was first shown (the duration of
    its next graded review runs from then), unless the disk is full (``Store.full_disk``)."""
    now = clock.current(now)
    with _reading(store):
        params = _params(store, now)
        head = queue(store, now, limit=1, params=params)
        new = new_count(store, now, params) if head else 0
        practised = due_today(store, now, params)
        item = head[0] if head else None
        next_due = None if item is not None else _next_due(store, now)
        question = card_question(store, item.id) if item is not None and item.kind == "card" else None
    if item is not None and mark_shown and item.shown_at is None and store.full_disk is None:
        with store.write():
            store.conn.execute("UPDATE items SET shown_at = ? WHERE id = ? AND shown_at IS NULL",
                               (clock.format_time(now), item.id))
    file = default_file(store, item.ref) if item is not None and item.kind == "exercise" else None
    return NextItem(item, practised + new, new, next_due, file, question)


def due_cards(store: Store, now: datetime | None = None, topic: str | None = None,
              include_new: bool = False) -> list:
    """The flashcards to review now, as ``(DueItem, cards.deck.Card)`` pairs in ``queue``
    order (of ``topic`` only, when given). New cards that come after a new exercise in that
    order wait for it: the curriculum goes on once the exercise is started. With
    ``include_new``, every new card follows, beyond today's allowance. Raises ``DeckError``
    when a due card's topic file is broken."""
    from mlquiz.cards.deck import get_card

    items, held = [], False
    for item in due_items(store, now):
        if item.kind == "exercise":
            held = held or item.new
        elif not (held and item.new):
            items.append(item)
    if include_new:
        seen = {item.id for item in items}
        items += [item for item in new_items(store, topic, "card") if item.id not in seen]
    out = []
    for item in items:
        found = get_card(item.ref)  # loads only the files of the topics due
        if found is not None and (topic is None or found.topic == topic):
            out.append((item, found))
    return out


def item_named(store: Store, item_id: str) -> DueItem:
    """One item as ``DueItem``, due or not."""
    row = store.row(f"SELECT {_ITEM_COLUMNS} FROM items WHERE id = ?", (item_id,))
    if row is None:
        raise UnknownItem(_("unknown item {name}").format(name=repr(item_id)))
    return _due_item(row)


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


# An exercise takes half an hour and is rewritten from memory: its learning and relearning
# steps are one day (a failure comes back tomorrow, a pass goes to FSRS's interval in days).
# Flashcards keep fsrs's steps (1 and 10 minutes; relearning 10 minutes).
EXERCISE_STEPS = (timedelta(days=1),)


def fitted_parameters(store: Store) -> list[float] | None:
    """The FSRS parameters last fitted by ``mlquiz optimize``; None: fsrs's defaults."""
    import json

    text = store.value("SELECT parameters FROM parameters ORDER BY id DESC LIMIT 1")
    return None if text is None else json.loads(text)


def scheduler_config(store: Store, kind: str) -> str:
    """The JSON (``fsrs.Scheduler.to_json``) of the scheduler for the next review of an item of
    ``kind``: the fitted parameters (else fsrs's defaults), the desired retention, the steps
    of the kind, fuzzing on."""
    from fsrs import Scheduler

    options = {"desired_retention": get_config(store, "retention"), "enable_fuzzing": True}
    parameters = fitted_parameters(store)
    if parameters is not None:
        options["parameters"] = parameters
    if kind == "exercise":
        options.update(learning_steps=EXERCISE_STEPS, relearning_steps=EXERCISE_STEPS)
    return Scheduler(**options).to_json()


def _scheduler_id(store: Store, config: str) -> int:
    """The id of a scheduler configuration in ``schedulers``, added when new (in the caller's
    write transaction)."""
    store.conn.execute("INSERT OR IGNORE INTO schedulers (config) VALUES (?)", (config,))
    return store.value("SELECT id FROM schedulers WHERE config = ?", (config,))


def fuzz_seed(item_id: str, number: int) -> str:
    """The seed of the fuzz of an item's ``number``-th review (1 = its first)."""
    return f"{item_id}/{number}"


@contextmanager
def seeded_fuzz(seed: str):
    """Make fsrs draw its fuzz from ``random.Random(seed)``. fsrs 6 draws it with
    ``random()`` imported into ``fsrs.scheduler`` (one draw a review, for an interval of 2.5
    days or more in review state); that name is pointed at a seeded generator for the
    duration of one ``review_card``, so the same review always gets the same fuzz."""
    import random

    import fsrs.scheduler

    drawn = fsrs.scheduler.random
    fsrs.scheduler.random = random.Random(seed).random
    try:
        yield
    finally:
        fsrs.scheduler.random = drawn


def _review_card(config: str, card, rating: int, now: datetime, seed: str):
    """One ``review_card`` of fsrs with the scheduler of ``config`` and the fuzz of ``seed``."""
    from fsrs import Rating, Scheduler

    with seeded_fuzz(seed):
        reviewed, _log = Scheduler.from_json(config).review_card(card, Rating(rating),
                                                               review_datetime=now)
    return reviewed


def _item_row(store: Store, item_id: str) -> dict:
    row = store.row("SELECT * FROM items WHERE id = ?", (item_id,))
    if row is None:
        raise UnknownItem(_("unknown item {name}").format(name=repr(item_id)))
    return row


def next_intervals(store: Store, item_id: str, now: datetime | None = None) -> dict[int, timedelta]:
    """What each rating would do to the item now: ``{rating: interval until due}``, the
    same fuzz included (the preview of the review ``apply_review`` would make)."""
    now = clock.current(now)
    row = _item_row(store, item_id)
    last = clock.parse_optional(row["last_review"])
    now = max(now, last) if last is not None else now
    config = scheduler_config(store, row["kind"])
    seed = fuzz_seed(item_id, row["reps"] + 1)
    return {rating: _review_card(config, _card_from_row(row, now), rating, now, seed).due - now
            for rating in RATINGS}


def apply_review(store: Store, item_id: str, rating: int, source: str,
                 duration_seconds: float | None, now: datetime) -> Review:
    """Apply one review inside the caller's write transaction (``record_review`` opens one)."""
    row = _item_row(store, item_id)
    last = clock.parse_optional(row["last_review"])
    if last is not None and now < last:  # an item's reviews stay in time order
        raise ScheduleError(_(
            "this review of {item} is dated {time}, earlier than its last review at {last}; "
            "reviews are recorded in time order (is MLQUIZ_NOW or the system clock set back?)")
            .format(item=item_id, time=clock.format_time(now), last=row["last_review"]))
    config = scheduler_config(store, row["kind"])
    card = _review_card(config, _card_from_row(row, now), rating, now,
                        fuzz_seed(item_id, row["reps"] + 1))
    state = {"state": int(card.state), "step": card.step, "stability": card.stability,
             "difficulty": card.difficulty, "due": clock.format_time(card.due)}
    reviews = store.db["reviews"].insert(
        {"item_id": item_id, "rating": rating, "reviewed_at": clock.format_time(now), "source": source,
         "duration_seconds": duration_seconds, "retention": get_config(store, "retention"),
         "hints": row["hints"], "state_before": row["state"], "requested_at": row["requested_at"],
         "scheduler_id": _scheduler_id(store, config), **state})
    lapse = rating == AGAIN and row["state"] == REVIEW
    store.db["items"].update(item_id, {
        **state, "last_review": clock.format_time(now), "reps": row["reps"] + 1,
        "lapses": row["lapses"] + lapse, "introduced": row["introduced"] or clock.format_time(now),
        "shown_at": None, "hints": row["hints"] if rating == AGAIN else 0,
        "requested_at": None})
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


# --- taking a review back; suspending and burying ------------------------------------------

def replay_state(store: Store, item_id: str) -> dict:
    """The item's schedule columns from the replay of its review log through fsrs, each
    review with the scheduler it was made with and its fuzz seed."""
    rows = store.rows("SELECT r.rating, r.reviewed_at, r.state_before, s.config FROM reviews r "
                      "JOIN schedulers s ON s.id = r.scheduler_id WHERE r.item_id = ? "
                      "ORDER BY r.id", (item_id,))
    state = {"state": NEW, "step": None, "stability": None, "difficulty": None, "due": None,
             "last_review": None, "reps": len(rows), "introduced": None,
             "lapses": sum(r["rating"] == AGAIN and r["state_before"] == REVIEW for r in rows)}
    card = None
    for number, row in enumerate(rows, start=1):
        moment = clock.parse_time(row["reviewed_at"])
        if card is None:
            card = _card_from_row({"id": item_id, "state": NEW}, moment)
            state["introduced"] = row["reviewed_at"]
        card = _review_card(row["config"], card, row["rating"], moment, fuzz_seed(item_id, number))
    if card is not None:
        state.update(state=int(card.state), step=card.step, stability=card.stability,
                     difficulty=card.difficulty, due=clock.format_time(card.due),
                     last_review=clock.format_time(card.last_review))
    return state


class Undone(NamedTuple):
    review: dict  # the review row taken back
    state: dict  # the item's schedule columns now


def undo_last_review(store: Store) -> Undone:
    """Take back the last review of the log: delete its row and set the item's state to the
    replay of the reviews left, in one transaction. A graded file it came from stays in
    ``submissions`` as an attempt without a review. The hints it cleared count again, and a
    call for the item (``requested_at``) that it answered stands again."""
    with store.write():
        last = store.row("SELECT * FROM reviews ORDER BY id DESC LIMIT 1")
        if last is None:
            raise ScheduleError(_("there is no review to take back"))
        store.conn.execute("UPDATE submissions SET review_id = NULL, note = 'review taken back' "
                           "WHERE review_id = ?", (last["id"],))
        store.conn.execute("DELETE FROM reviews WHERE id = ?", (last["id"],))
        hints = store.value("SELECT hints FROM items WHERE id = ?", (last["item_id"],))
        if last["rating"] != AGAIN:  # a pass cleared the hints it was helped by
            hints += last["hints"]
        state = replay_state(store, last["item_id"])
        store.db["items"].update(last["item_id"], {**state, "hints": hints,
                                                   "requested_at": last["requested_at"]})
    return Undone(last, state)


def set_suspended(store: Store, name: str, suspended: bool) -> str:
    """Suspend an item (it is left out of what comes next until unsuspended) or unsuspend
    it; returns its id. Its FSRS state is kept as it was."""
    from mlquiz.schedule.items import resolve_item

    item_id = resolve_item(store, name)
    with store.write():
        store.conn.execute("UPDATE items SET suspended = ? WHERE id = ?", (int(suspended), item_id))
    return item_id


def bury(store: Store, name: str, now: datetime | None = None) -> tuple[str, datetime]:
    """Leave an item out until the learner's next day starts; returns its id and then."""
    from mlquiz.schedule.items import resolve_item

    now = clock.current(now)
    item_id = resolve_item(store, name)
    until = learner_day(store).end(now)
    with store.write():
        store.conn.execute("UPDATE items SET buried_until = ? WHERE id = ?",
                           (clock.format_time(until), item_id))
    return item_id, until
