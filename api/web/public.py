"""The newsroom API: read-only, cacheable, every document tied to a published sequence.

Routes parse, call the store, respond; the bytes of a sequence are rendered once per process.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Response, request
from sqlalchemy import Connection, Engine

from api import documents, reference, store
from api.store import exports, feeds, open_view
from api.store.common import RoundInfo
from api.store.db import reading, reading_alone
from api.store.results import View
from api.web import csv_views, examples, openapi, schemas
from api.web.http import (
    CSV,
    IMMUTABLE,
    NEGOTIATED,
    NO_CACHE,
    VARY,
    WHOLE,
    DocumentCache,
    Rendered,
    document_key,
    not_modified_response,
    render,
    rendered_bytes,
    respond,
    sequence_etag,
    wants_csv,
)
from api.web.state import app_state, round_key

blueprint = openapi.Blueprint(
    "results",
    __name__,
    url_prefix="/api/v1",
    description="Results, turnout, the evening's timeline, snapshots and the change feed (read-only).",
)
ROUND = f"/elections/<election>/rounds/<{WHOLE}:number>"
Build = Callable[[View], Any]
# A document's CSV form, from the document's dict and the view it was read from (for the round's candidates).
ToCsv = Callable[[dict[str, Any], View], bytes]


def _engine() -> Engine:
    return app_state().engine


def _cache() -> DocumentCache:
    return app_state().documents


def _current_max_age() -> str:
    return app_state().cache_control


CURRENT_DOCUMENT = ("current",)


def refuse_during_embargo(election: str, number: int, round_: RoundInfo | None = None) -> None:
    """Under an embargo nothing of the round is published but its existence and `results_not_before`: not
    its results, nor its turnout or its current sequence, whose movements would tell that returns come in.
    `round_`: the round just read for a view (the one read of the round a document costs), which decides;
    without it, what this worker trusts of the round, or one read."""
    state = app_state()
    state.round_changes.check()
    embargoes = state.embargoes
    now = time.monotonic()
    found = embargoes.get(round_key(election, number))
    if round_ is not None or found is None or found[0] <= now:
        if round_ is None:
            with reading(_engine()) as connection:
                round_ = store.round_info(connection, election, number)
        found = (now + state.settings.head_cache_seconds, round_.results_not_before)
        embargoes[round_key(election, number)] = found
    documents.refuse_during_embargo(number, found[1], datetime.now(UTC))


def _published_view(connection: Connection, election: str, number: int, sequence: int | None = None) -> View:
    """The round as of a sequence (default: the latest), its embargo decided on the one read of the round
    the view is built from, before a sequence it lacks could answer 404 and tell how far it has gone."""
    round_ = store.round_info(connection, election, number)
    refuse_during_embargo(election, number, round_)
    return open_view(connection, election, number, sequence, known_round=round_)


def _head(election: str, number: int) -> tuple[int, datetime | None]:
    """The round's latest sequence, trusted for `head_cache_seconds` by this worker: a cached document or a
    304 then costs no database round trip at all."""
    heads = app_state().heads
    found = heads.trusted(election, number)
    if found is None:
        with reading_alone(_engine()) as connection:
            latest, published_at = feeds.head(connection, election, number)
        found = heads.put(election, number, latest, published_at)
    return found.sequence, found.published_at


@dataclass(frozen=True)
class _Document:
    """One document of a round, as any of its sequences renders it."""

    election: str
    number: int
    resource: tuple[Hashable, ...]
    build: Build
    schema: Any = None
    content_type: str = "application/json"
    as_csv: ToCsv | None = None  # the CSV form: cached apart, under its own ETag

    @property
    def variant(self) -> str:
        return "" if self.as_csv is None else "-csv"

    def key(self, sequence: int) -> Hashable:
        return document_key(
            self.election, self.number, sequence, self.resource, as_csv=self.as_csv is not None
        )

    def render(self, view: View) -> Rendered:
        document = self.build(view)
        etag, modified = sequence_etag(view.publication.sequence, self.variant), view.publication.published_at
        if self.as_csv is not None:
            document = self.as_csv(document, view)
            return rendered_bytes(document, etag=etag, last_modified=modified, content_type=CSV)
        if isinstance(document, bytes):
            return rendered_bytes(document, etag=etag, last_modified=modified, content_type=self.content_type)
        return render(document, self.schema, etag=etag, last_modified=modified)


def _sequence_document(
    election: str,
    number: int,
    sequence: int | None,
    *,
    resource: tuple[Hashable, ...],
    build: Build,
    schema: Any = None,
    content_type: str = "application/json",
    as_csv: ToCsv | None = None,
    vary: str = VARY,
    withdrawable: bool = False,
) -> Response:
    """A document of one sequence: the latest one when `sequence` is None (short cache), else a snapshot
    (cached forever, unless `withdrawable`: a setting of the round may take it back, so a cache keeps it
    no longer than the latest). A client that holds the latest sequence gets its 304 before anything is
    built.
    `build` returns a dict (dumped through `schema` as JSON, or written by `as_csv` as CSV, cached apart
    under its own ETag) or the bytes of another format."""
    cache_control = _current_max_age() if sequence is None or withdrawable else IMMUTABLE
    wanted_document = _Document(election, number, resource, build, schema, content_type, as_csv)
    wanted, published_at = (sequence, None) if sequence is not None else _head(election, number)
    rendered = _cache().get(wanted_document.key(wanted))
    if rendered is None and sequence is None:  # a client that holds the latest gets its 304, nothing built
        etag = sequence_etag(wanted, wanted_document.variant)
        early = not_modified_response(etag, published_at, cache_control, vary=vary)
        if early is not None:
            refuse_during_embargo(election, number)  # as this worker trusts it, or one read of the round
            return early
    if rendered is None:
        rendered, embargo_decided = _built(wanted_document, sequence, wanted)
        if embargo_decided:
            return respond(rendered, cache_control, vary=vary)
    refuse_during_embargo(election, number)
    return respond(rendered, cache_control, vary=vary)


def _built(document: _Document, sequence: int | None, wanted: int) -> tuple[Rendered, bool]:
    """The document of sequence `wanted`, rendered and cached, and whether the embargo was decided in the
    read that built it (not when another thread built it meanwhile). One build per document in a worker:
    the threads that ask for it meanwhile wait for that one (64 pollers of the 36,000-commune feed must
    not render it 8 times over on a new sequence)."""
    with _cache().building(document.key(wanted)):
        cached = _cache().get(document.key(wanted))
        if cached is not None:
            return cached, False
        with reading(_engine()) as connection:
            # The latest is built from the round as it is now, which may be past the sequence this worker
            # saw; the embargo is decided in that read.
            view = _published_view(connection, document.election, document.number, sequence)
            rendered = document.render(view)
        _cache().put(document.key(view.publication.sequence), rendered)
        return rendered, True


def cold_results(election: str, number: int, head: int, level: str | None, code: str | None) -> Rendered:
    """An area's latest results document (JSON), built: what `api.web.fastpath` asks, inside the app's
    context but outside a request, for an area nobody asked for since the sequence `head` this worker
    trusts (a crawler's, a reader drilling down). Raises as the route would (404, the embargo, the
    database away), and the route then answers it."""
    results = _Document(
        election,
        number,
        ("results", level, code),
        lambda view: app_state().feed_rows.results_body(view, level, code),
    )
    rendered, embargo_decided = _built(results, None, head)
    if not embargo_decided:
        refuse_during_embargo(election, number)
    return rendered


def _negotiated(as_csv: ToCsv) -> dict[str, Any]:
    """On a document's JSON path: its CSV form when the client's Accept prefers text/csv; either way the
    answer varies with Accept."""
    return {"as_csv": as_csv if wants_csv(request.environ) else None, "vary": NEGOTIATED}


def _results_csv(document: dict[str, Any], view: View) -> bytes:
    return csv_views.results_csv(document)


def _turnout_csv(document: dict[str, Any], view: View) -> bytes:
    return csv_views.turnout_csv(document)


def _timeline_csv(document: dict[str, Any], view: View) -> bytes:
    return csv_views.timeline_csv(document, view.round_.candidate_codes)


def _projection_csv(document: dict[str, Any], view: View) -> bytes:
    return csv_views.projection_csv(document)


def _projection_timeline_csv(document: dict[str, Any], view: View) -> bytes:
    return csv_views.projection_timeline_csv(document)


def _corrections_csv(document: dict[str, Any], view: View) -> bytes:
    return csv_views.corrections_csv(document, view.round_.candidate_codes)


@blueprint.route("/elections")
@blueprint.response(200, schemas.ElectionListSchema, headers=openapi.CACHED)
@blueprint.answers("NotModified")
def list_elections() -> Response:
    """The elections this service tabulates.

    Each with its area levels, its rounds (date, status, latest sequence) and their candidates in ballot
    order: where a poller finds the election id and round numbers of every other path."""
    with reading(_engine()) as connection:
        document = {"elections": documents.elections(connection)}
    return respond(render(document, schemas.ELECTION_LIST), _current_max_age())


@blueprint.route("/elections/<election>")
@blueprint.response(200, schemas.ElectionSchema, headers=openapi.CACHED)
@blueprint.answers("NotModified", "NotFound")
def show_election(election: str) -> Response:
    """One election.

    Its name and organiser, its area levels top down (bureaux below the last), its rounds (date, status,
    latest sequence) and their candidates."""
    with reading(_engine()) as connection:
        document = documents.election(connection, election)
    return respond(render(document, schemas.ELECTION), _current_max_age())


@blueprint.route(ROUND)
@blueprint.response(200, schemas.RoundSchema, headers=openapi.CACHED)
@blueprint.answers("NotModified", "NotFound")
def show_round(election: str, number: int) -> Response:
    """One round.

    Its date, status, embargo (`results_not_before`), how clerks' returns are reviewed, its latest
    sequence (null under an embargo) and its candidates in ballot order."""
    with reading(_engine()) as connection:
        document = documents.round_document(connection, election, number)
    return respond(render(document, schemas.ROUND), _current_max_age())


@blueprint.route(f"{ROUND}/current")
@blueprint.response(200, schemas.CurrentSchema, headers=openapi.CACHED, example=examples.CURRENT)
@blueprint.answers("NotModified", "Embargoed", "NotFound")
def show_current(election: str, number: int) -> Response:
    """The latest sequence and its context: poll it, then fetch what changed.

    A few hundred bytes, never cached (`Cache-Control: no-cache`), always the database's own latest
    sequence: it never goes back. When `sequence` has moved since your last look, fetch the documents you
    show; or send its `ETag` as `If-None-Match` and get a 304 while nothing changed."""
    # Always the database's own head, never a worker's trusted copy: a poller must never see the sequence
    # go back because its next request landed on another worker. One indexed row, then the rendered
    # document of that sequence if this worker has it (the embargo as it trusts it, or one read of the round).
    with reading_alone(_engine()) as connection:
        latest, _ = feeds.head(connection, election, number)
    rendered = _cache().get(document_key(election, number, latest, CURRENT_DOCUMENT))
    if rendered is not None:
        refuse_during_embargo(election, number)
    else:
        with reading(_engine()) as connection:
            document = documents.current_of(_published_view(connection, election, number))
        rendered = render(document, schemas.CURRENT, etag=sequence_etag(document["sequence"]))
        # Every change of the round, its settings included, is a new sequence: the key says it all.
        _cache().put(document_key(election, number, document["sequence"], CURRENT_DOCUMENT), rendered)
    return respond(rendered, NO_CACHE)


RESULTS = (
    f"{ROUND}/results",
    f"{ROUND}/results/<level>/<code>",
    f"{ROUND}/snapshots/<{WHOLE}:sequence>/results",
    f"{ROUND}/snapshots/<{WHOLE}:sequence>/results/<level>/<code>",
)
TURNOUT = tuple(path.replace("/results", "/turnout") for path in RESULTS)
TIMELINE = (f"{ROUND}/timeline", f"{ROUND}/snapshots/<{WHOLE}:sequence>/timeline")
CORRECTIONS = (f"{ROUND}/corrections", f"{ROUND}/snapshots/<{WHOLE}:sequence>/corrections")
PROJECTION = tuple(path.replace("/results", "/projection") for path in RESULTS)
PROJECTION_TIMELINE = tuple(path.replace("/timeline", "/projection/timeline") for path in TIMELINE)


def routes(paths: tuple[str, ...], *, suffix: str = "") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view on each path (with `suffix`, e.g. `.csv`, appended)."""

    def register(view: Callable[..., Any]) -> Callable[..., Any]:
        for path in paths:
            view = blueprint.route(f"{path}{suffix}")(view)
        return view

    return register


