"""The inputs of every hot-spot analysis: the study area, which incidents count
(``Selection``), the incidents read from the database in the analysis CRS, and the
hexagon grid over the area (``Grid``, cached by ``GRIDS``).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import shapely

from geo import queries
from geo.crs import STORAGE_SRID, reproject, transform_xy
from geo.errors import ParameterError
from geo.hotspots import hexgrid
from geo.hotspots.gridweights import HexNeighbourhood
from geo.incidents import read_incidents
from geo.layers import INCIDENTS
from geo.scope import visibility_condition

if TYPE_CHECKING:  # output imports this module
    from geo.hotspots.output import GridText

# ------------------------------------------------------------------ inputs


@dataclass(frozen=True)
class Selection:
    """Which incidents count, and how much each weighs.

    ``start``/``end`` bound ``occurred_at`` (closed, timezone-aware); ``weight`` is
    ``count`` (each incident 1) or ``persons`` (its persons count); ``region_ids``
    keeps only incidents linked to those regions (a user's region scope,
    ``app.auth.scope``; unlinked incidents are outside it), None: every incident;
    ``viewer_agency`` counts only the incidents that agency sees in detail or that
    their originators let count in aggregates (``geo.scope.counted_condition``), None:
    every incident (the system); "" what every agency may count (products shared
    ministry-wide). Results are cached per viewer agency (the whole selection is the
    key, ``geo.hotspots.cache``).
    """

    start: datetime | None = None
    end: datetime | None = None
    categories: tuple[str, ...] = ()
    outcome: str | None = None
    weight: str = "count"
    region_ids: tuple[int, ...] | None = None
    viewer_agency: str | None = None

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
    """Where an analysis runs: the union of regions, optionally clipped to a bbox.

    ``regions``: region codes (``GE-KK``) or country codes (``GE``: all its regions);
    empty: every region, the whole country. ``bbox`` (min lon, min lat, max lon, max
    lat; EPSG:4326) clips that union: a bbox analysis never counts sea or foreign
    territory as cells without incidents. ``region_ids`` keeps only those regions (a
    caller's region scope); None: no restriction. The analysis grid holds the cells that
    intersect the area (the mask); cells outside it have no statistic.
    """

    regions: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None
    region_ids: tuple[int, ...] | None = None

    def describe(self) -> dict:
        return {"regions": list(self.regions) or "all",
                "bbox": list(self.bbox) if self.bbox else None,
                "region_ids": None if self.region_ids is None else sorted(self.region_ids)}


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
    def text(self) -> GridText:
        """The cells' GeoJSON geometry and labels as JSON text (built once)."""
        from geo.hotspots.output import GridText  # output imports this module

        return GridText(self)

    @property
    def cell_area_m2(self) -> float:
        return hexgrid.hex_cell_area(self.size)

    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        """(min lon, min lat, max lon, max lat) of the cells' whole extent (EPSG:4326)."""
        size = self.size
        box = shapely.box(self.cx.min() - size, self.cy.min() - size,
                          self.cx.max() + size, self.cy.max() + size)
        return tuple(float(v) for v in shapely.bounds(
            reproject(shapely.segmentize(box, 1000.0), self.srid, STORAGE_SRID)))

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
    """The study area as a shapely geometry in metres of ``srid``, and the codes of
    the regions it is made of: ``(geometry, codes)``.

    Raises ParameterError (``region``) for a code that names no region (within the
    area's ``region_ids``) and (``bbox``) for a bbox that misses every region.
    """
    rows = queries.study_area_regions(session, area.regions, area.region_ids)
    codes = [code for code, _ in rows]
    for asked in area.regions:
        if not any(code == asked or code.startswith(asked + "-") for code in codes):
            raise ParameterError("region", f"unknown region code {asked!r}")
    if not rows:
        raise ParameterError("region", "there are no regions to analyse")
    union = shapely.union_all(shapely.from_wkb([wkb for _, wkb in rows]))
    if area.bbox is not None:
        union = shapely.intersection(union, shapely.segmentize(shapely.box(*area.bbox), 0.01))
        if union.is_empty or union.area == 0:
            raise ParameterError("bbox", "the bbox covers no region: the study area is "
                                "the regions (land) inside the bbox")
    return reproject(union, STORAGE_SRID, srid), codes


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
        viewer_agency=selection.viewer_agency, counting=True, limit=None)
    where, params = queries.feature_filter(INCIDENTS, query)
    minx, miny, maxx, maxy = (float(v) for v in envelope_lonlat)
    return ("geom && ST_MakeEnvelope(:envelope_minx, :envelope_miny, :envelope_maxx, "
            ":envelope_maxy, 4326) AND " + where,
            {**params, "envelope_minx": minx, "envelope_miny": miny,
             "envelope_maxx": maxx, "envelope_maxy": maxy})


