"""CIRAM risk scoring (geo.risk.ciram): components on hand-made cases, the YAML validation,
percent change, concentration and count alerts against scipy's distributions.

The hand-worked values use PINNED below, a copy of the shipped defaults, so an analyst who
tunes geo/risk/risk.yaml does not break these tests; the shipped file is only checked to load.
"""

import ast
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from geo.risk import ciram, risk_config
from geo.risk.ciram import (
    SectionInputs,
    assess_sections,
    concentration,
    count_alerts,
    percent_change,
)
from geo.risk.risk_config import (
    CATEGORY_ORDER,
    RiskConfigError,
    Scale,
    config_hash,
    load_risk_config,
    parse_risk_config,
)
from geo.vocabulary import INCIDENT_CATEGORIES, TERRAIN_CLASSES

PINNED_YAML = """\
version: 1
corridor_m: 5000
period:
  reference_days: 30
  baseline_periods: 12
distribution:
  family: negative_binomial
  min_history_periods: 3
  likelihood: history  # the pinned values below are of the history model
threat:
  weights:
    magnitude: 0.5
    likelihood: 0.5
  magnitude:
    weights:
      incidents_per_km: 0.7
      persons_per_km: 0.3
    incidents_per_km:
      method: thresholds
      cuts: [0.0, 0.05, 0.2, 0.5]
    persons_per_km:
      method: thresholds
      cuts: [0.0, 0.1, 0.5, 2.0]
  likelihood:
    weights:
      rate_ratio: 0.3
      probability: 0.5
      hotspot: 0.2
    rate_ratio:
      method: thresholds
      cuts: [0.5, 0.9, 1.25, 2.0]
    probability:
      method: thresholds
      cuts: [0.2, 0.4, 0.6, 0.8]
    hotspot:
      touching: 5
      not_touching: 1
vulnerability:
  weights:
    surveillance: 0.4
    terrain: 0.2
    crossing_distance: 0.15
    inland_share: 0.25
  surveillance:
    0: 5
    1: 5
    2: 4
    3: 3
    4: 2
    5: 1
  terrain:
    plain: 3
    hills: 4
    mountain: 4
    high_mountain: 2
    river: 2
    coast: 3
    urban: 4
  crossing_distance:
    method: thresholds
    cuts: [2000, 5000, 10000, 25000]
  inland_share:
    method: thresholds
    cuts: [0.1, 0.25, 0.5, 0.75]
    when_no_incidents: 3
    rule:
      detection_methods: [inland]
      outcomes: [actual]
      checked_at: [bcp_check]
impact:
  weights:
    severity: 0.4
    persons: 0.25
    life_risk: 0.35
  window: period
  category_severity:
    illegal_crossing_between_bcp: 3
    illegal_crossing_at_bcp: 3
    refusal_of_entry: 1
    illegal_stay: 1
    asylum_application: 1
    facilitator: 4
    fraudulent_document: 2
    smuggling_drugs: 4
    smuggling_tobacco: 2
    smuggling_weapons: 5
    smuggling_other_goods: 2
    stolen_vehicle: 2
    trafficking_human_beings: 5
    other: 1
  severity:
    statistic: mean
    method: thresholds
    cuts: [1.5, 2.5, 3.5, 4.5]
    when_no_incidents: 1
  persons:
    method: thresholds
    cuts: [0, 5, 20, 50]
  life_risk:
    method: thresholds
    cuts: [0, 1, 2, 4]
    rule:
      categories: [trafficking_human_beings, smuggling_weapons]
      transport_means: [boat, truck]
      transport_categories: [illegal_crossing_between_bcp, illegal_crossing_at_bcp,
                             facilitator]
      outcomes: [attempted, actual]
risk:
  bands:
    low_max: 19
    medium_max: 59
alerts:
  alpha: 0.01
  min_expected: 0.5
"""

PINNED = parse_risk_config(PINNED_YAML, "pinned.yaml")
CAT = {name: i for i, name in enumerate(CATEGORY_ORDER)}


def sections(n=1, **overrides) -> SectionInputs:
    """n identical quiet sections (10 km, 30 days, no incidents), with overrides."""
    values = {
        "section_ids": np.arange(1, n + 1),
        "length_m": np.full(n, 10_000.0),
        "period_days": 30.0,
        "category_counts": np.zeros((n, len(CATEGORY_ORDER)), dtype=int),
        "persons": np.zeros(n, dtype=int),
        "life_risk_count": np.zeros(n, dtype=int),
        "baseline_rate": np.zeros(n),
        "history": np.zeros((n, 3), dtype=int),
        "touches_hotspot": np.zeros(n, dtype=bool),
        "surveillance_level": np.full(n, 3),
        "terrain_class": np.full(n, "plain", dtype=object),
        "crossing_distance_m": np.full(n, 5000.0),
        "inland_share": np.full(n, np.nan),
    }
    values.update(overrides)
    return SectionInputs(**values)


