"""Forwarded headers reach the app only through TRUSTED_PROXIES (issue 14 item 7).

Served by a real gunicorn with the settings of ``make run`` (``app/gunicorn_conf.py``):
a client on 127.0.0.1 sending ``X-Forwarded-Proto: https`` and ``X-Forwarded-Host`` must
not turn on HSTS nor make links point elsewhere unless the app was told to trust one
proxy. Without our settings gunicorn itself believes the header from 127.0.0.1, which
the first test shows, so the others could fail.
"""

from __future__ import annotations

import http.client
import re
from pathlib import Path

import pytest

from bench.servers import OUR_APP, OUR_GUNICORN, Server, free_port, gunicorn_command, our_app_env
from config import BASE_DIR

pytestmark = pytest.mark.slow

FORGED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example",
          "X-Forwarded-For": "203.0.113.9", "X-Forwarded-Ssl": "on",
          "X-Forwarded-Protocol": "ssl"}


def makefile_gunicorn_options() -> list[str]:
    """The ``--config`` option of the gunicorn that ``make run`` starts."""
    command = next(line for line in (BASE_DIR / "Makefile").read_text().splitlines()
                   if "gunicorn" in line and "--bind" in line)
    return re.findall(r"--config \S+", command)[0].split()


def serve(app, tmp_path, options: list[str], **env) -> Server:
    server = Server("gunicorn", free_port(), "", {})
    command = gunicorn_command(OUR_GUNICORN, OUR_APP, server.port, 1, threads=1,
                               chdir=Path(BASE_DIR))
    command[1:1] = options
    # make run starts gunicorn in the checkout, where python:app.gunicorn_conf is found.
    env = {**our_app_env(app.config["SQLALCHEMY_DATABASE_URI"]), "PYTHONPATH": str(BASE_DIR),
           **env}
    server.start(command, env,
                 tmp_path, "/healthz", content_type="application/json")
    return server


def forged_request(server: Server, path: str) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", path, headers=FORGED)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


@pytest.mark.parametrize(("options", "proxies", "believed"), [
    ([], "0", True),  # gunicorn's defaults: the attack of the issue
    (None, "0", False),  # make run's settings, no proxy trusted
    (None, "1", True),  # make run's settings behind one trusted proxy
])
def test_forwarded_headers_count_only_with_trusted_proxies(app, tmp_path, options, proxies,
                                                           believed):
    server = serve(app, tmp_path, makefile_gunicorn_options() if options is None else options,
                   TRUSTED_PROXIES=proxies)
    try:
        health = forged_request(server, "/healthz")
        assert ("Strict-Transport-Security" in health.headers) is believed
        login = forged_request(server, "/")
        assert login.status == 302
        location = login.getheader("Location")
        if proxies == "0":
            assert "evil.example" not in location
        if not believed:
            assert not location.startswith("https://")
    finally:
        server.stop()
