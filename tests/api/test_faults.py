"""Faults: the database goes away while readers and writers keep asking, then comes back."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import event

from api import create_app, store
from api.settings import Settings
from api.store import accounts, db
from api.web.state import state_of
from tests.builders import AREAS, BUREAUX, SAMPLE
from tests.conftest import table_contents

ROUND = "/api/v1/elections/mini-primaire/rounds/2"
GOOD = {"voters": 412, "blank": 3, "null": 2, "valid": 407, "votes": {"hamon": 250, "valls": 157}}


class Cable:
    """A TCP relay to PostgreSQL that can be cut and mended: the database 'goes down' for the app only."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.up = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            if not self.up:
                client.close()
                continue
            server = socket.create_connection(self.target)
            with self.lock:
                self.sockets += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65_536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()

    def cut(self) -> None:
        self.up = False
        with self.lock:
            for end in self.sockets:
                end.close()
            self.sockets.clear()

    def mend(self) -> None:
        self.up = True


def test_when_postgresql_goes_away_the_api_says_503_then_recovers_by_itself(empty_postgres_url, tmp_path):
    postgres_url = empty_postgres_url
    engine = db.make_engine(postgres_url)
    store.create_election(engine, SAMPLE, AREAS, BUREAUX)
    token = accounts.create_token(engine, "clerk one", "supervisor")[1]
    address = urlsplit(postgres_url)
    cable = Cable((address.hostname or "127.0.0.1", address.port or 5432))
    relayed = urlunsplit(address._replace(netloc=f"{address.username}@127.0.0.1:{cable.port}"))
    client = create_app(
        Settings(database_url=relayed, instance_path=tmp_path, head_cache_seconds=0)
    ).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"{ROUND}/results").status_code == 200

    cable.cut()
    before = table_contents(engine)
    for answer in (
        client.get(f"{ROUND}/results"),
        client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=headers),
    ):
        assert (answer.status_code, answer.headers["Retry-After"], answer.get_json()) == (
            503,
            "5",
            {
                "errors": [
                    {
                        "code": "database_unavailable",
                        "message": "The database cannot be reached or refuses writes at the moment; nothing "
                        "was changed. Try again in 5 seconds.",
                    }
                ]
            },
        )
    assert table_contents(engine) == before

    cable.mend()
    written = client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=headers)
    assert (written.status_code, written.get_json()["sequence"]) == (201, 1)
    assert client.get(f"{ROUND}/results").get_json()["results"]["bureaux_reported"] == 1
    engine.dispose()


def test_a_read_only_postgresql_refuses_writes_clearly_and_still_serves_reads(empty_postgres_url, tmp_path):
    engine = db.make_engine(empty_postgres_url)
    store.create_election(engine, SAMPLE, AREAS, BUREAUX)
    token = accounts.create_token(engine, "supervisor one", "supervisor")[1]
    name = urlsplit(empty_postgres_url).path.lstrip("/")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    try:
        before = table_contents(engine)
        client = create_app(Settings(database_url=empty_postgres_url, instance_path=tmp_path)).test_client()
        refused = client.put(
            f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers={"Authorization": f"Bearer {token}"}
        )
        assert (refused.status_code, refused.get_json()["errors"][0]["code"]) == (503, "database_unavailable")
        assert client.get(f"{ROUND}/results").status_code == 200
        assert table_contents(engine) == before
    finally:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f'ALTER DATABASE "{name}" SET default_transaction_read_only = off')
        engine.dispose()


def test_a_full_sqlite_disk_refuses_writes_clearly_and_still_serves_reads(tmp_path, sqlite_template):
    path = tmp_path / "full.sqlite3"
    path.write_bytes(sqlite_template.read_bytes())
    url = f"sqlite:///{path}"
    engine = db.make_engine(url)
    store.create_election(engine, SAMPLE, AREAS, BUREAUX)
    token = accounts.create_token(engine, "supervisor one", "supervisor")[1]
    app = create_app(Settings(database_url=url, instance_path=tmp_path))

    # SQLite's own "database or disk is full" (SQLITE_FULL): the file may not grow by a single page.
    @event.listens_for(state_of(app).engine, "connect")
    def no_room(dbapi_connection, _record):
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    # Corrections with long reasons until a page is needed that the disk does not have.
    for attempt in range(1, 40):
        before = table_contents(engine)
        counts = {**GOOD, "votes": {"hamon": 250 - attempt, "valls": 157 + attempt}, "reason": "x" * 2_000}
        answer = client.put(f"{ROUND}/bureaux/75-01-0001/return", json=counts, headers=headers)
        if answer.status_code not in {200, 201}:
            break
    assert (answer.status_code, answer.get_json()["errors"][0]["code"]) == (503, "database_unavailable")
    assert client.get(f"{ROUND}/results").status_code == 200
    after = table_contents(engine)
    # The refused attempt's own audit row is kept when the space it needs is left (it is smaller than the
    # write), and logged otherwise: nothing else may have changed.
    new_audit = [row for row in after.pop("audit") if row not in before["audit"]]
    assert [(row["status"], row["outcome"]) for row in new_audit] in ([], [(503, "database_unavailable")])
    assert after == {name: rows for name, rows in before.items() if name != "audit"}
    engine.dispose()
