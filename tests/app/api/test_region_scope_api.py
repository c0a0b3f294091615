"""Region scope and the status rule in the REST API (synthetic sample layers and demo).

A user linked to regions reads only those (lists, one feature, exports), writes only
there (403 naming the feature, nothing written), and analyses only there (403 naming
``region``; their only region by default). Incidents are validated or closed by
supervisors only.
"""

import io
import json
import uuid

import pyogrio
import pytest
from sqlalchemy import select, text

from app.auth.tokens import create_token
from app.auth.users import create_user
from app.extensions import db
from geo.io.ingest import SCOPE_FIELD, Ingestion
from geo.io.readers import rows_with_geometry
from geo.layers import LAYERS
from geo.models import Region
from geo.scope import VIEWER_PARAMETER, counted_condition
from geo.vocabulary import LEGACY_AGENCY
from tests.conftest import TEST_PASSWORD

INCIDENT = {
    "type": "Feature",
    "geometry": {"type": "Point", "coordinates": [45.0, 41.3]},  # in T-KK
    "properties": {"source": "scope-test", "external_id": "S-1",
                   "occurred_at": "2026-09-01T08:00:00Z", "category": "smuggling_tobacco",
                   "description": "SYNTHETIC scope test"},
}
IN_KA = [45.4, 41.4]
FAR_AWAY = [30.0, 10.0]


def incident(coordinates=None, **properties):
    feature = json.loads(json.dumps(INCIDENT))
    if coordinates is not None:
        feature["geometry"]["coordinates"] = coordinates
    feature["properties"].update(properties)
    return feature


def scoped_headers(session, role: str, region_codes) -> dict:
    """Bearer headers of a new ``role`` user restricted to these regions."""
    user = create_user(session, f"scoped-{role}-{uuid.uuid4().hex[:6]}", role, TEST_PASSWORD)
    user.all_regions = False  # restricted to the regions linked below
    user.regions = list(session.scalars(select(Region).where(Region.code.in_(region_codes))))
    assert len(user.regions) == len(region_codes)
    session.flush()
    _, token = create_token(session, user, "test")
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def kk(db_session, sample_layers):
    """Headers by role of users restricted to region T-KK."""
    return {role: scoped_headers(db_session, role, ["T-KK"])
            for role in ("viewer", "analyst", "supervisor")}


