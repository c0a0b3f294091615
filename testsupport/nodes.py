"""App nodes as on separate machines, for tests and benchmarks: ``gunicorn`` processes
on ports of their own, and Debian's ``nginx`` in front of them (round robin, no sticky
sessions), each started by the caller in a temporary directory and stopped at the end.

``app_nodes(database_url, 2)`` yields a :class:`Nodes`: the proxy's URL, each node's
URL, and ``node_of(response)`` (which node answered a request through the proxy: nginx
adds ``X-Upstream``, the node's ``host:port``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from config import BASE_DIR

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# Seconds a node (gunicorn, importing the app) or nginx may take to answer at all.
START_TIMEOUT_S = 60.0
# Settings every node gets unless the caller gives others: the proxy in front is
# trusted for X-Forwarded-For (the client's address counts for sign-in limits).
NODE_SETTINGS = {"BORDERRISK_ENV": "development", "TRUSTED_PROXIES": "1"}
# What a node must not inherit from the test process.
WITHHELD = ("DATABASE_OWNER_URL", "DATABASE_REPLICA_URL", "BORDERRISK_NOW")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (the OS's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, what: str,
                  timeout: float = START_TIMEOUT_S) -> None:
    """Wait until ``url`` answers HTTP (any status); RuntimeError with ``what``'s output
    when the process ends first or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} ended with status {process.returncode}")
        try:
            requests.get(url, timeout=5)  # gunicorn listens before its worker answers
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer {url} within {timeout} s")


def _stop(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGINT (gunicorn's and nginx's quick stop), SIGKILL after ``timeout`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def gunicorn_node(database_url: str, log_dir: Path, name: str, *, workers: int = 1,
                  threads: int = 4, env: dict[str, str] | None = None,
                  wait: bool = True) -> Iterator[str]:
    """A gunicorn master (``app:create_app()``, the settings of ``make run``'s) on a free
    loopback port serving ``database_url`` with the settings ``env`` (environment
    variables; ``SECRET_KEY`` must be the same on every node); yields its base URL, once
    it answers unless ``wait`` is false (then :func:`wait_until_up` it yourself: nodes
    start side by side). Its access and error logs go to ``log_dir/<name>.log``."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k not in WITHHELD}
    environ.update(NODE_SETTINGS)
    environ.update(DATABASE_URL=database_url, **(env or {}))
    log = log_dir / f"{name}.log"
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603
            [str(Path(sys.executable).parent / "gunicorn"), "--config",
             "python:app.gunicorn_conf", "--workers", str(workers), "--threads", str(threads),
             "--timeout", "60", "--graceful-timeout", "5", "--bind", f"127.0.0.1:{port}",
             "--access-logfile", "-", "--name", f"borderrisk-{name}", "app:create_app()"],
            cwd=BASE_DIR, env=environ, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        if wait:
            wait_until_up(f"{url}/healthz", process, f"gunicorn node {name} (log {log})")
        _PROCESSES[url] = process
        yield url
    finally:
        _PROCESSES.pop(url, None)
        _stop(process)


# The process of each running node, by base URL.
_PROCESSES: dict[str, subprocess.Popen] = {}


def nginx_config(directory: Path, port: int, upstreams: list[str]) -> str:
    """nginx.conf of a proxy on 127.0.0.1:``port`` to ``upstreams`` (``host:port``),
    round robin, everything (pid, logs, temporary files) under ``directory``; not a
    daemon. As root its worker runs as root too (the test's files are root's)."""
    servers = "\n".join(f"    server {upstream};" for upstream in upstreams)
    temp = "\n".join(f"  {kind}_temp_path {directory / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root root;\n" if os.geteuid() == 0 else ""
    return f"""{user}daemon off;
worker_processes 1;
pid {directory / "nginx.pid"};
error_log {directory / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
  log_format upstream '$remote_addr "$request" $status $upstream_addr';
  access_log {directory / "access.log"} upstream;
{temp}
  upstream app {{
{servers}
  }}
  server {{
    listen 127.0.0.1:{port};
    client_max_body_size 60m;
    location / {{
      proxy_pass http://app;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      add_header X-Upstream $upstream_addr always;
    }}
  }}
}}
"""


@contextmanager
def nginx_proxy(upstreams: list[str], directory: Path) -> Iterator[str]:
    """Debian's nginx (not a daemon) in front of ``upstreams`` (``host:port``), its
    files in ``directory``; yields its base URL."""
    port = free_port()
    conf = directory / "nginx.conf"
    conf.write_text(nginx_config(directory, port, upstreams))
    with (directory / "nginx.out").open("ab") as out:
        process = subprocess.Popen(  # noqa: S603
            [NGINX, "-p", str(directory), "-e", str(directory / "error.log"), "-c", str(conf)],
            stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process, f"nginx (see {directory / 'error.log'})")
        yield url
    finally:
        _stop(process)


@dataclass(frozen=True)
class Nodes:
    """Nodes behind a proxy: ``url`` the proxy's, ``node_urls`` each node's."""

    url: str
    node_urls: tuple[str, ...]
    directory: Path

    def node_of(self, response: requests.Response) -> str:
        """The base URL of the node that answered ``response`` (through the proxy)."""
        return "http://" + response.headers["X-Upstream"].split(",")[-1].strip()


@contextmanager
def app_nodes(database_url: str, count: int = 2, env: dict[str, str] | None = None,
              ) -> Iterator[Nodes]:
    """``count`` gunicorn nodes on ``database_url`` (one shared random ``SECRET_KEY`` and
    one ``UPLOAD_DIR`` in the temporary directory unless ``env`` gives them; other
    settings in ``env``) behind nginx, round robin."""
    with ExitStack() as stack:
        directory = Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="borderrisk-nodes-")))
        uploads = directory / "uploads"
        uploads.mkdir(mode=0o700)
        settings = {"SECRET_KEY": secrets.token_urlsafe(32), "UPLOAD_DIR": str(uploads),
                    **(env or {})}
        nodes = [stack.enter_context(gunicorn_node(database_url, directory, f"node{i}",
                                                   env=settings, wait=False))
                 for i in range(1, count + 1)]
        for node in nodes:
            wait_until_up(f"{node}/healthz", _PROCESSES[node], f"gunicorn node {node} "
                          f"(logs in {directory})")
        proxy = stack.enter_context(
            nginx_proxy([node.removeprefix("http://") for node in nodes], directory))
        yield Nodes(proxy, tuple(nodes), directory)
