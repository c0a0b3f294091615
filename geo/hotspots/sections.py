"""Emerging hot-spots by border section: the CIRAM way of looking at a space-time cube.

The locations of the cube are the border sections (``border_segments``) of the study
area's regions (``geo.hotspots.inputs.StudyArea``: regions, a country, or every region
within a caller's scope), not grid cells. Each incident the selection keeps counts for
its nearest section when it lies within the corridor of that section (``corridor_m``
metres of the analysis CRS, ``geo/risk/risk.yaml``; the rule of the risk model's
counts, ``geo.queries.sections``), in the time step that holds it
(``geo.hotspots.pipeline.emerging_time_steps``: whole months or weeks, aligned to the
window's end by default, as for the cells). Incidents farther than the corridor from
every section, and those in a partial step left out of the cube, count for nothing.

Spatial neighbours of a section: the sections whose geometries (lines) come within
the distance band of it (``shapely.dwithin`` in metres of the analysis CRS), binary,
the section itself included; by default the band is the corridor width, so sections
that touch (consecutive sections of a border) are always neighbours and a section with
none besides itself is compared with its own history. The statistics are
``geo.hotspots.emerging``'s (space-time Gi*, Mann-Kendall trends, the ArcGIS
categories).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import shapely
from scipy import sparse

from geo import queries
from geo.crs import STORAGE_SRID, reproject
from geo.errors import ParameterError
from geo.hotspots import emerging
from geo.hotspots.inputs import Selection, StudyArea, _incident_filter, study_area_geometry
from geo.hotspots.pipeline import agency_view, emerging_time_steps
from geo.hotspots.timesteps import TimeSteps
from geo.queries import sections as sections_sql
from geo.scope import visibility_condition

#: What each property of a section's feature holds (also in the metadata).
FIELDS = {
    "section_id": "id of the border section (border_segments.id)",
    "code": "the section's code",
    "name": "the section's name",
    "region_id": "the section's region",
    "count": "incidents (or persons, weight=persons) counted for the section over all steps",
    "count_series": "the same per time step, oldest first (metadata.time_steps.edges)",
    "category": "emerging hot-spot category (metadata.categories)",
    "trend_z": "Mann-Kendall z of the section's Gi* z series (what the category uses)",
    "trend_p": "two-sided p of trend_z",
    "count_trend_z": "Mann-Kendall z of the section's count series",
    "count_trend_p": "two-sided p of count_trend_z",
    "count_trend_tau": "Kendall's tau-b of the count series against time (null when "
                       "the counts are constant)",
    "z_series": "space-time Gi* z per time step, oldest first",
}


@dataclass(frozen=True)
class SectionRequest:
    """An emerging hot-spot analysis by border section.

    ``area``: the sections of its regions (no bbox); ``corridor_m`` metres of the
    analysis CRS; ``distance_band_m`` metres, None for the corridor width; the time
    options are those of ``geo.hotspots.pipeline.EmergingRequest``.
    """

    area: StudyArea
    selection: Selection
    corridor_m: float
    step: str = "month"  # month | week
    distance_band_m: float | None = None
    time_window: int = 1
    alignment: str = "end"  # end | start | reference
    reference: datetime | None = None
    global_window: str = "entire_cube"  # see geo.hotspots.emerging.GLOBAL_WINDOWS


@dataclass
class SectionCube:
    """Incident counts per time step and border section.

    ``geoms`` are the sections in metres of the analysis CRS, ``lonlat`` the same in
    EPSG:4326; ``counts`` has shape ``(len(steps), len(ids))``, sections in id order.
    """

    ids: np.ndarray
    codes: list[str]
    names: list[str]
    region_ids: list[int | None]
    geoms: np.ndarray
    lonlat: np.ndarray
    steps: TimeSteps
    counts: np.ndarray
    incidents: int  # records counted (in a section's corridor and a whole step)
    agency: dict  # geo.hotspots.pipeline.agency_view of the records counted


def section_neighbours(geoms, band_m: float) -> sparse.csr_matrix:
    """Binary spatial weights of sections: 1 where two sections' geometries lie within
    ``band_m`` of each other (distance between the lines, not their centres), the
    diagonal included.

    Parameters
    ----------
    geoms : array_like of shapely geometries
        The sections, in metres of a projected CRS (e.g. EPSG:32638).
    band_m : float
        Distance band in metres (0: touching sections only).

    Returns
    -------
    scipy.sparse.csr_matrix
        ``(n, n)`` of 0/1, symmetric, ones on the diagonal.
    """
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    pairs = shapely.STRtree(geoms).query(geoms, predicate="dwithin", distance=float(band_m))
    pairs = np.concatenate([pairs, np.tile(np.arange(n), (2, 1))], axis=1)  # self, always
    weights = sparse.csr_matrix((np.ones(pairs.shape[1]), (pairs[0], pairs[1])), shape=(n, n))
    weights.data[:] = 1.0  # a pair found twice is still one neighbour
    return weights


def _corridor_envelope(geoms, corridor_m: float, srid: int) -> tuple:
    """(min lon, min lat, max lon, max lat) of the sections' corridors (EPSG:4326)."""
    box = shapely.box(*shapely.bounds(shapely.union_all(geoms)))
    box = shapely.segmentize(box.buffer(corridor_m, join_style="mitre"), 1000.0)
    return tuple(float(v) for v in shapely.bounds(reproject(box, srid, STORAGE_SRID)))


