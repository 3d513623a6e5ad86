"""Commands for the exercises: ``grade``, ``topics``, ``init``."""

from __future__ import annotations

import json
import shlex
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from mlquiz.cli.common import (current_time, db_option, echo_json, exercise_or_fail,
                               exercise_title, json_option, lang_option, opened, rating_word,
                               show_time)
from mlquiz.curriculum import display_path, grade_command
from mlquiz.i18n import _, columns, language, ngettext, pad

COLOURS = {"pass": "green", "fail": "red", "not_implemented": "yellow"}


def verdict_words() -> dict:
    """verdict -> its word in the learner's language (PASS, FAIL, TODO; 通过, 未通过, 待完成),
    each padded to the widest so that the columns after it stay aligned on a terminal."""
    words = {"pass": _("PASS"), "fail": _("FAIL"), "not_implemented": _("TODO")}
    widest = max(map(columns, words.values()))
    return {verdict: pad(word, widest) for verdict, word in words.items()}


def grade_commands():
    return [grade, topics, init, solution]


@click.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--exercise", "-e", metavar="NAME", help="Which exercise the file is (default: from its name).")
@click.option("--all", "grade_all", is_flag=True,
              help="Grade every exercise file in the folder PATH (default: exercises/).")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), metavar="0..4294967295",
              help="Reproduce a run: the seed printed by an earlier report.")
