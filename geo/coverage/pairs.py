"""Sparse demand x point cost pairs (siting's coverage matrices), one builder per method.

- :func:`straight_line_costs` - metres between representative points;
- :func:`approximation_costs` - straight line x circuity (/ speed), in m, s or min;
- :func:`network_costs` - bounded dijkstra from every point on the CSR arrays of
  ``geo.network.csr_for``, demand snapped to edges as in :func:`geo.coverage.network_coverage`.

Which method applies is decided by :func:`geo.coverage.methods.choose_method`; the per-demand
nearest costs of the same methods are in :mod:`geo.coverage.engines`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geo.coverage.engines import CIRCUITY
from geo.errors import DataError, NetworkError

#: Units a pair cost may be expressed in.
COST_UNITS = ("m", "s", "min")
#: Budget of floats per dijkstra chunk in :func:`network_costs` (about 40 MB).
CHUNK_FLOATS = 5_000_000


def _points_m(frame: Any, crs: str, arg: str) -> np.ndarray:
    """Representative points of ``frame`` rows in ``crs`` as a shapely array."""
    from geo.coverage.result import demand_points

    return np.asarray(demand_points(frame, arg=arg).to_crs(crs).values, dtype=object)


def straight_line_costs(demand: Any, points: Any, *, limit: float | None = None) -> Any:
    """Straight-line distance in metres from each demand row to each point.

    Parameters
    ----------
    demand, points : GeoDataFrames (any CRS; polygons use a representative point). Distances
        are measured in the metric CRS (EPSG:32650 around Beijing, else the local UTM zone).
    limit : metres. When given, a ``scipy.sparse.csr_array`` (demand x points) holding only
        the pairs within ``limit`` (an exact 0 is stored explicitly); else a dense array.
    """
    import shapely
    from scipy.sparse import csr_array

    from geo.coverage.result import metric_crs_of

    crs = metric_crs_of(demand)
    d = _points_m(demand, crs, "demand")
    p = _points_m(points, crs, "points")
    if limit is None:
        return shapely.distance(d[:, None], p[None, :]).astype(float)
    if not float(limit) >= 0:
        raise DataError(f"limit must be >= 0 metres, got {limit!r}")
    tree = shapely.STRtree(p)
    di, pj = tree.query(d, predicate="dwithin", distance=float(limit))
    dist = shapely.distance(d[di], p[pj]).astype(float)
    return csr_array((dist, (di, pj)), shape=(len(d), len(p)))


def _speed_factor(unit: str, speed_kph: float | None) -> float:
    """Metres -> unit divisor: cost = metres / factor."""
    if unit not in COST_UNITS:
        raise DataError(f"unit must be one of {COST_UNITS}, got {unit!r}")
    if unit == "m":
        return 1.0
    if speed_kph is None or not float(speed_kph) > 0:
        raise DataError(f"speed_kph must be > 0 km/h for unit={unit!r}, got {speed_kph!r}")
    per_s = float(speed_kph) / 3.6
    return per_s if unit == "s" else per_s * 60.0


def approximation_costs(demand: Any, points: Any, *, limit: float | None = None,
                        circuity: float = CIRCUITY, speed_kph: float | None = None,
                        unit: str = "m") -> Any:
    """Estimated network cost: straight-line metres x ``circuity``, in ``unit``.

    Only for when no road network exists (label results ``approximation``).

    Parameters
    ----------
    circuity : network / straight-line distance ratio (>= 1).
    speed_kph : travel speed, km/h (required for ``unit`` "s" or "min").
    unit : "m" (metres), "s" (seconds) or "min" (minutes).
    limit : in ``unit``; sparse output holding only pairs within it (see
        :func:`straight_line_costs`).
    """
    if not float(circuity) >= 1.0:
        raise DataError(f"circuity must be >= 1 (network/straight-line ratio), got {circuity!r}")
    factor = _speed_factor(unit, speed_kph)
    limit_m = None if limit is None else float(limit) * factor / float(circuity)
    m = straight_line_costs(demand, points, limit=limit_m)
    if limit is None:
        return m * float(circuity) / factor
    m = m.copy()
    m.data = m.data * float(circuity) / factor
    # rounding at the edge: keep only what is within the limit in the output unit
    m.data[m.data > float(limit)] = np.inf
    return _drop_inf(m)


def _drop_inf(m: Any) -> Any:
    from scipy.sparse import csr_array

    coo = m.tocoo()
    keep = np.isfinite(coo.data)
    return csr_array((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=m.shape)


def _node_positions(G: Any, points: Any, *, weight: str, max_snap_m: float,
                    offnet_speed_kph: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Matrix rows of the points' nodes and their off-network legs (in ``weight`` units).

    Points with a ``node`` column (from :func:`candidate_sites` on a graph) use that node with
    no leg; others are snapped to the nearest node (leg = straight distance), and points
    farther than ``max_snap_m`` get position -1 (unreachable).
    """
    import shapely

    from geo.network import csr_for, require_projected
    from geo.snapping import offnet_cost

    csr = csr_for(G, weight)
    if "node" in getattr(points, "columns", []):
        pos = np.array([csr.pos.get(n, -1) for n in points["node"]], dtype=np.int64)
        if (pos < 0).any():
            bad = list(points["node"][pos < 0][:5])
            raise NetworkError(f"points: {int((pos < 0).sum())} 'node' id(s) are not in G, "
                               f"e.g. {bad}; build candidates with candidate_sites(G)")
        return pos, np.zeros(len(pos))
    crs = require_projected(G)
    geoms = _points_m(points, crs, "points")
    xy = np.array([(d["x"], d["y"]) for _, d in G.nodes(data=True)], dtype=float)
    tree = shapely.STRtree(shapely.points(xy))
    (pi, nj), dist = tree.query_nearest(geoms, return_distance=True, all_matches=False)
    pos = np.full(len(geoms), -1, dtype=np.int64)
    leg = np.full(len(geoms), np.inf)
    node_ids = list(G.nodes)
    pos[pi] = [csr.pos[node_ids[j]] for j in nj]
    leg[pi] = offnet_cost(dist, weight, offnet_speed_kph)
    far = np.zeros(len(geoms), dtype=bool)
    far[pi] = dist > max_snap_m
    pos[far] = -1
    return pos, leg