def counts_row(**per_category) -> np.ndarray:
    row = np.zeros((1, len(CATEGORY_ORDER)), dtype=int)
    for name, count in per_category.items():
        row[0, CAT[name]] = count
    return row


def scores_of(result, i=0) -> dict[str, int]:
    return {f.name: int(f.score[i]) for f in result.factors}


# ------------------------------------------------------------------ shipped configuration


def test_shipped_config_loads_and_covers_the_vocabulary():
    config = load_risk_config()
    assert config.source.endswith("geo/risk/risk.yaml")
    assert config.text == Path(risk_config.DEFAULT_CONFIG_PATH).read_text(encoding="utf-8")
    assert set(config.impact.category_severity) == set(INCIDENT_CATEGORIES)
    assert set(config.vulnerability.terrain) == set(TERRAIN_CLASSES)
    assert config.corridor_m == 5000
    assert config.alert_alpha == 0.01
    assert len(config_hash(config)) == 64
    # assess_sections and count_alerts default to the shipped file.
    result = assess_sections(sections())
    assert result.config_sha256 == config_hash(config)
    assert result.level.tolist() == ["low"]
    assert count_alerts([0], [1.0]).alert.tolist() == [False]


def test_the_domain_never_imports_flask_or_the_app():
    """Every module of geo/ (the CIRAM model among them): no Flask, nothing of app/."""
    modules = sorted(Path(ciram.__file__).parents[1].rglob("*.py"))
    assert len(modules) > 30
    for module in modules:
        tree = ast.parse(module.read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom)}
        roots = {name.split(".")[0] for name in imported if name}
        assert not roots & {"flask", "flask_login", "flask_sqlalchemy", "app"}, module


def test_config_hash_ignores_comments_and_layout_but_not_values():
    reformatted = "# a comment\n" + PINNED_YAML.replace("corridor_m: 5000", "corridor_m: 5000.0")
    assert config_hash(parse_risk_config(reformatted)) == config_hash(PINNED)
    changed = parse_risk_config(PINNED_YAML.replace("corridor_m: 5000", "corridor_m: 4000"))
    assert config_hash(changed) != config_hash(PINNED)
    assert PINNED.text == PINNED_YAML


# ------------------------------------------------------------------------ scales and bands


def test_scale_thresholds_put_a_value_equal_to_a_cut_in_the_lower_class():
    scale = Scale("thresholds", (0.0, 0.05, 0.2, 0.5))
    # 0 -> 1; 0.01 > 0 -> 2; 0.05 = cut -> 2; 0.2 = cut -> 3; 0.3 -> 4; 0.5 -> 4; inf -> 5
    values = [0.0, 0.01, 0.05, 0.2, 0.3, 0.5, np.inf]
    assert scale.score(values).tolist() == [1, 2, 2, 3, 4, 4, 5]
    with pytest.raises(ValueError, match="when_missing"):
        scale.score([np.nan])
    assert Scale("thresholds", (1, 2, 3, 4), when_missing=3).score([np.nan]).tolist() == [3]


def test_scale_quantiles_are_taken_over_the_sections():
    scale = Scale("quantiles", (0.2, 0.4, 0.6, 0.8))
    # Quantiles of 0..4 (linear): 0.8, 1.6, 2.4, 3.2 -> one section per class.
    assert scale.cut_values([0, 1, 2, 3, 4]).tolist() == pytest.approx([0.8, 1.6, 2.4, 3.2])
    assert scale.score([4, 3, 2, 1, 0]).tolist() == [5, 4, 3, 2, 1]
    # Ties at zero stay in class 1: zero is not strictly above a zero quantile.
    assert scale.score([0, 0, 0, 0, 7]).tolist() == [1, 1, 1, 1, 5]


def test_risk_bands_at_their_edges():
    levels = PINNED.level([1, 19, 20, 59, 60, 125])
    assert levels.tolist() == ["low", "low", "medium", "medium", "high", "high"]


# ---------------------------------------------------------------------------------- threat


def test_threat_by_hand():
    inputs = sections(
        category_counts=counts_row(illegal_crossing_between_bcp=2),
        persons=[4], baseline_rate=[1.0], history=[[1, 1, 1]], touches_hotspot=[True],
    )
    result = assess_sections(inputs, PINNED)
    scores = scores_of(result)
    # Magnitude: 2 incidents / 10 km = 0.2 per km (equal to the cut 0.2) -> 3;
    # 4 persons / 10 km = 0.4 per km (> 0.1, <= 0.5) -> 3. Magnitude = 0.7*3 + 0.3*3 = 3.0.
    assert scores["incidents_per_km"] == 3 and scores["persons_per_km"] == 3
    assert result.magnitude[0] == pytest.approx(3.0)
    # Likelihood: ratio 2 / 1 = 2.0 (equal to the cut 2.0) -> 4. History [1, 1, 1] has
    # variance 0 < mean: Poisson, mean (2 + 3*1) / 4 = 1.25, P(>=1) = 1 - e^-1.25 = 0.7135
    # -> 4. Hot-spot -> 5. Likelihood = 0.3*4 + 0.5*4 + 0.2*5 = 4.2.
    assert result.factor("rate_ratio").value[0] == 2.0 and scores["rate_ratio"] == 4
    assert result.expected_next[0] == pytest.approx(1.25)
    assert result.likelihood_probability[0] == pytest.approx(1 - math.exp(-1.25))
    assert scores["probability"] == 4 and scores["hotspot"] == 5
    assert result.likelihood[0] == pytest.approx(4.2)
    # Threat = 0.5*3 + 0.5*4.2 = 3.6 -> 4.
    assert result.threat_weighted[0] == pytest.approx(3.6)
    assert result.threat.tolist() == [4]


