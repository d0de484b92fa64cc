"""The CSV form of the results, turnout, timeline and corrections documents, built from the same dicts as
their JSON: the same figures, one row per area, per checkpoint, per publication or per correction.

RFC 4180 (comma, CRLF, a header row), UTF-8, numbers as the JSON writes them (`58.65`, an empty cell for
null). A CSV travels without the JSON's context, so every row carries it in its last columns: the
sequence, `as_of`, `published_at`, `status` and `test` of the document, or, where a row has its own
sequence and times (a publication, a correction), `test` alone. Text cells go through `safe_row`: a name
typed by a clerk never runs as a spreadsheet formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tabulator.spreadsheet import safe_row

CONTEXT = ("sequence", "as_of", "published_at", "status", "test")
AREA = ("level", "code", "name")
COUNTS = ("voters", "blank", "null", "valid")


def results_csv(document: Mapping[str, Any]) -> bytes:
    """The area itself, then one row per child area (`level` tells which): bureaux reported, votants, and
    each candidate's votes and share of exprimés, as in the document's `results` and `children`."""
    candidates = [c["id"] for c in document["results"]["candidates"]]
    header = [
        *AREA,
        "bureaux_reported",
        "bureaux_total",
        "voters",
        *_per_candidate(candidates, "votes", "pct_valid"),
        "leader",
        *CONTEXT,
    ]
    context = [document[key] for key in CONTEXT]
    own = {**document["area"], **document["results"]}
    rows = [
        [
            *(row[key] for key in AREA),
            row["bureaux_reported"],
            row["bureaux_total"],
            row["voters"],
            *_candidate_cells(candidates, row["candidates"]),
            row["leader"],
            *context,
        ]
        for row in (own, *document["children"])
    ]
    return _csv(header, rows)


def level_csv(document: Mapping[str, Any], candidates: Sequence[str]) -> bytes:
    """One row per area of the level: its code and name, its parents' codes (a column per level, top
    first), bureaux reported, inscrits, abstentions, votants, blancs, nuls, exprimés, and each candidate's
    votes and shares of exprimés and of inscrits. `candidates` (in ballot order) fix the columns, even for a
    feed without rows."""
    parents = document["parent_levels"]
    figures = ("bureaux_reported", "bureaux_total", "registered", "abstentions", *COUNTS)
    header = [
        "level",
        "code",
        "name",
        *parents,
        *figures,
        *_per_candidate(candidates, "votes", "pct_valid", "pct_registered"),
        "leader",
        *CONTEXT,
    ]
    context = [document[key] for key in CONTEXT]
    rows = [
        [
            document["level"],
            row["code"],
            row["name"],
            *(row["parents"].get(level) for level in parents),
            *(row[key] for key in figures),
            *_candidate_cells(candidates, row["candidates"], "votes", "pct_valid", "pct_registered"),
            row["leader"],
            *context,
        ]
        for row in document["areas"]
    ]
    return _csv(header, rows)


def turnout_csv(document: Mapping[str, Any]) -> bytes:
    """One row per checkpoint time of the area: bureaux that reported it, votants so far, and the change
    like for like against the previous round at the same hour (empty for a first round)."""
    header = [
        *AREA,
        "time",
        "bureaux_reported",
        "bureaux_total",
        "voters",
        "matched_bureaux",
        "matched_voters",
        "matched_previous_voters",
        "change_pct",
        *CONTEXT,
    ]
    area = [document["area"][key] for key in AREA]
    context = [document[key] for key in CONTEXT]
    rows = []
    for checkpoint in document["checkpoints"]:
        matched = checkpoint["like_for_like"] or {}
        rows.append(
            [
                *area,
                checkpoint["time"],
                checkpoint["bureaux_reported"],
                document["area_bureaux_total"],
                checkpoint["voters"],
                *(matched.get(key) for key in ("matched_bureaux", "voters", "previous_voters", "change_pct")),
                *context,
            ]
        )
    return _csv(header, rows)


def timeline_csv(document: Mapping[str, Any], candidates: Sequence[str]) -> bytes:
    """One row per publication up to the document's: its time, bureaux reported, the national counts and
    each candidate's votes and share. `candidates` (in ballot order) fix the columns, even before any
    publication."""
    header = [
        "sequence",
        "as_of",
        "published_at",
        "bureaux_reported",
        *COUNTS,
        *_per_candidate(candidates, "votes", "pct_valid"),
        "test",
    ]
    rows = [
        [
            row["sequence"],
            row["as_of"],
            row["published_at"],
            row["bureaux_reported"],
            *(row[key] for key in COUNTS),
            *_candidate_cells(candidates, row["candidates"]),
            document["test"],
        ]
        for row in document["timeline"]
    ]
    return _csv(header, rows)


def corrections_csv(document: Mapping[str, Any], candidates: Sequence[str]) -> bytes:
    """One row per correction: the bureau, the version it made and the publication that included it, its
    counts, the counts it replaced (`previous_…`) and the reason."""
    header = [
        "bureau",
        "name",
        "version",
        "sequence",
        "reported_at",
        "recorded_at",
        *COUNTS,
        *(f"{candidate}_votes" for candidate in candidates),
        *(f"previous_{key}" for key in COUNTS),
        *(f"previous_{candidate}_votes" for candidate in candidates),
        "reason",
        "test",
    ]
    rows = [
        [
            item["bureau"],
            item["name"],
            item["version"],
            item["sequence"],
            item["reported_at"],
            item["recorded_at"],
            *_counts(item["counts"], candidates),
            *_counts(item["previous"], candidates),
            item["reason"],
            document["test"],
        ]
        for item in document["corrections"]
    ]
    return _csv(header, rows)


def projection_csv(document: Mapping[str, Any]) -> bytes:
    """One row per candidate: the estimated share of exprimés and its 90 % interval, beside the area's
    estimated votants and the bureaux the estimate stands on; no row while there is no estimate."""
    header = [
        *AREA,
        "candidate",
        "pct_valid",
        "pct_valid_low",
        "pct_valid_high",
        "leader_stays_ahead",
        "voters",
        "voters_low",
        "voters_high",
        "bureaux_counted",
        "bureaux_total",
        *CONTEXT,
    ]
    found = document["projection"]
    area = [document["area"][key] for key in AREA]
    context = [document[key] for key in CONTEXT]
    rows = [
        [
            *area,
            candidate["id"],
            candidate["pct_valid"],
            candidate["pct_valid_low"],
            candidate["pct_valid_high"],
            found["leader_stays_ahead"] if candidate["id"] == found["leader"] else None,
            *(found["voters"][key] for key in ("value", "low", "high")),
            found["bureaux_counted"],
            found["bureaux_total"],
            *context,
        ]
        for candidate in (found["candidates"] if found else [])
    ]
    return _csv(header, rows)


def projection_timeline_csv(document: Mapping[str, Any]) -> bytes:
    """One row per point of the evening and candidate: the nation's estimate at that publication."""
    header = [
        "sequence",
        "as_of",
        "published_at",
        "bureaux_counted",
        "bureaux_total",
        "candidate",
        "pct_valid",
        "pct_valid_low",
        "pct_valid_high",
        "leader_stays_ahead",
        "test",
    ]
    rows = [
        [
            point["sequence"],
            point["as_of"],
            point["published_at"],
            found["bureaux_counted"],
            found["bureaux_total"],
            candidate["id"],
            candidate["pct_valid"],
            candidate["pct_valid_low"],
            candidate["pct_valid_high"],
            found["leader_stays_ahead"] if candidate["id"] == found["leader"] else None,
            document["test"],
        ]
        for point in document["timeline"]
        for found in (point["projection"],)
        for candidate in found["candidates"]
    ]
    return _csv(header, rows)


