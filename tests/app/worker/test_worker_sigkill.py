"""A real ``flask worker`` SIGKILLed while it produces a scheduled bulletin, then
started again: the bulletin is produced exactly once (issue 17).

The worker is caught mid-run without any hook in the product: the test holds the
advisory lock that every event's insert takes (the outbox's commit-order lock,
migration ``e7b2c4d9f1a0``), so the worker's run stops at its first event, after it
claimed the schedule and stored the assessment, inside its one transaction.
"""

from __future__ import annotations

import os
import signal
import subprocess  # noqa: S404  # the flask CLI, fixed arguments
import sys
import time
from pathlib import Path

import pytest

from tests import pg
from testsupport.apps import TEST_UPLOAD_DIR, committed_sample_layers

FLASK = Path(sys.executable).parent / "flask"
PROJECT_DIR = Path(__file__).resolve().parents[3]
CHAIN_LOCK = 7_240_114


def _worker(url: str) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "BORDERRISK_ENV": "development",
           "WORKER_POLL_S": "1", "SECRET_KEY": "test-secret-key-for-the-worker",
           "UPLOAD_DIR": str(TEST_UPLOAD_DIR)}
    env.pop("BORDERRISK_NOW", None)
    return subprocess.Popen([str(FLASK), "--app", "app", "worker"], env=env,  # noqa: S603
                            cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _stop(process: subprocess.Popen, sig=signal.SIGTERM) -> str:
    if process.poll() is None:
        process.send_signal(sig)
    try:
        return process.communicate(timeout=60)[0]
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()[0]


def _wait_until_gone(url: str, pid: int, wait_s: float = 120) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not pg.scalar(url, "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)):
            return
        time.sleep(0.05)
    pytest.fail(f"backend {pid} still running after {wait_s} s")


def _state(url: str) -> dict:
    return {
        "bulletins": pg.scalar(url, "SELECT count(*) FROM bulletins"),
        "published": pg.scalar(url, "SELECT count(*) FROM events "
                                    "WHERE type = 'bulletin.published'"),
        "assessments": pg.scalar(url, "SELECT count(*) FROM risk_assessments "
                                      "WHERE inputs ? 'schedule_id'"),
        "stored_events": pg.scalar(url, "SELECT count(*) FROM events "
                                        "WHERE type = 'assessment.stored'"),
    }


@pytest.mark.slow
def test_a_worker_killed_mid_bulletin_then_restarted_produces_it_once(databases):
    app, _ = committed_sample_layers(databases)
    url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg2", "postgresql")
    from app.extensions import db

    with app.app_context():
        db.engine.dispose()
    conn = pg.connect(url)
    with conn.cursor() as cur:
        # Only T-KK's weekly schedule is due; the alerts job has nothing to look at.
        cur.execute("UPDATE schedules SET next_run_at = now() + interval '30 days'")
        cur.execute("UPDATE schedules SET next_run_at = now() - interval '1 minute' "
                    "WHERE product = 'weekly' AND region_id = "
                    "(SELECT id FROM regions WHERE code = 'T-KK')")
        cur.execute("UPDATE alert_cursor SET last_event_id = "
                    "(SELECT coalesce(max(id), 0) FROM events)")
    blocker = pg.connect(url)
    with blocker.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s)", (CHAIN_LOCK,))
    worker = _worker(url)
    try:
        pid = pg.wait_for_backend(
            url, "wait_event = 'advisory' AND query LIKE %s", ("%INSERT INTO events%",),
            what="the worker's event insert", wait_s=300,
            give_up=lambda: worker.poll() is not None
            and f"the worker ended: {worker.stdout.read()}")
        worker.send_signal(signal.SIGKILL)
        _stop(worker)
        assert worker.returncode == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
        blocker.close()  # releases the lock: the killed worker's backend ends
    _wait_until_gone(url, pid)
    assert _state(url) == {"bulletins": 0, "published": 0, "assessments": 0,
                           "stored_events": 0}

    restarted = _worker(url)
    try:
        deadline = time.monotonic() + 300
        while pg.scalar(url, "SELECT count(*) FROM bulletins") == 0:
            assert restarted.poll() is None, restarted.stdout.read()
            assert time.monotonic() < deadline, "no bulletin after the restart"
            time.sleep(0.2)
        # Let it run more rounds: nothing more is produced.
        rounds_after = pg.scalar(url, "SELECT count(*) FROM schedules "
                                      "WHERE next_run_at <= now() AND active")
        assert rounds_after == 0
        time.sleep(3)
    finally:
        output = _stop(restarted)
    assert _state(url) == {"bulletins": 1, "published": 1, "assessments": 1,
                           "stored_events": 1}, output
    conn.close()
