"""The audit trail in SQL: set-based records of feature writes, and reading the trail.

``audit_log`` (``app.audit.models.AuditRecord``) is append-only. A write of many
features gets one record per feature from one ``INSERT ... SELECT`` over the layer's
table (never a statement per feature), in the caller's transaction, so the records
commit or roll back with the data. A feature's values are kept as a GeoJSON-like object
(``type``, ``id``, ``geometry`` in EPSG:4326, ``properties``: the writable and derived
properties), as the API answers it.

Who and from where (``actor``: ``user_id``, ``username``, ``ip``, ``method``, ``path``)
are the caller's to give; nothing here knows about HTTP.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from geo.layers import INCIDENTS, Layer, get_layer
from geo.scope import VIEWER_PARAMETER, visibility_condition

ACTOR_FIELDS = ("user_id", "username", "ip", "method", "path")
# The columns of a record, in the order the API and the CSV export give them.
COLUMNS = ("id", "at", "user_id", "username", "ip", "method", "path", "action", "entity",
           "entity_id", "before", "after", "detail")
JSON_COLUMNS = frozenset({"before", "after", "detail"})
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# Coordinates with 15 decimals, as the API's own GeoJSON: doubles survive unchanged.
_FEATURE_JSONB = """jsonb_build_object(
    'type', 'Feature',
    'id', p.id,
    'geometry', ST_AsGeoJSON(p.geom, 15)::jsonb,
    'properties', to_jsonb(p) - 'geom' - 'id')"""


def _features(layer: Layer, lock: bool) -> str:
    # Identifiers come from the layer description only (whitelisted).
    return (f"(SELECT id, {', '.join(layer.readable_names)}, geom FROM {layer.table} "
            f"WHERE id = ANY(:ids){' FOR UPDATE' if lock else ''}) AS p")


def _actor_params(actor: dict) -> dict:
    return {name: actor.get(name) for name in ACTOR_FIELDS}


def lock_features(session, layer: Layer, ids: Sequence[int]) -> dict[str, dict]:
    """The current values of features, locked (``FOR UPDATE``) until the transaction ends.

    Read before an update, so that the "before" of its records is exactly what the
    update replaced, even with concurrent writers.

    Returns
    -------
    dict
        Feature object (GeoJSON-like, EPSG:4326) by id as text; ids that do not exist
        are absent.
    """
    rows = session.execute(
        text(f"SELECT p.id::text AS id, {_FEATURE_JSONB} AS feature FROM {_features(layer, True)}"),
        {"ids": list(ids)},
    )
    return {row.id: row.feature for row in rows}


def record_features(session, layer: Layer, action: str, ids: Sequence[int], actor: dict, *,
                    current_as: str = "after", before: dict[str, dict] | None = None,
                    detail: dict | None = None) -> int:
    """Append one record per feature of ``ids`` in one statement; return how many.

    Parameters
    ----------
    session : sqlalchemy Session
        Its transaction holds the records (flushed with the write, never committed here).
    layer : Layer
    action : str
        ``create``, ``update`` or ``delete``.
    ids : sequence of int
        The features written (ids that do not exist give no record).
    actor : dict
        ``user_id``, ``username``, ``ip``, ``method``, ``path`` (missing ones are NULL).
    current_as : {"after", "before"}
        Where the features' current values go: ``after`` for a create or an update
        (call it after the write), ``before`` for a delete (call it before the delete;
        the rows are locked until the transaction ends).
    before : dict, optional
        For an update: the values before it by id as text (from :func:`lock_features`).
    detail : dict, optional
        Same extra facts on every record.
    """
    if current_as not in ("after", "before"):
        raise ValueError(f"current_as must be after or before, got {current_as!r}")
    if not ids:
        return 0
    current = _FEATURE_JSONB
    before_value = "CAST(:before AS jsonb) -> p.id::text" if before is not None else "NULL"
    values = {"before": before_value, "after": current} if current_as == "after" else {
        "before": current, "after": "NULL"}
    result = session.execute(
        text(
            "INSERT INTO audit_log (user_id, username, ip, method, path, action, entity, "
            "entity_id, before, after, detail) "
            "SELECT :user_id, :username, :ip, :method, :path, :action, :entity, p.id::text, "
            f"{values['before']}, {values['after']}, CAST(:detail AS jsonb) "
            f"FROM {_features(layer, current_as == 'before')} ORDER BY p.id"
        ),
        {**_actor_params(actor), "action": action, "entity": layer.name, "ids": list(ids),
         "before": None if before is None else json.dumps(before),
         "detail": None if detail is None else json.dumps(detail)},
    )
    return result.rowcount


def file_sha256(path, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes (read in chunks of ``chunk_size`` bytes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------ reading the trail

@dataclass
class AuditQuery:
    """Filters and page of the audit trail (all optional), newest first.

    ``user`` is a user name, ``action``/``entity``/``entity_id`` match exactly (a
    layer's ``entity`` also matches the records written under its older names, e.g.
    ``crossing_points`` those of ``crossings``);
    ``start``/``end`` bound the record's time (closed interval, timezone-aware);
    ``limit`` None means every matching record. ``viewer_agency`` (``geo.scope``)
    keeps, of the records about incidents, those whose feature (as written, else as it
    was before a delete) that agency sees; records written before incidents had an
    agency count as released to all (they were). None: every record.
    """

    user: str | None = None
    action: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    viewer_agency: str | None = None
    limit: int | None = 100
    offset: int = 0


# The originating agency and releasability of the incident a record holds (after, else
# before), for geo.scope's rule: a lateral row with the columns the rule reads.
_RECORD_FEATURE = (
    "(SELECT COALESCE(after, before) -> 'properties' ->> 'agency' AS agency, "
    "COALESCE(COALESCE(after, before) -> 'properties' -> 'releasability', "
    "'\"all\"'::jsonb) AS releasability) AS snap")


def entity_names(entity: str) -> list[str]:
    """The names records of ``entity`` were written under: a layer's name and aliases
    (the name or an alias given), else the entity itself."""
    try:
        layer = get_layer(entity)
    except KeyError:
        return [entity]
    return [layer.name, *layer.aliases]


def _where(query: AuditQuery) -> tuple[str, dict]:
    conditions, params = ["true"], {}
    for column, value in (("username", query.user), ("action", query.action),
                          ("entity_id", query.entity_id)):
        if value is not None:
            conditions.append(f"{column} = :{column}")
            params[column] = value
    if query.entity is not None:
        conditions.append("entity = ANY(:entities)")
        params["entities"] = entity_names(query.entity)
    if query.start is not None:
        conditions.append("at >= :start")
        params["start"] = query.start
    if query.end is not None:
        conditions.append("at <= :end")
        params["end"] = query.end
    if query.viewer_agency is not None:
        conditions.append(f"(entity <> ALL(:releasable_entities) OR EXISTS (SELECT 1 FROM "
                          f"{_RECORD_FEATURE} WHERE {visibility_condition('snap.')}))")
        params["releasable_entities"] = entity_names(INCIDENTS.name)
        params[VIEWER_PARAMETER] = query.viewer_agency
    return " AND ".join(conditions), params


def _select(query: AuditQuery, extra: str = "") -> tuple[str, dict]:
    where, params = _where(query)
    page = "OFFSET :offset" if query.limit is None else "LIMIT :limit OFFSET :offset"
    params.update(offset=query.offset, limit=query.limit)
    return (f"SELECT {', '.join(COLUMNS)}{extra} FROM audit_log WHERE {where} "
            f"ORDER BY at DESC, id DESC {page}"), params


def audit_page(session, query: AuditQuery) -> tuple[list[dict], int]:
    """One page of records (dicts with :data:`COLUMNS`, ``at`` a datetime in UTC) and
    the number of records that pass the filters (all pages)."""
    where, params = _where(query)
    matched = session.execute(text(f"SELECT count(*) FROM audit_log WHERE {where}"),
                              params).scalar_one()
    statement, params = _select(query)
    rows = [dict(row) for row in session.execute(text(statement), params).mappings()]
    return rows, matched


def iter_audit_rows(session, query: AuditQuery, batch_size: int = 2000) -> Iterator[dict]:
    """Every record that passes the filters, newest first, streamed (bounded memory)."""
    statement, params = _select(query)
    result = session.execute(
        text(statement).execution_options(stream_results=True, max_row_buffer=batch_size),
        params)
    for row in result.mappings():
        yield dict(row)


def csv_cell(value) -> str:
    """Text of one CSV cell: JSON for objects, ISO 8601 for times, and a leading ``'``
    before text a spreadsheet would run as a formula (``= + - @``, tab, carriage return)."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        cell = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    elif isinstance(value, datetime):
        cell = value.isoformat()
    else:
        cell = str(value)
    return "'" + cell if cell.startswith(FORMULA_PREFIXES) else cell


