"""Siting (maximal covering, set covering): hand-solved toy, brute force, spopt, real data."""

from __future__ import annotations

import functools
import itertools
import json

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pulp
import pytest
import shapely
from scipy.sparse import csr_array

from geo import siting
from geo.errors import DataError, EmptyResultError, GeoError

CRS = "EPSG:32650"
X0, Y0 = 500_000.0, 4_400_000.0   # a spot in Tongzhou's UTM zone


def frame(xs_km, ys_km=None, crs=CRS, **cols):
    xs = np.asarray(xs_km, float) * 1000 + X0
    ys = (np.zeros(len(xs)) if ys_km is None else np.asarray(ys_km, float) * 1000) + Y0
    return gpd.GeoDataFrame(cols, geometry=shapely.points(np.c_[xs, ys]), crs=crs).to_crs(4326)


# Toy instance, solved by hand. Demand on a line at x = 0..5 km with weights 10..60; candidates
# A(0) B(2) C(3.5) D(5); existing facility E at 0.5 km; threshold 1 km.
#   A covers 0,1   B covers 1,2,3   C covers 3,4   D covers 4,5   E covers 0,1 (weight 30)
# With E: uncovered 2,3,4,5 (30+40+50+60). Gains: A 0, B 70, C 90, D 110.
#   add=1 -> D (covered 30+110=140); add=2 -> B+D (210 = all); add=3 -> still B+D.
#   full cover -> {B, D}; target 0.5 (105) -> {D}; target 0.7 (147) -> 2 sites.
# Without E: add=1 -> D (110); full cover -> {A, B, D}.
DX = np.arange(6.0)
W = np.array([10, 20, 30, 40, 50, 60], float)
CX = np.array([0.0, 2.0, 3.5, 5.0])
EX = np.array([0.5])


@pytest.fixture
def toy():
    demand = frame(DX, population=W)
    cands = frame(CX, candidate_id=list("ABCD"))
    existing = frame(EX, name=["E"])
    cost = np.abs(DX[:, None] - CX[None, :])           # km
    ecost = np.abs(DX - EX[0])                          # km to E
    return demand, cands, existing, cost, ecost


def km_cost_fn(demand, points, *, limit=None):
    m = siting.straight_line_costs(demand, points, limit=None if limit is None else limit * 1000)
    return m / 1000.0


def test_mclp_toy_by_hand(toy):
    demand, cands, _existing, cost, ecost = toy
    r1 = siting.maximal_covering(demand, cands, existing=ecost, add=1, threshold=1.0,
                                 cost_matrix=cost)
    assert list(r1.sites.site_id) == ["D"]
    assert r1.covered_before == 30 and r1.covered_after == 140 and r1.objective == 110
    assert r1.share_after == pytest.approx(140 / 210) and r1.proven_optimal
    assert r1.sites.crs.to_epsg() == 4326
    assert r1.sites.iloc[0].geometry.equals_exact(cands.iloc[3].geometry, 1e-9)
    r2 = siting.maximal_covering(demand, cands, existing=ecost, add=2, threshold=1.0,
                                 cost_matrix=cost)
    assert list(r2.sites.site_id) == ["D", "B"]            # ranked by marginal gain
    assert list(r2.sites.covered_gain) == [110, 70] and list(r2.sites["rank"]) == [1, 2]
    assert list(r2.sites.covered_alone) == [110, 70]
    assert r2.covered_after == 210 and r2.share_after == 1.0
    st = r2.demand_status
    assert list(st.covered_before) == [True, True, False, False, False, False]
    assert list(st.new_site_rank) == [0, 0, 2, 2, 1, 1]
    r3 = siting.maximal_covering(demand, cands, existing=ecost, add=3, threshold=1.0,
                                 cost_matrix=cost)
    assert list(r3.sites.site_id) == ["D", "B"] and r3.covered_after == 210
    assert any("only 2 of the 3" in w for w in r3.warnings)


