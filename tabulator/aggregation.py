"""Summing returns up the area tree.

A return contributes one row of integers to each of its ancestor areas: one bureau reported, its counts,
its inscrits where known, and — when the same bureau reported in the previous round — its voters in both
rounds (the like-for-like set). A correction contributes the difference between its row and the row of
the version it replaces. Aggregates are sums of these rows, so the order of returns never matters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from tabulator.batch import UNKNOWN, IntArray, ReturnBatch
from tabulator.registry import Registry
from tabulator.types import Return, Tally

RESULT_FIELDS = (
    "bureaux_reported",
    "voters",
    "blank",
    "null",
    "valid",
    "registered",
    "bureaux_with_registered",
    "matched_bureaux",
    "matched_voters",
    "matched_previous_voters",
)


def contributions(
    counts: IntArray, votes: IntArray, registered: IntArray, previous_voters: IntArray
) -> IntArray:
    """One row per return: RESULT_FIELDS then the candidates' votes (UNKNOWN marks a missing value).

    `counts` holds voters, blank, null and valid in columns, `votes` the candidates' votes.
    """
    has_registered = registered != UNKNOWN
    matched = previous_voters != UNKNOWN
    voters = counts[:, 0]
    fixed = np.column_stack(
        [
            np.ones(len(counts), np.int64),
            counts,
            np.where(has_registered, registered, 0),
            has_registered.astype(np.int64),
            matched.astype(np.int64),
            np.where(matched, voters, 0),
            np.where(matched, previous_voters, 0),
        ]
    )
    return np.hstack([fixed, votes]).astype(np.int64)


def empty_tally(candidate_ids: Sequence[str]) -> Tally:
    return Tally(0, 0, 0, 0, 0, dict.fromkeys(candidate_ids, 0))


def tally_from_row(row: Sequence[int] | IntArray, candidate_ids: Sequence[str]) -> Tally:
    values = row.tolist() if isinstance(row, np.ndarray) else [int(value) for value in row]
    fixed = dict(zip(RESULT_FIELDS, values[: len(RESULT_FIELDS)], strict=True))
    votes = dict(zip(candidate_ids, values[len(RESULT_FIELDS) :], strict=True))
    return Tally(votes=votes, **fixed)


def row_of(tally: Tally) -> list[int]:
    return [getattr(tally, name) for name in RESULT_FIELDS] + list(tally.votes.values())


def add_return(tally: Tally, ret: Return, previous_voters: int | None = None) -> Tally:
    """The tally with one more bureau's return in it."""
    matched = previous_voters is not None
    return replace(
        tally,
        bureaux_reported=tally.bureaux_reported + 1,
        voters=tally.voters + ret.voters,
        blank=tally.blank + ret.blank,
        null=tally.null + ret.null,
        valid=tally.valid + ret.valid,
        votes={cid: count + ret.votes.get(cid, 0) for cid, count in tally.votes.items()},
        registered=tally.registered + (ret.registered or 0),
        bureaux_with_registered=tally.bureaux_with_registered + (ret.registered is not None),
        matched_bureaux=tally.matched_bureaux + matched,
        matched_voters=tally.matched_voters + (ret.voters if matched else 0),
        matched_previous_voters=tally.matched_previous_voters + (previous_voters or 0),
    )


def combine(tallies: Iterable[Tally]) -> Tally:
    """The tally of several disjoint sets of bureaux."""
    tallies = list(tallies)
    if not tallies:
        raise ValueError("combine() needs at least one tally, to know the candidates")
    total = np.sum([row_of(tally) for tally in tallies], axis=0)
    return tally_from_row(total, list(tallies[0].votes))


def aggregate(
    returns: Iterable[Return],
    registry: Registry,
    candidate_ids: Sequence[str],
    previous_voters: Mapping[str, int] | None = None,
) -> dict[tuple[str, str], Tally]:
    """The tally of every area, from the latest returns of its bureaux (one return per bureau)."""
    returns = list(returns)
    batch = ReturnBatch.of(returns, candidate_ids)
    rows = np.array([registry.bureau_index[ret.bureau] for ret in returns], np.int64)
    registered = np.where(batch.registered != UNKNOWN, batch.registered, registry.registered[rows])
    previous = np.array([(previous_voters or {}).get(ret.bureau, UNKNOWN) for ret in returns], np.int64)
    totals = registry.sum_up(rows, contributions(batch.counts, batch.votes, registered, previous))
    return {
        (area.level, area.code): tally_from_row(totals[position], candidate_ids)
        for position, area in enumerate(registry.areas)
    }


TURNOUT_FIELDS = (
    "bureaux_reported",
    "voters",
    "matched_bureaux",
    "matched_voters",
    "matched_previous_voters",
)


def aggregate_checkpoints(
    registry: Registry, rows: IntArray, voters: IntArray, previous_voters: IntArray
) -> IntArray:
    """Per area, one checkpoint hour: TURNOUT_FIELDS, like for like against the previous round's same hour."""
    matched = previous_voters != UNKNOWN
    values = np.column_stack(
        [
            np.ones(len(rows), np.int64),
            voters,
            matched.astype(np.int64),
            np.where(matched, voters, 0),
            np.where(matched, previous_voters, 0),
        ]
    ).astype(np.int64)
    return registry.sum_up(rows, values)
