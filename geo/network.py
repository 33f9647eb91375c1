"""Walk and drive street networks, speed profiles and the fast multi-source shortest-path engine.

Graphs are osmnx-style ``networkx.MultiDiGraph`` objects: ``G.graph["crs"]``, node ``x``/``y``
in that CRS, edge ``length`` (metres), ``highway``, and after :func:`add_speeds` ``speed_kph``
(km/h) and ``travel_time`` (seconds). Builders project to a metric CRS (EPSG:32650 for Beijing,
the local UTM zone elsewhere) so that snapping and buffers work in metres.

Sources of roads, one builder each:

- :func:`graph_from_pbf` - an OSM ``.pbf`` file (pyrosm);
- :func:`graph_from_xml` - an OSM XML file (osmnx);
- :func:`graph_from_overpass` - the Overpass API (osmnx; refused when ``settings.offline``);
- :func:`graph_from_roads` - a Geofabrik ``gis_osm_roads_free_1`` layer (lines split at shared
  vertices, ``oneway`` F/T/B).

Network types follow osmnx: ``"walk"`` drops motorways, cycleways and private/foot=no ways and
makes every edge two-way; ``"drive"`` drops footways, paths, tracks, service roads and
motor_vehicle=no ways and respects one-way streets.

The engine, :func:`nearest_cost`, builds CSR arrays once per graph and weight and runs
``scipy.sparse.csgraph.dijkstra(min_only=True)``.
"""

from __future__ import annotations

import logging
import math
import re
import tomllib
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo import settings
from geo.errors import CRSError, DataError, DataNotFoundError, NetworkError, OfflineError

log = logging.getLogger(__name__)

NETWORK_TYPES = ("walk", "drive")

# osmnx 2.x ``_overpass._get_network_filter``: highway values each network type excludes.
# (osmnx writes them as unanchored Overpass regexes; ``motor`` there means motorway and
# motorway_link.) Geofabrik-only classes are added where they carry the same meaning: ``busway``
# (bus-only, motor_vehicle=no) and ``track_grade1..5`` (tracks).
WALK_EXCLUDED_HIGHWAY = frozenset({
    "abandoned", "bus_guideway", "construction", "cycleway", "motorway", "motorway_link", "no",
    "planned", "platform", "proposed", "raceway", "razed", "rest_area", "services",
})
DRIVE_EXCLUDED_HIGHWAY = frozenset({
    "abandoned", "bridleway", "bus_guideway", "construction", "corridor", "cycleway",
    "elevator", "escalator", "footway", "no", "path", "pedestrian", "planned", "platform",
    "proposed", "raceway", "razed", "rest_area", "service", "services", "steps", "track",
    "busway", "track_grade1", "track_grade2", "track_grade3", "track_grade4", "track_grade5",
    # not an OSM road value; pyrosm's bundled Helsinki extract uses it on footpaths
    "trail",
})
# osmnx drive filter: ["service"!~"alley|driveway|emergency_access|parking|parking_aisle|private"]
DRIVE_EXCLUDED_SERVICE = frozenset({
    "alley", "driveway", "emergency_access", "parking", "parking_aisle", "private",
})


def _check_network_type(network_type: str) -> str:
    if network_type not in NETWORK_TYPES:
        raise NetworkError(f"network_type must be one of {NETWORK_TYPES}, got {network_type!r}")
    return network_type


def _tag(row: Any, name: str) -> str:
    value = row.get(name) if hasattr(row, "get") else None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def keep_way(tags: dict[str, Any], network_type: str) -> bool:
    """Whether a way with these OSM tags belongs to the osmnx-style ``network_type``.

    Mirrors osmnx's Overpass filters (``access!~private``, ``area!~yes``; walk: ``foot!~no``,
    ``service!~private``, no separately mapped sidewalks; drive: ``motor_vehicle/motorcar!~no``
    and the excluded ``service`` values) with anchored matches on ``highway``.
    """
    highway = _tag(tags, "highway")
    if not highway or _tag(tags, "area") == "yes" or _tag(tags, "access") == "private":
        return False
    if network_type == "walk":
        if highway in WALK_EXCLUDED_HIGHWAY or _tag(tags, "foot") == "no":
            return False
        if _tag(tags, "service") == "private":
            return False
        sidewalks = ("sidewalk", "sidewalk:both", "sidewalk:left", "sidewalk:right")
        return not any(_tag(tags, k) == "separate" for k in sidewalks)
    if highway in DRIVE_EXCLUDED_HIGHWAY:
        return False
    if _tag(tags, "motor_vehicle") == "no" or _tag(tags, "motorcar") == "no":
        return False
    return _tag(tags, "service") not in DRIVE_EXCLUDED_SERVICE


