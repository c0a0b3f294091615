"""OGC Web Map Service 1.3.0 and 1.1.1 at ``/ogc/wms``.

Requests: GetCapabilities, GetMap, GetFeatureInfo and GetLegendGraphic (SLD 1.1 style).
Parameter names are case-insensitive (WMS 1.3.0, 6.8.1); values are not. Maps are drawn
by ``geo.maps.render`` (layers in ``geo.layers``), features at a point come from
``geo.queries.features_at_point``. Every request error is a ``ServiceExceptionReport``
in the version's own format with HTTP 400 (403 for a REGION outside the caller's
scope); nothing a client sends gives a 500.

Axis order: WMS 1.3.0 follows the CRS's definition, so for EPSG:4326 ``BBOX`` is
``minlat,minlon,maxlat,maxlon``; CRS:84, EPSG:3857 and EPSG:32638 are x (easting or
longitude) first, and so is every SRS of 1.1.1. The renderer always takes x first.

TIME (ISO 8601) on incidents, hotspots and density, advertised as the UTC days from the
first incident's to the last one's with resolution ``P1D``: an instant that is a value
of the dimension (a date, or a date-time at midnight UTC, which is what QGIS sends for
the start of a day) means that whole UTC day, another date-time that second; or an
interval ``start/end`` (a date as end means the end of that day; an optional
``/period`` is ignored). Default: the 90 days up to the latest incident.

Vendor parameters on GetMap and GetFeatureInfo, for incidents, hotspots and density:
REGION (a region code), CATEGORY (incident categories, comma-separated) and OUTCOME
(``attempted`` and/or ``actual``, comma-separated); absent or empty means all.

Region scope: a user restricted to regions (``app.auth.scope``) sees on GetMap and
GetFeatureInfo only the features of those regions, on every layer but the countries
basemap (hot spots and density are computed over them only, see ``geo.maps.render``); a
REGION outside the scope (or unknown) is refused with a ServiceExceptionReport and HTTP
403.
GetCapabilities lists every layer, with the extents of all the data.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape as html_escape
from urllib.parse import urlencode

from lxml import etree

from app.api.params import parse_time_window
from app.ogc.context import Answer, ServiceContext
from geo import clock, queries, scope
from geo.crs import MAP_CRS, transform_xy
from geo.errors import OutOfScopeError, ParameterError
from geo.io.validation import quoted
from geo.layers import INCIDENTS, MAP_LAYERS
from geo.maps import map_request, overlays, render
from geo.risk import levels
from geo.vocabulary import INCIDENT_CATEGORIES, INCIDENT_OUTCOMES

VERSIONS = ("1.3.0", "1.1.1")
MAP_FORMATS = {"image/png": "png", "image/png; mode=8bit": "png8", "image/png8": "png8",
               "image/jpeg": "jpeg"}
INFO_FORMATS = ("application/json", "text/html", "text/plain")
TIME_LAYERS = frozenset(n for n, layer in MAP_LAYERS.items() if layer.map.time_enabled)
DEFAULT_TIME_DAYS = 90
TIME_RESOLUTION = "P1D"  # the TIME dimension's resolution: its values are days
FEATURE_INFO_TOLERANCE_PX = 5
MAX_FEATURE_COUNT = 50
LAYER_LIMIT = 16
WMS_NS = "http://www.opengis.net/wms"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
OGC_NS = "http://www.opengis.net/ogc"


class WmsError(Exception):
    """A request error, answered as a ServiceExceptionReport (HTTP ``status``: 400, or
    403 for a region outside the caller's scope)."""

    def __init__(self, message: str, code: str | None = None, locator: str | None = None,
                 status: int = 400):
        super().__init__(message)
        self.message, self.code, self.locator = message, code, locator
        self.status = status


# ------------------------------------------------------------------ parameters


class Params:
    """The query parameters with upper-cased names (names are case-insensitive)."""

    def __init__(self, args):
        self.values = {key.upper(): value for key, value in args.items()}

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)

    def required(self, name: str) -> str:
        value = self.values.get(name)
        if value is None or value.strip() == "":
            raise WmsError(f"parameter {name} is required", "MissingParameterValue", name)
        return value.strip()


