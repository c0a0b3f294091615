"""Gi*, Moran's I and their significance, against esda/libpysal and hand-worked values."""

import geopandas as gpd
import numpy as np
import pytest
from esda import G_Local, Moran, Moran_Local
from libpysal import examples
from libpysal.weights import DistanceBand, Queen, W, fill_diagonal

from geo.hotspots.spatial_stats import (
    benjamini_hochberg,
    default_isa_distances,
    distance_band_weights,
    first_peak,
    gi_bins,
    gi_star,
    global_morans_i,
    incremental_spatial_autocorrelation,
    kth_neighbour_distances,
    local_morans_i,
    min_neighbours_band,
    p_values,
    row_standardise,
)


@pytest.fixture(scope="module")
def columbus():
    frame = gpd.read_file(examples.get_path("columbus.shp"))
    return frame


@pytest.fixture(scope="module")
def columbus_queen(columbus):
    w = Queen.from_dataframe(columbus, use_index=False)
    w.transform = "r"
    return w


def centroid_xy(frame):
    return frame.geometry.centroid.x.to_numpy(), frame.geometry.centroid.y.to_numpy()


def pysal_distance_band(cx, cy, threshold):
    return DistanceBand(np.column_stack([cx, cy]), threshold, binary=True,
                        silence_warnings=True)


def test_global_morans_i_matches_the_columbus_reference(columbus, columbus_queen):
    result = global_morans_i(columbus["CRIME"].to_numpy(), columbus_queen.sparse)
    assert result.i == pytest.approx(0.500188557, abs=1e-9)
    assert result.expected == pytest.approx(-1 / 48, abs=1e-15)
    assert result.variance == pytest.approx(0.008689289, abs=1e-9)
    assert result.z == pytest.approx(5.5894, abs=1e-4)
    reference = Moran(columbus["CRIME"].to_numpy(), columbus_queen, permutations=0)
    assert result.variance == pytest.approx(reference.VI_rand, rel=1e-12)
    assert result.z == pytest.approx(reference.z_rand, rel=1e-12)
    assert result.p == pytest.approx(reference.p_rand, rel=1e-9)


def test_distance_band_weights_equal_libpysal_distance_band(columbus):
    cx, cy = centroid_xy(columbus)
    for threshold in (0.6, 1.0, 2.5):
        ours = distance_band_weights(cx, cy, threshold, include_self=False)
        theirs = pysal_distance_band(cx, cy, threshold).sparse
        assert (ours != theirs).nnz == 0
        with_self = distance_band_weights(cx, cy, threshold)
        assert np.array_equal(with_self.diagonal(), np.ones(len(cx)))
        assert with_self.nnz == ours.nnz + len(cx)
        assert set(np.unique(with_self.data)) == {1.0}


def test_gi_star_equals_esda_on_columbus_with_a_distance_band(columbus):
    crime = columbus["CRIME"].to_numpy()
    cx, cy = centroid_xy(columbus)
    for threshold in (0.8, 1.2, 2.0):
        ours = gi_star(crime, distance_band_weights(cx, cy, threshold))
        reference = G_Local(crime, pysal_distance_band(cx, cy, threshold), transform="B",
                            star=True, permutations=0)
        np.testing.assert_allclose(ours, reference.Zs, rtol=0, atol=1e-9)


def test_gi_star_equals_esda_on_columbus_with_queen_and_self(columbus):
    crime = columbus["CRIME"].to_numpy()
    queen = Queen.from_dataframe(columbus, use_index=False)
    binary_with_self = fill_diagonal(queen, 1).sparse
    reference = G_Local(crime, queen, transform="B", star=True, permutations=0)
    np.testing.assert_allclose(gi_star(crime, binary_with_self), reference.Zs, rtol=0,
                               atol=1e-9)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_gi_star_equals_esda_on_random_grids(seed):
    rng = np.random.default_rng(seed)
    side = 25
    gx, gy = np.meshgrid(np.arange(side) * 500.0, np.arange(side) * 500.0)
    cx = gx.ravel() + rng.normal(0, 50, side * side)
    cy = gy.ravel() + rng.normal(0, 50, side * side)
    counts = rng.poisson(rng.gamma(1.0, 2.0, side * side)).astype(float)
    threshold = 1200.0
    ours = gi_star(counts, distance_band_weights(cx, cy, threshold))
    reference = G_Local(counts, pysal_distance_band(cx, cy, threshold), transform="B",
                        star=True, permutations=0)
    np.testing.assert_allclose(ours, reference.Zs, rtol=0, atol=1e-9)


