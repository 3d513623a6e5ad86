"""The SQLite store: finding, checking, creating and migrating mlquiz's database.

One database file holds the schedule, the review log and every graded submission
(README.md documents its tables). It lives at ``--db PATH``, ``$MLQUIZ_DB``, or
``mlquiz.db`` in the platform's user data folder.

Integrity rules, in the order ``open_store`` applies them:

* Only a regular file (or a link to one) is used: a device, a FIFO, a socket or a link to one is
  refused before it is opened.
* A path is identified *read-only* from its first 100 bytes before anything is written: an
  SQLite header whose ``application_id`` is mlquiz's, and whose ``user_version`` (the schema
  version) is not newer than this mlquiz's. Anything else (a text file, another application's
  SQLite file, a database of a newer mlquiz) is refused and left byte-for-byte untouched: no
  connection is opened on it, so no ``-wal`` or ``-journal`` file appears beside it. A missing
  or empty (0-byte) file is created.
* A damaged database is refused before anything is written (``DamagedDatabase``), with how to
  recover. Every open checks cheaply: the header's page size and format, a size that is a whole
  number of pages; then ``PRAGMA integrity_check`` when the file is small
  (``FULL_CHECK_MAX_BYTES``), ``PRAGMA quick_check`` when it is a little larger
  (``QUICK_CHECK_MAX_BYTES``) or its size disagrees with the page count in its header: a few
  milliseconds at most. The full ``PRAGMA integrity_check`` runs once a day, before the daily backup, and
  in ``mlquiz db check`` (``check_database``).
* The schema must be what the recorded migrations make (``InconsistentSchema`` otherwise,
  naming what is missing or unrecorded, the file untouched). Every open compares a checksum of
  ``sqlite_master`` with the one stored after the last verified migration; only when they
  differ is the schema compared, column by column, with the migrations replayed in memory.
* Backups (``mlquiz.schedule.backup``): before every migration, and at most once a day before
  the day's first write.
* A new database is built in one ``BEGIN IMMEDIATE`` transaction in rollback-journal mode, so
  its ``application_id`` is in the main file as soon as it has any content; only then is it
  switched to WAL. Schema changes are versioned migrations (sqlite-utils ``Migrations``), and
  ``PRAGMA user_version`` is their count.
* Every write runs in ``Store.write()``: ``BEGIN IMMEDIATE`` ... ``COMMIT``, with a busy
  timeout, so concurrent writers queue instead of failing and a killed process leaves either
  the whole transaction or none of it.

Reads on the hot path (``mlquiz next``) use the plain ``sqlite3`` connection: importing
sqlite-utils costs more than the whole of ``mlquiz next`` may take, so it is loaded only to
create or migrate the schema and for the writes of the schedule (``Store.db``).
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
import sys
import time
import warnings
import zlib
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from mlquiz import clock
from mlquiz.schedule import backup

APPLICATION_ID = 0x4D4C515A  # "MLQZ": PRAGMA application_id of every mlquiz database
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT = 30.0  # seconds a writer waits for another one's transaction
DB_ENV_VAR = "MLQUIZ_DB"
DB_FILE_NAME = "mlquiz.db"
# Every open checks a file up to FULL_CHECK_MAX_BYTES with PRAGMA integrity_check, and up to
# QUICK_CHECK_MAX_BYTES with quick_check (each a few milliseconds at most: bench_integrity.py)
FULL_CHECK_MAX_BYTES = 1024 * 1024
QUICK_CHECK_MAX_BYTES = 4 * 1024 * 1024
SCHEMA_META_KEY = "schema_checksum"  # meta: checksum of sqlite_master once verified


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do."""


class NotAnMlquizDatabase(StoreError):
    pass


class NewerSchemaError(StoreError):
    pass


class ReadOnlyError(StoreError):
    pass


class NotARegularFile(StoreError):
    pass


class DamagedDatabase(StoreError):
    pass


class InconsistentSchema(StoreError):
    pass


class DiskFullError(StoreError):
    pass


# --- schema: versioned migrations -------------------------------------------------------

_MIGRATIONS = []  # (name, function), in order; user_version = how many have been applied


def _migration(fn):
    _MIGRATIONS.append((fn.__name__, fn))
    return fn


