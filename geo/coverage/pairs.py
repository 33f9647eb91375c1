"""Sparse demand x point cost pairs (siting's coverage matrices), one builder per method.

- :func:`straight_line_costs` - metres between representative points;
- :func:`approximation_costs` - straight line x circuity (/ speed), in m, s or min;
- :func:`network_costs` - bounded dijkstra from every point on the CSR arrays of
  ``geo.network.csr_for``, demand snapped to edges as in :func:`geo.coverage.network_coverage`.

Which method applies is decided by :func:`geo.coverage.methods.choose_method`; the per-demand
nearest costs of the same methods are in :mod:`geo.coverage.engines`.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class _Inputs:
    """What the bounded searches of :func:`network_costs` need, from either graph form."""

    matrix: Any                 # CSR of edge costs (forward)
    transposed: Any             # CSR of the reversed edges
    spos: np.ndarray            # matrix row of each point's node (-1: off the network)
    sleg: np.ndarray            # each point's off-network leg (weight units)
    tpt: np.ndarray             # demand row of each placement (grouped by demand row)
    ttail: np.ndarray           # placement edge's tail / head (matrix rows)
    thead: np.ndarray
    tpos: np.ndarray            # fraction along the edge, its cost
    tw: np.ndarray
    t_leg: np.ndarray           # each demand row's off-network leg
    n_demand: int


def _nearest_nodes(node_xy: np.ndarray, geoms: np.ndarray, *, kind: str, max_snap_m: float,
                   offnet_speed_kph: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Index of the node nearest each point (-1 beyond ``max_snap_m``) and the straight leg to
    it in ``kind`` units (metres for lengths, seconds for travel times)."""
    import shapely

    from geo.snapping import offnet_cost

    tree = shapely.STRtree(shapely.points(node_xy))
    (pi, nj), dist = tree.query_nearest(geoms, return_distance=True, all_matches=False)
    pos = np.full(len(geoms), -1, dtype=np.int64)
    leg = np.full(len(geoms), np.inf)
    pos[pi] = nj
    leg[pi] = offnet_cost(dist, kind, offnet_speed_kph)
    pos[pi[dist > max_snap_m]] = -1
    return pos, leg


def _graph_inputs(G: Any, demand: Any, points: Any, weight: str, max_snap_m: float,
                  offnet_speed_kph: float | None) -> _Inputs:
    """:class:`_Inputs` on a projected osmnx-style networkx graph (``weight`` an edge
    attribute). Points with a ``node`` column (:func:`candidate_sites` on a graph) sit on that
    node with no leg; others snap to their nearest node."""
    from geo.coverage.result import demand_points
    from geo.network import csr_for, require_projected
    from geo.snapping import offnet_cost, placements, snap_points

    csr = csr_for(G, weight)
    if "node" in getattr(points, "columns", []):
        spos = np.array([csr.pos.get(n, -1) for n in points["node"]], dtype=np.int64)
        if (spos < 0).any():
            bad = list(points["node"][spos < 0][:5])
            raise NetworkError(f"points: {int((spos < 0).sum())} 'node' id(s) are not in G, "
                               f"e.g. {bad}; build candidates with candidate_sites(G)")
        sleg = np.zeros(len(spos))
    else:
        crs = require_projected(G)
        xy = np.array([(d["x"], d["y"]) for _, d in G.nodes(data=True)], dtype=float)
        near, sleg = _nearest_nodes(xy, _points_m(points, crs, "points"), kind=weight,
                                    max_snap_m=max_snap_m, offnet_speed_kph=offnet_speed_kph)
        rows = np.array([csr.pos[n] for n in G.nodes], dtype=np.int64)
        spos = np.where(near >= 0, rows[np.maximum(near, 0)], -1)
    t_snap = snap_points(G, demand_points(demand), max_snap_m=max_snap_m, arg="demand")
    tp = placements(G, t_snap, weight)
    return _Inputs(csr.matrix, csr.transposed, spos, sleg,
                   tp["point"].to_numpy(dtype=np.int64),
                   tp["tail"].map(csr.pos).to_numpy(dtype=np.int64),
                   tp["head"].map(csr.pos).to_numpy(dtype=np.int64),
                   tp["pos"].to_numpy(dtype=float), tp["w"].to_numpy(dtype=float),
                   offnet_cost(t_snap["snap_dist_m"].to_numpy(), weight, offnet_speed_kph),
                   len(t_snap))


def _roadnet_inputs(net: Any, demand: Any, points: Any, weight: Any, max_snap_m: float,
                    offnet_speed_kph: float | None) -> _Inputs:
    """:class:`_Inputs` on a :class:`geo.roadnet.RoadNetwork` (``weight``: ``"length"``, a
    travel-time name or a SpeedProfile, see ``RoadNetwork.weight``), with the same rules."""
    import shapely

    from geo.roadnet import edge_placements
    from geo.snapping import offnet_cost

    kind = "length" if weight in ("length", "length_m") else "travel_time"
    _, w = net.weight(weight)
    if "node" in getattr(points, "columns", []):
        spos = net.positions(np.asarray(points["node"], dtype=np.int64))
        sleg = np.zeros(len(spos))
    else:
        spos, sleg = _nearest_nodes(np.column_stack([net.x, net.y]),
                                    _points_m(points, net.crs, "points"), kind=kind,
                                    max_snap_m=max_snap_m, offnet_speed_kph=offnet_speed_kph)
    d = _points_m(demand, net.crs, "demand")
    snap = net.snap(shapely.get_x(d), shapely.get_y(d), max_snap_m=max_snap_m)
    tp = edge_placements(net, snap, w).sort_values("point", kind="stable")  # grouped by row
    return _Inputs(net.csr(weight), net.csr(weight, reverse=True), spos, sleg,
                   tp["point"].to_numpy(dtype=np.int64), tp["tail"].to_numpy(dtype=np.int64),
                   tp["head"].to_numpy(dtype=np.int64), tp["pos"].to_numpy(dtype=float),
                   tp["w"].to_numpy(dtype=float), offnet_cost(snap["dist_m"], kind,
                                                              offnet_speed_kph), len(d))


