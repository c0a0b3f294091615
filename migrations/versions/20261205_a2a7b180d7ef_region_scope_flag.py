"""Region scope: "every region" is a flag (users.all_regions), and a region that users
are linked to cannot be deleted (user_regions.region_id ON DELETE RESTRICT).

Before, a user linked to no region saw every region, and deleting a region deleted its
links (ON DELETE CASCADE): a user limited to a deleted region saw everything. Existing
users keep their access: those linked to no region get ``all_regions = true``.

Revision ID: a2a7b180d7ef
Revises: 9c0d1e2f3a4b
Create Date: 2026-12-05 00:25:00
"""

import sqlalchemy as sa
from alembic import op

revision = "a2a7b180d7ef"
down_revision = "9c0d1e2f3a4b"
branch_labels = None
depends_on = None

FK = "user_regions_region_id_fkey"


def upgrade():
    op.add_column("users", sa.Column("all_regions", sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.execute("UPDATE users AS u SET all_regions = true "
               "WHERE NOT EXISTS (SELECT 1 FROM user_regions AS ur WHERE ur.user_id = u.id)")
    op.alter_column("users", "all_regions", server_default=None)
    op.drop_constraint(FK, "user_regions", type_="foreignkey")
    op.create_foreign_key(FK, "user_regions", "regions", ["region_id"], ["id"],
                          ondelete="RESTRICT")


def downgrade():
    op.drop_constraint(FK, "user_regions", type_="foreignkey")
    op.create_foreign_key(FK, "user_regions", "regions", ["region_id"], ["id"],
                          ondelete="CASCADE")
    # Without the flag a user linked to no region sees every region: a user with no
    # region and no flag would see everything after the downgrade, so the downgrade
    # refuses rather than widen anyone's scope.
    op.execute("""
        DO $$
        BEGIN
            IF EXISTS (SELECT 1 FROM users AS u WHERE NOT u.all_regions AND NOT EXISTS (
                           SELECT 1 FROM user_regions AS ur WHERE ur.user_id = u.id)) THEN
                RAISE EXCEPTION 'users with no region and no all_regions flag exist: '
                                'link them to regions or delete them before downgrading';
            END IF;
        END $$""")
    op.drop_column("users", "all_regions")
