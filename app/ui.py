"""Analyst pages: the map workspace, and the installed front-end packages it uses."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, send_from_directory

from config import BASE_DIR

bp = Blueprint("ui", __name__)

# Third-party assets installed by `npm ci` (never committed), served from node_modules.
VENDOR_DIRS = {"leaflet": BASE_DIR / "node_modules" / "leaflet" / "dist",
               "swagger-ui": BASE_DIR / "node_modules" / "swagger-ui-dist"}


@bp.get("/")
def index():
    return render_template("index.html")


@bp.get("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str):
    directory = VENDOR_DIRS.get(package)
    if directory is None:
        abort(404)
    return send_from_directory(directory, filename, max_age=86400)
