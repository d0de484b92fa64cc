"""The rules a return or a turnout checkpoint must follow, with stable error codes.

Errors refuse the input; warnings accept it and flag it for review. Every rule works on a whole batch
at once (numpy masks), so a single return from a form and a 70,000-row file are judged alike, and only
the rows that break a rule cost any Python.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, timedelta
from itertools import repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from tabulator.anomalies import DEFAULT_ANOMALY_THRESHOLDS, AnomalyThresholds, Judged
from tabulator.batch import UNKNOWN, CheckpointBatch, IntArray, ReturnBatch
from tabulator.registry import Registry
from tabulator.types import Issue, Severity

TOTALS_ROW = re.compile(r"^\s*(total|totaux|ensemble|france)\b", re.IGNORECASE)
CHECKPOINT_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
NOT_FOUND = -1
FIRST_NAMED = 5  # bureaux named per warning code in a summary
DESCRIBED_WARNINGS = 50  # per rule: a ministry file can flag 90,000 bureaux; a clerk reads the first ones


@dataclass(frozen=True)
class Warnings:
    """Which rows of a batch tripped which warning, and the first few of each described in words."""

    flagged: dict[str, npt.NDArray[np.bool_]]
    issues: list[Issue]
    # Each flagged row's warnings in full ({code, field, message, score}), kept with its version so that a
    # supervisor reads why it was flagged and sorts a queue by how unusual each return is.
    notes: dict[int, list[dict[str, object]]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """Rows with at least one warning."""
        masks = list(self.flagged.values())
        return int(np.logical_or.reduce(masks).sum()) if masks else 0

    def codes_by_row(self, rows: int) -> list[str]:
        """The warning codes of each row, comma-separated (stored with the return)."""
        codes = np.full(rows, "", dtype=object)
        for code, mask in self.flagged.items():
            codes[mask] = np.where(codes[mask] == "", code, codes[mask] + "," + code)
        return list(codes)

    def by_code(self, bureaux: Sequence[str], first: int = FIRST_NAMED) -> dict[str, dict[str, object]]:
        """How many rows tripped each code, and the first bureaux that did (an import's summary)."""
        return {
            code: {
                "count": int(mask.sum()),
                "first": [bureaux[i] for i in np.flatnonzero(mask)[:first].tolist()],
            }
            for code, mask in sorted(self.flagged.items())
        }

    def notes_by_row(self, rows: int) -> list[str]:
        """The full warnings of each row as JSON ("" for a row without any), stored with the return."""
        notes = [""] * rows
        for row, found in self.notes.items():
            notes[row] = json.dumps(found, ensure_ascii=False)
        return notes


@dataclass(frozen=True)
class Thresholds:
    """When an accepted return is flagged for a second look (settings may change them)."""

    blank_share: float = 0.03  # fixed shares: only for returns with too few peers to compare with
    null_share: float = 0.03
    jump_factor: float = 3.0
    anomalies: AnomalyThresholds = DEFAULT_ANOMALY_THRESHOLDS


DEFAULT_THRESHOLDS = Thresholds()

# What a round may set for itself (its own night: a first round with 1 % blancs, a referendum), with the
# range each must lie in; the rest stay the service's settings.
THRESHOLD_RANGES: dict[str, tuple[float, float]] = {
    "blank_share": (0.0, 1.0),
    "null_share": (0.0, 1.0),
    "jump_factor": (1.0, 1_000.0),
    "min_peers": (1, 100_000),
    "deviation": (1.0, 100.0),
    "swap_deviation": (1.0, 100.0),
    "swap_fit": (0.1, 100.0),
    "ratio_deviation": (1.0, 100.0),
    "tenfold_deviation": (1.0, 100.0),
    "duplicate_min_voters": (0, 10_000_000),
}
WHOLE_THRESHOLDS = {"min_peers", "duplicate_min_voters"}


def with_overrides(thresholds: Thresholds, overrides: Mapping[str, float]) -> Thresholds:
    """`thresholds` with a round's own values (names of THRESHOLD_RANGES, already checked) in place."""
    anomaly_names = {f.name for f in fields(AnomalyThresholds)}
    mine: dict[str, Any] = {name: value for name, value in overrides.items() if name not in anomaly_names}
    theirs: dict[str, Any] = {
        name: int(value) if name in WHOLE_THRESHOLDS else value
        for name, value in overrides.items()
        if name in anomaly_names
    }
    return replace(thresholds, **mine, anomalies=replace(thresholds.anomalies, **theirs))


# No polling station counts a million ballots: a larger figure is a typing or file error, and refusing it
# keeps every sum of 70,000 bureaux far inside the database's integers.
MAX_COUNT = 999_999


# A return's time is a published fact ("données arrêtées à"): it must lie in its round's night. Polls open
# the day before in the Americas' overseas territories, so the window opens at midnight UTC the day before.
# Corrections may come for days after the count; two weeks bounds them. A clerk's device clock may run a
# little fast; never more than this.
RETURNS_TAKEN_FOR = timedelta(days=14)
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class TimeWindow:
    """The times a return of a round may carry: from its polls' opening to a bounded time after its close,
    and never ahead of the server's clock by more than CLOCK_SKEW."""

    opens: datetime
    closes: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.opens <= moment <= self.closes


def round_window(day: date, polls_close: datetime | None, now: datetime) -> TimeWindow:
    opens = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=1)
    close = polls_close or datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    return TimeWindow(opens, min(close + RETURNS_TAKEN_FOR, now + CLOCK_SKEW))


