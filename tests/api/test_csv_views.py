"""CSV for every view, over HTTP on SQLite and PostgreSQL: results, turnout, timeline and corrections, live
and snapshot, by `.csv` on the path or `Accept: text/csv` on the JSON path — the same figures as the JSON,
the same ETag, 304s, caching and embargo, and cells a spreadsheet never runs as formulas."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from api import store
from api.store import lifecycle
from tabulator.batch import CheckpointBatch, ReturnBatch
from tabulator.types import Area, Bureau, Checkpoint
from tests.builders import AREAS, BUREAUX, EVENING, SAMPLE, build_return
from tests.matchers import ANY_TIME

ROUND = "/api/v1/elections/mini-primaire/rounds/2"
CSV_TYPE = "text/csv; charset=utf-8"
AS_OF = "2017-01-29T19:07:00+00:00"


def record(engine, *returns, reason=None):
    batch = ReturnBatch.of(returns, SAMPLE.round(2).candidate_ids)
    return store.record_returns(engine, SAMPLE.id, 2, batch, author="clerk", reason=reason)


def first_evening(engine):
    """Sequence 1: a Paris bureau; sequence 2: two of the Bouches-du-Rhône's."""
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


def rows(response) -> list[list[str]]:
    assert response.content_type == CSV_TYPE, response.get_data(as_text=True)[:300]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))


RESULTS_HEADER = [
    "level",
    "code",
    "name",
    "bureaux_reported",
    "bureaux_total",
    "voters",
    "hamon_votes",
    "hamon_pct_valid",
    "valls_votes",
    "valls_pct_valid",
    "leader",
    "sequence",
    "as_of",
    "published_at",
    "status",
    "test",
]


def test_the_national_results_as_csv_are_the_nation_then_a_row_per_region(client, engine):
    first_evening(engine)
    answer = client.get(f"{ROUND}/results.csv")
    assert answer.status_code == 200
    assert answer.get_data().endswith(b"\r\n")
    context = ["2", AS_OF, ANY_TIME, "partial", "false"]
    assert rows(answer) == [
        RESULTS_HEADER,
        ["national", "FR", "France", "3", "6", "713", "380", "53.75", "327", "46.25", "hamon", *context],
        ["region", "11", "Île-de-France", "1", "3", "412", "250", "61.43", "157", "38.57", "hamon", *context],
        [
            "region",
            "93",
            "Provence-Alpes-Côte d'Azur",
            "2",
            "3",
            "301",
            "130",
            "43.33",
            "170",
            "56.67",
            "valls",
            *context,
        ],
    ]


def test_every_csv_row_carries_the_figures_of_the_json(client, engine):
    """For each area of each level, live and at each snapshot: the CSV says what the JSON says."""
    first_evening(engine)
    paths = [
        f"{prefix}/results{area}"
        for prefix in (ROUND, f"{ROUND}/snapshots/1", f"{ROUND}/snapshots/2")
        for area in ("", "/region/93", "/departement/13", "/circonscription/13-01", "/bureau/13-01-0002")
    ]
    for path in paths:
        document = client.get(path).get_json()
        table = rows(client.get(f"{path}.csv"))
        assert table[0] == RESULTS_HEADER
        expected = [
            [
                row["level"],
                row["code"],
                row["name"],
                row["bureaux_reported"],
                row["bureaux_total"],
                row["voters"],
                *[figure for c in row["candidates"] for figure in (c["votes"], c["pct_valid"])],
                row["leader"],
                document["sequence"],
                document["as_of"],
                document["published_at"],
                document["status"],
                document["test"],
            ]
            for row in [{**document["area"], **document["results"]}, *document["children"]]
        ]
        assert table[1:] == [[as_cell(value) for value in row] for row in expected], path


