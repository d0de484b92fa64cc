"""The `tabulator` command against real databases: ingest, refusals that change nothing, results, verify."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from api import documents
from api.cli import main
from tests.builders import SAMPLE
from tests.conftest import SHARED_DATA, table_contents

PRESIDENTIAL_2017_ROUND_2 = SHARED_DATA / "fr-pres2017" / "PR17_BVot_T2_FE.txt.gz"


def run(database_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], env={"TABULATOR_DATABASE_URL": database_url})


def test_ingest_a_csv_file_then_see_the_results(sample_election, database_url, tmp_path: Path):
    path = tmp_path / "returns.csv"
    path.write_text(
        "bureau,voters,blank,null,valid,hamon,valls,reported_at\n"
        "75-01-0001,412,3,2,407,250,157,2017-01-29T20:31:05+01:00\n"
        "13-01-0001,100,0,0,100,40,60,2017-01-29T20:35:00+01:00\n",
        encoding="utf-8",
    )
    result = run(database_url, "ingest", path, "--election", SAMPLE.id, "--round", "2")
    assert result.exit_code == 0, result.output
    assert f"{path}: 2 created, 0 corrected, 0 unchanged, 0 flagged; now at sequence 1." in result.output
    table = run(database_url, "results", "--election", SAMPLE.id, "--round", "2").output
    assert table.splitlines()[:3] == [
        "France (national FR) — round 2, sequence 1, partial, data as of 2017-01-29T19:35:00+00:00",
        "Bureaux reported             2 / 6",
        "Votants                    512",
    ]
    document = json.loads(
        run(
            database_url,
            "results",
            "--election",
            SAMPLE.id,
            "--round",
            "2",
            "--level",
            "departement",
            "--code",
            "13",
            "--json",
        ).output
    )
    assert (document["area"], document["results"]["voters"]) == (
        {"level": "departement", "code": "13", "name": "Bouches-du-Rhône"},
        100,
    )
    again = run(database_url, "ingest", path, "--election", SAMPLE.id, "--round", "2")
    assert "0 created, 0 corrected, 2 unchanged, 0 flagged; nothing changed." in again.output


def test_a_refused_file_prints_every_error_and_changes_nothing(sample_election, database_url, tmp_path: Path):
    path = tmp_path / "returns.csv"
    path.write_text(
        "bureau,voters,blank,null,valid,hamon,valls\n"
        "75-01-0001,412,3,2,407,250,157\n"
        "75-01-9999,10,0,0,10,5,5\n"
        "13-01-0001,10,0,0,10,5,4\n"
        "Total,432,3,2,427,260,167\n",
        encoding="utf-8",
    )
    before = table_contents(sample_election)
    result = run(database_url, "ingest", path, "--election", SAMPLE.id, "--round", "2")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{path}: refused, nothing was changed. 3 error(s):",
        f"  {path}: [unknown_bureau] Line 3, bureau 75-01-9999: no such bureau in this election.",
        f"  {path}: [votes_mismatch] Line 4, bureau 13-01-0001: the candidates' votes add up to 9, not to "
        "exprimés (10).",
        f"  {path}: [totals_row] Line 5: this row has no bureau code ('Total'); a totals row or a blank row "
        "cannot be loaded. Remove it.",
    ]
    assert table_contents(sample_election) == before


def test_unknown_election_or_round_is_a_clear_error(sample_election, database_url, tmp_path: Path):
    path = tmp_path / "returns.csv"
    path.write_text("bureau\n", encoding="utf-8")
    result = run(database_url, "ingest", path, "--election", "nope", "--round", "2")
    assert (result.exit_code, result.output.strip()) == (1, "Error: Election 'nope' has no round 2.")


def national_sums_of_round_1_written_outside_tabulator(engine, votes: str) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "INSERT INTO area_results (round_id, area_id, bureaux_reported, voters, blank, "
            '"null", valid, registered, bureaux_with_registered, matched_bureaux, '
            "matched_voters, matched_previous_voters, votes) "
            f"VALUES (1, 1, 1, 5, 0, 0, 5, 0, 0, 0, 0, 0, '{votes}')"
        )


def test_verify_exits_non_zero_with_the_differences(sample_election, database_url):
    national_sums_of_round_1_written_outside_tabulator(sample_election, "5,0,0")
    result = run(database_url, "verify")
    assert result.exit_code == 1
    assert "mini-primaire round 1, national FR: stored" in result.output


def test_verify_names_the_round_whose_stored_votes_cannot_be_read(sample_election, database_url):
    """Votes packed as text that is not the round's candidates' counts (changed outside tabulator) are a
    difference verify reports, not a crash."""
    national_sums_of_round_1_written_outside_tabulator(sample_election, "5,x")
    result = run(database_url, "verify")
    assert (result.exit_code, result.output.strip().splitlines()[-1]) == (
        1,
        "mini-primaire round 1: its stored votes cannot be read (stored votes are not 3 whole numbers per "
        "version)",
    )


@pytest.mark.skipif(
    not PRESIDENTIAL_2017_ROUND_2.exists(), reason=f"real data absent: {PRESIDENTIAL_2017_ROUND_2}"
)
def test_the_2017_presidential_file_gives_the_official_national_figures(engine, database_url):
    result = run(
        database_url,
        "import-ministry",
        PRESIDENTIAL_2017_ROUND_2,
        *("--election", "presidentielle-2017", "--round", "2", "--date", "2017-05-07"),
        *("--type", "presidential", "--name", "Présidentielle 2017"),
    )
    assert result.exit_code == 0, result.output
    figures = documents.results_document(engine, "presidentielle-2017", 2)["results"]
    assert {
        key: figures[key]
        for key in (
            "bureaux_reported",
            "bureaux_total",
            "registered",
            "voters",
            "blank",
            "null",
            "valid",
            "turnout_pct_registered",
        )
    } == {
        "bureaux_reported": 69_242,
        "bureaux_total": 69_242,
        "registered": 47_568_693,
        "voters": 35_467_327,
        "blank": 3_021_499,
        "null": 1_064_225,
        "valid": 31_381_603,
        "turnout_pct_registered": 74.56,
    }
    assert [(c["id"], c["votes"], c["pct_valid"]) for c in figures["candidates"]] == [
        ("macron", 20_743_128, 66.10),
        ("le-pen", 10_638_475, 33.90),
    ]
    assert run(database_url, "verify").exit_code == 0
    # Paris, one commune under its INSEE code: the sum of its 896 bureaux over 18 circonscriptions.
    paris = run(
        database_url,
        *("results", "--election", "presidentielle-2017", "--round", "2", "--level", "commune"),
        *("--code", "75056"),
    )
    assert paris.output.splitlines()[1:] == [
        "Bureaux reported           896 / 896",
        "Votants              1,021,639",
        "Blancs                  57,868  5.66 % of votants",
        "Nuls                    16,744  1.64 % of votants",
        "Exprimés               947,027",
        "",
        "Candidate                          votes  % exprimés  % votants",
        "Emmanuel Macron                  849,257     89.68 %    83.13 %",
        "Marine Le Pen                     97,770     10.32 %     9.57 %",
    ]


def test_loading_an_election_twice_is_refused_unless_asked_to_skip(engine, database_url):
    folder = Path(__file__).resolve().parents[2] / "data" / "primaire-gauche-2017"
    first = run(database_url, "load-election", folder, "--rounds", "none")
    assert first.output.splitlines()[0] == "Primaire citoyenne 2017: 692 areas, 7530 bureaux."
    assert run(database_url, "load-election", folder, "--if-absent").output == (
        "primaire-gauche-2017 is already loaded.\n"
    )
    again = run(database_url, "load-election", folder)
    assert (again.exit_code, again.output.splitlines()[-1]) == (
        1,
        f"  {folder / 'bureaux.csv'}: [election_exists] "
        "The election 'primaire-gauche-2017' is already loaded.",
    )
