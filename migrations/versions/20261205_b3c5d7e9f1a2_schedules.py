"""Scheduled products: schedules per regional unit, the bulletins' archive, and the
alerts raised (once per section and period).

``schedules``: a region's weekly or monthly bulletin (one of each per region at most),
in a time zone, active or not, and when it next runs (``next_run_at``; NULL until a
worker first plans it from the data clock). Every region gets a weekly and a monthly
schedule: the existing ones here, a region created later by the trigger
``regions_default_schedules`` (an admin or a supervisor may deactivate or delete them).

``bulletins``: the archive of produced bulletins: region, product, period ``[start,
end)``, the stored assessment it shows, its HTML and PDF, the configuration's SHA-256
and text, who produced it (``created_by`` a user, or NULL with ``produced_by``
``worker``) and when. UNIQUE (region, product, period start): a period's bulletin is
never produced twice, whatever the schedules or workers.

``section_alerts``: the (section, period start) whose alert test fired, so that
``alert.raised`` is emitted once per section and period; ``alert_cursor``: the last
event the alert job looked at.

``risk_assessments.created_by`` may now be NULL: an assessment stored by the worker
for a schedule (its ``inputs`` name the schedule).

Revision ID: b3c5d7e9f1a2
Revises: f0a1b2c3d4e5
Create Date: 2026-12-05 17:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b3c5d7e9f1a2"
down_revision = "f0a1b2c3d4e5"
branch_labels = None
depends_on = None

PRODUCTS = ("weekly", "monthly")
DEFAULT_TIME_ZONE = "Asia/Tbilisi"


def upgrade():
    op.alter_column("risk_assessments", "created_by", nullable=True)
    op.create_table(
        "schedules",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("region_id", sa.Integer(),
                  sa.ForeignKey("regions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False,
                  server_default=DEFAULT_TIME_ZONE),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("next_run_at", sa.DateTime(timezone=True)),
        sa.Column("last_run_at", sa.DateTime(timezone=True)),
        sa.Column("last_period_start", sa.DateTime(timezone=True)),
        sa.Column("created_by", sa.Integer(),
                  sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.CheckConstraint("product IN ('weekly', 'monthly')", name="ck_schedules_product"),
        sa.UniqueConstraint("region_id", "product", name="uq_schedules_region_product"),
    )
    op.create_index("ix_schedules_due", "schedules", ["next_run_at"],
                    postgresql_where=sa.text("active"))
    op.execute(f"""
        INSERT INTO schedules (region_id, product)
        SELECT r.id, p.product FROM regions AS r
         CROSS JOIN (VALUES {", ".join(f"('{p}')" for p in PRODUCTS)}) AS p (product)
         ORDER BY r.id, p.product""")
    op.execute(f"""
        CREATE FUNCTION regions_default_schedules() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO schedules (region_id, product)
            SELECT n.id, p.product FROM new_rows AS n
             CROSS JOIN (VALUES {", ".join(f"('{p}')" for p in PRODUCTS)}) AS p (product)
            ON CONFLICT (region_id, product) DO NOTHING;
            RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER regions_default_schedules AFTER INSERT ON regions "
               "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
               "EXECUTE FUNCTION regions_default_schedules()")

    op.create_table(
        "bulletins",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("schedule_id", sa.Integer(),
                  sa.ForeignKey("schedules.id", ondelete="SET NULL")),
        sa.Column("region_id", sa.Integer(),
                  sa.ForeignKey("regions.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("product", sa.String(16), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assessment_id", sa.Integer(),
                  sa.ForeignKey("risk_assessments.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("config_sha256", sa.String(64), nullable=False),
        sa.Column("config_text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("produced_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.CheckConstraint("product IN ('weekly', 'monthly')", name="ck_bulletins_product"),
        sa.CheckConstraint("period_end > period_start", name="ck_bulletins_period"),
        sa.UniqueConstraint("region_id", "product", "period_start",
                            name="uq_bulletins_region_product_period"),
    )
    op.create_index("ix_bulletins_region", "bulletins", ["region_id", "period_start"])

    op.create_table(
        "section_alerts",
        sa.Column("segment_id", sa.Integer(),
                  sa.ForeignKey("border_segments.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("period_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.BigInteger()),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
    )
    op.create_table(
        "alert_cursor",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False,
                  server_default=sa.text("0")),
        sa.CheckConstraint("id = 1", name="ck_alert_cursor_one_row"),
    )
    op.execute("INSERT INTO alert_cursor (id, last_event_id) VALUES (1, 0)")


def downgrade():
    op.drop_table("alert_cursor")
    op.drop_table("section_alerts")
    op.drop_table("bulletins")
    op.execute("DROP TRIGGER regions_default_schedules ON regions")
    op.execute("DROP FUNCTION regions_default_schedules()")
    op.drop_table("schedules")
    # Stored assessments are immutable records: the worker's cannot be given an author.
    op.execute("""
        DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM risk_assessments WHERE created_by IS NULL) THEN
                RAISE EXCEPTION 'risk_assessments stored by the worker (created_by NULL) '
                                'exist: this revision cannot be downgraded';
            END IF;
        END $$""")
    op.alter_column("risk_assessments", "created_by", nullable=False)
