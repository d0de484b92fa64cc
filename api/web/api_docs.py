"""The API's documentation at `/api/v1/docs`: the OpenAPI document the app serves, written out as one
HTML page on the server.

Light on a phone and offline by construction: no script, no font, no request but this page and the
results pages' stylesheet; headings in order, definition lists that reflow at any width, the guide's and
the descriptions' Markdown rendered with HTML switched off. Built once per process from the same
`api.spec` that `/api/v1/openapi.json` serves, so the two cannot disagree.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from flask import Response, render_template
from markdown_it import MarkdownIt
from markupsafe import Markup

from api.web.http import CURRENT, rendered_bytes, respond

PATH = "/api/v1/docs"
METHODS = ("get", "put", "post", "patch", "delete")
# Revalidated after an hour: the page changes only with a deploy, and its ETag is its content's digest.
CACHE_CONTROL = CURRENT.format(seconds=3600)
# Nothing but this origin's stylesheet and icon: the page runs no script and loads no font. `connect-src
# 'self'` lets audits that run in the page (Lighthouse's robots.txt check) read this origin.
POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)
_MARKDOWN = MarkdownIt("commonmark", {"html": False})


@dataclass(frozen=True)
class Type:
    """How a value is written: `text` (`string`, `array of`…), the schema it names (a link) and its
    allowed values."""

    text: str
    schema: str | None = None
    values: tuple[str, ...] = ()
    nullable: bool = False


@dataclass(frozen=True)
class Field:
    """A parameter, a property or a header: its name, type, whether it must be there, what it means."""

    name: str
    type: Type
    required: bool
    description: str
    place: str = ""  # a parameter's `in`: path, query, header
    shown: str = ""  # a shared header's name on the wire, where its component's name differs


@dataclass(frozen=True)
class Answer:
    status: str
    description: str
    shared: str | None  # the shared answer's name, when the operation refers to one
    bodies: tuple[tuple[str, Type | None], ...]  # media type, schema
    headers: tuple[tuple[str, str], ...]  # the header's name, its shared description's name

    @property
    def summary(self) -> str:
        """The first sentence: what an operation's list of answers shows of a shared answer."""
        return self.description.split(". ", 1)[0].rstrip(".") + "."


@dataclass(frozen=True)
class Operation:
    """One operation, or several that differ only by their path (an area, a snapshot): one description,
    every path listed with its own anchor, the parameters and answers of any of them."""

    anchor: str
    method: str
    paths: tuple[tuple[str, str], ...]  # anchor, path
    summary: str
    description: str
    secured: bool
    parameters: tuple[Field, ...]
    body: tuple[tuple[str, Type | None], ...]
    answers: tuple[Answer, ...]


@dataclass(frozen=True)
class Group:
    """The operations of one tag, in the order the document lists them."""

    name: str
    anchor: str
    description: str
    operations: tuple[Operation, ...]


@dataclass(frozen=True)
class Schema:
    name: str
    anchor: str
    description: str
    type: Type
    properties: tuple[Field, ...]


@dataclass(frozen=True)
class Docs:
    title: str
    version: str
    guide: str
    groups: tuple[Group, ...]
    schemas: tuple[Schema, ...]
    answers: tuple[Answer, ...]
    headers: tuple[Field, ...]
    security: tuple[tuple[str, str], ...]


def docs_of(document: dict[str, Any]) -> Docs:
    """The page's content, from an OpenAPI 3.0 document as apispec writes it."""
    components = document.get("components", {})
    info = document["info"]
    return Docs(
        title=info["title"],
        version=info["version"],
        guide=info.get("description", ""),
        groups=tuple(_groups(document)),
        schemas=tuple(_schema(name, schema) for name, schema in components.get("schemas", {}).items()),
        answers=tuple(
            _answer(name, item, components) for name, item in components.get("responses", {}).items()
        ),
        headers=tuple(
            _field(name, item, required=False, shown=_header_names(document).get(name, name))
            for name, item in components.get("headers", {}).items()
        ),
        security=tuple(
            (name, scheme.get("description", ""))
            for name, scheme in components.get("securitySchemes", {}).items()
        ),
    )


