"""Hot-spot analyses of incidents over a study area, from the database to GeoJSON.

The statistics live in ``geo.hotspots.spatial_stats``, ``geo.hotspots.emerging``,
``geo.hotspots.density`` and ``geo.hotspots.evaluation``; this module gathers their
inputs and packages their outputs:

1. the study area (a region's polygon or a bounding box) in the analysis CRS;
2. its hexagon grid: the whole ``ST_HexagonGrid`` cells (edge ``cell_size`` metres)
   that intersect the area, built by arithmetic (``geo.hotspots.hexgrid``) with shapely, so every
   cell has the same shape and area; only the cells along the area's boundary are
   tested as polygons;
3. the selected incidents as coordinate arrays, read with one binary ``COPY`` and
   projected with pyproj; each is assigned to its cell by arithmetic, not by a spatial
   join;
4. the statistic per cell (a :class:`CellMap`), and a GeoJSON FeatureCollection of
   every cell (zero counts included) whose ``metadata`` says everything needed to
   reproduce it: :func:`cells_geojson` builds it as Python objects,
   :func:`write_cells_geojson` writes the same JSON text without them (the API's way).

Results are cached in memory by their parameters and the data versions of the
incidents and regions tables (bumped by triggers on every write), so a repeated request
returns byte-identical output and any change to the data invalidates it. Grids are
kept too (:data:`GRIDS`, by the area's exact geometry and the cell size), with their
neighbourhoods and GeoJSON geometry text, so a request with another window, filter or
method over the same area and cell size does not build them again.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cached_property

import numpy as np
import orjson
import shapely
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import psycopg2

from geo import queries
from geo.crs import STORAGE_SRID, reproject, transform_xy
from geo.errors import ParameterError
from geo.hotspots import density, emerging, evaluation, hexgrid, spatial_stats
from geo.hotspots.gridweights import HexNeighbourhood
from geo.layers import INCIDENTS

# ArcGIS Optimized Hot Spot Analysis needs at least 30 cells holding incidents.
MIN_CELLS_WITH_DATA = 30
GI_ALPHAS = (0.01, 0.05, 0.10)
COORDINATE_DECIMALS = 7  # ~1 cm in degrees: cell vertices in GeoJSON



@dataclass(frozen=True)
class Selection:
    """Which incidents count, and how much each weighs.

    ``start``/``end`` bound ``occurred_at`` (closed, timezone-aware); ``weight`` is
    ``count`` (each incident 1) or ``persons`` (its persons count); ``region_ids``
    keeps only incidents linked to those regions (a user's region scope,
    ``app.auth.scope``; unlinked incidents are outside it), None: every incident.
    """

    start: datetime | None = None
    end: datetime | None = None
    categories: tuple[str, ...] = ()
    outcome: str | None = None
    weight: str = "count"
    region_ids: tuple[int, ...] | None = None

    def describe(self) -> dict:
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "categories": list(self.categories),
            "outcome": self.outcome,
            "weight": self.weight,
            "region_ids": None if self.region_ids is None else sorted(self.region_ids),
        }


@dataclass(frozen=True)
class StudyArea:
    """A region (by code) or a bbox (min lon, min lat, max lon, max lat; EPSG:4326)."""

    region_code: str | None = None
    bbox: tuple[float, float, float, float] | None = None

    def describe(self) -> dict:
        return {"region": self.region_code, "bbox": list(self.bbox) if self.bbox else None}


@dataclass
class Grid:
    """Hexagon cells over a study area; coordinates in metres of ``srid``."""

    size: float
    srid: int
    i: np.ndarray
    j: np.ndarray
    cx: np.ndarray
    cy: np.ndarray
    _keys: np.ndarray = field(repr=False, default=None)
    _order: np.ndarray = field(repr=False, default=None)

    def __post_init__(self):
        keys = _cell_keys(self.i, self.j)
        self._order = np.argsort(keys)
        self._keys = keys[self._order]

    def __len__(self) -> int:
        return len(self.i)

    @cached_property
    def neighbourhood(self) -> HexNeighbourhood:
        """Distance-band neighbour sums over these cells (``geo.hotspots.gridweights``)."""
        return HexNeighbourhood(self.i, self.j, self.size)

    @cached_property
    def text(self) -> _GridText:
        """The cells' GeoJSON geometry and labels as JSON text (built once)."""
        return _GridText(self)

    @property
    def cell_area_m2(self) -> float:
        return hexgrid.hex_cell_area(self.size)

    def locate(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Index of the cell holding each point (metres), -1 outside the grid."""
        if len(x) == 0:
            return np.empty(0, dtype=np.int64)
        i, j = hexgrid.hex_index(x, y, self.size)
        keys = _cell_keys(i, j)
        position = np.clip(np.searchsorted(self._keys, keys), 0, len(self._keys) - 1)
        found = self._keys[position] == keys
        return np.where(found, self._order[position], -1)


def _cell_keys(i: np.ndarray, j: np.ndarray) -> np.ndarray:
    return (np.asarray(i, dtype=np.int64) << 32) + (np.asarray(j, dtype=np.int64) & 0xFFFFFFFF)


# ------------------------------------------------------------------ database reads


def study_area_geometry(session, area: StudyArea, srid: int):
    """The study area as a shapely geometry in metres of ``srid``."""
    if area.region_code is not None:
        wkb = session.execute(
            text("SELECT ST_AsBinary(geom) FROM regions WHERE code = :code"),
            {"code": area.region_code},
        ).scalar_one_or_none()
        if wkb is None:
            raise ParameterError("region", f"unknown region code {area.region_code!r}")
        return reproject(shapely.from_wkb(bytes(wkb)), STORAGE_SRID, srid)
    if area.bbox is not None:
        box = shapely.box(*area.bbox)
        return reproject(shapely.segmentize(box, 0.01), STORAGE_SRID, srid)
    raise ParameterError("region", "give a region code or a bbox")


_COPY_HEADER = 19  # PGCOPY signature (11) + flags (4) + header extension length (4)
# One row of the binary COPY below: field count, then (length, value) per column. The
# point comes as PostGIS's binary form, EWKB with SRID: byte order (1 = little-endian),
# type 0x20000001 (point with SRID), SRID, x, y. occurred_at is microseconds since
# 2000-01-01 UTC. Reading the columns as stored, without ST_X/ST_Y/extract per row,
# saves the server about 40 % of the statement's time.
_COPY_ROW = np.dtype([
    ("fields", ">i2"),
    ("geom_length", ">i4"), ("byte_order", "u1"), ("wkb_type", "<u4"), ("srid", "<u4"),
    ("lon", "<f8"), ("lat", "<f8"),
    ("persons_length", ">i4"), ("persons", ">i4"),
    ("time_length", ">i4"), ("time_us", ">i8"),
])
_EWKB_POINT_WITH_SRID = 0x20000001
_POSTGRES_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970


def _incident_filter(selection: Selection, envelope_lonlat) -> tuple[str, dict]:
    """WHERE clause (SQLAlchemy ``:name`` placeholders) and values selecting
    ``selection``'s incidents whose point lies in ``envelope_lonlat`` (min lon, min lat,
    max lon, max lat; EPSG:4326).

    The filters are ``geo.queries``' own (:func:`geo.queries.feature_filter`), so an
    analysis reads the incidents a list or an export with the same filters returns;
    ``region_ids`` is the region scope there (unlinked incidents are outside it). The
    envelope is a bounding-box test (``&&``) only: the grid's cells decide the rest.
    """
    query = queries.FeatureQuery(
        start=selection.start, end=selection.end, categories=list(selection.categories),
        outcomes=[selection.outcome] if selection.outcome else [],
        scope_region_ids=(None if selection.region_ids is None
                          else frozenset(int(r) for r in selection.region_ids)),
        limit=None)
    where, params = queries.feature_filter(INCIDENTS, query)
    minx, miny, maxx, maxy = (float(v) for v in envelope_lonlat)
    return ("geom && ST_MakeEnvelope(:envelope_minx, :envelope_miny, :envelope_maxx, "
            ":envelope_maxy, 4326) AND " + where,
            {**params, "envelope_minx": minx, "envelope_miny": miny,
             "envelope_maxx": maxx, "envelope_maxy": maxy})


def _pyformat(sql: str, params: dict) -> tuple[str, dict]:
    """``sql`` with ``:name`` placeholders as psycopg2's ``%(name)s`` text and its
    values, compiled by SQLAlchemy's psycopg2 dialect (which also doubles any ``%``)."""
    compiled = text(sql).bindparams(**params).compile(dialect=psycopg2.dialect())
    return str(compiled), compiled.params


