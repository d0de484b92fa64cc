"""Warnings that compare a return with what is expected of it: its peers already reported and its own
previous round, plus a few cheap signatures of the slips that happen on election nights.

A fixed share ("blancs above 3 % of votants") flags 99 % of a real second round, where blancs were 8.5 %
nationally: a warning that fires on everything catches nothing. Here each measure of a return (turnout,
blank and null shares of votants, each candidate's share of exprimés) is compared two ways:

- with its peers: the median of the bureaux already reported in its département (the nation's while the
  département has fewer than `min_peers`) and a robust spread (1.4826 × the median absolute deviation), to
  which the return's own sampling noise is added: a share p measured on n ballots wobbles by
  sqrt(p (1 - p) / n), so a 20-voter bureau with 25 % blancs where the median is 8 % is ordinary;
- with its past, when the bureau has a previous round: what that round predicts, learned from the peers that
  have both rounds. With enough of them it is a linear transfer (each share of this round as a weighted sum of
  the shares of the previous one: in 2017 a commune's first round predicts its Macron share within 3.7
  points, where its département's bureaux spread over 9.6); with fewer, the previous figure plus the peers'
  median change.

A measure is unusual only when it is unusual both ways, so a city bureau in a rural département, already
unlike its neighbours at the previous round, is left alone. The signatures of slips use the sharpest
comparison known: two columns that are unusual as typed and ordinary once swapped; a count about ten times
(or a tenth of) what is expected, judged on a log scale with the count's Poisson noise; blancs and nuls
swapped, judged on their log ratio, which a swap reverses (log(blancs / nuls) is 1.1 in the median bureau of
the 2017 second round, with a spread between bureaux of 0.3 beyond chance); a sheet identical to another
bureau's of the same area.

Everything here is plain numpy over count rows; `tabulator.rules` turns the findings into issues.
A count row is [registered, voters, blank, null, valid, votes of each candidate...], registered UNKNOWN
(-1) where not known.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache
from itertools import compress
from operator import attrgetter
from typing import cast

import numpy as np
import numpy.typing as npt

from tabulator.batch import UNKNOWN, BoolArray, IntArray
from tabulator.memo import cached

FloatArray = npt.NDArray[np.float64]
FIXED_MEASURES = ("turnout", "blank", "null")  # then one measure per candidate
REGISTERED, VOTERS, BLANK, NULL, VALID = range(5)
MAD_TO_SIGMA = 1.4826  # the MAD of a normal distribution is 0.6745 sigma
# Shares are never known better than this between bureaux: without a floor, a département where every
# bureau reported 0 nuls would flag the first bureau with one.
MIN_SPREAD = 0.004
MIN_RATIO_SPREAD = 0.15  # the same floor for log(blancs / nuls), beyond the counts' own noise
TENFOLD = (6.0, 16.0)  # a count this many times its expected value is a digit added (or, inverted, dropped)
SWAP_GAIN = 3.0  # a swap put right is at least this many times less unusual than as typed
SWAP_CONTRAST = 1.2  # expected shares closer than this ratio cannot reveal a swap
FIT_PER_REGRESSOR = 3  # a linear transfer is learned from at least this many peers per coefficient
OUTLIER = 4.0  # peers further than this many spreads from a first fit are left out of the second

# Defaults measured with `make anomalies` on the real 2017 round 2 (docs/warnings.md gives the rate of
# each): the share of clean returns flagged is held under 1 %, and the catches follow.
MIN_PEERS = 30  # fewer peers in the département: the nation's; fewer in the nation: no share check
DEVIATION = 7.0  # |z| from which a share is unusual (against peers and, when known, against its own past)
SWAP_DEVIATION = 5.0  # a pair of measures this unusual (root of the sum of squares) that fits ...
SWAP_FIT = 2.0  # ... within this once swapped is a swap
RATIO_DEVIATION = 4.5  # |z| of log(blancs / nuls) from which, if reversing it fits, blancs and nuls swapped
TENFOLD_DEVIATION = 5.0  # |z| on a log scale from which a count near ten times its expected one is a slip
DUPLICATE_MIN_VOTERS = 150  # smaller returns may coincide by chance
SIGNATURE_SCORE = 100.0  # an exact signature is surer than any deviation: first in a supervisor's queue


@dataclass(frozen=True)
class AnomalyThresholds:
    min_peers: int = MIN_PEERS
    deviation: float = DEVIATION
    swap_deviation: float = SWAP_DEVIATION
    swap_fit: float = SWAP_FIT
    ratio_deviation: float = RATIO_DEVIATION
    tenfold_deviation: float = TENFOLD_DEVIATION
    duplicate_min_voters: int = DUPLICATE_MIN_VOTERS


DEFAULT_ANOMALY_THRESHOLDS = AnomalyThresholds()


@dataclass(frozen=True)
class Spread:
    """Median, robust spread and number of known values of each measure over a set of returns."""

    median: FloatArray
    scale: FloatArray
    count: npt.NDArray[np.int64]
    label: str  # "the département", "the nation"


@dataclass(frozen=True)
class RatioSpread:
    """The peers' median of log(blancs / nuls) and its spread beyond the counts' own noise."""

    median: float
    scale: float


@dataclass(frozen=True)
class Expectation:
    """What a bureau's previous round makes expected of each of its measures now, with the spread of the
    peers around that prediction; NaN where nothing is expected (no previous return, or a new candidate)."""

    shares: FloatArray
    scale: FloatArray


@dataclass(frozen=True)
class Context:
    """What a return is compared with. `area` and `nation`: spreads of the peers' measures; `ratio`: of their
    log(blancs / nuls); `expected`: what this bureau's previous round predicts; `previous`: its
    previous-round measures in this round's layout (NaN where unknown), quoted in the messages; `seen`:
    signatures of the other bureaux' returns of the round."""

    candidates: tuple[str, ...]
    area: Spread | None = None
    nation: Spread | None = None
    ratio: RatioSpread | None = None
    expected: Expectation | None = None
    previous: FloatArray | None = None
    seen: Mapping[Signature, str] | None = None


