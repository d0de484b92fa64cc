"""nist.json, checked with NIST's own v2 schema (tests/nist.py) for every kind of document the API serves:
the primary's two rounds, the presidential round from the ministry's file, a partial night, a test round,
a certified round (and one certified short of bureaux), a round with nothing published yet."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from api import store
from api.cli import main
from tabulator.batch import ReturnBatch
from tabulator.ingest import read_returns_csv
from tests import nist
from tests.builders import SAMPLE, build_return
from tests.conftest import SHARED_DATA

PRIMARY = "primaire-gauche-2017"
FOLDER = Path(__file__).resolve().parents[2] / "data" / PRIMARY
PRESIDENTIAL_2017_ROUND_2 = SHARED_DATA / "fr-pres2017" / "PR17_BVot_T2_FE.txt.gz"
MINI = f"/api/v1/elections/{SAMPLE.id}/rounds/2"


def tabulator(database_url: str, *args: str) -> None:
    result = CliRunner().invoke(main, list(args), env={"TABULATOR_DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output


@pytest.fixture
def client(make_app):
    """No election loaded: each test loads its own."""
    return make_app(head_cache_seconds=0).test_client()


def valid_report(client, path: str) -> dict[str, Any]:
    """The document at `path`, once NIST's schema finds nothing wrong with it."""
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    report = response.get_json()
    assert nist.errors(report) == []
    return report


def national(report: dict[str, Any]) -> dict[str, Any]:
    """The country's figures, read from where v2 puts each of them."""
    election = report["Election"][0]
    contest = election["Contest"][0]
    scope = election["ElectionScopeId"]
    assert contest["ElectionDistrictId"] == scope
    ballots = next(b for b in election["BallotCounts"] if b["GpUnitId"] == scope)
    other = next(o for o in contest["OtherCounts"] if o["GpUnitId"] == scope)
    unit = next(u for u in report["GpUnit"] if u["@id"] == scope)
    return {
        "bureaux": (contest["SubUnitsReported"], contest["TotalSubUnits"]),
        "votants": (ballots["BallotsCast"], unit["VotersParticipated"]),
        "blancs": other["Undervotes"],
        "nuls": ballots["BallotsRejected"],
        **{
            selection["CandidateIds"][0]: next(
                v["Count"] for v in selection["VoteCounts"] if v["GpUnitId"] == scope
            )
            for selection in contest["ContestSelection"]
        },
    }


def unit_types(report: dict[str, Any]) -> Counter[tuple[str, str | None]]:
    return Counter((unit["Type"], unit.get("OtherType")) for unit in report["GpUnit"])


def assert_every_unit_sums_its_parts(report: dict[str, Any]) -> None:
    """Each area's counts are the sums of the areas it is composed of: the hierarchy and the counts agree."""
    election = report["Election"][0]
    contest = election["Contest"][0]
    figures: dict[str, Counter[str]] = {unit["@id"]: Counter() for unit in report["GpUnit"]}
    for unit in report["GpUnit"]:
        figures[unit["@id"]].update(
            reported=unit["SubUnitsReported"], total=unit["TotalSubUnits"], votants=unit["VotersParticipated"]
        )
    for ballots in election["BallotCounts"]:
        figures[ballots["GpUnitId"]].update(cast=ballots["BallotsCast"], nuls=ballots["BallotsRejected"])
    for other in contest["OtherCounts"]:
        figures[other["GpUnitId"]].update(blancs=other["Undervotes"])
    for selection in contest["ContestSelection"]:
        for count in selection["VoteCounts"]:
            figures[count["GpUnitId"]][selection["@id"]] += count["Count"]
    # A unit may be composed in more than one cut (a département: its communes and its circonscriptions):
    # the parts of each kind sum to the whole.
    kind = {unit["@id"]: (unit["Type"], unit.get("OtherType")) for unit in report["GpUnit"]}
    composed = [unit for unit in report["GpUnit"] if "ComposingGpUnitIds" in unit]
    assert composed
    for unit in composed:
        parts: dict[tuple[str, str | None], Counter[str]] = {}
        for part in unit["ComposingGpUnitIds"]:
            parts.setdefault(kind[part], Counter()).update(figures[part])
        assert {key: +summed for key, summed in parts.items()} == dict.fromkeys(parts, +figures[unit["@id"]])


