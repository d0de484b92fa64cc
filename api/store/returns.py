"""Recording returns and checkpoints: one transaction per write, a new sequence per change."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import repeat
from time import monotonic

import numpy as np
from sqlalchemy import Connection, Engine

from api.store import entries as waiting
from api.store.common import (
    CURRENT_VERSION,
    EVERY_SEQUENCE,
    ElectionIndex,
    RecordReport,
    Refused,
    RoundInfo,
    StaleVersion,
    StoredReturns,
    area_knowledge,
    bureau_filter,
    election_index,
    now,
    per_bureau,
    refuse_if_certified,
    round_by_id,
    round_info,
    stored_from,
    stored_queries,
    stored_returns,
    voters_in_round,
    voters_query,
)
from api.store.db import write_together, writing
from api.store.sql import Raw
from tabulator.aggregation import RESULT_FIELDS, contributions
from tabulator.anomalies import (
    AreaKnowledge,
    Judged,
    PreviousRound,
    check_returns,
    count_rows,
    judge_in_area,
    learn_area,
    signature,
)
from tabulator.batch import UNKNOWN, BoolArray, CheckpointBatch, IntArray, ReturnBatch
from tabulator.registry import Registry
from tabulator.rules import (
    DEFAULT_THRESHOLDS,
    NO_LIMIT,
    NOT_FOUND,
    Scope,
    Thresholds,
    check_candidate_names,
    check_checkpoints,
    check_counts,
    check_scope,
    check_times,
    error,
    locate_bureaux,
    where,
    with_overrides,
)
from tabulator.types import Issue, Return

STAGES = ("checked", "stored", "summed", "published")


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
    expected_version: int | None = None,
    may_correct: bool = True,
    reviewed: bool = True,
    person: str | None = None,
    scope: Scope = NO_LIMIT,
) -> RecordReport:
    """Record a batch of returns: new ones, corrections (with a reason) and identical re-sends (no-ops).

    `progress` hears each of STAGES as it is done. `expected_version` (one return only: the version the
    sender last saw, 0 for none) refuses the write if another landed since. `may_correct` False refuses
    corrections. Both are decided inside the transaction, so two writers can never both win. `reviewed`
    False (a clerk's write) applies the round's review and double entry: such returns may wait in
    `entries` instead of being published. `person`: who holds the author's token (see `Writer`).
    """
    with writing(engine) as connection:
        round_ = round_info(connection, election_code, round_number, lock=True)
        report = record_in(
            connection,
            round_,
            batch,
            Writer(author, reason, may_correct=may_correct, reviewed=reviewed, person=person, scope=scope),
            thresholds=thresholds,
            progress=progress,
            expected_version=expected_version,
        )
    progress(STAGES[3])
    return report


Then = Callable[[Raw, RecordReport], None]


def _write_nothing(raw: Raw, report: RecordReport) -> None:
    """A write with nothing to add to its transaction (the command line's, a review's)."""


def record_return(
    engine: Engine,
    election_code: str,
    round_number: int,
    ret: Return,
    writer: Writer,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    expected_version: int | None = None,
    then: Then = _write_nothing,
) -> RecordReport:
    """One bureau's return as a clerk types it, its candidates by name: checked against the round's
    candidates in the same transaction that records it. Concurrent returns share a transaction (each its
    own sequence, each failing alone): see `api.store.db.write_together`. `then` runs in that transaction
    once the return is recorded (the service keeps its audit row there)."""

    def record(connection: Connection) -> RecordReport:
        round_ = round_info(connection, election_code, round_number, lock=True)
        issues = check_candidate_names(list(ret.votes), round_.candidate_codes, line=None)
        if issues:
            raise Refused(issues)
        return record_in(
            connection,
            round_,
            ReturnBatch.of([ret], round_.candidate_codes),
            writer,
            thresholds=thresholds,
            expected_version=expected_version,
            then=then,
        )

    return write_together(engine, record)


@dataclass(frozen=True)
class Writer:
    """Who writes, and what that allows."""

    author: str
    reason: str | None = None
    may_correct: bool = True
    reviewed: bool = True  # a supervisor's or the command line's write: never held for review
    scope: Scope = NO_LIMIT  # the bureaux the writer's token may write for
    # The named person who holds the token: double entry needs two people, not two tokens. None: the
    # author's name stands for its person.
    person: str | None = None

    @property
    def who(self) -> str:
        return self.person or self.author


def record_in(
    connection: Connection,
    round_: RoundInfo,
    batch: ReturnBatch,
    writer: Writer,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    progress: Callable[[str], None] = lambda stage: None,
    expected_version: int | None = None,
    then: Then = _write_nothing,
) -> RecordReport:
    """`record_returns` inside a transaction that holds the round's lock. `then` writes with the return
    (the service's audit row), in the same round trip when it can."""
    recorded_at = now()
    refuse_if_certified(round_)
    thresholds = with_overrides(thresholds, round_.warning_thresholds)
    index = election_index(connection, round_.election_id, round_.registry_version)
    rows = _registry_rows(round_, index, batch, thresholds, scope=writer.scope, moment=recorded_at)
    raw = Raw(connection)
    bureau_ids = index.bureau_ids[rows]
    stored, previous, checkpoint_max, next_round_ids = _what_is_stored(raw, round_, bureau_ids)
    errors, warnings = check_counts(
        batch,
        rows,
        index.registry,
        previous_voters=previous,
        checkpoint_max=checkpoint_max,
        thresholds=thresholds,
        judged=_judge_against_peers(
            raw,
            round_,
            index,
            batch,
            rows,
            thresholds=thresholds,
            before=_previous_round_info(connection, round_),
            database=str(connection.engine.url),
        ),
    )
    registered = np.where(batch.registered != UNKNOWN, batch.registered, index.registry.registered[rows])
    changed = ~stored.exists | _differs(batch, registered, stored)
    corrected = stored.exists & changed
    reasons = [(batch.reasons[i] if batch.reasons else None) or writer.reason for i in range(len(batch))]
    if errors:  # counts that break a rule come first: whether they may correct anything is moot
        raise Refused(errors)
    _refuse_if_stale(batch, stored, expected_version)
    errors = _missing_reasons(batch, corrected, reasons)
    errors += [] if writer.may_correct else _corrections_refused(batch, corrected)
    if errors:
        raise Refused(errors)
    progress(STAGES[0])
    codes, notes = warnings.codes_by_row(len(batch)), warnings.notes_by_row(len(batch))
    report = RecordReport(
        flagged=warnings.count,
        warnings=warnings.issues,
        unchanged=int((~changed).sum()),
        by_code=warnings.by_code(batch.bureaux),
    )
    authors = [writer.author] * len(batch)
    if not writer.reviewed and changed.any() and (round_.double_entry or round_.flagged_returns == "hold"):
        entries = waiting.as_entries(batch, bureau_ids, registered, codes, notes)
        routing = waiting.divert(
            raw,
            round_,
            batch,
            entries,
            changed=changed,
            stored=stored,
            author=writer.author,
            person=writer.who,
            recorded_at=recorded_at,
        )
        report.held, report.waiting = routing.held, routing.waiting
        report.warnings += routing.notices
        report.unchanged += routing.repeated
        changed, corrected, authors = routing.publish, corrected & routing.publish, routing.authors
    report.created, report.corrected = int((changed & ~stored.exists).sum()), int(corrected.sum())
    if len(batch) == 1:
        report.version = int(stored.version[0]) + int(changed[0])
    if not changed.any():
        then(raw, report)
        return report
    report.sequence = round_.sequence + 1
    positions = np.flatnonzero(changed)
    new_versions = NewVersions(
        round_,
        batch,
        positions,
        bureau_ids[positions],
        stored.version[positions] + 1,
        registered[positions],
        [reasons[i] if stored.exists[i] else None for i in positions.tolist()],
        [codes[i] for i in positions.tolist()],
        [notes[i] for i in positions.tolist()],
        [authors[i] for i in positions.tolist()],
    )
    delta = _contribution_delta(batch, positions, registered, previous, stored)
    # Nothing below reads what it writes: on PostgreSQL it all goes in one round trip, which is how long
    # the round's lock is held for it.
    with raw.pipeline(len(positions)):
        _append_versions(raw, new_versions, recorded_at=recorded_at, sequence=report.sequence)
        progress(STAGES[1])
        _add_to_areas(raw, round_, index, rows[positions], delta)
        progress(STAGES[2])
        as_of = max(batch.reported_at[i] or recorded_at for i in positions.tolist())
        publish(raw, round_, index, report.sequence, as_of, returns_changed=len(positions))
        then(raw, report)
    _propagate_to_next_rounds(
        raw,
        connection,
        round_,
        index,
        next_round_ids,
        rows=rows[positions],
        voters=batch.voters[positions],
        replaced_voters=np.where(stored.exists, stored.counts[:, 0], UNKNOWN)[positions],
    )
    return report


PEER_LEVEL = "departement"  # a return is compared with the bureaux of its département (else its election's)


def _judge_against_peers(
    raw: Raw,
    round_: RoundInfo,
    index: ElectionIndex,
    batch: ReturnBatch,
    rows: IntArray,
    *,
    thresholds: Thresholds,
    before: RoundInfo | None,
    database: str,
) -> Judged:
    """The batch's rows (all located) against the current returns of the other bureaux of the départements
    it touches (a file: one round trip), or a clerk's single return against what its département knows."""
    registry = index.registry
    column = registry.levels.index(PEER_LEVEL) if PEER_LEVEL in registry.levels else 0
    areas = registry.ancestors[rows, column]
    if len(rows) == 1:  # a clerk's return: what its département knows, kept a few seconds
        key = (database, round_.id, int(areas[0]))
        return _judge_with_knowledge(
            raw, round_, index, batch, rows, key=key, thresholds=thresholds, before=before
        )
    in_areas = np.isin(registry.ancestors[:, column], areas) & registry.counted
    in_areas[rows] = False  # a bureau is not its own peer (a correction replaces its return)
    peer_rows = np.flatnonzero(in_areas)
    peer_ids = index.bureau_ids[peer_rows]
    found = raw.rows_together(_peer_queries(round_, peer_ids)) if len(peer_ids) else ([], [])
    stored = stored_from(round_, peer_ids, *found)
    registered = np.where(batch.registered != UNKNOWN, batch.registered, registry.registered[rows])
    past = _previous_round(raw, before, index.bureau_ids[rows], peer_ids[stored.exists])
    return check_returns(
        count_rows(registered, batch.counts, batch.votes),
        batch.bureaux,
        areas,
        peers=count_rows(stored.registered, stored.counts, stored.votes)[stored.exists],
        peer_bureaux=[registry.bureaux[row].code for row in peer_rows[stored.exists].tolist()],
        peer_areas=registry.ancestors[peer_rows[stored.exists], column],
        candidates=round_.candidate_codes,
        thresholds=thresholds.anomalies,
        previous=past,
    )


# An area's knowledge (spreads, log ratio, learned past) as a worker last read it, by (database, round, area),
# kept KNOWLEDGE_SECONDS once it was learned from KNOWLEDGE_FROM_PEERS returns or more (fewer are read
# again every time: they are cheap, and the first returns of a département must meet the next ones).
KNOWLEDGE_SECONDS = 5.0
KNOWLEDGE_FROM_PEERS = 100


def _judge_with_knowledge(
    raw: Raw,
    round_: RoundInfo,
    index: ElectionIndex,
    batch: ReturnBatch,
    rows: IntArray,
    *,
    key: tuple[str, int, int],
    thresholds: Thresholds,
    before: RoundInfo | None,
) -> Judged:
    """A clerk's return against what its département's stored returns teach,
    read again only when older than KNOWLEDGE_SECONDS, and against the returns that share their counts
    (a sheet typed twice), looked for exactly."""
    registry = index.registry
    column = registry.levels.index(PEER_LEVEL) if PEER_LEVEL in registry.levels else 0
    area = key[2]
    moment = monotonic()
    known = area_knowledge.get(key)
    if known is None or moment - known[0] > KNOWLEDGE_SECONDS:
        learned = _learn_area(
            raw, round_, index, area, column, rows=rows, thresholds=thresholds, before=before
        )
        known = (moment, learned)
        if known[1].peers >= KNOWLEDGE_FROM_PEERS:
            area_knowledge[key] = known
    return judge_in_area(
        count_rows(
            np.where(batch.registered != UNKNOWN, batch.registered, registry.registered[rows]),
            batch.counts,
            batch.votes,
        ),
        batch.bureaux,
        known[1],
        seen=_same_counts(raw, round_, index, batch, rows=rows, column=column),
        previous_rows=_own_previous_rows(raw, before, index.bureau_ids[rows]),
        thresholds=thresholds.anomalies,
    )


def _own_previous_rows(raw: Raw, before: RoundInfo | None, bureau_ids: IntArray) -> IntArray | None:
    past = _previous_round(raw, before, bureau_ids, _NONE)
    return None if past is None else past.rows


_NONE = np.zeros(0, np.int64)


def _learn_area(
    raw: Raw,
    round_: RoundInfo,
    index: ElectionIndex,
    area: int,
    column: int,
    *,
    rows: IntArray,
    thresholds: Thresholds,
    before: RoundInfo | None,
) -> AreaKnowledge:
    """The département's knowledge from its other bureaux' current returns (a bureau is not its own peer:
    a correction replaces its return)."""
    registry = index.registry
    in_area = (registry.ancestors[:, column] == area) & registry.counted
    in_area[rows] = False
    peer_ids = index.bureau_ids[np.flatnonzero(in_area)]
    found = raw.rows_together(_peer_queries(round_, peer_ids)) if len(peer_ids) else ([], [])
    stored = stored_from(round_, peer_ids, *found)
    past = _previous_round(raw, before, _NONE, peer_ids[stored.exists])
    return learn_area(
        count_rows(stored.registered, stored.counts, stored.votes)[stored.exists],
        candidates=round_.candidate_codes,
        thresholds=thresholds.anomalies,
        previous=past,
    )


def _same_counts(
    raw: Raw, round_: RoundInfo, index: ElectionIndex, batch: ReturnBatch, *, rows: IntArray, column: int
) -> dict[bytes, str]:
    """The signatures of the département's current returns with the same votants, blancs, nuls and
    exprimés as one of the batch's, by bureau code (the batch's own bureaux left out)."""
    query = _identical_query(round_, index, batch, rows, column)
    found = np.array([row[0] for row in raw.rows(*query)], np.int64) if query else _NONE
    found = found[~np.isin(found, index.bureau_ids[rows])]
    if not len(found):
        return {}
    stored = stored_returns(raw, round_, found)
    codes = [index.registry.bureaux[index.bureau_position[int(b)]].code for b in found.tolist()]
    same = count_rows(stored.registered, stored.counts, stored.votes)
    return {
        signature(row): code for row, code, exists in zip(same, codes, stored.exists, strict=True) if exists
    }


def _identical_query(
    round_: RoundInfo, index: ElectionIndex, batch: ReturnBatch, rows: IntArray, column: int
) -> tuple[str, tuple[object, ...]] | None:
    """The bureaux of the batch's départements whose current return has the same votants, blancs, nuls and
    exprimés as one of the batch's (the votes are compared once read)."""
    registry = index.registry
    in_areas = np.isin(registry.ancestors[:, column], registry.ancestors[rows, column])
    ids = index.bureau_ids[np.flatnonzero(in_areas)]
    if not len(ids):
        return None
    same = " OR ".join(['(v.voters = ? AND v.blank = ? AND v."null" = ? AND v.valid = ?)'] * len(batch))
    counts = [int(count) for count in batch.counts.ravel()]
    where = f"v.round_id = ? AND v.bureau_id BETWEEN ? AND ? AND ({same}) AND {CURRENT_VERSION.format(t='v')}"
    bounds = (round_.id, int(ids.min()), int(ids.max()), *counts, EVERY_SEQUENCE)
    return f"SELECT v.bureau_id FROM return_versions v WHERE {where}", bounds


def _previous_round_info(connection: Connection, round_: RoundInfo) -> RoundInfo | None:
    if round_.previous_round_id is None:
        return None
    return round_by_id(connection, round_.previous_round_id, lock=False)


def _previous_round(
    raw: Raw, before: RoundInfo | None, bureau_ids: IntArray, peer_ids: IntArray
) -> PreviousRound | None:
    """The previous round's count rows of the batch's bureaux then of their peers (voters UNKNOWN where a
    bureau did not report then), with that round's candidates."""
    if before is None:
        return None
    every = np.concatenate([bureau_ids, peer_ids])
    stored = stored_from(
        before, every, *(raw.rows_together(_peer_queries(before, every)) if len(every) else ([], []))
    )
    counts = np.where(stored.exists[:, None], stored.counts, UNKNOWN)
    then = count_rows(stored.registered, counts, stored.votes)
    return PreviousRound(then[: len(bureau_ids)], then[len(bureau_ids) :], before.candidate_codes)


def _peer_queries(round_: RoundInfo, peer_ids: IntArray) -> list[tuple[str, tuple[object, ...]]]:
    """`stored_queries` bounded by the peers' range of ids: a département's bureaux are created together,
    so the range holds few others (`stored_from` keeps only the peers), where listing thousands of ids
    would make `bureau_filter` read the whole round for every clerk's return."""
    bounds = (round_.id, int(peer_ids.min()), int(peer_ids.max()), EVERY_SEQUENCE)
    where = f"v.round_id = ? AND v.bureau_id BETWEEN ? AND ? AND {CURRENT_VERSION.format(t='v')}"
    return [
        (
            'SELECT v.bureau_id, v.version, v.voters, v.blank, v."null", v.valid, coalesce(v.registered, -1) '
            f"FROM return_versions v WHERE {where}",
            bounds,
        ),
        (f"SELECT v.bureau_id, v.candidate_id, v.votes FROM return_votes v WHERE {where}", bounds),
    ]


def _refuse_outside(
    batch: ReturnBatch | CheckpointBatch, rows: IntArray, registry: Registry, scope: Scope
) -> None:
    if scope != NO_LIMIT and (issues := check_scope(batch, rows, registry, scope)):
        raise Refused(issues)


def _times_outside(round_: RoundInfo, batch: ReturnBatch | CheckpointBatch, moment: datetime) -> list[Issue]:
    return check_times(
        batch.reported_at,
        batch.bureaux,
        batch.lines,
        round_.time_window(moment),
        batch.columns.get("reported_at"),
    )


def _registry_rows(
    round_: RoundInfo,
    index: ElectionIndex,
    batch: ReturnBatch,
    thresholds: Thresholds,
    *,
    scope: Scope,
    moment: datetime,
) -> IntArray:
    """The registry row of each return's bureau; refused when the candidates or a bureau are unknown, a
    bureau lies outside the writer's scope, or a time outside the round's window (before any other work:
    a time in year 9999 would freeze the published "as of" for good)."""
    if batch.candidate_ids != round_.candidate_codes:
        raise Refused([error("wrong_candidates", "The returns do not list this round's candidates.")])
    if issues := _times_outside(round_, batch, moment):
        raise Refused(issues)
    rows, issues = locate_bureaux(batch.bureaux, batch.lines, index.registry, batch.columns.get("bureau"))
    if issues:
        raise Refused(_with_count_errors(issues, batch, rows, index.registry, thresholds))
    _refuse_outside(batch, rows, index.registry, scope)
    return rows


def _with_count_errors(
    issues: list[Issue], batch: ReturnBatch, rows: IntArray, registry: Registry, thresholds: Thresholds
) -> list[Issue]:
    """All the errors of a file at once: those of its bureau codes, then those of the counts of the rows
    whose bureau is known, in the order of the file."""
    known = np.flatnonzero(rows != NOT_FOUND)
    count_errors, _ = check_counts(batch.select(known), rows[known], registry, thresholds=thresholds)
    return sorted([*issues, *count_errors], key=lambda issue: (issue.line or 0, issue.column or 0))


def _differs(batch: ReturnBatch, registered: IntArray, stored: StoredReturns) -> BoolArray:
    differs: BoolArray = (  # numpy types `!=` between arrays as Any
        (batch.counts != stored.counts).any(axis=1)
        | (batch.votes != stored.votes).any(axis=1)
        | (registered != stored.registered)
    )
    return differs


def _refuse_if_stale(batch: ReturnBatch, stored: StoredReturns, expected_version: int | None) -> None:
    if expected_version is None or int(stored.version[0]) == expected_version:
        return
    current = int(stored.version[0])
    issue = error(
        "stale_version",
        f"Bureau {batch.bureaux[0]}: you sent your counts against version {expected_version} of its "
        f"return, but version {current} has been recorded since. Check its counts and send again.",
        bureau=batch.bureaux[0],
    )
    raise StaleVersion([issue], current)


def _corrections_refused(batch: ReturnBatch, corrected: BoolArray) -> list[Issue]:
    return [
        error(
            "correction_needs_supervisor",
            f"{where(batch.lines[i], batch.bureaux[i])}this bureau has already reported other counts; only a "
            "supervisor may correct them.",
            bureau=batch.bureaux[i],
        )
        for i in np.flatnonzero(corrected).tolist()
    ]


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


def _what_is_stored(
    raw: Raw, round_: RoundInfo, bureau_ids: IntArray
) -> tuple[StoredReturns, IntArray, IntArray, list[int]]:
    """What a write is checked against, asked in one go (one round trip on PostgreSQL, while the round's
    lock is held): the bureaux' current returns, their votants in the previous round, their highest
    turnout checkpoint, and the later rounds whose comparison base they are."""
    filter_sql, params = bureau_filter(bureau_ids, "bureau_id")
    queries = [
        *stored_queries(round_, bureau_ids),
        (
            f"SELECT bureau_id, max(voters) FROM checkpoints WHERE round_id = ? {filter_sql} "
            "GROUP BY bureau_id",
            (round_.id, *params),
        ),
        ("SELECT id FROM rounds WHERE previous_round_id = ? AND sequence > 0 ORDER BY id", (round_.id,)),
    ]
    if round_.previous_round_id is not None:
        queries.append(voters_query(round_.previous_round_id, bureau_ids))
    versions, votes, checkpoints, later, *previous = raw.rows_together(queries)
    return (
        stored_from(round_, bureau_ids, versions, votes),
        per_bureau(bureau_ids, previous[0] if previous else []),
        per_bureau(bureau_ids, checkpoints),
        [row[0] for row in later],
    )


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
    notes: list[str]
    authors: list[str]


def _append_versions(raw: Raw, new: NewVersions, *, recorded_at: datetime, sequence: int) -> None:
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
            "warning_notes",
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
                new.authors,
                new.reasons,
                new.warnings,
                new.notes,
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
    areas, totals = index.registry.sum_into_ancestors(rows, delta)
    changed = totals.any(axis=1)
    area_ids, totals = index.area_ids[areas[changed]], totals[changed]
    fixed = len(RESULT_FIELDS)
    raw.add_many(
        "area_results",
        ["round_id", "area_id"],
        list(RESULT_FIELDS),
        list(zip(repeat(round_.id), area_ids.tolist(), *totals[:, :fixed].T.tolist())),
    )
    votes = totals[:, fixed:]
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
    next_round_ids: list[int] | None = None,
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
    for next_round in _next_rounds(raw, connection, round_, next_round_ids):
        next_voters = voters_in_round(raw, next_round.id, index.bureau_ids[rows])
        matched = next_voters != UNKNOWN
        delta = np.zeros((len(rows), len(RESULT_FIELDS) + len(next_round.candidate_ids)), np.int64)
        delta[:, fields["matched_bureaux"]] = matched & first_report
        delta[:, fields["matched_voters"]] = np.where(matched & first_report, next_voters, 0)
        delta[:, fields["matched_previous_voters"]] = np.where(
            matched, voters - np.where(first_report, 0, replaced_voters), 0
        )
        _add_to_areas(raw, next_round, index, rows, delta)
        publish(raw, next_round, index, next_round.sequence + 1, None)


def _next_rounds(
    raw: Raw, connection: Connection, round_: RoundInfo, ids: list[int] | None = None
) -> list[RoundInfo]:
    """The rounds that compare themselves with this one and have published something: any change here
    moves their comparison base, so each gets a new sequence (published sequences never change). `ids`:
    those rounds, when the caller read them already."""
    if ids is None:
        ids = [
            row[0]
            for row in raw.rows(
                "SELECT id FROM rounds WHERE previous_round_id = ? AND sequence > 0 ORDER BY id", (round_.id,)
            )
        ]
    return [round_by_id(connection, next_id) for next_id in ids]


def publish(
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
    # The national figures are read by the database itself: no round trip between reading and writing.
    raw.execute(
        "INSERT INTO publications (round_id, sequence, as_of, published_at, bureaux_reported, voters, blank, "
        '"null", valid, returns_changed, checkpoints_changed, previous_sequence, round_status) '
        "SELECT ?, ?, ?, ?, coalesce(a.bureaux_reported, 0), coalesce(a.voters, 0), coalesce(a.blank, 0), "
        'coalesce(a."null", 0), coalesce(a.valid, 0), ?, ?, (SELECT sequence FROM rounds WHERE id = ?), ? '
        "FROM rounds r LEFT JOIN area_results a ON a.round_id = r.id AND a.area_id = ? WHERE r.id = ?",
        (
            round_.id,
            sequence,
            raw.time(as_of) if as_of else None,
            raw.time(now()),
            returns_changed,
            checkpoints_changed,
            round_.previous_round_id,
            round_.status,
            national,
            round_.id,
        ),
    )
    raw.execute(
        "INSERT INTO publication_votes (round_id, sequence, candidate_id, votes) "
        "SELECT round_id, ?, candidate_id, votes FROM area_votes WHERE round_id = ? AND area_id = ?",
        (sequence, round_.id, national),
    )


def record_checkpoints(
    engine: Engine,
    election_code: str,
    round_number: int,
    batch: CheckpointBatch,
    *,
    author: str,
    reason: str | None = None,
    scope: Scope = NO_LIMIT,
) -> RecordReport:
    """Record voters-so-far checkpoints; a changed one is a new version (it keeps the one it replaces)."""
    recorded_at = now()
    with writing(engine) as connection:
        round_ = round_info(connection, election_code, round_number, lock=True)
        refuse_if_certified(round_)
        index = election_index(connection, round_.election_id, round_.registry_version)
        rows, issues = locate_bureaux(batch.bureaux, batch.lines, index.registry, batch.columns.get("bureau"))
        # A bureau appears once per checkpoint time, so repeated bureaux are judged by _repeated_checkpoints.
        issues = [i for i in issues if i.code != "duplicate_bureau"] + _repeated_checkpoints(batch)
        if issues:
            raise Refused(issues)
        _refuse_outside(batch, rows, index.registry, scope)
        raw = Raw(connection)
        bureau_ids = index.bureau_ids[rows]
        stored = _stored_checkpoints(raw, round_.id, bureau_ids)
        known = {
            index.registry.bureaux[index.bureau_position[bureau_id]].code: {
                t: v for t, (v, _) in times.items()
            }
            for bureau_id, times in stored.items()
        }
        finals = voters_in_round(raw, round_.id, bureau_ids)
        final_by_code = {batch.bureaux[i]: int(v) for i, v in enumerate(finals.tolist()) if v != UNKNOWN}
        issues = _times_outside(round_, batch, recorded_at)
        issues += check_checkpoints(batch, known, final_by_code)
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
                    raw.time(reported) if (reported := batch.reported_at[i]) else recorded,
                    recorded,
                    author,
                    reason if version > 1 else None,
                    sequence,
                )
                for i, version in rows_to_write
            ],
        )
        publish(raw, round_, index, sequence, None, checkpoints_changed=len(rows_to_write))
        for next_round in _next_rounds(raw, connection, round_):
            publish(raw, next_round, index, next_round.sequence + 1, None)
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
    filter_sql, params = bureau_filter(bureau_ids, "c.bureau_id")
    found: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for bureau_id, time, voters, version in raw.rows(
        "SELECT c.bureau_id, c.time, c.voters, c.version FROM checkpoints c WHERE c.round_id = ? "
        f"{filter_sql} AND c.version = (SELECT max(version) FROM checkpoints l WHERE l.round_id = c.round_id "
        "AND l.bureau_id = c.bureau_id AND l.time = c.time)",
        (round_id, *params),
    ):
        found[bureau_id][time] = (voters, version)
    return found
