"""`tabulator replay`: a round's night from its election folder, sent to the store on a fast clock.

The files are read and checked whole before the clock starts; then each step of `tabulator.replay.steps`
is recorded when it is due, as the authority's clerks would have sent it, one transaction per step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from api import store
from tabulator.batch import CheckpointBatch, ReturnBatch
from tabulator.election_folder import read_election_folder
from tabulator.ingest import read_checkpoints_csv, read_returns_csv
from tabulator.replay import Event, Step, events, steps
from tabulator.rules import DEFAULT_THRESHOLDS, Thresholds


@dataclass
class Night:
    """A round's files, read, and the events to replay in order."""

    election: str
    round_number: int
    turnout: CheckpointBatch | None
    returns: ReturnBatch | None
    corrections: ReturnBatch | None
    ordered: list[Event] = field(default_factory=list)

    def batch(self, kind: str) -> CheckpointBatch | ReturnBatch:
        found = {"turnout": self.turnout, "returns": self.returns, "corrections": self.corrections}[kind]
        assert found is not None  # a step only names a kind that has events
        return found


def read_night(folder: Path, round_number: int, until: str | None = None) -> Night:
    """The round's turnout, returns and corrections from an election folder; with `until` ("20:30"), only
    what was reported by then, in the time zone the files give."""
    content = read_election_folder(folder)
    round_ = content.election.round(round_number)
    files = next(f for f in content.rounds if f.number == round_number)
    night = Night(
        content.election.id,
        round_number,
        read_checkpoints_csv(files.turnout) if files.turnout else None,
        read_returns_csv(files.returns, round_.candidate_ids) if files.returns else None,
        read_returns_csv(files.corrections, round_.candidate_ids, with_reason=True)
        if files.corrections
        else None,
    )
    night.ordered = events(night.turnout, night.returns, night.corrections)
    if until is not None and night.ordered:
        last = _clock_time(night.ordered[0].reported_at, until)
        night.ordered = [event for event in night.ordered if event.reported_at <= last]
    return night


def _clock_time(example: datetime, clock: str) -> datetime:
    hours, minutes = (int(part) for part in clock.split(":"))
    return example.replace(hour=hours, minute=minutes, second=0, microsecond=0)


def play(
    engine: Engine,
    night: Night,
    *,
    speed: float,
    longest_pause: timedelta = timedelta(minutes=1),
    tick: float = 0.5,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    sleep: Callable[[float], None] = time.sleep,
    on_step: Callable[[Step], None] = lambda step: None,
) -> int:
    """Record the night's steps as they come due; returns the round's sequence at the end."""
    started = time.monotonic()
    sequence = 0
    for step in steps(night.ordered, speed=speed, longest_pause=longest_pause, tick=tick):
        sleep(max(0.0, started + step.due - time.monotonic()))
        sequence = _record(engine, night, step, thresholds) or sequence
        on_step(step)
    return sequence


def _record(engine: Engine, night: Night, step: Step, thresholds: Thresholds) -> int | None:
    batch = night.batch(step.kind)
    if isinstance(batch, CheckpointBatch):
        report = store.record_checkpoints(
            engine, night.election, night.round_number, batch.select(step.rows), author="replay"
        )
    else:
        report = store.record_returns(
            engine,
            night.election,
            night.round_number,
            batch.select(step.rows),
            author="replay",
            thresholds=thresholds,
        )
    return report.sequence
