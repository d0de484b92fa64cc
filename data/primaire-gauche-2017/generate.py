"""The demo election: the French left primary of January 2017, bureau by bureau.

The national figures are the published ones (../shared/REFERENCE.md §1): the final totals of round 1; round 2:
the 17:00 turnout and the results announced during the night. How they split over the 7,530 bureaux is not
available, so the split is synthetic: plausible values drawn from a seeded generator, then moved by whole
units until every published figure comes out exactly. Every constraint is asserted before a file is written,
so a change here can never ship wrong data silently.

    python data/primaire-gauche-2017/generate.py [folder]

rewrites the committed files byte for byte (into this script's folder by default). It is a script beside
its data, not part of the package: it needs tabulator installed (`make install`) for the core's types, the
département map it ships and its rounding.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import dataclass, replace
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tabulator.metrics import change, percent
from tabulator.spreadsheet import safe_row
from tabulator.types import Area, Bureau

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DEPARTEMENTS_CSV = files("tabulator") / "reference" / "departements.csv"  # the core's package data
DEFAULT_OUT_DIR = Path(__file__).resolve().parent
DEFAULT_SEED = 2017

ELECTION_ID = "primaire-gauche-2017"
UTC_OFFSET = "+01:00"  # both Sundays are in winter time (CET)

BUREAUX_ANNOUNCED = 7_530
BUREAUX_MERGED = 322  # 7,530 announced; 7,208 once the bureaux sharing a site were merged

# Ballot-paper order (the draw), which is also the column order of the returns.
ROUND1_CANDIDATES = (
    ("montebourg", "Arnaud Montebourg"),
    ("rugy", "François de Rugy"),
    ("peillon", "Vincent Peillon"),
    ("hamon", "Benoît Hamon"),
    ("bennahmias", "Jean-Luc Bennahmias"),
    ("pinel", "Sylvia Pinel"),
    ("valls", "Manuel Valls"),
)
ROUND2_CANDIDATES = (("hamon", "Benoît Hamon"), ("valls", "Manuel Valls"))

# Round 1, final figures of the Haute autorité.
ROUND1_VOTERS = 1_655_919
ROUND1_BLANK = 11_766
ROUND1_NULL = 10_114
ROUND1_VOTES = {
    "montebourg": 290_070,
    "rugy": 63_430,
    "peillon": 112_718,
    "hamon": 596_647,
    "bennahmias": 16_869,
    "pinel": 33_067,
    "valls": 521_238,
}

# Round 2 at 17:00: 1,306,852 voters on 75 % of bureaux, +22.8 % on the same bureaux at 17:00 in round 1.
ROUND2_17H_BUREAUX = 5_406
ROUND2_17H_VOTERS = 1_306_852
ROUND2_17H_CHANGE_PER_MILLE = 228

# Round 2 at 20:30, on 4,322 bureaux (the first announcement of results).
FIRST_VOTERS = 1_101_180
FIRST_BLANK = 9_910
FIRST_NULL = 7_902
FIRST_HAMON = 635_395

# A return or a checkpoint is flagged for review when blancs or nuls reach 3 % of votants, or when votants
# move by more than a factor 3 between rounds. Ordinary synthetic bureaux stay clear of both with a margin,
# so that the few deliberate warnings of the demo are the only ones.
ORDINARY_SPOILT_PER_MILLE = 29
ROUND2_RATIO_RANGE = (0.7, 2.0)


@dataclass(frozen=True)
class NightWindow:
    """The bureaux whose first return arrives after the previous window and before `ends_at`."""

    starts_at: str
    ends_at: str  # a time at which figures were announced
    bureaux: int
    hamon_hundredths: int  # Hamon's announced share of exprimés at `ends_at`, cumulative, in 1/100 %
    arrivals: tuple[float, float]  # the beta distribution of arrival times over the window


# Returns pick up from a few minutes after the close, peak around 20:00-21:00, then trail off until 23:30.
ROUND2_NIGHT = (
    NightWindow("19:04", "20:30", 4_322, 5865, (2.2, 1.2)),
    NightWindow("20:30", "21:17", 1_650, 5888, (1.0, 1.3)),
    NightWindow("21:17", "21:42", 420, 5889, (1.0, 1.2)),
    NightWindow("21:42", "22:19", 380, 5888, (1.0, 1.4)),
    NightWindow("22:19", "23:30", 436, 5888, (1.0, 2.0)),  # "little change after that"
)
ROUND1_NIGHT = NightWindow("19:05", "23:30", BUREAUX_ANNOUNCED - BUREAUX_MERGED, 0, (1.8, 4.0))
CORRECTIONS_BETWEEN = ("21:48", "21:59")  # after the 21:42 announcement, before the 22:19 one

# Favourite sons do better at home (Montebourg in Saône-et-Loire, Pinel in Tarn-et-Garonne, ...); it makes
# the synthetic maps look like a real primary rather than like noise.
HOME_DEPARTEMENTS = {"montebourg": "71", "rugy": "44", "hamon": "78", "pinel": "82", "valls": "91"}
HOME_ADVANTAGE = 2.0

# French contracts "de" with the article of the département's name.
NO_ARTICLE = {
    "Paris",
    "Mayotte",
    "La Réunion",
    "Saint-Pierre-et-Miquelon",
    "Wallis-et-Futuna",
    "Saint-Barthélemy et Saint-Martin",
}
PLURAL = {
    "Alpes-de-Haute-Provence",
    "Hautes-Alpes",
    "Alpes-Maritimes",
    "Ardennes",
    "Bouches-du-Rhône",
    "Côtes-d'Armor",
    "Landes",
    "Pyrénées-Atlantiques",
    "Hautes-Pyrénées",
    "Pyrénées-Orientales",
    "Deux-Sèvres",
    "Vosges",
    "Yvelines",
    "Hauts-de-Seine",
}
MASCULINE = {
    "Calvados",
    "Cantal",
    "Cher",
    "Doubs",
    "Finistère",
    "Gard",
    "Gers",
    "Jura",
    "Loir-et-Cher",
    "Loiret",
    "Lot",
    "Lot-et-Garonne",
    "Morbihan",
    "Nord",
    "Pas-de-Calais",
    "Puy-de-Dôme",
    "Bas-Rhin",
    "Haut-Rhin",
    "Rhône",
    "Tarn",
    "Tarn-et-Garonne",
    "Territoire de Belfort",
    "Var",
    "Vaucluse",
    "Val-de-Marne",
    "Val-d'Oise",
}

CORRECTION_SWAP_REASON = "Inversion des voix Hamon/Valls à la saisie, corrigée d'après le procès-verbal"
CORRECTION_TYPO_REASON = (
    "Votants et voix de Manuel Valls saisis avec {excess} de trop, corrigés d'après le procès-verbal"
)
TYPO_EXCESS = 9

README = """\
# Primaire citoyenne 2017 (demo election)

