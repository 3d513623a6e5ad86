"""The schedule counts only real recall: what a review is, the learner's day, the order of
practice, hints, fuzz, undo, suspend and bury, intervals, fitted parameters. A real SQLite
file; ``fsrs`` (and fsrs-rs) as the oracles."""

import json
import random
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from fsrs import Card, Rating, Scheduler
from fsrs_rs_python import FSRS

from mlquiz import clock
from mlquiz.curriculum import get_exercise
from mlquiz.schedule import attempts as attempts_module
from mlquiz.schedule.attempts import (NotRecorded, attempts, not_a_review, record_attempt,
                                      start_exercise)
from mlquiz.schedule.config import ConfigError, learner_day, set_config
from mlquiz.schedule.hints import hints_seen, record_hint
from mlquiz.schedule.items import ScheduleError, open_schedule
from mlquiz.schedule.optimize import NotEnoughReviews, optimize, training_items
from mlquiz.schedule.review import (bury, due_items, next_intervals, next_item, queue,
                                    record_review, set_suspended, undo_last_review)
import test_schedule
from test_schedule import (FAKE_DECK, assert_state_is_replay, database_of_schema, fsrs_review,
                           replay)

# the fixtures of test_schedule: a fake deck, a database file, the store opened on it in UTC
fake_deck, db_path, store = test_schedule.fake_deck, test_schedule.db_path, test_schedule.store

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)  # a Monday, 09:00 UTC
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def cards_of_the_fake_deck(monkeypatch, fake_deck):
    """The fake deck's cards of each exercise (failing one calls for them)."""
    monkeypatch.setattr(attempts_module, "deck_cards_for_exercise",
                        lambda exercise: [c for c in FAKE_DECK if c.startswith(exercise + ".")])


def reference(exercise_id):
    return get_exercise(exercise_id).reference_path.read_text()


def stub(exercise_id):
    return get_exercise(exercise_id).stub_path.read_text()


def grade(store, exercise, source, passed, when, check=True):
    return record_attempt(store, exercise, f"/work/{exercise}.py", source, passed, None, when,
                          check=check)


def ratings(store, item):
    return [r for (r,) in store.conn.execute(
        "SELECT rating FROM reviews WHERE item_id = ? ORDER BY id", (item,))]


# --- 1. what is a review --------------------------------------------------------------------

@pytest.mark.parametrize("source, words", [
    ("", "empty"),
    ("  \n\t\n", "empty"),
    ("def batchnorm_backward(dout, x, gamma, eps=1e-5:\n    return 1\n", "does not parse"),
    ("x = (" * 300 + ")" * 300, "does not parse"),
    ("def batchnorm_backward(dout, x, gamma):\n    return \x00\n", "does not parse ("),
    ("import numpy as np\n\nX = 1\n", "defines none of bn_backward's functions"),
])
def test_files_that_recall_nothing_are_not_reviews(store, source, words):
    result = grade(store, "bn_backward", source, False, T0)
    assert isinstance(result, NotRecorded) and words in result.reason
    assert "\n" not in result.reason and "None" not in result.reason
    assert ratings(store, "exercise:bn_backward") == [] and attempts(store, "bn_backward") == []


def test_another_exercises_file_is_named(store):
    result = grade(store, "bn_backward", reference("adaboost"), False, T0)
    assert result.reason == "this file defines adaboost's functions: --exercise adaboost?"
    assert ratings(store, "exercise:bn_backward") == []


def test_an_untouched_stub_is_not_a_review_but_a_partial_one_is(store):
    assert grade(store, "svm_primal", stub("svm_primal"), False, T0).reason == (
        "nothing in the file is implemented yet")
    # the stub with its docstrings removed and `pass` bodies: still nothing implemented
    bare = "import numpy as np\n\ndef hinge_objective(w, b, X, y, C):\n    pass\n"
    assert "nothing" in grade(store, "svm_primal", bare, False, T0).reason
    started = stub("bn_backward").replace("    raise NotImplementedError", "    return dout", 1)
    assert not_a_review(store, "bn_backward", started) is None  # one function is written


