"""Study areas: Beijing districts from the OSM admin layer, the 16 together, custom polygons.

Districts come from the Geofabrik ``adminareas_a`` layer (``admin_level6``) of the data
directory; names are accepted in Chinese with or without 区 (通州区, 通州), in pinyin
(tongzhou, Tongzhou District) or as OSM relation ids. ``beijing`` (北京, 北京市) is the union
of the 16 districts.

西城区 (Xicheng) is missing from the ``admin_level6`` polygons of the 2026-06-07 Geofabrik
extract (its relation did not assemble). When a district is missing, it is derived from its
``admin_level7`` parent 首都功能核心区 (the capital core area = 东城区 + 西城区) minus the
districts that are present (``osm_id`` is then ``None`` and a log line says so). On the
shared bundle this gives 50.5 km² for 西城区 (official figure 50.7 km²).

Custom polygons come from GeoJSON files. RFC 7946 GeoJSON is WGS84; a file that declares
another CRS is reprojected; a file whose coordinates are not degrees (or disagree with the CRS
it declares) is a :class:`~geo.errors.CRSError`.

Metric work uses EPSG:32650 (:data:`geo.settings.metric_crs`).
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo import settings
from geo.errors import CRSError, DataError, DataNotFoundError, UnknownAreaError

log = logging.getLogger(__name__)

#: The 16 districts of Beijing: Chinese name -> pinyin.
BEIJING_DISTRICTS: dict[str, str] = {
    "东城区": "Dongcheng", "西城区": "Xicheng", "朝阳区": "Chaoyang", "丰台区": "Fengtai",
    "石景山区": "Shijingshan", "海淀区": "Haidian", "门头沟区": "Mentougou", "房山区": "Fangshan",
    "通州区": "Tongzhou", "顺义区": "Shunyi", "昌平区": "Changping", "大兴区": "Daxing",
    "怀柔区": "Huairou", "平谷区": "Pinggu", "密云区": "Miyun", "延庆区": "Yanqing",
}
#: admin_level7 units that group districts (used to derive a district missing from level 6).
DISTRICT_GROUPS: dict[str, list[str]] = {"首都功能核心区": ["东城区", "西城区"]}
BEIJING_NAMES = ("beijing", "北京", "北京市", "beijing shi", "beijing municipality")
ADMIN_LAYER_FILE = "gis_osm_adminareas_a_free_1.shp"


@dataclass(frozen=True)
class Area:
    """A study area.

    Attributes
    ----------
    name : str
        Chinese name (e.g. "通州区") or the file stem of a custom polygon.
    name_en : str
        English / pinyin name (e.g. "Tongzhou").
    osm_id : int or None
        OSM relation id of the boundary, when there is one.
    geometry : shapely Polygon or MultiPolygon
        Boundary in EPSG:4326.
    """

    name: str
    name_en: str
    osm_id: int | None
    geometry: BaseGeometry

    @cached_property
    def geometry_m(self) -> BaseGeometry:
        """The boundary in the metric CRS (EPSG:32650, metres)."""
        return gpd.GeoSeries([self.geometry], crs=settings.geographic_crs).to_crs(
            settings.metric_crs).iloc[0]

    @property
    def area_km2(self) -> float:
        """Area in km² (computed in EPSG:32650)."""
        return float(self.geometry_m.area) / 1e6

    def bounds(self, *, buffer_m: float = 0.0) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in degrees, optionally grown by ``buffer_m`` metres."""
        if buffer_m <= 0:
            return tuple(float(v) for v in self.geometry.bounds)  # type: ignore[return-value]
        grown = gpd.GeoSeries([shapely.box(*self.geometry_m.bounds).buffer(buffer_m)],
                              crs=settings.metric_crs).to_crs(settings.geographic_crs)
        return tuple(float(v) for v in grown.total_bounds)  # type: ignore[return-value]

    def to_gdf(self) -> gpd.GeoDataFrame:
        """One-row GeoDataFrame (EPSG:4326) with ``name, name_en, osm_id, area_km2``."""
        return gpd.GeoDataFrame({"name": [self.name], "name_en": [self.name_en],
                                 "osm_id": [self.osm_id], "area_km2": [self.area_km2]},
                                geometry=[self.geometry], crs=settings.geographic_crs)

    def __repr__(self) -> str:
        return f"Area({self.name!r}, {self.name_en!r}, osm_id={self.osm_id}, " \
               f"area_km2={self.area_km2:.1f})"


