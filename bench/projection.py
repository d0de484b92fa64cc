"""The projection at the presidential scale, through the service: how long after a sequence its estimates
are ready (issue 17: "well under a second for the presidential round after each sequence").

The 69,242 bureaux of `PR17_BVot_T2_FE.txt.gz` on SQLite, a random 30 % of them counted. Measured in the
process (the app's test client), each step's median over the runs:

- reading the round for the model (`model_inputs`: every bureau's return, its first sequence);
- the fit (`tabulator.projection.project`);
- `…/projection` for the nation, cold (read, fit, render);
- then every département's `…/projection/departement/{code}`, which the worker answers from the model it
  keeps for the sequence (`api.web.projections`): per document and in all;
- then the evening's band, `…/projection/timeline`, whose past points a fresh worker fits one by one (the
  30 % are counted in six publications of 5 %).

Baseline in the same run: the nation's `…/results`, cold. Run: `python -m bench.projection`.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine

from api import create_app, reference, store
from api.documents import projection_model
from api.settings import Settings
from api.store import db, open_view
from api.store.db import reading
from api.store.projection import model_inputs
from bench.ingest import FILE
from tabulator.ministry import read_ministry
from tabulator.projection import project

API = "/api/v1/elections/bench/rounds/2"
RUNS = 3
SHARE = 0.3
PUBLICATIONS = 6


def main() -> int:
    if not FILE.exists():
        print(f"{FILE} is missing: this benchmark needs ../shared/data.", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.sqlite3"
        db.upgrade(url)
        engine = db.make_engine(url)
        print("Importing 30 % of the presidential round 2 …", file=sys.stderr, flush=True)
        ministry = read_ministry(FILE.read_bytes(), reference.departements())
        store.ensure_ministry_election(engine, "bench", 2, ministry, name="bench")
        count = len(ministry.batch)
        chosen = np.random.default_rng(17).permutation(count)[: int(SHARE * count)]
        # In publications of 5 % each: the evening's band has a point at each.
        for part in np.array_split(chosen, PUBLICATIONS):
            store.record_returns(engine, "bench", 2, ministry.batch.select(np.sort(part)), author="bench")
        timings = measure(engine, Settings(database_url=url, instance_path=Path(folder)))
    print(
        f"\nThe projection, presidential round 2, {SHARE:.0%} of 69,242 bureaux counted (SQLite, {RUNS} runs)"
    )
    for name, seconds in timings.items():
        print(f"  {name:<48} {seconds * 1000:8.1f} ms")
    ratio = timings["…/projection of the nation, cold"] / timings["baseline: …/results of the nation, cold"]
    print(f"  the nation's projection, cold, takes {ratio:.2f}× its results, cold (goal: well under 1 s)")
    return 0


Found = dict[str, list[float]]


def measure(engine: Engine, settings: Settings) -> dict[str, float]:
    found: Found = {}
    for run in range(RUNS):
        print(f"  run {run + 1}/{RUNS} …", file=sys.stderr, flush=True)
        one_run(engine, settings, found)
    return {name: statistics.median(values) for name, values in found.items()}


def timed(found: Found, name: str, action: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = action()
    found.setdefault(name, []).append(time.perf_counter() - started)
    return result


def one_run(engine: Engine, settings: Settings, found: Found) -> None:
    with reading(engine) as connection:
        view = open_view(connection, "bench", 2)
        inputs = timed(found, "reading the round (model_inputs)", lambda: model_inputs(view))
        timed(found, "the fit (project)", lambda: project(inputs))
        timed(found, "both, as the service does (projection_model)", lambda: projection_model(view))
    client = create_app(settings).test_client()  # a fresh worker: nothing kept
    timed(found, "baseline: …/results of the nation, cold", lambda: client.get(f"{API}/results"))
    timed(found, "…/projection of the nation, cold", lambda: client.get(f"{API}/projection"))
    codes = [row["code"] for row in client.get(f"{API}/results/departement").get_json()["areas"]]
    every = f"every département's …/projection ({len(codes)}), in all"
    timed(found, every, lambda: [client.get(f"{API}/projection/departement/{code}") for code in codes])
    found.setdefault("one département's …/projection, model kept", []).append(found[every][-1] / len(codes))
    band = f"…/projection/timeline ({PUBLICATIONS} points), latest kept"
    timed(found, band, lambda: client.get(f"{API}/projection/timeline"))
    found.setdefault("… per past point (its view, read and fit)", []).append(
        found[band][-1] / (PUBLICATIONS - 1)
    )


if __name__ == "__main__":
    sys.exit(main())
