"""A write decided without a database: what a batch of returns does against what is stored."""

import numpy as np

from tabulator.aggregation import RESULT_FIELDS
from tabulator.batch import UNKNOWN, CheckpointBatch, ReturnBatch
from tabulator.plan import Context, Rights, StoredReturns, new_versions, plan_checkpoints, plan_returns
from tabulator.registry import Registry
from tabulator.rules import locate_bureaux
from tabulator.types import Checkpoint, Issue
from tests.builders import AREAS, BUREAUX, SAMPLE, build_return

REGISTRY = Registry.build(SAMPLE.levels, AREAS, BUREAUX)
CANDIDATES = SAMPLE.round(2).candidate_ids  # hamon, valls
FIRST = build_return("75-01-0001", votes={"hamon": 250, "valls": 157}, blank=3, null=2)
SECOND = build_return("75-01-0002", votes={"hamon": 100, "valls": 80}, blank=1, null=1)


def stored(*returns, versions):
    """What the store would read for these bureaux: `None` where a bureau has no return yet."""
    present = [r for r in returns if r is not None]
    batch = ReturnBatch.of(present, CANDIDATES) if present else None
    exists = np.array([r is not None for r in returns])
    counts = np.zeros((len(returns), 4), np.int64)
    votes = np.zeros((len(returns), len(CANDIDATES)), np.int64)
    if batch is not None:
        counts[exists], votes[exists] = batch.counts, batch.votes
    return StoredReturns(
        exists=exists,
        version=np.array(versions, np.int64),
        counts=counts,
        votes=votes,
        registered=np.full(len(returns), UNKNOWN, np.int64),
    )


ANYONE = Rights()


def plan(returns, stored_returns, rights=ANYONE, previous=None):
    batch = ReturnBatch.of(returns, CANDIDATES)
    rows, issues = locate_bureaux(batch.bureaux, batch.lines, REGISTRY)
    assert issues == []
    unknown = np.full(len(returns), UNKNOWN, np.int64)
    context = Context(np.array(previous, np.int64) if previous else unknown, unknown)
    return batch, rows, context, plan_returns(batch, rows, REGISTRY, stored_returns, context, rights=rights)


def test_a_new_return_is_written_and_the_same_counts_again_change_nothing():
    _, _, _, decided = plan([FIRST, SECOND], stored(None, SECOND, versions=[0, 1]))
    assert (decided.errors, decided.stale_version) == ([], None)
    assert (decided.changed.tolist(), decided.corrected.tolist(), decided.unchanged) == (
        [True, False],
        [False, False],
        1,
    )
    assert (decided.warning_codes, decided.reasons) == (["", ""], [None, None])


def test_a_correction_needs_a_reason_and_the_right_to_correct():
    other = build_return("75-01-0001", votes={"hamon": 251, "valls": 156}, blank=3, null=2)
    before = stored(FIRST, versions=[1])
    _, _, _, without_reason = plan([other], before)
    assert without_reason.errors == [
        Issue(
            "reason_required",
            "Bureau 75-01-0001: this bureau has already reported other counts; a correction needs a reason.",
            field="reason",
            bureau="75-01-0001",
        )
    ]
    _, _, _, by_a_clerk = plan([other], before, Rights(may_correct=False, reason="recount"))
    assert by_a_clerk.errors == [
        Issue(
            "correction_needs_supervisor",
            "Bureau 75-01-0001: this bureau has already reported other counts; only a supervisor may correct "
            "them.",
            bureau="75-01-0001",
        )
    ]
    _, _, _, by_a_supervisor = plan([other], before, Rights(reason="recount"))
    assert (by_a_supervisor.errors, by_a_supervisor.corrected.tolist(), by_a_supervisor.reasons) == (
        [],
        [True],
        ["recount"],
    )


def test_a_return_sent_against_an_older_version_is_refused_with_the_latest():
    _, _, _, decided = plan([FIRST], stored(FIRST, versions=[3]), Rights(expected_version=2))
    assert decided.stale_version == 3
    assert decided.errors == [
        Issue(
            "stale_version",
            "Bureau 75-01-0001: you sent your counts against version 2 of its return, but version 3 has "
            "been recorded since. Check its counts and send again.",
            bureau="75-01-0001",
        )
    ]


def test_counts_that_break_a_rule_come_before_everything_else():
    broken = build_return("75-01-0001", votes={"hamon": 250, "valls": 157}, voters=400)
    _, _, _, decided = plan(
        [broken], stored(FIRST, versions=[2]), Rights(may_correct=False, expected_version=1)
    )
    assert ([issue.code for issue in decided.errors], decided.stale_version) == (["voters_mismatch"], None)


def test_new_versions_add_their_difference_to_their_areas():
    corrected = build_return("75-01-0001", votes={"hamon": 260, "valls": 157}, blank=3, null=2)
    before = stored(FIRST, None, versions=[1, 0])
    batch, rows, context, decided = plan(
        [corrected, SECOND], before, Rights(reason="typo"), previous=[390, -1]
    )
    new = new_versions(decided, batch, rows, before, context, publish=decided.changed, authors=["ana", "bob"])
    assert (new.positions.tolist(), new.rows.tolist(), new.versions.tolist()) == ([0, 1], [0, 1], [2, 1])
    assert (new.reasons, new.authors) == (["typo", None], ["ana", "bob"])
    fields = [*RESULT_FIELDS, *CANDIDATES]
    assert dict(zip(fields, new.delta[0].tolist(), strict=True)) == {
        **dict.fromkeys(fields, 0),
        "voters": 10,
        "valid": 10,
        "matched_voters": 10,
        "hamon": 10,
    }
    assert dict(zip(fields, new.delta[1].tolist(), strict=True)) == {
        **dict.fromkeys(fields, 0),
        "bureaux_reported": 1,
        "voters": 182,
        "blank": 1,
        "null": 1,
        "valid": 180,
        "hamon": 100,
        "valls": 80,
    }


def test_a_checkpoint_is_new_a_correction_or_the_same_count_again():
    batch = CheckpointBatch.of(
        [
            Checkpoint("75-01-0001", "12:00", 120),
            Checkpoint("75-01-0001", "17:00", 300),
            Checkpoint("75-01-0002", "12:00", 90),
        ]
    )
    decided = plan_checkpoints(batch, [{"12:00": (120, 1)}, {"12:00": (120, 1), "17:00": (290, 2)}, {}])
    assert (decided.rows, decided.created, decided.corrected, decided.unchanged) == (
        [(1, 3), (2, 1)],
        1,
        1,
        1,
    )
