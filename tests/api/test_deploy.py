"""The image's setup, proven on this machine (no Docker engine here): the Dockerfile's own CMD and
HEALTHCHECK, run as written, serve the app with deploy/gunicorn.conf.py on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instruction(name: str) -> list[str]:
    """The exec form (a JSON list) of the Dockerfile's CMD, or of the command of its HEALTHCHECK."""
    joined = DOCKERFILE.replace("\\\n", " ")
    line = next(line for line in joined.splitlines() if line.startswith(name))
    return json.loads(re.search(r"CMD\s+(\[.*\])", line).group(1))


def test_the_image_command_serves_the_app_with_its_config(database_url, tmp_path):
    port = free_port()
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "TABULATOR_DATABASE_URL": database_url,
        "TABULATOR_INSTANCE_PATH": str(tmp_path),
        "TABULATOR_BIND": f"127.0.0.1:{port}",
        "TABULATOR_WORKERS": "2",
        "TABULATOR_THREADS": "4",
    }
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        instruction("CMD"), cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        health = _wait(f"http://127.0.0.1:{port}/healthz", server, tmp_path / "server.log")
        assert health == {"status": "ok"}
        docs = urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/docs", timeout=5)
        assert docs.status == 200
        probe = instruction("HEALTHCHECK").copy()
        probe[0] = sys.executable
        probe[-1] = probe[-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        assert subprocess.run(probe, check=False, timeout=10).returncode == 0
        # deploy/start execs gunicorn: the process the CMD started is gunicorn's master, with its workers.
        workers = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        assert len(workers) == 2
    finally:
        server.terminate()
        server.wait(timeout=15)
    text = (tmp_path / "server.log").read_text()
    assert "Database ready" in text and "Using worker: gthread" in text


def _wait(url: str, server: subprocess.Popen[bytes], log: Path) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                return json.load(answer)
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within 30 s: {log.read_text()}")
