"""Commands of the schedule: ``next``, ``history``, ``stats``, ``config``, ``hint``, ``start``,
``attempts``, ``reset``, ``restore``, ``undo``, ``suspend``, ``unsuspend``, ``bury``,
``optimize``.

Each command opens the schedule, calls one function of ``mlquiz.schedule`` and prints. The
library is imported inside the commands: ``mlquiz next`` must start fast.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import click

from mlquiz.cli.common import (current_time, db_option, echo_json, exercise_or_fail,
                               exercise_title, json_option, lang_option, opened, rating_word,
                               relative, show_time, state_word, wrap)
from mlquiz import clock
from mlquiz.curriculum import display_path, grade_command
from mlquiz.i18n import _, columns, ngettext, pad


def schedule_commands():
    return [next_command, history, stats, config, hint, start, attempts, reset, restore, undo,
            suspend, unsuspend, bury, optimize]


# --- next ---------------------------------------------------------------------------------

@click.command("next")
@json_option
@db_option
@lang_option
def next_command(as_json, db, lang):
    """Say what to practise now.

    The item that comes first (an exercise to implement or a flashcard to review), how many
    more are due today, or, when nothing is due, when the next item is. The order: items in
    (re)learning, cards called for by a failed exercise, due reviews (lowest retrievability
    first), then new items in curriculum order, at most `new_per_day` a day (`mlquiz config`).

    \b
    Examples:
      mlquiz next
      mlquiz next --json
    """
    from mlquiz.schedule.review import next_item

    now = current_time()
    with opened(db) as store:
        found = next_item(store, now)
    data = found.to_dict()
    item = found.item
    if as_json:
        echo_json(data, indent=None)
        return
    if item is None:
        if found.next_due is None:
            click.echo(_("Nothing is scheduled."))
        else:
            click.echo(_("Nothing to practise now. Next item: {time} ({when}).").format(
                time=show_time(found.next_due), when=relative(found.next_due, now)))
        return
    when = state_word("new") if item.new else _("{state}, due {when}").format(
        state=state_word(item.state_name), when=relative(item.due, now))
    if item.kind == "exercise":
        from mlquiz.curriculum import get_exercise

        exercise = get_exercise(item.ref)
        title = exercise_title(exercise, both=True) if exercise else item.ref
        click.echo(_("Practise now: {item} - {title}  [{when}]").format(
            item=click.style(item.ref, bold=True), title=title, when=when))
        if item.new:
            click.echo(_("  Start it: `mlquiz start {id}` lays the stub in {file} and starts the "
                         "clock;\n  implement the functions, then grade it:").format(
                id=item.ref, file=data["file"]))
        else:
            click.echo(_("  Rewrite it from memory: `mlquiz start {id}` keeps your last file in "
                         "the history,\n  lays the stub in {file} and starts the clock; then "
                         "grade it:").format(id=item.ref, file=data["file"]))
        click.echo(f"    {data['command']}")
        click.echo(_("  Stuck? `mlquiz hint {id}` (your next pass after a hint counts as "
                     "{hard}).").format(id=item.ref, hard=rating_word(2)))
    else:
        from mlquiz import i18n

        card_ref = click.style(item.ref, bold=True)
        if item.topic:
            line = _("Practise now: flashcard {card} (topic {topic})  [{when}]").format(
                card=card_ref, topic=item.topic, when=when)
        else:
            line = _("Practise now: flashcard {card}  [{when}]").format(card=card_ref, when=when)
        click.echo(line)
        if found.question is not None:
            click.echo(wrap(found.question[i18n.language()]))
        click.echo(_("  Review it with: {command}").format(command="mlquiz review"))
    more = found.due_count - 1
    click.echo(ngettext("{n} more to practise today.", "{n} more to practise today.",
                        more).format(n=more) if more else _("Nothing else is due today."))


# --- history ------------------------------------------------------------------------------

@click.command()
@click.argument("item", required=False)
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Only the latest N reviews.")
@click.option("--since", metavar="TIME",
              help="Only reviews at or after TIME (ISO 8601: 2026-03-01 or 2026-03-01T09:30:00Z).")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON array, one review (an object) a line.")
@db_option
def history(item, limit, since, as_json, db):
    """Print the review log, oldest first: one row a review, with its rating.

    ITEM is an exercise (`backprop`, `backprop.py`, `exercise:backprop`) or a flashcard
    (`card:<id>`); without it, every review. The log is streamed: any length prints at once,
    in constant memory.

    \b
    Examples:
      mlquiz history
      mlquiz history bn_backward --json
      mlquiz history --since 2026-03-01 --limit 20
    """
    from mlquiz.schedule.items import STATES
    from mlquiz.schedule.review import RATINGS
    from mlquiz.schedule.stats import history_header, iter_history

    moment = None
    if since is not None:
        try:
            moment = clock.parse_time(since)
        except clock.ClockError as exc:
            raise click.BadParameter(str(exc), param_hint="--since") from None
    with opened(db) as store:
        if as_json:
            _stream(_json_array(iter_history(store, item, limit, moment, form="json")))
            return
        width = max(4, store.value("SELECT max(length(id)) FROM items") or 0)
        names = {"rating": {n: rating_word(n) for n in RATINGS},
                 "state": {n: state_word(name) for n, name in STATES.items()},
                 "source": {"grade": _("grade"), "flashcard": _("flashcard")}}
        lines = iter_history(store, item, limit, moment, form="text", width=width, names=names)
        first = next(lines, None)
        if first is None:
            click.echo(_("No reviews yet."))
            return
        _stream(itertools.chain([history_header(width), first], lines))


def _json_array(objects):
    """A JSON array of JSON texts, streamed: ``[``, one object a line, ``]``."""
    separator = "["
    for text in objects:
        yield separator + text
        separator = ","
    yield "[]" if separator == "[" else "]"


def _stream(lines, batch: int = 2000) -> None:
    """Print ``lines`` a batch at a time (one ``echo`` a line is slow)."""
    for chunk in iter(lambda: list(itertools.islice(lines, batch)), []):
        click.echo("\n".join(chunk))


# --- stats --------------------------------------------------------------------------------

BLOCKS = " ▁▂▃▄▅▆▇█"
CHART_HEIGHT = 5


def column_chart(values, top=None, label=str, height: int = CHART_HEIGHT) -> list:
    """A bar chart in text, one column a value: each of ``height`` rows is eight eighths
    (``▁`` to ``█``), so a value ``v`` fills ``v / top * height`` rows (``top``: the largest
    value). A value above zero shows at least one eighth; None (no data) is ``·`` on the
    bottom row. The axis shows ``label(top)`` at the top and ``label(0)`` at the bottom."""
    top = top or max((v for v in values if v), default=0) or 1
    lines = []
    for row in range(height, 0, -1):
        cells = []
        for value in values:
            if value is None:
                cells.append("·" if row == 1 else " ")
                continue
            eighths = max(1, round(value / top * height * 8)) if value > 0 else 0
            cells.append(BLOCKS[min(8, max(0, eighths - (row - 1) * 8))])
        axis = label(top) if row == height else (label(0) if row == 1 else "")
        lines.append(f"{axis:>6} │{''.join(cells)}".rstrip())
    lines.append(f"{'':>6} └{'─' * len(values)}")
    return lines


def _dated_axis(first: str, last: str, width: int) -> str:
    return f"{'':>8}{first}{pad(last, max(1, width - columns(first)), '>')}"


@click.command()
@json_option
@db_option
@lang_option
def stats(as_json, db, lang):
    """Show your progress: items by state, due today, charts of the reviews a day and the
    retention over the last 30 days and of the items due a day over the next 30, and progress
    per topic (`--json`: the same data).

    \b
    Examples:
      mlquiz stats
      mlquiz stats --json
    """
    from mlquiz.schedule.stats import stats as compute

    now = current_time()
    with opened(db) as store:
        data = compute(store, now)
    if as_json:
        echo_json(data)
        return
    states = ["new", "learning", "review", "relearning"]
    words = [state_word(s) for s in states] + [_("total")]
    click.echo(pad(_("items"), 10) + "".join(pad(w, 11, ">") for w in words))
    kinds = {"exercise": _("exercises"), "card": _("cards")}
    for kind, counts in data["items"].items():
        click.echo(pad(kinds.get(kind, kind + "s"), 10)
                   + "".join(f"{counts[s]:>11}" for s in states + ["total"]))
    due = data["due_today"]
    click.echo("\n" + _("Due today: {total} ({reviews} reviews, {new} new)").format(
        total=due["total"], reviews=due["reviews"], new=due["new"]))

    today = _("today")
    past = data["reviews_per_day"]
    counts = [d["count"] for d in past]
    click.echo("\n" + _("Reviews a day, last 30 days ({total} in all, at most {most} a day):")
               .format(total=data["reviews_last_30_days"], most=max(counts)))
    for line in column_chart(counts):
        click.echo(line)
    click.echo(_dated_axis(past[0]["date"], today, len(counts)))

    retention = data["retention"]
    target = f"{retention['target']:.0%}"
    if retention["measured"] is None:
        click.echo("\n" + _("Retention: no reviews of learned items in the last 30 days yet "
                            "(target {target}).").format(target=target))
    else:
        click.echo("\n" + _("Retention: {measured} recalled in {reviews} reviews of learned "
                            "items (last 30 days); target {target}.").format(
            measured=f"{retention['measured']:.1%}", reviews=retention["reviews"], target=target))
        click.echo(_("Retention a day (· no reviews of learned items that day):"))
        for line in column_chart([d["rate"] for d in data["retention_per_day"]], top=1.0,
                                 label=lambda v: f"{v:.0%}"):
            click.echo(line)
        click.echo(_dated_axis(past[0]["date"], today, len(past)))

    ahead = data["forecast"]
    due_counts = [d["due"] for d in ahead]
    click.echo("\n" + _("Due a day, next 30 days ({total} in all; today counts the overdue):")
               .format(total=sum(due_counts)))
    for line in column_chart(due_counts):
        click.echo(line)
    click.echo(_dated_axis(today, ahead[-1]["date"], len(due_counts)))
    click.echo("\n" + _("Progress by topic:"))
    for topic in data["topics"]:
        ex, cards = topic["exercise"], topic["cards"]
        verdict = (_("passed") if ex["passed"] else
                   (_("attempted") if ex["attempts"] else _("not tried")))
        due_text = _(", due {time}").format(time=show_time(ex["due"])) if ex["due"] else ""
        card_text = (_("; cards {seen}/{total} seen, {learned} learned").format(
            seen=cards["seen"], total=cards["total"], learned=cards["review"])
            if cards["total"] else "")
        click.echo(f"  {topic['topic']:20} {pad(state_word(ex['state']), 10)} "
                   f"{verdict}{due_text}{card_text}")


# --- config -------------------------------------------------------------------------------

@click.group()
def config():
    """Read or change the schedule's settings: `retention` (desired retention, default
    0.9), `new_per_day` (new items a day, default 10), `day_starts_at` (the hour your day
    starts, default 4), `timezone` (default: the computer's) and `backups` (automatic backups
    kept, default 7).

    \b
    Examples:
      mlquiz config set retention 0.85
      mlquiz config get new_per_day
      mlquiz config unset new_per_day
    """


@config.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("key")
@click.argument("value")
@db_option
def config_set(key, value, db):
    """Change a setting. A new retention applies from the next review on. (VALUE may start
    with a minus sign: it is then refused with the range the setting takes.)

    \b
    Example:
      mlquiz config set new_per_day 5
    """
    from mlquiz.schedule.config import set_config

    with opened(db) as store:
        stored = set_config(store, key, value)
    click.echo(f"{key} = {stored}")


@config.command("unset")
@click.argument("key")
@db_option
def config_unset(key, db):
    """Forget a setting: it has its default again.

    \b
    Example:
      mlquiz config unset new_per_day
    """
    from mlquiz.schedule.config import unset_config

    with opened(db) as store:
        default = unset_config(store, key)
    click.echo(_("{key} = {value} (the default)").format(key=key, value=default))


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
    from mlquiz.schedule.config import config_values, get_config

    with opened(db) as store:
        if key is not None:
            click.echo(get_config(store, key))
            return
        values = config_values(store)
    for name, entry in values.items():
        click.echo(_("{key} = {value}   (default {default}: {meaning})").format(
            key=name, value=entry["value"], default=entry["default"], meaning=entry["help"]))


# --- hint, attempts, reset, restore -------------------------------------------------------

@click.command()
@click.argument("exercise")
@click.option("--again", is_flag=True,
              help="Re-read the hints already seen, without counting one more.")
@db_option
@lang_option
def hint(exercise, again, db, lang):
    """Show the next hint of an exercise: first the idea, last the formulas.

    Each call shows the following hint and is recorded: the exercise's next pass counts as
    Hard instead of Good (a failure in between does not change that). `--again` shows the
    hints you have seen and records nothing.

    \b
    Examples:
      mlquiz hint bn_backward
      mlquiz hint bn_backward --again
    """
    from mlquiz.i18n import language
    from mlquiz.schedule.hints import hints_seen, record_hint
    from mlquiz.schedule.items import deck_cards_for_exercise

    found = exercise_or_fail(exercise)
    now = current_time()
    with opened(db) as store:
        if again:
            seen = hints_seen(store, found.id)
        else:
            level = record_hint(store, found.id, now)
    hints = found.hints_in(language())
    if again:
        if not seen:
            click.echo(_("No hints of {id} seen yet: `mlquiz hint {id}` shows the first.")
                       .format(id=found.id))
            return
        for number in range(1, seen + 1):
            click.echo(_("Hint {number} of {count} for {id}:").format(
                number=number, count=len(hints), id=found.id))
            click.echo(wrap(hints[number - 1]))
        click.echo(_("(Re-reading counts no hint.)"))
        return
    click.echo(_("Hint {number} of {count} for {id} ({title}):").format(
        number=level, count=len(hints), id=found.id, title=exercise_title(found)))
    click.echo(wrap(hints[level - 1]))
    if level == len(hints):
        click.echo(_("That was the last hint."))
    cards = deck_cards_for_exercise(found.id)
    if cards:
        first = f"mlquiz card {cards[0]}"
        if len(cards) > 1:
            line = _("The formulas behind it are flashcards: {first} (and {more} more: {all})")
        else:
            line = _("The formulas behind it are flashcards: {first}")
        click.echo("\n" + line.format(first=first, more=len(cards) - 1,
                                      all=f"mlquiz cards --topic {found.id}"))
    click.echo(_("(Your next pass of this exercise will be rated {hard}, even after a failure.)")
               .format(hard=rating_word(2)))


def _exercise_file_option(command):
    """``--file PATH``: the exercise's file, for ``reset`` and ``start``."""
    return click.option(
        "--file", "file", type=click.Path(dir_okay=False, path_type=Path), metavar="PATH",
        help="The exercise file (default: the one last graded, else ./exercises/<file>).",
    )(command)


