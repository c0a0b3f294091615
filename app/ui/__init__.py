"""Analyst pages: the map workspace, its message catalogue and palettes, our static files
at versioned addresses (``app.ui.assets``), and the installed front-end packages it uses."""

from __future__ import annotations

import io
import mimetypes
import os
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    send_file,
    url_for,
)
from flask_login import current_user
from werkzeug.security import safe_join

from app.auth.scope import region_codes_in_scope, viewer_agency
from app.extensions import db
from app.ui import assets, i18n
from config import BASE_DIR, on_unless_testing
from geo import clock
from geo.layers import INCIDENTS
from geo.maps import palette
from geo.products import periods

bp = Blueprint("ui", __name__)

# Third-party assets installed by `npm ci` (never committed), served from node_modules.
VENDOR_DIRS = {"leaflet": BASE_DIR / "node_modules" / "leaflet" / "dist",
               "swagger-ui": BASE_DIR / "node_modules" / "swagger-ui-dist"}


def _served(path: str) -> bool:
    """Whether a route under ``path`` is registered (services built by other modules)."""
    return any(rule.rule.startswith(path) for rule in current_app.url_map.iter_rules())


def prefetch_next_month() -> bool:
    """Whether the map page asks ahead for the month its slider shows next
    (PREFETCH_NEXT_MONTH; unset: on, except under TESTING)."""
    return on_unless_testing(current_app.config, "PREFETCH_NEXT_MONTH")


@bp.get("/")
def index():
    # The period a link without dates opens on: the API's default, by the same rule.
    default = periods.default_analysis_period(db.session, clock.utc_now(), viewer_agency())
    return render_template(
        "index.html",
        categories=INCIDENTS.field("category").choices,
        outcomes=INCIDENTS.field("outcome").choices,
        can_write=current_user.has_role("analyst"),
        can_decide=current_user.has_role("supervisor"),
        basemap_url=current_app.config.get("BASEMAP_URL", ""),
        has_wms=_served("/ogc/wms"),
        has_bulletin=_served("/api/v1/reports/bulletin"),
        # A user restricted to several regions works in one at a time (the analyses
        # need a region); one restricted to one region has it as "all".
        several_regions_only=len(region_codes_in_scope() or ()) > 1,
        # The data clock when BORDERRISK_NOW froze it, so that the page's "now" (a new
        # incident's default time) is the server's; else the browser's own clock.
        clock_now=clock.utc_now().isoformat() if clock.is_frozen() else "",
        # The inbox offers e-mail subscriptions when this installation sends e-mail.
        mail_available=bool(current_app.config.get("SMTP_URL")),
        default_period=default,
        prefetch_month=prefetch_next_month(),
    )


@bp.get("/ui/i18n.json")
def message_catalogue():
    """The JavaScript strings of the page in the current language (English keys)."""
    locale = i18n.current_locale()
    return jsonify(locale=locale, formats=i18n.locale_formats(locale),
                   messages=i18n.js_catalogue(), incident_labels=i18n.incident_labels(),
                   risk_factor_labels=i18n.risk_factor_labels(),
                   feature_labels=i18n.feature_labels())


@bp.get("/ui/palettes.json")
def legend_palettes():
    """The colours the page draws its layers and legend with: the WMS's own
    (``geo.maps.palette``), so that the two cannot disagree."""
    return jsonify(palette.legend_palettes())


@bp.get("/vendor/<package>/<path:filename>")
def vendor(package: str, filename: str):
    directory = VENDOR_DIRS.get(package)
    if directory is None:
        abort(404)
    return send_in_memory(Path(directory), filename, max_age=86400)


def send_in_memory(directory: Path, filename: str, max_age: int | None) -> Response:
    """A file under ``directory`` sent from memory, as ``send_from_directory`` sends it
    (the name kept inside the folder, 404 otherwise; conditional and range requests
    answered), but with no open file in the answer: a client that abandons it (a
    prefetch cancelled by a navigation, a browser's range request for a preloaded
    module) leaves no file to the garbage collector. Our files and the front-end
    packages' are tens to hundreds of kB; ``max_age`` in seconds, None: revalidate."""
    path = safe_join(str(directory), filename)
    if path is None or not os.path.isfile(path):
        abort(404)
    stat = os.stat(path)
    with open(path, "rb") as stream:
        data = io.BytesIO(stream.read())
    return send_file(data, mimetype=mimetypes.guess_type(filename)[0] or "application/octet-stream",
                     conditional=True, etag=f"{stat.st_mtime_ns:x}-{stat.st_size:x}",
                     last_modified=stat.st_mtime, max_age=max_age)


def _static_folder() -> Path:
    return Path(current_app.static_folder)


@bp.app_template_global()
def asset_url(filename: str) -> str:
    """The address of a file under ``static/`` at the current version
    (``app.ui.assets``): kept by browsers for a year without revalidation."""
    return url_for("ui.asset", version=assets.static_version(_static_folder()),
                   filename=filename)


@bp.app_template_global()
def module_graph(*entries: str) -> list[str]:
    """The modules the entry modules import, themselves included (for modulepreload)."""
    return assets.module_graph(_static_folder(), *entries)


@bp.get("/assets/<version>/<path:filename>")
def asset(version: str, filename: str):
    """A file under ``static/``: immutable at the current version, else revalidated."""
    current = version == assets.static_version(_static_folder())
    response = send_in_memory(_static_folder(), filename,
                              max_age=assets.IMMUTABLE_MAX_AGE_S if current else None)
    if current:
        response.cache_control.immutable = True
    return response
