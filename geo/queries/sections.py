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

SECTIONS = text(
    """
    SELECT id, code, name, region_id, ST_AsBinary(geom) AS geom
      FROM border_segments
     WHERE (CAST(:region_id AS integer) IS NULL OR region_id = :region_id)
       AND (CAST(:scope AS integer[]) IS NULL OR region_id = ANY(CAST(:scope AS integer[])))
     ORDER BY id
    """
)


def region_sections(session, region_id: int | None, scope_region_ids=None) -> list:
    """The border sections of a region (all when ``region_id`` is None), kept to the
    regions ``scope_region_ids`` (None: every region), in id order: rows of ``id``,
    ``code``, ``name``, ``region_id`` and ``geom`` (WKB, EPSG:4326)."""
    scope = None if scope_region_ids is None else sorted(int(r) for r in scope_region_ids)
    return session.execute(SECTIONS, {"region_id": region_id, "scope": scope}).all()


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
    return session.execute(statement, {**params, "section_ids": [int(s) for s in section_ids],
                                       "corridor_m": float(corridor_m)}).all()
