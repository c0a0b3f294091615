"""The SQL of a write's agency rules (``geo.io.ingest``), over the staged incidents
(``geo.queries.staging``): the originating agency and releasability a row gets when it
gives none, the codes it names that do not exist, and the rows that would change
another agency's records or their releasability.

A staged row ``s`` is matched with the stored row ``t`` it writes over by
``staging.stored_row``; ``seen`` is the SQL truth "the writer sees ``t``"
(``staging.visible``): a row over a record the writer does not see is a conflict the
write reports by its key alone, so these checks pass over it and reveal nothing of it.
"""

from __future__ import annotations

from sqlalchemy import text

from geo.layers import Layer
from geo.queries.staging import STAGING, stored_row


def _rows(session, sql: str, **params) -> list:
    return session.execute(text(sql), params).all()


def fill_defaults(session, layer: Layer, mode: str, target_id: int | None,
                  agency: str | None, seen: str, seen_params: dict) -> None:
    """Give each staged row what it does not give, in one statement: its agency is the
    stored record's (when the writer sees it), else ``agency`` (the writer's; None
    leaves it empty: an error); its releasability and aggregate flag are the stored
    record's, else its agency's defaults (``agencies.default_*``)."""
    match, params = stored_row(layer, mode, target_id)
    session.execute(text(
        f"UPDATE {STAGING} AS u SET agency = f.agency, "
        "releasability = COALESCE(u.releasability, f.stored_releasability, "
        "a.default_releasability), "
        "aggregate = COALESCE(u.aggregate, f.stored_aggregate, a.default_aggregate) "
        "FROM (SELECT s._row, COALESCE(s.agency, t.agency, CAST(:default_agency AS text)) "
        "AS agency, t.releasability AS stored_releasability, "
        f"t.aggregate AS stored_aggregate FROM {STAGING} AS s "
        f"LEFT JOIN {layer.table} AS t ON {match} AND {seen} "
        "WHERE s.agency IS NULL OR s.releasability IS NULL OR s.aggregate IS NULL) AS f "
        "LEFT JOIN agencies AS a ON a.code = f.agency WHERE u._row = f._row"),
        {**params, **seen_params, "default_agency": agency})


def unknown_codes(session) -> list:
    """``(_row, field, code)`` of each staged agency or releasability code that is no
    agency, and each staged row with no agency (``code`` None)."""
    return _rows(session, f"""
        SELECT s._row, 'agency' AS field, s.agency AS code FROM {STAGING} AS s
         WHERE s.agency IS NULL
            OR NOT EXISTS (SELECT 1 FROM agencies AS a WHERE a.code = s.agency)
        UNION ALL
        SELECT s._row, 'releasability', c.code FROM {STAGING} AS s,
               jsonb_array_elements_text(CASE WHEN jsonb_typeof(s.releasability) = 'array'
                                         THEN s.releasability ELSE '[]' END) AS c(code)
         WHERE NOT EXISTS (SELECT 1 FROM agencies AS a WHERE a.code = c.code)
        ORDER BY 1, 2""")


def other_agencies_rows(session, layer: Layer, mode: str, target_id: int | None,
                        agency: str, seen: str, seen_params: dict) -> list:
    """``(_row, given, stored)`` of each staged row that gives another agency than
    ``agency`` or writes over a (seen) record of another agency."""
    match, params = stored_row(layer, mode, target_id)
    return _rows(
        session,
        f"SELECT s._row, s.agency AS given, t.agency AS stored FROM {STAGING} AS s "
        f"LEFT JOIN {layer.table} AS t ON {match} "
        f"WHERE (t.id IS NULL OR {seen}) AND (s.agency <> :agency OR t.agency <> :agency) "
        "ORDER BY s._row", **params, **seen_params, agency=agency)


def release_changes(session, layer: Layer, mode: str, target_id: int | None,
                    agency: str, seen: str, seen_params: dict) -> list:
    """``(_row, stored)`` of each staged row that changes the releasability or
    aggregate flag of a (seen) record whose originating agency is not ``agency``."""
    match, params = stored_row(layer, mode, target_id)
    return _rows(
        session,
        f"SELECT s._row, t.agency AS stored FROM {STAGING} AS s "
        f"JOIN {layer.table} AS t ON {match} "
        f"WHERE {seen} AND t.agency <> :agency AND (s.releasability, s.aggregate) "
        "IS DISTINCT FROM (t.releasability, t.aggregate) ORDER BY s._row",
        **params, **seen_params, agency=agency)


def reporting_units(session, layer: Layer, mode: str, target_id: int | None) -> list:
    """``(_row, code, region_id)`` of each staged row that sets a reporting unit other
    than the stored record's; ``region_id`` None: no region has that code."""
    match, params = stored_row(layer, mode, target_id)
    return _rows(
        session,
        f"SELECT s._row, s.reporting_unit AS code, r.id AS region_id FROM {STAGING} AS s "
        f"LEFT JOIN {layer.table} AS t ON {match} "
        "LEFT JOIN regions AS r ON r.code = s.reporting_unit "
        "WHERE s.reporting_unit IS NOT NULL "
        "AND s.reporting_unit IS DISTINCT FROM t.reporting_unit ORDER BY s._row", **params)


def agency_codes(session) -> list[str]:
    """Every agency's code, sorted."""
    return list(session.execute(text("SELECT code FROM agencies ORDER BY code")).scalars())
