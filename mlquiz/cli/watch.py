"""``mlquiz watch``: re-grade each exercise file as it is saved, with progress and keys.

The loop's logic lives in ``mlquiz.grading.watch`` (WatchSession, changes), what it asks of
the schedule in ``mlquiz.schedule.practice`` (ScheduleLink); this module reads keys from the
terminal and prints.
"""

from __future__ import annotations

import itertools
import os
import select
import signal
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from mlquiz.cli.common import db_option, exercise_title, rating_word, wrap
from mlquiz.cli.grade import _print_report, _recorded_words, live_verdicts, not_recorded, print_notes
from mlquiz.curriculum import display_path
from mlquiz.i18n import _


def watch_commands():
    return [watch]


@click.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--timeout", type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Time limit for each function over all its cases (default: the exercise's).")
@click.option("--memory", "memory_mb", type=click.IntRange(min=64), default=1024, show_default=True,
              metavar="MB", help="Memory limit of the process running your code.")
@db_option
@click.option("--no-record", is_flag=True, help="Grade without recording anything in the schedule.")
def watch(folder, timeout, memory_mb, db, no_record):
    """Re-grade each exercise file in FOLDER as you save it, with your progress.

    FOLDER defaults to ./exercises, else ~/mlquiz/exercises (`mlquiz init`). Python files and
    notebooks named after an exercise (bn_backward.py, bn_backward.ipynb) are followed. After
    each save: the report, how many exercises and functions pass, and what to practise next.

    Keys (no Enter needed): h the next hint, n the next exercise, r re-grade, q quit (Ctrl-C
    too). A watch session records at most one review per exercise: the first save that the
    schedule counts; later saves of it are stored as attempts without a review.

    \b
    Examples:
      mlquiz watch
      mlquiz watch ~/mlquiz/exercises --no-record
    """
    from mlquiz.grading.watch import WatchSession, changes, default_folder
    from mlquiz.schedule.practice import ScheduleLink

    folder = folder or default_folder()
    if not folder.is_dir():
        raise click.UsageError(_("no such folder: {folder} (`{command}` creates it with the "
                                 "exercise stubs)").format(folder=folder,
                                                           command=f"mlquiz init {folder}"))
    session = WatchSession(folder, ScheduleLink(db), record=not no_record,
                           grade_options={"timeout": timeout, "memory_mb": memory_mb})
    try:
        with _keys() as pressed, _stopped_by_signals():
            saves = changes(folder)
            first = next(saves)  # watching from here on: nothing saved during the check is missed
            click.echo(_("Checking the exercise files in {folder} ...").format(
                folder=display_path(folder)))
            _call(session.start, on_graded=_show_checked,
                  on_problem=lambda path, why: click.echo(f"  {display_path(path)}: {why}"))
            _show_progress(session)
            for saved in itertools.chain([first], saves):
                for path in saved:
                    _grade(session, path)
                for key in pressed():
                    if key == "q":
                        click.echo(_("Bye."))
                        return
                    _on_key(session, key)
    except KeyboardInterrupt:
        click.echo("\n" + _("Stopped."))
        sys.exit(130)


def _grade(session, path, again=False):
    """Grade one saved file and show the report, the recording and the progress."""
    if again:
        session.texts.pop(path, None)
    with live_verdicts(path.name) as on_function:
        graded = _call(session.grade, path, on_function=on_function)
    if graded is None:
        return
    if sys.stdout.isatty():
        click.clear()
    report = graded.report
    _print_report(report)
    print_notes(report)
    if graded.record_error:
        click.echo(_("the verdict was not recorded: {why}").format(why=graded.record_error),
                   err=True)
    elif graded.attempt is not None:
        if graded.review_withheld:
            click.echo(_("stored as attempt {attempt} of {exercise}, not a review: this watch "
                         "session already reviewed it").format(attempt=graded.attempt.attempt,
                                                               exercise=report.exercise))
        else:
            click.echo(_recorded_words(graded.attempt))
    elif graded.not_recorded:
        click.echo(not_recorded(graded.not_recorded))
    _show_progress(session)


def _show_checked(report) -> None:
    passed = sum(f.verdict == "pass" for f in report.functions)
    click.echo(f"  {display_path(Path(report.file))}: "
               + _("{passed}/{total} functions pass").format(passed=passed,
                                                             total=len(report.functions)))


