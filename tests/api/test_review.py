"""Review of flagged returns and double entry, over HTTP on SQLite and PostgreSQL."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from api.store import accounts
from api.store.models import EntryRow, ReturnVersionRow
from api.web.http import render
from api.web.schemas import RESULTS
from tests.api.conftest import bearer
from tests.conftest import table_contents

ROUND = "/api/v1/elections/mini-primaire/rounds/2"
GOOD = {"voters": 412, "blank": 3, "null": 2, "valid": 407, "votes": {"hamon": 250, "valls": 157}}
# 20 blank of 412 voters is 4.9 %: over the 3 % threshold, so a clerk's return is held.
MANY_BLANK = {"voters": 412, "blank": 20, "null": 2, "valid": 390, "votes": {"hamon": 240, "valls": 150}}
BUREAU = f"{ROUND}/bureaux/75-01-0001/return"


class EnteredToday:
    """An `entered_at` written by the server at the time of the request: any ISO time of this century."""

    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith("20") and "T" in other


ANY_TIME = EnteredToday()


@pytest.fixture
def setup(client, engine):
    names = {"clerk": "clerk one", "clerk2": "clerk two", "supervisor": "supervisor one"}
    tokens = {
        key: bearer(accounts.create_token(engine, name, key.rstrip("2"))[1]) for key, name in names.items()
    }
    return client, tokens


@pytest.fixture
def people(engine):
    """Alice Martin holds two clerk tokens (her desk's and a tablet's); Bruno Petit holds one."""
    held = {
        "alice": ("alice desk", "Alice Martin"),
        "alice tablet": ("alice tablet", "Alice Martin"),
        "bruno": ("bruno desk", "Bruno Petit"),
    }
    return {
        key: bearer(accounts.create_token(engine, name, "clerk", person=person)[1])
        for key, (name, person) in held.items()
    }


def unchanged_except_audit(engine):
    """Every table but the audit's: a write that changes nothing is still audited."""
    return {name: rows for name, rows in table_contents(engine).items() if not name.startswith("audit")}


def report(
    *,
    created=0,
    unchanged=0,
    flagged=0,
    held=0,
    waiting=0,
    sequence=None,
    version=0,
    warnings=(),
    by_code=None,
):
    return {
        "created": created,
        "corrected": 0,
        "unchanged": unchanged,
        "flagged": flagged,
        "held": held,
        "waiting": waiting,
        "sequence": sequence,
        "version": version,
        "warnings": list(warnings),
        "by_code": by_code or {},
    }


BLANK_WARNING = {
    "code": "blank_share_high",
    "message": "Bureau 75-01-0001: blancs are 4.9 % of votants (flagged from 3 %).",
    "bureau": "75-01-0001",
    "field": "blank",
}
# The report's count of it: one return, and the bureau named first.
BLANK_BY_CODE = {"blank_share_high": {"count": 1, "first": ["75-01-0001"]}}
# The same warning as kept with the entry: its sentence without the bureau, and no score (a fixed share).
BLANK_NOTE = {
    "code": "blank_share_high",
    "field": "blank",
    "message": "blancs are 4.9 % of votants (flagged from 3 %).",
    "score": 0.0,
}


def entry(
    id_,
    author,
    counts,
    status,
    *,
    warnings=(),
    notes=(),
    unusual=0.0,
    published=None,
    person=None,
    bureau="75-01-0001",
):
    return {
        "id": id_,
        "bureau": bureau,
        "status": status,
        "author": author,
        "person": person or author,  # a token that names nobody stands for its own person
        **{key: counts[key] for key in ("voters", "blank", "null", "valid", "votes")},
        "registered": None,
        "warnings": list(warnings),
        "warning_notes": list(notes),
        "unusual": unusual,
        "reported_at": None,
        "entered_at": ANY_TIME,
        "published": published,
    }


def second_person_needed(done: str, line: int | None = None) -> dict:
    where = f"Line {line}, bureau 75-01-0001: " if line else "Bureau 75-01-0001: "
    return {
        "code": "second_person_needed",
        "message": f"{where}{done}; double entry needs the same counts from another person, and an entry "
        "of yours, with any of your tokens, does not count as the second.",
        "bureau": "75-01-0001",
        **({"line": line} if line else {}),
    }