@_migration
def m001_initial_schema(db):
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["config"].create({"key": str, "value": str}, pk="key")
    db["items"].create(
        {
            "id": str, "kind": str, "ref": str, "topic": str, "position": int, "active": int,
            "state": int, "step": int, "stability": float, "difficulty": float,
            "due": str, "last_review": str, "reps": int, "lapses": int,
            "introduced": str, "shown_at": str, "hints": int,
        },
        pk="id",
        not_null=["kind", "ref", "position", "active", "state", "reps", "lapses", "hints"],
        defaults={"active": 1, "state": 0, "reps": 0, "lapses": 0, "hints": 0},
    )
    db["items"].create_index(["due", "position"])
    db["items"].create_index(["state", "position"])
    db["items"].create_index(["introduced"])
    db["reviews"].create(
        {
            "id": int, "item_id": str, "rating": int, "reviewed_at": str, "source": str,
            "duration_seconds": float, "retention": float, "hints": int,
            "state_before": int, "state": int, "step": int, "stability": float,
            "difficulty": float, "due": str,
        },
        pk="id",
        not_null=["item_id", "rating", "reviewed_at", "source", "retention", "hints",
                  "state_before", "state", "stability", "difficulty", "due"],
        defaults={"hints": 0},
        foreign_keys=[("item_id", "items", "id")],
    )
    db["reviews"].create_index(["item_id", "id"])
    db["reviews"].create_index(["reviewed_at"])
    db["submissions"].create(
        {
            "id": int, "exercise": str, "attempt": int, "created_at": str, "kind": str,
            "file_path": str, "source": str, "sha256": str, "passed": int, "rating": int,
            "review_id": int, "duration_seconds": float, "report": str, "note": str,
        },
        pk="id",
        not_null=["exercise", "attempt", "created_at", "kind", "file_path", "source", "sha256"],
        foreign_keys=[("review_id", "reviews", "id")],
    )
    db["submissions"].create_index(["exercise", "attempt"], unique=True)
    db["hints"].create(
        {"id": int, "exercise": str, "level": int, "used_at": str},
        pk="id",
        not_null=["exercise", "level", "used_at"],
    )
    db["hints"].create_index(["exercise", "id"])


@_migration
def m002_items_requested_at(db):
    """``items.requested_at``: when an item was called for before its FSRS due date (the cards
    of an exercise just failed); cleared by the item's next review."""
    db["items"].add_column("requested_at", str)


@_migration
def m003_schedulers_parameters_suspend_bury(db):
    """``schedulers``: each FSRS scheduler configuration a review was made with (the JSON of
    ``fsrs.Scheduler.to_json``: parameters, retention, steps, fuzzing), and
    ``reviews.scheduler_id`` pointing to it, so that the replay of every review is exact.
    Reviews made before it were scheduled with fsrs's defaults, no fuzzing, and their own
    retention. ``reviews.requested_at``: the item's call the review answered (``mlquiz undo``
    restores it). ``parameters``: the FSRS parameters ``mlquiz optimize`` fitted. ``items``:
    ``suspended`` and ``buried_until``."""
    db["schedulers"].create({"id": int, "config": str}, pk="id", not_null=["config"])
    db["schedulers"].create_index(["config"], unique=True)
    db["reviews"].add_column("scheduler_id", int, fk="schedulers", fk_col="id")
    for (retention,) in db.execute("SELECT DISTINCT retention FROM reviews").fetchall():
        from fsrs import Scheduler  # only with reviews to describe: a new database needs none

        config = Scheduler(desired_retention=retention, enable_fuzzing=False).to_json()
        scheduler_id = db["schedulers"].insert({"config": config}).last_pk
        db.execute("UPDATE reviews SET scheduler_id = ? WHERE retention = ?",
                   (scheduler_id, retention))
    db["parameters"].create(
        {"id": int, "fitted_at": str, "parameters": str, "reviews": int, "items": int,
         "log_loss_default": float, "log_loss_fitted": float, "rmse_default": float,
         "rmse_fitted": float},
        pk="id", not_null=["fitted_at", "parameters", "reviews"])
    db["reviews"].add_column("requested_at", str)
    db["items"].add_column("suspended", int, not_null_default=0)
    db["items"].add_column("buried_until", str)


@_migration
def m004_items_questions(db):
    """``items.question_en`` and ``items.question_zh``: a flashcard's question, copied from the
    deck when the items are synced, so that ``mlquiz next`` shows it without loading the deck.
    The items' sources are forgotten (``meta.items_sources``), so the next open fills them."""
    db["items"].add_column("question_en", str)
    db["items"].add_column("question_zh", str)
    db.execute("DELETE FROM meta WHERE key = 'items_sources'")


