"""The store: the one place that speaks SQL and turns rows into tabulator's domain objects.

Writes follow one path: lock the round, read what the bureaux already reported, judge the batch with
`tabulator.rules`, append new return versions, add the difference to every ancestor area's sums, bump
the round's sequence and record the publication — all in one transaction, so a file applies wholly or
not at all.
"""

from api.store.common import (
    ElectionIndex,
    NotFound,
    RecordReport,
    Refused,
    RoundInfo,
    election_index,
    forget_indexes,
    round_info,
)
from api.store.elections import add_rounds, create_election, election_exists, ensure_ministry_election
from api.store.results import results_document, timeline, turnout_document
from api.store.returns import STAGES, record_checkpoints, record_returns
from api.store.verify import verify

__all__ = [
    "STAGES",
    "ElectionIndex",
    "NotFound",
    "RecordReport",
    "Refused",
    "RoundInfo",
    "add_rounds",
    "create_election",
    "election_exists",
    "election_index",
    "ensure_ministry_election",
    "forget_indexes",
    "record_checkpoints",
    "record_returns",
    "results_document",
    "round_info",
    "timeline",
    "turnout_document",
    "verify",
]
