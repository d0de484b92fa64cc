"""The store: the one place that speaks SQL and turns rows into tabulator's domain objects.

Writes follow one path: lock the round, read what the bureaux already reported, judge the batch with
`tabulator.rules`, append new return versions, add the difference to every ancestor area's sums, bump
the round's sequence and record the publication — all in one transaction, so a file applies wholly or
not at all.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, select

from api.models import (
    AreaRow,
    BureauRow,
    CandidateRow,
    ElectionRow,
    RoundRow,
)
from api.sql import SMALL_BATCH, Raw
from tabulator.aggregation import (
    RESULT_FIELDS,
    TURNOUT_FIELDS,
    aggregate_checkpoints,
    contributions,
    tally_from_row,
)
from tabulator.batch import UNKNOWN, BoolArray, CheckpointBatch, IntArray, ReturnBatch
from tabulator.metrics import change, summarize
from tabulator.ministry import LEVELS, MinistryFile
from tabulator.registry import Registry
from tabulator.rules import (
    DEFAULT_THRESHOLDS,
    NOT_FOUND,
    Thresholds,
    check_checkpoints,
    check_counts,
    error,
    locate_bureaux,
    where,
)
from tabulator.types import Area, Bureau, Candidate, Election, Issue, Round, Tally


class Refused(ValueError):
    """The input breaks a rule: nothing was written. `issues` says every reason, with its place."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__("; ".join(issue.message for issue in issues[:5]))
        self.issues = list(issues)


class NotFound(LookupError):
    pass


@dataclass(frozen=True)
class ElectionIndex:
    """An election's registry with the database ids of its areas and bureaux, cached per registry version."""

    id: int
    code: str
    name: str
    registry: Registry
    area_ids: IntArray
    bureau_ids: IntArray
    bureau_position: dict[int, int]
    bureaux_total: IntArray


@dataclass(frozen=True)
class RoundInfo:
    id: int
    election_id: int
    number: int
    candidates: tuple[Candidate, ...]
    candidate_ids: tuple[int, ...]
    previous_round_id: int | None
    sequence: int
    as_of: datetime | None
    status: str
    test: bool

    @property
    def candidate_codes(self) -> tuple[str, ...]:
        return tuple(candidate.id for candidate in self.candidates)


@dataclass
class RecordReport:
    created: int = 0
    corrected: int = 0
    unchanged: int = 0
    flagged: int = 0  # returns that tripped a warning
    warnings: list[Issue] = field(default_factory=list)  # the first ones of each rule, described
    sequence: int | None = None  # None when nothing changed

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "corrected": self.corrected,
            "unchanged": self.unchanged,
            "flagged": self.flagged,
            "sequence": self.sequence,
            "warnings": [issue.as_dict() for issue in self.warnings],
        }


_indexes: dict[tuple[int, int], ElectionIndex] = {}


def now() -> datetime:
    return datetime.now(UTC)


# --- elections and registries ----------------------------------------------------------------------


def create_election(
    engine: Engine, election: Election, areas: Sequence[Area], bureaux: Sequence[Bureau]
) -> int:
    """Store an election, its rounds and candidates and its registry. Refused if the id exists."""
    registry = Registry.build(election.levels, areas, bureaux)  # refuses a broken tree before any write
    with engine.begin() as connection:
        if connection.scalar(select(ElectionRow.id).where(ElectionRow.code == election.id)) is not None:
            raise Refused([error("election_exists", f"The election {election.id!r} is already loaded.")])
        election_id = connection.scalar(
            ElectionRow.__table__.insert()
            .values(
                code=election.id,
                name=election.name,
                organiser=election.organiser,
                levels=list(election.levels),
                note=election.note,
                registry_version=1,
            )
            .returning(ElectionRow.id)
        )
        assert election_id is not None
        _insert_registry(connection, election_id, registry)
        add_rounds(connection, election_id, election)
    return election_id


def _insert_registry(connection: Connection, election_id: int, registry: Registry) -> None:
    raw = Raw(connection)
    first_id = _next_id(connection, AreaRow)
    area_ids = {key: first_id + position for key, position in registry.area_index.items()}
    levels = registry.levels
    raw.insert_many(
        "areas",
        ["id", "election_id", "level", "code", "name", "parent_id", "position"],
        [
            (
                first_id + position,
                election_id,
                area.level,
                area.code,
                area.name,
                None
                if area.parent_code is None
                else area_ids[(levels[levels.index(area.level) - 1], area.parent_code)],
                position,
            )
            for position, area in enumerate(registry.areas)
        ],
    )
    first_bureau = _next_id(connection, BureauRow)
    leaf = registry.leaf_level
    raw.insert_many(
        "bureaux",
        ["id", "election_id", "code", "name", "area_id", "registered", "merged_into_id", "position"],
        [
            (
                first_bureau + position,
                election_id,
                bureau.code,
                bureau.name,
                area_ids[(leaf, bureau.area_code)],
                bureau.registered,
                None
                if bureau.merged_into is None
                else first_bureau + registry.bureau_index[bureau.merged_into],
                position,
            )
            for position, bureau in enumerate(registry.bureaux)
        ],
    )
    _reset_sequences(connection)


def _next_id(connection: Connection, model: Any) -> int:
    return int(connection.scalar(select(model.id).order_by(model.id.desc()).limit(1)) or 0) + 1


def _reset_sequences(connection: Connection) -> None:
    """Ids were given explicitly; PostgreSQL's serial counters must move past them."""
    if connection.dialect.name == "postgresql":
        for table in ("areas", "bureaux"):
            connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )


def add_rounds(connection: Connection, election_id: int, election: Election) -> None:
    """Create the rounds (and their candidates) of `election` that are not stored yet."""
    query = select(RoundRow.number, RoundRow.id).where(RoundRow.election_id == election_id)
    existing: dict[int, int] = {number: round_id for number, round_id in connection.execute(query)}  # noqa: C416
    for round_ in sorted(election.rounds, key=lambda r: r.number):
        if round_.number in existing:
            continue
        previous_id = existing.get(round_.previous_round) if round_.previous_round else None
        if round_.previous_round and previous_id is None:
            raise Refused(
                [error("unknown_round", f"Round {round_.number}: no previous round {round_.previous_round}.")]
            )
        round_id = connection.scalar(
            RoundRow.__table__.insert()
            .values(
                election_id=election_id,
                number=round_.number,
                date=round_.date,
                previous_round_id=previous_id,
                polls_close=round_.polls_close,
            )
            .returning(RoundRow.id)
        )
        assert round_id is not None
        existing[round_.number] = round_id
        connection.execute(
            CandidateRow.__table__.insert(),
            [
                {"round_id": round_id, "code": c.id, "name": c.name, "ballot_order": c.ballot_order}
                for c in round_.candidates
            ],
        )


def election_exists(engine: Engine, code: str) -> bool:
    with engine.connect() as connection:
        return connection.scalar(select(ElectionRow.id).where(ElectionRow.code == code)) is not None


def election_index(connection: Connection, election_id: int) -> ElectionIndex:
    """The election's registry, built once per process and registry version."""
    row = connection.execute(
        select(ElectionRow.code, ElectionRow.name, ElectionRow.levels, ElectionRow.registry_version).where(
            ElectionRow.id == election_id
        )
    ).one()
    key = (election_id, row.registry_version)
    if key not in _indexes:
        _indexes[key] = _build_index(connection, election_id, row.code, row.name, tuple(row.levels))
    return _indexes[key]


def _build_index(
    connection: Connection, election_id: int, code: str, name: str, levels: tuple[str, ...]
) -> ElectionIndex:
    raw = Raw(connection)
    area_rows = raw.rows(
        "SELECT a.id, a.level, a.code, a.name, p.code FROM areas a LEFT JOIN areas p ON p.id = a.parent_id "
        "WHERE a.election_id = ? ORDER BY a.position",
        (election_id,),
    )
    area_code = {row[0]: row[2] for row in area_rows}
    bureau_rows = raw.rows(
        "SELECT b.id, b.code, b.name, b.area_id, b.registered, m.code FROM bureaux b "
        "LEFT JOIN bureaux m ON m.id = b.merged_into_id WHERE b.election_id = ? ORDER BY b.position",
        (election_id,),
    )
    registry = Registry.build(
        levels,
        [Area(level, code_, name_, parent) for _, level, code_, name_, parent in area_rows],
        [
            Bureau(code_, name_, area_code[area_id], registered, merged)
            for _, code_, name_, area_id, registered, merged in bureau_rows
        ],
    )
    bureau_ids = np.array([row[0] for row in bureau_rows], np.int64)
    return ElectionIndex(
        id=election_id,
        code=code,
        name=name,
        registry=registry,
        area_ids=np.array([row[0] for row in area_rows], np.int64),
        bureau_ids=bureau_ids,
        bureau_position={int(bureau_id): position for position, bureau_id in enumerate(bureau_ids)},
        bureaux_total=registry.bureaux_total(),
    )


def round_info(connection: Connection, election_code: str, number: int, *, lock: bool = False) -> RoundInfo:
    """A round and its candidates. With `lock`, the round's row is locked until the transaction ends."""
    query = (
        select(RoundRow)
        .join(ElectionRow, ElectionRow.id == RoundRow.election_id)
        .where(ElectionRow.code == election_code, RoundRow.number == number)
    )
    row = connection.execute(query.with_for_update(of=RoundRow) if lock else query).one_or_none()
    if row is None:
        raise NotFound(f"election {election_code!r} has no round {number}")
    candidates = connection.execute(
        select(CandidateRow.id, CandidateRow.code, CandidateRow.name, CandidateRow.ballot_order)
        .where(CandidateRow.round_id == row.id)
        .order_by(CandidateRow.ballot_order)
    ).all()
    return RoundInfo(
        id=row.id,
        election_id=row.election_id,
        number=row.number,
        candidates=tuple(Candidate(c.code, c.name, c.ballot_order) for c in candidates),
        candidate_ids=tuple(c.id for c in candidates),
        previous_round_id=row.previous_round_id,
        sequence=row.sequence,
        as_of=row.as_of,
        status=row.status,
        test=row.test,
    )


# --- recording returns -----------------------------------------------------------------------------


STAGES = ("checked", "stored", "summed", "published")

# The version of a bureau's return that the figures use: its latest. (Issue 5 adds held versions.)
CURRENT_VERSION = (
    "{t}.version = (SELECT max(w.version) FROM return_versions w "
    "WHERE w.round_id = {t}.round_id AND w.bureau_id = {t}.bureau_id)"
)


@dataclass(frozen=True)
class StoredReturns:
    """The current returns of some bureaux of a round, aligned with the rows of a batch."""

    exists: BoolArray
    version: IntArray
    counts: IntArray
    votes: IntArray
    registered: IntArray


