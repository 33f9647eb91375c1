"""geo.areas: districts by name, 西城区 derivation, GeoJSON polygons and their CRS checks."""

from __future__ import annotations

import json
import math

import geopandas as gpd
import pytest
import shapely
from tinydata import box, make_data_dir

from geo import areas
from geo.errors import CRSError, DataError, DataNotFoundError, UnknownAreaError


@pytest.fixture
def tiny_dir(tmp_path):
    return make_data_dir(tmp_path / "data")


@pytest.mark.parametrize("name", ["通州区", "通州", "tongzhou", "Tongzhou", "Tongzhou District",
                                  " TONGZHOU ", "2988902"])
def test_district_names_resolve(tiny_dir, name):
    a = areas.get_area(name, data_dir=tiny_dir)
    assert (a.name, a.name_en, a.osm_id) == ("通州区", "Tongzhou", 2988902)
    assert a.area_km2 == pytest.approx(100.0, rel=1e-3)  # the 10 km square
    assert a.geometry_m.bounds[0] == pytest.approx(460_000, abs=1)


def test_area_metric_and_gdf(tiny_dir):
    a = areas.get_area("tongzhou", data_dir=tiny_dir)
    gdf = a.to_gdf()
    assert gdf.crs.to_epsg() == 4326 and list(gdf["name"]) == ["通州区"]
    assert gdf["area_km2"].iloc[0] == pytest.approx(100.0, rel=1e-3)
    grown = a.bounds(buffer_m=1000)
    assert grown[0] < a.geometry.bounds[0] - 0.01 and grown[1] < a.geometry.bounds[1] - 0.008
    assert grown[2] > a.geometry.bounds[2] + 0.01 and grown[3] > a.geometry.bounds[3] + 0.008


def test_missing_district_derived_from_level7_parent(tiny_dir):
    ds = {d.name: d for d in areas.districts(data_dir=tiny_dir)}
    assert set(ds) == {"东城区", "西城区", "通州区"}
    xicheng = ds["西城区"]
    assert xicheng.osm_id is None
    assert xicheng.area_km2 == pytest.approx(4.0, rel=1e-3)  # 首都功能核心区 8 km² minus 东城区 4
    assert xicheng.geometry.intersection(ds["东城区"].geometry).area < 1e-9
    beijing = areas.get_area("beijing", data_dir=tiny_dir)
    assert beijing.area_km2 == pytest.approx(100.0 + 4.0 + 4.0, rel=1e-3)
    assert areas.get_area("xicheng", data_dir=tiny_dir).name == "西城区"


def test_other_admin_unit_by_exact_name(tiny_dir):
    a = areas.get_area("西镇", data_dir=tiny_dir)
    assert a.osm_id == 101 and a.area_km2 == pytest.approx(50.0, rel=1e-3)


def test_unknown_area_suggests_closest(tiny_dir):
    with pytest.raises(UnknownAreaError) as exc:
        areas.get_area("tongzou", data_dir=tiny_dir)
    msg = str(exc.value)
    assert "'tongzou'" in msg and "did you mean tongzhou" in msg and "\n" not in msg
    with pytest.raises(UnknownAreaError, match="通州区"):
        areas.get_area("通洲", data_dir=tiny_dir)


def test_townships_clipped(tiny_dir):
    t = areas.townships("tongzhou", data_dir=tiny_dir)
    assert list(t.columns) == ["name", "osm_id", "geometry"] and t.crs.to_epsg() == 4326
    assert sorted(t["name"]) == ["东镇", "西镇"]
    assert t.to_crs(32650).area.sum() / 1e6 == pytest.approx(100.0, rel=1e-3)


def test_missing_admin_layer(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="adminareas_a"):
        areas.get_area("tongzhou", data_dir=tmp_path / "empty")


def test_corrupt_admin_layer(tmp_path):
    d = make_data_dir(tmp_path / "data")
    shp = d / "osm-tiny-2025-01-02" / "gis_osm_adminareas_a_free_1.shp"
    shp.write_bytes(b"this is not a shapefile" * 10)
    areas.clear_cache()
    with pytest.raises(DataError, match="no valid header"):
        areas.get_area("tongzhou", data_dir=d)
    shp.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        areas.get_area("tongzhou", data_dir=d)


def _geojson(path, coords, crs_name=None):
    doc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "box"},
           "geometry": {"type": "Polygon", "coordinates": [coords]}}]}
    if crs_name:
        doc["crs"] = {"type": "name", "properties": {"name": crs_name}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_geojson_wgs84(tmp_path):
    p = _geojson(tmp_path / "a.geojson", [[116.6, 39.8], [116.7, 39.8], [116.7, 39.9],
                                          [116.6, 39.9], [116.6, 39.8]])
    a = areas.get_area(str(p))
    assert a.name == "box" and a.osm_id is None
    # 0.1 deg x 0.1 deg at 39.85 N: 111.2 km * cos(39.85) * 0.1 * 11.1 km, about 95 km²
    expected = 0.1 * 111.32 * math.cos(math.radians(39.85)) * 0.1 * 111.0
    assert a.area_km2 == pytest.approx(expected, rel=0.01)


def test_geojson_declared_projected_crs_is_reprojected(tmp_path):
    b = box(0, 0, 2000, 3000)
    coords = [list(c) for c in b.exterior.coords]
    p = _geojson(tmp_path / "m.geojson", coords, "urn:ogc:def:crs:EPSG::32650")
    a = areas.area_from_geojson(p)
    assert a.area_km2 == pytest.approx(6.0, rel=1e-3)
    assert 116 < a.geometry.centroid.x < 117


def test_geojson_projected_numbers_without_crs(tmp_path):
    coords = [list(c) for c in box(0, 0, 2000, 3000).exterior.coords]
    p = _geojson(tmp_path / "p.geojson", coords)
    with pytest.raises(CRSError, match="not longitude/latitude degrees.*EPSG:4326"):
        areas.get_area(str(p))


def test_geojson_declared_crs_mismatch(tmp_path):
    coords = [list(c) for c in box(0, 0, 2000, 3000).exterior.coords]
    p = _geojson(tmp_path / "w.geojson", coords, "urn:ogc:def:crs:OGC:1.3:CRS84")
    with pytest.raises(CRSError, match="declares CRS .* look like projected numbers"):
        areas.get_area(p)
    p2 = _geojson(tmp_path / "w2.geojson", [[116.6, 39.8], [116.7, 39.8], [116.7, 39.9],
                                            [116.6, 39.8]], "EPSG:32650")
    with pytest.raises(CRSError, match="look like degrees"):
        areas.get_area(p2)


def test_geojson_without_polygon_or_broken(tmp_path):
    p = tmp_path / "pt.geojson"
    gpd.GeoDataFrame(geometry=[shapely.Point(116.6, 39.8)], crs=4326).to_file(p)
    with pytest.raises(DataError, match="no Polygon"):
        areas.get_area(str(p))
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="cannot be parsed"):
        areas.get_area(str(bad))
    with pytest.raises(DataNotFoundError):
        areas.get_area(str(tmp_path / "nope.geojson"))