def waiting(client, tokens) -> list[dict]:
    return client.get(f"{ROUND}/review", headers=tokens["supervisor"]).get_json()["entries"]


def authors(engine) -> list[tuple[str, int, str]]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                select(ReturnVersionRow.author, ReturnVersionRow.version, ReturnVersionRow.warnings).order_by(
                    ReturnVersionRow.sequence
                )
            )
        ]


def entry_statuses(engine) -> list[tuple[int, str, str, str | None, int | None]]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                select(
                    EntryRow.id, EntryRow.author, EntryRow.status, EntryRow.decided_by, EntryRow.sequence
                ).order_by(EntryRow.id)
            )
        ]


def test_a_flagged_return_is_held_until_a_supervisor_accepts_it(setup, engine):
    client, tokens = setup
    national = client.get(f"{ROUND}/results").get_json()
    held = client.put(BUREAU, json=MANY_BLANK, headers=tokens["clerk"])
    assert (held.status_code, held.get_json()) == (
        202,
        report(flagged=1, held=1, warnings=[BLANK_WARNING], by_code=BLANK_BY_CODE),
    )
    assert client.get(f"{ROUND}/results").get_json() == national  # nothing of it reaches the public
    again = client.put(BUREAU, json=MANY_BLANK, headers=tokens["clerk"])
    assert again.get_json() == report(unchanged=1, flagged=1, warnings=[BLANK_WARNING], by_code=BLANK_BY_CODE)

    assert client.get(f"{ROUND}/review", headers=tokens["clerk"]).status_code == 403
    listing = client.get(f"{ROUND}/review", headers=tokens["supervisor"]).get_json()
    assert {**listing, "entries": waiting(client, tokens)} == {
        "election": "mini-primaire",
        "round": 2,
        "flagged_returns": "hold",
        "double_entry": False,
        "by_code": {"blank_share_high": 1},
        "entries": [
            entry(1, "clerk one", MANY_BLANK, "held", warnings=["blank_share_high"], notes=[BLANK_NOTE])
        ],
    }
    assert (
        client.post(f"{ROUND}/review/1", json={"decision": "accept"}, headers=tokens["clerk"]).status_code
        == 403
    )
    accepted = client.post(
        f"{ROUND}/review/1",
        json={"decision": "accept", "reason": "blank ballots counted twice"},
        headers=tokens["supervisor"],
    )
    assert (accepted.status_code, accepted.get_json()) == (
        201,
        report(created=1, flagged=1, sequence=1, version=1, warnings=[BLANK_WARNING], by_code=BLANK_BY_CODE),
    )
    assert client.get(f"{ROUND}/results").get_json()["bureaux_reported"] == 1
    assert authors(engine) == [("clerk one, accepted by supervisor one", 1, "blank_share_high")]
    assert waiting(client, tokens) == []
    twice = client.post(f"{ROUND}/review/1", json={"decision": "reject"}, headers=tokens["supervisor"])
    assert (twice.status_code, twice.get_json()["errors"][0]["message"]) == (
        409,
        "Entry 1 (bureau 75-01-0001) is accepted: it waits for no decision.",
    )
    assert entry_statuses(engine) == [(1, "clerk one", "accepted", "supervisor one", 1)]


def test_a_rejected_return_is_never_published_and_a_clerk_may_enter_it_again(setup, engine):
    client, tokens = setup
    national = client.get(f"{ROUND}/results").get_json()
    client.put(BUREAU, json=MANY_BLANK, headers=tokens["clerk"])
    rejected = client.post(
        f"{ROUND}/review/1",
        json={"decision": "reject", "reason": "misread form"},
        headers=tokens["supervisor"],
    )
    assert (rejected.status_code, rejected.get_json()) == (200, report(version=None))
    assert client.get(f"{ROUND}/results").get_json() == national
    assert client.get(f"{ROUND}/current").get_json()["sequence"] == 0
    redone = client.put(BUREAU, json=GOOD, headers=tokens["clerk"])
    assert (redone.status_code, redone.get_json()) == (201, report(created=1, sequence=1, version=1))
    assert entry_statuses(engine) == [(1, "clerk one", "rejected", "supervisor one", None)]


