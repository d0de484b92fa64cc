"""What the store's modules share: its errors, the cached election index, rounds and the current version."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import Connection, Engine, bindparam, select

from api.store.caches import RoundCandidates, connection_caches
from api.store.db import reading
from api.store.models import (
    CandidateRow,
    ElectionRow,
    RoundRow,
)
from api.store.sql import ANY, SMALL_BATCH, Listed, Raw, select_list, utc_time
from tabulator.aggregation import RESULT_FIELDS
from tabulator.batch import UNKNOWN, BoolArray, IntArray, unpack_votes
from tabulator.memo import cached
from tabulator.plan import StoredReturns
from tabulator.registry import Registry
from tabulator.rules import TimeWindow, error, round_window
from tabulator.types import Area, Bureau, Candidate, Cut, Issue


class Refused(ValueError):
    """The input breaks a rule: nothing was written. `issues` says every reason, with its place."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__("; ".join(issue.message for issue in issues[:5]))
        self.issues = list(issues)


class StaleVersion(Refused):
    """A write sent against a version of a return that is no longer the latest (HTTP 412). It says which
    version is, never its counts: a clerk must not read figures the public may not see yet."""

    def __init__(self, issues: Sequence[Issue], current_version: int) -> None:
        super().__init__(issues)
        self.current_version = current_version


class NotFound(LookupError):
    """What was asked for does not exist; the message names it."""


class BadArgument(ValueError):
    """A request argument the API cannot read; the message names it and what was expected."""


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
    date: date
    candidates: tuple[Candidate, ...]
    candidate_ids: tuple[int, ...]
    previous_round_id: int | None
    sequence: int
    as_of: datetime | None
    status: str
    test: bool
    results_not_before: datetime | None = None
    flagged_returns: str = "hold"  # a clerk's return with a warning: 'hold' for review, or 'publish'
    double_entry: bool = False
    projection: str = "newsrooms"  # the estimate of the final result: 'off', 'newsrooms' or 'public'
    warning_thresholds: dict[str, float] = field(default_factory=dict)  # the round's own, by name
    registry_version: int = 0  # of the election's registry, read with the round: see `election_index`
    polls_close: datetime | None = None

    def time_window(self, moment: datetime) -> TimeWindow:
        """When a return or a checkpoint of this round may say it was reported, judged at `moment`."""
        return round_window(self.date, self.polls_close, moment)

    @cached  # every document asks, 69,242 times in a whole publication
    def candidate_codes(self) -> tuple[str, ...]:
        return tuple(candidate.id for candidate in self.candidates)

    def embargoed(self, moment: datetime) -> bool:
        """Whether results may not be published yet at `moment`."""
        return RoundInfo.withholds(self.results_not_before, moment)

    @staticmethod
    def withholds(results_not_before: datetime | None, moment: datetime) -> bool:
        """The embargo's rule, for a `results_not_before` however it was read (a worker keeps it a moment
        without the rest of the round): no result before it."""
        return results_not_before is not None and moment < results_not_before


@dataclass
class RecordReport:
    created: int = 0
    corrected: int = 0
    unchanged: int = 0
    flagged: int = 0  # returns that tripped a warning
    held: int = 0  # held for a supervisor: a warning, or two clerks who disagree
    waiting: int = 0  # double entry: waiting for a second clerk
    version: int | None = None  # for a single return: the version its bureau's return is now at
    warnings: list[Issue] = field(default_factory=list)  # the first ones of each rule, described
    sequence: int | None = None  # None when nothing changed
    by_code: dict[str, dict[str, Any]] = field(default_factory=dict)  # per warning: count, first bureaux

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "corrected": self.corrected,
            "unchanged": self.unchanged,
            "flagged": self.flagged,
            "held": self.held,
            "waiting": self.waiting,
            "version": self.version,
            "sequence": self.sequence,
            "warnings": [issue.as_dict() for issue in self.warnings],
            "by_code": self.by_code,
        }

    @property
    def status(self) -> int:
        """What the write did, as the API answers it and the audit keeps it: 201 published something, 202
        took returns that wait (for review or a second clerk), 200 changed nothing visible."""
        return 201 if self.created else 202 if self.held or self.waiting else 200

    def outcome(self) -> str:
        """The audit's account of the write: its counts."""
        return json.dumps({name: getattr(self, name) for name in REPORTED_COUNTS})


