"""A round's life, its embargo and its test flag, over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from api import documents, static_publication, store
from api.cli import main
from api.store import accounts
from tests.builders import SAMPLE
from tests.conftest import table_contents

ROUND = "/api/v1/elections/mini-primaire/rounds/2"
GOOD = {"voters": 412, "blank": 3, "null": 2, "valid": 407, "votes": {"hamon": 250, "valls": 157}}


def test_a_round_moves_forward_and_a_certified_round_refuses_writes(client, auth_headers, engine):
    client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=auth_headers["clerk"])
    assert client.patch(ROUND, json={"status": "complete"}, headers=auth_headers["clerk"]).status_code == 403
    backwards = client.patch(ROUND, json={"status": "setup"}, headers=auth_headers["supervisor"])
    assert (backwards.status_code, backwards.get_json()["errors"][0]["message"]) == (
        409,
        "A round goes setup → voting → counting → complete → certified (and back from complete to counting); "
        "round 2 cannot go from counting to setup.",
    )
    moved = client.patch(ROUND, json={"status": "complete"}, headers=auth_headers["supervisor"])
    assert (moved.status_code, moved.get_json()["status"]) == (200, "complete")
    # Four eyes (tests/api/test_four_eyes.py): the supervisor asks, the admin confirms.
    reason = "5 bureaux did not open: the prefecture confirms it"
    asked = client.patch(
        ROUND, json={"status": "certified", "reason": reason}, headers=auth_headers["supervisor"]
    )
    assert (asked.status_code, asked.get_json()["status"]) == (202, "pending")
    confirmed = client.post(
        f"{ROUND}/confirmations/{asked.get_json()['id']}",
        json={"decision": "confirm"},
        headers=auth_headers["admin"],
    )
    assert (confirmed.status_code, confirmed.get_json()["status"]) == (200, "confirmed")
    assert client.get(ROUND).get_json()["status"] == "certified"
    assert client.get(f"{ROUND}/results").get_json()["status"] == "certified"
    assert client.get(f"{ROUND}/snapshots/1/results").get_json()["status"] == "partial"  # published then
    assert [row["sequence"] for row in client.get(f"{ROUND}/timeline").get_json()["timeline"]] == [1, 2, 3]
    before = documents.results_document(engine, SAMPLE.id, 2)
    late = client.put(f"{ROUND}/bureaux/75-01-0002/return", json=GOOD, headers=auth_headers["admin"])
    assert (late.status_code, late.get_json()["errors"][0]["code"]) == (409, "round_certified")
    reopen = client.patch(ROUND, json={"status": "counting"}, headers=auth_headers["admin"])
    assert (reopen.status_code, reopen.get_json()["errors"][0]["code"]) == (409, "round_certified")
    assert documents.results_document(engine, SAMPLE.id, 2) == before


def test_nothing_of_the_results_before_the_embargo_lifts(client, auth_headers, engine, tmp_path):
    lift = datetime.now(UTC) + timedelta(hours=1)
    embargo = client.patch(
        ROUND, json={"results_not_before": lift.isoformat()}, headers=auth_headers["supervisor"]
    )
    assert embargo.status_code == 200
    taken = client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=auth_headers["clerk"])
    assert taken.status_code == 201  # returns are taken and checked during the embargo
    for path in (
        "results",
        "results/departement/75",
        "timeline",
        "changes",
        "corrections",
        "export.csv",
        "nist.json",
        "snapshots/1/results",
    ):
        refused = client.get(f"{ROUND}/{path}")
        assert (refused.status_code, refused.get_json()["errors"][0]["code"]) == (403, "embargoed"), path
        assert 3_500 <= int(refused.headers["Retry-After"]) <= 3_601
    # Nothing else moves in public either: neither the turnout nor the current sequence, which would tell
    # that returns come in; the round says when its results may come, and its sequence is hidden.
    for path in ("turnout", "current", "snapshots/1/turnout"):
        refused = client.get(f"{ROUND}/{path}")
        assert (refused.status_code, refused.get_json()["errors"][0]["code"]) == (403, "embargoed"), path
    shown = client.get(ROUND).get_json()
    assert (shown["results_not_before"], shown["sequence"]) == (lift.isoformat(), None)
    assert static_publication.publish(engine, SAMPLE.id, 2, tmp_path / "static") is None
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    early = client.patch(ROUND, json={"results_not_before": past}, headers=auth_headers["supervisor"])
    assert early.status_code == 202  # lifting it early needs a second person
    assert client.get(f"{ROUND}/results").status_code == 403
    confirmed = client.post(
        f"{ROUND}/confirmations/{early.get_json()['id']}",
        json={"decision": "confirm"},
        headers=auth_headers["admin"],
    )
    assert confirmed.status_code == 200
    assert client.get(f"{ROUND}/results").get_json()["results"]["voters"] == 412


def test_a_test_round_says_so_in_every_payload(client, auth_headers):
    assert (
        client.patch(ROUND, json={"test": True}, headers=auth_headers["supervisor"]).get_json()["test"]
        is True
    )
    assert client.get(f"{ROUND}/results").get_json()["test"] is True
    assert client.get(f"{ROUND}/nist.json").get_json()["IsTest"] is True
    bad = client.patch(ROUND, json={"status": "finished"}, headers=auth_headers["supervisor"])
    assert (bad.status_code, bad.get_json()["errors"][0]["field"]) == (400, "status")


def test_a_rehearsal_is_wiped_before_the_night_and_nothing_else(client, auth_headers, engine, database_url):
    round_1 = "/api/v1/elections/mini-primaire/rounds/1"
    real = {
        "voters": 10,
        "blank": 0,
        "null": 0,
        "valid": 10,
        "votes": {"montebourg": 2, "hamon": 4, "valls": 4},
    }
    client.put(f"{round_1}/bureaux/75-01-0001/return", json=real, headers=auth_headers["clerk"])
    wipe = ["wipe-test", "--election", "mini-primaire", "--round", "2", "--yes"]
    env = {"TABULATOR_DATABASE_URL": database_url}
    refused = CliRunner().invoke(main, wipe, env=env)
    assert (refused.exit_code, "[not_a_test]" in refused.output) == (1, True)
    client.patch(ROUND, json={"test": True}, headers=auth_headers["supervisor"])
    client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=auth_headers["supervisor"])
    many_blank = {**GOOD, "blank": 20, "valid": 390, "votes": {"hamon": 240, "valls": 150}}
    held = client.put(f"{ROUND}/bureaux/75-01-0002/return", json=many_blank, headers=auth_headers["clerk"])
    assert held.get_json()["held"] == 1  # held for review: the wipe takes it too
    rehearsal = client.get(f"{ROUND}/current").get_json()["sequence"]
    done = CliRunner().invoke(main, wipe, env=env)
    assert (done.exit_code, done.stdout) == (
        0,
        "Round 2 of mini-primaire: 1 return versions removed; the round is empty.\n",
    )
    after = client.get(f"{ROUND}/results").get_json()
    assert (after["sequence"], after["results"]["bureaux_reported"], after["test"]) == (
        rehearsal + 1,
        0,
        True,
    )
    assert client.get(f"{ROUND}/snapshots/{rehearsal}/results").status_code == 404
    assert client.get(f"{round_1}/results").get_json()["results"]["voters"] == 10  # nothing else touched
    assert store.verify(engine) == []
    assert table_contents(engine)["entries"] == []
    assert accounts.audit_rows(engine, path="wipe-test")[0]["outcome"] == "1 return versions removed"
