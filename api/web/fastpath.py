"""The read path at static-file speed: a cached document answered before Flask routes the request.

When a worker already holds the rendered bytes of the latest sequence of a results, turnout or timeline
document, in JSON or CSV, and still trusts that sequence (`head_cache_seconds`), this WSGI layer answers
from memory — the same `answer()` as the Flask views, so headers, 304s and gzip are identical. An area's
results nobody asked for since that sequence (a crawler's, a reader drilling down) is built here too, in
the app's context but without a request's routing and hooks (a quarter of a cold document's cost), by the
same code as the route (`api.web.public.cold_results`). Anything else (a query string, a stale sequence,
another path, an error to answer) goes to Flask unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from api.web import public
from api.web.http import NEGOTIATED, VARY, Rendered, answer, document_key, wants_csv
from api.web.state import AppState

# As Flask routes them: `…/results/departement/75.csv` is the CSV of département 75 (the code stops short
# of a final `.csv`), `…/results/departement/75` its JSON, which `Accept: text/csv` turns into CSV;
# `…/results/commune` and `…/results/departement/75/commune` are level feeds.
DOCUMENT = re.compile(
    r"^/api/v1/elections/(?P<election>[^/]+)/rounds/(?P<number>\d{1,9})/"
    r"(?:(?P<kind>results|turnout)(?:/(?P<level>[^/]+)/(?P<code>[^/]+?))?"
    r"|results(?:/(?P<within_level>[^/]+)/(?P<within_code>[^/]+))?/(?P<feed>[^/]+?)"
    r"|(?P<timeline>timeline))"
    r"(?P<csv>\.csv)?$"
)
STATUS = {200: "200 OK", 304: "304 Not Modified"}
Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class CachedDocuments:
    def __init__(
        self, flask_app: Wsgi, state: AppState, app_context: Callable[[], AbstractContextManager[Any]]
    ) -> None:
        self.flask_app = flask_app
        self.state = state
        self.app_context = app_context

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        found = None
        if environ.get("REQUEST_METHOD") == "GET" and not environ.get("QUERY_STRING"):
            found = DOCUMENT.match(environ.get("PATH_INFO", ""))
        if found is None:
            return self.flask_app(environ, start_response)
        negotiated = not found["csv"]  # the JSON path: Accept picks the format
        rendered = self._cached(found, as_csv=not negotiated or wants_csv(environ))
        if rendered is None:
            return self.flask_app(environ, start_response)
        vary = NEGOTIATED if negotiated else VARY
        status, headers, body = answer(environ, rendered, self.state.cache_control, vary=vary)
        start_response(STATUS[status], [*headers, ("Content-Length", str(len(body)))])
        return [body]

    def _cached(self, found: re.Match[str], *, as_csv: bool) -> Rendered | None:
        election, number = found["election"], int(found["number"])
        self.state.round_changes.check()  # an embargo set by another worker empties `heads` here
        head = self.state.heads.trusted(election, number)
        if head is None:
            return None  # Flask asks the database for the latest sequence
        # The resource as api.web.public's views name it.
        if found["timeline"]:
            resource: tuple[str | None, ...] = ("timeline",)
        elif found["feed"]:
            resource = ("level", found["feed"], found["within_level"], found["within_code"])
        else:
            resource = (found["kind"], found["level"], found["code"])
        key = document_key(election, number, head.sequence, resource, as_csv=as_csv)
        rendered = self.state.documents.get(key)
        if rendered is None and found["kind"] == "results" and not as_csv:
            return self._cold_results(election, number, head.sequence, found["level"], found["code"])
        return rendered

    def _cold_results(
        self, election: str, number: int, head: int, level: str | None, code: str | None
    ) -> Rendered | None:
        try:
            with self.app_context():
                return public.cold_results(election, number, head, level, code)
        except Exception:
            # Every refusal and failure (404, the embargo, the database away) is the route's to answer,
            # the one way: it meets it again.
            return None
