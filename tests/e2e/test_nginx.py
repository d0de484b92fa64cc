"""The shipped nginx (deploy/nginx.conf) as written, in front of gunicorn with deploy/gunicorn.conf.py:
TLS with the local certificate of deploy/make-local-cert, HTTP sent to HTTPS, HSTS, and the client's address
in the audit, and each request sent to the gunicorn for its method. Only what a test machine cannot have is
replaced: the upstream hosts (`app` and `writes` in compose), the ports, the folders. nginx is Debian's
(`.ci/run` installs it); the tests fail, never skip, without it."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from api import static_publication, store
from api.store import accounts
from tabulator.batch import ReturnBatch
from tests.builders import SAMPLE, build_return
from tests.e2e.conftest import GUNICORN
from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
ROUND = "/api/v1/elections/mini-primaire/rounds/2"
HSTS = "max-age=31536000"
HEADERS = ("strict-transport-security", "x-content-type-options", "content-type")


def nginx() -> str:
    if not Path(NGINX).exists():
        pytest.fail("nginx is missing: apt-get install nginx-light (.ci/run installs it; never skipped).")
    return NGINX


def local_certificate(folder: Path) -> Path:
    """deploy/make-local-cert, run as the README's reader would: a certificate and key for localhost."""
    made = subprocess.run(
        [str(ROOT / "deploy" / "make-local-cert"), str(folder)], capture_output=True, text=True, check=False
    )
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["tabulator.crt", "tabulator.key"]
    assert (folder / "tabulator.key").stat().st_mode & 0o077 == 0  # the key is its owner's alone
    return folder


def shipped_config(tmp_path: Path, replacements: dict[str, str]) -> Path:
    text = CONFIG.read_text()
    upstreams = {
        "server app:8000;": replacements.pop("upstream"),
        "server writes:8000;": replacements.pop("writes"),
    }
    for old, new in {**upstreams, **replacements}.items():
        assert old in text, f"{old!r} is no longer in deploy/nginx.conf"
        text = text.replace(old, new)
    path = tmp_path / "nginx.conf"
    path.write_text(text)
    return path


