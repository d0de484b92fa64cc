"""The official site's geography on the 2017 presidential file (round 2): whole communes under their INSEE
codes, the circonscriptions as a second cut of the same bureaux, and every area of a level in one feed.

Each figure is checked against the file itself, summed here with pandas from its own columns: Paris is the
sum of its 896 bureaux; the commune feed has one row per commune of the file, each the sum of its bureaux;
the communes and the circonscriptions of every département sum to the département. The file is imported
once per database for the module (about 15 s each).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from api import create_app, reference
from api.cli import main
from api.settings import Settings
from api.store import db
from api.web.http import render
from api.web.schemas import LEVEL_RESULTS, RESULTS, TIMELINE
from tabulator.ministry import insee_commune
from tests.conftest import SHARED_DATA

PRESIDENTIAL_2017_ROUND_2 = SHARED_DATA / "fr-pres2017" / "PR17_BVot_T2_FE.txt.gz"
ROUND_1_BY_COMMUNE = SHARED_DATA / "fr-pres2017" / "2017-presidentielle-1_par_commune_large.csv.gz"
ELECTION = "presidentielle-2017"
ROUND = f"/api/v1/elections/{ELECTION}/rounds/2"
COUNTS = ["registered", "voters", "blank", "null", "valid", "macron", "le-pen"]

pytestmark = pytest.mark.skipif(
    not PRESIDENTIAL_2017_ROUND_2.exists(), reason=f"real data absent: {PRESIDENTIAL_2017_ROUND_2}"
)


@pytest.fixture(scope="module")
def by_bureau() -> pd.DataFrame:
    """The file's rows as pandas reads them, each with its commune's INSEE code: the figures to match."""
    frame = pd.read_csv(
        PRESIDENTIAL_2017_ROUND_2, sep=";", encoding="latin-1", dtype=str, keep_default_na=False
    )
    departements = reference.departements()
    columns = {"Inscrits": "registered", "Votants": "voters", "Blancs": "blank", "Nuls": "null"}
    rows = frame.rename(columns={**columns, "Exprimés": "valid"})
    counts = rows[[*columns.values(), "valid"]].astype(int)
    counts["macron"] = frame.iloc[:, 25].astype(int)  # Voix of the first block, then of the second
    counts["le-pen"] = frame.iloc[:, 32].astype(int)
    ministry = list(zip(frame["Code du département"], frame["Code de la commune"], strict=True))
    counts["commune"] = [insee_commune(departements[d], c) for d, c in ministry]
    counts["departement"] = [departements[d].code for d, _ in ministry]
    counts["circonscription"] = counts["departement"] + "-" + frame["Code de la circonscription"].str.zfill(2)
    counts["bureau"] = counts["commune"] + "_" + frame["Code du b.vote"]
    return counts


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[FlaskClient]:
    """The national file imported into a database of the module's own, and an app over it."""
    folder = tmp_path_factory.mktemp("geography")
    if request.param == "sqlite":
        shutil.copy(sqlite_template, folder / "geography.sqlite3")
        url = f"sqlite:///{folder / 'geography.sqlite3'}"
    else:
        url = _own_postgres_database(request.getfixturevalue("postgres_admin_url"))
    imported = CliRunner().invoke(
        main,
        [
            *("import-ministry", str(PRESIDENTIAL_2017_ROUND_2), "--election", ELECTION, "--round", "2"),
            *("--date", "2017-05-07", "--type", "presidential", "--name", "Présidentielle 2017"),
        ],
        env={"TABULATOR_DATABASE_URL": url},
    )
    assert imported.exit_code == 0, imported.output
    yield create_app(Settings(database_url=url, instance_path=folder, head_cache_seconds=0)).test_client()


