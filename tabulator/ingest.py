"""Reading returns from files: tabulator's CSV layout, the same as XLSX, and the ministry's layout.

Each reader goes through a chain of small checks — decodable, not empty, the right columns, whole numbers
in the count cells, times with their offset — and returns the batch with every problem found, each with
its line and column. Every cell is read as text (by pyarrow for a file without quotes and with even rows,
else by pandas' parser, into the same frame); nothing is guessed, so `0012` stays a code and `1.5` is an
error, not a float.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from isal import igzip, isal_zlib

from tabulator.batch import COUNT_FIELDS, UNKNOWN, BoolArray, CheckpointBatch, IntArray, ReturnBatch
from tabulator.limits import DEFAULT_LIMITS, Deadline, ReadLimits, too_large, too_many_columns, too_many_rows
from tabulator.limits import FileRefused as FileRefused  # noqa: PLC0414 (re-exported: api and the console import it from here)
from tabulator.rules import check_candidate_names, error
from tabulator.types import Issue
from tabulator.xlsx import read_sheet

ERRORS_PER_COLUMN = 1_000  # enough to see the pattern; a file of garbage would otherwise list a million
GZIP_MAGIC = b"\x1f\x8b"
ZIP_MAGIC = b"PK\x03\x04"
# A bad gzip's errors: gzip.BadGzipFile is an OSError; a broken block, ISA-L's own error (which its stubs
# declare as an instance: it is a class).
INFLATE_ERRORS = (OSError, EOFError, cast(type[Exception], isal_zlib.error))
GZIP_PIECE = 1024 * 1024  # inflated at a time: the limit is passed by at most this much
# Characters of a cell that numpy text keeps (`text_column`): a code or a count is far shorter, and a
# column of numpy text takes 4 bytes a character of its longest cell in every row.
LONGEST_CELL = 100
ENCODING_PROBE = 64 * 1024  # bytes decoded before the whole file (`decode_text`)
MAX_COUNT_DIGITS = 15  # a count of more digits is a slip: no bureau, nor France, has a quadrillion voters
NEWLINE, CARRIAGE_RETURN, ZERO = ord("\n"), ord("\r"), ord("0")


def read_table(
    data: bytes,
    separator: str,
    limits: ReadLimits,
    deadline: Deadline,
    encodings: Sequence[str] = ("utf-8-sig",),
) -> pd.DataFrame:
    """A text file's cells, once it is known to be within the limits (before pandas, which holds every
    cell: a header of 200,000 columns or a million empty lines would cost it minutes and gigabytes)."""
    raw = unpacked(data, limits, deadline)
    check_shape(raw, separator.encode(), limits)
    text = decode_text(raw, encodings)
    del raw  # the text replaces it: a large file is not held twice while pandas reads it
    deadline.check()
    frame = read_frame(text, separator)
    deadline.check()
    return frame


def unpacked(data: bytes, limits: ReadLimits, deadline: Deadline) -> bytes:
    """The file's bytes, gunzipped if need be. A gzip of a megabyte can inflate to gigabytes: it is inflated
    a piece at a time and refused as soon as it passes the limit. By ISA-L (`isal`), gzip's own format and
    errors: a national file inflated in 20 ms, against 110 ms for the standard library's zlib."""
    if data[:2] != GZIP_MAGIC:
        if len(data) > limits.max_bytes:
            raise too_large("The file", len(data), limits)
        return data
    pieces, size = [], 0
    try:
        with _inflating(data) as stream:
            while piece := stream.read(GZIP_PIECE):
                size += len(piece)
                if size > limits.max_bytes:
                    raise too_large("The file", None, limits)
                pieces.append(piece)
                deadline.check()
    except INFLATE_ERRORS as exc:
        raise FileRefused(
            [error("unreadable_file", f"The file is not a readable gzip archive ({exc}).")]
        ) from None
    return b"".join(pieces)


def _inflating(data: bytes) -> igzip.IGzipFile:
    """A gzip's bytes as a stream of what they inflate to, by ISA-L (a gzip.GzipFile)."""
    return igzip.IGzipFile(fileobj=io.BytesIO(data))  # type: ignore[no-untyped-call]  # isal types no __init__


