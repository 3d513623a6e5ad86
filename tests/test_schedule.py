"""The schedule: items, FSRS state, the review log, graded attempts, hints, files, stats.

The central check is ``assert_state_is_replay``: every item's stored state must equal what
replaying its review log through ``fsrs`` (not through mlquiz) gives.
"""

import json
import random
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from fsrs import Card, Rating, Scheduler, State

from mlquiz import clock
from mlquiz.schedule.attempts import (attempts, get_attempt, record_attempt, record_reports,
                                     reset_exercise, restore_attempt)
from mlquiz.schedule.config import ConfigError, get_config, set_config
from mlquiz.schedule.hints import record_hint
from mlquiz.schedule.items import (ScheduleError, UnknownItem, catalogue, open_schedule,
                                  resolve_item, sync_items)
from mlquiz.schedule.review import (SOURCES, due_items, new_items, next_item, record_review,
                                   set_suspended)
from mlquiz.schedule.stats import history, stats
from mlquiz.schedule import attempts as attempts_module, items as schedule_items
from mlquiz.curriculum import exercises, get_exercise

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)  # a Monday, 09:00 UTC
FAKE_DECK = ("backprop.chain_rule", "backprop.delta_last", "bn_forward_normalise", "lonely")


# --- the oracle ---------------------------------------------------------------------------

def fsrs_review(config, card, rating, moment, seed):
    """One review by fsrs itself, with the scheduler stored for the review and its fuzz drawn
    from ``random.Random(seed)`` (fsrs 6 draws it with the ``random`` it imports)."""
    import fsrs.scheduler

    drawn = fsrs.scheduler.random
    fsrs.scheduler.random = random.Random(seed).random
    try:
        return Scheduler.from_json(config).review_card(card, Rating(rating), review_datetime=moment)[0]
    finally:
        fsrs.scheduler.random = drawn


def replay(conn, item_id, check_rows=True, legacy=0):
    """Replay an item's review log through fsrs itself: (card or None, reviews, lapses).
    Every review row's stored state must be the state the replay reaches at that row, and
    its scheduler the one of the item's kind (exercises: steps of one day; cards: fsrs's
    steps), with fuzzing on, except for the first ``legacy`` rows (made before schedulers
    were stored: fsrs's defaults, no fuzzing)."""
    rows = conn.execute("SELECT r.rating, r.reviewed_at, r.retention, r.state, r.step, "
                        "r.stability, r.difficulty, r.due, s.config FROM reviews r "
                        "JOIN schedulers s ON s.id = r.scheduler_id WHERE r.item_id = ? "
                        "ORDER BY r.id", (item_id,)).fetchall()
    card, lapses = None, 0
    for number, (rating, reviewed_at, retention, *stored, config) in enumerate(rows, start=1):
        moment = datetime.fromisoformat(reviewed_at)
        settings = json.loads(config)
        assert settings["enable_fuzzing"] == (number > legacy)
        assert settings["desired_retention"] == retention
        day = 86400
        steps = ([day], [day]) if item_id.startswith("exercise:") and number > legacy else (
            [60, 600], [600])
        assert (settings["learning_steps"], settings["relearning_steps"]) == steps
        if card is None:
            card = Card(card_id=1, due=moment)
        elif card.state == State.Review and rating == 1:
            lapses += 1
        card = fsrs_review(config, card, rating, moment, f"{item_id}/{number}")
        if check_rows:
            assert stored == [int(card.state), card.step, card.stability, card.difficulty,
                              clock.format_time(card.due)], (item_id, number)
    return card, len(rows), lapses


