"""Import jobs over HTTP: an upload's import runs in a thread of the worker that got it,
and ``GET /api/v1/imports/jobs/{id}`` reports its progress and final answer.

The request saves the upload into ``UPLOAD_DIR`` (``geo.io.import_jobs``), records a job,
starts the import on a connection of its own and waits up to ``IMPORT_SYNC_WAIT_S``
seconds: an import done by then is answered as it always was (200 with the report, or
its 4xx problem); a longer one, or any with ``Prefer: respond-async``, is answered 202
with the job's URL in ``Location``, so no import outlives gunicorn's worker timeout
inside a request. The import stays one transaction (its rows and the job's
'succeeded' are committed together, nothing is written on failure); its progress goes
in short transactions of their own. The upload is removed on every exit path; files and
'running' jobs that a killed worker left are cleaned at start-up and after each job.

A session bound to a connection (the tests' rolled-back outer transaction) runs the
import in the request itself: a second connection could not see that transaction.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import click
from flask import Flask, current_app, url_for
from flask_login import current_user
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app import audit
from app.api import ApiError, bp
from app.errors import database_failure, first_line
from app.extensions import db
from geo.io import import_jobs
from geo.io.ingest import import_file
from geo.io.readers import ArchiveTooLargeError, ReadError
from geo.layers import Layer
from geo.models import ImportJob
from geo.queries.audit import file_sha256
from geo.transactions import unit_of_work

# The largest id of an import job (a PostgreSQL integer).
MAX_JOB_ID = 2**31 - 1


def problem_body(status: int, title: str, detail: str, **extra) -> dict:
    """The RFC 7807 body that ``app.errors.problem`` sends."""
    return {"type": "about:blank", "title": title, "status": status, "detail": detail,
            **extra}


def report_answer(report, label: str) -> tuple[int, dict]:
    """The HTTP status and body of a finished import's report: 200 with the report, 403
    (a row beyond the caller's rights), 409 (only existing keys) or 422 (rows with
    problems), each naming the first problem; nothing is written unless 200."""
    body = report.as_dict(label)
    if report.forbidden:
        first = report.permission_errors[0]
        more = len(report.permission_errors) - 1
        return 403, problem_body(
            403, "Forbidden", f"{label} {first.row}, {first.field}: {first.message}"
            + (f" (and {more} more)" if more else "") + "; nothing was written",
            field=first.field, report=body)
    if report.error_count:
        first = report.errors[0]
        more = report.error_count - 1
        detail = (f"{label} {first.row}, {first.field}: {first.message}"
                  + (f" (and {more} more problems)" if more else "")
                  + "; nothing was written")
        if report.conflict:  # only keys that exist (in another region: nothing more said)
            return 409, problem_body(409, "Conflict", detail, report=body)
        return 422, problem_body(422, "Unprocessable Content", detail, report=body)
    return 200, body


@dataclass
class ImportTask:
    """One upload's import: what to read and with which rights and settings."""

    job_id: int
    path: Path
    layer: Layer
    fmt: str
    file_name: str
    options: dict
    settings: dict
    actor: dict | None = None
    done: threading.Event = field(default_factory=threading.Event)
    answer: tuple[int, dict] | None = None

    @property
    def label(self) -> str:
        return "line" if self.fmt == "csv" else "feature"


def run_import(session, task: ImportTask, progress=None) -> tuple[int, dict]:
    """Import ``task``'s upload in ``session`` and end its job; returns the HTTP answer.

    Commits the rows, their audit record and the job's end together, or rolls the import
    back and commits only the job's end. The upload is removed on every exit path.
    Errors other than an unreadable file propagate after the upload is removed (the
    caller records them).
    """
    settings = task.settings
    with unit_of_work(session):
        # The import's writes in a savepoint: kept with their audit record, or undone
        # (a dry run, a problem, an unreadable file) while the job's end is kept.
        imported = session.begin_nested()
        try:
            sha256 = file_sha256(task.path)
            report = import_file(
                session, task.layer, task.path, fmt=task.fmt,
                analysis_srid=settings["ANALYSIS_SRID"],
                max_unzipped_bytes=settings["IMPORT_MAX_UNZIPPED_BYTES"],
                statement_timeout_s=settings["IMPORT_STATEMENT_TIMEOUT_S"],
                temp_dir=settings["UPLOAD_DIR"], progress=progress, **task.options)
            status, body = report_answer(report, task.label)
            rows = report.rows
            if status == 200 and not report.dry_run:
                audit.record_import(session, report, file=task.file_name, sha256=sha256,
                                    source=task.options["source"], fmt=task.fmt,
                                    actor=task.actor)
                imported.commit()
            else:
                imported.rollback()
        except ArchiveTooLargeError as exc:
            imported.rollback()
            status, body, rows = 413, problem_body(413, "Content Too Large", f"file: {exc}",
                                                   field="file"), 0
        except ReadError as exc:
            imported.rollback()
            status, body, rows = 422, problem_body(422, "Unprocessable Content",
                                                   f"file: {exc}", field="file"), 0
        finally:
            task.path.unlink(missing_ok=True)
        import_jobs.finish_job(session, task.job_id, succeeded=status == 200, rows_read=rows,
                               http_status=status, result=body)
    return status, body