SCHEMA_VERSION = len(_MIGRATIONS)


def _import_sqlite_utils():
    """Import sqlite-utils without letting it pull in numpy and pandas (it registers their
    types when they are importable; mlquiz never stores either, and numpy alone costs more
    than ``mlquiz next`` may take). Has no effect once either is imported."""
    blocked = [name for name in ("numpy", "pandas") if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # makes ``import numpy`` raise ImportError
    try:
        import sqlite_utils
        from sqlite_utils.migrations import Migrations
    finally:
        for name in blocked:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
    return sqlite_utils, Migrations


# --- where the database is -----------------------------------------------------------------

def default_path() -> Path:
    """``$MLQUIZ_DB``, else ``mlquiz.db`` in the user data folder (platformdirs)."""
    from_env = os.environ.get(DB_ENV_VAR, "").strip()
    if from_env:
        return Path(from_env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("mlquiz", appauthor=False)) / DB_FILE_NAME


def inspect_path(path: Path) -> str:
    """What ``path`` holds, read-only: ``"missing"``, ``"empty"`` (0 bytes) or ``"mlquiz"``.
    Raises ``StoreError`` for anything else; reads at most 100 bytes, writes nothing."""
    return _examine(Path(path))[0]


_FILE_TYPES = {stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device",
               stat.S_ISFIFO: "a FIFO (named pipe)", stat.S_ISSOCK: "a socket"}


def _examine(path: Path) -> tuple[str, bool]:
    """``(what, suspect)``: what ``path`` holds (``inspect_path``) and whether its size
    disagrees with the page count in its header (to be confirmed by ``PRAGMA quick_check``:
    a checkpoint in progress may cause it too). Raises ``DamagedDatabase`` for a header or a
    size that SQLite never writes."""
    try:
        info = os.stat(path)  # follows a symbolic link to what it names
    except FileNotFoundError:
        if path.is_symlink():
            raise StoreError(f"{path} is a broken symbolic link") from None
        return "missing", False
    except OSError as exc:
        raise StoreError(f"cannot use {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise StoreError(f"{path} is a folder, not a database file; give a file path with --db")
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _FILE_TYPES.items() if test(info.st_mode)),
                    "not a regular file")
        link = " (through a symbolic link)" if path.is_symlink() else ""
        raise NotARegularFile(
            f"{path} is {kind}{link}, not a regular file: mlquiz keeps its database in an "
            "ordinary file and left this one alone. Choose a file path with --db or MLQUIZ_DB.")
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except PermissionError:
        raise ReadOnlyError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not header:
        return "empty", False
    if not header.startswith(SQLITE_MAGIC):
        raise NotAnMlquizDatabase(
            f"{path} is not an mlquiz database (it is not an SQLite file); it was left "
            "untouched. Choose another path with --db or MLQUIZ_DB.")
    if len(header) < 100:
        raise NotAnMlquizDatabase(f"{path} is a truncated SQLite file; it was left untouched")
    application_id = int.from_bytes(header[68:72], "big")
    user_version = int.from_bytes(header[60:64], "big")
    if application_id != APPLICATION_ID:
        raise NotAnMlquizDatabase(
            f"{path} is an SQLite database of another application (application_id "
            f"{application_id:#x}), not an mlquiz database; it was left untouched. Choose "
            "another path with --db or MLQUIZ_DB.")
    if user_version > SCHEMA_VERSION:
        raise _newer(path, user_version)
    return "mlquiz", _check_header(path, header, info.st_size)


def _check_header(path: Path, header: bytes, size: int) -> bool:
    """Raise ``DamagedDatabase`` when the 100-byte header or the file's size is impossible
    (see the SQLite file format: page size at offset 16, format bytes 18-23, page count at 28
    valid when the change counter at 24 equals the one at 92); return whether the size
    disagrees with that page count."""
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise DamagedDatabase(_damaged(path, f"its header gives an impossible page size, {page_size}"))
    if header[18] not in (1, 2) or header[19] not in (1, 2) or header[21:24] != b"\x40\x20\x20":
        raise DamagedDatabase(_damaged(path, "its header is corrupt"))
    if size % page_size:
        raise DamagedDatabase(_damaged(
            path, f"its size, {size:,} bytes, is not a whole number of {page_size}-byte pages: "
                  "the file was cut short or written over"))
    pages = int.from_bytes(header[28:32], "big")
    counted = header[24:28] == header[92:96] and pages > 0
    return counted and pages * page_size != size