def csv_chunks(rows: Iterable[dict], batch: int = 500) -> Iterator[str]:
    """CSV text (header first, RFC 4180 quoting) of records, in chunks of ``batch`` rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([csv_cell(row[c]) for c in COLUMNS])
        count += 1
        if count % batch == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


_FIRST_BROKEN_LINK = """
    SELECT id, sha256 IS DISTINCT FROM recomputed AS altered
    FROM (SELECT a.id, a.sha256, a.prev_sha256,
                 audit_log_digest(a.prev_sha256, a) AS recomputed,
                 lag(a.sha256) OVER (ORDER BY a.id) AS previous
          FROM audit_log a) chain
    WHERE sha256 IS DISTINCT FROM recomputed OR prev_sha256 IS DISTINCT FROM previous
    ORDER BY id LIMIT 1"""


def first_broken_link(session) -> tuple[int, int | None, str | None]:
    """Check the audit trail's hash chain (migration ``c4d8e2a91b37``).

    Returns
    -------
    tuple
        ``(records checked, id of the first broken record or None, why)``: a record
        whose content no longer gives its ``sha256`` was altered; one whose
        ``prev_sha256`` is not the preceding record's ``sha256`` follows a record that
        was deleted or altered. (Removing the newest records leaves no trace in the
        chain itself: compare the count with an earlier one.)
    """
    checked = session.execute(text("SELECT count(*) FROM audit_log")).scalar_one()
    broken = session.execute(text(_FIRST_BROKEN_LINK)).first()
    if broken is None:
        return checked, None, None
    why = ("its content does not give its hash (altered)" if broken.altered else
           "its link does not match the record before it (a record was deleted or altered)")
    return checked, broken.id, why

