"""Alembic's entry point: migrations run on the URL that `api.store.db.upgrade` puts in the config."""

from __future__ import annotations

from alembic import context

from api.store.db import make_engine
from api.store.models import Base

config = context.config


def run_migrations() -> None:
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