def record_returns(
    engine: Engine,
    election_code: str,
    round_number: int,
    batch: ReturnBatch,
    *,
    author: str,
    reason: str | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    progress: Callable[[str], None] = lambda stage: None,
) -> RecordReport:
    """Record a batch of returns: new ones, corrections (with a reason) and identical re-sends (no-ops).

    `progress` hears each of STAGES as it is done.
    """
    recorded_at = now()
    with engine.begin() as connection:
        round_ = round_info(connection, election_code, round_number, lock=True)
        index = election_index(connection, round_.election_id)
        if batch.candidate_ids != round_.candidate_codes:
            raise Refused([error("wrong_candidates", "The returns do not list this round's candidates.")])
        rows, issues = locate_bureaux(batch.bureaux, batch.lines, index.registry, batch.columns.get("bureau"))
        if issues:
            raise Refused(_with_count_errors(issues, batch, rows, index.registry, thresholds))
        raw = Raw(connection)
        bureau_ids = index.bureau_ids[rows]
        stored = _stored_returns(raw, round_, bureau_ids)
        previous = _voters_in_round(raw, round_.previous_round_id, bureau_ids)
        errors, warnings = check_counts(
            batch,
            rows,
            index.registry,
            previous_voters=previous,
            checkpoint_max=_checkpoint_max(raw, round_.id, bureau_ids),
            thresholds=thresholds,
        )
        registered = np.where(batch.registered != UNKNOWN, batch.registered, index.registry.registered[rows])
        changed = ~stored.exists | _differs(batch, registered, stored)
        corrected = stored.exists & changed
        reasons = [(batch.reasons[i] if batch.reasons else None) or reason for i in range(len(batch))]
        errors += _missing_reasons(batch, corrected, reasons)
        if errors:
            raise Refused(errors)
        progress(STAGES[0])
        report = RecordReport(
            created=int((~stored.exists).sum()),
            corrected=int(corrected.sum()),
            unchanged=int((~changed).sum()),
            flagged=warnings.count,
            warnings=warnings.issues,
        )
        if not changed.any():
            return report
        report.sequence = round_.sequence + 1
        positions = np.flatnonzero(changed)
        codes = warnings.codes_by_row(len(batch))
        new_versions = NewVersions(
            round_,
            batch,
            positions,
            bureau_ids[positions],
            stored.version[positions] + 1,
            registered[positions],
            [reasons[i] if stored.exists[i] else None for i in positions.tolist()],
            [codes[i] for i in positions.tolist()],
        )
        _append_versions(raw, new_versions, author=author, recorded_at=recorded_at, sequence=report.sequence)
        progress(STAGES[1])
        delta = _contribution_delta(batch, positions, registered, previous, stored)
        _add_to_areas(raw, round_, index, rows[positions], delta)
        progress(STAGES[2])
        as_of = max(batch.reported_at[i] or recorded_at for i in positions.tolist())
        _publish(raw, round_, index, report.sequence, as_of, returns_changed=len(positions))
        _propagate_to_next_rounds(
            raw,
            connection,
            round_,
            index,
            rows=rows[positions],
            voters=batch.voters[positions],
            replaced_voters=np.where(stored.exists, stored.counts[:, 0], UNKNOWN)[positions],
        )
    progress(STAGES[3])
    return report


def _with_count_errors(
    issues: list[Issue], batch: ReturnBatch, rows: IntArray, registry: Registry, thresholds: Thresholds
) -> list[Issue]:
    """All the errors of a file at once: those of its bureau codes, then those of the counts of the rows
    whose bureau is known, in the order of the file."""
    known = np.flatnonzero(rows != NOT_FOUND)
    count_errors, _ = check_counts(batch.select(known), rows[known], registry, thresholds=thresholds)
    return sorted([*issues, *count_errors], key=lambda issue: (issue.line or 0, issue.column or 0))


def _differs(batch: ReturnBatch, registered: IntArray, stored: StoredReturns) -> BoolArray:
    return (
        (batch.counts != stored.counts).any(axis=1)
        | (batch.votes != stored.votes).any(axis=1)
        | (registered != stored.registered)
    )


def _missing_reasons(batch: ReturnBatch, corrected: BoolArray, reasons: list[str | None]) -> list[Issue]:
    return [
        error(
            "reason_required",
            f"{where(batch.lines[i], batch.bureaux[i])}this bureau has already reported other counts; "
            "a correction needs a reason.",
            field="reason",
            line=batch.lines[i],
            bureau=batch.bureaux[i],
        )
        for i in np.flatnonzero(corrected).tolist()
        if not (reasons[i] or "").strip()
    ]


def _stored_returns(raw: Raw, round_: RoundInfo, bureau_ids: IntArray) -> StoredReturns:
    count = len(bureau_ids)
    stored = StoredReturns(
        exists=np.zeros(count, bool),
        version=np.zeros(count, np.int64),
        counts=np.zeros((count, 4), np.int64),
        votes=np.zeros((count, len(round_.candidate_ids)), np.int64),
        registered=np.full(count, UNKNOWN, np.int64),
    )
    filter_sql, params = _bureau_filter(bureau_ids, "v.bureau_id")
    found = raw.rows(
        'SELECT v.bureau_id, v.version, v.voters, v.blank, v."null", v.valid, coalesce(v.registered, -1) '
        f"FROM return_versions v WHERE v.round_id = ? {filter_sql} AND {CURRENT_VERSION.format(t='v')}",
        (round_.id, *params),
    )
    if not found:
        return stored
    table = np.array(found, np.int64)
    slots, present = _slots(bureau_ids, table[:, 0])
    stored.exists[slots] = True
    stored.version[slots] = table[present, 1]
    stored.counts[slots] = table[present, 2:6]
    stored.registered[slots] = table[present, 6]
    votes = np.array(
        raw.rows(
            "SELECT v.bureau_id, v.candidate_id, v.votes FROM return_votes v "
            f"WHERE v.round_id = ? {filter_sql} AND {CURRENT_VERSION.format(t='v')}",
            (round_.id, *params),
        ),
        np.int64,
    ).reshape(-1, 3)
    slots, present = _slots(bureau_ids, votes[:, 0])
    columns = np.searchsorted(np.array(round_.candidate_ids), votes[present, 1])
    stored.votes[slots, columns] = votes[present, 2]
    return stored


