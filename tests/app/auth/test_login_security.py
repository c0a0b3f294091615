"""Sign-in limits (lock-out, per-address 429) on the login page and HTTP Basic, the
server-side browser sessions (idle and absolute timeouts, sign-out, fixation, remember-me,
cookie flags), and the users/tokens commands that go with them."""

import hashlib
from base64 import b64encode
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app import cli as app_cli
from app import create_app
from app.audit.models import AuditRecord
from app.auth.models import LoginAttempt, User, UserSession
from app.auth.sessions import revoke_sessions
from app.auth.signin import LoginPolicy
from app.auth.tokens import create_token
from app.auth.users import update_user
from config import Config, ConfigError
from tests.app.auth.test_auth import csrf_token, login
from tests.conftest import TEST_PASSWORD

WRONG = "not-the-password"
LOCKED = "this account is locked for a while"
UNKNOWN_OR_WRONG = "Unknown user name or wrong password."


def basic(username: str, password: str) -> dict:
    return {"Authorization": "Basic " + b64encode(f"{username}:{password}".encode()).decode()}


def fail(client, username: str, times: int, **environ) -> list:
    return [client.post("/login", data={"username": username, "password": WRONG,
                                        "csrf_token": csrf_token(client)},
                        environ_base=environ) for _ in range(times)]


def page_text(response) -> str:
    return response.get_data(as_text=True)


def cookie_sid(client) -> str | None:
    with client.session_transaction() as session:
        return session.get("_sid")


# --- lock-out -------------------------------------------------------------------------

def test_five_failures_lock_the_account_even_for_the_right_password(client, db_session,
                                                                     make_user):
    user = make_user("viewer")
    responses = fail(client, user.username, 5)
    assert [r.status_code for r in responses] == [401] * 5
    assert all(UNKNOWN_OR_WRONG in page_text(r) for r in responses)
    db_session.refresh(user)
    assert user.failed_logins == 5
    assert user.locked_until > datetime.now(UTC) + timedelta(minutes=14)

    right = login(client, user.username)
    assert right.status_code == 401
    assert LOCKED in page_text(right) and UNKNOWN_OR_WRONG not in page_text(right)
    assert client.get("/").status_code == 302  # not signed in
    georgian = client.post("/login?lang=ka", data={
        "username": user.username, "password": TEST_PASSWORD,
        "csrf_token": csrf_token(client)})
    assert "ანგარიში დროებით დაბლოკილია" in page_text(georgian)
    # Refused unchecked and not counted: the lock does not grow while it holds.
    attempts = db_session.scalar(select(LoginAttempt.id).where(
        LoginAttempt.username == user.username, LoginAttempt.success.is_(True)))
    assert attempts is None
    lock = db_session.scalars(select(AuditRecord).where(
        AuditRecord.action == "lock", AuditRecord.entity_id == str(user.id))).one()
    assert lock.after["locked_until"] is not None and lock.before["locked_until"] is None
    assert lock.detail == {"failed_logins": 5}

    # Fifteen minutes later (moved back rather than waited for) the password works and
    # the counter starts again.
    user.locked_until = datetime.now(UTC) - timedelta(seconds=1)
    db_session.flush()
    assert login(client, user.username).status_code == 302
    db_session.refresh(user)
    assert user.failed_logins == 0 and user.locked_until is None


def test_a_success_resets_the_failure_count(client, db_session, make_user):
    user = make_user("viewer")
    fail(client, user.username, 4)
    assert login(client, user.username).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    fail(client, user.username, 4)
    db_session.refresh(user)
    assert user.failed_logins == 4 and user.locked_until is None
    assert login(client, user.username).status_code == 302


def test_an_unknown_name_locks_alike(client, db_session, make_user):
    """The lock-out does not tell which names exist: both get the same pages."""
    user = make_user("viewer")
    known = fail(client, user.username, 6)
    unknown = fail(client, "nobody-at-all", 6)
    for known_page, unknown_page in zip(known, unknown, strict=True):
        assert known_page.status_code == unknown_page.status_code == 401
        assert (LOCKED in page_text(known_page)) == (LOCKED in page_text(unknown_page))
    assert LOCKED not in page_text(known[4]) and LOCKED in page_text(known[5])