def load_incidents(session, selection: Selection, envelope_lonlat, srid: int) -> dict:
    """Coordinates (metres in ``srid``), weights and times (epoch seconds, UTC) of the
    selected incidents whose point lies in ``envelope_lonlat`` (EPSG:4326 bounds).

    The filter is :func:`_incident_filter`. Reads with one binary ``COPY``; values are
    bound by the driver (psycopg2 ``mogrify``).
    """
    where, params = _incident_filter(selection, envelope_lonlat)
    query, params = _pyformat(
        f"SELECT geom, persons_count, occurred_at FROM incidents WHERE {where}", params)
    raw = session.connection().connection
    with raw.cursor() as cursor:
        statement = cursor.mogrify(query, params).decode()
        # psycopg2 writes each row separately: a C-level buffer keeps that cheap.
        buffer = io.BytesIO()
        cursor.copy_expert(f"COPY ({statement}) TO STDOUT WITH (FORMAT binary)", buffer)
    data = buffer.getbuffer()
    records = np.frombuffer(data, dtype=_COPY_ROW, offset=_COPY_HEADER,
                            count=(len(data) - _COPY_HEADER - 2) // _COPY_ROW.itemsize)
    if not ((records["fields"] == 3).all() and (records["geom_length"] == 25).all()
            and (records["byte_order"] == 1).all()
            and (records["wkb_type"] == _EWKB_POINT_WITH_SRID).all()
            and (records["persons_length"] == 4).all() and (records["time_length"] == 8).all()):
        raise RuntimeError("unexpected binary layout of incidents (geom, persons_count, "
                           "occurred_at): a 2-D point with SRID, int4 and timestamptz expected")
    lon, lat = records["lon"].astype(float), records["lat"].astype(float)
    x, y = transform_xy(lon, lat, STORAGE_SRID, srid) if len(lon) else (lon, lat)
    persons = records["persons"].astype(float)
    weight = persons if selection.weight == "persons" else np.ones(len(lon))
    # the same doubles as extract(epoch FROM occurred_at)::float8: the exact quotient,
    # correctly rounded
    seconds = (records["time_us"].astype(np.int64) + _POSTGRES_EPOCH_US).astype(float) / 1e6
    return {"x": np.asarray(x), "y": np.asarray(y), "weight": weight, "time": seconds}


# ------------------------------------------------------------------ grid


def estimated_cells(area_geometry, size: float) -> int:
    """Roughly how many cells a grid of edge ``size`` metres has over the area."""
    minx, miny, maxx, maxy = area_geometry.bounds
    cell = hexgrid.hex_cell_area(size)
    return int((area_geometry.area + 2 * size * (maxx - minx + maxy - miny)) / cell) + 1


def _candidate_cells(area_geometry, size: float) -> tuple[np.ndarray, np.ndarray]:
    """(i, j) of every ``ST_HexagonGrid(size)`` cell (metres) over the area's bounds,
    one cell beyond them on each side: the cells that may intersect the area."""
    minx, miny, maxx, maxy = area_geometry.bounds
    corner_i, corner_j = hexgrid.hex_index(np.array([minx, maxx]), np.array([miny, maxy]),
                                           size)
    i_range = np.arange(corner_i[0] - 1, corner_i[1] + 2)
    j_range = np.arange(corner_j[0] - 1, corner_j[1] + 2)
    i, j = (a.ravel() for a in np.meshgrid(i_range, j_range, indexing="ij"))
    return i, j


def build_grid(area_geometry, size: float, srid: int) -> Grid:
    """Every ``ST_HexagonGrid(size)`` cell that intersects the area (metres, ``srid``).

    Only the cells near the area's boundary are tested as polygons; any other cell lies
    wholly inside or wholly outside the area, which its centre tells.
    """
    minx, miny, maxx, maxy = area_geometry.bounds
    i, j = _candidate_cells(area_geometry, size)
    cx, cy = hexgrid.hex_centres(i, j, size)
    # Cheap filter first: cells whose centre is farther than one edge length from the
    # area's bounds cannot touch it.
    near = (cx >= minx - size) & (cx <= maxx + size) & (cy >= miny - size) & (cy <= maxy + size)
    i, j, cx, cy = i[near], j[near], cx[near], cy[near]
    shapely.prepare(area_geometry)
    boundary_i, boundary_j = hexgrid.cells_near_lines(shapely.boundary(area_geometry), size)
    on_boundary = np.isin(_cell_keys(i, j), _cell_keys(boundary_i, boundary_j))
    keep = shapely.contains_xy(area_geometry, cx, cy)
    keep[on_boundary] = shapely.intersects(
        area_geometry, hexgrid.hex_polygons(i[on_boundary], j[on_boundary], size))
    return Grid(size, srid, i[keep], j[keep], cx[keep], cy[keep])


def build_grid_by_polygons(area_geometry, size: float, srid: int) -> Grid:
    """:func:`build_grid` the straightforward way, every candidate cell tested as a
    polygon (the reference the tests compare it with)."""
    i, j = _candidate_cells(area_geometry, size)
    polygons = hexgrid.hex_polygons(i, j, size)
    keep = shapely.intersects(area_geometry, polygons)
    i, j = i[keep], j[keep]
    cx, cy = hexgrid.hex_centres(i, j, size)
    return Grid(size, srid, i, j, cx, cy)


class GridCache:
    """Grids by (area geometry, cell size, CRS); least recently used out.

    A grid depends on nothing else, so a later request over the same area and cell
    size (any window, filters or method) reuses its cells, neighbourhood and GeoJSON
    geometry instead of deriving them again. Thread-safe.
    """

    def __init__(self, max_entries: int = 4):
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple, Grid] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple, build) -> Grid:
        with self._lock:
            grid = self._entries.get(key)
            if grid is not None:
                self._entries.move_to_end(key)
                return grid
        grid = build()
        with self._lock:
            self._entries[key] = grid
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return grid

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


