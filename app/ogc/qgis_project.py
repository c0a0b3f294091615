""""Open in QGIS": a QGIS project (``.qgs``, QGIS 3.22's XML) with every service set up.

One download gives a QGIS user the vector tiles (styled with the WMS's colours,
``geo.maps.palette``), the OGC API Features collections and the WMS layers (incidents
with their time dimension, as the capabilities advertise it), each source naming an
authentication configuration by id (``authcfg=``) instead of holding a secret: the
user creates that configuration once (type *Basic*, any user name, an API token as the
password; README "Connecting QGIS and GDAL"). The project holds no token.

``project_xml`` takes what it needs (service root, the WMS incidents' time dimension,
the configuration id) and returns the document; the route at the end only adapts.
OGC API Features layers start unticked: QGIS downloads a collection in full when it
draws one (50,000 incidents in the demo).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405  # writes XML, and reads only our own
from dataclasses import dataclass
from urllib.parse import quote

from geo.layers import COLLECTIONS, MAP_LAYERS, TILE_LAYERS
from geo.maps import palette
from geo.risk.risk_config import LEVELS
from geo.vocabulary import INCIDENT_CATEGORIES

DEFAULT_AUTHCFG = "brtoken"
# QGIS's configuration ids are 7 letters or digits.
AUTHCFG_PATTERN = re.compile(r"[A-Za-z0-9]{7}")
QGIS_VERSION = "3.22.16-Białowieża"
PROJECT_CRS = "EPSG:3857"
# Georgia in Web Mercator metres (39.9-46.8 E, 41.0-43.6 N): the view the project opens on.
GEORGIA_3857 = (4441649.0, 5012341.0, 5209763.0, 5403302.0)
GEOMETRY = {"Point": 0, "MultiPoint": 0, "LineString": 1, "MultiLineString": 1,
            "Polygon": 2, "MultiPolygon": 2}
SYMBOL_TYPES = ("marker", "line", "fill")
ID_PREFIX = "borderrisk_"  # layer ids: QGIS 3.22 replaces ids of 10 characters or fewer
TILE_MAX_ZOOM = 14  # QGIS over-zooms the last level; our tiles go to 22


@dataclass(frozen=True)
class TimeDimension:
    """A WMS layer's time dimension as its capabilities advertise it: ``extent``
    (start/end/resolution) and ``default``."""

    extent: str
    default: str


def _rgba(colour: str, alpha: int = 255) -> str:
    """'#rrggbb' as QGIS's 'r,g,b,a'."""
    return ",".join(str(int(colour[i:i + 2], 16)) for i in (1, 3, 5)) + f",{alpha}"


def _symbol(kind: int, colour: str, outline: str | None = None, alpha: int = 255,
            size_mm: float = 1.6, name: str = "0") -> ET.Element:
    """A one-layer symbol: a circle (kind 0), a line (1) or a fill (2)."""
    symbol = ET.Element("symbol", type=SYMBOL_TYPES[kind], name=name, alpha="1",
                        clip_to_extent="1", force_rhr="0")
    layer_class = ("SimpleMarker", "SimpleLine", "SimpleFill")[kind]
    layer = ET.SubElement(symbol, "layer", attrib={"class": layer_class, "enabled": "1",
                                                   "locked": "0", "pass": "0"})
    options = {("line_color" if kind == 1 else "color"): _rgba(colour, alpha)}
    if kind == 0:
        options.update(name="circle", size=str(size_mm), size_unit="MM",
                       outline_color=_rgba(outline or "#ffffff"), outline_width="0.2")
    elif kind == 1:
        options.update(line_width=str(size_mm / 3), line_width_unit="MM",
                       capstyle="round", joinstyle="round")
    else:
        options.update(outline_color=_rgba(outline or colour), outline_width="0.3",
                       outline_width_unit="MM", style="solid")
    option_map = ET.SubElement(layer, "Option", type="Map")
    for key, value in options.items():
        ET.SubElement(option_map, "Option", type="QString", name=key, value=value)
    return symbol


# ------------------------------------------------------------------ styles

def _tile_styles(layer_name: str) -> list[tuple[str, int, str, ET.Element]]:
    """(label, geometry, filter expression, symbol) of a vector tile layer: incidents by
    category, risk sections by level, as the WMS draws them."""
    if layer_name == "incidents":
        return [(label, 0, f"\"category\" = '{code}'",
                 _symbol(0, palette.INCIDENT_CATEGORY_COLOURS[code]))
                for code, label in INCIDENT_CATEGORIES.items()]
    if layer_name == "risk":
        return [(level, 1, f"\"level\" = '{level}'",
                 _symbol(1, palette.RISK_LEVEL_COLOURS[level], size_mm=4.5))
                for level in (*LEVELS, "critical")]
    if layer_name == "border_segments":
        return [("section", 1, "", _symbol(1, palette.SEGMENT_PLAIN_COLOUR, size_mm=3))]
    if layer_name == "crossing_points":
        return [("crossing point", 0, "",
                 _symbol(0, palette.CROSSING_MARKER_COLOUR, palette.CROSSING_MARKER_OUTLINE_COLOUR,
                         size_mm=3))]
    return [("region", 2, "", _symbol(2, palette.REGION_FILL_COLOUR,
                                      palette.REGION_OUTLINE_COLOUR, alpha=90))]


