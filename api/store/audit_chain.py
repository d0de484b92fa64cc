"""The audit's hash chain: each row carries SHA-256(previous row's hash + its own digest), so that a row
changed, removed or slipped in afterwards breaks the chain from there on.

Writers never wait for the chain: a write's audit row is inserted with the write (often in the same round
trip) and sealed shortly after by `seal`, which takes the chain's head row in its own transaction and
chains the rows not yet sealed in the order it finds them. Locking the head inside every write would
order the audit's lock against the round's, and transactions that share commits would deadlock.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, select
from sqlalchemy.exc import DBAPIError

from api.store.db import reading, writing
from api.store.models import AuditChainRow, AuditRow
from api.store.sql import Raw

GENESIS = "0" * 64
# The columns a row's digest covers, in the order its canonical text lists them: changing it breaks every
# chain already sealed.
DIGESTED = (
    "id",
    "at",
    "token_id",
    "actor",
    "role",
    "remote_addr",
    "method",
    "path",
    "sent",
    "status",
    "outcome",
    "sequence",
)
CONTENT = [AuditRow.__table__.c[name] for name in DIGESTED]
HEAD = select(AuditChainRow.length, AuditChainRow.last_hash).where(AuditChainRow.id == 1)
SEAL_BATCH = 5_000
AuditRecord = Row[*tuple[Any, ...]]  # an audit row as read here: its columns by name


def row_digest(row: AuditRecord) -> str:
    """SHA-256 of a row's contents (its id and every field written with it), in one canonical text."""
    content = {name: row._mapping[name] for name in DIGESTED}
    content["at"] = content["at"].isoformat(timespec="microseconds")  # aware UTC (`UTCDateTime`)
    fields = list(content.values())
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def link(previous_hash: str, digest: str) -> str:
    return hashlib.sha256(f"{previous_hash}{digest}".encode()).hexdigest()


def seal(engine: Engine) -> int:
    """Chain the rows not sealed yet; returns how many were sealed."""
    sealed = 0
    while True:
        with writing(engine) as connection:
            raw = Raw(connection)
            length, last_hash = _locked_head(connection, raw)
            rows = connection.execute(
                select(*CONTENT)
                .where(AuditRow.chain_position.is_(None))
                .order_by(AuditRow.id)
                .limit(SEAL_BATCH)
            ).all()
            if not rows:
                return sealed
            updates = []
            for row in rows:
                length, last_hash = length + 1, link(last_hash, row_digest(row))
                updates.append((length, last_hash, row.id))
            raw.execute_many("UPDATE audit SET chain_position = ?, chain_hash = ? WHERE id = ?", updates)
            raw.execute("UPDATE audit_chain SET length = ?, last_hash = ? WHERE id = 1", (length, last_hash))
            sealed += len(rows)


def _locked_head(connection: Connection, raw: Raw) -> tuple[int, str]:
    raw.execute(
        "INSERT INTO audit_chain (id, length, last_hash) VALUES (1, 0, ?) ON CONFLICT DO NOTHING", (GENESIS,)
    )
    # FOR UPDATE on PostgreSQL; SQLite's writer holds the whole database already (it renders no lock).
    head = connection.execute(HEAD.with_for_update()).one()
    return head.length, head.last_hash


def unsealed(engine: Engine) -> bool:
    """Whether any row waits for its seal (one index probe: the chain's position is indexed)."""
    with reading(engine) as connection:
        waiting = select(AuditRow.id).where(AuditRow.chain_position.is_(None)).limit(1)
        return connection.scalar(waiting) is not None


def keep_sealing(engine: Engine, every: float, log: Callable[[str], None]) -> None:
    """Seal what waits, every few seconds, for the life of the process (a gunicorn worker's thread)."""
    while True:
        time.sleep(every)
        try:
            if unsealed(engine):
                seal(engine)
        except DBAPIError as exc:  # the database is away: the rows wait for the next pass
            log(f"audit not sealed this time: {type(exc).__name__}")


@dataclass(frozen=True)
class ChainReport:
    sealed: int
    unsealed: int
    problems: list[str]


def verify_chain(engine: Engine) -> ChainReport:
    """Recompute the chain from the first row; name the first row that does not match, and any break."""
    with reading(engine) as connection:
        rows = connection.execute(
            select(*CONTENT, AuditRow.chain_position, AuditRow.chain_hash)
            .where(AuditRow.chain_position.is_not(None))
            .order_by(AuditRow.chain_position)
        ).all()
        unsealed = connection.scalar(
            select(func.count()).select_from(AuditRow).where(AuditRow.chain_position.is_(None))
        )
        head = connection.execute(HEAD).one_or_none()
    problems = _first_break(rows)
    length, last_hash = (head.length, head.last_hash) if head else (0, GENESIS)
    expected = (rows[-1].chain_position, rows[-1].chain_hash) if rows else (0, GENESIS)
    if not problems and (length, last_hash) != expected:
        problems.append(
            f"The chain's head says {length} rows ending in {last_hash[:12]}…, but the audit holds "
            f"{expected[0]} ending in {str(expected[1])[:12]}…: rows were removed from its end."
        )
    return ChainReport(len(rows), int(unsealed or 0), problems)


def _first_break(rows: Sequence[AuditRecord]) -> list[str]:
    previous = GENESIS
    for expected_position, row in enumerate(rows, start=1):
        position = row.chain_position
        if position != expected_position:
            return [
                f"Audit row {row.id}: at position {position} of the chain where {expected_position} "
                "was expected: a row before it was removed."
            ]
        if link(previous, row_digest(row)) != row.chain_hash:
            return [
                f"Audit row {row.id} (position {position}): its contents do not match its hash: it "
                "was changed after it was written."
            ]
        previous = row.chain_hash
    return []
