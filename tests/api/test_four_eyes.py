"""Four eyes: certifying a round, making a test round real and lifting an embargo early are asked for by
one person and confirmed by another within a window, over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.settings import Settings, SettingsError
from api.store import accounts, lifecycle
from tests.api.conftest import bearer
from tests.conftest import table_contents
from tests.matchers import ANY_TIME

ROUND = "/api/v1/elections/mini-primaire/rounds/2"
GOOD = {"voters": 412, "blank": 3, "null": 2, "valid": 407, "votes": {"hamon": 250, "valls": 157}}
REPORTING = ("75-01-0001", "75-01-0002", "75-02-0001", "13-01-0001", "13-01-0002", "13-01-0003")
PEOPLE = {
    "alice": ("sup alice", "supervisor", "Alice Martin"),
    "alice laptop": ("sup alice laptop", "supervisor", "Alice Martin"),
    "bruno": ("sup bruno", "supervisor", "Bruno Petit"),
    "chloe": ("admin chloe", "admin", "Chloé Durand"),
    "clerk": ("clerk dan", "clerk", "Dan Roux"),
}


@pytest.fixture
def setup(client, engine):
    tokens = {
        key: bearer(accounts.create_token(engine, name, role, person=person)[1])
        for key, (name, role, person) in PEOPLE.items()
    }
    return client, tokens


def tables(engine, *but: str) -> dict[str, list[dict[str, object]]]:
    """Every table but the audit's (every attempt is audited) and those named."""
    return {
        name: rows
        for name, rows in table_contents(engine).items()
        if not name.startswith("audit") and name not in but
    }


def pending(id_, changes, *, by="sup alice", person="Alice Martin", reason=None):
    return {
        "id": id_,
        "election": "mini-primaire",
        "round": 2,
        "changes": changes,
        "reason": reason,
        "status": "pending",
        "requested_by": by,
        "requested_person": person,
        "requested_at": ANY_TIME,
        "expires_at": ANY_TIME,
        "decided_by": None,
        "decided_person": None,
        "decided_at": None,
        "decision_reason": None,
    }


def decided(asked, status, *, by, person, reason=None):
    return {
        **asked,
        "status": status,
        "decided_by": by,
        "decided_person": person,
        "decided_at": ANY_TIME,
        "decision_reason": reason,
    }


def refusal(code, message, **more):
    return {"errors": [{"code": code, "message": message, "severity": "error", **more}]}


def decide(client, headers, id_, decision, reason=None):
    body = {"decision": decision, **({"reason": reason} if reason else {})}
    return client.post(f"{ROUND}/confirmations/{id_}", json=body, headers=headers)


def report_everything(client, tokens):
    for code in REPORTING:
        put = client.put(f"{ROUND}/bureaux/{code}/return", json=GOOD, headers=tokens["bruno"])
        assert put.status_code == 201, put.get_json()


def round_now(client):
    return client.get(ROUND).get_json()


