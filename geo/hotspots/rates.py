"""Incident rates on hexagon cells: exposure (km of border per cell), rates, and Gi* of
rates on the cells where a rate is defined.

Counts alone make a hot spot wherever there is more border to cross; dividing by the
border length in each cell asks where incidents are frequent *for the border there*.
Lengths are in a projected CRS in metres (e.g. EPSG:32638), the CRS of the grid.
"""

from __future__ import annotations

import numpy as np
import shapely

from geo.hotspots import hexgrid
from geo.hotspots.spatial_stats import distance_band_weights, gi_star

_SIMPLE_TYPES = (shapely.GeometryType.POINT, shapely.GeometryType.LINESTRING,
                 shapely.GeometryType.LINEARRING)


def border_km_per_cell(lines, i, j, size: float) -> np.ndarray:
    """Length in km of the border lines inside each hexagon cell.

    Each piece of line is counted in exactly one cell: a stretch of border running
    along an edge shared by two cells belongs to the cell that owns that edge by the
    rule of :func:`geo.hotspots.hexgrid.hex_index` (the upper cell for a horizontal
    edge), so the lengths of all cells the lines cross add up to the lines' length.
    Border in cells not listed is not counted anywhere.

    Parameters
    ----------
    lines : shapely geometry or array_like of them
        LineStrings / MultiLineStrings in the grid's projected CRS, coordinates in
        metres (e.g. EPSG:32638). Overlapping lines count twice.
    i, j : array_like of int
        The cells (columns and rows of ``ST_HexagonGrid``).
    size : float
        Hexagon edge length in metres.

    Returns
    -------
    numpy.ndarray of float
        Kilometres of line per cell, in the order of ``i``; 0 where none passes.
    """
    i = np.asarray(i, dtype=np.int64).ravel()
    j = np.asarray(j, dtype=np.int64).ravel()
    lines = np.atleast_1d(np.asarray(lines, dtype=object)).ravel()
    polygons = hexgrid.hex_polygons(i, j, size)
    # The tree finds the few cells each line may cross; only those are intersected.
    line_index, cell_index = shapely.STRtree(polygons).query(lines, predicate="intersects")
    pieces = shapely.intersection(lines[line_index], polygons[cell_index])
    start, end, piece = _segments(pieces)
    cell = cell_index[piece]
    middle = (start + end) / 2
    owner_i, owner_j = hexgrid.hex_index(middle[:, 0], middle[:, 1], size)
    owned = (owner_i == i[cell]) & (owner_j == j[cell])
    length_m = np.hypot(*(end - start).T)
    return np.bincount(cell[owned], weights=length_m[owned], minlength=i.size) / 1000.0


def _segments(geometries) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Straight segments of the geometries: start and end points (m, 2) and the index
    of the geometry each comes from (points and empty geometries give none)."""
    parts, owner = np.asarray(geometries, dtype=object), np.arange(len(geometries))
    while True:
        nested = ~np.isin(shapely.get_type_id(parts), _SIMPLE_TYPES)
        if not nested.any():
            break
        inner, inner_owner = shapely.get_parts(parts[nested], return_index=True)
        parts = np.concatenate([parts[~nested], inner])
        owner = np.concatenate([owner[~nested], owner[nested][inner_owner]])
    coordinates, part = shapely.get_coordinates(parts, return_index=True)
    consecutive = part[1:] == part[:-1]
    return (coordinates[:-1][consecutive], coordinates[1:][consecutive],
            owner[part[:-1][consecutive]])


def rates(counts, exposure) -> np.ndarray:
    """Counts per unit of exposure, e.g. incidents per km of border in each cell.

    Parameters
    ----------
    counts : array_like
        One count per cell.
    exposure : array_like
        One non-negative exposure per cell (e.g. km from :func:`border_km_per_cell`).

    Returns
    -------
    numpy.ndarray of float
        ``counts / exposure``; NaN where the exposure is 0 (no rate: such cells take no
        part in a statistic of rates, see :func:`gi_star_of_rates`).
    """
    counts = np.asarray(counts, dtype=float)
    exposure = np.asarray(exposure, dtype=float)
    if counts.shape != exposure.shape:
        raise ValueError(f"counts and exposure must have one value per cell each, got "
                         f"shapes {counts.shape} and {exposure.shape}")
    if not (np.isfinite(exposure).all() and (exposure >= 0).all()):
        raise ValueError("exposure must be finite and not negative")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(exposure > 0, counts / exposure, np.nan)


def gi_star_of_rates(rate, cx, cy, band_m: float) -> np.ndarray:
    """Gi* z of the rates among the cells that have one (finite rate).

    Cells without a rate (NaN, e.g. no border) are left out entirely: they are neither
    scored nor anyone's neighbour, and the mean and spread are those of the rated cells.
    Weights are binary within ``band_m`` including self
    (:func:`geo.hotspots.spatial_stats.distance_band_weights`).

    Parameters
    ----------
    rate : array_like
        One rate per cell, NaN where undefined (as :func:`rates` returns).
    cx, cy : array_like
        Cell centres in metres of a projected CRS (e.g. EPSG:32638).
    band_m : float
        Distance band in metres.

    Returns
    -------
    numpy.ndarray
        z per cell in input order; NaN for cells without a rate.
    """
    rate = np.asarray(rate, dtype=float).ravel()
    cx = np.asarray(cx, dtype=float).ravel()
    cy = np.asarray(cy, dtype=float).ravel()
    if not rate.size == cx.size == cy.size:
        raise ValueError(f"expected one rate per cell centre, got {rate.size} rates for "
                         f"{cx.size} x and {cy.size} y")
    rated = np.isfinite(rate)
    z = np.full(rate.size, np.nan)
    z[rated] = gi_star(rate[rated], distance_band_weights(cx[rated], cy[rated], band_m))
    return z
