"""Graph builders (roads layer by hand, PBF, XML, Overpass) and speed profiles."""

from __future__ import annotations

import math
import re
from importlib import resources
from types import SimpleNamespace

import geopandas as gpd
import networkx as nx
import pytest
from shapely.geometry import LineString, Polygon

from geo import settings
from geo.errors import CRSError, DataError, DataNotFoundError, NetworkError, OfflineError
from geo.network import (
    add_speeds,
    graph_from_osm,
    graph_from_overpass,
    graph_from_pbf,
    graph_from_roads,
    graph_from_xml,
    load_profile,
    metric_crs_for,
    nearest_cost,
    parse_maxspeed,
)

X0, Y0 = 450_000.0, 4_410_000.0   # Tongzhou-ish, EPSG:32650


def P(x, y):
    return (X0 + x, Y0 + y)


def roads_frame() -> gpd.GeoDataFrame:
    rows = [
        # osm_id, fclass, oneway, maxspeed, coords
        ("1", "residential", "B", 0, [P(0, 0), P(100, 0), P(200, 0)]),
        ("2", "primary", "F", 60, [P(100, 0), P(100, 100)]),
        ("3", "secondary", "T", 0, [P(200, 0), P(200, 100), P(100, 100)]),
        ("4", "motorway", "F", 100, [P(0, 0), P(0, -300)]),
        ("5", "footway", "B", 0, [P(200, 100), P(300, 100)]),
        ("6", "primary", "B", 0, [P(50, -50), P(50, 50)]),   # a bridge: crosses, no shared vertex
    ]
    return gpd.GeoDataFrame(
        {"osm_id": [r[0] for r in rows], "fclass": [r[1] for r in rows],
         "name": ["a", "b", "c", "d", "e", "f"], "ref": [None] * 6,
         "oneway": [r[2] for r in rows], "maxspeed": [r[3] for r in rows],
         "layer": [0, 0, 0, 0, 0, 1], "bridge": ["F"] * 5 + ["T"], "tunnel": ["F"] * 6},
        geometry=[LineString(r[4]) for r in rows], crs="EPSG:32650")


def node_at(G, x, y):
    (n,) = [n for n, d in G.nodes(data=True)
            if math.isclose(d["x"], X0 + x, abs_tol=1e-6) and math.isclose(d["y"], Y0 + y,
                                                                            abs_tol=1e-6)]
    return n


def test_roads_layer_drive_topology_and_one_way():
    G = graph_from_roads(roads_frame(), "drive")
    assert G.graph["crs"] == "EPSG:32650"
    # footway dropped; (200,100) is then a plain vertex of line 3, not a node
    assert G.number_of_nodes() == 7
    a, b, c = node_at(G, 0, 0), node_at(G, 100, 0), node_at(G, 200, 0)
    d, m = node_at(G, 100, 100), node_at(G, 0, -300)
    lengths = {(u, v): round(dd["length"], 6) for u, v, dd in G.edges(data=True)}
    assert lengths[(a, b)] == lengths[(b, a)] == 100.0          # line 1 split at the shared vertex
    assert lengths[(b, c)] == lengths[(c, b)] == 100.0
    assert lengths[(b, d)] == 100.0 and (d, b) not in lengths     # F: digitised direction only
    assert lengths[(d, c)] == 200.0 and (c, d) not in lengths     # T: against digitisation
    assert lengths[(a, m)] == 300.0 and (m, a) not in lengths
    e = G.edges[b, d, 0]
    assert e["highway"] == "primary" and e["oneway"] is True and e["maxspeed"] == "60"
    assert "maxspeed" not in G.edges[a, b, 0]                     # Geofabrik 0 = unknown
    assert G.edges[d, c, 0]["geometry"].coords[0] == P(100, 100)  # reversed geometry
    # the bridge crosses line 1 without a shared vertex: not connected
    cost = nearest_cost(G, [a])
    assert cost[node_at(G, 50, 50)] == math.inf
    assert cost[d] == 200.0 and cost[c] == 200.0
    assert nearest_cost(G, [a], reverse=True)[d] == 400.0         # d -> c -> b -> a


