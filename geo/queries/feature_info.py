"""WMS GetFeatureInfo: the features of a map layer near a clicked point.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import text

from geo.layers import MAP_LAYERS
from geo.queries import maps
from geo.scope import VIEWER_PARAMETER, scope_condition, scope_parameter, visibility_condition

# ------------------------------------------------------------------ WMS GetFeatureInfo

# The table and the properties (``MapFacet.info``) come from the catalogue, geo.layers:
# identifiers are its constants only.
_FEATURE_INFO_SQL = """
SELECT {columns}{extra}, ST_AsGeoJSON(geom, 7) AS geometry_json
  FROM {table} AS s
 WHERE geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326)
   AND ST_Intersects(geom, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326))
   {time_filter}{scope_filter}
 ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), id
 LIMIT :limit
"""
_FEATURE_INFO_TIME = """
   AND occurred_at >= COALESCE(CAST(:start AS timestamptz), '-infinity')
   AND occurred_at <= COALESCE(CAST(:end AS timestamptz), 'infinity')
   AND (CAST(:region_id AS integer) IS NULL OR region_id = CAST(:region_id AS integer))
   AND (cardinality(CAST(:categories AS text[])) = 0
        OR category = ANY(CAST(:categories AS text[])))
   AND (cardinality(CAST(:outcomes AS text[])) = 0 OR outcome = ANY(CAST(:outcomes AS text[])))
"""


def features_at_point(session, map_layer: str, lon: float, lat: float,
                      envelope: tuple[float, float, float, float], limit: int,
                      start: datetime | None = None, end: datetime | None = None,
                      region_id: int | None = None, categories=(),
                      outcomes=(), scope_region_ids: frozenset[int] | None = None,
                      viewer_agency: str | None = None,
                      live_levels: dict[int, str] | None = None) -> list[dict]:
    """Features of a map layer near a clicked point (WMS GetFeatureInfo), nearest first.

    Parameters
    ----------
    map_layer : str
        A queryable layer of ``geo.layers.MAP_LAYERS``: 'regions', 'border_segments',
        'crossing_points' or 'incidents'.
    lon, lat : float
        The point, EPSG:4326 degrees.
    envelope : tuple of float
        (min lon, min lat, max lon, max lat): the search box, the clicked pixel grown by
        the tolerance; features must intersect it.
    limit : int
        Most features returned (FEATURE_COUNT).
    start, end : datetime, optional
        UTC closed window [start, end] of ``occurred_at`` (incidents only).
    region_id : int, optional
        Incidents of this region only.
    categories, outcomes : sequence of str, optional
        Incidents of any of these categories / outcomes only (empty: all).
    scope_region_ids : frozenset of int, optional
        The caller's region scope (see :class:`FeatureQuery`): features of these
        regions only (regions by id, the other layers by ``region_id``); None: all.
    viewer_agency : str, optional
        The caller's agency: incidents it sees in detail only (``geo.scope``).
    live_levels : dict of int to str, optional
        Border sections: the live levels of those no stored assessment covers
        (``geo.risk.levels``); each section then says its ``level`` and
        ``level_source`` (decision, assessment, live or none), as the map colours it.

    Returns
    -------
    list of dict
        Properties of each feature plus ``geometry`` (GeoJSON object as text in
        ``geometry_json``) and ``layer``.
    """
    layer = MAP_LAYERS[map_layer]
    extra = ""
    if map_layer == "border_segments":
        live = "CAST(:live_levels AS jsonb)"
        extra = (f", {maps.segment_level_sql(live)} AS level, "
                 f"{maps.segment_level_source_sql(live)} AS level_source")
    sql = _FEATURE_INFO_SQL.format(
        columns=", ".join(layer.map.info), table=layer.table, extra=extra,
        time_filter=_FEATURE_INFO_TIME if layer.temporal else "",
        scope_filter=("" if scope_region_ids is None
                      else "\n   AND " + scope_condition(layer))
        + ("\n   AND " + visibility_condition()
           if viewer_agency is not None and layer.releasable else ""))
    minx, miny, maxx, maxy = (float(v) for v in envelope)
    params = {"minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy, "lon": float(lon),
              "lat": float(lat), "limit": int(limit)}
    if map_layer == "border_segments":
        params["live_levels"] = json.dumps({str(k): v for k, v in (live_levels or {}).items()})
    if layer.temporal:
        params.update({"start": start, "end": end, "region_id": region_id,
                       "categories": list(categories), "outcomes": list(outcomes)})
    if scope_region_ids is not None:
        params["scope_region_ids"] = scope_parameter(scope_region_ids)
    if viewer_agency is not None and layer.releasable:
        params[VIEWER_PARAMETER] = viewer_agency
    rows = session.execute(text(sql), params).mappings().all()
    return [{"layer": map_layer, **dict(row)} for row in rows]
