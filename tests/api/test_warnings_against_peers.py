"""The store compares a return with the current returns of its département's other bureaux."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from api import create_app, store
from api.cli import main
from api.settings import Settings
from api.store import accounts, returns
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


# A clerk's return finds a duplicate among the peers it reads to learn its département or, while what the
# département teaches is kept (once learned from KNOWLEDGE_FROM_PEERS returns), by a query of its own.
@pytest.mark.parametrize("kept_from", [1_000_000, 0], ids=["learned-again", "knowledge-kept"])
def test_a_clerks_duplicate_is_found_whether_its_departement_is_learned_again_or_known(
    loaded, monkeypatch, kept_from
):
    monkeypatch.setattr(returns, "KNOWLEDGE_FROM_PEERS", kept_from)
    queried = []
    query = returns._same_counts
    monkeypatch.setattr(returns, "_same_counts", lambda *args, **kw: queried.append(1) or query(*args, **kw))
    reports = [
        record(loaded, build_return(code, votes={"hamon": 240, "valls": 150}, blank=blank, null=2))
        for code, blank in (("13-01-0001", 5), ("13-01-0002", 6), ("13-01-0003", 5))
    ]
    assert len(queried) == (2 if kept_from == 0 else 0)  # kept when 13-01-0001 was judged
    assert [[w.as_dict() for w in report.warnings] for report in reports] == [
        [],
        [],
        [
            {
                "code": "same_as_other_bureau",
                "message": "Bureau 13-01-0003: every count is identical to bureau 13-01-0001's return of "
                "this round: the same sheet typed twice, or under the wrong bureau's code?",
                "severity": "warning",
                "field": "voters",
                "bureau": "13-01-0003",
            }
        ],
    ]


# Where the warnings are seen: with each version, in the change feed, counted by code for a supervisor, and
# in an import's summary.

ROUND = "/api/v1/elections/mini-primaire/rounds/2"
DUPLICATE_NOTE = {
    "code": "same_as_other_bureau",
    "field": "voters",
    "message": "every count is identical to bureau 13-01-0001's return of this round: the same sheet typed "
    "twice, or under the wrong bureau's code?",
    "score": 100.0,
}


@pytest.fixture
def flagged_night(loaded: Engine, database_url, tmp_path):
    """Two ordinary returns of the Bouches-du-Rhône, then the first one's sheet typed under a third bureau,
    published with its warning; and a client with a supervisor's token."""
    record(
        loaded,
        build_return("13-01-0001", votes={"hamon": 240, "valls": 150}, blank=20, null=2),
        build_return("13-01-0002", votes={"hamon": 220, "valls": 139}, blank=19, null=2),
    )
    record(loaded, build_return("13-01-0003", votes={"hamon": 240, "valls": 150}, blank=20, null=2))
    settings = Settings(database_url=database_url, instance_path=tmp_path, head_cache_seconds=0)
    client = create_app(settings).test_client()
    token = accounts.create_token(loaded, "supervisor one", "supervisor")[1]
    return client, {"Authorization": f"Bearer {token}"}


def test_each_version_of_a_bureau_carries_its_warnings_in_full(flagged_night):
    client, _ = flagged_night
    versions = client.get(f"{ROUND}/results/bureau/13-01-0003").get_json()["versions"]
    assert [(v["version"], v["warnings"], v["warning_notes"]) for v in versions] == [
        (1, ["same_as_other_bureau"], [DUPLICATE_NOTE])
    ]
    clean = client.get(f"{ROUND}/results/bureau/13-01-0001").get_json()["versions"]
    assert [(v["warnings"], v["warning_notes"]) for v in clean] == [([], [])]


def test_the_change_feed_names_each_versions_warnings(flagged_night):
    client, _ = flagged_night
    changes = client.get(f"{ROUND}/changes?since=0").get_json()["changes"]
    assert [(c["bureau"], c["sequence"], c["warnings"]) for c in changes] == [
        ("13-01-0001", 1, []),
        ("13-01-0002", 1, []),
        ("13-01-0003", 2, ["same_as_other_bureau"]),
    ]


def test_a_supervisor_counts_the_rounds_warnings_by_code(flagged_night):
    client, supervisor = flagged_night
    response = client.get(f"{ROUND}/warnings", headers=supervisor)
    assert (response.status_code, response.headers["Cache-Control"], response.get_json()) == (
        200,
        "no-store",
        {
            "election": "mini-primaire",
            "round": 2,
            "sequence": 2,
            "published_flagged": 1,
            "waiting_flagged": 0,
            "by_code": {"same_as_other_bureau": {"published": 1, "waiting": 0, "first": ["13-01-0003"]}},
        },
    )
    assert client.get(f"{ROUND}/warnings").status_code == 401


def test_the_write_report_counts_its_warnings_by_code_and_names_the_first_bureaux(loaded):
    report = record(
        loaded,
        *(
            build_return(code, votes={"hamon": 240 + k, "valls": 150}, blank=20, null=2)
            for k, code in enumerate(("75-01-0001", "75-01-0002", "75-02-0001"))
        ),
        thresholds=Thresholds(),  # too few peers: the fixed shares flag every one
    )
    assert report.as_dict()["by_code"] == {
        "blank_share_high": {"count": 3, "first": ["75-01-0001", "75-01-0002", "75-02-0001"]},
    }


