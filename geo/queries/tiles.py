"""The SQL of the vector tiles: ``ST_AsMVT`` of a layer's features in one tile (or of
its points aggregated per cell), and the data version of a layer's tiles.

Identifiers come from the catalogue (``geo.layers``: table, tile properties); the
filters from ``geo.queries.features.feature_filter``; every value is bound.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection

from geo.layers import RISK_RESULTS, Layer
from geo.maps.tiling import BUFFER, CLUSTER_CELL, EXTENT, tile_bounds_lonlat, tile_width_m
from geo.queries.features import FeatureQuery, feature_filter


def _property_sql(layer: Layer, name: str) -> str:
    if layer.field(name).kind == "timestamp":
        return (f"to_char({name} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                f"AS {name}")
    return name


_TILE_SQL = """
WITH features AS (
    SELECT id, {properties},
           ST_AsMVTGeom({geometry}, ST_TileEnvelope(:z, :x, :y), {extent}, {buffer}, true)
               AS geom
      FROM {table}
     WHERE {where}
)
SELECT ST_AsMVT(features, :layer_name, {extent}, 'geom', 'id')
  FROM features WHERE geom IS NOT NULL
"""


# Points below the layer's cluster zoom: counts per category and cell of CLUSTER_CELL
# tile units, placed at the cell's centre.
_CLUSTER_SQL = """
WITH points AS (
    SELECT category,
           ST_AsMVTGeom(ST_Transform(geom, 3857), ST_TileEnvelope(:z, :x, :y), {extent},
                        {buffer}, true) AS geom
      FROM {table}
     WHERE {where}
), cells AS (
    SELECT category, count(*) AS count,
           floor(ST_X(geom) / {cell}) AS i, floor(ST_Y(geom) / {cell}) AS j
      FROM points WHERE geom IS NOT NULL
     GROUP BY category, i, j
)
SELECT ST_AsMVT(features, :layer_name, {extent}, 'geom')
  FROM (SELECT category, count,
               ST_MakePoint((i + 0.5) * {cell}, (j + 0.5) * {cell}) AS geom
          FROM cells) AS features
"""


def tile_sql(layer: Layer, z: int, x: int, y: int,
             query: FeatureQuery) -> tuple[str, dict]:
    """The ``ST_AsMVT`` statement of one tile and its bound values (also what the
    benchmark times as "bare SQL")."""
    # Every filter of the query; the tile decides the box, and there is no page or order.
    query = replace(query, bbox=tile_bounds_lonlat(z, x, y, BUFFER / EXTENT),
                    bbox_srid=4326, sort=[], limit=None, offset=0)
    where, params = feature_filter(layer, query)
    params.update({"z": z, "x": x, "y": y, "layer_name": layer.name})
    if z < layer.tiles.cluster_below_zoom:
        return _CLUSTER_SQL.format(extent=EXTENT, buffer=BUFFER, table=layer.table,
                                   where=where, cell=CLUSTER_CELL), params
    geometry = "ST_Transform(geom, 3857)"
    if layer.geometry_type != "Point":
        geometry = f"ST_Simplify({geometry}, :tolerance, true)"
        params["tolerance"] = tile_width_m(z) / EXTENT
    statement = _TILE_SQL.format(
        properties=", ".join(_property_sql(layer, p) for p in layer.tiles.properties),
        geometry=geometry, extent=EXTENT, buffer=BUFFER, table=layer.table, where=where)
    return statement, params


# The data version of a layer's tiles: the ``data_versions`` counter of its table and the
# transaction that last bumped it (``xmin``; see the module's docstring). The risk
# collection reads these tables; a new assessment bumps none of them, so its tiles are
# also keyed by the newest assessment.
_VERSION_SQL = ("SELECT version::text || '.' || xmin::text FROM data_versions "
                "WHERE table_name = :version_table")
_RISK_VERSION_SQL = (
    "SELECT (SELECT coalesce(max(id), 0) FROM risk_assessments)::text || '.' || "
    "coalesce((SELECT version::text || '.' || xmin::text FROM data_versions "
    "WHERE table_name = 'border_segments'), '')")
# The version and the tile in one statement (one round trip, one snapshot).
_VERSIONED_TILE_SQL = "SELECT ({version}) AS version, tile FROM ({tile}) AS t(tile)"


def version_sql(layer: Layer) -> tuple[str, dict]:
    """The statement reading the data version of ``layer``'s tiles, and its values."""
    expression, params = _version_expression(layer)
    return f"SELECT ({expression})", params


def _version_expression(layer: Layer) -> tuple[str, dict]:
    if layer is RISK_RESULTS:
        return _RISK_VERSION_SQL, {}
    return _VERSION_SQL, {"version_table": layer.table}




def versioned_tile_sql(layer: Layer, z: int, x: int, y: int,
                       query: FeatureQuery) -> tuple[str, dict]:
    """The data version (see :func:`version_sql`) and the tile in one statement: one
    round trip, one snapshot."""
    tile_statement, params = tile_sql(layer, z, x, y, query)
    version_statement, version_params = _version_expression(layer)
    return (_VERSIONED_TILE_SQL.format(version=version_statement, tile=tile_statement),
            {**params, **version_params})


@lru_cache(maxsize=256)
def _driver_statement(statement: str) -> str:
    """``statement`` with its ``:name`` placeholders as psycopg2's ``%(name)s`` (and any
    ``%`` doubled), compiled by SQLAlchemy once per statement text: a tile's text
    depends on its layer and the kinds of filters, its values on the tile."""
    return str(text(statement).compile(dialect=postgresql.psycopg2.dialect()))


def fetch_tile_row(session, statement: str, params: dict) -> tuple:
    """The one row of a tile's statement (:func:`tile_sql`, :func:`versioned_tile_sql`)
    on ``session``'s connection (a Session or a Connection, in its transaction), handed
    to the driver as it is (``exec_driver_sql``, its text compiled once): SQLAlchemy's
    parsing of a ``text()`` per request was a fixed cost that a z14 tile of a few
    milliseconds feels (issue 21, docs/benchmarks.md)."""
    connection = session if isinstance(session, Connection) else session.connection()
    return connection.exec_driver_sql(_driver_statement(statement), params).one()
