"""The transactional outbox: one event per change, written by the change's own
transaction.

``events`` holds every change to the four data layers (captured by statement-level
triggers over the transition tables, so an import of 100,000 rows writes its events in
one statement per table) and the application's own events (``alert.raised``,
``level.decided``, ``assessment.stored``, ``bulletin.published``: ``geo.events.emit``).
A rolled-back write leaves no event.

Within one transaction a record has **one** event: a later change of the same record
(the derived links an insert computes next, an update after a create) rewrites the
transaction's event in place (``ON CONFLICT`` on ``(txid, entity, entity_id)``):
created then updated stays ``created`` with the final values, created then deleted
becomes an event no one sees.

Each event keeps what decides who may see it, before and after the change: whether the
record existed, its region (the scope column: a region's own id for ``regions``) and,
for incidents, its agency and releasability. ``data`` is the record as the REST API
writes it (a GeoJSON Feature); the property lists below are this revision's readable
properties (``geo.layers``), and a test holds each event's Feature equal to the API's.

Order: an event's ``id`` is taken after the transaction holds the advisory lock that
also serialises the audit chain (the same key, so the two never wait on each other in
opposite orders), and the lock is held until commit: ids are in commit order, and a
reader that sees an id sees every smaller one that will ever be committed. The feed's
cursor is an id.

``events_horizon`` holds the highest id purged by retention (a cursor at or below it is
too old).

Revision ID: e7b2c4d9f1a0
Revises: d6a1f0b2c3e4
Create Date: 2026-12-05 16:40:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "e7b2c4d9f1a0"
down_revision = "d6a1f0b2c3e4"
branch_labels = None
depends_on = None

# The key of the advisory lock of the audit chain (revision c4d8e2a91b37).
CHAIN_LOCK = 7_240_114
NOTIFY_CHANNEL = "borderrisk_events"

# table: (event type prefix, readable properties, scope column, releasable)
LAYERS = {
    "regions": ("region", ("code", "name_en", "name_ka", "provenance"), "id", False),
    "border_segments": ("segment", (
        "code", "name", "kind", "neighbour_country", "surveillance_level",
        "terrain_class", "provenance", "region_id", "length_m"), "region_id", False),
    "crossing_points": ("crossing", (
        "code", "name", "kind", "neighbour_country", "status", "provenance",
        "region_id"), "region_id", False),
    "incidents": ("incident", (
        "source", "external_id", "occurred_at", "category", "outcome", "direction",
        "detection_method", "persons_count", "nationality", "transport_means",
        "description", "source_reliability", "information_credibility", "status",
        "provenance", "agency", "reporting_unit", "releasability", "aggregate",
        "region_id", "nearest_segment_id", "segment_distance_m", "nearest_crossing_id",
        "crossing_distance_m", "created_at", "updated_at"), "region_id", True),
}

# The feature JSON of row alias {r}: the REST API's (geo/queries/features.py).
_FEATURE = ("jsonb_build_object('type', 'Feature', 'id', {r}.id, "
            "'geometry', ST_AsGeoJSON({r}.geom, 15)::jsonb, "
            "'properties', jsonb_build_object({properties}))")

# The insert every capture ends with: rows of (type, entity_id, data, before..., after...)
# coalesced with the transaction's earlier event of the same record.
_INSERT = """
    INSERT INTO events AS e (type, entity, entity_id, subject, data,
                             before_exists, before_region_id, before_agency,
                             before_releasability,
                             after_exists, region_id, agency, releasability)
    SELECT c.type, '{table}', c.entity_id, '{table}/' || c.entity_id, c.data,
           c.before_exists, c.before_region_id, c.before_agency, c.before_releasability,
           c.after_exists, c.region_id, c.agency, c.releasability
      FROM ({changes}) AS c
"""
# A record's later change in the same transaction rewrites its event (an inserted row
# has none yet: the insert's capture needs no conflict clause, the cheaper path).
_COALESCE = """
    ON CONFLICT (txid, entity, entity_id) WHERE before_exists IS NOT NULL DO UPDATE SET
        type = CASE WHEN EXCLUDED.type = '{prefix}.deleted' THEN EXCLUDED.type
                    WHEN e.type = '{prefix}.created' THEN e.type
                    ELSE '{prefix}.updated' END,
        data = EXCLUDED.data, time = EXCLUDED.time,
        after_exists = EXCLUDED.after_exists, region_id = EXCLUDED.region_id,
        agency = EXCLUDED.agency, releasability = EXCLUDED.releasability
