"""Ancillary OSM evidence of where people live, measured over polygons (units, cells, pieces).

Features (one column each, per polygon):

* ``habitable_km2`` - the polygon's area minus OSM water (``water_a``) and parks
  (``pois_a``/``pois`` polygons of class ``park``), km²: water and parks carry nobody;
* ``bus_stops`` - OSM ``transport`` points of class ``bus_stop``;
* ``pois`` - OSM ``pois`` points (shops, schools, clinics, ... any class);
* ``villages`` - OSM places ``village``/``hamlet``/``isolated_dwelling`` (points + polygon
  representative points);
* ``towns`` - OSM places ``city``/``town``/``suburb``/``neighbourhood``/``quarter``;
* ``floor_m2`` - building floor area, footprint m² x ``building:levels`` (1 when not tagged),
  from ``buildings_a`` (Geofabrik's full extract and PBFs have it; the offline bundle does not);
* ``residential_km2`` - OSM ``landuse_a`` of class ``residential``, km² (absent from the bundle).

A point is counted once, in the first polygon it touches (so pieces of a partition add up to the
whole). A dasymetric weight is a linear combination of these features (see
:mod:`geo.population.weights`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely

from geo import settings
from geo.sources.base import OsmData

log = logging.getLogger(__name__)

VILLAGE_CLASSES = ("village", "hamlet", "isolated_dwelling")
TOWN_CLASSES = ("city", "town", "suburb", "neighbourhood", "quarter")
POINT_FEATURES = ("bus_stops", "pois", "villages", "towns")
#: Every feature :func:`measure` returns, in column order.
FEATURES = ("habitable_km2",) + POINT_FEATURES + ("floor_m2", "residential_km2")
#: OSM layers the features are read from.
LAYERS = ["transport", "pois", "pois_a", "places", "places_a", "water_a", "buildings_a",
          "landuse_a"]


@dataclass
class Ancillary:
    """Prepared ancillary layers in EPSG:32650 (build with :func:`from_osm`)."""

    points: dict[str, np.ndarray] = field(default_factory=dict)
    excluded: shapely.Geometry | None = None  # water + parks (union)
    residential: shapely.Geometry | None = None
    building_pts: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    building_floor_m2: np.ndarray = field(default_factory=lambda: np.array([], dtype=float))
    layers_present: list[str] = field(default_factory=list)

    @property
    def has_buildings(self) -> bool:
        """True when building footprints are available."""
        return len(self.building_pts) > 0

    @property
    def has_residential(self) -> bool:
        """True when residential landuse polygons are available."""
        return self.residential is not None and not self.residential.is_empty


def _metric(g: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if g.crs is None:
        g = g.set_crs(settings.geographic_crs)
    return g.to_crs(settings.metric_crs)


def _pts(g: gpd.GeoDataFrame) -> np.ndarray:
    """Points of a layer (polygons as representative points), EPSG:32650."""
    if g.empty:
        return np.array([], dtype=object)
    g = _metric(g)
    geoms = g.geometry.values
    poly = ~np.isin(shapely.get_type_id(np.asarray(geoms)), (0, 4))
    out = np.asarray(geoms).copy()
    if poly.any():
        out[poly] = shapely.point_on_surface(out[poly])
    return out


def _levels(g: gpd.GeoDataFrame) -> np.ndarray:
    for col in ("building:levels", "building_levels", "levels"):
        if col in g.columns:
            lv = np.asarray(gpd.pd.to_numeric(g[col], errors="coerce"), dtype=float)
            return np.where(np.isfinite(lv) & (lv >= 1), lv, 1.0)
    return np.ones(len(g))


def from_osm(osm: OsmData) -> Ancillary:
    """Prepare the ancillary layers of an :class:`OsmData` (absent layers are simply empty)."""
    present = [name for name in LAYERS if not osm.layer(name).empty]
    tr = osm.layer("transport")
    points = {"bus_stops": _pts(tr[tr["fclass"] == "bus_stop"]),
              "pois": _pts(osm.layer("pois"))}
    places = [osm.layer("places"), osm.layer("places_a")]
    points["villages"] = np.concatenate([_pts(p[p["fclass"].isin(VILLAGE_CLASSES)])
                                         for p in places])
    points["towns"] = np.concatenate([_pts(p[p["fclass"].isin(TOWN_CLASSES)]) for p in places])
    excl = []
    water = osm.layer("water_a")
    if len(water):
        excl.append(_metric(water).geometry.values)
    for name in ("pois_a",):
        g = osm.layer(name)
        g = g[g["fclass"] == "park"]
        if len(g):
            excl.append(_metric(g).geometry.values)
    excluded = None
    if excl:
        excluded = shapely.union_all(shapely.make_valid(np.concatenate(excl)))
    lu = osm.layer("landuse_a")
    lu = lu[lu["fclass"] == "residential"] if len(lu) else lu
    residential = (shapely.union_all(shapely.make_valid(_metric(lu).geometry.values))
                   if len(lu) else None)
    b = osm.layer("buildings_a")
    b_pts, b_floor = np.array([], dtype=object), np.array([], dtype=float)
    if len(b):
        bm = _metric(b)
        b_pts = shapely.point_on_surface(bm.geometry.values)
        b_floor = shapely.area(bm.geometry.values) * _levels(bm)
    return Ancillary(points=points, excluded=excluded, residential=residential,
                     building_pts=np.asarray(b_pts), building_floor_m2=np.asarray(b_floor),
                     layers_present=present)


def _point_sum(polys: np.ndarray, pts: np.ndarray, weights: np.ndarray | None = None
               ) -> np.ndarray:
    """Sum of point weights (default 1) per polygon; each point counted in its first polygon."""
    out = np.zeros(len(polys))
    if len(pts) == 0 or len(polys) == 0:
        return out
    pi, gi = shapely.STRtree(polys).query(pts, predicate="intersects")
    if len(pi) == 0:
        return out
    order = np.lexsort((gi, pi))
    pi, gi = pi[order], gi[order]
    first = np.r_[True, pi[1:] != pi[:-1]]
    w = np.ones(len(pts)) if weights is None else np.asarray(weights, dtype=float)
    np.add.at(out, gi[first], w[pi[first]])
    return out


def _overlap_area(polys: np.ndarray, other: shapely.Geometry | None) -> np.ndarray:
    """Area (m²) of each polygon that lies in ``other``."""
    if other is None or other.is_empty or len(polys) == 0:
        return np.zeros(len(polys))
    parts = shapely.get_parts(other)
    tree = shapely.STRtree(parts)
    gi, oi = tree.query(polys, predicate="intersects")
    out = np.zeros(len(polys))
    if len(gi):
        np.add.at(out, gi, shapely.area(shapely.intersection(polys[gi], parts[oi])))
    return np.minimum(out, shapely.area(polys))


def measure(polys: np.ndarray, anc: Ancillary) -> np.ndarray:
    """Feature matrix (len(polys) x len(FEATURES)) of polygons in EPSG:32650 (module doc)."""
    polys = np.asarray(polys)
    area = shapely.area(polys)
    cols = [np.maximum(area - _overlap_area(polys, anc.excluded), 0.0) / 1e6]
    cols += [_point_sum(polys, anc.points.get(k, np.array([], dtype=object)))
             for k in POINT_FEATURES]
    cols.append(_point_sum(polys, anc.building_pts, anc.building_floor_m2))
    cols.append(_overlap_area(polys, anc.residential) / 1e6)
    return np.column_stack(cols)
