"""schemathesis against the OpenAPI document with each role's token, and with a token of
a user restricted to one region: no 5xx, every answer documented and of its schema
(403s included: a role too low, or a region outside the caller's, is a documented
answer of every operation that can give it).

The operations are driven with Hypothesis as in tests/app/api/test_openapi.py (its pytest
integration does not run under pytest 9); writes land in the test's transaction and are
rolled back with it.
"""

from __future__ import annotations

import copy

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from app.auth.tokens import create_token
from app.auth.users import create_user
from tests.app.api.test_openapi import OPENAPI_URL
from tests.conftest import TEST_PASSWORD

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
EXAMPLES_PER_OPERATION = 5
ROLES = ("viewer", "analyst", "supervisor", "admin", "regional-analyst")
OWN_PATHS = ("/api/v1/notifications", "/api/v1/me/")


@pytest.fixture
def role_token(db_session, sample_layers):
    def _headers(role: str) -> dict:
        regions = ()
        if role.startswith("regional-"):
            role, regions = role.removeprefix("regional-"), ("T-KK",)
        user = create_user(db_session, f"st-{role}-{len(regions)}", role, TEST_PASSWORD,
                           region_codes=regions)
        _, token = create_token(db_session, user, "schemathesis")
        db_session.flush()
        return {"Authorization": f"Bearer {token}"}

    return _headers


def run_operation(operation, headers: dict, seen: list[tuple[str, int, str]]) -> None:
    strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
              database=None, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def call(case):
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        seen.append((case.method.upper(), response.status_code, operation.path))

    call()


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_api_conforms_to_its_document_for_each_role(app, role_token, role):
    headers = role_token(role)
    schema = schemathesis.openapi.from_wsgi(OPENAPI_URL, app, headers=dict(headers))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    seen: list[tuple[str, int, str]] = []
    for operation in operations:
        run_operation(operation, headers, seen)
    statuses = {status for _, status, _ in seen}
    assert 401 not in statuses  # the token was sent and accepted
    assert any(method == "GET" and status == 200 for method, status, _ in seen)
    # Every caller keeps their own inbox (marks read, sets their e-mail): not a write of
    # data, open to viewers.
    writes = [status for method, status, path in seen if method in ("POST", "PATCH", "DELETE")
              and not path.startswith(OWN_PATHS)]
    if role == "viewer":  # refused before the request is even read
        assert writes and set(writes) == {403}, sorted(set(writes))
    else:  # an analyst or above gets past the role check (to 2xx, 404 or 422)
        assert any(status != 403 for status in writes), sorted(set(writes))


# --- hostile values in every parameter and body field (issue 14 item 5) -----------------
# Schemathesis draws one valid request per operation; each parameter and each body field
# the document names is then replaced, one at a time, by a value that broke the service
# before: numbers past PostgreSQL's integer and float ranges and past int()'s 4,300
# digits, NUL, a lone surrogate (sent as JSON's "\ud800"), nesting beyond 32 levels.

def _nested(levels: int):
    value: list | int = 1
    for _ in range(levels):
        value = [value]
    return value


HOSTILE_PARAMETERS = ["9" * 400, "9" * 5000, "-" + "9" * 400, "\x00", "T-KK\x00", "1e999999"]
HOSTILE_PATH_IDS = ["9" * 400, "9" * 5000, str(2**31), str(2**63)]
HOSTILE_BODY_VALUES = [10**400, -(10**400), 2**31, 1.7976931348623157e308, "9" * 400,
                       "a\x00b", "a\ud800b", _nested(40), {"deep": _nested(40)}]


