"""The worker: ``flask worker``, the process that does what no request waits for.

It delivers webhooks, produces the scheduled bulletins, raises alerts, sends e-mail and
purges events past retention: each is a :class:`Job` (``app.worker.jobs.JOBS``) whose
``run`` does what is due and says when it next needs to run. Between rounds the
worker sleeps until PostgreSQL wakes it (``LISTEN`` on the channel the events' trigger
notifies at commit, migration ``e7b2c4d9f1a0``), the earliest job is due, or
``WORKER_POLL_S`` passes. Jobs claim their work with ``FOR UPDATE SKIP LOCKED``, so any
number of workers, on any number of machines, may run at once.

``make run`` starts one beside the web server (``app.serve``); it stops with it.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg2
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

# The channel of the events' trigger, and of anything else that has work for a worker.
CHANNEL = "borderrisk_events"
# A job that fails waits this long (seconds) before it runs again.
FAILURE_PAUSE_S = 5.0


@dataclass(frozen=True)
class Job:
    """A kind of work. ``run(app)`` does what is due now, in its own transactions, and
    returns the seconds until it next needs to run (None: only when woken, or after
    ``WORKER_POLL_S``). ``on_events``: a notification on :data:`CHANNEL` (an event
    committed) makes it due at once, whatever it returned."""

    name: str
    run: Callable[..., float | None]
    on_events: bool = False


def listen_connection(app):
    """A psycopg2 connection in autocommit, listening on :data:`CHANNEL`."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    connection = psycopg2.connect(
        host=url.host, port=url.port, dbname=url.database, user=url.username,
        password=url.password, connect_timeout=5, application_name="borderrisk-worker")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f"LISTEN {CHANNEL}")
    return connection


class Worker:
    """Runs ``jobs`` in rounds until :meth:`stop` (or a signal) ends it."""

    def __init__(self, app, jobs: list[Job], poll_s: float | None = None):
        self.app, self.jobs = app, jobs
        self.poll_s = poll_s if poll_s is not None else app.config["WORKER_POLL_S"]
        self._stopping = threading.Event()
        self._due: dict[str, float] = {}
        self.rounds = 0

    def stop(self) -> None:
        self._stopping.set()

    def wake(self) -> None:
        """Events were committed: the jobs that follow them are due now."""
        for job in self.jobs:
            if job.on_events:
                self._due[job.name] = 0.0

    def run_round(self) -> float:
        """Run every job that is due; returns the seconds until the next one is."""
        now = time.monotonic()
        for job in self.jobs:
            if self._due.get(job.name, 0.0) > now:
                continue
            try:
                with self.app.app_context():
                    wait = job.run(self.app)
            except Exception:
                logger.exception("worker job %s failed", job.name)
                wait = FAILURE_PAUSE_S
            self._due[job.name] = time.monotonic() + (self.poll_s if wait is None
                                                      else max(0.0, wait))
        self.rounds += 1
        return max(0.0, min(self._due.values(), default=now + self.poll_s)
                   - time.monotonic())

    def run(self, parent_pid: int | None = None) -> None:
        """Rounds until stopped; woken by NOTIFY. With ``parent_pid``, it also stops when
        that process is gone (the web server it was started beside)."""
        connection = None
        try:
            while not self._stopping.is_set():
                if connection is None:
                    connection = self._connect()
                wait = min(self.run_round(), self.poll_s)
                if parent_pid is not None and os.getppid() != parent_pid:
                    logger.info("the server the worker ran beside is gone: stopping")
                    return
                connection = self._sleep(connection, wait)
        finally:
            if connection is not None:
                connection.close()

    def _connect(self):
        try:
            return listen_connection(self.app)
        except psycopg2.Error as exc:
            logger.warning("worker cannot listen for events (%s); polling", exc)
            return None

    def _sleep(self, connection, seconds: float):
        """Wait up to ``seconds`` for a notification (or a stop); returns the connection
        to go on with (None after it failed)."""
        if seconds <= 0:
            return connection
        if connection is None:
            self._stopping.wait(seconds)
            return None
        try:
            ready, _, _ = select.select([connection], [], [], seconds)
            if ready:
                connection.poll()
                if connection.notifies:
                    self.wake()
                connection.notifies.clear()
            return connection
        except (OSError, psycopg2.Error) as exc:
            logger.warning("worker lost its listening connection (%s)", exc)
            connection.close()
            return None


def run_worker(app, jobs: list[Job] | None = None, parent_pid: int | None = None) -> None:
    """Run a worker in this process until SIGINT or SIGTERM."""
    from app.worker.jobs import JOBS

    worker = Worker(app, JOBS if jobs is None else jobs)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: worker.stop())
    logger.info("worker started (pid %s): %s", os.getpid(),
                ", ".join(job.name for job in worker.jobs))
    worker.run(parent_pid)
