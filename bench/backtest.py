"""Backtests of the projection (tabulator/projection.py): how far the running total and the projection are
from the final result as the bureaux are revealed, how wide the 90 % intervals are and how often they hold
the final.

- **Presidential 2017, round 2** (`../shared/data/fr-pres2017/PR17_BVot_T2_FE.txt.gz`, 69,242 bureaux), with
  round 1 per commune as the previous round. The bureaux are revealed in a realistic order: small communes
  first, big cities last, with noise (each commune's log size plus a normal draw, σ = 1, and a little for
  each bureau), over several seeds.
- **The shipped primary's night** (`data/primaire-gauche-2017`, round 2, 7,208 bureaux) in its own recorded
  order, round 1 per bureau as the previous round and the 17:00 turnout as a covariate.

At 5, 10, 20, 30, 50, 70 and 90 % of bureaux counted: the mean absolute error of the leader's running share
and of its projected share against the final (percentage points), the mean width of the 90 % intervals,
their coverage (the national interval over the seeds, the départements' over départements × seeds), the
seconds one projection takes (fit and every area), and the two goals: coverage ≥ 90 %; at 20 %, an error
at most a third of the running total's.

Run: `make backtest` (or `python -m bench.backtest --seeds 10`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from tabulator.projection import Bureaux, IntArray, project

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "fr-pres2017"
ROUND_2 = SHARED / "PR17_BVot_T2_FE.txt.gz"
ROUND_1 = SHARED / "2017-presidentielle-1_par_commune_large.csv.gz"
PRIMARY = ROOT / "data" / "primaire-gauche-2017"
STEPS = (0.05, 0.10, 0.20, 0.30, 0.50, 0.70, 0.90)


@dataclass(frozen=True)
class Night:
    """A round's final counts per bureau, what was known of each bureau before, and its département."""

    name: str
    bureaux: Bureaux  # `counted` is ignored: a step sets it
    departement: IntArray
    commune_size: np.ndarray


@dataclass
class Step:
    running_error: list[float]
    projected_error: list[float]
    width: list[float]
    covered: list[bool]
    departements_covered: list[bool]
    seconds: list[float]


def presidential() -> Night:
    body = pd.read_csv(ROUND_2, sep=";", encoding="latin-1", header=None, skiprows=1, dtype=str)
    departement, commune = body[0].str.strip(), body[4].str.strip()

    def number(column: int) -> np.ndarray:
        return pd.to_numeric(body[column]).to_numpy(np.float64)

    votes = np.column_stack([number(25), number(32)])
    previous = pd.read_csv(ROUND_1, dtype={"departement": str, "commune": str})
    candidates = list(previous.columns[7:])
    exprimes = previous["exprimes"].to_numpy(np.float64)[:, None]
    with np.errstate(
        invalid="ignore"
    ):  # a commune with no exprimés: its shares are unknown (NaN), as missing
        previous_shares = previous[candidates].to_numpy(np.float64) / exprimes
    known = pd.DataFrame(
        np.column_stack([previous_shares, previous["votants"] / previous["inscrits"]]),
        index=pd.MultiIndex.from_arrays([previous["departement"], previous["commune"]]),
    )
    covariates = known.reindex(pd.MultiIndex.from_arrays([departement, commune])).to_numpy(np.float64)
    _, group = np.unique(departement.to_numpy(), return_inverse=True)
    registered = number(7)
    commune_key = departement + "-" + commune
    size = commune_key.map(pd.Series(registered, index=commune_key.index).groupby(commune_key).sum())
    return Night(
        name="presidential 2017, round 2",
        bureaux=Bureaux(
            counted=np.zeros(len(body), bool),
            report_order=np.zeros(len(body)),
            size=registered,
            voters=number(10),
            valid=number(18),
            votes=votes,
            covariates=covariates,
            group=group.astype(np.int64),
        ),
        departement=group.astype(np.int64),
        commune_size=size.to_numpy(np.float64),
    )


def primary() -> tuple[Night, np.ndarray]:
    """The shipped night and its order: each bureau's first report (its return's `reported_at`)."""
    returns = pd.read_csv(PRIMARY / "round-2" / "returns.csv", dtype={"bureau": str})
    first = pd.read_csv(PRIMARY / "round-1" / "returns.csv", dtype={"bureau": str}).set_index("bureau")
    turnout = pd.read_csv(PRIMARY / "round-2" / "turnout.csv", dtype={"bureau": str})
    at_five = turnout[turnout["time"] == "17:00"].set_index("bureau")["voters"]
    corrections = pd.read_csv(PRIMARY / "round-2" / "corrections.csv", dtype={"bureau": str})
    final = returns.set_index("bureau")
    final.update(corrections.set_index("bureau"))  # the night's final counts include its corrections
    order = pd.to_datetime(returns["reported_at"]).argsort(kind="stable").to_numpy()
    bureaux = returns["bureau"]
    previous = first.reindex(bureaux)
    candidates = [
        column
        for column in first.columns
        if column not in ("voters", "blank", "null", "valid", "reported_at")
    ]
    previous_voters = previous["voters"].to_numpy(np.float64)
    size = np.where(np.isnan(previous_voters), np.nanmedian(previous_voters), previous_voters)
    covariates = np.column_stack(
        [
            previous[candidates].to_numpy(np.float64) / previous["valid"].to_numpy(np.float64)[:, None],
            at_five.reindex(bureaux).to_numpy(np.float64) / size,
        ]
    )
    departements = bureaux.str.split("-").str[0].to_numpy()
    _, group = np.unique(departements, return_inverse=True)
    counts = final.reindex(bureaux)
    return (
        Night(
            name="primary 2017, round 2 (its night)",
            bureaux=Bureaux(
                counted=np.zeros(len(bureaux), bool),
                report_order=np.zeros(len(bureaux)),
                size=size,
                voters=counts["voters"].to_numpy(np.float64),
                valid=counts["valid"].to_numpy(np.float64),
                votes=counts[["hamon", "valls"]].to_numpy(np.float64),
                covariates=covariates,
                group=group.astype(np.int64),
            ),
            departement=group.astype(np.int64),
            commune_size=size,
        ),
        order,
    )


