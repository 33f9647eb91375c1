"""The extent an indicator is defined over: the whole area, its built-up area, its residential land.

Chinese planning indicators are defined over part of a district, not all of it: fire response
over the built-up area (责任区, 建标152-2017), park service-radius coverage over residential land
inside the built-up area (公园绿地服务半径覆盖率, 2021 城市体检 indicator list). A claim names its
extent with the metric parameter ``extent`` (``"area"``, ``"built_up"``, ``"residential"``);
this module builds the masks, best source first:

1. the user's polygon (``built_up=`` a GeoJSON path, also the CLI's; WGS84 or a declared
   CRS/datum as :func:`geo.areas.area_from_geojson` reads it), used for both built-up and
   residential extents;
2. OSM ``landuse`` (+ ``buildings``) when the data has them (Geofabrik's full shapefile zip):
   built-up = landuse of :data:`BUILT_UP_LANDUSE` plus building footprints grown by
   :data:`BUILDING_BUFFER_M`; residential = landuse ``residential``;
3. otherwise a density proxy on the population surface in the spirit of the UN Degree of
   Urbanisation (DEGURBA): demand cells of at least :data:`DENSITY_MIN_PER_KM2` residents per
   km², grouped into contiguous clusters, clusters of at least :data:`CLUSTER_MIN_POPULATION`
   residents kept. The proxy stands for both built-up and residential land (the bundle has no
   land use), and says so.

Every mask is a :class:`Extent` with its area in km² and a one-line ``source``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo import settings
from geo.errors import DataError

log = logging.getLogger(__name__)

EXTENTS = ("area", "built_up", "residential")
#: Geofabrik landuse classes that count as built-up land.
BUILT_UP_LANDUSE = ("residential", "commercial", "industrial", "retail")
#: Residential landuse classes.
RESIDENTIAL_LANDUSE = ("residential",)
#: Building footprints are grown by this much (m) so that a village's houses form one patch.
BUILDING_BUFFER_M = 25.0
#: DEGURBA urban-centre density threshold, residents per km² (Eurostat/UN 2020 method).
DENSITY_MIN_PER_KM2 = 1500.0
#: Radius (m) of the neighbourhood the density is taken over: a disc of 1 km² (DEGURBA's cell).
DENSITY_RADIUS_M = 564.0
#: Smallest cluster kept, residents (DEGURBA's urban-cluster minimum; urban centres need 50,000).
CLUSTER_MIN_POPULATION = 5000.0


@dataclass(frozen=True)
class Extent:
    """One extent: ``geometry`` (EPSG:4326, None for the whole area), its area in km², its
    ``name`` (one of :data:`EXTENTS`) and a one-line ``source``."""

    name: str
    geometry: BaseGeometry | None
    area_km2: float
    source: str

    def describe(self) -> dict[str, Any]:
        """The JSON form: ``{"name", "area_km2", "source"}``."""
        return {"name": self.name, "area_km2": round(float(self.area_km2), 2),
                "source": self.source}


def _area_km2(geom_4326: BaseGeometry) -> float:
    return float(gpd.GeoSeries([geom_4326], crs=settings.geographic_crs)
                 .to_crs(settings.metric_crs).area.iloc[0]) / 1e6


def _clip(geom_m: BaseGeometry, area_m: BaseGeometry) -> BaseGeometry:
    return shapely.intersection(shapely.make_valid(geom_m), area_m)


def _to_4326(geom_m: BaseGeometry) -> BaseGeometry:
    return gpd.GeoSeries([geom_m], crs=settings.metric_crs).to_crs(
        settings.geographic_crs).iloc[0]


def from_file(path: str | Path, area_m: BaseGeometry, name: str) -> Extent:
    """The user's built-up polygon (GeoJSON), clipped to the area (``area_m`` in metres)."""
    from geo.areas import area_from_geojson

    user = area_from_geojson(path)
    clipped = _clip(user.geometry_m, area_m)
    if clipped.is_empty:
        raise DataError(f"built-up file {path} does not overlap the study area: give a polygon "
                        "inside it (built_up=FILE)")
    return Extent(name, _to_4326(clipped), clipped.area / 1e6,
                  f"user polygon {Path(path).name} ({user.area_km2:,.1f} km², "
                  f"{clipped.area / 1e6:,.1f} km² inside the area)")


