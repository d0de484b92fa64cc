"""A level's feed: every area of one level — or those of a level within one area (the communes of a
département) — with its figures, one row each. What a newsroom draws a map from, in one request per
sequence instead of one per area.

A row carries its parents' codes in its own cut (a commune: its département, région and nation; a
circonscription: the same), so a map can colour communes and group them without another request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.documents.results import context
from api.store.common import NotFound
from api.store.results import View
from tabulator.batch import IntArray
from tabulator.metrics import area_rows
from tabulator.types import Area


def level_results(
    view: View, level: str, within_level: str | None = None, within_code: str | None = None
) -> dict[str, Any]:
    """Every area of `level`, or those within the area (`within_level`, `within_code`), in the registry's
    order, each with its parents' codes and its figures."""
    header, positions = level_feed(view, level, within_level, within_code)
    return {**header, "areas": feed_rows(view, positions, view.sums(positions))}


def level_feed(
    view: View, level: str, within_level: str | None = None, within_code: str | None = None
) -> tuple[dict[str, Any], tuple[int, ...]]:
    """A level's feed but its rows (`areas`, which come last), and the positions of the areas it lists."""
    registry = view.index.registry
    if level not in registry.parent_level:
        raise NotFound(
            f"Election {view.election_code} has no level {level!r}: its levels are "
            f"{', '.join(registry.columns)} (each bureau's return: the exports)."
        )
    within: Area | None = None
    if within_level is None:
        positions = registry.at_level(level)
    else:
        position = view.position(within_level, within_code)
        if within_level not in registry.levels_above(level):
            raise NotFound(
                f"A {level} does not lie within a {within_level} in election {view.election_code}: "
                f"the levels above a {level} are {', '.join(registry.levels_above(level))}."
            )
        within, positions = registry.areas[position], registry.areas_within(position, level)
    header = {
        **context(view),
        "level": level,
        "within": None
        if within is None
        else {"level": within.level, "code": within.code, "name": within.name},
        "parent_levels": list(reversed(registry.levels_above(level))),
    }
    return header, tuple(positions)


def feed_rows(view: View, positions: Sequence[int], sums: IntArray) -> list[dict[str, Any]]:
    """Some areas' rows in a level's feed, from their sums (a row each)."""
    registry = view.index.registry
    rows = area_rows(sums, view.round_.candidates, view.index.bureaux_total[list(positions)])
    return [
        {
            "code": registry.areas[p].code,
            "name": registry.areas[p].name,
            "parents": registry.parent_codes(p),
            **row,
        }
        for p, row in zip(positions, rows, strict=True)
    ]
