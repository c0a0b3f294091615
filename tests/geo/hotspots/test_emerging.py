"""Emerging hot spots: space-time Gi*, Mann-Kendall, and every category by construction."""

import numpy as np
import pytest
from esda import G_Local
from libpysal.weights import WSP
from scipy import stats

from geo.hotspots.emerging import (
    CATEGORIES,
    classify_emerging,
    emerging_hot_spots,
    mann_kendall,
    space_time_gi_star,
    space_time_weights,
)
from geo.hotspots.spatial_stats import distance_band_weights, gi_star


def test_mann_kendall_on_known_series():
    rising = mann_kendall([1.0, 2.0, 3.0, 4.0, 5.0])
    assert rising.s == 10
    assert rising.variance == pytest.approx(5 * 4 * 15 / 18)
    assert rising.z == pytest.approx(9 / np.sqrt(5 * 4 * 15 / 18))
    assert rising.p == pytest.approx(0.027486, abs=1e-6)
    assert rising.tau == pytest.approx(1.0)
    # With a tie: S = 5, Var = (4*3*13 - 2*1*9) / 18, z = (5 - 1) / sqrt(Var).
    tied = mann_kendall([1.0, 2.0, 2.0, 3.0])
    assert tied.s == 5
    assert tied.variance == pytest.approx((156 - 18) / 18)
    assert tied.z == pytest.approx(4 / np.sqrt(138 / 18))
    assert tied.tau == pytest.approx(5 / np.sqrt(30))
    falling = mann_kendall([3.0, 1.0, 0.0])
    assert falling.s == -3 and falling.z < 0
    flat = mann_kendall([2.0, 2.0, 2.0, 2.0])
    assert flat.s == 0 and flat.z == 0 and flat.p == 1.0


def test_mann_kendall_agrees_with_scipy_kendalltau_against_time():
    rng = np.random.default_rng(11)
    for n in (8, 12, 25):
        series = rng.integers(0, 5, size=(n, 30)).astype(float)  # many ties
        series[:, 0] += np.arange(n)  # one with a trend
        result = mann_kendall(series)
        for column in range(series.shape[1]):
            reference = stats.kendalltau(np.arange(n), series[:, column], method="asymptotic")
            if np.isnan(reference.statistic):
                continue
            assert result.tau[column] == pytest.approx(reference.statistic, rel=1e-12)
            # scipy's z has no continuity correction: z_scipy = S / sqrt(Var).
            z_scipy = np.sign(result.s[column]) * stats.norm.isf(reference.pvalue / 2)
            assert result.s[column] / np.sqrt(result.variance[column]) == pytest.approx(
                z_scipy, rel=1e-7, abs=1e-9)
        one = mann_kendall(series[:, 3])
        assert one.z == result.z[3] and one.s == result.s[3]


def test_mann_kendall_equals_the_pairwise_definition_with_ties_and_nan():
    rng = np.random.default_rng(4)
    n = 36
    series = rng.integers(0, 4, size=(n, 400)).astype(float)  # many ties
    series[:, :50] = rng.normal(size=(n, 50))
    series[7, 10] = np.nan  # a NaN has no sign: S, z and p are NaN
    series[:, 11] = 2.0  # constant
    result = mann_kendall(series)
    for column in range(series.shape[1]):
        x = series[:, column]
        s = sum(np.sign(x[j] - x[i]) for i in range(n) for j in range(i + 1, n))
        sizes = np.unique(x, return_counts=True)[1] if not np.isnan(x).any() else None
        if sizes is None:
            assert np.isnan(result.s[column]) and np.isnan(result.z[column])
            continue
        variance = (n * (n - 1) * (2 * n + 5) - (sizes * (sizes - 1) * (2 * sizes + 5)).sum()) / 18
        assert result.s[column] == s
        assert result.variance[column] == variance
        z = 0.0 if s == 0 else (s - np.sign(s)) / np.sqrt(variance)
        assert result.z[column] == z


def test_space_time_weights_use_current_and_previous_steps():
    cx = np.array([0.0, 1000.0, 5000.0])
    w = distance_band_weights(cx, np.zeros(3), 1000.0)
    st = space_time_weights(w, n_steps=3, time_window=1).toarray()
    assert st.shape == (9, 9)
    # Bin (t=2, cell 0) = row 6: cells 0, 1 at t = 2 (cols 6, 7) and t = 1 (cols 3, 4).
    assert np.flatnonzero(st[6]).tolist() == [3, 4, 6, 7]
    # Bin (t=0, cell 2) = row 2: only itself.
    assert np.flatnonzero(st[2]).tolist() == [2]
    wider = space_time_weights(w, n_steps=3, time_window=2).toarray()
    assert np.flatnonzero(wider[6]).tolist() == [0, 1, 3, 4, 6, 7]