def request_version(params: Params) -> str:
    version = (params.get("VERSION") or params.get("WMTVER") or "1.3.0").strip()
    if version in ("1.1.0", "1.1"):
        return "1.1.1"
    return version if version in VERSIONS else "1.3.0"


def _crs_param(version: str) -> str:
    return "CRS" if version == "1.3.0" else "SRS"


def _parse_int(params: Params, name: str, minimum: int, maximum: int,
               code: str = "InvalidParameterValue") -> int:
    value = params.required(name)
    if not value.lstrip("-").isdigit():
        raise WmsError(f"{name} must be a whole number, got {quoted(value)}", code, name)
    # The length first: int() refuses more than 4,300 digits.
    if len(value) > 18 or not minimum <= int(value) <= maximum:
        raise WmsError(f"{name} must be between {minimum} and {maximum}, "
                       f"got {quoted(value)}", code, name)
    return int(value)


def _parse_bool(params: Params, name: str) -> bool:
    value = (params.get(name) or "FALSE").strip().upper()
    if value not in ("TRUE", "FALSE"):
        raise WmsError(f"{name} must be TRUE or FALSE, got {value!r}",
                       "InvalidParameterValue", name)
    return value == "TRUE"


def _parse_crs(params: Params, version: str) -> str:
    name = _crs_param(version)
    value = params.required(name).upper()
    if value not in MAP_CRS:
        code = "InvalidCRS" if version == "1.3.0" else "InvalidSRS"
        raise WmsError(f"{name} {value!r} is not supported; use one of "
                       + ", ".join(MAP_CRS), code, name)
    return value


def _parse_bbox(params: Params, version: str, crs: str) -> tuple[float, float, float, float]:
    value = params.required("BBOX")
    parts = value.split(",")
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        numbers = []
    if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
        raise WmsError(f"BBOX must be four numbers minx,miny,maxx,maxy, got {value!r}",
                       "InvalidParameterValue", "BBOX")
    if version == "1.3.0" and crs == "EPSG:4326":
        # EPSG:4326 is latitude first in WMS 1.3.0.
        numbers = [numbers[1], numbers[0], numbers[3], numbers[2]]
    minx, miny, maxx, maxy = numbers
    if not (minx < maxx and miny < maxy):
        raise WmsError(f"BBOX {value!r} is empty or inverted (min must be below max)",
                       "InvalidParameterValue", "BBOX")
    return minx, miny, maxx, maxy


def _parse_format(value: str, allowed: dict | tuple, locator: str = "FORMAT") -> str:
    normalised = value.strip().lower().replace(" ", "").replace(";mode=", "; mode=")
    if normalised not in allowed:
        raise WmsError(f"{locator} {value!r} is not supported; use one of "
                       + ", ".join(allowed), "InvalidFormat", locator)
    return allowed[normalised] if isinstance(allowed, dict) else normalised


def _parse_bgcolor(params: Params) -> str:
    value = (params.get("BGCOLOR") or "0xFFFFFF").strip()
    digits = value[2:] if value.lower().startswith("0x") else value.lstrip("#")
    if len(digits) != 6 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        raise WmsError(f"BGCOLOR must look like 0xRRGGBB, got {value!r}",
                       "InvalidParameterValue", "BGCOLOR")
    return "#" + digits.upper()


def _parse_layers(params: Params, name: str = "LAYERS") -> tuple[str, ...]:
    names = tuple(n.strip() for n in params.required(name).split(","))
    for layer in names:
        if layer not in MAP_LAYERS:
            raise WmsError(f"layer {layer!r} is not defined; layers: " + ", ".join(MAP_LAYERS),
                           "LayerNotDefined", name)
    if len(names) > LAYER_LIMIT:
        raise WmsError(f"at most {LAYER_LIMIT} layers per request", "InvalidParameterValue",
                       name)
    return names


