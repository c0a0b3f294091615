"""``/api/v1/subscriptions``: who may subscribe and see what, the checks of a target URL
(SSRF), and the secret shown once."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.extensions import db
from testsupport.webhooks import user_headers, webhook_app

ALLOWED = "http://127.0.0.1:9/hook"


@pytest.fixture(scope="module")
def api(databases):
    app = webhook_app(databases)
    headers = {name: user_headers(app, f"subs-{name}", role, agency) for name, role, agency in (
        ("viewer", "viewer", "GBP"), ("analyst", "analyst", "GBP"),
        ("other", "analyst", "PPD"), ("admin", "admin", "GBP"))}
    yield app, app.test_client(), headers
    with app.app_context():
        db.engine.dispose()


def _create(client, headers, **body):
    return client.post("/api/v1/subscriptions", headers=headers,
                       json={"url": ALLOWED, **body})


def test_create_answers_the_secret_once_and_starts_after_the_newest_event(api):
    app, client, headers = api
    response = _create(client, headers["analyst"], types=["incident.created", "incident.*"],
                       filters={"region": "T-KK", "category": "smuggling_drugs,illegal_stay"},
                       batch_size=10)
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert response.headers["Location"].endswith(f"/api/v1/subscriptions/{created['id']}")
    assert created["types"] == ["incident.created", "incident.updated", "incident.deleted"]
    assert created["filters"] == {"region": "T-KK",
                                  "category": ["smuggling_drugs", "illegal_stay"]}
    assert created["batch_size"] == 10 and created["active"] and not created["paused"]
    with app.app_context():
        head = db.session.execute(text("SELECT coalesce(max(id), 0) FROM events")).scalar()
        db.session.remove()
    assert created["last_event_id"] == head
    read = client.get(f"/api/v1/subscriptions/{created['id']}", headers=headers["analyst"])
    assert read.status_code == 200 and "secret" not in read.get_json()
    listed = client.get("/api/v1/subscriptions", headers=headers["analyst"]).get_json()
    assert all("secret" not in s for s in listed["subscriptions"])
    # The audit trail has the creation, never the secret.
    with app.app_context():
        after = db.session.execute(text(
            "SELECT after::text FROM audit_log WHERE entity = 'subscription' "
            "AND entity_id = :id"), {"id": str(created["id"])}).scalar_one()
        db.session.remove()
    assert created["secret"] not in after


@pytest.mark.parametrize(("url", "why"), [
    ("http://example.org/hook", "WEBHOOK_ALLOWED_HOSTS"),
    ("http://localhost:9/hook", "WEBHOOK_ALLOWED_HOSTS"),
    ("http://[::1]:9/hook", "WEBHOOK_ALLOWED_HOSTS"),
    ("ftp://127.0.0.1/hook", "http or https"),
    ("file:///etc/passwd", "http or https"),
    ("gopher://127.0.0.1:9/", "http or https"),
    ("http://user:pw@127.0.0.1:9/hook", "userinfo"),
    ("http://user@127.0.0.1:9/hook", "userinfo"),
    ("http://127.0.0.1@example.org/hook", "userinfo"),
    ("http://127.0.0.1:99999/hook", "port"),
    ("http:///hook", "host"),
    ("", "http or https"),
    (12, "http or https"),
])
def test_a_target_not_allowed_is_422_naming_url(api, url, why):
    _, client, headers = api
    response = client.post("/api/v1/subscriptions", headers=headers["analyst"],
                           json={"url": url})
    assert response.status_code == 422, response.get_data(as_text=True)
    problem = response.get_json()
    assert problem["field"] == "url" and why in problem["detail"]


def test_no_host_is_allowed_by_default(databases):
    from testsupport.apps import make_app

    app = make_app("postgresql://nobody@127.0.0.1:1/none")
    assert app.config["WEBHOOK_ALLOWED_HOSTS"] == ()
    from app.webhooks.targets import TargetError, parse_target

    with pytest.raises(TargetError, match="WEBHOOK_ALLOWED_HOSTS"):
        parse_target("http://127.0.0.1/hook", app.config["WEBHOOK_ALLOWED_HOSTS"])


@pytest.mark.parametrize(("body", "field"), [
    ({"types": ["incident.exploded"]}, "types"),
    ({"filters": {"colour": "red"}}, "filters.colour"),
    ({"filters": {"region": "NOWHERE"}}, "filters.region"),
    ({"filters": {"category": [1]}}, "filters.category"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 100_000}, "batch_size"),
    ({"batch_size": True}, "batch_size"),
    ({"secret": "mine"}, "secret"),
])
def test_invalid_bodies_name_the_field(api, body, field):
    _, client, headers = api
    response = _create(client, headers["analyst"], **body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["field"] == field


def test_viewers_may_not_subscribe_and_others_subscriptions_are_404(api):
    _, client, headers = api
    assert _create(client, headers["viewer"]).status_code == 403
    assert client.get("/api/v1/subscriptions", headers=headers["viewer"]).status_code == 403
    mine = _create(client, headers["analyst"]).get_json()["id"]
    theirs = _create(client, headers["other"]).get_json()["id"]
    for method, path in (("get", ""), ("patch", ""), ("delete", ""), ("get", "/deliveries")):
        response = getattr(client, method)(f"/api/v1/subscriptions/{theirs}{path}",
                                           headers=headers["analyst"],
                                           **({"json": {"active": False}}
                                              if method == "patch" else {}))
        assert response.status_code == 404, (method, path)
        assert response.get_json()["field"] == "subscription_id"
    listed = {s["id"] for s in client.get("/api/v1/subscriptions",
                                          headers=headers["analyst"]).get_json()["subscriptions"]}
    assert mine in listed and theirs not in listed
    # An admin sees and manages everybody's.
    admin = {s["id"] for s in client.get("/api/v1/subscriptions",
                                         headers=headers["admin"]).get_json()["subscriptions"]}
    assert {mine, theirs} <= admin
    assert client.get(f"/api/v1/subscriptions/{theirs}",
                      headers=headers["admin"]).get_json()["owner"] == "subs-other"
    patched = client.patch(f"/api/v1/subscriptions/{theirs}", headers=headers["admin"],
                           json={"active": False})
    assert patched.status_code == 200 and patched.get_json()["active"] is False
    assert client.delete(f"/api/v1/subscriptions/{theirs}",
                         headers=headers["other"]).status_code == 204
    assert client.get(f"/api/v1/subscriptions/{theirs}",
                      headers=headers["admin"]).status_code == 404


def test_patch_changes_the_target_and_filters_with_the_same_checks(api):
    _, client, headers = api
    created = _create(client, headers["analyst"]).get_json()
    path = f"/api/v1/subscriptions/{created['id']}"
    refused = client.patch(path, headers=headers["analyst"],
                           json={"url": "http://169.254.169.254/latest/meta-data"})
    assert refused.status_code == 422 and refused.get_json()["field"] == "url"
    changed = client.patch(path, headers=headers["analyst"],
                           json={"url": "https://127.0.0.1:8443/h", "types": "segment.*",
                                 "filters": {"agency": ["MD"]}, "batch_size": 5})
    assert changed.status_code == 200, changed.get_data(as_text=True)
    view = changed.get_json()
    assert view["url"] == "https://127.0.0.1:8443/h" and view["batch_size"] == 5
    assert view["types"] == ["segment.created", "segment.updated", "segment.deleted"]
    assert view["filters"] == {"agency": ["MD"]}


def test_a_region_outside_the_callers_scope_is_403(api, databases):
    app, client, _ = api
    restricted = user_headers(app, "subs-kk", "analyst", "GBP", regions=["T-KK"])
    response = _create(client, restricted, filters={"region": "T-KA"})
    assert response.status_code == 403, response.get_data(as_text=True)
    assert _create(client, restricted, filters={"region": "T-KK"}).status_code == 201
