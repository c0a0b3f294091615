"""Map rendering with mapnik, straight from PostGIS, shared by the WMS and the bulletin.

``render_map(MapRequest(...), database_url)`` returns an encoded image (PNG 32- or
8-bit, or JPEG). Layers are described in ``geo.maps.catalogue``; colours are the constants
below (the bulletin and the UI legend read them too).

How a map is drawn:

* Vector layers (``countries``, ``regions``, ``border_segments``, ``crossing_points``,
  ``incidents`` at large scales, ``hotspots``) are mapnik layers. A mapnik ``Map`` with
  its styles and datasources is built once per thread, CRS and layer list, and reused:
  a request only sets the size, extent and the SQL variables (``!@start!``, ``!@end!``,
  ``!@region!``, ``!@scope!``, ``!@levels!``, ``!@categories!``, ``!@outcomes!``), which
  mapnik's postgis datasource substitutes as quoted literals. Only values formatted by
  this module (validated numbers, UTC timestamps, a JSON object of ids and level words,
  comma-joined words checked against ``geo.vocabulary``, comma-joined integer region
  ids) are ever passed; a region code is looked up in the database first and passed as
  its integer id.
* Region scope (``MapRequest.scope``, a user's regions): every layer but the countries
  basemap shows only features of those regions (regions by id, the others by
  ``region_id``), the rasters count only their incidents, and the hot spots are computed
  over them only (study area: the extent of the regions in scope, or the requested
  region; incidents of the scope only). A requested REGION outside the scope is an
  ``OutOfScopeError``.
* Raster layers (``density``, and ``incidents`` at small scales as count cells, see
  ``geo.maps.catalogue.INCIDENT_POINT_MAX_SCALE``) are computed with numpy from an
  in-process copy of the incident points (refreshed when the ``incidents`` data
  version changes) and composited in layer order. A whole-country map of a million
  incidents is then a ``bincount``, not a million-row query.
* The render connections turn PostgreSQL's parallel query off
  (``max_parallel_workers_per_gather=0``): starting workers costs ~20 ms per small
  query. mapnik's postgis datasource has no libpq ``options`` parameter, so the option
  is appended to its ``dbname`` (mapnik passes it through to the libpq conninfo).
* mapnik's postgis plugin keeps its connections in a pool of its own (one per
  connection string and process) and does not check one before use: after a database
  restart (or ``pg_terminate_backend``, ``idle_session_timeout``) the first query on
  each pooled connection fails. ``render_map`` recognises that failure by libpq's words
  (``lost_connection``), discards the ended connections (``_discard_ended_connections``)
  and draws the map once more; a database that is down fails that at once (503).
"""

from __future__ import annotations

import io
import json
import os
import struct
import tempfile
import threading
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import mapnik
import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo import queries
from geo.crs import DEFAULT_ANALYSIS_SRID, transform_xy
from geo.db import MAPNIK_POOL_SIZE, map_engine, mapnik_parameters
from geo.errors import OutOfScopeError, ParameterError
from geo.hotspots import density as kde
from geo.maps.catalogue import (
    INCIDENT_CELL_CLASSES,
    INCIDENT_CELL_PIXELS,
    INCIDENT_POINT_MAX_SCALE,
    MAP_CRS,
    MAP_LAYERS,
)
from geo.vocabulary import INCIDENT_CATEGORIES, INCIDENT_OUTCOMES

BASE_DIR = Path(__file__).resolve().parents[2]
COUNTRIES_TOPOJSON = BASE_DIR / "node_modules" / "world-atlas" / "countries-10m.json"

# ------------------------------------------------------------------ colours (one place)

RISK_LEVEL_COLOURS: dict[str, str] = {
    "low": "#4575b4",
    "medium": "#fee090",
    "high": "#f46d43",
    "critical": "#a50026",
}
NOT_ASSESSED_COLOUR = "#999999"
# Gi* bins (geo.hotspots.spatial_stats.gi_bins): +-3 99 %, +-2 95 %, +-1 90 %; 0 is transparent.
HOTSPOT_BIN_COLOURS: dict[int, str] = {
    3: "#b2182b", 2: "#ef8a62", 1: "#fddbc7",
    -1: "#d1e5f0", -2: "#67a9cf", -3: "#2166ac",
}
# Incident categories: a qualitative palette (ColorBrewer Paired + Dark2), in the order
# of geo.vocabulary.INCIDENT_CATEGORIES.
_CATEGORY_PALETTE = (
    "#1f78b4", "#33a02c", "#e31a1c", "#ff7f00", "#6a3d9a", "#b15928", "#a6cee3",
    "#b2df8a", "#fb9a99", "#fdbf6f", "#cab2d6", "#1b9e77", "#d95f02", "#7570b3",
)
INCIDENT_CATEGORY_COLOURS: dict[str, str] = {
    name: _CATEGORY_PALETTE[k % len(_CATEGORY_PALETTE)]
    for k, name in enumerate(INCIDENT_CATEGORIES)
}
# Aggregated incident cells, one colour per class of geo.maps.catalogue.INCIDENT_CELL_CLASSES
# plus the open last class (YlOrRd).
INCIDENT_CELL_COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
# Kernel density ramp from low to the window's peak (YlOrRd), drawn semi-transparent.
DENSITY_RAMP = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a",
                "#e31a1c", "#b10026")
SEGMENT_PLAIN_COLOUR = "#333333"
CROSSING_POINT_COLOUR = "#222222"
REGION_OUTLINE_COLOUR = "#555555"
COUNTRY_FILL_COLOUR = "#eeeeee"
COUNTRY_LINE_COLOUR = "#bbbbbb"

# ------------------------------------------------------------------ the request

FORMATS = ("png", "png8", "jpeg")
# Encoder options (measured: png32 default ~33 ms per 256x256 map, z=1:s=rle ~11 ms,
# png8:m=o ~17 ms).
_ENCODERS = {"png": "png32:z=1:s=rle", "png8": "png8:m=o:z=1", "jpeg": "jpeg85"}
_CRS_EPSG = {"EPSG:4326": 4326, "CRS:84": 4326, "EPSG:3857": 3857, "EPSG:32638": 32638}
METRES_PER_DEGREE = 6378137.0 * 2 * np.pi / 360  # at the equator (OGC SLD/SE scale)
PIXEL_SIZE_M = 0.00028  # OGC standardised rendering pixel
_NEVER_START = "-infinity"
_NEVER_END = "infinity"


