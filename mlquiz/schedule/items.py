"""The items of the schedule: every exercise and every flashcard, in curriculum order.

An item's id is ``exercise:<id>`` or ``card:<id>``; its ``state`` is FSRS's (1 learning,
2 review, 3 relearning) or 0 for an item never reviewed. ``sync_items`` keeps the ``items``
table in step with ``curriculum.toml`` and the deck (a card's row holds its question, so that
``mlquiz next`` need not load the deck); ``open_schedule`` opens the store and syncs it, as
every command does.
"""

from __future__ import annotations

import os
import warnings
import zlib
from pathlib import Path
from typing import NamedTuple

from mlquiz.curriculum import (PACKAGE_DIR, Exercise, UnknownExercise, exercises, get_exercise,
                               require_exercise)
from mlquiz.i18n import _
from mlquiz.schedule.store import Store, open_store

KINDS = ("exercise", "card")
NEW, LEARNING, REVIEW, RELEARNING = 0, 1, 2, 3  # 1-3 are fsrs.State; 0: never reviewed
STATES = {NEW: "new", LEARNING: "learning", REVIEW: "review", RELEARNING: "relearning"}


class ScheduleError(Exception):
    """A request the schedule cannot satisfy; the message says why."""


class UnknownItem(ScheduleError):
    """An exercise or a card that the schedule does not know."""


def open_schedule(path=None) -> Store:
    """Open the database at ``path`` (``open_store``: None means ``$MLQUIZ_DB`` or the user
    data folder) and bring its items up to date with the curriculum and the deck."""
    store = open_store(path)
    try:
        sync_items(store)
    except BaseException:
        store.close()
        raise
    return store


class CatalogueEntry(NamedTuple):
    id: str
    kind: str
    ref: str
    topic: str | None


def deck_card_ids() -> tuple[str, ...]:
    """The flashcard ids in curriculum order."""
    from mlquiz.cards.deck import card_ids

    return tuple(card_ids())


def deck_questions(card_ids) -> dict[str, tuple[str, str]]:
    """The question of each card of ``card_ids`` that the deck holds: ``(English, Chinese)``
    by card id."""
    from mlquiz.cards.deck import get_card

    cards = (get_card(card_id) for card_id in card_ids)
    return {card.id: (card.question_en, card.question_zh) for card in cards if card is not None}


def card_question(store: Store, item_id: str) -> dict[str, str] | None:
    """A card's question as its row holds it, by language (``{"en": ..., "zh": ...}``); None
    for an exercise or a card the deck does not hold."""
    row = store.conn.execute("SELECT question_en, question_zh FROM items WHERE id = ?",
                             (item_id,)).fetchone()
    return None if row is None or row[0] is None else {"en": row[0], "zh": row[1]}


def deck_cards_for_exercise(exercise_id: str) -> list[str]:
    """The ids of the flashcards of an exercise's formulas."""
    from mlquiz.cards.deck import cards_for_exercise

    return list(cards_for_exercise(exercise_id))


def _card_topic(card: str, exercise_ids: list) -> str | None:
    """The topic of a card from its id, ``<topic>.<name>`` (the deck checks that form)."""
    for exercise_id in exercise_ids:  # longest first: bn_backward before bn
        rest = card[len(exercise_id):]
        if card.startswith(exercise_id) and rest and not rest[0].isalnum():
            return exercise_id
    return None


def catalogue(card_ids=None) -> list[CatalogueEntry]:
    """Every item in curriculum order: for each topic its flashcards (learn the formulas),
    then its exercise (implement them); cards of no topic last. ``card_ids``: the deck's
    card ids (default: ``deck_card_ids()``)."""
    topics = exercises()
    exercise_ids = sorted((ex.id for ex in topics), key=len, reverse=True)
    by_topic = {ex.id: [] for ex in topics}
    loose = []
    for card in dict.fromkeys(deck_card_ids() if card_ids is None else card_ids):
        topic = _card_topic(card, exercise_ids)
        (by_topic[topic] if topic else loose).append(card)
    entries = []
    for ex in topics:
        entries += [CatalogueEntry(f"card:{c}", "card", c, ex.id) for c in by_topic[ex.id]]
        entries.append(CatalogueEntry(f"exercise:{ex.id}", "exercise", ex.id, ex.id))
    entries += [CatalogueEntry(f"card:{c}", "card", c, None) for c in loose]
    return entries


def _question(entry: CatalogueEntry, questions: dict) -> tuple[str | None, str | None]:
    """The question of an entry, ``(English, Chinese)`` from ``deck_questions``; ``(None,
    None)`` for an exercise or a card the deck does not hold."""
    return questions.get(entry.ref, (None, None)) if entry.kind == "card" else (None, None)


