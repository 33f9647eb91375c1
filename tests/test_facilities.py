"""geo.facilities on hand-made data with known answers, a toy road graph and real data."""

from __future__ import annotations

import logging

import networkx as nx
import pytest
from tinydata import make_data_dir

from geo import facilities as F
from geo.areas import Area, get_area
from geo.sources import load_osm


@pytest.fixture
def tiny(tmp_path):
    d = make_data_dir(tmp_path / "data")
    area = get_area("tongzhou", data_dir=d)
    return load_osm(area, data_dir=d), area


def _check_base(frame, kind):
    assert list(frame.columns[:4]) == ["facility_id", "kind", "name", "osm_id"]
    assert frame.crs.to_epsg() == 4326
    assert (frame["kind"] == kind).all() and frame["facility_id"].is_unique
    assert (frame.geometry.geom_type == "Point").all()


def test_rail_stations_dedupe_and_modes(tiny):
    osm, area = tiny
    st = F.rail_stations(osm, area)
    _check_base(st, "rail_station")
    assert sorted(st["name"]) == ["丙", "丙", "乙", "戊", "甲"]
    by_name = {n: g for n, g in st.groupby("name")}
    assert by_name["甲"]["merged_osm_ids"].iloc[0] == ["1", "11"]  # point kept over polygon
    assert not by_name["甲"]["from_polygon"].iloc[0]
    assert by_name["乙"]["from_polygon"].iloc[0]  # exists only as a polygon
    assert sorted(by_name["乙"]["merged_osm_ids"].iloc[0]) == ["12", "13"]  # unnamed merged
    modes = dict(zip(st["osm_id"], st["mode"]))
    assert modes == {"1": "subway", "12": "rail", "2": None, "3": None, "4": "tram"}
    dist = dict(zip(st["osm_id"], st["mode_distance_m"]))
    assert dist["1"] == pytest.approx(50, abs=1) and dist["4"] == pytest.approx(150, abs=1)
    # a 600 m dedupe distance merges the two 丙 (500 m apart)
    assert len(F.rail_stations(osm, area, dedupe_m=600)) == 4
    # a 100 m mode distance drops the tram (150 m) and the rail line (100 m is kept: <=)
    m = dict(zip(*F.rail_stations(osm, area, mode_max_m=120)[["osm_id", "mode"]].T.values))
    assert m["4"] is None and m["12"] == "rail"


def test_dedupe_reference_pairwise(tiny):
    """Every pair of kept stations is either > dedupe_m apart or differently (and) named."""
    osm, area = tiny
    st = F.rail_stations(osm, area).to_crs(32650)
    for i in range(len(st)):
        for j in range(i + 1, len(st)):
            d = st.geometry.iloc[i].distance(st.geometry.iloc[j])
            assert d > 300 or (st["name"].iloc[i] != st["name"].iloc[j]
                               and st["name"].iloc[i] and st["name"].iloc[j])


def test_parks_area_and_size_class(tiny):
    osm, area = tiny
    pk = F.parks(osm, area).set_index("name")
    assert sorted(pk.index) == ["口袋公园", "大公园", "小绿地", "社区公园"]  # 外公园 outside
    assert pk.loc["口袋公园", "area_ha"] == pytest.approx(0.25, rel=1e-3)
    assert pk.loc["大公园", "area_ha"] == pytest.approx(16.0, rel=1e-3)
    assert pk.loc["大公园", "inside_ha"] == pytest.approx(8.0, rel=1e-3)
    assert dict(pk["size_class"]) == {"口袋公园": "pocket", "小绿地": "tiny",
                                      "社区公园": "community", "大公园": "large"}
    assert pk.loc["口袋公园", "service_radius_m"] == 300
    assert pk.loc["社区公园", "service_radius_m"] == 500
    assert pk["polygon"].iloc[0].geom_type == "Polygon"
    assert all(p.contains(g) for p, g in zip(pk["polygon"], pk.geometry))
    custom = F.parks(osm, area, size_classes=(("s", 0, None), ("b", 0.9, 800.0)))
    assert sorted(custom["size_class"]) == ["b", "b", "s", "s"]  # 1 ha and 16 ha are "b"