def _results(
    election: str, number: int, sequence: int | None, level: str | None, code: str | None, **form: Any
) -> Response:
    return _sequence_document(
        election,
        number,
        sequence,
        resource=("results", level, code),
        # Built in the schema's shape (`api.documents.results`), not dumped through it: a commune's
        # hundreds of child rows would cost more than the rest of the request; the tests check both agree.
        # The JSON is joined from the children's rows this worker keeps (`api.web.feed_rows`): a
        # département's page is built again at each sequence, and a return changes one of its 600 rows.
        build=lambda view: (
            documents.results_of(view, level, code)
            if form.get("as_csv")
            else app_state().feed_rows.results_body(view, level, code)
        ),
        schema=None,
        **form,
    )


@routes(RESULTS)
@blueprint.response(200, schemas.ResultsDocumentSchema, headers=openapi.CACHED, example=examples.RESULTS)
@blueprint.csv_form("results")
@blueprint.answers("NotModified", "Embargoed", "NotFound")
def show_results(
    election: str, number: int, sequence: int | None = None, level: str | None = None, code: str | None = None
) -> Response:
    """Results, with a row per child area.

    The results of the nation, of an area or of a bureau. The area's figures (bureaux reported, votants,
    blancs, nuls, exprimés, each candidate's votes and shares, the leader, the change in turnout against the
    previous round), its breadcrumbs (`parents`), a summary row per child area and, for a bureau, every
    version of its return. Under `snapshots/{sequence}`: the results as published then, which never change.
    `Accept: text/csv` (or `.csv` on the path) gives the CSV form."""
    return _results(election, number, sequence, level, code, **_negotiated(_results_csv))


