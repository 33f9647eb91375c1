"""The claim-file contract of a metric: its parameters, their types, and the target unit.

Each metric (:mod:`geo.claims.metrics`) carries its :class:`MetricSpec`; the claim registry
validates claim files against it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Param:
    """One metric parameter: its type (``number``, ``int``, ``str``, ``bool``, ``list[str]``,
    ``regex``, ``tiers``), allowed values for strings, and a one-line meaning with its unit."""

    type: str
    doc: str
    choices: tuple[str, ...] = ()
    #: Largest accepted value of a number (documented range [0, max]); a larger one is refused
    #: when the claim file loads (``threshold_m = 1e300`` would otherwise run for hours).
    max: float = math.inf


@dataclass(frozen=True)
class MetricSpec:
    """A metric key's contract: required and optional parameters and the target unit."""

    doc: str
    unit: str
    required: Mapping[str, Param]
    optional: Mapping[str, Param] = field(default_factory=dict)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return (*self.required, *self.optional)


