"""Examples for the OpenAPI document: round 2 of the 2017 left primary on election night.

The figures are made up but consistent: percentages and leaders come from `tabulator.metrics.summarize`,
the CSV examples from `api.web.csv_views`, so an example never disagrees with what the service computes.
The API tests validate every example against its schema with the OpenAPI validator's own tools.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from api.web import csv_views
from tabulator.aggregation import row_of
from tabulator.metrics import area_rows, change, percent, summarize
from tabulator.types import Candidate, Tally

ELECTION = "primaire-gauche-2017"
CANDIDATES = (Candidate("hamon", "Benoît Hamon", 1), Candidate("valls", "Manuel Valls", 2))
IDS = [c.id for c in CANDIDATES]
SEQUENCE = 412
AS_OF = "2017-01-29T20:41:52+00:00"
PUBLISHED_AT = "2017-01-29T20:41:53.204118+00:00"
CONTEXT = {
    "election": ELECTION,
    "round": 2,
    "sequence": SEQUENCE,
    "as_of": AS_OF,
    "published_at": PUBLISHED_AT,
    "bureaux_reported": 6_510,
    "bureaux_total": 7_208,
    "status": "partial",
    "test": False,
}


def _tally(
    reported: int, blank: int, null: int, hamon: int, valls: int, *, matched: tuple[int, int, int] = (0, 0, 0)
) -> Tally:
    return Tally(
        reported,
        blank + null + hamon + valls,
        blank,
        null,
        hamon + valls,
        {"hamon": hamon, "valls": valls},
        matched_bureaux=matched[0],
        matched_voters=matched[1],
        matched_previous_voters=matched[2],
    )


def _row(tally: Tally, total: int) -> dict[str, Any]:
    """An area's row among others, as the documents shape it."""
    (row,) = area_rows(np.array([row_of(tally)], np.int64), CANDIDATES, np.array([total], np.int64))
    return row


def _child(level: str, code: str, name: str, total: int, tally: Tally) -> dict[str, Any]:
    return {"level": level, "code": code, "name": name, **_row(tally, total)}


ILE = _tally(1_187, 1_702, 1_133, 241_880, 156_402)
AURA = _tally(840, 1_210, 845, 132_417, 95_110)
NATION = _tally(6_510, 9_102, 6_310, 1_095_142, 770_858, matched=(6_498, 1_879_004, 1_601_322))
RESULTS = {
    **CONTEXT,
    "area": {"level": "national", "code": "FR", "name": "France"},
    "parents": [],
    "results": summarize(
        NATION,
        CANDIDATES,
        bureaux_total=7_208,
        previous=Tally(7_208, 1_601_322 + 60_114, 0, 0, 0, {}),
    ),
    "children": [
        _child("region", "11", "Île-de-France", 1_304, ILE),
        _child("region", "84", "Auvergne-Rhône-Alpes", 911, AURA),
    ],
}

# The régions' feed, as a map of the primary reads it (…/results/region).
LEVEL = {
    **CONTEXT,
    "level": "region",
    "within": None,
    "parent_levels": ["national"],
    "areas": [
        {
            "code": "11",
            "name": "Île-de-France",
            "parents": {"national": "FR"},
            **_row(ILE, 1_304),
        },
        {
            "code": "84",
            "name": "Auvergne-Rhône-Alpes",
            "parents": {"national": "FR"},
            **_row(AURA, 911),
        },
    ],
}

TURNOUT = {
    **CONTEXT,
    "area": {"level": "departement", "code": "75", "name": "Paris"},
    "area_bureaux_total": 196,
    "checkpoints": [
        {
            "time": time,
            "bureaux_reported": reported,
            "voters": voters,
            "like_for_like": {
                "matched_bureaux": matched,
                "voters": now,
                "previous_voters": before,
                "change_pct": change(now, before),
            },
        }
        for time, reported, voters, matched, now, before in [
            ("12:00", 190, 31_804, 187, 31_402, 27_915),
            ("17:00", 194, 88_512, 193, 88_107, 80_230),
        ]
    ],
}


def _timeline_row(sequence: int, as_of: str, published_at: str, tally: Tally) -> dict[str, Any]:
    return {
        "sequence": sequence,
        "as_of": as_of,
        "published_at": published_at,
        "bureaux_reported": tally.bureaux_reported,
        "voters": tally.voters,
        "blank": tally.blank,
        "null": tally.null,
        "valid": tally.valid,
        "candidates": [
            {"id": cid, "votes": tally.votes[cid], "pct_valid": percent(tally.votes[cid], tally.valid)}
            for cid in IDS
        ],
    }


