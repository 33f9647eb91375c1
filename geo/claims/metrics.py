"""Evaluators: one per metric key of :data:`geo.claims.registry.METRICS`.

Each evaluator takes a :class:`~geo.claims.context.StudyContext` and the claim's parameters
(plus private ``_``-prefixed overrides set by sensitivity variants) and returns a
:class:`Measure`. Methods are chosen in the order network > straight line > approximation, and
every measure names the one it used. Each metric also lists its sensitivity variants.

Costs are computed once per (facility set, method) and cached in the context; a variant that
only moves a threshold, a speed, a turnout or a circuity re-thresholds the cached costs (exact
for straight-line and approximation costs, which scale linearly with those parameters).
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo.claims.context import NO_NETWORK, StudyContext
from geo.claims.result import ClaimLayers
from geo.coverage import CIRCUITY, straight_line_distance
from geo.facilities import names_matching

log = logging.getLogger(__name__)

#: Why no count of mapped facilities is called robust.
OSM_COMPLETENESS = ("a count of mapped facilities depends on how completely OSM maps them, "
                    "which no variant here can test")

#: Relative threshold change of the threshold variants (issue: threshold +-20 %).
THRESHOLD_STEP = 0.20
#: Circuity range of the approximation (network / straight-line distance).
CIRCUITY_RANGE = (1.2, 1.5)
#: Turnout range for fire response, minutes (issue: 0-1.5 min).
TURNOUT_RANGE_MIN = (0.0, 1.5)
#: Fire-engine average speeds tried, km/h (Chinese fire planning uses about 30-35 km/h).
FIRE_SPEEDS_KPH = (25.0, 35.0, 40.0)
#: Relative speed changes tried for the general drive profile.
DRIVE_SPEED_FACTORS = (0.8, 1.2)


@dataclass
class Measure:
    """What one evaluation measured.

    ``value`` is None when nothing could be measured; ``reason`` then says why (the verdict is
    ``inconclusive``). ``not_robust`` lists reasons the verdict cannot be called robust
    whatever the variants say (e.g. jobs missing from the denominator).
    """

    value: float | None
    unit: str
    method: str | None = None
    denominator: str | None = None
    notes: list[str] = field(default_factory=list)
    breakdown: list[dict[str, Any]] = field(default_factory=list)
    layers: ClaimLayers | None = None
    reason: str | None = None
    not_robust: list[str] = field(default_factory=list)
    #: The measured kind is broader than the claim's: reaching the target does not show it met.
    necessary_only: bool = False


@dataclass(frozen=True)
class Variant:
    """One sensitivity variant: a label for the parameter and value, and the overrides."""

    parameter: str
    value: Any
    overrides: Mapping[str, Any]


# ---------------------------------------------------------------------------- helpers


def _share(weights: np.ndarray, mask: np.ndarray) -> float | None:
    total = float(weights.sum())
    return float(weights[mask].sum()) / total if total > 0 else None


def _weights(ctx: StudyContext, denominator: str, spread: str) -> np.ndarray:
    if denominator == "area":
        return ctx.cell_area_m2()
    return ctx.population(spread)


def _breakdown(ctx: StudyContext, weights: np.ndarray, mask: np.ndarray,
               label: str) -> list[dict[str, Any]]:
    """Per township: the weighted share of cells in ``mask`` (``measured``), with totals."""
    towns = ctx.cell_township()
    rows = []
    frame = pd.DataFrame({"town": pd.Series(towns, dtype=object).fillna("(outside townships)"),
                          "w": weights, "hit": np.where(mask, weights, 0.0)})
    for name, g in frame.groupby("town", sort=True):
        total = float(g["w"].sum())
        rows.append({"name": str(name), "measured": float(g["hit"].sum()) / total
                     if total > 0 else None, label: round(total, 1),
                     f"{label}_counted": round(float(g["hit"].sum()), 1)})
    return rows


def _facility_points(fac: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Canonical point frame for maps (drops extra geometry columns such as ``polygon``)."""
    cols = [c for c in fac.columns if c != "geometry" and not isinstance(
        fac[c].dtype, gpd.array.GeometryDtype)]
    return gpd.GeoDataFrame(fac[cols].copy(), geometry=fac.geometry.values, crs=fac.crs)


