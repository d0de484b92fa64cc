"""Reading results: the facts of one round as of one published sequence (a `View`).

The current sequence reads the running sums kept by the writes; an earlier sequence is rebuilt from the
return versions it included, so that a snapshot's figures never change once published. Everything here is
plain values: `api.documents.results` shapes them into the documents the API serves.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy import Connection

from api.store.common import (
    EVERY_SEQUENCE,
    ElectionIndex,
    NotFound,
    Query,
    RoundInfo,
    area_sums,
    bureau_filter,
    election_index,
    round_by_id,
    round_info,
    stored_in_place,
    stored_returns,
    voters_in_round,
    warning_codes,
    warning_notes,
)
from api.store.models import (
    BY_SEQUENCE,
    CheckpointRow,
    PublicationRow,
    ReturnVersionRow,
)
from api.store.sql import Raw, select_list, utc_time
from tabulator.aggregation import contributions, tally_from_row
from tabulator.batch import UNKNOWN, BoolArray, IntArray, unpack_votes
from tabulator.memo import cached
from tabulator.plan import StoredReturns
from tabulator.types import Tally

Tallies = Callable[[Sequence[int]], dict[int, Tally]]
# The sums of some areas as one matrix, a row per position asked for: RESULT_FIELDS, then the candidates'
# votes in ballot order (what a feed of 36,000 areas reads without making a Tally of each).
Sums = Callable[[Sequence[int]], IntArray]
Checkpoints = dict[str, dict[int, int]]  # {time: {bureau id: voters}}
# What a published figure says of its completeness: bureaux still missing, all in, or the round certified.
STATUSES = ("partial", "complete", "certified")


@dataclass(frozen=True)
class Publication:
    sequence: int
    as_of: datetime | None
    published_at: datetime | None
    bureaux_reported: int
    previous_sequence: int | None
    round_status: str


@dataclass(frozen=True)
class View:
    """One round as of one published sequence, and how to read its areas' sums."""

    connection: Connection
    election_code: str
    round_: RoundInfo
    index: ElectionIndex
    publication: Publication
    sums: Sums
    previous_tallies: Tallies | None
    # The day's checkpoints, this round's and the previous round's: read on first use (the turnout), since
    # a night's 200,000 of them would cost every other document a read of the whole round.
    read_checkpoints: Callable[[], tuple[Checkpoints, Checkpoints]]
    # Set when many pages are built at once (static publication): the bureaux' sums they need, read in one go.
    bureaux_read: BureauxRead | None = None

    @cached
    def _checkpoints(self) -> tuple[Checkpoints, Checkpoints]:
        return self.read_checkpoints()

    @property
    def checkpoints(self) -> Checkpoints:
        """{time: {bureau id: voters}}, as published up to the view's sequence."""
        return self._checkpoints[0]

    @property
    def previous_checkpoints(self) -> Checkpoints:
        """The same of the previous round, as published up to the sequence this one compares with."""
        return self._checkpoints[1]

    def tallies(self, positions: Sequence[int]) -> dict[int, Tally]:
        """The sums of some areas, each as a Tally, by position."""
        rows = self.sums(positions)
        codes = self.round_.candidate_codes
        return {position: tally_from_row(row, codes) for position, row in zip(positions, rows, strict=True)}

    def position(self, level: str | None, code: str | None) -> int:
        """The registry position of an area; the top area when none is named."""
        registry = self.index.registry
        level, code = level or registry.levels[0], code or registry.areas[0].code
        if (level, code) not in registry.area_index:
            raise NotFound(f"There is no {level} {code!r} in election {self.election_code}.")
        return registry.area_index[(level, code)]

    @property
    def bureaux_total(self) -> int:
        """The bureaux of the whole election that will report (merged bureaux excluded)."""
        return int(self.index.bureaux_total[0])

    @property
    def status(self) -> str:
        """One of STATUSES, as of this sequence: the one place it is decided. A round certified at this
        sequence is `certified` even short of bureaux (a reader of NIST reports is told otherwise:
        `api.store.exports.nist_status`)."""
        if self.publication.round_status == "certified":
            return "certified"
        return "partial" if self.publication.bureaux_reported < self.bureaux_total else "complete"


