"""Export the deck for Anki (an ``.apkg`` written by genanki).

One Anki deck per topic under the parent deck ``mlquiz`` (``mlquiz::01 Backpropagation ·
反向传播``, numbered in curriculum order), one note per card. Formulas are MathJax: the
answer in ``\\[...\\]``, what it equals (``lhs_latex``) on the front in ``\\(...\\)``.

Ids are fixed so that importing a newer export updates the notes already in Anki instead of
adding copies: the note type and deck ids are constants or derived from names, and a note's
GUID is derived from its card id alone (``genanki.guid_for("mlquiz", card_id)``), so editing
a card's text keeps its GUID.
"""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from pathlib import Path

import genanki

from mlquiz.cards.deck import Card, load_deck
from mlquiz.curriculum import exercises

PARENT_DECK = "mlquiz"
#: the note type's id: never change it, or Anki treats every note as a new one
MODEL_ID = 1_730_518_402
FIELDS = ["CardId", "Topic", "Question", "Formula", "Answer", "Numpy", "OtherLanguage"]

_CSS = """\
.card { font-family: sans-serif; font-size: 20px; text-align: left; color: black; background: white; }
.topic { font-size: 13px; color: #888; margin-bottom: 0.6em; }
.formula { margin-top: 0.8em; }
.numpy { font-family: monospace; font-size: 16px; margin-top: 0.8em; }
.other { font-size: 15px; color: #666; margin-top: 1.2em; }
"""

_FRONT = """\
<div class="topic">{{Topic}}</div>
<div class="question">{{Question}}</div>
{{#Formula}}<div class="formula">{{Formula}}</div>{{/Formula}}
"""

_BACK = """\
{{FrontSide}}
<hr id="answer">
<div class="answer">{{Answer}}</div>
{{#Numpy}}<div class="numpy">numpy: {{Numpy}}</div>{{/Numpy}}
<div class="other">{{OtherLanguage}}</div>
"""


def note_model() -> genanki.Model:
    return genanki.Model(
        MODEL_ID,
        "mlquiz formula card",
        fields=[{"name": name} for name in FIELDS],
        templates=[{"name": "Formula", "qfmt": _FRONT, "afmt": _BACK}],
        css=_CSS,
        sort_field_index=0,
    )


def stable_id(text: str) -> int:
    """A positive 47-bit id derived from ``text`` (Anki ids are 64-bit integers)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:6], "big") >> 1


def note_guid(card: Card) -> str:
    return genanki.guid_for("mlquiz", card.id)


def deck_name(position: int, title_en: str, title_zh: str) -> str:
    return f"{PARENT_DECK}::{position:02d} {title_en} · {title_zh}"


def _escape(text: str) -> str:
    return html.escape(text, quote=False)


def note_fields(card: Card, topic_title: str, lang: str = "en") -> list[str]:
    other = "zh" if lang == "en" else "en"
    formula = f"\\({card.lhs_latex} = \\;?\\)" if card.lhs_latex else ""
    answer = f"{card.lhs_latex} = {card.answer_latex}" if card.lhs_latex else card.answer_latex
    numpy = f"<code>{_escape(card.answer_numpy)}</code>" if card.answer_numpy else ""
    return [
        card.id,
        _escape(topic_title),
        _escape(card.question(lang)),
        _escape(formula),
        _escape(f"\\[{answer}\\]"),
        numpy,
        _escape(card.question(other)),
    ]


@dataclass(frozen=True)
class Export:
    path: Path
    notes: int
    decks: int


def build_package(lang: str = "en", cards: tuple[Card, ...] | None = None) -> genanki.Package:
    """The deck as a genanki package (questions in ``lang``, the other language on the back)."""
    cards = load_deck() if cards is None else cards
    model = note_model()
    parent = genanki.Deck(stable_id(PARENT_DECK), PARENT_DECK,
                          description="Formula flashcards of mlquiz, one subdeck per topic.")
    decks = [parent]
    for position, exercise in enumerate(exercises(), start=1):
        topic_cards = [card for card in cards if card.topic == exercise.id]
        if not topic_cards:
            continue
        title = f"{exercise.title_en} · {exercise.title_zh}"
        deck = genanki.Deck(stable_id(f"{PARENT_DECK}::{exercise.id}"),
                            deck_name(position, exercise.title_en, exercise.title_zh))
        for card in topic_cards:
            deck.add_note(genanki.Note(
                model=model,
                fields=note_fields(card, title, lang),
                tags=["mlquiz", card.topic],
                guid=note_guid(card),
                sort_field=card.id,
            ))
        decks.append(deck)
    return genanki.Package(decks)


def export_anki(path, lang: str = "en") -> Export:
    """Write the deck to ``path`` (an ``.apkg`` file); returns what was written."""
    path = Path(path)
    package = build_package(lang)
    package.write_to_file(str(path))
    notes = sum(len(deck.notes) for deck in package.decks)
    return Export(path, notes, len(package.decks) - 1)
