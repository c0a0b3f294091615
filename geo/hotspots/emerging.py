"""Emerging hot-spot analysis: space-time Gi*, Mann-Kendall trends, ArcGIS categories.

Input is a space-time cube of counts, shape ``(n_steps, n_cells)``: row t holds the
counts of time step t (a week or a month, see ``geo.hotspots.timesteps``) for every cell,
cells in the order of their centres (metres of a projected CRS, e.g. EPSG:32638).

Space-time neighbourhood (ArcGIS "Neighborhood Distance" + "Neighborhood Time Step",
global window = entire cube): bin (t, c) has as neighbours the bins (t', c') with c'
within the distance band of c (c itself included) and ``t - time_window <= t' <= t``,
i.e. the same spatial neighbours in the current and the previous ``time_window`` steps
(fewer at the start of the series). Gi* (:func:`geo.hotspots.spatial_stats.gi_star`, binary weights
including self) compares each bin with a global window (ArcGIS "Define Global Window",
:data:`GLOBAL_WINDOWS`): ``entire_cube`` (the default) takes the mean and standard
deviation of all ``n_steps * n_cells`` bins; ``neighborhood_time_step`` those of the
bins of steps ``t - time_window .. t``; ``individual_time_step`` those of step t alone,
whose neighbourhood is then its spatial neighbours in step t only.

Significance of a bin: two-sided p (:func:`geo.hotspots.spatial_stats.p_values`), Benjamini-Hochberg
over all bins of the cube at ``alpha`` (default 0.10, ArcGIS's 90 % confidence) when
``fdr`` (default True). A *hot* bin is significant with z > 0, a *cold* bin
significant with z < 0.

Trend: the Mann-Kendall test (:func:`mann_kendall`) of each location's Gi* z series
is what the categories use (ArcGIS and sfdep). The trend of each location's count
series (ArcGIS's Create Space Time Cube trend) is reported alongside.

Categories, evaluated for each location in this order, with n = number of steps,
"final" = the last step, "trend up/down" = Mann-Kendall z > 0 / < 0 with
p <= ``trend_alpha`` (ArcGIS Pro "How Emerging Hot Spot Analysis works"; sfdep's
``classify_hotspot`` codifies the same table). For hot spots:

- **new hot spot**: final is hot and no earlier bin is significant (hot or cold).
- **consecutive hot spot**: a single uninterrupted run of at least two hot bins ends
  at the final step, no bin before the run is significant, and fewer than 90 % of
  all bins are hot.
- **intensifying hot spot**: at least 90 % of bins hot, final hot, trend up.
- **persistent hot spot**: at least 90 % of bins hot, final hot, no significant trend.
- **diminishing hot spot**: at least 90 % of bins hot, final hot, trend down.
- **sporadic hot spot**: final hot, fewer than 90 % of bins hot, no bin ever cold
  (and not new or consecutive: the hot bins are on-again, off-again).
- **oscillating hot spot**: final hot, fewer than 90 % of bins hot, at least one
  earlier bin cold.
- **historical hot spot**: final not hot, at least 90 % of bins hot.

Cold spots mirror these with cold for hot, and "intensifying" = trend down
(z growing more negative), "diminishing" = trend up. Anything else is **no pattern**.
Where the published wording leaves room we chose:

- "at least 90 %" is ``10 * hot_bins >= 9 * n`` (exact integer arithmetic);
- new and consecutive exclude any earlier significant bin, hot or cold (an earlier
  opposite spot makes the location oscillating, as in sfdep);
- persistent requires the final step hot, so that it is disjoint from historical;
- sporadic requires the final step hot (the current ArcGIS Pro wording; ArcMap 10.x
  did not say so);
- the categories whose final step is significant are decided before the historical
  ones: 90 % cold then hot in the final step is an oscillating hot spot, not a
  historical cold spot (sfdep's order gives the same).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import sparse

from geo.hotspots.spatial_stats import gi_star_from_lag, p_values, significant

NO_PATTERN = "no pattern"

#: Every category label, hot then cold, then "no pattern".
CATEGORIES = tuple(
    f"{kind} {spot}"
    for spot in ("hot spot", "cold spot")
    for kind in ("new", "consecutive", "intensifying", "persistent", "diminishing",
                 "sporadic", "oscillating", "historical")
) + (NO_PATTERN,)


def space_time_weights(w_spatial, n_steps: int, time_window: int = 1) -> sparse.csr_matrix:
    """Binary space-time weights over bins ordered ``t * n_cells + c``.

    ``W_st = L kron W`` with ``L[t, t'] = 1`` for ``0 <= t - t' <= time_window``: the
    spatial neighbours (self included) in the current and previous ``time_window`` steps.
    """
    if n_steps < 1 or time_window < 0:
        raise ValueError("n_steps must be >= 1 and time_window >= 0")
    lags = sparse.diags([np.ones(n_steps - k) for k in range(min(time_window, n_steps - 1) + 1)],
                        [-k for k in range(min(time_window, n_steps - 1) + 1)],
                        shape=(n_steps, n_steps))
    return sparse.csr_matrix(sparse.kron(lags, sparse.csr_matrix(w_spatial), format="csr"))


#: How much of the cube each bin is compared with (module docstring).
GLOBAL_WINDOWS = ("entire_cube", "neighborhood_time_step", "individual_time_step")


def space_time_gi_star(counts, w_spatial, time_window: int = 1,
                       global_window: str = "entire_cube") -> np.ndarray:
    """Gi* z score of every space-time bin, shape ``(n_steps, n_cells)``.

    The neighbourhood of bin (t, c) is c's spatial neighbours (self included) in steps
    ``t - time_window .. t``: the weights ``space_time_weights`` describes, applied
    step by step without building them.

    Parameters
    ----------
    counts : array_like
        ``(n_steps, n_cells)`` counts (or values) per bin.
    w_spatial : scipy.sparse matrix or band operator
        Binary spatial weights including self, e.g.
        ``geo.hotspots.spatial_stats.distance_band_weights(cx, cy, band_m)`` (band in metres), or an
        object with ``lag(x)`` and ``row_sums`` such as
        ``geo.hotspots.gridweights.HexNeighbourhood.band(band_m)``.
    time_window : int, default 1
        Number of previous time steps in the neighbourhood (ArcGIS default 1).
    global_window : str, default "entire_cube"
        One of :data:`GLOBAL_WINDOWS`: the bins whose mean and variance a bin is
        compared with.
    """
    counts = np.asarray(counts, dtype=float)
    if counts.ndim != 2:
        raise ValueError("counts must have shape (n_steps, n_cells)")
    if global_window not in GLOBAL_WINDOWS:
        raise ValueError(f"global_window must be one of {GLOBAL_WINDOWS}, got {global_window!r}")
    n_steps, n_cells = counts.shape
    lag, row_sums = _spatial_operator(w_spatial, n_cells)
    if hasattr(w_spatial, "lag_rows"):
        spatial = w_spatial.lag_rows(counts)  # every step at once
    else:
        spatial = np.stack([lag(step) for step in counts])
    if global_window == "individual_time_step":
        return np.stack([gi_star_from_lag(counts[t], spatial[t], row_sums, row_sums)
                         for t in range(n_steps)])
    total = spatial.copy()
    for back in range(1, min(time_window, n_steps - 1) + 1):
        total[back:] += spatial[:-back]
    steps_seen = np.minimum(np.arange(n_steps), time_window)[:, None] + 1.0
    weight_sum = steps_seen * row_sums[None, :]  # binary: also the sum of squares
    if global_window == "entire_cube":
        return gi_star_from_lag(counts.ravel(), total.ravel(), weight_sum.ravel(),
                                weight_sum.ravel()).reshape(n_steps, n_cells)
    return np.stack([
        gi_star_from_lag(counts[max(0, t - time_window):t + 1].ravel(), total[t],
                         weight_sum[t], weight_sum[t])
        for t in range(n_steps)])


def _spatial_operator(w_spatial, n_cells: int):
    """(lag function x -> W x, row sums of W) of a sparse matrix or a band operator."""
    if hasattr(w_spatial, "lag"):
        row_sums = np.asarray(w_spatial.row_sums, dtype=float)
        lag = w_spatial.lag
    else:
        if w_spatial.shape != (n_cells, n_cells):
            raise ValueError(f"w_spatial must be ({n_cells}, {n_cells}) for {n_cells} cells")
        matrix = sparse.csr_matrix(w_spatial)
        row_sums = np.asarray(matrix.sum(axis=1)).ravel()

        def lag(x):
            return matrix @ x
    if len(row_sums) != n_cells:
        raise ValueError(f"the spatial weights cover {len(row_sums)} cells, not {n_cells}")
    return lag, row_sums


@dataclass(frozen=True)
class MannKendall:
    """Mann-Kendall trend test per series (arrays over the series)."""

    s: np.ndarray  # sum of sign(x_j - x_i) over i < j
    tau: np.ndarray  # Kendall's tau-b against time
    variance: np.ndarray  # Var(S) with the tie correction
    z: np.ndarray  # continuity-corrected: (S - sign(S)) / sqrt(Var(S)), 0 when S = 0
    p: np.ndarray  # two-sided normal p of z


def mann_kendall(series) -> MannKendall:
    """Mann-Kendall trend test of each column of ``series`` (time along axis 0).

    ``S = sum_{i<j} sign(x_j - x_i)``;
    ``Var(S) = (n(n-1)(2n+5) - sum_g t_g(t_g-1)(2t_g+5)) / 18`` over groups of tied
    values of size t_g; ``z = (S - 1)/sqrt(Var)`` for S > 0, ``(S + 1)/sqrt(Var)`` for
    S < 0, 0 for S = 0 (Kendall 1975, as R ``Kendall::MannKendall``); two-sided normal p.
    ``tau = S / sqrt((n0 - n1) n0)`` with ``n0 = n(n-1)/2`` and n1 the tied pairs
    (tau-b against time, as ``scipy.stats.kendalltau``). A constant series has z = 0,
    p = 1 and tau NaN.

    Parameters
    ----------
    series : array_like
        ``(n_steps,)`` or ``(n_steps, n_series)``; n_steps >= 3.
    """
    x = np.asarray(series, dtype=float)
    one = x.ndim == 1
    x = x.reshape(x.shape[0], -1)
    n = x.shape[0]
    if n < 3:
        raise ValueError("the Mann-Kendall test needs at least 3 time steps")
    # signs summed per (step, location), each entry of at most n - 1 of them; the
    # steps are summed once at the end
    signs = np.zeros((n - 1, x.shape[1]), dtype=np.int16 if n < 2**15 else np.int64)
    for lag in range(1, n):  # loop over lags (time), vectorised over locations
        later, earlier = x[lag:], x[:-lag]
        signs[: n - lag] += later > earlier
        signs[: n - lag] -= later < earlier
    s = signs.sum(axis=0, dtype=np.int64).astype(float)
    s[np.isnan(x).any(axis=0)] = np.nan  # a NaN has no sign

    # Tied groups: walking each sorted series, a value equal to the previous one makes
    # its group of size t one larger, adding t pairs and 6 t (t + 2) to
    # t (t - 1) (2 t + 5). (NaN equals nothing: a group of its own, as in a sort.)
    ordered = np.sort(x.T, axis=1)
    run = np.ones(x.shape[1])
    ties = np.zeros(x.shape[1])
    tied_pairs = np.zeros(x.shape[1])
    for k in range(1, n):
        equal = ordered[:, k] == ordered[:, k - 1]
        ties += np.where(equal, 6 * run * (run + 2), 0.0)
        tied_pairs += np.where(equal, run, 0.0)
        run = np.where(equal, run + 1, 1.0)
    variance = (n * (n - 1) * (2 * n + 5) - ties) / 18.0

    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(variance > 0, (s - np.sign(s)) / np.sqrt(variance), 0.0)
        pairs = n * (n - 1) / 2
        tau = s / np.sqrt((pairs - tied_pairs) * pairs)
    p = p_values(z)
    if one:
        return MannKendall(s[0], tau[0], variance[0], z[0], p[0])
    return MannKendall(s, tau, variance, z, p)


def _final_run_length(flags: np.ndarray) -> np.ndarray:
    """Length of the run of True ending at the last step, per column."""
    n = flags.shape[0]
    reversed_false = ~flags[::-1]
    return np.where(reversed_false.any(axis=0), reversed_false.argmax(axis=0), n)


def classify_emerging(spot: np.ndarray, trend_z: np.ndarray, trend_p: np.ndarray,
                      trend_alpha: float = 0.10) -> np.ndarray:
    """Emerging hot-spot category of each location (rules in the module docstring).

    Parameters
    ----------
    spot : numpy.ndarray
        ``(n_steps, n_cells)`` of +1 (significant hot bin), -1 (significant cold bin), 0.
    trend_z, trend_p : numpy.ndarray
        Mann-Kendall z and p of each location's Gi* z series.
    trend_alpha : float, default 0.10
        Significance level of the trend.

    Returns
    -------
    numpy.ndarray of str
        One label of :data:`CATEGORIES` per location.
    """
    spot = np.asarray(spot)
    n = spot.shape[0]
    category = np.full(spot.shape[1], NO_PATTERN, dtype=object)
    trend_up = (trend_z > 0) & (trend_p <= trend_alpha)
    trend_down = (trend_z < 0) & (trend_p <= trend_alpha)
    current, historical = [], []
    for sign, name, rising, falling in ((1, "hot spot", trend_up, trend_down),
                                        (-1, "cold spot", trend_down, trend_up)):
        this = spot == sign
        other = spot == -sign
        final = this[-1]
        mostly = 10 * this.sum(axis=0) >= 9 * n
        earlier_significant = (spot[:-1] != 0).any(axis=0)
        run = _final_run_length(this)
        current += [
            (f"new {name}", final & ~earlier_significant),
            (f"consecutive {name}", final & (run >= 2) & _quiet_before_run(spot, run) & ~mostly),
            (f"intensifying {name}", final & mostly & rising),
            (f"diminishing {name}", final & mostly & falling),
            (f"persistent {name}", final & mostly & ~rising & ~falling),
            (f"oscillating {name}", final & ~mostly & other[:-1].any(axis=0)),
            (f"sporadic {name}", final & ~mostly & ~other.any(axis=0)),
        ]
        historical.append((f"historical {name}", ~final & mostly))
    # What the location is in the final step decides first; historical comes last.
    for label, applies in current + historical:
        category[(category == NO_PATTERN) & applies] = label
    return category.astype(str)


def _quiet_before_run(spot: np.ndarray, run: np.ndarray) -> np.ndarray:
    """True where no bin before the final run (of length ``run``) is significant."""
    steps = np.arange(spot.shape[0])[:, None]
    before = steps < (spot.shape[0] - run)[None, :]
    return ~((spot != 0) & before).any(axis=0)


@dataclass(frozen=True)
class EmergingHotSpots:
    """Result of :func:`emerging_hot_spots`; arrays per bin or per location."""

    z: np.ndarray  # (n_steps, n_cells) space-time Gi* z
    p: np.ndarray  # (n_steps, n_cells) two-sided p
    spot: np.ndarray  # (n_steps, n_cells) +1 hot, -1 cold, 0 not significant
    trend: MannKendall  # of each location's z series (used by the categories)
    category: np.ndarray  # (n_cells,) labels of CATEGORIES
    counts: np.ndarray  # (n_steps, n_cells) the input

    @cached_property
    def count_trend(self) -> MannKendall:
        """Mann-Kendall test of each location's count series (computed when asked)."""
        return mann_kendall(self.counts)


def emerging_hot_spots(counts, w_spatial, time_window: int = 1, alpha: float = 0.10,
                       fdr: bool = True, trend_alpha: float = 0.10,
                       global_window: str = "entire_cube") -> EmergingHotSpots:
    """Emerging hot-spot analysis of a space-time cube of counts.

    Parameters
    ----------
    counts : array_like
        ``(n_steps, n_cells)`` incident counts per time step (week or month) and cell;
        at least 3 steps.
    w_spatial : scipy.sparse matrix
        Binary spatial weights including self for the cells, e.g.
        ``geo.hotspots.spatial_stats.distance_band_weights(cx, cy, band_m)`` (metres).
    time_window : int, default 1
        Previous time steps in the space-time neighbourhood (ArcGIS default 1).
    alpha : float, default 0.10
        Significance of a bin (90 % confidence, ArcGIS).
    fdr : bool, default True
        Benjamini-Hochberg over all bins of the cube.
    trend_alpha : float, default 0.10
        Significance of the Mann-Kendall trend.
    global_window : str, default "entire_cube"
        What each bin is compared with (:data:`GLOBAL_WINDOWS`).
    """
    counts = np.asarray(counts, dtype=float)
    z = space_time_gi_star(counts, w_spatial, time_window, global_window)
    p = p_values(z)
    is_significant = significant(p, alpha, fdr)
    spot = (np.sign(np.nan_to_num(z)) * is_significant).astype(np.int8)
    trend = mann_kendall(z)
    category = classify_emerging(spot, trend.z, trend.p, trend_alpha)
    return EmergingHotSpots(z, p, spot, trend, category, counts)
