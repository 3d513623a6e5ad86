"""The learner's language: English, or Chinese through a gettext catalogue.

Every sentence mlquiz shows a learner is written in English inside ``_()``;
``mlquiz/locale/zh/LC_MESSAGES/mlquiz.mo`` holds its Chinese (made from ``mlquiz.po`` by
``python tools/messages.py compile``). The command line calls ``set_language`` once, from
``--lang`` or ``MLQUIZ_LANG``; until then the language is English. Cheap to import: the
catalogue is read on the first translated message.
"""

from __future__ import annotations

import gettext
from pathlib import Path

LANGUAGES = ("en", "zh")
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "mlquiz"

_language = "en"
_catalogue: gettext.NullTranslations | None = None


def normalise(value: str | None) -> str:
    """``en`` or ``zh`` from what a learner or a locale says: ``zh``, ``zh_CN``, ``zh-CN``,
    ``zh_CN.UTF-8``, ``EN``; empty means English. Raises ``ValueError`` for anything else."""
    text = (value or "").strip()
    base = text.split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    if not base:
        return "en"
    if base not in LANGUAGES:
        raise ValueError(f"unknown language {text!r}: use en (English) or zh (中文)")
    return base


def set_language(value: str | None) -> str:
    """Choose the language of every later message; returns it (``en`` or ``zh``)."""
    global _language, _catalogue
    _language = normalise(value)
    _catalogue = None
    return _language


def language() -> str:
    return _language


def _translations() -> gettext.NullTranslations:
    global _catalogue
    if _catalogue is None:
        _catalogue = (gettext.NullTranslations() if _language == "en" else
                      gettext.translation(DOMAIN, LOCALE_DIR, languages=[_language],
                                          fallback=True))
    return _catalogue


def _(message: str) -> str:
    """``message`` in the learner's language (itself in English, or when untranslated)."""
    return _translations().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in the learner's language."""
    return _translations().ngettext(singular, plural, n)


def width(text: str) -> int:
    """Columns ``text`` takes on a terminal: a CJK character (wide or full-width) takes two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def pad(text: str, columns: int) -> str:
    """``text`` left-aligned in ``columns`` terminal columns (``str.ljust`` that counts a CJK
    character as two)."""
    return text + " " * max(0, columns - width(text))
