"""Ports for the servers the tests start (gunicorn, nginx, a private PostgreSQL)."""

from __future__ import annotations

import os
import random
import socket

# Below Linux's ephemeral range (32768-60999): a port the kernel hands out for `bind(0)` is also the next
# one it may give a client's connection, and the other test process opens hundreds (a gunicorn then found
# its port taken between the choice and its bind).
SERVER_PORTS = range(20_000, 32_000)
_CHOOSER = random.SystemRandom()  # never the seeded generator a test (hypothesis) may have set
_HANDED_OUT: set[int] = set()


def _this_workers_ports() -> range:
    """Every xdist worker its own ports: two workers that chose at random from one range once picked the
    same port within a second, and the second gunicorn could not bind."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return SERVER_PORTS[int(worker.removeprefix("gw")) :: workers]


def free_port() -> int:
    """A port nothing listens on, outside the ephemeral range, never handed out before in this process (a
    fixture asks for four before starting any server: a probe alone would not keep it from getting one
    twice)."""
    ports = _this_workers_ports()
    while True:
        port = _CHOOSER.choice(ports)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
