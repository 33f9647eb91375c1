"""Scenarios: planned facilities change coverage where they should; bad files are refused."""

from __future__ import annotations

import json

import geopandas as gpd
import pytest
from conftest import run_cli
from test_evaluate import _claim
from tinydata import make_data_dir, pt
from toyctx import set_demand

from geo.claims.context import StudyContext
from geo.claims.evaluate import evaluate_claim
from geo.coords import wgs84_to_gcj02
from geo.errors import DataError
from geo.scenarios import load_scenario

FIRE = {"threshold_min": 5, "turnout_min": 1, "facility_kind": "fire_station",
        "speed_profile": "fire", "direction": "from_facility", "denominator": "population"}


def _lonlat(x, y):
    p = gpd.GeoSeries([pt(x, y)], crs="EPSG:32650").to_crs("EPSG:4326").iloc[0]
    return [p.x, p.y]


def _write(path, features, datum="wgs84"):
    doc = {"type": "FeatureCollection", "features": features}
    if datum:
        doc["datum"] = datum
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def _feature(kind, name, xy=None, **props):
    geom = {"type": "Point", "coordinates": xy} if xy is not None else None
    return {"type": "Feature", "geometry": geom, "properties": {"kind": kind, "name": name,
                                                                  **props}}


def _ctx(root, scenario=None):
    ctx = StudyContext("tongzhou", data_dir=root, scenario=scenario)
    set_demand(ctx, [(7020, 6020), (9000, 9000)], [10.0, 30.0], ["东镇", "东镇"])
    return ctx


def test_added_fire_station_closes_the_gap(tmp_path):
    root = make_data_dir(tmp_path / "data")
    claim = _claim("drive_time_share", FIRE, {"value": 1.0, "comparator": ">=",
                                               "unit": "share", "year": 2030})
    before = evaluate_claim(_ctx(root), claim)
    assert before.value == pytest.approx(0.25) and before.verdict == "not_met"
    f = _write(tmp_path / "s.geojson", [_feature("fire_station", "规划站", _lonlat(9100, 9000),
                                                 opens=2028)])
    scen = load_scenario(f)
    after = evaluate_claim(_ctx(root, scen), claim)
    assert after.value == pytest.approx(1.0) and after.base_verdict == "met"


def test_remove_by_name(tmp_path):
    root = make_data_dir(tmp_path / "data")
    claim = _claim("drive_time_share", FIRE, {"value": 1.0, "comparator": ">=",
                                               "unit": "share", "year": 2030})
    f = _write(tmp_path / "s.geojson", [_feature("fire_station", "觅子店小型消防救援站",
                                                 action="remove")])
    after = evaluate_claim(_ctx(root, load_scenario(f)), claim)
    assert after.value == pytest.approx(0.0)


def test_gcj02_points_are_converted(tmp_path):
    lon, lat = _lonlat(9100, 9000)
    glon, glat = wgs84_to_gcj02(lon, lat)
    f = _write(tmp_path / "s.geojson", [_feature("fire_station", "站", [glon, glat])],
               datum="gcj02")
    scen = load_scenario(f)
    p = scen.added.geometry.iloc[0]
    assert abs(p.x - lon) < 1e-6 and abs(p.y - lat) < 1e-6


@pytest.mark.parametrize(("features", "datum", "kwargs", "message"), [
    ([{"type": "Feature", "geometry": None, "properties": {"name": "x"}}], "wgs84", {}, "kind"),
    ([_feature("fire_station", "a", [116.7, 39.8])], None, {}, "declares no datum"),
    ([_feature("fire_station", "a", [116.7, 39.8])], "wgs84", {"datum": "bd09"}, "agree"),
    ([_feature("spaceport", "a", [116.7, 39.8])], "wgs84", {}, "spaceport"),
    ([_feature("park", "a", [116.7, 39.8])], "wgs84", {}, "area_ha"),
])
def test_bad_scenarios(tmp_path, features, datum, kwargs, message):
    f = _write(tmp_path / "s.geojson", features, datum=datum)
    with pytest.raises(DataError, match=message):
        load_scenario(f, **kwargs)


def test_points_outside_area_are_refused(tmp_path):
    root = make_data_dir(tmp_path / "data")
    ctx = StudyContext("tongzhou", data_dir=root)
    f = _write(tmp_path / "s.geojson", [_feature("fire_station", "远站", _lonlat(-5000, 0))])
    with pytest.raises(DataError, match="outside"):
        load_scenario(f, area=ctx.area)


