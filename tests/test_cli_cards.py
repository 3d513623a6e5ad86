"""The flashcard commands: review (piped, interrupted, real process), cards, card, export anki."""

import json
import os
import sqlite3
import subprocess
import sys
import zipfile

import click
import pytest
from click.testing import CliRunner

from mlquiz.cli import cards as cli_cards
from mlquiz.cards.deck import load_deck
from mlquiz.cli import main
from mlquiz.curriculum import exercises
from mlquiz.schedule.config import set_config
from mlquiz.schedule.items import open_schedule
from mlquiz.schedule.stats import history

NOW = "2026-03-02T08:00:00Z"


@pytest.fixture
def run(monkeypatch):
    monkeypatch.setenv("MLQUIZ_NOW", NOW)
    monkeypatch.delenv("MLQUIZ_LANG", raising=False)
    runner = CliRunner()

    def invoke(*args, input=None, env=None):
        result = runner.invoke(main, list(args), input=input, env=env, catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return invoke


def reviews():
    with open_schedule() as store:
        return history(store)


# --- review ---------------------------------------------------------------------------------

def test_review_checks_answers_and_records_each_rating(run):
    answers = "x @ W + b\n\n" + "dz @ W\n\n" + "\n4\n"
    result = run("review", "--limit", "3", input=answers)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "[1] backprop.dense_forward" in out
    assert "✓ Correct" in out and "[random arrays]" in out
    assert "✗ Not equivalent" in out
    assert "numpy: x.T @ dz" in out  # the third card's answer, revealed
    assert "Reviewed 3 cards (1 again, 1 good, 1 easy)." in out
    log = reviews()
    assert [r["item"] for r in log] == ["card:backprop.dense_forward", "card:backprop.dense_dx",
                                        "card:backprop.dense_dw"]
    assert [r["rating"] for r in log] == [3, 1, 4]
    assert {r["source"] for r in log} == {"flashcard"}
    assert all(r["duration_seconds"] is not None for r in log)


def test_a_refused_answer_can_be_retyped(run, tmp_path):
    marker = tmp_path / "marker"
    answers = f"__import__('os').system('touch {marker}')\nx @ W + b\n\n"
    result = run("review", "--limit", "1", input=answers)
    assert "refused" in result.output and "Try again" in result.output
    assert "✓ Correct" in result.output
    assert not marker.exists()
    assert [r["rating"] for r in reviews()] == [3]


def test_the_rating_prompt_insists_after_a_reveal(run):
    result = run("review", "--limit", "1", input="\n\nmaybe\ngood\n")
    assert result.output.count("Type 1-4") == 2
    assert [r["rating"] for r in reviews()] == [3]


def test_end_of_input_ends_the_session_keeping_the_ratings(run):
    result = run("review", input="x @ W + b\n\n" + "dz @ W.T\n")  # no rating for the second card
    assert result.exit_code == 0
    assert "Session ended; every rating given so far is saved." in result.output
    assert "Reviewed 1 card (1 good)." in result.output
    assert [r["item"] for r in reviews()] == ["card:backprop.dense_forward"]


def test_ctrl_c_ends_the_session_keeping_the_ratings(run, monkeypatch):
    lines = iter(["", "3", "", "2", ""])

    def fake_read(prompt):
        click.echo(prompt, nl=False)
        try:
            return next(lines)
        except StopIteration:
            raise KeyboardInterrupt from None

    monkeypatch.setattr(cli_cards, "_read_line", fake_read)
    result = run("review")
    assert result.exit_code == 0
    assert "Session ended" in result.output and "Traceback" not in result.output
    assert [r["rating"] for r in reviews()] == [3, 2]


def test_nothing_due(run):
    with open_schedule() as store:
        set_config(store, "new_per_day", 0)
    result = run("review")
    assert result.exit_code == 0
    assert "No flashcards are due now." in result.output


def test_review_says_which_exercise_is_due_and_how_to_grade_it(run):
    with open_schedule() as store:
        set_config(store, "new_per_day", 1000)
    result = run("review", "--limit", "1", input="\n3\n")
    assert "Exercise due: backprop" in result.output
    assert "mlquiz grade " in result.output and "backprop.py" in result.output


def test_review_of_one_topic(run):
    result = run("review", "--topic", "backprop", "--limit", "1", input="\n1\n")
    assert "backprop." in result.output
    result = run("review", "--topic", "no_such_topic")
    assert result.exit_code == 2 and "unknown topic" in result.output


def test_questions_in_chinese(run):
    result = run("review", "--lang", "zh", "--limit", "1", input="\n3\n")
    assert "全连接层" in result.output
    result = run("review", "--limit", "1", input="\n3\n", env={"MLQUIZ_LANG": "zh"})
    assert "全连接层" in result.output
    result = run("review", "--lang", "fr")
    assert result.exit_code == 2


def test_a_review_in_chinese_takes_chinese_ratings_and_explains_its_verdicts(run):
    answers = ("x + W\n困难\n"            # wrong: shapes that do not broadcast; rated by word
               "dz @ W\n简单\n"             # wrong: the sizes of @ do not fit
               "dz.T @ x\n\n"               # wrong shape; the proposal (重来) taken with Enter
               "z + 1\nsum(dz, axis=0)\n\n")  # refused (an unknown name), retyped: correct
    result = run("review", "--lang", "zh", "--limit", "4", input=answers)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "✗ 不等价" in out and "形状无法相互广播：(" in out and "[随机数组检验]" in out
    assert "形状不满足 @ 的要求（维度 " in out and "你的答案形状为 (" in out
    assert "? 未知的名称 'z'（第 1 个字符处）" in out and "再试一次" in out
    assert "✓ 正确" in out
    assert "评分（1 重来（" in out and "已保存：困难；下次复习" in out
    assert "已复习 4 张闪卡（1 重来，1 困难，1 良好，1 简单）。" in out
    assert [r["rating"] for r in reviews()] == [2, 4, 1, 3]


def test_a_bad_rating_in_chinese_is_asked_again_in_chinese(run):
    result = run("review", "--lang", "zh", "--limit", "2", input="\n好\n4\n\n３\n")
    assert result.output.count("请输入 1-4 或 重来/困难/良好/简单。") == 1
    assert [r["rating"] for r in reviews()] == [4, 3]  # a full-width ３ is a 3


def test_cards_and_card_in_chinese_name_states_and_topics_in_chinese(run):
    run("review", "--limit", "1", input="\n3\n")
    listing = run("cards", "--topic", "backprop", "--lang", "zh").output
    assert "backprop — 反向传播" in listing and "Backpropagation" not in listing
    assert "[学习中，2026-03-02 08:10 UTC 到期]" in listing and "[新]" in listing
    assert "共 17 张闪卡。" in listing
    shown = run("card", "backprop.dense_forward", "--lang", "zh").output
    assert "答案：" in shown and "数组：x (N, D_in)" in shown and "复习计划：学习中，" in shown
    assert "Schedule" not in shown and "Answer" not in shown


def test_check_in_chinese_keeps_its_json_interface_in_english(tmp_path):
    lines = ['{"card": "logistic_regression.sigmoid", "answer": "1/(1+exp(-z))"}',
             '{"card": "logistic_regression.sigmoid", "answer": "exp(z)"}',
             '{"card": "logistic_regression.sigmoid", "answer": "q + 1"}',
             '{"card": "no.such_card", "answer": "1"}', "[1, 2"]
    env = {**os.environ, "MLQUIZ_DB": str(tmp_path / "real.db"), "MLQUIZ_LANG": "zh"}
    result = subprocess.run([sys.executable, "-m", "mlquiz", "check"],
                            input="\n".join(lines) + "\n", capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [set(o) for o in out] == [{"card", "answer", "status", "method", "message", "seconds"}] * 5
    assert [o["status"] for o in out] == ["correct", "wrong", "invalid", "invalid", "invalid"]
    assert out[0]["method"] in ("proof", "random points") and out[1]["method"] == "random points"
    assert out[0]["message"].startswith("正确：") and out[1]["message"].startswith("不等价：在 z = ")
    assert out[2]["message"].startswith("未知的名称 'q'（第 1 个字符处）")
    assert out[3]["message"] == "未知的闪卡 'no.such_card'"
    assert out[4]["message"].startswith("不是一行 JSON")


def test_review_in_a_real_process_with_piped_answers(tmp_path):
    env = {**os.environ, "MLQUIZ_DB": str(tmp_path / "real.db"), "MLQUIZ_NOW": NOW}
    env.pop("MLQUIZ_LANG", None)
    done = subprocess.run(
        [sys.executable, "-m", "mlquiz", "review", "--limit", "2"],
        input="x @ W + b\n\ndz @ W.T\n4\n", capture_output=True, text=True, env=env, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Reviewed 2 cards (1 good, 1 easy)." in done.stdout
    assert done.stderr == ""
    with open_schedule(tmp_path / "real.db") as store:
        assert [r["rating"] for r in history(store)] == [3, 4]


# --- cards and card -------------------------------------------------------------------------

def test_cards_lists_every_card_with_its_state(run):
    result = run("cards")
    assert result.exit_code == 0
    deck = load_deck()
    assert f"{len(deck)} cards." in result.output
    assert "bn_backward.dgamma  [new]" in result.output
    run("review", "--limit", "1", input="\n3\n")
    data = json.loads(run("cards", "--json").output)
    assert [d["id"] for d in data] == [c.id for c in deck]
    first = data[0]
    assert first["state"] == "learning" and first["due"] and first["reviews"] == 1
    assert data[1]["state"] == "new"
    assert {"topic", "kind", "question", "question_en", "question_zh", "answer_latex"} <= set(first)


def test_cards_of_one_topic_in_chinese(run):
    data = json.loads(run("cards", "--topic", "svm_dual", "--json", "--lang", "zh").output)
    assert data and {d["topic"] for d in data} == {"svm_dual"}
    assert all(d["question"] == d["question_zh"] for d in data)
    result = run("cards", "--topic", "bn_backward", env={"MLQUIZ_LANG": "zh"})
    assert "批归一化" in result.output and "svm_dual" not in result.output


def test_card_shows_the_answer(run):
    result = run("card", "logistic_regression.sigmoid")
    assert result.exit_code == 0
    assert "g(z) = 1/(1 + e⁻ᶻ)" in result.output  # the card's own formula, as text
    assert r"LaTeX: \frac{1}{1 + e^{-z}}" in result.output
    assert "Schedule: new." in result.output
    result = run("card", "card:bn_backward.dgamma", "--lang", "zh")
    assert "numpy: sum(dout * x_hat, axis=0)" in result.output and "批归一化" in result.output


def test_unknown_card_suggests_close_ids(run):
    result = run("card", "bn_backward.dgama")
    assert result.exit_code == 2
    assert "unknown card" in result.output and "bn_backward.dgamma" in result.output


def test_a_broken_database_is_a_clear_error(run, tmp_path):
    bad = tmp_path / "not-a-db.txt"
    bad.write_text("hello")
    result = run("cards", "--db", str(bad))
    assert result.exit_code == 1 and "not an mlquiz database" in result.output
    assert bad.read_text() == "hello"


# --- export anki ----------------------------------------------------------------------------

def open_package(path, tmp_path):
    with zipfile.ZipFile(path) as archive:
        assert "collection.anki2" in archive.namelist()
        archive.extract("collection.anki2", tmp_path)
    connection = sqlite3.connect(tmp_path / "collection.anki2")
    try:
        notes = connection.execute("SELECT id, guid, flds, tags FROM notes").fetchall()
        cards = connection.execute("SELECT nid, did FROM cards").fetchall()
        decks = json.loads(connection.execute("SELECT decks FROM col").fetchone()[0])
        models = json.loads(connection.execute("SELECT models FROM col").fetchone()[0])
    finally:
        connection.close()
    (tmp_path / "collection.anki2").unlink()
    return notes, cards, decks, models


def test_export_anki(run, tmp_path):
    target = tmp_path / "deck.apkg"
    result = run("export", "anki", str(target))
    assert result.exit_code == 0, result.output
    deck = load_deck()
    assert f"Wrote {len(deck)} notes in {len(exercises())} decks" in result.output
    notes, cards, decks, models = open_package(target, tmp_path)

    (model,) = models.values()
    field_names = [f["name"] for f in model["flds"]]
    assert field_names == ["CardId", "Topic", "Question", "Formula", "Answer", "Numpy", "OtherLanguage"]
    by_id = {}
    for note_id, guid, flds, tags in notes:
        fields = dict(zip(field_names, flds.split("\x1f")))
        by_id[fields["CardId"]] = (note_id, guid, fields, tags)
    assert set(by_id) == {c.id for c in deck}

    names = {int(i): d["name"] for i, d in decks.items()}
    topic_decks = {n for n in names.values() if n.startswith("mlquiz::")}
    assert len(topic_decks) == len(exercises())
    assert "mlquiz" in names.values()
    note_deck = {nid: names[did] for nid, did in cards}
    for position, exercise in enumerate(exercises(), start=1):
        expected = f"mlquiz::{position:02d} {exercise.title_en} · {exercise.title_zh}"
        assert expected in topic_decks
        for c in deck:
            if c.topic == exercise.id:
                assert note_deck[by_id[c.id][0]] == expected

    for c in deck:
        _, guid, fields, tags = by_id[c.id]
        assert fields["Question"] == c.question_en.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert fields["Answer"].startswith("\\[") and fields["Answer"].endswith("\\]")
        if c.lhs_latex:
            assert fields["Formula"].startswith("\\(") and fields["Formula"].endswith("\\)")
        if c.answer_numpy:
            assert fields["Numpy"].startswith("<code>")
        assert c.topic in tags.split()
        assert "<" not in fields["Answer"]  # HTML-escaped, so MathJax gets the text
    # GUIDs are derived from the card id alone, so they never change: these were computed once
    # from genanki's documented scheme (base-91 of the first 8 bytes of the SHA-256 of
    # "mlquiz__<card id>"), with hashlib, and checked against genanki.guid_for("mlquiz", id)
    assert by_id["bn_backward.dgamma"][1] == "c$F-uhl`jJ"
    assert by_id["adaboost.stump"][1] == "HZ[d;tm]>@"
    assert by_id["svm_dual.smo_eta"][1] == "J1L~p|r5/*"
    assert len({guid for _, guid, _, _ in by_id.values()}) == len(by_id)
    sample = by_id["bn_backward.dgamma"][2]
    assert sample["Answer"] == "\\[\\frac{\\partial L}{\\partial \\gamma} = \\sum_{i=1}^{N} \\frac{\\partial L}{\\partial y_i} \\hat x_i\\]"
    assert "批归一化" in sample["OtherLanguage"]


def test_anki_guids_are_stable_across_exports(run, tmp_path):
    first, second = tmp_path / "a.apkg", tmp_path / "b.apkg"
    assert run("export", "anki", str(first)).exit_code == 0
    assert run("export", "anki", str(second), "--lang", "zh").exit_code == 0
    notes_a, _, decks_a, models_a = open_package(first, tmp_path)
    notes_b, _, decks_b, models_b = open_package(second, tmp_path)
    guids = lambda notes: {flds.split("\x1f")[0]: guid for _, guid, flds, _ in notes}  # noqa: E731
    assert guids(notes_a) == guids(notes_b)
    assert set(decks_a) == set(decks_b) and set(models_a) == set(models_b)
    zh_fields = {flds.split("\x1f")[0]: flds.split("\x1f") for _, _, flds, _ in notes_b}
    assert "全连接层" in zh_fields["backprop.dense_dw"][2]


def test_export_needs_an_apkg_path(run, tmp_path):
    result = run("export", "anki", str(tmp_path / "deck.zip"))
    assert result.exit_code == 2 and ".apkg" in result.output
    result = run("export", "anki", str(tmp_path / "missing" / "folder" / "deck.apkg"))
    assert result.exit_code == 1 and "cannot write" in result.output
