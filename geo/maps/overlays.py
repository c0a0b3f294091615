"""The raster layers drawn with numpy: the incidents of a map's time window read once
per data version (one binary COPY), counted in pixel cells (``incidents`` at small
scales) or turned into a kernel density surface (``density``), and composited over mapnik's image.
"""

from __future__ import annotations

import math
import struct
import threading
import zlib
from collections import OrderedDict
from datetime import datetime
from functools import lru_cache

import mapnik
import numpy as np
from sqlalchemy import text

from geo import queries
from geo.crs import transform_xy
from geo.db import map_engine
from geo.hotspots import density as kde
from geo.incidents import IncidentArrays, read_incidents
from geo.layers import (
    INCIDENT_CELL_CLASSES,
    INCIDENT_CELL_PIXELS,
    INCIDENTS,
)
from geo.maps.map_request import CRS_EPSG, MapRequest
from geo.maps.palette import DENSITY_RAMP, INCIDENT_CELL_COLOURS
from geo.queries import FeatureQuery
from geo.queries.incidents import agency_bits

# ------------------------------------------------------------------ incident points (numpy)

# The incidents of a time window, per (database URL, window): at most this many windows
# per process, the least recently used dropped first. A map reads the rows of its
# window only (issue 21: the whole history at ten years was ~10 M points per worker and
# a COPY that outlasted the renderer's 30 s); the windows a map client steps through
# (QGIS's temporal controller, the map page's default 90 days) come from memory.
POINT_WINDOWS = 8
_POINTS: OrderedDict[tuple, IncidentArrays] = OrderedDict()
_POINTS_LOCK = threading.Lock()


def incidents_version(connection) -> int:
    return int(queries.data_versions(connection)["incidents"])


def incident_points(database_url: str,
                    window: tuple[datetime | None, datetime | None] = (None, None)
                    ) -> IncidentArrays:
    """The incidents (``geo.incidents``) of the closed time ``window`` (start, end; None:
    unbounded), time-sorted, cached per data version (and agencies: their bits in the
    viewers' masks). Only time is filtered in SQL (``occurred_at`` index): the other
    filters are :meth:`IncidentArrays.select`'s, so one read serves every viewer,
    category and region of the window, and selecting a window's rows from them gives
    what selecting it from the whole history gives."""
    key = (database_url, tuple(window))
    with map_engine(database_url).connect() as connection:
        version = incidents_version(connection)
        raw = connection.connection.dbapi_connection
        cached = _POINTS.get(key)
        if (cached is not None and cached.version == version
                and cached.agency_bits == agency_bits(raw)):
            with _POINTS_LOCK:
                if key in _POINTS:
                    _POINTS.move_to_end(key)
            return cached
        with _POINTS_LOCK:
            start, end = window
            where = " AND ".join(["true"] + (["occurred_at >= :start"] if start is not None else [])
                                 + (["occurred_at <= :end"] if end is not None else []))
            params = {name: value for name, value in (("start", start), ("end", end))
                      if value is not None}
            points = read_incidents(raw, where, params, order_by_time=True)
            points.version = version
            _POINTS[key] = points
            _POINTS.move_to_end(key)
            while len(_POINTS) > POINT_WINDOWS:
                _POINTS.popitem(last=False)
        return points


def time_window(request: MapRequest) -> tuple[datetime | None, datetime | None]:
    return request.time if request.time is not None else (None, None)


def scope_ids(request: MapRequest) -> tuple[int, ...] | None:
    return None if request.scope is None else tuple(sorted(request.scope))


def _selection(request: MapRequest, region: int, counting: bool) -> tuple:
    """What a request selects of the incidents (hashable: a cache key; see
    :func:`_query`): what its agency sees (the incidents layer), or with ``counting``
    what it may count (density)."""
    return (*time_window(request), region, tuple(request.categories), tuple(request.outcome),
            scope_ids(request), request.agency, counting)


def _query(selection: tuple) -> FeatureQuery:
    """The ``FeatureQuery`` of a :func:`_selection` (the closed window, the region id or
    0, categories, outcomes, scope, viewer agency, counting)."""
    start, end, region, categories, outcomes, scope, agency, counting = selection
    return FeatureQuery(start=start, end=end, region_id=region or None,
                        categories=list(categories), outcomes=list(outcomes),
                        scope_region_ids=None if scope is None else frozenset(scope),
                        viewer_agency=agency, counting=counting, limit=None)


