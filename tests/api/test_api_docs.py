"""The API docs page (api/web/api_docs.py): what it reads of an OpenAPI document, and the page it serves."""

from __future__ import annotations

import gzip
import re
from itertools import pairwise

from api.web.api_docs import Answer, Docs, Field, Group, Operation, Schema, Type, docs_of, markdown

SMALL = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "v1", "description": "Intro.\n\n## Polling\n\nAsk `often`."},
    "tags": [{"name": "results", "description": "Reads."}],
    "paths": {
        "/r": {
            "get": {
                "tags": ["results"],
                "summary": "Results.",
                "description": "The results.",
                "responses": {
                    "200": {
                        "description": "OK",
                        "headers": {"ETag": {"$ref": "#/components/headers/ETag"}},
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Doc"}}},
                    },
                    "default": {"$ref": "#/components/responses/Gone"},
                },
            }
        },
        "/r/{code}": {
            "parameters": [{"in": "path", "name": "code", "required": True, "schema": {"type": "string"}}],
            "get": {
                "tags": ["results"],
                "summary": "Results (one area)",
                "description": "The results.",
                "parameters": [
                    {
                        "in": "query",
                        "name": "n",
                        "schema": {"type": "integer", "minimum": 0, "maximum": 2147483647},
                        "description": "How many.",
                    }
                ],
                "responses": {"404": {"$ref": "#/components/responses/Gone"}},
            },
        },
    },
    "components": {
        "schemas": {
            "Doc": {
                "type": "object",
                "properties": {
                    "rows": {"type": "array", "items": {"$ref": "#/components/schemas/Row"}},
                    "status": {"type": "string", "enum": ["partial", "complete"], "nullable": True},
                },
                "required": ["rows"],
            },
            "Row": {"type": "object", "description": "A row.", "properties": {}},
        },
        "responses": {"Gone": {"description": "Not here. Ask elsewhere."}},
        "headers": {"ETag": {"description": "The version.", "schema": {"type": "string"}}},
    },
}


def test_paths_of_one_document_are_written_once_with_the_parameters_and_answers_of_any():
    doc = Type("Doc", "Doc")
    gone = Answer("404", "Not here. Ask elsewhere.", "Gone", (), ())
    assert docs_of(SMALL) == Docs(
        title="t",
        version="v1",
        guide="Intro.\n\n## Polling\n\nAsk `often`.",
        groups=(
            Group(
                name="results",
                anchor="tag-results",
                description="Reads.",
                operations=(
                    Operation(
                        anchor="get-r",
                        method="GET",
                        paths=(("get-r", "/r"), ("get-r-code", "/r/{code}")),
                        summary="Results.",
                        description="The results.",
                        secured=False,
                        parameters=(
                            Field("code", Type("string"), True, "", "path", "code"),
                            Field("n", Type("integer (≥ 0)"), False, "How many.", "query", "n"),
                        ),
                        body=(),
                        answers=(
                            Answer("200", "OK", None, (("application/json", doc),), (("ETag", "ETag"),)),
                            gone,
                            Answer("default", "Not here. Ask elsewhere.", "Gone", (), ()),
                        ),
                    ),
                ),
            ),
        ),
        schemas=(
            Schema(
                name="Doc",
                anchor="schema-Doc",
                description="",
                type=Type("object"),
                properties=(
                    Field("rows", Type("array of Row", "Row"), True, "", "", "rows"),
                    Field(
                        "status", Type("string", None, ("partial", "complete"), True), False, "", "", "status"
                    ),
                ),
            ),
            Schema("Row", "schema-Row", "A row.", Type("object"), ()),
        ),
        answers=(Answer("Gone", "Not here. Ask elsewhere.", None, (), ()),),
        headers=(Field("ETag", Type("string"), False, "The version.", "", "ETag"),),
        security=(),
    )
    assert gone.summary == "Not here."


def test_markdown_is_rendered_without_raw_html_and_headings_get_anchors():
    assert markdown("## Polling on the night\n\n<script>x()</script> `a<b`") == (
        '<h2 id="polling-on-the-night">Polling on the night</h2>\n'
        "<p>&lt;script&gt;x()&lt;/script&gt; <code>a&lt;b</code></p>\n"
    )


def test_the_page_is_made_once_compressed_and_revalidated(client):
    first = client.get("/api/v1/docs", headers={"Accept-Encoding": "gzip"})
    again = client.get("/api/v1/docs", headers={"If-None-Match": first.headers["ETag"]})
    page = gzip.decompress(first.data).decode()
    assert (first.status_code, first.headers["Cache-Control"], again.status_code, again.data) == (
        200,
        "public, max-age=3600",
        304,
        b"",
    )
    assert page.startswith('<!doctype html>\n<html lang="en">')
    # Headings in order, h1 to h4, none skipped: the guide's sections are h2 like the operations' groups.
    levels = [int(level) for level in re.findall(r"<h([1-6])[ >]", page)]
    assert levels[0] == 1 and all(after <= before + 1 for before, after in pairwise(levels))
    assert sorted(set(levels)) == [1, 2, 3, 4]
    assert '<h2 id="polling-on-election-night">Polling on election night</h2>' in page
    assert '<a href="#polling-on-election-night">Polling on election night</a>' in page


def test_crawlers_read_the_pages_and_the_docs_not_the_json_api(client):
    robots = client.get("/robots.txt")
    assert (robots.status_code, robots.mimetype, robots.get_data(as_text=True).splitlines()[1:]) == (
        200,
        "text/plain",
        ["User-agent: *", "Allow: /api/v1/docs", "Disallow: /api/"],
    )
