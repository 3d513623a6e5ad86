"""A corpus of typed answers through the real ``mlquiz check``, in one process.

``tests/data/answers.jsonl`` holds answers written as learners type them, each with the
status it must get (``wrong`` means not accepted: wrong, or refused where the card forbids a
name; ``invalid`` means refused): correct ones in many notations (plain, unicode, LaTeX, numpy spellings,
textbook juxtaposition), wrong ones of many kinds (a sign, a factor, a transpose, an axis,
a near miss, an answer that parts from the expected one only at 0, at a tie or at a margin of
exactly 1), and hostile ones (huge powers and factorials, literals beyond float range,
unread LaTeX, code). ``against`` is the card's answer the line was written for: a line whose
card has another answer now (changed, or not in this deck) is skipped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlquiz.cards.deck import load_deck

CORPUS = Path(__file__).parent / "data" / "answers.jsonl"
MAX_FALSE_REJECTIONS = 0.02


def mlquiz() -> list[str]:
    script = Path(sys.executable).with_name("mlquiz")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlquiz"]


def corpus() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def current(rows: list[dict]) -> list[dict]:
    """The lines written for the cards' current answers."""
    answers = {card.id: card.answer_sympy or card.answer_numpy for card in load_deck()}
    return [row for row in rows if answers.get(row["card"]) == row["against"]]


def run_check(rows: list[dict]) -> list[dict]:
    lines = "".join(json.dumps({"card": r["card"], "answer": r["answer"]}, ensure_ascii=False) + "\n" for r in rows)
    process = subprocess.run(mlquiz() + ["check"], input=lines, capture_output=True, text=True,
                             encoding="utf-8", timeout=900)
    assert process.returncode == 0, process.stderr
    assert "Traceback" not in process.stderr
    return [json.loads(line) for line in process.stdout.splitlines()]


@pytest.fixture(scope="module")
def checked():
    rows = current(corpus())
    return rows, run_check(rows)


def test_the_corpus_covers_every_checkable_card_and_category():
    rows = corpus()
    assert len(rows) >= 800
    checkable = {card.id for card in load_deck() if card.kind != "display"}
    written = {row["card"] for row in current(rows)}
    assert len(written & checkable) >= 0.9 * len(checkable)  # cards may change answers meanwhile
    for status in ("correct", "wrong", "invalid"):
        assert sum(row["expected"] == status for row in rows) >= 100, status
    tags = {tag for row in rows for tag in row["tags"]}
    assert {"plain", "unicode", "latex", "numpy", "hostile"} <= tags


def test_every_answer_gets_its_status_within_a_second_of_cpu(checked):
    rows, results = checked
    assert len(rows) >= 800, "too few lines match the cards' current answers"
    assert len(results) == len(rows)
    for row, result in zip(rows, results):
        assert (result["card"], result["answer"]) == (row["card"], row["answer"])
        assert result["status"] in ("correct", "wrong", "invalid") and result["message"]
        assert result["seconds"] < 1.0, (row, result)
    accepted = [(r["card"], r["answer"], out["message"]) for r, out in zip(rows, results)
                if r["expected"] != "correct" and out["status"] == "correct"]
    assert not accepted, f"{len(accepted)} wrong or hostile answers accepted: {accepted[:10]}"
    correct = [(r, out) for r, out in zip(rows, results) if r["expected"] == "correct"]
    rejected = [(r["card"], r["answer"], out["message"]) for r, out in correct if out["status"] != "correct"]
    assert len(rejected) <= MAX_FALSE_REJECTIONS * len(correct), rejected
    for row, result in zip(rows, results):
        if row["expected"] == "wrong" and result["status"] == "wrong":
            assert result["method"] in ("random points", "random arrays")


def test_hostile_answers_are_refused_with_a_reason(checked):
    rows, results = checked
    hostile = [(r, out) for r, out in zip(rows, results) if r["expected"] == "invalid"]
    assert len(hostile) >= 100
    not_refused = [(r["card"], r["answer"], out["status"]) for r, out in hostile if out["status"] != "invalid"]
    assert not not_refused
