"""Population (or jobs) per hex cell: source units, census adjustment, dasymetric split.

Sources of the counts (``source``)
----------------------------------
* ``census`` (default): WorldPop's township split (bundle ``population-beijing-townships``,
  WorldPop about 2020, CC BY 4.0, via tsinghua-fib-lab/mosstool) scaled per district to the
  2020 census resident population (bundle ``census-2020-beijing-districts``, "Beijing Municipal
  Bureau of Statistics, 2020 census"): each township x (census district total / WorldPop
  district total). Tongzhou: 1,253,184 -> 1,840,295 (x 1.4685).
* ``worldpop``: the WorldPop township counts as they are (a sensitivity variant).
* a user file (``population=PATH``): polygons with a count column (census units; GeoJSON, GPKG,
  Shapefile; ``count_column`` names it), or a GeoTIFF of counts per pixel (e.g. WorldPop 100 m).

Split over cells (``method``)
-----------------------------
* ``dasymetric`` (default): each unit's count is split by ancillary OSM evidence
  (:mod:`geo.population.ancillary`): building floor area when ``buildings_a`` is present, else
  residential landuse, else the mixture fitted on Beijing's townships
  (:data:`geo.population.weights.FITTED_WEIGHTS`: habitable area without water and parks, bus
  stops, POIs, villages, towns); a cell piece wholly under water or park gets nobody.
* ``area``: even spread over each unit's area (areal weighting; sensitivity variant).

Mass conservation: a unit's weight is measured over the whole unit, so the cells of a unit lying
wholly inside the area sum exactly to its count, and a unit straddling the boundary contributes
``count x inside_share`` where ``inside_share`` is the share of its weight inside. The result's
:class:`PopulationInfo` names every unit that contributed and its inside share.
A raster's pixels go whole to the cell holding their centre (pixels centred outside the area are
left out).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo.areas import Area, get_area
from geo.errors import DataError, DataNotFoundError
from geo.memo import Memo, geometry_key
from geo.population import ancillary, weights

log = logging.getLogger(__name__)

SOURCES = ("census", "worldpop")
METHODS = ("dasymetric", "area")
CENSUS_FOLDER = "census-2020-beijing-districts"
CENSUS_CSV = "districts.csv"
CENSUS_YEAR = 2020
CENSUS_CITATION = ("Beijing Municipal Bureau of Statistics, 2020 census (第七次全国人口普查), "
                   "district resident population (常住人口)")
WORLDPOP_CITATION = ("WorldPop (www.worldpop.org) township counts, about 2020 (edition not "
                     "stated; likely chn_ppp_2020_UNadj_constrained), via "
                     "tsinghua-fib-lab/mosstool, CC BY 4.0")
OSM_CITATION = "© OpenStreetMap contributors"
RASTER_SUFFIXES = (".tif", ".tiff")


@dataclass
class PopulationInfo:
    """How a surface's numbers were formed (every output carries it).

    ``units`` lists each source unit that contributed: ``unit, district, count`` (the unit's
    whole count after any census scaling), ``inside_share`` (0-1, share of the unit's weight
    inside the area), ``contributed`` (= count x inside_share), ``split`` (what split it).
    """

    kind: str  # "population" or "jobs"
    method: str
    source: str
    citation: str
    total: float
    cell_size_m: float
    area: str
    census_year: int | None = None
    scaling: dict[str, float] = field(default_factory=dict)  # district -> census/WorldPop
    units: list[dict[str, Any]] = field(default_factory=list)
    ancillary_layers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    def summary(self) -> str:
        """One paragraph: method, source, total and how the total was formed."""
        whole = [u for u in self.units if u["inside_share"] >= 0.999]
        part = [u for u in self.units if u["inside_share"] < 0.999 and u["contributed"] >= 0.5]
        tiny = [u for u in self.units if u["inside_share"] < 0.999 and u["contributed"] < 0.5]
        s = (f"{self.kind} {self.total:,.0f} in {self.area} ({self.method}, {self.source}): "
             f"{len(whole)} units at least 99.9 % inside "
             f"({sum(u['contributed'] for u in whole):,.0f})")
        if part:
            s += "; partly inside: " + ", ".join(
                f"{u['unit']} ({u['district']}) {u['inside_share']:.1%} of {u['count']:,.0f} "
                f"= {u['contributed']:,.0f}" for u in part)
        if tiny:
            s += f"; {len(tiny)} more units with under 1 person each"
        return s


# ---------------------------------------------------------------- source units
def census_districts(data_dir: str | Path | None = None) -> pd.DataFrame:
    """The census table (``district_code, district, pop_2000_census, pop_2010_census,
    pop_2020_census``), the 16 districts without the city total row."""
    root = settings.resolve_data_dir(data_dir)
    hits = sorted(root.glob(f"{CENSUS_FOLDER}/{CENSUS_CSV}")) + sorted(
        root.glob(f"*/{CENSUS_FOLDER}/{CENSUS_CSV}"))
    if not hits:
        raise DataNotFoundError(f"no census table {CENSUS_FOLDER}/{CENSUS_CSV} under data "
                                f"directory {root}: use the shared bundle or source='worldpop'")
    df = pd.read_csv(hits[0], dtype={"district_code": str})
    need = {"district", f"pop_{CENSUS_YEAR}_census"}
    if not need <= set(df.columns):
        raise DataError(f"census table {hits[0]} lacks columns {sorted(need - set(df.columns))}")
    return df[~df["district_code"].astype(str).str.endswith("0000")].reset_index(drop=True)


def _stem(district: str) -> str:
    """District name without its 区/县 suffix (the township layer says 密云县, the census 密云区)."""
    return district[:-1] if district and district[-1] in "区县" else district


def source_units(source: str = "census", *, data_dir: str | Path | None = None
                 ) -> tuple[gpd.GeoDataFrame, dict[str, float]]:
    """Township units with their counts (EPSG:32650) and the per-district scaling applied.

    Returns
    -------
    (GeoDataFrame ``unit, district, count, geometry``, {district: census / WorldPop factor})
    """
    from geo.demand import population_townships

    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES} or a file, got {source!r}")
    towns = population_townships(data_dir=data_dir)
    units = gpd.GeoDataFrame({"unit": towns["township"].to_numpy(),
                              "district": towns["district"].to_numpy(),
                              "count": towns["population"].to_numpy(dtype=float)},
                             geometry=towns.geometry.values, crs=towns.crs)
    if source == "worldpop":
        return units, {}
    census = census_districts(data_dir)
    cen = {_stem(d): float(v) for d, v in zip(census["district"],
                                              census[f"pop_{CENSUS_YEAR}_census"])}
    wp = units.groupby("district")["count"].sum()
    missing = sorted(d for d in wp.index if _stem(d) not in cen)
    if missing:
        raise DataError(f"census table has no row for district(s) {missing} of the township "
                        f"layer: fix the table or use source='worldpop'")
    factor = {d: cen[_stem(d)] / float(wp[d]) for d in wp.index}
    units["count"] = units["count"] * units["district"].map(factor).to_numpy(dtype=float)
    return units, factor


def read_unit_file(path: str | Path, count_column: str | None) -> gpd.GeoDataFrame:
    """User polygons with a count column as units (``unit, district, count``, EPSG:32650)."""
    import pyogrio

    path = Path(path)
    if not path.exists():
        raise DataNotFoundError(f"population file {path} does not exist")
    try:
        gdf = pyogrio.read_dataframe(path, use_arrow=False)
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"population file {path} cannot be read ({msg}): give a GeoJSON, "
                        f"GeoPackage or Shapefile of polygons, or a GeoTIFF") from exc
    if count_column is None or count_column not in gdf.columns:
        cols = [c for c in gdf.columns if c != "geometry"]
        raise DataError(f"population file {path}: declare its count column with "
                        f"count_column= (columns: {cols})")
    counts = pd.to_numeric(gdf[count_column], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(counts).all() or (counts < 0).any():
        raise DataError(f"population file {path}: column {count_column!r} must hold "
                        f"non-negative numbers in every row")
    if not gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        raise DataError(f"population file {path} must hold polygons (got "
                        f"{sorted(set(gdf.geom_type.dropna()))})")
    if gdf.crs is None:
        raise DataError(f"population file {path} has no coordinate reference system: save it "
                        f"with one (e.g. EPSG:4326)")
    name_col = next((c for c in ("name", "unit", "NAME") if c in gdf.columns), None)
    names = (gdf[name_col].astype(str).to_numpy() if name_col
             else np.array([f"#{i}" for i in range(len(gdf))], dtype=object))
    out = gpd.GeoDataFrame({"unit": names, "district": path.name, "count": counts},
                           geometry=shapely.make_valid(gdf.geometry.values), crs=gdf.crs)
    return out.to_crs(settings.metric_crs)


# ---------------------------------------------------------------- the split
def cell_pieces(cells: np.ndarray, units: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cell index, unit index, piece geometry) for every pair of a cell and a unit with an
    overlap of positive area (metric CRS). Remembered per shapes in this process: every
    population reading of a district (census, WorldPop, areal, settlements) cuts the same cells
    by the same township shapes."""
    def cut() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ci, ti = shapely.STRtree(units).query(cells, predicate="intersects")
        whole = shapely.contains_properly(units[ti], cells[ci])
        geoms = cells[ci].copy()
        if (~whole).any():
            geoms[~whole] = shapely.intersection(cells[ci[~whole]], units[ti[~whole]])
        keep = shapely.area(geoms) > 0
        out = (ci[keep], ti[keep], geoms[keep])
        for arr in out:
            arr.flags.writeable = False
        return out

    return _PIECES.get(geometry_key(cells, units), cut)