def test_existing_as_points_or_coverage_result(toy):
    demand, cands, existing, cost, _ecost = toy
    # geometry-derived costs: threshold 1.2 km keeps clear of the exact 1 km ties (same
    # coverage sets as worked out above, as the distances are multiples of 0.5 km)
    r = siting.maximal_covering(demand, cands, existing=existing, add=1, threshold=1.2,
                                cost_fn=km_cost_fn)
    assert list(r.sites.site_id) == ["D"] and r.covered_before == pytest.approx(30)
    from geo.coverage import straight_line_coverage

    cov = straight_line_coverage(demand, existing, threshold_m=1000)
    r2 = siting.maximal_covering(demand, cands, existing=cov.cost / 1000, add=1,
                                 threshold=1.0, cost_matrix=cost)
    assert r2.covered_before == pytest.approx(30) and list(r2.sites.site_id) == ["D"]


def test_existing_is_fixed_never_rechosen(toy):
    """A candidate at the existing facility's place adds nothing and is never proposed;
    without the existing facility the answer changes as worked out by hand."""
    demand, cands, _existing, cost, ecost = toy
    c2 = pd.concat([cands, frame(EX, candidate_id=["at-E"])], ignore_index=True)
    cost2 = np.abs(DX[:, None] - np.r_[CX, EX][None, :])
    for add in (1, 2, 3, 4):
        r = siting.maximal_covering(demand, c2, existing=ecost, add=add, threshold=1.0,
                                    cost_matrix=cost2)
        assert "at-E" not in set(r.sites.site_id) and "A" not in set(r.sites.site_id)
        assert r.covered_before == 30
    r0 = siting.maximal_covering(demand, cands, add=1, threshold=1.0, cost_matrix=cost)
    assert r0.covered_before == 0 and r0.covered_after == 110
    full = siting.set_covering(demand, cands, threshold=1.0, cost_matrix=cost)
    assert sorted(full.sites.site_id) == ["A", "B", "D"] and full.objective == 3


def test_lscp_toy_by_hand(toy):
    demand, cands, _existing, cost, ecost = toy
    r = siting.set_covering(demand, cands, existing=ecost, threshold=1.0, cost_matrix=cost)
    assert sorted(r.sites.site_id) == ["B", "D"] and r.objective == 2 and r.share_after == 1
    r5 = siting.set_covering(demand, cands, existing=ecost, threshold=1.0, cost_matrix=cost,
                             target_share=0.5)
    assert list(r5.sites.site_id) == ["D"] and r5.covered_after == 140
    r7 = siting.set_covering(demand, cands, existing=ecost, threshold=1.0, cost_matrix=cost,
                             target_share=0.7)
    assert r7.objective == 2 and r7.covered_after == 210   # stage 2: the most with 2 sites
    r1 = siting.set_covering(demand, cands, existing=ecost, threshold=1.0, cost_matrix=cost,
                             target_share=30 / 210)
    assert r1.n_sites == 0 and "no new site needed" in r1.message


def test_highs_and_cbc_agree(toy):
    demand, cands, _existing, cost, ecost = toy
    for solver in ("highs", "cbc"):
        r = siting.maximal_covering(demand, cands, existing=ecost, add=2, threshold=1.0,
                                    cost_matrix=cost, solver=solver)
        assert r.solver == solver and r.covered_after == 210


def test_infeasible_full_cover_names_the_uncoverable(toy):
    demand, cands, _existing, _cost, ecost = toy
    d = pd.concat([demand, frame([10.0], population=[5.0])], ignore_index=True)
    cost2 = np.abs(np.r_[DX, 10.0][:, None] - CX[None, :])
    with pytest.raises(EmptyResultError) as exc:
        siting.set_covering(d, cands, existing=np.r_[ecost, np.inf], threshold=1.0,
                            cost_matrix=cost2)
    msg = str(exc.value)
    assert "1 of 7 demand units" in msg and "weight 5" in msg and "target_share<=0.9767" in msg
    ok = siting.set_covering(d, cands, existing=np.r_[ecost, np.inf], threshold=1.0,
                             cost_matrix=cost2, target_share=0.9767)   # 210 / 215 = 0.97674
    assert sorted(ok.sites.site_id) == ["B", "D"]


def test_sparse_cost_matrix_keeps_explicit_zero(toy):
    demand, cands, _existing, cost, ecost = toy
    sp = csr_array((cost[cost <= 1.0], np.nonzero(cost <= 1.0)), shape=cost.shape)
    assert sp.nnz == int((cost <= 1).sum())     # zeros stored
    r = siting.maximal_covering(demand, cands, existing=ecost, add=2, threshold=1.0,
                                cost_matrix=sp)
    assert r.covered_after == 210


