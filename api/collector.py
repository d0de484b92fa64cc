"""The garbage collector around a registry being built: how the processes that serve and import tune it.

A national registry is some 100,000 long-lived objects. Built with the collector running, each of its many
full collections walks the growing heap (most of the 1.5 s the first request of a worker took); kept in
the collected heap, every later full collection walks them again, pausing all the worker's threads for
70–120 ms. So: no collection while building, then one, and what is alive is frozen for good (`gc.freeze`):
a registry lives as long as its process. The store runs whatever guard its caches are given around a build
(`api.store.caches.StoreCaches.build_guard`); a gunicorn worker (deploy/gunicorn.conf.py) and the command
line (api/cli.py) give it this one.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from tabulator.collector import paused_collection


@contextmanager
def set_aside_what_is_built() -> Iterator[None]:
    with paused_collection():  # a registry built during an ingest leaves the ingest's pause as it was
        try:
            yield
        finally:
            gc.collect()
            gc.freeze()
