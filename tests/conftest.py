"""Database fixtures: every database test runs on SQLite and on a real PostgreSQL.

PostgreSQL is part of the product: when it cannot be reached the tests fail, they are never skipped.
Each pytest-xdist worker has its own PostgreSQL database; each test starts from empty tables.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from api import db, store
from api.models import Base

POSTGRES_ADMIN_URL = os.environ.get(
    "TABULATOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    db.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> str:
    admin = create_engine(db.normalise_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    name = f"tabulator_test_{_worker()}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL is required and cannot be reached at {POSTGRES_ADMIN_URL}: {exc}", pytrace=False
        )
    finally:
        admin.dispose()
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    db.upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    store.forget_indexes()  # ids restart with each test's empty tables
    if request.param == "sqlite":
        path = tmp_path / "tabulator.sqlite3"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    return request.getfixturevalue("empty_postgres_url")


@pytest.fixture
def empty_postgres_url(postgres_url: str) -> str:
    """The worker's PostgreSQL database with every table emptied: for tests that need PostgreSQL itself."""
    store.forget_indexes()
    engine = db.make_engine(postgres_url)
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return postgres_url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.make_engine(database_url)
    yield engine
    engine.dispose()


def table_contents(engine: Engine) -> dict[str, list[dict[str, object]]]:
    """Every row of every table, to prove that a refused write changed nothing."""
    with engine.connect() as connection:
        return {
            table.name: sorted((dict(row._mapping) for row in connection.execute(table.select())), key=repr)
            for table in Base.metadata.sorted_tables
        }
