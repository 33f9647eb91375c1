"""Dasymetric mixing weights, fitted on Beijing's townships, and the validation that fits them.

Model ("feature-share mixture")
-------------------------------
A count ``P_U`` of a source unit U (a district, a township) is split over its parts p with

    share_p = Σ_k b_k · X_pk / X_Uk        (over features k with X_Uk > 0; b renormalised)

where ``X`` are the ancillary features of :mod:`geo.population.ancillary` (habitable area, bus
stops, POIs, villages, towns) and ``b_k ≥ 0`` sum to 1. Each term is a share of U's feature k,
so the shares of all parts sum to 1: the split is mass-conserving by construction.

Fit
---
``b`` is fitted by non-negative least squares of the WorldPop township share of its district
(``P_t / P_D``) on the townships' feature shares (``X_tk / X_Dk``), Beijing's 331 townships in 16
districts (bundle ``population-beijing-townships``: WorldPop about 2020 via
tsinghua-fib-lab/mosstool, CC BY 4.0; OSM © OpenStreetMap contributors, Geofabrik 2026-06-07).
The same mixture is then applied one level down (township -> hex cells); that scale transfer is
an assumption, stated in every output's method. :func:`validate` scores it leave-one-district-out
(bench/validate_population.py prints the figures; rerun it to refit :data:`FITTED_WEIGHTS`).

When OSM building footprints are present (Geofabrik full extract / PBF: ``buildings_a``) the
surface uses building floor area alone (footprint x levels), else residential landuse area
alone; a single feature needs no fitted weight (the split is proportional to it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: Features of the fitted mixture (columns of :func:`geo.population.ancillary.measure`).
FITTED_FEATURES = ("habitable_km2", "bus_stops", "pois", "villages", "towns")
#: b_k fitted by :func:`fit` on all 16 districts of Beijing (bundle data of 2026-06-07);
#: refit with ``python bench/validate_population.py --refit``. Leave-one-district-out scores
#: are in the README and printed by the bench script.
FITTED_WEIGHTS = {"habitable_km2": 0.2193, "bus_stops": 0.5534, "pois": 0.0191,
                  "villages": 0.0198, "towns": 0.1884}


def mixture_shares(X_parts: np.ndarray, X_unit: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shares of a unit's count for its parts (see module doc).

    Parameters
    ----------
    X_parts : (n, k) features of the parts; X_unit : (k,) features of the whole unit;
    b : (k,) non-negative mixing weights.

    Returns
    -------
    (n,) shares; they sum to ``Σ_p X_pk / X_Uk`` mixed, i.e. to 1 when the parts tile the unit.
    Zero everywhere when the unit has none of the features with b_k > 0.
    """
    X_parts = np.atleast_2d(np.asarray(X_parts, dtype=float))
    X_unit = np.asarray(X_unit, dtype=float)
    use = (X_unit > 0) & (np.asarray(b) > 0)
    if not use.any():
        return np.zeros(len(X_parts))
    bb = np.asarray(b, dtype=float)[use] / np.asarray(b, dtype=float)[use].sum()
    return (X_parts[:, use] / X_unit[use]) @ bb


def _group_shares(X: np.ndarray, groups: np.ndarray) -> np.ndarray:
    S = np.zeros_like(X, dtype=float)
    for g in np.unique(groups):
        m = groups == g
        s = X[m].sum(axis=0)
        S[m] = X[m] / np.where(s > 0, s, 1.0)
    return S


