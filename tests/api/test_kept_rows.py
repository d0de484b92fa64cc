"""A worker keeps the children's rows of the pages it built last and makes again only the rows whose sums
moved (`api.documents.results.ChildRowsKept`): the pages are those built without it, byte for byte."""

from __future__ import annotations

from sqlalchemy import Engine

from api import documents, store
from api.store.caches import engine_caches
from tabulator.batch import ReturnBatch
from tests.builders import SAMPLE, build_return

CANDIDATES = SAMPLE.round(2).candidate_ids


def record(engine: Engine, *codes: str, hamon: int = 60) -> None:
    returns = [build_return(code, votes={"hamon": hamon, "valls": 40}) for code in codes]
    store.record_returns(engine, SAMPLE.id, 2, ReturnBatch.of(returns, CANDIDATES), author="clerk")


def paris(engine: Engine, *, sequence: int | None = None, kept: bool = True) -> dict[str, object]:
    """Paris's results page, built with the rows the worker kept or, `kept` False, without any."""
    if not kept:
        engine_caches(engine).documents.clear()
    return documents.results_document(engine, SAMPLE.id, 2, "departement", "75", sequence=sequence)


def test_only_the_children_whose_sums_moved_are_made_again_and_the_page_is_the_same(sample_election):
    record(sample_election, "75-01-0001", "75-02-0001")
    first = paris(sample_election)
    record(sample_election, "75-01-0002")  # moves 75-01, not 75-02
    second = paris(sample_election)
    assert [row["code"] for row in second["children"]] == ["75-01", "75-02"]
    assert second["children"][0] is not first["children"][0]  # made again
    assert second["children"][1] is first["children"][1]  # kept
    assert second == paris(sample_election, kept=False)
    assert (second["children"][0]["voters"], second["children"][1]["voters"]) == (200, 100)
    # An earlier sequence's page moves the rows back: made again, as without them.
    earlier = paris(sample_election, sequence=first["sequence"])
    assert earlier == first == paris(sample_election, sequence=first["sequence"], kept=False)


def test_a_row_is_kept_for_its_sums_not_its_sequence(sample_election):
    record(sample_election, "75-01-0001", "75-02-0001")
    first = paris(sample_election)
    record(sample_election, "13-01-0001")  # another département: Paris's rows stay
    second = paris(sample_election)
    assert second["sequence"] == first["sequence"] + 1
    assert [a is b for a, b in zip(second["children"], first["children"], strict=True)] == [True, True]
    assert second == paris(sample_election, kept=False)
