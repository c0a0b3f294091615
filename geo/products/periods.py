"""Periods of the scheduled products, in a time zone.

A **weekly** period runs from Monday 00:00 to the next Monday 00:00, a **monthly** one
from the 1st 00:00 to the next month's 1st 00:00, both in the schedule's time zone
(``SCHEDULE_TIMEZONE``, Asia/Tbilisi by default), half-open ``[start, end)``; the
bounds are returned as aware UTC datetimes. The analyses read a time window as closed,
so a period is assessed over ``[start, end - 1 µs]`` (:func:`closed_end`): the same
incidents, as PostgreSQL keeps microseconds.

The **current period** of the alerts is the month (in ``SCHEDULE_TIMEZONE``) holding
the data clock's now (``geo.clock``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

PRODUCTS = ("weekly", "monthly")
RESOLUTION = timedelta(microseconds=1)


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


def current_alert_period(now: datetime, time_zone: str) -> tuple[datetime, datetime]:
    """The alerts' current period ``[start, end)``: the month holding ``now``."""
    return period_of("monthly", now, time_zone)


def valid_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return False
    return True
