"""HTTP servers under test and the load that measures them, shared by the benchmarks.

A :class:`Server` is a gunicorn on a free loopback port (:func:`free_port`): ours
(``app:create_app()``, :data:`OUR_GUNICORN`, :func:`our_app_env`) or a peer's
(pygeoapi, MapServer), started from :func:`gunicorn_command`, polled until a probe
request answers, logging to ``<workdir>/<name>.log`` and stopped at the end.
:func:`run_load` drives one with client threads for a fixed time; its
:class:`LoadResult` holds the throughput and the latencies (p50/p99 in milliseconds).
"""

from __future__ import annotations

import http.client
import itertools
import os
import secrets
import socket
import subprocess  # noqa: S404  # gunicorn with fixed arguments
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

PROJECT_DIR = Path(__file__).resolve().parent.parent
OUR_GUNICORN = Path(sys.executable).parent / "gunicorn"
OUR_APP = "app:create_app()"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_command(gunicorn: str | Path, wsgi_app: str, port: int, workers: int, *,
                     threads: int | None = None, timeout_s: int | None = 300,
                     chdir: str | Path | None = None,
                     config: str | None = None) -> list[str]:
    """The command line of ``gunicorn`` serving ``wsgi_app`` on ``127.0.0.1:port``.

    ``threads`` and ``timeout_s`` (seconds per request) are left to gunicorn's defaults
    when None; ``chdir`` is the folder ``wsgi_app`` is imported from; ``config``
    gunicorn's ``--config`` (a file, ``app/gunicorn_conf.py``: ``make run``'s settings;
    ``python:app.gunicorn_conf`` is imported before ``chdir``).
    """
    command = [str(gunicorn), "--workers", str(workers)]
    if config is not None:
        command += ["--config", config]
    if threads is not None:
        command += ["--threads", str(threads)]
    command += ["--bind", f"127.0.0.1:{port}"]
    if timeout_s is not None:
        command += ["--timeout", str(timeout_s)]
    if chdir is not None:
        command += ["--chdir", str(chdir)]
    return [*command, wsgi_app]


def our_app_env(database_url: str, environment: str = "production") -> dict:
    """This process's environment plus what ``app:create_app()`` reads: the database,
    ``BORDERRISK_ENV`` and, in production, a fresh ``SECRET_KEY``."""
    env = {**os.environ, "DATABASE_URL": database_url, "BORDERRISK_ENV": environment}
    if environment == "production":
        env["SECRET_KEY"] = secrets.token_hex(32)
    return env


@dataclass
class Server:
    """A gunicorn answering at ``http://127.0.0.1:<port><path>``; ``headers`` go with
    every request (a bearer token for ours)."""

    name: str
    port: int
    path: str
    headers: dict
    process: subprocess.Popen | None = None
    log: Path | None = None

    def url(self, params: dict) -> str:
        """``path`` with ``params`` as its query string."""
        return f"{self.path}?{urlencode(params)}"

    def get(self, url: str, timeout: float = 120.0) -> tuple[int, str, bytes]:
        """(status, Content-Type, body) of a GET of ``url`` (a path and query)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", url, headers=self.headers)
            response = conn.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        finally:
            conn.close()

    def start(self, command: list[str], env: dict, workdir: Path, probe: str, *,
              content_type: str = "", wait_s: float = 60) -> None:
        """Run ``command`` in ``workdir`` until a GET of ``probe`` answers 200 (of
        ``content_type``, when given), for at most ``wait_s`` seconds."""
        self.log = workdir / f"{self.name.lower()}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(command, env=env, cwd=workdir, stdout=log,  # noqa: S603
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"{self.name} exited:\n{self.log.read_text()[-3000:]}")
            try:
                status, kind, body = self.get(probe, timeout=30)
                if status == 200 and kind.startswith(content_type):
                    return
                raise SystemExit(f"{self.name} answered {status} {kind}: {body[:800]!r}")
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"{self.name} did not answer within {wait_s:.0f} s; see {self.log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class LoadResult:
    """What :func:`run_load` measured: successful requests, wall seconds, their
    latencies (seconds) and the failures' descriptions."""

    requests: int
    seconds: float
    latencies: np.ndarray
    errors: list

    @property
    def rate(self) -> float:
        """Successful requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile of the latencies, in milliseconds (0 without any)."""
        return float(np.percentile(self.latencies, q)) * 1000 if len(self.latencies) else 0.0


def run_load(server: Server, urls: list[str], seconds: float, clients: int,
             content_type: str = "") -> LoadResult:
    """``clients`` threads request ``urls`` in order (cycling) for ``seconds``.

    A request counts when it answers 200 (of ``content_type``, when given). Requests
    started before the deadline are finished and counted; the rate is requests over the
    wall time until the last one ended.
    """
    counter = itertools.count()
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = time.perf_counter()
    deadline = start + seconds

    def client():
        while time.perf_counter() < deadline:
            url = urls[next(counter) % len(urls)]
            t0 = time.perf_counter()
            try:
                status, kind, body = server.get(url)
                ok = status == 200 and kind.startswith(content_type)
                problem = "" if ok else f"{status} {kind} {body[:200]!r}"
            except OSError as exc:
                problem = repr(exc)
            elapsed = time.perf_counter() - t0
            with lock:
                (errors.append(problem) if problem else latencies.append(elapsed))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return LoadResult(len(latencies), time.perf_counter() - start, np.array(latencies),
                      errors)
