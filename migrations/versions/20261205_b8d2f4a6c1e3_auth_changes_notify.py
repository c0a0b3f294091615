"""Auth changes announced: ``NOTIFY auth_changes`` in the transaction of every change
that can make a cached token's caller wrong (app/auth/token_cache.py).

- ``api_tokens``: revoked, re-dated, given to another user or digest, deleted:
  ``token:<id>``;
- ``users``: activated or deactivated, another role, scope flag, agency or name,
  deleted: ``user:<id>``; ``user_regions`` rows added, changed or removed:
  ``user:<user_id>``;
- ``regions``: a code changed or a region deleted: ``all``; a TRUNCATE of any of these
  tables: ``all``.

Columns the sign-in bookkeeping writes (a token's ``last_used_at``, a user's
``last_login_at``, failed logins, lock-outs) announce nothing. PostgreSQL delivers the
notifications at commit, once per distinct payload, and not at all after a rollback.

Revision ID: b8d2f4a6c1e3
Revises: b8e4f2a6c1d3
Create Date: 2026-12-05 21:40:00
"""

from alembic import op

revision = "b8d2f4a6c1e3"
down_revision = "b8e4f2a6c1d3"
branch_labels = None
depends_on = None

CHANNEL = "auth_changes"
# table -> (the row trigger's events, the subject: an SQL expression of the row)
ROW_TRIGGERS = {
    "api_tokens": ("UPDATE OF revoked_at, expires_at, user_id, token_sha256 OR DELETE",
                   "'token:' || OLD.id"),
    "users": ("UPDATE OF active, role, all_regions, agency, username OR DELETE",
              "'user:' || OLD.id"),
    "regions": ("UPDATE OF code OR DELETE", "'all'"),
}


def upgrade():
    op.execute(f"""
        CREATE FUNCTION auth_changes_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', TG_ARGV[0]);
            RETURN NULL;
        END $$""")
    for table, (events, subject) in ROW_TRIGGERS.items():
        op.execute(f"""
            CREATE FUNCTION {table}_auth_changes() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('{CHANNEL}', {subject});
                RETURN NULL;
            END $$""")
        op.execute(f"CREATE TRIGGER {table}_auth_changes AFTER {events} ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {table}_auth_changes()")
    op.execute(f"""
        CREATE FUNCTION user_regions_auth_changes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                PERFORM pg_notify('{CHANNEL}', 'user:' || OLD.user_id);
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE') THEN
                PERFORM pg_notify('{CHANNEL}', 'user:' || NEW.user_id);
            END IF;
            RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER user_regions_auth_changes AFTER INSERT OR UPDATE OR DELETE "
               "ON user_regions FOR EACH ROW EXECUTE FUNCTION user_regions_auth_changes()")
    for table in (*ROW_TRIGGERS, "user_regions"):
        op.execute(f"CREATE TRIGGER {table}_auth_truncate AFTER TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION auth_changes_notify('all')")


def downgrade():
    for table in (*ROW_TRIGGERS, "user_regions"):
        op.execute(f"DROP TRIGGER {table}_auth_truncate ON {table}")
        op.execute(f"DROP TRIGGER {table}_auth_changes ON {table}")
        op.execute(f"DROP FUNCTION {table}_auth_changes()")
    op.execute("DROP FUNCTION auth_changes_notify()")