def _verdict(row) -> str:
    if row["kind"] != "graded":
        return _("saved")
    return _("passed") if row["passed"] else _("failed")


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
    from mlquiz.schedule.attempts import attempts as stored_attempts, note_text

    found = exercise_or_fail(exercise)
    with opened(db) as store:
        rows = stored_attempts(store, found.id)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo(_("No stored attempts of {id} yet: `mlquiz grade` stores each graded file.")
                   .format(id=found.id))
        return
    click.echo(f"{'#':>3}  {pad(_('time'), 20)}  {pad(_('verdict'), 7)}  {pad(_('rating'), 27)}  "
               + _("file"))
    for row in rows:
        if row["rating"] is None:
            rating = note_text(row["note"])
        elif row["review_id"] is None:  # a failure on a day already failed, or taken back
            rating = (note_text(row["note"]) or
                      _("{again} (no new lapse today)").format(again=rating_word(1)))
        else:
            rating = rating_word(row["rating"])
        click.echo(f"{row['attempt']:>3}  {show_time(row['created_at']):20}  "
                   f"{pad(_verdict(row), 7)}  {pad(rating, 27)}  "
                   f"{display_path(Path(row['file_path']))}")
    click.echo(_("`mlquiz restore {id} --attempt N` brings one back.").format(id=found.id))


