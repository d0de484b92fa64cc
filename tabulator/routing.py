"""Where a clerk's changed returns go: published now, held for a supervisor, or waiting for a second person.

A clerk's return that trips a warning is held until a supervisor accepts or rejects it (unless the round
publishes such returns with their flag). With double entry on, a clerk's return waits until another person
enters the same counts; two people who disagree are both held for a supervisor. Double entry compares
people, not tokens: an entry by the same person — with the same token or another of theirs — never counts
as the second one. Pure: the store reads the entries that wait and writes what `route_returns` decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tabulator.batch import UNKNOWN, BoolArray, IntArray, ReturnBatch
from tabulator.rules import DESCRIBED_WARNINGS, where
from tabulator.types import Issue, Severity

SECOND_PERSON_NEEDED = "second_person_needed"


@dataclass(frozen=True)
class Entry:
    """A return as an entry: one of the batch's rows (`id` 0, no status yet), or one that waits."""

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


@dataclass(frozen=True)
class Sender:
    """Who sent the batch, and how their round reviews it."""

    author: str  # the token's name
    person: str  # who holds the token
    double_entry: bool
    hold_flagged: bool  # a return with a warning waits for a supervisor

    @property
    def may_wait(self) -> bool:
        """Whether any of this sender's returns may wait instead of being published."""
        return self.double_entry or self.hold_flagged


def route_returns(
    batch: ReturnBatch,
    rows: list[Entry],
    changed: BoolArray,
    pending: dict[int, list[Entry]],
    sender: Sender,
) -> Routing:
    """Decide, row by row, what a clerk's changed returns do. `rows` are the batch as entries; `pending`
    the entries that wait, by bureau id."""
    routing = Routing(publish=np.zeros(len(rows), bool), authors=[sender.author] * len(rows))
    for i in np.flatnonzero(changed).tolist():
        row = rows[i]
        waiting = pending.get(row.bureau_id, [])
        mine = [entry for entry in waiting if entry.person == sender.person]
        repeated = next((entry for entry in mine if entry.same_counts(row)), None)
        if repeated is not None:
            _repeated(routing, batch, i, repeated)
            continue
        routing.decided += [(entry.id, "superseded") for entry in mine]
        others = [entry for entry in waiting if entry.person != sender.person]
        matched = None
        if sender.double_entry:
            matched = _second_entry(routing, i, row, others)
            if matched is None:
                if any(entry.status == "first_entry" for entry in mine) and not others:
                    _notice(routing, batch, i, replaced=True)
                continue
            routing.authors[i] = f"{matched.author} & {sender.author}"
        if sender.hold_flagged and row.warnings:
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
    """The batch's rows as entries, to compare with those that wait."""
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