def test_space_time_gi_star_equals_esda_on_the_space_time_weights():
    rng = np.random.default_rng(2)
    gx, gy = np.meshgrid(np.arange(8) * 1000.0, np.arange(8) * 1000.0)
    w = distance_band_weights(gx.ravel(), gy.ravel(), 1500.0)
    counts = rng.poisson(2.0, size=(6, 64)).astype(float)
    z = space_time_gi_star(counts, w, time_window=1)
    st = space_time_weights(w, 6, 1)
    reference = G_Local(counts.ravel(), WSP(st).to_W(silence_warnings=True), transform="B",
                        star=True, permutations=0)
    np.testing.assert_allclose(z.ravel(), reference.Zs, rtol=0, atol=1e-9)
    np.testing.assert_allclose(z.ravel(), gi_star(counts.ravel(), st))


def test_global_windows_compare_a_bin_with_its_step_or_its_time_neighbourhood():
    rng = np.random.default_rng(3)
    cx, cy = np.meshgrid(np.arange(6) * 1000.0, np.arange(5) * 1000.0)
    w = distance_band_weights(cx.ravel(), cy.ravel(), 1000.0)
    counts = rng.poisson(3.0, size=(4, 30)).astype(float)
    # individual time step: Gi* of each step on its own, spatial neighbours only
    single = space_time_gi_star(counts, w, 1, "individual_time_step")
    for t in range(4):
        np.testing.assert_allclose(single[t], gi_star(counts[t], w))
    # neighborhood time step: step t against the bins of steps t-1..t
    window = space_time_gi_star(counts, w, 1, "neighborhood_time_step")
    for t in range(1, 4):
        pair = counts[t - 1:t + 1]
        z = gi_star(pair.ravel(), space_time_weights(w, 2, 1))
        np.testing.assert_allclose(window[t], z.reshape(2, 30)[1])
    np.testing.assert_allclose(window[0], single[0])
    with pytest.raises(ValueError, match="global_window"):
        space_time_gi_star(counts, w, 1, "whole")


# Ten time steps per column: +1 hot bin, -1 cold bin, 0 not significant; with the
# Mann-Kendall trend of the column's z series given as (z, p).
UP, DOWN, FLAT = (3.0, 0.001), (-3.0, 0.001), (0.2, 0.8)
CASES = {
    "new hot spot": ([0, 0, 0, 0, 0, 0, 0, 0, 0, 1], FLAT),
    "consecutive hot spot": ([0, 0, 0, 0, 0, 0, 0, 1, 1, 1], UP),
    "intensifying hot spot": ([0, 1, 1, 1, 1, 1, 1, 1, 1, 1], UP),
    "persistent hot spot": ([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], FLAT),
    "diminishing hot spot": ([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], DOWN),
    "sporadic hot spot": ([0, 1, 0, 0, 1, 0, 0, 0, 1, 1], FLAT),
    "oscillating hot spot": ([0, -1, 0, 0, 1, 0, 0, 0, 0, 1], FLAT),
    "historical hot spot": ([1, 1, 1, 1, 1, 1, 1, 1, 1, 0], DOWN),
    "new cold spot": ([0, 0, 0, 0, 0, 0, 0, 0, 0, -1], FLAT),
    "consecutive cold spot": ([0, 0, 0, 0, 0, 0, 0, 0, -1, -1], DOWN),
    "intensifying cold spot": ([-1, -1, -1, -1, -1, -1, -1, -1, -1, -1], DOWN),
    "persistent cold spot": ([-1, -1, -1, -1, -1, 0, -1, -1, -1, -1], FLAT),
    "diminishing cold spot": ([0, -1, -1, -1, -1, -1, -1, -1, -1, -1], UP),
    "sporadic cold spot": ([-1, 0, 0, -1, 0, -1, 0, 0, 0, -1], FLAT),
    "oscillating cold spot": ([1, 1, 0, -1, -1, 0, 0, 0, -1, -1], FLAT),
    "historical cold spot": ([-1, -1, -1, -1, -1, -1, -1, -1, -1, 0], UP),
    "no pattern": ([0, 0, 0, 0, 0, 0, 0, 0, 0, 0], FLAT),
}
BORDER_CASES = {
    # An earlier cold spot makes a new hot spot oscillating.
    "oscillating hot spot": ([0, 0, 0, -1, 0, 0, 0, 0, 0, 1], FLAT),
    # A final run of hot bins after earlier hot bins is sporadic, not consecutive.
    "sporadic hot spot": ([1, 0, 0, 0, 0, 0, 0, 1, 1, 1], UP),
    # 90 % hot but the last step not: historical, not persistent.
    "historical hot spot": ([1, 1, 1, 1, 1, 1, 1, 1, 1, 0], FLAT),
    # Hot earlier, not now, under 90 %: nothing (sporadic needs the final step hot).
    "no pattern": ([1, 0, 1, 0, 0, 0, 0, 0, 0, 0], FLAT),
    # 8 of 10 hot including the last: under 90 %, so sporadic whatever the trend.
    "sporadic hot spot ": ([0, 1, 1, 1, 1, 0, 1, 1, 1, 1], UP),
    # 90 % cold, then hot now: the final step decides (oscillating hot, not historical).
    "oscillating hot spot ": ([-1, -1, -1, -1, -1, -1, -1, -1, -1, 1], UP),
    # 90 % hot, then cold now: oscillating cold, not historical hot.
    "oscillating cold spot ": ([1, 1, 1, 1, 1, 1, 1, 1, 1, -1], DOWN),
}


