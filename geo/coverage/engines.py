"""Coverage engines: network (snapped to edges), straight line, and the approximation used
when no network exists (see :mod:`geo.coverage.methods` for the rule). Each returns a :class:`CoverageResult` labelled with its method.

Demand is any GeoDataFrame (points or cells; polygons use a representative point) with optional
``population`` and ``area_m2`` columns; facilities are a GeoDataFrame of points (polygons use a
representative point for the network engine and their outline for the straight-line engine).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from geo import settings
from geo.coverage.result import CoverageResult, demand_points, metric_crs_of
from geo.errors import DataError, EmptyResultError, NetworkError

if TYPE_CHECKING:
    import geopandas as gpd
    import networkx as nx

log = logging.getLogger(__name__)

#: Default circuity (network distance / straight-line distance) of the approximation engine.
#: Assumption: road-network circuity is commonly reported around 1.2-1.4 (e.g. the country
#: averages of Ballou, Rahardja & Sakai 2002); 1.3 is mid-range. A parameter: report its
#: sensitivity.
CIRCUITY = 1.3

_WEIGHT_UNITS = {"length": "m", "travel_time": "s"}


def _check(demand: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, threshold: float) -> None:
    import geopandas as gpd

    for arg, frame in (("demand", demand), ("facilities", facilities)):
        if not isinstance(frame, gpd.GeoDataFrame):
            raise DataError(f"{arg} must be a GeoDataFrame, got {type(frame).__name__}")
    if len(demand) == 0:
        raise EmptyResultError("demand is empty: nothing to cover")
    try:
        ok = float(threshold) >= 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise DataError(f"threshold must be a number >= 0, got {threshold!r}")


def _result(demand: gpd.GeoDataFrame, cost: np.ndarray, nearest: Any, threshold: float, method: str,
            unit: str, parameters: dict[str, Any], snap_dist_m: Any = np.nan,
            on_network: Any = True) -> CoverageResult:
    # 9 parameters: the columns of one result, each named; a private assembler
    out = demand.to_crs(settings.geographic_crs).copy()
    out[f"cost_{unit}"] = cost
    out["covered"] = cost <= float(threshold)
    out["nearest"] = nearest
    out["snap_dist_m"] = snap_dist_m
    out["on_network"] = on_network
    return CoverageResult(out, method, unit, float(threshold), parameters)


def network_coverage(G: nx.MultiDiGraph, demand: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, *, threshold: float,
                     weight: str = "length", reverse: bool = False, max_snap_m: float = 300.0,
                     offnet_speed_kph: float | None = None,
                     source_leg: bool = True) -> CoverageResult:
    """Coverage by network cost: demand and facilities snapped to edges.

    (9 parameters: the snapping options of :func:`geo.snapping.point_costs`, passed through.)

    Parameters
    ----------
    G : projected osmnx-style graph (``length`` in m; ``travel_time`` in s after
        ``geo.network.add_speeds``).
    threshold : in the weight's unit (metres for ``length``, seconds for ``travel_time``).
    reverse : False: cost from the nearest facility to each demand point (fire engine);
        True: from each demand point to its nearest facility (to an expressway entry).
    max_snap_m : points farther from the network are off-network and not covered.
    offnet_speed_kph : speed of the off-network legs for ``travel_time`` (default: walk profile).
    """
    from geo.snapping import MAX_SNAP_M, point_costs

    _check(demand, facilities, threshold)
    if weight not in _WEIGHT_UNITS:
        raise NetworkError(f"weight must be one of {sorted(_WEIGHT_UNITS)}, got {weight!r}")
    r = point_costs(G, facilities, demand_points(demand), weight=weight, reverse=reverse,
                    max_snap_m=max_snap_m if max_snap_m is not None else MAX_SNAP_M,
                    offnet_speed_kph=offnet_speed_kph, source_leg=source_leg)
    params = {"weight": weight, "reverse": reverse, "max_snap_m": max_snap_m,
              "offnet_speed_kph": offnet_speed_kph, "source_leg": source_leg,
              "n_facilities": len(facilities), "graph_source": G.graph.get("source"),
              "speed_profile": G.graph.get("speed_profile")}
    return _result(demand, r["cost"].to_numpy(), r["source"].to_numpy(), threshold, "network",
                   _WEIGHT_UNITS[weight], params, r["snap_dist_m"].to_numpy(),
                   r["on_network"].to_numpy())


def straight_line_distance(demand: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Straight-line distance (m) from each demand row's representative point to the nearest
    facility geometry (its outline for polygons), in the metric CRS; and the facility label."""
    import geopandas as gpd

    pts = demand_points(demand)
    crs = metric_crs_of(pts.to_frame("geometry"))
    if len(facilities) == 0:
        return np.full(len(pts), np.inf), np.full(len(pts), None, dtype=object)
    left = gpd.GeoDataFrame({"_row": np.arange(len(pts))}, geometry=pts.to_numpy(),
                            crs=pts.crs).to_crs(crs)
    right = gpd.GeoDataFrame({"_fac": np.arange(len(facilities))},
                             geometry=facilities.geometry.to_numpy(),
                             crs=facilities.crs).to_crs(crs)
    j = gpd.sjoin_nearest(left, right, how="left", distance_col="_dist")
    j = j[~j["_row"].duplicated(keep="first")].sort_values("_row")
    labels = np.fromiter(facilities.index, dtype=object, count=len(facilities))
    return j["_dist"].to_numpy(dtype=float), labels[j["_fac"].to_numpy(dtype=int)]