def _parse_styles(params: Params, layers: tuple[str, ...]) -> tuple[str, ...]:
    value = params.get("STYLES") or ""
    styles = tuple(s.strip() for s in value.split(",")) if value.strip() else ()
    if styles and len(styles) != len(layers):
        raise WmsError(f"STYLES lists {len(styles)} styles for {len(layers)} layers; give "
                       "one per layer (empty = default)", "StyleNotDefined", "STYLES")
    for layer, style in zip(layers, styles, strict=False):
        allowed = MAP_LAYERS[layer].map.style_names()
        if style not in ("", "default", *allowed):
            raise WmsError(f"layer {layer!r} has no style {style!r}; styles: "
                           + ", ".join(allowed), "StyleNotDefined", "STYLES")
    return styles


def _parse_words(params: Params, name: str, allowed) -> tuple[str, ...]:
    """A comma-separated vendor parameter whose words must be in ``allowed``."""
    words = tuple(w.strip() for w in (params.get(name) or "").split(",") if w.strip())
    for word in words:
        if word not in allowed:
            raise WmsError(f"{name} {word!r} is not known; use any of "
                           + ", ".join(allowed), "InvalidParameterValue", name)
    return words


def parse_time(value: str | None, default: tuple[datetime, datetime] | None):
    """The closed UTC window [start, end] of a TIME value (``app.api.params.
    parse_time_window`` with the dimension's daily resolution: a date, or a midnight
    UTC, means that whole day; another date-time that second); ``default`` when TIME is
    absent."""
    if value is None:
        return default
    if value.strip() == "":
        raise WmsError("TIME is given without a value; give an ISO 8601 instant or "
                       "start/end interval, or leave TIME out for the default",
                       "MissingDimensionValue", "TIME")
    if "," in value:
        raise WmsError("TIME takes one instant or one interval, not a list",
                       "InvalidDimensionValue", "TIME")
    try:
        return parse_time_window("TIME", value, naive_utc=True, daily=True)
    except ParameterError as error:
        raise WmsError(str(error), "InvalidDimensionValue", "TIME") from None


# ------------------------------------------------------------------ metadata (cached)


@dataclass
class ServiceMetadata:
    time_extent: tuple[datetime, datetime] | None
    # map layer -> (min lon, min lat, max lon, max lat); filled by :func:`layer_extents`
    # when capabilities are written (not for a map: issue 21, they aggregate every row)
    extents: dict | None = None

    @property
    def default_time(self) -> tuple[datetime, datetime] | None:
        if self.time_extent is None:
            return None
        last = self.time_extent[1]
        return last - timedelta(days=DEFAULT_TIME_DAYS), last


# Per database URL and region scope: (time of the last check, data versions, metadata).
_METADATA: dict[tuple, tuple[float, str, ServiceMetadata]] = {}
# How long the data versions are trusted without asking the database again (seconds):
# a map's default TIME follows a new incident within this delay, and a tile request
# saves a round trip.
METADATA_RECHECK_SECONDS = 1.0


def service_metadata(context: ServiceContext) -> ServiceMetadata:
    """The incidents' time extent (what a map's default TIME needs), of the features in
    the caller's region scope that their agency sees only (the capabilities reveal no
    more than the maps), cached by the data versions; the layers' extents are added by
    :func:`layer_extents`."""
    scope, agency = context.scope, context.agency
    database = (context.database_url, None if scope is None else tuple(sorted(scope)),
                agency)
    cached = _METADATA.get(database)
    now = time.monotonic()
    if cached is not None and now - cached[0] < METADATA_RECHECK_SECONDS:
        return cached[2]
    session = context.session
    versions = json.dumps(queries.data_versions(session), sort_keys=True)
    if cached is not None and cached[1] == versions:
        _METADATA[database] = (now, versions, cached[2])
        return cached[2]
    time_extent = queries.layer_time_extent(session, INCIDENTS, scope, agency)
    if time_extent is not None:
        time_extent = tuple(t.astimezone(UTC) for t in time_extent)
    found = ServiceMetadata(time_extent)
    _METADATA[database] = (now, versions, found)
    return found


