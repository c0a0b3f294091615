"""Search by place or section code in our own layers (no online geocoder): the regions
(code, English and Georgian names), border sections and crossing points (code, name,
Georgian name) a caller may see, ranked.

Matching ignores case and diacritics (both sides are folded: Unicode NFKD without the
combining marks, then ``str.casefold``, which also folds Georgian Mtavruli capitals to
Mkhedruli). A place matches when its code equals the query (rank 0, ``"code"``), when
its code or a name begins with it (rank 1, ``"prefix"``) or holds it (rank 2,
``"substring"``); within a rank regions come before sections before crossing points,
then by code. The names are read for every place in scope (a few thousand short rows
at most) and folded here: PostgreSQL's ``lower`` would not remove diacritics without
the ``unaccent`` extension, which the database does not carry.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from geo.errors import ParameterError
from geo.queries import places as places_sql
from geo.scope import Scope

KINDS = ("region", "section", "crossing")
MATCHES = ("code", "prefix", "substring")
MAX_QUERY_LENGTH = 100
DEFAULT_LIMIT = 8
MAX_LIMIT = 50


def folded(value: str | None) -> str:
    """``value`` without case or diacritics, for matching ("Sárpi" -> "sarpi")."""
    decomposed = unicodedata.normalize("NFKD", value or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def match_rank(query: str, code: str, names) -> int | None:
    """0, 1 or 2 (:data:`MATCHES`) for how a place of ``code`` and ``names`` matches the
    folded ``query``; None when it does not."""
    code = folded(code)
    texts = [code, *(folded(n) for n in names if n)]
    if code == query:
        return 0
    if any(t.startswith(query) for t in texts):
        return 1
    if any(query in t for t in texts):
        return 2
    return None


@dataclass(frozen=True)
class SearchRequest:
    """A search: the text as typed and the most results to answer."""

    q: str
    limit: int = DEFAULT_LIMIT

    def __post_init__(self):
        if not isinstance(self.q, str) or not folded(self.q):
            raise ParameterError("q", "is required: a place name or code to search for")
        if len(self.q) > MAX_QUERY_LENGTH:
            raise ParameterError("q", f"is {len(self.q)} characters long; at most "
                                      f"{MAX_QUERY_LENGTH}")
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) \
                or not 1 <= self.limit <= MAX_LIMIT:
            raise ParameterError("limit", f"must be an integer from 1 to {MAX_LIMIT}")


def search_places(session, request: SearchRequest, scope: Scope) -> dict:
    """The places ``scope`` sees (None: every place) matching ``request.q``, best first.

    Returns
    -------
    dict
        ``q``, ``numberMatched`` (every match), ``numberReturned`` and ``places``: each
        with ``kind`` (:data:`KINDS`), ``id``, ``code``, ``name``, ``name_ka``,
        ``region`` (its region's code; None for a section or crossing point of none),
        ``match`` (:data:`MATCHES`), ``bbox`` ``[minx, miny, maxx, maxy]`` and
        ``centroid`` ``[x, y]``: degrees of EPSG:4326 (a point on the place: on a
        region's surface, the middle of a section).
    """
    query = folded(request.q)
    kind_order = {kind: k for k, kind in enumerate(KINDS)}
    ranked = []
    for row in places_sql.place_names(session, scope):
        rank = match_rank(query, row.code, (row.name, row.name_ka))
        if rank is not None:
            ranked.append((rank, kind_order[row.kind], folded(row.code), row))
    ranked.sort(key=lambda entry: entry[:3])
    chosen = ranked[:request.limit]
    ids_by_kind: dict[str, list[int]] = {}
    for *_, row in chosen:
        ids_by_kind.setdefault(row.kind, []).append(row.id)
    extents = places_sql.place_extents(session, ids_by_kind)
    found = []
    for rank, _, _, row in chosen:
        bbox, centroid = extents[(row.kind, row.id)]
        found.append({"kind": row.kind, "id": row.id, "code": row.code, "name": row.name,
                      "name_ka": row.name_ka, "region": row.region_code,
                      "match": MATCHES[rank], "bbox": list(bbox), "centroid": list(centroid)})
    return {"q": request.q, "numberMatched": len(ranked), "numberReturned": len(found),
            "places": found}
