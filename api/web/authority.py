"""The authority's writes: a bureau's return, a turnout checkpoint, a file of returns. Each needs a token.

Clerks enter; only supervisors correct what a bureau already reported. Every attempt is audited, and a
refused one changes nothing: a write of returns, checkpoints or a review decision keeps its audit row in its
own transaction (`audit=`); the others, and every refusal, through `api.web.auth.audit` after the request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Response, g, jsonify, request

from api import documents, reference, store
from api.store import accounts, lifecycle, review
from api.store.db import reading
from api.web import examples, openapi, schemas
from api.web.auth import audit_request, requires, stored_with_the_write
from api.web.http import WHOLE
from api.web.state import app_state
from tabulator.batch import CheckpointBatch
from tabulator.files import read_returns_file
from tabulator.rules import NO_LIMIT, Scope
from tabulator.types import Checkpoint, Return

blueprint = openapi.Blueprint(
    "authority",
    __name__,
    url_prefix="/api/v1",
    description="The authority's writes (Bearer token): returns, turnout checkpoints, uploads.",
)
ROUND = f"/elections/<election>/rounds/<{WHOLE}:number>"
VERSION_TAG = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": False,
    "description": 'The version of the bureau\'s return you hold (the `ETag` of a previous answer, `"3"`): '
    "the write is refused (412) if another was recorded since.",
    "schema": {"type": "string", "pattern": '^(W/)?"?[0-9]{1,9}"?$'},  # what VERSION_TAG reads
    "example": '"3"',
}


def _reported(*statuses: int) -> Callable[[Any], Any]:
    """A write's report: 200 when nothing new was published, 201 when something was, 202 when it waits."""
    meanings = {
        201: "Recorded and published: `sequence` is the new publication.",
        202: "Taken, but not published: held for a supervisor's review (`held`) or waiting for a second "
        "clerk's identical entry (`waiting`).",
    }

    def decorate(view: Any) -> Any:
        for status in statuses:
            view = blueprint.alt_response(
                status,
                schema=schemas.WriteReportSchema,
                description=meanings[status],
                headers={"ETag": "ETag"},
                success=True,
            )(view)
        return view

    return decorate


def _engine() -> Any:
    return app_state().engine


def _report(report: store.RecordReport) -> Response:
    """The report as the API answers it, serialised once: 201 published, 202 waiting, 200 nothing new."""
    body = jsonify(schemas.WRITE_REPORT.dump(report.as_dict()))
    body.status_code = report.status
    if report.version is not None:
        body.headers["ETag"] = f'"{report.version}"'
    return body


def _scope() -> Scope:
    """The bureaux the token may write for: a clerk's may be limited to an area or a list of bureaux."""
    actor = g.actor
    if not actor.limited:
        return NO_LIMIT
    level, _, code = (actor.area_code or "").partition(":")
    return Scope((level, code) if actor.area_code else None, actor.bureaux)


