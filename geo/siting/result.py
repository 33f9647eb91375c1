"""The result of a siting model: :class:`SitingResult` (proposed sites, coverage before and
after, solver status) and its JSON / GeoJSON forms."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@dataclass
class SitingResult:
    """Proposed sites and the coverage they bring.

    Attributes
    ----------
    problem : "maximal_covering" or "set_covering".
    sites : GeoDataFrame (EPSG:4326), one row per proposed site, best first: ``site_id``
        (candidate id), ``rank`` (1 = largest gain; each next site adds the most given those
        before it), ``covered_gain`` (weight newly covered by this site given the existing
        facilities and the higher-ranked sites; the gains add up to ``covered_after -
        covered_before``), ``covered_gain_share`` (the gain as a share of the total weight),
        ``covered_alone`` (weight that only this site covers in the final plan), the
        candidate's own columns, ``geometry``.
    covered_before, covered_after : demand weight covered by the existing facilities alone /
        with the proposed sites (``weight_column`` units, e.g. people).
    total_weight : weight of all demand units.
    objective : objective value: weight newly covered (maximal covering) or number of new
        sites (set covering).
    proven_optimal : False when the solver stopped on the time limit with a feasible but
        unproven solution (see ``warnings``).
    solver : solver name ("highs", "cbc" or the class of a custom PuLP solver).
    time_s : wall time of model building and solving, seconds.
    message : one line for people.
    threshold : coverage threshold in the cost unit.
    warnings : anything the user should know (time-out, fewer sites than asked, ...).
    parameters : the inputs the result depends on (counts, add, target_share, cost label ...).
    demand_status : DataFrame indexed like the demand: ``weight``, ``covered_before``,
        ``covered_after`` (bool), ``new_site_rank`` (rank of the best-ranked proposed site
        covering a newly covered unit; 0 otherwise).
    """

    problem: str
    sites: Any
    covered_before: float
    covered_after: float
    total_weight: float
    objective: float
    proven_optimal: bool
    solver: str
    time_s: float
    message: str
    threshold: float
    warnings: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    demand_status: Any = None

    @property
    def share_before(self) -> float:
        """Covered share (0-1) of the total weight before the new sites."""
        return self.covered_before / self.total_weight if self.total_weight > 0 else math.nan

    @property
    def share_after(self) -> float:
        """Covered share (0-1) of the total weight with the new sites."""
        return self.covered_after / self.total_weight if self.total_weight > 0 else math.nan

    @property
    def n_sites(self) -> int:
        return len(self.sites)

    def summary(self) -> dict[str, Any]:
        """JSON-ready dict of everything but the geometries (sites as plain records)."""
        sites = pd.DataFrame(self.sites.drop(columns="geometry"))
        pts = self.sites.geometry
        sites["lon"] = pts.x.to_numpy() if len(pts) else []
        sites["lat"] = pts.y.to_numpy() if len(pts) else []
        return {
            "problem": self.problem, "threshold": self.threshold,
            "total_weight": self.total_weight,
            "covered_before": self.covered_before, "covered_after": self.covered_after,
            "share_before": self.share_before, "share_after": self.share_after,
            "n_sites": self.n_sites, "objective": self.objective,
            "proven_optimal": self.proven_optimal, "solver": self.solver,
            "time_s": self.time_s, "message": self.message, "warnings": list(self.warnings),
            "parameters": _jsonable(self.parameters),
            "sites": _jsonable(sites.to_dict(orient="records")),
        }

    def to_geojson(self, path: str | Path) -> Path:
        """Write the sites as a GeoJSON FeatureCollection (EPSG:4326) atomically.

        The coverage summary (without the site list) is a foreign member ``siting``.
        """
        from geo.io import write_json

        doc = json.loads(self.sites.to_json(na="null", drop_id=True, to_wgs84=True))
        doc["datum"] = "wgs84"  # declared, so the file can serve as a geo scenario
        summary = self.summary()
        summary.pop("sites")
        doc["siting"] = summary
        return write_json(path, _jsonable(doc))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if obj is None or isinstance(obj, (str, int)):
        return obj
    if pd.api.types.is_scalar(obj) and pd.isna(obj):
        return None
    return str(obj)
