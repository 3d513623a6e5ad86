"""The review log and the statistics of ``mlquiz history`` and ``mlquiz stats``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from mlquiz import clock
from mlquiz.curriculum import exercises
from mlquiz.i18n import _, pad
from mlquiz.schedule.config import get_config, learner_day
from mlquiz.schedule.items import KINDS, REVIEW, STATES, resolve_item
from mlquiz.schedule.review import RATINGS, SOURCES, WHEN_DUE, due_today, new_count
from mlquiz.schedule.store import Store


_HISTORY_COLUMNS = ("id", "item", "kind", "reviewed_at", "rating", "source", "duration_seconds",
                    "hints", "state_before", "state", "stability", "difficulty", "due",
                    "retention", "rating_name", "state_name")
FORMS = ("dict", "json", "text")


def _names_sql(names: dict, column: str, otherwise: str = "NULL") -> str:
    """A CASE expression naming the values of ``column`` (``RATINGS``, ``STATES``: numbers;
    sources: text), ``otherwise`` for any other value."""
    def literal(value) -> str:
        return str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"

    cases = " ".join(f"WHEN {literal(key)} THEN {literal(name)}" for key, name in names.items())
    return f"CASE {column} {cases} ELSE {otherwise} END"


def _time_sql(column: str) -> str:
    """A stored time as ``2026-03-01 09:30 UTC`` (as ``cli.common.show_time`` prints it)."""
    return f"coalesce(substr({column}, 1, 10) || ' ' || substr({column}, 12, 5) || ' UTC', '-')"


# How long a review took, as ``45 s``, ``12 min``, ``3.5 h`` or ``4 d``.
_TOOK_SQL = ("CASE WHEN r.duration_seconds IS NULL THEN '-' "
             "WHEN r.duration_seconds < 60 THEN printf('%.0f s', r.duration_seconds) "
             "WHEN r.duration_seconds < 3600 THEN printf('%.0f min', r.duration_seconds / 60) "
             "WHEN r.duration_seconds < 172800 THEN printf('%.1f h', r.duration_seconds / 3600) "
             "ELSE printf('%.0f d', r.duration_seconds / 86400) END")


# The columns of a rating, a source and a state in the text form (terminal columns: a 汉字
# is two).
_RATING_WIDTH, _SOURCE_WIDTH, _STATE_WIDTH = 6, 9, 10


def history_header(width: int) -> str:
    """The header line of ``iter_history(..., form="text", width=width)``, in the learner's
    language."""
    return (f"{pad(_('time'), 20)}  {pad(_('item'), width)}  {pad(_('rating'), _RATING_WIDTH)}  "
            f"{pad(_('source'), _SOURCE_WIDTH)}  {pad(_('took'), 8, '>')}  {pad(_('state'), _STATE_WIDTH)}  "
            + _("next due"))


def _history_cursor(store: Store, item, limit, since, form: str, width: int, names=None):
    """The query of ``iter_history``: SQLite builds each row in the form asked for (building
    200,000 rows in Python would take seconds)."""
    where, params = [], []
    if item is not None:
        where.append("r.item_id = ?")
        params.append(resolve_item(store, item))
    if since is not None:
        where.append("r.reviewed_at >= ?")
        params.append(clock.format_time(since))
    kind = "substr(r.item_id, 1, instr(r.item_id, ':') - 1)"  # an item id is <kind>:<ref>
    rating, state = _names_sql(RATINGS, "r.rating"), _names_sql(STATES, "r.state")
    values = ["r.id", "r.item_id", kind, *(f"r.{c}" for c in _HISTORY_COLUMNS[3:14]), rating, state]
    if form == "json":
        pairs = ", ".join(f"'{name}', {value}" for name, value in zip(_HISTORY_COLUMNS, values))
        select = f"json_object({pairs})"
    elif form == "text":  # the names padded here: SQLite's printf counts characters
        names = names or {}
        words = {"rating": RATINGS, "state": STATES, "source": {s: s for s in SOURCES}}
        padded = {key: {value: pad(names.get(key, {}).get(value, word), size)
                        for value, word in words[key].items()}
                  for key, size in (("rating", _RATING_WIDTH), ("state", _STATE_WIDTH),
                                    ("source", _SOURCE_WIDTH))}
        rating = _names_sql(padded["rating"], "r.rating")
        state = _names_sql(padded["state"], "r.state")
        source = _names_sql(padded["source"], "r.source", f"printf('%-{_SOURCE_WIDTH}s', r.source)")
        select = (f"printf('%-20s  %-{int(width)}s  %s  %s  %8s  %s  %s', "
                  f"{_time_sql('r.reviewed_at')}, r.item_id, {rating}, {source}, {_TOOK_SQL}, "
                  f"{state}, {_time_sql('r.due')})")
    else:
        select = ", ".join(f"{value} AS {name}" for name, value in zip(_HISTORY_COLUMNS, values))
    sql = (f"SELECT r.id AS _order, {select} FROM reviews r"
           + (" WHERE " + " AND ".join(where) if where else ""))
    if limit is not None:  # the latest N, put back in time order
        sql = f"SELECT * FROM ({sql} ORDER BY r.id DESC LIMIT ?) ORDER BY _order"
        params.append(int(limit))
    else:
        sql += " ORDER BY r.id"
    return store.conn.execute(sql, params)


def iter_history(store: Store, item: str | None = None, limit: int | None = None,
                 since: datetime | None = None, form: str = "dict", width: int = 20,
                 names: dict | None = None) -> Iterator:
    """The review log, oldest first, read from the database as it is consumed: memory stays
    constant whatever the log's length. ``item``: one item's reviews only (an exercise or a
    card, as ``resolve_item`` reads it); ``since``: only reviews at or after that time;
    ``limit``: only the latest N of those.

    ``form``: each review as a dict of ``_HISTORY_COLUMNS`` (the ``reviews`` columns, ``item``
    for ``item_id``, with the item's ``kind``, ``rating_name`` and ``state_name``); as the
    same object in one line of JSON (``"json"``; numbers to SQLite's 15 significant digits);
    or as a line of the table under ``history_header(width)`` (``"text"``; ``names``: the
    words of its ratings, states and sources, ``{"rating": {1: "Again", ...}, "state":
    {0: "new", ...}, "source": {"grade": ...}}``, by default ``RATINGS``, ``STATES`` and the
    sources themselves)."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, not {form!r}")
    for values in _history_cursor(store, item, limit, since, form, width, names):
        yield dict(zip(_HISTORY_COLUMNS, values[1:])) if form == "dict" else values[1]


def history(store: Store, item: str | None = None, limit: int | None = None,
            since: datetime | None = None) -> list[dict]:
    """``iter_history`` as a list of dicts."""
    return list(iter_history(store, item, limit, since))


FORECAST_DAYS = 30


def _due_per_day(store: Store, starts: list[str], dates: list) -> dict[str, int]:
    """How many active items fall due in each learner's day (``starts[i]`` to
    ``starts[i + 1]`` is ``dates[i]``), by ISO date; items already overdue count on the first
    day. The due times are read once and placed by bisection (stored times sort as text)."""
    from bisect import bisect_right

    counts: dict[str, int] = {}
    for (due,) in store.conn.execute(
            f"SELECT {WHEN_DUE} FROM items WHERE active = 1 AND suspended = 0 AND {WHEN_DUE} < ?",
            (starts[-1],)):
        day = dates[max(0, bisect_right(starts, due) - 1)].isoformat()
        counts[day] = counts.get(day, 0) + 1
    return counts


def _reviews_per_day(store: Store, starts: list[str], dates: list) -> dict[str, tuple]:
    """For each learner's day (``starts[i]`` to ``starts[i + 1]`` is ``dates[i]``), by ISO
    date: (reviews, reviews of learned items, of which recalled), in one pass over the
    window's reviews."""
    days = ", ".join("(?, ?, ?)" for _day in dates)
    values = [v for i, d in enumerate(dates) for v in (d.isoformat(), starts[i], starts[i + 1])]
    rows = store.conn.execute(
        f"WITH days(day, start, end) AS (VALUES {days}) SELECT day, count(*), "
        "coalesce(sum(r.state_before = ?), 0), coalesce(sum(r.state_before = ? AND r.rating > 1), 0) "
        "FROM days JOIN reviews r ON r.reviewed_at >= days.start AND r.reviewed_at < days.end "
        "GROUP BY day", [*values, REVIEW, REVIEW]).fetchall()
    return {day: (n, learned, recalled) for day, n, learned, recalled in rows}


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
    with store.snapshot():
        counts = store.rows("SELECT kind, state, count(*) AS n FROM items WHERE active = 1 "
                            "GROUP BY kind, state")
        due_reviews = due_today(store, now)
        new_left = new_count(store, now)
        # the window by the reviews' own times: the last 30 learner's days
        per_day = _reviews_per_day(store, starts[:31], dates[:30])
        forecast_rows = _due_per_day(store, starts[29:], dates[29:])
        exercise_rows = {r["ref"]: r for r in store.rows(
            "SELECT ref, state, due, reps, lapses FROM items WHERE kind = 'exercise'")}
        graded = {r["exercise"]: r for r in store.rows(
            "SELECT exercise, count(*) AS attempts, max(passed) AS passed FROM submissions "
            "WHERE kind = 'graded' GROUP BY exercise")}
        cards = {r["topic"]: r for r in store.rows(
            "SELECT topic, count(*) AS total, sum(state > 0) AS seen, sum(state = 2) AS review "
            "FROM items WHERE kind = 'card' AND active = 1 GROUP BY topic")}
        retention = get_config(store, "retention")

    learned = sum(n for _, n, _ in per_day.values())
    recalled = sum(n for _, _, n in per_day.values())
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
        "reviews_per_day": [{"date": d, "count": per_day.get(d, (0,))[0]} for d in days],
        "reviews_last_30_days": sum(n for n, _, _ in per_day.values()),
        "retention": {"target": retention,
                      "measured": recalled / learned if learned else None,
                      "reviews": learned},
        "retention_per_day": [_recall_of_day(d, *per_day.get(d, (0, 0, 0))[1:]) for d in days],
        "forecast": [{"date": d, "due": forecast_rows.get(d, 0)} for d in ahead],
        "topics": topics,
    }


def _recall_of_day(day: str, reviews: int, recalled: int) -> dict:
    return {"date": day, "reviews": reviews, "recalled": recalled,
            "rate": recalled / reviews if reviews else None}