REPORTED_COUNTS = ("created", "corrected", "unchanged", "flagged", "held", "waiting")


def now() -> datetime:
    return datetime.now(UTC)


ELECTION = select(
    ElectionRow.code, ElectionRow.name, ElectionRow.levels, ElectionRow.cuts, ElectionRow.registry_version
).where(ElectionRow.id == bindparam("election_id"))


def election_index(
    connection: Connection, election_id: int, registry_version: int | None = None
) -> ElectionIndex:
    """The election's registry, built once per engine and registry version. A caller that read the
    version with its round passes it: a registry already built then costs no query."""
    caches = connection_caches(connection)
    if registry_version is not None and (found := caches.index(election_id, registry_version)):
        return found
    row = connection.execute(ELECTION, {"election_id": election_id}).one()
    found = caches.index(election_id, row.registry_version)
    if found is None:
        with caches.building, caches.build_guard():
            found = caches.index(election_id, row.registry_version)
            if found is None:
                found = _build_index(
                    connection,
                    election_id,
                    code=row.code,
                    name=row.name,
                    levels=tuple(row.levels),
                    cuts=row.cuts,
                )
                caches.keep_index(connection, row.registry_version, found)
    return found


def warm_indexes(engine: Engine) -> None:
    """Build every election's registry now, before the first request needs it (a gunicorn worker at start:
    deploy/gunicorn.conf.py)."""
    with reading(engine) as connection:
        for election_id in connection.scalars(select(ElectionRow.id)):
            election_index(connection, election_id)


class _AreaRecord(NamedTuple):
    id: int
    level: str
    code: str
    name: str
    parent: str | None  # its parent's code
    source_label: str | None


class _BureauRecord(NamedTuple):
    id: int
    code: str
    name: str
    area_id: int
    registered: int | None
    merged_into: str | None  # the code of the bureau it is merged into


class _CutAreaRecord(NamedTuple):
    bureau_id: int
    level: str
    code: str


def _build_index(
    connection: Connection,
    election_id: int,
    *,
    code: str,
    name: str,
    levels: tuple[str, ...],
    cuts: list[dict[str, Any]],
) -> ElectionIndex:
    raw = Raw(connection)
    areas = raw.records(
        _AreaRecord,
        "SELECT a.id, a.level, a.code, a.name, p.code, a.source_label FROM areas a "
        "LEFT JOIN areas p ON p.id = a.parent_id WHERE a.election_id = ? ORDER BY a.position",
        (election_id,),
    )
    area_code = {area.id: area.code for area in areas}
    bureaux = raw.records(
        _BureauRecord,
        "SELECT b.id, b.code, b.name, b.area_id, b.registered, m.code FROM bureaux b "
        "LEFT JOIN bureaux m ON m.id = b.merged_into_id WHERE b.election_id = ? ORDER BY b.position",
        (election_id,),
    )
    cut_areas: dict[int, dict[str, str]] = {}
    for found in raw.records(
        _CutAreaRecord,
        "SELECT c.bureau_id, a.level, a.code FROM bureau_cut_areas c JOIN areas a ON a.id = c.area_id "
        "WHERE a.election_id = ?",
        (election_id,),
    ):
        cut_areas.setdefault(found.bureau_id, {})[found.level] = found.code
    registry = Registry.build(
        levels,
        [Area(a.level, a.code, a.name, a.parent, a.source_label) for a in areas],
        [
            Bureau(b.code, b.name, area_code[b.area_id], b.registered, b.merged_into, cut_areas.get(b.id, {}))
            for b in bureaux
        ],
        [Cut(cut["name"], tuple(cut["levels"])) for cut in cuts],
    )
    bureau_ids = np.array([bureau.id for bureau in bureaux], np.int64)
    return ElectionIndex(
        id=election_id,
        code=code,
        name=name,
        registry=registry,
        area_ids=np.array([area.id for area in areas], np.int64),
        bureau_ids=bureau_ids,
        bureau_position={int(bureau_id): position for position, bureau_id in enumerate(bureau_ids)},
        bureaux_total=registry.bureaux_total(),
    )