def _evaluate_fire_count(tmp_path, root, scenario):
    """`geo evaluate --scenario` with one toy claim (fire stations >= 2 by 2030): (result,
    JSON path)."""
    claims = tmp_path / "c.toml"
    claims.write_text(
        'schema_version = 1\ndocument_title = "toy"\n[[claims]]\nid = "F1"\ntitle_zh = "消防"\n'
        'title_en = "fire"\nquote = "消防"\nsource = { document = "toy.txt", line = 1 }\n'
        'target = { value = 2, comparator = ">=", unit = "count", year = 2030 }\n'
        'binding = "none"\nmetric = "facility_count"\n'
        'parameters = { facility_kind = "fire_station" }\n', encoding="utf-8")
    out = tmp_path / "o.json"
    res = run_cli("evaluate", "--area", "tongzhou", "--data-dir", str(root), "--claims",
                  str(claims), "--scenario", str(scenario), "--json", str(out),
                  "--cell-size-m", "1000")
    return res, out


def test_cli_scenario_before_after(tmp_path):
    root = make_data_dir(tmp_path / "data")
    f = _write(tmp_path / "s.geojson", [_feature("fire_station", "规划站", _lonlat(9100, 9000))])
    res, out = _evaluate_fire_count(tmp_path, root, f)
    assert res.returncode == 0, res.stderr
    d = json.loads(out.read_text(encoding="utf-8"))
    ch = d["changes"][0]
    assert (ch["before"], ch["after"], ch["change"]) == (2, 3, 1)
    assert d["scenario"]["added"][0]["name"] == "规划站"
    bad = _write(tmp_path / "b.geojson", [_feature("fire_station", "x", [116.7, 39.8])],
                 datum=None)
    res = run_cli("evaluate", "--area", "tongzhou", "--data-dir", str(root), "--scenario",
                  str(bad))
    assert res.returncode == 2 and "datum" in res.stderr


@pytest.mark.parametrize(("features", "message"), [
    (["oops"], "not a GeoJSON Feature"),
    ([{"type": "Feature", "geometry": {"type": "Point"},
       "properties": {"kind": "fire_station", "name": "x"}}], "invalid geometry"),
    ([{"type": "Feature", "geometry": {"type": "LineString",
                                       "coordinates": [[116.7, 39.8], [116.71, 39.8]]},
       "properties": {"kind": "park", "name": "带状公园"}}], "Polygon"),
])
def test_malformed_features_are_one_line_errors(tmp_path, features, message):
    f = _write(tmp_path / "s.geojson", features)
    with pytest.raises(DataError, match=message):
        load_scenario(f)


def test_removing_an_unknown_facility_is_refused(tmp_path):
    from geo.scenarios import check_removals

    root = make_data_dir(tmp_path / "data")
    ctx = StudyContext("tongzhou", data_dir=root)
    f = _write(tmp_path / "s.geojson", [_feature("fire_station", "不存在消防站", action="remove"),
                                        _feature("fire_station", "梨园消防站", action="remove")])
    with pytest.raises(DataError, match="不存在消防站"):
        check_removals(load_scenario(f), ctx.facilities)
    ok = _write(tmp_path / "ok.geojson", [_feature("fire_station", "梨园消防站", action="remove")])
    check_removals(load_scenario(ok), ctx.facilities)


def test_late_openings_are_flagged(tmp_path):
    root = make_data_dir(tmp_path / "data")
    f = _write(tmp_path / "s.geojson", [_feature("fire_station", "远期站", _lonlat(9100, 9000),
                                                 opens=2035)])
    res, out = _evaluate_fire_count(tmp_path, root, f)
    assert res.returncode == 0, res.stderr
    change = json.loads(out.read_text(encoding="utf-8"))["changes"][0]
    assert change["opens_after_target_year"] == ["远期站"]


def test_neighbours_alone_do_not_make_a_measurement(tmp_path):
    """Stations across the border serve the area, but with none mapped inside it the verdict
    rests on missing data: inconclusive. One inside makes it measurable again."""
    root = make_data_dir(tmp_path / "data")
    claim = _claim("drive_time_share", FIRE, {"value": 1.0, "comparator": ">=",
                                               "unit": "share", "year": 2030})
    only_outside = _write(tmp_path / "a.geojson", [
        _feature("fire_station", "梨园消防站", action="remove"),
        _feature("fire_station", "觅子店小型消防救援站", action="remove"),
        _feature("fire_station", "邻区站", _lonlat(-500, 6000))])
    r = evaluate_claim(_ctx(root, load_scenario(only_outside)), claim)
    assert r.verdict == "inconclusive" and "mapped inside" in r.notes[0]
    with_inside = _write(tmp_path / "b.geojson", [
        _feature("fire_station", "梨园消防站", action="remove"),
        _feature("fire_station", "邻区站", _lonlat(-500, 6000))])
    r = evaluate_claim(_ctx(root, load_scenario(with_inside)), claim)
    assert r.value is not None
