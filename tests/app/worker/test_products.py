"""Scheduled products and alerts on a committed database (issue 17): the worker's jobs
run in this process (``app.worker.schedules.run_schedules``,
``app.worker.alerts.raise_alerts``), the data written through the API.

- a due schedule produces exactly one archived bulletin (HTML and PDF) and one
  ``bulletin.published``, however often the job runs;
- missed periods are caught up once: only the latest ended one;
- an alert is raised once per section and period, however many writes follow.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
from sqlalchemy import text

from app.api.event_schemas import data_schema
from app.auth.tokens import create_token
from app.auth.users import create_user
from app.extensions import db
from app.worker.alerts import raise_alerts
from app.worker.schedules import run_schedules
from geo import clock
from geo.products import periods
from tests.pdf_text import pdf_text_runs
from testsupport.apps import TEST_PASSWORD, committed_sample_layers

# Near T-AZ-001 (region T-KK), within the corridor.
POINT = {"type": "Point", "coordinates": [45.0, 41.31]}
FROZEN = datetime(2026, 12, 15, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def products_app(databases):
    app, ids = committed_sample_layers(databases)
    headers = {}
    with app.app_context():
        for role in ("analyst", "supervisor", "viewer"):
            user = create_user(db.session, f"products-{role}", role, TEST_PASSWORD)
            _, token = create_token(db.session, user, "test")
            headers[role] = {"Authorization": f"Bearer {token}"}
        restricted = create_user(db.session, "products-ka", "supervisor", TEST_PASSWORD,
                                 region_codes=("T-KA",))
        _, token = create_token(db.session, restricted, "test")
        headers["ka-supervisor"] = {"Authorization": f"Bearer {token}"}
        db.session.commit()
        db.session.remove()
    yield app, ids, headers
    with app.app_context():
        db.engine.dispose()


def _scalar(app, statement: str, **params):
    with app.app_context():
        try:
            return db.session.execute(text(statement), params).scalar()
        finally:
            db.session.remove()


def _rows(app, statement: str, **params) -> list[dict]:
    with app.app_context():
        try:
            return [dict(r) for r in db.session.execute(text(statement), params).mappings()]
        finally:
            db.session.remove()


def _execute(app, statement: str, **params) -> None:
    with app.app_context():
        db.session.execute(text(statement), params)
        db.session.commit()
        db.session.remove()


def _run(app, job):
    with app.app_context():
        return job(app)


def _valid(event: dict) -> None:
    jsonschema.validate(event["data"], data_schema(event["type"]),
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture
def frozen_clock():
    before = clock.utc_now() if clock.is_frozen() else None
    clock.freeze(FROZEN)
    yield FROZEN
    clock.freeze(before)


def _schedule(app, region: str, product: str) -> int:
    return _scalar(app, "SELECT s.id FROM schedules s JOIN regions r ON r.id = s.region_id "
                        "WHERE r.code = :code AND s.product = :product",
                   code=region, product=product)


def test_every_region_has_a_weekly_and_a_monthly_schedule(products_app):
    app, _, _ = products_app
    rows = _rows(app, "SELECT r.code, s.product, s.time_zone, s.active FROM schedules s "
                      "JOIN regions r ON r.id = s.region_id ORDER BY r.code, s.product")
    assert [(r["code"], r["product"]) for r in rows] == [
        ("T-KA", "monthly"), ("T-KA", "weekly"), ("T-KK", "monthly"), ("T-KK", "weekly")]
    assert {r["time_zone"] for r in rows} == {"Asia/Tbilisi"} and all(r["active"] for r in rows)


def test_a_due_schedule_produces_one_archived_bulletin_and_one_event(products_app,
                                                                    frozen_clock):
    app, _, headers = products_app
    weekly = _schedule(app, "T-KK", "weekly")
    head = _scalar(app, "SELECT coalesce(max(id), 0) FROM events")
    _execute(app, "UPDATE schedules SET next_run_at = NULL")
    _run(app, run_schedules)  # plans every schedule: none is due yet
    planned = _scalar(app, "SELECT next_run_at FROM schedules WHERE id = :id", id=weekly)
    assert planned == periods.next_boundary("weekly", FROZEN, "Asia/Tbilisi") > FROZEN
    assert _scalar(app, "SELECT count(*) FROM bulletins") == 0
    # Its time comes.
    _execute(app, "UPDATE schedules SET next_run_at = :at WHERE id = :id",
             at=FROZEN - timedelta(minutes=1), id=weekly)
    for _ in range(3):
        _run(app, run_schedules)
    start, end = periods.latest_ended("weekly", FROZEN, "Asia/Tbilisi")
    [bulletin] = _rows(app, "SELECT * FROM bulletins WHERE schedule_id = :id", id=weekly)
    assert (bulletin["period_start"], bulletin["period_end"]) == (start, end)
    assert bulletin["produced_by"] == "worker" and bulletin["created_by"] is None
    assert bulletin["html"].startswith("<!doctype html>")
    assert bytes(bulletin["pdf"]).startswith(b"%PDF")
    runs = " ".join(pdf_text_runs(bytes(bulletin["pdf"])))
    assert "Regional risk bulletin" in runs and "T-KK" in runs
    assert _scalar(app, "SELECT next_run_at FROM schedules WHERE id = :id", id=weekly) \
        == periods.next_boundary("weekly", FROZEN, "Asia/Tbilisi")
    # The assessment it shows is stored, by the worker, for exactly that period.
    assessment = _rows(app, "SELECT * FROM risk_assessments WHERE id = :id",
                       id=bulletin["assessment_id"])[0]
    assert assessment["created_by"] is None and assessment["period_start"] == start
    assert assessment["inputs"]["produced_by"] == f"worker (schedule {weekly})"
    assert "Stored assessment no." in bulletin["html"]
    events = _rows(app, "SELECT type, data, region_id, subject FROM events "
                        "WHERE id > :head AND type IN ('bulletin.published', "
                        "'assessment.stored') ORDER BY id", head=head)
    assert [e["type"] for e in events] == ["assessment.stored", "bulletin.published"]
    for event in events:
        _valid(event)
    published = events[1]
    assert published["data"]["bulletin_id"] == bulletin["id"]
    assert published["data"]["period"] == [start.isoformat(), end.isoformat()]
    assert published["data"]["product"] == "weekly"
    assert published["subject"] == f"bulletin/{bulletin['id']}"

    # The archive: listed, read, downloaded; another region's users do not see it.
    client = app.test_client()
    listed = client.get("/api/v1/bulletins?region=T-KK", headers=headers["viewer"]).get_json()
    assert [b["id"] for b in listed["bulletins"]] == [bulletin["id"]]
    item = client.get(f"/api/v1/bulletins/{bulletin['id']}", headers=headers["viewer"])
    assert item.status_code == 200
    meta = item.get_json()
    assert meta["created_by"] == "worker" and meta["config_sha256"] == bulletin["config_sha256"]
    assert meta["config"] == bulletin["config_text"] and meta["region"] == "T-KK"
    pdf = client.get(f"/api/v1/bulletins/{bulletin['id']}.pdf", headers=headers["viewer"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data == bytes(bulletin["pdf"])
    html = client.get(f"/api/v1/bulletins/{bulletin['id']}.html", headers=headers["viewer"])
    assert html.status_code == 200 and html.get_data(as_text=True) == bulletin["html"]
    # Archived in Georgian too: a reader whose page is Georgian opens that one.
    georgian = client.get(f"/api/v1/bulletins/{bulletin['id']}.html?lang=ka",
                          headers=headers["viewer"]).get_data(as_text=True)
    assert georgian == bulletin["html_ka"] and '<html lang="ka">' in georgian
    assert "რეგიონული რისკის ბიულეტენი" in georgian
    assert "Regional risk bulletin" not in georgian
    georgian_pdf = client.get(f"/api/v1/bulletins/{bulletin['id']}.pdf",
                              headers={**headers["viewer"], "Accept-Language": "ka"})
    assert georgian_pdf.data == bytes(bulletin["pdf_ka"])
    assert "რეგიონული რისკის ბიულეტენი" in " ".join(pdf_text_runs(georgian_pdf.data))
    other = headers["ka-supervisor"]
    assert client.get(f"/api/v1/bulletins/{bulletin['id']}", headers=other).status_code == 404
    assert client.get(f"/api/v1/bulletins/{bulletin['id']}.pdf",
                      headers=other).status_code == 404
    assert client.get("/api/v1/bulletins", headers=other).get_json()["bulletins"] == []


def test_missed_periods_are_caught_up_once(products_app, frozen_clock):
    app, _, _ = products_app
    monthly = _schedule(app, "T-KA", "monthly")
    # Due since September: three months missed while no worker ran.
    _execute(app, "UPDATE schedules SET next_run_at = :at WHERE id = :id",
             at=datetime(2026, 8, 31, 20, tzinfo=UTC), id=monthly)
    _run(app, run_schedules)
    _run(app, run_schedules)
    rows = _rows(app, "SELECT period_start, period_end FROM bulletins WHERE schedule_id = :id",
                 id=monthly)
    assert rows == [{"period_start": datetime(2026, 10, 31, 20, tzinfo=UTC),
                     "period_end": datetime(2026, 11, 30, 20, tzinfo=UTC)}]
    assert _scalar(app, "SELECT next_run_at FROM schedules WHERE id = :id", id=monthly) \
        == datetime(2026, 12, 31, 20, tzinfo=UTC)


def _incident(external_id: str, when: datetime) -> dict:
    return {"type": "Feature", "geometry": POINT, "properties": {
        "source": "alert-test", "external_id": external_id,
        "occurred_at": when.isoformat().replace("+00:00", "Z"),
        "category": "illegal_crossing_between_bcp", "persons_count": 1}}


def _alerts_of(app, head: int, section: int) -> list[dict]:
    return _rows(app, "SELECT data FROM events WHERE id > :head AND type = 'alert.raised' "
                      "AND entity_id = :section", head=head, section=section)


@pytest.mark.clock
def test_the_month_under_way_is_never_assessed_for_alerts(products_app, frozen_clock):
    """A burst in the month under way (December 13 of December 1-31, the clock frozen on
    the 15th) would fire against the baselines of full months: the alerts job assesses
    the last complete month, the page's and the API's default period, where it is not."""
    app, ids, headers = products_app
    client = app.test_client()
    section = ids["border_segments"]["T-AZ-001"]
    _run(app, raise_alerts)  # what the earlier tests wrote
    head = _scalar(app, "SELECT coalesce(max(id), 0) FROM events")
    when = FROZEN - timedelta(days=2)
    batch = {"type": "FeatureCollection", "features": [
        _incident(f"U-{k}", when + timedelta(minutes=k)) for k in range(12)]}
    created = client.post("/api/v1/incidents", headers=headers["analyst"], json=batch)
    assert created.status_code == 201, created.get_data(as_text=True)
    _run(app, raise_alerts)
    assert _alerts_of(app, head, section) == []
    assert _scalar(app, "SELECT count(*) FROM section_alerts WHERE segment_id = :id "
                        "AND period_start > :month_start", id=section,
                   month_start=datetime(2026, 11, 30, tzinfo=UTC)) == 0
    # The API's alerts without datetime agree: the same month, and no alert there.
    answer = client.get("/api/v1/alerts?region=T-KK", headers=headers["analyst"]).get_json()
    assert answer["period"] == ["2026-11-01T00:00:00+00:00",
                                            "2026-11-30T23:59:59+00:00"]
    assert section not in [a["section_id"] for a in answer["alerts"]]
    assert _scalar(app, "SELECT last_event_id FROM alert_cursor") \
        == _scalar(app, "SELECT max(id) FROM events")


@pytest.mark.clock
def test_an_alert_is_raised_once_per_section_and_period(products_app, frozen_clock):
    app, ids, headers = products_app
    client = app.test_client()
    section = ids["border_segments"]["T-AZ-001"]
    _run(app, raise_alerts)  # what the earlier tests wrote
    head = _scalar(app, "SELECT coalesce(max(id), 0) FROM events")
    when = datetime(2026, 11, 20, 8, tzinfo=UTC)  # in the last complete month
    batch = {"type": "FeatureCollection",
             "features": [_incident(f"A-{k}", when + timedelta(minutes=k)) for k in range(12)]}
    created = client.post("/api/v1/incidents", headers=headers["analyst"], json=batch)
    assert created.status_code == 201, created.get_data(as_text=True)
    _run(app, raise_alerts)
    # More writes in the same period: one by one, then an update.
    for k in range(12, 15):
        response = client.post("/api/v1/incidents", headers=headers["analyst"],
                               json=_incident(f"A-{k}", when + timedelta(hours=k)))
        assert response.status_code == 201
        _run(app, raise_alerts)
    _run(app, raise_alerts)
    raised = _rows(app, "SELECT type, data, region_id, entity_id FROM events "
                        "WHERE id > :head AND type = 'alert.raised'", head=head)
    assert len(raised) == 1
    [event] = raised
    _valid(event)
    # The page's and the API's default period at the frozen clock, told half-open.
    with app.app_context():
        period = periods.default_analysis_period(db.session, FROZEN, "")
        db.session.remove()
    start, end = period.start, period.end_exclusive
    assert (start, end) == (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    assert event["entity_id"] == section
    assert event["data"]["section_code"] == "T-AZ-001"
    assert event["data"]["region_code"] == "T-KK"
    assert event["data"]["period"] == [start.isoformat(), end.isoformat()]
    assert event["data"]["observed"] >= 12 and event["data"]["p_value"] < 0.01
    assert _scalar(app, "SELECT count(*) FROM section_alerts WHERE segment_id = :id",
                   id=section) == 1
    # The cursor has moved past every event.
    assert _scalar(app, "SELECT last_event_id FROM alert_cursor") \
        == _scalar(app, "SELECT max(id) FROM events")


def test_schedules_are_written_by_supervisors_of_their_regions_and_audited(products_app):
    app, _, headers = products_app
    client = app.test_client()
    kk_weekly = _schedule(app, "T-KK", "weekly")
    ka = headers["ka-supervisor"]
    # Another region's schedule is not found; its region is refused.
    assert client.get(f"/api/v1/schedules/{kk_weekly}", headers=ka).status_code == 404
    assert client.patch(f"/api/v1/schedules/{kk_weekly}", headers=ka,
                        json={"active": False}).status_code == 404
    refused = client.post("/api/v1/schedules", headers=ka,
                          json={"region": "T-KK", "product": "weekly"})
    assert refused.status_code == 403 and refused.get_json()["field"] == "region"
    listed = client.get("/api/v1/schedules", headers=ka).get_json()
    assert {s["region"] for s in listed["schedules"]} == {"T-KA"}
    # A viewer reads, does not write.
    assert client.get("/api/v1/schedules", headers=headers["viewer"]).status_code == 200
    assert client.patch(f"/api/v1/schedules/{kk_weekly}", headers=headers["viewer"],
                        json={"active": False}).status_code == 403
    # Problems name the field.
    sup = headers["supervisor"]
    for body, field in (({"time_zone": "Mars/Olympus"}, "time_zone"),
                        ({"active": "yes"}, "active"), ({"product": "monthly"}, "product")):
        response = client.patch(f"/api/v1/schedules/{kk_weekly}", headers=sup, json=body)
        assert response.status_code == 422 and response.get_json()["field"] == field
    duplicate = client.post("/api/v1/schedules", headers=sup,
                            json={"region": "T-KK", "product": "weekly"})
    assert duplicate.status_code == 409 and duplicate.get_json()["field"] == "product"
    # Change, delete, create again.
    changed = client.patch(f"/api/v1/schedules/{kk_weekly}", headers=sup,
                           json={"time_zone": "Europe/Berlin", "active": False})
    assert changed.status_code == 200
    assert changed.get_json()["time_zone"] == "Europe/Berlin"
    assert changed.get_json()["active"] is False
    assert client.delete(f"/api/v1/schedules/{kk_weekly}", headers=sup).status_code == 204
    created = client.post("/api/v1/schedules", headers=sup,
                          json={"region": "T-KK", "product": "weekly"})
    assert created.status_code == 201, created.get_data(as_text=True)
    schedule = created.get_json()
    assert schedule["created_by"] == "products-supervisor"
    assert schedule["time_zone"] == "Asia/Tbilisi" and schedule["next_run_at"] is not None
    actions = _rows(app, "SELECT action, entity_id FROM audit_log WHERE entity = 'schedule' "
                         "ORDER BY id")
    assert [(a["action"], a["entity_id"]) for a in actions] == [
        ("update", str(kk_weekly)), ("delete", str(kk_weekly)),
        ("create", str(schedule["id"]))]
    # The archive keeps the bulletin of the deleted schedule.
    assert _scalar(app, "SELECT count(*) FROM bulletins WHERE schedule_id IS NULL") == 1


def test_a_region_created_later_gets_the_default_schedules(products_app):
    app, _, headers = products_app
    region = {"type": "Feature", "properties": {"code": "T-NEW", "name_en": "New",
                                                "name_ka": "New", "provenance": "synthetic"},
              "geometry": {"type": "MultiPolygon", "coordinates": [[[
                  [45.6, 41.2], [45.9, 41.2], [45.9, 41.6], [45.6, 41.6], [45.6, 41.2]]]]}}
    client = app.test_client()
    created = client.post("/api/v1/regions", headers=headers["supervisor"], json=region)
    assert created.status_code == 201, created.get_data(as_text=True)
    listed = client.get("/api/v1/schedules?region=T-NEW", headers=headers["viewer"]).get_json()
    assert sorted(s["product"] for s in listed["schedules"]) == ["monthly", "weekly"]
    assert client.delete(f"/api/v1/regions/{created.get_json()['id']}",
                         headers=headers["supervisor"]).status_code == 204
