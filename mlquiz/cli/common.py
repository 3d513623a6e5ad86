"""What every command group shares: the ``--db``, ``--json`` and ``--lang`` options, the clock,
opening the schedule with every library error turned into a one-line message, and the ways
times and paths are printed."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click

from mlquiz import clock
from mlquiz.curriculum import UnknownExercise, require_exercise

# One parameter type for every ``--db``: click translates its words each time one is made.
_DB_PATH = click.Path(dir_okay=False, path_type=Path)


def db_option(command):
    """The shared ``--db PATH`` option (env ``MLQUIZ_DB``)."""
    return click.option(
        "--db", type=_DB_PATH, envvar="MLQUIZ_DB",
        show_envvar=True, metavar="PATH",
        help="The schedule database (default: mlquiz.db in your user data folder).",
    )(command)


def json_option(command):
    """The shared ``--json`` flag (the parameter ``as_json``)."""
    return click.option("--json", "as_json", is_flag=True,
                        help="Print the result as JSON.")(command)


def echo_json(data, indent: int | None = 2) -> None:
    """Print ``data`` as JSON, Chinese titles and answers as they are (not escaped); ``json``
    is imported here, when asked for, not by every start of ``mlquiz next``."""
    import json

    click.echo(json.dumps(data, ensure_ascii=False, indent=indent))


class Language(click.ParamType):
    """``en`` or ``zh`` from what a learner or a locale says (``zh_CN.UTF-8`` is ``zh``); any
    other language is a usage error. Converting also chooses the language of every later
    message (``i18n.set_language``)."""

    name = "language"

    def convert(self, value, param, ctx):
        from mlquiz import i18n

        try:
            return i18n.set_language(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _current_language() -> str:
    from mlquiz import i18n

    return i18n.language()


def lang_option(command, default=_current_language):
    """The shared ``--lang en|zh`` option (env ``MLQUIZ_LANG``): the language of every line the
    command prints, questions included. On a command the default is the language the group
    chose (``mlquiz --lang zh next``); the group's own default is English, so that every
    invocation starts from it."""
    return click.option(
        "--lang", type=Language(), default=default, envvar="MLQUIZ_LANG", show_envvar=True,
        metavar="en|zh", help="The language to speak: en (English, the default) or zh (中文).",
    )(command)


def current_time() -> datetime:
    """``clock.now()``; a bad ``MLQUIZ_NOW`` is a usage error."""
    try:
        return clock.now()
    except clock.ClockError as exc:
        raise click.UsageError(str(exc)) from None


@contextmanager
def opened(db):
    """Open the schedule; turn every error a learner can cause into a one-line message:
    a bad ``MLQUIZ_NOW`` (checked by every command that opens the schedule, whether it needs
    the clock or not) is a usage error; a database that is damaged, inconsistent, full,
    locked or not mlquiz's is refused with what to do."""
    import sqlite3

    from mlquiz.i18n import _
    from mlquiz.schedule.config import ConfigError
    from mlquiz.schedule.items import ScheduleError, UnknownItem, open_schedule
    from mlquiz.schedule.store import StoreError, default_path, explain

    current_time()
    try:
        store = open_schedule(db)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    except sqlite3.Error as exc:
        raise click.ClickException(str(explain(exc, Path(db) if db else default_path()))) from None
    try:
        yield store
    except (UnknownItem, ConfigError) as exc:
        raise click.UsageError(str(exc)) from None
    except (StoreError, ScheduleError) as exc:
        raise click.ClickException(str(exc)) from None
    except sqlite3.Error as exc:
        raise click.ClickException(str(explain(exc, store.path))) from None
    except clock.ClockError as exc:  # a stored time out of range: only a foreign write makes one
        raise click.ClickException(_("{path} holds a time mlquiz cannot use: {error}").format(
            path=store.path, error=exc)) from None
    except OverflowError:
        raise click.ClickException(_(
            "a date computed from {setting} falls after the year {year}, the last that mlquiz "
            "can store").format(setting=f"{clock.ENV_VAR}={clock.now().isoformat()}",
                                year=clock.LAST_YEAR)) from None
    finally:
        store.close()


def exercise_or_fail(name: str, what: str = "exercise"):
    """The exercise of an id or a file name; an unknown one is a usage error."""
    try:
        return require_exercise(name, what)
    except UnknownExercise as exc:
        raise click.UsageError(str(exc)) from None


def topic_or_fail(topic: str | None) -> str | None:
    """A topic's exercise id (None passes through); an unknown one is a usage error."""
    return None if topic is None else exercise_or_fail(topic, "topic").id


def rating_word(rating: int) -> str:
    """A rating (1 to 4) as the learner reads it: Again, Hard, Good, Easy (重来, 困难, 良好,
    简单 in Chinese, as Anki says them)."""
    from mlquiz.i18n import _

    return {1: _("Again"), 2: _("Hard"), 3: _("Good"), 4: _("Easy")}[int(rating)]


def show_time(moment) -> str:
    """A time (datetime or stored text) as ``2026-03-01 09:30 UTC``; ``-`` for None."""
    if moment is None:
        return "-"
    if isinstance(moment, str):
        moment = clock.parse_time(moment)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def relative(moment: datetime, now: datetime) -> str:
    """``in 3 h``, ``2 days ago``, ``now`` (``3 小时后``, ``2 天前``, ``现在``)."""
    from mlquiz.i18n import _

    seconds = (moment - now).total_seconds()
    size = abs(seconds)
    if size < 60:
        return _("now")
    if size < 3600:
        text = _("{n} min").format(n=f"{size / 60:.0f}")
    elif size < 2 * 86400:
        text = _("{n} h").format(n=f"{size / 3600:.0f}")
    else:
        text = _("{n} days").format(n=f"{size / 86400:.0f}")
    return (_("in {time}") if seconds > 0 else _("{time} ago")).format(time=text)


def state_word(state: str) -> str:
    """A schedule state (``new``, ``learning``, ``review``, ``relearning``) as the learner
    reads it (新, 学习中, 复习, 重新学习 in Chinese, as Anki says them)."""
    from mlquiz.i18n import _

    words = {"new": _("new"), "learning": _("learning"), "review": _("review"),
             "relearning": _("relearning")}
    return words.get(state, state)


def exercise_title(exercise, both: bool = False) -> str:
    """An exercise's title in the learner's language: ``title_en`` (with ``both``: ``title_en
    (title_zh)``) in English, ``title_zh`` in Chinese."""
    from mlquiz import i18n

    if i18n.language() == "zh":
        return exercise.title_zh
    return f"{exercise.title_en} ({exercise.title_zh})" if both else exercise.title_en


def wrap(text: str, indent: str = "  ") -> str:
    """A paragraph wrapped at 88 columns, indented."""
    import textwrap

    return textwrap.fill(text, width=88, initial_indent=indent, subsequent_indent=indent)