def test_a_file_already_graded_is_not_a_review_again(store):
    source = reference("l2")
    first = grade(store, "l2", source, True, T0)
    assert first.counted
    for when in (T0 + timedelta(minutes=5), T0 + 16 * DAY):
        again = grade(store, "l2", source, True, when)
        assert again.reason.startswith(f"unchanged since attempt {first.attempt}: a review is a "
                                       "fresh rewrite")
    rewritten = grade(store, "l2", source + "\n# written again\n", True, T0 + 16 * DAY)
    assert rewritten.counted and ratings(store, "exercise:l2") == [3, 3]


def test_start_keeps_the_file_lays_the_stub_and_times_from_then(store, tmp_path):
    path = tmp_path / "bn_backward.py"
    path.write_text("my old attempt\n")
    change = start_exercise(store, "bn_backward", path, T0)
    assert path.read_text() == stub("bn_backward") and change.saved_now
    assert attempts(store, "bn_backward")[0]["kind"] == "saved"
    result = record_attempt(store, "bn_backward", path, reference("bn_backward"), True, None,
                            T0 + timedelta(minutes=25), check=True)
    assert result.duration_seconds == 25 * 60


def test_duration_is_since_the_later_of_start_and_the_last_grading(store, tmp_path):
    path = tmp_path / "l1.py"
    grade(store, "l1", reference("l1") + "#1\n", True, T0)
    start_exercise(store, "l1", path, T0 + 2 * DAY)  # later than the last grading
    result = grade(store, "l1", reference("l1") + "#2\n", True, T0 + 2 * DAY + timedelta(minutes=30))
    assert result.duration_seconds == 30 * 60  # not 2 days and 30 minutes


# --- 3. failed today, in the learner's day ---------------------------------------------------

def test_fail_pass_fail_on_one_day_is_one_lapse_and_the_day_starts_at_four(store):
    set_config(store, "timezone", "Asia/Shanghai")  # 04:00 there is 20:00 UTC
    src = reference("l1")
    grade(store, "l1", src + "#a\n", True, T0 - 10 * DAY)
    grade(store, "l1", src + "#b\n", True, T0 - 4 * DAY)  # in review
    evening = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)  # 20:00 in Shanghai
    fails = [grade(store, "l1", src + f"#f{i}\n", False, evening + timedelta(hours=h))
             for i, h in enumerate((0, 2, 7.5))]  # 20:00, 22:00, 03:30 the next morning
    assert [f.counted for f in fails] == [True, False, False]
    grade(store, "l1", src + "#c\n", True, evening + timedelta(hours=7.6))  # recovery, 03:36
    after = grade(store, "l1", src + "#g\n", False, evening + timedelta(hours=7.7))
    assert not after.counted  # fail, pass, fail in one day: one Again
    new_day = grade(store, "l1", src + "#h\n", False, evening + timedelta(hours=8))  # 04:00
    assert new_day.counted
    row = store.row("SELECT lapses FROM items WHERE id = 'exercise:l1'")
    assert ratings(store, "exercise:l1") == [3, 3, 1, 3, 1] and row["lapses"] == 2


def test_the_day_setting_and_zone_are_validated(store):
    assert set_config(store, "day_starts_at", "6:00") == 6
    for key, value in [("day_starts_at", "24"), ("day_starts_at", "4:30"), ("timezone", "Mars/Base")]:
        with pytest.raises(ConfigError):
            set_config(store, key, value)
    set_config(store, "timezone", "Europe/Berlin")
    day = learner_day(store)  # 29 March 2026: clocks go forward at 02:00
    assert day.start(datetime(2026, 3, 29, 12, tzinfo=timezone.utc)) == datetime(
        2026, 3, 29, 4, tzinfo=timezone.utc)  # 06:00 CEST
    assert day.start(datetime(2026, 3, 28, 12, tzinfo=timezone.utc)) == datetime(
        2026, 3, 28, 5, tzinfo=timezone.utc)  # 06:00 CET


