"""Reference data the project ships as package data: the département → région map of the ministry's files.

Read through `importlib.resources`, so that it is found wherever the package is installed (a wheel, the
image), not only beside a checkout.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from tabulator.ministry import Departement, read_departements

DEPARTEMENTS = files("tabulator") / "reference" / "departements.csv"


@cache
def departements() -> dict[str, Departement]:
    """Keyed by the ministry's code (ZA, 2A, 75)."""
    return read_departements(DEPARTEMENTS.read_text(encoding="utf-8"))
