"""The area tree and its bureaux, indexed for fast aggregation.

A `Registry` numbers areas and bureaux 0..n-1 and keeps, for every bureau, the index of its ancestor at
each level. Summing any per-bureau matrix up the tree is then one `numpy.add.at` per level, whether the
batch holds one return or seventy thousand.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tabulator.types import Area, Bureau, Election, Issue

IntArray = npt.NDArray[np.int64]

# Codes name URLs (`/results/commune/971-02-105`) and the static publication's files, so a code is one
# plain path segment: ASCII letters and digits, and `-`, `_`, `.` between them (the ministry's bureaux
# include `01.1` and `069A`, Corsica is `2A`, abroad `ZZ`). Never `/`, `\`, `..`, a space or a control
# character; first a letter or digit, so never `.`, `..` or a hidden file; at most the database's 80.
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_CODE_LENGTH = 80
CODE_RULE = (
    "letters, digits and - _ . only, starting with a letter or digit, without '..', "
    f"at most {MAX_CODE_LENGTH} characters"
)


class RegistryError(ValueError):
    """The areas and bureaux do not form a tree whose levels match the election's."""


@dataclass(frozen=True)
class Registry:
    levels: tuple[str, ...]
    areas: tuple[Area, ...]
    bureaux: tuple[Bureau, ...]
    area_index: dict[tuple[str, str], int]
    bureau_index: dict[str, int]
    ancestors: IntArray  # shape (bureaux, levels): area index of each bureau's ancestor per level
    counted: npt.NDArray[np.bool_]  # bureaux that are not merged into another
    registered: IntArray  # inscrits per bureau, -1 where the election has no register
    children: tuple[tuple[int, ...], ...]  # per area, its child areas (or, for the last level, its bureaux)

    @classmethod
    def build(cls, levels: Sequence[str], areas: Iterable[Area], bureaux: Iterable[Bureau]) -> Registry:
        areas = tuple(areas)
        bureaux = tuple(bureaux)
        area_index = _index_areas(levels, areas)
        bureau_index = {bureau.code: position for position, bureau in enumerate(bureaux)}
        if len(bureau_index) != len(bureaux):
            raise RegistryError("a bureau code appears twice")
        ancestors = _ancestors(levels, areas, bureaux, area_index)
        counted = np.array([bureau.merged_into is None for bureau in bureaux], dtype=bool)
        registered = np.array([-1 if b.registered is None else b.registered for b in bureaux], np.int64)
        _check_merges(bureaux, bureau_index)
        children = _children(levels, areas, bureaux, area_index)
        return cls(
            tuple(levels), areas, bureaux, area_index, bureau_index, ancestors, counted, registered, children
        )

    @property
    def leaf_level(self) -> str:
        return self.levels[-1]

    def area(self, level: str, code: str) -> Area:
        return self.areas[self.area_index[(level, code)]]

    def bureaux_total(self) -> IntArray:
        """Per area, the bureaux that report results (merged ones are covered by another's return)."""
        return self.sum_up(np.flatnonzero(self.counted), np.ones((int(self.counted.sum()), 1), np.int64))[
            :, 0
        ]

    def sum_up(self, bureau_rows: IntArray, values: IntArray) -> IntArray:
        """Sum per-bureau rows of `values` into every ancestor area: returns shape (areas, columns)."""
        totals = np.zeros((len(self.areas), values.shape[1]), dtype=np.int64)
        for level in range(len(self.levels)):
            np.add.at(totals, self.ancestors[bureau_rows, level], values)
        return totals

    def sum_into_ancestors(self, bureau_rows: IntArray, values: IntArray) -> tuple[IntArray, IntArray]:
        """`sum_up` for only the areas these bureaux are in: (their positions ascending, their totals).

        One bureau's return touches five areas of 36,000; this spares a write the other 35,995.
        """
        areas = self.ancestors[bureau_rows].ravel()
        touched, slots = np.unique(areas, return_inverse=True)
        totals = np.zeros((len(touched), values.shape[1]), dtype=np.int64)
        np.add.at(totals, slots, np.repeat(values, len(self.levels), axis=0))
        return touched, totals

    def chain(self, level: str, code: str) -> list[Area]:
        """The area and its parents, top level first (for breadcrumbs)."""
        chain = [self.area(level, code)]
        while chain[-1].parent_code is not None:
            parent_level = self.levels[self.levels.index(chain[-1].level) - 1]
            chain.append(self.area(parent_level, chain[-1].parent_code))
        return chain[::-1]