The French left primary of 22 and 29 January 2017, in the election-folder format of
`docs/election-format.md`. The service loads it as its demo and its tests measure against it.

- The national figures are the published ones (`../shared/REFERENCE.md` §1): the final totals of round 1;
  for round 2 the 17:00 turnout (1,306,852 voters on 5,406 bureaux, +22.8 % like for like) and the figures
  announced during the night (20:30, 21:17, 21:42, 22:19), which the files reproduce exactly at those times.
- The split over the 7,530 bureaux (7,208 after merges) is **synthetic**, and so are the final round-2
  counts, which were not published in full: plausible values from a seeded generator, adjusted to the
  published totals. The bureaux, their names and the reporting times are invented.
- Areas: régions, départements and legislative circonscriptions (2012 map) from
  `tabulator/reference/departements.csv`; the Français établis hors de France are left out (as far as we
  know the primary had no polling stations abroad; the map keeps them).
- Population source (for spreading the bureaux): INSEE populations légales 2014 (population municipale, in
  force on 1 January 2017); latest census for the collectivités d'outre-mer; French voters registered abroad
  at the end of 2016. Entered by hand: individual values may be off by a little.

Regenerate (byte for byte, seed 2017), from the repository's root:

    python data/primaire-gauche-2017/generate.py
"""


# --- Areas and bureaux --------------------------------------------------------------------------------------


# Not tabulator.ministry's Departement and read_departements: those keep what the ministry's files need
# (codes, names, région), keyed by the ministry's code. Spreading the bureaux needs two more columns of the
# same map, each département's circonscriptions and population, and the map's own order.
@dataclass(frozen=True)
class MapDepartement:
    code: str
    name: str
    region_code: str
    region_name: str
    circonscriptions: int
    population: int


def read_map(text: str) -> list[MapDepartement]:
    return [
        MapDepartement(
            code=row["code"],
            name=row["name"],
            region_code=row["region_code"],
            region_name=row["region_name"],
            circonscriptions=int(row["circonscriptions"]),
            population=int(row["population"]),
        )
        for row in csv.DictReader(io.StringIO(text))
    ]


def shipped_departements(departements: list[MapDepartement]) -> list[MapDepartement]:
    # As far as we know the 2017 primary had no polling stations abroad: no Français de l'étranger here.
    return [dep for dep in departements if dep.region_code != "FE"]


def of_departement(name: str) -> str:
    """'de Paris', 'des Landes', 'du Nord', "de l'Ain", 'de la Somme'."""
    if name in NO_ARTICLE:
        return f"de {name}"
    if name in PLURAL:
        return f"des {name}"
    if name in MASCULINE:
        return f"du {name}"
    if name[0] in "AEIOUYÉ" or name == "Hérault":  # the h of Hérault is silent
        return f"de l'{name}"
    return f"de la {name}"


def ordinal(number: int) -> str:
    return "1re" if number == 1 else f"{number}e"


def circonscription_code(departement: MapDepartement, number: int) -> str:
    return f"{departement.code}-{number:02d}"


def circonscription_name(departement: MapDepartement, number: int) -> str:
    return f"{ordinal(number)} circonscription {of_departement(departement.name)}"


def region_sort_key(code: str) -> tuple[int, str]:
    # Metropolitan régions (codes 11 and up) first, then the overseas ones, then the pseudo-région COM.
    if not code.isdigit():
        return (2, code)
    return (0 if int(code) >= 11 else 1, code)


def build_areas(departements: list[MapDepartement]) -> list[Area]:
    regions = {dep.region_code: dep.region_name for dep in departements}
    areas = [Area("national", "FR", "France", None)]
    areas += [Area("region", code, regions[code], "FR") for code in sorted(regions, key=region_sort_key)]
    areas += [Area("departement", dep.code, dep.name, dep.region_code) for dep in departements]
    areas += [
        Area("circonscription", circonscription_code(dep, n), circonscription_name(dep, n), dep.code)
        for dep in departements
        for n in range(1, dep.circonscriptions + 1)
    ]
    return areas


def build_bureaux(rng: np.random.Generator, departements: list[MapDepartement]) -> list[Bureau]:
    per_departement = apportion(
        [dep.population for dep in departements],
        BUREAUX_ANNOUNCED,
        lower=[dep.circonscriptions for dep in departements],
    )
    bureaux = []
    for dep, count in zip(departements, per_departement, strict=True):
        # Circonscriptions have about the same population by law; the spread of sizes keeps it uneven.
        weights = rng.uniform(0.75, 1.25, dep.circonscriptions)
        per_circonscription = apportion(weights, int(count), lower=1)
        for number, size in enumerate(per_circonscription, start=1):
            area_code = circonscription_code(dep, number)
            area_name = circonscription_name(dep, number)
            bureaux += [
                Bureau(f"{area_code}-{i:04d}", f"Bureau {i} — {area_name}", area_code)
                for i in range(1, int(size) + 1)
            ]
    return merge_bureaux(rng, bureaux)


def merge_bureaux(rng: np.random.Generator, bureaux: list[Bureau]) -> list[Bureau]:
    """Merge 322 bureaux into a neighbour of the same circonscription, as when two shared one site."""
    # Bureau 0001 of each circonscription is never merged: every merged bureau has a reporting one below it.
    candidates = [i for i, bureau in enumerate(bureaux) if not bureau.code.endswith("-0001")]
    merged = set(rng.choice(candidates, BUREAUX_MERGED, replace=False).tolist())
    result = list(bureaux)
    for i in sorted(merged):
        target = i - 1
        while target in merged:
            target -= 1
        assert bureaux[target].area_code == bureaux[i].area_code
        result[i] = replace(bureaux[i], merged_into=bureaux[target].code)
    return result


def departement_indexes(bureaux: list[Bureau], departements: list[MapDepartement]) -> IntArray:
    """Each bureau's département, as its index in `departements` (a bureau's area is a circonscription)."""
    index_of = {dep.code: index for index, dep in enumerate(departements)}
    return np.array([index_of[bureau.area_code.rsplit("-", 1)[0]] for bureau in bureaux], dtype=np.int64)


# --- Whole numbers with exact totals ------------------------------------------------------------------------


def apportion(
    weights: npt.ArrayLike,
    total: int,
    lower: npt.ArrayLike | None = None,
    upper: npt.ArrayLike | None = None,
) -> IntArray:
    """Whole numbers in proportion to `weights`, adding up to exactly `total`, each within [lower, upper].

    Largest-remainder method: share `total` out in proportion, keep the integer parts, and give the units
    still missing to the largest fractional parts. Bounds (whole numbers) are honoured by pinning the shares
    that fall outside them and sharing the rest among the others again.
    """
    weight = np.asarray(weights, dtype=float)
    low = np.broadcast_to(np.asarray(0 if lower is None else lower, dtype=float), weight.shape)
    high = np.broadcast_to(np.asarray(np.inf if upper is None else upper, dtype=float), weight.shape)
    if not low.sum() <= total <= high.sum():
        raise ValueError(f"cannot share {total} within bounds adding up to {low.sum()}..{high.sum()}")
    exact = _bounded_shares(weight, total, low, high)
    whole = np.floor(exact)
    missing = total - int(whole.sum())
    by_remainder = np.argsort(whole - exact, kind="stable")
    by_remainder = by_remainder[whole[by_remainder] < high[by_remainder]]
    whole[by_remainder[:missing]] += 1
    result = whole.astype(np.int64)
    assert result.sum() == total and (result >= low).all() and (result <= high).all()
    return result


def _bounded_shares(weight: FloatArray, total: int, low: FloatArray, high: FloatArray) -> FloatArray:
    exact = np.zeros(weight.shape)
    free = np.ones(weight.shape, dtype=bool)
    while free.any():
        to_share = total - exact[~free].sum()
        free_weight = weight[free].sum()
        if free_weight > 0:
            exact[free] = weight[free] * to_share / free_weight
        else:
            exact[free] = to_share / free.sum()
        too_low, too_high = free & (exact < low), free & (exact > high)
        if not (too_low.any() or too_high.any()):
            break
        exact[too_low], exact[too_high] = low[too_low], high[too_high]
        free &= ~(too_low | too_high)
    return exact


def round_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def is_rounding_tie(part: int, whole: int) -> bool:
    # part/whole*100 has a third decimal of exactly 5 and nothing after: rounding hinges on the convention.
    return (200_000 * part) % (20 * whole) == 10 * whole


# --- Returns, checkpoints, corrections ----------------------------------------------------------------------


@dataclass
class Returns:
    """One return per reporting bureau (arrays aligned with the reporting bureaux)."""

    voters: IntArray
    blank: IntArray
    null: IntArray
    votes: IntArray  # one column per candidate, in ballot order
    reported_at: IntArray  # seconds after midnight on the day of the round

    @property
    def valid(self) -> IntArray:
        return self.voters - self.blank - self.null


# Not tabulator.types.Checkpoint, which is one bureau's row: this is one time of day for every reporting
# bureau at once, as arrays aligned with them, so that the draws and the checks work on whole columns.
@dataclass
class CheckpointColumns:
    time: str  # "12:00" or "17:00"
    reported: BoolArray
    voters: IntArray  # meaningful where reported
    reported_at: IntArray


@dataclass(frozen=True)
class Correction:
    bureau: int  # index among the reporting bureaux
    voters: int
    blank: int
    null: int
    votes: tuple[int, ...]
    reported_at: int
    reason: str

    @property
    def valid(self) -> int:
        return self.voters - self.blank - self.null


@dataclass
class RoundData:
    number: int
    date: str
    candidates: tuple[tuple[str, str], ...]
    returns: Returns
    checkpoints: tuple[CheckpointColumns, CheckpointColumns]
    corrections: list[Correction]


@dataclass
class DemoElection:
    areas: list[Area]
    bureaux: list[Bureau]
    reporting: list[Bureau]  # the bureaux not merged, in the order of the arrays of returns
    rounds: tuple[RoundData, RoundData]


def seconds(clock: str) -> int:
    hours, minutes = clock.split(":")
    return 3600 * int(hours) + 60 * int(minutes)


def ordinary_cap(voters: IntArray) -> IntArray:
    return (voters * ORDINARY_SPOILT_PER_MILLE) // 1000


def spoilt_ballots(
    rng: np.random.Generator,
    voters: IntArray,
    rate: float,
    total: int | None,
    flagged: dict[int, int],
) -> IntArray:
    """Blank (or null) ballots of a set of bureaux, adding up to `total` (None: whatever the rate gives).

    The bureaux of `flagged` get their given, high count; all others stay under the warning threshold.
    """
    result = np.zeros(voters.shape, dtype=np.int64)
    ordinary = np.ones(voters.shape, dtype=bool)
    for index, count in flagged.items():
        result[index], ordinary[index] = count, False
    weights = voters[ordinary] * rate * rng.lognormal(0.0, 0.5, int(ordinary.sum()))
    wanted = round(float(weights.sum())) if total is None else total - sum(flagged.values())
    result[ordinary] = apportion(weights, wanted, upper=ordinary_cap(voters[ordinary]))
    return result


def flag_bureaux(rng: np.random.Generator, voters: IntArray, pool: IntArray, count: int) -> dict[int, int]:
    """A few bureaux with a blank (or null) share between 3.5 and 6 %, to show the review warnings."""
    chosen = rng.choice(pool[voters[pool] >= 150], count, replace=False)
    shares = rng.uniform(0.035, 0.06, count)
    return {int(i): int(np.ceil(voters[i] * share)) for i, share in zip(chosen, shares, strict=True)}


def split_votes(valid: IntArray, shares: FloatArray, totals: IntArray) -> IntArray:
    """Candidates' votes per bureau: each row adds up to `valid`, each column to the candidate's total.

    Candidates are shared out one at a time, smallest first, each in proportion to what its share of the
    remaining ballots would give; the largest takes what is left, which is its share too, on average.
    """
    assert valid.sum() == totals.sum()
    votes = np.zeros(shares.shape, dtype=np.int64)
    remaining = valid.copy()
    remaining_share = shares.sum(axis=1)
    order = np.argsort(totals, kind="stable")
    for candidate in order[:-1]:
        expected = remaining * shares[:, candidate] / remaining_share
        votes[:, candidate] = apportion(expected, int(totals[candidate]), upper=remaining)
        remaining = remaining - votes[:, candidate]
        remaining_share = remaining_share - shares[:, candidate]
    votes[:, order[-1]] = remaining
    return votes


def reporting_times(
    rng: np.random.Generator, speed_order: IntArray, windows: tuple[NightWindow, ...]
) -> tuple[IntArray, IntArray]:
    """When each bureau's first return arrives, and in which window; the fastest bureaux come first.

    Times stay strictly inside their window, so that no return sits exactly on an announcement time.
    """
    reported_at = np.zeros(speed_order.shape, dtype=np.int64)
    window_of = np.zeros(speed_order.shape, dtype=np.int64)
    start = 0
    for index, window in enumerate(windows):
        begin, end = seconds(window.starts_at), seconds(window.ends_at)
        spread = np.sort(rng.beta(*window.arrivals, window.bureaux))
        members = speed_order[start : start + window.bureaux]
        reported_at[members] = begin + 1 + np.floor(spread * (end - begin - 2)).astype(np.int64)
        window_of[members] = index
        start += window.bureaux
    assert start == len(speed_order)
    return reported_at, window_of


def checkpoint_times(rng: np.random.Generator, clock: str, count: int) -> IntArray:
    # Checkpoints come in from a few minutes to about forty minutes after the hour.
    return seconds(clock) + rng.integers(180, 2400, count)


def build_round1(
    rng: np.random.Generator, departements: IntArray, regions: IntArray, home: FloatArray
) -> Returns:
    n, n_departements = len(departements), int(departements.max()) + 1
    # Bureau sizes: lognormal, larger in some départements than in others, 30 to 1,500 voters.
    size = rng.lognormal(np.log(190), 0.55, n) * rng.lognormal(0.0, 0.2, n_departements)[departements]
    voters = apportion(np.clip(size, 30, 1500), ROUND1_VOTERS, lower=30, upper=1500)
    everyone = np.arange(n)
    flagged_blank = flag_bureaux(rng, voters, everyone, 3)
    others = np.setdiff1d(everyone, list(flagged_blank))
    flagged_null = flag_bureaux(rng, voters, others, 3)
    blank = spoilt_ballots(rng, voters, ROUND1_BLANK / ROUND1_VOTERS, ROUND1_BLANK, flagged_blank)
    null = spoilt_ballots(rng, voters, ROUND1_NULL / ROUND1_VOTERS, ROUND1_NULL, flagged_null)
    shares = round1_shares(rng, departements, regions, home)
    totals = np.array([ROUND1_VOTES[cid] for cid, _ in ROUND1_CANDIDATES], dtype=np.int64)
    votes = split_votes(voters - blank - null, shares, totals)
    # Small bureaux count faster.
    speed_order = np.argsort(np.log(voters) + rng.normal(0.0, 0.5, n), kind="stable")
    reported_at, _ = reporting_times(rng, speed_order, (ROUND1_NIGHT,))
    return Returns(voters, blank, null, votes, reported_at)


def round1_shares(
    rng: np.random.Generator, departements: IntArray, regions: IntArray, home: FloatArray
) -> FloatArray:
    """Each bureau's expected shares of exprimés: the national ones, swung by région, département, bureau."""
    candidates = [cid for cid, _ in ROUND1_CANDIDATES]
    national = np.array([ROUND1_VOTES[cid] for cid in candidates], dtype=float)
    k = len(candidates)
    region_swing = rng.lognormal(0.0, 0.15, (int(regions.max()) + 1, k))
    departement_swing = rng.lognormal(0.0, 0.12, (int(departements.max()) + 1, k))
    swing = region_swing[regions[departements]] * departement_swing[departements] * home[departements]
    shares: FloatArray = national * swing * rng.lognormal(0.0, 0.15, (len(departements), k))
    normalised: FloatArray = shares / shares.sum(axis=1, keepdims=True)
    return normalised


