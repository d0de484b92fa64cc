"""Exports of a round as of one sequence: the ministry's per-bureau CSV layout and NIST SP 1500-100 JSON.

Both are built from a `View`, so an export names the sequence it belongs to and never mixes two.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

import numpy as np

from api.sql import Raw
from api.store.common import stored_returns
from api.store.results import View, context
from tabulator.batch import UNKNOWN
from tabulator.metrics import percent
from tabulator.ministry import BLOCK_COLUMNS, FIXED_COLUMNS, Departement
from tabulator.spreadsheet import safe_row

VENDOR = "tabulator 0.1.0"
# First line of a test round's CSV: the file travels without its JSON `test` flag, and must not pass for
# real results once downloaded and forwarded. The ministry's own files never start with it.
TEST_MARK = "# TEST DATA — not real results"


def ministry_csv(view: View, departements: Mapping[str, Departement]) -> bytes:
    """Every reported bureau in the ministry's layout (UTF-8, `;`, decimal comma in percentages).

    An election without a commune level (a primary counted by circonscription) gets one placeholder
    commune `000` per circonscription, named after it, so that the file reads back as it was written.
    """
    registry = view.index.registry
    stored = stored_returns(
        Raw(view.connection), view.round_, view.index.bureau_ids, up_to_sequence=view.publication.sequence
    )
    ministry_code = {d.code: d.ministry_code for d in departements.values()}
    out = io.StringIO()
    if view.round_.test:
        out.write(f"{TEST_MARK}\r\n")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(
        [*FIXED_COLUMNS, *BLOCK_COLUMNS, *[""] * (len(BLOCK_COLUMNS) * (len(view.round_.candidates) - 1))]
    )
    for row in sorted(np.flatnonzero(stored.exists).tolist(), key=lambda r: registry.bureaux[r].code):
        places = {
            area.level: area for area in registry.chain(registry.leaf_level, registry.bureaux[row].area_code)
        }
        departement, circonscription = places["departement"], places["circonscription"]
        commune = places.get("commune")
        voters, blank, null, valid = (int(v) for v in stored.counts[row])
        registered = int(stored.registered[row])
        inscrits = registered if registered != UNKNOWN else None
        writer.writerow(
            safe_row(
                [
                    ministry_code.get(departement.code, departement.code),
                    departement.name,
                    str(int(circonscription.code.rsplit("-", 1)[-1])),
                    circonscription.name,
                    commune.code.rsplit("-", 1)[-1] if commune else "000",
                    commune.name if commune else circonscription.name,
                    registry.bureaux[row].code.rsplit("-", 1)[-1],
                    _number(inscrits),
                    _number(None if inscrits is None else inscrits - voters),
                    _pct(None if inscrits is None else inscrits - voters, inscrits),
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
                        for candidate, votes in zip(
                            view.round_.candidates, stored.votes[row].tolist(), strict=True
                        )
                        for cell in _candidate_block(
                            candidate.ballot_order, candidate.name, votes, inscrits, valid
                        )
                    ],
                ]
            )
        )
    return out.getvalue().encode("utf-8")


def is_test_export(body: bytes) -> bool:
    """Whether a CSV from `ministry_csv` is a test round's (its first line says so)."""
    return body.startswith(TEST_MARK.encode())


def _candidate_block(order: int, name: str, votes: int, inscrits: int | None, valid: int) -> list[Any]:
    first_name, _, family_name = name.partition(" ")
    return [order, "", family_name.upper(), first_name, votes, _pct(votes, inscrits), _pct(votes, valid)]


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


def _pct(part: int | None, whole: int | None) -> str:
    if part is None or not whole:
        return ""
    value = percent(part, whole)
    return "" if value is None else f"{value:.2f}".replace(".", ",")


NIST_STATUS = {"partial": "unofficial-partial", "complete": "unofficial-complete", "certified": "certified"}
NIST_UNIT_TYPE = {"national": "country"}  # French areas have no NIST type of their own: "other" + OtherType


