"""A supervisor's review: what waits (`GET …/review`), and the decision on each entry.

See `api.store.entries` for how a clerk's return comes to wait.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine

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
from api.store.entries import ENTRY_COLUMNS, NOTES, PERSON
from api.store.models import WAITING_STATUSES
from api.store.returns import Writer, record_in
from api.store.sql import Raw
from tabulator.batch import ReturnBatch
from tabulator.rules import FIRST_NAMED, error
from tabulator.types import Return

WAITING = f"status IN ({', '.join(repr(status) for status in WAITING_STATUSES)})"
CODE = NOTES + 1  # the bureau's code, after ENTRY_COLUMNS
ORDERS = ("arrival", "unusual")  # oldest first; or the most unusual first (then oldest)


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
        rows = raw.rows(
            f"SELECT {ENTRY_COLUMNS}, b.code FROM entries e JOIN bureaux b ON b.id = e.bureau_id "
            f"WHERE e.round_id = ? AND e.{WAITING} ORDER BY e.id",
            (round_.id,),
        )
        by_code = Counter(code for row in rows for code in warning_codes(row[10]))
        if warning is not None:
            rows = [row for row in rows if warning in warning_codes(row[10])]
        published = _published(raw, round_, sorted({row[1] for row in rows}))
    entries = [_entry_document(row, published.get(row[1])) for row in rows]
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
        published = raw.rows(
            "SELECT b.code, v.warnings FROM return_versions v JOIN bureaux b ON b.id = v.bureau_id "
            f"WHERE v.round_id = ? AND v.warnings <> '' AND {CURRENT_VERSION.format(t='v')} "
            "ORDER BY v.sequence, b.code",
            (round_.id, EVERY_SEQUENCE),
        )
        waiting = raw.rows(
            f"SELECT e.warnings FROM entries e WHERE e.round_id = ? AND e.{WAITING} AND e.warnings <> ''",
            (round_.id,),
        )
    by_code: dict[str, dict[str, Any]] = {}
    for bureau, flags in published:
        for code in warning_codes(flags):
            found = by_code.setdefault(code, {"published": 0, "waiting": 0, "first": []})
            found["published"] += 1
            if len(found["first"]) < FIRST_NAMED:
                found["first"].append(bureau)
    for code, count in Counter(code for (flags,) in waiting for code in warning_codes(flags)).items():
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
            "voters": int(stored.counts[i, 0]),
            "blank": int(stored.counts[i, 1]),
            "null": int(stored.counts[i, 2]),
            "valid": int(stored.counts[i, 3]),
            "votes": dict(zip(round_.candidate_codes, (int(v) for v in stored.votes[i]), strict=True)),
        }
        for i, bureau_id in enumerate(bureau_ids)
        if stored.exists[i]
    }


def _entry_document(row: tuple[Any, ...], published: dict[str, Any] | None) -> dict[str, Any]:
    notes = warning_notes(row[NOTES])
    return {
        "id": row[0],
        "bureau": row[CODE],
        "status": row[2],
        "author": row[3],
        "person": row[PERSON],
        "voters": row[4],
        "blank": row[5],
        "null": row[6],
        "valid": row[7],
        "registered": row[8],
        "votes": json.loads(row[9]),
        "warnings": warning_codes(row[10]),
        "warning_notes": notes,
        "unusual": max((note["score"] for note in notes), default=0.0),
        "reported_at": Raw.read_time(row[11]),
        "entered_at": Raw.read_time(row[12]),
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
) -> RecordReport:
    """A supervisor accepts an entry (published as its bureau's return; the bureau's other waiting entries
    are superseded) or rejects it (nothing is published). A correction of a published return needs a
    `reason`, as any correction does."""
    with writing(engine) as connection:
        round_ = round_info(connection, election_code, number, lock=True)
        refuse_if_certified(round_)
        raw = Raw(connection)
        found = raw.rows(
            f"SELECT {ENTRY_COLUMNS}, b.code FROM entries e JOIN bureaux b ON b.id = e.bureau_id "
            "WHERE e.round_id = ? AND e.id = ?",
            (round_.id, entry_id),
        )
        if not found:
            raise NotFound(f"Round {number} of {election_code!r} has no entry {entry_id}.")
        row = found[0]
        if row[2] not in WAITING_STATUSES:
            raise Refused(
                [
                    error(
                        "already_decided",
                        f"Entry {entry_id} (bureau {row[CODE]}) is {row[2]}: it waits for no decision.",
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
                (decided, supervisor, f"entry {entry_id} accepted", round_.id, row[1]),
            )
    return report


def _publish_entry(
    connection: Connection, round_: RoundInfo, row: tuple[Any, ...], supervisor: str, reason: str | None
) -> RecordReport:
    votes = json.loads(row[9])
    entered = Return(row[CODE], row[4], row[5], row[6], row[7], votes, row[8], Raw.read_time(row[11]))
    return record_in(
        connection,
        round_,
        ReturnBatch.of([entered], round_.candidate_codes),
        Writer(f"{row[3]}, accepted by {supervisor}", reason),
    )
