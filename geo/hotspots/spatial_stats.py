"""Spatial weights, Getis-Ord Gi*, Moran's I (global and local) and their significance.

Pure numpy/scipy. Coordinates are cell centres (or points) in a projected CRS in metres,
e.g. the analysis CRS EPSG:32638; distances and thresholds are in the same metres.
Weights are ``scipy.sparse.csr_matrix`` with one row and column per cell, in the order
of the input arrays.

Conventions shared by every statistic here (one implementation each):

- p values are two-sided under the standard normal (:func:`p_values`).
- Multiple testing uses the Benjamini-Hochberg step-up procedure
  (:func:`benjamini_hochberg`): the k-th smallest of n p values is compared with
  ``k / n * alpha`` and every p up to the largest k that passes is significant.
- ``Gi_Bin`` confidence levels are 99 / 95 / 90 % (alpha 0.01 / 0.05 / 0.10).

The Gi* z equals ``esda.G_Local(y, w, transform='B', star=True).Zs`` and the Moran's I
moments equal ``esda.Moran`` / ``esda.Moran_Local`` (checked in tests/geo).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse, special
from scipy.spatial import cKDTree

#: Confidence levels of the Gi_Bin classes 3, 2, 1 (99 %, 95 %, 90 %).
BIN_ALPHAS = (0.01, 0.05, 0.10)


def _coordinates(cx, cy) -> np.ndarray:
    """(n, 2) float array of finite coordinates, or ValueError."""
    xy = np.column_stack([np.asarray(cx, dtype=float).ravel(), np.asarray(cy, dtype=float).ravel()])
    if not np.isfinite(xy).all():
        raise ValueError("coordinates must be finite numbers (metres in a projected CRS)")
    return xy


def _values(values, n: int | None = None) -> np.ndarray:
    y = np.asarray(values, dtype=float).ravel()
    if n is not None and y.size != n:
        raise ValueError(f"expected {n} values (one per cell), got {y.size}")
    if not np.isfinite(y).all():
        raise ValueError("values must be finite numbers")
    return y


# --------------------------------------------------------------------------- weights


def distance_band_weights(cx, cy, threshold_m: float,
                          include_self: bool = True) -> sparse.csr_matrix:
    """Binary fixed-distance-band weights.

    ``w_ij = 1`` when the Euclidean distance between centres i and j is at most
    ``threshold_m`` (the same ``<=`` rule as ``libpysal.weights.DistanceBand``), else 0.

    Parameters
    ----------
    cx, cy : array_like
        Cell centres in metres of a projected CRS (e.g. EPSG:32638).
    threshold_m : float
        Distance band in metres.
    include_self : bool, default True
        Set ``w_ii = 1`` (the Gi* convention). Use False for Gi and Moran's I.

    Returns
    -------
    scipy.sparse.csr_matrix
        (n, n) symmetric, float64 ones, sorted indices.
    """
    xy = _coordinates(cx, cy)
    if not threshold_m > 0:
        raise ValueError(f"threshold_m must be a positive distance in metres, got {threshold_m}")
    n = len(xy)
    # An unbalanced tree builds faster and finds the same pairs (i < j, distance <= band).
    pairs = cKDTree(xy, balanced_tree=False).query_pairs(threshold_m, output_type="ndarray")
    upper = sparse.csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    w = upper + upper.T
    if include_self:
        w = w + sparse.identity(n, format="csr")
    w = sparse.csr_matrix(w)
    w.sort_indices()
    return w


def row_standardise(w) -> sparse.csr_matrix:
    """Divide each row of ``w`` by its sum (rows that sum to 0 stay 0)."""
    w = sparse.csr_matrix(w, dtype=float)
    row_sums = np.asarray(w.sum(axis=1)).ravel()
    scale = np.divide(1.0, row_sums, out=np.zeros_like(row_sums), where=row_sums != 0)
    return sparse.csr_matrix(sparse.diags(scale) @ w)


def kth_neighbour_distances(x, y, k: int = 1) -> np.ndarray:
    """Distance in metres from each point to its k-th nearest *other* point.

    Coincident points count as neighbours at distance 0.
    """
    xy = _coordinates(x, y)
    if not 1 <= k < len(xy):
        raise ValueError(f"k must be between 1 and n - 1 = {len(xy) - 1}, got {k}")
    distances, _ = cKDTree(xy).query(xy, k=k + 1)
    return distances[:, k]


#: Neighbours a typical cell has when no autocorrelation peak sets the band
#: (ArcGIS Hot Spot Analysis: "each feature should have at least one neighbor, and
#: ideally about eight").
MIN_NEIGHBOURS = 8


def min_neighbours_band(cx, cy, k: int = MIN_NEIGHBOURS) -> float:
    """The distance band in metres at which the median feature has ``k`` other features
    as neighbours and every feature at least one (ArcGIS's advice for a fixed band):
    the larger of the median k-th and the largest 1st nearest-neighbour distance (k is
    capped at n - 1).

    The median, not the largest, k-th distance: along a ragged study area's edge a
    few cells have few neighbours within any short band, and the band that gives even
    those eight would blur the whole map.

    Parameters
    ----------
    cx, cy : array_like
        Cell centres in metres (projected CRS).
    k : int, default 8
        Neighbours the median feature has.
    """
    xy = _coordinates(cx, cy)
    return min_neighbours_band_from(
        kth_neighbour_distances(xy[:, 0], xy[:, 1], min(k, len(xy) - 1)),
        kth_neighbour_distances(xy[:, 0], xy[:, 1], 1))


def min_neighbours_band_from(kth_distances, nearest_distances) -> float:
    """:func:`min_neighbours_band` from each feature's distance to its k-th and to its
    nearest neighbour (metres)."""
    return float(max(np.median(kth_distances), np.max(nearest_distances)))


# --------------------------------------------------------------------------- significance


def p_values(z) -> np.ndarray:
    """Two-sided p values of standard-normal z scores (NaN z gives NaN p)."""
    # special.ndtr(-x) is what stats.norm.sf(x) computes, without its argument checks
    return 2.0 * special.ndtr(-np.abs(np.asarray(z, dtype=float)))


def benjamini_hochberg(p, alpha: float) -> np.ndarray:
    """Which hypotheses the Benjamini-Hochberg step-up procedure rejects at ``alpha``.

    With the p values sorted ascending, ``p_(1) <= ... <= p_(n)``, find the largest k
    with ``p_(k) <= k / n * alpha``; the k smallest p values are significant. NaN p
    values count in n and are never significant.

    Returns
    -------
    numpy.ndarray of bool
        True where significant, in the order of ``p``.
    """
    p = np.asarray(p, dtype=float).ravel()
    n = p.size
    if n == 0:
        return np.zeros(0, dtype=bool)
    # Only p <= alpha can pass (k / n * alpha <= alpha): sort just those. Ties with the
    # k-th smallest pass too (a larger k passes with them), so the decision is p <= p_(k).
    candidates = np.sort(p[p <= alpha])
    passes = candidates <= np.arange(1, candidates.size + 1) / n * alpha
    if not passes.any():
        return np.zeros(n, dtype=bool)
    return p <= candidates[np.flatnonzero(passes)[-1]]


def significant(p, alpha: float, fdr: bool = True) -> np.ndarray:
    """``p <= alpha``, or the Benjamini-Hochberg decision at ``alpha`` when ``fdr``."""
    p = np.asarray(p, dtype=float)
    if fdr:
        return benjamini_hochberg(p, alpha).reshape(p.shape)
    return np.nan_to_num(p, nan=1.0) <= alpha


def gi_bins(z, p, fdr: bool = True) -> np.ndarray:
    """ArcGIS ``Gi_Bin`` classes: +-3 (99 %), +-2 (95 %), +-1 (90 %), 0 not significant.

    The sign is that of z. With ``fdr`` each level uses the Benjamini-Hochberg decision
    at its alpha (0.01, 0.05, 0.10) over all cells; z and p themselves are unchanged.
    """
    z = np.asarray(z, dtype=float)
    p = np.asarray(p, dtype=float)
    level = np.zeros(z.shape, dtype=np.int8)
    for strength, alpha in zip((3, 2, 1), BIN_ALPHAS, strict=True):
        newly = significant(p, alpha, fdr) & (level == 0)
        level[newly] = strength
    return (np.sign(np.nan_to_num(z)) * level).astype(np.int8)


# --------------------------------------------------------------------------- Gi*


def gi_star(values, w) -> np.ndarray:
    """Getis-Ord Gi* z scores (analytic, no permutations).

    ``Gi* = (sum_j w_ij x_j - xbar sum_j w_ij) / (S sqrt((n sum_j w_ij^2 - (sum_j w_ij)^2)
    / (n - 1)))`` with ``xbar = sum x / n`` and ``S = sqrt(sum x^2 / n - xbar^2)``.

    Parameters
    ----------
    values : array_like
        One value per cell, e.g. incident counts.
    w : scipy.sparse matrix
        Weights including self (``w_ii > 0``), binary from :func:`distance_band_weights`
        or any other (``geo.hotspots.neighbourhoods``); row i is cell i's neighbourhood.

    Returns
    -------
    numpy.ndarray
        z scores; NaN for a cell whose neighbourhood is every cell (no variance).
    """
    w = sparse.csr_matrix(w)
    x = _values(values, w.shape[0])
    weight_sum = np.asarray(w.sum(axis=1)).ravel()
    weight_sq_sum = np.asarray(w.multiply(w).sum(axis=1)).ravel()
    return gi_star_from_lag(x, w @ x, weight_sum, weight_sq_sum)


def gi_star_from_lag(x, lag, weight_sum, weight_sq_sum) -> np.ndarray:
    """Gi* z from its sums: ``lag = sum_j w_ij x_j``, ``sum_j w_ij`` and ``sum_j w_ij^2``.

    The formula of :func:`gi_star`, for callers that compute the neighbourhood sums
    without a weights matrix (``geo.hotspots.gridweights``).
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    mean = x.sum() / n
    spread = np.sqrt((x * x).sum() / n - mean * mean)
    if not spread > 0:
        raise ValueError("Gi* needs values that vary: every cell has the same value")
    numerator = lag - mean * weight_sum
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = spread * np.sqrt((n * weight_sq_sum - weight_sum**2) / (n - 1))
        return numerator / denominator


# --------------------------------------------------------------------------- Moran's I


@dataclass(frozen=True)
class MoransI:
    """Global Moran's I with its moments under randomisation."""

    i: float
    expected: float
    variance: float
    z: float
    p: float


def global_morans_i(values, w) -> MoransI:
    """Global Moran's I, E[I] = -1/(n-1), Var[I] under randomisation, z and two-sided p.

    ``I = n / S0 * z'Wz / z'z`` with ``z = x - xbar``; the variance is Cliff & Ord's
    randomisation variance (the ``VI_rand`` of esda, ``randomisation=TRUE`` of spdep).

    Parameters
    ----------
    values : array_like
        One value per cell.
    w : scipy.sparse matrix
        Spatial weights as they should be used (row-standardise first with
        :func:`row_standardise` for the usual form; no self-weights).
    """
    w = sparse.csr_matrix(w, dtype=float)
    x = _values(values, w.shape[0])
    z = x - x.mean()
    s1 = 0.5 * ((w + w.T).power(2)).sum()
    s2 = ((np.asarray(w.sum(axis=1)).ravel() + np.asarray(w.sum(axis=0)).ravel()) ** 2).sum()
    return morans_i_from_sums(z, float(z @ (w @ z)), float(w.sum()), float(s1), float(s2))


def morans_i_from_sums(z, z_w_z: float, s0: float, s1: float, s2: float) -> MoransI:
    """Moran's I and its randomisation moments from deviations ``z`` and the sums
    ``z'Wz``, ``S0``, ``S1``, ``S2`` of the weights (the formula of
    :func:`global_morans_i`, for callers without a weights matrix)."""
    z = np.asarray(z, dtype=float)
    n = z.size
    z2 = (z * z).sum()
    if not z2 > 0:
        raise ValueError("Moran's I needs values that vary: every cell has the same value")
    i = n / s0 * z_w_z / z2
    expected = -1.0 / (n - 1)
    b2 = n * (z**4).sum() / z2**2
    numerator = n * ((n * n - 3 * n + 3) * s1 - n * s2 + 3 * s0 * s0) - b2 * (
        (n * n - n) * s1 - 2 * n * s2 + 6 * s0 * s0
    )
    variance = numerator / ((n - 1) * (n - 2) * (n - 3) * s0 * s0) - expected**2
    # A layout whose randomisation variance vanishes (a regular lattice of equal
    # counts at some bands) gives no test: z is NaN there, which no peak rule picks.
    z_score = (i - expected) / np.sqrt(variance) if variance > 0 else float("nan")
    return MoransI(float(i), expected, float(variance), float(z_score),
                   float(p_values(z_score)))


@dataclass(frozen=True)
class IncrementalAutocorrelation:
    """Moran's I z per distance band and the first peak (None when there is none)."""

    distances: np.ndarray
    z: np.ndarray
    peak_index: int | None

    @property
    def peak_distance(self) -> float | None:
        """Distance band of the first peak in metres, or None."""
        return None if self.peak_index is None else float(self.distances[self.peak_index])


def default_isa_distances(cx, cy, n_bands: int = 10) -> np.ndarray:
    """Distance bands for incremental spatial autocorrelation, in metres.

    ArcGIS's defaults: start at the distance that gives every feature at least one
    neighbour (the largest nearest-neighbour distance) and grow by the average
    nearest-neighbour distance, ``n_bands`` bands.
    """
    return isa_distances_from_nearest(kth_neighbour_distances(cx, cy, 1), n_bands)


def isa_distances_from_nearest(nearest, n_bands: int = 10) -> np.ndarray:
    """:func:`default_isa_distances` from each feature's nearest-neighbour distance."""
    nearest = np.asarray(nearest, dtype=float)
    return nearest.max() + nearest.mean() * np.arange(n_bands)


#: The smallest Moran's I z a peak must reach to set the band (95 %, two-sided).
PEAK_MIN_Z = 1.96


def first_peak(z, min_z: float = PEAK_MIN_Z) -> int | None:
    """Index of the first defensible peak of a z curve over growing distance bands.

    A peak is a z strictly greater than both its neighbours in the sequence; it is
    defensible when it is significant (``z >= min_z``) and higher than the z of every
    shorter band: a bump on a falling curve is not a scale at which clustering is
    strongest, the shortest distances are. The first and last distances are never
    peaks (a rising or falling end is not a peak); NaN never is. None when no
    defensible peak exists.
    """
    z = np.asarray(z, dtype=float)
    if z.size < 3:
        return None
    middle = z[1:-1]
    highest_before = np.fmax.accumulate(np.nan_to_num(z, nan=-np.inf))[:-2]
    peaks = np.flatnonzero((middle > z[:-2]) & (middle > z[2:]) & (middle >= min_z)
                           & (middle > highest_before))
    return int(peaks[0]) + 1 if peaks.size else None


def incremental_spatial_autocorrelation(cx, cy, values,
                                        distances=None) -> IncrementalAutocorrelation:
    """Global Moran's I z over growing distance bands and the first peak.

    For each distance the weights are binary distance-band weights without self,
    row-standardised (ArcGIS's Incremental Spatial Autocorrelation with row
    standardisation). The peak rule is :func:`first_peak`. Cells without any neighbour
    at a distance get a zero row (they add nothing to I).

    Parameters
    ----------
    cx, cy : array_like
        Cell centres in metres (projected CRS).
    values : array_like
        One value per cell.
    distances : array_like, optional
        Increasing distances in metres; :func:`default_isa_distances` when omitted.
    """
    if distances is None:
        distances = default_isa_distances(cx, cy)
    distances = np.asarray(distances, dtype=float)
    if np.any(np.diff(distances) <= 0):
        raise ValueError("distances must be strictly increasing (metres)")
    z = np.array([
        global_morans_i(values, row_standardise(
            distance_band_weights(cx, cy, d, include_self=False))).z
        for d in distances
    ])
    return IncrementalAutocorrelation(distances, z, first_peak(z))


@dataclass(frozen=True)
class LocalMoransI:
    """Local Moran's I per cell with analytic moments, significance and LISA labels."""

    i: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    z: np.ndarray
    p: np.ndarray
    quadrant: np.ndarray  # 1 HH, 2 LH, 3 LL, 4 HL (esda's q)
    significant: np.ndarray
    label: np.ndarray  # "HH", "LL", "HL", "LH" or "not significant"


_QUADRANT_LABELS = np.array(["", "HH", "LH", "LL", "HL"])
# The LISA label of a cell that is not significant.
NOT_SIGNIFICANT = "not significant"


def local_morans_i(values, w, alpha: float = 0.05, fdr: bool = True) -> LocalMoransI:
    """Local Moran's I (Anselin 1995), analytic inference, LISA cluster/outlier labels.

    ``I_i = (n - 1) z_i sum_j w_ij z_j / sum_k z_k^2`` with ``z = (x - xbar) / sd(x)``
    (population sd), exactly as ``esda.Moran_Local``. Inference is analytic, not by
    permutation: E[I_i] and Var[I_i] under total randomisation (Sokal et al. 1998,
    eqs. A3 and A4*, esda's ``EI`` and ``VI``), ``z = (I - E) / sqrt(Var)``, two-sided
    normal p (:func:`p_values`). A cell is significant when p passes ``alpha``, with the
    Benjamini-Hochberg procedure over all cells when ``fdr`` (the default).

    Labels: HH (high value, high neighbours), LL, HL (high among low, an outlier), LH;
    "not significant" otherwise. The quadrant uses ``z_i > 0`` and lag ``> 0`` exactly
    as esda (a zero counts as low).

    Parameters
    ----------
    values : array_like
        One value per cell.
    w : scipy.sparse matrix
        Weights without self, normally row-standardised (:func:`row_standardise`),
        esda's default ``transformation='r'``.
    alpha : float, default 0.05
        Significance level.
    fdr : bool, default True
        Apply Benjamini-Hochberg.
    """
    w = sparse.csr_matrix(w, dtype=float)
    z, lag, i = local_morans_statistic(values, w)
    n = z.size

    m2 = (z * z).sum() / n
    b2 = ((z**4).sum() / n) / m2**2
    wi = np.asarray(w.sum(axis=1)).ravel()
    wi2 = np.asarray(w.multiply(w).sum(axis=1)).ravel()
    expected = -wi / (n - 1)
    variance = (wi2 * (n - b2) / (n - 1)
                + (wi**2 - wi2) * (2 * b2 - n) / ((n - 1) * (n - 2))
                - expected**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z_score = (i - expected) / np.sqrt(variance)
    p = p_values(z_score)
    is_significant = significant(p, alpha, fdr)
    quadrant = lisa_quadrants(z, lag)
    return LocalMoransI(i, expected, variance, z_score, p, quadrant, is_significant,
                        lisa_labels(quadrant, is_significant))


def local_morans_statistic(values, w) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The standardised values ``z``, their spatial lag ``W z`` and Local Moran's ``I_i``.

    ``z = (x - xbar) / sd(x)`` (population sd) and ``I_i = (n - 1) z_i (W z)_i / sum z^2``,
    as :func:`local_morans_i` defines them, for every form of inference on I.
    """
    w = sparse.csr_matrix(w, dtype=float)
    x = _values(values, w.shape[0])
    sd = x.std()
    if not sd > 0:
        raise ValueError("Local Moran's I needs values that vary: every cell has the same value")
    z = (x - x.mean()) / sd
    lag = w @ z
    return z, lag, (x.size - 1) * z * lag / (z * z).sum()


def lisa_quadrants(z, lag) -> np.ndarray:
    """Moran scatterplot quadrant per cell: 1 HH, 2 LH, 3 LL, 4 HL (esda's ``q``).

    High means ``> 0`` for the standardised value and for its lag; a zero counts as low.
    """
    high, high_lag = np.asarray(z) > 0, np.asarray(lag) > 0
    return np.select(
        [high & high_lag, ~high & high_lag, ~high & ~high_lag], [1, 2, 3], default=4
    ).astype(np.int8)


def lisa_labels(quadrant, is_significant) -> np.ndarray:
    """LISA label per cell: the quadrant's "HH", "LH", "LL" or "HL" where significant,
    else "not significant"."""
    return np.where(is_significant, _QUADRANT_LABELS[quadrant], NOT_SIGNIFICANT)