def count(db_session, table="incidents", where="true"):
    return db_session.execute(text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar_one()


def ids_of(response):
    assert response.status_code == 200, response.get_json()
    return sorted(f["id"] for f in response.get_json()["features"])


# --- reads ------------------------------------------------------------------------------

def test_lists_show_only_the_users_regions(client, sample_layers, kk, token_headers):
    viewer = kk["viewer"]
    assert ids_of(client.get("/api/v1/incidents", headers=viewer)) == [
        sample_layers["incidents"]["T-1"]]  # T-2 is in T-KA, T-3 in no region
    assert ids_of(client.get("/api/v1/regions", headers=viewer)) == [
        sample_layers["regions"]["T-KK"]]
    assert ids_of(client.get("/api/v1/segments", headers=viewer)) == [
        sample_layers["border_segments"]["T-AZ-001"]]
    assert ids_of(client.get("/api/v1/crossings", headers=viewer)) == [
        sample_layers["crossing_points"]["T-BCP-1"]]
    everyone = token_headers("viewer")  # unrestricted: all three
    assert len(ids_of(client.get("/api/v1/incidents", headers=everyone))) == 3


def test_exports_hold_only_the_users_regions(client, sample_layers, kk, tmp_path):
    csv_text = client.get("/api/v1/incidents?f=csv", headers=kk["viewer"]).get_data(as_text=True)
    lines = csv_text.strip().splitlines()
    assert len(lines) == 2 and ",T-1," in lines[1]
    gpkg = client.get("/api/v1/crossings?f=gpkg", headers=kk["viewer"])
    assert gpkg.status_code == 200
    path = tmp_path / "crossings.gpkg"
    path.write_bytes(gpkg.get_data())
    assert list(pyogrio.read_dataframe(path)["code"]) == ["T-BCP-1"]


def test_a_region_filter_outside_the_scope_is_403(client, sample_layers, kk):
    response = client.get("/api/v1/incidents?region=T-KA", headers=kk["viewer"])
    assert response.status_code == 403
    problem = response.get_json()
    assert problem["field"] == "region" and "T-KK" in problem["detail"]
    # A code that does not exist answers the same: other regions are not revealed.
    unknown = client.get("/api/v1/incidents?region=NOPE", headers=kk["viewer"])
    assert unknown.status_code == 403 and unknown.get_json()["field"] == "region"
    assert ids_of(client.get("/api/v1/incidents?region=T-KK", headers=kk["viewer"])) == [
        sample_layers["incidents"]["T-1"]]


def test_a_feature_outside_the_scope_is_not_found(client, sample_layers, kk):
    viewer = kk["viewer"]
    # The older names (segments, crossings) are the same layers, and answer the same.
    for path, layer, key in (
            ("incidents", "incidents", "T-2"), ("incidents", "incidents", "T-3"),
            ("regions", "regions", "T-KA"), ("border_segments", "border_segments", "T-AZ-002"),
            ("segments", "border_segments", "T-AZ-002"),
            ("crossing_points", "crossing_points", "T-BCP-2"),
            ("crossings", "crossing_points", "T-BCP-2")):
        response = client.get(f"/api/v1/{path}/{sample_layers[layer][key]}", headers=viewer)
        assert response.status_code == 404, (path, key)
        assert response.get_json()["detail"] == (
            f"no {layer} feature with id {sample_layers[layer][key]}")
    mine = client.get(f"/api/v1/incidents/{sample_layers['incidents']['T-1']}", headers=viewer)
    assert mine.status_code == 200 and mine.get_json()["properties"]["external_id"] == "T-1"


# --- writes -----------------------------------------------------------------------------

def test_create_outside_the_scope_is_403_and_writes_nothing(client, sample_layers, kk,
                                                            db_session):
    analyst = kk["analyst"]
    before = count(db_session)
    response = client.post("/api/v1/incidents", json=incident(IN_KA), headers=analyst)
    assert response.status_code == 403
    problem = response.get_json()
    assert problem["detail"] == ("feature: lies outside your regions (T-KK); "
                                 "nothing was written")
    assert problem["field"] == "scope"
    far = client.post("/api/v1/incidents", json=incident(FAR_AWAY), headers=analyst,
                      query_string={"allow_outside": "true"})
    assert far.status_code == 403
    assert "lies in no region" in far.get_json()["detail"]
    assert count(db_session) == before
    inside = client.post("/api/v1/incidents", json=incident(), headers=analyst)
    assert inside.status_code == 201
    assert inside.get_json()["properties"]["region_id"] == sample_layers["regions"]["T-KK"]
    assert count(db_session) == before + 1


def test_one_feature_outside_refuses_the_whole_collection(client, sample_layers, kk,
                                                          db_session):
    before = count(db_session)
    body = {"type": "FeatureCollection", "features": [
        incident(external_id="S-1"), incident(IN_KA, external_id="S-2"),
        incident(external_id="S-3")]}
    response = client.post("/api/v1/incidents", json=body, headers=kk["analyst"])
    assert response.status_code == 403
    problem = response.get_json()
    assert problem["detail"].startswith("features[1]: lies outside your regions (T-KK)")
    assert [e["index"] for e in problem["errors"]] == [1]
    assert count(db_session) == before


def test_dry_run_outside_the_scope_is_403_too(client, sample_layers, kk, db_session):
    before = count(db_session)
    refused = client.post("/api/v1/incidents", json=incident(IN_KA), headers=kk["analyst"],
                          query_string={"dry_run": "true"})
    assert refused.status_code == 403
    allowed = client.post("/api/v1/incidents", json=incident(), headers=kk["analyst"],
                          query_string={"dry_run": "true"})
    assert allowed.status_code == 200
    assert allowed.get_json()["inserted"] == 1 and allowed.get_json()["written"] is False
    assert count(db_session) == before


@pytest.mark.parametrize("layer, key", [("incidents", "T-2"), ("border_segments", "T-AZ-002"),
                                        ("crossing_points", "T-BCP-2")])
def test_patch_and_delete_outside_the_scope_are_404_as_get(client, sample_layers, kk,
                                                           db_session, layer, key):
    """A feature of another region is answered as one that does not exist, by every
    method: the answer does not reveal that it exists (issue 14, item 6)."""
    supervisor = kk["supervisor"]  # may write every layer, in T-KK only
    theirs = sample_layers[layer][key]  # in T-KA
    missing = 999_999
    for method, body in (("get", None), ("patch", {"properties": {"name": "x"}}),
                         ("delete", None)):
        answers = [getattr(client, method)(f"/api/v1/{layer}/{feature_id}", json=body,
                                           headers=supervisor) for feature_id in (theirs, missing)]
        assert [a.status_code for a in answers] == [404, 404], method
        details = [a.get_json()["detail"] for a in answers]
        assert details == [f"no {layer} feature with id {theirs}",
                           f"no {layer} feature with id {missing}"], method
    assert count(db_session, layer, f"id = {theirs} AND region_id = "
                                    f"{sample_layers['regions']['T-KA']}") == 1


def test_moving_a_feature_out_of_the_scope_is_403(client, sample_layers, kk, db_session):
    url = f"/api/v1/incidents/{sample_layers['incidents']['T-1']}"
    before = client.get(url, headers=kk["analyst"]).get_json()
    moved = client.patch(url, headers=kk["analyst"], json={
        "geometry": {"type": "Point", "coordinates": IN_KA}})
    assert moved.status_code == 403
    assert moved.get_json()["detail"].startswith("feature: lies outside your regions (T-KK)")
    assert client.get(url, headers=kk["analyst"]).get_json() == before
    changed = client.patch(url, headers=kk["analyst"], json={"properties": {"persons_count": 4}})
    assert changed.status_code == 200
    assert changed.get_json()["properties"]["persons_count"] == 4
    assert client.delete(url, headers=kk["analyst"]).status_code == 204


def test_import_outside_the_scope_names_the_line_and_writes_nothing(client, sample_layers,
                                                                    kk, db_session):
    rows = ("source,external_id,date,category,lon,lat\n"
            "scope-file,F-1,2026-09-01T00:00:00Z,smuggling_tobacco,45.0,41.3\n"
            "scope-file,F-2,2026-09-01T00:00:00Z,smuggling_tobacco,45.4,41.4\n")
    before = count(db_session)
    response = client.post("/api/v1/import/incidents", headers=kk["analyst"], data={
        "file": (io.BytesIO(rows.encode()), "scope.csv")})
    assert response.status_code == 403
    problem = response.get_json()
    assert problem["detail"] == ("line 3, scope: lies outside your regions (T-KK); "
                                 "nothing was written")
    assert problem["report"]["written"] is False
    assert count(db_session) == before


def test_import_over_a_stored_feature_of_another_region_is_409_saying_nothing_of_it(
        client, sample_layers, kk, db_session):
    # T-2 (in T-KA) re-imported at a point inside T-KK would move it into the scope.
    rows = ("source,external_id,date,category,lon,lat\n"
            "test,T-2,2026-09-01T00:00:00Z,smuggling_tobacco,45.0,41.3\n")
    response = client.post("/api/v1/import/incidents", headers=kk["analyst"], data={
        "file": (io.BytesIO(rows.encode()), "scope.csv")})
    assert response.status_code == 409
    assert response.get_json()["detail"] == ("line 2, key: source + external_id already "
                                             "exists; nothing was written")
    assert response.get_json()["report"]["errors"] == [
        {"line": 2, "field": "key", "message": "source + external_id already exists"}]
    assert "T-KA" not in response.get_data(as_text=True)
    assert count(db_session, where="external_id = 'T-2' AND region_id = "
                 f"{sample_layers['regions']['T-KA']}") == 1


def test_create_with_the_key_of_another_regions_feature_is_409_without_its_id(
        client, sample_layers, kk, db_session):
    """The id of a feature in the caller's regions is named; one outside is not."""
    analyst = kk["analyst"]
    outside = client.post("/api/v1/incidents", headers=analyst,
                          json=incident(source="test", external_id="T-2"))
    assert outside.status_code == 409
    assert outside.get_json()["detail"] == "properties.key: source + external_id already exists"
    assert outside.get_json()["errors"][0]["message"] == "source + external_id already exists"
    inside = client.post("/api/v1/incidents", headers=analyst,
                         json=incident(source="test", external_id="T-1"))
    assert inside.status_code == 409
    assert inside.get_json()["detail"] == ("properties.key: source + external_id already "
                                           f"exists as id {sample_layers['incidents']['T-1']}")
    # A PATCH that takes another region's key: the same answer.
    mine = f"/api/v1/incidents/{sample_layers['incidents']['T-1']}"
    renamed = client.patch(mine, headers=analyst, json={"properties": {"external_id": "T-2"}})
    assert renamed.status_code == 409
    assert renamed.get_json()["detail"] == "properties.key: source + external_id already exists"


def test_reference_layers_in_and_out_of_the_scope(client, sample_layers, kk, db_session):
    supervisor = kk["supervisor"]
    segment = {"type": "Feature",
               "properties": {"code": "T-AZ-009", "name": "New (synthetic)", "kind": "land",
                              "neighbour_country": "AZ"},
               "geometry": {"type": "LineString", "coordinates": [[45.3, 41.3], [45.5, 41.3]]}}
    assert client.post("/api/v1/segments", json=segment, headers=supervisor).status_code == 403
    assert count(db_session, "border_segments", "code = 'T-AZ-009'") == 0
    segment["geometry"]["coordinates"] = [[44.85, 41.25], [44.95, 41.25]]
    created = client.post("/api/v1/segments", json=segment, headers=supervisor)
    assert created.status_code == 201
    assert created.get_json()["properties"]["region_id"] == sample_layers["regions"]["T-KK"]


def test_a_scoped_user_cannot_write_regions(client, sample_layers, kk, db_session):
    supervisor = kk["supervisor"]
    mine = f"/api/v1/regions/{sample_layers['regions']['T-KK']}"
    region = {"type": "Feature", "properties": {"code": "T-NEW", "name_en": "New",
                                                "name_ka": "ა"},
              "geometry": {"type": "Polygon", "coordinates": [[[44.9, 41.3], [45.0, 41.3],
                                                               [45.0, 41.4], [44.9, 41.3]]]}}
    for response in (
            client.post("/api/v1/regions", json=region, headers=supervisor),
            client.patch(mine, json={"properties": {"name_en": "Renamed"}}, headers=supervisor),
            client.delete(mine, headers=supervisor),
            client.post("/api/v1/import/regions", headers=supervisor, data={
                "file": (io.BytesIO(json.dumps(region).encode()), "r.geojson")})):
        assert response.status_code == 403
        assert response.get_json()["detail"].startswith("regions: a user restricted")
    assert count(db_session, "regions") == 2


def test_the_ingestion_undoes_a_write_outside_the_scope_it_is_given(db_session, sample_layers,
                                                                    analysis_srid):
    """geo.io.ingest on its own (no Flask): the scope ids are passed in, the derived region
    is checked after the write, and the write is undone before the caller decides."""
    frame, parse_errors = rows_with_geometry([incident(external_id="G-1"),
                                              incident(IN_KA, external_id="G-2")])
    ingestion = Ingestion(db_session, LAYERS["incidents"], mode="create",
                          analysis_srid=analysis_srid,
                          scope_region_ids=frozenset({sample_layers["regions"]["T-KK"]}))
    ingestion.add(frame, parse_errors=parse_errors)
    report = ingestion.finish()
    assert report.forbidden and not report.written and report.ids == []
    assert [(e.row, e.field) for e in report.permission_errors] == [(1, SCOPE_FIELD)]
    assert report.error_count == 1 and report.inserted == 0
    assert count(db_session, where="source = 'scope-test'") == 0


# --- the status rule -----------------------------------------------------------------

def test_only_a_supervisor_validates_or_closes(client, sample_layers, token_headers,
                                               db_session):
    analyst, supervisor = token_headers("analyst"), token_headers("supervisor")
    before = count(db_session)
    response = client.post("/api/v1/incidents", json=incident(status="validated"),
                           headers=analyst)
    assert response.status_code == 403
    problem = response.get_json()
    assert problem["field"] == "status"
    assert problem["detail"] == ("properties.status: setting the status to 'validated' "
                                 "needs the supervisor role or higher; nothing was written")
    assert count(db_session) == before
    draft = f"/api/v1/incidents/{sample_layers['incidents']['T-2']}"
    closing = client.patch(draft, json={"properties": {"status": "closed"}}, headers=analyst)
    assert closing.status_code == 403 and closing.get_json()["field"] == "status"
    assert count(db_session, where="external_id = 'T-2' AND status = 'draft'") == 1
    assert client.patch(draft, json={"properties": {"status": "closed"}},
                        headers=supervisor).get_json()["properties"]["status"] == "closed"
    assert client.post("/api/v1/incidents", json=incident(status="validated"),
                       headers=supervisor).status_code == 201


def test_an_analyst_edits_a_validated_incident_but_cannot_unvalidate_it(client, sample_layers,
                                                                       token_headers):
    analyst = token_headers("analyst")
    validated = f"/api/v1/incidents/{sample_layers['incidents']['T-1']}"
    edit = client.patch(validated, json={"properties": {"persons_count": 3}}, headers=analyst)
    assert edit.status_code == 200 and edit.get_json()["properties"]["status"] == "validated"
    back = client.patch(validated, json={"properties": {"status": "draft"}}, headers=analyst)
    assert back.status_code == 403
    assert back.get_json()["detail"].startswith(
        "properties.status: changing the status of a validated incident needs the "
        "supervisor role")


def test_an_import_that_validates_needs_a_supervisor(client, sample_layers, token_headers,
                                                     db_session):
    rows = ("source,external_id,date,category,status,lon,lat\n"
            "status-file,V-1,2026-09-01T00:00:00Z,smuggling_tobacco,draft,45.0,41.3\n"
            "status-file,V-2,2026-09-01T00:00:00Z,smuggling_tobacco,closed,45.0,41.3\n")

    def upload(headers):
        return client.post("/api/v1/import/incidents", headers=headers, data={
            "file": (io.BytesIO(rows.encode()), "status.csv")})

    refused = upload(token_headers("analyst"))
    assert refused.status_code == 403
    assert refused.get_json()["detail"] == (
        "line 3, status: setting the status to 'closed' needs the supervisor role or "
        "higher; nothing was written")
    assert count(db_session, where="source = 'status-file'") == 0
    assert upload(token_headers("supervisor")).get_json()["inserted"] == 2


# --- analyses on the demo (committed: the users are made on its own database) -------------

@pytest.fixture(scope="module")
def demo_scoped(demo_app):
    """The demo app and headers of viewers restricted to one region (GE-KK) and to two."""
    app = demo_app[0]
    with app.app_context():
        one = scoped_headers(db.session, "viewer", ["GE-KK"])
        two = scoped_headers(db.session, "supervisor", ["GE-KK", "GE-SJ"])
        db.session.commit()
        section_elsewhere = db.session.execute(text(
            "SELECT s.id FROM border_segments AS s JOIN regions AS r ON r.id = s.region_id "
            "WHERE r.code <> 'GE-KK' ORDER BY s.id LIMIT 1")).scalar_one()
        section_mine = db.session.execute(text(
            "SELECT s.id FROM border_segments AS s JOIN regions AS r ON r.id = s.region_id "
            "WHERE r.code = 'GE-KK' ORDER BY s.id LIMIT 1")).scalar_one()
        db.session.remove()
    return app.test_client(), {"one": one, "two": two}, section_mine, section_elsewhere


MONTH = "2026-06-01T00:00:00Z/2026-06-29T23:59:59Z"
YEAR = "2025-06-30T00:00:00Z/2026-06-30T00:00:00Z"


@pytest.mark.parametrize("url", [
    f"/api/v1/hotspots?datetime={YEAR}&cell_size=5000",
    f"/api/v1/hotspots/emerging?datetime={YEAR}&cell_size=5000",
    f"/api/v1/hotspots/evaluate?train={YEAR}&test={MONTH}&cell_size=5000",
    f"/api/v1/risk/segments?datetime={MONTH}",
    f"/api/v1/alerts?datetime={MONTH}",
    f"/api/v1/reports/bulletin?datetime={MONTH}",
])
def test_analyses_refuse_another_region_and_need_one_of_several(demo_scoped, url):
    http, headers, _, _ = demo_scoped
    other = http.get(f"{url}&region=GE-AJ", headers=headers["one"])
    assert other.status_code == 403
    assert other.get_json()["field"] == "region"
    assert other.get_json()["detail"] == "region: 'GE-AJ' is not one of your regions (GE-KK)"
    several = http.get(url, headers=headers["two"])
    if "/hotspots" in url:
        # a hot-spot analysis runs over a study area of any regions: all of theirs
        assert several.status_code == 200, several.get_json()
        area = several.get_json()["metadata"]["study_area"]
        assert area["regions"] == ["GE-KK", "GE-SJ"]
        return
    assert several.status_code == 422
    assert several.get_json()["detail"] == ("region: is required: you work in several "
                                            "regions; give one of GE-KK, GE-SJ")


def test_the_ranking_defaults_to_the_users_only_region(demo_scoped):
    http, headers, _, _ = demo_scoped
    body = http.get(f"/api/v1/risk/segments?datetime={MONTH}", headers=headers["one"]).get_json()
    assert body["region"] == "GE-KK"
    alerts = http.get(f"/api/v1/alerts?datetime={MONTH}", headers=headers["one"]).get_json()
    assert alerts["region"] == "GE-KK"


def test_hotspots_of_a_scoped_user_count_only_their_incidents(demo_scoped, demo_app):
    http, headers, _, _ = demo_scoped
    by_default = http.get(f"/api/v1/hotspots?datetime={YEAR}&cell_size=5000",
                          headers=headers["one"])
    assert by_default.status_code == 200
    assert by_default.get_json()["metadata"]["study_area"]["regions"] == ["GE-KK"]
    # the country's code is the country as far as the user may see: their regions
    country = http.get(f"/api/v1/hotspots?region=GE&datetime={YEAR}&cell_size=5000",
                       headers=headers["one"])
    assert country.get_json()["metadata"]["study_area"]["regions"] == ["GE-KK"]
    assert country.get_json()["metadata"]["cells"] == by_default.get_json()["metadata"]["cells"]
    # A bbox over all of Georgia is clipped to GE-KK: every incident of GE-KK counts.
    bbox = http.get(f"/api/v1/hotspots?datetime={YEAR}&cell_size=5000&bbox=40.0,41.0,46.8,43.6",
                    headers=headers["one"])
    assert bbox.status_code == 200
    counted = sum(f["properties"]["count"] for f in bbox.get_json()["features"])
    with demo_app[0].app_context():
        expected = db.session.execute(text(
            "SELECT count(*) FROM incidents AS i JOIN regions AS r ON r.id = i.region_id "
            "WHERE r.code = 'GE-KK' AND i.occurred_at BETWEEN :start AND :end "
            "AND ST_Intersects(i.geom, ST_MakeEnvelope(40.0, 41.0, 46.8, 43.6, 4326)) "
            f"AND {counted_condition('i.')}"),  # what the user's agency (GBP) may count
            {"start": "2025-06-30T00:00:00Z", "end": "2026-06-30T00:00:00Z",
             VIEWER_PARAMETER: LEGACY_AGENCY}).scalar_one()
        db.session.remove()
    assert 0 < counted == expected


def test_sections_and_assessments_of_another_region_are_not_found(demo_scoped, demo_app):
    http, headers, mine, elsewhere = demo_scoped
    assert http.get(f"/api/v1/risk/segments/{elsewhere}/history",
                    headers=headers["one"]).status_code == 404
    assert http.get(f"/api/v1/risk/segments/{mine}/history",
                    headers=headers["one"]).status_code == 200
    decision = {"level": "high", "justification": "Scope test: not theirs to decide."}
    assert http.patch(f"/api/v1/risk/segments/{elsewhere}/level", json=decision,
                      headers=headers["two"]).status_code == 404
    stored = http.post("/api/v1/risk/assessments", json={"region": "GE-SJ", "datetime": MONTH},
                       headers=headers["two"])
    assert stored.status_code == 201
    assert http.get(stored.headers["Location"], headers=headers["one"]).status_code == 404
    assert http.get(stored.headers["Location"], headers=headers["two"]).status_code == 200