def random_instance(seed, n_d=14, n_c=8, n_e=2):
    rng = np.random.default_rng(seed)
    d = rng.uniform(0, 10, (n_d, 2))
    c = rng.uniform(0, 10, (n_c, 2))
    e = rng.uniform(0, 10, (n_e, 2))
    w = rng.integers(0, 100, n_d).astype(float)
    cost = np.hypot(*(d[:, None, :] - c[None, :, :]).transpose(2, 0, 1))
    ecost = np.hypot(*(d[:, None, :] - e[None, :, :]).transpose(2, 0, 1)).min(axis=1)
    demand = frame(d[:, 0], d[:, 1], population=w)
    cands = frame(c[:, 0], c[:, 1], candidate_id=[f"c{j}" for j in range(n_c)])
    return demand, cands, cost, ecost, w


def brute_best(cover, before, w, k):
    best = 0.0
    for combo in itertools.combinations(range(cover.shape[1]), k):
        cov = before | cover[:, list(combo)].any(axis=1)
        best = max(best, float(w[cov].sum()))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_against_brute_force(seed):
    demand, cands, cost, ecost, w = random_instance(seed)
    t = 3.0
    cover, before = cost <= t, ecost <= t
    prev = -1.0
    for add in (1, 2, 3, 4):
        r = siting.maximal_covering(demand, cands, existing=ecost, add=add, threshold=t,
                                    cost_matrix=cost)
        assert r.covered_after == pytest.approx(brute_best(cover, before, w, add))
        assert r.covered_after >= prev and r.proven_optimal
        assert r.sites.covered_gain.sum() == pytest.approx(r.covered_after - r.covered_before)
        assert (np.diff(r.sites.covered_gain) <= 1e-9).all()      # greedy order
        prev = r.covered_after
    # set covering: the smallest k whose best combination reaches the target
    reach = before | cover.any(axis=1)
    for target in (0.6, 0.9, 1.0):
        need = target * w.sum()
        if w[reach].sum() < need - 1e-9 or (target == 1.0 and not reach[w > 0].all()):
            with pytest.raises(EmptyResultError):
                siting.set_covering(demand, cands, existing=ecost, threshold=t,
                                    cost_matrix=cost, target_share=target)
            continue
        k = next(k for k in range(cover.shape[1] + 1)
                 if brute_best(cover, before, w, k) >= need - 1e-9)
        r = siting.set_covering(demand, cands, existing=ecost, threshold=t, cost_matrix=cost,
                                target_share=target)
        assert r.objective == k and r.covered_after >= need - 1e-9
        assert r.covered_after == pytest.approx(brute_best(cover, before, w, k))


def test_matches_spopt_mclp_with_predefined_facilities():
    """Reference: spopt's MCLP with the existing facilities as predefined candidates."""
    from spopt.locate import MCLP

    for seed in range(3):
        rng = np.random.default_rng(100 + seed)
        d = rng.uniform(0, 10, (30, 2))
        c = rng.uniform(0, 10, (12, 2))
        e = rng.uniform(0, 10, (2, 2))
        w = rng.integers(1, 50, 30).astype(float)
        allc = np.r_[c, e]
        cost = np.hypot(*(d[:, None, :] - allc[None, :, :]).transpose(2, 0, 1))
        for add in (1, 3):
            pre = np.r_[np.zeros(len(c)), np.ones(len(e))].astype(int)
            ref = MCLP.from_cost_matrix(cost, w, service_radius=2.5, p_facilities=add + 2,
                                        predefined_facilities_arr=pre)
            ref = ref.solve(pulp.HiGHS(msg=False))
            r = siting.maximal_covering(frame(d[:, 0], d[:, 1], population=w),
                                        frame(c[:, 0], c[:, 1]), existing=cost[:, len(c):]
                                        .min(axis=1), add=add, threshold=2.5,
                                        cost_matrix=cost[:, :len(c)])
            assert r.covered_after == pytest.approx(pulp.value(ref.problem.objective))


class _StoppedHiGHS(pulp.HiGHS):
    """HiGHS, then reported as stopped at the time limit with a feasible incumbent."""

    def actualSolve(self, lp, **kw):
        status = super().actualSolve(lp, **kw)
        lp.assignStatus(pulp.LpStatusOptimal, pulp.LpSolutionIntegerFeasible)
        return status


