"""Point-pattern measures and quartic kernel density of incidents.

Coordinates are in metres of a projected CRS (e.g. the analysis CRS EPSG:32638).
Densities are returned in **incidents per square kilometre**.

Kernel (ArcGIS Kernel Density, after Silverman 1986, eq. 4.5): each incident spreads
one unit over a disc of radius r (the bandwidth, "search radius"),
``K(d) = 3 / (pi r^2) * (1 - (d / r)^2)^2`` for ``d < r`` and 0 beyond, which
integrates to 1 over the plane; the density at a location is the sum over incidents.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

SQUARE_METRES_PER_SQUARE_KM = 1_000_000.0

# Query points handled per block, to bound the memory of the neighbour pairs.
_BLOCK = 65_536


def _points(x, y) -> np.ndarray:
    xy = np.column_stack([np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()])
    if not np.isfinite(xy).all():
        raise ValueError("coordinates must be finite numbers (metres in a projected CRS)")
    return xy


def standard_distance(x, y) -> float:
    """Standard distance in metres: ``sqrt(sum((x - xbar)^2)/n + sum((y - ybar)^2)/n)``.

    The unweighted form of ArcGIS's Standard Distance tool.
    """
    xy = _points(x, y)
    if len(xy) == 0:
        raise ValueError("no points")
    return float(np.sqrt(((xy - xy.mean(axis=0)) ** 2).sum(axis=1).mean()))


def median_distance_to_mean_centre(x, y) -> float:
    """Median Euclidean distance in metres from the points to their mean centre."""
    xy = _points(x, y)
    if len(xy) == 0:
        raise ValueError("no points")
    return float(np.median(np.hypot(*(xy - xy.mean(axis=0)).T)))


def silverman_bandwidth(x, y) -> float:
    """ArcGIS's default kernel search radius (a spatial Silverman rule), in metres.

    ``SearchRadius = 0.9 * min(SD, sqrt(1 / ln 2) * Dm) * n^-0.2`` with SD the standard
    distance (:func:`standard_distance`), Dm the median distance to the mean centre
    (:func:`median_distance_to_mean_centre`) and n the number of incidents (ArcGIS Pro,
    "How Kernel Density works", unweighted points).
    """
    xy = _points(x, y)
    if len(xy) < 2:
        raise ValueError("the Silverman bandwidth needs at least 2 incidents")
    sd = standard_distance(xy[:, 0], xy[:, 1])
    dm = median_distance_to_mean_centre(xy[:, 0], xy[:, 1])
    radius = 0.9 * min(sd, np.sqrt(1.0 / np.log(2.0)) * dm) * len(xy) ** -0.2
    if not radius > 0:
        raise ValueError("the incidents are all at one location: give a bandwidth in metres")
    return float(radius)


def quartic_kernel(distance_m, bandwidth_m: float) -> np.ndarray:
    """Quartic kernel value per square metre at ``distance_m`` (0 at and beyond r)."""
    u2 = (np.asarray(distance_m, dtype=float) / bandwidth_m) ** 2
    return np.where(u2 < 1.0, 3.0 / (np.pi * bandwidth_m**2) * (1.0 - u2) ** 2, 0.0)


def kernel_density_at(x, y, px, py, bandwidth_m: float | None = None) -> np.ndarray:
    """Quartic kernel density of the incidents (x, y) at the locations (px, py).

    Parameters
    ----------
    x, y : array_like
        Incident coordinates in metres (projected CRS, e.g. EPSG:32638).
    px, py : array_like
        Where to evaluate, same CRS, e.g. hexagon centres from
        :func:`geo.hotspots.hexgrid.hex_centres`.
    bandwidth_m : float, optional
        Search radius in metres; :func:`silverman_bandwidth` when omitted.

    Returns
    -------
    numpy.ndarray
        Incidents per square kilometre at each location.
    """
    incidents = _points(x, y)
    where = _points(px, py)
    if bandwidth_m is None:
        bandwidth_m = silverman_bandwidth(incidents[:, 0], incidents[:, 1])
    if not bandwidth_m > 0:
        raise ValueError(f"bandwidth_m must be a positive distance in metres, got {bandwidth_m}")
    density = np.zeros(len(where))
    if len(incidents) == 0:
        return density
    incident_tree = cKDTree(incidents)
    for start in range(0, len(where), _BLOCK):
        block = where[start:start + _BLOCK]
        # ndarray output keeps zero distances (a location exactly on an incident).
        pairs = cKDTree(block).sparse_distance_matrix(
            incident_tree, bandwidth_m, output_type="ndarray"
        )
        contribution = quartic_kernel(pairs["v"], bandwidth_m)
        density[start:start + len(block)] = np.bincount(
            pairs["i"], weights=contribution, minlength=len(block)
        )
    return density * SQUARE_METRES_PER_SQUARE_KM


def raster_cell_centres(x0: float, y0: float, cell_size_m: float, nx: int,
                        ny: int) -> tuple[np.ndarray, np.ndarray]:
    """Centres of a north-up raster whose lower-left corner is (x0, y0), metres.

    Returns two (ny, nx) arrays; row 0 is the northernmost row (image order), so the
    centre of ``[row, col]`` is ``(x0 + (col + 0.5) * cell, y0 + (ny - row - 0.5) * cell)``.
    """
    if not cell_size_m > 0 or nx < 1 or ny < 1:
        raise ValueError("the raster needs a positive cell size in metres and nx, ny >= 1")
    cols = x0 + (np.arange(nx) + 0.5) * cell_size_m
    rows = y0 + (ny - np.arange(ny) - 0.5) * cell_size_m
    return np.meshgrid(cols, rows)


def kernel_density_raster(x, y, x0: float, y0: float, cell_size_m: float, nx: int, ny: int,
                          bandwidth_m: float | None = None) -> np.ndarray:
    """Quartic kernel density on a regular raster, evaluated at cell centres.

    Parameters
    ----------
    x, y : array_like
        Incident coordinates in metres (projected CRS).
    x0, y0 : float
        Lower-left corner of the raster in metres, same CRS.
    cell_size_m : float
        Square cell side in metres.
    nx, ny : int
        Columns and rows.
    bandwidth_m : float, optional
        Search radius in metres; :func:`silverman_bandwidth` when omitted.

    Returns
    -------
    numpy.ndarray
        (ny, nx) incidents per square kilometre, north-up (row 0 is the top row, see
        :func:`raster_cell_centres`).
    """
    cx, cy = raster_cell_centres(x0, y0, cell_size_m, nx, ny)
    return kernel_density_at(x, y, cx, cy, bandwidth_m).reshape(ny, nx)
