"""Periods of the scheduled products, in a time zone.

A **weekly** period runs from Monday 00:00 to the next Monday 00:00, a **monthly** one
from the 1st 00:00 to the next month's 1st 00:00, both in the schedule's time zone
(``SCHEDULE_TIMEZONE``, Asia/Tbilisi by default), half-open ``[start, end)``; the
bounds are returned as aware UTC datetimes. The analyses read a time window as closed,
so a period is assessed over ``[start, end - 1 µs]`` (:func:`closed_end`): the same
incidents, as PostgreSQL keeps microseconds.

The **default analysis period** (:func:`default_analysis_period`), used by the map page,
by every analysis endpoint called without ``datetime`` and by the worker's alerts, is
the last complete calendar month in UTC (whole UTC days, as the page's dates are): the
month before the one holding the data clock's now. Before the data covers a full month
(its first incident is later than that month's start) it is the 30 days ending with the
day of the latest incident. A period that ends after now is **partial** (:func:`is_partial`): it is
never compared with full ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from geo.clock import add_months
from geo.queries import risk as risk_sql
from geo.scope import VIEWER_PARAMETER

PRODUCTS = ("weekly", "monthly")
RESOLUTION = timedelta(microseconds=1)

DEFAULT_MONTH = "default: last complete month"
DEFAULT_FALLBACK = "default: 30 days ending at the latest incident"
REQUESTED = "datetime parameter"
FALLBACK_DAYS = 30
# The page's periods are whole UTC days ending at 23:59:59 (static/js/state.js): the
# default ends likewise, so that the page and the API ask for the very same interval.
_DAY_END = timedelta(days=1) - timedelta(seconds=1)


def _check(product: str) -> None:
    if product not in PRODUCTS:
        raise ValueError(f"unknown product {product!r}; products: {', '.join(PRODUCTS)}")


def _local_start(product: str, local: datetime) -> datetime:
    """The naive local start of the period holding the naive local time ``local``."""
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if product == "weekly":
        return midnight - timedelta(days=midnight.weekday())
    return midnight.replace(day=1)


def _local_next(product: str, start: datetime) -> datetime:
    if product == "weekly":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def _to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone).astimezone(UTC)


def period_of(product: str, moment: datetime, time_zone: str) -> tuple[datetime, datetime]:
    """``(start, end)`` (UTC) of the ``product``'s period holding ``moment`` (aware)."""
    _check(product)
    zone = ZoneInfo(time_zone)
    start = _local_start(product, moment.astimezone(zone).replace(tzinfo=None))
    return _to_utc(start, zone), _to_utc(_local_next(product, start), zone)


def latest_ended(product: str, now: datetime, time_zone: str) -> tuple[datetime, datetime]:
    """The last period that ended at or before ``now``: the one just before the period
    holding ``now``."""
    start, _ = period_of(product, now, time_zone)
    return period_of(product, start - RESOLUTION, time_zone)


def next_boundary(product: str, now: datetime, time_zone: str) -> datetime:
    """When the period holding ``now`` ends (UTC): the next run of a schedule."""
    return period_of(product, now, time_zone)[1]


def closed_end(end: datetime) -> datetime:
    """The closed end of the half-open period ending at ``end``."""
    return end - RESOLUTION


def valid_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return False
    return True


@dataclass(frozen=True)
class AnalysisPeriod:
    """A closed analysis period ``[start, end]`` (aware UTC) and where it came from
    (``source``: :data:`REQUESTED`, :data:`DEFAULT_MONTH` or :data:`DEFAULT_FALLBACK`)."""

    start: datetime
    end: datetime
    source: str

    def describe(self, now: datetime) -> dict:
        """``period`` (ISO start, end), ``period_source`` and ``period_partial``
        (:func:`is_partial` at ``now``): what an answer says of its period."""
        return {"period": [self.start.isoformat(), self.end.isoformat()],
                "period_source": self.source, "period_partial": is_partial(self.end, now)}

    @property
    def end_exclusive(self) -> datetime:
        """The end of the period as a half-open ``[start, end)`` (UTC): a default period
        is whole UTC days ending at 23:59:59, so the next day's 00:00. (A requested
        period's end may carry microseconds: one second later is then not its end.)"""
        if self.source == REQUESTED:
            raise ValueError("a requested period has no whole-second half-open end")
        return self.end + timedelta(seconds=1)


