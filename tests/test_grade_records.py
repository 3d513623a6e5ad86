"""`mlquiz grade` feeds the schedule: real processes, a real SQLite file, the real CLI."""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from mlquiz.curriculum import data_dir

MLQUIZ = str(Path(sys.executable).with_name("mlquiz"))


def mlquiz(*args, db, now=None):
    env_now = {"MLQUIZ_NOW": now} if now else {}
    import os

    env = {**os.environ, "MLQUIZ_DB": str(db), **env_now}
    return subprocess.run([MLQUIZ, *map(str, args)], capture_output=True, text=True, env=env, timeout=120)


def ratings(db, item):
    history = json.loads(mlquiz("history", item, "--json", db=db).stdout)
    return [row["rating_name"] for row in history]


def test_fail_fail_pass_hint_pass(tmp_path):
    db = tmp_path / "s.db"
    ref = data_dir("reference") / "l2_regularization.py"
    wrong = tmp_path / "l2_regularization.py"
    wrong.write_text(ref.read_text().replace("return float(lam / 2 * np.sum(w**2))", "return float(lam * np.sum(w**2))"))
    assert wrong.read_text() != ref.read_text()
    assert mlquiz("grade", wrong, db=db, now="2026-01-01T10:00:00Z").returncode == 1
    wrong.write_text(wrong.read_text() + "\n# another try\n")  # a fresh attempt, still wrong
    second = mlquiz("grade", wrong, db=db, now="2026-01-01T10:05:00Z")
    assert "no new lapse" in second.stderr
    assert mlquiz("grade", ref, db=db, now="2026-01-01T10:10:00Z").returncode == 0
    assert ratings(db, "l2") == ["Again", "Good"]
    assert mlquiz("hint", "l2", db=db, now="2026-01-03T10:00:00Z").returncode == 0
    rewritten = tmp_path / "rewrite" / "l2_regularization.py"
    rewritten.parent.mkdir()
    rewritten.write_text(ref.read_text() + "\n# written again\n")
    assert mlquiz("grade", rewritten, db=db, now="2026-01-03T10:10:00Z").returncode == 0
    assert ratings(db, "l2") == ["Again", "Good", "Hard"]
    attempts = mlquiz("attempts", "l2", db=db)
    assert attempts.returncode == 0 and attempts.stdout.count("\n") >= 4


def test_an_untouched_stub_is_not_a_review(tmp_path):
    db = tmp_path / "s.db"
    result = mlquiz("grade", data_dir("exercises") / "l2_regularization.py", db=db)
    assert result.returncode == 1
    assert "not recorded: nothing in" in result.stderr
    assert ratings(db, "l2") == []
    assert "No stored attempts of l2 yet" in mlquiz("attempts", "l2", db=db).stdout


def test_no_record_leaves_the_schedule_alone(tmp_path):
    db = tmp_path / "s.db"
    ref = data_dir("reference") / "l2_regularization.py"
    assert mlquiz("grade", ref, "--no-record", db=db).returncode == 0
    assert not db.exists()


def test_a_foreign_database_is_refused_and_untouched(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    result = mlquiz("grade", data_dir("reference") / "l2_regularization.py", db=notes)
    assert result.returncode == 0  # the verdict's exit code: recording is not grading
    assert "PASS" in result.stdout  # the verdict is still shown
    assert "not recorded:" in result.stderr and "not an mlquiz database" in result.stderr
    assert "Traceback" not in result.stderr
    assert notes.read_text() == "my notes\n"


def test_eight_concurrent_grades_lose_nothing(tmp_path):
    db = tmp_path / "s.db"
    ref = data_dir("reference") / "l2_regularization.py"
    import os

    env = {**os.environ, "MLQUIZ_DB": str(db)}
    copies = []  # eight different files: a file graded before is not a review again
    for i in range(8):
        copies.append(tmp_path / f"w{i}" / "l2_regularization.py")
        copies[-1].parent.mkdir()
        copies[-1].write_text(ref.read_text() + f"\n# copy {i}\n")
    processes = [subprocess.Popen([MLQUIZ, "grade", str(copy)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env) for copy in copies]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0] * 8, outputs
    assert not any("locked" in err or "Traceback" in err for _, err in outputs)
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("SELECT count(*) FROM reviews WHERE item_id = 'exercise:l2'").fetchone() == (8,)
        assert connection.execute("SELECT count(*) FROM submissions WHERE exercise = 'l2'").fetchone() == (8,)
