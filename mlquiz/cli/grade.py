"""Commands for the exercises: ``grade``, ``topics``, ``init``."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

import click

from mlquiz.cli.common import current_time, db_option, json_option, opened
from mlquiz.curriculum import grade_command

SYMBOLS = {"pass": ("PASS", "green"), "fail": ("FAIL", "red"), "not_implemented": ("TODO", "yellow")}


def grade_commands():
    return [grade, topics, init]


@click.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--exercise", "-e", metavar="NAME", help="Which exercise the file is (default: from its name).")
@click.option("--all", "grade_all", is_flag=True,
              help="Grade every exercise file in the folder PATH (default: exercises/).")
@click.option("--seed", type=int, help="Reproduce a run: the seed printed by an earlier report.")
@click.option("--timeout", type=click.FloatRange(min=0.1), metavar="SECONDS",
              help="Time limit for each function over all its cases (default: the exercise's, 5 s for most).")
@click.option("--memory", "memory_mb", type=click.IntRange(min=64), default=1024, show_default=True,
              metavar="MB", help="Memory limit of the process running your code.")
@json_option
@db_option
@click.option("--no-record", is_flag=True, help="Grade without recording a review in the schedule.")
def grade(path, exercise, grade_all, seed, timeout, memory_mb, as_json, db, no_record):
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
      mlquiz grade --all exercises/ --json
    """
    from mlquiz.curriculum import exercises
    from mlquiz.grading.engine import grade_file
    from mlquiz.grading.report import GradingError

    if not no_record:
        current_time()  # a bad MLQUIZ_NOW is a usage error before grading, not after
    if grade_all:
        folder = path or Path("exercises")
        if not folder.is_dir():
            raise click.UsageError(f"no such folder: {folder}")
        found = [(ex, folder / ex.file) for ex in exercises() if (folder / ex.file).is_file()]
        if not found:
            raise click.UsageError(f"no exercise files in {folder} (`mlquiz init {folder}` creates them)")
        from concurrent.futures import ThreadPoolExecutor

        # One sandbox per exercise, as many at once as there are cores; reports keep curriculum order.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            reports = list(pool.map(
                lambda job: grade_file(job[1], exercise=job[0].id, seed=seed, timeout=timeout,
                                       memory_mb=memory_mb), found))
        _print_summary(reports, as_json)
        if not no_record:
            _record(db, reports)
        sys.exit(0 if all(r.passed for r in reports) else 1)

    if path is None:
        raise click.UsageError("which file? e.g. `mlquiz grade exercises/bn_backward.py` (or --all)")
    if exercise is None and not path.exists():
        path, exercise = _exercise_file(path, db)
    try:
        report = grade_file(path, exercise=exercise, seed=seed, timeout=timeout, memory_mb=memory_mb)
    except GradingError as exc:
        raise click.UsageError(str(exc)) from None
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        _print_report(report)
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
        raise click.UsageError(f"no such file: {name}")
    with opened(db) as store:
        path = default_file(store, found.id)
    if not path.is_file() and Path(found.file).is_file():
        path = Path.cwd() / found.file
    if not path.is_file():
        raise click.UsageError(
            f"{name} is an exercise, but its file {display_path(path)} is not there; "
            f"`mlquiz init {shlex.quote(display_path(path.parent))}` copies the stubs")
    click.echo(f"grading {display_path(path)}, the file of {found.id}", err=True)
    return path, found.id


def _record(db, reports):
    """Record each graded submission and its review in the schedule. This runs after the
    report is shown and never changes the exit code: whatever goes wrong (the database, the
    clock, the disk) is one line, "not recorded: WHY", and the verdict stands."""
    import sqlite3

    from mlquiz.clock import ClockError
    from mlquiz.schedule.attempts import record_reports
    from mlquiz.schedule.items import ScheduleError
    from mlquiz.schedule.store import StoreError, explain

    try:
        recorded = record_reports(db, reports)
    except (StoreError, ScheduleError, ClockError) as exc:
        click.echo(f"not recorded: {exc}", err=True)
        return
    except sqlite3.Error as exc:
        from mlquiz.schedule.store import default_path

        click.echo(f"not recorded: {explain(exc, Path(db) if db else default_path())}", err=True)
        return
    except (OSError, OverflowError) as exc:
        click.echo(f"not recorded: {exc}", err=True)
        return
    for report, attempt in zip(reports, recorded):
        if attempt is None:
            click.echo(f"not recorded: nothing in {report.file} is implemented yet", err=True)
        else:
            click.echo(_recorded_words(attempt), err=True)