def _own_postgres_database(admin_url: str) -> str:
    name = f"tabulator_test_geography_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"  # one per worker
    admin = create_engine(db.normalise_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    db.upgrade(url)
    return url


def figures(row: dict) -> list[int]:
    """A row's counts in the order of COUNTS."""
    votes = {c["id"]: c["votes"] for c in row["candidates"]}
    return [row["registered"], row["voters"], row["blank"], row["null"], row["valid"], *votes.values()]


def test_paris_is_one_commune_with_every_bureau_and_the_whole_city_s_figures(client, by_bureau):
    paris = client.get(f"{ROUND}/results/commune/75056").get_json()
    in_file = by_bureau[by_bureau.commune == "75056"]

    assert (paris["area"], paris["parents"]) == (
        {"level": "commune", "code": "75056", "name": "Paris"},
        [
            {"level": "national", "code": "FR", "name": "France"},
            {"level": "region", "code": "11", "name": "Île-de-France"},
            {"level": "departement", "code": "75", "name": "Paris"},
        ],
    )
    assert len(in_file) == 896
    assert sorted(row["code"] for row in paris["children"]) == sorted(in_file["bureau"])
    results = paris["results"]
    assert [results[key] for key in COUNTS[:5]] + [c["votes"] for c in results["candidates"]] == [
        int(in_file[key].sum()) for key in COUNTS
    ]
    assert (results["bureaux_reported"], results["bureaux_total"]) == (896, 896)


@pytest.mark.parametrize(
    "path",
    ["", "/region/11", "/departement/75", "/commune/75056", "/circonscription/75-01", "/bureau/75056_0101"],
)
def test_a_results_document_is_its_schema_s_dump_byte_for_byte(client, path):
    """Served without the dump (api.web.public): the document is built in the schema's shape and order."""
    served = client.get(f"{ROUND}/results{path}", headers={"Accept-Encoding": "identity"}).data

    assert render(RESULTS.dump(json.loads(served)), None).body == served


def test_the_timeline_is_its_schema_s_dump_byte_for_byte(client):
    """Served without the dump, as the results: its rows are built in the schema's shape and order."""
    served = client.get(f"{ROUND}/timeline", headers={"Accept-Encoding": "identity"}).data

    assert len(json.loads(served)["timeline"]) == 1
    assert render(TIMELINE.dump(json.loads(served)), None).body == served


def test_the_commune_feed_has_one_row_per_commune_each_the_sum_of_its_bureaux(client, by_bureau):
    response = client.get(f"{ROUND}/results/commune")
    feed = response.get_json()
    expected = by_bureau.groupby("commune")[COUNTS].sum()

    assert LEVEL_RESULTS.validate(feed) == {}
    assert (feed["level"], feed["within"], feed["parent_levels"]) == (
        "commune",
        None,
        ["national", "region", "departement"],
    )
    assert len(feed["areas"]) == len(expected) == 35_719
    assert {row["code"]: figures(row) for row in feed["areas"]} == {
        code: [int(v) for v in values]
        for code, values in zip(expected.index, expected.to_numpy(), strict=True)
    }
    by_code = {row["code"]: row for row in feed["areas"]}
    assert by_code["75056"]["parents"] == {"departement": "75", "region": "11", "national": "FR"}
    assert by_code["ZZ068"]["name"] == "Douchanbe"


def test_the_communes_are_round_1_s_whole_communes(client):
    """Round 1's file (by commune, each whole) names the same 35,719 communes, under the same codes."""
    round_1 = pd.read_csv(ROUND_1_BY_COMMUNE, dtype=str, keep_default_na=False)
    departements = reference.departements()
    expected = {
        insee_commune(departements[d], c): name
        for d, c, name in zip(round_1.departement, round_1.commune, round_1.commune_libelle, strict=True)
    }
    feed = client.get(f"{ROUND}/results/commune").get_json()

    assert len(expected) == 35_719
    assert {row["code"]: row["name"] for row in feed["areas"]} == expected


def test_the_communes_and_the_circonscriptions_of_every_departement_sum_to_it(client):
    departements = {
        row["code"]: figures(row) for row in client.get(f"{ROUND}/results/departement").get_json()["areas"]
    }
    for level in ("commune", "circonscription"):
        summed: dict[str, list[int]] = {}
        for row in client.get(f"{ROUND}/results/{level}").get_json()["areas"]:
            into = summed.setdefault(row["parents"]["departement"], [0] * len(COUNTS))
            summed[row["parents"]["departement"]] = [a + b for a, b in zip(into, figures(row), strict=True)]
        assert summed == departements, level
    assert len(departements) == 107


def test_a_circonscription_lists_its_bureaux_across_its_communes(client, by_bureau):
    first = client.get(f"{ROUND}/results/circonscription/75-01").get_json()
    in_file = by_bureau[by_bureau.circonscription == "75-01"]

    assert [a["code"] for a in first["parents"]] == ["FR", "11", "75"]
    assert {row["level"] for row in first["children"]} == {"bureau"}
    assert sorted(row["code"] for row in first["children"]) == sorted(in_file["bureau"])
    assert first["results"]["voters"] == int(in_file["voters"].sum())


def test_a_level_within_an_area_in_either_cut(client):
    communes = client.get(f"{ROUND}/results/departement/75/commune").get_json()
    circonscriptions = client.get(f"{ROUND}/results/departement/75/circonscription").get_json()
    lyon = client.get(f"{ROUND}/results/region/84/commune").get_json()

    assert communes["within"] == {"level": "departement", "code": "75", "name": "Paris"}
    assert [row["code"] for row in communes["areas"]] == ["75056"]
    assert [row["code"] for row in circonscriptions["areas"]] == [f"75-{n:02}" for n in range(1, 19)]
    assert sum(row["voters"] for row in circonscriptions["areas"]) == communes["areas"][0]["voters"]
    assert [row["name"] for row in lyon["areas"] if row["code"] == "69123"] == ["Lyon"]


def test_the_csv_feed_the_etag_and_gzip(client):
    plain = client.get(f"{ROUND}/results/commune.csv")
    zipped = client.get(f"{ROUND}/results/commune", headers={"Accept-Encoding": "gzip"})
    again = client.get(f"{ROUND}/results/commune", headers={"If-None-Match": zipped.headers["ETag"]})

    rows = list(csv.reader(io.StringIO(plain.get_data(as_text=True))))
    assert rows[0][:7] == ["level", "code", "name", "national", "region", "departement", "bureaux_reported"]
    assert len(rows) == 1 + 35_719
    paris = next(row for row in rows if row[1] == "75056")
    assert paris[:4] == ["commune", "75056", "Paris", "FR"]
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.get_data())[:1] == b"{"
    assert (again.status_code, again.get_data()) == (304, b"")


def test_a_level_the_election_does_not_have_or_an_area_it_does_not_lie_in_is_not_found(client):
    bureau = client.get(f"{ROUND}/results/bureau")
    upside_down = client.get(f"{ROUND}/results/commune/75056/departement")
    across = client.get(f"{ROUND}/results/circonscription/75-01/commune")

    assert [r.status_code for r in (bureau, upside_down, across)] == [404, 404, 404]
    assert across.get_json()["errors"][0]["message"] == (
        f"A commune does not lie within a circonscription in election {ELECTION}: the levels above a "
        "commune are departement, region, national."
    )
