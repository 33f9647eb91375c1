"""The fast multi-source shortest-path engine: :func:`nearest_cost` builds CSR arrays once per
graph and weight (:func:`csr_for`, cached weakly per graph) and runs
``scipy.sparse.csgraph.dijkstra(min_only=True)``; it also accepts a
:class:`geo.roadnet.RoadNetwork`. Costs are in the weight's units (``length``: metres,
``travel_time``: seconds)."""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geo._graphs import Csr, graph_stamp
from geo.errors import NetworkError

if TYPE_CHECKING:
    import networkx as nx

    from geo.roadnet import RoadNetwork

log = logging.getLogger(__name__)


_CACHE: weakref.WeakKeyDictionary[Any, dict[str, Csr]] = weakref.WeakKeyDictionary()


def clear_cache(G: nx.Graph) -> None:
    """Forget the cached CSR arrays of ``G`` (call after changing edge weights in place)."""
    _CACHE.pop(G, None)


def _build_csr(G: nx.Graph, weight: str) -> Csr:
    from scipy.sparse import csr_array

    nodes = list(G.nodes)
    pos = {n: i for i, n in enumerate(nodes)}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    multi = G.is_multigraph()
    for u, nbrs in G._adj.items():  # undirected graphs list each edge from both ends
        iu = pos[u]
        for v, data in nbrs.items():
            if multi:
                try:
                    if len(data) == 1:
                        w = next(iter(data.values()))[weight]
                    else:
                        w = min(d[weight] for d in data.values())
                except (KeyError, TypeError):
                    raise NetworkError(f"weight {weight!r} is missing on an edge ({u}, {v}) of G; "
                                       f"add it (e.g. geo.network.add_speeds for 'travel_time') "
                                       f"or pass another weight") from None
            else:
                try:
                    w = data[weight]
                except KeyError:
                    raise NetworkError(f"weight {weight!r} is missing on edge ({u}, {v}) of G; "
                                       f"add it or pass another weight") from None
            if u == v:
                continue
            rows.append(iu)
            cols.append(pos[v])
            vals.append(w)
    n = len(nodes)
    r = np.asarray(rows, dtype=np.int32)
    c = np.asarray(cols, dtype=np.int32)
    try:
        w = np.asarray(vals, dtype=float)
    except (TypeError, ValueError):
        raise NetworkError(f"weight {weight!r} has non-numeric values on G's edges") from None
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise NetworkError(f"weight {weight!r} must be finite and >= 0 on every edge; edge "
                           f"({nodes[r[i]]}, {nodes[c[i]]}) has {w[i]} ({int(bad.sum())} bad "
                           f"edges)")
    # rows arrive grouped by u (adjacency order) and each (u, v) once: indptr from counts
    order = np.argsort(r, kind="stable")
    r, c, w = r[order], c[order], w[order]
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(r, minlength=n), out=indptr[1:])
    matrix = csr_array((w, c, indptr), shape=(n, n))
    return Csr(nodes=pd.Index(nodes), pos=pos, matrix=matrix, stamp=graph_stamp(G))


def csr_for(G: nx.Graph, weight: str = "length") -> Csr:
    """The cached CSR arrays of ``G`` for ``weight`` (built on first use)."""
    if not hasattr(G, "_adj") or not hasattr(G, "is_multigraph"):
        raise NetworkError(f"G must be a networkx graph, got {type(G).__name__}")
    if G.number_of_nodes() == 0:
        raise NetworkError("G is empty (no nodes); build the network from a source with roads")
    per_graph = _CACHE.setdefault(G, {})
    csr = per_graph.get(weight)
    if csr is None or csr.stamp != graph_stamp(G):
        csr = _build_csr(G, weight)
        per_graph[weight] = csr
    return csr


def source_positions(csr: Csr, sources: Iterable[Any], *, arg: str = "sources") -> np.ndarray:
    """Matrix rows of the node ids in ``sources``; NetworkError naming the unknown ones."""
    if isinstance(sources, (str, bytes)) or not isinstance(sources, Iterable):
        sources = [sources]
    idx = []
    missing = []
    for s in sources:
        i = csr.pos.get(s)
        if i is None:
            missing.append(s)
        else:
            idx.append(i)
    if missing:
        raise NetworkError(f"{arg}: {len(missing)} node id(s) not in G, e.g. {missing[:5]}; "
                           f"snap points to the network first (geo.snapping.snap_points)")
    return np.unique(np.asarray(idx, dtype=np.int32))