def _call(function, *args, **kwargs):
    """Run a step of the session; a grading or schedule error is shown and watching goes on."""
    from mlquiz.grading.report import GradingError
    from mlquiz.schedule.items import ScheduleError
    from mlquiz.schedule.store import StoreError

    try:
        return function(*args, **kwargs)
    except (GradingError, ScheduleError, StoreError) as exc:
        click.echo(_("error: {why}").format(why=exc), err=True)
        return None


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = round(width * done / total) if total else 0
    return "█" * filled + "░" * (width - filled)


def _show_progress(session) -> None:
    p = session.progress()
    click.echo("\n" + _("Progress {bar} {passed}/{total} exercises pass, {functions_passed}/"
                        "{functions_total} functions").format(
        bar=_bar(p.exercises_passing, p.exercises_total), passed=p.exercises_passing,
        total=p.exercises_total, functions_passed=p.functions_passing,
        functions_total=p.functions_total))
    if p.next is None:
        click.echo(_("Every exercise passes. `{command}` says what the schedule wants reviewed.")
                   .format(command="mlquiz next"))
    else:
        _show_exercise(_("Next: {exercise} - {title}: {file}"), session, p.next)
    click.echo(_("keys: h hint · n next exercise · r re-grade · q quit"))


def _show_exercise(line, session, exercise) -> None:
    """``line`` (a message with ``{exercise}``, ``{title}`` and ``{file}``) for ``exercise``,
    and what to do when its file is not there yet."""
    path = session.path_of(exercise)
    click.echo(line.format(exercise=click.style(exercise.id, bold=True),
                           title=exercise_title(exercise, both=True), file=display_path(path)))
    if not path.exists():
        click.echo(_("  (not there yet: `{command}` copies the stubs)").format(
            command=f"mlquiz init {display_path(session.folder)}"))


def _on_key(session, key: str) -> None:
    if key == "h":
        shown = _call(session.hint)
        if shown is None:
            click.echo(_("No hint to show: every exercise passes."))
            return
        exercise, level, text = shown
        click.echo("\n" + _("Hint {level} of {count} for {exercise}:").format(
            level=level, count=len(exercise.hints), exercise=exercise.id))
        click.echo(wrap(text))
        if session.record:
            click.echo(_("(Your next pass of this exercise will be rated {rating}.)").format(
                rating=rating_word(2)))
    elif key == "n":
        exercise = session.skip()
        if exercise is None:
            click.echo(_("Every exercise passes."))
        else:
            click.echo("")
            _show_exercise(_("Now: {exercise} - {title}: {file}"), session, exercise)
    elif key == "r":
        exercise = session.progress().next
        if exercise is not None and session.path_of(exercise).is_file():
            _grade(session, session.path_of(exercise), again=True)


@contextmanager
def _keys():
    """Yields ``pressed()``: the keys typed since the last call, never waiting. On a terminal
    the keys arrive without Enter and are not echoed (cbreak mode: Ctrl-C still interrupts),
    and the terminal's settings are restored on the way out, however it is left; from a pipe
    the characters of its lines. Works over SSH (it is the same terminal interface)."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        fd = None
    state = {"open": fd is not None}

    def pressed() -> list:
        keys = []
        while state["open"] and select.select([fd], [], [], 0)[0]:
            data = os.read(fd, 64)
            if not data:  # end of input: no more keys
                state["open"] = False
            keys += [c for c in data.decode("utf-8", errors="ignore").lower() if not c.isspace()]
        return keys

    if fd is None or not os.isatty(fd):
        yield pressed
        return
    try:
        import termios
        import tty
    except ImportError:  # Windows: the console's own functions read keys without Enter
        import msvcrt

        def console_keys() -> list:
            keys = []
            while msvcrt.kbhit():
                keys.append(msvcrt.getwch().lower())
            return keys

        yield console_keys
        return

    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    try:
        yield pressed
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


@contextmanager
def _stopped_by_signals():
    """SIGTERM and SIGHUP (a closed SSH connection) end watching as Ctrl-C does, so that the
    terminal is restored and no grading process is left behind."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signals = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {sig: signal.signal(sig, interrupt) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
