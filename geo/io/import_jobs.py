"""Import jobs: the state of an upload's import, kept in ``import_jobs``, and the
clean-up of what a killed import leaves behind.

An upload is saved under an upload directory that the app owns (mode 0700), named by
its job, and imported in the background of the process that received it; the job row
says how far it got (rows read so far, updated in short transactions of their own
while the import itself stays one transaction) and, at the end, the HTTP status and
body its request would have answered. A process that is killed mid-import (a worker
timeout, a restart) leaves its file and a job that says 'running': :func:`sweep`
removes upload files older than the longest import and marks such jobs 'interrupted'.
Nothing here knows about HTTP beyond storing a status number.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

from sqlalchemy import select, text, update

from geo.io.readers import READER_DIR_PREFIX  # readers' directories are swept here too
from geo.models import ImportJob

FINISHED = frozenset({"succeeded", "failed", "interrupted"})
# Upload files are named ``job-<id><suffix>`` (only the suffix comes from the client).
FILE_PREFIX = "job-"
# Added to the longest import (its statement timeout) before a file or a 'running' job
# counts as abandoned (seconds): reading the file and answering come on top.
MARGIN_S = 300


def upload_dir(path: str | os.PathLike) -> Path:
    """The upload directory, created readable by this OS user only (mode 0700; made so
    again when this user owns it)."""
    directory = Path(path)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory.stat().st_uid == os.geteuid():
        directory.chmod(0o700)
    return directory


def owned_upload_dir(path: str | os.PathLike) -> Path | None:
    """The upload directory when it exists and belongs to this OS user, else None: the
    command line (perhaps run as root) places a reader's private files there, where
    the web app's start-up removes what a killed command left, without creating it."""
    directory = Path(path)
    try:
        return directory if directory.stat().st_uid == os.geteuid() else None
    except FileNotFoundError:
        return None


def upload_path(directory: str | os.PathLike, job_id: int, suffix: str) -> Path:
    """Where job ``job_id``'s upload is kept; ``suffix`` is the file's extension
    (``.csv``, made safe by the caller)."""
    return Path(directory) / f"{FILE_PREFIX}{job_id}{suffix}"


def create_job(session, *, user_id: int, layer: str, file_name: str, fmt: str) -> ImportJob:
    """A new 'queued' job of this process (flushed, not committed)."""
    job = ImportJob(user_id=user_id, layer=layer, file_name=file_name[:255], format=fmt,
                    status="queued", rows_read=0, host=socket.gethostname()[:255],
                    pid=os.getpid())
    session.add(job)
    session.flush()
    return job


def mark_running(connection, job_id: int) -> None:
    """Job ``job_id`` has started (in ``connection``'s transaction)."""
    connection.execute(update(ImportJob).where(ImportJob.id == job_id).values(
        status="running", started_at=text("now()"), pid=os.getpid(),
        host=socket.gethostname()[:255]))


def record_progress(connection, job_id: int, rows_read: int) -> None:
    """Rows read so far by a running job (in ``connection``'s transaction)."""
    connection.execute(update(ImportJob).where(
        ImportJob.id == job_id, ImportJob.status == "running").values(rows_read=rows_read))


def finish_job(connection, job_id: int, *, succeeded: bool, rows_read: int,
               http_status: int, result: dict) -> None:
    """Record the end of job ``job_id``: ``result`` is the body its request answers with
    ``http_status`` (the report, or a problem). Run it in the import's own transaction
    when the import wrote, so the rows and 'succeeded' are committed together."""
    connection.execute(update(ImportJob).where(ImportJob.id == job_id).values(
        status="succeeded" if succeeded else "failed", rows_read=rows_read,
        http_status=http_status, result=result, finished_at=text("now()")))


def _process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def interrupt_abandoned_jobs(connection, max_age_s: float) -> list[int]:
    """Mark 'queued'/'running' jobs whose process is gone as 'interrupted'.

    A job is abandoned when it runs on this host and its process no longer exists, or
    when it was created more than ``max_age_s`` seconds ago (any host: its import's
    statement timeout has ended it by then). Returns their ids, in order.
    """
    host = socket.gethostname()[:255]
    rows = connection.execute(
        select(ImportJob.id, ImportJob.host, ImportJob.pid,
               ImportJob.created_at < text("now() - make_interval(secs => :age)"))
        .where(ImportJob.status.in_(("queued", "running"))),
        {"age": max_age_s}).all()
    ids = sorted(job_id for job_id, job_host, pid, old in rows
                 if old or (job_host == host and pid != os.getpid() and _process_gone(pid)))
    if ids:
        connection.execute(update(ImportJob).where(
            ImportJob.id.in_(ids), ImportJob.status.in_(("queued", "running"))).values(
            status="interrupted", finished_at=text("now()"), http_status=503,
            result={"type": "about:blank", "title": "Service Unavailable", "status": 503,
                    "detail": "the import was interrupted (the server process that ran it "
                              "ended); nothing was written: send the file again"}))
    return ids


def remove_stale_uploads(directory: str | os.PathLike, max_age_s: float) -> list[str]:
    """Remove upload files (and readers' private directories) in ``directory`` older than
    ``max_age_s`` seconds by their modification time; returns their names. Only names
    an upload or a reader gives are touched."""
    removed = []
    limit = time.time() - max_age_s
    for path in Path(directory).iterdir():
        try:
            if path.is_symlink() or path.stat().st_mtime >= limit:
                continue
            if path.name.startswith(FILE_PREFIX) and path.is_file():
                path.unlink()
            elif path.name.startswith(READER_DIR_PREFIX) and path.is_dir():
                shutil.rmtree(path)
            else:
                continue
        except FileNotFoundError:  # another process removed it meanwhile
            continue
        removed.append(path.name)
    return sorted(removed)
