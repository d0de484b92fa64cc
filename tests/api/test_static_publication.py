"""Static publication: the files are the API's own bytes, a sequence writes only what it changed, and a new
sequence replaces the old at once."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from api import static_publication, store
from api.web.feed_rows import FeedRows
from api.web.http import GZIP_FROM
from tabulator.batch import ReturnBatch
from tests.builders import SAMPLE, build_return

ROUND = "api/v1/elections/mini-primaire/rounds/2"
EVERY_FILE = [
    "current",
    "results/bureau/13-/13-0/13-01-0001",
    "results/bureau/13-/13-0/13-01-0002",
    "results/bureau/13-/13-0/13-01-0003",
    "results/bureau/75-/75-0/75-01-0001",
    "results/bureau/75-/75-0/75-01-0002",
    "results/bureau/75-/75-0/75-01-0003",
    "results/bureau/75-/75-0/75-02-0001",
    "results/circonscription/13-/13-0/13-01",
    "results/circonscription/75-/75-0/75-01",
    "results/circonscription/75-/75-0/75-02",
    "results/circonscription/index.json",
    "results/departement/13/13/13/circonscription",
    "results/departement/13/13/13/index.json",
    "results/departement/75/75/75/circonscription",
    "results/departement/75/75/75/index.json",
    "results/departement/index.json",
    "results/index.json",
    "results/region/11/11/11/departement",
    "results/region/11/11/11/index.json",
    "results/region/93/93/93/departement",
    "results/region/93/93/93/index.json",
    "results/region/index.json",
    "timeline",
    "turnout",
]


def record(engine, code: str, hamon: int, reason: str | None = None) -> None:
    batch = ReturnBatch.of([build_return(code, votes={"hamon": hamon, "valls": 157})], ("hamon", "valls"))
    store.record_returns(engine, SAMPLE.id, 2, batch, author="clerk", reason=reason)


def served(folder: Path) -> dict[str, tuple[int, bytes]]:
    """Every file of the served sequence but the gzips (checked apart): its inode and its bytes."""
    top = folder / ROUND
    found = {}
    for here, _, names in os.walk(top, followlinks=True):
        for name in names:
            if name.endswith(".gz"):
                continue
            path = Path(here) / name
            body = path.read_bytes()
            compressed = path.with_name(name + ".gz")
            # As the API, which sends a smaller body as it is; nginx compresses a bureau's as it sends it.
            if len(body) < GZIP_FROM or "/bureau/" in str(path):
                assert not compressed.exists()
            else:
                assert gzip.decompress(compressed.read_bytes()) == body
            found[str(path.relative_to(top))] = (path.stat().st_ino, body)
    return found


def api_path(file: str) -> str:
    """The API path a file publishes: without its code's two folders, without `index.json`."""
    parts = file.removesuffix("/index.json").removesuffix("index.json").rstrip("/").split("/")
    if len(parts) >= 5 and parts[0] == "results":
        del parts[2:4]
    return "/".join(parts)


def as_published(client, file: str, sequence: int) -> bytes:
    """The API's document for a file, as published at `sequence` (`current` has only its latest)."""
    path = api_path(file)
    url = f"/{ROUND}/{path}" if path == "current" else f"/{ROUND}/snapshots/{sequence}/{path}"
    return client.get(url, headers={"Accept-Encoding": "identity"}).data


@pytest.mark.usefixtures("sample_election")
def test_every_file_is_the_api_document_at_its_path(engine, make_app, tmp_path):
    record(engine, "75-01-0001", 250)
    folder = tmp_path / "static"
    assert static_publication.publish(engine, SAMPLE.id, 2, folder) == 1
    assert static_publication.publish(engine, SAMPLE.id, 2, folder) is None  # nothing new to write
    client = make_app(head_cache_seconds=0).test_client()

    files = served(folder)

    assert sorted(files) == EVERY_FILE
    for file, (_, body) in files.items():
        latest = client.get(f"/{ROUND}/{api_path(file)}", headers={"Accept-Encoding": "identity"})
        assert (file, body) == (file, latest.data)