def _print_report(report):
    click.echo(f"{click.style(report.exercise, bold=True)}: {report.title}")
    click.echo(f"file {report.file}, seed {report.seed}")
    width = max(len(f.name) for f in report.functions)
    for f in report.functions:
        word, colour = SYMBOLS[f.verdict]
        line = f"  {click.style(word, fg=colour, bold=True)}  {f.name:<{width}}"
        if f.verdict == "pass":
            line += f"  {f.cases_total} cases, {f.seconds:.3f} s"
        elif f.verdict == "not_implemented":
            line += "  not implemented yet"
        elif f.verdict == "fail" and f.cases_failed:
            line += f"  {f.cases_failed} of {f.cases_total} cases failed"
        click.echo(line)
        if f.verdict == "fail":
            for text in f.explanation.splitlines():
                click.echo(f"        {text}")
    for name, text in (("stdout", report.stdout), ("stderr", report.stderr)):
        if text.strip():
            click.echo(f"\nyour code printed ({name}):")
            click.echo("  " + "\n  ".join(text.rstrip().splitlines()[:40]))
    counts = {v: sum(f.verdict == v for f in report.functions) for v in SYMBOLS}
    noun = "function" if len(report.functions) == 1 else "functions"
    click.echo(f"\n{len(report.functions)} {noun}: {counts['pass']} passed, {counts['fail']} failed, "
               f"{counts['not_implemented']} not implemented ({report.seconds:.2f} s).")
    if not report.passed:
        click.echo(f"Reproduce this run: {grade_command(Path(report.file), report.exercise)} "
                   f"--seed {report.seed}")


def _print_summary(reports, as_json):
    if as_json:
        click.echo(json.dumps({"passed": all(r.passed for r in reports),
                               "reports": [r.to_dict() for r in reports]}, indent=2))
        return
    width = max(len(r.exercise) for r in reports)
    click.echo(f"{'topic':<{width}}  passed  time    file")
    for r in reports:
        passed = sum(f.verdict == "pass" for f in r.functions)
        colour = "green" if r.passed else "red"
        score = click.style(f"{passed:>2}/{len(r.functions):<2}", fg=colour)
        click.echo(f"{r.exercise:<{width}}  {score}   {r.seconds:5.2f}s  {r.file}")
    failed = [r for r in reports if not r.passed]
    click.echo(f"\n{len(reports) - len(failed)} of {len(reports)} exercises pass."
               + (f" See one in detail: {grade_command(Path(failed[0].file), failed[0].exercise)}"
                  if failed else ""))


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
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    width = max(len(r["id"]) for r in rows)
    for r in rows:
        click.echo(f"{r['id']:<{width}}  {r['file']:<34}  {len(r['cards']):>2} cards  "
                   f"{r['title_en']}  ·  {r['title_zh']}")


@click.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path), default="exercises")
def init(folder):
    """Copy fresh exercise stubs into FOLDER (default: exercises/). Existing files are kept.

    \b
    Example:
      mlquiz init ~/mlquiz-work/exercises
    """
    import shutil

    from mlquiz.curriculum import data_dir, exercises

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise click.ClickException(f"cannot create {folder}: {exc.strerror}") from None
    stubs = data_dir("exercises")
    created = 0
    for ex in exercises():
        target = folder / ex.file
        if target.exists():
            click.echo(f"kept     {target} (already there)")
            continue
        try:
            shutil.copyfile(stubs / ex.file, target)
        except OSError as exc:
            raise click.ClickException(f"cannot write {target}: {exc.strerror}") from None
        created += 1
        click.echo(f"created  {target}")
    click.echo(f"\n{created} new exercise files. Next: open one, fill it in, then "
               f"`{grade_command(folder / exercises()[0].file, exercises()[0].id)}`.")


def _recorded_words(attempt) -> str:
    """One line on what the schedule made of a graded attempt."""
    text = f"recorded attempt {attempt.attempt} of {attempt.exercise}"
    if attempt.review is None:
        return text + ": failed again today, no new lapse counted"
    due = attempt.review.due.strftime("%Y-%m-%d %H:%M UTC")
    return text + f" as {attempt.review.rating_name}; next due {due}"
