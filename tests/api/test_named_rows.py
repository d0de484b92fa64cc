"""The raw fast paths read rows by name, from columns the models define, and read times one way."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import sqlite

from api import store
from api.store import audit_chain
from api.store.accounts import AuditRequest, audit_entry
from api.store.db import reading, writing
from api.store.models import ReturnVersionRow, UTCDateTime
from api.store.sql import Raw, select_list, utc_time
from tabulator.batch import ReturnBatch
from tests.builders import SAMPLE, build_return

PARIS_WINTER = timezone(timedelta(hours=1))
MOMENT = datetime(2017, 1, 29, 19, 0, 0, 123456, tzinfo=UTC)
NAIVE_UTC = MOMENT.replace(tzinfo=None)  # as SQLite keeps it


class Counted(NamedTuple):
    bureau: str
    voters: int
    null: int


def test_a_stored_time_reads_as_aware_utc_however_the_driver_gives_it():
    assert [
        utc_time("2017-01-29 19:00:00.123456"),  # SQLite's text, to the raw driver
        utc_time(NAIVE_UTC),  # SQLite's, through SQLAlchemy
        utc_time(MOMENT.astimezone(PARIS_WINTER)),  # PostgreSQL's: aware, in the session's zone
        utc_time(None),
    ] == [MOMENT, MOMENT, MOMENT, None]
    assert utc_time(MOMENT.astimezone(PARIS_WINTER)).tzinfo is UTC  # type: ignore[union-attr]


def test_the_models_time_type_reads_times_as_the_raw_reads_do():
    assert UTCDateTime().process_result_value(NAIVE_UTC, sqlite.dialect()) == MOMENT


def test_a_select_list_names_the_models_columns_in_the_shapes_order():
    listed = select_list(Counted, "v", ReturnVersionRow.__table__, {"bureau": "b.code"})
    assert listed == 'b.code AS "bureau", v."voters", v."null"'

    class Misspelt(NamedTuple):
        voterz: int

    with pytest.raises(KeyError, match="voterz"):
        select_list(Misspelt, "v", ReturnVersionRow.__table__)


def test_raw_records_are_read_by_name_with_times_as_the_models_read_them(sample_election):
    store.record_returns(
        sample_election,
        SAMPLE.id,
        2,
        ReturnBatch.of(
            [build_return("75-01-0001", votes={"hamon": 250, "valls": 157}, blank=3, null=2)],
            SAMPLE.round(2).candidate_ids,
        ),
        author="clerk",
    )
    with reading(sample_election) as connection:
        raw = Raw(connection)
        (record,) = raw.records(
            Counted,
            f"SELECT {select_list(Counted, 'v', ReturnVersionRow.__table__, {'bureau': 'b.code'})} "
            "FROM return_versions v JOIN bureaux b ON b.id = v.bureau_id",
        )
        ((raw_time,),) = raw.rows("SELECT recorded_at FROM return_versions")
        model_time = connection.scalar(select(ReturnVersionRow.recorded_at))
    assert (record.bureau, record.voters, record.null) == ("75-01-0001", 412, 2)
    assert utc_time(raw_time) == model_time
    assert model_time is not None and model_time.tzinfo is UTC


def test_an_audit_rows_digest_keeps_its_canonical_text(engine):
    """Chains sealed before stay valid: the digest lists the same fields, in the same order and form."""
    at = datetime(2017, 1, 29, 20, 0, 0, 123456, tzinfo=PARIS_WINTER)
    request = AuditRequest(None, "192.0.2.1", "CLI", "tabulator audit", "données envoyées")
    with writing(engine) as connection:
        audit_entry(Raw(connection), request, status=200, outcome="ok", sequence=3, at=at)
    assert audit_chain.seal(engine) == 1
    fields = [1, "2017-01-29T19:00:00.123456+00:00", None, None, None, "192.0.2.1", "CLI", "tabulator audit"]
    fields += ["données envoyées", 200, "ok", 3]
    digest = hashlib.sha256(json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode())
    with reading(engine) as connection:
        ((chain_hash,),) = Raw(connection).rows("SELECT chain_hash FROM audit WHERE id = 1")
    assert chain_hash == audit_chain.link(audit_chain.GENESIS, digest.hexdigest())
    assert audit_chain.verify_chain(engine) == audit_chain.ChainReport(1, 0, [])


@pytest.mark.parametrize("count", [3, 457])
def test_rows_inserted_column_by_column_come_back_as_given(engine, count):
    """A few rows go as plain statements; many, on SQLite, as statements of 200 rows that bind the columns
    with one value for every row once (`same`, `also_same`), the rest row by row, the last statement
    shorter; on PostgreSQL by COPY."""
    columns = ("id", "same", "label", "also_same", "maybe")
    values = [
        list(range(count)),
        ["one text for all"] * count,
        [f"row {i}" for i in range(count)],
        [7] * count,
        [None if i % 3 else i * 10 for i in range(count)],
    ]
    with writing(engine) as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS bulk_probe")  # the PostgreSQL database is reused
        connection.exec_driver_sql(
            "CREATE TABLE bulk_probe "
            "(id INTEGER PRIMARY KEY, same TEXT, label TEXT, also_same INTEGER, maybe INTEGER)"
        )
        Raw(connection).insert_columns("bulk_probe", columns, values)
    with reading(engine) as connection:
        stored = connection.exec_driver_sql("SELECT * FROM bulk_probe ORDER BY id").all()
    with writing(engine) as connection:
        connection.exec_driver_sql("DROP TABLE bulk_probe")
    assert [tuple(row) for row in stored] == list(zip(*values, strict=True))


def test_rows_that_are_all_alike_are_inserted_all_the_same(engine):
    with writing(engine) as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS bulk_alike")  # the PostgreSQL database is reused
        connection.exec_driver_sql("CREATE TABLE bulk_alike (a INTEGER, b TEXT)")
        Raw(connection).insert_columns("bulk_alike", ("a", "b"), [[1] * 401, ["x"] * 401])
    with reading(engine) as connection:
        stored = connection.exec_driver_sql("SELECT a, b, count(*) FROM bulk_alike GROUP BY a, b").all()
    with writing(engine) as connection:
        connection.exec_driver_sql("DROP TABLE bulk_alike")
    assert [tuple(row) for row in stored] == [(1, "x", 401)]


def test_many_rows_inserted_row_by_row_come_back_as_given(engine):
    """Rows given as rows take the same statements of 200 on SQLite, none of their columns shared."""
    rows = [(i, f"row {i}", None if i % 3 else i * 10) for i in range(457)]
    with writing(engine) as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS bulk_rows")  # the PostgreSQL database is reused
        connection.exec_driver_sql(
            "CREATE TABLE bulk_rows (id INTEGER PRIMARY KEY, label TEXT, maybe INTEGER)"
        )
        Raw(connection).insert_many("bulk_rows", ("id", "label", "maybe"), rows)
    with reading(engine) as connection:
        stored = connection.exec_driver_sql("SELECT * FROM bulk_rows ORDER BY id").all()
    with writing(engine) as connection:
        connection.exec_driver_sql("DROP TABLE bulk_rows")
    assert [tuple(row) for row in stored] == rows