def test_the_lock_out_limit_is_a_setting(app):
    policy = LoginPolicy.from_config({"LOGIN_MAX_FAILURES": 3, "LOGIN_LOCK_MINUTES": 60,
                                      "LOGIN_IP_MAX_FAILURES": 7,
                                      "LOGIN_IP_WINDOW_MINUTES": 5})
    assert policy == LoginPolicy(3, timedelta(minutes=60), 7, timedelta(minutes=5))
    assert LoginPolicy.from_config(app.config) == LoginPolicy()
    settings = Config.from_env(environ={"LOGIN_MAX_FAILURES": "3",
                                        "SESSION_IDLE_MINUTES": "10"})
    assert settings.LOGIN_MAX_FAILURES == 3 and settings.SESSION_IDLE_MINUTES == 10
    with pytest.raises(ConfigError, match="LOGIN_LOCK_MINUTES"):
        Config.from_env(environ={"LOGIN_LOCK_MINUTES": "0"})


def test_too_many_failures_from_one_address_get_429(app, client, db_session, make_user,
                                                    monkeypatch):
    # LOGIN_IP_MAX_FAILURES (default 20) lowered to 6 to keep the test short.
    monkeypatch.setitem(app.config, "LOGIN_IP_MAX_FAILURES", 6)
    user = make_user("viewer")
    # Six names, one failure each: no account locks, the address does.
    for n in range(6):
        assert fail(client, f"spray-{n}", 1)[0].status_code == 401
    refused = login(client, user.username)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 15 * 60
    assert "from your address" in page_text(refused)
    # HTTP Basic from that address too, with the same wait.
    gis = client.get("/ogc/wms?SERVICE=WMS&REQUEST=GetCapabilities",
                     headers=basic(user.username, TEST_PASSWORD))
    assert gis.status_code == 429 and int(gis.headers["Retry-After"]) >= 1
    # Another address is not affected.
    other = client.post("/login", data={"username": user.username, "password": TEST_PASSWORD,
                                        "csrf_token": csrf_token(client)},
                        environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 302
    # When the oldest failures leave the window, the address may try again.
    db_session.execute(update(LoginAttempt).values(at=LoginAttempt.at - timedelta(minutes=16)))
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert login(client, user.username).status_code == 302


def test_http_basic_counts_failures_and_locks(client, db_session, make_user):
    user = make_user("viewer")
    url = "/api/v1/regions"
    assert client.get(url, headers=basic(user.username, TEST_PASSWORD)).status_code == 200
    for _ in range(5):
        response = client.get(url, headers=basic(user.username, WRONG))
        assert response.status_code == 401
        assert "wrong user name or password" in response.get_json()["detail"]
    db_session.refresh(user)
    assert user.failed_logins == 5 and user.locked_until is not None
    # The right password, although remembered from the first request, is refused.
    locked = client.get(url, headers=basic(user.username, TEST_PASSWORD))
    assert locked.status_code == 401 and LOCKED in locked.get_json()["detail"]
    assert "Basic" in locked.headers["WWW-Authenticate"]
    # The page refuses it too: one lock for both ways in.
    assert LOCKED in page_text(login(client, user.username))
    attempts = db_session.scalars(select(LoginAttempt).where(
        LoginAttempt.username == user.username).order_by(LoginAttempt.id)).all()
    assert [a.success for a in attempts] == [True] + [False] * 5
    assert {a.ip for a in attempts} == {"127.0.0.1"}


def test_admin_unlock_from_the_command_line(app, client, db_session, make_user):
    user = make_user("viewer")
    fail(client, user.username, 5)
    result = app.test_cli_runner().invoke(args=["users", "unlock", user.username])
    assert result.exit_code == 0 and f"unlocked {user.username}" in result.output
    db_session.refresh(user)
    assert user.failed_logins == 0 and user.locked_until <= datetime.now(UTC)
    # The failures before the unlock no longer count: one more does not lock again.
    fail(client, user.username, 1)
    assert login(client, user.username).status_code == 302
    record = db_session.scalars(select(AuditRecord).where(
        AuditRecord.action == "unlock", AuditRecord.entity_id == str(user.id))).one()
    assert record.username.startswith("cli:")
    again = app.test_cli_runner().invoke(args=["users", "unlock", user.username])
    assert "was not locked" in again.output


# --- sessions ----------------------------------------------------------------------------

def test_a_session_is_a_server_side_row_keyed_by_a_hash(client, db_session, make_user):
    user = make_user("viewer")
    assert login(client, user.username).status_code == 302
    sid = cookie_sid(client)
    assert sid and len(sid) >= 40
    row = db_session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert row.sid_sha256 == hashlib.sha256(sid.encode()).hexdigest() != sid
    assert row.ip == "127.0.0.1" and row.revoked_at is None
    lifetime = row.expires_at - row.created_at
    assert timedelta(hours=11, minutes=59) < lifetime <= timedelta(hours=12)


def test_idle_session_ends(client, db_session, make_user):
    user = make_user("viewer")
    login(client, user.username)
    assert client.get("/").status_code == 200
    db_session.execute(update(UserSession).where(UserSession.user_id == user.id)
                       .values(last_seen_at=datetime.now(UTC) - timedelta(minutes=29)))
    assert client.get("/").status_code == 200  # 29 minutes idle: still on, and seen now
    seen = db_session.scalars(select(UserSession.last_seen_at).where(
        UserSession.user_id == user.id)).one()
    assert seen > datetime.now(UTC) - timedelta(minutes=1)
    db_session.execute(update(UserSession).where(UserSession.user_id == user.id)
                       .values(last_seen_at=datetime.now(UTC) - timedelta(minutes=31)))
    page = client.get("/")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    api = client.get("/api/v1/regions")
    assert api.status_code == 401


def test_session_ends_at_its_absolute_lifetime(client, db_session, make_user):
    user = make_user("viewer")
    login(client, user.username)
    db_session.execute(update(UserSession).where(UserSession.user_id == user.id)
                       .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert client.get("/").status_code == 302
    assert client.get("/api/v1/regions").status_code == 401


def test_logout_revokes_the_row_and_a_replayed_cookie_is_refused(client, db_session,
                                                                 make_user):
    user = make_user("viewer")
    login(client, user.username)
    stolen = client.get_cookie("session").value
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/")}
                       ).status_code == 302
    row = db_session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert row.revoked_at is not None
    client.set_cookie("session", stolen)  # the cookie as it was before signing out
    assert client.get("/").status_code == 302
    assert client.get("/api/v1/regions").status_code == 401


def test_sign_in_issues_a_new_session_id(client, db_session, make_user):
    """No session fixation: whatever the cookie held before signing in is dropped, and
    signing in again revokes the previous session."""
    first, second = make_user("viewer"), make_user("viewer")
    client.get("/login")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
        session["_sid"] = "chosen-by-an-attacker"
    login(client, first.username)
    first_sid = cookie_sid(client)
    assert first_sid != "chosen-by-an-attacker"
    with client.session_transaction() as session:
        assert "planted" not in session
    login(client, second.username)
    assert cookie_sid(client) not in (None, first_sid)
    old = db_session.scalars(select(UserSession).where(UserSession.user_id == first.id)).one()
    assert old.revoked_at is not None


def test_a_remember_me_cookie_does_not_sign_in(app, client, make_user):
    from flask_login.utils import encode_cookie

    user = make_user("admin")
    with app.test_request_context():
        forged = encode_cookie(str(user.id))  # what Flask-Login's remember-me would set
    client.set_cookie("remember_token", forged)
    assert client.get("/").status_code == 302
    assert client.get("/admin").status_code == 302


def test_deactivating_a_user_or_revoking_sessions_ends_them_at_once(app, client, db_session,
                                                                    make_user):
    user = make_user("analyst")
    login(client, user.username)
    assert client.get("/").status_code == 200
    assert revoke_sessions(db_session, user_id=user.id) == 1
    assert client.get("/").status_code == 302

    login(client, user.username)
    assert client.get("/").status_code == 200
    update_user(db_session, user, active=False)
    assert client.get("/").status_code == 302
    row = db_session.scalars(select(UserSession).where(
        UserSession.user_id == user.id).order_by(UserSession.id.desc())).first()
    assert row.revoked_at is not None


def test_session_cookie_flags(app, monkeypatch):
    monkeypatch.setenv("BORDERRISK_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.delenv("SESSION_COOKIE_SECURE", raising=False)
    production = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                             "TESTING": True})
    assert production.config["SESSION_COOKIE_SECURE"] is True
    with production.app_context():
        response = production.test_client().get("/login")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "; SameSite=Lax" in cookie
    # Plain http in development; the setting overrides either way, and is checked.
    assert Config.from_env(environ={}).SESSION_COOKIE_SECURE is False
    assert Config.from_env(environ={"SESSION_COOKIE_SECURE": "true"}).SESSION_COOKIE_SECURE
    with pytest.raises(ConfigError, match="SESSION_COOKIE_SECURE"):
        Config.from_env(environ={"SESSION_COOKIE_SECURE": "maybe"})
    development = app.test_client().get("/login").headers["Set-Cookie"]
    assert "; HttpOnly" in development and "; Secure" not in development


