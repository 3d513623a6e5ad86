"""The schedule's settings, stored in the database's ``config`` table: each has a default,
a parser that validates what a learner types, and a line of help."""

from __future__ import annotations

from mlquiz.schedule.backup import BACKUPS_KEPT
from mlquiz.schedule.store import Store


class ConfigError(ValueError):
    """A setting or value that mlquiz does not accept; the message says what would be."""


def _parse_retention(text) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ConfigError(f"retention must be a number such as 0.9, not {text!r}") from None
    if not 0.7 <= value <= 0.99:
        raise ConfigError(f"retention must be between 0.7 and 0.99 (the share of reviews you "
                          f"aim to recall), not {value}")
    return value


def _whole_number(key: str, text, lowest: int, highest: int) -> int:
    """``text`` as a whole number from ``lowest`` to ``highest``, else ``ConfigError``."""
    try:
        value = int(str(text).strip())
    except (TypeError, ValueError):
        raise ConfigError(f"{key} must be a whole number, not {text!r}") from None
    if value < lowest:
        allowed = "a positive whole number" + (" or 0" if lowest == 0 else "")
        raise ConfigError(f"{key} must be {allowed}, not {value}")
    if value > highest:
        raise ConfigError(f"{key} must be at most {highest}, not {value}")
    return value


def _parse_new_per_day(text) -> int:
    return _whole_number("new_per_day", text, 0, 10_000)


def _parse_backups(text) -> int:
    return _whole_number("backups", text, 1, 1000)


SETTINGS = {
    "retention": (0.9, _parse_retention,
                  "desired retention: the probability of recall FSRS schedules for (0.7-0.99)"),
    "new_per_day": (10, _parse_new_per_day,
                    "how many new items (never practised) enter the schedule a day"),
    "backups": (BACKUPS_KEPT, _parse_backups,
                "how many automatic backups of the database are kept (`mlquiz db backups`)"),
}


def _setting(key):
    if key not in SETTINGS:
        raise ConfigError(f"unknown setting {key!r}; settings: {', '.join(SETTINGS)}")
    return SETTINGS[key]


def get_config(store: Store, key: str):
    default, parse, _ = _setting(key)
    stored = store.value("SELECT value FROM config WHERE key = ?", (key,))
    return default if stored is None else parse(stored)


def set_config(store: Store, key: str, value):
    """Validate and store a setting; returns the value as stored. A new retention applies to
    reviews from now on (each review keeps the retention it was scheduled with)."""
    _, parse, _ = _setting(key)
    parsed = parse(value)
    with store.write():
        store.db["config"].upsert({"key": key, "value": str(parsed)}, pk="key")
    return parsed


def unset_config(store: Store, key: str):
    """Forget a setting: it has its default again, which is returned."""
    default, _, _ = _setting(key)
    with store.write():
        store.conn.execute("DELETE FROM config WHERE key = ?", (key,))
    return default


def config_values(store: Store) -> dict:
    """Every setting: ``{key: {"value", "default", "help"}}``."""
    return {key: {"value": get_config(store, key), "default": default, "help": help_text}
            for key, (default, _, help_text) in SETTINGS.items()}
