"""Search by place or section code: ``GET /api/v1/search?q=...&limit=...``.

The regions, border sections and crossing points the caller may see (their region scope,
``geo.places``), ranked: the code itself, then codes and names that begin with the text,
then those that hold it; case and diacritics ignored. Bad input is a 422 naming ``q`` or
``limit``, as for every parameter of the API.
"""

from __future__ import annotations

from flask import request

from app.api import bp
from app.api.params import parse_int
from app.auth.scope import region_scope
from app.extensions import db
from geo import places


@bp.get("/search")
def search_places():
    limit = parse_int("limit", request.args.get("limit"), places.DEFAULT_LIMIT, 1,
                      places.MAX_LIMIT)
    search = places.SearchRequest(request.args.get("q", ""), limit)
    return places.search_places(db.session, search, region_scope())
