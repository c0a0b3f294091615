"""Permutation benchmark (issue 18): Local Moran's I with 999 conditional permutations,
ours (``geo.hotspots.permutation``) against ``esda.Moran_Local`` on the same cells.

Run: ``.venv/bin/python -m bench.permutation_bench [--side 141] [--permutations 999]``

No database: a ``side`` x ``side`` block of hexagons (``geo.hotspots.hexgrid``, 100 m
edge; 141 gives 19,881 cells) with Poisson counts (mean 2, seed 18) and two planted
clusters, row-standardised distance-band weights at one and two centre spacings (6 and
18 neighbours). For each band: our time, esda's (``n_jobs=1``, its numba code compiled
beforehand on a small lattice), the ratio, and how the p values compare (correlation,
largest difference, cells significant at 0.05 without FDR in each).

Prints a table; docs/benchmarks.md records the numbers.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

SIZE = 100.0


def cells(side: int):
    from geo.hotspots import hexgrid

    i, j = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    cx, cy = hexgrid.hex_centres(i.ravel(), j.ravel(), SIZE)
    rng = np.random.default_rng(18)
    counts = rng.poisson(2.0, cx.size).astype(float)
    for centre_x, centre_y in ((0.25, 0.3), (0.7, 0.6)):
        near = np.hypot(cx - centre_x * cx.max(), cy - centre_y * cy.max()) < 600
        counts[near] += rng.poisson(4.0, near.sum())
    return cx, cy, counts


def esda_moran_local(counts, w, permutations):
    from esda import Moran_Local
    from libpysal.weights import WSP

    with warnings.catch_warnings():
        # esda's note that its default alternative will change; Moran_Local recomputes
        # p_sim with the folded rule either way.
        warnings.filterwarnings("ignore", "The alternative hypothesis", DeprecationWarning)
        warnings.filterwarnings("ignore", "The weights matrix is not fully connected")
        weights = WSP(w).to_W(silence_warnings=True)
        return Moran_Local(counts, weights, transformation="r", permutations=permutations,
                           seed=18, n_jobs=1)


def main():
    from geo.hotspots.permutation import permutation_local_morans_i
    from geo.hotspots.spatial_stats import distance_band_weights, row_standardise

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=141)
    parser.add_argument("--permutations", type=int, default=999)
    args = parser.parse_args()

    cx, cy, counts = cells(args.side)
    small = cells(10)
    esda_moran_local(small[2], row_standardise(distance_band_weights(
        small[0], small[1], 200, include_self=False)), 9)  # compile esda's numba code

    print(f"{cx.size} cells, {args.permutations} permutations")
    print(f"{'band':>8} {'k':>3} {'ours s':>8} {'esda s':>8} {'esda/ours':>9} "
          f"{'corr p':>7} {'max|dp|':>8} {'sig ours':>8} {'sig esda':>8}")
    spacing = np.sqrt(3) * SIZE
    for band in (1.01 * spacing, 2.01 * spacing):
        w = row_standardise(distance_band_weights(cx, cy, band, include_self=False))
        start = time.perf_counter()
        ours = permutation_local_morans_i(counts, w, args.permutations, seed=18, fdr=False)
        ours_s = time.perf_counter() - start
        start = time.perf_counter()
        theirs = esda_moran_local(counts, w, args.permutations)
        esda_s = time.perf_counter() - start
        print(f"{band:8.1f} {np.diff(w.indptr).max():3d} {ours_s:8.2f} {esda_s:8.2f} "
              f"{esda_s / ours_s:9.2f} {np.corrcoef(ours.p, theirs.p_sim)[0, 1]:7.4f} "
              f"{np.abs(ours.p - theirs.p_sim).max():8.4f} {int(ours.significant.sum()):8d} "
              f"{int((theirs.p_sim <= 0.05).sum()):8d}")


if __name__ == "__main__":
    main()
