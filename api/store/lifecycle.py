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
    flagged_returns: str | None = None,
    double_entry: bool | None = None,
) -> RoundInfo:
    """Move a round to a status, set or lift its embargo, mark it a test or not, choose how clerks' returns
    are reviewed. Refused when certified."""
    with writing(engine) as connection:
        round_ = round_info(connection, election_code, number, lock=True)
        refuse_if_certified(round_)
        if status is not None and status != round_.status and status not in MOVES[round_.status]:
            raise Refused(
                [
                    error(
                        "bad_transition",
                        f"A round goes {' → '.join(ORDER)} (and back from complete to "
                        f"counting); round {number} cannot go from {round_.status} to {status}.",
                    )
                ]
            )
        values: dict[str, object] = {}
        if status is not None:
            values["status"] = status
        if results_not_before is not UNSET:
            values["results_not_before"] = results_not_before
        settings = {"test": test, "flagged_returns": flagged_returns, "double_entry": double_entry}
        values.update({name: value for name, value in settings.items() if value is not None})
        if not values:
            return round_
        connection.execute(update(RoundRow).where(RoundRow.id == round_.id).values(**values))
        changed = round_info(connection, election_code, number, lock=True)
        publish(
            Raw(connection),
            changed,
            election_index(connection, round_.election_id, round_.registry_version),
            round_.sequence + 1,
            None,
        )
        return round_info(connection, election_code, number)


ROUND_DATA = (
    "publication_votes",
    "publications",
    "area_votes",
    "area_results",
    "return_votes",
    "return_versions",
    "checkpoints",
    "entries",
)


def wipe_test_round(engine: Engine, election_code: str, number: int) -> int:
    """Remove a rehearsal's returns, waiting entries, checkpoints, sums and publications before the real
    night; returns how many return versions went. Only a round marked test, and only while no later round
    compares with it.

    Its sequence keeps counting up from where the rehearsal left it, so that no cache anywhere can take a
    sequence of the real night for one of the rehearsal's.
    """
    with writing(engine) as connection:
        round_ = round_info(connection, election_code, number, lock=True)
        if not round_.test:
            raise Refused(
                [error("not_a_test", f"Round {number} is not marked test: its data is real and stays.")]
            )
        raw = Raw(connection)
        if raw.rows("SELECT id FROM rounds WHERE previous_round_id = ? AND sequence > 0", (round_.id,)):
            raise Refused(
                [
                    error(
                        "compared_round_published",
                        f"A later round compares itself with round {number}; wipe that round first.",
                    )
                ]
            )
        removed = int(raw.rows("SELECT count(*) FROM return_versions WHERE round_id = ?", (round_.id,))[0][0])
        for table in ROUND_DATA:
            raw.execute(f"DELETE FROM {table} WHERE round_id = ?", (round_.id,))
        connection.execute(update(RoundRow).where(RoundRow.id == round_.id).values(as_of=None))
        emptied = round_info(connection, election_code, number, lock=True)
        publish(
            raw,
            emptied,
            election_index(connection, round_.election_id, round_.registry_version),
            round_.sequence + 1,
            None,
        )
    return removed
