"""The SQL of a write (``geo.io.ingest``): a temporary staging table of validated rows,
the checks that need the database over all of them, and the one statement that moves
them into the layer's table with their derived links.

Identifiers come from the catalogue (``geo.layers``: table, key, writable fields, scope
column) and the constants here; every value is bound. ``mode`` is the write's:
``create`` (a stored key is a conflict), ``upsert`` (an import: insert or update on the
natural key) or ``update`` (a PATCH of the feature ``target_id``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text

from geo.crs import STORAGE_SRID
from geo.layers import Field, Layer
from geo.queries.database import local_settings
from geo.queries.links import INCIDENT_LINK_COLUMNS, derive_links, incident_links
from geo.scope import scope_condition, scope_parameter, visibility_condition

STAGING = "ingest_staging"
# The order rows are written in: PostGIS's btree order of geometry, a Hilbert curve
# over the bounding-box centres (PostGIS >= 3.0), so each write lays neighbours out on
# the same table pages and a bbox query reads a few pages instead of one per row (OGC
# API Features, issue 6). ``{}``: the alias of the row source.
SPATIAL_ORDER = "{}.geom"
# Memory for sorting the rows of a write into that order (local to the statement's
# transaction); a million incidents sort in memory.
WRITE_WORK_MEM = "256MB"
_PG_TYPES = {"text": "text", "choice": "text", "int": "integer", "float": "double precision",
             "timestamp": "timestamptz", "bool": "boolean", "releasability": "jsonb"}
# Whitelisted: the table and the index on its geometry that orders it.
_CLUSTER_INDEXES = {"incidents": "idx_incidents_geom"}


def _sql_type(spec: Field) -> str:
    if spec.kind == "choice" and spec.choices and isinstance(spec.choices[0], int):
        return "integer"
    return _PG_TYPES[spec.kind]


def _rows(session, sql: str, **params) -> list:
    return session.execute(text(sql), params).all()


# ------------------------------------------------------------------ the staging table


def create_staging(session, layer: Layer) -> None:
    """(Re)create the staging table of ``layer``'s writable fields, ``_row`` (the row's
    number in the input) and ``geom``; dropped at commit."""
    columns = ", ".join(f"{f.name} {_sql_type(f)}" for f in layer.fields)
    session.execute(text(f"DROP TABLE IF EXISTS {STAGING}"))
    session.execute(text(
        f"CREATE TEMP TABLE {STAGING} (_row integer NOT NULL, {columns}, "
        f"geom geometry({layer.geometry_type}, {STORAGE_SRID}) NOT NULL) ON COMMIT DROP"))


def copy_into_staging(session, names: Sequence[str], csv_buffer) -> None:
    """COPY CSV rows of the columns ``names`` (``_row``, writable fields, ``geom`` as
    EWKB hex) into the staging table."""
    with session.connection().connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY {STAGING} ({', '.join(names)}) FROM STDIN WITH (FORMAT csv)", csv_buffer)


def drop_staging(session) -> None:
    session.execute(text(f"DROP TABLE IF EXISTS {STAGING}"))


# ------------------------------------------------------------------ checks


def stored_row(layer: Layer, mode: str, target_id: int | None, *,
                written: bool = False) -> tuple[str, dict]:
    """Join condition of a staged row ``s`` and the stored row ``t`` it writes over
    (or, ``written``, was written as), and its bound values. Before a create there
    is none: a stored key there is a conflict."""
    if mode == "update":
        return "t.id = :target", {"target": target_id}
    if mode == "create" and not written:
        return "false", {}
    return " AND ".join(f"t.{c} = s.{c}" for c in layer.key), {}


def visible(layer: Layer, alias: str, scope: frozenset[int] | None,
            viewer_agency: str | None = None) -> tuple[str, dict]:
    """SQL truth of "stored row ``alias`` lies in the region scope and the writer's
    agency ``viewer_agency`` sees it" (``geo.scope``; None: no such limit), and its
    values."""
    conditions, params = [], {}
    if scope is not None:
        conditions.append(f"({alias}.{layer.scope_column} IS NOT NULL AND "
                          f"{scope_condition(layer, 'scope', f'{alias}.')})")
        params["scope"] = scope_parameter(scope)
    if viewer_agency is not None and layer.releasable:
        conditions.append(visibility_condition(f"{alias}.", ":writer_agency"))
        params["writer_agency"] = viewer_agency
    return " AND ".join(conditions) or "true", params


def repeated_keys(session, layer: Layer) -> list:
    """``(_row, first_row)`` of each staged row whose key an earlier row has."""
    key = ", ".join(layer.key)
    return _rows(
        session,
        f"SELECT _row, first_row FROM (SELECT _row, min(_row) OVER (PARTITION BY {key}) "
        f"AS first_row FROM {STAGING}) AS s WHERE _row <> first_row ORDER BY _row")


def taken_keys(session, layer: Layer, mode: str, target_id: int | None,
               scope: frozenset[int] | None, viewer_agency: str | None = None) -> list:
    """``(_row, id, visible)`` of each staged row whose key a stored feature has (for an
    update, another feature than the target); ``visible``: the writer sees that
    feature (:func:`visible`)."""
    seen, params = visible(layer, "t", scope, viewer_agency)
    other = "WHERE t.id <> :target " if mode == "update" else ""
    return _rows(
        session,
        f"SELECT s._row, t.id, {seen} AS visible FROM {STAGING} AS s "
        f"JOIN {layer.table} AS t USING ({', '.join(layer.key)}) {other}ORDER BY s._row",
        target=target_id, **params)


def points_outside_regions(session, tolerance_m: float) -> list:
    """``(_row, swapped)`` of each staged point farther than ``tolerance_m`` metres (on
    the spheroid) from every region, when there are regions; ``swapped``: with its
    coordinates swapped it would lie near one."""
    return _rows(
        session,
        f"""
        SELECT s._row,
               abs(ST_X(s.geom)) <= 90 AND EXISTS (
                   SELECT 1 FROM regions AS r
                    WHERE ST_DWithin(r.geom::geography,
                                     ST_SetSRID(ST_MakePoint(ST_Y(s.geom), ST_X(s.geom)),
                                                4326)::geography, :tolerance)
               ) AS swapped
          FROM {STAGING} AS s
         WHERE EXISTS (SELECT 1 FROM regions)
           AND NOT EXISTS (SELECT 1 FROM regions AS r WHERE ST_Intersects(r.geom, s.geom))
           AND NOT EXISTS (SELECT 1 FROM regions AS r
                            WHERE ST_DWithin(r.geom::geography, s.geom::geography,
                                             :tolerance))
         ORDER BY s._row
        """,
        tolerance=tolerance_m)


def status_changes(session, layer: Layer, mode: str, target_id: int | None,
                   forbidden: Sequence[str]) -> list:
    """``(_row, new, old)`` of each staged row that sets, or changes from, one of the
    ``forbidden`` statuses."""
    match, params = stored_row(layer, mode, target_id)
    return _rows(
        session,
        f"SELECT s._row, s.status AS new, t.status AS old FROM {STAGING} AS s "
        f"LEFT JOIN {layer.table} AS t ON {match} "
        "WHERE s.status IS DISTINCT FROM t.status "
        "AND (s.status = ANY(:forbidden) OR t.status = ANY(:forbidden)) ORDER BY s._row",
        forbidden=sorted(forbidden), **params)


def stored_outside_scope(session, layer: Layer, mode: str, target_id: int | None,
                         scope: frozenset[int] | None, viewer_agency: str | None = None
                         ) -> list:
    """``(_row,)`` of each staged row that would overwrite a stored feature the writer
    does not see (:func:`visible`)."""
    match, params = stored_row(layer, mode, target_id)
    seen, scope_params = visible(layer, "t", scope, viewer_agency)
    return _rows(
        session,
        f"SELECT s._row FROM {STAGING} AS s JOIN {layer.table} AS t ON {match} "
        f"WHERE NOT {seen} ORDER BY s._row", **scope_params, **params)


def written_outside_scope(session, layer: Layer, mode: str, target_id: int | None,
                          ids: Sequence[int], scope: frozenset[int]) -> list:
    """``(_row, unlinked)`` of each written row (``ids``) whose derived region is
    outside the scope; ``unlinked``: it lies in no region."""
    match, params = stored_row(layer, mode, target_id, written=True)
    column = layer.scope_column
    return _rows(
        session,
        f"SELECT s._row, t.{column} IS NULL AS unlinked FROM {STAGING} AS s "
        f"JOIN {layer.table} AS t ON {match} WHERE t.id = ANY(:ids) "
        f"AND (t.{column} IS NULL OR NOT {scope_condition(layer, 'scope', 't.')}) "
        "ORDER BY s._row",
        ids=list(ids), scope=scope_parameter(scope), **params)


def region_codes(session, ids) -> list[str]:
    """Codes of the regions ``ids``, sorted."""
    return list(session.execute(
        text("SELECT code FROM regions WHERE id = ANY(:ids) ORDER BY code"),
        {"ids": sorted(ids)}).scalars())


# ------------------------------------------------------------------ writing


def _insert_in_spatial_order(session, layer: Layer, insert: str, source: str,
                             conflict: str) -> list:
    """Run ``insert`` (its columns: id, then those of ``source``) over the staged rows
    of ``source`` (select-list and FROM clause; alias ``src`` for the staging
    table), writing them in ``SPATIAL_ORDER``; returns (id, inserted) per written row.

    Ids still follow the rows' order in the input: the sequence values are drawn
    after an inner sort by ``_row``, before the rows are sorted along the curve.
    """
    sequence = session.execute(text("SELECT pg_get_serial_sequence(:table, 'id')"),
                               {"table": layer.table}).scalar_one()
    with local_settings(session, work_mem=WRITE_WORK_MEM):
        return _rows(
            session,
            f"{insert} SELECT * FROM (SELECT nextval(CAST(:sequence AS regclass)) AS id, "
            f"{source} ORDER BY src._row) AS w ORDER BY {SPATIAL_ORDER.format('w')} "
            f"{conflict} RETURNING id, (xmax = 0) AS inserted", sequence=sequence)


def _tuple(prefix: str, columns: Sequence[str]) -> str:
    return ", ".join(prefix + c for c in columns)


def write_staged(session, layer: Layer, mode: str, target_id: int | None,
                 analysis_srid: int) -> list:
    """Move the staged rows into ``layer``'s table (rows identical to the stored ones
    are left alone) with their derived links (metres in ``analysis_srid``); returns
    ``(id, inserted)`` per written row."""
    compared = [*layer.writable_names, "geom"]
    touched = layer.name == "incidents"  # incidents carry updated_at
    if mode == "update":
        assignments = ", ".join(f"{c} = s.{c}" for c in compared)
        rows = _rows(
            session,
            f"UPDATE {layer.table} AS t SET {assignments}"
            f"{', updated_at = now()' if touched else ''} FROM {STAGING} AS s "
            f"WHERE t.id = :target AND ({_tuple('t.', compared)}) "
            f"IS DISTINCT FROM ({_tuple('s.', compared)}) RETURNING t.id, false AS inserted",
            target=target_id)
    else:
        # Incidents get their links in the same statement: one write per row, where
        # linking afterwards would rewrite every row (and all its index entries).
        linked = layer.name == "incidents"
        links = INCIDENT_LINK_COLUMNS if linked else ()
        updates = [f"{c} = EXCLUDED.{c}" for c in layer.writable_names if c not in layer.key]
        updates.append("geom = EXCLUDED.geom")
        if touched:
            updates.append("updated_at = now()")
        updates += [f"{c} = EXCLUDED.{c}" for c in links]
        conflict = "" if mode == "create" else (
            f"ON CONFLICT ({', '.join(layer.key)}) DO UPDATE SET {', '.join(updates)} "
            f"WHERE ({_tuple(layer.table + '.', compared)}) "
            f"IS DISTINCT FROM ({_tuple('EXCLUDED.', compared)})")
        # Rows identical to the stored ones are left out before the links are
        # derived (the conflict clause still decides, should a row change meanwhile).
        stored, changed = "", "true"
        if mode != "create":
            stored = f"LEFT JOIN {layer.table} AS t ON " + " AND ".join(
                f"t.{c} = src.{c}" for c in layer.key)
            changed = (f"t.id IS NULL OR ({_tuple('t.', compared)}) IS DISTINCT FROM "
                       f"({_tuple('src.', compared)})")
        values = _tuple("src.", compared)
        insert = f"INSERT INTO {layer.table} ({', '.join(['id', *compared, *links])}) "
        if linked:
            # The links of the changed rows, set-based (geo.queries.links.incident_links).
            changed_rows = (f"SELECT src._row AS key, src.geom FROM {STAGING} AS src "
                            f"{stored} WHERE {changed}")
            with incident_links(session, analysis_srid, changed_rows) as table:
                rows = _insert_in_spatial_order(
                    session, layer, insert,
                    f"{values}, {_tuple('l.', links)} FROM {STAGING} AS src "
                    f"JOIN {table} AS l ON l.key = src._row", conflict)
        else:
            rows = _insert_in_spatial_order(
                session, layer, insert, f"{values} FROM {STAGING} AS src {stored} "
                f"WHERE {changed}", conflict)
    if rows and (layer.name != "incidents" or mode == "update"):
        derive_links(session, layer.name, analysis_srid, sorted(r.id for r in rows))
    return rows


def staged_count(session) -> int:
    return session.execute(text(f"SELECT count(*) FROM {STAGING}")).scalar_one()


def dry_run_counts(session, layer: Layer):
    """``(inserted, updated, staged)``: what writing the staged rows would do."""
    key = " AND ".join(f"t.{c} = s.{c}" for c in layer.key)
    compared = [*layer.writable_names, "geom"]
    return session.execute(text(
        f"SELECT count(*) FILTER (WHERE t.id IS NULL) AS inserted, "
        f"count(*) FILTER (WHERE t.id IS NOT NULL AND "
        f"({_tuple('t.', compared)}) IS DISTINCT FROM ({_tuple('s.', compared)})) "
        f"AS updated, count(*) AS staged "
        f"FROM {STAGING} AS s LEFT JOIN {layer.table} AS t ON {key}")).one()


def cluster(session, table: str = "incidents") -> None:
    """Rewrite ``table`` in the order of its geometry index (``CLUSTER``), then ``ANALYZE``.

    Imports and the demo write their rows in ``SPATIAL_ORDER``, but each write only
    orders its own rows, and updates move rows; this lays the whole table out again
    so a bounding box reads few pages. ``CLUSTER`` holds an ACCESS EXCLUSIVE lock: every
    read and write of the table waits until it ends (about 30 s for 1,000,000
    incidents on 2 CPUs), so it is an operator's maintenance step, not part of a write.
    Run it in a transaction of its own; the caller commits.

    Parameters
    ----------
    session : sqlalchemy Session or Connection
    table : {"incidents"}
    """
    index = _CLUSTER_INDEXES[table]  # KeyError for anything not whitelisted
    session.execute(text(f"CLUSTER {table} USING {index}"))
    session.execute(text(f"ANALYZE {table}"))