def test_new_items_a_day_follow_the_learners_day(store):
    set_config(store, "new_per_day", "1")
    set_config(store, "timezone", "America/New_York")  # 04:00 there is 09:00 UTC in March
    first = next_item(store, T0 - timedelta(minutes=1)).item.id
    record_review(store, first, 4, "flashcard", 2, T0 - timedelta(minutes=1))
    assert next_item(store, T0 - timedelta(seconds=30)).item is None  # still the same day
    assert next_item(store, T0).item.new  # 04:00 in New York: a new day, a new item


# --- 4. exercises are not flashcards --------------------------------------------------------

def test_exercises_move_in_days_and_cards_in_minutes(store):
    src = reference("taylor")
    failed = grade(store, "taylor", src + "#1\n", False, T0)
    assert failed.review.due == T0 + DAY  # the learning step of an exercise: one day
    passed = grade(store, "taylor", src + "#2\n", True, T0 + DAY)
    assert passed.review.due - (T0 + DAY) >= 2 * DAY  # in review: FSRS's days
    card = record_review(store, "card:lonely", 1, "flashcard", 3, T0)
    assert card.due == T0 + timedelta(minutes=1)


# --- 5. what comes next ------------------------------------------------------------------------

def test_the_order_of_practice(store):
    """Learning first, then cards a failure called for, then due reviews lowest R first,
    then new items in curriculum order; the same order for next and for review."""
    set_config(store, "new_per_day", "4")  # lonely and backprop entered today: 2 left
    early = T0 - 40 * DAY
    # two reviews: one learnt long ago with a short stability, one recent
    record_review(store, "exercise:l2", 3, "grade", None, early)
    record_review(store, "exercise:taylor", 4, "grade", None, early + 30 * DAY)
    record_review(store, "card:lonely", 1, "flashcard", 3, T0 - timedelta(minutes=5))  # learning
    record_review(store, "card:backprop.delta_last", 4, "flashcard", 3, T0 - DAY)  # not due
    record_attempt(store, "backprop", "/w/backprop.py", "x=1", False, None, T0 - timedelta(minutes=1))
    order = [item.id for item in queue(store, T0)]
    relearning = "exercise:backprop"  # failed a minute ago: due tomorrow
    assert relearning not in order
    assert order[0] == "card:lonely"  # (re)learning due
    assert order[1:3] == ["card:backprop.chain_rule", "card:backprop.delta_last"]  # called for
    # reviews by retrievability: l2 has waited 40 days on S~2, taylor 10 days on S~8
    reviews = order[3:5]
    assert reviews == ["exercise:l2", "exercise:taylor"]
    assert order[5:] == ["card:bn_forward_normalise"]  # the last new slot: chain_rule took one
    assert next_item(store, T0, mark_shown=False).item.id == order[0]
    card_order = [item.id for item in due_items(store, T0, "card")]
    assert card_order == [i for i in order if i.startswith("card:")]
    set_config(store, "new_per_day", "2")  # no slot left: the new card called for waits
    assert [item.id for item in queue(store, T0)] == ["card:lonely", "card:backprop.delta_last",
                                                      "exercise:l2", "exercise:taylor"]