@pytest.mark.shared
def test_shared_sixteen_districts(shared_data_dir):
    ds = areas.districts(data_dir=shared_data_dir)
    assert len(ds) == 16 and {d.name for d in ds} == set(areas.BEIJING_DISTRICTS)
    tz = areas.get_area("tongzhou", data_dir=shared_data_dir)
    assert tz.osm_id == 2988902 and tz.area_km2 == pytest.approx(905.3, abs=0.1)
    xc = areas.get_area("西城区", data_dir=shared_data_dir)
    assert xc.osm_id is None and xc.area_km2 == pytest.approx(50.5, abs=0.5)  # official 50.7
    bj = areas.get_area("beijing", data_dir=shared_data_dir)
    assert bj.area_km2 == pytest.approx(sum(d.area_km2 for d in ds), rel=1e-3)
    assert 16_300 < bj.area_km2 < 16_450  # official 16,410 km²


@pytest.mark.shared
def test_shared_tongzhou_townships(shared_data_dir):
    t = areas.townships("通州区", data_dir=shared_data_dir)
    assert {"宋庄镇", "梨园镇", "潞城镇", "永乐店镇"} <= set(t["name"])
    assert t.to_crs(32650).area.sum() / 1e6 == pytest.approx(905.3, rel=0.01)


def test_geojson_area_in_gcj02_is_converted(tmp_path):
    """A polygon traced on Amap (GCJ-02) declares its datum and comes back in WGS84."""
    import json

    from geo.coords import wgs84_to_gcj02

    ring = [(116.60, 39.85), (116.70, 39.85), (116.70, 39.92), (116.60, 39.92), (116.60, 39.85)]
    shifted = [list(wgs84_to_gcj02(x, y)) for x, y in ring]
    doc = {"type": "FeatureCollection", "datum": "gcj02", "features": [
        {"type": "Feature", "properties": {"name": "核心区"},
         "geometry": {"type": "Polygon", "coordinates": [shifted]}}]}
    path = tmp_path / "core.geojson"
    path.write_text(json.dumps(doc), encoding="utf-8")
    a = areas.area_from_geojson(path)
    minx, miny, maxx, maxy = a.geometry.bounds
    assert (minx, miny, maxx, maxy) == pytest.approx((116.60, 39.85, 116.70, 39.92), abs=1e-7)


def test_truncated_admin_layer_is_an_error_not_fewer_districts(tmp_path):
    """A .shp cut short would silently lose districts (Beijing 6,759 km² instead of 16,395)."""
    d = make_data_dir(tmp_path / "data")
    shp = d / "osm-tiny-2025-01-02" / "gis_osm_adminareas_a_free_1.shp"
    with open(shp, "r+b") as fh:
        fh.truncate(shp.stat().st_size - 100)
    areas.clear_cache()
    with pytest.raises(DataError, match="truncated"):
        areas.get_area("beijing", data_dir=d)


def test_dbf_and_shx_record_counts_must_agree(tmp_path):
    import struct

    d = make_data_dir(tmp_path / "data")
    dbf = d / "osm-tiny-2025-01-02" / "gis_osm_adminareas_a_free_1.dbf"
    raw = bytearray(dbf.read_bytes())
    n = struct.unpack("<I", raw[4:8])[0]
    raw[4:8] = struct.pack("<I", n - 1)  # one record fewer declared
    dbf.write_bytes(bytes(raw))
    areas.clear_cache()
    with pytest.raises(DataError, match=f"{n} shapes but its attribute table has {n - 1}"):
        areas.get_area("tongzhou", data_dir=d)


@pytest.mark.parametrize("coords, match", [
    ([[-180, -90], [180, -90], [180, 90], [-180, 90], [-180, -90]], "spans 360.0°"),
    ([[116.5, 39.8], [116.5 + 1e-7, 39.8], [116.5 + 1e-7, 39.8 + 1e-7], [116.5, 39.8]],
     "covers"),
])
def test_study_area_size_and_zone_are_checked(tmp_path, coords, match):
    import json

    f = tmp_path / "a.geojson"
    f.write_text(json.dumps({"type": "Feature", "properties": {},
                             "geometry": {"type": "Polygon", "coordinates": [coords]}}))
    from geo.errors import GeoError

    with pytest.raises(GeoError, match=match):
        areas.get_area(f)