@click.command()
@click.argument("exercise")
@_exercise_file_option
@db_option
def reset(exercise, file, db):
    """Put the fresh stub back in an exercise's file, to rewrite it from memory.

    The current file is saved in the history first (`mlquiz attempts`, `mlquiz restore`).

    \b
    Examples:
      mlquiz reset backprop
      mlquiz reset bn_backward --file ~/ml/bn_backward.py
    """
    from mlquiz.schedule.attempts import reset_exercise

    found, change, _now = _lay_stub(reset_exercise, exercise, file, db)
    click.echo(_("Wrote a fresh stub to {file}: rewrite it from memory, then `{command}`.").format(
        file=display_path(change.path), command=grade_command(change.path, found.id)))


@click.command()
@click.argument("exercise")
@_exercise_file_option
@db_option
def start(exercise, file, db):
    """Start an exercise from a blank page: your current file is kept in the history
    (`mlquiz attempts`), the stub is laid in its place, and the review's duration runs
    from now. `mlquiz next` says when an exercise is due.

    \b
    Example:
      mlquiz start bn_backward --file ~/ml/bn_backward.py
    """
    from mlquiz.schedule.attempts import start_exercise

    found, change, now = _lay_stub(start_exercise, exercise, file, db)
    click.echo(_("Wrote the stub of {id} to {file}; the clock runs from {time}.\nWrite it from "
                 "memory, then: {command}").format(id=found.id, file=display_path(change.path),
                                                   time=show_time(now),
                                                   command=grade_command(change.path, found.id)))


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
    from mlquiz.schedule.attempts import restore_attempt

    found = exercise_or_fail(exercise)
    now = current_time()
    with opened(db) as store:
        change = restore_attempt(store, found.id, attempt, file, now)
    _report_saved(change)
    click.echo(_("Restored attempt {attempt} of {id} to {file}.").format(
        attempt=change.restored_attempt, id=found.id, file=display_path(change.path)))


