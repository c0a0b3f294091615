"""Hardening: security headers, HSTS and trusted proxies, cache policy, size and time
limits, no stack traces to clients, no secrets in the log."""

from __future__ import annotations

import io
import json
import logging
import re

import psycopg2
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.auth.permissions import ENDPOINT_ROLES, PUBLIC
from app.extensions import db
from geo.io import ingest
from geo.layers import LAYERS
from tests.app.auth.test_auth import csrf_token, login
from tests.conftest import DATA_DIR, TEST_PASSWORD, make_app


@pytest.fixture
def viewer(token_headers):
    return token_headers("viewer")


def test_security_headers_on_pages_api_and_errors(client, viewer, make_user):
    user = make_user("viewer")
    login(client, user.username)
    for response in (client.get("/"), client.get("/login"),
                     client.get("/api/v1/incidents", headers=viewer),
                     client.get("/api/v1/nothing-here", headers=viewer)):
        policy = response.headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
        assert "unsafe" not in policy
        assert directives["frame-ancestors"] == "'none'"
        assert directives["object-src"] == "'none'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert response.headers["X-Frame-Options"] == "DENY"


def test_pages_have_no_inline_scripts_or_handlers(client, make_user):
    """The CSP forbids inline scripts, so a page that had one would break: none has."""
    user = make_user("viewer")
    login(client, user.username)
    for path in ("/", "/login", "/api/v1/docs"):
        html = client.get(path).get_data(as_text=True)
        scripts = re.findall(r"<script\b[^>]*>", html)
        assert scripts or path == "/login", path
        assert all("src=" in tag for tag in scripts), (path, scripts)
        assert not re.search(r"<script\b[^>]*>\s*(?!</script>)\S", html), path  # inline code
        assert not re.search(r"\son[a-z]+\s*=", html), path  # onclick=, onload=...
        assert "javascript:" not in html, path