def _groups(document: dict[str, Any]) -> Iterable[Group]:
    """Each tag's operations, those of one method and one description (the same document at another
    path) written once."""
    operations: dict[str, dict[tuple[str, str], Operation]] = {}
    components = document.get("components", {})
    for path, item in document["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method in item:
                operation = _operation(path, method, item[method], shared, components)
                variants = operations.setdefault(item[method].get("tags", ["other"])[0], {})
                key = (operation.method, operation.description)
                variants[key] = _merged(variants[key], operation) if key in variants else operation
    described = {tag["name"]: tag.get("description", "") for tag in document.get("tags", [])}
    for name in [*described, *(tag for tag in operations if tag not in described)]:
        if name in operations:
            yield Group(name, f"tag-{name}", described.get(name, ""), tuple(operations[name].values()))


def _merged(first: Operation, other: Operation) -> Operation:
    """The shortest summary (the variants add "(one area)", "(as published at a sequence)")."""
    known = {(item.name, item.place) for item in first.parameters}
    statuses = {item.status for item in first.answers}
    return replace(
        first,
        paths=first.paths + other.paths,
        summary=min(first.summary, other.summary, key=len),
        parameters=first.parameters
        + tuple(item for item in other.parameters if (item.name, item.place) not in known),
        answers=tuple(
            sorted(
                first.answers + tuple(item for item in other.answers if item.status not in statuses),
                key=lambda item: _status_order(item.status),
            )
        ),
        secured=first.secured or other.secured,
    )


def _operation(
    path: str,
    method: str,
    operation: dict[str, Any],
    shared: list[dict[str, Any]],
    components: dict[str, Any],
) -> Operation:
    parameters = [*shared, *operation.get("parameters", [])]
    responses = operation.get("responses", {})
    anchor = _slug(f"{method} {path}")
    return Operation(
        anchor=anchor,
        method=method.upper(),
        paths=((anchor, path),),
        summary=operation.get("summary", ""),
        description=operation.get("description", ""),
        secured=bool(operation.get("security")),
        parameters=tuple(
            _field(item["name"], item, item.get("required", False), place=item["in"]) for item in parameters
        ),
        body=_bodies(operation.get("requestBody", {})),
        answers=tuple(
            _answer(status, responses[status], components) for status in sorted(responses, key=_status_order)
        ),
    )


def _status_order(status: str) -> tuple[int, str]:
    return (1, status) if not status.isdigit() else (0, status)  # `default` last


def _answer(status: str, item: dict[str, Any], components: dict[str, Any]) -> Answer:
    shared = _referred(item)
    found = components.get("responses", {}).get(shared, {}) if shared else item
    return Answer(
        status=status,
        description=found.get("description", ""),
        shared=shared,
        bodies=_bodies(found),
        headers=tuple((name, _referred(value) or name) for name, value in found.get("headers", {}).items()),
    )


def _bodies(item: dict[str, Any]) -> tuple[tuple[str, Type | None], ...]:
    return tuple(
        (media, _type(content["schema"]) if "schema" in content else None)
        for media, content in item.get("content", {}).items()
    )


def _schema(name: str, schema: dict[str, Any]) -> Schema:
    required = set(schema.get("required", []))
    properties = schema.get("properties", {})
    return Schema(
        name=name,
        anchor=schema_anchor(name),
        description=schema.get("description", ""),
        type=_type(schema),
        properties=tuple(_field(key, value, key in required) for key, value in properties.items()),
    )


def _field(name: str, item: dict[str, Any], required: bool, *, place: str = "", shown: str = "") -> Field:
    schema = item.get("schema", item)
    return Field(name, _type(schema), required, item.get("description", ""), place, shown or name)


def _header_names(document: dict[str, Any]) -> dict[str, str]:
    """Each shared header's name on the wire (`Last-Modified` for `LastModified`), from the answers that
    use it."""
    answers = [*document.get("components", {}).get("responses", {}).values()]
    for item in document["paths"].values():
        answers += [
            answer
            for method in METHODS
            if method in item
            for answer in item[method].get("responses", {}).values()
        ]
    return {
        referred: name
        for answer in answers
        for name, header in answer.get("headers", {}).items()
        if (referred := _referred(header))
    }


def _type(schema: dict[str, Any]) -> Type:
    """`string`, `integer ≥ 0`, `array of ChildRow`, `ReturnVersion or ChildRow`…"""
    referred = _referred(schema)
    if referred:
        return Type(referred, referred)
    for combined, word in (("allOf", " and "), ("anyOf", " or "), ("oneOf", " or ")):
        if combined in schema:
            parts = [_type(part) for part in schema[combined]]
            named = [part.schema for part in parts if part.schema]
            if len(parts) == 1:
                return parts[0]
            return Type(word.join(part.text for part in parts), named[0] if len(named) == 1 else None)
    nullable = bool(schema.get("nullable"))
    values = tuple(str(value) for value in schema.get("enum", []))
    kind = schema.get("type", "object" if "properties" in schema else "any")
    if kind == "array":
        items = _type(schema.get("items", {}))
        return Type(f"array of {items.text}", items.schema, items.values, nullable)
    return Type(f"{kind}{_bounds(schema)}", None, values, nullable)


def _bounds(schema: dict[str, Any]) -> str:
    bounds = [
        f"{symbol} {schema[key]}"
        for key, symbol in (
            ("minimum", "≥"),
            ("maximum", "≤"),
            ("minLength", "length ≥"),
            ("maxLength", "length ≤"),
        )
        if key in schema and not (key == "maximum" and schema[key] == 2**31 - 1)  # the database's bound
    ]
    return f" ({', '.join(bounds)})" if bounds else ""


def _referred(item: dict[str, Any]) -> str | None:
    reference = item.get("$ref")
    return reference.rsplit("/", 1)[-1] if isinstance(reference, str) else None


def schema_anchor(name: str) -> str:
    return f"schema-{name}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def markdown(text: str) -> Markup:
    """CommonMark without raw HTML (a description cannot inject markup); headings get an id from their
    words so the contents can link to them."""
    tokens = _MARKDOWN.parse(text)
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            token.attrSet("id", _slug(tokens[index + 1].content))
    return Markup(_MARKDOWN.renderer.render(tokens, _MARKDOWN.options, {}))  # noqa: S704 - escaped by markdown-it


def guide_headings(text: str) -> list[tuple[str, str]]:
    """The guide's own `##` headings, as (anchor, words), for the contents."""
    tokens = _MARKDOWN.parse(text)
    return [
        (_slug(tokens[index + 1].content), tokens[index + 1].content)
        for index, token in enumerate(tokens)
        if token.type == "heading_open" and token.tag == "h2"
    ]


def view(spec: Callable[[], dict[str, Any]], asset: Callable[[str], str]) -> Callable[[], Response]:
    """The route: the page rendered on its first request (every blueprint is registered by then), then
    served from memory, gzipped when asked, with a 304 for an unchanged ETag."""
    rendered: list[Any] = []

    def docs_page() -> Response:
        if not rendered:
            document = spec()
            docs = docs_of(document)
            body = render_template(
                "docs.html",
                docs=docs,
                contents=guide_headings(docs.guide),
                markdown=markdown,
                asset=asset,
                openapi_version=document["openapi"],
            )
            rendered.append(rendered_bytes(body.encode(), content_type="text/html"))
        response = respond(rendered[0], CACHE_CONTROL)
        response.headers["Content-Security-Policy"] = POLICY
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    return docs_page
