"""The Interior Ministry's per-bureau layout: 21 fixed columns, then one block of 7 per candidate.

Only the first candidate block is named in the header; every row repeats the candidates' panel numbers
and names in its blocks. The file has no région column: the région of each département comes from the
map the project ships (`tabulator/reference/departements.csv`). A file can describe its own registry:
areas from its code and label columns (each keeping the file's own label), candidates from its blocks.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from tabulator.batch import UNKNOWN, BoolArray, IntArray, ReturnBatch
from tabulator.ingest import (
    ERRORS_PER_COLUMN,
    FileRefused,
    optional_counts,
    parse_counts,
    read_table,
    text_column,
    whole_numbers,
)
from tabulator.limits import DEFAULT_LIMITS, Deadline, ReadLimits
from tabulator.registry import MAX_CODE_LENGTH
from tabulator.rules import error
from tabulator.types import Area, Bureau, Candidate, Cut, Issue

FIXED_COLUMNS = (
    "Code du département",
    "Libellé du département",
    "Code de la circonscription",
    "Libellé de la circonscription",
    "Code de la commune",
    "Libellé de la commune",
    "Code du b.vote",
    "Inscrits",
    "Abstentions",
    "% Abs/Ins",
    "Votants",
    "% Vot/Ins",
    "Blancs",
    "% Blancs/Ins",
    "% Blancs/Vot",
    "Nuls",
    "% Nuls/Ins",
    "% Nuls/Vot",
    "Exprimés",
    "% Exp/Ins",
    "% Exp/Vot",
)
BLOCK_COLUMNS = ("N°Panneau", "Sexe", "Nom", "Prénom", "Voix", "% Voix/Ins", "% Voix/Exp")
# The administrative cut, the one breadcrumbs follow, and the legislative circonscriptions as a second cut
# of the same bureaux: a commune that spans circonscriptions (Paris spans 18) is one area.
LEVELS = ("national", "region", "departement", "commune")
CUTS = (Cut("electoral", ("departement", "circonscription")),)
# Where INSEE has no commune for what the ministry counts as one, the area keeps the ministry's codes,
# département then commune: the consular districts of the Français établis hors de France (ZZ001, Abidjan)
# and Wallis-et-Futuna (ZW001, three communes for INSEE, one for the ministry).
OWN_COMMUNE_CODES = ("ZZ", "ZW")
# Overseas, the ministry's commune number starts with a digit of its own before INSEE's last two digits.
OVERSEAS_DIGIT = {
    "ZA": "1",
    "ZB": "2",
    "ZC": "3",
    "ZD": "4",
    "ZS": "5",
    "ZM": "5",
    "ZX": "7",
    "ZP": "0",
    "ZN": "8",
}
# Saint-Martin (INSEE 97801) is filed under Saint-Barthélemy's 977 by the ministry, as ZX 801.
INSEE_EXCEPTIONS = {("ZX", "801"): "97801"}
MINISTRY_EXCEPTIONS = {(d, code): commune for (d, commune), code in INSEE_EXCEPTIONS.items()}
NATIONAL = Area("national", "FR", "France", None)
SEXES = ("M", "F", None)
REGISTERED_COLUMN = 7  # Inscrits: empty in an open primary, which has no register
COUNT_COLUMNS = {"voters": 10, "blank": 12, "null": 15, "valid": 18}
(DEPT, DEPT_NAME, CIRC, CIRC_NAME, COMMUNE, COMMUNE_NAME, BUREAU) = range(7)


@dataclass(frozen=True)
class Departement:
    code: str  # INSEE code: 01, 2A, 971, 99
    ministry_code: str  # the ministry's: 01, 2A, ZA, ZZ
    name: str
    region_code: str
    region_name: str


@dataclass(frozen=True)
class MinistryFile:
    candidates: tuple[Candidate, ...]
    batch: ReturnBatch
    body: pd.DataFrame
    codes: dict[str, npt.NDArray[np.str_]]
    departements: Mapping[str, Departement]

    def registry(self) -> tuple[tuple[Area, ...], tuple[Bureau, ...]]:
        """The areas and bureaux the file describes (built on demand: an ingest into a known registry
        does not need them)."""
        return _areas(self.body, self.codes, self.departements), _bureaux(
            self.body, self.codes, self.batch.registered
        )


def read_departements(text: str) -> dict[str, Departement]:
    """The map file, keyed by the ministry's département code."""
    rows = csv.DictReader(io.StringIO(text))
    return {
        row["ministry_code"]: Departement(
            row["code"], row["ministry_code"], row["name"], row["region_code"], row["region_name"]
        )
        for row in rows
    }


