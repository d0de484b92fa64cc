"""Engines for the two databases tabulator runs on, and the migrations that shape them."""

from __future__ import annotations

import fcntl
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from itertools import groupby
from pathlib import Path
from typing import Any, TypeVar, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.exc import DBAPIError

from api.store.caches import attach_caches, kept_if_committed
from api.store.sql import WRITES_COUNTED

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
PING_AFTER_IDLE = 5.0  # seconds a pooled PostgreSQL connection may rest before it is checked on checkout
WRITE_OPTION = "tabulator_writes"
T = TypeVar("T")


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction. On SQLite it takes the write lock at BEGIN, so two writers queue instead of
    one failing halfway; readers are never blocked (WAL)."""
    with _writers_queue(engine), engine.connect() as connection:
        connection.execution_options(**{WRITE_OPTION: True})
        with kept_if_committed(connection), connection.begin():
            yield connection


@contextmanager
def _writers_queue(engine: Engine) -> Iterator[None]:
    """On SQLite, writers of every thread and process wait their turn on a file lock before BEGIN.

    SQLite's own busy handler polls, sleeping up to 100 ms between tries: under eight clerks that made
    one return in a hundred wait a second. A blocked `flock` wakes as soon as the lock is released.
    """
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with Path(f"{database}-writers.lock").open("a+b") as lock:  # a file of its own, never read
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class _Pending:
    """One caller's work in a shared transaction, and what came of it. Works of the same `key` that queue
    together run as one: `run_many` gets their items and answers, for each, its result or the exception
    that refused it (before it wrote anything)."""

    def __init__(
        self,
        work: Callable[[Connection], T] | None = None,
        *,
        key: Hashable = None,
        item: Any = None,
        run_many: RunMany | None = None,
    ) -> None:
        self.work = work
        self.key, self.item, self.run_many = key, item, run_many
        self.done = False
        self.result: Any = None
        self.error: BaseException | None = None


RunMany = Callable[[Connection, list[Any]], list[Any]]


class _GroupCommit:
    """Small writes of many threads, committed together: one transaction, each write in a savepoint.

    Under eight clerks at once, most of a single return's cost is the transaction around it — BEGIN, the
    round's lock, COMMIT and, on PostgreSQL, the flush to disk. The first waiting thread runs everyone's
    work queued so far in one transaction, then, while that transaction still holds the round's lock, the
    work of those who queued meanwhile (up to MOST_TOGETHER): the time spent waiting for the lock gathers
    the next writes instead of delaying them. Consecutive queued works of one key (`write_combined`: the
    returns of a round) run as one call, which reads and writes for all of them in the round trips one
    would make. Only the caller of a write that fails hears of it: refused
    before it wrote anything, it leaves the transaction as it was; otherwise the transaction is rolled
    back and every write of it runs again in a savepoint of its own. Each caller returns only once the
    transaction holding its write has committed.
    """

    MOST_TOGETHER = 64

    def __init__(self) -> None:
        self.queue: list[_Pending] = []
        self.queue_lock = threading.Lock()
        self.leader = threading.Lock()

    def run(self, engine: Engine, pending: _Pending) -> Any:
        with self.queue_lock:
            self.queue.append(pending)
        with self.leader:
            if not pending.done:
                self._commit(engine)
        if pending.error is not None:
            raise pending.error
        return pending.result

    def _take(self, most: int) -> list[_Pending]:
        with self.queue_lock:
            taken, self.queue = self.queue[:most], self.queue[most:]
        return taken

    def _commit(self, engine: Engine) -> None:
        batch = self._take(self.MOST_TOGETHER)
        try:
            try:
                with writing(engine) as connection:
                    self._run(connection, batch)
                    while len(batch) < self.MOST_TOGETHER and (
                        joining := self._take(self.MOST_TOGETHER - len(batch))
                    ):
                        batch += joining
                        self._run(connection, joining)
            except _Replay:
                # A write failed after writing (or the database refused a statement): nothing of that
                # transaction was kept. Each write runs again, this time in a savepoint of its own.
                for pending in batch:
                    pending.result, pending.error = None, None
                with writing(engine) as connection:
                    self._each_in_savepoint(connection, batch)
        except Exception as exc:  # the commit failed: every write of the batch is lost
            for pending in batch:
                pending.error = pending.error or exc
        for pending in batch:
            pending.done = True

    @staticmethod
    def _run(connection: Connection, batch: list[_Pending]) -> None:
        """Each write without a savepoint (two round trips saved per write): one refused before it wrote
        anything leaves the transaction as it was. Consecutive writes of one key run as one."""
        for key, together in groupby(batch, key=lambda pending: pending.key):
            pendings = list(together)
            runs = [pendings] if key is not None else [[pending] for pending in pendings]
            for run in runs:
                before = writes_so_far(connection)
                try:
                    _settle(run, connection)
                except DBAPIError as exc:
                    raise _Replay from exc
                except Exception as exc:  # handed to its callers, re-raised there
                    if writes_so_far(connection) != before:
                        raise _Replay from exc
                    for pending in run:
                        pending.error = exc

    @staticmethod
    def _each_in_savepoint(connection: Connection, batch: list[_Pending]) -> None:
        for pending in batch:
            try:
                with connection.begin_nested():
                    _settle([pending], connection)
                    if pending.error is not None:
                        raise pending.error
            except Exception as exc:  # handed to its own caller, re-raised there
                pending.error = exc


def _settle(run: list[_Pending], connection: Connection) -> None:
    """Run the work of these pendings (one alone, or several of one key together) and keep what came of
    each."""
    first = run[0]
    if first.run_many is None:
        assert first.work is not None
        first.result = first.work(connection)
        return
    for pending, outcome in zip(run, first.run_many(connection, [p.item for p in run]), strict=True):
        if isinstance(outcome, BaseException):
            pending.error = outcome
        else:
            pending.result = outcome


class _Replay(Exception):
    """A shared transaction must be rolled back and its writes run again, each in a savepoint."""


def writes_so_far(connection: Connection) -> int:
    """How many writing statements have been sent on this connection, by `api.store.sql.Raw` or SQLAlchemy."""
    return int(connection.info.get(WRITES_COUNTED, 0))


def _count_writes(engine: Engine) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def counted(connection: Connection, _cursor: Any, statement: str, *_parameters_and_more: Any) -> None:
        if not statement.lstrip().startswith("SELECT"):
            connection.info[WRITES_COUNTED] = connection.info.get(WRITES_COUNTED, 0) + 1


_group_commits: weakref.WeakKeyDictionary[Engine, _GroupCommit] = weakref.WeakKeyDictionary()
_group_commits_lock = threading.Lock()


def write_together(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run `work` in a write transaction shared with other threads' small writes (see _GroupCommit)."""
    return cast(T, _group_commit(engine).run(engine, _Pending(work)))


