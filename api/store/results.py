"""Reading results: the documents the API serves and the command line prints."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine

from api.db import reading
from api.sql import SMALL_BATCH, Raw
from api.store.common import ElectionIndex, NotFound, RoundInfo, election_index, round_by_id, round_info
from tabulator.aggregation import (
    RESULT_FIELDS,
    TURNOUT_FIELDS,
    aggregate_checkpoints,
    tally_from_row,
)
from tabulator.batch import UNKNOWN
from tabulator.metrics import change, summarize
from tabulator.registry import Registry
from tabulator.types import Area, Tally

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
    with reading(engine) as connection:
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
    previous = round_by_id(connection, round_.previous_round_id, lock=False)
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
    with reading(engine) as connection:
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
    with reading(engine) as connection:
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