@routes(RESULTS, suffix=".csv")
@blueprint.csv_document("results")
@blueprint.answers("NotModified", "Embargoed", "NotFound")
def results_csv(
    election: str, number: int, sequence: int | None = None, level: str | None = None, code: str | None = None
) -> Response:
    """Results as CSV: the area, then one row per child area.

    Columns: `level`, `code`, `name`, `bureaux_reported`, `bureaux_total`, `voters`, then
    `<candidate>_votes` and `<candidate>_pct_valid` for each candidate in ballot order, `leader`, and the
    document's `sequence`, `as_of`, `published_at`, `status`, `test`. The same figures, ETag and caching
    as the JSON."""
    return _results(election, number, sequence, level, code, as_csv=_results_csv)


LEVELS = (
    f"{ROUND}/results/<level>",
    f"{ROUND}/results/<within_level>/<within_code>/<level>",
    f"{ROUND}/snapshots/<{WHOLE}:sequence>/results/<level>",
    f"{ROUND}/snapshots/<{WHOLE}:sequence>/results/<within_level>/<within_code>/<level>",
)


def _level(
    election: str,
    number: int,
    sequence: int | None,
    *,
    level: str,
    within_level: str | None,
    within_code: str | None,
    **form: Any,
) -> Response:
    return _sequence_document(
        election,
        number,
        sequence,
        resource=("level", level, within_level, within_code),
        # JSON from the rows this worker keeps (`api.web.feed_rows`): 36,000 communes through the schema
        # would cost seconds; the tests check each feed against it. The CSV form is written from the dict.
        build=lambda view: (
            documents.level_results(view, level, within_level, within_code)
            if form.get("as_csv")
            else app_state().feed_rows.body(view, level, within_level, within_code)
        ),
        **form,
    )


