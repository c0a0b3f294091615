"""Nothing a client sends gives a 500 (issue 14 item 5): huge numbers, deep nesting,
NUL characters and invalid UTF-8, in every kind of parameter and body, are each a 4xx
that names what was wrong, in the format of the part of the service asked."""

from __future__ import annotations

import json

import pytest

from app.extensions import db
from geo.models import RiskAssessment, RiskLevelDecision

BIG = "9" * 400
HUGE = "9" * 5000  # past int()'s 4,300-digit limit
WMS = ("/ogc/wms?SERVICE=WMS&REQUEST=GetMap&VERSION=1.3.0&LAYERS=incidents&CRS=EPSG:4326"
       "&BBOX=40,40,42,46&WIDTH=10&HEIGHT=10&FORMAT=image/png")


@pytest.mark.parametrize(("url", "status", "names"), [
    (f"/api/v1/incidents?limit={BIG}", 422, "limit"),
    (f"/api/v1/incidents?offset={BIG}", 422, "offset"),
    (f"/api/v1/incidents?limit={HUGE}", 422, "limit"),
    (f"/api/v1/incidents?bbox={BIG},1,2,3", 422, "bbox"),
    # (A 400-digit limit is served as the largest page, as OGC API Features allows.)
    (f"/ogc/features/collections/incidents/items?limit={HUGE}", 400, "limit"),
    (f"/ogc/features/collections/incidents/items?offset={BIG}", 400, "offset"),
    (f"/api/v1/hotspots?region=T-KK&cell_size={BIG}", 422, "cell_size"),
    ("/api/v1/incidents?source=%00", 422, "source"),
    ("/api/v1/hotspots?region=%00", 422, "region"),
    ("/ogc/features/collections/incidents/items?category=%00", 400, "category"),
    (WMS + "&REGION=%00", 400, "REGION"),
    (WMS + "&TIME=%ED%A0%80", 400, "TIME"),
    (WMS.replace("WIDTH=10", f"WIDTH={BIG}"), 400, "WIDTH"),
    (WMS.replace("WIDTH=10", f"WIDTH={HUGE}"), 400, "WIDTH"),
    (f"/ogc/features/collections/incidents/items?offset={HUGE}", 400, "offset"),
    (WMS.replace("GetMap", "GetFeatureInfo") + f"&QUERY_LAYERS=incidents&I={HUGE}&J=1",
     400, "I"),
    (WMS.replace("GetMap", "GetFeatureInfo") + f"&QUERY_LAYERS=incidents&I=1&J=1"
     f"&FEATURE_COUNT={HUGE}", 400, "FEATURE_COUNT"),
])
def test_hostile_parameters_are_4xx_naming_them(client, analyst, url, status, names):
    response = client.get(url, headers=analyst)
    text = response.get_data(as_text=True)
    assert response.status_code == status, text[:300]
    assert names in text and "Retry-After" not in response.headers
    assert BIG not in text and HUGE[:1000] not in text  # quoted short, never whole
    if url.startswith("/ogc/wms"):
        assert "ServiceExceptionReport" in text
    elif url.startswith("/api/"):
        assert response.content_type == "application/problem+json"


def feature(**properties) -> dict:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [45.0, 41.5]},
            "properties": {"source": "edge", "external_id": "E-1",
                           "occurred_at": "2026-09-01T00:00:00Z",
                           "category": "illegal_crossing_between_bcp", **properties}}


@pytest.mark.parametrize(("body", "status", "names"), [
    ("[" * 5000 + "]" * 5000, 400, "nested deeper than 32 levels"),
    (json.dumps(feature()).replace("[45.0, 41.5]", "[" * 5000 + "]" * 5000), 400,
     "nested deeper than 32 levels"),
    (json.dumps(feature()).replace("[45.0, 41.5]", "[" * 40 + "45" + "]" * 40), 400,
     "nested deeper than 32 levels"),
    (json.dumps(feature()).replace('"category"', f'"persons_count": {BIG}, "category"'),
     422, "persons_count"),
    (json.dumps(feature(external_id="\ud800")), 422, "external_id"),
    (json.dumps(feature(description="a\u0000b")), 422, "description"),
])
def test_hostile_bodies_are_4xx_naming_the_problem(client, analyst, body, status, names):
    response = client.post("/api/v1/incidents", data=body,
                           headers={**analyst, "Content-Type": "application/json"})
    text = response.get_data(as_text=True)
    assert response.status_code == status, text[:300]
    assert names in text and BIG not in text
    assert "Retry-After" not in response.headers