def test_a_clerk_who_enters_a_bureau_again_replaces_their_held_entry(setup, engine):
    client, tokens = setup
    client.put(BUREAU, json=MANY_BLANK, headers=tokens["clerk"])
    fixed = client.put(BUREAU, json=GOOD, headers=tokens["clerk"])
    assert (fixed.status_code, fixed.get_json()) == (201, report(created=1, sequence=1, version=1))
    assert entry_statuses(engine) == [(1, "clerk one", "superseded", "clerk one", None)]
    assert waiting(client, tokens) == []


def test_a_round_may_publish_flagged_returns_with_their_flag(setup, engine):
    client, tokens = setup
    changed = client.patch(ROUND, json={"flagged_returns": "publish"}, headers=tokens["supervisor"])
    assert (changed.status_code, changed.get_json()["flagged_returns"]) == (200, "publish")
    published = client.put(BUREAU, json=MANY_BLANK, headers=tokens["clerk"])
    assert (published.status_code, published.get_json()) == (
        201,
        report(created=1, flagged=1, sequence=2, version=1, warnings=[BLANK_WARNING], by_code=BLANK_BY_CODE),
    )
    served = client.get(f"{ROUND}/results/bureau/75-01-0001", headers={"Accept-Encoding": "identity"})
    bureau = served.get_json()
    assert [(v["version"], v["warnings"], v["warning_notes"]) for v in bureau["versions"]] == [
        (1, ["blank_share_high"], [BLANK_NOTE])
    ]
    # Served without the schema's dump (api.web.public), it is the dump byte for byte, warnings included.
    assert render(RESULTS.dump(bureau), None).body == served.data
    changes = client.get(f"{ROUND}/changes", query_string={"since": "0"}).get_json()["changes"]
    assert [(c["bureau"], c["version"], c["warnings"]) for c in changes] == [
        ("75-01-0001", 1, ["blank_share_high"])
    ]
    assert entry_statuses(engine) == []


def test_a_supervisor_return_with_a_warning_is_published_at_once(setup, engine):
    client, tokens = setup
    published = client.put(BUREAU, json=MANY_BLANK, headers=tokens["supervisor"])
    assert (published.status_code, published.get_json()["sequence"]) == (201, 1)
    assert entry_statuses(engine) == []


def test_double_entry_publishes_when_two_clerks_agree(setup, engine):
    client, tokens = setup
    client.patch(ROUND, json={"double_entry": True}, headers=tokens["supervisor"])
    first = client.put(BUREAU, json=GOOD, headers=tokens["clerk"])
    assert (first.status_code, first.get_json()) == (202, report(waiting=1))
    same_clerk = client.put(BUREAU, json=GOOD, headers=tokens["clerk"])
    assert (same_clerk.status_code, same_clerk.get_json()) == (
        202,
        report(waiting=1, warnings=[second_person_needed("you have entered these counts already")]),
    )
    assert client.get(f"{ROUND}/results").get_json()["bureaux_reported"] == 0
    assert waiting(client, tokens) == [entry(1, "clerk one", GOOD, "first_entry")]
    second = client.put(BUREAU, json=GOOD, headers=tokens["clerk2"])
    assert (second.status_code, second.get_json()) == (201, report(created=1, sequence=2, version=1))
    assert client.get(f"{ROUND}/results").get_json()["bureaux_reported"] == 1
    assert authors(engine) == [("clerk one & clerk two", 1, "")]
    assert entry_statuses(engine) == [
        (1, "clerk one", "matched", "clerk two", 2),
        (2, "clerk two", "matched", None, 2),
    ]
    third = client.put(BUREAU, json=GOOD, headers=tokens["clerk"])
    assert third.get_json() == report(unchanged=1, version=1)


