"""The scheduled products: when a schedule is due, the worker stores the assessment of
the period just ended, renders the bulletin (HTML and PDF), archives it and emits
``bulletin.published`` (and ``assessment.stored``), all in **one** transaction with
the schedule's claim (``FOR UPDATE SKIP LOCKED``) and its move to the next run: a
worker killed half-way leaves nothing, and the next one (or the same, restarted) does
the run again, once. The archive's UNIQUE (region, product, period start) refuses a
second bulletin of a period even so.

Catch-up: a schedule whose run was missed (no worker running at its time) is due when a
worker next looks; it produces the **latest** period that has ended by then, once, and
is planned for the end of the current period (the periods missed before it are not
produced). "Now" is the data clock (``geo.clock``).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

from flask import render_template
from flask_babel import force_locale

from app.extensions import db
from geo import clock
from geo.errors import ParameterError
from geo.events import application as events
from geo.events.outbox import emit
from geo.products import archive, periods
from geo.risk import assessments, bulletin
from geo.transactions import unit_of_work

logger = logging.getLogger(__name__)

PRODUCER = "worker"
# A run that failed (not one refused for lack of sections) is tried again after this.
RETRY_AFTER = timedelta(minutes=15)
# At most this many runs in one round (then the round ends and others jobs run).
MAX_RUNS_PER_ROUND = 50


def render_bulletin(app, content: dict, language: str = "en") -> tuple[str, bytes]:
    """The bulletin's HTML (with its stylesheet linked) and its PDF, in ``language``."""
    # force_locale: the worker's app context may hold another language already.
    with app.test_request_context("/"), force_locale(language):
        html = render_template("bulletin.html", bulletin=content, for_print=False)
        printable = render_template("bulletin.html", bulletin=content, for_print=True)
    stylesheet = Path(app.static_folder) / "css" / "bulletin.css"
    return html, bulletin.pdf_from_html(printable, stylesheet)


def links(bulletin_id: int) -> dict:
    base = f"/api/v1/bulletins/{bulletin_id}"
    return {"self": base, "html": f"{base}.html", "pdf": f"{base}.pdf"}


def produce(app, session, schedule, start, end) -> int | None:
    """Store the assessment of ``[start, end)`` for the schedule's region, render and
    archive the bulletin, emit the events; the bulletin's id (None: that period has one
    already). Does not commit."""
    if archive.bulletin_of_period(session, schedule.region_id, schedule.product, start):
        return None
    config = app.config["RISK_MODEL"]
    srid = app.config["ANALYSIS_SRID"]
    closed = periods.closed_end(end)
    evaluated = assessments.assess_region(session, config, schedule.region, start, closed,
                                          srid, viewer_agency=assessments.SHARED_VIEW)
    produced_by = f"{PRODUCER} (schedule {schedule.id})"
    record = assessments.store_assessment(
        session, config, schedule.region, start, closed, evaluated,
        {"region": schedule.region, "datetime": f"{start.isoformat()}/{closed.isoformat()}",
         "viewer_agency": assessments.SHARED_VIEW, "schedule_id": schedule.id,
         "product": schedule.product, "produced_by": produced_by,
         "sections": evaluated["inputs"]},
        None)
    events.assessment_stored(session, record, evaluated, created_by=produced_by)
    # The map draws the region's own features only: the archive is read by its users.
    content = bulletin.regional_bulletin(session, config, schedule.region, start, closed,
                                         srid, scope=frozenset({schedule.region_id}),
                                         viewer_agency=assessments.SHARED_VIEW)
    # Archived in each language of the pages, so that a reader opens it in their own.
    html, pdf = render_bulletin(app, content, "en")
    html_ka, pdf_ka = render_bulletin(app, content, "ka")
    inserted = archive.insert_bulletin(
        session, schedule_id=schedule.id, region_id=schedule.region_id,
        product=schedule.product, time_zone=schedule.time_zone, start=start, end=end,
        assessment_id=record.id, html=html, pdf=pdf, html_ka=html_ka, pdf_ka=pdf_ka,
        config_sha256=record.config_sha256,
        config_text=record.config_text, created_by=None, produced_by=PRODUCER)
    if inserted is None:
        raise RuntimeError("a bulletin of this period appeared meanwhile")  # rolled back
    emit(session, "bulletin.published", entity="bulletin", entity_id=inserted.id,
         region_id=schedule.region_id, data={
             "bulletin_id": inserted.id, "region_code": schedule.region,
             "product": schedule.product, "period": [start.isoformat(), end.isoformat()],
             "published_at": inserted.created_at.isoformat(), "schedule_id": schedule.id,
             "assessment_id": record.id, "links": links(inserted.id)})
    return inserted.id


def run_one(app, session, now) -> bool:
    """Claim one due schedule and run it in one transaction; False when none is due."""
    with unit_of_work(session):
        schedule = archive.claim_due(session, now)
        if schedule is None:
            return False
        start, end = periods.latest_ended(schedule.product, now, schedule.time_zone)
        try:
            with session.begin_nested():
                bulletin_id = produce(app, session, schedule, start, end)
        except ParameterError as problem:  # e.g. a region without border sections
            logger.warning("schedule %s (%s %s): no bulletin for %s: %s", schedule.id,
                           schedule.region, schedule.product, start.isoformat(), problem)
            bulletin_id = None
        archive.advance(session, schedule.id,
                        periods.next_boundary(schedule.product, now, schedule.time_zone),
                        now, start)
    if bulletin_id is not None:
        logger.info("bulletin %s: %s %s of %s", bulletin_id, schedule.region,
                    schedule.product, start.isoformat())
    return True


def _postpone(session, schedule_id: int, now) -> None:
    with unit_of_work(session):
        archive.advance(session, schedule_id, now + RETRY_AFTER, now, None)


def run_schedules(app) -> float | None:
    """The worker's job: plan new schedules, run the due ones; seconds until the next
    is due (None: none planned)."""
    session = db.session
    try:
        now = clock.utc_now()
        with unit_of_work(session):
            archive.plan_unplanned(session, now)
        for _ in range(MAX_RUNS_PER_ROUND):
            try:
                if not run_one(app, session, now):
                    break
            except Exception:
                logger.exception("a scheduled bulletin failed; retried in %s", RETRY_AFTER)
                failed = _failed_schedule(session, now)
                if failed is not None:
                    _postpone(session, failed, now)
                break
        due = archive.next_due(session)
        session.rollback()
        # At least a second: a due schedule another worker holds is looked at again soon.
        return None if due is None else max(1.0, (due - clock.utc_now()).total_seconds())
    finally:
        session.remove()


def _failed_schedule(session, now) -> int | None:
    """The schedule a failed run was about (the earliest due one not locked)."""
    with unit_of_work(session):
        row = archive.claim_due(session, now)
    return None if row is None else row.id
