"""Verdicts: compare a measured value with a claim's target.

Comparators (from the claim file's ``target.comparator``):

``>=`` / ``<=``
    met when the measured value is at least / at most the target.
``~``
    "about" the target, two-sided: met when the measured value lies within the target plus or
    minus a tolerance that suits the unit (:data:`ABOUT_TOLERANCE`): shares ± 2 percentage
    points (an absolute 0.02: "about 29 %" is 27-31 %, the precision a plan quotes a share to);
    other units ± 5 % of the target ("about 15.6 km" is 14.8-16.4 km). Outside the band on
    either side the claim is not met: 40 % is not "about 29 %".
``measure``
    the plan states no number: the claim is reported as a measurement and never gets met /
    not met (verdict ``measured``).
``eliminate``
    "no gaps left": met only when the measured gap (blind-spot share, count of uncovered
    places) is zero, up to ``eliminate_tolerance`` (default 0: any remaining blind spot counts).
``measure``
    the plan states no number (C03 「加快推进公园绿地服务半径消盲」): the value is a measurement
    with a trend, never judged: the verdict is :data:`MEASURED`. ``target.value`` then only
    names the end point the task points to (0 blind spots), not a target.

A value of ``None`` or NaN (nothing could be measured) is ``inconclusive``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

MET, NOT_MET, INCONCLUSIVE = "met", "not_met", "inconclusive"
#: The verdict of a claim without a number: a measurement, never met / not met.
MEASURED = "measured"
VERDICTS = (MET, NOT_MET, INCONCLUSIVE, MEASURED)
COMPARATORS = (">=", "<=", "~", "eliminate", "measure")
#: Tolerance of "~" per target unit: (kind, size); "absolute" in the unit, "relative" to the
#: target. Units not listed use ``"*"``.
ABOUT_TOLERANCE: dict[str, tuple[str, float]] = {"share": ("absolute", 0.02),
                                                 "*": ("relative", 0.05)}


def about_band(target_value: float, unit: str,
               tolerance: dict[str, tuple[str, float]] | None = None) -> tuple[float, float]:
    """The (low, high) band of "about ``target_value``" in ``unit`` (:data:`ABOUT_TOLERANCE`)."""
    tol = tolerance or ABOUT_TOLERANCE
    kind, size = tol.get(unit, tol["*"])
    half = size if kind == "absolute" else abs(target_value) * size
    return target_value - half, target_value + half
#: Comparator of a claim without a number: a measurement, not a pass/fail.
MEASURE = "measure"


def verdict(value: float | None, target_value: float, comparator: str, *, unit: str = "*",
            about_tolerance: dict[str, tuple[str, float]] | None = None,
            eliminate_tolerance: float = 0.0) -> str:
    """``"met"``, ``"not_met"``, ``"inconclusive"`` or ``"measured"`` for one measured value.

    ``unit`` selects the "~" tolerance (:func:`about_band`); ``eliminate_tolerance`` is
    absolute, in the measured value's unit.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return INCONCLUSIVE
    if comparator == "measure":
        return MEASURED
    if comparator == ">=":
        return MET if value >= target_value else NOT_MET
    if comparator == "<=":
        return MET if value <= target_value else NOT_MET
    if comparator == "~":
        low, high = about_band(target_value, unit, about_tolerance)
        return MET if low <= value <= high else NOT_MET
    if comparator == "eliminate":
        return MET if value <= eliminate_tolerance else NOT_MET
    raise ValueError(f"comparator {comparator!r} is not one of {', '.join(COMPARATORS)}")


def combine(base: str, variants: Iterable[str]) -> tuple[str, bool]:
    """Overall verdict and robustness from the base verdict and its sensitivity variants.

    When the variants include both ``met`` and ``not_met`` (the sensitivity range straddles
    the target) the overall verdict is ``inconclusive``. ``robust`` is true only when every
    variant gives the base verdict and that verdict is ``met`` or ``not_met``.
    """
    seen = [v for v in variants]
    if base == MEASURED:
        return MEASURED, False
    decided = {v for v in [base, *seen] if v not in (INCONCLUSIVE, MEASURED)}
    overall = INCONCLUSIVE if len(decided) > 1 else base
    robust = base != INCONCLUSIVE and all(v == base for v in seen)
    return overall, robust