def _damaged(path: Path, detail: str) -> str:
    return (f"the database at {path} is damaged ({detail}); mlquiz did not write to it. To "
            "recover, bring back a backup (`mlquiz db backups` lists them, `mlquiz db restore "
            f"N` restores one) or rescue what SQLite can still read: `sqlite3 {path} .recover "
            "| sqlite3 rescued.db`, then use rescued.db with --db.")


def _newer(path, version) -> NewerSchemaError:
    return NewerSchemaError(
        f"{path} was written by a newer mlquiz (schema version {version}; this mlquiz knows "
        f"up to {SCHEMA_VERSION}); it was left untouched. Upgrade mlquiz to use it.")


def _check_writable(path: Path, found: str) -> None:
    folder = path.parent
    if found == "missing":
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ReadOnlyError(
                f"cannot create the folder {folder} for the database: "
                f"{exc.strerror or exc}; choose another path with --db or MLQUIZ_DB") from None
    if found != "missing" and not os.access(path, os.R_OK | os.W_OK):
        raise ReadOnlyError(f"{path} is read-only: mlquiz needs to write to its database "
                            "(choose another path with --db or MLQUIZ_DB)")
    shm = Path(f"{path}-shm")
    shm_ok = shm.exists() and os.access(shm, os.R_OK | os.W_OK)
    if not shm_ok and not os.access(folder, os.W_OK | os.X_OK):
        raise ReadOnlyError(f"the folder {folder} is read-only: mlquiz needs to write its "
                            "database there (choose another path with --db or MLQUIZ_DB)")


# --- the store ------------------------------------------------------------------------------

