"""Percentages and changes, computed from summed counts and rounded once, here, at the edge.

Every percentage names its denominator: `pct_valid` (exprimés), `pct_voters` (votants),
`pct_registered` (inscrits). Rounding is half away from zero on the exact fraction, done in integers so
that 66.485 % stays a tie and is never a float's 66.48499999.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from tabulator.aggregation import RESULT_FIELDS
from tabulator.types import Candidate, Tally

IntArray = npt.NDArray[np.int64]
FIELD = {name: column for column, name in enumerate(RESULT_FIELDS)}


def percent(part: int, whole: int, places: int = 2) -> float | None:
    """`part` as a percentage of `whole`, or None when there is no whole to divide by."""
    if whole == 0:
        return None
    return _round_fraction(part * 100, whole, places)


def change(current: int, previous: int, places: int = 2) -> float | None:
    """The change from `previous` to `current`, in percent (+22.8 means 22.8 % more)."""
    if previous == 0:
        return None
    return _round_fraction((current - previous) * 100, previous, places)


def _round_fraction(numerator: int, denominator: int, places: int) -> float:
    """numerator / denominator to `places` decimals, halves away from zero, in integers (a whole
    publication calls this over a million times: it is kept short)."""
    scale: int = 10**places
    quotient: int
    quotient, remainder = divmod(abs(numerator) * scale, abs(denominator))
    quotient += 2 * remainder >= abs(denominator)
    # Both exact as floats (below 2**53), so their quotient is the correctly rounded one.
    return (-quotient if (numerator < 0) != (denominator < 0) else quotient) / scale


def summarize(
    tally: Tally,
    candidates: Sequence[Candidate],
    *,
    bureaux_total: int,
    previous: Tally | None = None,
) -> dict[str, object]:
    """The published figures of one area: counts, their percentages, the leader and the change."""
    known = registered_known(tally)
    return {
        "bureaux_reported": tally.bureaux_reported,
        "bureaux_total": bureaux_total,
        "bureaux_reported_pct": percent(tally.bureaux_reported, bureaux_total),
        "registered": tally.registered if known else None,
        "abstentions": tally.registered - tally.voters if known else None,
        "abstentions_pct_registered": percent(tally.registered - tally.voters, tally.registered)
        if known
        else None,
        "turnout_pct_registered": percent(tally.voters, tally.registered) if known else None,
        "voters": tally.voters,
        "blank": tally.blank,
        "blank_pct_voters": percent(tally.blank, tally.voters),
        "null": tally.null,
        "null_pct_voters": percent(tally.null, tally.voters),
        "valid": tally.valid,
        "valid_pct_voters": percent(tally.valid, tally.voters),
        "candidates": [
            {
                "id": candidate.id,
                "name": candidate.name,
                "ballot_order": candidate.ballot_order,
                "votes": tally.votes.get(candidate.id, 0),
                "pct_valid": percent(tally.votes.get(candidate.id, 0), tally.valid),
                "pct_voters": percent(tally.votes.get(candidate.id, 0), tally.voters),
                "pct_registered": percent(tally.votes.get(candidate.id, 0), tally.registered)
                if known
                else None,
            }
            for candidate in candidates
        ],
        "leader": leader(tally, candidates),
        "voters_change": voters_change(tally, previous),
    }


def registered_known(tally: Tally) -> bool:
    """Whether the area's inscrits are known: every bureau it sums gave them (an open primary has none)."""
    return tally.bureaux_reported > 0 and tally.bureaux_with_registered == tally.bureaux_reported


FEW = 16  # rows below which `percents` divides one by one


