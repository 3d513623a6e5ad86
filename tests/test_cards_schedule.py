"""Cards and exercises know each other: failing an exercise makes the cards of its formulas due
now, and `mlquiz hint` points to them. The real deck, a real SQLite file."""

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from mlquiz.schedule.attempts import record_attempt
from mlquiz.schedule.config import set_config
from mlquiz.schedule.items import open_schedule
from mlquiz.schedule.review import due_items, record_review
from mlquiz.schedule.stats import history
from mlquiz.cards.deck import cards_for_exercise

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
MLQUIZ = str(Path(sys.executable).with_name("mlquiz"))


def due_cards(store, now):
    return {item.id for item in due_items(store, now, kind="card")}


def test_failing_an_exercise_makes_its_cards_due_now(tmp_path):
    cards = {f"card:{c}" for c in cards_for_exercise("svm_dual")}
    assert cards
    with open_schedule(tmp_path / "s.db") as store:
        assert not cards & due_cards(store, T0)  # new, and after the curriculum's first items
        set_config(store, "new_per_day", "0")
        for card in sorted(cards)[:2]:  # two already learnt, far from due
            record_review(store, card, 4, "flashcard", 5.0, T0 - timedelta(days=1))
        record_attempt(store, "svm_dual", tmp_path / "svm_dual.py", "x = 1\n", False, None, T0)
        later = T0 + timedelta(minutes=1)
        assert due_cards(store, later) == set(sorted(cards)[:2])  # the new ones need room
        set_config(store, "new_per_day", "100")  # new cards called for count against it
        order = [item.id for item in due_items(store, later)]
        assert set(order[:len(cards)]) == cards  # called for: before every other new item
        first = sorted(cards)[0]
        record_review(store, first, 3, "flashcard", 5.0, later)
        assert first not in due_cards(store, later)
        assert (cards - {first}) <= due_cards(store, later)
        # reviewing it cleared the call: its state is the FSRS one again
        row = store.row("SELECT requested_at, due FROM items WHERE id = ?", (first,))
        assert row["requested_at"] is None and row["due"] > later.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_card_reviewed_easy_and_then_called_for_is_due_at_once(tmp_path):
    """Called for before its FSRS due date, a card is due at the call (the earlier of the
    two), not at its due date."""
    card = f"card:{cards_for_exercise('bn_backward')[0]}"
    with open_schedule(tmp_path / "s.db") as store:
        set_config(store, "new_per_day", "0")
        easy = record_review(store, card, 4, "flashcard", 5.0, T0)
        assert easy.due > T0 + timedelta(days=3)
        failed_at = T0 + timedelta(hours=1)
        record_attempt(store, "bn_backward", tmp_path / "bn_backward.py", "x = 1\n", False,
                       None, failed_at)
        [item] = [i for i in due_items(store, failed_at) if i.id == card]
        assert item.due == failed_at


def test_passing_does_not_call_the_cards(tmp_path):
    cards = {f"card:{c}" for c in cards_for_exercise("gbdt")}
    with open_schedule(tmp_path / "s.db") as store:
        record_attempt(store, "gbdt", tmp_path / "gbdt.py", "x = 1\n", True, None, T0)
        assert not cards & due_cards(store, T0 + timedelta(minutes=1))


def test_hint_points_to_the_cards(tmp_path):
    result = subprocess.run([MLQUIZ, "hint", "bn_backward", "--db", str(tmp_path / "s.db")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    first = cards_for_exercise("bn_backward")[0]
    assert f"mlquiz card {first}" in result.stdout


def test_review_new_cards_of_a_topic_on_purpose(tmp_path):
    db = str(tmp_path / "s.db")
    idle = subprocess.run([MLQUIZ, "review", "--topic", "logistic_regression", "--db", db],
                          input="", capture_output=True, text=True, timeout=60)
    assert "No flashcards are due in logistic_regression" in idle.stdout
    assert "--topic logistic_regression --new" in idle.stdout
    studied = subprocess.run([MLQUIZ, "review", "--topic", "logistic_regression", "--new", "--limit", "1",
                              "--db", db], input="1/(1+exp(-z))\n\n", capture_output=True, text=True, timeout=60)
    assert studied.returncode == 0, studied.stderr
    assert "Reviewed 1 card (1 good)" in studied.stdout
    with open_schedule(db) as store:
        (row,) = history(store, "card:logistic_regression.sigmoid")
    assert row["rating"] == 3 and row["source"] == "flashcard"
