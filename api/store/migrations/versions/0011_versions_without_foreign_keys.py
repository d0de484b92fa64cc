"""return_versions without foreign keys to rounds and bureaux; the checks on nuls that checked nothing

PostgreSQL checks a foreign key with a trigger per row and key, which locks the referenced row: recording
a national file of 69,242 bureaux spent 0.55 s of its 2.1 s in those checks (bench.ingest). Every version
is written with its round's id and the ids of that round's registry, under the round's lock; `verify` now
names any version whose round or bureau is not its round's, which the keys never checked so closely (a
bureau of another election satisfied them).

The checks `null >= 0` and `voters = blank + null + valid` (return_versions, entries) read `null` as SQL's
NULL, so they passed every row: they are made again with the column's name quoted. A database holding a
row they refuse cannot be upgraded until that row is put right (tabulator never wrote one: its rules
come first). The rows are unchanged.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 10:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

KEYS = (
    ("fk_return_versions_bureau_id_bureaux", "bureaux", "bureau_id"),
    ("fk_return_versions_round_id_rounds", "rounds", "round_id"),
)
# table → check name → (its condition as 0001 wrote it, as it should be)
CHECKS = {
    "return_versions": {
        "null_not_negative": ("null >= 0", '"null" >= 0'),
        "voters_add_up": ("voters = blank + null + valid", 'voters = blank + "null" + valid'),
    },
    "entries": {"null_not_negative": ("null >= 0", '"null" >= 0')},
}


def upgrade() -> None:
    # SQLite cannot drop a constraint: the batch copies the table without it (its other checks and index
    # kept).
    with op.batch_alter_table("return_versions") as batch:
        for name, _, _ in KEYS:
            batch.drop_constraint(name, type_="foreignkey")
    _remake_checks(fixed=True)


def downgrade() -> None:
    _remake_checks(fixed=False)
    with op.batch_alter_table("return_versions") as batch:
        for name, table, column in KEYS:
            batch.create_foreign_key(name, table, [column], ["id"])


def _remake_checks(*, fixed: bool) -> None:
    for table, checks in CHECKS.items():
        with op.batch_alter_table(table) as batch:
            for name, conditions in checks.items():
                full_name = op.f(f"ck_{table}_{name}")
                batch.drop_constraint(full_name, type_="check")
                batch.create_check_constraint(full_name, conditions[fixed])
