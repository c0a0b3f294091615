"""The OpenAPI document: valid, complete, generated from the layers, and true of the app."""

import io
import json
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from app.api.openapi import openapi_document
from app.api.openapi_analysis import analysis_builders
from app.api.openapi_events import event_builders
from app.api.openapi_forecast import forecast_builders
from app.api.openapi_inbox import inbox_builders
from app.api.openapi_products import product_builders
from app.api.openapi_subscriptions import subscription_builders
from app.auth.permissions import LAYER_WRITE_ROLES
from geo import vocabulary
from geo.io.ingest import IngestReport
from geo.layers import LAYERS, get_layer

OPENAPI_URL = "/api/v1/openapi.json"
IGNORED_METHODS = {"HEAD", "OPTIONS"}



@pytest.fixture
def document(client, analyst):
    response = client.get(OPENAPI_URL, headers=analyst)
    assert response.status_code == 200
    assert response.content_type == "application/json"
    return response.get_json()


def test_document_is_valid_openapi(document):
    validate(document)  # raises OpenAPIValidationError naming the first problem
    assert document["openapi"].startswith("3.0.")


def test_document_needs_authentication(client):
    response = client.get(OPENAPI_URL)
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"


def documented_operations(app, document) -> set[tuple[str, str, str | None]]:
    """(endpoint, method, layer) of every documented operation, found by routing its path."""
    adapter = app.url_map.bind("localhost")
    found = set()
    for path, operations in document["paths"].items():
        for method in operations:
            # Raises NotFound / MethodNotAllowed for a documented operation that is no route.
            concrete = re.sub(r"\{[a-z_]+_id\}", "1", path)
            endpoint, values = adapter.match(concrete, method.upper())
            found.add((endpoint, method.upper(), values.get("layer_name")))
    return found


def test_every_api_route_is_documented(app, document):
    documented = documented_operations(app, document)
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") and rule.endpoint != "health.healthz":
            continue
        layers = list(LAYERS) if "layer_name" in rule.arguments else [None]
        routes |= {(rule.endpoint, method, layer) for method in rule.methods - IGNORED_METHODS
                   for layer in layers}
    missing = sorted(routes - documented, key=str)
    assert not missing, ("routes missing from the OpenAPI document (give each view a "
                         f"builder in app.api.openapi.operation_builders): {missing}")
    assert len(documented) == len(routes)


def test_feature_schemas_come_from_the_layers(document):
    schemas = document["components"]["schemas"]
    incidents = schemas["IncidentsProperties"]
    category = incidents["properties"]["category"]
    assert category["type"] == "string"
    assert category["enum"] == list(vocabulary.INCIDENT_CATEGORIES)  # required: no null
    assert incidents["properties"]["direction"]["enum"] == [*vocabulary.DIRECTIONS, None]
    assert incidents["properties"]["persons_count"] == {
        "type": "integer", "minimum": 0, "maximum": 100_000, "default": 0, "nullable": True}
    assert incidents["properties"]["information_credibility"]["enum"] == [1, 2, 3, 4, None]
    assert incidents["properties"]["nationality"]["pattern"] == r"^[A-Z]{2}$"
    assert incidents["properties"]["occurred_at"]["format"] == "date-time"
    assert incidents["properties"]["segment_distance_m"]["readOnly"] is True
    assert incidents["additionalProperties"] is False
    assert set(incidents["required"]) == {
        "source", "external_id", "occurred_at", "category", "region_id",
        "nearest_segment_id", "segment_distance_m", "nearest_crossing_id",
        "crossing_distance_m", "created_at", "updated_at"}
    assert "required" not in schemas["IncidentsPropertiesPatch"]
    names = {"regions": "Regions", "border_segments": "BorderSegments",
             "crossing_points": "CrossingPoints", "incidents": "Incidents"}
    for layer in LAYERS.values():
        assert list(schemas[f"{names[layer.name]}Properties"]["properties"]) == list(
            layer.readable_names)
    regions = schemas["RegionsFeature"]["properties"]["geometry"]["oneOf"]
    assert [r["$ref"].rsplit("/", 1)[1] for r in regions] == ["MultiPolygon", "Polygon"]
    polygon = schemas["MultiPolygon"]["properties"]["coordinates"]
    assert polygon["items"]["items"]["minItems"] == 4  # a ring has at least four positions
    assert list(schemas["ImportReport"]["properties"]) == list(
        IngestReport("regions", "create").as_dict())


