"""The per-process cache of verified API tokens (app/auth/token_cache.py) and the
database's announcements that invalidate it (migration b8d2f4a6c1e3).

On a database of their own, committed (the listener sees only what is committed); the
changes come from other connections, as from another node.
"""

from __future__ import annotations

import select
import time
from datetime import UTC, datetime, timedelta

import flask_migrate
import psycopg2
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from app.auth.hashing import sha256_hex
from app.auth.models import User
from app.auth.token_cache import CHANNEL, TokenCache
from app.auth.tokens import caller_for_token, create_token
from app.auth.users import create_user
from app.extensions import db
from testsupport.apps import TEST_PASSWORD, make_app
from testsupport.databases import owner_url

# A functional bound of the issue (a revoked token refused within 1 s): generous here,
# the measured delay is in docs/benchmarks.md.
REFUSED_WITHIN_S = 5.0


def plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="module")
def cached_app(databases):
    app = make_app(databases.create(), TOKEN_CACHE=True)
    with app.app_context():
        flask_migrate.upgrade()
        db.session.remove()
    assert app.extensions["token_cache"].wait_listening(10)
    yield app
    app.extensions["token_cache"].close()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def other_connection(cached_app):
    """A connection of the app's role outside the app (another node's)."""
    conn = psycopg2.connect(plain(cached_app.config["SQLALCHEMY_DATABASE_URI"]))
    conn.autocommit = True
    yield conn
    conn.close()


def new_token(app, username: str, role: str = "viewer", expires_in=None) -> tuple[int, str]:
    with app.app_context():
        user = create_user(db.session, username, role, TEST_PASSWORD, all_regions=True)
        row, token = create_token(db.session, user, "cache", expires_in=expires_in)
        db.session.commit()
        token_id = row.id
        db.session.remove()
    return token_id, token


def get(app, token: str) -> int:
    client = app.test_client()
    return client.get("/api/v1/incidents?limit=1",
                      headers={"Authorization": f"Bearer {token}"}).status_code


