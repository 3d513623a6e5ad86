"""The practice loop through the real command line: live verdicts on a terminal, `solution`
after a pass, `grade --all`'s summary, `stats` charts, `init`'s default workspace; and the
on_function hook of grade_file."""

import json
import os
import pty
import re
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import mutant, reference_source
from mlquiz import clock
from mlquiz.curriculum import data_dir, exercises, get_exercise
from mlquiz.grading.engine import grade_file
from mlquiz.grading.watch import progress

MLQUIZ = str(Path(sys.executable).with_name("mlquiz"))


def run(*args, cwd=None, env=None):
    return subprocess.run([MLQUIZ, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env=env)


def run_on_terminal(*args, columns=200):
    """Run mlquiz with its stdout on a pseudo-terminal ``columns`` wide; returns (exit code,
    what it showed)."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen([MLQUIZ, *map(str, args)], stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the terminal closed: the process ended
            break
        if not chunk:
            break
        shown += chunk
    process.stderr.close()
    os.close(master)
    return process.wait(timeout=300), shown.decode("utf-8", errors="replace")


# --- each function's verdict as it is ready -------------------------------------------------

def test_on_function_is_called_once_per_function_in_order(tmp_path):
    exercise = get_exercise("l2")
    wrong = mutant(tmp_path, exercise, "return lam * np.asarray(w, dtype=float)",
                   "return 2 * lam * np.asarray(w, dtype=float)")
    seen = []
    report = grade_file(wrong, on_function=seen.append)
    assert [f.name for f in seen] == list(exercise.functions)
    assert seen == report.functions and "fail" in [f.verdict for f in seen]
    broken = tmp_path / "l1_regularization.py"
    broken.write_text("def soft_threshold(:\n")
    seen.clear()
    report = grade_file(broken, on_function=seen.append)
    assert seen == report.functions and len(seen) == len(get_exercise("l1").functions)


def test_a_terminal_sees_each_verdict_while_grading_and_a_pipe_sees_nothing_extra(tmp_path):
    path = tmp_path / "l2_regularization.py"
    path.write_text(reference_source("l2"))
    code, shown = run_on_terminal("grade", path, "--no-record")
    assert code == 0
    status = shown.split("\r\x1b[K")
    assert status[1].startswith("grading l2_regularization.py: ...")
    names = list(get_exercise("l2").functions)
    for i, name in enumerate(names):  # one more verdict on the status line each time
        assert status[2 + i].count("PASS") == i + 1 and name in status[2 + i]
    code, shown = run_on_terminal("grade", path, "--no-record", columns=50)
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in shown.split("\r\x1b[K")[1:-1]]
    assert lines and all(len(line) < 50 for line in lines)  # a narrow terminal: one line still
    assert lines[-1].startswith("grading l2_regularization.py: … ") and names[-1] in lines[-1]
    piped = run("grade", path, "--no-record")
    assert "grading" not in piped.stdout and "\x1b" not in piped.stdout
    code, shown = run_on_terminal("grade", path, "--no-record", "--json")
    assert "grading" not in shown and json.loads(shown)["passed"]


# --- solution -------------------------------------------------------------------------------

def test_solution_is_refused_before_a_pass_and_shown_after(tmp_path):
    exercise = get_exercise("l2")
    refused = run("solution", "l2")
    assert refused.returncode == 1 and "once your own file passes (not graded yet)" in refused.stderr
    wrong = mutant(tmp_path, exercise, "return lam * np.asarray(w, dtype=float)",
                   "return 2 * lam * np.asarray(w, dtype=float)")
    assert run("grade", wrong).returncode == 1
    refused = run("solution", "l2")
    assert refused.returncode == 1 and "1 graded attempt, none passed yet" in refused.stderr
    assert "def l2_penalty" not in refused.stdout + refused.stderr
    assert run("grade", wrong, "--no-record").returncode == 1  # not recorded: still refused
    mine = mutant(tmp_path, exercise, "w = np.asarray(w, dtype=float)\n    return float",
                  "weights = np.asarray(w, dtype=float)\n    return float(lam / 2 * np.sum(weights**2))\n    return float")
    assert run("grade", mine).returncode == 0
    shown = run("solution", "l2")
    assert shown.returncode == 0
    assert "--- your attempt 2" in shown.stdout and "+++ reference/l2_regularization.py" in shown.stdout
    assert "-    weights = np.asarray(w, dtype=float)" in shown.stdout
    assert "+    w = np.asarray(w, dtype=float)" in shown.stdout
    side = run("solution", "l2", "--show", "side").stdout
    assert any(line.startswith("    weights = np.asarray") and " | " in line for line in side.splitlines())
    whole = run("solution", "l2", "--show", "reference").stdout
    assert exercise.reference_path.read_text().strip() in whole


def test_solution_of_an_unknown_exercise_is_a_usage_error():
    result = run("solution", "nonsense")
    assert result.returncode == 2 and "unknown exercise" in result.stderr


# --- grade --all ----------------------------------------------------------------------------

def test_grade_all_shows_todo_for_stubs_lists_skipped_files_and_one_recorded_line(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    for ex in exercises():
        (folder / ex.file).write_text((data_dir("exercises") / ex.file).read_text())
    (folder / "l2_regularization.py").write_text(reference_source("l2"))
    mutant(folder, get_exercise("bn_backward"), "return dx,", "return -dx,")
    (folder / "notes.txt").write_text("my notes")
    (folder / "scratch.py").write_text("x = 1")
    (folder / ".hidden.py").write_text("x = 1")
    (folder / "taylor.ipynb").write_text("{not a notebook")
    result = run("grade", "--all", folder)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    rows = {line.split()[0]: line.split()[1] for line in result.stdout.splitlines() if line.strip()}
    assert rows["backprop"] == "TODO" and rows["taylor"] == "TODO"
    assert rows["l2"] == "4/4" and rows["bn_backward"] == "0/1"
    skipped = [line for line in result.stdout.splitlines() if line.startswith("skipped")]
    assert len(skipped) == 3 and "notes.txt (not an exercise file)" in skipped[0]
    assert "scratch.py (not an exercise file)" in skipped[1]
    assert "taylor.ipynb (" in skipped[2] and "is not a notebook that can be read" in skipped[2]
    assert "1 of 12 exercise files pass, 1 fail, 10 not started (TODO)" in result.stdout
    recorded = [line for line in result.stderr.splitlines() if line]
    assert recorded == ["recorded: 2 reviews (1 Again, 1 Good); 10 not recorded (nothing in "
                        "the file is implemented yet)"]
    with sqlite3.connect(os.environ["MLQUIZ_DB"]) as conn:
        assert conn.execute("SELECT count(*) FROM reviews").fetchone()[0] == 2
    data = json.loads(run("grade", "--all", folder, "--json", "--no-record").stdout)
    code, shown = run_on_terminal("grade", "--all", folder, "--no-record")
    status = [line for line in shown.split("\r\x1b[K") if line.startswith(f"grading {folder}/: ")]
    assert any("PASS" in line for line in status) and any("TODO" in line for line in status)
    assert "passed  time" in shown and "grading" not in result.stdout
    assert len(data["untouched"]) == 10
    assert [Path(s["file"]).name for s in data["skipped"]] == ["notes.txt", "scratch.py", "taylor.ipynb"]


# --- stats ----------------------------------------------------------------------------------

def test_stats_charts_and_json_follow_the_review_log(tmp_path):
    """Reviews written through the schedule on chosen days; the JSON is checked against
    counts made here from the same log, and the charts against the JSON."""
    from mlquiz.schedule.items import open_schedule
    from mlquiz.schedule.review import record_review

    now = clock.parse_time("2026-03-30T12:00:00Z")
    env = {**os.environ, "MLQUIZ_NOW": clock.format_time(now)}
    # (days ago, card, rating): six cards learned 25 days ago (two Goods ten minutes apart),
    # then reviewed again, some forgotten (rating 1).
    plan = [(25, c, 3) for c in range(6)] + [(25, c, 3) for c in range(6)] + \
        [(20, 0, 3), (20, 1, 1), (20, 2, 3), (10, 3, 1), (1, 4, 3), (1, 5, 3)]
    with open_schedule(None) as store:
        cards = [r["id"] for r in store.rows("SELECT id FROM items WHERE kind = 'card' LIMIT 6")]
        for i, (days_ago, card, rating) in enumerate(plan):
            record_review(store, cards[card], rating, "flashcard", 5,
                          now - timedelta(days=days_ago) + timedelta(minutes=i))
        log = store.rows("SELECT item_id, rating, reviewed_at, state_before, due FROM reviews")
        dues = [r["due"] for r in store.rows("SELECT due FROM items WHERE due IS NOT NULL")]
    data = json.loads(run("stats", "--json", env=env).stdout)
    per_day = {d["date"]: d["count"] for d in data["reviews_per_day"]}
    for days_ago in {p[0] for p in plan}:
        day = (now - timedelta(days=days_ago)).date().isoformat()
        assert per_day[day] == sum(p[0] == days_ago for p in plan)
    assert sum(per_day.values()) == len(plan)
    learned = [r for r in log if r["state_before"] == 2]
    assert len(learned) >= 4 and any(r["rating"] == 1 for r in learned)
    rates = {d["date"]: d for d in data["retention_per_day"]}
    for row in learned:
        day = rates[row["reviewed_at"][:10]]
        same_day = [r for r in learned if r["reviewed_at"][:10] == row["reviewed_at"][:10]]
        assert day["reviews"] == len(same_day)
        assert day["rate"] == sum(r["rating"] > 1 for r in same_day) / len(same_day)
    assert len(data["forecast"]) == 30 and data["forecast"][0]["date"] == "2026-03-30"
    expected = {}
    for due in dues:
        day = max(due[:10], "2026-03-30")
        if day < "2026-04-29":
            expected[day] = expected.get(day, 0) + 1
    assert {d["date"]: d["due"] for d in data["forecast"] if d["due"]} == expected

    text = run("stats", env=env).stdout
    reviews_chart = _chart_after(text, "Reviews a day, last 30 days")
    forecast_chart = _chart_after(text, "Due a day, next 30 days")
    for chart, values in ((reviews_chart, [d["count"] for d in data["reviews_per_day"]]),
                          (forecast_chart, [d["due"] for d in data["forecast"]])):
        assert chart[0].split("│")[0].strip() == str(max(values))
        bottom = chart[-1].split("│")[1].ljust(30)
        assert [c != " " for c in bottom] == [v > 0 for v in values]  # a bar on every day with some
        tallest = max(range(30), key=lambda i: values[i])
        assert chart[0].split("│")[1].ljust(30)[tallest] == "█"


def test_stats_without_reviews_draws_empty_charts():
    text = run("stats").stdout
    assert "Reviews a day, last 30 days (0 in all" in text
    assert "Retention: no reviews of learned items" in text
    chart = _chart_after(text, "Reviews a day, last 30 days")
    assert all(set(line.split("│")[1]) <= {" "} for line in chart)


def _chart_after(text, title):
    """The rows (top to bottom) of the chart printed under the line starting with ``title``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title)) + 1
    rows = []
    for line in lines[start:]:
        if "└" in line:
            return rows
        rows.append(line)
    raise AssertionError(f"no chart under {title!r}")