# --------------------------------------------------------------------------------------------
# CRS helpers
# --------------------------------------------------------------------------------------------

def metric_crs_for(lon: float, lat: float) -> str:
    """The metric CRS for data around (``lon``, ``lat``) in degrees.

    ``settings.metric_crs`` (EPSG:32650, UTM 50N) inside its zone (114-120 deg E, northern
    hemisphere), which covers Beijing; the local UTM zone elsewhere (e.g. the Helsinki test
    data), so that lengths are not distorted by a far-away zone.
    """
    if 114.0 <= lon < 120.0 and lat >= 0:
        return settings.metric_crs
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def is_projected(crs: Any) -> bool:
    """True when ``crs`` is a projected CRS (coordinates in metres or feet, not degrees)."""
    from pyproj import CRS

    return crs is not None and CRS.from_user_input(crs).is_projected


def require_projected(G: Any, *, arg: str = "G") -> str:
    """Return ``G.graph['crs']``; raise :class:`CRSError` unless it is projected (metres)."""
    crs = G.graph.get("crs") if hasattr(G, "graph") else None
    if crs is None:
        raise CRSError(f"{arg} has no graph['crs']; build it with geo.network builders or set "
                       f"{arg}.graph['crs']")
    if not is_projected(crs):
        raise CRSError(f"{arg} is in a geographic CRS ({crs}, degrees) but metres are needed: "
                       f"project it first, e.g. geo.network.project_graph({arg})")
    return str(crs)


def project_graph(G: Any, to_crs: str | None = None) -> Any:
    """Project an osmnx-style graph to ``to_crs`` (default: :func:`metric_crs_for` its centre)."""
    import osmnx as ox

    if to_crs is None:
        from pyproj import CRS, Transformer

        xs = np.fromiter((d["x"] for _, d in G.nodes(data=True)), float)
        ys = np.fromiter((d["y"] for _, d in G.nodes(data=True)), float)
        x, y = float(np.median(xs)), float(np.median(ys))
        crs = CRS.from_user_input(G.graph.get("crs", settings.geographic_crs))
        if crs.is_projected:
            x, y = Transformer.from_crs(crs, settings.geographic_crs, always_xy=True).transform(x, y)
        to_crs = metric_crs_for(x, y)
    out = ox.project_graph(G, to_crs=to_crs)
    clear_cache(out)
    return out


# --------------------------------------------------------------------------------------------
# Builders
# --------------------------------------------------------------------------------------------

def _finish(G: Any, network_type: str, source: str, to_crs: str | None, project: bool) -> Any:
    G.graph["network_type"] = network_type
    G.graph["source"] = source
    if project and G.number_of_nodes():
        G = project_graph(G, to_crs)
        G.graph["network_type"] = network_type
        G.graph["source"] = source
    log.info("%s network from %s: %d nodes, %d edges", network_type, source,
             G.number_of_nodes(), G.number_of_edges())
    return G


def graph_from_pbf(path: str | Path, network_type: str = "walk", *,
                   bounding_box: Any = None, to_crs: str | None = None,
                   project: bool = True) -> Any:
    """Build a walk or drive graph from an OSM PBF file with pyrosm.

    Parameters
    ----------
    path : OSM ``.pbf`` file.
    network_type : ``"walk"`` (two-way, no motorways) or ``"drive"`` (one-way respected).
    bounding_box : optional shapely polygon or ``[minx, miny, maxx, maxy]`` (degrees).
    to_crs : CRS to project to; default :func:`metric_crs_for` the graph's centre.
    project : set False to keep WGS84 node coordinates.
    """
    import pyrosm

    _check_network_type(network_type)
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"path {path} (OSM PBF) does not exist")
    osm = pyrosm.OSM(str(path), bounding_box=bounding_box)
    tags = ["access", "area", "foot", "service", "motor_vehicle", "motorcar", "sidewalk",
            "sidewalk:both", "sidewalk:left", "sidewalk:right", "maxspeed", "ref"]
    nodes, edges = osm.get_network(network_type="all", nodes=True, extra_attributes=tags)
    if edges is None or len(edges) == 0:
        raise DataError(f"path {path} holds no highway ways; cannot build a {network_type} graph")
    cols = [c for c in edges.columns if c in set(tags) | {"highway"}]
    keep = np.array([keep_way(rec, network_type)
                     for rec in edges[cols].to_dict("records")], dtype=bool)
    edges = edges.loc[keep]
    if len(edges) == 0:
        raise DataError(f"path {path} holds no ways usable for network_type={network_type!r}")
    used = pd.unique(np.concatenate([edges["u"].to_numpy(), edges["v"].to_numpy()]))
    nodes = nodes.loc[nodes["id"].isin(used)]
    G = osm.to_graph(nodes, edges, graph_type="networkx", network_type=network_type,
                     force_bidirectional=(network_type == "walk"), retain_all=True,
                     osmnx_compatible=True, progress=False)
    G.graph.setdefault("crs", settings.geographic_crs)
    return _finish(G, network_type, f"OSM PBF {path.name}", to_crs, project)


