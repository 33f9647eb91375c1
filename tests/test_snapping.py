"""Snapping to edges: geometry by hand, costs against networkx on a graph with the points
inserted as real nodes."""

from __future__ import annotations

import math
import os

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from geo.errors import CRSError, NetworkError
from geo.snapping import placements, point_costs, snap_points

CRS = "EPSG:32650"


def line_graph() -> nx.MultiDiGraph:
    """0 --(100 m, two-way)--> 1 --(bent 200 m, one-way)--> 2."""
    G = nx.MultiDiGraph(crs=CRS)
    G.add_node(0, x=0.0, y=0.0)
    G.add_node(1, x=100.0, y=0.0)
    G.add_node(2, x=200.0, y=0.0)
    G.add_edge(0, 1, length=100.0)
    G.add_edge(1, 0, length=100.0)
    bent = LineString([(100, 0), (150, 50), (200, 0)])   # 2 x 70.71 m
    G.add_edge(1, 2, length=bent.length, geometry=bent)
    return G


def pts(*xy, crs=CRS):
    return gpd.GeoDataFrame(geometry=[Point(x, y) for x, y in xy], crs=crs)


def test_snap_geometry_by_hand():
    G = line_graph()
    s = snap_points(G, pts((30, 20), (150, 60), (150, 400)), max_snap_m=300)
    a = s.iloc[0]
    assert {a.u, a.v} == {0, 1}
    assert a.snap_dist_m == pytest.approx(20) and (a.snap_x, a.snap_y) == pytest.approx((30, 0))
    assert a.along_m == pytest.approx(30 if a.u == 0 else 70)
    b = s.iloc[1]
    assert (b.u, b.v) == (1, 2) and b.snap_dist_m == pytest.approx(10)
    assert b.frac == pytest.approx(0.5) and b.along_m == pytest.approx(math.sqrt(2) * 50)
    c = s.iloc[2]
    assert not c.on_network and c.snap_dist_m == pytest.approx(350)
    assert list(s.on_network) == [True, True, False]


def test_placements_respect_one_way():
    G = line_graph()
    s = snap_points(G, pts((30, 20), (150, 60)))
    p = placements(G, s, "length")
    assert sorted(p[p.point == 0][["tail", "head"]].itertuples(index=False)) == [(0, 1), (1, 0)]
    assert p[p.point == 1][["tail", "head"]].values.tolist() == [[1, 2]]


def test_twin_of_a_street_drawn_twice_is_the_same_way():
    """Two two-way ways of one length between the same nodes (a secondary road drawn over a
    residential one): a point on the residential way goes back along the residential way, not
    the (faster) secondary; with OSM way ids the ids decide."""
    import pandas as pd

    G = nx.MultiDiGraph(crs=CRS)
    G.add_node(0, x=0.0, y=0.0)
    G.add_node(1, x=100.0, y=0.0)
    for hw, tt, way in (("secondary", 5.0, 7), ("residential", 9.0, 8)):
        G.add_edge(0, 1, length=100.0, highway=hw, travel_time=tt, osmid=way)
        G.add_edge(1, 0, length=100.0, highway=hw, travel_time=tt, osmid=way)
    k_res = next(k for k, e in G[0][1].items() if e["highway"] == "residential")
    snaps = pd.DataFrame({"u": [0], "v": [1], "key": [k_res], "frac": [0.25],
                          "on_network": [True]})
    p = placements(G, snaps, "travel_time")
    back = p[(p["tail"] == 1) & (p["head"] == 0)].iloc[0]
    assert G[1][0][back.key]["highway"] == "residential" and back.w == 9.0
    for e in list(G[1][0].values()):      # without ids the class decides
        del e["osmid"]
    p = placements(G, snaps, "travel_time")
    assert p[(p["tail"] == 1) & (p["head"] == 0)].iloc[0].w == 9.0


