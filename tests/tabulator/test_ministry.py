"""Reading the ministry's layout keeps what an export in that layout writes back: the candidates' sex and
the file's own labels beside the reference names shown."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest

from tabulator.ingest import FileRefused
from tabulator.ministry import read_departements, read_ministry
from tabulator.types import Area, Candidate, Issue

EXTRACT = Path(__file__).resolve().parents[1] / "fixtures" / "PR17_BVot_T2_extract.txt"
# Package data: what an installed tabulator reads, wherever it is installed.
DEPARTEMENTS = read_departements(
    (files("tabulator") / "reference" / "departements.csv").read_text(encoding="utf-8")
)


def test_the_file_gives_each_candidate_and_area_as_it_writes_them():
    ministry = read_ministry(EXTRACT.read_bytes(), DEPARTEMENTS)
    areas, bureaux = ministry.registry()
    by_code = {(area.level, area.code): area for area in areas}

    assert ministry.candidates == (
        Candidate("macron", "Emmanuel Macron", 1, "M"),
        Candidate("le-pen", "Marine Le Pen", 2, "F"),
    )
    assert [
        by_code[key]
        for key in (
            ("departement", "07"),
            ("circonscription", "07-01"),
            ("commune", "07-01-006"),
            ("departement", "976"),
            ("departement", "99"),
        )
    ] == [
        Area("departement", "07", "Ardèche", "84", "Ardeche"),
        Area("circonscription", "07-01", "Ardèche, 1ère circonscription", "07", "1ère circonscription"),
        Area("commune", "07-01-006", "Albon d'Ardèche", "07-01", "Albon d'Ardèche"),
        Area("departement", "976", "Mayotte", "06", "Mayotte"),
        Area("departement", "99", "Français établis hors de France", "FE", "Francais De L'Etranger"),
    ]
    assert (len(bureaux), bureaux[0].code, bureaux[-1].code) == (31, "01-04-001-0001", "99-11-068-0001")


def test_a_sex_other_than_m_or_f_is_refused():
    text = EXTRACT.read_bytes().decode("latin-1").replace(";1;M;MACRON;", ";1;H;MACRON;")

    with pytest.raises(FileRefused) as refused:
        read_ministry(text.encode("latin-1"), DEPARTEMENTS)

    assert refused.value.issues == [
        Issue(
            "bad_sex", "Line 2, column 23: Sexe is M, F or empty; got 'H'.", field="Sexe", line=2, column=23
        )
    ]
