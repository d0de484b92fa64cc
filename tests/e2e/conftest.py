"""A real server: gunicorn running `api:create_app()` on a free port, against a real database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

GUNICORN = Path(sys.executable).with_name("gunicorn")


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def gunicorn(database_url: str, tmp_path: Path) -> Iterator[Server]:
    port = free_port()
    environment = {
        **os.environ,
        "TABULATOR_DATABASE_URL": database_url,
        "TABULATOR_INSTANCE_PATH": str(tmp_path),
    }
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [str(GUNICORN), "--bind", f"127.0.0.1:{port}", "--workers", "2", "api:create_app()"],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"gunicorn did not start: {(tmp_path / 'gunicorn.log').read_text()}")
            time.sleep(0.1)
    yield Server(url, process)
    process.terminate()
    process.wait(timeout=10)
    log.close()
