"""Exports of a round as of one sequence: the ministry's per-bureau CSV layout and NIST SP 1500-100 JSON.

Both are built from a `View`, so an export names the sequence it belongs to and never mixes two.
"""

from __future__ import annotations

import codecs
import csv
import io
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from api.store.common import stored_returns
from api.store.models import ElectionRow
from api.store.results import View
from api.store.sql import Raw
from tabulator.batch import UNKNOWN
from tabulator.metrics import percent
from tabulator.ministry import BLOCK_COLUMNS, FIXED_COLUMNS, Departement, ministry_commune
from tabulator.plan import StoredReturns
from tabulator.registry import Registry
from tabulator.spreadsheet import safe_row
from tabulator.types import Area, Bureau, Candidate, Tally

VENDOR = "tabulator 0.1.0"
# First line of a test round's CSV: the file travels without its JSON `test` flag, and must not pass for
# real results once downloaded and forwarded. The ministry's own files never start with it.
TEST_MARK = "# TEST DATA — not real results"
TEST_MARK_START = b"# TEST DATA"  # the same bytes in either encoding
# The ministry writes Latin-1; a UTF-8 copy is offered too. Our name of each → the charset HTTP names.
ENCODINGS = {"latin-1": "ISO-8859-1", "utf-8": "utf-8"}
NEAREST_LATIN_1 = "tabulator-nearest-latin-1"
# Characters Latin-1 lacks that an organiser may type; others lose their accents, or become `?`.
LATIN_1_STAND_INS = {"’": "'", "‘": "'", "“": '"', "”": '"', "—": "-", "–": "-", "…": "...", "œ": "oe"}


def _nearest_latin_1(problem: UnicodeError) -> tuple[str, int]:
    assert isinstance(problem, UnicodeEncodeError)
    lacking = problem.object[problem.start : problem.end]
    return "".join(_stand_in(character) for character in lacking), problem.end


def _stand_in(character: str) -> str:
    if found := LATIN_1_STAND_INS.get(character.lower()):
        return found.upper() if character.isupper() else found
    bare = unicodedata.normalize("NFKD", character).encode("latin-1", "ignore").decode("latin-1")
    return bare or "?"


codecs.register_error(NEAREST_LATIN_1, _nearest_latin_1)


def ministry_csv(view: View, departements: Mapping[str, Departement], encoding: str = "latin-1") -> bytes:
    """Every reported bureau in the ministry's layout (`;`, CRLF, decimal comma in percentages), in the
    ministry's order (département, commune, bureau) and with the labels of the file the election was
    imported from: a ministry file imported, then exported, comes back field for field, but for a
    percentage that sits exactly on a rounding tie (they are computed again from the counts).

    `encoding`: `latin-1`, as the ministry writes (a character it lacks becomes its nearest form: ’ → ',
    œ → oe), or `utf-8`. An election without a commune level (a primary counted by circonscription) gets
    one placeholder commune `000` per circonscription, named after it, so that the file reads back as it
    was written.
    """
    stored = stored_returns(
        Raw(view.connection), view.round_, view.index.bureau_ids, up_to_sequence=view.publication.sequence
    )
    out = io.StringIO()
    if view.round_.test:
        out.write(f"{TEST_MARK}\r\n")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        [*FIXED_COLUMNS, *BLOCK_COLUMNS, *[""] * (len(BLOCK_COLUMNS) * (len(view.round_.candidates) - 1))]
    )
    for place, row in _in_ministry_order(view.index.registry, stored, departements):
        writer.writerow(safe_row([*place, *_counts_cells(stored, row, view.round_.candidates)]))
    if encoding == "utf-8":
        return out.getvalue().encode("utf-8")
    return out.getvalue().encode("latin-1", errors=NEAREST_LATIN_1)


def _in_ministry_order(
    registry: Registry, stored: StoredReturns, departements: Mapping[str, Departement]
) -> list[tuple[list[str], int]]:
    """The reported bureaux (their rows in `stored`), each with the cells that place it, in the ministry's
    order."""
    by_code = {d.code: d for d in departements.values()}
    placed = sorted(
        (*_place(registry, registry.bureaux[row], by_code), row)
        for row in np.flatnonzero(stored.exists).tolist()
    )
    return [(place, row) for _, place, row in placed]


