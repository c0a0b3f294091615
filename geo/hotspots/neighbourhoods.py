"""k-nearest-neighbour and inverse-distance weights between cell centres.

Two more of ArcGIS's conceptualisations of spatial relationships beside the fixed
distance band of :func:`geo.hotspots.spatial_stats.distance_band_weights`, in the same
form: ``scipy.sparse.csr_matrix``, one row and column per cell in input order, centres
in metres of a projected CRS (e.g. EPSG:32638). Gi* takes either through the generic
:func:`geo.hotspots.spatial_stats.gi_star`, which is row-wise and handles any weights
with self: each cell's neighbourhood is its own row, so the asymmetry of k nearest
neighbours (j among i's nearest, not i among j's) needs no special treatment.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.spatial import cKDTree

from geo.hotspots.gridweights import TIE_TOLERANCE
from geo.hotspots.spatial_stats import (
    _coordinates,
    distance_band_weights,
    kth_neighbour_distances,
)


def knn_weights(cx, cy, k: int, include_self: bool = True) -> sparse.csr_matrix:
    """Binary k-nearest-neighbour weights: ``w_ij = 1`` for the k cells nearest to i.

    Ties are broken by index: among cells as far from i as its k-th nearest (equal to
    a relative ``TIE_TOLERANCE``, so that rounding cannot decide), the ones with the
    lower indices are neighbours. On a regular grid, where ties are the rule, the
    result is therefore the same on every machine. Without ties the weights equal
    ``libpysal.weights.KNN(xy, k).sparse``.

    Parameters
    ----------
    cx, cy : array_like
        Cell centres in metres of a projected CRS (e.g. EPSG:32638).
    k : int
        Neighbours per cell, ``1 <= k <= n - 1``.
    include_self : bool, default True
        Also set ``w_ii = 1`` (the Gi* convention); the k neighbours are other cells.

    Returns
    -------
    scipy.sparse.csr_matrix
        (n, n) float64 ones, k (plus self) per row, sorted indices; not symmetric.
    """
    xy = _coordinates(cx, cy)
    n = len(xy)
    kth = kth_neighbour_distances(xy[:, 0], xy[:, 1], k)  # checks 1 <= k < n
    reach = kth * (1 + TIE_TOLERANCE)
    candidates = cKDTree(xy).query_ball_point(xy, reach, return_sorted=False)
    counts = np.fromiter(map(len, candidates), dtype=np.int64, count=n)
    rows = np.repeat(np.arange(n), counts)
    cols = np.fromiter((j for found in candidates for j in found), dtype=np.int64,
                       count=int(counts.sum()))
    others = rows != cols
    rows, cols = rows[others], cols[others]
    distance = np.hypot(*(xy[rows] - xy[cols]).T)
    # Strictly nearer than the k-th (fewer than k of them) first, then the tied, by index.
    tied = distance >= kth[rows] * (1 - TIE_TOLERANCE)
    order = np.lexsort((cols, tied, rows))
    rows, cols = rows[order], cols[order]
    rank = np.arange(rows.size) - np.searchsorted(rows, rows)
    keep = rank < k
    w = sparse.csr_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(n, n))
    if include_self:
        w = sparse.csr_matrix(w + sparse.identity(n, format="csr"))
    w.sort_indices()
    return w


def inverse_distance_weights(cx, cy, band_m: float, include_self: bool = True, *,
                             unit_m: float) -> sparse.csr_matrix:
    """Inverse-distance weights within a distance band: ``w_ij = unit_m / d_ij``.

    ArcGIS's inverse distance conceptualisation with a distance band (threshold): cells
    whose centres are within ``band_m`` (``<=``, the band rule of
    :func:`geo.hotspots.spatial_stats.distance_band_weights`) weigh the inverse of their
    distance, farther cells 0.

    Choices: the distance is counted in units of ``unit_m`` metres, so that with
    ``unit_m`` the grid's centre spacing (``sqrt(3) * size`` for hexagons of edge
    ``size``) the nearest cells weigh 1 and the weights read as "1 / distance in cells"
    whatever the cell size (with 1 m, the weights of a 1 km grid would be 0.001 and the
    self weight would dwarf them). The self weight, when included, is 1: the weight of
    the nearest neighbours at that unit. Gi* z scores do not change with ``unit_m``
    without self; with self the unit sets how much a cell's own value counts.

    Parameters
    ----------
    cx, cy : array_like
        Cell centres in metres of a projected CRS (e.g. EPSG:32638).
    band_m : float
        Distance band in metres.
    include_self : bool, default True
        Set ``w_ii = 1`` (the Gi* convention).
    unit_m : float
        Metres per unit of distance (keyword only, no default: it is a choice).

    Returns
    -------
    scipy.sparse.csr_matrix
        (n, n) symmetric, float64, sorted indices.

    Raises
    ------
    ValueError
        When two centres coincide (their inverse distance is infinite).
    """
    if not (np.isfinite(unit_m) and unit_m > 0):
        raise ValueError(f"unit_m must be a positive length in metres, got {unit_m}")
    xy = _coordinates(cx, cy)
    w = sparse.csr_matrix(distance_band_weights(xy[:, 0], xy[:, 1], band_m,
                                                include_self=False))
    rows = np.repeat(np.arange(w.shape[0]), np.diff(w.indptr))
    distance = np.hypot(*(xy[rows] - xy[w.indices]).T)
    if (distance == 0).any():
        raise ValueError("two cell centres coincide: inverse distance is undefined there")
    w.data = unit_m / distance
    if include_self:
        w = sparse.csr_matrix(w + sparse.identity(w.shape[0], format="csr"))
        w.sort_indices()
    return w
