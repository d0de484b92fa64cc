"""a round's projection setting: off, newsrooms (in the API only) or public (on the page as well)

An existing round gets the default, `newsrooms`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


CHECK = "projection IN ('off', 'newsrooms', 'public')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its CHECK in place; a batch operation would copy the table, which the
        # other tables' foreign keys to it refuse.
        op.execute(
            "ALTER TABLE rounds ADD COLUMN projection VARCHAR(10) DEFAULT 'newsrooms' NOT NULL "
            f"CONSTRAINT known_projection CHECK ({CHECK})"
        )
        return
    op.add_column(
        "rounds", sa.Column("projection", sa.String(10), server_default="newsrooms", nullable=False)
    )
    op.create_check_constraint("known_projection", "rounds", CHECK)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint("known_projection", "rounds", type_="check")
    op.drop_column("rounds", "projection")