def load_incidents(session, selection: Selection, envelope_lonlat, srid: int) -> dict:
    """Coordinates (metres in ``srid``), weights and times (epoch seconds, UTC) of the
    selected incidents whose point lies in ``envelope_lonlat`` (EPSG:4326 bounds), and
    ``visible``: whether the selection's viewer agency sees each in detail (all true
    for the system, ``viewer_agency`` None).

    The filter is :func:`_incident_filter`, read by ``geo.incidents.read_incidents``
    (one binary ``COPY``; values bound by the driver; planned without plain index
    scans, ``geo.queries.window_reads``); ``visible`` is
    ``geo.scope.visibility_condition`` read in the same pass, so the records counted
    without being visible are told by the same rule that counts them.
    """
    where, params = _incident_filter(selection, envelope_lonlat)
    flag = None if selection.viewer_agency is None else visibility_condition()
    with queries.window_reads(session):
        read = read_incidents(session.connection().connection, where, params, codes=False,
                              flag=flag)
    lon, lat = read.lon, read.lat
    x, y = transform_xy(lon, lat, STORAGE_SRID, srid) if len(lon) else (lon, lat)
    weight = read.persons if selection.weight == "persons" else np.ones(len(lon))
    visible = read.flag if flag is not None else np.ones(len(lon), dtype=bool)
    return {"x": np.asarray(x), "y": np.asarray(y), "weight": weight, "time": read.time,
            "visible": visible}


@dataclass
class GridCounts:
    """The selected incidents of a grid's cells: ``points`` (as :func:`load_incidents`
    returns them, read over the cells' extent), ``cell_of_point`` (the cell holding
    each, -1 for none) and ``counts`` (weights summed per cell)."""

    points: dict
    cell_of_point: np.ndarray
    counts: np.ndarray


def count_on_grid(session, grid: Grid, selection: Selection,
                  read: tuple[tuple, dict] | None = None) -> GridCounts:
    """The selection's incidents counted in the grid's cells.

    What a cell counts is every selected incident inside it, whatever region holds the
    incident: a cell's count is that of its whole area, so edge cells of a region are
    not undercounted and every method and window over the same grid counts alike.
    Incidents outside every cell (elsewhere in a bbox) count nothing.

    ``read`` is ``(lonlat envelope, points)`` of the same selection read before (by
    :func:`load_incidents`); it is used when its envelope holds the grid's, instead
    of reading again.
    """
    bounds = grid.lonlat_bounds()
    if read is not None and _holds(read[0], bounds):
        points = read[1]
    else:
        points = load_incidents(session, selection, bounds, grid.srid)
    cell = grid.locate(points["x"], points["y"])
    inside = cell >= 0
    counts = np.bincount(cell[inside], weights=points["weight"][inside], minlength=len(grid))
    return GridCounts(points, cell, counts)


def _holds(outer, inner) -> bool:
    """Whether the (min x, min y, max x, max y) box ``outer`` contains ``inner``."""
    return (outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2]
            and outer[3] >= inner[3])


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


def area_grid(area_geometry, size: float, srid: int) -> Grid:
    """:func:`build_grid` through :data:`GRIDS`, keyed by the area's exact geometry (a
    changed region gives another key), the cell size and the CRS."""
    key = (hashlib.sha256(shapely.to_wkb(area_geometry)).hexdigest(), float(size), srid)
    return GRIDS.get(key, lambda: build_grid(area_geometry, size, srid))


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