"""


def _capture_functions(table: str) -> list[str]:
    prefix, properties, scope, releasable = LAYERS[table]

    def feature(alias: str) -> str:
        return _FEATURE.format(r=alias, properties=", ".join(
            f"'{name}', {alias}.{name}" for name in properties))

    def state(alias: str | None, exists: bool, names: str) -> str:
        """Columns ``{names}exists`` (``after_exists`` for ""), ``{names}region_id``,
        ``{names}agency`` and ``{names}releasability`` of row ``alias`` (None: none)."""
        region = f"{alias}.{scope}" if alias else "NULL::int"
        agency, release = ((f"{alias}.agency", f"{alias}.releasability")
                           if alias and releasable else ("NULL::text", "NULL::jsonb"))
        return (f"{str(exists).lower()} AS {names or 'after_'}exists, "
                f"{region} AS {names}region_id, {agency} AS {names}agency, {release} AS {names}releasability")

    def select(kind: str, alias: str, data: str, before: str, after: str, rows: str) -> str:
        return (f"SELECT '{prefix}.{kind}' AS type, {alias}.id AS entity_id, {data} AS data, "
                f"{before}, {after} FROM {rows}")

    inserted = select("created", "n", feature("n"), state(None, False, "before_"),
                      state("n", True, ""), "new_rows AS n")
    updated = select("updated", "n", feature("n"), state("o", True, "before_"),
                     state("n", True, ""), "old_rows AS o JOIN new_rows AS n USING (id) "
                     f"WHERE {feature('o')} IS DISTINCT FROM {feature('n')}")
    deleted = select("deleted", "o", "jsonb_build_object('id', o.id)",
                     state("o", True, "before_"), state(None, False, ""), "old_rows AS o")
    functions = []
    for operation, changes in (("insert", inserted), ("update", updated),
                               ("delete", deleted)):
        functions.append(f"""
        CREATE FUNCTION events_capture_{table}_{operation}() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            {_INSERT.format(table=table, changes=changes)}
            {"" if operation == "insert" else _COALESCE.format(prefix=prefix)};
            RETURN NULL;
        END $$""")
    return functions


def _triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER events_capture_insert AFTER INSERT ON {table} "
        f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        f"EXECUTE FUNCTION events_capture_{table}_insert()",
        f"CREATE TRIGGER events_capture_update AFTER UPDATE ON {table} "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT "
        f"EXECUTE FUNCTION events_capture_{table}_update()",
        f"CREATE TRIGGER events_capture_delete AFTER DELETE ON {table} "
        f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        f"EXECUTE FUNCTION events_capture_{table}_delete()",
    ]


def upgrade():
    op.execute("""
        CREATE TABLE events (
            id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            type varchar(40) NOT NULL,
            entity varchar(32) NOT NULL,
            entity_id bigint,
            subject text NOT NULL,
            time timestamptz NOT NULL DEFAULT clock_timestamp(),
            txid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
            data jsonb,
            -- Who may see the change: before (NULL for an application event) and after.
            before_exists boolean,
            before_region_id integer,
            before_agency varchar(16),
            before_releasability jsonb,
            after_exists boolean NOT NULL DEFAULT true,
            region_id integer,
            agency varchar(16),
            releasability jsonb
        )""")
    # A record's newest event (the feed shows old values only while they are still seen).
    op.create_index("ix_events_record", "events", ["entity", "entity_id", "id"])
    op.create_index("ux_events_change", "events", ["txid", "entity", "entity_id"],
                    unique=True, postgresql_where=sa.text("before_exists IS NOT NULL"))
    op.create_table(
        "events_horizon",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("purged_through", sa.BigInteger(), nullable=False,
                  server_default=sa.text("0")),
        sa.CheckConstraint("id = 1", name="ck_events_horizon_one_row"),
    )
    op.execute("INSERT INTO events_horizon (id, purged_through) VALUES (1, 0)")
    # Ids in commit order: the lock first (once per statement), then the ids.
    op.execute(f"""
        CREATE FUNCTION events_serialise() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock({CHAIN_LOCK});
            RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER events_serialise BEFORE INSERT ON events "
               "FOR EACH STATEMENT EXECUTE FUNCTION events_serialise()")
    # Workers are woken at commit (a rolled-back transaction notifies no one).
    op.execute(f"""
        CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{NOTIFY_CHANNEL}', '');
            RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER events_notify AFTER INSERT ON events "
               "FOR EACH STATEMENT EXECUTE FUNCTION events_notify()")
    for table in LAYERS:
        for statement in _capture_functions(table) + _triggers(table):
            op.execute(statement)


def downgrade():
    for table in LAYERS:
        for operation in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER events_capture_{operation} ON {table}")
            op.execute(f"DROP FUNCTION events_capture_{table}_{operation}()")
    op.drop_table("events_horizon")
    op.drop_table("events")
    op.execute("DROP FUNCTION events_serialise()")
    op.execute("DROP FUNCTION events_notify()")