def test_certifying_waits_for_a_second_person_who_confirms_it(setup, engine):
    client, tokens = setup
    report_everything(client, tokens)
    assert client.patch(ROUND, json={"status": "complete"}, headers=tokens["alice"]).status_code == 200
    before = tables(engine, "confirmations")
    round_before = round_now(client)

    asked = client.patch(ROUND, json={"status": "certified"}, headers=tokens["alice"])
    assert (asked.status_code, asked.get_json()) == (202, pending(1, {"status": "certified"}))
    times = {key: datetime.fromisoformat(asked.get_json()[key]) for key in ("requested_at", "expires_at")}
    assert times["expires_at"] - times["requested_at"] == timedelta(minutes=15)
    assert round_now(client) == round_before  # nothing changes until it is confirmed
    assert tables(engine, "confirmations") == before
    retried = client.patch(ROUND, json={"status": "certified"}, headers=tokens["alice laptop"])
    assert (retried.status_code, retried.get_json()) == (202, asked.get_json())  # the same request
    assert len(table_contents(engine)["confirmations"]) == 1

    listing = client.get(f"{ROUND}/confirmations", headers=tokens["bruno"])
    assert (listing.status_code, listing.get_json()) == (
        200,
        {"election": "mini-primaire", "round": 2, "confirmations": [asked.get_json()]},
    )
    assert client.get(f"{ROUND}/confirmations", headers=tokens["clerk"]).status_code == 403
    assert decide(client, tokens["clerk"], 1, "confirm").status_code == 403

    snapshot = tables(engine)
    same_person = decide(client, tokens["alice laptop"], 1, "confirm")
    assert (same_person.status_code, same_person.get_json()) == (
        403,
        refusal(
            "same_person",
            "Alice Martin asked for this change (sup alice): another supervisor or an admin must confirm "
            "it. You may cancel it.",
        ),
    )
    assert tables(engine) == snapshot

    confirmed = decide(client, tokens["bruno"], 1, "confirm")
    assert (confirmed.status_code, confirmed.get_json()) == (
        200,
        decided(asked.get_json(), "confirmed", by="sup bruno", person="Bruno Petit"),
    )
    assert round_now(client) == {**round_before, "status": "certified", "sequence": 8}
    assert client.get(f"{ROUND}/results").get_json()["status"] == "certified"
    assert client.get(f"{ROUND}/confirmations", headers=tokens["bruno"]).get_json()["confirmations"] == []

    snapshot = tables(engine)
    twice = decide(client, tokens["chloe"], 1, "confirm")
    assert (twice.status_code, twice.get_json()) == (
        409,
        refusal("already_decided", "Request 1 is confirmed: it waits for no decision."),
    )
    assert tables(engine) == snapshot


def test_a_confirmation_after_its_window_is_refused_and_changes_nothing(setup, engine, monkeypatch):
    client, tokens = setup
    report_everything(client, tokens)
    client.patch(ROUND, json={"status": "complete"}, headers=tokens["alice"])
    asked = client.patch(ROUND, json={"status": "certified"}, headers=tokens["alice"]).get_json()
    snapshot = tables(engine)
    later = datetime.now(UTC) + timedelta(minutes=15, seconds=1)
    monkeypatch.setattr(lifecycle, "now", lambda: later)

    expired = decide(client, tokens["chloe"], asked["id"], "confirm")
    assert (expired.status_code, expired.get_json()) == (
        409,
        refusal(
            "confirmation_expired",
            f"Request 1 could be confirmed until {asked['expires_at']}; it has expired. Ask for the change "
            "again.",
        ),
    )
    assert tables(engine) == snapshot
    assert round_now(client)["status"] == "complete"
    assert client.get(f"{ROUND}/confirmations", headers=tokens["bruno"]).get_json()["confirmations"] == []

    again = client.patch(ROUND, json={"status": "certified"}, headers=tokens["alice"])
    assert (again.status_code, again.get_json()) == (202, pending(2, {"status": "certified"}))
    assert decide(client, tokens["chloe"], 2, "confirm").status_code == 200
    assert round_now(client)["status"] == "certified"


def test_certifying_with_bureaux_missing_or_still_a_test_needs_a_reason(setup, engine):
    client, tokens = setup
    client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=tokens["bruno"])
    assert client.patch(ROUND, json={"test": True}, headers=tokens["alice"]).status_code == 200
    client.patch(ROUND, json={"status": "complete"}, headers=tokens["alice"])
    asked = client.patch(ROUND, json={"status": "certified"}, headers=tokens["alice"]).get_json()
    snapshot = tables(engine)

    no_reason = decide(client, tokens["chloe"], asked["id"], "confirm")
    assert (no_reason.status_code, no_reason.get_json()) == (
        422,
        refusal(
            "certification_needs_reason",
            "Round 2 cannot be certified without a reason: 5 of its 6 bureaux have not reported and it is "
            "still marked test. Confirm again with a `reason`.",
            field="reason",
        ),
    )
    assert tables(engine) == snapshot

    reason = "A rehearsal certified to try the procedure"
    confirmed = decide(client, tokens["chloe"], asked["id"], "confirm", reason)
    assert (confirmed.status_code, confirmed.get_json()) == (
        200,
        decided(asked, "confirmed", by="admin chloe", person="Chloé Durand", reason=reason),
    )
    assert (round_now(client)["status"], round_now(client)["test"]) == ("certified", True)


