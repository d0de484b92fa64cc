"""The newsroom API: read-only, cacheable, every document tied to a published sequence.

Routes parse, call the store, respond; the bytes of a sequence are rendered once per process.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any

from flask import Response, current_app
from flask_smorest import Blueprint
from sqlalchemy import Engine

from api import reference, schemas, store
from api.change_tail import ChangeTails
from api.db import reading, reading_alone
from api.http import (
    IMMUTABLE,
    NO_CACHE,
    WHOLE,
    DocumentCache,
    Rendered,
    document_key,
    not_modified_response,
    render,
    rendered_bytes,
    respond,
    sequence_etag,
)
from api.store import exports, feeds, open_view, results_of, timeline, turnout_of
from api.store.results import View

blueprint = Blueprint(
    "results",
    __name__,
    url_prefix="/api/v1",
    description="Results, turnout, the evening's timeline, snapshots and the change feed (read-only).",
)
ROUND = f"/elections/<election>/rounds/<{WHOLE}:number>"
Build = Callable[[View], Any]


def _engine() -> Engine:
    return current_app.extensions["tabulator"]["engine"]  # type: ignore[no-any-return]


def _cache() -> DocumentCache:
    return current_app.extensions["tabulator"]["cache"]  # type: ignore[no-any-return]


def _current_max_age() -> str:
    return current_app.extensions["tabulator"]["cache_control"]  # type: ignore[no-any-return]


class Embargoed(Exception):
    """Results asked for before the round's `results_not_before`: 403 with Retry-After."""

    def __init__(self, number: int, until: datetime, seconds: int) -> None:
        super().__init__(
            f"Results of round {number} are embargoed until {until.isoformat()}: no result may be published "
            "before the last polls close."
        )
        self.seconds = seconds


CURRENT_DOCUMENT = ("current",)


def refuse_during_embargo(election: str, number: int) -> None:
    """Under an embargo nothing of the round is published but its existence and `results_not_before`: not
    its results, nor its turnout or its current sequence, whose movements would tell that returns come in."""
    current_app.extensions["tabulator"]["round_changes"].check()
    embargoes = current_app.extensions["tabulator"]["embargoes"]
    now = time.monotonic()
    found = embargoes.get((election, number))
    if found is None or found[0] <= now:
        with reading(_engine()) as connection:
            until = store.round_info(connection, election, number).results_not_before
        found = (now + current_app.extensions["tabulator"]["settings"].head_cache_seconds, until)
        embargoes[(election, number)] = found
    until = found[1]
    moment = datetime.now(UTC)
    if until is not None and moment < until:
        raise Embargoed(number, until, int((until - moment).total_seconds()) + 1)


def _head(election: str, number: int) -> tuple[int, datetime | None]:
    """The round's latest sequence, trusted for `head_cache_seconds` by this worker: a cached document or a
    304 then costs no database round trip at all."""
    tabulator = current_app.extensions["tabulator"]
    heads: dict[tuple[str, int], tuple[float, int, datetime | None]] = tabulator["heads"]
    now = time.monotonic()
    found = heads.get((election, number))
    if found is None or found[0] <= now:
        with reading_alone(_engine()) as connection:
            latest, published_at = feeds.head(connection, election, number)
        found = (now + tabulator["settings"].head_cache_seconds, latest, published_at)
        heads[(election, number)] = found
    return found[1], found[2]


def _sequence_document(
    election: str,
    number: int,
    sequence: int | None,
    *,
    resource: Hashable,
    build: Build,
    schema: Any = None,
    content_type: str = "application/json",
) -> Response:
    """A document of one sequence: the latest one when `sequence` is None (short cache), else a snapshot
    (cached forever). A client that holds the latest sequence gets its 304 before anything is built.
    `build` returns a dict (dumped through `schema` as JSON) or the bytes of another format."""
    cache_control = _current_max_age() if sequence is None else IMMUTABLE
    refuse_during_embargo(election, number)

    def render_view(view: View) -> Rendered:
        document = build(view)
        etag, modified = sequence_etag(view.publication.sequence), view.publication.published_at
        if isinstance(document, bytes):
            return rendered_bytes(document, etag=etag, last_modified=modified, content_type=content_type)
        return render(document, schema, etag=etag, last_modified=modified)

    if sequence is not None:
        with reading(_engine()) as connection:
            rendered = _cache().get_or_render(
                document_key(election, number, sequence, resource),
                lambda: render_view(open_view(connection, election, number, sequence)),
            )
        return respond(rendered, cache_control)
    latest, published_at = _head(election, number)
    rendered = _cache().get(document_key(election, number, latest, resource))
    if rendered is None:
        if early := not_modified_response(sequence_etag(latest), published_at, cache_control):
            return early
        with reading(_engine()) as connection:
            # Built from the round as it is now, which may be past the sequence this worker last saw.
            view = open_view(connection, election, number)
            rendered = render_view(view)
        _cache().put(document_key(election, number, view.publication.sequence, resource), rendered)
    return respond(rendered, cache_control)


