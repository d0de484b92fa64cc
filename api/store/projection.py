"""What the projection (`tabulator.projection`) is fed, as of a view's sequence: every bureau of the round,
counted or not, with what was known of it before it reported.

- counted: a return published up to the sequence; its counts and votes;
- when it first reported (the sequence of its first version), for the calibration's order;
- its size: the register's inscrits, else its return's, else its votants in the previous round, else the
  median of those known;
- covariates: the previous round's shares of exprimés and turnout (where the register says inscrits),
  and each of the day's turnout checkpoints per unit of size (NaN where unknown);
- its département (or the level under the top where the election has none), as the model's group.
"""

from __future__ import annotations

import numpy as np

from api.store.common import per_bureau, round_by_id, stored_returns
from api.store.results import View, every_bureau_sums
from api.store.sql import Raw
from tabulator.aggregation import RESULT_FIELDS
from tabulator.batch import UNKNOWN
from tabulator.projection import Bureaux, FloatArray, IntArray

GROUP_LEVEL = "departement"
VOTERS, VALID = RESULT_FIELDS.index("voters"), RESULT_FIELDS.index("valid")


def model_inputs(view: View) -> Bureaux:
    sums = every_bureau_sums(view)
    counted = sums[:, RESULT_FIELDS.index("bureaux_reported")] > 0
    previous_counts, previous_votes, previous_registered = _previous_round(view)
    size = _size(view, sums, previous_counts[:, 0])
    return Bureaux(
        counted=counted,
        report_order=_first_sequences(view),
        size=size,
        voters=sums[:, VOTERS].astype(np.float64),
        valid=sums[:, VALID].astype(np.float64),
        votes=sums[:, len(RESULT_FIELDS) :].astype(np.float64),
        covariates=np.column_stack(
            [
                *_shares(previous_votes, previous_counts[:, 3]),
                _ratio(previous_counts[:, 0], previous_registered),
                *(_ratio(_checkpoint(view, time), size) for time in sorted(view.checkpoints)),
            ]
        )
        if len(size)
        else np.zeros((0, 0)),
        group=_groups(view),
    )


def _previous_round(view: View) -> tuple[IntArray, IntArray, IntArray]:
    """Counts (votants, blancs, nuls, exprimés), votes and inscrits of each bureau in the previous round, as
    of the sequence this one compares with; UNKNOWN (counts) and zeros (votes) where there is none."""
    bureau_ids = view.index.bureau_ids
    none = np.full((len(bureau_ids), 4), UNKNOWN, np.int64)
    if view.round_.previous_round_id is None:
        return none, np.zeros((len(bureau_ids), 0), np.int64), none[:, 0]
    previous = round_by_id(view.connection, view.round_.previous_round_id, lock=False)
    stored = stored_returns(
        Raw(view.connection), previous, bureau_ids, up_to_sequence=view.publication.previous_sequence or 0
    )
    counts = np.where(stored.exists[:, None], stored.counts, UNKNOWN)
    return counts, stored.votes, np.where(stored.exists, stored.registered, UNKNOWN)


def _size(view: View, sums: IntArray, previous_voters: IntArray) -> FloatArray:
    register = _register(view)
    has_registered = sums[:, RESULT_FIELDS.index("bureaux_with_registered")] > 0
    returned = np.where(has_registered, sums[:, RESULT_FIELDS.index("registered")], UNKNOWN)
    size = np.where(register > 0, register, np.where(returned > 0, returned, previous_voters)).astype(
        np.float64
    )
    known = size > 0
    return np.where(known, size, float(np.median(size[known])) if known.any() else 1.0)


def _register(view: View) -> IntArray:
    """Each bureau's inscrits in the register, a merged bureau's counted with the one that absorbs it (whose
    return holds its votes); UNKNOWN where the register has none."""
    registry = view.index.registry
    register = registry.registered.copy()
    for row in np.flatnonzero(~registry.counted).tolist():  # the merged bureaux: a few hundred at most
        into = registry.bureau_index[registry.bureaux[row].merged_into or ""]
        if register[row] > 0 and register[into] > 0:
            register[into] += register[row]
    return register


def _first_sequences(view: View) -> FloatArray:
    """The sequence that first published each bureau's return (UNKNOWN where none has)."""
    rows = Raw(view.connection).rows(
        "SELECT bureau_id, min(sequence) FROM return_versions WHERE round_id = ? AND sequence <= ? "
        "GROUP BY bureau_id",
        (view.round_.id, view.publication.sequence),
    )
    return per_bureau(view.index.bureau_ids, rows).astype(np.float64)


def _shares(votes: IntArray, valid: IntArray) -> list[FloatArray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        return list((votes / np.where(valid > 0, valid, np.nan)[:, None]).T)


def _ratio(part: IntArray | FloatArray, whole: IntArray | FloatArray) -> FloatArray:
    part, whole = np.asarray(part, np.float64), np.asarray(whole, np.float64)
    known = (part >= 0) & (whole > 0)
    return np.where(known, part / np.where(known, whole, 1.0), np.nan)


def _checkpoint(view: View, time: str) -> FloatArray:
    """Each bureau's votants at a checkpoint time (UNKNOWN where it reported none)."""
    return per_bureau(view.index.bureau_ids, list(view.checkpoints[time].items())).astype(np.float64)


def _groups(view: View) -> IntArray:
    """Each bureau's département, numbered 0 … n - 1."""
    registry = view.index.registry
    levels = registry.levels
    level = GROUP_LEVEL if GROUP_LEVEL in registry.columns else levels[min(1, len(levels) - 1)]
    _, group = np.unique(registry.ancestors[:, registry.column(level)], return_inverse=True)
    return group.astype(np.int64)