def test_the_asker_may_give_the_reason_with_the_request(setup, engine):
    client, tokens = setup
    client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=tokens["bruno"])
    client.patch(ROUND, json={"status": "complete"}, headers=tokens["alice"])
    reason = "Five bureaux merged into the first one this year"
    asked = client.patch(ROUND, json={"status": "certified", "reason": reason}, headers=tokens["alice"])
    assert (asked.status_code, asked.get_json()) == (202, pending(1, {"status": "certified"}, reason=reason))
    confirmed = decide(client, tokens["bruno"], 1, "confirm")
    assert (confirmed.status_code, confirmed.get_json()["status"]) == (200, "confirmed")
    assert round_now(client)["status"] == "certified"


def test_switching_a_test_round_to_real_needs_a_second_person_and_may_be_cancelled(setup, engine):
    client, tokens = setup
    marked = client.patch(
        ROUND, json={"test": True}, headers=tokens["alice"]
    )  # withholding: no second person
    assert (marked.status_code, marked.get_json()["test"]) == (200, True)
    round_before = round_now(client)

    asked = client.patch(ROUND, json={"test": False, "flagged_returns": "publish"}, headers=tokens["alice"])
    changes = {"test": False, "flagged_returns": "publish"}
    assert (asked.status_code, asked.get_json()) == (202, pending(1, changes))
    assert round_now(client) == round_before  # the other field waits with it
    snapshot = tables(engine, "confirmations")
    cancelled = decide(client, tokens["bruno"], 1, "cancel", "not before the rehearsal is wiped")
    assert (cancelled.status_code, cancelled.get_json()) == (
        200,
        decided(
            asked.get_json(),
            "cancelled",
            by="sup bruno",
            person="Bruno Petit",
            reason="not before the rehearsal is wiped",
        ),
    )
    assert tables(engine, "confirmations") == snapshot
    assert round_now(client) == round_before
    snapshot = tables(engine)
    late = decide(client, tokens["chloe"], 1, "confirm")
    assert (late.status_code, late.get_json()["errors"][0]["code"]) == (409, "already_decided")
    assert tables(engine) == snapshot

    again = client.patch(ROUND, json={"test": False}, headers=tokens["bruno"])
    assert (again.status_code, again.get_json()) == (
        202,
        pending(2, {"test": False}, by="sup bruno", person="Bruno Petit"),
    )
    withdrawn = decide(client, tokens["bruno"], 2, "cancel")  # the asker may withdraw their own
    assert (withdrawn.status_code, withdrawn.get_json()["status"]) == (200, "cancelled")
    third = client.patch(ROUND, json={"test": False}, headers=tokens["bruno"]).get_json()
    assert decide(client, tokens["alice"], third["id"], "confirm").status_code == 200
    assert round_now(client) == {**round_before, "test": False, "sequence": round_before["sequence"] + 1}