def home_advantage(departement_codes: list[str]) -> FloatArray:
    candidates = [cid for cid, _ in ROUND1_CANDIDATES]
    factor = np.ones((len(departement_codes), len(candidates)))
    for candidate, code in HOME_DEPARTEMENTS.items():
        factor[departement_codes.index(code), candidates.index(candidate)] = HOME_ADVANTAGE
    return factor


@dataclass
class Round2Draft:
    """Round 2 before its turnout: the returns as first reported, and the corrections made later."""

    returns: Returns
    window_of: IntArray
    corrections: list[Correction]


def build_round2(rng: np.random.Generator, round1: Returns, departements: IntArray) -> Round2Draft:
    n = len(departements)
    swing = rng.lognormal(0.0, 0.06, int(departements.max()) + 1)[departements] * rng.lognormal(0.0, 0.08, n)
    shape = round1.voters * swing
    # Big bureaux take longer to count, but only loosely: the 4,322 bureaux in by 20:30 (60 %) held 1,101,180
    # voters, a little over half of the night's two million.
    speed_order = np.argsort(np.log(shape) + rng.normal(0.0, 2.2, n), kind="stable")
    reported_at, window_of = reporting_times(rng, speed_order, ROUND2_NIGHT)
    # The growth on round 1 is whatever makes the early bureaux add up to the announced figure on their own.
    expected_voters = shape * FIRST_VOTERS / shape[window_of == 0].sum()
    voters = round2_voters(expected_voters, round1.voters, window_of == 0)
    blank, null = round2_spoilt(rng, voters, window_of == 0)
    valid = voters - blank - null
    hamon_share = round2_hamon_share(rng, round1)
    hamon = np.zeros(n, dtype=np.int64)
    first = window_of == 0
    hamon[first] = apportion(valid[first] * hamon_share[first], FIRST_HAMON, upper=valid[first])
    returns = Returns(voters, blank, null, np.column_stack([hamon, valid - hamon]), reported_at)
    # The corrections touch bureaux in by 20:30, and the later windows must absorb their effect.
    corrections = make_corrections(rng, returns, window_of)
    for window in range(1, len(ROUND2_NIGHT)):
        fill_window(returns, window_of, corrections, hamon_share, window)
    return Round2Draft(returns, window_of, corrections)


