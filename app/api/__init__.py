"""REST API under /api/v1 (JSON and GeoJSON)."""

from flask import Blueprint

from app.api.params import ParameterError
from app.errors import problem

bp = Blueprint("api", __name__, url_prefix="/api/v1")


class ApiError(Exception):
    """An error answered as RFC 7807 problem+json (``extra`` adds members)."""

    def __init__(self, status: int, title: str, detail: str, **extra):
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


@bp.errorhandler(ApiError)
def _api_problem(exc: ApiError):
    return problem(exc.status, exc.title, exc.detail, **exc.extra)


@bp.errorhandler(ParameterError)
def _parameter_error(exc: ParameterError):
    return problem(422, "Unprocessable Content", str(exc), field=exc.field)


from app.api import features, hotspots, imports, openapi  # noqa: E402,F401  (registers routes)