def test_double_entry_mismatch_waits_for_a_supervisor_who_decides(setup, engine):
    client, tokens = setup
    client.patch(ROUND, json={"double_entry": True}, headers=tokens["supervisor"])
    client.put(BUREAU, json=GOOD, headers=tokens["clerk"])
    other = {**GOOD, "valid": 407, "votes": {"hamon": 205, "valls": 202}}
    mismatch = client.put(BUREAU, json=other, headers=tokens["clerk2"])
    assert (mismatch.status_code, mismatch.get_json()) == (202, report(held=1))
    assert client.get(f"{ROUND}/results").get_json()["bureaux_reported"] == 0
    assert waiting(client, tokens) == [
        entry(1, "clerk one", GOOD, "mismatch"),
        entry(2, "clerk two", other, "mismatch"),
    ]
    accepted = client.post(f"{ROUND}/review/1", json={"decision": "accept"}, headers=tokens["supervisor"])
    assert (accepted.status_code, accepted.get_json()) == (201, report(created=1, sequence=2, version=1))
    assert client.get(f"{ROUND}/results").get_json()["results"]["candidates"][0]["votes"] == 250
    assert entry_statuses(engine) == [
        (1, "clerk one", "accepted", "supervisor one", 2),
        (2, "clerk two", "superseded", "supervisor one", None),
    ]
    assert waiting(client, tokens) == []


def test_two_clerks_who_agree_on_a_flagged_return_still_wait_for_review(setup, engine):
    client, tokens = setup
    client.patch(ROUND, json={"double_entry": True}, headers=tokens["supervisor"])
    client.put(BUREAU, json=MANY_BLANK, headers=tokens["clerk"])
    second = client.put(BUREAU, json=MANY_BLANK, headers=tokens["clerk2"])
    assert (second.status_code, second.get_json()) == (
        202,
        report(flagged=1, held=1, warnings=[BLANK_WARNING], by_code=BLANK_BY_CODE),
    )
    assert waiting(client, tokens) == [
        entry(2, "clerk two", MANY_BLANK, "held", warnings=["blank_share_high"], notes=[BLANK_NOTE])
    ]
    assert entry_statuses(engine) == [
        (1, "clerk one", "matched", "clerk two", None),
        (2, "clerk two", "held", None, None),
    ]


def test_accepting_an_entry_over_a_published_return_is_a_correction_with_a_reason(setup, engine):
    client, tokens = setup
    client.put(BUREAU, json=MANY_BLANK, headers=tokens["clerk"])
    client.put(BUREAU, json=GOOD, headers=tokens["clerk2"])
    published = {"version": 1, **{key: GOOD[key] for key in ("voters", "blank", "null", "valid", "votes")}}
    assert waiting(client, tokens) == [
        entry(
            1,
            "clerk one",
            MANY_BLANK,
            "held",
            warnings=["blank_share_high"],
            notes=[BLANK_NOTE],
            published=published,
        )
    ]
    before = client.get(f"{ROUND}/results").get_json()
    no_reason = client.post(f"{ROUND}/review/1", json={"decision": "accept"}, headers=tokens["supervisor"])
    assert (no_reason.status_code, [e["code"] for e in no_reason.get_json()["errors"]]) == (
        422,
        ["reason_required"],
    )
    assert client.get(f"{ROUND}/results").get_json() == before
    assert entry_statuses(engine)[0][2] == "held"
    corrected = client.post(
        f"{ROUND}/review/1",
        json={"decision": "accept", "reason": "form re-read"},
        headers=tokens["supervisor"],
    )
    assert (corrected.status_code, corrected.get_json()) == (
        200,
        {
            **report(flagged=1, sequence=2, version=2, warnings=[BLANK_WARNING], by_code=BLANK_BY_CODE),
            "corrected": 1,
        },
    )
    assert authors(engine) == [
        ("clerk two", 1, ""),
        ("clerk one, accepted by supervisor one", 2, "blank_share_high"),
    ]


def entry_people(engine) -> list[tuple[int, str, str, str, str | None, int | None]]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                select(
                    EntryRow.id,
                    EntryRow.author,
                    EntryRow.person,
                    EntryRow.status,
                    EntryRow.decided_by,
                    EntryRow.sequence,
                ).order_by(EntryRow.id)
            )
        ]