def _resolve(document: dict, item: dict) -> dict:
    while "$ref" in item:
        node = document
        for part in item["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        item = node
    return item


def body_fields(document: dict, schema: dict, prefix: str = "") -> list[str]:
    """Dotted names of a JSON body's fields: its properties, and those of its
    ``properties`` member (a GeoJSON Feature's), as the document declares them."""
    schema = _resolve(document, schema)
    if "oneOf" in schema:
        schema = _resolve(document, schema["oneOf"][0])
    names = []
    for name, member in schema.get("properties", {}).items():
        names.append(prefix + name)
        member = _resolve(document, member)
        if name == "properties" and "properties" in member:
            names += body_fields(document, member, prefix + "properties.")
    return names + ([prefix + "geometry.coordinates"] if "geometry" in names else [])


def with_value(body, path: str, value):
    """A copy of ``body`` with the dotted ``path`` set (inside the first feature of a
    collection), intermediate objects made as needed."""
    body = copy.deepcopy(body) if isinstance(body, dict) else {}
    if isinstance(body.get("features"), list) and body["features"]:
        body["features"][0] = with_value(body["features"][0], path, value)
        return body
    node = body
    *parents, last = path.split(".")
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[last] = value
    return body


# Valid values put in the drawn request first, so that a hostile value in one field
# reaches the code behind the checks of the others (a random datetime would stop it).
GOOD_VALUES = {"datetime": "2026-09-01T00:00:00Z/2026-10-31T00:00:00Z", "region": "T-KK",
               "justification": "a level set for the hostile-value run", "level": "high"}


def good_case(document: dict, operation, case, ids: dict[str, dict[str, int]]):
    """``case`` with the GOOD_VALUES of its query and body, and path ids that exist."""
    path_parameters, query = dict(case.path_parameters or {}), dict(case.query or {})
    layer = (operation.path.split("/") + ["", "", "", ""])[3]  # /api/v1/<layer>/...
    layer_ids = ids.get({"risk": "border_segments"}.get(layer, layer), {})
    for name in path_parameters:
        if layer_ids:
            path_parameters[name] = next(iter(layer_ids.values()))
    raw = document["paths"][operation.path][operation.method.lower()]
    for parameter in (_resolve(document, p) for p in raw.get("parameters", [])):
        if parameter["in"] == "query" and parameter["name"] in GOOD_VALUES:
            query[parameter["name"]] = GOOD_VALUES[parameter["name"]]
    body = case.body
    if isinstance(body, dict) and "type" not in body:  # the risk bodies, not GeoJSON
        body = {**body, **{k: v for k, v in GOOD_VALUES.items()
                           if k in ("datetime", "region", "justification", "level")}}
    return operation.Case(path_parameters=path_parameters, query=query, body=body,
                          media_type=case.media_type)


def hostile_cases(document: dict, operation, case):
    """``(what, case)`` for each hostile value in each parameter and body field."""
    raw = document["paths"][operation.path][operation.method.lower()]
    for parameter in (_resolve(document, p) for p in raw.get("parameters", [])):
        name, where = parameter["name"], parameter["in"]
        values = HOSTILE_PATH_IDS if where == "path" else HOSTILE_PARAMETERS
        for value in values:
            path_parameters, query = dict(case.path_parameters or {}), dict(case.query or {})
            (path_parameters if where == "path" else query)[name] = value
            yield (f"{where} {name}={value[:12]!r}",
                   operation.Case(path_parameters=path_parameters, query=query,
                                  body=case.body, media_type=case.media_type))
    content = raw.get("requestBody", {}).get("content", {})
    if case.media_type and "json" in case.media_type and case.media_type in content:
        for field in body_fields(document, content[case.media_type]["schema"]):
            for value in HOSTILE_BODY_VALUES:
                yield (f"body {field}={str(value)[:12]!r}",
                       operation.Case(path_parameters=case.path_parameters,
                                      query=case.query, media_type=case.media_type,
                                      body=with_value(case.body, field, value)))


def run_hostile_cases(document: dict, operation, headers: dict, ids: dict,
                      tried: list[int], failures: list[str]) -> None:
    @settings(max_examples=1, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def call(case):
        for what, hostile in hostile_cases(document, operation,
                                           good_case(document, operation, case, ids)):
            response = hostile.call(headers=headers)
            tried.append(response.status_code)
            if response.status_code >= 500 or "Retry-After" in response.headers:
                failures.append(f"{operation.method.upper()} {operation.path} {what}: "
                                f"{response.status_code} {response.text[:160]}")

    call()


@pytest.mark.slow
def test_hostile_values_in_every_parameter_and_body_field_are_4xx(app, client, role_token,
                                                                 sample_layers):
    """No 5xx (nor 503 with Retry-After: clients would retry forever) for any of them."""
    headers = role_token("admin")
    document = client.get(OPENAPI_URL, headers=headers).get_json()
    schema = schemathesis.openapi.from_wsgi(OPENAPI_URL, app, headers=dict(headers))
    failures: list[str] = []
    tried: list[int] = []
    for result in schema.get_all_operations():
        run_hostile_cases(document, result.ok(), headers, sample_layers, tried, failures)
    assert len(tried) > 500
    assert sum(400 <= status < 500 for status in tried) > 0.9 * len(tried)
    assert not failures, "\n".join(sorted(set(failures))[:40])
