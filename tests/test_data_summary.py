"""``geo data summary`` through the real entry point: figures and one-line errors."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli
from tinydata import box, make_data_dir

KEYS = ["area_name", "osm_id", "area_km2", "crs", "rail_stations", "parks", "fire_stations",
        "expressway_entrances", "population", "population_source", "osm_data_date",
        "layers_missing"]


def _one_line_error(proc, *needles):
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and lines[0].startswith("error: ")
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return make_data_dir(tmp_path_factory.mktemp("summary") / "data")


def test_summary_json_tiny(tiny_dir):
    proc = run_cli("data", "summary", "--area", "tongzhou", "--json", "--data-dir", str(tiny_dir))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert list(out)[: len(KEYS)] == KEYS
    assert out["area_name"] == "通州区" and out["osm_id"] == 2988902
    assert out["area_km2"] == pytest.approx(100.0, rel=1e-3)
    assert (out["rail_stations"], out["parks"], out["fire_stations"]) == (5, 4, 2)
    # the surface evaluate uses (no census table here: WorldPop spread dasymetrically, so the
    # part of 东镇 inside carries its villages' weight), and the even areal split beside it
    from geo.population import population_surface

    _, info = population_surface("tongzhou", source="worldpop", data_dir=tiny_dir)
    assert out["population"] == round(info.total) and "WorldPop" in out["population_source"]
    assert out["population_worldpop"] == 100_000
    assert out["osm_data_date"] == "2025-01-02T03:04:05Z"
    assert out["expressway_entrances"] is None and "roads" in out["layers_missing"]
    assert any("expressway entrances" in n and "roads" in n for n in out["notes"])


def test_summary_table_tiny(tiny_dir):
    proc = run_cli("data", "summary", "--area", "通州", "--data-dir", str(tiny_dir),
                   env={"COLUMNS": "120"})
    assert proc.returncode == 0, proc.stderr
    assert "通州区" in proc.stdout and "rail stations" in proc.stdout
    assert "100,000" in proc.stdout and "roads" in proc.stdout and "note:" in proc.stdout


def test_summary_missing_data_dir(tmp_path):
    _one_line_error(run_cli("data", "summary", "--area", "tongzhou", "--data-dir",
                            str(tmp_path / "nope")), "does not exist", "--data-dir")


def test_summary_unknown_area(tiny_dir):
    _one_line_error(run_cli("data", "summary", "--area", "tongzou", "--data-dir", str(tiny_dir)),
                    "unknown area 'tongzou'", "did you mean tongzhou")


@pytest.mark.parametrize("content", [b"", b"not a shapefile" * 20])
def test_summary_corrupt_or_empty_shapefile(tmp_path, content):
    d = make_data_dir(tmp_path / "data")
    (d / "osm-tiny-2025-01-02" / "gis_osm_pois_a_free_1.shp").write_bytes(content)
    _one_line_error(run_cli("data", "summary", "--area", "tongzhou", "--data-dir", str(d)),
                    "gis_osm_pois_a_free_1.shp")


def _write_geojson(path, coords, crs=None):
    doc = {"type": "Feature", "properties": {},
           "geometry": {"type": "Polygon", "coordinates": [coords]}}
    if crs:
        doc = {"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": crs}},
               "features": [doc]}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return str(path)


def test_summary_geojson_crs_errors(tiny_dir, tmp_path):
    projected = [list(c) for c in box(1000, 1000, 3000, 3000).exterior.coords]
    p = _write_geojson(tmp_path / "noc.geojson", projected)
    _one_line_error(run_cli("data", "summary", "--area", p, "--data-dir", str(tiny_dir)),
                    "has no CRS", "EPSG:4326")
    p = _write_geojson(tmp_path / "wrong.geojson", projected, "EPSG:4326")
    _one_line_error(run_cli("data", "summary", "--area", p, "--data-dir", str(tiny_dir)),
                    "declares CRS EPSG:4326")


def test_summary_geojson_ok_and_outside(tiny_dir, tmp_path):
    inner = [list(c) for c in box(0, 0, 4500, 10_000).exterior.coords]
    p = _write_geojson(tmp_path / "west.geojson", inner, "EPSG:32650")
    proc = run_cli("data", "summary", "--area", p, "--json", "--data-dir", str(tiny_dir))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["osm_id"] is None and out["area_km2"] == pytest.approx(45.0, rel=1e-3)
    # 90 % of 西镇 (50,000 people); stations 甲 and 戊 (乙 lies at x = 5 km)
    # the areal split (WorldPop as published) is 45,000; the surface evaluate uses places
    # people by ancillary data, most of 西镇's inside this box
    assert out["population_worldpop"] == 45_000 and out["rail_stations"] == 2
    assert 40_000 < out["population"] <= 50_000
    far = _write_geojson(tmp_path / "far.geojson", [[10, 50], [10.1, 50], [10.1, 50.1],
                                                     [10, 50.1], [10, 50]])
    _one_line_error(run_cli("data", "summary", "--area", far, "--data-dir", str(tiny_dir)),
                    "does not intersect")


@pytest.mark.shared
def test_summary_shared_tongzhou(shared_data_dir):
    proc = run_cli("data", "summary", "--area", "tongzhou", "--json", "--data-dir",
                   str(shared_data_dir))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert list(out)[: len(KEYS)] == KEYS
    assert out["area_name"] == "通州区" and out["osm_id"] == 2988902
    assert out["area_km2"] == pytest.approx(905.3, abs=0.1) and out["crs"] == "EPSG:32650"
    # 36 railway stations + 3 T1 tram stops (trams are rail transit)
    assert (out["rail_stations"], out["parks"], out["fire_stations"]) == (39, 453, 7)
    # the census-adjusted surface evaluate and report use, WorldPop as published beside it
    assert out["population"] == pytest.approx(1_857_312, rel=0.001)
    assert "census" in out["population_source"] and "ancillary" in out["population_source"]
    assert out["population_worldpop"] == pytest.approx(1.28e6, rel=0.01)
    assert any("1,857,3" in n and "as published" in n for n in out["notes"])
    assert out["osm_data_date"].startswith("2026-06-07")
    assert {"roads", "buildings_a", "landuse_a"} <= set(out["layers_missing"])
    assert out["expressway_entrances"] is None


@pytest.mark.shared
def test_summary_nanjing_xml_has_entrances(shared_data_dir, nanjing_xml, tmp_path):
    p = _write_geojson(tmp_path / "nj.geojson", [[118.74, 32.0], [118.82, 32.0], [118.82, 32.08],
                                                 [118.74, 32.08], [118.74, 32.0]])
    proc = run_cli("data", "summary", "--area", p, "--osm", str(nanjing_xml), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["expressway_entrances"] >= 1 and out["rail_stations"] == 5
    assert out["population"] is None  # the Beijing population layer does not cover Nanjing
    assert out["osm_data_date"] == "2021-06-12T07:41:41Z"