def _slots(wanted: IntArray, found: IntArray) -> tuple[IntArray, BoolArray]:
    """For each found bureau id that is wanted, its position in `wanted` (ids in a batch are unique)."""
    if not len(wanted) or not len(found):
        return np.zeros(0, np.int64), np.zeros(len(found), bool)
    order = np.argsort(wanted)
    positions = np.searchsorted(wanted, found, sorter=order)
    positions = np.minimum(positions, len(wanted) - 1)
    present = wanted[order[positions]] == found
    return order[positions[present]], present


def _bureau_filter(bureau_ids: IntArray, column: str) -> tuple[str, list[int]]:
    """An IN clause for a few bureaux; for many, the whole round is read and filtered in memory."""
    if len(bureau_ids) > SMALL_BATCH:
        return "", []
    return f"AND {column} IN ({', '.join('?' * len(bureau_ids))})", [int(b) for b in bureau_ids]


def _voters_in_round(raw: Raw, round_id: int | None, bureau_ids: IntArray) -> IntArray:
    """Current votants of the bureaux in another round (UNKNOWN where they did not report)."""
    voters = np.full(len(bureau_ids), UNKNOWN, np.int64)
    if round_id is None or not len(bureau_ids):
        return voters
    filter_sql, params = _bureau_filter(bureau_ids, "v.bureau_id")
    found = np.array(
        raw.rows(
            f"SELECT v.bureau_id, v.voters FROM return_versions v WHERE v.round_id = ? {filter_sql} "
            f"AND {CURRENT_VERSION.format(t='v')}",
            (round_id, *params),
        ),
        np.int64,
    ).reshape(-1, 2)
    slots, present = _slots(bureau_ids, found[:, 0])
    voters[slots] = found[present, 1]
    return voters


def _checkpoint_max(raw: Raw, round_id: int, bureau_ids: IntArray) -> IntArray:
    highest = np.full(len(bureau_ids), UNKNOWN, np.int64)
    filter_sql, params = _bureau_filter(bureau_ids, "bureau_id")
    found = np.array(
        raw.rows(
            f"SELECT bureau_id, max(voters) FROM checkpoints WHERE round_id = ? {filter_sql} "
            "GROUP BY bureau_id",
            (round_id, *params),
        ),
        np.int64,
    ).reshape(-1, 2)
    slots, present = _slots(bureau_ids, found[:, 0])
    highest[slots] = found[present, 1]
    return highest


@dataclass(frozen=True)
class NewVersions:
    """The rows of a batch that change something, with what their new versions store."""

    round_: RoundInfo
    batch: ReturnBatch
    positions: IntArray
    bureau_ids: IntArray
    versions: IntArray
    registered: IntArray
    reasons: list[str | None]
    warnings: list[str]


def _append_versions(
    raw: Raw, new: NewVersions, *, author: str, recorded_at: datetime, sequence: int
) -> None:
    """Append the versions and their votes, built column by column: a ministry file has 70,000 of them."""
    count = len(new.positions)
    recorded = raw.time(recorded_at)
    times = {None: recorded}
    reported = [
        times.setdefault(moment, raw.time(moment) if moment else recorded)
        for moment in (new.batch.reported_at[i] for i in new.positions.tolist())
    ]
    counts = new.batch.counts[new.positions]
    raw.insert_many(
        "return_versions",
        [
            "round_id",
            "bureau_id",
            "version",
            "voters",
            "blank",
            "null",
            "valid",
            "registered",
            "reported_at",
            "recorded_at",
            "author",
            "reason",
            "warnings",
            "sequence",
        ],
        list(
            zip(
                repeat(new.round_.id, count),
                new.bureau_ids.tolist(),
                new.versions.tolist(),
                *counts.T.tolist(),
                _nullable(new.registered),
                reported,
                repeat(recorded),
                repeat(author),
                new.reasons,
                new.warnings,
                repeat(sequence),
            )
        ),
    )
    candidates = len(new.round_.candidate_ids)
    raw.insert_many(
        "return_votes",
        ["round_id", "bureau_id", "version", "candidate_id", "votes"],
        list(
            zip(
                repeat(new.round_.id, count * candidates),
                np.repeat(new.bureau_ids, candidates).tolist(),
                np.repeat(new.versions, candidates).tolist(),
                new.round_.candidate_ids * count,
                new.batch.votes[new.positions].ravel().tolist(),
                strict=False,  # repeat() is endless; the other columns have count * candidates items
            )
        ),
    )


def _nullable(values: IntArray) -> list[int | None]:
    return [None if value == UNKNOWN else value for value in values.tolist()]