def test_threat_scales_counts_to_the_reference_period():
    month = assess_sections(sections(category_counts=counts_row(other=2), persons=[4]), PINNED)
    # 6 incidents in 90 days on 10 km = 0.2 per km per 30 days, as 2 in a month.
    quarter = assess_sections(
        sections(category_counts=counts_row(other=6), persons=[12], period_days=90.0), PINNED)
    assert quarter.factor("incidents_per_km").value[0] == pytest.approx(0.2)
    assert quarter.factor("persons_per_km").value[0] == pytest.approx(0.4)
    assert quarter.magnitude[0] == month.magnitude[0] == pytest.approx(3.0)


def test_rate_ratio_with_a_zero_baseline():
    inputs = sections(2, category_counts=np.vstack([counts_row(other=1), counts_row()]))
    result = assess_sections(inputs, PINNED)
    ratio = result.factor("rate_ratio")
    # 1 / 0: new activity, infinite ratio -> 5 (explained as None plus a note); 0 / 0 -> 0 -> 1.
    assert ratio.value.tolist() == [np.inf, 0.0]
    assert ratio.score.tolist() == [5, 1]
    first = {f["factor"]: f for f in result.explanations[0]["threat"]}["rate_ratio"]
    assert first["value"] is None and "baseline is 0" in first["note"]


def test_likelihood_probability_under_the_negative_binomial():
    # History [0, 4, 2]: mean 2, sample variance (4 + 4 + 0) / 2 = 4 > 2, so
    # r = 2^2 / (4 - 2) = 2. Mean next (2 + 3*2) / 4 = 2; P(0) = (r / (r + mu))^r = 0.25,
    # P(>=1) = 0.75 -> 4. Poisson with the same mean: 1 - e^-2 = 0.8647 -> 5.
    inputs = sections(category_counts=counts_row(other=2), baseline_rate=[2.0],
                      history=[[0, 4, 2]])
    nb = assess_sections(inputs, PINNED)
    assert nb.likelihood_probability[0] == pytest.approx(0.75)
    assert nb.factor("probability").score[0] == 4
    poisson = assess_sections(inputs, dataclasses.replace(PINNED, distribution="poisson"))
    assert poisson.likelihood_probability[0] == pytest.approx(1 - math.exp(-2))
    assert poisson.factor("probability").score[0] == 5


def test_likelihood_probability_from_the_forecast():
    # Two sections with the history of the test above (history's P = 0.75 each). The
    # forecast says mu = 1, r = 1 for the first: P(>=1) = 1 - (1 / 2)^1 = 0.5 -> 3; the
    # second has no forecast (NaN: its region had nothing to fit) and keeps the history's.
    inputs = sections(2, category_counts=np.vstack([counts_row(other=2)] * 2),
                      baseline_rate=[2.0, 2.0], history=[[0, 4, 2], [0, 4, 2]],
                      forecast_expected=[1.0, np.nan], forecast_size=[1.0, np.nan])
    result = assess_sections(inputs, dataclasses.replace(PINNED, likelihood_source="forecast"))
    assert result.likelihood_probability.tolist() == pytest.approx([0.5, 0.75])
    assert result.expected_next.tolist() == pytest.approx([1.0, 2.0])
    assert result.factor("probability").score.tolist() == [3, 4]
    # the history model ignores a forecast it is given
    history = assess_sections(inputs, PINNED)
    assert history.likelihood_probability.tolist() == pytest.approx([0.75, 0.75])
    with pytest.raises(ValueError, match="together"):
        sections(forecast_expected=[1.0])


def test_the_shipped_config_takes_the_likelihood_from_the_forecast():
    assert load_risk_config().likelihood_source == "forecast"


def test_more_incidents_per_km_never_lower_threat():
    rng = np.random.default_rng(7)
    n = 300
    counts = np.zeros((n, len(CATEGORY_ORDER)), dtype=int)
    counts[:, 0] = rng.poisson(3, n)
    base = dict(
        persons=rng.integers(0, 20, n), baseline_rate=rng.uniform(0, 5, n),
        history=rng.poisson(2, (n, 6)), touches_hotspot=rng.random(n) < 0.3,
        length_m=rng.uniform(1_000, 60_000, n), inland_share=rng.random(n),
    )
    before = assess_sections(sections(n, category_counts=counts, **base), PINNED)
    more = counts.copy()
    more[:, 0] += rng.integers(1, 5, n)
    after = assess_sections(sections(n, category_counts=more, **base), PINNED)
    assert (after.threat >= before.threat).all()
    assert (after.threat > before.threat).any()
    shorter = dict(base, length_m=base["length_m"] / 2)
    denser = assess_sections(sections(n, category_counts=counts, **shorter), PINNED)
    assert (denser.threat >= before.threat).all()


