"""Clerks' returns that wait before they are published: held for review, or waiting for a second clerk.

A clerk's return that trips a warning is held until a supervisor accepts or rejects it (unless the round
publishes such returns with their flag). With double entry on, a clerk's return waits until a second
clerk enters the same counts; two clerks who disagree are both held for a supervisor. Supervisors' own
writes are reviewed by definition and never wait. Waiting entries live in `entries`, never in the
return versions the figures are made of.

Double entry compares people, not tokens: an entry belongs to the person who holds the token that typed
it (the token's name when it names nobody), and an entry by the same person — with the same token or
another of theirs — never counts as the second one.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import NamedTuple

import numpy as np

from api.store.common import (
    RoundInfo,
    bureau_filter,
)
from api.store.models import WAITING_STATUSES, EntryRow
from api.store.sql import Raw, select_list
from tabulator.batch import BoolArray, IntArray, ReturnBatch
from tabulator.plan import StoredReturns
from tabulator.routing import Entry, Routing, Sender, route_returns


class EntryRecord(NamedTuple):
    """A stored entry as the raw reads select it (`ENTRY_SELECT`), with its bureau's code."""

    id: int
    bureau_id: int
    bureau: str
    status: str
    author: str
    person: str
    voters: int
    blank: int
    null: int
    valid: int
    registered: int | None
    votes: str  # JSON: {candidate code: votes}
    warnings: str
    warning_notes: str
    reported_at: datetime | str | None  # as the driver gives it: read with `api.store.sql.utc_time`
    entered_at: datetime | str


ENTRY_SELECT = (
    "SELECT "
    + select_list(
        EntryRecord,
        "e",
        EntryRow.__table__,
        # Entries typed before people were recorded belong to their token's name, as their tokens did.
        {"bureau": "b.code", "person": "coalesce(e.person, e.author)"},
    )
    + " FROM entries e JOIN bureaux b ON b.id = e.bureau_id"
)


class NewEntry(NamedTuple):
    """A row written to `entries` (the model's column names)."""

    round_id: int
    bureau_id: int
    status: str
    voters: int
    blank: int
    null: int
    valid: int
    registered: int | None
    votes: str
    warnings: str
    warning_notes: str
    reported_at: object  # times as `Raw.time` gives them to the driver
    entered_at: object
    author: str
    person: str
    base_version: int
    decided_at: object
    sequence: int | None


def divert(
    raw: Raw,
    round_: RoundInfo,
    batch: ReturnBatch,
    rows: list[Entry],
    *,
    changed: BoolArray,
    stored: StoredReturns,
    sender: Sender,
    recorded_at: datetime,
) -> Routing:
    """Route a clerk's changed returns (`tabulator.routing`) and store the entries of those that wait."""
    pending = _waiting_entries(raw, round_.id, np.array([row.bureau_id for row in rows], np.int64))
    routing = route_returns(batch, rows, changed, pending, sender)
    sequence = round_.sequence + 1 if routing.publish.any() else None
    write_entries(
        raw,
        round_,
        batch,
        rows,
        routing,
        stored=stored,
        author=sender.author,
        person=sender.person,
        at=recorded_at,
        sequence=sequence,
    )
    return routing


def write_entries(
    raw: Raw,
    round_: RoundInfo,
    batch: ReturnBatch,
    rows: list[Entry],
    routing: Routing,
    *,
    stored: StoredReturns,
    author: str,
    person: str,
    at: datetime,
    sequence: int | None,
) -> None:
    """Store the routing's new entries and decisions; matched entries name the sequence that published
    them."""
    recorded = raw.time(at)
    _write_decisions(raw, routing.decided, recorded=recorded, author=author, sequence=sequence)
    raw.insert_records(
        EntryRow.__table__,
        NewEntry,
        [
            _new_entry(
                raw,
                round_,
                rows[i],
                status,
                reported_at=batch.reported_at[i],
                recorded=recorded,
                author=author,
                person=person,
                base_version=int(stored.version[i]),
                sequence=sequence,
            )
            for i, status in routing.new_entries
        ],
    )


def _write_decisions(
    raw: Raw, decided: list[tuple[int, str]], *, recorded: object, author: str, sequence: int | None
) -> None:
    """Waiting entries the batch decided: superseded, matched (published by `sequence`) or disputed. A
    mismatch still waits for a supervisor, so it names no decision yet."""
    for entry_id, status in decided:
        final = status != "mismatch"
        raw.execute(
            "UPDATE entries SET status = ?, decided_at = ?, decided_by = ?, sequence = ? WHERE id = ?",
            (
                status,
                recorded if final else None,
                author if final else None,
                sequence if status == "matched" else None,
                entry_id,
            ),
        )


def _new_entry(
    raw: Raw,
    round_: RoundInfo,
    row: Entry,
    status: str,
    *,
    reported_at: datetime | None,
    recorded: object,
    author: str,
    person: str,
    base_version: int,
    sequence: int | None,
) -> NewEntry:
    """The stored form of one waiting (or matched) row of the batch."""
    voters, blank, null, valid = row.counts
    matched = status == "matched"
    return NewEntry(
        round_id=round_.id,
        bureau_id=row.bureau_id,
        status=status,
        voters=voters,
        blank=blank,
        null=null,
        valid=valid,
        registered=row.registered,
        votes=json.dumps(row.votes),
        warnings=row.warnings,
        warning_notes=row.notes,
        reported_at=raw.time(reported_at) if reported_at else None,
        entered_at=recorded,
        author=author,
        person=person,
        base_version=base_version,
        decided_at=recorded if matched else None,
        sequence=sequence if matched else None,
    )


def _waiting_entries(raw: Raw, round_id: int, bureau_ids: IntArray) -> dict[int, list[Entry]]:
    filter_sql, params = bureau_filter(bureau_ids, "e.bureau_id")
    found: dict[int, list[Entry]] = {}
    for record in raw.records(
        EntryRecord,
        f"{ENTRY_SELECT} WHERE e.round_id = ? AND e.status IN "
        f"({', '.join('?' * len(WAITING_STATUSES))}) {filter_sql} ORDER BY e.id",
        (round_id, *WAITING_STATUSES, *params),
    ):
        entry = _entry(record)
        found.setdefault(entry.bureau_id, []).append(entry)
    return found


def _entry(record: EntryRecord) -> Entry:
    return Entry(
        id=record.id,
        bureau_id=record.bureau_id,
        status=record.status,
        author=record.author,
        person=record.person,
        counts=(record.voters, record.blank, record.null, record.valid),
        registered=record.registered,
        votes=json.loads(record.votes),
        warnings=record.warnings,
        notes=record.warning_notes,
    )
