"""``POST /api/v1/import/{layer}``: bulk import of an uploaded file (multipart)."""

from __future__ import annotations

import os
import tempfile

from flask import current_app, request
from werkzeug.utils import secure_filename

from app import audit
from app.api import ApiError, bp
from app.api.features import LAYER_RULE
from app.api.params import ParameterError, parse_bool, parse_crs
from app.api.scoping import refuse_reference_write_when_scoped, write_rights
from app.extensions import db
from geo.audit import file_sha256
from geo.ingest import import_file
from geo.layers import LAYERS
from geo.readers import FORMATS, ArchiveTooLargeError, ReadError, detect_format


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
    layer = LAYERS[layer_name]
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
    handle, path = tempfile.mkstemp(suffix=suffix, prefix="borderrisk-import-")
    try:
        with os.fdopen(handle, "wb") as stream:
            upload.save(stream)
        upload.close()  # large uploads are spooled to a temporary file: free it now
        sha256 = file_sha256(path)
        report = import_file(
            db.session, layer, path, fmt=fmt, analysis_srid=current_app.config["ANALYSIS_SRID"],
            max_unzipped_bytes=current_app.config["IMPORT_MAX_UNZIPPED_BYTES"],
            statement_timeout_s=current_app.config["IMPORT_STATEMENT_TIMEOUT_S"], **options)
    except ArchiveTooLargeError as exc:
        db.session.rollback()
        raise ApiError(413, "Content Too Large", f"file: {exc}", field="file") from None
    except ReadError as exc:
        db.session.rollback()
        raise ApiError(422, "Unprocessable Content", f"file: {exc}", field="file") from None
    finally:
        os.unlink(path)
    label = "line" if fmt == "csv" else "feature"
    body = report.as_dict(label)
    if report.forbidden:
        db.session.rollback()
        first = report.permission_errors[0]
        more = len(report.permission_errors) - 1
        raise ApiError(403, "Forbidden",
                       f"{label} {first.row}, {first.field}: {first.message}"
                       + (f" (and {more} more)" if more else "") + "; nothing was written",
                       field=first.field, report=body)
    if report.error_count:
        db.session.rollback()
        first = report.errors[0]
        more = report.error_count - 1
        detail = (f"{label} {first.row}, {first.field}: {first.message}"
                  + (f" (and {more} more problems)" if more else "")
                  + "; nothing was written")
        if report.conflict:  # only keys that exist (in another region: nothing more said)
            raise ApiError(409, "Conflict", detail, report=body)
        raise ApiError(422, "Unprocessable Content", detail, report=body)
    if report.dry_run:
        db.session.rollback()
    else:
        audit.record_import(db.session, report, file=name, sha256=sha256,
                            source=options["source"], fmt=fmt)
        db.session.commit()
    return body, 200
