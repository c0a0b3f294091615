"""The incidents' rows as PostgreSQL's binary COPY, for ``geo.incidents`` to decode:
the point as stored (EWKB), persons, time, region, and the category and outcome as
small codes of the vocabularies.
"""

from __future__ import annotations

import io

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import psycopg2

from geo.scope import visibility_condition
from geo.vocabulary import INCIDENT_CATEGORIES, INCIDENT_OUTCOMES

# Small integer codes of the vocabularies: position + 1, 0 = another value.
CATEGORY_CODES = tuple(INCIDENT_CATEGORIES)
OUTCOME_CODES = tuple(INCIDENT_OUTCOMES)


def _sql_text_array(vocabulary: tuple[str, ...]) -> str:
    """A vocabulary (constants of geo.vocabulary, never user input) as a SQL text[]."""
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in vocabulary) \
        + "]::text[]"


# Who sees an incident in detail, as a bit mask over the agencies: bit ``agencies.id``
# set when that agency sees it (geo.scope's rule, evaluated per agency in SQL), or -1
# (every bit: every agency, present and future) when it is released to all.
_VIEWERS = (
    "CASE WHEN incidents.releasability = '\"all\"'::jsonb THEN -1::int8 ELSE "
    "(SELECT COALESCE(bit_or(1::int8 << a.id), 0) FROM agencies AS a "
    f"WHERE {visibility_condition('incidents.', 'a.code')}) END")
# geom, persons_count, occurred_at, region_id (0: none), category and outcome codes,
# the viewers' mask and the aggregate flag.
_POINT_COLUMNS = "geom, persons_count, occurred_at"
_COLUMNS = (
    f"{_POINT_COLUMNS}, COALESCE(region_id, 0), "
    f"COALESCE(array_position({_sql_text_array(CATEGORY_CODES)}, category), 0)::int2, "
    f"COALESCE(array_position({_sql_text_array(OUTCOME_CODES)}, outcome), 0)::int2, "
    f"{_VIEWERS}, aggregate"
)
# Bits of an int8 the masks may use (the sign bit is every agency's).
MAX_AGENCY_BIT = 62


def agency_bits(raw_connection) -> dict[str, int]:
    """Each agency's bit in the viewers' mask (its id), by code (a psycopg2
    connection, as the COPY's).

    Raises
    ------
    RuntimeError
        An agency's id is past ``MAX_AGENCY_BIT``: its bit would not fit a mask.
    """
    with raw_connection.cursor() as cursor:
        cursor.execute("SELECT code, id FROM agencies")
        bits = dict(cursor.fetchall())
    if any(bit > MAX_AGENCY_BIT for bit in bits.values()):
        raise RuntimeError(f"agency ids above {MAX_AGENCY_BIT} do not fit the map "
                           "renderer's visibility masks")
    return bits


def _pyformat(sql: str, params: dict) -> tuple[str, dict]:
    """``sql`` with ``:name`` placeholders as psycopg2's ``%(name)s`` text and its
    values, compiled by SQLAlchemy's psycopg2 dialect (which also doubles any ``%``)."""
    compiled = text(sql).bindparams(**params).compile(dialect=psycopg2.dialect())
    return str(compiled), compiled.params


def copy_incident_rows(raw_connection, where: str, params: dict, order_by_time: bool,
                       codes: bool = True, flag: str | None = None) -> memoryview:
    """The binary COPY of the incidents matching ``where`` (``:name`` placeholders,
    e.g. ``geo.queries.features.feature_filter``'s), values bound by the driver
    (psycopg2 ``mogrify``), ordered by ``occurred_at`` when asked; geom, persons_count
    and occurred_at, then (``codes``) the region, the category and outcome codes, the
    viewers' mask and the aggregate flag,
    then (``flag``: a SQL truth over the row, e.g. ``geo.scope.visibility_condition``,
    bound from ``params`` too) its value, false when null."""
    columns = _COLUMNS if codes else _POINT_COLUMNS
    if flag is not None:
        columns += f", COALESCE({flag}, false)"
    statement, values = _pyformat(
        f"SELECT {columns} FROM incidents WHERE {where}"
        + (" ORDER BY occurred_at" if order_by_time else ""), params)
    with raw_connection.cursor() as cursor:
        bound = cursor.mogrify(statement, values).decode()
        # psycopg2 writes each row separately: a C-level buffer keeps that cheap.
        buffer = io.BytesIO()
        cursor.copy_expert(f"COPY ({bound}) TO STDOUT WITH (FORMAT binary)", buffer)
    return buffer.getbuffer()
