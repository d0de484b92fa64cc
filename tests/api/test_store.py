"""The store on SQLite and PostgreSQL: versions, corrections, refusals that change nothing, sums, verify."""

from __future__ import annotations

import gc
import runpy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, event

from api import documents, store
from api.store import db
from api.store.caches import engine_caches
from api.store.db import reading, writing
from api.store.models import ReturnVersionRow
from tabulator.batch import CheckpointBatch, ReturnBatch
from tabulator.types import Bureau, Checkpoint, Issue
from tests.builders import AREAS, BUREAUX, EVENING, SAMPLE, build_return
from tests.conftest import table_contents

GUNICORN_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "gunicorn.conf.py"
ROUND_2 = SAMPLE.round(2).candidate_ids
ROUND_1 = SAMPLE.round(1).candidate_ids


def record(engine: Engine, round_number: int, *returns, reason: str | None = None) -> store.RecordReport:
    candidates = ROUND_1 if round_number == 1 else ROUND_2
    return store.record_returns(
        engine, SAMPLE.id, round_number, ReturnBatch.of(returns, candidates), author="clerk", reason=reason
    )


def national(engine: Engine, round_number: int = 2) -> dict:
    return documents.results_document(engine, SAMPLE.id, round_number)["results"]


def test_a_new_return_is_summed_into_every_ancestor_and_published(sample_election):
    report = record(
        sample_election, 2, build_return("75-01-0001", votes={"hamon": 250, "valls": 157}, blank=3, null=2)
    )
    assert report.as_dict() == {
        "created": 1,
        "corrected": 0,
        "unchanged": 0,
        "flagged": 0,
        "held": 0,
        "waiting": 0,
        "version": 1,
        "sequence": 1,
        "warnings": [],
        "by_code": {},
    }
    document = documents.results_document(sample_election, SAMPLE.id, 2, "departement", "75")
    assert document == {
        "election": "mini-primaire",
        "round": 2,
        "sequence": 1,
        "as_of": "2017-01-29T19:00:00+00:00",
        "published_at": document["published_at"],
        "bureaux_reported": 1,
        "bureaux_total": 6,
        "status": "partial",
        "test": False,
        "area": {"level": "departement", "code": "75", "name": "Paris"},
        "parents": [
            {"level": "national", "code": "FR", "name": "France"},
            {"level": "region", "code": "11", "name": "Île-de-France"},
        ],
        "results": {
            "bureaux_reported": 1,
            "bureaux_total": 3,
            "bureaux_reported_pct": 33.33,
            "registered": None,
            "abstentions": None,
            "abstentions_pct_registered": None,
            "turnout_pct_registered": None,
            "voters": 412,
            "blank": 3,
            "blank_pct_voters": 0.73,
            "null": 2,
            "null_pct_voters": 0.49,
            "valid": 407,
            "valid_pct_voters": 98.79,
            "candidates": [
                {
                    "id": "hamon",
                    "name": "Benoît Hamon",
                    "ballot_order": 1,
                    "votes": 250,
                    "pct_valid": 61.43,
                    "pct_voters": 60.68,
                    "pct_registered": None,
                },
                {
                    "id": "valls",
                    "name": "Manuel Valls",
                    "ballot_order": 2,
                    "votes": 157,
                    "pct_valid": 38.57,
                    "pct_voters": 38.11,
                    "pct_registered": None,
                },
            ],
            "leader": "hamon",
            "voters_change": {
                "all_bureaux": {"voters": 412, "previous_voters": 0, "change_pct": None},
                "like_for_like": {
                    "matched_bureaux": 0,
                    "voters": 0,
                    "previous_voters": 0,
                    "change_pct": None,
                },
            },
        },
        "children": [
            {
                "level": "circonscription",
                "code": "75-01",
                "name": "1re circonscription de Paris",
                "bureaux_reported": 1,
                "bureaux_total": 2,
                "registered": None,
                "abstentions": None,
                "voters": 412,
                "blank": 3,
                "null": 2,
                "valid": 407,
                "candidates": [
                    {"id": "hamon", "votes": 250, "pct_valid": 61.43, "pct_registered": None},
                    {"id": "valls", "votes": 157, "pct_valid": 38.57, "pct_registered": None},
                ],
                "leader": "hamon",
            },
            {
                "level": "circonscription",
                "code": "75-02",
                "name": "2e circonscription de Paris",
                "bureaux_reported": 0,
                "bureaux_total": 1,
                "registered": None,
                "abstentions": None,
                "voters": 0,
                "blank": 0,
                "null": 0,
                "valid": 0,
                "candidates": [
                    {"id": "hamon", "votes": 0, "pct_valid": None, "pct_registered": None},
                    {"id": "valls", "votes": 0, "pct_valid": None, "pct_registered": None},
                ],
                "leader": None,
            },
        ],
    }
    assert datetime.fromisoformat(document["published_at"]).tzinfo == UTC
    assert store.verify(sample_election) == []