@pytest.mark.parametrize("cases", [CASES, BORDER_CASES], ids=["categories", "borders"])
def test_every_category_from_a_constructed_series(cases):
    spot = np.array([series for series, _ in cases.values()]).T
    trend_z = np.array([trend[0] for _, trend in cases.values()])
    trend_p = np.array([trend[1] for _, trend in cases.values()])
    labels = classify_emerging(spot, trend_z, trend_p, trend_alpha=0.05)
    assert labels.tolist() == [name.strip() for name in cases]


def test_the_category_list_is_complete():
    assert set(CASES) == set(CATEGORIES)
    assert len(CATEGORIES) == 17


def grid_cube(seed):
    """15 x 15 cells 1 km apart, 12 monthly steps of background counts."""
    rng = np.random.default_rng(seed)
    gx, gy = np.meshgrid(np.arange(15) * 1000.0, np.arange(15) * 1000.0)
    cx, cy = gx.ravel(), gy.ravel()
    counts = rng.poisson(1.0, size=(12, cx.size)).astype(float)
    return cx, cy, counts


def block(cx, cy, x, y):
    return (np.abs(cx - x) <= 1000.0) & (np.abs(cy - y) <= 1000.0)


def test_end_to_end_new_and_intensifying_hot_spots():
    cx, cy, counts = grid_cube(21)
    newly = block(cx, cy, 3000.0, 3000.0)
    counts[-1, newly] += 12.0  # appears in the last month only
    growing = block(cx, cy, 11000.0, 11000.0)
    counts[:, growing] += (4.0 + 1.5 * np.arange(12))[:, None]  # there all along, rising
    w = distance_band_weights(cx, cy, 1000.0)
    result = emerging_hot_spots(counts, w, time_window=1)
    assert result.z.shape == result.spot.shape == (12, cx.size)
    centre_new = np.flatnonzero((cx == 3000.0) & (cy == 3000.0))[0]
    centre_growing = np.flatnonzero((cx == 11000.0) & (cy == 11000.0))[0]
    assert result.category[centre_new] == "new hot spot"
    assert result.category[centre_growing] == "intensifying hot spot"
    assert result.count_trend.z[centre_growing] > 0 and result.count_trend.p[centre_growing] < 0.01
    # Far from both clusters nothing is a hot spot.
    far = np.flatnonzero((cx == 14000.0) & (cy == 0.0))[0]
    assert "hot" not in result.category[far]


def test_end_to_end_diminishing_hot_spot():
    cx, cy, counts = grid_cube(5)
    fading = block(cx, cy, 7000.0, 7000.0)
    counts[:, fading] += (22.0 - 1.5 * np.arange(12))[:, None]
    result = emerging_hot_spots(counts, distance_band_weights(cx, cy, 1000.0))
    centre = np.flatnonzero((cx == 7000.0) & (cy == 7000.0))[0]
    assert result.category[centre] == "diminishing hot spot"
    assert result.trend.z[centre] < 0
