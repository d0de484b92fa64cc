"""How much of a file the readers take: limits on its size once decompressed, its rows and its columns, and
the time allowed to read it. A file past a limit is refused as soon as the limit is passed, with a rule
code and a sentence, so that no upload can hold a worker's memory or CPU.

The defaults come from the largest real file, with headroom: the ministry's per-bureau file of the 2017
presidential election. Round 2 (69,242 bureaux, 2 candidates, 35 columns) is 13,397,546 bytes of text
once gunzipped, 123 bytes a row for the fixed columns and 35 for each candidate's block. Round 1 has the
same bureaux and 11 candidates: 21 + 7 × 11 = 98 columns, and round 2's rows given nine more blocks make
37,692,894 bytes (read in 2.6 s, 180 MB at the peak).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tabulator.rules import error
from tabulator.types import Issue


class FileRefused(ValueError):
    """A file with errors: nothing of it may be applied."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__(f"{len(issues)} error(s): " + "; ".join(issue.message for issue in issues[:5]))
        self.issues = list(issues)


@dataclass(frozen=True)
class ReadLimits:
    max_bytes: int = 64 * 1024 * 1024  # once decompressed: the national round-1 file is about 38 MB
    max_rows: int = 100_000  # below the header: France has about 69,000 bureaux, 69,242 in 2017
    max_columns: int = 161  # the ministry's layout with 20 candidates, 21 + 7 × 20 (2002 had 16)
    seconds: float | None = None  # reading gives up after this long; None: never (the console waits)


DEFAULT_LIMITS = ReadLimits()


class Deadline:
    """When reading must give up, checked between stages and after each piece inflated or parsed: a file
    within the limits still takes seconds on a loaded server, and the clerk is better served by a sentence
    than by a worker killed under the request."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.ends = math.inf if seconds is None else time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.ends:
            raise FileRefused(
                [
                    error(
                        "too_slow",
                        f"Reading the file took more than the {self.seconds:g} seconds allowed; nothing "
                        "of it was applied. Send it again in a moment, or split it into smaller files.",
                    )
                ]
            )


def too_large(what: str, found: int | None, limits: ReadLimits) -> FileRefused:
    """`what` holds `found` bytes uncompressed (None: more than the limit, where reading stopped)."""
    most = f"{limits.max_bytes:,} bytes"
    if found is None:
        said = f"{what} holds more than {most} uncompressed, the most a file may hold."
    else:
        said = f"{what} holds {found:,} bytes uncompressed; a file may hold {most} at most."
    return FileRefused([error("too_large_uncompressed", f"{said} Split it into smaller files.")])


def too_many_rows(line: int, limits: ReadLimits) -> FileRefused:
    return FileRefused(
        [
            error(
                "too_many_rows",
                f"Line {line:,}: a file may have a header and {limits.max_rows:,} rows at most. Split it "
                "into smaller files.",
                line=line,
            )
        ]
    )


def too_many_columns(line: int, column: int, limits: ReadLimits, *, found: int | None = None) -> FileRefused:
    counted = f"the header has {found:,} columns; " if found is not None else ""
    return FileRefused(
        [
            error(
                "too_many_columns",
                f"Line {line:,}, column {column:,}: {counted}a file may have {limits.max_columns:,} columns "
                "at most. Remove the columns past the last candidate.",
                line=line,
                column=column,
            )
        ]
    )
