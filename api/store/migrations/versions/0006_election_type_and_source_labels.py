"""election type; a candidate's sex and an area's label as the ministry's file gives them

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# As they were when this migration was written: a later type needs a migration of its own.
ELECTION_TYPES = (
    "presidential",
    "legislative",
    "european",
    "regional",
    "departmental",
    "municipal",
    "referendum",
    "primary",
)


def upgrade() -> None:
    with op.batch_alter_table("elections", schema=None) as batch_op:
        # Every election loaded so far came from an election folder: the 2017 left primary.
        batch_op.add_column(sa.Column("type", sa.String(length=20), server_default="primary", nullable=False))
        batch_op.create_check_constraint(
            op.f("ck_elections_known_type"), f"type IN ({', '.join(repr(t) for t in ELECTION_TYPES)})"
        )

    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sex", sa.String(length=1), nullable=True))
        batch_op.create_check_constraint(op.f("ck_candidates_known_sex"), "sex IN ('M', 'F')")

    with op.batch_alter_table("areas", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_label", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("areas", schema=None) as batch_op:
        batch_op.drop_column("source_label")

    with op.batch_alter_table("candidates", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_candidates_known_sex"), type_="check")
        batch_op.drop_column("sex")

    with op.batch_alter_table("elections", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_elections_known_type"), type_="check")
        batch_op.drop_column("type")
