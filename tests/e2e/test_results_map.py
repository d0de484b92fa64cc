"""The départements' map in chromium: a shape each, a click leads to the département, the night recolours
it."""

from __future__ import annotations

from playwright.sync_api import expect

from api.web.pages import PALETTE
from api.web.results_map import NOTHING_YET
from tests.e2e.test_results_page import ROUND, play_in_background


def test_the_map_follows_the_night_and_leads_to_each_departement(service, browser, artifacts):
    base, database_url = service
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{base}{ROUND}")
    shapes = page.locator("figure.map a[data-code]")
    finistere = page.locator('figure.map a[data-code="29"] path')

    # Before any count: every shape is there, grey.
    assert shapes.count() == 106
    assert set(
        page.locator("figure.map path").evaluate_all("paths => paths.map(p => p.getAttribute('fill'))")
    ) == {NOTHING_YET}
    page.evaluate("window.notReloaded = true")
    play_in_background(database_url, "20:30").join()
    expect(finistere).to_have_attribute("fill", PALETTE[0], timeout=30_000)  # Benoît Hamon's
    assert (
        page.locator('figure.map a[data-code="29"] title')
        .text_content()
        .startswith("Finistère : Benoît Hamon en tête")
    )
    assert page.evaluate("window.notReloaded") is True
    page.locator("#map-section").screenshot(path=str(artifacts / "map-phone.png"))

    finistere.click()
    page.wait_for_url(f"{base}{ROUND}departement/29")
    assert page.locator("h1").inner_text().startswith("Finistère")
