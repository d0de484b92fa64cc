"""Election-night load test: two app nodes on one PostgreSQL, returns coming in while 200 newsrooms poll.

- Two nodes as compose.yaml runs them on one PostgreSQL database holding the 69,242 bureaux of the 2017
  presidential round 2: each a gunicorn for the reads (WORKERS × THREADS, as in production: 2 × 16) and
  one for the writes (WRITE_WORKERS × THREADS: 1 × 16), on ports of their own (nginx in production
  sends each request by its method: deploy/nginx.conf).
- Clerks: CLERKS threads (32: the authority's clerks, each sending one return at a time and waiting for
  its answer) sending the file's returns one per request (`PUT …/return`, alternating nodes) on a fixed
  schedule of RATE returns a second (110: a tenth above the goal, GOAL_RATE) for SECONDS. Fewer clerks
  cap the rate at clerks / latency.
- Pollers: 200 threads in a process of their own, each a newsroom polling every 2 s (the API's max-age)
  with If-None-Match — `current`, then on a new sequence the national results, a département and the
  change feed from its cursor — alternating nodes.
- Freshness: a probe takes the newest acknowledged return and times how long until node 2's readers'
  national results carry its sequence (another process than the one that wrote it, on either node; with
  LOADTEST_WRITE_WORKERS=0, half the writes are node 2's own); another, until nginx serves it from the
  static publication, which a publisher (`tabulator publish-static --watch 0.1`, after a first whole pass,
  at `nice 10`) writes into a tmpfs.
- At the end: both nodes give byte-identical payloads for the same sequences, and `verify` is clean; and
  the cores each part took during the night, with the machine's idle time (bench/cpu.py).

Run: `make loadtest` (or `python -m bench.loadtest`). Needs ../shared/data and PostgreSQL.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from api import documents, reference, store
from api.store import accounts, db
from bench import summary
from bench.api import FILE, gunicorn, nginx, wait_for
from bench.cpu import CpuWindow, print_shares
from bench.writes import ELECTION, body, postgres_url
from tabulator.ministry import read_ministry

GOAL_RATE = 100  # returns a second the writes must sustain under the pollers
# The clerks' schedule, a tenth above the goal. At the goal itself, a night that keeps its schedule to the
# last return measures the schedule less the last answer's wait: 12,000 returns at 100/s, the last answered
# 0.24 s after it was due, made 99.8/s.
RATE = int(os.environ.get("LOADTEST_RATE", "110"))
SECONDS = int(os.environ.get("LOADTEST_SECONDS", "120"))
POLLERS = int(os.environ.get("LOADTEST_POLLERS", "200"))
WORKERS = int(os.environ.get("LOADTEST_WORKERS", "2"))  # gunicorn processes per node
THREADS = int(os.environ.get("LOADTEST_THREADS", "16"))  # per process, as deploy/gunicorn.conf.py
READ_THREADS = int(os.environ.get("LOADTEST_READ_THREADS", str(THREADS)))  # the readers' alone
POLL_SECONDS = 2.0  # the API's Cache-Control max-age: polling faster gains nothing
CLERKS = int(os.environ.get("LOADTEST_CLERKS", "32"))  # clerks at the authority, each sending in turn
PUBLISHER = os.environ.get("LOADTEST_PUBLISHER", "1") == "1"  # 0: no static publisher (what it costs)
# 1: every bureau of the file, each clerk sending its next return as soon as the last is answered (no
# schedule): how long the whole night takes under the pollers. Target: WHOLE_FILE_SECONDS.
ALL = os.environ.get("LOADTEST_ALL", "0") == "1"
# Each node as compose.yaml runs it: a gunicorn of WORKERS for the reads and one of WRITE_WORKERS for the
# writes, nginx sending each request by its method (deploy/nginx.conf). 0: the writes go to the readers'
# gunicorn, as before that split (what it gains).
WRITE_WORKERS = int(os.environ.get("LOADTEST_WRITE_WORKERS", "1"))
# How often a probe asks for the national results until they carry the return it waits for: its own
# requests are load that no deployment has. Every 10 ms, the two probes sent half of the load process's
# requests (0.13 of the two cores); every 50 ms, a freshness is at most 50 ms late, of the 1,000 allowed.
PROBE_SECONDS = 0.05
WHOLE_FILE_SECONDS = 600
# After the night (not with LOADTEST_ALL), the write rate the clerks reach when each sends as soon as
# answered: CAPACITY_SECONDS with the pollers still polling, then as long once they have stopped. The
# ratio of the two is what 200 newsrooms cost the writes (aim: RATIO_AIM). CAPACITY_MOST bounds the
# returns a second set aside for each of those phases (bureaux not sent during the night).
CAPACITY_SECONDS = int(os.environ.get("LOADTEST_CAPACITY_SECONDS", "20"))
CAPACITY_MOST = 300
RATIO_AIM = 0.8
GIVE_UP_SECONDS = 1_800  # a whole-file run that has not ended by then is stopped: its figures say why
PORTS = (18_751, 18_752)
WRITE_PORTS = (18_761, 18_762)
NGINX_PORT = 18_753
MEMORY = "/dev/shm"  # the static publication's folder, as compose.yaml mounts it (docs/operations.md)
TABULATOR = Path(sys.executable).with_name("tabulator")
ROUND = f"/api/v1/elections/{ELECTION}/rounds/2"


class Timings:
    """Latencies and errors of one kind of request, from many threads."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.errors = 0
        self.statuses: Counter[int] = Counter()
        self.lock = threading.Lock()

    def add(self, seconds: float, ok: bool, status: int = 0) -> None:
        with self.lock:
            self.seconds.append(seconds)
            self.errors += not ok
            if not ok:
                self.statuses[status] += 1

    def copy(self) -> Timings:
        """The figures so far, without the lock, which does not cross processes."""
        copied = Timings()
        with self.lock:
            copied.seconds, copied.errors = list(self.seconds), self.errors
            copied.statuses = self.statuses.copy()
        copied.lock = None  # type: ignore[assignment]
        return copied

    def summary(self) -> tuple[int, float, float, int]:
        if not self.seconds:
            return 0, 0.0, 0.0, self.errors
        values = np.array(self.seconds) * 1000
        return len(values), float(np.median(values)), float(np.percentile(values, 99)), self.errors


