"""The SQL of the space-time cube of border sections (``geo.hotspots.sections``): the
sections of a region, and the incidents a hot-spot selection keeps that count for a
section. Every value is bound.

An incident counts for its nearest section (``incidents.nearest_segment_id``, derived
by ``geo.queries.link_incidents``) when it lies within the corridor of that section
(``segment_distance_m <= corridor_m``, metres in the analysis CRS): the rule of the
CIRAM counts (``geo.queries.risk.COUNTS``). An incident farther from every section
counts for none.
"""

from __future__ import annotations

from sqlalchemy import text

from geo.queries.database import window_reads

SECTIONS = text(
    """
    SELECT s.id, s.code, s.name, s.region_id, ST_AsBinary(s.geom) AS geom
      FROM border_segments AS s JOIN regions AS r ON r.id = s.region_id
     WHERE r.code = ANY(:region_codes)
     ORDER BY s.id
    """
)


def region_sections(session, region_codes) -> list:
    """The border sections of the regions ``region_codes`` (a section of no region is
    in none), in id order: rows of ``id``, ``code``, ``name``, ``region_id`` and
    ``geom`` (WKB, EPSG:4326)."""
    return session.execute(SECTIONS, {"region_codes": list(region_codes)}).all()


def section_incidents(session, where: str, params: dict, section_ids, corridor_m: float,
                      flag: str | None = None) -> list:
    """The incidents matching ``where`` that count for one of ``section_ids``: their
    nearest section is one of them and lies within ``corridor_m`` metres.

    Parameters
    ----------
    where, params : str, dict
        An incident filter and its bound values (``geo.hotspots.inputs._incident_filter``,
        built on :func:`geo.queries.feature_filter`); columns unqualified.
    section_ids : sequence of int
    corridor_m : float
        Metres in the analysis CRS (``geo/risk/risk.yaml`` ``corridor_m``).
    flag : str, optional
        A SQL truth over the row read as ``flag`` (e.g.
        ``geo.scope.visibility_condition()``); true for every row when None.

    Returns
    -------
    list of rows
        ``section_id``, ``time_us`` (microseconds since 1970-01-01 UTC), ``persons``
        and ``flag``.
    """
    statement = text(
        "SELECT nearest_segment_id AS section_id, "
        "CAST(extract(epoch FROM occurred_at) * 1000000 AS bigint) AS time_us, "
        f"persons_count AS persons, {flag or 'true'} AS flag "
        "FROM incidents "
        "WHERE nearest_segment_id = ANY(:section_ids) AND segment_distance_m <= :corridor_m "
        f"AND {where}"
    )
    with window_reads(session):
        return session.execute(statement, {**params,
                                           "section_ids": [int(s) for s in section_ids],
                                           "corridor_m": float(corridor_m)}).all()
