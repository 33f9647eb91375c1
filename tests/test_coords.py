"""geo.coords: datum conversions against published reference pairs, round trips, datum check."""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from geo.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    convert,
    convert_gdf,
    detect_datum_offset,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    haversine_m,
    out_of_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from geo.errors import CRSError, DataError

# --------------------------------------------------------------------------- reference pairs
# (lon, lat) -> (lon, lat). Sources:
# [CT]  wandergis/coordtransform, test/app.js (the "//result" block for input 116.404, 39.915)
# [ET]  googollee/eviltransform, python/test.py TESTS (Shanghai, Shenzhen, Beijing; given there
#       as lat, lng and reordered here)
# [CTR] athxx/coordtransform-rs, tests in src/lib.rs (wgs84_to_bd09 for 116.404, 39.915)
# eviltransform's TESTS_bd (BD-09 pairs) are NOT used: PRCoords' README documents parameter
# errors in eviltransform's BD-09 code (googollee/eviltransform #43, #44, #53).
FORWARD_REFERENCES = [
    # function, input, expected, source
    (wgs84_to_gcj02, (116.404, 39.915), (116.41024449916938, 39.91640428150164), "CT"),
    (gcj02_to_bd09, (116.404, 39.915), (116.41036949371029, 39.92133699351021), "CT"),
    (bd09_to_gcj02, (116.404, 39.915), (116.39762729119315, 39.90865673957631), "CT"),
    (wgs84_to_gcj02, (121.5272106, 31.1774276), (121.531541859215, 31.17530398364597), "ET"),
    (wgs84_to_gcj02, (113.912316, 22.543847), (113.9171764808363, 22.540796131694766), "ET"),
    (wgs84_to_gcj02, (116.377817, 39.911954), (116.38404722455657, 39.91334545536069), "ET"),
    (wgs84_to_bd09, (116.404, 39.915), (116.41662724378733, 39.922699552216216), "CTR"),
]


@pytest.mark.parametrize("func, inp, expected, source", FORWARD_REFERENCES)
def test_forward_conversions_match_published_pairs(func, inp, expected, source):
    lon, lat = func(*inp)
    assert lon == pytest.approx(expected[0], abs=1e-9), source
    assert lat == pytest.approx(expected[1], abs=1e-9), source


@pytest.mark.parametrize("wgs, gcj", [
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597)),
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766)),
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069)),
])
def test_gcj_inverse_recovers_eviltransform_pairs(wgs, gcj):
    # [ET] asserts < 0.5 m for its "exact" inverse; the iteration here should do far better.
    lon, lat = gcj02_to_wgs84(*gcj)
    assert haversine_m(lon, lat, *wgs) < 0.01


def test_exact_inverse_beats_the_one_step_published_inverse():
    # [CT] gcj02towgs84(116.404, 39.915) and [CTR] bd09_to_wgs84(116.404, 39.915) are the
    # one-step approximations (metre-level); ours must be close to them and re-encode exactly.
    rough_gcj = (116.39775550083061, 39.91359571849836)
    rough_bd = (116.3913836995125, 39.907253214522164)
    ours = gcj02_to_wgs84(116.404, 39.915)
    assert haversine_m(*ours, *rough_gcj) < 2.0
    assert haversine_m(*wgs84_to_gcj02(*ours), 116.404, 39.915) < 1e-4
    assert haversine_m(*wgs84_to_gcj02(*rough_gcj), 116.404, 39.915) > 0.05
    ours_bd = bd09_to_wgs84(116.404, 39.915)
    assert haversine_m(*ours_bd, *rough_bd) < 2.0
    assert haversine_m(*wgs84_to_bd09(*ours_bd), 116.404, 39.915) < 0.5


def test_gcj_bd_pair_observed_at_beijing_railway_station():
    # caijun/geoChina, man/bd2gcj.Rd example: Beijing railway station, GCJ-02 (39.90245,
    # 116.42703) and BD-09 (39.90851, 116.43351), 5 decimals (about 1 m).
    assert gcj02_to_bd09(116.42703, 39.90245) == pytest.approx((116.43351, 39.90851), abs=2e-5)
    assert bd09_to_gcj02(116.43351, 39.90851) == pytest.approx((116.42703, 39.90245), abs=2e-5)


# --------------------------------------------------------------------------- round trips

def _beijing_grid(n=60):
    lon, lat = np.meshgrid(np.linspace(115.42, 117.51, n), np.linspace(39.44, 41.06, n))
    return lon, lat


def test_round_trip_error_over_beijing_grid_is_below_one_metre():
    lon, lat = _beijing_grid()
    err_gcj = haversine_m(lon, lat, *gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat)))
    err_bd = haversine_m(lon, lat, *bd09_to_wgs84(*wgs84_to_bd09(lon, lat)))
    # the other direction: a GCJ-02 / BD-09 point decoded then re-encoded
    err_gcj_rev = haversine_m(lon, lat, *wgs84_to_gcj02(*gcj02_to_wgs84(lon, lat)))
    assert err_gcj.shape == lon.shape
    assert err_gcj.max() < 1e-3           # iteration to 1e-10 degrees
    assert err_gcj_rev.max() < 1e-3
    assert err_bd.max() < 1.0             # Baidu's closed-form inverse: decimetre level
    # and the shift being undone is real: hundreds of metres
    shift = haversine_m(lon, lat, *wgs84_to_gcj02(lon, lat))
    assert 300 < shift.min() and shift.max() < 800