@dataclass(frozen=True)
class Finding:
    code: str
    field: str
    score: float  # how unusual (|z|, or SIGNATURE_SCORE for an exact signature): a supervisor's sort key
    message: str


def measures(rows: IntArray) -> tuple[FloatArray, FloatArray]:
    """Shares (rows, 3 + candidates) and the ballots each is measured on; NaN where the denominator is
    zero or unknown. Scaling a row's counts leaves its shares unchanged."""
    rows = np.atleast_2d(rows).astype(np.float64)
    registered = np.where(rows[:, REGISTERED] == UNKNOWN, 0.0, rows[:, REGISTERED])
    voters, valid = rows[:, VOTERS], rows[:, VALID]
    numerators = np.column_stack([voters, rows[:, BLANK], rows[:, NULL], rows[:, VALID + 1 :]])
    sizes = np.column_stack(
        [registered, voters, voters, np.repeat(valid[:, None], rows.shape[1] - VALID - 1, axis=1)]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(sizes > 0, numerators / np.where(sizes > 0, sizes, 1.0), np.nan)
    return shares, sizes


def blank_null_ratio(rows: IntArray) -> tuple[FloatArray, FloatArray]:
    """log((blancs + ½) / (nuls + ½)) of each row and its Poisson variance, 1 / (blancs + ½) + 1 / (nuls + ½):
    the half keeps a bureau with no nuls finite, and its noise honest."""
    rows = np.atleast_2d(rows)
    blank, null = rows[:, BLANK] + 0.5, rows[:, NULL] + 0.5  # float64, the other columns left as they are
    return np.log(blank / null), 1 / blank + 1 / null


# Up to this many rows (a département's peers), the columns' medians come from one sort of the block;
# beyond (a nation's), from a partition of each column, linear where a sort is not.
SORTED_MEDIAN_ROWS = 4_096


def nanmedian(values: FloatArray) -> FloatArray:
    """The median of each column, NaN ignored (NaN for a column with no value), exactly as numpy's median of
    the column's known values. numpy's nanmedian goes through masked arrays, ten times slower on a
    département's peers; a median per column cost a national file a thousand calls."""
    values = np.atleast_2d(values)
    missing = np.isnan(values)
    if not missing.any():  # partitioned in place on a copy, a column to a row: a quarter faster
        return np.asarray(np.median(values.T.copy(), axis=1, overwrite_input=True), np.float64)
    result = np.full(values.shape[1], np.nan)
    if len(values) > SORTED_MEDIAN_ROWS:
        for column in range(values.shape[1]):
            known = values[:, column][~missing[:, column]]
            if len(known):
                result[column] = np.median(known)
        return result
    ordered = np.sort(values, axis=0)  # NaN last
    known = len(values) - missing.sum(axis=0)
    columns = np.flatnonzero(known)
    # The two middle values (one twice for an odd count), averaged as numpy's median does: (a + b) / 2.
    low, high = ordered[(known[columns] - 1) // 2, columns], ordered[known[columns] // 2, columns]
    result[columns] = (low + high) / 2
    return result


def spread_of(shares: FloatArray, label: str) -> Spread:
    """Robust centre and spread of each column (NaN ignored). Cost: a median per column, O(rows)."""
    count = (~np.isnan(shares)).sum(axis=0)
    if not len(shares) or not count.any():
        empty = np.full(shares.shape[1], np.nan)
        return Spread(empty, empty, count, label)
    median = nanmedian(shares)
    return Spread(median, MAD_TO_SIGMA * nanmedian(np.abs(shares - median)), count, label)


def ratio_spread(rows: IntArray, min_peers: int) -> RatioSpread | None:
    """The peers' log(blancs / nuls): the median, and the spread between bureaux less the typical peer's
    own Poisson noise (which each return's check adds back for itself). None below `min_peers` peers."""
    rows = np.atleast_2d(rows)
    return _ratio_spread(*blank_null_ratio(rows), voting=rows[:, VOTERS] > 0, min_peers=min_peers)


def _ratio_spread(
    ratio: FloatArray, noise: FloatArray, *, voting: BoolArray, min_peers: int
) -> RatioSpread | None:
    """`ratio_spread` of rows whose `blank_null_ratio` is made (a file makes it once for its 107 areas)."""
    ratio, noise = ratio[voting], noise[voting]
    if len(ratio) < min_peers:
        return None
    median = float(np.median(ratio))
    spread = MAD_TO_SIGMA * float(np.median(np.abs(ratio - median)))
    return RatioSpread(median, float(np.sqrt(max(spread**2 - float(np.median(noise)), MIN_RATIO_SPREAD**2))))


@dataclass(frozen=True)
class PastModel:
    """How this round's measures follow from the previous round's, learned from the peers that have both.
    `weights`: a linear transfer (intercept, then one row per previous measure) when enough peers had
    both rounds to learn it; `shift`: the median change of each measure that exists in both rounds."""

    weights: FloatArray | None
    weights_scale: FloatArray | None
    shift: FloatArray
    shift_scale: FloatArray

    def expect(self, then: FloatArray, then_same: FloatArray) -> Expectation | None:
        """The expectation for a bureau whose previous round measured `then` (that round's layout) and
        `then_same` (this round's layout); None when it had no return then."""
        if np.isnan(then_same[: len(FIXED_MEASURES)]).all():
            return None
        if self.weights is not None and self.weights_scale is not None and not np.isnan(then).any():
            predicted = np.clip(np.concatenate([[1.0], then]) @ self.weights, 0.0, 1.0)
            return Expectation(predicted, self.weights_scale)
        return Expectation(np.clip(then_same + self.shift, 0.0, 1.0), self.shift_scale)


def learn_past(now: FloatArray, then: FloatArray, then_same: FloatArray, min_peers: int) -> PastModel | None:
    """The peers' `PastModel`: `now` their measures, `then` their previous round's (its own layout),
    `then_same` the same in this round's layout. None with fewer than `min_peers` peers that have both.
    Cost: a least-squares fit, O(peers × previous measures²)."""
    both = ~np.isnan(now).all(axis=1) & ~np.isnan(then_same[:, : len(FIXED_MEASURES)]).all(axis=1)
    if int(both.sum()) < min_peers:
        return None
    change = spread_of(now[both] - then_same[both], "")
    complete = both & ~np.isnan(now).any(axis=1) & ~np.isnan(then).any(axis=1)
    weights = weights_scale = None
    if int(complete.sum()) >= max(min_peers, FIT_PER_REGRESSOR * (then.shape[1] + 1)):
        weights, weights_scale = _robust_fit(then[complete], now[complete])
    return PastModel(weights, weights_scale, change.median, change.scale)


def _robust_fit(inputs: FloatArray, outputs: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Least squares, then again without the rows far from the first fit: a slip among the peers (a share
    ten times too high) would otherwise pull every prediction of its area towards itself."""
    inputs = np.column_stack([np.ones(len(inputs)), inputs])
    kept: BoolArray = np.ones(len(inputs), bool)
    for _ in range(2):
        weights = np.asarray(np.linalg.lstsq(inputs[kept], outputs[kept], rcond=None)[0], np.float64)
        residuals = np.abs(outputs - inputs @ weights)
        scale = MAD_TO_SIGMA * np.median(residuals[kept], axis=0)
        kept = np.asarray((residuals <= OUTLIER * np.fmax(scale, MIN_SPREAD)).all(axis=1), np.bool_)
        if kept.sum() < inputs.shape[1] * FIT_PER_REGRESSOR:
            break
    return weights, scale


def field_names(candidates: Sequence[str]) -> tuple[str, ...]:
    return ("voters", "blank", "null", *candidates)


Signature = bytes


def signatures(rows: IntArray) -> list[Signature]:
    """What two returns share when one sheet was typed twice: every count but the registered, a row's as
    bytes (which hash fast: a clerk's write looks among a département's 2,000 returns), all made at once (a
    national file has 70,000)."""
    counts = np.ascontiguousarray(np.atleast_2d(rows)[:, VOTERS:], np.int64)
    sheets = counts.view(np.dtype((np.void, counts.shape[1] * 8))).ravel()
    return cast(list[Signature], sheets.tolist())  # a void row's item is its bytes


def check_return(
    row: IntArray, bureau: str, context: Context, thresholds: AnomalyThresholds = DEFAULT_ANOMALY_THRESHOLDS
) -> list[Finding]:
    """The warnings of one return (a count row) in its context."""
    row = np.atleast_2d(row)
    found = _check(
        row, [bureau], [context], thresholds, sheets=signatures(row), sharing=[np.zeros(1, np.int64)]
    )
    return list(found[0])


@dataclass(frozen=True)
class _Fit:
    """Each row's measures and how unusual they are, against its peers and against its past."""

    rows: IntArray
    shares: FloatArray
    sizes: FloatArray
    median: FloatArray  # the peers' median (département, else nation), NaN where too few peers
    scale: FloatArray
    peers: FloatArray  # z against the peers, NaN where no reference
    expected: FloatArray  # what the past predicts, NaN where unknown
    expected_scale: FloatArray
    past: FloatArray  # z against the past, NaN where unknown
    min_peers: int  # below this many peers, a spread is not used
    groups: _Groups

    @cached
    def reference(self) -> tuple[FloatArray, FloatArray]:
        """The sharpest expectation known for each measure: the past's where known, else the peers'."""
        known = ~np.isnan(self.expected)
        return np.where(known, self.expected, self.median), np.where(known, self.expected_scale, self.scale)

    @cached
    def best(self) -> FloatArray:
        """z against that sharpest expectation, signed (0 where none): slips move a count far; this is
        what finds them."""
        return np.nan_to_num(np.where(np.isnan(self.past), self.peers, self.past))

    @cached
    def ten_times(self) -> _TenTimes:
        """Each count against the sharpest expectation: read by the tenfold check and by the unusual one,
        which names a share's slip by its digit (computed once: 70,000 rows of logs and square roots)."""
        return _ten_times(self)

    @cached
    def score(self) -> FloatArray:
        """Unusual only when unusual both ways (or the one way that is known); 0 where neither is."""
        return np.nan_to_num(np.fmin(np.abs(self.peers), np.abs(self.past)))


def _check(
    rows: IntArray,
    bureaux: Sequence[str],
    contexts: Sequence[Context],
    thresholds: AnomalyThresholds,
    *,
    sheets: Sequence[Signature],
    sharing: Sequence[IntArray],
) -> list[Sequence[Finding]]:
    """Every row against its own context, the arithmetic vectorised: a ministry file has 70,000 rows, nearly
    all ordinary, and only the rows with a finding cost a Python loop. `sheets`: the rows' signatures;
    `sharing`: the positions of the rows whose contexts hold the same spreads (nation, area, ratio), group by
    group (the caller knows them: found here, context by context, they cost a file 24 ms)."""
    fit = _fit(rows, contexts, thresholds, sharing)
    # Nearly every row has none: only the rows with a finding get a list of their own until the end.
    findings: defaultdict[int, list[Finding]] = defaultdict(list)
    explained: defaultdict[int, set[int]] = defaultdict(set)
    for position, finding, measured in [
        *_duplicates(rows, bureaux, contexts, thresholds, sheets),
        *_blank_null_swaps(fit, contexts, thresholds),
        *_candidate_swaps(fit, contexts, thresholds),
        *_tenfold_counts(fit, contexts, thresholds),
        *_unusual(fit, contexts, thresholds),
    ]:
        if not measured & explained[position] or finding.code == "same_as_other_bureau":
            findings[position].append(finding)
            explained[position] |= measured
    result: list[Sequence[Finding]] = [()] * len(rows)  # one empty tuple for all: 70,000 lists cost 7 ms
    for position, found in findings.items():
        result[position] = found
    return result


def _fit(
    rows: IntArray, contexts: Sequence[Context], thresholds: AnomalyThresholds, sharing: Sequence[IntArray]
) -> _Fit:
    shares, sizes = measures(rows)
    expected, expected_scale = np.full_like(shares, np.nan), np.full_like(shares, np.nan)
    groups = _Groups.of(len(rows), contexts, sharing)
    median, scale = groups.spreads(shares.shape[1], thresholds.min_peers)
    known = list(compress(range(len(contexts)), map(attrgetter("expected"), contexts)))
    if known:
        expectations = [contexts[p].expected for p in known]
        expected[known] = np.stack([e.shares for e in expectations if e is not None])
        expected_scale[known] = np.stack([e.scale for e in expectations if e is not None])
    return _Fit(
        rows,
        shares,
        sizes,
        median,
        scale,
        _z(shares, sizes, median, scale),
        expected,
        expected_scale,
        _z(shares, sizes, expected, expected_scale) if known else np.full_like(shares, np.nan),  # no past
        thresholds.min_peers,
        groups,
    )


@dataclass(frozen=True)
class _Groups:
    """The rows whose contexts hold the same spreads (nation, area and log ratio), as each row's group and
    each group's context: a group's figures are made once and given to its rows with one gather (placed
    group by group, a national file's 107 départements cost 28 ms; read row by row, 15 ms more)."""

    of_row: IntArray  # each row's group; len(contexts) for a row in none (its figures stay NaN)
    contexts: tuple[Context, ...]

    @classmethod
    def of(cls, rows: int, contexts: Sequence[Context], sharing: Sequence[IntArray]) -> _Groups:
        groups = [positions for positions in sharing if len(positions)]
        of_row = np.full(rows, len(groups), np.int64)
        for group, positions in enumerate(groups):
            of_row[positions] = group
        return cls(of_row, tuple(contexts[int(positions[0])] for positions in groups))

    def spreads(self, measures: int, min_peers: int) -> tuple[FloatArray, FloatArray]:
        """Each row's median and scale of each measure: its area's where it has `min_peers` peers for the
        measure, else its nation's, else NaN."""
        median, scale = np.full((2, len(self.contexts) + 1, measures), np.nan)
        for group, context in enumerate(self.contexts):
            for spread in (context.nation, context.area):  # the area, when usable, overrides the nation
                if spread is not None:
                    usable = spread.count >= min_peers
                    median[group, usable] = spread.median[usable]
                    scale[group, usable] = spread.scale[usable]
        return median[self.of_row], scale[self.of_row]

    def ratios(self) -> tuple[FloatArray, FloatArray]:
        """Each row's peers' median log(blancs / nuls) and its spread; NaN where not known."""
        known = [
            (np.nan, np.nan) if c.ratio is None else (c.ratio.median, c.ratio.scale) for c in self.contexts
        ]
        table = np.array([*known, (np.nan, np.nan)], np.float64)
        return table[self.of_row, 0], table[self.of_row, 1]


def _label(context: Context, measure: int, min_peers: int) -> str:
    """Whose median a measure was compared with: the area's where it has enough peers, else the nation's."""
    area, nation = context.area, context.nation
    if area is not None and area.count[measure] >= min_peers:
        return area.label
    return nation.label if nation is not None else ""


def _z(shares: FloatArray, sizes: FloatArray, median: FloatArray, scale: FloatArray) -> FloatArray:
    """Deviation in spreads: between-bureau spread and the return's binomial noise added in variance."""
    centre = np.clip(median, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        noise = centre * (1 - centre) / sizes
        return (shares - median) / np.sqrt(np.fmax(scale, MIN_SPREAD) ** 2 + noise)


_Found = tuple[int, Finding, set[int]]  # the row, the finding, the measures it explains


def _duplicates(
    rows: IntArray,
    bureaux: Sequence[str],
    contexts: Sequence[Context],
    thresholds: AnomalyThresholds,
    sheets: Sequence[Signature],
) -> list[_Found]:
    found: list[_Found] = []
    for position in np.flatnonzero(rows[:, VOTERS] >= thresholds.duplicate_min_voters).tolist():
        sheet, bureau, context = sheets[position], bureaux[position], contexts[position]
        other = (context.seen or {}).get(sheet)
        if other is not None and other != bureau:
            message = (
                f"every count is identical to bureau {other}'s return of this round: the same sheet typed "
                "twice, or under the wrong bureau's code?"
            )
            found.append(
                (position, Finding("same_as_other_bureau", "voters", SIGNATURE_SCORE, message), set())
            )
    return found


def _blank_null_swaps(fit: _Fit, contexts: Sequence[Context], thresholds: AnomalyThresholds) -> list[_Found]:
    """log(blancs / nuls) far from what is expected and ordinary once reversed, with both shares ordinary
    once put back: a swap reverses the ratio and leaves everything else as it was, so the ratio is what
    tells it from chance, and the levels what tell it from a count slipped by a digit. Expected: the
    ratio of the shares the bureau's past predicts, where known, else the peers' median ratio."""
    ratio, noise = blank_null_ratio(fit.rows)
    reference = fit.reference[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        from_past = np.log(fit.expected[:, 1] / fit.expected[:, 2])
    from_peers, spread = fit.groups.ratios()
    median = np.where(np.isfinite(from_past), from_past, from_peers)
    deviation = np.sqrt(spread**2 + noise)
    typed, reversed_ = (ratio - median) / deviation, (-ratio - median) / deviation
    with np.errstate(invalid="ignore"):
        suspect = (np.abs(typed) > thresholds.ratio_deviation) & (np.abs(reversed_) < thresholds.swap_fit)
    found = []
    positions = np.flatnonzero(suspect)
    scores = np.abs(typed[positions])
    pairs = np.tile(np.array([BLANK - 1, NULL - 1]), (len(positions), 1))
    fits = _fit_swapped(fit, positions, pairs, scores, thresholds)
    for position, score in zip(positions[fits].tolist(), scores[fits].tolist(), strict=True):
        context, shares = contexts[position], fit.shares[position]
        message = (
            f"blancs {_pc(shares[1])} and nuls {_pc(shares[2])} here; {_pc(reference[position, 1])} and "
            f"{_pc(reference[position, 2])} expected{_then(1, 2, context)}: the two columns look swapped."
        )
        found.append((position, Finding("blank_null_swapped", "blank", score, message), {1, 2}))
    return found


def _candidate_swaps(fit: _Fit, contexts: Sequence[Context], thresholds: AnomalyThresholds) -> list[_Found]:
    """Pairs of candidates unusual as typed and ordinary once swapped (both on the same exprimés)."""
    # A pair is unusual as typed (z² + z² beyond the threshold²) only if one of its z² is beyond half the
    # threshold²: the other rows (nearly all of a file) cannot hold a swap and are left out.
    candidates = fit.best[:, len(FIXED_MEASURES) :]
    rows = np.flatnonzero((candidates**2 > thresholds.swap_deviation**2 / 2).any(axis=1))
    if not len(rows):  # a clerk's ordinary return: none of the 55 pairs' arithmetic
        return []
    # A row per measure: one candidate's row is contiguous.
    best, reference = fit.best[rows].T, fit.reference[0][rows].T
    found = []
    measures = fit.shares.shape[1]
    # Each candidate against all the later ones at once (11 candidates: 55 pairs of 70,000 rows, 0.2 s
    # a pair at a time); found in the order of the pairs, then of the rows.
    for i in range(len(FIXED_MEASURES), measures - 1):
        later = np.arange(i + 1, measures)
        typed = best[i] ** 2 + best[later] ** 2
        low, high = np.fmin(reference[i], reference[later]), np.fmax(reference[i], reference[later])
        with np.errstate(invalid="ignore"):
            suspect = (best[i] * best[later] < 0) & (typed > thresholds.swap_deviation**2)
            suspect &= high >= SWAP_CONTRAST * low  # closer expected shares cannot reveal a swap
        offsets, chosen = np.nonzero(suspect)
        positions = rows[chosen]
        scores = np.sqrt(typed[offsets, chosen])
        pairs = np.stack([np.full(len(positions), i), i + 1 + offsets], axis=1)
        fits = _fit_swapped(fit, positions, pairs, scores, thresholds)
        for offset, position, score in zip(
            offsets[fits].tolist(), positions[fits].tolist(), scores[fits].tolist(), strict=True
        ):
            pair = (i, i + 1 + offset)
            found.append(_swap_finding(fit, contexts[position], position=position, pair=pair, score=score))
    return found


def _fit_swapped(
    fit: _Fit, positions: IntArray, pairs: IntArray, typed: FloatArray, thresholds: AnomalyThresholds
) -> BoolArray:
    """For each row at `positions`, whether its pair of measures (`pairs`, a row each) swapped back is
    ordinary, or far less unusual than as typed (`typed`): a prediction's spread is learned from the
    typical bureau, and a bureau far from it as typed may stay a little off once put right."""
    if not len(positions):
        return np.zeros(0, np.bool_)
    reference, scale = fit.reference
    rows = positions[:, None]
    typed_order, swapped_order = pairs, pairs[:, ::-1]
    again = _z(
        fit.shares[rows, swapped_order],
        fit.sizes[rows, typed_order],
        reference[rows, typed_order],
        scale[rows, typed_order],
    )
    distance = np.sqrt(np.sum(np.nan_to_num(again) ** 2, axis=1))
    fits: BoolArray = distance < np.maximum(thresholds.swap_fit, typed / SWAP_GAIN)
    return fits


def _swap_finding(
    fit: _Fit, context: Context, *, position: int, pair: tuple[int, int], score: float
) -> _Found:
    i, j = pair
    names = field_names(context.candidates)
    shares, reference = fit.shares[position], fit.reference[0][position]
    message = (
        f"{names[i]} {_pc(shares[i])} and {names[j]} {_pc(shares[j])} here; {_pc(reference[i])} and "
        f"{_pc(reference[j])} expected{_then(i, j, context)}: the two columns look swapped."
    )
    return position, Finding("candidates_swapped", names[i], score, message), {i, j}


def _tenfold_counts(fit: _Fit, contexts: Sequence[Context], thresholds: AnomalyThresholds) -> list[_Found]:
    """About ten times (or a tenth of) the count the other counts imply. With the arithmetic kept right the
    others are untouched, so expected = e / (1 - e) × (the others' total) for an expected share e; judged
    on a log scale, with the spread relative to e and the expected count's Poisson noise, so that 14 nuls
    typed as 1 is found as surely as 140 typed as 1,400."""
    slip = fit.ten_times
    # Only the counts about ten times their expected one can be slips: the others are not measured
    # against their peers (a national file: a few thousand cells of a million).
    near = np.nonzero(slip.near)
    if not len(near[0]):
        return []
    sizes = fit.sizes[near]
    against_peers = _log_deviation(fit.shares[near] * sizes, sizes, fit.median[near], fit.scale[near])[0]
    with np.errstate(invalid="ignore"):
        # Beyond the threshold both ways where both are known: a prediction from a 30-voter commune's
        # previous round can be far off, a slip is far from both.
        both = np.fmin(np.abs(slip.z[near]), np.abs(against_peers))
    suspect = both > thresholds.tenfold_deviation
    found = []
    for position, i in zip(near[0][suspect].tolist(), near[1][suspect].tolist(), strict=True):
        at = (position, i)
        found.append((at[0], slip.finding(fit, contexts[at[0]], at, float(abs(slip.z[at]))), {at[1]}))
    return found


@dataclass(frozen=True)
class _TenTimes:
    """Each count against the sharpest expectation known: whether it is about ten times (or a tenth of)
    the count expected, and for those, z of its log odds (NaN for the others)."""

    z: FloatArray
    ratio: FloatArray
    expected: FloatArray
    near: BoolArray

    def finding(self, fit: _Fit, context: Context, at: tuple[int, int], score: float) -> Finding:
        times = "10" if self.ratio[at] > 1 else "0.1"
        tail = f": about {times} times the count expected ({self.expected[at]:.0f})"
        return _described(fit, context, at, "tenfold_count", score=score, tail=tail)


def _ten_times(fit: _Fit) -> _TenTimes:
    """The ratio of every count; z only where it is near ten (a few thousand cells of a national file's
    million: their logs and square roots were most of a file's tenfold check)."""
    counts, (reference, scale) = fit.shares * fit.sizes, fit.reference
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = reference / (1 - reference) * (fit.sizes - counts)  # as `_log_deviation` makes it
        ratio = counts / expected
        near = ((ratio >= TENFOLD[0]) & (ratio <= TENFOLD[1])) | (
            (ratio * TENFOLD[1] >= 1) & (ratio * TENFOLD[0] <= 1)
        )
        near &= expected >= 1
    near[:, 0] = False  # turnout has no count of its own: votants move with the slipped count
    z = np.full_like(ratio, np.nan)
    cells = np.nonzero(near)
    z[cells] = _log_deviation(counts[cells], fit.sizes[cells], reference[cells], scale[cells])[0]
    return _TenTimes(z, ratio, expected, np.asarray(near, np.bool_))


def _log_deviation(
    counts: FloatArray, sizes: FloatArray, reference: FloatArray, scale: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """z of each count's odds (count / the others on the same ballots) on a log scale against the odds of
    its expected share e; their ratio; and the count e implies. With the arithmetic kept right a digit
    slip multiplies the odds by ten exactly. The variance is the binomial one of a log odds on n ballots,
    1 / (n e (1 - e)), plus the spread between bureaux carried to that scale, (s / (e (1 - e)))²."""
    with np.errstate(divide="ignore", invalid="ignore"):
        others = sizes - counts
        expected_odds = reference / (1 - reference)
        spread = reference * (1 - reference)
        variance = 1 / (sizes * spread) + (np.fmax(scale, MIN_SPREAD) / spread) ** 2
        z = (np.log((counts + 0.5) / (others + 0.5)) - np.log(expected_odds)) / np.sqrt(variance)
        return z, counts / (expected_odds * others), expected_odds * others


UNUSUAL = ("turnout_unusual", "blank_share_unusual", "null_share_unusual")


def _unusual(fit: _Fit, contexts: Sequence[Context], thresholds: AnomalyThresholds) -> list[_Found]:
    """Shares unusual both ways; one that is also about ten times its expected count is named a digit slip,
    which says what to check on the sheet."""
    score = fit.score
    slip = fit.ten_times
    found = []
    for position, i in zip(*np.nonzero(score > thresholds.deviation), strict=True):
        at = (int(position), int(i))
        if slip.near[at]:
            finding = slip.finding(fit, contexts[at[0]], at, float(score[at]))
        else:
            code = UNUSUAL[i] if i < len(UNUSUAL) else "vote_share_unusual"
            finding = _described(fit, contexts[at[0]], at, code, score=float(score[at]), tail="")
        found.append((at[0], finding, {at[1]}))
    return found


def _described(
    fit: _Fit, context: Context, at: tuple[int, int], code: str, *, score: float, tail: str
) -> Finding:
    """ "blancs 34.1 % here; 8.3 % (median) in the département; 9.0 % expected from this bureau's previous
    round (1.9 %)": the figures behind the warning."""
    position, i = at
    names = field_names(context.candidates)
    text = f"{_what(i, names)} {_pc(fit.shares[position, i])} here"
    if not np.isnan(fit.peers[position, i]):
        text += f"; {_pc(fit.median[position, i])} (median) in {_label(context, i, fit.min_peers)}"
    if not np.isnan(fit.past[position, i]):
        text += f"; {_pc(fit.expected[position, i])} expected from this bureau's previous round"
        if context.previous is not None and not np.isnan(context.previous[i]):
            text += f" ({_pc(context.previous[i])})"
    return Finding(code, names[i], score, f"{text}{tail}.")


def _what(i: int, names: tuple[str, ...]) -> str:
    return ("turnout", "blancs", "nuls")[i] if i < len(FIXED_MEASURES) else names[i]


def _then(i: int, j: int, context: Context) -> str:
    """The previous round's figures, when the bureau has them."""
    previous = context.previous
    if previous is None or np.isnan(previous[i]) or np.isnan(previous[j]):
        return ""
    return f"; {_pc(previous[i])} and {_pc(previous[j])} in this bureau's previous round"


def _pc(share: float) -> str:
    return "unknown" if np.isnan(share) else f"{100 * share:.1f} %"


def count_rows(registered: IntArray, counts: IntArray, votes: IntArray) -> IntArray:
    """Count rows from a batch's columns (registered, [voters, blank, null, valid], votes)."""
    return np.column_stack([registered, counts, votes]).astype(np.int64)


@dataclass(frozen=True)
class Judged:
    """The findings of each row of a batch, and which rows had enough peers to be compared at all (the
    others are left to the fixed shares of `tabulator.rules`)."""

    findings: list[Sequence[Finding]]
    compared: BoolArray


@dataclass(frozen=True)
class PreviousRound:
    """The previous round's count rows of a batch's bureaux and of their peers (voters UNKNOWN where a
    bureau had no return then), and that round's candidates."""

    rows: IntArray
    peers: IntArray
    candidates: tuple[str, ...]


def check_returns(
    rows: IntArray,
    bureaux: Sequence[str],
    areas: IntArray,
    *,
    peers: IntArray,
    peer_bureaux: Sequence[str],
    peer_areas: IntArray,
    candidates: tuple[str, ...],
    thresholds: AnomalyThresholds = DEFAULT_ANOMALY_THRESHOLDS,
    previous: PreviousRound | None = None,
) -> Judged:
    """A batch's rows against the current returns of the other bureaux of their areas (`peers`) and against
    each other (a file's rows are each other's peers), and, with `previous`, against what their previous
    round predicts. Cost: a median and a least-squares fit per area touched, then O(rows × measures²)."""
    pool = np.concatenate([peers.reshape(-1, rows.shape[1]), rows])
    pool_areas = np.concatenate([peer_areas, areas])
    shares = measures(pool)[0] if len(pool) else np.empty((0, len(FIXED_MEASURES) + len(candidates)))
    touched = np.unique(areas).tolist()
    in_area = _positions_by_area(pool_areas, touched)
    by_area = {area: spread_of(shares[in_area[area]], "the département") for area in touched}
    # A clerk's write reads its own département only: its "nation" is that département, already measured.
    only_one = len(touched) == 1 and bool((pool_areas == touched[0]).all())
    nation = (
        replace(by_area[touched[0]], label="the bureaux reported")
        if only_one
        else spread_of(shares, "the bureaux reported")
    )
    # A sheet typed under the wrong code is a neighbour's: looked for in the same area only, where two
    # returns of 150 votants or more agree by chance far less often than across a nation's 70,000.
    sheets = signatures(pool)
    codes = [*peer_bureaux, *bureaux]
    seen = {area: _first_codes(sheets, codes, in_area[area]) for area in touched}
    ratio, noise, voting = *blank_null_ratio(pool), pool[:, VOTERS] > 0
    min_peers = thresholds.min_peers
    everywhere = cache(lambda: _ratio_spread(ratio, noise, voting=voting, min_peers=min_peers))
    contexts = {
        area: Context(
            candidates,
            area=by_area[area],
            nation=nation,
            ratio=_ratio_spread(
                ratio[in_area[area]], noise[in_area[area]], voting=voting[in_area[area]], min_peers=min_peers
            )
            or everywhere(),  # for areas with too few peers
            seen=seen[area],
        )
        for area in touched
    }
    row_contexts = [contexts[area] for area in areas.tolist()]
    if previous is not None:
        row_contexts = _with_past(
            shares,
            pool_areas=pool_areas,
            rows=rows,
            areas=areas,
            contexts=row_contexts,
            previous=previous,
            thresholds=thresholds,
        )
    # An area's peers are among the pool's: the pool's count decides for every row.
    reported = int((~np.isnan(shares[:, BLANK - 1])).sum())
    compared: BoolArray = np.full(len(rows), reported >= thresholds.min_peers)
    # The rows of an area share its spreads, and the nation's (`_with_past` keeps both).
    sharing = list(_positions_by_area(areas, touched).values())
    findings = _check(
        rows, bureaux, row_contexts, thresholds, sheets=sheets[len(pool) - len(rows) :], sharing=sharing
    )
    return Judged(findings, compared)


def _first_codes(sheets: list[Signature], codes: list[str], positions: IntArray) -> dict[Signature, str]:
    """Each signature's first bureau among these positions (ascending), the dict built in C from the last
    position to the first so that the first one stays (a national file's 70,000 rows one by one: 20 ms)."""
    backwards = positions[::-1].tolist()
    return dict(zip(map(sheets.__getitem__, backwards), map(codes.__getitem__, backwards), strict=True))


def _positions_by_area(pool_areas: IntArray, areas: list[int]) -> dict[int, IntArray]:
    """Each area's positions in the pool, ascending, found with one sort (a national file's 107
    départements compared with each of 70,000 rows took 0.04 s)."""
    order = np.argsort(pool_areas, kind="stable")
    ordered = pool_areas[order]
    starts = np.searchsorted(ordered, areas, side="left").tolist()
    ends = np.searchsorted(ordered, areas, side="right").tolist()
    return {area: order[start:end] for area, start, end in zip(areas, starts, ends, strict=True)}


def _with_past(
    shares: FloatArray,
    *,
    pool_areas: IntArray,
    rows: IntArray,
    areas: IntArray,
    contexts: list[Context],
    previous: PreviousRound,
    thresholds: AnomalyThresholds,
) -> list[Context]:
    """Each row's context with what its previous round predicts, learned in its area (else in the pool),
    from the returns already stored when they are enough: a return judged is not its own peer, and one
    slip among 40 peers would pull its own prediction halfway to itself. A file judged alone (an import)
    learns from its own rows."""
    then_rows = np.concatenate([previous.peers.reshape(-1, previous.rows.shape[1]), previous.rows])
    then = measures(then_rows)[0]
    then[then_rows[:, VOTERS] == UNKNOWN] = np.nan
    then_same = same_layout(then, previous.candidates, contexts[0].candidates if contexts else ())
    offset = len(then) - len(rows)
    stored = np.arange(len(then)) < offset

    def learn(where: BoolArray) -> PastModel | None:
        return learn_past(
            shares[where & stored], then[where & stored], then_same[where & stored], thresholds.min_peers
        ) or learn_past(shares[where], then[where], then_same[where], thresholds.min_peers)

    everywhere = learn(np.ones(len(then), bool))
    models = {area: learn(pool_areas == area) or everywhere for area in np.unique(areas).tolist()}
    result = []
    for position, (area, context) in enumerate(zip(areas.tolist(), contexts, strict=True)):
        model = models[area]
        own, own_same = then[offset + position], then_same[offset + position]
        expected = None if model is None else model.expect(own, own_same)
        result.append(replace(context, expected=expected, previous=own_same))
    return result


def same_layout(
    then: FloatArray, previous_candidates: Sequence[str], candidates: Sequence[str]
) -> FloatArray:
    """Previous-round measures in this round's layout: a candidate who did not stand then has none (NaN)."""
    result = np.full((len(then), len(FIXED_MEASURES) + len(candidates)), np.nan)
    result[:, : len(FIXED_MEASURES)] = then[:, : len(FIXED_MEASURES)]
    for k, candidate in enumerate(candidates):
        if candidate in previous_candidates:
            result[:, len(FIXED_MEASURES) + k] = then[
                :, len(FIXED_MEASURES) + list(previous_candidates).index(candidate)
            ]
    return result


@dataclass(frozen=True)
class AreaKnowledge:
    """What an area's stored returns teach about another return of it: their spreads and log(blancs /
    nuls), and how the round follows its previous one there. The service keeps it a few seconds between
    clerks' returns: the medians of hundreds of peers do not move in that time, and measuring them again
    for every return halved the write path's throughput."""

    context: Context  # the peers' spreads and ratio: no signatures, no expectation of its own
    model: PastModel | None
    previous_candidates: tuple[str, ...]
    peers: int  # returns it was learned from
    compared: bool  # enough of them to compare a return with


def learn_area(
    peers: IntArray,
    *,
    candidates: tuple[str, ...],
    thresholds: AnomalyThresholds = DEFAULT_ANOMALY_THRESHOLDS,
    previous: PreviousRound | None = None,
) -> AreaKnowledge:
    """An area's knowledge from its stored returns (`peers`), with their previous round's rows in
    `previous.peers` (voters UNKNOWN where a bureau had none). Cost: a median per measure, a fit."""
    shares = measures(peers)[0] if len(peers) else np.empty((0, len(FIXED_MEASURES) + len(candidates)))
    spread = spread_of(shares, "the département")
    context = Context(
        candidates,
        area=spread,
        nation=replace(spread, label="the bureaux reported"),
        ratio=ratio_spread(peers, thresholds.min_peers),
    )
    model = None
    if previous is not None and len(peers):
        then = _then_measures(previous.peers)
        model = learn_past(
            shares, then, same_layout(then, previous.candidates, candidates), thresholds.min_peers
        )
    known = int((~np.isnan(shares[:, BLANK - 1])).sum())
    return AreaKnowledge(
        context,
        model,
        () if previous is None else previous.candidates,
        len(peers),
        known >= thresholds.min_peers,
    )


def judge_in_area(
    rows: IntArray,
    bureaux: Sequence[str],
    knowledge: AreaKnowledge,
    *,
    seen: Mapping[Signature, str],
    previous_rows: IntArray | None = None,
    thresholds: AnomalyThresholds = DEFAULT_ANOMALY_THRESHOLDS,
) -> Judged:
    """A few returns of one area against what it knows (`learn_area`), `seen` the signatures of the
    area's returns that share their counts, `previous_rows` their own previous-round rows."""
    contexts = [replace(knowledge.context, seen=seen)] * len(rows)
    if previous_rows is not None and knowledge.previous_candidates:
        then = _then_measures(previous_rows)
        then_same = same_layout(then, knowledge.previous_candidates, knowledge.context.candidates)
        contexts = [
            replace(
                context,
                expected=None if knowledge.model is None else knowledge.model.expect(then[i], then_same[i]),
                previous=then_same[i],
            )
            for i, context in enumerate(contexts)
        ]
    # One area: every row shares its spreads.
    findings = _check(
        rows, bureaux, contexts, thresholds, sheets=signatures(rows), sharing=[np.arange(len(rows))]
    )
    return Judged(findings, np.full(len(rows), knowledge.compared))


def _then_measures(previous_rows: IntArray) -> FloatArray:
    then = measures(previous_rows)[0]
    then[np.asarray(previous_rows)[:, VOTERS] == UNKNOWN] = np.nan
    return then
