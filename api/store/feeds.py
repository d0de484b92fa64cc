"""What newsrooms poll besides results: the elections, a round's latest sequence, and the change feed."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from api.store.common import (
    BadArgument,
    ElectionIndex,
    NotFound,
    RoundInfo,
    election_index,
    now,
    round_info,
    round_thresholds,
    warning_codes,
)
from api.store.models import CandidateRow, ElectionRow, RoundRow
from api.store.results import View, context, open_view
from api.store.sql import Raw

CURSOR = re.compile(r"^(\d{1,12})(?::(\d{1,12}))?$")
EVERY_BUREAU = 2**62


def elections(connection: Connection) -> list[dict[str, Any]]:
    rows = connection.execute(select(ElectionRow).order_by(ElectionRow.code)).all()
    return [_election(connection, row) for row in rows]


def election(connection: Connection, code: str) -> dict[str, Any]:
    row = connection.execute(select(ElectionRow).where(ElectionRow.code == code)).one_or_none()
    if row is None:
        raise NotFound(f"There is no election {code!r}.")
    return _election(connection, row)


def round_document(connection: Connection, election_code: str, number: int) -> dict[str, Any]:
    rounds: list[dict[str, Any]] = election(connection, election_code)["rounds"]
    for found in rounds:
        if found["number"] == number:
            return found
    raise NotFound(f"Election {election_code!r} has no round {number}.")


def _election(connection: Connection, row: Any) -> dict[str, Any]:
    rounds = connection.execute(
        select(RoundRow).where(RoundRow.election_id == row.id).order_by(RoundRow.number)
    ).all()
    numbers = {r.id: r.number for r in rounds}
    moment = now()
    candidates = defaultdict(list)
    for candidate in connection.execute(
        select(CandidateRow).where(CandidateRow.round_id.in_(numbers)).order_by(CandidateRow.ballot_order)
    ):
        candidates[candidate.round_id].append(
            {"id": candidate.code, "name": candidate.name, "ballot_order": candidate.ballot_order}
        )
    return {
        "id": row.code,
        "name": row.name,
        "organiser": row.organiser,
        "type": row.type,  # for the NIST report's Election.Type; not (yet) in the API's ElectionSchema
        "note": row.note,
        "levels": list(row.levels),
        "rounds": [
            {
                "election": row.code,
                "number": r.number,
                "date": r.date.isoformat(),
                "previous_round": numbers.get(r.previous_round_id) if r.previous_round_id else None,
                "status": r.status,
                "test": r.test,
                "sequence": None if r.results_not_before and moment < r.results_not_before else r.sequence,
                "results_not_before": r.results_not_before.isoformat() if r.results_not_before else None,
                "flagged_returns": r.flagged_returns,
                "double_entry": r.double_entry,
                "warning_thresholds": round_thresholds(r.warning_thresholds),
                "candidates": candidates[r.id],
            }
            for r in rounds
        ],
    }


def current(connection: Connection, election_code: str, round_number: int) -> dict[str, Any]:
    """The round's latest sequence with its context: cheap to poll."""
    return current_of(open_view(connection, election_code, round_number))


def current_of(view: View) -> dict[str, Any]:
    embargo = view.round_.results_not_before
    return {**context(view), "results_not_before": embargo.isoformat() if embargo else None}


def changes(
    connection: Connection, election_code: str, round_number: int, since: str, limit: int
) -> dict[str, Any]:
    """Returns recorded or corrected after a cursor, in publication order, a page at a time.

    The cursor is a sequence (`42`) or the `next` of a previous page (`42:1234`, a sequence and the last
    bureau read in it): a file recorded at one sequence can span many pages, and none is missed or repeated.
    """
    after = parse_cursor(since)
    round_ = round_info(connection, election_code, round_number)
    found = changes_after(connection, round_, after, round_.sequence, limit + 1)
    page, truncated = found[:limit], len(found) > limit
    return changes_page(
        election_code,
        round_number,
        since,
        after=after,
        current_sequence=round_.sequence,
        items=[item for _, item in page],
        truncated=truncated,
        last=page[-1][0] if page else None,
    )


Position = tuple[int, int]  # (sequence, bureau id): where a change sits in the feed


def parse_cursor(since: str) -> Position:
    """ "42" means all of sequence 42 has been read; "42:1234", only its bureaux up to id 1234."""
    found = CURSOR.match(since.strip())
    if not found:
        raise BadArgument(f"since: {since!r} is neither a sequence like 42 nor a `next` cursor like 42:1234.")
    return int(found.group(1)), int(found.group(2)) if found.group(2) else EVERY_BUREAU


def changes_after(
    connection: Connection, round_: RoundInfo, after: Position, up_to_sequence: int, limit: int
) -> list[tuple[Position, dict[str, Any]]]:
    """Up to `limit` changes past the position `after`, none later than `up_to_sequence`, in feed order."""
    raw = Raw(connection)
    rows = raw.rows(
        f"SELECT {VERSION_COLUMNS} FROM return_versions WHERE round_id = ? AND sequence <= ? "
        "AND (sequence > ? OR (sequence = ? AND bureau_id > ?)) ORDER BY sequence, bureau_id LIMIT ?",
        (round_.id, up_to_sequence, after[0], after[0], after[1], limit),
    )
    items = _items(raw, round_, election_index(connection, round_.election_id, round_.registry_version), rows)
    return [((row[2], row[0]), item) for row, item in zip(rows, items, strict=True)]