def test_the_primary_rounds_are_nist_v2_reports(database_url, client):
    tabulator(database_url, "load-election", str(FOLDER))
    round_1 = valid_report(client, f"/api/v1/elections/{PRIMARY}/rounds/1/nist.json")
    assert national(round_1) == {
        "bureaux": (7_208, 7_208),
        "votants": (1_655_919, 1_655_919),
        "blancs": 11_766,
        "nuls": 10_114,
        "candidate-montebourg": 290_070,
        "candidate-rugy": 63_430,
        "candidate-peillon": 112_718,
        "candidate-hamon": 596_647,
        "candidate-bennahmias": 16_869,
        "candidate-pinel": 33_067,
        "candidate-valls": 521_238,
    }
    # Round 2 as the returns gave it (sequence 2), then with the evening's two corrections (3).
    before = valid_report(client, f"/api/v1/elections/{PRIMARY}/rounds/2/snapshots/2/nist.json")
    round_2 = valid_report(client, f"/api/v1/elections/{PRIMARY}/rounds/2/nist.json")
    assert national(round_2) == {
        "bureaux": (7_208, 7_208),
        "votants": (2_055_737, 2_055_737),
        "blancs": 19_917,
        "nuls": 15_806,
        "candidate-hamon": 1_189_384,
        "candidate-valls": 830_630,
    }
    assert national(before) != national(round_2)
    for report, path in ((before, "snapshots/2/results"), (round_2, "results")):
        results = client.get(f"/api/v1/elections/{PRIMARY}/rounds/2/{path}").get_json()["results"]
        assert national(report) == {
            "bureaux": (results["bureaux_reported"], results["bureaux_total"]),
            "votants": (results["voters"], results["voters"]),
            "blancs": results["blank"],
            "nuls": results["null"],
            **{f"candidate-{c['id']}": c["votes"] for c in results["candidates"]},
        }
    for report, sequence in ((round_1, "2"), (before, "2"), (round_2, "3")):
        assert report["ExternalIdentifier"][0]["Value"] == sequence
        assert (report["Status"], report["SequenceStart"], report["SequenceEnd"]) == (
            "unofficial-complete",
            1,
            1,
        )
        assert (report["Issuer"], report["IsTest"], "TestType" in report) == (
            "Haute autorité de la primaire",
            False,
            False,
        )
        assert report["Election"][0]["Type"] == "primary"
        assert unit_types(report) == {
            ("country", None): 1,
            ("other", "region"): 19,
            ("other", "departement"): 106,
            ("congressional", None): 566,
        }
        assert_every_unit_sums_its_parts(report)
    units = {unit["@id"]: unit for unit in round_2["GpUnit"]}
    assert units["gp-region-11"]["Name"]["Text"] == [
        {"@type": "ElectionResults.LanguageString", "Content": "Île-de-France", "Language": "fr"}
    ]
    assert units["gp-region-11"]["ComposingGpUnitIds"] == [
        f"gp-departement-{code}" for code in ("75", "77", "78", "91", "92", "93", "94", "95")
    ]
    assert len(units["gp-national-FR"]["ComposingGpUnitIds"]) == 19
    assert "ComposingGpUnitIds" not in units["gp-circonscription-91-01"]  # bureaux are not reporting units


