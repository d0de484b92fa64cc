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
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from api.store.common import (
    RoundInfo,
    StoredReturns,
    bureau_filter,
)
from api.store.models import WAITING_STATUSES
from api.store.sql import Raw
from tabulator.batch import UNKNOWN, BoolArray, IntArray, ReturnBatch
from tabulator.rules import DESCRIBED_WARNINGS, where
from tabulator.types import Issue, Severity

SECOND_PERSON_NEEDED = "second_person_needed"

# The last column is the entry's person: entries typed before people were recorded belong to their
# token's name, as their tokens did.
ENTRY_COLUMNS = (
    'e.id, e.bureau_id, e.status, e.author, e.voters, e.blank, e."null", e.valid, e.registered, e.votes, '
    "e.warnings, e.reported_at, e.entered_at, e.base_version, e.decided_at, e.decided_by, "
    "e.decision_reason, e.sequence, coalesce(e.person, e.author), e.warning_notes"
)
PERSON = 18  # its position
NOTES = 19


@dataclass(frozen=True)
class Entry:
    id: int
    bureau_id: int
    status: str
    author: str
    person: str
    counts: tuple[int, int, int, int]
    registered: int | None
    votes: dict[str, int]
    warnings: str
    notes: str = ""  # the warnings in full, JSON

    def same_counts(self, other: Entry) -> bool:
        return (self.counts, self.registered, self.votes) == (other.counts, other.registered, other.votes)


@dataclass
class Routing:
    """Where each changed row of a clerk's batch goes: published now, or into `entries`."""

    publish: BoolArray
    authors: list[str]  # the author of each published row's version (two names when double-entered)
    held: int = 0
    waiting: int = 0
    repeated: int = 0  # the same counts as the clerk's own waiting entry: nothing to do
    new_entries: list[tuple[int, str]] = field(default_factory=list)  # (row, status)
    decided: list[tuple[int, str]] = field(default_factory=list)  # (entry id, status)
    notices: list[Issue] = field(default_factory=list)  # why an entry still waits, for its clerk


def divert(
    raw: Raw,
    round_: RoundInfo,
    batch: ReturnBatch,
    rows: list[Entry],
    *,
    changed: BoolArray,
    stored: StoredReturns,
    author: str,
    person: str,
    recorded_at: datetime,
) -> Routing:
    """Route a clerk's changed returns and store the entries of those that wait (see `route`)."""
    routing = route(raw, round_, batch, rows, changed, author=author, person=person)
    sequence = round_.sequence + 1 if routing.publish.any() else None
    write_entries(
        raw,
        round_,
        batch,
        rows,
        routing,
        stored=stored,
        author=author,
        person=person,
        at=recorded_at,
        sequence=sequence,
    )
    return routing


def route(
    raw: Raw,
    round_: RoundInfo,
    batch: ReturnBatch,
    rows: list[Entry],
    changed: BoolArray,
    *,
    author: str,
    person: str,
) -> Routing:
    """Decide, row by row, what a clerk's changed returns do. `rows` are the batch as entries; `person`
    holds the token that sent them."""
    routing = Routing(publish=np.zeros(len(rows), bool), authors=[author] * len(rows))
    pending = _waiting_entries(raw, round_.id, np.array([row.bureau_id for row in rows], np.int64))
    hold_flagged = round_.flagged_returns == "hold"
    for i in np.flatnonzero(changed).tolist():
        row = rows[i]
        waiting = pending.get(row.bureau_id, [])
        mine = [entry for entry in waiting if entry.person == person]
        repeated = next((entry for entry in mine if entry.same_counts(row)), None)
        if repeated is not None:
            _repeated(routing, batch, i, repeated)
            continue
        routing.decided += [(entry.id, "superseded") for entry in mine]
        others = [entry for entry in waiting if entry.person != person]
        matched = None
        if round_.double_entry:
            matched = _second_entry(routing, i, row, others)
            if matched is None:
                if any(entry.status == "first_entry" for entry in mine) and not others:
                    _notice(routing, batch, i, replaced=True)
                continue
            routing.authors[i] = f"{matched.author} & {author}"
        if hold_flagged and row.warnings:
            routing.new_entries.append((i, "held"))
            routing.held += 1
            continue
        routing.publish[i] = True
        if matched is not None:
            routing.new_entries.append((i, "matched"))
    return routing


def _repeated(routing: Routing, batch: ReturnBatch, i: int, entry: Entry) -> None:
    """The clerk's person sent again the counts of an entry of theirs that waits: nothing changes. A first
    entry still waits for another person, and its clerk is told so (202): a re-send from the same person,
    whatever the token, is never the second entry."""
    if entry.status == "first_entry":
        routing.waiting += 1
        _notice(routing, batch, i, replaced=False)
    else:
        routing.repeated += 1


