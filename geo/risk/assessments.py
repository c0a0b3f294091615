"""Risk assessments of border sections from the database: inputs, scores, records.

``geo.risk.ciram`` holds the CIRAM model (pure numpy); this module feeds it and keeps its
results:

- :func:`gather_inputs` counts, set-based in SQL, the incidents of a period that lie
  within the configured corridor of their nearest section (the derived links of
  ``geo.queries.link_incidents``), per category, with persons, risk-to-life and
  late-detection counts, for the period and the ``baseline_periods`` equal-length
  periods before it; adds each section's distance to the nearest crossing point and
  whether it touches a Gi* hot-spot of the period (``geo.hotspots.pipeline``).
- :func:`evaluate_sections` scores them, compares with the previous equal-length
  period and the same period a year before, and tests each section for an alert.
- :func:`store_assessment` writes the result as an immutable record;
  :func:`section_history` reads a section's levels over time with the supervisors'
  decisions.

Times are timezone-aware (UTC); distances and lengths in metres in the analysis CRS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import orjson
import shapely

from geo import queries
from geo.crs import STORAGE_SRID, reproject
from geo.errors import ParameterError
from geo.forecast import service as forecast
from geo.hotspots import cache as hotspot_cache
from geo.hotspots import hexgrid, inputs, pipeline
from geo.models import RiskAssessment, RiskLevelDecision, RiskSectionResult
from geo.queries import risk as risk_sql
from geo.risk import ciram, risk_config
from geo.scope import VIEWER_PARAMETER

# The view a stored assessment is counted in: what every agency may count (records
# released to all, or let count in aggregates by their originators). A stored record is
# the ministry's, read by every agency, so it counts no record some agency may not count.
SHARED_VIEW = ""

# How the sections are ordered and what their incidents are: said in every ranking.
RANKING_ORDER = "risk (highest first), then incidents (most first), then section code"
SECTION_COUNT_RULE = ("incidents within {corridor_m:g} m of a border section, each counted "
                      "for its nearest section (the corridor rule), whatever region it is "
                      "linked to")

# Gi* bins that count as a hot-spot a section "touches" (95 % confidence or more).
HOTSPOT_MIN_BIN = 2







@dataclass
class SectionFrame:
    """The sections of an assessment and everything gathered about them."""

    ids: np.ndarray
    codes: list[str]
    names: list[str]
    inputs: ciram.SectionInputs
    previous: np.ndarray  # incidents in the previous equal-length period
    last_year: np.ndarray  # incidents in the same period a year before
    viewer_agency: str | None = None  # whose view was counted (geo.scope; None: system)
    not_visible: int = 0  # of the period's counted incidents, not visible to the viewer
    not_visible_compared: int = 0  # likewise, of the baseline periods and last year
    names_ka: list[str | None] | None = None  # the names in Georgian (None: none)


def _region_id(session, region_code: str | None) -> int | None:
    if region_code is None:
        return None
    region_id = queries.region_id_for_code(session, region_code)
    if region_id is None:
        raise ParameterError("region", f"unknown region code {region_code!r}")
    return region_id


def _touching_hotspots(session, section_ids, section_geoms, region_code, start, end, srid,
                       viewer_agency: str | None = None) -> np.ndarray:
    """Whether each section (``section_ids``, metric geometries ``section_geoms``)
    touches a cell of bin >= 2 of the default hot-spot map
    (``geo.hotspots.pipeline.default_request``) of the period, counted as
    ``viewer_agency`` counts (None: every incident). Kept with the analyses' results
    (``geo.hotspots.cache``): a ranking asked of another worker process reads them."""
    arguments = {"sections": [int(i) for i in section_ids], "region": region_code,
                 "start": start, "end": end, "viewer_agency": viewer_agency}
    body = hotspot_cache.cached(
        session, "section-hotspot-flags", arguments, srid,
        lambda: {"touching": _hotspot_flags(session, section_geoms, region_code, start, end,
                                            srid, viewer_agency).tolist()})
    return np.array(orjson.loads(body)["touching"], dtype=bool)


def _hotspot_flags(session, section_geoms, region_code, start, end, srid,
                   viewer_agency: str | None) -> np.ndarray:
    """:func:`_touching_hotspots` computed."""
    if region_code:
        area = inputs.StudyArea(regions=(region_code,))
    else:
        bounds = shapely.bounds(shapely.union_all(section_geoms))
        lonlat = reproject(shapely.box(*bounds), srid, STORAGE_SRID).bounds
        area = inputs.StudyArea(bbox=tuple(float(v) for v in lonlat))
    request = pipeline.default_request(area, inputs.Selection(start, end,
                                                              viewer_agency=viewer_agency))
    flags = np.zeros(len(section_geoms), dtype=bool)
    try:
        # The cells themselves, in metres of srid: no GeoJSON of the whole grid.
        cells = pipeline.hotspot_cells(session, request, srid)
    except ParameterError:
        return flags  # too few incidents: no hot-spot
    hot = np.flatnonzero(np.nan_to_num(cells.properties["bin"]) >= HOTSPOT_MIN_BIN)
    if hot.size == 0:
        return flags
    grid = cells.grid
    tree = shapely.STRtree(hexgrid.hex_polygons(grid.i[hot], grid.j[hot], grid.size))
    touching = tree.query(np.asarray(section_geoms), predicate="intersects")
    flags[np.unique(touching[0])] = True
    return flags


def counts_parameters(config: risk_config.RiskConfig, section_ids: list[int], start: datetime,
                      end: datetime, viewer_agency: str | None = None) -> dict:
    """Bound parameters of the counts statement for these sections and period, counting
    what ``viewer_agency`` may count (``geo.scope.counted_condition``; None: every
    incident)."""
    period = end - start
    life, late = config.impact.life_risk_rule, config.vulnerability.late_detection
    return {
        "start": start, "end": end, "earliest": start - config.baseline_periods * period,
        "period_seconds": period.total_seconds(), "section_ids": section_ids,
        "corridor_m": config.corridor_m,
        "life_outcomes": list(life.outcomes), "life_categories": list(life.categories),
        "life_transport": list(life.transport_means),
        "life_transport_categories": list(life.transport_categories),
        "late_detection": list(late.detection_methods), "late_outcomes": list(late.outcomes),
        "late_checked_at": list(late.checked_at),
        VIEWER_PARAMETER: viewer_agency,
    }


def last_year_parameters(config: risk_config.RiskConfig, section_ids: list[int], start: datetime,
                         end: datetime, viewer_agency: str | None = None) -> dict:
    """Bound parameters of the same-period-last-year count (365 days earlier), of what
    ``viewer_agency`` may count (None: every incident)."""
    year = timedelta(days=365)
    return {"section_ids": section_ids, "corridor_m": config.corridor_m,
            "start": start - year, "end": end - year, VIEWER_PARAMETER: viewer_agency}


def _forecasts(session, config: risk_config.RiskConfig, sections, end: datetime,
               period_days: float, srid: int, viewer_agency: str | None):
    """Expected incidents of the period after the assessed one and the negative binomial
    size per section (``geo.forecast``, each region's sections fitted together), NaN
    where none could be fitted; ``(None, None)`` unless the configuration's
    ``distribution.likelihood`` is ``forecast``."""
    if config.likelihood_source != "forecast":
        return None, None
    as_of, period = forecast.next_period(end, period_days)
    expected, size = np.full(len(sections), np.nan), np.full(len(sections), np.nan)
    codes = queries.region_codes(session, {s.region_id for s in sections
                                           if s.region_id is not None})
    outlooks = forecast.section_outlooks(session, sorted(codes.values()), as_of, period, srid,
                                         viewer_agency, config.corridor_m)
    for k, section in enumerate(sections):
        outlook = outlooks.get(codes.get(section.region_id), {})
        if section.code in outlook.get("sections", {}):
            expected[k] = outlook["sections"][section.code]["expected"]
            size[k] = outlook["nb_size"]
    return expected, size


def gather_inputs(session, config: risk_config.RiskConfig, region_code: str | None,
                  start: datetime, end: datetime, srid: int,
                  viewer_agency: str | None = None) -> SectionFrame:
    """The model's inputs for every section of a region (or all) and period, counting
    the incidents ``viewer_agency`` may count (``geo.scope.counted_condition``: those
    it sees in detail and those their originators let count in aggregates; None: every
    incident, "": what every agency may count), and how many of those it does not
    see."""
    if end <= start:
        raise ParameterError("datetime", "the period must end after it starts")
    region_id = _region_id(session, region_code)
    sections = session.execute(risk_sql.SECTIONS, {"srid": srid, "region_id": region_id}).all()
    if not sections:
        raise ParameterError("region", "the region has no border sections")
    ids = np.array([s.id for s in sections])
    position = {section_id: k for k, section_id in enumerate(ids.tolist())}
    period = end - start
    k = config.baseline_periods
    # JIT compiles the per-row expressions of the counts for ~0.5 s, more than it saves
    # on the ~350,000 rows of 13 months at 1M incidents (bench/risk_bench.py).
    # Planned without plain index scans (queries.window_reads): 3 years and more of
    # the sections' incidents, which the time index alone would read for every region.
    with queries.without_jit(session), queries.window_reads(session):
        rows = session.execute(risk_sql.COUNTS, counts_parameters(
            config, ids.tolist(), start, end, viewer_agency)).all()
    n = len(ids)
    categories = {c: j for j, c in enumerate(risk_config.CATEGORY_ORDER)}
    category_counts = np.zeros((n, len(categories)), dtype=np.int64)
    history = np.zeros((n, k), dtype=np.int64)
    persons = np.zeros(n, dtype=np.int64)
    life_risk = np.zeros(n, dtype=np.int64)
    late_count = np.zeros(n, dtype=np.int64)
    window_counts = np.zeros((n, len(categories)), dtype=np.int64)
    window_persons = np.zeros(n, dtype=np.int64)
    window_life_risk = np.zeros(n, dtype=np.int64)
    not_visible = np.zeros(k + 1, dtype=np.int64)  # by period back
    for row in rows:
        s = position[row.section_id]
        if not 0 <= row.back <= k:
            continue
        not_visible[row.back] += row.not_visible
        window_counts[s, categories[row.category]] += row.incidents
        window_persons[s] += row.persons
        window_life_risk[s] += row.life_risk
        if row.back == 0:
            category_counts[s, categories[row.category]] += row.incidents
            persons[s] += row.persons
            life_risk[s] += row.life_risk
            late_count[s] += row.late
        else:
            history[s, row.back - 1] += row.incidents
    last_year = np.zeros(n, dtype=np.int64)
    last_year_not_visible = 0
    with queries.without_jit(session), queries.window_reads(session):
        for row in session.execute(risk_sql.LAST_YEAR, last_year_parameters(
                config, ids.tolist(), start, end, viewer_agency)):
            last_year[position[row.section_id]] = row.incidents
            last_year_not_visible += row.not_visible
    incidents = category_counts.sum(axis=1)
    geoms = [reproject(shapely.from_wkb(bytes(s.geom)), STORAGE_SRID, srid) for s in sections]
    forecast_expected, forecast_size = _forecasts(session, config, sections, end,
                                                  period.total_seconds() / 86400, srid,
                                                  viewer_agency)
    inputs = ciram.SectionInputs(
        section_ids=ids,
        length_m=np.array([s.length_m for s in sections], dtype=float),
        period_days=period.total_seconds() / 86400,
        category_counts=category_counts,
        persons=persons,
        life_risk_count=life_risk,
        baseline_rate=history.mean(axis=1) if k else np.zeros(n),
        history=history,
        touches_hotspot=_touching_hotspots(session, ids, geoms, region_code, start, end,
                                           srid, viewer_agency),
        surveillance_level=np.array([s.surveillance_level for s in sections]),
        terrain_class=np.array([s.terrain_class for s in sections], dtype=object),
        crossing_distance_m=np.array([np.inf if s.crossing_distance_m is None
                                      else s.crossing_distance_m for s in sections]),
        inland_share=np.divide(late_count, incidents, out=np.full(n, np.nan),
                               where=incidents > 0),
        window_category_counts=window_counts,
        window_persons=window_persons,
        window_life_risk_count=window_life_risk,
        forecast_expected=forecast_expected,
        forecast_size=forecast_size,
    )
    return SectionFrame(ids, [s.code for s in sections], [s.name for s in sections], inputs,
                        previous=history[:, 0] if k else np.zeros(n, dtype=np.int64),
                        last_year=last_year, viewer_agency=viewer_agency,
                        not_visible=int(not_visible[0]),
                        not_visible_compared=int(not_visible[1:].sum()) + last_year_not_visible,
                        names_ka=[s.name_ka for s in sections])


def _nullable(values) -> list:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, dtype=float)]


def agency_view(frame: SectionFrame) -> dict:
    """Whose view the counts are and how many counted records that agency does not see
    in detail: ``viewer_agency`` (None: the system; "": every agency's common view),
    ``counted_not_visible`` of the period's incidents (``incidents``), and
    ``counted_not_visible_compared`` of the baseline periods' and the same period last
    year's (the comparisons and the alerts' expectations)."""
    return {"viewer_agency": frame.viewer_agency, "counted_not_visible": frame.not_visible,
            "counted_not_visible_compared": frame.not_visible_compared}


def evaluate_sections(frame: SectionFrame, config: risk_config.RiskConfig) -> dict:
    """Scores, comparisons, alerts and the region summary of gathered sections."""
    result = ciram.assess_sections(frame.inputs, config)
    counts = frame.inputs.incidents
    alerts = ciram.count_alerts(counts, frame.inputs.baseline_rate, frame.inputs.history, config)
    expected_low, expected_high = ciram.expected_range(alerts, config.alert_alpha)
    change_previous = ciram.percent_change(counts, frame.previous)
    change_year = ciram.percent_change(counts, frame.last_year)
    sections = []
    for k, record in enumerate(result.records()):
        record.update({
            "code": frame.codes[k], "name": frame.names[k],
            "name_ka": frame.names_ka[k] if frame.names_ka else None, "incidents": int(counts[k]),
            "persons": int(frame.inputs.persons[k]),
            "touches_hotspot": bool(frame.inputs.touches_hotspot[k]),
            # the baseline periods' counts, oldest first, then this period's: the trend
            "period_counts": [int(c) for c in frame.inputs.history[k][::-1]] + [int(counts[k])],
            "categories": {category: int(n) for category, n in zip(
                risk_config.CATEGORY_ORDER, frame.inputs.category_counts[k], strict=True) if n},
            "comparison": {
                "previous_period": int(frame.previous[k]),
                "change_previous_pct": _nullable([change_previous[k]])[0],
                "same_period_last_year": int(frame.last_year[k]),
                "change_last_year_pct": _nullable([change_year[k]])[0],
            },
            "alert": {"alert": bool(alerts.alert[k]), "observed": int(alerts.observed[k]),
                      "expected": float(alerts.expected[k]),
                      "p_value": float(alerts.p_value[k]),
                      # counts per period the model expects; above "high" alerts
                      "expected_range": [int(expected_low[k]), int(expected_high[k])],
                      "distribution": str(alerts.distribution[k])},
        })
        sections.append(record)
    # The ranking's order, said by RANKING_ORDER: risk, then incidents, then code.
    sections.sort(key=lambda r: (r["rank"], -r["incidents"], r["code"]))
    total = int(counts.sum())
    summary = {
        "sections": len(sections), "incidents": total,
        "levels": {level: int((result.level == level).sum()) for level in risk_config.LEVELS},
        "concentration_top20_pct": _nullable([100 * ciram.concentration(counts)])[0],
        "change_previous_pct": _nullable(ciram.percent_change([total],
                                                             [frame.previous.sum()]))[0],
        "change_last_year_pct": _nullable(ciram.percent_change([total],
                                                              [frame.last_year.sum()]))[0],
        "alerts": int(alerts.alert.sum()),
        "config_sha256": result.config_sha256,
        **agency_view(frame),
    }
    return {"summary": summary, "sections": sections}


PARTIAL_NOTE = ("partial period: it ends after the data clock's now, so it is not "
                "compared with full periods")
CHANGES = ("change_previous_pct", "change_last_year_pct")


def withhold_comparisons(evaluated: dict) -> None:
    """Mark an evaluation (:func:`evaluate_sections`) as of a partial period, in place:
    its percent changes against full periods become None and ``summary`` and each
    section's ``comparison`` say why (``partial``, ``note``). The counts of the earlier
    periods stay, for reading."""
    evaluated["summary"].update({key: None for key in CHANGES},
                                partial=True, partial_note=PARTIAL_NOTE)
    for section in evaluated["sections"]:
        section["comparison"].update({key: None for key in CHANGES},
                                     partial=True, note=PARTIAL_NOTE)


def assess_region(session, config: risk_config.RiskConfig, region_code: str | None,
                  start: datetime, end: datetime, srid: int,
                  viewer_agency: str | None = None) -> dict:
    """Gather, score and compare every section of a region (or all) for a period.

    The result of :func:`evaluate_sections` with ``inputs``, the model's inputs as JSON
    (what :func:`store_assessment` keeps). Period bounds are timezone-aware (UTC);
    ``srid`` is the metric analysis CRS. The counts are those ``viewer_agency`` may
    count (:func:`gather_inputs`; None: every incident), and the summary says so
    (:func:`agency_view`). An assessment to be stored and read by every agency is
    counted with ``SHARED_VIEW``.

    Kept with the analyses' results (``geo.hotspots.cache``, kind ``risk-assessment``),
    keyed by everything the answer depends on: the region, the period, the viewer's
    agency, the model (:func:`risk_config.config_hash`), the CRS and the data stamps.
    A ranking asked of another worker process, or after the worker's warm-up, is read
    (two statements) instead of gathered (a dozen, 0.15 s to seconds). Every call
    returns its own copy: callers change it in place (decisions, partial periods).
    Supervisors' decisions are not in it (:func:`apply_decisions` reads them).
    """
    arguments = {"region": region_code, "start": start, "end": end,
                 "viewer_agency": viewer_agency, "model": risk_config.config_hash(config)}
    body = hotspot_cache.cached(
        session, "risk-assessment", arguments, srid,
        lambda: _assess_region(session, config, region_code, start, end, srid, viewer_agency))
    return orjson.loads(body)


def _assess_region(session, config: risk_config.RiskConfig, region_code: str | None,
                   start: datetime, end: datetime, srid: int,
                   viewer_agency: str | None) -> dict:
    """:func:`assess_region` computed."""
    frame = gather_inputs(session, config, region_code, start, end, srid, viewer_agency)
    evaluated = evaluate_sections(frame, config)
    evaluated["inputs"] = frame.inputs.to_json()
    return evaluated


def store_assessment(session, config: risk_config.RiskConfig, region_code: str | None,
                     start: datetime, end: datetime, evaluated: dict, inputs: dict,
                     user_id: int) -> RiskAssessment:
    """Write an assessment and its section results as an immutable record (no commit)."""
    record = RiskAssessment(
        region_id=_region_id(session, region_code), period_start=start, period_end=end,
        config_sha256=evaluated["summary"]["config_sha256"], config_text=config.text,
        inputs=inputs, summary=evaluated["summary"], created_by=user_id,
    )
    session.add(record)
    session.flush()
    session.add_all([
        RiskSectionResult(assessment_id=record.id, segment_id=s["section_id"],
                          threat=s["threat"], vulnerability=s["vulnerability"],
                          impact=s["impact"], risk=s["risk"], level=s["level"], rank=s["rank"],
                          details=s)
        for s in evaluated["sections"]
    ])
    session.flush()
    return record


def assessment_record(session, assessment_id: int) -> dict | None:
    """A stored assessment with its sections in rank order, or None."""
    record = session.get(RiskAssessment, assessment_id)
    if record is None:
        return None
    results = session.query(RiskSectionResult).filter_by(assessment_id=record.id).order_by(
        RiskSectionResult.rank, RiskSectionResult.segment_id)
    return {"id": record.id, "region_id": record.region_id,
            "period": [record.period_start.isoformat(), record.period_end.isoformat()],
            "created_by": record.created_by, "created_at": record.created_at.isoformat(),
            "config_sha256": record.config_sha256, "config": record.config_text,
            "inputs": record.inputs, "summary": record.summary,
            "sections": [r.details for r in results]}




def apply_decisions(session, sections: list[dict]) -> None:
    """Set each section's effective ``level`` from its latest supervisor decision.

    The computed level stays in ``computed_level``; ``decision`` says who set what, when
    and why (None when no decision holds).
    """
    ids = [s["section_id"] for s in sections]
    decisions = {row.segment_id: row for row in session.execute(risk_sql.CURRENT_DECISIONS,
                                                                {"ids": ids})}
    for section in sections:
        section["computed_level"] = section["level"]
        decision = decisions.get(section["section_id"])
        section["decision"] = None
        if decision is not None and decision.level is not None:
            section["level"] = decision.level
            section["decision"] = {"level": decision.level,
                                   "justification": decision.justification,
                                   "decided_by": decision.decided_by,
                                   "decided_at": decision.decided_at.isoformat()}




def decide_level(session, section_id: int, level: str | None, justification: str,
                 user_id: int):
    """Record a supervisor's level for a section (``level`` None lifts the decision in
    force); returns ``(decision, previous)``: the new ``RiskLevelDecision`` and the
    decision it replaces (a dict, None when none held). Does not commit."""
    current = [{"section_id": section_id, "level": None}]
    apply_decisions(session, current)
    decision = RiskLevelDecision(segment_id=section_id, level=level,
                                 justification=justification.strip(), decided_by=user_id)
    session.add(decision)
    session.flush()  # decided_at, from the database
    return decision, current[0]["decision"]


def section_history(session, section_id: int) -> list[dict]:
    """A section's assessed levels and supervisors' decisions, oldest first."""
    return [
        {"kind": row.kind, "assessment_id": row.assessment_id,
         "period": None if row.period_start is None
         else [row.period_start.isoformat(), row.period_end.isoformat()],
         "level": row.level, "risk": row.risk, "at": row.at.isoformat(),
         "justification": row.justification, "by": row.by}
        for row in session.execute(risk_sql.HISTORY, {"id": section_id})
    ]
