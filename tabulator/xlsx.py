"""The first sheet of an XLSX workbook as the text a clerk sees, read as a stream and within limits.

openpyxl is not used for uploads: it reads the shared strings whole (about 9 µs each: 34 s and 170 MB for
64 MB of them), parses every sheet that lacks a <dimension> while opening the workbook, and pads each row
to the sheet's declared width (16,384 cells for `A1:XFD1048576`). Here the parts are checked by their
declared sizes before anything is inflated (zipfile never inflates a member past its declared size), then
each part is read with expat a piece at a time, and the first value past a row or column limit stops the
reading. Only what a clerk's file needs is read: the workbook's first sheet, its strings and, for dates,
the number formats of its styles.
"""

from __future__ import annotations

import functools
import io
import posixpath
import re
import xml.parsers.expat
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tabulator.limits import Deadline, FileRefused, ReadLimits, too_large, too_many_columns, too_many_rows
from tabulator.rules import error

PIECE = 64 * 1024  # bytes parsed between two looks at the deadline
# A workbook's table of contents (its zip's central directory) lists a few dozen parts in a few KB; zipfile
# reads it whole, a part at a time, before anything else: 32 MB of it list 360,000 parts (3 s, 180 MB).
MAX_DIRECTORY = 1024 * 1024
DATE_FORMATS = {14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47}  # Excel's built-in date and time formats
MAX_FORMATS = 65_536  # Excel allows 64,000 cell formats: the others are not kept
# Excel's times have no zone: naive is what a cell says (and the rules refuse a time without its offset).
EPOCHS = {False: datetime(1899, 12, 30), True: datetime(1904, 1, 1)}  # noqa: DTZ001
# Quoted text, [colours] and [$-locales], escaped characters and padding: what is left names the parts.
FORMAT_DECORATION = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|[_*].')

Rows = dict[int, list[str]]  # row number in the sheet -> its cells' text, from column A


def read_sheet(data: bytes, limits: ReadLimits, deadline: Deadline) -> Rows:
    """The first sheet's non-empty rows. Refused: a broken workbook, one larger than the limit once
    unzipped, and a value past the limits of rows (line = its row) or columns (its row and column)."""
    try:
        check_directory(data)
        archive = zipfile.ZipFile(io.BytesIO(data))
        check_sizes(archive, limits)
        parts = _parts(archive, deadline)
        strings = _shared_strings(archive, parts.strings, deadline) if parts.strings else []
        dates = _date_styles(archive, parts.styles, deadline) if parts.styles else set()
        sheet = _Sheet(strings, dates, EPOCHS[parts.date1904], limits)
        _parse(archive, parts.sheet, deadline, start=sheet.start, end=sheet.end, text=sheet.text)
    except FileRefused:
        raise
    except (zipfile.BadZipFile, xml.parsers.expat.ExpatError, LookupError, ValueError, ArithmeticError,
            OSError, RuntimeError, zlib.error) as exc:  # fmt: skip
        # Each layer (zip, inflate, XML, the workbook's references) fails its own way on a damaged file.
        raise FileRefused(
            [
                error(
                    "unreadable_file",
                    f"The file is not a readable XLSX workbook ({type(exc).__name__}: {exc}).",
                )
            ]
        ) from None
    return dict(sorted(sheet.rows.items()))


def check_directory(data: bytes) -> None:
    """The size of the table of contents, from the zip's last record, before zipfile reads it."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))  # the record, then a comment of 64 KB at most
    size = int.from_bytes(data[end + 12 : end + 16], "little") if end >= 0 else 0
    if size > MAX_DIRECTORY:
        raise ValueError(f"a table of contents of {size:,} bytes, more than any workbook needs")


def check_sizes(archive: zipfile.ZipFile, limits: ReadLimits) -> None:
    """The parts' declared sizes, before any is inflated: a 2 MB workbook can declare gigabytes of strings."""
    total = sum(member.file_size for member in archive.infolist())
    if total > limits.max_bytes:
        raise too_large("The workbook", total, limits)


@dataclass
class _Parts:
    sheet: str
    strings: str | None
    styles: str | None
    date1904: bool