@dataclass(frozen=True)
class MapRequest:
    """What to draw.

    Parameters
    ----------
    layers : tuple of str
        Names from ``geo.maps.catalogue.MAP_LAYERS``, drawn bottom to top.
    styles : tuple of str
        One per layer ('' = the layer's default), or empty for all defaults.
    bbox : tuple of float
        (minx, miny, maxx, maxy) in ``crs`` units, x = easting or longitude (degrees
        for EPSG:4326/CRS:84, metres otherwise).
    crs : str
        EPSG:4326, CRS:84, EPSG:3857 or EPSG:32638.
    width, height : int
        Pixels.
    fmt : str
        'png' (32-bit), 'png8' or 'jpeg'.
    transparent : bool
        Transparent background (PNG only).
    bgcolor : str
        Background colour '#RRGGBB'.
    time : tuple of datetime or None
        UTC [start, end) of ``occurred_at`` for incidents, hotspots and density; either
        end may be None (open).
    region : str or None
        Region code restricting incidents, hotspots and density.
    scope : frozenset of int or None
        The caller's region scope (ids, ``app.auth.scope.region_scope``): only features
        of these regions are drawn on every layer but ``countries``; None: unrestricted.
    categories : tuple of str
        Incident categories (keys of ``geo.vocabulary.INCIDENT_CATEGORIES``) drawn by
        incidents, hotspots and density; empty = all.
    outcome : tuple of str
        Incident outcomes (``geo.vocabulary.INCIDENT_OUTCOMES``) drawn by incidents,
        hotspots and density; empty = all.
    analysis_srid : int
        EPSG code of the analysis CRS (the ``ANALYSIS_CRS`` setting): hot-spot cells and
        the density surface are computed in its metres.
    segment_levels : mapping of int to str, optional
        Risk level per border segment id for the ``risk_level`` style; None = each
        section's level in the latest stored assessment (a supervisor's decision
        overrides it), grey where none.
    """

    layers: tuple[str, ...]
    styles: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] = (39.9, 41.0, 46.8, 43.6)
    crs: str = "EPSG:4326"
    width: int = 256
    height: int = 256
    fmt: str = "png"
    transparent: bool = False
    bgcolor: str = "#FFFFFF"
    time: tuple[datetime | None, datetime | None] | None = None
    region: str | None = None
    scope: frozenset[int] | None = None
    analysis_srid: int = DEFAULT_ANALYSIS_SRID
    categories: tuple[str, ...] = ()
    outcome: tuple[str, ...] = ()
    segment_levels: Mapping[int, str] | None = field(default=None, hash=False, compare=False)


def resolved_styles(request: MapRequest) -> tuple[str, ...]:
    """The style of each layer, defaults filled in; ParameterError for a bad one."""
    for name in request.layers:
        if name not in MAP_LAYERS:
            raise ParameterError("layers", f"unknown layer {name!r}; layers: "
                                 + ", ".join(MAP_LAYERS))
    styles = request.styles or ("",) * len(request.layers)
    if len(styles) != len(request.layers):
        raise ParameterError("styles", f"give one style per layer ({len(request.layers)}), "
                             f"got {len(styles)}")
    chosen = []
    for name, style in zip(request.layers, styles, strict=True):
        layer = MAP_LAYERS[name]
        if style in ("", "default"):
            style = layer.default_style
        if style not in layer.style_names():
            raise ParameterError("styles", f"layer {name!r} has no style {style!r}; styles: "
                                 + ", ".join(layer.style_names()))
        chosen.append(style)
    return tuple(chosen)


def _validate(request: MapRequest) -> tuple[str, ...]:
    if request.crs not in MAP_CRS:
        raise ParameterError("crs", f"unsupported CRS {request.crs!r}; CRSs: "
                             + ", ".join(MAP_CRS))
    if request.fmt not in FORMATS:
        raise ParameterError("format", f"unknown format {request.fmt!r}; formats: "
                             + ", ".join(FORMATS))
    if not (0 < request.width <= 16384 and 0 < request.height <= 16384):
        raise ParameterError("width", "width and height must be 1-16384 pixels")
    minx, miny, maxx, maxy = (float(v) for v in request.bbox)
    if not all(np.isfinite([minx, miny, maxx, maxy])) or not (minx < maxx and miny < maxy):
        raise ParameterError("bbox", "the bbox needs minx < maxx and miny < maxy, finite")
    _colour(request.bgcolor)
    for field_name, values, allowed in (("category", request.categories, INCIDENT_CATEGORIES),
                                        ("outcome", request.outcome, INCIDENT_OUTCOMES)):
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise ParameterError(field_name, f"unknown {field_name} {unknown[0]!r}; allowed: "
                                 + ", ".join(allowed))
    if request.scope is not None and not all(isinstance(r, int) for r in request.scope):
        raise ParameterError("scope", "region ids must be integers")
    if request.segment_levels is not None:
        for segment_id, level in request.segment_levels.items():
            if not isinstance(segment_id, int) or level not in RISK_LEVEL_COLOURS:
                raise ParameterError("segment_levels", f"segment {segment_id!r}: level must "
                                     "be one of " + ", ".join(RISK_LEVEL_COLOURS))
    return resolved_styles(request)


def _colour(value: str) -> tuple[int, int, int]:
    text_ = value.strip().lstrip("#")
    if text_.lower().startswith("0x"):
        text_ = text_[2:]
    if len(text_) != 6 or any(c not in "0123456789abcdefABCDEF" for c in text_):
        raise ParameterError("bgcolor", f"{value!r} is not a colour like #RRGGBB or 0xRRGGBB")
    return int(text_[0:2], 16), int(text_[2:4], 16), int(text_[4:6], 16)


def scale_denominator(request: MapRequest) -> float:
    """OGC scale denominator of the map (0.28 mm pixels; degrees at the equator)."""
    minx, _, maxx, _ = request.bbox
    metres = (maxx - minx) * (METRES_PER_DEGREE if _CRS_EPSG[request.crs] == 4326 else 1.0)
    return metres / request.width / PIXEL_SIZE_M


# ------------------------------------------------------------------ database access


# The renderer's connections: geo.db.map_engine (SQLAlchemy) and geo.db.mapnik_parameters.


# libpq's words when the server has ended the connection a query was sent on (a restart
# or pg_terminate_backend: "FATAL: terminating connection due to administrator command",
# then "server closed the connection unexpectedly"), lower case. Not "could not
# connect" or "the database system is starting up": a new connection failed, the
# database is down and drawing again cannot help.
_LOST_CONNECTION_WORDS = ("terminating connection", "server closed the connection",
                          "no connection to the server", "connection not open",
                          "could not send data to server",
                          "could not receive data from server",
                          "ssl connection has been closed unexpectedly")


