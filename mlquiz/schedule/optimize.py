"""``mlquiz optimize``: FSRS parameters fitted to the learner's own review log.

The fit is Anki's own optimizer, fsrs-rs (the ``fsrs-rs-python`` package's
``FSRS.compute_parameters``). The log becomes one ``FSRSItem`` per review after an item's
first: the item's reviews up to it, each with its rating and ``delta_t``, the number of the
learner's days (``config.learner_day``) since the review before (0 for the first, and for a
review on the same day). Both parameter sets are scored on the same items with fsrs-rs's
``evaluate`` (log-loss of the predicted recall, and RMSE over bins). The fitted parameters are
stored in ``parameters`` with the date and the log's size; every later review is scheduled
with them (``review.scheduler_config``), and each review row keeps the configuration it was
made with, so the replay of older reviews does not change.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import NamedTuple

from mlquiz import clock
from mlquiz.schedule.config import learner_day
from mlquiz.schedule.items import ScheduleError
from mlquiz.schedule.store import Store

MIN_REVIEWS = 400  # below this the fit is mostly noise; Anki's optimizer asks for as many


class NotEnoughReviews(ScheduleError):
    """The log is too short to fit parameters to."""


class Fit(NamedTuple):
    parameters: list[float]
    reviews: int  # reviews in the log
    items: int  # FSRSItems the fit used (one per review after an item's first)
    log_loss_default: float
    log_loss_fitted: float
    rmse_default: float
    rmse_fitted: float
    fitted_at: datetime


def training_items(store: Store) -> tuple[list, int]:
    """The log as fsrs-rs ``FSRSItem``s, and the number of reviews it holds."""
    from fsrs_rs_python import FSRSItem, FSRSReview

    day = learner_day(store)
    items, count = [], 0
    current, history, previous = None, [], None
    dates: dict[str, object] = {}  # reviewed_at -> the learner's date (many share a second)
    for item_id, rating, reviewed_at in store.conn.execute(
            "SELECT item_id, rating, reviewed_at FROM reviews ORDER BY item_id, id"):
        count += 1
        when = dates.get(reviewed_at)
        if when is None:
            when = dates[reviewed_at] = day.date(clock.parse_time(reviewed_at))
        if item_id != current:
            current, history, previous = item_id, [], None
        history.append(FSRSReview(rating, 0 if previous is None else (when - previous).days))
        previous = when
        if len(history) > 1:
            items.append(FSRSItem(list(history)))
    return items, count


def _clamped(parameters) -> list[float]:
    """fsrs-rs's parameters (32-bit floats) rounded to 4 decimals, within fsrs's bounds."""
    from fsrs.scheduler import LOWER_BOUNDS_PARAMETERS, UPPER_BOUNDS_PARAMETERS

    return [min(max(round(float(p), 4), low), high)
            for p, low, high in zip(parameters, LOWER_BOUNDS_PARAMETERS, UPPER_BOUNDS_PARAMETERS)]


def optimize(store: Store, now: datetime | None = None, minimum: int = MIN_REVIEWS) -> Fit:
    """Fit FSRS's parameters to the review log, store them (they schedule every later
    review), and score them and fsrs's defaults on the log. Raises ``NotEnoughReviews``
    below ``minimum`` reviews."""
    from fsrs.scheduler import DEFAULT_PARAMETERS
    from fsrs_rs_python import FSRS

    now = clock.current(now)
    items, count = training_items(store)
    if count < minimum:
        raise NotEnoughReviews(f"the log holds {count} review{'s' if count != 1 else ''}; fitting "
                               f"needs at least {minimum} ({minimum - count} more)")
    try:
        fitted = _clamped(FSRS(list(DEFAULT_PARAMETERS)).compute_parameters(items))
        default = FSRS(list(DEFAULT_PARAMETERS)).evaluate(items)
        scored = FSRS(fitted).evaluate(items)
    except Exception as exc:  # noqa: BLE001 - fsrs-rs reports its errors as plain exceptions
        raise ScheduleError(f"the optimizer could not fit this log: {exc}") from None
    fit = Fit(fitted, count, len(items), default.log_loss, scored.log_loss, default.rmse_bins,
              scored.rmse_bins, now)
    with store.write():
        store.db["parameters"].insert({
            "fitted_at": clock.format_time(now), "parameters": json.dumps(fitted),
            "reviews": count, "items": len(items), "log_loss_default": fit.log_loss_default,
            "log_loss_fitted": fit.log_loss_fitted, "rmse_default": fit.rmse_default,
            "rmse_fitted": fit.rmse_fitted})
    return fit