def fit(X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Mixing weights b (sum 1) by NNLS of y's share of its group on X's shares of the group."""
    from scipy.optimize import nnls

    tot = np.array([y[groups == g].sum() for g in groups])
    b, _ = nnls(_group_shares(X, groups), y / np.where(tot > 0, tot, 1.0))
    if b.sum() <= 0:
        raise ValueError("fit found no positive weight: the features explain nothing")
    return b / b.sum()


def disaggregate(X: np.ndarray, groups: np.ndarray, totals: dict, b: np.ndarray) -> np.ndarray:
    """Split each group's total over its members by the mixture (areal when no feature)."""
    out = np.zeros(len(X))
    for g in np.unique(groups):
        m = groups == g
        sh = mixture_shares(X[m], X[m].sum(axis=0), b)
        if sh.sum() <= 0:
            sh = np.full(m.sum(), 1.0 / m.sum())
        out[m] = totals[g] * sh / sh.sum()
    return out


def scores(truth: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    """(R², median absolute percentage error in %, over units with truth > 0)."""
    truth, pred = np.asarray(truth, float), np.asarray(pred, float)
    r2 = 1.0 - ((truth - pred) ** 2).sum() / ((truth - truth.mean()) ** 2).sum()
    ok = truth > 0
    return float(r2), float(np.median(np.abs(pred[ok] - truth[ok]) / truth[ok]) * 100.0)


@dataclass
class Validation:
    """Disaggregation of district totals to townships, scored against the township counts."""

    n_units: int
    n_groups: int
    rows: list[dict]  # method, r2, mdape_pct, note
    fitted_weights: dict[str, float]

    def table(self) -> str:
        """Plain-text table of the scores."""
        lines = [(f"{self.n_groups} district totals -> {self.n_units} townships "
                 f"(truth: WorldPop township counts)"),
                 f"{'method':<44} {'R2':>7} {'MdAPE %':>8}"]
        lines += [f"{r['method']:<44} {r['r2']:>7.3f} {r['mdape_pct']:>8.1f}" for r in self.rows]
        lines.append("weights fitted on all districts: "
                     + ", ".join(f"{k}={v:.4f}" for k, v in self.fitted_weights.items()))
        return "\n".join(lines)


def validate(data_dir: str | Path | None = None) -> Validation:
    """Disaggregate Beijing's 16 district totals (sum of WorldPop townships) to its 331
    townships: areal, bus stops alone, the bundled :data:`FITTED_WEIGHTS` (in-sample) and the
    mixture refitted leave-one-district-out (the honest score); returns R² and MdAPE of each."""
    from geo.demand import population_townships
    from geo.population import ancillary
    from geo.sources import load_osm

    towns = population_townships(data_dir=data_dir)
    anc = ancillary.from_osm(load_osm(None, data_dir=data_dir, layers=ancillary.LAYERS))
    Xall = ancillary.measure(np.asarray(towns.geometry.values), anc)
    cols = [ancillary.FEATURES.index(f) for f in FITTED_FEATURES]
    X = Xall[:, cols]
    y = towns["population"].to_numpy(dtype=float)
    groups = towns["district"].to_numpy()
    totals = {g: y[groups == g].sum() for g in np.unique(groups)}
    area = towns["township_area_m2"].to_numpy(dtype=float)[:, None]
    rows = []

    def add(method: str, pred: np.ndarray) -> None:
        r2, mdape = scores(y, pred)
        rows.append({"method": method, "r2": r2, "mdape_pct": mdape})

    add("areal (even spread)", disaggregate(area, groups, totals, np.ones(1)))
    add("bus stops alone", disaggregate(X[:, [1]], groups, totals, np.ones(1)))
    b_const = np.array([FITTED_WEIGHTS[f] for f in FITTED_FEATURES])
    add("fitted mixture, bundled weights (in-sample)", disaggregate(X, groups, totals, b_const))
    pred = np.zeros(len(y))
    for g in np.unique(groups):
        train = groups != g
        b = fit(X[train], y[train], groups[train])
        m = groups == g
        pred[m] = disaggregate(X[m], groups[m], totals, b)
    add("fitted mixture, leave-one-district-out", pred)
    b_all = fit(X, y, groups)
    return Validation(n_units=len(y), n_groups=len(totals), rows=rows,
                      fitted_weights=dict(zip(FITTED_FEATURES, map(float, b_all))))
