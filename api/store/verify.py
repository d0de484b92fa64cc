"""verify: every stored sum recomputed from the returns."""

from __future__ import annotations

import numpy as np
from sqlalchemy import Connection, Engine, select

from api.store.common import ElectionIndex, RoundInfo, election_index, round_info, voters_in_round
from api.store.db import reading
from api.store.models import (
    ElectionRow,
    PublicationRow,
    RoundRow,
)
from api.store.results import rebuilt_sums, stored_tallies
from api.store.sql import Raw
from tabulator.aggregation import tally_from_row


def verify(engine: Engine) -> list[str]:
    """Recompute every area's sums from the current returns and compare with the stored ones."""
    differences: list[str] = []
    with reading(engine) as connection:
        rounds = connection.execute(
            select(ElectionRow.code, RoundRow.number)
            .join(RoundRow, RoundRow.election_id == ElectionRow.id)
            .order_by(ElectionRow.code, RoundRow.number)
        ).all()
        for election_code, number in rounds:
            differences += _verify_round(
                connection, round_info(connection, election_code, number), election_code
            )
        differences += _versions_of_no_round(Raw(connection))
    return differences


def _versions_of_no_round(raw: Raw) -> list[str]:
    """Versions have no foreign keys (migration 0011): one whose round is gone is named here."""
    return [
        f"round id {round_id}: {count} return version(s) of a round that does not exist"
        for round_id, count in raw.rows(
            "SELECT round_id, count(*) FROM return_versions WHERE round_id NOT IN (SELECT id FROM rounds) "
            "GROUP BY round_id ORDER BY round_id"
        )
    ]


def _versions_outside_registry(
    raw: Raw, round_: RoundInfo, index: ElectionIndex, election_code: str
) -> list[str]:
    """A version whose bureau is not of its round's registry, which no read of the round would ever see."""
    stored = np.array(
        [
            bureau_id
            for (bureau_id,) in raw.rows(
                "SELECT DISTINCT bureau_id FROM return_versions WHERE round_id = ?", (round_.id,)
            )
        ],
        np.int64,
    )
    strangers = np.setdiff1d(stored, index.bureau_ids).tolist()
    if not strangers:
        return []
    return [
        f"{election_code} round {round_.number}: return versions of {len(strangers)} bureau id(s) not in its "
        f"registry ({', '.join(map(str, strangers[:5]))}{'...' if len(strangers) > 5 else ''})"
    ]


def _verify_round(connection: Connection, round_: RoundInfo, election_code: str) -> list[str]:
    index = election_index(connection, round_.election_id, round_.registry_version)
    raw = Raw(connection)
    previous = voters_in_round(raw, round_.previous_round_id, index.bureau_ids)
    try:
        recomputed = rebuilt_sums(raw, round_, index, None, previous)
        tallies = stored_tallies(connection, round_, index, range(len(index.registry.areas)))
    except ValueError as exc:  # votes packed as no write of tabulator packs them: changed outside it
        return [f"{election_code} round {round_.number}: its stored votes cannot be read ({exc})"]
    differences = _versions_outside_registry(raw, round_, index, election_code)
    for position, area in enumerate(index.registry.areas):
        expected = tally_from_row(recomputed[position], round_.candidate_codes)
        if tallies[position] != expected:
            differences.append(
                f"{election_code} round {round_.number}, {area.level} {area.code}: "
                f"stored {tallies[position]}, recomputed from the returns {expected}"
            )
    sequences = list(
        connection.scalars(
            select(PublicationRow.sequence)
            .where(PublicationRow.round_id == round_.id)
            .order_by(PublicationRow.sequence)
        )
    )
    # Publications run without a gap up to the round's sequence (a wiped rehearsal's are gone before them).
    if sequences != list(range(round_.sequence - len(sequences) + 1, round_.sequence + 1)):
        differences.append(
            f"{election_code} round {round_.number}: publications {sequences[:3]}... "
            f"do not run without a gap to {round_.sequence}"
        )
    return differences
