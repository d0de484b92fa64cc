"""A projection of a round's final result from the bureaux counted so far, with 90 % intervals.

Why a model at all: bureaux do not report at random. Small rural bureaux count fast and city bureaux
last, so a running total leans towards the places that count first. What is known of a bureau before it
reports — its result and turnout in the previous round, its size, its département — says how it is
likely to vote; the counted bureaux say how those facts translate into this round's votes.

The model (docs/projection.md gives the reasons and the backtests):

- For each counted bureau, targets: votants and exprimés per unit of its size (inscrits, else the
  previous round's votants), each candidate's share of exprimés, and the margin between the counted
  leader and runner-up.
- Each target = covariates · β + a département effect + noise, fitted weighted by size. The covariates
  are the previous round's shares and turnout, the day's checkpoints and a constant. The département
  effects are random (a mixed model): shrunk towards zero by λ = σ² / τ², both estimated from the counted
  bureaux (one-way ANOVA moments), so that a département with few counted bureaux borrows from the
  national fit and one with none gets the national fit and the whole between-département spread.
- An uncounted bureau's votes = its predicted exprimés × its predicted shares; an area's projection
  adds them to the area's counted votes.
- An area's variance: the uncounted bureaux' own noise, each département's effect (shared by its
  uncounted bureaux), both scaled by a calibration on the night itself (`_calibrated`), and a shift that
  all uncounted bureaux share. The 90 % interval is ± 1.645 standard deviations; the probability that
  the leader stays ahead is that of the projected margin staying above zero.

Pure numpy; no database, no web. `api` feeds it the round's bureaux and asks for areas.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

Z90 = 1.6448536269514722  # the normal quantile of 0.95: a two-sided 90 % interval
BACKFIT_ROUNDS = 6  # β and the département effects settle in a few alternations
MIN_COUNTED = 20  # fewer counted bureaux than this: no projection (nothing to fit)
TAU_FLOOR = 1e-6  # a between-département variance never taken as exactly nothing
CALIBRATION_SPLIT = 0.6  # the calibration fits the first 60 % of the counted bureaux, predicts the rest
# The calibration's quantile of the late bureaux' scores. Those bureaux come later than the rest of the
# counted but still before the waiting ones, which stray further: their 90th percentile covered 89.8 % of
# the presidential backtest's départements, their 95th covers 91.5 % (docs/projection.md).
CALIBRATION_QUANTILE = 0.95
# The least the waiting bureaux, all together, may lean away from their prediction: 0.6 point of a share
# (one standard deviation), whatever the night shows so far. Why: a lean that comes with the reporting
# order can be invisible to every bureau counted yet (the primary's night, docs/projection.md); it is
# below the late lean the presidential backtest's calibration measures at every stage.
LATE_LEAN = 0.01


@dataclass(frozen=True)
class Bureaux:
    """Every bureau of the round, counted or not, in one order.

    `size`: what scales a bureau's votes, known before it reports: its inscrits, or where they are not
    known its votants in the previous round. `covariates`: what else is known of it before (previous
    round's shares and turnout, the day's turnout checkpoints), NaN where unknown; `group`: its
    département (0 … groups - 1)."""

    counted: BoolArray
    report_order: FloatArray  # when each counted bureau reported (any increasing number); ignored if not
    size: FloatArray
    voters: FloatArray
    valid: FloatArray
    votes: FloatArray  # (bureaux, candidates)
    covariates: FloatArray  # (bureaux, covariates)
    group: IntArray

    @property
    def groups(self) -> int:
        return int(self.group.max()) + 1 if len(self.group) else 0


@dataclass(frozen=True)
class Estimate:
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class AreaProjection:
    """An area's projected final figures. `shares` in ballot order, as fractions of exprimés."""

    counted_bureaux: int
    bureaux: int
    voters: Estimate
    shares: tuple[Estimate, ...]
    leader: int  # the area's counted leader (projected leader before any count), in ballot order
    leader_stays_ahead: float | None  # None where the model has no margin for it (see `area`)


@dataclass(frozen=True)
class _Fit:
    """One mixed model per target column, predicted for every bureau."""

    predicted: FloatArray  # (bureaux, targets)
    noise: FloatArray  # (targets,) σ²: a bureau's own variance
    effect_variance: FloatArray  # (groups, targets): posterior variance of each département's effect
    between: FloatArray  # (targets,) τ²: the spread of the départements' effects
    unit: float  # the mean size of the bureaux fitted: a bureau's noise variance is σ² · unit / size
    scale: float = 1.0  # the calibration's factor on the model's standard deviation
    shift: FloatArray | None = None  # (targets,): variance of an error every waiting bureau shares