# Built once: building a statement costs more than running it.
CANDIDATES = (
    select(CandidateRow.id, CandidateRow.code, CandidateRow.name, CandidateRow.ballot_order, CandidateRow.sex)
    .where(CandidateRow.round_id == bindparam("round_id"))
    .order_by(CandidateRow.ballot_order)
)


class _RoundRecord(NamedTuple):
    id: int
    election_id: int
    number: int
    date: Any
    previous_round_id: int | None
    sequence: int
    as_of: Any
    status: str
    test: Any
    results_not_before: Any
    flagged_returns: str
    double_entry: Any
    projection: str
    warning_thresholds: str
    polls_close: Any


# Raw SQL: every request reads its round, and SQLAlchemy's statement machinery cost a cold document more
# than the query itself.
ROUND_RECORD = (
    f"SELECT {select_list(_RoundRecord, 'r', RoundRow.__table__)}, e.registry_version "
    "FROM rounds r JOIN elections e ON e.id = r.election_id WHERE e.code = ? AND r.number = ?"
)


def round_info(connection: Connection, election_code: str, number: int, *, lock: bool = False) -> RoundInfo:
    """A round and its candidates. With `lock`, the round's row is locked until the transaction ends (on
    SQLite, the writer's BEGIN IMMEDIATE holds the whole database already)."""
    raw = Raw(connection)
    query = ROUND_RECORD if raw.sqlite or not lock else f"{ROUND_RECORD} FOR UPDATE OF r"
    found = raw.rows(query, (election_code, number))
    if not found:
        raise NotFound(f"Election {election_code!r} has no round {number}.")
    *fields, registry_version = found[0]
    row = _RoundRecord(*fields)
    candidates = round_candidates(connection, row.id)
    return RoundInfo(
        id=row.id,
        election_id=row.election_id,
        number=row.number,
        date=row.date if isinstance(row.date, date) else date.fromisoformat(row.date),
        candidates=candidates.candidates,
        candidate_ids=candidates.ids,
        previous_round_id=row.previous_round_id,
        sequence=row.sequence,
        as_of=utc_time(row.as_of),
        status=row.status,
        test=bool(row.test),
        results_not_before=utc_time(row.results_not_before),
        flagged_returns=row.flagged_returns,
        double_entry=bool(row.double_entry),
        projection=row.projection,
        warning_thresholds=round_thresholds(row.warning_thresholds),
        registry_version=registry_version,
        polls_close=utc_time(row.polls_close),
    )


def round_candidates(connection: Connection, round_id: int) -> RoundCandidates:
    """A round's candidates, read once per engine: they are written with the round and never change."""
    caches = connection_caches(connection)
    found = caches.candidates(round_id)
    if found is None:
        rows = connection.execute(CANDIDATES, {"round_id": round_id}).all()
        found = RoundCandidates(
            tuple(Candidate(row.code, row.name, row.ballot_order, row.sex) for row in rows),
            tuple(row.id for row in rows),
        )
        caches.keep_candidates(connection, round_id, found)
    return found


def round_thresholds(text: str) -> dict[str, float]:
    """A round's own warning thresholds as stored ("" where it has none)."""
    found: dict[str, float] = json.loads(text) if text else {}
    return found


def round_by_id(connection: Connection, round_id: int, *, lock: bool = True) -> RoundInfo:
    row = connection.execute(
        select(ElectionRow.code, RoundRow.number)
        .join(RoundRow, RoundRow.election_id == ElectionRow.id)
        .where(RoundRow.id == round_id)
    ).one()
    return round_info(connection, row.code, row.number, lock=lock)


