"""Codes become URLs and file names: the rule every loader applies, and the cells every CSV writer guards."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from pathlib import Path

import pytest

from tabulator.election_folder import read_election_folder
from tabulator.ingest import FileRefused
from tabulator.ministry import CUTS, LEVELS, read_departements, read_ministry
from tabulator.registry import CODE_RULE, check_codes, code_problem
from tabulator.spreadsheet import safe_cell, safe_row
from tabulator.types import Area, Bureau, Candidate, Issue
from tests.builders import AREAS, BUREAUX, SAMPLE
from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parents[2]
PRIMARY = ROOT / "data" / "primaire-gauche-2017"
PRESIDENTIAL_2017_ROUND_2 = SHARED_DATA / "fr-pres2017" / "PR17_BVot_T2_FE.txt.gz"


@pytest.mark.parametrize(
    "code",
    ["FR", "2A", "ZZ", "971", "971-02-105-0001", "14-01-118-01.1", "069A", "primaire-gauche-2017", "a_b"],
)
def test_real_codes_are_codes(code):
    assert code_problem(code) is None


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("", "it is empty"),
        ("../../../../outside/escaped", "it contains '..'"),
        ("..", "it contains '..'"),
        ("75..01", "it contains '..'"),
        (".", "it starts with '.'"),
        (".hidden", "it starts with '.'"),
        ("-rf", "it starts with '-'"),
        ("75/01", "it contains '/'"),
        ("/etc", "it starts with '/'"),
        ("75\\01", "it contains '\\\\'"),
        ("75 01", "it contains ' '"),
        ("75\x0001", "it contains '\\x00'"),
        ("75\n", "it contains '\\n'"),
        ("Île", "it starts with 'Î'"),
        ("=cmd", "it starts with '='"),
        ("7" * 81, "it has 81 characters"),
    ],
)
def test_anything_else_is_refused_with_its_reason(code, problem):
    assert code_problem(code) == problem


def test_check_codes_names_every_bad_code_of_an_election():
    election = replace(
        SAMPLE,
        id="../mini",
        levels=(*SAMPLE.levels[:3], "circonscription/x"),
        rounds=(replace(SAMPLE.rounds[0], candidates=(Candidate("ha mon", "Benoît Hamon", 1),)),),
    )
    areas = (*AREAS, Area("circonscription", "../../../../outside/escaped", "Ailleurs", "75"))
    bureaux = (*BUREAUX, Bureau("", "Sans code", "75-01"), Bureau("x" * 200, "Trop long", "75-01"))
    rule = f"codes are {CODE_RULE}."
    assert check_codes(election, areas, bureaux) == [
        Issue("bad_code", f"Election code '../mini' is not valid: it contains '..'; {rule}", field="code"),
        Issue(
            "bad_code",
            f"Level code 'circonscription/x' is not valid: it contains '/'; {rule}",
            field="code",
        ),
        Issue(
            "bad_code",
            f"Round 1, candidate code 'ha mon' is not valid: it contains ' '; {rule}",
            field="code",
        ),
        Issue(
            "bad_code",
            f"Area circonscription code '../../../../outside/escaped' is not valid: it contains '..'; {rule}",
            field="code",
        ),
        Issue("bad_code", f"Bureau code '' is not valid: it is empty; {rule}", field="code", bureau=""),
        Issue(
            "bad_code",
            f"Bureau code {'x' * 80!r}… is not valid: it has 200 characters; {rule}",
            field="code",
            bureau="x" * 80,
        ),
    ]
    assert check_codes(SAMPLE, AREAS, BUREAUX) == []


def test_the_shipped_primary_passes():
    content = read_election_folder(PRIMARY)
    assert (len(content.areas), len(content.bureaux)) == (
        sum(1 for _ in csv.DictReader(io.StringIO((PRIMARY / "areas.csv").read_text(encoding="utf-8")))),
        sum(1 for _ in csv.DictReader(io.StringIO((PRIMARY / "bureaux.csv").read_text(encoding="utf-8")))),
    )
    assert check_codes(content.election, content.areas, content.bureaux) == []


@pytest.mark.skipif(
    not PRESIDENTIAL_2017_ROUND_2.exists(), reason=f"real data absent: {PRESIDENTIAL_2017_ROUND_2}"
)
def test_every_code_of_the_2017_presidential_file_passes():
    shipped = ROOT / "tabulator" / "reference" / "departements.csv"
    departements = read_departements(shipped.read_text(encoding="utf-8"))
    ministry = read_ministry(PRESIDENTIAL_2017_ROUND_2.read_bytes(), departements)
    areas, bureaux = ministry.registry()
    election = replace(
        SAMPLE,
        id="presidentielle-2017",
        levels=LEVELS,
        rounds=(replace(SAMPLE.rounds[0], candidates=ministry.candidates),),
        cuts=CUTS,
    )
    assert (len(bureaux), check_codes(election, areas, bureaux)) == (69_242, [])
    # Corsica, abroad (ZZ in the file) with its consular districts and circonscriptions, overseas, and
    # Caen's bureaux numbered 01.1, 01.2...
    assert {"2A", "99", "2A004", "97101_0001", "14118_01.1", "ZZ001", "99-01"} <= {a.code for a in areas} | {
        b.code for b in bureaux
    }


def test_a_folder_with_a_path_for_a_code_is_refused_when_read(tmp_path):
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "election.json").write_text((PRIMARY / "election.json").read_text(encoding="utf-8"))
    (folder / "areas.csv").write_text(
        "level,code,name,parent_code\nnational,FR,France,\nregion,11,Île-de-France,FR\n"
        "departement,75,Paris,11\ncirconscription,../../../../outside/escaped,Ailleurs,75\n",
        encoding="utf-8",
    )
    (folder / "bureaux.csv").write_text(
        "code,name,area_code,registered,merged_into\n75-01-0001,Bureau 1,../../../../outside/escaped,,\n",
        encoding="utf-8",
    )
    with pytest.raises(FileRefused) as refused:
        read_election_folder(folder)
    assert refused.value.issues == [
        Issue(
            "bad_code",
            "Area circonscription code '../../../../outside/escaped' is not valid: it contains '..'; "
            f"codes are {CODE_RULE}.",
            field="code",
        )
    ]


def test_a_cell_that_would_start_a_formula_is_quoted_and_nothing_else_changes():
    hostile = [
        "=cmd|' /C calc'!A0",
        '=HYPERLINK("https://evil.example","x")',
        "+1",
        "-1",
        "@SUM(A1)",
        "\tx",
        "\rx",
    ]
    assert safe_row([*hostile, "Benoît Hamon", "", "12,34", 0, 412, None, "75-01-0001"]) == [
        *[f"'{cell}" for cell in hostile],
        "Benoît Hamon",
        "",
        "12,34",
        0,
        412,
        None,
        "75-01-0001",
    ]
    assert safe_cell("'=already quoted") == "'=already quoted"
