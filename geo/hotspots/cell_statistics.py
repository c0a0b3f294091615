"""The local statistics of a hot-spot map on its cells: Gi* and Local Moran's I with the
chosen neighbourhood and inference, and Gi* of rates (incidents per km of border).

Each function takes the grid's cells and counts and returns the per-cell properties and
the metadata that says how they were computed, in the words of ``docs/methods.md``.
Neighbourhoods (``NEIGHBOURHOODS``):

- ``band``: the cells whose centres are within the distance band (binary); the fast
  lattice path of ``geo.hotspots.gridweights``;
- ``knn``: each cell's k nearest cells (binary; ArcGIS "K nearest neighbors");
- ``inverse_distance``: the cells within the band, weighted by the lattice spacing
  over the distance (the nearest ring weighs 1; ArcGIS "Inverse distance" with a
  threshold); the cell itself weighs 1 in Gi*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo.hotspots import neighbourhoods, permutation, rates, spatial_stats
from geo.hotspots.inputs import Grid

NEIGHBOURHOODS = ("band", "knn", "inverse_distance")
INFERENCES = ("analytic", "permutation")
LISA_ALPHA = 0.05


@dataclass(frozen=True)
class Neighbourhood:
    """How a cell's neighbours are chosen: ``kind`` (one of :data:`NEIGHBOURHOODS`), the
    distance band in metres (band, inverse distance) and ``k`` (knn)."""

    kind: str = "band"
    band_m: float | None = None
    k: int = 8

    def describe(self) -> dict:
        if self.kind == "knn":
            return {"neighbourhood": "knn", "k": self.k,
                    "weights": f"binary: each cell's {self.k} nearest cells (centres; "
                               "ties to the lower cell index), as libpysal.weights.KNN"}
        if self.kind == "inverse_distance":
            return {"neighbourhood": "inverse_distance",
                    "weights": "inverse distance: spacing / distance for the cells within "
                               "distance_band_m (the nearest ring weighs 1), the cell "
                               "itself 1 in Gi*"}
        return {"neighbourhood": "band", "weights": "fixed distance band, binary"}


def _weights(grid: Grid, neighbourhood: Neighbourhood, include_self: bool):
    """The sparse weights of a knn or inverse-distance neighbourhood on the cells."""
    if neighbourhood.kind == "knn":
        return neighbourhoods.knn_weights(grid.cx, grid.cy, neighbourhood.k, include_self)
    spacing = np.sqrt(3.0) * grid.size  # centre to centre of adjacent hexagons, metres
    return neighbourhoods.inverse_distance_weights(
        grid.cx, grid.cy, neighbourhood.band_m, include_self, unit_m=spacing)


def gi_star_cells(grid: Grid, counts: np.ndarray, neighbourhood: Neighbourhood,
                  fdr: bool) -> tuple[dict, dict]:
    """Gi* z, p and bin (-3..3, 99/95/90 %, Benjamini-Hochberg when ``fdr``) per cell.

    With binary weights (a distance band or k nearest neighbours) also what the z
    compares, for a reader: ``neighbourhood_count``, the incidents of the cell and its
    neighbours (self included, as Gi*), and ``neighbourhood_cells``, how many cells
    that is."""
    explained = {}
    if neighbourhood.kind == "band":
        z = grid.neighbourhood.gi_star(counts, neighbourhood.band_m)
        weights = grid.neighbourhood.band(neighbourhood.band_m)
        explained = {"neighbourhood_count": weights.lag(counts),
                     "neighbourhood_cells": weights.row_sums}
    else:
        w = _weights(grid, neighbourhood, include_self=True)
        z = spatial_stats.gi_star(counts, w)
        if neighbourhood.kind == "knn":
            explained = {"neighbourhood_count": np.asarray(w @ counts, dtype=float).ravel(),
                         "neighbourhood_cells": np.asarray(w.sum(axis=1)).ravel()}
    p = spatial_stats.p_values(z)
    return ({"z": z, "p": p, "bin": spatial_stats.gi_bins(z, p, fdr=fdr), **explained},
            {"self_included": True, "alpha": list(spatial_stats.BIN_ALPHAS),
             "bins": "-3..3: 99/95/90 % cold/hot, 0 not significant"})


def lisa_cells(grid: Grid, counts: np.ndarray, neighbourhood: Neighbourhood, fdr: bool,
               inference: str = "analytic", permutations: int = 999,
               seed: int = permutation.DEFAULT_SEED) -> tuple[dict, dict]:
    """Local Moran's I, its z and p, and the HH/LL/HL/LH label per cell: row-standardised
    weights of the same neighbours without the cell itself; analytic inference (total
    randomisation) or conditional permutation (seeded)."""
    if neighbourhood.kind == "band":
        w = grid.neighbourhood.neighbour_matrix(neighbourhood.band_m)
    else:
        w = _weights(grid, neighbourhood, include_self=False)
    w = spatial_stats.row_standardise(w)
    if inference == "permutation":
        lisa = permutation.permutation_local_morans_i(
            counts, w, permutations=permutations, seed=seed, alpha=LISA_ALPHA, fdr=fdr)
        significance = {"significance": "conditional permutation",
                        "permutations": permutations, "seed": seed,
                        "p": "pseudo p = (extreme draws + 1) / (permutations + 1), "
                             "folded as esda; ties with the observed I count as extreme"}
    else:
        lisa = spatial_stats.local_morans_i(counts, w, alpha=LISA_ALPHA, fdr=fdr)
        significance = {"significance": "analytic (total randomisation)"}
    return ({"local_i": lisa.i, "z": lisa.z, "p": lisa.p, "cluster": lisa.label},
            {"self_included": False, "row_standardised": True, "alpha": LISA_ALPHA,
             **significance})


def border_rate_cells(grid: Grid, counts: np.ndarray, border_km: np.ndarray,
                      band_m: float, fdr: bool) -> tuple[dict, dict]:
    """Gi* of incidents per km of border section in each cell (``border_km``, e.g.
    ``geo.hotspots.rates.border_km_per_cell``), among the cells a section crosses; the
    other cells keep their count and get no rate or statistic (null z and p, bin 0)."""
    rate = rates.rates(counts, border_km)
    rated = np.isfinite(rate)
    z = rates.gi_star_of_rates(rate, grid.cx, grid.cy, band_m)
    p = spatial_stats.p_values(z)
    bins = np.zeros(len(grid), dtype=np.int8)
    bins[rated] = spatial_stats.gi_bins(z[rated], p[rated], fdr=fdr)
    return ({"border_km": border_km, "rate": rate, "z": z, "p": p, "bin": bins},
            {"rate": "border_km", "rate_unit": "incidents per km of border section",
             "rated_cells": int(rated.sum()), "self_included": True,
             "alpha": list(spatial_stats.BIN_ALPHAS),
             "bins": "-3..3 among the cells a border section crosses (FDR over those); "
                     "cells without border have no rate and no statistic"})


__all__ = ["INFERENCES", "NEIGHBOURHOODS", "Neighbourhood", "border_rate_cells",
           "gi_star_cells", "lisa_cells"]
