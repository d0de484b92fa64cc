"""The API's documentation (Redoc, vendored) under its Content-Security-Policy, in Debian's chromium."""

from __future__ import annotations

from api.web.headers import DOCS_POLICY
from tests.e2e.conftest import Server

# Redoc 2.5 draws its vendor's logo from cdn.redoc.ly in the sidebar, whatever its options. These docs are
# offline (README), so the policy blocks that one image and Redoc hides it; nothing else may be blocked.
VENDOR_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def test_the_docs_render_and_search_with_nothing_of_ours_blocked(gunicorn: Server, browser, artifacts):
    page = browser.new_page()
    console: list[str] = []
    failures: list[str] = []
    page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: failures.append(str(exc)))
    page.on(
        "response",
        lambda response: (
            failures.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )

    answer = page.goto(f"{gunicorn.url}/api/v1/docs")
    page.wait_for_selector("text=Election results tabulated from versioned per-bureau returns")
    # The search runs in a Worker made from a blob: URL (worker-src blob:).
    page.locator("input[placeholder='Search...']").click()
    page.keyboard.type("turnout")
    results = page.locator("[data-role='search:results']")
    results.wait_for()
    page.screenshot(path=str(artifacts / "api-docs.png"))

    assert (answer.status, answer.headers["content-security-policy"]) == (200, DOCS_POLICY)
    assert "The day's turnout checkpoints" in results.inner_text()
    assert page.locator("h2").count() >= 20  # every operation drawn, styles applied by Redoc itself
    blocked = [text for text in console if "Content Security Policy" in text]
    assert [VENDOR_LOGO in text for text in blocked] == [True]
    # Nothing else went wrong: no script error, no request refused but the browser's own favicon.ico.
    assert [f for f in failures if not f.endswith("/favicon.ico")] == []
