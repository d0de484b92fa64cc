"""The change feed's shared tail answers every cursor byte for byte as the database does."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api import schemas, store
from api.change_tail import ChangeTails
from api.db import reading
from api.http import render
from api.store import feeds
from tabulator.batch import ReturnBatch
from tests.builders import AREAS, BUREAUX, EVENING, SAMPLE, build_return

ELECTION = SAMPLE.id


@pytest.fixture
def election(engine):
    store.create_election(engine, SAMPLE, AREAS, BUREAUX)
    return engine


def record(engine, *returns, reason=None):
    batch = ReturnBatch.of(returns, SAMPLE.round(2).candidate_ids)
    return store.record_returns(engine, ELECTION, 2, batch, author="clerk", reason=reason)


def vote(bureau: str, hamon: int, valls: int, minutes: int = 0):
    return build_return(
        bureau, votes={"hamon": hamon, "valls": valls}, reported_at=EVENING + timedelta(minutes=minutes)
    )


def from_database(engine, since: str, limit: int) -> bytes:
    with reading(engine) as connection:
        return render(feeds.changes(connection, ELECTION, 2, since, limit), schemas.CHANGES).body


def every_cursor(engine) -> list[str]:
    """Every sequence, one past the head, and every `next` a one-change page can give."""
    head = store.results_document(engine, ELECTION, 2)["sequence"]
    cursors, cursor = [str(sequence) for sequence in range(head + 2)], "0"
    while True:
        with reading(engine) as connection:
            page = feeds.changes(connection, ELECTION, 2, cursor, 1)
        cursor = page["next"]
        cursors.append(cursor)
        if not page["truncated"]:
            return cursors


def night(engine, tails: ChangeTails):
    """Four sequences of returns and a correction, the tail polled between them as a newsroom would."""
    tails.answer(engine, ELECTION, 2, "0", 500)
    record(engine, vote("75-01-0001", 250, 157))
    tails.answer(engine, ELECTION, 2, "0", 500)
    record(
        engine, vote("13-01-0001", 90, 110, 5), vote("13-01-0002", 40, 60, 7), vote("75-02-0001", 30, 20, 8)
    )
    record(engine, vote("75-01-0002", 70, 80, 9))
    tails.answer(engine, ELECTION, 2, "1", 500)
    record(engine, vote("75-01-0001", 251, 156, 30), reason="Recount of one ballot")


def test_every_cursor_and_page_size_reads_the_same_bytes_as_the_database(election):
    tails = ChangeTails()
    night(election, tails)
    for cursor in every_cursor(election):
        for limit in (1, 2, 3, 500):
            assert tails.answer(election, ELECTION, 2, cursor, limit).body == from_database(
                election, cursor, limit
            ), (cursor, limit)


def test_cursors_older_than_a_full_tail_are_read_from_the_database(election):
    tails = ChangeTails(capacity=4)
    night(election, tails)
    tail = tails._tails[(ELECTION, 2)]
    assert (len(tail.items), tail.start[0], tail.up_to) == (4, 1, 3)  # the first change went
    for cursor in every_cursor(election):
        assert tails.answer(election, ELECTION, 2, cursor, 2).body == from_database(election, cursor, 2)


def test_a_file_larger_than_the_tail_empties_it_and_pages_come_from_the_database(election):
    tails = ChangeTails(capacity=3)
    tails.answer(election, ELECTION, 2, "0", 500)
    record(
        election,
        *(
            vote(code, 10 + i, 20)
            for i, code in enumerate(("75-01-0001", "75-01-0002", "75-02-0001", "13-01-0001"))
        ),
    )
    page = tails.answer(election, ELECTION, 2, "0", 2).body
    assert page == from_database(election, "0", 2)
    tail = tails._tails[(ELECTION, 2)]
    assert (tail.items, tail.start, tail.up_to) == ([], (1, feeds.EVERY_BUREAU), 1)


def test_a_wiped_rehearsal_leaves_nothing_of_itself_in_the_tail(election):
    store.update_round(election, ELECTION, 2, test=True)
    tails = ChangeTails()
    night(election, tails)
    store.wipe_test_round(election, ELECTION, 2)
    record(election, vote("13-01-0003", 5, 6, 40))
    for cursor in ("0", "3", "5"):
        answered = tails.answer(election, ELECTION, 2, cursor, 500).body
        assert answered == from_database(election, cursor, 500)
    with reading(election) as connection:
        changes = feeds.changes(connection, ELECTION, 2, "0", 500)["changes"]
    assert [(change["bureau"], change["sequence"]) for change in changes] == [("13-01-0003", 7)]


def test_a_poller_that_read_the_head_before_another_caught_the_tail_up_is_answered_from_it(election):
    tails = ChangeTails()
    night(election, tails)
    with reading(election) as connection:
        behind = store.round_info(connection, ELECTION, 2)
    record(election, vote("13-01-0003", 5, 6, 40))
    tails.answer(election, ELECTION, 2, "4", 500)  # another poller: the tail now holds sequence 5
    tail = tails._tails[(ELECTION, 2)]
    with reading(election) as connection:
        assert tails._caught_up(connection, ELECTION, behind) is tail
    assert (tail.start, tail.up_to, len(tail.items)) == ((0, feeds.EVERY_BUREAU), 5, 7)
