"""The access matrix, generated from the app's URL map: every route x method x caller.

Callers: anonymous, a viewer, an analyst, a supervisor, an admin, and a viewer restricted
to another region (T-KA; the URLs name objects of T-KK). What each may do comes from
``app.auth.permissions`` (``required_role``: ENDPOINT_ROLES, and LAYER_WRITE_ROLES for
layer writes), so the matrix follows the table; what is checked is that the app agrees:

- anonymous: refused (401, or for a browser page a redirect to the login page) unless
  the endpoint is PUBLIC;
- a role below the endpoint's: 403; at or above: anything but 401, 403 and 5xx (the
  request may still be invalid: an empty body gives 400 or 422, not an access answer);
- the other region's viewer: as a viewer, except that a read naming an object of T-KK
  (a feature, a section, an assessment) is 404, as if it did not exist.

URLs are built from the sample data: real ids for ``<int:...>`` arguments, every layer
name of an ``any(...)`` converter, a tile over T-KK for ``.mvt``. A rule with an argument
this module cannot fill fails the test naming it: add the argument to ``ARGUMENTS`` or
the endpoint to ``ENDPOINT_ARGUMENTS``. Requests run in the order GET, POST, PATCH, DELETE
so that the writes (which may succeed: deleting a feature as a supervisor) come last.
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, text
from werkzeug.routing import AnyConverter, Map, Rule

from app.auth.models import UserSession
from app.auth.permissions import ENDPOINT_ROLES, PUBLIC, required_role
from app.auth.sessions import start_session
from app.auth.tokens import create_token
from app.auth.users import create_user
from app.extensions import db
from geo.layers import COLLECTIONS, TILE_LAYERS, get_layer
from geo.models import Region, RiskAssessment
from geo.vocabulary import ROLES
from tests.conftest import TEST_PASSWORD, committed_sample_layers

METHODS = ("GET", "POST", "PATCH", "DELETE")  # in this order: writes last
ROLE_CALLERS = ("viewer", "analyst", "supervisor", "admin")
OTHER_REGION = "other-region viewer"
CALLERS = (OTHER_REGION, "anonymous", *ROLE_CALLERS)
# The sample objects (tests/data/sample_layers.geojson) the URLs name: all in T-KK.
IN_KK = {"regions": "T-KK", "border_segments": "T-AZ-001", "crossing_points": "T-BCP-1",
         "incidents": "T-1"}
# URL arguments that name an object of T-KK: the other region's viewer may not read it.
SCOPED_ARGUMENTS = frozenset({"feature_id", "section_id", "assessment_id", "schedule_id",
                              "bulletin_id"})


def tile_over(lon: float, lat: float, z: int) -> tuple[int, int]:
    """(x, y) of the web-mercator tile at zoom ``z`` holding the point."""
    n = 2 ** z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


TILE_Z = 10
TILE_X, TILE_Y = tile_over(45.0, 41.33, TILE_Z)  # incident T-1, in T-KK

def feature_in_kk(ids: dict, layer: str) -> int:
    """The id of the sample feature of ``layer`` that lies in T-KK."""
    return ids[layer][IN_KK[layer]]


# Values of URL arguments by name: a function of the objects (``ids``) and of the
# arguments already chosen (``chosen``, e.g. the layer of a feature id).
ARGUMENTS = {
    "feature_id": lambda ids, chosen: feature_in_kk(ids, get_layer(chosen["layer_name"]).name),
    "section_id": lambda ids, chosen: ids["border_segments"]["T-AZ-001"],
    "assessment_id": lambda ids, chosen: ids["assessment"],
    "schedule_id": lambda ids, chosen: ids["schedule"],
    "bulletin_id": lambda ids, chosen: ids["bulletin"],
    "fmt": lambda ids, chosen: "pdf",
    "user_id": lambda ids, chosen: ids["target_user"],
    "token_id": lambda ids, chosen: ids["target_token"],
    "session_id": lambda ids, chosen: ids["target_session"],
    "path": lambda ids, chosen: "no-such-page",
    # An import job is its owner's (404 to others: tests/app/api/test_import_jobs.py).
    "job_id": lambda ids, chosen: 2_000_000_000,
    "code": lambda ids, chosen: "PPD",  # an agency
    # A notification is its user's (404 to others: tests/app/inbox).
    "notification_id": lambda ids, chosen: 2_000_000_000,
    # A subscription is its owner's (404 to others: tests/app/webhooks).
    "subscription_id": lambda ids, chosen: 2_000_000_000,
    "delivery_id": lambda ids, chosen: str(uuid.UUID(int=1)),
    "event_type": lambda ids, chosen: "incident.created",
}
# Endpoints whose arguments are not of the generic kinds: each gives the argument sets.
ENDPOINT_ARGUMENTS = {
    "static": lambda ids: [{"filename": "css/app.css"}],
    "ui.asset": lambda ids: [{"version": "0", "filename": "css/app.css"}],
    "ui.vendor": lambda ids: [{"package": "leaflet", "filename": "leaflet.js"}],
    "ogc.tilejson": lambda ids: [{"layer_name": name} for name in TILE_LAYERS],
    "ogc.vector_tile": lambda ids: [{"layer_name": name, "z": TILE_Z, "x": TILE_X,
                                     "y": TILE_Y} for name in TILE_LAYERS],
    "ogc.tile_directory_metadata": lambda ids: [{"layer_name": name} for name in TILE_LAYERS],
    "ogc.tile_matrix_set": lambda ids: [{"tms": "WebMercatorQuad"}],
    "ogc.collection_tilesets": lambda ids: [{"collection_id": c} for c in TILE_LAYERS],
    "ogc.collection_tileset": lambda ids: [{"collection_id": c, "tms": "WebMercatorQuad"}
                                           for c in TILE_LAYERS],
    "ogc.collection_tile": lambda ids: [
        {"collection_id": c, "tms": "WebMercatorQuad", "tile_matrix": TILE_Z,
         "tile_row": TILE_Y, "tile_col": TILE_X} for c in TILE_LAYERS],
    "ogc.features_collection": lambda ids: [{"collection_id": c} for c in COLLECTIONS],
    "ogc.features_items": lambda ids: [{"collection_id": c} for c in COLLECTIONS],
    "ogc.features_queryables": lambda ids: [{"collection_id": c} for c in COLLECTIONS],
    "ogc.features_item": lambda ids: [
        {"collection_id": layer, "feature_id": feature_in_kk(ids, layer)} for layer in IN_KK],
}


class UnbuildableRuleError(Exception):
    """A rule whose URL arguments this module cannot fill."""


def argument_sets(rule, ids) -> list[dict]:
    """Every set of URL arguments to try for ``rule``."""
    if rule.endpoint in ENDPOINT_ARGUMENTS:
        return ENDPOINT_ARGUMENTS[rule.endpoint](ids)
    sets = [{}]
    for name, converter in rule._converters.items():
        if isinstance(converter, AnyConverter):
            sets = [{**chosen, name: item} for chosen in sets for item in sorted(converter.items)]
        elif name in ARGUMENTS:
            try:
                sets = [{**chosen, name: ARGUMENTS[name](ids, chosen)} for chosen in sets]
            except KeyError as missing:
                raise UnbuildableRuleError(f"{rule.endpoint} ({rule.rule}): argument {name!r} "
                                      f"needs {missing}") from None
        else:
            raise UnbuildableRuleError(
                f"{rule.endpoint} ({rule.rule}): no value for the URL argument {name!r}; "
                "add it to ARGUMENTS or the endpoint to ENDPOINT_ARGUMENTS in "
                "tests/app/auth/test_access_matrix.py")
    return sets


def cases(app, ids) -> list[tuple[str, str, str, dict]]:
    """(method, url, endpoint, arguments) of every rule, method and argument set."""
    built, unbuildable = [], []
    for rule in app.url_map.iter_rules():
        try:
            sets = argument_sets(rule, ids)
        except UnbuildableRuleError as problem:
            unbuildable.append(str(problem))
            continue
        for method in set(rule.methods) & set(METHODS):
            for arguments in sets:
                url = rule.build(arguments, append_unknown=False)[1]
                built.append((method, url, rule.endpoint, arguments))
    assert not unbuildable, "rules the access matrix cannot build a URL for:\n" + "\n".join(
        unbuildable)
    return sorted(built, key=lambda case: (METHODS.index(case[0]), case[1]))


# Public endpoints whose own answer to the empty request is 401: a sign-in without a
# user name and password fails.
OWN_401 = frozenset({("auth.login", "POST")})


def expected(caller: str, method: str, endpoint: str, arguments: dict) -> str:
    """'refused' (anonymous), '401', '403', '404' or 'allowed' (anything but 401, 403
    and 5xx)."""
    role = required_role(endpoint, arguments)
    if role == PUBLIC:
        return "401" if (endpoint, method) in OWN_401 else "allowed"
    if caller == "anonymous":
        return "refused"
    caller_role = "viewer" if caller == OTHER_REGION else caller
    if ROLES.index(caller_role) < ROLES.index(role):
        return "403"
    if caller == OTHER_REGION and method == "GET" and SCOPED_ARGUMENTS & set(arguments):
        return "404"
    return "allowed"


def agrees(expectation: str, response) -> bool:
    status = response.status_code
    if expectation == "refused":
        return status == 401 or (
            status == 302 and urlsplit(response.headers["Location"]).path == "/login")
    if expectation == "allowed":  # and no server error: a 500 is no answer either
        return status not in (401, 403) and status < 500
    return status == int(expectation)


@pytest.fixture
def objects(db_session, sample_layers):
    """The sample layers, an assessment of T-KK, and a user (with a token and a
    session) for the admin routes to act on; ids by kind."""
    kk = db_session.scalar(select(Region).where(Region.code == "T-KK"))
    target = create_user(db_session, f"matrix-target-{uuid.uuid4().hex[:6]}", "viewer",
                         TEST_PASSWORD)
    token, _ = create_token(db_session, target, "matrix")
    start_session(db_session, target, lifetime=timedelta(hours=1))
    assessment = RiskAssessment(
        region_id=kk.id, period_start=datetime(2026, 1, 1, tzinfo=UTC),
        period_end=datetime(2026, 1, 31, tzinfo=UTC), config_sha256="0" * 64,
        config_text="# synthetic", inputs={}, summary={}, created_by=target.id)
    db_session.add(assessment)
    db_session.flush()
    schedule = db_session.scalar(text(
        "SELECT id FROM schedules WHERE region_id = :id AND product = 'weekly'"), {"id": kk.id})
    bulletin = db_session.scalar(text(
        "INSERT INTO bulletins (region_id, product, time_zone, period_start, period_end, "
        "assessment_id, html, pdf, config_sha256, config_text, produced_by) VALUES (:region, "
        "'weekly', 'Asia/Tbilisi', :start, :end, :assessment, '<!doctype html>', '%PDF', "
        "repeat('0', 64), '# synthetic', 'worker') RETURNING id"),
        {"region": kk.id, "start": assessment.period_start, "end": assessment.period_end,
         "assessment": assessment.id})
    session_id = db_session.scalar(select(UserSession.id).where(UserSession.user_id == target.id))
    return {**sample_layers, "assessment": assessment.id, "schedule": schedule,
            "bulletin": bulletin, "target_user": target.id,
            "target_token": token.id, "target_session": session_id}


@pytest.fixture
def callers(db_session, sample_layers):
    """The user of each caller (None: anonymous)."""
    users = {role: create_user(db_session, f"matrix-{role}-{uuid.uuid4().hex[:6]}", role,
                               TEST_PASSWORD) for role in ROLE_CALLERS}
    other = create_user(db_session, f"matrix-other-{uuid.uuid4().hex[:6]}", "viewer",
                        TEST_PASSWORD)
    other.all_regions = False  # restricted to the regions linked below
    other.regions = [db_session.scalar(select(Region).where(Region.code == "T-KA"))]
    db_session.flush()
    return {"anonymous": None, OTHER_REGION: other, **users}


@pytest.mark.slow
def test_every_route_answers_every_caller_as_the_permission_table_says(
        app, client, db_session, objects, callers):
    mismatches, checked = [], 0
    for method, url, endpoint, arguments in cases(app, objects):
        for caller in CALLERS:
            headers = {}
            if callers[caller] is not None:
                # A fresh token per request: a route may end the caller's sessions.
                _, token = create_token(db_session, callers[caller], "matrix")
                headers["Authorization"] = f"Bearer {token}"
            body = {"json": {}} if method in ("POST", "PATCH") else {}
            response = client.open(url, method=method, headers=headers, **body)
            response.close()  # files (static, vendor) are streamed: close them
            expectation = expected(caller, method, endpoint, arguments)
            checked += 1
            if not agrees(expectation, response):
                mismatches.append(f"{method} {url} ({endpoint}) as {caller}: expected "
                                  f"{expectation}, got {response.status_code}")
    assert not mismatches, f"{len(mismatches)} of {checked} answers disagree with " \
                           "app.auth.permissions:\n" + "\n".join(mismatches)
    # Every rule, method and caller (one URL per layer and collection): hundreds.
    assert checked > 400


def test_every_endpoint_has_a_declared_permission(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    undeclared = sorted(endpoints - set(ENDPOINT_ROLES))
    assert not undeclared, ("routes with no entry in app.auth.permissions.ENDPOINT_ROLES "
                            f"(refused to everyone until declared): {undeclared}")
    stale = sorted(set(ENDPOINT_ROLES) - endpoints)
    assert not stale, f"ENDPOINT_ROLES declares endpoints that do not exist: {stale}"
    assert all(role == PUBLIC or role in ROLES for role in ENDPOINT_ROLES.values())


def test_an_undeclared_route_is_refused_to_everyone(databases):
    """A route added without a permission line answers 403 even to an admin."""
    fresh, _ = committed_sample_layers(databases)
    fresh.add_url_rule("/api/v1/undeclared-probe", "probe.undeclared",
                       lambda: "data no one declared")
    with fresh.app_context():
        admin = create_user(db.session, "probe-admin", "admin", TEST_PASSWORD)
        _, token = create_token(db.session, admin, "probe")
        db.session.commit()
        db.session.remove()
    http = fresh.test_client()
    refused = http.get("/api/v1/undeclared-probe", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403
    assert "no permission is declared for probe.undeclared" in refused.get_data(as_text=True)
    assert http.get("/api/v1/undeclared-probe").status_code == 401
    with fresh.app_context():
        db.engine.dispose()


def test_writes_in_another_region_are_404_as_its_reads(client, db_session, objects):
    """A supervisor of T-KA (who may write every layer) writes nothing in T-KK."""
    supervisor = create_user(db_session, f"matrix-ka-{uuid.uuid4().hex[:6]}", "supervisor",
                             TEST_PASSWORD)
    supervisor.all_regions = False  # restricted to the regions linked below
    supervisor.regions = [db_session.scalar(select(Region).where(Region.code == "T-KA"))]
    db_session.flush()
    headers = {"Authorization": f"Bearer {create_token(db_session, supervisor, 'matrix')[1]}"}
    everyone = create_user(db_session, f"matrix-all-{uuid.uuid4().hex[:6]}", "viewer",
                           TEST_PASSWORD)
    unrestricted = {"Authorization": f"Bearer {create_token(db_session, everyone, 'm')[1]}"}
    for layer, key in IN_KK.items():
        url = f"/api/v1/{layer}/{objects[layer][key]}"
        assert client.get(url, headers=headers).status_code == 404, url
        # Written as read: not found (issue 14, item 6: its existence is not revealed);
        # the regions layer is refused to every restricted user, whatever the id.
        refused = 403 if layer == "regions" else 404
        assert client.patch(url, json={"properties": {}}, headers=headers
                            ).status_code == refused, url
        assert client.delete(url, headers=headers).status_code == refused, url
        assert client.get(url, headers=unrestricted).status_code == 200, url  # it exists
    section = objects["border_segments"]["T-AZ-001"]
    decision = {"level": "high", "justification": "Not this supervisor's section."}
    assert client.patch(f"/api/v1/risk/segments/{section}/level", json=decision,
                        headers=headers).status_code == 404


def test_a_rule_the_matrix_cannot_build_fails_naming_it():
    url_map = Map([Rule("/things/<int:thing_id>", endpoint="probe.thing")])
    with pytest.raises(UnbuildableRuleError, match=r"probe\.thing .*'thing_id'.*ARGUMENTS"):
        argument_sets(next(url_map.iter_rules()), {})