def wait_until(condition, timeout: float = REFUSED_WITHIN_S) -> float:
    """Seconds until ``condition()`` holds (polled); fails after ``timeout``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "not within the bound"
        time.sleep(0.01)
    return time.monotonic() - started


def token_statements(app, function) -> list[str]:
    """The statements reading ``api_tokens`` that ``function()`` sends."""
    seen = []

    def record(conn, cursor, statement, *args):
        if "api_tokens" in statement:
            seen.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        function()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


def test_a_verified_token_is_answered_without_the_database(cached_app):
    _, token = new_token(cached_app, "cache-reader")
    first = token_statements(cached_app, lambda: get(cached_app, token))
    assert first, "the first use reads the token"
    statuses = []
    again = token_statements(cached_app, lambda: statuses.append(get(cached_app, token)))
    assert statuses == [200]
    assert again == []


def test_a_token_revoked_elsewhere_is_refused(cached_app, other_connection):
    token_id, token = new_token(cached_app, "cache-revoked")
    assert get(cached_app, token) == 200
    assert get(cached_app, token) == 200  # from the cache
    with other_connection.cursor() as cur:
        cur.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = %s", (token_id,))
    wait_until(lambda: get(cached_app, token) == 401)


@pytest.mark.parametrize(("change", "expected"), [
    ("UPDATE users SET active = false WHERE username = %(name)s", None),
    ("UPDATE users SET role = 'analyst' WHERE username = %(name)s", "analyst"),
    ("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE user_id = "
     "(SELECT id FROM users WHERE username = %(name)s)", None),
    ("DELETE FROM api_tokens WHERE user_id = (SELECT id FROM users WHERE username = "
     "%(name)s)", None),
])
def test_user_and_token_changes_elsewhere_are_seen(cached_app, other_connection, change,
                                                   expected):
    name = f"cache-change-{abs(hash(change)) % 10**8}"
    _, token = new_token(cached_app, name)

    def role():
        with cached_app.app_context():
            caller = caller_for_token(db.session, token)
            db.session.remove()
        return caller.role if caller else None

    assert role() == "viewer"
    assert role() == "viewer"  # cached
    with other_connection.cursor() as cur:
        cur.execute(change, {"name": name})
    wait_until(lambda: role() == expected)


def test_regions_changed_elsewhere_are_seen(cached_app, other_connection):
    with cached_app.app_context():
        for code in ("T-CACHE-A", "T-CACHE-B"):
            db.session.execute(text(
                "INSERT INTO regions (code, name_en, name_ka, provenance, geom) VALUES "
                "(:code, 'cache test', 'cache test', 'synthetic', ST_GeomFromText("
                "'MULTIPOLYGON(((44 41, 44.1 41, 44.1 41.1, 44 41.1, 44 41)))', 4326))"),
                {"code": code})
        user = create_user(db.session, "cache-scoped", "viewer", TEST_PASSWORD,
                           ["T-CACHE-A"], all_regions=False)
        _, token = create_token(db.session, user, "cache")
        db.session.commit()
        user_id = user.id
        db.session.remove()

    def codes():
        with cached_app.app_context():
            caller = caller_for_token(db.session, token)
            db.session.remove()
        return [r.code for r in caller.regions]

    assert codes() == ["T-CACHE-A"]
    assert codes() == ["T-CACHE-A"]  # cached
    with other_connection.cursor() as cur:
        cur.execute("INSERT INTO user_regions (user_id, region_id) SELECT %s, id FROM "
                    "regions WHERE code = 'T-CACHE-B'", (user_id,))
    wait_until(lambda: codes() == ["T-CACHE-A", "T-CACHE-B"])
    with other_connection.cursor() as cur:
        cur.execute("UPDATE regions SET code = 'T-CACHE-C' WHERE code = 'T-CACHE-B'")
    wait_until(lambda: codes() == ["T-CACHE-A", "T-CACHE-C"])


def test_a_commit_of_the_process_forgets_at_once(cached_app):
    token_id, token = new_token(cached_app, "cache-local")
    assert get(cached_app, token) == 200
    cache = cached_app.extensions["token_cache"]
    assert cache.get(sha256_hex(token), datetime.now(UTC)) is not None
    with cached_app.app_context():
        from app.auth.tokens import revoke_token

        revoke_token(db.session, token_id)
        db.session.commit()
        db.session.remove()
    assert cache.get(sha256_hex(token), datetime.now(UTC)) is None
    assert get(cached_app, token) == 401


def announcements(conn, timeout: float = 0.5) -> list[str]:
    """Payloads on the channel within ``timeout`` seconds."""
    payloads = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        if select.select([conn], [], [], left)[0]:
            conn.poll()
            payloads += [n.payload for n in conn.notifies]
            conn.notifies.clear()
    return payloads


def test_what_the_database_announces(cached_app, other_connection):
    token_id, _ = new_token(cached_app, "cache-announced")
    with cached_app.app_context():
        user_id = db.session.execute(db.select(User.id).filter_by(
            username="cache-announced")).scalar_one()
        db.session.remove()
    listener = psycopg2.connect(plain(cached_app.config["SQLALCHEMY_DATABASE_URI"]))
    listener.autocommit = True
    with listener.cursor() as cur:
        cur.execute(f"LISTEN {CHANNEL}")
    try:
        with other_connection.cursor() as cur:
            # The sign-in bookkeeping announces nothing.
            cur.execute("UPDATE api_tokens SET last_used_at = now() WHERE id = %s",
                        (token_id,))
            cur.execute("UPDATE users SET last_login_at = now(), failed_logins = 1 "
                        "WHERE id = %s", (user_id,))
            assert announcements(listener) == []
            cur.execute("UPDATE api_tokens SET revoked_at = now() WHERE id = %s",
                        (token_id,))
            assert announcements(listener) == [f"token:{token_id}"]
            cur.execute("UPDATE users SET all_regions = false WHERE id = %s", (user_id,))
            assert announcements(listener) == [f"user:{user_id}"]
            # A rolled-back change announces nothing.
            cur.execute("BEGIN")
            cur.execute("UPDATE users SET active = false WHERE id = %s", (user_id,))
            cur.execute("ROLLBACK")
            assert announcements(listener) == []
    finally:
        listener.close()


def test_an_expired_entry_is_refused_without_announcement(cached_app):
    _, token = new_token(cached_app, "cache-expiring", expires_in=timedelta(hours=1))
    assert get(cached_app, token) == 200
    cache = cached_app.extensions["token_cache"]
    digest = sha256_hex(token)
    assert cache.get(digest, datetime.now(UTC)) is not None
    assert cache.get(digest, datetime.now(UTC) + timedelta(hours=2)) is None
    assert cache.get(digest, datetime.now(UTC)) is None  # dropped


def test_a_read_begun_before_an_invalidation_is_not_kept(cached_app):
    _, token = new_token(cached_app, "cache-race")
    cache = cached_app.extensions["token_cache"]
    with cached_app.app_context():
        generation = cache.generation()
        caller = caller_for_token(db.session, token)  # stored with its own generation
        db.session.remove()
    cache.clear()
    cache.put(sha256_hex(token), caller, None, generation)  # read before the clear
    assert cache.get(sha256_hex(token), datetime.now(UTC)) is None


def test_a_lost_listener_empties_the_cache_and_reconnects(cached_app):
    _, token = new_token(cached_app, "cache-reconnect")
    assert get(cached_app, token) == 200
    cache = cached_app.extensions["token_cache"]
    assert len(cache) >= 1
    owner = psycopg2.connect(plain(owner_url(cached_app.config["SQLALCHEMY_DATABASE_URI"])))
    owner.autocommit = True
    with owner.cursor() as cur:
        find = ("SELECT pid FROM pg_stat_activity WHERE application_name = "
                "'token-cache-listener' AND datname = current_database()")
        cur.execute(find)
        (before,) = cur.fetchone()
        cur.execute("SELECT pg_terminate_backend(%s)", (before,))

        def reconnected():
            cur.execute(find)
            row = cur.fetchone()
            return row is not None and row[0] != before and cache.listening

        wait_until(reconnected, timeout=15)
    owner.close()
    assert cache.get(sha256_hex(token), datetime.now(UTC)) is None  # emptied
    assert get(cached_app, token) == 200
    assert cache.get(sha256_hex(token), datetime.now(UTC)) is not None


def test_a_cache_that_is_not_listening_stands_aside(databases):
    cache = TokenCache("postgresql://nobody:wrong@127.0.0.1:1/none")
    assert not cache.wait_listening(0.5)
    assert cache.generation() is None
    cache.close()


def test_off_under_testing_unless_asked(databases):
    assert "token_cache" not in make_app(databases.create()).extensions
