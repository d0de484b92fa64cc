"""The OpenAPI document, checked by openapi-spec-validator and against what the service really does: every
operation described, every path parameter too, the Bearer scheme on exactly the guarded routes, the CSV
forms, examples that fit their schemas, and every status and header the service answers documented."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from sqlalchemy.exc import OperationalError

from api.store import accounts, lifecycle
from api.web.auth import READ_METHODS
from tests import check_openapi
from tests.api.conftest import bearer
from tests.builders import SAMPLE

ROUND = "/api/v1/elections/mini-primaire/rounds/2"
NO_ROUND = "/api/v1/elections/mini-primaire/rounds/9"
GOOD = {"voters": 412, "blank": 3, "null": 2, "valid": 407, "votes": {"hamon": 250, "valls": 157}}
MANY_BLANK = {"voters": 412, "blank": 20, "null": 2, "valid": 390, "votes": {"hamon": 240, "valls": 150}}
# Headers a client acts on: when an answer carries one, its documented response must name it.
TRACKED = {
    "ETag",
    "Last-Modified",
    "Cache-Control",
    "Vary",
    "Retry-After",
    "WWW-Authenticate",
    "Content-Disposition",
    "X-Tabulator-Test",
}
METHODS = {"get", "put", "post", "patch", "delete"}


@pytest.fixture
def app(sample_election, make_app):
    return make_app(head_cache_seconds=0, max_upload_bytes=4_096, failed_write_limit="3 per minute")


@pytest.fixture
def spec(app) -> dict[str, Any]:
    return app.test_client().get("/api/v1/openapi.json").get_json()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def openapi_path(rule: str) -> str:
    """A Flask rule as its OpenAPI path: `<int(max=…):number>` becomes `{number}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_the_document_is_valid_openapi_and_the_lint_fails_an_invalid_one(spec, tmp_path, capsys):
    validate(spec)  # openapi-spec-validator: raises on the first error
    assert spec["openapi"] == "3.0.3"
    assert check_openapi.main([]) == 0
    # The Swagger 2 parameter the upload used to declare: `make lint` must refuse it.
    broken = json.loads(json.dumps(spec))
    upload = broken["paths"]["/api/v1/elections/{election}/rounds/{number}/uploads"]["post"]
    upload["parameters"] = [{"in": "formData", "name": "reason", "schema": {"type": "string"}}]
    saved = tmp_path / "broken.json"
    saved.write_text(json.dumps(broken))
    assert check_openapi.main([str(saved)]) == 1
    assert "formData" in capsys.readouterr().err


def test_every_operation_and_path_parameter_is_described(spec):
    found = operations(spec)
    assert len(found) >= 40
    undescribed = [
        f"{method} {path}" for path, method, op in found if not (op.get("summary") and op.get("description"))
    ]
    assert undescribed == []
    parameters = [
        (path, parameter)
        for path, item in spec["paths"].items()
        for parameter in [
            *item.get("parameters", []),
            *(p for m in METHODS for p in item.get(m, {}).get("parameters", [])),
        ]
    ]
    in_path = [(path, p) for path, p in parameters if p["in"] == "path"]
    assert len(in_path) >= 100
    assert [(path, p["name"]) for path, p in in_path if not p.get("description") or "example" not in p] == []
    assert [(path, p["name"]) for path, p in parameters if not p.get("description")] == []
    codes = {path: p["description"] for path, p in in_path if p["name"] == "code"}
    assert codes["/api/v1/elections/{election}/rounds/{number}/bureaux/{code}/return"].startswith(
        "The bureau de vote's code"
    )
    assert codes["/api/v1/elections/{election}/rounds/{number}/results/{level}/{code}"].startswith(
        "The area's code at that level"
    )


def test_exactly_the_guarded_routes_declare_the_bearer_scheme(app, spec):
    schemes = spec["components"]["securitySchemes"]
    assert (set(schemes), schemes["bearer"]["type"], schemes["bearer"]["scheme"]) == (
        {"bearer"},
        "http",
        "bearer",
    )
    guarded = {
        (openapi_path(rule.rule), method.lower(), app.view_functions[rule.endpoint].required_role)
        for rule in app.url_map.iter_rules()
        if hasattr(app.view_functions[rule.endpoint], "required_role")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert {(path, method) for path, method, _ in guarded} == {
        (path, method) for path, method, op in operations(spec) if "security" in op
    }
    writes = {(path, method) for path, method, op in operations(spec) if method.upper() not in READ_METHODS}
    assert writes <= {(path, method) for path, method, _ in guarded}  # every write is guarded
    for path, method, role in guarded:
        op = spec["paths"][path][method]
        assert op["security"] == [{"bearer": []}]
        assert {"401", "403"} <= set(op["responses"])
        assert f"`{role}` role" in op["description"]


def test_the_csv_forms_are_documented_with_their_content_type(spec):
    documents = ("results", "turnout", "projection", "timeline", "corrections")
    csv_paths = [path for path in spec["paths"] if path.endswith(".csv")]
    # results, turnout, projection, level feeds (4 each), timeline, corrections, the projection's timeline,
    # export (2 each)
    assert len(csv_paths) == 4 + 4 + 4 + 4 + 2 + 2 + 2 + 2
    for path in csv_paths:
        assert list(spec["paths"][path]["get"]["responses"]["200"]["content"]) == ["text/csv"], path
    negotiated = [
        path
        for path in spec["paths"]
        if re.search(rf"/({'|'.join(documents)})(/{{level}}/{{code}})?$", path)
        or re.search(r"/results(/{within_level}/{within_code})?/{level}$", path)
    ]
    assert len(negotiated) == 22
    for path in negotiated:
        ok = spec["paths"][path]["get"]["responses"]["200"]
        assert set(ok["content"]) == {"application/json", "text/csv"}, path
        assert ok["content"]["text/csv"]["example"].startswith(("level,", "sequence,", "bureau,")), path
        assert {"ETag", "Last-Modified", "Cache-Control", "Vary"} <= set(ok["headers"]), path


def test_every_example_fits_its_schema(spec):
    """Examples checked by openapi-schema-validator against the schemas they illustrate."""
    media_types = [
        (where, media)
        for where, response in _all_responses(spec)
        for media in response.get("content", {}).values()
    ] + [
        (f"{method} {path} body", media)
        for path, method, op in operations(spec)
        for media in op.get("requestBody", {}).get("content", {}).values()
    ]
    checked = 0
    for where, media in media_types:
        if "example" not in media:
            continue
        schema = {**media["schema"], "components": spec["components"]}
        errors = [error.message for error in OAS30Validator(schema).iter_errors(media["example"])]
        assert errors == [], where
        checked += 1
    assert checked >= 30
    for name, header in spec["components"]["headers"].items():
        if "example" in header:
            assert list(OAS30Validator(header["schema"]).iter_errors(header["example"])) == [], name


def _all_responses(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [(f"components {name}", response) for name, response in spec["components"]["responses"].items()]
    for path, method, op in operations(spec):
        found += [
            (f"{method} {path} {status}", r) for status, r in op["responses"].items() if "$ref" not in r
        ]
    return found


class Recorder:
    """A test client that notes, for every answer, the operation, the status, the content type and the
    headers a client acts on."""

    def __init__(self, app) -> None:
        self.client = app.test_client()
        self.adapter = app.url_map.bind("localhost")
        self.seen: list[tuple[str, str, int, str, set[str]]] = []

    def __call__(self, method: str, url: str, *, status: int, **options: Any):
        answer = self.client.open(url, method=method, **options)
        assert answer.status_code == status, (method, url, answer.get_data(as_text=True)[:500])
        rule, _ = self.adapter.match(url.split("?", maxsplit=1)[0], method=method, return_rule=True)
        self.seen.append(
            (
                openapi_path(rule.rule),
                method.lower(),
                status,
                answer.mimetype if answer.data else "",
                {name for name in TRACKED if name in answer.headers},
            )
        )
        return answer


def test_every_status_and_header_the_service_answers_is_documented(app, spec, engine, monkeypatch):
    call = Recorder(app)
    tokens = {
        name: bearer(accounts.create_token(engine, name, role, person=person)[1])
        for name, role, person in [
            ("clerk", "clerk", "Dan Roux"),
            ("alice", "supervisor", "Alice Martin"),
            ("bruno", "supervisor", "Bruno Petit"),
        ]
    }
    _public_reads(call)
    _writes(call, tokens)
    _embargoed_reads(call, engine)
    _refusals_before_any_work(call, app, monkeypatch)

    undocumented = []
    for path, method, status, mimetype, headers in call.seen:
        operation = spec["paths"][path][method]
        response = _resolved(spec, operation["responses"].get(str(status)))
        if response is None:
            undocumented.append(f"{method} {path}: {status}")
            continue
        if mimetype and mimetype not in response.get("content", {}):
            undocumented.append(f"{method} {path}: {status} as {mimetype}")
        if missing := headers - set(response.get("headers", {})):
            undocumented.append(f"{method} {path}: {status} with {sorted(missing)}")
    assert sorted(set(undocumented)) == [], "\n".join(sorted(set(undocumented)))
    # The scenario really met every status the issue lists, and every operation of the document.
    assert {status for _, _, status, _, _ in call.seen} >= {
        200,
        201,
        202,
        304,
        400,
        401,
        403,
        404,
        409,
        412,
        413,
        422,
        429,
        503,
    }
    assert {(path, method) for path, method, *_ in call.seen} == {
        (path, method) for path, method, _ in operations(spec)
    }


def _resolved(spec: dict[str, Any], response: dict[str, Any] | None) -> dict[str, Any] | None:
    if response is not None and "$ref" in response:
        return spec["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    return response


AREAS = ("", "/departement/13")


def _public_reads(call: Recorder) -> None:
    """Each read: 200, then 304 with its ETag; and 404 for a round that does not exist."""
    documents = [
        "/api/v1/elections",
        "/api/v1/elections/mini-primaire",
        ROUND,
        f"{ROUND}/current",
        f"{ROUND}/changes?since=0",
        f"{ROUND}/export.csv",
        f"{ROUND}/nist.json",
    ]
    kinds = [f"{ROUND}/{kind}{area}" for kind in ("results", "turnout", "projection") for area in AREAS]
    kinds += [f"{ROUND}/timeline", f"{ROUND}/corrections", f"{ROUND}/projection/timeline"]
    kinds += [path.replace(ROUND, f"{ROUND}/snapshots/0") for path in kinds]
    documents += [*kinds, f"{ROUND}/snapshots/0/export.csv", f"{ROUND}/snapshots/0/nist.json"]
    documents += [f"{path}.csv" for path in kinds]
    feeds = [f"{ROUND}/results/circonscription", f"{ROUND}/results/departement/13/circonscription"]
    feeds += [path.replace(ROUND, f"{ROUND}/snapshots/0") for path in feeds]
    documents += [*feeds, *(f"{path}.csv" for path in feeds)]
    for path in documents:
        first = call("GET", path, status=200)
        call("GET", path, status=304, headers={"If-None-Match": first.headers["ETag"]})
        if path.startswith(f"{ROUND}/"):
            call("GET", path.replace("/rounds/2", "/rounds/9"), status=404)
    call("GET", "/api/v1/elections/nope", status=404)
    call("GET", f"{ROUND}/results", status=200, headers={"Accept": "text/csv"})
    call("GET", f"{ROUND}/changes?since=yesterday", status=400)
    call("GET", f"{ROUND}/export.csv?encoding=klingon", status=400)


def _writes(call: Recorder, tokens: dict[str, dict[str, str]]) -> None:
    clerk, alice, bruno = tokens["clerk"], tokens["alice"], tokens["bruno"]
    bureau = f"{ROUND}/bureaux/75-01-0001/return"
    call("PUT", bureau, status=201, json=GOOD, headers=clerk)
    call("PUT", bureau, status=200, json=GOOD, headers=clerk)
    call(
        "PUT",
        bureau,
        status=403,
        json={**GOOD, "blank": 4, "valid": 406, "votes": {"hamon": 249, "valls": 157}},
        headers=clerk,
    )
    call("PUT", bureau, status=412, json=GOOD, headers={**alice, "If-Match": '"7"'})
    call("PUT", bureau, status=400, json=GOOD, headers={**alice, "If-Match": "yesterday"})
    call("PUT", f"{ROUND}/bureaux/75-01-0002/return", status=422, json={**GOOD, "valid": 406}, headers=clerk)
    call("PUT", f"{NO_ROUND}/bureaux/75-01-0001/return", status=404, json=GOOD, headers=clerk)
    call("PUT", f"{ROUND}/bureaux/75-02-0001/return", status=202, json=MANY_BLANK, headers=clerk)
    call("PUT", bureau, status=413, data="x" * 5_000, headers={**clerk, "Content-Type": "application/json"})

    turnout = f"{ROUND}/bureaux/13-01-0001/turnout/17:00"
    call("PUT", turnout, status=201, json={"voters": 150}, headers=clerk)
    call("PUT", turnout, status=200, json={"voters": 150}, headers=clerk)
    call("PUT", turnout, status=400, json={"voters": "many"}, headers=clerk)
    call("PUT", f"{NO_ROUND}/bureaux/13-01-0001/turnout/17:00", status=404, json={"voters": 1}, headers=clerk)
    call("PUT", turnout.replace("17:00", "12:00"), status=422, json={"voters": 151}, headers=clerk)

    header = b"bureau,voters,blank,null,valid,hamon,valls\n"
    good, bad = header + b"13-01-0002,10,0,0,10,4,6\n", header + b"13-01-0003,1.5,0,0,10,4,6\n"
    uploads = f"{ROUND}/uploads"
    call("POST", uploads, status=201, data={"file": (io.BytesIO(good), "r.csv")}, headers=clerk)
    call("POST", uploads, status=200, data={"file": (io.BytesIO(good), "r.csv")}, headers=clerk)
    held = header + b"13-01-0003,412,20,2,390,240,150\n"
    call("POST", uploads, status=202, data={"file": (io.BytesIO(held), "r.csv")}, headers=clerk)
    call("POST", uploads, status=422, data={"file": (io.BytesIO(bad), "r.csv")}, headers=clerk)
    call("POST", uploads, status=400, data={"reason": "no file"}, headers=clerk)
    call(
        "POST",
        f"{NO_ROUND}/uploads",
        status=404,
        data={"file": (io.BytesIO(good), "r.csv")},
        headers=clerk,
    )
    call("POST", uploads, status=413, data={"file": (io.BytesIO(b"x" * 5_000), "r.csv")}, headers=clerk)

    call("GET", f"{ROUND}/review", status=200, headers=alice)
    call("GET", f"{ROUND}/review", status=403, headers=clerk)
    call("GET", f"{ROUND}/review", status=401)
    call("GET", f"{NO_ROUND}/review", status=404, headers=alice)
    call("GET", f"{ROUND}/review?warning=blank_share_high&order=unusual", status=200, headers=alice)
    call("GET", f"{ROUND}/review?order=sideways", status=400, headers=alice)
    call("GET", f"{ROUND}/warnings", status=200, headers=alice)
    call("GET", f"{ROUND}/warnings", status=403, headers=clerk)
    call("GET", f"{ROUND}/warnings", status=401)
    call("GET", f"{NO_ROUND}/warnings", status=404, headers=alice)
    call("POST", f"{ROUND}/review/1", status=400, json={"decision": "maybe"}, headers=alice)
    call("POST", f"{ROUND}/review/1", status=201, json={"decision": "accept"}, headers=alice)
    call("POST", f"{ROUND}/review/1", status=409, json={"decision": "reject"}, headers=alice)
    call("POST", f"{ROUND}/review/99", status=404, json={"decision": "reject"}, headers=alice)
    call("POST", f"{ROUND}/review/2", status=200, json={"decision": "reject"}, headers=alice)

    call("GET", "/api/v1/audit", status=200, headers=alice)
    call("GET", "/api/v1/audit?limit=0", status=400, headers=alice)

    call("PATCH", ROUND, status=200, json={"status": "counting"}, headers=alice)
    call("PATCH", ROUND, status=400, json={"colour": "red"}, headers=alice)
    call("PATCH", ROUND, status=409, json={"status": "setup"}, headers=alice)
    call("PATCH", NO_ROUND, status=404, json={"status": "counting"}, headers=alice)
    call("PATCH", ROUND, status=200, json={"status": "complete"}, headers=alice)
    asked = call("PATCH", ROUND, status=202, json={"status": "certified"}, headers=alice).get_json()
    confirmation = f"{ROUND}/confirmations/{asked['id']}"
    call("GET", f"{ROUND}/confirmations", status=200, headers=bruno)
    call("GET", f"{NO_ROUND}/confirmations", status=404, headers=bruno)
    call("POST", confirmation, status=403, json={"decision": "confirm"}, headers=alice)
    call("POST", confirmation, status=400, json={"decision": "perhaps"}, headers=bruno)
    call("POST", f"{ROUND}/confirmations/99", status=404, json={"decision": "confirm"}, headers=bruno)
    # Bureaux are missing: certifying them so needs a reason.
    call("POST", confirmation, status=422, json={"decision": "confirm"}, headers=bruno)
    call(
        "POST", confirmation, status=200, json={"decision": "confirm", "reason": "as counted"}, headers=bruno
    )
    call("POST", confirmation, status=409, json={"decision": "confirm"}, headers=bruno)
    call("PUT", bureau, status=409, json=GOOD, headers=alice)
    call("PUT", turnout, status=409, json={"voters": 152}, headers=clerk)
    call("POST", uploads, status=409, data={"file": (io.BytesIO(good), "r.csv")}, headers=clerk)


def _embargoed_reads(call: Recorder, engine) -> None:
    """Round 1, under an embargo: every document of it answers 403 with Retry-After."""
    lifecycle.update_round(engine, SAMPLE.id, 1, results_not_before=datetime.now(UTC) + timedelta(hours=1))
    first = "/api/v1/elections/mini-primaire/rounds/1"
    paths = [
        f"{first}/{name}"
        for name in ("current", "changes", "export.csv", "nist.json", "timeline", "corrections")
    ]
    paths += [f"{first}/{kind}{area}" for kind in ("results", "turnout") for area in ("", "/departement/13")]
    paths += [f"{first}/snapshots/0/{path.removeprefix(f'{first}/')}" for path in paths[2:]]
    paths += [
        f"{path}.csv"
        for path in paths
        if path.endswith(("results", "turnout", "timeline", "corrections", "13"))
    ]
    for path in paths:
        refused = call("GET", path, status=403)
        assert refused.get_json()["errors"][0]["code"] == "embargoed", path


def _refusals_before_any_work(call: Recorder, app, monkeypatch) -> None:
    """429 once an address has failed to authenticate too often (3 times here: no write before went
    without a good token); 503 while the database is away."""
    for _ in range(3):
        call("PUT", f"{ROUND}/bureaux/75-01-0001/return", status=401, json=GOOD, headers=bearer("tab_wrong"))
    for method, path in [
        ("PUT", f"{ROUND}/bureaux/75-01-0001/return"),
        ("PUT", f"{ROUND}/bureaux/75-01-0001/turnout/12:00"),
        ("POST", f"{ROUND}/uploads"),
        ("POST", f"{ROUND}/review/1"),
        ("PATCH", ROUND),
        ("POST", f"{ROUND}/confirmations/1"),
    ]:
        call(method, path, status=429, json={})

    def away(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError("the database is away"))

    monkeypatch.setattr("api.web.public.documents.elections", away)
    call("GET", "/api/v1/elections", status=503)


@pytest.mark.parametrize("name", ["path", "actor"])
def test_an_audit_filter_with_a_nul_character_is_refused_as_documented_not_a_500(app, spec, engine, name):
    """Found by the schemathesis test on PostgreSQL, whose text holds no NUL: the document's pattern says
    such a filter is refused, and the service refuses it with a 400 before the database sees it."""
    pattern = next(p for p in spec["paths"]["/api/v1/audit"]["get"]["parameters"] if p["name"] == name)
    assert pattern["schema"]["pattern"] == "^[^\\x00]*$"
    supervisor = bearer(accounts.create_token(engine, "sup", "supervisor")[1])
    refused = app.test_client().get(f"/api/v1/audit?{name}=%2Fapi%00x", headers=supervisor)
    assert (refused.status_code, refused.get_json()) == (
        400,
        {
            "errors": [
                {
                    "code": "bad_argument",
                    "message": f"{name}: must not contain a NUL character.",
                    "field": name,
                }
            ]
        },
    )
