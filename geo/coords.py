"""Chinese map datums: WGS84 <-> GCJ-02 <-> BD-09, and a check for undeclared datums.

OSM is WGS84. Amap/Gaode and Tencent publish coordinates in GCJ-02 ("Mars coordinates"),
Baidu in BD-09. In Beijing the GCJ-02 shift is about 550 m and BD-09 about 1.3 km, the same
size as the 500 m service radii the plan's claims are about, so user points must be in the
right datum before they are compared with OSM.

Algorithms
----------
* WGS84 -> GCJ-02: the widely re-implemented leaked obfuscation formula (Krasovsky 1940
  ellipsoid, ``a = 6378245 m``, ``e^2 = 0.00669342162296594323``), as in the
  coordtransform / eviltransform / PRCoords projects.
* GCJ-02 -> WGS84: no closed form; solved by fixed-point iteration
  ``w <- w - (gcj(w) - g)`` until the step is below :data:`INVERSE_TOL_DEG` (converges in
  a handful of steps because the shift varies slowly); round-trip error is well under a
  millimetre inside China.
* GCJ-02 <-> BD-09: Baidu's published polar-coordinate formula and its usual approximate
  inverse (round-trip error about 1e-7 degrees, i.e. centimetres).
* Points outside China's bounding box (``out_of_china``: lon 72.004-137.8347, lat
  0.8293-55.8271, the box every one of those projects uses) are returned unchanged.

Every function accepts scalars, sequences or numpy arrays (broadcast together) and returns
floats for scalar input, ``numpy.ndarray`` otherwise. Longitude comes first.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from geo.errors import CRSError, DataError

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

log = logging.getLogger(__name__)

#: Datum names accepted by :func:`convert` and the ``--datum`` options.
DATUMS = ("wgs84", "gcj02", "bd09")

# Krasovsky 1940 ellipsoid as used by the GCJ-02 formula.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
# Baidu's constants: x_pi = pi * 3000 / 180 and the fixed BD-09 shift in degrees.
_BD_XPI = math.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006
#: Mean Earth radius (m) for offsets and haversine distances (IUGG).
EARTH_RADIUS_M = 6371008.8
#: Stop iterating the GCJ-02 inverse when the largest step is below this (degrees; ~1e-5 m).
INVERSE_TOL_DEG = 1e-10
#: Safety cap on iterations of the GCJ-02 inverse.
INVERSE_MAX_ITER = 30
#: The bounding box outside which GCJ-02 leaves coordinates alone (lon_min, lat_min, lon_max, lat_max).
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)


# --------------------------------------------------------------------------- helpers

def _as_arrays(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    lo, la = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.atleast_1d(lo).astype(float), np.atleast_1d(la).astype(float), scalar


def _out(lon: np.ndarray, lat: np.ndarray, scalar: bool) -> tuple[Any, Any]:
    if scalar:
        return float(lon[0]), float(lat[0])
    return lon, lat


def out_of_china(lon: Any, lat: Any) -> Any:
    """True where (lon, lat) in degrees lies outside China's bounding box (:data:`CHINA_BBOX`)."""
    lo, la, scalar = _as_arrays(lon, lat)
    x0, y0, x1, y1 = CHINA_BBOX
    res = ~((lo >= x0) & (lo <= x1) & (la >= y0) & (la <= y1))
    return bool(res[0]) if scalar else res


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 shift (dlon, dlat) in degrees at WGS84 (lon, lat), ignoring the China box."""
    x = lon - 105.0
    y = lat - 35.0
    sx = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat_m = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sx + common
              + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
              + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon_m = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sx + common
              + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
              + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    rad = np.radians(lat)
    magic = 1.0 - _GCJ_EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat_m * 180.0) / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon_m * 180.0) / (_GCJ_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


# --------------------------------------------------------------------------- conversions

def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """WGS84 (lon, lat) in degrees -> GCJ-02; points outside China are returned unchanged."""
    lo, la, scalar = _as_arrays(lon, lat)
    inside = ~out_of_china(lo, la)
    dlon, dlat = _gcj_delta(lo[inside], la[inside])
    lo[inside] += dlon
    la[inside] += dlat
    return _out(lo, la, scalar)


def gcj02_to_wgs84(lon: Any, lat: Any) -> tuple[Any, Any]:
    """GCJ-02 (lon, lat) in degrees -> WGS84 by fixed-point iteration (round trip < 1 mm).

    Points whose GCJ-02 coordinates lie outside China's box are returned unchanged.
    """
    lo, la, scalar = _as_arrays(lon, lat)
    inside = ~out_of_china(lo, la)
    g_lon, g_lat = lo[inside], la[inside]
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(INVERSE_MAX_ITER):
        dlon, dlat = _gcj_delta(w_lon, w_lat)
        step_lon = (w_lon + dlon) - g_lon
        step_lat = (w_lat + dlat) - g_lat
        w_lon -= step_lon
        w_lat -= step_lat
        if step_lon.size == 0 or max(np.abs(step_lon).max(), np.abs(step_lat).max()) < INVERSE_TOL_DEG:
            break
    lo[inside] = w_lon
    la[inside] = w_lat
    return _out(lo, la, scalar)


def gcj02_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """GCJ-02 (lon, lat) in degrees -> BD-09 (Baidu); points outside China unchanged."""
    lo, la, scalar = _as_arrays(lon, lat)
    inside = ~out_of_china(lo, la)
    x, y = lo[inside], la[inside]
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _BD_XPI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_XPI)
    lo[inside] = z * np.cos(theta) + _BD_DLON
    la[inside] = z * np.sin(theta) + _BD_DLAT
    return _out(lo, la, scalar)


def bd09_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """BD-09 (lon, lat) in degrees -> GCJ-02 (Baidu's inverse; ~1e-7 degree round trip)."""
    lo, la, scalar = _as_arrays(lon, lat)
    inside = ~out_of_china(lo, la)
    x, y = lo[inside] - _BD_DLON, la[inside] - _BD_DLAT
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _BD_XPI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_XPI)
    lo[inside] = z * np.cos(theta)
    la[inside] = z * np.sin(theta)
    return _out(lo, la, scalar)


