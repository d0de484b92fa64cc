"""Security at the edges: cross-origin reads only, headers on the pages, no trace of the server's insides."""

from __future__ import annotations

import pytest

ROUND = "/api/v1/elections/mini-primaire/rounds/2"
ORIGIN = {"Origin": "https://journal.example"}


@pytest.fixture
def client(sample_election, make_app):
    """The default settings: the headers are those a deployment sends."""
    return make_app().test_client()


def test_any_origin_may_read_the_public_api_and_none_may_write(client, auth_headers):
    read = client.get(f"{ROUND}/results", headers=ORIGIN)
    assert (read.headers["Access-Control-Allow-Origin"], read.headers["Access-Control-Expose-Headers"]) == (
        "*",
        "ETag, Last-Modified, Retry-After, X-Tabulator-Test",
    )
    preflight = client.options(
        f"{ROUND}/results",
        headers={
            **ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "if-none-match",
        },
    )
    assert (preflight.status_code, dict(preflight.headers)) == (
        204,
        {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "GET, HEAD",
            "Access-Control-Allow-Headers": "If-None-Match, If-Modified-Since",
            "Access-Control-Max-Age": "86400",
            "Content-Length": "0",
            "X-Content-Type-Options": "nosniff",
        },
    )
    write_preflight = client.options(
        f"{ROUND}/bureaux/75-01-0001/return", headers={**ORIGIN, "Access-Control-Request-Method": "PUT"}
    )
    written = client.put(
        f"{ROUND}/bureaux/75-01-0001/return",
        json={"voters": 1, "blank": 0, "null": 0, "valid": 1, "votes": {"hamon": 1, "valls": 0}},
        headers={**ORIGIN, **auth_headers["supervisor"]},
    )
    audit = client.get("/api/v1/audit", headers={**ORIGIN, **auth_headers["supervisor"]})
    for answer in (write_preflight, written, audit):
        assert "Access-Control-Allow-Origin" not in answer.headers


def test_pages_carry_security_headers_and_no_inline_script(client):
    page = client.get("/elections/mini-primaire/rounds/2/")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src" not in policy or "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "default-src 'self'" in policy and "frame-ancestors 'self'" in policy
    assert (page.headers["X-Content-Type-Options"], page.headers["Referrer-Policy"]) == (
        "nosniff",
        "same-origin",
    )
    assert "<script>" not in page.get_data(as_text=True)  # scripts only from our own files


def test_an_unexpected_error_answers_the_envelope_without_a_trace(client, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("SELECT secret FROM inside")

    monkeypatch.setattr("api.web.public.documents.current_of", broken)
    answer = client.get(f"{ROUND}/current")
    assert (answer.status_code, answer.get_json()) == (
        500,
        {
            "errors": [
                {"code": "internal_error", "message": "Something went wrong on our side; it has been logged."}
            ]
        },
    )
