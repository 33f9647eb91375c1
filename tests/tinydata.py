"""A tiny hand-made data directory (Geofabrik-style shapefiles + township population) with
known answers, written by the tests into a temporary folder.

Geometry is laid out in EPSG:32650 metres relative to ORIGIN and written in EPSG:4326.
"Tongzhou" is the square [0, 10 km]²; everything below is relative to its south-west corner.

Expected answers (hand-computed):
* rail stations in Tongzhou: 5 (甲 point + 甲 polygon merged; 乙 polygon-only + an unnamed
  polygon 80 m away merged; two 丙 points 500 m apart both kept; 戊 halt; 丁 outside).
  Modes: 甲 subway (line 50 m away), 乙 rail (100 m), 丙 none (no line within 200 m), 戊 tram
  (150 m).
* parks intersecting Tongzhou: 4 (0.25 ha pocket, 0.09 ha tiny, 1 ha community, 16 ha large
  half inside -> inside_ha 8); one park outside.
* fire stations: 2 (梨园消防站 point + polygon merged; 觅子店小型消防救援站 small); one outside.
* population: township 西镇 (x 0-5 km, 50,000 people) fully inside, 东镇 (x 5-15 km, 100,000)
  half inside: 100,000 in Tongzhou.
* 西城区 is derived: 首都功能核心区 (x 20-24 km) minus 东城区 (x 20-22 km): 4 km².
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

ORIGIN = (460_000.0, 4_400_000.0)  # EPSG:32650, near 116.53 E, 39.75 N
METRIC = "EPSG:32650"


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    ox, oy = ORIGIN
    return shapely.box(ox + x0, oy + y0, ox + x1, oy + y1)


def pt(x: float, y: float) -> shapely.Point:
    return shapely.Point(ORIGIN[0] + x, ORIGIN[1] + y)


def line(*xy: tuple[float, float]) -> shapely.LineString:
    return shapely.LineString([(ORIGIN[0] + x, ORIGIN[1] + y) for x, y in xy])


def _write(folder: Path, layer: str, rows: list[dict], **extra_cols) -> None:
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=METRIC).to_crs("EPSG:4326")
    gdf["code"] = 0
    gdf.to_file(folder / f"gis_osm_{layer}_free_1.shp", engine="pyogrio", encoding="UTF-8")


def make_geofabrik(folder: Path, *, readme: bool = True) -> Path:
    """Write the tiny Geofabrik folder (adminareas_a, transport, transport_a, railways, pois,
    pois_a, places) and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder, "adminareas_a", [
        {"osm_id": "2988902", "fclass": "admin_level6", "name": "通州区",
         "geometry": box(0, 0, 10_000, 10_000)},
        {"osm_id": "288600", "fclass": "admin_level6", "name": "东城区",
         "geometry": box(20_000, 0, 22_000, 2_000)},
        {"osm_id": "15887483", "fclass": "admin_level7", "name": "首都功能核心区",
         "geometry": box(20_000, 0, 24_000, 2_000)},
        {"osm_id": "101", "fclass": "admin_level8", "name": "西镇",
         "geometry": box(0, 0, 5_000, 10_000)},
        {"osm_id": "102", "fclass": "admin_level8", "name": "东镇",
         "geometry": box(5_000, 0, 10_000, 10_000)},
    ])
    _write(folder, "transport", [
        {"osm_id": "1", "fclass": "railway_station", "name": "甲", "geometry": pt(1000, 1000)},
        {"osm_id": "2", "fclass": "railway_station", "name": "丙", "geometry": pt(8000, 3000)},
        {"osm_id": "3", "fclass": "railway_station", "name": "丙", "geometry": pt(8500, 3000)},
        {"osm_id": "4", "fclass": "railway_halt", "name": "戊", "geometry": pt(3000, 8000)},
        {"osm_id": "5", "fclass": "railway_station", "name": "丁", "geometry": pt(-2000, 500)},
        {"osm_id": "6", "fclass": "bus_stop", "name": "车站", "geometry": pt(4000, 4000)},
    ])
    _write(folder, "transport_a", [
        {"osm_id": "11", "fclass": "railway_station", "name": "甲",
         "geometry": box(1050, 950, 1150, 1050)},
        {"osm_id": "12", "fclass": "railway_station", "name": "乙",
         "geometry": box(4850, 4900, 5150, 5100)},
        {"osm_id": "13", "fclass": "railway_station", "name": None,
         "geometry": box(4950, 5050, 5010, 5110)},
    ])
    _write(folder, "railways", [
        {"osm_id": "21", "fclass": "subway", "name": "1号线", "layer": 0, "bridge": "F",
         "tunnel": "T", "geometry": line((0, 1050), (10_000, 1050))},
        {"osm_id": "22", "fclass": "rail", "name": "京哈铁路", "layer": 0, "bridge": "F",
         "tunnel": "F", "geometry": line((5100, 4000), (5100, 6000))},
        {"osm_id": "23", "fclass": "tram", "name": "T1", "layer": 0, "bridge": "F",
         "tunnel": "F", "geometry": line((2000, 8150), (4000, 8150))},
    ])
    _write(folder, "pois", [
        {"osm_id": "31", "fclass": "fire_station", "name": "梨园消防站", "geometry": pt(2000, 2000)},
        {"osm_id": "32", "fclass": "fire_station", "name": "外站", "geometry": pt(-3000, 2000)},
        {"osm_id": "33", "fclass": "school", "name": "一小", "geometry": pt(2500, 2500)},
        {"osm_id": "34", "fclass": "park", "name": "点公园", "geometry": pt(2600, 2600)},
    ])
    _write(folder, "pois_a", [
        {"osm_id": "41", "fclass": "fire_station", "name": "梨园消防站",
         "geometry": box(2020, 2020, 2080, 2080)},
        {"osm_id": "42", "fclass": "fire_station", "name": "觅子店小型消防救援站",
         "geometry": box(6000, 6000, 6040, 6040)},
        {"osm_id": "51", "fclass": "park", "name": "口袋公园", "geometry": box(3000, 3000, 3050, 3050)},
        {"osm_id": "52", "fclass": "park", "name": "小绿地", "geometry": box(3500, 3000, 3530, 3030)},
        {"osm_id": "53", "fclass": "park", "name": "社区公园", "geometry": box(6500, 6500, 6600, 6600)},
        {"osm_id": "54", "fclass": "park", "name": "大公园", "geometry": box(-200, 4000, 200, 4400)},
        {"osm_id": "55", "fclass": "park", "name": "外公园", "geometry": box(-900, 4000, -500, 4400)},
        {"osm_id": "56", "fclass": "school", "name": "二小", "geometry": box(7000, 7000, 7100, 7100)},
    ])
    _write(folder, "places", [
        {"osm_id": "61", "fclass": "village", "name": "甲村", "population": 0, "geometry": pt(1200, 7200)},
        {"osm_id": "62", "fclass": "village", "name": "乙村", "population": 0, "geometry": pt(6100, 1100)},
        {"osm_id": "63", "fclass": "town", "name": "镇上", "population": 0, "geometry": pt(7500, 7500)},
        {"osm_id": "64", "fclass": "village", "name": "外村", "population": 0, "geometry": pt(-1500, 1500)},
        {"osm_id": "65", "fclass": "locality", "name": "地名", "population": 0, "geometry": pt(900, 900)},
    ])
    if readme:
        (folder / "README.geofabrik").write_text(
            "This file contains OpenStreetMap data as of 2025-01-02T03:04:05Z. Every day\n",
            encoding="utf-8")
    return folder


def make_population(folder: Path) -> Path:
    """Write the tiny township population layer (beijing.shp + worldpop.npy)."""
    folder.mkdir(parents=True, exist_ok=True)
    gdf = gpd.GeoDataFrame({"县": ["通州区", "通州区"], "乡": ["西镇", "东镇"]},
                           geometry=[box(0, 0, 5_000, 10_000), box(5_000, 0, 15_000, 10_000)],
                           crs=METRIC).to_crs("EPSG:4326")
    gdf.to_file(folder / "beijing.shp", engine="pyogrio", encoding="UTF-8")
    np.save(folder / "worldpop.npy", np.array([[50_000, 1], [100_000, 2]], dtype=np.int64))
    return folder


def make_data_dir(root: Path) -> Path:
    """A full tiny data directory: ``osm-tiny-2025-01-02/`` and ``population-beijing-townships/``."""
    make_geofabrik(root / "osm-tiny-2025-01-02")
    make_population(root / "population-beijing-townships")
    return root
