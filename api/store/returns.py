"""Recording returns and checkpoints: one transaction per write, a new sequence per change."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from time import monotonic
from typing import Any, cast

import numpy as np
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from api.store import entries as waiting
from api.store.accounts import AuditRequest, audit_entry
from api.store.caches import Learned, connection_caches
from api.store.common import (
    CURRENT_VERSION,
    EVERY_SEQUENCE,
    STORED_COLUMNS,
    ElectionIndex,
    NotFound,
    RecordReport,
    Refused,
    RoundInfo,
    StaleVersion,
    bureau_filter,
    election_index,
    now,
    per_bureau,
    refuse_if_certified,
    round_by_id,
    round_info,
    stored_area_sums,
    stored_from,
    stored_query,
    stored_returns,
    voters_in_round,
    voters_query,
)
from api.store.db import gather_statistics, reading_alone, write_combined, writes_so_far, writing
from api.store.sql import Raw
from tabulator.aggregation import RESULT_FIELDS
from tabulator.anomalies import (
    VOTERS,
    AreaKnowledge,
    Judged,
    PreviousRound,
    check_returns,
    count_rows,
    judge_in_area,
    learn_area,
    signatures,
)
from tabulator.batch import UNKNOWN, BoolArray, CheckpointBatch, IntArray, ReturnBatch, pack_votes
from tabulator.collector import paused_collection
from tabulator.plan import (
    CheckpointsPlan,
    Context,
    NewVersions,
    ReturnsPlan,
    Rights,
    StoredReturns,
    new_versions,
    plan_checkpoints,
    plan_returns,
)
from tabulator.registry import Registry
from tabulator.routing import Sender, as_entries
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
    audit: AuditRequest | None = None,
) -> RecordReport:
    """Record a batch of returns: new ones, corrections (with a reason) and identical re-sends (no-ops).

    `progress` hears each of STAGES as it is done. `expected_version` (one return only: the version the
    sender last saw, 0 for none) refuses the write if another landed since. `may_correct` False refuses
    corrections. Both are decided inside the transaction, so two writers can never both win. `reviewed`
    False (a clerk's write) applies the round's review and double entry: such returns may wait in
    `entries` instead of being published. `person`: who holds the author's token (see `Writer`). `audit`:
    the request's audit row, written in the same transaction.
    """
    # A file's rows build many tuples at once: no collection walks them while they are built.
    with paused_collection(), writing(engine) as connection:
        round_ = round_info(connection, election_code, round_number, lock=True)
        report = record_in(
            connection,
            round_,
            batch,
            Writer(author, reason, may_correct=may_correct, reviewed=reviewed, person=person, scope=scope),
            thresholds=thresholds,
            progress=progress,
            expected_version=expected_version,
            audit=audit,
        )
    gather_statistics(engine, len(batch))
    progress(STAGES[3])
    return report


def record_return(
    engine: Engine,
    election_code: str,
    round_number: int,
    ret: Return,
    writer: Writer,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    expected_version: int | None = None,
    audit: AuditRequest | None = None,
) -> RecordReport:
    """One bureau's return as a clerk types it, its candidates by name: checked against the round's
    candidates in the same transaction that records it. `audit`: the request's audit row, written in that
    transaction with what the write did.

    Judged against its département first, outside the round's lock (`_judge_ahead`). Then the returns
    that queued meanwhile are written together (`_record_together`: one transaction, one sequence, each
    refused alone; see `api.store.db.write_combined`)."""
    ahead = _judge_ahead(engine, election_code, round_number, ret, writer=writer, thresholds=thresholds)
    item = _SentAlone(election_code, round_number, ret, writer, thresholds, expected_version, audit, ahead)
    return cast(RecordReport, write_combined(engine, (election_code, round_number), item, _record_together))


@dataclass(frozen=True)
class _SentAlone:
    """A return sent on its own (a clerk's form, `PUT …/return`), waiting to be written with the others
    sent meanwhile."""

    election_code: str
    round_number: int
    ret: Return
    writer: Writer
    thresholds: Thresholds
    expected_version: int | None
    audit: AuditRequest | None
    judged_ahead: Judgement | None


Outcome = RecordReport | Exception  # a report, or why the return was refused (nothing of it written)


def _record_together(connection: Connection, items: list[_SentAlone]) -> list[Outcome]:
    """Returns sent alone that queued together, written in passes under the round's lock. A pass publishes
    one sequence, as a file does: one round trip to read what its bureaux have stored, one to write, for
    the whole pass, where returns written one by one would each hold the lock for both. A pass takes one
    return per bureau (a change feed's position is a sequence and a bureau); the next pass takes the
    others. Each return is refused alone, before anything of it is written."""
    outcomes: dict[int, Outcome] = {}
    waiting = list(range(len(items)))
    while waiting:
        done, waiting = _record_pass(connection, items, waiting)
        outcomes.update(done)
    return [outcomes[position] for position in range(len(items))]


@dataclass(frozen=True)
class _Located:
    """A return of a pass, its bureau found in the registry."""

    position: int  # among the items
    batch: ReturnBatch
    rows: IntArray
    thresholds: Thresholds


def _record_pass(
    connection: Connection, items: list[_SentAlone], positions: list[int]
) -> tuple[dict[int, Outcome], list[int]]:
    """Write at most one return per bureau of `positions` in one sequence; the outcome of each, and the
    positions left for the next pass."""
    first = items[positions[0]]
    try:
        round_ = round_info(connection, first.election_code, first.round_number, lock=True)
        refuse_if_certified(round_)
    except (NotFound, Refused) as exc:  # whatever refuses the round refuses each of its returns
        return dict.fromkeys(positions, exc), []
    index = election_index(connection, round_.election_id, round_.registry_version)
    at = now()
    outcomes: dict[int, Outcome] = {}
    located, later = _locate_once_per_bureau(round_, index, [(p, items[p]) for p in positions], at, outcomes)
    if not located:
        return outcomes, later
    raw = Raw(connection)
    bureau_ids = index.bureau_ids[np.concatenate([one.rows for one in located])]
    stored, previous, checkpoint_max, next_round_ids = _what_is_stored(raw, round_, bureau_ids)
    decided: list[tuple[int, _Decided]] = []
    for k, one in enumerate(located):
        item, mine = items[one.position], slice(k, k + 1)
        before = writes_so_far(connection)
        try:
            judged = _judged(raw, connection, round_, index, one=one, ahead=item.judged_ahead)
            context = Context(previous[mine], checkpoint_max[mine], judged)
            facts = _Facts(stored.select(mine), context, next_round_ids)
            rights = item.writer.rights(item.expected_version)
            done = _decide(
                raw,
                round_,
                index,
                batch=one.batch,
                rows=one.rows,
                facts=facts,
                rights=rights,
                writer=item.writer,
                thresholds=one.thresholds,
                at=at,
            )
        except DBAPIError:
            raise
        except Exception as exc:  # refused alone; one that wrote (held for review) cannot be: all again
            if writes_so_far(connection) != before:
                raise
            outcomes[one.position] = exc
            continue
        outcomes[one.position] = done.report
        if len(done.new):
            decided.append((one.position, done))
        else:
            _audit(raw, item.audit, done.report)
    if decided:
        published = [(items[position], done) for position, done in decided]
        _publish_pass(raw, connection, round_, index, published, next_round_ids=next_round_ids, at=at)
    return outcomes, later


def _locate_once_per_bureau(
    round_: RoundInfo,
    index: ElectionIndex,
    items: list[tuple[int, _SentAlone]],
    at: datetime,
    outcomes: dict[int, Outcome],
) -> tuple[list[_Located], list[int]]:
    """The returns of this pass, their bureaux found (refusals go to `outcomes`), and those left for the
    next pass because an earlier one is for the same bureau."""
    located: list[_Located] = []
    later: list[int] = []
    taken: set[int] = set()
    for position, item in items:
        try:
            if issues := check_candidate_names(list(item.ret.votes), round_.candidate_codes, line=None):
                raise Refused(issues)
            thresholds = with_overrides(item.thresholds, round_.warning_thresholds)
            batch = ReturnBatch.of([item.ret], round_.candidate_codes)
            rows = _registry_rows(round_, index, batch, thresholds, scope=item.writer.scope, moment=at)
        except Refused as exc:
            outcomes[position] = exc
            continue
        if int(rows[0]) in taken:
            later.append(position)
            continue
        taken.add(int(rows[0]))
        located.append(_Located(position, batch, rows, thresholds))
    return located, later


def _judged(
    raw: Raw,
    connection: Connection,
    round_: RoundInfo,
    index: ElectionIndex,
    *,
    one: _Located,
    ahead: Judgement | None,
) -> Judged:
    """The return judged ahead of the lock if the round's terms held, else judged now."""
    if ahead is not None and ahead.terms == _judging_terms(round_):
        return ahead.judged
    before = _previous_round_info(connection, round_)
    return _judge_against_peers(
        raw, round_, index, one.batch, one.rows, thresholds=one.thresholds, before=before
    )


def _publish_pass(
    raw: Raw,
    connection: Connection,
    round_: RoundInfo,
    index: ElectionIndex,
    decided: list[tuple[_SentAlone, _Decided]],
    *,
    next_round_ids: list[int],
    at: datetime,
) -> None:
    """The pass's new versions appended and published as the round's next sequence, with their audit rows."""
    sequence = round_.sequence + 1
    for _, done in decided:
        done.report.sequence = sequence
    batch = ReturnBatch.of([item.ret for item, _ in decided], round_.candidate_codes)
    new = NewVersions.joined([(done.new, 1) for _, done in decided])
    audits = [(item.audit, done.report) for item, done in decided]
    _apply(raw, round_, index, batch, new, audits=audits, at=at)
    _propagate_to_next_rounds(
        raw,
        connection,
        round_,
        index,
        next_round_ids,
        rows=new.rows,
        voters=new.counts[:, 0],
        replaced_voters=np.concatenate([done.replaced_voters for _, done in decided]),
    )


@dataclass(frozen=True)
class Judgement:
    """A return judged against its peers before its write waited for the round's lock, and the round's
    terms it was judged under: the write uses it only if the round still has them."""

    terms: tuple[object, ...]
    judged: Judged


def _judging_terms(round_: RoundInfo) -> tuple[object, ...]:
    """What a judgement depends on besides the peers' returns."""
    thresholds = tuple(sorted(round_.warning_thresholds.items()))
    return (round_.id, round_.registry_version, round_.previous_round_id, round_.candidate_codes, thresholds)


def _judge_ahead(
    engine: Engine,
    election_code: str,
    round_number: int,
    ret: Return,
    *,
    writer: Writer,
    thresholds: Thresholds,
) -> Judgement | None:
    """A clerk's return judged against its département before its write queues for the round's lock.

    Judging reads the département's returns and the previous round, and is most of a write's work; done
    under the lock, every other write of the round would wait for it, and under a night's read load each
    write would hold the lock ten times as long (make loadtest). Outside, the peers are as stored a moment
    earlier, which changes nothing a warning says: what a département's peers teach is kept
    KNOWLEDGE_SECONDS anyway. None when the return is refused: the write, under the lock, says why.

    Its reads need not see one moment of the round (the write checks the terms it was judged under): on
    PostgreSQL each stands alone, two round trips fewer (BEGIN, COMMIT) for every clerk's return."""
    with reading_alone(engine) as connection:
        try:
            round_ = round_info(connection, election_code, round_number)
        except NotFound:
            return None
        if check_candidate_names(list(ret.votes), round_.candidate_codes, line=None):
            return None
        thresholds = with_overrides(thresholds, round_.warning_thresholds)
        batch = ReturnBatch.of([ret], round_.candidate_codes)
        index = election_index(connection, round_.election_id, round_.registry_version)
        try:
            rows = _registry_rows(round_, index, batch, thresholds, scope=writer.scope, moment=now())
        except Refused:
            return None
        before = _previous_round_info(connection, round_)
        judged = _judge_against_peers(
            Raw(connection), round_, index, batch, rows, thresholds=thresholds, before=before
        )
    return Judgement(_judging_terms(round_), judged)


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

    def rights(self, expected_version: int | None) -> Rights:
        return Rights(self.may_correct, self.reason, expected_version)


def record_in(
    connection: Connection,
    round_: RoundInfo,
    batch: ReturnBatch,
    writer: Writer,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    progress: Callable[[str], None] = lambda stage: None,
    expected_version: int | None = None,
    audit: AuditRequest | None = None,
) -> RecordReport:
    """`record_returns` inside a transaction that holds the round's lock: read what the batch is judged
    against, plan the write (`tabulator.plan`), let review hold a clerk's returns, apply what is left.
    `audit`: the request's audit row, written with the returns (in the same round trip when it can)."""
    recorded_at = now()
    refuse_if_certified(round_)
    thresholds = with_overrides(thresholds, round_.warning_thresholds)
    index = election_index(connection, round_.election_id, round_.registry_version)
    rows = _registry_rows(round_, index, batch, thresholds, scope=writer.scope, moment=recorded_at)
    raw = Raw(connection)
    facts = _read_facts(raw, connection, round_, index, batch, rows=rows, thresholds=thresholds)
    decided = _decide(
        raw,
        round_,
        index,
        batch=batch,
        rows=rows,
        facts=facts,
        rights=writer.rights(expected_version),
        writer=writer,
        thresholds=thresholds,
        at=recorded_at,
    )
    progress(STAGES[0])
    report, new = decided.report, decided.new
    if not len(new):
        _audit(raw, audit, report)
        return report
    report.sequence = round_.sequence + 1
    _apply(raw, round_, index, batch, new, audits=[(audit, report)], at=recorded_at, progress=progress)
    _propagate_to_next_rounds(
        raw,
        connection,
        round_,
        index,
        facts.next_round_ids,
        rows=new.rows,
        voters=new.counts[:, 0],
        replaced_voters=decided.replaced_voters,
    )
    return report


@dataclass(frozen=True)
class _Decided:
    """What a batch's write will do: its report so far, and the versions it appends (none: nothing is
    published, the batch repeats what is stored or waits for review) with the votants they replace."""

    report: RecordReport
    new: NewVersions
    replaced_voters: IntArray


def _decide(
    raw: Raw,
    round_: RoundInfo,
    index: ElectionIndex,
    *,
    batch: ReturnBatch,
    rows: IntArray,
    facts: _Facts,
    rights: Rights,
    writer: Writer,
    thresholds: Thresholds,
    at: datetime,
) -> _Decided:
    """Plan the batch against what is stored (refused on any error), let review hold a clerk's returns."""
    plan = plan_returns(
        batch, rows, index.registry, facts.stored, facts.context, rights=rights, thresholds=thresholds
    )
    _refuse_on_errors(plan)
    report = _planned_report(plan, batch)
    publish_rows, authors = _review(
        raw,
        round_,
        batch,
        plan,
        bureau_ids=index.bureau_ids[rows],
        stored=facts.stored,
        writer=writer,
        report=report,
        at=at,
    )
    _count(report, batch, facts.stored, plan, publish_rows)
    new = new_versions(plan, batch, rows, facts.stored, facts.context, publish=publish_rows, authors=authors)
    replaced = np.where(facts.stored.exists, facts.stored.counts[:, 0], UNKNOWN)[new.positions]
    return _Decided(report, new, replaced)


@dataclass(frozen=True)
class _Facts:
    """What a batch is judged against, read in its transaction."""

    stored: StoredReturns
    context: Context
    next_round_ids: list[int]  # the later rounds whose comparison base these bureaux are


def _read_facts(
    raw: Raw,
    connection: Connection,
    round_: RoundInfo,
    index: ElectionIndex,
    batch: ReturnBatch,
    *,
    rows: IntArray,
    thresholds: Thresholds,
) -> _Facts:
    stored, previous, checkpoint_max, next_round_ids = _what_is_stored(raw, round_, index.bureau_ids[rows])
    judged = _judge_against_peers(
        raw,
        round_,
        index,
        batch,
        rows,
        thresholds=thresholds,
        before=_previous_round_info(connection, round_),
    )
    return _Facts(stored, Context(previous, checkpoint_max, judged), next_round_ids)


def _planned_report(plan: ReturnsPlan, batch: ReturnBatch) -> RecordReport:
    """The report as the plan makes it: warnings and unchanged returns; the counts come with the apply."""
    return RecordReport(
        flagged=plan.warnings.count,
        warnings=plan.warnings.issues,
        unchanged=plan.unchanged,
        by_code=plan.warnings.by_code(batch.bureaux),
    )


def _refuse_on_errors(plan: ReturnsPlan) -> None:
    if plan.stale_version is not None:
        raise StaleVersion(plan.errors, plan.stale_version)
    if plan.errors:
        raise Refused(plan.errors)


def _review(
    raw: Raw,
    round_: RoundInfo,
    batch: ReturnBatch,
    plan: ReturnsPlan,
    *,
    bureau_ids: IntArray,
    stored: StoredReturns,
    writer: Writer,
    report: RecordReport,
    at: datetime,
) -> tuple[BoolArray, list[str]]:
    """The rows to publish now, and each row's author. A clerk's changed returns may wait instead, held for
    a supervisor or for a second clerk's entry (`api.store.entries`); the report says how many."""
    authors = [writer.author] * len(batch)
    sender = Sender(writer.author, writer.who, round_.double_entry, round_.flagged_returns == "hold")
    if writer.reviewed or not plan.changed.any() or not sender.may_wait:
        return plan.changed, authors
    routing = waiting.divert(
        raw,
        round_,
        batch,
        as_entries(batch, bureau_ids, plan.registered, plan.warning_codes, plan.warning_notes),
        changed=plan.changed,
        stored=stored,
        sender=sender,
        recorded_at=at,
    )
    report.held, report.waiting = routing.held, routing.waiting
    report.warnings += routing.notices
    report.unchanged += routing.repeated
    return routing.publish, routing.authors


def _count(
    report: RecordReport, batch: ReturnBatch, stored: StoredReturns, plan: ReturnsPlan, publish: BoolArray
) -> None:
    report.created = int((publish & ~stored.exists).sum())
    report.corrected = int((plan.corrected & publish).sum())
    if len(batch) == 1:
        report.version = int(stored.version[0]) + int(publish[0])


def _apply(
    raw: Raw,
    round_: RoundInfo,
    index: ElectionIndex,
    batch: ReturnBatch,
    new: NewVersions,
    *,
    audits: list[tuple[AuditRequest | None, RecordReport]],
    at: datetime,
    progress: Callable[[str], None] = lambda stage: None,
) -> None:
    """Append the new versions, add them to their areas, publish the new sequence (the reports') and keep
    the requests' audit rows. Nothing here reads what it writes: on PostgreSQL it all goes in one round
    trip, which is how long the round's lock is held for it."""
    sequence = audits[0][1].sequence
    assert sequence is not None
    with raw.pipeline(len(new)):
        _append_versions(raw, round_, index, batch, new, recorded_at=at, sequence=sequence)
        progress(STAGES[1])
        _add_to_areas(raw, round_, index, new.rows, new.delta)
        progress(STAGES[2])
        known = [batch.reported_at[i] for i in new.positions.tolist()] if any(batch.reported_at) else []
        as_of = max((moment or at for moment in known), default=at)  # a ministry file gives no times
        publish(raw, round_, index, sequence, as_of, returns_changed=len(new))
        for audit, report in audits:
            _audit(raw, audit, report)


def _audit(raw: Raw, audit: AuditRequest | None, report: RecordReport) -> None:
    if audit is not None:
        audit_entry(raw, audit, status=report.status, outcome=report.outcome(), sequence=report.sequence)


PEER_LEVEL = "departement"  # a return is compared with the bureaux of its département (else its election's)


def _peer_column(registry: Registry) -> int:
    """The registry's column of the areas whose bureaux are each other's peers (else the election's)."""
    return registry.column(PEER_LEVEL) if PEER_LEVEL in registry.columns else 0


def _judge_against_peers(
    raw: Raw,
    round_: RoundInfo,
    index: ElectionIndex,
    batch: ReturnBatch,
    rows: IntArray,
    *,
    thresholds: Thresholds,
    before: RoundInfo | None,
) -> Judged:
    """The batch's rows (all located) against the current returns of the other bureaux of the départements
    it touches (a file: one round trip), or a clerk's single return against what its département knows."""
    registry = index.registry
    column = _peer_column(registry)
    areas = registry.ancestors[rows, column]
    if len(rows) == 1:  # a clerk's return: what its département knows, kept a few seconds
        return _judge_with_knowledge(
            raw, round_, index, batch, rows, area=int(areas[0]), thresholds=thresholds, before=before
        )
    peer_rows = _peer_rows(registry, column, areas, rows)
    peer_ids = index.bureau_ids[peer_rows]
    stored = _stored_in_range(raw, round_, peer_ids)
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


# An area's knowledge (spreads, log ratio, learned past) as its engine last read it (api.store.caches),
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
    area: int,
    thresholds: Thresholds,
    before: RoundInfo | None,
) -> Judged:
    """A clerk's return against what its département's stored returns teach,
    read again only when older than KNOWLEDGE_SECONDS, and against the returns that share their counts
    (a sheet typed twice), looked for exactly."""
    registry = index.registry
    column = _peer_column(registry)
    moment = monotonic()
    caches = connection_caches(raw)
    known = caches.knowledge(round_.id, area)
    if known is None or moment - known[0] > KNOWLEDGE_SECONDS:
        peers = _area_peers(raw, round_, index, area, column, rows=rows)
        known = Learned(moment, _learn_area(raw, round_, peers, thresholds=thresholds, before=before))
        if known[1].peers >= KNOWLEDGE_FROM_PEERS:
            caches.keep_knowledge(raw, round_.id, area, known)
        seen = peers.same_counts(batch)  # the peers just read: no second look
    else:
        seen = _same_counts(raw, round_, index, batch, rows=rows, column=column)
    return judge_in_area(
        count_rows(
            np.where(batch.registered != UNKNOWN, batch.registered, registry.registered[rows]),
            batch.counts,
            batch.votes,
        ),
        batch.bureaux,
        known[1],
        seen=seen,
        previous_rows=_own_previous_rows(raw, before, index.bureau_ids[rows]),
        thresholds=thresholds.anomalies,
    )


def _own_previous_rows(raw: Raw, before: RoundInfo | None, bureau_ids: IntArray) -> IntArray | None:
    past = _previous_round(raw, before, bureau_ids, _NONE)
    return None if past is None else past.rows


_NONE = np.zeros(0, np.int64)


@dataclass(frozen=True)
class _AreaPeers:
    """The current returns of an area's other bureaux, as count rows (those with a return)."""

    registry_rows: IntArray  # the bureaux with a return
    ids: IntArray  # their ids
    rows: IntArray
    registry: Registry

    def same_counts(self, batch: ReturnBatch) -> dict[bytes, str]:
        """As `_same_counts`, from the returns already read."""
        same = (self.rows[:, None, VOTERS : VOTERS + 4] == batch.counts[None, :, :]).all(axis=2).any(axis=1)
        found = np.flatnonzero(same).tolist()
        codes = [self.registry.bureaux[int(self.registry_rows[k])].code for k in found]
        return dict(zip(signatures(self.rows[found]), codes, strict=True))


def _area_peers(
    raw: Raw, round_: RoundInfo, index: ElectionIndex, area: int, column: int, *, rows: IntArray
) -> _AreaPeers:
    """An area's other bureaux' current returns (a bureau is not its own peer: a correction replaces its
    return)."""
    peer_rows = _peer_rows(index.registry, column, np.array([area]), rows)
    stored = _stored_in_range(raw, round_, index.bureau_ids[peer_rows])
    returned = peer_rows[stored.exists]
    rows_of_peers = count_rows(stored.registered, stored.counts, stored.votes)[stored.exists]
    return _AreaPeers(returned, index.bureau_ids[returned], rows_of_peers, index.registry)


def _learn_area(
    raw: Raw, round_: RoundInfo, peers: _AreaPeers, *, thresholds: Thresholds, before: RoundInfo | None
) -> AreaKnowledge:
    """The area's knowledge from its peers' current returns and their previous round's."""
    return learn_area(
        peers.rows,
        candidates=round_.candidate_codes,
        thresholds=thresholds.anomalies,
        previous=_previous_round(raw, before, _NONE, peers.ids),
    )


def _peer_rows(registry: Registry, column: int, areas: IntArray, rows: IntArray) -> IntArray:
    """The counted bureaux of these areas (in `column`), but for the bureaux of `rows`: a bureau is not its
    own peer (a correction replaces its return)."""
    peers = np.zeros(len(registry.bureaux), np.bool_)
    peers[registry.bureaux_in(column, areas)] = True
    peers &= registry.counted
    peers[rows] = False
    return np.flatnonzero(peers)


def _same_counts(
    raw: Raw, round_: RoundInfo, index: ElectionIndex, batch: ReturnBatch, *, rows: IntArray, column: int
) -> dict[bytes, str]:
    """The signatures of the département's current returns with the same votants, blancs, nuls and
    exprimés as one of the batch's, by bureau code (the batch's own bureaux left out)."""
    query = _identical_query(round_, index, batch, rows, column)
    found = np.array([bureau_id for (bureau_id,) in raw.rows(*query)], np.int64) if query else _NONE
    found = found[~np.isin(found, index.bureau_ids[rows])]
    if not len(found):
        return {}
    stored = stored_returns(raw, round_, found)
    codes = [index.registry.bureaux[index.bureau_position[int(b)]].code for b in found.tolist()]
    same = count_rows(stored.registered, stored.counts, stored.votes)
    return {
        sheet: code
        for sheet, code, exists in zip(signatures(same), codes, stored.exists, strict=True)
        if exists
    }


def _identical_query(
    round_: RoundInfo, index: ElectionIndex, batch: ReturnBatch, rows: IntArray, column: int
) -> tuple[str, tuple[object, ...]] | None:
    """The bureaux of the batch's départements whose current return has the same votants, blancs, nuls and
    exprimés as one of the batch's (the votes are compared once read)."""
    registry = index.registry
    ids = index.bureau_ids[registry.bureaux_in(column, registry.ancestors[rows, column])]
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
    stored = _stored_in_range(raw, before, every)
    counts = np.where(stored.exists[:, None], stored.counts, UNKNOWN)
    then = count_rows(stored.registered, counts, stored.votes)
    return PreviousRound(then[: len(bureau_ids)], then[len(bureau_ids) :], before.candidate_codes)


def _stored_in_range(raw: Raw, round_: RoundInfo, peer_ids: IntArray) -> StoredReturns:
    """`stored_returns` read through the peers' range of ids: a département's bureaux are created together,
    so the range holds few others (`stored_from` keeps only the peers), where listing thousands of ids
    would make `bureau_filter` read the whole round for every clerk's return."""
    if not len(peer_ids):
        return stored_from(round_, peer_ids, [])
    bounds = (round_.id, int(peer_ids.min()), int(peer_ids.max()), EVERY_SEQUENCE)
    where = f"v.round_id = ? AND v.bureau_id BETWEEN ? AND ? AND {CURRENT_VERSION.format(t='v')}"
    found = raw.rows(f"SELECT {STORED_COLUMNS} FROM return_versions v WHERE {where}", bounds)
    return stored_from(round_, peer_ids, found)


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


def _what_is_stored(
    raw: Raw, round_: RoundInfo, bureau_ids: IntArray
) -> tuple[StoredReturns, IntArray, IntArray, list[int]]:
    """What a write is checked against, asked in one go (one round trip on PostgreSQL, while the round's
    lock is held): the bureaux' current returns, their votants in the previous round, their highest
    turnout checkpoint, and the later rounds whose comparison base they are."""
    filter_sql, params = bureau_filter(bureau_ids, "bureau_id")
    queries = [
        stored_query(raw, round_, bureau_ids),
        (
            f"SELECT bureau_id, max(voters) FROM checkpoints WHERE round_id = ? {filter_sql} "
            "GROUP BY bureau_id",
            (round_.id, *params),
        ),
        ("SELECT id FROM rounds WHERE previous_round_id = ? AND sequence > 0 ORDER BY id", (round_.id,)),
    ]
    if round_.previous_round_id is not None:
        queries.append(voters_query(round_.previous_round_id, bureau_ids))
    versions, checkpoints, later, *previous = raw.rows_together(queries)
    return (
        stored_from(round_, bureau_ids, versions),
        per_bureau(bureau_ids, previous[0] if previous else []),
        per_bureau(bureau_ids, checkpoints),
        [round_id for (round_id,) in later],
    )


VERSION_COLUMNS = (
    "round_id",
    "bureau_id",
    "version",
    "voters",
    "blank",
    "null",
    "valid",
    "votes",
    "registered",
    "reported_at",
    "recorded_at",
    "author",
    "reason",
    "warnings",
    "warning_notes",
    "sequence",
)


def _append_versions(
    raw: Raw,
    round_: RoundInfo,
    index: ElectionIndex,
    batch: ReturnBatch,
    new: NewVersions,
    *,
    recorded_at: datetime,
    sequence: int,
) -> None:
    """Append the versions with their votes, built column by column: a ministry file has 70,000 of them."""
    count = len(new)
    bureau_ids = index.bureau_ids[new.rows]
    recorded = raw.time(recorded_at)
    times = {None: recorded}
    reported = (
        [
            times.setdefault(moment, raw.time(moment) if moment else recorded)
            for moment in (batch.reported_at[i] for i in new.positions.tolist())
        ]
        if any(batch.reported_at)
        else [recorded] * count  # a ministry file gives no times: each version's is its recording's
    )
    columns = (
        [round_.id] * count,
        bureau_ids.tolist(),
        new.versions.tolist(),
        *new.counts.T.tolist(),
        pack_votes(new.votes),
        _nullable(new.registered),
        reported,
        [recorded] * count,
        new.authors,
        new.reasons,
        new.warning_codes,
        new.warning_notes,
        [sequence] * count,
    )
    raw.insert_columns("return_versions", VERSION_COLUMNS, columns)


def _nullable(values: IntArray) -> list[int | None]:
    listed: list[int | None] = values.tolist()
    return listed if UNKNOWN not in values else [None if value == UNKNOWN else value for value in listed]


AREA_COLUMNS = ("round_id", "area_id", *RESULT_FIELDS, "votes")


def _add_to_areas(raw: Raw, round_: RoundInfo, index: ElectionIndex, rows: IntArray, delta: IntArray) -> None:
    """Add the bureaux' deltas to their areas in every cut. An area's row is read and written whole: its
    votes are packed, which SQL cannot add to, and the round's lock, which every writer holds, keeps two
    writes from adding to the same sums."""
    areas, totals = index.registry.sum_into_ancestors(rows, delta)
    changed = totals.any(axis=1)
    area_ids = index.area_ids[areas[changed]]
    if not len(area_ids):  # corrections that moved no count
        return
    sums, stored = stored_area_sums(raw, round_, area_ids)
    sums += totals[changed]
    # The areas' first sums of the round (all of them at a file's first import) are inserted: on
    # PostgreSQL straight by COPY, where a replacement goes through a staging table.
    raw.insert_columns("area_results", AREA_COLUMNS, _area_columns(round_, area_ids[~stored], sums[~stored]))
    replaced = _area_columns(round_, area_ids[stored], sums[stored])
    raw.put_many("area_results", AREA_COLUMNS[:2], AREA_COLUMNS[2:], zip(*replaced, strict=True))


def _area_columns(round_: RoundInfo, area_ids: IntArray, sums: IntArray) -> list[list[Any]]:
    """Areas' rows of `area_results` column by column (AREA_COLUMNS), their votes packed."""
    fixed = len(RESULT_FIELDS)
    return [
        [round_.id] * len(area_ids),
        area_ids.tolist(),
        *sums[:, :fixed].T.tolist(),
        pack_votes(sums[:, fixed:]),
    ]


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
            round_id
            for (round_id,) in raw.rows(
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
        '"null", valid, returns_changed, checkpoints_changed, previous_sequence, round_status, votes) '
        "SELECT ?, ?, ?, ?, coalesce(a.bureaux_reported, 0), coalesce(a.voters, 0), coalesce(a.blank, 0), "
        'coalesce(a."null", 0), coalesce(a.valid, 0), ?, ?, (SELECT sequence FROM rounds WHERE id = ?), ?, '
        "coalesce(a.votes, '') "
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


def record_checkpoints(
    engine: Engine,
    election_code: str,
    round_number: int,
    batch: CheckpointBatch,
    *,
    author: str,
    reason: str | None = None,
    scope: Scope = NO_LIMIT,
    audit: AuditRequest | None = None,
) -> RecordReport:
    """Record voters-so-far checkpoints; a changed one is a new version (it keeps the one it replaces).
    `audit`: the request's audit row, written in the same transaction."""
    recorded_at = now()
    with writing(engine) as connection:
        round_ = round_info(connection, election_code, round_number, lock=True)
        refuse_if_certified(round_)
        index = election_index(connection, round_.election_id, round_.registry_version)
        raw = Raw(connection)
        rows = _checkpoint_rows(batch, index, scope)
        bureau_ids = index.bureau_ids[rows]
        stored = _stored_checkpoints(raw, round_.id, bureau_ids)
        _refuse_checkpoints(
            raw, round_, index, batch, bureau_ids=bureau_ids, stored=stored, moment=recorded_at
        )
        plan = plan_checkpoints(batch, [stored.get(int(bureau_id), {}) for bureau_id in bureau_ids.tolist()])
        report = RecordReport(created=plan.created, corrected=plan.corrected, unchanged=plan.unchanged)
        if plan.rows:
            report.sequence = round_.sequence + 1
            _append_checkpoints(
                raw,
                round_,
                batch,
                bureau_ids,
                plan,
                author=author,
                reason=reason,
                at=recorded_at,
                sequence=report.sequence,
            )
            publish(raw, round_, index, report.sequence, None, checkpoints_changed=len(plan.rows))
            for next_round in _next_rounds(raw, connection, round_):
                publish(raw, next_round, index, next_round.sequence + 1, None)
        _audit(raw, audit, report)
    return report


def _checkpoint_rows(batch: CheckpointBatch, index: ElectionIndex, scope: Scope) -> IntArray:
    """The registry row of each checkpoint's bureau; refused when one is unknown or outside the scope."""
    rows, issues = locate_bureaux(batch.bureaux, batch.lines, index.registry, batch.columns.get("bureau"))
    # A bureau appears once per checkpoint time, so repeated bureaux are judged by _repeated_checkpoints.
    issues = [i for i in issues if i.code != "duplicate_bureau"] + _repeated_checkpoints(batch)
    if issues:
        raise Refused(issues)
    _refuse_outside(batch, rows, index.registry, scope)
    return rows


def _refuse_checkpoints(
    raw: Raw,
    round_: RoundInfo,
    index: ElectionIndex,
    batch: CheckpointBatch,
    *,
    bureau_ids: IntArray,
    stored: dict[int, dict[str, tuple[int, int]]],
    moment: datetime,
) -> None:
    """Refuse times outside the round's window, and counts that go down during the day or exceed the
    bureau's final votants."""
    known = {
        index.registry.bureaux[index.bureau_position[bureau_id]].code: {t: v for t, (v, _) in times.items()}
        for bureau_id, times in stored.items()
    }
    finals = voters_in_round(raw, round_.id, bureau_ids)
    final_by_code = {batch.bureaux[i]: int(v) for i, v in enumerate(finals.tolist()) if v != UNKNOWN}
    issues = _times_outside(round_, batch, moment) + check_checkpoints(batch, known, final_by_code)
    if issues:
        raise Refused(issues)


CHECKPOINT_COLUMNS = (
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
)


def _append_checkpoints(
    raw: Raw,
    round_: RoundInfo,
    batch: CheckpointBatch,
    bureau_ids: IntArray,
    plan: CheckpointsPlan,
    *,
    author: str,
    reason: str | None,
    at: datetime,
    sequence: int,
) -> None:
    recorded = raw.time(at)
    raw.insert_many(
        "checkpoints",
        CHECKPOINT_COLUMNS,
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
            for i, version in plan.rows
        ],
    )


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
