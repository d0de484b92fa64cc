"""A real server: gunicorn running `api:create_app()` on a free port, against a real database; and a real
browser, Debian's chromium driven by Playwright. Screenshots land in test-artifacts/ (ignored by git)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from playwright.sync_api import Browser, sync_playwright

from api.cli import main
from tests.ports import free_port

GUNICORN = Path(sys.executable).with_name("gunicorn")
ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "data" / "primaire-gauche-2017"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("TABULATOR_CHROMIUM", "/usr/bin/chromium")


@dataclass(frozen=True)
class Server:
    url: str
    process: subprocess.Popen[bytes]


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


@pytest.fixture
def service(gunicorn: Server, database_url: str) -> tuple[str, str]:
    """(base URL, database URL) of gunicorn serving the 2017 primary, round 1 loaded and round 2 empty."""
    loaded = CliRunner().invoke(
        main,
        ["load-election", str(FOLDER), "--rounds", "1"],
        env={"TABULATOR_DATABASE_URL": database_url},
    )
    assert loaded.exit_code == 0, loaded.output
    return gunicorn.url, database_url


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (the browser tests never skip).")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
