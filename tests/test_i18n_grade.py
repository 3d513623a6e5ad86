"""A grade report, ``grade --all``, ``topics`` and ``doctor`` in Chinese (the real CLI in a
subprocess, MLQUIZ_LANG=zh): the verdict words and the table's columns stay aligned on a
terminal, where a Chinese character takes two columns; the labels of a failure's explanation
follow the language while ``--json`` stays English."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

from mlquiz.curriculum import data_dir, get_exercise
from mlquiz.grading.report import FunctionReport, failure_details

MLQUIZ = str(Path(sys.executable).with_name("mlquiz"))


def columns(text: str) -> int:
    """Terminal columns of ``text``, counted independently of mlquiz: East Asian wide and
    full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def mlquiz(*args, lang="zh", db):
    environment = {**os.environ, "MLQUIZ_LANG": lang, "MLQUIZ_DB": str(db),
                   "MLQUIZ_NOW": "2026-03-02T10:00:00Z", "COLUMNS": "100"}
    return subprocess.run([MLQUIZ, *map(str, args)], capture_output=True, text=True,
                          env=environment, timeout=300)


def folder_with(tmp_path, **sources) -> Path:
    folder = tmp_path / "exercises"
    folder.mkdir()
    for name, text in sources.items():
        (folder / f"{name}.py").write_text(text)
    return folder


def half_wrong_l2(tmp_path) -> Path:
    """l2 with the 1/2 dropped from the penalty: one function fails, three pass."""
    source = (data_dir("reference") / "l2_regularization.py").read_text()
    return folder_with(tmp_path, l2_regularization=source.replace("lam / 2", "lam"))


def test_chinese_verdicts_keep_the_function_names_in_one_column(tmp_path):
    folder = half_wrong_l2(tmp_path)
    result = mlquiz("grade", folder / "l2_regularization.py", "--seed", "7", db=tmp_path / "db")
    assert result.returncode == 1
    rows = {name: line for line in result.stdout.splitlines()
            for name in ("l2_penalty", "l2_grad", "weight_decay_step", "ridge_fit")
            if re.match(rf"  \S+\s+{name}\b", line)}
    assert len(rows) == 4, result.stdout
    assert rows["l2_penalty"].split()[0] == "未通过" and rows["l2_grad"].split()[0] == "通过"
    starts = {columns(line[:line.index(name)]) for name, line in rows.items()}
    assert len(starts) == 1, rows
    assert "文件 " in result.stdout and "种子 7" in result.stdout
    assert "重现本次运行：" in result.stdout and "--seed 7" in result.stdout


def test_the_chinese_explanation_labels_and_an_english_json(tmp_path):
    folder = half_wrong_l2(tmp_path)
    path = folder / "l2_regularization.py"
    text = mlquiz("grade", path, "--seed", "7", "--no-record", db=tmp_path / "db").stdout
    for label in ("最大绝对误差", "疑似典型错误：", "第一个未通过的用例：", "期望值：", "实际值："):
        assert label in text, text
    for english in ("max abs error", "first failing case", "looks like a classic mistake"):
        assert english not in text
    chinese = json.loads(mlquiz("grade", path, "--seed", "7", "--json", "--no-record",
                                db=tmp_path / "db").stdout)
    english = json.loads(mlquiz("grade", path, "--seed", "7", "--json", "--no-record", lang="en",
                                db=tmp_path / "db").stdout)
    explanation = chinese["functions"][0]["explanation"]
    assert "first failing case" in explanation and "期望值" not in explanation
    assert explanation == english["functions"][0]["explanation"]
    assert chinese["title"] == english["title"]


def test_a_translated_label_indents_its_continuation_lines_by_terminal_columns():
    from mlquiz import i18n

    failure = failure_details("value differs", case="a case", expected="[1.0,\n 2.0]",
                              got="[3.0,\n 4.0]", max_abs_error=2.0)
    report = FunctionReport("f", "fail", 1, 1, failure=failure)
    try:
        i18n.set_language("zh")
        lines = report.explain().splitlines()
    finally:
        i18n.set_language("en")
    for label, first, second in (("  期望值：", "[1.0,", " 2.0]"), ("  实际值：", "[3.0,", " 4.0]")):
        at = lines.index(label + first)
        assert lines[at + 1] == " " * columns(label) + second
    assert lines[0].startswith("value differs: ")  # the spec's words stay as written
    assert report.explanation.splitlines()[-2:] == ["  got: [3.0,", "        4.0]"]


def test_the_chinese_table_of_grade_all_keeps_its_columns(tmp_path):
    folder = half_wrong_l2(tmp_path)
    (folder / "bn_backward.py").write_text((data_dir("exercises") / "bn_backward.py").read_text())
    (folder / "notes.py").write_text("x = 1\n")
    result = mlquiz("grade", "--all", folder, "--seed", "3", db=tmp_path / "db")
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    header, rows, summary = lines[0], lines[1:4], lines[4]
    assert header.split() == ["主题", "通过", "时间", "文件"]
    file_column = columns(header[:header.index("文件")])
    time_column = columns(header[:header.index("时间")])
    for row, file in zip(rows, ("bn_backward.py", "l2_regularization.py", "notes.py")):
        assert columns(row[:row.index(str(folder))]) == file_column, lines
        assert file in row
    assert "待完成" in rows[0] and "3/4" in rows[1] and "已跳过" in rows[2]
    assert columns(rows[1][:rows[1].index("s  ") - 5]) == time_column, lines
    assert summary.startswith("2 个练习文件中 0 个通过，1 个未通过，1 个尚未开始（待完成）。"), summary
    assert "查看详情：mlquiz grade" in summary


def test_topics_and_doctor_speak_chinese(tmp_path):
    topics = mlquiz("topics", db=tmp_path / "db").stdout.splitlines()
    bn = get_exercise("bn_backward")
    row = next(line for line in topics if line.startswith("bn_backward "))
    assert row.endswith(f"张闪卡  {bn.title_zh}") and bn.title_en not in row
    doctor = mlquiz("doctor", db=tmp_path / "db")
    assert doctor.stdout.startswith("本机的沙箱（")
    marks = [line.split()[0] for line in doctor.stdout.splitlines() if line.startswith("  ")]
    assert marks and set(marks) <= {"是", "否"}
    assert "层防护" in doctor.stdout.splitlines()[-1]


def test_watch_speaks_chinese(tmp_path):
    from test_i18n import english_runs

    from mlquiz.cli.common import wrap

    source = (data_dir("reference") / "l2_regularization.py").read_text()
    folder = folder_with(tmp_path, l2_regularization=source)
    environment = {**os.environ, "MLQUIZ_LANG": "zh", "MLQUIZ_DB": str(tmp_path / "db"),
                   "MLQUIZ_NOW": "2026-03-02T10:00:00Z"}
    result = subprocess.run([MLQUIZ, "watch", str(folder), "--no-record"], input="h\nn\nq\n",
                            capture_output=True, text=True, env=environment, timeout=300)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "进度 " in out and "1/12 个练习通过" in out and "按键：h 提示" in out, out
    first = get_exercise("backprop")
    assert f"下一个：backprop - {first.title_zh}：" in out and first.title_en not in out
    assert "现在：bn_forward - " in out and out.rstrip().endswith("再见。")
    hint = wrap(first.hints[0]).splitlines()  # the curriculum's words, not the frame's
    frame = "\n".join(line for line in out.splitlines() if line not in hint)
    assert not english_runs(frame + result.stderr), out