def _cells_layer(ctx: StudyContext, cost: np.ndarray, covered: np.ndarray, cost_col: str,
                 spread: str = "area") -> gpd.GeoDataFrame:
    cells = ctx.cells(spread)
    out = cells[["cell_id", "area_m2", "population", "geometry"]].copy()
    out["township"] = ctx.cell_township()
    out[cost_col] = cost
    out["covered"] = covered
    return out


def _buffers(fac: gpd.GeoDataFrame, radius_m: float | np.ndarray, label: str
             ) -> gpd.GeoDataFrame:
    """Straight-line service areas: facility geometries buffered by their radius, dissolved."""
    g = fac.geometry.to_crs(settings.metric_crs)
    poly = shapely.union_all(shapely.buffer(g.values, radius_m))
    return gpd.GeoDataFrame({"facility": [label], "cutoff": [float(np.max(radius_m))],
                             "unit": ["m"]}, geometry=[poly],
                            crs=settings.metric_crs).to_crs(settings.geographic_crs)


def _distance(ctx: StudyContext, key: tuple[Any, ...], fac: gpd.GeoDataFrame) -> np.ndarray:
    """Straight-line metres from every cell to the nearest of ``fac`` (cached by ``key``)."""
    return ctx.memo(("dist",) + key,
                    lambda: straight_line_distance(ctx.cells("area"), fac)[0])


def _network_cost(ctx: StudyContext, key: tuple[Any, ...], G: Any, fac: gpd.GeoDataFrame, *,
                  weight: str, reverse: bool) -> np.ndarray:
    """Network cost (metres or seconds) between every cell and its nearest facility."""
    from geo.snapping import point_costs

    def run() -> np.ndarray:
        cells = ctx.cells("area")
        pts = cells.geometry.representative_point()
        targets = gpd.GeoDataFrame(geometry=pts.values, crs=cells.crs)
        r = point_costs(G, fac, targets, weight=weight, reverse=reverse)
        return r["cost"].to_numpy(dtype=float)

    return ctx.memo(("net",) + key + (weight, reverse), run)


def _fac_key(p: Mapping[str, Any]) -> tuple[Any, ...]:
    return (p["facility_kind"], _tuple(p.get("fclasses")), _tuple(p.get("highway_classes")), p.get("name_pattern"),
            p.get("extra_name_pattern"), _tuple(p.get("_station_modes")))


def _tuple(v: Any) -> tuple[Any, ...] | None:
    return tuple(v) if v is not None else None


def _facilities(ctx: StudyContext, p: Mapping[str, Any], *, coverage: bool
                ) -> gpd.GeoDataFrame:
    """The claim's facilities; for ``coverage`` also those just outside the area that serve
    it (:meth:`StudyContext.coverage_reach_m`), for counts only those inside."""
    kind = p["facility_kind"]
    fclasses = p.get("highway_classes") if kind == "expressway_entrance" else p.get("fclasses")
    fac = ctx.facilities(kind, fclasses=_tuple(fclasses), name_pattern=p.get("name_pattern"),
                         extra_name_pattern=p.get("extra_name_pattern"),
                         reach_m=ctx.coverage_reach_m(kind) if coverage else 0.0)
    modes = p.get("_station_modes")
    if modes is not None and "mode" in fac.columns:
        fac = fac[fac["mode"].isin(list(modes))].reset_index(drop=True)
    return fac


def _none_mapped_inside(ctx: StudyContext, p: Mapping[str, Any]) -> bool:
    """True when OSM maps no facility of the claim's kind inside the area itself (those across
    the border may still serve it, but an area with none of its own points at a gap in OSM, so
    coverage from neighbours alone would be judged on missing data). Expressway entrances are
    exempt: a district may rightly have none of its own."""
    if p["facility_kind"] == "expressway_entrance":
        return False
    return len(_facilities(ctx, p, coverage=False)) == 0


