"""The index of versions by sequence is partial (`sequence > 0`), so that a bureau's lookup cannot use it

A bureau's versions are found by the primary key (round, bureau, version). The (round, sequence) index
fits any lookup of a round too, and where the statistics say the table holds a row or two (taken while the
round was empty, the night's first minute) PostgreSQL may price both alike: a prepared statement's
generic plan then went by the sequence index, scanning the whole round for each bureau (make loadtest:
a département's current returns in 0.2–0.3 s instead of 1 ms, PostgreSQL taking a core). Partial, the
index serves only the queries that say `sequence > 0` (`api.store.models.BY_SEQUENCE`): every sequence
is, so it still holds every version.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 17:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

NAME = "ix_return_versions_sequence"
COLUMNS = ["round_id", "sequence"]
PREDICATE = "sequence > 0"


def upgrade() -> None:
    op.drop_index(NAME, table_name="return_versions")
    where = sa.text(PREDICATE)
    op.create_index(NAME, "return_versions", COLUMNS, postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    op.drop_index(NAME, table_name="return_versions")
    op.create_index(NAME, "return_versions", COLUMNS)
