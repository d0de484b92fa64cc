"""The hostile files of issue 12 (finding 2 and 3), built in a fraction of a second each: a gzip that inflates
to a gigabyte, an XLSX whose strings inflate to two, a sparse XLSX with one far cell, a header of 200,000
columns. The bombs are real (any inflater gets the gigabytes, CRCs and all), made without compressing
gigabytes: deflate's output after a full flush depends only on what follows, so a compressed megabyte can
be repeated; and a gzip file may hold several members one after the other."""

from __future__ import annotations

import gzip
import struct
import zlib

HEADER = b"bureau,voters,blank,null,valid,hamon,valls\n"
MEGABYTE = 1 << 20
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
SPREADSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def gzip_bomb(megabytes: int = 1_024) -> bytes:
    """A tabulator CSV whose first bureau's `voters` cell is `megabytes` MiB of zeros: about 1 MB of gzip
    for a GiB."""
    zeros = gzip.compress(b"0" * (16 * MEGABYTE), compresslevel=9, mtime=0)
    return gzip.compress(HEADER + b"75-01-0001,", mtime=0) + zeros * (megabytes // 16)


def wide_header(columns: int = 200_000) -> bytes:
    """A header of `columns` cells (8 bytes each: 1.6 MB for 200,000) and one row."""
    names = b",".join(b"c%06d" % number for number in range(columns))
    return names + b"\n" + b",".join([b"0"] * columns) + b"\n"


def many_rows(rows: int) -> bytes:
    return HEADER + b"75-01-0001,412,3,2,407,250,157\n" * rows


def xlsx_bomb(gigabytes: int = 2) -> bytes:
    """A workbook with a good first sheet and a string table of one string, `gigabytes` GiB of `a`:
    about 2 MB for 2 GiB."""
    sheet = sheet_part(b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>')
    strings = [
        f'<sst xmlns="{MAIN}"><si><t>'.encode(),
        (b"a" * MEGABYTE, gigabytes * 1024),
        b"</t></si></sst>",
    ]
    return workbook(sheet, strings)


def sparse_xlsx(far_cell: str = "XFD2", rows: int = 500, far_value: str = "x") -> bytes:
    """A sheet of `rows` good rows that declares itself A1:XFD1048576 and has one value in `far_cell`:
    openpyxl padded every row to 16,384 cells."""
    header = "".join(
        f'<c r="{column}1" t="inlineStr"><is><t>{name}</t></is></c>'
        for column, name in zip("ABCDEFG", HEADER.decode().strip().split(","), strict=True)
    )
    counts = "".join(
        f'<c r="{column}{{row}}"><v>{value}</v></c>'
        for column, value in zip("BCDEFG", (412, 3, 2, 407, 250, 157), strict=True)
    )
    body = "".join(
        f'<row r="{row}"><c r="A{row}" t="inlineStr"><is><t>75-01-{row:04d}</t></is></c>'
        + counts.format(row=row)
        + "</row>"
        for row in range(3, rows + 3)
    )
    far_row = int(far_cell.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    far = f'<row r="{far_row}"><c r="{far_cell}" t="inlineStr"><is><t>{far_value}</t></is></c></row>'
    ordered = f'<row r="1">{header}</row>' + (far + body if far_row == 2 else body + far)
    return workbook(sheet_part(ordered.encode(), dimension="A1:XFD1048576"))


def sheet_part(rows: bytes, dimension: str | None = None) -> list[bytes]:
    declared = f'<dimension ref="{dimension}"/>' if dimension else ""
    return [f'<worksheet xmlns="{MAIN}">{declared}<sheetData>'.encode(), rows, b"</sheetData></worksheet>"]


Pieces = list[bytes | tuple[bytes, int]]  # bytes, or (bytes, how many times over)


def workbook(
    sheet: Pieces, strings: Pieces | None = None, styles: bytes | None = None, book: str = ""
) -> bytes:
    """An XLSX package: the parts Excel needs for one sheet and, if given, a string table and styles;
    `book` goes into the workbook part (a <workbookPr/>)."""
    overrides = [("/xl/workbook.xml", "sheet.main"), ("/xl/worksheets/sheet1.xml", "worksheet")]
    relations = [("rId1", "worksheet", "worksheets/sheet1.xml")]
    if strings is not None:
        overrides.append(("/xl/sharedStrings.xml", "sharedStrings"))
        relations.append(("rId2", "sharedStrings", "sharedStrings.xml"))
    if styles is not None:
        overrides.append(("/xl/styles.xml", "styles"))
        relations.append(("rId3", "styles", "styles.xml"))
    types = "".join(
        f'<Override PartName="{part}" ContentType="{SPREADSHEET}.{kind}+xml"/>' for part, kind in overrides
    )
    members: dict[str, Pieces] = {
        "[Content_Types].xml": [
            b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default '
            b'Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            b'<Default Extension="xml" ContentType="application/xml"/>' + types.encode() + b"</Types>"
        ],
        "_rels/.rels": [_relations([("rId1", "officeDocument", "xl/workbook.xml")])],
        "xl/workbook.xml": [
            f'<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}">{book}<sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'.encode()
        ],
        "xl/_rels/workbook.xml.rels": [_relations(relations)],
        "xl/worksheets/sheet1.xml": sheet,
    }
    if strings is not None:
        members["xl/sharedStrings.xml"] = strings
    if styles is not None:
        members["xl/styles.xml"] = [f'<styleSheet xmlns="{MAIN}">'.encode() + styles + b"</styleSheet>"]
    return zip_archive(members)


def _relations(relations: list[tuple[str, str, str]]) -> bytes:
    kinds = f"{RELATIONSHIPS}/"
    listed = "".join(
        f'<Relationship Id="{rid}" Type="{kinds}{kind}" Target="{target}"/>'
        for rid, kind, target in relations
    )
    return f'<Relationships xmlns="{PACKAGE}">{listed}</Relationships>'.encode()


def zip_archive(members: dict[str, Pieces]) -> bytes:
    """A zip of deflated members, each written from its pieces; a repeated piece is compressed once."""
    out = bytearray()
    directory = bytearray()
    for name, pieces in members.items():
        data, crc, size = _deflated(pieces)
        encoded = name.encode()
        offset = len(out)
        fields = (20, 0, 8, 0, 0x21, crc, len(data), size, len(encoded))  # deflate, 1980-01-01
        out += struct.pack("<4s5H3LHH", b"PK\x03\x04", *fields, 0) + encoded + data
        directory += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, 0, offset) + encoded
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory), len(out), 0
    )
    return bytes(out + directory + end)


def _deflated(pieces: Pieces) -> tuple[bytes, int, int]:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    data, crc, size = bytearray(), 0, 0
    for piece in pieces:
        chunk, times = piece if isinstance(piece, tuple) else (piece, 1)
        packed = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
        data += packed * times
        for _ in range(times):
            crc = zlib.crc32(chunk, crc)
        size += len(chunk) * times
    data += compressor.flush()
    return bytes(data), crc, size