def read_ministry(
    data: bytes, departements: Mapping[str, Departement], limits: ReadLimits = DEFAULT_LIMITS
) -> MinistryFile:
    deadline = Deadline(limits.seconds)
    frame = read_table(data, ";", limits, deadline, ("utf-8-sig", "latin-1"))
    header, body = [str(cell).strip() for cell in frame.iloc[0]], frame.iloc[1:]
    blocks = _candidate_blocks(header, body)
    candidates, issues = _candidates(body, blocks)
    codes, more = _codes(body, departements)
    issues += more
    deadline.check()
    counts, more = parse_counts(body, {**COUNT_COLUMNS, **_vote_columns(candidates, blocks)}, "")
    issues += more
    deadline.check()
    registered, more = optional_counts(body, REGISTERED_COLUMN, "registered")
    issues += more
    if issues:
        raise FileRefused(issues)
    return MinistryFile(
        candidates=candidates,
        body=body,
        codes=codes,
        departements=departements,
        batch=ReturnBatch(
            candidate_ids=tuple(candidate.id for candidate in candidates),
            bureaux=tuple(codes["bureau"].tolist()),
            counts=counts[:, :4],
            votes=counts[:, 4:],
            registered=registered,
            reported_at=(None,) * len(body),
            lines=tuple(body.index.tolist()),
            columns={"registered": 8, "voters": 11, "blank": 13, "null": 16, "valid": 19},
        ),
    )


def _candidate_blocks(header: list[str], body: pd.DataFrame) -> list[int]:
    """0-based first column of each candidate block that the rows fill."""
    issues = [
        error(
            "wrong_header",
            f"Line 1, column {position + 1}: expected {expected!r}, got {got!r}.",
            line=1,
            column=position + 1,
            field=expected,
        )
        for position, (expected, got) in enumerate(
            zip((*FIXED_COLUMNS, *BLOCK_COLUMNS), header + [""] * len(FIXED_COLUMNS), strict=False)
        )
        if expected != got
    ]
    if issues:
        raise FileRefused(issues)
    if body.empty:
        raise FileRefused([error("empty_file", "The file has a header but no rows.", line=2)])
    width = _filled_width(body)
    count = -(-(width - len(FIXED_COLUMNS)) // len(BLOCK_COLUMNS))
    return [len(FIXED_COLUMNS) + block * len(BLOCK_COLUMNS) for block in range(count)]


def _filled_width(body: pd.DataFrame) -> int:
    """How many columns some row fills: the last column with a cell that is not empty, looked for from the
    right (a file's rows fill nearly all its columns: 77 comparisons of 70,000 cells came down to one)."""
    for position in range(body.shape[1] - 1, len(FIXED_COLUMNS) - 1, -1):
        if (body.iloc[:, position] != "").any():
            return position + 1
    return len(FIXED_COLUMNS)


def _candidates(body: pd.DataFrame, blocks: list[int]) -> tuple[tuple[Candidate, ...], list[Issue]]:
    first = body.iloc[0]
    candidates = tuple(
        Candidate(
            slug(first.iloc[start + 2]),
            f"{first.iloc[start + 3]} {first.iloc[start + 2].title()}",
            int(first.iloc[start]) if first.iloc[start].isdigit() else position + 1,
            first.iloc[start + 1] or None,
        )
        for position, start in enumerate(blocks)
    )
    issues = [
        error(
            "bad_sex",
            f"Line 2, column {start + 2}: Sexe is M, F or empty; got {candidate.sex!r}.",
            field="Sexe",
            line=2,
            column=start + 2,
        )
        for start, candidate in zip(blocks, candidates, strict=True)
        if candidate.sex not in SEXES
    ]
    for start, candidate in zip(blocks, candidates, strict=True):
        differs = (body.iloc[:, start + 2] != body.iloc[0, start + 2]).to_numpy()
        issues += [
            error(
                "candidate_mismatch",
                f"Line {line}, column {start + 3}: expected candidate {candidate.name} in this block, "
                f"as on line 2; got {str(body.loc[line].iloc[start + 2])[:40]!r}.",
                field="Nom",
                line=int(str(line)),
                column=start + 3,
            )
            for line in body.index[differs][:20]
        ]
    return candidates, issues


def _vote_columns(candidates: tuple[Candidate, ...], blocks: list[int]) -> dict[str, int]:
    return {candidate.id: start + 4 for candidate, start in zip(candidates, blocks, strict=True)}


def slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_name).split())


