"""The API's documentation, served by gunicorn, in Debian's chromium on a phone's screen: the whole
OpenAPI document on one page that runs no script and asks for nothing but its stylesheet."""

from __future__ import annotations

import json
import urllib.request

from api.web.api_docs import POLICY
from tests.e2e.conftest import Server

PHONE = {"width": 390, "height": 844}


def test_every_operation_and_schema_is_on_a_page_that_loads_only_its_stylesheet(
    gunicorn: Server, browser, artifacts
):
    with urllib.request.urlopen(f"{gunicorn.url}/api/v1/openapi.json") as answer:
        document = json.load(answer)
    page = browser.new_page(viewport=PHONE)
    asked: list[str] = []
    failures: list[str] = []
    page.on("request", lambda request: asked.append(request.url.removeprefix(gunicorn.url).split("?")[0]))
    page.on("console", lambda message: failures.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: failures.append(str(exc)))

    answer = page.goto(f"{gunicorn.url}/api/v1/docs")
    page.screenshot(path=str(artifacts / "api-docs-phone.png"))

    assert (answer.status, answer.headers["content-security-policy"]) == (200, POLICY)
    assert sorted(asked) == ["/api/v1/docs", "/static/favicon.svg", "/static/page/page.css"]
    assert failures == []
    drawn = set(page.locator(".paths code").all_inner_texts())
    assert drawn == set(document["paths"])
    headings = set(page.locator(".schema h3").all_inner_texts())
    assert headings == set(document["components"]["schemas"])
    # Nothing wider than the phone: no sideways scrolling to read a path or a schema.
    assert page.evaluate("document.documentElement.scrollWidth") == PHONE["width"]
    # A link to a schema lands on its heading.
    page.locator("a[href='#schema-ResultsDocument']").first.click()
    assert page.evaluate("location.hash") == "#schema-ResultsDocument"
    assert page.locator("#schema-ResultsDocument").is_visible()
