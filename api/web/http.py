"""Serving documents at static-file speed: bytes rendered once per sequence, conditional GETs, gzip.

A document of sequence N never changes, so its JSON (and its gzip) is rendered once and kept in a small
per-process LRU keyed by (resource, sequence); nothing else invalidates it. ETag and Last-Modified come
from the sequence and its publication time.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from flask import Response, request
from isal import igzip
from marshmallow import Schema
from werkzeug.datastructures import Headers, MIMEAccept
from werkzeug.http import http_date, parse_accept_header, parse_date

from tabulator.memo import cached

BUILD_STRIPES = 64
GZIP_FROM = 1_024  # bytes: smaller bodies gain nothing from compression
# From this size on, a body is gzipped by ISA-L (`isal`, its level 3): the nation's commune feed, 14 MB in a
# presidential round and rendered again by nearly every sequence, in 0.04 s for 2.2 MB, where zlib took
# 0.26 s for 1.8 MB at level 6 (the API's) and 0.08 s for 2.4 MB at level 1 (the static publication's).
# Smaller bodies keep zlib's level 6: their gzip is a tenth smaller than ISA-L's, and takes 60 µs.
FAST_GZIP_FROM = 4_000_000
CURRENT = "public, max-age={seconds}"
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
JSON = "application/json"
CSV = "text/csv"
# A document's JSON path answers CSV to `Accept: text/csv`: caches must key its answers on Accept too.
VARY = "Accept-Encoding"
NEGOTIATED = "Accept, Accept-Encoding"

# A path's whole number, as large as a database integer column holds; anything larger is no such resource
# (404), not an overflow deep in the driver.
WHOLE = "int(max=2147483647)"


def gzipped(body: bytes) -> bytes:
    """A document's gzip, alike from every node (no time in its header), as the API and the static
    publication serve it."""
    if len(body) >= FAST_GZIP_FROM:
        return igzip.compress(body, compresslevel=3, mtime=0)
    return gzip.compress(body, compresslevel=6, mtime=0)


@dataclass(frozen=True)
class Rendered:
    body: bytes
    etag: str
    last_modified: datetime | None
    content_type: str = "application/json"

    @cached
    def gzipped(self) -> bytes | None:
        """Compressed on the first client that accepts gzip: most pollers never ask for it."""
        return gzipped(self.body) if len(self.body) >= GZIP_FROM else None

    @cached
    def validators(self) -> dict[str, str]:
        """ETag and Last-Modified, formatted once."""
        return _validators(self.etag, self.last_modified)

    @cached
    def content_type_header(self) -> str:
        text = (
            self.content_type.startswith(("application/json", "text/"))
            and "charset=" not in self.content_type
        )
        return f"{self.content_type}; charset=utf-8" if text else self.content_type


def render(
    document: Any, schema: Schema | None, *, etag: str | None = None, last_modified: datetime | None = None
) -> Rendered:
    """Dump through the schema (so every payload has the documented shape) and serialise, once."""
    payload = schema.dump(document) if schema is not None else document
    return rendered_bytes(serialize(payload), etag=etag, last_modified=last_modified)


def serialize(payload: Any) -> bytes:
    """A document's JSON as every answer and file has it: compact, UTF-8, keys in the payload's order.
    orjson writes the same bytes as `json.dumps(payload, ensure_ascii=False, separators=(",", ":"))`
    (tests/api/test_http.py compares them) 10 to 20 times faster: the 36,000 communes' feed in 40 ms, not
    850, and a bureau's document in 6 µs, which a whole publication writes 69,242 times."""
    return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)


def rendered_bytes(
    body: bytes,
    *,
    etag: str | None = None,
    last_modified: datetime | None = None,
    content_type: str = "application/json",
) -> Rendered:
    tag = etag or f'W/"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
    return Rendered(body, tag, last_modified, content_type)


def sequence_etag(sequence: int, variant: str = "") -> str:
    """The sequence is the version. Another format of the same document (`variant`, e.g. `-csv`) has
    its own tag: a cache that revalidates one of two stored variants picks the one its tag names
    (RFC 9111 §4.3.4)."""
    return f'W/"{sequence}{variant}"'


def wants_csv(environ: dict[str, Any]) -> bool:
    """Whether the client's Accept prefers CSV to JSON (`text/csv`, `text/*`); `*/*` or none means JSON."""
    accept: str = environ.get("HTTP_ACCEPT", "")
    if "csv" not in accept and "text/*" not in accept:
        return False  # the common case, decided without parsing
    return parse_accept_header(accept, MIMEAccept).best_match([JSON, CSV]) == CSV