def _contribution_delta(
    batch: ReturnBatch, positions: IntArray, registered: IntArray, previous: IntArray, stored: StoredReturns
) -> IntArray:
    """What the changed returns add to their areas: their rows minus those of the versions they replace."""
    new = contributions(
        batch.counts[positions], batch.votes[positions], registered[positions], previous[positions]
    )
    old = contributions(
        stored.counts[positions], stored.votes[positions], stored.registered[positions], previous[positions]
    )
    return new - old * stored.exists[positions][:, None]


def _add_to_areas(raw: Raw, round_: RoundInfo, index: ElectionIndex, rows: IntArray, delta: IntArray) -> None:
    totals = index.registry.sum_up(rows, delta)
    touched = np.flatnonzero(totals.any(axis=1))
    fixed = len(RESULT_FIELDS)
    area_ids = index.area_ids[touched]
    raw.add_many(
        "area_results",
        ["round_id", "area_id"],
        list(RESULT_FIELDS),
        list(zip(repeat(round_.id), area_ids.tolist(), *totals[touched, :fixed].T.tolist())),
    )
    votes = totals[touched, fixed:]
    area_index, candidate_index = np.nonzero(votes)
    raw.add_many(
        "area_votes",
        ["round_id", "area_id", "candidate_id"],
        ["votes"],
        list(
            zip(
                repeat(round_.id),
                area_ids[area_index].tolist(),
                np.array(round_.candidate_ids, np.int64)[candidate_index].tolist(),
                votes[area_index, candidate_index].tolist(),
            )
        ),
    )


def _propagate_to_next_rounds(
    raw: Raw,
    connection: Connection,
    round_: RoundInfo,
    index: ElectionIndex,
    *,
    rows: IntArray,
    voters: IntArray,
    replaced_voters: IntArray,
) -> None:
    """A round's returns are the 'previous' side of the next round's like-for-like sums: keep them in step.

    `replaced_voters` are the votants of the versions these returns replace (UNKNOWN for first reports).
    """
    fields = {name: position for position, name in enumerate(RESULT_FIELDS)}
    first_report = replaced_voters == UNKNOWN
    for (next_id,) in raw.rows("SELECT id FROM rounds WHERE previous_round_id = ?", (round_.id,)):
        next_voters = _voters_in_round(raw, next_id, index.bureau_ids[rows])
        matched = next_voters != UNKNOWN
        delta = np.zeros((len(rows), len(RESULT_FIELDS)), np.int64)
        delta[:, fields["matched_bureaux"]] = matched & first_report
        delta[:, fields["matched_voters"]] = np.where(matched & first_report, next_voters, 0)
        delta[:, fields["matched_previous_voters"]] = np.where(
            matched, voters - np.where(first_report, 0, replaced_voters), 0
        )
        if not delta.any():
            continue
        next_round = _round_by_id(connection, next_id)
        votes = np.zeros((len(rows), len(next_round.candidate_ids)), np.int64)
        _add_to_areas(raw, next_round, index, rows, np.hstack([delta, votes]))
        _publish(raw, next_round, index, next_round.sequence + 1, None)


def _round_by_id(connection: Connection, round_id: int, *, lock: bool = True) -> RoundInfo:
    row = connection.execute(
        select(ElectionRow.code, RoundRow.number)
        .join(RoundRow, RoundRow.election_id == ElectionRow.id)
        .where(RoundRow.id == round_id)
    ).one()
    return round_info(connection, row.code, row.number, lock=lock)


def _publish(
    raw: Raw,
    round_: RoundInfo,
    index: ElectionIndex,
    sequence: int,
    as_of: datetime | None,
    *,
    returns_changed: int = 0,
    checkpoints_changed: int = 0,
) -> None:
    """Move the round to `sequence` and keep the national figures of that sequence for the timeline."""
    as_of = max(filter(None, [round_.as_of, as_of]), default=None)
    raw.execute(
        "UPDATE rounds SET sequence = ?, as_of = ? WHERE id = ?",
        (sequence, raw.time(as_of) if as_of else None, round_.id),
    )
    national = int(index.area_ids[0])
    found = raw.rows(
        'SELECT bureaux_reported, voters, blank, "null", valid FROM area_results'
        " WHERE round_id = ? AND area_id = ?",
        (round_.id, national),
    )
    counts = found[0] if found else (0, 0, 0, 0, 0)
    raw.insert_many(
        "publications",
        [
            "round_id",
            "sequence",
            "as_of",
            "published_at",
            "bureaux_reported",
            "voters",
            "blank",
            "null",
            "valid",
            "returns_changed",
            "checkpoints_changed",
        ],
        [
            (
                round_.id,
                sequence,
                raw.time(as_of) if as_of else None,
                raw.time(now()),
                *counts,
                returns_changed,
                checkpoints_changed,
            )
        ],
    )
    raw.execute(
        "INSERT INTO publication_votes (round_id, sequence, candidate_id, votes) "
        "SELECT round_id, ?, candidate_id, votes FROM area_votes WHERE round_id = ? AND area_id = ?",
        (sequence, round_.id, national),
    )


# --- turnout checkpoints ---------------------------------------------------------------------------