# --------------------------------------------------------------------------- vulnerability


def test_vulnerability_by_hand():
    inputs = sections(category_counts=counts_row(other=4), surveillance_level=[2],
                      terrain_class=["hills"], crossing_distance_m=[3000.0], inland_share=[0.5])
    result = assess_sections(inputs, PINNED)
    scores = scores_of(result)
    # Surveillance level 2 -> 4; hills -> 4; 3000 m (> 2000, <= 5000) -> 2;
    # inland share 0.5 (equal to the cut 0.5) -> 3.
    assert [scores[f] for f in risk_config.VULNERABILITY_FACTORS] == [4, 4, 2, 3]
    # 0.4*4 + 0.2*4 + 0.15*2 + 0.25*3 = 1.6 + 0.8 + 0.3 + 0.75 = 3.45 -> 3
    assert result.vulnerability_weighted[0] == pytest.approx(3.45)
    assert result.vulnerability.tolist() == [3]
    shares = {f["factor"]: f["share"] for f in result.explanations[0]["vulnerability"]}
    assert shares == pytest.approx({"surveillance": 1.6 / 3.45, "terrain": 0.8 / 3.45,
                                    "crossing_distance": 0.3 / 3.45,
                                    "inland_share": 0.75 / 3.45})
    # Largest share first.
    assert [f["factor"] for f in result.explanations[0]["vulnerability"]][0] == "surveillance"


def test_vulnerability_rounds_half_up_and_handles_missing_values():
    # Level 3 -> 3, river -> 2, 1000 m -> 1, share 0.3 -> 3:
    # 0.4*3 + 0.2*2 + 0.15*1 + 0.25*3 = 1.2 + 0.4 + 0.15 + 0.75 = 2.5 -> 3 (half up).
    half = sections(category_counts=counts_row(other=1), terrain_class=["river"],
                    crossing_distance_m=[1000.0], inland_share=[0.3])
    assert assess_sections(half, PINNED).vulnerability.tolist() == [3]
    # No incidents: the inland share is ignored and scores when_no_incidents = 3; no
    # crossing point (inf m) scores 5.
    quiet = sections(inland_share=[0.9], crossing_distance_m=[np.inf])
    result = assess_sections(quiet, PINNED)
    assert scores_of(result)["inland_share"] == 3
    assert scores_of(result)["crossing_distance"] == 5
    notes = {f["factor"]: f["note"] for f in result.explanations[0]["vulnerability"]}
    assert notes["inland_share"] == "no incidents" and notes["crossing_distance"]


def test_better_surveillance_never_raises_vulnerability():
    rng = np.random.default_rng(11)
    n = 200
    counts = np.zeros((n, len(CATEGORY_ORDER)), dtype=int)
    counts[:, 0] = rng.poisson(1, n)
    base = dict(category_counts=counts, terrain_class=rng.choice(TERRAIN_CLASSES, n),
                crossing_distance_m=rng.uniform(0, 40_000, n), inland_share=rng.random(n))
    previous = None
    for level in range(6):
        result = assess_sections(sections(n, surveillance_level=np.full(n, level), **base),
                                 PINNED)
        if previous is not None:
            assert (result.vulnerability <= previous).all()
        previous = result.vulnerability
    assert previous.max() < 5


# --------------------------------------------------------------------------------- impact


def test_impact_by_hand():
    inputs = sections(category_counts=counts_row(trafficking_human_beings=1,
                                                 refusal_of_entry=1),
                      persons=[4], life_risk_count=[1])
    result = assess_sections(inputs, PINNED)
    scores = scores_of(result)
    # Mean severity (5 + 1) / 2 = 3 -> 3; 4 persons (> 0, <= 5) -> 2; 1 life-risk incident
    # (> 0, <= 1) -> 2. Impact = 0.4*3 + 0.25*2 + 0.35*2 = 1.2 + 0.5 + 0.7 = 2.4 -> 2.
    assert result.factor("severity").value[0] == pytest.approx(3.0)
    assert [scores[f] for f in risk_config.IMPACT_FACTORS] == [3, 2, 2]
    assert result.impact_weighted[0] == pytest.approx(2.4)
    assert result.impact.tolist() == [2]
    # With the max statistic the severity is 5 -> 5: 0.4*5 + 0.5 + 0.7 = 3.2 -> 3.
    max_config = dataclasses.replace(
        PINNED, impact=dataclasses.replace(PINNED.impact, severity_statistic="max"))
    assert assess_sections(inputs, max_config).impact.tolist() == [3]


