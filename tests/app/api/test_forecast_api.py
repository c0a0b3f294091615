"""The forecast API on the synthetic demo data (20,000 incidents to 2026-06-30): cells
and sections with ordered intervals, nothing from on or after as_of read, backtest folds
that count what the database holds, and every bad parameter answered with 422."""

import dataclasses
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import text

from app.extensions import db
from geo.forecast import service
from geo.hotspots import cache
from geo.risk import assessments
from geo.risk.risk_config import load_risk_config
from tests.app.api.test_hotspots_api import get

AS_OF = "2026-06-01"


def values(features, name):
    return np.array([f["properties"][name] for f in features])


def test_cell_forecast_has_ordered_intervals_and_top_cells(demo_app):
    response = get(demo_app, f"/api/v1/forecast?region=GE-KK&as_of={AS_OF}")
    assert response.status_code == 200
    assert response.content_type == "application/geo+json"
    body = response.get_json()
    meta = body["metadata"]
    assert meta["as_of"] == "2026-06-01T00:00:00+00:00"
    assert meta["period"]["start"] == meta["as_of"]
    assert meta["period"]["end"] == "2026-07-01T00:00:00+00:00"
    assert meta["inputs"]["unit"] == "cell" and meta["inputs"]["cell_size_m"] == 2000
    assert meta["inputs"]["training_window"][1] == meta["as_of"]
    assert meta["inputs"]["region"] == "GE-KK" and meta["inputs"]["area_share"] == 0.05
    assert set(meta["model"]["weights"]) == {"longrun", "recent", "excite"}
    assert meta["model"]["nb_size"] > 0 and set(meta["fields"]) >= {"expected", "top"}
    features = body["features"]
    assert len(features) == meta["inputs"]["cells"] == body["numberReturned"]
    assert features[0]["geometry"]["type"] == "Polygon"
    expected = values(features, "expected")
    low95, low80 = values(features, "lower_95"), values(features, "lower_80")
    up80, up95 = values(features, "upper_80"), values(features, "upper_95")
    assert (low95 <= low80).all() and (low80 <= up80).all() and (up80 <= up95).all()
    assert (low80 <= np.ceil(expected)).all() and (np.floor(expected) <= up95).all()
    assert np.isclose(expected.sum(), meta["expected_total"])
    top = values(features, "top")
    assert top.dtype == bool and top.sum() == int(0.05 * len(features))
    assert expected[top].min() >= expected[~top].max()


def test_incidents_on_or_after_as_of_change_nothing(demo_app):
    app, _, _ = demo_app
    url = f"/api/v1/forecast?region=GE-KK&as_of={AS_OF}"
    first = get(demo_app, url).get_json()
    hottest = max(first["features"], key=lambda f: f["properties"]["expected"])
    lon, lat = hottest["geometry"]["coordinates"][0][0]

    def move(where):
        with app.app_context():
            row = db.session.execute(text(
                f"SELECT id, ST_AsText(geom) AS wkt FROM incidents WHERE {where} "  # noqa: S608
                "AND region_id = (SELECT id FROM regions WHERE code = 'GE-KK') "
                "ORDER BY id LIMIT 1")).one()
            db.session.execute(text("UPDATE incidents SET geom = ST_SetSRID("
                                    "ST_MakePoint(:lon, :lat), 4326) WHERE id = :id"),
                               {"lon": lon, "lat": lat, "id": row.id})
            db.session.commit()
        return row

    def restore(row):
        with app.app_context():
            db.session.execute(text("UPDATE incidents SET geom = ST_GeomFromText(:wkt, 4326) "
                                    "WHERE id = :id"), {"wkt": row.wkt, "id": row.id})
            db.session.commit()

    row = move("occurred_at >= '2026-06-01T00:00:00Z'")  # on or after as_of
    try:
        after = get(demo_app, url).get_json()
    finally:
        restore(row)
    assert after["metadata"]["data_version"] != first["metadata"]["data_version"]
    assert values(after["features"], "expected").tolist() == \
        values(first["features"], "expected").tolist()
    row = move("occurred_at < '2026-06-01T00:00:00Z' AND occurred_at >= '2026-05-25'")
    try:
        before = get(demo_app, url).get_json()
    finally:
        restore(row)
    assert values(before["features"], "expected").tolist() != \
        values(first["features"], "expected").tolist()


