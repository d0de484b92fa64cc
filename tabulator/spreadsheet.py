"""Cells a spreadsheet reads as text: every CSV tabulator writes passes its rows through `safe_row`.

Excel, LibreOffice and Google Sheets take a text cell that begins with `=`, `+`, `-` or `@` for a
formula (`=HYPERLINK(...)`, `=cmd|' /C calc'!A0`), and some skip a leading tab or carriage return before
looking (OWASP, "CSV Injection"). A name typed by a clerk or an organiser must open as the name it is.
"""

from __future__ import annotations

from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> object:
    """A text cell that a spreadsheet would evaluate, behind a single quote (shown as text, never run).

    Only text is touched: counts are written as integers, and a count is never negative, so no figure
    changes. The quote is visible to a program that reads the file as plain CSV; that is the price.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_row(row: Iterable[object]) -> list[object]:
    return [safe_cell(value) for value in row]