class Store:
    """An open mlquiz database: ``conn`` (plain sqlite3, autocommit outside ``write()``) and,
    loaded on first use, ``db`` (a sqlite-utils ``Database`` on the same connection)."""

    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = path
        self.conn = conn
        self._db = None
        self.backed_up_today = False  # True once the daily backup is made or found (or moot)
        self.full_disk: DiskFullError | None = None  # set: opened for reading only

    @property
    def db(self):
        if self._db is None:
            sqlite_utils, _ = _import_sqlite_utils()
            self._db = sqlite_utils.Database(self.conn, recursive_triggers=False,
                                             execute_plugins=False)
        return self._db

    @contextmanager
    def write(self):
        """One write transaction: ``BEGIN IMMEDIATE`` takes the write lock up front (waiting
        up to the busy timeout for another writer), so reads inside it see the latest
        state and nothing can fail half-way with "database is locked". The day's first
        write makes the daily backup first (``daily_backup``). Failing to begin or commit
        is a ``StoreError`` with a message (``explain``)."""
        if self.full_disk is not None:
            raise self.full_disk
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise explain(exc, self.path) from None
        try:
            if not self.backed_up_today:  # under the write lock: one process makes it
                self.daily_backup()
            yield self
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise explain(exc, self.path) from None

    def problems(self, full: bool = True) -> list[str]:
        """What SQLite finds wrong with the file: ``PRAGMA integrity_check`` (``full``) or
        ``quick_check`` (the same without comparing indexes with their tables). Empty: healthy."""
        return _integrity_problems(self.conn, full)

    def daily_backup(self) -> Path | None:
        """Unless the database already has a backup made today (UTC, the schedule's clock):
        check it fully, then back it up (``backup.make_backup``). Runs inside ``write()``'s
        transaction, before anything is written, so no other process can make the same one.
        A damaged file raises ``DamagedDatabase`` instead (a backup of it would push a good one
        out). A backup that cannot be written for another reason than a full disk is a
        ``RuntimeWarning``: it must not stop the learner's work. Returns the new backup."""
        self.backed_up_today = True
        moment = clock.now()
        if backup.made_on_day(self.path, moment):
            return None
        try:
            found = self.problems(full=True)
        except sqlite3.Error as exc:
            raise explain(exc, self.path) from None
        if found:
            raise DamagedDatabase(_damaged(self.path, "; ".join(found[:3])))
        try:
            return self.backup("daily", moment)
        except DiskFullError:
            raise
        except StoreError as exc:
            warnings.warn(f"mlquiz: {exc}", RuntimeWarning, stacklevel=3)
            return None

    def backup(self, reason: str, moment: datetime | None = None, prune: bool = True) -> Path:
        """Copy the database into its backups folder now (``backup.make_backup``), keeping
        the newest ``backups`` (setting) unless not ``prune``. Returns the backup's path.
        Inside a write transaction of ``conn`` the copy is read through a second connection
        (the backup API cannot read through a connection that holds the write lock): it
        sees the last committed state, which nothing can change meanwhile."""
        keep = _backups_kept(self.conn) if prune else None
        source = self.conn
        try:
            if self.conn.in_transaction:
                source = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT,
                                         isolation_level=None)
            return backup.make_backup(source, self.path, reason, clock.current(moment), keep)
        except (sqlite3.Error, OSError) as exc:
            full = _disk_full(exc, backup.folder(self.path))
            raise (full or StoreError(f"could not back up {self.path} into "
                                      f"{backup.folder(self.path)}: {_reason(exc)}")) from None
        finally:
            if source is not self.conn:
                source.close()

    @contextmanager
    def snapshot(self):
        """Several reads that see one consistent state (a read transaction)."""
        self.conn.execute("BEGIN")
        try:
            yield self
        finally:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")

    def rows(self, sql: str, params=()) -> list[dict]:
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def row(self, sql: str, params=()) -> dict | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def value(self, sql: str, params=()):
        row = self.conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def get_meta(self, key: str) -> str | None:
        return self.value("SELECT value FROM meta WHERE key = ?", (key,))

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) "
                          "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<mlquiz Store {self.path}>"


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _disk_full(exc: BaseException, where: Path) -> DiskFullError | None:
    """A ``DiskFullError`` when ``exc`` (an SQLite or OS error while writing at ``where``)
    comes from a full disk or from the file size limit (``ulimit -f``); else None. SQLite
    reports a full disk as "database or disk is full", but an I/O error too when the very
    write that fails finds no space (then the free space of the disk says which)."""
    message = str(exc)
    full = "disk is full" in message or getattr(exc, "errno", None) in (errno.ENOSPC, errno.EFBIG,
                                                                      errno.EDQUOT)
    if not full and "disk I/O error" in message:
        try:
            full = _free_bytes(where) < 1024 * 1024
        except OSError:
            full = False
        if not full:
            import resource

            full = resource.getrlimit(resource.RLIMIT_FSIZE)[0] != resource.RLIM_INFINITY
    if not full:
        return None
    return DiskFullError(f"the disk holding {where} is full (or the file size limit, ulimit -f, "
                         "is reached): mlquiz could not write, and nothing was changed. Free "
                         "some space and try again; commands that only read still work.")


def _free_bytes(where: Path) -> int:
    """Bytes free for this user on the file system holding ``where`` (or its folder)."""
    import shutil

    for candidate in (Path(where), *Path(where).parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return shutil.disk_usage(".").free


def explain(exc: sqlite3.Error, path: Path) -> StoreError:
    """An SQLite error on the database at ``path`` as a ``StoreError`` that says what to do."""
    message = str(exc)
    full = _disk_full(exc, path)
    if full is not None:
        return full
    if "readonly" in message or "read-only" in message:
        return ReadOnlyError(f"{path} is read-only: mlquiz needs to write to its database")
    if "locked" in message or "busy" in message:
        return StoreError(f"{path} is locked by another mlquiz process (mlquiz waits up to "
                          f"{BUSY_TIMEOUT:.0f} s for it); try again")
    if "unable to open" in message:
        return ReadOnlyError(f"cannot open {path} for writing ({message}); check the folder's "
                             "permissions or choose another path with --db")
    if _is_damage(exc):
        return DamagedDatabase(_damaged(path, message))
    if "no such column" in message or "no such table" in message:
        return InconsistentSchema(f"the database at {path} does not have the tables of its "
                                  f"schema version ({message}); `mlquiz db check` says more")
    return StoreError(f"{path}: {message}")


def _integrity_problems(conn: sqlite3.Connection, full: bool) -> list[str]:
    """``PRAGMA integrity_check`` (``full``) or ``quick_check``: the errors, at most 10."""
    pragma = "integrity_check" if full else "quick_check"
    try:
        rows = conn.execute(f"PRAGMA {pragma}(10)").fetchall()
    except sqlite3.DatabaseError as exc:
        if _is_damage(exc):
            return [str(exc)]
        raise  # not the file's fault: a full disk, a lock, an I/O error
    return [row[0] for row in rows if row[0] != "ok"]


def _is_damage(exc: sqlite3.Error) -> bool:
    """Does SQLite say the file is corrupt (not that it cannot read or write it)?"""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in str(exc)


def _backups_kept(conn: sqlite3.Connection) -> int:
    """The ``backups`` setting (``mlquiz.schedule.config`` validates it when set)."""
    try:
        return max(1, int(conn.execute("SELECT value FROM config WHERE key = 'backups'")
                          .fetchone()[0]))
    except (sqlite3.Error, TypeError, ValueError):
        return backup.BACKUPS_KEPT


def open_store(path=None) -> Store:
    """Open the mlquiz database at ``path`` (None: ``$MLQUIZ_DB`` or the user data folder),
    creating it and its folder when missing and migrating an older schema. The items are
    synced by the schedule layer (``mlquiz.schedule.items.open_schedule``). Raises
    ``StoreError`` with a clear message for anything that is not an mlquiz database, a damaged
    file or schema, a newer schema or a read-only location."""
    path = Path(path).expanduser() if path else default_path()
    found, suspect = _examine(path)
    _check_writable(path, found)
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None)
    except sqlite3.Error as exc:
        raise explain(exc, path) from None
    store = Store(path, conn)
    try:
        _prepare(store, found, suspect)
    except sqlite3.Error as exc:
        store.close()
        error = explain(exc, path)
        if isinstance(error, DiskFullError) and found == "mlquiz":
            return _open_for_reading(path, error)
        raise error from None
    except BaseException:
        store.close()
        raise
    return store