GRIDS = GridCache()


# ------------------------------------------------------------------ the analyses


@dataclass(frozen=True)
class HotspotRequest:
    """Parameters of a hot-spot map (see ``hotspot_map``)."""

    area: StudyArea
    selection: Selection
    method: str = "gistar"  # gistar | lisa | kde
    cell_size_m: float | None = None
    distance_band_m: float | None = None
    fdr: bool = True
    max_cells: int = 200_000


# The default hot-spot map, the one every service shows without being asked for a method
# or a cell size (WMS ``hotspots``, the OGC collection ``hotspots``, the risk model's
# "touches a hot-spot"): Gi* with FDR on hexagons of this edge (metres of the analysis
# CRS), its band chosen as for any Gi* map.
DEFAULT_CELL_SIZE_M = 2000.0


def default_request(area: StudyArea, selection: Selection,
                    max_cells: int = 200_000) -> HotspotRequest:
    """The request of the default hot-spot map of ``area`` and ``selection``."""
    return HotspotRequest(area=area, selection=selection, cell_size_m=DEFAULT_CELL_SIZE_M,
                          max_cells=max_cells)


def default_map(session, area: StudyArea, selection: Selection, srid: int,
                max_cells: int = 200_000) -> bytes:
    """The default hot-spot map (GeoJSON text, EPSG:4326), computed in the analysis CRS
    ``srid`` and cached once for every service that shows it; ParameterError when
    there are too few incidents or cells for Gi*."""
    request = default_request(area, selection, max_cells)
    return cached(session, "gistar", request, srid,
                  lambda: hotspot_map(session, request, srid))