def test_double_entry_needs_two_people_not_two_tokens(setup, people, engine):
    client, tokens = setup
    client.patch(ROUND, json={"double_entry": True}, headers=tokens["supervisor"])
    first = client.put(BUREAU, json=GOOD, headers=people["alice"])
    assert (first.status_code, first.get_json()) == (202, report(waiting=1))
    before = unchanged_except_audit(engine)
    same_person = client.put(BUREAU, json=GOOD, headers=people["alice tablet"])
    assert (same_person.status_code, same_person.get_json()) == (
        202,
        report(waiting=1, warnings=[second_person_needed("you have entered these counts already")]),
    )
    assert unchanged_except_audit(engine) == before
    assert waiting(client, tokens) == [entry(1, "alice desk", GOOD, "first_entry", person="Alice Martin")]

    other = {**GOOD, "votes": {"hamon": 251, "valls": 156}}
    replaced = client.put(BUREAU, json=other, headers=people["alice tablet"])
    assert (replaced.status_code, replaced.get_json()) == (
        202,
        report(waiting=1, warnings=[second_person_needed("these counts replace your earlier entry")]),
    )
    assert waiting(client, tokens) == [entry(2, "alice tablet", other, "first_entry", person="Alice Martin")]
    assert client.get(f"{ROUND}/results").get_json()["bureaux_reported"] == 0

    second = client.put(BUREAU, json=other, headers=people["bruno"])
    assert (second.status_code, second.get_json()) == (201, report(created=1, sequence=2, version=1))
    assert client.get(f"{ROUND}/results").get_json()["results"]["candidates"][0]["votes"] == 251
    assert authors(engine) == [("alice tablet & bruno desk", 1, "")]
    assert entry_people(engine) == [
        (1, "alice desk", "Alice Martin", "superseded", "alice tablet", None),
        (2, "alice tablet", "Alice Martin", "matched", "bruno desk", 2),
        (3, "bruno desk", "Bruno Petit", "matched", None, 2),
    ]


def test_a_file_sent_again_by_its_clerk_from_another_token_still_waits_for_another_person(
    setup, people, engine
):
    client, tokens = setup
    client.patch(ROUND, json={"double_entry": True}, headers=tokens["supervisor"])
    returns = b"bureau,voters,blank,null,valid,hamon,valls\n75-01-0001,412,3,2,407,250,157\n"

    def upload(headers):
        sent = {"file": (io.BytesIO(returns), "returns.csv")}
        return client.post(f"{ROUND}/uploads", data=sent, headers=headers)

    first = upload(people["alice"])
    assert (first.status_code, first.get_json()) == (202, report(waiting=1))
    before = unchanged_except_audit(engine)
    again = upload(people["alice tablet"])
    assert (again.status_code, again.get_json()) == (
        202,
        report(waiting=1, warnings=[second_person_needed("you have entered these counts already", line=2)]),
    )
    assert unchanged_except_audit(engine) == before
    second = upload(people["bruno"])
    assert (second.status_code, second.get_json()) == (201, report(created=1, sequence=2, version=1))
    assert entry_people(engine) == [
        (1, "alice desk", "Alice Martin", "matched", "bruno desk", 2),
        (2, "bruno desk", "Bruno Petit", "matched", None, 2),
    ]


def test_two_people_who_disagree_are_held_even_when_one_of_them_sends_again(setup, people, engine):
    client, tokens = setup
    client.patch(ROUND, json={"double_entry": True}, headers=tokens["supervisor"])
    client.put(BUREAU, json=GOOD, headers=people["alice"])
    other = {**GOOD, "votes": {"hamon": 205, "valls": 202}}
    disputed = client.put(BUREAU, json=other, headers=people["bruno"])
    assert (disputed.status_code, disputed.get_json()) == (202, report(held=1))
    before = unchanged_except_audit(engine)
    again = client.put(BUREAU, json=GOOD, headers=people["alice tablet"])
    assert (again.status_code, again.get_json()) == (200, report(unchanged=1))
    assert unchanged_except_audit(engine) == before
    assert waiting(client, tokens) == [
        entry(1, "alice desk", GOOD, "mismatch", person="Alice Martin"),
        entry(2, "bruno desk", other, "mismatch", person="Bruno Petit"),
    ]


MANY_NULL = {"voters": 412, "blank": 3, "null": 20, "valid": 389, "votes": {"hamon": 240, "valls": 149}}
MANY_BOTH = {"voters": 412, "blank": 20, "null": 20, "valid": 372, "votes": {"hamon": 200, "valls": 172}}
NULL_NOTE = {
    "code": "null_share_high",
    "field": "null",
    "message": "nuls are 4.9 % of votants (flagged from 3 %).",
    "score": 0.0,
}


