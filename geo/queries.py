"""Spatial SQL of BorderRisk as named, parameterised functions.

Each function takes a SQLAlchemy ``Session`` (or ``Connection``) and binds every value;
identifiers are never built from input. Distances and lengths are in metres, measured
in the analysis CRS given as an EPSG code (``analysis_srid``, e.g. 32638).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text

_REFRESH_SEGMENT_LENGTHS = text(
    """
    UPDATE border_segments
       SET length_m = ST_Length(ST_Transform(geom, :srid))
     WHERE (CAST(:all_rows AS boolean) OR id = ANY(:ids))
    """
)

# One set-based statement for any number of incidents: the region that contains the
# point, then the nearest segment and crossing point. The KNN operator on geography
# ranks candidates on the sphere (index-assisted); the distance is then measured in the
# analysis CRS so it agrees with segment lengths.
_LINK_INCIDENTS = text(
    """
    UPDATE incidents AS i
       SET region_id = r.id,
           nearest_segment_id = s.id,
           segment_distance_m = s.distance_m,
           nearest_crossing_id = c.id,
           crossing_distance_m = c.distance_m
      FROM incidents AS src
      LEFT JOIN LATERAL (
            SELECT reg.id FROM regions AS reg
             WHERE ST_Intersects(reg.geom, src.geom)
             ORDER BY reg.id LIMIT 1
      ) AS r ON true
      LEFT JOIN LATERAL (
            SELECT seg.id,
                   ST_Distance(ST_Transform(seg.geom, :srid), ST_Transform(src.geom, :srid))
                       AS distance_m
              FROM border_segments AS seg
             ORDER BY seg.geom::geography <-> src.geom::geography
             LIMIT 1
      ) AS s ON true
      LEFT JOIN LATERAL (
            SELECT cp.id,
                   ST_Distance(ST_Transform(cp.geom, :srid), ST_Transform(src.geom, :srid))
                       AS distance_m
              FROM crossing_points AS cp
             ORDER BY cp.geom::geography <-> src.geom::geography
             LIMIT 1
      ) AS c ON true
     WHERE i.id = src.id
       AND (CAST(:all_rows AS boolean) OR src.id = ANY(:ids))
    """
)


def _id_params(ids: Sequence[int] | None) -> dict:
    return {"all_rows": ids is None, "ids": list(ids or [])}


def refresh_segment_lengths(session, analysis_srid: int, ids: Sequence[int] | None = None) -> int:
    """Recompute ``border_segments.length_m`` (metres in ``analysis_srid``).

    Parameters
    ----------
    session : sqlalchemy.orm.Session or Connection
    analysis_srid : int
        EPSG code of the metric CRS, e.g. 32638 (UTM 38N).
    ids : sequence of int, optional
        Segments to update; all segments when omitted.

    Returns
    -------
    int
        Number of segments updated.
    """
    result = session.execute(
        _REFRESH_SEGMENT_LENGTHS, {"srid": analysis_srid, **_id_params(ids)}
    )
    return result.rowcount


def link_incidents(session, analysis_srid: int, ids: Sequence[int] | None = None) -> int:
    """Derive each incident's region, nearest segment and nearest crossing point.

    Distances (``segment_distance_m``, ``crossing_distance_m``) are metres in the
    analysis CRS ``analysis_srid``. Runs as one statement for one incident or a million.

    Parameters
    ----------
    session : sqlalchemy.orm.Session or Connection
    analysis_srid : int
        EPSG code of the metric CRS, e.g. 32638.
    ids : sequence of int, optional
        Incidents to link; all incidents when omitted.

    Returns
    -------
    int
        Number of incidents updated.
    """
    result = session.execute(_LINK_INCIDENTS, {"srid": analysis_srid, **_id_params(ids)})
    return result.rowcount


_POSTGIS_VERSION = text("SELECT postgis_lib_version()")


def postgis_version(session) -> str:
    """Version string of the PostGIS library in the connected database."""
    return session.execute(_POSTGIS_VERSION).scalar_one()


__all__ = ["link_incidents", "postgis_version", "refresh_segment_lengths"]


# Layers that can be listed as GeoJSON: table, property columns and the time column.
# Identifiers come only from this table, never from a request.
FEATURE_LAYERS: dict[str, dict] = {
    "regions": {
        "table": "regions",
        "columns": "id, code, name_en, name_ka, provenance",
        "time": None,
        "order": "code",
    },
    "segments": {
        "table": "border_segments",
        "columns": "id, code, name, kind, neighbour_country, region_id, length_m, "
        "surveillance_level, terrain_class, provenance",
        "time": None,
        "order": "code",
    },
    "crossings": {
        "table": "crossing_points",
        "columns": "id, code, name, kind, neighbour_country, region_id, status, provenance",
        "time": None,
        "order": "code",
    },
    "incidents": {
        "table": "incidents",
        "columns": "id, source, external_id, occurred_at, category, outcome, direction, "
        "detection_method, persons_count, nationality, transport_means, description, "
        "source_reliability, information_credibility, status, provenance, region_id, "
        "nearest_segment_id, segment_distance_m, nearest_crossing_id, crossing_distance_m",
        "time": "occurred_at",
        "order": "occurred_at DESC, id DESC",
    },
}

_FEATURES_SQL = """
WITH matched AS (
    SELECT {columns}, geom FROM {table}
     WHERE {time_filter}
), page AS (
    SELECT * FROM matched ORDER BY {order} LIMIT :limit OFFSET :offset
)
SELECT json_build_object(
         'type', 'FeatureCollection',
         'numberMatched', (SELECT count(*) FROM matched),
         'numberReturned', (SELECT count(*) FROM page),
         'features', COALESCE(
            (SELECT json_agg(json_build_object(
                        'type', 'Feature',
                        'id', p.id,
                        'geometry', ST_AsGeoJSON(p.geom, 6)::json,
                        'properties', to_jsonb(p) - 'geom' - 'id')
                     ORDER BY {order})
               FROM page AS p),
            '[]'::json))::text
"""


def features_geojson(
    session,
    layer: str,
    *,
    start=None,
    end=None,
    limit: int = 100,
    offset: int = 0,
) -> str:
    """A GeoJSON FeatureCollection (text) of one layer, coordinates in EPSG:4326.

    Parameters
    ----------
    layer : str
        A key of ``FEATURE_LAYERS``.
    start, end : datetime, optional
        Closed time window ``start <= t <= end`` (timezone-aware) on layers with a time column;
        ignored elsewhere.
    limit, offset : int
        Page of features in the layer's order (incidents: newest first).

    Returns
    -------
    str
        JSON text with ``numberMatched``, ``numberReturned`` and ``features``; every
        feature carries ``id`` and its properties.
    """
    spec = FEATURE_LAYERS[layer]
    conditions = ["true"]
    if spec["time"]:
        conditions.append(f"(CAST(:start AS timestamptz) IS NULL OR {spec['time']} >= :start)")
        conditions.append(f"(CAST(:end AS timestamptz) IS NULL OR {spec['time']} <= :end)")
    statement = text(
        _FEATURES_SQL.format(
            columns=spec["columns"],
            table=spec["table"],
            time_filter=" AND ".join(conditions),
            order=spec["order"],
        )
    )
    params = {"limit": limit, "offset": offset, "start": start, "end": end}
    return session.execute(statement, params).scalar_one()