def test_gi_star_follows_the_formula_by_hand():
    # Five cells on a line, 1 km apart; a 1 km band: neighbours are the adjacent cells.
    x = np.array([3.0, 1.0, 4.0, 1.0, 5.0])
    cx = np.arange(5) * 1000.0
    w = distance_band_weights(cx, np.zeros(5), 1000.0)
    n, mean = 5, x.mean()
    s = np.sqrt((x**2).mean() - mean**2)
    # Cell 0: neighbours {0, 1}: sum w x = 4, sum w = 2, sum w^2 = 2.
    expected_0 = (4 - mean * 2) / (s * np.sqrt((n * 2 - 2**2) / (n - 1)))
    # Cell 2: neighbours {1, 2, 3}: sum w x = 6, sum w = 3.
    expected_2 = (6 - mean * 3) / (s * np.sqrt((n * 3 - 3**2) / (n - 1)))
    z = gi_star(x, w)
    assert z[0] == pytest.approx(expected_0, rel=1e-12)
    assert z[2] == pytest.approx(expected_2, rel=1e-12)


def test_gi_star_refuses_constant_values():
    w = distance_band_weights(np.arange(4.0), np.zeros(4), 1.5)
    with pytest.raises(ValueError, match="vary"):
        gi_star(np.ones(4), w)


def test_p_values_are_two_sided_normal():
    np.testing.assert_allclose(p_values([1.959963984540054, -2.5758293035489004, 0.0]),
                               [0.05, 0.01, 1.0], rtol=1e-12)


# A hand-worked Benjamini-Hochberg example (n = 10). Sorted p against k/n*alpha:
#   alpha 0.01: 0.0009 <= 0.001 passes, 0.008 > 0.002 ...           -> k = 1
#   alpha 0.05: 0.0009 <= 0.005 and 0.008 <= 0.010 pass; 0.039 > 0.015, 0.041 > 0.020,
#               0.042 > 0.025, 0.059 > 0.030, ... none after       -> k = 2
#   alpha 0.10: ranks 1, 2 pass; 0.039 > 0.03 and 0.041 > 0.04 fail, 0.042 <= 0.05
#               and 0.059 <= 0.06 pass; 0.074 > 0.07, 0.205 > 0.08 ... -> k = 6
# (step-up: ranks 3 and 4 are significant at 0.10 though they fail on their own).
HAND_P = np.array([0.205, 0.039, 0.0009, 0.074, 0.212, 0.041, 0.008, 0.216, 0.042, 0.059])
HAND_Z = np.array([1.0, -2.0, 3.5, 1.8, -1.2, 2.0, -2.6, 1.2, 2.0, -1.9])


def test_benjamini_hochberg_by_hand():
    assert np.flatnonzero(benjamini_hochberg(HAND_P, 0.01)).tolist() == [2]
    assert np.flatnonzero(benjamini_hochberg(HAND_P, 0.05)).tolist() == [2, 6]
    assert np.flatnonzero(benjamini_hochberg(HAND_P, 0.10)).tolist() == [1, 2, 5, 6, 8, 9]


def test_benjamini_hochberg_equals_the_sorted_step_up_rule():
    rng = np.random.default_rng(8)
    p = rng.uniform(size=5000) ** 4
    p[::11] = np.nan  # counts in n, never significant
    p[100:140] = p[99]  # ties
    for alpha in (0.001, 0.01, 0.05, 0.10, 0.5):
        order = np.argsort(np.where(np.isnan(p), np.inf, p), kind="stable")
        passes = p[order] <= np.arange(1, p.size + 1) / p.size * alpha
        expected = np.zeros(p.size, dtype=bool)
        if passes.any():
            expected[order[:np.flatnonzero(passes)[-1] + 1]] = True
        np.testing.assert_array_equal(benjamini_hochberg(p, alpha), expected)


def test_gi_bins_with_fdr_by_hand():
    bins = gi_bins(HAND_Z, HAND_P, fdr=True)
    assert bins.tolist() == [0, -1, 3, 0, 0, 1, -2, 0, 1, -1]


def test_gi_bins_without_fdr_use_p_alone():
    bins = gi_bins(HAND_Z, HAND_P, fdr=False)
    assert bins.tolist() == [0, -2, 3, 1, 0, 2, -3, 0, 2, -1]


def test_gi_bins_leave_z_and_p_unchanged():
    z, p = HAND_Z.copy(), HAND_P.copy()
    gi_bins(z, p)
    assert np.array_equal(z, HAND_Z) and np.array_equal(p, HAND_P)


def test_kth_neighbour_distances_and_the_min_neighbours_band():
    x = np.array([0.0, 100.0, 300.0, 600.0, 1000.0])
    np.testing.assert_allclose(kth_neighbour_distances(x, np.zeros(5), 1),
                               [100, 100, 200, 300, 400])
    np.testing.assert_allclose(kth_neighbour_distances(x, np.zeros(5), 2),
                               [300, 200, 300, 400, 700])
    # the median point has 2 neighbours within the median 2nd-neighbour distance,
    # 300 m, and every point one within 400 m (the largest nearest distance): 400 m
    assert min_neighbours_band(x, np.zeros(5), 2) == 400.0
    # k is capped at n - 1: with 5 points, "8 neighbours" is all 4 others; the 4th
    # neighbour distances are 1000, 900, 700, 600, 1000: median 900
    assert min_neighbours_band(x, np.zeros(5)) == 900.0