def lost_connection(error: BaseException) -> bool:
    """Whether ``error`` is mapnik's postgis plugin finding its pooled connection ended
    by the server (libpq's message, before the SQL that mapnik quotes after it)."""
    if not isinstance(error, RuntimeError):
        return False
    libpq = str(error).split("Full sql was", 1)[0].lower()
    return any(words in libpq for words in _LOST_CONNECTION_WORDS)


# The smallest datasource of the render connections' pool: making one runs a query
# ("SELECT * FROM table LIMIT 0") on a pooled connection, then closes that connection.
_PROBE_TABLE = "(SELECT NULL::geometry AS geom) AS probe"


def _discard_ended_connections(database_url: str) -> None:
    """Rid mapnik's pool of this database of the connections the server has ended.

    A query on an ended connection fails at once and marks it bad; the pool drops bad
    connections when one is next borrowed. So probe datasources are made until one
    succeeds (on a live connection, or a new one when the pool is empty): at most the
    pool's size plus one, without a wait. A probe that cannot connect (the database is
    down) raises its error (a RuntimeError).
    """
    probe = dict(mapnik_parameters(database_url), table=_PROBE_TABLE,
                 geometry_field="geom", srid="4326", extent="-180,-90,180,90")
    for _ in range(MAPNIK_POOL_SIZE + 1):
        try:
            mapnik.Datasource(**probe)
        except RuntimeError as error:
            if not lost_connection(error):
                raise
            continue
        return


def region_id(database_url: str, code: str) -> int:
    """The id of the region ``code``; ParameterError when there is none."""
    from geo.queries import region_id_for_code

    with Session(map_engine(database_url)) as session:
        found = region_id_for_code(session, code)
    if found is None:
        raise ParameterError("region", f"unknown region code {code!r}")
    return int(found)


# ------------------------------------------------------------------ styles and layers (XML)


def _param_xml(parameters) -> str:
    return "".join(f"<Parameter name={quoteattr(k)}>{escape(v)}</Parameter>"
                   for k, v in parameters)


def _rule(symbolizers: str, filter_: str | None = None, else_: bool = False) -> str:
    condition = f"<Filter>{escape(filter_)}</Filter>" if filter_ else ""
    if else_:
        condition = "<ElseFilter/>"
    return f"<Rule>{condition}{symbolizers}</Rule>"


def _line(colour: str, width: float, opacity: float = 1.0) -> str:
    return (f'<LineSymbolizer stroke="{colour}" stroke-width="{width}" '
            f'stroke-opacity="{opacity}" stroke-linecap="round" stroke-linejoin="round"/>')


def _marker(colour: str, size: float, stroke: str | None = None) -> str:
    outline = (f'stroke="{stroke}" stroke-width="1"' if stroke else 'stroke-width="0"')
    return (f'<MarkersSymbolizer fill="{colour}" width="{size}" height="{size}" {outline} '
            'allow-overlap="true" ignore-placement="true"/>')


INCIDENT_POINT_SIZE = 5  # pixels


def _dot(colour: str, size: float = INCIDENT_POINT_SIZE) -> str:
    return f'<DotSymbolizer fill="{colour}" width="{size}" height="{size}"/>'


def style_rules(layer: str, style: str) -> str:
    """The mapnik rules (XML) of a vector layer's style."""
    if layer == "countries":
        return (_rule(f'<PolygonSymbolizer fill="{COUNTRY_FILL_COLOUR}" gamma="0.6"/>',
                      "[kind] = 'fill'")
                + _rule(_line(COUNTRY_LINE_COLOUR, 0.8), "[kind] = 'line'"))
    if layer == "regions":
        return _rule(_line(REGION_OUTLINE_COLOUR, 1.0, 0.9))
    if layer == "border_segments" and style == "plain":
        return _rule(_line(SEGMENT_PLAIN_COLOUR, 2.0))
    if layer == "border_segments":
        rules = [_rule(_line(colour, 3.0), f"[level] = '{level}'")
                 for level, colour in RISK_LEVEL_COLOURS.items()]
        return "".join(rules) + _rule(_line(NOT_ASSESSED_COLOUR, 3.0), else_=True)
    if layer == "crossing_points":
        return _rule(_marker("#ffffff", 8, CROSSING_POINT_COLOUR))
    if layer == "incidents":
        # DotSymbolizer: the same round anti-aliased dot as a MarkersSymbolizer ellipse
        # at under half the CPU (11 against 28 ms for 5,700 points here).
        rules = [_rule(_dot(colour), f"[category] = '{name}'")
                 for name, colour in INCIDENT_CATEGORY_COLOURS.items()]
        return "".join(rules) + _rule(_dot("#666666"), else_=True)
    if layer == "hotspots":
        return "".join(
            _rule(f'<PolygonSymbolizer fill="{colour}" fill-opacity="0.8"/>', f"[bin] = {b}")
            for b, colour in HOTSPOT_BIN_COLOURS.items())
    raise KeyError(layer)


_SEGMENT_LEVEL_SQL = """
    COALESCE((SELECT d.level FROM risk_level_decisions d WHERE d.segment_id = s.id
              ORDER BY d.decided_at DESC, d.id DESC LIMIT 1),
             (SELECT r.level FROM risk_section_results r
                JOIN risk_assessments a ON a.id = r.assessment_id
               WHERE r.segment_id = s.id ORDER BY a.created_at DESC, a.id DESC LIMIT 1),
             'none')"""

# The subqueries of the vector layers. Only mapnik variables (quoted by mapnik, values
# formatted by this module) and !bbox! vary.
# mapnik's GeoJSON reader refuses a collection without features: one that no rule draws.
_EMPTY_GEOJSON = json.dumps({"type": "FeatureCollection", "features": [
    {"type": "Feature", "geometry": {"type": "Point", "coordinates": [0, 0]},
     "properties": {"bin": 0}}]})

# The region scope: '' is unrestricted (a constant the planner folds away), else
# comma-joined integer ids formatted by _variables.
def _scope_sql(column: str) -> str:
    return (f"(CAST(!@scope! AS text) = '' OR {column} = ANY(CAST(string_to_array("
            "CAST(!@scope! AS text), ',') AS integer[])))")