# The version of a bureau's return that the figures use: its latest among those published up to a
# sequence (the latest of all for the current figures). Returns waiting for review are not versions.
# `+w.sequence`: the unary plus keeps SQLite from choosing the (round, sequence) index, which scans a
# whole round published in one sequence, over the primary key, which finds a bureau's versions at once
# (PostgreSQL reads `+x` as the same number; tests/api/test_query_plans.py reads both plans).
CURRENT_VERSION = (
    "{t}.version = (SELECT max(w.version) FROM return_versions w "
    "WHERE w.round_id = {t}.round_id AND w.bureau_id = {t}.bureau_id AND +w.sequence <= ?)"
)
EVERY_SEQUENCE = 2**62


Query = tuple[str, tuple[Any, ...]]


def stored_returns(
    raw: Raw, round_: RoundInfo, bureau_ids: IntArray, *, up_to_sequence: int | None = None
) -> StoredReturns:
    """The returns of these bureaux as published up to a sequence (default: the latest)."""
    return stored_from(round_, bureau_ids, raw.rows(*stored_query(raw, round_, bureau_ids, up_to_sequence)))


# What `stored_from` reads of each version: its counts, then its packed votes.
STORED_COLUMNS = (
    'v.bureau_id, v.version, v.voters, v.blank, v."null", v.valid, coalesce(v.registered, -1), v.votes'
)


def stored_query(
    raw: Raw, round_: RoundInfo, bureau_ids: IntArray, up_to_sequence: int | None = None
) -> Query:
    """What `stored_from` reads: the bureaux' current versions with their votes. On PostgreSQL each listed
    bureau is looked up alone (`each_listed`): asked as `bureau_id = ANY(?)`, the planner read the round's
    every version to find the few bureaux of a clerks' pass, which had none yet (3.6 ms a pass, growing
    with the night, inside the round's lock: make loadtest, LOADTEST_ALL=1)."""
    bound = EVERY_SEQUENCE if up_to_sequence is None else up_to_sequence
    filter_sql, params = bureau_filter(bureau_ids, "v.bureau_id")
    if raw.sqlite or not params or not isinstance(params[0], Listed):
        return (
            f"SELECT {STORED_COLUMNS} FROM return_versions v "
            f"WHERE v.round_id = ? {filter_sql} AND {CURRENT_VERSION.format(t='v')}",
            (round_.id, *params, bound),
        )
    # A bureau's current version is one row: the LIMIT that `each_listed` adds is true of it.
    current = f"v.round_id = ? AND v.bureau_id = wanted.id AND {CURRENT_VERSION.format(t='v')}"
    return (
        f"SELECT {STORED_COLUMNS} FROM {each_listed('return_versions', 'v', current)}",
        (list(params[0]), round_.id, bound),
    )


def each_listed(table: str, alias: str, condition: str) -> str:
    """PostgreSQL: a FROM clause that looks each id of an array parameter (its first `?`) up alone, as
    `wanted.id` in `condition`, which must find one row at most. A lateral subquery run for each id, whose
    only sensible plan is the table's primary key; its LIMIT 1 keeps the planner from making it a join,
    which it priced as `= ANY(?)`: a read of the round's every row, kept or not (with autovacuum off, or a
    minute behind the night's first returns, its statistics know the round as the few rows it had)."""
    return (
        f"unnest(?::integer[]) AS wanted(id) CROSS JOIN LATERAL "
        f"(SELECT * FROM {table} {alias} WHERE {condition} LIMIT 1) {alias}"
    )


def stored_from(round_: RoundInfo, bureau_ids: IntArray, versions: list[tuple[Any, ...]]) -> StoredReturns:
    """The returns of `bureau_ids` from the rows of `stored_query` (bureaux without a version stay absent)."""
    counts = np.array([row[:7] for row in versions], np.int64).reshape(-1, 7)
    votes = unpack_votes([row[7] for row in versions], len(round_.candidate_ids))
    return stored_in_place(round_, bureau_ids, counts, votes)


def stored_in_place(
    round_: RoundInfo, bureau_ids: IntArray, counts: IntArray, votes: IntArray
) -> StoredReturns:
    """`counts` (bureau id, version, voters, blank, null, valid, registered) and `votes` of some versions,
    each in its bureau's place among `bureau_ids`."""
    count = len(bureau_ids)
    stored = StoredReturns(
        exists=np.zeros(count, bool),
        version=np.zeros(count, np.int64),
        counts=np.zeros((count, 4), np.int64),
        votes=np.zeros((count, len(round_.candidate_ids)), np.int64),
        registered=np.full(count, UNKNOWN, np.int64),
    )
    slots, present = positions_of(bureau_ids, counts[:, 0])
    stored.exists[slots] = True
    stored.version[slots] = counts[present, 1]
    stored.counts[slots] = counts[present, 2:6]
    stored.registered[slots] = counts[present, 6]
    stored.votes[slots] = votes[present]
    return stored


