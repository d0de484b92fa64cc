"""Static publication: the files are the API's own bytes, and a new sequence replaces the old at once."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from api import static_publication, store
from tabulator.batch import ReturnBatch
from tests.builders import SAMPLE, build_return

ROUND = "api/v1/elections/mini-primaire/rounds/2"


@pytest.mark.usefixtures("sample_election")
def test_published_files_are_the_api_documents_and_swap_whole(engine, make_app, tmp_path):
    def record(*returns, reason=None):
        batch = ReturnBatch.of(returns, ("hamon", "valls"))
        store.record_returns(engine, SAMPLE.id, 2, batch, author="clerk", reason=reason)

    record(build_return("75-01-0001", votes={"hamon": 250, "valls": 157}))
    folder = tmp_path / "static"
    assert static_publication.publish(engine, SAMPLE.id, 2, folder) == 1
    assert static_publication.publish(engine, SAMPLE.id, 2, folder) is None  # nothing new to write
    client = make_app(head_cache_seconds=0).test_client()

    def same_as_api(relative: str, url: str) -> None:
        path = folder / ROUND / relative
        served = client.get(f"/{ROUND}/{url}", headers={"Accept-Encoding": "identity"}).data
        assert (path.read_bytes(), gzip.decompress(path.with_name(path.name + ".gz").read_bytes())) == (
            served,
            served,
        )

    for relative, url in [
        ("results/index.json", "results"),
        ("results/departement/75/index.json", "results/departement/75"),
        ("results/circonscription/75-01", "results/circonscription/75-01"),
        ("results/circonscription/index.json", "results/circonscription"),
        ("results/departement/75/circonscription", "results/departement/75/circonscription"),
        ("turnout", "turnout"),
        ("timeline", "timeline"),
        ("current", "current"),
    ]:
        same_as_api(relative, url)
    # A région has the feed of its départements beside its own results: a folder of both.
    assert sorted(p.name for p in (folder / ROUND / "results" / "region").iterdir()) == [
        "11",
        "93",
        "index.json",
        "index.json.gz",
    ]
    assert sorted(p.name for p in (folder / ROUND / "results" / "region" / "11").iterdir()) == [
        "departement",
        "departement.gz",
        "index.json",
        "index.json.gz",
    ]

    record(build_return("75-01-0001", votes={"hamon": 157, "valls": 250}), reason="swapped at entry")
    assert static_publication.publish(engine, SAMPLE.id, 2, folder) == 2
    assert (folder / ROUND).resolve() == (folder / ".sequences" / SAMPLE.id / "2" / "2").resolve()
    assert (folder / ".sequences" / SAMPLE.id / "2" / "1").is_dir()  # kept for readers holding older files
    same_as_api("results/index.json", "results")


@pytest.mark.usefixtures("sample_election")
def test_old_sequences_are_pruned(engine, tmp_path):
    folder = tmp_path / "static"
    for votes in range(1, 7):
        batch = ReturnBatch.of(
            [build_return("13-01-0001", votes={"hamon": votes, "valls": 1})], ("hamon", "valls")
        )
        store.record_returns(engine, SAMPLE.id, 2, batch, author="clerk", reason="recount")
        static_publication.publish(engine, SAMPLE.id, 2, folder)
    kept = sorted(int(p.name) for p in (folder / ".sequences" / SAMPLE.id / "2").iterdir())
    assert kept == [3, 4, 5, 6]
    assert Path(folder / ROUND).resolve().name == "6"