def open_view(
    connection: Connection,
    election_code: str,
    round_number: int,
    sequence: int | None = None,
    *,
    known_round: RoundInfo | None = None,
) -> View:
    """The round as of `sequence` (default: the latest). Call inside one read transaction. `known_round`:
    the round as the caller has just read it on this connection (to decide its embargo before a missing
    sequence answers 404), which is then not read again."""
    round_ = known_round or round_info(connection, election_code, round_number)
    index = election_index(connection, round_.election_id, round_.registry_version)
    wanted = round_.sequence if sequence is None else sequence
    if not 0 <= wanted <= round_.sequence:
        raise NotFound(
            f"Round {round_number} of {election_code} has no sequence {wanted}; "
            f"the latest is {round_.sequence}."
        )
    publication = _publication(connection, round_, wanted)
    previous = (
        round_by_id(connection, round_.previous_round_id, lock=False) if round_.previous_round_id else None
    )
    raw = Raw(connection)
    if wanted == round_.sequence:
        sums: Sums = lambda positions: stored_sums(connection, round_, index, positions)  # noqa: E731
        previous_tallies = (
            (lambda positions: stored_tallies(connection, previous, index, positions)) if previous else None
        )
    else:
        sums = _rebuilt_sums(
            raw, round_, index, wanted, previous=previous, previous_sequence=publication.previous_sequence
        )
        previous_tallies = (
            _as_tallies(
                _rebuilt_sums(
                    raw,
                    previous,
                    index,
                    publication.previous_sequence or 0,
                    previous=None,
                    previous_sequence=None,
                ),
                previous.candidate_codes,
            )
            if previous
            else None
        )
    return View(
        connection,
        election_code,
        round_,
        index,
        publication,
        sums,
        previous_tallies,
        lambda: (
            _checkpoint_voters(raw, round_.id, wanted),
            _checkpoint_voters(raw, previous.id, publication.previous_sequence) if previous else {},
        ),
    )


def stored_tallies(
    connection: Connection, round_: RoundInfo, index: ElectionIndex, positions: Sequence[int]
) -> dict[int, Tally]:
    """The running sums of some areas (by registry position), each as a Tally."""
    rows = stored_sums(connection, round_, index, positions)
    return {p: tally_from_row(row, round_.candidate_codes) for p, row in zip(positions, rows, strict=True)}


def stored_sums(
    connection: Connection, round_: RoundInfo, index: ElectionIndex, positions: Sequence[int]
) -> IntArray:
    """The running sums of some areas (by registry position), a row each; an area without returns has
    zeros."""
    return area_sums(Raw(connection), round_, index.area_ids[list(positions)])


def rebuilt_sums(
    raw: Raw, round_: RoundInfo, index: ElectionIndex, sequence: int | None, previous: IntArray
) -> IntArray:
    """Every area's sums recomputed from the return versions published up to `sequence` (None: all)."""
    stored: StoredReturns = stored_returns(raw, round_, index.bureau_ids, up_to_sequence=sequence)
    rows = np.flatnonzero(stored.exists)
    return index.registry.sum_up(
        rows, contributions(stored.counts[rows], stored.votes[rows], stored.registered[rows], previous[rows])
    )


def _as_tallies(sums: Sums, candidate_codes: Sequence[str]) -> Tallies:
    return lambda positions: {
        p: tally_from_row(row, candidate_codes) for p, row in zip(positions, sums(positions), strict=True)
    }


def _rebuilt_sums(
    raw: Raw,
    round_: RoundInfo,
    index: ElectionIndex,
    sequence: int,
    *,
    previous: RoundInfo | None,
    previous_sequence: int | None,
) -> Sums:
    # Rebuilt on first use: a view of a past sequence that reads only its bureaux (the projection's
    # evening points) must not pay for every area's sums as well.
    @functools.cache
    def every_area() -> IntArray:
        earlier = (
            voters_in_round(raw, previous.id, index.bureau_ids, up_to_sequence=previous_sequence or 0)
            if previous
            else np.full(len(index.bureau_ids), UNKNOWN, np.int64)
        )
        return rebuilt_sums(raw, round_, index, sequence, earlier)

    return lambda positions: every_area()[list(positions)]


