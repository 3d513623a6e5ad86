"""The review log and the statistics of ``mlquiz history`` and ``mlquiz stats``."""

from __future__ import annotations

from datetime import datetime, timedelta

from mlquiz import clock
from mlquiz.curriculum import exercises
from mlquiz.schedule.config import get_config, learner_day
from mlquiz.schedule.items import KINDS, REVIEW, STATES, resolve_item
from mlquiz.schedule.review import RATINGS, WHEN_DUE, due_today, new_count
from mlquiz.schedule.store import Store


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


FORECAST_DAYS = 30


def _per_day(store: Store, table_sql: str, column: str, starts: list[str], dates: list,
             params=()) -> dict[str, int]:
    """How many rows of ``table_sql`` (a FROM clause with its WHERE) have ``column`` in each
    learner's day (``starts[i]`` to ``starts[i + 1]`` is ``dates[i]``), by ISO date: one
    range count a day, in SQLite."""
    days = ", ".join("(?, ?, ?)" for _ in dates)
    values = [v for i, d in enumerate(dates) for v in (d.isoformat(), starts[i], starts[i + 1])]
    rows = store.conn.execute(
        f"WITH days(day, start, end) AS (VALUES {days}) SELECT day, (SELECT count(*) "
        f"{table_sql} AND {column} >= days.start AND {column} < days.end) FROM days",
        [*values, *params]).fetchall()
    return {day: count for day, count in rows if count}


def stats(store: Store, now: datetime | None = None) -> dict:
    """Items by kind and state, due today, reviews a day over the last 30 days, measured
    retention against the target (over the 30 days, and day by day), due items a day over the
    next 30 days (``forecast``: overdue items count today), and progress per topic.

    Retention is measured on reviews of learned items (state review before the review): the
    share rated Hard, Good or Easy. ``retention_per_day`` has, for each of the last 30 days,
    ``reviews`` such reviews, ``recalled`` of them, and ``rate`` (None without reviews)."""
    now = clock.current(now)
    day = learner_day(store)
    today = day.date_of(now)  # the learner's days: they start at day_starts_at in their zone
    dates = [today + timedelta(days=i) for i in range(-29, FORECAST_DAYS)]
    starts = [clock.format_time(day.start_of(d)) for d in dates] + [
        clock.format_time(day.start_of(today + timedelta(days=FORECAST_DAYS)))]
    month_ago = starts[0]
    with store.snapshot():
        counts = store.rows("SELECT kind, state, count(*) AS n FROM items WHERE active = 1 "
                            "GROUP BY kind, state")
        due_reviews = due_today(store, now)
        new_left = new_count(store, now)
        per_day = _per_day(store, "FROM reviews WHERE 1", "reviewed_at", starts[:31], dates[:30])
        learned_per_day = _per_day(store, "FROM reviews WHERE state_before = ?", "reviewed_at",
                                   starts[:31], dates[:30], (REVIEW,))
        recalled_per_day = _per_day(store, "FROM reviews WHERE state_before = ? AND rating > 1",
                                    "reviewed_at", starts[:31], dates[:30], (REVIEW,))
        recall = store.row(
            "SELECT count(*) AS n, coalesce(sum(rating > 1), 0) AS recalled FROM reviews "
            "WHERE reviewed_at >= ? AND state_before = ?", (month_ago, REVIEW))
        forecast_rows = _per_day(  # items overdue count on today
            store, "FROM items WHERE active = 1 AND suspended = 0", f"max({WHEN_DUE}, ?)",
            starts[29:], dates[29:], (starts[29],) * 2)
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
    days = [d.isoformat() for d in dates[:30]]
    ahead = [d.isoformat() for d in dates[29:]]
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
        "now": clock.format_time(now),
        "items": items,
        "due_today": {"reviews": due_reviews, "new": new_left, "total": due_reviews + new_left},
        "reviews_per_day": [{"date": d, "count": per_day.get(d, 0)} for d in days],
        "reviews_last_30_days": sum(per_day.get(d, 0) for d in days),
        "retention": {"target": retention,
                      "measured": recall["recalled"] / recall["n"] if recall["n"] else None,
                      "reviews": recall["n"]},
        "retention_per_day": [_recall_of_day(d, learned_per_day.get(d, 0),
                                             recalled_per_day.get(d, 0)) for d in days],
        "forecast": [{"date": d, "due": forecast_rows.get(d, 0)} for d in ahead],
        "topics": topics,
    }


def _recall_of_day(day: str, reviews: int, recalled: int) -> dict:
    return {"date": day, "reviews": reviews, "recalled": recalled,
            "rate": recalled / reviews if reviews else None}
