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

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml
from scipy import stats

from geo.hotspots.evaluation import top_cells
from geo.vocabulary import (
    DETECTION_METHODS,
    INCIDENT_CATEGORIES,
    INCIDENT_OUTCOMES,
    TERRAIN_CLASSES,
    TRANSPORT_MEANS,
)

DEFAULT_CONFIG_PATH = Path(__file__).with_name("risk.yaml")

#: Column order of :attr:`SectionInputs.category_counts` (that of ``INCIDENT_CATEGORIES``).
CATEGORY_ORDER: tuple[str, ...] = tuple(INCIDENT_CATEGORIES)

#: Computed levels, lowest first. "critical" is only ever set by a supervisor's decision.
LEVELS = ("low", "medium", "high")

COMPONENTS = ("threat", "vulnerability", "impact")
THREAT_FACTORS = ("incidents_per_km", "persons_per_km", "rate_ratio", "probability", "hotspot")
VULNERABILITY_FACTORS = ("surveillance", "terrain", "crossing_distance", "inland_share")
IMPACT_FACTORS = ("severity", "persons", "life_risk")
DISTRIBUTIONS = ("poisson", "negative_binomial")
#: Incidents the impact measures: those of the period, or of the period and its baseline.
IMPACT_WINDOWS = ("period", "period_and_baseline")

# A weighted mean that should be exactly x.5 may come out a hair below it in floating point.
_ROUNDING_EPS = 1e-9
_WEIGHT_SUM_TOLERANCE = 1e-6


# ============================================================================ configuration


class RiskConfigError(ValueError):
    """An invalid risk configuration: the file, the line (1-based) and the reason.

    Attributes
    ----------
    source : str
        Path of the file (or a label such as ``"<string>"``).
    line : int or None
        1-based line of the offending key or value; None when the file cannot be read.
    reason : str
        What is wrong, in words an analyst can act on.
    """

    def __init__(self, source: str, line: int | None, reason: str):
        self.source = str(source)
        self.line = line
        self.reason = reason
        where = self.source if line is None else f"{self.source}, line {line}"
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Scale:
    """Turns a factor's values into scores 1..5 with four ascending cut points.

    ``score = 1 + (number of cuts the value is strictly above)``: a value equal to a cut
    stays in the lower class; ``+inf`` scores 5. With ``method="thresholds"`` the cuts are
    values in the factor's unit; with ``method="quantiles"`` they are probabilities and the
    cut values are those quantiles (numpy's default linear interpolation) of the finite
    values of the assessment. NaN values score ``when_missing``.
    """

    method: str
    cuts: tuple[float, ...]
    when_missing: int | None = None

    def cut_values(self, values) -> np.ndarray:
        """The four cut points in the factor's unit for these values."""
        if self.method == "thresholds":
            return np.asarray(self.cuts, dtype=float)
        values = np.asarray(values, dtype=float)
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return np.full(len(self.cuts), np.inf)
        return np.quantile(finite, self.cuts)

    def score(self, values) -> np.ndarray:
        """Integer scores 1..5, one per value (NaN -> ``when_missing``)."""
        values = np.asarray(values, dtype=float)
        cuts = self.cut_values(values)
        missing = np.isnan(values)
        safe = np.where(missing, -np.inf, values)
        scores = 1 + (safe[:, None] > cuts[None, :]).sum(axis=1)
        if missing.any():
            if self.when_missing is None:
                raise ValueError("a value is missing (NaN) and the scale has no when_missing")
            scores[missing] = self.when_missing
        return scores.astype(int)


