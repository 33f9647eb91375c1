"""Siting: where to add facilities so that more demand is covered within a threshold.

Two classic coverage models (Church & ReVelle 1974; Toregas et al. 1971), solved exactly as
integer programmes with PuLP and CBC (default; bundled with PuLP) or HiGHS:

- :func:`maximal_covering` (MCLP): choose ``add`` new sites among candidates to maximise the
  demand weight (population) covered, i.e. within ``threshold`` of at least one facility;
- :func:`set_covering` (LSCP): the fewest new sites that bring the covered share of demand
  weight to ``target_share`` (1.0 = every unit, solved as one set covering model; below 1,
  the smallest k whose maximal covering optimum reaches the target, found by bisection on k
  with exact MCLP solves, so the answer is also the most weight any k sites cover).

Existing facilities are fixed: demand they already cover counts as covered and is left out of
the choice, so they are never "re-chosen" and their coverage is never double counted.

Costs are a demand x candidate matrix in the threshold's unit: pass ``cost_matrix`` (dense
numpy array, or a scipy.sparse matrix whose stored entries are costs and whose missing entries
mean "beyond reach") or a ``cost_fn(demand, points, *, limit)`` returning one. Builders:
:func:`straight_line_costs` (metres), :func:`approximation_costs` (straight line x circuity,
optionally / speed: for when no network exists), :func:`network_costs` (scipy dijkstra from
every candidate node, ``limit``-bounded, sparse). Candidates come from
:func:`candidate_sites` (demand-cell centroids or network nodes, minus water and existing
facilities).

Why PuLP rather than ``spopt.locate.MCLP``/``LSCP``: spopt (which also uses PuLP) builds a
dense demand x candidate coverage matrix with Python loops, has no minimum-coverage-target
set covering, and raises on a solver time-out instead of returning the incumbent. The models
here are the same formulations on the sparse coverage pairs; tests check them against spopt,
brute force and hand-solved instances.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo import settings

# the cost builders live with the coverage layer; re-exported here for siting's callers
from geo.coverage.engines import CIRCUITY  # noqa: F401
from geo.coverage.pairs import (  # noqa: F401
    COST_UNITS,
    approximation_costs,
    network_costs,
    straight_line_costs,
)
from geo.errors import DataError, EmptyResultError, GeoError

log = logging.getLogger(__name__)

SOLVERS = ("highs", "cbc")


# --------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Candidates
# --------------------------------------------------------------------------------------------

def candidate_sites(source: Any, *, exclude: Any = None, min_distance_m: float = 0.0,
                    area: Any = None, spacing_m: float | None = None) -> Any:
    """Candidate points for new facilities.

    (Over 80 lines: one linear pipeline, points -> exclusions -> area -> thinning, most of
    it argument checks with their messages.)

    Parameters
    ----------
    source : a GeoDataFrame of demand cells (each cell's centroid, or a representative point
        when the centroid falls outside a clipped cell) or of points; or a projected
        networkx graph (its nodes; a ``node`` column keeps the node id).
    exclude : geometries where no site may go: a GeoDataFrame / GeoSeries / shapely geometry,
        or a list of them; an item may be a tuple ``(geometries, distance_m)`` to give it its
        own clearance. Typical: water polygons (clearance 0: inside water) and existing
        facility points (clearance ~ half a cell, so the cell holding a station is dropped).
    min_distance_m : default clearance, metres: candidates within this distance of an
        ``exclude`` geometry are dropped (0: inside or on it).
    area : optional Area or shapely polygon (EPSG:4326); candidates outside it are dropped.
    spacing_m : optional thinning (for dense network nodes): keep at most one candidate per
        ``spacing_m`` square of the metric grid, the one nearest the square's centre.

    Returns
    -------
    GeoDataFrame of points (EPSG:4326) with ``candidate_id`` (``cell_id`` when the source has
    one, ``node/<id>`` for graph nodes, else the index label) and the source's columns.
    """
    import geopandas as gpd
    import shapely

    from geo.coverage.result import metric_crs_of

    if hasattr(source, "nodes") and hasattr(source, "graph"):
        from geo.network import require_projected

        crs = require_projected(source, arg="source")
        nodes = list(source.nodes)
        if not nodes:
            raise EmptyResultError("source graph has no nodes: no candidate sites")
        xy = np.array([(source.nodes[n]["x"], source.nodes[n]["y"]) for n in nodes], float)
        node_col = np.empty(len(nodes), dtype=object)
        node_col[:] = nodes
        cand = gpd.GeoDataFrame({"candidate_id": [f"node/{n}" for n in nodes],
                                 "node": node_col}, geometry=shapely.points(xy), crs=crs)
    elif isinstance(source, gpd.GeoDataFrame):
        if source.crs is None:
            raise DataError("source has no CRS; set it (OSM data is EPSG:4326)")
        if len(source) == 0:
            raise EmptyResultError("source is empty: no candidate sites")
        crs = metric_crs_of(source)
        m = source.to_crs(crs)
        geom = m.geometry
        if not (geom.geom_type == "Point").all():
            cen = geom.centroid
            inside = cen.within(geom).to_numpy()
            geom = gpd.GeoSeries(np.where(inside, cen.values, geom.representative_point().values),
                                 index=m.index, crs=crs)
        cand = gpd.GeoDataFrame(pd.DataFrame(m.drop(columns=m.geometry.name)), geometry=geom.values,
                                crs=crs)
        if "candidate_id" not in cand.columns:
            ids = cand["cell_id"] if "cell_id" in cand.columns else cand.index
            cand.insert(0, "candidate_id", [str(i) for i in ids])
    else:
        raise DataError(f"source must be a GeoDataFrame of cells/points or a networkx graph, "
                        f"got {type(source).__name__}")
    n0 = len(cand)
    pts = np.asarray(cand.geometry.values, dtype=object)
    keep = np.ones(n0, dtype=bool)
    if area is not None:
        poly = getattr(area, "geometry", area)
        poly_m = gpd.GeoSeries([poly], crs=settings.geographic_crs).to_crs(crs).iloc[0]
        shapely.prepare(poly_m)
        keep &= shapely.covers(poly_m, pts)
    items = exclude if isinstance(exclude, list) else ([] if exclude is None else [exclude])
    for item in items:
        geoms, dist = (item if isinstance(item, tuple) else (item, min_distance_m))
        if not float(dist) >= 0:
            raise DataError(f"exclusion distance must be >= 0 metres, got {dist!r}")
        if isinstance(geoms, gpd.GeoDataFrame):
            geoms = geoms.geometry
        if not isinstance(geoms, gpd.GeoSeries):
            geoms = gpd.GeoSeries([geoms], crs=settings.geographic_crs)
        if geoms.crs is None:
            raise DataError("exclude geometries have no CRS; set it (OSM data is EPSG:4326)")
        if len(geoms) == 0:
            continue
        g = np.asarray(geoms.to_crs(crs).values, dtype=object)
        tree = shapely.STRtree(g)
        hit = tree.query(pts, predicate="dwithin", distance=float(dist))[0] if dist > 0 \
            else tree.query(pts, predicate="intersects")[0]
        keep[np.unique(hit)] = False
    cand = cand[keep]
    if spacing_m is not None and len(cand):
        if not float(spacing_m) > 0:
            raise DataError(f"spacing_m must be > 0 metres, got {spacing_m!r}")
        s = float(spacing_m)
        x, y = cand.geometry.x.to_numpy(), cand.geometry.y.to_numpy()
        gx, gy = np.floor(x / s), np.floor(y / s)
        off = np.hypot(x - (gx + 0.5) * s, y - (gy + 0.5) * s)
        order = np.lexsort((np.arange(len(cand)), off, gy, gx))
        first = np.r_[True, (gx[order][1:] != gx[order][:-1]) | (gy[order][1:] != gy[order][:-1])]
        cand = cand.iloc[np.sort(order[first])]
    log.info("candidate sites: %d of %d kept (area, exclusions, spacing)", len(cand), n0)
    return cand.to_crs(settings.geographic_crs)


# --------------------------------------------------------------------------------------------
# Problem preparation
# --------------------------------------------------------------------------------------------

@dataclass
class _Prep:
    weights: np.ndarray          # per demand unit
    before: np.ndarray           # bool, covered by existing facilities
    cover: Any                   # csr bool (demand x candidates): cost <= threshold
    total: float
    cost_label: str


def _check_threshold(threshold: Any) -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        t = math.nan
    if not (math.isfinite(t) and t > 0):
        raise DataError(f"threshold must be a finite number > 0 (in the cost unit), got "
                        f"{threshold!r}")
    return t


def _weights(demand: Any, weight_column: str | None) -> np.ndarray:
    if weight_column is None:
        return np.ones(len(demand))
    if weight_column not in demand.columns:
        raise DataError(f"demand has no weight column {weight_column!r} (weight_column); columns: "
                        f"{[c for c in demand.columns if c != 'geometry']}; pass "
                        f"weight_column=None to count demand units")
    w = pd.to_numeric(demand[weight_column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise DataError(f"demand[{weight_column!r}] must be finite and >= 0; {int(bad.sum())} "
                        f"row(s) are not (e.g. row {demand.index[np.flatnonzero(bad)[0]]!r})")
    return w


def _coverage_matrix(costs: Any, shape: tuple[int, int], threshold: float, what: str) -> Any:
    """Boolean sparse matrix of cost <= threshold from a dense or sparse cost matrix."""
    from scipy.sparse import csr_array, issparse

    if issparse(costs):
        if costs.shape != shape:
            raise DataError(f"{what} has shape {costs.shape}, expected {shape} (demand x "
                            f"{'candidates' if 'cand' in what else 'facilities'})")
        coo = costs.tocoo()
        data = np.asarray(coo.data, dtype=float)
        if (data < 0).any():
            raise DataError(f"{what} has negative costs; costs must be >= 0")
        ok = data <= threshold      # NaN compares False: not covered
        return csr_array((np.ones(int(ok.sum()), dtype=bool), (coo.row[ok], coo.col[ok])),
                         shape=shape)
    arr = np.asarray(costs, dtype=float)
    if arr.shape != shape:
        raise DataError(f"{what} has shape {arr.shape}, expected {shape} (demand rows x "
                        f"{'candidates' if 'cand' in what else 'facilities'})")
    if (arr < 0).any():
        raise DataError(f"{what} has negative costs; costs must be >= 0")
    if np.isnan(arr).any():
        log.warning("%s: %d NaN cost(s) treated as unreachable", what, int(np.isnan(arr).sum()))
    return csr_array(arr <= threshold)


def _existing_before(existing: Any, demand: Any, threshold: float,
                     cost_fn: Callable[..., Any] | None) -> np.ndarray:
    import geopandas as gpd

    n = len(demand)
    if existing is None:
        return np.zeros(n, dtype=bool)
    if isinstance(existing, gpd.GeoDataFrame):
        if len(existing) == 0:
            return np.zeros(n, dtype=bool)
        if cost_fn is None:
            raise DataError("existing is a GeoDataFrame of facilities but no cost_fn was given "
                            "to compute their costs; pass cost_fn=... or pass existing as the "
                            "per-demand cost to the nearest existing facility")
        cover = _coverage_matrix(cost_fn(demand, existing, limit=threshold), (n, len(existing)),
                                 threshold, "cost_fn(demand, existing)")
        return np.asarray(cover.sum(axis=1)).ravel() > 0
    cost = getattr(existing, "cost", existing)      # a geo.coverage CoverageResult
    arr = np.asarray(cost, dtype=float).ravel()
    if arr.shape != (n,):
        raise DataError(f"existing: expected a GeoDataFrame of facilities or {n} per-demand "
                        f"costs to the nearest existing facility, got shape {arr.shape}")
    return arr <= threshold


def _prepare(demand: Any, candidates: Any, existing: Any, threshold: float,
             cost_matrix: Any, cost_fn: Callable[..., Any] | None,
             weight_column: str | None) -> _Prep:
    import geopandas as gpd

    if not isinstance(demand, gpd.GeoDataFrame):
        raise DataError(f"demand must be a GeoDataFrame, got {type(demand).__name__}")
    if len(demand) == 0:
        raise EmptyResultError("demand is empty: nothing to cover")
    if not isinstance(candidates, gpd.GeoDataFrame):
        raise DataError(f"candidates must be a GeoDataFrame of points, got "
                        f"{type(candidates).__name__}")
    if len(candidates) == 0:
        raise EmptyResultError("candidates is empty: no site to choose; build them with "
                               "geo.siting.candidate_sites or relax the exclusions")
    w = _weights(demand, weight_column)
    shape = (len(demand), len(candidates))
    if cost_matrix is not None:
        costs, label = cost_matrix, "cost_matrix"
    elif cost_fn is not None:
        costs = cost_fn(demand, candidates, limit=threshold)
        label = getattr(cost_fn, "__name__", None) or getattr(getattr(cost_fn, "func", None),
                                                              "__name__", "cost_fn")
    else:
        raise DataError("pass cost_matrix (demand x candidates) or cost_fn, e.g. "
                        "functools.partial(geo.siting.approximation_costs, speed_kph=30, "
                        "unit='min')")
    cover = _coverage_matrix(costs, shape, threshold, "cost matrix (demand x candidates)")
    before = _existing_before(existing, demand, threshold, cost_fn)
    return _Prep(w, before, cover, float(w.sum()), label)


# --------------------------------------------------------------------------------------------
# Solving
# --------------------------------------------------------------------------------------------

def _solver(solver: Any, time_limit_s: float) -> tuple[Any, str]:
    import pulp

    if isinstance(solver, pulp.LpSolver):
        return solver, type(solver).__name__
    if solver == "highs":
        if not pulp.HiGHS().available():
            raise GeoError("solver 'highs' needs the highspy package: pip install highspy, or "
                           "pass solver='cbc'")
        return pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=0.0), "highs"
    if solver == "cbc":
        import warnings

        with warnings.catch_warnings():   # PuLP 3.3 deprecates its bundled CBC for 4.0
            warnings.simplefilter("ignore", DeprecationWarning)
            return pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s, gapRel=0.0), "cbc"
    raise DataError(f"solver must be one of {SOLVERS} or a pulp solver, got {solver!r}")


def _run(prob: Any, solver: Any, name: str, what: str) -> bool:
    """Solve; return True when proven optimal, False for a time-limited incumbent."""
    import pulp

    try:
        prob.solve(solver)
    except pulp.PulpSolverError as exc:
        raise GeoError(f"{what}: solver {name} failed: {exc}") from None
    if prob.sol_status == pulp.LpSolutionOptimal:
        return True
    if prob.sol_status == pulp.LpSolutionIntegerFeasible:
        return False
    if prob.sol_status == pulp.LpSolutionInfeasible:
        raise EmptyResultError(f"{what}: the solver ({name}) found the problem infeasible")
    raise GeoError(f"{what}: solver {name} found no solution (status "
                   f"{pulp.LpStatus.get(prob.status)}, solution "
                   f"{pulp.LpSolution.get(prob.sol_status)}); raise time_limit_s or shrink the "
                   f"problem (fewer candidates: candidate_sites(spacing_m=...))")


def _columns(cover: Any) -> list[np.ndarray]:
    csc = cover.tocsc()
    return [csc.indices[csc.indptr[j]:csc.indptr[j + 1]] for j in range(cover.shape[1])]


def _mclp(rows: Any, w: np.ndarray, add: int, solver: Any, name: str,
          what: str) -> tuple[np.ndarray, bool]:
    """Max sum w_i y_i s.t. y_i <= sum_{j covers i} x_j, sum x_j <= add; x binary.

    ``rows``: csr bool (units x candidates). Returns chosen candidate columns, optimality.
    """
    import pulp

    n_u, n_c = rows.shape
    prob = pulp.LpProblem("mclp", pulp.LpMaximize)
    x = [prob.add_variable(f"x{j}", cat="Binary") for j in range(n_c)]
    y = [prob.add_variable(f"y{i}", lowBound=0, upBound=1) for i in range(n_u)]
    prob += pulp.LpAffineExpression(zip(y, w.tolist(), strict=True))
    for i in range(n_u):
        cols = rows.indices[rows.indptr[i]:rows.indptr[i + 1]]
        prob += pulp.LpAffineExpression([(x[j], 1) for j in cols] + [(y[i], -1)]) >= 0
    prob += pulp.LpAffineExpression([(v, 1) for v in x]) <= add
    opt = _run(prob, solver, name, what)
    chosen = np.array([j for j in range(n_c) if (x[j].varValue or 0) > 0.5], dtype=np.int64)
    return chosen, opt


def _lscp(rows: Any, solver: Any, name: str, what: str) -> tuple[np.ndarray, bool]:
    """Min sum x_j s.t. every unit (row) has a chosen covering candidate; x binary."""
    import pulp

    n_u, n_c = rows.shape
    prob = pulp.LpProblem("lscp", pulp.LpMinimize)
    x = [prob.add_variable(f"x{j}", cat="Binary") for j in range(n_c)]
    prob += pulp.LpAffineExpression([(v, 1) for v in x])
    for i in range(n_u):
        cols = rows.indices[rows.indptr[i]:rows.indptr[i + 1]]
        prob += pulp.LpAffineExpression([(x[j], 1) for j in cols]) >= 1
    opt = _run(prob, solver, name, what)
    chosen = np.array([j for j in range(n_c) if (x[j].varValue or 0) > 0.5], dtype=np.int64)
    return chosen, opt


def _reduce(prep: _Prep) -> tuple[np.ndarray, np.ndarray, Any]:
    """Units that matter (not yet covered, weight > 0, coverable) and candidates covering any.

    Returns (unit rows, candidate columns, csr bool sub-matrix).
    """
    cover = prep.cover
    reach = np.diff(cover.indptr) > 0
    units = np.flatnonzero(~prep.before & (prep.weights > 0) & reach)
    sub = cover[units]
    cols = np.flatnonzero(np.diff(sub.tocsc().indptr) > 0)
    return units, cols, sub[:, cols].tocsr()


def _greedy(cols: list[np.ndarray], w: np.ndarray, covered: np.ndarray, pool: Iterable[int],
            need: float | None = None) -> tuple[list[int], list[float], np.ndarray]:
    """Order ``pool`` columns by marginal gain (lazy greedy: coverage gains only shrink as
    sites are added, so a site whose refreshed gain still tops every other site's stale bound
    is the best next one). Stops once the gains reach ``need``. ``covered`` is updated in
    place. Returns the order, the gains and per unit the rank of its first covering site."""
    import heapq

    order: list[int] = []
    gains: list[float] = []
    first_rank = np.zeros(len(w), dtype=np.int64)
    heap = [(-float(w[cols[j][~covered[cols[j]]]].sum()), int(j)) for j in pool]
    heapq.heapify(heap)
    total = 0.0
    while heap and (need is None or total < need):
        _, j = heapq.heappop(heap)
        new = cols[j][~covered[cols[j]]]
        g = float(w[new].sum())
        if heap and g < -heap[0][0]:
            heapq.heappush(heap, (-g, j))
            continue
        first_rank[new] = len(order) + 1
        covered[new] = True
        order.append(j)
        gains.append(g)
        total += g
    return order, gains, first_rank


def _order_sites(prep: _Prep, chosen: np.ndarray) -> tuple[list[int], list[float], list[float],
                                                             np.ndarray]:
    """Greedy order of the chosen candidate columns by marginal gain; per-site gains, weight
    only each covers, and per demand unit the rank of the first covering site (0: none)."""
    cols = _columns(prep.cover)
    w = prep.weights
    order, gains, first_rank = _greedy(cols, w, prep.before.copy(), chosen)
    counts = prep.before.astype(np.int64)
    for j in order:
        counts[cols[j]] += 1
    alone = [float(w[cols[j][counts[cols[j]] == 1]].sum()) for j in order]
    return order, gains, alone, first_rank


def _result(problem: str, prep: _Prep, demand: Any, candidates: Any, chosen: np.ndarray,
            threshold: float, proven: bool, solver_name: str, t0: float,
            objective: float | None,
            warnings: list[str], params: dict[str, Any], message: str | None = None
            ) -> SitingResult:
    # 13 parameters: everything one solve produced, assembled into its result in one place
    import geopandas as gpd

    order, gains, alone, first_rank = _order_sites(prep, chosen)
    useless = [j for j, g in zip(order, gains, strict=True) if g <= 0]
    if useless and problem == "maximal_covering":
        keep = [g > 0 for g in gains]
        order = [j for j, k in zip(order, keep, strict=True) if k]
        alone = [a for a, k in zip(alone, keep, strict=True) if k]
        gains = [g for g in gains if g > 0]
    total = prep.total
    cand = candidates.iloc[order].to_crs(settings.geographic_crs)
    extra = pd.DataFrame(cand.drop(columns=cand.geometry.name)).reset_index(drop=True)
    ids = (extra["candidate_id"].astype(str).tolist() if "candidate_id" in extra.columns
           else [str(i) for i in cand.index])
    extra = extra.drop(columns=[c for c in ("candidate_id", "site_id", "rank", "covered_gain",
                                            "covered_gain_share", "covered_alone")
                                if c in extra.columns])
    base = pd.DataFrame({
        "site_id": pd.Series(ids, dtype=object),
        "rank": np.arange(1, len(order) + 1, dtype=np.int64),
        "covered_gain": np.asarray(gains, dtype=float),
        "covered_gain_share": np.asarray(gains, dtype=float) / total if total > 0 else np.nan,
        "covered_alone": np.asarray(alone, dtype=float),
    })
    sites = gpd.GeoDataFrame(pd.concat([base, extra], axis=1), geometry=cand.geometry.values,
                             crs=settings.geographic_crs)
    after = prep.before.copy()
    cols = _columns(prep.cover)
    for j in order:
        after[cols[j]] = True
    status = pd.DataFrame({"weight": prep.weights, "covered_before": prep.before,
                           "covered_after": after,
                           "new_site_rank": np.where(after & ~prep.before, first_rank, 0)},
                          index=demand.index)
    cb = float(prep.weights[prep.before].sum())
    ca = float(prep.weights[after].sum())
    if objective is None:   # maximal covering: the weight newly covered
        objective = ca - cb
    if useless and problem == "maximal_covering":
        warnings.append(f"only {len(order)} of the {params.get('add')} sites asked for add "
                        f"coverage; more sites would cover nothing more within the threshold")
    if not proven:
        warnings.append("the solver stopped at the time limit: the sites are the best found, "
                        "not proven optimal; raise time_limit_s for a proof")
    if message is None:
        share = (lambda v: f"{v / total:.1%}") if total > 0 else (lambda v: "n/a")
        message = (f"{len(order)} new site(s): covered weight {cb:,.0f} ({share(cb)}) -> "
                   f"{ca:,.0f} ({share(ca)}) within {threshold:g}"
                   + ("" if proven else " (not proven optimal)"))
    for wmsg in warnings:
        log.warning("%s", wmsg)
    return SitingResult(problem=problem, sites=sites, covered_before=cb, covered_after=ca,
                        total_weight=total, objective=float(objective), proven_optimal=proven,
                        solver=solver_name, time_s=time.perf_counter() - t0, message=message,
                        threshold=threshold, warnings=warnings, parameters=params,
                        demand_status=status)


def _params(prep: _Prep, demand: Any, candidates: Any, **kw: Any) -> dict[str, Any]:
    reach = np.diff(prep.cover.indptr) > 0
    unc = ~prep.before & ~reach & (prep.weights > 0)
    return {**kw, "cost": prep.cost_label, "n_demand": len(demand),
            "n_candidates": len(candidates), "n_pairs_within_threshold": int(prep.cover.nnz),
            "n_uncoverable": int(unc.sum()),
            "uncoverable_weight": float(prep.weights[unc].sum())}


def maximal_covering(demand: Any, candidates: Any, *, existing: Any = None, add: int,
                     threshold: float, cost_matrix: Any = None,
                     cost_fn: Callable[..., Any] | None = None,
                     weight_column: str | None = "population", time_limit_s: float = 60.0,
                     solver: Any = "cbc") -> SitingResult:
    """Choose up to ``add`` new sites maximising the demand weight covered (MCLP).

    (10 keyword parameters, as spopt's MCLP: the model's inputs and the solver's settings.)

    Parameters
    ----------
    demand : GeoDataFrame of demand units (cells or points) with ``weight_column``.
    candidates : GeoDataFrame of candidate points (e.g. :func:`candidate_sites`).
    existing : fixed facilities: None; a GeoDataFrame of points (costed with ``cost_fn``); a
        1-D array / Series of each demand unit's cost to its nearest existing facility (same
        unit as ``threshold``, inf = none); or a ``geo.coverage.CoverageResult``.
    add : number of new sites (>= 1). Fewer are returned, with a warning, when more would not
        add coverage.
    threshold : a unit is covered when its cost <= ``threshold`` (cost unit: metres, seconds,
        minutes, as the costs).
    cost_matrix : demand x candidates costs (numpy, or scipy.sparse with only reachable pairs).
    cost_fn : ``cost_fn(demand, points, *, limit)`` -> such a matrix (see the builders).
    weight_column : demand column to maximise (None: count units).
    time_limit_s : solver time limit, seconds; on time-out the best solution found is
        returned with ``proven_optimal=False`` and a warning.
    solver : "cbc" (default; CBC ships with PuLP), "highs" (highspy), or a pulp solver
        instance. On the Tongzhou fire-station instance (4,205 units x 4,298 candidates) CBC
        proved optimality in 1-3 s where HiGHS 1.x took 10-40 s, hence the default.
    """
    t0 = time.perf_counter()
    threshold = _check_threshold(threshold)
    if isinstance(add, bool) or not isinstance(add, (int, np.integer)) or add < 1:
        raise DataError(f"add must be an integer >= 1 (new sites), got {add!r}")
    if not (isinstance(time_limit_s, (int, float)) and time_limit_s > 0):
        raise DataError(f"time_limit_s must be > 0 seconds, got {time_limit_s!r}")
    slv, name = _solver(solver, float(time_limit_s))
    prep = _prepare(demand, candidates, existing, threshold, cost_matrix, cost_fn,
                    weight_column)
    params = _params(prep, demand, candidates, add=int(add), weight_column=weight_column,
                     time_limit_s=float(time_limit_s))
    units, cols, sub = _reduce(prep)
    if len(units) == 0:
        msg = ("nothing to gain: every demand unit with weight is already covered or out of "
               "reach of every candidate")
        return _result("maximal_covering", prep, demand, candidates, np.array([], np.int64),
                       threshold, True, name, t0, None, [msg], params, message=msg)
    log.info("maximal covering: %d units, %d useful candidates, %d pairs, add %d",
             len(units), len(cols), sub.nnz, add)
    chosen, proven = _mclp(sub, prep.weights[units], int(add), slv, name, "maximal covering")
    return _result("maximal_covering", prep, demand, candidates, cols[chosen], threshold,
                   proven, name, t0, None, [], params)


def set_covering(demand: Any, candidates: Any, *, existing: Any = None, threshold: float,
                 target_share: float = 1.0, cost_matrix: Any = None,
                 cost_fn: Callable[..., Any] | None = None,
                 weight_column: str | None = "population", time_limit_s: float = 60.0,
                 solver: Any = "cbc") -> SitingResult:
    """The fewest new sites bringing the covered share of demand weight to ``target_share``.

    (10 keyword parameters, as spopt's LSCP: the model's inputs and the solver's settings.)

    ``target_share=1.0`` is the classic set covering problem (every unit with weight > 0
    covered; units with weight 0 do not count). Below 1, the fewest sites whose coverage
    (with the existing facilities) reaches ``target_share`` of the total weight; among
    solutions with that many sites the one covering the most is returned.

    Infeasible targets are refused, not silently relaxed: when demand out of reach of every
    candidate (and not covered by existing facilities) makes the target unreachable, an
    :class:`~geo.errors.EmptyResultError` names how many units and how much weight are
    uncoverable and the largest reachable share (pass that as ``target_share``).

    Other parameters as :func:`maximal_covering`.
    """
    t0 = time.perf_counter()
    threshold = _check_threshold(threshold)
    try:
        target = float(target_share)
    except (TypeError, ValueError):
        target = math.nan
    if not 0.0 < target <= 1.0:
        raise DataError(f"target_share must be within (0, 1], got {target_share!r}")
    if not (isinstance(time_limit_s, (int, float)) and time_limit_s > 0):
        raise DataError(f"time_limit_s must be > 0 seconds, got {time_limit_s!r}")
    slv, name = _solver(solver, float(time_limit_s))
    prep = _prepare(demand, candidates, existing, threshold, cost_matrix, cost_fn,
                    weight_column)
    params = _params(prep, demand, candidates, target_share=target,
                     weight_column=weight_column, time_limit_s=float(time_limit_s))
    total = prep.total
    if total <= 0:
        raise EmptyResultError(f"demand[{weight_column!r}] sums to 0: no coverage share to "
                               f"reach")
    before = float(prep.weights[prep.before].sum())
    units, cols, sub = _reduce(prep)
    reachable = before + float(prep.weights[units].sum())
    tol = 1e-9 * total
    need = target * total - before
    if target * total > reachable + tol:
        n_unc, w_unc = params["n_uncoverable"], params["uncoverable_weight"]
        raise EmptyResultError(
            f"set covering: target_share={target:g} is infeasible: {n_unc} of {len(demand)} "
            f"demand units (weight {w_unc:,.0f}, {w_unc / total:.2%} of {total:,.0f}) are "
            f"beyond threshold {threshold:g} of every candidate and not covered by existing "
            f"facilities; at most {reachable / total:.4f} is reachable: pass "
            f"target_share<={math.floor(reachable / total * 1e4) / 1e4:.4f} or add candidates")
    if need <= tol:
        msg = (f"no new site needed: existing facilities already cover {before / total:.1%} >= "
               f"target {target:.1%}")
        return _result("set_covering", prep, demand, candidates, np.array([], np.int64),
                       threshold, True, name, t0, 0.0, [], params, message=msg)
    w_units = prep.weights[units]
    log.info("set covering: %d units, %d useful candidates, %d pairs, target %.4f",
             len(units), len(cols), sub.nnz, target)
    if target >= 1.0:
        chosen, proven = _lscp(sub, slv, name, "set covering")
    else:
        chosen, proven = _fewest_by_mclp(sub, w_units, need - tol, solver, slv, name,
                                         t0, float(time_limit_s))
    chosen = cols[chosen]
    return _result("set_covering", prep, demand, candidates, chosen, threshold, proven, name,
                   t0, float(len(chosen)), [], params)


def _fewest_by_mclp(sub: Any, w: np.ndarray, need: float, solver: Any, slv: Any, name: str,
                    t0: float, time_limit_s: float) -> tuple[np.ndarray, bool]:
    """Fewest sites covering at least ``need``: bisection on k with exact MCLP solves.

    MCLP's optimum never falls as k grows, so the smallest k whose optimum reaches ``need`` is
    the answer, and that solve is also the most weight any k sites cover. The greedy gives the
    upper end of the search (a feasible k); ``ceil(need / best single-site gain)`` the lower.
    (A direct min-sites model with a weighted coverage row solved far worse: CBC found no
    solution in 60 s on the Tongzhou instance.) Not proven when a solve hit the time limit.
    """
    cols = _columns(sub.tocsr())
    order, gains, _ = _greedy(cols, w, np.zeros(sub.shape[0], dtype=bool), range(sub.shape[1]),
                              need)
    lo_bound_gain = max(gains) if gains else 0.0
    hi = len(order)                                  # feasible: the greedy reaches need
    lo = max(1, math.ceil(need / lo_bound_gain)) if lo_bound_gain > 0 else hi
    lo = min(lo, hi)                                 # k sites cover at most k x best single
    best, best_k, best_opt = np.asarray(order, dtype=np.int64), -1, False
    unproven = False

    spent: list[float] = []   # wall seconds of each solve (model building included)

    def solve(k: int) -> tuple[np.ndarray, bool, float] | None:
        left = time_limit_s - (time.perf_counter() - t0)
        # a solve takes at least as long as the quickest so far (building and writing the
        # model is outside the solver's own limit): do not start one that must overrun
        if left < max(1.0, min(spent, default=0.0)):
            return None
        t1 = time.perf_counter()
        s2 = slv if not isinstance(solver, str) else _solver(solver, left)[0]
        chosen, opt = _mclp(sub, w, k, s2, name, f"set covering (k={k})")
        spent.append(time.perf_counter() - t1)
        return chosen, opt, float(w[np.asarray(sub[:, chosen].sum(axis=1)).ravel() > 0].sum())

    while lo < hi:
        mid = (lo + hi) // 2
        r = solve(mid)
        if r is None:
            return best, False
        if r[2] >= need:
            hi, best, best_k, best_opt = mid, r[0], mid, r[1]
        else:
            unproven = unproven or not r[1]   # a time-limited miss does not rule k out
            lo = mid + 1
    if best_k != hi:                          # most weight with hi sites
        r = solve(hi)
        if r is not None and r[2] >= need:
            best, best_opt = r[0], r[1]
        else:
            best_opt = False
    return best, best_opt and not unproven


def solve_series(demand: Any, candidates: Any, adds: Iterable[int], **kwargs: Any
                 ) -> list[SitingResult]:
    """:func:`maximal_covering` for each ``add`` in ``adds`` (e.g. range(1, 7)), same inputs.

    A cost matrix built once: pass ``cost_matrix`` or it is computed from ``cost_fn`` here.
    """
    threshold = _check_threshold(kwargs.get("threshold"))
    if kwargs.get("cost_matrix") is None and kwargs.get("cost_fn") is not None:
        kwargs["cost_matrix"] = kwargs["cost_fn"](demand, candidates, limit=threshold)
    return [maximal_covering(demand, candidates, add=int(a), **kwargs) for a in adds]
