"""File readers: every refusal with its code, line and column; cells are text until parsed."""

from __future__ import annotations

import gzip
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import openpyxl
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tabulator.files import read_returns_file
from tabulator.ingest import (
    FileRefused,
    _read_any_rows,
    _read_even_rows,
    parse_counts,
    read_checkpoints_csv,
    read_frame,
    read_returns_csv,
    read_returns_xlsx,
)
from tabulator.limits import ReadLimits
from tabulator.ministry import BLOCK_COLUMNS, FIXED_COLUMNS, read_departements, read_ministry
from tabulator.types import Issue
from tests import hostile_files

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
    assert ministry.batch.bureaux == ("01001_0001", "97101_01.1")
    assert ministry.batch.counts.tolist() == [[498, 37, 8, 453]] * 2
    assert ministry.batch.registered.tolist() == [598, 598]
    areas, bureaux = ministry.registry()
    assert [(a.level, a.code, a.parent_code) for a in areas] == [
        ("national", "FR", None),
        ("region", "01", "FR"),
        ("region", "84", "FR"),
        ("departement", "01", "84"),
        ("departement", "971", "01"),
        ("commune", "01001", "01"),
        ("commune", "97101", "971"),
        ("circonscription", "01-04", "01"),
        ("circonscription", "971-02", "971"),
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


# Hostile files (issue 12, findings 2 and 3): each refused by its limit, at the first byte past it.

HEADER_ROW = b"bureau,voters,blank,null,valid,hamon,valls\n"
GOOD_ROW = b"75-01-0001,412,3,2,407,250,157\n"


def refused_by(reader, data: bytes, *arguments) -> list[Issue]:
    with pytest.raises(FileRefused) as refused:
        reader(data, *arguments)
    return refused.value.issues


def test_a_gzip_bomb_is_refused_once_it_inflates_past_the_limit():
    bomb = hostile_files.gzip_bomb()  # 1 MB, 1 GiB inflated
    assert len(bomb) < 1_100_000
    assert refused_by(read_returns_csv, bomb, CANDIDATES) == [
        Issue(
            "too_large_uncompressed",
            "The file holds more than 67,108,864 bytes uncompressed, the most a file may hold. Split it into "
            "smaller files.",
        )
    ]
    # The layout is told from the first 200 bytes: a ministry-looking bomb is refused the same way.
    ministry_bomb = (
        gzip.compress(MINISTRY_HEADER.encode("latin-1"), mtime=0) + bomb[bomb.index(b"\x1f\x8b", 10) :]
    )
    assert [i.code for i in refused_by(read_returns_file, ministry_bomb, CANDIDATES, DEPARTEMENTS)] == [
        "too_large_uncompressed"
    ]


def test_the_decompressed_limit_is_a_number_of_bytes_not_one_more():
    data = gzip.compress(HEADER_ROW + GOOD_ROW)
    exactly = ReadLimits(max_bytes=len(HEADER_ROW + GOOD_ROW))
    assert read_returns_csv(data, CANDIDATES, limits=exactly).bureaux == ("75-01-0001",)
    assert refused_by(
        lambda d: read_returns_csv(d, CANDIDATES, limits=replace(exactly, max_bytes=exactly.max_bytes - 1)),
        data,
    ) == [
        Issue(
            "too_large_uncompressed",
            "The file holds more than 73 bytes uncompressed, the most a file may hold. Split it into smaller "
            "files.",
        )
    ]
    plain = HEADER_ROW + GOOD_ROW
    assert refused_by(lambda d: read_returns_csv(d, CANDIDATES, limits=ReadLimits(max_bytes=50)), plain) == [
        Issue(
            "too_large_uncompressed",
            "The file holds 74 bytes uncompressed; a file may hold 50 bytes at most. Split it into smaller "
            "files.",
        )
    ]


def test_a_header_of_200_000_columns_is_refused_before_it_is_parsed():
    assert refused_by(read_returns_csv, hostile_files.wide_header(), CANDIDATES) == [
        Issue(
            "too_many_columns",
            "Line 1, column 162: the header has 200,000 columns; a file may have 161 columns at most. Remove "
            "the columns past the last candidate.",
            line=1,
            column=162,
        )
    ]
    assert [i.code for i in refused_by(read_checkpoints_csv, hostile_files.wide_header())] == [
        "too_many_columns"
    ]


def test_a_header_within_the_column_limit_names_each_unknown_column():
    extra = ",".join(f"x{i}" for i in range(150))
    data = f"bureau,voters,blank,null,valid,hamon,valls,{extra}\n75-01-0001,412,3,2,407,250,157{',' * 150}\n"
    assert [(i.code, i.column) for i in refused_by(read_returns_csv, data.encode(), CANDIDATES)][:2] == [
        ("unknown_candidate", 8),
        ("unknown_candidate", 9),
    ]


def test_too_many_rows_are_refused_at_the_first_line_past_the_limit():
    assert refused_by(read_returns_csv, hostile_files.many_rows(100_001), CANDIDATES) == [
        Issue(
            "too_many_rows",
            "Line 100,002: a file may have a header and 100,000 rows at most. Split it into smaller files.",
            line=100_002,
        )
    ]
    assert len(read_returns_csv(hostile_files.many_rows(100_000), CANDIDATES)) == 100_000
    three = ReadLimits(max_rows=3)
    for ending in (b"\n", b"\r\n", b"\r"):
        data = (HEADER_ROW + GOOD_ROW * 4).replace(b"\n", ending)
        assert [
            (i.code, i.line)
            for i in refused_by(lambda d: read_returns_csv(d, CANDIDATES, limits=three), data)
        ] == [("too_many_rows", 5)]
        assert len(read_returns_csv(data[: -len(ending)].rsplit(ending, 1)[0], CANDIDATES, limits=three)) == 3


def test_the_ministry_layout_has_the_same_limits():
    data = (MINISTRY_HEADER + ministry_row() * 3).encode("latin-1")
    assert [
        (i.code, i.line) for i in refused_by(read_ministry, data, DEPARTEMENTS, ReadLimits(max_rows=2))
    ] == [("too_many_rows", 4)]
    assert [
        (i.code, i.line, i.column)
        for i in refused_by(read_ministry, data, DEPARTEMENTS, ReadLimits(max_columns=34))
    ] == [("too_many_columns", 1, 35)]
    assert len(read_ministry(data, DEPARTEMENTS, ReadLimits(max_rows=3, max_columns=35)).batch) == 3


def test_an_xlsx_bomb_is_refused_by_its_declared_sizes_before_anything_is_inflated():
    bomb = hostile_files.xlsx_bomb()  # 2 MB; its strings declare 2 GiB
    assert len(bomb) < 2_200_000
    assert refused_by(read_returns_xlsx, bomb, CANDIDATES) == [
        Issue(
            "too_large_uncompressed",
            "The workbook holds 2,147,485,386 bytes uncompressed; a file may hold 67,108,864 bytes at most. "
            "Split it into smaller files.",
        )
    ]
    rows = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>' * 20_000  # 1 MB
    sheet_bomb = hostile_files.workbook([b"<worksheet><sheetData>", (rows, 128), b"</sheetData></worksheet>"])
    assert [i.code for i in refused_by(read_returns_xlsx, sheet_bomb, CANDIDATES)] == [
        "too_large_uncompressed"
    ]


def test_a_sparse_xlsx_is_refused_at_its_far_cell():
    assert refused_by(read_returns_xlsx, hostile_files.sparse_xlsx("XFD2"), CANDIDATES) == [
        Issue(
            "too_many_columns",
            "Line 2, column 16,384: a file may have 161 columns at most. Remove the columns past the last "
            "candidate.",
            line=2,
            column=16_384,
        )
    ]
    assert refused_by(read_returns_xlsx, hostile_files.sparse_xlsx("XFD1048576"), CANDIDATES) == [
        Issue(
            "too_many_rows",
            "Line 1,048,576: a file may have a header and 100,000 rows at most. Split it into smaller files.",
            line=1_048_576,
        )
    ]
    # Empty cells past the limits are formatting, not data: they cost nothing and are not refused.
    formatted = hostile_files.sparse_xlsx("XFD2", far_value="")
    assert len(read_returns_xlsx(formatted, CANDIDATES)) == 500


def test_xlsx_cells_are_the_text_a_clerk_sees():
    strings = [
        f'<sst xmlns="{hostile_files.MAIN}"><si><t>bureau</t></si>'  # a run, a run, a reading guide
        "<si><r><t>75-01-</t></r><r><t>0001</t></r><rPh><t>ふりがな</t></rPh></si>"
        "<si><t>2017-01-29T20:31:05+01:00</t></si></sst>".encode()
    ]
    header = "".join(
        f'<c r="{column}1" t="inlineStr"><is><t>{name}</t></is></c>'
        for column, name in zip(
            "BCDEFGH", ["voters", "blank", "null", "valid", "hamon", "valls", "reported_at"], strict=True
        )
    )
    sheet = (
        f'<row r="1"><c r="A1" t="s"><v>0</v></c>{header}</row>'
        '<row r="3"><c t="s"><v>1</v></c><c><v>412</v></c><c><v>3.0</v></c><c><v>2</v></c><c><v>407</v></c>'
        '<c><v>250</v></c><c><v>157</v></c><c t="s"><v>2</v></c></row>'
        '<row><c r="A4" t="inlineStr"><is><t>75-01-0002</t></is></c><c r="B4" t="b"><v>1</v></c>'
        '<c r="C4" t="e"><v>#DIV/0!</v></c><c r="D4"><v>1.5</v></c><c r="E4" t="str"><v>=A1</v></c>'
        '<c r="F4"><v>1E3</v></c><c r="G4" s="1"><v>42764.5</v></c>'
        '<c r="H4" s="2"><v>42764.854895833</v></c></row>'
    ).encode()
    styles = (
        b'<numFmts count="1"><numFmt numFmtId="164" formatCode="dd/mm/yyyy\\ hh:mm:ss"/></numFmts>'
        b'<cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/></cellXfs>'
    )
    data = hostile_files.workbook(hostile_files.sheet_part(sheet), strings, styles)
    issues = refused_by(read_returns_xlsx, data, CANDIDATES)
    assert [(i.line, i.column, i.message.rsplit("; got ", 1)[-1]) for i in issues] == [
        (4, 2, "'TRUE'."),
        (4, 3, "'#DIV/0!'."),
        (4, 4, "'1.5'."),
        (4, 5, "'=A1'."),
        (4, 7, "'2017-01-29T12:00:00'."),
        (4, 8, "'2017-01-29T20:31:03'."),
    ]
    first = hostile_files.workbook(
        hostile_files.sheet_part(sheet.split(b'<row><c r="A4"')[0]), strings, styles
    )
    batch = read_returns_xlsx(first, CANDIDATES)
    assert (batch.bureaux, batch.lines, batch.counts.tolist()) == (("75-01-0001",), (3,), [[412, 3, 2, 407]])
    assert batch.reported_at == (datetime(2017, 1, 29, 20, 31, 5, tzinfo=PARIS),)


def test_broken_workbooks_are_unreadable_not_errors():
    doctype = hostile_files.workbook(
        [b'<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">]><worksheet><sheetData/></worksheet>']
    )
    for data in (b"PK\x03\x04garbage", doctype, hostile_files.workbook([b"<worksheet><sheetData>"])):
        assert [i.code for i in refused_by(read_returns_xlsx, data, CANDIDATES)] == ["unreadable_file"]
    whole = gzip.compress(HEADER_ROW + GOOD_ROW)
    cut, broken_block = whole[:-12], whole[:10] + b"\xff" * 4 + whole[14:]  # the header is 10 bytes
    for bad_gzip, why in (
        (cut, "Compressed file ended before the end-of-stream marker was reached"),
        (broken_block, "Error -1 Invalid deflate block found"),  # the inflater's own error, not gzip's
        (whole + b"not gzip", "Compressed file ended before the end-of-stream marker was reached"),
    ):
        assert refused_by(read_returns_csv, bad_gzip, CANDIDATES) == [
            Issue("unreadable_file", f"The file is not a readable gzip archive ({why}).")
        ]


def test_reading_past_its_deadline_is_refused_with_a_sentence():
    assert refused_by(
        lambda d: read_returns_csv(d, CANDIDATES, limits=ReadLimits(seconds=0)), HEADER_ROW + GOOD_ROW
    ) == [
        Issue(
            "too_slow",
            "Reading the file took more than the 0 seconds allowed; nothing of it was applied. Send it again "
            "in a moment, or split it into smaller files.",
        )
    ]


def test_a_workbook_listing_thousands_of_parts_is_refused_before_they_are_listed():
    data = hostile_files.zip_archive({f"{number:06d}": [b""] for number in range(25_000)})
    assert refused_by(read_returns_xlsx, data, CANDIDATES) == [
        Issue(
            "unreadable_file",
            "The file is not a readable XLSX workbook (ValueError: a table of contents of 1,300,000 bytes, "
            "more than any workbook needs).",
        )
    ]


COUNT_CELLS = st.one_of(
    st.integers(0, 10**15 - 1).map(str),
    st.sampled_from(["", " 7", "7 ", "+7", "-0", "-3", "1.0", "1e3", "0x1F", "٣", "²", "7\t", "0" * 16]),
    st.text(alphabet="0123456789 +-.\n", max_size=17),
)


@given(st.lists(COUNT_CELLS, min_size=1, max_size=30), st.sampled_from([object, "str"]))
def test_a_count_column_is_read_by_the_rule_cell_by_cell_whether_clean_or_not(cells, dtype):
    """A clean column is read on its bytes, any other cell by cell: both give what the rule says, a cell
    stripped of its spaces being 1 to 15 ASCII digits, with an error for each other cell. Whether pandas
    holds the cells as Python strings (a file pandas read) or in Arrow (one pyarrow read: "str")."""
    frame = pd.DataFrame({0: cells}, index=range(2, len(cells) + 2), dtype=dtype)
    values, issues = parse_counts(frame, {"voters": 0})
    counted = [cell.strip() for cell in cells]
    good = [c.isascii() and c.isdigit() and len(c) <= 15 for c in counted]
    assert values[:, 0].tolist() == [int(c) if ok else 0 for c, ok in zip(counted, good, strict=True)]
    assert [(i.code, i.line, i.column) for i in issues] == [
        ("not_a_count", line, 1) for line, ok in enumerate(good, start=2) if not ok
    ]


# Any text but the quote (a file with one goes to pandas) and the line ends, which make the rows.
PLAIN_CELLS = st.text(st.characters(exclude_characters='",\n\r', exclude_categories=["Cs"]), max_size=5)


@given(
    st.integers(1, 4).flatmap(
        lambda width: st.lists(st.lists(PLAIN_CELLS, min_size=width, max_size=width), min_size=1, max_size=6)
    ),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_pyarrow_reads_an_even_file_as_pandas_does(rows, line_end):
    """A file without quotes whose rows are as wide as its first is read by pyarrow: the same cells, rows
    and blank lines as pandas' parser reads, which reads every other file."""
    data = line_end.join(",".join(cells) for cells in rows).encode() + line_end.encode()
    assume(data.decode().strip() and rows[0] != [""])  # refused before either reads it (below)
    frame = _read_even_rows(data, ",")
    assert frame is not None
    assert frame.to_numpy().tolist() == _read_any_rows(data, ",").to_numpy().tolist()


def test_a_file_with_quotes_or_uneven_rows_is_read_by_pandas():
    """pandas reads a quoted separator or line break as part of its cell, pads a short row with empty cells
    and refuses a long one with its line: pyarrow leaves such files to it."""
    quoted = b'bureau,name\n75-01-0001,"Paris, 1er\nbureau"\n'
    assert _read_even_rows(quoted, ",") is None
    assert read_frame(quoted.decode(), ",").to_numpy().tolist() == [
        ["bureau", "name"],
        ["75-01-0001", "Paris, 1er\nbureau"],
    ]
    uneven = b"a,b,c\n1,2\n3,4,5\n"
    assert _read_even_rows(uneven, ",") is None
    assert read_frame(uneven.decode(), ",").to_numpy().tolist() == [
        ["a", "b", "c"],
        ["1", "2", ""],
        ["3", "4", "5"],
    ]
    assert refusal((HEADER + "75-01-0001,412,3,2,407,250,157,,9\n").encode()) == [
        ("wrong_cell_count", 2, 9, None)
    ]


def test_a_file_that_starts_with_a_blank_line_is_refused_on_line_1():
    """pandas finds no columns in an empty first line, and failed with an error of its own (a 500)."""
    for start in ("\n", "\r\n", "\r"):
        assert refusal(f"{start}{HEADER}75-01-0001,412,3,2,407,250,157,\n".encode()) == [
            ("wrong_header", 1, None, None)
        ]


@pytest.mark.parametrize("quote", ["", '"'], ids=["read by pyarrow", "read by pandas"])
def test_a_cell_of_a_megabyte_is_refused_with_its_place_not_a_memory_error(quote):
    """numpy text is as wide as its longest cell in every row: one cell of a megabyte among 50,000 rows
    asked 186 GiB. The cell is cut to 100 characters and an ellipsis, still not a count, still shown."""
    rows = [f"75-01-{number:05d},412,3,2,407,250,157," for number in range(50_000)]
    rows[0] = "75-01-00000," + "9" * 1_000_000 + ",3,2,407,250,157,"
    rows[1] = rows[1].replace(",412,", f",{quote}412{quote},")
    with pytest.raises(FileRefused) as refused:
        read_returns_csv((HEADER + "\n".join(rows) + "\n").encode(), CANDIDATES)
    assert [(i.code, i.line, i.column, i.message) for i in refused.value.issues] == [
        (
            "not_a_count",
            2,
            2,
            "Line 2, column 2 (voters): expected a whole number (0 or more); got '9999999999999999999999999"
            "999999999999999'.",
        )
    ]


def test_a_ministry_bureau_code_longer_than_a_code_may_be_is_refused_at_its_place():
    """Its commune's code, "_" and the cell make the code, 80 characters at most: one of 74 fits, one of 75
    or a megabyte is refused at its line and column, shown cut."""
    data = MINISTRY_HEADER + ministry_row(bureau="7" * 74) + ministry_row(bureau="7" * 75)
    data += ministry_row(bureau="7" * 1_000_000)
    with pytest.raises(FileRefused) as refused:
        read_ministry(data.encode("utf-8"), DEPARTEMENTS)
    shown = "01001_" + "7" * 34
    assert [(i.code, i.line, i.column, i.field, i.message) for i in refused.value.issues] == [
        (
            "bad_code",
            line,
            7,
            "Code du b.vote",
            f"Line {line}, column 7: bureau code '{shown}'… is longer than the 80 characters a code may "
            "have.",
        )
        for line in (3, 4)
    ]
