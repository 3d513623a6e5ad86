"""The schedule's commands in Chinese: relative times, hints (``hints_zh``), history's table,
attempts, start/reset/restore, undo, suspend/bury, config and their usage errors, and the
reasons a graded file is not a review; the database keeps English notes, shown translated.
Real CLI in subprocesses, a real SQLite file."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mlquiz import i18n
from mlquiz.cli.common import relative, wrap
from mlquiz.curriculum import Exercise, data_dir, exercises, get_exercise
from test_i18n import english_runs

MLQUIZ = str(Path(sys.executable).with_name("mlquiz"))
CLICK_USAGE = re.compile(r"^(Usage:|Try ')")  # click's own lines around an error ("Error: ")


def run(*args, db, lang="zh", now="2026-03-02T10:00:00Z"):
    env = {**os.environ, "MLQUIZ_DB": str(db), "MLQUIZ_NOW": now, "MLQUIZ_LANG": lang,
           "COLUMNS": "100"}
    result = subprocess.run([MLQUIZ, *map(str, args)], capture_output=True, text=True, env=env,
                            timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def chinese_only(result) -> str:
    """stdout and stderr, asserting that no English sentence is in them."""
    text = "\n".join(line.removeprefix("Error: ")
                     for line in (result.stdout + "\n" + result.stderr).splitlines()
                     if not CLICK_USAGE.match(line))
    assert not english_runs(text), (english_runs(text), text)
    return text


@pytest.fixture
def chinese():
    i18n.set_language("zh")
    yield
    i18n.set_language("en")


NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("offset, english, chinese_text", [
    (timedelta(seconds=30), "now", "现在"),
    (timedelta(seconds=-59), "now", "现在"),
    (timedelta(minutes=5), "in 5 min", "5 分钟后"),
    (timedelta(minutes=-42), "42 min ago", "42 分钟前"),
    (timedelta(hours=3), "in 3 h", "3 小时后"),
    (timedelta(hours=-30), "30 h ago", "30 小时前"),
    (timedelta(days=10), "in 10 days", "10 天后"),
    (timedelta(days=-2, hours=-12), "2 days ago", "2 天前"),
])
def test_relative_times_in_both_languages(offset, english, chinese_text):
    assert relative(NOW + offset, NOW) == english
    i18n.set_language("zh")
    try:
        assert relative(NOW + offset, NOW) == chinese_text
    finally:
        i18n.set_language("en")


def test_every_exercise_has_its_hints_in_chinese_one_for_one_with_the_formulas_kept():
    for exercise in exercises():
        assert len(exercise.hints_zh) == len(exercise.hints), exercise.id
        assert exercise.hints_zh != exercise.hints, exercise.id
        for hint in exercise.hints_zh[:-1]:  # the last may be formulas only
            assert re.search(r"[\u4e00-\u9fff]", hint), (exercise.id, hint)
        # The last hint is the formulas: every formula of the English is in the Chinese.
        english, chinese = exercise.hints[-1], exercise.hints_zh[-1]
        for token in english.split():
            token = token.rstrip(".;,:")
            if re.search(r"[=()^*/@_]", token):
                assert token in chinese, (exercise.id, token)


def test_hints_fall_back_to_english_where_no_chinese_is_given():
    bare = Exercise(id="x", title_en="X", title_zh="叉", file="x.py", functions=("f",),
                    hints=("first", "second"))
    assert bare.hints_in("zh") == bare.hints_in("en") == ("first", "second")
    given = Exercise(id="x", title_en="X", title_zh="叉", file="x.py", functions=("f",),
                     hints=("first",), hints_zh=("第一",))
    assert given.hints_in("zh") == ("第一",) and given.hints_in("en") == ("first",)


@pytest.mark.parametrize("exercise_id", ["l1", "svm_dual", "taylor"])
def test_hint_shows_the_learners_language(tmp_path, exercise_id):
    exercise = get_exercise(exercise_id)
    db = tmp_path / "s.db"
    first = run("hint", exercise_id, db=db)
    assert first.returncode == 0, first.stderr
    assert wrap(exercise.hints_zh[0]) in first.stdout and exercise.title_zh in first.stdout
    assert exercise.title_en not in first.stdout
    chinese_only(first)
    second = run("hint", exercise_id, db=db)
    assert wrap(exercise.hints_zh[1]) in second.stdout
    chinese_only(second)
    again = run("hint", exercise_id, "--again", db=db, lang="en")
    assert wrap(exercise.hints[0]) in again.stdout and wrap(exercise.hints[1]) in again.stdout
    assert not re.search(r"[\u4e00-\u9fff]", again.stdout.replace(exercise.title_zh, ""))


def columns(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def test_the_files_of_an_exercise_and_the_schedules_commands_speak_chinese(tmp_path):
    db = tmp_path / "s.db"
    work = tmp_path / "mine.py"
    started = run("start", "l2", "--file", work, db=db)
    assert started.returncode == 0 and "l2" in chinese_only(started)
    work.write_text((data_dir("reference") / "l2_regularization.py").read_text())
    assert run("grade", work, "--exercise", "l2", db=db).returncode == 0
    again = run("grade", work, "--exercise", "l2", db=db)  # the same file: not a review
    assert "与第 1 次提交相同" in again.stderr
    work.write_text(work.read_text() + "\n# my notes\n")
    restored = run("restore", "l2", "--attempt", "1", "--file", work, db=db)
    assert restored.returncode == 0
    assert "已将你的文件保存为第 2 次提交" in chinese_only(restored)
    stored = sqlite3.connect(db).execute(
        "SELECT note FROM submissions WHERE exercise = 'l2' AND attempt = 2").fetchone()[0]
    assert stored == "saved before restoring attempt 1"  # the database keeps English
    listed = run("attempts", "l2", db=db)
    assert "恢复第 1 次提交前保存" in chinese_only(listed) and "通过" in listed.stdout
    reset = run("reset", "l2", "--file", work, db=db)
    assert reset.returncode == 0 and "已将全新的空白模板写入" in chinese_only(reset)
    settings = run("config", "get", db=db)  # `key = value` is code; its meaning is Chinese
    meanings = re.findall(r"（默认 .*?：(.*)）$", settings.stdout, re.M)
    assert len(meanings) == len(settings.stdout.splitlines()) == 5
    assert not english_runs("\n".join(meanings))
    for args in (("undo",), ("suspend", "l2"), ("unsuspend", "l2"), ("bury", "l2"),
                 ("config", "unset", "retention"), ("next",), ("stats",)):
        result = run(*args, db=db)
        assert result.returncode == 0, (args, result.stderr)
        chinese_only(result)
    for args in (("config", "set", "retention", "2"), ("config", "set", "new_per_day", "-3"),
                 ("config", "set", "day_starts_at", "4:30"), ("config", "set", "colour", "1"),
                 ("config", "set", "timezone", "Atlantis/Capital"), ("hint", "nope"),
                 ("attempts", "nope"), ("restore", "l2", "--attempt", "9"),
                 ("suspend", "card:nothing.here"), ("undo",), ("undo",)):
        result = run(*args, db=db)
        assert result.returncode in (1, 2), (args, result.stdout)
        chinese_only(result)
    too_late = run("bury", "l2", db=db, now="9999-12-31T10:00:00Z")
    assert too_late.returncode == 1 and "9999 年" in chinese_only(too_late)


def test_history_is_a_table_in_chinese_with_its_columns_aligned(tmp_path):
    db = tmp_path / "s.db"
    answers = "x W + b\n3\nx + W\n\n1\n"
    review = subprocess.run([MLQUIZ, "review", "--new", "--topic", "backprop", "--limit", "2"],
                            input=answers, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "MLQUIZ_DB": str(db), "MLQUIZ_NOW":
                                 "2026-03-02T10:00:00Z", "MLQUIZ_LANG": "en"})
    assert review.returncode == 0, review.stderr
    english = run("history", db=db, lang="en").stdout.splitlines()
    chinese = run("history", db=db).stdout.splitlines()
    assert english[0].split() == ["time", "item", "rating", "source", "took", "state", "next",
                                  "due"]
    assert {"重来", "良好"} <= set(" ".join(chinese[1:]).split()) and "学习中" in chinese[1]
    assert chinese_only(run("history", db=db))
    # Every column starts where its header does, counted in terminal columns.
    header = chinese[0]
    starts = [columns(header[:m.start()]) for m in re.finditer(r"(?<=  )\S", header)]
    for row in chinese[1:]:
        row_starts = [columns(row[:m.start()]) for m in re.finditer(r"(?<=  )\S", row)]
        assert starts[-1] in row_starts and starts[2] in row_starts, (header, row)
    assert len(english) == len(chinese) == 3


def test_the_reasons_a_file_is_not_a_review_in_chinese(tmp_path, chinese):
    from mlquiz.schedule.attempts import not_a_review
    from mlquiz.schedule.items import open_schedule

    stub = (data_dir("exercises") / "l1_regularization.py").read_text()
    with open_schedule(tmp_path / "s.db") as store:
        assert not_a_review(store, "l1", stub) == "文件中还没有实现任何函数"
        assert not_a_review(store, "l1", "") == "文件是空的"
        assert "第 2 行" in not_a_review(store, "l1", "x = 1\ndef (:\n")
        assert "l2 的函数" in not_a_review(store, "l1", "def l2_penalty(w, lam):\n    return 0\n")
        i18n.set_language("en")
        assert not_a_review(store, "l1", stub) == "nothing in the file is implemented yet"
