"""Backup copies of the database, kept as Anki keeps them.

A backup is a complete SQLite file made with SQLite's online backup API (``Connection.backup``),
so it is consistent even while other mlquiz processes write. Backups live in the folder
``backups`` beside the database, named ``<database stem>-<YYYYmmdd-HHMMSS>-<reason>.db`` (UTC,
the schedule's clock), so several databases may share a folder and names sort in time order.
The store makes one before every migration and, at most once a (UTC) day, before the day's
first write (``Store.write``); only the newest ``backups`` (a setting, default 7) are kept.

This module knows files only: it never opens the database itself (the store passes its
connection), so the store can use it without an import cycle.
"""

from __future__ import annotations

import os
import re
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import NamedTuple

from mlquiz import clock

BACKUPS_KEPT = 7  # default of the ``backups`` setting: how many backups are kept
FOLDER_NAME = "backups"
REASONS = ("daily", "migration", "restore", "manual", "damaged")
_STAMP = "%Y%m%d-%H%M%S"


class Backup(NamedTuple):
    path: Path
    time: datetime  # when it was made (UTC)
    reason: str  # one of REASONS: "restore" is the file a restore replaced

    @property
    def day(self) -> str:
        return self.time.date().isoformat()


def folder(db_path: Path) -> Path:
    """The backups folder of the database at ``db_path``: ``backups`` beside it."""
    return Path(db_path).parent / FOLDER_NAME


def _pattern(db_path: Path) -> re.Pattern:
    stem = re.escape(Path(db_path).stem)
    return re.compile(rf"{stem}-(\d{{8}}-\d{{6}})-({'|'.join(REASONS)})(?:-\d+)?\.db")


def list_backups(db_path: Path) -> list[Backup]:
    """The backups of the database at ``db_path``, newest first (none: an empty list)."""
    pattern = _pattern(db_path)
    try:
        names = os.listdir(folder(db_path))
    except OSError:
        return []
    found = []
    for name in names:
        match = pattern.fullmatch(name)
        if match:
            moment = datetime.strptime(match[1], _STAMP).replace(tzinfo=timezone.utc)
            found.append(Backup(folder(db_path) / name, moment, match[2]))
    return sorted(found, key=lambda b: (b.time, b.path.name), reverse=True)


def made_on_day(db_path: Path, moment: datetime) -> bool:
    """Is there a backup of the database made on the UTC day of ``moment``?"""
    day = moment.date()
    return any(b.time.date() == day for b in list_backups(db_path))


def new_path(db_path: Path, reason: str, moment: datetime) -> Path:
    """A file name for a new backup that no other backup has."""
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {REASONS}, not {reason!r}")
    target = folder(db_path)
    base = f"{Path(db_path).stem}-{clock.as_utc(moment).strftime(_STAMP)}-{reason}"
    candidate, n = target / f"{base}.db", 1
    while candidate.exists():
        n += 1
        candidate = target / f"{base}-{n}.db"
    return candidate


def copy_database(source: sqlite3.Connection, target_path: Path) -> None:
    """Copy the database open on ``source`` into a new file ``target_path`` through SQLite's
    backup API: written beside it under a temporary name, then renamed, so a backup file is
    always complete. Raises ``sqlite3.Error`` or ``OSError``; nothing is left behind then."""
    target_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = target_path.with_name(f".{target_path.name}.{os.getpid()}.tmp")
    try:
        target = sqlite3.connect(temporary, isolation_level=None)
        try:
            source.backup(target)
            # a self-contained file: no -wal beside it, whatever the source's journal mode
            target.execute("PRAGMA journal_mode = DELETE")
        finally:
            target.close()
        os.replace(temporary, target_path)
    except BaseException:
        for leftover in (temporary, Path(f"{temporary}-journal")):
            leftover.unlink(missing_ok=True)
        raise


def make_backup(source: sqlite3.Connection, db_path: Path, reason: str, moment: datetime,
                keep: int | None = BACKUPS_KEPT) -> Path:
    """Back up the database open on ``source`` (at ``db_path``), then delete all but the
    newest ``keep`` backups (None: delete none). Returns the new backup's path."""
    path = new_path(db_path, reason, moment)
    copy_database(source, path)
    if keep is not None:
        prune(db_path, keep)
    return path


def prune(db_path: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` (at least 1) backups; returns the deleted paths."""
    old = list_backups(db_path)[max(1, keep):]
    for backup in old:
        backup.path.unlink(missing_ok=True)
    return [b.path for b in old]


def open_backup(path: Path) -> sqlite3.Connection:
    """A read-only connection to a backup file that creates nothing beside it."""
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                           isolation_level=None)
