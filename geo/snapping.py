"""Snap points to the nearest network EDGE and compute point-to-point network costs.

A point is placed at its projection onto the nearest edge (not the nearest node). Its cost is
the cheaper of reaching it through either end of that edge, respecting one-way edges, plus the
off-network leg (the straight snap distance) in metres for ``weight="length"`` or at walking
speed for ``weight="travel_time"``. Points farther than ``max_snap_m`` (default 300 m) from every
edge are off-network: cost ``inf``, flagged. Sources (facilities) are snapped the same way and
enter the search as virtual nodes on their edges, so costs are exactly those of a graph in which
every point were inserted as a node (tested against networkx on such a graph).
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo._graphs import CsrView, graph_stamp
from geo.errors import CRSError, NetworkError
from geo.netcost import csr_for
from geo.network import require_projected
from geo.speeds import load_profile

log = logging.getLogger(__name__)

#: Default maximum snap distance in metres: farther points are off-network (assumption: about
#: one 300 m block / the GB 50180-2018 5-minute walk; a parameter everywhere).
MAX_SNAP_M = 300.0
#: Snapped positions this close (as a fraction of the edge) to an edge end count as the node.
END_TOLERANCE = 1e-7


@dataclass
class EdgeIndex:
    """A graph's edges as arrays (tail ``u``, head ``v``, key ``k``, geometry) with an STRtree
    over the geometries; ``stamp`` is the graph's fingerprint when it was built."""

    u: np.ndarray
    v: np.ndarray
    k: np.ndarray
    geoms: np.ndarray
    tree: Any
    stamp: tuple[int, int]


_EDGES: weakref.WeakKeyDictionary[Any, EdgeIndex] = weakref.WeakKeyDictionary()


def edge_index(G: Any) -> EdgeIndex:
    """The cached :class:`EdgeIndex` of ``G`` (rebuilt when its nodes or node pairs change)."""
    import shapely

    stamp = graph_stamp(G)
    cached = _EDGES.get(G)
    if cached is not None and cached.stamp == stamp:
        return cached
    us, vs, ks, geoms = [], [], [], []
    multi = G.is_multigraph()
    edges = G.edges(keys=True, data="geometry") if multi else G.edges(data="geometry")
    for e in edges:
        u, v = e[0], e[1]
        k = e[2] if multi else 0
        geom = e[-1]
        if geom is None:
            nu, nv = G.nodes[u], G.nodes[v]
            geom = shapely.LineString([(nu["x"], nu["y"]), (nv["x"], nv["y"])])
        us.append(u)
        vs.append(v)
        ks.append(k)
        geoms.append(geom)
    if not geoms:
        raise NetworkError("G has no edges to snap to")
    garr = np.asarray(geoms, dtype=object)
    idx = EdgeIndex(_objects(us), _objects(vs), _objects(ks), garr, shapely.STRtree(garr), stamp)
    _EDGES[G] = idx
    return idx


def _objects(values: Any) -> np.ndarray:
    """1-D object array (keeps tuple node ids as scalars)."""
    return np.fromiter(values, dtype=object, count=len(values))


def _points_in(G: Any, points: Any, arg: str) -> tuple[pd.Index, np.ndarray]:
    """The points' index and shapely Points in ``G``'s projected CRS."""
    index, geoms = _point_geoms(points, require_projected(G), arg)
    return index, geoms


def _point_geoms(points: Any, crs: str, arg: str) -> tuple[pd.Index, np.ndarray]:
    """A GeoDataFrame / GeoSeries of points as (index, shapely Points in ``crs``); polygons
    stand for a representative point of theirs."""
    import geopandas as gpd

    if isinstance(points, gpd.GeoDataFrame):
        points = points.geometry
    if not isinstance(points, gpd.GeoSeries):
        raise NetworkError(f"{arg} must be a GeoDataFrame or GeoSeries of points, got "
                           f"{type(points).__name__}")
    if points.crs is None:
        raise CRSError(f"{arg} has no CRS; set it (OSM points are EPSG:4326)")
    pts = points.to_crs(crs)
    geoms = pts.values
    if len(geoms) and not (pts.geom_type == "Point").all():
        geoms = pts.representative_point().values
    return points.index, np.asarray(geoms, dtype=object)


