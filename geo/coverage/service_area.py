"""Service-area polygons for maps: from the covered demand cells (:func:`service_area_from_cells`,
fast, what large networks should use) or by buffering the reached (partial) edges and dissolving
(:func:`service_areas`, exact street shapes; slow on city-size networks).

No convex hulls: a hull covers blocks the network never reaches.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from geo import settings
from geo.errors import DataError

log = logging.getLogger(__name__)

#: Default half-width of the buffer around reached streets, metres. Assumption: about half a
#: block face plus the street, so that frontage on a reached street counts as reached.
BUFFER_M = 50.0


def service_areas(G: Any, facilities: Any, *, cutoff: float, weight: str = "length",
                  reverse: bool = False, buffer_m: float = BUFFER_M, by_facility: bool = True,
                  max_snap_m: float = 300.0, offnet_speed_kph: float | None = None,
                  source_leg: bool = True) -> Any:
    """Polygons of the network within ``cutoff`` of the facilities.

    Parameters
    ----------
    G : projected osmnx-style graph.
    facilities : GeoDataFrame of points (snapped to edges like the coverage engine).
    cutoff : in the weight's unit (metres for ``length``, seconds for ``travel_time``).
    reverse : False: reachable FROM the facilities; True: places that reach a facility.
    buffer_m : half-width of the buffer around reached edges, metres.
    by_facility : one polygon per facility (its own reach; neighbours' polygons may overlap)
        or one dissolved polygon of all of them (``facility`` = None).

    Returns
    -------
    GeoDataFrame (EPSG:4326): ``facility, cutoff, unit, reached_length_m, area_km2, geometry``.
    """
    import geopandas as gpd
    import shapely
    from shapely.ops import substring

    from geo.network import csr_for, require_projected
    from geo.snapping import edge_index, offnet_cost, placements, search_from_points, snap_points

    if not cutoff >= 0 or not buffer_m > 0:
        raise DataError(f"cutoff must be >= 0 and buffer_m > 0, got {cutoff!r}, {buffer_m!r}")
    crs = require_projected(G)
    csr = csr_for(G, weight)
    s_snap = snap_points(G, facilities, max_snap_m=max_snap_m, arg="facilities")
    s_leg = offnet_cost(s_snap["snap_dist_m"].to_numpy(), weight, offnet_speed_kph)
    if not source_leg:
        s_leg = np.zeros_like(s_leg)
    sp = placements(G, s_snap, weight)
    ei = edge_index(G)
    iu = np.fromiter((csr.pos[u] for u in ei.u), dtype=np.int64, count=len(ei.u))
    iv = np.fromiter((csr.pos[v] for v in ei.v), dtype=np.int64, count=len(ei.v))
    multi = G.is_multigraph()
    w = np.fromiter(((G[u][v][k] if multi else G[u][v])[weight]
                     for u, v, k in zip(ei.u, ei.v, ei.k, strict=True)), dtype=float,
                    count=len(ei.u))
    start = iv if reverse else iu   # searched from the tail (forward) / toward the head

    def reached(sub: pd.DataFrame, legs: np.ndarray, m: int) -> list[Any]:
        dist, _ = search_from_points(csr, sub, legs, m, reverse=reverse, limit=cutoff)
        d0 = dist[start]
        reach = np.clip(np.where(w > 0, (cutoff - d0) / np.where(w > 0, w, 1), 1.0), 0, 1)
        parts: list[Any] = []
        for j in np.flatnonzero(np.isfinite(d0) & (d0 <= cutoff)):
            g, L = ei.geoms[j], ei.geoms[j].length
            if reach[j] >= 1:
                parts.append(g)
            else:
                parts.append(substring(g, L * (1 - reach[j]), L) if reverse
                             else substring(g, 0, L * reach[j]))
        # the facilities' own edges: from the facility toward the head (forward) / tail
        for p in sub.itertuples():
            budget = cutoff - legs[p.point]
            if budget < 0:
                continue
            g = (G[p.tail][p.head][p.key] if multi else G[p.tail][p.head]).get("geometry")
            if g is None:
                a, b = G.nodes[p.tail], G.nodes[p.head]
                g = shapely.LineString([(a["x"], a["y"]), (b["x"], b["y"])])
            L = g.length
            span = 1.0 if p.w == 0 else budget / p.w
            lo, hi = ((p.pos, min(1.0, p.pos + span)) if not reverse
                      else (max(0.0, p.pos - span), p.pos))
            parts.append(substring(g, L * lo, L * hi))
        return parts

    labels = np.fromiter(facilities.index, dtype=object, count=len(facilities))
    if by_facility:
        jobs = [(labels[i], sp[sp["point"] == i].assign(point=0), s_leg[[i]], 1)
                for i in range(len(s_snap)) if (sp["point"] == i).any()]
    else:
        jobs = [(None, sp, s_leg, len(s_snap))]
    unit = {"travel_time": "s", "length": "m"}.get(weight, weight)
    rows = []
    for label, sub, legs, m in jobs:
        parts = reached(sub, legs, m)
        if not parts:
            continue
        lines = shapely.union_all(np.asarray(parts, dtype=object))
        poly = shapely.buffer(lines, buffer_m)
        rows.append({"facility": label, "cutoff": float(cutoff), "unit": unit,
                     "reached_length_m": float(shapely.length(lines)),  # overlaps counted once
                     "area_km2": float(poly.area) / 1e6, "geometry": poly})
    out = gpd.GeoDataFrame(rows, columns=["facility", "cutoff", "unit", "reached_length_m",
                                          "area_km2", "geometry"], geometry="geometry", crs=crs)
    log.info("service areas: %d polygon(s), %.1f km of street reached", len(out),
             out["reached_length_m"].sum() / 1000 if len(out) else 0.0)
    return out.to_crs(settings.geographic_crs)


def service_area_from_cells(cells: Any, covered: Any, *, cutoff: float, unit: str,
                            facility: Any = None) -> Any:
    """One service-area polygon from the demand cells the coverage engine already judged.

    The polygon is the union of the ``covered`` cells (their own shapes, e.g. the 250 m grid
    squares), dissolved with ``shapely.coverage_union_all`` (cells of a grid do not overlap, so
    this is linear in their number; no buffering of reached streets). Use it for maps: it
    shows exactly the cells counted as covered, at the cells' resolution.

    Parameters
    ----------
    cells : GeoDataFrame of non-overlapping polygons (any projected or geographic CRS).
    covered : boolean array-like, one per cell (e.g. ``cost <= cutoff``).
    cutoff, unit : the threshold and its unit ("m" or "s"), carried into the output.
    facility : label of the facility (None for all facilities together).

    Returns
    -------
    GeoDataFrame (EPSG:4326): ``facility, cutoff, unit, n_cells, area_km2, geometry`` (one row,
    or none when no cell is covered); ``area_km2`` is measured in the metric CRS.
    """
    import geopandas as gpd
    import shapely

    if getattr(cells, "crs", None) is None:
        raise DataError("cells has no CRS; set it (the demand grid is built in EPSG:32650)")
    mask = np.asarray(covered, dtype=bool)
    if mask.shape != (len(cells),):
        raise DataError(f"covered has {mask.shape[0] if mask.ndim else 0} values for "
                        f"{len(cells)} cells; pass one boolean per cell")
    cols = ["facility", "cutoff", "unit", "n_cells", "area_km2", "geometry"]
    metric = cells if cells.crs.is_projected else cells.to_crs(settings.metric_crs)
    geoms = metric.geometry.values[mask]
    if len(geoms) == 0:
        return gpd.GeoDataFrame(columns=cols, geometry="geometry",
                                crs=settings.geographic_crs)
    geoms = np.asarray(geoms, dtype=object)
    try:
        poly = shapely.coverage_union_all(geoms)
    except shapely.errors.GEOSException:
        # cells clipped to an outline may not share vertices exactly ("incorrectly noded");
        # the general union is slower but takes them
        poly = shapely.union_all(geoms)
    out = gpd.GeoDataFrame([{"facility": facility, "cutoff": float(cutoff), "unit": unit,
                             "n_cells": int(mask.sum()), "area_km2": float(poly.area) / 1e6,
                             "geometry": poly}], columns=cols, geometry="geometry",
                           crs=metric.crs)
    return out.to_crs(settings.geographic_crs)