def check_times(
    times: Sequence[datetime | None],
    bureaux: Sequence[str],
    lines: Sequence[int | None],
    window: TimeWindow,
    column: int | None = None,
) -> list[Issue]:
    """Times given with a return or a checkpoint lie in the round's window (a missing time is the time of
    recording, which the server's clock gives). A year-9999 time would freeze the published "as of"."""
    if not any(times):  # a ministry file gives none: nothing to look at row by row
        return []
    return [
        error(
            "time_out_of_window",
            f"{where(line, code)}reported_at {_iso(moment)} is outside this round's window: from "
            f"{_iso(window.opens)} to {_iso(window.closes)} (never later than the server's clock).",
            field="reported_at",
            line=line,
            column=column,
            bureau=code,
        )
        for moment, code, line in zip(times, bureaux, lines, strict=True)
        if moment is not None and moment not in window
    ]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@dataclass(frozen=True)
class Scope:
    """The bureaux a clerk's token may write for: those under one area, or a list (None: no limit)."""

    area: tuple[str, str] | None = None  # (level, code)
    bureaux: frozenset[str] | None = None

    def describe(self) -> str:
        if self.area is not None:
            return f"the bureaux of {self.area[0]} {self.area[1]}"
        return f"{len(self.bureaux or ())} listed bureaux"


NO_LIMIT = Scope()


def check_scope(
    batch: ReturnBatch | CheckpointBatch, rows: IntArray, registry: Registry, scope: Scope
) -> list[Issue]:
    """Every row's bureau lies within the writer's scope (rows: registry rows of located bureaux)."""
    allowed = np.ones(len(rows), bool)
    if scope.bureaux is not None:
        allowed &= np.array([code in scope.bureaux for code in batch.bureaux], bool)
    if scope.area is not None:
        level, code = scope.area
        area = registry.area_index.get((level, code), NOT_FOUND)  # of any cut: a circonscription too
        column = registry.column(level) if area != NOT_FOUND else 0
        allowed &= registry.ancestors[rows, column] == area
    return [
        error(
            "outside_scope",
            f"{where(batch.lines[i], batch.bureaux[i])}this token may write only for {scope.describe()}.",
            field="bureau",
            line=batch.lines[i],
            column=batch.columns.get("bureau"),
            bureau=batch.bureaux[i],
        )
        for i in np.flatnonzero(~allowed).tolist()
    ]


def where(line: int | None, bureau: str | None = None) -> str:
    parts = [f"line {line}" if line is not None else "", f"bureau {bureau}" if bureau else ""]
    text = ", ".join(part for part in parts if part)
    return f"{text[0].upper()}{text[1:]}: " if text else ""


def error(code: str, message: str, **place: object) -> Issue:
    return Issue(code, message, Severity.ERROR, **place)  # type: ignore[arg-type]