def _norm(text: str) -> str:
    """Lower-case, drop spaces/punctuation and the words district/qu/区 for name matching."""
    t = str(text).strip().lower()
    t = re.sub(r"[\s_\-.,]+", "", t)
    for suffix in ("district", "qu", "区"):
        if t.endswith(suffix) and len(t) > len(suffix):
            t = t[: -len(suffix)]
    return t


def find_admin_layer(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Path of ``gis_osm_adminareas_a_free_1.shp`` in the data directory (or a subfolder, two
    levels deep)."""
    root = settings.resolve_data_dir(data_dir)
    for pattern in (ADMIN_LAYER_FILE, f"*/{ADMIN_LAYER_FILE}", f"*/*/{ADMIN_LAYER_FILE}"):
        hits = sorted(root.glob(pattern))
        if hits:
            return hits[-1]
    raise DataNotFoundError(
        f"no OSM admin boundaries ({ADMIN_LAYER_FILE}) under data directory {root}: download "
        "the Geofabrik extract with fetch_geofabrik(area='tongzhou') or give a GeoJSON polygon")


def clear_cache() -> None:
    """Forget the admin boundaries read so far (they are cached per file path and mtime)."""
    _read_admin.cache_clear()
    _districts_cached.cache_clear()


@functools.lru_cache(maxsize=8)
def _read_admin(path: str, mtime: float) -> gpd.GeoDataFrame:
    import pyogrio

    if Path(path).stat().st_size == 0:
        raise DataError(f"shapefile {path} is empty (0 bytes): re-download the Geofabrik extract")
    from geo.sources.geofabrik import check_shapefile

    n_records = check_shapefile(path)
    try:
        gdf = pyogrio.read_dataframe(path, use_arrow=False)
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"shapefile {path} cannot be read ({msg}): re-download the Geofabrik "
                        "extract") from exc
    bad = int((gdf.geometry.isna() | gdf.geometry.is_empty).sum())
    if len(gdf) != n_records or bad:
        raise DataError(f"shapefile {path}: {len(gdf) - bad:,} usable boundaries of the "
                        f"{n_records:,} records its attribute table holds (truncated or "
                        "damaged): re-download the Geofabrik extract")
    for col in ("osm_id", "fclass", "name"):
        if col not in gdf.columns:
            raise DataError(f"shapefile {path} lacks column {col!r}: expected a Geofabrik "
                            f"adminareas_a layer, got columns {list(gdf.columns)}")
    if gdf.crs is None:
        gdf = gdf.set_crs(settings.geographic_crs)
    return gdf.to_crs(settings.geographic_crs)


def admin_areas(*, data_dir: str | Path | None = None) -> gpd.GeoDataFrame:
    """The whole ``adminareas_a`` layer (``osm_id, fclass, name, geometry``, EPSG:4326)."""
    path = find_admin_layer(data_dir)
    return _read_admin(str(path), path.stat().st_mtime).copy()


def _osm_id(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


@functools.lru_cache(maxsize=8)
def _districts_cached(path: str, mtime: float) -> tuple[Area, ...]:
    adm = _read_admin(path, mtime)
    lvl6 = adm[adm["fclass"] == "admin_level6"]
    found: dict[str, Area] = {}
    for _, row in lvl6.iterrows():
        name = str(row["name"])
        if name in BEIJING_DISTRICTS and name not in found:
            found[name] = Area(name, BEIJING_DISTRICTS[name], _osm_id(row["osm_id"]),
                               shapely.make_valid(row.geometry))
    for group, members in DISTRICT_GROUPS.items():
        absent = [m for m in members if m not in found]
        parent = adm[(adm["fclass"] == "admin_level7") & (adm["name"] == group)]
        if len(absent) != 1 or parent.empty:
            continue
        name = absent[0]
        others = [found[m].geometry for m in members if m in found]
        geom = shapely.make_valid(parent.geometry.iloc[0])
        if others:
            geom = geom.difference(shapely.union_all(others))
        geom = _drop_slivers(geom)
        found[name] = Area(name, BEIJING_DISTRICTS[name], None, geom)
        log.info("%s is missing from admin_level6; derived as %s minus %s", name, group,
                 [m for m in members if m != name])
    return tuple(sorted(found.values(), key=lambda a: list(BEIJING_DISTRICTS).index(a.name)))


def _drop_slivers(geom: BaseGeometry, *, min_area_m2: float = 10_000.0) -> BaseGeometry:
    """Drop polygon parts smaller than ``min_area_m2`` (left over by differences)."""
    parts = [g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon"]
    if not parts:
        return geom
    areas = gpd.GeoSeries(parts, crs=settings.geographic_crs).to_crs(settings.metric_crs).area
    keep = [p for p, a in zip(parts, areas) if a >= min_area_m2] or parts
    return keep[0] if len(keep) == 1 else shapely.MultiPolygon(keep)


def districts(*, data_dir: str | os.PathLike[str] | None = None) -> list[Area]:
    """The Beijing districts found in the data (16 on the shared bundle), in official order."""
    path = find_admin_layer(data_dir)
    return list(_districts_cached(str(path), path.stat().st_mtime))


#: Longest area name or path accepted (longer is refused before any file system call).
MAX_AREA_NAME_CHARS = 1000
#: A study area must be at least this large (1 ha) and at most this large (about three times
#: Beijing), measured on the ellipsoid.
MIN_AREA_KM2 = 0.01
MAX_AREA_KM2 = 50_000.0
#: ... and span at most this many degrees either way (the geodesic area of a polygon around
#: the poles or the whole world is degenerate).
MAX_SPAN_DEG = 10.0
#: Largest GeoJSON area file read (a district boundary is a few MB).
MAX_GEOJSON_BYTES = 200_000_000


def _looks_like_file(name: str) -> bool:
    if name.lower().endswith((".geojson", ".json")):
        return True
    try:
        return Path(name).is_file()
    except (OSError, ValueError):  # a name too long for a path, or with a NUL byte
        return False


def check_study_area(area: Area, *, source: str) -> Area:
    """Refuse (one-line error naming ``source``) an area that cannot be measured honestly:
    empty geometry, non-finite (NaN/inf) coordinates, or a geodesic size (WGS84 ellipsoid, so
    independent of any projection) below ``MIN_AREA_KM2`` or above ``MAX_AREA_KM2`` (a
    whole-world polygon)."""
    from pyproj import Geod

    geom = area.geometry
    if geom is None or geom.is_empty or not np.isfinite(np.asarray(geom.bounds, float)).all():
        raise DataError(f"area {source}: the geometry is empty or has non-finite (NaN/inf) "
                        "coordinates: fix the polygon")
    minx, miny, maxx, maxy = geom.bounds
    if maxx - minx > MAX_SPAN_DEG or maxy - miny > MAX_SPAN_DEG:
        raise DataError(f"area {source} spans {maxx - minx:.1f}° of longitude and "
                        f"{maxy - miny:.1f}° of latitude (limit {MAX_SPAN_DEG:g}°): give the "
                        "polygon of a district or a neighbourhood, not a country or the world")
    km2 = abs(Geod(ellps="WGS84").geometry_area_perimeter(geom)[0]) / 1e6
    if not MIN_AREA_KM2 <= km2 <= MAX_AREA_KM2:
        raise DataError(f"area {source} covers {km2:,.4g} km²: expected {MIN_AREA_KM2:g} to "
                        f"{MAX_AREA_KM2:,.0f} km² (a district or a neighbourhood); check the "
                        "polygon")
    return area


def get_area(name: str | Path | Area, *, data_dir: str | Path | None = None) -> Area:
    """Resolve a study area.

    Parameters
    ----------
    name : str, Path or Area
        A district (通州区, 通州, tongzhou, "Tongzhou District", or its OSM relation id),
        ``beijing`` (the 16 districts), another admin unit of the layer by exact name
        (e.g. a township 宋庄镇), or the path of a GeoJSON polygon file.
    data_dir : path, optional
        Data directory (default: :func:`geo.settings.resolve_data_dir`).

    Raises
    ------
    UnknownAreaError
        No district matches; the message lists the closest names.
    CRSError
        A GeoJSON file's coordinates are not WGS84 degrees or disagree with its declared CRS.
    DataError
        A GeoJSON file is unreadable or holds no polygon.
    """
    if isinstance(name, Area):
        return name
    if len(str(name)) > MAX_AREA_NAME_CHARS:
        raise UnknownAreaError(f"area name of {len(str(name)):,} characters: expected a Beijing "
                               "district name, 'beijing' or a GeoJSON file path")
    if "\0" in str(name):
        raise UnknownAreaError(f"area name {str(name)[:60]!r} contains a NUL byte: expected a "
                               "district name or a GeoJSON file path")
    if isinstance(name, Path) or _looks_like_file(str(name)):
        return area_from_geojson(name)
    text = str(name).strip()
    if _norm(text) in {_norm(b) for b in BEIJING_NAMES}:
        ds = districts(data_dir=data_dir)
        geom = shapely.make_valid(shapely.union_all([d.geometry for d in ds]))
        return Area("北京市", "Beijing", None, geom)
    ds = districts(data_dir=data_dir)
    key = _norm(text)
    for d in ds:
        if key in (_norm(d.name), _norm(d.name_en), str(d.osm_id)):
            return d
    adm = admin_areas(data_dir=data_dir)
    exact = adm[adm["name"].astype(str) == text]
    if not exact.empty:
        row = exact.iloc[0]
        return Area(text, text, _osm_id(row["osm_id"]), shapely.make_valid(row.geometry))
    choices = [d.name for d in ds] + [d.name_en.lower() for d in ds] + ["beijing"]
    close = difflib.get_close_matches(text.lower(), choices, n=3, cutoff=0.4)
    hint = f"did you mean {', '.join(close)}?" if close else \
        f"known districts: {', '.join(d.name_en.lower() for d in ds)}"
    raise UnknownAreaError(f"unknown area {text!r}: expected a Beijing district name (Chinese or "
                           f"pinyin), 'beijing' or a GeoJSON file; {hint}")


def _declared_crs(path: Path) -> tuple[str | None, str | None]:
    """The CRS a GeoJSON file declares in its (pre-RFC 7946) ``crs`` member and the Chinese
    datum in its ``datum`` member ("wgs84", "gcj02", "bd09"), each None when absent."""
    if path.stat().st_size > MAX_GEOJSON_BYTES:
        raise DataError(f"GeoJSON file {path} is {path.stat().st_size:,} bytes (limit "
                        f"{MAX_GEOJSON_BYTES:,}): simplify the polygon")
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except RecursionError as exc:
        raise DataError(f"GeoJSON file {path} is nested too deeply to be a GeoJSON polygon: "
                        "give a FeatureCollection, Feature or Polygon") from exc
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        msg = str(exc).splitlines()[0][:200]
        raise DataError(f"GeoJSON file {path} cannot be parsed ({msg}): expected a GeoJSON "
                        "FeatureCollection, Feature or Polygon in UTF-8") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("type"), str):
        raise DataError(f"GeoJSON file {path} is not a GeoJSON object (no 'type'): expected a "
                        "FeatureCollection, Feature or Polygon")
    crs = doc.get("crs")
    datum = doc.get("datum")
    if datum is not None and not isinstance(datum, str):
        raise DataError(f"GeoJSON file {path}: 'datum' must be a string (wgs84, gcj02, bd09), "
                        f"not {type(datum).__name__}")
    if crs is None:
        return None, datum
    props = crs.get("properties") if isinstance(crs, dict) else None
    if not isinstance(props, dict):
        raise CRSError(f"GeoJSON file {path}: 'crs' must be an object with 'properties': "
                       '{"name": ...}; got ' + f"{json.dumps(crs)[:80]}: fix it or drop the "
                       "'crs' member (RFC 7946 GeoJSON is WGS84)")
    name = props.get("name") or props.get("href")
    if not isinstance(name, str):
        raise CRSError(f"GeoJSON file {path}: crs.properties.name must be a string such as "
                       "'EPSG:4326'")
    return name, datum


def _is_degrees(bounds: tuple[float, float, float, float]) -> bool:
    minx, miny, maxx, maxy = bounds
    return -180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90


def area_from_geojson(path: str | Path, *, name: str | None = None) -> Area:
    """A custom area from a GeoJSON polygon file (all polygons are unioned).

    Coordinates without a declared CRS must be WGS84 degrees (RFC 7946). A declared CRS is
    honoured (reprojected to EPSG:4326) when the coordinates fit it. A polygon traced on a
    Chinese web map declares its datum in a top-level ``"datum"`` member (``"gcj02"`` for
    Amap/Tencent, ``"bd09"`` for Baidu) and is converted to WGS84.
    """
    from pyproj import CRS

    path = Path(path)
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise DataNotFoundError(f"GeoJSON file {path} {what}: give the path of a polygon file "
                                "or a district name")
    declared, datum = _declared_crs(path)
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"GeoJSON file {path} cannot be read ({msg})") from exc
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    gdf = gdf[gdf.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    if gdf.empty:
        raise DataError(f"GeoJSON file {path} holds no Polygon/MultiPolygon: expected the study "
                        "area's boundary polygon")
    bounds = tuple(float(v) for v in gdf.total_bounds)
    fix = ("reproject it to WGS84 degrees (e.g. ogr2ogr -t_srs EPSG:4326 out.geojson in.geojson, "
           "or geopandas .to_crs(4326))")
    if declared is None:
        if not _is_degrees(bounds):  # type: ignore[arg-type]
            raise CRSError(f"GeoJSON file {path} has no CRS and its coordinates {bounds} are not "
                           f"longitude/latitude degrees (RFC 7946 GeoJSON is WGS84): {fix}")
        gdf = gdf.set_crs(settings.geographic_crs, allow_override=True)
    else:
        try:
            crs = CRS.from_user_input(declared)
        except Exception as exc:
            raise CRSError(f"GeoJSON file {path} declares an unknown CRS {declared!r}: {fix}") \
                from exc
        if crs.is_geographic != _is_degrees(bounds):  # type: ignore[arg-type]
            kind = "degrees" if _is_degrees(bounds) else "projected numbers"  # type: ignore
            raise CRSError(f"GeoJSON file {path} declares CRS {declared} but its coordinates "
                           f"{bounds} look like {kind}: fix the 'crs' member or {fix}")
        gdf = gdf.set_crs(crs, allow_override=True).to_crs(settings.geographic_crs)
    if datum is not None:
        from geo.coords import convert_gdf, normalize_datum

        if normalize_datum(str(datum)) != "wgs84":
            gdf = convert_gdf(gdf, src=str(datum), dst="wgs84")
    geom = shapely.make_valid(shapely.union_all(gdf.geometry.values))
    if not _is_degrees(tuple(geom.bounds)):
        raise CRSError(f"GeoJSON file {path}: reprojected coordinates {geom.bounds} are not "
                       f"valid degrees: {fix}")
    label = name
    if label is None and "name" in gdf.columns and gdf["name"].notna().any():
        label = str(gdf["name"].dropna().iloc[0])
    label = (label or path.stem)[:200]
    return check_study_area(Area(label, label, None, geom), source=str(path))


def townships(area: Area | str, *, data_dir: str | Path | None = None,
              min_area_m2: float = 10_000.0) -> gpd.GeoDataFrame:
    """The ``admin_level8`` streets and towns (街道/镇/乡) clipped to an area.

    Parameters
    ----------
    area : Area or str
        Study area (anything :func:`get_area` accepts).
    min_area_m2 : float
        Clipped pieces smaller than this (boundary slivers), in m², are dropped.

    Returns
    -------
    GeoDataFrame
        ``name, osm_id, geometry`` (EPSG:4326), sorted by name.
    """
    area = get_area(area, data_dir=data_dir)
    adm = admin_areas(data_dir=data_dir)
    lvl8 = adm[adm["fclass"] == "admin_level8"]
    lvl8 = lvl8[lvl8.intersects(area.geometry)]
    clipped = gpd.GeoDataFrame({"name": lvl8["name"].astype(str).values,
                                "osm_id": [_osm_id(v) for v in lvl8["osm_id"]]},
                               geometry=shapely.intersection(
                                   shapely.make_valid(lvl8.geometry.values), area.geometry),
                               crs=settings.geographic_crs)
    area_m2 = clipped.to_crs(settings.metric_crs).area
    clipped = clipped[area_m2.values >= min_area_m2]
    return clipped.sort_values("name").reset_index(drop=True)