def _open_for_reading(path: Path, full: DiskFullError) -> Store:
    """On a full disk SQLite cannot even create the shared-memory file that WAL readers use;
    in exclusive locking mode it keeps that index in memory instead, so the database can
    still be read. The store returned refuses every write with ``full``. Raises ``full``
    when the database would need a migration or its schema a check."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None)
    store = Store(path, conn)
    store.full_disk = full  # Store.write refuses (SQLite's read-only mode cannot lock here)
    store.backed_up_today = True
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        if (conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION
                or _schema_checksum(conn) != _stored_checksum(store)):
            raise full
    except BaseException as exc:
        store.close()
        if isinstance(exc, sqlite3.Error):
            raise full from None
        raise
    return store


def _prepare(store: Store, found: str, suspect: bool) -> None:
    conn = store.conn
    conn.execute("PRAGMA foreign_keys = ON")
    size = store.path.stat().st_size
    if found == "mlquiz" and (suspect or size <= QUICK_CHECK_MAX_BYTES):
        problems = store.problems(full=size <= FULL_CHECK_MAX_BYTES)
        if problems:
            raise DamagedDatabase(_damaged(store.path, "; ".join(problems[:3])))
    store.backed_up_today = found != "mlquiz"  # a new database: nothing to back up yet
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:  # the header may lag behind a WAL holding a newer schema
        raise _newer(store.path, version)
    if found != "mlquiz" or version < SCHEMA_VERSION:
        _migrate(store)
    elif _schema_checksum(conn) != _stored_checksum(store):
        _verify_schema(store)
        with store.write():
            store.set_meta(SCHEMA_META_KEY, _schema_checksum(conn))
    _use_wal(store)
    conn.execute("PRAGMA synchronous = FULL")


def _use_wal(store: Store) -> None:
    """Switch to WAL unless in it. The switch takes a read lock, then the write lock; when
    another process holds the write lock at that moment (eight processes creating the
    database at once), SQLite returns "database is locked" at once instead of waiting on the
    busy timeout (it never waits to upgrade a read lock: that could deadlock). So the switch
    is retried here, until that timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            if store.conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                store.conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _schema_checksum(conn: sqlite3.Connection) -> str:
    """CRC-32 of ``sqlite_master``: every table, index and trigger with its SQL."""
    rows = conn.execute("SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master "
                        "ORDER BY type, name").fetchall()
    return f"{zlib.crc32(repr(rows).encode()):08x}"


def _stored_checksum(store: Store) -> str | None:
    try:
        return store.get_meta(SCHEMA_META_KEY)
    except sqlite3.OperationalError:  # no meta table: a foreign schema
        return None


