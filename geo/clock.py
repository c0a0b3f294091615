"""The service's data clock: what "now" means for the data (UTC).

"Now" decides the demo's three-year window, which times count as "in the future" when
an incident is validated, and (in the browser) the default time of a new incident. It
is the wall clock unless it is frozen, which the ``BORDERRISK_NOW`` setting does (for
tests and reproducible demos): then every caller sees the same fixed moment.

Security timing (session idle and lifetime, token expiry, sign-in lock-outs) is not
data: it always follows the wall clock and the database's ``now()``, never this one.
"""

from __future__ import annotations

from datetime import UTC, datetime

_frozen: datetime | None = None


def utc_now() -> datetime:
    """The current moment of the data clock, time zone aware (UTC)."""
    return _frozen if _frozen is not None else datetime.now(UTC)


def is_frozen() -> bool:
    """True when ``BORDERRISK_NOW`` (or :func:`freeze`) fixed the clock."""
    return _frozen is not None


def freeze(moment: datetime | None) -> None:
    """Fix the data clock at ``moment`` (time zone aware), or let it follow the wall
    clock again with ``None``.

    Raises
    ------
    ValueError
        ``moment`` has no time zone.
    """
    global _frozen
    if moment is not None and moment.utcoffset() is None:
        raise ValueError(f"the clock needs a time zone aware moment, got {moment!r}")
    _frozen = moment.astimezone(UTC) if moment is not None else None


def parse_moment(value: str) -> datetime:
    """An RFC 3339 date-time with a zone (``2027-01-01T00:00:00Z``) as an aware UTC
    datetime; a bare date (``2027-01-01``) means its midnight UTC.

    Raises
    ------
    ValueError
        The text is not such a moment (the message quotes it).
    """
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ValueError(f"{value!r} is not a date-time such as 2027-01-01T00:00:00Z") from None
    if moment.utcoffset() is None:
        if "T" in text or " " in text:
            raise ValueError(f"{value!r} has no time zone (add Z or +hh:mm)")
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus ``months`` calendar months (negative: earlier), the day clamped
    to the target month's last day (31 March minus one month is 28/29 February); the
    time of day and the time zone are kept."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    # Clamp the day (31 March minus one month is 28/29 February).
    for day in range(moment.day, 27, -1):
        try:
            return moment.replace(year=year, month=month + 1, day=day)
        except ValueError:
            continue
    return moment.replace(year=year, month=month + 1, day=min(moment.day, 28))
