"""Incidents as numpy arrays: the one binary COPY reader and the one in-memory filter.

The hot-spot pipeline (``geo.hotspots.inputs``) reads the incidents a selection keeps,
filtered in SQL by ``geo.queries.feature_filter``; the map renderer
(``geo.maps.overlays``) reads every incident once per data version and selects per map
with :meth:`IncidentArrays.select`, which applies the same ``geo.queries.FeatureQuery``
with the same meaning (a test holds the two equal). Both read with :func:`read_incidents`.

Time windows are closed, ``start <= occurred_at <= end``, everywhere (as
``FeatureQuery``, OGC API ``datetime`` and WMS ``TIME`` intervals).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from geo.crs import STORAGE_SRID, transform_xy
from geo.queries import FeatureQuery
from geo.queries.incidents import (
    CATEGORY_CODES,
    OUTCOME_CODES,
    agency_bits,
    copy_incident_rows,
)

_COPY_HEADER = 19  # PGCOPY signature (11) + flags (4) + header extension length (4)
# One row of the binary COPY: field count, then (length, value) per column. The point
# comes as PostGIS's binary form, EWKB with SRID: byte order (1 = little-endian), type
# 0x20000001 (point with SRID), SRID, x, y. occurred_at is microseconds since 2000-01-01
# UTC. Reading the columns as stored, without ST_X/ST_Y/extract per row, saves the
# server about 40 % of the statement's time.
_POINT_FIELDS = [
    ("geom_length", ">i4"), ("byte_order", "u1"), ("wkb_type", "<u4"), ("srid", "<u4"),
    ("lon", "<f8"), ("lat", "<f8"),
    ("persons_length", ">i4"), ("persons", ">i4"),
    ("time_length", ">i4"), ("time_us", ">i8"),
]
# With the codes (``codes=True``): region id, category and outcome codes too.
_CODE_FIELDS = [
    ("region_length", ">i4"), ("region", ">i4"),
    ("category_length", ">i4"), ("category", ">i2"),
    ("outcome_length", ">i4"), ("outcome", ">i2"),
    ("viewers_length", ">i4"), ("viewers", ">i8"),
    ("aggregate_length", ">i4"), ("aggregate", "u1"),
]
# With a flag (``flag=``): one boolean per row.
_FLAG_FIELDS = [("flag_length", ">i4"), ("flag", "u1")]
_COPY_ROWS = {(codes, flag): np.dtype([("fields", ">i2"), *_POINT_FIELDS,
                                       *(_CODE_FIELDS if codes else []),
                                       *(_FLAG_FIELDS if flag else [])])
              for codes in (False, True) for flag in (False, True)}
_EWKB_POINT_WITH_SRID = 0x20000001
_POSTGRES_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970


@dataclass
class IncidentArrays:
    """Incidents, one array element each: ``lon``/``lat`` (EPSG:4326 degrees),
    ``time`` (epoch seconds, UTC), ``persons``, ``region`` (id, 0 when unlinked),
    ``category``/``outcome`` (codes of ``CATEGORY_CODES``/``OUTCOME_CODES``),
    ``viewers`` (int64 bit mask of the agencies that see it in detail, by the bits of
    ``agency_bits``; -1: every agency) and ``aggregate`` (its flag).
    ``version`` is the incidents' data version when read whole (else 0); ``flag`` the
    value of a SQL truth read with them (``read_incidents(flag=...)``), else None."""

    lon: np.ndarray
    lat: np.ndarray
    time: np.ndarray
    persons: np.ndarray
    region: np.ndarray | None  # None: read without codes
    category: np.ndarray | None
    outcome: np.ndarray | None
    version: int = 0
    projected: dict = field(default_factory=dict)
    flag: np.ndarray | None = None  # bool per incident when read with ``flag=``
    viewers: np.ndarray | None = None  # with the codes
    aggregate: np.ndarray | None = None
    agency_bits: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.time)

    def xy(self, epsg: int) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates in ``epsg`` as float32 (half the memory traffic of float64; ~0.5 m
        resolution at UTM northings, far below a pixel), computed once per CRS."""
        if epsg not in self.projected:
            if epsg == STORAGE_SRID:
                x, y = self.lon, self.lat
            else:
                lat = np.clip(self.lat, -85.06, 85.06) if epsg == 3857 else self.lat
                x, y = transform_xy(self.lon, lat, STORAGE_SRID, epsg)
            self.projected[epsg] = (np.asarray(x, dtype=np.float32),
                                    np.asarray(y, dtype=np.float32))
        return self.projected[epsg]

    def select(self, query: FeatureQuery) -> slice | np.ndarray:
        """The incidents ``query`` keeps, as ``geo.queries.feature_filter`` does in SQL:
        the closed window [start, end], ``region_id``, ``categories``, ``outcomes``,
        ``scope_region_ids`` (unlinked incidents are outside every scope) and
        ``viewer_agency`` (with ``counting``: or ``aggregate``) by the viewers' mask,
        which SQL computed with ``geo.scope``'s rule (an agency without a bit, or "",
        sees what is released to all). A slice (no copy) of the arrays, which must be
        time-sorted, or an index array when another filter than time is given.

        Raises
        ------
        ValueError
            ``query`` uses a filter this form does not apply (bbox, statuses, ids,
            property equality).
        """
        if (query.bbox is not None or query.statuses or query.ids is not None
                or query.equals or query.agencies):
            raise ValueError("only time, region, category, outcome, scope and viewer "
                             "filters apply to incident arrays")
        coded = (query.region_id or query.categories or query.outcomes
                 or query.scope_region_ids is not None or query.viewer_agency is not None)
        if self.region is None and coded:
            raise ValueError("these arrays were read without their codes (codes=False)")
        lo = (0 if query.start is None
              else int(np.searchsorted(self.time, query.start.timestamp(), "left")))
        hi = (len(self.time) if query.end is None
              else int(np.searchsorted(self.time, query.end.timestamp(), "right")))
        if not coded:
            return slice(lo, hi)
        keep = np.ones(max(hi - lo, 0), dtype=bool)
        if query.region_id:
            keep &= self.region[lo:hi] == query.region_id
        if query.scope_region_ids is not None:
            keep &= np.isin(self.region[lo:hi],
                            np.array(sorted(query.scope_region_ids), dtype=np.int64))
        if query.categories:
            keep &= np.isin(self.category[lo:hi], _codes(CATEGORY_CODES, query.categories))
        if query.outcomes:
            keep &= np.isin(self.outcome[lo:hi], _codes(OUTCOME_CODES, query.outcomes))
        if query.viewer_agency is not None:
            keep &= self._seen_by(query.viewer_agency, lo, hi, query.counting)
        return lo + np.flatnonzero(keep)

    def _seen_by(self, agency: str, lo: int, hi: int, counting: bool) -> np.ndarray:
        """Of rows ``lo:hi``, those ``agency`` sees (or, ``counting``, may count)."""
        viewers = self.viewers[lo:hi]
        bit = self.agency_bits.get(agency)
        seen = viewers == -1 if bit is None else (viewers >> bit) & 1 == 1
        return seen | self.aggregate[lo:hi] if counting else seen


