"""Aggregate products under the four-agency fixture: hot-spot grids, the risk ranking,
alerts and stored assessments, and the bulletin count what each agency may count
(``testsupport.agencies.counts``), say how many of those it does not see
(``counted_not_visible``), and show no detail of a record it does not see.

The expected values are the Python rule applied to the incidents as the database holds
them (the fixture's, a few extra ones that make the agencies differ, and the sample
layers' own incidents); only the geometry (the cells, the nearest section and its
distance) comes from the database's derived links.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import shapely
from sqlalchemy import text

from app.extensions import db
from geo.hotspots import cache
from testsupport.agencies import AGENCIES, Record, counts, insert_records, records, sees

WINDOW = "2026-10-01T00:00:00Z/2026-10-31T23:59:59Z"
START, END = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC)
BBOX = (44.8, 41.2, 45.6, 41.6)  # the sample layers' two regions
EXTRA_SOURCE = "agency-aggregates-extra"
SECTIONS_SOURCE = "agency-aggregates-on-sections"
# Records that make the agencies' pictures differ: MD counts two more than it sees less
# of; the others count MD's own record without seeing it and PPD's listed one not at all
# (GBP) or see it (IAD).
EXTRA = [
    Record("MD-EXTRA-OWN", "MD", "agency", True, "T-KA", 45.35, 41.45,
           "2026-10-20T10:00:00Z"),
    Record("PPD-EXTRA-LIST", "PPD", ["MD", "IAD"], False, "T-KK", 44.95, 41.45,
           "2026-10-21T10:00:00Z"),
]
# In the period before October (the risk model's baseline and comparison).
PREVIOUS = [
    Record("GBP-PREV-OWN", "GBP", "agency", True, "T-KK", 0, 0, "2026-09-10T10:00:00Z"),
    Record("MD-PREV-OWN-NC", "MD", "agency", False, "T-KK", 0, 0, "2026-09-12T10:00:00Z"),
    Record("IAD-PREV-ALL", "IAD", "all", True, "T-KA", 0, 0, "2026-09-14T10:00:00Z"),
]


@pytest.fixture(autouse=True)
def fresh_results():
    """Rolled-back tests reuse data versions: no result may come from another test."""
    cache.CACHE.clear()
    yield
    cache.CACHE.clear()


def database_records(session, source: str | None = None) -> list[dict]:
    """Every incident (of ``source`` when given) as the rule's :class:`Record` with its
    time, nearest section and distance, read back from the database."""
    rows = session.execute(text(
        "SELECT external_id, agency, releasability, aggregate, reporting_unit, "
        "ST_X(geom) AS lon, ST_Y(geom) AS lat, occurred_at, nearest_segment_id, "
        "segment_distance_m FROM incidents "
        "WHERE CAST(:source AS text) IS NULL OR source = :source ORDER BY id"),
        {"source": source}).all()
    return [{"record": Record(r.external_id, r.agency, r.releasability, r.aggregate,
                              r.reporting_unit, r.lon, r.lat, r.occurred_at.isoformat()),
             "at": r.occurred_at, "section": r.nearest_segment_id,
             "distance_m": r.segment_distance_m} for r in rows]


def in_bbox(row: dict) -> bool:
    record = row["record"]
    return BBOX[0] <= record.lon <= BBOX[2] and BBOX[1] <= record.lat <= BBOX[3]


def tally(agency: str, rows: list[dict]) -> tuple[int, int]:
    """``(counted, counted but not seen)`` by ``agency`` among ``rows``, by the rule."""
    counted = [r["record"] for r in rows if counts(agency, r["record"])]
    return len(counted), sum(not sees(agency, r) for r in counted)


@pytest.fixture
def extra(db_session, four_agencies, analysis_srid):
    return insert_records(db_session, EXTRA, analysis_srid, source=EXTRA_SOURCE)


def cell_counts(body: dict) -> dict[str, float]:
    return {f["properties"]["cell"]: f["properties"]["count"] for f in body["features"]
            if f["properties"]["count"]}


def expected_cell_counts(body: dict, counted: list[Record]) -> dict[str, int]:
    """The counted records per cell of ``body``, located by point in polygon."""
    cells = [(f["properties"]["cell"], shapely.Polygon(f["geometry"]["coordinates"][0]))
             for f in body["features"]]
    expected: dict[str, int] = {}
    for record in counted:
        point = shapely.Point(record.lon, record.lat)
        (cell,) = [name for name, polygon in cells if polygon.covers(point)][:1]
        expected[cell] = expected.get(cell, 0) + 1
    return expected


def test_the_hotspot_grid_counts_what_each_agency_may_count(client, db_session, extra,
                                                            agency_headers):
    headers = agency_headers("viewer")
    rows = [r for r in database_records(db_session) if START <= r["at"] <= END and in_bbox(r)]
    fixture = {r.external_id for r in records()}
    assert fixture <= {r["record"].external_id for r in rows}
    assert any(r["record"].external_id not in fixture for r in rows
               if r["record"].agency == "GBP")  # the sample layers' own incidents
    query = {"method": "kde", "bbox": ",".join(map(str, BBOX)), "datetime": WINDOW,
             "cell_size": 500}
    totals = {}
    # One after another with the same parameters: a result cached for one agency must
    # not answer another.
    for agency in AGENCIES:
        response = client.get("/api/v1/hotspots", headers=headers[agency], query_string=query)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        metadata = body["metadata"]
        counted, not_visible = tally(agency, rows)
        assert metadata["viewer_agency"] == agency
        assert metadata["incidents"] == counted
        assert sum(f["properties"]["count"] for f in body["features"]) == counted
        assert metadata["counted_not_visible"] == not_visible
        assert cell_counts(body) == expected_cell_counts(
            body, [r["record"] for r in rows if counts(agency, r["record"])])
        text_body = response.get_data(as_text=True)
        assert "SYNTHETIC" not in text_body and "-OWN" not in text_body
        totals[agency] = (counted, not_visible)
    # Values the rule makes differ: records released to one agency and not counted
    # (aggregate false) are left out; MD's own counted record is counted, unseen, by all.
    assert totals == {"GBP": (len(rows) - 6, 4), "PPD": (len(rows) - 5, 4),
                      "MD": (len(rows) - 5, 3), "IAD": (len(rows) - 5, 4)}


def test_the_evaluation_counts_both_windows_for_the_agency(client, db_session, extra,
                                                           agency_headers):
    train = (START, datetime(2026, 10, 8, 23, 59, 59, tzinfo=UTC))
    test = (datetime(2026, 10, 9, tzinfo=UTC), END)
    rows = [r for r in database_records(db_session) if in_bbox(r)]
    for agency, headers in agency_headers("viewer").items():
        body = client.get("/api/v1/hotspots/evaluate", headers=headers, query_string={
            "bbox": ",".join(map(str, BBOX)), "method": "count", "area_share": 0.5,
            "cell_size": 2000, "train": "/".join(t.isoformat() for t in train),
            "test": "/".join(t.isoformat() for t in test)}).get_json()
        metadata = body["metadata"]
        trained = tally(agency, [r for r in rows if train[0] <= r["at"] <= train[1]])
        tested = tally(agency, [r for r in rows if test[0] <= r["at"] <= test[1]])
        assert (metadata["incidents"], metadata["counted_not_visible"]) == trained
        assert (metadata["test_incidents"], metadata["test_counted_not_visible"]) == tested
        assert metadata["viewer_agency"] == agency
        assert tested[1] >= 1 and trained[1] >= 1  # others' unseen counted records


def on_sections(session) -> list[Record]:
    """The fixture's incidents (and the previous period's) moved onto the sample
    sections: the western ones onto T-AZ-001, the eastern onto T-AZ-002."""
    west = session.execute(text("SELECT ST_AsText(geom) FROM border_segments "
                                "WHERE code = 'T-AZ-001'")).scalar_one()
    east = session.execute(text("SELECT ST_AsText(geom) FROM border_segments "
                                "WHERE code = 'T-AZ-002'")).scalar_one()
    lines = {"T-KK": shapely.from_wkt(west), "T-KA": shapely.from_wkt(east)}
    moved = []
    for k, record in enumerate([*records(), *PREVIOUS]):
        point = lines[record.region].interpolate(0.1 + 0.04 * k, normalized=True)
        moved.append(replace(record, lon=point.x, lat=point.y))
    return moved


@pytest.fixture
def sectioned(db_session, sample_layers, analysis_srid):
    return insert_records(db_session, on_sections(db_session), analysis_srid,
                          source=SECTIONS_SOURCE)


def risk_expectation(app, session, agency: str) -> dict:
    """What the rule says the risk model counts for ``agency`` over October: the
    period's incidents in the corridor by section, and the counted unseen ones of the
    period and of the baseline periods before it."""
    config = app.config["RISK_MODEL"]
    period = END - START
    earliest = START - config.baseline_periods * period
    year = timedelta(days=365)
    rows = [r for r in database_records(session)
            if r["section"] is not None and r["distance_m"] <= config.corridor_m
            and counts(agency, r["record"])]
    period_rows = [r for r in rows if START <= r["at"] <= END]
    compared = [r for r in rows if earliest <= r["at"] < START
                or START - year <= r["at"] <= END - year]
    by_section: dict[int, int] = {}
    for row in period_rows:
        by_section[row["section"]] = by_section.get(row["section"], 0) + 1
    return {"incidents": len(period_rows), "by_section": by_section,
            "counted_not_visible": sum(not sees(agency, r["record"]) for r in period_rows),
            "counted_not_visible_compared": sum(not sees(agency, r["record"])
                                                for r in compared)}


def test_the_risk_ranking_and_alerts_count_what_each_agency_may_count(
        app, client, db_session, sectioned, agency_headers):
    headers = agency_headers("viewer")
    seen = {}
    for agency in AGENCIES:
        expected = risk_expectation(app, db_session, agency)
        body = client.get("/api/v1/risk/segments", headers=headers[agency],
                          query_string={"datetime": WINDOW}).get_json()
        summary = body["summary"]
        assert summary["incidents"] == expected["incidents"]
        assert {s["section_id"]: s["incidents"] for s in body["sections"]
                if s["incidents"]} == expected["by_section"]
        for key in ("counted_not_visible", "counted_not_visible_compared"):
            assert body[key] == summary[key] == expected[key], (agency, key)
        assert body["viewer_agency"] == summary["viewer_agency"] == agency
        alerts = client.get("/api/v1/alerts", headers=headers[agency],
                            query_string={"datetime": WINDOW}).get_json()
        assert alerts["counted_not_visible"] == expected["counted_not_visible"]
        assert alerts["viewer_agency"] == agency
        observed = {s["section_id"]: s["alert"]["observed"] for s in body["sections"]}
        assert all(a["observed"] == observed[a["section_id"]] for a in alerts["alerts"])
        seen[agency] = (summary["incidents"], summary["counted_not_visible"])
    # Every agency misses the others' OWN-NC and two LIST records of the sixteen; each
    # counts three others' OWN records it does not see; GBP also counts its own
    # September record, the others count it unseen.
    assert len({value for value in seen.values()}) == 1
    assert seen["GBP"][1] == 3
    assert risk_expectation(app, db_session, "PPD")["counted_not_visible_compared"] == 1
    assert risk_expectation(app, db_session, "GBP")["counted_not_visible_compared"] == 0


def test_a_stored_assessment_counts_what_every_agency_may_count(app, client, db_session,
                                                                sectioned, agency_headers):
    analysts, viewers = agency_headers("analyst"), agency_headers("viewer")
    response = client.post("/api/v1/risk/assessments", headers=analysts["PPD"],
                           json={"datetime": WINDOW})
    assert response.status_code == 201, response.get_data(as_text=True)
    stored = response.get_json()
    expected = risk_expectation(app, db_session, "")
    assert stored["inputs"]["viewer_agency"] == stored["summary"]["viewer_agency"] == ""
    # Released to all, or let count: the OWN records (4), not the OWN-NC nor LIST ones.
    assert stored["summary"]["incidents"] == expected["incidents"]
    assert stored["summary"]["counted_not_visible"] == expected["counted_not_visible"] == 4
    assert expected["counted_not_visible_compared"] == 1  # GBP-PREV-OWN
    ppd_view = risk_expectation(app, db_session, "PPD")
    assert stored["summary"]["incidents"] < ppd_view["incidents"]  # PPD's own NC record
    for headers in viewers.values():
        assert client.get(response.headers["Location"],
                          headers=headers).get_json()["summary"] == stored["summary"]


# ------------------------------------------------------------------ the bulletin


@pytest.fixture(scope="module")
def bulletin_database(databases):
    """``(app, headers by agency)``: a committed database of its own (the bulletin's
    map is drawn on the renderer's connections) with the sample layers, the records
    on the sections, and a viewer of each agency."""
    from app.auth.tokens import create_token
    from app.auth.users import create_user
    from testsupport.apps import TEST_PASSWORD, committed_sample_layers

    app, _ = committed_sample_layers(databases)
    headers = {}
    with app.app_context():
        srid = app.config["ANALYSIS_SRID"]
        insert_records(db.session, on_sections(db.session), srid, source=SECTIONS_SOURCE)
        insert_records(db.session, EXTRA, srid, source=EXTRA_SOURCE)
        for agency in AGENCIES:
            user = create_user(db.session, f"bulletin-{agency.lower()}", "viewer",
                               TEST_PASSWORD, agency=agency)
            _, token = create_token(db.session, user, "test")
            headers[agency] = {"Authorization": f"Bearer {token}"}
        _, token = create_token(db.session, create_user(
            db.session, "bulletin-analyst", "analyst", TEST_PASSWORD, agency="MD"), "test")
        headers["analyst"] = {"Authorization": f"Bearer {token}"}
        db.session.commit()
        db.session.remove()
    yield app, headers
    with app.app_context():
        db.engine.dispose()


def region_expectation(app, agency: str, region: str) -> dict:
    """:func:`risk_expectation` of the region's sections."""
    with app.app_context():
        sections = set(db.session.execute(text(
            "SELECT s.id FROM border_segments s JOIN regions r ON r.id = s.region_id "
            "WHERE r.code = :code"), {"code": region}).scalars())
        everything = risk_expectation(app, db.session, agency)
        rows = [r for r in database_records(db.session) if r["section"] in sections
                and r["distance_m"] <= app.config["RISK_MODEL"].corridor_m
                and START <= r["at"] <= END and counts(agency, r["record"])]
        described = {r["record"].external_id: sees(agency, r["record"])
                     for r in database_records(db.session) if r["record"].external_id}
        db.session.remove()
    return {"incidents": sum(everything["by_section"].get(s, 0) for s in sections),
            "counted_not_visible": sum(not sees(agency, r["record"]) for r in rows),
            "described": described}


@pytest.mark.slow
def test_the_bulletin_counts_for_its_reader_and_shows_no_hidden_detail(bulletin_database):
    app, headers = bulletin_database
    http = app.test_client()
    for region in ("T-KK", "T-KA"):
        for agency in AGENCIES:
            expected = region_expectation(app, agency, region)
            response = http.get("/api/v1/reports/bulletin", headers=headers[agency],
                                query_string={"region": region, "datetime": WINDOW})
            assert response.status_code == 200, response.get_data(as_text=True)
            html = response.get_data(as_text=True)
            (incidents,) = re.findall(r"<dt>Incidents</dt><dd>(\d+)</dd>", html)
            assert int(incidents) == expected["incidents"], (region, agency)
            assert (f"{expected['counted_not_visible']} of this period's are not released "
                    f"to the {agency} in detail") in html
            hidden = [external_id for external_id, visible in expected["described"].items()
                      if not visible]
            assert hidden  # every agency has records it does not see
            for external_id in hidden:
                assert f"SYNTHETIC {external_id} detail" not in html
            assert "SYNTHETIC " not in html.replace("SYNTHETIC DEMONSTRATION DATA", "")
    # Once stored, the record of the region and period is counted in the shared view,
    # the same for every reader, and says so.
    stored = http.post("/api/v1/risk/assessments", headers=headers["analyst"],
                       json={"region": "T-KA", "datetime": WINDOW})
    assert stored.status_code == 201, stored.get_data(as_text=True)
    shared = region_expectation(app, "", "T-KA")
    assert shared["incidents"] < region_expectation(app, "MD", "T-KA")["incidents"]
    for agency in AGENCIES:
        html = http.get("/api/v1/reports/bulletin", headers=headers[agency], query_string={
            "region": "T-KA", "datetime": WINDOW}).get_data(as_text=True)
        assert "Stored assessment no." in html
        (incidents,) = re.findall(r"<dt>Incidents</dt><dd>(\d+)</dd>", html)
        assert int(incidents) == shared["incidents"]
        assert (f"{shared['counted_not_visible']} of this period's are not released to "
                "every agency") in html


def test_the_bulletins_data_holds_no_incident_detail(app, db_session, sectioned, extra,
                                                    monkeypatch):
    from geo.risk import bulletin

    drawn = []

    def region_map(session, row, start, end, levels, scope, srid, view=None):
        drawn.append(view)  # the map (drawn on connections of its own) for this view
        return {"layers": list(bulletin.MAP_LAYERS)}

    monkeypatch.setattr(bulletin, "_region_map", region_map)
    east = db_session.execute(text(
        "SELECT id FROM border_segments WHERE code = 'T-AZ-002'")).scalar_one()
    for agency in AGENCIES:
        data = bulletin.regional_bulletin(
            db_session, app.config["RISK_MODEL"], "T-KA", START, END,
            app.config["ANALYSIS_SRID"], viewer_agency=agency)
        expected = risk_expectation(app, db_session, agency)
        assert data["summary"]["incidents"] == expected["by_section"].get(east, 0)
        assert data["counted"]["viewer_agency"] == agency
        # the provenance counts keep to the view too
        assert sum(data["data"]["incidents_by_provenance"].values()) == \
            data["summary"]["incidents"]
        document = json.dumps(data, default=str)
        assert "SYNTHETIC" not in document and "detail" not in document
    assert drawn == list(AGENCIES)
    assert "incidents" not in bulletin.MAP_LAYERS  # no point of any record on the map