def assert_state_is_replay(path, legacy=None):
    """Every item's stored FSRS state, and every review row, is exactly the replay of its log
    (floats included). ``legacy``: {item: rows made before schedulers were stored}."""
    conn = sqlite3.connect(path)
    try:
        items = conn.execute("SELECT id, state, step, stability, difficulty, due, last_review, "
                             "reps, lapses FROM items").fetchall()
        assert items
        for item_id, state, step, stability, difficulty, due, last, reps, lapses in items:
            card, count, replayed_lapses = replay(conn, item_id,
                                                  legacy=(legacy or {}).get(item_id, 0))
            assert (reps, lapses) == (count, replayed_lapses), item_id
            if card is None:
                assert (state, stability, difficulty, due, last) == (0, None, None, None, None)
                continue
            assert (state, step, stability, difficulty) == (
                int(card.state), card.step, card.stability, card.difficulty), item_id
            assert datetime.fromisoformat(due) == card.due, item_id
            assert datetime.fromisoformat(last) == card.last_review, item_id
    finally:
        conn.close()


def database_of_schema(path, version: int):
    """A database as an older mlquiz made it: the first ``version`` migrations applied, nothing
    else. Returns its ``sqlite3`` connection and the ``sqlite_utils.Database`` on it, for the
    caller to fill, commit and close."""
    import sqlite_utils
    from sqlite_utils.migrations import Migrations

    from mlquiz.schedule import store as store_module

    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id = {store_module.APPLICATION_ID}")
    migrations = Migrations("mlquiz")
    for name, fn in store_module._MIGRATIONS[:version]:
        migrations(name=name)(fn)
    db = sqlite_utils.Database(conn)
    migrations.apply(db)
    conn.execute(f"PRAGMA user_version = {version}")
    return conn, db


def record_graded(store, exercise, file, source, passed, report=None, now=None) -> int:
    """Record a graded file; its rating (Good, Hard after a hint, Again)."""
    return record_attempt(store, exercise, file, source, passed, report, now).rating


def hints_used(store, exercise) -> int:
    """Hints used for the exercise since its last review."""
    return store.value("SELECT hints FROM items WHERE id = ?", (f"exercise:{exercise}",))


# --- fixtures -----------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def fake_deck(monkeypatch):
    """A fixed deck, whatever the real one holds (it is built separately)."""
    monkeypatch.setattr(schedule_items, "deck_card_ids", lambda: FAKE_DECK)
    monkeypatch.delenv("MLQUIZ_NOW", raising=False)
    monkeypatch.delenv("MLQUIZ_DB", raising=False)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "mlquiz.db"


@pytest.fixture
def store(db_path):
    with open_schedule(db_path) as opened:
        set_config(opened, "timezone", "UTC")  # the learner's day: 04:00 to 04:00 UTC
        yield opened


def item_row(store, item_id):
    return store.row("SELECT * FROM items WHERE id = ?", (item_id,))


def n_reviews(store, item_id=None):
    if item_id is None:
        return store.value("SELECT count(*) FROM reviews")
    return store.value("SELECT count(*) FROM reviews WHERE item_id = ?", (item_id,))


REAL_DECK = schedule_items.deck_card_ids  # the fixture below replaces it in every test

FIRST = exercises()[0].id  # backprop
BACKPROP = f"exercise:{FIRST}"


# --- items ----------------------------------------------------------------------------------

def test_catalogue_orders_each_topics_cards_before_its_exercise_and_loose_cards_last():
    ids = [entry.id for entry in catalogue()]
    expected = ["card:backprop.chain_rule", "card:backprop.delta_last", "exercise:backprop",
                "card:bn_forward_normalise", "exercise:bn_forward"]
    assert ids[:5] == expected
    exercise_ids = [f"exercise:{e.id}" for e in exercises()]
    assert [i for i in ids if i.startswith("exercise:")] == exercise_ids
    assert ids[-1] == "card:lonely"
    assert len(ids) == len(set(ids)) == len(exercises()) + len(FAKE_DECK)


def test_the_real_deck_gives_unique_items(monkeypatch):
    monkeypatch.undo()  # whatever mlquiz.cards holds now, or nothing yet
    ids = [entry.id for entry in catalogue()]
    assert len(ids) == len(set(ids))
    assert all(i.startswith(("exercise:", "card:")) for i in ids)


def test_a_new_database_holds_every_item_new(store):
    rows = store.rows("SELECT id, kind, state, active, due FROM items ORDER BY position")
    assert [r["id"] for r in rows] == [e.id for e in catalogue()]
    assert {(r["state"], r["active"], r["due"]) for r in rows} == {(0, 1, None)}


