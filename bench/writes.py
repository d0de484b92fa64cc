"""Write-path benchmark: 8 clerks entering returns one by one through HTTP (gunicorn), SQLite and PostgreSQL.

Each clerk is a thread with its own keep-alive connection, sending `PUT …/bureaux/{code}/return` for
bureaux of the 2017 presidential file (round 2). Two measurements:

- at full speed: each clerk sends its next return as soon as the last is answered, until RETURNS are in —
  the most the service sustains. With eight clerks always waiting, latency here is mostly queueing.
- at the target rate: the eight clerks together send 200 returns a second on a fixed schedule for
  PACED_SECONDS; latency counts from each return's scheduled time, so a stall is not hidden.

The same clients then read `…/current` at full speed for as long, as the baseline measured in the same run.
Targets (SQLite): ≥ 200 returns/s sustained, p99 < 50 ms at that rate.

Run: `make bench` (or `python -m bench.writes`). Needs ../shared/data.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text

from api import reference, store
from api.store import accounts, db
from bench import summary
from bench.api import FILE, gunicorn, wait_for
from tabulator.ministry import read_ministry

CLERKS = 8
RETURNS = 3_000
TARGET_RATE = 200
PACED_SECONDS = 10
ELECTION = "presidentielle-2017"
POSTGRES_ADMIN_URL = os.environ.get(
    "TABULATOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def main() -> None:
    if not FILE.exists():
        sys.exit(f"bench-writes: {FILE} is absent; this benchmark needs ../shared/data.")
    ministry = read_ministry(FILE.read_bytes(), reference.departements())
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, url in (("sqlite", f"sqlite:///{folder}/writes.sqlite3"), ("postgresql", postgres_url())):
            print(f"… {name}: loading the registry", file=sys.stderr, flush=True)
            results[name] = run(name, url, ministry, Path(folder))
    report(results)


def postgres_url(name: str = "tabulator_bench_writes") -> str:
    """A new, empty PostgreSQL database for a benchmark (dropped first if a previous run left it)."""
    admin = create_engine(db.normalise_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def run(name: str, url: str, ministry, folder: Path) -> dict[str, object]:
    db.upgrade(url)
    engine = db.make_engine(url)
    store.ensure_ministry_election(engine, ELECTION, 2, ministry, name="Présidentielle 2017")
    # The file's real blank shares (8.5 % nationally) would hold most returns for review: measured here is
    # the whole path to publication, so this round publishes flagged returns with their flag.
    store.update_round(engine, ELECTION, 2, flagged_returns="publish")
    token = accounts.create_token(engine, "bench clerk", "clerk")[1]
    port = 18_741 if name == "sqlite" else 18_742
    server = gunicorn("api:create_app()", port, {"TABULATOR_DATABASE_URL": url}, folder)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        paced_count = TARGET_RATE * PACED_SECONDS
        rows = np.random.default_rng(2017).choice(len(ministry.batch), RETURNS + paced_count, replace=False)
        bodies = [(ministry.batch.bureaux[row], json.dumps(body(ministry, row))) for row in rows.tolist()]
        print(f"… {name}: {RETURNS:,} returns by {CLERKS} clerks at full speed", file=sys.stderr, flush=True)
        writes, seconds = clerks(port, token, bodies[:RETURNS])
        print(f"… {name}: {TARGET_RATE} returns/s for {PACED_SECONDS} s", file=sys.stderr, flush=True)
        paced, _ = clerks(port, token, bodies[RETURNS:], rate=TARGET_RATE)
        print(f"… {name}: the same clients reading `current` for as long", file=sys.stderr, flush=True)
        reads, read_seconds = readers(port, seconds)
        errors = sum(1 for status, _ in writes + paced if status != 201)
        differences = store.verify(engine)
    finally:
        server.terminate()
        server.wait(timeout=10)
        engine.dispose()
    latencies = [latency for _, latency in writes]
    paced_latencies = [latency for _, latency in paced]
    return {
        "rate": len(writes) / seconds,
        "median": statistics.median(latencies) * 1000,
        "p99": float(np.percentile(latencies, 99)) * 1000,
        "paced_median": statistics.median(paced_latencies) * 1000,
        "paced_p99": float(np.percentile(paced_latencies, 99)) * 1000,
        "errors": errors,
        "read_rate": reads / read_seconds,
        "verify": "clean" if not differences else f"{len(differences)} differences",
    }


def body(ministry, row: int) -> dict[str, object]:
    voters, blank, null, valid = (int(v) for v in ministry.batch.counts[row])
    votes = dict(zip(ministry.batch.candidate_ids, (int(v) for v in ministry.batch.votes[row]), strict=True))
    return {
        "voters": voters,
        "blank": blank,
        "null": null,
        "valid": valid,
        "votes": votes,
        "registered": int(ministry.batch.registered[row]),
    }


def clerks(
    port: int, token: str, bodies: list[tuple[str, str]], rate: float | None = None
) -> tuple[list[tuple[int, float]], float]:
    """The clerks send the pile of returns, as fast as answered or (`rate`) the i-th at start + i / rate;
    returns (status, seconds from when it was due) per request, and the wall-clock seconds."""
    work: queue.SimpleQueue[tuple[int, tuple[str, str]]] = queue.SimpleQueue()
    for item in enumerate(bodies):
        work.put(item)
    done: list[tuple[int, float]] = []
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    start = time.perf_counter() + 0.1

    def clerk() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            try:
                number, (code, payload) = work.get_nowait()
            except queue.Empty:
                return
            due = time.perf_counter() if rate is None else start + number / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            connection.request(
                "PUT", f"/api/v1/elections/{ELECTION}/rounds/2/bureaux/{code}/return", payload, headers
            )
            response = connection.getresponse()
            response.read()
            with lock:
                done.append((response.status, time.perf_counter() - due))

    return done, in_threads(clerk)


def readers(port: int, seconds: float) -> tuple[int, float]:
    """The baseline: the same clients reading the round's `current` for as long as the writes took."""
    count = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def reader() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.perf_counter() < deadline:
            connection.request("GET", f"/api/v1/elections/{ELECTION}/rounds/2/current")
            connection.getresponse().read()
            with lock:
                count[0] += 1

    elapsed = in_threads(reader)
    return count[0], elapsed