def as_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def test_accept_text_csv_on_the_json_path_answers_the_same_csv_and_both_vary_on_accept(client, engine):
    first_evening(engine)
    by_suffix = client.get(f"{ROUND}/results/departement/13.csv")
    by_accept = client.get(f"{ROUND}/results/departement/13", headers={"Accept": "text/csv"})
    json_answer = client.get(f"{ROUND}/results/departement/13", headers={"Accept": "application/json"})
    browser = client.get(f"{ROUND}/results/departement/13", headers={"Accept": "text/html,*/*;q=0.8"})
    assert by_accept.data == by_suffix.data
    assert (by_suffix.headers["ETag"], by_accept.headers["ETag"], json_answer.headers["ETag"]) == (
        'W/"2-csv"',
        'W/"2-csv"',
        'W/"2"',
    )
    assert (by_suffix.headers["Vary"], by_accept.headers["Vary"], json_answer.headers["Vary"]) == (
        "Accept-Encoding",
        "Accept, Accept-Encoding",
        "Accept, Accept-Encoding",
    )
    assert (json_answer.mimetype, browser.mimetype) == ("application/json", "application/json")
    preferences = ["application/json;q=0.5, text/csv", "text/csv;q=0.5, application/json", "text/*", "*/*"]
    chosen = [client.get(f"{ROUND}/results", headers={"Accept": accept}).mimetype for accept in preferences]
    assert chosen == ["text/csv", "application/json", "text/csv", "application/json"]


def test_csv_answers_304_and_caches_as_the_json_does(client, engine):
    first_evening(engine)
    latest = client.get(f"{ROUND}/timeline.csv")
    assert (latest.headers["Cache-Control"], latest.headers["Last-Modified"]) == (
        "public, max-age=2",
        client.get(f"{ROUND}/timeline").headers["Last-Modified"],
    )
    same = client.get(f"{ROUND}/timeline.csv", headers={"If-None-Match": 'W/"2-csv"'})
    assert (same.status_code, same.data, same.headers["ETag"]) == (304, b"", 'W/"2-csv"')
    negotiated = client.get(f"{ROUND}/timeline", headers={"Accept": "text/csv", "If-None-Match": 'W/"2-csv"'})
    assert (negotiated.status_code, negotiated.headers["Vary"]) == (304, "Accept, Accept-Encoding")
    # The JSON's tag does not stand for the CSV: a cache holding one never gets a 304 for the other.
    assert client.get(f"{ROUND}/timeline.csv", headers={"If-None-Match": 'W/"2"'}).status_code == 200
    assert client.get(f"{ROUND}/timeline", headers={"If-None-Match": 'W/"2-csv"'}).status_code == 200

    snapshot = client.get(f"{ROUND}/snapshots/1/timeline.csv")
    record(engine, build_return("75-02-0001", votes={"hamon": 1, "valls": 1}))
    again = client.get(f"{ROUND}/snapshots/1/timeline.csv")
    assert (again.data, again.headers["Cache-Control"], again.headers["ETag"]) == (
        snapshot.data,
        "public, max-age=31536000, immutable",
        'W/"1-csv"',
    )
    fresh = client.get(f"{ROUND}/timeline.csv", headers={"If-None-Match": 'W/"2-csv"'})
    assert (fresh.status_code, fresh.headers["ETag"], len(rows(fresh))) == (200, 'W/"3-csv"', 4)


def test_the_timeline_as_csv_is_a_row_per_publication(client, engine):
    first_evening(engine)
    assert rows(client.get(f"{ROUND}/timeline.csv")) == [
        [
            "sequence",
            "as_of",
            "published_at",
            "bureaux_reported",
            "voters",
            "blank",
            "null",
            "valid",
            "hamon_votes",
            "hamon_pct_valid",
            "valls_votes",
            "valls_pct_valid",
            "test",
        ],
        [
            "1",
            "2017-01-29T19:00:00+00:00",
            ANY_TIME,
            "1",
            "412",
            "3",
            "2",
            "407",
            "250",
            "61.43",
            "157",
            "38.57",
            "false",
        ],
        ["2", AS_OF, ANY_TIME, "3", "713", "3", "3", "707", "380", "53.75", "327", "46.25", "false"],
    ]
    # Before any publication the columns are already those of the round's candidates.
    assert rows(client.get(f"{ROUND}/snapshots/0/timeline.csv")) == [
        [
            *["sequence", "as_of", "published_at", "bureaux_reported", "voters", "blank", "null", "valid"],
            *["hamon_votes", "hamon_pct_valid", "valls_votes", "valls_pct_valid", "test"],
        ]
    ]


