"""``GET /healthz``: liveness and database readiness, for monitors (no authentication).

200 ``{"status": "ok", "database": "ok", "postgis": ...}`` when PostGIS answers; 503
with the reason and ``Retry-After`` when it does not (within about a second: the engine
options in ``config.py``), and 200 again on the next call once it is back.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from app.errors import RETRY_AFTER_S, first_line
from app.extensions import db
from geo.queries import postgis_version

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        version = postgis_version(db.session)
    except SQLAlchemyError as exc:
        try:
            db.session.rollback()
        except SQLAlchemyError:
            pass  # the connection is gone; the pool discards it
        reason = first_line(exc)
        current_app.logger.warning("health check: database unavailable: %s", reason)
        response = jsonify(status="unavailable", database="error", reason=reason)
        return response, 503, {"Retry-After": str(RETRY_AFTER_S)}
    return jsonify(status="ok", database="ok", postgis=version)
