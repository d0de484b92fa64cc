"""a version's votes packed beside its counts: return_versions.votes ("412,388", in ballot order)

`return_votes` held a row per candidate per version: 770,000 rows for a national round 1 file, most of its
ingest. Each version's votes move into its own row, in its round's ballot order, a candidate without a
row counting 0; down, the rows come back from the packed text. Both ways go a round at a time, in Python:
SQLite before 3.44 cannot order what group_concat joins.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 07:30:00
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import TypeVar

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ROWS_PER_STATEMENT = 10_000  # bounds the memory of one executemany, whatever a round holds
Item = TypeVar("Item")


def upgrade() -> None:
    # A column without a default cannot be added to a table that has rows; the default goes once filled
    # (SQLite cannot drop it, and nothing inserts a version without its votes).
    op.add_column("return_versions", sa.Column("votes", sa.Text(), nullable=False, server_default=""))
    connection = op.get_bind()
    for round_id, candidate_ids in _rounds(connection):
        _pack_round(connection, round_id, candidate_ids)
    if connection.dialect.name != "sqlite":
        op.alter_column("return_versions", "votes", server_default=None)
    op.drop_table("return_votes")


def _pack_round(connection: sa.Connection, round_id: int, candidate_ids: list[int]) -> None:
    column = {candidate_id: position for position, candidate_id in enumerate(candidate_ids)}
    packed: dict[tuple[int, int], list[int]] = {}
    for bureau_id, version, candidate_id, votes in connection.execute(
        sa.text(
            "SELECT bureau_id, version, candidate_id, votes FROM return_votes WHERE round_id = :round_id"
        ),
        {"round_id": round_id},
    ):
        packed.setdefault((bureau_id, version), [0] * len(candidate_ids))[column[candidate_id]] = votes
    # A version without any vote row (a round without candidates, or rows lost) counts 0 for each.
    connection.execute(
        sa.text("UPDATE return_versions SET votes = :zeros WHERE round_id = :round_id"),
        {"zeros": ",".join(["0"] * len(candidate_ids)), "round_id": round_id},
    )
    for chunk in _chunks(list(packed.items()), ROWS_PER_STATEMENT):
        connection.execute(
            sa.text(
                "UPDATE return_versions SET votes = :votes "
                "WHERE round_id = :round_id AND bureau_id = :bureau_id AND version = :version"
            ),
            [
                {"votes": ",".join(map(str, votes)), "round_id": round_id, "bureau_id": b, "version": v}
                for (b, v), votes in chunk
            ],
        )


def downgrade() -> None:
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
    connection = op.get_bind()
    for round_id, candidate_ids in _rounds(connection):
        versions = connection.execute(
            sa.text("SELECT bureau_id, version, votes FROM return_versions WHERE round_id = :round_id"),
            {"round_id": round_id},
        ).all()
        for chunk in _chunks(versions, ROWS_PER_STATEMENT // max(len(candidate_ids), 1) + 1):
            rows = [
                {"round_id": round_id, "bureau_id": b, "version": v, "candidate_id": c, "votes": int(count)}
                for b, v, packed in chunk
                for c, count in zip(candidate_ids, packed.split(",") if packed else [], strict=True)
            ]
            if rows:
                connection.execute(
                    sa.text(
                        "INSERT INTO return_votes (round_id, bureau_id, version, candidate_id, votes) "
                        "VALUES (:round_id, :bureau_id, :version, :candidate_id, :votes)"
                    ),
                    rows,
                )
    op.drop_column("return_versions", "votes")


def _rounds(connection: sa.Connection) -> list[tuple[int, list[int]]]:
    """Each round's id and its candidates' ids in ballot order."""
    candidates: defaultdict[int, list[int]] = defaultdict(list)
    for round_id, candidate_id in connection.execute(
        sa.text("SELECT round_id, id FROM candidates ORDER BY round_id, ballot_order")
    ):
        candidates[round_id].append(candidate_id)
    rounds = connection.execute(sa.text("SELECT id FROM rounds ORDER BY id")).scalars()
    return [(round_id, candidates[round_id]) for round_id in rounds]


def _chunks(items: Sequence[Item], size: int) -> Iterator[Sequence[Item]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