def layer_extents(context: ServiceContext, metadata: ServiceMetadata) -> dict:
    """Each map layer's extent (of the caller's scope and agency, as
    :func:`service_metadata`), computed once per data version for the capabilities: the
    extents of the incidents and of the density are aggregates of the whole history."""
    if metadata.extents is not None:
        return metadata.extents
    scope, agency, session = context.scope, context.agency, context.session
    world = (-180.0, -90.0, 180.0, 90.0)
    extents = {"countries": world}
    for name, layer in MAP_LAYERS.items():
        if layer.scope_column is not None:
            extents[name] = queries.layer_extent(session, layer, scope, agency)
    extents["hotspots"] = extents["regions"]
    # What the density layer draws reaches past the incidents by its kernel's bandwidth.
    extents["density"] = overlays.density_extent(map_request.MapRequest(
        layers=("density",), time=metadata.default_time, scope=scope, agency=agency,
        analysis_srid=context.analysis_srid), context.database_url, session
    ) or extents["incidents"]
    metadata.extents = extents
    return extents


def _day_start(moment: datetime) -> datetime:
    """The midnight UTC that starts ``moment``'s day."""
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ responses


def exception_report(error: WmsError, version: str) -> Answer:
    """A ServiceExceptionReport in the version's format, HTTP ``error.status``."""
    if version == "1.1.1":
        root = etree.Element("ServiceExceptionReport", version="1.1.1")
        item = etree.SubElement(root, "ServiceException")
        doctype = ('<!DOCTYPE ServiceExceptionReport SYSTEM '
                   '"http://schemas.opengis.net/wms/1.1.1/exception_1_1_1.dtd">')
        mimetype = "application/vnd.ogc.se_xml"
    else:
        root = etree.Element(f"{{{OGC_NS}}}ServiceExceptionReport", version="1.3.0",
                             nsmap={None: OGC_NS, "xsi": XSI_NS})
        root.set(f"{{{XSI_NS}}}schemaLocation", f"{OGC_NS} http://schemas.opengis.net/wms/"
                 "1.3.0/exceptions_1_3_0.xsd")
        item = etree.SubElement(root, f"{{{OGC_NS}}}ServiceException")
        doctype = None
        mimetype = "text/xml"
    if error.code:
        item.set("code", error.code)
    if error.locator:
        item.set("locator", error.locator)
    item.text = error.message
    body = etree.tostring(root, xml_declaration=True, encoding="UTF-8", doctype=doctype)
    return {"Content-Type": mimetype}, error.status, body


def _service_url(context: ServiceContext) -> str:
    return context.service_root + "ogc/wms?"


def _legend_url(base: str, version: str, layer: str, style: str) -> str:
    return base + urlencode({"SERVICE": "WMS", "VERSION": version,
                             "REQUEST": "GetLegendGraphic", "FORMAT": "image/png",
                             "LAYER": layer, "STYLE": style})


def _projected_bbox(bbox, epsg: int) -> tuple[float, float, float, float]:
    minx, miny, maxx, maxy = bbox
    if epsg == 3857:
        miny, maxy = max(miny, -85.05), min(maxy, 85.05)
    xs = [minx + (maxx - minx) * k / 16 for k in range(17)]
    ys = [miny + (maxy - miny) * k / 16 for k in range(17)]
    edge_x = xs + xs + [minx] * 17 + [maxx] * 17
    edge_y = [miny] * 17 + [maxy] * 17 + ys + ys
    x, y = transform_xy(edge_x, edge_y, 4326, epsg)
    return float(min(x)), float(min(y)), float(max(x)), float(max(y))


