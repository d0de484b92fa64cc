"""The NIST structure checker itself must catch what it is there to catch."""

from tests import nist

MINIMAL = {
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
        {"@type": "ElectionResults.ReportingUnit", "@id": "gp-FR", "Type": "country", "Name": "France"}
    ],
}


def test_a_minimal_report_passes():
    assert nist.problems(MINIMAL) == []


def test_departures_from_the_standard_are_named():
    broken = {
        **MINIMAL,
        "Status": "partial",
        "Colour": "red",
        "GpUnit": [
            {
                "@type": "ElectionResults.ReportingUnit",
                "@id": "gp-FR",
                "Type": "nation",
                "ComposingGpUnitIds": ["gp-75"],
                "SubUnitsReported": "12",
            }
        ],
    }
    del broken["Issuer"]
    assert nist.problems(broken) == [
        "$: missing Issuer",
        "$: Colour is not a property of ElectionReport",
        "$.Status: 'partial' is not one of ResultsStatus",
        "$.GpUnit[0].Type: 'nation' is not one of ReportingUnitType",
        "$.GpUnit[0].SubUnitsReported: '12' is not an integer",
        "$.GpUnit[0].ComposingGpUnitIds: refers to 'gp-75', which no record defines",
    ]
