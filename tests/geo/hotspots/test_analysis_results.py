"""The analysis results every process shares (``geo.hotspots.analysis_results``), on a
committed database of their own: a second process computes nothing, concurrent
identical requests compute once, a write makes an entry unused, a failed or slow
computation lets the others go on, and the bound on the stored bytes holds."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from sqlalchemy import text

from app.extensions import db
from geo.hotspots import analysis_results, cache
from tests.conftest import make_app

# A process of its own: the app on DATABASE, ``cache.cached`` of one request whose
# computation appends this process's id to COMPUTED, waits for RELEASE to exist, then
# returns {"by": pid} (or fails when RELEASE says "fail"); prints the answer.
CHILD = """
import os, sys, time
from pathlib import Path
from app.extensions import db
from geo.hotspots import cache
from testsupport.apps import make_app

database, computed, release, timeout_s = sys.argv[1:5]
app = make_app(database, ANALYSIS_CACHE_MAX_MB=64, STATEMENT_TIMEOUT_S=int(timeout_s))

def compute():
    with open(computed, "a") as log:
        log.write(f"{os.getpid()}\\n")
    while not Path(release).exists():
        time.sleep(0.02)
    if Path(release).read_text() == "fail":
        Path(release).write_text("")  # only the first computation fails
        raise RuntimeError("the computation failed")
    return {"by": os.getpid()}

with app.app_context():
    print(cache.cached(db.session, "test-shared", {"n": 1}, 32638, compute).decode())
"""
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def shared_app(databases):
    """An app sharing results (64 MB), on a migrated database of its own."""
    import flask_migrate

    app = make_app(databases.create(), ANALYSIS_CACHE_MAX_MB=64)
    with app.app_context():
        flask_migrate.upgrade()
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def empty(shared_app):
    """No result stored, none in this process's memory."""
    with shared_app.app_context():
        shared_app.extensions[analysis_results.SESSION_INFO_KEY].clear()
    cache.CACHE.clear()
    yield shared_app
    cache.CACHE.clear()


def rows(app) -> list[tuple[str, int]]:
    with app.app_context():
        found = db.session.execute(text(
            "SELECT kind, size FROM analysis_results ORDER BY created_at")).all()
        db.session.remove()
    return [tuple(row) for row in found]


def child(app, computed: Path, release: Path, timeout_s: int = 30) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, app.config["SQLALCHEMY_DATABASE_URI"], str(computed),
         str(release), str(timeout_s)], cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})