def main() -> None:
    if not FILE.exists():
        sys.exit(f"loadtest: {FILE} is absent; this test needs ../shared/data.")
    step("reading the 69,242 bureaux")
    ministry = read_ministry(FILE.read_bytes(), reference.departements())
    url = postgres_url("tabulator_loadtest")
    db.upgrade(url)
    engine = db.make_engine(url)
    check_connections(engine)
    step("loading the registry into PostgreSQL")
    store.ensure_ministry_election(engine, ELECTION, 2, ministry, name="Présidentielle 2017")
    store.update_round(engine, ELECTION, 2, flagged_returns="publish")  # see bench/writes.py
    token = accounts.create_token(engine, "loadtest clerk", "clerk")[1]
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory(dir=MEMORY) as static:
        step("publishing the static files whole (the publisher's first pass)")
        publish = [
            str(TABULATOR),
            "publish-static",
            "--election",
            ELECTION,
            "--round",
            "2",
            "--folder",
            static,
        ]
        subprocess.run(publish, env={**os.environ, "TABULATOR_DATABASE_URL": url}, check=True)
        nodes = [
            gunicorn(
                "api:create_app()",
                port,
                {"TABULATOR_DATABASE_URL": url},
                Path(folder),
                workers=workers,
                threads=READ_THREADS if port in PORTS else THREADS,
            )
            for port, workers in gunicorns()
        ]
        nodes.append(nginx(Path(folder), NGINX_PORT, Path(static)))
        if PUBLISHER:  # below the nodes' priority, as docs/operations.md advises: writes and reads first
            publisher = ["nice", "-n", "10", *publish, "--watch", "0.1"]
            environment = {**os.environ, "TABULATOR_DATABASE_URL": url}
            nodes.append(subprocess.Popen(publisher, env=environment, stdout=subprocess.DEVNULL))
        try:
            for port in (*(port for port, _ in gunicorns()), NGINX_PORT):
                wait_for(
                    f"http://127.0.0.1:{port}/healthz" if port != NGINX_PORT else f"http://127.0.0.1:{port}/"
                )
            results = night(ministry, token)
            step("comparing the two nodes and verifying")
            results["agree"] = nodes_agree(engine)
            results["verify"] = "clean" if not store.verify(engine) else "DIFFERENCES"
        finally:
            for node in nodes:
                node.terminate()
                node.wait(timeout=10)
            engine.dispose()
    report(results)


