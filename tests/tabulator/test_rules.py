"""Every refusal and warning of the rules, with its exact code, message and place."""

import numpy as np

from tabulator.batch import CheckpointBatch, ReturnBatch
from tabulator.registry import Registry
from tabulator.rules import DEFAULT_THRESHOLDS, Thresholds, check_checkpoints, check_counts, locate_bureaux
from tabulator.types import Checkpoint, Issue, Severity
from tests.builders import AREAS, BUREAUX, SAMPLE, build_return

REGISTRY = Registry.build(SAMPLE.levels, AREAS, BUREAUX)
CANDIDATES = SAMPLE.round(2).candidate_ids


def judge(*returns, previous=None, checkpoint_max=None, thresholds=DEFAULT_THRESHOLDS):
    batch = ReturnBatch.of(returns, CANDIDATES)
    rows, issues = locate_bureaux(batch.bureaux, batch.lines, REGISTRY)
    assert issues == []
    return check_counts(
        batch,
        rows,
        REGISTRY,
        previous_voters=None if previous is None else np.array(previous, np.int64),
        checkpoint_max=None if checkpoint_max is None else np.array(checkpoint_max, np.int64),
        thresholds=thresholds,
    )


def test_a_consistent_return_passes():
    errors, warnings = judge(build_return("75-01-0001", votes={"hamon": 250, "valls": 157}, blank=3, null=2))
    assert (errors, warnings.issues, warnings.count) == ([], [], 0)


def test_unknown_merged_repeated_bureaux_and_totals_rows_are_refused():
    codes = ("75-01-0001", "99-99-9999", "75-01-0003", "75-01-0001", "TOTAL")
    rows, issues = locate_bureaux(codes, (2, 3, 4, 5, 6), REGISTRY, column=1)
    assert rows.tolist() == [0, -1, 2, 0, -1]
    assert issues == [
        Issue(
            "unknown_bureau",
            "Line 3, bureau 99-99-9999: no such bureau in this election.",
            field="bureau",
            line=3,
            column=1,
            bureau="99-99-9999",
        ),
        Issue(
            "totals_row",
            "Line 6: this row has no bureau code ('TOTAL'); a totals row or a blank row cannot be "
            "loaded. Remove it.",
            field="bureau",
            line=6,
            column=1,
        ),
        Issue(
            "merged_bureau",
            "Line 4, bureau 75-01-0003: this bureau is merged into 75-01-0002; its ballots are "
            "counted in 75-01-0002's return.",
            field="bureau",
            line=4,
            column=1,
            bureau="75-01-0003",
        ),
        Issue(
            "duplicate_bureau",
            "Line 5, bureau 75-01-0001: this bureau already appears on line 2.",
            field="bureau",
            line=5,
            column=1,
            bureau="75-01-0001",
        ),
    ]


def test_counts_that_do_not_add_up_are_refused():
    errors, warnings = judge(
        build_return("75-01-0001", votes={"hamon": 250, "valls": 157}, blank=3, null=2, voters=400),
        build_return("75-01-0002", votes={"hamon": 250, "valls": 157}, valid=400),
    )
    assert errors == [
        Issue(
            "voters_mismatch",
            "Bureau 75-01-0001: votants (400) must equal blancs + nuls + exprimés (3 + 2 + 407 = 412).",
            field="voters",
            bureau="75-01-0001",
        ),
        Issue(
            "votes_mismatch",
            "Bureau 75-01-0002: the candidates' votes add up to 407, not to exprimés (400).",
            field="valid",
            bureau="75-01-0002",
        ),
    ]
    assert warnings.issues == []


def test_a_count_no_bureau_can_hold_is_refused():
    errors, _ = judge(build_return("75-01-0001", votes={"hamon": 1_000_000, "valls": 0}))
    assert errors == [
        Issue(
            "count_too_large",
            "Bureau 75-01-0001: a count of 1,000,000 is more than a bureau can hold (at most 999,999).",
            field="voters",
            bureau="75-01-0001",
        )
    ]


def test_voters_cannot_exceed_registered_nor_fall_below_a_checkpoint():
    errors, _ = judge(
        build_return("75-01-0001", votes={"hamon": 60, "valls": 50}, registered=100),
        build_return("75-01-0002", votes={"hamon": 60, "valls": 50}),
        checkpoint_max=[-1, 120],
    )
    assert errors == [
        Issue(
            "voters_above_registered",
            "Bureau 75-01-0001: votants (110) cannot exceed inscrits (100).",
            field="voters",
            bureau="75-01-0001",
        ),
        Issue(
            "voters_below_checkpoint",
            "Bureau 75-01-0002: votants (110) is below the 120 voters already "
            "reported at a turnout checkpoint of this bureau.",
            field="voters",
            bureau="75-01-0002",
        ),
    ]


