"""Candidate points for new facilities: demand-cell centres or network nodes, minus water,
existing facilities and whatever else is excluded, optionally thinned to a spacing (metres)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from geo import settings
from geo.errors import DataError, EmptyResultError

log = logging.getLogger(__name__)


def candidate_sites(source: Any, *, exclude: Any = None, min_distance_m: float = 0.0,
                    area: Any = None, spacing_m: float | None = None) -> Any:
    """Candidate points for new facilities.

    (Over 80 lines: one linear pipeline, points -> exclusions -> area -> thinning, most of
    it argument checks with their messages.)

    Parameters
    ----------
    source : a GeoDataFrame of demand cells (each cell's centroid, or a representative point
        when the centroid falls outside a clipped cell) or of points; or a projected
        networkx graph or a :class:`geo.roadnet.RoadNetwork` (its nodes; a ``node`` column
        keeps the OSM node id).
    exclude : geometries where no site may go: a GeoDataFrame / GeoSeries / shapely geometry,
        or a list of them; an item may be a tuple ``(geometries, distance_m)`` to give it its
        own clearance. Typical: water polygons (clearance 0: inside water) and existing
        facility points (clearance ~ half a cell, so the cell holding a station is dropped).
    min_distance_m : default clearance, metres: candidates within this distance of an
        ``exclude`` geometry are dropped (0: inside or on it).
    area : optional Area or shapely polygon (EPSG:4326); candidates outside it are dropped.
    spacing_m : optional thinning (for dense network nodes): keep at most one candidate per
        ``spacing_m`` square of the metric grid, the one nearest the square's centre.

    Returns
    -------
    GeoDataFrame of points (EPSG:4326) with ``candidate_id`` (``cell_id`` when the source has
    one, ``node/<id>`` for graph nodes, else the index label) and the source's columns.
    """
    import geopandas as gpd
    import shapely

    from geo.coverage.result import metric_crs_of
    from geo.roadnet import RoadNetwork

    if hasattr(source, "nodes") and hasattr(source, "graph"):
        from geo.network import require_projected

        crs = require_projected(source, arg="source")
        nodes = list(source.nodes)
        if not nodes:
            raise EmptyResultError("source graph has no nodes: no candidate sites")
        xy = np.array([(source.nodes[n]["x"], source.nodes[n]["y"]) for n in nodes], float)
        node_col = np.empty(len(nodes), dtype=object)
        node_col[:] = nodes
        cand = gpd.GeoDataFrame({"candidate_id": [f"node/{n}" for n in nodes],
                                 "node": node_col}, geometry=shapely.points(xy), crs=crs)
    elif isinstance(source, RoadNetwork):
        if source.n_nodes == 0:
            raise EmptyResultError("source network has no nodes: no candidate sites")
        crs = source.crs
        node_col = np.empty(source.n_nodes, dtype=object)
        node_col[:] = source.node_id.tolist()
        cand = gpd.GeoDataFrame({"candidate_id": [f"node/{n}" for n in source.node_id.tolist()],
                                 "node": node_col},
                                geometry=shapely.points(source.x, source.y), crs=crs)
    elif isinstance(source, gpd.GeoDataFrame):
        if source.crs is None:
            raise DataError("source has no CRS; set it (OSM data is EPSG:4326)")
        if len(source) == 0:
            raise EmptyResultError("source is empty: no candidate sites")
        crs = metric_crs_of(source)
        m = source.to_crs(crs)
        geom = m.geometry
        if not (geom.geom_type == "Point").all():
            cen = geom.centroid
            inside = cen.within(geom).to_numpy()
            geom = gpd.GeoSeries(np.where(inside, cen.values, geom.representative_point().values),
                                 index=m.index, crs=crs)
        cand = gpd.GeoDataFrame(pd.DataFrame(m.drop(columns=m.geometry.name)), geometry=geom.values,
                                crs=crs)
        if "candidate_id" not in cand.columns:
            ids = cand["cell_id"] if "cell_id" in cand.columns else cand.index
            cand.insert(0, "candidate_id", [str(i) for i in ids])
    else:
        raise DataError(f"source must be a GeoDataFrame of cells/points or a networkx graph, "
                        f"got {type(source).__name__}")
    n0 = len(cand)
    pts = np.asarray(cand.geometry.values, dtype=object)
    keep = np.ones(n0, dtype=bool)
    if area is not None:
        poly = getattr(area, "geometry", area)
        poly_m = gpd.GeoSeries([poly], crs=settings.geographic_crs).to_crs(crs).iloc[0]
        shapely.prepare(poly_m)
        keep &= shapely.covers(poly_m, pts)
    items = exclude if isinstance(exclude, list) else ([] if exclude is None else [exclude])
    for item in items:
        geoms, dist = (item if isinstance(item, tuple) else (item, min_distance_m))
        if not float(dist) >= 0:
            raise DataError(f"exclusion distance must be >= 0 metres, got {dist!r}")
        if isinstance(geoms, gpd.GeoDataFrame):
            geoms = geoms.geometry
        if not isinstance(geoms, gpd.GeoSeries):
            geoms = gpd.GeoSeries([geoms], crs=settings.geographic_crs)
        if geoms.crs is None:
            raise DataError("exclude geometries have no CRS; set it (OSM data is EPSG:4326)")
        if len(geoms) == 0:
            continue
        g = np.asarray(geoms.to_crs(crs).values, dtype=object)
        tree = shapely.STRtree(g)
        hit = tree.query(pts, predicate="dwithin", distance=float(dist))[0] if dist > 0 \
            else tree.query(pts, predicate="intersects")[0]
        keep[np.unique(hit)] = False
    cand = cand[keep]
    if spacing_m is not None and len(cand):
        if not float(spacing_m) > 0:
            raise DataError(f"spacing_m must be > 0 metres, got {spacing_m!r}")
        s = float(spacing_m)
        x, y = cand.geometry.x.to_numpy(), cand.geometry.y.to_numpy()
        gx, gy = np.floor(x / s), np.floor(y / s)
        off = np.hypot(x - (gx + 0.5) * s, y - (gy + 0.5) * s)
        order = np.lexsort((np.arange(len(cand)), off, gy, gx))
        first = np.r_[True, (gx[order][1:] != gx[order][:-1]) | (gy[order][1:] != gy[order][:-1])]
        cand = cand.iloc[np.sort(order[first])]
    log.info("candidate sites: %d of %d kept (area, exclusions, spacing)", len(cand), n0)
    return cand.to_crs(settings.geographic_crs)
