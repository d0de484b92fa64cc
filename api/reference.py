"""Reference data the project ships in `data/`: the département → région map of the ministry's files."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from tabulator.ministry import Departement, read_departements

DEPARTEMENTS = Path(__file__).resolve().parent.parent / "data" / "departements.csv"


@cache
def departements() -> dict[str, Departement]:
    """Keyed by the ministry's code (ZA, 2A, 75)."""
    return read_departements(DEPARTEMENTS.read_text(encoding="utf-8"))