def _load_ancillary(units: gpd.GeoDataFrame, osm: Any, data_dir: Any) -> ancillary.Ancillary:
    if osm is None:
        from geo.sources import load_osm

        hull = gpd.GeoSeries([shapely.union_all(units.geometry.values).envelope],
                             crs=settings.metric_crs).to_crs(settings.geographic_crs).iloc[0]
        osm = load_osm(Area("units", "units", None, hull), data_dir=data_dir,
                       layers=ancillary.LAYERS)
    return ancillary.from_osm(osm)


#: Cell x unit pieces already cut in this process (see :func:`cell_pieces`).
_PIECES = Memo(4)
#: Feature matrices already measured in this process (see :func:`_measured`), newest last.
_MEASURED: dict[str, tuple[np.ndarray, ...]] = {}
_MEASURED_MAX = 4


def _measured(units: gpd.GeoDataFrame, osm: Any, data_dir: Any,
              geoms: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    """:func:`ancillary.measure` of each array of polygons, memoised when the ancillary layers
    come from the data directory (``osm`` None): in this process (the census and WorldPop
    readings split the same township shapes over the same cells, so they share one
    measurement) and on disk under ``settings.cache_dir / "population"`` (a second run of the
    same area reads it). The key hashes the data directory's files (path, size, mtime), the
    ancillary code, and the units' and polygons' geometry (WKB); matrices are read-only."""
    if osm is not None:
        anc = _load_ancillary(units, osm, data_dir)
        return tuple(ancillary.measure(g, anc) for g in geoms)
    key = _measured_key(data_dir, (np.asarray(units.geometry.values), *geoms))
    hit = _MEASURED.pop(key, None)
    if hit is None:
        hit = _read_measured(key, len(geoms))
    if hit is None:
        anc = _load_ancillary(units, osm, data_dir)
        hit = tuple(ancillary.measure(g, anc) for g in geoms)
        _write_measured(key, hit)
    for X in hit:
        X.flags.writeable = False
    _MEASURED[key] = hit
    while len(_MEASURED) > _MEASURED_MAX:
        _MEASURED.pop(next(iter(_MEASURED)))
    return hit


def forget_measured() -> None:
    """Forget the ancillary features measured in this process (the disk cache stays): the
    next reading behaves as a new process would."""
    _MEASURED.clear()


def _measured_key(data_dir: Any, arrays: tuple[np.ndarray, ...]) -> str:
    import hashlib

    root = Path(settings.resolve_data_dir(data_dir)).resolve()
    h = hashlib.sha1(str(root).encode())
    for f in sorted(root.rglob("*")):
        if f.is_file():
            st = f.stat()
            h.update(f"{f.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}".encode())
    h.update(Path(ancillary.__file__).read_bytes())
    h.update(geometry_key(*arrays).encode())
    return h.hexdigest()


def _measured_path(key: str) -> Path:
    return Path(settings.cache_dir) / "population" / f"ancillary-{key}.npz"


def _read_measured(key: str, n: int) -> tuple[np.ndarray, ...] | None:
    """The matrices of ``key`` from the disk cache, or None (absent or unreadable)."""
    path = _measured_path(key)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            out = tuple(np.asarray(z[f"arr_{i}"], dtype=float) for i in range(n))
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring unreadable population cache %s (%s)", path, exc)
        return None
    if any(X.ndim != 2 or X.shape[1] != len(ancillary.FEATURES) for X in out):
        return None
    log.info("ancillary features from cache %s", path)
    return out


def _write_measured(key: str, hit: tuple[np.ndarray, ...]) -> None:
    """Store the matrices (atomically); a cache that cannot be written is only logged."""
    from geo.io import atomic_path

    try:
        with atomic_path(_measured_path(key)) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, *hit)      # arr_0, arr_1, ... in order
    except OSError as exc:
        log.warning("population cache not written (%s)", exc)


