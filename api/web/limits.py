"""Rate limits on what strangers can make the service do: failed authentications and anonymous writes.

Each costs the service a token lookup and an audit row; a client address that keeps sending them is
answered 429 with `Retry-After` until its window passes. Writes with a good token are never limited here
(a clerk's office behind one address must not be locked out by one broken script), and reads never are:
they are served from caches and a CDN. The counters live in Redis in production, so that every worker and
node shares them, and in memory for a single process (`TABULATOR_RATE_LIMIT_STORAGE`).
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from api.settings import Settings
from api.web.auth import READ_METHODS, identified, identify


def install_limits(app: Flask, settings: Settings) -> Limiter:
    # Who sends a write must be known before the limiter decides: registered first, it runs first.
    app.before_request(identify)
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.rate_limit_storage,
        application_limits=[settings.failed_write_limit],
        application_limits_exempt_when=_exempt,
        application_limits_deduct_when=_failed,
        headers_enabled=True,
        # The limiter's store down must not take the writes down with it: it then counts in memory.
        in_memory_fallback_enabled=True,
        key_prefix="tabulator",
    )
    # Reads pass before any limit is even looked up (the limiter's own filter): a cold document is a
    # millisecond, and resolving limits for it cost a fifth of that.
    limiter.request_filter(_read)
    return limiter


def _read() -> bool:
    return request.method in READ_METHODS


def _exempt() -> bool:
    return _read() or identified()


def _failed(response: Response) -> bool:
    return response.status_code == 401