def insee_commune(departement: Departement, commune: str) -> str:
    """A commune's INSEE code from the ministry's three characters within its département: 75 056 → 75056,
    2A 004 → 2A004; overseas the ministry's number starts with a digit of its own, then INSEE's last two
    (ZA 101 → 97101, ZM 501 → 97601, ZP 011 → 98711)."""
    return str(insee_communes(departement, np.array([commune]))[0])


def insee_communes(departement: Departement, communes: npt.NDArray[np.str_]) -> npt.NDArray[np.str_]:
    """`insee_commune` of many communes of one département at once, in numpy's string functions."""
    ministry = departement.ministry_code
    if ministry in OWN_COMMUNE_CODES:
        codes = np.strings.add(ministry, communes)
    elif len(departement.code) == 3:
        codes = np.strings.add(departement.code, np.strings.slice(communes, 1, None))
    else:
        codes = np.strings.add(departement.code, communes)
    for (exception_departement, commune), code in INSEE_EXCEPTIONS.items():
        if exception_departement == ministry:
            codes = np.where(communes == commune, code, codes)
    return codes


def ministry_commune(departement: Departement, insee: str) -> str:
    """The ministry's three characters for a commune's code (`insee_commune` the other way)."""
    ministry = departement.ministry_code
    if ministry in OWN_COMMUNE_CODES:
        return insee[len(ministry) :]
    if (ministry, insee) in MINISTRY_EXCEPTIONS:
        return MINISTRY_EXCEPTIONS[(ministry, insee)]
    if len(departement.code) == 3:
        return OVERSEAS_DIGIT.get(ministry, "0") + insee[3:]
    return insee[len(departement.code) :]


def _codes(
    body: pd.DataFrame, departements: Mapping[str, Departement]
) -> tuple[dict[str, npt.NDArray[np.str_]], list[Issue]]:
    """The codes the ecosystem uses: département 971 (INSEE), circonscription 971-02, commune 97105 (INSEE:
    `insee_commune`), bureau 97105_0001 (the commune's code and the ministry's bureau code)."""
    ministry_dept = pd.Series(text_column(body, DEPT), index=body.index)
    dept = ministry_dept.map({code: d.code for code, d in departements.items()})
    issues = [
        error(
            "unknown_departement",
            f"Line {line}, column 1: unknown département code {cell!r}.",
            field="Code du département",
            line=int(str(line)),
            column=1,
        )
        for line, cell in ministry_dept[dept.isna()].iloc[:ERRORS_PER_COLUMN].items()
    ]
    circ_cells = text_column(body, CIRC)
    issues += _not_numbers(body, circ_cells, 2, CIRC, "circonscription")
    commune_cells = text_column(body, COMMUNE)
    issues += _not_numbers(body, commune_cells, 3, COMMUNE, "commune")
    if issues:
        return {}, issues
    dept_codes = dept.to_numpy(dtype=str)
    circ = np.strings.add(np.strings.add(dept_codes, "-"), np.strings.zfill(circ_cells, 2))
    commune, issues = _insee_communes(
        ministry_dept.to_numpy(dtype=str), np.strings.zfill(commune_cells, 3), departements, body.index
    )
    if issues:
        return {}, issues
    bureau = np.strings.add(np.strings.add(commune, "_"), text_column(body, BUREAU))
    issues = _too_long(body, bureau, BUREAU)
    if issues:
        return {}, issues
    return {"departement": dept_codes, "circonscription": circ, "commune": commune, "bureau": bureau}, []


