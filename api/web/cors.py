"""Cross-origin reads of the public API, and nothing else.

A newsroom's page may poll the results from its own domain, conditional requests included (If-None-Match
needs a preflight); the authority's writes and the audit never answer another origin, so a browser on a
foreign page cannot use a clerk's session or token against them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
READS = ("GET", "HEAD")
PRIVATE = ("/api/v1/audit",)
PREFLIGHT = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, HEAD"),
    ("Access-Control-Allow-Headers", "If-None-Match, If-Modified-Since"),
    ("Access-Control-Max-Age", "86400"),
    ("Content-Length", "0"),
]
ON_READS = [
    ("Access-Control-Allow-Origin", "*"),
    # X-Tabulator-Test: a newsroom's script must be able to tell a test round's export from real results.
    ("Access-Control-Expose-Headers", "ETag, Last-Modified, Retry-After, X-Tabulator-Test"),
]


class PublicReads:
    def __init__(self, app: Wsgi) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if not path.startswith("/api/v1/") or path.startswith(PRIVATE):
            return self.app(environ, start_response)
        if method == "OPTIONS" and environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD") in READS:
            start_response("204 No Content", PREFLIGHT)
            return [b""]
        if method not in READS:
            return self.app(environ, start_response)

        def with_cors(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, *ON_READS], exc_info)

        return self.app(environ, with_cors)