def capabilities(context: ServiceContext, version: str, metadata: ServiceMetadata) -> bytes:
    """The capabilities document of ``version`` (escaped by lxml)."""
    base = _service_url(context)
    v13 = version == "1.3.0"
    ns = f"{{{WMS_NS}}}" if v13 else ""
    href = f"{{{XLINK_NS}}}href"
    max_size = context.wms_max_size
    extents = layer_extents(context, metadata)

    def sub(parent, tag, text_=None, **attrs):
        element = etree.SubElement(parent, ns + tag, {k: str(v) for k, v in attrs.items()})
        if text_ is not None:
            element.text = str(text_)
        return element

    def online(parent, url=base):
        element = sub(parent, "OnlineResource")
        element.set(f"{{{XLINK_NS}}}type", "simple")
        element.set(href, url)
        return element

    if v13:
        root = etree.Element(ns + "WMS_Capabilities", version="1.3.0",
                             nsmap={None: WMS_NS, "xlink": XLINK_NS, "xsi": XSI_NS})
        root.set(f"{{{XSI_NS}}}schemaLocation", f"{WMS_NS} http://schemas.opengis.net/wms/"
                 "1.3.0/capabilities_1_3_0.xsd")
    else:
        root = etree.Element("WMT_MS_Capabilities", version="1.1.1",
                             nsmap={"xlink": XLINK_NS})
    service = sub(root, "Service")
    sub(service, "Name", "WMS" if v13 else "OGC:WMS")
    sub(service, "Title", "BorderRisk")
    sub(service, "Abstract", "Border risk analysis layers (CIRAM): regions, border sections "
        "by risk level, crossing points, incidents, Gi* hot spots and kernel density. "
        "Vendor parameters of GetMap and GetFeatureInfo for incidents, hotspots and "
        "density: REGION (region code), CATEGORY (incident categories, comma-separated) "
        "and OUTCOME (attempted, actual; comma-separated). "
        "Demo data is synthetic or approximate (see each feature's provenance).")
    keywords = sub(service, "KeywordList")
    for word in ("border", "risk", "CIRAM", "incidents", "hot spots"):
        sub(keywords, "Keyword", word)
    online(service)
    sub(service, "Fees", "none")
    sub(service, "AccessConstraints", "Authenticated users only (HTTP Basic or Bearer token)")
    if v13:
        sub(service, "LayerLimit", LAYER_LIMIT)
        sub(service, "MaxWidth", max_size)
        sub(service, "MaxHeight", max_size)

    capability = sub(root, "Capability")
    requests_ = sub(capability, "Request")
    operations = (
        ("GetCapabilities", ("text/xml",) if v13 else ("application/vnd.ogc.wms_xml",)),
        ("GetMap", ("image/png", "image/png; mode=8bit", "image/jpeg")),
        ("GetFeatureInfo", INFO_FORMATS),
    )
    for operation, formats in operations:
        element = sub(requests_, operation)
        for item in formats:
            sub(element, "Format", item)
        get = sub(sub(sub(element, "DCPType"), "HTTP"), "Get")
        online(get)
    exception = sub(capability, "Exception")
    sub(exception, "Format", "XML" if v13 else "application/vnd.ogc.se_xml")

    top = sub(capability, "Layer")
    sub(top, "Title", "BorderRisk")
    sub(top, "Abstract", "All layers. The incidents layer is scale-dependent: "
        + INCIDENTS.map.abstract)
    for crs in MAP_CRS:
        sub(top, "CRS" if v13 else "SRS", crs)
    _bounding_boxes(sub, top, (-180.0, -90.0, 180.0, 90.0), v13)
    for name, layer in MAP_LAYERS.items():
        facet = layer.map
        element = sub(top, "Layer", queryable=int(facet.queryable), opaque=0)
        sub(element, "Name", name)
        sub(element, "Title", layer.title)
        sub(element, "Abstract", facet.abstract)
        bbox = extents.get(name) or (-180.0, -90.0, 180.0, 90.0)
        _bounding_boxes(sub, element, bbox, v13)
        if facet.time_enabled and metadata.time_extent is not None:
            start, end = metadata.default_time
            # Whole UTC days, resolution a day: each value (a midnight) means that day
            # (parse_time), so a client stepping by the advertised resolution, as
            # QGIS's temporal controller does, asks for whole days.
            first, last = (_day_start(t) for t in metadata.time_extent)
            extent = f"{_iso(first)}/{_iso(last)}/{TIME_RESOLUTION}"
            default = f"{_iso(start)}/{_iso(metadata.time_extent[1])}"
            if v13:
                sub(element, "Dimension", extent, name="time", units="ISO8601",
                    default=default, multipleValues=0, nearestValue=0, current=0)
            else:
                sub(element, "Dimension", name="time", units="ISO8601")
                sub(element, "Extent", extent, name="time", default=default,
                    multipleValues=0, nearestValue=0, current=0)
        for style in facet.styles:
            style_element = sub(element, "Style")
            sub(style_element, "Name", style.name)
            sub(style_element, "Title", style.title)
            width, height = render.legend_size(name, style.name)
            legend = sub(style_element, "LegendURL", width=width, height=height)
            sub(legend, "Format", "image/png")
            online(legend, _legend_url(base, version, name, style.name))
    doctype = None if v13 else ('<!DOCTYPE WMT_MS_Capabilities SYSTEM '
                                '"http://schemas.opengis.net/wms/1.1.1/WMS_MS_Capabilities.dtd">')
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", doctype=doctype,
                          pretty_print=True)


