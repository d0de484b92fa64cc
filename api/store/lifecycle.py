"""A round's life: setup → voting → counting → complete → certified, its embargo and its test flag.

Every change is published as a new sequence, so that a snapshot's status never changes after the fact.

Four eyes: over the API, certifying a round, switching a test round to real and lifting an embargo early
(to no embargo, or to an earlier time, while it still holds) are not done by one person. The first
supervisor's request is kept in `confirmations`; a second person (a supervisor or an admin) confirms it
within a window, and the change is applied in the transaction that marks it confirmed. `update_round`
applies a change at once: it is for code that runs with the database's own rights (tests, scripts), not
for a request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from api.store.common import (
    NotFound,
    Refused,
    RoundInfo,
    election_index,
    now,
    refuse_if_certified,
    round_info,
)
from api.store.db import reading, writing
from api.store.models import (
    AreaResultRow,
    CheckpointRow,
    ConfirmationRow,
    EntryRow,
    PublicationRow,
    ReturnVersionRow,
    RoundRow,
)
from api.store.returns import publish
from api.store.sql import Raw
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
    projection: str | None = None,
) -> RoundInfo:
    """Move a round to a status, set or lift its embargo, mark it a test or not, choose how clerks' returns
    are reviewed — at once, without four eyes (see the module's note). Refused when certified."""
    values: dict[str, Any] = {"status": status} if status is not None else {}
    if results_not_before is not UNSET:
        values["results_not_before"] = results_not_before
    settings = {
        "test": test,
        "flagged_returns": flagged_returns,
        "double_entry": double_entry,
        "projection": projection,
    }
    values.update({name: value for name, value in settings.items() if value is not None})
    with writing(engine) as connection:
        round_ = round_info(connection, election_code, number, lock=True)
        _refuse_if_not_allowed(round_, values)
        return _apply(connection, round_, election_code, values)


def _refuse_if_not_allowed(round_: RoundInfo, values: dict[str, Any]) -> None:
    refuse_if_certified(round_)
    status = values.get("status")
    if status is not None and status != round_.status and status not in MOVES[round_.status]:
        raise Refused(
            [
                error(
                    "bad_transition",
                    f"A round goes {' → '.join(ORDER)} (and back from complete to "
                    f"counting); round {round_.number} cannot go from {round_.status} to {status}.",
                )
            ]
        )


def _apply(
    connection: Connection, round_: RoundInfo, election_code: str, values: dict[str, Any]
) -> RoundInfo:
    """Write the round's new values and publish them as a new sequence; the round as it now is."""
    if not values:
        return round_
    if "warning_thresholds" in values:  # stored as JSON; null (or {}) gives the service's settings back
        values = {
            **values,
            "warning_thresholds": json.dumps(values["warning_thresholds"] or {}, sort_keys=True),
        }
    connection.execute(update(RoundRow).where(RoundRow.id == round_.id).values(**values))
    changed = round_info(connection, election_code, round_.number, lock=True)
    publish(
        Raw(connection),
        changed,
        election_index(connection, round_.election_id, round_.registry_version),
        round_.sequence + 1,
        None,
    )
    return round_info(connection, election_code, round_.number)


@dataclass(frozen=True)
class Signer:
    """Who asks for or decides a change: the token's name, and the named person who holds it."""

    name: str
    person: str


def change_round(
    engine: Engine,
    election_code: str,
    number: int,
    values: dict[str, Any],
    *,
    by: Signer,
    window: timedelta,
    reason: str | None = None,
) -> dict[str, Any] | None:
    """A supervisor's change of a round (`values`: the fields to set). Applied at once (None), unless it
    needs four eyes: then the whole change waits, as a pending confirmation that is returned, until a
    second person confirms it within `window`. The same person asking again for the same change gets the
    same pending confirmation (a retry, not a second request)."""
    with writing(engine) as connection:
        round_ = round_info(connection, election_code, number, lock=True)
        _refuse_if_not_allowed(round_, values)
        moment = now()
        if not needs_four_eyes(round_, values, moment):
            _apply(connection, round_, election_code, values)
            return None
        changes = _as_json(values)
        row = _same_request(connection, round_, changes=changes, by=by, reason=reason, moment=moment)
        if row is None:
            row = _ask(
                connection, round_, changes=changes, by=by, reason=reason, moment=moment, window=window
            )
    return _document(row, election_code, number)


def needs_four_eyes(round_: RoundInfo, values: dict[str, Any], moment: datetime) -> bool:
    """Certifying; switching a test round to real; lifting an embargo that still holds, or moving it
    earlier. Setting an embargo, or a later one, needs no second person: it only withholds more."""
    certify = values.get("status") == "certified"
    to_real = values.get("test") is False and round_.test
    embargo = round_.results_not_before
    lift = (
        "results_not_before" in values
        and round_.embargoed(moment)
        and (values["results_not_before"] is None or values["results_not_before"] < embargo)
    )
    return certify or to_real or lift


def _as_json(values: dict[str, Any]) -> dict[str, Any]:
    return {
        name: value.isoformat() if isinstance(value, datetime) else value for name, value in values.items()
    }


def _from_json(changes: dict[str, Any]) -> dict[str, Any]:
    embargo = changes.get("results_not_before")
    if embargo is None:
        return dict(changes)
    return {**changes, "results_not_before": datetime.fromisoformat(embargo)}


def _same_request(
    connection: Connection,
    round_: RoundInfo,
    *,
    changes: dict[str, Any],
    by: Signer,
    reason: str | None,
    moment: datetime,
) -> Any:
    return next(
        (
            row
            for row in connection.execute(_pending_query(round_, moment))
            if (row.changes, row.requested_person, row.reason) == (changes, by.person, reason)
        ),
        None,
    )


def _pending_query(round_: RoundInfo, moment: datetime) -> Any:
    return (
        select(ConfirmationRow)
        .where(
            ConfirmationRow.round_id == round_.id,
            ConfirmationRow.status == "pending",
            ConfirmationRow.expires_at > moment,
        )
        .order_by(ConfirmationRow.id)
    )


def _ask(
    connection: Connection,
    round_: RoundInfo,
    *,
    changes: dict[str, Any],
    by: Signer,
    reason: str | None,
    moment: datetime,
    window: timedelta,
) -> Any:
    return connection.execute(
        insert(ConfirmationRow)
        .values(
            round_id=round_.id,
            changes=changes,
            reason=reason,
            status="pending",
            requested_by=by.name,
            requested_person=by.person,
            requested_at=moment,
            expires_at=moment + window,
        )
        .returning(*ConfirmationRow.__table__.columns)
    ).one()


def pending_confirmations(engine: Engine, election_code: str, number: int) -> dict[str, Any]:
    """The round's changes that wait for a second person and may still be confirmed, oldest first."""
    with reading(engine) as connection:
        round_ = round_info(connection, election_code, number)
        rows = connection.execute(_pending_query(round_, now())).all()
    return {
        "election": election_code,
        "round": number,
        "confirmations": [_document(row, election_code, number) for row in rows],
    }


def decide_confirmation(
    engine: Engine,
    election_code: str,
    number: int,
    confirmation_id: int,
    *,
    confirm: bool,
    by: Signer,
    reason: str | None = None,
) -> dict[str, Any]:
    """A second person confirms a pending change (it is applied in this transaction) or cancels it (anyone,
    the asker included, may withdraw it). Refused: a decided request (409), the asker confirming their own
    (403), a request past its window (409), a change the round no longer allows (409), certifying with
    bureaux missing or a round still marked test without a reason from either person (422)."""
    with writing(engine) as connection:
        round_ = round_info(connection, election_code, number, lock=True)
        row = _confirmation(connection, round_, confirmation_id)
        moment = now()
        if confirm:
            values = _from_json(row.changes)
            _refuse_unless_second_person(row, by, moment)
            _refuse_if_not_allowed(round_, values)
            _refuse_without_reason(connection, round_, values, row.reason or reason)
            _apply(connection, round_, election_code, values)
        decided = connection.execute(
            update(ConfirmationRow)
            .where(ConfirmationRow.id == row.id)
            .values(
                status="confirmed" if confirm else "cancelled",
                decided_by=by.name,
                decided_person=by.person,
                decided_at=moment,
                decision_reason=reason,
            )
            .returning(*ConfirmationRow.__table__.columns)
        ).one()
    return _document(decided, election_code, number)


def _confirmation(connection: Connection, round_: RoundInfo, confirmation_id: int) -> Any:
    row = connection.execute(
        select(ConfirmationRow).where(
            ConfirmationRow.id == confirmation_id, ConfirmationRow.round_id == round_.id
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"Round {round_.number} has no request {confirmation_id} to confirm or cancel.")
    if row.status != "pending":
        raise Refused(
            [
                error(
                    "already_decided", f"Request {confirmation_id} is {row.status}: it waits for no decision."
                )
            ]
        )
    return row


def _refuse_unless_second_person(row: Any, by: Signer, moment: datetime) -> None:
    if by.person == row.requested_person:
        raise Refused(
            [
                error(
                    "same_person",
                    f"{row.requested_person} asked for this change ({row.requested_by}): another supervisor "
                    "or an admin must confirm it. You may cancel it.",
                )
            ]
        )
    if moment >= row.expires_at:
        raise Refused(
            [
                error(
                    "confirmation_expired",
                    f"Request {row.id} could be confirmed until {row.expires_at.isoformat()}; it has "
                    "expired. Ask for the change again.",
                )
            ]
        )


def _refuse_without_reason(
    connection: Connection, round_: RoundInfo, values: dict[str, Any], reason: str | None
) -> None:
    """Certifying a round that lacks bureaux, or that is still a test, is a decision someone must explain."""
    if values.get("status") != "certified" or (reason or "").strip():
        return
    index = election_index(connection, round_.election_id, round_.registry_version)
    reported = connection.scalar(
        select(AreaResultRow.bureaux_reported).where(
            AreaResultRow.round_id == round_.id, AreaResultRow.area_id == int(index.area_ids[0])
        )
    )
    total = int(index.bureaux_total[0])
    missing = total - (reported or 0)
    test = values.get("test", round_.test)
    if not missing and not test:
        return
    why = [f"{missing:,} of its {total:,} bureaux have not reported"] if missing else []
    why += ["it is still marked test"] if test else []
    raise Refused(
        [
            error(
                "certification_needs_reason",
                f"Round {round_.number} cannot be certified without a reason: {' and '.join(why)}. Confirm "
                "again with a `reason`.",
                field="reason",
            )
        ]
    )


def _document(row: Any, election_code: str, number: int) -> dict[str, Any]:
    return {
        "id": row.id,
        "election": election_code,
        "round": number,
        "changes": row.changes,
        "reason": row.reason,
        "status": row.status,
        "requested_by": row.requested_by,
        "requested_person": row.requested_person,
        "requested_at": row.requested_at,
        "expires_at": row.expires_at,
        "decided_by": row.decided_by,
        "decided_person": row.decided_person,
        "decided_at": row.decided_at,
        "decision_reason": row.decision_reason,
    }


# A round's own rows, children before the rows their foreign keys name.
ROUND_DATA = (
    PublicationRow,
    AreaResultRow,
    ReturnVersionRow,
    CheckpointRow,
    EntryRow,
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
        compared = select(RoundRow.id).where(RoundRow.previous_round_id == round_.id, RoundRow.sequence > 0)
        if connection.scalar(compared.limit(1)) is not None:
            raise Refused(
                [
                    error(
                        "compared_round_published",
                        f"A later round compares itself with round {number}; wipe that round first.",
                    )
                ]
            )
        removed = connection.scalar(
            select(func.count()).select_from(ReturnVersionRow).where(ReturnVersionRow.round_id == round_.id)
        )
        for model in ROUND_DATA:
            connection.execute(delete(model).where(model.round_id == round_.id))
        connection.execute(update(RoundRow).where(RoundRow.id == round_.id).values(as_of=None))
        emptied = round_info(connection, election_code, number, lock=True)
        publish(
            Raw(connection),
            emptied,
            election_index(connection, round_.election_id, round_.registry_version),
            round_.sequence + 1,
            None,
        )
    return int(removed or 0)