def network_costs(G: Any, demand: Any, points: Any, *, limit: float, weight: Any = "length",
                  reverse: bool = False, max_snap_m: float = 300.0,
                  offnet_speed_kph: float | None = None) -> Any:
    """Network cost between every point (candidate/facility) and every demand row, sparse.

    Points are network nodes (a ``node`` column, as :func:`candidate_sites` gives for a graph)
    or are snapped to their nearest node (the straight leg is added, metres for ``length``,
    at ``offnet_speed_kph`` for ``travel_time``). Demand is snapped to the nearest EDGE, as in
    ``geo.coverage.network_coverage``. One bounded dijkstra per point, in chunks, on the CSR
    arrays of ``geo.network.csr_for`` (a networkx graph) or of the RoadNetwork itself.

    Parameters
    ----------
    G : projected osmnx-style graph, or a :class:`geo.roadnet.RoadNetwork` (no conversion).
    limit : in the weight's unit (metres / seconds); pairs beyond it are not stored.
    weight : an edge attribute of ``G`` (``length``, ``travel_time``); on a RoadNetwork
        ``length``, ``travel_time[:<profile>]`` or a loaded SpeedProfile (seconds).
    reverse : False: cost FROM the point TO the demand (fire engine leaving its station);
        True: FROM the demand TO the point (searched on the transposed graph).

    Returns
    -------
    ``scipy.sparse.csr_array`` (demand x points) of costs within ``limit``.
    """
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import dijkstra

    from geo.roadnet import RoadNetwork

    if not float(limit) >= 0:
        raise DataError(f"limit must be >= 0, got {limit!r}")
    limit = float(limit)
    if isinstance(G, RoadNetwork):
        x = _roadnet_inputs(G, demand, points, weight, max_snap_m, offnet_speed_kph)
    else:
        if not isinstance(weight, str):
            raise NetworkError(f"weight {weight!r}: a networkx graph takes an edge attribute "
                               f"name ('length', 'travel_time')")
        x = _graph_inputs(G, demand, points, weight, max_snap_m, offnet_speed_kph)
    n_d, n_p = x.n_demand, len(x.spos)
    if len(x.tpt) == 0 or not (x.spos >= 0).any():
        return csr_array((n_d, n_p))
    # a point within 1 mm of an edge end IS that node: projection round trips leave points
    # placed at a node a hair short of it, which on a one-way edge would cost a detour
    near = 1e-3
    if not reverse:   # arrive through the tail and run pos along; or be at the head
        via, off, direct, at_end = x.ttail, x.tpos * x.tw, x.thead, (1 - x.tpos) * x.tw <= near
    else:             # run (1 - pos) to the head and go on from there; or be at the tail
        via, off, direct, at_end = x.thead, (1 - x.tpos) * x.tw, x.ttail, x.tpos * x.tw <= near
    starts = np.flatnonzero(np.r_[True, x.tpt[1:] != x.tpt[:-1]])   # placements by demand row
    points_with = x.tpt[starts]
    matrix = x.transposed if reverse else x.matrix
    valid = np.flatnonzero(x.spos >= 0)
    uniq, node_of = np.unique(x.spos[valid], return_inverse=True)   # point -> its search
    by_node = np.argsort(node_of, kind="stable")
    bounds = np.searchsorted(node_of[by_node], np.arange(len(uniq) + 1))
    chunk = max(1, CHUNK_FLOATS // max(1, matrix.shape[0]))
    legs_t = x.t_leg[points_with]
    rows, cols, vals = [], [], []
    for k in range(0, len(uniq), chunk):
        idx = uniq[k:k + chunk]
        dist = dijkstra(matrix, directed=True, indices=idx, limit=limit)
        c = dist[:, via] + off
        c = np.minimum(c, np.where(at_end, dist[:, direct], np.inf))
        per_node = np.minimum.reduceat(c, starts, axis=1) + legs_t     # (chunk, points_with)
        # every point snapped to one of these nodes, with its own leg
        sel = by_node[bounds[k]:bounds[min(k + chunk, len(uniq))]]
        pts = valid[sel]
        cost = per_node[node_of[sel] - k] + x.sleg[pts][:, None]
        pi, di = np.nonzero(np.isfinite(cost) & (cost <= limit))
        rows.append(points_with[di])
        cols.append(pts[pi])
        vals.append(cost[pi, di])
    if not rows:
        return csr_array((n_d, n_p))
    r, cc, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    return csr_array((v, (r, cc)), shape=(n_d, n_p))
