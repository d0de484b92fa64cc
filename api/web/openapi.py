"""The OpenAPI document's conventions, in one place: the guide a poller is written from, the shared
headers and error answers, the Bearer scheme, and what every operation answers beyond its own.

Routes declare their own answers (`@blueprint.answers("NotModified", "NotFound")`); the `Conventions`
plugin adds what follows from the code itself, so that it cannot be forgotten: a route guarded by
`api.web.auth.requires` gets the Bearer scheme with 401 and 403, a write 429 (the rate limit on failed
authentications), a request body 413, and every operation 503 (the database away).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import flask_smorest
from apispec import APISpec, BasePlugin
from flask import Flask, Request
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import CombinedMultiDict

from api.web import examples, schemas

View = TypeVar("View", bound=Callable[..., Any])

GUIDE = """\
Election results tabulated from versioned per-bureau returns, as each bureau de vote reports on election
night: results, turnout, the evening's timeline, corrections, a change feed, and the authority's writes.

## Polling on election night

Every change of a round's results is a new **sequence** number, and every document names the sequence it
belongs to, with its context: `as_of` (the newest return included), `published_at`, `bureaux_reported` /
`bureaux_total`, `status` (`partial`, `complete`, `certified`) and `test` (a rehearsal, not real results).

1. **Conditional GETs.** Every document answers with an `ETag` (`W/"412"`: the sequence; `W/"412-csv"` for
   its CSV form), `Last-Modified` and `Cache-Control`. Send the ETag back as `If-None-Match`: while nothing
   changed the answer is `304 Not Modified` with no body, and costs the service next to nothing.

   ```python
   etag = None
   while True:
       answer = get(".../rounds/2/results", headers={"If-None-Match": etag} if etag else {})
       if answer.status == 200:
           etag = answer.headers["ETag"]
           show(answer.json())
       elif answer.status == 403:                  # embargoed: no result before the polls close
           sleep(int(answer.headers["Retry-After"]))
           continue
       sleep(5)                                    # Cache-Control: public, max-age=…: no need to ask sooner
   ```

2. **Or watch one small document.** `GET …/rounds/{number}/current` is a few hundred bytes, never cached:
   when its `sequence` moves, fetch what you show.
3. **Snapshots never change.** `…/snapshots/{sequence}/results` (and turnout, timeline, corrections, the
   exports) are the documents as published at that sequence: `Cache-Control: immutable`, cacheable forever.
4. **The change feed** lists each bureau's return as it is recorded or corrected. Start with
   `GET …/changes?since=0`, keep the `next` it answers and pass it as `since` next time: no change is missed,
   none is repeated. When `truncated` is true, more wait: ask again at once. A correction carries the counts
   it replaced (`previous`) and its `reason`.

Percentages are computed from summed counts and rounded once, to two decimals; each names its denominator
(`pct_valid`: of exprimés, `pct_voters`: of votants, `pct_registered`: of inscrits).

## CSV

The results, turnout, timeline, corrections and projection documents (the projection's timeline too),
live and snapshots, have a CSV form: add `.csv`
to the path (`…/results.csv`, `…/results/departement/75.csv`, `…/snapshots/12/timeline.csv`) or send
`Accept: text/csv` to the JSON path (which then answers `Vary: Accept`). RFC 4180 (comma, CRLF, a header
row), UTF-8, numbers as in the JSON; one row per area (the area itself first, then each child), per
checkpoint, per publication or per correction; the document's context in the last columns. The same
ETag, 304 and Cache-Control rules apply. `export.csv` is the Interior Ministry's per-bureau layout;
`nist.json` a NIST SP 1500-100 election report.

## The estimate

`…/projection` (and per area) is an estimate of the final result from the bureaux counted so far, with
90 % intervals; `…/projection/timeline`, the nation's estimate over the evening. Both say
`"estimate": true`, are never mixed into the counted figures, and follow the round's `projection` setting:
`off` answers 404, snapshots included, so they are cached no longer than the latest document.

## The embargo

Before a round's `results_not_before` (the last polls' closing time), its results, turnout, current sequence
and changes answer `403` with the code `embargoed` and a `Retry-After` in seconds.

## Errors

One envelope for every error: `{"errors": [{"code": "...", "message": "...", "field": "...", "line": 14}]}`
(`field`, `line`, `column`, `bureau` when they apply). 400: a malformed request; 401: no token or an unknown
one; 403: not allowed, or embargoed; 404: no such election, round, area or sequence; 409: the round's state
refuses it; 412: the return changed since the `If-Match` version; 413: too large; 422: counts that break a
rule (every error listed, nothing written); 429: too many failed authentications from one address;
503: the database is away, nothing was done: retry after `Retry-After` seconds.

