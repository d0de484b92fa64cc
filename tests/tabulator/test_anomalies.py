"""The warnings that compare a return with its peers and its past: what they flag, and what they never do."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tabulator.anomalies import Context, check_return, measures, signature, spread_of
from tabulator.batch import UNKNOWN

CANDIDATES = ("hamon", "valls")


def row(registered: int, blank: int, null: int, hamon: int, valls: int) -> np.ndarray:
    valid = hamon + valls
    return np.array([registered, blank + null + valid, blank, null, valid, hamon, valls], np.int64)


def ordinary_peers(count: int = 60) -> np.ndarray:
    """A département where blancs are about 8 % of votants, nuls 3 %, hamon 60 % of exprimés."""
    rng = np.random.default_rng(7)
    peers = []
    for _ in range(count):
        voters = int(rng.integers(300, 900))
        blank, null = int(voters * rng.uniform(0.07, 0.09)), int(voters * rng.uniform(0.02, 0.04))
        valid = voters - blank - null
        hamon = int(valid * rng.uniform(0.55, 0.65))
        peers.append(row(int(voters / rng.uniform(0.7, 0.8)), blank, null, hamon, valid - hamon))
    return np.array(peers)


def context_of(peers: np.ndarray, **more: object) -> Context:
    return Context(CANDIDATES, area=spread_of(measures(peers)[0], "the département"), **more)  # type: ignore[arg-type]


def codes(found: list) -> list[str]:
    return [finding.code for finding in found]


def test_a_small_bureau_is_not_flagged_for_what_chance_explains():
    # 5 blancs of 20 votants (25 %) where the median is 8 %: one sheet's chance, not a slip.
    assert check_return(row(30, 5, 0, 9, 6), "small", context_of(ordinary_peers())) == []


def test_the_same_share_in_a_large_bureau_is_unusual_and_says_why():
    found = check_return(row(3000, 500, 60, 850, 590), "large", context_of(ordinary_peers()))
    assert codes(found) == ["blank_share_unusual"]
    assert found[0].message == "blancs 25.0 % here; 8.1 % (median) in the département."
    assert found[0].field == "blank"


def test_blancs_and_nuls_swapped_are_named_as_such():
    found = check_return(row(1000, 24, 64, 430, 282), "swapped", context_of(ordinary_peers()))
    assert codes(found) == ["blank_null_swapped"]
    assert "look swapped" in found[0].message


def test_candidates_swapped_are_named_as_such():
    found = check_return(row(1000, 64, 24, 282, 430), "swapped", context_of(ordinary_peers()))
    assert codes(found) == ["candidates_swapped"]


def test_a_count_ten_times_its_expected_value_is_a_digit_slip():
    found = check_return(row(1800, 640, 24, 430, 282), "slip", context_of(ordinary_peers()))
    assert codes(found) == ["tenfold_count"]
    assert found[0].message.endswith("about 10 times the count expected.")


def test_a_sheet_typed_twice_is_found():
    sheet = row(1000, 64, 24, 430, 282)
    typed_again = sheet.copy()
    typed_again[0] = 900  # the registry gives the other bureau's inscrits
    found = check_return(typed_again, "b", context_of(ordinary_peers(), seen={signature(sheet): "a"}))
    assert codes(found) == ["same_as_other_bureau"]
    assert "bureau a's return" in found[0].message


def test_without_enough_peers_nothing_is_compared():
    assert check_return(row(3000, 500, 60, 850, 590), "large", context_of(ordinary_peers(10))) == []


def test_a_bureau_unlike_its_departement_but_like_its_own_past_is_left_alone():
    peers = ordinary_peers()
    past = measures(peers)[0] - 0.01  # every peer moved one point since the previous round
    bureau = row(1000, 250, 30, 430, 290)  # 25 % blancs: unusual here ...
    previous = measures(bureau)[0][0] - 0.01  # ... as it was last time
    context = context_of(peers, previous=previous, movement=spread_of(measures(peers)[0] - past, "x"))
    assert check_return(bureau, "b", context) == []


peer_rows = st.lists(
    st.tuples(st.integers(0, 200), st.integers(0, 200), st.integers(0, 2000), st.integers(0, 2000)),
    min_size=1,
    max_size=40,
)


@given(
    peer_rows, st.tuples(st.integers(0, 100), st.integers(0, 100), st.integers(1, 900), st.integers(1, 900))
)
def test_a_return_equal_to_its_areas_median_never_warns(others, counts):
    median_return = row(UNKNOWN, *counts)
    # More than half of the peers have the return's shares (at other sizes): their median is its shares.
    peers = np.array(
        [row(UNKNOWN, *c) for c in others] + [median_return * k for k in range(1, len(others) + 32)]
    )
    assert check_return(median_return, "b", context_of(peers, seen={})) == []


@given(peer_rows, st.integers(2, 50))
def test_scaling_a_bureaus_counts_keeps_its_shares_and_its_peers_checks(others, factor):
    peers = np.array([row(UNKNOWN, *c) for c in others] * 2 + [row(UNKNOWN, 80, 30, 600, 400)] * 30)
    scaled = peers.copy()
    scaled[0] *= factor
    shares, scaled_shares = measures(peers[:1])[0], measures(scaled[:1])[0]
    np.testing.assert_array_equal(shares, scaled_shares)
    bureau = row(UNKNOWN, 500, 30, 600, 400)
    assert check_return(bureau, "b", context_of(scaled)) == check_return(bureau, "b", context_of(peers))
