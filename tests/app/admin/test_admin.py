"""The admin page: users, regions, passwords, lock-outs, tokens, sessions and the audit
trail; admins only, CSRF on every form, every change audited (without secrets)."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from flask import g
from sqlalchemy import select

from app.audit.models import AuditRecord
from app.auth.models import ApiToken, User, UserSession
from app.auth.tokens import create_token
from tests.app.auth.test_auth import csrf_token, login
from tests.conftest import TEST_PASSWORD

NEW_PASSWORD = "a-brand-new-password"


@pytest.fixture
def admin(client, make_user):
    """A signed-in admin (through the login page: a real session)."""
    user = make_user("admin")
    assert sign_in(client, user.username).status_code == 302
    return user


def fresh_csrf(client, path="/") -> str:
    """The CSRF token of ``client``'s session. The test requests share one app context,
    whose ``g`` caches the token of whichever client asked last: forget it first."""
    g.pop("csrf_token", None)
    return csrf_token(client, path)


def sign_in(client, username, password=TEST_PASSWORD):
    g.pop("csrf_token", None)
    return login(client, username, password)


def post(client, path, data=None, **kwargs):
    """A form POST with the page's CSRF token."""
    return client.post(path, data={"csrf_token": fresh_csrf(client), **(data or {})},
                       **kwargs)


def records(db_session, entity, entity_id=None):
    query = select(AuditRecord).where(AuditRecord.entity == entity).order_by(AuditRecord.id)
    if entity_id is not None:
        query = query.where(AuditRecord.entity_id == str(entity_id))
    return db_session.scalars(query).all()


def audit_text(rows) -> str:
    return json.dumps([[r.before, r.after, r.detail] for r in rows])


@pytest.mark.parametrize("role", ["viewer", "analyst", "supervisor"])
def test_only_admins_get_in(client, make_user, token_headers, role):
    assert client.get("/admin").status_code == 302  # anonymous: to the login page
    assert client.get("/admin", headers=token_headers(role)).status_code == 403
    user = make_user(role)
    sign_in(client, user.username)
    for path in ("/admin", "/admin/sessions", "/admin/audit", f"/admin/users/{user.id}"):
        assert client.get(path).status_code == 403, path
    response = post(client, "/admin/users", {"username": "sneaky", "role": "admin",
                                             "password": "long-enough-pw"})
    assert response.status_code == 403


def test_every_admin_endpoint_needs_the_admin_role(app):
    from app.auth.permissions import ENDPOINT_ROLES

    endpoints = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")}
    assert len(endpoints) == 15  # users, tokens, sessions, audit, agencies
    assert {ENDPOINT_ROLES[e] for e in endpoints} == {"admin"}


def test_users_list(client, admin, make_user, sample_layers, db_session):
    other = make_user("analyst")
    page = client.get("/admin")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'data-username="{other.username}"' in html and admin.username in html
    assert 'value="T-KA"' in html and 'value="T-KK"' in html  # the regions to choose
    assert "<script" not in html
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    # The top bar links admins (only) to this page.
    assert 'class="admin-link" href="/admin"' in client.get("/").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": fresh_csrf(client)})
    sign_in(client, other.username)
    assert 'class="admin-link"' not in client.get("/").get_data(as_text=True)