@dataclass(frozen=True)
class LifeRiskRule:
    """Which incidents count as a risk to life (applied by the query that counts them).

    An incident counts when its outcome is in ``outcomes`` and either its category is in
    ``categories``, or its means of transport is in ``transport_means`` and its category
    in ``transport_categories``: a boat or a lorry endangers lives when persons cross
    clandestinely in it (at sea, hidden in the load), not when a ferry passenger is
    refused entry or a lorry carries smuggled cigarettes.
    """

    categories: tuple[str, ...]
    transport_means: tuple[str, ...]
    transport_categories: tuple[str, ...]
    outcomes: tuple[str, ...]

    def matches(self, category: str, outcome: str, transport_means: str | None) -> bool:
        """Whether one incident counts as a risk to life under this rule."""
        return outcome in self.outcomes and (
            category in self.categories
            or (transport_means in self.transport_means
                and category in self.transport_categories)
        )


@dataclass(frozen=True)
class LateDetectionRule:
    """Which incidents count as detected late (numerator of ``inland_share``).

    An incident counts when its detection method is in ``detection_methods`` (e.g.
    ``inland``), or its outcome is in ``outcomes`` (``actual``: the crossing succeeded)
    and it was not detected by one of ``checked_at`` (``bcp_check``: a person processed
    at a border check was met at the line, whatever the outcome recorded, e.g. an
    ``actual`` refusal of entry). The denominator is all incidents of the section in
    the period.
    """

    detection_methods: tuple[str, ...]
    outcomes: tuple[str, ...]
    checked_at: tuple[str, ...] = ()

    def matches(self, detection_method: str | None, outcome: str) -> bool:
        """Whether one incident counts as detected late under this rule."""
        return detection_method in self.detection_methods or (
            outcome in self.outcomes and detection_method not in self.checked_at)


@dataclass(frozen=True)
class ThreatConfig:
    """Threat = weighted mean of magnitude and likelihood, each a weighted mean of factors."""

    weights: Mapping[str, float]  # magnitude, likelihood
    magnitude_weights: Mapping[str, float]  # incidents_per_km, persons_per_km
    likelihood_weights: Mapping[str, float]  # rate_ratio, probability, hotspot
    incidents_per_km: Scale  # incidents per km per reference period
    persons_per_km: Scale  # persons per km per reference period
    rate_ratio: Scale  # count / baseline_rate (x baseline)
    probability: Scale  # P(at least one incident next period), 0..1
    hotspot_touching: int
    hotspot_not_touching: int

    def factor_weights(self) -> dict[str, float]:
        """Effective weight of each threat factor (magnitude or likelihood x its own)."""
        weights = {name: self.weights["magnitude"] * w
                   for name, w in self.magnitude_weights.items()}
        weights.update({name: self.weights["likelihood"] * w
                        for name, w in self.likelihood_weights.items()})
        return weights


@dataclass(frozen=True)
class VulnerabilityConfig:
    """Vulnerability = weighted mean of surveillance, terrain, crossing distance, inland share."""

    weights: Mapping[str, float]
    surveillance: Mapping[int, int]  # level 0..5 -> score, non-increasing
    terrain: Mapping[str, int]  # terrain class -> score
    crossing_distance: Scale  # metres to the nearest crossing point
    inland_share: Scale  # share 0..1 of incidents detected late
    late_detection: LateDetectionRule


@dataclass(frozen=True)
class ImpactConfig:
    """Impact = weighted mean of category severity, persons and risk to life."""

    weights: Mapping[str, float]
    category_severity: Mapping[str, int]  # category -> severity 1..5
    severity_statistic: str  # "mean" or "max" over the section's incidents
    severity: Scale  # on the 1..5 severity value
    persons: Scale  # persons per reference period
    life_risk: Scale  # life-risk incidents per reference period
    life_risk_rule: LifeRiskRule
    window: str = "period"  # "period" or "period_and_baseline": the incidents it measures


