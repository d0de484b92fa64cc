"""Static publication: the latest documents of a round written as files, for nginx or a CDN.

Each document is a file (beside its gzip, for `gzip_static on`, but for a bureau's, which nginx compresses
as it sends it: 69,242 small files fewer to compress and create) at its API path under the round's folder,
with one change: an area's or a bureau's path takes two folders, named after the first three and the first
four characters of its code, so that no folder holds 69,242 bureaux (`results/commune/75056` is the file
`results/commune/750/7505/75056`; deploy/nginx.conf maps one to the other). A document whose path is also a
folder is that folder's `index.json` (nginx: `try_files $file $file/index.json`): the national results
(`results/index.json`), a level's feed (`results/commune/index.json`), an area with feeds of the levels
below it (`results/departement/75/75/75/index.json`, beside `results/departement/75/75/75/commune`).

A sequence writes only what it changed. Its returns change their bureaux, their areas in every cut and the
feeds that hold those areas; `current`, `turnout` and `timeline` change every time. Every other file stays
as it was written by the sequence that last changed it: byte for byte that sequence's document, whose
figures are still the latest (`current` names the latest sequence). A change of the whole round (another
registry, a certification, the previous round's figures, the layout) writes every file again.

Folders are shared between sequences, never copied: every folder but a sequence's top one lives once under
`.dirs/` and is named by a symlink from its parent. A sequence builds new folders only on the paths of its
files (linking their unchanged files from the folder they replace), then a symlink swap makes it the served
one at once: a reader sees one whole sequence or the previous one, never a mix. Each sequence's manifest
(`<sequence>.json`) names its folders; the folders no kept sequence names are removed.

Paths are built from codes. The loaders refuse a code that is not one plain name (`bad_code`), but a
database filled before they did may still hold `../../x`: every code is checked before the first file is
written, and a publication that would leave its folder is refused whole (`unsafe_path`).
"""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import shutil
import weakref
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson
from marshmallow import Schema
from sqlalchemy import Engine

from api import documents
from api.store import Refused, open_view
from api.store.common import now
from api.store.db import reading
from api.store.results import View, bureaux_changed_since, read_bureaux
from api.web import schemas
from api.web.feed_rows import FeedRows
from api.web.http import GZIP_FROM, gzipped, serialize
from tabulator.batch import IntArray
from tabulator.registry import CODE_RULE, Registry
from tabulator.rules import error

KEEP = 3  # sequences kept behind the served one, for readers still holding an older file
LAYOUT = 3  # of the files; a publication under another layout than the served one's writes every file
# Characters of a code that name its two folders. A sequence makes each folder of a file it changed again,
# with links to the folder's other entries, and the ministry's codes begin with their commune's. With one
# folder of three characters, a sequence of 300 returns relinked 72,000 files (1,219 bureaux begin with
# 750: Paris); of four, each of its sequences relinked the 3,826 folders of the bureaux' and of the
# communes'. Both: 459 folders, each of about 9 folders of about 17 bureaux (57 for a bureau drawn at
# random: the big cities').
SHARDS = (3, 4)
BUREAU_BATCH = 2_000  # bureaux' documents read and written at a time: memory stays bounded
OBJECTS = ".dirs"
WRITE_BATCH = 256  # files handed to the writing process at a time
FILES_PENDING = 2_048  # files rendered and waiting to be written, at most: memory stays bounded

# A file to write: its document's API path under the round, whether that path is also a folder, its bytes.
File = tuple[tuple[str, ...], bool, bytes]


@dataclass(frozen=True)
class Manifest:
    """A published sequence: the round's state its files were written for, and its folders' objects."""

    sequence: int
    key: str
    directories: dict[str, str]  # "results/commune/750" → the object's name under .dirs


def publish(
    engine: Engine, election: str, number: int, folder: Path, feeds: FeedRows | None = None
) -> int | None:
    """Write the round's latest sequence under `folder`; returns it, or None if it was already there or the
    round is under embargo. `feeds`: the rows of the level feeds kept from the previous publication."""
    sequences, link = _inside(
        folder, [(".sequences", election, str(number)), _round_path(election, number)], folder=folder
    )
    with reading(engine) as connection:
        view = open_view(connection, election, number)
        if documents.embargo_of(view.round_, now()) is not None:
            return None  # results wait for the embargo; the files of a previous sequence stay as they are
        _check_codes(view, folder)
        sequences.mkdir(parents=True, exist_ok=True)
        with _locked(sequences / ".lock"):
            sequence = view.publication.sequence
            if (sequences / str(sequence)).exists():
                return None
            key = _round_key(view)
            previous = _served(sequences, link)
            if previous is None or previous.key != key or previous.sequence > sequence:
                previous, changed = None, None
            else:
                changed = bureaux_changed_since(view, previous.sequence)
            with _Tree(sequences, sequence, previous) as tree:
                since = previous.sequence if previous else None
                for path, folder_too, body in _documents(view, changed, feeds or FeedRows(), since):
                    tree.write(_file_path(path, folder_too), body)
                tree.finish(key)
            _point(link, sequences / str(sequence))
            _prune(sequences, keep=KEEP, served=sequence)
    return sequence


