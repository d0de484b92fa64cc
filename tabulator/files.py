"""One door for every returns file a clerk may send: tabulator CSV, XLSX, or the ministry layout."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tabulator.batch import ReturnBatch
from tabulator.ingest import GZIP_MAGIC, ZIP_MAGIC, gzip_head, read_returns_csv, read_returns_xlsx
from tabulator.limits import DEFAULT_LIMITS, ReadLimits
from tabulator.ministry import Departement, read_ministry


def read_returns_file(
    data: bytes,
    candidate_ids: Sequence[str],
    departements: Mapping[str, Departement],
    limits: ReadLimits = DEFAULT_LIMITS,
) -> ReturnBatch:
    """The file's returns, whatever its format (told by its first bytes, not by its name)."""
    if data[:4] == ZIP_MAGIC:
        return read_returns_xlsx(data, candidate_ids, limits)
    if looks_like_ministry(data):
        return read_ministry(data, departements, limits).batch
    return read_returns_csv(data, candidate_ids, limits=limits)


def looks_like_ministry(data: bytes) -> bool:
    """Told by the first header cell; of a gzip, only the first bytes are inflated to see it."""
    head = gzip_head(data, 200) if data[:2] == GZIP_MAGIC else data[:200]
    return head.lstrip(b"\xef\xbb\xbf").startswith(b"Code du d")