def _level_csv(document: dict[str, Any], view: View) -> bytes:
    return csv_views.level_csv(document, view.round_.candidate_codes)


@routes(LEVELS)
@blueprint.response(200, schemas.LevelResultsSchema, headers=openapi.CACHED, example=examples.LEVEL)
@blueprint.csv_form("level")
@blueprint.answers("NotModified", "Embargoed", "NotFound")
def show_level(
    election: str,
    number: int,
    *,
    level: str,
    sequence: int | None = None,
    within_level: str | None = None,
    within_code: str | None = None,
) -> Response:
    """Every area of a level, one row each: the map's feed.

    `…/results/commune`: every commune of the election with its parents' codes (`parents`, by level), bureaux
    reported, inscrits, abstentions, votants, blancs, nuls, exprimés, each candidate's votes and shares of
    exprimés and of inscrits, and the leader. `…/results/departement/75/commune`: the communes of one
    area, in any cut (`…/results/departement/75/circonscription`). Rendered once per sequence, gzip when
    asked: one request per sequence for every commune of a national night. `Accept: text/csv` (or `.csv`
    on the path) gives the CSV form."""
    within = {"within_level": within_level, "within_code": within_code}
    return _level(election, number, sequence, level=level, **within, **_negotiated(_level_csv))


@routes(LEVELS, suffix=".csv")
@blueprint.csv_document("level")
@blueprint.answers("NotModified", "Embargoed", "NotFound")
def level_csv(
    election: str,
    number: int,
    *,
    level: str,
    sequence: int | None = None,
    within_level: str | None = None,
    within_code: str | None = None,
) -> Response:
    """A level's feed as CSV: one row per area.

    Columns: `level`, `code`, `name`, one column per parent level top first (`national`, `region`,
    `departement`), `bureaux_reported`, `bureaux_total`, `registered`, `abstentions`, `voters`, `blank`,
    `null`, `valid`, then `<candidate>_votes`, `<candidate>_pct_valid` and `<candidate>_pct_registered` for
    each candidate in ballot order, `leader`, and the document's `sequence`, `as_of`, `published_at`,
    `status`, `test`. The same figures, ETag and caching as the JSON."""
    within = {"within_level": within_level, "within_code": within_code}
    return _level(election, number, sequence, level=level, **within, as_csv=_level_csv)