def test_the_turnout_as_csv_is_a_row_per_checkpoint(client, engine):
    batch = CheckpointBatch.of(
        [
            Checkpoint("13-01-0001", "12:00", 80, EVENING),
            Checkpoint("13-01-0002", "12:00", 35, EVENING),
            Checkpoint("13-01-0001", "17:00", 150, EVENING),
        ]
    )
    store.record_checkpoints(engine, SAMPLE.id, 2, batch, author="clerk")
    context = ["1", "", ANY_TIME, "partial", "false"]
    area = ["departement", "13", "Bouches-du-Rhône"]
    # Round 2 follows round 1, in which no checkpoint was recorded: nothing is matched like for like.
    assert rows(client.get(f"{ROUND}/turnout/departement/13.csv")) == [
        [
            "level",
            "code",
            "name",
            "time",
            "bureaux_reported",
            "bureaux_total",
            "voters",
            "matched_bureaux",
            "matched_voters",
            "matched_previous_voters",
            "change_pct",
            "sequence",
            "as_of",
            "published_at",
            "status",
            "test",
        ],
        [*area, "12:00", "2", "3", "115", "0", "0", "0", "", *context],
        [*area, "17:00", "1", "3", "150", "0", "0", "0", "", *context],
    ]
    first_round = client.get("/api/v1/elections/mini-primaire/rounds/1/turnout.csv")
    assert rows(first_round)[1:] == []  # no checkpoint in round 1
    assert client.get(f"{ROUND}/turnout/departement/13", headers={"Accept": "text/csv"}).data == (
        client.get(f"{ROUND}/turnout/departement/13.csv").data
    )


def test_the_corrections_as_csv_keep_reasons_as_text_never_formulas(client, engine):
    first_evening(engine)
    record(
        engine,
        build_return(
            "13-01-0002",
            votes={"hamon": 60, "valls": 40},
            null=1,
            reported_at=EVENING + timedelta(minutes=30),
        ),
        reason='=HYPERLINK("http://evil.example","Hamon/Valls swapped")',
    )
    assert rows(client.get(f"{ROUND}/corrections.csv")) == [
        [
            "bureau",
            "name",
            "version",
            "sequence",
            "reported_at",
            "recorded_at",
            "voters",
            "blank",
            "null",
            "valid",
            "hamon_votes",
            "valls_votes",
            "previous_voters",
            "previous_blank",
            "previous_null",
            "previous_valid",
            "previous_hamon_votes",
            "previous_valls_votes",
            "reason",
            "test",
        ],
        [
            "13-01-0002",
            "Bureau 2",
            "2",
            "3",
            "2017-01-29T19:30:00+00:00",
            ANY_TIME,
            *["101", "0", "1", "100", "60", "40"],
            *["101", "0", "1", "100", "40", "60"],
            '\'=HYPERLINK("http://evil.example","Hamon/Valls swapped")',
            "false",
        ],
    ]
    assert rows(client.get(f"{ROUND}/snapshots/2/corrections.csv"))[1:] == []


def test_names_that_a_spreadsheet_would_run_are_written_as_text(engine, make_app):
    areas = (*AREAS[:-1], Area("circonscription", "13-01", "=1+1", "13"))
    bureaux = (*BUREAUX[:-1], Bureau("13-01-0003", "@SUM(A1:A9)", "13-01"))
    store.create_election(engine, SAMPLE, areas, bureaux)
    client = make_app(head_cache_seconds=0).test_client()
    table = rows(client.get(f"{ROUND}/results/departement/13.csv"))
    assert [row[2] for row in table[1:]] == ["Bouches-du-Rhône", "'=1+1"]
    table = rows(client.get(f"{ROUND}/results/circonscription/13-01.csv"))
    assert [row[2] for row in table[1:]] == ["'=1+1", "Bureau 1", "Bureau 2", "'@SUM(A1:A9)"]


def test_a_test_round_says_so_on_every_row(client, engine):
    first_evening(engine)
    lifecycle.update_round(engine, SAMPLE.id, 2, test=True)
    table = rows(client.get(f"{ROUND}/results.csv"))
    assert {row[-1] for row in table[1:]} == {"true"}