# --- init and progress ------------------------------------------------------------------------

def test_init_without_a_folder_creates_the_workspace_in_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    result = run("init", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    workspace = home / "mlquiz" / "exercises"
    assert sorted(p.name for p in workspace.iterdir()) == sorted(ex.file for ex in exercises())
    assert str(workspace) in result.stdout and f"cd {workspace.parent}" in result.stdout
    assert not (tmp_path / "exercises").exists()


def test_init_into_mlquiz_own_stubs_warns():
    result = run("init", data_dir("exercises"))
    assert result.returncode == 0 and "holds mlquiz's own stubs" in result.stderr


@pytest.mark.parametrize("passing, current, expected_next", [
    ({}, None, "backprop"),
    ({"backprop": "all"}, None, "bn_forward"),
    ({"backprop": "all", "bn_forward": "some"}, "l2", "l2"),
    ({"backprop": "all", "bn_forward": "some"}, "backprop", "bn_forward"),
])
def test_progress_counts_exercises_and_functions(passing, current, expected_next):
    verdicts = {}
    for exercise_id, how in passing.items():
        names = get_exercise(exercise_id).functions
        verdicts[exercise_id] = {n: "pass" if how == "all" or i == 0 else "fail"
                                 for i, n in enumerate(names)}
    p = progress(verdicts, current)
    assert p.exercises_total == 12
    assert p.exercises_passing == sum(how == "all" for how in passing.values())
    assert p.functions_passing == sum(list(v.values()).count("pass") for v in verdicts.values())
    assert p.functions_total == sum(len(ex.functions) for ex in exercises())
    assert p.next.id == expected_next
