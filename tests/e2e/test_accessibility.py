"""axe-core (the copy axe-playwright-python ships) on the pages a citizen reads during the night, at a
phone's width and a desktop's: no violation of WCAG 2.0, 2.1 and 2.2, levels A and AA."""

from __future__ import annotations

import json
import urllib.request

import pytest
from axe_playwright_python.sync_playwright import Axe

from api import store
from api.store import db
from tests.e2e.test_results_page import ROUND, play_in_background

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
API = "/api/v1/elections/primaire-gauche-2017/rounds/2"


def first_child(base: str, level: str | None, code: str | None) -> tuple[str, str]:
    path = f"{API}/results" + (f"/{level}/{code}" if level else "")
    with urllib.request.urlopen(f"{base}{path}") as response:
        child = json.load(response)["children"][0]
    return child["level"], child["code"]


def pages(base: str) -> dict[str, str]:
    """The national page, an area at each level down to a bureau, the search, the embed, the API docs."""
    found = {
        "national": ROUND,
        "search": f"{ROUND}search?q=paris",
        "embed": f"/embed{ROUND}",
        "docs": "/api/v1/docs",
    }
    level, code = None, None
    while level != "bureau":
        level, code = first_child(base, level, code)
        found[level] = f"{ROUND}{level}/{code}"
    return found


@pytest.mark.parametrize("width", [390, 1280])
def test_no_page_breaks_wcag_2_2_aa_at_a_phone_s_width_or_a_desktop_s(service, browser, width):
    base, database_url = service
    # The estimate on the page too (a round whose projection is public), labelled beside each share.
    store.update_round(db.make_engine(database_url), "primaire-gauche-2017", 2, projection="public")
    play_in_background(database_url, "20:30").join()
    axe = Axe()
    found = {}
    for name, path in pages(base).items():
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle")
        results = axe.run(page, options={"runOnly": {"type": "tag", "values": TAGS}})
        if results.violations_count:
            found[name] = results.generate_report()
        page.close()
    assert not found, "\n".join(f"{name}: {report}" for name, report in found.items())
