"""Hints: each ``mlquiz hint`` shows the next hint of an exercise and is recorded, so that the
next pass of the exercise is rated Hard (a failure in between does not clear it: the hint
helped the pass). ``mlquiz hint --again`` re-reads the hints seen without recording one."""

from __future__ import annotations

from datetime import datetime

from mlquiz import clock
from mlquiz.i18n import _
from mlquiz.schedule.items import ScheduleError, UnknownItem, exercise_named
from mlquiz.schedule.store import Store


def record_hint(store: Store, exercise_id: str, now: datetime | None = None) -> int:
    """Record that a hint was shown; returns its level (1 = the first hint of the exercise,
    capped at the last one). The next pass of the exercise is rated Hard."""
    now = clock.current(now)
    exercise = exercise_named(exercise_id)
    if not exercise.hints:
        raise ScheduleError(_("{id} has no hints").format(id=exercise.id))
    item_id = f"exercise:{exercise.id}"
    with store.write():
        used = store.value("SELECT hints FROM items WHERE id = ?", (item_id,))
        if used is None:
            raise UnknownItem(_("{id} is not in the schedule").format(id=exercise.id))
        level = min(used + 1, len(exercise.hints))
        store.db["items"].update(item_id, {"hints": used + 1})
        store.db["hints"].insert({"exercise": exercise.id, "level": level, "used_at": clock.format_time(now)})
    return level


def hints_seen(store: Store, exercise_id: str) -> int:
    """How many of the exercise's hints the learner has seen (the highest level shown)."""
    exercise = exercise_named(exercise_id)
    return store.value("SELECT coalesce(max(level), 0) FROM hints WHERE exercise = ?",
                       (exercise.id,))
