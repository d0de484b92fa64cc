"""Hypothesis strategies for consistent returns of the sample election."""

from __future__ import annotations

from hypothesis import strategies as st

from tabulator.types import Return
from tests.builders import REPORTING, build_return

counts = st.integers(min_value=0, max_value=2_000)


@st.composite
def returns(draw: st.DrawFn, candidates: tuple[str, ...], bureau: str | None = None) -> Return:
    code = bureau or draw(st.sampled_from(REPORTING))
    votes = {candidate: draw(counts) for candidate in candidates}
    return build_return(code, votes=votes, blank=draw(st.integers(0, 20)), null=draw(st.integers(0, 20)))


@st.composite
def latest_returns(draw: st.DrawFn, candidates: tuple[str, ...]) -> list[Return]:
    """One return for each of a subset of the bureaux."""
    bureaux = draw(st.lists(st.sampled_from(REPORTING), unique=True))
    return [draw(returns(candidates, bureau)) for bureau in bureaux]