def test_more_severe_categories_never_lower_impact():
    rng = np.random.default_rng(5)
    n = 200
    severity = PINNED.impact.category_severity
    by_severity = sorted(CATEGORY_ORDER, key=severity.get)
    counts = rng.poisson(0.7, (n, len(CATEGORY_ORDER)))
    inputs = dict(persons=rng.integers(0, 60, n), life_risk_count=np.zeros(n, dtype=int))
    for statistic in ("mean", "max"):
        config = dataclasses.replace(
            PINNED, impact=dataclasses.replace(PINNED.impact, severity_statistic=statistic))
        before = assess_sections(sections(n, category_counts=counts, **inputs), config)
        # Move one incident of each section from its least to its most severe category.
        moved = counts.copy()
        low, high = CAT[by_severity[0]], CAT[by_severity[-1]]
        has = moved[:, low] > 0
        moved[has, low] -= 1
        moved[has, high] += 1
        after = assess_sections(sections(n, category_counts=moved, **inputs), config)
        assert (after.impact >= before.impact).all()
        assert (after.factor("severity").value >= before.factor("severity").value).all()


# --------------------------------------------------------------------- risk and explanations


def test_risk_is_the_product_banded_and_ranked():
    inputs = sections(
        3,
        category_counts=np.vstack([counts_row(trafficking_human_beings=10),
                                   counts_row(other=2), counts_row()]),
        persons=[60, 4, 0], life_risk_count=[10, 0, 0], baseline_rate=[2.0, 1.0, 0.0],
        history=[[2, 2, 2], [1, 1, 1], [0, 0, 0]], touches_hotspot=[True, False, False],
        surveillance_level=[1, 3, 5], terrain_class=["hills", "plain", "river"],
        crossing_distance_m=[30_000.0, 5000.0, 500.0], inland_share=[0.8, 0.0, np.nan],
    )
    result = assess_sections(inputs, PINNED)
    assert (result.risk == result.threat * result.vulnerability * result.impact).all()
    # Section 1: threat 10/10 km = 1 per km -> 5, 6 persons/km -> 5, ratio 5 -> 5,
    # P(>=1) with mean (10 + 6) / 4 = 4 -> 5, hot-spot 5: threat 5. Vulnerability
    # 0.4*5 + 0.2*4 + 0.15*5 + 0.25*5 = 4.8 -> 5. Impact: 5, 5, 5 -> 5. Risk 125, high.
    assert result.risk[0] == 125 and result.level[0] == "high"
    # Section 3 has no incidents: threat 1; vulnerability 0.4*1 + 0.2*2 + 0.15*1 + 0.25*3
    # = 1.7 -> 2; impact 1; risk 2, low.
    assert (result.threat[2], result.vulnerability[2], result.impact[2]) == (1, 2, 1)
    assert result.level[2] == "low"
    assert result.rank.tolist() == [1, 2, 3]
    json.dumps(result.records(), allow_nan=False)  # JSON-ready: no numpy scalars, no NaN
    stored = json.loads(json.dumps(inputs.to_json(), allow_nan=False))
    assert stored["inland_share"] == [0.8, 0.0, None]
    assert stored["category_order"] == list(CATEGORY_ORDER)


def test_explanation_shares_sum_to_one_per_component():
    rng = np.random.default_rng(3)
    n = 100
    inputs = sections(
        n, category_counts=rng.poisson(0.5, (n, len(CATEGORY_ORDER))),
        persons=rng.integers(0, 30, n), baseline_rate=rng.uniform(0, 4, n),
        history=rng.poisson(2, (n, 5)), touches_hotspot=rng.random(n) < 0.5,
        surveillance_level=rng.integers(0, 6, n),
        terrain_class=rng.choice(TERRAIN_CLASSES, n), inland_share=rng.random(n),
    )
    result = assess_sections(inputs, PINNED)
    for explanation in result.explanations:
        for component in risk_config.COMPONENTS:
            factors = explanation[component]
            assert sum(f["share"] for f in factors) == pytest.approx(1.0)
            assert [f["share"] for f in factors] == sorted((f["share"] for f in factors),
                                                           reverse=True)
    # The shares are those of the weighted scores.
    for component, weighted in (("threat", result.threat_weighted),
                                ("impact", result.impact_weighted)):
        parts = [f for f in result.factors if f.component == component]
        np.testing.assert_allclose(sum(f.weight * f.score for f in parts), weighted)


def test_section_inputs_reject_bad_shapes_and_values():
    with pytest.raises(ValueError, match="category_counts needs 14 columns"):
        sections(category_counts=np.zeros((1, 3), dtype=int))
    with pytest.raises(ValueError, match="terrain_class"):
        sections(terrain_class=["swamp"])
    with pytest.raises(ValueError, match="length_m"):
        sections(length_m=[0.0])
    with pytest.raises(ValueError, match="life_risk_count"):
        sections(life_risk_count=[1])


