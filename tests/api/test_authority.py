"""The authority's side over HTTP, on SQLite and PostgreSQL: tokens, roles, If-Match, uploads, audit."""

from __future__ import annotations

import hashlib
import io
import threading

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import text

from api import store
from api.cli import main
from api.store import accounts
from api.web import auth
from tests.api.conftest import bearer
from tests.builders import AREAS, BUREAUX, SAMPLE
from tests.conftest import table_contents

ROUND = "/api/v1/elections/mini-primaire/rounds/2"
GOOD = {"voters": 412, "blank": 3, "null": 2, "valid": 407, "votes": {"hamon": 250, "valls": 157}}


@pytest.fixture
def client(sample_election, make_app):
    """The sample election served with a 64 KiB upload limit, which the upload tests reach."""
    return make_app(head_cache_seconds=0, max_upload_bytes=64 * 1024).test_client()


def results_and_sequence(engine) -> dict:
    """What the public sees, and every table but the audit: a refused write must leave them as they were."""
    return {name: rows for name, rows in table_contents(engine).items() if name != "audit"}


def test_tokens_are_kept_only_as_hashes(engine, tokens):
    everything = repr(table_contents(engine))
    assert all(token not in everything for token in tokens.values())
    assert hashlib.sha256(tokens["clerk"].encode()).hexdigest() in everything


def test_role_boundaries(engine, client, tokens):
    before = results_and_sequence(engine)
    missing = client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD)
    assert (missing.status_code, missing.headers["WWW-Authenticate"], missing.get_json()) == (
        401,
        'Bearer realm="tabulator"',
        {
            "errors": [
                {
                    "code": "unauthorized",
                    "message": "This needs a token: send it as `Authorization: Bearer <token>`.",
                }
            ]
        },
    )
    unknown = client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=bearer("tab_nothing"))
    assert (unknown.status_code, unknown.get_json()["errors"][0]["message"]) == (
        401,
        "This token is unknown, expired or revoked.",
    )
    assert results_and_sequence(engine) == before

    created = client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=bearer(tokens["clerk"]))
    assert (created.status_code, created.headers["ETag"], created.get_json()) == (
        201,
        '"1"',
        {
            "created": 1,
            "corrected": 0,
            "unchanged": 0,
            "flagged": 0,
            "held": 0,
            "waiting": 0,
            "sequence": 1,
            "version": 1,
            "warnings": [],
            "by_code": {},
        },
    )
    again = client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=bearer(tokens["clerk"]))
    assert (again.status_code, again.get_json()["unchanged"], again.get_json()["sequence"]) == (200, 1, None)

    swapped = {**GOOD, "votes": {"hamon": 157, "valls": 250}, "reason": "Hamon and Valls swapped"}
    before = results_and_sequence(engine)
    clerk = client.put(f"{ROUND}/bureaux/75-01-0001/return", json=swapped, headers=bearer(tokens["clerk"]))
    assert (clerk.status_code, clerk.get_json()["errors"][0]["code"]) == (403, "correction_needs_supervisor")
    no_reason = {key: value for key, value in swapped.items() if key != "reason"}
    unexplained = client.put(
        f"{ROUND}/bureaux/75-01-0001/return", json=no_reason, headers=bearer(tokens["supervisor"])
    )
    assert (unexplained.status_code, unexplained.get_json()["errors"][0]["code"]) == (422, "reason_required")
    assert results_and_sequence(engine) == before
    corrected = client.put(
        f"{ROUND}/bureaux/75-01-0001/return", json=swapped, headers=bearer(tokens["supervisor"])
    )
    assert (corrected.status_code, corrected.get_json()["corrected"], corrected.headers["ETag"]) == (
        200,
        1,
        '"2"',
    )

    accounts.revoke_token(engine, 1)
    revoked = client.put(f"{ROUND}/bureaux/75-01-0002/return", json=GOOD, headers=bearer(tokens["clerk"]))
    assert revoked.status_code == 401


def test_a_token_serves_only_its_election(engine, client):
    _, paris_only = accounts.create_token(engine, "Clerk elsewhere", "clerk", None)
    other = store.create_election(
        engine, SAMPLE.__class__(**{**SAMPLE.__dict__, "id": "autre"}), AREAS, BUREAUX
    )
    assert other
    _, scoped = accounts.create_token(engine, "Clerk autre", "clerk", "autre")
    refused = client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=bearer(scoped))
    assert (refused.status_code, refused.get_json()["errors"][0]["message"]) == (
        403,
        "The token 'Clerk autre' serves election autre, not mini-primaire.",
    )
    assert (
        client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=bearer(paris_only)).status_code
        == 201
    )


