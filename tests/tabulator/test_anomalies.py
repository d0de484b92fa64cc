"""The warnings that compare a return with its peers and its past: what they flag, and what they never do."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tabulator.anomalies import (
    FIT_PER_REGRESSOR,
    MIN_RATIO_SPREAD,
    SORTED_MEDIAN_ROWS,
    AnomalyThresholds,
    Context,
    Expectation,
    Finding,
    Judged,
    PastModel,
    PreviousRound,
    check_return,
    check_returns,
    judge_in_area,
    learn_area,
    learn_past,
    measures,
    nanmedian,
    ratio_spread,
    same_layout,
    signatures,
    spread_of,
)
from tabulator.batch import UNKNOWN

CANDIDATES = ("hamon", "valls")
# The previous round had four candidates, in another order: this round's two and two who stood down.
PRIMARY = ("montebourg", "hamon", "peillon", "valls")
# A previous-round row of a bureau that had no return then.
NO_RETURN = np.array([UNKNOWN, UNKNOWN, 0, 0, 0, 0, 0, 0, 0], np.int64)


def row(registered: int, blank: int, null: int, *votes: int) -> np.ndarray:
    """A count row with its arithmetic right: votants = blancs + nuls + exprimés."""
    valid = sum(votes)
    return np.array([registered, blank + null + valid, blank, null, valid, *votes], np.int64)


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


def primary_peers(count: int) -> tuple[np.ndarray, np.ndarray]:
    """This round's and the previous round's rows of `count` bureaux, where the votants, blancs and nuls
    did not change, montebourg's voters all went to hamon and peillon's split evenly between the two: an
    exact linear transfer, so what is learned from them can be computed by hand."""
    rng = np.random.default_rng(11)
    now, then = [], []
    for _ in range(count):
        voters = int(rng.integers(300, 900))
        blank, null = int(voters * rng.uniform(0.01, 0.03)), int(voters * rng.uniform(0.005, 0.015))
        valid = voters - blank - null
        montebourg = int(valid * rng.uniform(0.15, 0.25))
        hamon = int(valid * rng.uniform(0.25, 0.4))
        peillon = int(valid * rng.uniform(0.05, 0.1)) // 2 * 2  # even: it splits into whole votes
        valls = valid - montebourg - hamon - peillon
        registered = int(voters / rng.uniform(0.3, 0.5))
        then.append(row(registered, blank, null, montebourg, hamon, peillon, valls))
        now.append(row(registered, blank, null, hamon + montebourg + peillon // 2, valls + peillon // 2))
    return np.array(now), np.array(then)


# A bureau unlike its peers: montebourg 25 %, hamon 55 %, peillon 10 %, valls 10 % of 800 exprimés, so the
# transfer makes hamon 85 % (680) and valls 15 % (120) where its peers' median is 55.6 %.
BUREAU_THEN = row(2000, 16, 8, 200, 440, 80, 80)
BUREAU_NOW = row(2000, 16, 8, 680, 120)


def context_of(peers: np.ndarray, **more: object) -> Context:
    return Context(CANDIDATES, area=spread_of(measures(peers)[0], "the département"), **more)  # type: ignore[arg-type]


def with_ratio(peers: np.ndarray, **more: object) -> Context:
    """The peers' context with their log(blancs / nuls), as `check_returns` gives it."""
    return context_of(peers, ratio=ratio_spread(peers, 30), **more)


def learned(now_rows: np.ndarray, then_rows: np.ndarray, min_peers: int = 30) -> PastModel | None:
    then = measures(then_rows)[0]
    return learn_past(measures(now_rows)[0], then, same_layout(then, PRIMARY, CANDIDATES), min_peers)


