"""The forecast's count model: expected incidents per location in the next period, and
a negative binomial predictive distribution around it (see docs/methods.md, "Forecast").

Locations are hexagon cells or border sections, each with a centre in metres of a
projected CRS; incidents are (location index, time in epoch seconds UTC). At an origin
``T`` the expected count of location ``i`` in ``[T, T + L)`` is

``mu_i = a * longrun_i + b * recent_i + c * excite_i``

- ``longrun``: the mean count per period over the whole history before ``T``, shrunk
  toward the region mean (empirical Bayes, Poisson noise) and smoothed over
  neighbouring locations with a Gaussian kernel;
- ``recent``: exponentially weighted counts of the last periods (half-life
  :data:`RECENT_HALF_LIFE` periods), smoothed the same way;
- ``excite``: the near-repeat (self-exciting) term of Mohler et al. (2011): each past
  incident adds ``exp(-(T - t)/tau) * (1 - exp(-L/tau))`` (the mass of an exponential
  decay of time scale ``tau`` that falls in the period), spread over its own and nearby
  locations by a Gaussian kernel summing to 1.

The weights ``a, b, c >= 0`` and ``tau`` (from :data:`DECAY_DAYS`) maximise the Poisson
likelihood of the counts of the :data:`FIT_PERIODS` periods before ``T``, each predicted
from the incidents before its own start. The negative binomial size ``r``
(``var = mu + mu^2 / r``) maximises the likelihood of those periods' counts predicted
out of sample (weights fitted without the period), so the intervals are calibrated on
errors the model really makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from scipy import optimize, sparse, stats
from scipy.spatial import cKDTree

from geo.forecast import periods

FIT_PERIODS = 6  # periods before the origin whose counts fit the weights
RECENT_HALF_LIFE = 2.0  # periods: weight of the recent-level term halves every 2 periods
DECAY_DAYS = (7.0, 30.0, 90.0)  # candidate time scales of the self-exciting term, days
MAX_HISTORY = 120  # periods of history read at most (10 years of months)
# The model's memory: at an origin it sees the incidents of the last MEMORY_DAYS only
# (three years: three of each season; monthly long-run rates over 36 periods at most,
# weekly ones over MAX_HISTORY = 120 weeks as before, near repeats of up to 3 years of
# age, where the longest decay of 90 days leaves exp(-12) of an incident's weight). So a
# forecast reads a bounded window of the history (:func:`read_start`), whatever the
# years held (issue 21).
MEMORY_DAYS = 3 * 365 + 1
MEMORY_S = MEMORY_DAYS * 86400.0
TERMS = ("longrun", "recent", "excite")
INTERVALS = (0.80, 0.95)
_EPS = 1e-9  # incidents per period: keeps log(mu) finite where every term is 0


@dataclass(frozen=True)
class Incidents:
    """Incidents assigned to locations: ``location`` index (-1: none), ``time`` epoch
    seconds UTC, ``x``/``y`` metres of the analysis CRS."""

    location: np.ndarray
    time: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def before(self, moment: float) -> Incidents:
        """The incidents strictly before ``moment`` (epoch seconds)."""
        keep = self.time < moment
        return Incidents(self.location[keep], self.time[keep], self.x[keep], self.y[keep])


@dataclass(frozen=True)
class Locations:
    """Where counts are forecast: centres in metres and the smoothing bandwidth (metres,
    about the spacing of neighbouring centres)."""

    cx: np.ndarray
    cy: np.ndarray
    bandwidth_m: float

    def __len__(self) -> int:
        return len(self.cx)


def gaussian_kernel(locations: Locations) -> sparse.csr_matrix:
    """``K[i, j] = exp(-d_ij^2 / (2 h^2))`` for centres within ``3 h`` (``h`` the
    bandwidth, metres), self included; sparse."""
    h = locations.bandwidth_m
    xy = np.column_stack([locations.cx, locations.cy])
    tree = cKDTree(xy)
    pairs = tree.sparse_distance_matrix(tree, 3 * h, output_type="ndarray")
    n = len(locations)
    # ndarray output keeps the zero distances: each location is its own neighbour.
    i, j = pairs["i"], pairs["j"]
    values = np.exp(-(pairs["v"] ** 2) / (2 * h * h))
    return sparse.csr_matrix((values, (i, j)), shape=(n, n))


@dataclass
class Kernels:
    """The location kernel, normalised by rows (averages of neighbours: smoothing) and by
    columns (one incident's excitation spread over locations, summing to 1)."""

    smooth: sparse.csr_matrix
    spread: sparse.csr_matrix

    @classmethod
    def of(cls, locations: Locations) -> Kernels:
        k = gaussian_kernel(locations)
        rows = np.asarray(k.sum(axis=1)).ravel()
        cols = np.asarray(k.sum(axis=0)).ravel()
        return cls(sparse.diags(1 / rows) @ k, (k @ sparse.diags(1 / cols)).tocsr())


@dataclass(frozen=True)
class History:
    """Counts per period before an origin: ``counts[k, i]``, oldest period first, the
    last row the period that starts at the origin (the target when it is known)."""

    origin: datetime
    edges: np.ndarray  # epoch seconds, len(counts) + 1
    counts: np.ndarray
    periods_with_data: int  # history periods from the one holding the first incident

    @property
    def past(self) -> np.ndarray:
        return self.counts[:-1]

    @property
    def target(self) -> np.ndarray:
        return self.counts[-1]


def read_start(origin: datetime, period: str, fit_periods: int = FIT_PERIODS) -> datetime:
    """The earliest moment whose incidents a forecast at ``origin`` (fitted on the
    ``fit_periods`` periods before it) uses: :data:`MEMORY_DAYS` before its earliest fit
    origin."""
    return periods.shift(origin, period, -fit_periods) - timedelta(days=MEMORY_DAYS)


def history(incidents: Incidents, n_locations: int, origin: datetime, period: str,
            first_time: float) -> History:
    """Counts per location of the periods before ``origin`` (back to the one holding
    ``first_time``, epoch seconds, at most :data:`MAX_HISTORY` periods and none that
    starts more than :data:`MEMORY_DAYS` before ``origin``) and of the period it
    starts."""
    oldest = origin.timestamp() - MEMORY_S
    back = 1
    while (back < MAX_HISTORY and periods.shift(origin, period, -back).timestamp() > first_time
           and periods.shift(origin, period, -(back + 1)).timestamp() >= oldest):
        back += 1
    edges = periods.boundaries(origin, period, back)
    on = incidents.location >= 0
    t, loc = incidents.time[on], incidents.location[on]
    bin_index = np.searchsorted(edges, t, side="right") - 1
    inside = (bin_index >= 0) & (bin_index < len(edges) - 1)
    flat = bin_index[inside] * n_locations + loc[inside]
    counts = np.bincount(flat, minlength=(len(edges) - 1) * n_locations).astype(float)
    return History(origin, edges, counts.reshape(len(edges) - 1, n_locations), back)


def longrun_rate(past: np.ndarray, kernels: Kernels) -> np.ndarray:
    """Mean count per period, shrunk toward the region mean by empirical Bayes (the
    between-location variance over the Poisson noise ``mean / periods``) and smoothed
    over neighbours."""
    n_periods = max(len(past), 1)
    rate = past.sum(axis=0) / n_periods
    mean = rate.mean()
    between = max(rate.var() - mean / n_periods, 0.0)
    weight = between / (between + mean / n_periods) if between + mean > 0 else 0.0
    return kernels.smooth @ (mean + weight * (rate - mean))


def recent_level(past: np.ndarray, kernels: Kernels) -> np.ndarray:
    """Exponentially weighted mean count of the last periods (half-life
    :data:`RECENT_HALF_LIFE` periods), smoothed over neighbours."""
    if len(past) == 0:
        return np.zeros(past.shape[1])
    age = np.arange(len(past))[::-1]  # 0 = the most recent period
    weights = 0.5 ** (age / RECENT_HALF_LIFE)
    return kernels.smooth @ (weights @ past / weights.sum())


def excitation(incidents: Incidents, n_locations: int, origin_s: float, length_s: float,
               decay_s: float, kernels: Kernels) -> np.ndarray:
    """Expected offspring in ``[origin, origin + length)`` of the incidents before the
    origin (seconds), exponential decay of time scale ``decay_s``, spread over locations."""
    before = (incidents.time < origin_s) & (incidents.location >= 0)
    age = origin_s - incidents.time[before]
    # older ones add less than exp(-20), or are beyond the model's memory
    recent = (age < 20 * decay_s) & (age <= MEMORY_S)
    mass = np.exp(-age[recent] / decay_s) * -np.expm1(-length_s / decay_s)
    per_location = np.bincount(incidents.location[before][recent], weights=mass,
                               minlength=n_locations)
    return kernels.spread @ per_location


@dataclass(frozen=True)
class Features:
    """The terms at one origin (``values[:, k]`` for :data:`TERMS`) and the counts of the
    period the origin starts (known only when it lies in the past)."""

    values: np.ndarray
    target: np.ndarray
    history: History


class FeatureBuilder:
    """Terms of the model at any origin, each origin's computed once per decay (the
    backtest's folds share most of theirs)."""

    def __init__(self, incidents: Incidents, locations: Locations, period: str,
                 first_time: float | None = None):
        """``first_time``: when the incidents were read from a moment on
        (:func:`read_start`) and the history holds older ones, ``-inf`` (the history
        reaches back past the model's memory); None: the earliest incident's time."""
        self.incidents = incidents
        self.n = len(locations)
        self.period = period
        self.kernels = Kernels.of(locations)
        on = incidents.location >= 0
        self.first_time = (first_time if first_time is not None
                           else float(incidents.time[on].min()) if on.any() else 0.0)
        self._histories: dict[datetime, History] = {}
        self._cache: dict[tuple[datetime, float], Features] = {}

    def history(self, origin: datetime) -> History:
        if origin not in self._histories:
            self._histories[origin] = history(self.incidents, self.n, origin, self.period,
                                              self.first_time)
        return self._histories[origin]

    def at(self, origin: datetime, decay_days: float) -> Features:
        key = (origin, decay_days)
        if key not in self._cache:
            past = self.history(origin)
            start, end = past.edges[-2], past.edges[-1]
            values = np.column_stack([
                longrun_rate(past.past, self.kernels),
                recent_level(past.past, self.kernels),
                excitation(self.incidents, self.n, start, end - start, decay_days * 86400.0,
                           self.kernels),
            ])
            self._cache[key] = Features(values, past.target, past)
        return self._cache[key]


def _poisson_loss(weights, x, y):
    mu = x @ weights + _EPS
    loss = np.sum(mu - y * np.log(mu))
    gradient = x.T @ (1 - y / mu)
    return loss, gradient


def fit_weights(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Non-negative weights maximising the Poisson likelihood of counts ``y`` given the
    terms ``x`` (rows: location-periods); and the minimised negative log-likelihood
    (without the ``log y!`` constant)."""
    start = np.full(x.shape[1], 1.0 / x.shape[1])
    result = optimize.minimize(_poisson_loss, start, args=(x, y), jac=True,
                               method="L-BFGS-B", bounds=[(0, None)] * x.shape[1])
    return result.x, float(result.fun)


def fit_size(mu: np.ndarray, y: np.ndarray) -> float:
    """Negative binomial size ``r`` (``var = mu + mu^2 / r``) maximising the likelihood
    of counts ``y`` with means ``mu``; capped at 1e4 (practically Poisson)."""

    def loss(log_r):
        r = np.exp(log_r)
        return -stats.nbinom.logpmf(y, r, r / (r + mu + _EPS)).sum()

    result = optimize.minimize_scalar(loss, bounds=(np.log(0.05), np.log(1e4)),
                                      method="bounded")
    return float(np.exp(result.x))


@dataclass
class Fitted:
    """A model fitted at an origin: weights per term, decay, NB size and the fit's data."""

    weights: np.ndarray
    decay_days: float
    size: float
    fit_origins: list[datetime]
    log_likelihood: float
    fit_counts: int
    description: dict = field(default_factory=dict)

    def mean(self, features: Features) -> np.ndarray:
        return features.values @ self.weights + _EPS


def fit(builder: FeatureBuilder, origin: datetime, fit_periods: int = FIT_PERIODS) -> Fitted:
    """Fit the weights, the decay and the NB size on the ``fit_periods`` periods before
    ``origin``, each predicted from the incidents before its own start."""
    origins = [periods.shift(origin, builder.period, -k) for k in range(fit_periods, 0, -1)]
    best = None
    for decay in DECAY_DAYS:
        parts = [builder.at(o, decay) for o in origins]
        x = np.vstack([p.values for p in parts])
        y = np.concatenate([p.target for p in parts])
        weights, loss = fit_weights(x, y)
        if best is None or loss < best[1]:
            best = (weights, loss, decay, parts)
    weights, loss, decay, parts = best
    # Out of sample: each period's means from weights fitted on the other periods.
    mu, y = [], []
    for k, part in enumerate(parts):
        others = [p for m, p in enumerate(parts) if m != k]
        held_out, _ = fit_weights(np.vstack([p.values for p in others]),
                                  np.concatenate([p.target for p in others]))
        mu.append(part.values @ held_out + _EPS)
        y.append(part.target)
    size = fit_size(np.concatenate(mu), np.concatenate(y))
    return Fitted(weights, decay, size, origins, -loss, int(sum(len(p.target) for p in parts)))


def intervals(mu: np.ndarray, size: float) -> dict[str, np.ndarray]:
    """Central predictive intervals of the negative binomial (integer counts):
    ``lower_80 = F^-1(0.10)``, ``upper_80 = F^-1(0.90)``, likewise for 95 %."""
    p = size / (size + mu)
    out = {}
    for level in INTERVALS:
        tail = (1 - level) / 2
        name = f"{round(level * 100)}"
        out[f"lower_{name}"] = stats.nbinom.ppf(tail, size, p).astype(np.int64)
        out[f"upper_{name}"] = stats.nbinom.ppf(1 - tail, size, p).astype(np.int64)
    return out


def probability_of_any(mu: np.ndarray, size: float) -> np.ndarray:
    """P(at least one incident in the period) under the predictive distribution."""
    return 1 - stats.nbinom.pmf(0, size, size / (size + mu))