def test_resending_identical_counts_changes_nothing(sample_election):
    ret = build_return("75-01-0001", votes={"hamon": 250, "valls": 157})
    record(sample_election, 2, ret)
    before = table_contents(sample_election)
    report = record(sample_election, 2, ret)
    assert (report.unchanged, report.sequence) == (1, None)
    assert table_contents(sample_election) == before


def test_a_correction_needs_a_reason_and_becomes_the_next_version(sample_election):
    record(sample_election, 2, build_return("75-01-0001", votes={"hamon": 250, "valls": 157}))
    corrected = build_return("75-01-0001", votes={"hamon": 157, "valls": 250})
    before = table_contents(sample_election)
    with pytest.raises(store.Refused) as refused:
        record(sample_election, 2, corrected)
    assert refused.value.issues == [
        Issue(
            "reason_required",
            "Bureau 75-01-0001: this bureau has already reported other counts; a correction needs a reason.",
            field="reason",
            bureau="75-01-0001",
        )
    ]
    assert table_contents(sample_election) == before
    report = record(sample_election, 2, corrected, reason="Hamon and Valls swapped at entry")
    assert (report.created, report.corrected, report.sequence) == (0, 1, 2)
    assert [c["votes"] for c in national(sample_election)["candidates"]] == [157, 250]
    versions = table_contents(sample_election)["return_versions"]
    assert [(v["bureau_id"], v["version"], v["valid"], v["author"], v["reason"]) for v in versions] == [
        (1, 1, 407, "clerk", None),
        (1, 2, 407, "clerk", "Hamon and Valls swapped at entry"),
    ]
    assert store.verify(sample_election) == []


def test_a_refused_batch_changes_nothing_and_lists_every_error(sample_election):
    record(sample_election, 2, build_return("75-01-0002", votes={"hamon": 10, "valls": 10}))
    before = table_contents(sample_election)
    with pytest.raises(store.Refused) as refused:
        record(
            sample_election,
            2,
            build_return("75-01-0001", votes={"hamon": 250, "valls": 157}),
            build_return("13-01-0001", votes={"hamon": 250, "valls": 157}, voters=400),
            build_return("13-01-0002", votes={"hamon": 1, "valls": 1}, valid=3),
        )
    assert [(i.code, i.bureau) for i in refused.value.issues] == [
        ("voters_mismatch", "13-01-0001"),
        ("votes_mismatch", "13-01-0002"),
    ]
    with pytest.raises(store.Refused) as refused:
        record(sample_election, 2, build_return("75-01-0003", votes={"hamon": 1, "valls": 1}))
    assert [i.code for i in refused.value.issues] == ["merged_bureau"]
    assert table_contents(sample_election) == before


def test_like_for_like_change_follows_both_rounds_and_their_corrections(sample_election):
    record(
        sample_election,
        1,
        build_return("75-01-0001", votes={"montebourg": 20, "hamon": 40, "valls": 40}),
        build_return("13-01-0001", votes={"montebourg": 0, "hamon": 100, "valls": 100}),
    )
    record(
        sample_election,
        2,
        build_return("75-01-0001", votes={"hamon": 70, "valls": 50}),
        build_return("75-02-0001", votes={"hamon": 70, "valls": 50}),
    )
    assert national(sample_election)["voters_change"] == {
        "all_bureaux": {"voters": 240, "previous_voters": 300, "change_pct": -20.0},
        "like_for_like": {"matched_bureaux": 1, "voters": 120, "previous_voters": 100, "change_pct": 20.0},
    }
    # A late correction of round 1 moves round 2's like-for-like base, and publishes round 2 anew.
    record(
        sample_election,
        1,
        build_return("75-01-0001", votes={"montebourg": 0, "hamon": 40, "valls": 40}),
        reason="typo",
    )
    assert national(sample_election)["voters_change"]["like_for_like"] == {
        "matched_bureaux": 1,
        "voters": 120,
        "previous_voters": 80,
        "change_pct": 50.0,
    }
    # A bureau reporting round 1 after round 2 joins the matched set.
    record(sample_election, 1, build_return("75-02-0001", votes={"montebourg": 10, "hamon": 50, "valls": 40}))
    assert national(sample_election)["voters_change"]["like_for_like"] == {
        "matched_bureaux": 2,
        "voters": 240,
        "previous_voters": 180,
        "change_pct": 33.33,
    }
    assert [
        row["sequence"] for row in documents.timeline_document(sample_election, SAMPLE.id, 2)["timeline"]
    ] == [1, 2, 3]
    assert store.verify(sample_election) == []