def graph_from_xml(path: str | Path, network_type: str = "walk", *, to_crs: str | None = None,
                   project: bool = True) -> Any:
    """Build a walk or drive graph from an OSM XML file with ``osmnx.graph_from_xml``.

    Ways are filtered with :func:`keep_way` before simplification; walk graphs are two-way.
    """
    import osmnx as ox

    _check_network_type(network_type)
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"path {path} (OSM XML) does not exist")
    useful = list(dict.fromkeys([*ox.settings.useful_tags_way, "access", "area", "foot",
                                 "service", "motor_vehicle", "motorcar", "sidewalk"]))
    old = ox.settings.useful_tags_way
    ox.settings.useful_tags_way = useful
    try:
        G = ox.graph_from_xml(path, bidirectional=(network_type == "walk"), simplify=False,
                              retain_all=True)
    finally:
        ox.settings.useful_tags_way = old
    drop = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True)
            if not keep_way(d, network_type)]
    G.remove_edges_from(drop)
    G.remove_nodes_from([n for n in list(G.nodes) if G.degree(n) == 0])
    if G.number_of_edges() == 0:
        raise DataError(f"path {path} holds no ways usable for network_type={network_type!r}")
    G = ox.simplify_graph(G)
    return _finish(G, network_type, f"OSM XML {path.name}", to_crs, project)


def graph_from_overpass(polygon: Any, network_type: str = "walk", *, to_crs: str | None = None,
                        project: bool = True) -> Any:
    """Download a walk or drive graph inside ``polygon`` (shapely, EPSG:4326) from Overpass.

    Raises :class:`OfflineError` when ``geo.settings.offline`` is set.
    """
    import osmnx as ox

    _check_network_type(network_type)
    if settings.offline:
        raise OfflineError("graph_from_overpass needs the Overpass API but geo.settings.offline "
                           "is set (GEO_OFFLINE=1): unset it, or pass an OSM PBF/XML file or a "
                           "Geofabrik roads layer instead")
    if polygon is None or getattr(polygon, "is_empty", True):
        raise NetworkError("polygon must be a non-empty shapely Polygon in EPSG:4326")
    G = ox.graph_from_polygon(polygon, network_type=network_type, retain_all=True)
    return _finish(G, network_type, "Overpass API (osmnx)", to_crs, project)