def record_checkpoints(
    engine: Engine,
    election_code: str,
    round_number: int,
    batch: CheckpointBatch,
    *,
    author: str,
    reason: str | None = None,
) -> RecordReport:
    """Record voters-so-far checkpoints; a changed one is a new version (it keeps the one it replaces)."""
    recorded_at = now()
    with engine.begin() as connection:
        round_ = round_info(connection, election_code, round_number, lock=True)
        index = election_index(connection, round_.election_id)
        rows, issues = locate_bureaux(batch.bureaux, batch.lines, index.registry, batch.columns.get("bureau"))
        # A bureau appears once per checkpoint time, so repeated bureaux are judged by _repeated_checkpoints.
        issues = [i for i in issues if i.code != "duplicate_bureau"] + _repeated_checkpoints(batch)
        if issues:
            raise Refused(issues)
        raw = Raw(connection)
        bureau_ids = index.bureau_ids[rows]
        stored = _stored_checkpoints(raw, round_.id, bureau_ids)
        known = {
            index.registry.bureaux[index.bureau_position[bureau_id]].code: {
                t: v for t, (v, _) in times.items()
            }
            for bureau_id, times in stored.items()
        }
        finals = _voters_in_round(raw, round_.id, bureau_ids)
        final_by_code = {batch.bureaux[i]: int(v) for i, v in enumerate(finals.tolist()) if v != UNKNOWN}
        issues = check_checkpoints(batch, known, final_by_code)
        if issues:
            raise Refused(issues)
        report = RecordReport()
        rows_to_write = []
        for i in range(len(batch)):
            previous = stored.get(int(bureau_ids[i]), {}).get(batch.times[i])
            if previous is not None and previous[0] == batch.voters[i]:
                report.unchanged += 1
                continue
            version = 1 if previous is None else previous[1] + 1
            report.created += previous is None
            report.corrected += previous is not None
            rows_to_write.append((i, version))
        if not rows_to_write:
            return report
        sequence = report.sequence = round_.sequence + 1
        recorded = raw.time(recorded_at)
        raw.insert_many(
            "checkpoints",
            [
                "round_id",
                "bureau_id",
                "time",
                "version",
                "voters",
                "reported_at",
                "recorded_at",
                "author",
                "reason",
                "sequence",
            ],
            [
                (
                    round_.id,
                    int(bureau_ids[i]),
                    batch.times[i],
                    version,
                    int(batch.voters[i]),
                    raw.time(batch.reported_at[i]) if batch.reported_at[i] else recorded,
                    recorded,
                    author,
                    reason if version > 1 else None,
                    sequence,
                )
                for i, version in rows_to_write
            ],
        )
        _publish(raw, round_, index, sequence, None, checkpoints_changed=len(rows_to_write))
    return report


def _repeated_checkpoints(batch: CheckpointBatch) -> list[Issue]:
    """A bureau may appear once per checkpoint time in a file, not twice for the same time."""
    seen: dict[tuple[str, str], int | None] = {}
    issues = []
    for code, time, line in zip(batch.bureaux, batch.times, batch.lines, strict=True):
        if (code, time) in seen:
            issues.append(
                error(
                    "duplicate_bureau",
                    f"{where(line, code)}the {time} checkpoint already appears on line {seen[(code, time)]}.",
                    field="bureau",
                    line=line,
                    bureau=code,
                )
            )
        seen[(code, time)] = line
    return issues


def _stored_checkpoints(
    raw: Raw, round_id: int, bureau_ids: IntArray
) -> dict[int, dict[str, tuple[int, int]]]:
    """{bureau id: {time: (voters, version)}} for the latest version of each checkpoint."""
    filter_sql, params = _bureau_filter(bureau_ids, "c.bureau_id")
    found: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for bureau_id, time, voters, version in raw.rows(
        "SELECT c.bureau_id, c.time, c.voters, c.version FROM checkpoints c WHERE c.round_id = ? "
        f"{filter_sql} AND c.version = (SELECT max(version) FROM checkpoints l WHERE l.round_id = c.round_id "
        "AND l.bureau_id = c.bureau_id AND l.time = c.time)",
        (round_id, *params),
    ):
        found[bureau_id][time] = (voters, version)
    return found


# --- reading results -------------------------------------------------------------------------------


def area_tallies(
    connection: Connection, round_: RoundInfo, index: ElectionIndex, positions: Sequence[int]
) -> dict[int, Tally]:
    """The stored running sums of some areas (by registry position); an area without returns has zeros."""
    raw = Raw(connection)
    area_ids = [int(index.area_ids[p]) for p in positions]
    by_id = {area_id: position for position, area_id in zip(positions, area_ids, strict=True)}
    width = len(RESULT_FIELDS) + len(round_.candidate_ids)
    table = {position: np.zeros(width, np.int64) for position in positions}
    filter_sql = f"AND area_id IN ({', '.join('?' * len(area_ids))})" if len(area_ids) <= SMALL_BATCH else ""
    params = area_ids if filter_sql else []
    columns = ", ".join(f'"{name}"' for name in RESULT_FIELDS)
    for area_id, *values in raw.rows(
        f"SELECT area_id, {columns} FROM area_results WHERE round_id = ? {filter_sql}", (round_.id, *params)
    ):
        if area_id in by_id:
            table[by_id[area_id]][: len(RESULT_FIELDS)] = values
    column = {cid: len(RESULT_FIELDS) + c for c, cid in enumerate(round_.candidate_ids)}
    for area_id, candidate_id, votes in raw.rows(
        f"SELECT area_id, candidate_id, votes FROM area_votes WHERE round_id = ? {filter_sql}",
        (round_.id, *params),
    ):
        if area_id in by_id:
            table[by_id[area_id]][column[candidate_id]] = votes
    return {position: tally_from_row(row, round_.candidate_codes) for position, row in table.items()}