@dataclass(frozen=True)
class RiskConfig:
    """The whole risk model configuration, validated (see ``geo/risk/risk.yaml``).

    ``source`` and ``text`` (the file's path and raw text, stored with each assessment)
    take no part in equality or in :func:`config_hash`.
    """

    version: int
    corridor_m: float  # metres: incidents within this distance count for their nearest section
    reference_days: float  # count thresholds are per this many days
    baseline_periods: int  # previous equal-length periods forming baseline and history
    distribution: str  # "poisson" or "negative_binomial"
    min_history_periods: int  # fewer history periods -> Poisson
    threat: ThreatConfig
    vulnerability: VulnerabilityConfig
    impact: ImpactConfig
    low_max: int  # risk 1..low_max is "low"
    medium_max: int  # low_max+1..medium_max is "medium", above is "high"
    alert_alpha: float
    min_expected: float  # incidents per period: floor of the alert expectation
    source: str = field(default="<string>", compare=False, repr=False)
    text: str = field(default="", compare=False, repr=False)

    def level(self, risk) -> np.ndarray:
        """EUROSUR level (``low``/``medium``/``high``) of each risk value 1..125."""
        risk = np.asarray(risk)
        index = (risk > self.low_max).astype(int) + (risk > self.medium_max).astype(int)
        return np.asarray(LEVELS, dtype=object)[index]


def _canonical(value: Any) -> Any:
    if is_dataclass(value):
        return {f.name: _canonical(getattr(value, f.name)) for f in fields(value) if f.compare}
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_canonical(v) for v in value]
    return value


