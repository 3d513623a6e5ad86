"""Formula flashcards: the deck (data, one TOML file per topic), typed-answer checking, Anki export.

Importing this package is cheap (the deck loader needs only ``tomllib``). The checker
(:mod:`mlquiz.cards.check`, sympy and numpy) and the Anki export (:mod:`mlquiz.cards.anki`,
genanki) are imported only where they are used.
"""

from mlquiz.cards.deck import (
    Card,
    DeckError,
    card_ids,
    cards_by_topic,
    cards_for_exercise,
    default_lang,
    get_card,
    latex_to_text,
    load_deck,
)

__all__ = [
    "Card",
    "DeckError",
    "card_ids",
    "cards_by_topic",
    "cards_for_exercise",
    "default_lang",
    "get_card",
    "latex_to_text",
    "load_deck",
]