def positions_of(wanted: IntArray, found: IntArray) -> tuple[IntArray, BoolArray]:
    """For each found bureau id that is wanted, its position in `wanted` (ids in a batch are unique)."""
    if not len(wanted) or not len(found):
        return np.zeros(0, np.int64), np.zeros(len(found), bool)
    order = np.argsort(wanted)
    positions = np.searchsorted(wanted, found, sorter=order)
    positions = np.minimum(positions, len(wanted) - 1)
    present = wanted[order[positions]] == found
    return order[positions[present]], present


def area_sums(raw: Raw, round_: RoundInfo, area_ids: IntArray) -> IntArray:
    """The running sums of some areas (by id), a row each (`tabulator.aggregation.RESULT_FIELDS`, then each
    candidate's votes); an area without returns has zeros. Placed with numpy: a level's feed reads 36,000
    areas' sums."""
    return stored_area_sums(raw, round_, area_ids)[0]


def stored_area_sums(raw: Raw, round_: RoundInfo, area_ids: IntArray) -> tuple[IntArray, BoolArray]:
    """`area_sums`, and which of the areas have a stored row."""
    fixed = len(RESULT_FIELDS)
    table = np.zeros((len(area_ids), fixed + len(round_.candidate_ids)), np.int64)
    stored = np.zeros(len(area_ids), np.bool_)
    if not len(area_ids):
        return table, stored
    found = raw.rows(*area_sums_query(raw, round_.id, area_ids))
    if not found:
        return table, stored
    counts = np.array([row[: fixed + 1] for row in found], np.int64)
    votes = unpack_votes([row[fixed + 1] for row in found], len(round_.candidate_ids))
    rows = id_lookup(area_ids)(counts[:, 0])
    kept = rows >= 0
    table[rows[kept], :fixed] = counts[kept, 1:]
    table[rows[kept], fixed:] = votes[kept]
    stored[rows[kept]] = True
    return table, stored


def area_sums_query(raw: Raw, round_id: int, area_ids: IntArray) -> tuple[str, tuple[Any, ...]]:
    """The query of some areas' sums (`stored_area_sums`): listed, or the round's every area beyond
    MAX_LISTED (a level's feed, a national file). On PostgreSQL each listed area is looked up by the primary
    key (`each_listed`): asked as `area_id = ANY(?)`, the round's every row was read to keep the listed ones,
    2 ms idle and 15 to 30 under a night's load, inside the round's lock, at every sequence."""
    columns = ", ".join(f'a."{name}"' for name in RESULT_FIELDS)
    if len(area_ids) > MAX_LISTED:
        return f"SELECT a.area_id, {columns}, a.votes FROM area_results a WHERE a.round_id = ?", (round_id,)
    if raw.sqlite:
        text = f"SELECT a.area_id, {columns}, a.votes FROM area_results a WHERE a.round_id = ?"
        return f"{text} AND a.area_id {ANY}", (round_id, Listed(area_ids.tolist()))
    listed = each_listed("area_results", "a", "a.round_id = ? AND a.area_id = wanted.id")
    return f"SELECT a.area_id, {columns}, a.votes FROM {listed}", (area_ids.tolist(), round_id)


def id_lookup(ids: IntArray) -> Callable[[IntArray], IntArray]:
    """Each id's position in `ids`, -1 for an id not among them (ids are small positive integers)."""
    size = int(ids.max()) + 1 if len(ids) else 0
    if len(ids) * 64 < size:  # a few areas of 36,000 (a cold commune): no table as long as every id
        return _sparse_lookup(ids)
    position = np.full(size, -1, np.int64)
    position[ids] = np.arange(len(ids))

    def find(wanted: IntArray) -> IntArray:
        inside = (wanted >= 0) & (wanted < size)
        return np.where(inside, position[np.where(inside, wanted, 0)] if size else -1, -1)

    return find