def _round_path(election: str, number: int) -> tuple[str, ...]:
    return ("api", "v1", "elections", election, "rounds", str(number))


def _round_key(view: View) -> str:
    """What every file depends on beside its own returns: when it differs, every file is written again."""
    round_ = view.round_
    return json.dumps(
        [
            LAYOUT,
            round_.registry_version,
            view.publication.round_status,
            round_.test,
            view.publication.previous_sequence,
        ]
    )


# --- which documents --------------------------------------------------------------------------------------


def _documents(view: View, changed: list[int] | None, feeds: FeedRows, since: int | None) -> Iterator[File]:
    """The files to write: every one, or (given the bureaux changed since the served sequence `since`, as
    registry rows) those that changed."""
    registry = view.index.registry
    rows = range(len(registry.bureaux)) if changed is None else changed
    areas = range(1, len(registry.areas)) if changed is None else _areas_of(view, changed)
    every = feeds.every_sum(view, since if changed is not None else None, [0, *areas])
    view = _with_sums(view, every, rows if changed is None else _bureaux_shown(view, areas))
    yield (("current",), False, _body(documents.current_of(view), schemas.CURRENT))
    yield (("turnout",), False, _body(documents.turnout_of(view), schemas.TURNOUT))
    yield (("timeline",), False, _body(documents.timeline(view), None))  # built in its schema's shape
    if changed is not None and not changed:
        return
    # Every area's and bureau's row among its parent's children, at once when every page is written; a
    # sequence's few pages join theirs from the rows kept (`api.web.feed_rows`), made as they change.
    made = documents.every_child_row(view) if changed is None else None

    def results(level: str | None = None, code: str | None = None) -> bytes:
        if made is None:
            return feeds.results_body(view, level, code)
        return _body(documents.results_of(view, level, code, rows_made=made), None)

    # Results and level feeds are served by the API without their schema's dump (`api.web.public`).
    yield (("results",), True, results())
    for level in registry.columns[1:]:
        yield (("results", level), True, feeds.body(view, level))
    for position in areas:
        area = registry.areas[position]
        below = registry.levels_below(area.level)  # each has a feed within the area
        path = ("results", area.level, area.code)
        yield (path, bool(below), results(area.level, area.code))
        for level in below:
            yield ((*path, level), False, feeds.body(view, level, area.level, area.code))
    for start in range(0, len(rows), BUREAU_BATCH):
        batch = rows[start : start + BUREAU_BATCH]
        for row, document in zip(batch, documents.bureau_results(view, batch), strict=True):
            path = ("results", documents.BUREAU, registry.bureaux[row].code)
            yield (path, False, _body(document, None))


def _body(document: Any, schema: Schema | None) -> bytes:
    return serialize(schema.dump(document) if schema is not None else document)


def _areas_of(view: View, rows: list[int]) -> list[int]:
    """The areas, in every cut, that hold these bureaux (the top area apart; -1: a cut without the bureau)."""
    ancestors = view.index.registry.ancestors[rows]
    return sorted({int(position) for position in ancestors.ravel()} - {0, -1})


def _with_sums(view: View, every: IntArray, bureaux: Sequence[int]) -> View:
    """The view with every area's sums, and those of the `bureaux` the pages show, read at once: a page per
    area must not cost a query per area, nor a commune's page a query for its bureaux."""
    return replace(
        view, sums=lambda positions: every[list(positions)], bureaux_read=read_bureaux(view, bureaux)
    )


def _bureaux_shown(view: View, areas: Sequence[int]) -> list[int]:
    """The bureaux the pages of these areas list (by registry row)."""
    return [
        bureau for position in areas for bureau in documents.listed_bureaux(view.index.registry, position)
    ]


def _file_path(path: tuple[str, ...], folder_too: bool) -> tuple[str, ...]:
    """Where a document's API path is written: an area's or a bureau's code has folders of its first
    characters; a path that is also a folder is its `index.json`."""
    if len(path) >= 3 and path[0] == "results":
        path = (*path[:2], *(path[2][:characters] for characters in SHARDS), *path[2:])
    return (*path, "index.json") if folder_too else path


# --- paths that stay inside -------------------------------------------------------------------------------