def _bounding_boxes(sub, element, bbox, v13: bool) -> None:
    minx, miny, maxx, maxy = bbox
    if v13:
        geographic = sub(element, "EX_GeographicBoundingBox")
        for tag, value in (("westBoundLongitude", minx), ("eastBoundLongitude", maxx),
                           ("southBoundLatitude", miny), ("northBoundLatitude", maxy)):
            sub(geographic, tag, round(value, 6))
    else:
        sub(element, "LatLonBoundingBox", minx=round(minx, 6), miny=round(miny, 6),
            maxx=round(maxx, 6), maxy=round(maxy, 6))
    for crs in MAP_CRS:
        if crs in ("EPSG:4326", "CRS:84"):
            box = (minx, miny, maxx, maxy)
            if v13 and crs == "EPSG:4326":
                box = (miny, minx, maxy, maxx)  # latitude first
            digits = 6
        else:
            box = _projected_bbox(bbox, int(crs.split(":")[1]))
            digits = 1
        attrs = {"CRS" if v13 else "SRS": crs}
        attrs.update(zip(("minx", "miny", "maxx", "maxy"),
                         (round(v, digits) for v in box), strict=True))
        sub(element, "BoundingBox", **attrs)


# ------------------------------------------------------------------ operations


def _map_request(context: ServiceContext, params: Params, version: str,
                 layers_name: str = "LAYERS",
                 format_required: bool = True) -> map_request.MapRequest:
    layers = _parse_layers(params, layers_name)
    styles = _parse_styles(params, layers)
    crs = _parse_crs(params, version)
    bbox = _parse_bbox(params, version, crs)
    max_size = context.wms_max_size
    width = _parse_int(params, "WIDTH", 1, max_size)
    height = _parse_int(params, "HEIGHT", 1, max_size)
    fmt = (_parse_format(params.required("FORMAT"), MAP_FORMATS) if format_required
           else MAP_FORMATS["image/png"])
    window = None
    if TIME_LAYERS & set(layers):
        value = params.get("TIME")
        # The default needs the data's time extent; a given TIME does not.
        window = parse_time(value, service_metadata(context).default_time
                            if value is None else None)
    live = _live_levels(context, layers, styles)
    region = params.get("REGION") or None  # vendor parameter: a region code
    if region is not None:
        try:
            scope.check_region(region, context.scope_codes)
        except OutOfScopeError as error:
            raise _render_error(error) from None
    return map_request.MapRequest(layers=layers, styles=styles, bbox=bbox, crs=crs, width=width,
                             height=height, fmt=fmt, transparent=_parse_bool(params,
                                                                             "TRANSPARENT"),
                             bgcolor=_parse_bgcolor(params), time=window, region=region,
                             scope=context.scope, agency=context.agency,
                             analysis_srid=context.analysis_srid,
                             categories=_parse_words(params, "CATEGORY", INCIDENT_CATEGORIES),
                             outcome=_parse_words(params, "OUTCOME", INCIDENT_OUTCOMES),
                             live_levels=live)


def _live_levels(context: ServiceContext, layers: tuple[str, ...],
                 styles: tuple[str, ...]) -> dict[int, str] | None:
    """The live levels of the sections no stored assessment covers
    (``geo.risk.levels``), when the map colours border sections by level."""
    if "border_segments" not in layers or context.risk_model is None:
        return None
    style = styles[layers.index("border_segments")] if styles else ""
    if style not in ("", "default", "risk_level"):
        return None
    return levels.live_levels(context.session, context.risk_model, context.analysis_srid,
                              clock.utc_now())


_MIME = {"png": "image/png", "png8": "image/png", "jpeg": "image/jpeg"}


