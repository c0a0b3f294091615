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

from geo.hotspots.density import standard_distance
from geo.hotspots.spatial_stats import kth_neighbour_distances

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
    # i & 1 is |i| % 2 for negative i too (two's complement), and cheaper.
    return 0.0 + size * (1.5 * i), 0.0 + height * (j + 0.5 * (i & 1))


def hex_vertices(i, j, size: float) -> tuple[np.ndarray, np.ndarray]:
    """Ring coordinates of cells (i, j): two arrays of shape ``(*i.shape, 7)``, metres.

    Bit-identical to the rings of ``ST_HexagonGrid`` (see the module docstring).
    """
    size = _check_size(size)
    i = np.asarray(i, dtype=np.int64)[..., None]
    j = np.asarray(j, dtype=np.int64)[..., None]
    height = size * 2 * H
    x = 0.0 + size * (1.5 * i + _HEX_X)
    y = 0.0 + height * (j + 0.5 * (i & 1) + _HEX_Y)
    return x, y


# Vertex offsets in half steps: vertex k of cell (i, j) is at (X, Y) / 2 in units of
# (size, height) with X = 3 i + 2 hx_k and Y = 2 j + |i| % 2 + 2 hy_k, whole numbers.
_HEX_X2 = np.array([-2, -1, 1, 2, 1, -1, -2])
_HEX_Y2 = np.array([0, -1, -1, 0, 1, 1, 0])


def hex_shared_vertices(i, j, size: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct ring vertices of cells (i, j), and where each ring's 7 points are.

    Neighbouring cells share vertices (about 2 distinct vertices per cell instead of
    7): transforming only the distinct ones saves work.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        x and y of the distinct vertices in metres, bit-identical to
        :func:`hex_vertices`, and an int array of shape ``(len(i), 7)`` indexing them.
    """
    size = _check_size(size)
    i = np.asarray(i, dtype=np.int64).ravel()
    j = np.asarray(j, dtype=np.int64).ravel()
    half_x = 3 * i[:, None] + _HEX_X2
    half_y = 2 * j[:, None] + (i[:, None] & 1) + _HEX_Y2
    keys = (half_x << 32) + (half_y & 0xFFFFFFFF)
    unique, first, inverse = np.unique(keys.ravel(), return_index=True, return_inverse=True)
    # 1.5 i + hx and j + |i| % 2 / 2 + hy are exactly these halves, so the products
    # are the same doubles as in hex_vertices.
    height = size * 2 * H
    x = 0.0 + size * (half_x.ravel()[first] / 2)
    y = 0.0 + height * (half_y.ravel()[first] / 2)
    return x, y, inverse.reshape(keys.shape)


def hex_neighbours(i, j) -> tuple[np.ndarray, np.ndarray]:
    """The 6 cells sharing an edge with each cell (i, j): arrays of shape ``(n, 6)``."""
    i = np.asarray(i, dtype=np.int64).ravel()[:, None]
    j = np.asarray(j, dtype=np.int64).ravel()[:, None]
    odd = i & 1  # odd columns sit half a row higher
    di = np.array([0, 0, -1, -1, 1, 1])
    dj = np.array([-1, 1, 0, 0, 0, 0])
    side = np.array([0, 0, -1, 0, -1, 0])  # rows j-1, j of an even column's neighbours
    return i + di, j + dj + np.where(di != 0, side + odd, 0)


def cells_near_lines(lines, size: float) -> tuple[np.ndarray, np.ndarray]:
    """Cells (i, j) that may meet the lines: every cell whose closed hexagon touches
    them is among these (a few more are too).

    The lines are sampled every ``size / 2`` metres at most; a cell the lines pass
    through lies within ``size / 4`` of a sample, so the sample's own cell is that
    cell or one of its 6 neighbours (all points within ``2 size`` of a centre are in
    those 7 cells). Returns the cells of the samples and their neighbours, once each.
    """
    size = _check_size(size)
    points = shapely.get_coordinates(shapely.segmentize(lines, size / 2))
    if len(points) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    i, j = hex_index(points[:, 0], points[:, 1], size)
    pairs = np.unique(np.column_stack([i, j]), axis=0)
    ni, nj = hex_neighbours(pairs[:, 0], pairs[:, 1])
    everything = np.unique(np.column_stack([np.concatenate([pairs[:, 0], ni.ravel()]),
                                            np.concatenate([pairs[:, 1], nj.ravel()])]),
                           axis=0)
    return everything[:, 0], everything[:, 1]


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

    i, j, gap = _nearest_centre(x, y, size)
    near = gap <= _NEAR_BOUNDARY * (np.abs(x) + np.abs(y) + size)
    if near.any():
        cand_i, cand_j, _ = _nearest_candidates(x[near], y[near], size)
        i[near], j[near] = _resolve_near_boundary(x[near], y[near], cand_i, cand_j, size)
    return i.reshape(shape), j.reshape(shape)


def _nearest_centre(x, y, size):
    """The cell whose centre is nearest to each point, and the distance (metres) by
    which the second-nearest centre is farther.

    The nearest centre lies in one of the 2 columns around the point; in each column
    the nearest row is the rounded one and the second-nearest the row on the point's
    side of it, so these 4 centres hold the nearest and the second-nearest of all.
    """
    col_width = 1.5 * size
    row_height = size * 2 * H
    left = np.floor(x / col_width).astype(np.int64)
    best_d = second_d = best_i = best_j = None
    for column in (left, left + 1):
        cx = 0.0 + size * (1.5 * column)
        offset = y / row_height - 0.5 * (column & 1)
        nearest_row = np.rint(offset).astype(np.int64)
        other_row = nearest_row + np.where(offset >= nearest_row, 1, -1)
        dx = x - cx
        shift = 0.5 * (column & 1)
        d0 = np.hypot(dx, y - (0.0 + row_height * (nearest_row + shift)))
        d1 = np.hypot(dx, y - (0.0 + row_height * (other_row + shift)))
        if best_d is None:
            best_d, second_d, best_i, best_j = d0, d1, column, nearest_row
            continue
        # merge (best_d, second_d) with (d0, d1); d0 <= d1 and best_d <= second_d
        new_best = d0 < best_d
        second_d = np.where(new_best, np.minimum(best_d, d1), np.minimum(second_d, d0))
        best_d = np.where(new_best, d0, best_d)
        best_i = np.where(new_best, column, best_i)
        best_j = np.where(new_best, nearest_row, best_j)
    return best_i, best_j, second_d - best_d


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
