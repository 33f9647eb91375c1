"""Walk and drive street networks: osmnx-style filters, CRS helpers and the graph builders.

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

Speed profiles live in :mod:`geo.speeds` and the shortest-path engine (:func:`nearest_cost`) in
:mod:`geo.netcost`; their names are re-exported here.
"""

from __future__ import annotations

import logging
import math
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geo import settings
from geo._graphs import NETWORK_TYPES, check_network_type
from geo.errors import CRSError, DataError, DataNotFoundError, NetworkError, OfflineError

# speed profiles (geo.speeds) and the engine (geo.netcost) have their own modules; their public
# names stay importable from here
from geo.netcost import clear_cache, csr_for, nearest_cost, source_positions
from geo.speeds import SpeedProfile, add_speeds, load_profile, parse_maxspeed

if TYPE_CHECKING:
    import networkx as nx

log = logging.getLogger(__name__)


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


def require_projected(G: nx.MultiDiGraph, *, arg: str = "G") -> str:
    """Return ``G.graph['crs']``; raise :class:`CRSError` unless it is projected (metres)."""
    crs = G.graph.get("crs") if hasattr(G, "graph") else None
    if crs is None:
        raise CRSError(f"{arg} has no graph['crs']; build it with geo.network builders or set "
                       f"{arg}.graph['crs']")
    if not is_projected(crs):
        raise CRSError(f"{arg} is in a geographic CRS ({crs}, degrees) but metres are needed: "
                       f"project it first, e.g. geo.network.project_graph({arg})")
    return str(crs)


def project_graph(G: nx.MultiDiGraph, to_crs: str | None = None) -> nx.MultiDiGraph:
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

def _finish(G: nx.MultiDiGraph, network_type: str, source: str, to_crs: str | None,
            project: bool) -> nx.MultiDiGraph:
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
                   project: bool = True) -> nx.MultiDiGraph:
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

    check_network_type(network_type)
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
                   project: bool = True) -> nx.MultiDiGraph:
    """Build a walk or drive graph from an OSM XML file with ``osmnx.graph_from_xml``.

    Ways are filtered with :func:`keep_way` before simplification; walk graphs are two-way.
    """
    import osmnx as ox

    check_network_type(network_type)
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
                        project: bool = True) -> nx.MultiDiGraph:
    """Download a walk or drive graph inside ``polygon`` (shapely, EPSG:4326) from Overpass.

    Raises :class:`OfflineError` when ``geo.settings.offline`` is set.
    """
    import osmnx as ox

    check_network_type(network_type)
    if settings.offline:
        raise OfflineError("graph_from_overpass needs the Overpass API but geo.settings.offline "
                           "is set (GEO_OFFLINE=1): unset it, or pass an OSM PBF/XML file or a "
                           "Geofabrik roads layer instead")
    if polygon is None or getattr(polygon, "is_empty", True):
        raise NetworkError("polygon must be a non-empty shapely Polygon in EPSG:4326")
    G = ox.graph_from_polygon(polygon, network_type=network_type, retain_all=True)
    return _finish(G, network_type, "Overpass API (osmnx)", to_crs, project)


def graph_from_roads(roads: Any, network_type: str = "walk", *, to_crs: str | None = None,
                     project: bool = True) -> nx.MultiDiGraph:
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

    check_network_type(network_type)
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
        first.setdefault(int(vid[p]), int(p))
    for n, row in sorted(first.items()):
        G.add_node(n, x=float(out_xy[row, 0]), y=float(out_xy[row, 1]))

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
                   to_crs: str | None = None) -> nx.MultiDiGraph:
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


__all__ = [
    "DRIVE_EXCLUDED_HIGHWAY", "DRIVE_EXCLUDED_SERVICE", "NETWORK_TYPES", "WALK_EXCLUDED_HIGHWAY",
    "SpeedProfile", "add_speeds", "clear_cache", "csr_for", "fclass_to_highway",
    "graph_from_osm", "graph_from_overpass", "graph_from_pbf", "graph_from_roads",
    "graph_from_xml", "is_projected", "keep_way", "load_profile", "metric_crs_for",
    "nearest_cost", "parse_maxspeed", "project_graph", "require_projected", "source_positions",
]