def wait_until(condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def computations(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def advisory_waits(app) -> int:
    """Connections of the database waiting for an advisory lock."""
    with app.app_context():
        count = db.session.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND wait_event = 'advisory'")).scalar_one()
        db.session.remove()
    return count


def finished(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=120)
    return process.returncode, out.strip(), err


def test_concurrent_processes_compute_once_and_the_second_reads_the_first(empty, tmp_path):
    computed, release = tmp_path / "computed", tmp_path / "release"
    first = child(empty, computed, release)
    wait_until(lambda: len(computations(computed)) == 1)  # the first is computing
    second = child(empty, computed, release)
    wait_until(lambda: advisory_waits(empty) == 1)  # ... and the second waits for it
    release.write_text("go")
    (code_1, out_1, err_1), (code_2, out_2, err_2) = finished(first), finished(second)
    assert (code_1, code_2) == (0, 0), err_1 + err_2
    assert computations(computed) == [str(first.pid)]
    assert orjson.loads(out_1) == orjson.loads(out_2) == {"by": first.pid}
    assert rows(empty) == [("test-shared", len(out_1))]
    # A third process, later, reads it too.
    third = child(empty, computed, release)
    assert finished(third)[1] == out_1 and computations(computed) == [str(first.pid)]


def test_a_failed_computation_lets_the_waiting_process_compute(empty, tmp_path):
    computed, release = tmp_path / "computed", tmp_path / "release"
    first = child(empty, computed, release)
    wait_until(lambda: len(computations(computed)) == 1)
    second = child(empty, computed, release)
    wait_until(lambda: advisory_waits(empty) == 1)
    release.write_text("fail")
    code_1, _, err_1 = finished(first)
    code_2, out_2, err_2 = finished(second)
    assert code_1 != 0 and "the computation failed" in err_1
    assert code_2 == 0, err_2
    assert computations(computed) == [str(first.pid), str(second.pid)]
    assert orjson.loads(out_2) == {"by": second.pid}
    assert rows(empty) == [("test-shared", len(out_2))]


def test_a_wait_ends_before_the_statement_timeout_and_the_waiter_computes(empty, tmp_path):
    # A statement timeout of 2 s: the second waits 1.6 s for the lock, then computes
    # itself rather than be cancelled; the first, still computing, stores its own.
    computed, release = tmp_path / "computed", tmp_path / "release"
    first = child(empty, computed, release, timeout_s=2)
    wait_until(lambda: len(computations(computed)) == 1)
    second = child(empty, computed, release, timeout_s=2)
    wait_until(lambda: len(computations(computed)) == 2)  # it gave up waiting
    release.write_text("go")
    (code_1, out_1, err_1), (code_2, out_2, err_2) = finished(first), finished(second)
    assert (code_1, code_2) == (0, 0), err_1 + err_2
    assert "shared analysis results not used: " in err_2 and "lock timeout" in err_2
    assert orjson.loads(out_2) == {"by": second.pid}
    assert rows(empty) == [("test-shared", len(out_1))]  # the lock holder's


def test_a_write_makes_the_stored_result_unused(empty):
    computed = []

    def compute():
        computed.append(1)
        return {"computed": len(computed)}

    def ask() -> dict:
        with empty.app_context():
            body = cache.cached(db.session, "test-versions", {"n": 2}, 32638, compute)
            db.session.remove()
        return orjson.loads(body)

    assert ask() == {"computed": 1}
    cache.CACHE.clear()  # as another process: only the table has it
    assert ask() == {"computed": 1} and len(computed) == 1
    with empty.app_context():
        db.session.execute(text("UPDATE incidents SET persons_count = persons_count "
                                "WHERE false"))  # a statement: the version goes up
        db.session.commit()
        db.session.remove()
    cache.CACHE.clear()
    assert ask() == {"computed": 2}
    assert [kind for kind, _ in rows(empty)] == ["test-versions", "test-versions"]


def test_a_session_that_wrote_shares_nothing(empty):
    with empty.app_context():
        db.session.execute(text("UPDATE incidents SET persons_count = persons_count "
                                "WHERE false"))
        body = cache.cached(db.session, "test-uncommitted", {"n": 3}, 32638,
                            lambda: {"seen": "uncommitted"})
        db.session.rollback()
        db.session.remove()
    assert orjson.loads(body) == {"seen": "uncommitted"}
    assert rows(empty) == []


def test_the_stored_bytes_stay_within_the_bound_newest_kept(empty):
    with empty.app_context():
        bounded = analysis_results.AnalysisResults(
            engine=db.engine, max_bytes=2500, entry_max_bytes=1500, wait_s=5)
        for n, size in enumerate((1000, 1000, 1000, 1400, 1600)):
            body, keep = bounded.fetch_or_compute(f"key {n}", f"size-{size}",
                                                  lambda size=size: (b"x" * size, True))
            assert (len(body), keep) == (size, True)
        db.session.remove()
    # 1,000 * 3 is over 2,500: the oldest went; then 1,400 left room for one 1,000;
    # 1,600 is above the entry bound and was not stored.
    assert rows(empty) == [("size-1000", 1000), ("size-1400", 1400)]


def test_the_table_is_unlogged_uncompressed_and_the_app_role_only_reads_and_writes(
        empty):
    with empty.app_context():
        persistence, storage = db.session.execute(text(
            "SELECT c.relpersistence, a.attstorage FROM pg_class c JOIN pg_attribute a "
            "ON a.attrelid = c.oid AND a.attname = 'body' "
            "WHERE c.relname = 'analysis_results'")).one()
        assert (persistence, storage) == ("u", "e")
        held = {privilege for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE",
                                            "TRUNCATE", "REFERENCES", "TRIGGER")
                if db.session.execute(text(
                    "SELECT has_table_privilege('analysis_results', :p)"),
                    {"p": privilege}).scalar_one()}
        assert held == {"SELECT", "INSERT", "UPDATE", "DELETE"}
        with pytest.raises(Exception, match="must be owner"):
            db.session.execute(text("ALTER TABLE analysis_results SET LOGGED"))
        db.session.rollback()
        db.session.remove()


def test_the_web_apps_sessions_share_and_the_tests_default_does_not(shared_app, databases):
    with shared_app.app_context():
        shared = analysis_results.of(db.session)
        assert shared is shared_app.extensions[analysis_results.SESSION_INFO_KEY]
        assert (shared.max_bytes, shared.entry_max_bytes) == (64 * 2**20, 32 * 2**20)
        assert shared.engine is db.engine
        db.session.remove()
    plain = make_app(shared_app.config["SQLALCHEMY_DATABASE_URI"])  # TESTING: off
    with plain.app_context():
        assert analysis_results.of(db.session) is None
        db.session.remove()
        db.engine.dispose()


def test_an_api_request_shares_its_result(empty, monkeypatch):
    # A signed-in request's session has committed its bookkeeping before the route:
    # it shares; a second process (memory emptied) computes nothing.
    from app.auth.tokens import create_token
    from app.auth.users import create_user
    from geo.hotspots import pipeline
    from tests.conftest import TEST_PASSWORD

    with empty.app_context():
        user = create_user(db.session, f"planner-{os.getpid()}-{time.monotonic_ns()}",
                           "viewer", TEST_PASSWORD)
        _, token = create_token(db.session, user, "test")
        db.session.commit()
        db.session.remove()
    computed = []
    monkeypatch.setattr(pipeline, "hotspot_cells", lambda session, request, srid: (
        computed.append(request) or {"type": "FeatureCollection", "features": [],
                                     "metadata": {"computed": len(computed)}}))
    url = "/api/v1/hotspots?datetime=2026-01-01T00:00:00Z/2026-01-31T23:59:59Z"
    headers = {"Authorization": f"Bearer {token}"}
    first = empty.test_client().get(url, headers=headers)
    assert first.status_code == 200 and first.get_json()["metadata"] == {"computed": 1}
    cache.CACHE.clear()
    second = empty.test_client().get(url, headers=headers)
    assert second.data == first.data and len(computed) == 1
    assert [kind for kind, _ in rows(empty)] == ["hotspots"]


def test_live_levels_are_shared_and_read_back_as_they_were_computed(empty, monkeypatch):
    """The map services' live levels (``geo.risk.levels``) go through the shared results:
    a process that has not computed them (its memory emptied) reads them from the table
    with their types (int section ids, aware datetimes), and a write computes them anew."""
    from datetime import UTC, datetime

    from geo.risk import levels, risk_config

    calls = []

    def assess(session, config, srid, period):
        calls.append((period.start, period.end))
        return {"7": {"threat": 3, "vulnerability": 2, "impact": 4, "risk": 24 + len(calls),
                      "level": "medium", "rank": 1,
                      "period_start": period.start, "period_end": period.end}}

    monkeypatch.setattr(levels, "_assess_unassessed", assess)
    config = risk_config.load_risk_config()
    now = datetime(2026, 5, 17, 12, tzinfo=UTC)

    def live():
        with empty.app_context():
            found = levels.live_sections(db.session, config, 32638, now)
            db.session.remove()
        return found

    first = live()
    assert list(first) == [7] and first[7]["risk"] == 25 and len(calls) == 1
    start, end = calls[0]
    assert first[7]["period_start"] == start and first[7]["period_end"] == end
    assert start.tzinfo is not None and start < end <= now
    assert [kind for kind, _ in rows(empty)] == ["live-levels"]

    levels._LIVE.clear()  # another process: nothing in memory
    cache.CACHE.clear()
    assert live() == first and len(calls) == 1  # read from the table, not computed

    with empty.app_context():  # a write: the data versions change
        db.session.execute(text(
            "INSERT INTO regions (code, name_en, name_ka, geom) VALUES ('T-LV', 'Synthetic', 'S', "
            "ST_Multi(ST_GeomFromText('POLYGON((44 41,44.1 41,44.1 41.1,44 41))', 4326)))"))
        db.session.commit()
        db.session.remove()
    levels._LIVE.clear()
    assert live()[7]["risk"] == 26 and len(calls) == 2
