"""Writes committed together (api.store.db.write_together): each keeps its own outcome, on SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from api.store import db
from api.store.models import AuditRow

THREADS = 6


def test_a_failed_write_in_a_shared_transaction_loses_nothing_of_the_others(engine):
    ready = threading.Barrier(THREADS)

    def write(number: int) -> int:
        def work(connection) -> int:
            connection.execute(
                insert(AuditRow).values(
                    at=datetime.now(UTC), method="PUT", path=f"/{number}", sent="", status=200, outcome=""
                )
            )
            if number == 3:
                raise ValueError("the third write fails after its insert")
            return number

        ready.wait()
        return db.write_together(engine, work)

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(write, number) for number in range(THREADS)]
    assert [f.result() for f in futures if f.exception() is None] == [0, 1, 2, 4, 5]
    with pytest.raises(ValueError, match="the third write fails"):
        futures[3].result()
    with engine.connect() as connection:
        assert sorted(connection.scalars(select(AuditRow.path))) == ["/0", "/1", "/2", "/4", "/5"]


def audit_row(connection, number: int) -> None:
    connection.execute(
        insert(AuditRow).values(
            at=datetime.now(UTC), method="PUT", path=f"/{number}", sent="", status=200, outcome=""
        )
    )


def four_writes_joining_the_first(engine, write) -> tuple[list, list[int]]:
    """Write 0 waits (as on the round's lock) until writes 1, 2 and 3 have queued behind it. `write(number,
    connection)` is each write's work; returns the futures and the thread each write ran in."""
    first_started, release = threading.Event(), threading.Event()
    threads: list[int] = []

    def work_of(number: int):
        def work(connection) -> int:
            threads.append(threading.get_ident())
            if number == 0:
                first_started.set()
                release.wait(10)
            return write(number, connection)

        return work

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(db.write_together, engine, work_of(0))]
        assert first_started.wait(10)
        futures += [pool.submit(db.write_together, engine, work_of(n)) for n in (1, 2, 3)]
        while db.writes_waiting(engine) < 3:
            threading.Event().wait(0.01)
        release.set()
    return futures, threads


def test_writes_queued_while_a_transaction_waits_join_it_and_keep_their_own_outcomes(engine):
    """Those queued meanwhile ride in the first write's transaction (run by its thread, before its COMMIT),
    and the one that fails after writing loses only itself."""

    def write(number: int, connection) -> int:
        audit_row(connection, number)
        if number == 2:
            raise ValueError("the third write fails after its insert")
        return number

    futures, threads = four_writes_joining_the_first(engine, write)
    assert [f.result() for f in futures if f.exception() is None] == [0, 1, 3]
    assert isinstance(futures[2].exception(), ValueError)
    assert len(set(threads)) == 1  # all run by the first one's thread, in its transaction
    with engine.connect() as connection:
        assert sorted(connection.scalars(select(AuditRow.path))) == ["/0", "/1", "/3"]


def test_a_write_refused_before_it_wrote_leaves_the_shared_transaction_as_it_was(engine):
    """No savepoints and no second run: a refusal that wrote nothing costs the others nothing."""

    def write(number: int, connection) -> int:
        if number == 2:
            raise ValueError("refused before writing")
        audit_row(connection, number)
        return number

    futures, threads = four_writes_joining_the_first(engine, write)
    assert [f.result() for f in futures if f.exception() is None] == [0, 1, 3]
    assert str(futures[2].exception()) == "refused before writing"
    assert len(threads) == 4  # each ran once
    with engine.connect() as connection:
        assert sorted(connection.scalars(select(AuditRow.path))) == ["/0", "/1", "/3"]