def test_impact_over_the_period_and_its_baseline():
    # The period: one refusal of entry. The window (period + 3 history periods = 4
    # periods of 30 days): that refusal and 3 trafficking cases with 24 persons, 2 of
    # them a risk to life.
    window = counts_row(trafficking_human_beings=3, refusal_of_entry=1)
    inputs = sections(category_counts=counts_row(refusal_of_entry=1), persons=[1],
                      life_risk_count=[0], history=[[1, 1, 1]], baseline_rate=[1.0],
                      window_category_counts=window, window_persons=[25],
                      window_life_risk_count=[2])
    assert inputs.window_periods == 4
    by_period = assess_sections(inputs, PINNED)
    # Period only: severity 1 -> 1, 1 person -> 2, no life risk -> 1: 0.4+0.5+0.35 = 1.25.
    assert [scores_of(by_period)[f] for f in risk_config.IMPACT_FACTORS] == [1, 2, 1]
    assert by_period.impact.tolist() == [1]
    windowed = dataclasses.replace(PINNED, impact=dataclasses.replace(
        PINNED.impact, window="period_and_baseline"))
    result = assess_sections(inputs, windowed)
    # Window: mean severity (3*5 + 1) / 4 = 4 -> 4; 25 persons / 4 periods = 6.25 per
    # 30 d -> 3; 2 / 4 = 0.5 life-risk incidents per 30 d -> 2.
    # Impact = 0.4*4 + 0.25*3 + 0.35*2 = 1.6 + 0.75 + 0.7 = 3.05 -> 3.
    assert result.factor("severity").value[0] == pytest.approx(4.0)
    assert result.factor("persons").value[0] == pytest.approx(6.25)
    assert result.factor("life_risk").value[0] == pytest.approx(0.5)
    assert [scores_of(result)[f] for f in risk_config.IMPACT_FACTORS] == [4, 3, 2]
    assert result.impact.tolist() == [3]
    assert "mean of 4 periods" in result.factor("persons").unit
    # The threat still measures the period alone.
    assert result.factor("incidents_per_km").value[0] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="window"):
        sections(category_counts=counts_row(refusal_of_entry=1), persons=[1],
                 life_risk_count=[0], window_category_counts=counts_row(),
                 window_persons=[0], window_life_risk_count=[0])
    with pytest.raises(ValueError, match="all three window counts"):
        sections(window_persons=[0])


def test_rules_for_the_query():
    life = PINNED.impact.life_risk_rule
    assert life.matches("trafficking_human_beings", "attempted", None)
    assert life.matches("illegal_crossing_between_bcp", "actual", "boat")
    assert not life.matches("refusal_of_entry", "actual", "car")
    # The means of transport alone does not endanger lives: the category must be a
    # clandestine movement of persons.
    assert life.matches("illegal_crossing_at_bcp", "attempted", "truck")
    assert not life.matches("refusal_of_entry", "actual", "boat")
    assert not life.matches("smuggling_tobacco", "actual", "truck")
    late = PINNED.vulnerability.late_detection
    assert late.matches("inland", "attempted") and late.matches("border_surveillance", "actual")
    assert not late.matches("bcp_check", "attempted")
    assert not late.matches("bcp_check", "actual")  # met at the check: never late
    assert late.matches(None, "actual")


# ------------------------------------------------------------------------ YAML validation


def line_of(text: str, snippet: str) -> int:
    """1-based line where snippet (unique in text) starts."""
    assert text.count(snippet) == 1, snippet
    return text[: text.index(snippet)].count("\n") + 1


def write_bad(tmp_path, old: str, new: str) -> tuple[Path, str]:
    assert PINNED_YAML.count(old) == 1, old
    text = PINNED_YAML.replace(old, new)
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


