"""What an evaluation returns: per-claim results and their JSON form (the stable contract).

JSON contract (the JSON of ``geo evaluate``, ``report/claims.json``)::

    {"area": {...}, "data": {"osm_data_date", "population_source", "network_source",
     "layers_missing"}, "parameters": {...},
     "claims": [{"id", "title_zh", "title_en", "quote", "source": {"document", "line"},
                 "target": {"value", "comparator", "unit", "year"},
                 "measured": {"value", "unit", "method", "denominator"},
                 "verdict", "robust", "sensitivity": [{"parameter", "value", "measured",
                 "verdict"}], "breakdown": [{"name", "measured"}], "notes": [...]}]}

Shares are fractions in [0, 1] with unit ``"share"``. Keys beyond these may be added
(``base_verdict``, ``binding``, ``metric``, ``parameters``) but none is removed or renamed.

``verdict`` is ``met``, ``not_met``, ``inconclusive`` or ``measured`` (the plan sets no number:
a measurement with its variants and gap map, never met / not met; ``geo.claims.verdict``).
Added by issue 11: ``measured.extent`` ({name, area_km2, source}: what the share is over,
``geo.extent``), ``verdict_note`` (the verdict in words, e.g. "not met on the 2026-06-07 map,
target 2030"), ``target_year_pending`` (the target year is later than the OSM data),
``completeness`` (OSM completeness findings: ``lower_bound``, ``names`` found / not found,
``extra_facilities`` that would change the verdict, ``reference`` matches) and, in ``data``,
``population`` (method, total and how it was formed) and ``built_up`` (area_km2, source).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd

if TYPE_CHECKING:  # the registry imports the metrics, which import this module
    from geo.claims.registry import Claim


@dataclass
class ClaimLayers:
    """Geometry behind one claim's figure, for maps and GeoParquet (all EPSG:4326).

    ``cells`` holds the demand cells with ``cost_column`` (in ``cost_unit``) and the boolean
    ``covered_column``; ``facilities`` the facilities used (canonical columns);
    ``service_areas`` optional polygons reached within the threshold.
    """

    cells: gpd.GeoDataFrame | None = None
    cost_column: str | None = None
    cost_unit: str = "m"
    covered_column: str | None = None
    threshold: float | None = None
    #: What the cost column means, for legends (None: cost to the nearest facility).
    cost_label: str | None = None
    facilities: gpd.GeoDataFrame | None = None
    service_areas: gpd.GeoDataFrame | None = None


@dataclass
class ClaimResult:
    """One claim's evaluation."""

    claim: Claim
    value: float | None
    unit: str
    method: str | None
    denominator: str | None
    verdict: str
    base_verdict: str
    robust: bool
    sensitivity: list[dict[str, Any]] = field(default_factory=list)
    breakdown: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    layers: ClaimLayers | None = None
    #: The extent the share was measured over ({name, area_km2, source}), None for counts.
    extent: dict[str, Any] | None = None
    #: The verdict in words when it needs more than its value ("not met on the 2026-06-07
    #: map, target 2030"; "measured: the plan sets no number").
    verdict_note: str | None = None
    #: The target year is later than the OSM data: the verdict describes today's map.
    target_year_pending: bool = False
    #: OSM completeness: lower bounds, names found / not found, extra facilities that would
    #: change the verdict, a reference inventory's matches.
    completeness: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The claim's entry in the JSON contract."""
        c = self.claim.to_dict()
        return {
            "id": c["id"],
            "title_zh": c["title_zh"],
            "title_en": c["title_en"],
            "quote": c["quote"],
            "source": c["source"],
            "target": c["target"],
            "binding": c.get("binding"),
            "metric": c.get("metric"),
            "parameters": _clean(self.parameters),
            "measured": {"value": _num(self.value), "unit": self.unit, "method": self.method,
                         "denominator": self.denominator, "extent": _clean(self.extent)},
            "verdict": self.verdict,
            "verdict_note": self.verdict_note,
            "target_year_pending": bool(self.target_year_pending),
            "completeness": _clean(self.completeness),
            "base_verdict": self.base_verdict,
            "robust": bool(self.robust),
            "sensitivity": _clean(self.sensitivity),
            "breakdown": _clean(self.breakdown),
            "notes": list(self.notes),
        }


@dataclass
class AreaEvaluation:
    """Every claim evaluated for one area, with the data and parameters it rests on."""

    area: dict[str, Any]
    data: dict[str, Any]
    parameters: dict[str, Any]
    claims: list[ClaimResult]

    def to_dict(self) -> dict[str, Any]:
        """The whole JSON contract."""
        return {"area": _clean(self.area), "data": _clean(self.data),
                "parameters": _clean(self.parameters),
                "claims": [c.to_dict() for c in self.claims]}

    def claim(self, claim_id: str) -> ClaimResult:
        """The result for ``claim_id``."""
        for c in self.claims:
            if c.claim.id == claim_id:
                return c
        raise KeyError(claim_id)


def _num(x: Any) -> Any:
    """JSON-safe number: NaN and infinities become None, numpy scalars become Python ones."""
    if x is None:
        return None
    if hasattr(x, "item"):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _clean(obj: Any) -> Any:
    """Recursively make ``obj`` JSON-safe (tuples to lists, numpy to Python, NaN to None)."""
    if isinstance(obj, Mapping):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        return _num(obj)
    if isinstance(obj, float):
        return _num(obj)
    return obj
