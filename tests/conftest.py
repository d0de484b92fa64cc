"""Database fixtures: every database test runs on SQLite and on a real PostgreSQL.

PostgreSQL is part of the product: the tests use the server at TABULATOR_TEST_POSTGRES_URL, or, when none
answers there, a private server started for the run (tests/postgres_server.py); when neither can be had they
fail, they are never skipped. Each pytest-xdist worker has its own PostgreSQL database; each test starts from
empty tables.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from api import store
from api.store import db
from api.store.models import Base
from tests import postgres_server
from tests.builders import AREAS, BUREAUX, SAMPLE

POSTGRES_ADMIN_URL = os.environ.get(
    "TABULATOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# The run's folder for a private PostgreSQL: made by the controller, inherited by pytest-xdist's workers.
PRIVATE_POSTGRES = "TABULATOR_TEST_PRIVATE_POSTGRES"


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        os.environ[PRIVATE_POSTGRES] = tempfile.mkdtemp(prefix="tabulator-postgres-")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    private = postgres_server.started(Path(os.environ[PRIVATE_POSTGRES]))
    if private is not None and not hasattr(config, "workerinput"):
        terminalreporter.write_line(
            f"PostgreSQL: nothing answered at {POSTGRES_ADMIN_URL} ({private['unreachable']}); the tests ran "
            f"on a private server, {private['version']} from {private['bin']}, stopped at the end."
        )


def pytest_unconfigure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):
        postgres_server.stop(Path(os.environ.pop(PRIVATE_POSTGRES)))


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is much faster)."""
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    db.upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """TABULATOR_TEST_POSTGRES_URL when a server answers there, else the run's private server's."""
    unreachable = postgres_server.unreachable(POSTGRES_ADMIN_URL)
    if unreachable is None:
        return POSTGRES_ADMIN_URL
    try:
        return postgres_server.shared_url(Path(os.environ[PRIVATE_POSTGRES]), unreachable)
    except postgres_server.CannotStart as exc:
        cannot_start = str(exc)
    pytest.fail(
        f"PostgreSQL is required: none answers at {POSTGRES_ADMIN_URL} ({unreachable}), "
        f"and a private one could not start: {cannot_start}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def postgres_url(postgres_admin_url: str) -> str:
    admin = create_engine(db.normalise_url(postgres_admin_url), isolation_level="AUTOCOMMIT")
    name = f"tabulator_test_{_worker()}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL is required and cannot be reached at {postgres_admin_url}: {exc}", pytrace=False
        )
    finally:
        admin.dispose()
    url = postgres_admin_url.rsplit("/", 1)[0] + f"/{name}"
    db.upgrade(url)
    return url


@pytest.fixture(autouse=True)
def _engines_disposed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every engine a test makes (its apps' included) gives its connections back when the test ends.

    An engine's pool would otherwise keep its connections until the garbage collector finds the engine:
    up to ten PostgreSQL connections each, and a few hundred tests exhaust the server's `max_connections`.
    """
    made: list[Engine] = []
    make = db.make_engine

    def tracked(*args: object, **kwargs: object) -> Engine:
        engine = make(*args, **kwargs)  # type: ignore[arg-type]
        made.append(engine)
        return engine

    monkeypatch.setattr(db, "make_engine", tracked)
    yield
    for engine in made:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "tabulator.sqlite3"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    return request.getfixturevalue("empty_postgres_url")


@pytest.fixture
def empty_postgres_url(postgres_url: str) -> str:
    """The worker's PostgreSQL database with every table emptied: for tests that need PostgreSQL itself.
    Ids restart with the empty tables: what an engine caches by id (api.store.caches) is safe only because
    each test makes its own engines."""
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


@pytest.fixture
def sample_election(engine: Engine) -> Engine:
    """The sample election of tests/builders.py loaded: the engine that holds it."""
    store.create_election(engine, SAMPLE, AREAS, BUREAUX)
    return engine


def table_contents(engine: Engine) -> dict[str, list[dict[str, object]]]:
    """Every row of every table, to prove that a refused write changed nothing."""
    with engine.connect() as connection:
        return {
            table.name: sorted((dict(row._mapping) for row in connection.execute(table.select())), key=repr)
            for table in Base.metadata.sorted_tables
        }
