"""cuts: an election's bureaux cut more than one way (communes in the administrative cut, circonscriptions
in the electoral one)

An existing election keeps its areas as they are: its own levels are its main (administrative) cut, and it
has no other cut until it is imported again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


# The column is added and dropped in place (SQLite 3.35+ does both), not by batch mode: a batch copy of
# `elections` fails the foreign keys of a database that holds elections.


def upgrade() -> None:
    # JSON [{"name": …, "levels": [top first]}]: the cuts besides the election's own levels.
    op.add_column("elections", sa.Column("cuts", sa.JSON(), server_default=sa.text("'[]'"), nullable=False))
    # A bureau's area of each other cut's last level (its circonscription); its own area stays in bureaux.
    op.create_table(
        "bureau_cut_areas",
        sa.Column("bureau_id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bureau_id"], ["bureaux.id"], name=op.f("fk_bureau_cut_areas_bureau_id_bureaux")
        ),
        sa.ForeignKeyConstraint(["area_id"], ["areas.id"], name=op.f("fk_bureau_cut_areas_area_id_areas")),
        sa.PrimaryKeyConstraint("bureau_id", "area_id", name=op.f("pk_bureau_cut_areas")),
    )


def downgrade() -> None:
    op.drop_table("bureau_cut_areas")
    op.drop_column("elections", "cuts")
