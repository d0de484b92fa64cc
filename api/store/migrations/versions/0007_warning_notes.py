"""each version's and each waiting entry's warnings in full (the sentence with its figures, and its score);
a round's own warning thresholds

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 01:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("return_versions", "entries")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            # JSON: [{code, field, message, score}]; "" where the return tripped no warning (as before).
            batch_op.add_column(sa.Column("warning_notes", sa.Text(), server_default="", nullable=False))
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        # JSON {name: value}; "" where the round keeps the service's settings.
        batch_op.add_column(sa.Column("warning_thresholds", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.drop_column("warning_thresholds")
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("warning_notes")
