"""The warm-up job: after the data changed, compute into the shared analysis results
(``geo.hotspots.analysis_results``) what the map page asks for when it opens with its
default filters, so that the first person to sign in after an import finds them there.

What the page asks for (``static/js/map.js``, ``loading.js``, ``cells.js``,
``trends.js``, ``params.js``) with the default state (every region of the user, the
default analysis period, Gi* cells of 2 km, no category, outcome or agency filter):

- the ranking, ``/risk/segments?datetime=<period>`` (its Gi* hot-spots and the
  sections' outlooks are cached analyses);
- the Gi* cells, ``/hotspots?bbox=<the user's regions' box>&datetime=<period>&...``;
- the sections' emerging categories, ``/hotspots/emerging?unit=section&...`` over the
  12 months ending with the period;
- and, for the method list's "Emerging hot spots" (issue 19's other first time), the
  emerging cells over the same window and box.

Each is asked through its route (the view function, in a request context of this
process, :func:`answer`), so the keys are the ones the page's requests make. The keys
depend on the viewer: their agency (``viewer_agency``: what they may count) and their
region scope (the area, the box, the default period). The viewers warmed are the
distinct (agency, regions) of the active users, the most recently signed-in first, at
most :data:`MAX_VIEWERS`; a user restricted to several regions is not one of them (the
page opens on the first of their regions *by name in the page's language*).

The identity a request runs as is a :class:`WarmUpViewer`, an object of this process
that mirrors such a user (agency, regions, the viewer role): no session, token or
password is made, and nothing leaves the worker. The job itself only looks at the
data stamps each round (one statement); the analyses run in a thread of their own so
that webhooks, alerts and mail are not held up by them.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from flask import g, request
from sqlalchemy import select

from app.auth.models import RegionRef, User, role_at_least
from app.auth.permissions import required_role
from app.extensions import db
from geo import clock, queries
from geo.hotspots import analysis_results
from geo.products import periods

logger = logging.getLogger(__name__)

# The most viewer contexts (agency, regions) one warm-up computes for.
MAX_VIEWERS = 8
# While a warm-up runs, the job looks again after this many seconds.
RUNNING_CHECK_S = 5.0
# After a warm-up that failed as a whole (the database away), the next waits this long.
FAILURE_WAIT_S = 60.0
# The page's defaults (static/js/state.js, cells.js, map.js).
DEFAULT_CELL_SIZE_M = "2000"
DEFAULT_METHOD = "gistar"
REGIONS_PATH = "/api/v1/regions?limit=10000"
# What each of default_view_paths' requests is, in its order (for the log).
REQUEST_NAMES = ("ranking", "Gi* map", "emerging by section", "emerging cells")


@dataclass(frozen=True)
class WarmUpViewer:
    """The caller of a warm-up request: what the permission check and the region scope
    read of a user (Flask-Login's protocol, role, agency, regions), made in this process
    for the duration of the warm-up. A viewer: it may read what the map page reads."""

    agency: str
    all_regions: bool
    regions: tuple[RegionRef, ...]
    role: str = "viewer"
    id: None = None
    username: str = "(warm-up)"

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return ""

    def has_role(self, role: str) -> bool:
        return role_at_least(self.role, role)


@dataclass
class WarmUpReport:
    """What one warm-up did: the requests answered (path, status, seconds) per viewer."""

    stamps: dict[str, str]
    answered: list[tuple[str, str, int, float]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: float = 0.0


def viewers(session, limit: int = MAX_VIEWERS) -> list[WarmUpViewer]:
    """The distinct viewer contexts of the active users (agency; every region, or the
    one region they are restricted to), the most recently signed-in first, at most
    ``limit``."""
    latest: dict[tuple, datetime | None] = {}
    for user in session.scalars(select(User).where(User.active)):
        regions = tuple(sorted((RegionRef(r.id, r.code) for r in user.regions),
                               key=lambda r: r.id))
        if not user.all_regions and len(regions) != 1:
            continue  # none: they see nothing; several: the page picks one by name
        key = (user.agency, user.all_regions, () if user.all_regions else regions)
        signed_in = user.last_login_at
        if key not in latest or (signed_in is not None and
                                 (latest[key] is None or signed_in > latest[key])):
            latest[key] = signed_in
    never = datetime.min.replace(tzinfo=clock.utc_now().tzinfo)
    ordered = sorted(latest, key=lambda k: (latest[k] or never, k[0]), reverse=True)
    return [WarmUpViewer(agency, all_regions, regions)
            for agency, all_regions, regions in ordered[:limit]]


def answer(app, viewer: WarmUpViewer, path: str):
    """The response of GET ``path`` as ``viewer`` asks it: the route's view function in a
    request context of this process (the permission check is the view's declared role
    against the viewer's; nothing is authenticated, since no one else can be the
    caller)."""
    with app.test_request_context(path, method="GET"):
        try:
            g._login_user = viewer  # Flask-Login's per-request user, as a token's caller
            if request.routing_exception is not None:
                raise request.routing_exception
            role = required_role(request.endpoint, request.view_args)
            if not viewer.has_role(role):
                raise PermissionError(f"{request.endpoint} needs the {role} role")
            view = app.view_functions[request.endpoint]
            try:
                result = app.ensure_sync(view)(**request.view_args)
            except Exception as exc:  # the route's own errors: its problem answer
                result = app.handle_user_exception(exc)
            return app.make_response(result)
        finally:
            g.pop("_login_user", None)  # ``g`` may be an outer app context's
            db.session.remove()


def _query(params: dict) -> str:
    """The page's ``query()`` (static/js/api.js): empty values left out, in order."""
    from urllib.parse import urlencode

    return urlencode([(key, value) for key, value in params.items() if value not in ("", None)])


def _box(regions: dict) -> str:
    """The box of the regions' GeoJSON as the page sends it (``params.js``: Leaflet's
    bounds, west,south,east,north, 4 decimals)."""
    xs, ys = [], []

    def walk(coordinates):
        if coordinates and isinstance(coordinates[0], (int, float)):
            xs.append(coordinates[0])
            ys.append(coordinates[1])
        else:
            for part in coordinates:
                walk(part)

    for feature in regions["features"]:
        if feature.get("geometry"):
            walk(feature["geometry"]["coordinates"])
    return ",".join(f"{value:.4f}" for value in (min(xs), min(ys), max(xs), max(ys)))


def default_view_paths(app, viewer: WarmUpViewer) -> list[str]:
    """The analysis requests of the map page opened by ``viewer`` with the default
    state (module docstring), as the page writes them."""
    with app.app_context():
        default = periods.default_analysis_period(db.session, clock.utc_now(),
                                                  viewer.agency)
        db.session.remove()
    start, end = default.start.date().isoformat(), default.end.date().isoformat()
    period = f"{start}T00:00:00Z/{end}T23:59:59Z"  # state.js datetimeInterval
    window = periods.emerging_period(default)  # cells.js emergingWindow
    emerging = f"{window.start.date().isoformat()}T00:00:00Z/{end}T23:59:59.999999Z"
    regions = answer(app, viewer, REGIONS_PATH)
    if regions.status_code != 200:
        raise RuntimeError(f"{REGIONS_PATH}: {regions.status_code}")
    box = _box(regions.get_json())
    return [
        f"/api/v1/risk/segments?{_query({'datetime': period})}",
        f"/api/v1/hotspots?{_query({'bbox': box, 'datetime': period, 'cell_size': DEFAULT_CELL_SIZE_M, 'method': DEFAULT_METHOD})}",  # noqa: E501
        f"/api/v1/hotspots/emerging?{_query({'unit': 'section', 'step': 'month', 'datetime': emerging})}",  # noqa: E501
        f"/api/v1/hotspots/emerging?{_query({'bbox': box, 'datetime': emerging, 'cell_size': DEFAULT_CELL_SIZE_M, 'step': 'month'})}",  # noqa: E501
    ]


def warm_default_view(app, limit: int = MAX_VIEWERS) -> WarmUpReport:
    """Ask every analysis of the default view (:func:`default_view_paths`) for each of
    :func:`viewers`: computed into the shared results, or read there when another
    process has. A failed request is logged and the others go on."""
    started = time.perf_counter()
    with app.app_context():
        stamps, _ = queries.data_stamps(db.session)
        warmed_for = viewers(db.session, limit)
        db.session.remove()
    report = WarmUpReport(stamps)
    for viewer in warmed_for:
        who = f"{viewer.agency}/" + ("all" if viewer.all_regions
                                      else ",".join(r.code for r in viewer.regions))
        try:
            paths = default_view_paths(app, viewer)
        except Exception as exc:
            logger.exception("warm-up for %s: the default view's requests failed", who)
            report.failed.append((who, REGIONS_PATH, repr(exc)))
            continue
        for path in paths:
            asked = time.perf_counter()
            try:
                with app.app_context():
                    response = answer(app, viewer, path)
            except Exception as exc:
                logger.exception("warm-up for %s: %s failed", who, path)
                report.failed.append((who, path, repr(exc)))
                continue
            seconds = time.perf_counter() - asked
            if response.status_code >= 500:  # the app's log has the traceback
                logger.warning("warm-up for %s: %s answered %d", who, path,
                               response.status_code)
                report.failed.append((who, path, str(response.status_code)))
                continue
            # (a 4xx is the page's answer too, e.g. 422: too few incidents for the map)
            report.answered.append((who, path, response.status_code, seconds))
    report.seconds = time.perf_counter() - started
    logger.info("warmed the default view for %d viewers (%d requests, %d failed) in %.1f s: %s",
                len(warmed_for), len(report.answered), len(report.failed), report.seconds,
                "; ".join(f"{who} {_name(path)} {status} {s:.2f} s"
                          for who, path, status, s in report.answered))
    return report


def _name(path: str) -> str:
    """The name of a default view's request (``REQUEST_NAMES``), for the log."""
    if path.startswith("/api/v1/risk/"):
        return REQUEST_NAMES[0]
    if path.startswith("/api/v1/hotspots?"):
        return REQUEST_NAMES[1]
    return REQUEST_NAMES[2] if "unit=section" in path else REQUEST_NAMES[3]


def enabled(app) -> bool:
    """WARM_DEFAULT_VIEW (unset: on, except under TESTING), and shared results to warm."""
    setting = app.config.get("WARM_DEFAULT_VIEW")
    wanted = (not app.testing) if setting is None else setting
    return bool(wanted) and analysis_results.SESSION_INFO_KEY in app.extensions


class DefaultViewWarmer:
    """The job (``app.worker.jobs``): when the data stamps differ from those of the last
    warm-up, a warm-up in a thread of its own; one at a time per worker."""

    def __init__(self):
        self.warmed_stamps: dict[str, str] | None = None
        self.last_report: WarmUpReport | None = None
        self._thread: threading.Thread | None = None
        self._failed_at: float | None = None

    def __call__(self, app) -> float | None:
        if not enabled(app):
            return None
        if self._thread is not None and self._thread.is_alive():
            return RUNNING_CHECK_S
        if self._failed_at is not None:
            wait = self._failed_at + FAILURE_WAIT_S - time.monotonic()
            if wait > 0:
                return wait
        try:
            stamps, _ = queries.data_stamps(db.session)
        finally:
            db.session.remove()
        if stamps == self.warmed_stamps:
            return None
        self._thread = threading.Thread(target=self.run, args=(app,), daemon=True,
                                        name="warm-default-view")
        self._thread.start()
        return RUNNING_CHECK_S

    def run(self, app) -> WarmUpReport | None:
        """One warm-up now, in this thread; its stamps are remembered (so the data it
        was computed for is not warmed again), unless it failed as a whole."""
        try:
            report = warm_default_view(app)
        except Exception:
            logger.exception("the default view's warm-up failed")
            self._failed_at = time.monotonic()
            return None
        self.warmed_stamps, self.last_report = report.stamps, report
        self._failed_at = None
        return report

    def join(self, timeout_s: float | None = None) -> None:
        """Wait for the warm-up in progress, if any (tests, the benchmark)."""
        if self._thread is not None:
            self._thread.join(timeout_s)
