"""Verdict rules on hand-picked values."""

import math

import pytest

from geo.claims.verdict import combine, verdict


@pytest.mark.parametrize(
    ("value", "target", "comparator", "expected"),
    [
        (0.30, 0.29, ">=", "met"),
        (0.28, 0.29, ">=", "not_met"),
        (0.28, 0.29, "~", "met"),  # within 5 % of 0.29 (0.2755)
        (0.27, 0.29, "~", "not_met"),
        (0.40, 0.29, "~", "met"),
        (3.0, 5.0, "<=", "met"),
        (6.0, 5.0, "<=", "not_met"),
        (0.0, 0.0, "eliminate", "met"),
        (0.001, 0.0, "eliminate", "not_met"),
        (None, 1.0, ">=", "inconclusive"),
        (math.nan, 1.0, ">=", "inconclusive"),
    ],
)
def test_verdict(value, target, comparator, expected):
    assert verdict(value, target, comparator) == expected


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
