"""The projection's fitted model, kept by the worker per round and sequence: every area's estimate of a
sequence (the nation, 13 régions, 100 départements, any circonscription) comes from one fit, which reads
every bureau of the round (a tenth of a second and a whole read on the presidential round).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from api import documents
from api.store.results import View
from tabulator.projection import Projection

KEPT = 8  # (round, sequence) pairs: the latest of a few rounds, and a few snapshots
POINTS_KEPT = 1_000  # the nation's estimate at a publication: the evening's band, ~21 points a round


class Projections:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fitted: OrderedDict[tuple[int, int], Projection | None] = OrderedDict()
        self._fitting: dict[tuple[int, int], threading.Lock] = {}
        self._points: OrderedDict[tuple[int, int], dict[str, Any] | None] = OrderedDict()

    def of(self, view: View) -> Projection | None:
        """The model of the view's round as of its sequence: fitted once, then kept. The threads that ask
        for it while it is being fitted wait for that fit (a new sequence brings requests for a hundred
        areas at once), not fit it again."""
        key = (view.round_.id, view.publication.sequence)
        with self._lock:
            if key in self._fitted:
                self._fitted.move_to_end(key)
                return self._fitted[key]
            fitting = self._fitting.setdefault(key, threading.Lock())
        with fitting:
            with self._lock:
                if key in self._fitted:
                    return self._fitted[key]
            fitted = documents.projection_model(view)
            with self._lock:
                self._fitted[key] = fitted
                self._fitting.pop(key, None)
                while len(self._fitted) > KEPT:
                    self._fitted.popitem(last=False)
        return fitted

    def national(self, view: View, sequence: int) -> dict[str, Any] | None:
        """The nation's estimate as of one of the view's publications, kept: the evening's band gains a point
        per 5 % of bureaux counted, and the earlier points never change. A past publication's model is
        fitted for its point alone, not kept (it would push the latest out of `of`'s few)."""
        key = (view.round_.id, sequence)
        with self._lock:
            if key in self._points:
                self._points.move_to_end(key)
                return self._points[key]
        latest = sequence == view.publication.sequence
        point = documents.national_projection(
            view, sequence, model=self.of if latest else documents.projection_model
        )
        with self._lock:
            self._points[key] = point
            while len(self._points) > POINTS_KEPT:
                self._points.popitem(last=False)
        return point
