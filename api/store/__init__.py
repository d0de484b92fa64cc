"""The store: the one place that speaks SQL and turns rows into tabulator's domain objects.

Writes follow one path: lock the round, read what the bureaux already reported, let the core decide
(`tabulator.plan`, `tabulator.routing`), append the new return versions, add the difference to every
ancestor area's sums, bump the round's sequence, record the publication and the audit row — all in one
transaction, so a file applies wholly or not at all.
"""

from api.store import exports, feeds
from api.store.common import (
    BadArgument,
    ElectionIndex,
    NotFound,
    RecordReport,
    Refused,
    RoundInfo,
    StaleVersion,
    candidate_codes,
    election_index,
    round_info,
    warm_indexes,
)
from api.store.elections import (
    RoundImport,
    add_rounds,
    create_election,
    election_exists,
    ensure_ministry_election,
    import_round,
    stored_round,
)
from api.store.lifecycle import update_round, wipe_test_round
from api.store.results import View, open_view
from api.store.returns import STAGES, Writer, record_checkpoints, record_return, record_returns
from api.store.verify import verify

__all__ = [
    "STAGES",
    "BadArgument",
    "ElectionIndex",
    "NotFound",
    "RecordReport",
    "Refused",
    "RoundImport",
    "RoundInfo",
    "StaleVersion",
    "View",
    "Writer",
    "add_rounds",
    "candidate_codes",
    "create_election",
    "election_exists",
    "election_index",
    "ensure_ministry_election",
    "exports",
    "feeds",
    "import_round",
    "open_view",
    "record_checkpoints",
    "record_return",
    "record_returns",
    "round_info",
    "stored_round",
    "update_round",
    "verify",
    "warm_indexes",
    "wipe_test_round",
]
