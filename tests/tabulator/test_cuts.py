"""One set of bureaux cut two ways: whole communes in the administrative cut, circonscriptions in the
electoral one, each summed exactly."""

import numpy as np
import pytest

from tabulator.registry import Registry, RegistryError
from tabulator.types import Area, Bureau, Cut

LEVELS = ("national", "region", "departement", "commune")
ELECTORAL = Cut("electoral", ("departement", "circonscription"))
AREAS = (
    Area("national", "FR", "France", None),
    Area("region", "11", "Île-de-France", "FR"),
    Area("region", "93", "Provence-Alpes-Côte d'Azur", "FR"),
    Area("departement", "75", "Paris", "11"),
    Area("departement", "13", "Bouches-du-Rhône", "93"),
    Area("commune", "75056", "Paris", "75"),
    Area("commune", "13055", "Marseille", "13"),
    Area("commune", "13001", "Aix-en-Provence", "13"),
    Area("circonscription", "75-01", "1re circonscription", "75"),
    Area("circonscription", "75-02", "2e circonscription", "75"),
    Area("circonscription", "13-01", "1re circonscription", "13"),
)
BUREAUX = (
    Bureau("75056-0001", "Paris 1", "75056", cut_areas={"circonscription": "75-01"}),
    Bureau("75056-0002", "Paris 2", "75056", cut_areas={"circonscription": "75-02"}),
    Bureau("75056-0003", "Paris 3", "75056", cut_areas={"circonscription": "75-02"}),
    Bureau("13055-0001", "Marseille 1", "13055", cut_areas={"circonscription": "13-01"}),
    Bureau("13001-0001", "Aix 1", "13001", cut_areas={"circonscription": "13-01"}),
)
REGISTRY = Registry.build(LEVELS, AREAS, BUREAUX, [ELECTORAL])
VOTERS = np.array([[100], [200], [300], [40], [5]], np.int64)


def total(level: str, code: str, sums) -> int:
    return int(sums[REGISTRY.area_index[(level, code)], 0])


def test_a_commune_that_spans_circonscriptions_is_one_area_summed_whole():
    sums = REGISTRY.sum_up(np.arange(5), VOTERS)
    assert {(area.level, area.code): total(area.level, area.code, sums) for area in AREAS} == {
        ("national", "FR"): 645,
        ("region", "11"): 600,
        ("region", "93"): 45,
        ("departement", "75"): 600,
        ("departement", "13"): 45,
        ("commune", "75056"): 600,
        ("commune", "13055"): 40,
        ("commune", "13001"): 5,
        ("circonscription", "75-01"): 100,
        ("circonscription", "75-02"): 500,
        ("circonscription", "13-01"): 45,
    }


def test_summing_into_the_touched_areas_counts_each_area_once_in_every_cut():
    rows = np.array([1, 3])
    touched, totals = REGISTRY.sum_into_ancestors(rows, VOTERS[rows])
    assert dict(zip((REGISTRY.areas[a].code for a in touched), totals[:, 0].tolist(), strict=True)) == {
        "FR": 240,
        "11": 200,
        "93": 40,
        "75": 200,
        "13": 40,
        "75056": 200,
        "13055": 40,
        "75-02": 200,
        "13-01": 40,
    }
    everything = REGISTRY.sum_up(rows, VOTERS[rows])
    assert (everything[touched] == totals).all()
    assert not np.delete(everything, touched, axis=0).any()


def test_the_bureaux_of_areas_are_found_in_any_column_ascending():
    def codes(level: str, *areas: str) -> list[str]:
        positions = np.array([REGISTRY.area_index[(level, code)] for code in areas], np.int64)
        return [REGISTRY.bureaux[row].code for row in REGISTRY.bureaux_in(REGISTRY.column(level), positions)]

    assert codes("circonscription", "13-01", "75-01", "13-01") == ["75056-0001", "13055-0001", "13001-0001"]
    assert codes("commune", "13055") == ["13055-0001"]
    assert codes("departement", "75") == ["75056-0001", "75056-0002", "75056-0003"]
    assert codes("region") == []


def test_a_departement_lists_its_communes_and_apart_its_circonscriptions():
    paris = REGISTRY.area_index[("departement", "75")]
    codes = [REGISTRY.areas[a].code for a in REGISTRY.children[paris]]
    within = [REGISTRY.areas[a].code for a in REGISTRY.areas_within(paris, "circonscription")]
    assert (codes, within) == (["75056"], ["75-01", "75-02"])
    second = REGISTRY.area_index[("circonscription", "75-02")]
    assert [REGISTRY.bureaux[b].code for b in REGISTRY.children[second]] == ["75056-0002", "75056-0003"]
    assert [area.code for area in REGISTRY.chain("circonscription", "75-02")] == ["FR", "11", "75", "75-02"]
    assert REGISTRY.bureaux_total()[[second, REGISTRY.area_index[("commune", "75056")]]].tolist() == [2, 3]


def test_an_area_knows_its_child_areas_in_every_cut_and_its_parents_by_level():
    position = REGISTRY.area_index.__getitem__
    codes = lambda positions: [REGISTRY.areas[p].code for p in positions]  # noqa: E731

    assert codes(REGISTRY.child_areas(position(("departement", "13")))) == ["13055", "13001", "13-01"]
    assert codes(REGISTRY.child_areas(position(("region", "11")))) == ["75"]
    assert REGISTRY.child_areas(position(("commune", "75056"))) == ()
    assert REGISTRY.child_areas(position(("circonscription", "75-01"))) == ()
    # At any depth: the circonscriptions of a région; none across cuts.
    assert codes(REGISTRY.areas_within(position(("region", "11")), "circonscription")) == ["75-01", "75-02"]
    assert REGISTRY.areas_within(position(("circonscription", "75-01")), "commune") == ()
    assert codes(REGISTRY.at_level("commune")) == ["75056", "13055", "13001"]
    assert REGISTRY.levels_above("circonscription") == ("departement", "region", "national")
    assert [REGISTRY.holds_bureaux(level) for level in REGISTRY.columns] == [False, False, False, True, True]
    assert REGISTRY.parent_codes(position(("circonscription", "75-02"))) == {
        "departement": "75",
        "region": "11",
        "national": "FR",
    }


def test_a_bureau_whose_circonscription_lies_in_another_departement_is_refused():
    stray = Bureau("13001-0002", "Aix 2", "13001", cut_areas={"circonscription": "75-01"})
    with pytest.raises(RegistryError) as refused:
        Registry.build(LEVELS, AREAS, (*BUREAUX, stray), [ELECTORAL])
    assert str(refused.value) == (
        "bureau 13001-0002: its circonscription 75-01 lies in departement 75, the bureau in 13"
    )


@pytest.mark.parametrize(
    ("cuts", "message"),
    [
        ([Cut("electoral", ("departement",))], "cut 'electoral' has no level of its own"),
        (
            [Cut("twice", ("departement", "commune"))],
            "cut 'twice': level 'commune' belongs to another cut already",
        ),
    ],
)
def test_a_cut_must_bring_levels_of_its_own(cuts, message):
    with pytest.raises(RegistryError) as refused:
        Registry.build(LEVELS, AREAS, BUREAUX, cuts)
    assert str(refused.value) == message


def test_a_bureau_without_an_area_in_a_cut_is_refused():
    lost = Bureau("13001-0002", "Aix 2", "13001")
    with pytest.raises(RegistryError) as refused:
        Registry.build(LEVELS, AREAS, (*BUREAUX, lost), [ELECTORAL])
    assert str(refused.value) == "bureau 13001-0002: area '' is not a circonscription"
