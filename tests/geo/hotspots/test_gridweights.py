"""Offset-based neighbourhoods on a hexagon grid equal the generic pair-based statistics."""

import numpy as np
import pytest

from geo.hotspots import hexgrid, spatial_stats
from geo.hotspots.gridweights import HexNeighbourhood


@pytest.fixture(scope="module")
def ragged_grid():
    """Cells of a ragged (not rectangular) area, with negative indices, and counts."""
    rng = np.random.default_rng(7)
    i, j = np.meshgrid(np.arange(-9, 12), np.arange(-6, 10), indexing="ij")
    i, j = i.ravel(), j.ravel()
    keep = (i**2 + 2 * j**2 < 110) | (i > 6)
    i, j = i[keep], j[keep]
    counts = rng.poisson(0.6, len(i)).astype(float)
    counts[(i > 0) & (j > 0)] += rng.poisson(3, ((i > 0) & (j > 0)).sum())
    return i, j, counts


# Bands off the exact centre distances: there the pair-based tree's rounding decides.
@pytest.mark.parametrize("band", [300.0, 519.6, 900.001, 2000.0])
def test_neighbour_sums_and_gi_star_equal_the_pair_based_ones(ragged_grid, band):
    i, j, counts = ragged_grid
    size = 300.0
    cx, cy = hexgrid.hex_centres(i, j, size)
    w = spatial_stats.distance_band_weights(cx, cy, band, include_self=False)
    grid = HexNeighbourhood(i, j, size)
    np.testing.assert_allclose(grid.neighbour_count(band), np.asarray(w.sum(axis=1)).ravel())
    np.testing.assert_allclose(grid.neighbour_sum(counts, band), w @ counts, rtol=1e-12, atol=1e-9)
    expected = spatial_stats.gi_star(counts, spatial_stats.distance_band_weights(cx, cy, band))
    np.testing.assert_allclose(grid.gi_star(counts, band), expected, rtol=1e-12, atol=1e-12)


def test_morans_i_and_incremental_autocorrelation_equal_the_generic_ones(ragged_grid):
    i, j, counts = ragged_grid
    size = 250.0
    cx, cy = hexgrid.hex_centres(i, j, size)
    grid = HexNeighbourhood(i, j, size)
    for band in (433.1, 1000.0, 1800.0):
        w = spatial_stats.row_standardise(spatial_stats.distance_band_weights(cx, cy, band, False))
        generic = spatial_stats.global_morans_i(counts, w)
        ours = grid.morans_i(counts, band)
        assert ours.i == pytest.approx(generic.i, rel=1e-12)
        assert ours.variance == pytest.approx(generic.variance, rel=1e-10)
        assert ours.z == pytest.approx(generic.z, rel=1e-10)
    distances = spatial_stats.default_isa_distances(cx, cy) + 1e-6
    generic = spatial_stats.incremental_spatial_autocorrelation(cx, cy, counts, distances)
    ours = grid.incremental_spatial_autocorrelation(counts, distances)
    np.testing.assert_allclose(ours.distances, generic.distances)
    np.testing.assert_allclose(ours.z, generic.z, rtol=1e-10)
    assert ours.peak_index == generic.peak_index


def test_the_six_touching_cells_for_both_column_parities():
    i, j = np.meshgrid(np.arange(-3, 4), np.arange(-3, 4), indexing="ij")
    grid = HexNeighbourhood(i.ravel(), j.ravel(), 100.0)
    touching = grid.neighbour_count(2 * hexgrid.H * 100.0).reshape(i.shape)
    assert touching[3, 3] == touching[4, 3] == 6  # an even and an odd column
    assert touching[0, 0] in (2, 3)  # corners have fewer


def test_cells_at_exactly_the_band_are_neighbours():
    size = 300.0
    grid = HexNeighbourhood(np.array([0, 2]), np.array([0, 0]), size)
    # (2, 0) lies exactly 3 * size = 900 m east of (0, 0)
    assert grid.neighbour_count(900.0).tolist() == [1.0, 1.0]
    assert grid.neighbour_count(899.99).tolist() == [0.0, 0.0]


