"""Returns sent alone that queue together (api.store.returns.record_return): written in one transaction,
one sequence per pass, one return per bureau a pass, each refused alone, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy import Engine, text

from api import store
from api.store import db
from api.store.common import Refused
from tabulator.types import Return
from tests.builders import SAMPLE, build_return

CLERK = store.Writer("clerk")
SUPERVISOR = store.Writer("supervisor", reason="the sheet was misread")


def queued_together(
    engine: Engine, sent: list[tuple[Return, store.Writer]], *, meanwhile: str | None = None
) -> list[Future]:
    """Each return sent from a thread of its own while another write holds the shared transaction, so
    that all of them queue behind it, in the order given, and run together once it lets go. `meanwhile`:
    SQL that the holding write runs before it lets go, after the returns were judged."""
    holding, release = threading.Event(), threading.Event()

    def hold(connection) -> None:
        holding.set()
        release.wait(10)
        if meanwhile:
            connection.execute(text(meanwhile))

    with ThreadPoolExecutor(len(sent) + 1) as pool:
        first = pool.submit(db.write_together, engine, hold)
        assert holding.wait(10)
        futures = []
        for ret, writer in sent:
            futures.append(pool.submit(store.record_return, engine, SAMPLE.id, 2, ret, writer))
            while db.writes_waiting(engine) < len(futures):
                threading.Event().wait(0.01)
        release.set()
    first.result()
    return futures


def versions(engine: Engine) -> list[tuple]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text(
                    "SELECT b.code, v.version, v.sequence, v.voters, v.author FROM return_versions v "
                    "JOIN bureaux b ON b.id = v.bureau_id ORDER BY v.sequence, b.code"
                )
            )
        ]


def publications(engine: Engine) -> list[tuple]:
    with engine.connect() as connection:
        return [
            tuple(row)
            for row in connection.execute(
                text("SELECT sequence, returns_changed FROM publications ORDER BY sequence")
            )
        ]


def test_returns_that_queued_together_publish_one_sequence_and_a_refusal_stays_alone(sample_election):
    sent = [
        (build_return("75-01-0001", votes={"hamon": 250, "valls": 157}, blank=3, null=2), CLERK),
        (build_return("99-99-9999", votes={"hamon": 10, "valls": 10}), CLERK),  # no such bureau
        (build_return("75-01-0002", votes={"hamon": 120, "valls": 80}, voters=150), CLERK),  # 150 ≠ 200
        (build_return("13-01-0001", votes={"hamon": 90, "valls": 110}, blank=1), CLERK),
    ]
    futures = queued_together(sample_election, sent)
    assert [f.result().as_dict() for f in (futures[0], futures[3])] == [
        {
            "created": 1,
            "corrected": 0,
            "unchanged": 0,
            "flagged": 0,
            "held": 0,
            "waiting": 0,
            "version": 1,
            "sequence": 1,
            "warnings": [],
            "by_code": {},
        }
    ] * 2
    refused = [futures[1].exception(), futures[2].exception()]
    assert all(isinstance(exc, Refused) for exc in refused)
    assert [[(issue.code, issue.message) for issue in exc.issues] for exc in refused] == [  # type: ignore[union-attr]
        [("unknown_bureau", "Bureau 99-99-9999: no such bureau in this election.")],
        [
            (
                "voters_mismatch",
                "Bureau 75-01-0002: votants (150) must equal blancs + nuls + exprimés (0 + 0 + 200 = 200).",
            )
        ],
    ]
    assert versions(sample_election) == [
        ("13-01-0001", 1, 1, 201, "clerk"),
        ("75-01-0001", 1, 1, 412, "clerk"),
    ]
    assert publications(sample_election) == [(1, 2)]
    assert store.verify(sample_election) == []


def test_two_returns_of_one_bureau_queued_together_take_a_sequence_each(sample_election):
    sent = [
        (build_return("75-01-0001", votes={"hamon": 250, "valls": 157}), CLERK),
        (build_return("75-02-0001", votes={"hamon": 40, "valls": 60}), CLERK),
        (build_return("75-01-0001", votes={"hamon": 251, "valls": 157}), SUPERVISOR),
    ]
    futures = queued_together(sample_election, sent)
    assert [(f.result().sequence, f.result().version, f.result().corrected) for f in futures] == [
        (1, 1, 0),
        (1, 1, 0),
        (2, 2, 1),
    ]
    assert versions(sample_election) == [
        ("75-01-0001", 1, 1, 407, "clerk"),
        ("75-02-0001", 1, 1, 100, "clerk"),
        ("75-01-0001", 2, 2, 408, "supervisor"),
    ]
    assert publications(sample_election) == [(1, 2), (2, 1)]
    assert store.verify(sample_election) == []


def test_a_round_changed_after_its_returns_were_judged_takes_them_as_it_is_when_locked(sample_election):
    """The returns were judged, then queued while their round's date was moved a week on, past the time
    they give: once the round is locked, each is refused for it, and nothing is written."""
    sent = [
        (build_return("75-01-0001", votes={"hamon": 250, "valls": 157}), CLERK),
        (build_return("13-01-0001", votes={"hamon": 90, "valls": 110}), CLERK),
    ]
    later = "UPDATE rounds SET date = '2017-02-05' WHERE number = 2"
    futures = queued_together(sample_election, sent, meanwhile=later)
    window = (
        "outside this round's window: from 2017-02-04T00:00:00+00:00 to 2017-02-20T00:00:00+00:00 "
        "(never later than the server's clock)"
    )
    assert [[(i.code, i.message) for i in f.exception().issues] for f in futures] == [  # type: ignore[union-attr]
        [
            (
                "time_out_of_window",
                f"Bureau {code}: reported_at 2017-01-29T19:00:00+00:00 is {window}.",
            )
        ]
        for code in ("75-01-0001", "13-01-0001")
    ]
    assert versions(sample_election) == []
    assert publications(sample_election) == []
