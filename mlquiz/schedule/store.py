"""The SQLite store: finding, checking, creating and migrating mlquiz's database.

One database file holds the schedule, the review log and every graded submission
(README.md documents its tables). It lives at ``--db PATH``, ``$MLQUIZ_DB``, or
``mlquiz.db`` in the platform's user data folder.

Integrity rules, in the order ``open_store`` applies them:

* A path is identified *read-only* from its first 100 bytes before anything is written: an
  SQLite header whose ``application_id`` is mlquiz's, and whose ``user_version`` (the schema
  version) is not newer than this mlquiz's. Anything else (a text file, another application's
  SQLite file, a database of a newer mlquiz) is refused and left byte-for-byte untouched: no
  connection is opened on it, so no ``-wal`` or ``-journal`` file appears beside it. A missing
  or empty (0-byte) file is created.
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

import os
import sqlite3
import sys
from contextlib import contextmanager
from pathlib import Path

APPLICATION_ID = 0x4D4C515A  # "MLQZ": PRAGMA application_id of every mlquiz database
SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT = 30.0  # seconds a writer waits for another one's transaction
DB_ENV_VAR = "MLQUIZ_DB"
DB_FILE_NAME = "mlquiz.db"


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do."""


class NotAnMlquizDatabase(StoreError):
    pass


class NewerSchemaError(StoreError):
    pass


class ReadOnlyError(StoreError):
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
    if not path.exists():
        if path.is_symlink():
            raise StoreError(f"{path} is a broken symbolic link")
        return "missing"
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a database file; give a file path with --db")
    try:
        with open(path, "rb") as f:
            header = f.read(100)
    except PermissionError:
        raise ReadOnlyError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not header:
        return "empty"
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
    return "mlquiz"


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
        state and nothing can fail half-way with "database is locked"."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _explain(exc, self.path) from None
        try:
            yield self
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise _explain(exc, self.path) from None

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


def _explain(exc: sqlite3.Error, path: Path) -> StoreError:
    message = str(exc)
    if "readonly" in message or "read-only" in message:
        return ReadOnlyError(f"{path} is read-only: mlquiz needs to write to its database")
    if "locked" in message or "busy" in message:
        return StoreError(f"{path} stayed locked by another mlquiz process for more than "
                          f"{BUSY_TIMEOUT:.0f} s; try again")
    if "unable to open" in message:
        return ReadOnlyError(f"cannot open {path} for writing ({message}); check the folder's "
                             "permissions or choose another path with --db")
    if "malformed" in message or "not a database" in message:
        return StoreError(f"{path} is damaged ({message})")
    return StoreError(f"{path}: {message}")


def open_store(path=None) -> Store:
    """Open the mlquiz database at ``path`` (None: ``$MLQUIZ_DB`` or the user data folder),
    creating it and its folder when missing and migrating an older schema. The items are
    synced by the schedule layer (``mlquiz.schedule.items.open_schedule``). Raises
    ``StoreError`` with a clear message for anything that is not an mlquiz database, a newer
    schema or a read-only location."""
    path = Path(path).expanduser() if path else default_path()
    found = inspect_path(path)
    _check_writable(path, found)
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None)
    except sqlite3.Error as exc:
        raise _explain(exc, path) from None
    store = Store(path, conn)
    try:
        _prepare(store, found)
    except sqlite3.Error as exc:
        store.close()
        raise _explain(exc, path) from None
    except BaseException:
        store.close()
        raise
    return store


def _prepare(store: Store, found: str) -> None:
    conn = store.conn
    conn.execute("PRAGMA foreign_keys = ON")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:  # the header may lag behind a WAL holding a newer schema
        raise _newer(store.path, version)
    if found != "mlquiz" or version < SCHEMA_VERSION:
        _migrate(store)
    if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")


def _migrate(store: Store) -> None:
    """Create the schema or bring it up to date, in one transaction, re-checking under the
    write lock (another process may have done it meanwhile)."""
    _, Migrations = _import_sqlite_utils()
    conn = store.conn
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
        migrations = Migrations("mlquiz")
        for name, fn in _MIGRATIONS:
            migrations(name=name)(fn)
        migrations.apply(store.db)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
