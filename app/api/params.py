"""Parsing of query parameters shared by every list endpoint.

Each parser raises ``ParameterError`` naming the parameter, which the API answers as a
422 problem+json.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pyproj import CRS
from pyproj.exceptions import CRSError

from geo.errors import ParameterError  # noqa: E402  (re-exported for the API)
from geo.io.validation import quoted

DAY = timedelta(days=1)
MICROSECOND = timedelta(microseconds=1)  # the resolution of PostgreSQL's timestamps
SECOND = timedelta(seconds=1)


def _moment(field: str, value: str, naive_utc: bool) -> tuple[datetime, bool]:
    """(moment in UTC, whether ``value`` is a date without a time) of an RFC 3339 /
    ISO 8601 date or date-time; a date is its midnight UTC. A date-time without a time
    zone is refused, or read as UTC when ``naive_utc`` (WMS TIME)."""
    text = value.strip()
    try:
        if len(text) == 10:
            return datetime.fromisoformat(text).replace(tzinfo=UTC), True
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ParameterError(
            field, f"{value!r} is not an RFC 3339 date-time such as 2026-01-31T00:00:00Z "
                   "or a date such as 2026-01-31") from None
    if parsed.tzinfo is None:
        if not naive_utc:
            raise ParameterError(field, f"{value!r} needs a time zone (Z or +hh:mm)")
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC), False
    except OverflowError:
        raise ParameterError(field, f"{value!r} is outside the years 1-9999") from None


def parse_instant(field: str, value: str) -> datetime:
    """An RFC 3339 date-time (or a date, meaning its midnight UTC), timezone-aware: a
    moment such as ``as_of`` (for a time window use :func:`parse_time_window`)."""
    return _moment(field, value, naive_utc=False)[0]


def _day_end(start: datetime) -> datetime:
    return start + DAY - MICROSECOND


def parse_time_window(field: str, value: str | None, *, naive_utc: bool = False,
                      daily: bool = False) -> tuple[datetime | None, datetime | None]:
    """The closed UTC window ``(start, end)`` (``start <= t <= end``; None for an open
    end) of a time filter: OGC API and ``/api/v1`` ``datetime``, WMS ``TIME``.

    ``value`` is an instant or an interval ``start/end`` (open ends ``..`` or empty).
    **A date means its whole UTC day**: the instant ``2025-06-01`` is
    ``[2025-06-01T00:00:00Z, 2025-06-01T23:59:59.999999Z]``; as an interval's end it
    ends at that day's last microsecond (``2025-06-01/2025-06-30`` includes 30 June).
    A date-time instant is that instant (``(t, t)``), a date-time end that instant.

    ``daily`` (WMS TIME, whose dimension has the resolution P1D): an instant at
    midnight UTC is a value of the dimension and means that whole day, as a date does
    (``2026-06-01T00:00:00Z``, what QGIS sends for a day, is that day); another
    date-time instant means its second, ``[t, t + 1 s)``; an interval's optional
    third part (``/P1D``) is ignored. ``naive_utc``: date-times without a time zone are
    UTC (WMS) instead of refused.

    Raises ParameterError naming ``field``: unreadable, no time zone, or an interval
    that ends before it starts.
    """
    if value is None or value.strip() == "":
        return None, None
    if "/" not in value:
        moment, date_only = _moment(field, value, naive_utc)
        if date_only or (daily and moment == moment.replace(hour=0, minute=0, second=0,
                                                            microsecond=0)):
            return moment, _checked(field, value, lambda: _day_end(moment))
        return moment, (moment + SECOND - MICROSECOND) if daily else moment
    parts = value.split("/")
    if len(parts) > (3 if daily else 2):
        raise ParameterError(field, f"{value!r} is not an instant or one interval start/end")
    first, second = parts[0], parts[1]
    start = None if first.strip() in ("", "..") else _moment(field, first, naive_utc)[0]
    end = None
    if second.strip() not in ("", ".."):
        moment, date_only = _moment(field, second, naive_utc)
        end = _checked(field, value, lambda: _day_end(moment)) if date_only else moment
    if start and end and end < start:
        raise ParameterError(field, f"the interval {value!r} ends before it starts")
    return start, end


def _checked(field: str, value: str, compute) -> datetime:
    try:
        return compute()
    except OverflowError:
        raise ParameterError(field, f"{value!r} is outside the years 1-9999") from None


def parse_datetime_interval(value: str | None) -> tuple[datetime | None, datetime | None]:
    """The ``datetime`` parameter (OGC API Features, ``/api/v1``, vector tiles) as its
    closed window: :func:`parse_time_window`."""
    return parse_time_window("datetime", value)


def _parse_number(field: str, value: str, convert, word: str, minimum, maximum):
    try:
        number = convert(value)
    except (ValueError, OverflowError):  # int() refuses over 4,300 digits
        raise ParameterError(field, f"{quoted(value)} is not {word}") from None
    if not minimum <= number <= maximum:  # NaN fails this too
        try:
            shown = f"{number:g}"
        except OverflowError:  # a 400-digit int has no float form: the text, cut short
            shown = quoted(value.strip())
        raise ParameterError(field, f"must be between {minimum:g} and {maximum:g}, "
                                    f"got {shown}")
    return number


def parse_int(field: str, value: str | None, default: int, minimum: int, maximum: int) -> int:
    """A whole number in ``[minimum, maximum]``; ``default`` when absent."""
    if value is None:
        return default
    return _parse_number(field, value, int, "a whole number", minimum, maximum)


def parse_float(field: str, value: str | None, minimum: float, maximum: float) -> float | None:
    """A number in [minimum, maximum], or None when absent."""
    if value is None or value.strip() == "":
        return None
    return _parse_number(field, value, float, "a number", minimum, maximum)


def parse_list(field: str, value: str | None, allowed=None) -> list[str]:
    """Comma-separated values; each must be in ``allowed`` when given."""
    if value is None or value.strip() == "":
        return []
    items = [item.strip() for item in value.split(",") if item.strip()]
    if allowed is not None:
        unknown = [item for item in items if item not in allowed]
        if unknown:
            raise ParameterError(
                field, f"unknown value {unknown[0]!r}; allowed: {', '.join(map(str, allowed))}"
            )
    return items


def parse_bbox(value: str | None) -> tuple[float, float, float, float] | None:
    """``minLon,minLat,maxLon,maxLat`` in EPSG:4326 degrees."""
    if value is None or value.strip() == "":
        return None
    parts = value.split(",")
    if len(parts) != 4:
        raise ParameterError("bbox", "needs four numbers: minLon,minLat,maxLon,maxLat")
    try:
        min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
    except ValueError:
        raise ParameterError("bbox", f"{value!r} holds something that is not a number") from None
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180
            and -90 <= min_lat <= 90 and -90 <= max_lat <= 90):
        raise ParameterError("bbox", "longitudes must be within [-180, 180] and latitudes "
                             "within [-90, 90]")
    if min_lon > max_lon or min_lat > max_lat:
        raise ParameterError("bbox", "the minimum must not exceed the maximum")
    return min_lon, min_lat, max_lon, max_lat


def parse_sortby(value: str | None, sortable) -> list[tuple[str, bool]]:
    """OGC ``sortby``: ``field``, ``+field`` or ``-field`` (descending), comma-separated."""
    result = []
    for item in parse_list("sortby", value):
        descending = item.startswith("-")
        name = item.lstrip("+-")
        if name not in sortable:
            raise ParameterError(
                "sortby", f"cannot sort by {name!r}; sortable: {', '.join(sorted(sortable))}"
            )
        result.append((name, descending))
    return result


def parse_bool(field: str, value: str | None) -> bool:
    if value is None:
        return False
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise ParameterError(field, f"{value!r} is not true or false")


def parse_crs(field: str, value: str | None, default: int = 4326) -> int:
    """``EPSG:nnnn`` (or an OGC CRS URI ending in /EPSG/0/nnnn) as an EPSG code."""
    if value is None or value.strip() == "":
        return default
    text = value.strip()
    code = None
    if text.upper().startswith("EPSG:"):
        code = text[5:]
    elif "/EPSG/" in text.upper():
        code = text.rstrip("/").rsplit("/", 1)[-1]
    elif text.upper().endswith("CRS84"):
        return 4326
    # isdigit() alone admits digits int() refuses, such as superscripts.
    if code is None or not (code.isascii() and code.isdigit()):
        raise ParameterError(field, f"{value!r} is not EPSG:nnnn")
    try:
        crs = CRS.from_epsg(int(code))
    except CRSError:
        raise ParameterError(field, f"EPSG:{code} is not a known CRS") from None
    if not (crs.is_geographic or crs.is_projected):
        raise ParameterError(field, f"EPSG:{code} ({crs.name}) is not a geographic or "
                                    "projected CRS of x/y coordinates")
    return int(code)
