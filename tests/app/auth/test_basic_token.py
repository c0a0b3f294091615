"""An API token as the password of HTTP Basic (issue 20: QGIS 3.22 sends tokens no
other way): any user name or the owner's, on every endpoint that takes Basic; refused
when revoked or expired; under the same lock-out and address limit as a password."""

from base64 import b64encode
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.audit.models import AuditRecord
from app.auth.models import LoginAttempt
from app.auth.tokens import create_token, revoke_token
from tests.conftest import TEST_PASSWORD

WRONG_TOKEN = "br_" + "x" * 43
READ_PATHS = ["/api/v1/regions", "/ogc/wms?SERVICE=WMS&REQUEST=GetCapabilities",
              "/ogc/features/collections?f=json", "/ogc/tiles/regions.json"]


def basic(username: str, password: str) -> dict:
    return {"Authorization": "Basic " + b64encode(f"{username}:{password}".encode()).decode()}


def attempts(db_session, username: str) -> list[bool]:
    return list(db_session.scalars(select(LoginAttempt.success).where(
        LoginAttempt.username == username).order_by(LoginAttempt.id)))


@pytest.mark.parametrize("path", READ_PATHS)
def test_a_token_as_the_basic_password_reads_every_service(client, db_session, make_user,
                                                           path):
    user = make_user("viewer")
    _, token = create_token(db_session, user, "qgis")
    for name in (user.username, "qgis", "token"):
        response = client.get(path, headers=basic(name, token))
        assert response.status_code == 200, (name, response.get_data(as_text=True)[:300])


def test_the_caller_is_the_token_owner_and_its_use_is_recorded(client, db_session, make_user):
    owner = make_user("analyst")
    row, token = create_token(db_session, owner, "qgis")
    assert client.get("/api/v1/regions", headers=basic("anyone", token)).status_code == 200
    db_session.refresh(row)
    assert row.last_used_at is not None
    signed_in = db_session.scalars(select(AuditRecord).where(
        AuditRecord.action == "sign_in",
        AuditRecord.detail["username_given"].astext == "anyone")).one()
    assert (signed_in.user_id, signed_in.username) == (owner.id, owner.username)
    assert signed_in.detail["token_id"] == row.id
    assert attempts(db_session, "anyone") == [True]
    # Remembered afterwards: no attempt recorded per map tile.
    for _ in range(3):
        assert client.get("/api/v1/regions", headers=basic("anyone", token)).status_code == 200
    assert attempts(db_session, "anyone") == [True]


def test_the_owners_role_applies_and_basic_never_writes(client, db_session, make_user):
    viewer = make_user("viewer")
    _, token = create_token(db_session, viewer, "qgis")
    # An analyst's name does not lend its role to a viewer's token.
    analyst = make_user("analyst")
    response = client.get("/api/v1/audit", headers=basic(analyst.username, token))
    assert response.status_code == 403, response.get_data(as_text=True)[:300]
    write = client.post("/api/v1/incidents", json={}, headers=basic(analyst.username, token))
    assert write.status_code == 401
    assert "reading only" in write.get_json()["detail"]


def test_revoked_and_expired_tokens_are_refused_even_when_remembered(client, db_session,
                                                                     make_user):
    user = make_user("viewer")
    revoked, revoked_token = create_token(db_session, user, "to revoke")
    expiring, expiring_token = create_token(db_session, user, "to expire", timedelta(days=1))
    for token in (revoked_token, expiring_token):
        assert client.get("/api/v1/regions", headers=basic("qgis", token)).status_code == 200
    revoke_token(db_session, revoked.id)
    expiring.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db_session.flush()
    for token in (revoked_token, expiring_token):
        response = client.get("/api/v1/regions", headers=basic("qgis", token))
        assert response.status_code == 401
        assert "revoked token" in response.get_json()["detail"]
        assert "Basic" in response.headers["WWW-Authenticate"]
    # Each refusal is a failed attempt of the name given.
    assert attempts(db_session, "qgis") == [True, True, False, False]


def test_the_password_still_works_and_one_that_looks_like_a_token_too(client, db_session,
                                                                      make_user):
    from app.auth.users import set_password

    user = make_user("viewer")
    assert client.get("/api/v1/regions",
                      headers=basic(user.username, TEST_PASSWORD)).status_code == 200
    token_like = "br_my-long-password-123"
    set_password(user, token_like)
    db_session.flush()
    assert client.get("/api/v1/regions",
                      headers=basic(user.username, token_like)).status_code == 200
    assert client.get("/api/v1/regions", headers=basic("someone-else", token_like)
                      ).status_code == 401


def test_wrong_tokens_count_toward_the_lock_out_like_wrong_passwords(client, db_session,
                                                                     make_user):
    user = make_user("viewer")
    _, token = create_token(db_session, user, "qgis")
    for _ in range(5):
        response = client.get("/api/v1/regions", headers=basic(user.username, WRONG_TOKEN))
        assert response.status_code == 401
    db_session.refresh(user)
    assert user.failed_logins == 5 and user.locked_until is not None
    # The name is locked: its password and a valid token are refused unchecked...
    for secret in (TEST_PASSWORD, token):
        locked = client.get("/api/v1/regions", headers=basic(user.username, secret))
        assert locked.status_code == 401
        assert "locked" in locked.get_json()["detail"]
    assert attempts(db_session, user.username) == [False] * 5
    # ...and a valid token's success does not reset the count once the lock ends.
    user.locked_until = datetime.now(UTC) - timedelta(seconds=1)
    db_session.flush()
    assert client.get("/api/v1/regions", headers=basic(user.username, token)).status_code == 200
    db_session.refresh(user)
    assert user.locked_until is not None
    # A bearer token does not go through the sign-in limits.
    assert client.get("/api/v1/regions",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_an_unknown_name_locks_alike_with_tokens(client, db_session, make_user):
    user = make_user("viewer")
    _, token = create_token(db_session, user, "qgis")
    for _ in range(5):
        client.get("/api/v1/regions", headers=basic("shared-name", WRONG_TOKEN))
    locked = client.get("/api/v1/regions", headers=basic("shared-name", token))
    assert locked.status_code == 401 and "locked" in locked.get_json()["detail"]
    # Another name (the owner's) is not locked.
    assert client.get("/api/v1/regions", headers=basic(user.username, token)).status_code == 200


def test_wrong_tokens_count_toward_the_address_limit(app, client, db_session, make_user,
                                                     monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_IP_MAX_FAILURES", 3)
    user = make_user("viewer")
    _, token = create_token(db_session, user, "qgis")
    for n in range(3):
        assert client.get("/api/v1/regions", headers=basic(f"spray-{n}", WRONG_TOKEN)
                          ).status_code == 401
    refused = client.get("/api/v1/regions", headers=basic(user.username, token))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    db_session.execute(update(LoginAttempt).values(at=LoginAttempt.at - timedelta(minutes=16)))
    assert client.get("/api/v1/regions", headers=basic(user.username, token)).status_code == 200
