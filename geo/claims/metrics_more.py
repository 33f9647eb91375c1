"""More metrics (issue 15): villages, way lengths, road density, commute pairs, rail routes.

Same model as :mod:`geo.claims.metrics` (frozen typed ``Params``, ``evaluate(ctx, p,
detail=)``, ``variants`` by :func:`dataclasses.replace`); the classes are listed in
:data:`MORE_METRIC_CLASSES` and registered into the same ``REGISTRY``.

- ``village_presence``: share of OSM villages with a facility within ``radius_m`` (straight
  line), with the villages without one named (C50 small parks, C84 charging 村村有电充);
- ``way_length`` (km) and ``road_density`` (km/km²): lengths of road-network ways by class,
  name or nearness to a named waterway (C34 canal walkways, C35 greenways, C20 density);
  inconclusive without ways in the data;
- ``od_time_share``: share of population-weighted cell pairs (origin residents x destination
  residents or jobs) within a drive time on the road network (C18 commute, C19 jobs-housing);
  inconclusive without a network (and, for jobs, without a jobs layer);
- ``network_drive_time_share``: the drive-time share refusing the straight-line
  approximation: inconclusive without a network (C61 ambulance reach);
- ``rail_route_change``: change of rail route length (one figure per line, not per track)
  since a baseline year; today's route length per line is reported, the change needs an OSM
  snapshot of the baseline year (C05).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo.claims.context import DEFAULT_SPREAD, NO_NETWORK, StudyContext
from geo.claims.metrics import (
    EXTRA_NAME_PARAM,
    FCLASSES_PARAM,
    KIND_PARAM,
    NAME_PATTERN_PARAM,
    OSM_COMPLETENESS,
    THRESHOLD_STEP,
    DriveTimeShare,
    DriveTimeShareParams,
    Measure,
    Metric,
    Variant,
    as_tuple,
    facility_points,
    spread_variants,
)
from geo.claims.result import ClaimLayers
from geo.claims.spec import MetricSpec, Param
from geo.facilities import names_matching

log = logging.getLogger(__name__)

#: Default Geofabrik/OSM place classes that count as villages.
VILLAGE_CLASSES = ("village",)
#: Corridor half-width (m) of the route-length estimate: tracks of one line closer than
#: twice this count once.
ROUTE_HALF_WIDTH_M = 15.0
#: Most origin (and destination) cells of the commute metric (the most populous are kept).
OD_MAX_CELLS = 400


def _roads(ctx: StudyContext, network_type: str = "walk") -> tuple[gpd.GeoDataFrame, str] | None:
    """:func:`_read_roads`, once per context and network type (several claims measure ways)."""
    return ctx._cached(("roads", network_type), lambda: _read_roads(ctx, network_type))


def _read_roads(ctx: StudyContext, network_type: str) -> tuple[gpd.GeoDataFrame, str] | None:
    """Road ways as lines in the metric CRS (``highway, name, geometry``) and their source:
    the Geofabrik ``roads`` layer when the data has one, else the edges of the context's
    network file (each street once, not once per direction); None when there are no roads."""
    roads = ctx.osm.layers.get("roads")
    if roads is not None and len(roads):
        g = gpd.GeoDataFrame({"highway": roads["fclass"].astype(str).to_numpy(),
                              "name": roads["name"].to_numpy()},
                             geometry=roads.geometry.values, crs=roads.crs)
        return g.to_crs(settings.metric_crs), f"Geofabrik roads layer ({ctx.osm.source})"
    G = ctx.graph(network_type)
    if G is None:
        return None
    from geo.roadnet import RoadNetwork

    if isinstance(G, RoadNetwork):   # each piece of street once, no names on the arrays
        lines = G.piece_lines()
        g = gpd.GeoDataFrame({"highway": G.piece_highway(),
                              "name": np.full(len(lines), None, dtype=object)},
                             geometry=lines, crs=G.crs)
        return g.to_crs(settings.metric_crs), f"{network_type} network of {ctx.network_source()}"
    rows, seen = [], set()
    for u, v, k, d in G.edges(keys=True, data=True):
        # a two-way street is one edge each way (same key); a closed two-way way is two loop
        # edges with two keys and one length
        key = (u, u, round(float(d.get("length", 0.0)), 6)) if u == v else (min(u, v),
                                                                            max(u, v), k)
        if key in seen:
            continue
        seen.add(key)
        geom = d.get("geometry")
        if geom is None:
            a, b = G.nodes[u], G.nodes[v]
            geom = shapely.LineString([(a["x"], a["y"]), (b["x"], b["y"])])
        hw, name = d.get("highway"), d.get("name")
        rows.append((hw[0] if isinstance(hw, list) else hw,
                     name[0] if isinstance(name, list) else name, geom))
    g = gpd.GeoDataFrame(rows, columns=["highway", "name", "geometry"], geometry="geometry",
                         crs=G.graph["crs"])
    return g.to_crs(settings.metric_crs), f"{network_type} network of {ctx.network_source()}"


# ---------------------------------------------------------------------------- villages


@dataclass(frozen=True)
class VillagePresenceParams:
    """Parameters of :class:`VillagePresence`; distances in metres."""

    facility_kind: str
    radius_m: float
    fclasses: tuple[str, ...] | None = None
    name_pattern: str | None = None
    extra_name_pattern: str | None = None
    place_classes: tuple[str, ...] = VILLAGE_CLASSES


def villages(ctx: StudyContext, classes: tuple[str, ...] = VILLAGE_CLASSES
             ) -> gpd.GeoDataFrame:
    """OSM villages inside the area (``places`` points and ``places_a`` representative points
    of the given classes): ``name, fclass, geometry`` in EPSG:4326."""
    frames = []
    for layer in ("places", "places_a"):
        g = ctx.osm.layer(layer)
        g = g[g["fclass"].isin(list(classes))]
        if len(g):
            g = g.set_geometry(g.geometry.representative_point())
            frames.append(g[["name", "fclass", "geometry"]])
    if not frames:
        return gpd.GeoDataFrame({"name": [], "fclass": []},
                                geometry=gpd.GeoSeries([], crs=settings.geographic_crs))
    v = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=settings.geographic_crs)
    return v[v.within(ctx.area.geometry)].reset_index(drop=True)


class VillagePresence(Metric):
    """Share of villages with at least one facility within ``radius_m`` (straight line)."""

    key = "village_presence"
    Params = VillagePresenceParams
    spec = MetricSpec(
        doc="share of OSM villages (place=village) with a facility of facility_kind within "
            "radius_m metres, straight line; the villages without one are listed",
        unit="share",
        required={"facility_kind": KIND_PARAM,
                  "radius_m": Param("number", "village point to facility distance, metres")},
        optional={"fclasses": FCLASSES_PARAM, "name_pattern": NAME_PATTERN_PARAM,
                  "extra_name_pattern": EXTRA_NAME_PARAM,
                  "place_classes": Param("list[str]", "OSM place classes counted as villages "
                                                      "(default village)")},
    )

    def evaluate(self, ctx: StudyContext, p: VillagePresenceParams, *, detail: bool) -> Measure:
        vil = villages(ctx, tuple(p.place_classes))
        if len(vil) == 0:
            return Measure(None, "share", reason="no OSM villages (place="
                           f"{'|'.join(p.place_classes)}) inside the area")
        query: dict[str, Any] = {"fclasses": as_tuple(p.fclasses), "name_pattern": p.name_pattern,
                                 "extra_name_pattern": p.extra_name_pattern}
        if len(ctx.facilities(p.facility_kind, **query)) == 0:
            return Measure(None, "share", reason=f"no {p.facility_kind} facilities are mapped "
                           f"inside the area in OSM ({ctx.osm.source}): presence per village "
                           "cannot be judged on missing data")
        fac = ctx.facilities(p.facility_kind, reach_m=ctx.coverage_reach_m(p.facility_kind),
                             **query)
        vm = vil.to_crs(settings.metric_crs).geometry.values
        fm = fac.geometry.to_crs(settings.metric_crs).values
        hit_v, _ = shapely.STRtree(fm).query(vm, predicate="dwithin", distance=float(p.radius_m))
        has = np.zeros(len(vil), dtype=bool)
        has[np.unique(hit_v)] = True
        m = Measure(float(has.mean()), "share", "straight_line",
                    f"{len(vil)} OSM villages", not_robust=[OSM_COMPLETENESS])
        if detail:
            names = [str(n) if isinstance(n, str) else "(unnamed)" for n in vil["name"]]
            without = [n for n, h in zip(names, has, strict=True) if not h]
            m.notes.append(f"{int(has.sum())} of {len(vil)} villages have a {p.facility_kind} "
                           f"within {p.radius_m:g} m ({len(fac)} facilities, straight line); "
                           f"without one ({len(without)}): " + ", ".join(without[:60])
                           + (" ..." if len(without) > 60 else "") + ".")
            m.breakdown = [{"name": n, "measured": float(h)}
                           for n, h in zip(names, has, strict=True)]
            m.layers = ClaimLayers(facilities=facility_points(fac))
        return m

    def variants(self, ctx: StudyContext, p: VillagePresenceParams) -> list[Variant]:
        r = float(p.radius_m)
        return [Variant("radius_m", round(r * f, 1), dataclasses.replace(p, radius_m=r * f))
                for f in (1 - THRESHOLD_STEP, 1 + THRESHOLD_STEP)]


# ---------------------------------------------------------------------------- way lengths


@dataclass(frozen=True)
class WayLengthParams:
    """Parameters of :class:`WayLength`; distances in metres."""

    highway_classes: tuple[str, ...]
    name_pattern: str | None = None
    near_water_pattern: str | None = None
    near_m: float = 100.0
    network_type: str = "walk"
    necessary_only: bool = False


def _water_layers(ctx: StudyContext) -> dict[str, gpd.GeoDataFrame]:
    """The area's ``waterways`` and ``water_a`` layers: from the context's OSM data when it
    has them, else read once from the data directory (the claims' default layers leave them
    out); empty when neither has them."""
    def load() -> dict[str, gpd.GeoDataFrame]:
        from geo.errors import GeoError
        from geo.sources import load_osm

        have: dict[str, gpd.GeoDataFrame] = {k: ctx.osm.layer(k) for k in ("waterways", "water_a")
                                             if k in ctx.osm.layers}
        if have:
            return have
        try:
            osm = load_osm(ctx.area, data_dir=ctx.data_dir, layers=["waterways", "water_a"])
        except GeoError as exc:
            log.info("no water layers for %s: %s", ctx.area.name, exc)
            return {}
        return {k: osm.layer(k) for k in ("waterways", "water_a")}

    return ctx._cached("water_layers", load)


def _water(ctx: StudyContext, rx: re.Pattern[str]) -> Any:
    """Union (metric CRS) of waterways and water polygons whose name matches, or None."""
    geoms = []
    for g in _water_layers(ctx).values():
        if len(g):
            g = g[names_matching(g, rx)]
            geoms.extend(g.to_crs(settings.metric_crs).geometry.values)
    return shapely.union_all(geoms) if geoms else None


def length_inside_m(lines: np.ndarray, area_m: Any) -> np.ndarray:
    """Length (metres, metric CRS) of each line inside ``area_m``: whole lines inside are not
    cut, only those crossing the boundary are (the same as the length of the intersection)."""
    shapely.prepare(area_m)
    lines = np.asarray(lines, dtype=object)
    out = np.zeros(len(lines))
    whole = shapely.contains_properly(area_m, lines)
    out[whole] = shapely.length(lines[whole])
    cross = ~whole & shapely.intersects(area_m, lines)
    out[cross] = shapely.length(shapely.intersection(lines[cross], area_m))
    return out


def way_lengths_km(ctx: StudyContext, p: WayLengthParams) -> tuple[pd.Series, str] | str:
    """Length (km) inside the area of the selected ways, summed by name, and what was
    counted; or, when nothing can be counted, the reason."""
    got = _roads(ctx, p.network_type)
    if got is None:
        return ("no road or path ways in the data (the offline bundle has no roads layer); "
                + NO_NETWORK)
    ways, source = got
    ways = ways[ways["highway"].isin(list(p.highway_classes))]
    what = f"highway={'|'.join(p.highway_classes)}"
    if p.name_pattern:
        ways = ways[names_matching(ways, re.compile(p.name_pattern))]
        what += f" named like {p.name_pattern!r}"
    if p.near_water_pattern:
        water = _water(ctx, re.compile(p.near_water_pattern))
        if water is None:
            return (f"no waterway named like {p.near_water_pattern!r} in the data "
                    f"({ctx.osm.source}): the ways along it cannot be found")
        ways = ways[shapely.dwithin(ways.geometry.values, water, float(p.near_m))]
        what += f" within {p.near_m:g} m of water named like {p.near_water_pattern!r}"
    km = pd.Series(length_inside_m(ways.geometry.values, ctx.area.geometry_m) / 1000.0,
                   index=pd.Series(ways["name"].to_numpy(), dtype=object).fillna("(unnamed)"))
    return km.groupby(level=0).sum(), f"{what}, from the {source}"


class WayLength(Metric):
    """Total length (km) inside the area of road-network ways by class, name and nearness to
    a named waterway; each street counted once, not once per direction."""

    key = "way_length"
    Params = WayLengthParams
    spec = MetricSpec(
        doc="length in km of ways of highway_classes inside the area (optionally named like "
            "name_pattern, or within near_m of water named like near_water_pattern)",
        unit="km",
        required={"highway_classes": Param("list[str]", "OSM highway values counted")},
        optional={
            "name_pattern": Param("regex", "keep only ways whose name matches"),
            "near_water_pattern": Param("regex", "keep only ways within near_m of a waterway "
                                                 "or water polygon whose name matches"),
            "near_m": Param("number", "distance to the water, metres (default 100)"),
            "network_type": Param("str", "graph the ways come from when there is no roads "
                                         "layer (default walk)", ("walk", "drive")),
            "necessary_only": Param("bool", "the ways measured are more than the claim's "
                                            "(e.g. all greenways for new or upgraded ones): "
                                            "below the target is not met, at or above it "
                                            "inconclusive"),
        },
    )

    def evaluate(self, ctx: StudyContext, p: WayLengthParams, *, detail: bool) -> Measure:
        got = way_lengths_km(ctx, p)
        if isinstance(got, str):
            return Measure(None, "km", reason=got)
        by_name, what = got
        m = Measure(float(by_name.sum()), "km", "clip_length", what,
                    not_robust=[OSM_COMPLETENESS], necessary_only=bool(p.necessary_only))
        if detail:
            m.notes.append(f"Ways: {what}; each street once (not once per direction).")
            m.breakdown = [{"name": str(k), "measured": round(float(v), 3)}
                           for k, v in by_name.sort_values(ascending=False).items() if v > 0]
        return m

    def variants(self, ctx: StudyContext, p: WayLengthParams) -> list[Variant]:
        if p.near_water_pattern:
            d = float(p.near_m)
            return [Variant("near_m", v, dataclasses.replace(p, near_m=v))
                    for v in (d / 2, d * 2)]
        return []


@dataclass(frozen=True)
class RoadDensityParams:
    """Parameters of :class:`RoadDensity`."""

    highway_classes: tuple[str, ...]
    # variant knobs
    extra_classes: tuple[str, ...] = ()   #: classes a variant adds


class RoadDensity(Metric):
    """Road length (km) inside the area per km² of the area."""

    key = "road_density"
    Params = RoadDensityParams
    spec = MetricSpec(
        doc="km of drive-network ways of highway_classes inside the area per km² of the area",
        unit="km_per_km2",
        required={"highway_classes": Param("list[str]", "OSM highway values counted (the "
                                                        "Chinese 快速路/主干路/次干路/支路)")},
        optional={},
    )

    def evaluate(self, ctx: StudyContext, p: RoadDensityParams, *, detail: bool) -> Measure:
        classes = tuple(p.highway_classes) + tuple(p.extra_classes)
        got = way_lengths_km(ctx, WayLengthParams(highway_classes=classes,
                                                  network_type="drive"))
        if isinstance(got, str):
            return Measure(None, "km_per_km2", reason=got)
        by_name, what = got
        area_km2 = float(ctx.area.area_km2)
        m = Measure(float(by_name.sum()) / area_km2, "km_per_km2", "clip_length",
                    f"{area_km2:.1f} km² ({ctx.area.name})",
                    not_robust=[OSM_COMPLETENESS, ("measured over the whole area; the plan's "
                                "figure is for the 城区 (urban district), whose boundary the "
                                "plan does not give")])
        if detail:
            m.notes.append(f"{float(by_name.sum()):.1f} km of {what} over {area_km2:.1f} km².")
        return m

    def variants(self, ctx: StudyContext, p: RoadDensityParams) -> list[Variant]:
        return [Variant("highway_classes", "+ residential, unclassified",
                        dataclasses.replace(p, extra_classes=("residential", "unclassified")))]


# ---------------------------------------------------------------------------- commute pairs


@dataclass(frozen=True)
class OdTimeShareParams:
    """Parameters of :class:`OdTimeShare`; times in minutes."""

    threshold_min: float
    destinations: str = "population"
    speed_profile: str = "drive"
    max_cells: int = OD_MAX_CELLS
    # variant knobs
    spread: str = DEFAULT_SPREAD
    speed_factor: float = 1.0


def od_share(cost: Any, w_origin: np.ndarray, w_dest: np.ndarray, limit: float
             ) -> float | None:
    """Weighted share of (origin, destination) pairs with ``cost[i, j] <= limit``: the sum of
    ``w_origin[i] * w_dest[j]`` over the stored pairs within ``limit`` divided by the sum over
    all pairs. ``cost`` is a sparse origin x destination matrix holding reachable pairs."""
    total = float(w_origin.sum()) * float(w_dest.sum())
    if total <= 0:
        return None
    c = cost.tocoo()
    ok = c.data <= limit
    return float((w_origin[c.row[ok]] * w_dest[c.col[ok]]).sum()) / total


class OdTimeShare(Metric):
    """Share of weighted cell pairs whose drive time is within ``threshold_min`` (free flow,
    on the road network): residents x residents, or residents x jobs."""

    key = "od_time_share"
    Params = OdTimeShareParams
    spec = MetricSpec(
        doc="share of origin-destination cell pairs (weighted by residents at the origin and "
            "residents or jobs at the destination) within threshold_min of driving on the "
            "road network; inconclusive without a network",
        unit="share",
        required={"threshold_min": Param("number", "door-to-door drive time, minutes")},
        optional={
            "destinations": Param("str", "what the destination cells are weighted by",
                                  ("population", "jobs")),
            "speed_profile": Param("str", "speed profile of geo.network", ("drive",)),
            "max_cells": Param("int", f"most origin (and destination) cells, the most "
                                      f"populous first (default {OD_MAX_CELLS})"),
        },
    )

    def evaluate(self, ctx: StudyContext, p: OdTimeShareParams, *, detail: bool) -> Measure:
        from geo.coverage import network_costs
        from geo.network import load_profile

        if ctx.graph("drive") is None:
            return Measure(None, "share", reason=f"commute times need a road network; "
                                                 f"{NO_NETWORK}")
        pop = ctx.population(p.spread)
        if p.destinations == "jobs":
            dest_w = ctx.jobs()
            if dest_w is None:
                return Measure(None, "share", reason="jobs-housing balance needs a jobs layer "
                               "(jobs per cell) and this evaluation has none (jobs=FILE): OSM "
                               "has no jobs")
            dest_w = np.asarray(dest_w, dtype=float)
        else:
            dest_w = pop
        cells = ctx.cells(p.spread)
        n = int(p.max_cells)
        orig = np.argsort(-pop, kind="stable")[:n]
        orig = orig[pop[orig] > 0]
        dest = np.argsort(-dest_w, kind="stable")[:n]
        dest = dest[dest_w[dest] > 0]
        if len(orig) == 0 or len(dest) == 0:
            return Measure(None, "share", reason="no residents or destinations in the cells")
        prof = load_profile(p.speed_profile)
        prof = dataclasses.replace(prof, speed_factor=prof.speed_factor * float(p.speed_factor))
        limit = float(p.threshold_min) * 60.0
        pts = gpd.GeoDataFrame(geometry=cells.geometry.values[dest], crs=cells.crs)
        pts = gpd.GeoDataFrame(geometry=pts.representative_point().values, crs=cells.crs)
        graph = ctx.cost_graph("drive", prof)
        assert graph is not None    # checked above
        # one search serves the threshold variants: pairs are searched a step beyond the
        # threshold and kept for the next reading of the same cells and speeds
        store = ctx._cached("od-costs", dict)
        key = (orig.tobytes(), dest.tobytes(), prof.name, str(prof.path), prof.speed_factor)
        if key not in store or store[key][0] < limit:
            search = limit * (1 + THRESHOLD_STEP)
            store[key] = (search, network_costs(
                graph[0], cells.iloc[orig].reset_index(drop=True), pts, limit=search,
                weight=graph[1], reverse=True))
        cost = store[key][1]
        m = Measure(od_share(cost, pop[orig], dest_w[dest], limit), "share", "network",
                    f"residents x {p.destinations} over {len(orig)} x {len(dest)} cells",
                    not_robust=[("free-flow speeds: congestion is not modelled, so real "
                                "commutes take longer")])
        if detail:
            kept = float(pop[orig].sum()) / max(float(pop.sum()), 1e-9)
            m.notes.append(f"Drive times on the road network ({ctx.network_source()}, "
                           f"{prof.name} profile, free flow) from the {len(orig)} most "
                           f"populous cells ({kept:.0%} of residents) to the {len(dest)} cells "
                           f"with the most {p.destinations}; pairs weighted by residents x "
                           f"{p.destinations}; threshold {p.threshold_min:g} min.")
        return m

    def variants(self, ctx: StudyContext, p: OdTimeShareParams) -> list[Variant]:
        t = float(p.threshold_min)
        out = [Variant("threshold_min", round(t * f, 2),
                       dataclasses.replace(p, threshold_min=t * f))
               for f in (1 - THRESHOLD_STEP, 1 + THRESHOLD_STEP)]
        out += [Variant("drive_speed_factor", f, dataclasses.replace(p, speed_factor=f))
                for f in (0.8, 1.2)]
        return out + spread_variants(p)


# ---------------------------------------------------------------------------- drive time


@dataclass(frozen=True)
class NetworkDriveTimeShareParams(DriveTimeShareParams):
    """:class:`DriveTimeShareParams` plus the name filters of the facility query."""

    name_pattern: str | None = None
    extra_name_pattern: str | None = None


class NetworkDriveTimeShare(DriveTimeShare):
    """The drive-time share on the road network only: without one the claim is inconclusive
    (no straight-line approximation), for claims whose reading depends on the streets."""

    key = "network_drive_time_share"
    Params = NetworkDriveTimeShareParams
    spec = dataclasses.replace(DriveTimeShare.spec,
                               doc=DriveTimeShare.spec.doc + "; on the road network only "
                                   "(inconclusive without one)",
                               optional={**DriveTimeShare.spec.optional,
                                         "name_pattern": NAME_PATTERN_PARAM,
                                         "extra_name_pattern": EXTRA_NAME_PARAM})

    def evaluate(self, ctx: StudyContext, p: Any, *, detail: bool) -> Measure:
        if ctx.graph("drive") is None:
            return Measure(None, "share", reason=f"drive times need a road network; "
                                                 f"{NO_NETWORK}")
        return super().evaluate(ctx, p, detail=detail)

    def variants(self, ctx: StudyContext, p: Any) -> list[Variant]:
        return [v for v in super().variants(ctx, p) if v.parameter != "method"]


# ---------------------------------------------------------------------------- rail routes


@dataclass(frozen=True)
class RailRouteChangeParams:
    """Parameters of :class:`RailRouteChange`."""

    baseline_year: int
    fclasses: tuple[str, ...] = ("rail", "subway", "light_rail", "tram", "monorail")
    half_width_m: float = ROUTE_HALF_WIDTH_M


def route_length_km(lines_m: Any, area_m: Any, half_width_m: float = ROUTE_HALF_WIDTH_M
                    ) -> float:
    """Route length (km) of one line's tracks inside ``area_m`` (metric CRS), one figure per
    line: the tracks are buffered by ``half_width_m`` (flat ends) and dissolved into corridors;
    a corridor of length L and width W has area L*W and outline 2(L + W), so
    L = (s + sqrt(s² - 4A)) / 2 with s = half the outline and A the area (holes filled).
    Exact for straight tracks, whatever their number and spacing (< 2 * half_width_m)."""
    geom = shapely.intersection(shapely.union_all(list(lines_m)), area_m)
    if geom.is_empty or geom.length == 0:
        return 0.0
    corridor = shapely.buffer(geom, half_width_m, cap_style="flat")
    total = 0.0
    for part in shapely.get_parts(corridor):
        shell = shapely.Polygon(part.exterior)
        s, a = shell.exterior.length / 2.0, shell.area
        total += (s + np.sqrt(max(s * s - 4.0 * a, 0.0))) / 2.0
    return total / 1000.0


class RailRouteChange(Metric):
    """Change of rail route length inside the area since ``baseline_year``: needs the
    baseline's network, which one OSM snapshot cannot give; today's route length by line is
    measured and reported in the breakdown."""

    key = "rail_route_change"
    Params = RailRouteChangeParams
    spec = MetricSpec(
        doc="change in km of rail route length (one figure per line, not per track) inside "
            "the area since baseline_year; needs an OSM snapshot of that year",
        unit="km",
        required={"baseline_year": Param("int", "year the change is counted from")},
        optional={"fclasses": Param("list[str]", "railway classes counted"),
                  "half_width_m": Param("number", "corridor half-width merging parallel "
                                                  "tracks, metres (default 15)")},
    )

    def evaluate(self, ctx: StudyContext, p: RailRouteChangeParams, *,
                 detail: bool) -> Measure:
        lines = ctx.osm.layer("railways")
        lines = lines[lines["fclass"].isin(list(p.fclasses))]
        names = pd.Series(lines["name"].to_numpy(), dtype=object).fillna("(unnamed)")
        geom = lines.to_crs(settings.metric_crs).geometry.values
        by_line = {}
        for name in sorted(set(names)):
            km = route_length_km(geom[(names == name).to_numpy()], ctx.area.geometry_m,
                                 float(p.half_width_m))
            if km > 0.05:
                by_line[name] = km
        date = str(ctx.osm.osm_data_date or "")[:10] or "unknown date"
        m = Measure(None, "km", reason=f"the change since {p.baseline_year} needs the "
                    f"{p.baseline_year} rail network (an OSM snapshot of that year, e.g. a dated "
                    f"Geofabrik extract), and this data is one snapshot ({date}); today's route "
                    f"length inside the area is {sum(by_line.values()):.1f} km over "
                    f"{len(by_line)} named lines (breakdown)")
        m.breakdown = [{"name": k, "measured": round(float(v), 2)} for k, v in by_line.items()]
        m.notes.append(f"Route length per line: tracks within {2 * p.half_width_m:g} m of each "
                       "other count once (corridor length from its area and outline), not "
                       "once per track.")
        return m


#: The metrics of this module, registered by :mod:`geo.claims.metrics`.
MORE_METRIC_CLASSES: tuple[type[Metric], ...] = (
    VillagePresence, WayLength, RoadDensity, OdTimeShare, NetworkDriveTimeShare,
    RailRouteChange,
)
