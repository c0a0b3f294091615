"""The collections of OGC API Features and how their items are read.

Six collections: the four data layers (``regions``, ``border_segments``,
``crossing_points``, ``incidents``, read through ``geo.queries``), and two results:

- ``risk``: every border section with the scores of its **latest stored assessment**
  (``risk_section_results`` of the most recent ``risk_assessments`` record that covers
  it), or, when none covers it, its **live** scores as the workspace computes them
  (``geo.risk.levels``; the caller passes them as ``FeatureQuery.table_values``
  ``live_risk``), ``level_source`` saying which. The scored level is shown; a
  supervisor's decision is not applied here (the WMS applies it;
  ``/api/v1/risk/segments/{id}/history`` has them).
- ``hotspots``: the cells of the default hot-spot map
  (``geo.hotspots.pipeline.default_map``: Gi*, 2,000 m hexagons) over the extent of all
  regions for the **last 90 days of data** (the 90 days ending at the latest
  ``occurred_at``, not at today, so that a demonstration loaded long ago still shows
  something). Computed on first use and
  cached by the data versions; empty when there are too few incidents for Gi*.

Region scope (``FeatureQuery.scope_region_ids``, a user's regions): the table
collections and ``risk`` hold only the features of those regions (regions by id,
sections, crossing points, incidents and risk results by ``region_id``), and
``numberMatched`` counts those; an item outside the scope is not found. ``hotspots`` is
computed again for the scope: over the extent of the regions in scope, from their
incidents only, in the 90 days ending at the latest incident of the scope. The
collections' extents describe the data in the scope too (the bbox and time interval of
its features; ``hotspots``: the regions in scope, the 90-day window).

Every item of a table collection is written as GeoJSON text by PostgreSQL
(``geo.queries.feature_page``): no per-feature Python objects. Output CRSs are the
whitelist ``CRS_URIS`` (OGC API Features Part 2).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import orjson
import shapely

from geo import queries
from geo.crs import STORAGE_SRID, transform_xy
from geo.errors import ParameterError
from geo.hotspots import inputs, pipeline
from geo.layers import (
    HOTSPOT_WINDOW_DAYS,
    HOTSPOTS,
    INCIDENTS,
    REGIONS,
    RISK_RESULTS,
    SEGMENTS,
    Field,
    Layer,
)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


@dataclass(frozen=True)
class OutputCrs:
    """An output CRS: its URI, EPSG code, whether its axis order is (y, x) (EPSG:4326:
    latitude first), and the decimals of its coordinates (15 for degrees, 3 = 1 mm)."""

    uri: str
    srid: int
    swap_axes: bool
    decimals: int


CRS_URIS: dict[str, OutputCrs] = {
    crs.uri: crs for crs in (
        OutputCrs(CRS84, 4326, False, 15),
        OutputCrs("http://www.opengis.net/def/crs/EPSG/0/4326", 4326, True, 15),
        OutputCrs("http://www.opengis.net/def/crs/EPSG/0/3857", 3857, False, 3),
        OutputCrs("http://www.opengis.net/def/crs/EPSG/0/32638", 32638, False, 3),
    )
}
HOTSPOT_WINDOW = timedelta(days=HOTSPOT_WINDOW_DAYS)
_EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/"
# The short names of CRS_URIS' CRSs that output_crs reads too (in CRS_URIS' order).
CRS_SHORT_NAMES = ("CRS84", "EPSG:4326", "EPSG:3857", "EPSG:32638")


def output_crs(value: str) -> OutputCrs | None:
    """The supported CRS ``value`` names, or None: its URI (``CRS_URIS``) or a short
    form of it, as clients write them: ``EPSG:4326`` (latitude first, as its URI),
    ``urn:ogc:def:crs:EPSG::4326``, ``EPSG:3857``, ``EPSG:32638``, ``CRS84``,
    ``OGC:CRS84``, ``urn:ogc:def:crs:OGC:1.3:CRS84``; https URIs too."""
    text = value.strip()
    if text.startswith("https://"):
        text = "http://" + text[len("https://"):]
    upper = text.upper()
    if upper in ("CRS84", "OGC:CRS84", "URN:OGC:DEF:CRS:OGC:1.3:CRS84",
                 "URN:OGC:DEF:CRS:OGC::CRS84"):
        text = CRS84
    for prefix in ("EPSG:", "URN:OGC:DEF:CRS:EPSG::"):
        if upper.startswith(prefix) and upper[len(prefix):].isdigit():
            text = _EPSG_URI + upper[len(prefix):]
    return CRS_URIS.get(text.rstrip("/"))


def parse_property_value(field: Field, value: str) -> object:
    """A property filter's value as the field's type; ParameterError names the field."""
    if field.kind == "int":
        try:
            number = int(value)
        except ValueError:
            raise ParameterError(field.name, f"{value!r} is not a whole number") from None
        if field.choices and number not in field.choices:
            raise ParameterError(field.name, f"{number} is not one of "
                                 f"{', '.join(map(str, field.choices))}")
        return number
    if field.kind == "choice" and value not in field.choices:
        raise ParameterError(field.name, f"unknown value {value!r}; allowed: "
                             f"{', '.join(map(str, field.choices))}")
    return value


# ------------------------------------------------------------------ collection metadata

# (database, collection id, scope, viewer agency): (versions, extent); one entry per
# scope and agency that users have (the database: versions of two databases may meet).
_extents: dict[tuple, tuple[tuple, dict]] = {}
_extents_lock = threading.Lock()


def collection_extent(session, collection: Layer,
                      scope_region_ids: frozenset[int] | None = None,
                      viewer_agency: str | None = None) -> dict:
    """The OGC ``extent`` of a collection: spatial bbox (CRS84) and, for temporal
    collections, the interval of its time field; of the features in the region scope
    ``scope_region_ids`` that ``viewer_agency`` sees only (None: unrestricted), so that
    the metadata reveals no more than the items. Cached until the data changes."""
    versions = queries.result_versions(session)
    key = (str(session.connection().engine.url), collection.name,
           None if scope_region_ids is None else tuple(sorted(scope_region_ids)),
           viewer_agency)
    with _extents_lock:
        cached = _extents.get(key)
        if cached is not None and cached[0] == versions:
            return cached[1]
    if collection is HOTSPOTS:
        bbox = queries.layer_extent(session, REGIONS, scope_region_ids)
        times = _hotspot_window(session, scope_region_ids, viewer_agency)
    elif collection is RISK_RESULTS:  # stored or live, every section may be in it
        bbox = queries.layer_extent(session, SEGMENTS, scope_region_ids)
        times = None
    else:
        bbox = queries.layer_extent(session, collection, scope_region_ids, viewer_agency)
        times = queries.layer_time_extent(session, collection, scope_region_ids,
                                          viewer_agency)
    extent: dict = {"spatial": {"bbox": [list(bbox) if bbox else [-180, -90, 180, 90]],
                                "crs": CRS84}}
    if times is not None:
        extent["temporal"] = {"interval": [[t.isoformat() for t in times]],
                              "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    with _extents_lock:
        _extents[key] = (versions, extent)
    return extent


# ------------------------------------------------------------------ items


def items(session, collection: Layer, query: queries.FeatureQuery, crs: OutputCrs,
          max_cells: int, analysis_srid: int) -> queries.FeaturePage:
    """A page of a collection's items as GeoJSON text, in ``crs``.

    Parameters
    ----------
    session : sqlalchemy.orm.Session
    collection : geo.layers.Layer
        A layer of ``geo.layers.COLLECTIONS``.
    query : geo.queries.FeatureQuery
        bbox (EPSG:4326 or ``bbox_srid``), time window, property filters, page.
    crs : OutputCrs
        Output coordinates (one of ``CRS_URIS``).
    max_cells : int
        Cap of the hot-spot grid (``HOTSPOT_MAX_CELLS``).
    analysis_srid : int
        EPSG code of the metric CRS of the hot-spot grid, e.g. 32638.
    """
    if collection is HOTSPOTS:
        return _hotspot_page(session, query, crs, max_cells, analysis_srid)
    return queries.feature_page(session, collection, query, crs.srid, crs.swap_axes,
                                crs.decimals)


def item(session, collection: Layer, feature_id: int, crs: OutputCrs, max_cells: int,
         analysis_srid: int, scope_region_ids: frozenset[int] | None = None,
         viewer_agency: str | None = None,
         table_values: dict[str, str] | None = None) -> str | None:
    """One item as GeoJSON Feature text, or None when there is no such id (or it is
    outside the region scope ``scope_region_ids``, or ``viewer_agency`` does not see
    it; None: unrestricted)."""
    page = items(session, collection, queries.FeatureQuery(
        ids=[feature_id], limit=1, sort=[("id", False)], scope_region_ids=scope_region_ids,
        viewer_agency=viewer_agency, table_values=table_values or {}), crs, max_cells,
        analysis_srid)
    return page.features[1:-1].strip() if page.number_returned else None


def _hotspot_window(session, scope_region_ids: frozenset[int] | None = None,
                    viewer_agency: str | None = None) -> tuple[datetime, datetime] | None:
    """The 90 days ending at the latest incident (of the region scope that
    ``viewer_agency`` sees, when given: the window reveals nothing of other regions'
    incidents, nor of records hidden from the viewer)."""
    times = queries.layer_time_extent(session, INCIDENTS, scope_region_ids, viewer_agency)
    return None if times is None else (times[1] - HOTSPOT_WINDOW, times[1])


def hotspot_cells(session, max_cells: int, analysis_srid: int,
                  scope_region_ids: frozenset[int] | None = None,
                  viewer_agency: str | None = None) -> list[dict]:
    """The Gi* cells of the default analysis (see the module), as GeoJSON Features
    (EPSG:4326); [] when there is no data or too little for Gi*. With a region scope
    (region ids): over the extent of those regions, from their incidents only; with a
    viewer agency, counting what it may count (``geo.scope.counted_condition``)."""
    window = _hotspot_window(session, scope_region_ids, viewer_agency)
    bbox = queries.layer_extent(session, REGIONS, scope_region_ids)
    if window is None or bbox is None:
        return []
    selection = inputs.Selection(
        start=window[0], end=window[1],
        region_ids=None if scope_region_ids is None else tuple(sorted(scope_region_ids)),
        viewer_agency=viewer_agency)
    try:
        area = inputs.StudyArea(region_ids=selection.region_ids)
        body = pipeline.default_map(session, area, selection,
                                    analysis_srid, max_cells)
    except ParameterError:
        return []  # too few incidents (or cells) for Gi*: no hot-spots to show
    return orjson.loads(body)["features"]


def _hotspot_page(session, query: queries.FeatureQuery, crs: OutputCrs, max_cells: int,
                  analysis_srid: int) -> queries.FeaturePage:
    features = hotspot_cells(session, max_cells, analysis_srid, query.scope_region_ids,
                             query.viewer_agency)
    if query.ids is not None:
        wanted = set(query.ids)
        features = [f for f in features if f["id"] in wanted]
    for name, value in query.equals.items():
        features = [f for f in features if f["properties"].get(name) == value]
    if query.bbox is not None and features:
        box = shapely.box(*query.bbox)
        if query.bbox_srid != STORAGE_SRID:
            ring = shapely.segmentize(box, (query.bbox[2] - query.bbox[0]) / 64 + 1e-9)
            box = shapely.transform(ring, lambda c: np.column_stack(
                transform_xy(c[:, 0], c[:, 1], query.bbox_srid, STORAGE_SRID)))
        shapes = shapely.from_geojson([json.dumps(f["geometry"]) for f in features])
        features = [f for f, hit in zip(features, shapely.intersects(shapes, box),
                                        strict=True) if hit]
    matched = len(features)
    end = None if query.limit is None else query.offset + query.limit
    page = [_in_crs(f, crs) for f in features[query.offset:end]]
    return queries.FeaturePage(matched, len(page), json.dumps(page))


def _in_crs(feature: dict, crs: OutputCrs) -> dict:
    if crs.srid == STORAGE_SRID and not crs.swap_axes:
        return feature
    ring = np.asarray(feature["geometry"]["coordinates"][0], dtype=float)
    x, y = transform_xy(ring[:, 0], ring[:, 1], STORAGE_SRID, crs.srid)
    if crs.swap_axes:
        x, y = y, x
    coordinates = np.round(np.column_stack([x, y]), crs.decimals).tolist()
    return {**feature, "geometry": {"type": "Polygon", "coordinates": [coordinates]}}
