"""CIRAM risk levels of border sections: threat x vulnerability x impact, explained.

Pure numpy/scipy, no Flask. The model is configured by one YAML file (default
``geo/risk/risk.yaml``, read by :func:`load_risk_config`); the file's comments document every
number. One assessment scores all sections of a period at once (:func:`assess_sections`):

- each **factor** of a section (incidents per km, surveillance level, ...) gets a score
  1..5 from a :class:`Scale` (four ascending cut points, absolute thresholds or quantiles
  over the sections; ``score = 1 + number of cuts the value is strictly above``) or from
  a lookup table (surveillance level, terrain class, hot-spot flag);
- each **component** (threat, vulnerability, impact) is the weighted mean of its factor
  scores, rounded half up to an integer 1..5. Threat weights magnitude and likelihood,
  each a weighted mean of its own factors; the effective weight of a threat factor is the
  product of the two weights;
- **risk** = T x V x I (1..125), banded into the EUROSUR levels ``low`` / ``medium`` /
  ``high`` (``critical`` is a supervisor's decision, never computed here);
- every section carries its **explanation**: per component, each factor's value (with its
  unit), score, weight and share of the component's weighted score (before rounding), so
  the shares of one component sum to 1.

Counts come from equal-length periods. Count thresholds are per ``reference_days`` (30 by
default); a period of another length is scaled by ``reference_days / period_days`` before
scoring. The count model (:func:`count_alerts`, the likelihood probability) is Poisson or
negative binomial; the negative-binomial size ``r`` comes per section from the method of
moments on the history counts, ``r = m^2 / (s^2 - m)`` (mean ``m``, sample variance
``s^2`` with ddof 1), with the mean set to the section's expectation, so that
``var = mu + mu^2 / r``; sections that are not over-dispersed (``s^2 <= m`` or ``m = 0``)
or have too short a history fall back to Poisson.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

import numpy as np
from scipy import stats

from geo.hotspots.evaluation import top_cells
from geo.risk.risk_config import (
    CATEGORY_ORDER,
    COMPONENTS,
    RiskConfig,
    config_hash,
    load_risk_config,
)
from geo.vocabulary import TERRAIN_CLASSES

# =================================================================================== inputs


def _array(name: str, values, n: int | None, dtype=float) -> np.ndarray:
    array = np.asarray(values, dtype=dtype)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (one entry per section)")
    if n is not None and array.size != n:
        raise ValueError(f"{name} has {array.size} entries, expected {n} (one per section)")
    return array


def _counts(name: str, values, n: int | None = None, ndim: int = 1) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != ndim or (n is not None and array.shape[0] != n):
        raise ValueError(f"{name} must have shape {'(n,)' if ndim == 1 else '(n, k)'} "
                         f"with n = {n} sections, got {array.shape}")
    if not np.isfinite(array).all() or (array < 0).any() or (array != np.round(array)).any():
        raise ValueError(f"{name} must hold non-negative whole counts")
    return array.astype(np.int64)


@dataclass(frozen=True)
class SectionInputs:
    """What the model needs per border section for one period (one entry per section).

    Parameters
    ----------
    section_ids : array_like, shape (n,)
        Identifiers of the sections (e.g. ``border_segments.id``), returned as given.
    length_m : array_like of float, shape (n,)
        Section length in metres (analysis CRS), > 0.
    period_days : float
        Length of the assessed period in days (counts are scaled to the configuration's
        ``reference_days`` for scoring).
    category_counts : array_like of int, shape (n, len(CATEGORY_ORDER))
        Incidents in the period within the corridor whose nearest section this is, per
        category, columns in :data:`CATEGORY_ORDER`. The model applies the category
        severities of the configuration (so the result follows the config's hash).
    persons : array_like of int, shape (n,)
        Persons involved in those incidents (sum of ``persons_count``).
    life_risk_count : array_like of int, shape (n,)
        Those incidents with a risk to life under ``impact.life_risk.rule``.
    baseline_rate : array_like of float, shape (n,)
        Expected incidents per period from history (e.g. the mean of ``history``); may be 0.
    history : array_like of int, shape (n, k)
        Incident counts of the k previous equal-length periods (k may be 0), for the
        dispersion of the count model.
    touches_hotspot : array_like of bool, shape (n,)
        Whether the section touches a Gi* hot-spot.
    surveillance_level : array_like of int, shape (n,)
        0..5, higher = better surveillance.
    terrain_class : array_like of str, shape (n,)
        One of ``geo.vocabulary.TERRAIN_CLASSES``.
    crossing_distance_m : array_like of float, shape (n,)
        Metres to the nearest crossing point (``inf`` when there is none).
    inland_share : array_like of float, shape (n,)
        Share 0..1 of the incidents detected late under ``vulnerability.inland_share.rule``;
        NaN when the section has no incidents (it is ignored then anyway).
    forecast_expected, forecast_size : array_like of float, shape (n,), optional
        Expected incidents of the period after this one and the negative binomial size
        (``var = mu + mu^2 / size``) of ``geo.forecast``, for the likelihood when the
        configuration's ``distribution.likelihood`` is ``forecast``; NaN where no
        forecast could be fitted (that section's history model is used).
    window_category_counts, window_persons, window_life_risk_count : array_like, optional
        The same counts as ``category_counts``, ``persons`` and ``life_risk_count`` over
        the period and its ``k`` baseline periods together (``k + 1`` periods), for an
        impact measured over that window (``impact.window: period_and_baseline``).
        Default: the period's own counts (a window of one period).
    """

    section_ids: np.ndarray
    length_m: np.ndarray
    period_days: float
    category_counts: np.ndarray
    persons: np.ndarray
    life_risk_count: np.ndarray
    baseline_rate: np.ndarray
    history: np.ndarray
    touches_hotspot: np.ndarray
    surveillance_level: np.ndarray
    terrain_class: np.ndarray
    crossing_distance_m: np.ndarray
    inland_share: np.ndarray
    window_category_counts: np.ndarray | None = None
    window_persons: np.ndarray | None = None
    window_life_risk_count: np.ndarray | None = None
    forecast_expected: np.ndarray | None = None
    forecast_size: np.ndarray | None = None

    def __post_init__(self):
        ids = _array("section_ids", self.section_ids, None, dtype=object)
        n = ids.size
        values = {"section_ids": ids}
        values["length_m"] = _array("length_m", self.length_m, n)
        if not (np.isfinite(values["length_m"]) & (values["length_m"] > 0)).all():
            raise ValueError("length_m must be positive lengths in metres")
        if not (math.isfinite(self.period_days) and self.period_days > 0):
            raise ValueError(f"period_days must be a positive number of days, "
                             f"got {self.period_days}")
        counts = _counts("category_counts", self.category_counts, n, ndim=2)
        if counts.shape[1] != len(CATEGORY_ORDER):
            raise ValueError(f"category_counts needs {len(CATEGORY_ORDER)} columns, in the "
                             f"order of CATEGORY_ORDER, got {counts.shape[1]}")
        values["category_counts"] = counts
        values["persons"] = _counts("persons", self.persons, n)
        values["life_risk_count"] = _counts("life_risk_count", self.life_risk_count, n)
        if (values["life_risk_count"] > counts.sum(axis=1)).any():
            raise ValueError("life_risk_count cannot exceed the section's incidents")
        values["baseline_rate"] = _array("baseline_rate", self.baseline_rate, n)
        if not (np.isfinite(values["baseline_rate"]) & (values["baseline_rate"] >= 0)).all():
            raise ValueError("baseline_rate must be non-negative incidents per period")
        history = np.asarray(self.history, dtype=float)
        if history.ndim == 1 and history.size == 0:
            history = history.reshape(n, 0)
        values["history"] = _counts("history", history, n, ndim=2)
        values["touches_hotspot"] = _array("touches_hotspot", self.touches_hotspot, n,
                                           dtype=bool)
        level = _counts("surveillance_level", self.surveillance_level, n)
        if (level > 5).any():
            raise ValueError("surveillance_level must be 0..5")
        values["surveillance_level"] = level
        terrain = _array("terrain_class", self.terrain_class, n, dtype=object)
        unknown = sorted({str(t) for t in terrain if t not in TERRAIN_CLASSES})
        if unknown:
            raise ValueError(f"unknown terrain_class {unknown}; expected one of "
                             f"{', '.join(TERRAIN_CLASSES)}")
        values["terrain_class"] = terrain
        distance = _array("crossing_distance_m", self.crossing_distance_m, n)
        if np.isnan(distance).any() or (distance < 0).any():
            raise ValueError("crossing_distance_m must be non-negative metres (inf for none)")
        values["crossing_distance_m"] = distance
        share = _array("inland_share", self.inland_share, n)
        if ((share < 0) | (share > 1)).any():
            raise ValueError("inland_share must be in 0..1 (NaN without incidents)")
        values["inland_share"] = share
        window = (self.window_category_counts, self.window_persons,
                  self.window_life_risk_count)
        if any(w is None for w in window) and not all(w is None for w in window):
            raise ValueError("give all three window counts or none")
        if window[0] is None:
            values["window_category_counts"] = counts
            values["window_persons"] = values["persons"]
            values["window_life_risk_count"] = values["life_risk_count"]
        else:
            window_counts = _counts("window_category_counts", window[0], n, ndim=2)
            if window_counts.shape != counts.shape or (window_counts < counts).any():
                raise ValueError("window_category_counts must have the shape of "
                                 "category_counts and hold at least the period's counts")
            values["window_category_counts"] = window_counts
            values["window_persons"] = _counts("window_persons", window[1], n)
            values["window_life_risk_count"] = _counts("window_life_risk_count", window[2], n)
            if (values["window_life_risk_count"] > window_counts.sum(axis=1)).any():
                raise ValueError("window_life_risk_count cannot exceed the window's incidents")
        if (self.forecast_expected is None) != (self.forecast_size is None):
            raise ValueError("give forecast_expected and forecast_size together")
        if self.forecast_expected is not None:
            values["forecast_expected"] = _array("forecast_expected", self.forecast_expected, n)
            values["forecast_size"] = _array("forecast_size", self.forecast_size, n)
        for name, value in values.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "period_days", float(self.period_days))

    @property
    def n(self) -> int:
        """Number of sections."""
        return int(self.section_ids.size)

    @property
    def incidents(self) -> np.ndarray:
        """Incidents per section in the period (row sums of ``category_counts``)."""
        return self.category_counts.sum(axis=1)

    @property
    def window_periods(self) -> int:
        """Periods the ``window_*`` counts cover: 1, or 1 + the history's k when given."""
        given = self.window_category_counts is not self.category_counts
        return 1 + self.history.shape[1] if given else 1

    def to_json(self) -> dict[str, Any]:
        """JSON-ready lists (NaN and inf -> None) to store with an assessment."""
        out: dict[str, Any] = {"period_days": self.period_days,
                               "category_order": list(CATEGORY_ORDER)}
        for f in fields(self):
            if f.name == "period_days":
                continue
            out[f.name] = _json_ready(getattr(self, f.name))
        return out


def _json_ready(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_json_ready(v) for v in value.tolist()]
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _json_ready(value.item())
    return value


# =================================================================================== model


# A weighted mean that should be exactly x.5 may come out a hair below it in floating point.
_ROUNDING_EPS = 1e-9


def _round_half_up(weighted) -> np.ndarray:
    """Component score 1..5 from a weighted mean of factor scores (2.5 -> 3)."""
    return np.clip(np.floor(np.asarray(weighted) + 0.5 + _ROUNDING_EPS), 1, 5).astype(int)


def _nb_size(history, config: RiskConfig) -> np.ndarray:
    """Negative-binomial size r per section by the method of moments; NaN -> Poisson."""
    history = np.asarray(history, dtype=float)
    size = np.full(history.shape[0], np.nan)
    k = history.shape[1]
    if config.distribution != "negative_binomial" or k < config.min_history_periods:
        return size
    mean = history.mean(axis=1)
    variance = history.var(axis=1, ddof=1)
    over = (mean > 0) & (variance > mean)
    size[over] = mean[over] ** 2 / (variance[over] - mean[over])
    return size


def _upper_tail(observed, mean, size) -> np.ndarray:
    """P(X >= observed): Poisson(mean) where size is NaN, else NB(size, mean)."""
    observed = np.asarray(observed)
    p = np.empty(observed.shape, dtype=float)
    poisson = np.isnan(size)
    p[poisson] = stats.poisson.sf(observed[poisson] - 1, mean[poisson])
    nb = ~poisson
    r = size[nb]
    p[nb] = stats.nbinom.sf(observed[nb] - 1, r, r / (r + mean[nb]))
    return p


@dataclass(frozen=True)
class FactorScores:
    """One factor of one component, for all sections.

    ``value`` is what the scale scored (in ``unit``); ``weight`` the factor's effective
    weight in its component; ``share = weight * score / sum(weight * score)`` over the
    component's factors, i.e. the factor's share of the component's weighted score.
    """

    component: str
    name: str
    unit: str | None
    value: np.ndarray
    score: np.ndarray
    weight: float
    share: np.ndarray


@dataclass(frozen=True)
class RiskResult:
    """Scores of every section of one assessment (arrays in the order of the inputs).

    ``threat``, ``vulnerability`` and ``impact`` are ints 1..5, ``risk`` their product
    1..125, ``level`` ``low``/``medium``/``high``; ``*_weighted`` are the weighted means
    before rounding (floats 1..5), ``magnitude`` and ``likelihood`` the two halves of the
    threat (floats 1..5). ``likelihood_probability`` is P(at least one incident next
    period), with ``expected_next`` (incidents per period) its mean. ``rank`` is 1 for the
    highest risk, ties sharing a rank ("1224" ranking).
    """

    section_ids: np.ndarray
    threat: np.ndarray
    vulnerability: np.ndarray
    impact: np.ndarray
    risk: np.ndarray
    level: np.ndarray
    rank: np.ndarray
    threat_weighted: np.ndarray
    vulnerability_weighted: np.ndarray
    impact_weighted: np.ndarray
    magnitude: np.ndarray
    likelihood: np.ndarray
    likelihood_probability: np.ndarray
    expected_next: np.ndarray
    factors: tuple[FactorScores, ...]
    config_sha256: str
    notes: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def factor(self, name: str) -> FactorScores:
        """The factor called ``name`` (see ``THREAT_FACTORS`` etc.)."""
        for factor in self.factors:
            if factor.name == name:
                return factor
        raise KeyError(name)

    @cached_property
    def explanations(self) -> list[dict[str, list[dict[str, Any]]]]:
        """Per section: for each component, its factors, largest share first.

        Each factor is ``{"factor", "value", "unit", "score", "weight", "share", "note"}``;
        a value that is not a finite number is None and ``note`` says why.
        """
        out = []
        for i in range(self.section_ids.size):
            by_component: dict[str, list[dict[str, Any]]] = {c: [] for c in COMPONENTS}
            for factor in self.factors:
                value = factor.value[i]
                value = value.item() if isinstance(value, np.generic) else value
                if isinstance(value, float) and not math.isfinite(value):
                    value = None
                by_component[factor.component].append({
                    "factor": factor.name,
                    "value": value,
                    "unit": factor.unit,
                    "score": int(factor.score[i]),
                    "weight": factor.weight,
                    "share": float(factor.share[i]),
                    "note": self.notes[factor.name][i] if factor.name in self.notes else None,
                })
            for items in by_component.values():
                items.sort(key=lambda item: -item["share"])  # stable: config order on ties
            out.append(by_component)
        return out

    def records(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per section: scores, level, rank and explanation."""
        return [
            {
                "section_id": _json_ready(self.section_ids[i]),
                "threat": int(self.threat[i]),
                "vulnerability": int(self.vulnerability[i]),
                "impact": int(self.impact[i]),
                "risk": int(self.risk[i]),
                "level": str(self.level[i]),
                "rank": int(self.rank[i]),
                "magnitude": float(self.magnitude[i]),
                "likelihood": float(self.likelihood[i]),
                "likelihood_probability": float(self.likelihood_probability[i]),
                "expected_next": float(self.expected_next[i]),
                "explanation": self.explanations[i],
            }
            for i in range(self.section_ids.size)
        ]


def _component(name: str, weights: Mapping[str, float], scores: dict[str, np.ndarray],
               values: dict[str, np.ndarray], units: dict[str, str | None]):
    """Weighted mean of factor scores and each factor's share of it."""
    weighted = sum(weights[f] * scores[f] for f in weights)
    # Scores are >= 1 and weights sum to 1, so the weighted mean is >= 1: no zero division.
    factors = tuple(
        FactorScores(name, f, units[f], values[f], scores[f], float(weights[f]),
                     weights[f] * scores[f] / weighted)
        for f in weights
    )
    return np.asarray(weighted, dtype=float), factors


def _notes(mask, text: str) -> np.ndarray:
    return np.where(mask, text, None).astype(object)


def assess_sections(inputs: SectionInputs, config: RiskConfig | None = None) -> RiskResult:
    """Score threat, vulnerability, impact and risk of every section (vectorised).

    Threat factors: incidents and persons per km per reference period (magnitude); the
    count against the section's baseline (``rate_ratio``), P(at least one incident next
    period) under the configured count model with mean ``(count + k * baseline_rate) /
    (k + 1)`` (the period counted as one more baseline period, k = history periods) or,
    with ``distribution.likelihood: forecast``, under the forecast's negative binomial
    (``inputs.forecast_expected``, ``inputs.forecast_size``), and
    whether the section touches a Gi* hot-spot (likelihood). Vulnerability factors:
    surveillance level, terrain class, metres to the nearest crossing point, share of
    incidents detected late (ignored, scored ``when_no_incidents``, when the section has
    no incidents). Impact factors: mean (or max) category severity of the incidents,
    persons and life-risk incidents per reference period, measured over the period
    alone or, with ``impact.window: period_and_baseline``, over the period and its
    baseline periods together (the ``window_*`` inputs; counts become means per
    reference period): the impact characterises the kind of activity at a section,
    which one month's handful of incidents measures too noisily.

    Parameters
    ----------
    inputs : SectionInputs
        One entry per section for the period.
    config : RiskConfig, optional
        Default: :func:`load_risk_config` of ``geo/risk/risk.yaml``.

    Returns
    -------
    RiskResult
    """
    config = config if config is not None else load_risk_config()
    threat_cfg, vuln_cfg, impact_cfg = config.threat, config.vulnerability, config.impact
    per = f"per {config.reference_days:g} d"
    to_reference = config.reference_days / inputs.period_days
    incidents = inputs.incidents
    km = inputs.length_m / 1000.0
    none = incidents == 0

    # ---- threat: magnitude and likelihood
    baseline = inputs.baseline_rate
    new_activity = (baseline == 0) & (incidents > 0)
    ratio = np.divide(incidents, baseline, out=np.where(new_activity, np.inf, 0.0),
                      where=baseline > 0)
    k = inputs.history.shape[1]
    expected_next = (incidents + k * baseline) / (k + 1)
    size = _nb_size(inputs.history, config)
    if config.likelihood_source == "forecast" and inputs.forecast_expected is not None:
        # the forecast where one was fitted, the history's model elsewhere
        fitted = np.isfinite(inputs.forecast_expected)
        expected_next = np.where(fitted, inputs.forecast_expected, expected_next)
        size = np.where(fitted, inputs.forecast_size, size)
    probability = _upper_tail(np.ones(inputs.n, dtype=int), expected_next, size)
    values = {
        "incidents_per_km": incidents * to_reference / km,
        "persons_per_km": inputs.persons * to_reference / km,
        "rate_ratio": ratio,
        "probability": probability,
        "hotspot": inputs.touches_hotspot,
    }
    scores = {
        "incidents_per_km": threat_cfg.incidents_per_km.score(values["incidents_per_km"]),
        "persons_per_km": threat_cfg.persons_per_km.score(values["persons_per_km"]),
        "rate_ratio": threat_cfg.rate_ratio.score(ratio),
        "probability": threat_cfg.probability.score(probability),
        "hotspot": np.where(inputs.touches_hotspot, threat_cfg.hotspot_touching,
                            threat_cfg.hotspot_not_touching).astype(int),
    }
    units = {"incidents_per_km": f"incidents/km {per}", "persons_per_km": f"persons/km {per}",
             "rate_ratio": "x baseline", "probability": "probability", "hotspot": None}
    magnitude = sum(w * scores[f] for f, w in threat_cfg.magnitude_weights.items())
    likelihood = sum(w * scores[f] for f, w in threat_cfg.likelihood_weights.items())
    threat_weighted, threat_factors = _component(
        "threat", threat_cfg.factor_weights(), scores, values, units)

    # ---- vulnerability
    surveillance_table = np.array([vuln_cfg.surveillance[level] for level in range(6)])
    classes, terrain_index = np.unique(inputs.terrain_class.astype(str), return_inverse=True)
    terrain_table = np.array([vuln_cfg.terrain[c] for c in classes], dtype=int)
    inland = np.where(none, np.nan, inputs.inland_share)
    values.update({
        "surveillance": inputs.surveillance_level,
        "terrain": inputs.terrain_class,
        "crossing_distance": inputs.crossing_distance_m,
        "inland_share": inland,
    })
    scores.update({
        "surveillance": surveillance_table[inputs.surveillance_level],
        "terrain": terrain_table[terrain_index.ravel()],
        "crossing_distance": vuln_cfg.crossing_distance.score(inputs.crossing_distance_m),
        "inland_share": vuln_cfg.inland_share.score(inland),
    })
    units.update({"surveillance": "level 0-5", "terrain": None, "crossing_distance": "m",
                  "inland_share": "share"})
    vulnerability_weighted, vulnerability_factors = _component(
        "vulnerability", vuln_cfg.weights, scores, values, units)

    # ---- impact: over the period, or over the period and its baseline periods
    severities = np.array([impact_cfg.category_severity[c] for c in CATEGORY_ORDER], float)
    if impact_cfg.window == "period_and_baseline":
        counts, persons = inputs.window_category_counts, inputs.window_persons
        life_risk, periods = inputs.window_life_risk_count, inputs.window_periods
    else:
        counts, persons = inputs.category_counts, inputs.persons
        life_risk, periods = inputs.life_risk_count, 1
    window_incidents = counts.sum(axis=1)
    no_window_incidents = window_incidents == 0
    if impact_cfg.severity_statistic == "mean":
        severity = np.divide(counts @ severities, window_incidents,
                             out=np.full(inputs.n, np.nan), where=~no_window_incidents)
    else:
        severity = np.where(no_window_incidents, np.nan,
                            np.where(counts > 0, severities, 0.0).max(axis=1))
    to_window_reference = to_reference / periods
    values.update({
        "severity": severity,
        "persons": persons * to_window_reference,
        "life_risk": life_risk * to_window_reference,
    })
    scores.update({
        "severity": impact_cfg.severity.score(severity),
        "persons": impact_cfg.persons.score(values["persons"]),
        "life_risk": impact_cfg.life_risk.score(values["life_risk"]),
    })
    over = "" if periods == 1 else f", mean of {periods} periods"
    units.update({"severity": f"{impact_cfg.severity_statistic} category severity 1-5{over}",
                  "persons": f"persons {per}{over}", "life_risk": f"incidents {per}{over}"})
    impact_weighted, impact_factors = _component(
        "impact", impact_cfg.weights, scores, values, units)

    # ---- risk
    threat = _round_half_up(threat_weighted)
    vulnerability = _round_half_up(vulnerability_weighted)
    impact = _round_half_up(impact_weighted)
    risk = threat * vulnerability * impact
    rank = 1 + (risk[None, :] > risk[:, None]).sum(axis=1)
    notes = {
        "rate_ratio": _notes(new_activity, "baseline is 0: new activity"),
        "inland_share": _notes(none, "no incidents"),
        "severity": _notes(no_window_incidents, "no incidents"),
        "crossing_distance": _notes(np.isinf(inputs.crossing_distance_m),
                                    "no crossing point"),
    }
    return RiskResult(
        section_ids=inputs.section_ids,
        threat=threat,
        vulnerability=vulnerability,
        impact=impact,
        risk=risk,
        level=config.level(risk),
        rank=rank,
        threat_weighted=threat_weighted,
        vulnerability_weighted=vulnerability_weighted,
        impact_weighted=impact_weighted,
        magnitude=np.asarray(magnitude, dtype=float),
        likelihood=np.asarray(likelihood, dtype=float),
        likelihood_probability=probability,
        expected_next=expected_next,
        factors=threat_factors + vulnerability_factors + impact_factors,
        config_sha256=config_hash(config),
        notes=notes,
    )


# ============================================================ comparisons and alerts


def percent_change(current, base) -> np.ndarray:
    """Percent change ``100 * (current - base) / base``, NaN where it is undefined.

    Used against the previous equal-length period and the same period last year, per
    section or per region (sum the section counts of a region first). Where ``base`` is
    0 (or either value is NaN) the result is NaN, which the API writes as null: a change
    from nothing has no percentage. No division by zero happens, so no warning.

    Parameters
    ----------
    current, base : array_like
        Counts (or rates) of the two periods, same shape.

    Returns
    -------
    numpy.ndarray of float
        Percent (``50.0`` = +50 %, ``-100.0`` = dropped to zero).
    """
    current = np.asarray(current, dtype=float)
    base = np.asarray(base, dtype=float)
    if current.shape != base.shape:
        raise ValueError(f"current and base must have the same shape, got {current.shape} "
                         f"and {base.shape}")
    defined = (base != 0) & np.isfinite(base) & np.isfinite(current)
    out = np.full(current.shape, np.nan)
    np.divide(100.0 * (current - base), base, out=out, where=defined)
    return out


def concentration(counts, top_share: float = 0.2) -> float:
    """Share of all incidents that fall in the top ``top_share`` of sections (80/20).

    Takes the ``k = floor(top_share * n)`` sections with the most incidents (at least 1;
    ``1e-9`` of slack so 0.2 * 10 is 2), ties in input order, exactly as
    :func:`geo.hotspots.evaluation.top_cells`. With 12 sections and 0.2, k = 2.

    Parameters
    ----------
    counts : array_like
        Incidents per section in the period.
    top_share : float, default 0.2
        Share of sections, 0 < top_share <= 1.

    Returns
    -------
    float
        0..1; NaN when there are no incidents at all.
    """
    counts = np.asarray(counts, dtype=float).ravel()
    top = top_cells(counts, top_share)
    total = counts.sum()
    if total <= 0:
        return float("nan")
    return float(counts[top].sum() / total)


@dataclass(frozen=True)
class AlertResult:
    """Alert test per section: ``p_value = P(X >= observed)`` under the count model.

    ``expected`` is the mean used (the input raised to ``alerts.min_expected``);
    ``distribution`` says which model each section used and ``size`` is the
    negative-binomial r (NaN for Poisson).
    """

    observed: np.ndarray
    expected: np.ndarray
    p_value: np.ndarray
    alert: np.ndarray
    distribution: np.ndarray
    size: np.ndarray


def count_alerts(observed, expected, history=None,
                 config: RiskConfig | None = None) -> AlertResult:
    """Flag sections whose count is abnormally high against their baseline (EUROSUR 8(4)).

    ``p = P(X >= observed)`` (upper tail, ``sf(observed - 1)``) with X Poisson(mu) or
    negative binomial with mean mu and size r from the method of moments on ``history``
    (see the module docstring), ``mu = max(expected, alerts.min_expected)``. A section
    alerts when ``p < alerts.alpha`` (strictly). Without ``history``, or when the
    configured family is ``poisson``, every section uses Poisson.

    Parameters
    ----------
    observed : array_like of int
        Incidents per section in the period.
    expected : array_like of float
        Baseline expectation per section (incidents per period, e.g. the history mean).
    history : array_like of int, shape (n, k), optional
        Counts of the previous k equal-length periods, for the dispersion.
    config : RiskConfig, optional
        Default: :func:`load_risk_config` of ``geo/risk/risk.yaml``.

    Returns
    -------
    AlertResult
    """
    config = config if config is not None else load_risk_config()
    observed = _counts("observed", np.atleast_1d(observed))
    n = observed.size
    expected = _array("expected", np.atleast_1d(expected), n)
    if not (np.isfinite(expected) & (expected >= 0)).all():
        raise ValueError("expected must be non-negative incidents per period")
    mean = np.maximum(expected, config.min_expected)
    if history is None:
        size = np.full(n, np.nan)
    else:
        size = _nb_size(_counts("history", history, n, ndim=2), config)
    p = _upper_tail(observed, mean, size)
    return AlertResult(
        observed=observed,
        expected=mean,
        p_value=p,
        alert=p < config.alert_alpha,
        distribution=np.where(np.isnan(size), "poisson", "negative_binomial").astype(object),
        size=size,
    )


def expected_range(alerts: AlertResult, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """The counts per period each section's model expects: from its ``alpha`` quantile
    to the highest count that does not alert (``P(X >= count) >= alpha``), under the
    distribution :func:`count_alerts` used (``alerts.expected``, ``alerts.size``).

    Returns
    -------
    low, high : np.ndarray of int
        Incidents per period, both ends included.
    """
    mean, size = alerts.expected, alerts.size
    poisson = np.isnan(size)
    low = np.empty(mean.shape, dtype=float)
    k = np.empty(mean.shape, dtype=float)  # smallest k with P(X > k) <= alpha
    tail = np.empty(mean.shape, dtype=float)
    low[poisson] = stats.poisson.ppf(alpha, mean[poisson])
    k[poisson] = stats.poisson.ppf(1 - alpha, mean[poisson])
    tail[poisson] = stats.poisson.sf(k[poisson], mean[poisson])
    nb = ~poisson
    r = size[nb]
    q = r / (r + mean[nb])
    low[nb] = stats.nbinom.ppf(alpha, r, q)
    k[nb] = stats.nbinom.ppf(1 - alpha, r, q)
    tail[nb] = stats.nbinom.sf(k[nb], r, q)
    # k + 1 alerts unless P(X >= k + 1) is still at least alpha (a discrete tie)
    high = k + (tail >= alpha)
    return low.astype(np.int64), high.astype(np.int64)