def hex_rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def incident_cells(request: MapRequest, points: IncidentArrays, region: int) -> np.ndarray:
    """Counts of the selected incidents per INCIDENT_CELL_PIXELS-pixel cell, (rows, cols),
    cells counted from the map's top-left corner."""
    index = points.select(_query(_selection(request, region, counting=False)))
    x, y = points.xy(CRS_EPSG[request.crs])
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


def incident_cells_rgba(request: MapRequest, points: IncidentArrays, region: int) -> np.ndarray:
    counts = incident_cells(request, points, region)
    classes = np.searchsorted(np.array(INCIDENT_CELL_CLASSES), counts, side="left")
    palette = np.array([(*hex_rgb(c), 220) for c in INCIDENT_CELL_COLOURS], dtype=np.uint8)
    rgba = palette[np.minimum(classes, len(palette) - 1)]
    rgba[counts == 0] = 0
    size = INCIDENT_CELL_PIXELS
    full = rgba.repeat(size, axis=0).repeat(size, axis=1)
    return np.ascontiguousarray(full[:request.height, :request.width])


@lru_cache(maxsize=32)
def _density_setup(database_url: str, version: int, selection: tuple, analysis_srid: int):
    """Bandwidth (metres) and peak density (per km²) of a selection (:func:`_selection`)
    in the analysis CRS ``analysis_srid`` (read from the selection's window)."""
    points = incident_points(database_url, selection[:2])
    index = points.select(_query(selection))
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