def config_hash(config: RiskConfig) -> str:
    """SHA-256 (hex) of the configuration's canonical content.

    The content is the validated values as sorted-key JSON, so comments, key order and
    formatting of the YAML file do not change the hash; any changed value does.
    """
    canonical = json.dumps(_canonical(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- YAML with line numbers


class _Mapping(dict):
    """A YAML mapping that remembers the 1-based line of each key."""

    def __init__(self, line: int):
        super().__init__()
        self.line = line
        self.lines: dict[Any, int] = {}


class _Sequence(list):
    """A YAML sequence that remembers the 1-based line of each item."""

    def __init__(self, line: int):
        super().__init__()
        self.line = line
        self.lines: list[int] = []


class _LineLoader(yaml.SafeLoader):
    """SafeLoader whose mappings and sequences keep the line of every key and item."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> _Mapping:
    loader.flatten_mapping(node)
    mapping = _Mapping(node.start_mark.line + 1)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            duplicate = key in mapping
        except TypeError:
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain value, not a list or mapping",
                key_node.start_mark) from None
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", key_node.start_mark)
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.lines[key] = key_node.start_mark.line + 1
    return mapping


def _construct_sequence(loader: _LineLoader, node: yaml.SequenceNode) -> _Sequence:
    sequence = _Sequence(node.start_mark.line + 1)
    for item in node.value:
        sequence.append(loader.construct_object(item, deep=True))
        sequence.lines.append(item.start_mark.line + 1)
    return sequence


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def _parse_yaml(text: str, source: str) -> Any:
    loader = _LineLoader(text)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        context = exc.context or ""
        if exc.context_mark is not None and mark is not exc.context_mark:
            context = f"{context} (from line {exc.context_mark.line + 1})".strip()
        reason = "; ".join(part for part in (exc.problem, context) if part)
        raise RiskConfigError(source, mark.line + 1 if mark else None,
                              f"invalid YAML: {reason}") from None
    except yaml.reader.ReaderError as exc:
        line = text[: max(exc.position, 0)].count("\n") + 1
        raise RiskConfigError(source, line, f"invalid YAML: {exc.reason}") from None
    except yaml.YAMLError as exc:
        raise RiskConfigError(source, None, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


class _Block:
    """One validated YAML mapping: typed reads that fail with the line of the key."""

    def __init__(self, source: str, mapping: Any, name: str, line: int,
                 keys: tuple, what: str = "key"):
        self.source, self.name, self.line = source, name, line
        if not isinstance(mapping, _Mapping):
            raise RiskConfigError(source, line, f"'{name or 'the file'}' must be a mapping of "
                                                f"keys to values, got {_kind(mapping)}")
        expected = ", ".join(str(k) for k in keys)
        for key in mapping:
            if key not in keys:
                where = f"in '{name}'" if name else "at the top level"
                raise RiskConfigError(source, mapping.lines[key],
                                      f"unknown {what} '{key}' {where} (expected: {expected})")
        for key in keys:
            if key not in mapping:
                where = f"from '{name}'" if name else "at the top level"
                raise RiskConfigError(source, line, f"missing {what} '{key}' {where}")
        self.mapping = mapping

    def path(self, key) -> str:
        return f"{self.name}.{key}" if self.name else str(key)

    def fail(self, key, reason: str) -> RiskConfigError:
        return RiskConfigError(self.source, self.mapping.lines[key], f"'{self.path(key)}' {reason}")

    def block(self, key, keys: tuple, what: str = "key") -> _Block:
        return _Block(self.source, self.mapping[key], self.path(key), self.mapping.lines[key],
                      keys, what)

    def number(self, key, *, low: float | None = None, high: float | None = None,
               low_open: bool = False, integer: bool = False) -> float | int:
        value = self.mapping[key]
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if integer and not is_int:
            raise self.fail(key, f"must be an integer, got {_kind(value)}")
        if not (is_int or isinstance(value, float)) or not math.isfinite(value):
            raise self.fail(key, f"must be a finite number, got {_kind(value)}")
        too_low = low is not None and (value <= low if low_open else value < low)
        if too_low or (high is not None and value > high):
            bounds = []
            if low is not None:
                bounds.append(f"{'above' if low_open else 'at least'} {low}")
            if high is not None:
                bounds.append(f"at most {high}")
            raise self.fail(key, f"must be {' and '.join(bounds)}, got {value}")
        return value if integer else float(value)

    def score(self, key) -> int:
        return int(self.number(key, low=1, high=5, integer=True))

    def choice(self, key, options: tuple[str, ...]) -> str:
        value = self.mapping[key]
        if value not in options:
            raise self.fail(key, f"must be one of {', '.join(options)}, got {_kind(value)}")
        return value

    def codes(self, key, vocabulary, vocabulary_name: str) -> tuple[str, ...]:
        values = self.mapping[key]
        if not isinstance(values, _Sequence):
            raise self.fail(key, f"must be a list, got {_kind(values)}")
        for value, line in zip(values, values.lines, strict=True):
            if value not in vocabulary:
                raise RiskConfigError(self.source, line,
                                      f"'{self.path(key)}': unknown code {value!r} "
                                      f"(see geo/vocabulary.py {vocabulary_name})")
        return tuple(values)

    def weights(self, key, names: tuple[str, ...]) -> Mapping[str, float]:
        block = self.block(key, names, what="weight")
        values = {name: block.number(name, low=0.0, high=1.0) for name in names}
        total = sum(values.values())
        if abs(total - 1.0) > _WEIGHT_SUM_TOLERANCE:
            raise self.fail(key, f"weights sum to {total:g}, they must sum to 1")
        return MappingProxyType(values)

    def scale(self, key, extra: tuple[str, ...] = ()) -> tuple[Scale, _Block]:
        block = self.block(key, ("method", "cuts", *extra))
        method = block.choice("method", ("thresholds", "quantiles"))
        cuts = block.mapping["cuts"]
        if not isinstance(cuts, _Sequence) or len(cuts) != 4:
            raise block.fail("cuts", f"must be a list of 4 ascending numbers, got {_kind(cuts)}")
        for value, line in zip(cuts, cuts.lines, strict=True):
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if not number or not math.isfinite(value):
                raise RiskConfigError(self.source, line, f"'{block.path('cuts')}': a cut must "
                                                         f"be a finite number, got {_kind(value)}")
            if method == "quantiles" and not 0 < value < 1:
                raise RiskConfigError(self.source, line, f"'{block.path('cuts')}': a quantile "
                                                         f"must be in (0, 1), got {value}")
        for previous, value, line in zip(cuts, cuts[1:], cuts.lines[1:], strict=False):
            if not value > previous:
                raise RiskConfigError(self.source, line, f"'{block.path('cuts')}': cuts must "
                                                         f"be strictly ascending, {value} "
                                                         f"follows {previous}")
        when_missing = block.score("when_no_incidents") if "when_no_incidents" in extra else None
        return Scale(method, tuple(float(c) for c in cuts), when_missing), block


def _threat(top: _Block) -> ThreatConfig:
    block = top.block("threat", ("weights", "magnitude", "likelihood"))
    magnitude = block.block("magnitude", ("weights", "incidents_per_km", "persons_per_km"))
    likelihood = block.block("likelihood", ("weights", "rate_ratio", "probability", "hotspot"))
    hotspot = likelihood.block("hotspot", ("touching", "not_touching"))
    touching, not_touching = hotspot.score("touching"), hotspot.score("not_touching")
    if touching < not_touching:
        raise hotspot.fail("touching", "must not be below not_touching: touching a hot-spot "
                                       "never lowers the threat")
    return ThreatConfig(
        weights=block.weights("weights", ("magnitude", "likelihood")),
        magnitude_weights=magnitude.weights("weights", ("incidents_per_km", "persons_per_km")),
        likelihood_weights=likelihood.weights("weights", ("rate_ratio", "probability",
                                                          "hotspot")),
        incidents_per_km=magnitude.scale("incidents_per_km")[0],
        persons_per_km=magnitude.scale("persons_per_km")[0],
        rate_ratio=likelihood.scale("rate_ratio")[0],
        probability=likelihood.scale("probability")[0],
        hotspot_touching=touching,
        hotspot_not_touching=not_touching,
    )


def _vulnerability(top: _Block) -> VulnerabilityConfig:
    block = top.block("vulnerability", ("weights", "surveillance", "terrain",
                                        "crossing_distance", "inland_share"))
    levels = block.block("surveillance", tuple(range(6)), what="surveillance level")
    surveillance = {level: levels.score(level) for level in range(6)}
    for level in range(1, 6):
        if surveillance[level] > surveillance[level - 1]:
            raise levels.fail(level, f"scores {surveillance[level]}, above level {level - 1}'s "
                                     f"{surveillance[level - 1]}: better surveillance must not "
                                     "raise vulnerability")
    terrain = block.block("terrain", TERRAIN_CLASSES, what="terrain class")
    inland_share, inland = block.scale("inland_share", ("when_no_incidents", "rule"))
    rule = inland.block("rule", ("detection_methods", "outcomes", "checked_at"))
    return VulnerabilityConfig(
        weights=block.weights("weights", VULNERABILITY_FACTORS),
        surveillance=MappingProxyType(surveillance),
        terrain=MappingProxyType({name: terrain.score(name) for name in TERRAIN_CLASSES}),
        crossing_distance=block.scale("crossing_distance")[0],
        inland_share=inland_share,
        late_detection=LateDetectionRule(
            detection_methods=rule.codes("detection_methods", DETECTION_METHODS,
                                         "DETECTION_METHODS"),
            outcomes=rule.codes("outcomes", INCIDENT_OUTCOMES, "INCIDENT_OUTCOMES"),
            checked_at=rule.codes("checked_at", DETECTION_METHODS, "DETECTION_METHODS"),
        ),
    )


def _impact(top: _Block) -> ImpactConfig:
    block = top.block("impact", ("weights", "window", "category_severity", "severity",
                                 "persons", "life_risk"))
    severities = block.block("category_severity", CATEGORY_ORDER, what="incident category")
    severity, severity_block = block.scale("severity", ("statistic", "when_no_incidents"))
    life_risk, life_block = block.scale("life_risk", ("rule",))
    rule = life_block.block("rule", ("categories", "transport_means", "transport_categories",
                                     "outcomes"))
    return ImpactConfig(
        weights=block.weights("weights", IMPACT_FACTORS),
        window=block.choice("window", IMPACT_WINDOWS),
        category_severity=MappingProxyType({c: severities.score(c) for c in CATEGORY_ORDER}),
        severity_statistic=severity_block.choice("statistic", ("mean", "max")),
        severity=severity,
        persons=block.scale("persons")[0],
        life_risk=life_risk,
        life_risk_rule=LifeRiskRule(
            categories=rule.codes("categories", CATEGORY_ORDER, "INCIDENT_CATEGORIES"),
            transport_means=rule.codes("transport_means", TRANSPORT_MEANS, "TRANSPORT_MEANS"),
            transport_categories=rule.codes("transport_categories", CATEGORY_ORDER,
                                            "INCIDENT_CATEGORIES"),
            outcomes=rule.codes("outcomes", INCIDENT_OUTCOMES, "INCIDENT_OUTCOMES"),
        ),
    )


_TOP_KEYS = ("version", "corridor_m", "period", "distribution", "threat", "vulnerability",
             "impact", "risk", "alerts")


def parse_risk_config(text: str, source: str = "<string>") -> RiskConfig:
    """Validate YAML text into a :class:`RiskConfig` (see :func:`load_risk_config`).

    Parameters
    ----------
    text : str
        The YAML document.
    source : str
        Name used in error messages (a path, or ``"<string>"``).

    Raises
    ------
    RiskConfigError
        With the line and the reason of the first problem found.
    """
    data = _parse_yaml(text, source)
    if data is None:
        raise RiskConfigError(source, 1, "the file holds no configuration")
    top = _Block(source, data, "", 1, _TOP_KEYS)
    version = top.number("version", low=1, high=1, integer=True)
    period = top.block("period", ("reference_days", "baseline_periods"))
    distribution = top.block("distribution", ("family", "min_history_periods"))
    bands = top.block("risk", ("bands",)).block("bands", ("low_max", "medium_max"))
    low_max = bands.number("low_max", low=1, high=123, integer=True)
    medium_max = bands.number("medium_max", low=2, high=124, integer=True)
    if medium_max <= low_max:
        raise bands.fail("medium_max", f"({medium_max}) must be above low_max ({low_max})")
    alerts = top.block("alerts", ("alpha", "min_expected"))
    return RiskConfig(
        version=version,
        corridor_m=top.number("corridor_m", low=0.0, low_open=True, high=100_000.0),
        reference_days=period.number("reference_days", low=0.0, low_open=True, high=3660.0),
        baseline_periods=period.number("baseline_periods", low=1, high=120, integer=True),
        distribution=distribution.choice("family", DISTRIBUTIONS),
        min_history_periods=distribution.number("min_history_periods", low=2, high=120,
                                                integer=True),
        threat=_threat(top),
        vulnerability=_vulnerability(top),
        impact=_impact(top),
        low_max=low_max,
        medium_max=medium_max,
        alert_alpha=alerts.number("alpha", low=0.0, low_open=True, high=0.5),
        min_expected=alerts.number("min_expected", low=0.0),
        source=source,
        text=text,
    )


def load_risk_config(path: str | Path | None = None) -> RiskConfig:
    """Read and validate the risk model configuration.

    Parameters
    ----------
    path : str or pathlib.Path, optional
        The YAML file; default ``geo/risk/risk.yaml`` next to this module.

    Returns
    -------
    RiskConfig
        Frozen; ``config.text`` holds the file's text for snapshots and
        :func:`config_hash` its SHA-256 of the canonical content.

    Raises
    ------
    RiskConfigError
        The message names the file, the line and the reason: YAML syntax errors, unknown,
        duplicate or missing keys, wrong types, out-of-range values, weights that do not
        sum to 1, categories or terrain classes missing or unknown to ``geo.vocabulary``.
    """
    path = Path(path) if path is not None else DEFAULT_CONFIG_PATH
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RiskConfigError(str(path), None, f"cannot read the file ({exc})") from None
    return parse_risk_config(text, str(path))


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
    (k + 1)`` (the period counted as one more baseline period, k = history periods), and
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
    probability = _upper_tail(np.ones(inputs.n, dtype=int), expected_next,
                              _nb_size(inputs.history, config))
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
