"""The migrations go down to nothing and back up, on SQLite and PostgreSQL, to exactly the models' schema."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from api import documents, store
from api.store import db
from api.store.models import Base
from tests.builders import AREAS, BUREAUX, SAMPLE


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