def test_section_forecast_lists_the_regions_sections(demo_app):
    app, _, _ = demo_app
    body = get(demo_app, f"/api/v1/forecast?region=GE-KK&as_of={AS_OF}&unit=section"
               "&period=next_week").get_json()
    with app.app_context():
        codes = db.session.execute(text(
            "SELECT s.code FROM border_segments s JOIN regions r ON r.id = s.region_id "
            "WHERE r.code = 'GE-KK' ORDER BY s.id")).scalars().all()
    assert [f["properties"]["code"] for f in body["features"]] == codes
    assert body["features"][0]["geometry"]["type"] in ("LineString", "MultiLineString")
    assert body["metadata"]["period"]["end"] == "2026-06-08T00:00:00+00:00"
    assert body["metadata"]["inputs"]["corridor_m"] == load_risk_config().corridor_m
    assert sum(f["properties"]["top"] for f in body["features"]) == 1
    assert values(body["features"], "expected").sum() > 0


def test_backtest_folds_count_the_held_out_months(demo_app):
    app, _, _ = demo_app
    response = get(demo_app, "/api/v1/forecast/backtest?region=GE-KK&unit=section&folds=3"
                   "&as_of=2026-07-01")
    assert response.status_code == 200 and response.content_type == "application/json"
    body = response.get_json()
    folds = body["folds"]
    assert [f["start"][:10] for f in folds] == ["2026-04-01", "2026-05-01", "2026-06-01"]
    with app.app_context():
        held_out = db.session.execute(text(
            "SELECT count(*) FROM incidents i JOIN border_segments s "
            "ON s.id = i.nearest_segment_id JOIN regions r ON r.id = s.region_id "
            "WHERE r.code = 'GE-KK' AND i.segment_distance_m <= :corridor "
            "AND i.occurred_at >= '2026-06-01' AND i.occurred_at < '2026-07-01'"),
            {"corridor": load_risk_config().corridor_m}).scalar_one()
    assert folds[-1]["incidents"] == held_out > 0
    mean = body["mean"]
    assert set(mean["baselines"]) == {"last_period", "long_run", "kde"}
    assert set(mean["forecast"]) == {f"{m}_{p}pct" for m in ("pai", "hit_rate")
                                     for p in (1, 5, 10)}
    assert 0 <= mean["coverage_80"] <= mean["coverage_95"] <= 1
    for fold in folds:
        assert fold["forecast"]["pai_5pct"] <= fold["best_possible"]["pai_5pct"] + 1e-9
    assert body["metadata"]["folds"] == 3


@pytest.mark.parametrize(("query", "field", "message"), [
    ("period=next_year", "period", "unknown period 'next_year'"),
    ("unit=district", "unit", "unknown unit 'district'"),
    ("as_of=yesterday", "as_of", "'yesterday' is not an RFC 3339 date-time"),
    ("as_of=2020-01-01", "as_of", "no incidents"),
    ("region=NOWHERE", "region", "unknown region code 'NOWHERE'"),
    ("cell_size=5", "cell_size", "must be between 10"),
])
def test_bad_forecast_parameters_are_422(demo_app, query, field, message):
    name = query.split("=")[0]
    given = {"region": "GE-KK", "as_of": "2026-06-01", name: query.split("=")[1]}
    response = get(demo_app, "/api/v1/forecast?" + "&".join(f"{k}={v}" for k, v in given.items()))
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert problem["field"] == field and message in problem["detail"]


@pytest.mark.parametrize(("query", "field"), [
    ("folds=0", "folds"), ("folds=25", "folds"), ("folds=six", "folds"),
    ("period=monthly", "period"), ("unit=cells", "unit"),
])
def test_bad_backtest_parameters_are_422(demo_app, query, field):
    response = get(demo_app, f"/api/v1/forecast/backtest?region=GE-KK&as_of=2026-07-01&{query}")
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["field"] == field


