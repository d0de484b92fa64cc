"""The newsroom API behind gunicorn: what a poller sees, over real HTTP."""

from __future__ import annotations

import gzip
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from api import store
from tabulator.batch import ReturnBatch
from tests.builders import SAMPLE, build_return

ROUND = "/api/v1/elections/mini-primaire/rounds/2"


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def get_until(url: str, shown: Callable[[int, dict[str, str]], bool], **headers: str):
    """`get(url)` again until `shown(status, headers)`, for ten seconds at most: a worker learns of a new
    sequence within `head_cache_seconds` (0.25 s by default), which a loaded machine may stretch."""
    deadline = time.monotonic() + 10
    while True:
        status, answered, body = get(url, **headers)
        if shown(status, answered):
            return status, answered, body
        assert time.monotonic() < deadline, f"still {status} {answered.get('ETag')} after ten seconds"
        time.sleep(0.02)


def test_a_poller_gets_each_sequence_once_then_304s(gunicorn, sample_election):
    def record(votes: int) -> None:
        batch = ReturnBatch.of(
            [build_return("75-01-0001", votes={"hamon": votes, "valls": 7})], ("hamon", "valls")
        )
        store.record_returns(sample_election, SAMPLE.id, 2, batch, author="clerk", reason="recount")

    def etag(expected: str) -> Callable[[int, dict[str, str]], bool]:
        return lambda status, headers: status == 200 and headers.get("ETag") == expected

    record(10)
    status, headers, body = get_until(
        f"{gunicorn.url}{ROUND}/results", etag('W/"1"'), **{"Accept-Encoding": "gzip"}
    )
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
    status, headers, body = get_until(
        f"{gunicorn.url}{ROUND}/results", etag('W/"2"'), **{"If-None-Match": 'W/"1"'}
    )
    # Every worker trusts the sequence it read for 0.25 s only: a poller sees the new one within a second.
    assert time.monotonic() - committed < 1.0, "the new sequence took over a second to show"
    assert (status, headers["ETag"], json.loads(body)["results"]["voters"]) == (200, 'W/"2"', 27)
    status, _, body = get(f"{gunicorn.url}{ROUND}/results/departement/99")
    assert (status, json.loads(body)) == (
        404,
        {
            "errors": [
                {"code": "not_found", "message": "There is no departement '99' in election mini-primaire."}
            ]
        },
    )
