"""Parsing of query parameters shared by every list endpoint.

Each parser raises ``ParameterError`` naming the parameter, which the API answers as a
422 problem+json.
"""

from __future__ import annotations

from datetime import UTC, datetime


class ParameterError(ValueError):
    """An invalid query parameter; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def parse_instant(field: str, value: str) -> datetime:
    """An RFC 3339 date-time (or a date, meaning its midnight UTC), timezone-aware."""
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.fromisoformat(text).replace(tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ParameterError(
            field, f"{value!r} is not an RFC 3339 date-time such as 2026-01-31T00:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        raise ParameterError(field, f"{value!r} needs a time zone (Z or +hh:mm)")
    return parsed


def parse_datetime_interval(value: str | None) -> tuple[datetime | None, datetime | None]:
    """OGC API ``datetime``: an instant, or ``start/end`` with open ends ``..`` or empty.

    Returns ``(start, end)`` of the closed interval ``start <= t <= end`` (either may be
    None for an open end); an instant ``t`` gives ``(t, t)``.
    """
    if value is None or value.strip() == "":
        return None, None
    if "/" not in value:
        instant = parse_instant("datetime", value)
        return instant, instant
    first, _, second = value.partition("/")
    start = None if first in ("", "..") else parse_instant("datetime", first)
    end = None if second in ("", "..") else parse_instant("datetime", second)
    if start and end and end < start:
        raise ParameterError("datetime", "the interval ends before it starts")
    return start, end


def parse_int(field: str, value: str | None, default: int, minimum: int, maximum: int) -> int:
    """A whole number in ``[minimum, maximum]``; ``default`` when absent."""
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ParameterError(field, f"{value!r} is not a whole number") from None
    if not minimum <= number <= maximum:
        raise ParameterError(field, f"must be between {minimum} and {maximum}, got {number}")
    return number