_LAYER_SQL = {
    "regions": "(SELECT id, code, name_en, geom FROM regions WHERE geom && !bbox! AND "
    + _scope_sql("id") + ") AS t",
    "border_segments": "(SELECT s.id, s.code, s.geom, " + _SEGMENT_LEVEL_SQL
    + " AS level FROM border_segments s WHERE s.geom && !bbox! AND "
    + _scope_sql("s.region_id") + ") AS t",
    "border_segments/given": "(SELECT s.id, s.code, s.geom, COALESCE("
    "CAST(!@levels! AS jsonb) ->> s.id::text, 'none') AS level FROM border_segments s "
    "WHERE s.geom && !bbox! AND " + _scope_sql("s.region_id") + ") AS t",
    "crossing_points": "(SELECT id, code, kind, geom FROM crossing_points "
    "WHERE geom && !bbox! AND " + _scope_sql("region_id") + ") AS t",
    "incidents": "(SELECT id, category, geom FROM incidents WHERE geom && !bbox! "
    "AND " + _scope_sql("region_id") + " "
    "AND occurred_at >= CAST(!@start! AS timestamptz) "
    "AND occurred_at < CAST(!@end! AS timestamptz) "
    "AND (CAST(!@region! AS integer) = 0 OR region_id = CAST(!@region! AS integer)) "
    "AND (CAST(!@categories! AS text) = '' "
    "OR category = ANY(string_to_array(CAST(!@categories! AS text), ','))) "
    "AND (CAST(!@outcomes! AS text) = '' "
    "OR outcome = ANY(string_to_array(CAST(!@outcomes! AS text), ',')))) AS t",
}


def _layer_xml(database_url: str, srs: str, name: str, style: str, variant: str) -> str:
    style_name = f"{name}:{style}"
    if name in ("countries", "hotspots"):
        # Replaced by the shared countries datasource, or per request by the hot spots.
        datasource = _param_xml((("type", "geojson"),
                                 ("inline", _EMPTY_GEOJSON)))
    else:
        sql = _LAYER_SQL[f"{name}/given" if variant == "given" else name]
        datasource = _param_xml(mapnik_parameters(database_url) + (
            ("table", sql), ("geometry_field", "geom"), ("srid", "4326"),
            ("key_field", "id"), ("extent", "-180,-90,180,90"),
            ("estimate_extent", "false")))
    return (f'<Layer name={quoteattr(name)} srs="epsg:4326">'
            f"<StyleName>{escape(style_name)}</StyleName>"
            f"<Datasource>{datasource}</Datasource></Layer>")


def _map_xml(database_url: str, srs: str, group: tuple[tuple[str, str, str], ...]) -> str:
    styles = "".join(
        f'<Style name={quoteattr(f"{name}:{style}")}>{style_rules(name, style)}</Style>'
        for name, style in dict.fromkeys((n, s) for n, s, _ in group))
    layers = "".join(_layer_xml(database_url, srs, n, s, v) for n, s, v in group)
    return f'<Map srs="{srs}">{styles}{layers}</Map>'


class _MapCache(threading.local):
    """Per-thread mapnik Maps by (database, CRS, layer group): mapnik Maps are not
    thread-safe, and building one (XML, datasources) costs more than drawing it."""

    def __init__(self):
        self.maps: OrderedDict[tuple, mapnik.Map] = OrderedDict()

    def get(self, key: tuple) -> mapnik.Map:
        found = self.maps.get(key)
        if found is None:
            database_url, srs, group = key
            found = mapnik.Map(256, 256)
            mapnik.load_map_from_string(found, _map_xml(database_url, srs, group))
            # WMS draws exactly the requested bbox, stretching pixels if need be.
            found.aspect_fix_mode = mapnik.aspect_fix_mode.RESPECT
            self.maps[key] = found
            while len(self.maps) > 32:
                self.maps.popitem(last=False)
        else:
            self.maps.move_to_end(key)
        return found


_MAPS = _MapCache()


@lru_cache(maxsize=1)
def countries_datasource() -> mapnik.Datasource:
    """Natural Earth 1:10m countries (``COUNTRIES_TOPOJSON``) as one shared GeoJSON
    datasource, cut into 5-degree tiles: mapnik's topojson reader took ~240 ms per map
    here, whole countries in its indexed GeoJSON reader ~35 ms, the tiles ~15 ms.
    Prepared once (~10 s) into a file in the temporary directory, keyed by the source
    file's size and time; latitudes cut at +-85.05 degrees to reproject to EPSG:3857."""
    stat = COUNTRIES_TOPOJSON.stat()
    cache = Path(tempfile.gettempdir()) / (
        f"borderrisk-countries-{stat.st_size}-{int(stat.st_mtime)}.geojson")
    if not cache.exists():
        partial = cache.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(_countries_tiles_geojson(), encoding="utf-8")
        partial.replace(cache)
    return mapnik.Datasource(type="geojson", file=str(cache))


def _countries_tiles_geojson() -> str:
    with open(COUNTRIES_TOPOJSON, encoding="utf-8") as handle:
        topology = json.load(handle)
    scale = np.asarray(topology["transform"]["scale"], dtype=float)
    translate = np.asarray(topology["transform"]["translate"], dtype=float)
    arcs = [np.cumsum(np.asarray(arc, dtype=np.int64), axis=0) * scale + translate
            for arc in topology["arcs"]]

    def ring(indices) -> list:
        coords = []
        for signed in indices:
            arc = arcs[signed] if signed >= 0 else arcs[~signed][::-1]
            coords.extend(arc[1:] if coords else arc)
        points = np.asarray(coords)
        points[:, 1] = np.clip(points[:, 1], -85.05, 85.05)
        return np.round(points, 5)

    polygons = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        if geometry.get("type") == "Polygon":
            parts = [geometry["arcs"]]
        elif geometry.get("type") == "MultiPolygon":
            parts = geometry["arcs"]
        else:
            continue
        for part in parts:
            rings = [r for r in (ring(indices) for indices in part) if len(r) >= 4]
            if rings:
                polygons.append(shapely.polygons(
                    shapely.linearrings(rings[0]),
                    holes=[shapely.linearrings(r) for r in rings[1:]] or None))
    # Cut into 5-degree tiles so a map reads only the pieces it shows (whole countries
    # cost ~35 ms a map): fills as polygons, outlines as separate lines so the cuts draw
    # no edges.
    fills = np.array(polygons, dtype=object)
    invalid = ~shapely.is_valid(fills)
    fills[invalid] = shapely.buffer(fills[invalid], 0)  # much faster than make_valid
    lines = shapely.boundary(fills)
    bounds = shapely.bounds(fills)
    features = []
    for lon in range(-180, 180, 5):
        for lat in range(-90, 90, 5):
            near = ((bounds[:, 0] <= lon + 5) & (bounds[:, 2] >= lon)
                    & (bounds[:, 1] <= lat + 5) & (bounds[:, 3] >= lat))
            for kind, shapes in (("fill", fills[near]), ("line", lines[near])):
                pieces = shapely.clip_by_rect(shapes, lon, lat, lon + 5, lat + 5)
                pieces = pieces[~shapely.is_empty(pieces)]
                features.extend(
                    f'{{"type":"Feature","properties":{{"kind":"{kind}"}},"geometry":{g}}}'
                    for g in shapely.to_geojson(pieces))
    return '{"type":"FeatureCollection","features":[' + ",".join(features) + "]}"