class _NoSolution(pulp.HiGHS):
    def actualSolve(self, lp, **kw):
        super().actualSolve(lp, **kw)
        lp.assignStatus(pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound)
        return pulp.LpStatusNotSolved


def test_time_out_reports_best_found_not_proven(toy):
    demand, cands, _existing, cost, ecost = toy
    r = siting.maximal_covering(demand, cands, existing=ecost, add=1, threshold=1.0,
                                cost_matrix=cost, solver=_StoppedHiGHS(msg=False))
    assert not r.proven_optimal and list(r.sites.site_id) == ["D"]
    assert any("time limit" in w for w in r.warnings) and "not proven optimal" in r.message
    r2 = siting.set_covering(demand, cands, existing=ecost, threshold=1.0, cost_matrix=cost,
                             solver=_StoppedHiGHS(msg=False))
    assert not r2.proven_optimal and r2.summary()["proven_optimal"] is False
    with pytest.raises(GeoError, match="time_limit_s"):
        siting.maximal_covering(demand, cands, existing=ecost, add=1, threshold=1.0,
                                cost_matrix=cost, solver=_NoSolution(msg=False))


def test_bad_inputs(toy):
    demand, cands, _existing, cost, ecost = toy
    kw = {"existing": ecost, "cost_matrix": cost}
    for bad in (0, -1, float("nan"), float("inf"), "x"):
        with pytest.raises(DataError, match="threshold"):
            siting.maximal_covering(demand, cands, add=1, threshold=bad, **kw)
    for bad in (0, -2, 1.5, True):
        with pytest.raises(DataError, match="add must be"):
            siting.maximal_covering(demand, cands, add=bad, threshold=1.0, **kw)
    with pytest.raises(EmptyResultError, match="candidates is empty"):
        siting.maximal_covering(demand, cands.iloc[:0], add=1, threshold=1.0,
                                existing=ecost, cost_matrix=cost[:, :0])
    with pytest.raises(EmptyResultError, match="demand is empty"):
        siting.set_covering(demand.iloc[:0], cands, threshold=1.0, cost_matrix=cost[:0])
    with pytest.raises(DataError, match="shape"):
        siting.maximal_covering(demand, cands, add=1, threshold=1.0, cost_matrix=cost[:, :2])
    with pytest.raises(DataError, match=r"cost_matrix \(demand x candidates\) or cost_fn"):
        siting.maximal_covering(demand, cands, add=1, threshold=1.0)
    with pytest.raises(DataError, match="weight column 'pop'"):
        siting.maximal_covering(demand, cands, add=1, threshold=1.0, cost_matrix=cost,
                                weight_column="pop")
    with pytest.raises(DataError, match="target_share"):
        siting.set_covering(demand, cands, threshold=1.0, cost_matrix=cost, target_share=1.5)
    with pytest.raises(DataError, match="solver"):
        siting.maximal_covering(demand, cands, add=1, threshold=1.0, cost_matrix=cost,
                                solver="gurobi")
    with pytest.raises(DataError, match="negative"):
        siting.maximal_covering(demand, cands, add=1, threshold=1.0, cost_matrix=-cost)
    neg = demand.assign(population=[1, 2, -3, 4, 5, 6])
    with pytest.raises(DataError, match="finite and >= 0"):
        siting.maximal_covering(neg, cands, add=1, threshold=1.0, cost_matrix=cost)
    with pytest.raises(DataError, match="existing"):
        siting.maximal_covering(demand, cands, add=1, threshold=1.0, cost_matrix=cost,
                                existing=np.zeros(3))


def test_to_geojson_atomic(toy, tmp_path):
    demand, cands, _existing, cost, ecost = toy
    r = siting.maximal_covering(demand, cands, existing=ecost, add=2, threshold=1.0,
                                cost_matrix=cost)
    out = r.to_geojson(tmp_path / "sub" / "sites.geojson")
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 2
    p = doc["features"][0]["properties"]
    assert p["site_id"] == "D" and p["rank"] == 1 and p["covered_gain"] == 110
    lon, lat = doc["features"][0]["geometry"]["coordinates"]
    assert 116 < lon < 118 and 39 < lat < 41
    assert doc["siting"]["covered_after"] == 210 and doc["siting"]["proven_optimal"] is True
    assert [f.name for f in out.parent.iterdir()] == ["sites.geojson"]   # no temp file left