def test_due_reviews_come_lowest_retrievability_first(store):
    """Against fsrs's own retrievability, on many items reviewed at random."""
    set_config(store, "new_per_day", "0")
    rng = random.Random(5)
    names = ["exercise:" + e.id for e in __import__("mlquiz.curriculum").curriculum.exercises()]
    for name in names:
        moment = T0 - rng.uniform(30, 200) * DAY
        for _ in range(rng.randint(1, 4)):
            record_review(store, name, rng.choice([2, 3, 4]), "grade", None, moment)
            moment += rng.uniform(1, 12) * DAY
    now = T0 + 60 * DAY
    order = [item.id for item in queue(store, now)]
    assert len(order) >= 5
    scheduler = Scheduler()
    rows = {r["id"]: r for r in store.rows("SELECT * FROM items")}

    def retrievability(item_id):
        row = rows[item_id]
        card = Card(1, state=row["state"], stability=row["stability"], difficulty=row["difficulty"],
                    last_review=clock.parse_time(row["last_review"]))
        return scheduler.get_card_retrievability(card, now)

    reviews = [i for i in order if rows[i]["state"] == 2]  # after those in (re)learning
    assert order[-len(reviews):] == reviews and len(reviews) >= 5
    values = [retrievability(i) for i in reviews]
    assert values == sorted(values)


# --- 6/7. fuzz ----------------------------------------------------------------------------------

def test_fuzz_spreads_items_learnt_together_and_the_replay_is_exact(store, db_path):
    set_config(store, "new_per_day", "0")
    names = [f"card:{c}" for c in FAKE_DECK] + ["exercise:l1", "exercise:l2", "exercise:gbdt"]
    for name in names:
        moment = T0
        for rating in (3, 3, 3, 3, 3):
            moment = record_review(store, name, rating, "grade", None, moment).due
    dues = {store.value("SELECT due FROM items WHERE id = ?", (n,)) for n in names}
    assert len(dues) > 2  # same ratings at the same times, spread by the fuzz
    assert_state_is_replay(db_path)


# --- 8. hints -------------------------------------------------------------------------------

def test_a_hint_makes_the_next_pass_hard_even_after_a_failure(store):
    src = reference("gbdt")
    record_hint(store, "gbdt", T0)
    grade(store, "gbdt", src + "#1\n", False, T0 + timedelta(minutes=5))
    assert grade(store, "gbdt", src + "#2\n", True, T0 + 3 * DAY).rating_name == "Hard"
    assert grade(store, "gbdt", src + "#3\n", True, T0 + 9 * DAY).rating_name == "Good"


def test_hints_seen_are_re_read_without_counting(store):
    assert hints_seen(store, "svm_dual") == 0
    record_hint(store, "svm_dual", T0)
    record_hint(store, "svm_dual", T0)
    assert hints_seen(store, "svm_dual") == 2
    assert store.value("SELECT count(*) FROM hints") == 2


# --- 9. intervals, undo, suspend, bury --------------------------------------------------------

def test_the_intervals_shown_are_the_ones_given(store):
    moment = T0
    for rating in (3, 3, 3):
        moment = record_review(store, "card:lonely", rating, "flashcard", 3, moment).due
    shown = next_intervals(store, "card:lonely", moment)
    assert shown[1] < shown[2] < shown[3] < shown[4]
    for rating in (4, 2):  # each rating, from the same state
        given = record_review(store, "card:lonely", rating, "flashcard", 3, moment)
        assert given.due - moment == shown[rating]
        undo_last_review(store)


def test_undo_takes_back_the_last_rating_by_replay(store, db_path):
    src = reference("l1")
    grade(store, "l1", src + "#1\n", True, T0)
    before = store.row("SELECT * FROM items WHERE id = 'exercise:l1'")
    record_hint(store, "l1", T0 + DAY)
    grade(store, "l1", src + "#2\n", True, T0 + 3 * DAY)  # Hard, clears the hint
    undone = undo_last_review(store)
    assert undone.review["rating"] == 2
    after = store.row("SELECT * FROM items WHERE id = 'exercise:l1'")
    for column in ("state", "step", "stability", "difficulty", "due", "last_review", "reps", "lapses"):
        assert after[column] == before[column], column
    assert after["hints"] == 1  # the hint counts again
    assert [a["review_id"] is None for a in attempts(store, "l1")] == [False, True]
    assert_state_is_replay(db_path)
    undo_last_review(store)
    assert store.row("SELECT state, introduced FROM items WHERE id = 'exercise:l1'") == {
        "state": 0, "introduced": None}
    with pytest.raises(ScheduleError, match="no review"):
        undo_last_review(store)


