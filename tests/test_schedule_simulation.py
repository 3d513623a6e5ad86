"""A learner follows `mlquiz next` for 90 days through the real command line (click's runner,
the real database, ``MLQUIZ_NOW`` for the clock), and every rule of the schedule is checked
as it goes and on the log at the end.

The learner lives in Shanghai (the day starts at 04:00 there, 20:00 UTC) and studies at
20:00 local time, sometimes again at 02:30 (still the same day). Their memory follows FSRS
with parameters of their own; each exercise is written from a blank page (`mlquiz start`)
and graded by `mlquiz grade`, whose grader is replaced by one that passes a file holding
"# recalled" (the grader is tested elsewhere; the schedule decides what is a review from the
text alone). Now and then they submit something that is not a review, use a hint, fail,
pass and fail again on one day, undo a rating, bury or suspend an item, and at the end fit
the parameters to their log.
"""

import json
import os
import random
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from fsrs import Card, Rating, Scheduler

from mlquiz import clock
from mlquiz.cli import main
from mlquiz.cards.deck import cards_for_exercise
from mlquiz.curriculum import exercises, get_exercise
from mlquiz.schedule import attempts as attempts_module, items as schedule_items
from mlquiz.grading import engine
from mlquiz.grading.report import FAIL, PASS, FunctionReport, Report, failure_details
from test_schedule import assert_state_is_replay

LEARNER_DAY = clock.Day(4, ZoneInfo("Asia/Shanghai"))
START = datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc)  # 20:00 in Shanghai
NEW_PER_DAY = 3
CARDS_PER_TOPIC = 2
DAYS = 90
TRUE_PARAMETERS = [0.6, 2.0, 5.0, 15.0, 6.0, 0.9, 2.5, 0.01, 1.4, 0.2, 0.9, 1.6, 0.07, 0.3,
                   1.5, 0.6, 2.0, 0.5, 0.1, 0.07, 0.2]


def fake_grade_file(path, exercise=None, **options):
    """Passes every function of a file holding "# recalled", fails them otherwise."""
    found = get_exercise(exercise or Path(path).name)
    text = Path(path).read_text()
    verdict = PASS if "# recalled" in text else FAIL
    functions = [FunctionReport(name, verdict, 1, int(verdict == FAIL), 0.0,
                                None if verdict == PASS else failure_details("forgotten"))
                 for name in found.functions]
    return Report(found.id, found.title_en, str(path), 0, functions, source=text)