def test_parameters_and_statuses_per_operation(document):
    incidents = document["paths"]["/api/v1/incidents"]
    parameters = {p.get("name") or p["$ref"].rsplit("/", 1)[1]: p
                  for p in incidents["get"]["parameters"]}
    assert list(parameters) == ["bbox", "datetime", "category", "outcome", "region", "status",
                                "agency",
                                "sortby", "limit", "offset", "f"]
    assert parameters["outcome"]["schema"]["items"]["enum"] == list(
        vocabulary.INCIDENT_OUTCOMES)
    assert parameters["status"]["schema"]["items"]["enum"] == list(
        vocabulary.INCIDENT_STATUSES)
    assert "-occurred_at" in parameters["sortby"]["schema"]["items"]["enum"]
    regions = document["paths"]["/api/v1/regions"]["get"]["parameters"]
    assert [p.get("name") or p["$ref"].rsplit("/", 1)[1] for p in regions] == [
        "bbox", "sortby", "limit", "offset", "f"]
    assert set(incidents["get"]["responses"]["200"]["content"]) == {
        "application/geo+json", "text/csv", "application/geopackage+sqlite3"}
    # 403: a region outside the caller's region scope; regions take no region filter.
    assert list(incidents["get"]["responses"]) == ["200", "401", "403", "422"]
    assert list(document["paths"]["/api/v1/regions"]["get"]["responses"]) == [
        "200", "401", "422"]
    assert list(incidents["post"]["responses"]) == [
        "200", "201", "400", "401", "403", "409", "413", "422"]
    assert "analyst role" in incidents["post"]["description"]
    one = document["paths"]["/api/v1/incidents/{feature_id}"]
    assert list(one["delete"]["responses"]) == ["204", "400", "401", "403", "404", "409"]
    assert list(one["get"]["responses"]) == ["200", "401", "404"]
    form = document["paths"]["/api/v1/import/incidents"]["post"]["requestBody"]["content"]
    fields = form["multipart/form-data"]["schema"]
    assert fields["required"] == ["file"]
    assert set(fields["properties"]) == {"file", "source", "crs", "format", "mapping",
                                         "dry_run", "allow_outside"}
    assert document["paths"]["/healthz"]["get"]["security"] == []
    assert document["security"] == [{"bearerAuth": []}, {"cookieSession": []}]
    problem = document["components"]["schemas"]["Problem"]["properties"]
    assert {"detail", "field", "errors", "report"} <= set(problem)


# --- real answers, including successful writes, validated against the document --------

INCIDENT = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [45.01, 41.32]},
            "properties": {"source": "openapi-test", "external_id": "O-1",
                           "occurred_at": "2026-09-01T08:00:00+04:00",
                           "category": "illegal_crossing_between_bcp", "persons_count": 3}}


def incident(external_id: str) -> dict:
    return {**INCIDENT, "properties": {**INCIDENT["properties"], "external_id": external_id}}


@pytest.fixture
def loaded_schema(app):
    # Built without a request: requests in one test share ``g`` (and so the user).
    with app.test_request_context():
        return schemathesis.openapi.from_dict(openapi_document())


