from tabulator.metrics import change, percent


def test_percent_rounds_half_away_from_zero_on_the_exact_fraction():
    # Fillon, right-wing primary round 2 (REFERENCE §2): 66.48510… % is not a tie and rounds down.
    assert percent(2_919_874, 4_391_772) == 66.49
    assert percent(1, 8) == 12.5
    assert percent(1, 800) == 0.13  # 0.125 exactly: a true tie goes up
    assert percent(635_395, 1_083_368) == 58.65
    assert percent(1, 3, places=1) == 33.3


def test_percent_of_nothing_is_none():
    assert percent(0, 0) is None


def test_change_keeps_its_sign_and_rounds_once():
    assert change(1_306_852, 1_064_212, places=1) == 22.8
    assert change(80, 100) == -20.0
    assert change(1, 800) == -99.88
    assert change(5, 0) is None