def _turnout(
    election: str, number: int, sequence: int | None, level: str | None, code: str | None, **form: Any
) -> Response:
    return _sequence_document(
        election,
        number,
        sequence,
        resource=("turnout", level, code),
        build=lambda view: documents.turnout_of(view, level, code),
        schema=schemas.TURNOUT,
        **form,
    )


@routes(TURNOUT)
@blueprint.response(200, schemas.TurnoutDocumentSchema, headers=openapi.CACHED, example=examples.TURNOUT)
@blueprint.csv_form("turnout")
@blueprint.answers("NotModified", "Embargoed", "NotFound")
def show_turnout(
    election: str, number: int, sequence: int | None = None, level: str | None = None, code: str | None = None
) -> Response:
    """The day's turnout checkpoints.

    Of the nation, or of an area. Votants at each checkpoint (12:00, 17:00) in the bureaux that reported it,
    and the change like for like against the previous round at the same hour, on the bureaux reported in both
    (`matched_bureaux`). Under `snapshots/{sequence}`: as published then. `Accept: text/csv` (or `.csv`) gives
    the CSV form."""
    return _turnout(election, number, sequence, level, code, **_negotiated(_turnout_csv))


@routes(TURNOUT, suffix=".csv")
@blueprint.csv_document("turnout")
@blueprint.answers("NotModified", "Embargoed", "NotFound")
def turnout_csv(
    election: str, number: int, sequence: int | None = None, level: str | None = None, code: str | None = None
) -> Response:
    """Turnout as CSV: one row per checkpoint time.

    Columns: the area's `level`, `code`, `name`, then `time`, `bureaux_reported`, `bureaux_total`,
    `voters`, the like-for-like `matched_bureaux`, `matched_voters`, `matched_previous_voters`,
    `change_pct` (empty in a first round), and the document's `sequence`, `as_of`, `published_at`,
    `status`, `test`."""
    return _turnout(election, number, sequence, level, code, as_csv=_turnout_csv)


