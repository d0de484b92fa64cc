"""Build the results page's map of the départements, once, from the outlines in ../shared/data/geo-fr.

    python data/departements-map/build.py   # writes api/web/static/map/departements.json

Each département's outline is projected (longitude scaled by the cosine of its region's mean latitude, so
shapes keep their proportions), simplified (Douglas–Peucker, islets dropped) and written as an SVG path in
whole units of one drawing. Metropolitan France fills the drawing; Corsica and the five overseas
départements sit in insets along the bottom, each at its own scale; the collectivités d'outre-mer, which
the outlines do not cover, get a square each, so that every département of an election has a
shape. The output is small enough for a page (about 40 KB, 14 KB gzipped) and is committed; the outlines
themselves are not. Licence Ouverte (Etalab): credit "IGN GEOFLA, via france-geojson" under the map.
"""

from __future__ import annotations

import gzip
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT.parent / "shared" / "data" / "geo-fr" / "departements-avec-outre-mer.geojson.gz"
OUTPUT = ROOT / "api" / "web" / "static" / "map" / "departements.json"
WIDTH, HEIGHT = 1000, 1060
MAINLAND = (10, 10, 830, 860)  # x, y, width, height of metropolitan France's box
# The insets along the bottom: (codes, box); Corsica among them, as the official maps place it.
INSETS = [
    (("971",), (20, 900, 110, 110)),
    (("972",), (140, 900, 110, 110)),
    (("973",), (260, 900, 110, 110)),
    (("974",), (380, 900, 110, 110)),
    (("976",), (500, 900, 110, 110)),
    (("2A", "2B"), (860, 620, 130, 260)),
]
# Paris and its three neighbours are a few units wide on the map: drawn again, larger, top right.
ZOOM = (("75", "92", "93", "94"), (860, 20, 130, 130))
# Départements of an election that no outline covers: the collectivités d'outre-mer, a square each.
SQUARES = ("975", "977", "986", "987", "988")
SQUARE_BOX = (620, 900, 360, 110)
TOLERANCE = 1.1  # drawing units: how far a simplified outline may stray from the original
SMALLEST_RING = 6.0  # drawing units²: islets smaller than this are left out


def main() -> int:
    if not SOURCE.exists():
        print(f"{SOURCE} is missing: the map is built from ../shared/data/geo-fr.", file=sys.stderr)
        return 1
    features = {
        f["properties"]["code"]: f for f in json.loads(gzip.decompress(SOURCE.read_bytes()))["features"]
    }
    shapes: dict[str, dict[str, Any]] = {}
    inset_codes = {code for codes, _ in INSETS for code in codes}
    mainland = [code for code in features if code not in inset_codes]
    for codes, box in [(tuple(mainland), MAINLAND), *INSETS]:
        shapes.update(_drawn({code: features[code] for code in codes}, box))
    codes, box = ZOOM
    zoomed = _drawn({code: features[code] for code in codes}, box)
    for index, code in enumerate(SQUARES):
        x, y, width, height = SQUARE_BOX
        side = min(height - 10, width / len(SQUARES) - 10)
        left = x + index * (width / len(SQUARES)) + 5
        shapes[code] = {
            "name": code,
            "path": f"M{left:.0f} {y + 5:.0f}h{side:.0f}v{side:.0f}h{-side:.0f}z",
            "box": [round(left), y + 5, round(left + side), round(y + 5 + side)],
        }
    document = {
        "source": "IGN GEOFLA 2.2 (2016), via france-geojson; Licence Ouverte (Etalab)",
        "credit": "IGN GEOFLA, via france-geojson",
        "view_box": [0, 0, WIDTH, HEIGHT],
        "insets": [box for _, box in INSETS] + [list(SQUARE_BOX), ZOOM[1]],
        "departements": dict(sorted(shapes.items())),
        "zoom": {code: shape["path"] for code, shape in sorted(zoomed.items())},
    }
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    OUTPUT.write_text(text + "\n")
    packed = len(gzip.compress(text.encode()))
    print(f"{OUTPUT.relative_to(ROOT)}: {len(shapes)} départements, {len(text):,} bytes, {packed:,} gzipped")
    return 0


def _drawn(features: dict[str, Any], box: tuple[int, int, int, int]) -> dict[str, dict[str, Any]]:
    """The features' outlines fitted together into one box of the drawing."""
    rings = {code: list(_rings(feature["geometry"])) for code, feature in features.items()}
    points = np.concatenate([ring for found in rings.values() for ring in found])
    scale_x = math.cos(math.radians(float(points[:, 1].mean())))
    projected = {
        code: [np.column_stack([r[:, 0] * scale_x, -r[:, 1]]) for r in found] for code, found in rings.items()
    }
    every = np.concatenate([r for found in projected.values() for r in found])
    low, high = every.min(axis=0), every.max(axis=0)
    x, y, width, height = box
    scale = min(width / (high[0] - low[0]), height / (high[1] - low[1]))
    offset = np.array(
        [x + (width - (high[0] - low[0]) * scale) / 2, y + (height - (high[1] - low[1]) * scale) / 2]
    )
    drawn = {}
    for code, found in projected.items():
        placed = [(ring - low) * scale + offset for ring in found]
        kept = [_simplified(ring) for ring in placed if _area(ring) >= SMALLEST_RING] or [
            _simplified(max(placed, key=_area))
        ]
        drawn[code] = {
            "name": features[code]["properties"]["nom"],
            "path": "".join(_path(ring) for ring in kept),
            "box": _box(np.concatenate(kept)),  # its extent, for a map of a région's départements alone
        }
    return drawn


def _box(points: np.ndarray) -> list[int]:
    return [
        *np.floor(points.min(axis=0)).astype(int).tolist(),
        *np.ceil(points.max(axis=0)).astype(int).tolist(),
    ]


def _rings(geometry: dict[str, Any]) -> list[np.ndarray]:
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    return [np.array(polygon[0], np.float64) for polygon in polygons]  # outer rings: no holes at this size


def _area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))) / 2


def _simplified(ring: np.ndarray) -> np.ndarray:
    keep = np.zeros(len(ring), bool)
    keep[0] = keep[-1] = True
    stack = [(0, len(ring) - 1)]
    while stack:
        first, last = stack.pop()
        if last - first < 2:
            continue
        start, end = ring[first], ring[last]
        segment = end - start
        span = float(np.hypot(*segment))
        inner = ring[first + 1 : last]
        if span == 0:
            distances = np.hypot(*(inner - start).T)
        else:
            distances = (
                np.abs(segment[0] * (inner[:, 1] - start[1]) - segment[1] * (inner[:, 0] - start[0])) / span
            )
        farthest = int(np.argmax(distances))
        if distances[farthest] > TOLERANCE:
            middle = first + 1 + farthest
            keep[middle] = True
            stack += [(first, middle), (middle, last)]
    return ring[keep]


def _path(ring: np.ndarray) -> str:
    """`M x y` then relative moves in whole units, repeated points dropped: the shortest text for a ring."""
    points = np.round(ring).astype(int)
    steps = np.diff(points, axis=0)
    steps = steps[np.any(steps != 0, axis=1)]
    if len(steps) < 2:
        return ""
    moves = " ".join(f"{dx} {dy}" for dx, dy in steps)
    return f"M{points[0][0]} {points[0][1]}l{moves}z"


if __name__ == "__main__":
    sys.exit(main())
