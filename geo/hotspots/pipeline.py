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

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import shapely

from geo import queries
from geo.crs import STORAGE_SRID, reproject
from geo.errors import ParameterError
from geo.hotspots import (
    cell_statistics,
    density,
    emerging,
    evaluation,
    hexgrid,
    rates,
    spatial_stats,
    timesteps,
)
from geo.hotspots.cache import cached
from geo.hotspots.inputs import (
    Grid,
    Selection,
    StudyArea,
    area_grid,
    count_on_grid,
    estimated_cells,
    load_incidents,
    study_area_geometry,
)
from geo.hotspots.output import cells_geojson, write_cells_geojson

# ArcGIS Optimized Hot Spot Analysis needs at least 30 cells holding incidents.
MIN_CELLS_WITH_DATA = 30



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
    neighbourhood: str = "band"  # see geo.hotspots.cell_statistics.NEIGHBOURHOODS
    k: int = 8  # neighbours of neighbourhood="knn"
    inference: str = "analytic"  # LISA: analytic | permutation
    permutations: int = 999
    seed: int = 0
    rate: str | None = None  # "border_km": Gi* of incidents per km of border
    # Gi* and LISA: only the significant cells (a bin other than 0, a cluster other than
    # "not significant"): what the map page draws, a small part of the cells
    significant_only: bool = False


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


# Metres read around an area whose cell size is chosen from its incidents: enough for
# the edge cells of any automatic size up to a few kilometres.
_READ_MARGIN_M = 10_000.0


@dataclass
class Prepared:
    """The inputs shared by every method: grid, incidents, counts, band."""

    grid: Grid
    points: dict
    cell_of_point: np.ndarray
    counts: np.ndarray
    cell_size_source: str
    study_area: dict = field(default_factory=dict)


def _prepare(session, area: StudyArea, selection: Selection, cell_size_m, srid: int,
             max_cells: int) -> Prepared:
    geometry, codes = study_area_geometry(session, area, srid)
    read = None
    if cell_size_m is None:
        # read a margin around the area too: the grid's edge cells reach beyond it,
        # and their incidents are then already read (see below)
        envelope = shapely.box(*shapely.bounds(shapely.buffer(
            shapely.box(*geometry.bounds), _READ_MARGIN_M)))
        lonlat = tuple(float(v) for v in shapely.bounds(
            reproject(shapely.segmentize(envelope, 1000.0), srid, STORAGE_SRID)))
        points = load_incidents(session, selection, lonlat, srid)
        read = (lonlat, points)
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
    grid = area_grid(geometry, cell_size_m, srid)
    counted = count_on_grid(session, grid, selection, read)
    return Prepared(grid, counted.points, counted.cell_of_point, counted.counts, source,
                    study_area={"regions": codes, "area_km2": float(geometry.area / 1e6)})


def _distance_band(prepared: Prepared, given: float | None) -> tuple[float, dict]:
    """The distance band (metres) and its metadata: ``distance_band_m`` (the band used,
    reported so that ``libpysal.weights.DistanceBand(threshold=distance_band_m)`` on
    the cell centres gives the same neighbours), its source, and the incremental
    spatial autocorrelation curve it was chosen from when automatic."""
    neighbourhood = prepared.grid.neighbourhood
    rule = ("binary: the cells whose centres are at most distance_band_m apart (<=), "
            "as libpysal.weights.DistanceBand(threshold=distance_band_m)")
    if given is not None:
        band, metadata = _given_band(prepared, given)
        return band, {**metadata, "neighbour_rule": rule}
    isa = neighbourhood.incremental_spatial_autocorrelation(prepared.counts)
    if isa.peak_distance is not None:
        raw, source = isa.peak_distance, (
            "first peak of incremental spatial autocorrelation that is significant "
            f"(z >= {spatial_stats.PEAK_MIN_Z}) and higher than every shorter band's z")
    else:
        raw = neighbourhood.min_neighbours_band()
        source = (f"no defensible peak: the distance giving the median cell "
                  f"{spatial_stats.MIN_NEIGHBOURS} neighbours and every cell at least one")
    band = neighbourhood.reported_band(raw)
    return band, {
        "distance_band_m": band, "distance_band_source": source, "neighbour_rule": rule,
        "band_selection": {
            "distances_m": [float(d) for d in isa.distances],
            "morans_i_z": [None if not np.isfinite(v) else float(v) for v in isa.z],
            "peak_m": isa.peak_distance,
            "curve": "global Moran's I z (binary band without self, row-standardised) "
                     "of the cell counts at each distance (ArcGIS Incremental Spatial "
                     "Autocorrelation)"},
    }