def gunicorns() -> list[tuple[int, int]]:
    """The port and worker count of each gunicorn: the nodes' readers, then their writers if any."""
    readers = [(port, WORKERS) for port in PORTS]
    return readers + [(port, WRITE_WORKERS) for port in WRITE_PORTS] if WRITE_WORKERS else readers


def check_connections(engine: Engine) -> None:
    """Stop before the night if PostgreSQL would refuse some of the workers' connections (a 503 each)."""
    workers = sum(count for _, count in gunicorns())
    # Each worker's pool at its fullest, and a few for the publisher and this process.
    needed = workers * (db.POOLED_CONNECTIONS + db.EXTRA_CONNECTIONS) + 5
    with engine.connect() as connection:
        allowed = int(connection.exec_driver_sql("SHOW max_connections").scalar_one())
    if allowed < needed:
        sys.exit(
            f"loadtest: {workers} workers may hold {needed} PostgreSQL connections, above this server's "
            f"max_connections ({allowed}): `ALTER SYSTEM SET max_connections = 200`, then restart PostgreSQL "
            "(docs/operations.md, The setup)."
        )


def step(text: str) -> None:
    print(f"… {text}", file=sys.stderr, flush=True)


def night(ministry, token: str) -> dict[str, object]:
    count = len(ministry.batch) if ALL else RATE * SECONDS
    spare = 0 if ALL else 2 * CAPACITY_SECONDS * CAPACITY_MOST  # the two capacity phases' bureaux
    rows = np.random.default_rng(2017).choice(len(ministry.batch), count + spare, replace=False).tolist()
    bodies = [(ministry.batch.bureaux[row], json.dumps(body(ministry, row))) for row in rows]
    writes, freshness, published = Timings(), Timings(), Timings()
    acknowledged: list[tuple[int, float]] = []  # (sequence, when its answer came)
    stop = threading.Event()
    pace = f"as fast as {CLERKS} clerks are answered" if ALL else f"at {RATE}/s over {SECONDS} s"
    step(f"{count:,} returns {pace}, {POLLERS} pollers, 2 nodes")
    # The pollers run in a process of their own: 200 threads would otherwise take the clerks' interpreter.
    context = multiprocessing.get_context("fork")
    night_over, poller_stop, poller_results = context.Event(), context.Event(), context.Queue()
    pollers = context.Process(target=run_pollers, args=(night_over, poller_stop, poller_results))
    pollers.start()
    cpu = CpuWindow(
        (
            ("node 1 (gunicorn)", f"127.0.0.1:{PORTS[0]}"),
            ("node 2 (gunicorn)", f"127.0.0.1:{PORTS[1]}"),
            *(
                (f"node {number}'s writes (gunicorn)", f"127.0.0.1:{port}")
                for number, port in enumerate(WRITE_PORTS if WRITE_WORKERS else (), 1)
            ),
            ("the static publisher (nice 10)", "publish-static"),
            ("PostgreSQL", "postgres"),
            ("nginx", "nginx"),
            ("the load: clerks, pollers, probes", "bench.loadtest"),
        )
    )
    probes = [
        threading.Thread(target=probe, args=(stop, acknowledged, freshness, PORTS[1]), daemon=True),
        threading.Thread(target=probe, args=(stop, acknowledged, published, NGINX_PORT), daemon=True),
    ]
    for thread in probes:
        thread.start()
    limit = GIVE_UP_SECONDS if ALL else SECONDS
    elapsed = send(bodies[:count], token, writes, acknowledged, seconds=limit, scheduled=not ALL)
    cores = cpu.shares()
    time.sleep(2)
    stop.set()
    for thread in probes:
        thread.join(timeout=10)
    night_over.set()
    reads = poller_results.get(timeout=60)
    capacity = {} if ALL else measure_capacity(bodies[count:], token, poller_stop)
    poller_stop.set()
    pollers.join(timeout=30)
    return {
        "writes": writes,
        "reads": reads,
        "freshness": freshness,
        "published": published,
        "rate": len(writes.seconds) / elapsed,
        "scheduled": count,
        "elapsed": elapsed,
        "cores": cores,
        "capacity": capacity,
    }


