"""round lifecycle and embargo

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 12:17:46.538575
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import api.store.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("results_not_before", api.store.models.UTCDateTime(timezone=True), nullable=True)
        )
        # Alembic does not see check constraints: this one is written by hand.
        batch_op.create_check_constraint(
            "known_status", "status IN ('setup', 'voting', 'counting', 'complete', 'certified')"
        )


def downgrade() -> None:
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_rounds_known_status"), type_="check")
        batch_op.drop_column("results_not_before")
