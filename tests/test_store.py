"""The store: creation, identity checks, migrations, and faults with real processes and files.

Foreign files must come out byte-for-byte untouched with nothing created beside them;
concurrent writers must lose nothing; a killed process must leave a consistent database.
"""

import hashlib
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlquiz.schedule import store as store_module
from mlquiz.schedule.items import open_schedule
from mlquiz.schedule.review import record_review
from mlquiz.schedule import items as schedule_items
from mlquiz.curriculum import exercises
from mlquiz.schedule.store import (APPLICATION_ID, SCHEMA_VERSION, NewerSchemaError, NotAnMlquizDatabase,
                          StoreError, default_path, open_store)
from test_schedule import assert_state_is_replay, hints_used

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No clock or database from the environment, and no flashcards: the deck (built and
    tested on its own) plays no part in these tests, here or in their processes."""
    for name in ("MLQUIZ_DB", "MLQUIZ_NOW"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(schedule_items, "deck_card_ids", lambda: ())


NO_DECK = "import mlquiz.schedule.items; mlquiz.schedule.items.deck_card_ids = lambda: ()\n"


def python(code, *args, prefix=(), **kwargs):
    """A real process running ``code`` with this interpreter."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("MLQUIZ_NOW", None)
    env.update(kwargs.pop("env", {}))
    command = [*prefix, sys.executable, "-c", NO_DECK + code, *map(str, args)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def mlquiz_cli(*args, **kwargs):
    return python("import sys; from mlquiz.cli import main; sys.argv[0] = 'mlquiz'; main()",
                  *args, **kwargs)


def snapshot(folder: Path) -> dict:
    """Every file of a folder with the hash of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


# --- creation -----------------------------------------------------------------------------

def test_a_new_database_is_created_with_its_folder_identity_and_wal(tmp_path):
    path = tmp_path / "deep" / "er" / "mlquiz.db"
    with open_store(path) as store:
        pragma = lambda name: store.value(f"PRAGMA {name}")  # noqa: E731
        assert pragma("application_id") == APPLICATION_ID
        assert pragma("user_version") == SCHEMA_VERSION == len(store_module._MIGRATIONS)
        assert pragma("journal_mode") == "wal"
        assert pragma("busy_timeout") == store_module.BUSY_TIMEOUT * 1000
        assert pragma("foreign_keys") == 1
        tables = {r["name"] for r in
                  store.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"meta", "config", "items", "reviews", "submissions", "hints"} <= tables
        applied = [r["name"] for r in store.rows("SELECT name FROM _sqlite_migrations")]
        assert applied == [name for name, _ in store_module._MIGRATIONS]
    header = path.read_bytes()[:100]
    assert int.from_bytes(header[68:72], "big") == APPLICATION_ID  # in the main file itself


def test_reopening_applies_nothing_twice(tmp_path):
    path = tmp_path / "mlquiz.db"
    open_store(path).close()
    with open_store(path) as store:
        assert store.value("SELECT count(*) FROM _sqlite_migrations") == SCHEMA_VERSION


def test_a_newer_migration_upgrades_an_existing_database(tmp_path, monkeypatch):
    path = tmp_path / "mlquiz.db"
    with open_schedule(path) as store:
        record_review(store, "exercise:backprop", 3, "grade")

    def m002_add_notes(db):
        db["notes"].create({"id": int, "text": str}, pk="id")

    monkeypatch.setattr(store_module, "_MIGRATIONS", store_module._MIGRATIONS + [
        ("m002_add_notes", m002_add_notes)])
    monkeypatch.setattr(store_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with open_store(path) as store:
        assert store.value("PRAGMA user_version") == SCHEMA_VERSION + 1
        assert store.value("SELECT count(*) FROM notes") == 0
        assert store.value("SELECT count(*) FROM reviews") == 1  # data kept


def test_default_location_is_the_user_data_folder_or_mlquiz_db(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_path() == tmp_path / "xdg" / "mlquiz" / "mlquiz.db"
    with open_store() as store:
        assert store.path == tmp_path / "xdg" / "mlquiz" / "mlquiz.db"
    assert store.path.is_file()
    monkeypatch.setenv("MLQUIZ_DB", str(tmp_path / "elsewhere.db"))
    assert default_path() == tmp_path / "elsewhere.db"


def test_an_empty_file_becomes_a_database(tmp_path):
    path = tmp_path / "mlquiz.db"
    path.touch()
    with open_store(path) as store:
        assert store.value("PRAGMA application_id") == APPLICATION_ID


# --- what is not ours is left untouched ---------------------------------------------------

def _foreign_sqlite(path, application_id=0, wal=False):
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA application_id = {application_id}")
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO photos (name) VALUES ('cat.jpg')")
    conn.commit()
    conn.close()


def _newer_mlquiz(path):
    open_store(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()


FOREIGN = {
    "text": (lambda p: p.write_text("my notes about SVMs\n"), NotAnMlquizDatabase, "not an SQLite"),
    "binary": (lambda p: p.write_bytes(bytes(range(256)) * 8), NotAnMlquizDatabase,
               "not an SQLite"),
    "sqlite": (_foreign_sqlite, NotAnMlquizDatabase, "another application"),
    "sqlite_with_id": (lambda p: _foreign_sqlite(p, 0x12345678), NotAnMlquizDatabase, "0x12345678"),
    "sqlite_wal": (lambda p: _foreign_sqlite(p, wal=True), NotAnMlquizDatabase,
                   "another application"),
    "newer_mlquiz": (_newer_mlquiz, NewerSchemaError, "newer mlquiz"),
}


@pytest.mark.parametrize("kind", FOREIGN)
def test_what_is_not_an_mlquiz_database_is_refused_and_left_untouched(tmp_path, kind):
    make, error, message = FOREIGN[kind]
    path = tmp_path / "data.db"
    make(path)
    before = snapshot(tmp_path)
    with pytest.raises(error, match=message):
        open_store(path)
    assert snapshot(tmp_path) == before  # same bytes, and no -wal, -shm or -journal beside it


def test_the_command_line_refuses_a_foreign_file_in_a_real_process(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a database")
    before = snapshot(tmp_path)
    process = mlquiz_cli("next", "--db", path)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "not an mlquiz database" in err and "Traceback" not in err
    assert snapshot(tmp_path) == before


def test_a_newer_schema_waiting_in_the_wal_is_refused(tmp_path):
    path = tmp_path / "mlquiz.db"
    open_store(path).close()
    holder = sqlite3.connect(path)  # keeps the change in the WAL: the header still says 1
    holder.execute("PRAGMA wal_autocheckpoint = 0")
    holder.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    holder.commit()
    try:
        assert int.from_bytes(path.read_bytes()[60:64], "big") == SCHEMA_VERSION
        with pytest.raises(NewerSchemaError):
            open_store(path)
    finally:
        holder.close()


def test_a_folder_is_not_a_database(tmp_path):
    with pytest.raises(StoreError, match="folder"):
        open_store(tmp_path)


# --- read-only locations ------------------------------------------------------------------

@pytest.fixture
def readonly_folder(tmp_path):
    """A folder the test's processes cannot write to. Root may write anywhere, so as root
    they run without the capabilities that bypass file permissions (util-linux setpriv)."""
    prefix = ()
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a folder read-only")
        prefix = (setpriv, "--bounding-set=-dac_override,-dac_read_search", "--")
    readonly = tmp_path / "locked"
    readonly.mkdir()
    open_store(readonly / "existing.db").close()
    readonly.chmod(0o555)
    yield readonly, prefix
    readonly.chmod(0o755)


@pytest.mark.parametrize("name, message", [
    ("new.db", "folder .* is read-only"),
    ("sub/new.db", "cannot create the folder"),
    ("existing.db", "read-only"),
])
def test_a_read_only_location_gets_a_clear_error(readonly_folder, name, message):
    readonly, prefix = readonly_folder
    before = snapshot(readonly)
    process = mlquiz_cli("next", "--db", readonly / name, prefix=prefix)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, err
    assert "Traceback" not in err
    assert re.search(message, err), err
    assert snapshot(readonly) == before


# --- concurrency and crashes --------------------------------------------------------------

WRITER = """
import sys, time
from mlquiz.schedule.attempts import record_attempt
from mlquiz.schedule.items import open_schedule
from mlquiz.schedule.review import record_review
db, worker, rounds, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
while time.time() < start:
    time.sleep(0.002)
with open_schedule(db) as store:
    for i in range(rounds):
        record_review(store, "exercise:backprop", 1 + (worker + i) % 4, "flashcard", 1.5)
        record_attempt(store, "gbdt", f"w{worker}.py", f"# {worker}/{i}", i % 3 == 0,
                       {"worker": worker, "round": i})
print("done")
"""


def check_consistency(path):
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        # every graded review has its submission, and every counted submission its review
        graded_reviews = conn.execute(
            "SELECT count(*) FROM reviews WHERE source = 'grade'").fetchone()
        linked = conn.execute("SELECT count(*) FROM submissions s JOIN reviews r "
                              "ON r.id = s.review_id AND r.rating = s.rating").fetchone()
        assert graded_reviews == linked
    finally:
        conn.close()
    assert_state_is_replay(path)


def test_eight_concurrent_writers_lose_nothing_and_see_no_locking_error(tmp_path):
    path = tmp_path / "fresh" / "mlquiz.db"  # created by the writers themselves, all at once
    rounds, workers = 6, 8
    start = time.time() + 1.5
    processes = [python(WRITER, path, w, rounds, start) for w in range(workers)]
    results = [p.communicate(timeout=120) for p in processes]
    for process, (out, err) in zip(processes, results):
        assert process.returncode == 0, err
        assert out.strip() == "done" and err == ""
    conn = sqlite3.connect(path)
    try:
        count = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
        assert count("SELECT count(*) FROM reviews WHERE item_id = 'exercise:backprop'") == 48
        assert count("SELECT count(*) FROM submissions") == 48
        assert count("SELECT count(DISTINCT attempt) FROM submissions") == 48
        assert count("SELECT count(*) FROM _sqlite_migrations") == SCHEMA_VERSION
        assert count("SELECT count(*) FROM items") == len(exercises())
    finally:
        conn.close()
    check_consistency(path)


def test_eight_concurrent_command_line_writers(tmp_path):
    path = tmp_path / "mlquiz.db"
    open_store(path).close()
    processes = [mlquiz_cli("hint", "svm_dual", "--db", path) for _ in range(8)]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0 and err == "", err
    with open_store(path) as store:
        assert store.value("SELECT count(*) FROM hints") == 8
        assert hints_used(store, "svm_dual") == 8


LOOPER = """
import sys, time
from mlquiz.schedule import attempts
from mlquiz.schedule.attempts import record_attempt
from mlquiz.schedule.hints import record_hint
from mlquiz.schedule.items import open_schedule
from mlquiz.schedule.review import record_review
stop_in = int(sys.argv[2])  # >= 0: stop in the middle of that round's graded attempt
next_attempt = attempts._next_attempt

def in_flight(store, exercise):  # runs inside the attempt's write transaction
    if i == stop_in:
        print("in flight", store.value("SELECT count(*) FROM reviews"), flush=True)
        time.sleep(600)
    return next_attempt(store, exercise)

attempts._next_attempt = in_flight
store = open_schedule(sys.argv[1])
i = 0
while True:
    record_review(store, "exercise:l2", 1 + i % 4, "flashcard")
    record_attempt(store, "gbdt", "gbdt.py", "#" * (i % 500), i % 2 == 0, {"i": i})
    record_hint(store, "gbdt")
    print("round", i, flush=True)
    i += 1
"""


def committed_reviews(path) -> int:
    conn = sqlite3.connect(path, timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM reviews").fetchone()[0]
    finally:
        conn.close()


def test_a_process_killed_inside_a_write_transaction_leaves_it_out(tmp_path):
    """The child stops inside a transaction (the review written, its submission not yet) and
    says so; it is killed there: the review must be gone, the rest consistent."""
    path = tmp_path / "mlquiz.db"
    for stop_in in (0, 4, 8):  # even rounds pass: their attempt is always a review
        process = python(LOOPER, path, stop_in)
        line = process.stdout.readline().split()
        while line and line[0] == "round":
            line = process.stdout.readline().split()
        assert line[:2] == ["in", "flight"], process.stderr.read()
        before = committed_reviews(path)
        assert int(line[2]) == before + 1  # its review is written, not yet visible outside
        assert process.poll() is None  # still running, inside the transaction
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL
        assert committed_reviews(path) == before
        check_consistency(path)


def test_a_process_killed_at_random_during_a_write_loop_leaves_the_database_consistent(tmp_path):
    path = tmp_path / "mlquiz.db"
    rng = random.Random(4)
    for _ in range(4):
        process = python(LOOPER, path, -1)
        rounds = rng.randint(1, 12)
        for _ in range(rounds):  # the loop has been writing for `rounds` rounds
            assert process.stdout.readline().startswith("round"), process.stderr.read()
        time.sleep(rng.uniform(0, 0.05))
        assert process.poll() is None  # killed while it writes, not after it finished
        before = committed_reviews(path)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL
        assert committed_reviews(path) >= before >= rounds
        check_consistency(path)


CREATOR = """
import sys, time
from mlquiz.schedule import store
from mlquiz.schedule.items import open_schedule
name, first = store._MIGRATIONS[-1]

def stopped(db):  # the last migration stops half-way: its transaction is open
    first(db)
    print("migrating", flush=True)
    time.sleep(600)

store._MIGRATIONS[-1] = (name, stopped)
open_schedule(sys.argv[1]).close()
"""


def test_a_process_killed_while_creating_the_database_leaves_it_usable(tmp_path):
    for attempt in range(3):
        path = tmp_path / f"new{attempt}" / "mlquiz.db"
        process = python(CREATOR, path)
        assert process.stdout.readline().strip() == "migrating", process.stderr.read()
        assert process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL
        with open_schedule(path) as store:  # the next open builds it whole
            assert store.value("PRAGMA integrity_check") == "ok"
            assert store.value("PRAGMA user_version") == SCHEMA_VERSION
            assert store.value("SELECT count(*) FROM items") == len(exercises())


def test_switching_to_wal_waits_for_a_writer_instead_of_failing_at_once(tmp_path):
    """A database left in rollback-journal mode (its creator killed before the switch, or
    being created by eight processes at once) is switched to WAL on open. The switch first
    takes a read lock, then the write lock; when another process holds the write lock then,
    SQLite answers "database is locked" at once, without its busy timeout (a read lock is
    never upgraded while waiting, to avoid deadlocks). mlquiz must wait, within that timeout,
    instead of reporting a lock held for 30 s."""
    path = tmp_path / "mlquiz.db"
    open_schedule(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()
    reader = python("import sqlite3, sys, time\n"
                    "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                    "c.execute('BEGIN IMMEDIATE')\n"
                    "print('writing', flush=True); time.sleep(1.5); c.execute('COMMIT')\n", path)
    assert reader.stdout.readline().strip() == "writing"
    started = time.monotonic()
    with open_store(path) as store:
        assert store.value("PRAGMA journal_mode") == "wal"
    reader.communicate(timeout=30)
    assert reader.returncode == 0
    assert time.monotonic() - started < store_module.BUSY_TIMEOUT
