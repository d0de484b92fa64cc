"""The projection (tabulator/projection.py) on rounds made up so that the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabulator.projection import MIN_COUNTED, Bureaux, Estimate, project

DEPARTEMENTS = 6


def made_up_round(seed: int, noise: float) -> Bureaux:
    """600 bureaux over 6 départements. A candidate's share = 0.3 + 0.5 × its previous share + the
    département's swing (+ noise); turnout follows the previous round's."""
    random = np.random.default_rng(seed)
    count = 600
    group = np.arange(count) % DEPARTEMENTS
    previous = random.uniform(0.2, 0.8, count)
    previous_turnout = random.uniform(0.5, 0.9, count)
    swing = np.linspace(-0.04, 0.04, DEPARTEMENTS)[group]
    share = np.clip(0.3 + 0.5 * previous + swing + random.normal(0, noise, count), 0, 1)
    size = random.integers(200, 1500, count).astype(np.float64)
    voters = np.round(size * (0.05 + previous_turnout))
    valid = voters - 3
    first = np.round(valid * share)
    return Bureaux(
        counted=np.zeros(count, bool),
        report_order=np.arange(count, dtype=np.float64),
        size=size,
        voters=voters,
        valid=valid,
        votes=np.column_stack([first, valid - first]),
        covariates=np.column_stack([previous, previous_turnout]),
        group=group.astype(np.int64),
    )


def counted_first(bureaux: Bureaux, count: int) -> Bureaux:
    counted = np.zeros(len(bureaux.group), bool)
    counted[:count] = True
    return Bureaux(**{**bureaux.__dict__, "counted": counted})


def test_nothing_is_projected_from_fewer_bureaux_than_the_model_needs():
    bureaux = made_up_round(1, 0.02)
    assert project(counted_first(bureaux, MIN_COUNTED - 1)) is None
    assert project(counted_first(bureaux, MIN_COUNTED)) is not None


def test_with_every_bureau_counted_the_projection_is_the_count_with_no_width():
    bureaux = made_up_round(2, 0.03)
    model = project(counted_first(bureaux, len(bureaux.group)))
    area = model.area(np.arange(len(bureaux.group)))
    votes = bureaux.votes.sum(axis=0)
    shares = votes / votes.sum()
    assert area.voters == Estimate(bureaux.voters.sum(), bureaux.voters.sum(), bureaux.voters.sum())
    assert [(e.value, e.low, e.high) for e in area.shares] == [(s, s, s) for s in shares]
    assert (area.counted_bureaux, area.bureaux, area.leader, area.leader_stays_ahead) == (600, 600, 0, 1.0)


def test_a_world_the_model_describes_exactly_is_projected_exactly_from_half_of_it():
    bureaux = made_up_round(3, 0.0)  # no noise: shares are linear in the covariates and the swing
    model = project(counted_first(bureaux, 300))
    departement = np.flatnonzero(bureaux.group == 2)
    truth = bureaux.votes[departement].sum(axis=0) / bureaux.valid[departement].sum()
    projected = model.area(departement).shares
    # Votes are whole numbers, so a bureau's share is the formula's to within half a vote.
    assert [round(e.value, 3) for e in projected] == [round(t, 3) for t in truth]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), counted=st.integers(MIN_COUNTED, 599))
def test_every_interval_holds_its_value_and_the_shares_sum_to_one(seed: int, counted: int):
    bureaux = made_up_round(seed, 0.05)
    model = project(counted_first(bureaux, counted))
    for members in (np.arange(600), np.flatnonzero(bureaux.group == seed % DEPARTEMENTS)):
        area = model.area(members)
        assert all(0 <= e.low <= e.value <= e.high <= 1 for e in area.shares)
        assert sum(e.value for e in area.shares) == pytest.approx(1.0)
        assert area.voters.low <= area.voters.value <= area.voters.high
        assert area.voters.low >= bureaux.voters[members[members < counted]].sum()
        assert 0.0 <= area.leader_stays_ahead <= 1.0


def test_an_area_with_nothing_to_count_has_no_projection_and_a_tie_gives_even_odds():
    bureaux = made_up_round(4, 0.02)
    tied = Bureaux(
        **{
            **bureaux.__dict__,
            "counted": np.ones(600, bool),
            "votes": np.column_stack([bureaux.valid // 2, bureaux.valid // 2]),
            "valid": (bureaux.valid // 2) * 2,
        }
    )
    model = project(counted_first(bureaux, 300))
    assert model.area(np.array([], np.int64)) is None
    assert project(tied).area(np.arange(600)).leader_stays_ahead == 0.5