class PublicationRecord(NamedTuple):
    as_of: Any
    published_at: Any
    bureaux_reported: int
    previous_sequence: int | None
    round_status: str


PUBLICATION = (
    f"SELECT {select_list(PublicationRecord, 'p', PublicationRow.__table__)} FROM publications p "
    "WHERE p.round_id = ? AND p.sequence = ?"
)


def _publication(connection: Connection, round_: RoundInfo, sequence: int) -> Publication:
    found = Raw(connection).records(PublicationRecord, PUBLICATION, (round_.id, sequence))
    if not found:
        if sequence:
            raise NotFound(
                f"Sequence {sequence} of round {round_.number} is not published (a wiped rehearsal)."
            )
        return Publication(sequence, None, None, 0, None, round_.status)
    record = found[0]
    return Publication(
        sequence,
        utc_time(record.as_of),
        utc_time(record.published_at),
        record.bureaux_reported,
        record.previous_sequence,
        record.round_status,
    )


# --- the bureaux -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BureauFigures:
    """One bureau's return as of the view's sequence, summed like an area's (zeros where none)."""

    tally: Tally
    previous_voters: int | None  # its votants in the previous round: UNKNOWN if not reported, None if none


def _bureau_returns(
    view: View, rows: Sequence[int], versions: dict[int, list[ReturnVersion]] | None = None
) -> tuple[StoredReturns, IntArray]:
    """The bureaux' returns as of the view's sequence, and their votants in the previous round. `versions`:
    their versions as `return_versions` read them, whose latest are the returns (not read again)."""
    raw = Raw(view.connection)
    bureau_ids = view.index.bureau_ids[list(rows)]
    if versions is None:
        stored = stored_returns(raw, view.round_, bureau_ids, up_to_sequence=view.publication.sequence)
    else:
        stored = _latest_versions(view.round_, bureau_ids, versions)
    previous = (
        voters_in_round(
            raw,
            view.round_.previous_round_id,
            bureau_ids,
            up_to_sequence=view.publication.previous_sequence or 0,
        )
        if view.round_.previous_round_id
        else np.full(len(bureau_ids), UNKNOWN, np.int64)
    )
    return stored, previous


def _summed(stored: StoredReturns, previous: IntArray) -> IntArray:
    """Each bureau's return as an area's sums would count it (zeros where it has none)."""
    found = stored.exists[:, None]
    return contributions(stored.counts, stored.votes, stored.registered, previous) * found


@dataclass(frozen=True)
class BureauxRead:
    """Some bureaux' sums, read at once for the pages that show them: a row for each bureau of the registry
    (zeros where not read), and which were read."""

    sums: IntArray
    read: BoolArray


def every_bureau_sums(view: View) -> IntArray:
    return bureau_sums(view, range(len(view.index.bureau_ids)))


def read_bureaux(view: View, rows: Sequence[int]) -> BureauxRead:
    """These bureaux' sums (by registry row) in one read, for `View.bureaux_read`: a publication's
    communes would otherwise each read their own (a sequence of a hundred returns: 190 queries)."""
    rows = list(rows)
    found = bureau_sums(view, rows)
    sums = np.zeros((len(view.index.bureau_ids), found.shape[1]), np.int64)
    read = np.zeros(len(view.index.bureau_ids), np.bool_)
    sums[rows], read[rows] = found, True
    return BureauxRead(sums, read)


def bureau_sums(view: View, rows: Sequence[int]) -> IntArray:
    """The sums of some bureaux (by registry row), as of the view's sequence: a row each, as `View.sums`."""
    rows = list(rows)
    if view.bureaux_read is not None and view.bureaux_read.read[rows].all():
        return view.bureaux_read.sums[rows]
    return _summed(*_bureau_returns(view, rows))