TIMELINE = {
    **CONTEXT,
    "timeline": [
        _timeline_row(
            1,
            "2017-01-29T18:02:11+00:00",
            "2017-01-29T18:02:12.018331+00:00",
            _tally(1, 2, 1, 212, 148),
        ),
        _timeline_row(
            2,
            "2017-01-29T18:02:40+00:00",
            "2017-01-29T18:02:41.550207+00:00",
            _tally(3, 5, 2, 601, 470),
        ),
    ],
}

_BEFORE = {"voters": 512, "blank": 4, "null": 3, "valid": 505, "votes": {"hamon": 291, "valls": 214}}
CORRECTION = {
    "bureau": "75-03-0012",
    "name": "Bureau 12 — 3e circonscription de Paris",
    "kind": "corrected",
    "version": 2,
    "sequence": 398,
    "reported_at": "2017-01-29T20:30:00+00:00",
    "recorded_at": "2017-01-29T20:31:07.441020+00:00",
    "counts": {"voters": 512, "blank": 4, "null": 3, "valid": 505, "votes": {"hamon": 301, "valls": 204}},
    "previous": _BEFORE,
    "reason": "Procès-verbal re-read: 10 ballots counted for the wrong candidate",
    "warnings": [],
}
CORRECTIONS = {**CONTEXT, "corrections": [CORRECTION]}

CURRENT = {**CONTEXT, "results_not_before": "2017-01-29T18:00:00+00:00"}

CHANGES = {
    "election": ELECTION,
    "round": 2,
    "since": "397",
    "next": "412",
    "truncated": False,
    "current_sequence": SEQUENCE,
    "changes": [
        CORRECTION,
        {
            "bureau": "2A-01-0004",
            "name": "Bureau 4 — 1re circonscription de Corse-du-Sud",
            "kind": "recorded",
            "version": 1,
            "sequence": 412,
            "reported_at": "2017-01-29T20:41:52+00:00",
            "recorded_at": "2017-01-29T20:41:53.198012+00:00",
            "counts": {"voters": 88, "blank": 1, "null": 0, "valid": 87, "votes": {"hamon": 49, "valls": 38}},
            "previous": None,
            "reason": None,
            "warnings": [],
        },
    ],
}

RETURN_INPUT = {
    "voters": 412,
    "blank": 3,
    "null": 2,
    "valid": 407,
    "votes": {"hamon": 250, "valls": 157},
    "reported_at": "2017-01-29T18:42:00+00:00",
}
WRITE_REPORT = {
    "created": 1,
    "corrected": 0,
    "unchanged": 0,
    "flagged": 0,
    "held": 0,
    "waiting": 0,
    "sequence": 413,
    "version": 1,
    "warnings": [],
    "by_code": {},
}

PROJECTION = {
    **CONTEXT,
    "area": {"level": "national", "code": "FR", "name": "France"},
    "estimate": True,
    "method": "An estimate, not a count: … docs/projection.md.",
    "projection": {
        "interval": 0.9,
        "bureaux_counted": 6_510,
        "bureaux_total": 7_208,
        "voters": {"value": 2_053_977, "low": 2_046_112, "high": 2_061_842},
        "candidates": [
            {
                "id": "hamon",
                "name": "Benoît Hamon",
                "pct_valid": 58.71,
                "pct_valid_low": 58.52,
                "pct_valid_high": 58.9,
            },
            {
                "id": "valls",
                "name": "Manuel Valls",
                "pct_valid": 41.29,
                "pct_valid_low": 41.1,
                "pct_valid_high": 41.48,
            },
        ],
        "leader": "hamon",
        "leader_stays_ahead": 1.0,
    },
    "reason": None,
}

PROJECTION_TIMELINE = {
    **CONTEXT,
    "estimate": True,
    "method": PROJECTION["method"],
    "timeline": [
        {
            "sequence": SEQUENCE,
            "as_of": AS_OF,
            "published_at": PUBLISHED_AT,
            "projection": PROJECTION["projection"],
        }
    ],
}

CSV = {
    "results": csv_views.results_csv(RESULTS).decode(),
    "level": csv_views.level_csv(LEVEL, IDS).decode(),
    "turnout": csv_views.turnout_csv(TURNOUT).decode(),
    "timeline": csv_views.timeline_csv(TIMELINE, IDS).decode(),
    "corrections": csv_views.corrections_csv(CORRECTIONS, IDS).decode(),
    "projection": csv_views.projection_csv(PROJECTION).decode(),
    "projection_timeline": csv_views.projection_timeline_csv(PROJECTION_TIMELINE).decode(),
}


def errors(code: str, message: str, **more: Any) -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, **more}]}