def graph_from_roads(roads: Any, network_type: str = "walk", *, to_crs: str | None = None,
                     project: bool = True) -> Any:
    """Build a walk or drive graph from a Geofabrik ``gis_osm_roads_free_1`` layer.

    Lines are split at every vertex shared with another line (or repeated within one), which
    is how OSM encodes junctions; endpoints become nodes too. ``oneway``: ``F`` one-way in
    digitised direction, ``T`` one-way against it, ``B`` (or empty) both ways; walk graphs are
    always two-way. ``length`` is measured in the metric CRS (metres). ``maxspeed`` 0 (Geofabrik's
    "unknown") is dropped.

    Parameters
    ----------
    roads : GeoDataFrame with ``osm_id, fclass, geometry`` (+ ``name, ref, oneway, maxspeed,
        layer, bridge, tunnel``), any CRS with a ``crs`` set.
    """
    import networkx as nx
    import shapely
    from pyproj import CRS, Transformer

    _check_network_type(network_type)
    if getattr(roads, "crs", None) is None:
        raise CRSError("roads has no CRS; set it (Geofabrik layers are EPSG:4326)")
    missing = {"fclass", "geometry"} - set(roads.columns)
    if missing:
        raise DataError(f"roads lacks columns {sorted(missing)}; expected a Geofabrik "
                        f"gis_osm_roads_free_1 layer (osm_id, fclass, oneway, maxspeed, geometry)")
    roads = roads.loc[~roads.geometry.isna() & ~roads.geometry.is_empty]
    fclass = roads["fclass"].astype(str)
    excluded = WALK_EXCLUDED_HIGHWAY if network_type == "walk" else DRIVE_EXCLUDED_HIGHWAY
    roads = roads.loc[~fclass.isin(excluded).to_numpy()].explode(index_parts=False)
    roads = roads.loc[roads.geom_type == "LineString"].reset_index(drop=True)
    if len(roads) == 0:
        raise DataError(f"roads holds no lines usable for network_type={network_type!r}")
    src_crs = CRS.from_user_input(roads.crs)
    geo = roads.to_crs(settings.geographic_crs) if src_crs.is_projected else roads
    lon, lat = shapely.get_coordinates(geo.geometry.values).mean(axis=0)
    crs = to_crs or metric_crs_for(float(lon), float(lat))
    if not project:
        crs = settings.geographic_crs

    coords, line_idx = shapely.get_coordinates(roads.geometry.values, return_index=True)
    _, vid, counts = np.unique(coords, axis=0, return_inverse=True, return_counts=True)
    vid = vid.ravel()
    starts = np.r_[0, np.flatnonzero(np.diff(line_idx)) + 1]
    ends = np.r_[starts[1:], len(line_idx)] - 1
    is_node = counts[vid] >= 2
    is_node[starts] = True
    is_node[ends] = True
    tr_m = Transformer.from_crs(src_crs, metric_crs_for(float(lon), float(lat)), always_xy=True)
    mx, my = tr_m.transform(coords[:, 0], coords[:, 1])
    seg = np.hypot(np.diff(mx), np.diff(my))
    cum = np.r_[0.0, np.cumsum(seg)]
    tr_out = Transformer.from_crs(src_crs, crs, always_xy=True)
    ox_, oy_ = tr_out.transform(coords[:, 0], coords[:, 1])
    out_xy = np.column_stack([ox_, oy_])

    G = nx.MultiDiGraph(crs=crs)
    node_pos = np.flatnonzero(is_node)
    first: dict[int, int] = {}
    for p in node_pos:
        first.setdefault(int(vid[p]), p)
    for n, p in sorted(first.items()):
        G.add_node(n, x=float(out_xy[p, 0]), y=float(out_xy[p, 1]))

    oneway_col = roads["oneway"].fillna("B").astype(str) if "oneway" in roads else None
    attrs_cols = [c for c in ("osm_id", "name", "ref", "maxspeed", "layer", "bridge", "tunnel")
                  if c in roads.columns]
    records = roads[attrs_cols].to_dict("records")
    for i in range(len(roads)):
        s, e = starts[i], ends[i]
        cuts = node_pos[np.searchsorted(node_pos, s):np.searchsorted(node_pos, e, "right")]
        base = {k: v for k, v in records[i].items()
                if v is not None and not (isinstance(v, float) and math.isnan(v))}
        base["highway"] = fclass_to_highway(str(roads["fclass"].iat[i]))
        if "maxspeed" in base:
            try:
                ms = float(base["maxspeed"])
            except (TypeError, ValueError):
                ms = 0.0
            if ms > 0:
                base["maxspeed"] = str(int(ms))
            else:
                del base["maxspeed"]
        ow = (oneway_col.iat[i] if oneway_col is not None else "B").strip().upper()
        if network_type == "walk" or ow not in ("F", "T"):
            ow = "B"
        for a, b in pairwise(cuts):
            u, v = int(vid[a]), int(vid[b])
            length = float(cum[b] - cum[a])
            line = shapely.LineString(out_xy[a:b + 1])
            if ow in ("F", "B"):
                G.add_edge(u, v, **base, oneway=(ow != "B"), reversed=False, length=length,
                           geometry=line)
            if ow in ("T", "B"):
                G.add_edge(v, u, **base, oneway=(ow != "B"), reversed=True, length=length,
                           geometry=line.reverse())
    G.graph["network_type"] = network_type
    G.graph["source"] = "Geofabrik roads layer"
    log.info("%s network from a roads layer: %d nodes, %d edges", network_type,
             G.number_of_nodes(), G.number_of_edges())
    return G


def fclass_to_highway(fclass: str) -> str:
    """Geofabrik road ``fclass`` to the OSM ``highway`` value (``track_grade3`` -> ``track``)."""
    if fclass.startswith("track_grade"):
        return "track"
    return {"unknown": "road"}.get(fclass, fclass)


