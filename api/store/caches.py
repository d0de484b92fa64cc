"""What the store remembers between transactions, kept by the engine it was read through.

Three things cost too much to read again on every request and never change under their key: an
election's registry (by election id and registry version), a round's candidates (by round id), and what a
département's stored returns teach the warnings (by round and area id, re-read after a few seconds). They
are keyed by database ids, so they belong to one database as one engine sees it: each engine gets its own
caches when it is made (`api.store.db.make_engine`), and a new engine starts with none. An entry put while
a write transaction is open is dropped if that transaction does not commit: the ids it was keyed by may be
given again to other rows (SQLite reuses a rolled-back row's id, and the store numbers areas itself).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeVar

from sqlalchemy import Engine, event

from tabulator.anomalies import AreaKnowledge
from tabulator.types import Candidate

if TYPE_CHECKING:
    from api.store.common import ElectionIndex

# In a pooled connection's `info`: the caches of the engine it belongs to, and the entries put by the
# write transaction open on it.
CACHES = "tabulator_store_caches"
UNCOMMITTED = "tabulator_uncommitted_entries"
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Connected(Protocol):
    """A SQLAlchemy Connection, or `api.store.sql.Raw`: what holds the pooled connection's `info`."""

    @property
    def info(self) -> dict[Any, Any]: ...


class RoundCandidates(NamedTuple):
    """A round's candidates in ballot order, with their database ids (written with the round, never
    changed)."""

    candidates: tuple[Candidate, ...]
    ids: tuple[int, ...]


class Learned(NamedTuple):
    """What an area's stored returns teach the warnings, and when (`time.monotonic()`) it was read."""

    at: float
    knowledge: AreaKnowledge


class StoreCaches:
    def __init__(self) -> None:
        self._indexes: dict[tuple[int, int], ElectionIndex] = {}
        self._candidates: dict[int, RoundCandidates] = {}
        self._knowledge: dict[tuple[int, int], Learned] = {}
        # What the documents layer keeps between requests (`api.documents`), by its own names: it checks
        # each entry against what it reads, so an entry is never wrong, only unused.
        self.documents: dict[str, Any] = {}
        # One thread builds a registry; the others wait for it. A national one takes a second or two of
        # CPU, and a worker's threads all asking at start-up would otherwise build it once each.
        self.building = threading.Lock()
        # Around each build: what the process wants of its garbage collector then (api/collector.py).
        self.build_guard: Callable[[], AbstractContextManager[None]] = nullcontext

    def index(self, election_id: int, registry_version: int) -> ElectionIndex | None:
        return self._indexes.get((election_id, registry_version))

    def keep_index(self, on: Connected, registry_version: int, index: ElectionIndex) -> None:
        _keep(on, self._indexes, (index.id, registry_version), index)

    def candidates(self, round_id: int) -> RoundCandidates | None:
        return self._candidates.get(round_id)

    def keep_candidates(self, on: Connected, round_id: int, candidates: RoundCandidates) -> None:
        _keep(on, self._candidates, round_id, candidates)

    def knowledge(self, round_id: int, area_id: int) -> Learned | None:
        return self._knowledge.get((round_id, area_id))

    def keep_knowledge(self, on: Connected, round_id: int, area_id: int, learned: Learned) -> None:
        _keep(on, self._knowledge, (round_id, area_id), learned)


def _keep(on: Connected, cache: dict[K, V], key: K, value: V) -> None:
    cache[key] = value
    uncommitted: list[tuple[dict[Any, Any], Hashable]] | None = on.info.get(UNCOMMITTED)
    if uncommitted is not None:
        uncommitted.append((cache, key))


_of_engine: weakref.WeakKeyDictionary[Engine, StoreCaches] = weakref.WeakKeyDictionary()


def attach_caches(engine: Engine) -> StoreCaches:
    """Give a new engine its empty caches, reachable from the engine and from each of its connections."""
    caches = _of_engine[engine] = StoreCaches()

    @event.listens_for(engine, "connect")
    def reachable(_dbapi_connection: Any, record: Any) -> None:
        record.info[CACHES] = caches

    return caches


def engine_caches(engine: Engine) -> StoreCaches:
    return _of_engine[engine]


def connection_caches(on: Connected) -> StoreCaches:
    """The caches of the engine a connection (or a `Raw` around it) was taken from."""
    caches: StoreCaches = on.info[CACHES]
    return caches


@contextmanager
def kept_if_committed(on: Connected) -> Iterator[None]:
    """Around a write transaction (begun and committed inside): what it puts in the caches is dropped
    again unless it commits."""
    info = on.info  # the pooled connection's own, reachable even once a failure has invalidated `on`
    uncommitted: list[tuple[dict[Any, Any], Hashable]] = []
    info[UNCOMMITTED] = uncommitted
    try:
        yield
    except BaseException:
        for cache, key in uncommitted:
            cache.pop(key, None)
        raise
    finally:
        info.pop(UNCOMMITTED, None)