def test_suspend_unsuspend_and_bury(store):
    set_config(store, "new_per_day", "0")
    record_review(store, "card:lonely", 1, "flashcard", 3, T0)
    later = T0 + timedelta(minutes=5)
    assert [i.id for i in queue(store, later)] == ["card:lonely"]
    set_suspended(store, "lonely", True)
    assert queue(store, later) == [] and next_item(store, later).next_due is None
    set_suspended(store, "card:lonely", False)
    _, until = bury(store, "lonely", later)
    assert until == datetime(2026, 3, 3, 4, tzinfo=timezone.utc)
    assert queue(store, later) == [] and next_item(store, later).next_due == until
    assert [i.id for i in queue(store, until)] == ["card:lonely"]


# --- 10. parameters fitted to the learner --------------------------------------------------------

TRUE_PARAMETERS = [1.0, 3.0, 6.0, 20.0, 6.4133, 0.8334, 3.0194, 0.001, 1.2, 0.1666, 1.1,
                   1.4835, 0.0614, 0.2629, 1.6483, 0.6014, 1.8729, 0.5425, 0.0912, 0.0658, 0.1542]


def simulate_learner(store, cards=250, seed=3):
    """A learner whose memory follows ``TRUE_PARAMETERS`` (not fsrs's defaults): each review,
    recalled with the probability the true model gives, on the schedule mlquiz sets."""
    rng = random.Random(seed)
    truth = Scheduler(parameters=TRUE_PARAMETERS, enable_fuzzing=False)
    rows = []
    for n in range(cards):
        memory, moment = Card(n), T0 + timedelta(hours=rng.uniform(0, 24 * 20))
        scheduled = Card(n)
        for _ in range(8):
            if memory.last_review is None:
                rating = rng.choice([1, 3, 3, 3])
            else:
                rating = 3 if rng.random() < truth.get_card_retrievability(memory, moment) else 1
            memory, _ = truth.review_card(memory, Rating(rating), moment)
            scheduled = fsrs_review(CARD_CONFIG, scheduled, rating, moment, f"{n}")
            rows.append((f"card:sim{n}", rating, clock.format_time(moment)))
            moment = scheduled.due
    with store.write():
        store.conn.executemany("INSERT INTO items (id, kind, ref, position) VALUES (?, 'card', ?, ?)",
                               [(f"card:sim{n}", f"sim{n}", 1000 + n) for n in range(cards)])
        store.conn.executemany(
            "INSERT INTO reviews (item_id, rating, reviewed_at, source, retention, hints, "
            "state_before, state, stability, difficulty, due) "
            "VALUES (?, ?, ?, 'flashcard', 0.9, 0, 0, 2, 1, 5, '')", rows)
    return len(rows)


CARD_CONFIG = Scheduler(relearning_steps=(), learning_steps=()).to_json()


def test_optimize_refuses_a_short_log(store):
    record_review(store, "card:lonely", 3, "flashcard", 3, T0)
    with pytest.raises(NotEnoughReviews, match=r"1 review; fitting needs at least 400 \(399 more\)"):
        optimize(store, T0)


