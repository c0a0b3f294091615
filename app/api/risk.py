"""CIRAM risk of border sections: rankings, assessment records, level decisions, alerts.

A user restricted to regions (``app.auth.scope``) works on their own: ``region`` must be
one of theirs (403), defaults to their only one (422 listing them when they have
several); a section or an assessment of another region (or of all) is not found (404).

Rankings and alerts count what the caller's agency may count (``geo.scope``: what it
sees in detail, and others' records let count in aggregates) and say how many of those
it does not see (``counted_not_visible``). A stored assessment is the ministry's record,
read by every agency: it is counted in the view every agency shares
(``geo.risk.assessments.SHARED_VIEW``: records released to all or let count), and its
``inputs`` and ``summary`` name that view (``viewer_agency`` "").
"""

from __future__ import annotations

import io
import json
import re

from flask import Response, current_app, request
from flask_login import current_user

from app import audit
from app.api import ApiError, bp
from app.api.downloads import whole_file
from app.api.params import ParameterError, parse_datetime_interval, parse_int
from app.api.scoping import scoped_region_code
from app.auth.scope import region_scope, viewer_agency
from app.extensions import db
from geo import clock
from geo.events import application as events
from geo.products import periods
from geo.risk import assessments, exports, monthly
from geo.transactions import unit_of_work

DECISION_LEVELS = ("low", "medium", "high", "critical")
RANKING_FORMATS = ("json", "csv", "geojson")
AGENCY_VIEW = ("viewer_agency", "counted_not_visible", "counted_not_visible_compared")


def period_parameter(value, field: str = "datetime"):
    if value is not None and not isinstance(value, str):
        raise ParameterError(field, "must be a string start/end")
    start, end = parse_datetime_interval(value)
    if start is None or end is None:
        raise ParameterError(field, "needs a closed interval start/end, e.g. "
                                    "2026-10-01T00:00:00Z/2026-10-31T23:59:59Z")
    return start, end