def _migrate(store: Store) -> None:
    """Create the schema or bring it up to date, in one transaction, re-checking under the
    write lock (another process may have done it meanwhile). An existing schema is first
    verified (``_verify_schema``) and backed up."""
    _, Migrations = _import_sqlite_utils()
    conn = store.conn
    store.backed_up_today = True  # the backup before the migration replaces the daily one
    if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        _verify_schema(store)
    with store.write():
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if application_id == 0 and version == 0 and tables == 0:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        elif application_id != APPLICATION_ID:
            raise NotAnMlquizDatabase(f"{store.path} is not an mlquiz database")
        elif version > SCHEMA_VERSION:
            raise _newer(store.path, version)
        if version == SCHEMA_VERSION:
            return
        if tables:
            store.backup("migration")
        migrations = Migrations("mlquiz")
        for name, fn in _MIGRATIONS:
            migrations(name=name)(fn)
        migrations.apply(store.db)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        store.set_meta(SCHEMA_META_KEY, _schema_checksum(conn))


def check_database(path=None) -> list[str]:
    """The full check of ``mlquiz db check``, read-only: the header, ``PRAGMA
    integrity_check``, the schema against its migrations (``schema_problems``) and
    ``PRAGMA foreign_key_check``. Returns the problems found (empty: healthy). Raises
    ``StoreError`` for a path that holds no mlquiz database."""
    path = Path(path).expanduser() if path else default_path()
    try:
        found, _ = _examine(path)
    except DamagedDatabase as exc:
        return [str(exc)]
    if found != "mlquiz":
        raise StoreError(f"there is no database at {path} yet")
    try:
        conn = _reading_connection(path)
    except sqlite3.Error as exc:
        raise explain(exc, path) from None
    try:
        problems = _integrity_problems(conn, full=True)
        if problems:
            return [_damaged(path, "; ".join(problems))]
        problems = schema_problems(conn)
        orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
        if orphans:
            tables = sorted({row[0] for row in orphans})
            problems.append(f"{len(orphans)} rows of {', '.join(tables)} refer to rows that do "
                            "not exist (PRAGMA foreign_key_check)")
        return problems
    except sqlite3.Error as exc:
        return [str(explain(exc, path))]
    finally:
        conn.close()