# The registries whose codes were found safe: a registry never changes, and checking a national one's
# 105,000 codes was a fifth of a one-return sequence's publication. By id (a registry holds arrays, which
# do not hash); an entry goes with its registry, so a reused id finds nothing.
_SAFE_REGISTRIES: weakref.WeakValueDictionary[int, Registry] = weakref.WeakValueDictionary()


def _check_codes(view: View, folder: Path) -> None:
    """Every code a path is built from, checked before anything is written (at once: 105,000 codes), once
    for each registry."""
    registry = view.index.registry
    if _SAFE_REGISTRIES.get(id(registry)) is registry:
        return
    paths: list[tuple[str, ...]] = [
        *(("results", level) for level in registry.columns),
        *(("results", area.level, area.code) for area in registry.areas),
        *(("results", documents.BUREAU, bureau.code) for bureau in registry.bureaux),
    ]
    names = {path[-1] for path in paths}
    joined = "\n".join(names)
    if names & {"", ".", ".."} or any(c in joined for c in "/\\\0"):
        raise _unsafe(next(p for p in paths if not all(map(_plain, p))), folder)
    _SAFE_REGISTRIES[id(registry)] = registry


def _inside(base: Path, relatives: list[tuple[str, ...]], *, folder: Path) -> list[Path]:
    """`base` joined with each path's segments, once each is known to name exactly that place under
    `base`: every segment one plain name (no `/`, `..`, `.`), and its folder, resolved (symlinks
    followed), the same folder under `base` resolved. Refused whole (`unsafe_path`) otherwise."""
    root = base.resolve()
    paths = []
    for segments in relatives:
        inside = base.joinpath(*segments[:-1]).resolve() == root.joinpath(*segments[:-1])
        if not (inside and all(map(_plain, segments))):
            raise _unsafe(segments, folder)
        paths.append(base.joinpath(*segments))
    return paths


def _unsafe(segments: tuple[str, ...], folder: Path) -> Refused:
    shown = "/".join(segments)[:200]
    return Refused(
        [
            error(
                "unsafe_path",
                f"Publication refused, nothing written: {shown!r} would not be a file of its own "
                f"in {folder}. A code it is built from is not valid (codes are {CODE_RULE}): "
                "correct it in the database, or reload the election.",
            )
        ]
    )


def _plain(segment: str) -> bool:
    return segment not in ("", ".", "..") and not any(c in segment for c in "/\\\0")


# --- folders shared between sequences ---------------------------------------------------------------------