def test_items_resync_when_the_deck_changes_and_keep_removed_items_history(store, monkeypatch):
    record_review(store, "card:lonely", 3, "flashcard", 5, T0)
    assert not sync_items(store)  # nothing changed
    monkeypatch.setattr(schedule_items, "deck_card_ids", lambda: FAKE_DECK[:2] + ("taylor.newton",))
    assert sync_items(store, force=True)
    lonely = item_row(store, "card:lonely")
    assert lonely["active"] == 0 and lonely["reps"] == 1  # kept, with its history
    assert item_row(store, "card:taylor.newton")["topic"] == "taylor"
    assert n_reviews(store, "card:lonely") == 1


def test_a_deck_that_fails_to_load_does_not_stop_the_schedule(db_path, monkeypatch):
    def broken():
        raise ValueError("deck.toml: line 3: bad card")

    monkeypatch.setattr(schedule_items, "deck_card_ids", broken)
    with pytest.warns(RuntimeWarning, match="bad card"):
        store = open_schedule(db_path)  # a new database gets the exercises
    with store:
        assert store.value("SELECT count(*) FROM items") == len(exercises())
        assert next_item(store, T0).item.id == BACKPROP
    monkeypatch.setattr(schedule_items, "deck_card_ids", lambda: FAKE_DECK)
    with open_schedule(db_path) as store:  # fixed: the cards come in
        assert next_item(store, T0).item.id == "card:backprop.chain_rule"
        monkeypatch.setattr(schedule_items, "deck_card_ids", broken)
        with pytest.warns(RuntimeWarning):
            assert not sync_items(store, force=True)
        assert store.value("SELECT count(*) FROM items WHERE active = 1") == len(
            exercises()) + len(FAKE_DECK)  # kept as they were


def card_questions(store) -> dict:
    """Each card row's stored question, ``(English, Chinese)`` by card id."""
    return {ref: (en, zh) for ref, en, zh in store.conn.execute(
        "SELECT ref, question_en, question_zh FROM items WHERE kind = 'card'")}


def test_each_card_row_holds_its_question_from_the_deck(db_path, monkeypatch):
    from mlquiz.cards.deck import load_deck

    monkeypatch.setattr(schedule_items, "deck_card_ids", REAL_DECK)
    deck = load_deck()
    with open_schedule(db_path) as store:
        assert card_questions(store) == {c.id: (c.question_en, c.question_zh) for c in deck}
        assert store.value("SELECT count(*) FROM items WHERE kind = 'exercise' "
                           "AND question_en IS NULL AND question_zh IS NULL") == len(exercises())
        found = next_item(store, T0)
        first = next(c for c in deck if found.item.ref == c.id)
        assert found.question == {"en": first.question_en, "zh": first.question_zh}
        for card in new_items(store, topic=FIRST, kind="card"):
            set_suspended(store, card.id, True)
        found = next_item(store, T0)
        assert found.item.id == BACKPROP and found.question is None


def test_a_question_changed_in_the_deck_is_resynced_and_an_unchanged_one_is_not(store,
                                                                               monkeypatch):
    asked = {"backprop.chain_rule": ("What is the chain rule?", "链式法则是什么？"),
             "lonely": ("Alone?", "孤单吗？")}
    monkeypatch.setattr(schedule_items, "deck_questions", lambda ids: dict(asked))
    assert sync_items(store, force=True)  # the questions arrive
    assert card_questions(store) == {c: asked.get(c, (None, None)) for c in FAKE_DECK}
    assert not sync_items(store, force=True)  # the same list and questions: nothing written
    asked["lonely"] = ("Alone, really?", "真的孤单吗？")
    assert sync_items(store, force=True)
    assert card_questions(store)["lonely"] == ("Alone, really?", "真的孤单吗？")
    assert next_item(store, T0).question == {"en": "What is the chain rule?",
                                             "zh": "链式法则是什么？"}