def default_period_for(now: datetime, first: datetime | None,
                       last: datetime | None) -> AnalysisPeriod:
    """The default analysis period at ``now`` for data from ``first`` to ``last``
    (incident times, aware; None without incidents): the last complete UTC month, or,
    when the data starts after that month's start, the 30 whole UTC days ending with
    the day of ``last``.

    Examples
    --------
    >>> utc = lambda *a: datetime(*a, tzinfo=UTC)
    >>> default_period_for(utc(2026, 12, 5), utc(2024, 1, 1), utc(2026, 12, 3)).start
    datetime.datetime(2026, 11, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    month_start, _ = latest_ended("monthly", now, "UTC")
    if first is not None and last is not None and first > month_start:
        last_day = last.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return AnalysisPeriod(last_day - timedelta(days=FALLBACK_DAYS - 1),
                              last_day + _DAY_END, DEFAULT_FALLBACK)
    month_end = period_of("monthly", month_start, "UTC")[1] - timedelta(days=1)
    return AnalysisPeriod(month_start, month_end + _DAY_END, DEFAULT_MONTH)


def default_analysis_period(session, now: datetime,
                            viewer_agency: str | None = None) -> AnalysisPeriod:
    """The default analysis period at ``now`` (the data clock, ``geo.clock``) for the
    incidents ``viewer_agency`` may count (``geo.scope``; None: every incident):
    :func:`default_period_for` of their first and last time. The one rule of the map
    page and of the analysis endpoints called without ``datetime``."""
    row = session.execute(risk_sql.INCIDENT_EXTENT,
                          {VIEWER_PARAMETER: viewer_agency}).one()
    return default_period_for(now, row.first, row.last)


def months_before(period: AnalysisPeriod, months: int) -> AnalysisPeriod:
    """The calendar month (UTC) ``months`` months before the month of ``period``'s last
    day, in whole days to 23:59:59: where the map page's month slider goes in
    ``months`` steps back from ``period``.

    Examples
    --------
    >>> utc = lambda *a: datetime(*a, tzinfo=UTC)
    >>> before = months_before(AnalysisPeriod(utc(2026, 3, 1), utc(2026, 3, 31, 23, 59, 59),
    ...                                       DEFAULT_MONTH), 1)
    >>> before.start.isoformat(), before.end.isoformat()
    ('2026-02-01T00:00:00+00:00', '2026-02-28T23:59:59+00:00')
    """
    last_month = period.end.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    start = add_months(last_month, -months)
    return AnalysisPeriod(start, add_months(start, 1) - timedelta(days=1) + _DAY_END,
                          f"{months} month(s) before the {period.source}")


# The months of an emerging hot-spot analysis' window (the map page's, static/js/cells.js).
EMERGING_MONTHS = 12


def emerging_period(period: AnalysisPeriod) -> AnalysisPeriod:
    """The window of an emerging hot-spot analysis of ``period`` (a default period): the
    :data:`EMERGING_MONTHS` calendar months (UTC) ending with the month of its last day,
    from the 1st of the first to the last microsecond of that day, as the map page asks
    (so that the steps laid back from the end are whole months, and the page and the
    API share one result). Its ``source`` names the default it extends."""
    last_day = period.end.replace(hour=0, minute=0, second=0, microsecond=0)
    start = add_months(last_day.replace(day=1), -(EMERGING_MONTHS - 1))
    return AnalysisPeriod(start, last_day + timedelta(days=1) - RESOLUTION,
                          f"{period.source}, and the {EMERGING_MONTHS - 1} months before")


def is_partial(end: datetime, now: datetime) -> bool:
    """Whether a period ending at ``end`` is not over at ``now``: its counts are not
    comparable with those of full periods."""
    return end > now
