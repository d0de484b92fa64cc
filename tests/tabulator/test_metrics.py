import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from tabulator.aggregation import row_of
from tabulator.metrics import area_rows, change, percent, percents, summarize
from tabulator.types import Candidate, Tally


def test_percent_rounds_half_away_from_zero_on_the_exact_fraction():
    # Fillon, right-wing primary round 2 (REFERENCE §2): 66.48510… % is not a tie and rounds down.
    assert percent(2_919_874, 4_391_772) == 66.49
    assert percent(1, 8) == 12.5
    assert percent(1, 800) == 0.13  # 0.125 exactly: a true tie goes up
    assert percent(635_395, 1_083_368) == 58.65
    assert percent(1, 3, places=1) == 33.3


def test_percent_of_nothing_is_none():
    assert percent(0, 0) is None


def test_change_keeps_its_sign_and_rounds_once():
    assert change(1_306_852, 1_064_212, places=1) == 22.8
    assert change(80, 100) == -20.0
    assert change(1, 800) == -99.88
    assert change(5, 0) is None


@given(st.lists(st.tuples(st.integers(-(10**9), 10**9), st.integers(-(10**9), 10**9)), max_size=50))
def test_percents_of_many_are_percent_of_each(pairs):
    parts = np.array([part for part, _ in pairs], np.int64).reshape(len(pairs))
    wholes = np.array([whole for _, whole in pairs], np.int64).reshape(len(pairs))
    assert percents(parts, wholes) == [percent(part, whole) for part, whole in pairs]


TALLY = st.builds(
    lambda reported, with_registered, registered, blank, null, a, b: Tally(
        reported,
        blank + null + a + b,
        blank,
        null,
        a + b,
        {"a": a, "b": b},
        registered=registered,
        bureaux_with_registered=min(with_registered, reported),
    ),
    *(st.integers(0, 5) for _ in range(2)),
    *(st.integers(0, 10**6) for _ in range(5)),
)
CANDIDATES = (Candidate("a", "A", 1), Candidate("b", "B", 2))


ROW = ("bureaux_reported", "bureaux_total", "registered", "abstentions", "voters", "blank", "null", "valid")


@given(st.lists(TALLY, max_size=20))
def test_each_area_s_row_says_what_its_own_figures_say(tallies):
    width = len(row_of(Tally(0, 0, 0, 0, 0, {"a": 0, "b": 0})))
    sums = np.array([row_of(tally) for tally in tallies], np.int64).reshape(len(tallies), width)
    totals = np.arange(len(tallies), dtype=np.int64) + 5
    expected = []
    for tally, total in zip(tallies, totals.tolist(), strict=True):
        figures = summarize(tally, CANDIDATES, bureaux_total=total)
        candidates = [
            {key: candidate[key] for key in ("id", "votes", "pct_valid", "pct_registered")}
            for candidate in figures["candidates"]
        ]
        expected.append(
            {**{key: figures[key] for key in ROW}, "candidates": candidates, "leader": figures["leader"]}
        )
    assert area_rows(sums, CANDIDATES, totals) == expected