@dataclass(frozen=True)
class Projection:
    """The round's model, fitted once per sequence; `area` projects any set of bureaux."""

    bureaux: Bureaux
    turnout: _Fit  # votants / size
    exprimes: _Fit  # exprimés / size
    shares: _Fit  # each candidate's share of exprimés, then the margin leader - runner-up
    leader: int
    runner_up: int

    def area(self, members: IntArray) -> AreaProjection | None:
        """The projection of the area made of these bureaux (indices into `bureaux`); None for an area with
        no exprimés to count or to expect (no bureau, or none with a size)."""
        b = self.bureaux
        counted = b.counted[members]
        waiting = members[~counted]
        voters = self._voters(members, waiting)
        exprimes_waiting = np.clip(self.exprimes.predicted[waiting, 0], 0, None) * b.size[waiting]
        shares_waiting = _normalised(self.shares.predicted[waiting, :-1])
        counted_votes = b.votes[members[counted]].sum(axis=0)
        total_votes = counted_votes + exprimes_waiting @ shares_waiting
        total = float(total_votes.sum())
        if total <= 0:
            return None
        # One spread per candidate's share, then the margin's: the model's columns.
        spreads = _spreads(self.shares, b.group[waiting], exprimes_waiting, b.size[waiting]) / total
        estimates = [
            _interval(v / total, s, 0.0, 1.0) for v, s in zip(total_votes, spreads[:-1], strict=True)
        ]
        margin = (total_votes[self.leader] - total_votes[self.runner_up]) / total
        leader = int(np.argmax(counted_votes if counted_votes.any() else total_votes))
        # The model's margin is the round's leader's over its runner-up: an area led by either is told
        # its odds from it; one led by a third candidate is not.
        ahead = _probability_above_zero(margin, float(spreads[-1]))
        odds = {self.leader: ahead, self.runner_up: 1.0 - ahead}.get(leader)
        return AreaProjection(
            counted_bureaux=int(counted.sum()),
            bureaux=len(members),
            voters=voters,
            shares=tuple(estimates),
            leader=leader,
            leader_stays_ahead=odds if self.leader != self.runner_up else 1.0,
        )

    def _voters(self, members: IntArray, waiting: IntArray) -> Estimate:
        """The counted votants, and the waiting bureaux' predicted from their size: at least the counted."""
        b = self.bureaux
        known = float(b.voters[members[b.counted[members]]].sum())
        weights = b.size[waiting]
        value = known + float(np.clip(self.turnout.predicted[waiting, 0], 0, None) @ weights)
        spread = float(_spreads(self.turnout, b.group[waiting], weights, weights)[0])
        return _interval(value, spread, known, math.inf)


def project(bureaux: Bureaux) -> Projection | None:
    """The round's model as of the counted bureaux; None while too few are counted to fit anything."""
    counted = bureaux.counted & (bureaux.size > 0) & (bureaux.valid > 0)
    if counted.sum() < MIN_COUNTED:
        return None
    design = _design(bureaux)
    counted_votes = bureaux.votes[bureaux.counted].sum(axis=0)
    ranked = np.argsort(-counted_votes, kind="stable")
    leader, runner_up = int(ranked[0]), int(ranked[min(1, len(ranked) - 1)])  # one candidate: no runner-up
    rows = np.flatnonzero(counted)
    rows = rows[np.argsort(bureaux.report_order[rows], kind="stable")]
    turnout, shares = _turnout_targets(bureaux), _share_targets(bureaux, leader, runner_up)
    # A lean moving a share from the runner-up to the leader moves their margin twice as far.
    lean = np.array([LATE_LEAN**2] * bureaux.votes.shape[1] + [(2 * LATE_LEAN) ** 2])
    return Projection(
        bureaux=bureaux,
        turnout=_calibrated(design, bureaux, rows, turnout, bureaux.size),
        exprimes=_fit(design, bureaux, rows, (bureaux.valid[rows] / bureaux.size[rows])[:, None]),
        shares=_with_late_lean(_calibrated(design, bureaux, rows, shares, bureaux.valid), lean),
        leader=leader,
        runner_up=runner_up,
    )


def _turnout_targets(bureaux: Bureaux) -> Callable[[IntArray], FloatArray]:
    return lambda rows: (bureaux.voters[rows] / bureaux.size[rows])[:, None]