def assert_conforms(loaded_schema, path: str, method: str, response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    loaded_schema[path][method].validate_response(response)  # raises FailureGroup
    return response.get_json(silent=True)


def test_answers_of_reads_conform(client, loaded_schema, sample_layers, analyst, token_headers):
    for layer in LAYERS:
        body = assert_conforms(loaded_schema, f"/api/v1/{layer}", "GET",
                               client.get(f"/api/v1/{layer}", headers=analyst), 200)
        assert body["numberReturned"] == len(sample_layers[layer]) > 0
        feature_id = next(iter(sample_layers[layer].values()))
        assert_conforms(loaded_schema, f"/api/v1/{layer}/{{feature_id}}", "GET",
                        client.get(f"/api/v1/{layer}/{feature_id}", headers=analyst), 200)
    paged = client.get("/api/v1/incidents", query_string={"limit": 1}, headers=analyst)
    assert assert_conforms(loaded_schema, "/api/v1/incidents", "GET", paged, 200)["links"]
    csv = client.get("/api/v1/incidents", query_string={"f": "csv"}, headers=analyst)
    assert_conforms(loaded_schema, "/api/v1/incidents", "GET", csv, 200)
    problem = assert_conforms(loaded_schema, "/api/v1/incidents", "GET", client.get(
        "/api/v1/incidents", query_string={"limit": 0}, headers=analyst), 422)
    assert problem["field"] == "limit"
    assert_conforms(loaded_schema, "/healthz", "GET", client.get("/healthz"), 200)


def test_refusals_conform(client, loaded_schema):
    assert_conforms(loaded_schema, "/api/v1/incidents", "GET",
                    client.get("/api/v1/incidents"), 401)
    assert_conforms(loaded_schema, "/api/v1/import/incidents", "POST",
                    client.post("/api/v1/import/incidents"), 401)


def test_answers_of_writes_conform(client, loaded_schema, sample_layers, analyst,
                                   token_headers):
    collection, one = "/api/v1/incidents", "/api/v1/incidents/{feature_id}"
    created = assert_conforms(loaded_schema, collection, "POST",
                              client.post(collection, json=incident("O-1"), headers=analyst), 201)
    both = {"type": "FeatureCollection", "features": [incident("O-2"), incident("O-3")]}
    assert_conforms(loaded_schema, collection, "POST",
                    client.post(collection, json=both, headers=analyst), 201)
    report = assert_conforms(loaded_schema, collection, "POST", client.post(
        collection, json=incident("O-4"), headers=analyst, query_string={"dry_run": "1"}), 200)
    assert report["inserted"] == 1 and report["written"] is False
    conflict = assert_conforms(loaded_schema, collection, "POST", client.post(
        collection, json=incident("O-1"), headers=analyst), 409)
    assert conflict["errors"][0]["field"] == "key"
    bad = incident("O-5")
    bad["properties"]["category"] = "weather"
    invalid = assert_conforms(loaded_schema, collection, "POST",
                              client.post(collection, json=bad, headers=analyst), 422)
    assert invalid["errors"][0]["pointer"] == "properties.category"
    assert_conforms(loaded_schema, collection, "POST",
                    client.post(collection, data="{", headers=analyst), 400)
    assert_conforms(loaded_schema, collection, "POST", client.post(
        collection, json=incident("O-6"), headers=token_headers("viewer")), 403)

    path = f"/api/v1/incidents/{created['id']}"
    changed = assert_conforms(loaded_schema, one, "PATCH", client.patch(
        path, json={"properties": {"persons_count": 4}}, headers=analyst), 200)
    assert changed["properties"]["persons_count"] == 4
    assert_conforms(loaded_schema, one, "PATCH", client.patch(
        path, json={"properties": {"persons_count": 5}}, headers=analyst,
        query_string={"dry_run": "true"}), 200)
    assert_conforms(loaded_schema, one, "DELETE", client.delete(path, headers=analyst), 204)
    assert_conforms(loaded_schema, one, "DELETE", client.delete(path, headers=analyst), 404)


def test_answers_of_imports_conform(client, loaded_schema, sample_layers, analyst):
    path = "/api/v1/import/incidents"
    features = {"type": "FeatureCollection", "features": [incident("I-1"), incident("I-2")]}
    upload = json.dumps(features).encode()
    report = assert_conforms(loaded_schema, path, "POST", client.post(path, headers=analyst, data={
        "file": (io.BytesIO(upload), "incidents.geojson"), "dry_run": "true"}), 200)
    assert report["rows"] == 2 and report["inserted"] == 2
    features["features"][1]["properties"]["persons_count"] = -1
    upload = json.dumps(features).encode()
    problem = assert_conforms(loaded_schema, path, "POST", client.post(path, headers=analyst, data={
        "file": (io.BytesIO(upload), "incidents.geojson")}), 422)
    assert problem["report"]["errors"] == [
        {"feature": 2, "field": "persons_count", "message": "-1 is negative"}]


# Bugs schemathesis found in app/api, fixed there: each answered 500.
@pytest.mark.parametrize(("path", "query", "field"), [
    ("/api/v1/incidents", {"region": "T-KK\x00"}, "region"),  # NUL reached psycopg2
    ("/api/v1/hotspots", {"region": "T-KK\x00"}, "region"),
    ("/api/v1/risk/segments", {"region": "\x00"}, "region"),
    ("/api/v1/incidents", {"crs": "EPSG:\u00b2"}, "crs"),  # a digit int() refuses
    ("/api/v1/incidents", {"crs": "EPSG:4978"}, "crs"),  # geocentric: not x/y
])
def test_parameters_that_answered_500(client, sample_layers, analyst, path, query, field):
    method = client.get if "region" in query else client.post
    if path != "/api/v1/incidents":
        method = client.get
    response = method(path, query_string=query, headers=analyst, json=INCIDENT)
    assert response.status_code == 422
    assert response.get_json()["field"] == field


# --- schemathesis: generated requests against the app, on the test database ------------
# Its pytest integration (``schemathesis.pytest.from_fixture``) does not run under pytest
# 9 (it sets ``request.node._nodeid``), so the operations are driven here with Hypothesis.

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
EXAMPLES_PER_OPERATION = 10


def run_operation(operation, mode: GenerationMode, headers: dict) -> None:
    strategy = operation.as_strategy(generation_mode=mode)

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
              database=None, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def call(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    call()


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_document(app, sample_layers, token_headers, mode):
    # A supervisor may call every operation (an analyst gets 403 writing the reference
    # layers, which would leave their writes untried).
    analyst = token_headers("supervisor")
    schema = schemathesis.openapi.from_wsgi(OPENAPI_URL, app, headers=dict(analyst))
    operations = [result.ok() for result in schema.get_all_operations()]
    # Six per layer, docs, health, an import job, four of agencies, and the planner and
    # risk operations, the change feed's, the forecast's, the inbox's and the webhook
    # subscriptions'
    # (schemathesis leaves out the document's own path).
    assert len(operations) == (len(LAYERS) * 6 + 3 + 4 + len(analysis_builders())
                               + len(event_builders()) + len(forecast_builders())
                               + len(product_builders())
                               + len(inbox_builders()) + len(subscription_builders()))
    for operation in operations:
        if mode == GenerationMode.NEGATIVE and not (
                operation.query or operation.path_parameters or operation.body):
            continue  # nothing to make invalid
        run_operation(operation, mode, analyst)


# Inputs that once answered 500 (found by the schemathesis run): each is now a clear 422.
CROSSING = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [45.01, 41.32]},
            "properties": {"code": "BUG-1", "name": "Known bug", "kind": "road"}}