def _render_error(error: ParameterError) -> WmsError:
    if isinstance(error, OutOfScopeError):
        return WmsError(error.reason, "InvalidParameterValue", error.field.upper(), 403)
    codes = {"layers": "LayerNotDefined", "styles": "StyleNotDefined", "crs": "InvalidCRS",
             "format": "InvalidFormat"}
    return WmsError(error.reason, codes.get(error.field, "InvalidParameterValue"),
                    error.field.upper())


def get_map(context: ServiceContext, params: Params, version: str) -> Answer:
    map_request = _map_request(context, params, version)
    try:
        body = render.render_map(map_request, context.database_url)
    except ParameterError as error:
        raise _render_error(error) from None
    return {"Content-Type": _MIME[map_request.fmt]}, 200, body


def get_feature_info(context: ServiceContext, params: Params, version: str) -> Answer:
    map_request = _map_request(context, params, version, format_required=False)
    query_layers = _parse_layers(params, "QUERY_LAYERS")
    for name in query_layers:
        if name not in map_request.layers:
            raise WmsError(f"query layer {name!r} is not among LAYERS", "LayerNotDefined",
                           "QUERY_LAYERS")
        if not MAP_LAYERS[name].map.queryable:
            raise WmsError(f"layer {name!r} is not queryable", "LayerNotQueryable",
                           "QUERY_LAYERS")
    info_format = _parse_format(params.get("INFO_FORMAT") or "text/plain", INFO_FORMATS,
                                "INFO_FORMAT")
    count_text = params.get("FEATURE_COUNT") or "1"
    if (not count_text.strip().isdigit() or len(count_text) > 18
            or not 1 <= int(count_text) <= MAX_FEATURE_COUNT):
        raise WmsError(f"FEATURE_COUNT must be 1-{MAX_FEATURE_COUNT}, got {quoted(count_text)}",
                       "InvalidParameterValue", "FEATURE_COUNT")
    i_name, j_name = ("I", "J") if version == "1.3.0" else ("X", "Y")
    pixel = []
    for name, size in ((i_name, map_request.width), (j_name, map_request.height)):
        value = (params.get(name) or "").strip()
        if not value.isdigit() or len(value) > 18 or not 0 <= int(value) < size:
            raise WmsError(f"{name} must be a pixel column/row inside the map (0-{size - 1}), "
                           f"got {quoted(value)}", "InvalidPoint", name)
        pixel.append(int(value))
    minx, miny, maxx, maxy = map_request.bbox
    per_x = (maxx - minx) / map_request.width
    per_y = (maxy - miny) / map_request.height
    x = minx + (pixel[0] + 0.5) * per_x
    y = maxy - (pixel[1] + 0.5) * per_y
    tolerance = FEATURE_INFO_TOLERANCE_PX
    corner_x = [x - tolerance * per_x, x + tolerance * per_x, x - tolerance * per_x,
                x + tolerance * per_x, x]
    corner_y = [y - tolerance * per_y, y - tolerance * per_y, y + tolerance * per_y,
                y + tolerance * per_y, y]
    epsg = 4326 if map_request.crs == "CRS:84" else int(map_request.crs.split(":")[1])
    lon, lat = transform_xy(corner_x, corner_y, epsg, 4326)
    envelope = (float(min(lon[:4])), float(min(lat[:4])), float(max(lon[:4])),
                float(max(lat[:4])))
    region_id = None
    if map_request.region:
        region_id = queries.region_id_for_code(context.session, map_request.region)
        if region_id is None:
            raise WmsError(f"unknown region code {map_request.region!r}",
                           "InvalidParameterValue", "REGION")
    start, end = map_request.time or (None, None)
    # FEATURE_COUNT applies per queried layer, as MapServer and GeoServer read it.
    features = []
    for name in query_layers:
        features += queries.features_at_point(
            context.session, name, float(lon[4]), float(lat[4]), envelope, int(count_text),
            start, end, region_id, categories=map_request.categories,
            outcomes=map_request.outcome, scope_region_ids=map_request.scope,
            viewer_agency=map_request.agency,
            live_levels=(_live_levels(context, ("border_segments",), ())
                         if name == "border_segments" else None))
    return _feature_info_response(features, info_format)


