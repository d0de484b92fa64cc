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
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge

from api.store import accounts
from api.store.common import REPORTED_COUNTS
from api.web.state import app_state

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


def identify() -> None:
    """Before anything else of a write (the rate limits included): who sends it, if their token is good.
    The route's guard then refuses or admits; the rate limit spares writes with a good token."""
    if request.method not in READ_METHODS:
        _look_up_token()


def _look_up_token() -> accounts.Actor | None:
    if "actor" not in g:
        token = _bearer_token()
        engine = app_state().engine
        g.actor = accounts.authenticate(engine, token) if token else None
    return g.actor  # type: ignore[no-any-return]


def identified() -> bool:
    return g.get("actor") is not None


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _authenticate() -> accounts.Actor:
    actor = _look_up_token()
    if actor is not None:
        return actor
    if _bearer_token() is None:
        raise Unauthorized("This needs a token: send it as `Authorization: Bearer <token>`.")
    raise Unauthorized("This token is unknown, expired or revoked.")


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


def audit(response: Response) -> Response:
    """After every write attempt that did not keep its audit row with its own write (a refusal above all):
    keep who, when, from where, what and the outcome, through the same `accounts.audit_entry`."""
    if request.method in READ_METHODS or g.get("audited"):
        return response
    if response.status_code == 429:
        # Refused by the rate limit before any work: a flood of these must not become a flood of rows.
        current_app.logger.info(
            "rate limited: %s %s from %s", request.method, request.path, request.remote_addr
        )
        return response
    document = _json(response)
    asked = audit_request()
    sequence = document.get("sequence") if isinstance(document, dict) else None
    try:
        accounts.record_audit(
            app_state().engine,
            asked,
            status=response.status_code,
            outcome=_outcome(document),
            sequence=sequence,
        )
    except DBAPIError as exc:
        # The database is gone or refuses writes (the answer is a 503): keep the attempt in the log.
        current_app.logger.warning(
            "audit not stored (%s): %s %s by %s from %s → %s %s",
            type(exc).__name__,
            request.method,
            request.path,
            getattr(asked.actor, "name", None),
            asked.remote_addr,
            response.status_code,
            _outcome(document),
        )
    return response


def audit_request() -> accounts.AuditRequest:
    """The request's half of its audit row, read while in its thread: the write that carries it may run in
    another (`api.store.db.write_together`)."""
    actor: accounts.Actor | None = g.get("actor")
    # A stranger's body is never kept whole: anyone could fill the disk through the audit.
    sent = _what_was_sent() if actor is not None else _digest_of_anonymous_body()
    return accounts.AuditRequest(actor, request.remote_addr, request.method, request.path, sent)


def stored_with_the_write() -> None:
    """The write committed with its audit row: after_request has nothing left to keep."""
    g.audited = True


def _outcome(document: Any) -> str:
    errors = document.get("errors") if isinstance(document, dict) else None
    if errors:
        return ",".join(str(e.get("code")) for e in errors)
    return json.dumps({k: document[k] for k in REPORTED_COUNTS if k in document})


def _json(response: Response) -> Any:
    if not response.is_json or response.direct_passthrough:
        return {}
    try:
        return json.loads(response.get_data())
    except ValueError:
        return {}


ANONYMOUS_EXCERPT = 200  # characters of an unauthenticated body kept in the audit
READ_CHUNK = 64 * 1024


def _digest_of_anonymous_body() -> str:
    """Size, SHA-256 and the first characters of what an unauthenticated request sent, read as a stream
    (never held whole) up to the upload limit."""
    if refused := _over_the_limit():
        return refused
    try:
        size, digest, head = _hashed(request.stream)
    except RequestEntityTooLarge:
        return f"over the {current_app.config.get('MAX_CONTENT_LENGTH'):,}-byte limit: not read"
    excerpt = head.decode("utf-8", "replace")[:ANONYMOUS_EXCERPT]
    return f"{size:,} bytes, sha256 {digest}, unauthenticated; begins {excerpt!r}"


def _what_was_sent() -> str:
    """The JSON body as sent (the token never: it travels in a header), or each file's name, size, SHA-256.
    A body over the limit is not kept: with a Content-Length, it is known before reading; a chunked body
    has none, and werkzeug stops reading it at the limit, in the route or here."""
    if refused := _over_the_limit():
        return refused
    try:
        files = [_file_digest(upload) for upload in request.files.values()]
        return "; ".join(files) if files else request.get_data(as_text=True)[:65_536]
    except RequestEntityTooLarge:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return f"a chunked body over the {limit:,}-byte limit: read up to the limit, not kept"


def _over_the_limit() -> str | None:
    """What the audit says of a body whose declared length is over the limit (it is never read)."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and (request.content_length or 0) > limit:
        return f"{request.content_length:,} bytes, over the {limit:,}-byte limit: not read"
    return None


def _hashed(stream: Any) -> tuple[int, str, bytes]:
    """Size, SHA-256 and first bytes of a stream, read a piece at a time: never held whole."""
    digest, head, size = hashlib.sha256(), b"", 0
    while chunk := stream.read(READ_CHUNK):
        digest.update(chunk)
        head, size = head or chunk[: ANONYMOUS_EXCERPT * 4], size + len(chunk)
    return size, digest.hexdigest(), head


def _file_digest(upload: FileStorage) -> str:
    """From the file's start: the route has read it already."""
    upload.seek(0)
    size, digest, _ = _hashed(upload)
    upload.seek(0)
    return f"{upload.filename}: {size} bytes, sha256 {digest}"