# --------------------------------------------------------------------------------------------
# cost builders and candidates
# --------------------------------------------------------------------------------------------

def stored(m):
    coo = m.tocoo()
    return {(int(r), int(c)): float(v) for r, c, v in zip(coo.row, coo.col, coo.data,
                                                          strict=True)}


def test_straight_line_and_approximation_costs():
    d = frame([0.0, 1.0, 3.0])
    p = frame([0.0, 2.0])
    dense = siting.straight_line_costs(d, p)
    assert dense == pytest.approx(np.array([[0, 2000], [1000, 1000], [3000, 1000]]), abs=0.01)
    sp = siting.straight_line_costs(d, p, limit=1500)
    assert sp.nnz == 4 and sp[0, 0] == pytest.approx(0, abs=0.01)   # explicit zero kept
    # 1.3 x metres / (30 km/h = 500 m/min) -> minutes
    ap = siting.approximation_costs(d, p, circuity=1.3, speed_kph=30, unit="min", limit=4.0)
    assert stored(ap) == pytest.approx({(0, 0): 0.0, (1, 0): 2.6, (1, 1): 2.6, (2, 1): 2.6},
                                       abs=1e-4)
    ap_s = siting.approximation_costs(d, p, circuity=1.3, speed_kph=36, unit="s")
    assert ap_s[2, 0] == pytest.approx(3000 * 1.3 / 10, abs=1e-3)
    with pytest.raises(DataError, match="speed_kph"):
        siting.approximation_costs(d, p, unit="s")
    with pytest.raises(DataError, match="circuity"):
        siting.approximation_costs(d, p, circuity=0.5)


def grid_graph():
    """3 x 3 grid, 100 m spacing, two-way except a one-way 4 -> 5."""
    G = nx.MultiDiGraph(crs=CRS)
    for i in range(3):
        for j in range(3):
            G.add_node(i * 3 + j, x=X0 + j * 100.0, y=Y0 + i * 100.0)
    for i in range(3):
        for j in range(3):
            n = i * 3 + j
            for m in ([n + 1] if j < 2 else []) + ([n + 3] if i < 2 else []):
                G.add_edge(n, m, length=100.0)
                if (n, m) != (4, 5):
                    G.add_edge(m, n, length=100.0)
    return G


# demand points on the grid: (x, y, u, v, metres along u->v, off-network leg in metres)
GRID_POINTS = [(140, 210, 7, 8, 40, 10), (30, 200, 6, 7, 30, 0), (200, 40, 2, 5, 40, 0),
               (170, 100, 4, 5, 70, 0)]


def inserted_reference(G, reverse):
    """networkx costs on a copy of G with every demand point inserted as a node (edges split,
    plus a node for the off-network leg): {(point, node): cost}."""
    H = nx.DiGraph()
    for u, v, d in G.edges(data=True):
        H.add_edge(u, v, w=d["length"])
    for i, (_, _, u, v, along, leg) in enumerate(GRID_POINTS):
        p, q = ("p", i), ("q", i)
        L = H[u][v]["w"]
        two_way = H.has_edge(v, u)
        H.remove_edge(u, v)
        H.add_edge(u, p, w=along)
        H.add_edge(p, v, w=L - along)
        if two_way:
            H.remove_edge(v, u)
            H.add_edge(v, p, w=L - along)
            H.add_edge(p, u, w=along)
        H.add_edge(p, q, w=leg)
        H.add_edge(q, p, w=leg)
    if reverse:
        H = H.reverse()
    out = {}
    for n in G.nodes:
        dist = nx.single_source_dijkstra_path_length(H, n, weight="w")
        for i in range(len(GRID_POINTS)):
            out[(i, n)] = dist.get(("q", i), np.inf)
    return out


