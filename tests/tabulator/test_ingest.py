"""File readers: every refusal with its code, line and column; cells are text until parsed."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime, timedelta, timezone

import openpyxl
import pytest

from tabulator.ingest import FileRefused, read_checkpoints_csv, read_returns_csv, read_returns_xlsx
from tabulator.ministry import BLOCK_COLUMNS, FIXED_COLUMNS, read_departements, read_ministry
from tabulator.types import Issue

CANDIDATES = ("hamon", "valls")
HEADER = "bureau,voters,blank,null,valid,hamon,valls,reported_at\n"
PARIS = timezone(timedelta(hours=1))


def refusal(data: bytes, candidates=CANDIDATES) -> list[tuple]:
    with pytest.raises(FileRefused) as refused:
        read_returns_csv(data, candidates)
    return [(i.code, i.line, i.column, i.field) for i in refused.value.issues]


def test_a_good_file_is_read_with_its_lines_and_times():
    batch = read_returns_csv(
        (
            HEADER + "75-01-0001,412,3,2,407,250,157,2017-01-29T20:31:05+01:00\n75-01-0002,10,0,0,10,5,5,\n"
        ).encode(),
        CANDIDATES,
    )
    assert batch.bureaux == ("75-01-0001", "75-01-0002")
    assert batch.counts.tolist() == [[412, 3, 2, 407], [10, 0, 0, 10]]
    assert batch.votes.tolist() == [[250, 157], [5, 5]]
    assert batch.reported_at == (datetime(2017, 1, 29, 20, 31, 5, tzinfo=PARIS), None)
    assert batch.lines == (2, 3)
    assert batch.columns == {
        "bureau": 1,
        "voters": 2,
        "blank": 3,
        "null": 4,
        "valid": 5,
        "hamon": 6,
        "valls": 7,
        "reported_at": 8,
    }


def test_codes_keep_their_leading_zeros_and_columns_may_come_in_any_order():
    batch = read_returns_csv(
        b"valls,hamon,valid,null,blank,voters,bureau\n157,250,407,2,3,412,0012\n", CANDIDATES
    )
    assert (batch.bureaux, batch.votes.tolist()) == (("0012",), [[250, 157]])


def test_cells_that_are_not_whole_numbers_are_refused_with_their_place():
    data = (
        HEADER + "75-01-0001,412,3,2,407,250,157,\n75-01-0002,1.5,-1,,1e3,=A1+B1,1234567890123456,\n"
    ).encode()
    assert refusal(data) == [
        ("not_a_count", 3, 2, "voters"),
        ("not_a_count", 3, 3, "blank"),
        ("not_a_count", 3, 4, "null"),
        ("not_a_count", 3, 5, "valid"),
        ("not_a_count", 3, 6, "hamon"),
        ("not_a_count", 3, 7, "valls"),
    ]
    with pytest.raises(FileRefused) as refused:
        read_returns_csv(data, CANDIDATES)
    assert refused.value.issues[0].message == (
        "Line 3, column 2 (voters): expected a whole number (0 or more); got '1.5'."
    )
    assert refused.value.issues[-1].message == (
        "Line 3, column 7 (valls): expected a whole number of 15 digits at most; got '1234567890123456'."
    )


def test_headers_are_checked_before_any_row():
    assert refusal(b"bureau,voters,blank,valid,hamon,montebourg,hamon\n1,1,0,1,1,0,0\n") == [
        ("duplicate_column", 1, 7, "hamon"),
        ("missing_column", 1, None, "null"),
        ("unknown_candidate", 1, 6, "montebourg"),
        ("missing_candidate", 1, None, "valls"),
    ]


def test_empty_files_ragged_rows_bad_encodings_and_bad_times():
    assert refusal(b"") == [("empty_file", 1, None, None)]
    assert refusal(HEADER.encode()) == [("empty_file", 2, None, None)]
    assert refusal((HEADER + "a,1,0,0,1,1,0,,extra\n").encode()) == [("wrong_cell_count", 2, 9, None)]
    assert refusal(HEADER.encode() + b"Sa\xefnt,1,0,0,1,1,0,\n") == [("bad_encoding", 2, 3, None)]
    assert refusal((HEADER + "a,1,0,0,1,1,0,20:31\nb,1,0,0,1,1,0,2017-01-29T20:31:00\n").encode()) == [
        ("bad_time", 2, 8, "reported_at"),
        ("bad_time", 3, 8, "reported_at"),
    ]


def test_xlsx_is_read_as_the_text_a_clerk_sees():
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["bureau", "voters", "blank", "null", "valid", "hamon", "valls"])
    sheet.append(["0001", 412, 3, 2, 407.0, 250, 157])
    sheet.append(["0002", 10.5, 0, 0, 10, 5, 5])
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(FileRefused) as refused:
        read_returns_xlsx(buffer.getvalue(), CANDIDATES)
    assert [(i.code, i.line, i.column) for i in refused.value.issues] == [("not_a_count", 3, 2)]


def test_a_broken_workbook_is_refused():
    with pytest.raises(FileRefused) as refused:
        read_returns_xlsx(b"PK\x03\x04garbage", CANDIDATES)
    assert refused.value.issues[0].code == "unreadable_file"


def test_checkpoint_files():
    batch = read_checkpoints_csv(
        b"bureau,time,voters,reported_at\n75-01-0001,17:00,300,2017-01-29T17:20:00+01:00\n"
    )
    assert (batch.bureaux, batch.times, batch.voters.tolist()) == (("75-01-0001",), ("17:00",), [300])
    assert batch.reported_at == (datetime(2017, 1, 29, 16, 20, tzinfo=UTC),)
    with pytest.raises(FileRefused) as refused:
        read_checkpoints_csv(b"bureau,time,voters\n75-01-0001,17:00,lots\n")
    assert refused.value.issues == [
        Issue(
            "not_a_count",
            "Line 2, column 3 (voters): expected a whole number (0 or more); got 'lots'.",
            field="voters",
            line=2,
            column=3,
        )
    ]


MINISTRY_HEADER = ";".join([*FIXED_COLUMNS, *BLOCK_COLUMNS, *[""] * 7]) + "\r\n"
DEPARTEMENTS = read_departements(
    "code,ministry_code,name,region_code,region_name,circonscriptions,population\n"
    "01,01,Ain,84,Auvergne-Rhône-Alpes,5,1\n971,ZA,Guadeloupe,01,Guadeloupe,4,1\n"
)


def ministry_row(*, dept="01", circ="4", bureau="0001", votants="498") -> str:
    return (
        f"{dept};Ain;{circ};4ème circonscription;001;L'Abergement-Clémenciat;{bureau};598;100;16,72;"
        f"{votants};83,28;37;6,19;7,43;8;1,34;1,61;453;75,75;90,96;1;M;MACRON;Emmanuel;272;45,48;60,04;2;F;"
        "LE PEN;Marine;181;30,27;39,96\r\n"
    )


def test_the_ministry_layout_describes_its_registry_and_its_returns():
    data = gzip.compress(
        (MINISTRY_HEADER + ministry_row() + ministry_row(dept="ZA", circ="2", bureau="01.1")).encode(
            "latin-1"
        )
    )
    ministry = read_ministry(data, DEPARTEMENTS)
    assert [(c.id, c.name, c.ballot_order) for c in ministry.candidates] == [
        ("macron", "Emmanuel Macron", 1),
        ("le-pen", "Marine Le Pen", 2),
    ]
    assert ministry.batch.bureaux == ("01-04-001-0001", "971-02-001-01.1")
    assert ministry.batch.counts.tolist() == [[498, 37, 8, 453]] * 2
    assert ministry.batch.registered.tolist() == [598, 598]
    areas, bureaux = ministry.registry()
    assert [(a.level, a.code, a.parent_code) for a in areas] == [
        ("national", "FR", None),
        ("region", "01", "FR"),
        ("region", "84", "FR"),
        ("departement", "01", "84"),
        ("departement", "971", "01"),
        ("circonscription", "01-04", "01"),
        ("circonscription", "971-02", "971"),
        ("commune", "01-04-001", "01-04"),
        ("commune", "971-02-001", "971-02"),
    ]
    assert bureaux[1].name == "L'Abergement-Clémenciat, bureau 01.1"


def test_ministry_errors_name_line_and_column():
    data = MINISTRY_HEADER + ministry_row(dept="XX") + ministry_row(circ="4b") + ministry_row(votants="4 98")
    with pytest.raises(FileRefused) as refused:
        read_ministry(data.encode("utf-8"), DEPARTEMENTS)
    assert [(i.code, i.line, i.column) for i in refused.value.issues] == [
        ("unknown_departement", 2, 1),
        ("bad_code", 3, 3),
        ("not_a_count", 4, 11),
    ]
    with pytest.raises(FileRefused) as refused:
        read_ministry(MINISTRY_HEADER.replace("Votants", "Voters").encode(), DEPARTEMENTS)
    assert [(i.code, i.line, i.column, i.field) for i in refused.value.issues] == [
        ("wrong_header", 1, 11, "Votants")
    ]


def test_blank_lines_keep_the_line_numbers_true():
    data = (HEADER + "75-01-0001,412,3,2,407,250,157,\n\n75-01-0002,1.5,0,0,10,5,5,\n").encode()
    assert refusal(data) == [("not_a_count", 4, 2, "voters")]
    short = (HEADER + "75-01-0001,412,3,2\n").encode()
    assert refusal(short) == [
        ("not_a_count", 2, 5, "valid"),
        ("not_a_count", 2, 6, "hamon"),
        ("not_a_count", 2, 7, "valls"),
    ]


def test_an_open_primary_leaves_inscrits_empty():
    row = ministry_row().replace(";598;100;16,72;", ";;;;")
    ministry = read_ministry((MINISTRY_HEADER + row).encode(), DEPARTEMENTS)
    assert ministry.batch.registered.tolist() == [-1]
    assert ministry.registry()[1][0].registered is None