def test_park_size_class_boundaries():
    names, radii = F.park_size_class([0.0, 0.1999, 0.2, 0.5, 9.99, 10.0])
    assert list(names) == ["tiny", "tiny", "pocket", "community", "community", "large"]
    assert list(radii[2:]) == [300, 500, 500, 500]
    with pytest.raises(ValueError):
        F.park_size_class([1.0], classes=(("a", 1.0, None), ("b", 0.5, None)))


def test_fire_stations(tiny):
    osm, area = tiny
    fs = F.fire_stations(osm, area)
    _check_base(fs, "fire_station")
    assert dict(zip(fs["name"], fs["small"])) == {"梨园消防站": False, "觅子店小型消防救援站": True}
    assert fs.loc[fs["name"] == "梨园消防站", "merged_osm_ids"].iloc[0] == ["31", "41"]


def test_pois(tiny):
    osm, area = tiny
    p = F.pois(osm, area, ["school"])
    assert sorted(p["name"]) == ["一小", "二小"] and set(p["kind"]) == {"school"}
    assert len(F.pois(osm, area, ["hospital"])) == 0


def _toy_graph():
    """Motorway 1->2->3 (2 is a motorway_junction); off-ramp 2->4 meets primary 4<->5;
    on-ramp 7->3 from primary 5<->7; link-only 8->10->3 off trunk 9->8; node 11 between a
    primary/secondary (list) edge and a motorway_link 11->1."""
    G = nx.MultiDiGraph(crs="EPSG:4326")
    xy = {1: (116.60, 39.80), 2: (116.61, 39.80), 3: (116.62, 39.80), 4: (116.61, 39.79),
          5: (116.61, 39.78), 7: (116.62, 39.78), 8: (116.63, 39.81), 9: (116.64, 39.81),
          10: (116.625, 39.805), 11: (116.59, 39.79)}
    for n, (x, y) in xy.items():
        G.add_node(n, x=x, y=y)
    G.nodes[2]["highway"] = "motorway_junction"
    G.nodes[2]["ref"] = "12"
    edges = [(1, 2, "motorway"), (2, 3, "motorway"), (2, 4, "motorway_link"), (4, 5, "primary"),
             (5, 4, "primary"), (5, 7, "primary"), (7, 5, "primary"), (7, 3, "trunk_link"),
             (9, 8, "trunk"), (8, 10, "trunk_link"), (10, 3, "trunk_link"),
             (5, 11, ["primary", "secondary"]), (11, 1, "motorway_link")]
    for u, v, h in edges:
        G.add_edge(u, v, highway=h, length=100.0)
    return G


def test_expressway_entrances_toy_graph():
    e = F.expressway_entrances(_toy_graph())
    _check_base(e, "expressway_entrance")
    got = {int(n): (r, o) for n, r, o in zip(e["node"], e["reason"], e["onto_link"])}
    assert got == {2: ("motorway_junction", True), 4: ("link_meets_lower_road", False),
                   7: ("link_meets_lower_road", True), 11: ("link_meets_lower_road", True)}
    assert e.loc[e["node"] == 2, "name"].iloc[0] == "12"
    assert e.loc[e["node"] == 7].geometry.iloc[0].x == pytest.approx(116.62)


def test_expressway_entrances_area_and_projected_graph():
    import osmnx as ox
    import shapely

    G = _toy_graph()
    area = Area("box", "box", None, shapely.box(116.605, 39.775, 116.65, 39.83))
    e = F.expressway_entrances(G, area)
    assert sorted(int(n) for n in e["node"]) == [2, 4, 7]
    Gp = ox.project_graph(G, to_crs="EPSG:32650")
    ep = F.expressway_entrances(Gp, area)
    assert sorted(int(n) for n in ep["node"]) == [2, 4, 7] and ep.crs.to_epsg() == 4326
    assert ep.geometry.x.min() == pytest.approx(116.61, abs=1e-6)


def test_expressway_entrances_without_graph(caplog):
    with caplog.at_level(logging.WARNING, logger="geo.facilities"):
        e = F.expressway_entrances(None)
    assert len(e) == 0 and list(e.columns) == ["facility_id", "kind", "name", "osm_id", "node",
                                               "reason", "onto_link", "geometry"]
    assert "no road network" in caplog.text