def test_a_database_of_schema_3_gets_its_questions_on_the_first_open(db_path, monkeypatch):
    """Its items were synced by an older mlquiz (no questions, the sources' signature
    stored): the migration makes the first open read the deck again."""
    from mlquiz.cards.deck import load_deck
    from mlquiz.schedule.store import SCHEMA_VERSION

    monkeypatch.setattr(schedule_items, "deck_card_ids", REAL_DECK)
    conn, db = database_of_schema(db_path, 3)
    db["items"].insert_all([{"id": e.id, "kind": e.kind, "ref": e.ref, "topic": e.topic,
                             "position": i} for i, e in enumerate(catalogue())])
    db["meta"].insert({"key": "items_sources", "value": schedule_items._sources_signature()})
    conn.commit()
    conn.close()
    with open_schedule(db_path) as store:
        assert store.value("PRAGMA user_version") == SCHEMA_VERSION == 4
        assert card_questions(store) == {c.id: (c.question_en, c.question_zh) for c in load_deck()}


def test_resolve_item_accepts_what_a_learner_types(store):
    for name in ("backprop", "backprop.py", "exercise:backprop"):
        assert resolve_item(store, name) == BACKPROP
    assert resolve_item(store, "lonely") == "card:lonely"
    assert resolve_item(store, "card:lonely") == "card:lonely"
    with pytest.raises(UnknownItem):
        resolve_item(store, "card:nope")


# --- next -----------------------------------------------------------------------------------

def test_next_on_a_new_database_is_the_first_item_of_the_curriculum(store):
    found = next_item(store, T0)
    assert found.item.id == "card:backprop.chain_rule" and found.item.new
    assert found.due_count == 10 and found.new_count == 10  # new_per_day defaults to 10
    assert found.to_dict()["item"] == "card:backprop.chain_rule"
    assert found.to_dict()["kind"] == "card"


def test_new_items_enter_at_most_new_per_day_in_curriculum_order(store):
    set_config(store, "new_per_day", "3")
    shown = []
    for minute in range(3):
        found = next_item(store, T0 + timedelta(minutes=minute))
        shown.append(found.item.id)
        record_review(store, found.item.id, 4, "flashcard", 3,
                               T0 + timedelta(minutes=minute))
    assert shown == [e.id for e in catalogue()[:3]]
    later = T0 + timedelta(hours=1)
    found = next_item(store, later)
    assert found.item is None  # Easy sent them days ahead, and today's new ones are used up
    assert found.next_due == clock.Day(4).end(T0)  # the learner's next day: 04:00 UTC
    assert found.to_dict() == {"item": None, "next_due": "2026-03-03T04:00:00Z"}
    tomorrow = next_item(store, T0 + timedelta(days=1))
    assert tomorrow.item.id == catalogue()[3].id
    assert tomorrow.new_count == 3


def test_grading_an_exercise_directly_uses_up_a_new_slot(store):
    set_config(store, "new_per_day", "1")
    record_graded(store, "taylor", "taylor.py", "x = 1", True, None, T0)
    found = next_item(store, T0)
    assert found.item is None and found.next_due == clock.Day(4).end(T0)  # tomorrow's new items
    row = item_row(store, "exercise:taylor")
    assert row["state"] == 2 and row["due"] == "2026-03-04T09:00:00Z"  # a pass: days, not minutes
    assert [i.id for i in due_items(store, T0 + timedelta(hours=1))] == []
    assert [i.id for i in due_items(store, T0 + timedelta(days=2))][0] == "exercise:taylor"


def test_next_is_the_most_overdue_item_and_counts_the_rest_of_the_day(store):
    set_config(store, "new_per_day", "0")
    for item, start in (("card:backprop.delta_last", T0), ("card:lonely", T0 + timedelta(minutes=2)),
                        ("card:backprop.chain_rule", T0 + timedelta(minutes=1))):
        record_review(store, item, 1, "flashcard", None, start)  # Again: due 1 min later
    record_review(store, "exercise:l1", 1, "grade", None, T0)  # an exercise: due tomorrow
    found = next_item(store, T0 + timedelta(minutes=30))
    assert found.item.id == "card:backprop.delta_last"
    assert found.item.due == T0 + timedelta(minutes=1)
    assert found.due_count == 3 and found.new_count == 0
    assert [i.id for i in due_items(store, T0 + timedelta(minutes=30))] == [
        "card:backprop.delta_last", "card:backprop.chain_rule", "card:lonely"]
    assert due_items(store, T0 + timedelta(minutes=30), "exercise") == []


