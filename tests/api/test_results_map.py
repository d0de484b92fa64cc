"""The national page's map of the départements (api/web/results_map.py), at 20:30 on the primary night."""

from __future__ import annotations

import re

import pytest

from api.web.pages import PALETTE
from api.web.results_map import NOTHING_YET, outlines, shade
from tests.api.test_pages import API, PAGE, loaded
from tests.api.test_primaire_2017 import FOLDER

SHAPE = re.compile(
    r'<a href="(?P<href>[^"]+)" tabindex="-1" data-code="(?P<code>[^"]+)"><title>(?P<title>[^<]*)</title>\s*'
    r'<path d="[^"]+" fill="(?P<fill>[^"]+)" fill-opacity="(?P<opacity>[^"]+)"/>'
)
HAMON, VALLS = PALETTE[0], PALETTE[1]


def departements() -> list[str]:
    rows = (FOLDER / "areas.csv").read_text().splitlines()
    return [row.split(",")[1] for row in rows if row.startswith("departement,")]


LEADS = [(0.0, 0.45), (4.99, 0.45), (5.0, 0.6), (9.99, 0.6), (10.0, 0.8), (20.0, 1.0), (60.0, 1.0)]


@pytest.mark.parametrize(("margin", "opacity"), LEADS)
def test_a_narrow_lead_is_pale_and_a_wide_one_full(margin, opacity):
    assert shade(margin) == opacity


def test_every_departement_is_a_link_coloured_by_its_leader_and_shaded_by_the_lead(database_url, make_app):
    client, _ = loaded(database_url, make_app, replay=True)
    html = client.get(PAGE).get_data(as_text=True)
    feed = {row["code"]: row for row in client.get(f"{API}/results/departement").get_json()["areas"]}
    shapes = {match["code"]: match for match in SHAPE.finditer(html)}

    # One shape per département of the primary, the five collectivités d'outre-mer as squares among them.
    assert list(shapes) == departements() and len(shapes) == 106
    assert {code: shape["href"] for code, shape in shapes.items()} == {
        code: f"{PAGE}departement/{code}" for code in departements()
    }
    expected = {}
    for code, row in feed.items():
        shares = sorted((c["pct_valid"] or 0 for c in row["candidates"]), reverse=True)
        counted = row["bureaux_reported"] > 0
        colour = {"hamon": HAMON, "valls": VALLS}.get(row["leader"], NOTHING_YET) if counted else NOTHING_YET
        expected[code] = (colour, str(shade(shares[0] - shares[1]) if counted else 1.0))
    assert {code: (shape["fill"], shape["opacity"]) for code, shape in shapes.items()} == expected
    fills = [shape["fill"] for shape in shapes.values()]
    assert (fills.count(HAMON), fills.count(VALLS), fills.count(NOTHING_YET)) == (102, 2, 2)
    assert shapes["75"]["title"] == "Paris : Manuel Valls en tête, 52,05\u202f%, 4,10 points d’avance"
    # Paris and its neighbours twice: on the map and in the inset.
    assert html.count('d="' + outlines()["zoom"]["75"] + '"') == 1
    # The same figures as a table, for those who cannot see the map.
    table = html[html.index('id="map-table"') :]
    assert len(re.findall(r'<tr data-child="', table[: table.index("</table>")])) == 106
    assert "Contours : IGN GEOFLA, via france-geojson (Licence Ouverte)." in html


def test_a_region_s_page_maps_its_departements_alone_and_the_pages_below_have_no_map(database_url, make_app):
    client, _ = loaded(database_url, make_app, replay=True)
    region = client.get(f"{PAGE}region/11").get_data(as_text=True)
    shapes = {match["code"]: match for match in SHAPE.finditer(region)}
    drawn = outlines()["departements"]
    boxes = [drawn[code]["box"] for code in shapes]
    left, top = min(b[0] for b in boxes) - 4, min(b[1] for b in boxes) - 4
    width, height = max(b[2] for b in boxes) + 4 - left, max(b[3] for b in boxes) + 4 - top

    # Île-de-France's eight départements, framed to their extent: no inset, no Paris drawn twice, and no
    # second table (its départements are the page's children).
    assert list(shapes) == ["75", "77", "78", "91", "92", "93", "94", "95"]
    assert f'<svg viewBox="{left} {top} {width} {height}" aria-hidden="true"' in region
    assert ('class="inset"' in region, 'id="map-table"' in region) == (False, False)
    assert region.count(drawn["75"]["path"]) == 1
    for page in (f"{PAGE}departement/75", f"{PAGE}region/01", f"/embed{PAGE}"):  # below, one shape, the embed
        assert 'id="map-section"' not in client.get(page).get_data(as_text=True), page