def gzip_head(data: bytes, size: int) -> bytes:
    """The first bytes of a gzipped file, inflating no more than them; b"" if it does not inflate."""
    try:
        with _inflating(data) as stream:
            return stream.read(size)
    except INFLATE_ERRORS:
        return b""


def check_shape(data: bytes, separator: bytes, limits: ReadLimits) -> None:
    """Count the lines and the header's cells in the bytes, in C, before any parsing. A quoted separator in
    a header cell counts as one more column: the count can only err towards refusing a file that is
    already near the limit."""
    first_end = min((end for end in (data.find(b"\n"), data.find(b"\r")) if end >= 0), default=len(data))
    columns = data.count(separator, 0, first_end) + 1
    if columns > limits.max_columns:
        raise too_many_columns(1, limits.max_columns + 1, limits, found=columns)
    lines = data.count(b"\n") + (not data.endswith((b"\n", b"\r")))
    if b"\r" in data:  # old Macs' line ends, only for a file that has a carriage return (Windows' have)
        lines += _lone_carriage_returns(data)
    if lines - 1 > limits.max_rows:
        raise too_many_rows(limits.max_rows + 2, limits)


def _lone_carriage_returns(data: bytes) -> int:
    """How many carriage returns end a line on their own, not followed by a line feed: found in numpy
    (10 ms for a national file of Windows line ends, against 25 for `bytes.count` of both), by masks of a
    byte a byte of the file (positions would take eight for a file of nothing else)."""
    codes = np.frombuffer(data, np.uint8)
    returns = codes == CARRIAGE_RETURN
    followed = np.count_nonzero(returns[:-1] & (codes[1:] == NEWLINE))
    return int(np.count_nonzero(returns)) - int(followed)


def decode_text(data: bytes, encodings: Sequence[str] = ("utf-8-sig",)) -> str:
    """The file's text in the first encoding that decodes it."""
    failure: UnicodeDecodeError | None = None
    for encoding in encodings:
        try:
            # A file's first bytes first: a failure copies the whole file into its exception (7 ms for a
            # national file in Latin-1, whose first accent is in its header).
            codecs.getincrementaldecoder(encoding)().decode(data[:ENCODING_PROBE], final=False)
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            failure = failure or exc
    assert failure is not None
    line = data[: failure.start].count(b"\n") + 1
    column = failure.start - (data.rfind(b"\n", 0, failure.start) + 1) + 1
    raise FileRefused(
        [
            error(
                "bad_encoding",
                f"Line {line}, character {column}: the file is not {' or '.join(encodings)} text "
                f"(byte 0x{data[failure.start]:02x}). Save it as UTF-8 CSV.",
                line=line,
                column=column,
            )
        ]
    )


def read_frame(text: str, separator: str) -> pd.DataFrame:
    """Every cell as text; rows numbered by their line in the file (header = line 1)."""
    if not text or text.isspace():  # stops at the first other character: strip() copied the whole text
        raise FileRefused([error("empty_file", "The file is empty.", line=1)])
    if text[0] in "\r\n":  # pandas would find no columns in it, and fail
        raise FileRefused([error("wrong_header", "Line 1 is empty: a file starts with its header.", line=1)])
    # As UTF-8 bytes: pandas reads a StringIO through a copy of four bytes per character.
    data = text.encode()
    frame = _read_even_rows(data, separator)
    if frame is None:
        frame = _read_any_rows(data, separator)
    frame.index = np.arange(1, len(frame) + 1)
    # Only a blank line makes a row wholly empty, and its first cell is empty: looked for in the text (13 ms
    # in a national file) only when some row starts with an empty cell (2 ms), which hardly any file has.
    if (frame.iloc[:, 0].to_numpy() == "").any() and ("\n\n" in text or "\n\r\n" in text):
        frame = frame[(frame != "").any(axis=1)]
    return frame


