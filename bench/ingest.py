"""Ingest benchmarks on SQLite and PostgreSQL, each against a baseline measured in the same run.

1. The 69,242-bureau file of the 2017 presidential election, round 2: the bare `pandas.read_csv` parse
   (the baseline) against the full ingest (read, validate, store, aggregate, publish), median of 3 runs,
   interleaved so that a noisy neighbour slows both alike.
2. One bureau's return recorded with its aggregates, one transaction each: median and p99, against an
   empty write transaction on the same engine.

Run: `make bench` (or `python -m bench.ingest`). Needs ../shared/data and PostgreSQL.
"""

from __future__ import annotations

import os
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
from api.store import db
from bench import summary
from tabulator.ministry import read_ministry
from tabulator.types import Election, Round

FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "fr-pres2017" / "PR17_BVot_T2_FE.txt.gz"
POSTGRES_ADMIN_URL = os.environ.get(
    "TABULATOR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RUNS = 3
SINGLE_RETURNS = 500
TARGETS = {"sqlite": 3.0, "postgresql": 5.0}


def seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bare_parse() -> pd.DataFrame:
    """The same reading options as tabulator's reader: every cell as text, no NA detection."""
    return pd.read_csv(FILE, sep=";", encoding="latin-1", dtype=str, header=None, na_filter=False)


def full_ingest(engine: Engine, round_number: int) -> None:
    ministry = read_ministry(FILE.read_bytes(), reference.departements())
    store.record_returns(engine, "bench", round_number, ministry.batch, author="bench")


def add_round(engine: Engine, number: int, candidates: tuple) -> None:
    election = Election("bench", "bench", "", (), (Round(number, date(2017, 5, 7), candidates),))
    with engine.begin() as connection:
        store.add_rounds(connection, 1, election)


def prepare(url: str) -> tuple[Engine, tuple]:
    db.upgrade(url)
    engine = db.make_engine(url)
    ministry = read_ministry(FILE.read_bytes(), reference.departements())
    store.ensure_ministry_election(engine, "bench", 1, ministry, name="bench")
    with engine.connect() as connection:
        store.election_index(connection, 1)  # the service keeps the registry cached; so does the benchmark
    return engine, ministry


def bench_database(name: str, url: str, bar: Callable[[str], None]) -> dict[str, object]:
    engine, ministry = prepare(url)
    parse, ingest = [], []
    for run in range(RUNS):
        add_round(engine, run + 2, ministry.candidates)
        parse.append(seconds(bare_parse))
        bar(f"{name} parse {run + 1}/{RUNS}")
        ingest.append(seconds(lambda: full_ingest(engine, run + 2)))  # noqa: B023
        bar(f"{name} ingest {run + 1}/{RUNS}")
    single, empty = single_returns(engine, ministry, RUNS + 2)
    bar(f"{name} single returns")
    differences = store.verify(engine)
    engine.dispose()
    return {
        "parse": statistics.median(parse),
        "ingest": statistics.median(ingest),
        "single": single,
        "empty": empty,
        "verify": "clean" if not differences else f"{len(differences)} differences",
    }


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


def report(results: dict[str, dict]) -> None:
    print(f"\nFile: {FILE.name} (69,242 bureaux, 2 candidates); median of {RUNS} interleaved runs.\n")
    print(f"{'database':<12}{'read_csv':>10}{'ingest':>10}{'ratio':>8}{'target':>9}")
    for name, figures in results.items():
        ratio = figures["ingest"] / figures["parse"]
        target = f"≤ {TARGETS[name]:g}x"
        print(f"{name:<12}{figures['parse']:>9.3f}s{figures['ingest']:>9.3f}s{ratio:>7.1f}x{target:>9}")
        summary.record(
            "ingest",
            f"round 2 file ingested, {name}",
            (f"{figures['ingest']:.2f} s", f"{figures['parse']:.2f} s read_csv", f"{ratio:.1f}×", target),
            met=ratio <= TARGETS[name],
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
    steps = len(TARGETS) * (2 * RUNS + 1)
    results: dict[str, dict] = {}
    with (
        tempfile.TemporaryDirectory() as folder,
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
            results[name] = bench_database(name, url, lambda step: bar.update(1, step))
    report(results)


if __name__ == "__main__":
    main()