## Writes

The authority's writes need a token (`Authorization: Bearer tab_…`), made with `tabulator tokens create`.
Roles: `clerk` enters returns and checkpoints; `supervisor` also corrects, reviews and changes a round;
`admin` can do everything. A token may be limited to one election, an area or a list of bureaux. A write
is applied wholly or not at all; sending the same return again changes nothing.
"""

# The answers routes share (COMPONENT_RESPONSES, each with its headers and an example), by name: status.
RESPONSES: dict[str, int] = {
    "NotModified": 304,
    "BadRequest": 400,
    "Unauthorized": 401,
    "Forbidden": 403,
    "Embargoed": 403,
    "NotFound": 404,
    "Conflict": 409,
    "StaleVersion": 412,
    "TooLarge": 413,
    "Refused": 422,
    "TooManyRequests": 429,
    "Unavailable": 503,
}
BEARER = "bearer"
NOT_STORED = {"Cache-Control": "CacheControl"}  # the authority's documents: `no-store`
CACHED = {"ETag": "ETag", "Last-Modified": "LastModified", "Cache-Control": "CacheControl", "Vary": "Vary"}
EXPORT_HEADERS = {**CACHED, "Content-Disposition": "ContentDisposition", "X-Tabulator-Test": "TabulatorTest"}

HEADERS: dict[str, dict[str, Any]] = {
    "ETag": {
        "description": 'The document\'s version: `W/"<sequence>"` (`W/"<sequence>-csv"` for CSV). Send it '
        "back as `If-None-Match` to get a 304 while it has not changed. After a write of one return: "
        'its version (`"3"`), to send as `If-Match` next time.',
        "schema": {"type": "string"},
        "example": 'W/"412"',
    },
    "LastModified": {
        "description": "When this sequence was published (HTTP date); `If-Modified-Since` is honoured "
        "when no `If-None-Match` is sent.",
        "schema": {"type": "string"},
        "example": "Sun, 29 Jan 2017 20:41:53 GMT",
    },
    "CacheControl": {
        "description": "`public, max-age=N` (a few seconds) for the latest documents; `public, "
        "max-age=31536000, immutable` for snapshots, which never change; `no-cache` for the current "
        "sequence, the change feed and an embargo's 403; `no-store` for the authority's documents and a 503.",
        "schema": {"type": "string"},
        "example": "public, max-age=2",
    },
    "Vary": {
        "description": "`Accept-Encoding` (gzip is sent to clients that accept it); on a document's JSON "
        "path also `Accept`, which picks JSON or CSV.",
        "schema": {"type": "string"},
        "example": "Accept, Accept-Encoding",
    },
    "RetryAfter": {
        "description": "Seconds to wait before asking again (on a 401 of a write: before the address's "
        "window of failed authentications is over).",
        "schema": {"type": "integer", "minimum": 0},
        "example": 5,
    },
    "WWWAuthenticate": {
        "description": "The scheme to authenticate with.",
        "schema": {"type": "string"},
        "example": 'Bearer realm="tabulator"',
    },
    "ContentDisposition": {
        "description": "The file's name for a download (`…-TEST.csv` for a test round).",
        "schema": {"type": "string"},
        "example": 'attachment; filename="primaire-gauche-2017-tour-2.csv"',
    },
    "TabulatorTest": {
        "description": "`true` when the file is a test round's: not real results.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}


def _error(
    description: str, example: dict[str, Any], headers: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schemas.ErrorsSchema, "example": example}},
        **({"headers": headers} if headers else {}),
    }


COMPONENT_RESPONSES: dict[str, dict[str, Any]] = {
    "NotModified": {
        "description": "Not modified: the `If-None-Match` (or `If-Modified-Since`) sent names the current "
        "version. No body; keep what you hold.",
        "headers": CACHED,
    },
    "BadRequest": _error(
        "A malformed request: an argument, a header or a body that cannot be read.",
        examples.errors(
            "bad_argument",
            "since: 'yesterday' is neither a sequence like 42 nor a `next` cursor like 42:1234.",
        ),
    ),
    "Unauthorized": _error(
        "No token, or one this service does not know (unknown, expired or revoked).",
        examples.errors("unauthorized", "This needs a token: send it as `Authorization: Bearer <token>`."),
        {"WWW-Authenticate": "WWWAuthenticate", "Retry-After": "RetryAfter"},
    ),
    "Forbidden": _error(
        "The token may not do this: its role, its election, its area or bureaux, or (four eyes) the "
        "same person asking and confirming.",
        examples.errors("forbidden", "This needs the supervisor role; the token 'Clerk Paris 3' is a clerk."),
    ),
    "Embargoed": _error(
        "The round's results are embargoed until its `results_not_before`: nothing of them is published "
        "before the last polls close. Ask again after `Retry-After` seconds.",
        examples.errors(
            "embargoed",
            "Results of round 2 are embargoed until 2017-01-29T18:00:00+00:00: no result may be published "
            "before the last polls close.",
        ),
        {"Retry-After": "RetryAfter", "Cache-Control": "CacheControl"},
    ),
    "NotFound": _error(
        "No such election, round, area, bureau, sequence or entry.",
        examples.errors("not_found", "There is no departement '99' in election primaire-gauche-2017."),
    ),
    "Conflict": _error(
        "The round's state refuses it: certified, a transition it does not allow, a request already "
        "decided or expired.",
        examples.errors("round_certified", "Round 2 is certified: its results can no longer change."),
    ),
    "StaleVersion": {
        "description": "The return changed since the version sent as `If-Match`: nothing was written. "
        "The answer names the current version (also as `ETag`), never its counts.",
        "content": {
            "application/json": {
                "schema": schemas.StaleVersionSchema,
                "example": {
                    **examples.errors(
                        "stale_version",
                        "Bureau 75-03-0012: you sent your counts against version 2 of its return, but "
                        "version 3 has been recorded since. Check its counts and send again.",
                        bureau="75-03-0012",
                    ),
                    "current_version": 3,
                },
            }
        },
        "headers": {"ETag": "ETag"},
    },
    "TooLarge": _error(
        "The request body is larger than the service accepts.",
        examples.errors("too_large", "The request is larger than the 67,108,864 bytes this service accepts."),
    ),
    "Refused": _error(
        "Counts or a file that break a rule: every error with its field, line, column and bureau; nothing "
        "was written. `errors_total` counts them when more than 1,000.",
        examples.errors(
            "votes_mismatch",
            "Bureau 75-03-0012: the candidates' votes add up to 506, not to exprimés (505).",
            field="valid",
            bureau="75-03-0012",
        ),
    ),
    "TooManyRequests": _error(
        "Too many failed authentications (or writes without a good token) from this address: wait "
        "`Retry-After` seconds. Writes with a good token are never limited.",
        examples.errors("too_many_requests", "10 per 1 minute"),
        {"Retry-After": "RetryAfter"},
    ),
    "Unavailable": _error(
        "The database cannot be reached or refuses writes: nothing was done. Try again after "
        "`Retry-After` seconds.",
        examples.errors(
            "database_unavailable",
            "The database cannot be reached or refuses writes at the moment; nothing was changed. "
            "Try again in 5 seconds.",
        ),
        {"Retry-After": "RetryAfter", "Cache-Control": "CacheControl"},
    ),
}

CSV_SCHEMA = {"type": "string", "description": "RFC 4180 CSV, UTF-8, with a header row."}

PATH_PARAMETERS: dict[str, tuple[str, Any]] = {
    "election": ("The election's id, as `GET /api/v1/elections` lists them.", examples.ELECTION),
    "number": ("The round's number: 1 or 2.", 2),
    "sequence": (
        "A published sequence (the `sequence` of any document): the documents as published then, which "
        "never change.",
        examples.SEQUENCE,
    ),
    "level": (
        "An area level of the election (its `levels`): `region`, `departement`, `circonscription`, "
        "`commune`, or `bureau` for one bureau de vote.",
        "departement",
    ),
    "code": (
        "The area's code at that level: INSEE codes for départements (`75`, `2A`) and communes (`75056`), "
        "`75-03` for a circonscription, a bureau's code (`75-03-0012`; `75056_0301` from a ministry file) "
        "for a bureau.",
        "75",
    ),
    "within_level": ("The level of the area the feed's rows lie in (`departement`).", "departement"),
    "within_code": ("The code of the area the feed's rows lie in (`75`).", "75"),
    "time": ("The checkpoint's time of day, `HH:MM` (`12:00`, `17:00`).", "17:00"),
    "entry_id": ("The entry's `id`, as `GET …/review` lists it.", 17),
    "confirmation_id": (
        "The pending change's `id`, from the 202 that asked for it or `GET …/confirmations`.",
        3,
    ),
}
FEED_LEVEL = ("An area level of the election, in any of its cuts (`commune`, `circonscription`).", "commune")
BUREAU_CODE = ("The bureau de vote's code, as in the election's list of bureaux.", "75-03-0012")


def describe_path_parameter(rule: str, name: str) -> tuple[str, Any]:
    """The description and example of a path parameter, by its name in the Flask rule."""
    if name == "code" and "/bureaux/<code>" in rule:
        return BUREAU_CODE
    if name == "level" and rule.endswith(("/results/<level>", "/<within_code>/<level>", "<level>.csv")):
        return FEED_LEVEL
    return PATH_PARAMETERS[name]


class Parser(FlaskParser):
    """webargs, with `multipart`: a form's fields and its files read by one schema, so that an upload is
    one documented multipart/form-data body (OpenAPI 3 has no `formData` parameters)."""

    # webargs reads the locations from the class, as its own parsers declare them.
    __location_map__ = {**FlaskParser.__location_map__, "multipart": "load_multipart"}  # noqa: RUF012

    def load_multipart(self, req: Request, schema: Any) -> Any:
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's blueprint with the API's conventions for its document."""

    ARGUMENTS_PARSER = Parser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING: ClassVar[dict[str, str]] = {
        **flask_smorest.Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
        "multipart": "multipart/form-data",
    }

    def answers(self, *names: str) -> Callable[[View], View]:
        """Document answers other than the operation's success, by their shared names (RESPONSES)."""

        def decorate(view: View) -> View:
            for name in names:
                view = self.alt_response(RESPONSES[name], response=name)(view)
            return view

        return decorate

    def csv_form(self, kind: str) -> Callable[[View], View]:
        """Document a JSON path's CSV form, answered to `Accept: text/csv`."""
        return self.alt_response(  # type: ignore[no-any-return]
            200,
            schema=CSV_SCHEMA,
            content_type="text/csv",
            example=examples.CSV[kind],
            description="The document (JSON), or its CSV form to `Accept: text/csv`.",
            headers=CACHED,
            success=True,
        )

    def csv_document(self, kind: str) -> Callable[[View], View]:
        """Document a `.csv` path: the CSV form of a document."""
        return self.response(  # type: ignore[no-any-return]
            200,
            schema=CSV_SCHEMA,
            content_type="text/csv",
            example=examples.CSV[kind],
            description="The document's CSV form.",
            headers=CACHED,
        )

    def _prepare_arguments_doc(self, doc: Any, doc_info: Any, **kwargs: Any) -> Any:
        # A malformed argument answers 400 here (api.app), never webargs' 422: routes that take arguments
        # declare "BadRequest" themselves, and 422 stays for counts that break a rule.
        doc_info.get("arguments", {}).pop("responses", None)
        return super()._prepare_arguments_doc(doc, doc_info, **kwargs)