def test_round_trip_over_all_of_china_is_below_one_metre():
    lon, lat = np.meshgrid(np.linspace(73.6, 134.7, 80), np.linspace(18.2, 53.5, 80))
    for fwd, inv in ((wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84),
                     (gcj02_to_bd09, bd09_to_gcj02)):
        err = haversine_m(lon, lat, *inv(*fwd(lon, lat)))
        assert err.max() < 1.0, fwd.__name__


def test_points_outside_china_are_untouched_and_mixed_arrays_work():
    lon = np.array([2.3522, 116.404, -74.006, 151.2093])
    lat = np.array([48.8566, 39.915, 40.7128, -33.8688])
    assert out_of_china(lon, lat).tolist() == [True, False, True, True]
    for src, dst in (("wgs84", "gcj02"), ("gcj02", "wgs84"), ("wgs84", "bd09"), ("bd09", "wgs84"),
                     ("gcj02", "bd09"), ("bd09", "gcj02")):
        out_lon, out_lat = convert(lon, lat, src=src, dst=dst)
        outside = out_of_china(lon, lat)
        np.testing.assert_array_equal(out_lon[outside], lon[outside])
        np.testing.assert_array_equal(out_lat[outside], lat[outside])
        assert out_lon[1] != lon[1]
    assert wgs84_to_gcj02(2.3522, 48.8566) == (2.3522, 48.8566)


def test_scalars_give_floats_arrays_give_arrays_and_inputs_are_not_modified():
    lon, lat = wgs84_to_gcj02(116.6, 39.9)
    assert isinstance(lon, float) and isinstance(lat, float)
    arr_lon, arr_lat = np.array([116.6, 116.7]), np.array([39.9, 39.8])
    keep = arr_lon.copy()
    out = wgs84_to_gcj02(arr_lon, arr_lat)
    assert isinstance(out[0], np.ndarray) and out[0].shape == (2,)
    np.testing.assert_array_equal(arr_lon, keep)
    # lists and broadcasting a scalar latitude
    out2 = gcj02_to_wgs84([116.6, 116.7], 39.9)
    assert out2[0].shape == (2,)
    assert out2[0][0] == pytest.approx(gcj02_to_wgs84(116.6, 39.9)[0])


def test_convert_is_composition_and_identity_and_rejects_unknown_datum():
    assert convert(116.6, 39.9, src="wgs84", dst="bd09") == gcj02_to_bd09(
        *wgs84_to_gcj02(116.6, 39.9))
    assert convert(116.6, 39.9, src="GCJ-02", dst="gcj02") == (116.6, 39.9)
    assert convert(116.6, 39.9, src="baidu", dst="wgs84") == bd09_to_wgs84(116.6, 39.9)
    with pytest.raises(DataError, match="src='cgcs2000'"):
        convert(116.6, 39.9, src="cgcs2000", dst="wgs84")


def test_convert_gdf_converts_every_vertex_of_every_geometry():
    pt = Point(116.65, 39.90)
    line = LineString([(116.60, 39.85), (116.70, 39.95)])
    poly = Polygon([(116.6, 39.8), (116.7, 39.8), (116.7, 39.9), (116.6, 39.8)])
    gdf = gpd.GeoDataFrame({"name": ["a", "b", "c", "d"]}, geometry=[pt, line, poly, None],
                           crs="EPSG:4326")
    out = convert_gdf(gdf, src="gcj02", dst="wgs84")
    assert out.crs.to_epsg() == 4326
    assert list(out["name"]) == ["a", "b", "c", "d"]
    assert out.geometry.iloc[3] is None
    for before, after in zip(gdf.geometry.iloc[:3], out.geometry.iloc[:3], strict=True):
        xy = shapely.get_coordinates(before)
        exp = np.column_stack(gcj02_to_wgs84(xy[:, 0], xy[:, 1]))
        np.testing.assert_allclose(shapely.get_coordinates(after), exp, rtol=0, atol=1e-12)
        assert after.geom_type == before.geom_type
    assert gdf.geometry.iloc[0].equals(pt)  # input untouched
    back = convert_gdf(out, src="wgs84", dst="gcj02")
    assert haversine_m(back.geometry.iloc[0].x, back.geometry.iloc[0].y, pt.x, pt.y) < 1e-3


def test_convert_gdf_rejects_projected_frames():
    gdf = gpd.GeoDataFrame(geometry=[Point(116.65, 39.90)], crs="EPSG:4326").to_crs("EPSG:32650")
    with pytest.raises(CRSError, match="EPSG:32650"):
        convert_gdf(gdf, src="gcj02", dst="wgs84")
    no_crs = gpd.GeoDataFrame(geometry=[Point(450000, 4400000)])
    with pytest.raises(CRSError, match="not longitude/latitude"):
        convert_gdf(no_crs, src="gcj02", dst="wgs84")