def fill_window(
    returns: Returns, window_of: IntArray, corrections: list[Correction], hamon_share: FloatArray, window: int
) -> None:
    """Share the Hamon/Valls votes of a window's bureaux so the announced percentage holds at its end."""
    members = window_of == window
    valid = returns.valid[members]
    wanted = hamon_needed(returns, window_of, corrections, window)
    hamon = apportion(valid * hamon_share[members], wanted, upper=valid)
    returns.votes[members] = np.column_stack([hamon, valid - hamon])


def round2_voters(expected: FloatArray, round1_voters: IntArray, first: BoolArray) -> IntArray:
    # The bureaux in by 20:30 add up to the announced 1,101,180; the others keep their expected size.
    low = np.ceil(round1_voters * ROUND2_RATIO_RANGE[0])
    high = np.floor(round1_voters * ROUND2_RATIO_RANGE[1])
    voters = np.clip(np.rint(expected), low, high).astype(np.int64)
    voters[first] = apportion(expected[first], FIRST_VOTERS, lower=low[first], upper=high[first])
    return voters


def round2_spoilt(rng: np.random.Generator, voters: IntArray, first: BoolArray) -> tuple[IntArray, IntArray]:
    """Blancs and nuls of round 2: exact totals for the bureaux in by 20:30, a few flagged bureaux in all."""
    blank_rate, null_rate = FIRST_BLANK / FIRST_VOTERS, FIRST_NULL / FIRST_VOTERS
    blank, null = np.zeros_like(voters), np.zeros_like(voters)
    for group, totals, flags in (
        (np.flatnonzero(first), (FIRST_BLANK, FIRST_NULL), (2, 1)),
        (np.flatnonzero(~first), (None, None), (3, 2)),
    ):
        group_voters = voters[group]
        everyone = np.arange(len(group))
        flagged_blank = flag_bureaux(rng, group_voters, everyone, flags[0])
        others = np.setdiff1d(everyone, list(flagged_blank))
        flagged_null = flag_bureaux(rng, group_voters, others, flags[1])
        blank[group] = spoilt_ballots(rng, group_voters, blank_rate, totals[0], flagged_blank)
        null[group] = spoilt_ballots(rng, group_voters, null_rate, totals[1], flagged_null)
    return blank, null