def test_when_nothing_is_due_next_says_when_the_next_item_is(store):
    set_config(store, "new_per_day", "0")
    assert next_item(store, T0).to_dict() == {"item": None, "next_due": None}
    review = record_review(store, "exercise:gbdt", 4, "grade", None, T0)
    found = next_item(store, T0 + timedelta(minutes=5))
    assert review.due > T0 + timedelta(days=2)
    # due in days: it can be practised from the start of the learner's day it is due on
    assert found.item is None and found.next_due == clock.Day(4).start(review.due)
    assert next_item(store, found.next_due).item.id == "exercise:gbdt"


def test_next_marks_when_an_item_was_first_shown(store):
    next_item(store, T0)
    next_item(store, T0 + timedelta(minutes=7))
    assert item_row(store, "card:backprop.chain_rule")["shown_at"] == "2026-03-02T09:00:00Z"
    next_item(store, T0 + timedelta(minutes=8), mark_shown=False)
    assert store.value("SELECT count(*) FROM items WHERE shown_at IS NOT NULL") == 1


# --- reviews and FSRS -----------------------------------------------------------------------

def test_a_review_stores_what_fsrs_computes(store):
    review = record_review(store, BACKPROP, Rating.Good, "grade", 42.0, T0)
    one_day = (timedelta(days=1),)  # an exercise's steps; 2 days is too short to fuzz
    card, _ = Scheduler(learning_steps=one_day, relearning_steps=one_day).review_card(
        Card(card_id=7, due=T0), Rating.Good, review_datetime=T0)
    row = item_row(store, BACKPROP)
    assert (row["state"], row["step"], row["stability"], row["difficulty"]) == (
        card.state, card.step, card.stability, card.difficulty)
    assert row["due"] == "2026-03-04T09:00:00Z" == clock.format_time(card.due)
    flashcard = record_review(store, "card:lonely", Rating.Good, "flashcard", 5.0, T0)
    assert flashcard.due == T0 + timedelta(minutes=10)  # a card keeps fsrs's learning steps
    assert review.due == card.due and review.rating_name == "Good"
    log = history(store, "backprop")
    assert [(r["rating"], r["source"], r["duration_seconds"], r["reviewed_at"]) for r in log] == [
        (3, "grade", 42.0, "2026-03-02T09:00:00Z")]


def test_state_is_always_the_replay_of_the_review_log(store, db_path):
    """Random ratings at random times over months, with the retention changed in between:
    the stored state of every item equals the replay of its log through fsrs."""
    rng = random.Random(20260302)
    items = ["exercise:backprop", "exercise:svm_dual", "card:lonely", "card:backprop.chain_rule"]
    moment = T0
    for step in range(160):
        moment += timedelta(minutes=rng.choice([1, 7, 30, 200, 1440, 4000, 20000]))
        if step in (50, 110):
            set_config(store, "retention", rng.choice(["0.8", "0.85", "0.95"]))
        record_review(store, rng.choice(items), rng.randint(1, 4),
                               rng.choice(SOURCES), rng.uniform(1, 600), moment)
    assert n_reviews(store) == 160
    assert store.value("SELECT count(DISTINCT retention) FROM reviews") == 3
    assert_state_is_replay(db_path)


def test_graded_attempts_keep_state_equal_to_the_replay(store, db_path):
    moment = T0
    rng = random.Random(7)
    for _ in range(40):
        moment += timedelta(minutes=rng.choice([3, 60, 600, 3000]))
        if rng.random() < 0.2:
            record_hint(store, "bn_backward", moment)
        record_graded(store, "bn_backward", "bn_backward.py", "src",
                                          rng.random() < 0.5, {"passed": None}, moment)
    assert_state_is_replay(db_path)


