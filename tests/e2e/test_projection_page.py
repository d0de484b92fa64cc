"""A round whose projection is public: the estimate on the page, labelled, following the night (chromium)."""

from __future__ import annotations

from playwright.sync_api import expect

from api import store
from api.store import db
from tests.e2e.test_results_page import NNBSP, ROUND, play_in_background

NBSP = "\u00a0"


def test_the_estimate_is_labelled_and_follows_the_night_without_a_reload(service, browser, artifacts):
    base, database_url = service
    store.update_round(db.make_engine(database_url), "primaire-gauche-2017", 2, projection="public")
    for moment in ("19:30", "19:45", "20:00", "20:15", "20:30"):  # a publication each: the band's points
        play_in_background(database_url, moment).join()
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{base}{ROUND}")
    hamon = page.locator("#results [data-candidate=hamon] [data-field=estimate]")
    note = page.locator("#results [data-field=estimate_note]")

    expect(hamon).to_have_text(f"estimation{NBSP}: 58,42{NNBSP}% (57,65 – 59,18)")
    expect(note).to_contain_text(f"à partir des 4{NNBSP}322 bureaux dépouillés")
    page.locator("#results").screenshot(path=str(artifacts / "projection-phone.png"))
    # The evening's chart carries the band of the first two, and says what it is.
    bands = page.locator("#evening svg polygon.band")
    expect(bands).to_have_count(2)
    expect(page.locator("#evening [data-field=band_legend]")).to_be_visible()
    before = bands.first.get_attribute("points")
    page.locator("#evening").screenshot(path=str(artifacts / "projection-band-phone.png"))
    page.evaluate("window.notReloaded = true")

    play_in_background(database_url, "21:17").join()
    # The next poll brings the new count and, beside it, the new estimate.
    expect(note).not_to_contain_text(f"4{NNBSP}322", timeout=30_000)
    assert hamon.text_content().startswith(f"estimation{NBSP}: ")
    assert hamon.text_content() != f"estimation{NBSP}: 58,42{NNBSP}% (57,65 – 59,18)"
    expect(bands.first).not_to_have_attribute("points", before, timeout=30_000)  # the chart follows too
    expect(bands).to_have_count(2)
    assert page.evaluate("window.notReloaded") is True