def round2_hamon_share(rng: np.random.Generator, round1: Returns) -> FloatArray:
    """Hamon's expected share against Valls, following where he did well against Valls in round 1."""
    hamon_column = [cid for cid, _ in ROUND1_CANDIDATES].index("hamon")
    valls_column = [cid for cid, _ in ROUND1_CANDIDATES].index("valls")
    lean = np.log((round1.votes[:, hamon_column] + 1) / (round1.votes[:, valls_column] + 1))
    national_lean = np.log(ROUND1_VOTES["hamon"] / ROUND1_VOTES["valls"])
    logit: FloatArray = (
        np.log(0.5888 / 0.4112) + 0.7 * (lean - national_lean) + rng.normal(0.0, 0.1, len(lean))
    )
    return 1 / (1 + np.exp(-logit))


def make_corrections(rng: np.random.Generator, returns: Returns, window_of: IntArray) -> list[Correction]:
    """Two bureaux in by 20:30 whose return is corrected just before 22:00, after the 21:42 announcement."""
    voters, blank, null = returns.voters, returns.blank, returns.null
    hamon, valls = returns.votes[:, 0], returns.votes[:, 1]
    cap_after_typo = ordinary_cap(voters - TYPO_EXCESS)
    plain = (window_of == 0) & (voters >= 200) & (blank <= cap_after_typo) & (null <= cap_after_typo)
    swapped_pool = np.flatnonzero(plain & (valls - hamon >= 30) & (valls - hamon <= 120))
    swapped = int(rng.choice(swapped_pool))
    typo_pool = np.flatnonzero(plain & (valls >= 3 * TYPO_EXCESS) & (np.arange(len(voters)) != swapped))
    typo = int(rng.choice(typo_pool))
    times = np.sort(rng.integers(seconds(CORRECTIONS_BETWEEN[0]), seconds(CORRECTIONS_BETWEEN[1]) + 60, 2))
    return [
        Correction(
            swapped,
            int(voters[swapped]),
            int(blank[swapped]),
            int(null[swapped]),
            (int(valls[swapped]), int(hamon[swapped])),
            int(times[0]),
            CORRECTION_SWAP_REASON,
        ),
        Correction(
            typo,
            int(voters[typo]) - TYPO_EXCESS,
            int(blank[typo]),
            int(null[typo]),
            (int(hamon[typo]), int(valls[typo]) - TYPO_EXCESS),
            int(times[1]),
            CORRECTION_TYPO_REASON.format(excess=TYPO_EXCESS),
        ),
    ]