def _share_targets(bureaux: Bureaux, leader: int, runner_up: int) -> Callable[[IntArray], FloatArray]:
    def targets(rows: IntArray) -> FloatArray:
        shares = bureaux.votes[rows] / bureaux.valid[rows, None]
        return np.column_stack([shares, shares[:, leader] - shares[:, runner_up]])

    return targets


def _calibrated(
    design: FloatArray,
    bureaux: Bureaux,
    rows: IntArray,
    targets: Callable[[IntArray], FloatArray],
    weights: FloatArray,
) -> _Fit:
    """The model fitted on every counted bureau, its spread calibrated on the night itself: fitted again on
    the bureaux counted first, it predicts those counted last, which resemble the bureaux still waiting
    more than the early ones do. How far each département's late total falls from its prediction, in
    the model's own standard deviations, gives the scale (a conformal quantile); how far the late total
    of the nation falls, beyond that, gives a shift that every waiting bureau shares."""
    fitted = _fit(design, bureaux, rows, targets(rows))
    cut = int(len(rows) * CALIBRATION_SPLIT)
    early, late = rows[:cut], rows[cut:]
    if len(early) < MIN_COUNTED or len(late) < MIN_COUNTED:
        return fitted
    trial = _fit(design, bureaux, early, targets(early))
    group, weight = bureaux.group[late], weights[late]
    errors = _group_sums(weight[:, None] * (targets(late) - trial.predicted[late]), group, bureaux.groups)
    variances, totals = _group_variances(trial, group, weight, bureaux.size[late])
    present = totals > 0
    scores = (np.abs(errors[present]) / np.sqrt(variances[present])).ravel()
    scale = max(1.0, _conformal_quantile(scores, CALIBRATION_QUANTILE) / Z90)
    national = errors.sum(axis=0)
    explained = scale**2 * variances.sum(axis=0)
    shift = np.maximum(national**2 - explained, 0.0) / float(totals.sum()) ** 2
    return replace(fitted, scale=scale, shift=shift)


def _with_late_lean(fit: _Fit, lean: FloatArray) -> _Fit:
    """The shared shift at least `lean` (per column, on the target's scale)."""
    shift = fit.between if fit.shift is None else fit.shift
    return replace(fit, shift=np.maximum(shift, lean))


def _conformal_quantile(scores: FloatArray, coverage: float) -> float:
    """The ⌈(n + 1) · coverage⌉-th smallest score: split conformal's quantile (the largest for few)."""
    ranked = np.sort(scores)
    index = min(math.ceil((len(ranked) + 1) * coverage), len(ranked)) - 1
    return float(ranked[index])


def _design(bureaux: Bureaux) -> FloatArray:
    """The covariates of every bureau: a constant, then each covariate with a missing value replaced by
    its département's mean (else the national mean) and a column marking where it was. Size is the fit's
    weight, not a covariate: a slope in size, carried to the biggest bureaux (counted last), did worse
    in the backtests."""
    columns = [np.ones(len(bureaux.group))]
    for values in bureaux.covariates.T:
        missing = np.isnan(values)
        columns.append(_filled(values, missing, bureaux.group, bureaux.groups))
        if missing.any():
            columns.append(missing.astype(np.float64))
    return np.column_stack(columns)


def _filled(values: FloatArray, missing: BoolArray, group: IntArray, groups: int) -> FloatArray:
    if not missing.any():
        return values
    known = ~missing
    overall = float(values[known].mean()) if known.any() else 0.0
    sums = np.bincount(group[known], values[known], minlength=groups)
    counts = np.bincount(group[known], minlength=groups)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), overall)
    return np.where(missing, means[group], values)


def _fit(design: FloatArray, bureaux: Bureaux, rows: IntArray, targets: FloatArray) -> _Fit:
    """A linear mixed model per target column (random département intercepts), fitted on the counted
    rows by backfitting, predicted for every bureau. Weighted by size: a bureau's noise variance is
    σ² / its relative size, as a share's is for a count of votes, and the big bureaux, which weigh most in
    an area's total, are fitted first."""
    x, g = design[rows], bureaux.group[rows]
    groups = bureaux.groups
    unit = float(bureaux.size[rows].mean())
    weight = bureaux.size[rows] / unit
    weighted = x * weight[:, None]
    # The normal equations' inverse, once: the covariates are few, and the previous round's shares sum to
    # one beside the constant (a pseudo-inverse takes that in its stride).
    solve = np.linalg.pinv(weighted.T @ x)
    totals = _summed(g, weight, groups)
    beta = solve @ (weighted.T @ targets)
    noise, between = _variance_components(targets - x @ beta, g, weight, totals)
    shrink = noise / between  # λ per column
    effects = np.zeros((groups, targets.shape[1]))
    for _ in range(BACKFIT_ROUNDS):
        residual = targets - x @ beta
        effects = _group_sums(weight[:, None] * residual, g, groups) / (totals[:, None] + shrink[None, :])
        beta = solve @ (weighted.T @ (targets - effects[g]))
    posterior = 1.0 / (totals[:, None] / noise[None, :] + 1.0 / between[None, :])
    predicted = design @ beta + effects[bureaux.group]
    return _Fit(predicted=predicted, noise=noise, effect_variance=posterior, between=between, unit=unit)