def _split_plan(X_unit: np.ndarray, method: str
                ) -> tuple[np.ndarray, str]:
    """Mixing weights over :data:`ancillary.FEATURES` for one unit, and their label."""
    f = ancillary.FEATURES
    b = np.zeros(len(f))
    if method == "dasymetric":
        if X_unit[f.index("floor_m2")] > 0:
            b[f.index("floor_m2")] = 1.0
            return b, "building floor area"
        if X_unit[f.index("residential_km2")] > 0:
            b[f.index("residential_km2")] = 1.0
            return b, "residential landuse area"
        for k, v in weights.FITTED_WEIGHTS.items():
            b[f.index(k)] = v
        if (X_unit[b > 0] > 0).any():
            return b, "fitted mixture (habitable area, bus stops, POIs, villages, towns)"
        b[:] = 0
    b[f.index("habitable_km2")] = 1.0  # method "area" measures whole area: see _area_X
    return b, "area"


def _split_units(area: Area, cells: gpd.GeoDataFrame, units: gpd.GeoDataFrame, method: str,
                 osm: Any, data_dir: Any) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Population per cell, a per-unit table and the unit index of each cell's largest piece."""
    geom = area.geometry_m
    shapely.prepare(geom)
    hit = shapely.intersects(geom, units.geometry.values)
    units = units[hit].reset_index(drop=True)
    ugeom = np.asarray(units.geometry.values)
    inside = np.where(shapely.contains(geom, ugeom), ugeom, shapely.intersection(ugeom, geom))
    cgeom = np.asarray(cells.geometry.values)
    ci, ti, pgeom = cell_pieces(cgeom, ugeom)
    if method == "dasymetric":
        X_u, X_in, X_p = _measured(units, osm, data_dir, (ugeom, inside, pgeom))
    else:  # plain area in the habitable_km2 column (nothing excluded)
        def _area_X(g: np.ndarray) -> np.ndarray:
            X = np.zeros((len(g), len(ancillary.FEATURES)))
            X[:, 0] = shapely.area(g) / 1e6
            return X
        X_u, X_in, X_p = _area_X(ugeom), _area_X(inside), _area_X(pgeom)
    counts = units["count"].to_numpy(dtype=float)
    pop = np.zeros(len(ci))
    rows = []
    for t in range(len(units)):
        b, label = _split_plan(X_u[t], method) if method == "dasymetric" else (
            np.eye(len(ancillary.FEATURES))[0], "area")
        share_in = float(np.clip(ancillary_share(X_in[t:t + 1], X_u[t], b)[0], 0.0, 1.0))
        if shapely.contains(geom, ugeom[t]):
            share_in = 1.0
        m = ti == t
        raw = ancillary_share(X_p[m], X_u[t], b)
        if label.startswith("fitted"):  # a piece wholly under water or park carries nobody,
            raw = np.where(X_p[m, 0] > 0, raw, 0.0)  # whatever points (a kiosk) lie in it
        if raw.sum() <= 0:  # nothing of the unit's evidence inside: spread by area
            raw = shapely.area(pgeom[m])
        if raw.sum() > 0:
            pop[m] = counts[t] * share_in * raw / raw.sum()
        rows.append({"unit": str(units["unit"].iat[t]), "district": str(units["district"].iat[t]),
                     "count": counts[t], "inside_share": share_in,
                     "contributed": float(pop[m].sum()), "split": label})
    cell_pop = np.bincount(ci, weights=pop, minlength=len(cells))
    a = shapely.area(pgeom)
    order = np.lexsort((-a, ci))
    first = order[np.r_[True, ci[order][1:] != ci[order][:-1]]] if len(ci) else order
    cell_unit = np.full(len(cells), -1)
    cell_unit[ci[first]] = ti[first]
    table = pd.DataFrame(rows)
    return cell_pop, table, cell_unit