def test_roads_layer_walk_is_two_way_without_motorways():
    G = graph_from_roads(roads_frame(), "walk")
    assert all(dd["highway"] != "motorway" for _, _, dd in G.edges(data=True))
    for u, v in G.edges():
        assert G.has_edge(v, u)
    a, d = node_at(G, 0, 0), node_at(G, 100, 100)
    e = node_at(G, 300, 100)          # footway kept; (200,100) now a junction
    cost = nearest_cost(G, [a])
    assert cost[d] == 200.0 and cost[e] == 400.0      # a -> (200,0) -> (200,100) -> e
    with pytest.raises(ValueError):
        node_at(G, 0, -300)


def test_roads_layer_bad_input():
    r = roads_frame()
    with pytest.raises(CRSError, match="roads has no CRS"):
        graph_from_roads(r.set_crs(None, allow_override=True), "walk")
    with pytest.raises(DataError, match="lacks columns"):
        graph_from_roads(r.drop(columns="fclass"), "walk")
    with pytest.raises(NetworkError, match="network_type"):
        graph_from_roads(r, "bike")
    with pytest.raises(DataError, match="no lines usable"):
        graph_from_roads(r[r.fclass == "motorway"], "walk")


def test_roads_layer_in_wgs84_measures_metres():
    G = graph_from_roads(roads_frame().to_crs("EPSG:4326"), "drive")
    a, b = node_at(G, 0, 0), node_at(G, 100, 0)
    assert G.edges[a, b, 0]["length"] == pytest.approx(100.0, abs=1e-3)


@pytest.fixture(scope="module")
def helsinki_graphs(helsinki_pbf):
    return {nt: graph_from_pbf(helsinki_pbf, nt) for nt in ("walk", "drive")}


def test_pbf_walk_and_drive(helsinki_graphs):
    walk, drive = helsinki_graphs["walk"], helsinki_graphs["drive"]
    assert walk.graph["crs"] == "EPSG:32635" == metric_crs_for(24.94, 60.17)
    hw = lambda G: {h for _, _, d in G.edges(data=True)
                    for h in (d["highway"] if isinstance(d["highway"], list) else [d["highway"]])}
    assert not hw(walk) & {"motorway", "motorway_link", "cycleway"}
    assert "footway" in hw(walk) and not hw(drive) & {"footway", "steps", "service", "path"}
    assert all(walk.has_edge(v, u) for u, v in walk.edges())
    one_way = [(u, v) for u, v in drive.edges() if not drive.has_edge(v, u)]
    assert len(one_way) > 10                      # central Helsinki has one-way streets
    assert all(d["length"] > 0 for _, _, d in walk.edges(data=True))


@pytest.mark.shared
def test_xml_drive(nanjing_xml):
    G = graph_from_xml(nanjing_xml, "drive")
    assert G.graph["crs"] == "EPSG:32650"        # Nanjing (118.8 E) lies in UTM zone 50
    highways = {str(d["highway"]) for _, _, d in G.edges(data=True)}
    assert "footway" not in highways and "primary" in highways
    assert any(not G.has_edge(v, u) for u, v in G.edges())
    add_speeds(G, "drive")
    assert all(d["travel_time"] > 0 for _, _, d in G.edges(data=True))


def test_missing_files():
    with pytest.raises(DataNotFoundError, match="nowhere.pbf"):
        graph_from_pbf("/nowhere.pbf")
    with pytest.raises(DataNotFoundError, match="nowhere.osm"):
        graph_from_xml("/nowhere.osm")


POLY = Polygon([(116.60, 39.90), (116.61, 39.90), (116.61, 39.91), (116.60, 39.91)])


def test_overpass_refused_offline(monkeypatch):
    monkeypatch.setattr(settings, "offline", True)
    with pytest.raises(OfflineError, match="offline"):
        graph_from_overpass(POLY, "walk")
    with pytest.raises(DataNotFoundError, match="holds no roads"):
        graph_from_osm(SimpleNamespace(layers={}, path=None, source="test"), polygon=POLY)


def test_overpass_mocked_response(monkeypatch):
    import osmnx as ox
    import osmnx._overpass as op

    nodes = [(1, 116.601, 39.901), (2, 116.605, 39.901), (3, 116.605, 39.905)]
    response = {"elements": [
        *({"type": "node", "id": i, "lat": lat, "lon": lon} for i, lon, lat in nodes),
        {"type": "way", "id": 10, "nodes": [1, 2, 3],
         "tags": {"highway": "residential", "oneway": "yes"}},
    ]}
    queries = []

    def fake_request(data, *args, **kwargs):
        queries.append(data["data"])
        return response

    monkeypatch.setattr(op, "_overpass_request", fake_request)
    monkeypatch.setattr(ox.settings, "use_cache", False)
    G = graph_from_overpass(POLY, "drive")
    assert queries and '"highway"!~"abandoned|bridleway' in queries[0]   # osmnx drive filter
    assert G.graph["crs"] == "EPSG:32650"
    assert G.number_of_edges() == 1                                      # one-way, simplified
    (u, v, d), = G.edges(data=True)
    assert (u, v) == (1, 3)
    assert d["length"] == pytest.approx(341.8 + 444.8, rel=0.01)        # great-circle metres


