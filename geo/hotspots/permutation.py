"""Conditional permutation inference for Local Moran's I (pseudo p values).

The analytic inference of :func:`geo.hotspots.spatial_stats.local_morans_i` assumes
the normal approximation holds for every cell; with skewed counts it often does not.
Conditional randomisation (Anselin 1995; ``esda.Moran_Local(permutations=999)``,
ArcGIS Cluster and Outlier Analysis) needs no such assumption: for each cell ``i`` the
value ``x_i`` stays where it is and its ``k_i`` neighbours' values are drawn at random,
without replacement, from the other ``n - 1`` values, ``permutations`` times. The
pseudo p value counts the draws whose I is at least as extreme as the observed one in
the smaller tail::

    larger = #(I_sim >= I_obs);  smaller = #(I_sim <= I_obs)
    p_sim = (min(larger, smaller) + 1) / (permutations + 1)

Without ties this is exactly esda's folded rule (``smaller = permutations - larger``;
esda counts ``permutations - larger`` when that is less than ``larger``). Ties are
common with counts (integer values give the same lag from different neighbours), and a
draw equal to the observed I is as extreme as it in either tail: ``I_sim`` within a
relative :data:`TIE_TOLERANCE` of ``I_obs`` (far below any real difference, far above
rounding) counts in both ``larger`` and ``smaller``. esda's rule instead lets rounding
decide ties and counts none of them in the lower tail, which makes a cell whose every
draw ties with it (nothing could be more typical) look significant at
``1 / (permutations + 1)``; here it gets p 1. The smallest p is
``1 / (permutations + 1)``; without ties the largest is about 0.5.

The draws are vectorised: cells are grouped by neighbour count ``k`` and each group's
``(cells, permutations, k)`` index array is drawn in chunks of bounded size. Each cell
gets its own draws (esda reuses one set of draws for every cell); the p values agree
with esda's statistically, not draw for draw (tests/geo/hotspots/test_permutation.py).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from geo.hotspots.spatial_stats import (
    LocalMoransI,
    lisa_labels,
    lisa_quadrants,
    local_morans_statistic,
    significant,
)

#: Default seed of the random draws: the same data give the same map every time
#: (ArcGIS, too, seeds its generator with a fixed default).
DEFAULT_SEED = 0

#: Relative tolerance within which a simulated I ties with the observed one.
TIE_TOLERANCE = 1e-9

#: Upper bound on the number of draws held in memory at once (16 MB of int32 indices,
#: 32 MB of the values they draw).
CHUNK_ELEMENTS = 2**22


def permutation_local_morans_i(values, w, permutations: int = 999,
                               seed: int | np.random.Generator | None = DEFAULT_SEED,
                               alpha: float = 0.05, fdr: bool = True) -> LocalMoransI:
    """Local Moran's I with pseudo p values from conditional permutations.

    I, the quadrants and the labels are those of
    :func:`geo.hotspots.spatial_stats.local_morans_i` (the same helpers compute them);
    only the inference differs (module docstring).

    Parameters
    ----------
    values : array_like
        One value per cell (e.g. incident counts).
    w : scipy.sparse matrix
        (n, n) weights without self, normally row-standardised
        (:func:`geo.hotspots.spatial_stats.row_standardise`), as ``local_morans_i``
        takes them. A self weight, if any, is held fixed with ``x_i`` (as esda does).
    permutations : int, default 999
        Draws per cell; p values are multiples of ``1 / (permutations + 1)``.
    seed : int, numpy.random.Generator or None, default :data:`DEFAULT_SEED`
        Seed of ``numpy.random.default_rng``: the same seed gives identical results.
        None draws a fresh seed from the operating system.
    alpha : float, default 0.05
        Significance level.
    fdr : bool, default True
        Benjamini-Hochberg over all cells (:func:`geo.hotspots.spatial_stats.significant`).

    Returns
    -------
    LocalMoransI
        ``i`` and ``quadrant`` as the analytic version; ``expected`` and ``variance``
        are the mean and variance of each cell's simulated I, ``z = (i - expected) /
        sqrt(variance)`` and ``p`` is the pseudo p value ``p_sim``. A cell without
        neighbours has I 0, p NaN and is never significant.
    """
    permutations = int(permutations)
    if permutations < 1:
        raise ValueError(f"permutations must be a positive number of draws, got {permutations}")
    w = sparse.csr_matrix(w, dtype=float)
    z, lag, i = local_morans_statistic(values, w)
    n = z.size
    self_weight = w.diagonal()
    others = sparse.csr_matrix(w - sparse.diags(self_weight))
    others.eliminate_zeros()
    others.sort_indices()
    cardinality = np.diff(others.indptr)
    if cardinality.max(initial=0) > n - 1:
        raise ValueError("a cell cannot have more neighbours than there are other cells")

    rng = np.random.default_rng(seed)
    scale = (n - 1) / (z * z).sum()
    # The largest |I| any draw can give: rounding errors are a tiny fraction of it.
    tie = TIE_TOLERANCE * scale * np.abs(z) * np.abs(z).max() * np.asarray(
        abs(w).sum(axis=1)).ravel()
    extreme = np.full(n, np.nan)
    expected = np.full(n, np.nan)
    variance = np.full(n, np.nan)
    for k in np.unique(cardinality[cardinality > 0]):
        cells = np.flatnonzero(cardinality == k)
        width = n - 1 if _orders_all_cells(n, int(k)) else int(k)
        step = max(1, CHUNK_ELEMENTS // (permutations * width))
        for start in range(0, cells.size, step):
            chunk = cells[start:start + step]
            weights = others.data[others.indptr[chunk][:, None] + np.arange(k)]
            drawn = draw_other_cells(rng, chunk, n, permutations, int(k))
            simulated_lag = (z[drawn] @ weights[:, :, None])[..., 0]
            simulated_lag += (self_weight[chunk] * z[chunk])[:, None]
            simulated = scale * z[chunk][:, None] * simulated_lag
            observed = i[chunk][:, None]
            larger = (simulated >= observed - tie[chunk][:, None]).sum(axis=1)
            smaller = (simulated <= observed + tie[chunk][:, None]).sum(axis=1)
            extreme[chunk] = np.minimum(larger, smaller)
            expected[chunk] = simulated.mean(axis=1)
            variance[chunk] = simulated.var(axis=1)

    p = (extreme + 1) / (permutations + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        z_score = (i - expected) / np.sqrt(variance)
    is_significant = significant(p, alpha, fdr)
    quadrant = lisa_quadrants(z, lag)
    return LocalMoransI(i, expected, variance, z_score, p, quadrant, is_significant,
                        lisa_labels(quadrant, is_significant))


def draw_other_cells(rng: np.random.Generator, cells, n: int, permutations: int,
                     k: int) -> np.ndarray:
    """For each cell, ``permutations`` random ordered draws of ``k`` distinct other cells.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the draws.
    cells : array_like of int
        The cells ``i`` whose neighbours are drawn.
    n : int
        Number of cells; each draw is uniform over the ordered k-tuples of distinct cells
        other than ``i``.
    permutations, k : int
        Draws per cell and cells per draw (``k <= n - 1``).

    Returns
    -------
    numpy.ndarray of int
        Shape ``(len(cells), permutations, k)``, cell indices, never ``i`` itself.
    """
    cells = np.asarray(cells, dtype=np.int32)
    shape = (cells.size, permutations, k)
    # Draw from 0..n-2 and skip i: index r stands for cell r + (r >= i).
    if _orders_all_cells(n, k):
        keys = rng.random((*shape[:2], n - 1))
        drawn = np.argsort(keys, axis=2)[..., :k]
    else:
        # Draw with replacement and draw again the rows with a repeat (fewer than half,
        # see _orders_all_cells): the accepted rows are uniform ordered k-tuples.
        # int32 (cells are far fewer than 2**31) halves the memory traffic of the draws.
        drawn = rng.integers(0, n - 1, size=shape, dtype=np.int32)
        rows = drawn.reshape(-1, k)
        redraw = np.flatnonzero(_has_repeat(rows))
        while redraw.size:
            rows[redraw] = rng.integers(0, n - 1, size=(redraw.size, k), dtype=np.int32)
            redraw = redraw[_has_repeat(rows[redraw])]
    return drawn + (drawn >= cells[:, None, None])


def _orders_all_cells(n: int, k: int) -> bool:
    """Whether :func:`draw_other_cells` orders all ``n - 1`` other cells at random and
    takes the first ``k`` (``n - 1`` numbers per draw) rather than drawing ``k`` with
    replacement: when there are few cells for this many neighbours a draw without a
    repeat would be rare (the chance is about ``exp(-k (k - 1) / (2 (n - 1)))``, below
    one half here), and ordering all is cheap because n is small."""
    return k * (k - 1) > 1.4 * (n - 1)


def _has_repeat(drawn: np.ndarray) -> np.ndarray:
    """True for each row (last axis) of ``drawn`` that holds some index twice."""
    ordered = np.sort(drawn, axis=-1)
    return (ordered[..., 1:] == ordered[..., :-1]).any(axis=-1)
