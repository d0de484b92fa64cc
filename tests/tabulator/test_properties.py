"""Properties of the aggregation: order never matters, and a correction equals a recount."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tabulator.aggregation import add_return, aggregate, combine, contributions, empty_tally, tally_from_row
from tabulator.batch import UNKNOWN, ReturnBatch, pack_votes, unpack_votes
from tabulator.registry import Registry
from tests.builders import AREAS, BUREAUX, SAMPLE
from tests.strategies import latest_returns, returns

REGISTRY = Registry.build(SAMPLE.levels, AREAS, BUREAUX)
CANDIDATES = SAMPLE.round(2).candidate_ids


@given(latest_returns(CANDIDATES), st.randoms())
def test_aggregating_in_any_order_gives_the_same_result(latest, random):
    shuffled = list(latest)
    random.shuffle(shuffled)
    assert aggregate(shuffled, REGISTRY, CANDIDATES) == aggregate(latest, REGISTRY, CANDIDATES)


@given(latest_returns(CANDIDATES))
def test_the_nation_is_the_sum_of_its_returns_and_of_its_regions(latest):
    tallies = aggregate(latest, REGISTRY, CANDIDATES)
    one_by_one = empty_tally(CANDIDATES)
    for ret in latest:
        one_by_one = add_return(one_by_one, ret)
    assert tallies[("national", "FR")] == one_by_one
    regions = [tally for (level, _), tally in tallies.items() if level == "region"]
    assert combine(regions) == one_by_one


@given(latest_returns(CANDIDATES), st.data())
def test_applying_a_correction_equals_aggregating_the_latest_versions(first, data):
    """The store adds (new row - replaced row) to every ancestor; that must equal a recount from scratch."""
    if not first:
        return
    corrected_index = data.draw(st.integers(0, len(first) - 1))
    correction = data.draw(returns(CANDIDATES, first[corrected_index].bureau))
    latest = [*first[:corrected_index], correction, *first[corrected_index + 1 :]]

    totals = REGISTRY.sum_up(*_rows_and_contributions(first))
    rows, new = _rows_and_contributions([correction])
    _, old = _rows_and_contributions([first[corrected_index]])
    totals += REGISTRY.sum_up(rows, new - old)

    recount = aggregate(latest, REGISTRY, CANDIDATES)
    assert {
        (area.level, area.code): tally_from_row(totals[position], CANDIDATES)
        for position, area in enumerate(REGISTRY.areas)
    } == recount


@given(latest_returns(CANDIDATES))
def test_summing_into_the_touched_areas_only_equals_summing_into_all(latest):
    rows, values = _rows_and_contributions(latest)
    everywhere = REGISTRY.sum_up(rows, values)
    areas, totals = REGISTRY.sum_into_ancestors(rows, values)
    assert areas.tolist() == sorted(set(REGISTRY.ancestors[rows].ravel().tolist()))
    assert (everywhere[areas] == totals).all()
    untouched = np.setdiff1d(np.arange(len(REGISTRY.areas)), areas)
    assert not everywhere[untouched].any()


def _rows_and_contributions(latest):
    batch = ReturnBatch.of(latest, CANDIDATES)
    rows = np.array([REGISTRY.bureau_index[ret.bureau] for ret in latest], np.int64)
    unknown = np.full(len(latest), UNKNOWN, np.int64)
    return rows, contributions(batch.counts, batch.votes, unknown, unknown)


@given(
    st.integers(0, 40).flatmap(
        lambda rows: st.integers(0, 12).flatmap(
            lambda candidates: st.lists(
                st.integers(0, 10**15), min_size=rows * candidates, max_size=rows * candidates
            ).map(lambda cells: np.array(cells, np.int64).reshape(rows, candidates))
        )
    )
)
def test_packed_votes_are_each_row_in_decimal_and_unpack_to_the_same_array(votes):
    packed = pack_votes(votes)
    assert packed == [",".join(str(vote) for vote in row) for row in votes.tolist()]
    assert np.array_equal(unpack_votes(packed, votes.shape[1]), votes)
