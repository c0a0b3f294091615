"""The CIRAM risk model's configuration: one YAML file (default ``risk.yaml`` beside this
module), parsed with line numbers into frozen dataclasses (:class:`RiskConfig`), every
error naming the file, the line and the reason; :func:`config_hash` fingerprints it.

The model that uses it is ``geo.risk.ciram``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import yaml

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
# Where the likelihood's P(at least one incident next period) comes from.
LIKELIHOOD_SOURCES = ("history", "forecast")
#: Incidents the impact measures: those of the period, or of the period and its baseline.
IMPACT_WINDOWS = ("period", "period_and_baseline")

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
    # "history": the count model above on the section's baseline; "forecast": the
    # predictive distribution of geo.forecast for the period after the assessed one
    likelihood_source: str = "history"
    source: str = field(default="<string>", compare=False, repr=False)
    text: str = field(default="", compare=False, repr=False)

    def level(self, risk) -> np.ndarray:
        """EUROSUR level (``low``/``medium``/``high``) of each risk value 1..125."""
        risk = np.asarray(risk)
        index = (risk > self.low_max).astype(int) + (risk > self.medium_max).astype(int)
        return np.asarray(LEVELS, dtype=object)[index]

    def bands(self) -> dict[str, list[int]]:
        """Each computed level's risk range, both ends included (risk 1..125):
        ``{"low": [1, low_max], "medium": [low_max + 1, medium_max], "high": [..., 125]}``."""
        return {"low": [1, self.low_max], "medium": [self.low_max + 1, self.medium_max],
                "high": [self.medium_max + 1, 125]}


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
    distribution = top.block("distribution", ("family", "min_history_periods", "likelihood"))
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
        likelihood_source=distribution.choice("likelihood", LIKELIHOOD_SOURCES),
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


