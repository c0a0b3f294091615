"""Validation of incoming features, column by column (vectorised with pandas and shapely).

A batch of features arrives as a ``pandas.DataFrame`` of raw property values (strings
from CSV, JSON values from GeoJSON) with a ``_row`` column (where each row came from)
and a ``geometry`` column of shapely geometries in ``source_srid``. ``validate_batch``
returns the typed values ready for the database and every problem found, each naming
the row and the field; nothing is written here. Checks that need the database (a point
far from every region, a key already taken) are in ``geo.io.ingest``.
"""

from __future__ import annotations

import math
import re
import reprlib
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import shapely

from geo import clock, releasability
from geo.crs import STORAGE_SRID, reproject
from geo.layers import Field, Layer

# Clock skew tolerated before an occurred_at counts as "in the future".
FUTURE_TOLERANCE = timedelta(minutes=5)
# Earlier times are typing mistakes (and year 1 in a zone east of UTC is year 0 in UTC,
# which PostgreSQL refuses).
EARLIEST_TIMESTAMP = pd.Timestamp("1900-01-01", tz="UTC")
_TZ_SUFFIX = re.compile(r"(?:[Zz]|[+-]\d{2}:?\d{2})$")
SURROGATES = re.compile("[\ud800-\udfff]")


def unreadable_reason(text: str) -> str | None:
    """Why ``text`` is no text PostgreSQL or XML can carry (a NUL character, or a lone
    UTF-16 surrogate: what invalid UTF-8 such as ``%ED%A0%80`` or JSON's ``"\\ud800"``
    decodes to), or None when it is readable. (Columns of a batch are checked the same
    way, vectorised, in :func:`_validate_field`.)"""
    if "\x00" in text:
        return "holds a NUL character"
    if SURROGATES.search(text):
        return "is not valid UTF-8 text (a lone surrogate)"
    return None
# Names as shapely's ``geom_type``, by ``shapely.get_type_id``.
_GEOMETRY_TYPE_NAMES = ("Point", "LineString", "LinearRing", "Polygon", "MultiPoint",
                        "MultiLineString", "MultiPolygon", "GeometryCollection")
_GEOMETRY_PARTS = {"Point": "MultiPoint", "LineString": "MultiLineString",
                   "Polygon": "MultiPolygon"}


# Most characters of an offending value an error message shows: a file's field may be
# anything (a whole document), and a message must not carry it back.
QUOTE_LIMIT = 40
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel, _SHORT_REPR.maxlist, _SHORT_REPR.maxdict = 2, 4, 4
_SHORT_REPR.maxstring = _SHORT_REPR.maxlong = _SHORT_REPR.maxother = QUOTE_LIMIT


def quoted(value, limit: int = QUOTE_LIMIT) -> str:
    """A value as an error message shows it: repr-escaped, at most ``limit`` characters.

    Text is quoted with its first ``limit`` characters and an ellipsis when longer;
    other values are their (bounded, non-recursive) repr.

    Examples
    --------
    >>> quoted("0123456789", limit=4)
    "'0123'…"
    """
    if isinstance(value, str):
        return repr(value[:limit]) + ("…" if len(value) > limit else "")
    text = _SHORT_REPR.repr(value)
    return text[:limit] + "…" if len(text) > limit else text


@dataclass(frozen=True)
class RowError:
    """A problem with one row: ``row`` is its index, line or feature number."""

    row: int
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "field": self.field, "message": self.message}


@dataclass
class ValidatedBatch:
    """Typed values (``values``, one column per writable field plus ``_row`` and
    ``geometry`` in EPSG:4326) and the rows' problems (``errors``)."""

    values: pd.DataFrame
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: tuple[str, ...] = ()


def _all_text(series: pd.Series) -> bool:
    """True when every present value is a ``str`` (CSV, GeoPackage text columns)."""
    return pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty")