def test_a_form_without_the_csrf_token_is_refused(client, admin, db_session):
    response = client.post("/admin/users", data={"username": "no-csrf", "role": "viewer",
                                                 "password": "long-enough-pw"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert db_session.scalar(select(User).where(User.username == "no-csrf")) is None
    target = db_session.get(User, admin.id)
    for path in (f"/admin/users/{target.id}", f"/admin/users/{target.id}/unlock",
                 f"/admin/users/{target.id}/tokens", f"/admin/users/{target.id}/password",
                 f"/admin/users/{target.id}/sessions/revoke", "/admin/tokens/1/revoke",
                 "/admin/sessions/1/revoke"):
        assert client.post(path, data={"csrf_token": "forged"}).status_code == 400, path


def test_create_a_user_with_regions(client, admin, db_session, sample_layers):
    response = post(client, "/admin/users", {"username": "kk-viewer", "role": "viewer",
                                             "password": "long-enough-pw",
                                             "regions": ["T-KK"]})
    assert response.status_code == 303
    user = db_session.scalar(select(User).where(User.username == "kk-viewer"))
    assert user.role == "viewer" and user.active
    assert [r.code for r in user.regions] == ["T-KK"]
    assert response.headers["Location"].endswith(f"/admin/users/{user.id}")
    listed = client.get("/admin").get_data(as_text=True)
    row = re.search(r'<tr data-username="kk-viewer">.*?</tr>', listed, re.S).group(0)
    assert "T-KK" in row and "viewer" in row
    (record,) = records(db_session, "user", user.id)
    assert record.action == "create" and record.before is None
    assert record.after == {"username": "kk-viewer", "role": "viewer", "active": True,
                            "agency": "GBP", "all_regions": False, "regions": ["T-KK"],
                            "locked_until": None}
    assert record.user_id == admin.id and record.username == admin.username
    assert record.method == "POST" and record.path == "/admin/users"
    assert "long-enough-pw" not in audit_text([record]) and "argon2" not in audit_text([record])
    # The new user can sign in, and sees only their region.
    client.post("/logout", data={"csrf_token": fresh_csrf(client)})
    assert sign_in(client, "kk-viewer", "long-enough-pw").status_code == 302


@pytest.mark.parametrize(("form", "message"), [
    ({"username": "x", "role": "king", "password": "long-enough-pw"}, "role must be one of"),
    ({"username": "x", "role": "viewer", "password": "short"}, "at least 8 characters"),
    ({"username": "bad name<", "role": "viewer", "password": "long-enough-pw"},
     "username must be"),
    ({"username": "x", "role": "viewer", "password": "long-enough-pw", "regions": ["XX"]},
     "unknown code(s) XX"),
])
def test_create_refuses_bad_input_and_writes_nothing(client, admin, db_session, form, message):
    response = post(client, "/admin/users", form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html.replace("&#39;", "'")
    assert "bad name<" not in html  # escaped where it is shown again
    assert db_session.scalar(select(User).where(User.username == form["username"])) is None
    assert not [r for r in records(db_session, "user")
                if (r.after or {}).get("username") == form["username"]]


def test_change_role_regions_and_deactivate(app, client, admin, db_session, make_user,
                                            sample_layers):
    target = make_user("viewer")
    other_browser = app.test_client()
    sign_in(other_browser, target.username)
    assert other_browser.get("/").status_code == 200
    _, token = create_token(db_session, target, "script")
    bearer = {"Authorization": f"Bearer {token}"}

    response = post(client, f"/admin/users/{target.id}",
                    {"role": "analyst", "active": "active", "regions": ["T-KA", "T-KK"]})
    assert response.status_code == 303
    db_session.refresh(target)
    assert target.role == "analyst" and [r.code for r in target.regions] == ["T-KA", "T-KK"]
    assert other_browser.get("/").status_code == 200  # a change of role keeps the session

    post(client, f"/admin/users/{target.id}",
         {"role": "analyst", "active": "inactive", "regions": []})
    db_session.refresh(target)
    assert not target.active and target.regions == []
    assert other_browser.get("/").status_code == 302  # ended at once
    assert client.get("/api/v1/regions", headers=bearer).status_code == 401
    updates = [r for r in records(db_session, "user", target.id) if r.action == "update"]
    assert [(u.before["role"], u.after["role"]) for u in updates] == [
        ("viewer", "analyst"), ("analyst", "analyst")]
    assert updates[0].after["regions"] == ["T-KA", "T-KK"]
    assert (updates[1].before["active"], updates[1].after["active"]) == (True, False)
    ended = records(db_session, "session")
    assert ended[-1].action == "revoke" and ended[-1].detail["user_id"] == target.id


def test_an_admin_cannot_demote_or_deactivate_themselves(client, admin, db_session):
    response = post(client, f"/admin/users/{admin.id}",
                    {"role": "viewer", "active": "active"})
    assert response.status_code == 422
    assert "cannot change your own role" in response.get_data(as_text=True)
    db_session.refresh(admin)
    assert admin.role == "admin"


def test_reset_password_and_unlock(app, client, admin, db_session, make_user):
    target = make_user("viewer")
    other_browser = app.test_client()
    sign_in(other_browser, target.username)
    for _ in range(5):
        sign_in(app.test_client(), target.username, "wrong-password")
    db_session.refresh(target)
    assert target.locked_until is not None
    assert "locked until" in client.get(f"/admin/users/{target.id}").get_data(as_text=True)

    assert post(client, f"/admin/users/{target.id}/unlock").status_code == 303
    db_session.refresh(target)
    assert target.failed_logins == 0 and target.locked_until <= datetime.now(UTC)
    short = post(client, f"/admin/users/{target.id}/password", {"password": "short"})
    assert short.status_code == 422
    assert post(client, f"/admin/users/{target.id}/password",
                {"password": NEW_PASSWORD}).status_code == 303
    assert other_browser.get("/").status_code == 302  # a new password ends sessions
    assert sign_in(app.test_client(), target.username).status_code == 401  # the old one
    assert sign_in(app.test_client(), target.username, NEW_PASSWORD).status_code == 302
    actions = [r.action for r in records(db_session, "user", target.id)
               if not r.action.startswith("sign_in")]  # its failed sign-ins, in order too
    assert actions == ["create", "lock", "unlock", "password"]
    text = audit_text(records(db_session, "user", target.id))
    assert NEW_PASSWORD not in text and TEST_PASSWORD not in text and "argon2" not in text


def test_create_a_token_shown_once_then_revoke_it(client, admin, db_session, make_user):
    target = make_user("viewer")
    response = post(client, f"/admin/users/{target.id}/tokens",
                    {"name": "<b>qgis</b>", "expires_days": "30"})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    token = re.search(r'<output id="new-token-value">(br_[^<]+)</output>', html).group(1)
    assert "&lt;b&gt;qgis&lt;/b&gt;" in html and "<b>qgis</b>" not in html
    row = db_session.scalars(select(ApiToken).where(ApiToken.user_id == target.id)).one()
    assert timedelta(days=29) < row.expires_at - datetime.now(UTC) <= timedelta(days=30)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/regions", headers=bearer).status_code == 200
    again = client.get(f"/admin/users/{target.id}").get_data(as_text=True)
    assert token not in again and f'data-token-id="{row.id}"' in again

    assert post(client, f"/admin/tokens/{row.id}/revoke").status_code == 303
    assert client.get("/api/v1/regions", headers=bearer).status_code == 401
    token_records = records(db_session, "token", row.id)
    assert [r.action for r in token_records] == ["create", "revoke"]
    assert token_records[0].after["name"] == "<b>qgis</b>"
    assert token not in audit_text(token_records)
    assert row.token_sha256 not in audit_text(token_records)
    bad = post(client, f"/admin/users/{target.id}/tokens", {"name": "x", "expires_days": "0"})
    assert bad.status_code == 422 and "expires_days" in bad.get_data(as_text=True)
    assert post(client, "/admin/tokens/99999999/revoke").status_code == 404


def test_list_and_end_sessions(app, client, admin, db_session, make_user):
    target = make_user("analyst")
    other_browser = app.test_client()
    sign_in(other_browser, target.username)
    page = client.get("/admin/sessions").get_data(as_text=True)
    assert target.username in page and admin.username in page
    row = db_session.scalars(select(UserSession).where(UserSession.user_id == target.id)).one()
    assert post(client, f"/admin/sessions/{row.id}/revoke").status_code == 303
    assert other_browser.get("/").status_code == 302
    assert target.username not in client.get("/admin/sessions").get_data(as_text=True)
    assert post(client, f"/admin/sessions/{row.id}/revoke").status_code == 404
    (record,) = [r for r in records(db_session, "session") if r.entity_id == str(row.id)]
    assert record.action == "revoke" and record.detail == {"user_id": target.id,
                                                           "sessions": [row.id]}
    sign_in(other_browser, target.username)
    assert post(client, f"/admin/users/{target.id}/sessions/revoke").status_code == 303
    assert other_browser.get("/").status_code == 302


def test_audit_view_filters_and_links_the_csv(client, admin, db_session, make_user):
    target = make_user("viewer")
    page = client.get(f"/admin/audit?entity=user&entity_id={target.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "1 record." in html and target.username in html
    assert "/api/v1/audit?" in html and "f=csv" in html
    paged = client.get("/admin/audit?entity=user&limit=1").get_data(as_text=True)
    # Two users created (admin and target) and the admin's sign-in.
    assert 'rel="next"' in paged and "offset=1" in paged
    assert "3 records, the newest 1 shown." in paged
    bad = client.get("/admin/audit?datetime=yesterday")
    assert bad.status_code == 422 and "datetime" in bad.get_data(as_text=True)
