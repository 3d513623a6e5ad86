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


def columns(text: str) -> int:
    """How many columns of a terminal ``text`` takes: a wide character (汉字) takes two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text, width: int, align: str = "<") -> str:
    """``text`` padded to ``width`` columns of a terminal (``<`` left, ``>`` right)."""
    text = str(text)
    space = " " * max(0, width - columns(text))
    return text + space if align == "<" else space + text


def listing(items) -> str:
    """Names as a list in the learner's language: ``a, b, c`` (``a、b、c`` in Chinese)."""
    return ("、" if _language == "zh" else ", ").join(map(str, items))
