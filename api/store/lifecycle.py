"""A round's life: setup → voting → counting → complete → certified, its embargo and its test flag.

Every change is published as a new sequence, so that a snapshot's status never changes after the fact.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, update

from api.db import writing
from api.models import RoundRow
from api.sql import Raw
from api.store.common import Refused, RoundInfo, election_index, refuse_if_certified, round_info
from api.store.returns import publish
from tabulator.rules import error

ORDER = ("setup", "voting", "counting", "complete", "certified")
# Forward, one or more steps; back only from complete to counting (a late return after all).
# Certified is final.
MOVES = {
    "setup": {"voting", "counting"},
    "voting": {"counting"},
    "counting": {"complete"},
    "complete": {"counting", "certified"},
    "certified": set(),
}
UNSET = object()


def update_round(
    engine: Engine,
    election_code: str,
    number: int,
    *,
    status: str | None = None,
    results_not_before: datetime | object | None = UNSET,
    test: bool | None = None,
) -> RoundInfo:
    """Move a round to a status, set or lift its embargo, mark it a test or not. Refused when certified."""
    with writing(engine) as connection:
        round_ = round_info(connection, election_code, number, lock=True)
        refuse_if_certified(round_)
        if status is not None and status != round_.status and status not in MOVES[round_.status]:
            raise Refused(
                [error("bad_transition", f"A round goes {' → '.join(ORDER)} (and back from complete to "
                       f"counting); round {number} cannot go from {round_.status} to {status}.")]
            )  # fmt: skip
        values: dict[str, object] = {}
        if status is not None:
            values["status"] = status
        if results_not_before is not UNSET:
            values["results_not_before"] = results_not_before
        if test is not None:
            values["test"] = test
        if not values:
            return round_
        connection.execute(update(RoundRow).where(RoundRow.id == round_.id).values(**values))
        changed = round_info(connection, election_code, number, lock=True)
        publish(
            Raw(connection),
            changed,
            election_index(connection, round_.election_id),
            round_.sequence + 1,
            None,
        )
        return round_info(connection, election_code, number)
