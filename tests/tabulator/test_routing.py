"""Where a clerk's changed returns go, decided without a database."""

import numpy as np

from tabulator.batch import ReturnBatch
from tabulator.routing import SECOND_PERSON_NEEDED, Entry, Sender, as_entries, route_returns
from tabulator.types import Issue, Severity
from tests.builders import SAMPLE, build_return

CANDIDATES = SAMPLE.round(2).candidate_ids
BATCH = ReturnBatch.of(
    [
        build_return("75-01-0001", votes={"hamon": 250, "valls": 157}, blank=3, null=2),
        build_return("75-01-0002", votes={"hamon": 100, "valls": 80}),
    ],
    CANDIDATES,
)
ROWS = as_entries(BATCH, np.array([11, 12]), np.array([-1, -1]), ["", "blank_unusual"], ["", "[]"])
DOUBLE_ENTRY = Sender("ana-token", "Ana", double_entry=True, hold_flagged=True)
CHANGED = np.array([True, True])


def waiting(row: Entry, entry_id: int, person: str, status: str) -> Entry:
    return Entry(entry_id, row.bureau_id, status, f"{person}-token", person, row.counts, None, row.votes, "")


def test_a_second_person_with_the_same_counts_publishes_and_a_warning_still_holds():
    pending = {
        11: [waiting(ROWS[0], 7, "Bob", "first_entry")],
        12: [waiting(ROWS[1], 8, "Bob", "first_entry")],
    }
    routing = route_returns(BATCH, ROWS, CHANGED, pending, DOUBLE_ENTRY)
    assert routing.publish.tolist() == [True, False]
    assert routing.authors == ["Bob-token & ana-token", "Bob-token & ana-token"]
    assert (routing.held, routing.waiting, routing.repeated) == (1, 0, 0)
    assert routing.new_entries == [(0, "matched"), (1, "held")]
    assert routing.decided == [(7, "matched"), (8, "matched")]


def test_the_same_person_again_is_never_the_second_entry():
    pending = {11: [waiting(ROWS[0], 7, "Ana", "first_entry")]}
    routing = route_returns(BATCH, ROWS, np.array([True, False]), pending, DOUBLE_ENTRY)
    assert (routing.publish.tolist(), routing.waiting, routing.new_entries, routing.decided) == (
        [False, False],
        1,
        [],
        [],
    )
    assert routing.notices == [
        Issue(
            SECOND_PERSON_NEEDED,
            "Bureau 75-01-0001: you have entered these counts already; double entry needs the same counts "
            "from another person, and an entry of yours, with any of your tokens, does not count as the "
            "second.",
            Severity.WARNING,
            bureau="75-01-0001",
        )
    ]