def _no_facilities(p: Mapping[str, Any], unit: str) -> Measure:
    return Measure(None, unit, reason=f"no {p['facility_kind']} facilities are mapped inside "
                                      "the area in OSM: coverage cannot be judged on missing "
                                      "data")


# ---------------------------------------------------------------------------- metrics


def share_within_distance(ctx: StudyContext, p: Mapping[str, Any], *, detail: bool) -> Measure:
    """Share of residents within ``threshold_m`` of the nearest facility."""
    fac = _facilities(ctx, p, coverage=True)
    if len(fac) == 0 or _none_mapped_inside(ctx, p):
        return _no_facilities(p, "share")
    threshold = float(p["threshold_m"]) * float(p.get("_threshold_factor", 1.0))
    spread = p.get("_spread", "area")
    notes: list[str] = []
    G = ctx.graph("walk") if p["mode"] == "walk" else None
    method = p.get("_method") or ("network" if G is not None else "straight_line")
    if method == "network":
        cost = _network_cost(ctx, _fac_key(p), G, fac, weight="length", reverse=True)
    else:
        cost = _distance(ctx, _fac_key(p), fac)
        if p["mode"] == "walk" and detail:
            notes.append("No walk network is available, so distance is straight-line (the "
                         "official 服务半径 method); walking distance along streets is longer, so "
                         "network coverage would be lower.")
    covered = cost <= threshold
    pop = ctx.population(spread)
    m = Measure(_share(pop, covered), "share", method, "population", notes)
    if p["denominator"] == "population_and_jobs":
        m.denominator = "population (jobs not available)"
        m.not_robust.append("the plan counts residents AND jobs; jobs are not in OSM, so only "
                            "residents (WorldPop) are measured")
    if detail:
        m.notes.append(f"{len(fac)} {p['facility_kind']} facilities; threshold "
                       f"{threshold:g} m; {len(pop)} cells of {ctx.cell_size_m:g} m.")
        m.breakdown = _breakdown(ctx, pop, covered, "population")
        sa = _buffers(fac, threshold, f"within {threshold:g} m") if method != "network" else None
        if method == "network":
            from geo.coverage import service_areas
            sa = service_areas(G, fac, cutoff=threshold, by_facility=False)
        m.layers = ClaimLayers(cells=_cells_layer(ctx, cost, covered, "cost_m"),
                               cost_column="cost_m", cost_unit="m", covered_column="covered",
                               threshold=threshold, facilities=_facility_points(fac),
                               service_areas=sa)
    return m


def _share_within_distance_variants(ctx: StudyContext, p: Mapping[str, Any]) -> list[Variant]:
    t = float(p["threshold_m"])
    out = [Variant("threshold_m", round(t * (1 - THRESHOLD_STEP), 1),
                   {"_threshold_factor": 1 - THRESHOLD_STEP}),
           Variant("threshold_m", round(t * (1 + THRESHOLD_STEP), 1),
                   {"_threshold_factor": 1 + THRESHOLD_STEP}),
           Variant("population_spread", "settlements", {"_spread": "settlements"})]
    if p["mode"] == "walk" and ctx.graph("walk") is not None:
        out.append(Variant("method", "straight_line", {"_method": "straight_line"}))
    if p["facility_kind"] == "rail_station":
        out.append(Variant("stations", "metro and light rail only",
                           {"_station_modes": ("subway", "light_rail", "monorail", "tram")}))
    return out


def _profile(p: Mapping[str, Any]) -> Any:
    from geo.network import load_profile

    prof = load_profile(p["speed_profile"])
    factor = float(p.get("_speed_factor", 1.0))
    return dataclasses.replace(prof, speed_factor=prof.speed_factor * factor)


