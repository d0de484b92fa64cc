"""Raw DBAPI access for the hot paths, written once for SQLite and PostgreSQL.

SQLAlchemy Core builds the schema and the ordinary queries; a 70,000-row ingest cannot afford a Python
dict per row, so bulk writes go straight to the driver: `executemany` with tuples on SQLite, `COPY` on
PostgreSQL. SQL here is written with `?` placeholders and adapted for psycopg.

Rows are read by name: a statement's columns are the fields of a `NamedTuple` (its "shape"), selected in
the shape's order from the model's table (`select_list`) and read back with `Raw.records`. A NamedTuple
costs no more than the driver's own tuple, and a column renamed in the models fails at import.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import chain
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import Connection, FromClause
from sqlalchemy.exc import DBAPIError

ROWS_PER_STATEMENT = 200  # SQLite: rows of a bulk insert sent in one statement
SMALL_BATCH = 200  # below this, plain statements beat the set-up of COPY and temporary tables
WRITES_COUNTED = "tabulator_writes_sent"  # in a connection's info: writing statements sent so far
Shape = TypeVar("Shape", bound=NamedTuple)


def names(columns: Sequence[str]) -> str:
    """Quoted column names: `null` is a column of ours and a keyword of SQL."""
    return ", ".join(f'"{name}"' for name in columns)


def utc_time(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware UTC datetime, however the driver hands it over: SQLite keeps naive UTC
    (text to the raw driver, a datetime through SQLAlchemy), PostgreSQL an aware time in the session's
    zone. The one reading of times: `api.store.models.UTCDateTime` and the raw reads both use it."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def select_list(
    shape: type[NamedTuple], alias: str, table: FromClause, computed: Mapping[str, str] | None = None
) -> str:
    """The columns of a raw SELECT that `shape` reads back, in its order: each field a column of the
    model's `table` under `alias` (a name the table lacks fails here, at import), or the SQL expression
    `computed` gives for it."""
    computed = computed or {}
    return ", ".join(
        f'{computed[name]} AS "{name}"' if name in computed else f'{alias}."{table.c[name].name}"'
        for name in shape._fields
    )


def checked_columns(table: FromClause, columns: Sequence[str]) -> Sequence[str]:
    """`columns`, each checked to be one of the model's `table` (a KeyError names the first that is not)."""
    return [table.c[name].name for name in columns]


ANY = "= ANY(?)"  # a column's test against a `Listed` parameter: `f"area_id {ANY}"`


class Listed(tuple[int, ...]):
    """The values a query tests a column against (`column = ANY(?)`, `ANY`): one array parameter on
    PostgreSQL, where psycopg then parses a short query once and prepares it (a département's 650 communes
    listed as parameters were parsed again at every read: a tenth of a reader's CPU on a national night);
    `IN (?, ?, …)` on SQLite, which has no arrays."""


