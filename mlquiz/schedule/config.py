"""The schedule's settings, stored in the database's ``config`` table: each has a default,
a parser that validates what a learner types, and a line of help."""

from __future__ import annotations

from mlquiz import clock
from mlquiz.i18n import _, listing
from mlquiz.schedule.backup import BACKUPS_KEPT
from mlquiz.schedule.store import Store

SYSTEM_ZONE = "system"


class ConfigError(ValueError):
    """A setting or value that mlquiz does not accept; the message says what would be."""


def _parse_retention(text) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise ConfigError(_("retention must be a number such as 0.9, not {value}").format(
            value=repr(text))) from None
    if not 0.7 <= value <= 0.99:
        raise ConfigError(_("retention must be between 0.7 and 0.99 (the share of reviews you "
                            "aim to recall), not {value}").format(value=value))
    return value


def _whole_number(key: str, text, lowest: int, highest: int, what: str | None = None,
                  count: bool = False) -> int:
    """``text`` as a whole number from ``lowest`` to ``highest``, else ``ConfigError``
    (``what``: what the setting takes, default "a whole number"; ``count``: a number of
    things, said to be positive when below ``lowest``)."""
    try:
        value = int(str(text).strip())
    except (TypeError, ValueError):
        raise ConfigError(_("{key} must be {what}, not {value}").format(
            key=key, what=what or _("a whole number"), value=repr(text))) from None
    if count and value < lowest:
        allowed = (_("a positive whole number or 0") if lowest == 0
                   else _("a positive whole number"))
        raise ConfigError(_("{key} must be {what}, not {value}").format(
            key=key, what=allowed, value=value))
    if count and value > highest:
        raise ConfigError(_("{key} must be at most {highest}, not {value}").format(
            key=key, highest=highest, value=value))
    if not lowest <= value <= highest:
        raise ConfigError(_("{key} must be between {lowest} and {highest}, not {value}").format(
            key=key, lowest=lowest, highest=highest, value=value))
    return value


def _parse_new_per_day(text) -> int:
    return _whole_number("new_per_day", text, 0, 10_000, count=True)


def _parse_backups(text) -> int:
    return _whole_number("backups", text, 1, 1000, count=True)


def _parse_day_starts_at(text) -> int:
    """An hour, ``4`` or ``4:00`` (whole hours, as Anki's "next day starts at")."""
    what = _("a whole hour such as 4 or 4:00")
    hour, colon, minutes = str(text).strip().partition(":")
    if colon and minutes.strip() not in ("0", "00"):
        raise ConfigError(_("{key} must be {what}, not {value}").format(
            key="day_starts_at", what=what, value=repr(text)))
    return _whole_number("day_starts_at", hour, 0, 23, what)


def _parse_timezone(text) -> str:
    """``system`` (the computer's time zone) or an IANA name such as ``Asia/Shanghai``."""
    name = str(text).strip()
    if name.lower() == SYSTEM_ZONE:
        return SYSTEM_ZONE
    _zone(name)
    return name


def _zone(name: str):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(_("unknown time zone {name}: give an IANA name such as Asia/Shanghai "
                            "or Europe/Berlin, or `system`").format(name=repr(name))) from None


SETTINGS = {
    "retention": (0.9, _parse_retention, lambda: _(
        "desired retention: the probability of recall FSRS schedules for (0.7-0.99)")),
    "new_per_day": (10, _parse_new_per_day, lambda: _(
        "how many new items (never practised) enter the schedule a day")),
    "day_starts_at": (4, _parse_day_starts_at, lambda: _(
        "the hour your day starts at (0-23), in your time zone, as Anki's 'next day starts at'")),
    "timezone": (SYSTEM_ZONE, _parse_timezone, lambda: _(
        "your time zone for the day's start: `system` or an IANA name (Asia/Shanghai)")),
    "backups": (BACKUPS_KEPT, _parse_backups, lambda: _(
        "how many automatic backups of the database are kept (`mlquiz db backups`)")),
}  # key: (default, parser of what a learner types, its meaning in the learner's language)


def _setting(key):
    if key not in SETTINGS:
        raise ConfigError(_("unknown setting {key}; settings: {settings}").format(
            key=repr(key), settings=listing(SETTINGS)))
    return SETTINGS[key]


def _value(key: str, stored: str | None):
    """A setting's value from its stored text (None: not set, its default)."""
    default, parse, _meaning = _setting(key)
    return default if stored is None else parse(stored)


def get_config(store: Store, key: str):
    _setting(key)
    return _value(key, store.value("SELECT value FROM config WHERE key = ?", (key,)))


def set_config(store: Store, key: str, value):
    """Validate and store a setting; returns the value as stored. A new retention applies to
    reviews from now on (each review keeps the retention it was scheduled with)."""
    _default, parse, _meaning = _setting(key)
    parsed = parse(value)
    with store.write():
        store.db["config"].upsert({"key": key, "value": str(parsed)}, pk="key")
    return parsed


def unset_config(store: Store, key: str):
    """Forget a setting: it has its default again, which is returned."""
    default = _setting(key)[0]
    with store.write():
        store.conn.execute("DELETE FROM config WHERE key = ?", (key,))
    return default


def config_values(store: Store) -> dict:
    """Every setting: ``{key: {"value", "default", "help"}}``."""
    return {key: {"value": get_config(store, key), "default": default, "help": meaning()}
            for key, (default, _parse, meaning) in SETTINGS.items()}


def learner_day(store: Store) -> clock.Day:
    """The learner's day: it starts at ``day_starts_at`` o'clock in ``timezone`` (both read
    in one query: ``mlquiz next`` asks often)."""
    stored = dict(store.conn.execute("SELECT key, value FROM config WHERE key IN "
                                     "('day_starts_at', 'timezone')").fetchall())
    zone = _value("timezone", stored.get("timezone"))
    return clock.Day(_value("day_starts_at", stored.get("day_starts_at")),
                     None if zone == SYSTEM_ZONE else _zone(zone))