def _timeline(election: str, number: int, sequence: int | None, **form: Any) -> Response:
    return _sequence_document(
        election,
        number,
        sequence,
        resource=("timeline",),
        build=documents.timeline,
        # In the schema's shape already (`api.documents.results.timeline`): one row a sequence, thousands by
        # the end of a night, and the publisher writes it every sequence. The tests check both agree.
        schema=None,
        **form,
    )


@routes(TIMELINE)
@blueprint.response(200, schemas.TimelineDocumentSchema, headers=openapi.CACHED, example=examples.TIMELINE)
@blueprint.csv_form("timeline")
@blueprint.answers("NotModified", "Embargoed", "NotFound")
def show_timeline(election: str, number: int, sequence: int | None = None) -> Response:
    """The evening's curve: one row per published sequence.

    For each publication up to this one: when, bureaux reported, the national votants, blancs, nuls,
    exprimés and each candidate's votes and share. `Accept: text/csv` (or `.csv`) gives the CSV form."""
    return _timeline(election, number, sequence, **_negotiated(_timeline_csv))


@routes(TIMELINE, suffix=".csv")
@blueprint.csv_document("timeline")
@blueprint.answers("NotModified", "Embargoed", "NotFound")
def timeline_csv(election: str, number: int, sequence: int | None = None) -> Response:
    """The timeline as CSV: one row per publication.

    Columns: `sequence`, `as_of`, `published_at`, `bureaux_reported`, `voters`, `blank`, `null`,
    `valid`, `<candidate>_votes` and `<candidate>_pct_valid` for each candidate in ballot order, `test`."""
    return _timeline(election, number, sequence, as_csv=_timeline_csv)


def _corrections(election: str, number: int, sequence: int | None, **form: Any) -> Response:
    return _sequence_document(
        election,
        number,
        sequence,
        resource=("corrections",),
        build=documents.corrections_of,
        schema=schemas.CORRECTIONS,
        **form,
    )


@routes(CORRECTIONS)
@blueprint.response(
    200, schemas.CorrectionsDocumentSchema, headers=openapi.CACHED, example=examples.CORRECTIONS
)
@blueprint.csv_form("corrections")
@blueprint.answers("NotModified", "Embargoed", "NotFound")
def show_corrections(election: str, number: int, sequence: int | None = None) -> Response:
    """The round's corrections log.

    Every correction of a published return up to this sequence, oldest first: its time, bureau, the counts
    before and after, and the reason given. `Accept: text/csv` (or `.csv`) gives the CSV form."""
    return _corrections(election, number, sequence, **_negotiated(_corrections_csv))


@routes(CORRECTIONS, suffix=".csv")
@blueprint.csv_document("corrections")
@blueprint.answers("NotModified", "Embargoed", "NotFound")
def corrections_csv(election: str, number: int, sequence: int | None = None) -> Response:
    """The corrections log as CSV: one row per correction.

    Columns: `bureau`, `name`, `version`, `sequence`, `reported_at`, `recorded_at`, the counts (`voters`,
    `blank`, `null`, `valid`, `<candidate>_votes`), the counts replaced (`previous_…`), `reason`, `test`."""
    return _corrections(election, number, sequence, as_csv=_corrections_csv)


