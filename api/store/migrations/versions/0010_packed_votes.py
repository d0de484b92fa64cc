"""votes packed beside their counts: return_versions.votes, area_results.votes, publications.votes

Each held a row per candidate in a table of its own (`return_votes`, `area_votes`, `publication_votes`):
770,000 rows for a national round 1 file and 400,000 more for its areas' sums, most of its ingest. Each
row's votes move into the row of their counts as one text, "412,388", in its round's ballot order, a
candidate without a row counting 0; down, the rows come back from the text. Both ways go a round at a time,
in Python: SQLite before 3.44 cannot order what group_concat joins.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 07:30:00
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any, NamedTuple, TypeVar

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ROWS_PER_STATEMENT = 10_000  # bounds the memory of one executemany, whatever a round holds
Item = TypeVar("Item")


class Packing(NamedTuple):  # not a dataclass: alembic loads a migration outside sys.modules
    """A table whose rows get the votes (`packed`, keyed by `keys`) and the table they leave (`rows`)."""

    packed: str
    keys: tuple[str, ...]  # round_id first
    rows: str
    create_rows: Callable[[], None]  # the rows' table as 0001 made it, for the way down
    # What a row without any vote row holds: zeros, or nothing ("") for a publication made before the
    # round had any return (its national sums did not exist).
    zeros: bool = True


def _return_votes() -> None:
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


def _area_votes() -> None:
    op.create_table(
        "area_votes",
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("votes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("round_id", "area_id", "candidate_id", name=op.f("pk_area_votes")),
    )


def _publication_votes() -> None:
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


PACKINGS = (
    Packing("return_versions", ("round_id", "bureau_id", "version"), "return_votes", _return_votes),
    Packing("area_results", ("round_id", "area_id"), "area_votes", _area_votes),
    Packing("publications", ("round_id", "sequence"), "publication_votes", _publication_votes, zeros=False),
)


def upgrade() -> None:
    connection = op.get_bind()
    rounds = _rounds(connection)
    for packing in PACKINGS:
        # A column without a default cannot be added to a table that has rows; the default goes once
        # filled (SQLite cannot drop it, and nothing inserts a row without its votes).
        op.add_column(packing.packed, sa.Column("votes", sa.Text(), nullable=False, server_default=""))
        for round_id, candidate_ids in rounds:
            _pack_round(connection, packing, round_id, candidate_ids)
        if connection.dialect.name != "sqlite":
            op.alter_column(packing.packed, "votes", server_default=None)
        op.drop_table(packing.rows)


def _pack_round(connection: sa.Connection, packing: Packing, round_id: int, candidate_ids: list[int]) -> None:
    column = {candidate_id: position for position, candidate_id in enumerate(candidate_ids)}
    keys = packing.keys[1:]
    packed: dict[tuple[Any, ...], list[int]] = {}
    found = connection.execute(
        sa.text(
            f"SELECT {', '.join(keys)}, candidate_id, votes FROM {packing.rows} WHERE round_id = :round_id"
        ),
        {"round_id": round_id},
    )
    for *key, candidate_id, votes in found:
        packed.setdefault(tuple(key), [0] * len(candidate_ids))[column[candidate_id]] = votes
    if packing.zeros:
        connection.execute(
            sa.text(f"UPDATE {packing.packed} SET votes = :zeros WHERE round_id = :round_id"),
            {"zeros": ",".join(["0"] * len(candidate_ids)), "round_id": round_id},
        )
    where = " AND ".join(f"{key} = :{key}" for key in packing.keys)
    for chunk in _chunks(list(packed.items()), ROWS_PER_STATEMENT):
        connection.execute(
            sa.text(f"UPDATE {packing.packed} SET votes = :votes WHERE {where}"),
            [{"votes": ",".join(map(str, votes)), **_keys(packing, round_id, key)} for key, votes in chunk],
        )


def downgrade() -> None:
    connection = op.get_bind()
    rounds = _rounds(connection)
    for packing in reversed(PACKINGS):
        packing.create_rows()
        for round_id, candidate_ids in rounds:
            _unpack_round(connection, packing, round_id, candidate_ids)
        op.drop_column(packing.packed, "votes")


def _unpack_round(
    connection: sa.Connection, packing: Packing, round_id: int, candidate_ids: list[int]
) -> None:
    keys = packing.keys[1:]
    found = connection.execute(
        sa.text(
            f"SELECT {', '.join(keys)}, votes FROM {packing.packed} "
            "WHERE round_id = :round_id AND votes <> ''"
        ),
        {"round_id": round_id},
    ).all()
    columns = [*packing.keys, "candidate_id", "votes"]
    insert = sa.text(
        f"INSERT INTO {packing.rows} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
    )
    for chunk in _chunks(found, ROWS_PER_STATEMENT // max(len(candidate_ids), 1) + 1):
        rows = [
            {**_keys(packing, round_id, key), "candidate_id": c, "votes": int(count)}
            for *key, packed in chunk
            for c, count in zip(candidate_ids, packed.split(","), strict=True)
        ]
        if rows:
            connection.execute(insert, rows)


def _keys(packing: Packing, round_id: int, key: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(packing.keys, (round_id, *key), strict=True))


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