def test_a_partial_night_is_unofficial_partial(database_url, engine, client):
    """Round 2 of the primary as it stood at 20:30, with 4,322 of 7,208 bureaux in."""
    tabulator(database_url, "load-election", str(FOLDER), "--rounds", "1")
    returns = read_returns_csv((FOLDER / "round-2" / "returns.csv").read_bytes(), ("hamon", "valls"))
    by_2030 = np.flatnonzero(
        np.array(returns.reported_at) <= datetime.fromisoformat("2017-01-29T20:30:00+01:00")
    )
    store.record_returns(engine, PRIMARY, 2, returns.select(by_2030), author="replay")
    report = valid_report(client, f"/api/v1/elections/{PRIMARY}/rounds/2/nist.json")
    assert report["Status"] == "unofficial-partial"
    assert national(report) == {
        "bureaux": (4_322, 7_208),
        "votants": (1_101_180, 1_101_180),
        "blancs": 9_910,
        "nuls": 7_902,
        "candidate-hamon": 635_395,
        "candidate-valls": 447_973,
    }
    assert_every_unit_sums_its_parts(report)


@pytest.mark.shared_data
@pytest.mark.skipif(
    not PRESIDENTIAL_2017_ROUND_2.exists(), reason=f"real data absent: {PRESIDENTIAL_2017_ROUND_2}"
)
def test_the_presidential_round_from_the_ministry_file_is_a_nist_v2_report(database_url, client):
    tabulator(
        database_url,
        "import-ministry",
        str(PRESIDENTIAL_2017_ROUND_2),
        "--election",
        "presidentielle-2017",
        "--round",
        "2",
        "--name",
        "Élection présidentielle 2017",
        "--type",
        "presidential",
        "--date",
        "2017-05-07",
    )
    report = valid_report(client, "/api/v1/elections/presidentielle-2017/rounds/2/nist.json")
    assert national(report) == {
        "bureaux": (69_242, 69_242),
        "votants": (35_467_327, 35_467_327),
        "blancs": 3_021_499,
        "nuls": 1_064_225,
        "candidate-macron": 20_743_128,
        "candidate-le-pen": 10_638_475,
    }
    election = report["Election"][0]
    assert (report["Status"], election["Type"], election["StartDate"], election["Name"]) == (
        "unofficial-complete",
        "general",
        "2017-05-07",
        text("Élection présidentielle 2017, tour 2"),
    )
    assert unit_types(report) == {
        ("country", None): 1,
        ("other", "region"): 20,
        ("other", "departement"): 107,
        ("congressional", None): 577,
        ("municipality", None): 35_719,
    }
    # A département is composed of its communes and, apart, of its circonscriptions; Paris is one commune.
    units = {unit["@id"]: unit for unit in report["GpUnit"]}
    paris = next(
        unit for unit in report["GpUnit"] if unit["Name"] == text("Paris") and unit["Type"] == "other"
    )
    composing = [units[part] for part in paris["ComposingGpUnitIds"]]
    assert [(u["Type"], u["Name"]) for u in composing[:1]] == [("municipality", text("Paris"))]
    assert [u["Type"] for u in composing[1:]] == ["congressional"] * 18
    assert report["GpUnit"][0]["VotersRegistered"] == 47_568_693
    assert_every_unit_sums_its_parts(report)


def record(engine, *returns):
    batch = ReturnBatch.of(returns, SAMPLE.round(2).candidate_ids)
    store.record_returns(engine, SAMPLE.id, 2, batch, author="clerk")


THE_EVENING = (
    build_return("75-01-0001", votes={"hamon": 250, "valls": 157}, blank=3, null=2, registered=600),
    build_return("75-01-0002", votes={"hamon": 100, "valls": 80}, blank=1, null=1, registered=300),
    build_return("75-02-0001", votes={"hamon": 60, "valls": 40}, registered=150),
    build_return("13-01-0001", votes={"hamon": 90, "valls": 110}, registered=300),
    build_return("13-01-0002", votes={"hamon": 70, "valls": 30}, null=1, registered=150),
    build_return("13-01-0003", votes={"hamon": 20, "valls": 25}, blank=2, registered=80),
)


def text(content: str) -> dict[str, Any]:
    return {
        "@type": "ElectionResults.InternationalizedText",
        "Text": [{"@type": "ElectionResults.LanguageString", "Content": content, "Language": "fr"}],
    }