def _notice(routing: Routing, batch: ReturnBatch, i: int, *, replaced: bool) -> None:
    if len(routing.notices) >= DESCRIBED_WARNINGS:  # a file re-sent whole would repeat it on every row
        return
    done = "these counts replace your earlier entry" if replaced else "you have entered these counts already"
    routing.notices.append(
        Issue(
            SECOND_PERSON_NEEDED,
            f"{where(batch.lines[i], batch.bureaux[i])}{done}; double entry needs the same counts from "
            "another person, and an entry of yours, with any of your tokens, does not count as the second.",
            Severity.WARNING,
            line=batch.lines[i],
            bureau=batch.bureaux[i],
        )
    )


def _second_entry(routing: Routing, i: int, row: Entry, others: list[Entry]) -> Entry | None:
    """Double entry: another person's identical entry this row confirms, or None if the row must wait
    (first of its bureau, or disagreeing with another person: then all of them wait for a supervisor)."""
    firsts = [entry for entry in others if entry.status == "first_entry"]
    disputed = any(entry.status == "mismatch" for entry in others)
    matched = next((entry for entry in firsts if entry.same_counts(row)), None)
    if matched is not None and not disputed:
        routing.decided.append((matched.id, "matched"))
        return matched
    if firsts or disputed:
        routing.decided += [(entry.id, "mismatch") for entry in firsts]
        routing.new_entries.append((i, "mismatch"))
        routing.held += 1
    else:
        routing.new_entries.append((i, "first_entry"))
        routing.waiting += 1
    return None


def as_entries(
    batch: ReturnBatch, bureau_ids: IntArray, registered: IntArray, warning_codes: list[str], notes: list[str]
) -> list[Entry]:
    return [
        Entry(
            id=0,
            bureau_id=int(bureau_ids[i]),
            status="",
            author="",
            person="",
            counts=tuple(int(count) for count in batch.counts[i]),  # type: ignore[arg-type]
            registered=None if registered[i] == UNKNOWN else int(registered[i]),
            votes=dict(zip(batch.candidate_ids, (int(v) for v in batch.votes[i]), strict=True)),
            warnings=warning_codes[i],
            notes=notes[i],
        )
        for i in range(len(batch))
    ]


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
    for entry_id, status in routing.decided:
        raw.execute(
            "UPDATE entries SET status = ?, decided_at = ?, decided_by = ?, sequence = ? WHERE id = ?",
            (
                status,
                recorded if status != "mismatch" else None,
                author if status != "mismatch" else None,
                sequence if status == "matched" else None,
                entry_id,
            ),
        )
    raw.insert_many(
        "entries",
        [
            "round_id",
            "bureau_id",
            "status",
            "voters",
            "blank",
            "null",
            "valid",
            "registered",
            "votes",
            "warnings",
            "warning_notes",
            "reported_at",
            "entered_at",
            "author",
            "person",
            "base_version",
            "decided_at",
            "sequence",
        ],
        [
            (
                round_.id,
                rows[i].bureau_id,
                status,
                *rows[i].counts,
                rows[i].registered,
                json.dumps(rows[i].votes),
                rows[i].warnings,
                rows[i].notes,
                raw.time(reported) if (reported := batch.reported_at[i]) else None,
                recorded,
                author,
                person,
                int(stored.version[i]),
                recorded if status == "matched" else None,
                sequence if status == "matched" else None,
            )
            for i, status in routing.new_entries
        ],
    )


def _waiting_entries(raw: Raw, round_id: int, bureau_ids: IntArray) -> dict[int, list[Entry]]:
    filter_sql, params = bureau_filter(bureau_ids, "e.bureau_id")
    found: dict[int, list[Entry]] = {}
    for row in raw.rows(
        f"SELECT {ENTRY_COLUMNS} FROM entries e WHERE e.round_id = ? AND e.status IN "
        f"({', '.join('?' * len(WAITING_STATUSES))}) {filter_sql} ORDER BY e.id",
        (round_id, *WAITING_STATUSES, *params),
    ):
        entry = _entry(row)
        found.setdefault(entry.bureau_id, []).append(entry)
    return found


def _entry(row: tuple[Any, ...]) -> Entry:
    votes = json.loads(row[9])
    return Entry(
        id=row[0],
        bureau_id=row[1],
        status=row[2],
        author=row[3],
        person=row[PERSON],
        counts=(row[4], row[5], row[6], row[7]),
        registered=row[8],
        votes=votes,
        warnings=row[10],
        notes=row[NOTES],
    )
