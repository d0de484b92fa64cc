"""What newsrooms poll besides results, as facts: the elections and their rounds, a round's latest sequence,
and the return versions that make the change feed and the corrections log. `api.documents.feeds` shapes
them into the documents the API serves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, select

from api.store.common import (
    BadArgument,
    ElectionIndex,
    NotFound,
    RoundInfo,
    election_index,
    round_info,
    warning_codes,
)
from api.store.models import BY_SEQUENCE, ElectionRow, ReturnVersionRow, RoundRow
from api.store.results import View
from api.store.sql import Raw, select_list, utc_time
from tabulator.batch import unpack_votes

CURSOR = re.compile(r"^(\d{1,12})(?::(\d{1,12}))?$")
EVERY_BUREAU = 2**62


@dataclass(frozen=True)
class Election:
    """An election as the public sees it: its description, and its rounds in order."""

    code: str
    name: str
    organiser: str
    type: str
    note: str
    levels: tuple[str, ...]
    rounds: tuple[RoundInfo, ...]


def read_elections(connection: Connection) -> list[Election]:
    rows = connection.execute(select(ElectionRow).order_by(ElectionRow.code)).all()
    return [_election(connection, row) for row in rows]


def read_election(connection: Connection, code: str) -> Election:
    row = connection.execute(select(ElectionRow).where(ElectionRow.code == code)).one_or_none()
    if row is None:
        raise NotFound(f"There is no election {code!r}.")
    return _election(connection, row)


def _election(connection: Connection, row: Any) -> Election:
    numbers = connection.scalars(
        select(RoundRow.number).where(RoundRow.election_id == row.id).order_by(RoundRow.number)
    ).all()
    return Election(
        code=row.code,
        name=row.name,
        organiser=row.organiser,
        type=row.type,
        note=row.note,
        levels=tuple(row.levels),
        rounds=tuple(round_info(connection, row.code, number) for number in numbers),
    )


class HeadRecord(NamedTuple):
    sequence: int
    published_at: Any


HEAD = (
    f"SELECT {select_list(HeadRecord, 'r', RoundRow.__table__, {'published_at': 'p.published_at'})} "
    "FROM rounds r JOIN elections e ON e.id = r.election_id "
    "LEFT JOIN publications p ON p.round_id = r.id AND p.sequence = r.sequence "
    "WHERE e.code = ? AND r.number = ?"
)


def head(connection: Connection, election_code: str, round_number: int) -> tuple[int, datetime | None]:
    """The round's latest sequence and when it was published: one indexed row, read on every request."""
    found = Raw(connection).records(HeadRecord, HEAD, (election_code, round_number))
    if not found:
        raise NotFound(f"Election {election_code!r} has no round {round_number}.")
    return found[0].sequence, utc_time(found[0].published_at)


# --- the change feed and the corrections log -------------------------------------------------------------

Position = tuple[int, int]  # (sequence, bureau id): where a change sits in the feed


def parse_cursor(since: str) -> Position:
    """ "42" means all of sequence 42 has been read; "42:1234", only its bureaux up to id 1234."""
    found = CURSOR.match(since.strip())
    if not found:
        raise BadArgument(f"since: {since!r} is neither a sequence like 42 nor a `next` cursor like 42:1234.")
    return int(found.group(1)), int(found.group(2)) if found.group(2) else EVERY_BUREAU


@dataclass(frozen=True)
class Counts:
    voters: int
    blank: int
    null: int
    valid: int
    votes: dict[str, int]  # by candidate code, in ballot order


@dataclass(frozen=True)
class Change:
    """A return version as the change feed and the corrections log tell it."""

    bureau_id: int
    bureau: str  # its code
    name: str
    version: int  # 1: recorded; more: corrected
    sequence: int
    reported_at: datetime | None
    recorded_at: datetime | None
    counts: Counts
    previous: Counts | None  # for a correction: the counts it replaced
    reason: str | None
    warnings: list[str]

    @property
    def position(self) -> Position:
        return self.sequence, self.bureau_id


class ChangeRecord(NamedTuple):
    bureau_id: int
    version: int
    sequence: int
    voters: int
    blank: int
    null: int
    valid: int
    votes: str  # packed: `tabulator.batch.unpack_votes`
    reported_at: Any
    recorded_at: Any
    reason: str | None
    warnings: str


class CountsRecord(NamedTuple):
    voters: int
    blank: int
    null: int
    valid: int
    votes: str


