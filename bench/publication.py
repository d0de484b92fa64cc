"""Static publication benchmark on the 69,242-bureau presidential round 2, with its baselines in the same run.

- The first whole publication (every area, every level feed, every bureau), against copying the tree it
  wrote (the same files and bytes, nothing to compute: the disk's floor).
- A one-return sequence: from the commit of a corrected return to its files being the served ones
  (`publish` returning after its swap), against the whole publication.
- Sequences of 50 and 300 returns from the whole country: what a publisher that fell behind by a few
  seconds under a night's load covers in one pass.

The files go to a folder on the disk and, in the same run, to one in memory (/dev/shm, a tmpfs): a file's
creation costs about a millisecond on this kind of virtual disk, against microseconds in memory, and the
publication is derived data that `publish-static` writes again whole at any time (docs/operations.md).

Run: `python -m bench.publication [sqlite|postgresql] [memory|disk|both]` (default sqlite, both;
postgresql uses TABULATOR_TEST_POSTGRES_URL's server). Needs ../shared/data.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

import numpy as np

from api import static_publication, store
from api.web.feed_rows import FeedRows
from bench import summary
from bench.api import FILE, load, step
from bench.writes import postgres_url
from tabulator.batch import UNKNOWN

SAMPLES = 15
MEMORY = "/dev/shm"
ELECTION = "presidentielle-2017"


def main() -> None:
    if not FILE.exists():
        sys.exit(f"bench-publication: {FILE} is absent; this benchmark needs ../shared/data.")
    kind = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    places = {"memory": [MEMORY], "disk": [None], "both": [MEMORY, None]}[
        sys.argv[2] if len(sys.argv) > 2 else "both"
    ]
    with tempfile.TemporaryDirectory() as folder:
        step(f"loading 69,242 bureaux ({kind})")
        engine, ministry = load(database_url(kind, Path(folder)))
        for place in places:
            with tempfile.TemporaryDirectory(dir=place) as static:
                run(engine, ministry, Path(static), "memory (tmpfs)" if place else "disk")


def database_url(kind: str, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder}/bench.sqlite3"
    return postgres_url("tabulator_bench_publication")


def run(engine: object, ministry: object, folder: Path, place: str) -> None:
    """Publish the round whole into `folder`, then sequences of one and of 50 corrected returns."""
    static = folder / "static"
    step(f"first whole publication, in {place}")
    started = time.perf_counter()
    feeds = FeedRows()  # as `publish-static --watch` keeps them
    static_publication.publish(engine, ELECTION, 2, static, feeds)  # type: ignore[arg-type]
    whole = time.perf_counter() - started
    tree = tree_size(static)
    step("copying the tree it wrote (the baseline)")
    started = time.perf_counter()
    shutil.copytree(static / ".sequences", folder / "copy", symlinks=True)
    copy = time.perf_counter() - started
    shutil.rmtree(folder / "copy")
    rng = np.random.default_rng(len(place))
    batch = ministry.batch  # type: ignore[attr-defined]
    # Bureaux with room for one more votant under their inscrits (the probe adds a blank ballot).
    room = np.flatnonzero((batch.registered == UNKNOWN) | (batch.counts[:, 0] < batch.registered))
    rows = iter(rng.choice(room, SAMPLES + 5 * (50 + 300), replace=False).tolist())
    one = [sequence_seconds(engine, ministry, static, feeds, list(islice(rows, 1))) for _ in range(SAMPLES)]
    many = {
        size: [sequence_seconds(engine, ministry, static, feeds, list(islice(rows, size))) for _ in range(5)]
        for size in (50, 300)
    }
    report(place, whole=whole, copy=copy, tree=tree, one=one, many=many)


def sequence_seconds(
    engine: object, ministry: object, static: Path, feeds: FeedRows, rows: list[int]
) -> float:
    """Correct some returns in one sequence; the seconds from its commit to its files being served."""
    batch = ministry.batch.select(rows)  # type: ignore[attr-defined]
    batch.counts[:, 1] += 1  # one more blank ballot
    batch.counts[:, 0] += 1
    store.record_returns(engine, ELECTION, 2, batch, author="bench", reason="publication probe")  # type: ignore[arg-type]
    committed = time.perf_counter()
    sequence = static_publication.publish(engine, ELECTION, 2, static, feeds)  # type: ignore[arg-type]
    assert sequence is not None
    step(f"sequence {sequence}: {len(rows)} return(s) published in {time.perf_counter() - committed:.3f} s")
    return time.perf_counter() - committed


def tree_size(static: Path) -> tuple[int, int]:
    files = size = 0
    for here, _, names in os.walk(static):
        for name in names:
            files += 1
            size += (Path(here) / name).stat().st_size
    return files, size


def report(
    place: str,
    *,
    whole: float,
    copy: float,
    tree: tuple[int, int],
    one: list[float],
    many: dict[int, list[float]],
) -> None:
    files, size = tree
    print(f"\nFile: PR17_BVot_T2_FE (69,242 bureaux); load average {os.getloadavg()[0]:.2f}.")
    print(f"Files in {place}. First whole publication: {files:,} files, {size / 1e6:,.1f} MB.\n")
    print(f"{'measure':<46}{'seconds':>10}{'baseline':>10}{'ratio':>8}")
    name = "first whole publication (vs copying its tree)"
    print(f"{name:<46}{whole:>10.2f}{copy:>10.2f}{whole / copy:>8.2f}")
    summary.record(
        "publication",
        f"whole publication, {place}",
        (f"{whole:.1f} s", f"{copy:.1f} s copy", f"{whole / copy:.2f}×", "≤ 15 s"),
        met=whole <= 15,
    )
    sequences = [("one-return sequence, commit → served", one)]
    sequences += [(f"{size}-return sequence", times) for size, times in many.items()]
    for name, times in sequences:
        median = statistics.median(times)
        print(f"{name + ', median':<46}{median:>10.3f}{whole:>10.2f}{median / whole:>8.3f}")
        print(f"{name + ', max':<46}{max(times):>10.3f}")
        summary.record(
            "publication",
            f"{name}, median, {place}",
            (
                f"{median:.2f} s",
                f"{whole:.1f} s whole",
                f"{median / whole:.3f}",
                "≤ 1 s" if times is one else "",
            ),
            met=median <= 1 if times is one else None,
        )


if __name__ == "__main__":
    main()
