"""``GET /healthz``: liveness and database readiness, for monitors (no authentication)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import SQLAlchemyError

from app.extensions import db
from geo.queries import postgis_version

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        version = postgis_version(db.session)
    except SQLAlchemyError as exc:
        db.session.rollback()
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        current_app.logger.warning("health check: database unavailable: %s", reason)
        return jsonify(status="unavailable", database="error", reason=reason), 503
    return jsonify(status="ok", database="ok", postgis=version)