@blueprint.route("/elections")
@blueprint.response(200, schemas.ElectionListSchema)
def list_elections() -> Response:
    """The elections this service tabulates, with their rounds and candidates."""
    with reading(_engine()) as connection:
        document = {"elections": feeds.elections(connection)}
    return respond(render(document, schemas.ELECTION_LIST), _current_max_age())


@blueprint.route("/elections/<election>")
@blueprint.response(200, schemas.ElectionSchema)
def show_election(election: str) -> Response:
    """One election: its area levels, its rounds (date, status, latest sequence) and candidates."""
    with reading(_engine()) as connection:
        document = feeds.election(connection, election)
    return respond(render(document, schemas.ELECTION), _current_max_age())


@blueprint.route(ROUND)
@blueprint.response(200, schemas.RoundSchema)
def show_round(election: str, number: int) -> Response:
    """One round: date, status, latest sequence, candidates in ballot order."""
    with reading(_engine()) as connection:
        document = feeds.round_document(connection, election, number)
    return respond(render(document, schemas.ROUND), _current_max_age())


@blueprint.route(f"{ROUND}/current")
@blueprint.response(200, schemas.CurrentSchema)
def show_current(election: str, number: int) -> Response:
    """The latest sequence and its context. Tiny and never cached: poll it, then fetch what changed."""
    # Always the database's own head, never a worker's trusted copy: a poller must never see the sequence
    # go back because its next request landed on another worker. One indexed row, then the rendered
    # document of that sequence if this worker has it.
    refuse_during_embargo(election, number)
    with reading_alone(_engine()) as connection:
        latest, _ = feeds.head(connection, election, number)
    rendered = _cache().get(document_key(election, number, latest, CURRENT_DOCUMENT))
    if rendered is None:
        with reading(_engine()) as connection:
            document = feeds.current(connection, election, number)
        rendered = render(document, schemas.CURRENT, etag=sequence_etag(document["sequence"]))
        # Every change of the round, its settings included, is a new sequence: the key says it all.
        _cache().put(document_key(election, number, document["sequence"], CURRENT_DOCUMENT), rendered)
    return respond(rendered, NO_CACHE)


@blueprint.route(f"{ROUND}/results")
@blueprint.route(f"{ROUND}/results/<level>/<code>")
@blueprint.route(f"{ROUND}/snapshots/<{WHOLE}:sequence>/results")
@blueprint.route(f"{ROUND}/snapshots/<{WHOLE}:sequence>/results/<level>/<code>")
@blueprint.response(200, schemas.ResultsDocumentSchema)
def show_results(
    election: str, number: int, sequence: int | None = None, level: str | None = None, code: str | None = None
) -> Response:
    """Results of the nation or of any area or bureau, with breadcrumbs and a row per child.

    Under `snapshots/{sequence}`, the results as published then: they never change, cacheable forever."""
    return _sequence_document(
        election,
        number,
        sequence,
        resource=("results", level, code),
        build=lambda view: results_of(view, level, code),
        schema=schemas.RESULTS,
    )


@blueprint.route(f"{ROUND}/turnout")
@blueprint.route(f"{ROUND}/turnout/<level>/<code>")
@blueprint.route(f"{ROUND}/snapshots/<{WHOLE}:sequence>/turnout")
@blueprint.route(f"{ROUND}/snapshots/<{WHOLE}:sequence>/turnout/<level>/<code>")
@blueprint.response(200, schemas.TurnoutDocumentSchema)
def show_turnout(
    election: str, number: int, sequence: int | None = None, level: str | None = None, code: str | None = None
) -> Response:
    """The day's turnout checkpoints (12:00, 17:00), each like for like against the previous round at the
    same hour; under `snapshots/{sequence}`, as published then."""
    return _sequence_document(
        election,
        number,
        sequence,
        resource=("turnout", level, code),
        build=lambda view: turnout_of(view, level, code),
        schema=schemas.TURNOUT,
    )