# The miniature's areas with, once every bureau is in: bureaux reported, votants, blancs, nuls, Hamon,
# Valls, inscrits. 75-01-0003 is merged into 75-01-0002: 75-01 has two bureaux that report.
MINI_UNITS = {
    "gp-national-FR": ("France", "country", 6, 1_042, 6, 4, 590, 442, 1_580),
    "gp-region-11": ("Île-de-France", "other", 3, 694, 4, 3, 410, 277, 1_050),
    "gp-region-93": ("Provence-Alpes-Côte d'Azur", "other", 3, 348, 2, 1, 180, 165, 530),
    "gp-departement-75": ("Paris", "other", 3, 694, 4, 3, 410, 277, 1_050),
    "gp-departement-13": ("Bouches-du-Rhône", "other", 3, 348, 2, 1, 180, 165, 530),
    "gp-circonscription-75-01": (
        "1re circonscription de Paris",
        "congressional",
        2,
        594,
        4,
        3,
        350,
        237,
        900,
    ),
    "gp-circonscription-75-02": ("2e circonscription de Paris", "congressional", 1, 100, 0, 0, 60, 40, 150),
    "gp-circonscription-13-01": (
        "1re circonscription des Bouches-du-Rhône",
        "congressional",
        3,
        348,
        2,
        1,
        180,
        165,
        530,
    ),
}
MINI_COMPOSING = {
    "gp-national-FR": ["gp-region-11", "gp-region-93"],
    "gp-region-11": ["gp-departement-75"],
    "gp-region-93": ["gp-departement-13"],
    "gp-departement-75": ["gp-circonscription-75-01", "gp-circonscription-75-02"],
    "gp-departement-13": ["gp-circonscription-13-01"],
}


@pytest.mark.usefixtures("sample_election")
def test_a_certified_round_is_certified_in_every_figure(engine, client):
    """The whole document of the miniature, every bureau in, then marked complete and certified."""
    record(engine, *THE_EVENING)
    store.update_round(engine, SAMPLE.id, 2, status="complete")
    store.update_round(engine, SAMPLE.id, 2, status="certified")
    published = client.get(f"{MINI}/results").get_json()["published_at"]
    report = valid_report(client, f"{MINI}/nist.json")
    units = [
        {
            "@type": "ElectionResults.ReportingUnit",
            "@id": unit_id,
            "Name": text(name),
            "Type": kind,
            **({"OtherType": unit_id.split("-")[1]} if kind == "other" else {}),  # its level
            "SubUnitsReported": reported,
            "TotalSubUnits": reported,
            "VotersParticipated": votants,
            **({"ComposingGpUnitIds": MINI_COMPOSING[unit_id]} if unit_id in MINI_COMPOSING else {}),
            "VotersRegistered": inscrits,
        }
        for unit_id, (name, kind, reported, votants, _, _, _, _, inscrits) in MINI_UNITS.items()
    ]
    assert report == {
        "@type": "ElectionResults.ElectionReport",
        "Format": "summary-contest",
        "GeneratedDate": datetime.fromisoformat(published).replace(microsecond=0).isoformat(),
        "Issuer": "Haute autorité (tests)",
        "IssuerAbbreviation": "mini-primaire",
        "IsTest": False,
        "Notes": "tabulator sequence 3; data as of 2017-01-29T19:00:00+00:00",
        "SequenceStart": 1,
        "SequenceEnd": 1,
        "ExternalIdentifier": [
            {
                "@type": "ElectionResults.ExternalIdentifier",
                "Type": "other",
                "OtherType": "tabulator-sequence",
                "Value": "3",
            }
        ],
        "Status": "certified",
        "VendorApplicationId": "tabulator 0.1.0",
        "GpUnit": units,
        "Election": [
            {
                "@type": "ElectionResults.Election",
                "Name": text("Primaire miniature, tour 2"),
                "StartDate": "2017-01-29",
                "EndDate": "2017-01-29",
                "Type": "primary",
                "ElectionScopeId": "gp-national-FR",
                "BallotCounts": [
                    {
                        "@type": "ElectionResults.BallotCounts",
                        "GpUnitId": unit_id,
                        "Type": "total",
                        "BallotsCast": votants,
                        "BallotsRejected": nuls,
                    }
                    for unit_id, (_, _, _, votants, _, nuls, _, _, _) in MINI_UNITS.items()
                ],
                "Candidate": [
                    {
                        "@type": "ElectionResults.Candidate",
                        "@id": "candidate-hamon",
                        "BallotName": text("Benoît Hamon"),
                    },
                    {
                        "@type": "ElectionResults.Candidate",
                        "@id": "candidate-valls",
                        "BallotName": text("Manuel Valls"),
                    },
                ],
                "Contest": [
                    {
                        "@type": "ElectionResults.CandidateContest",
                        "@id": "contest-2",
                        "Name": "Primaire miniature, tour 2",
                        "ElectionDistrictId": "gp-national-FR",
                        "VotesAllowed": 1,
                        "SubUnitsReported": 6,
                        "TotalSubUnits": 6,
                        "ContestSelection": [
                            {
                                "@type": "ElectionResults.CandidateSelection",
                                "@id": f"contest-2-{candidate}",
                                "CandidateIds": [f"candidate-{candidate}"],
                                "SequenceOrder": order,
                                "VoteCounts": [
                                    {
                                        "@type": "ElectionResults.VoteCounts",
                                        "GpUnitId": unit_id,
                                        "Type": "total",
                                        "Count": figures[5 + order],
                                    }
                                    for unit_id, figures in MINI_UNITS.items()
                                ],
                            }
                            for candidate, order in (("hamon", 1), ("valls", 2))
                        ],
                        "OtherCounts": [
                            {
                                "@type": "ElectionResults.OtherCounts",
                                "GpUnitId": unit_id,
                                "Undervotes": blancs,
                            }
                            for unit_id, (_, _, _, _, blancs, _, _, _, _) in MINI_UNITS.items()
                        ],
                    }
                ],
            }
        ],
    }