def test_deep_json_through_request_get_json_is_400(client, supervisor):
    """Bodies read with ``request.get_json`` (level decisions, assessments) too."""
    response = client.post("/api/v1/risk/assessments", data="[" * 5000 + "]" * 5000,
                           headers={**supervisor, "Content-Type": "application/json"})
    assert response.status_code in (400, 422), response.get_data(as_text=True)[:300]


SURROGATE = "\ud800"  # json.dumps sends it as the escape "\ud800", as a hostile client


@pytest.mark.parametrize(("method", "url", "body", "field"), [
    ("POST", "/api/v1/risk/assessments",
     {"region": SURROGATE, "datetime": "2026-09-01T00:00:00Z/2026-10-01T00:00:00Z"},
     "region"),
    ("POST", "/api/v1/risk/assessments", {"region": None, "datetime": "2026-09-01\x00"},
     "datetime"),
    ("POST", "/api/v1/risk/assessments",
     {"datetime": "2026-09-01T00:00:00Z/2026-10-01T00:00:00Z", SURROGATE: 1}, "\\ud800"),
    ("PATCH", "/api/v1/risk/segments/{section}/level",
     {"level": "critical", "justification": "why " * 5 + SURROGATE}, "justification"),
    ("PATCH", "/api/v1/risk/segments/{section}/level",
     {"level": None, "justification": ["why " * 5, {"deeper": "a\x00"}]},
     "justification.1.deeper"),
])
def test_unreadable_text_in_get_json_bodies_is_422_naming_the_member(
        client, supervisor, sample_layers, method, url, body, field):
    """A lone surrogate reached PostgreSQL's driver (a 500; before, a 503 with
    Retry-After that clients retry forever): every string and member name of a body read
    with request.get_json is checked once, after parsing, and nothing is written."""
    url = url.format(section=sample_layers["border_segments"]["T-AZ-001"])
    response = client.open(url, method=method, data=json.dumps(body),
                           headers={**supervisor, "Content-Type": "application/json"})
    problem = response.get_json()
    assert response.status_code == 422, problem
    assert response.content_type == "application/problem+json"
    assert problem["field"] == field and "Retry-After" not in response.headers
    assert ("lone surrogate" in problem["detail"]) or ("NUL" in problem["detail"])
    assert db.session.query(RiskLevelDecision).count() == 0
    assert db.session.query(RiskAssessment).count() == 0


def test_a_number_past_pythons_digit_limit_is_400_in_plain_words(client, analyst):
    body = '{"type": "Feature", "properties": {"persons_count": ' + HUGE + '}}'
    response = client.post("/api/v1/incidents", data=body,
                           headers={**analyst, "Content-Type": "application/json"})
    assert response.status_code == 400
    detail = response.get_json()["detail"]
    assert "more than 4,300 digits" in detail and "set_int_max_str_digits" not in detail


@pytest.mark.parametrize(("sql", "value", "words"), [
    ("SELECT CAST(:v AS text)", "a" + SURROGATE, "lone surrogate"),
    ("SELECT CAST(:v AS text)", "a\x00b", "NUL character"),
    ("SELECT CAST(:v AS integer)", "9" * 12, "out of range"),
])
def test_values_the_database_refuses_are_the_clients_error_not_503(db_session, sql, value,
                                                                   words):
    """The net under every unchecked path: what PostgreSQL or its driver refuses of a
    request's value is a 4xx, never database_failure's 503 (nor a 500)."""
    from sqlalchemy import text

    from app.errors import client_data_error, database_failure

    with pytest.raises(Exception) as caught:  # noqa: PT011  (the driver's own types)
        with db_session.begin_nested():
            db_session.execute(text(sql), {"v": value})
    assert words in client_data_error(caught.value)
    assert database_failure(caught.value) is None


def test_client_data_error_leaves_real_failures_alone():
    from app.errors import client_data_error

    assert client_data_error(RuntimeError("could not connect")) is None
    assert client_data_error(ValueError("something else")) is None