def previous_of(then_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A previous-round row's measures in its own layout and in this round's."""
    then = measures(then_row)[0]
    return then[0], same_layout(then, PRIMARY, CANDIDATES)[0]


def past_context(peers_now: np.ndarray, model: PastModel, then_row: np.ndarray) -> Context:
    then, then_same = previous_of(then_row)
    return context_of(peers_now, expected=model.expect(then, then_same), previous=then_same)


def codes(found: list[Finding]) -> list[str]:
    return [finding.code for finding in found]


# Against the peers


def test_a_small_bureau_is_not_flagged_for_what_chance_explains():
    # 5 blancs of 20 votants (25 %) where the median is 8 %: one sheet's chance, not a slip.
    peers = ordinary_peers()
    assert check_return(row(30, 5, 0, 9, 6), "small", with_ratio(peers)) == []


def test_the_same_share_in_a_large_bureau_is_unusual_and_says_why():
    peers = ordinary_peers()
    found = check_return(row(3000, 500, 60, 850, 590), "large", with_ratio(peers))
    assert codes(found) == ["blank_share_unusual"]
    assert found[0].message == "blancs 25.0 % here; 8.1 % (median) in the département."
    assert found[0].field == "blank"


def test_candidates_swapped_against_the_peers_are_named_as_such():
    found = check_return(row(1000, 64, 24, 282, 430), "swapped", context_of(ordinary_peers()))
    assert codes(found) == ["candidates_swapped"]
    assert found[0].message == (
        "hamon 39.6 % and valls 60.4 % here; 59.1 % and 40.9 % expected: the two columns look swapped."
    )


def test_a_sheet_typed_twice_is_found():
    sheet = row(1000, 64, 24, 430, 282)
    typed_again = sheet.copy()
    typed_again[0] = 900  # the registry gives the other bureau's inscrits
    found = check_return(typed_again, "b", context_of(ordinary_peers(), seen={signatures(sheet)[0]: "a"}))
    assert codes(found) == ["same_as_other_bureau"]
    assert found[0].message == (
        "every count is identical to bureau a's return of this round: the same sheet typed twice, or under "
        "the wrong bureau's code?"
    )


def test_without_enough_peers_nothing_is_compared():
    peers = ordinary_peers(10)
    assert ratio_spread(peers, 30) is None
    assert check_return(row(3000, 500, 60, 850, 590), "large", context_of(peers)) == []


# Blancs and nuls swapped


def test_blancs_and_nuls_swapped_are_found_on_their_log_ratio():
    peers = ordinary_peers()
    ratio = ratio_spread(peers, 30)
    assert ratio is not None
    assert ratio.median == pytest.approx(float(np.median(np.log((peers[:, 2] + 0.5) / (peers[:, 3] + 0.5)))))
    assert ratio.scale == MIN_RATIO_SPREAD  # these peers' ratios spread no more than their counts' noise
    swapped = row(1000, 24, 64, 430, 282)  # 64 blancs and 24 nuls typed the other way round
    found = check_return(swapped, "swapped", context_of(peers, ratio=ratio))
    assert codes(found) == ["blank_null_swapped"]
    assert found[0].message == (
        "blancs 3.0 % and nuls 8.0 % here; 8.1 % and 2.9 % expected: the two columns look swapped."
    )
    typed = np.log(24.5 / 64.5) - ratio.median
    assert found[0].score == pytest.approx(abs(typed) / np.sqrt(ratio.scale**2 + 1 / 24.5 + 1 / 64.5))
    # The shares alone are within 6 spreads of the peers': the ratio is what finds the swap.
    assert check_return(swapped, "swapped", context_of(peers)) == []


def alike_peers() -> np.ndarray:
    """A département where every bureau has as many blancs as nuls (about 4 % of votants each)."""
    rng = np.random.default_rng(3)
    peers = []
    for _ in range(60):
        voters = int(rng.integers(300, 900))
        blank = int(voters * rng.uniform(0.035, 0.045))
        valid = voters - 2 * blank
        hamon = int(valid * rng.uniform(0.55, 0.65))
        peers.append(row(UNKNOWN, blank, blank, hamon, valid - hamon))
    return np.array(peers)


def test_where_blancs_and_nuls_are_alike_many_nuls_are_unusual_not_swapped():
    peers = alike_peers()
    ratio = ratio_spread(peers, 30)
    assert ratio is not None
    assert ratio.median == 0.0
    # log(10.5 / 100.5) is 6 spreads below the peers' ratio, and as far from it reversed.
    found = check_return(row(UNKNOWN, 10, 100, 430, 282), "b", context_of(peers, ratio=ratio))
    assert codes(found) == ["null_share_unusual"]
    assert found[0].message == "nuls 12.2 % here; 3.9 % (median) in the département."


@given(st.integers(0, 2000), st.integers(0, 2000), st.integers(0, 900), st.integers(0, 900))
def test_where_blancs_and_nuls_are_alike_no_return_is_a_swap(blank, null, hamon, valls):
    # Reversing the ratio cannot make it fit better when the peers' median ratio is 0 (blancs = nuls).
    peers = alike_peers()
    found = check_return(row(UNKNOWN, blank, null, hamon, valls), "b", with_ratio(peers))
    assert "blank_null_swapped" not in codes(found)


# Against the past


def test_the_transfer_from_a_four_candidate_round_is_learned():
    model = learned(*primary_peers(40))
    assert model is not None
    assert model.weights is not None
    expected = model.expect(*previous_of(BUREAU_THEN))
    assert expected is not None
    # Votants, blancs, nuls as they were; hamon gets montebourg's 200 and half of peillon's 80.
    np.testing.assert_allclose(
        expected.shares, [824 / 2000, 16 / 824, 8 / 824, (440 + 200 + 40) / 800, (80 + 40) / 800], atol=1e-9
    )


def test_candidates_swapped_against_the_past_are_named_and_the_same_return_unswapped_is_not():
    peers_now, peers_then = primary_peers(40)
    model = learned(peers_now, peers_then)
    assert model is not None
    context = past_context(peers_now, model, BUREAU_THEN)
    found = check_return(row(2000, 16, 8, 120, 680), "swapped", context)
    assert codes(found) == ["candidates_swapped"]
    assert found[0].field == "hamon"
    assert found[0].message == (
        "hamon 15.0 % and valls 85.0 % here; 85.0 % and 15.0 % expected; 55.0 % and 10.0 % in this bureau's "
        "previous round: the two columns look swapped."
    )
    assert check_return(BUREAU_NOW, "b", context) == []
    # Its peers alone find the real return unusual (at 6 spreads; its shares lie 6.6 from their median): the
    # past is what clears it.
    by_peers = check_return(BUREAU_NOW, "b", context_of(peers_now), AnomalyThresholds(deviation=6.0))
    assert [(f.code, round(f.score, 1)) for f in by_peers] == [("vote_share_unusual", 6.6)] * 2


def test_a_bureau_unlike_its_departement_but_like_its_own_past_is_left_alone():
    peers = ordinary_peers()
    now = measures(peers)[0]
    past = now - 0.01  # every peer moved one point since the previous round
    model = learn_past(now, past, past, 30)
    assert model is not None
    bureau = row(1300, 250, 30, 430, 290)  # 25 % blancs: unusual here ...
    previous = measures(bureau)[0][0] - 0.01  # ... as it was last time
    expected = model.expect(previous, previous)
    assert expected is not None
    np.testing.assert_allclose(expected.shares, measures(bureau)[0][0], atol=1e-9)
    assert check_return(bureau, "b", context_of(peers, expected=expected, previous=previous)) == []
    assert codes(check_return(bureau, "b", context_of(peers))) == ["blank_share_unusual"]


# What the past is learned from


def test_no_past_is_learned_from_fewer_than_min_peers_with_both_rounds():
    now_rows, then_rows = primary_peers(30)
    assert learned(now_rows, then_rows, min_peers=30) is not None
    then_rows[0] = NO_RETURN  # one bureau had no return then: 29 have both rounds
    assert learned(now_rows, then_rows, min_peers=30) is None


# One coefficient per previous measure (turnout, blancs, nuls, four candidates) and the intercept.
FIT_PEERS = FIT_PER_REGRESSOR * (3 + len(PRIMARY) + 1)


def test_too_few_peers_for_the_transfer_give_the_previous_figure_plus_the_median_change():
    now_rows, then_rows = primary_peers(FIT_PEERS - 1)
    model = learned(now_rows, then_rows, min_peers=10)
    assert model is not None
    assert model.weights is None
    # Hamon gained montebourg and half of peillon, valls the other half; nothing else moved.
    valid, montebourg, peillon = then_rows[:, 4], then_rows[:, 5], then_rows[:, 7]
    gains = [np.median((montebourg + peillon // 2) / valid), np.median(peillon // 2 / valid)]
    np.testing.assert_allclose(model.shift, [0, 0, 0, *gains], atol=1e-12)
    expected = model.expect(*previous_of(BUREAU_THEN))
    assert expected is not None
    np.testing.assert_allclose(
        expected.shares, [824 / 2000, 16 / 824, 8 / 824, 0.55 + gains[0], 0.10 + gains[1]], atol=1e-12
    )
    np.testing.assert_array_equal(expected.scale, model.shift_scale)


def test_enough_peers_for_the_transfer_learn_its_weights():
    model = learned(*primary_peers(FIT_PEERS), min_peers=10)
    assert model is not None
    assert model.weights is not None
    expected = model.expect(*previous_of(BUREAU_THEN))
    assert expected is not None
    np.testing.assert_allclose(expected.shares[3:], [0.85, 0.15], atol=1e-9)


def test_a_bureau_without_a_previous_return_expects_nothing():
    model = learned(*primary_peers(40))
    assert model is not None
    assert model.expect(*previous_of(NO_RETURN)) is None


# Digit slips


def test_a_count_ten_times_its_expected_value_is_a_digit_slip():
    peers = ordinary_peers()
    slipped = row(1800, 640, 24, 430, 282)  # 64 blancs typed 640, votants added up again
    found = check_return(slipped, "slip", with_ratio(peers))
    assert codes(found) == ["tenfold_count"]
    # Expected: the median share's odds times the other 736 votants.
    median = float(np.median(peers[:, 2] / peers[:, 1]))
    assert round(median / (1 - median) * 736) == 65
    assert found[0].message == (
        "blancs 46.5 % here; 8.1 % (median) in the département: about 10 times the count expected (65)."
    )


def test_a_count_a_tenth_of_its_expected_value_is_a_digit_slip():
    peers = ordinary_peers()
    slipped = row(UNKNOWN, 64, 24, 43, 282)  # hamon's 430 typed 43, exprimés added up again
    found = check_return(slipped, "slip", with_ratio(peers))
    # With two candidates each one's odds are the inverse of the other's: both are named.
    assert [(f.code, f.field) for f in found] == [("tenfold_count", "hamon"), ("tenfold_count", "valls")]
    assert found[0].message == (
        "hamon 13.2 % here; 59.1 % (median) in the département: about 0.1 times the count expected (408)."
    )
    assert found[1].message == (
        "valls 86.8 % here; 40.9 % (median) in the département: about 10 times the count expected (30)."
    )


def test_one_vote_of_nine_where_sixty_percent_is_expected_is_chance_not_a_slip():
    peers = ordinary_peers()
    tiny = row(UNKNOWN, 0, 0, 1, 8)
    median = float(np.median(peers[:, 5] / peers[:, 4]))
    assert 6 <= median / (1 - median) * 8 / 1 <= 16  # a tenth of the expected count, as a slip would be ...
    assert check_return(tiny, "tiny", with_ratio(peers)) == []  # ... by chance


# A batch


def judge(
    rows: np.ndarray, previous: np.ndarray, areas: list[int], peers: int = 120
) -> tuple[Judged, np.ndarray, np.ndarray]:
    """The batch's rows in `areas`, with `peers` primary peers in area 1; also the peers' rows."""
    peers_now, peers_then = primary_peers(peers)
    judged = check_returns(
        rows,
        [f"b{i}" for i in range(len(rows))],
        np.array(areas, np.int64),
        peers=peers_now,
        peer_bureaux=[f"p{i}" for i in range(peers)],
        peer_areas=np.ones(peers, np.int64),
        candidates=CANDIDATES,
        previous=PreviousRound(previous, peers_then, PRIMARY),
    )
    return judged, peers_now, peers_then


# montebourg 20 %, hamon 35 %, peillon 8 %, valls 37 % of 800: hamon 59 % (472) now, valls 41 % (328).
TYPICAL_THEN = row(2000, 16, 8, 160, 280, 64, 296)


def test_a_batch_is_judged_against_its_peers_and_its_past():
    peers_now, _ = primary_peers(120)
    rows = np.array(
        [
            row(2000, 16, 8, 472, 328),  # as its past predicts
            row(2000, 16, 8, 328, 472),  # candidates swapped
            row(2000, 160, 8, 472, 328),  # blancs typed ten times
            row(2000, 17, 8, 472, 328),  # no previous return
            peers_now[0],  # a peer's sheet typed again
            row(2000, 160, 8, 472, 328),  # blancs typed ten times, in a département of its own
        ]
    )
    previous = np.array([TYPICAL_THEN, TYPICAL_THEN, TYPICAL_THEN, NO_RETURN, NO_RETURN, TYPICAL_THEN])
    judged, _, _ = judge(rows, previous, [1, 1, 1, 1, 1, 2])
    assert [codes(found) for found in judged.findings] == [
        [],
        ["candidates_swapped"],
        ["tenfold_count"],
        [],
        ["same_as_other_bureau"],
        ["tenfold_count"],
    ]
    assert judged.findings[4][0].message.startswith("every count is identical to bureau p0's return")
    # The lone bureau of département 2 is compared with every bureau reported, and with the past learned
    # from all of them.
    assert "(median) in the bureaux reported; " in judged.findings[5][0].message
    assert "expected from this bureau's previous round (1.9 %)" in judged.findings[5][0].message
    np.testing.assert_array_equal(judged.compared, [True] * 6)


def test_each_row_of_a_batch_is_judged_as_alone_in_the_context_the_batch_gives_it():
    rows = np.array([row(2000, 16, 8, 472, 328), row(2000, 16, 8, 328, 472), row(2000, 160, 8, 472, 328)])
    previous = np.array([TYPICAL_THEN, TYPICAL_THEN, NO_RETURN])
    judged, peers_now, peers_then = judge(rows, previous, [1, 1, 1])
    # The batch's rows are each other's peers in this round; the past is learned from the stored peers
    # alone, which are enough.
    pool = np.concatenate([peers_now, rows])
    model = learned(peers_now, peers_then)
    assert model is not None
    names = [*(f"p{i}" for i in range(120)), "b0", "b1", "b2"]
    seen = dict(zip(signatures(pool), names, strict=True))
    for position, then_row in enumerate(previous):
        then, then_same = previous_of(then_row)
        context = Context(
            CANDIDATES,
            area=spread_of(measures(pool)[0], "the département"),
            nation=spread_of(measures(pool)[0], "the bureaux reported"),
            ratio=ratio_spread(pool, 30),
            expected=model.expect(then, then_same),
            previous=then_same,
            seen=seen,
        )
        # The same findings, to the last bits of a score summed in another order.
        assert rounded(judged.findings[position]) == rounded(
            check_return(rows[position], f"b{position}", context)
        )
    assert [codes(found) for found in judged.findings] == [[], ["candidates_swapped"], ["tenfold_count"]]


def test_a_batch_with_too_few_peers_is_not_compared():
    rows = np.array([row(2000, 16, 8, 472, 328), row(2000, 160, 8, 328, 472)])
    judged, _, _ = judge(rows, np.array([TYPICAL_THEN, TYPICAL_THEN]), [1, 1], peers=20)
    assert judged.findings == [(), ()]  # rows without a finding share one empty tuple
    np.testing.assert_array_equal(judged.compared, [False, False])


def test_a_tenth_of_the_blancs_is_a_slip_not_a_swap():
    # 64 blancs typed 6: reversed, 24 blancs (2.4 %) and 6 nuls (0.6 %) fit neither 8.1 % nor 2.9 %.
    peers = ordinary_peers()
    found = check_return(row(UNKNOWN, 6, 24, 430, 282), "slip", with_ratio(peers))
    assert codes(found) == ["tenfold_count"]


def test_more_nuls_than_blancs_as_in_its_own_past_is_not_a_swap():
    peers = ordinary_peers()
    bureau = row(1000, 24, 64, 430, 282)
    shares = measures(bureau)[0][0]
    context = with_ratio(peers, expected=Expectation(shares, np.zeros(5)), previous=shares)
    assert check_return(bureau, "b", context) == []


def test_a_swapped_return_does_not_teach_its_own_prediction():
    # Alone, with 40 peers, the swapped return drags its own prediction from 85 % to 45 %.
    judged, _, _ = judge(np.array([row(2000, 16, 8, 120, 680)]), np.array([BUREAU_THEN]), [1], peers=40)
    assert codes(judged.findings[0]) == ["candidates_swapped"]


# Properties

peer_rows = st.lists(
    st.tuples(st.integers(0, 200), st.integers(0, 200), st.integers(0, 2000), st.integers(0, 2000)),
    min_size=1,
    max_size=40,
)
counts_of_a_return = st.tuples(
    st.integers(0, 100), st.integers(0, 100), st.integers(1, 900), st.integers(1, 900)
)


@given(peer_rows, counts_of_a_return)
def test_a_return_equal_to_its_areas_median_never_warns(others, counts):
    median_return = row(UNKNOWN, *counts)
    # More than half of the peers have the return's shares (at other sizes): their median is its shares.
    peers = np.array(
        [row(UNKNOWN, *c) for c in others] + [median_return * k for k in range(1, len(others) + 32)]
    )
    assert check_return(median_return, "b", context_of(peers, seen={})) == []
    assert check_return(median_return, "b", with_ratio(peers, seen={})) == []


@given(peer_rows, st.integers(2, 50))
def test_scaling_a_bureaus_counts_keeps_its_shares_and_its_peers_checks(others, factor):
    peers = np.array([row(UNKNOWN, *c) for c in others] * 2 + [row(UNKNOWN, 80, 30, 600, 400)] * 30)
    scaled = peers.copy()
    scaled[0] *= factor
    shares, scaled_shares = measures(peers[:1])[0], measures(scaled[:1])[0]
    np.testing.assert_array_equal(shares, scaled_shares)
    bureau = row(UNKNOWN, 500, 30, 600, 400)
    assert check_return(bureau, "b", context_of(scaled)) == check_return(bureau, "b", context_of(peers))


@given(peer_rows, counts_of_a_return, st.integers(0, 3000), st.floats(0, 0.05))
def test_a_return_equal_to_what_its_past_predicts_never_warns(others, counts, abstained, scale):
    # However unlike its peers (who are all the same 30 times over, plus any others).
    peers = np.array([row(UNKNOWN, *c) for c in others] + [row(UNKNOWN, 80, 30, 600, 400)] * 30)
    bureau = row(UNKNOWN, *counts)
    bureau[0] = bureau[1] + abstained
    shares = measures(bureau)[0][0]
    context = context_of(peers, expected=Expectation(shares, np.full(5, scale)), previous=shares)
    assert check_return(bureau, "b", context) == []


def rounded(found: list) -> list[tuple[str, str, str, float]]:
    return [(finding.code, finding.field, finding.message, round(finding.score, 9)) for finding in found]


def test_a_clerks_return_is_judged_by_what_its_area_knows_as_a_batch_would_judge_it():
    peers_now, peers_then = primary_peers(120)
    knowledge = learn_area(
        peers_now,
        candidates=CANDIDATES,
        previous=PreviousRound(np.empty((0, 7), np.int64), peers_then, PRIMARY),
    )
    assert (knowledge.peers, knowledge.compared, knowledge.previous_candidates) == (120, True, PRIMARY)
    rows = np.array([row(2000, 16, 8, 472, 328), row(2000, 16, 8, 328, 472), row(2000, 160, 8, 472, 328)])
    for position, typed in enumerate(rows):
        alone = judge_in_area(
            typed[None], [f"b{position}"], knowledge, seen={}, previous_rows=np.array([TYPICAL_THEN])
        )
        assert alone.compared.tolist() == [True]
        assert codes(alone.findings[0]) == [[], ["candidates_swapped"], ["tenfold_count"]][position]
    # A sheet typed twice is found through the signatures the service looked up for it.
    copied = peers_now[5].copy()
    found = judge_in_area(copied[None], ["b9"], knowledge, seen={signatures(peers_now[5])[0]: "p5"})
    assert codes(found.findings[0]) == ["same_as_other_bureau"]


def _median_of_known(values: np.ndarray) -> list[float]:
    """numpy's median of each column's known values (NaN for a column with none): `nanmedian`'s answer."""
    return [
        float(np.median(column[~np.isnan(column)])) if (~np.isnan(column)).any() else np.nan
        for column in values.T
    ]


@given(
    st.integers(1, 40).flatmap(
        lambda rows: st.lists(
            st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=rows, max_size=rows),
            min_size=1,
            max_size=6,
        )
    )
)
def test_nanmedian_of_a_departement_is_numpy_s_median_of_the_known_values_bit_for_bit(columns):
    values = np.array([[np.nan if cell is None else cell for cell in column] for column in columns]).T
    assert np.array_equal(nanmedian(values), _median_of_known(values), equal_nan=True)


def test_nanmedian_of_a_nation_is_numpy_s_median_of_the_known_values_bit_for_bit():
    rng = np.random.default_rng(2017)
    values = rng.random((SORTED_MEDIAN_ROWS + 1, 4))
    values[rng.random(values.shape) < 0.1] = np.nan
    values[:, 3] = np.nan
    expected = _median_of_known(values)
    assert np.isnan(expected[3]) and not np.isnan(expected[:3]).any()
    assert np.array_equal(nanmedian(values), expected, equal_nan=True)
    assert np.array_equal(
        nanmedian(values[:SORTED_MEDIAN_ROWS]), _median_of_known(values[:SORTED_MEDIAN_ROWS]), equal_nan=True
    )