@pytest.mark.shared
def test_expressway_entrances_nanjing(nanjing_xml):
    import osmnx as ox

    G = ox.graph_from_xml(nanjing_xml, simplify=False)
    e = F.expressway_entrances(G)
    assert len(e) >= 1
    for n in e["node"]:  # each entrance touches a link road and a lower-class road
        classes = {d.get("highway") for _, _, d in G.in_edges(n, data=True)} | \
                  {d.get("highway") for _, _, d in G.out_edges(n, data=True)}
        assert classes & {"motorway_link", "trunk_link"}
        assert classes - {"motorway", "trunk", "motorway_link", "trunk_link"}
    # in this extract the only ramp is a one-way trunk_link leaving a primary road
    assert e["onto_link"].all()


@pytest.mark.shared
def test_nanjing_rail_stations(nanjing_xml):
    osm = load_osm(None, path=nanjing_xml)
    st = F.rail_stations(osm)
    # 7 station polygons; 新街口 and 大行宫 are each mapped twice within 300 m
    assert sorted(st["name"]) == ["上海路", "大行宫", "常府街", "新街口", "浮桥"]
    assert set(st["mode"]) == {"subway"}
    assert (F.parks(osm)["area_ha"] > 0).all() and len(F.parks(osm)) == 6


def test_helsinki_stations_and_parks(helsinki_pbf):
    osm = load_osm(None, path=helsinki_pbf)
    st = F.rail_stations(osm)
    assert len(st) >= 1 and "Helsinki" in set(st["name"])
    assert st.loc[st["name"] == "Helsinki", "mode"].iloc[0] == "rail"
    pk = F.parks(osm)
    assert len(pk) >= 5 and (pk["area_ha"] > 0).all()


@pytest.mark.shared
def test_shared_tongzhou_counts(shared_data_dir):
    area = get_area("tongzhou", data_dir=shared_data_dir)
    osm = load_osm(area, data_dir=shared_data_dir)
    st = F.rail_stations(osm, area)
    # 36 railway stations + 3 tram stops of the Yizhuang T1 (trams are rail transit, issue 11)
    assert len(st) == 39
    assert set(st.loc[st["fclass"] == "tram_stop", "name"]) == {"定海园", "定海园西", "经海一路"}
    assert set(st.loc[st["mode"] == "tram", "name"]) >= {"定海园", "定海园西", "经海一路"}
    assert {"梨园", "通运门", "群芳", "万盛东"} <= set(st.loc[st["from_polygon"], "name"])
    # 政务中心东 (a new station) has no railway line mapped within 200 m in this extract: it is
    # not counted as in service
    assert set(st.loc[st["mode"].isna(), "name"]) == {"政务中心东"}
    assert set(st.loc[~st["in_service"], "name"]) == {"政务中心东"}
    # distances go to the outline where a polygon is mapped (polygon-only stations at least)
    assert st.loc[st["name"] == "梨园", "outline"].iloc[0].geom_type in ("Polygon",
                                                                         "MultiPolygon")
    assert {"subway", "rail"} <= set(st["mode"].dropna())
    pk = F.parks(osm, area)
    assert len(pk) == 453
    fs = F.fire_stations(osm, area)
    assert len(fs) == 7
    assert fs.loc[fs["small"], "name"].tolist() == ["觅子店小型消防救援站"]
    for place in ("梨园", "宋庄", "西集", "永乐店", "环球影城", "潞源特勤站"):
        assert fs["name"].str.contains(place).any()


@pytest.mark.parametrize("kind, missing, named", [
    ("rail_station", ["transport_a"], "transport_a"),
    ("park", ["pois_a"], "pois_a"),
    ("hospital", ["pois", "pois_a"], "pois, pois_a"),
    ("fire_station", ["pois"], "pois"),
])
def test_a_missing_layer_is_an_error_not_zero_facilities(kind, missing, named):
    from geo.errors import DataNotFoundError
    from geo.sources.base import OsmData

    osm = OsmData(layers_missing=missing, source="test source")
    with pytest.raises(DataNotFoundError, match=f"has no {named} layer"):
        F.facilities(osm, kind)
    # the same empty source with nothing declared missing: an honest empty frame
    assert len(F.facilities(OsmData(source="test source"), kind)) == 0
    # a layer not needed by the kind does not matter
    assert len(F.facilities(OsmData(layers_missing=["roads"]), kind)) == 0