class Conventions(BasePlugin):
    """What every operation answers beyond its own, read from the code: the guard, the method, the body."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def path_helper(
        self, path: str | None = None, operations: Any = None, parameters: Any = None, **kwargs: Any
    ) -> None:
        for parameter in parameters or []:
            if isinstance(parameter, dict) and parameter.get("in") == "path":
                description, example = describe_path_parameter(kwargs["rule"].rule, parameter["name"])
                parameter.setdefault("description", description)
                parameter.setdefault("example", example)

    def operation_helper(self, path: str | None = None, operations: Any = None, **kwargs: Any) -> None:
        rule = kwargs["rule"]
        role = getattr(self.app.view_functions[rule.endpoint], "required_role", None)
        for method, operation in operations.items():
            operation["summary"] = _qualified(operation.get("summary", ""), rule.rule)
            responses = operation.setdefault("responses", {})
            if role is not None:
                operation["security"] = [{BEARER: []}]
                responses.setdefault(401, "Unauthorized")
                responses.setdefault(403, "Forbidden")
                needs = f"Needs a token with the `{role}` role or a higher one."
                operation["description"] = f"{operation.get('description', '')}\n\n{needs}".strip()
            if method != "get":
                responses.setdefault(429, "TooManyRequests")
            if "requestBody" in operation:
                responses.setdefault(413, "TooLarge")
            responses.setdefault(503, "Unavailable")


VARIANTS = (("/<level>/<code>", "one area"), ("/snapshots/", "as published at a sequence"))


def _qualified(summary: str, rule: str) -> str:
    """One view serves several paths, which the docs list side by side: say which one this is."""
    variants = [label for marker, label in VARIANTS if marker in rule]
    return f"{summary.rstrip('.')} ({', '.join(variants)})" if variants else summary


def register_components(spec: APISpec) -> None:
    """The shared headers, answers and the Bearer scheme, referred to by name from the operations."""
    spec.components.security_scheme(
        BEARER,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "A token made with `tabulator tokens create --role clerk|supervisor|admin "
            "--election …`; shown once, kept hashed. Send it as `Authorization: Bearer tab_…`.",
        },
    )
    for name, header in HEADERS.items():
        spec.components.header(name, header)
    for name, response in COMPONENT_RESPONSES.items():
        spec.components.response(name, response)
