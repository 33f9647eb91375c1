"""The two coverage models, solved with PuLP (CBC or HiGHS): :func:`maximal_covering`,
:func:`set_covering` and :func:`solve_series`; see :mod:`geo.siting`."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from geo import settings
from geo.errors import DataError, EmptyResultError, GeoError
from geo.siting._problem import Prep, check_threshold, prepare
from geo.siting.result import SitingResult

log = logging.getLogger(__name__)

SOLVERS = ("highs", "cbc")


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


def coverage_columns(cover: Any) -> list[np.ndarray]:
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


def _reduce(prep: Prep) -> tuple[np.ndarray, np.ndarray, Any]:
    """Units that matter (not yet covered, weight > 0, coverable) and candidates covering any.

    Returns (unit rows, candidate columns, csr bool sub-matrix).
    """
    cover = prep.cover
    reach = np.diff(cover.indptr) > 0
    units = np.flatnonzero(~prep.before & (prep.weights > 0) & reach)
    sub = cover[units]
    cols = np.flatnonzero(np.diff(sub.tocsc().indptr) > 0)
    return units, cols, sub[:, cols].tocsr()


def greedy_order(cols: list[np.ndarray], w: np.ndarray, covered: np.ndarray, pool: Iterable[int],
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


def _order_sites(prep: Prep, chosen: np.ndarray) -> tuple[list[int], list[float], list[float],
                                                             np.ndarray]:
    """Greedy order of the chosen candidate columns by marginal gain; per-site gains, weight
    only each covers, and per demand unit the rank of the first covering site (0: none)."""
    cols = coverage_columns(prep.cover)
    w = prep.weights
    order, gains, first_rank = greedy_order(cols, w, prep.before.copy(), chosen)
    counts = prep.before.astype(np.int64)
    for j in order:
        counts[cols[j]] += 1
    alone = [float(w[cols[j][counts[cols[j]] == 1]].sum()) for j in order]
    return order, gains, alone, first_rank


def _result(problem: str, prep: Prep, demand: Any, candidates: Any, chosen: np.ndarray,
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
    cols = coverage_columns(prep.cover)
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


def _params(prep: Prep, demand: Any, candidates: Any, **kw: Any) -> dict[str, Any]:
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
    threshold = check_threshold(threshold)
    if isinstance(add, bool) or not isinstance(add, (int, np.integer)) or add < 1:
        raise DataError(f"add must be an integer >= 1 (new sites), got {add!r}")
    if not (isinstance(time_limit_s, (int, float)) and time_limit_s > 0):
        raise DataError(f"time_limit_s must be > 0 seconds, got {time_limit_s!r}")
    slv, name = _solver(solver, float(time_limit_s))
    prep = prepare(demand, candidates, existing, threshold, cost_matrix, cost_fn,
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
    threshold = check_threshold(threshold)
    try:
        target = float(target_share)
    except (TypeError, ValueError):
        target = math.nan
    if not 0.0 < target <= 1.0:
        raise DataError(f"target_share must be within (0, 1], got {target_share!r}")
    if not (isinstance(time_limit_s, (int, float)) and time_limit_s > 0):
        raise DataError(f"time_limit_s must be > 0 seconds, got {time_limit_s!r}")
    slv, name = _solver(solver, float(time_limit_s))
    prep = prepare(demand, candidates, existing, threshold, cost_matrix, cost_fn,
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
    cols = coverage_columns(sub.tocsr())
    order, gains, _ = greedy_order(cols, w, np.zeros(sub.shape[0], dtype=bool), range(sub.shape[1]),
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
    threshold = check_threshold(kwargs.get("threshold"))
    if kwargs.get("cost_matrix") is None and kwargs.get("cost_fn") is not None:
        kwargs["cost_matrix"] = kwargs["cost_fn"](demand, candidates, limit=threshold)
    return [maximal_covering(demand, candidates, add=int(a), **kwargs) for a in adds]