def _stripped(series: pd.Series) -> pd.Series:
    """Strings without surrounding white space; None where the value is no string."""
    if _all_text(series):
        # pandas' vectorised str methods (NaN for missing values, made None here)
        stripped = series.astype(object).str.strip()
        return stripped.where(stripped.notna(), None)
    return series.map(lambda v: v.strip() if isinstance(v, str) else None)


def _missing(series: pd.Series, stripped: pd.Series | None = None) -> pd.Series:
    """True where a value is absent: None, NaN or an empty/blank string.

    ``stripped`` is ``_stripped(series)`` when the caller has it already.
    """
    if stripped is not None or _all_text(series):
        stripped = _stripped(series) if stripped is None else stripped
        blank = (stripped == "").fillna(False).astype(bool)
    else:
        blank = series.map(lambda v: isinstance(v, str) and v.strip() == "")
    return series.isna() | blank


def _choices_text(choices) -> str:
    return ", ".join(str(c) for c in choices)


def _errors_where(mask, rows, name: str, message, values=None) -> list[RowError]:
    """One RowError per True in ``mask``.

    ``message`` is a string, or a function of the row's element of ``values`` (a Series
    or array), called for the flagged rows only.
    """
    indexes = np.flatnonzero(np.asarray(mask))
    if callable(message):
        values = values.to_numpy() if isinstance(values, pd.Series) else values
        return [RowError(int(rows.iat[i]), name, message(values[i])) for i in indexes]
    return [RowError(int(rows.iat[i]), name, message) for i in indexes]


def _as_number(series: pd.Series, stripped: pd.Series | None = None) -> pd.Series:
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind in ("integer", "floating", "mixed-integer-float", "empty"):
        try:
            return pd.to_numeric(series, errors="coerce").astype("float64")
        except OverflowError:  # an integer of hundreds of digits: JSON's are unbounded
            pass  # converted one by one below

    def convert(value):
        if isinstance(value, bool):
            return np.nan  # JSON true/false is not a number
        if isinstance(value, int):
            try:
                return float(value)
            except OverflowError:  # hundreds of digits (JSON integers are unbounded)
                return math.inf if value > 0 else -math.inf
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                return np.nan
        return np.nan

    if kind != "string":
        return series.map(convert).astype("float64")
    # Text: pandas parses the common forms in C; Python's float() decides what it left
    # (e.g. "1_000"), so the result is the same as converting every value with float().
    stripped = _stripped(series) if stripped is None else stripped
    numbers = pd.to_numeric(stripped, errors="coerce").astype("float64")
    undecided = numbers.isna() & series.notna()
    if undecided.any():
        numbers[undecided] = series[undecided].map(convert).astype("float64")
    return numbers


