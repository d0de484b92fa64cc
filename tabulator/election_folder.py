"""Reading an election folder (see docs/election-format.md) into domain objects.

The returns and checkpoints of each round stay as bytes: they go through the same readers and rules as
any uploaded file.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tabulator.ingest import FileRefused
from tabulator.registry import check_codes
from tabulator.rules import error
from tabulator.types import ELECTION_TYPES, Area, Bureau, Candidate, Cut, Election, Round


@dataclass(frozen=True)
class RoundFiles:
    number: int
    turnout: bytes | None
    returns: bytes | None
    corrections: bytes | None


@dataclass(frozen=True)
class ElectionFolder:
    election: Election
    areas: tuple[Area, ...]
    bureaux: tuple[Bureau, ...]
    rounds: tuple[RoundFiles, ...]


def read_election_folder(folder: Path) -> ElectionFolder:
    """The folder's election, registry and rounds; FileRefused if a code is not one (`bad_code`): codes
    become URLs and file names, and `../` in one must not reach the disk (the static publication)."""
    document = json.loads((folder / "election.json").read_text(encoding="utf-8"))
    election = election_from_json(document)
    if election.type not in ELECTION_TYPES:
        raise FileRefused(
            [
                error(
                    "unknown_type",
                    f"election.json: type {election.type!r} is not one of {', '.join(ELECTION_TYPES)}.",
                    field="type",
                )
            ]
        )
    areas = tuple(
        Area(row["level"], row["code"], row["name"], row["parent_code"] or None)
        for row in _rows(folder / "areas.csv")
    )
    # A bureau's area in each other cut is the column named after the cut's last level (`circonscription`).
    cut_leaves = [cut.levels[-1] for cut in election.cuts]
    bureaux = tuple(
        Bureau(
            row["code"],
            row["name"],
            row["area_code"],
            int(row["registered"]) if row["registered"] else None,
            row["merged_into"] or None,
            {leaf: row.get(leaf) or "" for leaf in cut_leaves},
        )
        for row in _rows(folder / "bureaux.csv")
    )
    if issues := check_codes(election, areas, bureaux):
        raise FileRefused(issues)
    return ElectionFolder(
        election=election,
        areas=areas,
        bureaux=bureaux,
        rounds=tuple(
            RoundFiles(
                round_.number,
                _optional_bytes(folder / f"round-{round_.number}" / "turnout.csv"),
                _optional_bytes(folder / f"round-{round_.number}" / "returns.csv"),
                _optional_bytes(folder / f"round-{round_.number}" / "corrections.csv"),
            )
            for round_ in election.rounds
        ),
    )


def election_from_json(document: dict[str, Any]) -> Election:
    return Election(
        id=document["id"],
        name=document["name"],
        organiser=document.get("organiser", ""),
        levels=tuple(document["levels"]),
        note=document.get("note", ""),
        type=document.get("type", "primary"),
        cuts=tuple(Cut(cut["name"], tuple(cut["levels"])) for cut in document.get("cuts", [])),
        rounds=tuple(
            Round(
                number=int(item["number"]),
                date=date.fromisoformat(item["date"]),
                previous_round=item.get("previous_round"),
                polls_close=datetime.fromisoformat(item["polls_close"]) if item.get("polls_close") else None,
                candidates=tuple(
                    Candidate(c["id"], c["name"], int(c["ballot_order"]))
                    for c in sorted(item["candidates"], key=lambda c: int(c["ballot_order"]))
                ),
            )
            for item in document["rounds"]
        ),
    )


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _optional_bytes(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None