def send(
    bodies: list[tuple[str, str]],
    token: str,
    timings: Timings,
    acknowledged: list[tuple[int, float]],
    *,
    seconds: float,
    scheduled: bool,
) -> float:
    """The clerks send `bodies` (on the schedule, or each as soon as answered) for at most `seconds`:
    how long they took, from the first return due to the last answer."""
    started = time.perf_counter() + 1.0
    clerks = [
        threading.Thread(
            target=clerk,
            args=(i, bodies, token),
            kwargs={
                "started": started,
                "seconds": seconds,
                "scheduled": scheduled,
                "timings": timings,
                "acknowledged": acknowledged,
            },
        )
        for i in range(CLERKS)
    ]
    for thread in clerks:
        thread.start()
    for thread in clerks:
        thread.join()
    return time.perf_counter() - started


def measure_capacity(bodies: list[tuple[str, str]], token: str, poller_stop: Any) -> dict[str, float]:
    """The clerks' write rate, each sending as soon as answered, with the pollers, then without them."""
    half = len(bodies) // 2
    rates = _capacity("with pollers", bodies[:half], token)
    poller_stop.set()
    time.sleep(POLL_SECONDS)  # the last polls answered
    return rates | _capacity("without pollers", bodies[half:], token)


def _capacity(label: str, bodies: list[tuple[str, str]], token: str) -> dict[str, float]:
    step(f"capacity {label}: each clerk sends as soon as answered, {CAPACITY_SECONDS} s")
    timings = Timings()
    elapsed = send(bodies, token, timings, [], seconds=CAPACITY_SECONDS, scheduled=False)
    return {label: len(timings.seconds) / elapsed, f"{label} errors": timings.errors}


def run_pollers(night_over: Any, stop: Any, results: Any) -> None:
    """The pollers until `stop`; their reads until `night_over` go to `results`."""
    reads = Timings()
    threads = [threading.Thread(target=poller, args=(i, stop, reads), daemon=True) for i in range(POLLERS)]
    for thread in threads:
        thread.start()
    night_over.wait()
    results.put(reads.copy())
    stop.wait()
    for thread in threads:
        thread.join(timeout=10)


def clerk(
    number: int,
    bodies: list[tuple[str, str]],
    token: str,
    *,
    started: float,
    seconds: float,
    scheduled: bool,
    timings: Timings,
    acknowledged: list[tuple[int, float]],
) -> None:
    """Every CLERKS-th return, each sent at its time on the schedule (latency counts from that time), or
    as soon as the clerk's last return is answered; none sent once `seconds` have passed."""
    ports = WRITE_PORTS if WRITE_WORKERS else PORTS
    connections = [Client(port) for port in ports]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for position in range(number, len(bodies), CLERKS):
        if time.perf_counter() > started + seconds:
            return  # the night is over: what could not be sent in time counts as not sent
        due = started + position / RATE if scheduled else max(started, time.perf_counter())
        time.sleep(max(0.0, due - time.perf_counter()))
        code, payload = bodies[position]
        connection = connections[position % 2]
        status, answer = request(connection, "PUT", f"{ROUND}/bureaux/{code}/return", payload, headers)
        now = time.perf_counter()
        timings.add(now - due, status == 201, status)
        if status == 201:
            acknowledged.append((json.loads(answer)["sequence"], now))


def poller(number: int, stop: threading.Event, timings: Timings) -> None:
    """A newsroom: `current` every POLL_SECONDS; on a new sequence, the national results, a département and
    the changes since its cursor, each with If-None-Match."""
    rng = random.Random(number)
    connections = [Client(port) for port in PORTS]
    etags: dict[str, str] = {}
    cursor, seen = "0", -1
    time.sleep(rng.random())
    while not stop.is_set():
        connection = connections[rng.randrange(2)]
        sequence = json.loads(
            timed_get(connection, f"{ROUND}/current", etags, timings) or b'{"sequence": -1}'
        )["sequence"]
        if sequence > seen:
            seen = sequence
            timed_get(connection, f"{ROUND}/results", etags, timings)
            timed_get(
                connection,
                f"{ROUND}/results/departement/{rng.choice(['75', '13', '69', '59', '33'])}",
                etags,
                timings,
            )
            changes = timed_get(connection, f"{ROUND}/changes?since={cursor}&limit=500", etags, timings)
            if changes:
                cursor = json.loads(changes)["next"]
        stop.wait(POLL_SECONDS)


