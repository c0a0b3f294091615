"""The API's pages a person opens in a browser (the risk bulletin, an archived bulletin's
HTML): their problems as a page in the page's language, not problem+json.

A route marked :func:`browser_page` answers a problem (a bad ``region``, ``datetime``
or ``f``, a bulletin that does not exist, a region outside the reader's, no session)
with ``bulletin_problem.html``: what went wrong in one sentence and a way on (the map,
and the bulletin of the default period when only the period was wrong), with the same
status. Only when the client prefers HTML (a browser's navigation sends ``Accept:
text/html,...``); API clients (``Accept: application/json``, ``application/
problem+json`` or ``*/*``, as curl and the requests library send) keep problem+json.
"""

from __future__ import annotations

import json

from flask import Response, current_app, render_template, request, url_for

from app.errors import PROBLEM_MIME

# Preferred first on a tie (``*/*``): the API's own answer.
_API_TYPES = (PROBLEM_MIME, "application/json")


def browser_page(view):
    """Mark ``view`` (a route of the API) as a page a person opens in a browser."""
    view.browser_page = True
    return view


def _wants_page() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    if not getattr(view, "browser_page", False):
        return False
    return request.accept_mimetypes.best_match((*_API_TYPES, "text/html")) == "text/html"


def _problem_kind(status: int, field: str | None, detail: str) -> str:
    """What went wrong, as the template's sentence key."""
    if status in (401, 403, 404):
        return str(status)
    if field == "region" and "no border sections" in detail:
        return "no_sections"
    if field == "region" and "required" in detail:
        return "no_region"
    if field in ("region", "datetime", "f"):
        return field
    return "other"


def as_page(response: Response) -> Response:
    """``response`` as the page's problem page when it is a problem+json answer to a
    browser opening a :func:`browser_page`; otherwise ``response`` itself."""
    if response.mimetype != PROBLEM_MIME or not _wants_page():
        return response
    problem = json.loads(response.get_data())
    status, field = response.status_code, problem.get("field")
    kind = _problem_kind(status, field, problem.get("detail", ""))
    region = request.args.get("region") or ""
    # The ways on: the map (of the region, when that was not the fault) and, when the
    # period was at fault, the bulletin of the default period (no datetime).
    region_ok = bool(region) and kind in ("datetime", "f")
    map_url = url_for("ui.index", region=region) if region_ok else url_for("ui.index")
    default_bulletin = (url_for(request.endpoint, region=region) if region_ok
                        and request.endpoint == "api.risk_bulletin" else None)
    page = render_template("bulletin_problem.html", status=status, kind=kind,
                           value=request.args.get(field or "", ""), region=region,
                           map_url=map_url, default_bulletin=default_bulletin,
                           sign_in=url_for("auth.login",
                                           next=request.full_path.rstrip("?")))
    # (no WWW-Authenticate: a browser would ask for Basic credentials in a dialog)
    headers = {k: v for k, v in response.headers.items()
               if k.lower() not in ("content-type", "content-length", "www-authenticate")}
    return Response(page, status=status, headers=headers, mimetype="text/html")
