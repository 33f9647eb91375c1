"""Issue 11: extent per claim, targets as written, OSM completeness, route length (toy data)."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from tinydata import make_data_dir, pt
from toyctx import set_demand

from geo.claims.context import StudyContext
from geo.claims.evaluate import evaluate_claim
from geo.claims.metrics import route_length_m
from geo.claims.registry import parse_claims
from geo.extent import Extent, cell_fraction, density_proxy

SOURCE = {"document": "toy.txt", "line": 1}


def _claim(metric: str, parameters: dict, target: dict, **extra):
    doc = {"schema_version": 1, "document_title": "toy", "claims": [{
        "id": "T1", "title_zh": "测试", "title_en": "test", "quote": "测试", "source": SOURCE,
        "target": target, "binding": "none", "metric": metric, "parameters": parameters,
        **extra}]}
    return parse_claims(doc, Path("toy.toml"))[0]


@pytest.fixture()
def toy_ctx(tmp_path):
    ctx = StudyContext("tongzhou", data_dir=make_data_dir(tmp_path / "data"))
    ctx.set_demand = lambda pts, pop, towns=None: set_demand(ctx, pts, pop, towns)
    return ctx


# ------------------------------------------------------------------ route length


def test_route_length_counts_parallel_tracks_once():
    a = shapely.LineString([(0, 0), (10_000, 0)])
    b = shapely.LineString([(0, 5), (10_000, 5)])        # second track 5 m away
    branch = shapely.LineString([(5_000, 0), (5_000, 3_000)])
    assert route_length_m(np.array([a, b])) == pytest.approx(10_000, abs=1)
    # the branch adds its part beyond 100 m of the tracks (the upper one is at y = 5):
    # 3,000 - 105 m
    assert route_length_m(np.array([a, b, branch])) == pytest.approx(12_895, abs=1)


def test_network_length_is_route_length_not_track_length(toy_ctx):
    rw = toy_ctx.osm.layers["railways"]
    first = rw[rw["name"] == "1号线"]
    twin = first.copy()
    twin["osm_id"] = "99"
    twin = twin.set_geometry(gpd.GeoSeries(first.to_crs(32650).geometry.translate(0, 6),
                                           crs=32650).to_crs(4326).values)
    toy_ctx.osm.layers["railways"] = gpd.GeoDataFrame(pd.concat([rw, twin]), crs=rw.crs)
    claim = _claim("network_length", {"name_pattern": "1号线"},
                   {"value": 10, "comparator": "~", "unit": "km", "year": 2030})
    r = evaluate_claim(toy_ctx, claim)
    assert r.value == pytest.approx(10.0, rel=1e-3)    # one route, not 20 km of track
    assert r.verdict == "met" and r.method == "route_length"


# ------------------------------------------------------------------ extents


def _cells(xy, size=100.0):
    polys = [shapely.box(x, y, x + size, y + size) for x, y in xy]
    g = gpd.GeoDataFrame({"area_m2": [size * size] * len(xy)}, geometry=polys, crs=32650)
    return g.to_crs(4326)


def test_density_proxy_keeps_dense_contiguous_clusters():
    # 3 touching dense cells (1e4 m² each, 40 people = 4,000/km²), one dense cell alone
    # (1.3 km away), one sparse cell 3 km away; the density is taken over the cells within
    # 564 m (1 km²): the three see each other (121 people / 0.03 km²), the others only themselves
    cells = _cells([(0, 0), (100, 0), (200, 0), (1000, 1000), (3000, 0)])
    pop = np.array([40.0, 40.0, 40.0, 40.0, 1.0])
    e = density_proxy(cells, pop, "built_up", population_source="toy",
                      min_density_per_km2=1500, min_cluster_population=100)
    assert e.area_km2 == pytest.approx(0.03, rel=1e-3)   # the lone dense cell has 40 < 100
    frac = cell_fraction(cells, e)
    assert frac == pytest.approx([1, 1, 1, 0, 0], abs=1e-6)
    assert "Degree of Urbanisation" in e.source


def test_cell_fraction_by_hand():
    cells = _cells([(0, 0), (100, 0)])
    half = gpd.GeoSeries([shapely.box(0, 0, 150, 100)], crs=32650).to_crs(4326).iloc[0]
    frac = cell_fraction(cells, Extent("built_up", half, 0.015, "toy"))
    assert frac == pytest.approx([1.0, 0.5], abs=1e-3)


def test_built_up_extent_from_user_file_weights_the_share(tmp_path):
    root = make_data_dir(tmp_path / "data")
    f = tmp_path / "core.geojson"
    poly = gpd.GeoSeries([shapely.box(2500, 7500, 3500, 8500)]).translate(460_000, 4_400_000)
    gpd.GeoDataFrame({"name": ["core"]}, geometry=poly.values, crs=32650).to_crs(4326).to_file(f)
    ctx = StudyContext("tongzhou", data_dir=root, built_up=f)
    # one point inside the user polygon near 戊, one far outside it
    set_demand(ctx, [(3100, 8000), (1500, 9500)], [100, 900])
    ext = ctx.extent("built_up")
    assert ext.area_km2 == pytest.approx(1.0, rel=1e-2) and "core.geojson" in ext.source
    base = {"threshold_m": 500, "facility_kind": "rail_station", "denominator": "population",
            "mode": "straight_line"}
    whole = evaluate_claim(ctx, _claim("share_within_distance", base, {
        "value": 0.5, "comparator": ">=", "unit": "share", "year": 2030}))
    built = evaluate_claim(ctx, _claim("share_within_distance", {**base, "extent": "built_up"},
                                       {"value": 0.5, "comparator": ">=", "unit": "share",
                                        "year": 2030}))
    assert whole.value == pytest.approx(0.1)      # 100 of 1,000 residents within 500 m
    assert built.value == pytest.approx(1.0)      # inside the built-up polygon: all covered
    assert built.extent["name"] == "built_up" and built.extent["area_km2"] == pytest.approx(1.0,
                                                                                          rel=1e-2)
    assert {(s["parameter"], s["value"]): s["measured"] for s in built.sensitivity}[
        ("extent", "area")] == pytest.approx(0.1)   # the whole-area reading is a variant


def test_missing_built_up_file_is_a_clear_error(tmp_path):
    from geo.errors import DataNotFoundError

    with pytest.raises(DataNotFoundError, match="built-up file"):
        StudyContext("tongzhou", data_dir=make_data_dir(tmp_path / "data"),
                     built_up=tmp_path / "nope.geojson")


# ------------------------------------------------------------------ targets as written


def test_measure_comparator_gives_no_met_or_not_met(toy_ctx):
    toy_ctx.set_demand([(3100, 8000), (1500, 9500)], [1, 1])
    claim = _claim("share_within_distance",
                   {"threshold_m": 500, "facility_kind": "rail_station",
                    "denominator": "population", "mode": "straight_line"},
                   {"comparator": "measure", "unit": "share", "year": 2030})
    r = evaluate_claim(toy_ctx, claim)
    assert r.value == pytest.approx(0.5)
    assert r.verdict == "measured" and r.base_verdict == "measured" and not r.robust
    assert all(s["verdict"] == "measured" for s in r.sensitivity)
    assert "never met / not met" in r.verdict_note
    d = json.loads(json.dumps(r.to_dict()))
    assert d["verdict"] == "measured" and d["measured"]["extent"]["name"] == "area"


def test_target_year_later_than_data_says_so(toy_ctx):
    toy_ctx.set_demand([(3100, 8000), (1500, 9500)], [1, 1])
    claim = _claim("share_within_distance",
                   {"threshold_m": 500, "facility_kind": "rail_station",
                    "denominator": "population", "mode": "straight_line"},
                   {"value": 0.9, "comparator": ">=", "unit": "share", "year": 2030})
    r = evaluate_claim(toy_ctx, claim)
    assert r.verdict == "not_met" and r.target_year_pending
    assert r.verdict_note.startswith("not met on the ") and r.verdict_note.endswith("target 2030")


# ------------------------------------------------------------------ completeness


def test_count_below_target_is_a_lower_bound(toy_ctx):
    toy_ctx.set_demand([(1000, 1000)], [1])
    r = evaluate_claim(toy_ctx, _claim("facility_count", {"facility_kind": "fire_station"},
                                       {"value": 5, "comparator": ">=", "unit": "count",
                                        "year": 2025}))
    assert r.value == 2 and r.base_verdict == "inconclusive"
    assert "lower bound" in r.notes[0]


def test_named_facilities_listed_found_or_not_with_aliases(toy_ctx):
    toy_ctx.set_demand([(1000, 1000)], [1])
    claim = _claim("facility_count", {"facility_kind": "park",
                                      "names": ["社区公园", "老名字|大公园", "不存在公园"]},
                   {"value": 3, "comparator": ">=", "unit": "count", "year": 2030})
    r = evaluate_claim(toy_ctx, claim)
    assert r.value == 2 and r.verdict == "not_met"      # the missing name is named and checked
    rows = {b["name"]: b for b in r.completeness["names"]}
    assert set(rows) == {"社区公园", "老名字", "不存在公园"}
    assert rows["老名字"]["found"] and rows["老名字"]["matched_alias"] == "大公园"
    assert not rows["不存在公园"]["found"]


def test_known_unmapped_facilities_are_never_robust(toy_ctx):
    toy_ctx.set_demand([(2100, 2000)], [1])
    claim = _claim("drive_time_share",
                   {"threshold_min": 5, "turnout_min": 1, "facility_kind": "fire_station",
                    "speed_profile": "fire", "direction": "from_facility",
                    "denominator": "population"},
                   {"value": 1.0, "comparator": ">=", "unit": "share", "year": 2030},
                   known_unmapped={"count": 4, "source": "toy"})
    r = evaluate_claim(toy_ctx, claim)
    assert r.verdict == "met" and not r.robust
    assert r.completeness["known_unmapped"]["count"] == 4
    assert any("known to miss 4" in n for n in r.notes)


def test_lp_bound_on_merged_rows_equals_the_lp_on_every_row():
    """The completeness LP solved on merged demand rows has the optimum of the LP on every row:
    a hand-computed toy, then random instances with many repeated rows (the reference is the
    LP as written, one row per cell)."""
    from scipy.sparse import csr_array

    from geo.claims.completeness import lp_bound, lp_bound_exact, merge_equal_rows

    # 3 cells: A by site 0, B by site 1 (twice, weights 2 and 3), C by no site; 1 site: 5
    cover = csr_array(np.array([[1, 0], [0, 1], [0, 1], [0, 0]], dtype=float))
    w = np.array([4.0, 2.0, 3.0, 9.0])
    merged, mw = merge_equal_rows(cover, w)
    assert merged.shape == (2, 2) and sorted(mw.tolist()) == [4.0, 5.0]
    assert lp_bound(cover, w, 1) == pytest.approx(5.0)
    assert lp_bound(cover, w, 2) == pytest.approx(9.0)
    rng = np.random.default_rng(3)
    for trial in range(5):
        base = (rng.random((40, 12)) < 0.15).astype(float)
        rows = base[rng.integers(0, 40, 400)]
        weights = rng.uniform(0, 10, 400)
        k = int(rng.integers(1, 6))
        assert lp_bound(csr_array(rows), weights, k) == pytest.approx(
            lp_bound_exact(csr_array(rows), weights, k), rel=1e-9), trial


# ------------------------------------------------------------------ stations


def test_stations_out_of_service_are_a_variant_and_outlines_count(toy_ctx):
    # 丙 (two points at (8000, 3000) / (8500, 3000)) has no rail line within 200 m: not in
    # service. Demand 100 m from 丙: covered only in the variant that keeps it.
    toy_ctx.set_demand([(8000, 3100), (3100, 8000)], [1, 1])
    claim = _claim("share_within_distance",
                   {"threshold_m": 500, "facility_kind": "rail_station",
                    "denominator": "population", "mode": "straight_line"},
                   {"value": 0.5, "comparator": ">=", "unit": "share", "year": 2030})
    r = evaluate_claim(toy_ctx, claim)
    assert r.value == pytest.approx(0.5)                  # only the point near 戊 (tram halt)
    v = {(s["parameter"], s["value"]): s["measured"] for s in r.sensitivity}
    assert v[("station_status", "including those not in service")] == pytest.approx(1.0)
    named = _claim("share_within_distance",
                   {"threshold_m": 500, "facility_kind": "rail_station",
                    "denominator": "population", "mode": "straight_line",
                    "not_in_service_names": ["戊"]},
                   {"value": 0.5, "comparator": ">=", "unit": "share", "year": 2030})
    assert evaluate_claim(toy_ctx, named).value == pytest.approx(0.0)


def test_station_distance_is_to_its_outline(toy_ctx):
    from geo.claims.metrics import station_targets
    from geo.coverage import straight_line_distance

    st = toy_ctx.facilities("rail_station")
    with_outline = st[st["outline"].notna()]
    assert len(with_outline) >= 1
    targets = station_targets(with_outline, "straight_line")
    assert set(targets.geometry.geom_type) <= {"Polygon", "MultiPolygon"}
    # a demand point on the outline's edge is 0 m from the station, though its point is inside
    poly_m = gpd.GeoSeries([with_outline["outline"].iloc[0]], crs=4326).to_crs(32650).iloc[0]
    edge = shapely.Point(poly_m.exterior.coords[0])
    cells = gpd.GeoDataFrame({"cell_id": ["e"], "area_m2": [1.0], "population": [1.0]},
                             geometry=[edge], crs=32650).to_crs(4326)
    d_outline = straight_line_distance(cells, targets.iloc[:1])[0][0]
    d_point = straight_line_distance(cells, with_outline.iloc[:1])[0][0]
    assert d_outline == pytest.approx(0.0, abs=0.5) and d_point > 5.0


def test_expressway_entrances_searched_as_far_as_the_budget_reaches(toy_ctx):
    from geo.claims.context import DRIVE_GRAPH_MARGIN_M, GRAPH_MARGIN_M
    from geo.claims.metrics import facility_reach_m

    # 15 min at 80 km/h = 20 km (was: a fixed 3 km past the border)
    assert toy_ctx.coverage_reach_m("expressway_entrance", budget_s=900,
                                    max_speed_kph=80) == pytest.approx(20_000)
    assert toy_ctx.coverage_reach_m("expressway_entrance", budget_s=60,
                                    max_speed_kph=80) == pytest.approx(GRAPH_MARGIN_M)
    c02 = _claim("drive_time_share",
                 {"threshold_min": 15, "facility_kind": "expressway_entrance",
                  "speed_profile": "drive", "direction": "to_facility", "denominator": "area"},
                 {"value": 1.0, "comparator": ">=", "unit": "share", "year": 2030})
    assert facility_reach_m(toy_ctx, c02.params) == pytest.approx(15 * 60 * 80 / 3.6)
    assert facility_reach_m(toy_ctx, c02.params) <= DRIVE_GRAPH_MARGIN_M


# ------------------------------------------------------------------ reference inventory


def test_reference_inventory_merged_by_name_and_distance(tmp_path, toy_ctx):
    from geo.coords import wgs84_to_gcj02
    from geo.facilities import load_reference, merge_reference

    # 梨园消防站 is mapped at (2000, 2000); the reference names it 梨园 and gives GCJ-02
    # coordinates 40 m off; 新站 is not in OSM; OSM's 觅子店 station is not in the reference
    fs = toy_ctx.facilities("fire_station")
    p1 = gpd.GeoSeries([pt(2040, 2000), pt(9000, 9000)], crs=32650).to_crs(4326)
    lon, lat = wgs84_to_gcj02(p1.x.to_numpy(), p1.y.to_numpy())
    f = tmp_path / "ref.csv"
    pd.DataFrame({"name": ["梨园消防站", "新站"], "kind": ["fire_station"] * 2, "lon": lon,
                  "lat": lat, "datum": ["gcj02"] * 2}).to_csv(f, index=False)
    ref = load_reference(f)
    assert ref.attrs["datum"] == "gcj02"
    out = merge_reference(fs, ref)
    assert out["counts"] == {"both": 1, "only_osm": 1, "only_reference": 1}
    assert out["both"][0]["osm"] == "梨园消防站"
    assert out["both"][0]["distance_m"] == pytest.approx(40, abs=3)   # GCJ-02 undone
    assert out["only_reference"] == ["新站"]


def test_reference_without_datum_is_refused(tmp_path):
    from geo.errors import DataError
    from geo.facilities import load_reference

    f = tmp_path / "ref.csv"
    pd.DataFrame({"name": ["a"], "kind": ["fire_station"], "lon": [116.5],
                  "lat": [39.8]}).to_csv(f, index=False)
    with pytest.raises(DataError, match="declares no datum"):
        load_reference(f)


def test_cli_built_up_and_reference(tmp_path):
    from conftest import run_cli

    root = make_data_dir(tmp_path / "data")
    claims = tmp_path / "c.toml"
    claims.write_text(
        'schema_version = 1\ndocument_title = "toy"\n[[claims]]\nid = "F1"\ntitle_zh = "消防"\n'
        'title_en = "fire"\nquote = "消防"\nsource = { document = "toy.txt", line = 1 }\n'
        'target = { value = 1.0, comparator = ">=", unit = "share", year = 2030 }\n'
        'binding = "none"\nmetric = "drive_time_share"\n'
        'parameters = { threshold_min = 5, turnout_min = 1, facility_kind = "fire_station", '
        'speed_profile = "fire", direction = "from_facility", denominator = "area", '
        'extent = "built_up" }\n', encoding="utf-8")
    core = tmp_path / "core.geojson"
    poly = gpd.GeoSeries([shapely.box(1000, 1000, 3000, 3000)]).translate(460_000, 4_400_000)
    gpd.GeoDataFrame({"name": ["core"]}, geometry=poly.values, crs=32650).to_crs(4326).to_file(
        core)
    ref = tmp_path / "ref.csv"
    p = gpd.GeoSeries([pt(2000, 2000), pt(9000, 9000)], crs=32650).to_crs(4326)
    pd.DataFrame({"name": ["梨园消防站", "新站"], "kind": ["fire_station"] * 2,
                  "lon": p.x, "lat": p.y}).to_csv(ref, index=False)
    out = tmp_path / "o.json"
    res = run_cli("evaluate", "--area", "tongzhou", "--data-dir", str(root), "--claims",
                  str(claims), "--json", str(out), "--cell-size-m", "500", "--built-up",
                  str(core), "--reference", str(ref), "--datum", "wgs84")
    assert res.returncode == 0, res.stderr
    d = json.loads(out.read_text(encoding="utf-8"))
    assert d["data"]["built_up"]["area_km2"] == pytest.approx(4.0, rel=0.02)
    assert "core.geojson" in d["data"]["built_up"]["source"]
    c = d["claims"][0]
    assert c["measured"]["extent"]["name"] == "built_up"
    assert c["completeness"]["reference"]["only_reference"] == ["新站"]
    bad = run_cli("evaluate", "--area", "tongzhou", "--data-dir", str(root), "--claims",
                  str(claims), "--built-up", str(tmp_path / "none.geojson"))
    assert bad.returncode == 2 and "built-up file" in bad.stderr
