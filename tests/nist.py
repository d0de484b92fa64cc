"""The structure NIST SP 1500-100 v2 defines for the parts of an ElectionReport tabulator writes.

Facts from the standard's JSON schema (usnistgov/ElectionResultsReporting, NIST_V2_election_results_
reporting.json): for each record type, the properties it requires and the only ones it allows
(`additionalProperties: false`), and the enumerations. `problems()` walks a report and lists every
departure from them, and every reference to an @id the report does not define.
"""

from __future__ import annotations

from typing import Any

ENUMS = {
    "ReportDetailLevel": {"precinct-level", "summary-contest"},
    "ResultsStatus": {
        "certified",
        "correction",
        "pre-election",
        "recount",
        "unofficial-complete",
        "unofficial-partial",
    },
    "ElectionType": {
        "general",
        "other",
        "partisan-primary-closed",
        "partisan-primary-open",
        "primary",
        "runoff",
        "special",
    },
    "CountItemType": {
        "absentee",
        "absentee-fwab",
        "absentee-in-person",
        "absentee-mail",
        "early",
        "election-day",
        "other",
        "provisional",
        "total",
        "uocava",
        "write-in",
    },
    "ReportingUnitType": {
        "ballot-batch",
        "ballot-style-area",
        "borough",
        "city",
        "city-council",
        "combined-precinct",
        "congressional",
        "country",
        "county",
        "county-council",
        "drop-box",
        "judicial",
        "municipality",
        "other",
        "polling-place",
        "precinct",
        "school",
        "special",
        "split-precinct",
        "state",
        "state-house",
        "state-senate",
        "town",
        "township",
        "utility",
        "village",
        "vote-center",
        "ward",
        "water",
    },
}

# type: (required, allowed) — "@type" is allowed everywhere.
TYPES: dict[str, tuple[set[str], set[str]]] = {
    "ElectionReport": (
        {
            "Format",
            "GeneratedDate",
            "Issuer",
            "IssuerAbbreviation",
            "SequenceEnd",
            "SequenceStart",
            "Status",
            "VendorApplicationId",
        },
        {
            "ExternalIdentifier",
            "Format",
            "GeneratedDate",
            "IsTest",
            "Issuer",
            "IssuerAbbreviation",
            "Notes",
            "Person",
            "SequenceEnd",
            "SequenceStart",
            "Signature",
            "Status",
            "TestType",
            "VendorApplicationId",
            "Election",
            "GpUnit",
            "Office",
            "OfficeGroup",
            "Party",
        },
    ),
    "Election": (
        {"ElectionScopeId", "EndDate", "Name", "StartDate", "Type"},
        {
            "ContactInformation",
            "CountStatus",
            "ElectionScopeId",
            "EndDate",
            "ExternalIdentifier",
            "Name",
            "OtherType",
            "StartDate",
            "Type",
            "BallotStyle",
            "Candidate",
            "Contest",
        },
    ),
    "ReportingUnit": (
        {"Type", "@id"},
        {
            "AuthorityIds",
            "ContactInformation",
            "CountStatus",
            "IsDistricted",
            "IsMailOnly",
            "Number",
            "OtherType",
            "SubUnitsReported",
            "TotalSubUnits",
            "Type",
            "VotersParticipated",
            "VotersRegistered",
            "ElectionAdministration",
            "PartyRegistration",
            "SpatialDimension",
            "ComposingGpUnitIds",
            "ExternalIdentifier",
            "Name",
            "SummaryCounts",
            "@id",
        },
    ),
    "CandidateContest": (
        {"VotesAllowed", "ElectoralDistrictId", "Name", "@id"},
        {
            "NumberElected",
            "NumberRunoff",
            "OfficeIds",
            "PrimaryPartyIds",
            "VotesAllowed",
            "Abbreviation",
            "BallotSubTitle",
            "BallotTitle",
            "CountStatus",
            "ElectoralDistrictId",
            "ExternalIdentifier",
            "HasRotation",
            "Name",
            "OtherVoteVariation",
            "SequenceOrder",
            "SubUnitsReported",
            "SummaryCounts",
            "TotalSubUnits",
            "VoteVariation",
            "BallotSelection",
            "@id",
        },
    ),
    "CandidateSelection": (
        {"CandidateIds", "@id"},
        {"CandidateIds", "EndorsementPartyIds", "IsWriteIn", "SequenceOrder", "VoteCounts", "@id"},
    ),
    "Candidate": (
        {"BallotName", "@id"},
        {
            "BallotName",
            "ExternalIdentifier",
            "FileDate",
            "IsIncumbent",
            "IsTopTicket",
            "PartyId",
            "PersonId",
            "PostElectionStatus",
            "PreElectionStatus",
            "ContactInformation",
            "@id",
        },
    ),
    "VoteCounts": (
        {"Count", "Type"},
        {"Count", "Device", "GpUnitId", "IsSuppressedForPrivacy", "OtherType", "Type"},
    ),
    "SummaryCounts": (
        {"Type"},
        {
            "BallotsCast",
            "BallotsOutstanding",
            "BallotsRejected",
            "Overvotes",
            "Undervotes",
            "WriteIns",
            "Device",
            "GpUnitId",
            "IsSuppressedForPrivacy",
            "OtherType",
            "Type",
        },
    ),
    "InternationalizedText": ({"Text"}, {"Label", "Text"}),
    "LanguageString": ({"Content", "Language"}, {"Content", "Language"}),
}

