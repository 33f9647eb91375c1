"""geo.population: fitted mixture (hand-computed toys), ancillary features against a slow
per-polygon reference, census scaling, dasymetric mass conservation, buildings / residential
landuse, the user's polygons and GeoTIFF, jobs, the CLI, and the Beijing validation."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import run_cli
from tinydata import METRIC, box, make_data_dir, pt

from geo.errors import DataError, DataNotFoundError
from geo.population import ancillary, population_surface, source_units, weights, write_surface
from geo.sources.base import OsmData


@pytest.fixture
def tiny_dir(tmp_path):
    d = make_data_dir(tmp_path / "data")
    (d / "census-2020-beijing-districts").mkdir()
    # tiny township layer: 西镇 50,000 + 东镇 100,000 in 通州区 -> census 300,000: factor 2
    (d / "census-2020-beijing-districts" / "districts.csv").write_text(
        "district_code,district,pop_2000_census,pop_2010_census,pop_2020_census\n"
        "110112,通州区,1,2,300000\n110000,北京市,1,2,300000\n", encoding="utf-8")
    return d


def _unit(info, name):
    return next(u for u in info.units if u["unit"] == name)


# ------------------------------------------------------------------ weights (pure maths)
def test_mixture_shares_hand_computed():
    X_parts = np.array([[1.0, 2.0], [3.0, 0.0]])
    X_unit = np.array([4.0, 2.0])
    sh = weights.mixture_shares(X_parts, X_unit, np.array([0.5, 0.5]))
    assert sh == pytest.approx([0.5 * 1 / 4 + 0.5 * 2 / 2, 0.5 * 3 / 4])
    assert sh.sum() == pytest.approx(1.0)
    # a feature the unit lacks drops out and the others are renormalised
    sh = weights.mixture_shares(X_parts, np.array([4.0, 0.0]), np.array([0.25, 0.75]))
    assert sh == pytest.approx([0.25, 0.75])
    assert weights.mixture_shares(X_parts, np.zeros(2), np.array([0.5, 0.5])).sum() == 0


def test_fit_recovers_known_weights():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(8), 12)
    X = rng.uniform(0.1, 10, size=(len(groups), 3))
    b_true = np.array([0.2, 0.0, 0.8])
    totals = {g: 1000.0 * (g + 1) for g in range(8)}
    y = weights.disaggregate(X, groups, totals, b_true)
    b = weights.fit(X, y, groups)
    assert b == pytest.approx(b_true, abs=1e-6)
    assert weights.scores(y, weights.disaggregate(X, groups, totals, b)) == pytest.approx(
        (1.0, 0.0), abs=1e-9)


def test_scores_hand_computed():
    truth = np.array([1.0, 2.0, 3.0])
    # residuals (1, 0, 0): R² = 1 - 1 / 2; APE 100 %, 0, 0 -> median 0
    assert weights.scores(truth, np.array([2.0, 2.0, 3.0])) == pytest.approx((0.5, 0.0))
    # APE 50 %, 50 %, 0 -> median 50
    assert weights.scores(truth, np.array([1.5, 1.0, 3.0]))[1] == pytest.approx(50.0)


def test_fitted_weights_are_a_mixture():
    assert set(weights.FITTED_WEIGHTS) == set(weights.FITTED_FEATURES)
    assert sum(weights.FITTED_WEIGHTS.values()) == pytest.approx(1.0, abs=1e-3)
    assert all(v >= 0 for v in weights.FITTED_WEIGHTS.values())


# ------------------------------------------------------------------ ancillary features
def test_measure_matches_slow_reference():
    polys = np.array([box(0, 0, 1000, 1000), box(1000, 0, 2000, 1000), box(0, 1000, 2000, 3000)])
    water = gpd.GeoDataFrame({"osm_id": ["w"], "fclass": ["water"], "name": [None]},
                             geometry=[box(500, 500, 1500, 700)], crs=METRIC)
    stops = [pt(100, 100), pt(1000, 500), pt(1500, 1500), pt(5000, 5000)]  # 2nd on a border
    tr = gpd.GeoDataFrame({"osm_id": ["1", "2", "3", "4"], "fclass": ["bus_stop"] * 4,
                           "name": [None] * 4}, geometry=stops, crs=METRIC)
    osm = OsmData(layers={"water_a": water.to_crs(4326), "transport": tr.to_crs(4326)})
    anc = ancillary.from_osm(osm)
    X = ancillary.measure(polys, anc)
    # slow obvious reference, one polygon at a time (the border point goes to the first)
    wat = water.geometry.iloc[0]
    for k, p in enumerate(polys):
        assert X[k, 0] == pytest.approx((p.area - p.intersection(wat).area) / 1e6, rel=1e-6)
    counted = [sum(p.intersects(s) for s in stops) for p in polys]
    assert counted == [2, 1, 1]  # the border stop touches two polygons ...
    assert list(X[:, 1]) == [2, 0, 1]  # ... and is counted once, in the first
    assert X[:, 1].sum() == 3


# ------------------------------------------------------------------ census and split
def test_census_scaling(tiny_dir):
    units, factor = source_units("census", data_dir=tiny_dir)
    assert factor == {"通州区": pytest.approx(2.0)}
    assert list(units["count"]) == [100_000, 200_000]
    cells, info = population_surface("tongzhou", method="area", cell_size_m=1000,
                                     data_dir=tiny_dir)
    # hand: 西镇 100,000 wholly inside + half of 东镇's 200,000
    assert info.total == pytest.approx(200_000, rel=1e-9)
    assert cells["population"].sum() == pytest.approx(200_000, rel=1e-9)
    assert info.census_year == 2020 and info.scaling == {"通州区": 2.0}
    assert _unit(info, "东镇")["inside_share"] == pytest.approx(0.5)
    assert "census" in info.source and "Bureau of Statistics" in info.citation
    _, wp = population_surface("tongzhou", source="worldpop", method="area", cell_size_m=1000,
                               data_dir=tiny_dir)
    assert wp.total == pytest.approx(100_000) and wp.census_year is None


def test_census_missing_table(tmp_path):
    d = make_data_dir(tmp_path / "d")
    with pytest.raises(DataNotFoundError, match="census"):
        source_units("census", data_dir=d)


def test_dasymetric_mass_conserving(tiny_dir):
    cells, info = population_surface("tongzhou", source="worldpop", cell_size_m=1000,
                                     data_dir=tiny_dir)
    west = _unit(info, "西镇")  # wholly inside (up to the degree round trip of the fixture)
    assert west["inside_share"] == pytest.approx(1.0, rel=1e-9)
    assert west["contributed"] == pytest.approx(50_000, rel=1e-9)  # Σ of its cell pieces
    # 东镇 (x 5-15 km, 100 km²): park 社区公园 (0.01 km²) inside; 乙村 (village) and 镇上
    # (town) inside; no bus stop or POI point. Inside: 49.99 of 99.99 habitable km², 1 of 1
    # village, 1 of 1 town: inside share = (b_h 49.99/99.99 + b_v + b_t) / (b_h + b_v + b_t)
    b = weights.FITTED_WEIGHTS
    expect = (b["habitable_km2"] * 49.99 / 99.99 + b["villages"] + b["towns"]) / (
        b["habitable_km2"] + b["villages"] + b["towns"])
    east = _unit(info, "东镇")
    assert east["inside_share"] == pytest.approx(expect, rel=1e-6)
    assert info.total == pytest.approx(50_000 + 100_000 * expect, rel=1e-9)
    assert cells["population"].sum() == pytest.approx(info.total, rel=1e-12)
    assert "dasymetric" in info.method and "fitted mixture" in info.method
    # the park cell of 东镇 holds fewer people than a plain cell of 东镇 without evidence
    assert (cells["population"] >= 0).all()
    assert "© OpenStreetMap contributors" in info.citation


def test_buildings_and_residential_landuse(tiny_dir):
    """With buildings_a, floor area (footprint x levels) splits a unit; with residential
    landuse only, its area does."""
    bld = gpd.GeoDataFrame(
        {"osm_id": ["b1", "b2"], "fclass": ["building", "building"], "name": [None, None],
         "building:levels": ["3", None]},
        geometry=[box(1100, 1100, 1200, 1200), box(3100, 6100, 3200, 6200)], crs=METRIC)
    lu = gpd.GeoDataFrame(
        {"osm_id": ["l1", "l2", "l3"], "fclass": ["residential", "residential", "farmland"],
         "name": [None] * 3},
        geometry=[box(6000, 6000, 7000, 7000), box(12_000, 0, 13_000, 1000),
                  box(8000, 0, 9000, 1000)], crs=METRIC)
    osm = OsmData(layers={"buildings_a": bld.to_crs(4326), "landuse_a": lu.to_crs(4326)})
    cells, info = population_surface("tongzhou", source="worldpop", cell_size_m=1000,
                                     data_dir=tiny_dir, osm=osm)
    west, east = _unit(info, "西镇"), _unit(info, "东镇")
    assert west["split"] == "building floor area"
    assert west["inside_share"] == pytest.approx(1.0, rel=1e-9)
    assert east["split"] == "residential landuse area"
    assert east["inside_share"] == pytest.approx(0.5)  # 1 of its 2 km² residential inside
    m = cells.to_crs(METRIC)
    in_b1 = m.contains(pt(1150, 1150))
    in_b2 = m.contains(pt(3150, 6150))
    # 3 x 10,000 m² vs 1 x 10,000 m² floor: 37,500 and 12,500
    assert cells.loc[in_b1.values, "population"].sum() == pytest.approx(37_500)
    assert cells.loc[in_b2.values, "population"].sum() == pytest.approx(12_500)
    res = m.intersects(box(6000, 6000, 7000, 7000).buffer(-1)).values
    assert cells.loc[res, "population"].sum() == pytest.approx(50_000)
    assert info.total == pytest.approx(100_000)


# ------------------------------------------------------------------ the user's own data
def _units_file(tmp_path, **kw):
    g = gpd.GeoDataFrame({"name": ["A", "B"], "pop": [1000, 2000]},
                         geometry=[box(1000, 1000, 3000, 3000), box(9000, 0, 11_000, 2000)],
                         crs=METRIC).to_crs(4326)
    path = tmp_path / kw.get("name", "units.geojson")
    g.to_file(path)
    return path


def test_user_polygons(tiny_dir, tmp_path):
    path = _units_file(tmp_path)
    _cells, info = population_surface("tongzhou", population=path, count_column="pop",
                                     method="area", cell_size_m=1000, data_dir=tiny_dir)
    # A wholly inside; B half inside
    assert info.total == pytest.approx(2000, rel=1e-6)
    assert _unit(info, "B")["inside_share"] == pytest.approx(0.5, rel=1e-6)
    assert info.census_year is None and "units.geojson" in info.source
    with pytest.raises(DataError, match="count_column="):
        population_surface("tongzhou", population=path, data_dir=tiny_dir)
    gpkg = _units_file(tmp_path, name="units.gpkg")
    _, info2 = population_surface("tongzhou", population=gpkg, count_column="pop",
                                  method="dasymetric", cell_size_m=1000, data_dir=tiny_dir)
    assert _unit(info2, "A")["contributed"] == pytest.approx(1000, rel=1e-9)


def _tif(path: Path, values: np.ndarray, x0: float, y0: float, res: float) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", height=values.shape[0],
                       width=values.shape[1], count=1, dtype="float32", crs=METRIC,
                       transform=from_origin(x0, y0, res, res), nodata=-1) as dst:
        dst.write(values.astype("float32"), 1)
    return path


def test_user_raster(tiny_dir, tmp_path):
    from tinydata import ORIGIN

    # 1 km pixels from x, y = -2 km to 12 km: centres at -1.5, -0.5, 0.5, ... 11.5 km;
    # 10 x 10 centres fall inside the 10 km square; value 7 each, one nodata pixel inside
    vals = np.full((14, 14), 7.0)
    vals[5, 5] = -1
    tif = _tif(tmp_path / "pop.tif", vals, ORIGIN[0] - 2000, ORIGIN[1] + 12_000, 1000)
    cells, info = population_surface("tongzhou", population=tif, cell_size_m=500,
                                     data_dir=tiny_dir)
    assert info.total == pytest.approx(7 * 99)
    assert cells["population"].sum() == pytest.approx(7 * 99)
    assert "raster" in info.method


def test_jobs_layer(tiny_dir, tmp_path):
    with pytest.raises(DataNotFoundError, match="jobs"):
        population_surface("tongzhou", kind="jobs", data_dir=tiny_dir)
    path = _units_file(tmp_path)
    cells, info = population_surface("tongzhou", kind="jobs", population=path,
                                     count_column="pop", method="area", cell_size_m=1000,
                                     data_dir=tiny_dir)
    assert "jobs" in cells.columns and cells["jobs"].sum() == pytest.approx(2000, rel=1e-6)
    assert info.kind == "jobs"


# ------------------------------------------------------------------ output and CLI
@pytest.mark.parametrize("ext", [".csv", ".gpkg", ".parquet"])
def test_write_surface(tiny_dir, tmp_path, ext):
    cells, info = population_surface("tongzhou", method="area", cell_size_m=1000,
                                     data_dir=tiny_dir)
    out = write_surface(cells, info, tmp_path / f"cells{ext}")
    if ext == ".csv":
        import pandas as pd

        back = pd.read_csv(out)
        assert {"lon", "lat"} <= set(back.columns)
    else:
        back = gpd.read_parquet(out) if ext == ".parquet" else gpd.read_file(out)
    assert back["population"].sum() == pytest.approx(200_000)
    assert set(back["method"]) == {info.method}
    meta = json.loads(Path(str(out) + ".info.json").read_text(encoding="utf-8"))
    assert meta["total"] == pytest.approx(200_000) and meta["census_year"] == 2020
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_data_population(tiny_dir, tmp_path):
    out = tmp_path / "o" / "cells.csv"
    r = run_cli("data", "population", "--area", "tongzhou", "--cell-size-m", "1000",
                "--method", "area", "--out", str(out), "--data-dir", str(tiny_dir))
    assert r.returncode == 0, r.stderr
    assert "200,000" in r.stderr and out.is_file()
    bad = run_cli("data", "population", "--area", "tongzhou", "--out", str(tmp_path / "x.shp"),
                  "--data-dir", str(tiny_dir))
    assert bad.returncode == 2 and "unknown extension" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    nocol = run_cli("data", "population", "--area", "tongzhou", "--out", str(tmp_path / "y.csv"),
                    "--population", str(_units_file(tmp_path)), "--data-dir", str(tiny_dir))
    assert nocol.returncode == 2 and "--count-column" in nocol.stderr
    assert not (tmp_path / "y.csv").exists()


# ------------------------------------------------------------------ the shared bundle
@pytest.mark.shared
def test_shared_validation_beats_areal(shared_data_dir):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    import validate_population

    v = weights.validate(shared_data_dir)
    rows = {r["method"]: r for r in v.rows}
    assert v.n_units == 331 and v.n_groups == 16
    assert rows["areal (even spread)"]["r2"] == pytest.approx(-0.23, abs=0.01)
    assert rows["areal (even spread)"]["mdape_pct"] == pytest.approx(50, abs=1)
    assert rows["bus stops alone"]["r2"] == pytest.approx(0.62, abs=0.01)
    assert validate_population.beats_areal(v)
    assert v.fitted_weights == pytest.approx(weights.FITTED_WEIGHTS, abs=2e-4)


@pytest.mark.shared
def test_shared_tongzhou_totals_explained(shared_data_dir):
    _, wp = population_surface("tongzhou", source="worldpop", method="area",
                               data_dir=shared_data_dir)
    etdz = _unit(wp, "北京经济技术开发区")
    assert wp.total == pytest.approx(1_283_000, abs=500)
    assert etdz["contributed"] == pytest.approx(29_800, abs=100)
    assert etdz["inside_share"] == pytest.approx(0.278, abs=0.002)
    tz = [u for u in wp.units if u["district"] == "通州区"]
    assert len(tz) == 15 and sum(u["count"] for u in tz) == pytest.approx(1_253_184)
    cells, cen = population_surface("tongzhou", data_dir=shared_data_dir)
    assert cen.scaling["通州区"] == pytest.approx(1_840_295 / 1_253_184, abs=1e-6)
    assert sum(u["count"] for u in cen.units if u["district"] == "通州区") == pytest.approx(
        1_840_295)
    assert 1_800_000 < cen.total < 1_900_000
    assert cells["population"].sum() == pytest.approx(cen.total, rel=1e-12)


def test_population_cells_delegates(tiny_dir, tmp_path):
    """geo.demand.population_cells (what StudyContext calls) reaches the new surface."""
    from geo import demand as D

    base = D.population_cells("tongzhou", data_dir=tiny_dir, cell_size_m=1000)
    das = D.population_cells("tongzhou", data_dir=tiny_dir, cell_size_m=1000,
                             spread="dasymetric", source="census")
    assert list(das.columns) == list(base.columns)
    assert list(das["cell_id"]) == list(base["cell_id"])  # same grid: variants line up
    assert das.attrs["population_info"]["census_year"] == 2020
    cen = D.population_cells("tongzhou", data_dir=tiny_dir, cell_size_m=1000, source="census")
    assert cen["population"].sum() == pytest.approx(200_000, rel=1e-9)
    own = D.population_cells("tongzhou", data_dir=tiny_dir, cell_size_m=1000,
                             population=_units_file(tmp_path), count_column="pop")
    assert own["population"].sum() == pytest.approx(2000, rel=1e-6)
    with pytest.raises(ValueError, match="settlements"):
        D.population_cells("tongzhou", data_dir=tiny_dir, spread="settlements",
                           population=_units_file(tmp_path), count_column="pop")


def test_water_and_parks_carry_nobody(tiny_dir):
    """A cell piece wholly under water gets no one, even with a POI point in it."""
    cells0, _ = population_surface("tongzhou", source="worldpop", cell_size_m=1000,
                                   data_dir=tiny_dir)
    m = cells0.to_crs(METRIC)
    # a lake over the cell holding the school 一小 (2500, 2500), larger than the cell
    target = m.contains(pt(2500, 2500)).values
    c = m.geometry.values[target][0].centroid
    lake = shapely.box(c.x - 800, c.y - 800, c.x + 800, c.y + 800)
    assert cells0.loc[target, "population"].iloc[0] > 0
    from geo.sources import load_osm

    osm = load_osm(None, data_dir=tiny_dir, layers=ancillary.LAYERS)
    osm.layers["water_a"] = gpd.GeoDataFrame(
        {"osm_id": ["w1"], "fclass": ["water"], "name": ["湖"]}, geometry=[lake],
        crs=METRIC).to_crs(4326)
    cells, info = population_surface("tongzhou", source="worldpop", cell_size_m=1000,
                                     data_dir=tiny_dir, osm=osm)
    assert cells.loc[target, "population"].iloc[0] == 0
    assert _unit(info, "西镇")["contributed"] == pytest.approx(50_000, rel=1e-9)


def test_ancillary_features_cached_on_disk_and_invalidated_by_the_data(tiny_dir, monkeypatch):
    """A second process (the in-process memo emptied) reads the ancillary features from the
    disk cache and gets the same surface; any change of a file in the data directory makes a
    new key (measured again)."""
    import os

    from geo.population import surface

    first, _ = population_surface("tongzhou", cell_size_m=1000, data_dir=tiny_dir)
    files = sorted((surface.settings.cache_dir / "population").glob("ancillary-*.npz"))
    assert len(files) == 1
    surface.forget_measured()
    calls = []
    real = ancillary.measure
    monkeypatch.setattr(ancillary, "measure", lambda *a: calls.append(1) or real(*a))
    again, _ = population_surface("tongzhou", cell_size_m=1000, data_dir=tiny_dir)
    assert calls == []                                      # read from the disk cache
    assert again["population"].to_numpy() == pytest.approx(first["population"].to_numpy(),
                                                            rel=1e-12)
    surface.forget_measured()
    layer = next(tiny_dir.rglob("*.shp"))
    os.utime(layer, ns=(layer.stat().st_atime_ns, layer.stat().st_mtime_ns + 10**9))
    population_surface("tongzhou", cell_size_m=1000, data_dir=tiny_dir)
    assert calls                                            # the data changed: measured again
    assert len(list((surface.settings.cache_dir / "population").glob("*.npz"))) == 2


def test_residents_and_jobs_denominator_through_the_cli(tiny_dir, tmp_path):
    """C01 with a jobs layer: 6,000 jobs in a block around station 甲 (all within 500 m of
    it) lift the share from s0 (residents only, P residents) to (s0 P + 6,000) / (P + 6,000);
    without the layer the denominator says jobs are missing and the verdict cannot be robust.
    Through the real CLI (geo evaluate --jobs-layer FILE --jobs-count-column COL), and
    geo report takes the same options."""
    jobs = gpd.GeoDataFrame({"name": ["block"], "n_jobs": [6000]},
                            geometry=[box(900, 900, 1100, 1100)], crs=METRIC).to_crs(4326)
    jobs_file = tmp_path / "jobs.geojson"
    jobs.to_file(jobs_file)
    common = ("evaluate", "--area", "tongzhou", "--data-dir", str(tiny_dir), "--json", "-",
              "--cell-size-m", "500", "--no-sensitivity")
    base = run_cli(*common)
    assert base.returncode == 0, base.stderr
    with_jobs = run_cli(*common, "--jobs-layer", str(jobs_file), "--jobs-count-column",
                        "n_jobs")
    assert with_jobs.returncode == 0, with_jobs.stderr
    c0 = next(c for c in json.loads(base.stdout)["claims"] if c["id"] == "C01")
    c1 = next(c for c in json.loads(with_jobs.stdout)["claims"] if c["id"] == "C01")
    assert c0["measured"]["denominator"] == "population (jobs not available)"
    assert c1["measured"]["denominator"] == "population_and_jobs"
    residents = sum(b["population"] for b in c0["breakdown"])    # (rounded to 0.1)
    s0 = c0["measured"]["value"]
    assert c1["measured"]["value"] == pytest.approx((s0 * residents + 6000) /
                                                    (residents + 6000), rel=1e-6)
    assert any("6,000 jobs" in n for n in c1["notes"])
    missing = run_cli(*common, "--jobs-layer", str(tmp_path / "nope.geojson"))
    assert missing.returncode == 2 and "--jobs-layer" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    rep = run_cli("report", "--area", "tongzhou", "--data-dir", str(tiny_dir), "--out",
                  str(tmp_path / "rep"), "--no-maps", "--no-sensitivity", "--cell-size-m",
                  "500", "--jobs-layer", str(jobs_file), "--jobs-count-column", "n_jobs")
    assert rep.returncode == 0, rep.stderr
    c2 = next(c for c in json.loads((tmp_path / "rep" / "claims.json").read_text())["claims"]
              if c["id"] == "C01")
    assert c2["measured"]["value"] == pytest.approx(c1["measured"]["value"], rel=1e-12)


def test_site_weighs_residents_and_jobs(tiny_dir, tmp_path):
    """geo site --jobs-layer: the siting starts from C01 as evaluated with the same jobs layer
    (its share before = the evaluated value) and weighs cells by residents + jobs."""
    jobs = gpd.GeoDataFrame({"n_jobs": [6000]}, geometry=[box(900, 900, 1100, 1100)],
                            crs=METRIC).to_crs(4326)
    jobs_file = tmp_path / "jobs.geojson"
    jobs.to_file(jobs_file)
    opts = ("--area", "tongzhou", "--data-dir", str(tiny_dir), "--cell-size-m", "500",
            "--jobs-layer", str(jobs_file), "--jobs-count-column", "n_jobs")
    ev = run_cli("evaluate", *opts, "--json", "-", "--no-sensitivity")
    assert ev.returncode == 0, ev.stderr
    c01 = next(c for c in json.loads(ev.stdout)["claims"] if c["id"] == "C01")
    site = run_cli("site", "--claim", "C01", "--add", "1", "--json",
                   str(tmp_path / "s.json"), *opts)
    assert site.returncode == 0, site.stderr
    out = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert out["model"]["weight"] == "weight"
    assert out["share_before"] == pytest.approx(c01["measured"]["value"], rel=1e-9)
