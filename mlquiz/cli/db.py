"""Commands for the database file itself: ``mlquiz db`` (where it is), ``db check``,
``db backups``, ``db backup``, ``db restore``.

The library does the work (``mlquiz.schedule.store``: ``check_database``, ``restore_backup``;
``mlquiz.schedule.backup``: the backup files); these commands parse and print.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlquiz.cli.common import current_time, db_option, opened, show_time


def db_commands():
    return [db]


def _path(db_path) -> Path:
    from mlquiz.schedule.store import default_path

    return Path(db_path).expanduser() if db_path else default_path()


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"


@click.group(invoke_without_command=True)
@db_option
@click.pass_context
def db(ctx, db):
    """Where the schedule database, its backups and your exercises are; check the database;
    list, make and restore backups.

    mlquiz backs the database up by itself: before every schema migration, and at most once
    a day before the day's first change, into the folder `backups` beside it (the newest 7
    are kept: `mlquiz config set backups N`). Every command checks the file cheaply before
    using it and refuses a damaged one; `mlquiz db check` checks it fully.

    \b
    Examples:
      mlquiz db
      mlquiz db check
      mlquiz db backups
      mlquiz db restore 1
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(where, db=db)


@db.command()
@db_option
def where(db):
    """Print where the database, its backups and your exercise files are.

    \b
    Example:
      mlquiz db where
    """
    from mlquiz.curriculum import display_path
    from mlquiz.schedule import backup

    path = _path(db)
    current_time()
    if path.is_file():
        from mlquiz.schedule.items import exercises_folder

        try:
            with opened(db) as store:
                folder = exercises_folder(store)
            state = _size(path)
        except click.ClickException as exc:  # where it is matters most when it is broken
            folder, state = Path.cwd() / "exercises", f"{_size(path)}; {exc.message}"
    else:
        folder, state = Path.cwd() / "exercises", "not created yet: the first command creates it"
    kept = backup.list_backups(path)
    click.echo(f"database   {path}  ({state})")
    click.echo(f"backups    {backup.folder(path)}  ({len(kept)} backup{'s' * (len(kept) != 1)})")
    there = "" if folder.is_dir() else "  (not there yet: `mlquiz init` creates it)"
    click.echo(f"exercises  {display_path(folder)}{there}")


@db.command()
@db_option
def check(db):
    """Check the whole database: SQLite's integrity check, the schema against its
    migrations, and references between tables. Exit code 0 when healthy, 1 otherwise.
    Nothing is written.

    \b
    Example:
      mlquiz db check
    """
    from mlquiz.schedule.store import StoreError, check_database

    path = _path(db)
    try:
        problems = check_database(path)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    if not problems:
        click.echo(f"{path}: healthy (integrity check, schema and references all ok)")
        return
    click.echo(f"{path}: {len(problems)} problem{'s' * (len(problems) != 1)}:", err=True)
    for problem in problems:
        click.echo(f"  - {problem}", err=True)
    sys.exit(1)


@db.command("backups")
@db_option
def list_backups(db):
    """List the backups of the database, newest first, numbered for `mlquiz db restore`.

    \b
    Example:
      mlquiz db backups
    """
    from mlquiz.schedule import backup

    path = _path(db)
    found = backup.list_backups(path)
    if not found:
        click.echo(f"No backups of {path} yet; they go to {backup.folder(path)}.")
        return
    click.echo(f"{'#':>3}  {'made':20}  {'why':9}  {'size':>8}  file")
    for number, entry in enumerate(found, 1):
        click.echo(f"{number:>3}  {show_time(entry.time):20}  {entry.reason:9}  "
                   f"{_size(entry.path):>8}  {entry.path}")
    click.echo("`mlquiz db restore N` brings one back (the current file is backed up first).")


@db.command("backup")
@db_option
def backup_now(db):
    """Back the database up now (kept with the automatic backups).

    \b
    Example:
      mlquiz db backup
    """
    now = current_time()
    with opened(db) as store:
        made = store.backup("manual", now)
    click.echo(f"Backed up {store.path} to {made}")


@db.command()
@click.argument("backup_name", metavar="BACKUP")
@db_option
def restore(backup_name, db):
    """Bring back a backup: BACKUP is its number in `mlquiz db backups` (1 is the newest) or
    its file name. The current database is backed up first (a damaged one is moved into the
    backups folder), so a restore can itself be undone.

    \b
    Examples:
      mlquiz db restore 1
      mlquiz db restore mlquiz-20260301-093000-daily.db
    """
    from mlquiz.schedule.store import StoreError, restore_backup

    now = current_time()
    try:
        restored, saved = restore_backup(_path(db), backup_name, now)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Restored the backup of {show_time(restored.time)} ({restored.path.name}).")
    click.echo(f"The file it replaced is kept as {saved}.")