def _counts_cells(stored: StoredReturns, row: int, candidates: Sequence[Candidate]) -> list[Any]:
    """A bureau's counts as the ministry lays them out: each count with its percentages (of inscrits, and
    of votants where the ministry gives one), then a block per candidate."""
    voters, blank, null, valid = (int(count) for count in stored.counts[row])
    registered = int(stored.registered[row])
    inscrits = registered if registered != UNKNOWN else None
    abstentions = None if inscrits is None else inscrits - voters
    return [
        _number(inscrits),
        _number(abstentions),
        _pct(abstentions, inscrits),
        voters,
        _pct(voters, inscrits),
        blank,
        _pct(blank, inscrits),
        _pct(blank, voters),
        null,
        _pct(null, inscrits),
        _pct(null, voters),
        valid,
        _pct(valid, inscrits),
        _pct(valid, voters),
        *[
            cell
            for candidate, votes in zip(candidates, stored.votes[row].tolist(), strict=True)
            for cell in _candidate_block(candidate, votes, inscrits, valid)
        ],
    ]


def _place(
    registry: Registry, bureau: Bureau, departements: Mapping[str, Departement]
) -> tuple[tuple[str, str, int, str], list[str]]:
    """A bureau's place in the ministry's order, and the seven cells that say where it is.

    The ministry sorts by département, commune and bureau codes (a commune that spans circonscriptions is
    not split); the placeholder commune of an election without communes stands for its circonscription.
    """
    places = {area.level: area for area in registry.chain(registry.leaf_level, bureau.area_code)}
    departement, commune = places["departement"], places.get("commune")
    circonscription = places.get("circonscription") or registry.area(
        "circonscription", bureau.cut_areas["circonscription"]
    )
    known = departements.get(departement.code)
    departement_code = known.ministry_code if known else departement.code
    circonscription_number = int(circonscription.code.rsplit("-", 1)[-1])
    if commune is None:
        commune_code, bureau_code = "000", bureau.code.rsplit("-", 1)[-1]
    else:  # codes from `tabulator.ministry`: commune 97105, bureau 97105_0001
        commune_code = ministry_commune(known, commune.code) if known else commune.code[-3:]
        bureau_code = bureau.code.removeprefix(f"{commune.code}_")
    order = (departement_code, commune_code, 0 if commune else circonscription_number, bureau_code)
    return order, [
        departement_code,
        _label(departement),
        str(circonscription_number),
        _label(circonscription),
        commune_code,
        _label(commune or circonscription),
        bureau_code,
    ]


def _label(area: Area) -> str:
    """The label of the file the area came from, if any: the ministry's `Ardeche` for `Ardèche`."""
    return area.source_label or area.name


def is_test_export(body: bytes) -> bool:
    """Whether a CSV from `ministry_csv` is a test round's (its first line says so)."""
    return body.startswith(TEST_MARK_START)


def _candidate_block(candidate: Candidate, votes: int, inscrits: int | None, valid: int) -> list[Any]:
    first_name, _, family_name = candidate.name.partition(" ")
    return [
        candidate.ballot_order,
        candidate.sex or "",
        family_name.upper(),
        first_name,
        votes,
        _pct(votes, inscrits),
        _pct(votes, valid),
    ]


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


def _pct(part: int | None, whole: int | None) -> str:
    if part is None or not whole:
        return ""
    value = percent(part, whole)
    return "" if value is None else f"{value:.2f}".replace(".", ",")


# NIST SP 1500-100 version 2, checked against NIST's own JSON schema (tests/nist.py).
# Area levels → ReportingUnitType. A circonscription (législative) elects one member of the Assemblée
# nationale, as a US congressional district elects one member of the House: v2's closest type. A commune is
# v2's `municipality` ("towns, townships, villages that report votes"). Régions and départements have no
# v2 type (`state` and `county` carry US meanings a reader would take literally): `other`, with the level
# in OtherType.
NIST_UNIT_TYPE = {"national": "country", "commune": "municipality", "circonscription": "congressional"}
# A test round is a rehearsal of the night (see `RoundRow.test`), with data that is wiped before it.
NIST_TEST_TYPE = "rehearsal: practice data entered before the real night, not results"