def _variance_components(
    residual: FloatArray, group: IntArray, weight: FloatArray, totals: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """σ² (within départements, per unit of weight) and τ² (between them), per column, by one-way
    ANOVA moments with the weights in place of counts."""
    present = totals > 0
    means = _group_sums(weight[:, None] * residual, group, len(totals)) / np.maximum(totals, 1e-12)[:, None]
    within = (weight[:, None] * (residual - means[group]) ** 2).sum(axis=0)
    count, levels = float(totals.sum()), int(present.sum())
    noise = np.maximum(within / max(len(residual) - levels, 1.0), TAU_FLOOR)
    if levels < 2:
        return noise, noise  # one département counted: its own spread is all there is to go on
    grand = (weight[:, None] * residual).sum(axis=0) / count
    between_squares = (totals[present, None] * (means[present] - grand) ** 2).sum(axis=0) / (levels - 1)
    typical = (count - float((totals[present] ** 2).sum()) / count) / (levels - 1)
    return noise, np.maximum((between_squares - noise) / typical, TAU_FLOOR)


def _group_sums(values: FloatArray, group: IntArray, groups: int) -> FloatArray:
    return np.stack([_summed(group, column, groups) for column in values.T], axis=1)


def _summed(group: IntArray, values: FloatArray, groups: int) -> FloatArray:
    """Σ values per département."""
    return np.bincount(group, values, minlength=groups).astype(np.float64, copy=False)


def _spreads(fit: _Fit, group: IntArray, weights: FloatArray, sizes: FloatArray) -> FloatArray:
    """Per column, the standard deviation of Σ weight × predicted value over the uncounted bureaux: their
    own noise and each département's effect (shared by all its uncounted bureaux), both scaled by the
    calibration, and the shift they all share."""
    variances, _ = _group_variances(fit, group, weights, sizes)
    # The bureaux still waiting may differ, all together, from what the counted ones predict (they are
    # not a random draw): by as much as the calibration saw, and at least as much as a département may.
    shift = fit.between if fit.shift is None else np.maximum(fit.between, fit.shift)
    spreads: FloatArray = np.sqrt(fit.scale**2 * variances.sum(axis=0) + shift * float(weights.sum()) ** 2)
    return spreads


def _group_variances(
    fit: _Fit, group: IntArray, weights: FloatArray, sizes: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Per département and column, the variance of Σ weight × predicted value over these bureaux before
    calibration: Σ weight² / relative size times σ² (their own noise), plus (Σ weight)² times the
    département's effect's variance. And Σ weight per département."""
    groups = fit.effect_variance.shape[0]
    relative = np.maximum(sizes / fit.unit, 1e-9)
    own, totals = _summed(group, weights**2 / relative, groups), _summed(group, weights, groups)
    return own[:, None] * fit.noise[None, :] + totals[:, None] ** 2 * fit.effect_variance, totals


def _normalised(shares: FloatArray) -> FloatArray:
    clipped = np.clip(shares, 0, None)
    sums = clipped.sum(axis=1, keepdims=True)
    return np.where(sums > 0, clipped / np.where(sums > 0, sums, 1), 1.0 / max(shares.shape[1], 1))


def _interval(value: float, spread: float, lowest: float, highest: float) -> Estimate:
    return Estimate(value, max(lowest, value - Z90 * spread), min(highest, value + Z90 * spread))


def _probability_above_zero(mean: float, spread: float) -> float:
    if spread <= 0:
        return 1.0 if mean > 0 else 0.0 if mean < 0 else 0.5  # a tie, every bureau counted: even odds
    return 0.5 * (1 + math.erf(mean / (spread * math.sqrt(2))))


def members_of(groups: Sequence[int] | IntArray, group: IntArray) -> IntArray:
    """The bureaux of some départements (an area above them: a région, the nation)."""
    return np.flatnonzero(np.isin(group, np.asarray(groups)))
