"""The results, turnout and timeline documents, shaped from the facts of one `View` (`api.store.results`).

Every document describes one round as of one published sequence and carries its `context`: which data, as
of when, covering how much (DESIGN principle 3). The dicts returned are what `api.web.schemas` dump. A
results document is built in its schema's own shape and key order, so that it is served without the dump
(hundreds of child rows through marshmallow cost more than the rest of the request): the tests check it
against the schema byte for byte.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import numpy as np
from sqlalchemy import Engine

from api.store.caches import connection_caches
from api.store.common import NotFound
from api.store.db import reading
from api.store.results import (
    BureauFigures,
    PublishedFigures,
    ReturnVersion,
    View,
    bureau_sums,
    bureaux_figures,
    open_view,
    published_figures,
    return_versions,
)
from tabulator.aggregation import TURNOUT_FIELDS, aggregate_checkpoints, tally_from_row
from tabulator.batch import UNKNOWN, IntArray
from tabulator.metrics import area_rows, change, percent, summarize
from tabulator.registry import Registry
from tabulator.types import Area, Candidate, Tally

BUREAU = "bureau"


def context(view: View) -> dict[str, Any]:
    """What every published figure carries: which data, as of when, covering how much."""
    publication = view.publication
    return {
        "election": view.election_code,
        "round": view.round_.number,
        "sequence": publication.sequence,
        "as_of": iso(publication.as_of),
        "published_at": iso(publication.published_at),
        "bureaux_reported": publication.bureaux_reported,
        "bureaux_total": view.bureaux_total,
        "status": view.status,
        "test": view.round_.test,
    }


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def area_of(area: Area) -> dict[str, str]:
    return {"level": area.level, "code": area.code, "name": area.name}


@dataclass(frozen=True)
class EveryChildRow:
    """Every area's and every counted bureau's row among its parent's children, made at once for a view
    (a whole static publication: 36,000 parents' rows in two calls, not one call each)."""

    areas: list[dict[str, Any]]  # by registry position
    bureaux: dict[int, dict[str, Any]]  # by registry row


def every_child_row(view: View) -> EveryChildRow:
    registry = view.index.registry
    positions = range(len(registry.areas))
    bureaux = [b for b in range(len(registry.bureaux)) if registry.counted[b]]
    return EveryChildRow(
        child_rows(registry.areas, view, view.sums(positions), view.index.bureaux_total),
        dict(zip(bureaux, _bureau_rows(view, bureaux), strict=True)),
    )


def results_of(
    view: View, level: str | None = None, code: str | None = None, *, rows_made: EveryChildRow | None = None
) -> dict[str, Any]:
    """The results of one area with its parents and a summary row for each child area (for the last level
    of areas, each bureau); for a bureau, its return and every version of it. `rows_made`: the children's
    rows, made already for the same view."""
    if level == BUREAU:
        return _bureau_results(view, code or "")
    head, children = results_parts(view, level, code, children_sums=rows_made is None)
    if rows_made:
        made = rows_made.bureaux if children.bureaux else rows_made.areas
        rows = [made[member] for member in children.members]
    elif children.bureaux:
        rows = children_rows(view, children, range(len(children.members)))
    else:
        rows = _kept_rows(view).rows(view, children.parent, children.members, children.sums)
    return {**head, "children": rows}


@dataclass(frozen=True)
class Children:
    """The children an area's page lists: areas (registry positions) or, for the last level of areas, its
    counted bureaux (registry rows), with their sums (a row each; empty when not asked for)."""

    parent: int
    bureaux: bool
    members: list[int]
    sums: IntArray


def results_parts(
    view: View, level: str | None = None, code: str | None = None, *, children_sums: bool = True
) -> tuple[dict[str, Any], Children]:
    """An area's results document but its children's rows (`children`, which comes last), and who those
    children are."""
    registry = view.index.registry
    position = view.position(level, code)
    area = registry.areas[position]
    leaf = registry.holds_bureaux(area.level)
    members = listed_bureaux(registry, position) if leaf else list(registry.children[position])
    sums = view.sums([position] if leaf or not children_sums else [position, *members])
    if not children_sums:
        members_sums = np.empty((0, sums.shape[1]), np.int64)
    else:
        members_sums = bureau_sums(view, members) if leaf else sums[1:]
    previous = view.previous_tallies([position])[position] if view.previous_tallies else None
    head = {
        **context(view),
        "area": area_of(area),
        "parents": [area_of(a) for a in registry.chain(area.level, area.code)[:-1]],
        "results": summarize(
            tally_from_row(sums[0], view.round_.candidate_codes),
            view.round_.candidates,
            bureaux_total=int(view.index.bureaux_total[position]),
            previous=previous,
        ),
    }
    return head, Children(position, leaf, members, members_sums)


def children_rows(view: View, children: Children, which: Sequence[int]) -> list[dict[str, Any]]:
    """The rows of some of a page's children (by their place among `children.members`)."""
    registry, which = view.index.registry, list(which)
    members = [children.members[i] for i in which]
    if children.bureaux:
        areas = [_bureau_area(registry, row) for row in members]
        return child_rows(areas, view, children.sums[which], np.ones(len(members), np.int64))
    areas = [registry.areas[position] for position in members]
    return child_rows(areas, view, children.sums[which], view.index.bureaux_total[members])


# Parents whose children's rows a worker keeps, the last asked for (the pages read most: the nation, its
# régions and départements). A row is about 1 kB with two candidates, 4 kB with eleven: the Nord's 648
# communes weigh 0.7 MB in round 2 of 2017, so sixteen départements of round 1 stay under about 25 MB.
CHILD_ROWS_KEPT = 16


@dataclass(frozen=True)
class _KeptRows:
    registry: Registry
    candidates: tuple[Candidate, ...]
    sums: IntArray
    rows: list[dict[str, Any]]


class ChildRowsKept:
    """The children's rows of the parents whose pages were built last, made again only for the children
    whose sums moved. On a national night a département's HTML page is built again at every sequence a
    worker sees, while a return changes one commune of its 600; the others' rows are the same dicts. (The
    API's JSON joins rows kept as JSON instead: `api.web.feed_rows`.)
    An entry is used only for the same registry and candidates, and a row only for the same sums: it is
    never wrong, only unused. (The rows are shared between pages: nothing changes them once made.)"""

    def __init__(self, capacity: int = CHILD_ROWS_KEPT) -> None:
        self.capacity = capacity
        self._kept: OrderedDict[tuple[int, int], _KeptRows] = OrderedDict()
        self._lock = threading.Lock()

    def rows(self, view: View, position: int, children: list[int], sums: IntArray) -> list[dict[str, Any]]:
        registry, candidates = view.index.registry, view.round_.candidates
        key = (view.round_.id, position)
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and (kept.registry is not registry or kept.candidates != candidates):
            kept = None
        if kept is None:
            moved = list(range(len(children)))
        else:
            moved = np.flatnonzero((kept.sums != sums).any(axis=1)).tolist()
        # Only the moved children's areas are looked up and their rows made: usually one of 600.
        made = child_rows(
            [registry.areas[children[i]] for i in moved],
            view,
            sums[moved],
            view.index.bureaux_total[[children[i] for i in moved]],
        )
        rows = made
        if kept is not None:
            rows = list(kept.rows)
            for i, row in zip(moved, made, strict=True):
                rows[i] = row
        with self._lock:
            self._kept[key] = _KeptRows(registry, candidates, sums.copy(), rows)
            self._kept.move_to_end(key)
            while len(self._kept) > self.capacity:
                self._kept.popitem(last=False)
        return rows


def _kept_rows(view: View) -> ChildRowsKept:
    """The worker's kept rows, with the engine's other caches (`api.store.caches`)."""
    kept = connection_caches(view.connection).documents
    found = kept.get("child_rows")
    if not isinstance(found, ChildRowsKept):
        found = kept.setdefault("child_rows", ChildRowsKept())
    return cast(ChildRowsKept, found)


def listed_bureaux(registry: Registry, position: int) -> list[int]:
    """The bureaux an area's page lists among its children (by registry row): an area that holds bureaux
    lists those counted; an area above lists areas, none."""
    if not registry.holds_bureaux(registry.areas[position].level):
        return []
    return [b for b in registry.children[position] if registry.counted[b]]


def child_rows(
    areas: Sequence[Area], view: View, sums: IntArray, bureaux_total: IntArray
) -> list[dict[str, Any]]:
    """Each area's summary row among its parent's children, from its sums (a row each)."""
    rows = area_rows(sums, view.round_.candidates, bureaux_total)
    return [{**row, **area_of(area)} for area, row in zip(areas, rows, strict=True)]


def _bureau_rows(view: View, bureaux: list[int]) -> list[dict[str, Any]]:
    """Some bureaux' rows among their commune's children (by registry row)."""
    registry = view.index.registry
    areas = [_bureau_area(registry, b) for b in bureaux]
    return child_rows(areas, view, bureau_sums(view, bureaux), np.ones(len(bureaux), np.int64))


def _bureau_area(registry: Registry, row: int) -> Area:
    bureau = registry.bureaux[row]
    return Area(BUREAU, bureau.code, bureau.name, bureau.area_code)


def _bureau_results(view: View, code: str) -> dict[str, Any]:
    row = view.index.registry.bureau_index.get(code)
    if row is None:
        raise NotFound(f"There is no bureau {code!r} in election {view.election_code}.")
    return bureau_results(view, [row])[0]


def bureau_results(view: View, rows: Sequence[int]) -> list[dict[str, Any]]:
    """The results documents of some bureaux (by registry row): their returns and every version of them,
    read in one go for one bureau or for the whole round."""
    ids = [int(view.index.bureau_ids[row]) for row in rows]
    versions = return_versions(view, ids)
    shared = context(view)
    parents: dict[str, list[dict[str, str]]] = {}  # by commune: its bureaux share them
    return [
        _bureau_document(view, shared, row, figures, versions.get(bureau_id, []), parents=parents)
        for row, bureau_id, figures in zip(rows, ids, bureaux_figures(view, rows, versions), strict=True)
    ]


def _bureau_document(
    view: View,
    shared: dict[str, Any],
    row: int,
    figures: BureauFigures,
    versions: list[ReturnVersion],
    *,
    parents: dict[str, list[dict[str, str]]],
) -> dict[str, Any]:
    registry = view.index.registry
    bureau = registry.bureaux[row]
    if bureau.area_code not in parents:
        parents[bureau.area_code] = [
            area_of(a) for a in registry.chain(registry.leaf_level, bureau.area_code)
        ]
    previous = None
    if figures.previous_voters is not None:
        reported = int(figures.previous_voters != UNKNOWN)
        previous = Tally(reported, max(figures.previous_voters, 0), 0, 0, 0, {})
    return {
        **shared,
        "area": area_of(_bureau_area(registry, row)),
        "parents": parents[bureau.area_code],
        "results": summarize(
            figures.tally, view.round_.candidates, bureaux_total=int(registry.counted[row]), previous=previous
        ),
        "children": [],
        "versions": [_version(version, view.round_.candidate_codes) for version in versions],
    }


def _version(version: ReturnVersion, candidate_codes: Sequence[str]) -> dict[str, Any]:
    return {
        "voters": version.voters,
        "blank": version.blank,
        "null": version.null,
        "valid": version.valid,
        "votes": {code: version.votes.get(code, 0) for code in candidate_codes},
        "version": version.version,
        "sequence": version.sequence,
        "reported_at": iso(version.reported_at),
        "recorded_at": iso(version.recorded_at),
        "reason": version.reason,
        "warnings": version.warnings,
        "warning_notes": [_note(note) for note in version.warning_notes],
    }


def _note(note: dict[str, Any]) -> dict[str, Any]:
    """A warning's note as the schema has it (an older note may lack a key, or hold a whole score)."""
    return {
        "code": note.get("code", ""),
        "field": note.get("field", ""),
        "message": note.get("message", ""),
        "score": float(note.get("score", 0)),
    }


def turnout_of(view: View, level: str | None = None, code: str | None = None) -> dict[str, Any]:
    """The day's checkpoints of an area, each like for like against the previous round at the same hour."""
    position = view.position(level, code)
    area = view.index.registry.areas[position]
    return {
        **context(view),
        "area": area_of(area),
        "area_bureaux_total": int(view.index.bureaux_total[position]),
        "checkpoints": [_checkpoint(view, position, time) for time in sorted(view.checkpoints)],
    }


def _checkpoint(view: View, position: int, time: str) -> dict[str, Any]:
    """One checkpoint hour of an area: the bureaux that reported it, their votants, and the change on the
    bureaux that reported it in both rounds (null in a first round)."""
    voters_by_bureau = view.checkpoints[time]
    bureau_ids = list(voters_by_bureau)
    rows = np.array([view.index.bureau_position[b] for b in bureau_ids], np.int64)
    before = view.previous_checkpoints.get(time, {})
    earlier = np.array([before.get(b, UNKNOWN) for b in bureau_ids], np.int64)
    totals = aggregate_checkpoints(
        view.index.registry, rows, np.array(list(voters_by_bureau.values()), np.int64), earlier
    )
    row = dict(zip(TURNOUT_FIELDS, (int(v) for v in totals[position]), strict=True))
    like_for_like = {
        "matched_bureaux": row["matched_bureaux"],
        "voters": row["matched_voters"],
        "previous_voters": row["matched_previous_voters"],
        "change_pct": change(row["matched_voters"], row["matched_previous_voters"]),
    }
    return {
        "time": time,
        "bureaux_reported": row["bureaux_reported"],
        "voters": row["voters"],
        "like_for_like": like_for_like if view.previous_tallies is not None else None,
    }


def timeline(view: View) -> dict[str, Any]:
    """One row per published sequence up to the view's: the evening's curve."""
    return {
        **context(view),
        "timeline": [_timeline_row(figures, view.round_.candidates) for figures in published_figures(view)],
    }


def _timeline_row(figures: PublishedFigures, candidates: Sequence[Candidate]) -> dict[str, Any]:
    return {
        "sequence": figures.sequence,
        "as_of": iso(figures.as_of),
        "published_at": iso(figures.published_at),
        "bureaux_reported": figures.bureaux_reported,
        "voters": figures.voters,
        "blank": figures.blank,
        "null": figures.null,
        "valid": figures.valid,
        "candidates": [
            {
                "id": c.id,
                "votes": figures.votes.get(c.id, 0),
                "pct_valid": percent(figures.votes.get(c.id, 0), figures.valid),
            }
            for c in candidates
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
        return timeline(open_view(connection, election_code, round_number, sequence))