def _parts(archive: zipfile.ZipFile, deadline: Deadline) -> _Parts:
    """Where the first sheet, the strings and the styles are, from the package's relationships."""
    book = _first(_relationships(archive, "_rels/.rels", deadline), "officeDocument")
    if book is None:
        raise KeyError("no workbook in the package")
    related = _relationships(archive, _relationships_of(book), deadline)
    first_sheet: list[str] = []
    date1904 = False

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal date1904
        name = _local(name)
        if name == "sheet" and not first_sheet:
            first_sheet.extend(value for key, value in attributes.items() if key.endswith(":id"))
        elif name == "workbookPr":
            date1904 = attributes.get("date1904", "0").lower() in {"1", "true"}

    _parse(archive, book, deadline, start=start)
    if not first_sheet:
        raise KeyError("no sheet in the workbook")
    sheet = {rid: target for rid, _, target in related}[first_sheet[0]]
    return _Parts(sheet, _first(related, "sharedStrings"), _first(related, "styles"), date1904)


def _relationships(archive: zipfile.ZipFile, path: str, deadline: Deadline) -> list[tuple[str, str, str]]:
    """A relationships part as (id, type's last word, target's path in the package)."""
    found: list[tuple[str, str, str]] = []
    base = posixpath.dirname(posixpath.dirname(path))  # targets are relative to the part described

    def start(name: str, attributes: dict[str, str]) -> None:
        name = _local(name)
        if name == "Relationship" and attributes.get("TargetMode") != "External":
            target = attributes["Target"]
            path = (
                target.lstrip("/")
                if target.startswith("/")
                else posixpath.normpath(posixpath.join(base, target))
            )
            found.append((attributes["Id"], attributes["Type"].rsplit("/", 1)[-1], path))

    _parse(archive, path, deadline, start=start)
    return found


def _relationships_of(part: str) -> str:
    return posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")


def _first(relationships: list[tuple[str, str, str]], kind: str) -> str | None:
    return next((target for _, found, target in relationships if found == kind), None)


def _shared_strings(archive: zipfile.ZipFile, path: str, deadline: Deadline) -> list[str]:
    """Each <si>'s text: its runs' <t>, without the phonetic guides (<rPh>) of East Asian text."""
    strings: list[str] = []
    pieces: list[str] = []
    depth = {"t": 0, "rPh": 0}

    def start(name: str, attributes: dict[str, str]) -> None:
        name = _local(name)
        if name in depth:
            depth[name] += 1

    def end(name: str) -> None:
        name = _local(name)
        if name in depth:
            depth[name] -= 1
        elif name == "si":
            strings.append("".join(pieces))
            pieces.clear()

    def text(content: str) -> None:
        if depth["t"] and not depth["rPh"]:
            pieces.append(content)

    _parse(archive, path, deadline, start=start, end=end, text=text)
    return strings


def _date_styles(archive: zipfile.ZipFile, path: str, deadline: Deadline) -> set[str]:
    """The cell styles (a cell's `s`) whose number format shows a date or a time."""
    custom: dict[int, str] = {}
    formats: list[int] = []  # each cell style's number format, in order
    inside = {"cellXfs": False}

    def start(name: str, attributes: dict[str, str]) -> None:
        name = _local(name)
        if name == "numFmt":
            custom[int(attributes["numFmtId"])] = attributes.get("formatCode", "")
        elif name == "cellXfs":
            inside["cellXfs"] = True
        elif name == "xf" and inside["cellXfs"] and len(formats) < MAX_FORMATS:
            formats.append(int(attributes.get("numFmtId", "0")))

    def end(name: str) -> None:
        name = _local(name)
        if name == "cellXfs":
            inside["cellXfs"] = False

    _parse(archive, path, deadline, start=start, end=end)
    dates = DATE_FORMATS | {number for number, code in custom.items() if _shows_a_date(code)}
    return {str(style) for style, number in enumerate(formats) if number in dates}


def _shows_a_date(code: str) -> bool:
    return re.search(r"[dmyhs]", FORMAT_DECORATION.sub("", code), re.IGNORECASE) is not None


