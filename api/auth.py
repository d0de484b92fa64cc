"""Who may write: Bearer tokens, roles, the audit of every write attempt, and the start-up check that no
write route is left without a role."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from sqlalchemy.exc import DBAPIError

from api.sql import Raw
from api.store import accounts

READ_METHODS = {"GET", "HEAD", "OPTIONS"}
View = TypeVar("View", bound=Callable[..., Any])


class Unauthorized(Exception):
    """No token, or one this service does not know: 401."""


class Forbidden(Exception):
    """A known token whose role or election does not allow this: 403."""


def requires(role: str) -> Callable[[View], View]:
    """Declare the role a write route needs; the token must carry it (or a higher one)."""
    if role not in accounts.ROLES:
        raise ValueError(f"unknown role {role!r}")

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            actor = _authenticate()
            if not actor.can(role):
                raise Forbidden(f"This needs the {role} role; the token {actor.name!r} is a {actor.role}.")
            election = kwargs.get("election")
            if actor.election is not None and election is not None and election != actor.election:
                raise Forbidden(f"The token {actor.name!r} serves election {actor.election}, not {election}.")
            return view(*args, **kwargs)

        guarded.required_role = role  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def _authenticate() -> accounts.Actor:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("This needs a token: send it as `Authorization: Bearer <token>`.")
    actor = accounts.authenticate(current_app.extensions["tabulator"]["engine"], token.strip())
    if actor is None:
        raise Unauthorized("This token is unknown or has been revoked.")
    g.actor = actor
    return actor


def check_write_routes(app: Flask) -> None:
    """Refuse to start when a route that writes has no role declared (a forgotten `@requires`)."""
    unguarded = [
        str(rule)
        for rule in app.url_map.iter_rules()
        if (rule.methods or set()) - READ_METHODS
        and not getattr(app.view_functions[rule.endpoint], "required_role", None)
    ]
    if unguarded:
        raise RuntimeError(f"write routes without a role: {', '.join(sorted(unguarded))}")


REPORTED = ("created", "corrected", "unchanged", "flagged", "held", "waiting")  # a write report's counts


def audit(response: Response) -> Response:
    """After every write attempt, accepted or refused, keep who, when, from where, what and the outcome —
    unless the write already kept it in its own transaction (`AuditDraft`)."""
    if request.method in READ_METHODS or g.get("audited"):
        return response
    document = _json(response)
    draft = AuditDraft()
    try:
        accounts.record_audit(
            current_app.extensions["tabulator"]["engine"], **draft.entry(response.status_code, document)
        )
    except DBAPIError as exc:
        # The database is gone or refuses writes (the answer is a 503): keep the attempt in the log.
        current_app.logger.warning(
            "audit not stored (%s): %s %s by %s from %s → %s %s",
            type(exc).__name__,
            request.method,
            request.path,
            getattr(draft.actor, "name", None),
            draft.remote_addr,
            response.status_code,
            _outcome(document),
        )
    return response


class AuditDraft:
    """A write attempt's audit row, filled in from the request while in its thread, so that it can be
    stored in the write's own transaction — which may run in another thread (`api.db.write_together`)."""

    def __init__(self) -> None:
        self.actor: accounts.Actor | None = g.get("actor")
        self.remote_addr, self.method, self.path = request.remote_addr, request.method, request.path
        self.sent = _what_was_sent()

    def entry(self, status: int, document: Any) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "remote_addr": self.remote_addr,
            "method": self.method,
            "path": self.path,
            "sent": self.sent,
            "status": status,
            "outcome": _outcome(document),
            "sequence": document.get("sequence") if isinstance(document, dict) else None,
        }

    def store(self, raw: Raw, status: int, document: Any) -> None:
        accounts.audit_entry(raw, **self.entry(status, document))


def stored_with_the_write() -> None:
    """The write committed with its audit row: after_request has nothing left to keep."""
    g.audited = True


def _outcome(document: Any) -> str:
    errors = document.get("errors") if isinstance(document, dict) else None
    if errors:
        return ",".join(str(e.get("code")) for e in errors)
    return json.dumps({k: document[k] for k in REPORTED if k in document})


def _json(response: Response) -> Any:
    if not response.is_json or response.direct_passthrough:
        return {}
    try:
        return json.loads(response.get_data())
    except ValueError:
        return {}


def _what_was_sent() -> str:
    """The JSON body as sent (the token never: it travels in a header), or each file's name, size, SHA-256."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and (request.content_length or 0) > limit:
        return f"{request.content_length:,} bytes, over the {limit:,}-byte limit: not read"
    files = [
        f"{upload.filename}: {len(data := upload.read())} bytes, sha256 {hashlib.sha256(data).hexdigest()}"
        for upload in request.files.values()
    ]
    for upload in request.files.values():
        upload.seek(0)
    if files:
        return "; ".join(files)
    return request.get_data(as_text=True)[:65_536]