class Learner:
    """The command line, the clock, and a memory of FSRS with parameters of its own."""

    def __init__(self, tmp_path, monkeypatch, folder):
        self.db = folder / "mlquiz.db"
        self.work = tmp_path / "work"
        self.work.mkdir()
        self.rng = random.Random(20260302)
        self.runner = CliRunner()
        self.now = START
        self.memory = {}
        self.truth = Scheduler(parameters=TRUE_PARAMETERS, enable_fuzzing=False)
        self.edits = 0
        self.conn = None
        self.hint_pending = set()
        self.expected_ratings = {}  # item -> the ratings the rules call for
        self.checked = {"not a review": set(), "unchanged": 0, "fail-pass-fail": 0, "hard": 0,
                        "undo": 0, "bury": 0, "suspend": 0, "late session": 0, "called for": 0}
        monkeypatch.setattr(engine, "grade_file", fake_grade_file)
        # a smaller deck, to keep the test quick: the first cards of each topic
        deck = {ex.id: cards_for_exercise(ex.id)[:CARDS_PER_TOPIC] for ex in exercises()}
        monkeypatch.setattr(schedule_items, "deck_card_ids",
                            lambda: tuple(c for cards in deck.values() for c in cards))
        monkeypatch.setattr(attempts_module, "deck_cards_for_exercise", lambda ex: deck[ex])

    def run(self, *args, input=None, code=0):
        result = self.runner.invoke(main, [*map(str, args), "--db", str(self.db)], input=input,
                                    env={"MLQUIZ_NOW": clock.format_time(self.now)},
                                    catch_exceptions=False)
        assert result.exit_code == code, (args, result.output)
        assert "Traceback" not in result.output
        return result.output

    def sql(self, query, params=()):
        """A read of the database (one connection kept open: autocommit, so each read sees
        the latest commit)."""
        if self.conn is None:
            self.conn = sqlite3.connect(self.db, isolation_level=None)
        return self.conn.execute(query, params).fetchall()

    def reviews(self):
        return self.sql("SELECT count(*) FROM reviews")[0][0]

    def recalls(self, item_id, first_chance):
        card = self.memory.get(item_id)
        chance = first_chance if card is None else self.truth.get_card_retrievability(card, self.now)
        return self.rng.random() < chance

    def remember(self, item_id, rating):
        card = self.memory.get(item_id) or Card(1)
        self.memory[item_id], _ = self.truth.review_card(card, Rating(rating), self.now)
        self.expected_ratings.setdefault(item_id, []).append(rating)

    # --- the order of practice, computed independently --------------------------------------

    def expected_heads(self):
        """The items that may come first now (ties allowed), from the items table and fsrs's
        retrievability, by the rules: (re)learning due, called for, reviews lowest R, new."""
        now_text = clock.format_time(self.now)
        end = clock.format_time(LEARNER_DAY.end(self.now))
        start = clock.format_time(LEARNER_DAY.start(self.now))
        rows = self.sql("SELECT id, kind, state, due, requested_at, position, stability, "
                        "difficulty, last_review, introduced FROM items WHERE active = 1 "
                        "AND suspended = 0 AND (buried_until IS NULL OR buried_until <= ?)",
                        (now_text,))
        introduced = sum(1 for *_, when in self.sql("SELECT id, introduced FROM items")
                         if when and start <= when < end)
        left = max(0, NEW_PER_DAY - introduced)
        items = []
        for item_id, kind, state, due, requested, position, s, d, last, _ in rows:
            when = min(t for t in (due, requested) if t) if (due or requested) else None
            available = when is not None and (when <= now_text or (
                when < end and (state == 2 or kind == "exercise")))
            items.append((item_id, kind, state, when, requested, position, s, d, last, available))
        learning = [(i[3], i[5], i[0]) for i in items if i[2] in (1, 3) and i[9]]
        if learning:
            return {min(learning)[2]}
        called = sorted((i[4], i[5], i[0], i[2]) for i in items if i[4] and i[2] in (0, 2))
        called = [c for c in called if c[3] == 2 or left > 0]
        if called:
            return {called[0][2]}
        scheduler = Scheduler(parameters=self.parameters())
        reviews = []
        for item_id, kind, state, when, requested, position, s, d, last, available in items:
            if state == 2 and not requested and available:
                card = Card(1, state=2, stability=s, difficulty=d, last_review=clock.parse_time(last))
                reviews.append((scheduler.get_card_retrievability(card, self.now), item_id))
        if reviews:
            lowest = min(r for r, _ in reviews)
            return {item_id for r, item_id in reviews if r == lowest}
        new = sorted((i[5], i[0]) for i in items if i[2] == 0 and not i[4])
        return {new[0][1]} if new and left > 0 else set()

    def parameters(self):
        stored = self.sql("SELECT parameters FROM parameters ORDER BY id DESC LIMIT 1")
        return json.loads(stored[0][0]) if stored else Scheduler().parameters

    # --- one item -------------------------------------------------------------------------------

    def review_card(self, item_id):
        ref = item_id.removeprefix("card:")
        recalled = self.recalls(item_id, 0.6)
        rating = (4 if self.rng.random() < 0.1 else 3) if recalled else 1
        columns = "state, step, stability, difficulty, due, reps, lapses, requested_at, hints"
        before = self.sql(f"SELECT {columns} FROM items WHERE id = ?", (item_id,))
        if self.rng.random() < 0.04:  # a slip of the finger, taken back
            self.run("review", "--limit", "1", input=f"\n{5 - rating if rating > 1 else 4}\n")
            self.run("undo")
            assert self.sql(f"SELECT {columns} FROM items WHERE id = ?", (item_id,)) == before
            self.checked["undo"] += 1
        output = self.run("review", "--limit", "1", input=f"\n{rating}\n")
        assert f"] {ref}\n" in output  # review takes the card next names
        assert "1 again (in " in output and "4 easy (in " in output  # intervals beside ratings
        self.remember(item_id, rating)

    def grade(self, exercise, text, counted, rating=None):
        path = self.work / exercise.file
        path.write_text(text)
        before = self.reviews()
        output = self._grade(path)
        added = self.reviews() - before
        if counted:
            assert added == 1, output
            (got,) = self.sql("SELECT rating FROM reviews ORDER BY id DESC LIMIT 1")[0]
            assert got == rating, (exercise.id, output)
            interval = self.sql("SELECT julianday(due) - julianday(reviewed_at) FROM reviews "
                                "ORDER BY id DESC LIMIT 1")[0][0]
            assert interval >= 1 - 1e-9  # an exercise moves in days, never in minutes
        else:
            assert added == 0, output
        return output

    def _grade(self, path):
        result = self.runner.invoke(main, ["grade", str(path), "--db", str(self.db)],
                                    env={"MLQUIZ_NOW": clock.format_time(self.now)},
                                    catch_exceptions=False)
        assert result.exit_code in (0, 1) and "Traceback" not in result.output
        return result.output

    def failed_today(self, item_id):
        today = LEARNER_DAY.date_of(self.now)
        return any(LEARNER_DAY.date_of(clock.parse_time(t)) == today for (t,) in self.sql(
            "SELECT reviewed_at FROM reviews WHERE item_id = ? AND rating = 1", (item_id,)))

    def written(self, exercise, recalled):
        self.edits += 1
        mark = "recalled" if recalled else "forgotten"
        return exercise.reference_path.read_text() + f"\n# {mark} {self.edits}\n"

    def do_exercise(self, item_id):
        exercise = get_exercise(item_id.removeprefix("exercise:"))
        path = self.work / exercise.file
        output = self.run("start", exercise.id, "--file", path)
        assert path.read_text() == exercise.stub_path.read_text() and "clock runs from" in output
        self.now += timedelta(minutes=3)
        if self.rng.random() < 0.25:
            self.not_a_review(exercise)
        if self.rng.random() < 0.15:
            self.run("hint", exercise.id)
            self.hint_pending.add(item_id)
            again = self.run("hint", exercise.id, "--again")
            assert "Re-reading counts no hint" in again
        self.now += timedelta(minutes=25)
        recalled = self.recalls(item_id, 0.5)
        if not recalled:
            counted = not self.failed_today(item_id)
            self.grade(exercise, self.written(exercise, False), counted, 1)
            if counted:
                self.remember(item_id, 1)
                cards = self.sql("SELECT count(*) FROM items WHERE topic = ? AND kind = 'card' "
                                 "AND requested_at IS NOT NULL", (exercise.id,))[0][0]
                self.checked["called for"] += cards
            self.now += timedelta(minutes=10)
        rating = 2 if item_id in self.hint_pending else 3
        self.grade(exercise, self.written(exercise, True), True, rating)
        self.checked["hard"] += rating == 2
        self.hint_pending.discard(item_id)
        self.remember(item_id, rating)
        self.now += timedelta(minutes=2)
        if not recalled and self.rng.random() < 0.5:  # fail, pass, fail on one day: one Again
            output = self.grade(exercise, self.written(exercise, False), False)
            assert "no new lapse" in output
            self.checked["fail-pass-fail"] += 1
        elif self.rng.random() < 0.2:
            output = self.grade(exercise, path.read_text(), False)
            assert "unchanged since attempt" in output and "fresh rewrite" in output
            self.checked["unchanged"] += 1

    def not_a_review(self, exercise):
        others = [e for e in exercises() if e.id != exercise.id]
        kinds = ["empty", "syntax", "other", "stub"]
        kind = kinds[len(self.checked["not a review"]) % 4] if len(
            self.checked["not a review"]) < 4 else self.rng.choice(kinds)
        other = self.rng.choice(others)
        text = {"empty": "", "syntax": "def broken(:\n", "stub": exercise.stub_path.read_text(),
                "other": other.reference_path.read_text()}[kind]
        output = self.grade(exercise, text, False)
        words = {"empty": "the file is empty", "syntax": "the file does not parse",
                 "stub": "nothing in the file is implemented yet",
                 "other": f"this file defines {other.id}'s functions: --exercise {other.id}?"}[kind]
        assert f"not recorded: {words}" in output
        self.checked["not a review"].add(kind)

    # --- a session ----------------------------------------------------------------------------

    def session(self, day, suspended):
        buried = None
        for _ in range(80):
            data = json.loads(self.run("next", "--json"))
            if data["item"] is None:
                break
            item_id = data["item"]
            assert item_id in self.expected_heads(), (self.now, item_id, self.expected_heads())
            assert item_id not in (suspended, buried)
            if buried is None and self.rng.random() < 0.05:
                output = self.run("bury", item_id)
                assert "until your next day starts" in output
                buried = item_id
                self.checked["bury"] += 1
                continue
            if data["kind"] == "card":
                self.review_card(item_id)
            else:
                if self.rng.random() < 0.3:  # review says that an exercise comes first
                    output = self.run("review", "--limit", "1", input="")
                    assert (f"First comes the exercise {data['ref']}" in output
                            or f"Exercise due: {data['ref']}" in output), output
                    assert f"mlquiz start {data['ref']}" in output
                self.do_exercise(item_id)
            self.now += timedelta(minutes=2)