def test_point_costs_by_hand():
    G = line_graph()
    fac = pts((30, 20))            # on 0-1 at 30 m from 0, 20 m off
    dem = pts((150, 60), (0, -5), (150, 400))
    r = point_costs(G, fac, dem)
    # to the bent edge's middle: 70 along 0-1, then half of 141.42, + legs 20 and 10
    assert r.cost.iloc[0] == pytest.approx(20 + 70 + 70.7107 + 10, abs=1e-3)
    assert r.cost.iloc[1] == pytest.approx(20 + 30 + 5)
    assert r.cost.iloc[2] == math.inf and not r.on_network.iloc[2]
    assert r.source.iloc[0] == 0 and r.source.iloc[2] is None
    # reverse: from the bent edge's middle nobody gets back (one-way to a dead end)
    rr = point_costs(G, fac, dem, reverse=True)
    assert rr.cost.iloc[0] == math.inf and rr.cost.iloc[1] == pytest.approx(55)
    # travel time: legs and edges at the walking speed of the walk profile (1 m/s)
    for _, _, d in G.edges(data=True):
        d["travel_time"] = d["length"] / 10.0
    t = point_costs(G, fac, dem, weight="travel_time")
    assert t.cost.iloc[1] == pytest.approx(20 / 1.0 + 3 + 5 / 1.0)
    # cutoff applies to the total, legs included
    assert point_costs(G, fac, dem, cutoff=54.9).cost.iloc[1] == math.inf
    assert point_costs(G, fac, dem, cutoff=55).cost.iloc[1] == pytest.approx(55)


def test_same_edge_direct_travel():
    G = line_graph()
    r = point_costs(G, pts((120, 20)), pts((180, 20)), source_leg=False)
    # both on the one-way bent edge: along it from 0.2 to 0.8 of 141.42 m, + 0 (leg 0 at node?)
    s = snap_points(G, pts((120, 20), (180, 20)))
    expected = (s.along_m.iloc[1] - s.along_m.iloc[0]) + s.snap_dist_m.iloc[1]
    assert r.cost.iloc[0] == pytest.approx(expected)
    back = point_costs(G, pts((180, 20)), pts((120, 20)))
    assert back.cost.iloc[0] == math.inf   # against the one-way direction


def test_bad_inputs():
    G = line_graph()
    G.graph["crs"] = "EPSG:4326"
    with pytest.raises(CRSError, match="geographic CRS"):
        snap_points(G, pts((0, 0)))
    G = line_graph()
    with pytest.raises(CRSError, match="points has no CRS"):
        snap_points(G, gpd.GeoDataFrame(geometry=[Point(0, 0)]))
    for _, _, d in G.edges(data=True):
        d["foo"] = 1.0
    with pytest.raises(NetworkError, match="off-network leg"):
        point_costs(G, pts((0, 0)), pts((1, 1)), weight="foo")
    with pytest.raises(NetworkError, match="max_snap_m"):
        snap_points(G, pts((0, 0)), max_snap_m=-1)


def brute_force(G, s_snap, t_snap, weight, reverse):
    """Insert every snapped point as a real node and run networkx."""
    sp = placements(G, s_snap, weight).assign(kind="s")
    tp = placements(G, t_snap, weight).assign(kind="t")
    at = {}
    H = nx.DiGraph()
    H.add_nodes_from(G.nodes)
    on_edge = {}
    for p in [*sp.itertuples(), *tp.itertuples()]:
        name = ("at", p.kind, p.point)
        on_edge.setdefault((p.tail, p.head, p.key), []).append((p.pos, name))
        at[name] = True
    for u, v, k, d in G.edges(keys=True, data=True):
        w = d[weight]
        chain = sorted(on_edge.get((u, v, k), []))
        prev, prev_pos = u, 0.0
        for pos, name in chain:
            if pos == 0:
                H.add_edge(u, name, w=0.0)
                H.add_edge(name, u, w=0.0)
            if pos == 1:
                H.add_edge(v, name, w=0.0)
                H.add_edge(name, v, w=0.0)
            add_min(H, prev, name, (pos - prev_pos) * w)
            if pos == prev_pos and prev != u:   # two points at one position: the same place
                add_min(H, name, prev, 0.0)
            prev, prev_pos = name, pos
        add_min(H, prev, v, (1 - prev_pos) * w)
    for i, leg in enumerate(s_snap.snap_dist_m):
        if s_snap.on_network.iloc[i]:
            H.add_edge(("S", i), ("at", "s", i), w=leg)   # legs are walks: both ways
            H.add_edge(("at", "s", i), ("S", i), w=leg)
    for j, leg in enumerate(t_snap.snap_dist_m):
        if t_snap.on_network.iloc[j]:
            H.add_edge(("at", "t", j), ("T", j), w=leg)
            H.add_edge(("T", j), ("at", "t", j), w=leg)
    if reverse:
        H = H.reverse(copy=True)
    srcs = {n for n in H if n[0] == "S"} if len(H) else set()
    d = nx.multi_source_dijkstra_path_length(H, srcs, weight="w") if srcs else {}
    return np.array([d.get(("T", j), math.inf) for j in range(len(t_snap))])


