"""What newsrooms poll besides results, shaped from the facts of `api.store.feeds`: the elections and their
rounds, a round's latest sequence, the change feed and the corrections log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from api.documents.embargo import embargo_of
from api.documents.results import context, iso
from api.store.common import NotFound, RoundInfo, now, round_info
from api.store.feeds import (
    Change,
    Counts,
    Election,
    Position,
    changes_after,
    corrections,
    parse_cursor,
    read_election,
    read_elections,
)
from api.store.results import View


def elections(connection: Connection) -> list[dict[str, Any]]:
    moment = now()
    return [_election(found, moment) for found in read_elections(connection)]


def election(connection: Connection, code: str) -> dict[str, Any]:
    return _election(read_election(connection, code), now())


def round_document(connection: Connection, election_code: str, number: int) -> dict[str, Any]:
    found = read_election(connection, election_code)
    for round_ in found.rounds:
        if round_.number == number:
            return _round(found, round_, now())
    raise NotFound(f"Election {election_code!r} has no round {number}.")


def _election(found: Election, moment: datetime) -> dict[str, Any]:
    return {
        "id": found.code,
        "name": found.name,
        "organiser": found.organiser,
        "type": found.type,  # for the NIST report's Election.Type; not (yet) in the API's ElectionSchema
        "note": found.note,
        "levels": list(found.levels),
        "rounds": [_round(found, round_, moment) for round_ in found.rounds],
    }


def _round(found: Election, round_: RoundInfo, moment: datetime) -> dict[str, Any]:
    """A round as the public may see it at `moment`: under an embargo, its sequence is hidden (its movements
    would tell that returns come in)."""
    numbers = {r.id: r.number for r in found.rounds}
    return {
        "election": found.code,
        "number": round_.number,
        "date": round_.date.isoformat(),
        "previous_round": numbers.get(round_.previous_round_id) if round_.previous_round_id else None,
        "status": round_.status,
        "test": round_.test,
        "sequence": None if embargo_of(round_, moment) else round_.sequence,
        "results_not_before": iso(round_.results_not_before),
        "flagged_returns": round_.flagged_returns,
        "double_entry": round_.double_entry,
        "projection": round_.projection,
        "warning_thresholds": round_.warning_thresholds,
        "candidates": [
            {"id": candidate.id, "name": candidate.name, "ballot_order": candidate.ballot_order}
            for candidate in round_.candidates
        ],
    }


def current_of(view: View) -> dict[str, Any]:
    return {**context(view), "results_not_before": iso(view.round_.results_not_before)}


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
        items=[change_item(change) for change in page],
        truncated=truncated,
        last=page[-1].position if page else None,
    )


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


def change_item(change: Change) -> dict[str, Any]:
    """A return version as the change feed and the corrections log show it (a correction with what it
    replaced)."""
    return {
        "bureau": change.bureau,
        "name": change.name,
        "kind": "corrected" if change.version > 1 else "recorded",
        "version": change.version,
        "sequence": change.sequence,
        "reported_at": iso(change.reported_at),
        "recorded_at": iso(change.recorded_at),
        "counts": _counts(change.counts),
        "previous": None if change.previous is None else _counts(change.previous),
        "reason": change.reason,
        "warnings": change.warnings,
    }


def _counts(counts: Counts) -> dict[str, Any]:
    return {
        "voters": counts.voters,
        "blank": counts.blank,
        "null": counts.null,
        "valid": counts.valid,
        "votes": counts.votes,
    }


def corrections_of(view: View) -> dict[str, Any]:
    """The round's corrections as of the view's sequence: when, which bureau, old and new counts, why."""
    return {**context(view), "corrections": [change_item(change) for change in corrections(view)]}