def _require_cells_with_data(counts: np.ndarray, what: str) -> int:
    with_data = int(np.count_nonzero(counts))
    if with_data < MIN_CELLS_WITH_DATA:
        raise ParameterError(
            "datetime", f"only {with_data} cells hold incidents; {what} needs at least "
            f"{MIN_CELLS_WITH_DATA}: widen the time window, categories or area, or use "
            "smaller cells")
    return with_data


def agency_view(selection: Selection, cell_of_point: np.ndarray, visible: np.ndarray,
                prefix: str = "") -> dict:
    """Whose view an analysis counted and how many of its incidents on the grid that
    agency does not see in detail: ``viewer_agency`` (None: the system, every record;
    "": what every agency may count) and ``counted_not_visible`` (records, not
    weights), so a reader knows the picture includes other agencies' data. ``prefix``
    names a second window's members (e.g. ``"test_"``)."""
    on_grid = cell_of_point >= 0
    return {"viewer_agency": selection.viewer_agency,
            f"{prefix}counted_not_visible": int(np.count_nonzero(on_grid & ~visible))}


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
        **agency_view(selection, prepared.cell_of_point, prepared.points["visible"]),
        "area": request_area.describe(),
        "study_area": {
            **prepared.study_area,
            "mask": "the cells that intersect the union of these regions"
                    + (" inside the bbox" if request_area.bbox else "")
                    + "; cells outside have no statistic",
            "counting": "every selected incident inside a cell counts for it, whatever "
                        "region holds it (a cell's count is that of its whole area)",
        },
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
    _check_options(request)
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
        values, method_metadata = _local_statistic(session, request, prepared, srid)
        properties.update(values)
        metadata.update({**method_metadata, "fdr": request.fdr})
    metadata["computed_at"] = datetime.now(UTC).isoformat()
    metadata["significant_only"] = request.significant_only
    if request.significant_only:
        significant = (properties["cluster"] != spatial_stats.NOT_SIGNIFICANT
                       if "cluster" in properties else properties["bin"] != 0)
        return _cells_kept(grid, properties, metadata, np.flatnonzero(significant))
    return CellMap(grid, properties, metadata)


def _check_options(request: HotspotRequest) -> None:
    """422 naming the field for an option the request's method does not take."""
    if request.neighbourhood not in cell_statistics.NEIGHBOURHOODS:
        raise ParameterError("neighbourhood", f"unknown neighbourhood "
                            f"{request.neighbourhood!r}; allowed: "
                            f"{', '.join(cell_statistics.NEIGHBOURHOODS)}")
    if request.inference not in cell_statistics.INFERENCES:
        raise ParameterError("inference", f"unknown inference {request.inference!r}; "
                            f"allowed: {', '.join(cell_statistics.INFERENCES)}")
    if request.inference == "permutation" and request.method != "lisa":
        raise ParameterError("inference", "permutation inference is for method=lisa; Gi* "
                            "is tested analytically (its z is asymptotically normal)")
    if request.rate not in (None, "border_km"):
        raise ParameterError("rate", f"unknown rate {request.rate!r}; allowed: border_km")
    if request.rate and (request.method != "gistar" or request.neighbourhood != "band"):
        raise ParameterError("rate", "rate=border_km is Gi* (method=gistar) with the "
                            "distance band neighbourhood")
    if request.significant_only and request.method == "kde":
        raise ParameterError("significant_only", "a kernel density has no significance "
                            "test: leave significant_only out with method=kde")


def _local_statistic(session, request: HotspotRequest, prepared: Prepared,
                     srid: int) -> tuple[dict, dict]:
    """Gi*, LISA or Gi* of rates on the prepared cells, with the request's neighbourhood
    and inference: per-cell values and the metadata saying how."""
    grid, counts = prepared.grid, prepared.counts
    if request.rate == "border_km":
        lines = queries.border_lines_wkb(session, grid.lonlat_bounds(), srid,
                                         request.area.region_ids)
        border_km = (rates.border_km_per_cell(shapely.from_wkb(lines), grid.i, grid.j,
                                              grid.size) if lines else np.zeros(len(grid)))
        band, band_metadata = _rate_band(prepared, border_km > 0, request.distance_band_m)
        values, metadata = cell_statistics.border_rate_cells(grid, counts, border_km, band,
                                                             request.fdr)
        return values, {**band_metadata, **metadata,
                        "weights": "fixed distance band, binary, among the rated cells"}
    if request.neighbourhood == "knn":
        neighbourhood = cell_statistics.Neighbourhood("knn", k=request.k)
        band_metadata = {}
    else:
        band, band_metadata = _distance_band(prepared, request.distance_band_m)
        neighbourhood = cell_statistics.Neighbourhood(request.neighbourhood, band_m=band)
    if request.method == "gistar":
        values, metadata = cell_statistics.gi_star_cells(grid, counts, neighbourhood,
                                                         request.fdr)
    else:
        values, metadata = cell_statistics.lisa_cells(
            grid, counts, neighbourhood, request.fdr, request.inference,
            request.permutations, request.seed)
    return values, {**neighbourhood.describe(), **band_metadata, **metadata}


