"""The newsroom API over HTTP: whole payloads, conditional GETs, snapshots, gzip, the change feed, errors."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.http import http_date

from api import store
from tabulator.batch import ReturnBatch
from tests.builders import EVENING, SAMPLE, build_return
from tests.matchers import ANY_TIME

ROUND = "/api/v1/elections/mini-primaire/rounds/2"


def record(engine, *returns, reason=None, round_number=2):
    candidates = SAMPLE.round(round_number).candidate_ids
    batch = ReturnBatch.of(returns, candidates)
    return store.record_returns(engine, SAMPLE.id, round_number, batch, author="clerk", reason=reason)


def first_evening(engine):
    record(engine, build_return("75-01-0001", votes={"hamon": 250, "valls": 157}, blank=3, null=2))
    record(
        engine,
        build_return(
            "13-01-0001", votes={"hamon": 90, "valls": 110}, reported_at=EVENING + timedelta(minutes=5)
        ),
        build_return(
            "13-01-0002", votes={"hamon": 40, "valls": 60}, null=1, reported_at=EVENING + timedelta(minutes=7)
        ),
    )


def test_the_bureau_page_lists_its_versions_and_its_parents(client, engine):
    first_evening(engine)
    record(
        engine,
        build_return(
            "13-01-0002",
            votes={"hamon": 60, "valls": 40},
            null=1,
            reported_at=EVENING + timedelta(minutes=30),
        ),
        reason="Hamon/Valls swapped",
    )
    response = client.get(f"{ROUND}/results/bureau/13-01-0002")
    assert response.status_code == 200
    assert response.get_json() == {
        "election": "mini-primaire",
        "round": 2,
        "sequence": 3,
        "as_of": "2017-01-29T19:30:00+00:00",
        "published_at": ANY_TIME,
        "bureaux_reported": 3,
        "bureaux_total": 6,
        "status": "partial",
        "test": False,
        "area": {"level": "bureau", "code": "13-01-0002", "name": "Bureau 2"},
        "parents": [
            {"level": "national", "code": "FR", "name": "France"},
            {"level": "region", "code": "93", "name": "Provence-Alpes-Côte d'Azur"},
            {"level": "departement", "code": "13", "name": "Bouches-du-Rhône"},
            {"level": "circonscription", "code": "13-01", "name": "1re circonscription des Bouches-du-Rhône"},
        ],
        "results": {
            "bureaux_reported": 1,
            "bureaux_total": 1,
            "bureaux_reported_pct": 100.0,
            "registered": None,
            "abstentions": None,
            "abstentions_pct_registered": None,
            "turnout_pct_registered": None,
            "voters": 101,
            "blank": 0,
            "blank_pct_voters": 0.0,
            "null": 1,
            "null_pct_voters": 0.99,
            "valid": 100,
            "valid_pct_voters": 99.01,
            "candidates": [
                {
                    "id": "hamon",
                    "name": "Benoît Hamon",
                    "ballot_order": 1,
                    "votes": 60,
                    "pct_valid": 60.0,
                    "pct_voters": 59.41,
                    "pct_registered": None,
                },
                {
                    "id": "valls",
                    "name": "Manuel Valls",
                    "ballot_order": 2,
                    "votes": 40,
                    "pct_valid": 40.0,
                    "pct_voters": 39.6,
                    "pct_registered": None,
                },
            ],
            "leader": "hamon",
            "voters_change": {
                "all_bureaux": {"voters": 101, "previous_voters": 0, "change_pct": None},
                "like_for_like": {
                    "matched_bureaux": 0,
                    "voters": 0,
                    "previous_voters": 0,
                    "change_pct": None,
                },
            },
        },
        "children": [],
        "versions": [
            {
                "version": 1,
                "sequence": 2,
                "voters": 101,
                "blank": 0,
                "null": 1,
                "valid": 100,
                "votes": {"hamon": 40, "valls": 60},
                "reported_at": "2017-01-29T19:07:00+00:00",
                "recorded_at": ANY_TIME,
                "reason": None,
                "warnings": [],
                "warning_notes": [],
            },
            {
                "version": 2,
                "sequence": 3,
                "voters": 101,
                "blank": 0,
                "null": 1,
                "valid": 100,
                "votes": {"hamon": 60, "valls": 40},
                "reported_at": "2017-01-29T19:30:00+00:00",
                "recorded_at": ANY_TIME,
                "reason": "Hamon/Valls swapped",
                "warnings": [],
                "warning_notes": [],
            },
        ],
    }


def test_a_circonscription_lists_its_bureaux(client, engine):
    first_evening(engine)
    children = client.get(f"{ROUND}/results/circonscription/13-01").get_json()["children"]
    assert children == [
        {
            "level": "bureau",
            "code": code,
            "name": name,
            "bureaux_reported": reported,
            "bureaux_total": 1,
            "registered": None,  # the sample's open primary has no register
            "abstentions": None,
            "voters": voters,
            "blank": 0,
            "null": null,
            "valid": hamon + valls,
            "candidates": [
                {"id": "hamon", "votes": hamon, "pct_valid": hamon_pct, "pct_registered": None},
                {"id": "valls", "votes": valls, "pct_valid": valls_pct, "pct_registered": None},
            ],
            "leader": leader,
        }
        for code, name, reported, voters, null, hamon, hamon_pct, valls, valls_pct, leader in [
            ("13-01-0001", "Bureau 1", 1, 200, 0, 90, 45.0, 110, 55.0, "valls"),
            ("13-01-0002", "Bureau 2", 1, 101, 1, 40, 40.0, 60, 60.0, "valls"),
            ("13-01-0003", "Bureau 3", 0, 0, 0, 0, None, 0, None, None),
        ]
    ]


def test_conditional_gets_answer_304_until_the_next_sequence(client, engine):
    first_evening(engine)
    first = client.get(f"{ROUND}/results")
    assert (first.status_code, first.headers["ETag"], first.headers["Cache-Control"]) == (
        200,
        'W/"2"',
        "public, max-age=2",
    )
    assert first.headers["Vary"] == "Accept, Accept-Encoding"  # the same path answers CSV to Accept: text/csv
    same = client.get(f"{ROUND}/results", headers={"If-None-Match": 'W/"2"'})
    assert (same.status_code, same.data, same.headers["ETag"]) == (304, b"", 'W/"2"')
    later = http_date(datetime.now(UTC) + timedelta(minutes=1))
    assert client.get(f"{ROUND}/results", headers={"If-Modified-Since": later}).status_code == 304
    record(engine, build_return("75-02-0001", votes={"hamon": 1, "valls": 1}))
    fresh = client.get(f"{ROUND}/results", headers={"If-None-Match": 'W/"2"'})
    assert (fresh.status_code, fresh.headers["ETag"], fresh.get_json()["sequence"]) == (200, 'W/"3"', 3)
    assert client.get(f"{ROUND}/current").get_json() == {
        "election": "mini-primaire",
        "round": 2,
        "sequence": 3,
        "as_of": "2017-01-29T19:07:00+00:00",
        "published_at": ANY_TIME,
        "bureaux_reported": 4,
        "bureaux_total": 6,
        "status": "partial",
        "test": False,
        "results_not_before": None,
    }
    assert client.get(f"{ROUND}/current").headers["Cache-Control"] == "no-cache"


def test_snapshots_never_change_and_are_cached_forever(client, engine, make_app):
    first_evening(engine)
    snapshot = client.get(f"{ROUND}/snapshots/1/results/departement/13")
    record(engine, build_return("13-01-0003", votes={"hamon": 5, "valls": 5}))
    again = client.get(f"{ROUND}/snapshots/1/results/departement/13")
    assert (again.data, again.headers["Cache-Control"]) == (
        snapshot.data,
        "public, max-age=31536000, immutable",
    )
    assert again.get_json()["results"]["bureaux_reported"] == 0
    # A new process (an empty cache) rebuilds the same bytes from the stored versions.
    rebuilt = make_app(head_cache_seconds=0).test_client()
    assert (
        rebuilt.get(f"{ROUND}/snapshots/2/results/departement/13").data
        == client.get(f"{ROUND}/snapshots/2/results/departement/13").data
    )


def test_large_documents_are_gzipped_for_clients_that_accept_it(client, engine):
    first_evening(engine)
    plain = client.get(f"{ROUND}/results", headers={"Accept-Encoding": "identity"})
    zipped = client.get(f"{ROUND}/results", headers={"Accept-Encoding": "gzip, br"})
    assert ("Content-Encoding" not in plain.headers, zipped.headers["Content-Encoding"]) == (True, "gzip")
    assert gzip.decompress(zipped.data) == plain.data


def test_the_change_feed_pages_through_corrections_without_missing_or_repeating(client, engine):
    first_evening(engine)
    record(
        engine,
        build_return("75-01-0001", votes={"hamon": 251, "valls": 156}, blank=3, null=2),
        reason="Recount of one ballot",
    )
    seen, cursor, pages = [], "0", 0
    while True:
        page = client.get(f"{ROUND}/changes", query_string={"since": cursor, "limit": 2}).get_json()
        seen += [(c["bureau"], c["version"], c["sequence"], c["kind"]) for c in page["changes"]]
        cursor, pages = page["next"], pages + 1
        if not page["truncated"]:
            break
    assert seen == [
        ("75-01-0001", 1, 1, "recorded"),
        ("13-01-0001", 1, 2, "recorded"),
        ("13-01-0002", 1, 2, "recorded"),
        ("75-01-0001", 2, 3, "corrected"),
    ]
    assert (pages, cursor) == (2, "3")
    assert client.get(f"{ROUND}/changes", query_string={"since": cursor}).get_json()["changes"] == []
    correction = client.get(f"{ROUND}/changes", query_string={"since": "2"}).get_json()["changes"]
    assert correction == [
        {
            "bureau": "75-01-0001",
            "name": "Bureau 1",
            "kind": "corrected",
            "version": 2,
            "sequence": 3,
            "reported_at": "2017-01-29T19:00:00+00:00",
            "recorded_at": ANY_TIME,
            "counts": {
                "voters": 412,
                "blank": 3,
                "null": 2,
                "valid": 407,
                "votes": {"hamon": 251, "valls": 156},
            },
            "previous": {
                "voters": 412,
                "blank": 3,
                "null": 2,
                "valid": 407,
                "votes": {"hamon": 250, "valls": 157},
            },
            "reason": "Recount of one ballot",
            "warnings": [],
        }
    ]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/api/v1/elections/nope", 404, "There is no election 'nope'."),
        ("/api/v1/elections/mini-primaire/rounds/9/results", 404, "Election 'mini-primaire' has no round 9."),
        (f"{ROUND}/results/departement/99", 404, "There is no departement '99' in election mini-primaire."),
        (f"{ROUND}/results/canton/13", 404, "There is no canton '13' in election mini-primaire."),
        (
            f"{ROUND}/results/bureau/13-01-9999",
            404,
            "There is no bureau '13-01-9999' in election mini-primaire.",
        ),
        (f"{ROUND}/snapshots/7/results", 404, "Round 2 of mini-primaire has no sequence 7; the latest is 0."),
        (
            f"{ROUND}/changes?since=yesterday",
            400,
            "since: 'yesterday' is neither a sequence like 42 nor a `next` cursor like 42:1234.",
        ),
        (f"{ROUND}/changes?limit=many", 400, "limit: Not a valid integer."),
    ],
)
def test_errors_name_what_was_not_found_in_one_envelope(client, path, status, message):
    response = client.get(path)
    assert (response.status_code, response.get_json()["errors"][0]["message"]) == (status, message)
    assert set(response.get_json()) == {"errors"}


def test_the_openapi_document_and_its_docs_page_work_offline(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert {
        "/api/v1/elections/{election}/rounds/{number}/results/{level}/{code}",
        "/api/v1/elections/{election}/rounds/{number}/changes",
        "/api/v1/elections/{election}/rounds/{number}/snapshots/{sequence}/results",
    } <= set(spec["paths"])
    assert "ResultsDocument" in spec["components"]["schemas"]
    page = client.get("/api/v1/docs").get_data(as_text=True)
    # Written on the server from that document: every path is on the page, which needs nothing from
    # outside this origin, and no script.
    assert all(f"<code>{path.replace('/', '/<wbr>')}</code>" in page for path in spec["paths"])
    assert ("https://" in page, "<script" in page) == (False, False)


@pytest.mark.usefixtures("sample_election")
def test_cached_documents_are_answered_before_flask_alike(engine, make_app):
    first_evening(engine)
    app = make_app(head_cache_seconds=60)
    dispatched = []
    app.before_request(lambda: dispatched.append(1))
    client = app.test_client()
    urls = [f"{ROUND}/results", f"{ROUND}/results/departement/13", f"{ROUND}/turnout", f"{ROUND}/timeline"]
    for url in urls:
        by_flask = client.get(url, headers={"Accept-Encoding": "gzip"})
        from_memory = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert (from_memory.status_code, from_memory.data) == (by_flask.status_code, by_flask.data)
        assert {k: v for k, v in from_memory.headers.items() if k != "Content-Length"} == {
            k: v for k, v in by_flask.headers.items() if k != "Content-Length"
        }
        not_modified = client.get(url, headers={"If-None-Match": by_flask.headers["ETag"]})
        assert (not_modified.status_code, not_modified.data) == (304, b"")
    # Only the first request of each went through Flask, but département 13's: asked for once the worker
    # trusted the round's sequence, it was built before Flask too (as a cold area is: the next test).
    assert len(dispatched) == len(urls) - 1
    client.get(f"{ROUND}/results?pretty=1")
    assert len(dispatched) == len(urls)  # a query string is Flask's
    record(engine, build_return("75-02-0001", votes={"hamon": 1, "valls": 1}))
    assert client.get(f"{ROUND}/results").get_json()["sequence"] == 2  # trusted for 60 s, as configured


@pytest.mark.usefixtures("sample_election")
def test_a_cold_area_s_results_are_built_before_flask_as_flask_builds_them(engine, make_app):
    """A worker that trusts the round's sequence builds an area nobody asked for yet without routing the
    request; a worker that trusts nothing (head_cache_seconds 0) lets Flask build every one."""
    first_evening(engine)
    fast, routed = make_app(head_cache_seconds=60), make_app(head_cache_seconds=0)
    dispatched = []
    fast.before_request(lambda: dispatched.append(1))
    fast_client, routed_client = fast.test_client(), routed.test_client()
    fast_client.get(f"{ROUND}/results/departement/75")  # the worker now trusts sequence 1
    dispatched.clear()
    areas = [f"{ROUND}/results/departement/13", f"{ROUND}/results/bureau/75-01-0001", f"{ROUND}/results"]
    for url in areas:
        built, by_flask = fast_client.get(url), routed_client.get(url)
        assert (built.status_code, built.data) == (by_flask.status_code, by_flask.data) == (200, built.data)
        assert {k: v for k, v in built.headers.items() if k != "Cache-Control"} == {
            k: v for k, v in by_flask.headers.items() if k != "Cache-Control"
        }
    assert dispatched == []

    # What the route refuses, the fast path leaves to it: an unknown area, then the embargo.
    missing = fast_client.get(f"{ROUND}/results/departement/99")
    error = missing.get_json()["errors"][0]["code"]
    assert (missing.status_code, error, dispatched) == (404, "not_found", [1])
    store.update_round(engine, SAMPLE.id, 2, results_not_before=datetime.now(UTC) + timedelta(hours=1))
    # Decided in the read that would build it, though the worker still trusts the sequence it saw.
    assert fast_client.get(f"{ROUND}/results/bureau/13-01-0002").status_code == 403


def test_the_corrections_log_shows_old_and_new_counts_and_why(client, engine):
    first_evening(engine)
    record(
        engine,
        build_return(
            "13-01-0002",
            votes={"hamon": 60, "valls": 40},
            null=1,
            reported_at=EVENING + timedelta(minutes=30),
        ),
        reason="Hamon/Valls swapped",
    )
    log = client.get(f"{ROUND}/corrections").get_json()
    assert (log["sequence"], log["status"]) == (3, "partial")
    assert log["corrections"] == [
        {
            "bureau": "13-01-0002",
            "name": "Bureau 2",
            "kind": "corrected",
            "version": 2,
            "sequence": 3,
            "reported_at": "2017-01-29T19:30:00+00:00",
            "recorded_at": ANY_TIME,
            "counts": {
                "voters": 101,
                "blank": 0,
                "null": 1,
                "valid": 100,
                "votes": {"hamon": 60, "valls": 40},
            },
            "previous": {
                "voters": 101,
                "blank": 0,
                "null": 1,
                "valid": 100,
                "votes": {"hamon": 40, "valls": 60},
            },
            "reason": "Hamon/Valls swapped",
            "warnings": [],
        }
    ]
    assert client.get(f"{ROUND}/snapshots/2/corrections").get_json()["corrections"] == []
