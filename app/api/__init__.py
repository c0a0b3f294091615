"""REST API under /api/v1 (JSON and GeoJSON)."""

from flask import Blueprint, request

from app.api.params import ParameterError
from app.api.problem_pages import as_page
from app.errors import problem
from geo.errors import OutOfScopeError

bp = Blueprint("api", __name__, url_prefix="/api/v1")


class ApiError(Exception):
    """An error answered as RFC 7807 problem+json (``extra`` adds members)."""

    def __init__(self, status: int, title: str, detail: str, **extra):
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


@bp.after_request
def _problem_as_page(response):
    # A browser opening the bulletin gets its problems as a page (app.api.problem_pages).
    return as_page(response)


@bp.errorhandler(ApiError)
def _api_problem(exc: ApiError):
    return problem(exc.status, exc.title, exc.detail, **exc.extra)


@bp.before_request
def _refuse_nul_in_parameters():
    # PostgreSQL text cannot hold NUL: refuse it once here, for every parameter.
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            raise ParameterError(name.replace("\x00", ""), "contains a NUL character")


@bp.errorhandler(ParameterError)
def _parameter_error(exc: ParameterError):
    return problem(422, "Unprocessable Content", str(exc), field=exc.field)


@bp.errorhandler(OutOfScopeError)
def _out_of_scope(exc: OutOfScopeError):
    # A region outside the caller's region scope (app.auth.scope): a right, not a typo.
    return problem(403, "Forbidden", str(exc), field=exc.field)


from app.api import (  # noqa: E402,F401  (routes)
    agencies,
    audit,
    changes,
    features,
    forecast,
    hotspots,
    imports,
    notifications,
    openapi,
    products,
    reports,
    risk,
    search,
    subscriptions,
)
