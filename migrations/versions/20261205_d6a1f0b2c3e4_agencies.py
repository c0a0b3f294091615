"""Agencies: the four bodies of the ministry's common standard, each user's agency, and
each incident's originating agency, reporting unit, releasability and aggregate flag.

Seeded: GBP (Border Police), PPD (Patrol Police Department), MD (Migration Department)
and IAD (Information-Analytical Department), each releasing its records to every agency
and counting them in aggregates by default.

Existing data before this revision was the Border Police's alone: **every existing user
and every existing incident is migrated to the Border Police (GBP)**, the incidents
released to all agencies (``"all"``) and counted in aggregates, as everything was
visible to everyone before. Their reporting unit is unknown (null). The same values are
the columns' defaults, for the system's own writes that name none (the API and imports
always give them: the writer's agency and its release defaults). The index of incidents
by region becomes one by region and time that includes the rule's columns
(``ix_incidents_region_time``: docs/benchmarks.md, issue 16).

Revision ID: d6a1f0b2c3e4
Revises: c4d8e2a91b37
Create Date: 2026-12-05 12:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "d6a1f0b2c3e4"
down_revision = "c4d8e2a91b37"
branch_labels = None
depends_on = None

MIGRATED_TO = "GBP"
SEEDS = (
    ("GBP", "Border Police", "სასაზღვრო პოლიცია"),
    ("PPD", "Patrol Police Department", "საპატრულო პოლიციის დეპარტამენტი"),
    ("MD", "Migration Department", "მიგრაციის დეპარტამენტი"),
    ("IAD", "Information-Analytical Department", "საინფორმაციო-ანალიტიკური დეპარტამენტი"),
)
RELEASABILITY_CHECK = ("{0} IN ('\"all\"'::jsonb, '\"agency\"'::jsonb) "
                       "OR jsonb_typeof({0}) = 'array'")


def upgrade():
    agencies = op.create_table(
        "agencies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(16), nullable=False, unique=True),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("name_ka", sa.String(200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("default_releasability", postgresql.JSONB(), nullable=False,
                  server_default=sa.text("'\"all\"'::jsonb")),
        sa.Column("default_aggregate", sa.Boolean(), nullable=False,
                  server_default=sa.text("true")),
        sa.CheckConstraint("code ~ '^[A-Z][A-Z0-9]{1,15}$'", name="ck_agencies_code"),
        sa.CheckConstraint(RELEASABILITY_CHECK.format("default_releasability"),
                           name="ck_agencies_default_releasability"),
    )
    op.bulk_insert(agencies, [{"code": c, "name_en": en, "name_ka": ka}
                              for c, en, ka in SEEDS])

    op.add_column("users", sa.Column("agency", sa.String(16), nullable=False,
                                     server_default=MIGRATED_TO))
    op.alter_column("users", "agency", server_default=None)
    op.create_foreign_key("users_agency_fkey", "users", "agencies", ["agency"], ["code"],
                          onupdate="CASCADE", ondelete="RESTRICT")

    op.add_column("incidents", sa.Column("agency", sa.String(16), nullable=False,
                                         server_default=MIGRATED_TO))
    op.add_column("incidents", sa.Column("reporting_unit", sa.String(32)))
    op.add_column("incidents", sa.Column("releasability", postgresql.JSONB(), nullable=False,
                                         server_default=sa.text("'\"all\"'::jsonb")))
    op.add_column("incidents", sa.Column("aggregate", sa.Boolean(), nullable=False,
                                         server_default=sa.text("true")))
    op.create_foreign_key("incidents_agency_fkey", "incidents", "agencies", ["agency"],
                          ["code"], onupdate="CASCADE", ondelete="RESTRICT")
    op.create_foreign_key("incidents_reporting_unit_fkey", "incidents", "regions",
                          ["reporting_unit"], ["code"], onupdate="CASCADE",
                          ondelete="RESTRICT")
    op.create_check_constraint("ck_incidents_releasability", "incidents",
                               RELEASABILITY_CHECK.format("releasability"))
    # The region index becomes a region-and-time index carrying what the rule reads:
    # a scoped count need not reach the new columns at the end of each row.
    op.create_index("ix_incidents_region_time", "incidents", ["region_id", "occurred_at"],
                    postgresql_include=["agency", "releasability", "aggregate"])
    op.drop_index("ix_incidents_region_id", table_name="incidents")


def downgrade():
    # Without releasability every incident is visible to every user: the downgrade
    # refuses rather than show records their originators kept to themselves.
    op.execute("""
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM incidents WHERE releasability <> '"all"'::jsonb) THEN
                RAISE EXCEPTION 'incidents not released to all agencies exist: release '
                                'or delete them before downgrading';
            END IF;
        END $$""")
    op.create_index("ix_incidents_region_id", "incidents", ["region_id"])
    op.drop_index("ix_incidents_region_time", table_name="incidents")
    op.drop_constraint("ck_incidents_releasability", "incidents", type_="check")
    op.drop_constraint("incidents_reporting_unit_fkey", "incidents", type_="foreignkey")
    op.drop_constraint("incidents_agency_fkey", "incidents", type_="foreignkey")
    for column in ("aggregate", "releasability", "reporting_unit", "agency"):
        op.drop_column("incidents", column)
    op.drop_constraint("users_agency_fkey", "users", type_="foreignkey")
    op.drop_column("users", "agency")
    op.drop_table("agencies")