def density_rgba(request: MapRequest, database_url: str, points: IncidentArrays,
                  region: int) -> np.ndarray:
    """The density layer's pixels (h, w, 4): the KDE evaluated every 4 pixels from a
    binned surface in the analysis CRS, coloured relative to the window's peak density."""
    srid = request.analysis_srid
    setup = _density_setup(database_url, points.version,
                           _selection(request, region, counting=True), srid)
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
    mx, my = transform_xy(gx.ravel(), gy.ravel(), CRS_EPSG[request.crs], srid)
    ok = np.isfinite(mx) & np.isfinite(my)
    if not ok.any():
        return rgba
    bounds = (mx[ok].min(), my[ok].min(), mx[ok].max(), my[ok].max())
    pixel_m = max((bounds[2] - bounds[0]) / cols, (bounds[3] - bounds[1]) / rows, 1.0)
    cell = max(min(bandwidth / 4, pixel_m), (bounds[2] - bounds[0] + bounds[3] - bounds[1]
                                              + 4 * bandwidth) / 2048)
    x, y = points.xy(srid)
    index = points.select(_query(_selection(request, region, counting=True)))
    x, y = x[index], y[index]
    near = ((x > bounds[0] - bandwidth) & (x < bounds[2] + bandwidth)
            & (y > bounds[1] - bandwidth) & (y < bounds[3] + bandwidth))
    surface, x0, y0, cell = _binned_density(x[near], y[near], bounds, bandwidth, cell)
    values = np.zeros(len(mx))
    i = np.clip(((mx[ok] - x0) // cell).astype(np.int64), 0, surface.shape[1] - 1)
    j = np.clip(((my[ok] - y0) // cell).astype(np.int64), 0, surface.shape[0] - 1)
    values[ok] = surface[j, i]
    share = np.clip(values / peak, 0, 1).reshape(rows, cols)
    ramp = np.array([hex_rgb(c) for c in DENSITY_RAMP], dtype=np.uint8)
    cells = np.zeros((rows, cols, 4), dtype=np.uint8)
    cells[..., :3] = ramp[np.minimum((share * len(ramp)).astype(int), len(ramp) - 1)]
    cells[..., 3] = np.where(share > 0.02, (80 + 140 * share).astype(np.uint8), 0)
    full = cells.repeat(step, axis=0).repeat(step, axis=1)
    return np.ascontiguousarray(full[:request.height, :request.width])


# How far past the incidents the density layer draws, in bandwidths: the quartic kernel
# reaches one bandwidth, and the binned surface adds up to one cell of a quarter of it.
DENSITY_REACH = 1.25


# The every-time part of the density's extent, in SQL (issue 21: no read of the history
# into the process): the counted incidents' count, box in the analysis CRS, standard
# distance and median distance to their mean centre (``geo.hotspots.density``'s
# Silverman rule, in float8 where the arrays use float32: a few decimetres apart).
_EVERY_TIME_SQL = """
WITH p AS MATERIALIZED (
    SELECT ST_X(g) AS x, ST_Y(g) AS y
    FROM (SELECT ST_Transform(geom, :srid) AS g FROM incidents WHERE {where}) AS t),
c AS (SELECT count(*) AS n, avg(x) AS mx, avg(y) AS my, min(x) AS x0, min(y) AS y0,
             max(x) AS x1, max(y) AS y1 FROM p)
SELECT c.n, c.x0, c.y0, c.x1, c.y1,
       sqrt(avg((p.x - c.mx) ^ 2 + (p.y - c.my) ^ 2)),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY sqrt((p.x - c.mx) ^ 2 + (p.y - c.my) ^ 2))
FROM p CROSS JOIN c
GROUP BY c.n, c.x0, c.y0, c.x1, c.y1
"""


_EVERY_TIME: OrderedDict[tuple, tuple | None] = OrderedDict()


def _every_time_setup(database_url: str, version: int, selection: tuple, analysis_srid: int,
                      connection=None):
    """(bandwidth or None, (min x, min y, max x, max y)) of a selection's counted
    incidents of every time in the analysis CRS, or None when it has none: one
    whole-history aggregate in the database per data version (at most 32 kept), on
    ``connection`` when given (the capabilities' own, with the app's statement timeout:
    the aggregate is linear in the history), else on the map renderer's."""
    key = (database_url, version, selection, analysis_srid)
    if key in _EVERY_TIME:
        return _EVERY_TIME[key]
    where, params = queries.feature_filter(INCIDENTS, _query(selection))
    statement = text(_EVERY_TIME_SQL.format(where=where))
    values = {**params, "srid": analysis_srid}
    if connection is None:
        with map_engine(database_url).connect() as own:
            row = own.execute(statement, values).first()
    else:
        row = connection.execute(statement, values).first()
    found = None
    if row is not None and row[0]:
        n, x0, y0, x1, y1, sd, dm = row
        radius = (0.9 * min(sd, math.sqrt(1.0 / math.log(2.0)) * dm) * n ** -0.2
                  if n >= 3 else 0.0)
        found = (radius if radius > 0 else None), (x0, y0, x1, y1)
    _EVERY_TIME[key] = found
    while len(_EVERY_TIME) > 32:
        _EVERY_TIME.popitem(last=False)
    return found


def density_extent(request: MapRequest, database_url: str, connection=None
                   ) -> tuple[float, float, float, float] | None:
    """(min lon, min lat, max lon, max lat) of what the density layer draws for the
    selection of ``request`` (its time window, scope, agency; no region): the counted
    incidents of every time grown by ``DENSITY_REACH`` bandwidths (the larger of the
    window's and of all time's), in the analysis CRS, then in degrees. The WMS
    advertises it, so a client asking for the layer's bounding box sees it whole.
    None when there are too few incidents to draw. The window's incidents are read as
    a map of it reads them; every time's are aggregated in SQL (:func:`_every_time_setup`,
    on ``connection`` when given)."""
    srid = request.analysis_srid
    window = _selection(request, 0, counting=True)
    points = incident_points(database_url, window[:2])
    every_time = _every_time_setup(database_url, points.version, (None, None, *window[2:]),
                                   srid, connection)
    setup = _density_setup(database_url, points.version, window, srid)
    bandwidths = [b for b in (setup and setup[0], every_time and every_time[0])
                  if b is not None]
    if not bandwidths or every_time is None:
        return None
    reach = DENSITY_REACH * max(bandwidths)
    x0, y0, x1, y1 = every_time[1]
    west, south, east, north = x0 - reach, y0 - reach, x1 + reach, y1 + reach
    # The box's edges, densified, in degrees (its corners alone may miss a bulge).
    t = np.linspace(0.0, 1.0, 33)
    ring_x = np.concatenate([west + (east - west) * t, np.full_like(t, east),
                             east - (east - west) * t, np.full_like(t, west)])
    ring_y = np.concatenate([np.full_like(t, south), south + (north - south) * t,
                             np.full_like(t, north), north - (north - south) * t])
    lon, lat = transform_xy(ring_x, ring_y, srid, 4326)
    return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


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


def composite_rgba(image: mapnik.Image, rgba: np.ndarray) -> None:
    if not rgba[..., 3].any():
        return
    overlay = mapnik.Image.from_buffer(_png_rgba(rgba))
    overlay.premultiply()
    image.composite(overlay)


