"""The schedule's commands, through click's CliRunner and, for the hot path, a real process."""

import json
import os
import shutil
import subprocess
import sys
import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

import mlquiz
from mlquiz.cli import main
from mlquiz.curriculum import exercises, get_exercise
from mlquiz.schedule import items as schedule_items
from mlquiz.schedule.attempts import record_attempt
from mlquiz.schedule.items import open_schedule
from mlquiz.schedule.review import record_review
from test_schedule import hints_used

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def exercises_only(monkeypatch, tmp_path):
    """No flashcards (the deck is tested elsewhere) and a database of the test's own."""
    monkeypatch.setattr(schedule_items, "deck_card_ids", lambda: ())
    monkeypatch.setenv("MLQUIZ_DB", str(tmp_path / "db" / "mlquiz.db"))
    monkeypatch.setenv("MLQUIZ_NOW", "2026-03-02T09:00:00Z")


@pytest.fixture
def db(tmp_path):
    return tmp_path / "db" / "mlquiz.db"


def run(*args, now=None):
    env = {"MLQUIZ_NOW": now} if now else {}
    result = CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)
    return result


def test_the_commands_are_registered():
    result = run("--help")
    for name in ("next", "history", "stats", "config", "hint", "attempts", "reset", "restore"):
        assert f"  {name}" in result.output


# --- next -----------------------------------------------------------------------------------