def test_space_time_gi_star_with_the_band_operator_equals_the_sparse_weights(ragged_grid):
    from geo.hotspots.emerging import space_time_gi_star

    i, j, counts = ragged_grid
    size, band = 300.0, 900.001
    rng = np.random.default_rng(3)
    cube = rng.poisson(np.tile(counts + 0.2, (6, 1))).astype(float)
    cx, cy = hexgrid.hex_centres(i, j, size)
    sparse_w = spatial_stats.distance_band_weights(cx, cy, band, include_self=True)
    operator = HexNeighbourhood(i, j, size).band(band)
    for window in (0, 1, 2):
        np.testing.assert_allclose(space_time_gi_star(cube, operator, window),
                                   space_time_gi_star(cube, sparse_w, window),
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2, 6, 7, 30])
def test_kth_neighbour_distances_are_the_k_d_trees_to_the_bit(ragged_grid, k):
    i, j, _ = ragged_grid
    size = 333.3
    cx, cy = hexgrid.hex_centres(i, j, size)
    grid = HexNeighbourhood(i, j, size)
    # ragged edges: many cells lack lattice neighbours and go to the tree
    np.testing.assert_array_equal(grid.kth_neighbour_distances(k),
                                  spatial_stats.kth_neighbour_distances(cx, cy, k))


def test_min_neighbours_band_and_isa_distances_are_the_generic_ones(ragged_grid):
    i, j, counts = ragged_grid
    size = 410.0
    cx, cy = hexgrid.hex_centres(i, j, size)
    grid = HexNeighbourhood(i, j, size)
    assert grid.min_neighbours_band() == spatial_stats.min_neighbours_band(cx, cy)
    assert grid.min_neighbours_band(4) == spatial_stats.min_neighbours_band(cx, cy, 4)
    isa = grid.incremental_spatial_autocorrelation(counts)
    np.testing.assert_array_equal(isa.distances, spatial_stats.default_isa_distances(cx, cy))


def test_lag_of_many_rows_equals_lag_of_each(ragged_grid):
    i, j, _ = ragged_grid
    size = 300.0
    rng = np.random.default_rng(3)
    steps = rng.poisson(1.5, (5, len(i))).astype(float)
    grid = HexNeighbourhood(i, j, size)
    weights = grid.band(900.001)
    expected = np.stack([weights.lag(step) for step in steps])
    np.testing.assert_array_equal(weights.lag_rows(steps), expected)
    cx, cy = hexgrid.hex_centres(i, j, size)
    matrix = spatial_stats.distance_band_weights(cx, cy, 900.001, include_self=False)
    assert (grid.neighbour_matrix(900.001) != matrix).nnz == 0


def test_the_reported_band_gives_the_same_neighbours_with_libpysal(ragged_grid):
    """A band on a lattice ring is reported just above it, so that <= on the computed
    centres (libpysal's DistanceBand) finds exactly the neighbours used; other bands
    are reported as given."""
    from libpysal.weights import DistanceBand

    i, j, _ = ragged_grid
    size = 410.0
    cx, cy = hexgrid.hex_centres(i, j, size)
    grid = HexNeighbourhood(i, j, size)
    spacing = np.sqrt(3.0) * size
    for ring in (spacing, 2 * spacing, 3 * size, np.hypot(4.5 * size, 3 * hexgrid.H * size)):
        for asked in (ring, ring * (1 - 1e-7), ring * (1 + 1e-7)):
            band = grid.reported_band(asked)
            assert ring < band <= ring + 0.0015
            ours = grid.neighbour_matrix(band)
            theirs = DistanceBand(np.column_stack([cx, cy]), threshold=band, binary=True,
                                  silence_warnings=True).sparse
            assert (ours != theirs).nnz == 0
    assert grid.reported_band(1000.0) == 1000.0  # no ring within 1e-6: as given


@pytest.mark.parametrize("kind", ["band", "knn"])
def test_gi_star_cells_say_what_each_cell_is_compared_with(ragged_grid, kind):
    """``neighbourhood_count`` / ``neighbourhood_cells`` (the popup's "why is this cell
    hot") are the incidents and cells of the Gi* neighbourhood, self included, as the
    pair-based weights count them."""
    from geo.hotspots import cell_statistics, neighbourhoods
    from geo.hotspots.inputs import Grid

    i, j, counts = ragged_grid
    size, band = 300.0, 900.001
    cx, cy = hexgrid.hex_centres(i, j, size)
    grid = Grid(size, 32638, i, j, cx, cy)
    if kind == "band":
        neighbourhood = cell_statistics.Neighbourhood("band", band_m=band)
        w = spatial_stats.distance_band_weights(cx, cy, band)  # self included
    else:
        neighbourhood = cell_statistics.Neighbourhood("knn", k=6)
        w = neighbourhoods.knn_weights(cx, cy, 6, True)
    values, _ = cell_statistics.gi_star_cells(grid, counts, neighbourhood, fdr=True)
    np.testing.assert_array_equal(values["neighbourhood_count"], w @ counts)
    np.testing.assert_array_equal(values["neighbourhood_cells"],
                                  np.asarray(w.sum(axis=1)).ravel())
    assert values["neighbourhood_cells"].min() >= 2  # the cell and at least one other