def ancillary_share(X_parts: np.ndarray, X_unit: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`geo.population.weights.mixture_shares` (alias used by the split)."""
    return weights.mixture_shares(X_parts, X_unit, b)


def _raster_points(path: Path, area: Area) -> tuple[np.ndarray, np.ndarray, str]:
    """Pixel centres (EPSG:32650) and counts of a GeoTIFF over the area's bounds."""
    try:
        import rasterio
        from rasterio.windows import from_bounds
    except ImportError as exc:  # pragma: no cover - rasterio is a dependency
        raise DataError("reading a GeoTIFF needs rasterio: pip install rasterio") from exc
    try:
        src = rasterio.open(path)
    except Exception as exc:
        raise DataError(f"population raster {path} cannot be read ({exc})") from exc
    with src:
        if src.crs is None:
            raise DataError(f"population raster {path} has no CRS: save it with one")
        bounds = gpd.GeoSeries([area.geometry], crs=settings.geographic_crs).to_crs(
            src.crs).total_bounds
        win = from_bounds(*bounds, transform=src.transform).round_offsets().round_lengths()
        win = win.intersection(rasterio.windows.Window(0, 0, src.width, src.height))
        band = src.read(1, window=win, masked=True).astype(float)
        tr = src.window_transform(win)
        crs = src.crs.to_string()
    vals = np.ma.filled(band, 0.0)
    vals = np.where(np.isfinite(vals) & (vals > 0), vals, 0.0)
    rr, cc = np.nonzero(vals)
    xs = tr.c + tr.a * (cc + 0.5) + tr.b * (rr + 0.5)  # pixel centres
    ys = tr.f + tr.d * (cc + 0.5) + tr.e * (rr + 0.5)
    pts = gpd.GeoSeries(shapely.points(xs, ys), crs=crs).to_crs(settings.metric_crs).values
    return np.asarray(pts), vals[rr, cc], crs


def _split_raster(area: Area, cells: gpd.GeoDataFrame, path: Path
                  ) -> tuple[np.ndarray, pd.DataFrame]:
    pts, vals, _ = _raster_points(path, area)
    geom = area.geometry_m
    shapely.prepare(geom)
    inside = shapely.intersects(geom, pts) if len(pts) else np.zeros(0, bool)
    pts, vals = pts[inside], vals[inside]
    cgeom = np.asarray(cells.geometry.values)
    tree = shapely.STRtree(cgeom)
    cell_of = np.full(len(pts), -1)
    if len(pts):
        pi, gi = tree.query(pts, predicate="intersects")
        order = np.lexsort((gi, pi))
        pi, gi = pi[order], gi[order]
        first = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.zeros(0, bool)
        cell_of[pi[first]] = gi[first]
        lost = cell_of < 0  # centres in boundary slivers without a cell: nearest cell
        if lost.any():
            cell_of[lost] = tree.query_nearest(pts[lost], return_distance=False)[1]
    cell_pop = np.bincount(cell_of, weights=vals, minlength=len(cells)) if len(pts) else \
        np.zeros(len(cells))
    table = pd.DataFrame([{"unit": f"{len(pts)} pixels centred inside", "district": path.name,
                           "count": float(vals.sum()), "inside_share": 1.0,
                           "contributed": float(vals.sum()), "split": "pixel centre"}])
    return cell_pop, table


# ---------------------------------------------------------------- public entry point
def population_surface(area: Area | str, *, source: str = "census", method: str = "dasymetric",
                       population: str | Path | None = None, count_column: str | None = None,
                       cell_size_m: float = 250.0, data_dir: str | Path | None = None,
                       osm: Any = None, kind: str = "population"
                       ) -> tuple[gpd.GeoDataFrame, PopulationInfo]:
    """Hex cells over an area with the people (or jobs) in each, and how they were formed.

    Parameters
    ----------
    area : Area or str
        Study area.
    source : {"census", "worldpop"}
        Bundle counts to use when no ``population`` file is given (module doc).
    method : {"dasymetric", "area"}
        Split of each unit over cells (module doc); ignored for a raster (pixels are placed).
    population : path, optional
        The user's own counts: polygons (+ ``count_column``) or a GeoTIFF of counts.
    count_column : str, optional
        Column with the counts in a polygon ``population`` file.
    cell_size_m : float
        Hex cell width in metres (:func:`geo.demand.hex_grid`).
    osm : OsmData, optional
        Ancillary OSM layers (:data:`geo.population.ancillary.LAYERS`) covering the units;
        read from the data directory when not given.
    kind : str
        "population" or "jobs": the name of the count column of the result.

    Returns
    -------
    (GeoDataFrame ``cell_id, area_m2, <kind>, unit, district, geometry`` in EPSG:4326,
    :class:`PopulationInfo`)
    """
    from geo.demand import hex_grid

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if kind not in ("population", "jobs"):
        raise ValueError(f"kind must be 'population' or 'jobs', got {kind!r}")
    area = get_area(area, data_dir=data_dir)
    cells = hex_grid(area, cell_size_m=cell_size_m, data_dir=data_dir, crs=settings.metric_crs)
    scaling: dict[str, float] = {}
    census_year = None
    notes: list[str] = []
    unit_col = np.full(len(cells), None, dtype=object)
    dist_col = np.full(len(cells), None, dtype=object)
    anc_layers: list[str] = []
    if population is not None and Path(population).suffix.lower() in RASTER_SUFFIXES:
        path = Path(population)
        if not path.exists():
            raise DataNotFoundError(f"{kind} raster {path} does not exist")
        cell_pop, table = _split_raster(area, cells, path)
        method_label, src_label = "raster pixels by centre", f"user raster {path.name}"
        citation = f"user file {path}"
    else:
        if population is not None:
            units = read_unit_file(population, count_column)
            src_label, citation = f"user units {Path(population).name}", f"user file {population}"
        else:
            if kind == "jobs":
                raise DataNotFoundError("no jobs layer: give one with population=FILE (polygons + "
                                        "count column, or a GeoTIFF)")
            units, scaling = source_units(source, data_dir=data_dir)
            if source == "census":
                census_year = CENSUS_YEAR
                src_label = "WorldPop township split scaled to the 2020 census district totals"
                citation = f"{WORLDPOP_CITATION}; {CENSUS_CITATION}"
            else:
                src_label, citation = "WorldPop township counts", WORLDPOP_CITATION
        cell_pop, table, cell_unit = _split_units(area, cells, units, method, osm, data_dir)
        has = cell_unit >= 0
        uu = units[shapely.intersects(area.geometry_m, units.geometry.values)].reset_index(
            drop=True)
        unit_col[has] = uu["unit"].to_numpy()[cell_unit[has]]
        dist_col[has] = uu["district"].to_numpy()[cell_unit[has]]
        splits = sorted(set(table["split"])) if len(table) else []
        method_label = (f"dasymetric ({'; '.join(splits)}), mass-conserving per unit"
                        if method == "dasymetric" else "areal weighting (even spread per unit)")
        if method == "dasymetric":
            citation += f"; ancillary {OSM_CITATION}"
            if any(s.startswith("fitted") for s in splits):
                notes.append("mixture weights fitted district->township on Beijing "
                             "(geo.population.weights.FITTED_WEIGHTS) and applied "
                             "township->cell")
            anc_layers = list(ancillary.LAYERS)
    out = gpd.GeoDataFrame({"cell_id": cells["cell_id"].to_numpy(),
                            "area_m2": cells["area_m2"].to_numpy(), kind: cell_pop,
                            "unit": pd.Series(unit_col, dtype=object),
                            "district": pd.Series(dist_col, dtype=object)},
                           geometry=cells.geometry.values, crs=settings.metric_crs)
    info = PopulationInfo(kind=kind, method=method_label, source=src_label, citation=citation,
                          total=float(cell_pop.sum()), cell_size_m=float(cell_size_m),
                          area=area.name, census_year=census_year,
                          scaling={k: round(v, 6) for k, v in scaling.items()
                                   if k in set(table["district"])},
                          units=table.to_dict("records"), ancillary_layers=anc_layers,
                          notes=notes)
    log.info("%s", info.summary())
    return out.to_crs(settings.geographic_crs), info


# ---------------------------------------------------------------- output
OUT_FORMATS = {".parquet": "GeoParquet", ".geoparquet": "GeoParquet", ".gpkg": "GeoPackage",
               ".csv": "CSV"}


def write_surface(cells: gpd.GeoDataFrame, info: PopulationInfo, path: str | Path) -> Path:
    """Write the cells (with ``method``, ``source``, ``census_year`` columns) to GeoParquet,
    GeoPackage or CSV (cell centre ``lon``/``lat``, no geometry) by the file's extension,
    atomically; the :class:`PopulationInfo` goes beside it as ``<path>.info.json``."""
    from geo.io import atomic_path, spreadsheet_safe, write_json

    path = Path(path)
    fmt = OUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(f"output {path}: unknown extension {path.suffix!r}; use one of "
                        f"{', '.join(OUT_FORMATS)}")
    out = cells.copy()
    out["method"] = info.method
    out["source"] = info.source
    out["census_year"] = info.census_year if info.census_year is not None else pd.NA
    with atomic_path(path) as tmp:
        if fmt == "GeoParquet":
            out.to_parquet(tmp)
        elif fmt == "GeoPackage":
            import warnings

            with warnings.catch_warnings():  # the temporary name ends in .tmp, not .gpkg
                warnings.filterwarnings("ignore", message=".*extension should be 'gpkg'")
                out.to_file(tmp, driver="GPKG", layer=info.kind)
        else:
            c = out.to_crs(settings.metric_crs).geometry.centroid.to_crs(settings.geographic_crs)
            frame = pd.DataFrame(out.drop(columns="geometry"))
            frame.insert(1, "lon", c.x.round(6).to_numpy())
            frame.insert(2, "lat", c.y.round(6).to_numpy())
            spreadsheet_safe(frame).to_csv(tmp, index=False)
    write_json(path.with_name(path.name + ".info.json"),
               {**info.to_dict(), "attribution": OSM_CITATION})
    return path
