"""The replay clock: fast, with quiet stretches cut, events grouped per tick and per kind."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tabulator.batch import CheckpointBatch, ReturnBatch
from tabulator.replay import Event, events, schedule, steps
from tabulator.types import Checkpoint, Return


def at(clock: str) -> datetime:
    return datetime.fromisoformat(f"2017-01-29T{clock}+01:00")


def test_the_clock_runs_faster_and_cuts_quiet_stretches():
    moments = [at("12:00:00"), at("12:01:00"), at("17:00:00"), at("19:00:00"), at("19:00:30")]
    # 60 s → 1 s; 5 h and 2 h of quiet → 60 s each → 1 s; 30 s → 0.5 s.
    assert schedule(moments, speed=60, longest_pause=timedelta(minutes=1)) == [0.0, 1.0, 2.0, 3.0, 3.5]
    with pytest.raises(ValueError, match="speed must be above 0"):
        schedule(moments, speed=0, longest_pause=timedelta(minutes=1))


def test_events_come_in_the_order_reported_turnout_first_on_ties():
    turnout = CheckpointBatch.of(
        [Checkpoint("A", "17:00", 10, at("19:00:00")), Checkpoint("B", "12:00", 5, at("12:00:00"))]
    )
    returns = ReturnBatch.of([Return("A", 20, 0, 0, 20, {"x": 20}, None, at("19:00:00"))], ["x"])
    assert events(turnout, returns, None) == [
        Event("turnout", 1, at("12:00:00")),
        Event("turnout", 0, at("19:00:00")),
        Event("returns", 0, at("19:00:00")),
    ]


def test_steps_group_one_kind_within_a_tick():
    ordered = [
        Event("turnout", 0, at("12:00:00")),
        Event("turnout", 1, at("12:00:10")),
        Event("returns", 0, at("19:00:00")),
        Event("returns", 1, at("19:00:20")),
        Event("returns", 2, at("19:01:00")),
        Event("corrections", 0, at("19:01:00")),
    ]
    found = [
        (step.due, step.kind, step.rows.tolist())
        for step in steps(ordered, speed=60, longest_pause=timedelta(minutes=1), tick=0.5)
    ]
    # Offsets: 0, 1/6 (10 s), 7/6 (five hours cut to 60 s), 1.5 (20 s), 13/6 and 13/6 (40 s) seconds;
    # ticks of half a second: 0, 0, 2, 3, 4, 4.
    assert found == [
        (pytest.approx(1 / 6), "turnout", [0, 1]),
        (pytest.approx(7 / 6), "returns", [0]),
        (pytest.approx(1.5), "returns", [1]),
        (pytest.approx(13 / 6), "returns", [2]),
        (pytest.approx(13 / 6), "corrections", [0]),
    ]
