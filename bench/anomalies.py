"""How well the warnings of `tabulator.anomalies` tell slips from real returns, on a real night.

The 69,242 bureaux of the 2017 presidential round 2 arrive one by one in a realistic order (small rural
bureaux first, cities last: by votants with seeded noise), round 1 per commune as each bureau's previous
round. A seeded set of slips is planted first, arithmetic kept right (votants = blancs + nuls + exprimés,
exprimés = the candidates' sum): two candidates' columns swapped, a count (of 10 or more) times ten or
divided by ten, blancs and nuls swapped, a sheet typed twice (a bureau's return equal to one that arrived
before it in its département), a sheet typed under a neighbour's code (a bureau of the same commune; the
registry gives the inscrits). Each return is checked against the returns fed before it, as a clerk's
write would be. Printed: per kind, the share caught (refused by a hard rule such as votants > inscrits,
or flagged); for the clean returns (neither planted nor a planted sheet's source), the share flagged,
overall and among the first 10 % of the night; and the median time per check with its context.

Run: `make anomalies` (or `python -m bench.anomalies`), with thresholds to try as arguments
(`python -m bench.anomalies tenfold_deviation=4 ratio_deviation=5`). Needs ../shared/data.
"""

from __future__ import annotations

import gzip
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from api import reference
from tabulator.anomalies import (
    BLANK,
    DEFAULT_ANOMALY_THRESHOLDS,
    NULL,
    REGISTERED,
    VALID,
    VOTERS,
    AnomalyThresholds,
    Context,
    PastModel,
    RatioSpread,
    Spread,
    check_return,
    count_rows,
    learn_past,
    measures,
    ratio_spread,
    same_layout,
    signature,
    spread_of,
)
from tabulator.ministry import read_ministry, slug

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fr-pres2017"
ROUND_2 = DATA / "PR17_BVot_T2_FE.txt.gz"
ROUND_1 = DATA / "2017-presidentielle-1_par_commune_large.csv.gz"
SEED = 2017
PLANTED_PER_KIND = 80
LARGE = 300  # votants (as typed) from which a slip is also reported apart: small counts hide small slips
KINDS = ("candidates_swapped", "tenfold", "blank_null_swapped", "duplicate", "neighbour")
# A département's spread is recomputed when its peers have grown by this factor: a median moves little
# with a few more peers, and recomputing it for every return would cost O(peers) each.
REFRESH = 1.05
NATION_EVERY = 500  # the nation's spread is recomputed every so many returns (it moves slowly)


def main() -> None:
    started = time.perf_counter()
    ministry = read_ministry(gzip.decompress(ROUND_2.read_bytes()), reference.departements())
    batch = ministry.batch
    rows = count_rows(batch.registered, batch.counts, batch.votes)
    departement = ministry.codes["departement"]
    previous = _previous_round(ministry.body, batch.candidate_ids)
    rng = np.random.default_rng(SEED)
    order = np.argsort(batch.voters * rng.lognormal(0.0, 0.5, len(batch)), kind="stable")
    arrival = np.empty(len(order), np.int64)
    arrival[order] = np.arange(len(order))
    planted, sources, rows = _plant(rows, ministry.codes["commune"], departement, arrival, rng)
    print(
        f"loaded and planted in {time.perf_counter() - started:.1f} s: {len(rows):,} returns, "
        f"{len(planted)} planted slips",
        file=sys.stderr,
    )
    caught, flagged_codes, timings = _feed(rows, order, departement, previous, batch.candidate_ids)
    _report(planted, sources, caught, flagged_codes, arrival, timings, rows[:, VOTERS])
    print(f"total {time.perf_counter() - started:.1f} s", file=sys.stderr)


