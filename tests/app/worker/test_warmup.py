"""The worker's warm-up of the map page's default view (``app.worker.warmup``), on a
committed demo database of its own with the shared results on: after an import the job
fills the table, and the page's default requests, made afterwards by real users of
each agency through the whole stack (bearer tokens), compute nothing; a second run
without a data change warms nothing; a failing analysis is logged and the rest goes on.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from sqlalchemy import text

from app.auth.tokens import create_token
from app.auth.users import create_user
from app.extensions import db
from app.worker import Job, Worker
from app.worker.jobs import JOBS
from app.worker.warmup import (
    DefaultViewWarmer,
    default_view_paths,
    viewers,
    warm_default_view,
)
from geo import clock
from geo.hotspots import analysis_results, cache, sections
from testsupport.apps import TEST_PASSWORD, make_app

DEMO_END = datetime(2026, 6, 30, tzinfo=UTC)
NOW = datetime(2026, 7, 10, 12, 0, tzinfo=UTC)  # the default period: June 2026


@pytest.fixture(scope="module")
def warm_app(databases):
    """An app sharing results, on a migrated database with a 12,000-incident demo (an
    import: the data stamps are new), a Border Police viewer of every region and a
    Patrol Police viewer of one region; their bearer headers."""
    import flask_migrate

    from geo.demo.loader import load_demo

    before = clock.utc_now() if clock.is_frozen() else None
    app = make_app(databases.create(), ANALYSIS_CACHE_MAX_MB=64, WARM_DEFAULT_VIEW=True,
                   NOW=NOW)
    headers = {}
    with app.app_context():
        flask_migrate.upgrade()
        load_demo(db.session, app.config["ANALYSIS_SRID"], n_incidents=12_000, end=DEMO_END)
        region = db.session.scalar(text(  # the busiest: enough cells for its own Gi* map
            "SELECT r.code FROM regions r JOIN incidents i ON i.region_id = r.id "
            "GROUP BY r.code ORDER BY count(*) DESC, r.code LIMIT 1"))
        for name, agency, regions in (("warm-gbp", "GBP", ()), ("warm-ppd", "PPD", (region,))):
            user = create_user(db.session, name, "viewer", TEST_PASSWORD, regions,
                               all_regions=not regions, agency=agency)
            _, token = create_token(db.session, user, "test")
            headers[agency] = {"Authorization": f"Bearer {token}"}
        db.session.commit()
        db.session.remove()
    yield app, headers
    with app.app_context():
        db.engine.dispose()
    clock.freeze(before)


def stored_kinds(app) -> list[str]:
    with app.app_context():
        kinds = db.session.scalars(text("SELECT kind FROM analysis_results ORDER BY kind"))
        found = list(kinds)
        db.session.remove()
    return found


@pytest.fixture
def computations(monkeypatch):
    """The kinds of the results computed from now on (a miss of the shared table)."""
    computed: list[str] = []
    original = analysis_results.AnalysisResults._compute_once

    def counted(self, digest, kind, produce):
        computed.append(kind)
        return original(self, digest, kind, produce)

    monkeypatch.setattr(analysis_results.AnalysisResults, "_compute_once", counted)
    return computed


def test_the_warm_up_job_is_a_worker_job_and_off_under_testing_unless_set(warm_app, databases):
    app, _ = warm_app
    job = next(job for job in JOBS if job.name == "warm-up")
    assert job.on_events and isinstance(job.run, DefaultViewWarmer)
    plain = make_app(app.config["SQLALCHEMY_DATABASE_URI"], ANALYSIS_CACHE_MAX_MB=64, NOW=NOW)
    with plain.app_context():
        assert DefaultViewWarmer()(plain) is None  # TESTING: off, nothing started
        db.session.remove()
        db.engine.dispose()


def test_after_an_import_one_run_fills_the_table_and_the_page_computes_nothing(
        warm_app, computations):
    app, headers = warm_app
    with app.app_context():
        app.extensions[analysis_results.SESSION_INFO_KEY].clear()
        warmed_for = viewers(db.session)
        db.session.remove()
    cache.CACHE.clear()
    assert {(v.agency, v.all_regions, len(v.regions)) for v in warmed_for} == {
        ("GBP", True, 0), ("PPD", False, 1)}

    warmer = DefaultViewWarmer()
    report = warmer.run(app)
    assert not report.failed and report.left_out == []
    # per viewer: 4 of the default view (June), 3 of each month before (May, April)
    assert [status for *_, status, _ in report.answered] == [200] * 20
    months = [parse_qs(urlsplit(path).query)["datetime"][0].split("/")[1][:7]
              for _, path, _, _ in report.answered]  # the end of each one's period
    assert [months.count(m) for m in ("2026-06", "2026-05", "2026-04")] == [8, 6, 6]
    assert months[:8] == ["2026-06"] * 8  # every viewer's default view first
    kinds = stored_kinds(app)
    # per viewer: the ranking's whole assessment (and, computed within it, its outlooks
    # and hot-spot flags), the Gi* map and the sections' emerging hot-spots of the three
    # months; the cells' emerging hot-spots of June
    assert kinds == sorted(["risk-assessment", "section-outlooks", "section-hotspot-flags",
                            "hotspots", "emerging-sections"] * 6 + ["emerging"] * 2)
    assert sorted(computations) == kinds

    # Another process (this one's memory emptied) as each agency's real user, by the
    # whole stack: every analysis of the default view and of the month slider's first
    # two steps back is read from the table.
    cache.CACHE.clear()
    computations.clear()
    client = app.test_client()
    for viewer in warmed_for:
        paths = default_view_paths(app, viewer, previous_months=2)
        assert len(paths) == 10
        assert "2026-05-01T00:00:00Z/2026-05-31T23:59:59Z" in unquote(paths[4])  # ranking
        for path in paths:
            response = client.get(path, headers=headers[viewer.agency])
            assert response.status_code == 200, (path, response.get_data(as_text=True))
    assert computations == []
    # Not the same answers for both: the Patrol Police's are of its region only.
    gbp, ppd = (default_view_paths(app, v) for v in sorted(warmed_for, key=lambda v: v.agency))
    assert gbp[1] != ppd[1]  # the Gi* map's box
    # The month three steps back was not warmed: asking for it computes.
    march = default_view_paths(app, warmed_for[0], previous_months=3)[10]
    assert "2026-03-01T00:00:00Z/2026-03-31T23:59:59Z" in unquote(march)
    assert client.get(march, headers=headers[warmed_for[0].agency]).status_code == 200
    assert sorted(computations) == ["risk-assessment", "section-hotspot-flags",
                                    "section-outlooks"]

    # A second run on the same data warms nothing: the job starts no thread.
    with app.app_context():
        assert warmer(app) is None
        db.session.remove()
    assert warmer._thread is None


def test_a_new_import_is_warmed_again_by_the_job_in_its_thread(warm_app, computations):
    app, _ = warm_app
    warmer = DefaultViewWarmer()
    warmer.run(app)
    with app.app_context():
        db.session.execute(text("UPDATE incidents SET persons_count = persons_count + 1 "
                                "WHERE id = (SELECT min(id) FROM incidents)"))
        db.session.commit()
        db.session.remove()
    cache.CACHE.clear()
    computations.clear()
    with app.app_context():
        assert warmer(app) is not None  # started
        db.session.remove()
    warmer.join(300)
    assert warmer.last_report is not None and not warmer.last_report.failed
    assert "hotspots" in computations and "emerging" in computations


def test_a_failing_analysis_is_logged_and_the_others_are_warmed(
        warm_app, computations, monkeypatch, caplog):
    app, _ = warm_app
    with app.app_context():
        app.extensions[analysis_results.SESSION_INFO_KEY].clear()
        db.session.remove()
    cache.CACHE.clear()

    def broken(session, request, srid):
        raise RuntimeError("the sections' trends broke")

    monkeypatch.setattr(sections, "emerging_sections", broken)
    caplog.set_level(logging.INFO, logger="app.worker.warmup")
    report = DefaultViewWarmer().run(app)
    assert [path.split("&")[0] for _, path, _ in report.failed] == [
        "/api/v1/hotspots/emerging?unit=section"] * 6  # 3 months of both viewers
    assert len(report.answered) == 14
    assert "the sections' trends broke" in caplog.text
    assert stored_kinds(app) == sorted(["risk-assessment", "section-outlooks",
                                        "section-hotspot-flags", "hotspots"] * 6
                                       + ["emerging"] * 2)

    # and in the worker, the other jobs' round goes on
    ran = []
    warmer = DefaultViewWarmer()
    worker = Worker(app, [Job("warm-up", warmer), Job("after", lambda app: ran.append(1))],
                    poll_s=1)
    worker.run_round()
    warmer.join(300)
    assert ran == [1] and len(warmer.last_report.failed) == 6


def test_a_warm_up_that_fails_as_a_whole_is_logged_and_waits_before_the_next(
        warm_app, monkeypatch, caplog):
    from app.worker import warmup

    app, _ = warm_app

    def unreachable(app, limit=warmup.MAX_VIEWERS, previous_months=warmup.PREVIOUS_MONTHS):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(warmup, "warm_default_view", unreachable)
    warmer = DefaultViewWarmer()
    assert warmer.run(app) is None
    assert "the database went away" in caplog.text and warmer.warmed_stamps is None
    with app.app_context():
        wait = warmer(app)  # not again at once: in about a minute
        db.session.remove()
    assert 0 < wait <= warmup.FAILURE_WAIT_S and warmer._thread is None


def test_a_user_of_several_regions_is_warmed_on_the_region_the_page_opens_on_per_language(
        warm_app, computations, caplog):
    """Kvemo Kartli is first by its English name, Samtskhe-Javakheti by its Georgian one
    (ს before ქ): two contexts, each warmed; over the bound, the oldest sign-ins are
    left out and named."""
    app, headers = warm_app
    with app.app_context():
        user = create_user(db.session, "warm-two", "viewer", TEST_PASSWORD, ("GE-SJ", "GE-KK"),
                           agency="GBP")
        _, token = create_token(db.session, user, "test")
        user.last_login_at = NOW  # the most recent sign-in: its contexts come first
        db.session.commit()
        db.session.remove()
    bearer = {"Authorization": f"Bearer {token}"}
    try:
        with app.app_context():
            app.extensions[analysis_results.SESSION_INFO_KEY].clear()
            contexts = viewers(db.session)
            db.session.remove()
        cache.CACHE.clear()
        assert [(v.agency, len(v.regions), v.region) for v in contexts[:2]] == [
            ("GBP", 2, "GE-KK"), ("GBP", 2, "GE-SJ")]
        assert len(contexts) == 4

        caplog.set_level(logging.INFO, logger="app.worker.warmup")
        report = warm_default_view(app, limit=3, previous_months=0)
        assert not report.failed and len(report.answered) == 12
        # the other two never signed in: by agency
        assert [v.agency for v in contexts[2:]] == ["GBP", "PPD"]
        assert report.left_out == [f"PPD/{contexts[3].regions[0].code}"]
        assert f"left out: {report.left_out[0]}" in caplog.text
        # what the page asks for, a region named (no box)
        kk, sj = (default_view_paths(app, v) for v in contexts[:2])
        assert "region=GE-KK" in kk[0] and "bbox" not in kk[1] and "region=GE-KK" in kk[3]
        assert "region=GE-SJ" in sj[2]
        assert "patterns_only=true" in kk[3]

        # the user, by the whole stack from another process: nothing computed
        cache.CACHE.clear()
        computations.clear()
        client = app.test_client()
        warmed = {path: status for _, path, status, _ in report.answered}
        assert sorted(warmed[path] for path in kk + sj) == [200] * 7 + [422]  # Kvemo
        # Kartli's Gi* map (too few cells in June): the page gets the same refusal
        for path in kk + sj:
            response = client.get(path, headers=bearer)
            assert response.status_code == warmed[path], (path, response.get_data())
        assert computations == ["hotspots"]  # the refusal alone: not a result, not kept
    finally:
        with app.app_context():
            db.session.execute(text("UPDATE users SET active = false "
                                    "WHERE username = 'warm-two'"))
            db.session.commit()
            db.session.remove()


def test_the_first_region_by_name_is_the_pages_in_each_language():
    from types import SimpleNamespace

    from app.worker.warmup import first_by_name, opened_regions

    regions = [SimpleNamespace(code=code, name_en=en, name_ka=ka) for code, en, ka in (
        ("GE-SJ", "Samtskhe-Javakheti", "სამცხე-ჯავახეთი"),
        ("GE-KK", "Kvemo Kartli", "ქვემო ქართლი"),
        ("GE-GU", "guria", "გურია"))]
    assert first_by_name(regions, "en").code == "GE-GU"  # case aside, as localeCompare
    assert first_by_name(regions, "ka").code == "GE-GU"
    assert opened_regions(regions) == ["GE-GU"]  # one context when both languages agree
    assert opened_regions(regions[:2]) == ["GE-KK", "GE-SJ"]
