"""The SQL of the forecast per border section (``geo.forecast``): a region's sections
with their centres, and the incidents each counts before a moment.

An incident counts for its nearest section when it lies within the CIRAM corridor
(``segment_distance_m <= corridor_m``, ``geo/risk/risk.yaml``), as in the risk model
(``geo.queries.risk``); and only when the bound ``viewer_agency`` may count it (null:
the system, every incident). Every value is bound.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import text

from geo.queries.database import window_reads
from geo.queries.incidents import _pyformat
from geo.queries.risk import COUNTED
from geo.scope import VIEWER_PARAMETER

_REGION_SECTIONS = text(
    """
    SELECT s.id, s.code, s.name, r.code AS region_code, ST_AsGeoJSON(s.geom, 7) AS geometry,
           ST_X(c) AS cx, ST_Y(c) AS cy
      FROM border_segments AS s JOIN regions AS r ON r.id = s.region_id
     CROSS JOIN LATERAL ST_Transform(ST_LineInterpolatePoint(ST_LineMerge(s.geom), 0.5),
                                     :srid) AS c
     WHERE r.code = ANY(:region_codes)
     ORDER BY s.id
    """
)

# Read as a binary COPY: a Python object per row would cost ~25 us each (6 s for the
# 221,751 incidents of GE-KA's sections in bench/forecast_bench.py).
_SECTION_INCIDENTS = f"""
    SELECT i.nearest_segment_id::int4, extract(epoch FROM i.occurred_at)::float8,
           ST_X(i.geom)::float8, ST_Y(i.geom)::float8
      FROM incidents AS i
     WHERE i.nearest_segment_id = ANY(:section_ids)
       AND i.segment_distance_m <= :corridor_m
       AND i.occurred_at < :before
       AND i.occurred_at >= :since
       AND {COUNTED}
    """
# Whether the sections count an incident before ``since``: the history reaches past what
# was read (``geo.forecast.model.FeatureBuilder``'s ``first_time``). Asked per section,
# so each probe is a range of ``ix_incidents_segment_time`` that stops at its first row
# (a plain EXISTS over every section may be planned as a sequential scan).
_SECTION_INCIDENT_BEFORE = text(f"""
    SELECT EXISTS (
        SELECT FROM unnest(CAST(:section_ids AS int[])) AS s(id)
         WHERE EXISTS (
             SELECT FROM incidents AS i
              WHERE i.nearest_segment_id = s.id
                AND i.segment_distance_m <= :corridor_m
                AND i.occurred_at < :since
                AND {COUNTED}))
    """)
_COPY_HEADER = 19  # PGCOPY signature (11 bytes), flags (4), header extension length (4)
_SECTION_ROW = np.dtype([("fields", ">i2"), ("section_length", ">i4"), ("section_id", ">i4"),
                         ("time_length", ">i4"), ("time", ">f8"), ("lon_length", ">i4"),
                         ("lon", ">f8"), ("lat_length", ">i4"), ("lat", ">f8")])


def region_codes(session, region_ids) -> dict[int, str]:
    """The codes of these regions, by id."""
    rows = session.execute(text("SELECT id, code FROM regions WHERE id = ANY(:ids)"),
                           {"ids": [int(r) for r in region_ids]})
    return {int(row.id): row.code for row in rows}


def region_sections(session, region_codes, srid: int) -> list:
    """The border sections of these regions, by id: ``id, code, name, region_code,
    geometry`` (GeoJSON text, EPSG:4326, 7 decimals) and ``cx, cy``: the point halfway
    along the section, metres of ``srid``."""
    return session.execute(_REGION_SECTIONS, {"region_codes": list(region_codes),
                                              "srid": srid}).all()


def section_incidents(session, section_ids, corridor_m: float, before,
                      viewer_agency: str | None, since=None) -> dict[str, np.ndarray]:
    """The incidents counted for ``section_ids`` (their nearest section, within
    ``corridor_m`` metres) that occurred strictly before ``before`` and, given ``since``,
    at or after it (aware datetimes): ``section_id``, ``time`` (epoch seconds UTC),
    ``lon``, ``lat`` (EPSG:4326); and ``older`` (bool): whether any such incident
    occurred before ``since``."""
    since = since if since is not None else datetime(1, 1, 1, tzinfo=UTC)
    bound = {"section_ids": list(section_ids), "corridor_m": corridor_m, "before": before,
             "since": since, VIEWER_PARAMETER: viewer_agency}
    older = bool(session.execute(_SECTION_INCIDENT_BEFORE, bound).scalar())
    statement, values = _pyformat(_SECTION_INCIDENTS, bound)
    with window_reads(session), session.connection().connection.cursor() as cursor:
        bound = cursor.mogrify(statement, values).decode()
        buffer = io.BytesIO()
        cursor.copy_expert(f"COPY ({bound}) TO STDOUT WITH (FORMAT binary)", buffer)
    data = buffer.getbuffer()
    rows = np.frombuffer(data, dtype=_SECTION_ROW, offset=_COPY_HEADER,
                         count=(len(data) - _COPY_HEADER - 2) // _SECTION_ROW.itemsize)
    if not ((rows["fields"] == 4).all() and (rows["section_length"] == 4).all()
            and (rows["time_length"] == 8).all() and (rows["lon_length"] == 8).all()
            and (rows["lat_length"] == 8).all()):
        raise RuntimeError("unexpected binary layout of section incidents: int4 and three "
                           "float8 expected, none null")
    # In time order whatever the plan: the model's sums per section (near repeats: a
    # weight per incident's time) then agree to the last bit between reads of one
    # region and of several.
    rows = rows[np.argsort(rows["time"], kind="stable")]
    return {"older": older, "section_id": rows["section_id"].astype(np.int64),
            "time": rows["time"].astype(float), "lon": rows["lon"].astype(float),
            "lat": rows["lat"].astype(float)}