def _given_band(prepared: Prepared, given: float) -> tuple[float, dict]:
    """A band the request gave (metres), as it is used and reported."""
    band = prepared.grid.neighbourhood.reported_band(given)
    return band, {"distance_band_m": band, "distance_band_source": "given",
                  "distance_band_requested_m": float(given)}


def _rate_band(prepared: Prepared, crossed: np.ndarray, given: float | None
               ) -> tuple[float, dict]:
    """The band of a rate map (metres): given, or the distance giving the median cell
    ``crossed`` by a border section 8 such neighbours and each at least one."""
    if given is not None:
        return _given_band(prepared, given)
    if crossed.sum() < 3:
        raise ParameterError("rate", f"only {int(crossed.sum())} cells hold border sections: "
                            "a rate map needs at least 3; use a larger area or smaller cells")
    grid = prepared.grid
    band = grid.neighbourhood.reported_band(
        spatial_stats.min_neighbours_band(grid.cx[crossed], grid.cy[crossed]))
    return band, {"distance_band_m": band, "distance_band_source":
                  "the distance giving the median border cell 8 border cells as "
                  "neighbours and every border cell at least one"}


@dataclass(frozen=True)
class EmergingRequest:
    """Parameters of an emerging hot-spot map (see :func:`emerging_cells`)."""

    area: StudyArea
    selection: Selection
    step: str = "month"  # month | week
    cell_size_m: float | None = None
    distance_band_m: float | None = None
    time_window: int = 1
    alignment: str = "end"  # end | start | reference
    reference: datetime | None = None
    global_window: str = "entire_cube"  # see geo.hotspots.emerging.GLOBAL_WINDOWS
    max_cells: int = 200_000
    # only the cells with a pattern (a category other than "no pattern"): what the map
    # page draws, a tenth of the cells or less
    patterns_only: bool = False


def emerging_map(session, request: EmergingRequest, srid: int) -> dict:
    """:func:`emerging_cells` as a GeoJSON FeatureCollection (EPSG:4326)."""
    return emerging_cells(session, request, srid).geojson()


def emerging_time_steps(request) -> timesteps.TimeSteps:
    """The whole time steps of an emerging hot-spot analysis, its options checked.

    ``request`` has ``selection`` (a closed window), ``step``, ``alignment``,
    ``reference``, ``time_window`` and ``global_window``: an :class:`EmergingRequest`
    or a ``geo.hotspots.sections.SectionRequest``.

    Raises
    ------
    ParameterError
        An open window, fewer than 3 whole steps, or an unknown option.
    """
    selection = request.selection
    if selection.start is None or selection.end is None:
        raise ParameterError("datetime", "emerging hot-spots need a closed window start/end")
    if request.global_window not in emerging.GLOBAL_WINDOWS:
        raise ParameterError("global_window", f"unknown global window "
                            f"{request.global_window!r}; allowed: "
                            f"{', '.join(emerging.GLOBAL_WINDOWS)}")
    if not 0 <= request.time_window <= 12:
        raise ParameterError("time_window", "must be a whole number of steps from 0 to 12")
    steps = timesteps.time_steps(selection.start, selection.end, request.step,
                                 request.alignment, request.reference)
    if len(steps) < 3:
        raise ParameterError("datetime", f"the window holds {len(steps)} whole "
                            f"{request.step}s; emerging hot-spots need at least 3")
    return steps


