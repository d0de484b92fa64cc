"""Careless insiders and strangers (issue 12): a clerk's time, a scoped token, the audit, the rate limits.

Each test sends the request of its finding, then asserts the answer, the served documents and the whole
database (`table_contents`), not only the status code.
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from api import store
from api.cli import main
from api.store import accounts, audit_chain
from tests.api.conftest import bearer
from tests.builders import AREAS, BUREAUX, SAMPLE
from tests.conftest import table_contents

ROUND = "/api/v1/elections/mini-primaire/rounds/2"
PAGE = "/elections/mini-primaire/rounds/2/"
GOOD = {"voters": 412, "blank": 3, "null": 2, "valid": 407, "votes": {"hamon": 250, "valls": 157}}
OTHER = SAMPLE.__class__(**{**SAMPLE.__dict__, "id": "evil-2017", "name": "Another election"})


@pytest.fixture
def app(sample_election, make_app):
    return make_app(head_cache_seconds=0, failed_write_limit="5 per minute")


@pytest.fixture
def tokens(engine, app):
    """Tokens of the sample election only (the shared ones serve every election)."""
    return {
        "clerk": accounts.create_token(engine, "clerk one", "clerk", "mini-primaire")[1],
        "supervisor": accounts.create_token(engine, "supervisor one", "supervisor", "mini-primaire")[1],
    }


def out_of_window(moment: str) -> dict[str, object]:
    return {
        "errors": [
            {
                "code": "time_out_of_window",
                "severity": "error",
                "field": "reported_at",
                "bureau": "75-01-0001",
                "message": f"Bureau 75-01-0001: reported_at {moment} is outside this round's window: from "
                "2017-01-28T00:00:00+00:00 to 2017-02-13T00:00:00+00:00 (never later than the server's "
                "clock).",
            }
        ]
    }


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("9999-12-31T23:59:59+00:00", "9999-12-31T23:59:59+00:00"),
        ("2099-01-29T20:00:00+01:00", "2099-01-29T20:00:00+01:00"),
        ("0001-01-01T00:00:00+01:00", "0001-01-01T00:00:00+01:00"),
        ("2017-01-27T23:59:59+00:00", "2017-01-27T23:59:59+00:00"),
    ],
)
def test_a_return_whose_time_is_outside_its_round_is_refused(engine, app, tokens, sent, shown):
    client = app.test_client()
    before = table_contents(engine)
    page_before = client.get(PAGE).get_data()
    answer = client.put(
        f"{ROUND}/bureaux/75-01-0001/return",
        json={**GOOD, "reported_at": sent},
        headers=bearer(tokens["clerk"]),
    )
    assert (answer.status_code, answer.get_json()) == (422, out_of_window(shown))
    assert {k: v for k, v in table_contents(engine).items() if k not in {"audit", "audit_chain"}} == {
        k: v for k, v in before.items() if k not in {"audit", "audit_chain"}
    }
    assert client.get(PAGE).get_data() == page_before
    assert [client.get(path).status_code for path in (PAGE, f"/embed{PAGE}", f"{PAGE}departement/75")] == [
        200,
        200,
        200,
    ]


def test_a_return_in_its_window_is_taken_and_dates_the_results(engine, app, tokens):
    client = app.test_client()
    answer = client.put(
        f"{ROUND}/bureaux/75-01-0001/return",
        json={**GOOD, "reported_at": "2017-01-29T20:31:05+01:00"},
        headers=bearer(tokens["supervisor"]),
    )
    assert answer.status_code == 201
    assert client.get(f"{ROUND}/results").get_json()["as_of"] == "2017-01-29T19:31:05+00:00"


def test_a_checkpoint_time_outside_the_round_is_refused(engine, app, tokens):
    client = app.test_client()
    before = table_contents(engine)
    answer = client.put(
        f"{ROUND}/bureaux/75-01-0001/turnout/12:00",
        json={"voters": 40, "reported_at": "9999-12-31T23:59:59+00:00"},
        headers=bearer(tokens["clerk"]),
    )
    assert (answer.status_code, answer.get_json()["errors"][0]["code"]) == (422, "time_out_of_window")
    assert table_contents(engine)["checkpoints"] == before["checkpoints"]


def test_a_clerk_limited_to_an_area_writes_only_there(engine, app):
    client = app.test_client()
    token = accounts.create_token(engine, "clerk 13", "clerk", "mini-primaire", area_code="departement:13")[1]
    listed = accounts.create_token(engine, "clerk 2", "clerk", "mini-primaire", bureaux=["75-01-0002"])[1]
    before = table_contents(engine)
    outside = client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=bearer(token))
    unlisted = client.put(
        f"{ROUND}/bureaux/75-01-0001/turnout/12:00", json={"voters": 4}, headers=bearer(listed)
    )
    assert (outside.status_code, outside.get_json()) == (
        403,
        {
            "errors": [
                {
                    "code": "outside_scope",
                    "severity": "error",
                    "field": "bureau",
                    "bureau": "75-01-0001",
                    "message": "Bureau 75-01-0001: this token may write only for the bureaux of "
                    "departement 13.",
                }
            ]
        },
    )
    assert (unlisted.status_code, unlisted.get_json()["errors"][0]["message"]) == (
        403,
        "Bureau 75-01-0001: this token may write only for 1 listed bureaux.",
    )
    assert {k: v for k, v in table_contents(engine).items() if k not in {"audit", "audit_chain"}} == {
        k: v for k, v in before.items() if k not in {"audit", "audit_chain"}
    }
    inside = client.put(f"{ROUND}/bureaux/13-01-0001/return", json=GOOD, headers=bearer(token))
    assert inside.status_code == 201


def test_a_supervisor_scoped_to_one_election_reads_only_its_audit(engine, app, tokens):
    store.create_election(engine, OTHER, AREAS, BUREAUX)
    evil = accounts.create_token(engine, "evil supervisor", "supervisor", "evil-2017")[1]
    client = app.test_client()
    client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=bearer(tokens["clerk"]))
    client.put(
        "/api/v1/elections/evil-2017/rounds/2/bureaux/75-01-0001/return",
        json={**GOOD, "voters": 1},
        headers=bearer(evil),
    )
    seen = client.get("/api/v1/audit", headers=bearer(evil)).get_json()["entries"]
    assert [(entry["actor"], entry["path"], entry["status"]) for entry in seen] == [
        ("evil supervisor", "/api/v1/elections/evil-2017/rounds/2/bureaux/75-01-0001/return", 422)
    ]
    ours = client.get("/api/v1/audit", headers=bearer(tokens["supervisor"])).get_json()["entries"]
    assert [(entry["actor"], entry["status"]) for entry in ours] == [("clerk one", 201)]


def test_an_anonymous_write_leaves_a_bounded_digest_in_the_audit(engine, app):
    client = app.test_client()
    body = b'{"name": "=HYPERLINK(1)", "padding": "' + b"x" * 60_000 + b'"}'
    answer = client.put(
        f"{ROUND}/bureaux/75-01-0001/return", data=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 401
    (row,) = accounts.audit_rows(engine)
    excerpt = body[:200].decode()
    assert row["sent"] == (
        f"{len(body):,} bytes, sha256 {hashlib.sha256(body).hexdigest()}, unauthenticated; begins {excerpt!r}"
    )


def test_failed_authentications_are_rate_limited_per_address_and_good_tokens_are_not(engine, app, tokens):
    client = app.test_client()
    statuses = [
        client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=bearer("tab_guess")).status_code
        for _ in range(7)
    ]
    limited = client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD)
    assert statuses == [401] * 5 + [429] * 2
    assert (limited.status_code, limited.get_json()["errors"][0]["code"], limited.headers["Retry-After"]) == (
        429,
        "too_many_requests",
        limited.headers["Retry-After"],
    )
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    # Five failures were audited; the refusals of the rate limit are only logged.
    assert [row["status"] for row in accounts.audit_rows(engine)] == [401] * 5
    good = client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=bearer(tokens["clerk"]))
    reads = client.get(f"{ROUND}/results")
    assert (good.status_code, reads.status_code) == (201, 200)
    other = client.put(
        f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    assert other.status_code == 401


def test_the_audit_chain_names_the_first_row_changed_or_removed(engine, app, tokens, database_url):
    client = app.test_client()
    for voters in (412, 1, 2):
        client.put(
            f"{ROUND}/bureaux/75-01-0001/return",
            json={**GOOD, "voters": voters},
            headers=bearer(tokens["clerk"]),
        )
    env = {"TABULATOR_DATABASE_URL": database_url}
    runner = CliRunner()
    assert runner.invoke(main, ["audit", "seal"], env=env).output == "3 audit rows sealed.\n"
    client.put(f"{ROUND}/bureaux/75-01-0002/return", json=GOOD, headers=bearer(tokens["clerk"]))
    verified = runner.invoke(main, ["audit", "verify"], env=env)
    assert (verified.exit_code, verified.output) == (
        0,
        "audit verify: 3 rows chained, intact; 1 not sealed yet.\n",
    )
    assert audit_chain.seal(engine) == 1
    with engine.begin() as connection:  # an insider rewrites history: the refusal becomes an acceptance
        connection.execute(text("UPDATE audit SET status = 201 WHERE id = 2"))
    changed = runner.invoke(main, ["audit", "verify"], env=env)
    assert (changed.exit_code, changed.output) == (
        1,
        "Audit row 2 (position 2): its contents do not match its hash: it was changed after it was "
        "written.\n",
    )
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit SET status = 422 WHERE id = 2"))
        connection.execute(text("DELETE FROM audit WHERE id = 4"))
    truncated = audit_chain.verify_chain(engine)
    assert truncated.problems == [
        f"The chain's head says 4 rows ending in {truncated_head(engine)}…, but the audit holds 3 ending in "
        f"{row_hash(engine, 3)}…: rows were removed from its end."
    ]
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM audit WHERE id = 1"))
    assert audit_chain.verify_chain(engine).problems == [
        "Audit row 2: at position 2 of the chain where 1 was expected: a row before it was removed."
    ]


def truncated_head(engine) -> str:
    with engine.connect() as connection:
        return connection.execute(text("SELECT last_hash FROM audit_chain")).scalar_one()[:12]


def row_hash(engine, row_id: int) -> str:
    with engine.connect() as connection:
        return connection.execute(text(f"SELECT chain_hash FROM audit WHERE id = {row_id}")).scalar_one()[:12]


def test_audit_export_signs_its_digest_with_the_key_from_the_environment(engine, app, tokens, database_url):
    app.test_client().put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=bearer(tokens["clerk"]))
    env = {"TABULATOR_DATABASE_URL": database_url, "TABULATOR_AUDIT_KEY": "a key of the authority"}
    exported = CliRunner().invoke(main, ["audit", "export", "--sign"], env=env)
    body = exported.stdout.encode()
    digest = hashlib.sha256(body).digest()
    signature = hmac.new(b"a key of the authority", digest, hashlib.sha256).hexdigest()
    assert exported.stderr.splitlines() == [
        "1 audit entries.",
        f"sha256 {digest.hex()}  hmac-sha256 {signature}",
    ]
    header, row = exported.stdout.splitlines()
    assert header.endswith(",chain_position,chain_hash") and row.split(",")[-2] == "1"
    unkeyed = CliRunner().invoke(main, ["audit", "export", "--sign"], env={**env, "TABULATOR_AUDIT_KEY": ""})
    assert unkeyed.exit_code == 2


def test_an_embargo_holds_from_the_next_request_of_every_worker(make_app, tokens):
    def worker():
        return make_app(head_cache_seconds=60).test_client()

    reader, writer = worker(), worker()  # two workers of one node: one folder, two memories
    writer.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=bearer(tokens["supervisor"]))
    assert reader.get(f"{ROUND}/results").status_code == 200  # cached, its sequence trusted for a minute
    lift = "2099-01-29T20:00:00+01:00"
    writer.patch(ROUND, json={"results_not_before": lift}, headers=bearer(tokens["supervisor"]))
    for path in ("results", "current", "turnout", "timeline"):
        answer = reader.get(f"{ROUND}/{path}")
        assert (answer.status_code, answer.get_json()["errors"][0]["code"]) == (403, "embargoed"), path
    assert reader.get(ROUND).get_json()["sequence"] is None
