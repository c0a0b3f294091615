"""Does a hot-spot map predict? Hit rate, PAI, PEI and recovery of planted hot-spots.

Workflow: score cells on a training window (Gi* z, kernel density, counts...), take
the top ``area_share`` of the study area as hot-spots (:func:`top_cells`), then count
the *next* window's incidents per cell and score the selection.

The cells of one evaluation are taken to have equal area (one hexagon grid, see
:mod:`geo.hotspots.hexgrid`), so area shares are cell shares: the study area A is the number
of cells and the hot-spot area a is the number of selected cells.

- hit rate = n / N: the share of the next window's N incidents that fall in hot cells.
- PAI = (n / N) / (a / A) (Chainey, Tompson & Uhlig 2008).
- PAI* = the PAI of the a cells that really held the most next-window incidents
  (the best achievable with the same area); PEI = PAI / PAI* (Hunt 2016), 0..1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


def top_cells(scores, area_share: float) -> np.ndarray:
    """The highest-scoring cells covering ``area_share`` of the study area.

    Takes ``k = floor(area_share * n_cells)`` cells (at least 1), never more area than
    asked. Cells are ranked by score, highest first; equal scores keep the input order
    (a stable sort), so the selection is deterministic. NaN scores rank last.

    Parameters
    ----------
    scores : array_like
        One score per cell (higher = hotter).
    area_share : float
        Share of the study area, 0 < area_share <= 1 (e.g. 0.05 for 5 %).

    Returns
    -------
    numpy.ndarray of bool
        True for the selected cells.
    """
    scores = np.asarray(scores, dtype=float).ravel()
    if not 0 < area_share <= 1:
        raise ValueError(f"area_share must be in (0, 1], got {area_share}")
    if scores.size == 0:
        raise ValueError("no cells to select from")
    k = max(1, int(np.floor(area_share * scores.size + 1e-9)))
    order = np.argsort(-np.nan_to_num(scores, nan=-np.inf), kind="stable")
    selected = np.zeros(scores.size, dtype=bool)
    selected[order[:k]] = True
    return selected


def _counts_and_mask(next_counts, hot):
    counts = np.asarray(next_counts, dtype=float).ravel()
    mask = np.asarray(hot, dtype=bool).ravel()
    if counts.shape != mask.shape:
        raise ValueError("next_counts and hot must have one entry per cell")
    if counts.sum() <= 0:
        raise ValueError("the evaluation window has no incidents")
    if not mask.any():
        raise ValueError("no hot cells selected")
    return counts, mask


def hit_rate(next_counts, hot) -> float:
    """Share of the next window's incidents that fall in the hot cells (n / N)."""
    counts, mask = _counts_and_mask(next_counts, hot)
    return float(counts[mask].sum() / counts.sum())


def pai(next_counts, hot) -> float:
    """Predictive Accuracy Index ``(n / N) / (a / A)`` with equal-area cells."""
    counts, mask = _counts_and_mask(next_counts, hot)
    return hit_rate(counts, mask) / (mask.sum() / mask.size)


def pai_star(next_counts, n_hot: int) -> float:
    """Best PAI achievable with ``n_hot`` cells: those with the most next-window incidents."""
    counts = np.asarray(next_counts, dtype=float).ravel()
    best = np.zeros(counts.size, dtype=bool)
    best[np.argsort(-counts, kind="stable")[:n_hot]] = True
    return pai(counts, best)


def pei(next_counts, hot) -> float:
    """Predictive Efficiency Index ``PAI / PAI*`` (Hunt 2016), 0..1."""
    counts, mask = _counts_and_mask(next_counts, hot)
    return pai(counts, mask) / pai_star(counts, int(mask.sum()))


@dataclass(frozen=True)
class Recovery:
    """How well hot cells recover planted hot-spots."""

    precision: float  # share of hot cells that lie in some planted hot-spot
    recall: float  # share of planted hot-spots that hold at least one hot cell
    matched_cells: np.ndarray  # bool per hot cell
    found_spots: np.ndarray  # bool per planted hot-spot


def recovery(hot_cells_xy, planted_centres_xy, planted_radii_m) -> Recovery:
    """Precision and recall of hot cells against planted (synthetic) hot-spots.

    Matching rule: a hot cell matches a planted hot-spot when the cell centre lies
    within the spot's radius of its centre (distance <= radius, metres). Precision is
    the share of hot cells that match at least one spot (0 when there are no hot
    cells); recall is the share of spots matched by at least one hot cell.

    Parameters
    ----------
    hot_cells_xy : array_like
        (m, 2) centres of the cells flagged hot, metres (projected CRS).
    planted_centres_xy : array_like
        (k, 2) centres of the planted hot-spots, same CRS.
    planted_radii_m : array_like or float
        Radius of each planted hot-spot in metres.
    """
    cells = np.asarray(hot_cells_xy, dtype=float).reshape(-1, 2)
    centres = np.asarray(planted_centres_xy, dtype=float).reshape(-1, 2)
    radii = np.broadcast_to(np.asarray(planted_radii_m, dtype=float), (len(centres),))
    if len(centres) == 0:
        raise ValueError("no planted hot-spots to recover")
    matched = np.zeros(len(cells), dtype=bool)
    found = np.zeros(len(centres), dtype=bool)
    if len(cells):
        tree = cKDTree(cells)
        pairs = cKDTree(centres).sparse_distance_matrix(tree, radii.max(), output_type="ndarray")
        within = pairs["v"] <= radii[pairs["i"]]
        matched[pairs["j"][within]] = True
        found[pairs["i"][within]] = True
    precision = float(matched.mean()) if len(cells) else 0.0
    return Recovery(precision, float(found.mean()), matched, found)
