"""The analyses' reads of a long window narrowed by place or section are planned without
plain index scans (``geo.queries.window_reads``; issue 21: at ten years the planner
scanned the whole window of every region through ``ix_incidents_occurred_at``), and
their results do not depend on the plan.

Every statement on ``incidents`` through the session's connection is recorded
(``testsupport.statements``) with the value of ``enable_indexscan`` it ran under and
the index scans of its plan: on the synthetic demo (20,000 incidents to 2026-06-30).
"""

from __future__ import annotations

import contextlib
import json
import math
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from app.extensions import db
from geo import queries
from geo.forecast import service
from geo.hotspots import cache, pipeline
from geo.hotspots.inputs import Selection, StudyArea
from geo.hotspots.sections import SectionRequest, emerging_sections
from geo.risk import assessments, monthly
from geo.risk.risk_config import load_risk_config
from testsupport.statements import OLDER_PROBE, WINDOW_READS, recorded

REGION = "GE-KK"
THREE_YEARS = Selection(start=datetime(2023, 7, 1, tzinfo=UTC),
                        end=datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC))
QUARTER = (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC))
AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
CELL_M = 5000.0  # coarse cells: the reads are what is tested

def _analyses(session, srid: int) -> dict:
    """Each analysis that reads a long window, computed now (no cached result)."""
    config = load_risk_config()
    area = StudyArea(regions=(REGION,))
    section_id = session.execute(text(
        "SELECT s.id FROM border_segments AS s JOIN regions AS r ON r.id = s.region_id "
        "WHERE r.code = :code ORDER BY s.id LIMIT 1"), {"code": REGION}).scalar_one()
    cache.CACHE.clear()
    return {
        "hot-spots 3 years": pipeline.hotspot_cells(session, pipeline.HotspotRequest(
            area, THREE_YEARS, cell_size_m=CELL_M), srid).geojson(),
        "emerging 36 months": pipeline.emerging_cells(session, pipeline.EmergingRequest(
            area, THREE_YEARS, cell_size_m=CELL_M), srid).geojson(),
        "emerging by section": emerging_sections(
            session, SectionRequest(area, THREE_YEARS, corridor_m=config.corridor_m), srid),
        "risk assessment 3 months": assessments.assess_region(
            session, config, REGION, *QUARTER, srid),
        "cell forecast": service.forecast(
            session, service.ForecastRequest(area, Selection(), AS_OF), srid),
        "section backtest": service.backtest(
            session, service.ForecastRequest(area, Selection(), AS_OF, unit="section",
                                             folds=2), srid),
        "monthly trend": monthly.section_months(
            session, config, section_id, QUARTER[1], viewer_agency=None),
    }


def _as_text(result) -> str:
    """``result`` as JSON text (NaN equal to NaN) without its ``computed_at`` stamps."""
    return json.dumps(_without_times(result), sort_keys=True, default=str)


def _assert_same(a, b, where: str) -> None:
    """``a`` equals ``b``, floats to 1e-9 relative (a model's sums over the rows in
    another order may differ in the last bits: the cells' forecast reads them in the
    plan's order), NaN equal to NaN."""
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), where
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{k}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9), where
    else:
        assert a == b, where


def _without_times(value):
    """``value`` without its ``computed_at`` stamps (the only part meant to differ)."""
    if isinstance(value, dict):
        return {k: _without_times(v) for k, v in value.items() if k != "computed_at"}
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


@pytest.fixture
def demo_session(demo_app):
    """The demo's session in a transaction that has written (so no shared or kept
    result answers for a computation), rolled back after the test."""
    app, _, _ = demo_app
    with app.app_context():
        db.session.execute(text("UPDATE incidents SET persons_count = persons_count "
                                "WHERE id = (SELECT min(id) FROM incidents)"))
        try:
            yield db.session, app.config["ANALYSIS_SRID"]
        finally:
            db.session.rollback()
            db.session.remove()
            cache.CACHE.clear()


def test_the_long_window_reads_run_without_plain_index_scans(demo_session, monkeypatch):
    session, srid = demo_session
    assert session.execute(text("SHOW enable_indexscan")).scalar_one() == "on"
    with recorded(session, explain=True) as recorder:
        chosen = _analyses(session, srid)
    log = recorder.statements
    reads = [s for s in log if s.kind]
    assert {s.kind for s in reads} == set(WINDOW_READS)  # every kind was read
    for statement in reads:
        assert statement.indexscan == "off", statement.sql
        assert statement.index_scans == [], (statement.kind, statement.index_scans)
    # The forecast's probes for older incidents keep their index ranges (they stop at
    # the first row), and the setting is back once the reads are done.
    probes = [s for s in log if OLDER_PROBE in s.sql]
    assert probes and all(s.indexscan == "on" for s in probes)
    others = [s for s in log if not s.kind and OLDER_PROBE not in s.sql]
    assert all(s.indexscan == "on" for s in others)
    assert session.execute(text("SHOW enable_indexscan")).scalar_one() == "on"
    assert chosen["hot-spots 3 years"]["metadata"]["incidents"] > 1000
    assert sum(s["incidents"] for s in chosen["risk assessment 3 months"]["sections"]) > 0

    # The results do not depend on the plan: the same analyses with the setting left
    # alone and only plain index scans open (bitmaps and sequential scans off for the
    # transaction), the plans the ten years' statistics chose, give the same answers.
    for module in (queries, queries.database, queries.forecast, queries.sections):
        monkeypatch.setattr(module, "window_reads", lambda _session: contextlib.nullcontext())
    session.execute(text("SELECT set_config('enable_bitmapscan', 'off', true), "
                         "set_config('enable_seqscan', 'off', true)"))
    with recorded(session, explain=True) as recorder:
        forced = _analyses(session, srid)
    log = recorder.statements
    assert {s.kind for s in log if s.kind} == set(WINDOW_READS)
    assert all(s.index_scans for s in log if s.kind)  # plain index scans this time
    assert set(chosen) == set(forced)
    for name in chosen:
        _assert_same(json.loads(_as_text(forced[name])), json.loads(_as_text(chosen[name])),
                     name)