def emerging_cells(session, request: EmergingRequest, srid: int) -> CellMap:
    """Emerging hot-spot categories per cell over whole monthly or weekly steps.

    Steps are laid as ``request.alignment`` says (``geo.hotspots.timesteps``); the part
    of the window that would make a partial step is left out and named in the
    metadata, so a short last step is never read as a decline.
    """
    selection = request.selection
    steps = emerging_time_steps(request)
    versions = queries.data_versions(session)
    prepared = _prepare(session, request.area, selection, request.cell_size_m, srid,
                        request.max_cells)
    grid = prepared.grid
    on_grid = prepared.cell_of_point >= 0
    times = (prepared.points["time"] * 1e6).astype(np.int64).astype("datetime64[us]")
    step = steps.index(times)
    counted = on_grid & (step >= 0)
    # one counting pass over (step, cell) codes; incidents of a dropped partial step
    # count in no step
    cube = np.bincount(step[counted] * len(grid) + prepared.cell_of_point[counted],
                       weights=prepared.points["weight"][counted],
                       minlength=len(steps) * len(grid)).reshape(len(steps), len(grid))
    prepared = replace(prepared, counts=cube.sum(axis=0),
                       cell_of_point=np.where(counted, prepared.cell_of_point, -1))
    _require_cells_with_data(prepared.counts, "emerging hot-spot analysis")
    band, band_metadata = _distance_band(prepared, request.distance_band_m)
    result = emerging.emerging_hot_spots(cube, grid.neighbourhood.band(band),
                                         time_window=request.time_window,
                                         global_window=request.global_window)
    metadata = _base_metadata(request.area, selection, prepared, srid, versions, "emerging")
    metadata.update({"step": request.step, "steps": len(steps),
                     "time_steps": steps.describe(), "time_window": request.time_window,
                     "global_window": request.global_window, **band_metadata,
                     "weights": "space-time: fixed distance band, binary, self included, "
                                "in the step and the time_window steps before it",
                     "bin_alpha": 0.10, "fdr": True, "trend": "Mann-Kendall of the Gi* z series",
                     "count_trend": "Mann-Kendall of the cell's count series",
                     "trend_alpha": 0.10, "categories": list(emerging.CATEGORIES),
                     "patterns_only": request.patterns_only,
                     "computed_at": datetime.now(UTC).isoformat()})
    count_trend = result.count_trend
    properties = {"count": prepared.counts, "category": result.category,
                  "trend_z": result.trend.z, "trend_p": result.trend.p,
                  "count_trend_z": count_trend.z, "count_trend_p": count_trend.p,
                  "count_trend_tau": count_trend.tau,
                  "z_series": result.z.T, "count_series": cube.T}
    if request.patterns_only:
        return _cells_kept(grid, properties, metadata,
                           np.flatnonzero(result.category != emerging.NO_PATTERN))
    return CellMap(grid, properties, metadata)


def _cells_kept(grid: Grid, properties: dict[str, np.ndarray], metadata: dict,
                keep: np.ndarray) -> CellMap:
    """The map of the cells ``keep`` (indices into ``grid``) alone: their values, a grid
    of them (feature ids count them anew; the ``cell`` label ``"i,j"`` is the cell's
    own), the metadata as it is (``cells`` counts the whole grid)."""
    sub = Grid(grid.size, grid.srid, grid.i[keep], grid.j[keep], grid.cx[keep],
               grid.cy[keep])
    return CellMap(sub, {name: np.asarray(values)[keep] for name, values in properties.items()},
                   metadata)


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
    train_sel = replace(request.selection, start=request.train[0], end=request.train[1])
    test_sel = replace(request.selection, start=request.test[0], end=request.test[1])
    train = _prepare(session, request.area, train_sel, request.cell_size_m, srid,
                     request.max_cells)
    grid = train.grid
    # the same cells, counted the same way, in the test window
    test = count_on_grid(session, grid, test_sel)
    test_cell, test_points, test_counts = test.cell_of_point, test.points, test.counts
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
        band, extra = _distance_band(train, None)
        scores = grid.neighbourhood.gi_star(train.counts, band)
    hot = evaluation.top_cells(scores, request.area_share)
    if test_counts.sum() == 0:
        raise ParameterError("test", "no incidents in the test window: nothing to score")
    metadata = _base_metadata(request.area, train_sel, train, srid, versions, request.method)
    metadata.update({
        "train": [t.isoformat() for t in request.train],
        "test": [t.isoformat() for t in request.test],
        "area_share": request.area_share, "hot_cells": int(hot.sum()),
        "test_incidents": float(test_counts.sum()),
        **agency_view(test_sel, test_cell, test_points["visible"], prefix="test_"),
        "hit_rate": evaluation.hit_rate(test_counts, hot),
        "pai": evaluation.pai(test_counts, hot),
        "pei": evaluation.pei(test_counts, hot),
        **extra,
        "computed_at": datetime.now(UTC).isoformat(),
    })
    properties = {"score": np.asarray(scores, dtype=float), "train_count": train.counts,
                  "test_count": test_counts}
    return _cells_kept(grid, properties, metadata, np.flatnonzero(hot))


__all__ = ["DEFAULT_CELL_SIZE_M", "CellMap", "EmergingRequest", "EvaluationRequest",
           "HotspotRequest", "default_map", "default_request", "emerging_cells",
           "emerging_map", "emerging_time_steps", "evaluate", "evaluation_cells",
           "hotspot_cells", "hotspot_map"]