@dataclass
class _Sheet:
    """The sheet's cells as expat meets them: a value is kept, as text, when its cell ends."""

    strings: list[str]
    dates: set[str]  # the styles (a cell's `s`, as written) of dates
    epoch: datetime
    limits: ReadLimits
    rows: Rows = field(default_factory=dict)
    row: int = 0
    column: int = 0
    kind: str = "n"
    style: str = "0"
    capturing: bool = False
    phonetic: bool = False  # inside an <rPh>, a guide to reading East Asian text: not the cell's text
    pieces: list[str] = field(default_factory=list)
    seen: dict[str, str] = field(default_factory=dict)  # one object per distinct text

    def start(self, name: str, attributes: dict[str, str]) -> None:
        name = name[name.find(":") + 1 :]  # called for every element: inlined `_local`
        if name == "c":
            self.column = _column(attributes["r"]) if "r" in attributes else self.column + 1
            self.kind, self.style = attributes.get("t", "n"), attributes.get("s", "0")
            self.pieces.clear()
        elif name == "v" or (name == "t" and self.kind == "inlineStr" and not self.phonetic):
            self.capturing = True
        elif name == "row":
            self.row = _row_number(attributes["r"]) if "r" in attributes else self.row + 1
            self.column = 0
        elif name == "rPh":
            self.phonetic = True

    def end(self, name: str) -> None:
        name = name[name.find(":") + 1 :]
        if name in {"v", "t"}:
            self.capturing = False
        elif name == "c" and self.pieces:
            pieces = self.pieces
            self.keep(self.cell_text(pieces[0] if len(pieces) == 1 else "".join(pieces)))
        elif name == "rPh":
            self.phonetic = False

    def text(self, content: str) -> None:
        if self.capturing:
            self.pieces.append(content)

    def cell_text(self, value: str) -> str:
        if self.kind == "s":
            return self.strings[int(value)]
        if self.kind == "b":
            return "TRUE" if value.strip() == "1" else "FALSE"
        if self.kind != "n":  # inlineStr, str (a formula's text), e (#DIV/0!), d (ISO 8601)
            return value
        if self.style in self.dates:
            return _excel_time(value, self.epoch)
        return _number_text(value)

    def keep(self, text: str) -> None:
        if not text:
            return
        if self.row > self.limits.max_rows + 1:
            raise too_many_rows(self.row, self.limits)
        if self.column > self.limits.max_columns:
            raise too_many_columns(self.row, self.column, self.limits)
        cells = self.rows.setdefault(self.row, [])
        if self.column > len(cells):
            cells.extend([""] * (self.column - len(cells)))
        cells[self.column - 1] = self.seen.setdefault(text, text)


def _row_number(text: str) -> int:
    number = int(text) if text.isdigit() else int(float(text))  # "3", or "3.0" from some writers
    if number < 1:
        raise ValueError(f"row number {text[:20]!r}")
    return number


def _column(reference: str) -> int:
    """The column of a reference such as AB12 (28); at most three letters, as in Excel (XFD)."""
    return _column_number(reference.rstrip("0123456789"))


@functools.lru_cache(maxsize=20_000)  # Excel's columns are 16,384: a sheet names a few of them, often
def _column_number(letters: str) -> int:
    if not (1 <= len(letters) <= 3 and letters.isascii() and letters.isalpha()):
        raise ValueError(f"bad column {letters[:20]!r}")
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def _number_text(value: str) -> str:
    """Whole numbers without the `.0` Excel may store them with; others as Python writes them."""
    if value.isascii() and value.isdigit():
        return value
    number = float(value)
    return str(int(number)) if number.is_integer() else str(number)


def _excel_time(value: str, epoch: datetime) -> str:
    """A date cell as ISO 8601 (a serial number of days; Excel's 1900 calendar counts a 29 February 1900)."""
    days = float(value)
    if epoch.year == 1899 and days < 60:
        days += 1
    try:
        return (epoch + timedelta(milliseconds=round(days * 86_400_000))).isoformat()
    except (OverflowError, ValueError):  # not a day Python's calendar holds, or not a number at all
        return _number_text(value)


def _parse(
    archive: zipfile.ZipFile,
    path: str,
    deadline: Deadline,
    *,
    start: Callable[[str, dict[str, str]], None] | None = None,
    end: Callable[[str], None] | None = None,
    text: Callable[[str], None] | None = None,
) -> None:
    """Feed a part to expat a piece at a time. Names are as written: `row`, or `x:row` when the part gives
    its namespace a prefix (`_local` drops it); expat's namespace processing would cost a third more."""
    parser = xml.parsers.expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.StartDoctypeDeclHandler = _no_doctype  # no part of a workbook has one; entity tricks need one
    with archive.open(path) as stream:
        while piece := stream.read(PIECE):
            parser.Parse(piece, False)
            deadline.check()
    parser.Parse(b"", True)


def _local(name: str) -> str:
    return name[name.find(":") + 1 :]


def _no_doctype(*_: object) -> None:
    raise ValueError("a document type declaration")