def in_threads(target) -> float:
    """Run CLERKS threads of `target`; the wall-clock seconds they took."""
    threads = [threading.Thread(target=target) for _ in range(CLERKS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def report(results: dict[str, dict[str, object]]) -> None:
    print(f"\nReturns of PR17_BVot_T2_FE entered one per request by {CLERKS} concurrent clerks;")
    print("gunicorn 2 workers × 8 threads; each return: token, checks, version, sums, sequence, audit.\n")
    print(
        f"{'':<12}{'-- full speed (' + format(RETURNS, ',') + ') --':>32}"
        f"{'-- ' + str(TARGET_RATE) + '/s for ' + str(PACED_SECONDS) + ' s --':>24}{'':>8}{'baseline':>12}"
    )
    print(
        f"{'database':<12}{'returns/s':>12}{'median ms':>11}{'p99 ms':>9}{'median ms':>15}{'p99 ms':>9}"
        f"{'errors':>8}{'reads/s':>12}"
    )
    for name, r in results.items():
        print(
            f"{name:<12}{r['rate']:>12,.0f}{r['median']:>11.1f}{r['p99']:>9.1f}{r['paced_median']:>15.1f}"
            f"{r['paced_p99']:>9.1f}{r['errors']:>8}{r['read_rate']:>12,.0f}"
        )
    for name, r in results.items():
        summary.record(
            "writes",
            f"returns/s at full speed, {CLERKS} clerks, {name}",
            (f"{r['rate']:,.0f}/s", "", "", f"≥ {TARGET_RATE}/s" if name == "sqlite" else ""),
            met=r["rate"] >= TARGET_RATE if name == "sqlite" else None,
        )
    print(
        f"\nTargets on SQLite: ≥ {TARGET_RATE} returns/s at full speed, p99 < 50 ms at {TARGET_RATE}/s. "
        "verify after the runs: " + ", ".join(f"{name} {r['verify']}" for name, r in results.items())
    )


if __name__ == "__main__":
    main()
