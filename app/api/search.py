"""Search by place or section code: ``GET /api/v1/search?q=...&limit=...``.

The regions, border sections and crossing points the caller may see (their region scope,
``geo.places``), ranked: the code itself, then codes and names that begin with the text,
then those that hold it; case and diacritics ignored. Bad input is a 400 naming ``q`` or
``limit``: the search box's text, not a filter of an analysis.
"""

from __future__ import annotations

from flask import request

from app.api import ApiError, bp
from app.api.params import parse_int
from app.auth.scope import region_scope
from app.extensions import db
from geo import places
from geo.errors import ParameterError


@bp.get("/search")
def search_places():
    try:
        limit = parse_int("limit", request.args.get("limit"), places.DEFAULT_LIMIT, 1,
                          places.MAX_LIMIT)
        search = places.SearchRequest(request.args.get("q", ""), limit)
    except ParameterError as exc:
        raise ApiError(400, "Bad Request", str(exc), field=exc.field) from None
    return places.search_places(db.session, search, region_scope())
