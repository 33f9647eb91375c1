"""What would close the gap: new sites for a coverage claim (``geo site``).

For a claim measured per demand cell (C01 stations, C03 parks, C04 fire stations), the
existing facilities' per-cell costs come from the claim's own evaluation, candidates are cell
centres (network nodes when a network exists) minus water and existing sites, and
:mod:`geo.siting` chooses sites exactly (maximal covering for ``add``, set covering for
``target_share``), with the same cost model as the evaluation (network, straight line or
approximation) so before/after figures match the verdict's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from geo.claims.context import StudyContext
from geo.claims.evaluate import measure_claim
from geo.claims.registry import Claim
from geo.coverage import CIRCUITY
from geo.errors import GeoError

log = logging.getLogger(__name__)

#: Metrics that siting can serve.
SITEABLE = ("share_within_distance", "drive_time_share", "park_blind_spots")
#: Clearance between a candidate and an existing facility, metres (about half a 500 m cell).
EXISTING_CLEARANCE_M = 250.0


def _shift(matrix: Any, minutes: float) -> Any:
    """Add a constant to the stored (reachable) entries of a sparse cost matrix."""
    m = matrix.copy()
    m.data = m.data + minutes
    return m


def _cost_model(ctx: StudyContext, claim: Claim, radius_m: float | None
                ) -> tuple[Callable[..., Any], float, str]:
    """(cost_fn(demand, points, *, limit), threshold, unit) matching the claim's evaluation."""
    from geo import siting

    p = dict(claim.parameters)
    if claim.metric == "share_within_distance":
        G = ctx.graph("walk") if p["mode"] == "walk" else None
        threshold = float(p["threshold_m"])
        if G is not None:
            return (lambda d, pts, *, limit: siting.network_costs(
                G, d, pts, limit=limit, weight="length", reverse=True)), threshold, "m"
        return siting.straight_line_costs, threshold, "m"
    if claim.metric == "park_blind_spots":
        if radius_m is None:
            radius_m = float(min(t["radius_m"] for t in p["tiers"]))
        G = ctx.graph("walk") if p.get("mode") == "walk" else None
        if G is not None:  # the evaluation walked to the parks: so must the new ones
            return (lambda d, pts, *, limit: siting.network_costs(
                G, d, pts, limit=limit, weight="length", reverse=True)), float(radius_m), "m"
        return siting.straight_line_costs, float(radius_m), "m"
    # drive_time_share: total minutes = turnout + drive minutes
    from geo.claims.metrics import _profile, _with_speeds

    turnout = float(p.get("turnout_min", 0.0))
    threshold = float(p["threshold_min"])
    prof = _profile(p)
    G = ctx.graph("drive")
    if G is not None:
        Gp = ctx.memo(("graph-speed", p["speed_profile"], prof.speed_factor),
                      lambda: _with_speeds(ctx.graph("drive"), prof))
        reverse = p["direction"] == "to_facility"

        def net(d: Any, pts: Any, *, limit: float) -> Any:
            m = siting.network_costs(Gp, d, pts, limit=(limit - turnout) * 60.0,
                                     weight="travel_time", reverse=reverse)
            m = m.copy()
            m.data = m.data / 60.0 + turnout
            return m

        return net, threshold, "min"
    speed = prof.default_kph * prof.speed_factor

    def approx(d: Any, pts: Any, *, limit: float) -> Any:
        return _shift(siting.approximation_costs(d, pts, limit=limit - turnout,
                                                 circuity=CIRCUITY, speed_kph=speed,
                                                 unit="min"), turnout)

    return approx, threshold, "min"


def close_gap(ctx: StudyContext, claim: Claim, *, add: int | None = None,
              target_share: float | None = None, radius_m: float | None = None,
              time_limit_s: float = 60.0, solver: str = "cbc") -> tuple[Any, dict[str, Any]]:
    """Propose new sites for ``claim``: ``add`` of them (maximal covering) or the fewest that
    reach ``target_share`` of the demand (set covering).

    ``radius_m`` (C03 only): service radius of a new park; default: the smallest tier's
    radius (a pocket park). Returns the :class:`geo.siting.SitingResult` and a dict naming
    the cost model (method, unit, threshold, weight) for the output.
    """
    from geo import siting

    if claim.metric not in SITEABLE:
        raise GeoError(f"claim {claim.id} ({claim.metric}) is not a coverage claim; siting "
                       f"serves {', '.join(SITEABLE)}")
    if (add is None) == (target_share is None):
        raise GeoError("give exactly one of --add N (best N new sites) or --target SHARE "
                       "(fewest sites reaching that share)")
    base = measure_claim(ctx, claim)
    if base.value is None or base.layers is None or base.layers.cells is None:
        raise GeoError(f"claim {claim.id} cannot be measured here, so no sites can be "
                       f"proposed: {base.reason}")
    cells = base.layers.cells
    p = dict(claim.parameters)
    cost_fn, threshold, unit = _cost_model(ctx, claim, radius_m)
    if claim.metric == "park_blind_spots":
        existing = np.asarray(cells["gap_m"], dtype=float) + threshold   # covered iff gap <= 0
        weight = "area_m2" if p.get("denominator") == "area" else "population"
    else:
        existing = np.asarray(cells[base.layers.cost_column], dtype=float)
        weight = "area_m2" if p.get("denominator") == "area" else "population"
    fac = base.layers.facilities
    G = ctx.graph("walk" if claim.metric != "drive_time_share" else "drive")
    exclude = [(ctx.osm.layer("water_a"), 0.0)]
    if fac is not None and len(fac):
        exclude.append((fac, EXISTING_CLEARANCE_M))
    if G is not None:
        cands = siting.candidate_sites(G, exclude=exclude, area=ctx.area,
                                       spacing_m=ctx.cell_size_m)
    else:
        cands = siting.candidate_sites(cells, exclude=exclude, area=ctx.area)
    kw = {"existing": existing, "threshold": threshold, "cost_fn": cost_fn,
          "weight_column": weight, "time_limit_s": time_limit_s, "solver": solver}
    if add is not None:
        result = siting.maximal_covering(cells, cands, add=int(add), **kw)
    else:
        result = siting.set_covering(cells, cands, target_share=float(target_share), **kw)
    # make the sites a valid scenario file (geo evaluate --scenario): kind, name, datum
    kind = "park" if claim.metric == "park_blind_spots" else str(p["facility_kind"])
    result.sites["kind"] = kind
    result.sites["name"] = [f"proposed {kind} {claim.id}-{r}" for r in result.sites["rank"]]
    if kind == "park":  # a new park of the size whose radius was used
        tiers = [t for t in p["tiers"] if float(t["radius_m"]) >= threshold] or list(p["tiers"])
        result.sites["area_ha"] = float(min(float(t["min_area_ha"]) for t in tiers))
    model = {"claim": claim.id, "method": base.method, "unit": unit, "threshold": threshold,
             "weight": weight, "candidates": len(cands),
             "candidate_source": "network nodes" if G is not None else "cell centres",
             "cell_size_m": ctx.cell_size_m}
    if claim.metric == "park_blind_spots":
        model["new_park_radius_m"] = threshold
    if claim.metric == "drive_time_share":
        model["turnout_min"] = float(p.get("turnout_min", 0.0))
        if base.method == "approximation":
            model["circuity"] = CIRCUITY
    return result, model
