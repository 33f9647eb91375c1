"""geo.demand: hex grid geometry, township population spread (checked against a slow
geopandas-overlay reference), settlements."""

from __future__ import annotations

import math
import time

import geopandas as gpd
import numpy as np
import pytest
import shapely
from tinydata import make_data_dir

from geo import demand as D
from geo.areas import Area, get_area
from geo.errors import DataError
from geo.sources import load_osm


@pytest.fixture
def tiny_dir(tmp_path):
    return make_data_dir(tmp_path / "data")


def test_hex_grid_geometry(tiny_dir):
    area = get_area("tongzhou", data_dir=tiny_dir)
    d = 500.0
    g = D.hex_grid(area, cell_size_m=d, crs="EPSG:32650")
    full_area = math.sqrt(3) / 2 * d * d
    assert g["cell_id"].is_unique
    assert np.allclose(g.loc[g["full"], "area_m2"], full_area, rtol=1e-9)
    assert (g.loc[~g["full"], "area_m2"] < full_area + 1e-6).all()
    assert np.allclose(g.area, g["area_m2"])
    # the cells tile the area exactly: no gaps, no overlaps
    assert g["area_m2"].sum() == pytest.approx(area.geometry_m.area, rel=1e-9)
    assert shapely.union_all(g.geometry.values).symmetric_difference(area.geometry_m).area \
        < 1e-3 * full_area
    # neighbouring centres are d apart (flat-to-flat width)
    full = g[g["full"]]
    c = np.c_[full.geometry.centroid.x, full.geometry.centroid.y]
    nearest = [np.sort(np.hypot(*(c - p).T))[1] for p in c[:50]]
    assert np.allclose(nearest, d, rtol=1e-6)
    g4326 = D.hex_grid(area, cell_size_m=d)
    assert g4326.crs.to_epsg() == 4326 and list(g4326["cell_id"]) == list(g["cell_id"])


def test_hex_grid_ids_stable_across_areas(tiny_dir):
    big = D.hex_grid(get_area("tongzhou", data_dir=tiny_dir), cell_size_m=400, crs="EPSG:32650")
    west = D.hex_grid(get_area("西镇", data_dir=tiny_dir), cell_size_m=400, crs="EPSG:32650")
    both = west.merge(big, on="cell_id", suffixes=("_w", "_b"))
    full_w = both[both["full_w"]]
    assert len(full_w) > 100
    assert np.allclose(full_w["area_m2_w"], full_w["area_m2_b"])
    with pytest.raises(ValueError):
        D.hex_grid(get_area("西镇", data_dir=tiny_dir), cell_size_m=0)


def _reference_population(cells: gpd.GeoDataFrame, towns: gpd.GeoDataFrame) -> np.ndarray:
    """Slow obvious reference: overlay every cell with every township."""
    out = np.zeros(len(cells))
    cm = cells.to_crs(32650)
    for _, t in towns.iterrows():
        for k, cg in enumerate(cm.geometry):
            a = cg.intersection(t.geometry).area
            out[k] += t["population"] * a / t["township_area_m2"]
    return out


def test_population_cells_area_spread(tiny_dir):
    area = get_area("tongzhou", data_dir=tiny_dir)
    cells = D.population_cells(area, data_dir=tiny_dir, cell_size_m=1000)
    assert list(cells.columns) == ["cell_id", "area_m2", "population", "township", "district",
                                   "geometry"]
    assert cells.crs.to_epsg() == 4326
    # hand-computed: 西镇 50,000 fully inside + half of 东镇's 100,000
    assert cells["population"].sum() == pytest.approx(100_000, rel=1e-6)
    assert D.area_population(area, data_dir=tiny_dir) == pytest.approx(100_000, rel=1e-6)
    # uniform densities: 50,000 / 50 km² = 1,000 per km² in both townships (东镇 is 100 km²)
    dens = cells["population"] / (cells["area_m2"] / 1e6)
    assert np.allclose(dens, 1000.0, rtol=1e-6)
    towns = D.population_townships(data_dir=tiny_dir)
    ref = _reference_population(cells, towns)
    assert np.allclose(cells["population"], ref, rtol=1e-6, atol=1e-6)
    west = cells[cells["township"] == "西镇"]
    assert (west.to_crs(32650).centroid.x < 460_000 + 5_000 + 1_000).all()
    assert set(cells["district"]) == {"通州区"}


