"""Street networks as numpy arrays (CSR-ready), read straight from an OSM PBF with pyosmium.

:class:`RoadNetwork` is the array form of a walk or drive network: one graph node per OSM node
used by a kept way, one directed edge per way segment (two per segment of a two-way street),
``length_m`` (metres, great-circle as osmnx), the edge's ``highway`` class and parsed
``maxspeed`` (km/h). There is no networkx detour: the engine's CSR matrix is built from the
arrays with numpy, and speed variants only make a new weight array (the graph is never
copied). :meth:`RoadNetwork.to_networkx` gives an osmnx-style ``MultiDiGraph`` on request (every
edge a straight segment), which the networkx-based API (:mod:`geo.snapping`,
:func:`geo.network.nearest_cost`) accepts; the tests check both paths give the same costs.

:func:`road_network_from_pbf` (import it from ``geo.roadnet``) reads only the ways that touch a bounding box (the area plus a
reach buffer), keeps only the tags the filters need, and caches the arrays on disk (npz under
``settings.cache_dir / "networks"``, keyed by the file's path, size, mtime, a hash of its head
and tail, the bounding box and the network type), so a second run reuses them.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from geo import settings
from geo._graphs import CsrView, check_network_type
from geo.errors import DataError, DataNotFoundError, NetworkError
from geo.network import keep_way, metric_crs_for
from geo.speeds import SpeedProfile, load_profile, parse_maxspeed

log = logging.getLogger(__name__)

#: Bump when the cached array layout or the reading rules change.
CACHE_VERSION = 2
#: Tags read from each way; every other tag is dropped while reading.
WAY_TAGS = ("highway", "access", "area", "foot", "service", "motor_vehicle", "motorcar",
            "sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right", "maxspeed",
            "oneway", "junction")
_ONEWAY_FWD = frozenset({"yes", "true", "1"})
_ONEWAY_REV = frozenset({"-1", "reverse"})



class _Shape(NamedTuple):
    """A network's street-shape arrays (see :class:`RoadNetwork`), all present."""

    edge_piece: np.ndarray
    edge_rev: np.ndarray
    seg_x0: np.ndarray
    seg_y0: np.ndarray
    seg_x1: np.ndarray
    seg_y1: np.ndarray
    seg_piece: np.ndarray
    seg_off_m: np.ndarray


