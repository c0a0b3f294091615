"""SYNTHETIC incidents from a self-exciting (Hawkes) point process with known parameters,
to test the forecast on data whose truth is known. Nothing here is real data.

The process (Mohler et al. 2011, cluster form): background incidents arrive at
``background_per_day`` per day, placed around fixed background hot-spots (Gaussian,
``hotspot_sigma_m``) or uniformly over the square; every incident, background or not,
triggers ``Poisson(branching)`` offspring, each ``Exponential(decay_days)`` days later
and ``Normal(0, offspring_sigma_m)`` metres away in x and y. Offspring beyond the end
are dropped; offspring outside the square are kept (the caller's grid decides).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PROVENANCE = "synthetic"
DAY_S = 86400.0


@dataclass(frozen=True)
class HawkesParameters:
    """Parameters of the synthetic process (metres, days)."""

    background_per_day: float = 20.0
    branching: float = 0.5  # mean offspring per incident (< 1: the process is stable)
    decay_days: float = 10.0  # mean delay of an offspring
    offspring_sigma_m: float = 1500.0
    hotspot_sigma_m: float = 3000.0
    hotspots: int = 8
    hotspot_share: float = 0.6  # of background incidents; the rest uniform
    side_m: float = 60_000.0  # the square [x0, x0 + side] x [y0, y0 + side]
    x0: float = 400_000.0  # metres of EPSG:32638 (inside Georgia's frame; still synthetic)
    y0: float = 4_580_000.0


@dataclass
class HawkesIncidents:
    """SYNTHETIC incidents: ``x``, ``y`` metres (EPSG:32638), ``time`` epoch seconds
    UTC, ``generation`` (0 background), with the parameters that drew them."""

    x: np.ndarray
    y: np.ndarray
    time: np.ndarray
    generation: np.ndarray
    parameters: HawkesParameters
    provenance: str = PROVENANCE
    hotspot_centres: np.ndarray = field(default_factory=lambda: np.empty((0, 2)))


def _offspring(rng, x, y, t, p: HawkesParameters, end_s: float):
    n = rng.poisson(p.branching, len(t))
    parent = np.repeat(np.arange(len(t)), n)
    ct = t[parent] + rng.exponential(p.decay_days * DAY_S, len(parent))
    cx = x[parent] + rng.normal(0, p.offspring_sigma_m, len(parent))
    cy = y[parent] + rng.normal(0, p.offspring_sigma_m, len(parent))
    keep = ct < end_s
    return cx[keep], cy[keep], ct[keep]


def hawkes_incidents(start_s: float, end_s: float, parameters: HawkesParameters | None = None,
                     seed: int = 18) -> HawkesIncidents:
    """Draw SYNTHETIC incidents in ``[start_s, end_s)`` (epoch seconds UTC).

    Parameters
    ----------
    start_s, end_s : float
        The window, epoch seconds UTC.
    parameters : HawkesParameters, optional
    seed : int
        Seed of the random generator (the same seed gives the same incidents).

    Returns
    -------
    HawkesIncidents
        Sorted by time.
    """
    p = parameters or HawkesParameters()
    rng = np.random.default_rng(seed)
    days = (end_s - start_s) / DAY_S
    n = rng.poisson(p.background_per_day * days)
    centres = np.column_stack([p.x0 + rng.uniform(0.15, 0.85, p.hotspots) * p.side_m,
                               p.y0 + rng.uniform(0.15, 0.85, p.hotspots) * p.side_m])
    around = rng.random(n) < p.hotspot_share
    which = rng.integers(0, p.hotspots, n)
    x = np.where(around, centres[which, 0] + rng.normal(0, p.hotspot_sigma_m, n),
                 p.x0 + rng.uniform(0, p.side_m, n))
    y = np.where(around, centres[which, 1] + rng.normal(0, p.hotspot_sigma_m, n),
                 p.y0 + rng.uniform(0, p.side_m, n))
    t = rng.uniform(start_s, end_s, n)
    xs, ys, ts, gens = [x], [y], [t], [np.zeros(len(t), dtype=np.int64)]
    generation = 0
    while len(t):
        generation += 1
        x, y, t = _offspring(rng, x, y, t, p, end_s)
        xs.append(x), ys.append(y), ts.append(t)
        gens.append(np.full(len(t), generation, dtype=np.int64))
    x, y, t, g = (np.concatenate(a) for a in (xs, ys, ts, gens))
    order = np.argsort(t, kind="stable")
    return HawkesIncidents(x[order], y[order], t[order], g[order], p,
                           hotspot_centres=centres)
