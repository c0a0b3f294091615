"""k-nearest-neighbour and inverse-distance weights, and Gi* with them.

k nearest neighbours are compared with libpysal's KNN and esda's G_Local. esda cannot
check inverse distance: G_Local accepts only the transforms 'B' (which turns every
weight into 1) and 'R', so Gi* with inverse distance is compared with the formula
written out cell by cell.
"""

import numpy as np
import pytest
from esda import G_Local
from libpysal.weights import KNN

from geo.hotspots import hexgrid
from geo.hotspots.neighbourhoods import inverse_distance_weights, knn_weights
from geo.hotspots.spatial_stats import gi_star

# Random points make KNN graphs in pieces; libpysal says so.
DISCONNECTED = "ignore:The weights matrix is not fully connected:UserWarning"
SIZE = 100.0  # hexagon edge in metres


@pytest.fixture(scope="module")
def scattered():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 5000, (300, 2))
    return xy, rng.poisson(3, 300).astype(float)


@pytest.fixture(scope="module")
def hex_lattice():
    i, j = np.meshgrid(np.arange(12), np.arange(12), indexing="ij")
    cx, cy = hexgrid.hex_centres(i.ravel(), j.ravel(), SIZE)
    counts = np.random.default_rng(4).poisson(2, cx.size).astype(float)
    return cx, cy, counts


@pytest.mark.filterwarnings(DISCONNECTED)
@pytest.mark.parametrize("k", [1, 4, 8])
def test_knn_weights_equal_libpysal_knn(scattered, k):
    xy, _ = scattered
    reference = KNN(xy, k=k).sparse
    ours = knn_weights(xy[:, 0], xy[:, 1], k, include_self=False)
    assert (ours != reference).nnz == 0
    assert np.array_equal(np.diff(ours.indptr), np.full(300, k))
    assert (ours != ours.T).nnz > 0  # nearest neighbours are not mutual
    with_self = knn_weights(xy[:, 0], xy[:, 1], k)
    assert np.array_equal(with_self.diagonal(), np.ones(300))
    assert (with_self - ours).nnz == 300


@pytest.mark.filterwarnings(DISCONNECTED)
@pytest.mark.parametrize("k", [1, 4, 8])
def test_gi_star_with_knn_equals_esda(scattered, k):
    # esda's Gi* is row-wise like ours (W @ y and row sums), so the asymmetric
    # weights agree without any symmetrising.
    xy, counts = scattered
    reference = G_Local(counts, KNN(xy, k=k), transform="B", star=True, permutations=0)
    ours = gi_star(counts, knn_weights(xy[:, 0], xy[:, 1], k))
    np.testing.assert_allclose(ours, reference.Zs, rtol=0, atol=1e-12)


def test_knn_ties_go_to_the_lower_index(hex_lattice):
    cx, cy, _ = hex_lattice
    # all 6 edge neighbours of an inner cell are equally near: the 3 lowest indices win
    w = knn_weights(cx, cy, 3, include_self=False)
    for cell in (13, 50, 77):
        ni, nj = hexgrid.hex_neighbours(cell // 12, cell % 12)
        adjacent = np.sort(ni.ravel() * 12 + nj.ravel())
        assert w[cell].indices.tolist() == adjacent[:3].tolist()
    # ...whatever rounding does to the centres' distances
    shifted = knn_weights(cx + 1e-9, cy - 3e-9, 3, include_self=False)
    assert (shifted != w).nnz == 0
    assert np.array_equal(np.diff(w.indptr), np.full(cx.size, 3))


def test_inverse_distance_weights_are_unit_over_distance_within_the_band(hex_lattice):
    cx, cy, _ = hex_lattice
    spacing = np.sqrt(3) * SIZE
    band = 2.2 * spacing
    w = inverse_distance_weights(cx, cy, band, include_self=False, unit_m=spacing)
    distance = np.hypot(cx[:, None] - cx[None, :], cy[:, None] - cy[None, :])
    within = (distance > 0) & (distance <= band)
    expected = np.where(within, spacing / np.where(within, distance, 1), 0)
    np.testing.assert_allclose(w.toarray(), expected, rtol=1e-14, atol=0)
    assert (w != w.T).nnz == 0
    # an inner cell: 6 neighbours at 1 spacing, 6 at sqrt(3), 6 at 2
    row = np.sort(w[5 * 12 + 5].data)
    np.testing.assert_allclose(row, np.repeat([0.5, 1 / np.sqrt(3), 1.0], 6), rtol=1e-12)
    with_self = inverse_distance_weights(cx, cy, band, unit_m=spacing)
    assert np.array_equal(with_self.diagonal(), np.ones(cx.size))
    assert (with_self - w).nnz == cx.size


def gi_star_by_formula(values, w):
    """Gi* of ArcGIS's documentation, one cell at a time, dense weights."""
    n = len(values)
    mean = values.mean()
    spread = np.sqrt((values**2).mean() - mean**2)
    z = np.empty(n)
    for i in range(n):
        weights = w[i]
        numerator = weights @ values - mean * weights.sum()
        denominator = spread * np.sqrt(
            (n * (weights**2).sum() - weights.sum() ** 2) / (n - 1))
        z[i] = numerator / denominator
    return z


def test_gi_star_with_inverse_distance_equals_the_formula(hex_lattice):
    cx, cy, counts = hex_lattice
    spacing = np.sqrt(3) * SIZE
    w = inverse_distance_weights(cx, cy, 3 * spacing, unit_m=spacing)
    ours = gi_star(counts, w)
    np.testing.assert_allclose(ours, gi_star_by_formula(counts, w.toarray()),
                               rtol=1e-12, atol=1e-12)
    # without self the unit cancels out; with self it sets the own value's weight
    without_self = [gi_star(counts, inverse_distance_weights(cx, cy, 3 * spacing, False,
                                                             unit_m=unit))
                    for unit in (1.0, spacing)]
    np.testing.assert_allclose(without_self[0], without_self[1], rtol=1e-12)
    assert not np.allclose(ours, gi_star(counts, inverse_distance_weights(
        cx, cy, 3 * spacing, unit_m=1.0)))


def test_bad_arguments_are_refused(hex_lattice):
    cx, cy, _ = hex_lattice
    with pytest.raises(ValueError, match="k must be between 1 and n - 1"):
        knn_weights(cx, cy, cx.size)
    with pytest.raises(ValueError, match="coincide"):
        inverse_distance_weights(np.r_[cx, cx[0]], np.r_[cy, cy[0]], 500.0, unit_m=1.0)
    with pytest.raises(ValueError, match="unit_m"):
        inverse_distance_weights(cx, cy, 500.0, unit_m=0)
    with pytest.raises(ValueError, match="threshold_m"):
        inverse_distance_weights(cx, cy, -1.0, unit_m=1.0)