@blueprint.route(f"{ROUND}/timeline")
@blueprint.route(f"{ROUND}/snapshots/<{WHOLE}:sequence>/timeline")
@blueprint.response(200, schemas.TimelineDocumentSchema)
def show_timeline(election: str, number: int, sequence: int | None = None) -> Response:
    """One row per published sequence: bureaux reported, votants and each candidate's share, all evening."""
    return _sequence_document(
        election,
        number,
        sequence,
        resource=("timeline",),
        build=lambda view: timeline(view.connection, view),
        schema=schemas.TIMELINE,
    )


@blueprint.route(f"{ROUND}/corrections")
@blueprint.route(f"{ROUND}/snapshots/<{WHOLE}:sequence>/corrections")
@blueprint.response(200, schemas.CorrectionsDocumentSchema)
def show_corrections(election: str, number: int, sequence: int | None = None) -> Response:
    """The round's corrections log: every correction with its time, bureau, old and new counts, and reason."""
    return _sequence_document(
        election,
        number,
        sequence,
        resource=("corrections",),
        build=feeds.corrections_of,
        schema=schemas.CORRECTIONS,
    )


@blueprint.route(f"{ROUND}/changes")
@blueprint.arguments(schemas.ChangesQuerySchema, location="query", as_kwargs=True)
@blueprint.response(200, schemas.ChangesSchema)
def list_changes(election: str, number: int, since: str, limit: int) -> Response:
    """Returns recorded or corrected after a cursor — for a correction, the counts it replaced and why.

    Keep `next` and pass it as `since`: no change is missed, none is repeated. When `truncated` is true,
    more changes wait; ask again at once.
    """
    refuse_during_embargo(election, number)
    tails: ChangeTails = current_app.extensions["tabulator"]["change_tails"]
    return respond(tails.answer(_engine(), election, number, since, limit), NO_CACHE)


def _ministry_csv(view: View) -> bytes:
    return exports.ministry_csv(view, reference.departements())


def _nist(view: View) -> dict[str, Any]:
    about = feeds.election(view.connection, view.election_code)
    return exports.nist_report(view, name=about["name"], organiser=about["organiser"])


@blueprint.route(f"{ROUND}/export.csv")
@blueprint.route(f"{ROUND}/snapshots/<{WHOLE}:sequence>/export.csv")
@blueprint.response(200, content_type="text/csv")
def export_csv(election: str, number: int, sequence: int | None = None) -> Response:
    """Every reported bureau in the Interior Ministry's per-bureau layout (UTF-8, `;`, decimal comma).

    A test round's file starts with a `# TEST DATA` line, is named `…-TEST.csv` and answers
    `X-Tabulator-Test: true`: once saved and forwarded, nothing else says it is not real."""
    response = _sequence_document(
        election, number, sequence, resource=("csv",), build=_ministry_csv, content_type="text/csv"
    )
    if response.status_code == 200:
        test = exports.is_test_export(_first_bytes(response, len(exports.TEST_MARK.encode())))
        # Codes are checked on loading; a database filled before that could still hold a quote or a `/`.
        code = re.sub(r"[^A-Za-z0-9._-]", "_", election)
        name = f"{code}-tour-{number}{'' if sequence is None else f'-sequence-{sequence}'}"
        response.headers["Content-Disposition"] = (
            f'attachment; filename="{name}{"-TEST" if test else ""}.csv"'
        )
        if test:
            response.headers["X-Tabulator-Test"] = "true"
    return response


def _first_bytes(response: Response, size: int) -> bytes:
    """The start of the document, gunzipped if the client took it gzipped: whether the round is a test
    is read from the cached bytes themselves, so a cached answer never says otherwise than its body."""
    body = response.get_data()
    if response.headers.get("Content-Encoding") == "gzip":
        return zlib.decompressobj(wbits=31).decompress(body, size)
    return body[:size]


@blueprint.route(f"{ROUND}/nist.json")
@blueprint.route(f"{ROUND}/snapshots/<{WHOLE}:sequence>/nist.json")
@blueprint.response(200, schemas.NistReportSchema)
def export_nist(election: str, number: int, sequence: int | None = None) -> Response:
    """The results as a NIST SP 1500-100 v2 ElectionReport (GpUnits for the areas, the round as a contest)."""
    return _sequence_document(election, number, sequence, resource=("nist",), build=_nist)
