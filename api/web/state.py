"""What one app (one worker) holds beside its routes: its settings, its engine and the caches of its reads."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from flask import Flask, current_app
from sqlalchemy import Engine

from api.settings import Settings
from api.web.change_tail import ChangeTails
from api.web.feed_rows import FeedRows
from api.web.http import CURRENT, DocumentCache
from api.web.projections import Projections
from api.web.round_changes import RoundChanges

EXTENSION = "tabulator"  # the key of the app's state in `app.extensions`
RoundKey = tuple[str, int]  # (election code, round number)
# A round's embargo as this worker last read it: (trusted until, by time.monotonic(); results_not_before).
Embargoes = dict[RoundKey, tuple[float, datetime | None]]


def round_key(election: str, number: int) -> RoundKey:
    return (election, number)


class Head(NamedTuple):
    """A round's latest sequence and its publication time, as read at `checked_at` (time.monotonic())."""

    checked_at: float
    sequence: int
    published_at: datetime | None


class RoundHeads:
    """Each round's latest sequence as this worker last read it, trusted for `trusted_for` seconds
    (`head_cache_seconds`): a cached document or a 304 then costs no database round trip. Read by the
    Flask views (api.web.public) and ahead of them (api.web.fastpath)."""

    def __init__(self, trusted_for: float) -> None:
        self.trusted_for = trusted_for
        self._heads: dict[RoundKey, Head] = {}

    def trusted(self, election: str, number: int) -> Head | None:
        """The round's head if it was read less than `trusted_for` seconds ago."""
        head = self._heads.get(round_key(election, number))
        if head is None or time.monotonic() - head.checked_at >= self.trusted_for:
            return None
        return head

    def put(self, election: str, number: int, sequence: int, published_at: datetime | None) -> Head:
        """The head just read from the database."""
        head = self._heads[round_key(election, number)] = Head(time.monotonic(), sequence, published_at)
        return head

    def clear(self) -> None:
        self._heads.clear()


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    documents: DocumentCache  # rendered documents by round and sequence
    feed_rows: FeedRows  # the level feeds' rows, kept while their sums stay
    heads: RoundHeads
    embargoes: Embargoes
    round_changes: RoundChanges  # empties `heads` and `embargoes` when another worker changes a round
    change_tails: ChangeTails
    projections: Projections  # the projection's fitted model per round and sequence
    cache_control: str  # of a document of the latest sequence

    @classmethod
    def of(cls, settings: Settings, engine: Engine) -> AppState:
        heads, embargoes = RoundHeads(settings.head_cache_seconds), Embargoes()
        return cls(
            settings=settings,
            engine=engine,
            documents=DocumentCache(),
            feed_rows=FeedRows(),
            heads=heads,
            embargoes=embargoes,
            round_changes=RoundChanges(settings.instance_path, [heads, embargoes]),
            change_tails=ChangeTails(),
            projections=Projections(),
            cache_control=CURRENT.format(seconds=settings.cache_max_age),
        )


def state_of(app: Flask) -> AppState:
    state = app.extensions[EXTENSION]
    assert isinstance(state, AppState), "the app was not made by api.app.create_app"
    return state


def app_state() -> AppState:
    """The state of the app handling the current request."""
    return state_of(current_app)
