"""security: token lifetimes, people and scopes; the audit's hash chain; four eyes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import api.store.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("expires_at", api.store.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("area_code", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("bureaux", sa.Text(), nullable=True))

    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chain_position", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("chain_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_audit_chain_position"), ["chain_position"])

    op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain")),
    )

    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("person", sa.String(length=200), nullable=True))

    op.create_table(
        "confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_person", sa.String(length=200), nullable=False),
        sa.Column("requested_at", api.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", api.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_person", sa.String(length=200), nullable=True),
        sa.Column("decided_at", api.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'cancelled')", name=op.f("ck_confirmations_known_status")
        ),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"], name=op.f("fk_confirmations_round_id_rounds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_confirmations")),
    )
    with op.batch_alter_table("confirmations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_confirmations_round_id"), ["round_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("confirmations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_confirmations_round_id"))
    op.drop_table("confirmations")

    with op.batch_alter_table("entries", schema=None) as batch_op:
        batch_op.drop_column("person")

    op.drop_table("audit_chain")

    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_chain_position"), type_="unique")
        batch_op.drop_column("chain_hash")
        batch_op.drop_column("chain_position")

    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.drop_column("bureaux")
        batch_op.drop_column("area_code")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("person")