def nist_report(view: View) -> dict[str, Any]:
    """The round as a NIST SP 1500-100 v2 ElectionReport: one CandidateContest, one ReportingUnit per area.

    Votants are each area's BallotsCast (Election.BallotCounts) and VotersParticipated; blancs are the
    contest's Undervotes (Contest.OtherCounts: no choice marked); nuls are BallotsRejected (BallotCounts).
    """
    publication = view.publication
    as_of = publication.as_of.isoformat() if publication.as_of else None
    election = view.connection.execute(
        select(ElectionRow.name, ElectionRow.organiser, ElectionRow.type).where(
            ElectionRow.code == view.election_code
        )
    ).one()
    registry = view.index.registry
    tallies = view.tallies(list(range(len(registry.areas))))  # one read for the units and the counts
    unit_ids = [_unit_id(area.level, area.code) for area in registry.areas]
    report: dict[str, Any] = {
        "@type": "ElectionResults.ElectionReport",
        "Format": "summary-contest",
        "GeneratedDate": _nist_time(view.publication.published_at),
        "Issuer": election.organiser or election.name,
        "IssuerAbbreviation": view.election_code,
        "IsTest": view.round_.test,
        "Notes": f"tabulator sequence {publication.sequence}; data as of {as_of}",
        # v2: "the report's number as part of a sequence of reports … read as 1 of 1, 1 of 2, 2 of 2":
        # the parts of one report split across files. Each nist.json is whole in one file, so 1 of 1;
        # the publication it belongs to (each is a new report, superseding the last) is the
        # ExternalIdentifier `tabulator-sequence`, and the Notes.
        "SequenceStart": 1,
        "SequenceEnd": 1,
        "ExternalIdentifier": [_identifier("tabulator-sequence", str(publication.sequence))],
        "Status": nist_status(view.status, publication.bureaux_reported, view.bureaux_total),
        "VendorApplicationId": VENDOR,
        "GpUnit": _reporting_units(view, unit_ids, tallies),
        "Election": [_election(view, election, unit_ids, tallies)],
    }
    if view.round_.test:
        report["TestType"] = NIST_TEST_TYPE
    return report


def nist_status(status: str, bureaux_reported: int, bureaux_total: int) -> str:
    """v2's ResultsStatus: `certified` only for a certified round every bureau of which has reported; a
    round certified short of bureaux is still partial to a reader of NIST reports."""
    complete = bureaux_reported >= bureaux_total
    if status == "certified" and complete:
        return "certified"
    return "unofficial-complete" if complete else "unofficial-partial"


# The French kinds of election → v2's ElectionType. Every election the State runs is `general`; v2's
# `runoff` is an election held to decide an earlier one, while a French second tour is a round of the same
# election (its number is in the Election's name).
NIST_ELECTION_TYPE = {
    "presidential": "general",
    "legislative": "general",
    "european": "general",
    "regional": "general",
    "departmental": "general",
    "municipal": "general",
    "primary": "primary",
}


def nist_election_type(kind: str) -> dict[str, str]:
    """v2's ElectionType of a type of election (`ElectionRow.type`), with OtherType when v2 has none: a
    referendum, which v2 models as a ballot measure rather than a type of election."""
    known = NIST_ELECTION_TYPE.get(kind)
    return {"Type": known} if known else {"Type": "other", "OtherType": kind}


def _nist_time(moment: datetime | None) -> str:
    """v2's DateTimeWithZone has no fractional seconds. Sequence 0 (nothing published yet) has no time of
    its own: the epoch says so rather than a made-up moment, and keeps the document the same every time."""
    return (moment or datetime(1970, 1, 1, tzinfo=UTC)).replace(microsecond=0).isoformat()


def _identifier(kind: str, value: str) -> dict[str, Any]:
    return {"@type": "ElectionResults.ExternalIdentifier", "Type": "other", "OtherType": kind, "Value": value}