def _feature_renderer(collection) -> ET.Element:
    """The renderer of an OGC API Features layer: incidents by category, else one
    symbol of the layer's colour."""
    kind = GEOMETRY.get(collection.geometry_type, 2)
    if collection.name == "incidents":
        renderer = ET.Element("renderer-v2", type="categorizedSymbol", attr="category",
                              symbollevels="0", enableorderby="0", forceraster="0")
        categories = ET.SubElement(renderer, "categories")
        symbols = ET.SubElement(renderer, "symbols")
        for n, (code, label) in enumerate(INCIDENT_CATEGORIES.items()):
            ET.SubElement(categories, "category", value=code, label=label, symbol=str(n),
                          render="true")
            symbols.append(_symbol(0, palette.INCIDENT_CATEGORY_COLOURS[code], name=str(n)))
        return renderer
    colours = {"border_segments": palette.SEGMENT_PLAIN_COLOUR,
               "risk": palette.NOT_ASSESSED_COLOUR,
               "crossing_points": palette.CROSSING_MARKER_COLOUR,
               "hotspots": palette.HOTSPOT_BIN_COLOURS[3]}
    renderer = ET.Element("renderer-v2", type="singleSymbol", symbollevels="0",
                          enableorderby="0", forceraster="0")
    ET.SubElement(renderer, "symbols").append(
        _symbol(kind, colours.get(collection.name, palette.REGION_FILL_COLOUR),
                palette.REGION_OUTLINE_COLOUR if kind == 2 else None,
                alpha=120 if kind == 2 else 255, size_mm=2 if kind == 0 else 1.6))
    return renderer


# ------------------------------------------------------------------ the document

def _uri(**params: str) -> str:
    """A QGIS data source URI of ``key=value`` pairs (values percent-encoded but for the
    characters QGIS writes as they are)."""
    return "&".join(f"{key}={quote(value, safe=':/{}.,')}" for key, value in params.items())


# QGIS's own ids (srs.db) of the two CRSs the project uses: QGIS 3.22 reads a CRS by its
# authid only when the srsid is given too.
QGIS_SRSIDS = {"EPSG:3857": "3857", "EPSG:4326": "3452"}


def _spatialrefsys(parent: ET.Element, authid: str) -> None:
    crs = ET.SubElement(parent, "spatialrefsys")
    ET.SubElement(crs, "srsid").text = QGIS_SRSIDS[authid]
    ET.SubElement(crs, "srid").text = authid.split(":")[1]
    ET.SubElement(crs, "authid").text = authid


@dataclass
class _Layer:
    id: str
    name: str
    type: str  # vector | raster | vector-tile
    provider: str
    source: str
    checked: bool
    body: list[ET.Element]


def _layers(base: str, authcfg: str, time: TimeDimension | None) -> list[tuple[str, list]]:
    """The project's groups, top to bottom, and their layers."""
    tiles = []
    # Points over lines over polygons; the sections once (plain, or by risk level).
    for name, layer in sorted(TILE_LAYERS.items(),
                              key=lambda item: GEOMETRY[item[1].geometry_type]):
        renderer = ET.Element("renderer", type="basic")
        styles = ET.SubElement(renderer, "styles")
        for label, geometry, expression, symbol in _tile_styles(name):
            style = ET.SubElement(styles, "style", name=label, layer=name,
                                  geometry=str(geometry), expression=expression,
                                  enabled="1", attrib={"min-zoom": "-1", "max-zoom": "-1"})
            ET.SubElement(style, "symbols").append(symbol)
        source = _uri(type="xyz", url=f"{base}ogc/tiles/{name}/{{z}}/{{x}}/{{y}}.mvt",
                      zmin="0", zmax=str(TILE_MAX_ZOOM), authcfg=authcfg)
        tiles.append(_Layer(f"{ID_PREFIX}tiles_{name}", f"{layer.title} (vector tiles)",
                            "vector-tile", "vectortile", source, name != "risk", [renderer]))
    features = []
    for name, collection in COLLECTIONS.items():
        # OAPIF sources are written as QGIS writes WFS ones: key='value' pairs.
        source = (f"url='{base}ogc/features' typename='{name}' authcfg='{authcfg}' "
                  "restrictToRequestBBOX='1' pagingEnabled='true' version='OGC_API_FEATURES'")
        features.append(_Layer(f"{ID_PREFIX}features_{name}",
                               f"{collection.title} (OGC API Features)", "vector", "OAPIF",
                               source, False, [_feature_renderer(collection)]))
    maps = []
    for name, layer in reversed(MAP_LAYERS.items()):  # the capabilities' last on top
        params = {"authcfg": authcfg, "crs": PROJECT_CRS, "dpiMode": "7",
                  "format": "image/png", "layers": name, "styles": "",
                  "url": f"{base}ogc/wms"}
        body = []
        if layer.map.time_enabled and time is not None:
            params.update(type="wmst", allowTemporalUpdates="true", temporalSource="provider",
                          timeDimensionExtent=time.extent)
            # The layer follows QGIS's temporal controller (mode 1: the provider's range).
            temporal = ET.Element("temporal", enabled="1", mode="1", fetchMode="0")
            ET.SubElement(ET.SubElement(temporal, "fixedRange"), "start")
            body.append(temporal)
        maps.append(_Layer(f"{ID_PREFIX}wms_{name}", f"{layer.title} (WMS)", "raster", "wms",
                           _uri(**params), name in ("incidents", "countries"), body))
    return [("Vector tiles", tiles), ("OGC API Features", features), ("WMS", maps)]