def _projection(
    election: str, number: int, sequence: int | None, level: str | None, code: str | None, **form: Any
) -> Response:
    _refuse_projection_when_off(election, number)
    return _sequence_document(
        election,
        number,
        sequence,
        resource=("projection", level, code),
        build=lambda view: documents.projection_of(view, level, code, app_state().projections.of),
        schema=schemas.PROJECTION,
        withdrawable=True,
        **form,
    )


def _refuse_projection_when_off(election: str, number: int) -> None:
    # Asked of the round itself at every request, cached or not: turned off, no estimate of any sequence
    # is served again by any worker.
    with reading_alone(_engine()) as connection:
        documents.refuse_projection_when_off(store.round_info(connection, election, number))


def _projection_timeline(election: str, number: int, sequence: int | None, **form: Any) -> Response:
    _refuse_projection_when_off(election, number)
    return _sequence_document(
        election,
        number,
        sequence,
        resource=("projection", "timeline"),
        build=lambda view: documents.projection_timeline(view, app_state().projections.national),
        schema=schemas.PROJECTION_TIMELINE,
        withdrawable=True,
        **form,
    )


@routes(PROJECTION_TIMELINE)
@blueprint.response(
    200,
    schemas.ProjectionTimelineSchema,
    headers=openapi.CACHED,
    example=examples.PROJECTION_TIMELINE,
)
@blueprint.csv_form("projection_timeline")
@blueprint.answers("NotModified", "Embargoed", "NotFound")
def show_projection_timeline(election: str, number: int, sequence: int | None = None) -> Response:
    """The nation's estimate over the evening: the band around the counted curve.

    A point at the first publication with each further 5 % of the bureaux counted, and one at this
    document's own; each the nation's `…/snapshots/{sequence}/projection` of that publication. Under the
    round's `projection` setting, like the projection. `Accept: text/csv` (or `.csv`) gives the CSV form."""
    return _projection_timeline(election, number, sequence, **_negotiated(_projection_timeline_csv))


@routes(PROJECTION_TIMELINE, suffix=".csv")
@blueprint.csv_document("projection_timeline")
@blueprint.answers("NotModified", "Embargoed", "NotFound")
def projection_timeline_csv(election: str, number: int, sequence: int | None = None) -> Response:
    """The evening's estimates as CSV: one row per point and candidate.

    Columns: `sequence`, `as_of`, `published_at`, `bureaux_counted`, `bureaux_total`, `candidate`,
    `pct_valid`, `pct_valid_low`, `pct_valid_high`, `leader_stays_ahead` (on the leader's row), `test`."""
    return _projection_timeline(election, number, sequence, as_csv=_projection_timeline_csv)


@routes(PROJECTION)
@blueprint.response(
    200, schemas.ProjectionDocumentSchema, headers=openapi.CACHED, example=examples.PROJECTION
)
@blueprint.csv_form("projection")
@blueprint.answers("NotModified", "Embargoed", "NotFound")
def show_projection(
    election: str, number: int, sequence: int | None = None, level: str | None = None, code: str | None = None
) -> Response:
    """An estimate of the final result, with 90 % intervals.

    Of the nation or of an area above the bureaux, from the bureaux counted so far: the final votants and
    each candidate's final share of exprimés, each with its 90 % interval, and the probability that the
    counted leader stays ahead. Marked `estimate: true` and never mixed into the counted figures; `null`
    with a `reason` while too few bureaux are counted. The model, its backtests and where it is weak:
    docs/projection.md. Under `snapshots/{sequence}`: as estimated then. `Accept: text/csv` (or `.csv`)
    gives the CSV form."""
    return _projection(election, number, sequence, level, code, **_negotiated(_projection_csv))