def _previous_round(body: pd.DataFrame, candidates: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Round 1 measures of each round-2 bureau's commune: in round 1's own layout (its 11 candidates) and
    in round 2's (NaN where unknown)."""
    first = pd.read_csv(ROUND_1, dtype=str, keep_default_na=False)
    numbers = first.drop(columns=["departement", "commune", "commune_libelle"]).astype(np.int64)
    named = [
        column for column in numbers.columns if column not in {"inscrits", "votants", "blancs", "exprimes"}
    ]
    columns = np.zeros((len(first), 5 + len(named)), np.int64)
    columns[:, REGISTERED] = numbers["inscrits"]
    columns[:, VOTERS] = numbers["votants"]
    columns[:, BLANK] = numbers["blancs"]
    columns[:, NULL] = numbers["votants"] - numbers["blancs"] - numbers["exprimes"]
    columns[:, VALID] = numbers["exprimes"]
    for k, candidate in enumerate(named):
        columns[:, 5 + k] = numbers[candidate]
    shares, _ = measures(columns)
    position = {key: i for i, key in enumerate(zip(first["departement"], first["commune"], strict=True))}
    keys = zip(body.iloc[:, 0].astype(str).str.strip(), body.iloc[:, 4].astype(str).str.strip(), strict=True)
    found = np.array([position.get(key, -1) for key in keys])
    then = np.where(found[:, None] >= 0, shares[np.maximum(found, 0)], np.nan)
    print(f"previous round found for {int((found >= 0).sum()):,} of {len(found):,} bureaux", file=sys.stderr)
    return then, same_layout(then, tuple(slug(name) for name in named), candidates)


def _plant(  # noqa: PLR0912 (one branch per kind of slip reads better than a table of lambdas)
    rows: np.ndarray,
    communes: np.ndarray,
    departements: np.ndarray,
    arrival: np.ndarray,
    rng: np.random.Generator,
) -> tuple[dict[int, str], dict[int, int], np.ndarray]:
    """Seeded slips, each in a different bureau; returns {bureau: kind}, the planted sheets' sources and
    the rows with the slips in."""
    rows = rows.copy()
    planted: dict[int, str] = {}
    sources: dict[int, int] = {}  # a planted sheet's target: the bureau whose sheet it is
    by_commune: dict[str, list[int]] = defaultdict(list)
    by_departement: dict[str, list[int]] = defaultdict(list)
    for i, (commune, dep) in enumerate(zip(communes.tolist(), departements.tolist(), strict=True)):
        by_commune[commune].append(i)
        by_departement[dep].append(i)
    candidates = rows.shape[1] - VALID - 1
    for kind in KINDS:
        done = 0
        while done < PLANTED_PER_KIND:
            target = int(rng.integers(len(rows)))
            if target in planted or target in sources.values() or rows[target, VOTERS] < 20:
                continue
            row = rows[target].copy()
            if kind == "candidates_swapped":
                i, j = rng.choice(candidates, 2, replace=False) + VALID + 1
                if row[i] == row[j]:
                    continue
                row[i], row[j] = row[j], row[i]
            elif kind == "blank_null_swapped":
                if row[BLANK] == row[NULL]:
                    continue
                row[BLANK], row[NULL] = row[NULL], row[BLANK]
            elif kind == "tenfold":
                field = int(rng.choice([BLANK, NULL, *range(VALID + 1, VALID + 1 + candidates)]))
                if row[field] < 10:
                    continue
                new = row[field] * 10 if rng.random() < 0.5 else row[field] // 10
                delta = new - row[field]
                row[field] = new
                row[VOTERS] += delta
                if field > VALID:
                    row[VALID] += delta
            else:
                pool = by_departement if kind == "duplicate" else by_commune
                key = departements[target] if kind == "duplicate" else communes[target]
                others = [i for i in pool[key] if i != target and i not in planted]
                if kind == "duplicate":
                    others = [i for i in others if arrival[i] < arrival[target]]
                if not others:
                    continue
                source = int(rng.choice(others))
                row = rows[source].copy()
                row[REGISTERED] = rows[target, REGISTERED]
                sources[target] = source
            rows[target] = row
            planted[target] = kind
            done += 1
    return planted, sources, rows


def _feed(
    rows: np.ndarray,
    order: np.ndarray,
    departements: np.ndarray,
    previous: tuple[np.ndarray, np.ndarray],
    candidates: tuple[str, ...],
) -> tuple[dict[int, str], dict[int, list[str]], list[float]]:
    shares, _ = measures(rows)
    then, then_same = previous
    fed_by_departement: dict[str, list[int]] = defaultdict(list)
    fed: list[int] = []
    seen: dict[str, dict[bytes, str]] = defaultdict(dict)
    caught: dict[int, str] = {}
    codes: dict[int, list[str]] = {}
    timings: list[float] = []
    thresholds = _thresholds(sys.argv[1:])
    nation: tuple[Spread | None, RatioSpread | None, PastModel | None] = (None, None, None)
    spreads: dict[str, tuple[int, Spread, RatioSpread | None, PastModel | None]] = {}
    for step, bureau in enumerate(order.tolist()):
        row = rows[bureau]
        if 0 <= row[REGISTERED] < row[VOTERS]:
            caught[bureau] = "refused"  # votants > inscrits: a hard error, the write is refused
            continue
        tick = time.perf_counter()
        if fed and (step % NATION_EVERY == 0 or (step < NATION_EVERY and step % 25 == 0)):
            nation = _learn(
                fed, rows=rows, shares=shares, previous=previous, label="the nation", thresholds=thresholds
            )[1:]
        peers = fed_by_departement[departements[bureau]]
        cached = spreads.get(departements[bureau])
        if peers and (cached is None or len(peers) > REFRESH * cached[0]):
            cached = spreads[departements[bureau]] = _learn(
                peers,
                rows=rows,
                shares=shares,
                previous=previous,
                label="the département",
                thresholds=thresholds,
            )
        area, ratio, past = (None, None, None) if cached is None else cached[1:]
        model = past or nation[2]
        context = Context(
            candidates,
            area=area,
            nation=nation[0],
            ratio=ratio or nation[1],
            expected=None if model is None else model.expect(then[bureau], then_same[bureau]),
            previous=then_same[bureau],
            seen=seen[departements[bureau]],
        )
        findings = check_return(row, str(bureau), context, thresholds)
        timings.append(time.perf_counter() - tick)
        if findings:
            caught[bureau] = "flagged"
            codes[bureau] = [finding.code for finding in findings]
        peers.append(bureau)
        fed.append(bureau)
        seen[departements[bureau]].setdefault(signature(row), str(bureau))
    return caught, codes, timings


def _thresholds(arguments: list[str]) -> AnomalyThresholds:
    """The defaults, with `name=value` overrides (a threshold to try)."""
    overrides = dict(argument.split("=", 1) for argument in arguments)
    current = asdict(DEFAULT_ANOMALY_THRESHOLDS)
    chosen = {name: type(current[name])(float(value)) for name, value in overrides.items()}
    thresholds = replace(DEFAULT_ANOMALY_THRESHOLDS, **chosen)
    print(f"thresholds: {asdict(thresholds)}", file=sys.stderr)
    return thresholds


def _learn(
    fed: list[int],
    *,
    rows: np.ndarray,
    shares: np.ndarray,
    previous: tuple[np.ndarray, np.ndarray],
    label: str,
    thresholds: AnomalyThresholds,
) -> tuple[int, Spread, RatioSpread | None, PastModel | None]:
    """What the returns fed so far teach: their spread, their log(blancs / nuls), their link to round 1."""
    return (
        len(fed),
        spread_of(shares[fed], label),
        ratio_spread(rows[fed], thresholds.min_peers),
        learn_past(shares[fed], previous[0][fed], previous[1][fed], thresholds.min_peers),
    )


def _report(  # noqa: PLR0917 (a benchmark's printout, called once)
    planted: dict[int, str],
    sources: dict[int, int],
    caught: dict[int, str],
    codes: dict[int, list[str]],
    arrival: np.ndarray,
    timings: list[float],
    voters: np.ndarray,
) -> None:
    total = len(voters)
    print(
        f"{'slip':<22}{'planted':>8}{'caught':>8}{'refused':>9}{'flagged':>9}{'by pair':>9}"
        "  caught where votants >= 300"
    )
    for kind in KINDS:
        targets = [b for b, k in planted.items() if k == kind]
        refused = sum(caught.get(b) == "refused" for b in targets)
        flagged = sum(caught.get(b) == "flagged" for b in targets)
        # A sheet typed under a second bureau's code is found when the second of the two arrives: if the
        # bureau whose sheet it was comes later, its own return is the one flagged, naming the other.
        by_pair = {b for b in targets if b not in caught and _named_by_source(b, sources, codes)}
        found = {b for b in targets if b in caught} | by_pair
        large = [b for b in targets if voters[b] >= LARGE]
        print(
            f"{kind:<22}{len(targets):>8}{100 * len(found) / len(targets):>7.1f}%"
            f"{refused:>9}{flagged:>9}{len(by_pair):>9}  "
            f"{100 * sum(b in found for b in large) / max(len(large), 1):.1f}% of {len(large)}"
        )
    clean = np.array([b for b in range(total) if b not in planted and b not in sources.values()])
    flagged = np.array([b in caught for b in clean.tolist()])
    early = arrival[clean] < total // 10
    print(
        f"clean returns flagged: {100 * flagged.mean():.2f} % of {len(clean):,} overall; "
        f"{100 * flagged[early].mean():.2f} % of the first 10 % of the night ({int(early.sum()):,})"
    )
    by_code = Counter(code for b in clean.tolist() for code in codes.get(b, []))
    print("clean returns by code: " + ", ".join(f"{code} {n}" for code, n in by_code.most_common()))
    print(
        f"check with its context: median {1e6 * statistics.median(timings):.0f} µs, "
        f"p99 {1e6 * float(np.percentile(timings, 99)):.0f} µs"
    )


def _named_by_source(target: int, sources: dict[int, int], codes: dict[int, list[str]]) -> bool:
    return target in sources and "same_as_other_bureau" in codes.get(sources[target], [])


if __name__ == "__main__":
    main()