def wgs84_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """WGS84 (lon, lat) in degrees -> BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: Any, lat: Any) -> tuple[Any, Any]:
    """BD-09 (lon, lat) in degrees -> WGS84 (through GCJ-02, exact GCJ inverse)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_STEPS = {
    ("wgs84", "gcj02"): (wgs84_to_gcj02,),
    ("gcj02", "wgs84"): (gcj02_to_wgs84,),
    ("gcj02", "bd09"): (gcj02_to_bd09,),
    ("bd09", "gcj02"): (bd09_to_gcj02,),
    ("wgs84", "bd09"): (wgs84_to_gcj02, gcj02_to_bd09),
    ("bd09", "wgs84"): (bd09_to_gcj02, gcj02_to_wgs84),
}

_ALIASES = {
    "wgs84": "wgs84", "wgs-84": "wgs84", "wgs": "wgs84", "epsg:4326": "wgs84", "4326": "wgs84",
    "gcj02": "gcj02", "gcj-02": "gcj02", "gcj": "gcj02", "mars": "gcj02", "amap": "gcj02",
    "gaode": "gcj02", "tencent": "gcj02",
    "bd09": "bd09", "bd-09": "bd09", "bd09ll": "bd09", "baidu": "bd09",
}


def normalize_datum(name: str, *, argument: str = "datum") -> str:
    """Canonical datum name ("wgs84", "gcj02", "bd09") for ``name`` (aliases such as
    "GCJ-02", "amap", "baidu" accepted); :class:`ValueError` subclass otherwise."""
    key = str(name).strip().lower().replace("_", "")
    if key not in _ALIASES:
        raise DataError(f"{argument}={name!r} is not a known datum: expected one of "
                        f"{', '.join(DATUMS)} (aliases: GCJ-02, amap, gaode, baidu, BD-09)")
    return _ALIASES[key]