@routes(PROJECTION, suffix=".csv")
@blueprint.csv_document("projection")
@blueprint.answers("NotModified", "Embargoed", "NotFound")
def projection_csv(
    election: str, number: int, sequence: int | None = None, level: str | None = None, code: str | None = None
) -> Response:
    """The projection as CSV: one row per candidate.

    Columns: the area's `level`, `code`, `name`, then `candidate`, `pct_valid`, `pct_valid_low`,
    `pct_valid_high`, `leader_stays_ahead` (on the leader's row), `voters`, `voters_low`, `voters_high`,
    `bureaux_counted`, `bureaux_total`, and the document's `sequence`, `as_of`, `published_at`, `status`,
    `test`. No row while there is no estimate."""
    return _projection(election, number, sequence, level, code, as_csv=_projection_csv)


@blueprint.route(f"{ROUND}/changes")
@blueprint.arguments(schemas.ChangesQuerySchema, location="query", as_kwargs=True)
@blueprint.response(200, schemas.ChangesSchema, headers=openapi.CACHED, example=examples.CHANGES)
@blueprint.answers("NotModified", "BadRequest", "Embargoed", "NotFound")
def list_changes(election: str, number: int, since: str, limit: int) -> Response:
    """The change feed: returns recorded or corrected after a cursor.

    Start with `since=0`. Keep the `next` of each answer and pass it as `since` next time: no change is
    missed, none is repeated. When `truncated` is true, more changes wait: ask again at once. Each change
    carries the bureau's counts and, for a correction, the counts it replaced (`previous`) and its
    `reason`; `current_sequence` is the round's latest sequence as the server knew it when the page was
    read: like the latest documents, a server trusts what it last read of the round for a quarter of a
    second (`TABULATOR_HEAD_CACHE_SECONDS`), and the next page starts where this one ended."""
    refuse_during_embargo(election, number)
    state = app_state()
    trusted = state.heads.trusted(election, number)
    head = trusted.sequence if trusted is not None else None
    return respond(state.change_tails.answer(_engine(), election, number, since, limit, head=head), NO_CACHE)


def _nist(view: View) -> dict[str, Any]:
    return exports.nist_report(view)


@blueprint.route(f"{ROUND}/export.csv")
@blueprint.route(f"{ROUND}/snapshots/<{WHOLE}:sequence>/export.csv")
@blueprint.arguments(schemas.ExportQuerySchema, location="query", as_kwargs=True)
@blueprint.response(200, openapi.CSV_SCHEMA, content_type="text/csv", headers=openapi.EXPORT_HEADERS)
@blueprint.answers("NotModified", "BadRequest", "Embargoed", "NotFound")
def export_csv(election: str, number: int, encoding: str, sequence: int | None = None) -> Response:
    """The round per bureau, in the Interior Ministry's layout (CSV).

    Every reported bureau in the Interior Ministry's per-bureau layout (Latin-1 unless asked for UTF-8,
    `;`, decimal comma), in the ministry's order and with the labels of the file the round was imported
    from: an imported ministry file comes back field for field.

    A test round's file starts with a `# TEST DATA` line, is named `…-TEST.csv` and answers
    `X-Tabulator-Test: true`: once saved and forwarded, nothing else says it is not real."""
    response = _sequence_document(
        election,
        number,
        sequence,
        resource=("csv", encoding),
        build=lambda view: exports.ministry_csv(view, reference.departements(), encoding),
        content_type=f"text/csv; charset={exports.ENCODINGS[encoding]}",
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
@blueprint.response(200, schemas.NistReportSchema, headers=openapi.CACHED)
@blueprint.answers("NotModified", "Embargoed", "NotFound")
def export_nist(election: str, number: int, sequence: int | None = None) -> Response:
    """The results as a NIST SP 1500-100 v2 ElectionReport.

    GpUnits for the areas, the round as a contest. As of the round's latest sequence, or of `{sequence}` under
    `snapshots/`: the same ETag and caching as the other documents, and the same embargo."""
    return _sequence_document(election, number, sequence, resource=("nist",), build=_nist)