def graph_from_osm(osm: Any, network_type: str = "walk", *, polygon: Any = None,
                   to_crs: str | None = None) -> Any:
    """Build a graph from whatever ``osm`` (a ``geo.sources.OsmData``) holds roads in.

    Order: its ``roads`` layer (Geofabrik), then its ``path`` (``.pbf`` or ``.osm``/``.xml``),
    then Overpass inside ``polygon`` unless offline. Raises :class:`DataNotFoundError` when none
    is available: there is no fallback network (the approximation engine is for that case).
    """
    layers = getattr(osm, "layers", {}) or {}
    roads = layers.get("roads")
    if roads is not None and len(roads):
        return graph_from_roads(roads, network_type, to_crs=to_crs)
    path = getattr(osm, "path", None)
    if path is not None:
        name = Path(path).name.lower()
        if name.endswith(".pbf"):
            return graph_from_pbf(path, network_type, to_crs=to_crs)
        if name.endswith((".osm", ".xml", ".osm.xml")):
            return graph_from_xml(path, network_type, to_crs=to_crs)
    if polygon is not None and not settings.offline:
        return graph_from_overpass(polygon, network_type, to_crs=to_crs)
    raise DataNotFoundError(
        f"osm ({getattr(osm, 'source', 'unknown source')}) holds no roads: add a Geofabrik "
        f"roads layer, pass an OSM PBF/XML file, or allow Overpass (unset GEO_OFFLINE)")


# --------------------------------------------------------------------------------------------
# Speed profiles
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SpeedProfile:
    """Speeds for one mode, read from a TOML file in ``geo/profiles``.

    ``highway_kph`` maps OSM highway classes to km/h; ``default_kph`` covers other classes;
    ``maxspeed_wins`` lets a parsable ``maxspeed`` tag override the class speed; every speed is
    multiplied by ``speed_factor``; ``offnet_walk_kph`` is the speed of the walk between a point
    and the network.
    """

    name: str
    default_kph: float
    highway_kph: dict[str, float] = field(default_factory=dict)
    maxspeed_wins: bool = True
    speed_factor: float = 1.0
    offnet_walk_kph: float = 3.6
    description: str = ""
    path: str = ""

    def speed_for(self, highway: Any, maxspeed: Any = None) -> float:
        """Speed in km/h for an edge with this ``highway`` (str or list) and ``maxspeed`` tag."""
        if self.maxspeed_wins:
            ms = parse_maxspeed(maxspeed)
            if ms is not None:
                return ms * self.speed_factor
        values = highway if isinstance(highway, list) else [highway]
        speeds = [self.highway_kph.get(str(h), self.default_kph) for h in values]
        return float(np.mean(speeds)) * self.speed_factor if speeds else self.default_kph