@dataclass
class Prepared:
    """The inputs shared by every method: grid, incidents, counts, band."""

    grid: Grid
    points: dict
    cell_of_point: np.ndarray
    counts: np.ndarray
    cell_size_source: str
    metadata: dict = field(default_factory=dict)


def _prepare(session, area: StudyArea, selection: Selection, cell_size_m, srid: int,
             max_cells: int) -> Prepared:
    geometry = study_area_geometry(session, area, srid)
    bounds = shapely.bounds(reproject(shapely.segmentize(shapely.box(*geometry.bounds),
                                                         1000.0), srid, STORAGE_SRID))
    points = load_incidents(session, selection, tuple(bounds), srid)
    if cell_size_m is None:
        inside = shapely.contains_xy(geometry, points["x"], points["y"])
        if inside.sum() < 3:
            raise ParameterError("datetime", "fewer than 3 incidents in the area and window: "
                                "nothing to size the cells from; widen the window")
        cell_size_m = hexgrid.auto_cell_size(points["x"][inside], points["y"][inside])
        source = "auto: mean nearest-neighbour distance of the incidents (geo.hotspots.hexgrid)"
    else:
        source = "given"
    cell_size_m = float(cell_size_m)
    estimate = estimated_cells(geometry, cell_size_m)
    smallest = float(np.sqrt(geometry.area / (max_cells * 3 * hexgrid.H)))
    if estimate > max_cells and source != "given":
        # The automatic size is ours, not the caller's: coarsen it to the cap instead
        # of refusing (dense incidents in a large area).
        cell_size_m = float(np.ceil(smallest))
        while estimated_cells(geometry, cell_size_m) > max_cells:
            cell_size_m = float(np.ceil(cell_size_m * 1.01))
        source += f"; coarsened to keep at most {max_cells:,} cells"
        estimate = estimated_cells(geometry, cell_size_m)
    if estimate > max_cells:
        raise ParameterError("cell_size", f"{cell_size_m:.0f} m cells would give about "
                            f"{estimate:,} cells (at most {max_cells:,}); use cell_size of "
                            f"at least {np.ceil(smallest):.0f} m")
    # keyed by the area's exact geometry: a changed region gives another key
    grid = GRIDS.get((hashlib.sha256(shapely.to_wkb(geometry)).hexdigest(), cell_size_m, srid),
                     lambda: build_grid(geometry, cell_size_m, srid))
    cell = grid.locate(points["x"], points["y"])
    inside = cell >= 0
    counts = np.bincount(cell[inside], weights=points["weight"][inside], minlength=len(grid))
    return Prepared(grid, points, cell, counts, source)


def _distance_band(prepared: Prepared, given: float | None) -> tuple[float, str]:
    grid = prepared.grid
    if given is not None:
        return float(given), "given"
    isa = grid.neighbourhood.incremental_spatial_autocorrelation(prepared.counts)
    if isa.peak_distance is not None:
        return float(isa.peak_distance), "first peak of incremental spatial autocorrelation"
    return grid.neighbourhood.knn_distance_band(), "k-nearest-neighbour rule"


def _require_cells_with_data(counts: np.ndarray, what: str) -> int:
    with_data = int(np.count_nonzero(counts))
    if with_data < MIN_CELLS_WITH_DATA:
        raise ParameterError(
            "datetime", f"only {with_data} cells hold incidents; {what} needs at least "
            f"{MIN_CELLS_WITH_DATA}: widen the time window, categories or area, or use "
            "smaller cells")
    return with_data


