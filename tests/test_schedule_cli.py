"""The schedule's commands as a learner types them: real processes, the real grader, a real
SQLite file."""

import json
import os
import subprocess
import sys
from pathlib import Path

from mlquiz.curriculum import get_exercise

MLQUIZ = str(Path(sys.executable).with_name("mlquiz"))


def mlquiz(*args, db, now="2026-03-02T12:00:00Z", tz=None, input=None, cwd=None):
    env = {**os.environ, "MLQUIZ_DB": str(db), "MLQUIZ_NOW": now}
    if tz is not None:
        env["TZ"] = tz
    result = subprocess.run([MLQUIZ, *map(str, args)], capture_output=True, text=True, env=env,
                            input=input, cwd=cwd, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_the_day_starts_at_four_in_the_systems_time_zone(tmp_path):
    db = tmp_path / "s.db"
    shanghai = mlquiz("bury", "backprop", db=db, tz="Asia/Shanghai")
    assert "until your next day starts (2026-03-02 20:00 UTC)" in shanghai.stdout
    new_york = mlquiz("bury", "backprop", db=db, tz="America/New_York")
    assert "(2026-03-03 09:00 UTC)" in new_york.stdout
    mlquiz("config", "set", "timezone", "Asia/Shanghai", db=db)
    mlquiz("config", "set", "day_starts_at", "6", db=db)
    assert "(2026-03-02 22:00 UTC)" in mlquiz("bury", "backprop", db=db, tz="UTC").stdout
    bad = mlquiz("config", "set", "timezone", "Atlantis/Capital", db=db)
    assert bad.returncode == 2 and "unknown time zone" in bad.stderr


def test_start_grade_another_file_unchanged_and_undo(tmp_path):
    db = tmp_path / "s.db"
    exercise = get_exercise("bn_backward")
    work = tmp_path / "exercises"
    work.mkdir()
    path = work / exercise.file
    path.write_text("# an old attempt\n")
    started = mlquiz("start", "bn_backward", db=db, cwd=tmp_path)
    assert started.returncode == 0 and "Saved your file as attempt 1." in started.stdout
    assert path.read_text() == exercise.stub_path.read_text()
    assert "mlquiz grade exercises/bn_backward.py" in started.stdout

    stub = mlquiz("grade", path, db=db, now="2026-03-02T12:01:00Z")
    assert "not recorded: nothing in the file is implemented yet" in stub.stderr
    path.write_text(get_exercise("adaboost").reference_path.read_text())
    other = mlquiz("grade", path, "--exercise", "bn_backward", db=db, now="2026-03-02T12:02:00Z")
    assert other.returncode == 1
    assert "not recorded: this file defines adaboost's functions: --exercise adaboost?" in other.stderr

    path.write_text(exercise.reference_path.read_text())
    passed = mlquiz("grade", path, db=db, now="2026-03-02T12:30:00Z")
    assert passed.returncode == 0 and "as Good" in passed.stderr
    same = mlquiz("grade", path, db=db, now="2026-03-20T12:00:00Z")
    assert "not recorded: unchanged since attempt 2: a review is a fresh rewrite" in same.stderr
    history = json.loads(mlquiz("history", "bn_backward", "--json", db=db).stdout)
    good = [row for row in history if row["rating"] == 3]
    assert len(good) == 1 and good[0]["duration_seconds"] == 1800.0

    undone = mlquiz("undo", db=db)
    assert undone.returncode == 0 and "Took back Good of exercise:bn_backward" in undone.stdout
    assert "new again" in undone.stdout
    assert mlquiz("history", "bn_backward", db=db).stdout.startswith("No reviews yet.")
    assert "review taken back" in mlquiz("attempts", "bn_backward", db=db).stdout
    nothing = mlquiz("undo", db=db)
    assert nothing.returncode == 1 and "no review to take back" in nothing.stderr


def test_next_says_how_to_start_a_due_exercise(tmp_path):
    db = tmp_path / "s.db"
    mlquiz("config", "set", "new_per_day", "0", db=db)
    reference = get_exercise("l1").reference_path.read_text()
    (tmp_path / "l1_regularization.py").write_text(reference)
    assert mlquiz("grade", tmp_path / "l1_regularization.py", db=db).returncode == 0
    later = mlquiz("next", db=db, now="2026-04-20T12:00:00Z", cwd=tmp_path)
    assert "Practise now: l1" in later.stdout and "`mlquiz start l1`" in later.stdout
    data = json.loads(mlquiz("next", "--json", db=db, now="2026-04-20T12:00:00Z").stdout)
    assert (data["item"], data["start"]) == ("exercise:l1", "mlquiz start l1")


def test_hint_again_rereads_without_counting(tmp_path):
    db = tmp_path / "s.db"
    hints = get_exercise("svm_dual").hints
    none = mlquiz("hint", "svm_dual", "--again", db=db)
    assert "No hints of svm_dual seen yet" in none.stdout
    first = mlquiz("hint", "svm_dual", db=db)
    assert "rated Hard, even after a failure" in first.stdout
    again = mlquiz("hint", "svm_dual", "--again", db=db)
    assert hints[0].split()[0] in again.stdout and "Hint 2" not in again.stdout
    assert f"Hint 2 of {len(hints)}" in mlquiz("hint", "svm_dual", db=db).stdout


def test_review_a_chosen_card_with_the_intervals_beside_the_ratings(tmp_path):
    db = tmp_path / "s.db"
    result = mlquiz("review", "--card", "logistic_regression.sigmoid", db=db,
                    input="1/(1+exp(-z))\n\n")
    assert result.returncode == 0, result.stderr
    assert "1 again (in 1 min), 2 hard (in 6 min), 3 good (in 10 min), 4 easy (in " in result.stdout
    assert "Reviewed 1 card (1 good)" in result.stdout
    suspended = mlquiz("suspend", "card:logistic_regression.sigmoid", db=db)
    assert "Suspended card:logistic_regression.sigmoid" in suspended.stdout
    assert "Unsuspended" in mlquiz("unsuspend", "logistic_regression.sigmoid", db=db).stdout
    unknown = mlquiz("suspend", "no_such_thing", db=db)
    assert unknown.returncode == 2 and "unknown item" in unknown.stderr


def test_optimize_refuses_a_short_log_and_says_how_many_are_needed(tmp_path):
    db = tmp_path / "s.db"
    result = mlquiz("optimize", db=db)
    assert result.returncode == 1
    assert "the log holds 0 reviews; fitting needs at least 400 (400 more)" in result.stderr


def test_optimize_fits_prints_both_scores_and_later_reviews_use_the_fit(tmp_path):
    from mlquiz.schedule.items import open_schedule
    from test_schedule_rules import simulate_learner

    db = tmp_path / "s.db"
    with open_schedule(db) as store:
        count = simulate_learner(store)
    result = mlquiz("optimize", db=db, now="2026-12-01T12:00:00Z")
    assert result.returncode == 0, result.stderr
    assert f"Fitted FSRS parameters to {count} reviews" in result.stdout
    scores = {line.split()[0]: float(line.split()[1]) for line in result.stdout.splitlines()
              if line.strip().startswith(("default", "fitted"))}
    assert scores["fitted"] < scores["default"]  # log-loss on the learner's own log
    mlquiz("review", "--card", "logistic_regression.sigmoid", db=db,
           now="2026-12-01T12:05:00Z", input="\n3\n")
    with open_schedule(db) as store:
        used = store.value("SELECT s.config FROM reviews r JOIN schedulers s "
                           "ON s.id = r.scheduler_id ORDER BY r.id DESC LIMIT 1")
        fitted = store.value("SELECT parameters FROM parameters")
    assert json.loads(used)["parameters"] == json.loads(fitted)
