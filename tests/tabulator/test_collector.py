"""The collector paused around bulk work: off inside, back as it was once the last pause ends."""

from __future__ import annotations

import gc
import threading

import pytest

from tabulator.collector import paused_collection


@pytest.fixture
def collector_on():
    enabled = gc.isenabled()
    gc.enable()
    yield
    if not enabled:
        gc.disable()


def test_nested_pauses_end_with_the_outer_one(collector_on):
    with paused_collection():
        with paused_collection():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_pause_that_fails_still_ends(collector_on):
    with pytest.raises(RuntimeError), paused_collection():
        raise RuntimeError("the write failed")
    assert gc.isenabled()


def test_pauses_in_two_threads_end_with_the_last_one_whatever_the_order(collector_on):
    first_in, second_in, first_done = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first() -> None:
        with paused_collection():
            first_in.set()
            second_in.wait(5)
        first_done.set()

    def second() -> None:
        first_in.wait(5)
        with paused_collection():
            second_in.set()
            first_done.wait(5)
            seen["after the first ended"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert (seen, gc.isenabled()) == ({"after the first ended": False}, True)


def test_a_collector_that_was_off_stays_off():
    enabled = gc.isenabled()
    gc.disable()
    try:
        with paused_collection():
            pass
        assert not gc.isenabled()
    finally:
        if enabled:
            gc.enable()