@pytest.fixture
def memory_folder(tmp_path):
    """A folder in memory (tmpfs) where there is one: thousands of commits, each synced to
    disk, would otherwise make the test wait on the disk more than it runs."""
    import shutil
    import tempfile

    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="mlquiz-test-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_ninety_days_of_practice_follow_every_rule(tmp_path, monkeypatch, memory_folder):
    learner = Learner(tmp_path, monkeypatch, memory_folder)
    learner.run("config", "set", "timezone", "Asia/Shanghai")
    learner.run("config", "set", "new_per_day", str(NEW_PER_DAY))
    suspended = None
    for day in range(DAYS):
        learner.now = START + timedelta(days=day)
        if day == 10:
            suspended = learner.sql("SELECT id FROM items WHERE kind = 'card' AND state = 2 "
                                    "ORDER BY id LIMIT 1")[0][0]
            learner.run("suspend", suspended)
        if day == 20:
            learner.run("unsuspend", suspended)
            learner.checked["suspend"] += 1
            suspended = None
        learner.session(day, suspended)
        if learner.rng.random() < 0.25:  # 02:30 in Shanghai: the same learner's day
            learner.now = START + timedelta(days=day, hours=6, minutes=30)
            assert LEARNER_DAY.date_of(learner.now) == LEARNER_DAY.date_of(START + timedelta(days=day))
            learner.session(day, suspended)
            learner.checked["late session"] += 1
        if day == DAYS - 2:
            count = learner.reviews()
            if count < 400:
                assert "needs at least 400" in learner.run("optimize", code=1)
            else:
                output = learner.run("optimize")
                assert f"to {count} reviews" in output and "log-loss" in output

    checked = learner.checked
    assert checked["not a review"] == {"empty", "syntax", "other", "stub"}
    assert all(checked[k] for k in checked), checked

    # the log: every stored state and review row is the replay through fsrs
    assert_state_is_replay(learner.db)
    # each item's ratings are the ones the rules called for
    for item_id, expected in learner.expected_ratings.items():
        got = [r for (r,) in learner.sql("SELECT rating FROM reviews WHERE item_id = ? ORDER BY id",
                                         (item_id,))]
        assert got == expected, item_id
    # new items a learner's day, and one Again an exercise a day at most
    per_day, agains = {}, {}
    for (when,) in learner.sql("SELECT introduced FROM items WHERE introduced IS NOT NULL"):
        day = LEARNER_DAY.date_of(clock.parse_time(when))
        per_day[day] = per_day.get(day, 0) + 1
    assert max(per_day.values()) <= NEW_PER_DAY and len(per_day) > 8
    for item_id, when in learner.sql("SELECT item_id, reviewed_at FROM reviews WHERE rating = 1 "
                                     "AND item_id LIKE 'exercise:%'"):
        key = (item_id, LEARNER_DAY.date_of(clock.parse_time(when)))
        agains[key] = agains.get(key, 0) + 1
    assert agains and max(agains.values()) == 1
    # every graded review was timed from `mlquiz start`
    durations = learner.sql("SELECT duration_seconds FROM reviews WHERE source = 'grade'")
    assert durations and all(d is not None and d > 0 for (d,) in durations)