def _read_even_rows(data: bytes, separator: str) -> pd.DataFrame | None:
    """A file without quotes whose rows are all as wide as its first line (the ministry's, and nearly every
    file) read by pyarrow's CSV reader, in C++ on every core, into Arrow-backed text columns: a national file
    in 60 ms, against 270 for pandas' own parser, which makes a Python string of every cell. None for any
    other file, which `_read_any_rows` reads: the same cells, and pandas' way with short and long rows."""
    if b'"' in data:
        return None  # a quoted cell may hold a separator or a line break: pandas reads those
    first_end = min((end for end in (data.find(b"\n"), data.find(b"\r")) if end >= 0), default=len(data))
    names = [str(position) for position in range(data.count(separator.encode(), 0, first_end) + 1)]
    uneven: list[pa_csv.InvalidRow] = []

    def set_aside(row: pa_csv.InvalidRow) -> Literal["skip"]:
        uneven.append(row)
        return "skip"

    try:
        table = pa_csv.read_csv(
            io.BytesIO(data),
            pa_csv.ReadOptions(column_names=names),
            # Blank lines are read as rows of empty cells, as pandas reads them (read_frame drops them).
            pa_csv.ParseOptions(
                delimiter=separator, quote_char=False, ignore_empty_lines=False, invalid_row_handler=set_aside
            ),
            # No NA detection: a missing or empty cell is "", and the rules say what it should have been.
            pa_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pa.large_string()),
                strings_can_be_null=False,
                null_values=[],
            ),
        )
    except pa.ArrowException:  # a row longer than pyarrow's block, or any other trouble: pandas reads it
        return None
    if uneven:
        return None
    frame = table.to_pandas()
    frame.columns = pd.RangeIndex(len(names))
    return frame


def _read_any_rows(data: bytes, separator: str) -> pd.DataFrame:
    """Any file, by pandas' parser: a row shorter than the first is padded with empty cells, a longer one is
    refused with its line. As object columns of str: pandas 3's string dtype checks every cell again."""
    try:
        # Blank lines are read, then dropped, so that each row keeps the number of its line in the file.
        return pd.read_csv(
            io.BytesIO(data),
            sep=separator,
            encoding="utf-8",
            dtype=object,
            header=None,
            na_filter=False,
            skip_blank_lines=False,
        )
    except pd.errors.ParserError as exc:
        raise FileRefused([_ragged_row(str(exc))]) from None


def _ragged_row(message: str) -> Issue:
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if not found:
        return error("unreadable_file", f"The file cannot be read as a table: {message}")
    expected, line, saw = (int(part) for part in found.groups())
    return error(
        "wrong_cell_count",
        f"Line {line}: {saw} cells where the header has {expected}. Check for a stray separator.",
        line=line,
        column=expected + 1,
    )


def parse_counts(
    frame: pd.DataFrame, columns: Mapping[str, int], label: str = ""
) -> tuple[IntArray, list[Issue]]:
    """Whole numbers ≥ 0 from the given columns (field -> 0-based position), with an error per bad cell."""
    values = np.zeros((len(frame), len(columns)), np.int64)
    issues: list[Issue] = []
    for slot, (field, position) in enumerate(columns.items()):
        clean = _clean_counts(frame.iloc[:, position])
        if clean is not None:
            values[:, slot] = clean
            continue
        cells = text_column(frame, position)
        good = whole_numbers(cells)
        values[good, slot] = cells[good].astype(np.int64)
        for row in np.flatnonzero(~good)[:ERRORS_PER_COLUMN].tolist():
            issues.append(_not_a_count(field, int(frame.index[row]), position + 1, str(cells[row]), label))
    return values, issues


def _clean_counts(column: pd.Series) -> IntArray | None:
    """A column's counts when every cell is 1 to 15 ASCII digits and nothing else, checked on the column's
    bytes in numpy and parsed in C (3 ms for a ministry column of 69,242 cells, against 20 ms cell by cell);
    None sends any other column, and so every error, through the rules cell by cell."""
    arrow = _arrow_text(column)
    if arrow is not None:
        cells = _cells_bytes(arrow)
        if cells is None or not _all_counts(*cells):
            return None
        counts: IntArray = pc.cast(arrow, pa.int64()).to_numpy()
        return counts
    try:
        joined = "\n".join(column.tolist()).encode("ascii")
    except (TypeError, UnicodeEncodeError):  # a cell that is not text, or not ASCII
        return None
    codes = np.frombuffer(joined, np.uint8)
    line_ends = np.flatnonzero(codes == NEWLINE)
    lengths = np.diff(line_ends, prepend=-1, append=len(codes)) - 1  # each cell's characters
    if len(lengths) != len(column) or not _all_counts(codes[codes != NEWLINE], lengths):
        return None  # a cell holding a line break is not a count either
    return np.fromstring(joined, np.int64, sep="\n")