@pytest.mark.usefixtures("sample_election")
def test_a_round_certified_short_of_bureaux_is_not_certified_to_nist(engine, client):
    record(engine, THE_EVENING[0])
    store.update_round(engine, SAMPLE.id, 2, status="complete")
    store.update_round(engine, SAMPLE.id, 2, status="certified")
    assert client.get(f"{MINI}/results").get_json()["status"] == "certified"
    report = valid_report(client, f"{MINI}/nist.json")
    assert (report["Status"], national(report)["bureaux"]) == ("unofficial-partial", (1, 6))


@pytest.mark.usefixtures("sample_election")
def test_a_test_round_says_what_kind_of_test(engine, client):
    store.update_round(engine, SAMPLE.id, 2, test=True)
    record(engine, *THE_EVENING[:2])
    report = valid_report(client, f"{MINI}/nist.json")
    assert (report["IsTest"], report["TestType"], report["Status"]) == (
        True,
        "rehearsal: practice data entered before the real night, not results",
        "unofficial-partial",
    )
    assert national(report) == {
        "bureaux": (2, 6),
        "votants": (594, 594),
        "blancs": 4,
        "nuls": 3,
        "candidate-hamon": 350,
        "candidate-valls": 237,
    }


@pytest.mark.usefixtures("sample_election")
def test_a_round_with_nothing_published_yet_is_a_valid_report(engine, client):
    report = valid_report(client, f"{MINI}/nist.json")
    assert (report["GeneratedDate"], report["Status"], report["ExternalIdentifier"][0]["Value"]) == (
        "1970-01-01T00:00:00+00:00",
        "unofficial-partial",
        "0",
    )
    assert national(report) == {
        "bureaux": (0, 6),
        "votants": (0, 0),
        "blancs": 0,
        "nuls": 0,
        "candidate-hamon": 0,
        "candidate-valls": 0,
    }