def approximate_cost(dist_m: np.ndarray, *, circuity: float = CIRCUITY, unit: str = "m",
                     speed_kph: float | None = None) -> np.ndarray:
    """Approximate network costs from straight-line metres: ``dist_m`` x ``circuity``, in
    metres (``unit="m"``) or in seconds at ``speed_kph`` (``unit="s"``)."""
    if not (circuity >= 1.0):
        raise DataError(f"circuity must be >= 1 (network/straight-line ratio), got {circuity!r}")
    cost = np.asarray(dist_m, dtype=float) * circuity
    if unit == "s":
        if speed_kph is None or not speed_kph > 0:
            raise DataError(f"speed_kph must be > 0 km/h for unit='s', got {speed_kph!r}")
        return cost / (speed_kph / 3.6)
    if unit != "m":
        raise DataError(f"unit must be 'm' or 's', got {unit!r}")
    return cost


def nearest_network_cost(G: nx.MultiDiGraph, demand: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, *, weight: str = "length",
                         reverse: bool = False) -> np.ndarray:
    """Network cost (metres for ``length``, seconds for ``travel_time``) between each demand
    row's representative point and its nearest facility, both snapped to edges with the
    default snapping of :func:`geo.snapping.point_costs`; ``inf`` when unreachable."""
    from geo.snapping import point_costs

    if weight not in _WEIGHT_UNITS:
        raise NetworkError(f"weight must be one of {sorted(_WEIGHT_UNITS)}, got {weight!r}")
    r = point_costs(G, facilities, demand_points(demand), weight=weight, reverse=reverse)
    return r["cost"].to_numpy(dtype=float)


def straight_line_coverage(demand: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, *, threshold_m: float) -> CoverageResult:
    """Coverage by straight-line distance (the usual official "service radius" method).

    ``threshold_m``: radius in metres; a row is covered when its representative point lies
    within ``threshold_m`` of a facility.
    """
    _check(demand, facilities, threshold_m)
    dist, nearest = straight_line_distance(demand, facilities)
    params = {"n_facilities": len(facilities), "metric_crs": metric_crs_of(demand)}
    return _result(demand, dist, nearest, threshold_m, "straight_line", "m", params)


def approximation_coverage(demand: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, *, threshold: float, unit: str = "m",
                           circuity: float = CIRCUITY,
                           speed_kph: float | None = None) -> CoverageResult:
    """Estimate network cost as straight-line distance x ``circuity`` (and / ``speed_kph``).

    The method used when no road network exists; with one, a labelled comparison.
    ``unit="m"``: cost in metres; ``unit="s"``: seconds at ``speed_kph`` (required).
    """
    _check(demand, facilities, threshold)
    dist, nearest = straight_line_distance(demand, facilities)
    cost = approximate_cost(dist, circuity=circuity, unit=unit, speed_kph=speed_kph)
    params = {"circuity": circuity, "speed_kph": speed_kph, "n_facilities": len(facilities),
              "metric_crs": metric_crs_of(demand)}
    return _result(demand, cost, nearest, threshold, "approximation", unit, params)


def coverage(demand: gpd.GeoDataFrame, facilities: gpd.GeoDataFrame, *, threshold: float, G: nx.MultiDiGraph | None = None,
             method: str = "auto", weight: str = "length", reverse: bool = False,
             circuity: float = CIRCUITY, speed_kph: float | None = None,
             **network_options: Any) -> CoverageResult:
    """Pick an engine by :func:`geo.coverage.methods.choose_method`: ``method="auto"`` is the
    network when ``G`` is given, else the approximation.

    (9 parameters: every engine's options in one call, as osmnx-style helpers do.)

    ``"straight_line"`` (threshold in metres) and ``"approximation"`` may always be asked for,
    also when ``G`` exists (e.g. to compare with the network; the result is labelled).
    """
    from geo.coverage.methods import choose_method

    method = choose_method(network=G is not None, fallback="approximation", requested=method)
    if method == "network":
        return network_coverage(G, demand, facilities, threshold=threshold, weight=weight,
                                reverse=reverse, **network_options)
    if method == "straight_line":
        return straight_line_coverage(demand, facilities, threshold_m=threshold)
    unit = _WEIGHT_UNITS.get(weight)
    if unit is None:
        raise NetworkError(f"weight must be one of {sorted(_WEIGHT_UNITS)}, got {weight!r}")
    log.info("approximating network costs with circuity %.2f", circuity)
    return approximation_coverage(demand, facilities, threshold=threshold, unit=unit,
                                  circuity=circuity, speed_kph=speed_kph)