@pytest.mark.parametrize(
    ("old", "new", "line_snippet", "reason"),
    [
        # YAML syntax: a second "key:" on one line.
        ("corridor_m: 5000\n", "corridor_m: 5000: 3\n", "corridor_m", "invalid YAML"),
        ("corridor_m: 5000\n", "corridor_m: 5000\ncorridor_m: 4000\n", "corridor_m: 4000",
         "duplicate key 'corridor_m'"),
        ("    hotspot:\n      touching", "    colour: red\n    hotspot:\n      touching",
         "colour", "unknown key 'colour' in 'threat.likelihood'"),
        # A missing key points at the mapping that should hold it.
        ("      persons_per_km: 0.3\n", "", "    weights:\n      incidents_per_km: 0.7",
         "missing weight 'persons_per_km'"),
        ("corridor_m: 5000", "corridor_m: five km", "corridor_m",
         "'corridor_m' must be a finite number"),
        ("  alpha: 0.01", "  alpha: 1.5", "  alpha", "'alerts.alpha' must be above 0"),
        ("    medium_max: 59", "    medium_max: 12", "    medium_max",
         "must be above low_max"),
        ("    magnitude: 0.5\n    likelihood: 0.5", "    magnitude: 0.6\n    likelihood: 0.5",
         "  weights:\n    magnitude", "weights sum to 1.1"),
        ("    other: 1\n", "", "  category_severity:",
         "missing incident category 'other'"),
        ("    other: 1\n", "    other: 1\n    smuggling_cats: 2\n", "smuggling_cats",
         "unknown incident category 'smuggling_cats'"),
        ("    other: 1\n", "    other: 6\n", "    other: 6", "'impact.category_severity.other'"),
        ("    urban: 4\n", "    swamp: 4\n", "swamp", "unknown terrain class 'swamp'"),
        ("    3: 3\n", "    3: 5\n", "    3: 5", "better surveillance must not raise"),
        ("    cuts: [0.5, 0.9, 1.25, 2.0]", "    cuts: [0.5, 0.9, 0.8, 2.0]",
         "    cuts: [0.5, 0.9, 0.8", "strictly ascending"),
        ("    cuts: [0.2, 0.4, 0.6, 0.8]", "    cuts: [0.2, 0.4, 0.6]",
         "    cuts: [0.2, 0.4, 0.6]", "list of 4 ascending numbers"),
        ("      method: thresholds\n      cuts: [0.0, 0.1, 0.5, 2.0]",
         "      method: quantiles\n      cuts: [0.0, 0.1, 0.5, 2.0]",
         "      cuts: [0.0, 0.1, 0.5, 2.0]", "a quantile must be in (0, 1)"),
        ("      transport_means: [boat, truck]", "      transport_means: [boat, sledge]",
         "      transport_means", "unknown code 'sledge'"),
        ("  family: negative_binomial", "  family: gamma", "  family",
         "must be one of poisson, negative_binomial"),
        ("  min_history_periods: 3", "  min_history_periods: 3.5", "  min_history_periods",
         "must be an integer"),
        ("    statistic: mean", "    statistic: median", "    statistic", "mean, max"),
        ("  window: period\n", "  window: month\n", "  window",
         "must be one of period, period_and_baseline"),
        ("      checked_at: [bcp_check]", "      checked_at: [customs]", "      checked_at",
         "unknown code 'customs'"),
    ],
)
def test_invalid_config_reports_file_line_and_reason(tmp_path, old, new, line_snippet, reason):
    path, text = write_bad(tmp_path, old, new)
    with pytest.raises(RiskConfigError) as caught:
        load_risk_config(path)
    error = caught.value
    assert error.line == line_of(text, line_snippet), str(error)
    assert reason in error.reason, str(error)
    assert str(error).startswith(f"{path}, line {error.line}: ")


def test_unreadable_and_empty_files(tmp_path):
    with pytest.raises(RiskConfigError, match="cannot read the file") as caught:
        load_risk_config(tmp_path / "missing.yaml")
    assert caught.value.line is None
    empty = tmp_path / "empty.yaml"
    empty.write_text("# only a comment\n", encoding="utf-8")
    with pytest.raises(RiskConfigError, match="line 1: the file holds no configuration"):
        load_risk_config(empty)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just words\n", encoding="utf-8")
    with pytest.raises(RiskConfigError, match="line 1: 'the file' must be a mapping"):
        load_risk_config(scalar)


def test_missing_top_level_block_points_at_line_one(tmp_path):
    path, _ = write_bad(tmp_path, "alerts:\n  alpha: 0.01\n  min_expected: 0.5\n", "")
    with pytest.raises(RiskConfigError, match="line 1: missing key 'alerts' at the top level"):
        load_risk_config(path)


# ------------------------------------------------------------------------ percent change


def test_percent_change_is_nan_where_the_base_is_zero_without_warnings():
    current = np.array([10, 5, 0, 3, np.nan, 0])
    base = np.array([5, 0, 0, 6, 2, 4])
    with np.errstate(all="raise"):
        change = percent_change(current, base)
    # (10-5)/5 = +100 %; 5 vs 0 -> NaN; 0 vs 0 -> NaN; (3-6)/6 = -50 %; NaN -> NaN; -100 %.
    np.testing.assert_array_equal(change, [100.0, np.nan, np.nan, -50.0, np.nan, -100.0])
    assert math.isnan(percent_change(1, 0)[()])
    with pytest.raises(ValueError, match="same shape"):
        percent_change([1, 2], [1])


# ------------------------------------------------------------------------- concentration


def test_concentration_of_incidents_in_the_top_fifth():
    # 10 sections: k = 2 -> 10 + 5 of 20 = 0.75.
    assert concentration([10, 0, 5, 3, 2, 0, 0, 0, 0, 0]) == pytest.approx(0.75)
    # 12 sections: 0.2 * 12 = 2.4 -> k = 2 (never more than asked): 9 + 8 of 20.
    assert concentration([1, 9, 0, 0, 8, 0, 0, 1, 1, 0, 0, 0]) == pytest.approx(17 / 20)
    # 3 sections: 0.6 -> at least one section.
    assert concentration([1, 2, 1]) == pytest.approx(0.5)
    assert concentration([1, 1, 1, 1, 1], top_share=0.4) == pytest.approx(0.4)
    assert math.isnan(concentration([0, 0, 0]))