def drive_time_share(ctx: StudyContext, p: Mapping[str, Any], *, detail: bool) -> Measure:
    """Share of demand whose drive time (plus turnout) to/from the nearest facility is within
    ``threshold_min``."""
    kind = p["facility_kind"]
    denominator = p.get("_denominator", p.get("denominator", "population"))
    spread = p.get("_spread", "area")
    turnout = float(p.get("_turnout_min", p.get("turnout_min", 0.0)))
    threshold_min = float(p["threshold_min"]) * float(p.get("_threshold_factor", 1.0))
    budget_s = (threshold_min - turnout) * 60.0
    G = ctx.graph("drive")
    if kind == "expressway_entrance" and G is None:
        return Measure(None, "share", None, denominator,
                       reason=f"expressway entrances and drive times need a road network; "
                              f"{NO_NETWORK}")
    fac = _facilities(ctx, p, coverage=True)
    if len(fac) == 0 or _none_mapped_inside(ctx, p):
        return _no_facilities(p, "share")
    prof = _profile(p)
    notes: list[str] = []
    method = p.get("_method") or ("network" if G is not None else "approximation")
    if method == "network":
        Gp = ctx.memo(("graph-speed", p["speed_profile"], prof.speed_factor),
                      lambda: _with_speeds(ctx.graph("drive"), prof))
        cost_s = _network_cost(ctx, _fac_key(p) + (p["speed_profile"], prof.speed_factor), Gp,
                               fac,
                               weight="travel_time", reverse=(p["direction"] == "to_facility"))
    else:
        circuity = float(p.get("_circuity", CIRCUITY))
        speed_kph = prof.default_kph * prof.speed_factor
        cost_s = _distance(ctx, _fac_key(p), fac) * circuity / (speed_kph / 3.6)
        if detail:
            notes.append(f"No road network is available: drive time is approximated as "
                         f"straight-line distance x {circuity:g} (circuity) at {speed_kph:g} km/h "
                         f"({prof.name} profile); {NO_NETWORK}.")
    covered = cost_s <= budget_s
    weights = _weights(ctx, denominator, spread)
    m = Measure(_share(weights, covered), "share", method, denominator, notes)
    if detail:
        m.notes.append(f"{len(fac)} {kind} facilities; budget {threshold_min:g} min"
                       + (f" = {turnout:g} min turnout + {threshold_min - turnout:g} min driving"
                          if turnout else " of driving") + f" ({prof.name} profile).")
        if p.get("planned_new_facilities"):
            m.notes.append(f"The plan adds {p['planned_new_facilities']} new {kind} facilities "
                           f"whose sites are not given; 'geo site --claim <id> --add "
                           f"{p['planned_new_facilities']}' proposes sites that maximise "
                           f"coverage.")
        m.breakdown = _breakdown(ctx, weights, covered, denominator)
        cost_min = cost_s / 60.0 + turnout
        sa = None
        if method == "network":
            from geo.coverage import service_areas
            sa = service_areas(Gp, fac, cutoff=budget_s, weight="travel_time",
                               reverse=(p["direction"] == "to_facility"), by_facility=False)
        elif budget_s > 0:
            circuity = float(p.get("_circuity", CIRCUITY))
            radius = budget_s * (prof.default_kph * prof.speed_factor / 3.6) / circuity
            sa = _buffers(fac, radius, f"within {threshold_min:g} min (approximation)")
        m.layers = ClaimLayers(cells=_cells_layer(ctx, cost_min, covered, "cost_min"),
                               cost_column="cost_min", cost_unit="min", covered_column="covered",
                               threshold=threshold_min, facilities=_facility_points(fac),
                               service_areas=sa)
    return m


def _with_speeds(G: Any, prof: Any) -> Any:
    from geo import network

    H = G.copy()
    network.clear_cache(H)
    return network.add_speeds(H, prof)


def _drive_time_share_variants(ctx: StudyContext, p: Mapping[str, Any]) -> list[Variant]:
    t = float(p["threshold_min"])
    out = [Variant("threshold_min", round(t * (1 - THRESHOLD_STEP), 2),
                   {"_threshold_factor": 1 - THRESHOLD_STEP}),
           Variant("threshold_min", round(t * (1 + THRESHOLD_STEP), 2),
                   {"_threshold_factor": 1 + THRESHOLD_STEP})]
    if p["speed_profile"] == "fire":
        base = _profile(p).default_kph
        out += [Variant("fire_engine_speed_kph", v, {"_speed_factor": v / base})
                for v in FIRE_SPEEDS_KPH]
        out += [Variant("turnout_min", v, {"_turnout_min": v}) for v in TURNOUT_RANGE_MIN
                if v != float(p.get("turnout_min", 0.0)) and v < t]
    else:
        out += [Variant("drive_speed_factor", f, {"_speed_factor": f})
                for f in DRIVE_SPEED_FACTORS]
    if ctx.graph("drive") is None:
        out += [Variant("circuity", c, {"_circuity": c}) for c in CIRCUITY_RANGE]
    else:
        out.append(Variant("method", "approximation", {"_method": "approximation"}))
    den = p.get("denominator", "population")
    out.append(Variant("denominator", "area" if den == "population" else "population",
                       {"_denominator": "area" if den == "population" else "population"}))
    if den == "population":
        out.append(Variant("population_spread", "settlements", {"_spread": "settlements"}))
    return out


