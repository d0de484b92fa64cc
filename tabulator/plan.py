"""A write of returns decided before anything is written: a plan over plain arrays, applied by the store.

The store reads what a batch is judged against (the stored returns of its bureaux, their previous round,
their turnout checkpoints, what their peers say); `plan_returns` decides from that alone — which rules
refuse the batch, whether the sender wrote against a stale version, which returns correct one already
published and whether the writer may, which change nothing — and `new_versions` what each changed return
stores and adds to its areas. No database, no clock: the same inputs give the same plan, and tests build
them by hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tabulator.aggregation import contributions
from tabulator.anomalies import Judged
from tabulator.batch import UNKNOWN, BoolArray, CheckpointBatch, IntArray, ReturnBatch
from tabulator.registry import Registry
from tabulator.rules import DEFAULT_THRESHOLDS, Thresholds, Warnings, check_counts, error, where
from tabulator.types import Issue


@dataclass(frozen=True)
class StoredReturns:
    """The current returns of some bureaux of a round, row for row (`exists` False where none is stored:
    its other columns are then zeros, `registered` UNKNOWN)."""

    exists: BoolArray
    version: IntArray
    counts: IntArray  # votants, blancs, nuls, exprimés
    votes: IntArray  # one column per candidate, in ballot order
    registered: IntArray

    def select(self, rows: slice) -> StoredReturns:
        return StoredReturns(
            self.exists[rows], self.version[rows], self.counts[rows], self.votes[rows], self.registered[rows]
        )


@dataclass(frozen=True)
class Context:
    """What a batch is judged against, besides its bureaux' stored returns: row for row, their votants in
    the previous round and their highest turnout checkpoint (UNKNOWN where none), and what their peers
    say (`tabulator.anomalies`)."""

    previous_voters: IntArray
    checkpoint_max: IntArray
    judged: Judged | None = None


@dataclass(frozen=True)
class Rights:
    """What the writer may do, and what they said."""

    may_correct: bool = True  # False: a clerk, who may enter a return but never replace one
    reason: str | None = None  # for every correction of the batch that gives none of its own
    expected_version: int | None = None  # one return only: the version the sender last saw (0: none)


@dataclass(frozen=True)
class ReturnsPlan:
    """What a batch does. With `errors`, nothing: the batch is refused whole (`stale_version`, when set, is
    the version a sender who wrote against an older one must look at: HTTP 412)."""

    errors: list[Issue]
    stale_version: int | None
    warnings: Warnings
    registered: IntArray  # each return's inscrits: its own, else its bureau's in the registry
    changed: BoolArray  # a new return, or other counts than those stored
    corrected: BoolArray  # changed, and replacing a stored return
    reasons: list[str | None]  # each row's reason (its own, else the writer's)
    warning_codes: list[str]  # each row's warning codes, "a,b" ("" for none)
    warning_notes: list[str]  # each row's warnings in full, JSON ("" for none)

    @property
    def unchanged(self) -> int:
        return int((~self.changed).sum())


def plan_returns(
    batch: ReturnBatch,
    rows: IntArray,
    registry: Registry,
    stored: StoredReturns,
    context: Context,
    *,
    rights: Rights,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> ReturnsPlan:
    """Decide a batch whose bureaux are located (`rows` in `registry`). Errors come in the order a sender
    fixes them: counts that break a rule first (whether they may correct anything is then moot), a stale
    version next, then corrections without a reason or without the right to correct."""
    errors, warnings = check_counts(
        batch,
        rows,
        registry,
        previous_voters=context.previous_voters,
        checkpoint_max=context.checkpoint_max,
        thresholds=thresholds,
        judged=context.judged,
    )
    registered = np.where(batch.registered != UNKNOWN, batch.registered, registry.registered[rows])
    changed = ~stored.exists | _differs(batch, registered, stored)
    corrected = stored.exists & changed
    reasons = [(batch.reasons[i] if batch.reasons else None) or rights.reason for i in range(len(batch))]
    stale = None if errors else _stale_version(batch, stored, rights.expected_version)
    if stale is not None:
        errors = [stale[0]]
    elif not errors:
        errors = _missing_reasons(batch, corrected, reasons)
        errors += [] if rights.may_correct else _corrections_refused(batch, corrected)
    return ReturnsPlan(
        errors=errors,
        stale_version=None if stale is None else stale[1],
        warnings=warnings,
        registered=registered,
        changed=changed,
        corrected=corrected,
        reasons=reasons,
        warning_codes=warnings.codes_by_row(len(batch)),
        warning_notes=warnings.notes_by_row(len(batch)),
    )


def _differs(batch: ReturnBatch, registered: IntArray, stored: StoredReturns) -> BoolArray:
    differs: BoolArray = (  # numpy types `!=` between arrays as Any
        (batch.counts != stored.counts).any(axis=1)
        | (batch.votes != stored.votes).any(axis=1)
        | (registered != stored.registered)
    )
    return differs


def _stale_version(
    batch: ReturnBatch, stored: StoredReturns, expected_version: int | None
) -> tuple[Issue, int] | None:
    """The refusal of a return sent against a version that is no longer the latest, and the latest. It
    says which version is, never its counts: a clerk must not read figures the public may not see yet."""
    if expected_version is None or int(stored.version[0]) == expected_version:
        return None
    current = int(stored.version[0])
    issue = error(
        "stale_version",
        f"Bureau {batch.bureaux[0]}: you sent your counts against version {expected_version} of its "
        f"return, but version {current} has been recorded since. Check its counts and send again.",
        bureau=batch.bureaux[0],
    )
    return issue, current


def _corrections_refused(batch: ReturnBatch, corrected: BoolArray) -> list[Issue]:
    return [
        error(
            "correction_needs_supervisor",
            f"{where(batch.lines[i], batch.bureaux[i])}this bureau has already reported other counts; only a "
            "supervisor may correct them.",
            bureau=batch.bureaux[i],
        )
        for i in np.flatnonzero(corrected).tolist()
    ]


def _missing_reasons(batch: ReturnBatch, corrected: BoolArray, reasons: list[str | None]) -> list[Issue]:
    return [
        error(
            "reason_required",
            f"{where(batch.lines[i], batch.bureaux[i])}this bureau has already reported other counts; "
            "a correction needs a reason.",
            field="reason",
            line=batch.lines[i],
            bureau=batch.bureaux[i],
        )
        for i in np.flatnonzero(corrected).tolist()
        if not (reasons[i] or "").strip()
    ]


@dataclass(frozen=True)
class NewVersions:
    """The versions a plan appends: one per published row of the batch (`positions`), with what each stores,
    and `delta`, what they add to their areas (their contribution minus that of the versions they replace:
    `tabulator.aggregation.contributions`, one row each)."""

    positions: IntArray
    rows: IntArray  # their bureaux' rows in the registry
    versions: IntArray
    counts: IntArray
    votes: IntArray
    registered: IntArray
    reasons: list[str | None]  # a first report keeps none
    warning_codes: list[str]
    warning_notes: list[str]
    authors: list[str]
    delta: IntArray

    def __len__(self) -> int:
        return len(self.positions)

    @staticmethod
    def joined(parts: Sequence[tuple[NewVersions, int]]) -> NewVersions:
        """The versions of several batches put end to end: `parts` gives each batch's versions and its
        number of rows; the positions are counted in the joined batch."""
        offsets = np.cumsum([0, *(size for _, size in parts)])[:-1].tolist()
        news = [new for new, _ in parts]
        return NewVersions(
            positions=np.concatenate(
                [new.positions + offset for new, offset in zip(news, offsets, strict=True)]
            ),
            rows=np.concatenate([new.rows for new in news]),
            versions=np.concatenate([new.versions for new in news]),
            counts=np.concatenate([new.counts for new in news]),
            votes=np.concatenate([new.votes for new in news]),
            registered=np.concatenate([new.registered for new in news]),
            reasons=[reason for new in news for reason in new.reasons],
            warning_codes=[code for new in news for code in new.warning_codes],
            warning_notes=[note for new in news for note in new.warning_notes],
            authors=[author for new in news for author in new.authors],
            delta=np.concatenate([new.delta for new in news]),
        )


def new_versions(
    plan: ReturnsPlan,
    batch: ReturnBatch,
    rows: IntArray,
    stored: StoredReturns,
    context: Context,
    *,
    publish: BoolArray,
    authors: list[str],
) -> NewVersions:
    """The versions of the rows to `publish` (the plan's changed rows that review lets through), written by
    `authors` (one per row of the batch)."""
    positions = np.flatnonzero(publish)
    picked = positions.tolist()
    previous = context.previous_voters[positions]
    new = contributions(batch.counts[positions], batch.votes[positions], plan.registered[positions], previous)
    replaced = stored.exists[positions]
    delta = new
    reasons: list[str | None] = [None] * len(picked)  # a first import replaces nothing: nothing to take away
    if replaced.any():
        old = contributions(
            stored.counts[positions], stored.votes[positions], stored.registered[positions], previous
        )
        delta = new - old * replaced[:, None]
        reasons = [plan.reasons[i] if stored.exists[i] else None for i in picked]
    every = len(picked) == len(batch)  # a file's first import: its lists as they are

    def take(values: Sequence[str]) -> list[str]:
        return list(values) if every else [values[i] for i in picked]

    return NewVersions(
        positions=positions,
        rows=rows[positions],
        versions=stored.version[positions] + 1,
        counts=batch.counts[positions],
        votes=batch.votes[positions],
        registered=plan.registered[positions],
        reasons=reasons,
        warning_codes=take(plan.warning_codes),
        warning_notes=take(plan.warning_notes),
        authors=take(authors),
        delta=delta,
    )


@dataclass(frozen=True)
class CheckpointsPlan:
    """Which checkpoints of a batch change something: (row, its new version) for each, in the batch's
    order; the others repeat the count stored for their bureau and time."""

    rows: list[tuple[int, int]]
    created: int
    corrected: int
    unchanged: int


def plan_checkpoints(batch: CheckpointBatch, stored: list[dict[str, tuple[int, int]]]) -> CheckpointsPlan:
    """`stored`: for each row's bureau, {time: (votants, version)} of its latest checkpoints."""
    rows, created, corrected = [], 0, 0
    for i in range(len(batch)):
        previous = stored[i].get(batch.times[i])
        if previous is not None and previous[0] == batch.voters[i]:
            continue
        rows.append((i, 1 if previous is None else previous[1] + 1))
        created += previous is None
        corrected += previous is not None
    return CheckpointsPlan(rows, created, corrected, len(batch) - len(rows))