def convert(lon: Any, lat: Any, *, src: str, dst: str) -> tuple[Any, Any]:
    """Convert (lon, lat) in degrees from datum ``src`` to ``dst`` ("wgs84", "gcj02", "bd09")."""
    s = normalize_datum(src, argument="src")
    d = normalize_datum(dst, argument="dst")
    if s == d:
        lo, la, scalar = _as_arrays(lon, lat)
        return _out(lo, la, scalar)
    out = (lon, lat)
    for step in _STEPS[(s, d)]:
        out = step(*out)
    return out


def _is_lonlat(crs: Any) -> bool:
    """True for no CRS, EPSG:4326 or OGC:CRS84 (GeoJSON's default)."""
    if crs is None:
        return True
    return crs.to_epsg() == 4326 or crs.equals("OGC:CRS84")


def convert_gdf(gdf: gpd.GeoDataFrame, *, src: str, dst: str) -> gpd.GeoDataFrame:
    """A copy of ``gdf`` with every geometry's coordinates converted from ``src`` to ``dst``.

    The frame must hold longitude/latitude degrees: CRS EPSG:4326 (the label Chinese web-map
    exports carry whatever their datum) or no CRS. The result is labelled EPSG:4326.
    """
    import geopandas as gpd
    import shapely

    s = normalize_datum(src, argument="src")
    d = normalize_datum(dst, argument="dst")
    if not _is_lonlat(gdf.crs):
        raise CRSError(f"convert_gdf: frame CRS is {gdf.crs.to_string()}, expected longitude/"
                       f"latitude degrees (EPSG:4326); reproject with .to_crs('EPSG:4326') first")
    out = gdf.copy()
    if len(gdf) and not gdf.geometry.is_empty.all():
        x0, y0, x1, y1 = gdf.total_bounds
        if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
            raise CRSError(f"convert_gdf: coordinates span ({x0:.1f}, {y0:.1f})-({x1:.1f}, "
                           f"{y1:.1f}), which are not longitude/latitude degrees; set the "
                           f"frame's CRS and reproject to EPSG:4326 first")
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    if s != d:

        def _fn(xy: np.ndarray) -> np.ndarray:
            lo, la = convert(xy[:, 0], xy[:, 1], src=s, dst=d)
            return np.column_stack([lo, la])

        geoms = shapely.transform(geoms, _fn)
    out[gdf.geometry.name] = gpd.GeoSeries(geoms, index=out.index, crs="EPSG:4326")
    return out.set_geometry(gdf.geometry.name).set_crs("EPSG:4326", allow_override=True)


# --------------------------------------------------------------------------- distances

def offset_m(lon0: Any, lat0: Any, lon1: Any, lat1: Any) -> tuple[np.ndarray, np.ndarray]:
    """East and north offsets (m) from point 0 to point 1 on a local tangent plane
    (accurate to well under 1 % for the kilometre-scale offsets handled here)."""
    lo0, la0, _ = _as_arrays(lon0, lat0)
    lo1, la1, _ = _as_arrays(lon1, lat1)
    k = math.pi / 180.0 * EARTH_RADIUS_M
    mid = np.radians((la0 + la1) / 2.0)
    return (lo1 - lo0) * k * np.cos(mid), (la1 - la0) * k


def haversine_m(lon0: Any, lat0: Any, lon1: Any, lat1: Any) -> Any:
    """Great-circle distance (m) between points given in degrees (spherical Earth)."""
    lo0, la0, scalar0 = _as_arrays(lon0, lat0)
    lo1, la1, scalar1 = _as_arrays(lon1, lat1)
    scalar = scalar0 and scalar1
    p0, p1 = np.radians(la0), np.radians(la1)
    h = (np.sin((p1 - p0) / 2.0) ** 2
         + np.cos(p0) * np.cos(p1) * np.sin(np.radians(lo1 - lo0) / 2.0) ** 2)
    d = 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return float(d[0]) if scalar else d


# --------------------------------------------------------------------------- datum check