def _base_metadata(request_area: StudyArea, selection: Selection, prepared: Prepared,
                   srid: int, versions: dict, method: str) -> dict:
    grid = prepared.grid
    return {
        "method": method,
        "crs": f"EPSG:{srid}",
        "cell_shape": "hexagon (ST_HexagonGrid, whole cells intersecting the area)",
        "cell_size_m": grid.size,
        "cell_size_source": prepared.cell_size_source,
        "cell_area_m2": grid.cell_area_m2,
        "cells": len(grid),
        "cells_with_data": int(np.count_nonzero(prepared.counts)),
        "incidents": int(np.count_nonzero(prepared.cell_of_point >= 0)),
        "area": request_area.describe(),
        "filters": selection.describe(),
        "data_version": {k: versions[k] for k in sorted(versions)},
    }


@dataclass
class CellMap:
    """The result of an analysis: cells, per-cell values (arrays in cell order) and
    metadata; as GeoJSON with :meth:`geojson` or its JSON text with :meth:`to_json`."""

    grid: Grid
    properties: dict[str, np.ndarray]
    metadata: dict

    def geojson(self) -> dict:
        return cells_geojson(self.grid, self.properties, self.metadata)

    def to_json(self) -> bytes:
        return write_cells_geojson(self.grid, self.properties, self.metadata)


def hotspot_map(session, request: HotspotRequest, srid: int) -> dict:
    """:func:`hotspot_cells` as a GeoJSON FeatureCollection (EPSG:4326)."""
    return hotspot_cells(session, request, srid).geojson()


def hotspot_cells(session, request: HotspotRequest, srid: int) -> CellMap:
    """A hot-spot map: every cell with its count and the method's statistic.

    ``gistar``: Getis-Ord Gi* z (binary fixed distance band, self included), two-sided
    p and the bin -3..3 (99/95/90 % confidence; Benjamini-Hochberg FDR when ``fdr``).
    ``lisa``: Local Moran's I with quadrant labels HH/LL/HL/LH (row-standardised band
    weights without self). ``kde``: quartic kernel density (incidents per km²) at cell
    centres, Silverman bandwidth unless ``distance_band_m`` is given.
    """
    if request.method not in ("gistar", "lisa", "kde"):
        raise ParameterError("method", f"unknown method {request.method!r}; methods: "
                            "gistar, lisa, kde")
    versions = queries.data_versions(session)
    prepared = _prepare(session, request.area, request.selection, request.cell_size_m, srid,
                        request.max_cells)
    grid, counts = prepared.grid, prepared.counts
    metadata = _base_metadata(request.area, request.selection, prepared, srid, versions,
                              request.method)
    properties: dict[str, np.ndarray] = {"count": counts}
    if request.method == "kde":
        inside = prepared.cell_of_point >= 0
        x, y = prepared.points["x"][inside], prepared.points["y"][inside]
        if len(x) < 3:
            raise ParameterError("datetime", "fewer than 3 incidents in the area and window")
        bandwidth = request.distance_band_m or density.silverman_bandwidth(x, y)
        properties["density"] = density.kernel_density_at(x, y, grid.cx, grid.cy, bandwidth)
        metadata.update({"kernel": "quartic", "bandwidth_m": float(bandwidth),
                         "bandwidth_source": "given" if request.distance_band_m
                         else "spatial Silverman rule (ArcGIS)",
                         "density_unit": "incidents per km²"})
    else:
        _require_cells_with_data(counts, "Gi*" if request.method == "gistar" else "LISA")
        band, band_source = _distance_band(prepared, request.distance_band_m)
        metadata.update({"weights": "fixed distance band, binary", "distance_band_m": band,
                         "distance_band_source": band_source, "fdr": request.fdr})
        if request.method == "gistar":
            z = grid.neighbourhood.gi_star(counts, band)
            p = spatial_stats.p_values(z)
            properties.update({"z": z, "p": p, "bin": spatial_stats.gi_bins(z, p, fdr=request.fdr)})
            metadata.update({"self_included": True, "alpha": list(GI_ALPHAS),
                             "bins": "-3..3: 99/95/90 % cold/hot, 0 not significant"})
        else:
            w = spatial_stats.row_standardise(
                spatial_stats.distance_band_weights(grid.cx, grid.cy, band, include_self=False))
            lisa = spatial_stats.local_morans_i(counts, w, alpha=0.05, fdr=request.fdr)
            properties.update({"local_i": lisa.i, "z": lisa.z, "p": lisa.p,
                               "cluster": lisa.label})
            metadata.update({"self_included": False, "row_standardised": True, "alpha": 0.05,
                             "significance": "analytic (total randomisation)"})
    metadata["computed_at"] = datetime.now(UTC).isoformat()
    return CellMap(grid, properties, metadata)


def _utc_datetime64(moment: datetime) -> np.datetime64:
    return np.datetime64(moment.astimezone(UTC).replace(tzinfo=None), "us")


