"""Any sequence of returns and corrections, on both databases: verify stays clean and the stored sums
equal a recount of the latest versions."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import documents, store
from tabulator.aggregation import aggregate
from tabulator.batch import ReturnBatch
from tabulator.registry import Registry
from tests.builders import AREAS, BUREAUX, SAMPLE
from tests.strategies import returns

REGISTRY = Registry.build(SAMPLE.levels, AREAS, BUREAUX)
ROUNDS = {number: SAMPLE.round(number).candidate_ids for number in (1, 2)}
elections = itertools.count()

writes = st.lists(
    st.sampled_from([1, 2]).flatmap(lambda number: st.tuples(st.just(number), returns(ROUNDS[number]))),
    min_size=1,
    max_size=12,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(writes)
def test_verify_is_clean_after_any_sequence_of_returns_and_corrections(engine, sequence):
    election = SAMPLE.__class__(**{**SAMPLE.__dict__, "id": f"property-{next(elections)}"})
    store.create_election(engine, election, AREAS, BUREAUX)
    latest: dict[int, dict[str, object]] = {1: {}, 2: {}}
    for number, ret in sequence:
        store.record_returns(
            engine, election.id, number, ReturnBatch.of([ret], ROUNDS[number]), author="p", reason="recount"
        )
        latest[number][ret.bureau] = ret
    assert store.verify(engine) == []
    for number in (1, 2):
        previous = {code: r.voters for code, r in latest[1].items()} if number == 2 else None
        expected = aggregate(latest[number].values(), REGISTRY, ROUNDS[number], previous)[("national", "FR")]
        results = documents.results_document(engine, election.id, number)["results"]
        assert (
            results["bureaux_reported"],
            results["voters"],
            [c["votes"] for c in results["candidates"]],
        ) == (
            expected.bureaux_reported,
            expected.voters,
            list(expected.votes.values()),
        )
        if number == 2:
            assert (
                results["voters_change"]["like_for_like"]["previous_voters"]
                == expected.matched_previous_voters
            )
