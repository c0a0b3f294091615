"""``POST /api/v1/import/{layer}``: bulk import of an uploaded file (multipart).

The import runs as a job (``app.api.import_jobs``): answered as before when it ends
within ``IMPORT_SYNC_WAIT_S`` seconds, else 202 with the job's URL.
"""

from __future__ import annotations

import json
import os

from flask import current_app, request, url_for
from flask_login import current_user
from werkzeug.utils import secure_filename

from app import audit
from app.api import ApiError, bp, import_jobs
from app.api.features import LAYER_RULE
from app.api.import_jobs import ImportTask
from app.api.params import ParameterError, parse_bool, parse_crs
from app.api.scoping import refuse_reference_write_when_scoped, write_rights
from app.errors import PROBLEM_MIME, RETRY_AFTER_S
from app.extensions import db
from geo.io.import_jobs import create_job, upload_dir, upload_path
from geo.io.readers import FORMATS, ReadError, detect_format
from geo.layers import get_layer
from geo.transactions import unit_of_work


def parse_mapping(value: str | None) -> dict[str, str]:
    """``property=column,property=column`` (CSV column names for properties)."""
    mapping = {}
    for item in (value or "").split(","):
        if not item.strip():
            continue
        name, sep, column = item.partition("=")
        if not sep or not name.strip() or not column.strip():
            raise ParameterError("mapping", f"{item!r} is not property=column")
        mapping[name.strip()] = column.strip()
    return mapping


@bp.post(f"/import/{LAYER_RULE}")
def import_features(layer_name: str):
    layer = get_layer(layer_name)
    refuse_reference_write_when_scoped(layer)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ApiError(422, "Unprocessable Content",
                         "file: send the file as multipart/form-data field 'file'", field="file")
    # Only the extension of the client's file name is used: no path ever comes from it.
    name = secure_filename(upload.filename) or "upload"
    fmt = request.form.get("format") or request.args.get("format")
    if fmt and fmt not in FORMATS:
        raise ParameterError("format", f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    try:
        fmt = fmt or detect_format(name)
    except ReadError as exc:
        raise ParameterError("file", str(exc)) from None
    values = request.form.to_dict() | request.args.to_dict()
    options = {
        "crs": parse_crs("crs", values.get("crs"), default=None),
        "mapping": parse_mapping(values.get("mapping")),
        "source": values.get("source") or os.path.splitext(name)[0],
        "dry_run": parse_bool("dry_run", values.get("dry_run")),
        "allow_outside": parse_bool("allow_outside", values.get("allow_outside")),
        **write_rights(layer),
    }
    suffix = os.path.splitext(name)[1].lower()
    settings = current_app.config
    directory = upload_dir(settings["UPLOAD_DIR"])
    with unit_of_work(db.session):
        job = create_job(db.session, user_id=current_user.id, layer=layer.name,
                         file_name=name, fmt=fmt)
    path = upload_path(directory, job.id, suffix)
    task = ImportTask(job.id, path, layer, fmt, name, options, settings={
        key: settings[key] for key in ("ANALYSIS_SRID", "IMPORT_MAX_UNZIPPED_BYTES",
                                       "IMPORT_STATEMENT_TIMEOUT_S", "UPLOAD_DIR")},
        actor=audit.request_actor())
    try:
        with open(path, "xb") as stream:
            path.chmod(0o600)
            upload.save(stream)
        upload.close()  # large uploads are spooled to a temporary file: free it now
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    import_jobs.start(task)
    respond_async = "respond-async" in request.headers.get("Prefer", "").lower()
    if not respond_async and task.done.wait(settings["IMPORT_SYNC_WAIT_S"]) \
            and task.answer is not None:
        status, body = task.answer
        if status == 200:
            return body, 200
        headers = {"Content-Type": PROBLEM_MIME}
        if status == 503:  # the database failed the job: worth a retry, as for any 503
            headers["Retry-After"] = str(RETRY_AFTER_S)
        return json.dumps(body), status, headers
    location = url_for("api.import_job", job_id=job.id)
    db.session.refresh(job)
    return import_jobs.job_view(job), 202, {"Location": location, "Retry-After": "2"}