def network_costs(G: Any, demand: Any, points: Any, *, limit: float, weight: str = "length",
                  reverse: bool = False, max_snap_m: float = 300.0,
                  offnet_speed_kph: float | None = None) -> Any:
    """Network cost between every point (candidate/facility) and every demand row, sparse.

    Points are network nodes (a ``node`` column, as :func:`candidate_sites` gives for a graph)
    or are snapped to their nearest node (the straight leg is added, metres for ``length``,
    at ``offnet_speed_kph`` for ``travel_time``). Demand is snapped to the nearest EDGE, as in
    ``geo.coverage.network_coverage``. One bounded dijkstra per point, in chunks, on the CSR
    arrays of ``geo.network.csr_for``.

    Parameters
    ----------
    G : projected osmnx-style graph.
    limit : in the weight's unit (metres / seconds); pairs beyond it are not stored.
    reverse : False: cost FROM the point TO the demand (fire engine leaving its station);
        True: FROM the demand TO the point (searched on the transposed graph).

    Returns
    -------
    ``scipy.sparse.csr_array`` (demand x points) of costs within ``limit``.
    """
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import dijkstra

    from geo.coverage.result import demand_points
    from geo.network import csr_for
    from geo.snapping import offnet_cost, placements, snap_points

    if not float(limit) >= 0:
        raise DataError(f"limit must be >= 0, got {limit!r}")
    limit = float(limit)
    csr = csr_for(G, weight)
    spos, sleg = _node_positions(G, points, weight=weight, max_snap_m=max_snap_m,
                                 offnet_speed_kph=offnet_speed_kph)
    t_snap = snap_points(G, demand_points(demand), max_snap_m=max_snap_m, arg="demand")
    t_leg = offnet_cost(t_snap["snap_dist_m"].to_numpy(), weight, offnet_speed_kph)
    tp = placements(G, t_snap, weight)
    n_d, n_p = len(t_snap), len(spos)
    if len(tp) == 0 or not (spos >= 0).any():
        return csr_array((n_d, n_p))
    tpt = tp["point"].to_numpy(dtype=np.int64)
    ttail = tp["tail"].map(csr.pos).to_numpy(dtype=np.int64)
    thead = tp["head"].map(csr.pos).to_numpy(dtype=np.int64)
    tpos, tw = tp["pos"].to_numpy(dtype=float), tp["w"].to_numpy(dtype=float)
    # a point within 1 mm of an edge end IS that node: projection round trips leave points
    # placed at a node a hair short of it, which on a one-way edge would cost a detour
    near = 1e-3
    if not reverse:   # arrive through the tail and run pos along; or be at the head
        via, off, direct, at_end = ttail, tpos * tw, thead, (1 - tpos) * tw <= near
    else:             # run (1 - pos) to the head and go on from there; or be at the tail
        via, off, direct, at_end = thead, (1 - tpos) * tw, ttail, tpos * tw <= near
    starts = np.flatnonzero(np.r_[True, tpt[1:] != tpt[:-1]])   # placements grouped by point
    points_with = tpt[starts]
    matrix = csr.transposed if reverse else csr.matrix
    uniq = np.unique(spos[spos >= 0])
    chunk = max(1, CHUNK_FLOATS // max(1, len(csr.nodes)))
    rows, cols, vals = [], [], []
    node_best: dict[int, np.ndarray] = {}
    for k in range(0, len(uniq), chunk):
        idx = uniq[k:k + chunk]
        dist = dijkstra(matrix, directed=True, indices=idx, limit=limit)
        c = dist[:, via] + off
        c = np.minimum(c, np.where(at_end, dist[:, direct], np.inf))
        per_point = np.minimum.reduceat(c, starts, axis=1)       # (chunk, points_with)
        for row, node in enumerate(idx):
            node_best[int(node)] = per_point[row]
    legs_t = t_leg[points_with]
    for j in range(n_p):
        if spos[j] < 0:
            continue
        c = node_best[int(spos[j])] + legs_t + sleg[j]
        ok = np.isfinite(c) & (c <= limit)
        rows.append(points_with[ok])
        cols.append(np.full(int(ok.sum()), j, dtype=np.int64))
        vals.append(c[ok])
    if not rows:
        return csr_array((n_d, n_p))
    r, cc, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    return csr_array((v, (r, cc)), shape=(n_d, n_p))