# --- the command line: tokens and users ----------------------------------------------

@pytest.fixture
def runner(app, db_session, tmp_path, monkeypatch):
    monkeypatch.setattr(app_cli, "DEMO_CREDENTIALS_FILE", tmp_path / "demo-password")
    return app.test_cli_runner()


def test_tokens_list_and_revoke_from_the_command_line(runner, client, db_session, make_user):
    user, other = make_user("viewer"), make_user("viewer")
    row, token = create_token(db_session, user, "qgis", timedelta(days=30))
    create_token(db_session, other, "someone-else")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/regions", headers=headers).status_code == 200

    listing = runner.invoke(args=["tokens", "list", "--user", user.username])
    assert listing.exit_code == 0, listing.output
    lines = listing.output.strip().splitlines()
    assert lines[0] == "id\tuser\tname\tcreated\texpires\tlast_used\trevoked"
    assert len(lines) == 2 and "someone-else" not in listing.output
    fields = lines[1].split("\t")
    assert fields[:3] == [str(row.id), user.username, "qgis"]
    assert fields[5] != "-" and fields[6] == "-"  # used just now, not revoked
    assert token not in listing.output and row.token_sha256 not in listing.output

    result = runner.invoke(args=["tokens", "revoke", str(row.id)])
    assert result.exit_code == 0 and f"revoked token {row.id} (qgis)" in result.output
    assert client.get("/api/v1/regions", headers=headers).status_code == 401
    revoked = runner.invoke(args=["tokens", "list", "--user", user.username])
    assert revoked.output.strip().splitlines()[1].split("\t")[6] != "-"
    record = db_session.scalars(select(AuditRecord).where(
        AuditRecord.entity == "token", AuditRecord.action == "revoke",
        AuditRecord.entity_id == str(row.id))).one()
    assert record.username.startswith("cli:")
    assert record.before["revoked_at"] is None and record.after["revoked_at"] is not None
    assert token not in str(record.after) and row.token_sha256 not in str(record.after)
    missing = runner.invoke(args=["tokens", "revoke", "999999"])
    assert missing.exit_code == 1 and "no token with id 999999" in missing.output


