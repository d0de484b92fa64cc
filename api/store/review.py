"""A supervisor's review: what waits (`GET …/review`), and the decision on each entry.

See `api.store.entries` for how a clerk's return comes to wait.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import Connection, Engine

from api.store.accounts import AuditRequest, audit_entry
from api.store.common import (
    CURRENT_VERSION,
    EVERY_SEQUENCE,
    NotFound,
    RecordReport,
    Refused,
    RoundInfo,
    now,
    refuse_if_certified,
    round_info,
    stored_returns,
    warning_codes,
    warning_notes,
)
from api.store.db import reading, writing
from api.store.entries import ENTRY_SELECT, EntryRecord
from api.store.models import WAITING_STATUSES, EntryRow, ReturnVersionRow
from api.store.returns import Writer, record_in
from api.store.sql import Raw, select_list, utc_time
from tabulator.batch import COUNT_FIELDS, ReturnBatch
from tabulator.rules import FIRST_NAMED, error
from tabulator.types import Return

WAITING = f"status IN ({', '.join(repr(status) for status in WAITING_STATUSES)})"
ORDERS = ("arrival", "unusual")  # oldest first; or the most unusual first (then oldest)


class FlaggedReturn(NamedTuple):
    """A published return's warning codes, and its bureau's code."""

    bureau: str
    warnings: str


class FlaggedEntry(NamedTuple):
    warnings: str


FLAGGED_RETURNS = (
    f"SELECT {select_list(FlaggedReturn, 'v', ReturnVersionRow.__table__, {'bureau': 'b.code'})} "
    "FROM return_versions v JOIN bureaux b ON b.id = v.bureau_id "
    f"WHERE v.round_id = ? AND v.warnings <> '' AND {CURRENT_VERSION.format(t='v')} "
    "ORDER BY v.sequence, b.code"
)
FLAGGED_ENTRIES = (
    f"SELECT {select_list(FlaggedEntry, 'e', EntryRow.__table__)} FROM entries e "
    f"WHERE e.round_id = ? AND e.{WAITING} AND e.warnings <> ''"
)


def waiting_list(
    engine: Engine, election_code: str, number: int, *, warning: str | None = None, order: str = "arrival"
) -> dict[str, Any]:
    """What waits for a supervisor (held, disputed) and for a second clerk, each entry beside the bureau's
    published return if it has one: oldest first, or (`order="unusual"`) the most unusual first, by the
    highest score of its warnings. `warning`: only the entries that tripped that warning code. `by_code`:
    how many waiting entries tripped each code, whatever the filter."""
    with reading(engine) as connection:
        round_ = round_info(connection, election_code, number)
        raw = Raw(connection)
        rows = raw.records(
            EntryRecord, f"{ENTRY_SELECT} WHERE e.round_id = ? AND e.{WAITING} ORDER BY e.id", (round_.id,)
        )
        by_code = Counter(code for row in rows for code in warning_codes(row.warnings))
        if warning is not None:
            rows = [row for row in rows if warning in warning_codes(row.warnings)]
        published = _published(raw, round_, sorted({row.bureau_id for row in rows}))
    entries = [_entry_document(row, published.get(row.bureau_id)) for row in rows]
    if order == "unusual":
        entries.sort(key=lambda entry: -entry["unusual"])  # stable: the oldest first among equals
    return {
        "election": election_code,
        "round": number,
        "double_entry": round_.double_entry,
        "flagged_returns": round_.flagged_returns,
        "by_code": dict(sorted(by_code.items())),
        "entries": entries,
    }


def warning_counts(engine: Engine, election_code: str, number: int) -> dict[str, Any]:
    """Per warning code: the bureaux whose published return trips it now (the first named, in publication
    order) and the entries waiting with it. A supervisor's view of the night's warnings at a glance."""
    with reading(engine) as connection:
        round_ = round_info(connection, election_code, number)
        raw = Raw(connection)
        published = raw.records(FlaggedReturn, FLAGGED_RETURNS, (round_.id, EVERY_SEQUENCE))
        waiting = raw.records(FlaggedEntry, FLAGGED_ENTRIES, (round_.id,))
    by_code: dict[str, dict[str, Any]] = {}
    for flagged in published:
        for code in warning_codes(flagged.warnings):
            found = by_code.setdefault(code, {"published": 0, "waiting": 0, "first": []})
            found["published"] += 1
            if len(found["first"]) < FIRST_NAMED:
                found["first"].append(flagged.bureau)
    for code, count in Counter(code for entry in waiting for code in warning_codes(entry.warnings)).items():
        by_code.setdefault(code, {"published": 0, "waiting": 0, "first": []})["waiting"] = count
    return {
        "election": election_code,
        "round": number,
        "sequence": round_.sequence,
        "published_flagged": len(published),
        "waiting_flagged": len(waiting),
        "by_code": dict(sorted(by_code.items())),
    }


def _published(raw: Raw, round_: RoundInfo, bureau_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not bureau_ids:
        return {}
    stored = stored_returns(raw, round_, np.array(bureau_ids, np.int64))
    return {
        bureau_id: {
            "version": int(stored.version[i]),
            **dict(zip(COUNT_FIELDS, (int(count) for count in stored.counts[i]), strict=True)),
            "votes": dict(zip(round_.candidate_codes, (int(v) for v in stored.votes[i]), strict=True)),
        }
        for i, bureau_id in enumerate(bureau_ids)
        if stored.exists[i]
    }


def _entry_document(row: EntryRecord, published: dict[str, Any] | None) -> dict[str, Any]:
    notes = warning_notes(row.warning_notes)
    return {
        "id": row.id,
        "bureau": row.bureau,
        "status": row.status,
        "author": row.author,
        "person": row.person,
        "voters": row.voters,
        "blank": row.blank,
        "null": row.null,
        "valid": row.valid,
        "registered": row.registered,
        "votes": json.loads(row.votes),
        "warnings": warning_codes(row.warnings),
        "warning_notes": notes,
        "unusual": max((note["score"] for note in notes), default=0.0),
        "reported_at": utc_time(row.reported_at),
        "entered_at": utc_time(row.entered_at),
        "published": published,
    }


def decide(
    engine: Engine,
    election_code: str,
    number: int,
    entry_id: int,
    *,
    accept: bool,
    supervisor: str,
    reason: str | None = None,
    audit: AuditRequest | None = None,
) -> RecordReport:
    """A supervisor accepts an entry (published as its bureau's return; the bureau's other waiting entries
    are superseded) or rejects it (nothing is published). A correction of a published return needs a
    `reason`, as any correction does. `audit`: the request's audit row, written in the same transaction."""
    with writing(engine) as connection:
        round_ = round_info(connection, election_code, number, lock=True)
        refuse_if_certified(round_)
        raw = Raw(connection)
        found = raw.records(
            EntryRecord, f"{ENTRY_SELECT} WHERE e.round_id = ? AND e.id = ?", (round_.id, entry_id)
        )
        if not found:
            raise NotFound(f"Round {number} of {election_code!r} has no entry {entry_id}.")
        row = found[0]
        if row.status not in WAITING_STATUSES:
            raise Refused(
                [
                    error(
                        "already_decided",
                        f"Entry {entry_id} (bureau {row.bureau}) is {row.status}: it waits for no decision.",
                    )
                ]
            )
        report = RecordReport()
        if accept:
            report = _publish_entry(connection, round_, row, supervisor, reason)
        decided = raw.time(now())
        raw.execute(
            "UPDATE entries SET status = ?, decided_at = ?, decided_by = ?, decision_reason = ?, "
            "sequence = ? WHERE id = ?",
            ("accepted" if accept else "rejected", decided, supervisor, reason, report.sequence, entry_id),
        )
        if accept:
            raw.execute(
                "UPDATE entries SET status = 'superseded', decided_at = ?, decided_by = ?, "
                f"decision_reason = ? WHERE round_id = ? AND bureau_id = ? AND {WAITING}",
                (decided, supervisor, f"entry {entry_id} accepted", round_.id, row.bureau_id),
            )
        if audit is not None:
            audit_entry(raw, audit, status=report.status, outcome=report.outcome(), sequence=report.sequence)
    return report


def _publish_entry(
    connection: Connection, round_: RoundInfo, row: EntryRecord, supervisor: str, reason: str | None
) -> RecordReport:
    entered = Return(
        bureau=row.bureau,
        voters=row.voters,
        blank=row.blank,
        null=row.null,
        valid=row.valid,
        votes=json.loads(row.votes),
        registered=row.registered,
        reported_at=utc_time(row.reported_at),
    )
    return record_in(
        connection,
        round_,
        ReturnBatch.of([entered], round_.candidate_codes),
        Writer(f"{row.author}, accepted by {supervisor}", reason),
    )
