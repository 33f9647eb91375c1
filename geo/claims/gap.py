"""What would close the gap: new sites for a coverage claim (``geo site``).

For a claim measured per demand cell (C01 stations, C03 parks, C04 fire stations), the
existing facilities' per-cell costs come from the claim's own evaluation, candidates are cell
centres (network nodes when a network exists) minus water and existing sites, and
:mod:`geo.siting` chooses sites exactly (maximal covering for ``add``, set covering for
``target_share``), with the same cost model as the evaluation (network, straight line or
approximation: the metric's :meth:`~geo.claims.metrics.Metric.siting`, built on
:mod:`geo.coverage`) so before/after figures match the verdict's.
"""

from __future__ import annotations

import logging
from typing import Any

from geo.claims.context import StudyContext
from geo.claims.evaluate import measure_claim
from geo.claims.metrics import REGISTRY, Metric
from geo.claims.registry import Claim
from geo.errors import GeoError

log = logging.getLogger(__name__)

#: Metrics that siting can serve (those whose metric object has a siting cost model).
SITEABLE = tuple(k for k, m in REGISTRY.items() if type(m).siting is not Metric.siting)
#: Clearance between a candidate and an existing facility, metres (about half a 500 m cell).
EXISTING_CLEARANCE_M = 250.0


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
        raise GeoError("give exactly one of add=N (best N new sites) or target_share=SHARE "
                       "(fewest sites reaching that share)")
    base = measure_claim(ctx, claim)
    if base.value is None or base.layers is None or base.layers.cells is None:
        raise GeoError(f"claim {claim.id} cannot be measured here, so no sites can be "
                       f"proposed: {base.reason}")
    cells = base.layers.cells
    sm = REGISTRY[claim.metric].siting(ctx, claim.params, radius_m=radius_m)
    assert sm is not None  # SITEABLE
    fac = base.layers.facilities
    G = ctx.graph(sm.network_type)   # a RoadNetwork (PBF) or a networkx graph
    exclude = [(ctx.osm.layer("water_a"), 0.0)]
    if fac is not None and len(fac):
        exclude.append((fac, EXISTING_CLEARANCE_M))
    if G is not None:
        cands = siting.candidate_sites(G, exclude=exclude, area=ctx.area,
                                       spacing_m=ctx.cell_size_m)
    else:
        cands = siting.candidate_sites(cells, exclude=exclude, area=ctx.area)
    kw: dict[str, Any] = {"existing": sm.existing(cells), "threshold": sm.threshold, "cost_fn": sm.cost_fn,
          "weight_column": sm.weight_column, "time_limit_s": time_limit_s, "solver": solver}
    if add is not None:
        result = siting.maximal_covering(cells, cands, add=int(add), **kw)
    else:
        assert target_share is not None  # exactly one of add / target_share (checked above)
        result = siting.set_covering(cells, cands, target_share=float(target_share), **kw)
    # make the sites a valid scenario file (geo evaluate --scenario): kind, name, datum
    result.sites["kind"] = sm.kind
    result.sites["name"] = [f"proposed {sm.kind} {claim.id}-{r}" for r in result.sites["rank"]]
    for col, value in sm.site_columns.items():
        result.sites[col] = value
    model = {"claim": claim.id, "method": base.method, "unit": sm.unit,
             "threshold": sm.threshold, "weight": sm.weight_column, "candidates": len(cands),
             "candidate_source": "network nodes" if G is not None else "cell centres",
             "cell_size_m": ctx.cell_size_m, **sm.model}
    return result, model