def published_then_one_more_return(
    engine, folder: Path, feeds: FeedRows | None = None
) -> dict[str, tuple[int, bytes]]:
    """Sequence 1 (a Paris bureau) published, then sequence 2 recorded (a Bouches-du-Rhône bureau): the
    files served before it."""
    record(engine, "75-01-0001", 250)
    static_publication.publish(engine, SAMPLE.id, 2, folder, feeds)
    before = served(folder)
    record(engine, "13-01-0001", 90)
    return before


@pytest.mark.usefixtures("sample_election")
@pytest.mark.parametrize("watching", [False, True], ids=["once", "watching"])
def test_a_sequence_writes_only_the_files_its_returns_change(engine, make_app, tmp_path, watching):
    """Published by a command each time, or by one watching (`publish-static --watch`), which keeps the
    rows and every area's sums of the sequence it published last and reads only the areas that moved."""
    folder, feeds = tmp_path / "static", FeedRows() if watching else None
    before = published_then_one_more_return(engine, folder, feeds)
    assert static_publication.publish(engine, SAMPLE.id, 2, folder, feeds) == 2
    after = served(folder)
    client = make_app(head_cache_seconds=0).test_client()

    written = sorted(file for file in after if after[file][0] != before[file][0])

    assert written == [
        "current",
        "results/bureau/13-/13-0/13-01-0001",
        "results/circonscription/13-/13-0/13-01",
        "results/circonscription/index.json",
        "results/departement/13/13/13/circonscription",
        "results/departement/13/13/13/index.json",
        "results/departement/index.json",
        "results/index.json",
        "results/region/93/93/93/departement",
        "results/region/93/93/93/index.json",
        "results/region/index.json",
        "timeline",
        "turnout",
    ]
    for file, (inode, body) in after.items():
        sequence = json.loads(body)["sequence"]
        assert (file, sequence) == (file, 2 if file in written else 1)
        assert (file, body) == (file, as_published(client, file, sequence))
        if file not in written:  # the same file, its figures still the latest
            assert (inode, body) == before[file]
            latest = client.get(f"/{ROUND}/{api_path(file)}").get_json()
            assert json.loads(body).get("results") == latest.get("results")
    assert (folder / ROUND).resolve() == (folder / ".sequences" / SAMPLE.id / "2" / "2").resolve()
    assert (folder / ".sequences" / SAMPLE.id / "2" / "1").is_dir()  # kept for readers holding older files


@pytest.mark.usefixtures("sample_election")
def test_a_change_of_the_whole_round_writes_every_file(engine, tmp_path, monkeypatch):
    folder = tmp_path / "static"
    before = published_then_one_more_return(engine, folder)
    monkeypatch.setattr(static_publication, "LAYOUT", static_publication.LAYOUT + 1)

    static_publication.publish(engine, SAMPLE.id, 2, folder)
    after = served(folder)

    assert sorted(after) == EVERY_FILE
    assert [file for file in after if after[file][0] == before[file][0]] == []
    assert {json.loads(body)["sequence"] for _, body in after.values()} == {2}


@pytest.mark.usefixtures("sample_election")
def test_old_sequences_and_the_folders_only_they_named_are_removed(engine, tmp_path):
    folder = tmp_path / "static"
    for hamon in range(1, 7):
        record(engine, "13-01-0001", hamon, reason="recount")
        static_publication.publish(engine, SAMPLE.id, 2, folder)
    sequences = folder / ".sequences" / SAMPLE.id / "2"

    kept = sorted(int(p.name) for p in sequences.iterdir() if p.name.isdigit())
    named = set()
    for sequence in kept:
        named |= set(json.loads((sequences / f"{sequence}.json").read_text())["directories"].values())

    assert kept == [3, 4, 5, 6]
    assert sorted(p.name for p in sequences.glob("*.json")) == ["3.json", "4.json", "5.json", "6.json"]
    assert named == {p.name for p in (sequences / ".dirs").iterdir()}
    assert Path(folder / ROUND).resolve().name == "6"
    assert json.loads((folder / ROUND / "results" / "index.json").read_bytes())["sequence"] == 6