def project_xml(service_root: str, authcfg: str = DEFAULT_AUTHCFG,
                time: TimeDimension | None = None) -> bytes:
    """The ``.qgs`` document of the services at ``service_root`` (ending in '/'), every
    source naming the auth configuration ``authcfg``; ``time``: the WMS incidents'
    time dimension (None when there are no incidents). ValueError for an ``authcfg``
    that is not 7 letters or digits."""
    if not AUTHCFG_PATTERN.fullmatch(authcfg):
        raise ValueError("authcfg must be 7 letters or digits (a QGIS configuration id)")
    root = ET.Element("qgis", version=QGIS_VERSION, projectname="BorderRisk")
    ET.SubElement(root, "title").text = "BorderRisk"
    # QGIS reads projectCrs only when the project says it has one.
    properties = ET.SubElement(ET.SubElement(root, "properties"), "SpatialRefSys")
    ET.SubElement(properties, "ProjectionsEnabled", type="int").text = "1"
    _spatialrefsys(ET.SubElement(root, "projectCrs"), PROJECT_CRS)
    tree = ET.SubElement(root, "layer-tree-group")
    layers = ET.SubElement(root, "projectlayers")
    for group_name, members in _layers(service_root, authcfg, time):
        group = ET.SubElement(tree, "layer-tree-group", name=group_name, checked="Qt::Checked",
                              expanded="1")
        for layer in members:
            ET.SubElement(group, "layer-tree-layer", id=layer.id, name=layer.name,
                          source=layer.source, providerKey=layer.provider, expanded="0",
                          checked="Qt::Checked" if layer.checked else "Qt::Unchecked")
            element = ET.SubElement(layers, "maplayer", type=layer.type)
            ET.SubElement(element, "id").text = layer.id
            ET.SubElement(element, "datasource").text = layer.source
            ET.SubElement(element, "layername").text = layer.name
            _spatialrefsys(ET.SubElement(element, "srs"),
                           "EPSG:4326" if layer.type == "vector" else PROJECT_CRS)
            ET.SubElement(element, "provider").text = layer.provider
            element.extend(layer.body)
    canvas = ET.SubElement(root, "mapcanvas", name="theMapCanvas")
    extent = ET.SubElement(canvas, "extent")
    for key, value in zip(("xmin", "ymin", "xmax", "ymax"), GEORGIA_3857, strict=True):
        ET.SubElement(extent, key).text = str(value)
    _spatialrefsys(ET.SubElement(canvas, "destinationsrs"), PROJECT_CRS)
    ET.indent(root)
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            + ET.tostring(root, encoding="unicode") + "\n").encode()


WMS_NS = "{http://www.opengis.net/wms}"


def time_dimension(capabilities: bytes, layer: str = "incidents") -> TimeDimension | None:
    """The time dimension of ``layer`` in our own WMS 1.3.0 capabilities (so the
    project says what they say), None when it has none."""
    document = ET.fromstring(capabilities)  # noqa: S314  # our own document
    for element in document.iter(f"{WMS_NS}Layer"):
        if element.findtext(f"{WMS_NS}Name") == layer:
            dimension = element.find(f"{WMS_NS}Dimension[@name='time']")
            if dimension is None or not (dimension.text or "").strip():
                return None
            return TimeDimension(dimension.text.strip(), dimension.get("default", ""))
    return None
