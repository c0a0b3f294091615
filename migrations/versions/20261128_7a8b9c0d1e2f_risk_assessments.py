"""Risk assessments: immutable snapshots of section scores, and level decisions.

Revision ID: 7a8b9c0d1e2f
Revises: 5c1d2e3f4a5b
Create Date: 2026-11-28 20:40:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "7a8b9c0d1e2f"
down_revision = "5c1d2e3f4a5b"
branch_labels = None
depends_on = None

LEVELS = "('low', 'medium', 'high', 'critical')"


def upgrade():
    op.create_table(
        "risk_assessments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("region_id", sa.Integer(), sa.ForeignKey("regions.id", ondelete="RESTRICT")),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("config_sha256", sa.String(64), nullable=False),
        sa.Column("config_text", sa.Text(), nullable=False),
        sa.Column("inputs", postgresql.JSONB(), nullable=False),
        sa.Column("summary", postgresql.JSONB(), nullable=False),
        sa.Column("created_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="RESTRICT"),
                  nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.CheckConstraint("period_end > period_start", name="ck_risk_assessments_period"),
    )
    op.create_table(
        "risk_section_results",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("assessment_id", sa.Integer(),
                  sa.ForeignKey("risk_assessments.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("segment_id", sa.Integer(),
                  sa.ForeignKey("border_segments.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("threat", sa.SmallInteger(), nullable=False),
        sa.Column("vulnerability", sa.SmallInteger(), nullable=False),
        sa.Column("impact", sa.SmallInteger(), nullable=False),
        sa.Column("risk", sa.SmallInteger(), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("details", postgresql.JSONB(), nullable=False),
        sa.UniqueConstraint("assessment_id", "segment_id", name="uq_risk_section_results"),
        sa.CheckConstraint("threat BETWEEN 1 AND 5 AND vulnerability BETWEEN 1 AND 5 "
                           "AND impact BETWEEN 1 AND 5", name="ck_risk_section_results_scores"),
        sa.CheckConstraint("risk BETWEEN 1 AND 125", name="ck_risk_section_results_risk"),
        sa.CheckConstraint(f"level IN {LEVELS}", name="ck_risk_section_results_level"),
    )
    op.create_index("ix_risk_section_results_segment", "risk_section_results", ["segment_id"])
    op.create_table(
        "risk_level_decisions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("segment_id", sa.Integer(),
                  sa.ForeignKey("border_segments.id", ondelete="RESTRICT"), nullable=False),
        sa.Column("level", sa.String(16)),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Integer(), sa.ForeignKey("users.id", ondelete="RESTRICT"),
                  nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.text("now()")),
        sa.CheckConstraint(f"level IS NULL OR level IN {LEVELS}",
                           name="ck_risk_level_decisions_level"),
        sa.CheckConstraint("length(btrim(justification)) >= 10",
                           name="ck_risk_level_decisions_justification"),
    )
    op.create_index("ix_risk_level_decisions_segment", "risk_level_decisions",
                    ["segment_id", "decided_at"])
    # Records, not working data: nothing may change or remove a row once written.
    op.execute(
        """
        CREATE FUNCTION refuse_change_of_record() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% rows are records and cannot be changed or deleted',
                TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    for table in ("risk_assessments", "risk_section_results", "risk_level_decisions"):
        op.execute(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION refuse_change_of_record()"
        )


def downgrade():
    for table in ("risk_level_decisions", "risk_section_results", "risk_assessments"):
        op.execute(f"DROP TRIGGER {table}_immutable ON {table}")
    op.execute("DROP FUNCTION refuse_change_of_record()")
    op.drop_index("ix_risk_level_decisions_segment", table_name="risk_level_decisions")
    op.drop_table("risk_level_decisions")
    op.drop_index("ix_risk_section_results_segment", table_name="risk_section_results")
    op.drop_table("risk_section_results")
    op.drop_table("risk_assessments")