def test_a_review_dated_before_the_items_last_review_is_refused(store):
    record_review(store, BACKPROP, 3, "grade", None, T0)
    with pytest.raises(ScheduleError, match="earlier than its last review"):
        record_review(store, BACKPROP, 3, "grade", None, T0 - timedelta(seconds=3))
    assert n_reviews(store) == 1
    assert record_review(store, BACKPROP, 3, "grade", None, T0).reviewed_at == T0  # same time: fine


def test_bad_reviews_are_refused_and_change_nothing(store):
    with pytest.raises(ValueError):
        record_review(store, BACKPROP, 5, "grade", None, T0)
    with pytest.raises(ValueError):
        record_review(store, BACKPROP, 3, "guess", None, T0)
    with pytest.raises(UnknownItem):
        record_review(store, "exercise:nope", 3, "grade", None, T0)
    with pytest.raises(clock.ClockError):
        record_review(store, BACKPROP, 3, "grade", None, datetime(2026, 3, 2))
    assert n_reviews(store) == 0


# --- grading feeds the schedule ---------------------------------------------------------------

def grade(store, passed, minutes, exercise="backprop", source="def f(): ..."):
    return record_attempt(store, exercise, f"/work/{exercise}.py", source, passed,
                                   {"passed": passed, "functions": []},
                                   T0 + timedelta(minutes=minutes))


def test_pass_is_good_and_failure_is_again(store):
    assert record_graded(store, "backprop", "b.py", "x", True, None, T0) == 3
    assert record_graded(
        store, "backprop", "b.py", "x", False, None, T0 + timedelta(minutes=20)) == 1
    assert [r["rating_name"] for r in history(store, "backprop")] == ["Good", "Again"]


def test_failures_on_an_item_already_failed_today_add_no_lapse_and_the_pass_recovers(store):
    first = grade(store, False, 0)
    retries = [grade(store, False, m) for m in (5, 9, 14)]
    recovery = grade(store, True, 20)
    assert first.counted and first.rating == 1
    assert [r.counted for r in retries] == [False] * 3 and {r.rating for r in retries} == {1}
    assert recovery.counted and recovery.rating_name == "Good"
    assert [r["rating_name"] for r in history(store, "backprop")] == ["Again", "Good"]
    assert [a["attempt"] for a in attempts(store, "backprop")] == [1, 2, 3, 4, 5]
    again_after_recovery = grade(store, False, 30)
    assert not again_after_recovery.counted  # failed today already: no second lapse today
    next_day = grade(store, False, 60 * 24)
    assert next_day.counted  # and a failure on another day always counts


def test_a_pass_after_a_hint_is_hard_and_hints_reset_with_each_review(store):
    assert [record_hint(store, "backprop", T0) for _ in range(4)] == [1, 2, 3, 3]
    assert hints_used(store, "backprop") == 4
    assert grade(store, True, 10).rating_name == "Hard"
    assert hints_used(store, "backprop") == 0
    assert history(store, "backprop")[-1]["hints"] == 4
    assert grade(store, True, 60 * 24 * 3).rating_name == "Good"
    assert store.value("SELECT count(*) FROM hints") == 4


def test_a_hint_during_repeated_failures_makes_the_recovery_hard(store):
    grade(store, False, 0)
    record_hint(store, "backprop", T0 + timedelta(minutes=3))
    grade(store, False, 4)  # not a review: the hint still counts
    assert grade(store, True, 8).rating_name == "Hard"


def test_duration_runs_from_next_or_the_last_grading(store):
    set_config(store, "new_per_day", "20")
    while (found := next_item(store, T0)).item.id != BACKPROP:
        record_review(store, found.item.id, 4, "flashcard", 2, T0)
    assert grade(store, False, 25).duration_seconds == 25 * 60  # shown by next at T0
    assert grade(store, False, 31).duration_seconds == 6 * 60  # since the last grading
    passed = grade(store, True, 40)
    assert passed.duration_seconds == 9 * 60 == passed.review.duration_seconds
    assert history(store, "backprop")[-1]["duration_seconds"] == 540


