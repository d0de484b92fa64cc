"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 11:25:25.585444
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import api.store.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "area_results",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("bureaux_reported", sa.Integer(), nullable=False),
        sa.Column("voters", sa.Integer(), nullable=False),
        sa.Column("blank", sa.Integer(), nullable=False),
        sa.Column("null", sa.Integer(), nullable=False),
        sa.Column("valid", sa.Integer(), nullable=False),
        sa.Column("registered", sa.Integer(), nullable=False),
        sa.Column("bureaux_with_registered", sa.Integer(), nullable=False),
        sa.Column("matched_bureaux", sa.Integer(), nullable=False),
        sa.Column("matched_voters", sa.Integer(), nullable=False),
        sa.Column("matched_previous_voters", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("round_id", "area_id", name=op.f("pk_area_results")),
    )
    op.create_table(
        "area_votes",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("round_id", "area_id", "candidate_id", name=op.f("pk_area_votes")),
    )
    op.create_table(
        "elections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organiser", sa.String(length=200), nullable=False),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("registry_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_elections")),
        sa.UniqueConstraint("code", name=op.f("uq_elections_code")),
    )
    op.create_table(
        "areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("election_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name=op.f("fk_areas_election_id_elections")
        ),
        sa.ForeignKeyConstraint(["parent_id"], ["areas.id"], name=op.f("fk_areas_parent_id_areas")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_areas")),
        sa.UniqueConstraint("election_id", "level", "code", name=op.f("uq_areas_election_id_level_code")),
    )
    op.create_table(
        "rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("election_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("previous_round_id", sa.Integer(), nullable=True),
        sa.Column("polls_close", api.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("test", sa.Boolean(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("as_of", api.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name=op.f("fk_rounds_election_id_elections")
        ),
        sa.ForeignKeyConstraint(
            ["previous_round_id"], ["rounds.id"], name=op.f("fk_rounds_previous_round_id_rounds")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rounds")),
        sa.UniqueConstraint("election_id", "number", name=op.f("uq_rounds_election_id_number")),
    )
    op.create_table(
        "bureaux",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("election_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("registered", sa.Integer(), nullable=True),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("registered >= 0", name=op.f("ck_bureaux_registered_not_negative")),
        sa.ForeignKeyConstraint(["area_id"], ["areas.id"], name=op.f("fk_bureaux_area_id_areas")),
        sa.ForeignKeyConstraint(
            ["election_id"], ["elections.id"], name=op.f("fk_bureaux_election_id_elections")
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"], ["bureaux.id"], name=op.f("fk_bureaux_merged_into_id_bureaux")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bureaux")),
        sa.UniqueConstraint("election_id", "code", name=op.f("uq_bureaux_election_id_code")),
    )
    with op.batch_alter_table("bureaux", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bureaux_area_id"), ["area_id"], unique=False)

    op.create_table(
        "candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ballot_order", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"], name=op.f("fk_candidates_round_id_rounds")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_candidates")),
        sa.UniqueConstraint("round_id", "ballot_order", name=op.f("uq_candidates_round_id_ballot_order")),
        sa.UniqueConstraint("round_id", "code", name=op.f("uq_candidates_round_id_code")),
    )
    op.create_table(
        "publications",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("as_of", api.store.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("published_at", api.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("bureaux_reported", sa.Integer(), nullable=False),
        sa.Column("voters", sa.Integer(), nullable=False),
        sa.Column("blank", sa.Integer(), nullable=False),
        sa.Column("null", sa.Integer(), nullable=False),
        sa.Column("valid", sa.Integer(), nullable=False),
        sa.Column("returns_changed", sa.Integer(), nullable=False),
        sa.Column("checkpoints_changed", sa.Integer(), nullable=False),
        sa.Column("previous_sequence", sa.Integer(), nullable=True),
        sa.Column("round_status", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"], name=op.f("fk_publications_round_id_rounds")),
        sa.PrimaryKeyConstraint("round_id", "sequence", name=op.f("pk_publications")),
    )
    op.create_table(
        "checkpoints",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("bureau_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.String(length=5), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("voters", sa.Integer(), nullable=False),
        sa.Column("reported_at", api.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", api.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.CheckConstraint("voters >= 0", name=op.f("ck_checkpoints_voters_not_negative")),
        sa.ForeignKeyConstraint(["bureau_id"], ["bureaux.id"], name=op.f("fk_checkpoints_bureau_id_bureaux")),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"], name=op.f("fk_checkpoints_round_id_rounds")),
        sa.PrimaryKeyConstraint("round_id", "bureau_id", "time", "version", name=op.f("pk_checkpoints")),
    )
    op.create_table(
        "publication_votes",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["candidate_id"], ["candidates.id"], name=op.f("fk_publication_votes_candidate_id_candidates")
        ),
        sa.ForeignKeyConstraint(
            ["round_id", "sequence"],
            ["publications.round_id", "publications.sequence"],
            name=op.f("fk_publication_votes_round_id_sequence_publications"),
        ),
        sa.PrimaryKeyConstraint("round_id", "sequence", "candidate_id", name=op.f("pk_publication_votes")),
    )
    op.create_table(
        "return_versions",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("bureau_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("voters", sa.Integer(), nullable=False),
        sa.Column("blank", sa.Integer(), nullable=False),
        sa.Column("null", sa.Integer(), nullable=False),
        sa.Column("valid", sa.Integer(), nullable=False),
        sa.Column("registered", sa.Integer(), nullable=True),
        sa.Column("reported_at", api.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", api.store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("warnings", sa.String(length=200), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.CheckConstraint("blank >= 0", name=op.f("ck_return_versions_blank_not_negative")),
        sa.CheckConstraint("null >= 0", name=op.f("ck_return_versions_null_not_negative")),
        sa.CheckConstraint("valid >= 0", name=op.f("ck_return_versions_valid_not_negative")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_return_versions_version_positive")),
        sa.CheckConstraint("voters = blank + null + valid", name=op.f("ck_return_versions_voters_add_up")),
        sa.CheckConstraint("voters >= 0", name=op.f("ck_return_versions_voters_not_negative")),
        sa.ForeignKeyConstraint(
            ["bureau_id"], ["bureaux.id"], name=op.f("fk_return_versions_bureau_id_bureaux")
        ),
        sa.ForeignKeyConstraint(["round_id"], ["rounds.id"], name=op.f("fk_return_versions_round_id_rounds")),
        sa.PrimaryKeyConstraint("round_id", "bureau_id", "version", name=op.f("pk_return_versions")),
    )
    with op.batch_alter_table("return_versions", schema=None) as batch_op:
        batch_op.create_index("ix_return_versions_sequence", ["round_id", "sequence"], unique=False)

    op.create_table(
        "return_votes",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("bureau_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.CheckConstraint("votes >= 0", name=op.f("ck_return_votes_votes_not_negative")),
        sa.ForeignKeyConstraint(
            ["candidate_id"], ["candidates.id"], name=op.f("fk_return_votes_candidate_id_candidates")
        ),
        sa.ForeignKeyConstraint(
            ["round_id", "bureau_id", "version"],
            ["return_versions.round_id", "return_versions.bureau_id", "return_versions.version"],
            name=op.f("fk_return_votes_round_id_bureau_id_version_return_versions"),
        ),
        sa.PrimaryKeyConstraint(
            "round_id", "bureau_id", "version", "candidate_id", name=op.f("pk_return_votes")
        ),
    )


def downgrade() -> None:
    op.drop_table("return_votes")
    with op.batch_alter_table("return_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_return_versions_sequence")

    op.drop_table("return_versions")
    op.drop_table("publication_votes")
    op.drop_table("checkpoints")
    op.drop_table("publications")
    op.drop_table("candidates")
    with op.batch_alter_table("bureaux", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bureaux_area_id"))

    op.drop_table("bureaux")
    op.drop_table("rounds")
    op.drop_table("areas")
    op.drop_table("elections")
    op.drop_table("area_votes")
    op.drop_table("area_results")