@dataclass
class RoadNetwork:
    """A walk or drive network as arrays.

    Nodes (``n``): ``node_id`` (OSM id, int64), ``x``/``y`` (metres in ``crs``),
    ``junction`` (True for ``highway=motorway_junction`` nodes).
    Directed edges (``m``): ``tail``/``head`` (node positions, int32), ``length_m`` (float64),
    ``highway`` (int16 code into ``highway_classes``), ``maxspeed_kph`` (float32, NaN when
    absent/unparsable), ``twin`` (position of the opposite edge of a two-way segment, -1 for
    one-way).
    """

    node_id: np.ndarray
    x: np.ndarray
    y: np.ndarray
    junction: np.ndarray
    tail: np.ndarray
    head: np.ndarray
    length_m: np.ndarray
    highway: np.ndarray
    maxspeed_kph: np.ndarray
    twin: np.ndarray
    highway_classes: tuple[str, ...]
    crs: str
    network_type: str
    source: str = ""
    # street shape (for snapping and to_networkx): each edge is a piece of a way between graph
    # nodes; ``edge_piece``/``edge_rev`` say which piece and whether the edge runs against it;
    # segments (straight, metres in ``crs``) carry their piece and offset along it
    edge_piece: np.ndarray | None = None
    edge_rev: np.ndarray | None = None
    seg_x0: np.ndarray | None = None
    seg_y0: np.ndarray | None = None
    seg_x1: np.ndarray | None = None
    seg_y1: np.ndarray | None = None
    seg_piece: np.ndarray | None = None
    seg_off_m: np.ndarray | None = None
    # per node: the ``ref`` (else ``name``) of a motorway_junction node, "" for none
    junction_name: np.ndarray | None = None
    _weights: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _csr: dict[tuple[str, bool], Any] = field(default_factory=dict, repr=False)
    _tree: Any = field(default=None, repr=False)
    _order: Any = field(default=None, repr=False)
    _snaps: dict[tuple[str, float], dict] = field(default_factory=dict, repr=False)

    @property
    def n_nodes(self) -> int:
        return len(self.node_id)

    @property
    def n_edges(self) -> int:
        return len(self.tail)

    # ---------------------------------------------------------------- weights and CSR
    def travel_time_s(self, profile: str | Path | SpeedProfile = "drive") -> np.ndarray:
        """Edge travel times in seconds under ``profile`` (cached per profile name): class
        speed, or a parsable ``maxspeed`` when the profile lets it win, times speed_factor."""
        prof = profile if isinstance(profile, SpeedProfile) else load_profile(profile)
        key = f"travel_time:{prof.name}:{prof.path}:{prof.speed_factor}"
        w = self._weights.get(key)
        if w is None:
            cls = np.array([prof.highway_kph.get(h, prof.default_kph)
                            for h in self.highway_classes], dtype=float)
            speed = cls[self.highway] if len(cls) else np.full(self.n_edges, prof.default_kph)
            if prof.maxspeed_wins:
                speed = np.where(np.isnan(self.maxspeed_kph), speed, self.maxspeed_kph)
            speed = speed * prof.speed_factor
            w = self.length_m / (speed / 3.6)
            self._weights[key] = w
        return w

    def weight(self, weight: str | SpeedProfile | np.ndarray = "length"
               ) -> tuple[str, np.ndarray]:
        """``(key, per-edge array)`` for a weight: ``"length"`` (metres), ``"travel_time"``
        (seconds, drive profile), ``"travel_time:<profile>"`` (seconds, a profile name or TOML
        path), a loaded :class:`~geo.network.SpeedProfile` (seconds; cached per profile) or an
        explicit array of edge costs (validated, not cached)."""
        if isinstance(weight, SpeedProfile):
            prof = weight
            return (f"travel_time:{prof.name}:{prof.path}:{prof.speed_factor}",
                    self.travel_time_s(prof))
        if isinstance(weight, str):
            if weight in ("length", "length_m"):
                return "length", self.length_m
            if weight in ("travel_time", "travel_time_s"):
                weight = "travel_time:drive"
            if weight.startswith("travel_time:"):
                return weight, self.travel_time_s(weight.split(":", 1)[1])
            raise NetworkError(f"weight {weight!r}: use 'length', 'travel_time', "
                               f"'travel_time:<profile>' or an array of {self.n_edges} costs")
        w = np.asarray(weight, dtype=float)
        if w.shape != (self.n_edges,):
            raise NetworkError(f"weight array has shape {w.shape}, expected ({self.n_edges},)")
        if not (np.isfinite(w).all() and (w >= 0).all()):
            raise NetworkError("weight array must be finite and >= 0 on every edge")
        return "", w

    def csr(self, weight: str | np.ndarray = "length", *, reverse: bool = False,
            speed_scale: float = 1.0) -> Any:
        """scipy CSR matrix (parallel edges kept at their smallest weight, self-loops
        dropped), transposed for ``reverse``. Named weights are cached; ``speed_scale`` (a
        speed variant: every speed times this factor) divides the cached matrix's data and
        shares its index arrays, so a variant copies neither the graph nor its structure."""
        from scipy.sparse import csr_array

        if not (speed_scale > 0 and np.isfinite(speed_scale)):
            raise NetworkError(f"speed_scale must be a positive number, got {speed_scale!r}")
        key, w = self.weight(weight)
        base = self._csr.get((key, reverse)) if key else None
        if base is None:
            a, b = (self.head, self.tail) if reverse else (self.tail, self.head)
            keep = a != b
            a, b, w2 = a[keep], b[keep], w[keep]
            order = np.lexsort((w2, b, a))
            a, b, w2 = a[order], b[order], w2[order]
            first = np.r_[True, (a[1:] != a[:-1]) | (b[1:] != b[:-1])]
            a, b, w2 = a[first], b[first], w2[first]
            n = self.n_nodes
            indptr = np.zeros(n + 1, dtype=np.int32)
            np.cumsum(np.bincount(a, minlength=n), out=indptr[1:])
            base = csr_array((w2, b.astype(np.int32), indptr), shape=(n, n))
            if key:
                self._csr[(key, reverse)] = base
        if speed_scale == 1.0:
            return base
        return csr_array((base.data / speed_scale, base.indices, base.indptr),
                         shape=base.shape, copy=False)

    def positions(self, node_ids: Any) -> np.ndarray:
        """Node positions of OSM ``node_ids``; NetworkError naming unknown ids."""
        ids = np.atleast_1d(np.asarray(node_ids, dtype=np.int64))
        if self._order is None:
            self._order = np.argsort(self.node_id, kind="stable")
        order = self._order
        at = np.searchsorted(self.node_id, ids, sorter=order)
        at = np.clip(at, 0, self.n_nodes - 1)
        pos = order[at]
        bad = self.node_id[pos] != ids
        if bad.any():
            raise NetworkError(f"{int(bad.sum())} node id(s) not in the network, e.g. "
                               f"{ids[bad][:5].tolist()}; snap points to it first")
        return pos

    def nearest_cost(self, sources: Any, *, weight: str | np.ndarray = "length",
                     cutoff: float | None = None, reverse: bool = False,
                     speed_scale: float = 1.0) -> np.ndarray:
        """Cost (weight units: metres for length, seconds for travel times) between every node
        (position order) and its nearest source node (OSM ids); ``inf`` if unreachable or above
        ``cutoff``. ``reverse``: from each node TO its nearest source along edge directions.
        ``speed_scale``: speed variant (travel times divided by it; the graph is shared)."""
        from scipy.sparse.csgraph import dijkstra

        idx = np.unique(self.positions(sources))
        limit = np.inf if cutoff is None else float(cutoff)
        mat = self.csr(weight, reverse=reverse, speed_scale=speed_scale)
        return dijkstra(mat, directed=True, indices=idx,
                        min_only=True, limit=limit)

    # ---------------------------------------------------------------- snapping
    def _shape(self) -> _Shape:
        """The street-shape arrays, built as segments of straight edges when the network was
        built without shapes."""
        if self.seg_piece is not None:
            return self._shape_arrays()
        # one piece per undirected segment: forward edges, and reverse edges without a twin
        e = np.arange(self.n_edges)
        rep = (self.twin < 0) | (e < self.twin)
        self.edge_piece = np.empty(self.n_edges, np.int64)
        self.edge_rev = np.zeros(self.n_edges, bool)
        pieces = np.flatnonzero(rep)
        self.edge_piece[pieces] = np.arange(len(pieces))
        tw = ~rep
        self.edge_piece[tw] = self.edge_piece[self.twin[tw]]
        self.edge_rev[tw] = True
        t, h = self.tail[pieces], self.head[pieces]
        self.seg_x0, self.seg_y0, self.seg_x1, self.seg_y1 = (self.x[t], self.y[t], self.x[h],
                                                              self.y[h])
        self.seg_piece = np.arange(len(pieces))
        self.seg_off_m = np.zeros(len(pieces))
        return self._shape_arrays()

    def _shape_arrays(self) -> _Shape:
        assert self.edge_piece is not None and self.edge_rev is not None
        assert self.seg_x0 is not None and self.seg_y0 is not None
        assert self.seg_x1 is not None and self.seg_y1 is not None
        assert self.seg_piece is not None and self.seg_off_m is not None
        return _Shape(self.edge_piece, self.edge_rev, self.seg_x0, self.seg_y0, self.seg_x1,
                      self.seg_y1, self.seg_piece, self.seg_off_m)

    def _pieces(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per piece: its edge along the piece (-1 if none), its edge against it, shape length
        in metres (``crs``)."""
        sh = self._shape()
        n_p = int(sh.seg_piece.max()) + 1 if len(sh.seg_piece) else 0
        along = np.full(n_p, -1, np.int64)
        against = np.full(n_p, -1, np.int64)
        e = np.arange(self.n_edges)
        along[sh.edge_piece[~sh.edge_rev]] = e[~sh.edge_rev]
        against[sh.edge_piece[sh.edge_rev]] = e[sh.edge_rev]
        seg_m = np.hypot(sh.seg_x1 - sh.seg_x0, sh.seg_y1 - sh.seg_y0)
        geom_m = np.bincount(sh.seg_piece, weights=seg_m, minlength=n_p)
        return along, against, geom_m

    def snap(self, x: np.ndarray, y: np.ndarray, *, max_snap_m: float = 300.0) -> dict:
        """Snap points (metres, ``crs``) to the nearest street segment.

        Returns arrays: ``edge`` (edge position; the edge along the street's drawing
        direction when it exists), ``frac`` (0-1 along that edge from its tail, by shape
        length), ``dist_m`` (off-network leg), ``on_network`` (``dist_m <= max_snap_m``).
        """

        x, y = np.asarray(x, float), np.asarray(y, float)
        # the demand cells are snapped once per facility set and claim: remember the last few
        key = (hashlib.sha1(x.tobytes() + b"|" + y.tobytes()).hexdigest(), float(max_snap_m))
        hit = self._snaps.pop(key, None)
        if hit is None:
            hit = self._snap(x, y, max_snap_m=max_snap_m)
            for a in hit.values():
                a.flags.writeable = False
        self._snaps[key] = hit
        while len(self._snaps) > 8:
            self._snaps.pop(next(iter(self._snaps)))
        return hit

    def _snap(self, x: np.ndarray, y: np.ndarray, *, max_snap_m: float) -> dict:
        import shapely

        sh = self._shape()
        if self._tree is None:
            seg = shapely.linestrings(np.stack([
                np.column_stack([sh.seg_x0, sh.seg_y0]),
                np.column_stack([sh.seg_x1, sh.seg_y1])], axis=1))
            self._tree = (shapely.STRtree(seg), self._pieces())
        tree, (along_e, against_e, geom_m) = self._tree
        x, y = np.asarray(x, float), np.asarray(y, float)
        pts = shapely.points(x, y)
        (pi, sj), dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
        # one match per point (ties: the first)
        first = np.r_[True, pi[1:] != pi[:-1]] if len(pi) else np.zeros(0, bool)
        pi, sj, dist = pi[first], sj[first], dist[first]
        n = len(pts)
        edge = np.full(n, -1, dtype=np.int64)
        d = np.full(n, np.inf)
        frac = np.full(n, np.nan)
        dx, dy = sh.seg_x1[sj] - sh.seg_x0[sj], sh.seg_y1[sj] - sh.seg_y0[sj]
        seg2 = dx * dx + dy * dy
        t = np.where(seg2 > 0, ((x[pi] - sh.seg_x0[sj]) * dx + (y[pi] - sh.seg_y0[sj]) * dy)
                     / np.where(seg2 > 0, seg2, 1), 0.0)
        t = np.clip(t, 0, 1)
        p = sh.seg_piece[sj]
        gm = geom_m[p]
        f = np.where(gm > 0, np.clip((sh.seg_off_m[sj] + t * np.sqrt(seg2))
                                     / np.where(gm > 0, gm, 1), 0, 1), 0.0)
        use_along = along_e[p] >= 0
        edge[pi] = np.where(use_along, along_e[p], against_e[p])
        frac[pi] = np.where(use_along, f, 1.0 - f)
        d[pi] = dist
        on = (edge >= 0) & (d <= max_snap_m)
        return {"edge": edge, "frac": frac, "dist_m": d, "on_network": on}

    # ---------------------------------------------------------------- conversion
    def to_networkx(self) -> Any:
        """osmnx-style ``MultiDiGraph`` (node ``x``/``y``, edge ``length``/``highway``/
        ``maxspeed``, ``graph['crs']``), for users and the networkx-based API."""
        import networkx as nx

        G = nx.MultiDiGraph(crs=self.crs, network_type=self.network_type, source=self.source)
        G.add_nodes_from(
            (int(i), {"x": float(a), "y": float(b), **({"highway": "motorway_junction"}
                                                       if j else {}),
                      **({"ref": str(r)} if j and r else {})})
            for i, a, b, j, r in zip(self.node_id, self.x, self.y, self.junction,
                                     self._arrays()["junction_name"], strict=True))
        import shapely

        sh = self._shape()
        geoms = self.piece_lines()
        ids = self.node_id
        for e in range(self.n_edges):
            g = geoms[sh.edge_piece[e]]
            d = {"length": float(self.length_m[e]),
                 "highway": self.highway_classes[self.highway[e]],
                 "geometry": shapely.reverse(g) if sh.edge_rev[e] else g}
            if not np.isnan(self.maxspeed_kph[e]):
                d["maxspeed"] = str(float(self.maxspeed_kph[e]))
            G.add_edge(int(ids[self.tail[e]]), int(ids[self.head[e]]), **d)
        return G

    def piece_lines(self) -> np.ndarray:
        """The street shape of every piece (a stretch of way between graph nodes, each once
        whatever its directions) as shapely LineStrings in ``crs``, in piece order; an edge's
        shape is ``piece_lines()[edge_piece[e]]`` (reversed when ``edge_rev[e]``)."""
        import shapely

        sh = self._shape()
        coords = np.concatenate([np.column_stack([sh.seg_x0, sh.seg_y0]),
                                 np.column_stack([sh.seg_x1, sh.seg_y1])])
        order = np.lexsort((np.r_[np.zeros(len(sh.seg_x0)), np.ones(len(sh.seg_x0))],
                            np.r_[sh.seg_off_m, sh.seg_off_m],
                            np.r_[sh.seg_piece, sh.seg_piece]))
        coords, piece = coords[order], np.r_[sh.seg_piece, sh.seg_piece][order]
        # drop the repeated vertex where one segment ends and the next begins
        keep = np.r_[True, (piece[1:] != piece[:-1]) | (np.abs(np.diff(coords, axis=0)).sum(
            axis=1) > 0)]
        return shapely.linestrings(coords[keep], indices=piece[keep])

    def piece_highway(self) -> np.ndarray:
        """The highway class (text) of every piece, from an edge along or against it."""
        sh = self._shape()
        n_p = int(sh.seg_piece.max()) + 1 if len(sh.seg_piece) else 0
        edge = np.full(n_p, -1, np.int64)
        edge[sh.edge_piece] = np.arange(self.n_edges)
        cls = np.asarray(self.highway_classes, dtype=object)
        return cls[self.highway[edge]] if n_p else np.array([], dtype=object)

    def _arrays(self) -> dict[str, np.ndarray]:
        self._shape()
        if self.junction_name is None:
            self.junction_name = np.full(self.n_nodes, "", dtype=str)
        return {k: getattr(self, k) for k in (
            "node_id", "x", "y", "junction", "tail", "head", "length_m", "highway",
            "maxspeed_kph", "twin", "edge_piece", "edge_rev", "seg_x0", "seg_y0", "seg_x1",
            "seg_y1", "seg_piece", "seg_off_m", "junction_name")}


# ------------------------------------------------------------------------------------------
# Reading
# ------------------------------------------------------------------------------------------

def _great_circle_m(lon1: np.ndarray, lat1: np.ndarray, lon2: np.ndarray,
                    lat2: np.ndarray) -> np.ndarray:
    """Haversine distance in metres (earth radius 6,371,009 m, as osmnx and pyrosm)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = (np.sin((p2 - p1) / 2) ** 2
         + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2)
    return 2 * 6_371_009.0 * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def _file_key(path: Path, bbox: tuple[float, ...] | None, network_type: str) -> str:
    st = path.stat()
    h = hashlib.sha256()
    with path.open("rb") as f:
        h.update(f.read(1 << 20))
        if st.st_size > 1 << 20:
            f.seek(max(st.st_size - (1 << 20), 0))
            h.update(f.read(1 << 20))
    h.update(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{bbox}|{network_type}|"
             f"{CACHE_VERSION}".encode())
    return h.hexdigest()[:24]


def road_network_from_pbf(path: str | Path, network_type: str = "walk", *,
                          bbox: tuple[float, float, float, float] | None = None,
                          to_crs: str | None = None, cache: bool = True) -> RoadNetwork:
    """Read a walk or drive :class:`RoadNetwork` from an OSM PBF (pyosmium, no networkx).

    Parameters
    ----------
    path : OSM ``.pbf`` (or ``.osm``) file.
    network_type : ``"walk"`` (two-way, no motorways) or ``"drive"`` (one-way respected);
        the way filter is :func:`geo.network.keep_way` (osmnx's).
    bbox : ``(lon_min, lat_min, lon_max, lat_max)`` degrees; only ways with a node inside are
        kept (pass the area's bounds plus the reach buffer).
    to_crs : metric CRS; default :func:`geo.network.metric_crs_for` the nodes' median.
    cache : reuse / write the npz cache under ``settings.cache_dir / "networks"``.
    """
    return road_networks_from_pbf(path, (network_type,), bbox=bbox, to_crs=to_crs,
                                  cache=cache)[network_type]


def road_networks_from_pbf(path: str | Path, network_types: tuple[str, ...] = ("walk", "drive"),
                           *, bbox: tuple[float, float, float, float] | None = None,
                           to_crs: str | None = None,
                           cache: bool = True) -> dict[str, RoadNetwork]:
    """Several network types from ONE pass over the PBF (those not already cached); same
    parameters as :func:`road_network_from_pbf`. Returns ``{network_type: RoadNetwork}``."""
    for nt in network_types:
        check_network_type(nt)
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"path {path} (OSM PBF) does not exist")
    box = tuple(float(v) for v in bbox) if bbox is not None else None
    out: dict[str, RoadNetwork] = {}
    files = {}
    for nt in network_types:
        key = _file_key(path, box, nt) + (f"-{to_crs}" if to_crs else "")
        files[nt] = Path(settings.cache_dir) / "networks" / f"{key.replace(':', '_')}.npz"
        if cache and files[nt].is_file():
            with np.load(files[nt], allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = [str(v) for v in arrays.pop("meta")]
            classes = tuple(str(v) for v in arrays.pop("highway_classes"))
            log.info("%s network from cache %s", nt, files[nt])
            out[nt] = RoadNetwork(**arrays, highway_classes=classes, crs=meta[0],
                                  network_type=meta[1], source=meta[2])
    todo = [nt for nt in network_types if nt not in out]
    if todo:
        collected = collect_highways(path, box)
        for nt in todo:
            net = read_pbf_network(path, nt, box, to_crs, collected)
            if cache:
                f = files[nt]
                f.parent.mkdir(parents=True, exist_ok=True)
                tmp = f.with_name(f.name + f".{os.getpid()}.tmp.npz")
                saved: dict[str, Any] = {
                    **net._arrays(),
                    "highway_classes": np.array(net.highway_classes, dtype=str),
                    "meta": np.array([net.crs, net.network_type, net.source], dtype=str)}
                np.savez(tmp, **saved)
                os.replace(tmp, f)
            out[nt] = net
    return {nt: out[nt] for nt in network_types}


def _junction_names(node_id: np.ndarray, is_junction: np.ndarray,
                    names: dict[int, str]) -> np.ndarray:
    """Per node: the junction's ref/name from ``names``, "" elsewhere (a str array)."""
    out = np.full(len(node_id), "", dtype=object)
    at = np.flatnonzero(is_junction)
    out[at] = [names.get(int(i), "") for i in node_id[at]]
    return out.astype(str) if len(out) else np.array([], dtype=str)


def collect_highways(path: Path, bbox: tuple[float, ...] | None) -> tuple[dict, list]:
    """One pass with pyosmium: motorway_junction node ids with their ``ref`` (else ``name``,
    else ""), and for every highway way with a node inside ``bbox``: (small tag dict, node ids,
    lons, lats)."""
    import osmium

    junctions: dict[int, str] = {}
    ways: list[tuple[dict, list[int], list[float], list[float]]] = []
    fp = osmium.FileProcessor(str(path)).with_locations()
    obj: Any  # a Node or a Way (no areas, relations or changesets are asked for)
    for obj in fp:
        tags = obj.tags
        if obj.is_node():
            if tags.get("highway") == "motorway_junction":
                junctions[obj.id] = tags.get("ref") or tags.get("name") or ""
            continue
        if not obj.is_way() or "highway" not in tags:
            continue
        ids, xs, ys = [], [], []
        for n in obj.nodes:
            loc = n.location
            if not loc.valid():
                continue
            ids.append(n.ref)
            xs.append(loc.lon)
            ys.append(loc.lat)
        if len(ids) < 2:
            continue
        if bbox is not None and not any(bbox[0] <= x <= bbox[2] and bbox[1] <= y <= bbox[3]
                                        for x, y in zip(xs, ys, strict=True)):
            continue
        ways.append(({k: tags.get(k) for k in WAY_TAGS if k in tags}, ids, xs, ys))
    return junctions, ways


def read_pbf_network(path: Path, network_type: str, bbox: tuple[float, ...] | None,
              to_crs: str | None, collected: tuple[dict, list] | None = None) -> RoadNetwork:
    """A :class:`RoadNetwork` of ``network_type`` read from the PBF (no cache): the ways
    :func:`collect_highways` finds (or ``collected``, its earlier result), projected to
    ``to_crs`` (None: the local metric CRS)."""
    from pyproj import Transformer

    junctions, ways = collected if collected is not None else collect_highways(path, bbox)
    refs: list[list[int]] = []
    lons: list[list[float]] = []
    lats: list[list[float]] = []
    hw: list[str] = []
    maxspeed: list[float] = []
    direction: list[int] = []     # 0 two-way, 1 forward one-way, -1 reverse one-way
    for small, ids, xs, ys in ways:
        if not keep_way(small, network_type):
            continue
        refs.append(ids)
        lons.append(xs)
        lats.append(ys)
        hw.append(small["highway"])
        kph = parse_maxspeed(small.get("maxspeed"))
        maxspeed.append(np.nan if kph is None else kph)
        ow = str(small.get("oneway", "")).lower()
        d = 0
        if network_type == "drive":
            if ow in _ONEWAY_FWD or (small.get("junction") == "roundabout" and ow != "no"):
                d = 1
            elif ow in _ONEWAY_REV:
                d = -1
        direction.append(d)
    if not refs:
        raise DataError(f"path {path} holds no ways usable for network_type={network_type!r}"
                        + (f" inside bbox {bbox}" if bbox else ""))
    lens = np.fromiter(map(len, refs), dtype=np.int64, count=len(refs))
    flat_id = np.fromiter((i for r in refs for i in r), dtype=np.int64, count=int(lens.sum()))
    flat_lon = np.fromiter((v for r in lons for v in r), dtype=float, count=len(flat_id))
    flat_lat = np.fromiter((v for r in lats for v in r), dtype=float, count=len(flat_id))
    del refs, lons, lats
    uniq, first, inv = np.unique(flat_id, return_index=True, return_inverse=True)
    lon, lat = flat_lon[first], flat_lat[first]
    crs = to_crs or metric_crs_for(float(np.median(lon)), float(np.median(lat)))
    px, py = Transformer.from_crs(settings.geographic_crs, crs, always_xy=True).transform(lon,
                                                                                        lat)
    px, py = np.asarray(px, float), np.asarray(py, float)
    is_junction = np.isin(uniq, np.fromiter(junctions, np.int64, len(junctions)))
    # graph nodes (as osmnx's simplification): way ends, nodes used twice or more (shared by
    # ways or a way touching itself) and motorway junctions; the rest only shape the streets
    way_of = np.repeat(np.arange(len(lens)), lens)
    starts = np.r_[0, np.cumsum(lens)[:-1]]
    ends = starts + lens - 1
    keep_node = (np.bincount(inv, minlength=len(uniq)) >= 2) | is_junction
    keep_node[inv[starts]] = True
    keep_node[inv[ends]] = True
    # segments: consecutive refs inside a way; a piece starts at every kept node but a way end
    same = way_of[1:] == way_of[:-1]
    seg_pos = np.flatnonzero(same)                  # flat position of each segment's start
    a, b = inv[seg_pos], inv[seg_pos + 1]
    seg_len = _great_circle_m(lon[a], lat[a], lon[b], lat[b])
    seg_m = np.hypot(px[b] - px[a], py[b] - py[a])
    starts_piece = keep_node[a]
    piece = np.cumsum(starts_piece) - 1
    n_p = int(piece[-1]) + 1 if len(piece) else 0
    p_first = np.flatnonzero(starts_piece)
    p_last = np.r_[p_first[1:], len(piece)] - 1
    p_tail, p_head = a[p_first], b[p_last]
    p_len = np.bincount(piece, weights=seg_len, minlength=n_p)
    cum = np.cumsum(seg_m) - seg_m
    seg_off = cum - cum[p_first][piece]
    p_way = way_of[seg_pos][p_first]
    classes, hw_code = np.unique(np.asarray(hw, dtype=object).astype(str), return_inverse=True)
    p_dir = np.asarray(direction, dtype=np.int8)[p_way]
    ms = np.asarray(maxspeed, dtype=np.float32)[p_way]
    code = hw_code.astype(np.int16)[p_way]
    # graph node numbering
    node_pos = np.cumsum(keep_node) - 1
    a_n, b_n = node_pos[p_tail].astype(np.int32), node_pos[p_head].astype(np.int32)
    # directed edges: along the piece for 0/1, against it for 0/-1; two-way twins adjacent
    fwd, bwd = p_dir >= 0, p_dir <= 0
    tail = np.empty(2 * n_p, np.int32)
    head = np.empty(2 * n_p, np.int32)
    tail[0::2], head[0::2], tail[1::2], head[1::2] = a_n, b_n, b_n, a_n
    keep = np.empty(2 * n_p, bool)
    keep[0::2], keep[1::2] = fwd, bwd
    rep = np.repeat(np.arange(n_p), 2)
    rev = np.tile(np.array([False, True]), n_p)
    twin_full = np.arange(2 * n_p) ^ 1
    new_pos = np.cumsum(keep) - 1
    twin = np.where(keep[twin_full], new_pos[twin_full], -1)[keep].astype(np.int64)
    net = RoadNetwork(
        node_id=uniq[keep_node], x=px[keep_node], y=py[keep_node],
        junction=is_junction[keep_node], tail=tail[keep], head=head[keep],
        length_m=p_len[rep][keep], highway=code[rep][keep], maxspeed_kph=ms[rep][keep],
        twin=twin, highway_classes=tuple(str(c) for c in classes), crs=str(crs),
        network_type=network_type, source=f"OSM PBF {path.name}",
        edge_piece=rep[keep].astype(np.int64), edge_rev=rev[keep], seg_x0=px[a], seg_y0=py[a],
        seg_x1=px[b], seg_y1=py[b], seg_piece=piece.astype(np.int64), seg_off_m=seg_off,
        junction_name=_junction_names(uniq[keep_node], is_junction[keep_node], junctions))
    log.info("%s network from %s: %d nodes, %d edges (arrays)", network_type, path.name,
             net.n_nodes, net.n_edges)
    return net


# ------------------------------------------------------------------------------------------
# Point-to-point costs (geo.snapping semantics on arrays)
# ------------------------------------------------------------------------------------------

def edge_placements(net: RoadNetwork, snap: dict, w: np.ndarray) -> Any:
    """Directed placements (``point, tail, head, key, pos, w``) of on-network snapped points:
    one row on the snapped edge, one on its twin for two-way streets (pos mirrored)."""
    import pandas as pd

    from geo.snapping import END_TOLERANCE

    pt = np.flatnonzero(snap["on_network"])
    e = snap["edge"][pt]
    f = snap["frac"][pt]
    f = np.where(f < END_TOLERANCE, 0.0, np.where(f > 1 - END_TOLERANCE, 1.0, f))
    tw = net.twin[e]
    has = tw >= 0
    return pd.DataFrame({
        "point": np.r_[pt, pt[has]],
        "tail": np.r_[net.tail[e], net.tail[tw[has]]].astype(np.int64),
        "head": np.r_[net.head[e], net.head[tw[has]]].astype(np.int64),
        "key": np.r_[e, tw[has]],
        "pos": np.r_[f, 1.0 - f[has]],
        "w": np.r_[w[e], w[tw[has]]]})


def point_costs(net: RoadNetwork, sources_xy: np.ndarray, targets_xy: np.ndarray, *,
                weight: str | np.ndarray = "length", cutoff: float | None = None,
                reverse: bool = False, max_snap_m: float = 300.0,
                offnet_speed_kph: float | None = None, source_leg: bool = True,
                offnet_weight: str | None = None,
                speed_scale: float = 1.0) -> dict[str, np.ndarray]:
    """:func:`geo.snapping.point_costs` on a :class:`RoadNetwork` with (x, y) arrays in
    ``net.crs`` (metres). Points snap to the nearest edge; the off-network legs are metres for
    lengths, seconds at ``offnet_speed_kph`` (default: the walk profile) for travel times
    (``offnet_weight`` says which when ``weight`` is an array; default ``travel_time`` then).
    ``speed_scale`` is a speed variant of the network (edge costs divided by it; the off-network
    walk keeps its speed).

    Returns arrays ``cost`` (weight units; ``inf`` unreachable, off-network or above
    ``cutoff``), ``source`` (row of the nearest source, -1 if none), ``snap_dist_m``,
    ``on_network``.
    """
    import pandas as pd

    from geo.snapping import offnet_cost, reach_targets, search_from_points

    kind = offnet_weight or (weight if isinstance(weight, str) else "travel_time")
    kind = "length" if kind in ("length", "length_m") else "travel_time"
    _, w = net.weight(weight)
    w = w / speed_scale
    sxy, txy = np.asarray(sources_xy, float).reshape(-1, 2), np.asarray(targets_xy,
                                                                        float).reshape(-1, 2)
    s_snap = net.snap(sxy[:, 0], sxy[:, 1], max_snap_m=max_snap_m)
    t_snap = net.snap(txy[:, 0], txy[:, 1], max_snap_m=max_snap_m)
    s_leg = offnet_cost(s_snap["dist_m"], kind, offnet_speed_kph)
    if not source_leg:
        s_leg = np.zeros_like(s_leg)
    t_leg = offnet_cost(t_snap["dist_m"], kind, offnet_speed_kph)
    sp = edge_placements(net, s_snap, w)
    tp = edge_placements(net, t_snap, w)
    n_t = len(txy)
    cost = np.full(n_t, np.inf)
    best = np.full(n_t, -1, dtype=np.int64)
    limit = np.inf if cutoff is None else float(cutoff)
    if len(sp):
        view = CsrView(nodes=np.empty(net.n_nodes), pos=pd.Series(np.arange(net.n_nodes)),
                        matrix=net.csr(weight, speed_scale=speed_scale),
                        transposed=net.csr(weight, reverse=True, speed_scale=speed_scale))
        dist, src = search_from_points(view, sp, s_leg, len(sxy), reverse=reverse, limit=limit)
        if len(tp):
            pts, c, srcs = reach_targets(dist, src, tp, sp, s_leg, tp["tail"].to_numpy(),
                                         tp["head"].to_numpy(), same_on=["key"],
                                         reverse=reverse)
            cost[pts] = c
            best[pts] = srcs
    cost = cost + t_leg
    cost[~t_snap["on_network"]] = np.inf
    cost[cost > limit] = np.inf
    best[~np.isfinite(cost)] = -1
    return {"cost": cost, "source": best, "snap_dist_m": t_snap["dist_m"],
            "on_network": t_snap["on_network"]}


def expressway_entrances(net: RoadNetwork, *,
                         link_classes: tuple[str, ...] = ("motorway_link", "trunk_link"),
                         expressway_classes: tuple[str, ...] = ("motorway", "trunk",
                                                                "motorway_link",
                                                                "trunk_link")) -> dict:
    """Entrance nodes, as :func:`geo.facilities.expressway_entrances`: ``motorway_junction``
    nodes, and nodes where a link road meets a class outside ``expressway_classes``.

    Returns arrays ``node`` (positions), ``reason`` ("motorway_junction" /
    "link_meets_lower_road"), ``onto_link`` (an edge of a link road leaves the node).
    """
    cls = np.asarray(net.highway_classes, dtype=object)
    is_link = np.isin(cls, list(link_classes))[net.highway]
    is_lower = ~np.isin(cls, list(expressway_classes))[net.highway]
    n = net.n_nodes

    def touch(mask: np.ndarray) -> np.ndarray:
        out = np.zeros(n, bool)
        out[net.tail[mask]] = True
        out[net.head[mask]] = True
        return out

    link_meets = touch(is_link) & touch(is_lower)
    onto = np.zeros(n, bool)
    onto[net.tail[is_link]] = True
    node = np.flatnonzero(net.junction | link_meets)
    reason = np.where(net.junction[node], "motorway_junction", "link_meets_lower_road")
    return {"node": node, "reason": reason, "onto_link": onto[node]}
