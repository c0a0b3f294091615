"""The warm-up job: after the data changed, compute into the shared analysis results
(``geo.hotspots.analysis_results``) what the map page asks for when it opens with its
default filters, so that the first person to sign in after an import finds them there.

What the page asks for (``static/js/map.js``, ``loading.js``, ``cells.js``,
``trends.js``, ``params.js``) with the default state (every region of the user, the
default analysis period, Gi* cells of 2 km, no category, outcome or agency filter):

- the ranking, ``/risk/segments?datetime=<period>`` (its Gi* hot-spots and the
  sections' outlooks are cached analyses);
- the significant Gi* cells, ``/hotspots?bbox=<the user's regions' box>&datetime=<period>
  &...&significant_only=true``;
- the sections' emerging categories, ``/hotspots/emerging?unit=section&...`` over the
  12 months ending with the period;
- and, for the method list's "Emerging hot spots" (issue 19's other first time), the
  emerging cells with a pattern over the same window and box;
- then, for the first :data:`PREVIOUS_MONTHS` steps of the month slider back, the
  ranking, the Gi* cells and the sections' emerging categories of each month before
  (the requests a "month back" makes, :func:`period_paths`).

Each is asked through its route (the view function, in a request context of this
process, :func:`answer`), so the keys are the ones the page's requests make. The keys
depend on the viewer: their agency (``viewer_agency``: what they may count) and their
region scope (the area, the box, the default period). The viewers warmed are the
distinct (agency, regions) of the active users, the most recently signed-in first, at
most :data:`MAX_VIEWERS` (the others are named in the log and in the report's
``left_out``). A user restricted to several regions has no "All regions": the page
opens on the first of their regions *by name in the page's language* (``filters.js``),
so such a user is one context per language whose first region differs (English, the
default language, first; then Georgian), each counted against the bound.

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
from urllib.parse import parse_qs, urlsplit

from flask import g, request
from sqlalchemy import select

from app.auth.models import RegionRef, User, role_at_least
from app.auth.permissions import required_role
from app.extensions import db
from app.ui.i18n import DEFAULT_LANGUAGE, LANGUAGES
from config import on_unless_testing
from geo import clock, queries
from geo.hotspots import analysis_results
from geo.products import periods

logger = logging.getLogger(__name__)

# The most viewer contexts (agency, regions, the region the page opens on) one warm-up
# computes for.
MAX_VIEWERS = 8
# The months before the default period warmed: the month slider's first steps back
# (docs/benchmarks.md, issue 19: each step back to a month never computed took 3-13 s
# under load; warmed, 0.6-1.1 s).
PREVIOUS_MONTHS = 2
# While a warm-up runs, the job looks again after this many seconds.
RUNNING_CHECK_S = 5.0
# After a warm-up that failed as a whole (the database away), the next waits this long.
FAILURE_WAIT_S = 60.0
# The page's defaults (static/js/state.js, cells.js, map.js).
DEFAULT_CELL_SIZE_M = "2000"
DEFAULT_METHOD = "gistar"
REGIONS_PATH = "/api/v1/regions?limit=10000"
# What each of period_paths' requests is, in its order (for the log).
REQUEST_NAMES = ("ranking", "Gi* map", "emerging by section", "emerging cells")


@dataclass(frozen=True)
class WarmUpViewer:
    """The caller of a warm-up request: what the permission check and the region scope
    read of a user (Flask-Login's protocol, role, agency, regions), made in this process
    for the duration of the warm-up. A viewer: it may read what the map page reads."""

    agency: str
    all_regions: bool
    regions: tuple[RegionRef, ...]
    # the region the page opens on (a code): a user restricted to several regions'
    # first by name; "" for every region of the viewer's (their box)
    region: str = ""
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
    # the viewer contexts over the bound, not warmed (as named in the log)
    left_out: list[str] = field(default_factory=list)


def local_name(region, language: str) -> str:
    """A region's name as the page shows it in ``language`` (``i18n.js`` localName)."""
    if language == "ka":
        return region.name_ka or region.name_en or region.code
    return region.name_en or region.code


def first_by_name(regions, language: str):
    """The region the page's region filter lists first in ``language`` (``filters.js``:
    ``localeCompare`` of the names; here their case-folded text, which orders Latin and
    Georgian names as ICU does but for punctuation and case ties)."""
    return min(regions, key=lambda r: (local_name(r, language).casefold(),
                                       local_name(r, language), r.code))


def opened_regions(regions) -> list[str]:
    """The codes of the regions a user restricted to ``regions`` (several) sees first,
    one per language whose first differs: the default language's first."""
    languages = [DEFAULT_LANGUAGE, *(code for code in LANGUAGES if code != DEFAULT_LANGUAGE)]
    return list(dict.fromkeys(first_by_name(regions, language).code
                              for language in languages))


def viewer_contexts(session) -> list[WarmUpViewer]:
    """Every distinct viewer context of the active users (agency; every region, the one
    region they are restricted to, or several and the one the page opens on in each
    language), the most recently signed-in first (a user's languages in
    :func:`opened_regions`' order)."""
    latest: dict[tuple, tuple] = {}
    for user in session.scalars(select(User).where(User.active)):
        regions = tuple(sorted((RegionRef(r.id, r.code) for r in user.regions),
                               key=lambda r: r.id))
        if not user.all_regions and not regions:
            continue  # they see nothing
        opened = (opened_regions(user.regions) if not user.all_regions and len(regions) > 1
                  else [""])
        for rank, region in enumerate(opened):
            key = (user.agency, user.all_regions, () if user.all_regions else regions,
                   region)
            signed_in = user.last_login_at
            if key not in latest or (signed_in is not None and
                                     (latest[key][0] is None or signed_in > latest[key][0])):
                latest[key] = (signed_in, rank)
    never = datetime.min.replace(tzinfo=clock.utc_now().tzinfo)
    ordered = sorted(latest, key=lambda k: (-(latest[k][0] or never).timestamp(),
                                            latest[k][1], k[0], k[3]))
    return [WarmUpViewer(agency, all_regions, regions, region)
            for agency, all_regions, regions, region in ordered]


def viewers(session, limit: int = MAX_VIEWERS) -> list[WarmUpViewer]:
    """The first ``limit`` of :func:`viewer_contexts`: the ones warmed."""
    return viewer_contexts(session)[:limit]


def viewer_name(viewer: WarmUpViewer) -> str:
    """A viewer context for the log: agency/regions[:the region the page opens on]."""
    return (f"{viewer.agency}/" + ("all" if viewer.all_regions
                                   else ",".join(r.code for r in viewer.regions))
            + (f":{viewer.region}" if viewer.region else ""))


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


def period_paths(area: dict, period: periods.AnalysisPeriod,
                 emerging_cells: bool = True) -> list[str]:
    """The analysis requests of the map page for ``period`` over ``area`` (``{"bbox":
    ...}``, or ``{"region": code}``) with the default filters, as the page writes them:
    the ranking, the Gi* cells, the sections' emerging categories and, with
    ``emerging_cells``, the emerging cells (:data:`REQUEST_NAMES`)."""
    start, end = period.start.date().isoformat(), period.end.date().isoformat()
    span = f"{start}T00:00:00Z/{end}T23:59:59Z"  # state.js datetimeInterval
    window = periods.emerging_period(period)  # cells.js emergingWindow
    emerging = f"{window.start.date().isoformat()}T00:00:00Z/{end}T23:59:59.999999Z"
    region = {"region": area.get("region")}
    paths = [
        f"/api/v1/risk/segments?{_query({**region, 'datetime': span})}",
        f"/api/v1/hotspots?{_query({**area, 'datetime': span, 'cell_size': DEFAULT_CELL_SIZE_M, 'method': DEFAULT_METHOD, 'significant_only': 'true'})}",  # noqa: E501
        f"/api/v1/hotspots/emerging?{_query({'unit': 'section', 'step': 'month', **region, 'datetime': emerging})}",  # noqa: E501
    ]
    if emerging_cells:
        paths.append(f"/api/v1/hotspots/emerging?{_query({**area, 'datetime': emerging, 'cell_size': DEFAULT_CELL_SIZE_M, 'step': 'month', 'patterns_only': 'true'})}")  # noqa: E501
    return paths


def default_view_paths(app, viewer: WarmUpViewer,
                       previous_months: int = 0) -> list[str]:
    """The analysis requests of the map page opened by ``viewer`` with the default
    state (module docstring), as the page writes them; then those of the
    ``previous_months`` months before the default period (the month slider's steps
    back: the method is still Gi*, so no emerging cells)."""
    with app.app_context():
        default = periods.default_analysis_period(db.session, clock.utc_now(),
                                                  viewer.agency)
        db.session.remove()
    if viewer.region:
        area = {"region": viewer.region}
    else:
        regions = answer(app, viewer, REGIONS_PATH)
        if regions.status_code != 200:
            raise RuntimeError(f"{REGIONS_PATH}: {regions.status_code}")
        area = {"bbox": _box(regions.get_json())}
    paths = period_paths(area, default)
    for months in range(1, previous_months + 1):
        paths += period_paths(area, periods.months_before(default, months),
                              emerging_cells=False)
    return paths


def warm_default_view(app, limit: int = MAX_VIEWERS,
                      previous_months: int = PREVIOUS_MONTHS) -> WarmUpReport:
    """Ask every analysis of the default view and of the ``previous_months`` months
    before it (:func:`default_view_paths`) for each of :func:`viewers`: computed into
    the shared results, or read there when another process has. The default views of
    every viewer come first, then the months before. A failed request is logged and the
    others go on."""
    started = time.perf_counter()
    with app.app_context():
        stamps, _ = queries.data_stamps(db.session)
        contexts = viewer_contexts(db.session)
        db.session.remove()
    warmed_for = contexts[:limit]
    report = WarmUpReport(stamps, left_out=[viewer_name(v) for v in contexts[limit:]])
    if report.left_out:
        logger.info("warm-up: %d viewer contexts, the %d most recently signed-in warmed; "
                    "left out: %s", len(contexts), limit, ", ".join(report.left_out))
    queued: list[tuple[WarmUpViewer, str, list[str]]] = []
    for viewer in warmed_for:
        who = viewer_name(viewer)
        try:
            paths = default_view_paths(app, viewer, previous_months)
        except Exception as exc:
            logger.exception("warm-up for %s: the default view's requests failed", who)
            report.failed.append((who, REGIONS_PATH, repr(exc)))
            continue
        queued.append((viewer, who, paths))
    # every viewer's default view before anyone's months before
    default_count = len(REQUEST_NAMES)
    rounds = [(viewer, who, paths[:default_count]) for viewer, who, paths in queued] + \
        [(viewer, who, paths[default_count:]) for viewer, who, paths in queued]
    for viewer, who, paths in rounds:
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
    """The name of a default view's request (``REQUEST_NAMES``) and its period's end
    month, for the log."""
    month = parse_qs(urlsplit(path).query)["datetime"][0].split("/")[1][:7]
    if path.startswith("/api/v1/risk/"):
        name = REQUEST_NAMES[0]
    elif path.startswith("/api/v1/hotspots?"):
        name = REQUEST_NAMES[1]
    else:
        name = REQUEST_NAMES[2] if "unit=section" in path else REQUEST_NAMES[3]
    return f"{name} to {month}"


def enabled(app) -> bool:
    """WARM_DEFAULT_VIEW (unset: on, except under TESTING), and shared results to warm."""
    return on_unless_testing(app.config, "WARM_DEFAULT_VIEW") \
        and analysis_results.SESSION_INFO_KEY in app.extensions


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
