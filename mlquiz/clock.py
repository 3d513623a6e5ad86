"""The clock of the schedule: the system's, in UTC, unless ``MLQUIZ_NOW`` says otherwise.

``MLQUIZ_NOW`` takes an ISO 8601 time (``2026-03-01T09:30:00Z``; a time without an offset is
read as UTC), for tests and for replaying a history. mlquiz keeps whole seconds: every time
it stores is ``YYYY-MM-DDTHH:MM:SSZ``, which sorts as text in time order.

A learner's *day* (due today, new items a day, failed today, reviews a day) is a ``Day``: it
starts at a given hour (4:00 by default, as in Anki) in the learner's time zone (the system's
by default), so that a late evening and the small hours after it are one day.

Every time mlquiz reads (``MLQUIZ_NOW``, a stored time, a datetime a caller passes) must lie in
the years ``FIRST_YEAR`` to ``LAST_YEAR`` (1970 to 9999): the stored form then always has a
four-digit year, and an earlier or later one is a ``ClockError``, not a wrong schedule.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import NamedTuple

ENV_VAR = "MLQUIZ_NOW"
FIRST_YEAR, LAST_YEAR = 1970, 9999


class ClockError(ValueError):
    """``MLQUIZ_NOW`` (or another time given to mlquiz) is not an ISO 8601 time."""


def now() -> datetime:
    """The current time, UTC-aware, to the second (``MLQUIZ_NOW`` overrides the system clock)."""
    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        try:
            return parse_time(override)
        except ClockError as exc:
            raise ClockError(f"{ENV_VAR}: {exc}") from None
    return datetime.now(timezone.utc).replace(microsecond=0)


def parse_time(text: str) -> datetime:
    """Read an ISO 8601 time as a UTC-aware datetime, to the second, in the years 1970 to 9999
    (``check_range``)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ClockError(f"not an ISO 8601 time: {text!r} (e.g. 2026-03-01T09:30:00Z)") from None
    try:
        moment = as_utc(moment, naive_is_utc=True)
    except OverflowError:  # an offset that moves it before year 1 or after 9999
        raise ClockError(f"{text.strip()} is outside the years {FIRST_YEAR} to {LAST_YEAR} "
                         "that mlquiz keeps times in") from None
    return check_range(moment)


def check_range(moment: datetime) -> datetime:
    """``moment`` itself when its (UTC) year is 1970 to 9999; else ``ClockError``."""
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise ClockError(f"{moment.isoformat()} is outside the years {FIRST_YEAR} to {LAST_YEAR} "
                         "that mlquiz keeps times in")
    return moment


def as_utc(moment: datetime, naive_is_utc: bool = False) -> datetime:
    """``moment`` in UTC (``tzinfo is timezone.utc``, as fsrs requires), to the second.
    A naive datetime is an error unless ``naive_is_utc``: a time without a zone is ambiguous."""
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise ClockError(f"{moment!r} has no time zone; pass a UTC-aware datetime")
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).replace(microsecond=0)


def format_time(moment: datetime) -> str:
    """The stored form of a time: ``2026-03-01T09:30:00Z`` (fixed width, sorts as text)."""
    moment = check_range(as_utc(moment))
    return f"{moment.year:04d}-" + moment.strftime("%m-%dT%H:%M:%SZ")


class Day(NamedTuple):
    """When the learner's day starts: ``hour`` (0-23) in ``zone`` (a ``tzinfo``; None: the
    system's local time, daylight saving included). ``Day()`` is the UTC calendar day."""

    hour: int = 0
    zone: tzinfo | None = timezone.utc

    def _wall(self, moment: datetime) -> datetime:
        """``moment`` as a naive wall-clock time in the zone."""
        return as_utc(moment).astimezone(self.zone).replace(tzinfo=None)

    def _from_wall(self, wall: datetime) -> datetime:
        """A naive wall-clock time of the zone back to UTC (a naive datetime's
        ``astimezone`` reads it as system local time)."""
        if self.zone is None:
            return as_utc(wall.astimezone(timezone.utc))
        return as_utc(wall.replace(tzinfo=self.zone))

    def date_of(self, moment: datetime) -> date:
        """The learner's date of ``moment``: the local date, minus one before ``hour``."""
        return (self._wall(moment) - timedelta(hours=self.hour)).date()

    def start_of(self, day: date) -> datetime:
        """When the learner's ``day`` starts, in UTC."""
        return self._from_wall(datetime(day.year, day.month, day.day, self.hour))

    def start(self, moment: datetime) -> datetime:
        """When the learner's day holding ``moment`` started, in UTC."""
        return self.start_of(self.date_of(moment))

    def end(self, moment: datetime) -> datetime:
        """When the learner's day holding ``moment`` ends (the next one starts), in UTC."""
        return self.start_of(self.date_of(moment) + timedelta(days=1))


def current(moment: datetime | None = None) -> datetime:
    """``moment`` in UTC to the second, or the current time (``now()``) when it is None."""
    return now() if moment is None else check_range(as_utc(moment))


def format_optional(moment: datetime | None) -> str | None:
    """``format_time``, passing None through (a time not set yet)."""
    return None if moment is None else format_time(moment)


def parse_optional(text: str | None) -> datetime | None:
    """``parse_time`` of a stored time, passing None through (a column not set yet)."""
    return None if text is None else parse_time(text)
