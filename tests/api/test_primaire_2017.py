"""The shipped 2017 left primary, loaded into SQLite and PostgreSQL, measured against what was announced."""

from __future__ import annotations

import csv
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from api import documents, reference, store
from api.cli import main
from tabulator.ingest import read_checkpoints_csv, read_returns_csv
from tabulator.ministry import read_ministry
from tests.matchers import ANY_TIME

ELECTION = "primaire-gauche-2017"
FOLDER = Path(__file__).resolve().parents[2] / "data" / ELECTION
ROUND_2 = ("hamon", "valls")
SEVEN = ("montebourg", "rugy", "peillon", "hamon", "bennahmias", "pinel", "valls")


def tabulator(database_url: str, *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env={"TABULATOR_DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    return result.output


def at(clock: str) -> datetime:
    return datetime.fromisoformat(f"2017-01-29T{clock}:00+01:00")


def national(engine, round_number: int) -> dict:
    return documents.results_document(engine, ELECTION, round_number)["results"]


def test_round_1_totals_are_the_published_ones(engine, database_url):
    tabulator(database_url, "load-election", str(FOLDER), "--rounds", "1")
    results = national(engine, 1)
    assert {
        "bureaux": (results["bureaux_reported"], results["bureaux_total"]),
        "votants": results["voters"],
        "blancs": results["blank"],
        "nuls": results["null"],
        "exprimés": results["valid"],
        **{c["id"]: c["votes"] for c in results["candidates"]},
    } == {
        "bureaux": (7_208, 7_208),
        "votants": 1_655_919,
        "blancs": 11_766,
        "nuls": 10_114,
        "exprimés": 1_634_039,
        "montebourg": 290_070,
        "rugy": 63_430,
        "peillon": 112_718,
        "hamon": 596_647,
        "bennahmias": 16_869,
        "pinel": 33_067,
        "valls": 521_238,
    }
    # The announced round-1 percentages were shares of votants (REFERENCE §1).
    assert [c["pct_voters"] for c in results["candidates"]] == [17.52, 3.83, 6.81, 36.03, 1.02, 2.0, 31.48]


def replay_round_2(engine, cuts: list[str]):
    """Record round 2's returns and corrections in time order, stopping at each cut to read the figures."""
    returns = read_returns_csv((FOLDER / "round-2" / "returns.csv").read_bytes(), ROUND_2)
    corrections = read_returns_csv(
        (FOLDER / "round-2" / "corrections.csv").read_bytes(), ROUND_2, with_reason=True
    )
    done = datetime.min.replace(tzinfo=at("00:00").tzinfo)
    for cut in [*(at(clock) for clock in cuts), None]:
        for batch in (returns, corrections):
            window = [
                i
                for i, moment in enumerate(batch.reported_at)
                if done < moment and (cut is None or moment <= cut)
            ]
            if window:
                store.record_returns(engine, ELECTION, 2, batch.select(np.array(window)), author="replay")
        yield national(engine, 2)
        done = cut


def test_replaying_round_2_gives_what_was_announced_on_the_night(engine, database_url):
    tabulator(database_url, "load-election", str(FOLDER), "--rounds", "1")
    checkpoints = read_checkpoints_csv((FOLDER / "round-2" / "turnout.csv").read_bytes())
    store.record_checkpoints(engine, ELECTION, 2, checkpoints, author="replay")
    pct = lambda results: tuple(c["pct_valid"] for c in results["candidates"])  # noqa: E731
    at_2030, at_2117, at_2142, at_2219, end = replay_round_2(engine, ["20:30", "21:17", "21:42", "22:19"])
    assert (
        at_2030["bureaux_reported"],
        at_2030["voters"],
        at_2030["blank"],
        at_2030["null"],
        pct(at_2030),
    ) == (4_322, 1_101_180, 9_910, 7_902, (58.65, 41.35))
    assert at_2030["candidates"][0]["votes"] == 635_395
    assert [pct(at_2117), pct(at_2142), pct(at_2219), pct(end)] == [
        (58.88, 41.12),
        (58.89, 41.11),
        (58.88, 41.12),
        (58.88, 41.12),
    ]
    assert (end["bureaux_reported"], end["voters"]) == (7_208, 2_055_737)
    turnout = documents.turnout_document(engine, ELECTION, 2)["checkpoints"]
    assert turnout[1] == {
        "time": "17:00",
        "bureaux_reported": 5_406,
        "voters": 1_306_852,
        "like_for_like": {
            "matched_bureaux": 5_032,
            "voters": 1_212_800,
            "previous_voters": 987_622,
            "change_pct": 22.8,
        },
    }
    assert round(5_406 / 7_208 * 100) == 75
    assert tabulator(database_url, "verify").startswith("verify: every aggregate equals")


def test_every_published_sequence_can_be_read_again_unchanged(engine, database_url):
    """A snapshot rebuilt from the return versions equals what was served as current at that sequence."""
    tabulator(database_url, "load-election", str(FOLDER), "--rounds", "1")
    checkpoints = read_checkpoints_csv((FOLDER / "round-2" / "turnout.csv").read_bytes())
    store.record_checkpoints(engine, ELECTION, 2, checkpoints, author="replay")
    served = {}
    for _ in replay_round_2(engine, ["20:30", "21:17", "21:42", "22:19"]):
        current = documents.results_document(engine, ELECTION, 2, "departement", "91")
        served[current["sequence"]] = (
            current,
            documents.results_document(engine, ELECTION, 2),
            documents.turnout_document(engine, ELECTION, 2, "region", "11"),
            documents.timeline_document(engine, ELECTION, 2),
        )
    # A late correction in round 1 moves round 2's comparison base: round 2 gets a new sequence.
    correction = read_returns_csv((FOLDER / "round-1" / "returns.csv").read_bytes(), SEVEN)
    first = correction.select([0])
    first.counts[0, 1] += 1
    first.counts[0, 0] += 1
    store.record_returns(engine, ELECTION, 1, first, author="clerk", reason="one blank ballot found")
    assert documents.results_document(engine, ELECTION, 2)["sequence"] == max(served) + 1
    assert sorted(served) == [2, 3, 4, 6, 7]  # 17:00 checkpoints were sequence 1; 22:19 took two writes
    for sequence, served_then in served.items():
        assert (
            documents.results_document(engine, ELECTION, 2, "departement", "91", sequence=sequence),
            documents.results_document(engine, ELECTION, 2, sequence=sequence),
            documents.turnout_document(engine, ELECTION, 2, "region", "11", sequence=sequence),
            documents.timeline_document(engine, ELECTION, 2, sequence=sequence),
        ) == served_then


def test_the_ministry_export_reads_back(engine, database_url, make_app):
    tabulator(database_url, "load-election", str(FOLDER))
    client = make_app(head_cache_seconds=0).test_client()
    for sequence in (2, 3):  # the returns, then the evening's two corrections
        path = f"/api/v1/elections/{ELECTION}/rounds/2/snapshots/{sequence}"
        exported = read_ministry(client.get(f"{path}/export.csv").data, reference.departements())
        results = client.get(f"{path}/results").get_json()["results"]
        read_back = exported.batch
        assert (
            len(read_back),
            *read_back.counts.sum(axis=0).tolist(),
            *read_back.votes.sum(axis=0).tolist(),
        ) == (
            results["bureaux_reported"],
            results["voters"],
            results["blank"],
            results["null"],
            results["valid"],
            *[c["votes"] for c in results["candidates"]],
        )
        assert [(c.name, c.ballot_order) for c in exported.candidates] == [
            ("Benoît Hamon", 1),
            ("Manuel Valls", 2),
        ]


def test_the_national_page_at_2030_is_what_was_announced(engine, database_url, make_app):
    """The whole national document at the sequence that closed 20:30, over HTTP, as a newsroom reads it."""
    tabulator(database_url, "load-election", str(FOLDER), "--rounds", "1")
    checkpoints = read_checkpoints_csv((FOLDER / "round-2" / "turnout.csv").read_bytes())
    store.record_checkpoints(engine, ELECTION, 2, checkpoints, author="replay")
    next(replay_round_2(engine, ["20:30"]))
    client = make_app(head_cache_seconds=0).test_client()
    sequence = client.get(f"/api/v1/elections/{ELECTION}/rounds/2/current").get_json()["sequence"]
    document = client.get(f"/api/v1/elections/{ELECTION}/rounds/2/snapshots/{sequence}/results").get_json()
    reported = {
        row["bureau"]
        for row in csv_rows("round-2/returns.csv")
        if row["reported_at"] <= "2017-01-29T20:30:00+01:00"
    }
    round_1_voters = sum(
        int(row["voters"]) for row in csv_rows("round-1/returns.csv") if row["bureau"] in reported
    )
    assert document == {
        "election": ELECTION,
        "round": 2,
        "sequence": 2,
        "as_of": "2017-01-29T19:29:51+00:00",
        "published_at": ANY_TIME,
        "bureaux_reported": 4_322,
        "bureaux_total": 7_208,
        "status": "partial",
        "test": False,
        "area": {"level": "national", "code": "FR", "name": "France"},
        "parents": [],
        "results": {
            "bureaux_reported": 4_322,
            "bureaux_total": 7_208,
            "bureaux_reported_pct": 59.96,
            "registered": None,
            "abstentions": None,
            "abstentions_pct_registered": None,
            "turnout_pct_registered": None,
            "voters": 1_101_180,
            "blank": 9_910,
            "blank_pct_voters": 0.9,
            "null": 7_902,
            "null_pct_voters": 0.72,
            "valid": 1_083_368,
            "valid_pct_voters": 98.38,
            "candidates": [
                {
                    "id": "hamon",
                    "name": "Benoît Hamon",
                    "ballot_order": 1,
                    "votes": 635_395,
                    "pct_valid": 58.65,
                    "pct_voters": 57.7,
                    "pct_registered": None,
                },
                {
                    "id": "valls",
                    "name": "Manuel Valls",
                    "ballot_order": 2,
                    "votes": 447_973,
                    "pct_valid": 41.35,
                    "pct_voters": 40.68,
                    "pct_registered": None,
                },
            ],
            "leader": "hamon",
            "voters_change": {
                "all_bureaux": {"voters": 1_101_180, "previous_voters": 1_655_919, "change_pct": -33.5},
                "like_for_like": {
                    "matched_bureaux": 4_322,
                    "voters": 1_101_180,
                    "previous_voters": round_1_voters,
                    "change_pct": percent_change(1_101_180, round_1_voters),
                },
            },
        },
        "children": document["children"],
    }
    assert [(c["code"], c["bureaux_reported"], c["voters"]) for c in document["children"]] == by_region(
        reported
    )


def by_region(reported: set[str]) -> list[tuple[str, int, int]]:
    """Each région's bureaux reported and votants, summed from the shipped files alone."""
    parent = {row["code"]: row["parent_code"] for row in csv_rows("areas.csv") if row["level"] != "national"}
    area_of = {row["code"]: row["area_code"] for row in csv_rows("bureaux.csv")}
    regions = [row["code"] for row in csv_rows("areas.csv") if row["level"] == "region"]
    sums = {code: [0, 0] for code in regions}
    for row in csv_rows("round-2/returns.csv"):
        if row["bureau"] in reported:
            region = parent[parent[area_of[row["bureau"]]]]
            sums[region][0] += 1
            sums[region][1] += int(row["voters"])
    return [(code, *sums[code]) for code in regions]


def csv_rows(relative: str) -> list[dict[str, str]]:
    with (FOLDER / relative).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def percent_change(current: int, previous: int) -> float:
    return float(
        (Decimal(current - previous) * 100 / Decimal(previous)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    )


def test_the_replay_command_plays_the_night_and_refuses_a_round_already_reported(engine, database_url):
    tabulator(database_url, "load-election", str(FOLDER), "--rounds", "1")
    replay = ["replay", "--folder", str(FOLDER), "--round", "2", "--speed", "1000000"]
    to_2030 = tabulator(database_url, *replay, "--until", "20:30")
    results = national(engine, 2)
    assert (results["bureaux_reported"], results["voters"], results["candidates"][0]["pct_valid"]) == (
        4_322,
        1_101_180,
        58.65,
    )
    assert to_2030.endswith(
        "11,696 turnout checkpoints, 4,322 returns, 0 corrections; "
        f"now at sequence {documents.results_document(engine, ELECTION, 2)['sequence']}.\n"
    )
    refused = CliRunner().invoke(main, replay, env={"TABULATOR_DATABASE_URL": database_url})
    assert (refused.exit_code, refused.output.splitlines()[-1]) == (
        1,
        "Error: Round 2 of primaire-gauche-2017 already has 4,322 returns: replay into a round without any "
        "(load the election with --rounds 1).",
    )