def test_the_review_lists_only_the_entries_of_one_warning_and_counts_every_code(setup):
    client, tokens = setup
    for bureau, counts in [("75-01-0001", MANY_BLANK), ("75-01-0002", MANY_NULL), ("75-02-0001", MANY_BOTH)]:
        held = client.put(f"{ROUND}/bureaux/{bureau}/return", json=counts, headers=tokens["clerk"])
        assert (held.status_code, held.get_json()["held"]) == (202, 1)
    listing = client.get(
        f"{ROUND}/review", query_string={"warning": "blank_share_high"}, headers=tokens["supervisor"]
    ).get_json()
    assert listing == {
        "election": "mini-primaire",
        "round": 2,
        "flagged_returns": "hold",
        "double_entry": False,
        # Every waiting entry is counted, whatever the filter: the null-only entry of 75-01-0002 too.
        "by_code": {"blank_share_high": 2, "null_share_high": 2},
        "entries": [
            entry(1, "clerk one", MANY_BLANK, "held", warnings=["blank_share_high"], notes=[BLANK_NOTE]),
            entry(
                3,
                "clerk one",
                MANY_BOTH,
                "held",
                warnings=["blank_share_high", "null_share_high"],
                notes=[BLANK_NOTE, NULL_NOTE],
                bureau="75-02-0001",
            ),
        ],
    }


SAME_AS_PUBLISHED = {
    "code": "same_as_other_bureau",
    "field": "voters",
    "message": "every count is identical to bureau 75-01-0001's return of this round: the same sheet typed "
    "twice, or under the wrong bureau's code?",
    "score": 100.0,
}


def test_the_most_unusual_entry_comes_first_when_asked(setup):
    """A fixed-share warning scores 0; a sheet identical to a neighbour's published one scores 100, the
    highest there is: entered second, it is listed first by `?order=unusual`."""
    client, tokens = setup
    client.put(BUREAU, json=GOOD, headers=tokens["supervisor"])  # published at once
    for bureau, counts in [("75-01-0002", MANY_BLANK), ("75-02-0001", GOOD)]:
        held = client.put(f"{ROUND}/bureaux/{bureau}/return", json=counts, headers=tokens["clerk"])
        assert (held.status_code, held.get_json()["held"]) == (202, 1)
    blank = entry(
        1,
        "clerk one",
        MANY_BLANK,
        "held",
        warnings=["blank_share_high"],
        notes=[BLANK_NOTE],
        bureau="75-01-0002",
    )
    copied = entry(
        2,
        "clerk one",
        GOOD,
        "held",
        warnings=["same_as_other_bureau"],
        notes=[SAME_AS_PUBLISHED],
        unusual=100.0,
        bureau="75-02-0001",
    )

    def listed(order: str) -> dict:
        return client.get(
            f"{ROUND}/review", query_string={"order": order}, headers=tokens["supervisor"]
        ).get_json()

    by_arrival, by_score = listed("arrival"), listed("unusual")
    assert (by_arrival["entries"], by_arrival["by_code"]) == (
        [blank, copied],
        {"blank_share_high": 1, "same_as_other_bureau": 1},
    )
    assert by_score == {**by_arrival, "entries": [copied, blank]}


def bad_argument(field: str, message: str) -> dict:
    return {"errors": [{"code": "bad_argument", "field": field, "message": message}]}


def test_a_review_order_or_warning_it_does_not_know_is_refused_and_changes_nothing(setup, engine):
    client, tokens = setup
    client.put(BUREAU, json=MANY_BLANK, headers=tokens["clerk"])
    before = table_contents(engine)
    sideways = client.get(f"{ROUND}/review?order=sideways", headers=tokens["supervisor"])
    dropped = client.get(f"{ROUND}/review?warning=DROP%20TABLE", headers=tokens["supervisor"])
    assert [(sideways.status_code, sideways.get_json()), (dropped.status_code, dropped.get_json())] == [
        (400, bad_argument("order", "order: Must be one of: arrival, unusual.")),
        (400, bad_argument("warning", "warning: must be a warning code, like blank_null_swapped.")),
    ]
    assert table_contents(engine) == before
    assert waiting(client, tokens) == [
        entry(1, "clerk one", MANY_BLANK, "held", warnings=["blank_share_high"], notes=[BLANK_NOTE])
    ]