@dataclass
class DatumOffsetResult:
    """Outcome of :func:`detect_datum_offset`.

    Attributes
    ----------
    likely_datum : str or None
        The datum that best explains the offsets ("wgs84", "gcj02", "bd09"), or None when
        too few namesakes matched to say.
    warn : bool
        True when the points look like an undeclared GCJ-02/BD-09 file.
    message : str
        One line for users (also logged as a warning when ``warn``).
    n_user, n_matched : int
        User points, and user points matched to an OSM namesake.
    median_offset_m : float
        Median distance (m) from user points to their namesakes (NaN without matches).
    median_bearing_deg : float
        Bearing (degrees clockwise from north) of the median east/north offset.
    median_residual_m : dict of str to float
        For each datum hypothesis, median distance (m) between the observed offset and the
        offset that datum would produce at the OSM location (wgs84: zero offset).
    consistent_fraction : float
        Share of matched pairs whose residual under ``likely_datum`` is within tolerance.
    pairs : pandas.DataFrame
        One row per matched pair: ``name, user_lon, user_lat, osm_lon, osm_lat, dx_m, dy_m,
        offset_m`` and ``residual_<datum>_m`` for each datum.
    """

    likely_datum: str | None
    warn: bool
    message: str
    n_user: int
    n_matched: int
    median_offset_m: float
    median_bearing_deg: float
    median_residual_m: dict[str, float] = field(default_factory=dict)
    consistent_fraction: float = float("nan")
    pairs: pd.DataFrame | None = None