def test_a_graded_file_is_stored_with_its_verdict_and_review(store):
    result = grade(store, True, 0, source="import numpy as np\n# 你好\n")
    row = get_attempt(store, "backprop")
    assert row["source"] == "import numpy as np\n# 你好\n"
    assert row["passed"] == 1 and row["rating"] == 3 and row["kind"] == "graded"
    assert row["review_id"] == result.review.id
    assert json.loads(row["report"]) == {"passed": True, "functions": []}
    assert row["file_path"] == "/work/backprop.py"


def test_a_review_and_its_submission_land_together_or_not_at_all(store, monkeypatch):
    def crash(*args):  # fails after the review is written, before the submission is
        raise sqlite3.OperationalError("disk I/O error (simulated)")

    monkeypatch.setattr(attempts_module, "_next_attempt", crash)
    with pytest.raises(sqlite3.OperationalError):
        grade(store, True, 0)
    assert n_reviews(store) == 0 and item_row(store, BACKPROP)["state"] == 0
    assert store.value("SELECT count(*) FROM submissions") == 0


def test_record_reports_stores_the_text_that_was_graded(tmp_path, db_path):
    """The stored source is what the grader ran, even if the file changes afterwards."""
    from mlquiz.grading.engine import grade_file

    path = tmp_path / "l2_regularization.py"
    path.write_text("def l2_penalty(w, lam):\n    return 0.0\n")
    report = grade_file(path)
    path.write_text("# edited after grading\n")
    [result] = record_reports(db_path, [report], T0)
    assert result.rating == 1 and result.attempt == 1
    with open_schedule(db_path) as store:
        stored = get_attempt(store, "l2")
    assert stored["source"] == "def l2_penalty(w, lam):\n    return 0.0\n"


# --- reset and restore ----------------------------------------------------------------------

def test_reset_saves_the_file_then_writes_the_stub(store, tmp_path):
    exercise = get_exercise("backprop")
    path = tmp_path / "work" / "backprop.py"
    path.parent.mkdir()
    path.write_text("my attempt\n")
    record_attempt(store, "backprop", path, "my attempt\n", False, None, T0)
    path.write_text("my attempt, edited later\n")
    change = reset_exercise(store, "backprop", None, T0 + timedelta(minutes=5))
    assert change.path == path.resolve() and change.saved_now and change.saved_attempt == 2
    assert path.read_text() == exercise.stub_path.read_text()
    saved = get_attempt(store, "backprop", 2)
    assert (saved["kind"], saved["source"], saved["note"]) == (
        "saved", "my attempt, edited later\n", "saved before reset")
    again = reset_exercise(store, "backprop", None, T0 + timedelta(minutes=6))
    assert again.saved_attempt is None  # the stub itself is not saved
    assert len(attempts(store, "backprop")) == 2


