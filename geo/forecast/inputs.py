"""What a forecast reads: the locations (the hot-spot grid's hexagon cells over a region,
or the region's border sections) and the incidents before a moment, assigned to them.

Cells are the hot-spot analyses' own (``geo.hotspots.inputs``: ``build_grid`` through
``GRIDS``, incidents by ``load_incidents``, assigned by ``Grid.locate``); an incident
counts for a section as in the CIRAM model (its nearest section, within the corridor of
``geo/risk/risk.yaml``; ``geo.queries.forecast``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np

from geo import queries
from geo.crs import STORAGE_SRID, transform_xy
from geo.errors import ParameterError
from geo.forecast import model
from geo.hotspots.inputs import (
    Grid,
    Selection,
    StudyArea,
    area_grid,
    estimated_cells,
    load_incidents,
    study_area_geometry,
)
from geo.risk.risk_config import load_risk_config

UNITS = ("cell", "section")
MIN_SECTION_BANDWIDTH_M = 5000.0
# Smoothing bandwidth of cells over the distance between adjacent centres: a neighbour
# weighs exp(-2) = 0.14 of the cell itself (wider kernels blurred the demo's hot-spots
# and lost PAI in backtests).
CELL_BANDWIDTH_SPACINGS = 0.5


@dataclass
class Units:
    """The locations of a forecast and the incidents before ``before`` on them; ``grid``
    for cells, ``sections`` (rows of ``geo.queries.region_sections``) for sections."""

    unit: str
    locations: model.Locations
    incidents: model.Incidents
    grid: Grid | None = None
    sections: list | None = None
    corridor_m: float | None = None
    # -inf when the incidents were read from a moment on and older ones exist
    # (``model.FeatureBuilder``); None: the history read is the whole history
    first_time: float | None = None

    def describe(self) -> dict:
        if self.unit == "cell":
            return {"unit": "cell", "cell_size_m": self.grid.size, "cells": len(self.grid),
                    "cell_area_m2": self.grid.cell_area_m2,
                    "cell_shape": "hexagon (the hot-spot grid: ST_HexagonGrid cells "
                                  "intersecting the region)"}
        return {"unit": "section", "sections": len(self.sections),
                "corridor_m": self.corridor_m,
                "section_rule": "an incident counts for its nearest border section when "
                                "within corridor_m of it (geo/risk/risk.yaml)"}


def _cells(session, area: StudyArea, selection: Selection, before: datetime,
           cell_size_m: float, srid: int, max_cells: int) -> Units:
    geometry, _ = study_area_geometry(session, area, srid)
    if estimated_cells(geometry, cell_size_m) > max_cells:
        raise ParameterError("cell_size", f"{cell_size_m:.0f} m cells would give more than "
                             f"{max_cells:,} cells; use larger cells")
    grid = area_grid(geometry, cell_size_m, srid)
    # ``end`` is closed: the last microsecond before ``before``, and the times filtered
    # again below, so nothing at or after ``before`` is read. Read over the cells' whole
    # extent: each cell counts every incident inside it, as the hot-spot maps do.
    points = load_incidents(session, replace(selection, start=None,
                                             end=before - timedelta(microseconds=1)),
                            grid.lonlat_bounds(), srid)
    keep = points["time"] < before.timestamp()
    x, y, t = points["x"][keep], points["y"][keep], points["time"][keep]
    incidents = model.Incidents(grid.locate(x, y), t, x, y)
    spacing = grid.size * np.sqrt(3)  # between adjacent centres
    locations = model.Locations(grid.cx, grid.cy, spacing * CELL_BANDWIDTH_SPACINGS)
    return Units("cell", locations, incidents, grid=grid)


def _sections(session, area: StudyArea, selection: Selection, before: datetime,
              srid: int, corridor_m: float | None) -> Units:
    (region,) = area.regions
    if queries.region_id_for_code(session, region) is None:
        raise ParameterError("region", f"unknown region code {region!r}")
    units = regions_sections(session, [region], selection, before, srid, corridor_m)
    if region not in units:
        raise ParameterError("unit", f"region {region} has no border sections; "
                             "use unit=cell")
    return units[region]


def regions_sections(session, region_codes, selection: Selection, before: datetime,
                     srid: int, corridor_m: float | None = None,
                     since: datetime | None = None) -> dict[str, Units]:
    """The section units of each of these regions that has sections, by region code,
    from one read of the incidents before ``before`` (what an assessment of every
    section needs: one scan instead of one per region), from ``since`` on when given
    (``model.read_start``: what the model uses)."""
    if corridor_m is None:
        corridor_m = load_risk_config().corridor_m
    sections = queries.region_sections(session, region_codes, srid)
    read = queries.section_incidents(session, [s.id for s in sections], corridor_m, before,
                                     selection.viewer_agency, since)
    x, y = transform_xy(read["lon"], read["lat"], STORAGE_SRID, srid)
    x, y = np.asarray(x), np.asarray(y)
    # every incident's section as its position in ``sections`` (ordered by id)
    position = np.searchsorted(np.array([s.id for s in sections], dtype=np.int64),
                               read["section_id"])
    codes = np.array([s.region_code for s in sections], dtype=object)
    units = {}
    for code in sorted(set(codes.tolist())):
        own = np.flatnonzero(codes == code)
        local = np.full(len(sections), -1, dtype=np.int64)
        local[own] = np.arange(len(own))
        location = local[position]
        keep = location >= 0
        incidents = model.Incidents(location[keep], read["time"][keep], x[keep], y[keep])
        cx = np.array([sections[k].cx for k in own], dtype=float)
        cy = np.array([sections[k].cy for k in own], dtype=float)
        units[code] = Units("section", model.Locations(cx, cy, _section_bandwidth(cx, cy)),
                            incidents, sections=[sections[k] for k in own],
                            corridor_m=corridor_m,
                            first_time=-np.inf if read["older"] else None)
    return units


def _section_bandwidth(cx: np.ndarray, cy: np.ndarray) -> float:
    """The median distance (metres) from a section's midpoint to the nearest other's, at
    least :data:`MIN_SECTION_BANDWIDTH_M`."""
    if len(cx) < 2:
        return MIN_SECTION_BANDWIDTH_M
    d = np.hypot(cx[:, None] - cx[None, :], cy[:, None] - cy[None, :])
    np.fill_diagonal(d, np.inf)
    return max(float(np.median(d.min(axis=1))), MIN_SECTION_BANDWIDTH_M)


def load_units(session, unit: str, area: StudyArea, selection: Selection, before: datetime,
               cell_size_m: float, srid: int, max_cells: int = 200_000,
               corridor_m: float | None = None) -> Units:
    """The locations of ``unit`` over ``area`` (a region) and the incidents of
    ``selection`` strictly before ``before`` (aware datetime) on them.

    Parameters
    ----------
    unit : {"cell", "section"}
    area : StudyArea
        A region (by code); sections need one.
    selection : Selection
        Whose view counts (``viewer_agency``) and the region scope; its window is
        replaced by everything before ``before``.
    cell_size_m : float
        Hexagon edge in metres of ``srid`` (cells only).
    srid : int
        EPSG code of the metric analysis CRS.
    max_cells : int
        Most cells a grid may have.
    corridor_m : float, optional
        Metres from its nearest section within which an incident counts for it
        (sections only); default the ``corridor_m`` of ``geo/risk/risk.yaml``.
    """
    if unit not in UNITS:
        raise ParameterError("unit", f"unknown unit {unit!r}; units: {', '.join(UNITS)}")
    if unit == "cell":
        return _cells(session, area, selection, before, cell_size_m, srid, max_cells)
    return _sections(session, area, selection, before, srid, corridor_m)