CHANGES = f"SELECT {select_list(ChangeRecord, 'v', ReturnVersionRow.__table__)} FROM return_versions v "
REPLACED_COUNTS = (
    f"SELECT {select_list(CountsRecord, 'v', ReturnVersionRow.__table__)} FROM return_versions v "
    "WHERE v.round_id = ? AND v.bureau_id = ? AND v.version = ?"
)


def changes_after(
    connection: Connection, round_: RoundInfo, after: Position, up_to_sequence: int, limit: int
) -> list[Change]:
    """Up to `limit` changes past the position `after`, none later than `up_to_sequence`, in feed order."""
    raw = Raw(connection)
    records = raw.records(
        ChangeRecord,
        # `v.sequence >= ?`, implied by the cursor's test, starts the index's range at the cursor (SQLite
        # starts it at the first lower bound it is given: hence before BY_SEQUENCE). Without it the range
        # began at the round's first sequence, and a page read every version before its cursor (1.9 ms a
        # page at 12,000 returns, 5.7 ms at 20,000 on PostgreSQL: make loadtest, LOADTEST_ALL=1).
        f"{CHANGES} WHERE v.round_id = ? AND v.sequence >= ? AND v.{BY_SEQUENCE} AND v.sequence <= ? "
        "AND (v.sequence > ? OR (v.sequence = ? AND v.bureau_id > ?)) "
        "ORDER BY v.sequence, v.bureau_id LIMIT ?",
        (round_.id, after[0], up_to_sequence, after[0], after[0], after[1], limit),
    )
    return _changes(
        raw, round_, election_index(connection, round_.election_id, round_.registry_version), records
    )


def corrections(view: View) -> list[Change]:
    """The round's corrections as of the view's sequence, in publication order."""
    raw = Raw(view.connection)
    records = raw.records(
        ChangeRecord,
        f"{CHANGES} WHERE v.round_id = ? AND v.version > 1 AND v.{BY_SEQUENCE} AND v.sequence <= ? "
        "ORDER BY v.sequence, v.bureau_id",
        (view.round_.id, view.publication.sequence),
    )
    return _changes(raw, view.round_, view.index, records)


def emptied_between(connection: Connection, round_id: int, after_sequence: int, up_to_sequence: int) -> bool:
    """Whether a publication in (after, up to] has no bureau at all: a rehearsal wiped (returns are never
    withdrawn otherwise), so every change read before it is gone."""
    return bool(
        Raw(connection).rows(
            "SELECT 1 FROM publications WHERE round_id = ? AND sequence > ? AND sequence <= ? "
            "AND bureaux_reported = 0 LIMIT 1",
            (round_id, after_sequence, up_to_sequence),
        )
    )


def _changes(raw: Raw, round_: RoundInfo, index: ElectionIndex, records: list[ChangeRecord]) -> list[Change]:
    """Return versions with their votes and, for a correction, the counts it replaced."""
    previous = _replaced_counts(
        raw, round_, [(record.bureau_id, record.version - 1) for record in records if record.version > 1]
    )
    votes = unpack_votes([record.votes for record in records], len(round_.candidate_ids)).tolist()
    found = []
    for record, counts in zip(records, votes, strict=True):
        bureau = index.registry.bureaux[index.bureau_position[record.bureau_id]]
        before = previous.get((record.bureau_id, record.version - 1))
        found.append(
            Change(
                bureau_id=record.bureau_id,
                bureau=bureau.code,
                name=bureau.name,
                version=record.version,
                sequence=record.sequence,
                reported_at=utc_time(record.reported_at),
                recorded_at=utc_time(record.recorded_at),
                counts=Counts(
                    record.voters, record.blank, record.null, record.valid, _by_code(round_, counts)
                ),
                previous=None if before is None else _counts(round_, before),
                reason=record.reason,
                warnings=warning_codes(record.warnings),
            )
        )
    return found


def _by_code(round_: RoundInfo, votes: list[int]) -> dict[str, int]:
    return dict(zip(round_.candidate_codes, votes, strict=True))


def _counts(round_: RoundInfo, record: CountsRecord) -> Counts:
    votes = unpack_votes([record.votes], len(round_.candidate_ids))[0].tolist()
    return Counts(record.voters, record.blank, record.null, record.valid, _by_code(round_, votes))


def _replaced_counts(
    raw: Raw, round_: RoundInfo, keys: list[tuple[int, int]]
) -> dict[tuple[int, int], CountsRecord]:
    found: dict[tuple[int, int], CountsRecord] = {}
    for bureau_id, version in keys:
        for record in raw.records(CountsRecord, REPLACED_COUNTS, (round_.id, bureau_id, version)):
            found[(bureau_id, version)] = record
    return found