def snap_points(G: Any, points: Any, *, max_snap_m: float = MAX_SNAP_M,
                arg: str = "points") -> pd.DataFrame:
    """Snap points to the nearest edge of the projected graph ``G``.

    Parameters
    ----------
    G : osmnx-style graph in a projected CRS (metres).
    points : GeoDataFrame or GeoSeries (any CRS; polygons use a representative point).
    max_snap_m : points farther than this (metres) from every edge are off-network.

    Returns
    -------
    DataFrame indexed like ``points``: ``u, v, key`` (the nearest directed edge), ``along_m``
    (metres along its geometry from ``u``), ``edge_m`` (geometry length, m), ``frac``
    (``along_m / edge_m``), ``snap_dist_m`` (off-network leg, m), ``on_network`` (bool),
    ``snap_x, snap_y`` (snapped position in the graph CRS).
    """
    import shapely

    if not max_snap_m >= 0:
        raise NetworkError(f"max_snap_m must be >= 0 metres, got {max_snap_m!r}")
    index, geoms = _points_in(G, points, arg)
    ei = edge_index(G)
    n = len(geoms)
    cols = {"u": np.empty(n, dtype=object), "v": np.empty(n, dtype=object),
            "key": np.empty(n, dtype=object), "along_m": np.full(n, np.nan),
            "edge_m": np.full(n, np.nan), "frac": np.full(n, np.nan),
            "snap_dist_m": np.full(n, np.inf), "on_network": np.zeros(n, dtype=bool),
            "snap_x": np.full(n, np.nan), "snap_y": np.full(n, np.nan)}
    if n:
        valid = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
        (pi, ej), dist = ei.tree.query_nearest(geoms[valid], return_distance=True,
                                               all_matches=False)
        rows = np.flatnonzero(valid)[pi]
        lines = ei.geoms[ej]
        along = shapely.line_locate_point(lines, geoms[rows])
        length = shapely.length(lines)
        snapped = shapely.line_interpolate_point(lines, along)
        cols["u"][rows] = ei.u[ej]
        cols["v"][rows] = ei.v[ej]
        cols["key"][rows] = ei.k[ej]
        cols["along_m"][rows] = along
        cols["edge_m"][rows] = length
        cols["frac"][rows] = np.where(length > 0, np.clip(along / np.where(length > 0, length, 1),
                                                          0, 1), 0.0)
        cols["snap_dist_m"][rows] = dist
        cols["on_network"][rows] = dist <= max_snap_m
        cols["snap_x"][rows] = shapely.get_x(snapped)
        cols["snap_y"][rows] = shapely.get_y(snapped)
    out = pd.DataFrame(cols, index=index)
    off = int((~out["on_network"]).sum())
    if off:
        log.info("%s: %d of %d points are more than %.0f m from the network (off-network)",
                 arg, off, n, max_snap_m)
    return out


def _edge_weight(G: Any, u: Any, v: Any, k: Any, weight: str) -> float:
    data = G[u][v][k] if G.is_multigraph() else G[u][v]
    return float(data[weight])


def _twin_key(G: Any, u: Any, v: Any, k: Any) -> Any:
    """Key of the edge v->u running along the same geometry as u->v (two-way street), or None."""
    if not G.is_directed():
        return k
    if not G.has_edge(v, u):
        return None
    fwd = G[u][v][k] if G.is_multigraph() else G[u][v]
    if not G.is_multigraph():
        back = G[v][u]
        return 0 if abs(back.get("length", 0) - fwd.get("length", 0)) <= 1e-6 * (
            1 + fwd.get("length", 0)) else None
    same = [k2 for k2, back in G[v][u].items()
            if abs(back.get("length", 0) - fwd.get("length", 0)) <= 1e-6 * (1 + fwd.get("length",
                                                                                      0))]
    # parallel ways of one length (a street drawn twice): the twin is the same way (OSM id),
    # else the same class of road
    for attr in ("osmid", "highway"):
        if fwd.get(attr) is not None:
            hit = [k2 for k2 in same if str(G[v][u][k2].get(attr)) == str(fwd.get(attr))]
            if hit:
                return hit[0]
    return same[0] if same else None