@click.option("--timeout", type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Time limit for each function over all its cases (default: the exercise's, 5 s for most).")
@click.option("--memory", "memory_mb", type=click.IntRange(min=64), default=1024, show_default=True,
              metavar="MB", help="Memory limit of the process running your code.")
@json_option
@db_option
@click.option("--no-record", is_flag=True, help="Grade without recording a review in the schedule.")
@click.option("--require-sandbox", is_flag=True,
              help="Refuse to grade (exit 2) unless every layer of the sandbox holds (see `mlquiz doctor`).")
@lang_option
def grade(path, exercise, grade_all, seed, timeout, memory_mb, as_json, db, no_record, require_sandbox,
          lang):
    """Grade your implementation of an exercise.

    PATH is your file, or an exercise's name (then its file: the one graded last, else
    exercises/<file>). Your functions run in a separate process on fresh random inputs (the
    seed is printed), and are compared with the references and with independent checks such
    as finite differences. Exit code 0 when every function passes, 1 otherwise, whether or
    not the review could be recorded.

    \b
    Examples:
      mlquiz grade exercises/bn_backward.py
      mlquiz grade bn_backward
      mlquiz grade my_bn.py --exercise bn_backward --seed 1234
      mlquiz grade work.ipynb --exercise bn_backward
      mlquiz grade --all exercises/ --json
    """
    from mlquiz.grading.engine import grade_file
    from mlquiz.grading.report import GradingError

    if not no_record:
        current_time()  # a bad MLQUIZ_NOW is a usage error before grading, not after
    if grade_all:
        from mlquiz.grading.watch import NOT_AN_EXERCISE, default_folder, grade_folder

        folder = path or default_folder()
        if not folder.is_dir():
            raise click.UsageError(_("no such folder: {folder}").format(folder=folder))
        from mlquiz.grading.engine import interruptible

        # SIGTERM and SIGHUP stop the children of every thread, as Ctrl-C does.
        with interruptible(), live_verdicts(f"{display_path(folder)}/",
                                            enabled=not as_json) as on_function:
            try:
                reports, skipped = grade_folder(folder, seed=seed, timeout=timeout,
                                                memory_mb=memory_mb, on_function=on_function,
                                                require_sandbox=require_sandbox)
            except GradingError as exc:  # --require-sandbox and a layer is missing
                raise click.UsageError(str(exc)) from None
        unreadable = [p for p, why in skipped if why != NOT_AN_EXERCISE]
        if not reports and not unreadable:
            raise click.UsageError(_("no exercise files in {folder} (`{command}` creates them)")
                                   .format(folder=folder, command=f"mlquiz init {folder}"))
        _print_summary(reports, as_json, skipped)
        if not no_record and reports:
            _record_all(db, reports)
        sys.exit(0 if reports and not unreadable and all(r.passed for r in reports) else 1)

    if path is None:
        raise click.UsageError(_("which file? e.g. `{command}` (or --all)")
                               .format(command="mlquiz grade exercises/bn_backward.py"))
    if exercise is None and not path.exists():
        path, exercise = _exercise_file(path, db)
    try:
        with live_verdicts(path.name, enabled=not as_json) as on_function:
            report = grade_file(path, exercise=exercise, seed=seed, timeout=timeout,
                                memory_mb=memory_mb, on_function=on_function,
                                require_sandbox=require_sandbox)
    except GradingError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_report(report)
        print_notes(report)
    if not no_record:
        _record(db, [report])
    sys.exit(0 if report.passed else 1)


def _exercise_file(name: Path, db):
    """``mlquiz grade NAME`` where NAME is an exercise, not a file: that exercise's file (the
    one last graded, else ./exercises/<file>, else ./<file>), as ``hint`` and ``reset`` take
    it. Returns the path and the exercise id."""
    from mlquiz.curriculum import display_path, get_exercise
    from mlquiz.schedule.items import default_file

    found = get_exercise(str(name)) if name.suffix in ("", ".py") and name.name == str(name) else None
    if found is None:
        raise click.UsageError(_("no such file: {file}").format(file=name))
    with opened(db) as store:
        path = default_file(store, found.id)
    if not path.is_file() and Path(found.file).is_file():
        path = Path.cwd() / found.file
    if not path.is_file():
        raise click.UsageError(
            _("{name} is an exercise, but its file {file} is not there; `{command}` copies the "
              "stubs").format(name=name, file=display_path(path),
                              command=f"mlquiz init {shlex.quote(display_path(path.parent))}"))
    click.echo(_("grading {file}, the file of {exercise}").format(file=display_path(path),
                                                                  exercise=found.id), err=True)
    return path, found.id


def _record(db, reports):
    """Record each graded submission and its review in the schedule, a line each."""
    recorded = _recorded(db, reports)
    for attempt in recorded or ():
        click.echo(_recorded_words(attempt), err=True)


def _recorded(db, reports) -> list | None:
    """``record_reports``, after the report is shown: it never changes the exit code. Whatever
    goes wrong (the database, the clock, the disk) is one line, "not recorded: WHY", the
    verdict stands, and the answer is None."""
    import sqlite3

    from mlquiz.clock import ClockError
    from mlquiz.schedule.attempts import record_reports
    from mlquiz.schedule.items import ScheduleError
    from mlquiz.schedule.store import StoreError, explain

    try:
        return record_reports(db, reports)
    except (StoreError, ScheduleError, ClockError, OSError, OverflowError) as exc:
        click.echo(not_recorded(exc), err=True)
    except sqlite3.Error as exc:
        from mlquiz.schedule.store import default_path

        click.echo(not_recorded(explain(exc, Path(db) if db else default_path())), err=True)
    return None


def _print_report(report):
    from mlquiz.curriculum import get_exercise

    found = get_exercise(report.exercise)
    title = exercise_title(found, both=True) if found is not None else report.title
    click.echo(f"{click.style(report.exercise, bold=True)}: {title}")
    click.echo(_("file {file}, seed {seed}").format(file=report.file, seed=report.seed))
    if report.file_problem:
        click.echo(click.style(_("  your file cannot be graded: "), fg="red", bold=True)
                   + report.file_problem.replace("\n", "\n    "))
    names = max(len(f.name) for f in report.functions)
    words = verdict_words()
    for f in report.functions if not report.file_problem else ():
        line = f"  {click.style(words[f.verdict], fg=COLOURS[f.verdict], bold=True)}  {f.name:<{names}}"
        if f.verdict == "pass":
            line += "  " + _("{cases} cases, {seconds} s").format(cases=f.cases_total,
                                                                   seconds=f"{f.seconds:.3f}")
        elif f.verdict == "not_implemented":
            line += "  " + _("not implemented yet")
        elif f.verdict == "fail" and f.cases_failed:
            line += "  " + _("{failed} of {total} cases failed").format(failed=f.cases_failed,
                                                                         total=f.cases_total)
        click.echo(line)
        if f.verdict == "fail":
            for text in f.explain().splitlines():
                click.echo(f"        {text}")
    for name, text in (("stdout", report.stdout), ("stderr", report.stderr)):
        if text.strip():
            click.echo("\n" + _("your code printed ({stream}):").format(stream=name))
            click.echo("  " + "\n  ".join(text.rstrip().splitlines()[:40]))
    counts = {v: sum(f.verdict == v for f in report.functions) for v in COLOURS}
    click.echo("\n" + ngettext(
        "{count} function: {passed} passed, {failed} failed, {todo} not implemented ({seconds} s).",
        "{count} functions: {passed} passed, {failed} failed, {todo} not implemented ({seconds} s).",
        len(report.functions)).format(count=len(report.functions), passed=counts["pass"],
                                      failed=counts["fail"], todo=counts["not_implemented"],
                                      seconds=f"{report.seconds:.2f}"))
    if not report.passed and not report.file_problem:
        click.echo(_("Reproduce this run: {command}").format(
            command=f"{grade_command(Path(report.file), report.exercise)} --seed {report.seed}"))


@contextmanager
def live_verdicts(label: str, enabled: bool = True):
    """On a terminal, one status line while a file (or a folder) is graded, showing each
    function's verdict as it is ready (``grading bn_backward.py: PASS batchnorm_backward``),
    erased when grading ends; yields the ``on_function`` callback for ``grade_file``. In a
    pipe, or when not ``enabled``, nothing is shown and the callback is None."""
    if not (enabled and sys.stdout.isatty()):
        yield None
        return
    import shutil
    import threading

    shown = []  # (verdict word, colour, function name)
    lock = threading.Lock()  # `grade --all` grades several files at once
    words = verdict_words()
    heading = _("grading {file}: ").format(file=label)

    def status(function=None):
        with lock:
            if function is not None:
                shown.append((words[function.verdict].rstrip(), COLOURS[function.verdict], function.name))
            # One terminal line, or erasing it would leave the rest: the latest verdicts that fit.
            room = shutil.get_terminal_size((80, 24)).columns - columns(f"{heading}… ") - 1
            kept = []
            for word, colour, name in reversed(shown):
                room -= columns(word) + len(name) + 3
                if room < 0:
                    break
                kept.insert(0, f"{click.style(word, fg=colour, bold=True)} {name}")
            more = "… " if len(kept) < len(shown) else ""
            click.echo(f"\r\x1b[K{heading}{more}" + ("  ".join(kept) or "..."), nl=False)

    status()
    try:
        yield status
    finally:
        click.echo("\r\x1b[K", nl=False)


def print_notes(report) -> None:
    """What grading left out of the file (a notebook's IPython lines), one line each."""
    for note in report.notes:
        click.echo(_("note: {note}").format(note=note))


def _print_summary(reports, as_json, skipped=()):
    """The table of ``grade --all``: one row an exercise file (``TODO`` for an untouched stub,
    else functions passed of all), the files skipped as not exercises, and a verdict line."""
    from mlquiz.grading.watch import NOT_AN_EXERCISE, untouched

    if as_json:
        click.echo(json.dumps({"passed": bool(reports) and all(r.passed for r in reports),
                               "reports": [r.to_dict() for r in reports],
                               "untouched": [r.file for r in reports if untouched(r)],
                               "skipped": [{"file": str(p), "why": why} for p, why in skipped]},
                              indent=2))
        return
    todo_word, skipped_word = _("TODO"), _("skipped")
    # Columns in terminal columns (a CJK character takes two): topic, passed, time, file.
    first = max([columns(skipped_word)] + [len(r.exercise) for r in reports])
    second = max(6, columns(_("passed")), columns(todo_word))
    third = max(6, columns(_("time")))
    click.echo(f"{pad(_('topic'), first)}  {pad(_('passed'), second)}  {pad(_('time'), third)}  "
               + _("file"))
    for r in reports:
        passed = sum(f.verdict == "pass" for f in r.functions)
        if untouched(r):
            score = click.style(pad(todo_word, second), fg="yellow")
        else:
            score = click.style(f"{passed:>2}/{len(r.functions):<2}", fg="green" if r.passed else "red")
            score += " " * (second - 5)
        click.echo(f"{r.exercise:<{first}}  {score}  {f'{r.seconds:5.2f}s':<{third}}  {r.file}")
    for p, why in skipped:
        why = _("not an exercise file") if why == NOT_AN_EXERCISE else why
        click.echo(f"{pad(skipped_word, first)}  {'-':<{second}}  {'':{third}}  {p} ({why})")
    failed = [r for r in reports if not r.passed and not untouched(r)]
    todo = sum(untouched(r) for r in reports)
    click.echo("\n" + _("{passed} of {total} exercise files pass").format(
                   passed=sum(r.passed for r in reports), total=len(reports))
               + (_(", {count} fail").format(count=len(failed)) if failed else "")
               + (_(", {count} not started (TODO)").format(count=todo) if todo else "")
               + _(".")
               + (_(" See one in detail: {command}").format(
                   command=grade_command(Path(failed[0].file), failed[0].exercise))
                  if failed else ""))


def _record_all(db, reports):
    """Record every graded file of ``grade --all`` and say what was recorded in one line."""
    from collections import Counter

    from mlquiz.schedule.practice import recorded_or_why

    results = _recorded(db, reports)
    if results is None:
        return
    recorded = [recorded_or_why(result) for result in results]
    attempts = [attempt for attempt, _ in recorded if attempt is not None]
    reviews = Counter((a.review.rating_name, a.review.rating) for a in attempts if a.counted)
    parts = []
    if reviews:
        count = sum(reviews.values())
        parts.append(ngettext("{count} review ({ratings})", "{count} reviews ({ratings})", count)
                     .format(count=count, ratings=_(", ").join(
                         _("{count} {rating}").format(count=n, rating=rating_word(rating))
                         for (_name, rating), n in sorted(reviews.items()))))
    plain = sum(not a.counted for a in attempts)
    if plain:
        parts.append(ngettext("{count} attempt without a review (failed again today)",
                              "{count} attempts without a review (failed again today)",
                              plain).format(count=plain))
    why = Counter(reason for _attempt, reason in recorded if reason is not None)
    if why:
        reason = next(iter(why)) if len(why) == 1 else _("`{command}` says why").format(
            command="mlquiz grade FILE")
        parts.append(_("{count} not recorded ({reason})").format(count=sum(why.values()),
                                                                 reason=reason))
    click.echo(_("recorded: {what}").format(what=_("; ").join(parts)), err=True)


@click.command()
@json_option
def topics(as_json):
    """List the topics of the curriculum with their exercise files.

    \b
    Example:
      mlquiz topics
    """
    from mlquiz.cards.deck import cards_for_exercise
    from mlquiz.curriculum import exercises

    rows = [{"id": ex.id, "title_en": ex.title_en, "title_zh": ex.title_zh,
             "file": f"exercises/{ex.file}", "functions": list(ex.functions),
             "cards": cards_for_exercise(ex.id)} for ex in exercises()]
    if as_json:
        echo_json(rows)
        return
    ids = max(len(r["id"]) for r in rows)
    for r in rows:
        click.echo(f"{r['id']:<{ids}}  {r['file']:<34}  "
                   + _("{count} cards").format(count=f"{len(r['cards']):>2}") + "  "
                   + (r["title_zh"] if language() == "zh" else f"{r['title_en']}  ·  {r['title_zh']}"))


@click.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
def init(folder):
    """Copy fresh exercise stubs into FOLDER. Existing files are kept.

    Without FOLDER: ~/mlquiz/exercises, your workspace outside any checkout of mlquiz (then
    `cd ~/mlquiz`: `mlquiz grade`, `mlquiz watch` and `mlquiz next` look in ./exercises).

    \b
    Examples:
      mlquiz init
      mlquiz init ~/mlquiz-work/exercises
    """
    import shutil

    from mlquiz.curriculum import data_dir, exercises
    from mlquiz.grading.watch import default_workspace

    named = folder is not None
    folder = folder if named else default_workspace()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(_("cannot create {folder}: {why}").format(
            folder=folder, why=exc.strerror)) from None
    stubs = data_dir("exercises")
    if folder.resolve() == stubs.resolve():
        click.echo(_("note: {folder} holds mlquiz's own stubs (in a checkout, tracked files): "
                     "work elsewhere, e.g. `{command}` creates {workspace}").format(
                         folder=folder, command="mlquiz init", workspace=default_workspace()),
                   err=True)
    created = 0
    for ex in exercises():
        target = folder / ex.file
        if target.exists():
            click.echo(_("kept     {file} (already there)").format(file=target))
            continue
        try:
            shutil.copyfile(stubs / ex.file, target)
        except OSError as exc:
            raise click.ClickException(_("cannot write {file}: {why}").format(
                file=target, why=exc.strerror)) from None
        created += 1
        click.echo(_("created  {file}").format(file=target))
    click.echo("\n" + _("{count} new exercise files in {folder}.").format(count=created,
                                                                          folder=folder))
    first = exercises()[0]
    if named:
        click.echo(_("Next: open one, fill it in, then `{command}` (or `{watch}`).").format(
            command=grade_command(folder / first.file, first.id), watch=f"mlquiz watch {folder}"))
    else:
        click.echo(_("Next: `{cd}`, open {file}, fill it in, then `{watch}` (it re-grades each "
                     "file you save).").format(cd=f"cd {folder.parent}",
                                               file=f"exercises/{first.file}",
                                               watch="mlquiz watch"))


@click.command()
@click.argument("exercise")
@click.option("--show", type=click.Choice(["diff", "side", "reference"]), default="diff",
              show_default=True, help="A diff from your passing file to the reference, the two "
              "side by side, or the reference alone.")
@db_option
def solution(exercise, show, db):
    """Show the reference implementation of an exercise, once your own file has passed.

    The reference is compared with your latest passing file as the schedule stored it
    (`mlquiz attempts`). Before a pass it is not shown: work it out first (`mlquiz hint`).

    \b
    Examples:
      mlquiz solution bn_backward
      mlquiz solution bn_backward --show side
    """
    from mlquiz.schedule.practice import solution as passed_solution

    found = exercise_or_fail(exercise)
    with opened(db) as store:
        shown = passed_solution(store, found.id)  # NotPassedYet: a ScheduleError, exit 1
    yours = _("your attempt {attempt} ({file})").format(attempt=shown.attempt,
                                                         file=display_path(Path(shown.file_path)))
    theirs = f"reference/{found.file}"
    if show == "reference":
        click.echo("# " + _("{file}, the reference of {exercise}; you passed it with {yours}").format(
            file=theirs, exercise=found.id, yours=yours) + "\n")
        click.echo(shown.reference.rstrip())
        return
    if shown.learner == shown.reference:
        click.echo(_("Your passing file ({yours}) is the reference, line for line.").format(
            yours=yours))
        return
    lines = (_side_by_side(shown.learner, shown.reference, yours, theirs) if show == "side"
             else _unified_diff(shown.learner, shown.reference, yours, theirs))
    for line in lines:
        click.echo(line)


def _unified_diff(mine: str, reference: str, mine_name: str, reference_name: str):
    """The lines of a unified diff from ``mine`` to ``reference``, coloured on a terminal."""
    import difflib

    colours = {"+": "green", "-": "red", "@": "cyan"}
    for line in difflib.unified_diff(mine.splitlines(), reference.splitlines(), mine_name,
                                     reference_name, lineterm=""):
        yield click.style(line, fg=colours.get(line[:1]), bold=line[:3] in ("---", "+++"))


def _side_by_side(mine: str, reference: str, mine_name: str, reference_name: str):
    """Two columns, the lines aligned by difflib: ``|`` a changed line, ``<`` only in yours,
    ``>`` only in the reference; each column cut to half the terminal's width."""
    import difflib
    import shutil
    from itertools import zip_longest

    half = max(20, (shutil.get_terminal_size((160, 24)).columns - 3) // 2)

    def cut(text):
        text = text.expandtabs(4)
        return text if len(text) <= half else text[:half - 1] + "…"

    a, b = mine.splitlines(), reference.splitlines()
    yield f"{pad(cut(mine_name), half)}   {cut(reference_name)}"
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        mark = {"equal": " ", "replace": "|", "delete": "<", "insert": ">"}[tag]
        for left, right in zip_longest(a[i1:i2], b[j1:j2], fillvalue=""):
            if tag == "replace":
                mark = "|" if left and right else ("<" if left else ">")
            yield f"{cut(left):<{half}} {mark} {cut(right)}".rstrip()


def _recorded_words(attempt) -> str:
    """One line on what the schedule made of a graded attempt (or why it is not a review)."""
    from mlquiz.schedule.attempts import NotRecorded

    if isinstance(attempt, NotRecorded):
        return not_recorded(attempt.reason)
    if attempt.review is None:
        return _("recorded attempt {attempt} of {exercise}: failed again today, no new lapse "
                 "counted").format(attempt=attempt.attempt, exercise=attempt.exercise)
    return _("recorded attempt {attempt} of {exercise} as {rating}; next due {due}").format(
        attempt=attempt.attempt, exercise=attempt.exercise,
        rating=rating_word(attempt.review.rating), due=show_time(attempt.review.due))


def not_recorded(why) -> str:
    """The line that says a graded file is not in the schedule, and why."""
    return _("not recorded: {why}").format(why=why)