def _sparse_lookup(ids: IntArray) -> Callable[[IntArray], IntArray]:
    order = np.argsort(ids, kind="stable")
    ranked = ids[order]

    def find(wanted: IntArray) -> IntArray:
        slots = np.minimum(np.searchsorted(ranked, wanted), len(ranked) - 1)
        return np.where(ranked[slots] == wanted, order[slots], -1)

    return find


SCATTERED = 4  # a range of ids more than this many times the ids wanted is read as a list of them
MAX_LISTED = 10_000  # parameters: SQLite takes 32,766, PostgreSQL 65,535


def bureau_filter(bureau_ids: IntArray, column: str) -> tuple[str, list[int | Listed]]:
    """A test of a few bureaux' ids (`Listed`); for many, the range of their ids, read whole and filtered in
    memory (a batch of the registry's consecutive bureaux is a range: a whole publication reads each row
    once)."""
    if not len(bureau_ids):
        return f"AND {column} IS NULL", []
    low, high = int(bureau_ids.min()), int(bureau_ids.max())
    # Scattered across the registry (a static publication's 300 returns from the whole country), a range
    # would read the whole round to keep a few hundred rows: those are listed, up to a length any database
    # takes as parameters.
    scattered = high - low + 1 > SCATTERED * len(bureau_ids) and len(bureau_ids) <= MAX_LISTED
    if len(bureau_ids) > SMALL_BATCH and not scattered:
        return f"AND {column} BETWEEN ? AND ?", [low, high]
    return f"AND {column} {ANY}", [Listed(bureau_ids.tolist())]


def voters_in_round(
    raw: Raw, round_id: int | None, bureau_ids: IntArray, *, up_to_sequence: int | None = None
) -> IntArray:
    """Votants of the bureaux in a round, as published up to a sequence (UNKNOWN where not reported)."""
    if round_id is None or not len(bureau_ids):
        return np.full(len(bureau_ids), UNKNOWN, np.int64)
    return per_bureau(bureau_ids, raw.rows(*voters_query(round_id, bureau_ids, up_to_sequence)))


def voters_query(round_id: int, bureau_ids: IntArray, up_to_sequence: int | None = None) -> Query:
    bound = EVERY_SEQUENCE if up_to_sequence is None else up_to_sequence
    filter_sql, params = bureau_filter(bureau_ids, "v.bureau_id")
    return (
        f"SELECT v.bureau_id, v.voters FROM return_versions v WHERE v.round_id = ? {filter_sql} "
        f"AND {CURRENT_VERSION.format(t='v')}",
        (round_id, *params, bound),
    )


def per_bureau(bureau_ids: IntArray, rows: list[tuple[Any, ...]]) -> IntArray:
    """A value for each bureau from (bureau id, value) rows; UNKNOWN for a bureau without a row."""
    values = np.full(len(bureau_ids), UNKNOWN, np.int64)
    found = np.array(rows, np.int64).reshape(-1, 2)
    slots, present = positions_of(bureau_ids, found[:, 0])
    values[slots] = found[present, 1]
    return values


def candidate_codes(engine: Engine, election_code: str, number: int) -> tuple[str, ...]:
    """The round's candidates in ballot order (the columns a return must fill)."""
    with reading(engine) as connection:
        return round_info(connection, election_code, number).candidate_codes


def refuse_if_certified(round_: RoundInfo) -> None:
    if round_.status == "certified":
        raise Refused(
            [
                error(
                    "round_certified",
                    f"Round {round_.number} is certified: its results can no longer change.",
                )
            ]
        )


def warning_codes(flags: str) -> list[str]:
    """The warning codes as stored with a version or an entry ("a,b"; "" where there were none)."""
    return [code for code in flags.split(",") if code]


def warning_notes(text: str) -> list[dict[str, Any]]:
    """The warnings in full as stored with a version or an entry ("" where there were none)."""
    notes: list[dict[str, Any]] = json.loads(text) if text else []
    return notes