def _per_candidate(candidates: Iterable[str], *figures: str) -> list[str]:
    return [f"{candidate}_{figure}" for candidate in candidates for figure in figures]


def _candidate_cells(
    candidates: Iterable[str], figures: Iterable[Mapping[str, Any]], *keys: str
) -> list[Any]:
    """Each candidate's figures (`keys`; votes and share of exprimés by default) in the columns' order; a
    candidate a row lacks is left empty."""
    by_id = {figure["id"]: figure for figure in figures}
    keys = keys or ("votes", "pct_valid")
    return [by_id.get(candidate, {}).get(key) for candidate in candidates for key in keys]


def _counts(counts: Mapping[str, Any] | None, candidates: Sequence[str]) -> list[Any]:
    """Votants, blancs, nuls, exprimés and each candidate's votes; all empty where there are none."""
    if counts is None:
        return [None] * (len(COUNTS) + len(candidates))
    return [*(counts[key] for key in COUNTS), *(counts["votes"].get(c) for c in candidates)]


def _cell(value: Any) -> Any:
    """As the JSON writes it: null is an empty cell, booleans are `true`/`false`, floats keep their
    digits (`45.0`, `58.65`)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(safe_row(header))
    writer.writerows(safe_row(_cell(value) for value in row) for row in rows)
    return out.getvalue().encode("utf-8")
