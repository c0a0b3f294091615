"""REST API under /api/v1 (JSON and GeoJSON)."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from app.api import features  # noqa: E402,F401  (registers routes)
