"""The migrations go down to nothing and back up, on SQLite and PostgreSQL, to exactly the models' schema."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from api.store import db
from api.store.models import Base


def test_every_migration_goes_down_and_up_again(database_url, engine):
    config = db.alembic_config(database_url)
    command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    db.upgrade(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []
    assert set(inspect(engine).get_table_names()) == {"alembic_version", *Base.metadata.tables}