def _failure_answer(exc: BaseException) -> tuple[int, dict]:
    reason = database_failure(exc)
    if reason is not None:
        return 503, problem_body(503, "Service Unavailable", reason)
    return 500, problem_body(500, "Internal Server Error",
                             "the import failed on the server; nothing was written")


def _run_in_background(app: Flask, task: ImportTask) -> None:
    """The job thread: the import on a connection of its own, then the clean-up."""
    with app.app_context():
        engine = db.engine
        try:
            with engine.begin() as connection:
                import_jobs.mark_running(connection, task.job_id)

            def progress(rows: int) -> None:
                with engine.begin() as connection:
                    import_jobs.record_progress(connection, task.job_id, rows)

            with Session(engine) as session:
                try:
                    task.answer = run_import(session, task, progress)
                except Exception as exc:  # noqa: BLE001  (the job says so, and the log)
                    app.logger.error("import job %s failed: %s", task.job_id, first_line(exc),
                                     exc_info=database_failure(exc) is None)
                    task.answer = _failure_answer(exc)
                    with unit_of_work(session):
                        import_jobs.finish_job(session, task.job_id, succeeded=False,
                                               rows_read=0, http_status=task.answer[0],
                                               result=task.answer[1])
        except sa_exc.SQLAlchemyError as exc:  # the job's own row could not be written
            app.logger.error("import job %s: %s", task.job_id, first_line(exc))
            task.answer = task.answer or _failure_answer(exc)
        finally:
            task.path.unlink(missing_ok=True)
            task.done.set()
            sweep(app)


def start(task: ImportTask) -> None:
    """Run ``task``: in a thread of its own, or, when the app's session is bound to a
    connection (a test's outer transaction), in this request."""
    if isinstance(db.session.get_bind(), Connection):
        try:
            import_jobs.mark_running(db.session, task.job_id)
            task.answer = run_import(db.session, task)
        finally:
            task.path.unlink(missing_ok=True)
            task.done.set()
        return
    app = current_app._get_current_object()
    threading.Thread(target=_run_in_background, args=(app, task),
                     name=f"import-job-{task.job_id}", daemon=True).start()


def sweep(app: Flask) -> None:
    """Remove upload files older than the longest import and mark the jobs of ended
    processes 'interrupted' (at start-up of the web app and after each job). A database
    that is not there yet (before the first migration) only skips the second part.
    Commands of the ``flask`` CLI skip it: they may run as another OS user (root), who
    must not create the web app's upload directory."""
    if click.get_current_context(silent=True) is not None:
        return
    max_age_s = app.config["IMPORT_STATEMENT_TIMEOUT_S"] + import_jobs.MARGIN_S
    directory = import_jobs.owned_upload_dir(app.config["UPLOAD_DIR"])
    if directory is None:  # created by the first upload; another user's is left alone
        if os.path.exists(app.config["UPLOAD_DIR"]):
            app.logger.warning("UPLOAD_DIR %s belongs to another OS user: uploads will "
                               "fail until it is this user's", app.config["UPLOAD_DIR"])
    else:
        removed = import_jobs.remove_stale_uploads(import_jobs.upload_dir(directory),
                                                   max_age_s)
        if removed:
            app.logger.warning("removed %d upload(s) of ended imports from %s",
                               len(removed), directory)
    with app.app_context():
        if isinstance(db.session.get_bind(), Connection):
            return
        try:
            with db.engine.begin() as connection:
                interrupted = import_jobs.interrupt_abandoned_jobs(connection, max_age_s)
        except sa_exc.SQLAlchemyError as exc:
            app.logger.info("import jobs not checked: %s", first_line(exc))
            return
    if interrupted:
        app.logger.warning("import jobs %s were interrupted (their process ended)",
                           ", ".join(map(str, interrupted)))


def job_view(job: ImportJob) -> dict:
    """The JSON of a job: its state, rows read so far and, once finished, the answer its
    request would have given (``http_status`` and ``result``; ``report`` when there is
    one)."""
    result = job.result
    report = (result if job.http_status == 200 else (result or {}).get("report"))
    return {
        "id": job.id, "layer": job.layer, "file": job.file_name, "format": job.format,
        "status": job.status, "rows_read": job.rows_read,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "http_status": job.http_status, "result": result, "report": report,
        "url": url_for("api.import_job", job_id=job.id),
    }


@bp.get("/imports/jobs/<int:job_id>")
def import_job(job_id: int):
    """An import job of the caller (admins: anyone's); 404 for any other."""
    # Ids are PostgreSQL integers: a larger number names no job (not a 500).
    job = db.session.get(ImportJob, job_id) if job_id <= MAX_JOB_ID else None
    if job is None or (job.user_id != current_user.id and not current_user.has_role("admin")):
        raise ApiError(404, "Not Found", f"job_id: no import job {job_id}", field="job_id")
    if job.status not in import_jobs.FINISHED:
        max_age_s = current_app.config["IMPORT_STATEMENT_TIMEOUT_S"] + import_jobs.MARGIN_S
        with unit_of_work(db.session) as work:
            if not import_jobs.interrupt_abandoned_jobs(db.session, max_age_s):
                work.discard()
        db.session.refresh(job)
    return job_view(job), 200


@bp.record_once
def _sweep_at_start(state) -> None:
    sweep(state.app)
