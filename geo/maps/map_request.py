"""What a map is asked for (``MapRequest``): layers and styles, extent and CRS, size and
format, time window, region, scope and filters; checked by ``validate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from geo import releasability
from geo.crs import DEFAULT_ANALYSIS_SRID, MAP_CRS
from geo.errors import ParameterError
from geo.layers import MAP_LAYERS
from geo.maps.palette import RISK_LEVEL_COLOURS
from geo.vocabulary import INCIDENT_CATEGORIES, INCIDENT_OUTCOMES

# ------------------------------------------------------------------ the request

FORMATS = ("png", "png8", "jpeg")
# Encoder options (measured: png32 default ~33 ms per 256x256 map, z=1:s=rle ~11 ms,
# png8:m=o ~17 ms).
ENCODERS = {"png": "png32:z=1:s=rle", "png8": "png8:m=o:z=1", "jpeg": "jpeg85"}
CRS_EPSG = {"EPSG:4326": 4326, "CRS:84": 4326, "EPSG:3857": 3857, "EPSG:32638": 32638}
METRES_PER_DEGREE = 6378137.0 * 2 * np.pi / 360  # at the equator (OGC SLD/SE scale)
PIXEL_SIZE_M = 0.00028  # OGC standardised rendering pixel
NEVER_START = "-infinity"
NEVER_END = "infinity"


@dataclass(frozen=True)
class MapRequest:
    """What to draw.

    Parameters
    ----------
    layers : tuple of str
        Names from ``geo.layers.MAP_LAYERS``, drawn bottom to top.
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
        UTC closed window [start, end] of ``occurred_at`` for incidents, hotspots and
        density (as ``geo.queries.FeatureQuery``); either end may be None (open).
    region : str or None
        Region code restricting incidents, hotspots and density.
    scope : frozenset of int or None
        The caller's region scope (ids, ``app.auth.scope.region_scope``): only features
        of these regions are drawn on every layer but ``countries``; None: unrestricted.
    agency : str or None
        The caller's agency (``geo.scope``): the incidents layer draws only what it
        sees in detail, hotspots and density count what it may count; "" the view
        every agency shares (released to all, or counted); None: every record (the
        system).
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
        section's level in the latest stored assessment, else in ``live_levels`` (a
        supervisor's decision overrides either), grey where none.
    live_levels : mapping of int to str, optional
        The live level of the sections no stored assessment covers
        (``geo.risk.levels.live_levels``), for the ``risk_level`` style.
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
    agency: str | None = None
    analysis_srid: int = DEFAULT_ANALYSIS_SRID
    categories: tuple[str, ...] = ()
    outcome: tuple[str, ...] = ()
    segment_levels: Mapping[int, str] | None = field(default=None, hash=False, compare=False)
    live_levels: Mapping[int, str] | None = field(default=None, hash=False, compare=False)


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
        layer = MAP_LAYERS[name].map
        if style in ("", "default"):
            style = layer.default_style
        if style not in layer.style_names():
            raise ParameterError("styles", f"layer {name!r} has no style {style!r}; styles: "
                                 + ", ".join(layer.style_names()))
        chosen.append(style)
    return tuple(chosen)


def validate(request: MapRequest) -> tuple[str, ...]:
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
    parse_colour(request.bgcolor)
    for field_name, values, allowed in (("category", request.categories, INCIDENT_CATEGORIES),
                                        ("outcome", request.outcome, INCIDENT_OUTCOMES)):
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise ParameterError(field_name, f"unknown {field_name} {unknown[0]!r}; allowed: "
                                 + ", ".join(allowed))
    if request.scope is not None and not all(isinstance(r, int) for r in request.scope):
        raise ParameterError("scope", "region ids must be integers")
    if request.agency not in (None, "") and not releasability.CODE.match(request.agency):
        raise ParameterError("agency", "must be an agency code such as GBP")
    for name, levels in (("segment_levels", request.segment_levels),
                         ("live_levels", request.live_levels)):
        for segment_id, level in (levels or {}).items():
            if not isinstance(segment_id, int) or level not in RISK_LEVEL_COLOURS:
                raise ParameterError(name, f"segment {segment_id!r}: level must "
                                     "be one of " + ", ".join(RISK_LEVEL_COLOURS))
    return resolved_styles(request)


def parse_colour(value: str) -> tuple[int, int, int]:
    text_ = value.strip().lstrip("#")
    if text_.lower().startswith("0x"):
        text_ = text_[2:]
    if len(text_) != 6 or any(c not in "0123456789abcdefABCDEF" for c in text_):
        raise ParameterError("bgcolor", f"{value!r} is not a colour like #RRGGBB or 0xRRGGBB")
    return int(text_[0:2], 16), int(text_[2:4], 16), int(text_[4:6], 16)


def scale_denominator(request: MapRequest) -> float:
    """OGC scale denominator of the map (0.28 mm pixels; degrees at the equator)."""
    minx, _, maxx, _ = request.bbox
    metres = (maxx - minx) * (METRES_PER_DEGREE if CRS_EPSG[request.crs] == 4326 else 1.0)
    return metres / request.width / PIXEL_SIZE_M