def test_users_create_with_regions_and_set_regions(runner, db_session, sample_layers):
    result = runner.invoke(args=["users", "create", "kakheti-analyst", "--role", "analyst",
                                 "--password", "long-enough-pw", "--region", "T-KA"])
    assert result.exit_code == 0, result.output
    assert "(analyst; GBP; T-KA)" in result.output
    user = db_session.scalar(select(User).where(User.username == "kakheti-analyst"))
    assert [r.code for r in user.regions] == ["T-KA"]
    listing = runner.invoke(args=["users", "list"])
    assert "kakheti-analyst\tanalyst\tGBP\tactive\tT-KA" in listing.output

    both = runner.invoke(args=["users", "set-regions", "kakheti-analyst", "T-KK", "T-KA"])
    assert both.exit_code == 0 and "kakheti-analyst: T-KA,T-KK" in both.output
    unknown = runner.invoke(args=["users", "set-regions", "kakheti-analyst", "XX-9"])
    assert unknown.exit_code == 1 and "unknown code(s) XX-9" in unknown.output
    # No code is no longer "every region": that is asked for by name.
    unclear = runner.invoke(args=["users", "set-regions", "kakheti-analyst"])
    assert unclear.exit_code == 2 and "--all-regions" in unclear.output
    everywhere = runner.invoke(args=["users", "set-regions", "kakheti-analyst",
                                     "--all-regions"])
    assert "kakheti-analyst: all regions" in everywhere.output
    db_session.refresh(user)
    assert user.regions == [] and user.all_regions
    nowhere = runner.invoke(args=["users", "set-regions", "kakheti-analyst", "--none"])
    assert "kakheti-analyst: no region" in nowhere.output
    db_session.refresh(user)
    assert user.regions == [] and not user.all_regions
    listing = runner.invoke(args=["users", "list"])
    assert "kakheti-analyst\tanalyst\tGBP\tactive\tno region" in listing.output

    records = db_session.scalars(select(AuditRecord).where(
        AuditRecord.entity == "user", AuditRecord.entity_id == str(user.id))
        .order_by(AuditRecord.id)).all()
    assert [r.action for r in records] == ["create", "update", "update", "update"]
    assert records[0].after["regions"] == ["T-KA"] and records[0].before is None
    assert records[0].after["all_regions"] is False
    assert records[1].before["regions"] == ["T-KA"]
    assert records[1].after["regions"] == ["T-KA", "T-KK"]
    assert (records[2].after["regions"], records[2].after["all_regions"]) == ([], True)
    assert (records[3].before["all_regions"], records[3].after["all_regions"]) == (True, False)
    assert all(r.username.startswith("cli:") for r in records)
    text = " ".join(str([r.before, r.after, r.detail]) for r in records)
    assert "long-enough-pw" not in text and "argon2" not in text
    bad = runner.invoke(args=["users", "create", "x", "--role", "viewer",
                              "--password", "long-enough-pw", "--region", "NOPE"])
    assert bad.exit_code == 1 and "unknown code(s) NOPE" in bad.output
    # A new user's scope is always chosen: regions, or every region by name.
    unscoped = runner.invoke(args=["users", "create", "y", "--role", "viewer",
                                   "--password", "long-enough-pw"])
    assert unscoped.exit_code == 1 and "choose the user's regions or all" in unscoped.output
    both = runner.invoke(args=["users", "create", "y", "--role", "viewer", "--password",
                               "long-enough-pw", "--region", "T-KA", "--all-regions"])
    assert both.exit_code == 1 and "not both" in both.output
    everywhere = runner.invoke(args=["users", "create", "y", "--role", "viewer",
                                     "--password", "long-enough-pw", "--all-regions"])
    assert everywhere.exit_code == 0 and "(viewer; GBP; every region)" in everywhere.output
    assert db_session.scalar(select(User.all_regions).where(User.username == "y")) is True