def _latest_versions(
    round_: RoundInfo, bureau_ids: IntArray, versions: dict[int, list[ReturnVersion]]
) -> StoredReturns:
    """The bureaux' returns as `stored_returns` reads them, from the versions read already."""
    latest = [
        (bureau_id, found[-1]) for bureau_id in bureau_ids.tolist() if (found := versions.get(bureau_id))
    ]
    counts = np.array(
        [
            (
                bureau_id,
                v.version,
                v.voters,
                v.blank,
                v.null,
                v.valid,
                UNKNOWN if v.registered is None else v.registered,
            )
            for bureau_id, v in latest
        ],
        np.int64,
    ).reshape(-1, 7)
    votes = np.array([list(v.votes.values()) for _, v in latest], np.int64).reshape(
        -1, len(round_.candidate_ids)
    )
    return stored_in_place(round_, bureau_ids, counts, votes)


def bureaux_figures(
    view: View, rows: Sequence[int], versions: dict[int, list[ReturnVersion]] | None = None
) -> list[BureauFigures]:
    """Some bureaux' tallies and their votants in the previous round, from one read of their returns (none
    when their `versions` are given)."""
    stored, previous = _bureau_returns(view, rows, versions)
    codes = view.round_.candidate_codes
    has_previous = view.round_.previous_round_id is not None
    return [
        BureauFigures(tally_from_row(row, codes), int(voters) if has_previous else None)
        for row, voters in zip(_summed(stored, previous), previous, strict=True)
    ]


@dataclass(frozen=True)
class ReturnVersion:
    """One version of a bureau's return as stored."""

    version: int
    sequence: int  # the publication that first included it
    voters: int
    blank: int
    null: int
    valid: int
    votes: dict[str, int]  # by candidate code, in ballot order
    registered: int | None  # the inscrits it gave, if any
    reported_at: datetime | None
    recorded_at: datetime | None
    reason: str | None
    warnings: list[str]
    warning_notes: list[dict[str, Any]]


class VersionRecord(NamedTuple):
    version: int
    sequence: int
    voters: int
    blank: int
    null: int
    valid: int
    votes: str  # packed: `tabulator.batch.unpack_votes`
    registered: int | None
    reported_at: Any
    recorded_at: Any
    reason: str | None
    warnings: str
    warning_notes: str


VERSIONS = (
    f"SELECT v.bureau_id, {select_list(VersionRecord, 'v', ReturnVersionRow.__table__)} "
    "FROM return_versions v "
    "WHERE v.round_id = ? {bureaux} AND +v.sequence <= ? ORDER BY v.bureau_id, v.version"  # the primary key
)


def return_versions(view: View, bureau_ids: Sequence[int]) -> dict[int, list[ReturnVersion]]:
    """Every version of some bureaux' returns published up to the view's sequence, oldest first, by bureau
    id (a bureau without any is absent). One statement for one bureau or for the whole round."""
    round_ = view.round_
    rows = Raw(view.connection).rows(
        *version_query(round_.id, np.array(bureau_ids, np.int64), view.publication.sequence)
    )
    records = [VersionRecord(*fields) for _, *fields in rows]
    votes = unpack_votes([record.votes for record in records], len(round_.candidate_ids)).tolist()
    found: dict[int, list[ReturnVersion]] = defaultdict(list)
    for (bureau_id, *_), record, counts in zip(rows, records, votes, strict=True):
        found[bureau_id].append(_version(record, dict(zip(round_.candidate_codes, counts, strict=True))))
    return found


def version_query(round_id: int, bureau_ids: IntArray, sequence: int) -> Query:
    """What `return_versions` reads: the bureaux' versions up to a sequence, with their votes."""
    bureaux, params = bureau_filter(bureau_ids, "v.bureau_id")
    return VERSIONS.format(bureaux=bureaux), (round_id, *params, sequence)