def _lay_stub(lay, exercise, file, db):
    """``reset_exercise`` or ``start_exercise`` of an exercise; says where the file it
    replaced is kept. Returns (exercise, FileChange, now)."""
    found = exercise_or_fail(exercise)
    now = current_time()
    with opened(db) as store:
        change = lay(store, found.id, file, now)
    _report_saved(change)
    return found, change, now


def _report_saved(change) -> None:
    if change.saved_attempt is None:
        return
    if change.saved_now:
        click.echo(_("Saved your file as attempt {attempt}.").format(attempt=change.saved_attempt))
    else:
        click.echo(_("Your file is already stored (attempt {attempt}).").format(
            attempt=change.saved_attempt))


# --- undo, suspend, unsuspend, bury, optimize ----------------------------------------------

@click.command()
@db_option
def undo(db):
    """Take back the last rating: its review leaves the log, and the item's state is the
    replay of the reviews before it.

    A graded file stays in the history as an attempt without a review.

    \b
    Example:
      mlquiz undo
    """
    from mlquiz.schedule.review import undo_last_review

    with opened(db) as store:
        undone = undo_last_review(store)
    review, state = undone.review, undone.state
    if state["due"]:
        line = _("Took back {rating} of {item} ({time}); it is due {due}.")
    else:
        line = _("Took back {rating} of {item} ({time}); it is new again.")
    click.echo(line.format(rating=rating_word(review["rating"]), item=review["item_id"],
                           time=show_time(review["reviewed_at"]), due=show_time(state["due"])))


