"""Bad input at scale: files and bodies made by hypothesis get a 4xx that says where, and change nothing.

TABULATOR_FUZZ_EXAMPLES sets the budget (small in CI, larger in `make fuzz`).
"""

from __future__ import annotations

import io
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tabulator.limits import ReadLimits
from tests.conftest import table_contents

ROUND = "/api/v1/elections/mini-primaire/rounds/2"
EXAMPLES = int(os.environ.get("TABULATOR_FUZZ_EXAMPLES", "15"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
HEADER = ["bureau", "voters", "blank", "null", "valid", "hamon", "valls"]
GOOD_ROW = ["75-01-0001", "412", "3", "2", "407", "250", "157"]
BAD_CELLS = st.sampled_from(
    [
        "-1",
        "1.5",
        "1e3",
        "=SUM(A1:A9)",
        "",
        " ",
        "99999999999999999999",
        "１２",
        "NaN",
        "0x10",
        "12 000",
        "None",
    ]
)


@pytest.fixture
def service(sample_election, make_app, auth_headers):
    return make_app(max_upload_bytes=2 * 1024 * 1024).test_client(), auth_headers["clerk"]


def unchanged_except_audit(engine):
    return {name: rows for name, rows in table_contents(engine).items() if name != "audit"}


def upload(client, headers, data: bytes):
    return client.post(f"{ROUND}/uploads", data={"file": (io.BytesIO(data), "returns.csv")}, headers=headers)


def assert_refused_with_places(answer, *, with_line: bool):
    assert 400 <= answer.status_code < 500, answer.get_data(as_text=True)[:500]
    errors = answer.get_json()["errors"]
    assert errors and all(error["code"] and error["message"] for error in errors)
    if with_line:
        assert all("line" in error for error in errors), errors


@st.composite
def damaged_files(draw):
    """A good file of returns with one kind of damage: a bad cell, a lost or doubled column, a totals row,
    another encoding, or bytes that are no text at all."""
    kind = draw(st.sampled_from(["cell", "missing", "doubled", "totals", "encoding", "garbage"]))
    rows = [HEADER[:], GOOD_ROW[:]]
    if kind == "cell":
        column = draw(st.integers(1, len(HEADER) - 1))
        rows[1][column] = draw(BAD_CELLS)
    elif kind == "missing":
        column = draw(st.integers(1, len(HEADER) - 1))
        rows = [row[:column] + row[column + 1 :] for row in rows]
    elif kind == "doubled":
        column = draw(st.integers(0, len(HEADER) - 1))
        rows = [[*row, row[column]] for row in rows]
    elif kind == "totals":
        rows.append(["Total", "412", "3", "2", "407", "250", "157"])
    text = "\n".join(",".join(row) for row in rows) + "\n"
    if kind == "encoding":
        return ("Bureau de Créteil," + text).encode(draw(st.sampled_from(["utf-16", "cp1252", "utf-32"])))
    if kind == "garbage":
        return draw(st.binary(min_size=1, max_size=2_000))
    return text.encode()


def test_damaged_files_are_refused_with_their_place_and_change_nothing(engine, service):
    client, headers = service
    before = unchanged_except_audit(engine)

    @FUZZ
    @given(data=damaged_files())
    def refused(data):
        answer = upload(client, headers, data)
        assert_refused_with_places(answer, with_line=False)
        assert unchanged_except_audit(engine) == before

    refused()


def test_a_bad_cell_is_named_by_line_and_column(engine, service):
    client, headers = service

    @FUZZ
    @given(column=st.integers(1, len(HEADER) - 1), cell=BAD_CELLS)
    def named(column, cell):
        row = GOOD_ROW[:]
        row[column] = cell
        data = ("\n".join([",".join(HEADER), ",".join(row)]) + "\n").encode()
        errors = upload(client, headers, data).get_json()["errors"]
        assert errors[0]["line"] == 2
        if errors[0]["code"] == "not_a_count":
            assert (errors[0]["column"], errors[0]["field"]) == (column + 1, HEADER[column])

    named()


def test_large_files_are_refused_briefly_with_the_lines_at_fault(engine, service):
    client, headers = service
    row = ",".join(GOOD_ROW[1:])
    before = unchanged_except_audit(engine)
    # 60,000 rows of unknown bureaux: every line is wrong, the answer lists the first thousand.
    lines = [",".join(HEADER), *(f"99-{i:06d},{row}" for i in range(60_000))]
    answer = upload(client, headers, ("\n".join(lines) + "\n").encode())
    body = answer.get_json()
    assert (answer.status_code, len(body["errors"]), body["errors_total"]) == (422, 1_000, 60_000)
    assert [(e["code"], e["line"], e["column"]) for e in body["errors"][:2]] == [
        ("unknown_bureau", 2, 1),
        ("unknown_bureau", 3, 1),
    ]
    # A million rows: above the upload limit (2 MB in this fixture), refused before it is read.
    million = ("\n".join([",".join(HEADER), *(f"B{i:07d},{row}" for i in range(1_000_000))]) + "\n").encode()
    too_large = upload(client, headers, million)
    assert (too_large.status_code, too_large.get_json()["errors"][0]["code"]) == (413, "too_large")
    assert unchanged_except_audit(engine) == before


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


def test_bodies_of_any_shape_get_a_4xx_never_a_5xx(engine, service):
    client, headers = service
    before = unchanged_except_audit(engine)

    @FUZZ
    @given(
        body=st.one_of(
            JSON_VALUES,
            st.fixed_dictionaries(
                {"voters": JSON_VALUES, "blank": JSON_VALUES, "null": JSON_VALUES, "valid": JSON_VALUES},
                optional={"votes": JSON_VALUES, "extra": JSON_VALUES, "registered": JSON_VALUES},
            ),
        )
    )
    def refused(body):
        answer = client.put(
            f"{ROUND}/bureaux/75-01-0001/return",
            data=json.dumps(body),
            headers={**headers, "Content-Type": "application/json"},
        )
        assert 400 <= answer.status_code < 500
        assert answer.get_json()["errors"]
        assert unchanged_except_audit(engine) == before

    refused()
    deep = "[" * 100_000 + "]" * 100_000
    too_deep = client.put(
        f"{ROUND}/bureaux/75-01-0001/return",
        data=deep,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert 400 <= too_deep.status_code < 500
    huge = client.put(
        f"{ROUND}/bureaux/75-01-0001/return",
        data=b" " * (3 * 1024 * 1024),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert (huge.status_code, huge.get_json()["errors"][0]["code"]) == (413, "too_large")
    assert unchanged_except_audit(engine) == before


def test_the_upload_limits_are_the_settings(engine, make_app, auth_headers):
    """The route reads with the limits of its settings (TABULATOR_MAX_UPLOAD_ROWS and the others): a file
    past one is refused with its rule, and nothing changes."""
    client = make_app(upload_limits=ReadLimits(max_rows=2, max_columns=8, seconds=30)).test_client()
    headers = auth_headers["clerk"]
    before = unchanged_except_audit(engine)
    rows = [
        ",".join(GOOD_ROW),
        ",".join(["13-01-0001", *GOOD_ROW[1:]]),
        ",".join(["13-01-0002", *GOOD_ROW[1:]]),
    ]
    answer = upload(client, headers, ("\n".join([",".join(HEADER), *rows]) + "\n").encode())
    assert (answer.status_code, answer.get_json()) == (
        422,
        {
            "errors": [
                {
                    "code": "too_many_rows",
                    "message": "Line 4: a file may have a header and 2 rows at most. Split it into smaller "
                    "files.",
                    "severity": "error",
                    "line": 4,
                }
            ]
        },
    )
    wide = upload(client, headers, ("\n".join([",".join([*HEADER, "a", "b"]), rows[0]]) + "\n").encode())
    assert (wide.status_code, wide.get_json()["errors"][0]["code"]) == (422, "too_many_columns")
    assert unchanged_except_audit(engine) == before
    assert (
        upload(client, headers, ("\n".join([",".join(HEADER), *rows[:2]]) + "\n").encode()).status_code == 201
    )