def test_the_cli_prints_the_rounds_warnings_by_code(flagged_night, database_url):
    counted = CliRunner().invoke(
        main,
        ["warnings", "--election", "mini-primaire", "--round", "2"],
        env={"TABULATOR_DATABASE_URL": database_url},
    )
    assert (counted.exit_code, counted.output) == (
        0,
        "mini-primaire round 2, sequence 2: 1 published returns and 0 waiting entries with a warning.\n"
        "  same_as_other_bureau           1 published       0 waiting  13-01-0003\n",
    )


def test_a_second_rounds_return_is_compared_with_its_own_first_round(loaded):
    first_round = [
        build_return(code, votes={"montebourg": 100, "hamon": 150, "valls": 150 + k}, blank=4, null=2)
        for k, code in enumerate(("13-01-0001", "13-01-0002", "13-01-0003"))
    ]
    store.record_returns(
        loaded, SAMPLE.id, 1, ReturnBatch.of(first_round, SAMPLE.round(1).candidate_ids), author="clerk"
    )
    record(
        loaded,
        build_return("13-01-0001", votes={"hamon": 240, "valls": 160}, blank=4, null=2),
        build_return("13-01-0002", votes={"hamon": 239, "valls": 162}, blank=4, null=2),
    )
    # Its hamon and valls typed in each other's column: ordinary for the département's spread, not for
    # what its own first round predicts (the peers' median change since then, added to its own figures).
    report = record(loaded, build_return("13-01-0003", votes={"hamon": 162, "valls": 240}, blank=4, null=2))
    assert [(w.code, w.message) for w in report.warnings] == [
        (
            "candidates_swapped",
            # Expected: 37.3 % + 22.3 points (the median of +22.5 and +22.2) and 37.8 % + 2.6 points.
            "Bureau 13-01-0003: hamon 40.3 % and valls 59.7 % here; 59.7 % and 40.4 % expected; 37.3 % and "
            "37.8 % in this bureau's previous round: the two columns look swapped.",
        )
    ]


# A round's own thresholds


@pytest.fixture
def night_tokens(loaded: Engine, database_url, tmp_path):
    settings = Settings(database_url=database_url, instance_path=tmp_path, head_cache_seconds=0)
    client = create_app(settings).test_client()
    tokens = {
        role: {"Authorization": f"Bearer {accounts.create_token(loaded, f'{role} one', role)[1]}"}
        for role in ("clerk", "supervisor")
    }
    return client, tokens


MANY_BLANK = {"voters": 412, "blank": 20, "null": 2, "valid": 390, "votes": {"hamon": 240, "valls": 150}}


def test_a_round_sets_its_own_thresholds_and_its_returns_are_judged_by_them(loaded, night_tokens):
    client, tokens = night_tokens
    held = client.put(f"{ROUND}/bureaux/75-01-0001/return", json=MANY_BLANK, headers=tokens["clerk"])
    assert (held.status_code, held.get_json()["by_code"]) == (
        202,
        {"blank_share_high": {"count": 1, "first": ["75-01-0001"]}},
    )
    # A night where blancs run high: from 6 % of votants rather than 3 %.
    changed = client.patch(
        ROUND, json={"warning_thresholds": {"blank_share": 0.06}}, headers=tokens["supervisor"]
    )
    assert (changed.status_code, changed.get_json()["warning_thresholds"]) == (200, {"blank_share": 0.06})
    published = client.put(f"{ROUND}/bureaux/75-01-0002/return", json=MANY_BLANK, headers=tokens["clerk"])
    assert (published.status_code, published.get_json()["flagged"]) == (201, 0)
    # {} gives the service's settings back.
    reset = client.patch(ROUND, json={"warning_thresholds": {}}, headers=tokens["supervisor"])
    assert (reset.status_code, reset.get_json()["warning_thresholds"]) == (200, {})
    again = client.put(f"{ROUND}/bureaux/75-02-0001/return", json=MANY_BLANK, headers=tokens["clerk"])
    assert (again.status_code, again.get_json()["flagged"]) == (202, 1)


@pytest.mark.parametrize(
    ("thresholds", "field", "message"),
    [
        (
            {"blank_share": 2},
            "blank_share",
            "Must be greater than or equal to 0.0 and less than or equal to 1.0.",
        ),
        ({"min_peers": 0.5}, "min_peers", "Not a valid integer."),
        ({"sideways": 1}, "sideways", "Unknown field."),
    ],
)
def test_a_threshold_out_of_its_range_or_unknown_is_refused_and_changes_nothing(
    loaded, night_tokens, thresholds, field, message
):
    client, tokens = night_tokens
    before = table_contents(loaded)
    refused = client.patch(ROUND, json={"warning_thresholds": thresholds}, headers=tokens["supervisor"])
    path = f"warning_thresholds.{field}"
    assert (refused.status_code, refused.get_json()) == (
        400,
        {"errors": [{"code": "bad_argument", "field": path, "message": f"{path}: {message}"}]},
    )
    assert {k: v for k, v in table_contents(loaded).items() if not k.startswith("audit")} == {
        k: v for k, v in before.items() if not k.startswith("audit")
    }
