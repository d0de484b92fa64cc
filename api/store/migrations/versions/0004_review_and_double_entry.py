"""review of flagged returns and double entry

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 17:25:28.018577
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import api.store.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("bureau_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("voters", sa.Integer(), nullable=False),
        sa.Column("blank", sa.Integer(), nullable=False),
        sa.Column("null", sa.Integer(), nullable=False),
        sa.Column("valid", sa.Integer(), nullable=False),
        sa.Column("registered", sa.Integer(), nullable=True),
        sa.Column("votes", sa.Text(), nullable=False),
        sa.Column("warnings", sa.String(length=200), nullable=False),
        sa.Column("reported_at", api.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("entered_at", api.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("decided_at", api.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('held', 'first_entry', 'mismatch', 'accepted', 'rejected', 'matched', 'superseded')",
            name=op.f("ck_entries_known_status"),
        ),
        sa.CheckConstraint("blank >= 0", name=op.f("ck_entries_blank_not_negative")),
        sa.CheckConstraint("null >= 0", name=op.f("ck_entries_null_not_negative")),
        sa.CheckConstraint("valid >= 0", name=op.f("ck_entries_valid_not_negative")),
        sa.CheckConstraint("voters >= 0", name=op.f("ck_entries_voters_not_negative")),
        sa.ForeignKeyConstraint(["bureau_id"], ["bureaux.id"], name=op.f("fk_entries_bureau_id_bureaux")),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"], name=op.f("fk_entries_round_id_rounds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entries")),
    )
    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.create_index("ix_entries_round_id_status", ["round_id", "status"], unique=False)

    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("flagged_returns", sa.String(length=10), server_default="hold", nullable=False)
        )
        # Alembic does not see check constraints on existing tables: this one is written by hand.
        batch_op.create_check_constraint("known_flagged_returns", "flagged_returns IN ('hold', 'publish')")
        batch_op.add_column(
            sa.Column("double_entry", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("rounds", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_rounds_known_flagged_returns"), type_="check")
        batch_op.drop_column("double_entry")
        batch_op.drop_column("flagged_returns")

    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_index("ix_entries_round_id_status")

    op.drop_table("entries")