def placements(G: Any, snaps: pd.DataFrame, weight: str) -> pd.DataFrame:
    """Directed placements of snapped points: one row per (point, direction it lies on).

    Columns: ``point`` (row number in ``snaps``), ``tail, head, key``, ``pos`` (fraction of the
    directed edge from ``tail``), ``w`` (the edge's ``weight``). A point on a two-way street has
    two rows, on a one-way street one.
    """
    rows = []
    on = snaps["on_network"].to_numpy()
    for i, (u, v, k, f) in enumerate(zip(snaps["u"], snaps["v"], snaps["key"], snaps["frac"],
                                         strict=True)):
        if not on[i]:
            continue
        # a point at a node (up to CRS round-trip noise) IS that node: exact 0 / 1 lets the
        # search leave or enter it in every direction, not only along the snapped edge
        f = 0.0 if f < END_TOLERANCE else 1.0 if f > 1.0 - END_TOLERANCE else f
        rows.append((i, u, v, k, float(f), _edge_weight(G, u, v, k, weight)))
        k2 = _twin_key(G, u, v, k)
        if k2 is not None and u != v:
            rows.append((i, v, u, k2, 1.0 - float(f), _edge_weight(G, v, u, k2, weight)))
    return pd.DataFrame(rows, columns=["point", "tail", "head", "key", "pos", "w"])


def offnet_cost(snap_dist_m: np.ndarray, weight: str, offnet_speed_kph: float | None) -> np.ndarray:
    """Cost of the off-network leg: metres for ``length``, seconds at walking speed for
    ``travel_time``; other weights are refused."""
    if weight == "length":
        return np.asarray(snap_dist_m, dtype=float)
    if weight == "travel_time":
        if offnet_speed_kph is None:
            prof = load_profile("walk")
            offnet_speed_kph = prof.default_kph * prof.speed_factor
        if not offnet_speed_kph > 0:
            raise NetworkError(f"offnet_speed_kph must be > 0 km/h, got {offnet_speed_kph!r}")
        return np.asarray(snap_dist_m, dtype=float) / (offnet_speed_kph / 3.6)
    raise NetworkError(f"weight {weight!r}: the off-network leg is defined only for 'length' "
                       f"(metres) and 'travel_time' (seconds); use one of those")


