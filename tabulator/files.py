"""One door for every returns file a clerk may send: tabulator CSV, XLSX, or the ministry layout."""

from __future__ import annotations

import gzip
from collections.abc import Mapping, Sequence

from tabulator.batch import ReturnBatch
from tabulator.ingest import GZIP_MAGIC, ZIP_MAGIC, read_returns_csv, read_returns_xlsx
from tabulator.ministry import Departement, read_ministry


def read_returns_file(
    data: bytes, candidate_ids: Sequence[str], departements: Mapping[str, Departement]
) -> ReturnBatch:
    """The file's returns, whatever its format (told by its first bytes, not by its name)."""
    if data[:4] == ZIP_MAGIC:
        return read_returns_xlsx(data, candidate_ids)
    if looks_like_ministry(data):
        return read_ministry(data, departements).batch
    return read_returns_csv(data, candidate_ids)


def looks_like_ministry(data: bytes) -> bool:
    head = gzip.decompress(data)[:200] if data[:2] == GZIP_MAGIC else data[:200]
    return head.lstrip(b"\xef\xbb\xbf").startswith(b"Code du d")