def check_candidate_names(
    given: Sequence[str], standing: Sequence[str], columns: dict[str, int] | None = None, line: int | None = 1
) -> list[Issue]:
    """Every candidate of the round must be present once, and nobody else."""
    issues = []
    for name in given:
        if name not in standing:
            issues.append(
                error(
                    "unknown_candidate",
                    f"{where(line)}{name!r} is not a candidate in this round "
                    f"(candidates: {', '.join(standing)}).",
                    field=name,
                    line=line,
                    column=(columns or {}).get(name),
                )
            )
    issues += [
        error("missing_candidate", f"{where(line)}no count for candidate {name!r}.", field=name, line=line)
        for name in standing
        if name not in given
    ]
    return issues


def locate_bureaux(
    bureaux: Sequence[str], lines: Sequence[int | None], registry: Registry, column: int | None = None
) -> tuple[IntArray, list[Issue]]:
    """Registry row of each bureau code; unknown, merged or repeated bureaux are errors."""
    rows = np.fromiter(map(registry.bureau_index.get, bureaux, repeat(NOT_FOUND)), np.int64, len(bureaux))
    issues: list[Issue] = []
    for position in np.flatnonzero(rows == NOT_FOUND).tolist():
        code, line = bureaux[position], lines[position]
        if TOTALS_ROW.match(code) or not code.strip():
            issues.append(
                error(
                    "totals_row",
                    f"{where(line)}this row has no bureau code ({code!r}); a totals row or a blank row "
                    "cannot be loaded. Remove it.",
                    field="bureau",
                    line=line,
                    column=column,
                )
            )
        else:
            issues.append(
                error(
                    "unknown_bureau",
                    f"{where(line, code)}no such bureau in this election.",
                    field="bureau",
                    line=line,
                    column=column,
                    bureau=code,
                )
            )
    found = rows != NOT_FOUND
    for position in np.flatnonzero(found & ~registry.counted[np.where(found, rows, 0)]).tolist():
        merged_into = registry.bureaux[rows[position]].merged_into
        issues.append(
            error(
                "merged_bureau",
                f"{where(lines[position], bureaux[position])}this bureau is merged into {merged_into}; "
                f"its ballots are counted in {merged_into}'s return.",
                field="bureau",
                line=lines[position],
                column=column,
                bureau=bureaux[position],
            )
        )
    issues += _repeats(bureaux, lines, column)
    return rows, issues


def _repeats(bureaux: Sequence[str], lines: Sequence[int | None], column: int | None) -> list[Issue]:
    if len(set(bureaux)) == len(bureaux):  # as in nearly every file: no line to name
        return []
    first_line: dict[str, int | None] = {}
    issues = []
    for code, line in zip(bureaux, lines, strict=True):
        if code in first_line:
            issues.append(
                error(
                    "duplicate_bureau",
                    f"{where(line, code)}this bureau already appears on line {first_line[code]}.",
                    field="bureau",
                    line=line,
                    column=column,
                    bureau=code,
                )
            )
        else:
            first_line[code] = line
    return issues


def check_counts(
    batch: ReturnBatch,
    rows: IntArray,
    registry: Registry,
    *,
    previous_voters: IntArray | None = None,
    checkpoint_max: IntArray | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    judged: Judged | None = None,
) -> tuple[list[Issue], Warnings]:
    """Errors and warnings of the counts of bureaux already located. `judged`: the rows compared with
    their peers (`tabulator.anomalies.check_returns`); without it, or for a row with too few peers, the
    fixed blank and null shares of `thresholds` flag instead."""
    counts, voters = batch.counts, batch.voters
    blank, null, valid = counts[:, 1], counts[:, 2], counts[:, 3]
    registered = np.where(batch.registered != UNKNOWN, batch.registered, registry.registered[rows])
    vote_sums = batch.votes.sum(axis=1)
    largest = np.maximum(counts.max(axis=1, initial=0), batch.votes.max(axis=1, initial=0))
    errors = _flag(
        batch,
        largest > MAX_COUNT,
        "count_too_large",
        "voters",
        lambda i: f"a count of {largest[i]:,} is more than a bureau can hold (at most {MAX_COUNT:,}).",
    )
    errors += _flag(
        batch,
        voters != blank + null + valid,
        "voters_mismatch",
        "voters",
        lambda i: (
            f"votants ({voters[i]}) must equal blancs + nuls + exprimés "
            f"({blank[i]} + {null[i]} + {valid[i]} = {blank[i] + null[i] + valid[i]})."
        ),
    )
    errors += _flag(
        batch,
        vote_sums != valid,
        "votes_mismatch",
        "valid",
        lambda i: f"the candidates' votes add up to {vote_sums[i]}, not to exprimés ({valid[i]}).",
    )
    # votants counts signatures on the list: it can never exceed the inscrits of the bureau.
    errors += _flag(
        batch,
        (registered != UNKNOWN) & (voters > registered),
        "voters_above_registered",
        "voters",
        lambda i: f"votants ({voters[i]}) cannot exceed inscrits ({registered[i]}).",
    )
    errors += _below_checkpoints(batch, checkpoint_max)
    return errors, _warnings(batch, previous_voters, thresholds, judged)


