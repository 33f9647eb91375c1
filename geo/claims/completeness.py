"""OSM completeness of a coverage verdict: could unmapped facilities change it?

A coverage share measured on OSM's facilities is a lower bound when OSM misses facilities
(Tongzhou: 7 fire stations mapped, 4 opened in October 2022 are not). For a coverage claim
below its target (``>=`` or the low side of ``~``) :func:`coverage_completeness` asks: would
``PLAUSIBLE_FACTOR`` x (facilities mapped inside the area) extra facilities, placed where they
help most, lift the share to the target? That many missing from OSM is *plausible* (OSM maps
at least a third of them); more is not.

It answers with the siting engine's own pieces (:mod:`geo.siting`: candidates are cell centres
thinned to :data:`CANDIDATE_SPACING_M`, costs the evaluation's own cost model):

- the greedy order (``geo.siting``'s lazy greedy) gives an upper bound ``extra_at_most`` on the
  fewest extra sites reaching the target; if it is within the plausible limit the answer is
  yes (proven: some plausible set of sites reaches the target), so the verdict is not robust;
- otherwise the linear-programming relaxation of maximal covering with the plausible number of
  sites (scipy HiGHS) bounds what any such set can reach; below the target the answer is no
  (proven), the verdict is robust to OSM's incompleteness;
- between the two the test is undecided and the verdict is not called robust.

(The exact integer solve, ``geo.siting.set_covering`` with ``target_share``, is minutes on a
whole district; these two bounds settle the question in seconds and say which one did.)

A verdict above the target is not tested: facilities OSM misses can only raise coverage.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from geo.claims.context import StudyContext
from geo.claims.metrics import Measure
from geo.claims.registry import Claim
from geo.claims.verdict import NOT_MET, about_band
from geo.errors import GeoError

log = logging.getLogger(__name__)

#: Extra facilities up to this multiple of the mapped count are a plausible OSM gap.
PLAUSIBLE_FACTOR = 2.0
#: Spacing of the candidate sites of the test, metres (a whole district in seconds; the bounds
#: hold for sites on this lattice).
CANDIDATE_SPACING_M = 1000.0


def _needed_share(claim: Claim) -> float | None:
    t = claim.target
    if t.value is None:         # a 'measure' claim has no number to reach
        return None
    if t.comparator == ">=":
        return float(t.value)
    if t.comparator == "~":
        return about_band(float(t.value), t.unit)[0]
    return None


def merge_equal_rows(cover: Any, w: np.ndarray) -> tuple[Any, np.ndarray]:
    """Demand rows with the same covering sites merged into one (weights summed) and rows no
    site covers dropped: the maximal-covering LP below has the same optimum on the result
    (merged rows share one optimal ``y``), with a fraction of the rows on a district's grid."""
    from scipy.sparse import csr_array

    cover = csr_array(cover, dtype=float)
    cover.sort_indices()
    index: dict[bytes, int] = {}
    group = np.empty(cover.shape[0], dtype=np.int64)
    ind, ptr = cover.indices, cover.indptr
    for i in range(cover.shape[0]):
        group[i] = index.setdefault(ind[ptr[i]:ptr[i + 1]].tobytes(), len(index))
    first = np.full(len(index), -1, dtype=np.int64)
    first[group[::-1]] = np.arange(cover.shape[0])[::-1]
    merged, weights = cover[first], np.bincount(group, weights=w, minlength=len(index))
    keep = np.diff(merged.indptr) > 0
    return merged[keep], weights[keep]


def lp_bound(cover: Any, w: np.ndarray, k: int) -> float:
    """Upper bound on the weight ``k`` sites can cover (LP relaxation of maximal covering):
    max w.y s.t. y_i <= sum_j cover_ij x_j, sum x <= k, 0 <= x, y <= 1 (solved on
    :func:`merge_equal_rows` of the rows)."""
    cover, w = merge_equal_rows(cover, np.asarray(w, dtype=float))
    return lp_bound_exact(cover, w, k)


