"""geo.sources: Geofabrik folders, OSM PBF (pyrosm) and XML (osmnx) into the same layers."""

from __future__ import annotations

import shutil

import pytest
import shapely
from tinydata import make_data_dir, make_geofabrik

from geo.areas import Area, get_area
from geo.errors import DataError, DataNotFoundError, EmptyResultError
from geo.sources import OsmData, load_osm, osmfile
from geo.sources import geofabrik as gf

TINY_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
<meta osm_base="2024-05-06T07:08:09Z"/>
  <node id="1" lat="39.80" lon="116.60"><tag k="railway" v="station"/><tag k="station" v="subway"/><tag k="name" v="甲站"/></node>
  <node id="2" lat="39.80" lon="116.61"><tag k="amenity" v="fire_station"/><tag k="name" v="消防站"/></node>
  <node id="3" lat="39.81" lon="116.60"><tag k="place" v="village"/><tag k="name" v="村"/></node>
  <node id="4" lat="39.81" lon="116.61"><tag k="highway" v="bus_stop"/></node>
  <node id="10" lat="39.82" lon="116.60"/>
  <node id="11" lat="39.82" lon="116.601"/>
  <node id="12" lat="39.821" lon="116.601"/>
  <node id="13" lat="39.821" lon="116.60"/>
  <node id="20" lat="39.79" lon="116.59"/>
  <node id="21" lat="39.79" lon="116.62"/>
  <node id="22" lat="39.78" lon="116.59"/>
  <way id="100"><nd ref="10"/><nd ref="11"/><nd ref="12"/><nd ref="13"/><nd ref="10"/><tag k="leisure" v="park"/><tag k="name" v="小公园"/></way>
  <way id="101"><nd ref="20"/><nd ref="21"/><tag k="railway" v="subway"/><tag k="name" v="1号线"/></way>
  <way id="102"><nd ref="20"/><nd ref="22"/><tag k="highway" v="motorway_link"/><tag k="oneway" v="yes"/><tag k="maxspeed" v="60"/></way>
  <way id="103"><nd ref="21"/><nd ref="22"/><tag k="highway" v="primary"/><tag k="oneway" v="-1"/><tag k="bridge" v="yes"/></way>
