"""A level feed joined from the rows a worker keeps is the feed rendered whole, byte for byte, before and
after a sequence changes some of its rows."""

from __future__ import annotations

from api import documents, store
from api.store import db, open_view
from api.web.feed_rows import FeedRows
from api.web.http import serialize
from tabulator.batch import ReturnBatch
from tests.builders import SAMPLE, build_return

FEEDS = [
    ("region", None, None),
    ("departement", None, None),
    ("circonscription", None, None),
    ("departement", "region", "11"),
    ("circonscription", "departement", "13"),
    ("circonscription", "region", "93"),
]


def record(engine, code: str, hamon: int) -> None:
    batch = ReturnBatch.of([build_return(code, votes={"hamon": hamon, "valls": 157})], ("hamon", "valls"))
    store.record_returns(engine, SAMPLE.id, 2, batch, author="clerk", reason="recount")


def joined_and_whole(engine, rows: FeedRows) -> list[tuple[bytes, bytes]]:
    with db.reading(engine) as connection:
        view = open_view(connection, SAMPLE.id, 2)
        return [
            (
                rows.body(view, level, within, code),
                serialize(documents.level_results(view, level, within, code)),
            )
            for level, within, code in FEEDS
        ]


def test_a_feed_joined_from_kept_rows_is_the_feed_rendered_whole(sample_election):
    rows = FeedRows()
    record(sample_election, "75-01-0001", 250)
    first = joined_and_whole(sample_election, rows)
    record(sample_election, "13-01-0001", 90)  # changes the rows of 13, 13-01 and 93; 75's are kept
    second = joined_and_whole(sample_election, rows)

    assert [joined for joined, _ in first] == [whole for _, whole in first]
    assert [joined for joined, _ in second] == [whole for _, whole in second]
    assert [b'"sequence":2' in joined for joined, _ in second] == [True] * len(FEEDS)


PAGES = [(None, None), ("region", "93"), ("departement", "13"), ("circonscription", "13-01")]


def pages_joined_and_whole(engine, rows: FeedRows) -> list[tuple[bytes, bytes]]:
    with db.reading(engine) as connection:
        view = open_view(connection, SAMPLE.id, 2)
        return [
            (rows.results_body(view, level, code), serialize(documents.results_of(view, level, code)))
            for level, code in PAGES
        ]


def test_a_results_page_joined_from_kept_rows_is_the_page_rendered_whole(sample_election):
    rows = FeedRows()
    record(sample_election, "13-01-0001", 250)
    first = pages_joined_and_whole(sample_election, rows)
    record(sample_election, "13-01-0001", 90)  # a correction: the rows of 13-01-0001 and its areas change
    second = pages_joined_and_whole(sample_election, rows)

    assert [joined for joined, _ in first] == [whole for _, whole in first]
    assert [joined for joined, _ in second] == [whole for _, whole in second]
    assert [b'"votes":90' in joined for joined, _ in second] == [True] * len(PAGES)


def test_a_page_joins_the_rows_it_checked_though_another_thread_keeps_others_meanwhile(
    sample_election, monkeypatch
):
    """A worker's threads share the rows: one building a page for another sequence may keep its own row of a
    child between this page's check of that row and its join."""
    rows = FeedRows()
    record(sample_election, "13-01-0001", 250)
    pages_joined_and_whole(sample_election, rows)  # every row of these pages kept
    record(sample_election, "13-01-0002", 90)  # 13-01-0002's row is stale, 13-01-0001's kept
    children_rows = documents.children_rows

    def another_thread_meanwhile(view, children, stale):
        for key in list(rows._kept(view)):
            rows._kept(view)[key] = (b"", b'"another sequence"')
        return children_rows(view, children, stale)

    monkeypatch.setattr(documents, "children_rows", another_thread_meanwhile)
    pages = pages_joined_and_whole(sample_election, rows)

    assert [joined for joined, _ in pages] == [whole for _, whole in pages]
