"""Hostile uploads against gunicorn with the shipped config (issue 12, findings 2, 3 and 10): the files of the
findings are refused with their rule, quickly, by a worker that stays small and keeps answering; an
oversized chunked upload is a 413, audited; a request that runs past the timeout ends its worker.

Times are never asserted: the client waits at most CLIENT_TIMEOUT, generous beside the seconds these
files took before (28 s for the gzip, no answer in 120 s for the wide header)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Flask

from api import create_app
from api.store import accounts, db
from tests import hostile_files
from tests.conftest import table_contents
from tests.e2e.conftest import GUNICORN, ROOT
from tests.ports import free_port

CONFIG = ROOT / "deploy" / "gunicorn.conf.py"
ELECTION = "primaire-gauche-2017"
UPLOADS = f"/api/v1/elections/{ELECTION}/rounds/2/uploads"
CLIENT_TIMEOUT = 30
MEMORY_CEILING_MB = 400
UPLOAD_LIMIT = 32 * 1024 * 1024  # Settings.max_upload_bytes: the shipped default
BOUNDARY = "hostile-upload-boundary"


@pytest.fixture(autouse=True)
def shipped_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """The e2e fixtures start gunicorn bare (sync workers); these tests need the shipped gthread workers
    and their hooks. gunicorn reads GUNICORN_CMD_ARGS; --bind and --workers on its command line still win."""
    monkeypatch.setenv("GUNICORN_CMD_ARGS", f"--config {CONFIG}")


def multipart(filename: str, data: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def post_file(url: str, token: str, filename: str, data: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{url}{UPLOADS}",
        data=multipart(filename, data),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=CLIENT_TIMEOUT) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def healthy(url: str) -> bool:
    with urllib.request.urlopen(f"{url}/healthz", timeout=CLIENT_TIMEOUT) as answer:
        return answer.status == 200 and json.loads(answer.read()) == {"status": "ok"}


def workers(master: int) -> list[int]:
    return [int(pid) for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()]


def memory_mb(pid: int) -> dict[str, int]:
    """The worker's resident memory now (VmRSS) and at its highest (VmHWM), in MB."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
    return {key: int(status[key].split()[0]) // 1024 for key in ("VmRSS", "VmHWM")}


def all_but_audit(engine) -> dict:
    """Every table but the audit's: each attempt adds its row, and the chain is sealed beside the writes."""
    return {name: rows for name, rows in table_contents(engine).items() if not name.startswith("audit")}


def audited(engine) -> list[tuple]:
    return [
        (row["actor"], row["method"], row["path"], row["status"], row["outcome"], row["sent"])
        for row in accounts.audit_rows(engine)
    ]


def refusal(code: str, message: str, **place: int) -> dict:
    return {"errors": [{"code": code, "message": message, "severity": "error", **place}]}


def file_sent(filename: str, data: bytes) -> str:
    return f"{filename}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}"


HOSTILE = [
    (
        "returns.csv.gz",  # 1 MB that inflates to 1 GiB
        hostile_files.gzip_bomb,
        refusal(
            "too_large_uncompressed",
            "The file holds more than 67,108,864 bytes uncompressed, the most a file may hold. Split it into "
            "smaller files.",
        ),
    ),
    (
        "returns.xlsx",  # 2 MB whose string table inflates to 2 GiB
        hostile_files.xlsx_bomb,
        refusal(
            "too_large_uncompressed",
            "The workbook holds 2,147,485,386 bytes uncompressed; a file may hold 67,108,864 bytes at most. "
            "Split it into smaller files.",
        ),
    ),
    (
        "sparse.xlsx",  # 14 KB, one value in XFD2 and a sheet that says it spans A1:XFD1048576
        hostile_files.sparse_xlsx,
        refusal(
            "too_many_columns",
            "Line 2, column 16,384: a file may have 161 columns at most. Remove the columns past the last "
            "candidate.",
            line=2,
            column=16_384,
        ),
    ),
    (
        "wide.csv",  # 200,000 columns: 1.6 MB of header
        hostile_files.wide_header,
        refusal(
            "too_many_columns",
            "Line 1, column 162: the header has 200,000 columns; a file may have 161 columns at most. Remove "
            "the columns past the last candidate.",
            line=1,
            column=162,
        ),
    ),
]


def test_hostile_files_are_refused_by_their_rule_and_the_workers_stay_small(service, gunicorn, database_url):
    url, _ = service
    engine = db.make_engine(database_url)
    token = accounts.create_token(engine, "clerk one", "clerk", ELECTION)[1]
    before = all_but_audit(engine)
    sent = []
    for filename, build, expected in HOSTILE:
        data = build()
        assert post_file(url, token, filename, data) == (422, expected), filename
        assert healthy(url), filename
        sent.append(
            ("clerk one", "POST", UPLOADS, 422, expected["errors"][0]["code"], file_sent(filename, data))
        )
    for pid in workers(gunicorn.process.pid):
        used = memory_mb(pid)
        assert used["VmRSS"] < MEMORY_CEILING_MB, (pid, used)
        assert used["VmHWM"] < MEMORY_CEILING_MB, (pid, used)  # at its highest too, not only after
    assert all_but_audit(engine) == before
    assert audited(engine) == sent
    engine.dispose()


def post_large(url: str, token: str, data: bytes, *, chunked: bool) -> tuple[int, dict]:
    """An upload sent over a raw socket, with a Content-Length or chunked (then without one). The server
    answers a body too large before it is all sent, and closes: the answer is read while a thread sends,
    as curl does, since a client that only reads after sending meets a broken pipe."""
    address = urlsplit(url)
    body = multipart("returns.csv", data)
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    head = (
        f"POST {UPLOADS} HTTP/1.1\r\nHost: {address.netloc}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{length}\r\n\r\n"
    ).encode()
    pieces = [body[start : start + 1024 * 1024] for start in range(0, len(body), 1024 * 1024)]
    if chunked:
        pieces = [b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces] + [b"0\r\n\r\n"]
    with socket.create_connection((address.hostname, address.port), timeout=CLIENT_TIMEOUT) as connection:

        def send() -> None:
            try:
                connection.sendall(head)
                for piece in pieces:
                    connection.sendall(piece)
            except OSError:
                pass  # the server has answered and closed: what it said is read below

        sender = threading.Thread(target=send)
        sender.start()
        answer = http.client.HTTPResponse(connection)
        answer.begin()
        document = json.loads(answer.read())
        sender.join()
    return answer.status, document


def test_an_oversized_chunked_upload_is_a_413_audited_like_one_with_a_length(service, gunicorn, database_url):
    url, _ = service
    engine = db.make_engine(database_url)
    token = accounts.create_token(engine, "clerk one", "clerk", ELECTION)[1]
    before = all_but_audit(engine)
    size = 40 * 1024 * 1024
    too_large = refusal(
        "too_large", f"The request is larger than the {UPLOAD_LIMIT:,} bytes this service accepts."
    )
    del too_large["errors"][0]["severity"]  # the API's envelope for HTTP errors has no severity

    assert post_large(url, token, b"0" * size, chunked=True) == (413, too_large)
    assert post_large(url, token, b"0" * size, chunked=False) == (413, too_large)

    assert healthy(url)
    with_length = len(multipart("returns.csv", b"0" * size))
    assert audited(engine) == [
        (
            "clerk one",
            "POST",
            UPLOADS,
            413,
            "too_large",
            f"a chunked body over the {UPLOAD_LIMIT:,}-byte limit: read up to the limit, not kept",
        ),
        (
            "clerk one",
            "POST",
            UPLOADS,
            413,
            "too_large",
            f"{with_length:,} bytes, over the {UPLOAD_LIMIT:,}-byte limit: not read",
        ),
    ]
    assert all_but_audit(engine) == before
    engine.dispose()


def spinning_app() -> Flask:
    """The app with one more route, which burns CPU for a minute: what a request stuck in a loop does."""
    app = create_app()

    @app.get("/spin")
    def spin() -> str:
        until = time.monotonic() + 60
        while time.monotonic() < until:
            pass
        return "spun"

    return app


@pytest.fixture
def spinning(sqlite_template: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """gunicorn, shipped config, one worker, a 3-second timeout, serving `spinning_app` (on SQLite only: what
    is tested is the worker, not the database)."""
    database = tmp_path / "tabulator.sqlite3"
    shutil.copy(sqlite_template, database)
    port = free_port()
    log = tmp_path / "gunicorn.log"
    process = subprocess.Popen(
        [
            str(GUNICORN),
            *("--bind", f"127.0.0.1:{port}", "--workers", "1", "--timeout", "3"),
            "tests.e2e.test_hostile_uploads:spinning_app()",
        ],
        env={
            **os.environ,
            "TABULATOR_DATABASE_URL": f"sqlite:///{database}",
            "TABULATOR_INSTANCE_PATH": str(tmp_path),
        },
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if healthy(url):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"gunicorn did not start: {log.read_text()}")
            time.sleep(0.1)
    yield url, process, log
    process.terminate()
    process.wait(timeout=10)


def test_a_request_running_past_the_timeout_ends_its_worker(spinning):
    url, master, log = spinning
    [stuck] = workers(master.pid)
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=CLIENT_TIMEOUT)
    connection.request("GET", "/spin")
    # gthread alone would spin the full minute (the client would time out) and burn on after "Worker exiting".
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        connection.getresponse()
    connection.close()
    deadline = time.monotonic() + CLIENT_TIMEOUT
    while Path(f"/proc/{stuck}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{stuck}").exists()  # ended, not left burning CPU
    assert healthy(url)  # a new worker serves
    assert workers(master.pid) != [stuck]
    text = log.read_text()
    assert f"GET /spin ran past 3 s: ending worker {stuck}" in text
    assert f"worker {stuck} aborted: ended now, without waiting for its request threads" in text
