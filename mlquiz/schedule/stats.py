"""The review log and the statistics of ``mlquiz history`` and ``mlquiz stats``."""

from __future__ import annotations

from datetime import datetime, timedelta

from mlquiz import clock
from mlquiz.curriculum import exercises
from mlquiz.schedule.config import get_config
from mlquiz.schedule.items import KINDS, REVIEW, STATES, resolve_item
from mlquiz.schedule.review import RATINGS, WHEN_DUE, new_items_allowed
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


def stats(store: Store, now: datetime | None = None) -> dict:
    """Items by kind and state, due today, reviews a day over the last 30 days, measured
    retention against the target (over the 30 days, and day by day), due items a day over the
    next 30 days (``forecast``: overdue items count today), and progress per topic.

    Retention is measured on reviews of learned items (state review before the review): the
    share rated Hard, Good or Easy. ``retention_per_day`` has, for each of the last 30 days,
    ``reviews`` such reviews, ``recalled`` of them, and ``rate`` (None without reviews)."""
    now = clock.current(now)
    today = clock.day_start(now)
    tomorrow = today + timedelta(days=1)
    month_ago = today - timedelta(days=29)
    with store.snapshot():
        counts = store.rows("SELECT kind, state, count(*) AS n FROM items WHERE active = 1 "
                            "GROUP BY kind, state")
        due_reviews = store.value(f"SELECT count(*) FROM items WHERE {WHEN_DUE} < ? AND active = 1",
                                  (clock.format_time(tomorrow),))
        new_left = len(new_items_allowed(store, now))
        per_day = dict(store.conn.execute(
            "SELECT substr(reviewed_at, 1, 10), count(*) FROM reviews WHERE reviewed_at >= ? "
            "GROUP BY 1", (clock.format_time(month_ago),)).fetchall())
        recall_per_day = {r["day"]: r for r in store.rows(
            "SELECT substr(reviewed_at, 1, 10) AS day, count(*) AS n, sum(rating > 1) AS recalled "
            "FROM reviews WHERE reviewed_at >= ? AND state_before = ? GROUP BY 1",
            (clock.format_time(month_ago), REVIEW))}
        recall = store.row(
            "SELECT count(*) AS n, coalesce(sum(rating > 1), 0) AS recalled FROM reviews "
            "WHERE reviewed_at >= ? AND state_before = ?", (clock.format_time(month_ago), REVIEW))
        forecast_rows = dict(store.conn.execute(
            f"SELECT max(substr({WHEN_DUE}, 1, 10), ?), count(*) FROM items WHERE {WHEN_DUE} < ? "
            "AND active = 1 "
            "GROUP BY 1", (today.date().isoformat(),
                          clock.format_time(today + timedelta(days=FORECAST_DAYS)))).fetchall())
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
    ahead = [(today + timedelta(days=i)).date().isoformat() for i in range(FORECAST_DAYS)]
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
        "retention_per_day": [_recall_of_day(d, recall_per_day.get(d)) for d in days],
        "forecast": [{"date": d, "due": forecast_rows.get(d, 0)} for d in ahead],
        "topics": topics,
    }


def _recall_of_day(day: str, row: dict | None) -> dict:
    reviews, recalled = (row["n"], row["recalled"]) if row else (0, 0)
    return {"date": day, "reviews": reviews, "recalled": recalled,
            "rate": recalled / reviews if reviews else None}
