"""The public page in a real browser (Debian's chromium) against gunicorn, while the night replays."""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.sync_api import Page, expect

from api import replay, store
from api.store import db
from tabulator.batch import ReturnBatch
from tests.builders import build_return
from tests.e2e.conftest import FOLDER

ROUND = "/elections/primaire-gauche-2017/rounds/2/"
API = "/api/v1/elections/primaire-gauche-2017/rounds/2"
NNBSP = "\u202f"  # the page's thousands separator, and the space before % in French


def french(value: float, decimals: int = 0) -> str:
    text = f"{value:,.{decimals}f}"
    return text.replace(",", NNBSP).replace(".", ",")


def api_json(base: str, path: str) -> dict:
    with urllib.request.urlopen(f"{base}{API}{path}", timeout=10) as answer:
        return json.load(answer)


def shown(page: Page) -> dict:
    """The figures the national block shows, as text, with the sequence they belong to: read in one go,
    so that the page's script cannot update it halfway through."""
    return page.evaluate(
        """() => {
        const block = document.querySelector("#results");
        const text = (selector) => block.querySelector(selector).textContent.trim();
        return {
            sequence: Number(block.dataset.sequence),
            bureaux_reported: text("[data-field=bureaux_reported]"),
            voters: text("[data-field=voters]"),
            hamon: text("[data-candidate=hamon] [data-field=pct_valid]"),
            valls_votes: text("[data-candidate=valls] [data-field=votes]"),
        };
    }"""
    )


def expected(document: dict) -> dict:
    results = document["results"]
    hamon, valls = results["candidates"]
    return {
        "sequence": document["sequence"],
        "bureaux_reported": french(results["bureaux_reported"]),
        "voters": french(results["voters"]),
        "hamon": f"{french(hamon['pct_valid'], 2)}{NNBSP}%",
        "valls_votes": french(valls["votes"]),
    }


def play_in_background(database_url: str, until: str, speed: float = 1_000_000) -> threading.Thread:
    """The night up to `until`; at speed 600, 19:05 to 20:30 plays in about nine seconds."""
    engine = db.make_engine(database_url)
    night = replay.read_night(FOLDER, 2, until)
    player = threading.Thread(target=replay.play, args=(engine, night), kwargs={"speed": speed})
    player.start()
    return player


