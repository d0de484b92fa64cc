"""The public results pages, read as HTML on SQLite and PostgreSQL: the same figures as the API, formatted."""

from __future__ import annotations

import gzip
import hashlib
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

from api import store
from api.app import STATIC, _loaded_static
from api.web.pages import TEXT, Agreeing, as_of_line
from api.web.pages import search_label as label_for
from api.web.state import state_of
from tabulator import ministry
from tabulator.ingest import read_checkpoints_csv
from tabulator.registry import Registry
from tests.api.test_ministry import EXTRACT, NEW, import_ministry
from tests.api.test_primaire_2017 import ELECTION, FOLDER, replay_round_2, tabulator

PAGE = f"/elections/{ELECTION}/rounds/2/"
API = f"/api/v1/elections/{ELECTION}/rounds/2"
NNBSP = "\u202f"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Figures(HTMLParser):
    """The text of every element marked `data-field`, keyed by (candidate or child area, field)."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[dict[str, str | None]] = []
        self.open: list[tuple[tuple[str | None, str], list[str], int]] = []
        self.fields: dict[tuple[str | None, str], str] = {}
        self.attributes: dict[tuple[str | None, str], dict[str, str | None]] = {}
        self.blocks: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "block" in (found.get("class") or "").split():
            self.blocks.append(found)
        if tag in VOID:
            return
        self.stack.append(found)
        if "data-field" in found:
            owner = next(
                (
                    a.get("data-candidate") or a.get("data-child")
                    for a in reversed(self.stack)
                    if a.get("data-candidate") or a.get("data-child")
                ),
                None,
            )
            key = (owner, str(found["data-field"]))
            self.open.append((key, [], len(self.stack)))
            self.attributes.setdefault(key, found)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID or not self.stack:
            return
        if self.open and self.open[-1][2] == len(self.stack):
            key, text, _ = self.open.pop()
            self.fields.setdefault(key, "".join(text).strip())
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        for _, text, _ in self.open:
            text.append(data)


def figures(html: str) -> Figures:
    parser = Figures()
    parser.feed(html)
    return parser


def french(value: int) -> str:
    return f"{value:,}".replace(",", NNBSP)


def paris(moment: str) -> str:
    return datetime.fromisoformat(moment).astimezone(ZoneInfo("Europe/Paris")).strftime("%H:%M")


def paris_day(moment: str) -> str:
    return datetime.fromisoformat(moment).astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m/%Y")


def search_label(html: str) -> str:
    return re.search(r'<label for="q">([^<]*)</label>', html).group(1)


def loaded(database_url: str, make_app, *, replay: bool):
    tabulator(database_url, "load-election", str(FOLDER), "--rounds", "1")
    app = make_app(head_cache_seconds=0)
    engine = state_of(app).engine
    if replay:
        checkpoints = read_checkpoints_csv((FOLDER / "round-2" / "turnout.csv").read_bytes())
        store.record_checkpoints(engine, ELECTION, 2, checkpoints, author="replay")
        next(replay_round_2(engine, ["20:30"]))
    return app.test_client(), engine


def test_the_pages_show_the_api_figures_at_2030(database_url, make_app):
    client, _ = loaded(database_url, make_app, replay=True)
    api = client.get(f"{API}/results").get_json()
    response = client.get(PAGE)
    html = response.get_data(as_text=True)
    assert (response.status_code, response.mimetype) == (200, "text/html")
    assert '<html lang="fr">' in html
    shown = figures(html)
    # The figures announced at 20:30, as the API has them, written the French way.
    assert (api["results"]["bureaux_reported"], api["results"]["voters"]) == (4_322, 1_101_180)
    assert shown.fields[(None, "bureaux_reported")] == "4\u202f322"
    assert shown.fields[(None, "bureaux_total")] == "7\u202f208"
    assert shown.fields[(None, "voters")] == "1\u202f101\u202f180"
    assert shown.fields[("hamon", "pct_valid")] == "58,65\u202f%"
    assert shown.fields[("valls", "pct_valid")] == "41,35\u202f%"
    assert (
        shown.fields[("hamon", "votes")] == french(api["results"]["candidates"][0]["votes"]) == "635\u202f395"
    )
    assert shown.fields[(None, "blank")] == "9\u202f910"
    assert shown.fields[(None, "blank_pct_voters")] == "0,90\u202f%"
    assert shown.fields[(None, "null_pct_voters")] == "0,72\u202f%"
    assert shown.attributes[(None, "bureaux_progress")]["value"] == "4322"
    assert shown.attributes[(None, "bureaux_progress")]["max"] == "7208"
    assert shown.fields[(None, "status")] == "partiel"
    # The night's returns were cut on 29 January 2017 and published today: the line gives both dates.
    assert shown.fields[(None, "as_of_line")] == (
        f"Données arrêtées le 29/01/2017 à 20:29, "
        f"publiées le {paris_day(api['published_at'])} à {paris(api['published_at'])}"
    )
    assert search_label(html) == "Rechercher une région, un département, une circonscription ou un bureau"
    change = api["results"]["voters_change"]["like_for_like"]
    assert shown.fields[(None, "voters_change")] == (
        f"+{change['change_pct']:.2f}".replace(".", ",")
        + "\u202f% à bureaux comparables (4\u202f322 bureaux)"
    )
    assert [b["data-sequence"] for b in shown.blocks] == [str(api["sequence"])]
    assert "hidden" in shown.attributes[(None, "test")]  # not a test round: the banner hides
    # One row per région, each with the API's figures, linking down.
    for child in api["children"]:
        assert shown.fields[(child["code"], "voters")] == french(child["voters"])
        assert f'href="/elections/{ELECTION}/rounds/2/region/{child["code"]}"' in html
    # The evening, the day's turnout and the corrections log.
    assert "<svg" in html
    assert (
        '<td class="num">4\u202f322</td><td class="num">58,65\u202f%</td><td class="num">41,35\u202f%</td>'
        in html
    )
    assert '<th scope="row">17:00</th>' in html
    assert "+22,80\u202f% (5\u202f032 bureaux)" in html
    assert "Aucune correction." in html

    english = client.get(f"{PAGE}?lang=en").get_data(as_text=True)
    shown = figures(english)
    assert '<html lang="en">' in english
    assert shown.fields[("hamon", "pct_valid")] == "58.65%"
    assert (shown.fields[(None, "bureaux_reported")], shown.fields[(None, "voters")]) == (
        "4,322",
        "1,101,180",
    )
    assert f'href="/elections/{ELECTION}/rounds/2/region/11?lang=en"' in english
    assert shown.fields[(None, "as_of_line")] == (
        f"Data as of 20:29 on 29/01/2017, "
        f"published at {paris(api['published_at'])} on {paris_day(api['published_at'])} (Paris time)"
    )
    assert search_label(english) == "Search for a region, a département, a constituency or a polling station"
    assert f'href="{PAGE}"' in english  # the switch back to French

    # A bureau, as the API has it.
    bureau = client.get(f"{API}/results/bureau/91-03-0002").get_json()
    page = client.get(f"{PAGE}bureau/91-03-0002").get_data(as_text=True)
    shown = figures(page)
    assert [shown.fields[(c["id"], "votes")] for c in bureau["results"]["candidates"]] == [
        french(c["votes"]) for c in bureau["results"]["candidates"]
    ]
    assert f'href="/elections/{ELECTION}/rounds/2/circonscription/91-03"' in page  # its breadcrumbs
    assert client.get(f"{PAGE}bureau/99-99-9999").status_code == 404

    # The search finds areas and bureaux by name (without accents) or code.
    found = client.get(f"{PAGE}search?q=ile de france").get_data(as_text=True)
    assert f'href="/elections/{ELECTION}/rounds/2/region/11"' in found
    assert search_label(found) == "Rechercher une région, un département, une circonscription ou un bureau"
    found = client.get(f"{PAGE}search?q=91-03-0002&lang=en").get_data(as_text=True)
    assert f'href="/elections/{ELECTION}/rounds/2/bureau/91-03-0002?lang=en"' in found
    assert "1 result for “91-03-0002”" in found
    assert search_label(found) == "Search for a region, a département, a constituency or a polling station"

    # The embed: the block alone, framable.
    embed = client.get(f"/embed{PAGE}")
    body = embed.get_data(as_text=True)
    assert embed.status_code == 200
    assert "X-Frame-Options" not in embed.headers
    assert "frame-ancestors *" in embed.headers["Content-Security-Policy"]
    assert figures(body).fields[("hamon", "pct_valid")] == "58,65\u202f%"
    assert len(figures(body).blocks) == 1
    assert not any(marker in body for marker in ('id="children"', "<svg", 'role="search"', 'id="corrections'))

    # The national page (its style inline) and its script weigh well under 100 KB gzipped.
    sizes = [len(gzip.compress(client.get(PAGE).data))]
    for asset in re.findall(r'(?:href|src)="(/static/page/[^"]+)"', html):
        served = client.get(asset)
        assert served.status_code == 200
        sizes.append(len(gzip.compress(served.data)))
    assert len(sizes) == 2
    assert sum(sizes) < 100_000


def test_test_rounds_embargoes_and_the_home_page(database_url, make_app):
    client, engine = loaded(database_url, make_app, replay=False)
    home = client.get("/")
    assert (home.status_code, home.headers["Location"]) == (302, PAGE)
    assert client.get("/healthz").get_json() == {"status": "ok"}

    assert "hidden" in figures(client.get(PAGE).get_data(as_text=True)).attributes[(None, "test")]
    store.update_round(engine, ELECTION, 2, test=True)
    shown = figures(client.get(PAGE).get_data(as_text=True))
    assert "hidden" not in shown.attributes[(None, "test")]
    assert shown.fields[(None, "test")].startswith("Tour de test")

    lift = datetime.now(UTC) + timedelta(hours=1)
    store.update_round(engine, ELECTION, 2, results_not_before=lift)
    assert client.get(f"{API}/results").status_code == 403
    for path in (PAGE, f"/embed{PAGE}", f"{PAGE}region/11"):
        response = client.get(path)
        html = response.get_data(as_text=True)
        assert (response.status_code, response.headers["Cache-Control"]) == (200, "no-cache"), path
        assert "data-field" not in html and "data-sequence" not in html, path
        assert (
            f"Les résultats seront publiés à partir de {lift.astimezone(ZoneInfo('Europe/Paris')):%H:%M}"
            in html
        )
        remaining = int(re.search(r'data-countdown="(\d+)"', html).group(1))
        assert 3_590 <= remaining <= 3_601
    written = re.search(r'data-countdown="\d+"[^>]*>([^<]+)<', client.get(PAGE).get_data(as_text=True))
    assert re.fullmatch(r"1 h 00 min 0\d s|59 min 5\d s", written.group(1))  # the time left, written out


def test_the_cut_and_publication_times_carry_their_dates_when_they_fall_on_different_days():
    fr, en = TEXT["fr"], TEXT["en"]
    # The same evening in Paris: the hours say it all.
    assert as_of_line("2017-01-29T22:08:00+00:00", "2017-01-29T22:10:30+00:00", fr) == (
        "Données arrêtées à 23:08, publiées à 23:10"
    )
    assert as_of_line("2017-01-29T22:08:00+00:00", "2017-01-29T22:10:30+00:00", en) == (
        "Data as of 23:08, published at 23:10 (Paris time)"
    )
    # A round loaded days after its night: without the dates it would read as published before it was cut.
    assert as_of_line("2017-01-29T22:08:00+00:00", "2017-02-01T19:18:00+00:00", fr) == (
        "Données arrêtées le 29/01/2017 à 23:08, publiées le 01/02/2017 à 20:18"
    )
    assert as_of_line("2017-01-29T22:08:00+00:00", "2017-02-01T19:18:00+00:00", en) == (
        "Data as of 23:08 on 29/01/2017, published at 20:18 on 01/02/2017 (Paris time)"
    )
    # Days are Paris days: 22:58 and 23:05 UTC fall on the same UTC day but either side of Paris's midnight.
    assert as_of_line("2017-01-29T22:58:00+00:00", "2017-01-29T23:05:00+00:00", fr) == (
        "Données arrêtées le 29/01/2017 à 23:58, publiées le 30/01/2017 à 00:05"
    )
    assert as_of_line(None, None, fr) == "Aucun résultat publié pour l’instant"


def test_the_search_box_offers_the_levels_the_election_has():
    primary = ("national", "region", "departement", "circonscription")
    assert (
        label_for(primary, "fr") == "Rechercher une région, un département, une circonscription ou un bureau"
    )
    # A ministry file's levels are its two cuts' (the pages pass `Registry.columns`): the communes, then the
    # circonscriptions below the départements.
    columns = Registry.build(ministry.LEVELS, [ministry.NATIONAL], [], ministry.CUTS).columns
    assert columns == ("national", "region", "departement", "commune", "circonscription")
    assert label_for(columns, "fr") == (
        "Rechercher une région, un département, une commune, une circonscription ou un bureau"
    )
    assert label_for(columns, "en") == (
        "Search for a region, a département, a commune, a constituency or a polling station"
    )
    assert label_for(("national",), "fr") == "Rechercher un bureau"


# An election cut two ways: the ministry's file ----------------------------------------------------------

PRESIDENTIAL = "/elections/presidentielle-2017/rounds/2/"


class Tables(HTMLParser):
    """Each table of child areas (class `children`): its id, its section's heading, its caption, and its rows
    as (data-child, the link's target, the link's text)."""

    def __init__(self) -> None:
        super().__init__()
        self.heading = ""
        self.tables: list[dict[str, object]] = []
        self.reading: str | None = None  # "h2", "caption" or "a" while inside one
        self.row: dict[str, str] = {}
        self.inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {key: value or "" for key, value in attrs}
        if tag == "table" and "children" in found.get("class", "").split():
            self.inside = True
            self.tables.append({"id": found["id"], "heading": self.heading, "caption": "", "rows": []})
        elif tag == "h2":
            self.reading, self.heading = "h2", ""
        elif self.inside and tag == "caption":
            self.reading = "caption"
        elif self.inside and tag == "tr" and "data-child" in found:
            self.row = {"child": found["data-child"], "href": "", "name": ""}
        elif self.inside and tag == "a" and self.row:
            self.reading, self.row["href"] = "a", found["href"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self.inside = False
        elif tag == "tr" and self.row:
            rows = self.tables[-1]["rows"]
            assert isinstance(rows, list)
            rows.append((self.row["child"], self.row["href"], self.row["name"]))
            self.row = {}
        if tag in ("h2", "caption", "a"):
            self.reading = None

    def handle_data(self, data: str) -> None:
        if self.reading == "h2":
            self.heading += data
        elif self.reading == "caption":
            self.tables[-1]["caption"] = str(self.tables[-1]["caption"]) + data
        elif self.reading == "a" and self.row:
            self.row["name"] += data


def children_tables(html: str) -> list[dict[str, object]]:
    parser = Tables()
    parser.feed(html)
    return parser.tables


def shares(html: str, child: str) -> list[str]:
    """A child area's row: each candidate's share of the valid votes, as written."""
    row = re.search(rf'<tr data-child="{re.escape(child)}">(.*?)</tr>', html, re.S).group(1)
    return re.findall(r'data-field="pct_valid"[^>]*>([^<]*)<', row)


def crumbs(html: str) -> list[tuple[str, str]]:
    """The breadcrumbs' links (target, text), then the current page's name with no target."""
    nav = re.search(r'<nav class="crumbs"[^>]*>(.*?)</nav>', html, re.S).group(1)
    links = re.findall(r'<li><a href="([^"]*)">([^<]*)</a></li>', nav)
    current = re.findall(r'<li aria-current="page">([^<]*)</li>', nav)
    return [*links, *(("", name) for name in current)]


def test_a_departement_lists_its_communes_then_its_circonscriptions(database_url, make_app):
    imported = import_ministry(database_url, EXTRACT, "--round", "2", *NEW)
    assert imported.exit_code == 0, imported.output
    client = make_app(head_cache_seconds=0).test_client()

    html = client.get(f"{PRESIDENTIAL}departement/75").get_data(as_text=True)
    # Paris is one commune, over two circonscriptions of the extract: the communes first (the main cut),
    # then the circonscriptions in a table of their own, each linking to its page.
    assert children_tables(html) == [
        {
            "id": "children",
            "heading": "Détail par zone",
            "caption": "Résultats par commune, cliquer sur un en-tête pour trier",
            "rows": [("75056", f"{PRESIDENTIAL}commune/75056", "Paris")],
        },
        {
            "id": "children-circonscription",
            "heading": "Détail par circonscription",
            "caption": "Résultats par circonscription, cliquer sur un en-tête pour trier",
            "rows": [
                ("75-01", f"{PRESIDENTIAL}circonscription/75-01", "Paris, 1ère circonscription"),
                ("75-05", f"{PRESIDENTIAL}circonscription/75-05", "Paris, 5ème circonscription"),
            ],
        },
    ]
    assert 'class="sortable children" id="children-circonscription"' in html
    shown = figures(html).fields
    # Three bureaux each: 865 + 942 + 920 voters in the 1st, 1,140 + 1,206 + 1,069 in the 5th.
    assert [shown[(code, "voters")] for code in ("75056", "75-01", "75-05")] == [
        "6\u202f142",
        "2\u202f727",
        "3\u202f415",
    ]
    assert [shown[(code, "bureaux_reported")] for code in ("75056", "75-01", "75-05")] == ["6", "3", "3"]
    assert [shares(html, code) for code in ("75056", "75-01", "75-05")] == [
        ["92,08\u202f%", "7,92\u202f%"],
        ["89,01\u202f%", "10,99\u202f%"],
        ["94,47\u202f%", "5,53\u202f%"],
    ]
    assert search_label(html) == (
        "Rechercher une région, un département, une commune, une circonscription ou un bureau"
    )

    english = children_tables(client.get(f"{PRESIDENTIAL}departement/75?lang=en").get_data(as_text=True))
    assert [(table["heading"], table["caption"], table["rows"][0]) for table in english] == [
        (
            "By area",
            "Results by commune; click a column header to sort",
            ("75056", f"{PRESIDENTIAL}commune/75056?lang=en", "Paris"),
        ),
        (
            "By constituency",
            "Results by constituency; click a column header to sort",
            ("75-01", f"{PRESIDENTIAL}circonscription/75-01?lang=en", "Paris, 1ère circonscription"),
        ),
    ]
    # No other cut starts below the nation or a commune: one table each (the nation's map has its own).
    for path, tables_shown in (
        ("", ["children", "map-table"]),
        ("region/11", ["children"]),
        ("commune/75056", ["children"]),
    ):
        tables = children_tables(client.get(f"{PRESIDENTIAL}{path}").get_data(as_text=True))
        assert [table["id"] for table in tables] == tables_shown, path


def test_a_circonscription_keeps_the_administrative_breadcrumbs_and_the_search_finds_paris_once(
    database_url, make_app
):
    imported = import_ministry(database_url, EXTRACT, "--round", "2", *NEW)
    assert imported.exit_code == 0, imported.output
    client = make_app(head_cache_seconds=0).test_client()

    page = client.get(f"{PRESIDENTIAL}circonscription/75-01").get_data(as_text=True)
    assert crumbs(page) == [
        (PRESIDENTIAL, "France"),
        (f"{PRESIDENTIAL}region/11", "Île-de-France"),
        (f"{PRESIDENTIAL}departement/75", "Paris"),
        ("", "Paris, 1ère circonscription"),
    ]

    found = client.get(f"{PRESIDENTIAL}search?q=Paris").get_data(as_text=True)
    listed = re.findall(r'<li><a href="([^"]*)">([^<]*)</a> <small>([^<]*)</small></li>', found)
    # The commune once, though its bureaux lie in two circonscriptions; then every area and bureau named so.
    assert listed == [
        (f"{PRESIDENTIAL}departement/75", "Paris", "département 75"),
        (f"{PRESIDENTIAL}commune/75056", "Paris", "commune 75056"),
        (f"{PRESIDENTIAL}circonscription/75-01", "Paris, 1ère circonscription", "circonscription 75-01"),
        (f"{PRESIDENTIAL}circonscription/75-05", "Paris, 5ème circonscription", "circonscription 75-05"),
        *(
            (f"{PRESIDENTIAL}bureau/75056_{number}", f"Paris, bureau {number}", f"bureau 75056_{number}")
            for number in ("0101", "0102", "0103", "0301", "0302", "0303")
        ),
    ]
    assert "10 résultats pour « Paris »" in found
    assert search_label(found) == (
        "Rechercher une région, un département, une commune, une circonscription ou un bureau"
    )


# --- delivery: the assets' compression and caching, the icon, the descriptions, the plurals ----------------

SAMPLE_PAGE = "/elections/mini-primaire/rounds/2/"
YEAR = "public, max-age=31536000, immutable"
DAY = "public, max-age=86400"


def version(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=6).hexdigest()


def description(html: str) -> str:
    return re.search(r'<meta name="description" content="([^"]*)">', html).group(1)


def test_the_assets_are_gzipped_once_and_kept_a_year_under_their_version(client, monkeypatch):
    css, js = (STATIC / "page" / "page.css").read_bytes(), (STATIC / "page" / "page.js").read_bytes()
    icon = (STATIC / "favicon.svg").read_bytes()
    _loaded_static.cache_clear()  # another test of this process may have read them already
    compressed: list[bytes] = []  # the pages are compressed too: only the assets are counted
    compress = gzip.compress
    monkeypatch.setattr(gzip, "compress", lambda data, **kw: compressed.append(data) or compress(data, **kw))

    html = client.get(SAMPLE_PAGE).get_data(as_text=True)
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert assets == [f"/static/favicon.svg?v={version(icon)}", f"/static/page/page.js?v={version(js)}"]
    # The stylesheet is in the page, so that nothing blocks its first paint; the API docs link it.
    assert f"<style>{css.decode()}</style>" in html
    styles = f"/static/page/page.css?v={version(css)}"
    for url, data, mimetype in ((styles, css, "text/css"), (assets[1], js, "text/javascript")):
        for _ in range(2):
            served = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
            assert (
                served.status_code,
                served.mimetype,
                served.headers["Content-Encoding"],
                served.headers["Vary"],
                served.headers["Cache-Control"],
            ) == (200, mimetype, "gzip", "Accept-Encoding", YEAR), url
            assert gzip.decompress(served.data) == data
        again = client.get(url, headers={"If-None-Match": served.headers["ETag"]})
        assert (again.status_code, again.data) == (304, b"")
    # Compressed when first read, never again for a request.
    assert [data for data in compressed if data in (css, js, icon)] == [css, js]  # the icon: too small


def test_an_asset_without_its_version_is_kept_a_day_and_the_folder_is_never_left(client):
    js = (STATIC / "page" / "page.js").read_bytes()
    plain = client.get("/static/page/page.js")
    assert (plain.status_code, plain.data, plain.headers["Cache-Control"], plain.headers["Vary"]) == (
        200,
        js,
        DAY,
        "Accept-Encoding",
    )
    assert "Content-Encoding" not in plain.headers
    # Another release's version: served, but revalidated at each use rather than kept a year.
    assert client.get("/static/page/page.js?v=000000000000").headers["Cache-Control"] == "no-cache"
    # Compressed too when asked for without its version.
    css = client.get("/static/page/page.css", headers={"Accept-Encoding": "gzip"})
    assert (css.status_code, css.headers["Content-Encoding"], css.headers["Cache-Control"]) == (
        200,
        "gzip",
        DAY,
    )
    assert gzip.decompress(css.data) == (STATIC / "page/page.css").read_bytes()
    assert len(css.data) < len(gzip.decompress(css.data)) // 3
    escapes = (
        "/static/../app.py",
        "/static/..%2fapp.py",
        "/static/page/../../../app.py",
        "/static/%2e%2e/%2e%2e/web/pages.py",
        "/static//etc/passwd",
        "/static/page",
    )
    answers = {path: client.get(path, follow_redirects=True) for path in escapes}
    assert {path: answer.status_code for path, answer in answers.items()} == dict.fromkeys(escapes, 404)
    assert not any(b"def " in answer.data or b"root:" in answer.data for answer in answers.values())


def test_the_favicon_is_answered(client):
    icon = (STATIC / "favicon.svg").read_bytes()
    for path in ("/favicon.ico", "/static/favicon.svg"):
        answer = client.get(path)
        assert (answer.status_code, answer.mimetype, answer.data) == (200, "image/svg+xml", icon), path
    assert icon.startswith(b'<svg xmlns="http://www.w3.org/2000/svg"') and len(icon) < 1_024


def test_each_page_describes_its_election_round_and_area_and_a_single_bureau_is_singular(
    database_url, make_app
):
    client, engine = loaded(database_url, make_app, replay=True)
    described = {
        path: description(client.get(path).get_data(as_text=True))
        for path in (
            PAGE,
            f"{PAGE}?lang=en",
            f"{PAGE}departement/75",
            f"{PAGE}departement/75?lang=en",
            f"{PAGE}search?q=paris",
        )
    }
    assert described == {
        PAGE: "Résultats du 2e tour, Primaire citoyenne 2017, France : voix, participation et bureaux "
        "dépouillés, mis à jour en direct.",
        f"{PAGE}?lang=en": "Results of Primaire citoyenne 2017, Round 2, France: votes, turnout and polling "
        "stations counted, updated live.",
        f"{PAGE}departement/75": "Résultats du 2e tour, Primaire citoyenne 2017, Paris : voix, participation "
        "et bureaux dépouillés, mis à jour en direct.",
        f"{PAGE}departement/75?lang=en": "Results of Primaire citoyenne 2017, Round 2, Paris: votes, turnout "
        "and polling stations counted, updated live.",
        f"{PAGE}search?q=paris": "Rechercher une zone ou un bureau de vote : résultats du 2e tour, Primaire "
        "citoyenne 2017.",
    }
    # A bureau is compared with itself at the previous round: one bureau, in the singular.
    like_for_like = client.get(f"{API}/results/bureau/91-03-0002").get_json()["results"]["voters_change"]
    assert (
        like_for_like["like_for_like"]["matched_bureaux"],
        like_for_like["like_for_like"]["change_pct"],
    ) == (
        1,
        14.6,
    )
    written = {
        lang: figures(client.get(f"{PAGE}bureau/91-03-0002?lang={lang}").get_data(as_text=True)).fields[
            (None, "voters_change")
        ]
        for lang in ("fr", "en")
    }
    assert written == {
        "fr": "+14,60\u202f% à bureaux comparables (1 bureau)",
        "en": "+14.60% like for like (1 polling station)",
    }
    assert (
        "(4\u202f322 bureaux)"
        in figures(client.get(PAGE).get_data(as_text=True)).fields[(None, "voters_change")]
    )
    found = client.get(f"{PAGE}search?q=91-03-0002").get_data(as_text=True)
    assert '<h2 id="found-title">1 résultat pour « 91-03-0002 »</h2>' in found

    lift = datetime.now(UTC) + timedelta(hours=1)
    store.update_round(engine, ELECTION, 2, results_not_before=lift)
    at = f"{lift.astimezone(ZoneInfo('Europe/Paris')):%H:%M}"
    assert description(client.get(PAGE).get_data(as_text=True)) == (
        f"Résultats du 2e tour, Primaire citoyenne 2017 : publiés à partir de {at}, à la fermeture des "
        "derniers bureaux de vote."
    )


def test_counts_take_the_singular_at_one_in_english_and_up_to_one_in_french():
    fr, en = TEXT["fr"]["change_short"], TEXT["en"]["change_short"]
    assert isinstance(fr, Agreeing) and fr == "{change} ({matched} bureaux)"  # what page.js receives
    assert [fr.format(change="+1,00\u202f%", matched=m) for m in ("0", "1", "2", f"1{NNBSP}001", "—")] == [
        "+1,00\u202f% (0 bureau)",
        "+1,00\u202f% (1 bureau)",
        "+1,00\u202f% (2 bureaux)",
        f"+1,00\u202f% (1{NNBSP}001 bureaux)",
        "+1,00\u202f% (— bureaux)",
    ]
    assert [en.format(change="+1.00%", matched=m) for m in (0, 1, 2, "1,001")] == [
        "+1.00% (0 polling stations)",
        "+1.00% (1 polling station)",
        "+1.00% (2 polling stations)",
        "+1.00% (1,001 polling stations)",
    ]
