"""Commands of the schedule: ``next``, ``history``, ``stats``, ``config``, ``hint``,
``attempts``, ``reset``, ``restore``.

Each command opens the store, calls one function of ``mlquiz.schedule`` and prints. The
library is imported inside the commands: ``mlquiz next`` must start fast.
"""

from __future__ import annotations

import json
import textwrap
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click

from mlquiz import clock


def schedule_commands():
    return [next_command, history, stats, config, hint, attempts, reset, restore]


def db_option(command):
    """The shared ``--db PATH`` option (env ``MLQUIZ_DB``)."""
    return click.option(
        "--db", type=click.Path(dir_okay=False, path_type=Path), envvar="MLQUIZ_DB",
        show_envvar=True, metavar="PATH",
        help="The schedule database (default: mlquiz.db in your user data folder).",
    )(command)


def json_option(command):
    return click.option("--json", "as_json", is_flag=True,
                        help="Print the result as JSON.")(command)


def _now() -> datetime:
    try:
        return clock.now()
    except clock.ClockError as exc:
        raise click.UsageError(str(exc)) from None


@contextmanager
def opened(db):
    """Open the store; turn every error a learner can cause into a one-line message."""
    import sqlite3

    from mlquiz.schedule import ConfigError, ScheduleError, UnknownItem
    from mlquiz.store import StoreError, open_store

    try:
        store = open_store(db)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        yield store
    except (UnknownItem, ConfigError) as exc:
        raise click.UsageError(str(exc)) from None
    except (StoreError, ScheduleError) as exc:
        raise click.ClickException(str(exc)) from None
    except sqlite3.Error as exc:
        raise click.ClickException(f"{store.path}: {exc}") from None
    finally:
        store.close()


def _exercise_or_fail(name):
    from mlquiz.curriculum import get_exercise

    exercise = get_exercise(name)
    if exercise is None:
        raise click.UsageError(f"unknown exercise {name!r}; `mlquiz topics` lists them")
    return exercise


def _show_time(moment) -> str:
    if moment is None:
        return "-"
    if isinstance(moment, str):
        moment = clock.parse_time(moment)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _relative(moment: datetime, now: datetime) -> str:
    seconds = (moment - now).total_seconds()
    size = abs(seconds)
    if size < 60:
        return "now"
    if size < 3600:
        text = f"{size / 60:.0f} min"
    elif size < 2 * 86400:
        text = f"{size / 3600:.0f} h"
    else:
        text = f"{size / 86400:.0f} days"
    return f"in {text}" if seconds > 0 else f"{text} ago"


