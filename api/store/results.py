"""Reading results: the documents the API serves and the command line prints.

Every document describes one round as of one published sequence (a `View`). The current sequence reads
the running sums kept by the writes; an earlier sequence is rebuilt from the return versions it included,
so that a snapshot's figures never change once published.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine

from api.store.common import (
    EVERY_SEQUENCE,
    ElectionIndex,
    NotFound,
    RoundInfo,
    StoredReturns,
    election_index,
    round_by_id,
    round_info,
    stored_returns,
    voters_in_round,
    warning_codes,
    warning_notes,
)
from api.store.db import reading
from api.store.sql import SMALL_BATCH, Raw
from tabulator.aggregation import (
    RESULT_FIELDS,
    TURNOUT_FIELDS,
    aggregate_checkpoints,
    contributions,
    tally_from_row,
)
from tabulator.batch import UNKNOWN, IntArray
from tabulator.metrics import change, percent, summarize
from tabulator.registry import Registry
from tabulator.types import Area, Tally

Tallies = Callable[[Sequence[int]], dict[int, Tally]]


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
    tallies: Tallies
    previous_tallies: Tallies | None
    checkpoints: dict[str, dict[int, int]]
    previous_checkpoints: dict[str, dict[int, int]]
    # Set when many pages are built at once (static publication): every bureau's tally, read in one go.
    every_bureau: list[Tally] | None = None

    def position(self, level: str | None, code: str | None) -> int:
        """The registry position of an area; the top area when none is named."""
        registry = self.index.registry
        level, code = level or registry.levels[0], code or registry.areas[0].code
        if (level, code) not in registry.area_index:
            raise NotFound(f"There is no {level} {code!r} in election {self.election_code}.")
        return registry.area_index[(level, code)]


def open_view(
    connection: Connection, election_code: str, round_number: int, sequence: int | None = None
) -> View:
    """The round as of `sequence` (default: the latest). Call inside one read transaction."""
    round_ = round_info(connection, election_code, round_number)
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
        tallies: Tallies = lambda positions: stored_tallies(connection, round_, index, positions)  # noqa: E731
        previous_tallies = (
            (lambda positions: stored_tallies(connection, previous, index, positions)) if previous else None
        )
    else:
        tallies = _rebuilt_tallies(
            raw, round_, index, wanted, previous=previous, previous_sequence=publication.previous_sequence
        )
        previous_tallies = (
            _rebuilt_tallies(
                raw,
                previous,
                index,
                publication.previous_sequence or 0,
                previous=None,
                previous_sequence=None,
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
        tallies,
        previous_tallies,
        _checkpoint_voters(raw, round_.id, wanted),
        _checkpoint_voters(raw, previous.id, publication.previous_sequence) if previous else {},
    )


def stored_tallies(
    connection: Connection, round_: RoundInfo, index: ElectionIndex, positions: Sequence[int]
) -> dict[int, Tally]:
    """The running sums of some areas (by registry position); an area without returns has zeros."""
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


def rebuilt_sums(
    raw: Raw, round_: RoundInfo, index: ElectionIndex, sequence: int | None, previous: IntArray
) -> IntArray:
    """Every area's sums recomputed from the return versions published up to `sequence` (None: all)."""
    stored: StoredReturns = stored_returns(raw, round_, index.bureau_ids, up_to_sequence=sequence)
    rows = np.flatnonzero(stored.exists)
    return index.registry.sum_up(
        rows, contributions(stored.counts[rows], stored.votes[rows], stored.registered[rows], previous[rows])
    )


def _rebuilt_tallies(
    raw: Raw,
    round_: RoundInfo,
    index: ElectionIndex,
    sequence: int,
    *,
    previous: RoundInfo | None,
    previous_sequence: int | None,
) -> Tallies:
    earlier = (
        voters_in_round(raw, previous.id, index.bureau_ids, up_to_sequence=previous_sequence or 0)
        if previous
        else np.full(len(index.bureau_ids), UNKNOWN, np.int64)
    )
    sums = rebuilt_sums(raw, round_, index, sequence, earlier)
    return lambda positions: {p: tally_from_row(sums[p], round_.candidate_codes) for p in positions}


