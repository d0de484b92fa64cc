"""Elections, their rounds and candidates, and their registry of areas and bureaux."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, insert, select, update

from api.store.common import RecordReport, Refused, now, round_info
from api.store.db import gather_statistics, reading, writing
from api.store.models import AreaRow, BureauCutAreaRow, BureauRow, CandidateRow, ElectionRow, RoundRow
from api.store.returns import STAGES, Writer, record_in
from api.store.sql import Raw
from tabulator.batch import ReturnBatch
from tabulator.ministry import CUTS, LEVELS, MinistryFile
from tabulator.registry import Registry, RegistryError, check_codes
from tabulator.rules import DEFAULT_THRESHOLDS, Thresholds, error
from tabulator.types import Area, Bureau, Election, Round


def create_election(
    engine: Engine, election: Election, areas: Sequence[Area], bureaux: Sequence[Bureau]
) -> int:
    """Store an election, its rounds and candidates and its registry. Refused if the id exists, or if a
    code is not one (`bad_code`: every loader, a folder or a ministry file, ends here)."""
    registry = _checked_registry(election, areas, bureaux)
    with writing(engine) as connection:
        return _insert_election(connection, election, registry)


def _checked_registry(election: Election, areas: Sequence[Area], bureaux: Sequence[Bureau]) -> Registry:
    """The registry as a tree, checked before any write (and before the writers' lock: a national one
    takes seconds to build)."""
    if issues := check_codes(election, areas, bureaux):
        raise Refused(issues)
    try:
        return Registry.build(election.levels, areas, bureaux, election.cuts)
    except RegistryError as exc:
        raise Refused([error("bad_registry", f"The areas and bureaux do not form a tree: {exc}.")]) from None


def _insert_election(connection: Connection, election: Election, registry: Registry) -> int:
    if connection.scalar(select(ElectionRow.id).where(ElectionRow.code == election.id)) is not None:
        raise Refused([error("election_exists", f"The election {election.id!r} is already loaded.")])
    # Annotated: mypy picks Connection.scalar's untyped overload for an INSERT … RETURNING (sqlalchemy 2.1).
    election_id: int | None = connection.scalar(
        insert(ElectionRow)
        .values(
            code=election.id,
            name=election.name,
            organiser=election.organiser,
            type=election.type,
            levels=list(election.levels),
            cuts=[{"name": cut.name, "levels": list(cut.levels)} for cut in election.cuts],
            note=election.note,
            registry_version=0,  # the registry written next makes it 1
        )
        .returning(ElectionRow.id)
    )
    assert election_id is not None
    _insert_registry(connection, election_id, registry)
    add_rounds(connection, election_id, election)
    return election_id


class AreaRecord(NamedTuple):
    """A row written to `areas` (the model's column names)."""

    id: int
    election_id: int
    level: str
    code: str
    name: str
    source_label: str | None
    parent_id: int | None
    position: int


class BureauRecord(NamedTuple):
    """A row written to `bureaux` (the model's column names)."""

    id: int
    election_id: int
    code: str
    name: str
    area_id: int
    registered: int | None
    merged_into_id: int | None
    position: int


def registry_changed(connection: Connection, election_id: int) -> None:
    """Every write to an election's areas or bureaux ends with this, in its transaction: each process keeps
    the registry it built under (election, registry version) (`api.store.common.election_index`), so the
    new version is what makes every process read the new registry, and nothing else needs telling."""
    connection.execute(
        update(ElectionRow)
        .where(ElectionRow.id == election_id)
        .values(registry_version=ElectionRow.registry_version + 1)
    )


def _insert_registry(connection: Connection, election_id: int, registry: Registry) -> None:
    """Write the registry's areas and bureaux, with ids given here so that parents, areas and merges can
    name each other in one pass (a national registry is 100,000 rows: COPY on PostgreSQL)."""
    raw = Raw(connection)
    first_area = _next_id(connection, AreaRow)
    area_ids = {key: first_area + position for key, position in registry.area_index.items()}
    raw.insert_records(AreaRow.__table__, AreaRecord, _area_records(election_id, registry, area_ids))
    bureaux = _bureau_records(election_id, registry, area_ids, _next_id(connection, BureauRow))
    raw.insert_records(BureauRow.__table__, BureauRecord, bureaux)
    raw.insert_records(
        BureauCutAreaRow.__table__, BureauCutAreaRecord, _bureau_cut_area_records(registry, area_ids, bureaux)
    )
    _reset_sequences(connection)
    registry_changed(connection, election_id)


def _area_records(
    election_id: int, registry: Registry, area_ids: dict[tuple[str, str], int]
) -> list[AreaRecord]:
    return [
        AreaRecord(
            id=area_ids[(area.level, area.code)],
            election_id=election_id,
            level=area.level,
            code=area.code,
            name=area.name,
            source_label=area.source_label,
            parent_id=None
            if area.parent_code is None
            else area_ids[(registry.parent_level[area.level] or "", area.parent_code)],
            position=position,
        )
        for position, area in enumerate(registry.areas)
    ]


def _bureau_records(
    election_id: int, registry: Registry, area_ids: dict[tuple[str, str], int], first_id: int
) -> list[BureauRecord]:
    leaf = registry.leaf_level
    return [
        BureauRecord(
            id=first_id + position,
            election_id=election_id,
            code=bureau.code,
            name=bureau.name,
            area_id=area_ids[(leaf, bureau.area_code)],
            registered=bureau.registered,
            merged_into_id=None
            if bureau.merged_into is None
            else first_id + registry.bureau_index[bureau.merged_into],
            position=position,
        )
        for position, bureau in enumerate(registry.bureaux)
    ]


class BureauCutAreaRecord(NamedTuple):
    """A row written to `bureau_cut_areas`: a bureau's area of another cut's last level."""

    bureau_id: int
    area_id: int


def _bureau_cut_area_records(
    registry: Registry, area_ids: dict[tuple[str, str], int], bureaux: Sequence[BureauRecord]
) -> list[BureauCutAreaRecord]:
    leaves = [cut.levels[-1] for cut in registry.cuts]
    return [
        BureauCutAreaRecord(record.id, area_ids[(leaf, bureau.cut_areas[leaf])])
        for bureau, record in zip(registry.bureaux, bureaux, strict=True)
        for leaf in leaves
    ]


def _next_id(connection: Connection, model: Any) -> int:
    return int(connection.scalar(select(model.id).order_by(model.id.desc()).limit(1)) or 0) + 1


def _reset_sequences(connection: Connection) -> None:
    """Ids were given explicitly; PostgreSQL's serial counters must move past them."""
    if connection.dialect.name == "postgresql":
        for table in (AreaRow.__tablename__, BureauRow.__tablename__):
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
            insert(RoundRow)
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
            insert(CandidateRow),
            [
                {
                    "round_id": round_id,
                    "code": c.id,
                    "name": c.name,
                    "ballot_order": c.ballot_order,
                    "sex": c.sex,
                }
                for c in round_.candidates
            ],
        )