def write_combined(engine: Engine, key: Hashable, item: Any, run_many: RunMany) -> Any:
    """Write `item` in a transaction shared with other threads' small writes; the items of one `key` that
    queue together are written by one call of `run_many`, which answers each item's result or the
    exception that refused it (see _GroupCommit)."""
    return _group_commit(engine).run(engine, _Pending(key=key, item=item, run_many=run_many))


def _group_commit(engine: Engine) -> _GroupCommit:
    with _group_commits_lock:
        return _group_commits.setdefault(engine, _GroupCommit())


def writes_waiting(engine: Engine) -> int:
    """How many writes wait for the shared transaction of this engine (none were ever sent: 0). For the
    operator's eye and the tests that need a write to have queued before they go on."""
    with _group_commits_lock:
        group = _group_commits.get(engine)
    if group is None:
        return 0
    with group.queue_lock:
        return len(group.queue)


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read transaction that sees one committed state throughout, so that a document's sequence and its
    figures always belong together (REPEATABLE READ on PostgreSQL; a WAL read snapshot on SQLite)."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            yield connection


@contextmanager
def reading_alone(engine: Engine) -> Iterator[Connection]:
    """For a read whose one statement stands alone (a token, a round's latest sequence): on PostgreSQL no
    transaction around it, so one round trip instead of three (BEGIN, the statement, COMMIT)."""
    if engine.dialect.name != "postgresql":
        with reading(engine) as connection:
            yield connection
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        yield connection


