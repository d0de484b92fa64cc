"""The projection document: an area's estimated final figures, as of one sequence, beside — never inside —
the counted ones. Made by `tabulator.projection` from every bureau of the round (`api.store.projection`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from api.documents.results import BUREAU, area_of, context, iso
from api.store.common import NotFound, RoundInfo
from api.store.projection import model_inputs
from api.store.results import PublishedFigures, View, open_view, published_figures
from tabulator.projection import MIN_COUNTED, AreaProjection, Estimate, Projection, project

METHOD = (
    "An estimate, not a count: a mixed model of the counted bureaux (previous round, size, département, the "
    "day's turnout) predicts those still waiting; 90 % intervals. docs/projection.md."
)


def refuse_projection_when_off(round_: RoundInfo) -> None:
    if round_.projection == "off":
        raise NotFound(f"Round {round_.number} has no projection: its setting is off.")


def projection_model(view: View) -> Projection | None:
    """The round's model as of the view's sequence (None while too few bureaux are counted)."""
    return project(model_inputs(view))


def projection_of(
    view: View,
    level: str | None = None,
    code: str | None = None,
    model: Callable[[View], Projection | None] = projection_model,
) -> dict[str, Any]:
    """The projection of the nation or of an area above the bureaux, with the document's context.
    `model`: how to get the round's fitted model (a worker keeps it: `api.web.projections`)."""
    refuse_projection_when_off(view.round_)
    if level == BUREAU:
        raise NotFound("A bureau has no projection: once counted, its count is its result.")
    registry = view.index.registry
    position = view.position(level, code)
    area = registry.areas[position]
    document = {**context(view), "area": area_of(area), "estimate": True, "method": METHOD}
    fitted = model(view)
    if fitted is None:
        return {**document, "projection": None, "reason": f"Fewer than {MIN_COUNTED} bureaux counted."}
    members = np.flatnonzero(registry.ancestors[:, registry.column(area.level)] == position)
    found = fitted.area(members[registry.counted[members]])  # merged bureaux never report
    if found is None:
        return {**document, "projection": None, "reason": "No exprimés in this area, counted or expected."}
    return {**document, "projection": _projection(found, view), "reason": None}


# The evening's band: the nation's estimate each time another 5 % of the bureaux is counted, and now.
TIMELINE_STEP = 0.05


def projection_timeline(
    view: View, national: Callable[[View, int], dict[str, Any] | None] | None = None
) -> dict[str, Any]:
    """The nation's estimate over the evening, up to the view's sequence: a point at the first publication
    with each further 5 % of the bureaux counted (from the first with enough to estimate), and one at the
    view's own. Each point is the nation's `…/snapshots/{sequence}/projection` of that publication.
    `national`: how to get a point (a worker keeps them: `api.web.projections`)."""
    refuse_projection_when_off(view.round_)
    point = national or national_projection
    rows = []
    for figures in _timeline_points(published_figures(view), view.bureaux_total):
        found = point(view, figures.sequence)
        if found is not None:
            rows.append(
                {
                    "sequence": figures.sequence,
                    "as_of": iso(figures.as_of),
                    "published_at": iso(figures.published_at),
                    "projection": found,
                }
            )
    return {**context(view), "estimate": True, "method": METHOD, "timeline": rows}


def _timeline_points(published: list[PublishedFigures], bureaux_total: int) -> list[PublishedFigures]:
    step = max(bureaux_total * TIMELINE_STEP, 1.0)
    points: list[PublishedFigures] = []
    reached = 0
    for figures in published:
        if figures.bureaux_reported < MIN_COUNTED or figures.as_of is None:
            continue
        if figures.bureaux_reported >= (reached + 1) * step or not points:
            points.append(figures)
            reached = int(figures.bureaux_reported // step)
    if published and points and points[-1] is not published[-1] and published[-1].as_of is not None:
        points.append(published[-1])
    return points


def national_projection(
    view: View, sequence: int, model: Callable[[View], Projection | None] = projection_model
) -> dict[str, Any] | None:
    """The nation's projection as of one of the view's publications (None while there is none)."""
    at = view
    if sequence != view.publication.sequence:
        round_ = view.round_
        at = open_view(view.connection, view.election_code, round_.number, sequence, known_round=round_)
    document = projection_of(at, model=model)
    projection: dict[str, Any] | None = document["projection"]
    return projection


def _projection(found: AreaProjection, view: View) -> dict[str, Any]:
    candidates = view.round_.candidates
    return {
        "interval": 0.9,
        "bureaux_counted": found.counted_bureaux,
        "bureaux_total": found.bureaux,
        "voters": {key: round(getattr(found.voters, key)) for key in ("value", "low", "high")},
        "candidates": [
            {"id": candidate.id, "name": candidate.name, **_percentages(estimate)}
            for candidate, estimate in zip(candidates, found.shares, strict=True)
        ],
        "leader": candidates[found.leader].id,
        "leader_stays_ahead": None
        if found.leader_stays_ahead is None
        else round(found.leader_stays_ahead, 3),
    }


def _percentages(estimate: Estimate) -> dict[str, float]:
    """Of exprimés, in percent to two decimals, like the counted figures."""
    return {
        "pct_valid": round(estimate.value * 100, 2),
        "pct_valid_low": round(estimate.low * 100, 2),
        "pct_valid_high": round(estimate.high * 100, 2),
    }