def test_first_peak_rule():
    assert first_peak([1.0, 2.0, 3.0, 2.5, 4.0, 1.0]) == 2
    assert first_peak([1.0, 2.0, 3.0, 4.0]) is None  # rising to the end: no peak
    assert first_peak([5.0, 4.0, 3.0]) is None
    assert first_peak([1.0, 3.0, 3.0, 1.0]) is None  # a plateau is not a strict peak
    assert first_peak([1.0, 3.0]) is None
    # not significant: the first peak must reach z 1.96
    assert first_peak([0.5, 1.5, 1.0, 2.5, 2.0]) == 3
    # a late bump on a falling curve (Kakheti, 3 km cells: 18.9 falling to 10.5, a bump
    # to 12.3) is not a scale of clustering: the shortest bands cluster more
    assert first_peak([18.9, 16.2, 13.0, 10.5, 12.3, 11.0]) is None
    assert first_peak([18.9, 16.2, 13.0, 10.5, 19.5, 11.0]) == 4


def test_incremental_spatial_autocorrelation_matches_esda_per_distance():
    rng = np.random.default_rng(4)
    side = 20
    gx, gy = np.meshgrid(np.arange(side) * 100.0, np.arange(side) * 100.0)
    cx, cy = gx.ravel(), gy.ravel()
    # Blobs about 300 m across: autocorrelation that first grows, then fades.
    centres = rng.uniform(0, 1900, (6, 2))
    values = sum(np.exp(-((cx - a) ** 2 + (cy - b) ** 2) / (2 * 150.0**2)) for a, b in centres)
    values = values * 10 + rng.normal(0, 0.3, side * side)
    distances = np.array([100.0, 150, 250, 400, 600, 900])
    result = incremental_spatial_autocorrelation(cx, cy, values, distances)
    for distance, z in zip(distances, result.z, strict=True):
        w = pysal_distance_band(cx, cy, distance)
        w.transform = "r"
        assert z == pytest.approx(Moran(values, w, permutations=0).z_rand, rel=1e-10)
    assert result.peak_index == first_peak(result.z)
    if result.peak_index is not None:
        assert result.peak_distance == distances[result.peak_index]


def test_default_isa_distances_start_where_everyone_has_a_neighbour():
    cx = np.array([0.0, 100.0, 250.0, 1000.0])
    distances = default_isa_distances(cx, np.zeros(4), n_bands=3)
    # nearest-neighbour distances 100, 100, 150, 750: start 750, step 275.
    np.testing.assert_allclose(distances, [750.0, 1025.0, 1300.0])


def test_local_morans_i_equals_esda_on_columbus(columbus, columbus_queen):
    crime = columbus["CRIME"].to_numpy()
    reference = Moran_Local(crime, columbus_queen, permutations=0)
    ours = local_morans_i(crime, columbus_queen.sparse)
    np.testing.assert_allclose(ours.i, reference.Is, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.expected, reference.EI, rtol=1e-12)
    np.testing.assert_allclose(ours.variance, reference.VI, rtol=1e-12)
    assert np.array_equal(ours.quadrant, reference.q)


def test_local_morans_i_labels_follow_quadrant_and_fdr(columbus, columbus_queen):
    crime = columbus["CRIME"].to_numpy()
    ours = local_morans_i(crime, columbus_queen.sparse, alpha=0.05, fdr=True)
    expected_significant = benjamini_hochberg(ours.p, 0.05)
    assert np.array_equal(ours.significant, expected_significant)
    names = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}
    for label, quadrant, is_significant in zip(ours.label, ours.quadrant, ours.significant,
                                               strict=True):
        assert label == (names[quadrant] if is_significant else "not significant")
    # Columbus crime clusters: high-crime core and low-crime periphery are both found.
    assert {"HH", "LL"} <= set(ours.label)
    unadjusted = local_morans_i(crime, columbus_queen.sparse, alpha=0.05, fdr=False)
    assert unadjusted.significant.sum() >= ours.significant.sum()
    assert np.array_equal(unadjusted.significant, ours.p <= 0.05)


def test_row_standardise_rows_sum_to_one_and_keep_empty_rows():
    w = distance_band_weights(np.array([0.0, 1.0, 2.0, 10.0]), np.zeros(4), 1.0,
                              include_self=False)
    rows = np.asarray(row_standardise(w).sum(axis=1)).ravel()
    np.testing.assert_allclose(rows, [1, 1, 1, 0])
    queen_like = W({0: [1], 1: [0, 2], 2: [1]})
    queen_like.transform = "r"
    np.testing.assert_allclose(row_standardise(W({0: [1], 1: [0, 2], 2: [1]}).sparse).toarray(),
                               queen_like.sparse.toarray())
