"""Reading the ministry's layout keeps what an export in that layout writes back: the candidates' sex and
the file's own labels beside the reference names shown."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest

from tabulator.ingest import FileRefused
from tabulator.ministry import insee_commune, ministry_commune, read_departements, read_ministry
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
            ("commune", "07006"),
            ("commune", "75056"),
            ("departement", "976"),
            ("commune", "97601"),
            ("commune", "97502"),
            ("departement", "99"),
            ("commune", "ZZ068"),
        )
    ] == [
        Area("departement", "07", "Ardèche", "84", "Ardeche"),
        Area("circonscription", "07-01", "Ardèche, 1ère circonscription", "07", "1ère circonscription"),
        Area("commune", "07006", "Albon d'Ardèche", "07", "Albon d'Ardèche"),
        Area("commune", "75056", "Paris", "75", "Paris"),
        Area("departement", "976", "Mayotte", "06", "Mayotte"),
        Area("commune", "97601", "Acoua", "976", "Acoua"),
        Area("commune", "97502", "Saint-Pierre", "975", "Saint-Pierre"),
        Area("departement", "99", "Français établis hors de France", "FE", "Francais De L'Etranger"),
        Area("commune", "ZZ068", "Douchanbe", "99", "Douchanbe"),
    ]
    assert (len(bureaux), bureaux[0].code, bureaux[-1].code) == (31, "01001_0001", "ZZ068_0001")
    # Paris spans two circonscriptions of the extract and is one commune: its six bureaux, each with its
    # circonscription.
    assert [(b.code, b.area_code, b.cut_areas) for b in bureaux if b.code.startswith("75")] == [
        (f"75056_{number}", "75056", {"circonscription": circonscription})
        for number, circonscription in [
            ("0101", "75-01"),
            ("0102", "75-01"),
            ("0103", "75-01"),
            ("0301", "75-05"),
            ("0302", "75-05"),
            ("0303", "75-05"),
        ]
    ]


def test_insee_codes_of_communes_and_the_ministry_s_come_back_both_ways():
    pairs = [
        ("01", "001", "01001"),
        ("2A", "004", "2A004"),
        ("ZA", "101", "97101"),
        ("ZM", "501", "97601"),
        ("ZP", "011", "98711"),
        ("ZN", "801", "98801"),
        ("ZX", "701", "97701"),
        ("ZX", "801", "97801"),
        ("ZW", "001", "ZW001"),
        ("ZZ", "068", "ZZ068"),
    ]
    assert [insee_commune(DEPARTEMENTS[d], commune) for d, commune, _ in pairs] == [
        code for *_, code in pairs
    ]
    assert [ministry_commune(DEPARTEMENTS[d], code) for d, _, code in pairs] == [c for _, c, _ in pairs]


def test_two_of_the_ministry_s_communes_that_would_make_one_insee_code_are_refused():
    rows = EXTRACT.read_bytes().decode("latin-1").split("\r\n")
    # Mayotte's Acoua is 501 in the ministry's numbering; 601 would also make INSEE's 97601.
    text = "\r\n".join([*rows[:-1], rows[-2].replace("ZZ;", "ZM;").replace(";068;", ";601;")])

    with pytest.raises(FileRefused) as refused:
        read_ministry(text.encode("latin-1"), DEPARTEMENTS)

    assert refused.value.issues == [
        Issue(
            "bad_code",
            "Line 33, column 5: commune ZM 601 would be INSEE commune 97601, as ZM 501 is: one of the two "
            "codes is wrong.",
            field="Code de la commune",
            line=33,
            column=5,
        )
    ]


def test_a_sex_other_than_m_or_f_is_refused():
    text = EXTRACT.read_bytes().decode("latin-1").replace(";1;M;MACRON;", ";1;H;MACRON;")

    with pytest.raises(FileRefused) as refused:
        read_ministry(text.encode("latin-1"), DEPARTEMENTS)

    assert refused.value.issues == [
        Issue(
            "bad_sex", "Line 2, column 23: Sexe is M, F or empty; got 'H'.", field="Sexe", line=2, column=23
        )
    ]
