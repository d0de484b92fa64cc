"""The change feed's shared tail answers every cursor byte for byte as the database does."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api import documents, store
from api.documents import changes as in_database
from api.store.db import reading
from api.web import change_tail, schemas
from api.web.change_tail import ChangeTails
from api.web.http import render
from tabulator.batch import ReturnBatch
from tests.builders import EVENING, SAMPLE, build_return

ELECTION = SAMPLE.id


@pytest.fixture
def database_reads(monkeypatch) -> list[str]:
    """The cursors that the tails send to the database (`documents.changes`), in order: those they cannot
    answer themselves. The test's own reads go through `in_database`, which the spy leaves be."""
    sent: list[str] = []

    def spied(connection, election, number, since, limit):
        sent.append(since)
        return in_database(connection, election, number, since, limit)

    monkeypatch.setattr(documents, "changes", spied)
    return sent


def record(engine, *returns, reason=None):
    batch = ReturnBatch.of(returns, SAMPLE.round(2).candidate_ids)
    return store.record_returns(engine, ELECTION, 2, batch, author="clerk", reason=reason)


def vote(bureau: str, hamon: int, valls: int, minutes: int = 0):
    return build_return(
        bureau, votes={"hamon": hamon, "valls": valls}, reported_at=EVENING + timedelta(minutes=minutes)
    )


def from_database(engine, since: str, limit: int) -> bytes:
    with reading(engine) as connection:
        return render(in_database(connection, ELECTION, 2, since, limit), schemas.CHANGES).body


def every_cursor(engine) -> list[str]:
    """Every sequence, one past the head, and every `next` a one-change page can give."""
    head = documents.results_document(engine, ELECTION, 2)["sequence"]
    cursors, cursor = [str(sequence) for sequence in range(head + 2)], "0"
    while True:
        with reading(engine) as connection:
            page = in_database(connection, ELECTION, 2, cursor, 1)
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


def test_every_cursor_and_page_size_reads_the_same_bytes_as_the_database(sample_election):
    tails = ChangeTails()
    night(sample_election, tails)
    for cursor in every_cursor(sample_election):
        for limit in (1, 2, 3, 500):
            assert tails.answer(sample_election, ELECTION, 2, cursor, limit).body == from_database(
                sample_election, cursor, limit
            ), (cursor, limit)


def test_cursors_older_than_a_full_tail_are_read_from_the_database(sample_election, database_reads):
    tails = ChangeTails(capacity=4)
    night(sample_election, tails)
    for cursor in every_cursor(sample_election):
        assert tails.answer(sample_election, ELECTION, 2, cursor, 2).body == from_database(
            sample_election, cursor, 2
        )
    # Six changes, four kept: sequence 1's and the first of sequence 2's went (a cursor is sequence:bureau
    # id), so the cursors before 2:4 are read from the database, and every other from the tail.
    assert database_reads == ["0", "1", "1:1"]


def test_a_file_larger_than_the_tail_empties_it_and_pages_come_from_the_database(
    sample_election, database_reads
):
    tails = ChangeTails(capacity=3)
    tails.answer(sample_election, ELECTION, 2, "0", 500)
    record(
        sample_election,
        *(
            vote(code, 10 + i, 20)
            for i, code in enumerate(("75-01-0001", "75-01-0002", "75-02-0001", "13-01-0001"))
        ),
    )
    for cursor in ("0", "1"):
        assert tails.answer(sample_election, ELECTION, 2, cursor, 2).body == from_database(
            sample_election, cursor, 2
        )
    # Four changes at once are more than the tail holds: the file's pages come from the database, what
    # follows it from the tail, which starts again at the file's sequence.
    assert database_reads == ["0"]


def test_a_wiped_rehearsal_leaves_nothing_of_itself_in_the_tail(sample_election):
    store.update_round(sample_election, ELECTION, 2, test=True)
    tails = ChangeTails()
    night(sample_election, tails)
    store.wipe_test_round(sample_election, ELECTION, 2)
    record(sample_election, vote("13-01-0003", 5, 6, 40))
    for cursor in ("0", "3", "5"):
        answered = tails.answer(sample_election, ELECTION, 2, cursor, 500).body
        assert answered == from_database(sample_election, cursor, 500)
    with reading(sample_election) as connection:
        changes = in_database(connection, ELECTION, 2, "0", 500)["changes"]
    assert [(change["bureau"], change["sequence"]) for change in changes] == [("13-01-0003", 7)]


def test_a_poller_that_read_the_head_before_another_caught_the_tail_up_is_answered_from_it(
    sample_election, database_reads, monkeypatch
):
    tails = ChangeTails()
    night(sample_election, tails)
    with reading(sample_election) as connection:
        behind = store.round_info(connection, ELECTION, 2)
    record(sample_election, vote("13-01-0003", 5, 6, 40))
    tails.answer(sample_election, ELECTION, 2, "4", 500)  # another poller: the tail now holds sequence 5
    monkeypatch.setattr(change_tail, "round_info", lambda *_: behind)  # this poller read the head at 4
    for cursor in ("0", "4"):
        assert tails.answer(sample_election, ELECTION, 2, cursor, 500).body == from_database(
            sample_election, cursor, 500
        )
    assert database_reads == []  # the tail, complete up to sequence 5, answered both


def test_a_poll_whose_trusted_head_the_tail_has_reached_is_answered_without_the_database(
    sample_election, monkeypatch
):
    """The worker trusts a round's head for `head_cache_seconds`: a tail that has reached it answers
    alone; a head past the tail sends the poll to the database, which brings the tail up to it."""
    tails = ChangeTails()
    night(sample_election, tails)
    head = documents.results_document(sample_election, ELECTION, 2)["sequence"]
    tails.answer(sample_election, ELECTION, 2, "0", 500)  # the tail catches up with the head
    cursors = ("0", "3", str(head))
    expected = {cursor: from_database(sample_election, cursor, 2) for cursor in cursors}

    def no_database(_engine):
        raise AssertionError("the database was asked")

    monkeypatch.setattr(change_tail, "reading", no_database)
    assert {
        cursor: tails.answer(sample_election, ELECTION, 2, cursor, 2, head=head).body for cursor in cursors
    } == expected
    record(sample_election, vote("13-01-0003", 5, 6, 40))
    # Trusted a moment longer, the old head still answers from the tail, as the latest documents do.
    assert tails.answer(sample_election, ELECTION, 2, "0", 2, head=head).body == expected["0"]
    monkeypatch.undo()  # the database again
    since_new = tails.answer(sample_election, ELECTION, 2, str(head), 500, head=head + 1).body
    assert since_new == from_database(sample_election, str(head), 500)
    assert b'"13-01-0003"' in since_new
