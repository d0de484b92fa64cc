"""The map of the départements on the national page (and of its own on a région's page): each coloured by
its leading candidate, shaded by the lead's margin, grey where no bureau is counted yet; each shape a link
to the département's page.

The outlines are the project's own small file (`static/map/departements.json`, built once by
`data/departements-map/build.py` from IGN GEOFLA outlines, Licence Ouverte): read once per process. The
figures are the level feed of the départements (`…/results/departement`), which page.js fetches again on
every new sequence to recolour the same shapes; the colours and the shading's steps are written on the
map for it, so that the script holds none of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent / "static"
OUTLINES = STATIC / "map" / "departements.json"
LEVEL = "departement"
NOTHING_YET = "#d6d6d6"
MARGIN = 4  # drawing units around a région's départements
# The lead's margin over the runner-up, in points, and how strongly its colour shows: (below, opacity).
SHADES = ((5.0, 0.45), (10.0, 0.6), (20.0, 0.8), (None, 1.0))


@dataclass(frozen=True)
class Shape:
    code: str
    name: str
    path: str
    zoom: str | None  # drawn again, larger, in the Paris inset
    fill: str
    opacity: float
    title: str


@dataclass(frozen=True)
class ResultsMap:
    view_box: str
    insets: list[list[int]]
    shapes: list[Shape]
    colours: dict[str, str]
    shades: list[list[float | None]]
    credit: str
    nothing: str = NOTHING_YET


@cache
def outlines() -> dict[str, Any]:
    return json.loads(OUTLINES.read_text())  # type: ignore[no-any-return]


Format = Callable[[float], str]


@dataclass(frozen=True)
class Words:
    """How the page writes a shape's title: the candidates' colours and names by id, its sentences, and
    a share and a margin in its language."""

    colours: dict[str, str]
    names: dict[str, str]
    text: dict[str, str]
    pct: Format
    points: Format


def results_map(feed: dict[str, Any], words: Words) -> ResultsMap | None:
    """The map of a level feed of départements: the whole country's, insets and all, or, for the feed of
    one area (a région's), its départements alone, framed to their extent. None when fewer than two of
    them have an outline: one shape says nothing a table would not."""
    drawn = outlines()
    known = drawn["departements"]
    rows = [row for row in feed["areas"] if row["code"] in known]
    if len(rows) < 2:
        return None
    whole = feed.get("within") is None

    def shape(row: dict[str, Any]) -> Shape:
        fill, opacity, title = _colour(row, words)
        zoom = drawn["zoom"].get(row["code"]) if whole else None
        return Shape(row["code"], row["name"], known[row["code"]]["path"], zoom, fill, opacity, title)

    return ResultsMap(
        view_box=" ".join(
            map(str, drawn["view_box"] if whole else _framed([known[r["code"]]["box"] for r in rows]))
        ),
        insets=drawn["insets"] if whole else [],
        shapes=[shape(row) for row in rows],
        colours=words.colours,
        shades=[list(step) for step in SHADES],
        credit=drawn["credit"],
    )


def _colour(row: dict[str, Any], words: Words) -> tuple[str, float, str]:
    """Fill, opacity and the shape's title: its leader and the lead, or nothing counted yet."""
    leader = row.get("leader")
    if not row["bureaux_reported"] or not leader:
        return NOTHING_YET, 1.0, words.text["map_nothing"].format(name=row["name"])
    shares = sorted((c["pct_valid"] or 0.0 for c in row["candidates"]), reverse=True)
    margin = shares[0] - (shares[1] if len(shares) > 1 else 0.0)
    title = words.text["map_title"].format(
        name=row["name"], leader=words.names[leader], pct=words.pct(shares[0]), margin=words.points(margin)
    )
    return words.colours[leader], shade(margin), title


def _framed(boxes: list[list[int]]) -> list[int]:
    """A viewBox around the boxes, with a margin of a few units for the borders."""
    left, top = min(box[0] for box in boxes) - MARGIN, min(box[1] for box in boxes) - MARGIN
    right, bottom = max(box[2] for box in boxes) + MARGIN, max(box[3] for box in boxes) + MARGIN
    return [left, top, right - left, bottom - top]


def shade(margin: float) -> float:
    """The opacity of a lead of `margin` points: a narrow lead pale, a wide one full."""
    return next(opacity for below, opacity in SHADES if below is None or margin < below)