def _item_command(name, doc, action):
    @click.command(name, help=doc)
    @click.argument("item")
    @db_option
    def command(item, db):
        now = current_time()
        with opened(db) as store:
            click.echo(action(store, item, now))

    return command


def _suspend(store, item, now):
    from mlquiz.schedule.review import set_suspended

    return _("Suspended {item}: it stays out until `mlquiz unsuspend`.").format(
        item=set_suspended(store, item, True))


def _unsuspend(store, item, now):
    from mlquiz.schedule.review import set_suspended

    return _("Unsuspended {item}: it is scheduled as before.").format(
        item=set_suspended(store, item, False))


def _bury(store, item, now):
    from mlquiz.schedule.review import bury as bury_item

    item_id, until = bury_item(store, item, now)
    return _("Buried {item} until your next day starts ({time}).").format(
        item=item_id, time=show_time(until))


suspend = _item_command("suspend", """Leave an item out of what comes next until you unsuspend it.

    ITEM is an exercise (`bn_backward`) or a flashcard (`card:<id>`); its schedule is kept.

    \b
    Example:
      mlquiz suspend card:svm_dual.kkt
    """, _suspend)
unsuspend = _item_command("unsuspend", """Put a suspended item back in the schedule.

    \b
    Example:
      mlquiz unsuspend card:svm_dual.kkt
    """, _unsuspend)
bury = _item_command("bury", """Leave an item out until your next day starts (`day_starts_at`).

    \b
    Example:
      mlquiz bury gbdt
    """, _bury)


@click.command()
@db_option
def optimize(db):
    """Fit FSRS's parameters to your own review log (Anki's optimizer, fsrs-rs).

    Prints how well fsrs's default and the fitted parameters predict your log (log-loss and
    RMSE, lower is better) and stores the fitted ones: every later review uses them. Needs a
    few hundred reviews.

    \b
    Example:
      mlquiz optimize
    """
    from mlquiz.schedule.optimize import optimize as fit_parameters

    now = current_time()
    with opened(db) as store:
        fit = fit_parameters(store, now)
    click.echo(_("Fitted FSRS parameters to {reviews} reviews ({predictions} predictions) on "
                 "{time}:").format(reviews=fit.reviews, predictions=fit.items,
                                   time=show_time(fit.fitted_at)))
    click.echo(f"  {'':10} {pad(_('log-loss'), 9, '>')} {'RMSE':>7}")
    click.echo(f"  {pad(_('default'), 10)} {fit.log_loss_default:9.4f} {fit.rmse_default:7.4f}")
    click.echo(f"  {pad(_('fitted'), 10)} {fit.log_loss_fitted:9.4f} {fit.rmse_fitted:7.4f}")
    click.echo(_("  parameters: {values}").format(
        values=", ".join(f"{p:g}" for p in fit.parameters)))
    click.echo(_("Every review from now on is scheduled with them."))
