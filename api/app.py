"""The Flask application: `create_app()` composes settings, the database, the API and its docs."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, jsonify, request, send_from_directory
from flask_smorest import Api
from sqlalchemy.exc import DBAPIError, InterfaceError, InternalError, OperationalError
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge, UnprocessableEntity
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.security import safe_join

from api import store
from api.documents import Embargoed
from api.settings import Settings
from api.store import db
from api.web import api_docs, auth, authority, cors, headers, http, limits, openapi, pages, public
from api.web.fastpath import CachedDocuments
from api.web.schemas import ErrorsSchema
from api.web.state import EXTENSION, AppState
from tabulator.ingest import FileRefused
from tabulator.types import Issue

STATIC = Path(__file__).resolve().parent / "web" / "static"
FAVICON = "favicon.svg"
ROBOTS = "robots.txt"  # crawlers read the pages, not the JSON API behind them
STATIC_MAX_AGE = 86_400  # a URL without its content version may change with a deploy: a day at most
COMPRESSED = frozenset({".css", ".js", ".svg", ".json", ".txt"})  # text: gzip shrinks it 3 to 5 times


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__, static_folder=None, template_folder="web/templates")
    app.config.update(
        API_TITLE="tabulator",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={"info": {"description": openapi.GUIDE}},
    )
    engine = db.make_engine(settings.database_url)
    state = app.extensions[EXTENSION] = AppState.of(settings, engine)
    app.wsgi_app = CachedDocuments(app.wsgi_app, state, app.app_context)  # type: ignore[method-assign]
    app.wsgi_app = cors.PublicReads(app.wsgi_app)  # type: ignore[method-assign]
    app.wsgi_app = headers.Hardened(app.wsgi_app)  # type: ignore[method-assign]
    if settings.trusted_proxies:
        # Outermost, so every layer (the audit, the rate limits) sees the client's address, not nginx's.
        proxies = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    api = TabulatorApi(app, spec_kwargs={"extra_plugins": [openapi.Conventions(app)]})
    openapi.register_components(api.spec)
    api.register_blueprint(public.blueprint)
    api.register_blueprint(authority.blueprint)
    app.register_blueprint(pages.blueprint)  # HTML pages: outside the API and its OpenAPI document
    app.add_url_rule(api_docs.PATH, "api_docs", api_docs.view(api.spec.to_dict, pages.asset_url))
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    limits.install_limits(app, settings)
    app.after_request(auth.audit)
    _register_errors(app)

    @app.get("/static/<path:path>")
    def static_files(path: str) -> Response:
        return serve_static(path)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        # Asked for by every browser whatever the page links to: the same small SVG as the pages' icon.
        return serve_static(FAVICON)

    @app.get("/robots.txt")
    def robots() -> Response:
        return serve_static(ROBOTS)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        with db.reading(engine) as connection:
            connection.exec_driver_sql("SELECT 1")
        return {"status": "ok"}

    auth.check_write_routes(app)
    return app


def serve_static(path: str) -> Response:
    """A file under static/: gzipped when the client accepts it, from bytes read and compressed once per
    process; immutable for a year when the URL carries the file's own version (`pages.asset_url`), cached a
    day when it carries none. `safe_join` refuses any path out of the folder, as `send_from_directory`
    does."""
    found = safe_join(str(STATIC), path)
    if found is None or not Path(found).is_file():
        raise NotFound()
    if Path(found).suffix not in COMPRESSED:
        return send_from_directory(STATIC, path, max_age=STATIC_MAX_AGE)
    loaded = _loaded_static(found)
    return http.respond(loaded.rendered, _static_cache(request.args.get("v"), loaded.version))


def _static_cache(asked: str | None, version: str) -> str:
    if asked is None:
        return http.CURRENT.format(seconds=STATIC_MAX_AGE)
    # Another version than this file's: a worker of the previous release asked for the next release's URL
    # during a rolling deploy. Its bytes must not be kept under that URL: revalidated at each use.
    return http.IMMUTABLE if asked == version else http.NO_CACHE


@dataclass(frozen=True)
class StaticFile:
    rendered: http.Rendered
    version: str


@cache
def _loaded_static(found: str) -> StaticFile:
    """Keyed by files that exist (the caller checked), so the cache holds at most the static folder."""
    file = Path(found)
    data = file.read_bytes()
    modified = datetime.fromtimestamp(int(file.stat().st_mtime), UTC)
    content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    rendered = http.rendered_bytes(data, last_modified=modified, content_type=content_type)
    _ = rendered.gzipped  # now, once, rather than on a first request that would pay for it
    return StaticFile(rendered, pages.content_version(data))


class TabulatorApi(Api):
    """flask-smorest, documenting our one error envelope for every error response."""

    ERROR_SCHEMA = ErrorsSchema


DATABASE_RETRY_SECONDS = 5
ERRORS_LISTED = 1_000
# PostgreSQL refusing writes without being down: a read-only transaction (a standby, or a database set
# read-only by its operators), a full disk.
REFUSING_STATES = {"25006", "53100"}


def envelope(status: int, code: str, message: str, **more: Any) -> tuple[Response, int]:
    """The one error format of the API (DESIGN: API conventions)."""
    return jsonify({"errors": [{"code": code, "message": message, **more}]}), status


def listed(issues: list[Issue]) -> dict[str, Any]:
    """The errors of a refusal, the first ERRORS_LISTED of them: a 70,000-row file with a wrong column
    would otherwise answer 70,000 times the same sentence. `errors_total` says how many there were."""
    body: dict[str, Any] = {"errors": [issue.as_dict() for issue in issues[:ERRORS_LISTED]]}
    if len(issues) > ERRORS_LISTED:
        body["errors_total"] = len(issues)
    return body


def not_found(exc: store.NotFound) -> tuple[Response, int]:
    return envelope(404, "not_found", str(exc))


def unauthorized(exc: auth.Unauthorized) -> tuple[Response, int, dict[str, str]]:
    return (*envelope(401, "unauthorized", str(exc)), {"WWW-Authenticate": 'Bearer realm="tabulator"'})


def forbidden(exc: auth.Forbidden) -> tuple[Response, int]:
    return envelope(403, "forbidden", str(exc))


def refused(exc: store.Refused) -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
    codes = {issue.code for issue in exc.issues}
    status = (
        412
        if "stale_version" in codes
        else 403
        if codes & {"correction_needs_supervisor", "outside_scope", "same_person"}
        else 409
        if codes & {"round_certified", "bad_transition", "already_decided", "confirmation_expired"}
        else 422
    )
    body = listed(exc.issues)
    if isinstance(exc, store.StaleVersion):
        # The version to send If-Match against, never its counts: under an embargo they are secret.
        body["current_version"] = exc.current_version
        return jsonify(body), status, {"ETag": f'"{exc.current_version}"'}
    return jsonify(body), status


def file_refused(exc: FileRefused) -> tuple[Response, int]:
    return jsonify(listed(exc.issues)), 422


def too_large(exc: RequestEntityTooLarge) -> tuple[Response, int]:
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    return envelope(413, "too_large", f"The request is larger than the {limit:,} bytes this service accepts.")


def embargoed(exc: Embargoed) -> tuple[Response, int, dict[str, str]]:
    return (
        *envelope(403, "embargoed", str(exc)),
        {"Retry-After": str(exc.seconds), "Cache-Control": "no-cache"},
    )


def bad_argument(exc: store.BadArgument) -> tuple[Response, int]:
    return envelope(400, "bad_argument", str(exc))


def bad_arguments(exc: UnprocessableEntity) -> tuple[Response, int]:
    # webargs puts the per-field messages in exc.data["messages"] ({"query": {"limit": [...]}}).
    messages = getattr(exc, "data", {}).get("messages", {})
    errors = [
        {"code": "bad_argument", "message": f"{field}: {' '.join(texts)}", "field": field}
        for fields in messages.values()
        for field, texts in _field_messages(fields)
    ]
    return jsonify({"errors": errors or [{"code": "bad_argument", "message": "Malformed request."}]}), 400


def database_unavailable(exc: DBAPIError) -> tuple[Response, int, dict[str, str]]:
    # The server is down or restarting, the network dropped, the disk is full or read-only: the
    # request did nothing (its transaction never committed); a client should simply try again.
    current_app.logger.warning("database unavailable: %s", str(exc.orig).strip() or type(exc).__name__)
    return (
        *envelope(
            503,
            "database_unavailable",
            "The database cannot be reached or refuses writes at the moment; nothing was changed. "
            f"Try again in {DATABASE_RETRY_SECONDS} seconds.",
        ),
        {"Retry-After": str(DATABASE_RETRY_SECONDS), "Cache-Control": "no-store"},
    )


def too_deep(exc: RecursionError) -> tuple[Response, int]:
    # Python's JSON decoder gives up on arrays nested thousands deep; no return is shaped like that.
    if request.is_json:
        return envelope(400, "bad_json", "The JSON body nests too deeply to be a return; nothing read.")
    return unexpected(exc)


def database_refuses(exc: InternalError) -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
    if getattr(exc.orig, "sqlstate", None) in REFUSING_STATES:
        return database_unavailable(exc)
    return unexpected(exc)


def http_error(exc: HTTPException) -> tuple[Response, int]:
    code = (exc.name or "error").lower().replace(" ", "_")
    return envelope(exc.code or 500, code, exc.description or "")


def unexpected(exc: Exception) -> tuple[Response, int]:
    # Logged in full for the operators; the client gets the envelope, never a traceback or SQL.
    current_app.logger.exception("unexpected error on %s %s", request.method, request.path)
    return envelope(500, "internal_error", "Something went wrong on our side; it has been logged.")


# Each kind of failure and the answer it gets (Flask picks the most specific class).
ERROR_HANDLERS: tuple[tuple[type[Exception], Callable[[Any], Any]], ...] = (
    (store.NotFound, not_found),
    (auth.Unauthorized, unauthorized),
    (auth.Forbidden, forbidden),
    (store.Refused, refused),
    (FileRefused, file_refused),
    (RequestEntityTooLarge, too_large),
    (Embargoed, embargoed),
    (store.BadArgument, bad_argument),
    (UnprocessableEntity, bad_arguments),
    (OperationalError, database_unavailable),
    (InterfaceError, database_unavailable),
    (RecursionError, too_deep),
    (InternalError, database_refuses),
    (HTTPException, http_error),
    (Exception, unexpected),
)


def _register_errors(app: Flask) -> None:
    for kind, handler in ERROR_HANDLERS:
        app.register_error_handler(kind, handler)


def _field_messages(messages: dict[str, Any], prefix: str = "") -> list[tuple[str, list[str]]]:
    """marshmallow's messages as (field path, texts): a nested object's by dotted path
    (`warning_thresholds.blank_share`), a list's items by index."""
    found: list[tuple[str, list[str]]] = []
    for name, texts in messages.items():
        path = f"{prefix}{name}"
        if isinstance(texts, dict):
            found += _field_messages(texts, f"{path}.")
        else:
            found.append((path, [str(text) for text in texts]))
    return found
