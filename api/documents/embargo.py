"""The embargo: no result of a round is published before its `results_not_before` (the last polls close).

Decided here, on the store's rule (`RoundInfo.embargoed`), for every way results leave the service: the
API's documents and the change feed (`api.web.public`), the results pages (`api.web.pages`), the round's
`sequence` (`api.documents.feeds`) and the static files (`api.static_publication`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from api.store.common import RoundInfo


@dataclass(frozen=True)
class Embargo:
    until: datetime
    seconds_left: int  # rounded up: a client that waits this long finds it lifted


class Embargoed(Exception):
    """Results asked for before the round's `results_not_before`: 403 with Retry-After."""

    def __init__(self, number: int, embargo: Embargo) -> None:
        super().__init__(
            f"Results of round {number} are embargoed until {embargo.until.isoformat()}: no result may be "
            "published before the last polls close."
        )
        self.until = embargo.until
        self.seconds = embargo.seconds_left


def embargo_until(results_not_before: datetime | None, moment: datetime) -> Embargo | None:
    """The embargo of a round whose results may come from `results_not_before`, if it holds at `moment`."""
    if results_not_before is None or not RoundInfo.withholds(results_not_before, moment):
        return None
    return Embargo(results_not_before, int((results_not_before - moment).total_seconds()) + 1)


def embargo_of(round_: RoundInfo, moment: datetime) -> Embargo | None:
    """The round's embargo if it holds at `moment`, else None."""
    return embargo_until(round_.results_not_before, moment)


def refuse_during_embargo(number: int, results_not_before: datetime | None, moment: datetime) -> None:
    """Raise `Embargoed` while the embargo of round `number` holds at `moment`."""
    embargo = embargo_until(results_not_before, moment)
    if embargo is not None:
        raise Embargoed(number, embargo)