def _too_long(body: pd.DataFrame, codes: npt.NDArray[np.str_], column: int) -> list[Issue]:
    """`bad_code` for each code longer than a code may be, at its line and column: the registry would refuse
    it without them, and a cell longer than `text_column` keeps would be shown cut."""
    too_long = np.strings.str_len(codes) > MAX_CODE_LENGTH
    return _bad_codes(
        body,
        codes,
        too_long,
        column,
        lambda shown: (
            f"bureau code {shown}… is longer than the {MAX_CODE_LENGTH} characters a code may have."
        ),
    )


def _not_numbers(
    body: pd.DataFrame, cells: npt.NDArray[np.str_], digits: int, column: int, what: str
) -> list[Issue]:
    """`bad_code` for each cell that is not a number of at most `digits` digits."""
    bad = ~(whole_numbers(cells) & (np.strings.str_len(cells) <= digits))
    return _bad_codes(
        body,
        cells,
        bad,
        column,
        lambda shown: f"{what} code {shown} is not a number of at most {digits} digits.",
    )


def _bad_codes(
    body: pd.DataFrame,
    cells: npt.NDArray[np.str_],
    bad: BoolArray,
    column: int,
    problem: Callable[[str], str],
) -> list[Issue]:
    """`bad_code` for each `bad` cell (up to the usual count) at its line and column, `problem` saying what is
    wrong with it, given the cell as shown (its first 40 characters, quoted)."""
    return [
        error(
            "bad_code",
            f"Line {body.index[row]}, column {column + 1}: {problem(repr(str(cells[row])[:40]))}",
            field=FIXED_COLUMNS[column],
            line=int(body.index[row]),
            column=column + 1,
        )
        for row in np.flatnonzero(bad)[:ERRORS_PER_COLUMN].tolist()
    ]


def _insee_communes(
    ministry_dept: npt.NDArray[np.str_],
    communes: npt.NDArray[np.str_],
    departements: Mapping[str, Departement],
    lines: pd.Index,
) -> tuple[npt.NDArray[np.str_], list[Issue]]:
    """`insee_commune` of every row, computed once per distinct commune (36,000 of 70,000 rows). Two of the
    ministry's communes that would make one INSEE code (ZA 105 and ZA 205) are refused, never merged."""
    # The distinct pairs in the order the file first gives them (which of two clashing codes is named).
    pairs = np.strings.add(np.strings.add(ministry_dept, " "), communes)
    _, first, inverse = np.unique(pairs, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    rows = rank[inverse.ravel()]
    first_rows = first[order]
    codes = _insee_of_pairs(ministry_dept[first_rows], communes[first_rows], departements)
    # A commune clashes when an earlier one of the file has its INSEE code: that one is named with it.
    _, owners, of_code = np.unique(codes, return_index=True, return_inverse=True)
    owner = owners[of_code.ravel()]
    issues: list[Issue] = []
    for position in np.flatnonzero(owner != np.arange(len(codes)))[:ERRORS_PER_COLUMN].tolist():
        row, other, code = int(first_rows[position]), int(first_rows[owner[position]]), str(codes[position])
        line = int(lines[row])
        issues.append(
            error(
                "bad_code",
                f"Line {line}, column {COMMUNE + 1}: commune {ministry_dept[row]} {communes[row]} would be "
                f"INSEE commune {code}, as {ministry_dept[other]} {communes[other]} is: one of the two codes "
                "is wrong.",
                field="Code de la commune",
                line=line,
                column=COMMUNE + 1,
            )
        )
    return codes[rows], issues


def _insee_of_pairs(
    ministry_dept: npt.NDArray[np.str_],
    communes: npt.NDArray[np.str_],
    departements: Mapping[str, Departement],
) -> npt.NDArray[np.str_]:
    """`insee_communes` of (département, commune) pairs, département by département (36,000 calls of
    `insee_commune` cost a national file 25 ms)."""
    order = np.argsort(ministry_dept, kind="stable")
    grouped = ministry_dept[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])  # a file has one row at least
    ordered = np.concatenate(
        [
            insee_communes(departements[str(ministry_dept[positions[0]])], communes[positions])
            for positions in np.split(order, starts[1:])
        ]
    )
    codes = np.empty_like(ordered)
    codes[order] = ordered
    return codes