def not_modified(environ: dict[str, Any], etag: str, last_modified: datetime | None) -> bool:
    """RFC 9110: If-None-Match decides when present; If-Modified-Since only without it."""
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in wanted or etag.removeprefix("W/") in wanted
    since = environ.get("HTTP_IF_MODIFIED_SINCE")
    if since is None or last_modified is None:
        return False
    moment = parse_date(since)
    return moment is not None and int(last_modified.timestamp()) <= int(moment.timestamp())


def _validators(etag: str, last_modified: datetime | None) -> dict[str, str]:
    headers = {"ETag": etag}
    if last_modified is not None:
        headers["Last-Modified"] = http_date(last_modified)
    return headers


def not_modified_response(
    etag: str, last_modified: datetime | None, cache_control: str, *, vary: str = VARY
) -> Response | None:
    """The 304 for a client that already holds this version, decided before any document is built."""
    if not not_modified(request.environ, etag, last_modified):
        return None
    headers = {**_validators(etag, last_modified), "Vary": vary, "Cache-Control": cache_control}
    return Response(status=304, headers=headers)


def answer(
    environ: dict[str, Any], rendered: Rendered, cache_control: str, *, vary: str = VARY
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body for a rendered document: 304 when the client holds it, gzip when accepted.
    `vary`: the request headers the answer depends on (NEGOTIATED where Accept picks the format)."""
    items = [*rendered.validators.items(), ("Vary", vary), ("Cache-Control", cache_control)]
    if not_modified(environ, rendered.etag, rendered.last_modified):
        return 304, items, b""
    body = rendered.body
    if _accepts_gzip(environ) and rendered.gzipped is not None:  # compressed only once asked for
        body = rendered.gzipped
        items.append(("Content-Encoding", "gzip"))
    items.append(("Content-Type", rendered.content_type_header))
    return 200, items, body


def respond(rendered: Rendered, cache_control: str, *, vary: str = VARY) -> Response:
    status, items, body = answer(request.environ, rendered, cache_control, vary=vary)
    return Response(body or None, status=status, headers=_trusted(items))


def _trusted(items: list[tuple[str, str]]) -> Headers:
    """Headers from values formatted here, not from a request: werkzeug's per-value checks are skipped
    (they cost more than the rest of answering a cached document)."""
    headers = Headers()
    headers._list = items
    return headers


def _accepts_gzip(environ: dict[str, Any]) -> bool:
    offered: str = environ.get("HTTP_ACCEPT_ENCODING", "")
    if "gzip" not in offered:
        return False
    return "q=" not in offered or bool(
        parse_accept_header(offered)["gzip"]
    )  # weights: let werkzeug read them


def document_key(
    election: str, number: int, sequence: int, resource: tuple[Hashable, ...], *, as_csv: bool = False
) -> Hashable:
    """How a rendered document is cached, by the Flask views and ahead of them (api.web.fastpath): by round
    and sequence, so an entry never goes stale; a document's CSV form apart from its JSON."""
    return (election, number, sequence, (*resource, CSV) if as_csv else resource)


class DocumentCache:
    """A bounded LRU of rendered documents; keys include the sequence, so entries never go stale.

    Bounded in entries and in bytes: a national commune feed is megabytes, and a night of sequences of it
    must not fill a worker's memory (the newest entry is always kept)."""

    def __init__(self, capacity: int = 2_048, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, Rendered] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        # Striped build locks: a fixed set, so that no lock is kept per key; two documents that share a
        # stripe are built one after the other, which is rare with 8 threads and harmless.
        self._builds = [threading.Lock() for _ in range(BUILD_STRIPES)]

    def building(self, key: Hashable) -> threading.Lock:
        """The lock to hold while building the document of `key`: whoever holds it builds, the others
        wait and then find it cached."""
        return self._builds[hash(key) % BUILD_STRIPES]

    def put(self, key: Hashable, rendered: Rendered) -> None:
        with self._lock:
            if (replaced := self._entries.pop(key, None)) is not None:
                self._bytes -= len(replaced.body)
            self._entries[key] = rendered
            self._bytes += len(rendered.body)
            while len(self._entries) > 1 and (
                len(self._entries) > self.capacity or self._bytes > self.max_bytes
            ):
                self._bytes -= len(self._entries.popitem(last=False)[1].body)

    def get(self, key: Hashable) -> Rendered | None:
        with self._lock:
            return self._entries.get(key)