YEAR_0_INCIDENT = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [45.01, 41.32]},
            "properties": {"source": "bug", "external_id": "B-1", "category": "other",
                           "occurred_at": "0001-01-01T00:00:00+01:00"}}
# Each case: the path, the body, and the answer it must get now: 200 (a dry run that
# would insert the one feature) or 422 with the detail naming the field.
ONCE_500 = {
    "nul_in_text": ("crossings", {**CROSSING, "properties": {**CROSSING["properties"],
                                                             "name": "a\x00b"}},
                    422, "properties.name: contains a NUL character (\\u0000)"),
    "altitude": ("crossings", {**CROSSING, "geometry": {"type": "Point",
                                                        "coordinates": [45.01, 41.32, 5]}},
                 200, None),
    "year_0_in_utc": ("incidents", YEAR_0_INCIDENT, 422,
                      "properties.occurred_at: '0001-01-01T00:00:00+01:00' is before "
                      "1900-01-01"),
    "empty_csv": ("import/crossings", b"", 422,
                  "file: the CSV is empty: it needs a header line and rows"),
    "geojson_features_not_a_list": ("import/crossings",
                                    b'{"type": "FeatureCollection", "features": 5}', 422,
                                    "file: the FeatureCollection's features must be an array"),
}


@pytest.mark.parametrize("name", ONCE_500)
def test_inputs_that_once_answered_500(client, sample_layers, token_headers, name):
    path, body, status, detail = ONCE_500[name]
    # The role that may write the layer: crossing points are the supervisors'.
    analyst = token_headers(LAYER_WRITE_ROLES[get_layer(path.removeprefix("import/")).name])
    if isinstance(body, bytes):
        extension = "geojson" if body.startswith(b"{") else "csv"
        response = client.post(f"/api/v1/{path}", headers=analyst, data={
            "file": (io.BytesIO(body), f"upload.{extension}"), "dry_run": "true"})
    else:
        response = client.post(f"/api/v1/{path}", json=body, headers=analyst,
                               query_string={"dry_run": "true"})
    assert response.status_code == status, response.get_data(as_text=True)
    answer = response.get_json()
    if status == 200:  # a dry run: valid, counted, nothing written
        assert answer["dry_run"] is True and answer["written"] is False
        assert (answer["inserted"], answer["error_count"]) == (1, 0)
    else:
        assert answer["detail"] == detail


