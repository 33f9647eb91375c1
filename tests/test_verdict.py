"""Verdict rules on hand-picked values."""

import math

import pytest

from geo.claims.verdict import combine, verdict


@pytest.mark.parametrize(
    ("value", "target", "comparator", "expected"),
    [
        (0.30, 0.29, ">=", "met"),
        (0.28, 0.29, ">=", "not_met"),
        (0.28, 0.29, "~", "met"),  # within 2 percentage points of 0.29 (0.27-0.31)
        (0.265, 0.29, "~", "not_met"),
        (0.30, 0.29, "~", "met"),
        (0.40, 0.29, "~", "not_met"),  # two-sided: 40 % is not "about 29 %"
        (3.0, 5.0, "<=", "met"),
        (6.0, 5.0, "<=", "not_met"),
        (0.0, 0.0, "eliminate", "met"),
        (0.001, 0.0, "eliminate", "not_met"),
        (None, 1.0, ">=", "inconclusive"),
        (math.nan, 1.0, ">=", "inconclusive"),
    ],
)
def test_verdict(value, target, comparator, expected):
    assert verdict(value, target, comparator, unit="share") == expected


@pytest.mark.parametrize(("value", "expected"), [(14.0, "not_met"), (14.9, "met"),
                                                 (16.3, "met"), (27.7, "not_met")])
def test_about_km_is_relative_and_two_sided(value, expected):
    # about 15.6 km: +-5 % = 14.82-16.38 km; both tracks of a line (27.7 km) are not "about"
    assert verdict(value, 15.6, "~", unit="km") == expected


def test_measure_comparator_never_judges():
    assert verdict(0.4, 0.0, "measure", unit="share") == "measured"
    assert verdict(None, 0.0, "measure", unit="share") == "inconclusive"
    assert combine("measured", ["measured"]) == ("measured", False)


def test_unknown_comparator():
    with pytest.raises(ValueError, match="comparator"):
        verdict(1.0, 1.0, "==")


def test_combine_straddle_is_inconclusive_and_not_robust():
    assert combine("met", ["met", "not_met"]) == ("inconclusive", False)


def test_combine_all_agree_is_robust():
    assert combine("not_met", ["not_met", "not_met"]) == ("not_met", True)


def test_combine_inconclusive_variant_breaks_robustness_only():
    assert combine("met", ["met", "inconclusive"]) == ("met", False)


def test_combine_inconclusive_base_never_robust():
    assert combine("inconclusive", []) == ("inconclusive", False)
