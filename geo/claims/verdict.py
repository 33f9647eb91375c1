"""Verdicts: compare a measured value with a claim's target.

Comparators (from the claim file's ``target.comparator``):

``>=`` / ``<=``
    met when the measured value is at least / at most the target.
``~``
    "about" the target: met when the measured value reaches the target less a relative
    tolerance (default 5 %); a plan that says "about 29 %" is met by 28 % and by 40 %.
``measure``
    the plan states no number (issue 15): the claim is reported as a measurement and never
    gets met / not met (``inconclusive``; the evaluation says why).
``eliminate``
    "no gaps left": met only when the measured gap (blind-spot share, count of uncovered
    places) is zero, up to ``eliminate_tolerance`` (default 0: any remaining blind spot counts).

A value of ``None`` or NaN (nothing could be measured) is ``inconclusive``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

MET, NOT_MET, INCONCLUSIVE = "met", "not_met", "inconclusive"
COMPARATORS = (">=", "<=", "~", "eliminate", "measure")
#: Comparator of a claim without a number: a measurement, not a pass/fail.
MEASURE = "measure"


def verdict(value: float | None, target_value: float | None, comparator: str, *,
            about_tolerance: float = 0.05, eliminate_tolerance: float = 0.0) -> str:
    """``"met"``, ``"not_met"`` or ``"inconclusive"`` for one measured value.

    ``about_tolerance`` is relative (0.05 = 5 % of the target); ``eliminate_tolerance`` is
    absolute, in the measured value's unit.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return INCONCLUSIVE
    if comparator == "measure":
        return INCONCLUSIVE
    if comparator == ">=":
        return MET if value >= target_value else NOT_MET
    if comparator == "<=":
        return MET if value <= target_value else NOT_MET
    if comparator == "~":
        return MET if value >= target_value * (1.0 - about_tolerance) else NOT_MET
    if comparator == "eliminate":
        return MET if value <= eliminate_tolerance else NOT_MET
    raise ValueError(f"comparator {comparator!r} is not one of {', '.join(COMPARATORS)}")


def combine(base: str, variants: Iterable[str]) -> tuple[str, bool]:
    """Overall verdict and robustness from the base verdict and its sensitivity variants.

    When the variants include both ``met`` and ``not_met`` (the sensitivity range straddles
    the target) the overall verdict is ``inconclusive``. ``robust`` is true only when every
    variant gives the base verdict and that verdict is not ``inconclusive``.
    """
    seen = [v for v in variants]
    decided = {v for v in [base, *seen] if v != INCONCLUSIVE}
    overall = INCONCLUSIVE if len(decided) > 1 else base
    robust = base != INCONCLUSIVE and all(v == base for v in seen)
    return overall, robust
