"""The newsroom API behind gunicorn: what a poller sees, over real HTTP."""

from __future__ import annotations

import gzip
import json
import time
import urllib.error
import urllib.request

from api import store
from tabulator.batch import ReturnBatch
from tests.builders import AREAS, BUREAUX, SAMPLE, build_return

ROUND = "/api/v1/elections/mini-primaire/rounds/2"


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_a_poller_gets_each_sequence_once_then_304s(engine, gunicorn):
    store.create_election(engine, SAMPLE, AREAS, BUREAUX)

    def record(votes: int) -> None:
        batch = ReturnBatch.of(
            [build_return("75-01-0001", votes={"hamon": votes, "valls": 7})], ("hamon", "valls")
        )
        store.record_returns(engine, SAMPLE.id, 2, batch, author="clerk", reason="recount")

    record(10)
    time.sleep(0.3)  # longer than a worker trusts the latest sequence
    status, headers, body = get(f"{gunicorn.url}{ROUND}/results", **{"Accept-Encoding": "gzip"})
    document = json.loads(gzip.decompress(body) if headers.get("Content-Encoding") == "gzip" else body)
    assert (status, headers["ETag"], document["sequence"], document["results"]["voters"]) == (
        200,
        'W/"1"',
        1,
        17,
    )
    assert get(f"{gunicorn.url}{ROUND}/results", **{"If-None-Match": 'W/"1"'})[0] == 304

    record(20)
    committed = time.monotonic()
    while True:  # the new sequence reaches every worker within a second
        status, headers, body = get(f"{gunicorn.url}{ROUND}/results", **{"If-None-Match": 'W/"1"'})
        if status == 200:
            break
        assert time.monotonic() - committed < 1.0, "the new sequence took over a second to show"
        time.sleep(0.02)
    assert (headers["ETag"], json.loads(body)["results"]["voters"]) == ('W/"2"', 27)
    status, _, body = get(f"{gunicorn.url}{ROUND}/results/departement/99")
    assert (status, json.loads(body)) == (
        404,
        {
            "errors": [
                {"code": "not_found", "message": "There is no departement '99' in election mini-primaire."}
            ]
        },
    )
