"""The demo's window: the 36 months up to the data clock's today (``geo.clock``), in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

from geo import clock
from geo.clock import add_months

# --------------------------------------------------------------------------- period

DEMO_MONTHS = 36


def demo_period(end: datetime | None = None) -> tuple[datetime, datetime]:
    """The demo's three-year window ``[start, end)`` in UTC.

    Parameters
    ----------
    end : datetime, optional
        Time zone aware end of the window; default the data clock's now
        (``geo.clock``, UTC) truncated to the day.

    Returns
    -------
    tuple of datetime
        ``(end - 36 months, end)``, both UTC.
    """
    if end is None:
        end = clock.utc_now().replace(hour=0, minute=0, second=0, microsecond=0)
    elif not isinstance(end, datetime):
        raise TypeError(f"end must be a datetime, got {type(end).__name__}")
    elif end.tzinfo is None or end.utcoffset() is None:
        raise ValueError("end must be time zone aware (e.g. datetime(..., tzinfo=UTC))")
    end = end.astimezone(UTC)
    return add_months(end, -DEMO_MONTHS), end