def test_unusual_returns_are_accepted_with_warnings():
    errors, warnings = judge(
        build_return("75-01-0001", votes={"hamon": 60, "valls": 37}, blank=3),
        build_return("75-01-0002", votes={"hamon": 60, "valls": 36}, null=4),
        build_return("75-02-0001", votes={"hamon": 0, "valls": 0}),
        build_return("13-01-0001", votes={"hamon": 200, "valls": 101}),
        previous=[100, 100, 10, 100],
    )
    assert errors == []
    assert warnings.codes_by_row(4) == ["blank_share_high", "null_share_high", "zero_voters", "voters_jump"]
    assert warnings.issues == [
        Issue(
            "blank_share_high",
            "Bureau 75-01-0001: blancs are 3.0 % of votants (flagged from 3 %).",
            Severity.WARNING,
            field="blank",
            bureau="75-01-0001",
        ),
        Issue(
            "null_share_high",
            "Bureau 75-01-0002: nuls are 4.0 % of votants (flagged from 3 %).",
            Severity.WARNING,
            field="null",
            bureau="75-01-0002",
        ),
        Issue(
            "zero_voters",
            "Bureau 75-02-0001: no votants at all.",
            Severity.WARNING,
            field="voters",
            bureau="75-02-0001",
        ),
        Issue(
            "voters_jump",
            "Bureau 13-01-0001: votants (301) against 100 in the previous round: more than 3 "
            "times more or less.",
            Severity.WARNING,
            field="voters",
            bureau="13-01-0001",
        ),
    ]


def test_thresholds_come_from_settings():
    _, warnings = judge(
        build_return("75-01-0001", votes={"hamon": 60, "valls": 37}, blank=3),
        thresholds=Thresholds(blank_share=0.05),
    )
    assert (warnings.issues, warnings.count) == ([], 0)


def test_checkpoints_rise_through_the_day_and_stay_below_the_final_voters():
    batch = CheckpointBatch.of(
        [
            Checkpoint("75-01-0001", "17:00", 90),
            Checkpoint("75-01-0002", "12:00", 300),
            Checkpoint("13-01-0001", "25:00", 10),
        ]
    )
    assert check_checkpoints(batch, {}, {})[0].code == "bad_time"
    batch = CheckpointBatch.of(
        [Checkpoint("75-01-0001", "17:00", 90), Checkpoint("75-01-0002", "12:00", 300)]
    )
    issues = check_checkpoints(
        batch, {"75-01-0001": {"12:00": 95}, "75-01-0002": {"17:00": 250}}, {"75-01-0002": 280}
    )
    assert issues == [
        Issue(
            "checkpoint_below_earlier",
            "Bureau 75-01-0001: 90 voters at 17:00 is fewer than the 95 already "
            "counted at 12:00; voters so far can only grow through the day.",
            field="voters",
            bureau="75-01-0001",
        ),
        Issue(
            "checkpoint_above_final",
            "Bureau 75-01-0002: 300 voters at 12:00 is more than the 280 votants of the bureau's return.",
            field="voters",
            bureau="75-01-0002",
        ),
        Issue(
            "checkpoint_below_earlier",
            "Bureau 75-01-0002: 300 voters at 12:00 is more than the 250 counted "
            "later, at 17:00; voters so far can only grow through the day.",
            field="voters",
            bureau="75-01-0002",
        ),
    ]


def test_a_rounds_own_thresholds_replace_the_settings_and_leave_the_rest():
    from tabulator.anomalies import AnomalyThresholds
    from tabulator.rules import DEFAULT_THRESHOLDS, Thresholds, with_overrides

    mine = with_overrides(DEFAULT_THRESHOLDS, {"blank_share": 0.06, "min_peers": 12.0, "deviation": 8.0})
    assert mine == Thresholds(
        blank_share=0.06,
        null_share=0.03,
        jump_factor=3.0,
        anomalies=AnomalyThresholds(min_peers=12, deviation=8.0),
    )
    assert type(mine.anomalies.min_peers) is int  # a count of peers, whatever JSON made of it
    assert with_overrides(DEFAULT_THRESHOLDS, {}) == DEFAULT_THRESHOLDS