def hamon_needed(returns: Returns, window_of: IntArray, corrections: list[Correction], window: int) -> int:
    """Hamon's votes in a window so that his cumulative share at its end is the announced one, to the digit.

    The target sits in the middle of the announced rounding interval (58.880 % for 58.88 %), far from a tie.
    """
    cut = seconds(ROUND2_NIGHT[window].ends_at)
    valid = returns.valid.copy()
    hamon = returns.votes[:, 0].copy()
    for correction in corrections:
        if correction.reported_at <= cut:
            valid[correction.bureau], hamon[correction.bureau] = correction.valid, correction.votes[0]
    cumulative_valid = int(valid[window_of <= window].sum())
    target = round_half_up(ROUND2_NIGHT[window].hamon_hundredths * cumulative_valid, 10_000)
    return target - int(hamon[window_of < window].sum())


def final_voters(returns: Returns, corrections: list[Correction]) -> IntArray:
    """Each bureau's smallest votants over its versions: a checkpoint may not exceed any of them."""
    voters = returns.voters.copy()
    for correction in corrections:
        voters[correction.bureau] = min(voters[correction.bureau], correction.voters)
    return voters


def build_turnout(
    rng: np.random.Generator, round1: Returns, round2: Returns, corrections: list[Correction]
) -> tuple[tuple[CheckpointColumns, CheckpointColumns], tuple[CheckpointColumns, CheckpointColumns]]:
    """The 12:00 and 17:00 checkpoints of both rounds, with the announced 17:00 figures of round 2 exact."""
    n = len(round1.voters)
    round2_voters = final_voters(round2, corrections)
    reported_12h_r1, reported_17h_r1 = rng.random(n) < 0.9, rng.random(n) < 0.93
    reported_17h_r2 = np.zeros(n, dtype=bool)
    reported_17h_r2[rng.choice(n, ROUND2_17H_BUREAUX, replace=False)] = True
    matched = reported_17h_r1 & reported_17h_r2
    # Calibrate the by-17:00 fractions so that the exact adjustment below only moves values a little.
    fraction_r2 = ROUND2_17H_VOTERS / round2_voters[reported_17h_r2].sum()
    growth = round2_voters[matched].sum() / round1.voters[matched].sum()
    fraction_r1 = fraction_r2 * growth * 1000 / (1000 + ROUND2_17H_CHANGE_PER_MILLE)
    at_17h_r1 = np.floor(round1.voters * by_17h(rng, fraction_r1, n)).astype(np.int64)
    expected_r2 = round2_voters * by_17h(rng, fraction_r2, n)
    at_17h_r2 = round2_evening(expected_r2, round2_voters, at_17h_r1, reported_17h_r1, reported_17h_r2)
    round1_checkpoints = morning_and_evening(rng, at_17h_r1, reported_12h_r1, reported_17h_r1)
    round2_checkpoints = morning_and_evening(rng, at_17h_r2, rng.random(n) < 0.87, reported_17h_r2)
    return round1_checkpoints, round2_checkpoints


def by_17h(rng: np.random.Generator, fraction: float, count: int) -> FloatArray:
    """Each bureau's share of its day's voters who had voted by 17:00, around `fraction`."""
    return np.clip(fraction * rng.normal(1.0, 0.045, count), 0.5, 0.97)


def round2_evening(
    expected: FloatArray,
    round2_voters: IntArray,
    at_17h_r1: IntArray,
    reported_r1: BoolArray,
    reported_r2: BoolArray,
) -> IntArray:
    """Round-2 voters at 17:00: +22.8 % on the bureaux reported both times, 1,306,852 in all, to the unit.

    Bureaux that do not report 17:00 keep their expected value, the base of their 12:00 checkpoint.
    """
    evening = np.floor(expected).astype(np.int64)
    matched, unmatched = reported_r1 & reported_r2, ~reported_r1 & reported_r2
    matched_target = round_half_up(int(at_17h_r1[matched].sum()) * (1000 + ROUND2_17H_CHANGE_PER_MILLE), 1000)
    for group, total in ((matched, matched_target), (unmatched, ROUND2_17H_VOTERS - matched_target)):
        evening[group] = apportion(expected[group], total, upper=round2_voters[group])
    return evening


def morning_and_evening(
    rng: np.random.Generator, at_17h: IntArray, reported_12h: BoolArray, reported_17h: BoolArray
) -> tuple[CheckpointColumns, CheckpointColumns]:
    # About 45 % of the day's voters by 17:00 had voted by noon.
    at_12h = np.floor(at_17h * np.clip(rng.normal(0.45, 0.05, len(at_17h)), 0.3, 0.6)).astype(np.int64)
    n = len(at_17h)
    return (
        CheckpointColumns("12:00", reported_12h, at_12h, checkpoint_times(rng, "12:00", n)),
        CheckpointColumns("17:00", reported_17h, at_17h, checkpoint_times(rng, "17:00", n)),
    )


def build_election(
    seed: int = DEFAULT_SEED, departements_csv: Traversable = DEPARTEMENTS_CSV
) -> DemoElection:
    rng = np.random.default_rng(seed)
    departements = shipped_departements(read_map(departements_csv.read_text(encoding="utf-8")))
    areas = build_areas(departements)
    bureaux = build_bureaux(rng, departements)
    reporting = [bureau for bureau in bureaux if not bureau.merged_into]
    region_codes = sorted({dep.region_code for dep in departements}, key=region_sort_key)
    regions = np.array([region_codes.index(dep.region_code) for dep in departements])
    departement_of = departement_indexes(reporting, departements)
    home = home_advantage([dep.code for dep in departements])
    round1 = build_round1(rng, departement_of, regions, home)
    round2 = build_round2(rng, round1, departement_of)
    turnout1, turnout2 = build_turnout(rng, round1, round2.returns, round2.corrections)
    return DemoElection(
        areas,
        bureaux,
        reporting,
        (
            RoundData(1, "2017-01-22", ROUND1_CANDIDATES, round1, turnout1, []),
            RoundData(2, "2017-01-29", ROUND2_CANDIDATES, round2.returns, turnout2, round2.corrections),
        ),
    )


# --- Checks: every published figure and every rule, asserted before anything is written ---------------------


