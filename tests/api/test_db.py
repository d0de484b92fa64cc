"""Writes committed together (api.db.write_together): each keeps its own outcome, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from api import db
from api.models import AuditRow

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