class Raw:
    def __init__(self, connection: Connection) -> None:
        self.sqlite = connection.dialect.name == "sqlite"
        self.driver: Any = connection.connection.driver_connection
        self.driver_error: type[Exception] = connection.dialect.loaded_dbapi.Error
        self.pipelined = False
        self.info = connection.info

    def _counted(self) -> None:
        """One more writing statement on this connection (see `api.store.db.writes_so_far`)."""
        self.info[WRITES_COUNTED] = self.info.get(WRITES_COUNTED, 0) + 1

    @contextmanager
    def _translated(self, statement: str) -> Iterator[None]:
        """Driver errors reach the app as SQLAlchemy's (a full disk, a lost server: 503), the same as those
        of the statements SQLAlchemy runs."""
        try:
            yield
        except self.driver_error as error:
            raise DBAPIError.instance(statement, None, error, self.driver_error) from error

    @contextmanager
    def _cursor(self, statement: str = "") -> Iterator[Any]:
        cursor = self.driver.cursor()
        try:
            with self._translated(statement):
                yield cursor
        finally:
            cursor.close()

    @contextmanager
    def pipeline(self, rows: int) -> Iterator[None]:
        """The writes of a few rows whose results nobody reads, sent together: on PostgreSQL one round trip
        for all of them (psycopg's pipeline mode, plain statements only: no COPY in it), their errors raised
        at the end of the block. Many rows go by COPY, one statement after the other."""
        if self.sqlite or rows >= SMALL_BATCH:
            yield
            return
        self.pipelined = True
        try:
            with self._translated("pipeline"), self.driver.pipeline():
                yield
        finally:
            self.pipelined = False

    def _copies(self, rows: Sequence[Any]) -> bool:
        return not self.sqlite and not self.pipelined and len(rows) >= SMALL_BATCH

    def sql(self, text: str) -> str:
        return text if self.sqlite else text.replace("?", "%s")

    def statement(self, text: str, params: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
        """A query and its parameters as the driver takes them: `?` placeholders, and each `Listed`
        parameter an array (PostgreSQL) or a list of parameters (SQLite)."""
        if not any(isinstance(param, Listed) for param in params):
            return self.sql(text), tuple(params)
        pieces = text.split("?")
        for k, param in enumerate(params):
            if isinstance(param, Listed) and not (pieces[k].endswith("= ANY(") and pieces[k + 1][:1] == ")"):
                raise ValueError(f"a listed parameter is tested by `{ANY}`: {text}")
        if not self.sqlite:
            return self.sql(text), tuple(list(p) if isinstance(p, Listed) else p for p in params)
        return _listed_in_full(pieces, params)

    def rows(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._cursor(text) as cursor:
            cursor.execute(*self.statement(text, params))
            return list(cursor.fetchall())

    def records(self, shape: type[Shape], text: str, params: Sequence[Any] = ()) -> list[Shape]:
        """The rows of a query that selects `shape`'s fields in order (see `select_list`), read by name."""
        return list(map(shape._make, self.rows(text, params)))

    def rows_together(self, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[list[tuple[Any, ...]]]:
        """The rows of several queries; on PostgreSQL asked all at once (one round trip, pipeline mode)."""
        if self.sqlite or len(queries) < 2:
            return [self.rows(text, params) for text, params in queries]
        cursors = [self.driver.cursor() for _ in queries]
        try:
            with self._translated(queries[0][0]):
                with self.driver.pipeline():
                    for cursor, (text, params) in zip(cursors, queries, strict=True):
                        cursor.execute(*self.statement(text, params))
                return [list(cursor.fetchall()) for cursor in cursors]
        finally:
            for cursor in cursors:
                cursor.close()

    def execute(self, text: str, params: Sequence[Any] = ()) -> None:
        self._counted()
        with self._cursor(text) as cursor:
            cursor.execute(*self.statement(text, params))

    def execute_many(self, text: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        self._counted()
        with self._cursor(text) as cursor:
            cursor.executemany(self.sql(text), rows)

    def time(self, moment: datetime) -> Any:
        """A time as the driver stores it: SQLAlchemy's naive-UTC text on SQLite, aware on PostgreSQL."""
        moment = moment.astimezone(UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else moment

    def insert_many(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        self._counted()
        with self._cursor(f"INSERT INTO {table}") as cursor:
            if self.sqlite and len(rows) >= SMALL_BATCH:
                self._insert_by_statements(cursor, table, columns, {}, list(chain.from_iterable(rows)))
            elif not self._copies(rows):
                marks = ", ".join("?" * len(columns))
                cursor.executemany(self.sql(f"INSERT INTO {table} ({names(columns)}) VALUES ({marks})"), rows)
            else:
                _copy(cursor, table, table, columns, rows)

    def insert_columns(self, table: str, columns: Sequence[str], values: Sequence[Sequence[Any]]) -> None:
        """Insert rows given column by column, `values[i]` holding column i's value of every row. On SQLite
        a column with the same value in every row (the round, the time recorded, the author of a file) is
        bound once per statement, not once per row: the sqlite3 module copies each text it binds (a
        national file's versions: 0.32 s bound row by row, 0.20 s so)."""
        count = len(values[0]) if values else 0
        if not count:
            return
        if not self.sqlite or count < SMALL_BATCH:
            self.insert_many(table, columns, list(zip(*values, strict=True)))
            return
        shared = {j: column[0] for j, column in enumerate(values) if _same_throughout(column)}
        if len(shared) == len(columns):  # every row alike: one column still goes row by row
            del shared[len(columns) - 1]
        varying = [j for j in range(len(columns)) if j not in shared]
        flat: list[Any] = [None] * (count * len(varying))
        for slot, j in enumerate(varying):
            flat[slot :: len(varying)] = values[j]
        self._counted()
        with self._cursor(f"INSERT INTO {table}") as cursor:
            self._insert_by_statements(cursor, table, columns, shared, flat)

    def _insert_by_statements(
        self, cursor: Any, table: str, columns: Sequence[str], shared: dict[int, Any], flat: list[Any]
    ) -> None:
        """SQLite: many rows to a statement, as many as its variables allow up to ROWS_PER_STATEMENT (a
        national file's versions: 0.22 s a row at a time, 0.16 s 200 at a time). `shared`: the columns
        bound once per statement, with their value; `flat`: the other columns' values, row after row."""
        width = len(columns) - len(shared)
        variables = self.driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - len(shared)
        size = max(1, min(ROWS_PER_STATEMENT, variables // width))
        constants, count = list(shared.values()), len(flat) // width
        whole, step = (count - count % size) * width, size * width
        statement = _insert_sharing(table, columns, list(shared), size)
        cursor.executemany(
            statement, [constants + flat[start : start + step] for start in range(0, whole, step)]
        )
        if whole < len(flat):
            rest = _insert_sharing(table, columns, list(shared), count - whole // width)
            cursor.execute(rest, constants + flat[whole:])

    def insert_records(self, table: FromClause, shape: type[Shape], records: Sequence[Shape]) -> None:
        """Insert rows given by name: `shape`'s fields are the columns of the model's `table` they fill."""
        # A Table's description is its name.
        self.insert_many(table.description, checked_columns(table, shape._fields), records)

    def put_many(
        self, table: str, keys: Sequence[str], values: Sequence[str], rows: Iterable[Sequence[Any]]
    ) -> None:
        """Insert each row, or replace the values of the stored row with the same keys."""
        rows = list(rows)
        if not rows:
            return
        self._counted()
        columns = [*keys, *values]
        replaced = ", ".join(f'"{name}" = excluded."{name}"' for name in values)
        upsert = f"ON CONFLICT ({names(keys)}) DO UPDATE SET {replaced}"
        with self._cursor(f"INSERT INTO {table}") as cursor:
            if not self._copies(rows):
                marks = ", ".join("?" * len(columns))
                cursor.executemany(
                    self.sql(f"INSERT INTO {table} ({names(columns)}) VALUES ({marks}) {upsert}"), rows
                )
            else:
                staging = f"staging_{table}"
                cursor.execute(f"CREATE TEMPORARY TABLE {staging} (LIKE {table}) ON COMMIT DROP")
                _copy(cursor, staging, table, columns, rows)
                cursor.execute(
                    f"INSERT INTO {table} ({names(columns)}) SELECT {names(columns)} FROM {staging} {upsert}"
                )
                cursor.execute(f"DROP TABLE {staging}")


def _listed_in_full(pieces: list[str], params: Sequence[Any]) -> tuple[str, tuple[Any, ...]]:
    """SQLite: the query (its text cut at each `?`) with each `= ANY(?)` of a `Listed` parameter written
    `IN (?, ?, …)`, a placeholder per value, and the parameters flattened in order."""
    flat = list[Any]()
    for k, param in enumerate(params):
        if isinstance(param, Listed):
            pieces[k] = f"{pieces[k].removesuffix('= ANY(')}IN ({', '.join('?' * len(param))}"
            flat.extend(param)
        else:
            pieces[k] += "?"
            flat.append(param)
    return "".join(pieces), tuple(flat)


def _copy(cursor: Any, into: str, like: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """COPY in PostgreSQL's binary format, each column typed as `like`'s is: psycopg then encodes a row
    without choosing a dumper per value (69,242 versions: 0.26 s of Python in text, 0.09 s in binary)."""
    cursor.execute(
        "SELECT a.attname, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        (like,),
    )
    types = dict(cursor.fetchall())
    with cursor.copy(f"COPY {into} ({names(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types([types[column] for column in columns])
        for row in rows:
            copy.write_row(row)


def _insert_sharing(table: str, columns: Sequence[str], shared: list[int], count: int) -> str:
    """An INSERT of `count` rows whose `shared` columns take the statement's first parameters (?1, ?2…)
    and whose other columns take the next, row after row."""
    varying = [j for j in range(len(columns)) if j not in shared]
    marks = [""] * len(columns)
    for number, j in enumerate(shared, 1):
        marks[j] = f"?{number}"
    rows = []
    for row in range(count):
        first = len(shared) + 1 + row * len(varying)
        for slot, j in enumerate(varying):
            marks[j] = f"?{first + slot}"
        rows.append(f"({', '.join(marks)})")
    return f"INSERT INTO {table} ({names(columns)}) VALUES {', '.join(rows)}"


def _same_throughout(column: Sequence[Any]) -> bool:
    """Whether every value of the column is its first: its ends are compared first, which tells a column of
    counts or codes without a scan of all of them (a national file's 16 columns, 15 ms of scans)."""
    return column[-1] == column[0] and column.count(column[0]) == len(column)