def test_the_ciram_likelihood_is_the_forecasts(demo_app):
    # May 2026 assessed (closed period): the forecast of June from the incidents up to
    # its end gives each section's expected count and P(at least one incident).
    app, _, _ = demo_app
    start, end = datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 31, 23, 59, 59, tzinfo=UTC)
    config = load_risk_config()
    with app.app_context():
        srid = app.config["ANALYSIS_SRID"]
        assessed = assessments.assess_region(db.session, config, "GE-KK", start, end, srid)
        june = datetime(2026, 6, 1, tzinfo=UTC)
        outlook = service.section_outlooks(db.session, ["GE-KK"], june, "next_month",
                                           srid)["GE-KK"]
        # one read for several regions gives each region's own forecast
        both = service.section_outlooks(db.session, ["GE-KA", "GE-KK", "GE-TB"], june,
                                        "next_month", srid)
        history = assessments.assess_region(
            db.session, dataclasses.replace(config, likelihood_source="history"), "GE-KK",
            start, end, srid)
        codes = {s.id: s.code for s in db.session.execute(text(
            "SELECT id, code FROM border_segments")).all()}
        db.session.remove()
    assert both["GE-KK"] == outlook and set(both["GE-KA"]["sections"]) > set()
    assert "unavailable" in both["GE-TB"]  # Tbilisi has no border sections
    r = outlook["nb_size"]
    for section in assessed["sections"]:
        mu = outlook["sections"][codes[section["section_id"]]]["expected"]
        assert section["expected_next"] == pytest.approx(mu)
        assert section["likelihood_probability"] == pytest.approx(1 - (r / (r + mu)) ** r)
    assert [s["expected_next"] for s in history["sections"]] != \
        [s["expected_next"] for s in assessed["sections"]]


def test_the_sections_outlooks_are_fitted_once_per_data_version(demo_app, monkeypatch):
    # The ranking, the alerts and the bulletin of a period share one fit per region
    # until the data change; what they read is what a fresh fit gives, to the last bit.
    app, _, _ = demo_app
    june = datetime(2026, 6, 1, tzinfo=UTC)
    fits = []
    fit = service.predict_units
    monkeypatch.setattr(service, "predict_units", lambda *a: fits.append(a) or fit(*a))
    cache.CACHE.clear()  # whatever other tests left
    with app.app_context():
        srid = app.config["ANALYSIS_SRID"]
        codes = ["GE-KA", "GE-KK"]
        first = service.section_outlooks(db.session, codes, june, "next_month", srid)
        fitted = len(fits)
        again = service.section_outlooks(db.session, codes, june, "next_month", srid)
        assert len(fits) == fitted == 2  # one per region, the first time only
        assert again == first == service._section_outlooks(  # noqa: SLF001  (2 fits)
            db.session, codes, june, "next_month", srid, None, None)
        # Another view (what every agency may count) is another fit.
        service.section_outlooks(db.session, codes, june, "next_month", srid,
                                 assessments.SHARED_VIEW)
        assert len(fits) == 6
        # A write (rolled back here) makes the kept outlooks stale.
        db.session.execute(text("UPDATE incidents SET persons_count = persons_count "
                                "WHERE id = (SELECT min(id) FROM incidents)"))
        service.section_outlooks(db.session, codes, june, "next_month", srid)
        assert len(fits) == 8
        db.session.rollback()
        db.session.remove()


def test_the_sections_forecast_reads_from_the_models_read_start(demo_app, monkeypatch):
    # Issue 21: the sections' forecast reads the incidents from model.read_start on, and
    # knows whether older ones exist. With a memory of 400 days the demo's 36 months
    # reach past it: the read is cut, and the forecast is what the whole history gives.
    from geo.forecast import model
    from geo.forecast.inputs import regions_sections
    from geo.hotspots.inputs import Selection

    app, _, _ = demo_app
    june = datetime(2026, 6, 1, tzinfo=UTC)
    monkeypatch.setattr(model, "MEMORY_DAYS", 400)
    monkeypatch.setattr(model, "MEMORY_S", 400 * 86400.0)
    since = model.read_start(june, "next_month")
    with app.app_context():
        srid = app.config["ANALYSIS_SRID"]
        whole = regions_sections(db.session, ["GE-KA"], Selection(), june, srid)["GE-KA"]
        cut = regions_sections(db.session, ["GE-KA"], Selection(), june, srid,
                               since=since)["GE-KA"]
        later = regions_sections(db.session, ["GE-KA"], Selection(), june, srid,
                                 since=datetime(2000, 1, 1, tzinfo=UTC))["GE-KA"]
        db.session.remove()
    assert whole.first_time is None and later.first_time is None  # nothing older
    assert cut.first_time == -np.inf
    assert whole.incidents.time.min() < since.timestamp() <= cut.incidents.time.min()
    assert 0 < len(cut.incidents.time) < 0.6 * len(whole.incidents.time)
    assert len(later.incidents.time) == len(whole.incidents.time)
    a = service.predict_units(whole, june, "next_month")
    b = service.predict_units(cut, june, "next_month")
    np.testing.assert_array_equal(a.expected, b.expected)
    assert (a.fitted.decay_days, a.fitted.size) == (b.fitted.decay_days, b.fitted.size)