def lp_bound_exact(cover: Any, w: np.ndarray, k: int) -> float:
    """:func:`lp_bound` on the rows as given (the reference the merged solve is tested
    against)."""
    from scipy.optimize import linprog
    from scipy.sparse import csr_array, hstack, identity, vstack

    n, m = cover.shape
    if n == 0:
        return 0.0
    c = np.concatenate([np.zeros(m), -w])
    a1 = hstack([-csr_array(cover, dtype=float), identity(n, format="csr")])   # y - Cx <= 0
    a2 = csr_array(np.concatenate([np.ones(m), np.zeros(n)])[None, :])
    res = linprog(c, A_ub=vstack([a1, a2]).tocsr(), b_ub=np.r_[np.zeros(n), float(k)],
                  bounds=(0.0, 1.0), method="highs")
    if res.status != 0:
        raise GeoError(f"LP bound failed: {res.message}")
    return float(-res.fun)


def coverage_completeness(ctx: StudyContext, claim: Claim, base: Measure, verdict: str
                          ) -> dict[str, Any] | None:
    """The completeness test of one coverage claim (module docstring), or None when it does not
    apply (not a coverage claim, not below its target, nothing measured).

    Returns ``{"target_share", "mapped_inside", "plausible_limit", "extra_at_most",
    "share_bound_with_limit", "plausible" (True / False / None undecided), "method",
    "not_robust"}``.
    """
    from geo import siting
    from geo.claims.gap import EXISTING_CLEARANCE_M, SITEABLE
    from geo.claims.metrics import REGISTRY, select_facilities

    metric = REGISTRY[claim.metric]
    need = _needed_share(claim)
    if (claim.metric not in SITEABLE or metric.lower_is_better or need is None
            or base.value is None or verdict != NOT_MET or base.value >= need
            or claim.target.unit != "share" or base.layers is None
            or base.layers.cells is None):
        return None
    p = claim.params
    mapped = len(select_facilities(ctx, p, coverage=False))
    limit = int(PLAUSIBLE_FACTOR * mapped)
    out: dict[str, Any] = {"target_share": round(need, 4), "mapped_inside": mapped,
                           "plausible_limit": limit}
    cells = base.layers.cells
    sm = metric.siting(ctx, p)
    if sm is None:              # the metric cannot be sited here: nothing to test
        return None
    exclude = [(ctx.osm.layer("water_a"), 0.0)]
    fac = base.layers.facilities
    if fac is not None and len(fac):
        exclude.append((fac, EXISTING_CLEARANCE_M))
    try:
        cands = siting.candidate_sites(cells, exclude=exclude, area=ctx.area,
                                       spacing_m=max(CANDIDATE_SPACING_M, ctx.cell_size_m))
        prep = siting.prepare(cells, cands, sm.existing(cells), sm.threshold, None,
                               sm.cost_fn, sm.weight_column)
    except GeoError as exc:
        out.update(plausible=None, method="not run", why=str(exc).splitlines()[0][:300])
        out["not_robust"] = "the completeness test could not run: " + out["why"]
        return out
    w, covered = prep.weights, prep.before.copy()
    need_w = need * prep.total - float(w[covered].sum())
    cols = siting.coverage_columns(prep.cover)
    order, gains, _ = siting.greedy_order(cols, w, covered, range(len(cols)), need=need_w)
    reached = sum(gains) >= need_w - 1e-9
    out["extra_at_most"] = len(order) if reached else None
    out["candidates"] = len(cands)
    kind = getattr(p, "facility_kind", "facility")
    if reached and len(order) <= limit:
        out["plausible"] = True
        out["method"] = "greedy siting (an upper bound on the fewest extra sites)"
    else:
        uncovered = (~prep.before) & (w > 0)
        bound_w = lp_bound(prep.cover[uncovered], w[uncovered], limit) if limit > 0 else 0.0
        bound = (float(w[prep.before].sum()) + bound_w) / prep.total
        out["share_bound_with_limit"] = round(bound, 4)
        out["plausible"] = None if bound >= need else False
        out["method"] = ("greedy siting, then the LP relaxation of maximal covering with "
                         f"{limit} extra sites (an upper bound on the share they can reach)")
    if out["plausible"]:
        out["not_robust"] = (f"{out['extra_at_most']} more {kind} facilities (OSM maps {mapped} "
                             f"inside) would lift the share to {need:.3g}; OSM missing that "
                             f"many is plausible (at most {PLAUSIBLE_FACTOR:g} x the mapped "
                             "count)")
    elif out["plausible"] is None:
        out["not_robust"] = (f"undecided whether {limit} more {kind} facilities (a plausible "
                             f"OSM gap) would lift the share to {need:.3g}")
    return out
