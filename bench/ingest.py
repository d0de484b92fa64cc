"""Ingest benchmarks on SQLite and PostgreSQL, each against a baseline measured in the same run.

1. The 69,242-bureau file of the 2017 presidential election, round 2, and a file of round 1's shape (the
   same bureaux and counts, each bureau's exprimés shared among round 1's 11 candidates at their national
   shares: the ministry's per-bureau file of round 1 is not in ../shared/data): the bare
   `pandas.read_csv` parse (the baseline) against the full ingest (read, validate, store, aggregate,
   publish), median of 5 runs, interleaved so that a noisy neighbour slows both alike.
2. One bureau's return recorded with its aggregates, one transaction each: median and p99, against an
   empty write transaction on the same engine.

Run: `make bench` (or `python -m bench.ingest`). Needs ../shared/data and PostgreSQL.
"""

from __future__ import annotations

import os
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import click
import numpy as np
import pandas as pd
from sqlalchemy import Engine, create_engine, text

from api import reference, store
from api.collector import set_aside_what_is_built
from api.store import db
from api.store.caches import engine_caches
from bench import summary
from tabulator.ministry import MinistryFile, read_ministry
from tabulator.types import Election, Round

FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "fr-pres2017" / "PR17_BVot_T2_FE.txt.gz"
# Round 1 of 2017 in panel order: name, first name, sex, national share of the exprimés in % (ministry).
ROUND_1 = (
    ("DUPONT-AIGNAN", "Nicolas", "M", 4.70),
    ("LE PEN", "Marine", "F", 21.30),
    ("MACRON", "Emmanuel", "M", 24.01),
    ("HAMON", "Benoît", "M", 6.36),
    ("ARTHAUD", "Nathalie", "F", 0.64),
    ("POUTOU", "Philippe", "M", 1.09),
    ("CHEMINADE", "Jacques", "M", 0.18),
    ("LASSALLE", "Jean", "M", 1.21),
    ("MÉLENCHON", "Jean-Luc", "M", 19.58),
    ("ASSELINEAU", "François", "M", 0.92),
    ("FILLON", "François", "M", 20.01),
)
POSTGRES_ADMIN_URL = os.environ.get(
    "TABULATOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RUNS = 5  # interleaved; their median: this machine's speed varies by a tenth from one second to the next
SINGLE_RETURNS = 500
TARGETS = {"sqlite": 3.0, "postgresql": 5.0}


def seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bare_parse(path: Path) -> pd.DataFrame:
    """The baseline: pandas' own parser reading every cell as text, no NA detection. As object columns of
    str, its fastest way: with pyarrow installed (tabulator reads files with it), `dtype=str` makes Arrow
    strings of pandas' Python strings, 50 % slower, which would flatter every ratio."""
    return pd.read_csv(path, sep=";", encoding="latin-1", dtype=object, header=None, na_filter=False)


def full_ingest(engine: Engine, path: Path, round_number: int) -> None:
    ministry = read_ministry(path.read_bytes(), reference.departements())
    store.record_returns(engine, "bench", round_number, ministry.batch, author="bench")


def round_1_shaped(folder: str) -> Path:
    """Round 2's file with its two candidate blocks replaced by round 1's eleven: each bureau's exprimés
    drawn among them at their national shares (seeded), the percentages computed as the ministry does."""
    frame = bare_parse(FILE)
    header, body = frame.iloc[0, :28].tolist(), frame.iloc[1:, :21]
    valid = body.iloc[:, 18].astype(np.int64).to_numpy()
    registered = body.iloc[:, 7].astype(np.int64).to_numpy()
    shares = np.array([share for *_, share in ROUND_1])
    votes = np.random.default_rng(2017).multinomial(valid, shares / shares.sum())
    blocks = []
    for panel, (name, first_name, sex, _) in enumerate(ROUND_1):
        column = votes[:, panel]
        blocks += [
            np.full(len(body), str(panel + 1)),
            np.full(len(body), sex),
            np.full(len(body), name),
            np.full(len(body), first_name),
            column.astype(str),
            _percent(column, registered),
            _percent(column, valid),
        ]
    lines = [";".join(header + [""] * 7 * (len(ROUND_1) - 1))]
    lines += [
        ";".join(cells) for cells in zip(*(body[c].tolist() for c in body.columns), *blocks, strict=True)
    ]
    path = Path(folder) / "round-1-shaped.txt"
    path.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return path


def _percent(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(whole > 0, 100 * part / whole, 0.0)
    return np.strings.replace(np.char.mod("%.2f", shares), ".", ",")


def add_round(engine: Engine, number: int, candidates: tuple) -> None:
    election = Election("bench", "bench", "", (), (Round(number, date(2017, 5, 7), candidates),))
    with engine.begin() as connection:
        store.add_rounds(connection, 1, election)


def prepare(url: str) -> tuple[Engine, MinistryFile]:
    db.upgrade(url)
    engine = db.make_engine(url)
    engine_caches(engine).build_guard = set_aside_what_is_built  # as the command line does (api/cli.py)
    ministry = read_ministry(FILE.read_bytes(), reference.departements())
    store.ensure_ministry_election(engine, "bench", 1, ministry, name="bench")
    with engine.connect() as connection:
        store.election_index(connection, 1)  # the service keeps the registry cached; so does the benchmark
    return engine, ministry


def bench_database(
    name: str, url: str, files: dict[str, Path], bar: Callable[[str], None]
) -> dict[str, object]:
    """Each file's parse and ingest, then single returns, on one database."""
    engine, ministry = prepare(url)
    figures: dict[str, object] = {}
    number = 2
    for label, path in files.items():
        candidates = read_ministry(path.read_bytes(), reference.departements()).candidates
        parse, ingest = [], []
        for run in range(RUNS):
            add_round(engine, number, candidates)
            parse.append(seconds(lambda: bare_parse(path)))  # noqa: B023
            bar(f"{name} {label} parse {run + 1}/{RUNS}")
            ingest.append(seconds(lambda: full_ingest(engine, path, number)))  # noqa: B023
            bar(f"{name} {label} ingest {run + 1}/{RUNS}")
            number += 1
        figures[label] = (statistics.median(parse), statistics.median(ingest))
        if name == "sqlite":  # the last of its runs, stored again by SQLite alone
            figures[f"{label} floor"] = sqlite_store_floor(url.removeprefix("sqlite:///"), number - 1)
    single, empty = single_returns(engine, ministry, number)
    bar(f"{name} single returns")
    differences = store.verify(engine)
    engine.dispose()
    verified = "clean" if not differences else f"{len(differences)} differences"
    return figures | {"single": single, "empty": empty, "verify": verified}


STORED_TABLES = ("return_versions", "area_results")


def sqlite_store_floor(database: str, round_number: int) -> float:
    """SQLite's own time to store what one ingest stored: that round's versions and area sums copied by
    SQLite itself (INSERT … SELECT: no Python, nothing bound) into an empty database of the same schema,
    indexes and checks, in the service's journal mode, and committed. Reading them back is included, so
    this is a little above what any ingest into this storage must pay."""
    with tempfile.TemporaryDirectory() as folder:
        copy = sqlite3.connect(Path(folder) / "floor.sqlite3", isolation_level=None)
        copy.execute("PRAGMA journal_mode=WAL")
        copy.execute("PRAGMA synchronous=NORMAL")
        copy.execute("ATTACH DATABASE ? AS ingested", (database,))
        schema = copy.execute(
            "SELECT sql FROM ingested.sqlite_master WHERE tbl_name IN (?, ?) AND sql IS NOT NULL "
            "ORDER BY type DESC",
            STORED_TABLES,
        ).fetchall()
        for (statement,) in schema:  # the tables, then their indexes
            copy.execute(statement)
        (round_id,) = copy.execute(
            "SELECT id FROM ingested.rounds WHERE number = ?", (round_number,)
        ).fetchone()
        started = time.perf_counter()
        copy.execute("BEGIN")
        for table in STORED_TABLES:
            copy.execute(
                f"INSERT INTO main.{table} SELECT * FROM ingested.{table} WHERE round_id = ?", (round_id,)
            )
        copy.execute("COMMIT")
        seconds = time.perf_counter() - started
        copy.close()
    return seconds


def single_returns(engine: Engine, ministry, round_number: int) -> tuple[list[float], list[float]]:
    """Record returns one by one (one transaction each), interleaved with empty write transactions."""
    add_round(engine, round_number, ministry.candidates)
    rows = np.random.default_rng(2017).choice(len(ministry.batch), SINGLE_RETURNS, replace=False)
    single, empty = [], []
    for row in rows.tolist():
        batch = ministry.batch.select([row])
        single.append(seconds(lambda: store.record_returns(engine, "bench", round_number, batch, author="b")))  # noqa: B023
        empty.append(seconds(lambda: _empty_write(engine)))
    return single, empty


def _empty_write(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE rounds SET sequence = sequence WHERE id = 1"))


def postgres_url() -> str:
    admin = create_engine(db.normalise_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text('DROP DATABASE IF EXISTS "tabulator_bench" WITH (FORCE)'))
        connection.execute(text('CREATE DATABASE "tabulator_bench"'))
    admin.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/tabulator_bench"


def percentile(values: list[float], fraction: float) -> float:
    return float(np.percentile(values, fraction * 100))


def report(results: dict[str, dict], files: dict[str, Path]) -> None:
    print(f"\nFiles: 69,242 bureaux each; median of {RUNS} interleaved runs.\n")
    print(f"{'database':<12}{'file':<26}{'read_csv':>10}{'ingest':>10}{'ratio':>8}{'target':>9}")
    for name, figures in results.items():
        for label in files:
            parse, ingest = figures[label]
            ratio, target = ingest / parse, f"≤ {TARGETS[name]:g}x"
            print(f"{name:<12}{label:<26}{parse:>9.3f}s{ingest:>9.3f}s{ratio:>7.1f}x{target:>9}")
            summary.record(
                "ingest",
                f"{label} ingested, {name}",
                (f"{ingest:.2f} s", f"{parse:.2f} s read_csv", f"{ratio:.1f}×", target),
                met=ratio <= TARGETS[name],
            )
    print(
        "\nSQLite's own share: the rows an ingest stores (its round's versions and area sums), stored again"
        "\nby SQLite alone (INSERT … SELECT into an empty copy of the schema), against the same read_csv:\n"
    )
    for label in files:
        parse, floor = results["sqlite"][label][0], results["sqlite"][f"{label} floor"]
        print(
            f"{label:<26}{floor:>8.3f}s{floor / parse:>7.1f}x read_csv; with the read_csv itself "
            f"{1 + floor / parse:.1f}x, of the 3x"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(f"\nPeak memory of the whole benchmark process (every ingest included): {peak:,.0f} MB")
    summary.record(
        "ingest", "peak memory of the ingests", (f"{peak:,.0f} MB", "—", "—", "≤ 1,024 MB"), met=peak <= 1024
    )
    print(f"\nOne bureau's return with its aggregates, {SINGLE_RETURNS} returns, one transaction each:\n")
    print(f"{'database':<12}{'median':>10}{'p99':>10}{'empty write median':>20}{'ratio':>8}")
    for name, figures in results.items():
        median, p99 = statistics.median(figures["single"]) * 1000, percentile(figures["single"], 0.99) * 1000
        empty = statistics.median(figures["empty"]) * 1000
        print(f"{name:<12}{median:>8.2f}ms{p99:>8.2f}ms{empty:>18.2f}ms{median / empty:>7.1f}x")
    print(
        "\nverify after the runs: "
        + ", ".join(f"{name} {figures['verify']}" for name, figures in results.items())
    )


def main() -> None:
    if not FILE.exists():
        sys.exit(f"bench: {FILE} is absent; the ingest benchmark needs ../shared/data.")
    with tempfile.TemporaryDirectory() as folder:
        files = {"round 2": FILE, "round 1 shape (11 cand.)": round_1_shaped(folder)}
        results = bench_databases(folder, files)
    report(results, files)


def bench_databases(folder: str, files: dict[str, Path]) -> dict[str, dict]:
    """Each file on SQLite (in `folder`), then on PostgreSQL, with a progress bar."""
    results: dict[str, dict] = {}
    steps = len(TARGETS) * (2 * RUNS * len(files) + 1)
    with (
        click.progressbar(
            length=steps,
            label="Benchmarking",
            show_pos=True,
            item_show_func=lambda step: step,
            file=sys.stderr,
        ) as bar,
    ):
        databases = {"sqlite": f"sqlite:///{folder}/bench.sqlite3", "postgresql": postgres_url()}
        for name, url in databases.items():
            results[name] = bench_database(name, url, files, lambda step: bar.update(1, step))
    return results


if __name__ == "__main__":
    main()