def nist_report(view: View, *, name: str, organiser: str) -> dict[str, Any]:
    """The round as a NIST SP 1500-100 v2 ElectionReport: one CandidateContest, one ReportingUnit per area.

    Blancs are the contest's Undervotes (no choice marked), nuls its BallotsRejected, votants BallotsCast.
    """
    registry = view.index.registry
    head = context(view)
    positions = list(range(len(registry.areas)))
    tallies = view.tallies(positions)
    unit_ids = [_unit_id(area.level, area.code) for area in registry.areas]
    round_ = view.round_
    contest_id = f"contest-{round_.number}"
    return {
        "@type": "ElectionResults.ElectionReport",
        "Format": "summary-contest",
        "GeneratedDate": head["published_at"] or head["as_of"] or "1970-01-01T00:00:00+00:00",
        "Issuer": organiser or name,
        "IssuerAbbreviation": head["election"],
        "IsTest": head["test"],
        "Notes": f"tabulator sequence {head['sequence']}; data as of {head['as_of']}",
        "SequenceStart": 1,
        "SequenceEnd": 1,
        "Status": NIST_STATUS[head["status"]],
        "VendorApplicationId": VENDOR,
        "GpUnit": [
            _reporting_unit(
                area.level,
                unit_ids[p],
                area.name,
                tallies[p],
                bureaux_total=int(view.index.bureaux_total[p]),
                composing=[unit_ids[c] for c in registry.children[p]]
                if area.level != registry.leaf_level
                else [],
            )
            for p, area in enumerate(registry.areas)
        ],
        "Election": [
            {
                "@type": "ElectionResults.Election",
                "Name": _text(f"{name}, tour {round_.number}"),
                "StartDate": round_.date.isoformat(),
                "EndDate": round_.date.isoformat(),
                "Type": "primary",
                "ElectionScopeId": unit_ids[0],
                "Candidate": [
                    {
                        "@type": "ElectionResults.Candidate",
                        "@id": f"candidate-{c.id}",
                        "BallotName": _text(c.name),
                    }
                    for c in round_.candidates
                ],
                "Contest": [
                    {
                        "@type": "ElectionResults.CandidateContest",
                        "@id": contest_id,
                        "Name": f"{name}, tour {round_.number}",
                        "ElectoralDistrictId": unit_ids[0],
                        "VotesAllowed": 1,
                        "SubUnitsReported": head["bureaux_reported"],
                        "TotalSubUnits": head["bureaux_total"],
                        "BallotSelection": [
                            {
                                "@type": "ElectionResults.CandidateSelection",
                                "@id": f"{contest_id}-{c.id}",
                                "CandidateIds": [f"candidate-{c.id}"],
                                "SequenceOrder": c.ballot_order,
                                "VoteCounts": [
                                    {
                                        "@type": "ElectionResults.VoteCounts",
                                        "GpUnitId": unit_ids[p],
                                        "Type": "total",
                                        "Count": tallies[p].votes[c.id],
                                    }
                                    for p in positions
                                ],
                            }
                            for c in round_.candidates
                        ],
                        "SummaryCounts": [
                            {
                                "@type": "ElectionResults.SummaryCounts",
                                "GpUnitId": unit_ids[p],
                                "Type": "total",
                                "BallotsCast": tallies[p].voters,
                                "Undervotes": tallies[p].blank,
                                "BallotsRejected": tallies[p].null,
                            }
                            for p in positions
                        ],
                    }
                ],
            }
        ],
    }


def _unit_id(level: str, code: str) -> str:
    return f"gp-{level}-{code}"


def _text(content: str) -> dict[str, Any]:
    return {
        "@type": "ElectionResults.InternationalizedText",
        "Text": [{"@type": "ElectionResults.LanguageString", "Content": content, "Language": "fr"}],
    }


def _reporting_unit(
    level: str, unit_id: str, name: str, tally: Any, *, bureaux_total: int, composing: list[str]
) -> dict[str, Any]:
    unit: dict[str, Any] = {
        "@type": "ElectionResults.ReportingUnit",
        "@id": unit_id,
        "Name": name,
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