@dataclass(frozen=True)
class EmergingRequest:
    area: StudyArea
    selection: Selection
    step: str = "month"  # month | week
    cell_size_m: float | None = None
    distance_band_m: float | None = None
    time_window: int = 1
    max_cells: int = 200_000


def emerging_map(session, request: EmergingRequest, srid: int) -> dict:
    """:func:`emerging_cells` as a GeoJSON FeatureCollection (EPSG:4326)."""
    return emerging_cells(session, request, srid).geojson()


def emerging_cells(session, request: EmergingRequest, srid: int) -> CellMap:
    """Emerging hot-spot categories per cell over monthly or weekly steps."""
    if request.step not in ("month", "week"):
        raise ParameterError("step", f"unknown step {request.step!r}; steps: month, week")
    if request.selection.start is None or request.selection.end is None:
        raise ParameterError("datetime", "emerging hot-spots need a closed window start/end")
    versions = queries.data_versions(session)
    prepared = _prepare(session, request.area, request.selection, request.cell_size_m, srid,
                        request.max_cells)
    grid = prepared.grid
    inside = prepared.cell_of_point >= 0
    start = _utc_datetime64(request.selection.start)
    times = (prepared.points["time"][inside] * 1e6).astype(np.int64).astype("datetime64[us]")
    steps = emerging.time_step_index(times, request.step, start)
    end_step = int(emerging.time_step_index(
        np.array([_utc_datetime64(request.selection.end)]), request.step, start)[0])
    n_steps = end_step + 1
    if n_steps < 3:
        raise ParameterError("datetime", f"the window holds {n_steps} {request.step}s; "
                            "emerging hot-spots need at least 3")
    # one counting pass over (step, cell) codes
    cube = np.bincount(steps * len(grid) + prepared.cell_of_point[inside],
                       weights=prepared.points["weight"][inside],
                       minlength=n_steps * len(grid)).reshape(n_steps, len(grid))
    _require_cells_with_data(prepared.counts, "emerging hot-spot analysis")
    band, band_source = _distance_band(prepared, request.distance_band_m)
    result = emerging.emerging_hot_spots(cube, grid.neighbourhood.band(band),
                                         time_window=request.time_window)
    metadata = _base_metadata(request.area, request.selection, prepared, srid, versions,
                              "emerging")
    metadata.update({"step": request.step, "steps": n_steps, "time_window": request.time_window,
                     "distance_band_m": band, "distance_band_source": band_source,
                     "weights": "space-time: fixed distance band, binary, self included",
                     "bin_alpha": 0.10, "fdr": True, "trend": "Mann-Kendall of the Gi* z series",
                     "trend_alpha": 0.10, "categories": list(emerging.CATEGORIES),
                     "computed_at": datetime.now(UTC).isoformat()})
    properties = {"count": prepared.counts, "category": result.category,
                  "trend_z": result.trend.z, "trend_p": result.trend.p,
                  "z_series": result.z.T}
    return CellMap(grid, properties, metadata)


@dataclass(frozen=True)
class EvaluationRequest:
    area: StudyArea
    selection: Selection  # categories, outcome, weight; the windows below
    train: tuple[datetime, datetime]
    test: tuple[datetime, datetime]
    area_share: float = 0.05
    method: str = "gistar"  # gistar | kde | count
    cell_size_m: float | None = None
    max_cells: int = 200_000


def evaluate(session, request: EvaluationRequest, srid: int) -> dict:
    """:func:`evaluation_cells` as a GeoJSON FeatureCollection (EPSG:4326)."""
    return evaluation_cells(session, request, srid).geojson()


