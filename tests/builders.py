"""A small named sample election shared by the tests, and builders that take shorthand."""

from __future__ import annotations

from datetime import UTC, date, datetime

from tabulator.types import Area, Bureau, Candidate, Election, Return, Round

ROUND_1_CANDIDATES = (
    Candidate("montebourg", "Arnaud Montebourg", 1),
    Candidate("hamon", "Benoît Hamon", 4),
    Candidate("valls", "Manuel Valls", 7),
)
ROUND_2_CANDIDATES = (Candidate("hamon", "Benoît Hamon", 1), Candidate("valls", "Manuel Valls", 2))

# A miniature of the 2017 left primary: two départements, three circonscriptions, seven bureaux,
# one of them merged into its neighbour.
SAMPLE = Election(
    id="mini-primaire",
    name="Primaire miniature",
    organiser="Haute autorité (tests)",
    levels=("national", "region", "departement", "circonscription"),
    rounds=(
        Round(1, date(2017, 1, 22), ROUND_1_CANDIDATES),
        Round(2, date(2017, 1, 29), ROUND_2_CANDIDATES, previous_round=1),
    ),
)
AREAS = (
    Area("national", "FR", "France", None),
    Area("region", "11", "Île-de-France", "FR"),
    Area("region", "93", "Provence-Alpes-Côte d'Azur", "FR"),
    Area("departement", "75", "Paris", "11"),
    Area("departement", "13", "Bouches-du-Rhône", "93"),
    Area("circonscription", "75-01", "1re circonscription de Paris", "75"),
    Area("circonscription", "75-02", "2e circonscription de Paris", "75"),
    Area("circonscription", "13-01", "1re circonscription des Bouches-du-Rhône", "13"),
)
BUREAUX = (
    Bureau("75-01-0001", "Bureau 1", "75-01"),
    Bureau("75-01-0002", "Bureau 2", "75-01"),
    Bureau("75-01-0003", "Bureau 3", "75-01", merged_into="75-01-0002"),
    Bureau("75-02-0001", "Bureau 1", "75-02"),
    Bureau("13-01-0001", "Bureau 1", "13-01"),
    Bureau("13-01-0002", "Bureau 2", "13-01"),
    Bureau("13-01-0003", "Bureau 3", "13-01"),
)
REPORTING = tuple(b.code for b in BUREAUX if b.merged_into is None)
EVENING = datetime(2017, 1, 29, 19, 0, tzinfo=UTC)


def build_return(
    bureau: str,
    *,
    votes: dict[str, int],
    blank: int = 0,
    null: int = 0,
    voters: int | None = None,
    valid: int | None = None,
    registered: int | None = None,
    reported_at: datetime | None = EVENING,
) -> Return:
    """A return whose omitted totals are made consistent with the votes given."""
    valid = sum(votes.values()) if valid is None else valid
    voters = blank + null + valid if voters is None else voters
    return Return(bureau, voters, blank, null, valid, votes, registered, reported_at)