</osm>
"""


@pytest.fixture
def tiny_dir(tmp_path):
    return make_data_dir(tmp_path / "data")


def test_geofabrik_subset_and_missing_layers(tiny_dir):
    folder = gf.find_geofabrik_folder(tiny_dir)
    assert folder.name == "osm-tiny-2025-01-02"
    osm = gf.load_geofabrik(folder, layers=["transport", "pois_a", "roads"])
    assert isinstance(osm, OsmData)
    assert set(osm.layers) == {"transport", "pois_a"}
    assert "roads" in osm.layers_missing and "buildings_a" in osm.layers_missing
    assert "transport" not in osm.layers_missing
    assert osm.osm_data_date == "2025-01-02T03:04:05Z"
    t = osm.layers["transport"]
    assert list(t.columns[:3]) == ["osm_id", "fclass", "name"] and t.crs.to_epsg() == 4326
    assert t["osm_id"].map(type).eq(str).all()
    assert len(osm.layer("roads")) == 0 and list(osm.layer("roads").columns) == \
        ["osm_id", "fclass", "name", "geometry"]


def test_geofabrik_date_from_folder_name_and_bbox(tmp_path):
    folder = make_geofabrik(tmp_path / "osm-x-2023-04-05", readme=False)
    assert gf.osm_data_date(folder) == "2023-04-05"
    full = gf.read_layer(folder, "transport")
    x0, y0, x1, y1 = full.total_bounds
    part = gf.read_layer(folder, "transport", bbox=(x0 - 1, y0 - 1, (x0 + x1) / 2, y1 + 1))
    assert 0 < len(part) < len(full)
    assert set(part["osm_id"]) == set(full[full.geometry.x <= (x0 + x1) / 2]["osm_id"])


def test_geofabrik_prefers_folder_with_roads(tmp_path):
    make_geofabrik(tmp_path / "a-2020-01-01")
    b = make_geofabrik(tmp_path / "b-2019-01-01")
    shutil.copy(b / "gis_osm_railways_free_1.shp", b / "gis_osm_roads_free_1.shp")
    for ext in ("dbf", "shx", "prj", "cpg"):
        shutil.copy(b / f"gis_osm_railways_free_1.{ext}", b / f"gis_osm_roads_free_1.{ext}")
    assert gf.find_geofabrik_folder(tmp_path) == b
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="no Geofabrik shapefile folder"):
        gf.find_geofabrik_folder(tmp_path / "empty")
    with pytest.raises(DataNotFoundError, match="does not exist"):
        gf.find_geofabrik_folder(tmp_path / "nowhere")


@pytest.mark.parametrize("content", [b"", b"garbage" * 50])
def test_geofabrik_corrupt_or_empty_layer(tmp_path, content):
    folder = make_geofabrik(tmp_path / "osm-2024-01-01")
    (folder / "gis_osm_pois_free_1.shp").write_bytes(content)
    with pytest.raises(DataError, match=r"gis_osm_pois_free_1\.shp .*re-download"):
        gf.load_geofabrik(folder, layers=["pois"])
    osm = gf.load_geofabrik(folder, layers=["transport"])  # other layers still load
    assert len(osm.layers["transport"]) == 6


def test_geofabrik_wrong_columns(tmp_path):
    import geopandas as gpd

    folder = tmp_path / "g"
    folder.mkdir()
    gpd.GeoDataFrame({"foo": [1]}, geometry=[shapely.Point(116, 39)], crs=4326).to_file(
        folder / "gis_osm_pois_free_1.shp")
    with pytest.raises(DataError, match="lacks column"):
        gf.read_layer(folder, "pois")


def test_load_osm_auto_geofabrik_and_area_filter(tiny_dir):
    area = get_area("tongzhou", data_dir=tiny_dir)
    osm = load_osm(area, data_dir=tiny_dir)
    assert osm.source.startswith("Geofabrik") and osm.path.name == "osm-tiny-2025-01-02"
    # the read box is the area's box + 2 km: 丁 (2 km west) is read, 外站 (3 km west) is not
    assert "5" in set(osm.layers["transport"]["osm_id"])
    assert "32" not in set(osm.layers["pois"]["osm_id"])


def test_load_osm_area_outside_data(tiny_dir):
    far = Area("far", "far", None, shapely.box(10.0, 50.0, 10.1, 50.1))
    with pytest.raises(EmptyResultError, match="does not intersect the data"):
        load_osm(far, data_dir=tiny_dir)


def test_load_osm_no_source(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(DataNotFoundError, match="no Geofabrik shapefile folder"):
        load_osm(None, data_dir=tmp_path / "d")


def test_tiny_xml_maps_to_geofabrik_classes(tmp_path):
    p = tmp_path / "tiny.osm"
    p.write_text(TINY_XML, encoding="utf-8")
    osm = load_osm(None, path=p, layers=[*osmfile.DEFAULT_LAYERS, "roads"])
    assert osm.osm_data_date == "2024-05-06T07:08:09Z" and osm.path == p
    L = osm.layers
    st = L["transport"]
    assert dict(zip(st["osm_id"], st["fclass"])) == {"1": "railway_station", "4": "bus_stop"}
    assert st.loc[st["osm_id"] == "1", "station"].iloc[0] == "subway"
    assert list(L["pois"]["fclass"]) == ["fire_station"]
    assert list(L["pois_a"]["fclass"]) == ["park"] and list(L["pois_a"]["name"]) == ["小公园"]
    assert L["pois_a"].geometry.iloc[0].geom_type == "Polygon"
    assert list(L["places"]["fclass"]) == ["village"]
    assert list(L["railways"]["fclass"]) == ["subway"]
    roads = L["roads"].set_index("osm_id")
    assert roads.loc["102", "oneway"] == "F" and roads.loc["102", "maxspeed"] == 60
    assert roads.loc["103", "oneway"] == "T" and roads.loc["103", "bridge"] == "T"
    assert len(L["transport_a"]) == 0 and osm.layers_missing == []


def test_xml_and_pbf_errors(tmp_path):
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"\x00\x00\x00\x05hello")
    with pytest.raises(DataError, match="not a readable OSM PBF"):
        load_osm(None, path=bad)
    with pytest.raises(DataNotFoundError):
        load_osm(None, path=tmp_path / "missing.osm")


def test_helsinki_pbf(helsinki_pbf):
    hdr = osmfile.pbf_header(helsinki_pbf)
    minx, miny, maxx, maxy = hdr["bbox"]
    assert minx < 24.94 < maxx and miny < 60.17 < maxy
    osm = load_osm(None, path=helsinki_pbf)
    assert osm.source.startswith("OSM PBF") and osm.layers_missing == []
    L = osm.layers
    assert (L["transport"]["fclass"] == "railway_station").sum() >= 1
    assert (L["pois_a"]["fclass"] == "park").sum() >= 5
    assert {"tram", "subway", "rail"} <= set(L["railways"]["fclass"])
    for frame in L.values():
        assert list(frame.columns[:3]) == ["osm_id", "fclass", "name"]
        assert frame.crs.to_epsg() == 4326


def test_helsinki_pbf_vs_tongzhou(helsinki_pbf, shared_data_dir):
    with pytest.raises(EmptyResultError, match="does not intersect"):
        load_osm("tongzhou", data_dir=shared_data_dir, path=helsinki_pbf)


@pytest.mark.shared
def test_nanjing_xml(nanjing_xml):
    osm = load_osm(None, path=nanjing_xml)
    assert osm.osm_data_date == "2021-06-12T07:41:41Z"
    stations = osm.layers["transport_a"]
    assert (stations["fclass"] == "railway_station").sum() == 7  # the README's 7 stations
    assert (osm.layers["pois_a"]["fclass"] == "park").sum() == 6  # and 6 parks
    assert set(osm.layers["railways"]["fclass"]) == {"subway"}


@pytest.mark.shared
def test_shared_bundle_tongzhou_layers(shared_data_dir):
    osm = load_osm("tongzhou", data_dir=shared_data_dir)
    assert osm.osm_data_date == "2026-06-07T20:21:20Z"
    assert {"roads", "buildings_a", "landuse_a"} <= set(osm.layers_missing)
    assert not {"transport", "pois_a", "railways"} & set(osm.layers_missing)
    assert len(osm.layers["pois_a"]) > 1000


def test_load_osm_overpass_respects_offline(monkeypatch):
    from geo import settings
    from geo.errors import OfflineError

    monkeypatch.setattr(settings, "offline", True)
    area = Area("box", "box", None, shapely.box(116.6, 39.8, 116.61, 39.81))
    with pytest.raises(OfflineError):
        load_osm(area, source="overpass")
    with pytest.raises(Exception, match="not one of"):
        load_osm(area, source="bogus")


def test_half_unpacked_staging_folder_is_ignored(tmp_path):
    """A '.…tmp' folder left by an interrupted 'geo data fetch' never wins over real data."""
    from tinydata import make_geofabrik

    from geo.sources.geofabrik import find_geofabrik_folder

    real = make_geofabrik(tmp_path / "osm-beijing-2026-06-07")
    make_geofabrik(tmp_path / ".geofabrik-beijing-2026-07-01.k3j2.tmp")
    assert find_geofabrik_folder(tmp_path) == real