def realistic_order(night: Night, seed: int) -> np.ndarray:
    """Small communes first, big cities last: each commune's log size with noise, then each bureau's."""
    random = np.random.default_rng(seed)
    sizes, commune = np.unique(night.commune_size, return_inverse=True)
    key = (
        np.log1p(night.commune_size)
        + random.normal(0, 1, len(sizes))[commune]
        + random.normal(0, 0.1, len(commune))
    )
    return np.argsort(key, kind="stable")


def replay(night: Night, order: np.ndarray, steps: dict[float, Step]) -> None:
    b = night.bureaux
    final = b.votes.sum(axis=0)
    final_share = final / final.sum()
    leader = int(np.argmax(final_share))
    finals_by_departement = _shares_by_group(b.votes, night.departement)
    everyone = np.arange(len(order))
    for fraction, step in steps.items():
        counted = np.zeros(len(order), bool)
        counted[order[: round(fraction * len(order))]] = True
        running = b.votes[counted].sum(axis=0)
        started = time.perf_counter()
        reported = np.empty(len(order))
        reported[order] = np.arange(len(order))
        model = project(replace(b, counted=counted, report_order=reported))
        assert model is not None, f"{night.name}: nothing to fit at {fraction:.0%}"
        nation = model.area(everyone)
        assert nation is not None, f"{night.name}: no exprimés at all"
        departements = [
            model.area(np.flatnonzero(night.departement == d)) for d in range(len(finals_by_departement))
        ]
        step.seconds.append(time.perf_counter() - started)
        estimate = nation.shares[leader]
        step.running_error.append(abs(running[leader] / running.sum() - final_share[leader]) * 100)
        step.projected_error.append(abs(estimate.value - final_share[leader]) * 100)
        step.width.append((estimate.high - estimate.low) * 100)
        step.covered.append(bool(estimate.low <= final_share[leader] <= estimate.high))
        step.departements_covered += [
            bool(area.shares[leader].low <= truth[leader] <= area.shares[leader].high)
            for area, truth in zip(departements, finals_by_departement, strict=True)
            if area is not None and area.counted_bureaux < area.bureaux
        ]


def _shares_by_group(votes: np.ndarray, group: IntArray) -> np.ndarray:
    sums = np.stack([np.bincount(group, column) for column in votes.T], axis=1)
    return sums / sums.sum(axis=1, keepdims=True)


def report(name: str, steps: dict[float, Step], runs: int) -> bool:
    print(f"\n{name} ({runs} run{'s' if runs > 1 else ''})")
    header = (
        "counted",
        "running err",
        "projection err",
        "ratio",
        "90% width",
        "coverage",
        "dép. coverage",
        "seconds",
    )
    rows = []
    for fraction, step in steps.items():
        running, projected = statistics.mean(step.running_error), statistics.mean(step.projected_error)
        rows.append(
            (
                f"{fraction:.0%}",
                f"{running:.3f} pt",
                f"{projected:.3f} pt",
                f"{projected / running:.2f}" if running else "-",
                f"{statistics.mean(step.width):.3f} pt",
                f"{statistics.mean(step.covered):.0%}",
                f"{statistics.mean(step.departements_covered):.1%}" if step.departements_covered else "-",
                f"{statistics.median(step.seconds):.3f}",
            )
        )
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
    at_20 = steps[0.20]
    third = statistics.mean(at_20.projected_error) <= statistics.mean(at_20.running_error) / 3
    covered = [c for step in steps.values() for c in step.covered]
    by_departement = [c for step in steps.values() for c in step.departements_covered]
    print(
        f"goals: coverage {statistics.mean(covered):.1%} nationally, {statistics.mean(by_departement):.1%} by"
        f" département (≥ 90 %); at 20 % the projection's error is"
        f" {'at most' if third else 'more than'} a third of the running total's"
    )
    return third and statistics.mean(covered) >= 0.9 and statistics.mean(by_departement) >= 0.9


def _progress(seeds: int) -> Iterator[int]:
    for seed in range(seeds):
        print(f"  seed {seed + 1}/{seeds} …", file=sys.stderr, flush=True)
        yield seed


def main() -> int:
    parser = argparse.ArgumentParser(description="Backtests of the projection")
    parser.add_argument("--seeds", type=int, default=10)
    arguments = parser.parse_args()
    night, order = primary()
    steps = {fraction: Step([], [], [], [], [], []) for fraction in STEPS}
    replay(night, order, steps)
    met = report(night.name, steps, 1)
    if not ROUND_2.exists():
        print(f"\n{ROUND_2} is missing: the presidential backtest needs ../shared/data.", file=sys.stderr)
        return 1
    print("\nReading the presidential files …", file=sys.stderr, flush=True)
    night = presidential()
    steps = {fraction: Step([], [], [], [], [], []) for fraction in STEPS}
    for seed in _progress(arguments.seeds):
        replay(night, realistic_order(night, seed), steps)
    met = report(night.name, steps, arguments.seeds) and met
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
