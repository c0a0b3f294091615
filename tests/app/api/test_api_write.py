"""Writes through the REST API: create, PATCH, DELETE; every bad input named, nothing lost."""

import json

import pytest
from pyproj import Transformer
from sqlalchemy import text

INCIDENT = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [45.01, 41.32]},
    "properties": {
        "source": "api-test", "external_id": "W-1", "occurred_at": "2026-09-01T08:00:00+04:00",
        "category": "illegal_crossing_between_bcp", "outcome": "attempted",
        "direction": "entry", "persons_count": 5, "nationality": "IN",
        "source_reliability": "B", "information_credibility": 2,
        "description": "SYNTHETIC API test",
    },
}


def incident(**changes):
    feature = json.loads(json.dumps(INCIDENT))
    geometry = changes.pop("geometry", None)
    if geometry is not None:
        feature["geometry"] = geometry
    feature["properties"].update(changes)
    return feature


def count(db_session, table="incidents"):
    return db_session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()




def post(client, headers, body, path="/api/v1/incidents", **query):
    return client.post(path, json=body, headers=headers, query_string=query)


def test_create_one_incident_with_derived_links(client, sample_layers, analyst):
    response = post(client, analyst, INCIDENT)
    assert response.status_code == 201
    assert response.content_type == "application/geo+json"
    feature = response.get_json()
    assert response.headers["Location"] == f"/api/v1/incidents/{feature['id']}"
    props = feature["properties"]
    assert props["occurred_at"] == "2026-09-01T04:00:00+00:00"
    assert props["persons_count"] == 5 and props["status"] == "draft"
    assert props["provenance"] == "reported"
    assert props["region_id"] == sample_layers["regions"]["T-KK"]
    assert props["nearest_segment_id"] == sample_layers["border_segments"]["T-AZ-001"]
    assert props["nearest_crossing_id"] == sample_layers["crossing_points"]["T-BCP-1"]
    assert 3000 < props["segment_distance_m"] < 4000  # checked exactly in geo/test_queries
    assert client.get(response.headers["Location"], headers=analyst).get_json() == feature


def test_create_a_collection(client, sample_layers, analyst, db_session):
    before = count(db_session)
    body = {"type": "FeatureCollection",
            "features": [incident(external_id="W-1"), incident(external_id="W-2")]}
    response = post(client, analyst, body)
    assert response.status_code == 201
    created = response.get_json()["features"]
    assert [f["properties"]["external_id"] for f in created] == ["W-1", "W-2"]
    assert count(db_session) == before + 2


def test_viewer_cannot_write(client, token_headers, sample_layers):
    viewer = token_headers("viewer")
    response = post(client, viewer, INCIDENT)
    assert response.status_code == 403
    assert "analyst role" in response.get_json()["detail"]
    incident_id = sample_layers["incidents"]["T-1"]
    assert client.delete(f"/api/v1/incidents/{incident_id}", headers=viewer).status_code == 403
    assert client.patch(f"/api/v1/incidents/{incident_id}", json={},
                        headers=viewer).status_code == 403


