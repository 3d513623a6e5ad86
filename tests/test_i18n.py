"""The learner's language: with ``--lang zh`` or ``MLQUIZ_LANG=zh`` every line of ``next``,
``hint``, ``stats``, ``review``, ``cards``, ``card`` and the frame of a grade report is Chinese
(run through the real CLI, in a subprocess); the catalogue is complete; an unknown language is
a usage error everywhere."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlquiz.curriculum import data_dir

MLQUIZ = str(Path(sys.executable).with_name("mlquiz"))
TOOL = Path(__file__).resolve().parents[1] / "tools" / "messages.py"
NOW = "2026-03-02T10:00:00Z"

# Words a Chinese sentence may keep in Latin letters: names of things, not English prose.
PROPER = {"mlquiz", "numpy", "sympy", "latex", "fsrs", "anki", "svm", "gbdt", "adaboost",
          "xgboost", "bn", "logistic", "relu", "sigmoid", "smo", "kkt", "rbf", "utc", "json",
          "id", "ids", "ok", "taylor", "newton", "lasso", "ridge", "ista", "map", "newton",
          "softmax", "tanh", "exp", "log", "sign", "sgn", "max", "min", "sum", "mean", "var",
          "std", "diag", "eye", "norm", "where", "axis", "keepdims", "true", "false", "none",
          "ln", "sqrt", "abs", "dot", "outer", "argmin", "argmax", "lr", "if", "otherwise",
          "and", "or", "in", "for", "of", "is", "at", "to", "s", "ms", "min", "h", "d"}


def english_runs(text: str) -> list[str]:
    """Runs of two or more English words in ``text``, outside what is code or a name: text in
    backticks or quotes, commands (``mlquiz ...``), paths, identifiers (``bn_backward``,
    ``card.id``), formulas and the allowed names above."""
    found = []
    for line in text.splitlines():
        line = re.sub(r"`[^`]*`|'[^']*'|\"[^\"]*\"", " ", line)
        line = re.sub(r"mlquiz(\s+[-\w./=:~]+)*", " ", line)
        line = re.sub(r"\S*[/_.\\=@\d(){}\[\]^*+]\S*", " ", line)  # paths, identifiers, formulas
        for run in re.findall(r"[A-Za-z]{2,}(?:[ ,:;-]+[A-Za-z]{2,})+", line):
            words = [w for w in re.findall(r"[A-Za-z]+", run) if w.lower() not in PROPER]
            if len(words) >= 2:
                found.append(run)
    return found


def test_the_detector_finds_english_and_spares_names_and_code():
    assert english_runs("Practise now: flashcard")
    assert english_runs("  1 again, 2 hard, 3 good")
    assert not english_runs("现在练习：`mlquiz grade exercises/bn_backward.py`")
    assert not english_runs("答案：numpy: sum(dout * x_hat, axis=0)  LaTeX: \\frac{1}{2}")
    assert not english_runs("logistic 函数 · SVM 原始形式 · mlquiz review --topic bn_backward")


def mlquiz(*args, db, env=None, stdin=None):
    environment = {**os.environ, "MLQUIZ_DB": str(db), "MLQUIZ_NOW": NOW, "MLQUIZ_LANG": "zh",
                   "COLUMNS": "100", **(env or {})}
    return subprocess.run([MLQUIZ, *map(str, args)], capture_output=True, text=True,
                          input=stdin, env=environment, timeout=300)


def assert_chinese(result, skip=()):
    """No English sentence on stdout or stderr, and no traceback. ``skip``: regular expressions
    of lines left out of the check (a grade's diagnostics, written by each exercise's spec)."""
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in (result.stdout + "\n" + result.stderr).splitlines()
             if not any(re.search(pattern, line) for pattern in skip)]
    english = english_runs("\n".join(lines))
    assert not english, f"English in Chinese output: {english}\n{result.stdout}\n{result.stderr}"


@pytest.fixture
def workspace(tmp_path):
    folder = tmp_path / "exercises"
    folder.mkdir()
    return tmp_path, folder, tmp_path / "mlquiz.db"


def wrong_l2(folder: Path) -> Path:
    source = (data_dir("reference") / "l2_regularization.py").read_text()
    path = folder / "l2_regularization.py"
    path.write_text(source.replace("lam / 2", "lam"))
    return path


def test_next_hint_and_stats_speak_chinese(workspace):
    tmp_path, folder, db = workspace
    for args in (("next",), ("hint", "bn_backward"), ("hint", "bn_backward", "--again"),
                 ("stats",), ("next", "--json")):
        result = mlquiz(*args, db=db)
        assert result.returncode == 0, result.stderr
        assert_chinese(result)
    grade = mlquiz("grade", wrong_l2(folder), "--exercise", "l2", db=db)
    assert grade.returncode == 1
    later = mlquiz("next", db=db, env={"MLQUIZ_NOW": "2026-03-09T10:00:00Z"})
    assert later.returncode == 0 and "l2" in later.stdout
    assert_chinese(later)
    assert_chinese(mlquiz("stats", db=db, env={"MLQUIZ_NOW": "2026-03-09T10:00:00Z"}))


def test_a_review_speaks_chinese(workspace):
    _, _, db = workspace
    answers = "x W + b\n3\nx + W\n\n1\n)(\n\n2\n"  # right, wrong, refused: every kind of verdict
    result = mlquiz("review", "--new", "--topic", "backprop", "--limit", "3", db=db, stdin=answers)
    assert result.returncode == 0, result.stderr
    assert_chinese(result)


def test_cards_and_a_card_speak_chinese(workspace):
    _, _, db = workspace
    for args in (("cards", "--topic", "backprop"), ("card", "backprop.dense_forward"),
                 ("card", "logistic_regression.sigmoid")):
        result = mlquiz(*args, db=db)
        assert result.returncode == 0, result.stderr
        assert_chinese(result)


def test_the_frame_of_a_grade_report_speaks_chinese(workspace):
    _, folder, db = workspace
    diagnostics = [r"^ {8}"]  # a failure's explanation: the spec's own words
    failed = mlquiz("grade", wrong_l2(folder), "--exercise", "l2", db=db)
    assert failed.returncode == 1
    assert_chinese(failed, skip=diagnostics)
    stub = folder / "bn_backward.py"
    stub.write_text((data_dir("exercises") / "bn_backward.py").read_text())
    todo = mlquiz("grade", stub, db=db)
    assert todo.returncode == 1
    assert_chinese(todo, skip=diagnostics)


@pytest.mark.parametrize("value", ["zh", "zh_CN", "zh_CN.UTF-8", "zh-CN"])
def test_chinese_by_any_locale_name(workspace, value):
    _, _, db = workspace
    result = mlquiz("next", db=db, env={"MLQUIZ_LANG": value})
    assert result.returncode == 0 and not english_runs(result.stdout), result.stdout


@pytest.mark.parametrize("args", [("next",), ("review",), ("stats",), ("hint", "l2"),
                                  ("cards",), ("grade", "--all"), ("history",), ("topics",)])
def test_an_unknown_language_is_a_usage_error_everywhere(workspace, args):
    _, _, db = workspace
    by_env = mlquiz(*args, db=db, env={"MLQUIZ_LANG": "fr"})
    assert by_env.returncode == 2 and "unknown language" in by_env.stderr, by_env.stderr
    assert "Traceback" not in by_env.stderr


def test_next_takes_lang_and_english_stays_the_default(workspace):
    _, _, db = workspace
    chinese = mlquiz("next", "--lang", "zh", db=db, env={"MLQUIZ_LANG": ""})
    english = mlquiz("next", db=db, env={"MLQUIZ_LANG": ""})
    assert chinese.returncode == english.returncode == 0
    assert not english_runs(chinese.stdout) and english_runs(english.stdout)


def load_tool():
    spec = importlib.util.spec_from_file_location("messages", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not TOOL.is_file(), reason="tools/ is not beside the tests")
def test_every_message_is_translated_and_the_catalogue_is_compiled():
    problems = load_tool().problems()
    assert not problems, "\n".join(problems)


@pytest.mark.skipif(not TOOL.is_file(), reason="tools/ is not beside the tests")
def test_the_check_finds_an_untranslated_message(tmp_path):
    tool = load_tool()
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text('from mlquiz.i18n import _\nprint(_("A new sentence"))\n')
    po, mo = tmp_path / "m.po", tmp_path / "m.mo"
    po.write_text(tool.write_po(tool.extract(package), {}))
    mo.write_bytes(tool.compile_mo(tool.parse_po(po.read_text())))
    assert any("untranslated" in p for p in tool.problems(package, po, mo))
    po.write_text(po.read_text().replace('msgid "A new sentence"\nmsgstr ""',
                                         'msgid "A new sentence"\nmsgstr "一个新句子"'))
    assert any("stale" in p for p in tool.problems(package, po, mo))
    mo.write_bytes(tool.compile_mo(tool.parse_po(po.read_text())))
    assert tool.problems(package, po, mo) == []