def test_hsts_only_over_tls(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://borderrisk.example")
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_forwarded_headers_are_ignored_unless_proxies_are_trusted(app, client):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    assert app.config["TRUSTED_PROXIES"] == 0
    assert "Strict-Transport-Security" not in client.get("/login", headers=forwarded).headers

    proxied = make_app(app.config["SQLALCHEMY_DATABASE_URI"], TRUSTED_PROXIES=1)
    seen = {}

    @proxied.before_request
    def remember_address():
        from flask import request

        seen["remote_addr"] = request.remote_addr

    response = proxied.test_client().get("/login", headers=forwarded,
                                         environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert seen["remote_addr"] == "203.0.113.9"
    # Two hops claimed, one proxy trusted: only the address the proxy added counts.
    proxied.test_client().get("/login", environ_base={"REMOTE_ADDR": "127.0.0.1"}, headers={
        "X-Forwarded-For": "198.51.100.1, 203.0.113.9"})
    assert seen["remote_addr"] == "203.0.113.9"
    with proxied.app_context():
        db.engine.dispose()


def test_cache_policy(client, viewer, sample_layers, make_user):
    no_store = [
        client.get("/api/v1/incidents", headers=viewer),
        client.get("/api/v1/incidents", query_string={"f": "csv"}, headers=viewer),
        client.get(f"/api/v1/incidents/{sample_layers['incidents']['T-1']}", headers=viewer),
        client.get("/api/v1/openapi.json", headers=viewer),
        client.get("/ogc/features/collections/incidents/items", headers=viewer),
        client.get("/ogc/features/collections/incidents/items", headers=viewer,
                   query_string={"f": "html"}),
        client.get("/api/v1/incidents", query_string={"limit": 0}, headers=viewer),  # 422
        client.get("/api/v1/incidents"),  # 401
    ]
    for response in no_store:
        assert response.headers["Cache-Control"] == "no-store", response.request.path
    user = make_user("viewer")
    login(client, user.username)
    assert client.get("/").headers["Cache-Control"] == "no-store"
    # Tiles keep their own policy (private, revalidated by ETag); WMS images are private.
    tile = client.get("/ogc/tiles/border_segments/0/0/0.mvt", headers=viewer)
    assert tile.headers["Cache-Control"] == "private, max-age=60"
    wms = client.get("/ogc/wms", headers=viewer, query_string={
        "SERVICE": "WMS", "REQUEST": "GetCapabilities"})
    assert wms.headers["Cache-Control"] == "private"
    static = client.get("/static/css/app.css")
    static.close()
    assert static.status_code == 200 and "no-store" not in static.headers["Cache-Control"]


def test_oversize_body_is_413(app, client, token_headers, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 64 * 1024)
    analyst = token_headers("analyst")
    big = {"type": "Feature", "geometry": None,
           "properties": {"description": "x" * 100_000}}
    response = client.post("/api/v1/incidents", json=big, headers=analyst)
    assert response.status_code == 413
    assert response.content_type == "application/problem+json"
    upload = client.post("/api/v1/import/incidents", headers=analyst, data={
        "file": (io.BytesIO(b"lon,lat\n" + b"45.0,41.3\n" * 20_000), "big.csv")})
    assert upload.status_code == 413
    assert upload.content_type == "application/problem+json"


def test_default_limits_exist(app):
    assert app.config["MAX_CONTENT_LENGTH"] == 50 * 1024 * 1024
    assert app.config["WMS_MAX_SIZE"] == 4096
    assert app.config["IMPORT_MAX_UNZIPPED_BYTES"] == 1024 * 1024 * 1024


# --- time limits -------------------------------------------------------------------------

def test_app_connections_have_the_statement_timeout(app):
    assert app.config["STATEMENT_TIMEOUT_S"] == 30
    with app.app_context(), db.engine.connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar_one() == "30s"


def test_a_query_past_the_time_limit_is_a_clear_503(app, client, db_session, token_headers):
    """A request whose query waits longer than the limit (here on a lock another
    connection holds) is cancelled by PostgreSQL and answered with a clear 503."""
    viewer = token_headers("viewer")
    db_session.execute(text("SET LOCAL statement_timeout = '1s'"))
    holder = psycopg2.connect(make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(
        drivername="postgresql").render_as_string(hide_password=False))
    try:
        with holder.cursor() as cursor:
            cursor.execute("LOCK TABLE incidents IN ACCESS EXCLUSIVE MODE")
        response = client.get("/api/v1/incidents", headers=viewer)
    finally:
        holder.rollback()
        holder.close()
    assert response.status_code == 503
    body = response.get_json()
    assert response.content_type == "application/problem+json"
    assert "in time" in body["detail"]
    assert "Traceback" not in response.get_data(as_text=True)


def test_an_import_runs_with_its_own_longer_time_limit(db_session, analysis_srid):
    db_session.execute(text("SET LOCAL statement_timeout = '30s'"))
    during = []

    def progress(rows):
        during.append(db_session.execute(text("SHOW statement_timeout")).scalar_one())

    report = ingest.import_file(db_session, LAYERS["incidents"], DATA_DIR / "incidents_small.csv",
                                analysis_srid=analysis_srid, dry_run=True, progress=progress,
                                statement_timeout_s=600)
    assert report.rows > 0
    assert during and set(during) == {"10min"}
    assert db_session.execute(text("SHOW statement_timeout")).scalar_one() == "30s"


def test_gunicorn_has_a_worker_timeout():
    from config import BASE_DIR

    makefile = (BASE_DIR / "Makefile").read_text()
    command = next(line for line in makefile.splitlines() if "gunicorn" in line
                   and "--bind" in line)
    assert re.search(r"--timeout \d+", command)


# --- no stack traces ---------------------------------------------------------------------

@pytest.fixture
def failing_app(app, monkeypatch):
    """An app with one public route that fails with an internal detail."""
    failing = make_app(app.config["SQLALCHEMY_DATABASE_URI"])

    def boom():
        raise RuntimeError("internal detail /srv/borderrisk/secret.py line 42")

    failing.add_url_rule("/boom", "boom", boom)
    failing.add_url_rule("/api/v1/boom", "api_boom", boom)
    monkeypatch.setitem(ENDPOINT_ROLES, "boom", PUBLIC)
    monkeypatch.setitem(ENDPOINT_ROLES, "api_boom", PUBLIC)
    yield failing
    with failing.app_context():
        db.engine.dispose()


def test_no_stack_trace_reaches_the_client(failing_app, caplog):
    client = failing_app.test_client()
    for path in ("/boom", "/api/v1/boom"):
        response = client.get(path)
        body = response.get_data(as_text=True)
        assert response.status_code == 500
        assert response.content_type == "application/problem+json"
        assert json.loads(body)["detail"].startswith("an unexpected error occurred")
        for leak in ("Traceback", "internal detail", "secret.py", "RuntimeError", 'File "'):
            assert leak not in body
    assert "internal detail" in caplog.text  # the log has it


# --- secrets never logged ----------------------------------------------------------------

@pytest.fixture
def debug_log(caplog):
    """Everything logged at DEBUG and up (SQLAlchemy then logs every statement with its
    parameters); requested before the app's connections are made."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine.Engine")  # set to WARNING
    return caplog


def logged_text(caplog) -> str:
    return caplog.text + "".join(str(record.args) for record in caplog.records)


def test_login_and_token_use_log_no_secret(debug_log, client, db_session, make_user):
    from app.auth.tokens import create_token

    user = make_user("analyst")
    _, token = create_token(db_session, user, "log-test")
    wrong = "Wrong-Password-" + "q" * 12
    client.post("/login", data={"username": user.username, "password": wrong,
                                "csrf_token": csrf_token(client)})
    login(client, user.username)
    client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}"})
    client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {token}x"})
    client.get("/ogc/wms", query_string={"SERVICE": "WMS", "REQUEST": "GetCapabilities"},
               headers={"Authorization": "Basic " + __import__("base64").b64encode(
                   f"{user.username}:{TEST_PASSWORD}".encode()).decode()})
    assert "SELECT" in debug_log.text  # the log was on, statements and parameters too
    logged = logged_text(debug_log)
    assert user.username in logged
    for secret in (TEST_PASSWORD, wrong, token, token[:16]):
        assert secret not in logged


def test_a_failed_database_connection_logs_no_password(debug_log, app):
    password = "Db-Secret-" + "z" * 12
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).set(
        password=password, port=1).render_as_string(hide_password=False)
    broken = make_app(url)
    client = broken.test_client()
    responses = [client.get("/healthz"), client.get(
        "/api/v1/incidents", headers={"Authorization": "Bearer x" * 3})]
    for response in responses:
        assert response.status_code == 503
        assert password not in response.get_data(as_text=True)
    assert "healthz" in debug_log.text or debug_log.records
    assert password not in logged_text(debug_log)
    with broken.app_context():
        db.engine.dispose()



# --- the settings --------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "value"), [
    ("TRUSTED_PROXIES", "-1"), ("TRUSTED_PROXIES", "one"), ("STATEMENT_TIMEOUT_S", "30s"),
    ("IMPORT_STATEMENT_TIMEOUT_S", "\u00b2"), ("IMPORT_MAX_UNZIPPED_MB", "lots"),
])
def test_invalid_hardening_settings_name_the_setting(name, value):
    from config import Config, ConfigError

    with pytest.raises(ConfigError, match=name):
        Config.from_env({"DATABASE_URL": "postgresql://u:p@h:1/d", "SECRET_KEY": "k" * 32,
                         name: value})


def test_statement_timeout_only_for_the_web_app():
    import click

    from app import _engine_options
    from config import Config

    base = {"DATABASE_URL": "postgresql://u:p@h:1/d", "SECRET_KEY": "k" * 32}
    settings = Config.from_env({**base, "STATEMENT_TIMEOUT_S": "12"})
    given = settings.SQLALCHEMY_ENGINE_OPTIONS["connect_args"]["options"]
    assert given == "-c jit=off"  # config.py's, for every connection
    web = _engine_options(settings)
    assert web["connect_args"]["options"] == f"{given} -c statement_timeout=12000"
    web["connect_args"]["options"] = given
    assert web == settings.SQLALCHEMY_ENGINE_OPTIONS  # the other options are kept
    off = _engine_options(Config.from_env({**base, "STATEMENT_TIMEOUT_S": "0"}))
    assert off["connect_args"]["options"] == given
    with click.Context(click.Command("flask")):  # a command of the flask CLI
        cli = _engine_options(Config.from_env(base))
    assert cli["connect_args"]["options"] == given