def test_warnings_accept_the_return_and_flag_it(sample_election):
    report = record(
        sample_election, 2, build_return("75-01-0001", votes={"hamon": 50, "valls": 40}, blank=10)
    )
    assert (report.created, report.flagged, [w.code for w in report.warnings]) == (1, 1, ["blank_share_high"])
    assert table_contents(sample_election)["return_versions"][0]["warnings"] == "blank_share_high"


def test_checkpoints_are_versioned_and_checked_against_the_return(sample_election):
    def checkpoints(*items, reason=None):
        batch = CheckpointBatch.of([Checkpoint(code, time, voters, EVENING) for code, time, voters in items])
        return store.record_checkpoints(sample_election, SAMPLE.id, 2, batch, author="clerk", reason=reason)

    assert checkpoints(("75-01-0001", "12:00", 100), ("75-01-0001", "17:00", 300)).created == 2
    assert checkpoints(("75-01-0001", "17:00", 300)).as_dict()["unchanged"] == 1
    assert checkpoints(("75-01-0001", "17:00", 310)).corrected == 1
    before = table_contents(sample_election)
    with pytest.raises(store.Refused) as refused:
        checkpoints(("75-01-0001", "12:00", 320))
    assert [i.code for i in refused.value.issues] == ["checkpoint_below_earlier"]
    with pytest.raises(store.Refused) as refused:
        record(sample_election, 2, build_return("75-01-0001", votes={"hamon": 150, "valls": 150}))
    assert refused.value.issues[0].code == "voters_below_checkpoint"
    assert table_contents(sample_election) == before
    document = documents.turnout_document(sample_election, SAMPLE.id, 2)
    assert document["checkpoints"] == [
        {
            "time": "12:00",
            "bureaux_reported": 1,
            "voters": 100,
            "like_for_like": {"matched_bureaux": 0, "voters": 0, "previous_voters": 0, "change_pct": None},
        },
        {
            "time": "17:00",
            "bureaux_reported": 1,
            "voters": 310,
            "like_for_like": {"matched_bureaux": 0, "voters": 0, "previous_voters": 0, "change_pct": None},
        },
    ]


def test_an_election_cannot_be_loaded_twice(sample_election):
    before = table_contents(sample_election)
    with pytest.raises(store.Refused) as refused:
        store.create_election(sample_election, SAMPLE, AREAS, BUREAUX)
    assert refused.value.issues == [
        Issue("election_exists", "The election 'mini-primaire' is already loaded.")
    ]
    assert table_contents(sample_election) == before


def test_verify_reports_an_aggregate_that_drifted(sample_election):
    record(sample_election, 2, build_return("75-01-0001", votes={"hamon": 250, "valls": 157}))
    with sample_election.begin() as connection:
        connection.exec_driver_sql("UPDATE area_results SET voters = voters + 1 WHERE area_id = 1")
    assert len(store.verify(sample_election)) == 1
    assert "national FR" in store.verify(sample_election)[0]


