"""The SQL of the place search (``geo.places``): the names and codes of the regions,
border sections and crossing points a caller may see, and where the chosen ones lie.

A caller restricted to regions sees the regions of their scope, and the sections and
crossing points whose region is one of them (``geo.scope.scope_condition``, by each
layer's ``scope_column``, as every list endpoint does); a section or crossing point of
no region is in no scope. Every value is bound.
"""

from __future__ import annotations

from sqlalchemy import text

from geo.layers import CROSSINGS, REGIONS, SEGMENTS
from geo.scope import Scope, scope_condition, scope_parameter

SCOPE_PARAMETER = "scope_region_ids"


def _scoped(layer, alias: str, scoped: bool) -> str:
    return scope_condition(layer, SCOPE_PARAMETER, alias) if scoped else "true"


def _names_statement(scoped: bool):
    return text(
        f"""
        SELECT 'region' AS kind, r.id, r.code, r.name_en AS name, r.name_ka,
               r.code AS region_code
          FROM regions AS r
         WHERE {_scoped(REGIONS, "r.", scoped)}
        UNION ALL
        SELECT 'section', s.id, s.code, s.name, s.name_ka, g.code
          FROM border_segments AS s LEFT JOIN regions AS g ON g.id = s.region_id
         WHERE {_scoped(SEGMENTS, "s.", scoped)}
        UNION ALL
        SELECT 'crossing', c.id, c.code, c.name, c.name_ka, g.code
          FROM crossing_points AS c LEFT JOIN regions AS g ON g.id = c.region_id
         WHERE {_scoped(CROSSINGS, "c.", scoped)}
        """
    )


_NAMES = {scoped: _names_statement(scoped) for scoped in (False, True)}

# Where each chosen place lies (EPSG:4326): its bounding box and a point on it (on the
# surface of a region, the middle of a section, the crossing point itself).
_EXTENTS = text(
    """
    SELECT 'region' AS kind, id, ST_XMin(geom) AS minx, ST_YMin(geom) AS miny,
           ST_XMax(geom) AS maxx, ST_YMax(geom) AS maxy,
           ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y
      FROM regions WHERE id = ANY(:region_ids)
    UNION ALL
    SELECT 'section', id, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom),
           ST_X(ST_LineInterpolatePoint(geom, 0.5)), ST_Y(ST_LineInterpolatePoint(geom, 0.5))
      FROM border_segments WHERE id = ANY(:section_ids)
    UNION ALL
    SELECT 'crossing', id, ST_X(geom), ST_Y(geom), ST_X(geom), ST_Y(geom),
           ST_X(geom), ST_Y(geom)
      FROM crossing_points WHERE id = ANY(:crossing_ids)
    """
)


def place_names(session, scope: Scope) -> list:
    """Every place ``scope`` sees (None: all): rows of ``kind`` ("region", "section",
    "crossing"), ``id``, ``code``, ``name`` (a region's English name), ``name_ka``
    (None where a section or crossing point has none) and ``region_code``."""
    if scope is None:
        return session.execute(_NAMES[False]).all()
    return session.execute(_NAMES[True], {SCOPE_PARAMETER: scope_parameter(scope)}).all()


def place_extents(session, ids_by_kind: dict[str, list[int]]) -> dict[tuple[str, int], tuple]:
    """The bounding box ``(minx, miny, maxx, maxy)`` and a point ``(x, y)`` on each
    place (degrees, EPSG:4326), by ``(kind, id)``."""
    rows = session.execute(_EXTENTS, {
        "region_ids": ids_by_kind.get("region", []),
        "section_ids": ids_by_kind.get("section", []),
        "crossing_ids": ids_by_kind.get("crossing", [])})
    return {(row.kind, row.id): ((row.minx, row.miny, row.maxx, row.maxy), (row.x, row.y))
            for row in rows}
