"""The incidents' rows as PostgreSQL's binary COPY, for ``geo.incidents`` to decode:
the point as stored (EWKB), persons, time, region, and the category and outcome as
small codes of the vocabularies.
"""

from __future__ import annotations

import io

from sqlalchemy import text
from sqlalchemy.dialects.postgresql import psycopg2

from geo.vocabulary import INCIDENT_CATEGORIES, INCIDENT_OUTCOMES

# Small integer codes of the vocabularies: position + 1, 0 = another value.
CATEGORY_CODES = tuple(INCIDENT_CATEGORIES)
OUTCOME_CODES = tuple(INCIDENT_OUTCOMES)


def _sql_text_array(vocabulary: tuple[str, ...]) -> str:
    """A vocabulary (constants of geo.vocabulary, never user input) as a SQL text[]."""
    return "ARRAY[" + ", ".join("'" + v.replace("'", "''") + "'" for v in vocabulary) \
        + "]::text[]"


# geom, persons_count, occurred_at, region_id (0: none), category and outcome codes.
_POINT_COLUMNS = "geom, persons_count, occurred_at"
_COLUMNS = (
    f"{_POINT_COLUMNS}, COALESCE(region_id, 0), "
    f"COALESCE(array_position({_sql_text_array(CATEGORY_CODES)}, category), 0)::int2, "
    f"COALESCE(array_position({_sql_text_array(OUTCOME_CODES)}, outcome), 0)::int2"
)


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
    and occurred_at, then (``codes``) the region and the category and outcome codes,
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
