"""What is counted: hexagonal cells over an area, population in them, settlements.

The recommended surface is :mod:`geo.population` (census-adjusted, dasymetric with weights
fitted on Beijing's townships, the user's own counts, jobs); here it is ``spread="dasymetric"``
(with ``source="census"``). The spreads below stay as sensitivity variants.

Population method (a simple areal method)
-----------------------------------------
The shared bundle's population is a WorldPop count per township polygon (331 polygons for
Beijing, older divisions than today's). Each township's count is spread over the hex cells:

* ``spread="area"`` (default, areal weighting): a piece (cell ∩ township) gets
  ``P_t · a_piece / A_t``, where ``A_t`` is the township's whole area. A township straddling
  the study area's boundary contributes the share of its area inside. Population is assumed
  uniform inside each township, which is wrong in detail (people live in villages and
  compounds, not in fields) but unbiased over the township.
* ``spread="settlements"`` (sensitivity variant): ``P_t · ((1 - w) · a_piece / A_t +
  w · n_piece / N_t)``, where ``n_piece`` counts OSM settlement points (places: village, town,
  suburb, hamlet, ...) and POI points in the piece and ``N_t`` in the whole township;
  ``w = settlement_weight`` (default 0.5). Townships without any such point fall back to area.

Both are mass-conserving: a township's weights over the whole township sum to 1, so the cells of
a township lying wholly inside the area sum exactly to its count, and a township straddling the
boundary contributes its count x its share of the weight inside (areal: its area share; settlements:
the mix of its area and point shares). That is why the settlements total of Tongzhou is lower
than the areal one: most of the 北京经济技术开发区 township's settlement points lie outside
Tongzhou (27.8 % of its area but fewer of its points are inside). The returned frame's
``attrs["population_info"]`` (:meth:`geo.population.PopulationInfo.to_dict`, a plain dict so
that pandas can write it) names every township that contributed and its inside share. A point is counted once, in the first cell it touches; a point
inside the area that falls in no cell (a dropped boundary sliver) goes to the nearest cell.

``spread="dasymetric"`` delegates to :func:`geo.population.population_surface` (fitted
ancillary weights; census-adjusted with ``source="census"``), the recommended surface.

Hex cells are "pointy-top" hexagons whose flat-to-flat width (the distance between
neighbouring cell centres) is ``cell_size_m``; a full cell has area ``√3/2 · cell_size_m²``
(54,127 m² at 250 m). The lattice is anchored at multiples of the cell size in EPSG:32650, so
the same cell has the same ``cell_id`` ("r<row>c<col>") whatever the area.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo.areas import Area, get_area
from geo.errors import DataError, DataNotFoundError, EmptyResultError
from geo.memo import Memo, geometry_key
from geo.sources.base import OsmData

log = logging.getLogger(__name__)

POPULATION_FOLDER = "population-beijing-townships"
POPULATION_SHP = "beijing.shp"
POPULATION_NPY = "worldpop.npy"
#: OSM place classes that mark where people live (for ``settlements`` and the settlements
#: spread).
SETTLEMENT_CLASSES = ("city", "town", "suburb", "village", "hamlet", "neighbourhood",
                      "quarter", "isolated_dwelling")
SPREADS = ("area", "settlements", "dasymetric")

_SOURCE = ("WorldPop (www.worldpop.org) township counts, about 2020 (edition not stated; "
           "likely chn_ppp_2020_UNadj_constrained), via tsinghua-fib-lab/mosstool, CC BY 4.0")


def population_source(spread: str = "area", source: str = "worldpop") -> str:
    """Human-readable provenance of the population figures for a spread method and a source
    of township counts (``worldpop`` as published, or ``census``: scaled to the 2020 census
    district totals)."""
    if source == "census":
        return ("2020 census district totals (Beijing Municipal Bureau of Statistics) split "
                "over townships by " + population_source(spread, "worldpop"))
    if source != "worldpop":
        raise ValueError(f"source must be 'worldpop' or 'census', got {source!r}")
    if spread == "area":
        return _SOURCE + "; spread over cells by area within each township (areal weighting)"
    if spread == "settlements":
        return _SOURCE + "; spread over cells by area and OSM settlement/POI points"
    if spread == "dasymetric":
        return _SOURCE + ("; spread over cells by OSM ancillary data with weights fitted on "
                          "Beijing's townships (geo.population)")
    raise ValueError(f"spread must be one of {SPREADS}, got {spread!r}")


POPULATION_SOURCE = population_source("area")


def hex_grid(area: Area | str, *, cell_size_m: float = 250.0, data_dir: str | Path | None = None,
             crs: str | None = None, min_cell_area_m2: float = 1.0) -> gpd.GeoDataFrame:
    """Hexagonal cells covering an area, clipped to it.

    Parameters
    ----------
    area : Area or str
        Study area.
    cell_size_m : float
        Flat-to-flat width of a cell in metres (= distance between neighbouring centres).
    crs : str, optional
        CRS of the result; default EPSG:4326 (:data:`geo.settings.geographic_crs`).
    min_cell_area_m2 : float
        Clipped cells smaller than this (m²) are dropped: slivers where the boundary, a
        straight line in degrees, runs along a cell edge.

    Returns
    -------
    GeoDataFrame
        ``cell_id`` ("r<row>c<col>"), ``area_m2`` (clipped area in m², EPSG:32650),
        ``full`` (True when the cell lies wholly inside), ``geometry`` (clipped cell).
    """
    if cell_size_m <= 0:
        raise ValueError(f"cell_size_m must be positive, got {cell_size_m}")
    area = get_area(area, data_dir=data_dir)
    # every population reading and extent of a district builds the same grid: cut it once
    key = geometry_key(np.array([area.geometry_m], dtype=object), float(cell_size_m),
                       float(min_cell_area_m2))
    cells = _GRIDS.get(key, lambda: _hex_cells(area, float(cell_size_m),
                                               float(min_cell_area_m2)))
    return cells.to_crs(crs or settings.geographic_crs)


#: Hex grids already cut in this process (metric CRS), see :func:`hex_grid`.
_GRIDS = Memo(4)


def _hex_cells(area: Area, d: float, min_cell_area_m2: float) -> gpd.GeoDataFrame:
    """:func:`hex_grid` in the metric CRS."""
    geom = area.geometry_m
    r = d / np.sqrt(3.0)  # circumradius
    row_h = 1.5 * r
    minx, miny, maxx, maxy = geom.bounds
    j = np.arange(int(np.floor(miny / row_h)) - 1, int(np.ceil(maxy / row_h)) + 2)
    i = np.arange(int(np.floor(minx / d)) - 1, int(np.ceil(maxx / d)) + 2)
    jj2, ii2 = np.meshgrid(j, i, indexing="ij")
    jj, ii = jj2.ravel(), ii2.ravel()
    cx = ii * d + (jj % 2) * (d / 2.0)
    cy = jj * row_h
    ang = np.deg2rad(np.array([30, 90, 150, 210, 270, 330, 30]))
    coords = np.stack([cx[:, None] + r * np.cos(ang), cy[:, None] + r * np.sin(ang)], axis=-1)
    cells = shapely.polygons(coords)
    shapely.prepare(geom)
    hit = shapely.intersects(geom, cells)
    cells, ii, jj = cells[hit], ii[hit], jj[hit]
    full = shapely.contains_properly(geom, cells)
    clipped = cells.copy()
    if (~full).any():
        clipped[~full] = shapely.intersection(cells[~full], geom)
    areas = shapely.area(clipped)
    keep = areas >= min_cell_area_m2
    gdf = gpd.GeoDataFrame({"cell_id": [f"r{a}c{b}" for a, b in zip(jj[keep], ii[keep])],
                            "area_m2": areas[keep], "full": full[keep]},
                           geometry=clipped[keep], crs=settings.metric_crs)
    if gdf.empty:
        raise EmptyResultError(f"no hex cells of {d:g} m over area {area.name}")
    return gdf


def find_population_folder(data_dir: str | Path | None = None) -> Path:
    """The folder with ``beijing.shp`` and ``worldpop.npy`` in the data directory."""
    root = settings.resolve_data_dir(data_dir)
    for pattern in (POPULATION_NPY, f"*/{POPULATION_NPY}", f"*/*/{POPULATION_NPY}"):
        for hit in sorted(root.glob(pattern)):
            if (hit.parent / POPULATION_SHP).is_file():
                return hit.parent
    raise DataNotFoundError(
        f"no population data ({POPULATION_FOLDER}/{POPULATION_SHP} + {POPULATION_NPY}) under "
        f"data directory {root}: use the shared bundle or pass data_dir=")


@functools.lru_cache(maxsize=4)
def _read_townships(folder: str, mtime: float) -> gpd.GeoDataFrame:
    import pyogrio

    shp, npy = Path(folder) / POPULATION_SHP, Path(folder) / POPULATION_NPY
    try:
        gdf = pyogrio.read_dataframe(shp, columns=["县", "乡"], use_arrow=False)
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"population shapefile {shp} cannot be read ({msg})") from exc
    try:
        pop = np.load(npy, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"population array {npy} cannot be read ({exc})") from exc
    if pop.ndim != 2 or pop.shape[0] != len(gdf):
        raise DataError(f"population array {npy} has shape {pop.shape}: expected one row per "
                        f"polygon of {shp} ({len(gdf)} rows), column 0 the population")
    if gdf.crs is None:
        gdf = gdf.set_crs(settings.geographic_crs)
    out = gpd.GeoDataFrame({"township": gdf["乡"].astype(str).to_numpy(),
                            "district": gdf["县"].astype(str).to_numpy(),
                            "population": pop[:, 0].astype(float)},
                           geometry=shapely.make_valid(gdf.geometry.values), crs=gdf.crs)
    out = out.to_crs(settings.metric_crs)
    out["township_area_m2"] = out.area
    return out


def population_townships(*, data_dir: str | Path | None = None) -> gpd.GeoDataFrame:
    """The WorldPop township layer (``township, district, population, township_area_m2``,
    geometry in EPSG:32650), one row per polygon in file order."""
    folder = find_population_folder(data_dir)
    return _read_townships(str(folder), (folder / POPULATION_NPY).stat().st_mtime).copy()


def area_population(area: Area | str, *, data_dir: str | Path | None = None) -> float:
    """Population of an area: Σ over townships of population × (share of the township's area
    inside the area) — the areal method, without building cells."""
    area = get_area(area, data_dir=data_dir)
    towns = population_townships(data_dir=data_dir)
    geom = area.geometry_m
    shapely.prepare(geom)
    towns = towns[shapely.intersects(geom, towns.geometry.values)]
    inside = shapely.area(shapely.intersection(towns.geometry.values, geom))
    return float(np.sum(towns["population"].to_numpy() * inside / towns["township_area_m2"]))


def _settlement_points(osm: OsmData) -> np.ndarray:
    """Settlement place points and POI points (EPSG:32650) for the settlements spread."""
    parts = []
    for layer in ("places", "pois"):
        g = osm.layer(layer)
        if layer == "places":
            g = g[g["fclass"].isin(SETTLEMENT_CLASSES)]
        g = g[g.geometry.geom_type == "Point"]
        if len(g):
            parts.append(g.to_crs(settings.metric_crs).geometry.values)
    return np.concatenate(parts) if parts else np.array([], dtype=object)


def population_cells(area: Area | str, *, data_dir: str | Path | None = None,
                     cell_size_m: float = 250.0, spread: str = "area",
                     osm: OsmData | None = None, settlement_weight: float = 0.5,
                     source: str = "worldpop", population: str | Path | None = None,
                     count_column: str | None = None) -> gpd.GeoDataFrame:
    """Hex cells over an area with the population living in each (see the module docstring).

    Parameters
    ----------
    area : Area or str
        Study area.
    cell_size_m : float
        Hex cell width in metres (:func:`hex_grid`).
    spread : {"area", "settlements", "dasymetric"}
        How each township's count is spread over its cells ("dasymetric": see
        :func:`geo.population.population_surface`).
    source : {"worldpop", "census"}
        Township counts: WorldPop as published, or scaled to the 2020 census district totals
        (:func:`geo.population.source_units`).
    population, count_column : path, str, optional
        The user's own counts (polygons + count column, or a GeoTIFF), for spreads "area" and
        "dasymetric" (:func:`geo.population.population_surface`).
    osm : OsmData, optional
        For ``spread="settlements"``: OSM layers (``places``, ``pois``) covering the townships;
        loaded from the data directory when not given.
    settlement_weight : float
        Share (0-1) of each township's population placed by settlement/POI points.

    Returns
    -------
    GeoDataFrame
        ``cell_id, area_m2, population, township, district, geometry`` (EPSG:4326); cells
        outside every township have population 0 and township None. ``attrs["population_info"]``
        holds :meth:`geo.population.PopulationInfo.to_dict` (method, source, total, townships
        contributing and their inside shares).
    """
    if spread not in SPREADS:
        raise ValueError(f"spread must be one of {SPREADS}, got {spread!r}")
    if not 0.0 <= settlement_weight <= 1.0:
        raise ValueError(f"settlement_weight must be within 0-1, got {settlement_weight}")
    area = get_area(area, data_dir=data_dir)
    if population is not None and spread == "settlements":
        raise ValueError("spread 'settlements' works on the bundled townships only; use "
                         "'dasymetric' or 'area' with a population file")
    if spread == "dasymetric" or population is not None:
        from geo.population import population_surface

        out, info = population_surface(area, source=source,
                                       method="area" if spread == "area" else "dasymetric",
                                       population=population, count_column=count_column,
                                       cell_size_m=cell_size_m, data_dir=data_dir,
                                       osm=osm if spread == "dasymetric" else None)
        out = out.rename(columns={"unit": "township"})
        out = out[["cell_id", "area_m2", "population", "township", "district", "geometry"]]
        out.attrs["population_info"] = info.to_dict()
        return out
    from geo.population import surface as _surface

    cells = hex_grid(area, cell_size_m=cell_size_m, crs=settings.metric_crs)
    towns = population_townships(data_dir=data_dir)
    units, scaling = _surface.source_units(source, data_dir=data_dir)
    towns["population"] = units["count"].to_numpy()
    geom = area.geometry_m
    shapely.prepare(geom)
    towns = towns[shapely.intersects(geom, towns.geometry.values)].reset_index(drop=True)
    cgeom, tgeom = cells.geometry.values, towns.geometry.values
    ci, ti, pieces = _surface.cell_pieces(np.asarray(cgeom), np.asarray(tgeom))
    a = shapely.area(pieces)
    tot_a = towns["township_area_m2"].to_numpy()
    pop_t = towns["population"].to_numpy()
    weight = a / tot_a[ti]
    if spread == "settlements" and len(towns):
        weight = _settlement_weights(area, towns, cells, ci, ti, weight, osm=osm,
                                     data_dir=data_dir, settlement_weight=settlement_weight)
    piece_pop = pop_t[ti] * weight
    cell_pop = np.bincount(ci, weights=piece_pop, minlength=len(cells))
    order = np.lexsort((-a, ci))  # per cell, largest piece first
    first = order[np.r_[True, ci[order][1:] != ci[order][:-1]]] if len(ci) else order
    township = np.full(len(cells), None, dtype=object)
    district = np.full(len(cells), None, dtype=object)
    township[ci[first]] = towns["township"].to_numpy()[ti[first]]
    district[ci[first]] = towns["district"].to_numpy()[ti[first]]
    out = gpd.GeoDataFrame({"cell_id": cells["cell_id"].to_numpy(),
                            "area_m2": cells["area_m2"].to_numpy(), "population": cell_pop,
                            "township": pd.Series(township, dtype=object),
                            "district": pd.Series(district, dtype=object)},
                           geometry=cgeom, crs=settings.metric_crs)
    contributed = np.bincount(ti, weights=piece_pop, minlength=len(towns))
    units_info = [{"unit": str(towns["township"].iat[t]), "district": str(towns["district"].iat[t]),
                   "count": float(pop_t[t]),
                   "inside_share": float(contributed[t] / pop_t[t]) if pop_t[t] > 0 else 0.0,
                   "contributed": float(contributed[t]), "split": spread}
                  for t in range(len(towns))]
    census = source == "census"
    info = _surface.PopulationInfo(
        kind="population",
        method=("areal weighting (even spread per township)" if spread == "area" else
                f"area ({1 - settlement_weight:g}) + OSM settlement/POI points "
                f"({settlement_weight:g}) per township, mass-conserving"),
        source=("WorldPop township split scaled to the 2020 census district totals" if census
                else "WorldPop township counts"),
        citation=(f"{_surface.WORLDPOP_CITATION}; {_surface.CENSUS_CITATION}" if census
                  else _surface.WORLDPOP_CITATION),
        total=float(cell_pop.sum()), cell_size_m=float(cell_size_m), area=area.name,
        census_year=_surface.CENSUS_YEAR if census else None,
        scaling={k: round(v, 6) for k, v in scaling.items()
                 if k in set(towns["district"])},
        units=units_info)
    out.attrs["population_info"] = info.to_dict()
    log.info("%s", info.summary())
    return out.to_crs(settings.geographic_crs)


def _settlement_weights(area: Area, towns: gpd.GeoDataFrame, cells: gpd.GeoDataFrame,
                        ci: np.ndarray, ti: np.ndarray, area_weight: np.ndarray, *,
                        osm: OsmData | None, data_dir: Any, settlement_weight: float
                        ) -> np.ndarray:
    """Piece weights mixing area share and settlement/POI point share (module docstring)."""
    if osm is None:
        from geo.sources import load_osm

        hull = gpd.GeoSeries([shapely.union_all(towns.geometry.values)],
                             crs=settings.metric_crs).to_crs(settings.geographic_crs).iloc[0]
        osm = load_osm(Area("townships", "townships", None, hull), data_dir=data_dir,
                       layers=["places", "pois"])
    pts = _settlement_points(osm)
    if len(pts) == 0:
        log.warning("no settlement/POI points: settlements spread falls back to area")
        return area_weight
    tgeom = towns.geometry.values
    p_idx, t_idx = shapely.STRtree(tgeom).query(pts, predicate="intersects")
    order = np.lexsort((t_idx, p_idx))
    p_idx, t_idx = p_idx[order], t_idx[order]
    keep = np.r_[True, p_idx[1:] != p_idx[:-1]] if len(p_idx) else np.zeros(0, bool)
    p_idx, t_idx = p_idx[keep], t_idx[keep]  # a point on a shared border counts once
    n_town = np.bincount(t_idx, minlength=len(towns)).astype(float)
    # points per (cell, township) piece: the first cell the point touches (each point once);
    # a point inside the area that touches no cell (dropped sliver) goes to the nearest cell
    ctree = shapely.STRtree(cells.geometry.values)
    cpi, cci = ctree.query(pts[p_idx], predicate="intersects")
    order = np.lexsort((cci, cpi))
    cpi, cci = cpi[order], cci[order]
    first = np.r_[True, cpi[1:] != cpi[:-1]] if len(cpi) else np.zeros(0, bool)
    cpi, cci = cpi[first], cci[first]
    lost = np.setdiff1d(np.arange(len(p_idx)), cpi)
    if len(lost):
        geom = area.geometry_m
        lost = lost[shapely.intersects(geom, pts[p_idx][lost])]
        if len(lost):
            near = ctree.query_nearest(pts[p_idx][lost], return_distance=False)[1]
            cpi, cci = np.r_[cpi, lost], np.r_[cci, near]
    key_pts = pd.Series(1.0, index=pd.MultiIndex.from_arrays([cci, t_idx[cpi]]))
    counts = key_pts.groupby(level=[0, 1]).sum()
    n_piece = counts.reindex(pd.MultiIndex.from_arrays([ci, ti])).fillna(0.0).to_numpy()
    has = n_town[ti] > 0
    pt_share = np.where(has, n_piece / np.where(has, n_town[ti], 1.0), 0.0)
    w = settlement_weight
    return np.where(has, (1.0 - w) * area_weight + w * pt_share, area_weight)


def settlements(osm: OsmData, area: Area | None = None, *,
                classes: tuple[str, ...] = SETTLEMENT_CLASSES) -> gpd.GeoDataFrame:
    """OSM places where people live (village, town, suburb, hamlet, ...) inside an area:
    ``places`` points plus ``places_a`` representative points.

    Returns
    -------
    GeoDataFrame
        ``osm_id, fclass, name, population`` (OSM ``population`` tag, often missing),
        ``from_polygon``, geometry (points, EPSG:4326), sorted by fclass and name.
    """
    frames = []
    for layer, is_poly in (("places", False), ("places_a", True)):
        g = osm.layer(layer)
        g = g[g["fclass"].isin(list(classes))].copy()
        if g.empty:
            continue
        if is_poly:
            g = g.set_geometry(g.geometry.representative_point())
        g["from_polygon"] = is_poly
        frames.append(g)
    cols = ["osm_id", "fclass", "name", "population", "from_polygon"]
    if not frames:
        return gpd.GeoDataFrame({c: [] for c in cols},
                                geometry=gpd.GeoSeries([], crs=settings.geographic_crs))
    g = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=settings.geographic_crs)
    if area is not None:
        g = g[g.within(area.geometry)]
    if "population" not in g.columns:
        g["population"] = None
    g = g.sort_values(["fclass", "name", "osm_id"], na_position="last")
    return gpd.GeoDataFrame(g[cols + ["geometry"]].reset_index(drop=True), geometry="geometry",
                            crs=settings.geographic_crs)