def evaluation_cells(session, request: EvaluationRequest, srid: int) -> CellMap:
    """Fit on the training window, take the top ``area_share`` of cells, score the test
    window: hit rate, PAI and PEI (``geo.hotspots.evaluation``), and the hot cells used."""
    if request.method not in ("gistar", "kde", "count"):
        raise ParameterError("method", f"unknown method {request.method!r}; methods: "
                            "gistar, kde, count")
    if not 0 < request.area_share < 1:
        raise ParameterError("area_share", "must be between 0 and 1 (e.g. 0.05 for 5 %)")
    versions = queries.data_versions(session)
    train_sel = Selection(*request.train, request.selection.categories,
                          request.selection.outcome, request.selection.weight,
                          request.selection.region_ids)
    test_sel = Selection(*request.test, request.selection.categories,
                         request.selection.outcome, request.selection.weight,
                         request.selection.region_ids)
    train = _prepare(session, request.area, train_sel, request.cell_size_m, srid,
                     request.max_cells)
    grid = train.grid
    test_points = load_incidents(session, test_sel, _lonlat_bounds(grid, srid), srid)
    test_cell = grid.locate(test_points["x"], test_points["y"])
    test_counts = np.bincount(test_cell[test_cell >= 0],
                              weights=test_points["weight"][test_cell >= 0],
                              minlength=len(grid))
    if request.method == "count":
        scores, extra = train.counts, {}
    elif request.method == "kde":
        inside = train.cell_of_point >= 0
        x, y = train.points["x"][inside], train.points["y"][inside]
        bandwidth = density.silverman_bandwidth(x, y)
        scores = density.kernel_density_at(x, y, grid.cx, grid.cy, bandwidth)
        extra = {"bandwidth_m": float(bandwidth)}
    else:
        _require_cells_with_data(train.counts, "Gi*")
        band, band_source = _distance_band(train, None)
        scores = grid.neighbourhood.gi_star(train.counts, band)
        extra = {"distance_band_m": band, "distance_band_source": band_source}
    hot = evaluation.top_cells(scores, request.area_share)
    if test_counts.sum() == 0:
        raise ParameterError("test", "no incidents in the test window: nothing to score")
    metadata = _base_metadata(request.area, train_sel, train, srid, versions, request.method)
    metadata.update({
        "train": [t.isoformat() for t in request.train],
        "test": [t.isoformat() for t in request.test],
        "area_share": request.area_share, "hot_cells": int(hot.sum()),
        "test_incidents": float(test_counts.sum()),
        "hit_rate": evaluation.hit_rate(test_counts, hot),
        "pai": evaluation.pai(test_counts, hot),
        "pei": evaluation.pei(test_counts, hot),
        **extra,
        "computed_at": datetime.now(UTC).isoformat(),
    })
    keep = np.flatnonzero(hot)
    sub = Grid(grid.size, srid, grid.i[keep], grid.j[keep], grid.cx[keep], grid.cy[keep])
    properties = {"score": np.asarray(scores, dtype=float)[keep],
                  "train_count": train.counts[keep], "test_count": test_counts[keep]}
    return CellMap(sub, properties, metadata)


def _lonlat_bounds(grid: Grid, srid: int) -> tuple:
    size = grid.size
    box = shapely.box(grid.cx.min() - size, grid.cy.min() - size, grid.cx.max() + size,
                      grid.cy.max() + size)
    return tuple(shapely.bounds(reproject(shapely.segmentize(box, 1000.0), srid,
                                          STORAGE_SRID)))


# ------------------------------------------------------------------ output


def _column_array(values) -> np.ndarray:
    """Per-cell values in the JSON type they are written as: str, int64 or float."""
    array = np.asarray(values)
    if array.dtype.kind in "US":
        return array.astype(str)
    if array.dtype.kind in "iub":
        return array.astype(np.int64)
    return array.astype(float)


def _column(values) -> list:
    """Per-cell values as JSON-ready Python objects (NaN becomes null when serialised)."""
    return _column_array(values).tolist()


def _lonlat_rings(grid: Grid) -> np.ndarray:
    """The cells' rings in EPSG:4326, ``(n, 7, 2)``, rounded to 7 decimals."""
    x, y, ring = hexgrid.hex_shared_vertices(grid.i, grid.j, grid.size)
    lon, lat = transform_xy(x, y, grid.srid, STORAGE_SRID)
    vertices = np.round(np.column_stack([lon, lat]), COORDINATE_DECIMALS)
    return vertices[ring]


def cells_geojson(grid: Grid, properties: dict[str, np.ndarray], metadata: dict) -> dict:
    """A FeatureCollection of the grid's hexagons (EPSG:4326) with per-cell properties.

    Vertices are rounded to 7 decimals of a degree (about 1 cm); NaN values (e.g. a Gi*
    z where it is undefined) are serialised as null. :func:`write_cells_geojson` writes
    the same document as JSON text, faster.
    """
    rings = _lonlat_rings(grid).tolist()
    names = list(properties)
    columns = [_column(properties[n]) for n in names]
    cells = [f"{a},{b}" for a, b in zip(grid.i.tolist(), grid.j.tolist(), strict=True)]
    features = [
        {"type": "Feature", "id": k, "geometry": {"type": "Polygon", "coordinates": [ring]},
         "properties": {"cell": cell, **dict(zip(names, values, strict=True))}}
        for k, (ring, cell, *values) in enumerate(zip(rings, cells, *columns, strict=True))
    ]
    return {"type": "FeatureCollection", "metadata": metadata, "numberMatched": len(features),
            "numberReturned": len(features), "features": features}


_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def _json_items(values) -> list[bytes]:
    """The JSON text of each element of a 1-D column (or each row of a 2-D one).

    Numbers go through one ``orjson`` call on the whole array (the same shortest
    round-trip text as for Python floats and ints, NaN as null), cut at the commas.
    """
    array = _column_array(values)
    n = len(array)
    if n == 0:
        return []
    if array.dtype.kind == "U":
        if array.ndim != 1:
            return [orjson.dumps(row) for row in array.tolist()]
        # labels repeat (categories, clusters): encode each distinct one once
        labels, index = np.unique(array, return_inverse=True)
        encoded = np.empty(len(labels), dtype=object)
        encoded[:] = [orjson.dumps(str(label)) for label in labels]
        return encoded[index].tolist()
    text = orjson.dumps(np.ascontiguousarray(array), option=_JSON_OPTIONS)
    if array.ndim == 1:
        return text[1:-1].split(b",")
    if array.ndim == 2 and array.shape[1] > 0:
        return [b"[" + row + b"]" for row in text[2:-2].split(b"],[")]
    return [orjson.dumps(row, option=_JSON_OPTIONS) for row in array]