def election_exists(engine: Engine, code: str) -> bool:
    with reading(engine) as connection:
        return connection.scalar(select(ElectionRow.id).where(ElectionRow.code == code)) is not None


def stored_round(engine: Engine, election_code: str, number: int) -> tuple[bool, date | None]:
    """Whether the election is loaded, and the date of its round `number` if that round is."""
    with reading(engine) as connection:
        election_id = connection.scalar(select(ElectionRow.id).where(ElectionRow.code == election_code))
        day = connection.scalar(
            select(RoundRow.date).where(RoundRow.election_id == election_id, RoundRow.number == number)
        )
    return election_id is not None, day


@dataclass(frozen=True)
class RoundImport:
    """What `import_round` did: created the `election` (its registry and round), only its `round`, or
    neither (None); and the returns' report."""

    created: str | None
    report: RecordReport


def import_round(
    engine: Engine,
    election: Election,
    registry: Callable[[], tuple[Sequence[Area], Sequence[Bureau]]],
    batch: ReturnBatch,
    *,
    author: str,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    progress: Callable[[str], None] = lambda stage: None,
) -> RoundImport:
    """A file that describes its own election (the ministry's): create what is missing of it — the
    election with its registry and round, or the round alone — and record its returns, in one
    transaction. A refused file leaves every table as it was.

    `election` holds the one round the file is of; its name, type and date serve only what is created.
    `registry` (the areas and bureaux the file describes) is built only when the election is new.
    """
    (round_,) = election.rounds
    with reading(engine) as connection:
        known = connection.scalar(select(ElectionRow.id).where(ElectionRow.code == election.id))
    checked = None if known is not None else _checked_registry(election, *registry())
    # A write that rolls back drops what it cached (api.store.caches): the ids of a rolled-back election
    # may be given to the next one (SQLite reuses them).
    with writing(engine) as connection:
        created = _create_missing(connection, election, checked)
        stored = round_info(connection, election.id, round_.number, lock=True)
        report = record_in(
            connection, stored, batch, Writer(author), thresholds=thresholds, progress=progress
        )
    gather_statistics(engine, len(batch))
    progress(STAGES[3])
    return RoundImport(created, report)


def _create_missing(connection: Connection, election: Election, checked: Registry | None) -> str | None:
    election_id = connection.scalar(select(ElectionRow.id).where(ElectionRow.code == election.id))
    if election_id is None:
        assert checked is not None  # elections are never deleted: one seen before is still there
        _insert_election(connection, election, checked)
        return "election"
    (round_,) = election.rounds
    number = connection.scalar(
        select(RoundRow.number).where(RoundRow.election_id == election_id, RoundRow.number == round_.number)
    )
    if number is None:
        add_rounds(connection, election_id, election)
        return "round"
    return None


def ensure_ministry_election(
    engine: Engine, election_code: str, round_number: int, ministry: MinistryFile, *, name: str
) -> bool:
    """Create the election, round and registry a ministry file describes, if they do not exist yet, without
    its returns (the benchmarks time the ingest apart). Dated today: a ministry file carries no date."""
    with reading(engine) as connection:
        exists = connection.scalar(select(ElectionRow.id).where(ElectionRow.code == election_code))
    round_ = Round(round_number, now().date(), ministry.candidates)
    election = Election(election_code, name, "", LEVELS, (round_,), type="presidential", cuts=CUTS)
    if exists is None:
        create_election(engine, election, *ministry.registry())
        return True
    with writing(engine) as connection:
        return _create_missing(connection, election, None) is not None
