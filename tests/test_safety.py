"""Nothing lost, nothing damaged, no traceback: damaged files, backups, half-migrated schemas,
paths that are not files, the clock, recording after a grade, a full disk, a long history and
usage errors. Every case runs the real command line in a real process on a real SQLite file.
"""

import hashlib
import json
import os
import re
import resource
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mlquiz.curriculum import data_dir
from mlquiz.schedule import backup as backup_module
from mlquiz.schedule import items as schedule_items
from mlquiz.schedule import store as store_module
from mlquiz.schedule.items import open_schedule
from mlquiz.schedule.review import record_review
from mlquiz.schedule.store import SCHEMA_VERSION, open_store
from test_schedule import assert_state_is_replay
from test_store import check_consistency

ROOT = Path(__file__).resolve().parents[1]
MLQUIZ = [sys.executable, "-c", "import sys; from mlquiz.cli import main; sys.argv[0] = 'mlquiz'; "
          "main()"]
REFERENCE = data_dir("reference")
DAY = "2026-03-02T09:00:00Z"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("MLQUIZ_DB", "MLQUIZ_NOW"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(schedule_items, "deck_card_ids", lambda: ())


def run(*args, db=None, now=None, cwd=ROOT, timeout=120, preexec_fn=None, env=None):
    """The real command line in a new process; ``db`` and ``now`` set MLQUIZ_DB, MLQUIZ_NOW."""
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    environment.pop("MLQUIZ_NOW", None)
    environment.pop("MLQUIZ_DB", None)
    if db is not None:
        environment["MLQUIZ_DB"] = str(db)
    if now is not None:
        environment["MLQUIZ_NOW"] = now
    return subprocess.run([*MLQUIZ, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env=environment, timeout=timeout, preexec_fn=preexec_fn)


def assert_clean_failure(result, code, *words):
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    for word in words:
        assert re.search(word, result.stderr), (word, result.stderr)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def used_database(path: Path, reviews=3) -> Path:
    """A database with some reviews, checkpointed (everything in the main file) and closed."""
    with open_schedule(path) as store:
        start = datetime(2026, 3, 1, 8, tzinfo=timezone.utc)
        for n in range(reviews):
            record_review(store, "exercise:backprop", 1 + n % 4, "flashcard", 10.0,
                          start + timedelta(hours=n))
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def integrity_errors(path: Path) -> list:
    """The oracle: what SQLite's own full check says of the file."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?immutable=1", uri=True)
    try:
        return [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()
                if row[0] != "ok"]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        conn.close()


# --- 1. a damaged database is refused before any write --------------------------------------

def cut_tail(path, size):
    data = path.read_bytes()
    path.write_bytes(data[:-size])


def add_submissions(path: Path, count: int, size: int):
    """``count`` stored files of ``size`` bytes each, checkpointed into the main file."""
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO submissions (exercise, attempt, created_at, kind, file_path, source, "
            "sha256) VALUES ('gbdt', ?, '2026-03-01T08:00:00Z', 'saved', '/x.py', ?, 'x')",
            [(n, uuid.uuid4().hex * (size // 32)) for n in range(1, count + 1)])
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def flip_a_page(path):
    """Invert 256 bytes in the middle of a page, trying pages from the middle of the file on
    until SQLite's own integrity_check reports the damage (a page of free space may hide it)."""
    if path.stat().st_size < 200_000:
        bulk_reviews(path, 3000)  # pages full of rows, and of index entries
        sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
    original = path.read_bytes()
    page = 4096
    pages = len(original) // page
    for number in [pages // 2 + k for k in range(pages)] + list(range(1, pages // 2)):
        number %= pages
        if number == 0:
            continue
        start = number * page + page // 2 - 128
        data = bytearray(original)
        data[start:start + 256] = bytes(b ^ 0xFF for b in data[start:start + 256])
        path.write_bytes(bytes(data))
        if integrity_errors(path):
            return
    pytest.fail("no page of the file shows its damage")


DAMAGE = {
    "last_1000_bytes_cut": lambda p: cut_tail(p, 1000),
    "last_page_cut": lambda p: cut_tail(p, 4096),
    "256_bytes_flipped_mid_page": flip_a_page,
    "header_page_size_overwritten": lambda p: p.write_bytes(
        p.read_bytes()[:16] + b"\x03\x00" + p.read_bytes()[18:]),
}
COMMANDS = [("next",), ("hint", "gbdt"), ("history",), ("stats",), ("review",),
            ("config", "set", "retention", "0.8"), ("grade", REFERENCE / "l2_regularization.py")]


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_database_is_refused_by_every_command_and_left_byte_for_byte(tmp_path, damage):
    path = used_database(tmp_path / "mlquiz.db")
    DAMAGE[damage](path)
    assert integrity_errors(path) or path.stat().st_size % 4096  # the oracle agrees: damaged
    before = digest(path)
    for command in COMMANDS:
        result = run(*command, db=path, now=DAY)
        if command[0] == "grade":  # the verdict is shown, the recording refused
            assert result.returncode == 0 and "PASS" in result.stdout
            assert "not recorded: the database at" in result.stderr
        else:
            assert_clean_failure(result, 1, "the database at .* is damaged", r"\.recover",
                                 "mlquiz db restore")
        assert digest(path) == before, command
    assert {p.name for p in tmp_path.iterdir()} <= {"mlquiz.db", "backups"}
    check = run("db", "check", db=path)
    assert_clean_failure(check, 1, "damaged")


def big_database(path: Path, megabytes: float) -> Path:
    """A database larger than the size checked on every open (many stored submissions)."""
    used_database(path)
    add_submissions(path, int(megabytes * 1e6 / 6400), 6400)
    assert path.stat().st_size > store_module.QUICK_CHECK_MAX_BYTES
    return path


def test_a_large_damaged_database_is_caught_by_the_daily_full_check_before_a_write(tmp_path):
    path = big_database(tmp_path / "mlquiz.db", 5)
    flip_a_page(path)
    before = digest(path)
    result = run("hint", "gbdt", db=path, now=DAY)  # the day's first write: full check first
    assert_clean_failure(result, 1, "the database at .* is damaged")
    assert digest(path) == before
    assert backup_module.list_backups(path) == []  # a damaged file never pushes a backup out


def test_the_check_on_every_open_reads_a_large_file_only_once_a_day(tmp_path, monkeypatch):
    """A large healthy file is not read whole on every open (only its header is), a small
    one is checked fully every time."""
    calls = []
    original = store_module._integrity_problems
    monkeypatch.setattr(store_module, "_integrity_problems",
                        lambda conn, full: calls.append(full) or original(conn, full))
    for path, expected in ((big_database(tmp_path / "big.db", 5), []),
                           (used_database(tmp_path / "small.db"), [True])):
        calls.clear()
        open_store(path).close()
        assert calls == expected


# --- 2. backups -------------------------------------------------------------------------------

def rows_of(path: Path, table="reviews") -> list:
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?immutable=1", uri=True)
    try:
        return conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
    finally:
        conn.close()


def test_a_backup_is_made_once_a_day_before_the_first_write_and_the_newest_n_are_kept(tmp_path):
    path = used_database(tmp_path / "mlquiz.db", reviews=1)
    assert run("config", "set", "backups", "3", db=path, now="2026-03-02T08:00:00Z").returncode == 0
    for day in range(2, 8):
        for hour in (9, 10, 11):  # three writes a day, one backup
            result = run("hint", "gbdt", db=path, now=f"2026-03-{day:02d}T{hour:02d}:00:00Z")
            assert result.returncode == 0, result.stderr
        assert rows_of(backup_module.list_backups(path)[0].path, "hints") == rows_of(path, "hints")[:-3]
    kept = backup_module.list_backups(path)
    assert [b.day for b in kept] == ["2026-03-07", "2026-03-06", "2026-03-05"]
    assert all(b.reason == "daily" and b.path.parent == tmp_path / "backups" for b in kept)
    listed = run("db", "backups", db=path)
    assert listed.returncode == 0 and listed.stdout.count("  daily  ") == 3
    for entry in kept:  # complete databases of their own: no -wal needed beside them
        assert integrity_errors(entry.path) == []


def test_processes_writing_at_once_make_one_backup_a_day(tmp_path):
    path = big_database(tmp_path / "mlquiz.db", 5)  # its check and copy take a while
    environment = {**os.environ, "MLQUIZ_DB": str(path), "MLQUIZ_NOW": DAY}
    together = ("import sys, time; from mlquiz.cli import main\n"  # all start at one moment
                "time.sleep(max(0, float(sys.argv[1]) - time.time()))\n"
                "sys.argv[1:] = ['hint', 'gbdt']; main()\n")
    start = time.time() + 3
    processes = [subprocess.Popen([sys.executable, "-c", together, str(start)], cwd=ROOT,
                                  env=environment, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True) for _ in range(6)]
    for process in processes:
        assert process.communicate(timeout=120)[1] == "" and process.returncode == 0
    assert len(backup_module.list_backups(path)) == 1
    assert len(rows_of(path, "hints")) == 6


def test_reads_make_no_backup_and_a_new_database_needs_none(tmp_path):
    path = tmp_path / "mlquiz.db"
    assert run("hint", "gbdt", db=path, now=DAY).returncode == 0  # created: nothing to back up
    assert run("history", db=path, now="2026-03-03T09:00:00Z").returncode == 0
    assert backup_module.list_backups(path) == []


MIGRATE = """
import sys
from mlquiz.schedule import store
def m900_notes(db):
    db["notes"].create({"id": int, "text": str}, pk="id")
store._MIGRATIONS.append(("m900_notes", m900_notes))
store.SCHEMA_VERSION = len(store._MIGRATIONS)
store.open_store(sys.argv[1]).close()
"""


def test_a_backup_is_made_before_every_migration(tmp_path):
    path = used_database(tmp_path / "mlquiz.db")
    before = rows_of(path)
    result = subprocess.run([sys.executable, "-c", MIGRATE, str(path)], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    [made] = backup_module.list_backups(path)
    assert made.reason == "migration"
    conn = sqlite3.connect(made.path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION  # before it
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'notes'").fetchone() == (0,)
    conn.close()
    assert rows_of(made.path) == before


def test_restore_brings_a_backup_back_and_keeps_the_file_it_replaces(tmp_path):
    path = used_database(tmp_path / "mlquiz.db", reviews=2)
    assert run("hint", "gbdt", db=path, now="2026-03-03T09:00:00Z").returncode == 0
    first = rows_of(path, "hints")
    assert run("hint", "gbdt", db=path, now="2026-03-04T09:00:00Z").returncode == 0
    assert run("hint", "gbdt", db=path, now="2026-03-04T10:00:00Z").returncode == 0
    latest = rows_of(path, "hints")
    assert len(latest) == 3
    # backup 1 is the one of 03-04 (before its first hint): it holds the first hint only
    result = run("db", "restore", "1", db=path, now="2026-03-04T11:00:00Z")
    assert result.returncode == 0, result.stderr
    assert rows_of(path, "hints") == first
    saved = [b for b in backup_module.list_backups(path) if b.reason == "restore"]
    assert len(saved) == 1 and rows_of(saved[0].path, "hints") == latest  # nothing lost
    check_consistency(path)
    again = run("db", "restore", saved[0].path.name, db=path, now="2026-03-04T12:00:00Z")
    assert again.returncode == 0 and rows_of(path, "hints") == latest  # a restore is undone


def test_restore_replaces_a_damaged_database_and_keeps_the_damaged_file(tmp_path):
    path = used_database(tmp_path / "mlquiz.db")
    assert run("hint", "gbdt", db=path, now=DAY).returncode == 0
    good = rows_of(path)
    cut_tail(path, 1000)
    damaged = digest(path)
    result = run("db", "restore", "1", db=path, now=DAY)
    assert result.returncode == 0, result.stderr
    assert rows_of(path) == good and integrity_errors(path) == []
    [kept] = [b for b in backup_module.list_backups(path) if b.reason == "damaged"]
    assert digest(kept.path) == damaged
    assert run("next", db=path, now=DAY).returncode == 0


def test_restore_refuses_what_is_not_there(tmp_path):
    path = used_database(tmp_path / "mlquiz.db")
    assert_clean_failure(run("db", "restore", "1", db=path), 1, "no backups")
    assert run("hint", "gbdt", db=path, now=DAY).returncode == 0
    assert_clean_failure(run("db", "restore", "4", db=path), 1, "no backup 4")


# --- 3. half-migrated and foreign schemas ----------------------------------------------------

def edit(path: Path, *statements):
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


SCHEMAS = {
    "recorded_but_column_missing": (
        ["ALTER TABLE items DROP COLUMN requested_at", "PRAGMA user_version = 1"],
        r"m002_items_requested_at is recorded but items\.requested_at is missing"),
    "recorded_column_missing_version_current": (
        ["ALTER TABLE items DROP COLUMN requested_at"],
        r"m002_items_requested_at is recorded but items\.requested_at is missing"),
    "column_present_but_unrecorded": (
        ["DELETE FROM _sqlite_migrations WHERE name = 'm002_items_requested_at'",
         "PRAGMA user_version = 1"],
        r"items\.requested_at is present but migration m002_items_requested_at"),
    "version_disagrees_with_the_record": (
        ["PRAGMA user_version = 1"],
        f"user_version says schema version 1, but {SCHEMA_VERSION} migrations"),
    "a_table_missing": (["DROP TABLE hints"], "table hints is missing"),
    "foreign_tables_with_our_id": (
        ["DROP TABLE submissions", "DROP TABLE hints", "DROP TABLE reviews", "DROP TABLE items",
         "DROP TABLE config", "DROP TABLE meta", "DROP TABLE _sqlite_migrations",
         "CREATE TABLE photos (id INTEGER PRIMARY KEY)", "PRAGMA user_version = 1"],
        "user_version says schema version 1, but 0 migrations"),
}


@pytest.mark.parametrize("case", SCHEMAS)
def test_an_inconsistent_schema_is_refused_with_what_is_wrong_and_left_untouched(tmp_path, case):
    statements, message = SCHEMAS[case]
    path = used_database(tmp_path / "mlquiz.db")
    edit(path, *statements)
    before = digest(path)
    for command in (("next",), ("hint", "gbdt"), ("history",)):
        result = run(*command, db=path, now=DAY)
        assert_clean_failure(result, 1, "inconsistent schema", message)
        assert digest(path) == before
    graded = run("grade", REFERENCE / "l2_regularization.py", db=path, now=DAY)
    assert graded.returncode == 0 and "not recorded:" in graded.stderr
    assert digest(path) == before
    assert_clean_failure(run("db", "check", db=path), 1, message)


# --- 4. only regular files ----------------------------------------------------------------------

def fifo(folder):
    path = folder / "pipe"
    os.mkfifo(path)
    return path


def link_to(target_of):
    def make(folder):
        target = target_of(folder)
        link = folder / "link.db"
        link.symlink_to(target)
        return link
    return make


SPECIAL = {
    "null_device": lambda folder: Path("/dev/null"),
    "link_to_null_device": link_to(lambda folder: Path("/dev/null")),
    "fifo": fifo,
    "link_to_fifo": link_to(fifo),
}


@pytest.mark.parametrize("kind", SPECIAL)
def test_a_path_that_is_not_a_regular_file_is_refused_and_nothing_is_created(tmp_path, kind):
    path = SPECIAL[kind](tmp_path)
    before = sorted(os.listdir(tmp_path))
    for command in (("next",), ("hint", "gbdt"), ("db", "check")):
        result = run(*command, db=path, timeout=60)  # a FIFO opened for reading would hang
        assert_clean_failure(result, 1, "not a regular file")
        assert sorted(os.listdir(tmp_path)) == before
    assert not Path("/dev/null-journal").exists() and not Path("/dev/null-wal").exists()


# --- 5. the clock -------------------------------------------------------------------------------

@pytest.mark.parametrize("now", ["garbage", "0999-01-01T00:00:00Z", "0001-01-01T00:00:00Z",
                                 "1969-12-31T23:59:59Z", "1970-01-01T00:30:00+01:00"])
@pytest.mark.parametrize("command", [("next",), ("grade", REFERENCE / "l2_regularization.py"),
                                     ("history",), ("stats",), ("review",), ("hint", "gbdt"),
                                     ("config", "get"), ("attempts", "gbdt"), ("db", "where")])
def test_a_bad_mlquiz_now_is_a_usage_error_for_every_command(tmp_path, now, command):
    path = tmp_path / "mlquiz.db"
    result = run(*command, db=path, now=now)
    assert_clean_failure(result, 2, "MLQUIZ_NOW")
    assert not path.exists()


STORED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def stored_times(path):
    conn = sqlite3.connect(path)
    try:
        found = []
        for table, columns in (("reviews", "reviewed_at, due"), ("items", "due, last_review, introduced, shown_at, requested_at"),
                               ("submissions", "created_at"), ("hints", "used_at")):
            for row in conn.execute(f"SELECT {columns} FROM {table}"):
                found += [value for value in row if value is not None]
        return found
    finally:
        conn.close()


def test_every_stored_time_is_fixed_width_from_1970_to_9999(tmp_path):
    path = tmp_path / "mlquiz.db"
    for now in ("1970-01-01T00:00:00Z", "2026-03-01T09:00:00+05:30", "9999-06-01T00:00:00Z"):
        assert run("hint", "gbdt", db=path, now=now).returncode == 0
        graded = run("grade", REFERENCE / "l2_regularization.py", db=path, now=now)
        assert graded.returncode == 0 and "Traceback" not in graded.stderr
    times = stored_times(path)
    assert len(times) >= 9 and all(STORED_TIME.fullmatch(t) for t in times), times
    assert "1970-01-01T00:00:00Z" in times and "9999-06-01T00:00:00Z" in times
    assert run("history", db=path).returncode == 0
    late = run("next", db=path, now="9999-12-31T23:00:00Z")  # tomorrow is past the calendar
    assert "Traceback" not in late.stderr and late.returncode in (0, 1)


def test_a_review_earlier_than_the_items_last_is_refused_and_the_verdict_kept(tmp_path):
    path = tmp_path / "mlquiz.db"
    reference = REFERENCE / "l2_regularization.py"
    assert run("grade", reference, db=path, now="2026-03-02T10:00:00Z").returncode == 0
    before = rows_of(path)
    rewritten = tmp_path / "l2_regularization.py"  # a fresh rewrite, not the same file again
    rewritten.write_text(reference.read_text() + "\n# rewritten\n")
    result = run("grade", rewritten, db=path, now="2026-03-02T09:00:00Z")
    assert result.returncode == 0 and "PASS" in result.stdout
    assert "not recorded:" in result.stderr and "earlier than its last review" in result.stderr
    assert rows_of(path) == before
    assert rows_of(path, "submissions")[0][3] == "2026-03-02T10:00:00Z"  # one, not clamped
    assert len(rows_of(path, "submissions")) == 1
    assert_state_is_replay(path)


def test_stats_windows_follow_the_reviews_own_times(tmp_path):
    path = tmp_path / "mlquiz.db"
    with open_schedule(path) as store:
        start = datetime(2026, 1, 1, tzinfo=timezone.utc)
        for day in range(120):  # one review a day, also after the day stats is asked about
            record_review(store, "exercise:backprop", 3, "grade", None, start + timedelta(days=day))
    data = json.loads(run("stats", "--json", db=path, now="2026-02-15T12:00:00Z").stdout)
    per_day = [d["count"] for d in data["reviews_per_day"]]
    assert data["reviews_last_30_days"] == sum(per_day) == 30  # 2026-01-17 .. 2026-02-15
    conn = sqlite3.connect(path)
    oracle = conn.execute("SELECT count(*) FROM reviews WHERE state_before = 2 AND "
                          "reviewed_at >= '2026-01-17' AND reviewed_at < '2026-02-16'").fetchone()[0]
    conn.close()
    assert data["retention"]["reviews"] == oracle


# --- 6. recording after a grade ----------------------------------------------------------------

def wrong_l2(tmp_path) -> Path:
    path = tmp_path / "l2_regularization.py"
    source = (REFERENCE / "l2_regularization.py").read_text()
    path.write_text(source.replace("return float(lam / 2 * np.sum(w**2))",
                                   "return float(lam * np.sum(w**2))"))
    return path


@pytest.mark.parametrize("passed", [True, False])
def test_a_failure_to_record_never_hides_the_verdict_or_changes_its_exit_code(tmp_path, passed):
    file = REFERENCE / "l2_regularization.py" if passed else wrong_l2(tmp_path)
    damaged = used_database(tmp_path / "damaged.db")
    cut_tail(damaged, 1000)
    text = tmp_path / "notes.txt"
    text.write_text("notes\n")
    later = tmp_path / "later.db"
    earlier = tmp_path / "earlier" / "l2_regularization.py"  # another text than ``file``
    earlier.parent.mkdir()
    earlier.write_text((REFERENCE / "l2_regularization.py").read_text() + "\n# earlier\n")
    assert run("grade", earlier, db=later, now="2026-03-05T00:00:00Z").returncode == 0
    cases = [(damaged, DAY, "is damaged"), (text, DAY, "not an mlquiz database"),
             (later, DAY, "earlier than its last review"), (Path("/dev/null"), DAY, "regular file")]
    for db, now, why in cases:
        result = run("grade", file, db=db, now=now)
        assert result.returncode == (0 if passed else 1), result.stderr
        assert re.search("0 failed" if passed else "[1-9] failed", result.stdout), result.stdout
        assert re.search(f"not recorded: .*{why}", result.stderr), result.stderr
        assert "Traceback" not in result.stderr


# --- 7. a full disk ------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB file system of its own (tmpfs, as root), else None."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        yield None
        return
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True)
    if made.returncode != 0:
        yield None
        return
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(folder: Path):
    with open(folder / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    assert shutil.disk_usage(folder).free < 64 * 1024


def test_a_full_disk_says_so_and_commands_that_read_keep_working(small_disk):
    if small_disk is None:
        pytest.skip("needs root to mount a small tmpfs (see the RLIMIT_FSIZE test below)")
    path = small_disk / "mlquiz.db"
    assert run("hint", "gbdt", db=path, now=DAY).returncode == 0
    assert run("hint", "gbdt", db=path, now="2026-03-03T09:00:00Z").returncode == 0  # a backup
    fill(small_disk)
    hints = rows_of(path, "hints")
    write = run("hint", "svm_dual", db=path, now="2026-03-03T10:00:00Z")
    assert_clean_failure(write, 1, "disk .* is full")
    grade = run("grade", REFERENCE / "l2_regularization.py", db=path, now="2026-03-03T10:00:00Z")
    assert grade.returncode == 0 and re.search("not recorded: the disk .* is full", grade.stderr)
    for command in (("history",), ("stats",), ("config", "get"), ("attempts", "gbdt"),
                    ("next",), ("db", "check"), ("db", "backups")):
        result = run(*command, db=path, now="2026-03-03T10:00:00Z")
        assert result.returncode == 0, (command, result.stderr)
    assert rows_of(path, "hints") == hints
    (small_disk / "filler").unlink()
    assert run("hint", "svm_dual", db=path, now="2026-03-03T11:00:00Z").returncode == 0
    check_consistency(path)


def limit_file_size(size):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def test_a_file_size_limit_says_the_disk_is_full_and_changes_nothing(tmp_path):
    """Without root: the file size limit (ulimit -f) stands in for a full disk."""
    path = used_database(tmp_path / "mlquiz.db")
    assert run("hint", "gbdt", db=path, now=DAY).returncode == 0  # today's backup is made
    before = rows_of(path)
    big = tmp_path / "big.py"
    big.write_text((REFERENCE / "l2_regularization.py").read_text() + "#" * 300_000 + "\n")
    result = run("grade", big, "--exercise", "l2", db=path, now=DAY,
                 preexec_fn=limit_file_size(path.stat().st_size + 64 * 1024))
    assert result.returncode == 0 and "0 failed" in result.stdout
    assert re.search("not recorded: the disk .* is full", result.stderr), result.stderr
    assert rows_of(path) == before
    check_consistency(path)


# --- 8. history streams -------------------------------------------------------------------------

def bulk_reviews(path: Path, count: int):
    conn = sqlite3.connect(path)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = [("exercise:backprop", 1 + n % 4, (start + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "grade", float(n % 90), 0.9, 0, 2, 2, None, 3.5, 5.25, "2026-06-01T00:00:00Z")
            for n in range(count)]
    with conn:
        conn.executemany(
            "INSERT INTO reviews (item_id, rating, reviewed_at, source, duration_seconds, "
            "retention, hints, state_before, state, step, stability, difficulty, due) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.close()


def test_history_limit_since_and_json_agree_with_the_log(tmp_path):
    path = tmp_path / "mlquiz.db"
    open_schedule(path).close()
    bulk_reviews(path, 500)
    everything = json.loads(run("history", "--json", db=path).stdout)
    assert [r["id"] for r in everything] == list(range(1, 501))
    assert everything[8]["rating_name"] == "Again" and everything[8]["kind"] == "exercise"
    oracle = sqlite3.connect(path).execute(
        "SELECT id FROM reviews WHERE reviewed_at >= '2026-01-01T05:00:00Z' ORDER BY id").fetchall()
    since = json.loads(run("history", "--since", "2026-01-01T05:00:00Z", "--json", db=path).stdout)
    assert [r["id"] for r in since] == [row[0] for row in oracle]
    latest = json.loads(run("history", "--since", "2026-01-01T05:00:00Z", "--limit", "7",
                            "--json", db=path).stdout)
    assert latest == since[-7:]
    text = run("history", "backprop", "--limit", "3", db=path).stdout.splitlines()
    assert len(text) == 4 and text[-1].startswith("2026-01-01 08:19 UTC")
    assert json.loads(run("history", "l2", "--json", db=path).stdout) == []
    assert_clean_failure(run("history", "--since", "yesterday", db=path), 2, "--since")


def peak_memory_mb(*args, db):
    """The peak resident memory of one real command, in MB (getrusage of the child)."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], "
            "stdout=subprocess.DEVNULL, check=True); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *MLQUIZ, *args, "--db", str(db)],
                         capture_output=True, text=True, cwd=ROOT, timeout=300, check=True)
    return int(out.stdout) / 1024


def test_history_memory_does_not_grow_with_the_log(tmp_path):
    small, large = tmp_path / "small.db", tmp_path / "large.db"
    for path, count in ((small, 100), (large, 60_000)):
        open_schedule(path).close()
        bulk_reviews(path, count)
    for as_json in ((), ("--json",)):
        grown = (peak_memory_mb("history", *as_json, db=large)
                 - peak_memory_mb("history", *as_json, db=small))
        assert grown < 10, f"history {as_json} needs {grown:.0f} MB more for 60,000 reviews"


# --- 9. usage errors answered usefully --------------------------------------------------------

def test_a_negative_setting_says_the_value_must_be_positive(tmp_path):
    path = tmp_path / "mlquiz.db"
    result = run("config", "set", "new_per_day", "-3", db=path)
    assert_clean_failure(result, 2, "new_per_day must be a positive whole number")
    assert_clean_failure(run("config", "set", "retention", "-0.5", db=path), 2, "retention must")
    assert_clean_failure(run("config", "set", "backups", "0", db=path), 2, "backups must")
    assert "new_per_day = 10" in run("config", "get", db=path).stdout


def test_config_unset_brings_the_default_back(tmp_path):
    path = tmp_path / "mlquiz.db"
    assert run("config", "set", "new_per_day", "4", db=path).returncode == 0
    assert run("config", "get", "new_per_day", db=path).stdout.strip() == "4"
    unset = run("config", "unset", "new_per_day", db=path)
    assert unset.returncode == 0 and "10" in unset.stdout
    assert run("config", "get", "new_per_day", db=path).stdout.strip() == "10"
    assert_clean_failure(run("config", "unset", "colour", db=path), 2, "unknown setting")


def test_grade_name_grades_the_exercises_file(tmp_path):
    path = tmp_path / "mlquiz.db"
    folder = tmp_path / "exercises"
    folder.mkdir()
    shutil.copy(REFERENCE / "bn_backward.py", folder / "bn_backward.py")
    result = run("grade", "bn_backward", db=path, cwd=tmp_path, now=DAY)
    assert result.returncode == 0 and "PASS" in result.stdout, result.stderr
    assert str(folder / "bn_backward.py") == rows_of(path, "submissions")[0][5]
    missing = run("grade", "gbdt", db=path, cwd=tmp_path, now=DAY)
    assert_clean_failure(missing, 2, "gbdt is an exercise, but its file", "mlquiz init")
    assert_clean_failure(run("grade", "no_such_thing", db=path, cwd=tmp_path), 2, "no such file")


def test_every_suggested_grade_command_works_when_pasted(tmp_path):
    path = tmp_path / "mlquiz.db"
    work = tmp_path / "my work"
    work.mkdir()
    mine = work / "my_gbdt_solution.py"
    shutil.copy(REFERENCE / "gbdt.py", mine)
    assert run("grade", mine, "--exercise", "gbdt", db=path, cwd=tmp_path, now=DAY).returncode == 0
    assert run("config", "set", "new_per_day", "0", db=path).returncode == 0
    later = "2026-09-01T09:00:00Z"
    data = json.loads(run("next", "--json", db=path, cwd=tmp_path, now=later).stdout)
    assert data["ref"] == "gbdt"
    suggested = [data["command"]]
    reset = run("reset", "gbdt", db=path, cwd=tmp_path, now=later)
    suggested.append(re.search(r"`(mlquiz grade [^`]+)`", reset.stdout)[1])
    shutil.copy(REFERENCE / "gbdt.py", mine)
    for command in suggested:
        words = shlex.split(command)
        assert words[0] == "mlquiz" and "--exercise" in words
        result = run(*words[1:], db=path, cwd=tmp_path, now=later)
        assert result.returncode == 0 and "PASS" in result.stdout, (command, result.stderr)


def test_db_where_says_where_everything_is(tmp_path):
    path = tmp_path / "data" / "mlquiz.db"
    before = run("db", "where", db=path, cwd=tmp_path)
    assert before.returncode == 0 and str(path) in before.stdout and "not created yet" in before.stdout
    assert not path.exists()
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(REFERENCE / "l2_regularization.py", work)
    assert run("grade", work / "l2_regularization.py", db=path, now=DAY).returncode == 0
    where = run("db", db=path, cwd=tmp_path)
    assert where.returncode == 0
    assert str(path) in where.stdout and str(tmp_path / "data" / "backups") in where.stdout
    assert re.search(r"exercises\s+work\b", where.stdout), where.stdout
    cut_tail(path, 1000)
    damaged = run("db", "where", db=path, cwd=tmp_path)  # needed most when it is broken
    assert damaged.returncode == 0 and str(path) in damaged.stdout and "damaged" in damaged.stdout