def _park_radii(parks: gpd.GeoDataFrame, p: Mapping[str, Any]) -> np.ndarray:
    """Service radius (m) of each park from the tiers; NaN for parks that do not count."""
    area_ha = parks["area_ha"].to_numpy(dtype=float)
    factor = float(p.get("_radius_factor", 1.0))
    min_ha = float(p.get("_min_park_area_ha", p["min_park_area_ha"]))
    radii = np.full(len(parks), np.nan)
    if p.get("_benchmark_radius_m") is not None:
        radii[:] = float(p["_benchmark_radius_m"])
    else:
        tiers = sorted(p["tiers"], key=lambda t: -float(t["min_area_ha"]))
        for t in reversed(tiers):  # smallest tier first, larger ones overwrite
            radii[area_ha >= float(t["min_area_ha"])] = float(t["radius_m"])
        if np.isnan(radii).any() and min_ha < min(float(t["min_area_ha"]) for t in tiers):
            smallest = min(tiers, key=lambda t: float(t["min_area_ha"]))
            radii[np.isnan(radii)] = float(smallest["radius_m"])
    radii[area_ha < min_ha] = np.nan
    return radii * factor


def park_blind_spots(ctx: StudyContext, p: Mapping[str, Any], *, detail: bool) -> Measure:
    """Share of residents (or area) outside every park's tiered service radius."""
    parks = ctx.facilities("park", fclasses=_tuple(p.get("fclasses")),
                           reach_m=ctx.coverage_reach_m("park"))
    denominator = p.get("_denominator", p.get("denominator", "population"))
    spread = p.get("_spread", "area")
    if len(parks) == 0 or len(ctx.facilities("park", fclasses=_tuple(p.get("fclasses")))) == 0:
        return Measure(None, "share", reason="no park polygons are mapped inside the area in "
                                             "OSM: blind spots cannot be judged on missing data")
    radii = _park_radii(parks, p)
    counted = ~np.isnan(radii)
    if not counted.any():
        return Measure(None, "share", reason="no park reaches the smallest size tier")
    polys = gpd.GeoDataFrame({"facility_id": parks["facility_id"].to_numpy()},
                             geometry=parks["polygon"].values, crs=settings.geographic_crs)
    G = ctx.graph("walk")
    method = p.get("_method") or ("network" if p.get("mode") == "walk" and G is not None
                                  else "straight_line")
    covered = np.zeros(len(ctx.cells("area")), dtype=bool)
    nearest_gap = np.full(len(covered), np.inf)   # distance beyond the nearest radius, m
    for r in np.unique(radii[counted]):
        sel = radii == r
        key = ("park", _tuple(p.get("fclasses")), tuple(np.flatnonzero(sel)))
        if method == "network":
            d = _network_cost(ctx, key, G, _outline_points(polys[sel]), weight="length",
                              reverse=True)
        else:
            d = _distance(ctx, key, polys[sel])
        covered |= d <= r
        nearest_gap = np.minimum(nearest_gap, d - r)
    weights = _weights(ctx, denominator, spread)
    blind = ~covered
    value = _share(weights, blind)
    m = Measure(value, "share", method, denominator)
    if detail:
        tier_txt = (f"one radius of {p['_benchmark_radius_m']:g} m" if
                    p.get("_benchmark_radius_m") is not None else
                    ", ".join(f"parks >= {t['min_area_ha']:g} ha serve {t['radius_m']:g} m"
                              for t in p["tiers"]))
        how = ("walking distance along the network to the park outline (sampled every "
               f"{OUTLINE_STEP_M:g} m; entrances are not mapped)" if method == "network" else
               "straight-line distance from the park outline (the official 服务半径 method)")
        m.notes.append(f"{int(counted.sum())} of {len(parks)} OSM park polygons count (>= "
                       f"{p['min_park_area_ha']:g} ha); {tier_txt}; {how}.")
        if p.get("mode") == "walk" and G is None:
            m.notes.append("No walk network is available, so the straight-line radius is used; "
                           "walking distances are longer, so network blind spots would be "
                           "larger.")
        m.breakdown = _breakdown(ctx, weights, blind, denominator)
        sel = counted
        sa = gpd.GeoDataFrame(
            {"facility": ["park service radii"], "cutoff": [float(np.nanmax(radii))],
             "unit": ["m"]},
            geometry=[shapely.union_all(shapely.buffer(
                polys[sel].to_crs(settings.metric_crs).geometry.values, radii[sel]))],
            crs=settings.metric_crs).to_crs(settings.geographic_crs)
        m.layers = ClaimLayers(cells=_cells_layer(ctx, np.maximum(nearest_gap, 0.0), covered,
                                                  "gap_m"),
                               cost_column="gap_m", cost_unit="m", covered_column="covered",
                               threshold=None, facilities=_facility_points(parks[counted]),
                               cost_label="Distance beyond the nearest park's service radius",
                               service_areas=sa)
    return m