def _publication(connection: Connection, round_: RoundInfo, sequence: int) -> Publication:
    found = Raw(connection).rows(
        "SELECT as_of, published_at, bureaux_reported, previous_sequence, round_status FROM publications "
        "WHERE round_id = ? AND sequence = ?",
        (round_.id, sequence),
    )
    if not found:
        if sequence:
            raise NotFound(
                f"Sequence {sequence} of round {round_.number} is not published (a wiped rehearsal)."
            )
        return Publication(sequence, None, None, 0, None, round_.status)
    as_of, published_at, reported, previous_sequence, status = found[0]
    return Publication(
        sequence, Raw.read_time(as_of), Raw.read_time(published_at), reported, previous_sequence, status
    )


def context(view: View) -> dict[str, Any]:
    """What every published figure carries: which data, as of when, covering how much (DESIGN principle 3)."""
    publication = view.publication
    bureaux_total = int(view.index.bureaux_total[0])
    status = "partial" if publication.bureaux_reported < bureaux_total else "complete"
    return {
        "election": view.election_code,
        "round": view.round_.number,
        "sequence": publication.sequence,
        "as_of": _iso(publication.as_of),
        "published_at": _iso(publication.published_at),
        "bureaux_reported": publication.bureaux_reported,
        "bureaux_total": bureaux_total,
        "status": "certified" if publication.round_status == "certified" else status,
        "test": view.round_.test,
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _area(area: Area) -> dict[str, str]:
    return {"level": area.level, "code": area.code, "name": area.name}


def results_of(view: View, level: str | None = None, code: str | None = None) -> dict[str, Any]:
    """The results of one area with its parents and a summary row for each child area (for the last level
    of areas, each bureau); for a bureau, its return and every version of it."""
    if level == BUREAU:
        return _bureau_results(view, code or "")
    registry = view.index.registry
    position = view.position(level, code)
    area = registry.areas[position]
    leaf = area.level == registry.leaf_level
    children = [] if leaf else list(registry.children[position])
    tallies = view.tallies([position, *children])
    previous = view.previous_tallies([position])[position] if view.previous_tallies else None
    rows = (
        _bureau_rows(view, [b for b in registry.children[position] if registry.counted[b]])
        if leaf
        else [
            _child_row(registry.areas[c], tallies[c], view.round_, int(view.index.bureaux_total[c]))
            for c in children
        ]
    )
    return {
        **context(view),
        "area": _area(area),
        "parents": [_area(a) for a in registry.chain(area.level, area.code)[:-1]],
        "results": summarize(
            tallies[position],
            view.round_.candidates,
            bureaux_total=int(view.index.bureaux_total[position]),
            previous=previous,
        ),
        "children": rows,
    }


BUREAU = "bureau"


def _child_row(area: Area, tally: Tally, round_: RoundInfo, bureaux_total: int) -> dict[str, Any]:
    leader = max(round_.candidates, key=lambda c: (tally.votes[c.id], -c.ballot_order))
    return {
        **_area(area),
        "bureaux_reported": tally.bureaux_reported,
        "bureaux_total": bureaux_total,
        "voters": tally.voters,
        "candidates": [
            {"id": c.id, "votes": tally.votes[c.id], "pct_valid": percent(tally.votes[c.id], tally.valid)}
            for c in round_.candidates
        ],
        "leader": leader.id if tally.votes[leader.id] > 0 else None,
    }


def _bureau_returns(view: View, rows: Sequence[int]) -> tuple[StoredReturns, IntArray]:
    """The bureaux' returns as of the view's sequence, and their votants in the previous round."""
    raw = Raw(view.connection)
    bureau_ids = view.index.bureau_ids[list(rows)]
    stored = stored_returns(raw, view.round_, bureau_ids, up_to_sequence=view.publication.sequence)
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


def every_bureau_tally(view: View) -> list[Tally]:
    return _bureau_tallies(view, range(len(view.index.bureau_ids)))


def _bureau_tallies(view: View, rows: Sequence[int]) -> list[Tally]:
    if view.every_bureau is not None:
        return [view.every_bureau[row] for row in rows]
    stored, previous = _bureau_returns(view, rows)
    found = stored.exists[:, None]
    sums = contributions(stored.counts, stored.votes, stored.registered, previous) * found
    return [tally_from_row(row, view.round_.candidate_codes) for row in sums]


def _bureau_rows(view: View, rows: Sequence[int]) -> list[dict[str, Any]]:
    registry = view.index.registry
    return [
        _child_row(_bureau_area(registry, row), tally, view.round_, 1)
        for row, tally in zip(rows, _bureau_tallies(view, rows), strict=True)
    ]


def _bureau_area(registry: Registry, row: int) -> Area:
    bureau = registry.bureaux[row]
    return Area(BUREAU, bureau.code, bureau.name, bureau.area_code)


def _bureau_results(view: View, code: str) -> dict[str, Any]:
    registry = view.index.registry
    row = registry.bureau_index.get(code)
    if row is None:
        raise NotFound(f"There is no bureau {code!r} in election {view.election_code}.")
    bureau = registry.bureaux[row]
    (tally,) = _bureau_tallies(view, [row])
    _, previous_voters = _bureau_returns(view, [row])
    previous = None
    if view.round_.previous_round_id:
        reported = int(previous_voters[0] != UNKNOWN)
        previous = Tally(reported, max(int(previous_voters[0]), 0), 0, 0, 0, {})
    return {
        **context(view),
        "area": _area(_bureau_area(registry, row)),
        "parents": [_area(a) for a in registry.chain(registry.leaf_level, bureau.area_code)],
        "results": summarize(
            tally, view.round_.candidates, bureaux_total=int(registry.counted[row]), previous=previous
        ),
        "children": [],
        "versions": _versions(view, int(view.index.bureau_ids[row])),
    }


def _versions(view: View, bureau_id: int) -> list[dict[str, Any]]:
    raw = Raw(view.connection)
    votes: dict[int, dict[str, int]] = defaultdict(dict)
    codes = dict(zip(view.round_.candidate_ids, view.round_.candidate_codes, strict=True))
    for version, candidate_id, count in raw.rows(
        "SELECT version, candidate_id, votes FROM return_votes WHERE round_id = ? AND bureau_id = ?",
        (view.round_.id, bureau_id),
    ):
        votes[version][codes[candidate_id]] = count
    rows = raw.rows(
        'SELECT version, sequence, voters, blank, "null", valid, reported_at, recorded_at, reason, warnings, '
        "warning_notes FROM return_versions WHERE round_id = ? AND bureau_id = ? AND sequence <= ? "
        "ORDER BY version",
        (view.round_.id, bureau_id, view.publication.sequence),
    )
    return [
        {
            "version": version,
            "sequence": sequence,
            "voters": voters,
            "blank": blank,
            "null": null,
            "valid": valid,
            "votes": {code: votes[version].get(code, 0) for code in view.round_.candidate_codes},
            "reported_at": _iso(Raw.read_time(reported_at)),
            "recorded_at": _iso(Raw.read_time(recorded_at)),
            "reason": reason,
            "warnings": warning_codes(flags),
            "warning_notes": warning_notes(notes),
        }
        for (
            version,
            sequence,
            voters,
            blank,
            null,
            valid,
            reported_at,
            recorded_at,
            reason,
            flags,
            notes,
        ) in rows
    ]


def turnout_of(view: View, level: str | None = None, code: str | None = None) -> dict[str, Any]:
    """The day's checkpoints of an area, each like for like against the previous round at the same hour."""
    registry = view.index.registry
    position = view.position(level, code)
    has_previous = view.previous_tallies is not None
    checkpoints = []
    for time in sorted(view.checkpoints):
        voters_by_bureau = view.checkpoints[time]
        bureau_ids = list(voters_by_bureau)
        rows = np.array([view.index.bureau_position[b] for b in bureau_ids], np.int64)
        before = view.previous_checkpoints.get(time, {})
        earlier = np.array([before.get(b, UNKNOWN) for b in bureau_ids], np.int64)
        totals = aggregate_checkpoints(
            registry, rows, np.array(list(voters_by_bureau.values()), np.int64), earlier
        )
        row = dict(zip(TURNOUT_FIELDS, (int(v) for v in totals[position]), strict=True))
        like_for_like = {
            "matched_bureaux": row["matched_bureaux"],
            "voters": row["matched_voters"],
            "previous_voters": row["matched_previous_voters"],
            "change_pct": change(row["matched_voters"], row["matched_previous_voters"]),
        }
        checkpoints.append(
            {
                "time": time,
                "bureaux_reported": row["bureaux_reported"],
                "voters": row["voters"],
                "like_for_like": like_for_like if has_previous else None,
            }
        )
    area = registry.areas[position]
    return {
        **context(view),
        "area": _area(area),
        "area_bureaux_total": int(view.index.bureaux_total[position]),
        "checkpoints": checkpoints,
    }


def _checkpoint_voters(raw: Raw, round_id: int, up_to_sequence: int | None) -> dict[str, dict[int, int]]:
    """{time: {bureau id: voters}} from the latest version of each checkpoint published up to a sequence."""
    found: dict[str, dict[int, int]] = defaultdict(dict)
    limit = EVERY_SEQUENCE if up_to_sequence is None else up_to_sequence
    for bureau_id, time, voters in raw.rows(
        "SELECT c.bureau_id, c.time, c.voters FROM checkpoints c WHERE c.round_id = ? AND c.sequence <= ? "
        "AND c.version = (SELECT max(version) FROM checkpoints l WHERE l.round_id = c.round_id "
        "AND l.bureau_id = c.bureau_id AND l.time = c.time AND l.sequence <= ?) ORDER BY c.bureau_id",
        (round_id, limit, limit),
    ):
        found[time][bureau_id] = voters
    return found


def timeline(connection: Connection, view: View) -> dict[str, Any]:
    """One row per published sequence up to the view's: the evening's curve."""
    raw = Raw(connection)
    round_ = view.round_
    sequence = view.publication.sequence
    votes: dict[int, dict[int, int]] = defaultdict(dict)
    for number, candidate_id, count in raw.rows(
        "SELECT sequence, candidate_id, votes FROM publication_votes WHERE round_id = ? AND sequence <= ?",
        (round_.id, sequence),
    ):
        votes[number][candidate_id] = count
    rows = raw.rows(
        'SELECT sequence, as_of, published_at, bureaux_reported, voters, blank, "null", valid '
        "FROM publications WHERE round_id = ? AND sequence <= ? ORDER BY sequence",
        (round_.id, sequence),
    )
    return {
        **context(view),
        "timeline": [
            {
                "sequence": number,
                "as_of": _iso(Raw.read_time(as_of)),
                "published_at": _iso(Raw.read_time(published_at)),
                "bureaux_reported": reported,
                "voters": voters,
                "blank": blank,
                "null": null,
                "valid": valid,
                "candidates": [
                    {
                        "id": c.id,
                        "votes": votes[number].get(cid, 0),
                        "pct_valid": percent(votes[number].get(cid, 0), valid),
                    }
                    for c, cid in zip(round_.candidates, round_.candidate_ids, strict=True)
                ],
            }
            for number, as_of, published_at, reported, voters, blank, null, valid in rows
        ],
    }


# The engine-level readers the command line and the tests use; the API keeps its views per request.


def results_document(
    engine: Engine,
    election_code: str,
    round_number: int,
    level: str | None = None,
    code: str | None = None,
    *,
    sequence: int | None = None,
) -> dict[str, Any]:
    with reading(engine) as connection:
        return results_of(open_view(connection, election_code, round_number, sequence), level, code)


def turnout_document(
    engine: Engine,
    election_code: str,
    round_number: int,
    level: str | None = None,
    code: str | None = None,
    *,
    sequence: int | None = None,
) -> dict[str, Any]:
    with reading(engine) as connection:
        return turnout_of(open_view(connection, election_code, round_number, sequence), level, code)


def timeline_document(
    engine: Engine, election_code: str, round_number: int, *, sequence: int | None = None
) -> dict[str, Any]:
    with reading(engine) as connection:
        return timeline(connection, open_view(connection, election_code, round_number, sequence))