def changes_page(
    election_code: str,
    round_number: int,
    since: str,
    *,
    after: Position,
    current_sequence: int,
    items: list[Any],
    truncated: bool,
    last: Position | None,
) -> dict[str, Any]:
    """A page of the feed. A full page stops inside a sequence, so its cursor names the last bureau read;
    otherwise everything up to the round's latest sequence has been read, checkpoint-only sequences
    included."""
    next_cursor = f"{last[0]}:{last[1]}" if truncated and last else str(max(current_sequence, after[0]))
    return {
        "election": election_code,
        "round": round_number,
        "since": since,
        "next": next_cursor,
        "truncated": truncated,
        "current_sequence": current_sequence,
        "changes": items,
    }


def emptied_between(connection: Connection, round_id: int, after_sequence: int, up_to_sequence: int) -> bool:
    """Whether a publication in (after, up to] has no bureau at all: a rehearsal wiped (returns are never
    withdrawn otherwise), so every change read before it is gone."""
    return bool(
        Raw(connection).rows(
            "SELECT 1 FROM publications WHERE round_id = ? AND sequence > ? AND sequence <= ? "
            "AND bureaux_reported = 0 LIMIT 1",
            (round_id, after_sequence, up_to_sequence),
        )
    )


VERSION_COLUMNS = (
    'bureau_id, version, sequence, voters, blank, "null", valid, reported_at, recorded_at, reason, warnings'
)


def corrections_of(view: View) -> dict[str, Any]:
    """The round's corrections as of the view's sequence: when, which bureau, old and new counts, why."""
    raw = Raw(view.connection)
    rows = raw.rows(
        f"SELECT {VERSION_COLUMNS} FROM return_versions WHERE round_id = ? AND version > 1 AND sequence <= ? "
        "ORDER BY sequence, bureau_id",
        (view.round_.id, view.publication.sequence),
    )
    return {**context(view), "corrections": _items(raw, view.round_, view.index, rows)}


def _items(
    raw: Raw, round_: RoundInfo, index: ElectionIndex, rows: list[tuple[Any, ...]]
) -> list[dict[str, Any]]:
    """Return versions as the change feed and the corrections log show them (a correction with what it
    replaced)."""
    replaced = [(row[0], row[1] - 1) for row in rows if row[1] > 1]
    votes = _votes(raw, round_, [(row[0], row[1]) for row in rows] + replaced)
    previous = _previous_counts(raw, round_, replaced)
    items = []
    for (
        bureau_id,
        version,
        sequence,
        voters,
        blank,
        null,
        valid,
        reported_at,
        recorded_at,
        reason,
        flags,
    ) in rows:
        bureau = index.registry.bureaux[index.bureau_position[bureau_id]]
        before = previous.get((bureau_id, version - 1))
        items.append(
            {
                "bureau": bureau.code,
                "name": bureau.name,
                "kind": "corrected" if version > 1 else "recorded",
                "version": version,
                "sequence": sequence,
                "reported_at": Raw.read_time(reported_at).isoformat(),  # type: ignore[union-attr]
                "recorded_at": Raw.read_time(recorded_at).isoformat(),  # type: ignore[union-attr]
                "counts": {
                    "voters": voters,
                    "blank": blank,
                    "null": null,
                    "valid": valid,
                    "votes": votes[(bureau_id, version)],
                },
                "previous": None if before is None else {**before, "votes": votes[(bureau_id, version - 1)]},
                "reason": reason,
                "warnings": warning_codes(flags),
            }
        )
    return items


def _votes(raw: Raw, round_: RoundInfo, keys: list[tuple[int, int]]) -> dict[tuple[int, int], dict[str, int]]:
    found: dict[tuple[int, int], dict[str, int]] = defaultdict(dict)
    if not keys:
        return found
    codes = dict(zip(round_.candidate_ids, round_.candidate_codes, strict=True))
    wanted = set(keys)
    bureaux = sorted({bureau for bureau, _ in keys})
    for start in range(0, len(bureaux), 500):
        chunk = bureaux[start : start + 500]
        for bureau_id, version, candidate_id, votes in raw.rows(
            "SELECT bureau_id, version, candidate_id, votes FROM return_votes WHERE round_id = ? "
            f"AND bureau_id IN ({', '.join('?' * len(chunk))})",
            (round_.id, *chunk),
        ):
            if (bureau_id, version) in wanted:
                found[(bureau_id, version)][codes[candidate_id]] = votes
    return found


def _previous_counts(
    raw: Raw, round_: RoundInfo, keys: list[tuple[int, int]]
) -> dict[tuple[int, int], dict[str, int]]:
    found: dict[tuple[int, int], dict[str, int]] = {}
    for bureau_id, version in keys:
        for voters, blank, null, valid in raw.rows(
            'SELECT voters, blank, "null", valid FROM return_versions '
            "WHERE round_id = ? AND bureau_id = ? AND version = ?",
            (round_.id, bureau_id, version),
        ):
            found[(bureau_id, version)] = {"voters": voters, "blank": blank, "null": null, "valid": valid}
    return found


def head(connection: Connection, election_code: str, round_number: int) -> tuple[int, datetime | None]:
    """The round's latest sequence and when it was published: one indexed row, read on every request."""
    found = Raw(connection).rows(
        "SELECT r.sequence, p.published_at FROM rounds r JOIN elections e ON e.id = r.election_id "
        "LEFT JOIN publications p ON p.round_id = r.id AND p.sequence = r.sequence "
        "WHERE e.code = ? AND r.number = ?",
        (election_code, round_number),
    )
    if not found:
        raise NotFound(f"Election {election_code!r} has no round {round_number}.")
    sequence, published_at = found[0]
    return sequence, Raw.read_time(published_at)
