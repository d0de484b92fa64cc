"""Headers every answer carries, whichever layer gives it: Flask, the cached-document fast path
(`api.web.fastpath`, before Flask) or the CORS preflight (`api.web.cors`). The outermost WSGI layer,
so that no answer is missed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
NOSNIFF = ("X-Content-Type-Options", "nosniff")


class Hardened:
    def __init__(self, app: Wsgi) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        extra = [NOSNIFF]

        def with_headers(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # Pages set their own policy and nosniff: never send a header twice.
            present = {name.lower() for name, _ in headers}
            added = [header for header in extra if header[0].lower() not in present]
            return start_response(status, [*headers, *added], exc_info)

        return self.app(environ, with_headers)
