"""schemathesis against the OpenAPI document with each role's token, and with a token of
a user restricted to one region: no 5xx, every answer documented and of its schema
(403s included: a role too low, or a region outside the caller's, is a documented
answer of every operation that can give it).

The operations are driven with Hypothesis as in tests/app/test_openapi.py (its pytest
integration does not run under pytest 9); writes land in the test's transaction and are
rolled back with it.
"""

from __future__ import annotations

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
from tests.app.test_openapi import OPENAPI_URL
from tests.conftest import TEST_PASSWORD

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
EXAMPLES_PER_OPERATION = 5
ROLES = ("viewer", "analyst", "supervisor", "admin", "regional-analyst")


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


def run_operation(operation, headers: dict, seen: list[tuple[str, int]]) -> None:
    strategy = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)

    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
              database=None, suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def call(case):
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        seen.append((case.method.upper(), response.status_code))

    call()


@pytest.mark.slow
@pytest.mark.parametrize("role", ROLES)
def test_api_conforms_to_its_document_for_each_role(app, role_token, role):
    headers = role_token(role)
    schema = schemathesis.openapi.from_wsgi(OPENAPI_URL, app, headers=dict(headers))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 20
    seen: list[tuple[str, int]] = []
    for operation in operations:
        run_operation(operation, headers, seen)
    statuses = {status for _, status in seen}
    assert 401 not in statuses  # the token was sent and accepted
    assert any(method == "GET" and status == 200 for method, status in seen)
    writes = [status for method, status in seen if method in ("POST", "PATCH", "DELETE")]
    if role == "viewer":  # refused before the request is even read
        assert writes and set(writes) == {403}, sorted(set(writes))
    else:  # an analyst or above gets past the role check (to 2xx, 404 or 422)
        assert any(status != 403 for status in writes), sorted(set(writes))
