"""Forecast periods: calendar months or weeks starting at a moment, as epoch seconds (UTC).

``next_month`` from ``as_of`` is ``[as_of, as_of + 1 calendar month)`` (the same day
and time of the next month, the last day of a shorter month when the day does not
exist); ``next_week`` is ``[as_of, as_of + 7 days)``. Going back ``k`` periods from an
origin uses the same rule, so the history before an origin is cut into periods of the
forecast's own length.
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

import numpy as np

PERIODS = ("next_month", "next_week")


def shift(moment: datetime, period: str, steps: int) -> datetime:
    """``moment`` moved by ``steps`` periods (negative: back), time zone kept.

    Parameters
    ----------
    moment : datetime
        Time zone aware.
    period : {"next_month", "next_week"}
    steps : int
    """
    if period == "next_week":
        return moment + timedelta(days=7 * steps)
    if period != "next_month":
        raise ValueError(f"unknown period {period!r}; periods: {', '.join(PERIODS)}")
    months = moment.year * 12 + moment.month - 1 + steps
    year, month = divmod(months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def month_start(moment: datetime) -> datetime:
    """Midnight UTC of the first day of ``moment``'s month (UTC)."""
    moment = moment.astimezone(UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def boundaries(origin: datetime, period: str, back: int) -> np.ndarray:
    """Epoch seconds (UTC) of ``origin`` shifted by ``-back .. 1`` periods, ascending:
    the edges of the ``back`` periods before ``origin`` and of the one it starts."""
    return np.array([shift(origin, period, k).timestamp() for k in range(-back, 2)])


def epoch(moment: datetime) -> float:
    """Seconds since 1970-01-01 UTC."""
    return moment.timestamp()


def period_days(origin: datetime, period: str) -> float:
    """Length in days of the period starting at ``origin``."""
    return (shift(origin, period, 1) - origin).total_seconds() / 86400.0