def test_population_settlements_spread_keeps_township_totals(tiny_dir):
    area = get_area("tongzhou", data_dir=tiny_dir)
    osm = load_osm(area, data_dir=tiny_dir, layers=["places", "pois"])
    cells = D.population_cells(area, data_dir=tiny_dir, cell_size_m=1000, spread="settlements",
                               osm=osm, settlement_weight=1.0)
    # weight 1: each township's people sit in the cells of its settlement/POI points.
    # 西镇 has 甲村 and the POI points 梨园消防站, 一小, 点公园 (4 points) -> 12,500 per point;
    # 东镇 has 乙村 and 镇上 inside the area (2 points, no POI points in the east) -> the half of
    # 东镇 inside keeps all 100,000
    assert cells["population"].sum() == pytest.approx(150_000, rel=1e-6)
    w = D.population_cells(area, data_dir=tiny_dir, cell_size_m=1000, spread="settlements",
                           osm=osm, settlement_weight=0.5)
    assert w["population"].sum() == pytest.approx(125_000, rel=1e-6)
    assert (w["population"] > 0).all()
    info = w.attrs["population_info"]  # the total is explained unit by unit
    west = next(u for u in info["units"] if u["unit"] == "西镇")
    east = next(u for u in info["units"] if u["unit"] == "东镇")
    assert west["contributed"] == pytest.approx(50_000, rel=1e-9)  # wholly inside: all of it
    assert east["inside_share"] == pytest.approx(0.75, rel=1e-6)  # 0.5 area/2 + 0.5 points
    assert info["total"] == pytest.approx(125_000, rel=1e-9)
    with pytest.raises(ValueError):
        D.population_cells(area, data_dir=tiny_dir, spread="bogus")


def test_population_source_strings():
    assert "WorldPop" in D.population_source("area") and "area" in D.population_source("area")
    assert "settlement" in D.population_source("settlements")
    with pytest.raises(ValueError):
        D.population_source("x")


def test_population_array_mismatch(tmp_path):
    d = make_data_dir(tmp_path / "data")
    np.save(d / "population-beijing-townships" / "worldpop.npy", np.zeros((3, 2), dtype=int))
    with pytest.raises(DataError, match="expected one row per polygon"):
        D.area_population(get_area("tongzhou", data_dir=d), data_dir=d)


def test_settlements(tiny_dir):
    area = get_area("tongzhou", data_dir=tiny_dir)
    osm = load_osm(area, data_dir=tiny_dir)
    s = D.settlements(osm, area)
    assert sorted(s["name"]) == ["乙村", "甲村", "镇上"]  # 外村 outside, 地名 is a locality
    assert s.crs.to_epsg() == 4326 and set(s["fclass"]) == {"village", "town"}


@pytest.mark.shared
def test_shared_tongzhou_population(shared_data_dir):
    towns = D.population_townships(data_dir=shared_data_dir)
    assert len(towns) == 331 and towns["population"].sum() == 20_755_648
    assert towns.loc[towns["district"] == "通州区", "population"].sum() == 1_253_184
    area = get_area("tongzhou", data_dir=shared_data_dir)
    pop = D.area_population(area, data_dir=shared_data_dir)
    assert pop == pytest.approx(1.283e6, rel=0.005)
    t0 = time.perf_counter()
    grid = D.hex_grid(area)
    elapsed = time.perf_counter() - t0
    assert 16_000 < len(grid) < 18_000
    assert grid["area_m2"].sum() / 1e6 == pytest.approx(905.3, abs=0.1)
    assert elapsed < 10  # about 0.2 s on a laptop; generous for shared CI machines
    cells = D.population_cells(area, data_dir=shared_data_dir)
    assert cells["population"].sum() == pytest.approx(pop, rel=1e-6)
    assert cells["township"].notna().mean() > 0.99


@pytest.mark.shared
def test_shared_settlements_variant(shared_data_dir):
    area = get_area("tongzhou", data_dir=shared_data_dir)
    a = D.population_cells(area, data_dir=shared_data_dir, cell_size_m=1000)
    s = D.population_cells(area, data_dir=shared_data_dir, cell_size_m=1000, spread="settlements")
    assert s["population"].sum() == pytest.approx(a["population"].sum(), rel=0.05)
    # mass-conserving: the 15 Tongzhou townships keep their counts (inside shares >= 99 %), the
    # difference to the areal total is the 北京经济技术开发区 township's share inside, which
    # follows its settlement points (mostly outside Tongzhou) instead of its area (27.8 %)
    info = s.attrs["population_info"]
    tz = [u for u in info["units"] if u["district"] == "通州区"]
    assert len(tz) == 15 and min(u["inside_share"] for u in tz) > 0.99
    assert info["total"] == pytest.approx(sum(u["contributed"] for u in info["units"]), rel=1e-9)
    etdz = next(u for u in info["units"] if u["unit"] == "北京经济技术开发区")
    a_etdz = next(u for u in a.attrs["population_info"]["units"] if u["unit"] == etdz["unit"])
    assert a_etdz["contributed"] == pytest.approx(29_800, abs=100)
    assert a["population"].sum() - s["population"].sum() == pytest.approx(
        a_etdz["contributed"] - etdz["contributed"], abs=1_000)
    assert s["population"].max() > 2 * a["population"].max()  # concentrated in settlements
    osm = load_osm(area, data_dir=shared_data_dir, layers=["places", "places_a"])
    st = D.settlements(osm, area)
    assert (st["fclass"] == "village").sum() > 300


def test_population_outside_layer_is_zero(tiny_dir):
    far = Area("far", "far", None, shapely.box(116.0, 39.5, 116.01, 39.51))
    assert D.area_population(far, data_dir=tiny_dir) == 0.0