def test_a_stale_if_match_gets_412_and_the_current_version_never_its_counts(engine, client, tokens):
    client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=bearer(tokens["clerk"]))
    fixed = {**GOOD, "votes": {"hamon": 251, "valls": 156}, "reason": "recount"}
    headers = {**bearer(tokens["supervisor"]), "If-Match": '"1"'}
    assert client.put(f"{ROUND}/bureaux/75-01-0001/return", json=fixed, headers=headers).status_code == 200
    before = results_and_sequence(engine)
    late = {**GOOD, "votes": {"hamon": 249, "valls": 158}, "reason": "my recount"}
    stale = client.put(f"{ROUND}/bureaux/75-01-0001/return", json=late, headers=headers)
    assert (stale.status_code, stale.headers["ETag"], stale.get_json()) == (
        412,
        '"2"',
        {
            "errors": [
                {
                    "code": "stale_version",
                    "severity": "error",
                    "bureau": "75-01-0001",
                    "message": "Bureau 75-01-0001: you sent your counts against version 1 of its return, but "
                    "version 2 has been recorded since. Check its counts and send again.",
                }
            ],
            "current_version": 2,
        },
    )
    assert results_and_sequence(engine) == before


def test_two_concurrent_corrections_one_wins_the_other_gets_412(engine, client, tokens):
    client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=bearer(tokens["clerk"]))
    app = client.application
    statuses: list[int] = []
    start = threading.Barrier(2)

    def correct(hamon: int) -> None:
        body = {**GOOD, "votes": {"hamon": hamon, "valls": 407 - hamon}, "reason": f"recount {hamon}"}
        start.wait()
        response = app.test_client().put(
            f"{ROUND}/bureaux/75-01-0001/return",
            json=body,
            headers={**bearer(tokens["supervisor"]), "If-Match": '"1"'},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=correct, args=(hamon,)) for hamon in (240, 260)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 412]
    audit = accounts.audit_rows(engine, path=f"{ROUND}/bureaux/75-01-0001/return", actor="supervisor one")
    assert sorted(row["status"] for row in audit) == [200, 412]
    assert store.verify(engine) == []


def test_uploads_apply_wholly_or_report_every_error(engine, client, tokens):
    header = b"bureau,voters,blank,null,valid,hamon,valls\n"
    good = header + b"75-01-0001,412,3,2,407,250,157\n13-01-0001,10,0,0,10,4,6\n"
    bad = header + b"75-01-0002,10,0,0,10,4,6\n13-01-0002,1.5,0,0,10,4,6\n"
    before = results_and_sequence(engine)
    refused = client.post(
        f"{ROUND}/uploads", data={"file": (io.BytesIO(bad), "returns.csv")}, headers=bearer(tokens["clerk"])
    )
    assert (refused.status_code, refused.get_json()) == (
        422,
        {
            "errors": [
                {
                    "code": "not_a_count",
                    "message": "Line 3, column 2 (voters): expected a whole number (0 or more); got '1.5'.",
                    "severity": "error",
                    "field": "voters",
                    "line": 3,
                    "column": 2,
                }
            ]
        },
    )
    assert results_and_sequence(engine) == before
    accepted = client.post(
        f"{ROUND}/uploads", data={"file": (io.BytesIO(good), "returns.csv")}, headers=bearer(tokens["clerk"])
    )
    assert (accepted.status_code, accepted.get_json()["created"], accepted.get_json()["sequence"]) == (
        201,
        2,
        1,
    )
    huge = client.post(
        f"{ROUND}/uploads",
        data={"file": (io.BytesIO(b"x" * 100_000), "big.csv")},
        headers=bearer(tokens["clerk"]),
    )
    assert (huge.status_code, huge.get_json()["errors"][0]["code"]) == (413, "too_large")


def test_every_attempt_is_audited_without_its_token(engine, client, tokens):
    client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD)
    client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=bearer(tokens["clerk"]))
    client.put(
        f"{ROUND}/bureaux/75-01-0001/return", json={**GOOD, "voters": 1}, headers=bearer(tokens["clerk"])
    )
    client.put(
        f"{ROUND}/bureaux/75-01-0001/turnout/17:00", json={"voters": 500}, headers=bearer(tokens["clerk"])
    )
    rows = accounts.audit_rows(engine)
    assert [
        (r["actor"], r["method"], r["path"].rsplit("/", 2)[-2:], r["status"], r["outcome"], r["sequence"])
        for r in rows
    ] == [
        (None, "PUT", ["75-01-0001", "return"], 401, "unauthorized", None),
        (
            "clerk one",
            "PUT",
            ["75-01-0001", "return"],
            201,
            '{"created": 1, "corrected": 0, "unchanged": 0, "flagged": 0, "held": 0, "waiting": 0}',
            1,
        ),
        ("clerk one", "PUT", ["75-01-0001", "return"], 422, "voters_mismatch", None),
        ("clerk one", "PUT", ["turnout", "17:00"], 422, "checkpoint_above_final", None),
    ]
    assert '"voters": 1' in rows[2]["sent"].replace('"voters":1', '"voters": 1')
    assert all(token not in repr(rows) for token in tokens.values())


