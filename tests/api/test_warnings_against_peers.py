"""The store compares a return with the current returns of its département's other bureaux."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from api import store
from tabulator.anomalies import AnomalyThresholds
from tabulator.batch import ReturnBatch
from tabulator.rules import Thresholds
from tests.builders import AREAS, BUREAUX, SAMPLE, build_return
from tests.conftest import table_contents

CANDIDATES = SAMPLE.round(2).candidate_ids
# The sample has three bureaux in the Bouches-du-Rhône: two peers are enough to compare with here.
FEW_PEERS = Thresholds(anomalies=AnomalyThresholds(min_peers=2, duplicate_min_voters=100))


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    store.create_election(engine, SAMPLE, AREAS, BUREAUX)
    return engine


def record(engine: Engine, *returns, thresholds: Thresholds = FEW_PEERS) -> store.RecordReport:
    batch = ReturnBatch.of(returns, CANDIDATES)
    return store.record_returns(engine, SAMPLE.id, 2, batch, author="clerk", thresholds=thresholds)


def test_blancs_ordinary_for_the_departement_are_not_flagged_by_a_fixed_share(loaded):
    # 20 blancs of 412 votants (4.9 %) is above the fixed 3 %, and what the département's bureaux show.
    report = record(
        loaded,
        build_return("13-01-0001", votes={"hamon": 240, "valls": 150}, blank=20, null=2),
        build_return("13-01-0002", votes={"hamon": 220, "valls": 139}, blank=19, null=2),
    )
    assert (report.created, report.flagged, report.warnings) == (2, 0, [])


def test_without_peers_the_fixed_share_still_flags(loaded):
    report = record(loaded, build_return("75-01-0001", votes={"hamon": 240, "valls": 150}, blank=20, null=2))
    assert (report.flagged, [w.code for w in report.warnings]) == (1, ["blank_share_high"])


def test_a_sheet_typed_under_a_second_bureau_is_flagged_with_the_first_bureau_named(loaded):
    record(
        loaded,
        build_return("13-01-0001", votes={"hamon": 240, "valls": 150}, blank=20, null=2),
        build_return("13-01-0002", votes={"hamon": 220, "valls": 139}, blank=19, null=2),
    )
    report = record(loaded, build_return("13-01-0003", votes={"hamon": 240, "valls": 150}, blank=20, null=2))
    assert (report.created, report.flagged) == (1, 1)
    assert [w.as_dict() for w in report.warnings] == [
        {
            "code": "same_as_other_bureau",
            "message": "Bureau 13-01-0003: every count is identical to bureau 13-01-0001's return of this "
            "round: the same sheet typed twice, or under the wrong bureau's code?",
            "severity": "warning",
            "field": "voters",
            "bureau": "13-01-0003",
        }
    ]
    stored = {row["bureau_id"]: row["warnings"] for row in table_contents(loaded)["return_versions"]}
    assert sorted(stored.values()) == ["", "", "same_as_other_bureau"]