def test_graph_from_osm_uses_the_pbf_path(helsinki_pbf):
    G = graph_from_osm(SimpleNamespace(layers={}, path=helsinki_pbf, source="test"), "drive")
    assert G.graph["source"] == f"OSM PBF {helsinki_pbf.name}" and G.number_of_edges() > 100


def test_graph_from_osm_prefers_roads_layer():
    osm = SimpleNamespace(layers={"roads": roads_frame().to_crs("EPSG:4326")}, path=None,
                          source="test")
    G = graph_from_osm(osm, "drive")
    assert G.graph["source"] == "Geofabrik roads layer" and G.number_of_nodes() == 7


def test_profiles_have_a_source_comment_on_every_default():
    for name in ("drive", "fire", "walk"):
        text = (resources.files("geo") / "profiles" / f"{name}.toml").read_text("utf-8")
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if re.match(r"^\s*[\w:]+\s*=\s*[\d.]+", line):
                assert "#" in line or lines[i - 1].lstrip().startswith("#"), (name, line)
        prof = load_profile(name)
        assert prof.default_kph > 0


def test_profile_values_and_speeds():
    walk = load_profile("walk")
    assert walk.default_kph / 3.6 == pytest.approx(1.0)         # GB 50180-2018: 300 m / 5 min
    fire = load_profile("fire")
    assert fire.speed_for("residential", "80") == 30.0           # maxspeed ignored
    drive = load_profile("drive")
    assert drive.speed_for("primary") == 50.0
    assert drive.speed_for("primary", "70") == 70.0               # maxspeed wins
    assert drive.speed_for(["primary", "secondary"]) == 45.0
    assert drive.speed_for("weird") == drive.default_kph
    assert parse_maxspeed("30 mph") == pytest.approx(48.28, abs=0.01)
    assert parse_maxspeed("50;70") == 60.0 and parse_maxspeed("CN:urban") is None
    assert parse_maxspeed(None) is None and parse_maxspeed("0") is None


def test_profile_errors(tmp_path):
    with pytest.raises(DataNotFoundError, match="not one of"):
        load_profile("bicycle")
    bad = tmp_path / "bad.toml"
    bad.write_text("default_kph = -3\n", encoding="utf-8")
    with pytest.raises(DataError, match="positive"):
        load_profile(bad)
    bad.write_text("speed = 3\n", encoding="utf-8")
    with pytest.raises(DataError, match="unknown"):
        load_profile(bad)
    ok = tmp_path / "slow.toml"
    ok.write_text("default_kph = 18.0\nmaxspeed_wins = false\n", encoding="utf-8")
    G = nx.MultiDiGraph()
    G.add_edge(1, 2, length=100.0, highway="primary", maxspeed="60")
    add_speeds(G, ok)
    assert G.edges[1, 2, 0]["speed_kph"] == 18.0
    assert G.edges[1, 2, 0]["travel_time"] == pytest.approx(20.0)
    G.add_edge(2, 3, highway="primary")
    with pytest.raises(NetworkError, match="no 'length'"):
        add_speeds(G, "drive")


def test_roads_layer_with_missing_oneway_is_two_way():
    """A missing ``oneway`` (NaN: pandas keeps it NaN through astype(str)) means both ways."""
    import geopandas as gpd
    import numpy as np
    import shapely

    from geo.network import graph_from_roads

    roads = gpd.GeoDataFrame(
        {"osm_id": ["1", "2"], "fclass": ["primary", "residential"], "name": ["a", "b"],
         "oneway": [np.nan, "F"], "maxspeed": [0, 0]},
        geometry=[shapely.LineString([(116.60, 39.80), (116.61, 39.80)]),
                  shapely.LineString([(116.61, 39.80), (116.61, 39.81)])], crs="EPSG:4326")
    G = graph_from_roads(roads, "drive")
    assert G.number_of_edges() == 3   # primary both ways + residential forward only
