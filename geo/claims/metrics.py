"""Metrics: one class per metric key, each with typed, frozen parameters.

A metric (:class:`Metric`) has

- ``key`` (the claim file's ``metric = "..."``) and ``spec`` (its parameters and target unit,
  validated when the claim file loads, :mod:`geo.claims.registry`);
- ``Params``: a frozen dataclass built from the claim's ``parameters`` (:meth:`Metric.params`)
  with, besides the claim file's names, a few knobs that only sensitivity variants set
  (``spread``, ``method``, ...);
- :meth:`Metric.evaluate` ``(ctx, params, detail=...)`` returning a :class:`Measure`;
- :meth:`Metric.variants` ``(ctx, params)``: one :class:`Variant` per changed assumption, each
  holding its parameters made by :func:`dataclasses.replace`;
- presentation attributes (``lower_is_better``, ``measured_label``) and, for coverage metrics,
  :meth:`Metric.siting` (the cost model ``geo site`` uses, the same as the evaluation's).

Issue 11 (additive): a coverage metric counts its weights only inside the claim's ``extent``
parameter (``area`` / ``built_up`` / ``residential``, :func:`_weights` and
:meth:`StudyContext.extent`), reports it in :attr:`Measure.extent` and offers the whole-area
reading as a variant (:func:`_extent_variants`); a count of mapped facilities sets
:attr:`Measure.lower_bound` (below the target: inconclusive); named searches fill
:attr:`Measure.completeness`. A new metric that sets none of these behaves as before.

Adding a metric: write its class here and list it in :data:`METRIC_CLASSES`; claim files can
then name it. Coverage costs come from :meth:`StudyContext.nearest_cost` (which calls
:mod:`geo.coverage`), and the method follows :func:`geo.coverage.choose_method`.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo.claims.context import DEFAULT_SPREAD, NO_NETWORK, SPREADS, StudyContext
from geo.claims.result import ClaimLayers
from geo.claims.spec import MetricSpec, Param
from geo.coverage import CIRCUITY, choose_method, variant_methods
from geo.facilities import FACILITY_KINDS, names_matching, require_layers

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
#: Spacing of the points that stand for a park's outline on the walk network, metres.
OUTLINE_STEP_M = 50.0
#: Station modes of the "metro and light rail only" variant.
URBAN_RAIL_MODES = ("subway", "light_rail", "monorail", "tram")


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
    #: The extent measured over (:meth:`geo.extent.Extent.describe`), None when not a share of
    #: cells (counts, lengths).
    extent: dict[str, Any] | None = None
    #: A count of mapped facilities that only bounds the truth from below (OSM may miss some):
    #: below the target it is inconclusive, not "not met".
    lower_bound: bool = False
    #: Completeness findings (a count's lower bound, names found/not found, extra facilities
    #: that would change the verdict), for the output's ``completeness`` block.
    completeness: dict[str, Any] | None = None


@dataclass(frozen=True)
class Variant:
    """One sensitivity variant: a label for the parameter and value, and the parameters it
    is measured with (the claim's, one of them replaced)."""

    parameter: str
    value: Any
    params: Any


@dataclass(frozen=True)
class SitingModel:
    """How ``geo site`` measures new sites for a coverage claim, matching its evaluation.

    ``cost_fn(demand, points, *, limit)`` returns sparse demand x point costs in ``unit``
    (``limit`` in ``unit``); ``threshold`` is the coverage threshold in ``unit``;
    ``existing(cells)`` gives each demand cell's cost to the existing facilities from the
    evaluation's cell layer; ``network_type`` names the graph candidates come from; ``kind``
    is the facility kind of the proposed sites; ``site_columns`` are constant columns of the
    proposed sites; ``model`` adds fields to the output's cost-model block.
    """

    cost_fn: Callable[..., Any]
    threshold: float
    unit: str
    existing: Callable[[gpd.GeoDataFrame], np.ndarray]
    network_type: str
    kind: str
    weight_column: str
    site_columns: Mapping[str, Any] = field(default_factory=dict)
    model: Mapping[str, Any] = field(default_factory=dict)


def as_tuple(v: Any) -> tuple[Any, ...] | None:
    return tuple(v) if v is not None else None


@dataclass(frozen=True)
class Tier:
    """A park of at least ``min_area_ha`` hectares serves ``radius_m`` metres."""

    min_area_ha: float
    radius_m: float


class Metric:
    """Base of the metrics: see the module docstring."""

    key: ClassVar[str]
    spec: ClassVar[MetricSpec]
    Params: ClassVar[type]
    #: The measured value is a problem share (e.g. blind spots): lower is better.
    lower_is_better: ClassVar[bool] = False
    #: Words after the measured value in tables and cards (e.g. " in blind spots").
    measured_label: ClassVar[str] = ""

    def params(self, parameters: Mapping[str, Any]) -> Any:
        """Typed parameters from a claim's (already schema-checked) ``parameters``; raises
        ``ValueError`` naming the parameter when their combination is inconsistent."""
        kw = {}
        for name in self.spec.parameter_names:
            if name in parameters:
                v = parameters[name]
                kw[name] = (tuple(Tier(float(t["min_area_ha"]), float(t["radius_m"]))
                                  for t in v) if name == "tiers"
                            else tuple(v) if isinstance(v, list | tuple) else v)
        p = self.Params(**kw)
        self.check(p, parameters)
        return p

    def check(self, p: Any, parameters: Mapping[str, Any]) -> None:
        """Cross-parameter checks at load time (none by default)."""

    def evaluate(self, ctx: StudyContext, p: Any, *, detail: bool) -> Measure:
        raise NotImplementedError

    def variants(self, ctx: StudyContext, p: Any) -> list[Variant]:
        """Sensitivity variants (none by default)."""
        return []

    def siting(self, ctx: StudyContext, p: Any, *, radius_m: float | None = None
               ) -> SitingModel | None:
        """The siting cost model, or None when the metric is not a coverage claim."""
        return None


def spread_variants(p: Any) -> list[Variant]:
    """One variant per other way of spreading population over cells (``context.SPREADS``:
    even over each township, half at OSM settlements, WorldPop without the census
    adjustment)."""
    return [Variant("population_spread", s, dataclasses.replace(p, spread=s))
            for s in SPREADS if s != p.spread]


def _share(weights: np.ndarray, mask: np.ndarray) -> float | None:
    total = float(weights.sum())
    return float(weights[mask].sum()) / total if total > 0 else None


def _weights(ctx: StudyContext, denominator: str, spread: str, extent: str = "area"
             ) -> np.ndarray:
    """Per-cell weights: area (m²), residents, or residents + jobs (``population_and_jobs``
    with a jobs layer; residents alone without one), counted only for the part of each cell
    inside the claim's ``extent`` (:meth:`StudyContext.extent`)."""
    w = ctx.cell_area_m2() if denominator == "area" else ctx.population(spread)
    jobs = ctx.jobs() if denominator == "population_and_jobs" else None
    if jobs is not None:
        w = w + jobs
    if extent == "area":
        return w
    return w * ctx.extent_fraction(extent)


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


def _extent_variants(p: Any) -> list[Variant]:
    """The whole-area reading of a claim measured over part of the area (built-up or
    residential), as a sensitivity variant."""
    if getattr(p, "extent", "area") == "area":
        return []
    return [Variant("extent", "area", dataclasses.replace(p, extent="area"))]


def facility_points(fac: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Canonical point frame for maps (drops extra geometry columns such as ``polygon``)."""
    cols = [c for c in fac.columns if c not in ("geometry", "outline") and not isinstance(
        fac[c].dtype, gpd.array.GeometryDtype)]
    return gpd.GeoDataFrame(fac[cols].copy(), geometry=fac.geometry.values, crs=fac.crs)


def _cells_layer(ctx: StudyContext, cost: np.ndarray, covered: np.ndarray, cost_col: str,
                 spread: str = DEFAULT_SPREAD, weights: np.ndarray | None = None
                 ) -> gpd.GeoDataFrame:
    """The evaluation's demand cells; ``weight`` is what the share counts (area or residents
    inside the claim's extent) when given."""
    cells = ctx.cells(spread)
    out = cells[["cell_id", "area_m2", "population", "geometry"]].copy()
    jobs = ctx.jobs()
    if jobs is not None:
        out["jobs"] = jobs
    if weights is not None:
        out["weight"] = weights
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


def facility_reach_m(ctx: StudyContext, p: Any) -> float:
    """How far beyond the border the claim's facilities can serve: for expressway entrances the
    drive budget at the profile's fastest speed (as far as the budget can reach)."""
    kind = p.facility_kind
    if kind == "expressway_entrance" and hasattr(p, "threshold_min"):
        prof = _profile(p)
        fastest = max([prof.default_kph, *prof.highway_kph.values()]) * prof.speed_factor
        budget_s = (float(p.threshold_min) - float(getattr(p, "turnout_min", 0.0))) * 60.0
        return ctx.coverage_reach_m(kind, budget_s=budget_s, max_speed_kph=fastest)
    return ctx.coverage_reach_m(kind)


def select_facilities(ctx: StudyContext, p: Any, *, coverage: bool) -> gpd.GeoDataFrame:
    """The claim's facilities; for ``coverage`` also those outside the area that serve it
    (:func:`facility_reach_m`), for counts only those inside."""
    kind = p.facility_kind
    fclasses = getattr(p, "highway_classes", None) if kind == "expressway_entrance" else \
        getattr(p, "fclasses", None)
    fac = ctx.facilities(kind, fclasses=as_tuple(fclasses),
                         name_pattern=getattr(p, "name_pattern", None),
                         extra_name_pattern=getattr(p, "extra_name_pattern", None),
                         reach_m=facility_reach_m(ctx, p) if coverage else 0.0)
    modes = getattr(p, "station_modes", None)
    if modes is not None:  # modes come from the nearest railway line
        require_layers(ctx.osm, ("railways",), "station modes")
    if modes is not None and "mode" in fac.columns:
        fac = fac[fac["mode"].isin(list(modes))].reset_index(drop=True)
    if "in_service" in fac.columns and not getattr(p, "include_not_in_service", False):
        out = set(getattr(p, "not_in_service_names", None) or ())
        keep = fac["in_service"].astype(bool) & ~fac["name"].isin(out)
        fac = fac[keep.to_numpy()].reset_index(drop=True)
    return fac


def station_targets(fac: gpd.GeoDataFrame, method: str) -> gpd.GeoDataFrame:
    """What distances are measured to: a station's outline (polygon) where OSM maps one, else
    its point; on a network, points every :data:`OUTLINE_STEP_M` along the outlines."""
    if "outline" not in fac.columns or not fac["outline"].notna().any():
        return fac
    geoms = [o if isinstance(o, shapely.Geometry) else g
             for o, g in zip(fac["outline"], fac.geometry, strict=True)]
    shapes = gpd.GeoDataFrame({"facility_id": fac["facility_id"].to_numpy()}, geometry=geoms,
                              crs=settings.geographic_crs)
    if method != "network":
        return shapes
    poly = shapes.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    parts = [shapes[~poly]]
    if poly.any():
        parts.append(_outline_points(shapes[poly]))
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=settings.geographic_crs)


def _none_mapped_inside(ctx: StudyContext, p: Any) -> bool:
    """True when OSM maps no facility of the claim's kind inside the area itself (those across
    the border may still serve it, but an area with none of its own points at a gap in OSM, so
    coverage from neighbours alone would be judged on missing data). Expressway entrances are
    exempt: a district may rightly have none of its own."""
    if p.facility_kind == "expressway_entrance":
        return False
    return len(select_facilities(ctx, p, coverage=False)) == 0


def _no_facilities(p: Any, unit: str) -> Measure:
    return Measure(None, unit, reason=f"no {p.facility_kind} facilities are mapped inside "
                                      "the area in OSM: coverage cannot be judged on missing "
                                      "data")


def _weight_column(denominator: str, extent: str = "area") -> str:
    """The cell column siting weighs demand by: the claim's own weights inside its extent."""
    if extent != "area" or denominator == "population_and_jobs":
        return "weight"
    return "area_m2" if denominator == "area" else "population"


def _reached_cells(ctx: StudyContext, covered: np.ndarray, cutoff: float,
                   unit: str) -> gpd.GeoDataFrame:
    """The network service area for maps: the union of the demand cells the search reached
    within ``cutoff`` (``unit``), not a buffer of every reached street (issue 12: that took
    minutes and gigabytes on a town's network)."""
    from geo.coverage.service_area import service_area_from_cells

    return service_area_from_cells(ctx.cells("area"), covered, cutoff=cutoff, unit=unit)


def _walk_pairs(G: Any) -> Callable[..., Any]:
    from geo.coverage import network_costs

    def walk_network(d: Any, pts: Any, *, limit: float) -> Any:
        return network_costs(G, d, pts, limit=limit, weight="length", reverse=True)

    return walk_network


KIND_PARAM: Param = Param("str", "facility kind (geo.facilities)", FACILITY_KINDS)
FCLASSES_PARAM: Param = Param("list[str]", "Geofabrik fclass values making up the kind (replaces its default)")
EXTRA_NAME_PARAM: Param = Param("regex", "also count POIs of any class whose name matches this regex")
NAME_PATTERN_PARAM: Param = Param("regex", "keep only facilities whose name matches this regex")
_EXTENT = Param("str", "what the indicator is defined over: the whole area, the built-up area "
                       "or residential land (geo.extent; default area)",
                ("area", "built_up", "residential"))


# ---------------------------------------------------------------------------- share within


@dataclass(frozen=True)
class ShareWithinDistanceParams:
    """Parameters of :class:`ShareWithinDistance`; distances in metres."""

    threshold_m: float
    facility_kind: str
    denominator: str
    mode: str
    fclasses: tuple[str, ...] | None = None
    extra_name_pattern: str | None = None
    name_pattern: str | None = None
    extent: str = "area"
    not_in_service_names: tuple[str, ...] | None = None
    # variant knobs
    spread: str = DEFAULT_SPREAD                      #: how population is spread (geo.demand)
    method: str | None = None                 #: None: by geo.coverage.choose_method
    station_modes: tuple[str, ...] | None = None   #: keep only stations of these modes
    include_not_in_service: bool = False      #: keep stations not in service (a variant)


class ShareWithinDistance(Metric):
    """Share of residents within ``threshold_m`` of the nearest facility."""

    key = "share_within_distance"
    Params = ShareWithinDistanceParams
    spec = MetricSpec(
        doc="share of demand within threshold_m of the nearest facility of facility_kind",
        unit="share",
        required={
            "threshold_m": Param("number", "distance threshold in metres (0 to 100 km)",
                                 max=100_000),
            "facility_kind": KIND_PARAM,
            "denominator": Param("str", "what is counted", ("population", "population_and_jobs")),
            "mode": Param("str", "walk network (straight line when no network) or straight line",
                          ("walk", "straight_line")),
        },
        optional={"fclasses": FCLASSES_PARAM, "extra_name_pattern": EXTRA_NAME_PARAM,
                  "name_pattern": NAME_PATTERN_PARAM, "extent": _EXTENT,
                  "not_in_service_names": Param("list[str]", "stations mapped in OSM but not in "
                                                "service (cite the source in the notes); "
                                                "stations tagged as construction / proposed or "
                                                "with no rail line within 200 m are out anyway")},
    )

    @staticmethod
    def _network(ctx: StudyContext, p: ShareWithinDistanceParams) -> bool:
        return p.mode == "walk" and ctx.graph("walk") is not None

    def evaluate(self, ctx: StudyContext, p: ShareWithinDistanceParams, *,
                 detail: bool) -> Measure:
        fac = select_facilities(ctx, p, coverage=True)
        if len(fac) == 0 or _none_mapped_inside(ctx, p):
            return _no_facilities(p, "share")
        threshold = float(p.threshold_m)
        notes: list[str] = []
        method = choose_method(network=self._network(ctx, p), fallback="straight_line",
                               requested=p.method)
        cost = ctx.nearest_cost(station_targets(fac, method), method=method,
                                network_type="walk", weight="length", reverse=True)
        if method != "network" and p.mode == "walk" and detail:
            notes.append("No walk network is available, so distance is straight-line (the "
                         "official 服务半径 method); walking distance along streets is longer, so "
                         "network coverage would be lower.")
        covered = cost <= threshold
        with_jobs = p.denominator == "population_and_jobs" and ctx.jobs() is not None
        pop = _weights(ctx, p.denominator, p.spread, p.extent)
        m = Measure(_share(pop, covered), "share", method,
                    "population_and_jobs" if with_jobs else "population", notes,
                    extent=ctx.extent(p.extent).describe())
        if p.denominator == "population_and_jobs" and not with_jobs:
            m.denominator = "population (jobs not available)"
            m.not_robust.append("the plan counts residents AND jobs; jobs are not in OSM, so "
                                "only residents (WorldPop) are measured; a jobs layer "
                                "(jobs=FILE) would add them")
        if with_jobs and detail:
            info = ctx.jobs_info()
            m.notes.append(f"Denominator: residents and jobs; {info.get('total', 0):,.0f} jobs "
                           f"from {info.get('source', 'the jobs layer')}.")
        if detail:
            m.notes.append(f"{len(fac)} {p.facility_kind} facilities; threshold "
                           f"{threshold:g} m; {len(pop)} cells of {ctx.cell_size_m:g} m.")
            m.breakdown = _breakdown(ctx, pop, covered,
                                     "population_and_jobs" if with_jobs else "population")
            if method == "network":
                sa = _reached_cells(ctx, covered, threshold, "m")
            else:
                sa = _buffers(fac, threshold, f"within {threshold:g} m")
            m.layers = ClaimLayers(cells=_cells_layer(ctx, cost, covered, "cost_m", weights=pop),
                                   cost_column="cost_m", cost_unit="m", covered_column="covered",
                                   threshold=threshold, facilities=facility_points(fac),
                                   service_areas=sa)
        return m

    def variants(self, ctx: StudyContext, p: ShareWithinDistanceParams) -> list[Variant]:
        t = float(p.threshold_m)
        out = [Variant("threshold_m", round(t * f, 1), dataclasses.replace(p, threshold_m=t * f))
               for f in (1 - THRESHOLD_STEP, 1 + THRESHOLD_STEP)]
        out.extend(spread_variants(p))
        network = self._network(ctx, p)
        base = choose_method(network=network, fallback="straight_line", requested=p.method)
        if p.mode == "walk":  # a straight-line claim has no network variant
            out += [Variant("method", mth, dataclasses.replace(p, method=mth))
                    for mth in variant_methods(base, network=network, fallback="straight_line")]
        if p.facility_kind == "rail_station":
            out.append(Variant("stations", "metro and light rail only",
                               dataclasses.replace(p, station_modes=URBAN_RAIL_MODES)))
            out.append(Variant("station_status", "including those not in service",
                               dataclasses.replace(p, include_not_in_service=True)))
        return out + _extent_variants(p)

    def siting(self, ctx: StudyContext, p: ShareWithinDistanceParams, *,
               radius_m: float | None = None) -> SitingModel:
        from geo.coverage import straight_line_costs

        G = ctx.graph("walk") if p.mode == "walk" else None
        return SitingModel(
            cost_fn=_walk_pairs(G) if G is not None else straight_line_costs,
            threshold=float(p.threshold_m), unit="m", network_type="walk",
            existing=lambda cells: np.asarray(cells["cost_m"], dtype=float),
            kind=p.facility_kind, weight_column=_weight_column(p.denominator, p.extent))


# ---------------------------------------------------------------------------- drive time


@dataclass(frozen=True)
class DriveTimeShareParams:
    """Parameters of :class:`DriveTimeShare`; times in minutes."""

    threshold_min: float
    facility_kind: str
    speed_profile: str
    direction: str
    turnout_min: float = 0.0
    denominator: str = "population"
    highway_classes: tuple[str, ...] | None = None
    planned_new_facilities: int | None = None
    extent: str = "area"
    # variant knobs
    spread: str = DEFAULT_SPREAD               #: how population is spread (geo.demand)
    speed_factor: float = 1.0          #: multiplies the profile's speed factor
    circuity: float = CIRCUITY         #: network / straight-line distance (approximation)
    method: str | None = None          #: None: by geo.coverage.choose_method


def _profile(p: DriveTimeShareParams) -> Any:
    """The claim's speed profile with the variant's speed factor applied."""
    from geo.network import load_profile

    prof = load_profile(p.speed_profile)
    return dataclasses.replace(prof, speed_factor=prof.speed_factor * float(p.speed_factor))


class DriveTimeShare(Metric):
    """Share of demand whose drive time (plus turnout) to/from the nearest facility is within
    ``threshold_min``."""

    key = "drive_time_share"
    Params = DriveTimeShareParams
    spec: ClassVar[MetricSpec] = MetricSpec(
        doc="share of demand whose response or access time is within threshold_min; the "
            "drive budget is threshold_min - turnout_min",
        unit="share",
        required={
            "threshold_min": Param("number", "total time budget in minutes (turnout included; "
                                               "0 to 600)", max=600),
            "facility_kind": KIND_PARAM,
            "speed_profile": Param("str", "speed profile of geo.network", ("drive", "fire")),
            "direction": Param("str", "residents drive to entrances; engines drive from stations",
                               ("to_facility", "from_facility")),
        },
        optional={
            "turnout_min": Param("number", "minutes between dispatch and departure (default 0; "
                                             "0 to 600)", max=600),
            "denominator": Param("str", "what is counted (default population)",
                                 ("area", "population")),
            "highway_classes": Param("list[str]", "OSM highway classes whose entries count"),
            "planned_new_facilities": Param("int", "facilities the plan adds (reported)"),
            "extent": _EXTENT,
        },
    )

    def check(self, p: DriveTimeShareParams, parameters: Mapping[str, Any]) -> None:
        if p.turnout_min >= p.threshold_min:
            raise ValueError(f"parameter 'turnout_min' ({parameters.get('turnout_min', 0)}) must be "
                             f"less than 'threshold_min' ({parameters['threshold_min']}): the "
                             "drive budget is threshold_min - turnout_min")

    def evaluate(self, ctx: StudyContext, p: DriveTimeShareParams, *, detail: bool) -> Measure:
        kind = p.facility_kind
        denominator = p.denominator
        turnout = float(p.turnout_min)
        threshold_min = float(p.threshold_min)
        budget_s = (threshold_min - turnout) * 60.0
        G = ctx.graph("drive")
        if kind == "expressway_entrance" and G is None:
            return Measure(None, "share", None, denominator,
                           reason=f"expressway entrances and drive times need a road network; "
                                  f"{NO_NETWORK}")
        fac = select_facilities(ctx, p, coverage=True)
        if len(fac) == 0 or _none_mapped_inside(ctx, p):
            return _no_facilities(p, "share")
        prof = _profile(p)
        speed_kph = prof.default_kph * prof.speed_factor
        notes: list[str] = []
        method = choose_method(network=G is not None, fallback="approximation",
                               requested=p.method)
        reverse = p.direction == "to_facility"
        if method == "network":
            cost_s = ctx.nearest_cost(fac, method="network", network_type="drive", profile=prof,
                                      weight="travel_time", reverse=reverse)
        else:
            cost_s = ctx.nearest_cost(fac, method="approximation", circuity=float(p.circuity),
                                      speed_kph=speed_kph)
            if detail:
                notes.append(f"No road network is available: drive time is approximated as "
                             f"straight-line distance x {p.circuity:g} (circuity) at "
                             f"{speed_kph:g} km/h ({prof.name} profile); {NO_NETWORK}.")
        covered = cost_s <= budget_s
        weights = _weights(ctx, denominator, p.spread, p.extent)
        m = Measure(_share(weights, covered), "share", method, denominator, notes,
                    extent=ctx.extent(p.extent).describe())
        if detail:
            self._detail(ctx, p, m, fac, cost_s, covered, weights, method, prof)
        return m

    @staticmethod
    def _detail(ctx: StudyContext, p: DriveTimeShareParams, m: Measure, fac: gpd.GeoDataFrame,
                cost_s: np.ndarray, covered: np.ndarray, weights: np.ndarray, method: str,
                prof: Any) -> None:
        # 9 parameters: the evaluation's intermediate results, passed rather than recomputed
        kind, turnout, threshold_min = p.facility_kind, float(p.turnout_min), float(p.threshold_min)
        budget_s = (threshold_min - turnout) * 60.0
        m.notes.append(f"{len(fac)} {kind} facilities; budget {threshold_min:g} min"
                       + (f" = {turnout:g} min turnout + {threshold_min - turnout:g} min driving"
                          if turnout else " of driving") + f" ({prof.name} profile).")
        if p.planned_new_facilities:
            m.notes.append(f"The plan adds {p.planned_new_facilities} new {kind} facilities "
                           f"whose sites are not given; close_gap(ctx, claim, add="
                           f"{p.planned_new_facilities}) (the CLI's geo site) proposes sites "
                           f"that maximise coverage.")
        m.breakdown = _breakdown(ctx, weights, covered, p.denominator)
        cost_min = cost_s / 60.0 + turnout
        sa = None
        if method == "network":
            sa = _reached_cells(ctx, covered, budget_s, "s")
        elif budget_s > 0:
            radius = budget_s * (prof.default_kph * prof.speed_factor / 3.6) / float(p.circuity)
            sa = _buffers(fac, radius, f"within {threshold_min:g} min (approximation)")
        m.layers = ClaimLayers(cells=_cells_layer(ctx, cost_min, covered, "cost_min",
                                                    weights=weights),
                               cost_column="cost_min", cost_unit="min", covered_column="covered",
                               threshold=threshold_min, facilities=facility_points(fac),
                               service_areas=sa)

    def variants(self, ctx: StudyContext, p: DriveTimeShareParams) -> list[Variant]:
        t = float(p.threshold_min)
        out = [Variant("threshold_min", round(t * f, 2),
                       dataclasses.replace(p, threshold_min=t * f))
               for f in (1 - THRESHOLD_STEP, 1 + THRESHOLD_STEP)]
        if p.speed_profile == "fire":
            base = _profile(p).default_kph
            out += [Variant("fire_engine_speed_kph", v,
                            dataclasses.replace(p, speed_factor=v / base))
                    for v in FIRE_SPEEDS_KPH]
            out += [Variant("turnout_min", v, dataclasses.replace(p, turnout_min=v))
                    for v in TURNOUT_RANGE_MIN if v != float(p.turnout_min) and v < t]
        else:
            out += [Variant("drive_speed_factor", f, dataclasses.replace(p, speed_factor=f))
                    for f in DRIVE_SPEED_FACTORS]
        network = ctx.graph("drive") is not None
        if not network:
            out += [Variant("circuity", c, dataclasses.replace(p, circuity=c))
                    for c in CIRCUITY_RANGE]
        base_method = choose_method(network=network, fallback="approximation",
                                    requested=p.method)
        out += [Variant("method", mth, dataclasses.replace(p, method=mth))
                for mth in variant_methods(base_method, network=network,
                                           fallback="approximation")]
        den = p.denominator
        other = "area" if den == "population" else "population"
        out.append(Variant("denominator", other, dataclasses.replace(p, denominator=other)))
        if den == "population":
            out.extend(spread_variants(p))
        return out + _extent_variants(p)

    def siting(self, ctx: StudyContext, p: DriveTimeShareParams, *,
               radius_m: float | None = None) -> SitingModel:
        """Total minutes = turnout + drive minutes."""
        from geo.coverage import approximation_costs, network_costs

        turnout = float(p.turnout_min)
        prof = _profile(p)
        graph = ctx.cost_graph("drive", prof)
        model: dict[str, Any] = {"turnout_min": turnout}
        # the functions' names label the cost model in the siting output ("net", "approx")
        if graph is not None:
            reverse = p.direction == "to_facility"
            G, weight = graph

            def net(d: Any, pts: Any, *, limit: float) -> Any:
                m = network_costs(G, d, pts, limit=(limit - turnout) * 60.0,
                                  weight=weight, reverse=reverse)
                m = m.copy()
                m.data = m.data / 60.0 + turnout
                return m

            cost_fn = net
        else:
            speed = prof.default_kph * prof.speed_factor
            circuity = float(p.circuity)
            model["circuity"] = circuity

            def approx(d: Any, pts: Any, *, limit: float) -> Any:
                m = approximation_costs(d, pts, limit=limit - turnout, circuity=circuity,
                                        speed_kph=speed, unit="min").copy()
                m.data = m.data + turnout
                return m

            cost_fn = approx
        return SitingModel(cost_fn=cost_fn, threshold=float(p.threshold_min), unit="min",
                           existing=lambda cells: np.asarray(cells["cost_min"], dtype=float),
                           network_type="drive", kind=p.facility_kind,
                           weight_column=_weight_column(p.denominator, p.extent), model=model)


# ---------------------------------------------------------------------------- park blind spots


@dataclass(frozen=True)
class ParkBlindSpotsParams:
    """Parameters of :class:`ParkBlindSpots`; radii in metres, areas in hectares."""

    tiers: tuple[Tier, ...]
    min_park_area_ha: float
    benchmark_radius_m: float | None = None
    denominator: str = "population"
    mode: str | None = None
    fclasses: tuple[str, ...] | None = None
    extent: str = "area"
    # variant knobs
    spread: str = DEFAULT_SPREAD                  #: how population is spread (geo.demand)
    radius_factor: float = 1.0            #: multiplies every service radius
    single_radius_m: float | None = None  #: one radius for every park instead of the tiers
    method: str | None = None             #: None: by the claim's mode (geo.coverage rule)


def _park_radii(parks: gpd.GeoDataFrame, p: ParkBlindSpotsParams) -> np.ndarray:
    """Service radius (m) of each park from the tiers; NaN for parks that do not count."""
    area_ha = parks["area_ha"].to_numpy(dtype=float)
    min_ha = float(p.min_park_area_ha)
    radii = np.full(len(parks), np.nan)
    if p.single_radius_m is not None:
        radii[:] = float(p.single_radius_m)
    else:
        tiers = sorted(p.tiers, key=lambda t: -float(t.min_area_ha))
        for t in reversed(tiers):  # smallest tier first, larger ones overwrite
            radii[area_ha >= float(t.min_area_ha)] = float(t.radius_m)
        if np.isnan(radii).any() and min_ha < min(float(t.min_area_ha) for t in tiers):
            smallest = min(tiers, key=lambda t: float(t.min_area_ha))
            radii[np.isnan(radii)] = float(smallest.radius_m)
    radii[area_ha < min_ha] = np.nan
    return radii * float(p.radius_factor)


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


class ParkBlindSpots(Metric):
    """Share of residents (or area) outside every park's tiered service radius."""

    key = "park_blind_spots"
    Params = ParkBlindSpotsParams
    lower_is_better = True
    measured_label = " in blind spots"
    spec = MetricSpec(
        doc="share of demand outside every park's size-tiered service radius (blind spots)",
        unit="share",
        required={
            "tiers": Param("tiers", "array of {min_area_ha, radius_m}: a park of at least "
                                    "min_area_ha hectares serves radius_m metres (largest tier "
                                    "that applies)"),
            "min_park_area_ha": Param("number", "parks smaller than this (ha) are ignored"),
        },
        optional={
            "benchmark_radius_m": Param("number", "single radius (m) for every park, as in "
                                                  "Beijing's 500 m wording (a variant; 0 to "
                                                  "100 km)", max=100_000),
            "denominator": Param("str", "what is counted (default population)",
                                 ("population", "area")),
            "mode": Param("str", "straight-line radius (official style) or walk network",
                          ("straight_line", "walk")),
            "extent": _EXTENT,
        },
    )

    @staticmethod
    def _method(ctx: StudyContext, p: ParkBlindSpotsParams) -> tuple[str, bool]:
        """(method, whether a walk network exists): the network when the claim walks and a
        graph exists, else the straight line (the official method, also when asked for)."""
        network = ctx.graph("walk") is not None
        requested = p.method or ("straight_line" if p.mode != "walk" else None)
        return choose_method(network=network, fallback="straight_line",
                             requested=requested), network

    def evaluate(self, ctx: StudyContext, p: ParkBlindSpotsParams, *, detail: bool) -> Measure:
        parks = ctx.facilities("park", fclasses=as_tuple(p.fclasses),
                               reach_m=ctx.coverage_reach_m("park"))
        if len(parks) == 0 or len(ctx.facilities("park", fclasses=as_tuple(p.fclasses))) == 0:
            return Measure(None, "share", reason="no park polygons are mapped inside the area "
                                                 "in OSM: blind spots cannot be judged on "
                                                 "missing data")
        radii = _park_radii(parks, p)
        counted = ~np.isnan(radii)
        if not counted.any():
            return Measure(None, "share", reason="no park reaches the smallest size tier")
        polys = gpd.GeoDataFrame({"facility_id": parks["facility_id"].to_numpy()},
                                 geometry=parks["polygon"].values, crs=settings.geographic_crs)
        method, network = self._method(ctx, p)
        covered = np.zeros(len(ctx.cells("area")), dtype=bool)
        nearest_gap = np.full(len(covered), np.inf)   # distance beyond the nearest radius, m
        for r in np.unique(radii[counted]):
            sel = radii == r
            if method == "network":
                d = ctx.nearest_cost(_outline_points(polys[sel]), method="network",
                                     network_type="walk", weight="length", reverse=True)
            else:
                d = ctx.nearest_cost(polys[sel], method="straight_line")
            covered |= d <= r
            nearest_gap = np.minimum(nearest_gap, d - r)
        weights = _weights(ctx, p.denominator, p.spread, p.extent)
        blind = ~covered
        m = Measure(_share(weights, blind), "share", method, p.denominator,
                    extent=ctx.extent(p.extent).describe())
        if detail:
            tier_txt = (f"one radius of {p.single_radius_m:g} m" if
                        p.single_radius_m is not None else
                        ", ".join(f"parks >= {t.min_area_ha:g} ha serve {t.radius_m:g} m"
                                  for t in p.tiers))
            how = ("walking distance along the network to the park outline (sampled every "
                   f"{OUTLINE_STEP_M:g} m; entrances are not mapped)" if method == "network"
                   else "straight-line distance from the park outline (the official 服务半径 "
                        "method)")
            m.notes.append(f"{int(counted.sum())} of {len(parks)} OSM park polygons count (>= "
                           f"{p.min_park_area_ha:g} ha); {tier_txt}; {how}.")
            if p.mode == "walk" and not network:
                m.notes.append("No walk network is available, so the straight-line radius is "
                               "used; walking distances are longer, so network blind spots "
                               "would be larger.")
            m.breakdown = _breakdown(ctx, weights, blind, p.denominator)
            sa = gpd.GeoDataFrame(
                {"facility": ["park service radii"], "cutoff": [float(np.nanmax(radii))],
                 "unit": ["m"]},
                geometry=[shapely.union_all(shapely.buffer(
                    polys[counted].to_crs(settings.metric_crs).geometry.values,
                    radii[counted]))],
                crs=settings.metric_crs).to_crs(settings.geographic_crs)
            m.layers = ClaimLayers(
                cells=_cells_layer(ctx, np.maximum(nearest_gap, 0.0), covered, "gap_m",
                                   weights=weights),
                cost_column="gap_m", cost_unit="m", covered_column="covered", threshold=None,
                facilities=facility_points(parks[counted]),
                cost_label="Distance beyond the nearest park's service radius",
                service_areas=sa)
        return m

    def variants(self, ctx: StudyContext, p: ParkBlindSpotsParams) -> list[Variant]:
        out = [Variant("radius_factor", f, dataclasses.replace(p, radius_factor=f))
               for f in (1 - THRESHOLD_STEP, 1 + THRESHOLD_STEP)]
        if p.benchmark_radius_m is not None:
            out.append(Variant("benchmark_radius_m", p.benchmark_radius_m,
                               dataclasses.replace(p, single_radius_m=p.benchmark_radius_m)))
        out += [Variant("min_park_area_ha", v, dataclasses.replace(p, min_park_area_ha=v))
                for v in (0.0, 0.5) if v != float(p.min_park_area_ha)]
        other = "area" if p.denominator == "population" else "population"
        out.append(Variant("denominator", other, dataclasses.replace(p, denominator=other)))
        out.extend(spread_variants(p))
        method, network = self._method(ctx, p)
        out += [Variant("method", mth, dataclasses.replace(p, method=mth))
                for mth in variant_methods(method, network=network, fallback="straight_line")]
        return out + _extent_variants(p)

    def siting(self, ctx: StudyContext, p: ParkBlindSpotsParams, *,
               radius_m: float | None = None) -> SitingModel:
        """New parks of the smallest tier (a pocket park) unless ``radius_m`` is given; they
        are walked to when the evaluation walked to the parks."""
        from geo.coverage import straight_line_costs

        if radius_m is None:
            radius_m = float(min(t.radius_m for t in p.tiers))
        radius = float(radius_m)
        G = ctx.graph("walk") if p.mode == "walk" else None
        tiers = [t for t in p.tiers if float(t.radius_m) >= radius] or list(p.tiers)
        return SitingModel(
            cost_fn=_walk_pairs(G) if G is not None else straight_line_costs,
            threshold=radius, unit="m", network_type="walk", kind="park",
            # a cell is covered iff its gap beyond the nearest radius is <= 0
            existing=lambda cells: np.asarray(cells["gap_m"], dtype=float) + radius,
            weight_column=_weight_column(p.denominator, p.extent),
            site_columns={"area_ha": float(min(float(t.min_area_ha) for t in tiers))},
            model={"new_park_radius_m": radius})


# ---------------------------------------------------------------------------- counts


@dataclass(frozen=True)
class FacilityCountParams:
    """Parameters of :class:`FacilityCount`; distances in metres."""

    facility_kind: str
    fclasses: tuple[str, ...] | None = None
    name_pattern: str | None = None
    extra_name_pattern: str | None = None
    names: tuple[str, ...] | None = None
    line: str | None = None
    line_pattern: str | None = None
    line_buffer_m: float = 150.0
    necessary_only: bool = False
    name_search_m: float = 15000.0
    # variant knobs
    exact_names: bool = False   #: a name counts only when a facility is named exactly so


def _facility_towns(ctx: StudyContext, fac: gpd.GeoDataFrame) -> np.ndarray:
    towns = ctx.townships()
    if len(fac) == 0:
        return np.array([], dtype=object)
    pts = gpd.GeoDataFrame({"_row": np.arange(len(fac))}, geometry=fac.geometry.values,
                           crs=fac.crs)
    j = gpd.sjoin(pts, towns[["name", "geometry"]], how="left", predicate="within")
    j = j[~j["_row"].duplicated(keep="first")].sort_values("_row")
    return np.array([n if isinstance(n, str) else None for n in j["name"]], dtype=object)


class FacilityCount(Metric):
    """Number of facilities (or of listed names found, or of stations on a line)."""

    key = "facility_count"
    Params = FacilityCountParams
    spec = MetricSpec(
        doc="number of OSM facilities of facility_kind in the area (with names: how many of the "
            "listed names are found)",
        unit="count",
        required={"facility_kind": KIND_PARAM},
        optional={
            "fclasses": FCLASSES_PARAM,
            "name_pattern": NAME_PATTERN_PARAM,
            "extra_name_pattern": EXTRA_NAME_PARAM,
            "names": Param("list[str]", "named facilities to find; each counts once when a "
                                        "facility name contains it; 'A|B' lists aliases of one "
                                        "facility (A is its name in the plan)"),
            "name_search_m": Param("number", "names are searched this far (m) beyond the "
                                             "area's border (default 15,000): a park named in "
                                             "the plan may be mapped just outside"),
            "line": Param("str", "rail line label, e.g. '22' (stations of that line)"),
            "line_pattern": Param("regex", "regex on railway names: stations within "
                                           "line_buffer_m of matching lines"),
            "line_buffer_m": Param("number", "station-to-line distance in metres (default 150; "
                                               "0 to 10 km)", max=10_000),
            "necessary_only": Param("bool", "the OSM kind is broader than the claim's (e.g. "
                                            "hospitals of any grade for grade-III ones): a "
                                            "count below the target is not met, one at or "
                                            "above it is inconclusive"),
        },
    )

    def evaluate(self, ctx: StudyContext, p: FacilityCountParams, *, detail: bool) -> Measure:
        fac = select_facilities(ctx, p, coverage=False)
        notes: list[str] = []
        if p.names:
            return self._names(ctx, p, detail=detail)
        if p.line_pattern:
            rx = re.compile(p.line_pattern)
            require_layers(ctx.osm, ("railways",), "stations on a named line")
            lines = ctx.osm.layer("railways")
            lines = lines[names_matching(lines, rx)]
            if len(lines) == 0:
                return Measure(None, "count", reason=f"no railway whose name matches "
                               f"{p.line_pattern!r} is in the OSM data ({ctx.osm.source}); "
                               "lines under construction or only planned are not in the "
                               "Geofabrik railways layer, so the line's stations cannot be "
                               "counted")
            buffer_m = float(p.line_buffer_m)
            geom = shapely.union_all(lines.to_crs(settings.metric_crs).geometry.values)
            pts = fac.geometry.to_crs(settings.metric_crs).values
            fac = fac[shapely.dwithin(pts, geom, buffer_m)]
            notes.append(f"stations within {buffer_m:g} m of railways named like "
                         f"{p.line_pattern!r}.")
        m = Measure(float(len(fac)), "count", "osm_count", f"{p.facility_kind} in OSM", notes,
                    not_robust=[OSM_COMPLETENESS])
        m.lower_bound = True
        if p.necessary_only:
            m.necessary_only = True
        if detail:
            towns = _facility_towns(ctx, fac)
            m.breakdown = [{"name": str(k), "measured": float(v)}
                           for k, v in sorted(pd.Series(towns, dtype=object).fillna(
                               "(outside townships)").value_counts().items())]
            m.layers = ClaimLayers(facilities=facility_points(fac))
        return m

    @staticmethod
    def _names(ctx: StudyContext, p: FacilityCountParams, *, detail: bool) -> Measure:
        """How many of the named facilities OSM maps, each searched by its name and aliases
        up to ``name_search_m`` beyond the border; every name is listed found / not found."""
        from geo.facilities import facilities as build

        reach = float(p.name_search_m)
        layers = ["pois", "pois_a", "transport", "transport_a"]
        wide = ctx.osm_around(reach, layers)
        fac = build(wide, p.facility_kind, ctx.area_with_margin(reach),
                    fclasses=as_tuple(p.fclasses))
        names = fac["name"].to_numpy(dtype=object)
        dist = shapely.distance(ctx.area.geometry_m, fac.to_crs(settings.metric_crs).geometry
                                .values) if len(fac) else np.array([])
        if "polygon" in fac.columns and len(fac):
            poly_m = gpd.GeoSeries(fac["polygon"].values, crs=settings.geographic_crs).to_crs(
                settings.metric_crs).values
            dist = np.minimum(dist, shapely.distance(ctx.area.geometry_m, poly_m))
        rows = []
        for entry in p.names or ():
            aliases = [a.strip() for a in str(entry).split("|") if a.strip()]
            hits = [(float(dist[i]), str(names[i]), a) for a in aliases
                    for i in range(len(fac)) if isinstance(names[i], str)
                    and ((names[i] == a) if p.exact_names else (a in names[i]))]
            hits.sort()
            row: dict[str, Any] = {"name": aliases[0], "aliases": aliases[1:],
                                   "measured": 1.0 if hits else 0.0, "found": bool(hits)}
            if hits:
                d, osm_name, alias = hits[0]
                row.update(osm_name=osm_name, matched_alias=alias,
                           distance_outside_m=round(d, 1), inside=d <= 0.0)
            rows.append(row)
        found = [r["name"] for r in rows if r["found"]]
        missing = [r["name"] for r in rows if not r["found"]]
        m = Measure(float(len(found)), "count", "name_match",
                    f"{len(rows)} named facilities", not_robust=[OSM_COMPLETENESS])
        m.completeness = {"names": rows, "name_search_m": reach,
                          "how": "each name and its aliases searched in OSM names (substring"
                                 f"{'' if not p.exact_names else ', exact'}) up to "
                                 f"{reach:,.0f} m beyond the border"}
        if detail:
            outside = [f"{r['name']} ({r['distance_outside_m'] / 1000:.1f} km outside)"
                       for r in rows if r["found"] and not r["inside"]]
            m.notes.append(f"found {len(found)} of {len(rows)}: {', '.join(found) or 'none'}; "
                           f"not found in OSM within {reach / 1000:g} km: "
                           f"{', '.join(missing) or 'none'}"
                           + (f"; found only outside the area: {', '.join(outside)}"
                              if outside else "") + ".")
            m.breakdown = rows
        return m

    def variants(self, ctx: StudyContext, p: FacilityCountParams) -> list[Variant]:
        if p.names:
            return [Variant("name_match", "exact", dataclasses.replace(p, exact_names=True))]
        if p.line_pattern:
            b = float(p.line_buffer_m)
            return [Variant("line_buffer_m", v, dataclasses.replace(p, line_buffer_m=v))
                    for v in (b / 2, b * 2)]
        return []


@dataclass(frozen=True)
class PresencePerTownshipParams:
    """Parameters of :class:`PresencePerTownship`."""

    facility_kind: str
    fclasses: tuple[str, ...] | None = None
    name_pattern: str | None = None
    extra_name_pattern: str | None = None


class PresencePerTownship(Metric):
    """Share of admin_level8 streets/towns with at least one facility."""

    key = "presence_per_township"
    Params = PresencePerTownshipParams
    spec = MetricSpec(
        doc="share of townships/streets (admin_level 8) with at least one facility of "
            "facility_kind",
        unit="share",
        required={"facility_kind": KIND_PARAM},
        optional={"fclasses": FCLASSES_PARAM, "name_pattern": NAME_PATTERN_PARAM,
                  "extra_name_pattern": EXTRA_NAME_PARAM},
    )

    def evaluate(self, ctx: StudyContext, p: PresencePerTownshipParams, *,
                 detail: bool) -> Measure:
        towns = ctx.townships()
        if len(towns) == 0:
            return Measure(None, "share", reason="no admin_level8 streets/towns in the area")
        fac = select_facilities(ctx, p, coverage=False)
        if len(fac) == 0:
            return Measure(None, "share", reason=f"no {p.facility_kind} facilities at all in "
                           f"the area's OSM data ({ctx.osm.source}): OSM does not map this kind "
                           "here well enough to judge presence per street/town")
        in_town = pd.Series(_facility_towns(ctx, fac), dtype=object).value_counts()
        counts = np.array([int(in_town.get(n, 0)) for n in towns["name"]])
        m = Measure(float((counts > 0).mean()), "share", "point_in_polygon",
                    f"{len(towns)} admin_level8 streets/towns", not_robust=[OSM_COMPLETENESS])
        if detail:
            m.breakdown = [{"name": str(n), "measured": float(c)}
                           for n, c in zip(towns["name"], counts, strict=True)]
            m.notes.append(f"{len(fac)} {p.facility_kind} facilities; breakdown = count per "
                           "street/town.")
            m.layers = ClaimLayers(facilities=facility_points(fac))
        return m

    def variants(self, ctx: StudyContext, p: PresencePerTownshipParams) -> list[Variant]:
        if p.extra_name_pattern:
            return [Variant("extra_name_pattern", "off",
                            dataclasses.replace(p, extra_name_pattern=None))]
        return []


@dataclass(frozen=True)
class PerCapitaAreaParams:
    """Parameters of :class:`PerCapitaArea`; areas in hectares."""

    facility_kind: str
    min_area_ha: float = 0.0
    fclasses: tuple[str, ...] | None = None
    # variant knobs
    spread: str = DEFAULT_SPREAD   #: how population is spread (geo.demand)


class PerCapitaArea(Metric):
    """Square metres of facility (park) area inside the area per resident."""

    key = "per_capita_area"
    Params = PerCapitaAreaParams
    spec = MetricSpec(
        doc="square metres of facility_kind (park) area per resident",
        unit="m2_per_person",
        required={"facility_kind": KIND_PARAM},
        optional={"min_area_ha": Param("number", "ignore polygons smaller than this (ha)"),
                  "fclasses": FCLASSES_PARAM},
    )

    def evaluate(self, ctx: StudyContext, p: PerCapitaAreaParams, *, detail: bool) -> Measure:
        parks = ctx.facilities(p.facility_kind, fclasses=as_tuple(p.fclasses))
        if "inside_ha" not in parks.columns:
            return Measure(None, "m2_per_person", reason=f"{p.facility_kind} has no polygons")
        sel = parks[parks["area_ha"] >= float(p.min_area_ha)]
        pop = float(ctx.population(p.spread).sum())
        area_m2 = float(sel["inside_ha"].sum()) * 1e4
        m = Measure(area_m2 / pop if pop > 0 else None, "m2_per_person", "polygon_area",
                    "population")
        if detail:
            m.notes.append(f"{len(sel)} polygons, {area_m2 / 1e6:.2f} km² inside the area; "
                           f"population {pop:,.0f}.")
            m.layers = ClaimLayers(facilities=facility_points(sel))
        return m

    def variants(self, ctx: StudyContext, p: PerCapitaAreaParams) -> list[Variant]:
        return spread_variants(p)


@dataclass(frozen=True)
class NetworkLengthParams:
    """Parameters of :class:`NetworkLength`."""

    line: str | None = None
    name_pattern: str | None = None
    fclasses: tuple[str, ...] | None = None
    include_construction: bool = False


class NetworkLength(Metric):
    """Length in km of railway lines inside the area (filtered by class and name)."""

    key = "network_length"
    Params = NetworkLengthParams
    spec = MetricSpec(
        doc="length in km of railway lines inside the area",
        unit="km",
        required={},
        optional={
            "line": Param("str", "rail line label, e.g. '22'"),
            "name_pattern": Param("regex", "regex on the railway's name"),
            "fclasses": Param("list[str]", "railway classes (rail, subway, light_rail, ...)"),
            "include_construction": Param("bool", "count lines tagged as under construction"),
        },
    )

    def evaluate(self, ctx: StudyContext, p: NetworkLengthParams, *, detail: bool) -> Measure:
        require_layers(ctx.osm, ("railways",), "rail network length")
        lines = ctx.osm.layer("railways")
        classes = list(p.fclasses or lines["fclass"].dropna().unique())
        if p.include_construction:
            classes.append("construction")
        lines = lines[lines["fclass"].isin(classes)]
        if p.name_pattern:
            lines = lines[names_matching(lines, re.compile(p.name_pattern))]
        if len(lines) == 0:
            why = (f"no railway in the OSM data ({ctx.osm.source}) matches "
                   f"{p.name_pattern or classes!r}")
            if p.include_construction:
                why += ("; lines under construction (railway=construction) are not in the "
                        "Geofabrik railways layer: use an OSM PBF to see them")
            return Measure(None, "km", reason=why)
        geom = lines.to_crs(settings.metric_crs).geometry.values
        inside = shapely.intersection(geom, ctx.area.geometry_m)
        labels = pd.Series(lines["name"].to_numpy(), dtype=object).fillna("(unnamed)")
        by = {str(k): route_length_m(inside[idx]) / 1000.0
              for k, idx in labels.groupby(labels).indices.items()}
        track_km = float(shapely.length(inside).sum()) / 1000.0
        m = Measure(float(sum(by.values())), "km", "route_length", "km of route (one figure "
                    "per line, parallel tracks counted once)")
        if detail:
            m.notes.append(f"Route length: per line, tracks within {ROUTE_MERGE_M:g} m of a "
                           f"longer track of the same line count once, so a double-track line "
                           f"counts once; the track centre-lines sum to {track_km:.1f} km.")
            m.breakdown = [{"name": k, "measured": round(v, 3)} for k, v in sorted(by.items())
                           if v > 0]
        return m


#: Tracks of one line closer than this (m) are the same route (double track: 4-5 m apart;
#: twin tunnel bores: tens of metres, more where they part around a station).
ROUTE_MERGE_M = 100.0


def route_length_m(geoms: np.ndarray, *, merge_m: float = ROUTE_MERGE_M) -> float:
    """Route length (m) of one line from its track geometries (metric CRS): tracks are taken
    longest first and each adds only its part farther than ``merge_m`` from the tracks already
    taken, so a second track alongside the first adds nothing. Two tracks 5 m apart over
    10 km give 10 km, not 20 km; a branch adds its own length."""
    g = sorted((x for x in geoms if x is not None and not x.is_empty),
               key=lambda x: -x.length)
    total = 0.0
    taken: list[Any] = []
    for x in g:
        if taken:
            near = shapely.buffer(shapely.union_all(taken), merge_m)
            x_new = shapely.difference(x, near)
        else:
            x_new = x
        total += float(shapely.length(x_new))
        taken.append(x)
    return total


# ---------------------------------------------------------------------------- the registry

#: Every metric, in the order they are documented. Adding a metric: add its class here.
METRIC_CLASSES: tuple[type[Metric], ...] = (
    ShareWithinDistance, DriveTimeShare, ParkBlindSpots, FacilityCount, PresencePerTownship,
    PerCapitaArea, NetworkLength,
)

from geo.claims.metrics_more import MORE_METRIC_CLASSES  # issue 15 metrics (sibling module)

#: metric key -> metric object.
REGISTRY: Mapping[str, Metric] = MappingProxyType(
    {cls.key: cls() for cls in METRIC_CLASSES + MORE_METRIC_CLASSES})