def section_cube(session, request: SectionRequest, srid: int) -> SectionCube:
    """The counts of ``request``'s selection per time step and border section.

    Raises
    ------
    ParameterError
        A bbox, an unknown region, or what :func:`emerging_time_steps` refuses.
    """
    selection = request.selection
    if request.area.bbox is not None:
        raise ParameterError("bbox", "an analysis by border section takes the sections of "
                            "regions: give region, not bbox")
    steps = emerging_time_steps(request)
    _, region_codes = study_area_geometry(session, request.area, srid)
    rows = sections_sql.region_sections(session, region_codes)
    lonlat = shapely.from_wkb([bytes(row.geom) for row in rows])
    geoms = reproject(lonlat, STORAGE_SRID, srid)
    ids = np.array([row.id for row in rows], dtype=np.int64)
    incidents = []
    if rows:  # a region without sections has an empty cube
        where, params = _incident_filter(selection, _corridor_envelope(
            geoms, request.corridor_m, srid))
        flag = None if selection.viewer_agency is None else visibility_condition()
        incidents = sections_sql.section_incidents(session, where, params, ids,
                                                   request.corridor_m, flag)
    section = np.searchsorted(ids, np.array([r.section_id for r in incidents], dtype=np.int64))
    times = np.array([r.time_us for r in incidents], dtype=np.int64).astype("datetime64[us]")
    step = steps.index(times)
    weight = (np.array([r.persons for r in incidents], dtype=float)
              if selection.weight == "persons" else np.ones(len(incidents)))
    counted = step >= 0
    # whole numbers either way (incidents or persons)
    counts = np.bincount(step[counted] * len(ids) + section[counted], weights=weight[counted],
                         minlength=len(steps) * len(ids)).reshape(len(steps), len(ids))
    counts = np.rint(counts).astype(np.int64)
    visible = np.array([bool(r.flag) for r in incidents], dtype=bool)
    # agency_view counts the records at a location (>= 0): here those in the cube
    agency = agency_view(selection, np.where(counted, section, -1), visible)
    return SectionCube(ids, [r.code for r in rows], [r.name for r in rows],
                       [r.region_id for r in rows], geoms, lonlat, steps, counts,
                       int(counted.sum()), agency)