def test_the_csv_forms_are_embargoed_like_the_json(client, engine):
    first_evening(engine)
    lifecycle.update_round(engine, SAMPLE.id, 2, results_not_before=datetime.now(UTC) + timedelta(hours=1))
    for path, headers in [
        (f"{ROUND}/results.csv", {}),
        (f"{ROUND}/results", {"Accept": "text/csv"}),
        (f"{ROUND}/snapshots/1/timeline.csv", {}),
        (f"{ROUND}/turnout/departement/13.csv", {}),
        (f"{ROUND}/corrections.csv", {}),
    ]:
        refused = client.get(path, headers=headers)
        assert (refused.status_code, refused.get_json()["errors"][0]["code"]) == (403, "embargoed"), path
        assert int(refused.headers["Retry-After"]) > 3500


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (f"{ROUND}/results/departement/99.csv", "There is no departement '99' in election mini-primaire."),
        (f"{ROUND}/snapshots/7/results.csv", "Round 2 of mini-primaire has no sequence 7; the latest is 0."),
        ("/api/v1/elections/mini-primaire/rounds/9/timeline.csv", "Election 'mini-primaire' has no round 9."),
        (
            f"{ROUND}/results/departement/13.csv.csv",
            "There is no departement '13.csv' in election mini-primaire.",
        ),
    ],
)
def test_csv_paths_of_nothing_answer_404_in_the_json_envelope(client, path, message):
    answer = client.get(path)
    assert (answer.status_code, answer.content_type, answer.get_json()) == (
        404,
        "application/json",
        {"errors": [{"code": "not_found", "message": message}]},
    )


@pytest.mark.usefixtures("sample_election")
def test_cached_csv_is_answered_before_flask_alike(engine, make_app):
    """The fast path serves the CSV forms from memory with Flask's very headers, and never mistakes one
    format for the other."""
    first_evening(engine)
    app = make_app(head_cache_seconds=60)
    dispatched = []
    app.before_request(lambda: dispatched.append(1))
    client = app.test_client()
    requests = [
        (f"{ROUND}/results.csv", {}),
        (f"{ROUND}/results/departement/13.csv", {}),
        (f"{ROUND}/turnout.csv", {}),
        (f"{ROUND}/timeline.csv", {"Accept-Encoding": "gzip"}),
        (f"{ROUND}/results", {"Accept": "text/csv"}),
        (f"{ROUND}/results", {}),
    ]
    for url, headers in requests:
        by_flask = client.get(url, headers=headers)
        from_memory = client.get(url, headers=headers)
        assert (from_memory.status_code, from_memory.data) == (by_flask.status_code, by_flask.data)
        assert {k: v for k, v in from_memory.headers.items() if k != "Content-Length"} == {
            k: v for k, v in by_flask.headers.items() if k != "Content-Length"
        }
    # `results` with Accept: text/csv found the CSV that `results.csv` cached, and its JSON, not cached yet,
    # was built on the fast path (a cold area's results are): two fewer trips through Flask.
    assert len(dispatched) == len(requests) - 2
    json_answer = client.get(f"{ROUND}/results/departement/13", headers={"Accept": "application/json"})
    csv_answer = client.get(f"{ROUND}/results/departement/13", headers={"Accept": "text/csv"})
    assert (json_answer.mimetype, csv_answer.content_type) == ("application/json", CSV_TYPE)


def test_the_results_page_links_the_data_it_shows_as_csv(client, engine):
    first_evening(engine)
    record(engine, build_return("13-01-0002", votes={"hamon": 41, "valls": 59}, null=1), reason="Recount")
    links = {
        (lang, page): re.findall(r'<a href="([^"]+)" type="text/csv" download>([^<]+)</a>', html)
        for lang, query in (("fr", ""), ("en", "?lang=en"))
        for page in ("", "departement/13")
        for html in [client.get(f"/elections/mini-primaire/rounds/2/{page}{query}").get_data(as_text=True)]
    }
    # The turnout's section is on the page before its first checkpoint, hidden: page.js shows it then.
    national = [
        f"{ROUND}/results.csv",
        f"{ROUND}/timeline.csv",
        f"{ROUND}/turnout.csv",
        f"{ROUND}/corrections.csv",
    ]
    assert links == {
        ("fr", ""): [(url, "Télécharger les données") for url in national],
        ("en", ""): [(url, "Download the data") for url in national],
        ("fr", "departement/13"): [(f"{ROUND}/results/departement/13.csv", "Télécharger les données")],
        ("en", "departement/13"): [(f"{ROUND}/results/departement/13.csv", "Download the data")],
    }
    for url, _ in {link for found in links.values() for link in found}:
        assert (client.get(url).status_code, client.get(url).content_type) == (200, CSV_TYPE), url