def _election(view: View, election: Any, unit_ids: list[str], tallies: Mapping[int, Tally]) -> dict[str, Any]:
    """The round as v2's Election (`election`: the stored election's name and type)."""
    return {
        "@type": "ElectionResults.Election",
        "Name": _text(f"{election.name}, tour {view.round_.number}"),
        "StartDate": view.round_.date.isoformat(),
        "EndDate": view.round_.date.isoformat(),
        **nist_election_type(election.type),
        "ElectionScopeId": unit_ids[0],
        "BallotCounts": _ballot_counts(unit_ids, tallies),
        "Candidate": [
            {"@type": "ElectionResults.Candidate", "@id": f"candidate-{c.id}", "BallotName": _text(c.name)}
            for c in view.round_.candidates
        ],
        "Contest": [_contest(view, unit_ids, tallies, name=election.name)],
    }


def _ballot_counts(unit_ids: list[str], tallies: Mapping[int, Tally]) -> list[dict[str, Any]]:
    return [
        {
            "@type": "ElectionResults.BallotCounts",
            "GpUnitId": unit_id,
            "Type": "total",
            "BallotsCast": tallies[p].voters,
            "BallotsRejected": tallies[p].null,
        }
        for p, unit_id in enumerate(unit_ids)
    ]


def _contest(view: View, unit_ids: list[str], tallies: Mapping[int, Tally], *, name: str) -> dict[str, Any]:
    round_ = view.round_
    contest_id = f"contest-{round_.number}"
    return {
        "@type": "ElectionResults.CandidateContest",
        "@id": contest_id,
        "Name": f"{name}, tour {round_.number}",
        "ElectionDistrictId": unit_ids[0],
        "VotesAllowed": 1,
        "SubUnitsReported": view.publication.bureaux_reported,
        "TotalSubUnits": view.bureaux_total,
        "ContestSelection": [
            {
                "@type": "ElectionResults.CandidateSelection",
                "@id": f"{contest_id}-{c.id}",
                "CandidateIds": [f"candidate-{c.id}"],
                "SequenceOrder": c.ballot_order,
                "VoteCounts": [
                    {
                        "@type": "ElectionResults.VoteCounts",
                        "GpUnitId": unit_id,
                        "Type": "total",
                        "Count": tallies[p].votes[c.id],
                    }
                    for p, unit_id in enumerate(unit_ids)
                ],
            }
            for c in round_.candidates
        ],
        "OtherCounts": [
            {"@type": "ElectionResults.OtherCounts", "GpUnitId": unit_id, "Undervotes": tallies[p].blank}
            for p, unit_id in enumerate(unit_ids)
        ],
    }


def _unit_id(level: str, code: str) -> str:
    return f"gp-{level}-{code}"


def _text(content: str) -> dict[str, Any]:
    return {
        "@type": "ElectionResults.InternationalizedText",
        "Text": [{"@type": "ElectionResults.LanguageString", "Content": content, "Language": "fr"}],
    }


def _reporting_units(view: View, unit_ids: list[str], tallies: Mapping[int, Tally]) -> list[dict[str, Any]]:
    registry = view.index.registry
    return [
        _reporting_unit(
            area.level,
            unit_ids[p],
            area.name,
            tallies[p],
            bureaux_total=int(view.index.bureaux_total[p]),
            composing=[unit_ids[c] for c in registry.child_areas(p)],
        )
        for p, area in enumerate(registry.areas)
    ]


def _reporting_unit(
    level: str, unit_id: str, name: str, tally: Tally, *, bureaux_total: int, composing: list[str]
) -> dict[str, Any]:
    unit: dict[str, Any] = {
        "@type": "ElectionResults.ReportingUnit",
        "@id": unit_id,
        "Name": _text(name),
        "Type": NIST_UNIT_TYPE.get(level, "other"),
        "SubUnitsReported": tally.bureaux_reported,
        "TotalSubUnits": bureaux_total,
        "VotersParticipated": tally.voters,
    }
    if unit["Type"] == "other":
        unit["OtherType"] = level
    if composing:
        unit["ComposingGpUnitIds"] = composing
    if tally.bureaux_reported and tally.bureaux_with_registered == tally.bureaux_reported:
        unit["VotersRegistered"] = tally.registered
    return unit