def test_fitted_parameters_predict_the_learners_log_better(store, db_path):
    count = simulate_learner(store)
    fit = optimize(store, T0 + 200 * DAY)
    assert fit.reviews == count >= 400
    assert fit.log_loss_fitted < fit.log_loss_default and fit.rmse_fitted < fit.rmse_default
    # about as good as the learner's true parameters themselves
    truth = FSRS(TRUE_PARAMETERS).evaluate(training_items(store).scored)
    assert truth.log_loss < fit.log_loss_default and fit.log_loss_fitted < truth.log_loss + 0.005
    stored = store.row("SELECT * FROM parameters")
    assert json.loads(stored["parameters"]) == fit.parameters and stored["reviews"] == count
    assert stored["items"] == fit.items == len(training_items(store).scored)
    assert stored["log_loss_fitted"] == fit.log_loss_fitted
    # later reviews use them, and the replay of every review stays exact
    review = record_review(store, "card:lonely", 3, "flashcard", 3, T0 + 201 * DAY)
    config = store.value("SELECT s.config FROM reviews r JOIN schedulers s ON s.id = r.scheduler_id "
                         "WHERE r.id = ?", (review.id,))
    assert json.loads(config)["parameters"] == fit.parameters
    record_review(store, "card:lonely", 3, "flashcard", 3, T0 + 202 * DAY)
    conn = sqlite3.connect(db_path)
    try:
        card, count_lonely, _ = replay(conn, "card:lonely")
        assert count_lonely == 2
        row = store.row("SELECT stability, due FROM items WHERE id = 'card:lonely'")
        assert (row["stability"], row["due"]) == (card.stability, clock.format_time(card.due))
    finally:
        conn.close()


# --- the migration keeps old logs exact ---------------------------------------------------------

def test_a_log_written_before_schedulers_were_stored_still_replays_exactly(tmp_path):
    """A database of schema 2 (reviews made with fsrs's defaults, no fuzz, each with its
    retention) is migrated: its reviews point to those schedulers, and later reviews (fuzz
    on, an exercise's steps of one day) replay exactly after them."""
    path = tmp_path / "old.db"
    conn, db = database_of_schema(path, 2)
    old_reviews = {"exercise:l1": [(3, 0.9), (3, 0.9), (1, 0.85)], "card:lonely": [(3, 0.85)]}
    for position, (item_id, ratings_) in enumerate(old_reviews.items()):
        moment, card, lapses = T0 - 60 * DAY, Card(1, due=T0 - 60 * DAY), 0
        for rating, retention in ratings_:
            state_before = int(card.state) if card.last_review else 0
            lapses += rating == 1 and state_before == 2
            card, _ = Scheduler(desired_retention=retention, enable_fuzzing=False).review_card(
                card, Rating(rating), moment)
            db["reviews"].insert({"item_id": item_id, "rating": rating, "source": "grade",
                                  "reviewed_at": clock.format_time(moment), "retention": retention,
                                  "hints": 0, "state_before": state_before, "state": int(card.state),
                                  "step": card.step, "stability": card.stability,
                                  "difficulty": card.difficulty, "due": clock.format_time(card.due)})
            moment += 12 * DAY
        db["items"].insert({"id": item_id, "kind": item_id.split(":")[0], "ref": item_id.split(":")[1],
                            "position": position, "state": int(card.state), "step": card.step,
                            "stability": card.stability, "difficulty": card.difficulty,
                            "due": clock.format_time(card.due), "reps": len(ratings_), "lapses": lapses,
                            "last_review": clock.format_time(card.last_review)})
    conn.commit()
    conn.close()
    with open_schedule(path) as store:
        configs = [json.loads(c) for (c,) in store.conn.execute("SELECT config FROM schedulers")]
        assert sorted(c["desired_retention"] for c in configs) == [0.85, 0.9]
        assert not any(c["enable_fuzzing"] for c in configs)
        assert store.value("SELECT count(*) FROM reviews WHERE scheduler_id IS NULL") == 0
        for when in (T0, T0 + 20 * DAY):
            record_review(store, "exercise:l1", 3, "grade", None, when)
        record_review(store, "card:lonely", 3, "flashcard", None, T0)
    assert_state_is_replay(path, legacy={"exercise:l1": 3, "card:lonely": 1})