def _reading_connection(path: Path) -> sqlite3.Connection:
    """A connection that only reads: read-only mode, or, on a full disk where SQLite cannot
    create the shared-memory file in that mode, exclusive locking (see ``_open_for_reading``)."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                           timeout=BUSY_TIMEOUT, isolation_level=None)
    try:
        conn.execute("PRAGMA user_version").fetchone()
        return conn
    except sqlite3.Error as exc:
        conn.close()
        if _disk_full(exc, path) is None:
            raise
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None)
    conn.execute("PRAGMA locking_mode = EXCLUSIVE")
    return conn


def restore_backup(path=None, which: str | int = 1,
                   now: datetime | None = None) -> tuple[backup.Backup, Path]:
    """Bring back a backup of the database at ``path``: ``which`` is its number in
    ``backup.list_backups`` (1, the newest) or its file name. The backup is checked first
    (an mlquiz database, not newer, ``integrity_check`` clean). The current file is backed up
    before it is replaced (reason ``restore``); a damaged one, which SQLite cannot copy, is
    moved into the backups folder instead (reason ``damaged``, with its ``-wal``). A healthy
    database is overwritten through the backup API, so other processes see the change as one
    transaction. Returns the backup restored and where the replaced file went. An older
    schema is migrated on the next open, as usual."""
    path = Path(path).expanduser() if path else default_path()
    chosen = _find_backup(path, which)
    _examine(chosen.path)
    source = backup.open_backup(chosen.path)
    try:
        problems = _integrity_problems(source, full=True)
        if problems:
            raise StoreError(f"the backup {chosen.path.name} is itself damaged "
                             f"({'; '.join(problems[:3])}); choose another")
        moment = clock.current(now)
        try:
            store = open_store(path)
        except (DamagedDatabase, InconsistentSchema):
            saved = _set_aside(path, moment)
            target = sqlite3.connect(path, isolation_level=None)
            try:
                source.backup(target)
            finally:
                target.close()
        else:
            with store:
                saved = store.backup("restore", moment, prune=False)
                try:
                    source.backup(store.conn)
                except sqlite3.Error as exc:
                    raise explain(exc, path) from None
    finally:
        source.close()
    open_store(path).close()  # back to WAL, migrated if the backup's schema is older
    backup.prune(path, _keep_after_restore(path))
    return chosen, saved


def _keep_after_restore(path: Path) -> int:
    conn = _reading_connection(path)
    try:
        return _backups_kept(conn)
    finally:
        conn.close()


def _find_backup(path: Path, which) -> backup.Backup:
    found = backup.list_backups(path)
    if not found:
        raise StoreError(f"{path} has no backups yet (they are made in {backup.folder(path)})")
    text = str(which).strip()
    if text.isdigit():
        number = int(text)
        if 1 <= number <= len(found):
            return found[number - 1]
        raise StoreError(f"there is no backup {number}: `mlquiz db backups` lists 1 to "
                         f"{len(found)}")
    for candidate in found:
        if candidate.path.name == Path(text).name:
            return candidate
    raise StoreError(f"no backup named {text!r}; `mlquiz db backups` lists them")


def _set_aside(path: Path, moment: datetime) -> Path:
    """Move a damaged database (and its ``-wal``) into the backups folder; drop its ``-shm``."""
    target = backup.new_path(path, "damaged", moment)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(path, target)
    wal = Path(f"{path}-wal")
    if wal.exists():
        os.replace(wal, Path(f"{target}-wal"))
    Path(f"{path}-shm").unlink(missing_ok=True)
    return target


# --- is the schema what its migrations make? ----------------------------------------------------

def _columns(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """Every table (but SQLite's and sqlite-utils' own) with its column names."""
    tables = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name != '_sqlite_migrations'")]
    return {table: [row[1] for row in conn.execute(f"PRAGMA table_info([{table}])")]
            for table in tables}


def _expected_columns() -> list[dict[str, list[str]]]:
    """The tables and columns after each number of migrations (0, 1, ... all), by applying
    them to an empty database in memory."""
    sqlite_utils, _ = _import_sqlite_utils()
    db = sqlite_utils.Database(memory=True, execute_plugins=False)
    found = [_columns(db.conn)]
    for _, fn in _MIGRATIONS:
        fn(db)
        found.append(_columns(db.conn))
    db.close()
    return found


def schema_problems(conn: sqlite3.Connection) -> list[str]:
    """How the schema differs from what its recorded migrations make: migrations recorded
    out of mlquiz's order, ``user_version`` not their number, a table or column of a recorded
    migration missing, or one of a migration not recorded present. Empty: consistent.
    (Tables and columns that no migration makes are tolerated.)"""
    names = [name for name, _ in _MIGRATIONS]
    try:
        recorded = [row[0] for row in conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = 'mlquiz' ORDER BY id")]
    except sqlite3.OperationalError:  # no migrations table
        recorded = []
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    problems = []
    if recorded != names[:len(recorded)]:
        problems.append(f"the migrations recorded ({', '.join(recorded)}) are not mlquiz's "
                        f"({', '.join(names)}) in order")
    if version != len(recorded):
        problems.append(f"PRAGMA user_version says schema version {version}, but "
                        f"{len(recorded)} migrations are recorded")
    applied = len(recorded) if recorded == names[:len(recorded)] else version
    actual = _columns(conn)
    expected = _expected_columns()
    for number, name in enumerate(names):
        before, after = expected[number], expected[number + 1]
        for table, columns in after.items():
            new = [c for c in columns if c not in before.get(table, ())]
            if not new:
                continue
            have = actual.get(table)
            present = [c for c in new if have is not None and c in have]
            if number < applied:
                if have is None:
                    problems.append(f"migration {name} is recorded but table {table} is missing")
                elif len(present) < len(new):
                    missing = ", ".join(f"{table}.{c}" for c in new if c not in present)
                    problems.append(f"migration {name} is recorded but {missing} is missing")
            elif present:
                problems.append(f"{', '.join(f'{table}.{c}' for c in present)} is present but "
                                f"migration {name}, which adds it, is not recorded")
    return problems


def _verify_schema(store: Store) -> None:
    """Raise ``InconsistentSchema`` when ``schema_problems`` finds any (nothing written)."""
    problems = schema_problems(store.conn)
    if problems:
        raise InconsistentSchema(
            f"the database at {store.path} has an inconsistent schema: {'; '.join(problems)}. "
            "mlquiz did not change it. Bring back a backup (`mlquiz db backups`, "
            "`mlquiz db restore N`) or use another file with --db.")