def nearest_cost(G: nx.Graph | RoadNetwork, sources: Iterable[Any], *, weight: str = "length",
                 cutoff: float | None = None, reverse: bool = False,
                 return_source: bool = False) -> pd.Series | tuple[pd.Series, pd.Series]:
    """Cost between every node of ``G`` and its nearest source node.

    Parameters
    ----------
    G : any networkx Graph / DiGraph / MultiGraph / MultiDiGraph. Parallel edges count with
        their smallest weight; self-loops are ignored; undirected edges run both ways.
    sources : iterable of node ids of ``G``.
    weight : edge attribute to add up: ``"length"`` (metres), ``"travel_time"`` (seconds) or
        any finite, non-negative numeric attribute. The result is in its units.
    cutoff : costs above ``cutoff`` (same units) are reported as ``inf``; searching stops there.
        A cost exactly equal to ``cutoff`` is kept.
    reverse : False (forward): cost FROM the nearest source TO each node, following edge
        directions (how far a fire engine gets from its station). True: cost FROM each node TO
        its nearest source, following edge directions (how far a place is from the nearest
        expressway entry); computed on the transposed graph.
    return_source : also return which source is nearest to each node.

    Returns
    -------
    pandas.Series of float indexed by every node of ``G`` (in ``G.nodes`` order), ``inf`` where
    unreachable or beyond ``cutoff``; with ``return_source`` a tuple ``(cost, nearest_source)``
    where ``nearest_source`` holds the source node id (missing where unreachable).

    Notes
    -----
    ``G`` may also be a :class:`geo.roadnet.RoadNetwork` (array form, node ids are OSM ids;
    weights ``"length"``, ``"travel_time"``, ``"travel_time:<profile>"``); its arrays are fixed,
    so repeated calls skip the check below.
    For networkx graphs, CSR arrays are built once per graph and weight and cached (weakly keyed on ``G``, rebuilt
    when its nodes or adjacent node pairs change). After changing weights in place or adding a
    parallel edge call :func:`clear_cache` (``add_speeds`` does).
    """
    from scipy.sparse.csgraph import dijkstra

    if not isinstance(weight, str):
        raise NetworkError(f"weight must be an edge attribute name (str), got {weight!r}")
    if cutoff is not None:
        try:
            cutoff = float(cutoff)
        except (TypeError, ValueError):
            raise NetworkError(f"cutoff must be a number >= 0 or None, got {cutoff!r}") from None
        if not cutoff >= 0:
            raise NetworkError(f"cutoff must be a number >= 0 or None, got {cutoff!r}")
    if type(G).__name__ == "RoadNetwork":
        return _roadnet_nearest_cost(G, sources, weight=weight, limit=cutoff, reverse=reverse,
                                     return_source=return_source)
    csr = csr_for(G, weight)
    idx = source_positions(csr, sources)
    n = len(csr.nodes)
    if len(idx) == 0:
        log.warning("nearest_cost: no sources; every cost is inf")
        cost = pd.Series(np.full(n, np.inf), index=csr.nodes, name=f"cost_{weight}")
        if return_source:
            return cost, pd.Series([None] * n, index=csr.nodes, dtype=object, name="source")
        return cost
    matrix = csr.transposed if reverse else csr.matrix
    limit = np.inf if cutoff is None else cutoff
    if return_source:
        dist, _, src = dijkstra(matrix, directed=True, indices=idx, min_only=True, limit=limit,
                                return_predecessors=True)
        cost = pd.Series(dist, index=csr.nodes, name=f"cost_{weight}", copy=False)
        node_arr = csr.nodes.to_numpy()
        ok = src >= 0
        out = np.empty(n, dtype=object)
        out[:] = None
        out[ok] = node_arr[src[ok]]
        return cost, pd.Series(out, index=csr.nodes, dtype=object, name="source")
    dist = dijkstra(matrix, directed=True, indices=idx, min_only=True, limit=limit)
    return pd.Series(dist, index=csr.nodes, name=f"cost_{weight}", copy=False)


def _roadnet_nearest_cost(net: RoadNetwork, sources: Iterable[Any], *, weight: str,
                          limit: float | None, reverse: bool,
                          return_source: bool) -> pd.Series | tuple[pd.Series, pd.Series]:
    """:func:`nearest_cost` on a :class:`geo.roadnet.RoadNetwork` (same outputs)."""
    from scipy.sparse.csgraph import dijkstra

    if isinstance(sources, (str, bytes)) or not isinstance(sources, Iterable):
        sources = [sources]
    src = list(sources)
    index = pd.Index(net.node_id)
    idx = np.unique(net.positions(src)) if src else np.zeros(0, np.int64)
    if len(idx) == 0:
        log.warning("nearest_cost: no sources; every cost is inf")
        cost = pd.Series(np.full(net.n_nodes, np.inf), index=index, name=f"cost_{weight}")
        if return_source:
            return cost, pd.Series([None] * net.n_nodes, index=index, dtype=object,
                                   name="source")
        return cost
    mat = net.csr(weight, reverse=reverse)
    lim = np.inf if limit is None else limit
    if not return_source:
        dist = dijkstra(mat, directed=True, indices=idx, min_only=True, limit=lim)
        return pd.Series(dist, index=index, name=f"cost_{weight}", copy=False)
    dist, _, srcpos = dijkstra(mat, directed=True, indices=idx, min_only=True, limit=lim,
                               return_predecessors=True)
    out = np.empty(net.n_nodes, dtype=object)
    out[:] = None
    ok = srcpos >= 0
    out[ok] = net.node_id[srcpos[ok]]
    return (pd.Series(dist, index=index, name=f"cost_{weight}", copy=False),
            pd.Series(out, index=index, dtype=object, name="source"))