def test_the_shipped_config_is_valid_nginx(tmp_path):
    tls = local_certificate(tmp_path / "tls")
    config = shipped_config(
        tmp_path,
        {
            "upstream": "server 127.0.0.1:8000;",
            "writes": "server 127.0.0.1:8001;",
            "/etc/nginx/tls/": f"{tls}/",
        },
    )
    checked = subprocess.run(
        [
            nginx(),
            "-t",
            "-c",
            str(config),
            "-e",
            str(tmp_path / "error.log"),
            "-g",
            f"pid {tmp_path}/nginx.pid;",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


class Front(NamedTuple):
    http_port: int
    https_port: int
    certificate: Path  # to trust
    static: Path  # the static publication's folder
    logs: dict[str, Path]  # each gunicorn's ("app" for the reads, "writes"), with its access log


@pytest.fixture
def behind_nginx(database_url: str, tmp_path: Path) -> Iterator[Front]:
    """The two gunicorns of compose.yaml (deploy/gunicorn.conf.py, TABULATOR_TRUSTED_PROXIES=1), the app for
    the reads and the writes' own, behind the shipped nginx."""
    app_port, writes_port, http_port, https_port = free_port(), free_port(), free_port(), free_port()
    static = tmp_path / "static"
    static.mkdir()
    tls = local_certificate(tmp_path / "tls")
    config = shipped_config(
        tmp_path,
        {
            "upstream": f"server 127.0.0.1:{app_port};",
            "writes": f"server 127.0.0.1:{writes_port};",
            "/etc/nginx/tls/": f"{tls}/",
            "listen 80;": f"listen 127.0.0.1:{http_port};",
            "listen 443 ssl;": f"listen 127.0.0.1:{https_port} ssl;",
            "root /srv/static;": f"root {static};",
            # nginx's own files in the test's folder, not in /var
            "http {": "http {\n"
            + "".join(f"{kind}_temp_path {tmp_path}/{kind};\n" for kind in ("client_body", "proxy")),
        },
    )
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "TABULATOR_DATABASE_URL": database_url,
        "TABULATOR_INSTANCE_PATH": str(tmp_path),
        "TABULATOR_STATIC_FOLDER": str(static),
        "TABULATOR_WORKERS": "1",
        "TABULATOR_THREADS": "4",
        "TABULATOR_TRUSTED_PROXIES": "1",
        "TABULATOR_ACCESS_LOG": "-",
    }
    front_binary = nginx()  # before gunicorn starts: a failure here must not leave it running
    logs = {name: tmp_path / f"gunicorn-{name}.log" for name in ("app", "writes")}
    outputs = {name: path.open("wb") for name, path in logs.items()}
    ports = {"app": app_port, "writes": writes_port}
    apps = {
        name: subprocess.Popen(
            [str(GUNICORN), "--config", str(ROOT / "deploy" / "gunicorn.conf.py"), "api:create_app()"],
            env={**environment, "TABULATOR_BIND": f"127.0.0.1:{ports[name]}"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        for name, output in outputs.items()
    }
    # `user root`: the workers read the test's private folders (the image's nginx runs them as nginx).
    nginx_log = (tmp_path / "nginx.log").open("wb")
    front = subprocess.Popen(
        [
            front_binary,
            "-c",
            str(config),
            "-e",
            str(tmp_path / "error.log"),
            "-g",
            f"daemon off; user root; pid {tmp_path}/nginx.pid;",
        ],
        stdout=nginx_log,
        stderr=subprocess.STDOUT,
    )
    try:
        for name, app in apps.items():
            _wait(f"http://127.0.0.1:{ports[name]}/healthz", app, logs[name])
        for port in (http_port, https_port):
            _listening(port, front, tmp_path / "error.log")
        yield Front(http_port, https_port, tls / "tabulator.crt", static, logs)
    finally:
        front.terminate()
        for app in apps.values():
            app.terminate()
        front.wait(timeout=10)
        for app, output in zip(apps.values(), outputs.values(), strict=True):
            app.wait(timeout=15)
            output.close()
        nginx_log.close()


def _served(log: Path, expected_method: str) -> list[str]:
    """The requests in a gunicorn's access log, but its health checks, once one of `expected_method` is
    there (gunicorn writes the line just after the answer, which the client may read first)."""
    deadline = time.monotonic() + 5
    while True:
        served = [
            f"{method} {path}"
            for method, path in re.findall(r'"([A-Z]+) (\S+) HTTP/[0-9.]+"', log.read_text())
            if path != "/healthz"
        ]
        if any(line.startswith(expected_method) for line in served) or time.monotonic() > deadline:
            return served
        time.sleep(0.05)


def _wait(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)


def _listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while True:
        assert process.poll() is None, log.read_text()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)


def request(
    port: int,
    method: str,
    path: str,
    *,
    tls: Path | None = None,
    source: str = "127.0.0.1",
    body: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request from `source` (any 127.x address is this machine), checking the certificate if `tls`."""
    if tls is None:
        connection: http.client.HTTPConnection = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=10, source_address=(source, 0)
        )
    else:
        context = ssl.create_default_context(cafile=str(tls))  # the self-signed certificate, and only it
        connection = http.client.HTTPSConnection(
            "localhost", port, timeout=10, context=context, source_address=(source, 0)
        )
    connection.request(method, path, body=body, headers=headers or {})
    answer = connection.getresponse()
    result = answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    connection.close()
    return result


@pytest.mark.usefixtures("sample_election")
def test_https_only_with_hsts_and_the_clients_own_address_in_the_audit(behind_nginx, engine):
    http_port, https_port, certificate, static, logs = behind_nginx
    batch = ReturnBatch.of([build_return("13-01-0001", votes={"hamon": 40, "valls": 60})], ("hamon", "valls"))
    store.record_returns(engine, SAMPLE.id, 2, batch, author="clerk")
    assert static_publication.publish(engine, SAMPLE.id, 2, static) == 1
    token = accounts.create_token(engine, "clerk one", "clerk")[1]
    body = {"voters": 412, "blank": 3, "null": 2, "valid": 407, "votes": {"hamon": 250, "valls": 157}}

    plain = request(http_port, "GET", f"{ROUND}/results")
    published = request(https_port, "GET", f"{ROUND}/results", tls=certificate)
    from_app = request(https_port, "GET", f"{ROUND}/snapshots/1/results", tls=certificate)
    written = request(
        https_port,
        "PUT",
        f"{ROUND}/bureaux/75-01-0001/return",
        tls=certificate,
        source="127.0.0.2",  # the client, distinct from nginx's own 127.0.0.1
        body=json.dumps(body),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "X-Forwarded-For": "203.0.113.66",  # a lie nginx must not pass on
        },
    )

    assert (plain[0], plain[1]["location"]) == (301, f"https://127.0.0.1{ROUND}/results")
    # The static file nginx serves itself, and an answer of the app through nginx: both HTTPS-only, nosniff.
    file = static / ROUND.lstrip("/") / "results" / "index.json"
    assert published[:1] + tuple(published[1][h] for h in HEADERS) + published[2:] == (
        200,
        HSTS,
        "nosniff",
        "application/json",
        file.read_bytes(),
    )
    assert from_app[:1] + tuple(from_app[1][h].split(";")[0] for h in HEADERS) == (
        200,
        HSTS,
        "nosniff",
        "application/json",
    )
    assert json.loads(from_app[2])["results"]["voters"] == 100
    assert written[0] == 201, written[2]
    # nginx put the client's own address in X-Forwarded-For; the app believed nginx, and only nginx.
    assert [(row["actor"], row["remote_addr"], row["status"]) for row in accounts.audit_rows(engine)] == [
        ("clerk one", "127.0.0.2", 201)
    ]
    # nginx sent the write to the writes' gunicorn, the read to the app's (the static file to neither).
    assert _served(logs["writes"], "PUT") == [f"PUT {ROUND}/bureaux/75-01-0001/return"]
    assert _served(logs["app"], "GET") == [f"GET {ROUND}/snapshots/1/results"]


@pytest.mark.usefixtures("sample_election")
def test_csv_forms_pass_the_published_json_files_by(behind_nginx, engine):
    """A published document is a JSON file nginx serves itself; its CSV form, by `.csv` or by
    `Accept: text/csv`, only the app writes: nginx sends those on, and says its files vary with Accept."""
    _, https_port, certificate, static, _ = behind_nginx
    batch = ReturnBatch.of([build_return("13-01-0001", votes={"hamon": 40, "valls": 60})], ("hamon", "valls"))
    store.record_returns(engine, SAMPLE.id, 2, batch, author="clerk")
    assert static_publication.publish(engine, SAMPLE.id, 2, static) == 1
    path = f"{ROUND}/results/departement/13"

    def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
        return request(https_port, "GET", url, tls=certificate, headers=headers)

    file = get(path)
    by_suffix = get(f"{path}.csv")
    by_accept = get(path, Accept="text/csv")
    # A département has feeds of the levels below it beside its results: a folder, and its index.json; an
    # area's or a bureau's folders are named after its code's first three and four characters. The files are
    # nginx's own answers (its strong ETag of a file), never the app's (a weak one, the sequence).
    rounds = static / ROUND.lstrip("/")
    assert (file[0], file[1]["vary"], file[1]["etag"][0], file[2]) == (
        200,
        "Accept, Accept-Encoding",
        '"',
        (rounds / "results" / "departement" / "13" / "13" / "13" / "index.json").read_bytes(),
    )
    files = {
        "results/circonscription": "results/circonscription/index.json",
        "results/departement/13/circonscription": "results/departement/13/13/13/circonscription",
        "results/circonscription/13-01": "results/circonscription/13-/13-0/13-01",
        "results/bureau/13-01-0001": "results/bureau/13-/13-0/13-01-0001",
    }
    assert [(get(f"{ROUND}/{url}")[0], get(f"{ROUND}/{url}")[1]["etag"][0]) for url in files] == [
        (200, '"')
    ] * len(files)
    assert [get(f"{ROUND}/{url}")[2] for url in files] == [(rounds / f).read_bytes() for f in files.values()]
    # A bureau's file has no .gz beside it: nginx compresses it as it sends it.
    bureau_file = rounds / files["results/bureau/13-01-0001"]
    compressed = get(f"{ROUND}/results/bureau/13-01-0001", **{"Accept-Encoding": "gzip"})
    assert (len(bureau_file.read_bytes()) >= 1024, bureau_file.with_name("13-01-0001.gz").exists()) == (
        True,
        False,
    )
    assert (compressed[1]["content-encoding"], gzip.decompress(compressed[2])) == (
        "gzip",
        bureau_file.read_bytes(),
    )
    for answer in (by_suffix, by_accept):
        assert (answer[0], answer[1]["content-type"], answer[1]["etag"]) == (
            200,
            "text/csv; charset=utf-8",
            'W/"1-csv"',
        )
    assert by_accept[2] == by_suffix[2]
    assert (
        by_suffix[2]
        .splitlines()[1]
        .startswith(b"departement,13,Bouches-du-Rh\xc3\xb4ne,1,3,100,40,40.0,60,60.0,valls,1,")
    )