#: Spacing of the points that stand for a park's outline on the walk network, metres.
OUTLINE_STEP_M = 50.0


def _outline_points(polys: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Points every :data:`OUTLINE_STEP_M` along the park outlines (EPSG:4326): where a
    walker can step into the park when its entrances are not mapped."""
    g = polys.to_crs(settings.metric_crs).geometry.values
    rings = shapely.segmentize(shapely.boundary(g), OUTLINE_STEP_M)
    pts = shapely.points(shapely.get_coordinates(rings))
    owner = np.repeat(polys["facility_id"].to_numpy(),
                      shapely.get_num_coordinates(rings))
    return gpd.GeoDataFrame({"facility_id": owner}, geometry=pts,
                            crs=settings.metric_crs).to_crs(settings.geographic_crs)


def _park_blind_spots_variants(ctx: StudyContext, p: Mapping[str, Any]) -> list[Variant]:
    out = [Variant("radius_factor", 1 - THRESHOLD_STEP, {"_radius_factor": 1 - THRESHOLD_STEP}),
           Variant("radius_factor", 1 + THRESHOLD_STEP, {"_radius_factor": 1 + THRESHOLD_STEP})]
    if p.get("benchmark_radius_m") is not None:
        out.append(Variant("benchmark_radius_m", p["benchmark_radius_m"],
                           {"_benchmark_radius_m": p["benchmark_radius_m"]}))
    out += [Variant("min_park_area_ha", v, {"_min_park_area_ha": v}) for v in (0.0, 0.5)
            if v != float(p["min_park_area_ha"])]
    den = p.get("denominator", "population")
    out.append(Variant("denominator", "area" if den == "population" else "population",
                       {"_denominator": "area" if den == "population" else "population"}))
    out.append(Variant("population_spread", "settlements", {"_spread": "settlements"}))
    if ctx.graph("walk") is not None:
        other = "straight_line" if p.get("mode") == "walk" else "network"
        out.append(Variant("method", other, {"_method": other}))
    return out


def facility_count(ctx: StudyContext, p: Mapping[str, Any], *, detail: bool) -> Measure:
    """Number of facilities (or of listed names found, or of stations on a line)."""
    fac = _facilities(ctx, p, coverage=False)
    notes: list[str] = []
    if p.get("names"):
        names = [str(n) for n in p["names"]]
        strict = bool(p.get("_exact_names", False))
        have = [str(n) for n in fac["name"] if isinstance(n, str)]
        found = [n for n in names if any((h == n) if strict else (n in h) for h in have)]
        missing = [n for n in names if n not in found]
        m = Measure(float(len(found)), "count", "name_match", f"{len(names)} named facilities",
                    not_robust=[OSM_COMPLETENESS])
        if detail:
            m.notes.append(f"found: {', '.join(found) or 'none'}; missing in OSM: "
                           f"{', '.join(missing) or 'none'}.")
            m.breakdown = [{"name": n, "measured": 1.0 if n in found else 0.0} for n in names]
        return m
    if p.get("line_pattern"):
        rx = re.compile(p["line_pattern"])
        lines = ctx.osm.layer("railways")
        lines = lines[names_matching(lines, rx)]
        if len(lines) == 0:
            return Measure(None, "count", reason=f"no railway whose name matches "
                           f"{p['line_pattern']!r} is in the OSM data ({ctx.osm.source}); lines "
                           "under construction or only planned are not in the Geofabrik "
                           "railways layer, so the line's stations cannot be counted")
        buffer_m = float(p.get("_line_buffer_m", p.get("line_buffer_m", 150.0)))
        geom = shapely.union_all(lines.to_crs(settings.metric_crs).geometry.values)
        pts = fac.geometry.to_crs(settings.metric_crs).values
        on_line = shapely.dwithin(pts, geom, buffer_m)
        fac = fac[on_line]
        notes.append(f"stations within {buffer_m:g} m of railways named like "
                     f"{p['line_pattern']!r}.")
    m = Measure(float(len(fac)), "count", "osm_count", f"{p['facility_kind']} in OSM", notes,
                not_robust=[OSM_COMPLETENESS])
    if p.get("necessary_only"):
        m.necessary_only = True
    if detail:
        towns = _facility_towns(ctx, fac)
        m.breakdown = [{"name": str(k), "measured": float(v)}
                       for k, v in sorted(pd.Series(towns, dtype=object).fillna(
                           "(outside townships)").value_counts().items())]
        m.layers = ClaimLayers(facilities=_facility_points(fac))
    return m


def _facility_towns(ctx: StudyContext, fac: gpd.GeoDataFrame) -> np.ndarray:
    towns = ctx.townships()
    if len(fac) == 0:
        return np.array([], dtype=object)
    pts = gpd.GeoDataFrame({"_row": np.arange(len(fac))}, geometry=fac.geometry.values,
                           crs=fac.crs)
    j = gpd.sjoin(pts, towns[["name", "geometry"]], how="left", predicate="within")
    j = j[~j["_row"].duplicated(keep="first")].sort_values("_row")
    return np.array([n if isinstance(n, str) else None for n in j["name"]], dtype=object)


def _facility_count_variants(ctx: StudyContext, p: Mapping[str, Any]) -> list[Variant]:
    if p.get("names"):
        return [Variant("name_match", "exact", {"_exact_names": True})]
    if p.get("line_pattern"):
        b = float(p.get("line_buffer_m", 150.0))
        return [Variant("line_buffer_m", v, {"_line_buffer_m": v}) for v in (b / 2, b * 2)]
    return []


def presence_per_township(ctx: StudyContext, p: Mapping[str, Any], *, detail: bool) -> Measure:
    """Share of admin_level8 streets/towns with at least one facility."""
    towns = ctx.townships()
    if len(towns) == 0:
        return Measure(None, "share", reason="no admin_level8 streets/towns in the area")
    q = dict(p)
    if p.get("_no_extra_names"):
        q.pop("extra_name_pattern", None)
    fac = _facilities(ctx, q, coverage=False)
    if len(fac) == 0:
        return Measure(None, "share", reason=f"no {p['facility_kind']} facilities at all in the "
                       f"area's OSM data ({ctx.osm.source}): OSM does not map this kind here "
                       "well enough to judge presence per street/town")
    in_town = pd.Series(_facility_towns(ctx, fac), dtype=object).value_counts()
    counts = np.array([int(in_town.get(n, 0)) for n in towns["name"]])
    m = Measure(float((counts > 0).mean()), "share", "point_in_polygon",
                f"{len(towns)} admin_level8 streets/towns", not_robust=[OSM_COMPLETENESS])
    if detail:
        m.breakdown = [{"name": str(n), "measured": float(c)}
                       for n, c in zip(towns["name"], counts, strict=True)]
        m.notes.append(f"{len(fac)} {p['facility_kind']} facilities; breakdown = count per "
                       "street/town.")
        m.layers = ClaimLayers(facilities=_facility_points(fac))
    return m


def _presence_variants(ctx: StudyContext, p: Mapping[str, Any]) -> list[Variant]:
    if p.get("extra_name_pattern"):
        return [Variant("extra_name_pattern", "off", {"_no_extra_names": True})]
    return []


def per_capita_area(ctx: StudyContext, p: Mapping[str, Any], *, detail: bool) -> Measure:
    """Square metres of facility (park) area inside the area per resident."""
    parks = ctx.facilities(p["facility_kind"], fclasses=_tuple(p.get("fclasses")))
    min_ha = float(p.get("min_area_ha", 0.0))
    if "inside_ha" not in parks.columns:
        return Measure(None, "m2_per_person", reason=f"{p['facility_kind']} has no polygons")
    sel = parks[parks["area_ha"] >= min_ha]
    pop = float(ctx.population(p.get("_spread", "area")).sum())
    area_m2 = float(sel["inside_ha"].sum()) * 1e4
    m = Measure(area_m2 / pop if pop > 0 else None, "m2_per_person", "polygon_area",
                "population")
    if detail:
        m.notes.append(f"{len(sel)} polygons, {area_m2 / 1e6:.2f} km² inside the area; "
                       f"population {pop:,.0f}.")
        m.layers = ClaimLayers(facilities=_facility_points(sel))
    return m


def network_length(ctx: StudyContext, p: Mapping[str, Any], *, detail: bool) -> Measure:
    """Length in km of railway lines inside the area (filtered by class and name)."""
    lines = ctx.osm.layer("railways")
    classes = list(p.get("fclasses") or lines["fclass"].dropna().unique())
    if p.get("include_construction"):
        classes.append("construction")
    lines = lines[lines["fclass"].isin(classes)]
    if p.get("name_pattern"):
        rx = re.compile(p["name_pattern"])
        lines = lines[names_matching(lines, rx)]
    if len(lines) == 0:
        why = (f"no railway in the OSM data ({ctx.osm.source}) matches "
               f"{p.get('name_pattern') or classes!r}")
        if p.get("include_construction"):
            why += ("; lines under construction (railway=construction) are not in the "
                    "Geofabrik railways layer: use an OSM PBF to see them")
        return Measure(None, "km", reason=why)
    geom = lines.to_crs(settings.metric_crs).geometry.values
    inside = shapely.intersection(geom, ctx.area.geometry_m)
    length_km = shapely.length(inside) / 1000.0
    m = Measure(float(length_km.sum()), "km", "clip_length", "km of track centre-lines")
    if detail:
        m.notes.append("Parallel tracks mapped as separate ways are each counted; the plan's "
                       "figures are route lengths.")
        by = pd.Series(length_km, index=pd.Series(lines["name"].to_numpy(), dtype=object).fillna(
            "(unnamed)")).groupby(level=0).sum()
        m.breakdown = [{"name": str(k), "measured": round(float(v), 3)}
                       for k, v in by.items() if v > 0]
    return m


Evaluator = Callable[..., Measure]

#: metric key -> (evaluator, variants function)
REGISTRY: dict[str, tuple[Evaluator, Callable[[StudyContext, Mapping[str, Any]],
                                                 list[Variant]]]] = {
    "share_within_distance": (share_within_distance, _share_within_distance_variants),
    "drive_time_share": (drive_time_share, _drive_time_share_variants),
    "park_blind_spots": (park_blind_spots, _park_blind_spots_variants),
    "facility_count": (facility_count, _facility_count_variants),
    "presence_per_township": (presence_per_township, _presence_variants),
    "per_capita_area": (per_capita_area, lambda ctx, p: [
        Variant("population_spread", "settlements", {"_spread": "settlements"})]),
    "network_length": (network_length, lambda ctx, p: []),
}