@pytest.mark.parametrize("reverse", [False, True])
def test_network_costs_against_networkx(reverse):
    G = grid_graph()
    cands = siting.candidate_sites(G)
    demand = gpd.GeoDataFrame(geometry=shapely.points(
        [(X0 + x, Y0 + y) for x, y, *_ in GRID_POINTS]), crs=CRS)
    limit = 275.0   # no cost lies within float noise of it
    got = stored(siting.network_costs(G, demand, cands, limit=limit, reverse=reverse))
    ref = inserted_reference(G, reverse)
    nodes = list(cands.node)
    want = {(i, nodes.index(n)): c for (i, n), c in ref.items() if c <= limit}
    assert got.keys() == want.keys()
    assert [got[k] for k in sorted(got)] == pytest.approx([want[k] for k in sorted(want)])
    # one-way 4 -> 5: (170, 100) lies on it 70 m from node 4. Forward from node 4: 70 m;
    # from the point back to node 4: 30 m to node 5, then round a block (300 m) > limit
    j4 = nodes.index(4)
    if not reverse:
        assert got[(3, j4)] == pytest.approx(70.0)
    else:
        assert (3, j4) not in got


@pytest.mark.parametrize("reverse", [False, True])
def test_network_costs_in_small_chunks_with_shared_nodes(reverse, monkeypatch):
    """Searches run a few nodes at a time, several points on one node (each with its own
    leg): the same pairs as the reference, whatever the chunk size."""
    from geo.coverage import pairs

    G = grid_graph()
    demand = gpd.GeoDataFrame(geometry=shapely.points(
        [(X0 + x, Y0 + y) for x, y, *_ in GRID_POINTS]), crs=CRS)
    cands = siting.candidate_sites(G)
    loose = gpd.GeoDataFrame(geometry=shapely.points(
        [(X0 + 3, Y0 + 2), (X0 + 1, Y0 + 4), (X0 + 198, Y0 + 103), (X0 + 102, Y0 + 99)]),
        crs=CRS)
    limit = 275.0
    whole = {name: stored(siting.network_costs(G, demand, pts, limit=limit, reverse=reverse))
             for name, pts in (("nodes", cands), ("loose", loose))}
    monkeypatch.setattr(pairs, "CHUNK_FLOATS", 2 * len(G))      # two sources per search
    for name, pts in (("nodes", cands), ("loose", loose)):
        got = stored(siting.network_costs(G, demand, pts, limit=limit, reverse=reverse))
        assert got.keys() == whole[name].keys() and len(got) > 3, name
        assert [got[k] for k in sorted(got)] == pytest.approx(
            [whole[name][k] for k in sorted(got)]), name
    ref = inserted_reference(G, reverse)
    nodes = list(cands.node)
    want = {(i, nodes.index(n)): c for (i, n), c in ref.items() if c <= limit}
    assert whole["nodes"].keys() == want.keys()
    # two loose points share node 0 (legs ~3.6 m and ~4.1 m): each pair carries its own leg
    shared = {k: v for k, v in whole["loose"].items() if k[1] in (0, 1)}
    by_row: dict[int, dict[int, float]] = {}
    for (i, j), c in shared.items():
        by_row.setdefault(i, {})[j] = c
    two = [r for r in by_row.values() if len(r) == 2]
    assert two and all(r[1] - r[0] == pytest.approx(np.hypot(1, 4) - np.hypot(3, 2))
                       for r in two)


def test_network_costs_snap_points_to_nodes():
    """Points without a node column go to their nearest node, plus the straight leg."""
    G = grid_graph()
    demand = gpd.GeoDataFrame(geometry=shapely.points([(X0 + 30, Y0 + 200)]), crs=CRS)
    pts = gpd.GeoDataFrame(geometry=shapely.points([(X0 + 5, Y0 + 195), (X0 + 900, Y0)]),
                           crs=CRS)
    got = stored(siting.network_costs(G, demand, pts, limit=1000, max_snap_m=300))
    assert got == pytest.approx({(0, 0): 30 + np.hypot(5, 5)})   # node 6, 30 m; far point out