def test_the_app_refuses_to_start_with_a_write_route_without_a_role():
    app = Flask(__name__)
    app.add_url_rule("/guarded", "guarded", auth.requires("clerk")(lambda: "ok"), methods=["POST"])
    auth.check_write_routes(app)
    app.add_url_rule("/forgotten", "forgotten", lambda: "ok", methods=["DELETE"])
    with pytest.raises(RuntimeError, match="write routes without a role: /forgotten"):
        auth.check_write_routes(app)


@pytest.mark.usefixtures("sample_election")
def test_tokens_from_the_command_line(engine, database_url):
    runner = CliRunner()
    env = {"TABULATOR_DATABASE_URL": database_url}
    created = runner.invoke(
        main,
        [
            *(
                "tokens",
                "create",
                "--name",
                "Clerk Paris 3",
                "--role",
                "clerk",
                "--election",
                "mini-primaire",
            ),
            *(
                "--person",
                "Jeanne Martin",
                "--expires",
                "2099-01-30T12:00:00+01:00",
                "--area",
                "departement:75",
            ),
        ],
        env=env,
    )
    lines = created.stdout.splitlines()
    assert (created.exit_code, lines[0]) == (
        0,
        "Token 1 for Clerk Paris 3 (clerk, mini-primaire, expires 2099-01-30 11:00 UTC):",
    )
    assert accounts.authenticate(engine, lines[1]) == accounts.Actor(
        1, "Clerk Paris 3", "clerk", "mini-primaire", "Jeanne Martin", "departement:75", None
    )
    listed = runner.invoke(main, ["tokens", "list"], env=env).stdout
    assert lines[1] not in listed
    assert listed.split() == [
        "1",
        "Clerk",
        "Paris",
        "3",
        "clerk",
        "mini-primaire,",
        "departement:75",
        "active,",
        "Jeanne",
        "Martin,",
        "until",
        "2099-01-30",
        "11:00",
    ]
    runner.invoke(main, ["tokens", "revoke", "1"], env=env)
    assert accounts.authenticate(engine, lines[1]) is None


@pytest.mark.usefixtures("sample_election")
def test_a_console_token_serves_one_election_and_expires_after_its_night(engine, database_url):
    runner = CliRunner()
    env = {"TABULATOR_DATABASE_URL": database_url}
    unscoped = runner.invoke(main, ["tokens", "create", "--name", "Someone", "--role", "admin"], env=env)
    past = runner.invoke(
        main,
        ["tokens", "create", "--name", "Late", "--role", "clerk", "--election", "mini-primaire"],
        env=env,
    )
    assert (unscoped.exit_code, unscoped.output.splitlines()[-1]) == (
        2,
        "Error: Give --election ELECTION, or --all-elections for a token of every election.",
    )
    # The sample's last round was on 29 January 2017: its default lifetime ended on 31 January 2017.
    assert (past.exit_code, past.output.splitlines()[-1]) == (
        2,
        "Error: That token would expire at 2017-01-31 00:00 UTC, in the past: give --expires.",
    )
    assert accounts.list_tokens(engine) == []
    short = runner.invoke(
        main, ["tokens", "create", "--name", "Brief", "--role", "admin", "--all-elections"], env=env
    )
    assert short.exit_code == 0
    with engine.begin() as connection:  # a day later
        connection.execute(text("UPDATE tokens SET expires_at = created_at"))
    assert accounts.authenticate(engine, short.stdout.splitlines()[1]) is None


def test_supervisors_read_the_audit_and_export_it(engine, database_url, client, tokens):
    client.put(f"{ROUND}/bureaux/75-01-0001/return", json=GOOD, headers=bearer(tokens["clerk"]))
    client.put(
        f"{ROUND}/bureaux/75-01-0001/return", json={**GOOD, "voters": 1}, headers=bearer(tokens["clerk"])
    )
    assert client.get("/api/v1/audit", headers=bearer(tokens["clerk"])).status_code == 403
    page = client.get("/api/v1/audit", query_string={"status": 422}, headers=bearer(tokens["supervisor"]))
    assert (page.status_code, page.headers["Cache-Control"]) == (200, "no-store")
    entries = page.get_json()["entries"]
    assert [(e["actor"], e["status"], e["outcome"]) for e in entries] == [
        ("clerk one", 422, "voters_mismatch")
    ]
    assert page.get_json()["next"] == entries[0]["id"]
    exported = CliRunner().invoke(
        main, ["audit", "export", "--actor", "clerk one"], env={"TABULATOR_DATABASE_URL": database_url}
    )
    lines = exported.stdout.splitlines()
    assert (
        lines[0]
        == "id,at,actor,role,remote_addr,method,path,status,outcome,sequence,sent,chain_position,chain_hash"
    )
    assert [line.split(",")[7] for line in lines[1:]] == ["201", "422"]