def emerging_sections(session, request: SectionRequest, srid: int) -> dict:
    """Emerging hot-spot categories and trends per border section, as a GeoJSON
    FeatureCollection of the sections (lines, EPSG:4326; feature id = section id).

    Each feature's properties are :data:`FIELDS`; the ``metadata`` names the
    assignment rule, the corridor and the distance band (metres of ``srid``), the
    time steps and their edges, the filters and the data versions.
    """
    versions = queries.data_versions(session)
    cube = section_cube(session, request, srid)
    if request.distance_band_m is None:
        band, band_source = float(request.corridor_m), "corridor width (corridor_m)"
    else:
        band, band_source = float(request.distance_band_m), "given"
    neighbours = section_neighbours(cube.geoms, band)
    if cube.counts.size and np.ptp(cube.counts) > 0:
        result = emerging.emerging_hot_spots(cube.counts, neighbours,
                                             time_window=request.time_window,
                                             global_window=request.global_window)
    else:  # Gi* is undefined where nothing varies (no incident at all): no pattern
        undefined = np.full(cube.counts.shape, np.nan)
        result = emerging.EmergingHotSpots(
            undefined, undefined, np.zeros(cube.counts.shape, dtype=np.int8),
            emerging.mann_kendall(undefined), np.full(len(cube.ids), emerging.NO_PATTERN),
            cube.counts.astype(float))
    count_trend = result.count_trend
    columns = {
        "section_id": cube.ids.tolist(), "code": cube.codes, "name": cube.names,
        "region_id": cube.region_ids, "count": cube.counts.sum(axis=0).tolist(),
        "count_series": cube.counts.T.tolist(), "category": result.category.tolist(),
        "trend_z": result.trend.z.tolist(), "trend_p": result.trend.p.tolist(),
        "count_trend_z": count_trend.z.tolist(), "count_trend_p": count_trend.p.tolist(),
        "count_trend_tau": count_trend.tau.tolist(), "z_series": result.z.T.tolist(),
    }
    features = [{"type": "Feature", "id": int(section_id),
                 "geometry": shapely.geometry.mapping(geometry),
                 "properties": {name: values[k] for name, values in columns.items()}}
                for k, (section_id, geometry) in enumerate(zip(cube.ids, cube.lonlat,
                                                               strict=True))]
    metadata = {
        "method": "emerging", "unit": "section", "crs": f"EPSG:{srid}",
        "assignment": "each incident counts for its nearest border section when it lies "
                      "within corridor_m of it (metres, crs); farther incidents count for "
                      "no section",
        "corridor_m": float(request.corridor_m),
        "sections": len(cube.ids),
        "sections_with_data": int(np.count_nonzero(cube.counts.sum(axis=0))),
        "incidents": cube.incidents, **cube.agency,
        "step": request.step, "steps": len(cube.steps), "time_steps": cube.steps.describe(),
        "time_window": request.time_window, "global_window": request.global_window,
        "weights": "space-time: sections whose lines lie within distance_band_m of each "
                   "other (metres, crs), binary, self included, in the step and the "
                   "time_window steps before it",
        "distance_band_m": band, "distance_band_source": band_source,
        "neighbours_per_section": (np.asarray(neighbours.sum(axis=1)).ravel() - 1)
        .astype(int).tolist(),
        "bin_alpha": 0.10, "fdr": True, "trend": "Mann-Kendall of the Gi* z series",
        "count_trend": "Mann-Kendall of the count series", "trend_alpha": 0.10,
        "categories": list(emerging.CATEGORIES), "fields": FIELDS,
        "area": request.area.describe(),
        "filters": request.selection.describe(),
        "data_version": {k: versions[k] for k in sorted(versions)},
        "computed_at": datetime.now(UTC).isoformat(),
    }
    return {"type": "FeatureCollection", "metadata": metadata, "numberMatched": len(features),
            "numberReturned": len(features), "features": features}


__all__ = ["FIELDS", "SectionCube", "SectionRequest", "emerging_sections", "section_cube",
           "section_neighbours"]