def test_candidate_sites_exclusions_and_spacing():
    cells = gpd.GeoDataFrame({"cell_id": [f"k{i}" for i in range(5)], "population": 1.0},
                             geometry=[shapely.box(X0 + i * 100, Y0, X0 + i * 100 + 100,
                                                   Y0 + 100) for i in range(5)],
                             crs=CRS).to_crs(4326)
    water = gpd.GeoDataFrame(geometry=[shapely.box(X0 + 100, Y0, X0 + 200, Y0 + 100)],
                             crs=CRS).to_crs(4326)
    station = frame([0.41], [0.05])        # inside cell k4, 40 m from its centre
    c = siting.candidate_sites(cells, exclude=[(water, 0.0), (station, 50.0)])
    assert list(c.candidate_id) == ["k0", "k2", "k3"]
    assert c.crs.to_epsg() == 4326 and (c.geom_type == "Point").all()
    cen = cells.to_crs(CRS).centroid.to_crs(4326)
    assert c.geometry.iloc[0].distance(cen.iloc[0]) < 1e-9
    # centroids at 50, 150, ..., 450 m: squares [0, 250) and [250, 500), centres 125 and 375
    thin = siting.candidate_sites(cells, spacing_m=250)
    assert list(thin.candidate_id) == ["k1", "k3"]
    G = grid_graph()
    g = siting.candidate_sites(G, exclude=station, min_distance_m=0.0)
    assert len(g) == 9 and set(g.node) == set(range(9))
    # 200 m squares: {0,1,3,4} -> 4 (at the centre), {2,5} -> 5, {6,7} -> 7, {8}
    assert list(siting.candidate_sites(G, spacing_m=200).node) == [4, 5, 7, 8]


def test_solve_series_monotone(toy):
    demand, cands, existing, _cost, _ecost = toy
    rs = siting.solve_series(demand, cands, range(1, 4), existing=existing, threshold=1.2,
                             cost_fn=km_cost_fn)
    assert [r.covered_after for r in rs] == pytest.approx([140, 210, 210])


# --------------------------------------------------------------------------------------------
# real data
# --------------------------------------------------------------------------------------------

@pytest.mark.shared
def test_tongzhou_fire_stations_monotone(shared_data_dir):
    """Fire response approximation: 1 min turnout + 4 min drive at 30 km/h, circuity 1.3
    (no road network in the bundle); 500 m population cells; adding 1..6 stations."""
    from geo.areas import get_area
    from geo.demand import population_cells
    from geo.facilities import fire_stations
    from geo.sources import load_osm

    area = get_area("tongzhou", data_dir=shared_data_dir)
    osm = load_osm(area, data_dir=shared_data_dir, layers=["pois", "pois_a", "water_a"])
    stations = fire_stations(osm, area)
    cells = population_cells(area, data_dir=shared_data_dir, cell_size_m=500)
    exclude = [(stations, 250.0)]
    if "water_a" in osm.layers:
        exclude.append((osm.layers["water_a"], 0.0))
    cands = siting.candidate_sites(cells, exclude=exclude, area=area)
    cost_fn = functools.partial(siting.approximation_costs, circuity=1.3, speed_kph=30,
                                unit="min")
    drive_min = 5.0 - 1.0
    results = siting.solve_series(cells, cands, range(1, 7), existing=stations,
                                  threshold=drive_min, cost_fn=cost_fn, time_limit_s=30)
    before = results[0].covered_before
    assert 0 < before < cells["population"].sum()
    after = [r.covered_after for r in results]
    assert after[0] > before and all(b > a for a, b in itertools.pairwise(after))
    st_m = stations.to_crs(CRS).union_all()
    for add, r in zip(range(1, 7), results, strict=True):
        assert r.n_sites == add and r.covered_before == pytest.approx(before)
        assert r.sites.covered_gain.sum() == pytest.approx(r.covered_after - before)
        assert (r.sites.to_crs(CRS).distance(st_m) > 250).all()   # not on a station


def test_set_covering_starts_no_solve_that_must_overrun_the_time_limit(toy, monkeypatch):
    """Building and writing a model is outside the solver's own limit: once less time is left
    than the quickest solve so far took, no new solve starts (geo site --time-limit-s)."""
    import time

    demand, cands, _existing, cost, _ecost = toy
    calls = []

    def slow_mclp(rows, w, add, solver, name, what):   # 1.5 s, and never reaches the target
        calls.append(add)
        time.sleep(1.5)
        return np.array([], dtype=np.int64), True

    monkeypatch.setattr("geo.siting.models._mclp", slow_mclp)   # where the models call it
    t0 = time.perf_counter()
    # target 0.99 of 210: greedy D, B, A (3 sites) vs the bound ceil(207.9 / 110) = 2: the
    # bisection solves k=2 (1.5 s), then 1.3 s are left, less than one solve takes
    r = siting.set_covering(demand, cands, threshold=1.0, cost_matrix=cost, target_share=0.99,
                            time_limit_s=2.8)
    assert calls == [2]
    assert time.perf_counter() - t0 < 2.8
    assert not r.proven_optimal and r.objective == 3      # the greedy's sites, not proven
