"""Audit hash chain: each audit_log record carries the SHA-256 of the one before it.

A record's ``sha256`` is the SHA-256 (hex) of the previous record's ``sha256`` and the
record's own content (``audit_log_content``: every column but the two hashes, JSON in
PostgreSQL's canonical ``jsonb`` text, the time as epoch seconds, so no session setting
changes it). A BEFORE INSERT trigger takes a transaction-level advisory lock, then
draws the record's id and links it to the record with the highest id: ids follow the
chain's order even with concurrent writers (each waits for the previous to commit or
roll back), and a set-based INSERT ... SELECT chains its rows one after another.
Records written before this revision are chained by the upgrade, in id order.
``flask audit verify`` (``geo.audit.first_broken_link``) recomputes the chain.

Revision ID: c4d8e2a91b37
Revises: 5e3f9b1c7d2a
Create Date: 2026-12-05 02:10:00
"""

from alembic import op

revision = "c4d8e2a91b37"
down_revision = "5e3f9b1c7d2a"
branch_labels = None
depends_on = None

# Any constant: the key of the advisory lock that serialises appends to the chain.
CHAIN_LOCK = 7_240_114


def upgrade():
    op.execute("ALTER TABLE audit_log ADD COLUMN prev_sha256 char(64), "
               "ADD COLUMN sha256 char(64)")
    op.execute("""
        CREATE FUNCTION audit_log_content(r audit_log) RETURNS text
        LANGUAGE sql IMMUTABLE AS $$
            SELECT concat_ws(E'\\x1f', r.id::text, extract(epoch FROM r.at)::text,
                             coalesce(r.user_id::text, ''), coalesce(r.username, ''),
                             coalesce(r.ip, ''), coalesce(r.method, ''),
                             coalesce(r.path, ''), r.action, r.entity,
                             coalesce(r.entity_id, ''), coalesce(r.before::text, ''),
                             coalesce(r.after::text, ''), coalesce(r.detail::text, ''))
        $$""")
    op.execute("""
        CREATE FUNCTION audit_log_digest(prev char(64), r audit_log) RETURNS char(64)
        LANGUAGE sql IMMUTABLE AS $$
            SELECT encode(sha256(convert_to(coalesce(prev, '') || E'\\x1e'
                                            || audit_log_content(r), 'UTF8')), 'hex')
        $$""")
    op.execute(f"""
        CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock({CHAIN_LOCK});
            NEW.id := nextval(pg_get_serial_sequence('audit_log', 'id'));
            NEW.prev_sha256 := (SELECT sha256 FROM audit_log ORDER BY id DESC LIMIT 1);
            NEW.sha256 := audit_log_digest(NEW.prev_sha256, NEW);
            RETURN NEW;
        END $$""")
    # Chain what is there, in id order (the append-only trigger is set aside for it).
    op.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
    op.execute("""
        DO $$
        DECLARE
            r audit_log;
            prev char(64);
        BEGIN
            FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
                UPDATE audit_log SET prev_sha256 = prev,
                                     sha256 = audit_log_digest(prev, r)
                WHERE id = r.id;
                prev := audit_log_digest(prev, r);
            END LOOP;
        END $$""")
    op.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change")
    op.execute("CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log "
               "FOR EACH ROW EXECUTE FUNCTION audit_log_chain()")


def downgrade():
    op.execute("DROP TRIGGER audit_log_chain ON audit_log")
    op.execute("DROP FUNCTION audit_log_chain()")
    op.execute("DROP FUNCTION audit_log_digest(char, audit_log)")
    op.execute("DROP FUNCTION audit_log_content(audit_log)")
    op.execute("ALTER TABLE audit_log DROP COLUMN prev_sha256, DROP COLUMN sha256")