def test_old_attempts_are_pruned(client, db_session, make_user, monkeypatch):
    from app.auth import signin

    old = LoginAttempt(at=datetime.now(UTC) - timedelta(days=8), username="ancient",
                       ip="192.0.2.1", success=False)
    recent = LoginAttempt(at=datetime.now(UTC) - timedelta(days=6), username="recent",
                          ip="192.0.2.1", success=False)
    db_session.add_all([old, recent])
    db_session.flush()
    monkeypatch.setattr(signin, "_next_prune", 0.0)
    fail(client, "whoever", 1)
    names = set(db_session.scalars(select(LoginAttempt.username)))
    assert "ancient" not in names and {"recent", "whoever"} <= names



def test_sign_ins_sign_outs_and_refusals_are_in_the_audit_trail(client, db_session, make_user):
    """Every attempt (page and HTTP Basic) is kept in the audit trail, which outlives
    login_attempts' 7 days; the password never is (issue 14 item 3)."""
    user = make_user("viewer")

    def trail():
        rows = db_session.scalars(select(AuditRecord).where(
            AuditRecord.action.like("sign%")).order_by(AuditRecord.id)).all()
        return [(r.action, r.entity_id, r.username, (r.detail or {}).get("reason"))
                for r in rows]

    fail(client, user.username, 1)
    fail(client, "nobody-here", 1)
    assert login(client, user.username).status_code == 302
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert client.get("/api/v1/regions", headers=basic(user.username, WRONG)
                      ).status_code == 401
    fail(client, user.username, 4)  # the fifth failure locks the account
    assert login(client, user.username).status_code == 401  # refused, password unchecked
    uid = str(user.id)
    assert trail() == [
        ("sign_in_failed", uid, None, None), ("sign_in_failed", None, None, None),
        ("sign_in", uid, user.username, None), ("sign_out", uid, user.username, None),
        ("sign_in_failed", uid, None, None),
        *[("sign_in_failed", uid, None, None)] * 4,
        ("sign_in_refused", uid, None, "account locked")]
    records = db_session.scalars(select(AuditRecord)).all()
    assert all(TEST_PASSWORD not in str(r.detail) and WRONG not in str(r.detail)
               for r in records)
    given = db_session.scalars(select(AuditRecord).where(
        AuditRecord.action == "sign_in_failed", AuditRecord.entity_id.is_(None))).one()
    assert given.detail == {"username_given": "nobody-here"}