def figures_at(returns: Returns, corrections: list[Correction], cut: int) -> dict[str, int]:
    """National sums at `cut`: for each bureau, its latest version reported at or before `cut`."""
    voters, blank, null, votes = (
        returns.voters.copy(),
        returns.blank.copy(),
        returns.null.copy(),
        returns.votes.copy(),
    )
    for correction in corrections:
        if correction.reported_at <= cut:
            index = correction.bureau
            voters[index], blank[index], null[index] = correction.voters, correction.blank, correction.null
            votes[index] = correction.votes
    reported = returns.reported_at <= cut
    totals = votes[reported].sum(axis=0)
    return {
        "bureaux": int(reported.sum()),
        "voters": int(voters[reported].sum()),
        "blank": int(blank[reported].sum()),
        "null": int(null[reported].sum()),
        "valid": int(totals.sum()),
        "hamon": int(totals[0]),
        "valls": int(totals[1]),
    }


def versions(
    returns: Returns, corrections: list[Correction]
) -> list[tuple[int, int, int, int, tuple[int, ...]]]:
    """Every version of every return: (bureau, voters, blank, null, votes)."""
    first = [
        (
            i,
            int(returns.voters[i]),
            int(returns.blank[i]),
            int(returns.null[i]),
            tuple(returns.votes[i].tolist()),
        )
        for i in range(len(returns.voters))
    ]
    return first + [(c.bureau, c.voters, c.blank, c.null, c.votes) for c in corrections]


def check_bureaux(bureaux: list[Bureau]) -> None:
    by_code = {bureau.code: bureau for bureau in bureaux}
    assert len(by_code) == len(bureaux) == BUREAUX_ANNOUNCED
    merged_into = {bureau.code: bureau.merged_into for bureau in bureaux if bureau.merged_into}
    assert len(merged_into) == BUREAUX_MERGED
    for code, target_code in merged_into.items():
        target = by_code[target_code]
        assert target.area_code == by_code[code].area_code and not target.merged_into, code


def check_counts(round_: RoundData) -> None:
    """voters = blank + null + valid, votes add up to valid, every count a whole number ≥ 0 (all versions)."""
    for _, voters, blank, null, votes in versions(round_.returns, round_.corrections):
        assert min(voters, blank, null, *votes) >= 0 and voters > 0
        assert voters - blank - null == sum(votes)


def check_warnings(round_: RoundData) -> None:
    """A few deliberate blank/null warnings (5 to 15); every other bureau stays clear of the 3 % threshold."""
    flagged = set()
    for bureau, voters, blank, null, _ in versions(round_.returns, round_.corrections):
        if 100 * blank >= 3 * voters or 100 * null >= 3 * voters:
            assert 1000 * max(blank, null) >= 32 * voters, (
                "a warning must be clear-cut, not a rounding matter"
            )
            flagged.add(bureau)
        else:
            assert 1000 * max(blank, null) <= ORDINARY_SPOILT_PER_MILLE * voters
    assert 5 <= len(flagged) <= 15, len(flagged)
    assert not flagged & {correction.bureau for correction in round_.corrections}


def check_round1(round_: RoundData) -> None:
    returns = round_.returns
    assert int(returns.voters.sum()) == ROUND1_VOTERS
    assert int(returns.blank.sum()) == ROUND1_BLANK and int(returns.null.sum()) == ROUND1_NULL
    totals = dict(zip([cid for cid, _ in ROUND1_CANDIDATES], returns.votes.sum(axis=0).tolist(), strict=True))
    assert totals == ROUND1_VOTES
    assert (returns.voters >= 30).all() and (returns.voters <= 1500).all()
    assert returns.reported_at.min() >= seconds("19:05") and returns.reported_at.max() <= seconds("23:30")


def check_round2_night(round_: RoundData) -> None:
    """The figures announced during the night, to the unit and to the hundredth of a percent."""
    returns, corrections = round_.returns, round_.corrections
    first = figures_at(returns, corrections, seconds("20:30"))
    assert first == {
        "bureaux": ROUND2_NIGHT[0].bureaux,
        "voters": FIRST_VOTERS,
        "blank": FIRST_BLANK,
        "null": FIRST_NULL,
        "valid": FIRST_VOTERS - FIRST_BLANK - FIRST_NULL,
        "hamon": FIRST_HAMON,
        "valls": FIRST_VOTERS - FIRST_BLANK - FIRST_NULL - FIRST_HAMON,
    }, first
    for window in ROUND2_NIGHT:
        figures = figures_at(returns, corrections, seconds(window.ends_at))
        hamon, valls, valid = figures["hamon"], figures["valls"], figures["valid"]
        assert not is_rounding_tie(hamon, valid) and not is_rounding_tie(valls, valid)
        expected = (window.hamon_hundredths / 100, (10_000 - window.hamon_hundredths) / 100)
        assert (percent(hamon, valid), percent(valls, valid)) == expected, window
    final = figures_at(returns, corrections, seconds("23:59"))
    assert final["bureaux"] == len(returns.voters) and 2_000_000 <= final["voters"] < 2_100_000
    assert returns.reported_at.min() >= seconds("19:00") and returns.reported_at.max() <= seconds("23:30")
    for correction in corrections:
        assert returns.reported_at[correction.bureau] < seconds("20:30") < correction.reported_at
        assert versions(returns, [])[correction.bureau][1:] != versions(returns, [correction])[-1][1:]


def check_round2_voters(round1: Returns, round2: RoundData) -> None:
    """Every version stays within a factor 3 of round 1, with a margin (no voters_jump warning)."""
    low, high = ROUND2_RATIO_RANGE
    for bureau, voters, *_ in versions(round2.returns, round2.corrections):
        assert low * round1.voters[bureau] <= voters <= high * round1.voters[bureau]


def check_checkpoints(round_: RoundData) -> None:
    """12:00 ≤ 17:00 ≤ the round's votants (each version), and checkpoints come in after their hour."""
    morning, evening = round_.checkpoints
    final = final_voters(round_.returns, round_.corrections)
    both = morning.reported & evening.reported
    assert (morning.voters[both] <= evening.voters[both]).all()
    assert (morning.voters[morning.reported] <= final[morning.reported]).all()
    assert (evening.voters[evening.reported] <= final[evening.reported]).all()
    for checkpoint in (morning, evening):
        delay = checkpoint.reported_at - seconds(checkpoint.time)
        assert delay.min() >= 60 and delay.max() <= 45 * 60