def _areas(
    body: pd.DataFrame, codes: dict[str, npt.NDArray[np.str_]], departements: Mapping[str, Departement]
) -> tuple[Area, ...]:
    """The reference map names the départements and their régions; each area keeps the file's own label
    (`source_label`), which an export in this layout writes back."""
    by_code = {d.code: d for d in departements.values()}
    used = [by_code[code] for code in dict.fromkeys(codes["departement"].tolist())]
    regions = {d.region_code: d.region_name for d in sorted(used, key=lambda d: d.region_code)}
    areas = [NATIONAL]
    areas += [Area("region", code, name, NATIONAL.code) for code, name in regions.items()]
    labels = _first_label(codes["departement"], body.iloc[:, DEPT_NAME])
    areas += [
        Area("departement", d.code, d.name, d.region_code, str(labels.loc[d.code, "label"]))
        for d in sorted(used, key=lambda d: d.code)
    ]
    circs = _first_label(codes["circonscription"], body.iloc[:, CIRC_NAME], parent=codes["departement"])
    circonscriptions = [
        Area(
            "circonscription",
            str(row.Index),
            f"{by_code[str(row.parent)].name}, {row.label}",  # "4ème circonscription" of which département
            str(row.parent),
            str(row.label),
        )
        for row in circs.itertuples()
    ]
    commune_labels = _first_label(codes["commune"], body.iloc[:, COMMUNE_NAME], parent=codes["departement"])
    communes = [
        Area("commune", str(row.Index), str(row.label), str(row.parent), str(row.label))
        for row in commune_labels.itertuples()
    ]
    # The main cut first, then the electoral one: a commune and a circonscription both lie in a département.
    return tuple(areas + communes + circonscriptions)


def _first_label(
    codes: npt.NDArray[np.str_], labels: pd.Series, parent: npt.NDArray[np.str_] | None = None
) -> pd.DataFrame:
    """Per code (sorted), the label of its first row, and its parent's code."""
    frame = pd.DataFrame(
        {"code": codes, "label": labels.to_numpy(), "parent": codes if parent is None else parent}
    )
    return frame.drop_duplicates("code").set_index("code").sort_index()


def _bureaux(
    body: pd.DataFrame, codes: dict[str, npt.NDArray[np.str_]], registered: IntArray
) -> tuple[Bureau, ...]:
    return tuple(
        Bureau(
            code,
            f"{commune_name}, bureau {number}",
            commune,
            None if inscrits == UNKNOWN else inscrits,
            cut_areas={"circonscription": circonscription},
        )
        for code, commune_name, number, commune, circonscription, inscrits in zip(
            codes["bureau"].tolist(),
            body.iloc[:, COMMUNE_NAME],
            text_column(body, BUREAU).tolist(),
            codes["commune"].tolist(),
            codes["circonscription"].tolist(),
            registered.tolist(),
            strict=True,
        )
    )