def _plain(value) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _feature_info_response(features: list[dict], info_format: str) -> Answer:
    if info_format == "application/json":
        collection = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": f"{f['layer']}.{f['id']}",
             "geometry": json.loads(f["geometry_json"]),
             "properties": {k: (v.isoformat() if isinstance(v, datetime) else v)
                            for k, v in f.items() if k != "geometry_json"}}
            for f in features]}
        return {"Content-Type": "application/json"}, 200, json.dumps(collection)
    rows = [{k: v for k, v in f.items() if k != "geometry_json"} for f in features]
    if info_format == "text/html":
        parts = ["<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Features"
                 "</title></head><body>"]
        if not rows:
            parts.append("<p>No features here.</p>")
        for row in rows:
            parts.append(f"<h3>{html_escape(row['layer'])} {html_escape(str(row['id']))}</h3>"
                         "<table>")
            parts.extend(f"<tr><th>{html_escape(k)}</th><td>{html_escape(_plain(v))}</td></tr>"
                         for k, v in row.items() if v is not None)
            parts.append("</table>")
        parts.append("</body></html>")
        return {"Content-Type": "text/html; charset=utf-8"}, 200, "".join(parts)
    lines = [f"{len(rows)} feature(s)"]
    for row in rows:
        lines.append(f"Layer '{row['layer']}' feature {row['id']}:")
        lines.extend(f"  {k} = {_plain(v)}" for k, v in row.items() if k != "layer")
    return {"Content-Type": "text/plain; charset=utf-8"}, 200, "\n".join(lines) + "\n"


def get_legend_graphic(params: Params) -> Answer:
    layer = params.required("LAYER")
    if layer not in MAP_LAYERS:
        raise WmsError(f"layer {layer!r} is not defined; layers: " + ", ".join(MAP_LAYERS),
                       "LayerNotDefined", "LAYER")
    style = (params.get("STYLE") or "").strip()
    if style not in ("", "default", *MAP_LAYERS[layer].map.style_names()):
        raise WmsError(f"layer {layer!r} has no style {style!r}; styles: "
                       + ", ".join(MAP_LAYERS[layer].map.style_names()), "StyleNotDefined", "STYLE")
    fmt = _parse_format(params.get("FORMAT") or "image/png", MAP_FORMATS)
    return {"Content-Type": _MIME[fmt]}, 200, render.render_legend(layer, style, fmt)


def get_capabilities(context: ServiceContext, params: Params, version: str) -> Answer:
    requested = params.get("FORMAT")
    if requested and requested.strip() not in ("text/xml", "application/vnd.ogc.wms_xml",
                                                "application/xml"):
        raise WmsError(f"FORMAT {requested!r} is not supported for GetCapabilities; use "
                       "text/xml", "InvalidFormat", "FORMAT")
    body = capabilities(context, version, service_metadata(context))
    mimetype = "text/xml" if version == "1.3.0" else "application/vnd.ogc.wms_xml"
    return {"Content-Type": mimetype}, 200, body


def wms(context: ServiceContext, args: dict[str, str]) -> Answer:
    """A WMS request (its query parameters ``args``): dispatch on REQUEST; every request
    error is an exception report."""
    params = Params(args)
    version = request_version(params)
    try:
        service = params.get("SERVICE")
        operation = params.required("REQUEST")
        if service is not None and service.strip().upper() != "WMS":
            raise WmsError(f"SERVICE must be WMS, got {service!r}", "InvalidParameterValue",
                           "SERVICE")
        name = operation.strip().lower()
        if name in ("getcapabilities", "capabilities"):
            return get_capabilities(context, params, version)
        if name == "getmap" or name == "map":
            return get_map(context, params, version)
        if name == "getfeatureinfo":
            return get_feature_info(context, params, version)
        if name == "getlegendgraphic":
            return get_legend_graphic(params)
        raise WmsError(f"REQUEST {operation!r} is not supported; use GetCapabilities, "
                       "GetMap, GetFeatureInfo or GetLegendGraphic", "OperationNotSupported",
                       "REQUEST")
    except WmsError as error:
        return exception_report(error, version)
