"""The WMS ``hotspots`` layer: the cells with a Gi* bin of the default hot-spot map
(``geo.hotspots.pipeline.default_map``), as a mapnik GeoJSON datasource cached per
request and data version.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict

import mapnik
from sqlalchemy.orm import Session

from geo import queries
from geo.db import map_engine
from geo.errors import ParameterError
from geo.maps.map_request import MapRequest
from geo.maps.overlays import scope_ids, time_window

# mapnik's GeoJSON reader refuses a collection without features: one that no rule draws.
EMPTY_GEOJSON = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]},
     "properties": {"bin": 0}}]})


# ------------------------------------------------------------------ hot spots


_HOTSPOT_DATASOURCES: OrderedDict[str, mapnik.Datasource] = OrderedDict()
_HOTSPOT_LOCK = threading.Lock()


def hotspot_features(database_url: str, time: tuple | None, region: str | None,
                     analysis_srid: int, categories: tuple[str, ...] = (),
                     outcome: tuple[str, ...] = (),
                     scope: tuple[int, ...] | None = None,
                     agency: str | None = None) -> dict:
    """The cells with a non-zero Gi* bin of the default hot-spot map
    (``geo.hotspots.pipeline.default_map``, in the analysis CRS ``analysis_srid``) for a
    window, of the incidents of ``categories`` and ``outcome`` (empty: all; both
    outcomes: all); GeoJSON, EPSG:4326.

    Study area: the region, else the extent of the regions in ``scope`` (region ids;
    None: of all regions); with a scope only the incidents of its regions count, and
    with an ``agency`` only what it may count (``geo.scope.counted_condition``). An
    empty collection when there are too few incidents for Gi*.
    """
    from geo.hotspots import inputs, pipeline

    start, end = time if time is not None else (None, None)
    with Session(map_engine(database_url)) as session:
        if not region and queries.regions_extent(session, None, scope) is None:
            return {"type": "FeatureCollection", "features": []}  # no region to draw
        # Selection takes one outcome or none (all): both outcomes are all of them.
        selection = inputs.Selection(start=start, end=end, categories=tuple(categories),
                                       outcome=outcome[0] if len(set(outcome)) == 1 else None,
                                       region_ids=scope, viewer_agency=agency)
        try:
            body = pipeline.default_map(
                session, inputs.StudyArea(regions=(region,) if region else (),
                                          region_ids=scope), selection,
                analysis_srid)
        except ParameterError as error:
            if error.field == "region":
                raise
            return {"type": "FeatureCollection", "features": []}
    collection = json.loads(body)
    features = [
        {"type": "Feature", "geometry": f["geometry"],
         "properties": {"bin": int(f["properties"]["bin"]), "z": f["properties"]["z"],
                        "count": f["properties"]["count"]}}
        for f in collection["features"] if f["properties"].get("bin")
    ]
    return {"type": "FeatureCollection", "features": features}


def hotspot_datasource(database_url: str, request: MapRequest) -> mapnik.Datasource:
    """The hot-spot cells of ``request`` (:func:`hotspot_features`) as a mapnik
    datasource, kept per request and data versions of every table (16 at most), so any
    write, on any node, makes it anew."""
    key = json.dumps([database_url, [t.isoformat() if t else None for t in time_window(request)],
                      request.region, sorted(request.categories), sorted(request.outcome),
                      scope_ids(request), request.agency, request.analysis_srid])
    with map_engine(database_url).connect() as connection:
        # Every table's version: the study area (regions) counts as much as incidents.
        key += "/" + json.dumps(queries.data_versions(connection), sort_keys=True)
    with _HOTSPOT_LOCK:
        found = _HOTSPOT_DATASOURCES.get(key)
    if found is None:
        collection = hotspot_features(database_url, request.time, request.region,
                                      request.analysis_srid, categories=request.categories,
                                      outcome=request.outcome, scope=scope_ids(request),
                                      agency=request.agency)
        found = mapnik.Datasource(type="geojson", inline=json.dumps(collection)
                                  if collection["features"] else EMPTY_GEOJSON)
        with _HOTSPOT_LOCK:
            _HOTSPOT_DATASOURCES[key] = found
            while len(_HOTSPOT_DATASOURCES) > 16:
                _HOTSPOT_DATASOURCES.popitem(last=False)
    return found