def test_the_page_follows_the_replayed_night_without_a_reload(service, browser, artifacts):
    base, database_url = service
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base}{ROUND}")
    expect(page.locator("#results [data-field=bureaux_reported]")).to_have_text("0")
    # Nothing published yet: no chart, no turnout, nothing announced.
    assert page.evaluate("[evening.hidden, document.getElementById('turnout-section').hidden]") == [
        True,
        True,
    ]
    assert page.locator("[role=status]").text_content() == ""
    page.evaluate("window.notReloaded = true")

    player = play_in_background(database_url, "20:30", speed=600)
    # The first returns to arrive while the night plays: the page's sequence and the API's agree.
    reported = page.locator("#results [data-field=bureaux_reported]")
    expect(reported).not_to_have_text("0", timeout=30_000)
    during = shown(page)
    assert during == expected(api_json(base, f"/snapshots/{during['sequence']}/results"))
    player.join()

    final = api_json(base, "/current")["sequence"]
    expect(page.locator("#results")).to_have_attribute("data-sequence", str(final), timeout=30_000)
    assert shown(page) == {
        "sequence": final,
        "bureaux_reported": f"4{NNBSP}322",
        "voters": f"1{NNBSP}101{NNBSP}180",
        "hamon": f"58,65{NNBSP}%",
        "valls_votes": f"447{NNBSP}973",
    }
    assert page.evaluate("window.notReloaded") is True
    paris = ZoneInfo("Europe/Paris")
    current = api_json(base, "/current")
    published = datetime.fromisoformat(current["published_at"]).astimezone(paris)
    # One polite live region said what changed; the chart and the turnout followed without a reload.
    expect(page.locator("#results [role=status]")).to_have_text(
        f"Mis à jour à {published:%H:%M} · 4{NNBSP}322 bureaux sur 7{NNBSP}208"
    )
    timeline = api_json(base, "/timeline")["timeline"]
    last = datetime.fromisoformat(timeline[-1]["as_of"]).astimezone(paris)
    expect(page.locator(".chart svg text.time").last).to_have_text(f"{last:%H:%M}")
    expect(page.locator("#evening-table tbody tr").last.locator("th")).to_have_text(f"{last:%H:%M}")
    checkpoints = api_json(base, "/turnout")["checkpoints"]
    assert checkpoints, "the night's turnout checkpoints"
    expect(page.locator("#turnout tbody tr")).to_have_count(len(checkpoints))
    expect(page.locator("#turnout tbody tr").first.locator("td").nth(1)).to_have_text(
        french(checkpoints[0]["voters"])
    )
    # None of the night's corrections came by 20:30: one now, and the page shows it without a reload.
    assert page.evaluate("document.getElementById('corrections-none').hidden") is False
    found = api_json(base, "/results")
    while found["area"]["level"] != "bureau":  # down to a bureau that has reported
        child = next(c for c in found["children"] if c["bureaux_reported"])
        found = api_json(base, f"/results/{child['level']}/{child['code']}")
    code, last = found["area"]["code"], found["versions"][-1]
    corrected = build_return(code, votes=last["votes"], blank=last["blank"], null=last["null"] + 1)
    engine = db.make_engine(database_url)
    store.record_returns(
        engine,
        "primaire-gauche-2017",
        2,
        ReturnBatch.of([corrected], tuple(last["votes"])),
        author="clerk",
        reason="Recompte",
    )
    engine.dispose()
    corrections: list = []
    deadline = time.monotonic() + 15
    while not corrections and time.monotonic() < deadline:  # a worker trusts its latest sequence ~2 s
        corrections = api_json(base, "/corrections")["corrections"]
        time.sleep(0.2)
    assert [c["bureau"] for c in corrections] == [code]
    expect(page.locator("#corrections tbody tr")).to_have_count(1, timeout=15_000)
    newest = page.locator("#corrections tbody tr").first
    expect(newest.locator("th")).to_have_text(corrections[-1]["name"])
    expect(newest.locator("td").last).to_have_text(corrections[-1]["reason"] or "")
    assert page.evaluate("document.getElementById('corrections-none').hidden") is True
    database = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    page.screenshot(path=artifacts / f"national-desktop-{database}.png", full_page=True)

    phone = browser.new_page(viewport={"width": 320, "height": 640})
    phone.goto(f"{base}{ROUND}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 320
    # page.js wrote the line the server writes: the night's date (2017) and today's publication, both shown.
    as_of_line = "#results [data-field=as_of_line]"
    assert page.locator(as_of_line).text_content() == phone.locator(as_of_line).text_content()
    assert (
        page.locator(as_of_line)
        .text_content()
        .startswith("Données arrêtées le 29/01/2017 à 20:29, publiées le ")
    )
    phone.screenshot(path=artifacts / f"national-phone-320-{database}.png", full_page=True)


def test_the_evening_chart_s_time_labels_fit_whole_at_every_width(service, browser, artifacts):
    base, database_url = service
    # The night in publications of five minutes each (600× with half-second ticks), without the waits.
    engine = db.make_engine(database_url)
    replay.play(engine, replay.read_night(FOLDER, 2, "20:30"), speed=600, sleep=lambda _: None)
    engine.dispose()
    timeline = api_json(base, "/timeline")["timeline"]
    last = datetime.fromisoformat(timeline[-1]["as_of"]).astimezone(ZoneInfo("Europe/Paris"))
    for width in (320, 375, 768, 1024, 1280):
        page = browser.new_page(viewport={"width": width, "height": 900})
        page.goto(f"{base}{ROUND}")
        page.wait_for_selector(".chart svg[width]")  # page.js drew it again for the width it has
        page.locator(".chart svg").scroll_into_view_if_needed()
        page.locator(".chart").screenshot(path=artifacts / f"chart-{width}.png")
        # Every text of the chart at 12 px or more on screen: its font size times the drawing's scale.
        sizes = page.evaluate(
            "Array.from(document.querySelectorAll('.chart svg text'), t =>"
            " t.getScreenCTM().a * parseFloat(getComputedStyle(t).fontSize))"
        )
        assert len(sizes) >= 7 and min(sizes) >= 12, (width, sizes)
        chart = page.locator(".chart svg").bounding_box()
        labels = page.locator(".chart svg text.time")
        boxes = [labels.nth(i).bounding_box() for i in range(labels.count())]
        texts = labels.all_text_contents()
        assert texts[-1] == f"{last:%H:%M}", width  # the last publication's time, whole
        for text, box in zip(texts, boxes, strict=True):
            assert chart["x"] <= box["x"], (width, text, box, chart)
            assert box["x"] + box["width"] <= chart["x"] + chart["width"], (width, text, box, chart)
        for left, right in itertools.pairwise(boxes):
            assert left["x"] + left["width"] < right["x"], (width, texts, boxes)  # no two labels overlap
        page.close()


def test_a_reader_drills_down_to_a_bureau_and_switches_to_english(service, browser):
    base, database_url = service
    play_in_background(database_url, "20:30").join()
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{base}{ROUND}")
    for name in ("Île-de-France", "Paris", "1re circonscription de Paris"):
        page.locator("#children").get_by_role("link", name=name, exact=True).click()
        expect(page.locator("h1")).to_contain_text(name)
    page.locator("#children a").first.click()
    expect(page.locator("h1")).to_contain_text("Bureau")
    code = page.locator("#results").get_attribute("data-code")
    bureau = api_json(base, f"/results/bureau/{code}")
    assert shown(page) == expected(bureau)

    page.goto(f"{base}{ROUND}")
    page.get_by_role("link", name="EN", exact=True).click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#results [data-candidate=hamon] [data-field=pct_valid]")).to_have_text("58.65%")
    expect(page.locator("#results [data-field=voters]")).to_have_text("1,101,180")


def test_before_the_embargo_lifts_the_page_counts_down_and_shows_nothing(service, browser):
    base, database_url = service
    play_in_background(database_url, "20:30").join()
    engine = db.make_engine(database_url)
    lift = (datetime.now(UTC) + timedelta(hours=1, minutes=30)).replace(microsecond=0)
    store.update_round(engine, "primaire-gauche-2017", 2, results_not_before=lift)
    page = browser.new_page()
    page.goto(f"{base}{ROUND}")
    countdown = page.locator("[data-countdown]")
    expect(countdown).to_be_visible()
    first = int(countdown.get_attribute("data-countdown") or 0)
    assert 5_300 < first <= 5_400
    expect(countdown).not_to_have_text(countdown.inner_text(), timeout=5_000)  # it ticks
    assert page.locator("[data-field=voters]").count() == 0
    # The voters of 20:30 (1,101,180) appear nowhere a reader sees; the text, not the
    # markup, since a timestamp's digits in an attribute could spell them by chance.
    assert "101" not in page.locator("body").inner_text()


def test_on_a_phone_every_region_s_row_shows_its_leader_without_scrolling(service, browser, artifacts):
    base, database_url = service
    play_in_background(database_url, "20:30").join()
    document = api_json(base, "/results")
    names = {c["id"]: c["name"] for c in document["results"]["candidates"]}
    expected_rows = {}
    for child in document["children"]:
        lead = next(c for c in child["candidates"] if c["id"] == child["leader"])
        expected_rows[child["name"]] = f"{names[lead['id']]} {french(lead['pct_valid'], 2)}{NNBSP}%"
    page = browser.new_page(viewport={"width": 390, "height": 844})
    page.goto(f"{base}{ROUND}")
    rows = page.locator("#children tbody tr")
    found = {}
    for i in range(rows.count()):
        name, leader = rows.nth(i).locator("th"), rows.nth(i).locator("[data-field=leader]")
        box = leader.bounding_box()
        assert box["x"] + box["width"] <= 390, (name.text_content(), box)  # on screen without scrolling
        found[name.text_content()] = leader.text_content()
    assert found == expected_rows
    page.locator("#children").scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "regions-phone-390.png")