def analysis_period(value) -> periods.AnalysisPeriod:
    """The period of an analysis endpoint: its ``datetime`` (a closed interval), or
    without one the default period (``geo.products.periods.default_analysis_period``:
    the last complete month), counted for the caller's agency."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return periods.default_analysis_period(db.session, clock.utc_now(), viewer_agency())
    start, end = period_parameter(value)
    return periods.AnalysisPeriod(start, end, periods.REQUESTED)


def _evaluate(region: str | None, start, end, agency: str | None) -> dict:
    """The live assessment of ``region`` and the period, counted as ``agency`` counts."""
    return assessments.assess_region(db.session, current_app.config["RISK_MODEL"], region,
                                     start, end, current_app.config["ANALYSIS_SRID"],
                                     viewer_agency=agency)


def _header(region, period: periods.AnalysisPeriod, evaluated: dict) -> dict:
    """Region, period (``period``, ``period_source``, ``period_partial``) and whose view
    was counted (``geo.risk.assessments.agency_view``: ``viewer_agency``,
    ``counted_not_visible``, ``counted_not_visible_compared``)."""
    summary = evaluated["summary"]
    return {"region": region, **period.describe(clock.utc_now()),
            **{key: summary[key] for key in AGENCY_VIEW}}


def _live_assessment(args) -> tuple[str | None, periods.AnalysisPeriod, dict]:
    """The region, period and live assessment a ranking or alerts request asks for; the
    comparisons of a partial period withheld (``assessments.withhold_comparisons``)."""
    period = analysis_period(args.get("datetime"))
    region = scoped_region_code(args.get("region"), default=True)
    evaluated = _evaluate(region, period.start, period.end, viewer_agency())
    if periods.is_partial(period.end, clock.utc_now()):
        assessments.withhold_comparisons(evaluated)
    return region, period, evaluated


def _ranking_file(fmt: str, region, period: periods.AnalysisPeriod, header: dict,
                  sections: list[dict]) -> Response:
    """The ranking as a CSV or GeoJSON attachment named for its region and period."""
    code = re.sub(r"[^A-Za-z0-9_-]", "_", region or "all")
    name = f"ranking-{code}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.{fmt}"
    if fmt == "csv":
        content, mimetype = exports.ranking_csv(sections), "text/csv"
    else:
        content = json.dumps(exports.ranking_geojson(db.session, sections, header))
        mimetype = "application/geo+json"
    return whole_file(io.BytesIO(content.encode("utf-8")), mimetype=mimetype, filename=name)


@bp.get("/risk/segments")
def ranked_segments():
    fmt = request.args.get("f") or "json"
    if fmt not in RANKING_FORMATS:
        raise ParameterError("f", f"unknown format {fmt!r}; formats: "
                                  f"{', '.join(RANKING_FORMATS)}")
    region, period, evaluated = _live_assessment(request.args)
    assessments.apply_decisions(db.session, evaluated["sections"])
    config = current_app.config["RISK_MODEL"]
    header = {**_header(region, period, evaluated), "order": assessments.RANKING_ORDER,
              "counts": assessments.SECTION_COUNT_RULE.format(corridor_m=config.corridor_m),
              "corridor_m": config.corridor_m,
              "model": {"formula": "risk = T x V x I", "component_range": [1, 5],
                        "bands": config.bands(), "reference_days": config.reference_days,
                        # the impact's values are means over this many periods
                        "impact_periods": 1 if config.impact.window == "period"
                        else config.baseline_periods + 1}}
    if fmt != "json":
        return _ranking_file(fmt, region, period, header, evaluated["sections"])
    return {**header, "summary": evaluated["summary"], "sections": evaluated["sections"]}


@bp.get("/alerts")
def alerts():
    region, period, evaluated = _live_assessment(request.args)
    flagged = [{"section_id": s["section_id"], "code": s["code"], "name": s["name"],
                **s["alert"]} for s in evaluated["sections"] if s["alert"]["alert"]]
    return {**_header(region, period, evaluated),
            "alpha": current_app.config["RISK_MODEL"].alert_alpha, "alerts": flagged}


@bp.post("/risk/assessments")
def create_assessment():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "Bad Request", "the body must be a JSON object with region and "
                       "datetime")
    start, end = period_parameter(body.get("datetime"))
    region = body.get("region") or None
    if region is not None and (not isinstance(region, str) or "\x00" in region):
        raise ParameterError("region", "must be a region code")
    region = scoped_region_code(region, default=True)
    # Stored and read by every agency: counted in the view every agency shares.
    evaluated = _evaluate(region, start, end, assessments.SHARED_VIEW)
    config = current_app.config["RISK_MODEL"]
    with unit_of_work(db.session):
        record = assessments.store_assessment(
            db.session, config, region, start, end, evaluated,
            {"region": region, "datetime": body.get("datetime"),
             "viewer_agency": assessments.SHARED_VIEW, "sections": evaluated["inputs"]},
            current_user.id)
        events.assessment_stored(db.session, record, evaluated)
        audit.record(db.session, "create", "assessment", record.id,
                     after={"region": region, "period": [start.isoformat(), end.isoformat()],
                            "config_sha256": record.config_sha256,
                            "sections": len(evaluated["sections"])})
    return assessments.assessment_record(db.session, record.id), 201, {
        "Location": f"{request.script_root}/api/v1/risk/assessments/{record.id}"}


@bp.get("/risk/assessments/<int:assessment_id>")
def get_assessment(assessment_id: int):
    record = assessments.assessment_record(db.session, assessment_id)
    scope = region_scope()
    if record is None or (scope is not None and record["region_id"] not in scope):
        raise ApiError(404, "Not Found", f"no assessment with id {assessment_id}")
    return record


def _section_or_404(section_id: int) -> None:
    from geo.models import BorderSegment

    section = db.session.get(BorderSegment, section_id)
    scope = region_scope()
    # A section outside the caller's regions is not found: its existence is not revealed.
    if section is None or (scope is not None and section.region_id not in scope):
        raise ApiError(404, "Not Found", f"no border section with id {section_id}")


@bp.patch("/risk/segments/<int:section_id>/level")
def decide_level(section_id: int):
    _section_or_404(section_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "Bad Request", "the body must be a JSON object with level and "
                       "justification")
    level = body.get("level")
    if level is not None and level not in DECISION_LEVELS:
        raise ParameterError("level", f"unknown level {level!r}; levels: "
                             f"{', '.join(DECISION_LEVELS)}, or null to lift the decision")
    justification = body.get("justification")
    if not isinstance(justification, str) or len(justification.strip()) < 10:
        raise ParameterError("justification", "is required: at least 10 characters saying "
                             "why the level is set or lifted")
    with unit_of_work(db.session):
        decision, previous = assessments.decide_level(db.session, section_id, level,
                                                      justification, current_user.id)
        events.level_decided(db.session, decision, previous)
        audit.record(db.session, "level", "section", section_id,
                     before=previous or {"level": None},
                     after={"level": level, "justification": decision.justification})
    return {"section_id": section_id, "level": level, "justification": decision.justification,
            "decided_by": current_user.username, "decided_at": decision.decided_at.isoformat()}


@bp.get("/risk/segments/<int:section_id>/history")
def section_history(section_id: int):
    _section_or_404(section_id)
    return {"section_id": section_id,
            "history": assessments.section_history(db.session, section_id)}


@bp.get("/risk/segments/<int:section_id>/months")
def section_months(section_id: int):
    """The section's incidents per calendar month with their expected band and
    categories (``geo.risk.monthly``), counted as the ranking counts for the caller."""
    _section_or_404(section_id)
    months = parse_int("months", request.args.get("months"), monthly.DEFAULT_MONTHS, 1,
                       monthly.MAX_MONTHS)
    return monthly.section_months(db.session, current_app.config["RISK_MODEL"], section_id,
                                  clock.utc_now(), months, viewer_agency())
