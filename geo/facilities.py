"""Facilities the plan's claims are about, as canonical point frames.

Every function returns a GeoDataFrame in EPSG:4326 with the columns ``facility_id, kind, name,
osm_id, geometry`` (points) plus kind-specific columns. ``facility_id`` is ``"<kind>:<osm_id>"``
(traceable back to OSM). Distances are computed in EPSG:32650 (metres).

Polygon features are represented by their representative point (a point guaranteed to lie
inside the polygon; the centroid of an L-shaped station may fall outside it).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo.areas import Area
from geo.errors import DataNotFoundError
from geo.sources.base import OsmData

log = logging.getLogger(__name__)

BASE_COLUMNS = ["facility_id", "kind", "name", "osm_id"]
#: Geofabrik transport classes that are rail-transit stops; trams are rail transit (轨道交通),
#: so tram stops count (Beijing's T1 lines).
STATION_CLASSES = ("railway_station", "railway_halt", "tram_stop")
#: OSM lifecycle words (in a source's ``railway`` / ``station`` / ``construction`` tags or a
#: name) that mark a station not in service.
NOT_IN_SERVICE_WORDS = ("construction", "proposed", "planned", "disused", "abandoned",
                        "在建", "规划", "建设中")
#: railways fclass -> station mode.
RAIL_MODES = {"rail": "rail", "narrow_gauge": "rail", "subway": "subway",
              "light_rail": "light_rail", "tram": "tram", "monorail": "monorail"}
#: OSM ``station=*`` values (PBF/XML sources carry them) -> mode; they win over the nearest line.
STATION_TAG_MODES = {"subway": "subway", "light_rail": "light_rail", "train": "rail",
                     "monorail": "monorail", "tram": "tram"}
#: Park size classes: (name, lower bound in ha, straight-line service radius in m or None).
#: From Beijing practice (the 2021 city check of 「公园绿地500米服务半径覆盖率」 counts parks of
#: 5,000 m² and more with a 500 m radius and 2,000-5,000 m² parks with 300 m; smaller ones are
#: not counted) and GB/T 51346-2019, whose comprehensive parks (综合公园) should exceed 10 ha.
PARK_SIZE_CLASSES: tuple[tuple[str, float, float | None], ...] = (
    ("tiny", 0.0, None),
    ("pocket", 0.2, 300.0),
    ("community", 0.5, 500.0),
    ("large", 10.0, 500.0),
)
SMALL_FIRE_WORDS = ("小型", "微型")
#: Road classes that form the expressway system; a link meeting anything else is an entrance.
EXPRESSWAY_CLASSES = ("motorway", "trunk", "motorway_link", "trunk_link")
LINK_CLASSES = ("motorway_link", "trunk_link")


def _empty(kind: str, extra: dict[str, str] | None = None) -> gpd.GeoDataFrame:
    cols: dict[str, Any] = {c: pd.Series([], dtype=object) for c in BASE_COLUMNS}
    for c, dtype in (extra or {}).items():
        cols[c] = pd.Series([], dtype=dtype)
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs=settings.geographic_crs))


def _to_m(geoms: Any) -> np.ndarray:
    return gpd.GeoSeries(geoms, crs=settings.geographic_crs).to_crs(settings.metric_crs).values


def _norm_name(name: Any) -> str:
    """Name key for deduplication: no spaces, no bracketed parts, no trailing 站/station
    (亦庄火车站 and 亦庄 stay different stations)."""
    if name is None or (isinstance(name, float) and np.isnan(name)) or pd.isna(name):
        return ""
    t = re.sub(r"[(（\[].*?[)）\]]", "", str(name))
    t = re.sub(r"\s+", "", t).lower()
    for suffix in ("站", "station"):
        if t.endswith(suffix) and len(t) > len(suffix):
            t = t[: -len(suffix)]
            break
    return t


def _candidates(osm: OsmData, point_layer: str, poly_layer: str, fclasses: Iterable[str],
                area: Area | None) -> gpd.GeoDataFrame:
    """Points of ``point_layer`` plus representative points of ``poly_layer`` with the given
    fclasses, inside the area; column ``from_polygon``."""
    fclasses = list(fclasses)
    frames = []
    for layer, is_poly in ((point_layer, False), (poly_layer, True)):
        g = osm.layer(layer)
        g = g[g["fclass"].isin(fclasses)]
        if g.empty:
            continue
        g = g.copy()
        if is_poly:
            g["polygon"] = g.geometry.values
            g = g.set_geometry(g.geometry.representative_point())
        g["from_polygon"] = is_poly
        frames.append(g)
    if not frames:
        return gpd.GeoDataFrame({"osm_id": [], "fclass": [], "name": [], "from_polygon": []},
                                geometry=gpd.GeoSeries([], crs=settings.geographic_crs))
    cand = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=settings.geographic_crs)
    if area is not None:
        cand = cand[cand.within(area.geometry)]
    return cand.reset_index(drop=True)


def dedupe_by_name(points: gpd.GeoDataFrame, *, within_m: float = 300.0) -> gpd.GeoDataFrame:
    """Drop duplicate facilities: same normalised name within ``within_m`` metres, or an unnamed
    feature within ``within_m`` of a kept one.

    Priority (kept first): named before unnamed, points before polygons (``from_polygon``), then
    ``osm_id``. The kept row gets ``merged_osm_ids`` listing every OSM id it stands for.
    """
    if points.empty:
        out = points.copy()
        out["merged_osm_ids"] = pd.Series([], dtype=object)
        return out
    pts = points.copy()
    pts["_key"] = [_norm_name(n) for n in pts["name"]]
    pts["_unnamed"] = pts["_key"] == ""
    poly = pts["from_polygon"] if "from_polygon" in pts.columns else False
    pts["_poly"] = poly
    pts = pts.sort_values(["_unnamed", "_poly", "osm_id"], kind="stable").reset_index(drop=True)
    xy = shapely.get_coordinates(_to_m(pts.geometry.values))
    kept: list[int] = []
    merged: dict[int, list[str]] = {}
    for i in range(len(pts)):
        dup_of = None
        if kept:
            k = np.asarray(kept)
            d = np.hypot(xy[k, 0] - xy[i, 0], xy[k, 1] - xy[i, 1])
            near = k[d <= within_m]
            for j in near[np.argsort(d[d <= within_m])]:
                if pts.at[i, "_unnamed"] or pts.at[j, "_key"] == pts.at[i, "_key"]:
                    dup_of = int(j)
                    break
        if dup_of is None:
            kept.append(i)
            merged[i] = [str(pts.at[i, "osm_id"])]
        else:
            merged[dup_of].append(str(pts.at[i, "osm_id"]))
    out = pts.loc[kept].drop(columns=["_key", "_unnamed", "_poly"]).copy()
    out["merged_osm_ids"] = [merged[i] for i in kept]
    return out.reset_index(drop=True)


def _finish(frame: gpd.GeoDataFrame, kind: str, extra: Sequence[str]) -> gpd.GeoDataFrame:
    frame = frame.copy()
    frame["kind"] = kind
    frame["osm_id"] = frame["osm_id"].astype(str)
    frame["name"] = frame["name"].astype(object).where(frame["name"].notna(), None)
    frame["facility_id"] = kind + ":" + frame["osm_id"]
    dup = frame["facility_id"].duplicated(keep=False)
    if dup.any():  # a node and a way may share a number
        frame.loc[dup, "facility_id"] = frame.loc[dup, "facility_id"] + "#" + \
            frame.loc[dup].groupby("facility_id").cumcount().astype(str)
    frame = frame.sort_values("facility_id").reset_index(drop=True)
    cols = BASE_COLUMNS + [c for c in extra if c in frame.columns] + ["geometry"]
    return gpd.GeoDataFrame(frame[cols], geometry="geometry", crs=settings.geographic_crs)


def rail_stations(osm: OsmData, area: Area | None = None, *, dedupe_m: float = 300.0,
                  mode_max_m: float = 200.0,
                  fclasses: Iterable[str] = STATION_CLASSES) -> gpd.GeoDataFrame:
    """Rail, metro, light-rail and tram stations inside an area.

    Station points (``transport``) plus representative points of station polygons
    (``transport_a``; some stations are mapped only as polygons), deduplicated by name within
    ``dedupe_m`` metres (:func:`dedupe_by_name`).

    Parameters
    ----------
    osm : OsmData
        Source layers.
    area : Area, optional
        Keep stations whose point lies inside it.
    dedupe_m : float
        Deduplication distance in metres.
    mode_max_m : float
        ``mode`` is the class of the nearest ``railways`` line within this distance (m);
        an explicit OSM ``station=*`` tag wins when the source has it.

    Returns
    -------
    GeoDataFrame
        Base columns + ``mode`` (subway / rail / light_rail / tram / monorail or None),
        ``mode_distance_m``, ``fclass``, ``from_polygon``, ``merged_osm_ids``, ``outline`` (the
        station polygon where OSM maps one, else None: distances are measured to it) and
        ``in_service`` (False when tagged or named as under construction / proposed
        (:data:`NOT_IN_SERVICE_WORDS`) or when no rail line lies within ``mode_max_m``).
    """
    cand = _candidates(osm, "transport", "transport_a", fclasses, area)
    outlines = ({str(i): g for i, g, poly in zip(cand["osm_id"], cand["polygon"],
                                                 cand["from_polygon"], strict=True) if poly}
                if "polygon" in cand.columns else {})
    st = dedupe_by_name(cand, within_m=dedupe_m)
    st["outline"] = pd.Series([next((outlines[i] for i in ids if i in outlines), None)
                               for ids in st["merged_osm_ids"]], index=st.index, dtype=object)
    st["mode"] = pd.Series([None] * len(st), dtype=object)
    st["mode_distance_m"] = np.nan
    lines = osm.layer("railways")
    lines = lines[lines["fclass"].isin(list(RAIL_MODES))]
    if len(st) and len(lines):
        pts_m = gpd.GeoDataFrame(geometry=_to_m(st.geometry.values), crs=settings.metric_crs)
        lines_m = gpd.GeoDataFrame({"line_fclass": lines["fclass"].to_numpy()},
                                   geometry=_to_m(lines.geometry.values), crs=settings.metric_crs)
        j = gpd.sjoin_nearest(pts_m, lines_m, how="left", max_distance=mode_max_m,
                              distance_col="d")
        j = j[~j.index.duplicated(keep="first")].reindex(pts_m.index)
        st["mode"] = pd.Series([RAIL_MODES.get(v) if isinstance(v, str) else None
                                for v in j["line_fclass"]], index=st.index, dtype=object)
        st["mode_distance_m"] = j["d"].to_numpy()
    if "station" in st.columns:
        tagged = st["station"].map(lambda v: STATION_TAG_MODES.get(v) if isinstance(v, str)
                                   else None)
        st["mode"] = pd.Series([t if isinstance(t, str) else m
                                for t, m in zip(tagged, st["mode"])], index=st.index, dtype=object)
    words = [w.lower() for w in NOT_IN_SERVICE_WORDS]

    def tagged_out(row: Any) -> bool:
        vals = [row.get(c) for c in ("railway", "station", "construction", "proposed",
                                     "fclass", "name")]
        return any(isinstance(v, str) and any(w in v.lower() for w in words) for v in vals)

    st["in_service"] = [not tagged_out(r) and isinstance(m, str)
                        for r, m in zip(st.to_dict("records"), st["mode"], strict=True)]
    if st.empty:
        return _empty("rail_station", {"mode": "object", "mode_distance_m": "float64",
                                       "fclass": "object", "from_polygon": "bool",
                                       "merged_osm_ids": "object", "outline": "object",
                                       "in_service": "bool"})
    return _finish(st, "rail_station",
                   ["mode", "mode_distance_m", "fclass", "from_polygon", "merged_osm_ids",
                    "outline", "in_service"])


def park_size_class(area_ha: Any, *, classes: Sequence[tuple[str, float, float | None]]
                    = PARK_SIZE_CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """Size class names and service radii (m, NaN when not counted) for park areas in ha.

    ``classes`` is a sequence of (name, lower bound ha, radius m or None), ascending bounds.
    """
    bounds = np.array([c[1] for c in classes])
    if np.any(np.diff(bounds) <= 0):
        raise ValueError(f"park size classes must have ascending lower bounds, got {bounds}")
    idx = np.clip(np.searchsorted(bounds, np.asarray(area_ha, dtype=float), side="right") - 1,
                  0, len(classes) - 1)
    names = np.array([c[0] for c in classes], dtype=object)[idx]
    radii = np.array([np.nan if c[2] is None else c[2] for c in classes])[idx]
    return names, radii


def parks(osm: OsmData, area: Area | None = None, *, fclasses: Iterable[str] = ("park",),
          size_classes: Sequence[tuple[str, float, float | None]] = PARK_SIZE_CLASSES
          ) -> gpd.GeoDataFrame:
    """Park polygons (``pois_a``) intersecting an area.

    Returns
    -------
    GeoDataFrame
        Base columns; ``geometry`` is the representative point (display only); ``polygon`` the
        full park polygon (EPSG:4326); ``area_ha`` the full polygon's area and ``inside_ha`` the
        part inside the area, in hectares; ``size_class`` and ``service_radius_m`` from
        ``size_classes`` (default :data:`PARK_SIZE_CLASSES`: tiny < 0.2 ha (not counted),
        pocket 0.2-0.5 ha (300 m), community 0.5-10 ha (500 m), large >= 10 ha (500 m)).
        Park features mapped only as points have no area and are not included.
    """
    g = osm.layer("pois_a")
    g = g[g["fclass"].isin(list(fclasses))]
    if area is not None:
        g = g[g.intersects(area.geometry)]
    n_points = int(osm.layer("pois")["fclass"].isin(list(fclasses)).sum())
    if n_points:
        log.info("%d park features mapped only as points are not counted as parks", n_points)
    extra = {"area_ha": "float64", "inside_ha": "float64", "size_class": "object",
             "service_radius_m": "float64", "polygon": "geometry"}
    if g.empty:
        out = _empty("park", {k: v for k, v in extra.items() if k != "polygon"})
        out["polygon"] = gpd.GeoSeries([], crs=settings.geographic_crs)
        return out
    g = g.copy()
    poly_m = _to_m(shapely.make_valid(g.geometry.values))
    g["area_ha"] = shapely.area(poly_m) / 1e4
    g["inside_ha"] = (shapely.area(shapely.intersection(poly_m, area.geometry_m)) / 1e4
                      if area is not None else g["area_ha"])
    g["size_class"], g["service_radius_m"] = park_size_class(g["area_ha"], classes=size_classes)
    g["polygon"] = gpd.GeoSeries(g.geometry.values, crs=settings.geographic_crs, index=g.index)
    g = g.set_geometry(g.geometry.representative_point())
    out = _finish(g, "park", ["area_ha", "inside_ha", "size_class", "service_radius_m",
                              "polygon"])
    out["polygon"] = gpd.GeoSeries(out["polygon"].values, crs=settings.geographic_crs)
    return out


def fire_stations(osm: OsmData, area: Area | None = None, *, dedupe_m: float = 300.0,
                  small_words: Iterable[str] = SMALL_FIRE_WORDS) -> gpd.GeoDataFrame:
    """Fire stations inside an area: ``pois`` points plus ``pois_a`` representative points,
    deduplicated by name within ``dedupe_m`` metres; ``small`` is True when the name contains
    one of ``small_words`` (小型 / 微型: small and micro stations with fewer engines)."""
    cand = _candidates(osm, "pois", "pois_a", ["fire_station"], area)
    st = dedupe_by_name(cand, within_m=dedupe_m)
    words = tuple(small_words)
    st["small"] = [isinstance(n, str) and any(w in n for w in words) for n in st["name"]]
    if st.empty:
        return _empty("fire_station", {"small": "bool", "from_polygon": "bool",
                                       "merged_osm_ids": "object"})
    return _finish(st, "fire_station", ["small", "from_polygon", "merged_osm_ids"])


def pois(osm: OsmData, area: Area | None = None, fclasses: Iterable[str] = (), *,
         name_rx: re.Pattern[str] | None = None) -> gpd.GeoDataFrame:
    """Other points of interest (school, kindergarten, hospital, clinic, convenience, ...):
    ``pois`` points plus ``pois_a`` representative points with the given fclasses, inside the
    area, not deduplicated; only those whose name matches ``name_rx`` when given. ``kind`` is
    the fclass."""
    cand = _candidates(osm, "pois", "pois_a", fclasses, area)
    if name_rx is not None and not cand.empty:   # before the per-class frames: much cheaper
        cand = cand[names_matching(cand, name_rx)].reset_index(drop=True)
    if cand.empty:
        return _empty("poi", {"fclass": "object", "from_polygon": "bool"})
    frames = [_finish(g, str(fc), ["fclass", "from_polygon"]) for fc, g in cand.groupby("fclass")]
    out = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=settings.geographic_crs)


def _classes(value: Any) -> set[str]:
    if isinstance(value, list | tuple | set):
        return {str(v) for v in value}
    return {str(value)} if value is not None else set()


def expressway_entrances(G: Any, area: Area | None = None, *,
                         link_classes: Iterable[str] = LINK_CLASSES,
                         expressway_classes: Iterable[str] = EXPRESSWAY_CLASSES
                         ) -> gpd.GeoDataFrame:
    """Entrances to the motorway / urban-expressway system from an osmnx-style road graph.

    An entrance is a node tagged ``highway=motorway_junction``, or a node where an edge of a
    ``link_classes`` road (motorway_link, trunk_link) meets an edge of a class outside
    ``expressway_classes`` (a lower-class road). Edge ``highway`` values may be lists
    (osmnx simplification).

    Parameters
    ----------
    G : networkx MultiDiGraph or None
        osmnx-style graph (node ``x``/``y`` in the graph's CRS, edge ``highway``). ``None``
        (no road network available) gives an empty frame and a logged warning.
    area : Area, optional
        Keep nodes inside it.

    Returns
    -------
    GeoDataFrame
        Base columns (``osm_id`` = node id) + ``node`` (graph node id), ``reason``
        ("motorway_junction" or "link_meets_lower_road") and ``onto_link`` (True when an
        edge of a link road leaves the node, i.e. a vehicle can drive onto the ramp there;
        respect it for one-way ramps).
    """
    extra = {"node": "object", "reason": "object", "onto_link": "bool"}
    if G is None:
        log.warning("no road network available: expressway entrances cannot be found "
                    "(give an OSM PBF/XML file, a Geofabrik roads layer or use Overpass)")
        return _empty("expressway_entrance", extra)
    if type(G).__name__ == "RoadNetwork":   # geo.roadnet's arrays (read from a PBF)
        return _entrances_from_arrays(G, area, link_classes, expressway_classes, extra)
    links, major = set(link_classes), set(expressway_classes)
    rows = []
    for n, data in G.nodes(data=True):
        reason = None
        if data.get("highway") == "motorway_junction":
            reason = "motorway_junction"
        incident: set[str] = set()
        out_link = False
        edges = list(G.out_edges(n, data=True)) + list(G.in_edges(n, data=True))
        for u, _v, ed in edges:
            cls = _classes(ed.get("highway"))
            incident |= cls
            if u == n and cls & links:
                out_link = True
        if reason is None and incident & links and incident - major:
            reason = "link_meets_lower_road"
        if reason is not None:
            rows.append({"node": n, "osm_id": str(n), "name": data.get("ref") or data.get("name"),
                         "reason": reason, "onto_link": out_link,
                         "geometry": shapely.Point(data["x"], data["y"])})
    crs = G.graph.get("crs", settings.geographic_crs)
    if not rows:
        return _empty("expressway_entrance", extra)
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=crs).to_crs(settings.geographic_crs)
    if area is not None:
        gdf = gdf[gdf.within(area.geometry)]
        if gdf.empty:
            return _empty("expressway_entrance", extra)
    return _finish(gdf, "expressway_entrance", ["node", "reason", "onto_link"])


def _entrances_from_arrays(net: Any, area: Area | None, link_classes: Iterable[str],
                           expressway_classes: Iterable[str],
                           extra: dict[str, str]) -> gpd.GeoDataFrame:
    """:func:`expressway_entrances` on a :class:`geo.roadnet.RoadNetwork` (same rules, by
    :func:`geo.roadnet.expressway_entrances`; a junction's name is its ``ref``, else its
    ``name``, as on a networkx graph)."""
    from geo.roadnet import expressway_entrances as array_entrances

    found = array_entrances(net, link_classes=tuple(link_classes),
                            expressway_classes=tuple(expressway_classes))
    if not len(found["node"]):
        return _empty("expressway_entrance", extra)
    ids = net.node_id[found["node"]]
    gdf = gpd.GeoDataFrame(
        {"node": ids.tolist(), "osm_id": [str(i) for i in ids],
         "name": [(str(net.junction_name[n]) or None) if net.junction_name is not None
                  else None for n in found["node"]],
         "reason": found["reason"].astype(object),
         "onto_link": found["onto_link"].astype(bool)},
        geometry=shapely.points(net.x[found["node"]], net.y[found["node"]]),
        crs=net.crs).to_crs(settings.geographic_crs)
    if area is not None:
        gdf = gdf[gdf.within(area.geometry)]
        if gdf.empty:
            return _empty("expressway_entrance", extra)
    return _finish(gdf, "expressway_entrance", ["node", "reason", "onto_link"])


# --------------------------------------------------------------------------- kinds

#: Geofabrik fclasses that make up each POI kind (:func:`pois`).
KIND_FCLASSES: dict[str, tuple[str, ...]] = {
    "school": ("school",),
    "kindergarten": ("kindergarten",),
    "convenience": ("convenience", "supermarket"),
    "hospital": ("hospital",),
    "clinic": ("clinic", "doctors"),
    "elderly_care": ("nursing_home",),
    "museum": ("museum",),
    # issue 15
    "charging_station": ("charging_station",),
    "culture": ("library", "arts_centre", "community_centre", "theatre", "museum"),
    "emergency_shelter": ("assembly_point",),
    "health_centre": ("clinic", "doctors", "hospital"),
}

#: Kinds read from the ``transport`` / ``transport_a`` layers: kind -> fclasses.
TRANSPORT_KIND_FCLASSES: dict[str, tuple[str, ...]] = {
    "bus_stop": ("bus_stop", "bus_station"),
}

#: Every facility kind :func:`facilities` can build (claim files and scenarios name these).
FACILITY_KINDS: tuple[str, ...] = (
    "rail_station", "park", "school", "kindergarten", "convenience", "hospital", "clinic",
    "elderly_care", "fire_station", "expressway_entrance", "museum",
    "bus_stop", "charging_station", "culture", "emergency_shelter", "health_centre",
)


def names_matching(frame: pd.DataFrame, rx: re.Pattern[str]) -> np.ndarray:
    """Boolean row mask: ``name`` matches ``rx`` (a plain list would select no COLUMNS when
    the frame is empty)."""
    return np.array([isinstance(n, str) and bool(rx.search(n)) for n in frame["name"]],
                    dtype=bool)


#: OSM layers each facility kind is read from; when the source lacks one (``layers_missing``)
#: the kind cannot be counted, which is not the same as none being mapped.
KIND_LAYERS: dict[str, tuple[str, ...]] = {
    "rail_station": ("transport", "transport_a"),
    "park": ("pois_a",),
    **{k: ("pois", "pois_a") for k in ("fire_station", *KIND_FCLASSES)},
}


def require_layers(osm: OsmData, layers: Iterable[str], what: str) -> None:
    """Raise :class:`DataNotFoundError` naming the ``layers`` the source lacks (its
    ``layers_missing``): ``what`` cannot be measured on data that is absent."""
    missing = [layer for layer in layers if layer in osm.layers_missing]
    if missing:
        noun = "layer" if len(missing) == 1 else "layers"
        raise DataNotFoundError(
            f"{what} cannot be measured: the OSM data ({osm.source or 'unnamed source'}) has no "
            f"{', '.join(missing)} {noun}; use a complete Geofabrik folder or an OSM PBF file "
            "('geo data fetch')")


def _all_poi_classes(osm: OsmData) -> list[str]:
    classes: set[str] = set()
    for layer in ("pois", "pois_a"):
        g = osm.layer(layer)
        classes.update(str(c) for c in g["fclass"].dropna().unique())
    return sorted(classes)


def facilities(osm: OsmData, kind: str, area: Area | None = None, *,
               fclasses: Sequence[str] | None = None, name_pattern: str | None = None,
               extra_name_pattern: str | None = None, graph: Any = None) -> gpd.GeoDataFrame:
    """Facilities of ``kind`` (one of :data:`FACILITY_KINDS`) inside ``area``, canonical columns.

    ``fclasses`` replaces the kind's default Geofabrik classes (for expressway entrances: the
    OSM highway classes that count as expressways, their ``_link`` ramps included);
    ``name_pattern`` keeps only names matching the regex; ``extra_name_pattern`` adds POIs of
    any class whose name matches (e.g. 养老 for elderly care, which OSM rarely tags).
    ``graph``: the projected drive graph, needed for ``expressway_entrance`` only (entrances
    are where a car can get on: motorway junctions and on-ramps).
    """
    from geo.errors import GeoError, NetworkError

    what = kind.replace("_", " ") + " facilities"
    require_layers(osm, KIND_LAYERS.get(kind, ()), what)
    if extra_name_pattern:
        require_layers(osm, ("pois", "pois_a"), what)
    if kind == "rail_station":
        out = rail_stations(osm, area) if fclasses is None else \
            rail_stations(osm, area, fclasses=tuple(fclasses))
    elif kind == "park":
        out = parks(osm, area) if fclasses is None else parks(osm, area, fclasses=tuple(fclasses))
    elif kind == "fire_station":
        out = fire_stations(osm, area)
    elif kind == "expressway_entrance":
        if graph is None:
            raise NetworkError("expressway entrances need a drive graph: pass graph=")
        if fclasses is None:
            out = expressway_entrances(graph, area)
        else:
            links = tuple(f"{c}_link" for c in fclasses)
            out = expressway_entrances(graph, area, link_classes=links,
                                       expressway_classes=tuple(fclasses) + links)
        if len(out):  # an entrance is where a car can get ON: not the foot of an exit
            out = out[(out["reason"] == "motorway_junction") | out["onto_link"]]
    elif kind in TRANSPORT_KIND_FCLASSES:
        cls = tuple(fclasses) if fclasses else TRANSPORT_KIND_FCLASSES[kind]
        cand = _candidates(osm, "transport", "transport_a", cls, area)
        out = _finish(cand, kind, ["fclass", "from_polygon"]) if len(cand) else \
            _empty(kind, {"fclass": "object", "from_polygon": "bool"})
    elif kind in KIND_FCLASSES:
        out = pois(osm, area, tuple(fclasses) if fclasses else KIND_FCLASSES[kind])
        out["kind"] = kind
    else:
        raise GeoError(f"facility kind {kind!r} is not known; use one of "
                       f"{', '.join(FACILITY_KINDS)}")
    if extra_name_pattern:
        rx = re.compile(extra_name_pattern)
        extra = pois(osm, area, _all_poi_classes(osm), name_rx=rx)
        extra = extra[~extra["osm_id"].isin(out["osm_id"])]
        if len(extra):
            extra = extra.assign(kind=kind)
            out = gpd.GeoDataFrame(pd.concat([out, extra[out.columns.intersection(
                extra.columns)]], ignore_index=True), crs=out.crs)
    if name_pattern:
        rx = re.compile(name_pattern)
        out = out[names_matching(out, rx)]
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- reference inventory

#: A reference facility matches an OSM one of the same kind with the same (normalised) name
#: within this distance (m), or any OSM one within :data:`REFERENCE_NEAR_M`.
REFERENCE_NAME_M = 1000.0
REFERENCE_NEAR_M = 150.0


def load_reference(path: str | Any, *, datum: str | None = None) -> gpd.GeoDataFrame:
    """A user's reference inventory of facilities: GeoJSON points or a CSV with ``name``,
    ``lon``, ``lat`` and ``kind`` (a facility kind, e.g. ``fire_station``) columns.

    The datum (``wgs84``, ``gcj02`` for Amap/Tencent, ``bd09`` for Baidu) comes from the file (a
    GeoJSON top-level ``"datum"`` member or a CSV ``datum`` column) or from ``datum``; the
    points are converted to WGS84 (:mod:`geo.coords`). Returns ``kind, name, geometry``.
    """
    import json
    from pathlib import Path

    from geo.coords import convert_gdf, normalize_datum
    from geo.errors import DataError, DataNotFoundError

    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"reference file {path} does not exist: pass a GeoJSON or CSV "
                                "of facilities (reference=FILE)")
    declared = None
    try:
        if path.suffix.lower() == ".csv":
            df = pd.read_csv(path)
            missing = {"name", "lon", "lat", "kind"} - set(df.columns)
            if missing:
                raise DataError(f"reference file {path} lacks the column(s) {sorted(missing)}: "
                                "give name, lon, lat, kind (and datum, or datum=)")
            if "datum" in df.columns and df["datum"].notna().any():
                found = {normalize_datum(str(d)) for d in df["datum"].dropna()}
                if len(found) > 1:
                    raise DataError(f"reference file {path} mixes datums {sorted(found)}: "
                                    "use one per file")
                declared = found.pop()
            gdf = gpd.GeoDataFrame(df[["kind", "name"]].copy(),
                                   geometry=gpd.points_from_xy(df["lon"], df["lat"]),
                                   crs=settings.geographic_crs)
        else:
            declared = json.loads(path.read_text(encoding="utf-8")).get("datum")
            gdf = gpd.read_file(path)
            if "kind" not in gdf.columns or "name" not in gdf.columns:
                raise DataError(f"reference file {path}: each feature needs 'kind' and 'name' "
                                "properties")
            gdf = gdf.set_geometry(gdf.geometry.representative_point())[["kind", "name",
                                                                         "geometry"]]
    except (ValueError, OSError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"reference file {path} cannot be read ({exc}): pass a GeoJSON or "
                        "CSV of facilities") from exc
    chosen = declared or datum
    if chosen is None:
        raise DataError(f"reference file {path} declares no datum: add a 'datum' (wgs84, gcj02 "
                        "or bd09) to the file or pass datum=")
    chosen = normalize_datum(str(chosen))
    if chosen != "wgs84":
        gdf = convert_gdf(gdf, src=chosen, dst="wgs84")
    unknown = sorted(set(gdf["kind"].astype(str)) - set(FACILITY_KINDS))
    if unknown:
        raise DataError(f"reference file {path}: unknown kind(s) {unknown}; use one of "
                        f"{', '.join(FACILITY_KINDS)}")
    gdf.attrs["datum"] = chosen
    return gdf.reset_index(drop=True)


def merge_reference(osm_fac: gpd.GeoDataFrame, reference: gpd.GeoDataFrame, *,
                    name_m: float = REFERENCE_NAME_M, near_m: float = REFERENCE_NEAR_M
                    ) -> dict[str, Any]:
    """Match a reference inventory with OSM facilities of the same kind, one to one: first by
    normalised name (one containing the other) within ``name_m`` metres, then any facility
    within ``near_m`` metres; nearest first.

    Returns ``{"both": [{reference, osm, distance_m}], "only_osm": [names],
    "only_reference": [names], "counts": {...}}``.
    """
    ref_xy = shapely.get_coordinates(_to_m(reference.geometry.values)) if len(reference) \
        else np.zeros((0, 2))
    osm_xy = shapely.get_coordinates(_to_m(osm_fac.geometry.values)) if len(osm_fac) \
        else np.zeros((0, 2))
    ref_key = [_norm_name(n) for n in reference["name"]]
    osm_key = [_norm_name(n) for n in osm_fac["name"]]
    d = np.hypot(ref_xy[:, None, 0] - osm_xy[None, :, 0], ref_xy[:, None, 1] - osm_xy[None, :, 1])
    pairs = []
    for i in range(len(reference)):
        for j in range(len(osm_fac)):
            same = bool(ref_key[i]) and bool(osm_key[j]) and (
                ref_key[i] in osm_key[j] or osm_key[j] in ref_key[i])
            if (same and d[i, j] <= name_m) or d[i, j] <= near_m:
                pairs.append((0 if same else 1, float(d[i, j]), i, j))
    pairs.sort()
    used_r: set[int] = set()
    used_o: set[int] = set()
    both = []
    for _, dist, i, j in pairs:
        if i in used_r or j in used_o:
            continue
        used_r.add(i)
        used_o.add(j)
        both.append({"reference": str(reference["name"].iloc[i]),
                     "osm": None if osm_fac["name"].iloc[j] is None else
                     str(osm_fac["name"].iloc[j]), "distance_m": round(dist, 1)})
    only_ref = [str(reference["name"].iloc[i]) for i in range(len(reference)) if i not in used_r]
    only_osm = [None if osm_fac["name"].iloc[j] is None else str(osm_fac["name"].iloc[j])
                for j in range(len(osm_fac)) if j not in used_o]
    return {"both": both, "only_osm": only_osm, "only_reference": only_ref,
            "counts": {"both": len(both), "only_osm": len(only_osm),
                       "only_reference": len(only_ref)}}
