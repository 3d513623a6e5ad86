"""``mlquiz optimize``: FSRS parameters fitted to the learner's own review log.

The fit is Anki's own optimizer, fsrs-rs (the ``fsrs-rs-python`` package's
``FSRS.compute_parameters``). The log becomes one ``FSRSItem`` per review after an item's
first: the item's reviews up to it, each with its rating and ``delta_t``, the number of the
learner's days (``config.learner_day``) since the review before (0 for the first, and for a
review on the same day); fsrs-rs takes only histories holding a review on another day. Both
parameter sets are scored with fsrs-rs's ``evaluate`` (log-loss of the predicted recall, and
RMSE over bins) on the predictions a day or more ahead. The fitted parameters are stored in
``parameters`` with the date and the log's size; every later review is scheduled with them
(``review.scheduler_config``), and each review row keeps the configuration it was made with,
so the replay of older reviews does not change.
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
    items: int  # predictions scored: reviews a day or more after the one before
    log_loss_default: float
    log_loss_fitted: float
    rmse_default: float
    rmse_fitted: float
    fitted_at: datetime


class Log(NamedTuple):
    items: list  # FSRSItems to fit to
    scored: list  # those whose last review comes a day or more after the one before it
    reviews: int  # reviews in the log


def training_items(store: Store) -> Log:
    """The log as fsrs-rs ``FSRSItem``s. fsrs-rs fits to every history holding a review on
    another day, and scores (``evaluate``) only predictions a day or more ahead."""
    from fsrs_rs_python import FSRSItem, FSRSReview

    day = learner_day(store)
    items, scored, count = [], [], 0
    current, history, previous, spans_days = None, [], None, False
    dates: dict[str, object] = {}  # reviewed_at -> the learner's date (many share a second)
    for item_id, rating, reviewed_at in store.conn.execute(
            "SELECT item_id, rating, reviewed_at FROM reviews ORDER BY item_id, id"):
        count += 1
        when = dates.get(reviewed_at)
        if when is None:
            when = dates[reviewed_at] = day.date_of(clock.parse_time(reviewed_at))
        if item_id != current:
            current, history, previous, spans_days = item_id, [], None, False
        elapsed = 0 if previous is None else (when - previous).days
        history.append(FSRSReview(rating, elapsed))
        previous = when
        if len(history) > 1:
            spans_days = spans_days or elapsed > 0
            if spans_days:  # fsrs-rs takes a history only with a review on another day
                items.append(FSRSItem(list(history)))
                if elapsed > 0:
                    scored.append(items[-1])
    return Log(items, scored, count)


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
    items, scored, count = training_items(store)
    if count < minimum:
        raise NotEnoughReviews(f"the log holds {count} review{'s' if count != 1 else ''}; fitting "
                               f"needs at least {minimum} ({minimum - count} more)")
    try:
        fitted = _clamped(FSRS(list(DEFAULT_PARAMETERS)).compute_parameters(items))
        default = FSRS(list(DEFAULT_PARAMETERS)).evaluate(scored)
        fitted_score = FSRS(fitted).evaluate(scored)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - a panic of fsrs-rs is a BaseException
        raise ScheduleError(f"the optimizer could not fit this log: {exc}") from None
    fit = Fit(fitted, count, len(scored), default.log_loss, fitted_score.log_loss,
              default.rmse_bins, fitted_score.rmse_bins, now)
    with store.write():
        store.db["parameters"].insert({
            "fitted_at": clock.format_time(now), "parameters": json.dumps(fitted),
            "reviews": count, "items": fit.items, "log_loss_default": fit.log_loss_default,
            "log_loss_fitted": fit.log_loss_fitted, "rmse_default": fit.rmse_default,
            "rmse_fitted": fit.rmse_fitted})
    return fit
