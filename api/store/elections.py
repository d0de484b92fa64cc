"""Elections, their rounds and candidates, and their registry of areas and bureaux."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, select

from api.db import reading, writing
from api.models import AreaRow, BureauRow, CandidateRow, ElectionRow, RoundRow
from api.sql import Raw
from api.store.common import Refused, now
from tabulator.ministry import LEVELS, MinistryFile
from tabulator.registry import Registry, RegistryError, check_codes
from tabulator.rules import error
from tabulator.types import Area, Bureau, Election, Round


def create_election(
    engine: Engine, election: Election, areas: Sequence[Area], bureaux: Sequence[Bureau]
) -> int:
    """Store an election, its rounds and candidates and its registry. Refused if the id exists, or if a
    code is not one (`bad_code`: every loader, a folder or a ministry file, ends here)."""
    if issues := check_codes(election, areas, bureaux):
        raise Refused(issues)
    try:
        registry = Registry.build(
            election.levels, areas, bureaux
        )  # a broken tree is refused before any write
    except RegistryError as exc:
        raise Refused([error("bad_registry", f"The areas and bureaux do not form a tree: {exc}.")]) from None
    with writing(engine) as connection:
        if connection.scalar(select(ElectionRow.id).where(ElectionRow.code == election.id)) is not None:
            raise Refused([error("election_exists", f"The election {election.id!r} is already loaded.")])
        election_id = connection.scalar(
            ElectionRow.__table__.insert()
            .values(
                code=election.id,
                name=election.name,
                organiser=election.organiser,
                levels=list(election.levels),
                note=election.note,
                registry_version=1,
            )
            .returning(ElectionRow.id)
        )
        assert election_id is not None
        _insert_registry(connection, election_id, registry)
        add_rounds(connection, election_id, election)
    return election_id


def _insert_registry(connection: Connection, election_id: int, registry: Registry) -> None:
    raw = Raw(connection)
    first_id = _next_id(connection, AreaRow)
    area_ids = {key: first_id + position for key, position in registry.area_index.items()}
    levels = registry.levels
    raw.insert_many(
        "areas",
        ["id", "election_id", "level", "code", "name", "parent_id", "position"],
        [
            (
                first_id + position,
                election_id,
                area.level,
                area.code,
                area.name,
                None
                if area.parent_code is None
                else area_ids[(levels[levels.index(area.level) - 1], area.parent_code)],
                position,
            )
            for position, area in enumerate(registry.areas)
        ],
    )
    first_bureau = _next_id(connection, BureauRow)
    leaf = registry.leaf_level
    raw.insert_many(
        "bureaux",
        ["id", "election_id", "code", "name", "area_id", "registered", "merged_into_id", "position"],
        [
            (
                first_bureau + position,
                election_id,
                bureau.code,
                bureau.name,
                area_ids[(leaf, bureau.area_code)],
                bureau.registered,
                None
                if bureau.merged_into is None
                else first_bureau + registry.bureau_index[bureau.merged_into],
                position,
            )
            for position, bureau in enumerate(registry.bureaux)
        ],
    )
    _reset_sequences(connection)


def _next_id(connection: Connection, model: Any) -> int:
    return int(connection.scalar(select(model.id).order_by(model.id.desc()).limit(1)) or 0) + 1


def _reset_sequences(connection: Connection) -> None:
    """Ids were given explicitly; PostgreSQL's serial counters must move past them."""
    if connection.dialect.name == "postgresql":
        for table in ("areas", "bureaux"):
            connection.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )


def add_rounds(connection: Connection, election_id: int, election: Election) -> None:
    """Create the rounds (and their candidates) of `election` that are not stored yet."""
    query = select(RoundRow.number, RoundRow.id).where(RoundRow.election_id == election_id)
    existing: dict[int, int] = {number: round_id for number, round_id in connection.execute(query)}  # noqa: C416
    for round_ in sorted(election.rounds, key=lambda r: r.number):
        if round_.number in existing:
            continue
        previous_id = existing.get(round_.previous_round) if round_.previous_round else None
        if round_.previous_round and previous_id is None:
            raise Refused(
                [error("unknown_round", f"Round {round_.number}: no previous round {round_.previous_round}.")]
            )
        round_id = connection.scalar(
            RoundRow.__table__.insert()
            .values(
                election_id=election_id,
                number=round_.number,
                date=round_.date,
                previous_round_id=previous_id,
                polls_close=round_.polls_close,
            )
            .returning(RoundRow.id)
        )
        assert round_id is not None
        existing[round_.number] = round_id
        connection.execute(
            CandidateRow.__table__.insert(),
            [
                {"round_id": round_id, "code": c.id, "name": c.name, "ballot_order": c.ballot_order}
                for c in round_.candidates
            ],
        )


def election_exists(engine: Engine, code: str) -> bool:
    with reading(engine) as connection:
        return connection.scalar(select(ElectionRow.id).where(ElectionRow.code == code)) is not None


def ensure_ministry_election(
    engine: Engine, election_code: str, round_number: int, ministry: MinistryFile, *, name: str
) -> bool:
    """Create the election, round and registry a ministry file describes, if they do not exist yet."""
    with reading(engine) as connection:
        exists = connection.scalar(select(ElectionRow.id).where(ElectionRow.code == election_code))
    # A ministry file carries no date: the round is dated by the day it is created.
    round_ = Round(round_number, now().date(), ministry.candidates)
    election = Election(election_code, name, "", LEVELS, (round_,))
    if exists is None:
        create_election(engine, election, *ministry.registry())
        return True
    with writing(engine) as connection:
        known = connection.scalar(
            select(RoundRow.id).where(RoundRow.election_id == exists, RoundRow.number == round_number)
        )
        if known is None:
            add_rounds(connection, exists, election)
            return True
    return False
