"""Ports for the servers the tests start (gunicorn, nginx, a private PostgreSQL)."""

from __future__ import annotations

import random
import socket

# Below Linux's ephemeral range (32768-60999): a port the kernel hands out for `bind(0)` is also the next
# one it may give a client's connection, and the other test process opens hundreds (a gunicorn then found
# its port taken between the choice and its bind).
SERVER_PORTS = range(20_000, 32_000)
_CHOOSER = random.SystemRandom()  # never the seeded generator a test (hypothesis) may have set


def free_port() -> int:
    """A port nothing listens on, outside the ephemeral range, at random (the two test processes choose
    apart)."""
    while True:
        port = _CHOOSER.choice(SERVER_PORTS)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