def results_document(
    engine: Engine, election_code: str, round_number: int, level: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """The results of one area (national by default) with its parents and a row per child area."""
    with engine.connect() as connection:
        round_ = round_info(connection, election_code, round_number)
        index = election_index(connection, round_.election_id)
        registry = index.registry
        position = _area_position(registry, election_code, level, code)
        children = _children(registry, position)
        tallies = area_tallies(connection, round_, index, [position, *children])
        previous = _previous_tally(connection, round_, index, position)
        publication = _publication(connection, round_)
    area = registry.areas[position]
    return {
        **_context(election_code, round_, index, publication),
        "area": {"level": area.level, "code": area.code, "name": area.name},
        "parents": [
            {"level": a.level, "code": a.code, "name": a.name}
            for a in registry.chain(area.level, area.code)[:-1]
        ],
        "results": summarize(
            tallies[position],
            round_.candidates,
            bureaux_total=int(index.bureaux_total[position]),
            previous=previous,
        ),
        "children": [
            _child_row(registry.areas[c], tallies[c], round_, int(index.bureaux_total[c])) for c in children
        ],
    }


def _area_position(registry: Registry, election_code: str, level: str | None, code: str | None) -> int:
    """The registry position of an area; the top area when none is named."""
    level, code = level or registry.levels[0], code or registry.areas[0].code
    if (level, code) not in registry.area_index:
        raise NotFound(f"no {level} {code!r} in election {election_code}")
    return registry.area_index[(level, code)]


def _children(registry: Registry, position: int) -> list[int]:
    area = registry.areas[position]
    depth = registry.levels.index(area.level)
    if depth + 1 == len(registry.levels):
        return []
    below = registry.levels[depth + 1]
    return [p for p, a in enumerate(registry.areas) if a.level == below and a.parent_code == area.code]


def _child_row(area: Area, tally: Tally, round_: RoundInfo, bureaux_total: int) -> dict[str, Any]:
    summary = summarize(tally, round_.candidates, bureaux_total=bureaux_total)
    return {
        "level": area.level,
        "code": area.code,
        "name": area.name,
        "bureaux_reported": tally.bureaux_reported,
        "bureaux_total": bureaux_total,
        "voters": tally.voters,
        "candidates": [
            {"id": c["id"], "votes": c["votes"], "pct_valid": c["pct_valid"]} for c in summary["candidates"]
        ],  # type: ignore[attr-defined]
        "leader": summary["leader"],
    }


def _previous_tally(
    connection: Connection, round_: RoundInfo, index: ElectionIndex, position: int
) -> Tally | None:
    if round_.previous_round_id is None:
        return None
    previous = _round_by_id(connection, round_.previous_round_id, lock=False)
    return area_tallies(connection, previous, index, [position])[position]


@dataclass(frozen=True)
class Publication:
    sequence: int
    as_of: datetime | None
    published_at: datetime | None
    bureaux_reported: int


def _publication(connection: Connection, round_: RoundInfo) -> Publication:
    found = Raw(connection).rows(
        "SELECT as_of, published_at, bureaux_reported FROM publications WHERE round_id = ? AND sequence = ?",
        (round_.id, round_.sequence),
    )
    if not found:
        return Publication(round_.sequence, None, None, 0)
    as_of, published_at, reported = found[0]
    return Publication(round_.sequence, Raw.read_time(as_of), Raw.read_time(published_at), reported)


def _context(
    election_code: str, round_: RoundInfo, index: ElectionIndex, publication: Publication
) -> dict[str, Any]:
    """What every published figure carries: which data, as of when, covering how much (DESIGN principle 3)."""
    bureaux_total = int(index.bureaux_total[0])
    status = "partial" if publication.bureaux_reported < bureaux_total else "complete"
    return {
        "election": election_code,
        "round": round_.number,
        "sequence": publication.sequence,
        "as_of": _iso(publication.as_of),
        "published_at": _iso(publication.published_at),
        "bureaux_reported": publication.bureaux_reported,
        "bureaux_total": bureaux_total,
        "status": "certified" if round_.status == "certified" else status,
        "test": round_.test,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def turnout_document(
    engine: Engine, election_code: str, round_number: int, level: str | None = None, code: str | None = None
) -> dict[str, Any]:
    """The day's checkpoints of an area, each like for like against the previous round at the same hour."""
    with engine.connect() as connection:
        round_ = round_info(connection, election_code, round_number)
        index = election_index(connection, round_.election_id)
        registry = index.registry
        position = _area_position(registry, election_code, level, code)
        raw = Raw(connection)
        current = _checkpoint_voters(raw, round_.id)
        previous = _checkpoint_voters(raw, round_.previous_round_id) if round_.previous_round_id else {}
        publication = _publication(connection, round_)
    checkpoints = []
    for time in sorted(current):
        voters_by_bureau = current[time]
        bureau_ids = np.array(list(voters_by_bureau), np.int64)
        rows = np.array([index.bureau_position[b] for b in bureau_ids.tolist()], np.int64)
        before = previous.get(time, {})
        earlier = np.array([before.get(b, UNKNOWN) for b in bureau_ids.tolist()], np.int64)
        totals = aggregate_checkpoints(
            registry, rows, np.array(list(voters_by_bureau.values()), np.int64), earlier
        )
        row = dict(zip(TURNOUT_FIELDS, (int(v) for v in totals[position]), strict=True))
        checkpoints.append(
            {
                "time": time,
                "bureaux_reported": row["bureaux_reported"],
                "voters": row["voters"],
                "like_for_like": {
                    "matched_bureaux": row["matched_bureaux"],
                    "voters": row["matched_voters"],
                    "previous_voters": row["matched_previous_voters"],
                    "change_pct": change(row["matched_voters"], row["matched_previous_voters"]),
                }
                if round_.previous_round_id
                else None,
            }
        )
    area = registry.areas[position]
    return {
        **_context(election_code, round_, index, publication),
        "area": {"level": area.level, "code": area.code, "name": area.name},
        "bureaux_total_area": int(index.bureaux_total[position]),
        "checkpoints": checkpoints,
    }


def _checkpoint_voters(raw: Raw, round_id: int | None) -> dict[str, dict[int, int]]:
    """{time: {bureau id: voters}} from the latest version of each checkpoint."""
    found: dict[str, dict[int, int]] = defaultdict(dict)
    for bureau_id, time, voters in raw.rows(
        "SELECT c.bureau_id, c.time, c.voters FROM checkpoints c WHERE c.round_id = ? AND c.version = "
        "(SELECT max(version) FROM checkpoints l WHERE l.round_id = c.round_id AND l.bureau_id = c.bureau_id "
        "AND l.time = c.time) ORDER BY c.bureau_id",
        (round_id,),
    ):
        found[time][bureau_id] = voters
    return found


def timeline(engine: Engine, election_code: str, round_number: int) -> list[dict[str, Any]]:
    """One row per published sequence: the evening's curve."""
    with engine.connect() as connection:
        round_ = round_info(connection, election_code, round_number)
        raw = Raw(connection)
        votes: dict[int, dict[int, int]] = defaultdict(dict)
        for sequence, candidate_id, count in raw.rows(
            "SELECT sequence, candidate_id, votes FROM publication_votes WHERE round_id = ?", (round_.id,)
        ):
            votes[sequence][candidate_id] = count
        rows = raw.rows(
            'SELECT sequence, as_of, published_at, bureaux_reported, voters, blank, "null", valid '
            "FROM publications WHERE round_id = ? ORDER BY sequence",
            (round_.id,),
        )
    return [
        {
            "sequence": sequence,
            "as_of": _iso(Raw.read_time(as_of)),
            "published_at": _iso(Raw.read_time(published_at)),
            "bureaux_reported": reported,
            "voters": voters,
            "blank": blank,
            "null": null,
            "valid": valid,
            "votes": {
                c.id: votes[sequence].get(cid, 0)
                for c, cid in zip(round_.candidates, round_.candidate_ids, strict=True)
            },
        }
        for sequence, as_of, published_at, reported, voters, blank, null, valid in rows
    ]


# --- verify ----------------------------------------------------------------------------------------


def verify(engine: Engine) -> list[str]:
    """Recompute every area's sums from the current returns and compare with the stored ones."""
    differences: list[str] = []
    with engine.connect() as connection:
        rounds = connection.execute(
            select(ElectionRow.code, RoundRow.number)
            .join(RoundRow, RoundRow.election_id == ElectionRow.id)
            .order_by(ElectionRow.code, RoundRow.number)
        ).all()
        for election_code, number in rounds:
            differences += _verify_round(
                connection, round_info(connection, election_code, number), election_code
            )
    return differences


def _verify_round(connection: Connection, round_: RoundInfo, election_code: str) -> list[str]:
    index = election_index(connection, round_.election_id)
    raw = Raw(connection)
    bureau_ids = index.bureau_ids
    stored = _stored_returns(raw, round_, bureau_ids)
    previous = _voters_in_round(raw, round_.previous_round_id, bureau_ids)
    rows = np.flatnonzero(stored.exists)
    recomputed = index.registry.sum_up(
        rows,
        contributions(stored.counts[rows], stored.votes[rows], stored.registered[rows], previous[rows]),
    )
    tallies = area_tallies(connection, round_, index, list(range(len(index.registry.areas))))
    differences = []
    for position, area in enumerate(index.registry.areas):
        expected = tally_from_row(recomputed[position], round_.candidate_codes)
        if tallies[position] != expected:
            differences.append(
                f"{election_code} round {round_.number}, {area.level} {area.code}: "
                f"stored {tallies[position]}, recomputed from the returns {expected}"
            )
    sequences = [
        row[0]
        for row in raw.rows(
            "SELECT sequence FROM publications WHERE round_id = ? ORDER BY sequence", (round_.id,)
        )
    ]
    if sequences != list(range(1, round_.sequence + 1)):
        differences.append(
            f"{election_code} round {round_.number}: publications {sequences[:3]}... "
            f"do not run 1..{round_.sequence}"
        )
    return differences


def ensure_ministry_election(
    engine: Engine, election_code: str, round_number: int, ministry: MinistryFile, *, name: str
) -> bool:
    """Create the election, round and registry a ministry file describes, if they do not exist yet."""
    with engine.connect() as connection:
        exists = connection.scalar(select(ElectionRow.id).where(ElectionRow.code == election_code))
    # A ministry file carries no date: the round is dated by the day it is created.
    round_ = Round(round_number, now().date(), ministry.candidates)
    election = Election(election_code, name, "", LEVELS, (round_,))
    if exists is None:
        create_election(engine, election, *ministry.registry())
        return True
    with engine.begin() as connection:
        known = connection.scalar(
            select(RoundRow.id).where(RoundRow.election_id == exists, RoundRow.number == round_number)
        )
        if known is None:
            add_rounds(connection, exists, election)
            return True
    return False