def test_malformed_json_is_400(client, analyst):
    response = client.post("/api/v1/incidents", data=b'{"type": "Feature",',
                           headers={**analyst, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.content_type == "application/problem+json"
    assert "not valid JSON" in response.get_json()["detail"]


def test_body_that_is_not_geojson_is_422(client, analyst):
    response = post(client, analyst, {"hello": "world"})
    assert response.status_code == 422
    assert response.get_json()["detail"].startswith("type: ")


def test_body_over_the_limit_is_413(app, client, analyst):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    try:
        body = {"type": "FeatureCollection", "features": [INCIDENT] * 20}
        response = post(client, analyst, body)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 50 * 1024 * 1024
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"


@pytest.mark.parametrize(
    ("changes", "pointer", "message"),
    [
        ({"category": "jaywalking"}, "properties.category",
         "unknown value 'jaywalking'; allowed: illegal_crossing_between_bcp"),
        ({"occurred_at": "last tuesday"}, "properties.occurred_at",
         "is not an RFC 3339 date-time"),
        ({"occurred_at": "2026-09-01T08:00:00"}, "properties.occurred_at", "has no time zone"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "properties.occurred_at", "in the future"),
        ({"persons_count": -2}, "properties.persons_count", "-2 is negative"),
        ({"persons_count": "many"}, "properties.persons_count", "'many' is not a number"),
        ({"information_credibility": 9}, "properties.information_credibility", "above 4"),
        ({"external_id": None}, "properties.external_id", "is required"),
        ({"nationality": "India"}, "properties.nationality",
         "'India' is not an ISO 3166-1 alpha-2 code such as GE"),
        ({"colour": "red"}, "properties.colour", "unknown property for incidents"),
        ({"geometry": {"type": "LineString", "coordinates": [[45, 41], [45.1, 41.1]]}},
         "geometry", "wrong geometry type LineString; incidents takes Point"),
        ({"geometry": {"type": "Point", "coordinates": [191, 41]}}, "geometry",
         "coordinates out of range"),
        ({"geometry": {"type": "Point", "coordinates": [41.32, 45.01]}}, "geometry",
         "coordinates appear swapped"),
        ({"geometry": {"type": "Point", "coordinates": [30.0, 10.0]}}, "geometry",
         "more than 25 km from every region; send allow_outside=true"),
        ({"geometry": {"type": "Point", "coordinates": "here"}}, "geometry",
         "is not a GeoJSON geometry"),
    ],
)
def test_invalid_content_is_422_naming_the_field(client, sample_layers, analyst, db_session,
                                                 changes, pointer, message):
    before = count(db_session)
    response = post(client, analyst, incident(**changes))
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert problem["detail"].startswith(f"{pointer}: ")
    assert message in problem["detail"]
    assert problem["errors"][0]["pointer"] == pointer
    assert count(db_session) == before


def test_point_far_outside_is_accepted_when_allowed(client, sample_layers, analyst):
    body = incident(geometry={"type": "Point", "coordinates": [30.0, 10.0]})
    response = post(client, analyst, body, allow_outside="true")
    assert response.status_code == 201
    assert response.get_json()["properties"]["region_id"] is None


def test_invalid_region_geometry_says_why_and_where(client, supervisor):
    bowtie = {"type": "Feature",
              "properties": {"code": "BOW", "name_en": "Bow tie", "name_ka": "ბ"},
              "geometry": {"type": "Polygon",
                           "coordinates": [[[44, 41], [45, 42], [45, 41], [44, 42], [44, 41]]]}}
    response = post(client, supervisor, bowtie, path="/api/v1/regions")
    assert response.status_code == 422
    assert response.get_json()["detail"] == (
        "geometry: invalid geometry: Self-intersection[44.5 41.5]")


def test_collection_lists_every_bad_feature_and_writes_nothing(client, sample_layers,
                                                               analyst, db_session):
    before = count(db_session)
    body = {"type": "FeatureCollection", "features": [
        incident(external_id="OK-1"),
        incident(external_id="BAD-1", category="nope"),
        incident(external_id="OK-2"),
        incident(external_id="BAD-2", persons_count=-1, occurred_at="soon"),
    ]}
    response = post(client, analyst, body)
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["detail"].startswith("features[1].properties.category: unknown value")
    assert problem["detail"].endswith("(and 2 more problems)")
    assert [(e["index"], e["field"]) for e in problem["errors"]] == [
        (1, "category"), (3, "occurred_at"), (3, "persons_count")]
    assert count(db_session) == before


def test_duplicate_key_on_create_is_409(client, sample_layers, analyst, db_session):
    body = incident(source="test", external_id="T-1")  # exists in the sample layers
    response = post(client, analyst, body)
    assert response.status_code == 409
    assert response.get_json()["detail"] == (
        f"properties.key: source + external_id already exists as id "
        f"{sample_layers['incidents']['T-1']}")


def test_duplicate_key_within_a_collection_is_422(client, sample_layers, analyst):
    body = {"type": "FeatureCollection", "features": [incident(), incident()]}
    response = post(client, analyst, body)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["message"] == (
        "repeats the source + external_id of row 0")


def test_create_in_another_crs_is_transformed_to_within_a_centimetre(client, sample_layers,
                                                                    analyst):
    to_utm = Transformer.from_crs(4326, 32638, always_xy=True)
    x, y = to_utm.transform(45.01234567, 41.32345678)
    body = incident(geometry={"type": "Point", "coordinates": [x, y]})
    response = post(client, analyst, body, crs="EPSG:32638")
    assert response.status_code == 201
    lon, lat = response.get_json()["geometry"]["coordinates"]
    back_x, back_y = to_utm.transform(lon, lat)
    assert abs(back_x - x) < 0.01 and abs(back_y - y) < 0.01


def test_unknown_crs_is_422(client, analyst):
    response = post(client, analyst, INCIDENT, crs="EPSG:1")
    assert response.status_code == 422
    assert response.get_json()["field"] == "crs"


def test_get_unknown_id_is_404(client, analyst):
    response = client.get("/api/v1/incidents/999999", headers=analyst)
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"


def test_patch_changes_properties_and_relinks_a_moved_point(client, sample_layers, supervisor):
    incident_id = sample_layers["incidents"]["T-1"]
    url = f"/api/v1/incidents/{incident_id}"
    response = client.patch(url, headers=supervisor, json={  # validating: a supervisor
        "properties": {"persons_count": 7, "status": "validated"},
        "geometry": {"type": "Point", "coordinates": [45.42, 41.45]},
    })
    assert response.status_code == 200
    props = response.get_json()["properties"]
    assert props["persons_count"] == 7 and props["category"] == "illegal_crossing_between_bcp"
    assert props["region_id"] == sample_layers["regions"]["T-KA"]
    assert props["nearest_segment_id"] == sample_layers["border_segments"]["T-AZ-002"]


def test_invalid_patch_is_422_and_changes_nothing(client, sample_layers, analyst):
    url = f"/api/v1/incidents/{sample_layers['incidents']['T-1']}"
    before = client.get(url, headers=analyst).get_json()
    response = client.patch(url, headers=analyst, json={"properties": {"persons_count": -3}})
    assert response.status_code == 422
    assert response.get_json()["detail"] == "properties.persons_count: -3 is negative"
    assert client.get(url, headers=analyst).get_json() == before


def test_patch_to_an_existing_key_is_409_and_changes_nothing(client, sample_layers, analyst):
    url = f"/api/v1/incidents/{sample_layers['incidents']['T-1']}"
    other = f"/api/v1/incidents/{sample_layers['incidents']['T-2']}"
    before, other_before = (client.get(u, headers=analyst).get_json() for u in (url, other))
    response = client.patch(url, headers=analyst, json={"properties": {"external_id": "T-2"}})
    assert response.status_code == 409
    problem = response.get_json()
    assert response.mimetype == "application/problem+json" and problem["status"] == 409
    assert problem["detail"] == ("properties.key: source + external_id already exists as id "
                                 f"{sample_layers['incidents']['T-2']}")
    # Neither the patched feature nor the one whose key it asked for changed.
    assert client.get(url, headers=analyst).get_json() == before
    assert client.get(other, headers=analyst).get_json() == other_before


def test_delete_then_404(client, sample_layers, analyst):
    url = f"/api/v1/incidents/{sample_layers['incidents']['T-2']}"
    assert client.delete(url, headers=analyst).status_code == 204
    assert client.get(url, headers=analyst).status_code == 404
    assert client.delete(url, headers=analyst).status_code == 404


def test_deleting_a_segment_relinks_its_incidents(client, sample_layers, analyst, supervisor):
    segment_id = sample_layers["border_segments"]["T-AZ-001"]
    assert client.delete(f"/api/v1/segments/{segment_id}", headers=analyst).status_code == 403
    assert client.delete(f"/api/v1/segments/{segment_id}", headers=supervisor).status_code == 204
    url = f"/api/v1/incidents/{sample_layers['incidents']['T-1']}"
    props = client.get(url, headers=analyst).get_json()["properties"]
    assert props["nearest_segment_id"] == sample_layers["border_segments"]["T-AZ-002"]


def test_new_segment_gets_region_and_length(client, sample_layers, supervisor):
    body = {"type": "Feature",
            "properties": {"code": "T-AZ-003", "name": "New (synthetic)", "kind": "land",
                           "neighbour_country": "AZ"},
            "geometry": {"type": "MultiLineString",
                         "coordinates": [[[44.85, 41.25], [44.95, 41.25]]]}}
    response = post(client, supervisor, body, path="/api/v1/segments")
    assert response.status_code == 201
    props = response.get_json()["properties"]
    assert props["region_id"] == sample_layers["regions"]["T-KK"]
    assert 8_000 < props["length_m"] < 9_000  # 0.1 degree of longitude at 41.25 N
    assert props["surveillance_level"] == 2 and props["terrain_class"] == "hills"


@pytest.mark.parametrize("query", [{}, {"crs": "EPSG:32638"}])
def test_a_null_geometry_in_a_patch_is_422_and_the_stored_one_stays(client, sample_layers,
                                                                    supervisor, query):
    """``"geometry": null`` asks for no geometry: refused, naming it. (It was once read as
    "keep the stored one", and with ``crs`` the stored degrees were taken for metres.)"""
    url = f"/api/v1/border_segments/{sample_layers['border_segments']['T-AZ-001']}"
    before = client.get(url, headers=supervisor).get_json()["geometry"]
    response = client.patch(url, json={"geometry": None, "properties": {"name": "Moved"}},
                            headers=supervisor, query_string=query)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["detail"].startswith("geometry: is required")
    after = client.get(url, headers=supervisor).get_json()
    assert after["geometry"] == before and after["properties"]["name"] != "Moved"
