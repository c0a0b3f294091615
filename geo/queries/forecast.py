"""The SQL of the forecast per border section (``geo.forecast``): a region's sections
with their centres, and the incidents each counts before a moment.

An incident counts for its nearest section when it lies within the CIRAM corridor
(``segment_distance_m <= corridor_m``, ``geo/risk/risk.yaml``), as in the risk model
(``geo.queries.risk``); and only when the bound ``viewer_agency`` may count it (null:
the system, every incident). Every value is bound.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import text

from geo.queries.risk import COUNTED
from geo.scope import VIEWER_PARAMETER

_REGION_SECTIONS = text(
    """
    SELECT s.id, s.code, s.name, ST_AsGeoJSON(s.geom, 7) AS geometry,
           ST_X(c) AS cx, ST_Y(c) AS cy
      FROM border_segments AS s JOIN regions AS r ON r.id = s.region_id
     CROSS JOIN LATERAL ST_Transform(ST_LineInterpolatePoint(ST_LineMerge(s.geom), 0.5),
                                     :srid) AS c
     WHERE r.code = :region_code
     ORDER BY s.id
    """
)

_SECTION_INCIDENTS = text(
    f"""
    SELECT i.nearest_segment_id, extract(epoch FROM i.occurred_at)::float8,
           ST_X(i.geom), ST_Y(i.geom)
      FROM incidents AS i
     WHERE i.nearest_segment_id = ANY(:section_ids)
       AND i.segment_distance_m <= :corridor_m
       AND i.occurred_at < :before
       AND {COUNTED}
    """
)


def region_sections(session, region_code: str, srid: int) -> list:
    """The border sections of a region, by id: ``id, code, name, geometry`` (GeoJSON
    text, EPSG:4326, 7 decimals) and ``cx, cy``: the point halfway along the section,
    metres of ``srid``."""
    return session.execute(_REGION_SECTIONS, {"region_code": region_code,
                                              "srid": srid}).all()


def section_incidents(session, section_ids, corridor_m: float, before,
                      viewer_agency: str | None) -> dict[str, np.ndarray]:
    """The incidents counted for ``section_ids`` (their nearest section, within
    ``corridor_m`` metres) that occurred strictly before ``before`` (aware datetime):
    ``section_id``, ``time`` (epoch seconds UTC), ``lon``, ``lat`` (EPSG:4326)."""
    rows = session.execute(_SECTION_INCIDENTS, {
        "section_ids": list(section_ids), "corridor_m": corridor_m, "before": before,
        VIEWER_PARAMETER: viewer_agency}).all()
    table = np.array(rows, dtype=float).reshape(-1, 4)
    return {"section_id": table[:, 0].astype(np.int64), "time": table[:, 1],
            "lon": table[:, 2], "lat": table[:, 3]}
