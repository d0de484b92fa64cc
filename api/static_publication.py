"""Static publication: the latest documents of a round written as files, for nginx or a CDN.

Files mirror the API's paths (`api/v1/elections/E/rounds/N/results/departement/75`), each beside its
gzip (`gzip_static on`); a document whose path is also a folder is that folder's `index.json` (nginx:
`try_files $uri $uri/index.json`): the national results (`results/index.json`), a level's feed
(`results/commune/index.json`, beside `results/commune/75056`), an area with feeds of the levels below it
(`results/departement/75/index.json`, beside `results/departement/75/commune`). A sequence is written
into a folder of its own, then a symlink swap makes it the served one at once: a reader sees one whole
sequence or the previous one, never a mix.

Paths are built from codes. The loaders refuse a code that is not one plain name (`bad_code`), but a
database filled before they did may still hold `../../x`: every path is checked to be exactly the place it
names under the folder before the first file is written, and a publication that would leave it is refused
whole (`unsafe_path`).
"""

from __future__ import annotations

import gzip
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from marshmallow import Schema
from sqlalchemy import Engine

from api import documents
from api.store import Refused, open_view
from api.store.common import now
from api.store.db import reading
from api.store.results import View, every_bureau_sums
from api.web import schemas
from api.web.http import render
from tabulator.registry import CODE_RULE
from tabulator.rules import error

KEEP = 3  # sequence folders kept behind the served one, for readers still holding an older file


def publish(engine: Engine, election: str, number: int, folder: Path) -> int | None:
    """Write the round's latest sequence under `folder`; returns it, or None if it was already there or the
    round is under embargo."""
    with reading(engine) as connection:
        view = open_view(connection, election, number)
        if documents.embargo_of(view.round_, now()) is not None:
            return None  # results wait for the embargo; the files of a previous sequence stay as they are
        view = _with_all_tallies(view)
        sequence = view.publication.sequence
        sequences, link = _inside(
            folder, [(".sequences", election, str(number)), _round_path(election, number)], folder=folder
        )
        target = sequences / str(sequence)
        if target.exists():
            return None
        staging = sequences / f".{sequence}.{os.getpid()}.staging"
        shaped = _documents(view)
        paths = _inside(staging, [relative for relative, _, _ in shaped], folder=folder)
        shutil.rmtree(staging, ignore_errors=True)
        for path, (_, document, schema) in zip(paths, shaped, strict=True):
            _write(path, document, schema)
    staging.rename(target)
    _point(link, target)
    _prune(sequences, keep=KEEP, served=sequence)
    return sequence


def _with_all_tallies(view: View) -> View:
    """Read every area's sums once: a page per area must not cost a query per area."""
    every = view.sums(range(len(view.index.registry.areas)))
    return replace(
        view,
        sums=lambda positions: every[list(positions)],
        every_bureau=every_bureau_sums(view),
    )


def _round_path(election: str, number: int) -> tuple[str, ...]:
    return ("api", "v1", "elections", election, "rounds", str(number))


Shaped = list[tuple[tuple[str, ...], Any, Schema | None]]


def _documents(view: View) -> Shaped:
    """Each document with its path under the round's folder, one segment per name."""
    registry = view.index.registry
    shaped: Shaped = [
        (("current",), documents.current_of(view), schemas.CURRENT),
        (("results", "index.json"), documents.results_of(view), schemas.RESULTS),
        (("turnout",), documents.turnout_of(view), schemas.TURNOUT),
        (("timeline",), documents.timeline(view), schemas.TIMELINE),
    ]
    # Level feeds are not dumped through their schema, as the API serves them (`api.web.public._level`).
    shaped += [
        (("results", level, "index.json"), documents.level_results(view, level), None)
        for level in registry.columns[1:]
    ]
    for area in registry.areas[1:]:
        below = registry.levels_below(area.level)  # each has a feed within the area
        path = ("results", area.level, area.code)
        shaped.append(
            (
                (*path, "index.json") if below else path,
                documents.results_of(view, area.level, area.code),
                schemas.RESULTS,
            )
        )
        shaped += [
            ((*path, level), documents.level_results(view, level, area.level, area.code), None)
            for level in below
        ]
    return shaped


def _inside(base: Path, relatives: list[tuple[str, ...]], *, folder: Path) -> list[Path]:
    """`base` joined with each path's segments, once each is known to name exactly that place under
    `base`: every segment one plain name (no `/`, `..`, `.`), and its folder, resolved (symlinks
    followed), the same folder under `base` resolved. Refused whole (`unsafe_path`) otherwise; the
    message names the publication's `folder`, of which `base` is a part.

    Each distinct folder is resolved once: 36,000 communes share a handful of folders.
    """
    root = base.resolve()
    resolved: dict[tuple[str, ...], bool] = {}
    paths = []
    for segments in relatives:
        parent = segments[:-1]
        if parent not in resolved:
            resolved[parent] = base.joinpath(*parent).resolve() == root.joinpath(*parent)
        if not (resolved[parent] and all(map(_plain, segments))):
            shown = "/".join(segments)[:200]
            raise Refused(
                [
                    error(
                        "unsafe_path",
                        f"Publication refused, nothing written: {shown!r} would not be a file of its own "
                        f"in {folder}. A code it is built from is not valid (codes are {CODE_RULE}): "
                        "correct it in the database, or reload the election.",
                    )
                ]
            )
        paths.append(base.joinpath(*segments))
    return paths


def _plain(segment: str) -> bool:
    return segment not in ("", ".", "..") and not any(c in segment for c in "/\\\0")


def _write(path: Path, document: Any, schema: Schema | None) -> None:
    rendered = render(document, schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(rendered.body)
    path.with_name(path.name + ".gz").write_bytes(rendered.gzipped or gzip.compress(rendered.body, mtime=0))


def _point(link: Path, target: Path) -> None:
    """Make `link` name `target`, atomically (rename over the old link)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    temporary = link.with_name(f".{link.name}.{os.getpid()}.link")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(os.path.relpath(target, link.parent))
    temporary.replace(link)


def _prune(sequences: Path, *, keep: int, served: int) -> None:
    published = sorted(int(p.name) for p in sequences.iterdir() if p.name.isdigit())
    for old in [s for s in published if s < served][:-keep] if keep else []:
        shutil.rmtree(sequences / str(old), ignore_errors=True)