class _Tree:
    """The files of one sequence: new folders on the paths of the files written, the rest shared with the
    previous sequence (`previous`; None: every file is written)."""

    def __init__(self, sequences: Path, sequence: int, previous: Manifest | None) -> None:
        self.sequences, self.sequence, self.previous = sequences, sequence, previous
        self.top = sequences / f".{sequence}.staging"
        self.objects = sequences / OBJECTS
        self.made: dict[tuple[str, ...], Path] = {}  # the folders this sequence writes, by path
        self.prefixes: dict[tuple[str, ...], str] = {}  # the same, as text ending with a separator
        self.written: dict[tuple[str, ...], set[str]] = {}  # their entries written so far
        for leftover in [self.top, *self.objects.glob(f"{sequence}-*")]:  # of an interrupted attempt
            shutil.rmtree(leftover, ignore_errors=True)

    def __enter__(self) -> _Tree:
        # The files of a whole publication (140,000) are compressed and written by a process of its own,
        # in batches, while this one renders: threads fought this one for the GIL and wrote them slower
        # than none. A sequence's few files, each a millisecond's wait on a disk, go to two threads.
        self.pool: Executor = (
            ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("fork"))
            if self.previous is None
            else ThreadPoolExecutor(max_workers=2)
        )
        self.batch_size = WRITE_BATCH if self.previous is None else 1
        self.batch: list[tuple[str, bytes, bool]] = []
        self.pending: deque[Future[None]] = deque()
        return self

    def __exit__(self, *failure: object) -> None:
        self.pool.shutdown(cancel_futures=True)

    def write(self, path: tuple[str, ...], body: bytes) -> None:
        folder = self._folder(path[:-1])
        name = path[-1]
        self.written[path[:-1]] |= {name, f"{name}.gz"}  # an older .gz of a body now smaller goes too
        compress = len(body) >= GZIP_FROM and path[:2] != ("results", documents.BUREAU)  # as the API
        self.batch.append((folder + name, body, compress))
        if len(self.batch) >= self.batch_size:
            self._flush()

    def _flush(self) -> None:
        if self.batch:
            self.pending.append(self.pool.submit(_write_files, self.batch))
            self.batch = []
        while len(self.pending) > FILES_PENDING // self.batch_size:
            self.pending.popleft().result()

    def _folder(self, path: tuple[str, ...]) -> str:
        """This sequence's own folder at `path`, made (with its parents) on first use, as text ending with a
        separator (a whole publication's 140,000 paths: joined as Paths, they cost a second)."""
        if path not in self.made:
            if path:
                self._folder(path[:-1])
                self.written[path[:-1]].add(path[-1])
            self.made[path] = self.objects / f"{self.sequence}-{len(self.made)}" if path else self.top
            self.made[path].mkdir(parents=True)
            self.written[path] = set()
            self.prefixes[path] = f"{self.made[path]}{os.sep}"
        return self.prefixes[path]

    def finish(self, key: str) -> None:
        """Link each new folder's subfolders and unchanged files, write the manifest, then name the
        sequence's top folder: from here it can be served."""
        self._flush()
        while self.pending:
            self.pending.popleft().result()
        self._folder(())
        directories = dict(self.previous.directories) if self.previous else {}
        for path, made in self.made.items():
            self._fill(path, made)
            if path:
                directories["/".join(path)] = made.name
        manifest = {"sequence": self.sequence, "key": key, "directories": directories}
        # orjson: a manifest names some 10,000 folders, and each sequence writes one and reads five.
        (self.sequences / f"{self.sequence}.json").write_bytes(orjson.dumps(manifest))
        self.top.rename(self.sequences / str(self.sequence))

    def _fill(self, path: tuple[str, ...], made: Path) -> None:
        up = "../" if path else f"../{OBJECTS}/"  # from this folder to the objects
        for name in self.written[path]:
            if (*path, name) in self.made:
                (made / name).symlink_to(up + self.made[(*path, name)].name)
        replaced = self._replaced(path)
        if replaced is None:
            return
        # Hard links only, of files and of the symlinks to subfolders alike (a symlink's target is relative,
        # the same from any folder of .dirs): a new inode costs 20 to 50 times a link on this kind of disk.
        written, into = self.written[path], f"{made}{os.sep}"
        for entry in os.scandir(replaced):  # a shard of 900 bureaux: plain strings, not Paths (a third)
            if entry.name not in written:
                os.link(entry.path, into + entry.name, follow_symlinks=False)

    def _replaced(self, path: tuple[str, ...]) -> Path | None:
        """The previous sequence's folder at `path`, if there is one."""
        if self.previous is None:
            return None
        if not path:
            return self.sequences / str(self.previous.sequence)
        name = self.previous.directories.get("/".join(path))
        return self.objects / name if name else None


def _write_files(files: list[tuple[str, bytes, bool]]) -> None:
    """Write each file (a new one: its folder is new), beside its gzip when `compress` says so."""
    for path, body, compress in files:
        _write_new(path, body)
        if compress:
            _write_new(f"{path}.gz", gzipped(body))


def _write_new(path: str, body: bytes) -> None:
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        left = memoryview(body)
        while left:  # a write may take fewer bytes than it was given
            left = left[os.write(handle, left) :]
    finally:
        os.close(handle)


def _served(sequences: Path, link: Path) -> Manifest | None:
    """The manifest of the sequence served now, if it is one of this layout's."""
    try:
        served = int(link.readlink().name)
        found = orjson.loads((sequences / f"{served}.json").read_bytes())
        return Manifest(found["sequence"], found["key"], found["directories"])
    except (OSError, ValueError, KeyError, TypeError):  # none, another layout's, or cut short: start whole
        return None


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One publisher of a round at a time: a second waits for the first (the `--watch` loop and a load)."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _point(link: Path, target: Path) -> None:
    """Make `link` name `target`, atomically (rename over the old link)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    temporary = link.with_name(f".{link.name}.{os.getpid()}.link")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(os.path.relpath(target, link.parent))
    temporary.replace(link)


def _prune(sequences: Path, *, keep: int, served: int) -> None:
    """Remove the sequences older than the `keep` behind the served one, then the folders no kept sequence
    names."""
    published = sorted(int(p.name) for p in sequences.iterdir() if p.name.isdigit())
    for old in [s for s in published if s < served][:-keep] if keep else []:
        shutil.rmtree(sequences / str(old), ignore_errors=True)
        (sequences / f"{old}.json").unlink(missing_ok=True)
    named: set[str] = set()
    for manifest in sequences.glob("*.json"):
        named |= set(orjson.loads(manifest.read_bytes())["directories"].values())
    for folder in (sequences / OBJECTS).iterdir() if (sequences / OBJECTS).exists() else []:
        if folder.name not in named:
            shutil.rmtree(folder, ignore_errors=True)