def _fingerprint(entries, questions: dict) -> str:
    """Count and CRC-32 of the list and the cards' questions (zlib: hashlib's import alone
    would slow ``next``)."""
    text = "\n".join(f"{e.id}\t{e.topic or ''}\t{_question(e, questions)}" for e in entries)
    return f"{len(entries)}:{zlib.crc32(text.encode()):08x}"


def _sources_signature() -> str:
    """Size and modification time of the files the item list comes from: curriculum.toml
    and everything under mlquiz/cards/. Cheaper than loading the deck on every start."""
    package = PACKAGE_DIR
    paths = [str(package / "curriculum.toml")]
    for folder, subfolders, files in os.walk(package / "cards"):
        subfolders[:] = sorted(d for d in subfolders
                               if d != "__pycache__" and not d.startswith("."))
        paths += [os.path.join(folder, name) for name in sorted(files)]
    parts = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:  # removed meanwhile
            continue
        parts.append(f"{path}:{info.st_size}:{info.st_mtime_ns}")
    text = "\n".join(parts)
    return f"{len(parts)}:{zlib.crc32(text.encode()):08x}"


def sync_items(store: Store, force: bool = False) -> bool:
    """Bring the items table up to date with the curriculum and the deck: add new items,
    renumber positions, copy each card's question, mark items no longer listed inactive
    (their history stays). Unless ``force``, nothing is loaded while the source files are
    unchanged, and nothing is written while the list and the questions are. Returns whether
    the items changed.

    A deck that fails to load (a bug, not something a learner can cause) must not stop the
    schedule: it is reported as a ``RuntimeWarning``, the items stay as they were (a new
    database gets the exercises), and the next start tries again."""
    signature = _sources_signature()
    if not force and store.get_meta("items_sources") == signature:
        return False
    try:
        cards = deck_card_ids()
        questions = deck_questions(cards)
    except Exception as exc:  # noqa: BLE001 - see the docstring
        warnings.warn(f"mlquiz: the flashcard deck could not be loaded ({exc}); the schedule "
                      "keeps its items as they were", RuntimeWarning, stacklevel=2)
        cards, questions = None, {}
    entries = catalogue(() if cards is None else cards)
    fingerprint = _fingerprint(entries, questions)
    with store.write():
        if cards is None:
            if store.value("SELECT count(*) FROM items"):
                return False
        elif store.get_meta("items_fingerprint") == fingerprint:  # or another process did it
            store.set_meta("items_sources", signature)
            return False
        else:
            store.conn.execute("UPDATE items SET active = 0")
        rows = []
        for position, entry in enumerate(entries):
            question_en, question_zh = _question(entry, questions)
            rows.append({"id": entry.id, "kind": entry.kind, "ref": entry.ref,
                         "topic": entry.topic, "position": position, "active": 1,
                         "question_en": question_en, "question_zh": question_zh})
        store.db["items"].upsert_all(rows, pk="id")
        if cards is not None:
            store.set_meta("items_fingerprint", fingerprint)
            store.set_meta("items_sources", signature)
    return True


def exercise_named(name: str) -> Exercise:
    """The exercise of an id, a file name or an ``exercise:<id>`` item id."""
    try:
        return require_exercise(name.removeprefix("exercise:") if name else name)
    except UnknownExercise as exc:
        raise UnknownItem(str(exc)) from None


def resolve_item(store: Store, name: str) -> str:
    """An item id from what a learner types: ``exercise:backprop``, ``backprop``,
    ``backprop.py``, ``card:<id>`` or a bare card id."""
    name = name.strip()
    if name.startswith(("exercise:", "card:")):
        candidate = name
    elif get_exercise(name) is not None:
        candidate = f"exercise:{get_exercise(name).id}"
    else:
        candidate = f"card:{name}"
    if store.value("SELECT 1 FROM items WHERE id = ?", (candidate,)) is None:
        raise UnknownItem(_("unknown item {name}: give an exercise (e.g. bn_backward), its file "
                            "name, or a flashcard as card:<id>").format(name=repr(name)))
    return candidate


def default_file(store: Store, exercise_id: str) -> Path:
    """The exercise's file: the one last graded, else ``./exercises/<file>``."""
    exercise = exercise_named(exercise_id)
    last = store.value("SELECT file_path FROM submissions WHERE exercise = ? AND kind = 'graded' "
                       "ORDER BY attempt DESC LIMIT 1", (exercise.id,))
    return Path(last) if last else Path.cwd() / "exercises" / exercise.file


def exercises_folder(store: Store) -> Path:
    """Where the learner's exercise files are: the folder of the file graded last, else
    ``./exercises`` (as ``default_file``)."""
    last = store.value("SELECT file_path FROM submissions WHERE kind = 'graded' "
                       "ORDER BY id DESC LIMIT 1")
    return Path(last).parent if last else Path.cwd() / "exercises"
