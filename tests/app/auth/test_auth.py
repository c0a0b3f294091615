"""Authentication: sessions with CSRF for the browser, bearer tokens for scripts."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from app.auth.models import ApiToken, User
from app.auth.signin import authenticate
from app.auth.tokens import create_token
from tests.conftest import TEST_PASSWORD

PROTECTED = ["/", "/api/v1/regions", "/api/v1/segments", "/api/v1/crossings",
             "/api/v1/incidents", "/vendor/leaflet/leaflet.js"]


def csrf_token(client, path="/login") -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def login(client, username, password=TEST_PASSWORD, next_url=None):
    url = "/login" + (f"?next={next_url}" if next_url else "")
    return client.post(url, data={"username": username, "password": password,
                                  "csrf_token": csrf_token(client)})


def concrete_path(rule: str) -> str:
    """A URL that matches ``rule``: the first choice of any(...), 1 for int, else x."""
    path = re.sub(r"<any\(([^,)]+)[^)]*\):[^>]+>", r"\1", rule)
    path = re.sub(r"<int:[^>]+>", "1", path)
    return re.sub(r"<(?:[^:>]+:)?[^>]+>", "x", path)


def test_every_protected_route_needs_a_user(app, client):
    """Each URL rule but health, login and static (also at its versioned addresses)
    answers 401 or a redirect to login."""
    public = {"health.healthz", "auth.login", "static", "ui.asset"}
    rules = [r for r in app.url_map.iter_rules() if r.endpoint not in public]
    assert rules, "no routes found"
    for rule in rules:
        path = concrete_path(rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(path, method=method)
            assert app.url_map.bind("localhost").match(path, method=method)[0] == rule.endpoint
            assert response.status_code in (302, 401), (method, path, response.status_code)
            if response.status_code == 302:
                assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", PROTECTED)
def test_api_without_token_is_401_problem_json(client, path):
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.content_type == "application/problem+json"
    assert response.get_json()["status"] == 401


def test_valid_token_is_200_and_records_last_use(client, db_session, make_user):
    user = make_user("viewer")
    row, token = create_token(db_session, user, "script")
    response = client.get("/api/v1/regions", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.content_type == "application/geo+json"
    db_session.refresh(row)
    assert row.last_used_at is not None
    assert row.token_sha256 != token and token not in row.token_sha256


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer ", "Basic dXNlcjpwYXNz",
                                    "Bearer br_" + "x" * 43])
def test_bad_tokens_are_401(client, header):
    response = client.get("/api/v1/regions", headers={"Authorization": header})
    assert response.status_code == 401


def test_expired_revoked_and_disabled_tokens_are_401(client, db_session, make_user):
    user = make_user("analyst")
    expired, expired_token = create_token(db_session, user, "old", timedelta(days=1))
    expired.expires_at = datetime.now(UTC) - timedelta(hours=1)  # before the transaction began
    revoked, revoked_token = create_token(db_session, user, "revoked")
    revoked.revoked_at = datetime.now(UTC)
    other = make_user("viewer")
    _, disabled_token = create_token(db_session, other, "disabled")
    other.active = False
    db_session.flush()
    for token in (expired_token, revoked_token, disabled_token):
        response = client.get("/api/v1/regions", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


def test_invalid_token_is_401_even_with_a_session(client, make_user):
    user = make_user("viewer")
    assert login(client, user.username).status_code == 302
    assert client.get("/api/v1/regions").status_code == 200
    response = client.get("/api/v1/regions", headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401


def test_login_page_is_public_and_has_csrf_field(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert 'name="csrf_token"' in response.get_data(as_text=True)


def test_browser_login_then_map_page(client, make_user):
    user = make_user("analyst")
    assert client.get("/").status_code == 302
    response = login(client, user.username, next_url="/")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="map"' in html and "/vendor/leaflet/leaflet.js" in html
    assert "<script>" not in html  # no inline scripts (CSP forbids them)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_wrong_password_and_unknown_user_are_refused_alike(client, make_user):
    user = make_user("viewer")
    wrong = login(client, user.username, "not-the-password")
    unknown = login(client, "nobody-here", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert b"Unknown user name or wrong password." in wrong.data
    assert client.get("/").status_code == 302


def test_login_without_csrf_token_is_refused(client, make_user):
    user = make_user("viewer")
    response = client.post("/login", data={"username": user.username,
                                           "password": TEST_PASSWORD})
    assert response.status_code == 401
    assert client.get("/").status_code == 302


def test_login_does_not_redirect_off_site(client, make_user):
    user = make_user("viewer")
    response = login(client, user.username, next_url="//evil.example/x")
    assert response.headers["Location"] == "/"


def test_logout_needs_csrf_and_ends_the_session(client, make_user):
    user = make_user("viewer")
    login(client, user.username)
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert client.get("/").status_code == 200
    token = csrf_token(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


def test_passwords_are_argon2id_hashes(db_session, make_user):
    user = make_user("viewer")
    assert user.password_hash.startswith("$argon2id$")
    assert TEST_PASSWORD not in user.password_hash
    assert authenticate(db_session, user.username, TEST_PASSWORD) is user
    assert authenticate(db_session, user.username, TEST_PASSWORD + "x") is None


def test_role_ranking(make_user):
    analyst = make_user("analyst")
    assert analyst.has_role("viewer") and analyst.has_role("analyst")
    assert not analyst.has_role("supervisor")


def test_token_deleted_with_its_user(db_session, make_user):
    user = make_user("viewer")
    create_token(db_session, user, "t")
    db_session.delete(user)
    db_session.flush()
    assert db_session.query(ApiToken).filter_by(user_id=user.id).count() == 0
    assert db_session.get(User, user.id) is None


def test_a_token_does_not_carry_over_to_the_next_request(client, token_headers):
    assert client.get("/api/v1/regions", headers=token_headers("viewer")).status_code == 200
    assert client.get("/api/v1/regions").status_code == 401


def test_basic_auth_reads_but_never_writes(client, make_user):
    # Browsers replay cached Basic credentials cross-site: a write with them would be a
    # CSRF hole, so only bearer tokens and CSRF-checked sessions may write.
    from base64 import b64encode

    user = make_user("analyst")
    basic = {"Authorization": "Basic "
             + b64encode(f"{user.username}:{TEST_PASSWORD}".encode()).decode()}
    assert client.get("/api/v1/regions", headers=basic).status_code == 200
    feature = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [44.8, 41.7]},
               "properties": {"category": "illegal_crossing",
                              "occurred_at": "2026-01-05T10:00:00Z"}}
    response = client.post("/api/v1/incidents", json=feature, headers=basic)
    assert response.status_code == 401
    assert "reading only" in response.get_json()["detail"]