def probe(stop: threading.Event, acknowledged: list[tuple[int, float]], timings: Timings, port: int) -> None:
    """The newest acknowledged return: how long until the national results on `port` carry it (the other
    node's, or nginx's file of the static publication). Asked every PROBE_SECONDS with the last ETag seen,
    as a poller would: the documents it already has cost neither side a body to send and parse."""
    connection = Client(port)
    headers: dict[str, str] = {}
    while not stop.is_set():
        if not acknowledged:
            time.sleep(0.05)
            continue
        sequence, acknowledged_at = acknowledged[-1]
        while not stop.is_set():
            status, answer, etag = request(
                connection, "GET", f"{ROUND}/results", None, headers, with_etag=True
            )
            if status == 200:
                headers = {"If-None-Match": etag} if etag else {}
                if json.loads(answer)["sequence"] >= sequence:
                    timings.add(time.perf_counter() - acknowledged_at, True)
                    break
            time.sleep(PROBE_SECONDS)
        time.sleep(0.2)


def timed_get(connection: Client, path: str, etags: dict[str, str], timings: Timings) -> bytes | None:
    started = time.perf_counter()
    headers = {"If-None-Match": etags[path]} if path in etags else {}
    status, answer, etag = request(connection, "GET", path, None, headers, with_etag=True)
    timings.add(time.perf_counter() - started, status in (200, 304), status)
    if status == 200 and etag:
        etags[path] = etag
    return answer if status == 200 else None


def request(
    connection: Client,
    method: str,
    path: str,
    payload: str | None,
    headers: dict[str, str],
    *,
    with_etag: bool = False,
) -> tuple:
    """One request; a keep-alive connection the server closed meanwhile is reopened once, as any HTTP
    client does. Anything else that fails is status 0."""
    status, answer, etag = 0, b"", None
    for _attempt in range(2):
        try:
            status, answer, etag = connection.send(method, path, payload, headers)
            break
        except (OSError, ValueError):
            connection.close()
    return (status, answer, etag) if with_etag else (status, answer)