def _expected_version() -> int | None:
    """`If-Match: "3"` (the ETag of a previous answer): write only if the return is still at version 3."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    found = VERSION_TAG.match(header)
    if not found:
        raise store.BadArgument(f'If-Match: expected the version you hold, like "3"; got {header!r}.')
    return int(found.group(1))


@blueprint.route(f"{ROUND}/bureaux/<code>/return", methods=["PUT"])
@requires("clerk")
@blueprint.arguments(schemas.ReturnInputSchema, example=examples.RETURN_INPUT)
@blueprint.response(
    200,
    schemas.WriteReportSchema,
    description="A correction recorded and published, or the same counts again (nothing changed).",
    headers={"ETag": "ETag"},
)
@_reported(201, 202)
@blueprint.answers("BadRequest", "NotFound", "Conflict", "StaleVersion", "Refused")
@blueprint.doc(parameters=[IF_MATCH])
def put_return(payload: dict[str, Any], election: str, number: int, code: str) -> Response:
    """Enter a bureau's return.

    Re-sending the same counts changes nothing; other counts for a bureau that
    has reported are a correction: supervisors only, with a `reason`. With double entry, a clerk's first
    entry answers 202 (`waiting`) until another person enters the same counts; the same person entering it
    again, with this token or another of theirs, is never the second entry: 202 again, still `waiting`,
    with a `second_person_needed` notice among the `warnings` (their new counts, if they differ, replace
    their first entry). Send `If-Match` with the version
    you saw to be sure nobody wrote in between (412 otherwise, with the current counts)."""
    ret = Return(
        code,
        payload["voters"],
        payload["blank"],
        payload["null"],
        payload["valid"],
        payload["votes"],
        payload.get("registered"),
        payload.get("reported_at"),
    )
    supervisor = g.actor.can("supervisor")
    report = store.record_return(
        _engine(),
        election,
        number,
        ret,
        store.Writer(
            g.actor.name,
            payload.get("reason"),
            may_correct=supervisor,
            reviewed=supervisor,
            person=g.actor.person,
            scope=_scope(),
        ),
        thresholds=app_state().settings.thresholds,
        expected_version=_expected_version(),
        # One transaction for the return and its audit row: the busiest write of the night.
        audit=audit_request(),
    )
    stored_with_the_write()
    return _report(report)


@blueprint.route(f"{ROUND}/bureaux/<code>/turnout/<time>", methods=["PUT"])
@requires("clerk")
@blueprint.arguments(schemas.CheckpointInputSchema, example={"voters": 187})
@blueprint.response(
    200, schemas.WriteReportSchema, description="A correction of the checkpoint, or the same count again."
)
@_reported(201)
@blueprint.answers("BadRequest", "NotFound", "Conflict", "Refused")
def put_checkpoint(payload: dict[str, Any], election: str, number: int, code: str, time: str) -> Response:
    """Enter a bureau's turnout checkpoint.

    The bureau's votants so far at a time of day (12:00, 17:00): published at once in the turnout
    documents. Correcting a checkpoint needs a `reason`."""
    batch = CheckpointBatch.of([Checkpoint(code, time, payload["voters"], payload.get("reported_at"))])
    report = store.record_checkpoints(
        _engine(),
        election,
        number,
        batch,
        author=g.actor.name,
        reason=payload.get("reason"),
        scope=_scope(),
        audit=audit_request(),
    )
    stored_with_the_write()
    return _report(report)


@blueprint.route(f"{ROUND}/uploads", methods=["POST"])
@requires("clerk")
@blueprint.arguments(schemas.UploadSchema, location="multipart")
@blueprint.response(
    200,
    schemas.WriteReportSchema,
    description="Corrections recorded and published, or nothing new.",
    headers={"ETag": "ETag"},
)
@_reported(201, 202)
@blueprint.answers("BadRequest", "NotFound", "Conflict", "Refused")
def upload(form: dict[str, Any], election: str, number: int) -> Response:
    """Upload a file of returns.

    tabulator CSV, XLSX or the ministry's layout, applied wholly or not at all: the
    answer is a report, or every error with its line, column and rule. A file larger than the service's
    limits (its size once decompressed, its rows, its columns) is refused as soon as one is passed."""
    settings = app_state().settings
    candidates = store.candidate_codes(_engine(), election, number)
    batch = read_returns_file(
        form["file"].read(), candidates, reference.departements(), settings.upload_limits
    )
    report = store.record_returns(
        _engine(),
        election,
        number,
        batch,
        author=g.actor.name,
        reason=form.get("reason"),
        thresholds=settings.thresholds,
        may_correct=g.actor.can("supervisor"),
        reviewed=g.actor.can("supervisor"),
        person=g.actor.person,
        scope=_scope(),
        audit=audit_request(),
    )
    stored_with_the_write()
    return _report(report)


@blueprint.route(f"{ROUND}/review")
@requires("supervisor")
@blueprint.arguments(schemas.ReviewQuerySchema, location="query", as_kwargs=True)
@blueprint.response(200, schemas.ReviewSchema, headers=openapi.NOT_STORED)
@blueprint.answers("NotFound", "BadRequest")
def list_review(election: str, number: int, **query: Any) -> Response:
    """Clerks' returns that wait for a decision.

    Held for a warning, two clerks who disagree, or (double entry) a first entry waiting for its second;
    each beside its bureau's published return, if any, with its warnings in full (supervisors). Filter by
    warning code; sort by how unusual (`?order=unusual`)."""
    response = jsonify(schemas.REVIEW.dump(review.waiting_list(_engine(), election, number, **query)))
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route(f"{ROUND}/warnings")
@requires("supervisor")
@blueprint.response(200, schemas.WarningCountsSchema, headers=openapi.NOT_STORED)
@blueprint.answers("NotFound")
def count_warnings(election: str, number: int) -> Response:
    """The round's warnings by code.

    For each warning code, how many published returns trip it now (naming the first bureaux) and how many
    entries wait with it (supervisors)."""
    response = jsonify(schemas.WARNING_COUNTS.dump(review.warning_counts(_engine(), election, number)))
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route(f"{ROUND}/review/<{WHOLE}:entry_id>", methods=["POST"])
@requires("supervisor")
@blueprint.arguments(schemas.DecisionSchema, example={"decision": "accept"})
@blueprint.response(200, schemas.WriteReportSchema, description="The decision's report.")
@_reported(201, 202)
@blueprint.answers("BadRequest", "NotFound", "Conflict", "Refused")
def decide(decision: dict[str, Any], election: str, number: int, entry_id: int) -> Response:
    """Accept or reject a waiting entry.

    Accept an entry (it is published as its bureau's return; the bureau's other waiting entries are
    set aside) or reject it. Accepting over a published return is a correction: give a `reason`."""
    report = review.decide(
        _engine(),
        election,
        number,
        entry_id,
        accept=decision["decision"] == "accept",
        supervisor=g.actor.name,
        reason=decision.get("reason"),
        audit=audit_request(),
    )
    stored_with_the_write()
    return _report(report)


@blueprint.route("/audit")
@requires("supervisor")
@blueprint.arguments(schemas.AuditQuerySchema, location="query", as_kwargs=True)
@blueprint.response(200, schemas.AuditPageSchema, headers=openapi.NOT_STORED)
@blueprint.answers("BadRequest")
def list_audit(**filters: Any) -> Response:
    """The audit log of writes.

    Every write attempt, accepted or refused, oldest first (supervisors; a token of one election sees
    that election's writes only)."""
    entries = accounts.audit_rows(_engine(), **filters, election=g.actor.election)
    page = {"entries": entries, "next": entries[-1]["id"] if entries else filters["after"]}
    response = jsonify(schemas.AUDIT_PAGE.dump(page))
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route(ROUND, methods=["PATCH"])
@requires("supervisor")
@blueprint.arguments(schemas.RoundUpdateSchema, example={"status": "counting"})
@blueprint.response(200, schemas.RoundSchema, description="Changed: the round as it is now.")
@blueprint.alt_response(
    202,
    schema=schemas.ConfirmationSchema,
    description="The change waits for a second person's confirmation (four eyes).",
    headers=openapi.NOT_STORED,
    success=True,
)
@blueprint.answers("BadRequest", "NotFound", "Conflict", "Refused")
def update_round(changes: dict[str, Any], election: str, number: int) -> Response:
    """Change a round: its status, embargo, test flag or review settings.

    Move the round through setup → voting → counting → complete → certified, set or lift its embargo
    (`results_not_before`), mark it a test or not, choose how clerks' returns are reviewed: 200 with the
    round. A certified round changes no more (409).

    Four eyes: certifying, switching a test round to real, and lifting an embargo that still holds (to
    null or to an earlier time) are only asked for here: 202 with the pending request (its id, its changes,
    who asked, `expires_at`), and nothing changes until another person, a supervisor or an admin, confirms
    it (POST …/confirmations/{id}) before it expires. Any other field sent with such a change waits with
    it. Sending the same request again returns the same pending one."""
    reason = changes.pop("reason", None)
    pending = lifecycle.change_round(
        _engine(), election, number, changes, by=_signer(), window=_confirmation_window(), reason=reason
    )
    if pending is not None:
        return _confirmation(pending, 202)
    # An embargo set now holds from every worker's next request on, whatever they hold in memory.
    app_state().round_changes.announce()
    with reading(_engine()) as connection:
        document = documents.round_document(connection, election, number)
    return jsonify(schemas.ROUND.dump(document))


def _signer() -> lifecycle.Signer:
    return lifecycle.Signer(g.actor.name, g.actor.person or g.actor.name)


def _confirmation_window() -> timedelta:
    return timedelta(minutes=app_state().settings.confirmation_minutes)


def _confirmation(document: dict[str, Any], status: int) -> Response:
    response = jsonify(schemas.CONFIRMATION.dump(document))
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route(f"{ROUND}/confirmations")
@requires("supervisor")
@blueprint.response(200, schemas.ConfirmationListSchema, headers=openapi.NOT_STORED)
@blueprint.answers("NotFound")
def list_confirmations(election: str, number: int) -> Response:
    """Changes of the round that wait for a second person.

    Those that may still be confirmed, oldest first (supervisors)."""
    pending = lifecycle.pending_confirmations(_engine(), election, number)
    response = jsonify(schemas.CONFIRMATIONS.dump(pending))
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route(f"{ROUND}/confirmations/<{WHOLE}:confirmation_id>", methods=["POST"])
@requires("supervisor")
@blueprint.arguments(schemas.ConfirmationDecisionSchema, example={"decision": "confirm"})
@blueprint.response(
    200,
    schemas.ConfirmationSchema,
    description="Confirmed and applied, or cancelled.",
    headers=openapi.NOT_STORED,
)
@blueprint.answers("BadRequest", "NotFound", "Conflict", "Refused")
def decide_confirmation(
    decision: dict[str, Any], election: str, number: int, confirmation_id: int
) -> Response:
    """Confirm or cancel a pending change of the round (four eyes).

    Confirm a pending change of the round — it is applied at once — or cancel it (the asker may
    withdraw their own). Confirming is for another person than the asker (403 `same_person`), before
    `expires_at` (409 `confirmation_expired`); a decided request answers 409 `already_decided`, a change
    the round no longer allows 409 (`bad_transition`, `round_certified`). Certifying a round with bureaux
    missing, or still marked test, needs a `reason` from the asker or here (422
    `certification_needs_reason`)."""
    document = lifecycle.decide_confirmation(
        _engine(),
        election,
        number,
        confirmation_id,
        confirm=decision["decision"] == "confirm",
        by=_signer(),
        reason=decision.get("reason"),
    )
    return _confirmation(document, 200)