def _version(record: VersionRecord, votes: dict[str, int]) -> ReturnVersion:
    return ReturnVersion(
        version=record.version,
        sequence=record.sequence,
        voters=record.voters,
        blank=record.blank,
        null=record.null,
        valid=record.valid,
        votes=votes,
        registered=record.registered,
        reported_at=utc_time(record.reported_at),
        recorded_at=utc_time(record.recorded_at),
        reason=record.reason,
        warnings=warning_codes(record.warnings),
        warning_notes=warning_notes(record.warning_notes),
    )


# --- turnout and the evening ----------------------------------------------------------------------------


class CheckpointRecord(NamedTuple):
    bureau_id: int
    time: str
    voters: int


CHECKPOINT_VOTERS = (
    f"SELECT {select_list(CheckpointRecord, 'c', CheckpointRow.__table__)} FROM checkpoints c "
    "WHERE c.round_id = ? AND c.sequence <= ? "
    "AND c.version = (SELECT max(version) FROM checkpoints l WHERE l.round_id = c.round_id "
    "AND l.bureau_id = c.bureau_id AND l.time = c.time AND l.sequence <= ?) ORDER BY c.bureau_id"
)


def _checkpoint_voters(raw: Raw, round_id: int, up_to_sequence: int | None) -> dict[str, dict[int, int]]:
    """{time: {bureau id: voters}} from the latest version of each checkpoint published up to a sequence."""
    found: dict[str, dict[int, int]] = defaultdict(dict)
    limit = EVERY_SEQUENCE if up_to_sequence is None else up_to_sequence
    for record in raw.records(CheckpointRecord, CHECKPOINT_VOTERS, (round_id, limit, limit)):
        found[record.time][record.bureau_id] = record.voters
    return found


@dataclass(frozen=True)
class PublishedFigures:
    """The national figures of one publication: a point of the evening's curve."""

    sequence: int
    as_of: datetime | None
    published_at: datetime | None
    bureaux_reported: int
    voters: int
    blank: int
    null: int
    valid: int
    votes: dict[str, int]  # by candidate code, in ballot order


class PublishedRecord(NamedTuple):
    sequence: int
    as_of: Any
    published_at: Any
    bureaux_reported: int
    voters: int
    blank: int
    null: int
    valid: int
    votes: str  # packed: `tabulator.batch.unpack_votes`


PUBLISHED = (
    f"SELECT {select_list(PublishedRecord, 'p', PublicationRow.__table__)} FROM publications p "
    "WHERE p.round_id = ? AND p.sequence <= ? ORDER BY p.sequence"
)


def published_figures(view: View) -> list[PublishedFigures]:
    """Every publication of the round up to the view's sequence, oldest first."""
    round_ = view.round_
    records = Raw(view.connection).records(PublishedRecord, PUBLISHED, (round_.id, view.publication.sequence))
    # A publication made before the round had any return has no national votes ("").
    votes = iter(unpack_votes([r.votes for r in records if r.votes], len(round_.candidate_ids)).tolist())
    return [
        PublishedFigures(
            sequence=record.sequence,
            as_of=utc_time(record.as_of),
            published_at=utc_time(record.published_at),
            bureaux_reported=record.bureaux_reported,
            voters=record.voters,
            blank=record.blank,
            null=record.null,
            valid=record.valid,
            votes=dict(zip(round_.candidate_codes, next(votes), strict=True)) if record.votes else {},
        )
        for record in records
    ]


def bureaux_changed_since(view: View, sequence: int) -> list[int]:
    """The registry rows of the bureaux with a return version published after `sequence`, up to the view's:
    what a publication of the view must write again (by the index on round and sequence)."""
    found = Raw(view.connection).rows(
        "SELECT DISTINCT bureau_id FROM return_versions "
        f"WHERE round_id = ? AND {BY_SEQUENCE} AND sequence > ? AND sequence <= ?",
        (view.round_.id, sequence, view.publication.sequence),
    )
    position = view.index.bureau_position
    return sorted(position[bureau_id] for (bureau_id,) in found)