def test_next_json_on_a_new_database_creates_it(db):
    result = run("next", "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    first = exercises()[0]
    assert data["item"] == f"exercise:{first.id}" and data["kind"] == "exercise"
    assert data["due"] is None and data["due_count"] == 10 and data["new"] is True
    assert data["file"] == f"exercises/{first.file}"
    assert data["command"] == f"mlquiz grade exercises/{first.file}"
    assert db.is_file()


def test_next_tells_what_to_open_and_how_to_grade_it():
    result = run("next")
    assert result.exit_code == 0
    assert "Practise now: backprop" in result.output
    assert "mlquiz grade exercises/backprop.py" in result.output
    assert "mlquiz hint backprop" in result.output
    assert "9 more to practise today." in result.output


def test_next_when_nothing_is_due(db):
    assert run("config", "set", "new_per_day", "0").exit_code == 0
    assert run("config", "set", "timezone", "UTC").exit_code == 0  # days start at 04:00 UTC
    assert json.loads(run("next", "--json").output) == {"item": None, "next_due": None}
    assert "Nothing is scheduled." in run("next").output
    with open_schedule(db) as store:
        record_review(store, "exercise:l2", 3, "grade", None, T0)  # a pass: due in 2 days
    assert json.loads(run("next", "--json").output) == {"item": None,
                                                        "next_due": "2026-03-04T04:00:00Z"}
    assert "Next item: 2026-03-04 04:00 UTC (in 43 h)" in run("next").output


def test_a_due_exercise_suggests_rewriting_it_from_memory(db):
    with open_schedule(db) as store:
        record_review(store, "exercise:gbdt", 3, "grade", None, T0 - timedelta(days=30))
        record_review(store, "exercise:gbdt", 3, "grade", None, T0 - timedelta(days=30))
    result = run("next")
    assert "Practise now: gbdt" in result.output and "mlquiz start gbdt" in result.output
    assert "due 2" in result.output and "ago" in result.output


# --- history, stats, config -----------------------------------------------------------------

def test_history_prints_one_row_a_review(db):
    with open_schedule(db) as store:
        record_review(store, "exercise:l1", 3, "grade", 75, T0)
        record_review(store, "exercise:l2", 1, "grade", None, T0)
    lines = run("history").output.splitlines()
    assert len(lines) == 3 and "rating" in lines[0]
    assert "exercise:l1" in lines[1] and "Good" in lines[1] and "1 min" in lines[1]
    assert "Again" in lines[2]
    rows = json.loads(run("history", "l2", "--json").output)
    assert [(r["item"], r["rating"], r["rating_name"]) for r in rows] == [
        ("exercise:l2", 1, "Again")]
    assert run("history", "--limit", "1", "--json").output.count('"item"') == 1
    unknown = run("history", "nothing_like_this")
    assert unknown.exit_code == 2 and "unknown item" in unknown.output
    assert "No reviews yet." in run("history", "taylor").output


def test_stats_text_and_json(db):
    with open_schedule(db) as store:
        record_review(store, "exercise:l1", 3, "grade", 75, T0 - timedelta(days=3))
    text = run("stats").output
    for part in ("exercises", "Due today:", "Reviews a day, last 30 days", "Retention:",
                 "Due a day, next 30 days", "Progress by topic:", "backprop"):
        assert part in text
    data = json.loads(run("stats", "--json").output)
    assert data["reviews_last_30_days"] == 1 and len(data["forecast"]) == 30
    assert [t["topic"] for t in data["topics"]] == [e.id for e in exercises()]


def test_config_set_and_get():
    assert run("config", "set", "retention", "0.85").output.strip() == "retention = 0.85"
    assert run("config", "get", "retention").output.strip() == "0.85"
    listing = run("config", "get").output
    assert "retention = 0.85" in listing and "new_per_day = 10" in listing
    bad = run("config", "set", "retention", "1.2")
    assert bad.exit_code == 2 and "between 0.7 and 0.99" in bad.output
    unknown = run("config", "get", "speed")
    assert unknown.exit_code == 2 and "unknown setting" in unknown.output


# --- hint, attempts, reset, restore ---------------------------------------------------------

def test_hint_shows_the_next_hint_and_records_it(db):
    hints = get_exercise("bn_backward").hints
    first = run("hint", "bn_backward")
    assert first.exit_code == 0 and f"Hint 1 of {len(hints)}" in first.output
    assert hints[0].split()[0] in first.output
    second = run("hint", "bn_backward.py")
    assert f"Hint 2 of {len(hints)}" in second.output
    with open_schedule(db) as store:
        assert hints_used(store, "bn_backward") == 2
    unknown = run("hint", "transformers")
    assert unknown.exit_code == 2 and "unknown exercise" in unknown.output


def test_attempts_reset_and_restore(db, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stub = get_exercise("taylor").stub_path.read_text()
    assert "No stored attempts of taylor" in run("attempts", "taylor").output

    result = run("reset", "taylor")
    assert result.exit_code == 0 and "Wrote a fresh stub to exercises/taylor.py" in result.output
    work = tmp_path / "exercises" / "taylor.py"
    assert work.read_text() == stub

    work.write_text("def taylor_polynomial(derivs, x0, x):\n    return 0\n")
    with open_schedule(db) as store:
        record_attempt(store, "taylor", work, work.read_text(), False, {"v": 1}, T0)
    work.write_text("# my second try\n")
    result = run("reset", "taylor")
    assert "Saved your file as attempt 2." in result.output and work.read_text() == stub

    listing = run("attempts", "taylor").output
    assert "failed" in listing and "saved before reset" in listing
    rows = json.loads(run("attempts", "taylor", "--json").output)
    assert [(r["attempt"], r["kind"]) for r in rows] == [(1, "graded"), (2, "saved")]

    result = run("restore", "taylor", "--attempt", "2")
    assert result.exit_code == 0 and "Restored attempt 2 of taylor" in result.output
    assert work.read_text() == "# my second try\n"
    result = run("restore", "taylor", "--attempt", "1", "--file", tmp_path / "copy.py")
    assert (tmp_path / "copy.py").read_text().startswith("def taylor_polynomial")
    missing = run("restore", "taylor", "--attempt", "7")
    assert missing.exit_code == 1 and "no attempt 7" in missing.output


# --- errors ---------------------------------------------------------------------------------

def test_errors_are_messages_not_tracebacks(tmp_path):
    foreign = tmp_path / "photos.db"
    foreign.write_text("not sqlite")
    result = run("stats", "--db", foreign)
    assert result.exit_code == 1 and "not an mlquiz database" in result.output
    bad_clock = run("next", now="next tuesday")
    assert bad_clock.exit_code == 2 and "MLQUIZ_NOW" in bad_clock.output


# --- the hot path, in a real process --------------------------------------------------------

PROBE = """
import json, sys
from mlquiz.cli import main
sys.argv = ["mlquiz", "next", "--json"]
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m in ("numpy", "sympy", "fsrs", "sqlite_utils", "pandas", "platformdirs")
               if m in sys.modules)
print(json.dumps(heavy))
"""


def test_next_imports_nothing_heavy(tmp_path):
    env = {**os.environ, "MLQUIZ_DB": str(tmp_path / "hot.db"),
           "MLQUIZ_NOW": "2026-03-02T09:00:00Z"}

    def probe():
        out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, text=True,
                             capture_output=True, check=True, timeout=60).stdout.splitlines()
        assert json.loads(out[0])["item"]
        return json.loads(out[-1])

    assert probe() == ["sqlite_utils"]  # first use: the schema is created with sqlite-utils
    assert probe() == []  # from then on: sqlite3 only


NEXT_PROBE = """
import json, sys
import mlquiz
from mlquiz.cli import main
sys.argv = ["mlquiz", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
print(json.dumps({"package": mlquiz.__file__, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def test_next_follows_the_deck_and_the_curriculum_as_edited_without_reading_them_each_time(
        tmp_path):
    """A copy of the package, edited as an author edits it: ``next`` shows a card's question
    as its file says it, in either language, and the curriculum's order once it changes;
    between changes it reads neither the deck nor any TOML file."""
    package = tmp_path / "site" / "mlquiz"
    shutil.copytree(Path(mlquiz.__file__).parent, package,
                    ignore=shutil.ignore_patterns("__pycache__", "_data"))
    env = {**os.environ, "PYTHONPATH": str(package.parent), "MLQUIZ_DB": str(tmp_path / "m.db"),
           "MLQUIZ_NOW": "2026-03-02T09:00:00Z", "MLQUIZ_LANG": "en"}

    def next_(*options):
        result = subprocess.run([sys.executable, "-c", NEXT_PROBE, "next", *options],
                                cwd=tmp_path, env=env, text=True, capture_output=True,
                                timeout=120)
        assert result.returncode == 0, result.stderr
        probe = json.loads(result.stderr.strip().splitlines()[-1])
        assert probe["package"] == str(package / "__init__.py")
        return "".join(result.stdout.split()), set(probe["modules"])  # wrapping aside

    def first_card(topic):
        with open(package / "cards" / f"{topic}.toml", "rb") as f:
            return tomllib.load(f)["card"][0]

    def shows(shown, card, language="en"):
        return (card["id"] in shown
                and "".join(card[f"question_{language}"].split()) in shown)

    curriculum = (package / "curriculum.toml").read_text(encoding="utf-8")
    first, second = [e["id"] for e in tomllib.loads(curriculum)["exercise"][:2]]
    card = first_card(first)
    shown, _ = next_()  # a new database: the items are synced from the deck
    assert shows(shown, card)
    again, loaded = next_()
    assert again == shown
    assert not {"tomllib", "mlquiz.cards", "mlquiz.cards.deck"} & loaded
    shown, loaded = next_("--lang", "zh")
    assert shows(shown, card, "zh") and "tomllib" not in loaded

    deck_file = package / "cards" / f"{first}.toml"
    text = deck_file.read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.startswith("question_en = "))
    deck_file.write_text(text.replace(line, 'question_en = "Edited: what does it compute?"', 1),
                         encoding="utf-8")
    assert first_card(first)["question_en"] == "Edited: what does it compute?"
    shown, _ = next_()
    assert shows(shown, first_card(first))

    head, *blocks = curriculum.split("\n[[exercise]]\n")  # the first two exercises swapped
    blocks[0], blocks[1] = blocks[1], blocks[0]
    (package / "curriculum.toml").write_text("\n[[exercise]]\n".join([head, *blocks]),
                                             encoding="utf-8")
    shown, _ = next_()
    assert shows(shown, first_card(second))
    again, loaded = next_()
    assert again == shown and "tomllib" not in loaded
