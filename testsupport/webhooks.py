"""Webhooks in tests and benchmarks: a local receiver that records what it is sent,
an app allowed to reach it, and ``flask worker`` processes on a test database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from app.extensions import db
from testsupport.apps import TEST_PASSWORD, load_sample_layers, make_app
from testsupport.databases import owner_url

BASE_DIR = Path(__file__).resolve().parents[1]


class Receiver:
    """A threaded HTTP server on 127.0.0.1 recording each POST (``requests``: dicts of
    ``path``, ``headers``, ``body`` bytes, ``json``, ``at`` monotonic seconds).

    ``status`` is what it answers (200; 503 while "down"; 302 sends a ``Location`` to
    ``/fetched``, whose requests are recorded in ``fetched``). ``delay_s`` holds each
    answer that long.
    """

    def __init__(self):
        self.requests: list[dict] = []
        self.fetched: list[str] = []
        self.status = 200
        self.delay_s = 0.0
        self.lock = threading.RLock()
        self.arrived = threading.Condition(self.lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                receiver.fetched.append(self.path)
                self._answer(200)

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path.startswith("/fetched"):
                    receiver.fetched.append(self.path)
                    self._answer(200)
                    return
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                status = receiver.status
                with receiver.arrived:
                    receiver.requests.append({
                        "path": self.path, "headers": dict(self.headers), "body": body,
                        "json": json.loads(body) if body else None, "status": status,
                        "at": time.monotonic()})
                    receiver.arrived.notify_all()
                self._answer(status)

            def _answer(self, status):
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", f"http://127.0.0.1:{receiver.port}/fetched")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def accepted(self) -> list[dict]:
        """The requests answered 2xx."""
        with self.lock:
            return [r for r in self.requests if 200 <= r["status"] < 300]

    def events(self) -> list[dict]:
        """The CloudEvents of the accepted requests, in the order they arrived."""
        found = []
        for request in self.accepted():
            body = request["json"]
            found += body if isinstance(body, list) else [body]
        return found

    def wait_for(self, predicate, timeout_s: float = 60.0) -> bool:
        """Wait until ``predicate(self)`` holds (True) or ``timeout_s`` passes (False)."""
        deadline = time.monotonic() + timeout_s
        with self.arrived:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.arrived.wait(min(left, 0.2))
        return True


def webhook_app(databases, **settings):
    """An app on a new migrated database holding the sample layers (committed) whose
    webhooks may reach 127.0.0.1."""
    import flask_migrate

    app = make_app(databases.create(), WEBHOOK_ALLOWED_HOSTS=("127.0.0.1",), **settings)
    with app.app_context():
        flask_migrate.upgrade()
        load_sample_layers(db.session, app.config["ANALYSIS_SRID"])
        db.session.commit()
        db.session.remove()
    return app


def user_headers(app, username: str, role: str = "analyst", agency: str = "GBP",
                 regions=()) -> dict:
    """Bearer headers of a new user (committed)."""
    from app.auth.tokens import create_token
    from app.auth.users import create_user

    with app.app_context():
        user = create_user(db.session, username, role, TEST_PASSWORD, list(regions),
                           agency=agency)
        _, token = create_token(db.session, user, "test")
        db.session.commit()
        db.session.remove()
    return {"Authorization": f"Bearer {token}"}


def worker_env(app, **settings) -> dict:
    """The environment of a ``flask worker`` on ``app``'s database (webhooks to
    127.0.0.1 allowed), with ``settings`` (strings) added."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEBHOOK_", "WORKER_"))}
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    env.update({"DATABASE_URL": url, "DATABASE_OWNER_URL": owner_url(url),
                "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "BORDERRISK_ENV": "testing",
                "SECRET_KEY": os.urandom(16).hex(), "PYTHONUNBUFFERED": "1", **settings})
    return env


def start_worker(env: dict, log_path: Path) -> subprocess.Popen:
    """``flask --app app worker`` in a process of its own (its own session, so a test
    may kill it alone)."""
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"],
                                cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop_worker(process: subprocess.Popen, kill: bool = False) -> None:
    """SIGTERM (or SIGKILL) the worker and wait for it."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)
