"""Crashes: kill -9 in the middle of the night, restart, and find every acknowledged write, nothing else."""

from __future__ import annotations

import csv
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from api import documents, store
from api.cli import main
from api.store import accounts, db
from tests.e2e.conftest import FOLDER, GUNICORN, ROOT
from tests.ports import free_port

ELECTION = "primaire-gauche-2017"
RETURNS = FOLDER / "round-2" / "returns.csv"
TABULATOR = Path(sys.executable).with_name("tabulator")


def load_round_1(database_url: str) -> None:
    loaded = CliRunner().invoke(
        main, ["load-election", str(FOLDER), "--rounds", "1"], env={"TABULATOR_DATABASE_URL": database_url}
    )
    assert loaded.exit_code == 0, loaded.output


def reported(engine) -> int:
    return documents.results_document(engine, ELECTION, 2)["results"]["bureaux_reported"]


def test_an_ingest_killed_midway_applies_nothing_and_a_rerun_applies_all(database_url):
    load_round_1(database_url)
    engine = db.make_engine(database_url)
    command = [str(TABULATOR), "ingest", str(RETURNS), "--election", ELECTION, "--round", "2"]
    environment = {**os.environ, "TABULATOR_DATABASE_URL": database_url}
    started = time.monotonic()
    subprocess.run(command, env=environment, check=True, capture_output=True)
    whole = time.monotonic() - started
    outcomes = []
    for fraction in (0.5, 0.7, 0.85, 0.95):
        engine.dispose()
        _empty_round_2(database_url)
        ingest = subprocess.Popen(
            command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(whole * fraction)
        ingest.send_signal(signal.SIGKILL)
        ingest.wait()
        outcomes.append(reported(engine))
        assert store.verify(engine) == []
    assert set(outcomes) <= {0, 7_208}  # wholly or not at all, whatever the moment
    assert 0 in outcomes  # at least one kill landed before the commit
    _empty_round_2(database_url)
    subprocess.run(command, env=environment, check=True, capture_output=True)
    assert reported(engine) == 7_208
    assert store.verify(engine) == []
    engine.dispose()


def _empty_round_2(database_url: str) -> None:
    """Round 2 as it was before the ingest: marked test for the time of a wipe, then real again."""
    engine = db.make_engine(database_url)
    store.update_round(engine, ELECTION, 2, test=True)
    store.wipe_test_round(engine, ELECTION, 2)
    store.update_round(engine, ELECTION, 2, test=False)
    engine.dispose()


class Service:
    """gunicorn in a process group of its own, so that kill -9 takes the master and its workers at once."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                str(GUNICORN),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "api:create_app()",
            ],
            env={**os.environ, "TABULATOR_DATABASE_URL": database_url},
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/healthz", timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(log.read_text())

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def test_the_service_killed_during_writes_keeps_every_acknowledged_return(database_url, tmp_path):
    load_round_1(database_url)
    engine = db.make_engine(database_url)
    token = accounts.create_token(engine, "supervisor one", "supervisor")[1]
    with RETURNS.open(newline="") as file:
        rows = list(csv.DictReader(file))[:2_000]
    log = tmp_path / "gunicorn.log"
    service = Service(database_url, log)
    acknowledged: dict[str, dict] = {}
    seen: list[int] = []
    stop = threading.Event()
    answered = threading.Event()  # set by the poller at each sequence it reads
    lock = threading.Lock()

    def clerk(part: list[dict]) -> None:
        for row in part:
            body = {
                "voters": int(row["voters"]),
                "blank": int(row["blank"]),
                "null": int(row["null"]),
                "valid": int(row["valid"]),
                "votes": {"hamon": int(row["hamon"]), "valls": int(row["valls"])},
            }
            request = urllib.request.Request(
                f"{service.url}/api/v1/elections/{ELECTION}/rounds/2/bureaux/{row['bureau']}/return",
                data=json.dumps(body).encode(),
                method="PUT",
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    if answer.status == 201:
                        with lock:
                            acknowledged[row["bureau"]] = body
            except (urllib.error.URLError, ConnectionError, OSError):
                return  # the service is gone: this clerk stops

    def poller() -> None:
        while not stop.is_set():
            try:
                with urllib.request.urlopen(
                    f"{service.url}/api/v1/elections/{ELECTION}/rounds/2/current"
                ) as got:
                    seen.append(json.load(got)["sequence"])
                answered.set()
            # A kill in the middle of an answer cuts its body short (IncompleteRead): poll again.
            except (urllib.error.URLError, ConnectionError, OSError, http.client.HTTPException):
                time.sleep(0.05)

    clerks = [threading.Thread(target=clerk, args=(rows[i::4],)) for i in range(4)]
    watcher = threading.Thread(target=poller)
    for thread in [*clerks, watcher]:
        thread.start()
    # Kill once writes are flowing (a loaded machine may take seconds for the first), long before the end.
    deadline = time.monotonic() + 60
    while len(acknowledged) < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    service.kill()  # kill -9, master and workers, with writes in flight
    for thread in clerks:
        thread.join()
    service = Service(database_url, log)  # the poller follows the new address
    answered.clear()  # the old service is dead: the next sequence read is the restarted one's
    read_from_restarted = answered.wait(30)
    stop.set()
    watcher.join()
    assert read_from_restarted, "the poller read nothing from the restarted service in 30 s"

    assert 0 < len(acknowledged) < len(rows)  # the kill landed in the middle of the writes
    assert store.verify(engine) == []  # sums equal the returns, publications without gaps
    for code, body in acknowledged.items():
        bureau = documents.results_document(engine, ELECTION, 2, "bureau", code)["results"]
        assert (bureau["voters"], [c["votes"] for c in bureau["candidates"]]) == (
            body["voters"],
            [body["votes"]["hamon"], body["votes"]["valls"]],
        )
    current = documents.results_document(engine, ELECTION, 2)["sequence"]
    assert seen == sorted(seen) and seen[-1] == current  # the poller never saw the sequence go back
    service.kill()
    engine.dispose()
