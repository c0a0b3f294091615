"""Hexagon cells identical to PostGIS ``ST_HexagonGrid(size, bounds)``, by arithmetic.

``size`` is the hexagon edge length in metres of a projected CRS (e.g. EPSG:32638).
PostGIS (``postgis/lwgeom_generate_grid.c``) lays flat-topped hexagons on the origin
(0, 0): with ``H = 0.8660254037844387`` and ``height = size * 2 * H``, cell ``(i, j)``
has its centre at ``x = size * 1.5 * i``, ``y = height * (j + 0.5 * (|i| % 2))`` (odd
columns shifted up half a row) and its ring is the 7 points

    x = size * (1.5 * i + hx),  y = height * (j + 0.5 * (|i| % 2) + hy)
    hx = -1, -0.5, 0.5, 1, 0.5, -0.5, -1;  hy = 0, -0.5, -0.5, 0, 0.5, 0.5, 0

(counter-clockwise, starting at the left vertex). :func:`hex_polygons` evaluates those
expressions in the same floating-point order, so the coordinates are bit-identical.

Points on a boundary. A point on an edge shared by two cells, or on a vertex shared by
three, intersects all of them in PostGIS (``ST_Intersects`` is true for each, ``ST_Contains``
for none). :func:`hex_index` then returns the cell with the larger ``i`` (the right-hand
column) and, within a column, the larger ``j`` (the upper cell): each cell owns its
bottom, lower-left and upper-left edges and its left and lower-left vertices, the
half-open rule that ``floor`` gives square grids. Boundary tests are exact against the
PostGIS vertex coordinates (an adaptive-precision orientation test).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import shapely

from geo.density import standard_distance
from geo.hotspots import kth_neighbour_distances

H = 0.8660254037844387  # cos(pi / 6), the constant PostGIS uses
_HEX_X = np.array([-1.0, -0.5, 0.5, 1.0, 0.5, -0.5, -1.0])
_HEX_Y = np.array([0.0, -0.5, -0.5, 0.0, 0.5, 0.5, 0.0])

# Shewchuk's error bound for orient2d evaluated in doubles: a determinant larger than
# this (times the magnitude of its terms) has a certain sign.
_EPS = 2.0**-53
_ORIENT_ERRBOUND = (3.0 + 16.0 * _EPS) * _EPS
# Points this close (relative to their coordinates) to a boundary get the exact test.
_NEAR_BOUNDARY = 1e-10


def _check_size(size: float) -> float:
    size = float(size)
    if not (np.isfinite(size) and size > 0):
        raise ValueError(f"size must be a positive hexagon edge length in metres, got {size}")
    return size


def hex_cell_area(size: float) -> float:
    """Area of one hexagon in square metres: ``3 * H * size^2`` (= 3 sqrt(3) / 2 size^2)."""
    size = _check_size(size)
    return 3.0 * H * size * size


def hex_centres(i, j, size: float) -> tuple[np.ndarray, np.ndarray]:
    """Centres (cx, cy) in metres of cells (i, j) of ``ST_HexagonGrid(size, ...)``."""
    size = _check_size(size)
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    height = size * 2 * H
    return 0.0 + size * (1.5 * i), 0.0 + height * (j + 0.5 * (np.abs(i) % 2))


def hex_vertices(i, j, size: float) -> tuple[np.ndarray, np.ndarray]:
    """Ring coordinates of cells (i, j): two arrays of shape ``(*i.shape, 7)``, metres.

    Bit-identical to the rings of ``ST_HexagonGrid`` (see the module docstring).
    """
    size = _check_size(size)
    i = np.asarray(i, dtype=np.int64)[..., None]
    j = np.asarray(j, dtype=np.int64)[..., None]
    height = size * 2 * H
    x = 0.0 + size * (1.5 * i + _HEX_X)
    y = 0.0 + height * (j + 0.5 * (np.abs(i) % 2) + _HEX_Y)
    return x, y


def hex_polygons(i, j, size: float) -> np.ndarray:
    """Shapely polygons of cells (i, j), vertex for vertex those of ``ST_HexagonGrid``.

    Parameters
    ----------
    i, j : array_like of int
        Column and row indices (the ``i``, ``j`` columns of ``ST_HexagonGrid``).
    size : float
        Edge length in metres (projected CRS, e.g. EPSG:32638).

    Returns
    -------
    numpy.ndarray of shapely.Polygon
        One polygon per cell (the CRS is the caller's; shapely keeps no SRID).
    """
    x, y = hex_vertices(np.ravel(i), np.ravel(j), size)
    return shapely.polygons(np.stack([x, y], axis=-1))


def _nearest_candidates(x, y, size):
    """Centres of the 6 cells that can contain each point: 2 columns x 3 rows."""
    col_width = 1.5 * size
    row_height = size * 2 * H
    left = np.floor(x / col_width).astype(np.int64)
    cand_i = np.stack([left, left, left, left + 1, left + 1, left + 1], axis=1)
    shift = 0.5 * (np.abs(cand_i) % 2)
    nearest_row = np.rint(y[:, None] / row_height - shift).astype(np.int64)
    cand_j = nearest_row + np.array([0, -1, 1, 0, -1, 1])
    cx, cy = hex_centres(cand_i, cand_j, size)
    return cand_i, cand_j, np.hypot(x[:, None] - cx, y[:, None] - cy)


def _orientation_signs(ax, ay, bx, by, px, py) -> np.ndarray:
    """Exact sign of orient2d(a, b, p): +1 when p is left of a->b, 0 on the line."""
    left = (ax - px) * (by - py)
    right = (ay - py) * (bx - px)
    det = left - right
    sign = np.sign(det)
    uncertain = np.abs(det) <= _ORIENT_ERRBOUND * (np.abs(left) + np.abs(right))
    for index in zip(*np.nonzero(uncertain), strict=True):
        f = [Fraction(float(v[index])) for v in (ax, ay, bx, by, px, py)]
        exact = (f[0] - f[4]) * (f[3] - f[5]) - (f[1] - f[5]) * (f[2] - f[4])
        sign[index] = (exact > 0) - (exact < 0)
    return sign


def _resolve_near_boundary(x, y, cand_i, cand_j, size):
    """For points near a boundary: the containing candidate with the largest (i, j)."""
    vx, vy = hex_vertices(cand_i, cand_j, size)  # (m, 6, 7)
    px = np.broadcast_to(x[:, None, None], vx[..., :-1].shape)
    py = np.broadcast_to(y[:, None, None], vy[..., :-1].shape)
    signs = _orientation_signs(vx[..., :-1], vy[..., :-1], vx[..., 1:], vy[..., 1:], px, py)
    inside = (signs >= 0).all(axis=2)  # closed hexagon, counter-clockwise ring
    # Rank the candidates by (i, j) (offsets are 0..1 in i, 0..3 in j); a point is
    # always inside at least one.
    offset_i = cand_i - cand_i.min(axis=1, keepdims=True)
    offset_j = cand_j - cand_j.min(axis=1, keepdims=True)
    rank = np.where(inside, offset_i * 4 + offset_j, -1)
    pick = np.argmax(rank, axis=1)
    rows = np.arange(len(x))
    return cand_i[rows, pick], cand_j[rows, pick]


def hex_index(x, y, size: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``ST_HexagonGrid(size, ...)`` cell (i, j) that contains each point.

    Parameters
    ----------
    x, y : array_like
        Point coordinates in metres of a projected CRS (e.g. EPSG:32638).
    size : float
        Hexagon edge length in metres.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        int64 ``i`` and ``j``, shaped like ``x``. Points on a shared edge or vertex get
        the cell with the larger i, then the larger j (module docstring).
    """
    size = _check_size(size)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    shape = np.broadcast_shapes(x.shape, y.shape)
    x = np.broadcast_to(x, shape).ravel()
    y = np.broadcast_to(y, shape).ravel()
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("coordinates must be finite numbers (metres in a projected CRS)")

    cand_i, cand_j, distance = _nearest_candidates(x, y, size)
    order = np.argsort(distance, axis=1)
    rows = np.arange(len(x))
    best = order[:, 0]
    i, j = cand_i[rows, best], cand_j[rows, best]
    gap = distance[rows, order[:, 1]] - distance[rows, best]
    near = gap <= _NEAR_BOUNDARY * (np.abs(x) + np.abs(y) + size)
    if near.any():
        i[near], j[near] = _resolve_near_boundary(x[near], y[near], cand_i[near],
                                                  cand_j[near], size)
    return i.reshape(shape), j.reshape(shape)


def auto_cell_size(x, y) -> float:
    """A hexagon edge length in metres for aggregating incidents, from their spacing.

    Rule, modelled on ArcGIS Optimized Hot Spot Analysis (which sizes its fishnet /
    hexagon cells from the incidents' average nearest-neighbour distance after removing
    locational outliers):

    1. keep distinct locations (repeat incidents at one place are one location);
    2. drop locational outliers: locations farther than three standard distances
       from the mean centre;
    3. ``d`` = mean distance from each remaining location to its nearest neighbour;
    4. return the edge length of the hexagon with the area of a ``d`` by ``d`` square
       (the square fishnet cell ArcGIS would use): ``sqrt(d^2 / (3 * H))``.

    Parameters
    ----------
    x, y : array_like
        Incident coordinates in metres (projected CRS, e.g. EPSG:32638).

    Returns
    -------
    float
        Hexagon edge length in metres.
    """
    xy = np.unique(np.column_stack([np.ravel(x), np.ravel(y)]).astype(float), axis=0)
    if len(xy) < 3:
        raise ValueError("a cell size needs incidents at 3 or more distinct locations")
    centre = xy.mean(axis=0)
    spread = standard_distance(xy[:, 0], xy[:, 1])
    kept = xy[np.hypot(*(xy - centre).T) <= 3.0 * spread]
    if len(kept) < 3:
        kept = xy
    spacing = float(kth_neighbour_distances(kept[:, 0], kept[:, 1], 1).mean())
    return float(np.sqrt(spacing * spacing / (3.0 * H)))