def test_emerging_hot_spots_by_section_conform(client, loaded_schema, document, db_session,
                                               analysis_srid, analyst):
    from geo.hotspots import cache
    from testsupport.sections import load_sections_case

    emerging = document["paths"]["/api/v1/hotspots/emerging"]["get"]
    unit = next(p for p in emerging["parameters"] if p.get("name") == "unit")
    assert unit["schema"] == {"type": "string", "enum": ["cell", "section"], "default": "cell"}
    assert "count_trend_tau" in emerging["responses"]["200"]["description"]
    load_sections_case(db_session, analysis_srid)
    cache.CACHE.clear()
    body = assert_conforms(loaded_schema, "/api/v1/hotspots/emerging", "GET", client.get(
        "/api/v1/hotspots/emerging", headers=analyst, query_string={
            "unit": "section", "datetime": "2025-01-01T00:00:00Z/2025-04-30T23:59:59Z"}), 200)
    assert body["metadata"]["unit"] == "section"
    problem = assert_conforms(loaded_schema, "/api/v1/hotspots/emerging", "GET", client.get(
        "/api/v1/hotspots/emerging", headers=analyst, query_string={"unit": "road"}), 422)
    assert problem["field"] == "unit"
    cache.CACHE.clear()


def test_emerging_hot_spots_say_their_default_window(client, loaded_schema, document,
                                                     db_session, analysis_srid, analyst,
                                                     freeze_clock):
    from geo import clock
    from geo.hotspots import cache
    from testsupport.sections import load_sections_case

    def described(path: str) -> str:
        parameters = document["paths"][path]["get"]["parameters"]
        return next(p for p in parameters if p.get("name") == "datetime")["description"]

    emerging = described("/api/v1/hotspots/emerging")
    assert "Absent: the 12 calendar months (UTC) ending with the default analysis period " \
           "of /hotspots (the last complete calendar month" in emerging
    assert "metadata.period gives the window used" in emerging
    assert "12 calendar months" not in described("/api/v1/hotspots")
    load_sections_case(db_session, analysis_srid)
    freeze_clock(clock.parse_moment("2025-05-02T00:00:00Z"))
    cache.CACHE.clear()
    body = assert_conforms(loaded_schema, "/api/v1/hotspots/emerging", "GET", client.get(
        "/api/v1/hotspots/emerging", headers=analyst, query_string={"unit": "section"}), 200)
    assert body["metadata"]["period"] == ["2024-05-01T00:00:00+00:00",
                                          "2025-04-30T23:59:59.999999+00:00"]
    assert body["metadata"]["steps"] == 12
    cache.CACHE.clear()