def _below_checkpoints(batch: ReturnBatch, checkpoint_max: IntArray | None) -> list[Issue]:
    """Votants can only grow during the day: a final count below a checkpoint's is a slip."""
    if checkpoint_max is None:
        return []
    voters = batch.voters
    return _flag(
        batch,
        voters < checkpoint_max,
        "voters_below_checkpoint",
        "voters",
        lambda i: (
            f"votants ({voters[i]}) is below the {checkpoint_max[i]} voters already reported "
            "at a turnout checkpoint of this bureau."
        ),
    )


def _warnings(
    batch: ReturnBatch, previous_voters: IntArray | None, thresholds: Thresholds, judged: Judged | None
) -> Warnings:
    voters, blank, null = batch.voters, batch.counts[:, 1], batch.counts[:, 2]
    # A fixed share fires on 99 % of a real second round (blancs 8.5 % of votants): it is kept only for
    # the returns that have no peers yet to be compared with.
    fixed = np.ones(len(batch), bool) if judged is None else ~judged.compared
    rules: list[tuple[str, str, npt.NDArray[np.bool_], Callable[[int], str]]] = [
        (
            "blank_share_high",
            "blank",
            fixed & (voters > 0) & (blank >= thresholds.blank_share * voters),
            lambda i: (
                f"blancs are {100 * blank[i] / voters[i]:.1f} % of votants "
                f"(flagged from {100 * thresholds.blank_share:g} %)."
            ),
        ),
        (
            "null_share_high",
            "null",
            fixed & (voters > 0) & (null >= thresholds.null_share * voters),
            lambda i: (
                f"nuls are {100 * null[i] / voters[i]:.1f} % of votants "
                f"(flagged from {100 * thresholds.null_share:g} %)."
            ),
        ),
        ("zero_voters", "voters", voters == 0, lambda i: "no votants at all."),
    ]
    if previous_voters is not None:
        known = (previous_voters != UNKNOWN) & (voters > 0)
        factor = thresholds.jump_factor
        rules.append(
            (
                "voters_jump",
                "voters",
                known & ((voters > factor * previous_voters) | (factor * voters < previous_voters)),
                lambda i: (
                    f"votants ({voters[i]}) against {previous_voters[i]} in the previous round: "
                    f"more than {factor:g} times more or less."
                ),
            )
        )
    issues = []
    notes: dict[int, list[dict[str, object]]] = {}
    for code, field_name, mask, explain in rules:
        issues += _flag(
            batch, mask, code, field_name, explain, severity=Severity.WARNING, limit=DESCRIBED_WARNINGS
        )
        for i in np.flatnonzero(mask).tolist():
            # A fixed rule has no measure of how unusual: it sorts after every compared finding.
            notes.setdefault(i, []).append(_note(code, field_name, explain(i), 0.0))
    flagged = {code: mask for code, _, mask, _ in rules if mask.any()}
    if judged is not None:
        _add_findings(batch, judged, flagged, issues, notes)
    return Warnings(flagged, issues, notes)


def _note(code: str, field_name: str, message: str, score: float) -> dict[str, object]:
    return {"code": code, "field": field_name, "message": message, "score": round(score, 1)}