def check_17h(round1: RoundData, round2: RoundData) -> None:
    """1,306,852 voters on 5,406 bureaux at 17:00; +22.8 % on the bureaux that reported 17:00 both times."""
    evening1, evening2 = round1.checkpoints[1], round2.checkpoints[1]
    assert int(evening2.reported.sum()) == ROUND2_17H_BUREAUX
    assert int(evening2.voters[evening2.reported].sum()) == ROUND2_17H_VOTERS
    assert 0.85 * len(evening1.reported) <= int(evening1.reported.sum())
    matched = evening1.reported & evening2.reported
    voters1, voters2 = int(evening1.voters[matched].sum()), int(evening2.voters[matched].sum())
    assert change(voters2, voters1, places=1) == ROUND2_17H_CHANGE_PER_MILLE / 10


def check_election(election: DemoElection) -> None:
    round1, round2 = election.rounds
    check_bureaux(election.bureaux)
    assert len(election.reporting) == BUREAUX_ANNOUNCED - BUREAUX_MERGED
    for round_ in election.rounds:
        check_counts(round_)
        check_warnings(round_)
        check_checkpoints(round_)
    check_round1(round1)
    check_round2_night(round2)
    check_round2_voters(round1.returns, round2)
    check_17h(round1, round2)


# --- Files --------------------------------------------------------------------------------------------------


def timestamp(date: str, at: int) -> str:
    return f"{date}T{at // 3600:02d}:{at // 60 % 60:02d}:{at % 60:02d}{UTC_OFFSET}"


def note(seed: int) -> str:
    return (
        "National figures are the published ones: the final totals of round 1; for round 2 the 17:00 "
        "turnout and the results announced at 20:30, 21:17, 21:42 and 22:19. The bureaux, the per-bureau "
        "split and the final round-2 counts are synthetic, generated by "
        f"data/primaire-gauche-2017/generate.py (seed {seed})."
    )


def election_document(seed: int) -> dict[str, object]:
    return {
        "id": ELECTION_ID,
        "name": "Primaire citoyenne 2017",
        "organiser": "Haute autorité de la primaire",
        "levels": ["national", "region", "departement", "circonscription"],
        "note": note(seed),
        "rounds": [
            round_document(1, "2017-01-22", None, ROUND1_CANDIDATES),
            round_document(2, "2017-01-29", 1, ROUND2_CANDIDATES),
        ],
    }


def round_document(
    number: int, date: str, previous_round: int | None, candidates: tuple[tuple[str, str], ...]
) -> dict[str, object]:
    return {
        "number": number,
        "date": date,
        "previous_round": previous_round,
        "polls_close": f"{date}T19:00:00{UTC_OFFSET}",
        "candidates": [
            {"id": cid, "name": name, "ballot_order": order}
            for order, (cid, name) in enumerate(candidates, 1)
        ],
    }


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(safe_row(row) for row in rows)


def return_rows(round_: RoundData, codes: list[str]) -> list[list[object]]:
    returns = round_.returns
    counts = np.column_stack([returns.voters, returns.blank, returns.null, returns.valid, returns.votes])
    rows = [
        [codes[i], *counts[i].tolist(), timestamp(round_.date, int(returns.reported_at[i]))]
        for i in range(len(codes))
    ]
    return sorted(rows, key=lambda row: (row[-1], row[0]))


def correction_rows(round_: RoundData, codes: list[str]) -> list[list[object]]:
    rows = [
        [
            codes[c.bureau],
            c.voters,
            c.blank,
            c.null,
            c.valid,
            *c.votes,
            timestamp(round_.date, c.reported_at),
            c.reason,
        ]
        for c in round_.corrections
    ]
    return sorted(rows, key=lambda row: (row[-2], row[0]))


def turnout_rows(round_: RoundData, codes: list[str]) -> list[list[object]]:
    rows = [
        [
            codes[i],
            checkpoint.time,
            int(checkpoint.voters[i]),
            timestamp(round_.date, int(checkpoint.reported_at[i])),
        ]
        for checkpoint in round_.checkpoints
        for i in np.flatnonzero(checkpoint.reported).tolist()
    ]
    return sorted(rows, key=lambda row: (row[-1], row[0]))


def write_round(out_dir: Path, round_: RoundData, codes: list[str]) -> None:
    folder = out_dir / f"round-{round_.number}"
    counts = ["bureau", "voters", "blank", "null", "valid", *(cid for cid, _ in round_.candidates)]
    write_csv(
        folder / "turnout.csv", ["bureau", "time", "voters", "reported_at"], turnout_rows(round_, codes)
    )
    write_csv(folder / "returns.csv", [*counts, "reported_at"], return_rows(round_, codes))
    if round_.corrections:
        write_csv(
            folder / "corrections.csv", [*counts, "reported_at", "reason"], correction_rows(round_, codes)
        )


def write_election(out_dir: Path, seed: int = DEFAULT_SEED) -> None:
    """Write the whole election folder (see docs/election-format.md), after checking every constraint."""
    election = build_election(seed)
    check_election(election)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "election.json").open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(json.dumps(election_document(seed), indent=2, ensure_ascii=False) + "\n")
    with (out_dir / "README.md").open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(README)
    write_csv(
        out_dir / "areas.csv",
        ["level", "code", "name", "parent_code"],
        [[area.level, area.code, area.name, area.parent_code or ""] for area in election.areas],
    )
    write_csv(
        out_dir / "bureaux.csv",
        ["code", "name", "area_code", "registered", "merged_into"],
        [
            [bureau.code, bureau.name, bureau.area_code, "", bureau.merged_into or ""]
            for bureau in election.bureaux
        ],
    )
    codes = [bureau.code for bureau in election.reporting]
    for round_ in election.rounds:
        write_round(out_dir, round_, codes)


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT_DIR
    write_election(out_dir)
    print(f"Wrote the demo election to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