def reach_targets(dist: np.ndarray, src: np.ndarray, tp: pd.DataFrame, sp: pd.DataFrame,
                  s_leg: np.ndarray, ttail: np.ndarray, thead: np.ndarray, *,
                  same_on: list[str], reverse: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # reason for 9 parameters: one search's arrays and the targets' / sources' edge positions
    """Cheapest way to each target snapped at fraction ``pos`` along an edge ``ttail -> thead``
    (weight ``w``), from a search's node costs ``dist`` / sources ``src``: through the edge's
    tail (forward; head when ``reverse``), at the node itself when the target sits on it, or
    along the edge from a source snapped to the same edge (rows matched on ``same_on``).
    Returns (target rows, cost, source) with one entry per reached target."""
    tpt, tpos, tw = tp["point"].to_numpy(), tp["pos"].to_numpy(), tp["w"].to_numpy()
    ones = np.ones(len(tpt), bool)
    if not reverse:
        cands = [(tpt, dist[ttail] + tpos * tw, src[ttail], ones),
                 (tpt, dist[thead], src[thead], tpos == 1)]
    else:
        cands = [(tpt, dist[thead] + (1 - tpos) * tw, src[thead], ones),
                 (tpt, dist[ttail], src[ttail], tpos == 0)]
    same = tp.merge(sp, on=same_on, suffixes=("", "_s"))
    if len(same):
        d = (same["pos"] - same["pos_s"]).to_numpy() * (-1 if reverse else 1)
        c = d * same["w"].to_numpy() + s_leg[same["point_s"].to_numpy()]
        cands.append((same["point"].to_numpy(), c, same["point_s"].to_numpy(), d >= 0))
    p_all = np.concatenate([c[0][c[3]] for c in cands]).astype(np.int64)
    c_all = np.concatenate([c[1][c[3]] for c in cands])
    s_all = np.concatenate([c[2][c[3]] for c in cands]).astype(np.int64)
    order = np.lexsort((c_all, p_all))   # by point, then cost
    p_all, c_all, s_all = p_all[order], c_all[order], s_all[order]
    first = np.r_[True, p_all[1:] != p_all[:-1]]
    return p_all[first], c_all[first], s_all[first]


def search_from_points(csr: Any, sp: pd.DataFrame, s_leg: np.ndarray, m: int, *,
                       reverse: bool = False, limit: float = np.inf
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Multi-source search from snapped source points (virtual nodes on their edges).

    ``sp``: :func:`placements` of the ``m`` source points; ``s_leg``: their off-network legs.
    Returns ``(dist, src)`` for the graph's nodes (matrix order): the cost from (forward) or to
    (``reverse``) the nearest source point, and that point's row number (-1 if unreachable).
    """
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import dijkstra

    n = len(csr.nodes)
    if len(sp) == 0:
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    # virtual node n + i for source point i; edges out of it in the searched direction
    tail = sp["tail"].map(csr.pos).to_numpy(dtype=np.int64)
    head = sp["head"].map(csr.pos).to_numpy(dtype=np.int64)
    pos, w = sp["pos"].to_numpy(), sp["w"].to_numpy()
    pt = sp["point"].to_numpy()
    if not reverse:   # leave forward to the head; at pos 0 the point is the tail node
        to = np.r_[head, tail[pos == 0]]
        wt = np.r_[(1 - pos) * w, np.zeros(int((pos == 0).sum()))]
        frm = np.r_[pt, pt[pos == 0]]
    else:             # arrive from the tail; at pos 1 the point is the head node
        to = np.r_[tail, head[pos == 1]]
        wt = np.r_[pos * w, np.zeros(int((pos == 1).sum()))]
        frm = np.r_[pt, pt[pos == 1]]
    wt = wt + s_leg[frm]
    order = np.argsort(frm, kind="stable")
    frm, to, wt = frm[order], to[order], wt[order]
    base = csr.transposed if reverse else csr.matrix
    indptr = np.r_[base.indptr, base.indptr[-1] + np.cumsum(np.bincount(frm, minlength=m))]
    aug = csr_array((np.r_[base.data, wt], np.r_[base.indices, to].astype(np.int32),
                     indptr.astype(np.int32)), shape=(n + m, n + m))
    starts = np.unique(frm) + n
    dist, _, src = dijkstra(aug, directed=True, indices=starts, min_only=True, limit=limit,
                            return_predecessors=True)
    src = np.where(src >= 0, src - n, -1)
    return dist[:n], src[:n]


def point_costs(G: Any, sources: Any, targets: Any, *, weight: str = "length",
                cutoff: float | None = None, reverse: bool = False,
                max_snap_m: float = MAX_SNAP_M, offnet_speed_kph: float | None = None,
                source_leg: bool = True, speed_scale: float = 1.0) -> pd.DataFrame:
    """Network cost between each target point and its nearest source point.

    Both are snapped to edges (:func:`snap_points`). Forward (``reverse=False``): cost FROM the
    nearest source TO the target along edge directions; ``reverse=True``: FROM the target TO
    its nearest source. Units are those of ``weight`` (``length``: metres, ``travel_time``:
    seconds); the off-network legs (target's, and the source's when ``source_leg``) are added in
    metres or at ``offnet_speed_kph`` (default: the walk profile, 3.6 km/h). Costs above
    ``cutoff`` are ``inf``. ``speed_scale``: a speed variant (every edge cost divided by it, the
    off-network walk unchanged) computed on the same graph, without copying it. ``G`` may also
    be a :class:`geo.roadnet.RoadNetwork` (the array form; same semantics).

    Returns
    -------
    DataFrame indexed like ``targets``: ``cost``, ``source`` (index label of the nearest source
    in ``sources``, missing when unreachable), ``snap_dist_m``, ``on_network``.
    """
    if not (speed_scale > 0 and np.isfinite(speed_scale)):
        raise NetworkError(f"speed_scale must be a positive number, got {speed_scale!r}")
    if _is_roadnet(G):
        return _roadnet_point_costs(G, sources, targets, weight=weight, cutoff=cutoff,
                                    reverse=reverse, max_snap_m=max_snap_m,
                                    offnet_speed_kph=offnet_speed_kph, source_leg=source_leg,
                                    speed_scale=speed_scale)
    csr = csr_for(G, weight)
    if speed_scale != 1.0:
        csr = _scaled(csr, speed_scale)
    s_snap = snap_points(G, sources, max_snap_m=max_snap_m, arg="sources")
    t_snap = snap_points(G, targets, max_snap_m=max_snap_m, arg="targets")
    s_leg = offnet_cost(s_snap["snap_dist_m"].to_numpy(), weight, offnet_speed_kph)
    if not source_leg:
        s_leg = np.zeros_like(s_leg)
    t_leg = offnet_cost(t_snap["snap_dist_m"].to_numpy(), weight, offnet_speed_kph)
    sp = placements(G, s_snap, weight)
    tp = placements(G, t_snap, weight)
    sp["w"] /= speed_scale
    tp["w"] /= speed_scale
    n_t = len(t_snap)
    cost = np.full(n_t, np.inf)
    best = np.full(n_t, -1, dtype=np.int64)
    limit = np.inf if cutoff is None else float(cutoff)

    if len(sp):
        dist, src = search_from_points(csr, sp, s_leg, len(s_snap), reverse=reverse,
                                       limit=limit)
        if len(tp):
            ttail = tp["tail"].map(csr.pos).to_numpy(dtype=np.int64)
            thead = tp["head"].map(csr.pos).to_numpy(dtype=np.int64)
            # same_on: both points on the same directed edge travel along it directly
            pts, c, srcs = reach_targets(dist, src, tp, sp, s_leg, ttail, thead,
                                         same_on=["tail", "head", "key"], reverse=reverse)
            cost[pts] = c
            best[pts] = srcs
    cost = cost + t_leg
    cost[~t_snap["on_network"].to_numpy()] = np.inf
    cost[cost > limit] = np.inf
    best[~np.isfinite(cost)] = -1
    labels = np.empty(n_t, dtype=object)
    labels[:] = None
    ok = best >= 0
    labels[ok] = _objects(s_snap.index)[best[ok]]
    return pd.DataFrame({"cost": cost, "source": labels,
                         "snap_dist_m": t_snap["snap_dist_m"].to_numpy(),
                         "on_network": t_snap["on_network"].to_numpy()}, index=t_snap.index)


def _is_roadnet(G: Any) -> bool:
    from geo.roadnet import RoadNetwork

    return isinstance(G, RoadNetwork)


def _scaled(csr: Any, speed_scale: float) -> Any:
    """A view of ``csr`` with every weight divided by ``speed_scale`` (index arrays shared)."""
    from scipy.sparse import csr_array

    def div(m: Any) -> Any:
        return csr_array((m.data / speed_scale, m.indices, m.indptr), shape=m.shape, copy=False)

    return CsrView(nodes=csr.nodes, pos=csr.pos, matrix=div(csr.matrix),
                    transposed=div(csr.transposed))


def _xy(points: Any, crs: str, arg: str) -> tuple[pd.Index, np.ndarray]:
    """The points' index and (n, 2) coordinates in ``crs``."""
    import shapely

    index, g = _point_geoms(points, crs, arg)
    xy = np.column_stack([shapely.get_x(g), shapely.get_y(g)]) if len(g) else np.empty((0, 2))
    return index, xy


def _roadnet_point_costs(net: Any, sources: Any, targets: Any, **kw: Any) -> pd.DataFrame:
    from geo.roadnet import point_costs as arrays_point_costs

    s_index, s_xy = _xy(sources, net.crs, "sources")
    t_index, t_xy = _xy(targets, net.crs, "targets")
    if not len(s_xy) or not len(t_xy):
        n = len(t_xy)
        return pd.DataFrame({"cost": np.full(n, np.inf), "source": np.full(n, None, object),
                             "snap_dist_m": np.full(n, np.inf),
                             "on_network": np.zeros(n, bool)}, index=t_index)
    r = arrays_point_costs(net, s_xy, t_xy, **kw)
    labels = np.empty(len(t_xy), dtype=object)
    labels[:] = None
    ok = r["source"] >= 0
    labels[ok] = _objects(s_index)[r["source"][ok]]
    return pd.DataFrame({"cost": r["cost"], "source": labels, "snap_dist_m": r["snap_dist_m"],
                         "on_network": r["on_network"]}, index=t_index)
