"""The NIST check (tests/nist.py) must catch what it is there to catch: it reads NIST's own v2 schema, and
its format checker and the references it follows are live, so a green nist.json test means something."""

from __future__ import annotations

import copy
from typing import Any

from tests import nist


def text(content: str) -> dict[str, Any]:
    return {
        "@type": "ElectionResults.InternationalizedText",
        "Text": [{"@type": "ElectionResults.LanguageString", "Content": content, "Language": "fr"}],
    }


MINIMAL: dict[str, Any] = {
    "@type": "ElectionResults.ElectionReport",
    "Format": "summary-contest",
    "GeneratedDate": "2017-01-29T21:00:00+01:00",
    "Issuer": "Haute autorité",
    "IssuerAbbreviation": "HAP",
    "SequenceStart": 1,
    "SequenceEnd": 1,
    "Status": "unofficial-partial",
    "VendorApplicationId": "tabulator",
    "GpUnit": [
        {
            "@type": "ElectionResults.ReportingUnit",
            "@id": "gp-FR",
            "Type": "country",
            "Name": text("France"),
            "ComposingGpUnitIds": ["gp-75"],
        },
        {
            "@type": "ElectionResults.ReportingUnit",
            "@id": "gp-75",
            "Type": "municipality",
            "Name": text("Paris"),
        },
    ],
    "Election": [
        {
            "@type": "ElectionResults.Election",
            "Name": text("Primaire, tour 2"),
            "StartDate": "2017-01-29",
            "EndDate": "2017-01-29",
            "Type": "primary",
            "ElectionScopeId": "gp-FR",
            "Contest": [
                {
                    "@type": "ElectionResults.CandidateContest",
                    "@id": "contest-2",
                    "Name": "Primaire, tour 2",
                    "ElectionDistrictId": "gp-FR",
                    "VotesAllowed": 1,
                }
            ],
        }
    ],
}


def test_a_minimal_v2_report_passes():
    assert nist.errors(MINIMAL) == []


def test_what_tabulator_used_to_write_is_refused():
    """The v1 names, a plain-string Name and fractional seconds: what the issue found, each reported."""
    old = copy.deepcopy(MINIMAL)
    old["GeneratedDate"] = "2017-01-29T21:00:00.572449+00:00"
    old["GpUnit"][1]["Name"] = "Paris"
    contest = old["Election"][0]["Contest"][0]
    contest["ElectoralDistrictId"] = contest.pop("ElectionDistrictId")
    contest["BallotSelection"] = []
    assert nist.errors(old) == [
        "/Election/0/Contest/0: 'ElectionDistrictId' is a required property",
        "/Election/0/Contest/0: Additional properties are not allowed ('BallotSelection', "
        "'ElectoralDistrictId' were unexpected)",
        "/GeneratedDate: '2017-01-29T21:00:00.572449+00:00' does not match '[0-9]{4}-(0?[1-9]|1[012])-"
        "(0?[1-9]|[12][0-9]|3[01])T(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]|(24:00:00))(Z|[+-]((0[0-9]|"
        "1[0-3]):[0-5][0-9]|14:00))'",
        "/GpUnit/1/Name: 'Paris' is not of type 'object'",
    ]


def test_a_malformed_time_is_caught_by_the_format_checker():
    # The pattern alone, unanchored, takes a date-time followed by anything: the format checker does not.
    assert nist.errors({**MINIMAL, "GeneratedDate": "2017-01-29T21:00:00+01:00 or so"}) == [
        "/GeneratedDate: '2017-01-29T21:00:00+01:00 or so' is not a 'date-time'"
    ]


def test_a_reference_to_nothing_is_caught():
    dangling = copy.deepcopy(MINIMAL)
    dangling["GpUnit"][0]["ComposingGpUnitIds"] = ["gp-75", "gp-13"]
    dangling["Election"][0]["ElectionScopeId"] = "contest-2"
    assert nist.errors(dangling) == [
        "/Election/0/ElectionScopeId: 'contest-2' is not the @id of a ElectionResults.ReportingUnit in the "
        "report",
        "/GpUnit/0/ComposingGpUnitIds/1: 'gp-13' is not the @id of a ElectionResults.ReportingDevice or "
        "ElectionResults.ReportingUnit in the report",
    ]