def _add_findings(
    batch: ReturnBatch,
    judged: Judged,
    flagged: dict[str, npt.NDArray[np.bool_]],
    issues: list[Issue],
    notes: dict[int, list[dict[str, object]]],
) -> None:
    """The peers' findings as warnings, the first DESCRIBED_WARNINGS of each code described."""
    described: dict[str, int] = {}
    for position, findings in enumerate(judged.findings):
        for finding in findings:
            flagged.setdefault(finding.code, np.zeros(len(batch), bool))[position] = True
            notes.setdefault(position, []).append(
                _note(finding.code, finding.field, finding.message, finding.score)
            )
            described[finding.code] = described.get(finding.code, 0) + 1
            if described[finding.code] <= DESCRIBED_WARNINGS:
                issues.append(
                    Issue(
                        finding.code,
                        f"{where(batch.lines[position], batch.bureaux[position])}{finding.message}",
                        Severity.WARNING,
                        field=finding.field,
                        line=batch.lines[position],
                        column=batch.columns.get(finding.field),
                        bureau=batch.bureaux[position],
                    )
                )


def _flag(
    batch: ReturnBatch,
    mask: npt.NDArray[np.bool_],
    code: str,
    field: str,
    explain: object,
    *,
    severity: Severity = Severity.ERROR,
    limit: int | None = None,
) -> list[Issue]:
    assert callable(explain)
    return [
        Issue(
            code,
            f"{where(batch.lines[i], batch.bureaux[i])}{explain(i)}",
            severity,
            field=field,
            line=batch.lines[i],
            column=batch.columns.get(field),
            bureau=batch.bureaux[i],
        )
        for i in np.flatnonzero(mask)[:limit].tolist()
    ]


def check_checkpoints(
    batch: CheckpointBatch,
    known: dict[str, dict[str, int]],
    final_voters: dict[str, int],
) -> list[Issue]:
    """Checkpoints rise through the day and never pass the bureau's final votants.

    `known` holds the checkpoints already stored ({bureau: {time: voters}}), `final_voters` the votants
    of the bureaux that have already reported their return.
    """
    issues = [
        error(
            "bad_time",
            f"{where(line, code)}the checkpoint time {time!r} is not a time of day like 17:00.",
            field="time",
            line=line,
            column=batch.columns.get("time"),
            bureau=code,
        )
        for code, time, line in zip(batch.bureaux, batch.times, batch.lines, strict=True)
        if not CHECKPOINT_TIME.match(time)
    ]
    if issues:
        return issues
    merged = {code: dict(times) for code, times in known.items()}
    for code, time, voters in zip(batch.bureaux, batch.times, batch.voters, strict=True):
        merged.setdefault(code, {})[time] = int(voters)
    for position, code in enumerate(batch.bureaux):
        issues += _checkpoint_order(batch, position, merged[code], final_voters.get(code))
    return issues


def _checkpoint_order(
    batch: CheckpointBatch, position: int, day: dict[str, int], final: int | None
) -> Iterable[Issue]:
    code, time, line = batch.bureaux[position], batch.times[position], batch.lines[position]
    voters = int(batch.voters[position])
    place = {"field": "voters", "line": line, "column": batch.columns.get("voters"), "bureau": code}
    earlier = [(t, v) for t, v in day.items() if t < time and v > voters]
    later = [(t, v) for t, v in day.items() if t > time and v < voters]
    if final is not None and voters > final:
        yield error(
            "checkpoint_above_final",
            f"{where(line, code)}{voters} voters at {time} is more than the {final} votants of the "
            "bureau's return.",
            **place,
        )
    for other_time, other_voters in earlier:
        yield error(
            "checkpoint_below_earlier",
            f"{where(line, code)}{voters} voters at {time} is fewer than the {other_voters} already "
            f"counted at {other_time}; voters so far can only grow through the day.",
            **place,
        )
    for other_time, other_voters in later:
        yield error(
            "checkpoint_below_earlier",
            f"{where(line, code)}{voters} voters at {time} is more than the {other_voters} counted later, "
            f"at {other_time}; voters so far can only grow through the day.",
            **place,
        )