def percents(parts: IntArray, wholes: IntArray, places: int = 2) -> list[float | None]:
    """`percent` of many parts at once, with the same exact rounding (in integers); None where the whole
    is 0. The same floats as `percent`: an integer quotient divided by 10**places."""
    if len(parts) <= FEW:  # a commune's few bureaux: numpy's fixed cost per call is more than the sums
        return [
            percent(part, whole, places) for part, whole in zip(parts.tolist(), wholes.tolist(), strict=True)
        ]
    whole = np.abs(wholes)
    safe = np.where(whole == 0, 1, whole)
    quotient, remainder = np.divmod(np.abs(parts) * 100 * 10**places, safe)
    quotient += 2 * remainder >= safe
    signed = np.where((parts < 0) != (wholes < 0), -quotient, quotient) / 10**places
    return [None if w == 0 else v for v, w in zip(signed.tolist(), whole.tolist(), strict=True)]


def area_rows(
    sums: IntArray, candidates: Sequence[Candidate], bureaux_total: IntArray
) -> list[dict[str, object]]:
    """Areas' figures as rows among others (a parent's children, a level's feed), from their sums (a row
    each: RESULT_FIELDS, then the candidates' votes in ballot order): the counts, each candidate's votes
    and shares, and the leader, as `summarize` gives them, for 36,000 communes without a Tally or a
    division per figure."""
    column = {name: sums[:, index] for name, index in FIELD.items()}
    votes = sums[:, len(RESULT_FIELDS) :]
    reported, registered, voters = column["bureaux_reported"], column["registered"], column["voters"]
    known = ((reported > 0) & (column["bureaux_with_registered"] == reported)).tolist()
    ids = [candidate.id for candidate in candidates]
    # Built column by column and zipped into rows: a département's 600 communes, a level's 36,000, without
    # an index lookup per figure.
    each_candidate = [
        [
            {
                "id": ids[c],
                "votes": count,
                "pct_valid": of_valid,
                "pct_registered": of_registered if shown else None,
            }
            for count, of_valid, of_registered, shown in zip(
                votes[:, c].tolist(),
                percents(votes[:, c], column["valid"]),
                percents(votes[:, c], registered),
                known,
                strict=True,
            )
        ]
        for c in range(len(candidates))
    ]
    # np.argmax takes the first of equal maxima: the first on the ballot, as `leader` decides.
    first = np.argmax(votes, axis=1).tolist() if len(candidates) else [0] * len(sums)
    leads = (votes.max(axis=1) > 0).tolist() if len(candidates) else [False] * len(sums)
    leaders = [ids[top] if lead else None for top, lead in zip(first, leads, strict=True)]
    counts = (reported, bureaux_total, registered, voters, column["blank"], column["null"], column["valid"])
    return [
        {
            "bureaux_reported": in_area,
            "bureaux_total": total,
            "registered": on_rolls if shown else None,
            "abstentions": on_rolls - came if shown else None,
            "voters": came,
            "blank": blank,
            "null": null,
            "valid": valid,
            "candidates": list(row_candidates),
            "leader": ahead,
        }
        for (in_area, total, on_rolls, came, blank, null, valid), shown, row_candidates, ahead in zip(
            zip(*(values.tolist() for values in counts), strict=True),
            known,
            zip(*each_candidate, strict=True) if candidates else ([] for _ in known),
            leaders,
            strict=True,
        )
    ]


def leader(tally: Tally, candidates: Sequence[Candidate]) -> str | None:
    """The candidate with the most votes, the first on the ballot among equals; None before any vote. The
    one place an area's leader is decided: its figures and its row among its parent's children."""
    first = min(candidates, key=lambda c: (-tally.votes.get(c.id, 0), c.ballot_order), default=None)
    return first.id if first is not None and tally.votes.get(first.id, 0) > 0 else None


def voters_change(tally: Tally, previous: Tally | None) -> dict[str, object] | None:
    """Voters against the previous round: over all bureaux, and like for like on the matched set."""
    if previous is None:
        return None
    return {
        "all_bureaux": {
            "voters": tally.voters,
            "previous_voters": previous.voters,
            "change_pct": change(tally.voters, previous.voters),
        },
        "like_for_like": {
            "voters": tally.matched_voters,
            "previous_voters": tally.matched_previous_voters,
            "change_pct": change(tally.matched_voters, tally.matched_previous_voters),
            "matched_bureaux": tally.matched_bureaux,
        },
    }
