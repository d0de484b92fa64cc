"""The migrations go down to nothing and back up, on SQLite and PostgreSQL, to exactly the models' schema."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from api import documents, store
from api.store import db
from api.store.models import Base
from tabulator.batch import ReturnBatch
from tests.builders import AREAS, BUREAUX, SAMPLE, build_return
from tests.conftest import table_contents


def test_every_migration_goes_down_and_up_again(database_url, engine):
    config = db.alembic_config(database_url)
    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    db.upgrade(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    assert set(inspect(engine).get_table_names()) == {"alembic_version", *Base.metadata.tables}


def test_an_election_stored_before_cuts_keeps_its_areas_as_its_main_cut(database_url, engine):
    """0008 adds cuts: an election already stored has its own levels as its only, administrative, cut."""
    store.create_election(engine, SAMPLE, AREAS, BUREAUX)
    command.downgrade(db.alembic_config(database_url), "0007")
    db.upgrade(database_url)

    upgraded = db.make_engine(database_url)  # a new engine: nothing cached from before the migration
    with db.reading(upgraded) as connection:
        round_ = store.round_info(connection, SAMPLE.id, 2)
        registry = store.election_index(connection, round_.election_id, round_.registry_version).registry
    assert (registry.levels, registry.cuts, registry.columns) == (SAMPLE.levels, (), SAMPLE.levels)
    assert (registry.areas, registry.bureaux) == (AREAS, BUREAUX)
    assert documents.results_document(upgraded, SAMPLE.id, 2, "departement", "75")["area"] == {
        "level": "departement",
        "code": "75",
        "name": "Paris",
    }


def test_votes_packed_by_0010_unpack_on_the_way_down_and_pack_again(database_url, engine):
    """0010 moves the votes of each version, area and publication from a row per candidate into the row of
    its counts; down and up again, each keeps its votes in ballot order, a candidate without any included,
    and every document its figures."""
    store.create_election(engine, SAMPLE, AREAS, BUREAUX)
    candidates = ("hamon", "valls")
    for returns, reason in (
        (
            [
                build_return("75-01-0001", votes={"hamon": 60, "valls": 40}),
                build_return("13-01-0001", votes={"hamon": 25, "valls": 0}),
            ],
            None,
        ),
        ([build_return("75-01-0001", votes={"hamon": 61, "valls": 39})], "typed 60 for 61"),
    ):
        store.record_returns(
            engine, SAMPLE.id, 2, ReturnBatch.of(returns, candidates), author="c", reason=reason
        )
    before = _documents(engine)
    command.downgrade(db.alembic_config(database_url), "0009")
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT b.code, v.version, c.code, v.votes FROM return_votes v "
            "JOIN bureaux b ON b.id = v.bureau_id JOIN candidates c ON c.id = v.candidate_id "
            "ORDER BY b.code, v.version, c.ballot_order"
        ).all()
        sums = connection.exec_driver_sql(
            "SELECT a.code, c.code, v.votes FROM area_votes v JOIN areas a ON a.id = v.area_id "
            "JOIN candidates c ON c.id = v.candidate_id WHERE a.level IN ('national', 'region') "
            "ORDER BY a.position, c.ballot_order"
        ).all()
        published = connection.exec_driver_sql(
            "SELECT p.sequence, c.code, p.votes FROM publication_votes p "
            "JOIN candidates c ON c.id = p.candidate_id ORDER BY p.sequence, c.ballot_order"
        ).all()
    assert sums == [
        ("FR", "hamon", 86),
        ("FR", "valls", 39),
        ("11", "hamon", 61),
        ("11", "valls", 39),
        ("93", "hamon", 25),
        ("93", "valls", 0),
    ]
    assert published == [(1, "hamon", 85), (1, "valls", 40), (2, "hamon", 86), (2, "valls", 39)]
    assert rows == [
        ("13-01-0001", 1, "hamon", 25),
        ("13-01-0001", 1, "valls", 0),
        ("75-01-0001", 1, "hamon", 60),
        ("75-01-0001", 1, "valls", 40),
        ("75-01-0001", 2, "hamon", 61),
        ("75-01-0001", 2, "valls", 39),
    ]

    db.upgrade(database_url)
    upgraded = db.make_engine(database_url)  # nothing cached from before the migration
    with upgraded.connect() as connection:
        packed = connection.exec_driver_sql(
            "SELECT b.code, v.version, v.votes FROM return_versions v JOIN bureaux b ON b.id = v.bureau_id "
            "ORDER BY b.code, v.version"
        ).all()
        sums = connection.exec_driver_sql(
            "SELECT a.code, r.votes FROM area_results r JOIN areas a ON a.id = r.area_id ORDER BY a.position"
        ).all()
        published = connection.exec_driver_sql("SELECT sequence, votes FROM publications ORDER BY 1").all()
    assert packed == [("13-01-0001", 1, "25,0"), ("75-01-0001", 1, "60,40"), ("75-01-0001", 2, "61,39")]
    assert sums == [
        ("FR", "86,39"),
        ("11", "61,39"),
        ("93", "25,0"),
        ("75", "61,39"),
        ("13", "25,0"),
        ("75-01", "61,39"),
        ("13-01", "25,0"),
    ]
    assert published == [(1, "85,40"), (2, "86,39")]
    assert _documents(upgraded) == before
    assert store.verify(upgraded) == []


def test_versions_lose_their_foreign_keys_in_0011_and_get_them_back_on_the_way_down(database_url, engine):
    """0011 drops the keys from return_versions to rounds and bureaux (SQLite copies the table): its rows,
    checks and index stay; down, the keys are back and refuse a version of a bureau that does not exist."""
    store.create_election(engine, SAMPLE, AREAS, BUREAUX)
    returns = [build_return("75-01-0001", votes={"hamon": 60, "valls": 40})]
    store.record_returns(engine, SAMPLE.id, 2, ReturnBatch.of(returns, ("hamon", "valls")), author="c")
    before = table_contents(engine)

    def keys() -> list[tuple[str, list[str]]]:
        found = inspect(engine).get_foreign_keys("return_versions")
        return sorted((key["referred_table"], key["constrained_columns"]) for key in found)

    def indexes() -> list[str]:
        return [index["name"] for index in inspect(engine).get_indexes("return_versions")]

    assert (keys(), indexes()) == ([], ["ix_return_versions_sequence"])
    command.downgrade(db.alembic_config(database_url), "0010")
    engine.dispose()
    assert (keys(), indexes()) == (
        [("bureaux", ["bureau_id"]), ("rounds", ["round_id"])],
        ["ix_return_versions_sequence"],
    )
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.exec_driver_sql(
            'INSERT INTO return_versions SELECT round_id, bureau_id + 1000, version, voters, blank, "null", '
            "valid, registered, reported_at, recorded_at, author, reason, warnings, sequence, warning_notes, "
            "votes FROM return_versions"
        )
    db.upgrade(database_url)
    engine.dispose()
    assert (keys(), indexes(), table_contents(engine)) == ([], ["ix_return_versions_sequence"], before)
    with pytest.raises(IntegrityError), engine.begin() as connection:  # the checks stay
        connection.exec_driver_sql("UPDATE return_versions SET voters = voters + 1")


def _documents(engine) -> list[dict]:
    with db.reading(engine) as connection:
        changes = documents.changes(connection, SAMPLE.id, 2, "0", 100)
    return [
        documents.results_document(engine, SAMPLE.id, 2, "bureau", "75-01-0001"),
        documents.results_document(engine, SAMPLE.id, 2, "departement", "13"),
        changes,
    ]


def test_the_sequence_index_is_partial_from_0012_and_whole_again_on_the_way_down(database_url, engine):
    """0012 remakes the (round, sequence) index of versions with `WHERE sequence > 0`
    (tests/api/test_query_plans.py says why); down, it is the whole index again. The rows stay."""
    store.create_election(engine, SAMPLE, AREAS, BUREAUX)
    returns = [build_return("75-01-0001", votes={"hamon": 60, "valls": 40})]
    store.record_returns(engine, SAMPLE.id, 2, ReturnBatch.of(returns, ("hamon", "valls")), author="c")
    before = table_contents(engine)

    def definition() -> str:
        query = (
            "SELECT sql FROM sqlite_master WHERE name = 'ix_return_versions_sequence'"
            if engine.dialect.name == "sqlite"
            else "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_return_versions_sequence'"
        )
        with engine.connect() as connection:
            text = connection.exec_driver_sql(query).scalar_one()
        return " ".join(text.replace('"', "").split()).split(" ON ")[1]

    partial = definition()
    command.downgrade(db.alembic_config(database_url), "0011")
    engine.dispose()
    whole = definition()
    db.upgrade(database_url)
    engine.dispose()
    if engine.dialect.name == "sqlite":
        expected = (
            "return_versions (round_id, sequence) WHERE sequence > 0",
            "return_versions (round_id, sequence)",
        )
    else:
        expected = (
            "public.return_versions USING btree (round_id, sequence) WHERE (sequence > 0)",
            "public.return_versions USING btree (round_id, sequence)",
        )
    assert (partial, whole, definition(), table_contents(engine)) == (*expected, partial, before)