def test_lifting_an_embargo_early_needs_a_second_person_and_setting_one_does_not(setup, engine):
    client, tokens = setup
    client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=tokens["bruno"])
    in_an_hour = datetime.now(UTC) + timedelta(hours=1)
    for later in (in_an_hour, in_an_hour + timedelta(hours=1)):
        set_ = client.patch(ROUND, json={"results_not_before": later.isoformat()}, headers=tokens["alice"])
        assert (set_.status_code, set_.get_json()["results_not_before"]) == (200, later.isoformat())
    embargoed = round_now(client)

    earlier = client.patch(
        ROUND, json={"results_not_before": in_an_hour.isoformat()}, headers=tokens["alice"]
    )
    assert (earlier.status_code, earlier.get_json()) == (
        202,
        pending(1, {"results_not_before": in_an_hour.isoformat()}),
    )
    lifted = client.patch(ROUND, json={"results_not_before": None}, headers=tokens["alice"])
    assert (lifted.status_code, lifted.get_json()) == (202, pending(2, {"results_not_before": None}))
    assert round_now(client) == embargoed
    assert client.get(f"{ROUND}/results").status_code == 403

    assert decide(client, tokens["alice"], 1, "cancel").status_code == 200
    confirmed = decide(client, tokens["chloe"], 2, "confirm")
    assert (confirmed.status_code, confirmed.get_json()["status"]) == (200, "confirmed")
    # The round's sequence is not shown while an embargo holds: compare the rest, then read it.
    assert round_now(client) == {**embargoed, "results_not_before": None, "sequence": 4}
    assert client.get(f"{ROUND}/results").get_json()["results"]["voters"] == 412

    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()  # an embargo already over: nothing to lift
    assert client.patch(ROUND, json={"results_not_before": past}, headers=tokens["alice"]).status_code == 200
    assert client.patch(ROUND, json={"results_not_before": None}, headers=tokens["alice"]).status_code == 200


def test_a_change_the_round_no_longer_allows_is_refused_when_confirmed(setup, engine):
    client, tokens = setup
    report_everything(client, tokens)
    client.patch(ROUND, json={"status": "complete"}, headers=tokens["alice"])
    asked = client.patch(ROUND, json={"status": "certified"}, headers=tokens["alice"]).get_json()
    reopened = client.patch(ROUND, json={"status": "counting"}, headers=tokens["bruno"])  # a late return
    assert (reopened.status_code, reopened.get_json()["status"]) == (200, "counting")
    snapshot = tables(engine)
    refused = decide(client, tokens["bruno"], asked["id"], "confirm")
    assert (refused.status_code, refused.get_json()) == (
        409,
        refusal(
            "bad_transition",
            "A round goes setup → voting → counting → complete → certified (and back from complete to "
            "counting); round 2 cannot go from counting to certified.",
        ),
    )
    assert tables(engine) == snapshot
    bad = client.patch(ROUND, json={"status": "certified"}, headers=tokens["alice"])  # asked from counting
    assert (bad.status_code, bad.get_json()["errors"][0]["code"]) == (409, "bad_transition")
    assert tables(engine) == snapshot
    missing = decide(client, tokens["bruno"], 99, "confirm")
    assert (missing.status_code, missing.get_json()) == (
        404,
        {
            "errors": [
                {
                    "code": "not_found",
                    "message": "Round 2 has no request 99 to confirm or cancel.",
                }
            ]
        },
    )


def test_the_confirmation_window_is_a_setting_and_the_routes_are_documented(setup):
    client, _ = setup
    assert Settings.from_env({"TABULATOR_CONFIRMATION_MINUTES": "5"}).confirmation_minutes == 5
    assert Settings.from_env({}).confirmation_minutes == 15
    with pytest.raises(SettingsError, match="TABULATOR_CONFIRMATION_MINUTES must be at least 1"):
        Settings.from_env({"TABULATOR_CONFIRMATION_MINUTES": "0.5"})
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    round_path = "/api/v1/elections/{election}/rounds/{number}"
    assert set(paths[round_path]["patch"]["responses"]) >= {"200", "202"}
    assert set(paths[f"{round_path}/confirmations"]) == {"get", "parameters"}
    assert set(paths[f"{round_path}/confirmations/{{confirmation_id}}"]) == {"post", "parameters"}