def code_problem(code: str) -> str | None:
    """Why `code` cannot name an election, a level, an area, a bureau or a candidate; None if it can."""
    if not code:
        return "it is empty"
    if len(code) > MAX_CODE_LENGTH:
        return f"it has {len(code)} characters"
    if ".." in code:
        return "it contains '..'"
    if CODE.fullmatch(code) is None:
        bad = next((c for c in code if not (c.isascii() and (c.isalnum() or c in "-_."))), code[0])
        return f"it {'starts with' if bad == code[0] else 'contains'} {bad!r}"
    return None


def check_codes(election: Election, areas: Iterable[Area], bureaux: Iterable[Bureau]) -> list[Issue]:
    """Every code an election defines, checked before anything is stored or written: error `bad_code`.

    References (a parent, a bureau's area, a merge) need no check of their own: they must name a code
    defined here, which the tree's checks enforce.
    """
    named = [("Election", election.id)]
    named += [("Level", level) for level in election.levels]
    named += [(f"Round {r.number}, candidate", c.id) for r in election.rounds for c in r.candidates]
    named += [(f"Area {area.level}", area.code) for area in areas]
    issues = [
        Issue(
            "bad_code",
            f"{what} code {_shown(code)} is not valid: {problem}; codes are {CODE_RULE}.",
            field="code",
        )
        for what, code in named
        if (problem := code_problem(code))
    ]
    return issues + [
        Issue(
            "bad_code",
            f"Bureau code {_shown(bureau.code)} is not valid: {problem}; codes are {CODE_RULE}.",
            field="code",
            bureau=bureau.code[:MAX_CODE_LENGTH],
        )
        for bureau in bureaux
        if (problem := code_problem(bureau.code))
    ]


def _shown(code: str) -> str:
    """The code as a message quotes it: escaped, and cut short (a hostile file may send megabytes)."""
    return repr(code) if len(code) <= MAX_CODE_LENGTH else f"{code[:MAX_CODE_LENGTH]!r}…"


def _index_areas(levels: Sequence[str], areas: Sequence[Area]) -> dict[tuple[str, str], int]:
    index: dict[tuple[str, str], int] = {}
    for position, area in enumerate(areas):
        if area.level not in levels:
            raise RegistryError(f"area {area.code} has level {area.level!r}, not one of {', '.join(levels)}")
        if (area.level, area.code) in index:
            raise RegistryError(f"area {area.level} {area.code} appears twice")
        depth = levels.index(area.level)
        if depth == 0:
            if area.parent_code:
                raise RegistryError(f"top area {area.code} cannot have a parent")
        elif (levels[depth - 1], area.parent_code or "") not in index:
            raise RegistryError(
                f"area {area.level} {area.code}: parent {area.parent_code!r} is not a {levels[depth - 1]} "
                "listed before it"
            )
        index[(area.level, area.code)] = position
    return index


def _ancestors(
    levels: Sequence[str],
    areas: Sequence[Area],
    bureaux: Sequence[Bureau],
    area_index: dict[tuple[str, str], int],
) -> IntArray:
    # An area's chain is computed once and shared by all its bureaux.
    chains: dict[int, list[int]] = {}

    def chain_of(position: int) -> list[int]:
        if position not in chains:
            area = areas[position]
            depth = levels.index(area.level)
            above = chain_of(area_index[(levels[depth - 1], area.parent_code or "")]) if depth else []
            chains[position] = [*above, position]
        return chains[position]

    ancestors = np.zeros((len(bureaux), len(levels)), dtype=np.int64)
    for row, bureau in enumerate(bureaux):
        leaf = area_index.get((levels[-1], bureau.area_code))
        if leaf is None:
            raise RegistryError(f"bureau {bureau.code}: area {bureau.area_code!r} is not a {levels[-1]}")
        ancestors[row] = chain_of(leaf)
    return ancestors


def _children(
    levels: Sequence[str],
    areas: Sequence[Area],
    bureaux: Sequence[Bureau],
    area_index: dict[tuple[str, str], int],
) -> tuple[tuple[int, ...], ...]:
    below: list[list[int]] = [[] for _ in areas]
    for position, area in enumerate(areas):
        depth = levels.index(area.level)
        if depth:
            below[area_index[(levels[depth - 1], area.parent_code or "")]].append(position)
    for row, bureau in enumerate(bureaux):
        below[area_index[(levels[-1], bureau.area_code)]].append(row)
    return tuple(tuple(positions) for positions in below)


def _check_merges(bureaux: Sequence[Bureau], bureau_index: dict[str, int]) -> None:
    for bureau in bureaux:
        if bureau.merged_into is None:
            continue
        target = bureau_index.get(bureau.merged_into)
        if target is None or bureaux[target].merged_into is not None:
            raise RegistryError(
                f"bureau {bureau.code} is merged into {bureau.merged_into!r}, not a reporting bureau"
            )
        if bureaux[target].area_code != bureau.area_code:
            raise RegistryError(f"bureau {bureau.code} is merged into {bureau.merged_into}, in another area")