# --------------------------------------------------------------------------- datum check

def _osm_places(n=12, seed=0):
    rng = np.random.default_rng(seed)
    lon = rng.uniform(116.55, 116.85, n)
    lat = rng.uniform(39.70, 40.00, n)
    names = [f"站{i}" for i in range(n)]
    return gpd.GeoDataFrame({"name": names}, geometry=gpd.points_from_xy(lon, lat),
                            crs="EPSG:4326")


def _user_from(osm, lon, lat, noise_m=30.0, seed=1):
    rng = np.random.default_rng(seed)
    k = 1 / 111_320.0
    lon = lon + rng.normal(0, noise_m, len(lon)) * k / np.cos(np.radians(lat))
    lat = lat + rng.normal(0, noise_m, len(lat)) * k
    return gpd.GeoDataFrame({"name": list(osm["name"])}, geometry=gpd.points_from_xy(lon, lat),
                            crs="EPSG:4326")


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_detect_datum_offset_flags_shifted_points(datum, caplog):
    osm = _osm_places()
    lon, lat = convert(osm.geometry.x.to_numpy(), osm.geometry.y.to_numpy(),
                       src="wgs84", dst=datum)
    user = _user_from(osm, lon, lat)
    with caplog.at_level(logging.WARNING, logger="geo.coords"):
        res = detect_datum_offset(user, osm)
    assert res.warn and res.likely_datum == datum
    assert res.n_matched == 12 and res.consistent_fraction >= 0.9
    assert datum.upper() in res.message and f"datum={datum}" in res.message
    assert any(r.levelno == logging.WARNING and datum.upper() in r.getMessage()
               for r in caplog.records)
    # GCJ-02 in Tongzhou is ~500 m to the east-north-east; BD-09 ~1.3 km north-east
    lo, hi = (300, 700) if datum == "gcj02" else (1000, 1600)
    assert lo < res.median_offset_m < hi
    assert 30 < res.median_bearing_deg < 90
    assert res.median_residual_m[datum] < 100 < res.median_residual_m["wgs84"]


def test_detect_datum_offset_quiet_for_wgs84_points(caplog):
    osm = _osm_places()
    user = _user_from(osm, osm.geometry.x.to_numpy(), osm.geometry.y.to_numpy())
    with caplog.at_level(logging.WARNING, logger="geo.coords"):
        res = detect_datum_offset(user, osm)
    assert not res.warn and res.likely_datum == "wgs84"
    assert res.median_offset_m < 100
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_detect_datum_offset_ignores_inconsistent_offsets():
    # 500 m offsets in random directions: the size of a GCJ shift but no consistent direction
    osm = _osm_places(n=20)
    rng = np.random.default_rng(5)
    ang = rng.uniform(0, 2 * np.pi, 20)
    lat0 = osm.geometry.y.to_numpy()
    lon = osm.geometry.x.to_numpy() + 500 * np.sin(ang) / (111_320 * np.cos(np.radians(lat0)))
    lat = lat0 + 500 * np.cos(ang) / 111_320
    user = gpd.GeoDataFrame({"name": osm["name"]}, geometry=gpd.points_from_xy(lon, lat),
                            crs="EPSG:4326")
    res = detect_datum_offset(user, osm)
    assert not res.warn
    assert 450 < res.median_offset_m < 550


def test_detect_datum_offset_matching_rules():
    osm = _osm_places(n=4)
    lon, lat = wgs84_to_gcj02(osm.geometry.x.to_numpy(), osm.geometry.y.to_numpy())
    user = gpd.GeoDataFrame({"名称": [" 站0", "站1", "别的", None]},
                            geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    res = detect_datum_offset(user, osm, name_col="名称", osm_name_col="name")
    assert res.n_user == 4 and res.n_matched == 2        # whitespace folded; others unmatched
    assert not res.warn and "need 3" in res.message       # too few to conclude
    assert res.likely_datum == "gcj02"
    # a namesake 20 km away is a different place
    far = osm.copy()
    far["geometry"] = gpd.points_from_xy(far.geometry.x + 0.25, far.geometry.y)
    res_far = detect_datum_offset(user, far, name_col="名称", osm_name_col="name")
    assert res_far.n_matched == 0 and res_far.likely_datum is None and not res_far.warn
    # polygons on the OSM side are matched through a point inside them
    poly = osm.copy()
    poly["geometry"] = osm.to_crs("EPSG:32650").buffer(60).to_crs("EPSG:4326")
    user3 = gpd.GeoDataFrame({"name": list(osm["name"])}, geometry=gpd.points_from_xy(lon, lat),
                             crs="EPSG:4326")
    res_poly = detect_datum_offset(user3, poly)
    assert res_poly.warn and res_poly.likely_datum == "gcj02"
    with pytest.raises(DataError, match="no column 'title'"):
        detect_datum_offset(user, osm, name_col="title")