def _norm_name(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip().lower()
    text = re.sub(r"\s+", "", text)
    return text or None


def _lonlat(gdf: gpd.GeoDataFrame, what: str) -> tuple[np.ndarray, np.ndarray]:
    if not _is_lonlat(gdf.crs):
        raise CRSError(f"detect_datum_offset: {what} CRS is {gdf.crs.to_string()}, expected "
                       f"EPSG:4326 longitude/latitude; reproject with .to_crs('EPSG:4326')")
    pts = gdf.geometry.representative_point()
    return np.asarray(pts.x, dtype=float), np.asarray(pts.y, dtype=float)


def detect_datum_offset(
    user_points: gpd.GeoDataFrame,
    osm_points: gpd.GeoDataFrame,
    *,
    name_col: str = "name",
    osm_name_col: str | None = None,
    max_match_distance_m: float = 3000.0,
    tolerance_m: float = 150.0,
    min_matches: int = 3,
    min_consistent_fraction: float = 0.6,
) -> DatumOffsetResult:
    """Check whether user points look like GCJ-02 or BD-09 coordinates labelled as WGS84.

    Each user point is matched to the nearest OSM feature with the same name (Unicode-NFKC,
    case and whitespace folded) within ``max_match_distance_m``; polygons use their
    representative point. For every pair the observed east/north offset is compared with the
    offset each datum would produce at the OSM location (GCJ-02 is about 550 m east-north-east
    in Beijing, BD-09 about 1.3 km north-east). The datum with the smallest median residual
    wins; a warning is logged and ``warn`` set when that datum is not WGS84, at least
    ``min_matches`` pairs matched and at least ``min_consistent_fraction`` of them are within
    ``tolerance_m`` of its predicted offset.

    Parameters
    ----------
    user_points, osm_points : GeoDataFrame
        Longitude/latitude frames (EPSG:4326 or no CRS) with a name column.
    name_col : str
        Name column of ``user_points`` (and of ``osm_points`` unless ``osm_name_col`` given).
    max_match_distance_m : float
        Namesakes farther apart than this (m) are different places and are not matched
        (default 3 km: twice the BD-09 shift in Beijing, with room for large features).
    tolerance_m : float
        Residual (m) within which a pair counts as consistent with a datum hypothesis
        (default 150 m: the usual gap between a station node and its polygon or entrance).
    """
    import pandas as pd

    ocol = osm_name_col or name_col
    for frame, col, what in ((user_points, name_col, "user_points"),
                             (osm_points, ocol, "osm_points")):
        if col not in frame.columns:
            raise DataError(f"detect_datum_offset: {what} has no column {col!r} (columns: "
                            f"{', '.join(map(str, frame.columns))}); pass name_col=...")
    ulon, ulat = _lonlat(user_points, "user_points")
    olon, olat = _lonlat(osm_points, "osm_points")
    onames = [_norm_name(v) for v in osm_points[ocol]]
    by_name: dict[str, list[int]] = {}
    for j, n in enumerate(onames):
        if n is not None and np.isfinite(olon[j]):
            by_name.setdefault(n, []).append(j)

    rows = []
    for i, raw in enumerate(user_points[name_col]):
        n = _norm_name(raw)
        if n is None or n not in by_name or not np.isfinite(ulon[i]):
            continue
        cand = np.asarray(by_name[n])
        d = haversine_m(ulon[i], ulat[i], olon[cand], olat[cand])
        k = int(np.argmin(d))
        if d[k] <= max_match_distance_m:
            rows.append((str(raw), ulon[i], ulat[i], olon[cand[k]], olat[cand[k]]))
    pairs = pd.DataFrame(rows, columns=["name", "user_lon", "user_lat", "osm_lon", "osm_lat"])
    n_user, n_matched = len(user_points), len(pairs)

    if n_matched == 0:
        msg = (f"datum check: none of {n_user} user points matched an OSM namesake within "
               f"{max_match_distance_m:.0f} m; datum not checked")
        log.info(msg)
        return DatumOffsetResult(None, False, msg, n_user, 0, float("nan"), float("nan"),
                                 pairs=pairs)

    dx, dy = offset_m(pairs.osm_lon.to_numpy(), pairs.osm_lat.to_numpy(),
                      pairs.user_lon.to_numpy(), pairs.user_lat.to_numpy())
    pairs["dx_m"], pairs["dy_m"] = dx, dy
    pairs["offset_m"] = np.hypot(dx, dy)
    medians: dict[str, float] = {}
    for datum in DATUMS:
        elon, elat = convert(pairs.osm_lon.to_numpy(), pairs.osm_lat.to_numpy(),
                             src="wgs84", dst=datum)
        ex, ey = offset_m(pairs.osm_lon.to_numpy(), pairs.osm_lat.to_numpy(), elon, elat)
        res = np.hypot(dx - ex, dy - ey)
        pairs[f"residual_{datum}_m"] = res
        medians[datum] = float(np.median(res))
    best = min(DATUMS, key=lambda k: medians[k])
    consistent = float(np.mean(pairs[f"residual_{best}_m"] <= tolerance_m))
    med_off = float(np.median(pairs["offset_m"]))
    mdx, mdy = float(np.median(dx)), float(np.median(dy))
    bearing = float(math.degrees(math.atan2(mdx, mdy)) % 360.0)
    warn = (best != "wgs84" and n_matched >= min_matches
            and consistent >= min_consistent_fraction)
    if warn:
        msg = (f"user points sit a median {med_off:.0f} m (bearing {bearing:.0f} deg) from "
               f"their OSM namesakes, as {best.upper()} coordinates would ({n_matched} matched, "
               f"{consistent:.0%} consistent within {tolerance_m:.0f} m): declare the file's "
               f"datum (datum={best}) or convert it with geo.coords.convert_gdf(..., "
               f"src='{best}', dst='wgs84')")
        log.warning(msg)
    elif n_matched < min_matches:
        msg = (f"datum check: only {n_matched} of {n_user} user points matched an OSM "
               f"namesake (need {min_matches}); best guess {best}, not conclusive")
        log.info(msg)
    else:
        msg = (f"datum check: {n_matched} namesakes matched, median offset {med_off:.0f} m; "
               f"offsets fit {best} best ({consistent:.0%} within {tolerance_m:.0f} m)")
        log.info(msg)
    return DatumOffsetResult(best, warn, msg, n_user, n_matched, med_off, bearing, medians,
                             consistent, pairs)
