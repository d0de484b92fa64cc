"""The documents the service publishes, shaped from the store's facts: between `api.store`, which reads,
and `api.web` (and the command line, the static files), which serve. The dicts returned are what
`api.web.schemas` dump; nothing here knows HTTP.

The embargo (`embargo`), a published figure's status (`api.store.results.View.status`) and an area's
leader (`tabulator.metrics.leader`) are each decided in one place, which every document uses.
"""

from api.documents.embargo import Embargo, Embargoed, embargo_of, embargo_until, refuse_during_embargo
from api.documents.feeds import (
    change_item,
    changes,
    changes_page,
    corrections_of,
    current_of,
    election,
    elections,
    round_document,
)
from api.documents.levels import feed_rows, level_feed, level_results
from api.documents.projection import (
    national_projection,
    projection_model,
    projection_of,
    projection_timeline,
    refuse_projection_when_off,
)
from api.documents.results import (
    BUREAU,
    Children,
    EveryChildRow,
    bureau_results,
    children_rows,
    context,
    every_child_row,
    listed_bureaux,
    results_document,
    results_of,
    results_parts,
    timeline,
    timeline_document,
    turnout_document,
    turnout_of,
)

__all__ = [
    "BUREAU",
    "Children",
    "Embargo",
    "Embargoed",
    "EveryChildRow",
    "bureau_results",
    "change_item",
    "changes",
    "changes_page",
    "children_rows",
    "context",
    "corrections_of",
    "current_of",
    "election",
    "elections",
    "embargo_of",
    "embargo_until",
    "every_child_row",
    "feed_rows",
    "level_feed",
    "level_results",
    "listed_bureaux",
    "national_projection",
    "projection_model",
    "projection_of",
    "projection_timeline",
    "refuse_during_embargo",
    "refuse_projection_when_off",
    "results_document",
    "results_of",
    "results_parts",
    "round_document",
    "timeline",
    "timeline_document",
    "turnout_document",
    "turnout_of",
]