# ------------------------------------------------------------------ incident points (numpy)


@dataclass
class _Points:
    version: int
    lon: np.ndarray
    lat: np.ndarray
    time: np.ndarray  # epoch seconds, UTC, ascending
    region: np.ndarray
    category: np.ndarray  # int8 code: _CATEGORY_CODES position + 1, 0 = other
    outcome: np.ndarray  # int8 code: _OUTCOME_CODES position + 1, 0 = other
    projected: dict = field(default_factory=dict)

    def xy(self, epsg: int) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates in ``epsg`` as float32 (half the memory traffic of float64; ~0.5 m
        resolution at UTM northings, far below a pixel), computed once per CRS."""
        if epsg not in self.projected:
            if epsg == 4326:
                x, y = self.lon, self.lat
            else:
                lat = np.clip(self.lat, -85.06, 85.06) if epsg == 3857 else self.lat
                x, y = transform_xy(self.lon, lat, 4326, epsg)
            self.projected[epsg] = (np.asarray(x, dtype=np.float32),
                                    np.asarray(y, dtype=np.float32))
        return self.projected[epsg]

    def select(self, start: datetime | None, end: datetime | None, region: int,
               categories: tuple[str, ...] = (), outcomes: tuple[str, ...] = (),
               scope: tuple[int, ...] | None = None) -> slice | np.ndarray:
        """The points in [start, end) (and the region when not 0, of the categories and
        outcomes when given, of the regions of ``scope`` when not None): a slice (no
        copy) of the time-sorted arrays, or an index array when another filter is given.
        Unlinked incidents (region 0) are outside every scope."""
        lo = 0 if start is None else int(np.searchsorted(self.time, start.timestamp(), "left"))
        hi = (len(self.time) if end is None
              else int(np.searchsorted(self.time, end.timestamp(), "left")))
        if not (region or categories or outcomes or scope is not None):
            return slice(lo, hi)
        keep = np.ones(hi - lo, dtype=bool)
        if region:
            keep &= self.region[lo:hi] == region
        if scope is not None:
            keep &= np.isin(self.region[lo:hi], np.array(scope, dtype=np.int64))
        if categories:
            keep &= np.isin(self.category[lo:hi], _codes(_CATEGORY_CODES, categories))
        if outcomes:
            keep &= np.isin(self.outcome[lo:hi], _codes(_OUTCOME_CODES, outcomes))
        return lo + np.flatnonzero(keep)


# Small integer codes of the vocabularies in the in-process copy of the points.
_CATEGORY_CODES = tuple(INCIDENT_CATEGORIES)
_OUTCOME_CODES = tuple(INCIDENT_OUTCOMES)


def _codes(vocabulary: tuple[str, ...], names: tuple[str, ...]) -> np.ndarray:
    return np.array([vocabulary.index(n) + 1 for n in names], dtype=np.int8)


def _sql_text_array(vocabulary: tuple[str, ...]) -> str:
    """A vocabulary (constants of geo.vocabulary, never user input) as a SQL text[]."""
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in vocabulary) \
        + "]::text[]"


_POINTS: dict[str, _Points] = {}
_POINTS_LOCK = threading.Lock()


def _incidents_version(connection) -> int:
    return int(queries.data_versions(connection)["incidents"])


def incident_points(database_url: str) -> _Points:
    """Coordinates, times and regions of every incident, cached per data version."""
    with map_engine(database_url).connect() as connection:
        version = _incidents_version(connection)
        cached = _POINTS.get(database_url)
        if cached is not None and cached.version == version:
            return cached
        with _POINTS_LOCK:
            records = _copy_points(connection.connection.dbapi_connection)
            points = _Points(version, records["value0"].astype(float),
                             records["value1"].astype(float), records["value2"].astype(float),
                             records["value3"].astype(np.int64),
                             records["value4"].astype(np.int8),
                             records["value5"].astype(np.int8))
            _POINTS[database_url] = points
        return points


# One row of the binary COPY of _copy_points: field count, then (length, float8) x 6.
_COPY_ROW = np.dtype([("fields", ">i2")] + [
    item for n in range(6) for item in ((f"length{n}", ">i4"), (f"value{n}", ">f8"))])
_COPY_HEADER = 19  # PGCOPY signature (11) + flags (4) + header extension length (4)


def _copy_points(raw_connection) -> np.ndarray:
    """lon, lat, epoch seconds, region id, category code and outcome code
    (``value0``..``value5``) of every incident, time-ordered, read with one binary COPY
    (a million rows in about a second)."""
    buffer = io.BytesIO()
    with raw_connection.cursor() as cursor:
        cursor.copy_expert(
            "COPY (SELECT ST_X(geom)::float8, ST_Y(geom)::float8, "
            "extract(epoch FROM occurred_at)::float8, COALESCE(region_id, 0)::float8, "
            f"COALESCE(array_position({_sql_text_array(_CATEGORY_CODES)}, category), 0)"
            "::float8, "
            f"COALESCE(array_position({_sql_text_array(_OUTCOME_CODES)}, outcome), 0)"
            "::float8 "
            "FROM incidents ORDER BY occurred_at) TO STDOUT WITH (FORMAT binary)", buffer)
    data = buffer.getvalue()
    return np.frombuffer(data, dtype=_COPY_ROW, offset=_COPY_HEADER,
                         count=(len(data) - _COPY_HEADER - 2) // _COPY_ROW.itemsize)


def _window(request: MapRequest) -> tuple[datetime | None, datetime | None]:
    return request.time if request.time is not None else (None, None)


def _scope_ids(request: MapRequest) -> tuple[int, ...] | None:
    return None if request.scope is None else tuple(sorted(request.scope))


def _selection(request: MapRequest, region: int) -> tuple:
    """The arguments of ``_Points.select`` for a request (hashable: a cache key)."""
    return (*_window(request), region, tuple(request.categories), tuple(request.outcome),
            _scope_ids(request))


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def incident_cells(request: MapRequest, points: _Points, region: int) -> np.ndarray:
    """Counts of the selected incidents per INCIDENT_CELL_PIXELS-pixel cell, (rows, cols),
    cells counted from the map's top-left corner."""
    index = points.select(*_selection(request, region))
    x, y = points.xy(_CRS_EPSG[request.crs])
    x, y = x[index], y[index]
    minx, miny, maxx, maxy = request.bbox
    size = INCIDENT_CELL_PIXELS
    cols, rows = -(-request.width // size), -(-request.height // size)
    # Cell column/row as floats; one pass of arithmetic per axis over every point (a
    # million points: a few milliseconds each).
    column = (x - minx) * (request.width / (maxx - minx) / size)
    row = (maxy - y) * (request.height / (maxy - miny) / size)
    inside = ((column >= 0) & (column < request.width / size)
              & (row >= 0) & (row < request.height / size))
    cell = row[inside].astype(np.int64) * cols + column[inside].astype(np.int64)
    return np.bincount(cell, minlength=rows * cols).reshape(rows, cols)


def _incident_cells_rgba(request: MapRequest, points: _Points, region: int) -> np.ndarray:
    counts = incident_cells(request, points, region)
    classes = np.searchsorted(np.array(INCIDENT_CELL_CLASSES), counts, side="left")
    palette = np.array([(*_hex_rgb(c), 220) for c in INCIDENT_CELL_COLOURS], dtype=np.uint8)
    rgba = palette[np.minimum(classes, len(palette) - 1)]
    rgba[counts == 0] = 0
    size = INCIDENT_CELL_PIXELS
    full = rgba.repeat(size, axis=0).repeat(size, axis=1)
    return np.ascontiguousarray(full[:request.height, :request.width])


@lru_cache(maxsize=32)
def _density_setup(database_url: str, version: int, selection: tuple, analysis_srid: int):
    """Bandwidth (metres) and peak density (per km²) of a selection (the arguments of
    ``_Points.select``) in the analysis CRS ``analysis_srid``."""
    points = _POINTS[database_url]
    index = points.select(*selection)
    x, y = points.xy(analysis_srid)
    x, y = x[index], y[index]
    if len(x) < 3:
        return None
    try:
        bandwidth = kde.silverman_bandwidth(x, y)
    except ValueError:
        return None
    grid = _binned_density(x, y, (x.min(), y.min(), x.max(), y.max()), bandwidth,
                           bandwidth / 4)
    return bandwidth, float(grid[0].max()) or 1.0


def _binned_density(x, y, bounds, bandwidth: float, cell: float):
    """Quartic KDE (per km²) on a square grid of ``cell`` metres covering ``bounds``
    grown by the bandwidth: incidents binned, then convolved with the kernel."""
    from scipy.signal import fftconvolve

    x0, y0 = bounds[0] - bandwidth, bounds[1] - bandwidth
    nx = int(np.ceil((bounds[2] + bandwidth - x0) / cell)) + 1
    ny = int(np.ceil((bounds[3] + bandwidth - y0) / cell)) + 1
    i = ((x - x0) // cell).astype(np.int64)
    j = ((y - y0) // cell).astype(np.int64)
    keep = (i >= 0) & (i < nx) & (j >= 0) & (j < ny)
    counts = np.bincount(j[keep] * nx + i[keep], minlength=nx * ny).reshape(ny, nx)
    k = int(np.ceil(bandwidth / cell))
    offsets = np.arange(-k, k + 1) * cell
    kernel = kde.quartic_kernel(np.hypot(*np.meshgrid(offsets, offsets)), bandwidth)
    surface = fftconvolve(counts.astype(float), kernel, mode="same") * 1e6
    return np.clip(surface, 0, None), x0, y0, cell


def _density_rgba(request: MapRequest, database_url: str, points: _Points,
                  region: int) -> np.ndarray:
    """The density layer's pixels (h, w, 4): the KDE evaluated every 4 pixels from a
    binned surface in the analysis CRS, coloured relative to the window's peak density."""
    srid = request.analysis_srid
    setup = _density_setup(database_url, points.version, _selection(request, region), srid)
    rgba = np.zeros((request.height, request.width, 4), dtype=np.uint8)
    if setup is None:
        return rgba
    bandwidth, peak = setup
    step = 4  # pixels per evaluated cell
    cols, rows = -(-request.width // step), -(-request.height // step)
    minx, miny, maxx, maxy = request.bbox
    cx = minx + (np.arange(cols) + 0.5) * step * (maxx - minx) / request.width
    cy = maxy - (np.arange(rows) + 0.5) * step * (maxy - miny) / request.height
    gx, gy = np.meshgrid(cx, cy)
    mx, my = transform_xy(gx.ravel(), gy.ravel(), _CRS_EPSG[request.crs], srid)
    ok = np.isfinite(mx) & np.isfinite(my)
    if not ok.any():
        return rgba
    bounds = (mx[ok].min(), my[ok].min(), mx[ok].max(), my[ok].max())
    pixel_m = max((bounds[2] - bounds[0]) / cols, (bounds[3] - bounds[1]) / rows, 1.0)
    cell = max(min(bandwidth / 4, pixel_m), (bounds[2] - bounds[0] + bounds[3] - bounds[1]
                                              + 4 * bandwidth) / 2048)
    x, y = points.xy(srid)
    index = points.select(*_selection(request, region))
    x, y = x[index], y[index]
    near = ((x > bounds[0] - bandwidth) & (x < bounds[2] + bandwidth)
            & (y > bounds[1] - bandwidth) & (y < bounds[3] + bandwidth))
    surface, x0, y0, cell = _binned_density(x[near], y[near], bounds, bandwidth, cell)
    values = np.zeros(len(mx))
    i = np.clip(((mx[ok] - x0) // cell).astype(np.int64), 0, surface.shape[1] - 1)
    j = np.clip(((my[ok] - y0) // cell).astype(np.int64), 0, surface.shape[0] - 1)
    values[ok] = surface[j, i]
    share = np.clip(values / peak, 0, 1).reshape(rows, cols)
    ramp = np.array([_hex_rgb(c) for c in DENSITY_RAMP], dtype=np.uint8)
    cells = np.zeros((rows, cols, 4), dtype=np.uint8)
    cells[..., :3] = ramp[np.minimum((share * len(ramp)).astype(int), len(ramp) - 1)]
    cells[..., 3] = np.where(share > 0.02, (80 + 140 * share).astype(np.uint8), 0)
    full = cells.repeat(step, axis=0).repeat(step, axis=1)
    return np.ascontiguousarray(full[:request.height, :request.width])


def _png_rgba(rgba: np.ndarray) -> bytes:
    """A fast, minimal PNG of an (h, w, 4) uint8 array (to hand pixels to mapnik)."""
    height, width = rgba.shape[:2]
    raw = np.zeros((height, width * 4 + 1), dtype=np.uint8)
    raw[:, 1:] = rgba.reshape(height, -1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 1)) + chunk(b"IEND", b""))


def _composite_rgba(image: mapnik.Image, rgba: np.ndarray) -> None:
    if not rgba[..., 3].any():
        return
    overlay = mapnik.Image.from_buffer(_png_rgba(rgba))
    overlay.premultiply()
    image.composite(overlay)


# ------------------------------------------------------------------ hot spots


_HOTSPOT_DATASOURCES: OrderedDict[str, mapnik.Datasource] = OrderedDict()
_HOTSPOT_LOCK = threading.Lock()


def _hotspot_extent(session, region: str | None, scope: tuple[int, ...] | None = None):
    """``(exists, bbox)``: whether the study area has regions, and its bbox (EPSG:4326;
    None for a region, which the pipeline takes by code): the region, else the extent
    of the regions in ``scope`` (None: of all regions)."""
    row = session.execute(text(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
        "FROM (SELECT ST_Extent(geom) AS e FROM regions "
        "WHERE (CAST(:code AS text) IS NULL OR code = :code) "
        "AND (CAST(:scope AS integer[]) IS NULL OR id = ANY(CAST(:scope AS integer[])))"
        ") AS x"),
        {"code": region, "scope": None if scope is None else list(scope)}).one()
    if row[0] is None:
        return False, None
    return True, (None if region else tuple(float(v) for v in row))


def hotspot_features(database_url: str, time: tuple | None, region: str | None,
                     analysis_srid: int, categories: tuple[str, ...] = (),
                     outcome: tuple[str, ...] = (),
                     scope: tuple[int, ...] | None = None) -> dict:
    """The cells with a non-zero Gi* bin of the default hot-spot map
    (``geo.hotspots.pipeline.default_map``, in the analysis CRS ``analysis_srid``) for a
    window, of the incidents of ``categories`` and ``outcome`` (empty: all; both
    outcomes: all); GeoJSON, EPSG:4326.

    Study area: the region, else the extent of the regions in ``scope`` (region ids;
    None: of all regions); with a scope only the incidents of its regions count. An
    empty collection when there are too few incidents for Gi*.
    """
    from geo.hotspots import inputs, pipeline

    start, end = time if time is not None else (None, None)
    with Session(map_engine(database_url)) as session:
        exists, extent = _hotspot_extent(session, region, scope)
        if not exists:
            if region:
                raise ParameterError("region", f"unknown region code {region!r}")
            return {"type": "FeatureCollection", "features": []}
        # geo.hotspots.pipeline bounds are closed: [start, end - 1 µs] is our [start, end).
        if end is not None:
            end = datetime.fromtimestamp(end.timestamp() - 1e-6, UTC)
        # Selection takes one outcome or none (all): both outcomes are all of them.
        selection = inputs.Selection(start=start, end=end, categories=tuple(categories),
                                       outcome=outcome[0] if len(set(outcome)) == 1 else None,
                                       region_ids=scope)
        try:
            body = pipeline.default_map(
                session, inputs.StudyArea(region_code=region, bbox=extent), selection,
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


def _hotspot_datasource(database_url: str, request: MapRequest) -> mapnik.Datasource:
    key = json.dumps([database_url, [t.isoformat() if t else None for t in _window(request)],
                      request.region, sorted(request.categories), sorted(request.outcome),
                      _scope_ids(request), request.analysis_srid])
    with map_engine(database_url).connect() as connection:
        key += f"/{_incidents_version(connection)}"
    with _HOTSPOT_LOCK:
        found = _HOTSPOT_DATASOURCES.get(key)
    if found is None:
        collection = hotspot_features(database_url, request.time, request.region,
                                      request.analysis_srid, categories=request.categories,
                                      outcome=request.outcome, scope=_scope_ids(request))
        found = mapnik.Datasource(type="geojson", inline=json.dumps(collection)
                                  if collection["features"] else _EMPTY_GEOJSON)
        with _HOTSPOT_LOCK:
            _HOTSPOT_DATASOURCES[key] = found
            while len(_HOTSPOT_DATASOURCES) > 16:
                _HOTSPOT_DATASOURCES.popitem(last=False)
    return found


# ------------------------------------------------------------------ drawing


def _timestamp(moment: datetime | None, default: str) -> str:
    if moment is None:
        return default
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _variables(request: MapRequest, region: int) -> dict:
    start, end = _window(request)
    levels = {str(int(k)): str(v) for k, v in (request.segment_levels or {}).items()}
    # Category and outcome words are validated against the vocabularies (_validate);
    # the scope is integers formatted here ('' unrestricted; -1, no region, when empty).
    scope = "" if request.scope is None else ",".join(
        str(int(r)) for r in sorted(request.scope)) or "-1"
    return {"start": _timestamp(start, _NEVER_START), "end": _timestamp(end, _NEVER_END),
            "region": int(region), "scope": scope, "levels": json.dumps(levels),
            "categories": ",".join(request.categories), "outcomes": ",".join(request.outcome)}


def _draw_steps(request: MapRequest, styles: tuple[str, ...]) -> list:
    """Consecutive vector layers grouped into one mapnik pass; rasters on their own."""
    steps: list = []
    points_scale = scale_denominator(request) < INCIDENT_POINT_MAX_SCALE
    for name, style in zip(request.layers, styles, strict=True):
        if name == "density" or (name == "incidents" and not points_scale):
            steps.append(("raster", name))
            continue
        variant = "given" if name == "border_segments" and request.segment_levels is not None \
            else ""
        if not steps or steps[-1][0] != "vector":
            steps.append(("vector", []))
        steps[-1][1].append((name, style, variant))
    return steps


def render_map(request: MapRequest, database_url: str) -> bytes:
    """Draw the layers of ``request`` and encode the image.

    Parameters
    ----------
    request : MapRequest
        Layers, styles, extent (in ``request.crs``), size in pixels, format, time
        window (UTC) and region.
    database_url : str
        SQLAlchemy URL of the PostGIS database.

    Returns
    -------
    bytes
        PNG or JPEG data.

    Raises
    ------
    ParameterError
        An unknown layer, style, CRS, format or region, or a bad bbox or colour.
    OutOfScopeError
        ``request.region`` is outside ``request.scope``.
    RuntimeError
        mapnik's, e.g. its postgis plugin cannot reach the database. A connection the
        server had ended (a restart) is replaced and the map drawn once more first.
    """
    styles = _validate(request)
    region = region_id(database_url, request.region) if request.region else 0
    if region and request.scope is not None and region not in request.scope:
        raise OutOfScopeError("region", f"region {request.region!r} is outside your "
                              "region scope")
    try:
        return _draw_map(request, database_url, styles, region)
    except RuntimeError as error:
        if not lost_connection(error):
            raise
    # The server ended mapnik's pooled connections (a restart): drop them, draw once more.
    _discard_ended_connections(database_url)
    return _draw_map(request, database_url, styles, region)


def _draw_map(request: MapRequest, database_url: str, styles: tuple[str, ...],
              region: int) -> bytes:
    srs = f"epsg:{_CRS_EPSG[request.crs]}"
    image = mapnik.Image(request.width, request.height)
    if not request.transparent or request.fmt == "jpeg":
        image.fill(mapnik.Color(*_colour(request.bgcolor)))
    variables = _variables(request, region)
    box = mapnik.Box2d(*request.bbox)
    for kind, content in _draw_steps(request, styles):
        if kind == "raster":
            points = incident_points(database_url)
            # A bbox far outside the CRS's range overflows to inf/NaN pixel positions,
            # which the inside-the-map tests drop: no warning needed.
            with np.errstate(over="ignore", invalid="ignore"):
                rgba = (_density_rgba(request, database_url, points, region)
                        if content == "density"
                        else _incident_cells_rgba(request, points, region))
            _composite_rgba(image, rgba)
            continue
        group = tuple(content)
        map_ = _MAPS.get((database_url, srs, group))
        map_.resize(request.width, request.height)
        map_.zoom_to_box(box)
        for layer in map_.layers:
            if layer.name == "hotspots":
                layer.datasource = _hotspot_datasource(database_url, request)
            elif layer.name == "countries":
                layer.datasource = countries_datasource()
        mapnik.render_with_vars(map_, image, variables)
    return image.to_string(_ENCODERS[request.fmt])


# ------------------------------------------------------------------ legends

LEGEND_WIDTH = 280
LEGEND_ROW = 20


def legend_entries(layer: str, style: str = "") -> list[tuple[str, str, str]]:
    """(symbol kind, colour, label) rows of a layer's legend; kind is 'line', 'point' or
    'fill'. ParameterError for an unknown layer or style."""
    (style,) = resolved_styles(MapRequest(layers=(layer,), styles=(style,)))
    if layer == "countries":
        return [("fill", COUNTRY_FILL_COLOUR, "Country (Natural Earth)")]
    if layer == "regions":
        return [("line", REGION_OUTLINE_COLOUR, "Regional unit")]
    if layer == "border_segments" and style == "plain":
        return [("line", SEGMENT_PLAIN_COLOUR, "Border section")]
    if layer == "border_segments":
        return ([("line", colour, f"Risk {level}") for level, colour in RISK_LEVEL_COLOURS.items()]
                + [("line", NOT_ASSESSED_COLOUR, "Not assessed")])
    if layer == "crossing_points":
        return [("point", "#ffffff", "Border crossing point")]
    if layer == "incidents":
        bounds = (0, *INCIDENT_CELL_CLASSES)
        cells = [("fill", colour, f"{bounds[k] + 1}-{bounds[k + 1]} per cell"
                  if k + 1 < len(bounds) else f"over {bounds[k]} per cell")
                 for k, colour in enumerate(INCIDENT_CELL_COLOURS)]
        cells[0] = ("fill", INCIDENT_CELL_COLOURS[0], "1 per cell")
        return ([("point", colour, INCIDENT_CATEGORIES[name])
                 for name, colour in INCIDENT_CATEGORY_COLOURS.items()] + cells)
    if layer == "hotspots":
        labels = {3: "Hot spot, 99 %", 2: "Hot spot, 95 %", 1: "Hot spot, 90 %",
                  -1: "Cold spot, 90 %", -2: "Cold spot, 95 %", -3: "Cold spot, 99 %"}
        return [("fill", HOTSPOT_BIN_COLOURS[b], labels[b]) for b in (3, 2, 1, -1, -2, -3)]
    return [("fill", DENSITY_RAMP[0], "Low density"),
            ("fill", DENSITY_RAMP[len(DENSITY_RAMP) // 2], "Medium density"),
            ("fill", DENSITY_RAMP[-1], "Peak density of the window")]


def legend_size(layer: str, style: str = "") -> tuple[int, int]:
    """(width, height) in pixels of the legend image of a layer's style."""
    return LEGEND_WIDTH, 6 + LEGEND_ROW * len(legend_entries(layer, style))


def render_legend(layer: str, style: str = "", fmt: str = "png") -> bytes:
    """The legend of a layer's style as a PNG (or JPEG) image, ``legend_size`` pixels."""
    from PIL import Image, ImageDraw

    if fmt not in FORMATS:
        raise ParameterError("format", f"unknown format {fmt!r}; formats: " + ", ".join(FORMATS))
    entries = legend_entries(layer, style)
    width, height = legend_size(layer, style)
    image = Image.new("RGBA", (width, height), (255, 255, 255, 255))
    draw = ImageDraw.Draw(image)
    for k, (kind, colour, label) in enumerate(entries):
        top = 3 + k * LEGEND_ROW
        middle = top + LEGEND_ROW // 2
        if kind == "line":
            draw.line([(4, middle), (26, middle)], fill=colour, width=4)
        elif kind == "point":
            draw.ellipse([10, middle - 5, 20, middle + 5], fill=colour, outline="#222222")
        else:
            draw.rectangle([6, top + 3, 24, top + LEGEND_ROW - 3], fill=colour,
                           outline="#888888")
        draw.text((32, top + 4), label, fill="#000000")
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.convert("RGB").save(buffer, "JPEG", quality=90)
    elif fmt == "png8":
        image.convert("RGB").quantize(64).save(buffer, "PNG")
    else:
        image.save(buffer, "PNG")
    return buffer.getvalue()


__all__ = ["HOTSPOT_BIN_COLOURS", "INCIDENT_CATEGORY_COLOURS", "MapRequest",
           "NOT_ASSESSED_COLOUR", "RISK_LEVEL_COLOURS", "legend_entries", "legend_size",
           "render_legend", "render_map", "scale_denominator"]
