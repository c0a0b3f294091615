"""GeoJSON list endpoints of the four layers."""

import pytest


@pytest.fixture
def headers(token_headers):
    return token_headers("viewer")


@pytest.mark.parametrize(
    ("path", "count", "first_code"),
    [("/api/v1/regions", 2, "T-KA"), ("/api/v1/segments", 2, "T-AZ-001"),
     ("/api/v1/crossings", 2, "T-BCP-1")],
)
def test_layers_as_feature_collections(client, sample_layers, headers, path, count,
                                       first_code):
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    assert response.content_type == "application/geo+json"
    body = response.get_json()
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == body["numberReturned"] == count
    first = body["features"][0]
    assert first["properties"]["code"] == first_code
    assert isinstance(first["id"], int)
    assert first["properties"]["provenance"] == "synthetic"


def test_segment_properties_include_derived_length(client, sample_layers, headers):
    body = client.get("/api/v1/segments", headers=headers).get_json()
    lengths = {f["properties"]["code"]: f["properties"]["length_m"] for f in body["features"]}
    assert all(10_000 < v < 40_000 for v in lengths.values())


def test_incidents_newest_first_with_datetime_and_paging(client, sample_layers, headers):
    body = client.get("/api/v1/incidents", headers=headers).get_json()
    assert [f["properties"]["external_id"] for f in body["features"]] == ["T-2", "T-1", "T-3"]

    recent = client.get("/api/v1/incidents?datetime=2026-01-01T00:00:00Z/..",
                        headers=headers).get_json()
    assert recent["numberMatched"] == 2

    page = client.get("/api/v1/incidents?limit=1&offset=1", headers=headers).get_json()
    assert page["numberMatched"] == 3 and page["numberReturned"] == 1
    assert page["features"][0]["properties"]["external_id"] == "T-1"

    older = client.get("/api/v1/incidents?datetime=../2025-12-31", headers=headers).get_json()
    assert [f["properties"]["external_id"] for f in older["features"]] == ["T-3"]


def test_user_text_is_returned_as_data_not_markup(client, sample_layers, headers):
    body = client.get("/api/v1/incidents?limit=1", headers=headers).get_json()
    assert body["features"][0]["properties"]["description"].endswith(
        "<script>alert(1)</script>"
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=10001", "limit"), ("limit=ten", "limit"),
     ("offset=-1", "offset"), ("datetime=yesterday", "datetime"),
     ("datetime=2026-01-01T00:00:00", "datetime"),
     ("datetime=2026-02-01T00:00:00Z/2026-01-01T00:00:00Z", "datetime")],
)
def test_bad_parameters_are_422_naming_the_field(client, headers, query, field):
    response = client.get(f"/api/v1/incidents?{query}", headers=headers)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    problem = response.get_json()
    assert problem["field"] == field
    assert problem["detail"].startswith(f"{field}: ")


def test_unknown_api_path_is_problem_json(client, headers):
    response = client.get("/api/v1/nothing-here", headers=headers)
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"
