"""A token revoked on one app node is refused on every node (issue 21): two gunicorn
nodes (separate processes, two workers each, each worker with its token cache) on one
database; an admin revokes the token through node A's admin page; node B, which has the
token cached, refuses it within the issue's bound (1 s; asserted generously, the measured
delay is printed and recorded in docs/benchmarks.md)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

import flask_migrate
import pytest
import requests

from app.auth.tokens import create_token
from app.auth.users import create_user
from app.extensions import db
from testsupport.apps import TEST_PASSWORD, make_app

PROJECT_DIR = Path(__file__).resolve().parents[3]
REFUSED_WITHIN_S = 5.0  # the bound is 1 s; see the module's docstring
# Settings a node must not inherit from the test process.
WITHHELD = ("DATABASE_OWNER_URL", "BORDERRISK_NOW")


@contextmanager
def gunicorn_node(database_url: str, workdir: Path, name: str):
    """``app:create_app()`` under gunicorn (2 workers, token cache on) on a free port;
    yields its base URL once it answers."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in WITHHELD}
    env.update(DATABASE_URL=database_url, BORDERRISK_ENV="development", TOKEN_CACHE="true",
               SECRET_KEY=secrets.token_hex(32), UPLOAD_DIR=str(workdir / "uploads"))
    log = (workdir / f"{name}.log").open("wb")
    process = subprocess.Popen(  # noqa: S603
        [str(Path(sys.executable).parent / "gunicorn"), "--workers", "2", "--bind",
         f"127.0.0.1:{port}", "--timeout", "60", "app:create_app()"],
        cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"node {name} ended: see {workdir / name}.log"
            try:
                requests.get(f"{url}/healthz", timeout=10)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert time.monotonic() < deadline, f"node {name} did not answer"
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or \
        re.search(r'id="csrf_token" name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture(scope="module")
def database(databases):
    """A migrated database with an admin and a viewer's token, committed."""
    app = make_app(databases.create())
    with app.app_context():
        flask_migrate.upgrade()
        create_user(db.session, "nodes-admin", "admin", TEST_PASSWORD, all_regions=True)
        viewer = create_user(db.session, "nodes-viewer", "viewer", TEST_PASSWORD,
                             all_regions=True)
        row, token = create_token(db.session, viewer, "nodes")
        db.session.commit()
        ids = {"token": row.id, "viewer": viewer.id}
        db.session.remove()
        db.engine.dispose()
    return app.config["SQLALCHEMY_DATABASE_URI"], token, ids


def test_a_token_revoked_on_one_node_is_refused_on_every_node(database, tmp_path):
    url, token, ids = database
    bearer = {"Authorization": f"Bearer {token}"}
    with ExitStack() as stack:
        node_a = stack.enter_context(gunicorn_node(url, tmp_path, "a"))
        node_b = stack.enter_context(gunicorn_node(url, tmp_path, "b"))
        for _ in range(6):  # the token used on both nodes, by their workers
            for node in (node_a, node_b):
                assert requests.get(f"{node}/api/v1/incidents?limit=1", headers=bearer,
                                    timeout=30).status_code == 200

        admin = requests.Session()
        page = admin.get(f"{node_a}/login", timeout=30)
        signed_in = admin.post(f"{node_a}/login", timeout=30, data={
            "username": "nodes-admin", "password": TEST_PASSWORD,
            "csrf_token": csrf_token(page.text)})
        assert signed_in.status_code == 200 and "/login" not in signed_in.url
        user_page = admin.get(f"{node_a}/admin/users/{ids['viewer']}", timeout=30)
        assert user_page.status_code == 200
        revoked = admin.post(f"{node_a}/admin/tokens/{ids['token']}/revoke", timeout=30,
                             data={"csrf_token": csrf_token(user_page.text)})
        assert revoked.status_code == 200
        revoked_at = time.monotonic()

        delays = {}
        while len(delays) < 2:
            for name, node in (("A", node_a), ("B", node_b)):
                if name in delays:
                    continue
                status = requests.get(f"{node}/api/v1/incidents?limit=1", headers=bearer,
                                      timeout=30).status_code
                if status == 401:
                    delays[name] = time.monotonic() - revoked_at
                else:
                    assert status == 200
            assert time.monotonic() - revoked_at < REFUSED_WITHIN_S, delays
        # Every later request, on any worker of either node, is refused.
        for _ in range(6):
            for node in (node_a, node_b):
                assert requests.get(f"{node}/api/v1/incidents?limit=1", headers=bearer,
                                    timeout=30).status_code == 401
    print(f"\nrevoked token refused after: node A {delays['A'] * 1000:.0f} ms, "
          f"node B {delays['B'] * 1000:.0f} ms")