def test_reset_defaults_to_exercises_folder_and_does_not_store_twice(store, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "exercises" / "taylor.py"
    change = reset_exercise(store, "taylor", None, T0)
    assert change.path == target and change.saved_attempt is None
    assert target.read_text() == get_exercise("taylor").stub_path.read_text()
    record_attempt(store, "taylor", target, "v1", True, None, T0)
    target.write_text("v1")
    change = reset_exercise(store, "taylor", None, T0)
    assert (change.saved_attempt, change.saved_now) == (1, False)


def test_restore_brings_back_any_attempt_and_saves_what_it_replaces(store, tmp_path):
    path = tmp_path / "gbdt.py"
    for number, text in enumerate(["first\n", "second\n"], start=1):
        path.write_text(text)
        record_attempt(store, "gbdt", path, text, number == 2, None, T0)
    path.write_text("unsaved work\n")
    change = restore_attempt(store, "gbdt", 1, None, T0)
    assert path.read_text() == "first\n"
    assert (change.restored_attempt, change.saved_attempt, change.saved_now) == (1, 3, True)
    assert get_attempt(store, "gbdt", 3)["source"] == "unsaved work\n"
    other = tmp_path / "elsewhere" / "copy.py"
    restore_attempt(store, "gbdt", None, other, T0)  # the latest, to another file
    assert other.read_text() == "unsaved work\n"
    with pytest.raises(ScheduleError, match="no attempt 9"):
        restore_attempt(store, "gbdt", 9, None, T0)
    with pytest.raises(ScheduleError, match="no stored attempts"):
        restore_attempt(store, "taylor", None, None, T0)


# --- statistics -----------------------------------------------------------------------------

def test_stats_counts_states_reviews_retention_forecast_and_topics(store):
    set_config(store, "new_per_day", "4")
    day = timedelta(days=1)
    record_review(store, BACKPROP, 3, "grade", None, T0 - 10 * day)
    record_review(store, BACKPROP, 3, "grade", None, T0 - 10 * day + timedelta(minutes=10))
    record_review(store, BACKPROP, 1, "grade", None, T0 - 2 * day)  # a lapse in review
    record_review(store, "card:lonely", 4, "flashcard", 4, T0 - 1 * day)
    record_graded(store, "l1", "l1.py", "src", True, None, T0)
    data = stats(store, T0)
    assert data["items"]["exercise"]["relearning"] == 1
    assert data["items"]["exercise"]["review"] == 1  # l1 passed: straight to days
    assert data["items"]["card"] == {"new": 3, "learning": 0, "review": 1, "relearning": 0,
                                     "total": 4}
    per_day = {d["date"]: d["count"] for d in data["reviews_per_day"]}
    assert len(per_day) == 30 and per_day["2026-02-20"] == 2 and per_day["2026-03-02"] == 1
    assert data["reviews_last_30_days"] == 5
    assert data["retention"] == {"target": 0.9, "measured": 0.5, "reviews": 2}  # Good, then Again
    assert [d["date"] for d in data["forecast"]][:2] == ["2026-03-02", "2026-03-03"]
    assert data["forecast"][0]["due"] == 1  # the overdue relearning step
    assert data["due_today"] == {"reviews": 1, "new": 3, "total": 4}  # l1 entered today
    backprop, = [t for t in data["topics"] if t["topic"] == "backprop"]
    assert backprop["exercise"]["lapses"] == 1 and backprop["cards"]["total"] == 2
    l1, = [t for t in data["topics"] if t["topic"] == "l1"]
    assert l1["exercise"]["passed"] and l1["exercise"]["attempts"] == 1
    json.dumps(data)


# --- settings and clock ---------------------------------------------------------------------

def test_settings_are_validated(store):
    assert get_config(store, "retention") == 0.9
    assert set_config(store, "retention", "0.85") == 0.85
    assert get_config(store, "retention") == 0.85
    for key, value in [("retention", "1.5"), ("retention", "abc"), ("new_per_day", "-1"),
                       ("new_per_day", "2.5"), ("colour", "blue")]:
        with pytest.raises(ConfigError):
            set_config(store, key, value)
    review = record_review(store, BACKPROP, 4, "grade", None, T0)
    assert store.value("SELECT retention FROM reviews WHERE id = ?", (review.id,)) == 0.85


def test_clock_reads_mlquiz_now(monkeypatch):
    monkeypatch.setenv("MLQUIZ_NOW", "2026-03-02T10:30:15.75+01:00")
    assert clock.now() == datetime(2026, 3, 2, 9, 30, 15, tzinfo=timezone.utc)
    assert clock.now().tzinfo is timezone.utc
    monkeypatch.setenv("MLQUIZ_NOW", "2026-03-02 09:30")
    assert clock.now() == datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)  # naive: UTC
    monkeypatch.setenv("MLQUIZ_NOW", "yesterday")
    with pytest.raises(clock.ClockError, match="MLQUIZ_NOW"):
        clock.now()
    monkeypatch.delenv("MLQUIZ_NOW")
    real = clock.now()
    assert real.tzinfo is timezone.utc and real.microsecond == 0
    assert abs(real - datetime.now(timezone.utc)) < timedelta(seconds=5)
    assert clock.format_time(T0) == "2026-03-02T09:00:00Z"
    assert clock.Day().start(T0 + timedelta(hours=14)) == datetime(2026, 3, 2, tzinfo=timezone.utc)