def add_min(H, a, b, w):
    if not H.has_edge(a, b) or H[a][b]["w"] > w:
        H.add_edge(a, b, w=w)


@st.composite
def grid_case(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = 4
    G = nx.MultiDiGraph(crs=CRS)
    for i in range(n):
        for j in range(n):
            G.add_node((i, j), x=100.0 * i, y=100.0 * j)
    for i in range(n):
        for j in range(n):
            for di, dj in ((1, 0), (0, 1)):
                a, b = (i, j), (i + di, j + dj)
                if b not in G or rng.random() < 0.2:
                    continue
                geom = LineString([(100 * i, 100 * j),
                                   (100 * i + 50 * di + rng.uniform(-20, 20) * dj,
                                    100 * j + 50 * dj + rng.uniform(-20, 20) * di),
                                   (100 * (i + di), 100 * (j + dj))])
                mode = rng.choice(["both", "fwd", "back"], p=[0.6, 0.2, 0.2])
                if mode in ("both", "fwd"):
                    G.add_edge(a, b, length=geom.length, geometry=geom)
                if mode in ("both", "back"):
                    G.add_edge(b, a, length=geom.length, geometry=geom.reverse())
    xy = lambda k: [(rng.uniform(-150, 450), rng.uniform(-150, 450)) for _ in range(k)]
    G.graph["seed"] = seed
    return G, pts(*xy(draw(st.integers(1, 4)))), pts(*xy(draw(st.integers(1, 12))))


@hsettings(max_examples=int(os.environ.get("SNAP_EXAMPLES", "40")), deadline=None)
@given(grid_case(), st.booleans())
def test_point_costs_match_inserted_nodes(case, reverse):
    G, fac, dem = case
    if G.number_of_edges() == 0:
        return
    r = point_costs(G, fac, dem, reverse=reverse, max_snap_m=120)
    s_snap = snap_points(G, fac, max_snap_m=120)
    t_snap = snap_points(G, dem, max_snap_m=120)
    expected = brute_force(G, s_snap, t_snap, "length", reverse)
    np.testing.assert_allclose(r.cost.to_numpy(), expected, rtol=0, atol=1e-6,
                               err_msg=f"seed {G.graph['seed']}")
    # the nearest source attains the cost
    for j, src in enumerate(r.source):
        if src is not None:
            one = point_costs(G, fac.loc[[src]], dem.iloc[[j]], reverse=reverse, max_snap_m=120)
            assert one.cost.iloc[0] == pytest.approx(r.cost.iloc[j], abs=1e-6)


def test_source_and_target_at_one_position_on_a_one_way_edge():
    """Found by the property test: two points snapping to the same spot of a one-way edge are
    the same place, in both directions."""
    G = line_graph()
    fac, dem = pts((150, 60)), pts((150, 70))         # both snap to the bent edge's vertex
    for reverse in (False, True):
        r = point_costs(G, fac, dem, reverse=reverse)
        assert r.cost.iloc[0] == pytest.approx(10 + 20)


def test_point_at_a_node_is_the_node():
    """A facility at a node, snapped with CRS round-trip noise (frac 1 - 1e-11), must be placed
    exactly at the edge end, so a reverse search can reach it from every edge into the node."""
    import networkx as nx
    import pandas as pd

    from geo.snapping import placements

    G = nx.MultiDiGraph(crs="EPSG:32650")
    G.add_edge("a", "b", 0, length=100.0)
    snaps = pd.DataFrame({"u": ["a", "a"], "v": ["b", "b"], "key": [0, 0],
                          "frac": [1 - 1e-11, 1e-12], "on_network": [True, True]})
    pos = placements(G, snaps, "length")["pos"].tolist()
    assert pos == [1.0, 0.0]