def display_path(path: Path) -> str:
    """A path as the learner would type it: relative to the current folder when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _wrap(text: str, indent: str = "  ") -> str:
    return textwrap.fill(text, width=88, initial_indent=indent, subsequent_indent=indent)


# --- next ---------------------------------------------------------------------------------

@click.command("next")
@json_option
@db_option
def next_command(as_json, db):
    """Say what to practise now.

    The most overdue item (an exercise to implement or a flashcard to review), how many more
    are due today, or, when nothing is due, when the next item is. New items enter in
    curriculum order, at most `new_per_day` a day (`mlquiz config`).

    \b
    Examples:
      mlquiz next
      mlquiz next --json
    """
    from mlquiz.schedule import default_file, next_item

    now = _now()
    with opened(db) as store:
        found = next_item(store, now)
        data = found.to_dict()
        item = found.item
        if item is not None and item.kind == "exercise":
            path = default_file(store, item.ref)
            data["file"] = display_path(path)
            data["command"] = f"mlquiz grade {data['file']}"
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    if item is None:
        if found.next_due is None:
            click.echo("Nothing is scheduled.")
        else:
            click.echo(f"Nothing to practise now. Next item: {_show_time(found.next_due)} "
                       f"({_relative(found.next_due, now)}).")
        return
    when = "new" if item.new else f"{item.state_name}, due {_relative(item.due, now)}"
    if item.kind == "exercise":
        from mlquiz.curriculum import get_exercise

        exercise = get_exercise(item.ref)
        title = f"{exercise.title_en} ({exercise.title_zh})" if exercise else item.ref
        click.echo(f"Practise now: {click.style(item.ref, bold=True)} - {title}  [{when}]")
        if item.new:
            click.echo(f"  Implement the functions in {data['file']}, then grade it:")
            if not Path(data["file"]).expanduser().exists():
                folder = display_path(Path(data["file"]).parent)
                click.echo(f"  (the file is not there yet: `mlquiz init {folder}` copies the stubs)")
        else:
            click.echo(f"  Rewrite it from memory: `mlquiz reset {item.ref}` keeps your last "
                       f"file in the history\n  and puts the stub back in {data['file']}; "
                       "then grade it:")
        click.echo(f"    {data['command']}")
        click.echo(f"  Stuck? `mlquiz hint {item.ref}` (a pass after a hint counts as Hard).")
    else:
        topic = f" (topic {item.topic})" if item.topic else ""
        from mlquiz.cards.deck import default_lang, get_card

        click.echo(f"Practise now: flashcard {click.style(item.ref, bold=True)}{topic}  [{when}]")
        card = get_card(item.ref)
        if card is not None:
            click.echo(_wrap(card.question(default_lang())))
        click.echo("  Review it with: mlquiz review")
    more = found.due_count - 1
    click.echo(f"{more} more to practise today." if more else "Nothing else is due today.")


# --- history ------------------------------------------------------------------------------

@click.command()
@click.argument("item", required=False)
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Only the latest N reviews.")
@json_option
@db_option
def history(item, limit, as_json, db):
    """Print the review log, oldest first: one row a review, with its rating.

    ITEM is an exercise (`backprop`, `backprop.py`, `exercise:backprop`) or a flashcard
    (`card:<id>`); without it, every review.

    \b
    Examples:
      mlquiz history
      mlquiz history bn_backward --json
    """
    from mlquiz.schedule import history as review_log

    with opened(db) as store:
        rows = review_log(store, item, limit)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("No reviews yet.")
        return
    width = max(len(r["item"]) for r in rows)
    click.echo(f"{'time':20}  {'item':{width}}  {'rating':6}  {'source':9}  {'took':>8}  "
               f"{'state':10}  next due")
    for r in rows:
        took = "-" if r["duration_seconds"] is None else _duration(r["duration_seconds"])
        click.echo(f"{_show_time(r['reviewed_at']):20}  {r['item']:{width}}  {r['rating_name']:6}  "
                   f"{r['source']:9}  {took:>8}  {r['state_name']:10}  {_show_time(r['due'])}")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} d"


# --- stats --------------------------------------------------------------------------------

BARS = " ▁▂▃▄▅▆▇█"


def _sparkline(counts) -> str:
    top = max(counts) or 1
    return "".join(BARS[0 if c == 0 else max(1, round(c / top * 8))] for c in counts)


@click.command()
@json_option
@db_option
def stats(as_json, db):
    """Show your progress: items by state, due today, reviews a day over the last 30 days,
    measured retention against the target, the next 7 days, and progress per topic.

    \b
    Examples:
      mlquiz stats
      mlquiz stats --json
    """
    from mlquiz.schedule import stats as compute

    now = _now()
    with opened(db) as store:
        data = compute(store, now)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    states = ["new", "learning", "review", "relearning", "total"]
    click.echo(f"{'items':10}" + "".join(f"{s:>11}" for s in states))
    for kind, counts in data["items"].items():
        click.echo(f"{kind + 's':10}" + "".join(f"{counts[s]:>11}" for s in states))
    due = data["due_today"]
    click.echo(f"\nDue today: {due['total']} ({due['reviews']} reviews, {due['new']} new)")
    counts = [d["count"] for d in data["reviews_per_day"]]
    click.echo(f"\nReviews a day, last 30 days ({data['reviews_last_30_days']} in all, "
               f"at most {max(counts)} a day):")
    click.echo(f"  |{_sparkline(counts)}|")
    click.echo(f"   {data['reviews_per_day'][0]['date']:<{len(counts) - 5}}today")
    retention = data["retention"]
    if retention["measured"] is None:
        click.echo(f"\nRetention: no reviews of learned items in the last 30 days yet "
                   f"(target {retention['target']:.0%}).")
    else:
        click.echo(f"\nRetention: {retention['measured']:.1%} recalled in {retention['reviews']} "
                   f"reviews of learned items (last 30 days); target {retention['target']:.0%}.")
    week = "  ".join(f"{datetime.fromisoformat(d['date']).strftime('%a')} {d['due']}"
                     for d in data["forecast"])
    click.echo(f"\nDue over the next 7 days: {week}")
    click.echo("\nProgress by topic:")
    for topic in data["topics"]:
        ex, cards = topic["exercise"], topic["cards"]
        verdict = "passed" if ex["passed"] else ("attempted" if ex["attempts"] else "not tried")
        due_text = f", due {_show_time(ex['due'])}" if ex["due"] else ""
        card_text = (f"; cards {cards['seen']}/{cards['total']} seen, {cards['review']} learned"
                     if cards["total"] else "")
        click.echo(f"  {topic['topic']:20} {ex['state']:10} {verdict}{due_text}{card_text}")


# --- config -------------------------------------------------------------------------------

@click.group()
def config():
    """Read or change the schedule's settings: `retention` (desired retention, default
    0.9) and `new_per_day` (new items a day, default 10).

    \b
    Examples:
      mlquiz config set retention 0.85
      mlquiz config get new_per_day
    """


@config.command("set")
@click.argument("key")
@click.argument("value")
@db_option
def config_set(key, value, db):
    """Change a setting. A new retention applies from the next review on.

    \b
    Example:
      mlquiz config set new_per_day 5
    """
    from mlquiz.schedule import set_config

    with opened(db) as store:
        stored = set_config(store, key, value)
    click.echo(f"{key} = {stored}")


@config.command("get")
@click.argument("key", required=False)
@db_option
def config_get(key, db):
    """Print a setting (without KEY: every setting, with its meaning).

    \b
    Examples:
      mlquiz config get retention
      mlquiz config get
    """
    from mlquiz.schedule import config_values, get_config

    with opened(db) as store:
        if key is not None:
            click.echo(get_config(store, key))
            return
        values = config_values(store)
    for name, entry in values.items():
        click.echo(f"{name} = {entry['value']}   (default {entry['default']}: {entry['help']})")


# --- hint, attempts, reset, restore -------------------------------------------------------

@click.command()
@click.argument("exercise")
@db_option
def hint(exercise, db):
    """Show the next hint of an exercise: first the idea, last the formulas.

    Each call shows the following hint and is recorded: a pass after a hint (before the
    exercise's next review) counts as Hard instead of Good.

    \b
    Example:
      mlquiz hint bn_backward
    """
    from mlquiz.schedule import deck_cards_for_exercise, record_hint

    found = _exercise_or_fail(exercise)
    now = _now()
    with opened(db) as store:
        level = record_hint(store, found.id, now)
    click.echo(f"Hint {level} of {len(found.hints)} for {found.id} ({found.title_en}):")
    click.echo(_wrap(found.hints[level - 1]))
    if level == len(found.hints):
        click.echo("That was the last hint.")
    cards = deck_cards_for_exercise(found.id)
    if cards:
        click.echo(f"\nThe formulas behind it are flashcards: mlquiz card {cards[0]}"
                   + (f" (and {len(cards) - 1} more: mlquiz cards --topic {found.id})" if len(cards) > 1 else ""))
    click.echo("(Your next pass of this exercise will be rated Hard.)")


def _verdict(row) -> str:
    if row["kind"] != "graded":
        return "saved"
    return "passed" if row["passed"] else "failed"


@click.command()
@click.argument("exercise")
@json_option
@db_option
def attempts(exercise, as_json, db):
    """List the stored files of an exercise: every graded attempt with its time and verdict,
    and the files saved by `reset` and `restore`.

    \b
    Example:
      mlquiz attempts backprop
    """
    from mlquiz.schedule import RATINGS
    from mlquiz.schedule import attempts as stored_attempts

    found = _exercise_or_fail(exercise)
    with opened(db) as store:
        rows = stored_attempts(store, found.id)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(f"No stored attempts of {found.id} yet: `mlquiz grade` stores each graded file.")
        return
    click.echo(f"{'#':>3}  {'time':20}  {'verdict':7}  {'rating':27}  file")
    for row in rows:
        if row["rating"] is None:
            rating = row["note"] or ""
        elif row["review_id"] is None:
            rating = "Again (no new lapse today)"
        else:
            rating = RATINGS[row["rating"]]
        click.echo(f"{row['attempt']:>3}  {_show_time(row['created_at']):20}  {_verdict(row):7}  "
                   f"{rating:27}  {display_path(Path(row['file_path']))}")
    click.echo(f"`mlquiz restore {found.id} --attempt N` brings one back.")


@click.command()
@click.argument("exercise")
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="The exercise file (default: the one last graded, else ./exercises/<file>).")
@db_option
def reset(exercise, file, db):
    """Put the fresh stub back in an exercise's file, to rewrite it from memory.

    The current file is saved in the history first (`mlquiz attempts`, `mlquiz restore`).

    \b
    Examples:
      mlquiz reset backprop
      mlquiz reset bn_backward --file ~/ml/bn_backward.py
    """
    from mlquiz.schedule import reset_exercise

    found = _exercise_or_fail(exercise)
    now = _now()
    with opened(db) as store:
        change = reset_exercise(store, found.id, file, now)
    _report_saved(change)
    click.echo(f"Wrote a fresh stub to {display_path(change.path)}: rewrite it from memory, then "
               f"`mlquiz grade {display_path(change.path)}`.")


@click.command()
@click.argument("exercise")
@click.option("--attempt", type=click.IntRange(min=1), metavar="N",
              help="Which stored attempt (default: the latest); `mlquiz attempts` lists them.")
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
              help="Where to write it (default: the file last graded, else ./exercises/<file>).")
@db_option
def restore(exercise, attempt, file, db):
    """Bring a stored attempt of an exercise back into its file.

    The file it replaces is saved in the history first, so nothing is lost.

    \b
    Examples:
      mlquiz restore backprop
      mlquiz restore backprop --attempt 2 --file /tmp/backprop_v2.py
    """
    from mlquiz.schedule import restore_attempt

    found = _exercise_or_fail(exercise)
    now = _now()
    with opened(db) as store:
        change = restore_attempt(store, found.id, attempt, file, now)
    _report_saved(change)
    click.echo(f"Restored attempt {change.restored_attempt} of {found.id} to "
               f"{display_path(change.path)}.")


def _report_saved(change) -> None:
    if change.saved_attempt is None:
        return
    if change.saved_now:
        click.echo(f"Saved your file as attempt {change.saved_attempt}.")
    else:
        click.echo(f"Your file is already stored (attempt {change.saved_attempt}).")
