"""CIRAM risk through the API, on the synthetic demo: rankings that find the planted
hot-spots, records that cannot change, supervisors' decisions, alerts."""

import csv
import io
import math
from datetime import timedelta

import pytest
from sqlalchemy import text

from app.extensions import db
from config import ConfigError
from geo.products import periods
from tests.conftest import DEMO_END, make_app, role_headers

LAST_MONTH = "2026-06-01T00:00:00Z/2026-06-29T23:59:59Z"


@pytest.fixture(scope="module")
def people(demo_app):
    """Bearer headers of an analyst and a supervisor on the demo database."""
    app, viewer, _ = demo_app
    return {"viewer": viewer, **role_headers(app, "risk")}


def client(demo_app):
    return demo_app[0].test_client()


def nearest_section(demo_app, lon, lat):
    app = demo_app[0]
    with app.app_context():
        section_id = db.session.execute(text(
            "SELECT id FROM border_segments ORDER BY geom::geography <-> "
            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography LIMIT 1"),
            {"lon": lon, "lat": lat}).scalar_one()
        db.session.remove()
    return section_id


def ranked_planted(demo_app, people):
    _, _, planted = demo_app
    body = client(demo_app).get(f"/api/v1/risk/segments?datetime={LAST_MONTH}",
                                headers=people["viewer"]).get_json()
    sections = {s["section_id"]: s for s in body["sections"]}
    return body, [(spot, sections[nearest_section(demo_app, spot.lon, spot.lat)])
                  for spot in planted]


def test_ranking_scores_and_the_diminishing_hot_spots_fall(demo_app, people):
    body, pairs = ranked_planted(demo_app, people)
    for spot, section in pairs:
        if spot.kind == "diminishing":
            assert section["comparison"]["change_last_year_pct"] < 0, spot.code
    assert body["summary"]["sections"] == len(body["sections"]) == 115
    top = body["sections"][0]
    assert top["risk"] == top["threat"] * top["vulnerability"] * top["impact"]
    assert [s["rank"] for s in body["sections"]] == sorted(s["rank"] for s in body["sections"])
    shares = [f["share"] for f in top["explanation"]["threat"]]
    assert sum(shares) == pytest.approx(1.0)


def test_sections_of_persistent_and_intensifying_hot_spots_rank_in_the_top_decile(
        demo_app, people):
    body, pairs = ranked_planted(demo_app, people)
    decile = math.ceil(0.1 * len(body["sections"]))
    late = [(spot.code, section["rank"]) for spot, section in pairs
            if spot.kind in ("persistent", "intensifying") and section["rank"] > decile]
    assert late == []


def test_assessment_is_stored_as_a_record(demo_app, people):
    http = client(demo_app)
    body = {"region": "GE-KK", "datetime": LAST_MONTH}
    assert http.post("/api/v1/risk/assessments", json=body,
                     headers=people["viewer"]).status_code == 403
    first = http.post("/api/v1/risk/assessments", json=body, headers=people["analyst"])
    assert first.status_code == 201
    record = first.get_json()
    assert record["config_sha256"] == record["summary"]["config_sha256"]
    assert "corridor_m:" in record["config"]
    assert record["sections"] and record["sections"][0]["rank"] == 1
    stored = http.get(first.headers["Location"], headers=people["viewer"]).get_json()
    assert stored == record
    second = http.post("/api/v1/risk/assessments", json=body,
                       headers=people["analyst"]).get_json()
    assert second["id"] != record["id"]  # re-running creates a new record


def test_supervisor_sets_and_lifts_critical_with_a_justification(demo_app, people):
    http = client(demo_app)
    section = client(demo_app).get(f"/api/v1/risk/segments?region=GE-KK&datetime={LAST_MONTH}",
                                   headers=people["viewer"]).get_json()["sections"][-1]
    url = f"/api/v1/risk/segments/{section['section_id']}/level"
    decision = {"level": "critical", "justification": "Flooding washed out the fence line."}
    assert http.patch(url, json=decision, headers=people["analyst"]).status_code == 403
    short = http.patch(url, json={"level": "critical", "justification": "because"},
                       headers=people["supervisor"])
    assert short.status_code == 422 and short.get_json()["field"] == "justification"
    bad = http.patch(url, json={**decision, "level": "extreme"}, headers=people["supervisor"])
    assert bad.status_code == 422 and bad.get_json()["field"] == "level"
    assert http.patch(url, json=decision, headers=people["supervisor"]).status_code == 200

    ranked = http.get(f"/api/v1/risk/segments?region=GE-KK&datetime={LAST_MONTH}",
                      headers=people["viewer"]).get_json()["sections"]
    now = next(s for s in ranked if s["section_id"] == section["section_id"])
    assert now["level"] == "critical" and now["computed_level"] == section["level"]
    assert now["decision"]["decided_by"] == "risk-supervisor"

    lift = {"level": None, "justification": "Fence repaired, patrols back to normal."}
    assert http.patch(url, json=lift, headers=people["supervisor"]).status_code == 200
    ranked = http.get(f"/api/v1/risk/segments?region=GE-KK&datetime={LAST_MONTH}",
                      headers=people["viewer"]).get_json()["sections"]
    assert next(s for s in ranked if s["section_id"] == section["section_id"])["level"] == (
        section["level"])
    history = http.get(f"/api/v1/risk/segments/{section['section_id']}/history",
                       headers=people["viewer"]).get_json()["history"]
    decisions = [h for h in history if h["kind"] == "decision"]
    assert [d["level"] for d in decisions][-2:] == ["critical", None]


def test_an_abnormal_month_raises_an_alert(demo_app, people):
    app, _, planted = demo_app
    spot = next(p for p in planted if p.code == "HS-PERS-01")
    section_id = nearest_section(demo_app, spot.lon, spot.lat)
    when = DEMO_END - timedelta(days=3)
    with app.app_context():
        db.session.execute(text(
            "INSERT INTO incidents (source, external_id, occurred_at, category, outcome, "
            "persons_count, source_reliability, information_credibility, status, geom, "
            "provenance, description) SELECT 'alert-test', 'A-' || g, :when, "
            "'smuggling_tobacco', 'actual', 1, 'B', 2, 'draft', "
            "ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 'synthetic', 'SYNTHETIC alert test' "
            "FROM generate_series(1, 200) AS g"), {"when": when, "lon": spot.lon,
                                                    "lat": spot.lat})
        from geo.queries import link_incidents
        link_incidents(db.session, 32638)
        db.session.commit()
    try:
        body = client(demo_app).get(f"/api/v1/alerts?datetime={LAST_MONTH}",
                                    headers=people["viewer"]).get_json()
        flagged = {a["section_id"]: a for a in body["alerts"]}
        assert section_id in flagged
        alert = flagged[section_id]
        assert alert["observed"] >= 200 > alert["expected"] and alert["p_value"] < 0.01
    finally:
        with app.app_context():
            db.session.execute(text("DELETE FROM incidents WHERE source = 'alert-test'"))
            db.session.commit()


@pytest.mark.parametrize(
    ("url", "field"),
    [("/api/v1/risk/segments?datetime=2026-06-01T00:00:00Z/..", "datetime"),
     (f"/api/v1/risk/segments?region=NOWHERE&datetime={LAST_MONTH}", "region"),
     ("/api/v1/alerts?datetime=yesterday", "datetime")],
)
def test_bad_parameters_are_422(demo_app, people, url, field):
    response = client(demo_app).get(url, headers=people["viewer"])
    assert response.status_code == 422 and response.get_json()["field"] == field


JULY_2 = DEMO_END.replace(month=7, day=2)
JUNE = ["2026-06-01T00:00:00+00:00", "2026-06-30T23:59:59+00:00"]


@pytest.mark.parametrize("path", ["/api/v1/risk/segments", "/api/v1/alerts"])
def test_without_datetime_the_answer_is_the_last_complete_month_and_says_so(
        demo_app, people, freeze_clock, path):
    freeze_clock(JULY_2)
    body = client(demo_app).get(path, headers=people["viewer"]).get_json()
    assert body["period"] == JUNE
    assert body["period_source"] == "default: last complete month"
    assert body["period_partial"] is False
    same = client(demo_app).get(f"{path}?datetime={'/'.join(JUNE)}".replace("+00:00", "Z"),
                                headers=people["viewer"]).get_json()
    assert same["period_source"] == "datetime parameter"
    key = "sections" if "segments" in path else "alerts"
    assert body[key] == same[key]


def test_a_partial_period_is_marked_and_not_compared(demo_app, people, freeze_clock):
    freeze_clock(DEMO_END.replace(day=15))
    body = client(demo_app).get(f"/api/v1/risk/segments?datetime={'/'.join(JUNE)}"
                                .replace("+00:00", "Z"), headers=people["viewer"]).get_json()
    assert body["period_partial"] is True
    assert body["summary"]["partial"] is True
    assert body["summary"]["change_previous_pct"] is None
    assert body["summary"]["change_last_year_pct"] is None
    busy = [s for s in body["sections"] if s["comparison"]["previous_period"] > 0]
    assert busy, "some section had incidents in May"
    assert all(s["comparison"]["change_previous_pct"] is None
               and s["comparison"]["partial"] is True for s in body["sections"])
    # Its default, meanwhile, is May: the last month that is over.
    default = client(demo_app).get("/api/v1/risk/segments", headers=people["viewer"])
    assert default.get_json()["period"][0] == "2026-05-01T00:00:00+00:00"


def test_the_ranking_is_by_risk_then_incidents_then_code_and_says_so(demo_app, people):
    body = client(demo_app).get(f"/api/v1/risk/segments?datetime={LAST_MONTH}",
                                headers=people["viewer"]).get_json()
    keys = [(-s["risk"], -s["incidents"], s["code"]) for s in body["sections"]]
    assert keys == sorted(keys)
    ties = [(a, b) for a, b in zip(body["sections"], body["sections"][1:], strict=False)
            if a["risk"] == b["risk"] and a["incidents"] != b["incidents"]]
    assert ties, "the demo has sections of equal risk and different incidents"
    assert body["order"] == "risk (highest first), then incidents (most first), then " \
                            "section code"
    assert body["counts"].startswith("incidents within 5000 m of a border section")


def test_the_ranking_downloads_as_csv_and_geojson_with_its_scores(demo_app, people):
    query = f"datetime={LAST_MONTH}&region=GE-KK"
    ranking = client(demo_app).get(f"/api/v1/risk/segments?{query}",
                                   headers=people["viewer"]).get_json()
    csv_answer = client(demo_app).get(f"/api/v1/risk/segments?{query}&f=csv",
                                      headers=people["viewer"])
    assert csv_answer.mimetype == "text/csv"
    assert csv_answer.headers["Content-Disposition"] == \
        'attachment; filename="ranking-GE-KK-20260601-20260629.csv"'
    rows = list(csv.DictReader(io.StringIO(csv_answer.get_data(as_text=True))))
    assert [r["code"] for r in rows] == [s["code"] for s in ranking["sections"]]
    first, top = rows[0], ranking["sections"][0]
    assert (int(first["risk"]), first["level"], int(first["incidents"])) == (
        top["risk"], top["level"], top["incidents"])
    assert first["previous_period"] == str(top["comparison"]["previous_period"])
    assert first["reasons_threat"].startswith(top["explanation"]["threat"][0]["factor"])
    geojson = client(demo_app).get(f"/api/v1/risk/segments?{query}&f=geojson",
                                   headers=people["viewer"])
    assert geojson.mimetype == "application/geo+json"
    assert geojson.headers["Content-Disposition"].endswith('ranking-GE-KK-20260601-'
                                                           '20260629.geojson"')
    collection = geojson.get_json()
    assert collection["metadata"]["period_source"] == "datetime parameter"
    assert collection["metadata"]["order"] == ranking["order"]
    feature = collection["features"][0]
    assert feature["id"] == top["section_id"]
    assert feature["geometry"]["type"] in ("LineString", "MultiLineString")
    assert feature["properties"]["risk"] == top["risk"]
    assert feature["properties"]["change_last_year_pct"] == \
        top["comparison"]["change_last_year_pct"]
    bad = client(demo_app).get(f"/api/v1/risk/segments?{query}&f=xlsx",
                               headers=people["viewer"])
    assert bad.status_code == 422 and bad.get_json()["field"] == "f"


def test_the_default_period_before_a_full_month_of_data_is_30_days():
    utc = DEMO_END.tzinfo
    period = periods.default_period_for(DEMO_END.replace(month=7, day=10),
                                        DEMO_END.replace(day=12), DEMO_END.replace(day=29,
                                                                                  hour=7))
    assert (period.start.isoformat(), period.end.isoformat()) == (
        "2026-05-31T00:00:00+00:00", "2026-06-29T23:59:59+00:00")
    assert period.source == "default: 30 days ending at the latest incident"
    assert period.start.tzinfo == utc


def test_an_invalid_risk_file_stops_start_up_with_its_line(tmp_path, databases):
    bad = tmp_path / "risk.yaml"
    bad.write_text("version: 1\ncorridor_m: -5\n")
    with pytest.raises(ConfigError, match=r"RISK_CONFIG: .*line \d+"):
        make_app("postgresql+psycopg2://u:p@127.0.0.1:1/x", RISK_CONFIG=str(bad))


@pytest.mark.parametrize("body", [{"datetime": {"start": 1}}, {"datetime": LAST_MONTH,
                                                               "region": ["GE-KK"]}])
def test_assessment_body_of_the_wrong_shape_is_422(demo_app, people, body):
    response = client(demo_app).post("/api/v1/risk/assessments", json=body,
                                     headers=people["analyst"])
    assert response.status_code == 422


def test_the_ranking_says_its_formula_bands_and_each_sections_counts(demo_app, people):
    body = client(demo_app).get(f"/api/v1/risk/segments?datetime={LAST_MONTH}",
                                headers=people["viewer"]).get_json()
    config = demo_app[0].config["RISK_MODEL"]
    assert body["model"] == {
        "formula": "risk = T x V x I", "component_range": [1, 5],
        "bands": {"low": [1, config.low_max], "medium": [config.low_max + 1, config.medium_max],
                  "high": [config.medium_max + 1, 125]},
        "reference_days": 30, "impact_periods": 13}
    assert body["model"]["bands"]["low"] == [1, 19]  # as risk.yaml says
    for section in body["sections"]:
        # the baseline periods, oldest first, then the period itself
        assert len(section["period_counts"]) == config.baseline_periods + 1
        assert section["period_counts"][-1] == section["incidents"]
        assert section["period_counts"][-2] == section["comparison"]["previous_period"]
        assert sum(section["categories"].values()) == section["incidents"]
        assert 0 not in section["categories"].values()
        low, high = section["alert"]["expected_range"]
        assert 0 <= low <= high
        assert section["alert"]["alert"] == (section["incidents"] > high)



def test_every_scored_factor_and_terrain_class_has_words(demo_app, people):
    """The ranking panel's factor table (app.ui.messages) names every factor the model
    scores, and every terrain class: a factor added to ciram without words would show
    as a raw key such as ``inland_share``."""
    from app.ui.messages import RISK_FACTOR_LABELS, RISK_FACTOR_VALUE_LABELS
    from geo.vocabulary import TERRAIN_CLASSES

    body = client(demo_app).get(f"/api/v1/risk/segments?datetime={LAST_MONTH}",
                                headers=people["viewer"]).get_json()
    scored = {f["factor"] for factors in body["sections"][0]["explanation"].values()
              for f in factors}
    assert scored == set(RISK_FACTOR_LABELS)
    assert set(RISK_FACTOR_VALUE_LABELS["terrain"]) == set(TERRAIN_CLASSES)


def test_a_fresh_process_reads_the_stored_ranking_without_counting(demo_app, people,
                                                                   monkeypatch):
    """The ranking's assessment is kept with the shared analysis results (kind
    ``risk-assessment``): a process with nothing in memory (another gunicorn worker,
    one started after the warm-up) reads it with no statement of the model's inputs,
    and answers what counting gives, to the last bit; a decision taken since shows
    (decisions are applied to what is read); another agency's view is another entry."""
    from geo.hotspots import analysis_results, cache
    from geo.queries import risk as risk_sql
    from geo.risk import assessments

    shared = make_app(demo_app[0].config["SQLALCHEMY_DATABASE_URI"], ANALYSIS_CACHE_MAX_MB=64)
    table = shared.extensions[analysis_results.SESSION_INFO_KEY]
    with shared.app_context():
        computed = assessments._assess_region(  # noqa: SLF001  (counted, not kept)
            db.session, shared.config["RISK_MODEL"], "GE-KK", *periods_of(LAST_MONTH),
            shared.config["ANALYSIS_SRID"], "GBP")
        db.session.remove()
    with shared.app_context():
        table.clear()
    cache.CACHE.clear()
    gathered = []
    gather = assessments.gather_inputs
    monkeypatch.setattr(assessments, "gather_inputs",
                        lambda *a, **k: gathered.append(a[2:5]) or gather(*a, **k))
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    url = f"/api/v1/risk/segments?region=GE-KK&datetime={LAST_MONTH}"
    try:
        with shared.app_context():
            from sqlalchemy import event
            event.listen(db.engine, "before_cursor_execute", record)
        first = shared.test_client().get(url, headers=people["viewer"])
        assert first.status_code == 200 and len(gathered) == 1
        counted = len(statements)
        cache.CACHE.clear()  # a fresh process: nothing in memory
        statements.clear()
        second = shared.test_client().get(url, headers=people["viewer"])
        assert second.status_code == 200 and len(gathered) == 1  # read, not counted
        inputs = {str(s) for s in (risk_sql.SECTIONS, risk_sql.COUNTS, risk_sql.LAST_YEAR)}
        assert not inputs & set(statements)
        # the caller's session, the data stamps, the stored row, the decisions
        assert len(statements) <= 5 < counted, statements
        assert second.data == first.data
        with shared.app_context():
            kinds = db.session.execute(text(
                "SELECT kind FROM analysis_results ORDER BY kind")).scalars().all()
            db.session.remove()
        assert "risk-assessment" in kinds
        body = second.get_json()
        assert body["viewer_agency"] == "GBP"
        assert {s["section_id"]: {k: v for k, v in s.items()
                                  if k not in ("computed_level", "decision")}
                for s in body["sections"]} == {s["section_id"]: s
                                               for s in computed["sections"]}
        assert body["summary"] == computed["summary"]

        # A supervisor's decision since: read with the stored assessment.
        section = body["sections"][0]
        decided = shared.test_client().patch(
            f"/api/v1/risk/segments/{section['section_id']}/level",
            json={"level": "critical", "justification": "A test of the stored ranking."},
            headers=people["supervisor"])
        assert decided.status_code == 200
        cache.CACHE.clear()
        third = shared.test_client().get(url, headers=people["viewer"]).get_json()
        now = next(s for s in third["sections"] if s["section_id"] == section["section_id"])
        assert now["level"] == "critical" and now["computed_level"] == section["level"]
        assert len(gathered) == 1
        lift = shared.test_client().patch(
            f"/api/v1/risk/segments/{section['section_id']}/level",
            json={"level": None, "justification": "The test of the stored ranking ends."},
            headers=people["supervisor"])
        assert lift.status_code == 200

        # Another agency counts another view: its own entry.
        other = shared.test_client().get(url, headers=patrol_viewer(shared)).get_json()
        assert other["viewer_agency"] == "PPD" != body["viewer_agency"]
        assert len(gathered) == 2
    finally:
        with shared.app_context():
            event.remove(db.engine, "before_cursor_execute", record)
            table.clear()
            db.engine.dispose()
        cache.CACHE.clear()


def periods_of(interval: str):
    """The UTC bounds of a ``start/end`` interval."""
    from app.api.params import parse_datetime_interval

    return parse_datetime_interval(interval)


def patrol_viewer(app) -> dict:
    """Bearer headers of a viewer of the Patrol Police (``PPD``), made once."""
    from app.auth.models import User
    from app.auth.tokens import create_token
    from app.auth.users import create_user
    from tests.conftest import TEST_PASSWORD

    with app.app_context():
        user = db.session.execute(db.select(User).filter_by(
            username="patrol-viewer")).scalar_one_or_none()
        if user is None:
            user = create_user(db.session, "patrol-viewer", "viewer", TEST_PASSWORD,
                               agency="PPD")
        _, token = create_token(db.session, user, "test")
        db.session.commit()
        db.session.remove()
    return {"Authorization": f"Bearer {token}"}