def _parse_timestamps(series: pd.Series, stripped: pd.Series | None = None
                      ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(UTC timestamps, unparseable mask, no-time-zone mask) of RFC 3339 strings."""
    text = _stripped(series) if stripped is None else stripped
    parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    unparseable = parsed.isna()
    no_zone = ~unparseable & ~text.fillna("").str.contains(_TZ_SUFFIX)
    parsed = parsed.where(~no_zone)
    return parsed, unparseable, no_zone


def _validate_field(spec: Field, raw: pd.Series, rows: pd.Series, now: datetime,
                    errors: list[RowError]) -> pd.Series:
    """Typed values of one field; appends its problems to ``errors``."""
    # Text columns (CSV, GeoPackage) are stripped once for every check below.
    stripped = _stripped(raw) if _all_text(raw) else None
    missing = _missing(raw, stripped)
    if spec.required:
        errors += _errors_where(missing, rows, spec.name, "is required")
    present = ~missing
    name = spec.name

    if spec.kind in ("int", "float"):
        numbers = _as_number(raw, stripped)
        bad = present & numbers.isna()
        errors += _errors_where(bad, rows, name, lambda v: f"{quoted(v)} is not a number", raw)
        ok = present & ~bad
        # Beyond float64 (a 400-digit number, 1e999): no field can hold it.
        infinite = ok & np.isinf(numbers)
        errors += _errors_where(infinite, rows, name, lambda v: f"{quoted(v)} is out of range",
                                raw)
        ok &= ~infinite
        if spec.kind == "int":
            fractional = ok & (numbers % 1 != 0)
            errors += _errors_where(fractional, rows, name,
                                    lambda v: f"{v:g} is not a whole number", numbers)
            ok &= ~fractional
        if spec.minimum is not None:
            low = ok & (numbers < spec.minimum)
            word = "negative" if spec.minimum == 0 else f"below {spec.minimum:g}"
            errors += _errors_where(low, rows, name, lambda v: f"{v:g} is {word}", numbers)
            ok &= ~low
        if spec.maximum is not None:
            high = ok & (numbers > spec.maximum)
            errors += _errors_where(high, rows, name,
                                    lambda v: f"{v:g} is above {spec.maximum:g}", numbers)
            ok &= ~high
        values = numbers.where(ok)
        if spec.default is not None:
            values = values.where(present, float(spec.default))
        return values.astype("Int64") if spec.kind == "int" else values

    if spec.kind == "timestamp":
        parsed, unparseable, no_zone = _parse_timestamps(raw, stripped)
        errors += _errors_where(
            present & unparseable, rows, name,
            lambda v: f"{quoted(v)} is not an RFC 3339 date-time such as 2026-05-01T14:30:00Z", raw)
        errors += _errors_where(present & no_zone, rows, name,
                                lambda v: f"{quoted(v)} has no time zone (add Z or +hh:mm)", raw)
        future = present & parsed.notna() & (parsed > pd.Timestamp(now + FUTURE_TOLERANCE))
        errors += _errors_where(future, rows, name, lambda v: f"{quoted(v)} is in the future", raw)
        ancient = present & parsed.notna() & (parsed < EARLIEST_TIMESTAMP)
        errors += _errors_where(ancient, rows, name,
                                lambda v: f"{quoted(v)} is before {EARLIEST_TIMESTAMP:%Y-%m-%d}",
                                raw)
        return parsed.where(present & ~unparseable & ~no_zone & ~future & ~ancient)

    if spec.kind == "bool":
        return _validate_bool(spec, raw, present, rows, errors)
    if spec.kind == "releasability":
        return _validate_releasability(spec, raw, present, rows, errors)

    # text and choice
    if stripped is not None:
        text = stripped
    else:
        text = raw.map(lambda v: None if v is None or (isinstance(v, float) and np.isnan(v))
                       else str(v).strip())
    if spec.kind == "choice":
        allowed = {str(c) for c in spec.choices}
        bad = present & ~text.isin(allowed)
        errors += _errors_where(
            bad, rows, name,
            lambda v: f"unknown value {quoted(v)}; allowed: {_choices_text(spec.choices)}", text)
        text = text.where(present & ~bad)
        if spec.choices and isinstance(spec.choices[0], int):
            text = pd.to_numeric(text).astype("Int64")
    else:
        # A structure (object, list) is not text: refuse it rather than store its repr.
        structured = present & raw.astype(object).map(lambda v: isinstance(v, dict | list))
        errors += _errors_where(structured, rows, name, "must be text, not an object or list")
        # PostgreSQL text cannot hold the NUL character.
        nul = present & ~structured & text.fillna("").str.contains("\x00", regex=False)
        errors += _errors_where(nul, rows, name, "contains a NUL character (\\u0000)")
        # Nor can UTF-8 encode a lone surrogate (JSON's "\\ud800" decodes to one).
        surrogate = (present & ~structured & ~nul
                     & text.fillna("").str.contains(SURROGATES, regex=True))
        errors += _errors_where(surrogate, rows, name, "contains a lone surrogate (\\ud800 to "
                                                       "\\udfff), which is not a character")
        text = text.where(~structured & ~nul & ~surrogate)
        if spec.max_length is not None:
            long = present & (text.str.len() > spec.max_length)
            errors += _errors_where(long, rows, name,
                                    f"is longer than {spec.max_length} characters")
            text = text.where(~long)
        if spec.pattern is not None:
            bad = present & text.notna() & ~text.fillna("").str.match(spec.pattern)
            expected = spec.pattern_hint or f"matching {spec.pattern}"
            errors += _errors_where(bad, rows, name, lambda v: f"{quoted(v)} is not {expected}",
                                    text)
            text = text.where(~bad)
    if spec.default is not None:
        text = text.where(present, spec.default)
    return text.where(present | (spec.default is not None), None)


_TRUE = {"true", "t", "yes", "1"}
_FALSE = {"false", "f", "no", "0"}


def _as_bool(value) -> bool | None:
    """True/False from a JSON boolean, 0/1 or their words (any case); None otherwise."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        return True if word in _TRUE else False if word in _FALSE else None
    return None


def _validate_bool(spec: Field, raw: pd.Series, present: pd.Series, rows: pd.Series,
                   errors: list[RowError]) -> pd.Series:
    values = raw.map(_as_bool).astype(object)
    bad = present & values.isna()
    errors += _errors_where(bad, rows, spec.name,
                            lambda v: f"{quoted(v)} is not true or false", raw)
    return values.where(present & ~bad, None)


def _validate_releasability(spec: Field, raw: pd.Series, present: pd.Series,
                            rows: pd.Series, errors: list[RowError]) -> pd.Series:
    """Releasability values in their stored form, JSON text (``geo.releasability``)."""
    parsed: dict = {}  # by text: a million rows hold a handful of distinct values

    def stored(value):
        key = value if isinstance(value, str) else None
        if key in parsed:
            return parsed[key]
        try:
            result = releasability.as_json(releasability.parse(value))
        except ValueError as problem:
            result = problem
        if key is not None:
            parsed[key] = result
        return result

    values = pd.Series([stored(v) if given else None
                        for v, given in zip(raw, present.to_numpy(), strict=True)],
                       index=raw.index, dtype=object)
    failed = values.map(lambda v: isinstance(v, ValueError))
    errors += _errors_where(failed, rows, spec.name, str, values)
    return values.where(~failed, None).astype(object)


def validate_properties(frame: pd.DataFrame, layer: Layer, *, unknown: str = "error",
                        now: datetime | None = None) -> ValidatedBatch:
    """Check and type the properties of a batch.

    Parameters
    ----------
    frame : DataFrame
        Raw values, one column per property, plus ``_row``.
    layer : Layer
    unknown : {"error", "ignore"}
        What to do with a property the layer does not have. Derived (read-only)
        properties and ``id`` are always ignored, so exported data imports again.
    now : datetime, optional
        Reference time for "in the future" (the data clock's now, UTC, by default).
    """
    now = now or clock.utc_now()
    rows = frame["_row"]
    errors: list[RowError] = []
    ignorable = {"_row", "geometry", "id", *(f.name for f in layer.derived)}
    extra = [c for c in frame.columns if c not in ignorable and c not in layer.writable_names]
    if unknown == "error":
        for column in extra:
            present = ~_missing(frame[column])
            errors += _errors_where(present, rows, column,
                                    f"unknown property for {layer.name}; properties are "
                                    f"{', '.join(layer.writable_names)}")
    values = pd.DataFrame({"_row": rows.to_numpy()}, index=frame.index)
    empty = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for spec in layer.fields:
        raw = frame[spec.name] if spec.name in frame.columns else empty
        values[spec.name] = _validate_field(spec, raw, rows, now, errors)
    return ValidatedBatch(values, errors, tuple(extra) if unknown == "ignore" else ())


def validate_geometries(geometries, rows: pd.Series, layer: Layer,
                        source_srid: int = STORAGE_SRID) -> tuple[np.ndarray, list[RowError]]:
    """Check geometries and bring them to EPSG:4326.

    Single-part inputs are accepted for a multi-part layer and single-member multi-part
    inputs for a single-part layer. The validity reason is GEOS's (the same library
    PostGIS uses), with the location where it fails.

    Returns
    -------
    (geometries in EPSG:4326 with None where invalid, errors)
    """
    geoms = np.array(geometries, dtype=object)  # a copy: it is modified below
    errors: list[RowError] = []
    has_z = shapely.has_z(geoms)
    if has_z.any():
        # Positions may carry an altitude (GeoJSON, GPS); BorderRisk stores 2D geometry.
        geoms[has_z] = shapely.force_2d(geoms[has_z])
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    errors += _errors_where(missing, rows, "geometry", "is required (missing or empty)")
    ok = ~missing

    type_names = np.array([*_GEOMETRY_TYPE_NAMES, ""], dtype=object)
    types = type_names[shapely.get_type_id(geoms)]  # missing: id -1, the last name ""
    want = layer.geometry_type
    single = _GEOMETRY_PARTS.get(want)
    single_of_multi = next((s for s, m in _GEOMETRY_PARTS.items() if m == want), None)
    parts = shapely.get_num_geometries(geoms)
    promote = ok & (types == single_of_multi)
    demote = ok & (types == single) & (parts == 1)
    wrong = ok & (types != want) & ~promote & ~demote
    errors += _errors_where(wrong, rows, "geometry",
                            lambda t: f"wrong geometry type {t}; {layer.name} takes {want}"
                                      + (f" (or {single_of_multi})" if single_of_multi else ""),
                            types)
    ok &= ~wrong
    if demote.any():
        geoms[demote] = shapely.get_geometry(geoms[demote], 0)
    if promote.any():
        geoms[promote] = [shapely.multipolygons([g]) if want == "MultiPolygon"
                          else shapely.multilinestrings([g]) if want == "MultiLineString"
                          else shapely.multipoints([g]) for g in geoms[promote]]

    # GEOS's reason only for the invalid ones: most rows are valid, and a point always.
    # Coordinates near the float limits (1e308) overflow inside GEOS's checks: that
    # warning is no error of ours; such a geometry is refused below (invalid, or out of
    # range) like any other.
    invalid = ok.copy()
    reasons = np.full(len(geoms), "", dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        invalid[ok] = ~shapely.is_valid(geoms[ok])
        reasons[invalid] = shapely.is_valid_reason(geoms[invalid])
    errors += _errors_where(invalid, rows, "geometry", lambda r: f"invalid geometry: {r}",
                            reasons)
    ok &= ~invalid

    if source_srid != STORAGE_SRID and ok.any():
        geoms[ok] = reproject(geoms[ok], source_srid, STORAGE_SRID)
    if ok.any():
        bounds = shapely.bounds(geoms[ok])
        out = np.zeros(len(geoms), dtype=bool)
        finite = np.isfinite(bounds).all(axis=1)
        out[ok] = ~finite | (bounds[:, 0] < -180) | (bounds[:, 2] > 180) | \
            (bounds[:, 1] < -90) | (bounds[:, 3] > 90)
        errors += _errors_where(out, rows, "geometry",
                                "coordinates out of range: longitude must be within "
                                "[-180, 180] and latitude within [-90, 90] (EPSG:4326, "
                                "GeoJSON order is longitude, latitude)")
        ok &= ~out
    geoms[~ok] = None
    return geoms, errors


def validate_batch(frame: pd.DataFrame, layer: Layer, *, source_srid: int = STORAGE_SRID,
                   unknown: str = "error", now: datetime | None = None) -> ValidatedBatch:
    """Validate properties and geometries of a batch (see the module docstring)."""
    batch = validate_properties(frame.drop(columns=["geometry"]), layer, unknown=unknown,
                                now=now)
    geometries, geometry_errors = validate_geometries(
        frame["geometry"].to_numpy(), frame["_row"], layer, source_srid
    )
    batch.values["geometry"] = geometries
    batch.errors += geometry_errors
    return batch