# After a write of this many returns (an import, a file), PostgreSQL's statistics are gathered at once: a
# table whose statistics still describe it empty gets plans that scan it (tests/api/test_query_plans.py).
STATISTICS_AFTER_ROWS = 1_000
# The tables a bulk write grows, and the columns their lookups choose an index by: the other columns'
# statistics (votes, notes) cost more than half of a national file's ANALYZE and steer no plan.
GROWN_IN_BULK = {
    "return_versions": ("round_id", "bureau_id", "version", "sequence"),
    "area_results": ("round_id", "area_id"),
}
# Rows sampled: 300 × this. The default's 30,000 cost a national file's ingest 0.1 s of its 1.2; 6,000 tell
# the planner as much about ids and rounds (tests/api/test_query_plans.py), and autovacuum's ANALYZE, a
# minute later, samples with the server's own setting.
QUICK_STATISTICS_TARGET = 20


def gather_statistics(engine: Engine, rows: int) -> None:
    """ANALYZE the tables a bulk write grew, on PostgreSQL, after its commit (autovacuum would, a minute
    later). SQLite's lookups are written so that their plans need no statistics."""
    if rows < STATISTICS_AFTER_ROWS or engine.dialect.name != "postgresql":
        return
    with engine.connect() as connection:
        tables = [f"{table} ({', '.join(columns)})" for table, columns in GROWN_IN_BULK.items()]
        connection.exec_driver_sql(f"SET LOCAL default_statistics_target = {QUICK_STATISTICS_TARGET}")
        connection.exec_driver_sql(f"ANALYZE {', '.join(tables)}")
        connection.commit()


def normalise_url(url: str) -> str:
    """postgresql:// means psycopg 3, the driver tabulator is tested with."""
    return (
        "postgresql+psycopg://" + url.removeprefix("postgresql://")
        if url.startswith("postgresql://")
        else url
    )


# A PostgreSQL connection kept for each request thread of a worker (deploy/gunicorn.conf.py: 16 threads),
# and a few more opened for a burst, closed once back. With 5 kept, a busy worker opened and closed one
# per request all night, a new server process each time: half of the two cores went to processes that
# ended (make loadtest's report of the cores; 0.01-0.04 with 16). Two nodes of two readers and a writer
# hold at most 120 connections, above PostgreSQL's default `max_connections` of 100: compose.yaml sets 200.
POOLED_CONNECTIONS = 16
EXTRA_CONNECTIONS = 4


def make_engine(url: str) -> Engine:
    """An engine, with its own empty caches (api.store.caches)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = _sqlite_engine(url)
    else:
        engine = create_engine(url, pool_size=POOLED_CONNECTIONS, max_overflow=EXTRA_CONNECTIONS)
        _ping_after_idle(engine)
        _count_writes(engine)
    attach_caches(engine)
    return engine


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it has rested a while.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip on every request, three per
    return written. A connection in steady use is known alive; one that has rested may have been cut
    (a restarted server, a firewall's idle timeout), and a failed ping makes the pool open a new one. A
    connection that dies in use still fails its request (503) and the pool drops its siblings.
    """

    @event.listens_for(engine, "checkin")
    def resting(_dbapi_connection: Any, record: Any) -> None:
        record.info["resting_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checked(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("resting_since", 0.0) < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(str(error)) from error


def _sqlite_engine(url: str) -> Engine:
    database = url.split("///", 1)[-1]
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None hands transactions to us, so that each one can begin IMMEDIATE: a writer takes
    # the write lock first, instead of failing halfway when another writer got there before it.
    engine = create_engine(url, connect_args={"timeout": 30, "isolation_level": None})

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(
            "PRAGMA synchronous=NORMAL"
        )  # WAL + NORMAL: durable at checkpoints, safe from corruption
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        # On the driver's connection: SQLAlchemy's statement machinery cost more than the BEGIN itself,
        # on every cold read.
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if writes else "BEGIN")

    _count_writes(engine)
    return engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)