# -------------------------------------------------------------------------------- alerts


def test_alert_p_values_by_hand():
    # NB with history [0, 4, 2]: r = 2, mu = 2 -> p = 0.5 and pmf(x) = (x+1) 0.5^(x+2);
    # P(X >= 6) = 1 - (1 + 1 + 0.75 + 0.5 + 0.3125 + 0.1875) / 4 = 1 - 0.9375 = 0.0625.
    nb = count_alerts([6], [2.0], history=[[0, 4, 2]], config=PINNED)
    assert nb.p_value[0] == pytest.approx(0.0625, abs=1e-12)
    assert nb.size[0] == pytest.approx(2.0)
    assert nb.distribution.tolist() == ["negative_binomial"] and not nb.alert[0]
    # Poisson(2): P(X >= 6) = 1 - e^-2 (1 + 2 + 2 + 4/3 + 2/3 + 4/15) = 0.016564.
    poisson = count_alerts([6], [2.0], config=PINNED)
    expected = 1 - math.exp(-2) * (1 + 2 + 2 + 4 / 3 + 2 / 3 + 4 / 15)
    assert poisson.p_value[0] == pytest.approx(expected, abs=1e-12)
    assert poisson.distribution.tolist() == ["poisson"]


def test_alert_p_values_equal_scipy():
    rng = np.random.default_rng(42)
    n = 500
    history = rng.negative_binomial(3, 0.4, (n, 12))
    history[:50] = rng.poisson(3, (50, 12))  # some sections not over-dispersed
    history[50:60] = 0
    expected = history.mean(axis=1)
    observed = rng.poisson(expected * rng.uniform(0.5, 4, n))
    result = count_alerts(observed, expected, history=history, config=PINNED)

    mean = np.maximum(expected, PINNED.min_expected)
    variance = history.var(axis=1, ddof=1)
    over = (expected > 0) & (variance > expected)
    assert over.any() and (~over).any()
    r = expected[over] ** 2 / (variance[over] - expected[over])
    reference = stats.poisson.sf(observed - 1, mean)
    reference[over] = stats.nbinom.sf(observed[over] - 1, r, r / (r + mean[over]))
    np.testing.assert_allclose(result.p_value, reference, rtol=0, atol=1e-12)
    assert (result.distribution == np.where(over, "negative_binomial", "poisson")).all()
    np.testing.assert_array_equal(result.alert, reference < 0.01)
    assert result.alert.any()

    poisson = count_alerts(observed, expected, history=history,
                           config=dataclasses.replace(PINNED, distribution="poisson"))
    np.testing.assert_allclose(poisson.p_value, stats.poisson.sf(observed - 1, mean),
                               rtol=0, atol=1e-12)


def test_alert_flag_threshold_is_strictly_below_alpha():
    p = stats.poisson.sf(5, 2.0)  # P(X >= 6 | mu = 2)
    at_alpha = count_alerts([6], [2.0], config=dataclasses.replace(PINNED, alert_alpha=p))
    assert at_alpha.p_value[0] == p and not at_alpha.alert[0]
    above = count_alerts([6], [2.0],
                         config=dataclasses.replace(PINNED, alert_alpha=np.nextafter(p, 1)))
    assert above.alert[0]


def test_the_expected_range_ends_at_the_highest_count_that_does_not_alert():
    history = [[2, 9, 0, 7, 1, 8], [2, 2, 2, 2, 2, 2]]  # over-dispersed (NB); Poisson
    for expected in ([3.0, 2.0], [0.0, 0.0], [12.5, 40.0]):
        alerts = count_alerts([0, 0], expected, history=history, config=PINNED)
        low, high = ciram.expected_range(alerts, PINNED.alert_alpha)
        at_high = count_alerts(high, expected, history=history, config=PINNED)
        above = count_alerts(high + 1, expected, history=history, config=PINNED)
        assert not at_high.alert.any() and above.alert.all(), expected
        assert (0 <= low).all() and (low <= high).all()
    # Poisson(0.5) by hand: P(X >= 3) = 0.0144 does not alert at 0.01, P(X >= 4) does.
    alerts = count_alerts([0], [0.0], config=PINNED)
    assert ciram.expected_range(alerts, 0.01)[1].tolist() == [3]


def test_alerts_floor_the_expectation_and_ignore_short_histories():
    # Expected 0 is raised to 0.5: P(X >= 3) = 0.0144 (no alert), P(X >= 4) = 0.00175 (alert).
    result = count_alerts([0, 3, 4], [0.0, 0.0, 0.0], config=PINNED)
    assert result.expected.tolist() == [0.5, 0.5, 0.5]
    assert result.p_value[0] == 1.0
    assert result.alert.tolist() == [False, False, True]
    # Two periods of history (< min_history_periods 3): Poisson even if over-dispersed.
    short = count_alerts([6], [2.0], history=[[0, 4]], config=PINNED)
    assert short.distribution.tolist() == ["poisson"]