def _codes(vocabulary: tuple[str, ...], names) -> np.ndarray:
    return np.array([vocabulary.index(n) + 1 for n in names], dtype=np.int16)


def read_incidents(raw_connection, where: str = "true", params: dict | None = None,
                   order_by_time: bool = False, codes: bool = True,
                   flag: str | None = None) -> IncidentArrays:
    """The incidents matching ``where`` (SQL with ``:name`` placeholders bound to
    ``params`` by the driver, e.g. from ``geo.queries.feature_filter``), read with one
    binary ``COPY`` (``geo.queries.incidents``; a million rows in about a second).

    Parameters
    ----------
    raw_connection : psycopg2 connection
    where, params : str, dict
        The filter and its bound values.
    order_by_time : bool
        Sort by ``occurred_at`` (what :meth:`IncidentArrays.select` needs).
    codes : bool
        Read the region, category and outcome too (what ``select`` filters on); without
        them (the analyses, which filter in SQL) those arrays are None and the server
        does less per row.
    flag : str, optional
        A SQL truth over the row (placeholders bound from ``params``), read as the bool
        array ``flag``; e.g. ``geo.scope.visibility_condition()`` beside a counting
        filter tells which counted incidents the viewer sees.

    Raises
    ------
    RuntimeError
        The rows are not laid out as expected (a 2-D point with SRID, int4,
        timestamptz, int4, int2, int2).
    """
    data = copy_incident_rows(raw_connection, where, params or {}, order_by_time, codes, flag)
    row = _COPY_ROWS[codes, flag is not None]
    records = np.frombuffer(data, dtype=row, offset=_COPY_HEADER,
                            count=(len(data) - _COPY_HEADER - 2) // row.itemsize)
    if not ((records["fields"] == (8 if codes else 3) + (flag is not None)).all()
            and (records["geom_length"] == 25).all() and (records["byte_order"] == 1).all()
            and (records["wkb_type"] == _EWKB_POINT_WITH_SRID).all()
            and (records["persons_length"] == 4).all() and (records["time_length"] == 8).all()
            and (not codes or ((records["region_length"] == 4).all()
                               and (records["category_length"] == 2).all()
                               and (records["outcome_length"] == 2).all()
                               and (records["viewers_length"] == 8).all()
                               and (records["aggregate_length"] == 1).all()))
            and (flag is None or (records["flag_length"] == 1).all())):
        raise RuntimeError("unexpected binary layout of incidents: a 2-D point with SRID, "
                           "int4 and timestamptz (then int4, int2, int2; then bool) "
                           "expected")
    # the same doubles as extract(epoch FROM occurred_at)::float8: the exact quotient,
    # correctly rounded
    seconds = (records["time_us"].astype(np.int64) + _POSTGRES_EPOCH_US).astype(float) / 1e6
    return IncidentArrays(
        lon=records["lon"].astype(float), lat=records["lat"].astype(float), time=seconds,
        persons=records["persons"].astype(float),
        region=records["region"].astype(np.int64) if codes else None,
        category=records["category"].astype(np.int16) if codes else None,
        outcome=records["outcome"].astype(np.int16) if codes else None,
        flag=records["flag"].astype(bool) if flag is not None else None,
        viewers=records["viewers"].astype(np.int64) if codes else None,
        aggregate=records["aggregate"].astype(bool) if codes else None,
        agency_bits=agency_bits(raw_connection) if codes else {})

