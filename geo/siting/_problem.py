"""Problem preparation shared by the siting models (private to :mod:`geo.siting`): demand
weights, the boolean demand x candidate coverage matrix (cost <= threshold) and the demand the
existing facilities already cover."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import DataError, EmptyResultError

log = logging.getLogger(__name__)


@dataclass
class Prep:
    weights: np.ndarray          # per demand unit
    before: np.ndarray           # bool, covered by existing facilities
    cover: Any                   # csr bool (demand x candidates): cost <= threshold
    total: float
    cost_label: str


def check_threshold(threshold: Any) -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        t = math.nan
    if not (math.isfinite(t) and t > 0):
        raise DataError(f"threshold must be a finite number > 0 (in the cost unit), got "
                        f"{threshold!r}")
    return t


def demand_weights(demand: Any, weight_column: str | None) -> np.ndarray:
    if weight_column is None:
        return np.ones(len(demand))
    if weight_column not in demand.columns:
        raise DataError(f"demand has no weight column {weight_column!r} (weight_column); columns: "
                        f"{[c for c in demand.columns if c != 'geometry']}; pass "
                        f"weight_column=None to count demand units")
    w = pd.to_numeric(demand[weight_column], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise DataError(f"demand[{weight_column!r}] must be finite and >= 0; {int(bad.sum())} "
                        f"row(s) are not (e.g. row {demand.index[np.flatnonzero(bad)[0]]!r})")
    return w


def coverage_matrix(costs: Any, shape: tuple[int, int], threshold: float, what: str) -> Any:
    """Boolean sparse matrix of cost <= threshold from a dense or sparse cost matrix."""
    from scipy.sparse import csr_array, issparse

    if issparse(costs):
        if costs.shape != shape:
            raise DataError(f"{what} has shape {costs.shape}, expected {shape} (demand x "
                            f"{'candidates' if 'cand' in what else 'facilities'})")
        coo = costs.tocoo()
        data = np.asarray(coo.data, dtype=float)
        if (data < 0).any():
            raise DataError(f"{what} has negative costs; costs must be >= 0")
        ok = data <= threshold      # NaN compares False: not covered
        return csr_array((np.ones(int(ok.sum()), dtype=bool), (coo.row[ok], coo.col[ok])),
                         shape=shape)
    arr = np.asarray(costs, dtype=float)
    if arr.shape != shape:
        raise DataError(f"{what} has shape {arr.shape}, expected {shape} (demand rows x "
                        f"{'candidates' if 'cand' in what else 'facilities'})")
    if (arr < 0).any():
        raise DataError(f"{what} has negative costs; costs must be >= 0")
    if np.isnan(arr).any():
        log.warning("%s: %d NaN cost(s) treated as unreachable", what, int(np.isnan(arr).sum()))
    return csr_array(arr <= threshold)


def existing_before(existing: Any, demand: Any, threshold: float,
                     cost_fn: Callable[..., Any] | None) -> np.ndarray:
    import geopandas as gpd

    n = len(demand)
    if existing is None:
        return np.zeros(n, dtype=bool)
    if isinstance(existing, gpd.GeoDataFrame):
        if len(existing) == 0:
            return np.zeros(n, dtype=bool)
        if cost_fn is None:
            raise DataError("existing is a GeoDataFrame of facilities but no cost_fn was given "
                            "to compute their costs; pass cost_fn=... or pass existing as the "
                            "per-demand cost to the nearest existing facility")
        cover = coverage_matrix(cost_fn(demand, existing, limit=threshold), (n, len(existing)),
                                 threshold, "cost_fn(demand, existing)")
        return np.asarray(cover.sum(axis=1)).ravel() > 0
    cost = getattr(existing, "cost", existing)      # a geo.coverage CoverageResult
    arr = np.asarray(cost, dtype=float).ravel()
    if arr.shape != (n,):
        raise DataError(f"existing: expected a GeoDataFrame of facilities or {n} per-demand "
                        f"costs to the nearest existing facility, got shape {arr.shape}")
    return arr <= threshold


def prepare(demand: Any, candidates: Any, existing: Any, threshold: float,
             cost_matrix: Any, cost_fn: Callable[..., Any] | None,
             weight_column: str | None) -> Prep:
    import geopandas as gpd

    if not isinstance(demand, gpd.GeoDataFrame):
        raise DataError(f"demand must be a GeoDataFrame, got {type(demand).__name__}")
    if len(demand) == 0:
        raise EmptyResultError("demand is empty: nothing to cover")
    if not isinstance(candidates, gpd.GeoDataFrame):
        raise DataError(f"candidates must be a GeoDataFrame of points, got "
                        f"{type(candidates).__name__}")
    if len(candidates) == 0:
        raise EmptyResultError("candidates is empty: no site to choose; build them with "
                               "geo.siting.candidate_sites or relax the exclusions")
    w = demand_weights(demand, weight_column)
    shape = (len(demand), len(candidates))
    if cost_matrix is not None:
        costs, label = cost_matrix, "cost_matrix"
    elif cost_fn is not None:
        costs = cost_fn(demand, candidates, limit=threshold)
        label = str(getattr(cost_fn, "__name__", None) or getattr(getattr(cost_fn, "func", None),
                                                                  "__name__", "cost_fn"))
    else:
        raise DataError("pass cost_matrix (demand x candidates) or cost_fn, e.g. "
                        "functools.partial(geo.siting.approximation_costs, speed_kph=30, "
                        "unit='min')")
    cover = coverage_matrix(costs, shape, threshold, "cost matrix (demand x candidates)")
    before = existing_before(existing, demand, threshold, cost_fn)
    return Prep(w, before, cover, float(w.sum()), label)