def test_verify_names_versions_outside_their_rounds_registry_and_of_no_round(sample_election):
    """Versions have no foreign keys (migration 0011): a copy of a stored version under a bureau id that no
    registry holds, and one under a round that does not exist, written outside tabulator, are named."""
    record(sample_election, 2, build_return("75-01-0001", votes={"hamon": 250, "valls": 157}))
    columns = ", ".join(f'"{column.name}"' for column in ReturnVersionRow.__table__.columns)
    with sample_election.begin() as connection:
        (round_id, bureau_id), *_ = connection.exec_driver_sql(
            "SELECT round_id, bureau_id FROM return_versions"
        )
        for changed in ('"bureau_id"', '"round_id"'):
            moved = columns.replace(changed, f"{changed} + 1000")
            connection.exec_driver_sql(
                f"INSERT INTO return_versions ({columns}) SELECT {moved} "
                f"FROM return_versions WHERE round_id = {round_id} AND bureau_id = {bureau_id}"
            )
    bureau_id, round_id = bureau_id + 1000, round_id + 1000
    assert store.verify(sample_election) == [
        f"mini-primaire round 2: return versions of 1 bureau id(s) not in its registry ({bureau_id})",
        f"round id {round_id}: 1 return version(s) of a round that does not exist",
    ]


def test_a_registry_that_is_not_a_tree_is_refused(engine):
    before = table_contents(engine)
    orphan = Bureau("99-01-0001", "Bureau 1", "99-01")
    with pytest.raises(store.Refused) as refused:
        store.create_election(engine, SAMPLE, AREAS, (*BUREAUX, orphan))
    assert refused.value.issues == [
        Issue(
            "bad_registry",
            "The areas and bureaux do not form a tree: bureau 99-01-0001: area '99-01' is not a "
            "circonscription.",
        )
    ]
    assert table_contents(engine) == before


@contextmanager
def statements_sent(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements sent on `engine` while the block runs."""
    sent: list[str] = []

    def note(_connection, _cursor, statement: str, *_rest) -> None:
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_registries_are_built_ahead_of_the_first_request(sample_election, database_url):
    worker = db.make_engine(database_url)  # a new worker's engine: its caches start empty
    store.warm_indexes(worker)
    assert _built_ahead(worker) == ([], "75-01-0001", len(BUREAUX))


def test_a_worker_sets_its_registries_aside_from_the_collector_once_built(sample_election, database_url):
    worker = db.make_engine(database_url)
    warm_and_set_aside = runpy.run_path(str(GUNICORN_CONFIG))["warm_and_set_aside"]
    frozen_before = gc.get_freeze_count()
    warm_and_set_aside(worker)
    assert gc.isenabled()
    assert gc.get_freeze_count() > frozen_before  # the registry's objects no longer walked by collections
    assert _built_ahead(worker) == ([], "75-01-0001", len(BUREAUX))


def _built_ahead(engine: Engine) -> tuple[list[str], str, int]:
    """The statements the registry costs when asked as every request asks, with the version read with its
    round; the registry's first bureau and its number of bureaux."""
    with reading(engine) as connection:
        round_ = store.round_info(connection, SAMPLE.id, 2)
        with statements_sent(engine) as statements:
            index = store.election_index(connection, round_.election_id, round_.registry_version)
    return statements, index.registry.bureaux[0].code, len(index.bureau_ids)


class Abandoned(Exception):
    """Raised inside a write transaction to roll it back."""


def test_what_a_write_caches_is_forgotten_unless_it_commits(sample_election, database_url):
    engine = db.make_engine(database_url)
    caches = engine_caches(engine)
    with pytest.raises(Abandoned), writing(engine) as connection:
        round_ = store.round_info(connection, SAMPLE.id, 2, lock=True)
        store.election_index(connection, round_.election_id, round_.registry_version)
        raise Abandoned
    # The ids they were cached by may be given to other rows (SQLite reuses a rolled-back row's id).
    assert (caches.candidates(round_.id), caches.index(round_.election_id, round_.registry_version)) == (
        None,
        None,
    )
    with writing(engine) as connection:
        store.round_info(connection, SAMPLE.id, 2)
    with reading(engine) as connection:
        store.election_index(connection, round_.election_id, round_.registry_version)
    kept_candidates = caches.candidates(round_.id)
    kept_index = caches.index(round_.election_id, round_.registry_version)
    assert kept_candidates is not None and kept_candidates.candidates == round_.candidates
    assert kept_index is not None and len(kept_index.bureau_ids) == len(BUREAUX)
    fresh = engine_caches(db.make_engine(database_url))  # another engine: caches of its own
    assert fresh.index(round_.election_id, round_.registry_version) is None