def from_landuse(osm: Any, area_m: BaseGeometry, name: str) -> Extent | None:
    """Built-up or residential land from OSM ``landuse`` (+ ``buildings``), or None when the
    data has no landuse layer."""
    landuse = osm.layers.get("landuse")
    if landuse is None or len(landuse) == 0:
        return None
    classes = RESIDENTIAL_LANDUSE if name == "residential" else BUILT_UP_LANDUSE
    parts = list(landuse[landuse["fclass"].isin(list(classes))].to_crs(
        settings.metric_crs).geometry.values)
    what = f"OSM landuse {'/'.join(classes)}"
    buildings = osm.layers.get("buildings")
    if name == "built_up" and buildings is not None and len(buildings):
        parts += list(shapely.buffer(buildings.to_crs(settings.metric_crs).geometry.values,
                                     BUILDING_BUFFER_M))
        what += f" + building footprints grown by {BUILDING_BUFFER_M:g} m"
    geom = _clip(shapely.union_all(parts), area_m) if parts else shapely.Polygon()
    return Extent(name, _to_4326(geom), geom.area / 1e6, f"{what} ({osm.source})")


def density_proxy(cells: gpd.GeoDataFrame, population: np.ndarray, name: str, *,
                  population_source: str, min_density_per_km2: float = DENSITY_MIN_PER_KM2,
                  min_cluster_population: float = CLUSTER_MIN_POPULATION) -> Extent:
    """DEGURBA-style proxy: contiguous dense cells (see the module docstring).

    ``cells`` are the demand cells (``area_m2``, EPSG:4326) and ``population`` their residents.
    """
    from scipy.spatial import cKDTree

    geoms_m = cells.to_crs(settings.metric_crs).geometry.values
    area_m2 = cells["area_m2"].to_numpy(dtype=float)
    population = np.asarray(population, dtype=float)
    # density over the 1 km² around each cell (DEGURBA's grid is 1 km): residents of the cells
    # whose centres lie within DENSITY_RADIUS_M, per km² of those cells
    xy = shapely.get_coordinates(shapely.centroid(geoms_m))
    groups = cKDTree(xy).query_ball_point(xy, r=DENSITY_RADIUS_M)
    pop_n = np.array([population[g].sum() for g in groups])
    area_n = np.array([area_m2[g].sum() for g in groups]) / 1e6
    density = np.divide(pop_n, area_n, out=np.zeros(len(cells)), where=area_n > 0)
    dense = density >= min_density_per_km2
    kept: list[BaseGeometry] = []
    if dense.any():
        # touching hexagons form one cluster; a 1 m buffer closes rounding gaps between them
        blobs = shapely.get_parts(shapely.union_all(shapely.buffer(geoms_m[dense], 1.0)))
        idx = np.flatnonzero(dense)
        tree = shapely.STRtree(blobs)
        cell_i, blob_i = tree.query(shapely.point_on_surface(geoms_m[idx]), predicate="within")
        pop_blob = np.bincount(blob_i, weights=population[idx][cell_i], minlength=len(blobs))
        keep_blob = pop_blob >= min_cluster_population
        keep_cells = idx[cell_i[keep_blob[blob_i]]]
        kept = list(geoms_m[keep_cells])
    geom = shapely.union_all(kept) if kept else shapely.Polygon()
    src = (f"density proxy (no landuse/buildings in the data): demand cells whose surrounding "
           f"1 km² holds >= {min_density_per_km2:,.0f} residents/km², in contiguous clusters of >= "
           f"{min_cluster_population:,.0f} residents (after the UN Degree of Urbanisation), on "
           f"{population_source}")
    if name == "residential":
        src += "; stands for residential land, which the data does not map"
    return Extent(name, _to_4326(geom), geom.area / 1e6, src)


def cell_fraction(cells: gpd.GeoDataFrame, extent: Extent) -> np.ndarray:
    """Share (0-1) of each cell's area inside ``extent`` (1 everywhere for the whole area)."""
    if extent.geometry is None:
        return np.ones(len(cells))
    g = cells.to_crs(settings.metric_crs).geometry.values
    mask = gpd.GeoSeries([extent.geometry], crs=settings.geographic_crs).to_crs(
        settings.metric_crs).iloc[0]
    if mask.is_empty:
        return np.zeros(len(cells))
    shapely.prepare(mask)
    a = shapely.area(g)
    out = np.zeros(len(cells))
    hit = shapely.intersects(mask, g)
    inside = hit & shapely.contains_properly(mask, g)
    out[inside] = 1.0
    edge = hit & ~inside
    if edge.any():
        out[edge] = shapely.area(shapely.intersection(g[edge], mask)) / np.where(
            a[edge] > 0, a[edge], 1.0)
    return np.clip(out, 0.0, 1.0)
