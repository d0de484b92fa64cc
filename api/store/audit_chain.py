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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from api.store.db import reading, writing
from api.store.sql import Raw

GENESIS = "0" * 64
CONTENT = 'id, at, token_id, actor, role, remote_addr, method, path, sent, status, outcome, "sequence"'
SEAL_BATCH = 5_000


def row_digest(row: tuple[Any, ...]) -> str:
    """SHA-256 of a row's contents (its id and every field written with it), in one canonical text."""
    at = Raw.read_time(row[1])
    fields = [row[0], at.isoformat(timespec="microseconds") if at else None, *row[2:]]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def link(previous_hash: str, digest: str) -> str:
    return hashlib.sha256(f"{previous_hash}{digest}".encode()).hexdigest()


def seal(engine: Engine) -> int:
    """Chain the rows not sealed yet; returns how many were sealed."""
    sealed = 0
    while True:
        with writing(engine) as connection:
            raw = Raw(connection)
            length, last_hash = _locked_head(raw)
            rows = raw.rows(
                f"SELECT {CONTENT} FROM audit WHERE chain_position IS NULL ORDER BY id LIMIT {SEAL_BATCH}"
            )
            if not rows:
                return sealed
            updates = []
            for row in rows:
                length, last_hash = length + 1, link(last_hash, row_digest(row))
                updates.append((length, last_hash, row[0]))
            raw.execute_many("UPDATE audit SET chain_position = ?, chain_hash = ? WHERE id = ?", updates)
            raw.execute("UPDATE audit_chain SET length = ?, last_hash = ? WHERE id = 1", (length, last_hash))
            sealed += len(rows)


def _locked_head(raw: Raw) -> tuple[int, str]:
    raw.execute(
        "INSERT INTO audit_chain (id, length, last_hash) VALUES (1, 0, ?) ON CONFLICT DO NOTHING", (GENESIS,)
    )
    lock = "" if raw.sqlite else " FOR UPDATE"  # SQLite's writer holds the whole database already
    ((length, last_hash),) = raw.rows(f"SELECT length, last_hash FROM audit_chain WHERE id = 1{lock}")
    return int(length), str(last_hash)


def unsealed(engine: Engine) -> bool:
    """Whether any row waits for its seal (one index probe: the chain's position is indexed)."""
    with reading(engine) as connection:
        return bool(Raw(connection).rows("SELECT id FROM audit WHERE chain_position IS NULL LIMIT 1"))


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
        raw = Raw(connection)
        rows = raw.rows(
            f"SELECT {CONTENT}, chain_position, chain_hash FROM audit WHERE chain_position IS NOT NULL "
            "ORDER BY chain_position"
        )
        (unsealed,) = raw.rows("SELECT count(*) FROM audit WHERE chain_position IS NULL")[0]
        head = raw.rows("SELECT length, last_hash FROM audit_chain WHERE id = 1")
    problems = _first_break(rows)
    length, last_hash = head[0] if head else (0, GENESIS)
    expected = (rows[-1][-2], rows[-1][-1]) if rows else (0, GENESIS)
    if not problems and (length, last_hash) != expected:
        problems.append(
            f"The chain's head says {length} rows ending in {last_hash[:12]}…, but the audit holds "
            f"{expected[0]} ending in {str(expected[1])[:12]}…: rows were removed from its end."
        )
    return ChainReport(len(rows), int(unsealed), problems)


def _first_break(rows: list[tuple[Any, ...]]) -> list[str]:
    previous = GENESIS
    for expected_position, row in enumerate(rows, start=1):
        *content, position, chain_hash = row
        if position != expected_position:
            return [
                f"Audit row {content[0]}: at position {position} of the chain where {expected_position} "
                "was expected: a row before it was removed."
            ]
        if link(previous, row_digest(tuple(content))) != chain_hash:
            return [
                f"Audit row {content[0]} (position {position}): its contents do not match its hash: it "
                "was changed after it was written."
            ]
        previous = chain_hash
    return []