class Client:
    """A keep-alive HTTP/1.1 connection that reads of a response what the load needs: its status, its
    ETag and its body (by Content-Length, as the app and nginx answer). The load runs on the machine it
    measures, and http.client parses every response's headers with the email package: with it, the
    clerks, pollers and probes took 0.25–0.28 of the two cores; with this, 0.18 (four runs)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def send(
        self, method: str, path: str, payload: str | None, headers: dict[str, str]
    ) -> tuple[int, bytes, str | None]:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            self.buffer = b""
        body = payload.encode() if payload is not None else b""
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        pairs = (line.partition(":") for line in head[1:])
        fields = {name.strip().lower(): value.strip() for name, _, value in pairs}
        if "transfer-encoding" in fields:
            raise ValueError("a chunked answer: this client reads bodies by Content-Length only")
        answer = self._exactly(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, answer, fields.get("etag")

    def _until(self, end: bytes) -> bytes:
        while (found := self.buffer.find(end)) < 0:
            self._receive()
        head, self.buffer = self.buffer[:found], self.buffer[found + len(end) :]
        return head

    def _exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self._receive()
        body, self.buffer = self.buffer[:count], self.buffer[count:]
        return body

    def _receive(self) -> None:
        assert self.sock is not None
        received = self.sock.recv(262_144)
        if not received:
            raise ConnectionResetError("the server closed the connection")
        self.buffer += received

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""


def nodes_agree(engine) -> str:
    """The same sequence gives byte-identical payloads on both nodes (snapshots and the latest)."""
    current = documents.results_document(engine, ELECTION, 2)["sequence"]
    sequences = sorted({1, current // 2, current})
    for sequence in sequences:
        for path in (
            f"{ROUND}/snapshots/{sequence}/results",
            f"{ROUND}/snapshots/{sequence}/results/departement/75",
        ):
            if _get(PORTS[0], path) != _get(PORTS[1], path):
                return f"DIFFER at {path}"
    return f"identical ({len(sequences)} sequences × 2 documents)"


def _get(port: int, path: str) -> bytes:
    client = Client(port)
    try:
        return client.send("GET", path, None, {})[1]
    finally:
        client.close()


def report(results: dict[str, object]) -> None:
    print(
        "\nElection night on PostgreSQL: PR17_BVot_T2_FE (69,242 bureaux), "
        f"2 app nodes (gunicorn {WORKERS} × {READ_THREADS} each),"
    )
    if WRITE_WORKERS:
        print(f"each with a gunicorn of {WRITE_WORKERS} × {THREADS} for the writes,")
    pace = "sending the whole file" if ALL else f"at {RATE} returns/s for {SECONDS} s"
    print(f"{CLERKS} clerks {pace}, {POLLERS} pollers every 2 s with ETags.\n")
    print(f"{'':<34}{'count':>9}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for label, key in (
        ("writes (from scheduled time)", "writes"),
        ("reads (current, results, changes)", "reads"),
        ("freshness (commit → other node)", "freshness"),
        ("freshness (commit → nginx's file)", "published"),
    ):
        count, p50, p99, errors = results[key].summary()  # type: ignore[attr-defined]
        print(f"{label:<34}{count:>9,}{p50:>10.1f}{p99:>10.1f}{errors:>8}")
        if errors:
            print(f"{'':<34}errors by status (0: no answer): {dict(results[key].statuses)}")  # type: ignore[attr-defined]
    sent = len(results["writes"].seconds)  # type: ignore[attr-defined]
    print(
        f"\nreturns sent: {sent:,} of {results['scheduled']:,} scheduled; returns/s achieved: "
        f"{results['rate']:.1f} (target ≥ {GOAL_RATE}); freshness target p99 ≤ 1000 ms"
    )
    print(f"two nodes: {results['agree']}; verify: {results['verify']}")
    print_shares(results["cores"])  # type: ignore[arg-type]
    if results["capacity"]:
        report_capacity(results["capacity"])  # type: ignore[arg-type]
    errors = sum(results[key].errors for key in ("writes", "reads"))  # type: ignore[attr-defined]
    if ALL:
        elapsed, whole = float(results["elapsed"]), sent == results["scheduled"]  # type: ignore[arg-type]
        print(f"whole file: {sent:,} returns in {elapsed:.0f} s (target ≤ {WHOLE_FILE_SECONDS} s)")
        summary.record(
            "loadtest",
            f"the whole file through the API with {POLLERS} pollers",
            (f"{elapsed:.0f} s", f"{sent:,} returns", f"{errors} errors", f"≤ {WHOLE_FILE_SECONDS} s"),
            met=whole and elapsed <= WHOLE_FILE_SECONDS and not errors,
        )
    summary.record(
        "loadtest",
        f"returns/s with {POLLERS} pollers, 0 errors",
        (f"{results['rate']:.1f}/s", f"{RATE}/s scheduled", f"{errors} errors", f"≥ {GOAL_RATE}/s, 0 errors"),
        met=float(results["rate"]) >= GOAL_RATE and not errors,  # type: ignore[arg-type]
    )
    freshness = [("freshness", "freshness p99, other node")]
    if PUBLISHER:  # without it, nginx serves no new file: nothing to measure, nothing met
        freshness.append(("published", "freshness p99, nginx's file"))
    for key, goal in freshness:
        count, _, p99, _ = results[key].summary()  # type: ignore[attr-defined]
        measured = f"{p99:.0f} ms, {count} probes"
        summary.record("loadtest", goal, (measured, "", "", "≤ 1,000 ms"), met=count > 0 and p99 <= 1000)


def report_capacity(capacity: dict[str, float]) -> None:
    """The clerks' rate, each sending as soon as answered, with and without the pollers."""
    with_pollers, without = capacity["with pollers"], capacity["without pollers"]
    errors = int(capacity["with pollers errors"] + capacity["without pollers errors"])
    ratio = with_pollers / without if without else 0.0
    print(
        f"\nAfter the night, {CLERKS} clerks each sending as soon as answered, {CAPACITY_SECONDS} s each:"
        f"\n  with the {POLLERS} pollers {with_pollers:.1f} returns/s, without them {without:.1f}: "
        f"ratio {ratio:.2f} (aim ≥ {RATIO_AIM}); errors {errors}"
    )
    summary.record(
        "loadtest",
        f"write rate with {POLLERS} pollers / without",
        (f"{with_pollers:.1f}/s", f"{without:.1f}/s without", f"{ratio:.2f}", f"≥ {RATIO_AIM}"),
        met=ratio >= RATIO_AIM and not errors,
    )


if __name__ == "__main__":
    main()