def _all_counts(characters: npt.NDArray[np.uint8], lengths: IntArray) -> bool:
    """Whether cells of these lengths, whose characters follow each other, are all counts: 1 to 15 digits,
    nothing padded, signed or decimal."""
    digits_only = bool((characters - ZERO < 10).all())  # uint8: below "0" wraps past 10
    return digits_only and len(lengths) > 0 and 1 <= lengths.min() <= lengths.max() <= MAX_COUNT_DIGITS


def _arrow_text(column: pd.Series) -> pa.Array[Any] | None:
    """The column's cells as one Arrow array, when pandas holds them in Arrow (`_read_even_rows`)."""
    if getattr(column.dtype, "storage", None) != "pyarrow":
        return None
    cells = pa.array(column.array)  # a file read in pieces gives a column in pieces: joined in one copy
    return cells.combine_chunks() if isinstance(cells, pa.ChunkedArray) else cells


def _cells_bytes(cells: pa.Array[Any]) -> tuple[npt.NDArray[np.uint8], IntArray] | None:
    """The UTF-8 bytes of an Arrow text array's cells one after the other, and each cell's length in bytes,
    as views of its buffers (nothing copied); None if a cell is missing."""
    large = pa.types.is_large_string(cells.type)
    if cells.null_count or not (large or pa.types.is_string(cells.type)):
        return None
    _, offsets_buffer, data_buffer = cells.buffers()
    assert offsets_buffer is not None  # a text array always has its offsets
    offsets = np.frombuffer(memoryview(offsets_buffer), np.int64 if large else np.int32)
    offsets = offsets[cells.offset : cells.offset + len(cells) + 1].astype(np.int64, copy=False)
    data = (
        np.frombuffer(memoryview(data_buffer), np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
    )
    return data[offsets[0] : offsets[-1]], np.diff(offsets)


def text_column(frame: pd.DataFrame, position: int) -> npt.NDArray[np.str_]:
    """A column as a numpy array of stripped text (numpy's string functions run in C)."""
    column = frame.iloc[:, position]
    arrow = _arrow_text(column)
    cells = _ascii_text(arrow) if arrow is not None else None
    return np.strings.strip(cells if cells is not None else _cut_long_cells(column).to_numpy(dtype=str))


def _cut_long_cells(column: pd.Series) -> pd.Series:
    """The column with each cell longer than LONGEST_CELL cut to it and ended with "…", which no code nor
    count holds, so that it is still refused, and shown. numpy text is as wide as its longest cell in every
    row: one cell of a megabyte among 50,000 asked 186 GiB, and the upload failed with a MemoryError."""
    long = (column.str.len() > LONGEST_CELL).to_numpy()
    if not long.any():
        return column
    return column.where(~long, column.str.slice(0, LONGEST_CELL) + "…")


def _ascii_text(cells: pa.Array[Any]) -> npt.NDArray[np.str_] | None:
    """An Arrow text array as numpy text, made from its bytes without a Python string per cell (6 ms a
    column of a national file less), when every character is ASCII and not NUL (numpy's text ends at a NUL)
    and the cells are short enough that a table as wide as the longest stays small (a column of codes);
    None for any other."""
    found = _cells_bytes(cells)
    if found is None:
        return None
    characters, lengths = found
    width = max(int(lengths.max(initial=0)), 1)
    if width > LONGEST_CELL or len(lengths) * width > 4 * len(characters) + 65_536:
        return None
    if not ((characters - 1) < 127).all():  # uint8: a NUL wraps past 127
        return None
    # numpy's text is one 32-bit code point a character, the rest of its width NUL: an ASCII byte widened.
    table = np.zeros((len(lengths), width), np.uint32)
    table[np.arange(width) < lengths[:, None]] = characters
    text: npt.NDArray[np.str_] = table.view(f"U{width}").ravel()
    return text


def whole_numbers(cells: npt.NDArray[np.str_]) -> BoolArray:
    """Cells of 1 to 15 ASCII digits: no sign, no decimal point, no exponent, no other script's digits."""
    if cells.dtype.itemsize == 0 or not len(cells):
        return np.zeros(len(cells), bool)
    ascii_only: BoolArray = cells.view(np.uint32).reshape(len(cells), -1).max(axis=1) < 128
    short: BoolArray = np.strings.str_len(cells) <= MAX_COUNT_DIGITS
    return np.strings.isdecimal(cells) & ascii_only & short


def _not_a_count(field: str, line: int, column: int, cell: str, label: str) -> Issue:
    got = "an empty cell" if not cell else repr(cell[:40])
    reason = "a whole number of 15 digits at most" if cell.isdigit() else "a whole number (0 or more)"
    return error(
        "not_a_count",
        f"Line {line}, column {column} ({label or field}): expected {reason}; got {got}.",
        field=field,
        line=line,
        column=column,
    )


def parse_times(cells: pd.Series, field: str, column: int) -> tuple[list[datetime | None], list[Issue]]:
    """ISO 8601 times with their UTC offset; empty cells are None (the time of recording applies)."""
    parsed: dict[str, datetime | None] = {"": None}
    issues = []
    times: list[datetime | None] = []
    for line, cell in cells.str.strip().items():
        if cell not in parsed:
            try:
                moment: datetime | None = datetime.fromisoformat(cell)
            except ValueError:
                moment = None
            if moment is not None and moment.tzinfo is None:
                moment = None
            parsed[cell] = moment
        if parsed[cell] is None and cell:
            issues.append(
                error(
                    "bad_time",
                    f"Line {line}, column {column} ({field}): expected a time with its offset, like "
                    f"2017-01-29T20:31:05+01:00; got {cell[:40]!r}.",
                    field=field,
                    line=int(str(line)),
                    column=column,
                )
            )
        times.append(parsed[cell])
    return times, issues


def check_header(header: Sequence[str], required: Sequence[str], optional: Sequence[str] = ()) -> list[Issue]:
    issues = []
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if name in seen:
            issues.append(
                error(
                    "duplicate_column",
                    f"Line 1, column {position}: column {name!r} appears twice.",
                    field=name,
                    line=1,
                    column=position,
                )
            )
        seen.add(name)
    missing = [name for name in required if name not in seen]
    issues += [
        error("missing_column", f"Line 1: the column {name!r} is missing.", field=name, line=1)
        for name in missing
    ]
    known = set(required) | set(optional)
    issues += [
        error(
            "unknown_column",
            f"Line 1, column {position}: unknown column {name!r}.",
            field=name,
            line=1,
            column=position,
        )
        for position, name in enumerate(header, start=1)
        if name not in known
    ]
    return issues


def returns_from_frame(
    frame: pd.DataFrame, candidate_ids: Sequence[str], deadline: Deadline, *, with_reason: bool = False
) -> ReturnBatch:
    """tabulator's layout: bureau, voters, blank, null, valid, one column per candidate, reported_at."""
    header = [str(cell).strip() for cell in frame.iloc[0]]
    body = frame.iloc[1:]
    fixed = ["bureau", *COUNT_FIELDS]
    optional = ["reported_at", "registered"] + (["reason"] if with_reason else [])
    header_issues = check_header(header, fixed, [*optional, *candidate_ids])
    given_candidates = [name for name in header if name not in fixed and name not in optional]
    columns = column_positions(header)
    header_issues = [i for i in header_issues if i.code != "unknown_column"] + check_candidate_names(
        given_candidates, candidate_ids, {name: position + 1 for name, position in columns.items()}
    )
    if header_issues:
        raise FileRefused(header_issues)
    if body.empty:
        raise FileRefused([error("empty_file", "The file has a header but no rows.", line=2)])
    count_columns = {name: columns[name] for name in [*COUNT_FIELDS, *candidate_ids]}
    values, issues = parse_counts(body, count_columns)
    deadline.check()
    registered = np.full(len(body), UNKNOWN, np.int64)
    if "registered" in columns:
        registered, more = optional_counts(body, columns["registered"], "registered")
        issues += more
    reported_at, more = _reported_at(body, columns)
    issues += more
    if issues:
        raise FileRefused(issues)
    deadline.check()
    reasons = (
        tuple(str(cell).strip() or None for cell in body.iloc[:, columns["reason"]])
        if "reason" in columns
        else ()
    )
    return ReturnBatch(
        candidate_ids=tuple(candidate_ids),
        bureaux=tuple(body.iloc[:, columns["bureau"]].str.strip()),
        counts=values[:, :4],
        votes=values[:, 4:],
        registered=registered,
        reported_at=tuple(reported_at),
        lines=tuple(int(line) for line in body.index),
        columns={name: position + 1 for name, position in columns.items()},
        reasons=reasons,
    )


def column_positions(header: Sequence[str]) -> dict[str, int]:
    """Each name's first position, 0-based, in one pass (a header's duplicates are refused by
    `check_header`; `header.index` per name would be quadratic in a header's width)."""
    positions: dict[str, int] = {}
    for position, name in enumerate(header):
        positions.setdefault(name, position)
    return positions


def _reported_at(body: pd.DataFrame, columns: Mapping[str, int]) -> tuple[list[datetime | None], list[Issue]]:
    """The optional `reported_at` column; without it, every row takes its time of recording."""
    if "reported_at" not in columns:
        return [None] * len(body), []
    return parse_times(body.iloc[:, columns["reported_at"]], "reported_at", columns["reported_at"] + 1)


def optional_counts(body: pd.DataFrame, position: int, field: str) -> tuple[IntArray, list[Issue]]:
    """A count that may be left empty (UNKNOWN), such as inscrits in an open primary."""
    column = body.iloc[:, position]
    clean = _clean_counts(column)
    if clean is not None:  # every cell given (a ministry file's inscrits): the column read once, in C
        return clean, []
    cells = column.str.strip()
    present = (cells != "").to_numpy()
    values, issues = parse_counts(body[present], {field: position})
    counts = np.full(len(body), UNKNOWN, np.int64)
    counts[present] = values[:, 0]
    return counts, issues


def read_returns_csv(
    data: bytes,
    candidate_ids: Sequence[str],
    *,
    with_reason: bool = False,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> ReturnBatch:
    deadline = Deadline(limits.seconds)
    frame = read_table(data, ",", limits, deadline)
    return returns_from_frame(frame, candidate_ids, deadline, with_reason=with_reason)


def read_returns_xlsx(
    data: bytes, candidate_ids: Sequence[str], limits: ReadLimits = DEFAULT_LIMITS
) -> ReturnBatch:
    deadline = Deadline(limits.seconds)
    return returns_from_frame(xlsx_frame(data, limits, deadline), candidate_ids, deadline)


def xlsx_frame(data: bytes, limits: ReadLimits, deadline: Deadline) -> pd.DataFrame:
    """The first sheet's cells as text, each row keeping its number in the sheet; empty rows left out."""
    rows = read_sheet(data, limits, deadline)
    if not rows:
        raise FileRefused([error("empty_file", "The workbook's first sheet is empty.", line=1)])
    width = max(len(cells) for cells in rows.values())
    frame = pd.DataFrame([cells + [""] * (width - len(cells)) for cells in rows.values()], dtype=str)
    frame.index = np.fromiter(rows.keys(), np.int64, len(rows))
    return frame


def read_checkpoints_csv(data: bytes, limits: ReadLimits = DEFAULT_LIMITS) -> CheckpointBatch:
    """`bureau,time,voters,reported_at` (reported_at optional)."""
    deadline = Deadline(limits.seconds)
    frame = read_table(data, ",", limits, deadline)
    header = [str(cell).strip() for cell in frame.iloc[0]]
    body = frame.iloc[1:]
    issues = check_header(header, ["bureau", "time", "voters"], ["reported_at"])
    if issues:
        raise FileRefused(issues)
    columns = column_positions(header)
    voters, issues = parse_counts(body, {"voters": columns["voters"]})
    reported_at, more = _reported_at(body, columns)
    issues += more
    if issues:
        raise FileRefused(issues)
    return CheckpointBatch(
        bureaux=tuple(body.iloc[:, columns["bureau"]].str.strip()),
        times=tuple(body.iloc[:, columns["time"]].str.strip()),
        voters=voters[:, 0],
        reported_at=tuple(reported_at),
        lines=tuple(int(line) for line in body.index),
        columns={name: position + 1 for name, position in columns.items()},
    )