FIELD_ENUMS = {
    ("ElectionReport", "Format"): "ReportDetailLevel",
    ("ElectionReport", "Status"): "ResultsStatus",
    ("Election", "Type"): "ElectionType",
    ("ReportingUnit", "Type"): "ReportingUnitType",
    ("VoteCounts", "Type"): "CountItemType",
    ("SummaryCounts", "Type"): "CountItemType",
}
INTEGERS = {
    "SequenceStart",
    "SequenceEnd",
    "SubUnitsReported",
    "TotalSubUnits",
    "VotersParticipated",
    "VotersRegistered",
    "VotesAllowed",
    "SequenceOrder",
    "BallotsCast",
    "BallotsRejected",
    "Undervotes",
}
REFERENCES = {"ElectionScopeId", "ElectoralDistrictId", "GpUnitId", "ComposingGpUnitIds", "CandidateIds"}


def problems(report: dict[str, Any]) -> list[str]:
    found: list[str] = []
    ids: set[str] = set()
    references: list[tuple[str, str]] = []
    _walk(report, "ElectionReport", "$", found=found, ids=ids, references=references)
    found += [
        f"{where}: refers to {target!r}, which no record defines"
        for where, target in references
        if target not in ids
    ]
    return found


def _walk(
    record: Any,
    expected: str,
    where: str,
    *,
    found: list[str],
    ids: set[str],
    references: list[tuple[str, str]],
) -> None:
    if not isinstance(record, dict):
        found.append(f"{where}: expected an object")
        return
    kind = str(record.get("@type", "")).removeprefix("ElectionResults.")
    if kind != expected:
        found.append(f"{where}: @type {record.get('@type')!r}, expected ElectionResults.{expected}")
        return
    required, allowed = TYPES[kind]
    found += [f"{where}: missing {name}" for name in sorted(required - set(record))]
    found += [
        f"{where}: {name} is not a property of {kind}" for name in sorted(set(record) - allowed - {"@type"})
    ]
    if "@id" in record:
        ids.add(record["@id"])
    for name, value in record.items():
        place = f"{where}.{name}"
        enum = FIELD_ENUMS.get((kind, name))
        if enum and value not in ENUMS[enum]:
            found.append(f"{place}: {value!r} is not one of {enum}")
        if name in INTEGERS and (not isinstance(value, int) or isinstance(value, bool)):
            found.append(f"{place}: {value!r} is not an integer")
        if name in REFERENCES:
            references += [(place, target) for target in (value if isinstance(value, list) else [value])]
        if (kind, name) in STRINGS and not isinstance(value, str):
            found.append(f"{place}: {value!r} is not a string")
        child = CHILDREN.get((kind, name))
        if child:
            for index, item in enumerate(value if isinstance(value, list) else [value]):
                _walk(item, child, f"{place}[{index}]", found=found, ids=ids, references=references)


CHILDREN = {
    ("ElectionReport", "Election"): "Election",
    ("ElectionReport", "GpUnit"): "ReportingUnit",
    ("Election", "Name"): "InternationalizedText",
    ("Election", "Contest"): "CandidateContest",
    ("Election", "Candidate"): "Candidate",
    ("CandidateContest", "BallotSelection"): "CandidateSelection",
    ("CandidateContest", "SummaryCounts"): "SummaryCounts",
    ("CandidateSelection", "VoteCounts"): "VoteCounts",
    ("Candidate", "BallotName"): "InternationalizedText",
    ("InternationalizedText", "Text"): "LanguageString",
}
STRINGS = {("ReportingUnit", "Name"), ("CandidateContest", "Name"), ("ReportingUnit", "OtherType")}
