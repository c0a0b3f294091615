"""Map rendering with mapnik, straight from PostGIS, shared by the WMS and the bulletin.

``render_map(MapRequest(...), database_url)`` returns an encoded image (PNG 32- or
8-bit, or JPEG). Layers are described in ``geo.layers``, colours in
``geo.maps.palette``, the request in ``geo.maps.map_request``; the numpy rasters are
``geo.maps.overlays`` and the hot-spot layer ``geo.maps.hotspot_layer``.

How a map is drawn:

* Vector layers (``countries``, ``regions``, ``border_segments``, ``crossing_points``,
  ``incidents`` at large scales, ``hotspots``) are mapnik layers. A mapnik ``Map`` with
  its styles and datasources is built once per thread, CRS and layer list, and reused:
  a request only sets the size, extent and the SQL variables (``!@start!``, ``!@end!``,
  ``!@region!``, ``!@scope!``, ``!@levels!``, ``!@live!``, ``!@categories!``,
  ``!@outcomes!``), which
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
  ``geo.layers.INCIDENT_POINT_MAX_SCALE``) are computed with numpy from an
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
import tempfile
import threading
from collections import OrderedDict
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import mapnik
import numpy as np
import shapely
from sqlalchemy.orm import Session

from geo.db import MAPNIK_POOL_SIZE, map_engine, mapnik_parameters
from geo.errors import OutOfScopeError, ParameterError
from geo.layers import (
    INCIDENT_CELL_CLASSES,
    INCIDENT_POINT_MAX_SCALE,
)
from geo.maps.hotspot_layer import EMPTY_GEOJSON, hotspot_datasource
from geo.maps.map_request import (
    CRS_EPSG,
    ENCODERS,
    FORMATS,
    NEVER_END,
    NEVER_START,
    MapRequest,
    parse_colour,
    resolved_styles,
    scale_denominator,
    validate,
)
from geo.maps.overlays import (
    composite_rgba,
    density_rgba,
    incident_cells_rgba,
    incident_points,
    time_window,
)
from geo.maps.palette import (
    COUNTRY_FILL_COLOUR,
    COUNTRY_LINE_COLOUR,
    CROSSING_POINT_COLOUR,
    DENSITY_RAMP,
    HOTSPOT_BIN_COLOURS,
    INCIDENT_CATEGORY_COLOURS,
    INCIDENT_CELL_COLOURS,
    NOT_ASSESSED_COLOUR,
    REGION_OUTLINE_COLOUR,
    RISK_LEVEL_COLOURS,
    SEGMENT_PLAIN_COLOUR,
)
from geo.queries.maps import map_layer_sql
from geo.scope import in_scope
from geo.vocabulary import INCIDENT_CATEGORIES

BASE_DIR = Path(__file__).resolve().parents[2]
COUNTRIES_TOPOJSON = BASE_DIR / "node_modules" / "world-atlas" / "countries-10m.json"

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


def _layer_xml(database_url: str, srs: str, name: str, style: str, variant: str) -> str:
    style_name = f"{name}:{style}"
    if name in ("countries", "hotspots"):
        # Replaced by the shared countries datasource, or per request by the hot spots.
        datasource = _param_xml((("type", "geojson"),
                                 ("inline", EMPTY_GEOJSON)))
    else:
        sql = map_layer_sql(name, variant)
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


# ------------------------------------------------------------------ drawing


def _timestamp(moment: datetime | None, default: str) -> str:
    if moment is None:
        return default
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _variables(request: MapRequest, region: int) -> dict:
    start, end = time_window(request)
    levels = {str(int(k)): str(v) for k, v in (request.segment_levels or {}).items()}
    # Category and outcome words are validated against the vocabularies (validate);
    # the scope is integers formatted here ('' unrestricted; -1, no region, when empty);
    # the agency a checked code or '' (validate), '*' unrestricted.
    scope = "" if request.scope is None else ",".join(
        str(int(r)) for r in sorted(request.scope)) or "-1"
    return {"start": _timestamp(start, NEVER_START), "end": _timestamp(end, NEVER_END),
            "region": int(region), "scope": scope,
            "agency": "*" if request.agency is None else request.agency,
            "levels": json.dumps(levels),
            "live": json.dumps({str(int(k)): str(v)
                                for k, v in (request.live_levels or {}).items()}),
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
    styles = validate(request)
    region = region_id(database_url, request.region) if request.region else 0
    if region and not in_scope(region, request.scope):
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
    srs = f"epsg:{CRS_EPSG[request.crs]}"
    image = mapnik.Image(request.width, request.height)
    if not request.transparent or request.fmt == "jpeg":
        image.fill(mapnik.Color(*parse_colour(request.bgcolor)))
    variables = _variables(request, region)
    box = mapnik.Box2d(*request.bbox)
    for kind, content in _draw_steps(request, styles):
        if kind == "raster":
            points = incident_points(database_url, time_window(request))
            # A bbox far outside the CRS's range overflows to inf/NaN pixel positions,
            # which the inside-the-map tests drop: no warning needed.
            with np.errstate(over="ignore", invalid="ignore"):
                rgba = (density_rgba(request, database_url, points, region)
                        if content == "density"
                        else incident_cells_rgba(request, points, region))
            composite_rgba(image, rgba)
            continue
        group = tuple(content)
        map_ = _MAPS.get((database_url, srs, group))
        map_.resize(request.width, request.height)
        map_.zoom_to_box(box)
        for layer in map_.layers:
            if layer.name == "hotspots":
                layer.datasource = hotspot_datasource(database_url, request)
            elif layer.name == "countries":
                layer.datasource = countries_datasource()
        mapnik.render_with_vars(map_, image, variables)
    return image.to_string(ENCODERS[request.fmt])


def warm_up(database_url: str) -> None:
    """Make ready, before a process's first request, what its first map of the default
    view would otherwise build: the countries basemap's shared datasource (read from its
    file once per process, 0.2-0.3 s) and this thread's mapnik Map of the basemap as the
    page asks for it (EPSG:3857, default style), by drawing a small image of it.

    Opens no database connection (the countries layer is a file), so it may run in a
    process that forks afterwards; ``database_url`` is only part of the maps' key. Other
    threads (gunicorn's ``--threads``) build their own Map of it (a few ms) around the
    same datasource."""
    west, south, east, north = MapRequest.bbox  # the service's area, in degrees
    metres = mapnik.ProjTransform(mapnik.Projection("epsg:4326"),
                                  mapnik.Projection("epsg:3857")).forward(
        mapnik.Box2d(west, south, east, north))
    render_map(MapRequest(layers=("countries",), crs="EPSG:3857",
                          bbox=(metres.minx, metres.miny, metres.maxx, metres.maxy),
                          width=64, height=64, transparent=False), database_url)


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
           "render_legend", "render_map", "scale_denominator", "warm_up"]