def parse_maxspeed(value: Any) -> float | None:
    """Parse an OSM ``maxspeed`` tag ("60", "60 km/h", "30 mph", "50;60", lists) to km/h.

    Returns the mean of the parsable values, or None (e.g. "CN:urban", "none", missing).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    items = value if isinstance(value, list) else re.split(r"[;|,]", str(value))
    speeds = []
    for item in items:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*", str(item))
        if m:
            v = float(m.group(1)) * (1.609344 if m.group(2) == "mph" else 1.0)
            if v > 0:
                speeds.append(v)
    return float(np.mean(speeds)) if speeds else None


def load_profile(name_or_path: str | Path) -> SpeedProfile:
    """Load a speed profile: ``"drive"``, ``"fire"``, ``"walk"`` (package data) or a TOML path."""
    text: str
    where: str
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.is_file():
            raise DataNotFoundError(f"profile file {p} does not exist")
        text, where = p.read_text(encoding="utf-8"), str(p)
    else:
        res = resources.files("geo") / "profiles" / f"{name_or_path}.toml"
        if not res.is_file():
            known = sorted(f.name[:-5] for f in (resources.files("geo") / "profiles").iterdir()
                           if f.name.endswith(".toml"))
            raise DataNotFoundError(f"profile {name_or_path!r} is not a file and not one of "
                                    f"{known}; pass a name or a .toml path")
        text, where = res.read_text(encoding="utf-8"), f"geo/profiles/{name_or_path}.toml"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"profile {where} is not valid TOML: {exc}") from exc
    allowed = {"name", "description", "default_kph", "highway_kph", "maxspeed_wins",
               "speed_factor", "offnet_walk_kph"}
    unknown = set(raw) - allowed
    if unknown or "default_kph" not in raw:
        raise DataError(f"profile {where}: expected keys {sorted(allowed)} (default_kph "
                        f"required), got unknown {sorted(unknown)}")
    speeds = {str(k): float(v) for k, v in raw.get("highway_kph", {}).items()}
    prof = SpeedProfile(name=str(raw.get("name", p.stem)), default_kph=float(raw["default_kph"]),
                        highway_kph=speeds, maxspeed_wins=bool(raw.get("maxspeed_wins", True)),
                        speed_factor=float(raw.get("speed_factor", 1.0)),
                        offnet_walk_kph=float(raw.get("offnet_walk_kph", 3.6)),
                        description=str(raw.get("description", "")), path=where)
    bad = [k for k, v in {"default_kph": prof.default_kph, "speed_factor": prof.speed_factor,
                          "offnet_walk_kph": prof.offnet_walk_kph, **speeds}.items()
           if not (v > 0 and math.isfinite(v))]
    if bad:
        raise DataError(f"profile {where}: speeds must be positive numbers; bad: {bad}")
    return prof


def add_speeds(G: Any, profile: str | Path | SpeedProfile = "drive") -> Any:
    """Set edge ``speed_kph`` (km/h) and ``travel_time`` (s = length_m / speed) in place.

    Returns ``G``. The engine cache for ``G`` is cleared.
    """
    prof = profile if isinstance(profile, SpeedProfile) else load_profile(profile)
    for u, v, d in G.edges(data=True):
        if "length" not in d:
            raise NetworkError(f"G edge ({u}, {v}) has no 'length' (metres); cannot add speeds")
        speed = prof.speed_for(d.get("highway"), d.get("maxspeed"))
        d["speed_kph"] = speed
        d["travel_time"] = float(d["length"]) / (speed / 3.6)
    G.graph["speed_profile"] = prof.name
    clear_cache(G)
    return G


# --------------------------------------------------------------------------------------------
# Engine: CSR arrays cached per graph, scipy dijkstra
# --------------------------------------------------------------------------------------------

@dataclass
class _Csr:
    nodes: pd.Index          # node ids in matrix order
    pos: dict[Any, int]      # node id -> row
    matrix: Any              # scipy.sparse.csr_array, forward
    _transposed: Any = None
    stamp: tuple[int, int] = (0, 0)

    @property
    def transposed(self) -> Any:
        if self._transposed is None:
            self._transposed = self.matrix.T.tocsr()
        return self._transposed


_CACHE: weakref.WeakKeyDictionary[Any, dict[str, _Csr]] = weakref.WeakKeyDictionary()


def clear_cache(G: Any) -> None:
    """Forget the cached CSR arrays of ``G`` (call after changing edge weights in place)."""
    _CACHE.pop(G, None)


def _build_csr(G: Any, weight: str) -> _Csr:
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
    return _Csr(nodes=pd.Index(nodes), pos=pos, matrix=matrix, stamp=_stamp(G))


def _stamp(G: Any) -> tuple[int, int]:
    """Cheap structural fingerprint: node count and adjacent node-pair count (a C-level sum of
    dict sizes, ~6 ms for 250k nodes; ``number_of_edges`` walks every multi-edge, ~50x slower).
    It notices added/removed nodes and node pairs; other in-place edits need
    :func:`clear_cache`."""
    return len(G._adj), sum(map(len, G._adj.values()))


def csr_for(G: Any, weight: str = "length") -> _Csr:
    """The cached CSR arrays of ``G`` for ``weight`` (built on first use)."""
    if not hasattr(G, "_adj") or not hasattr(G, "is_multigraph"):
        raise NetworkError(f"G must be a networkx graph, got {type(G).__name__}")
    if G.number_of_nodes() == 0:
        raise NetworkError("G is empty (no nodes); build the network from a source with roads")
    per_graph = _CACHE.setdefault(G, {})
    csr = per_graph.get(weight)
    if csr is None or csr.stamp != _stamp(G):
        csr = _build_csr(G, weight)
        per_graph[weight] = csr
    return csr


def source_positions(csr: _Csr, sources: Iterable[Any], *, arg: str = "sources") -> np.ndarray:
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


def nearest_cost(G: Any, sources: Iterable[Any], *, weight: str = "length",
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


def _roadnet_nearest_cost(net: Any, sources: Iterable[Any], *, weight: str,
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