class _GridText:
    """The JSON text of each cell's feature up to its first property: id, polygon
    and cell label ``"i,j"``, which depend on the grid alone. Built once per grid."""

    def __init__(self, grid: Grid):
        n = len(grid)
        rings = orjson.dumps(_lonlat_rings(grid), option=_JSON_OPTIONS)
        # [[[x,y],...],[[x,y],...]]: rings are separated by "]],[[" and by nothing else
        coordinates = rings[3:-3].split(b"]],[[") if n else []
        template = (b'{"type":"Feature","id":%d,"geometry":{"type":"Polygon",'
                    b'"coordinates":[[[%b]]]},"properties":{"cell":"%d,%d"')
        self.features = [template % row for row in zip(range(n), coordinates, grid.i.tolist(),
                                                        grid.j.tolist(), strict=True)]


def write_cells_geojson(grid: Grid, properties: dict[str, np.ndarray],
                        metadata: dict) -> bytes:
    """The JSON text of ``cells_geojson(grid, properties, metadata)``, byte for byte as
    ``orjson.dumps`` writes it, without building a Python object per cell.

    Every per-cell value is cut from one serialisation of its whole column; the
    features are spliced together with one ``bytes.join``.
    """
    n = len(grid)
    head = orjson.dumps({"type": "FeatureCollection", "metadata": metadata,
                         "numberMatched": n, "numberReturned": n}, option=_JSON_OPTIONS)
    if n == 0:
        return head[:-1] + b',"features":[]}'
    if "cell" in properties:
        raise ValueError("'cell' is the cell label, not a property name")
    # For each feature: its head (id, geometry, cell), then for each property its
    # name and value; the value texts are cut from one serialisation per column.
    columns = [grid.text.features]
    for name, values in properties.items():
        column = _json_items(values)
        if len(column) != n:
            raise ValueError(f"property {name!r} has {len(column)} values for {n} cells")
        columns += [[b"," + orjson.dumps(name) + b":"] * n, column]
    columns.append([b"}},"] * n)
    pieces: list[bytes] = [b""] * (len(columns) * n)
    for k, column in enumerate(columns):
        pieces[k::len(columns)] = column
    pieces[-1] = b"}}"
    return head[:-1] + b',"features":[' + b"".join(pieces) + b"]}"


# ------------------------------------------------------------------ cache


class ResultCache:
    """Serialised results by (kind, parameters, data versions); least recently used out.

    Thread-safe. The stored bytes are returned as they are, so a repeated request is
    byte-identical. Bounded both by entries and by total size (bytes, default 512 MiB
    per process): one emerging result over 100k cells is ~110 MB, so a count alone
    would let a worker grow to gigabytes.
    """

    def __init__(self, max_entries: int = 32, max_bytes: int = 512 * 2**20):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    @staticmethod
    def key(kind: str, request, versions: dict, srid: int) -> str:
        described = asdict(request) if hasattr(request, "__dataclass_fields__") else request
        return json.dumps([kind, described, versions, srid], sort_keys=True, default=str)

    def get(self, key: str) -> bytes | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0

    def put(self, key: str, value: bytes) -> None:
        if len(value) > self.max_bytes:
            return  # larger than the whole cache: served, not kept
        with self._lock:
            previous = self._entries.pop(key, None)
            if previous is not None:
                self._size -= len(previous)
            self._entries[key] = value
            self._size += len(value)
            while len(self._entries) > self.max_entries or self._size > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._size -= len(evicted)

    @property
    def size_bytes(self) -> int:
        """Total length of the kept results, in bytes."""
        return self._size


CACHE = ResultCache()


def cached(session, kind: str, request, srid: int, compute) -> bytes:
    """The JSON text of ``compute()`` (a :class:`CellMap` or a JSON-ready dict) for this
    request and the current data."""
    key = ResultCache.key(kind, request, queries.data_versions(session), srid)
    body = CACHE.get(key)
    if body is None:
        result = compute()
        body = (result.to_json() if isinstance(result, CellMap)
                else orjson.dumps(result, option=_JSON_OPTIONS))
        CACHE.put(key, body)
    return body


__all__ = ["CACHE", "DEFAULT_CELL_SIZE_M", "GRIDS", "CellMap", "EmergingRequest",
           "EvaluationRequest", "HotspotRequest", "Selection", "StudyArea", "cached",
           "default_map", "default_request", "emerging_cells",
           "emerging_map", "evaluate", "evaluation_cells", "hotspot_cells", "hotspot_map"]
