"""The coverage result: per-demand costs, covered flags, shares and breakdowns by polygons."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from geo import settings
from geo.errors import CRSError, DataError

log = logging.getLogger(__name__)

METHODS = ("network", "straight_line", "approximation")
UNITS = {"m": "metres", "s": "seconds"}


def metric_crs_of(frame: Any) -> str:
    """Metric CRS for a frame: EPSG:32650 around Beijing, else the local UTM zone."""
    from geo.network import metric_crs_for

    if frame.crs is None:
        raise CRSError("frame has no CRS; set it (OSM data is EPSG:4326)")
    minx, miny, maxx, maxy = frame.to_crs(settings.geographic_crs).total_bounds
    return metric_crs_for((minx + maxx) / 2, (miny + maxy) / 2)


def demand_points(demand: Any, *, arg: str = "demand") -> Any:
    """Representative points of ``demand`` rows (GeoSeries, same index and CRS)."""
    import geopandas as gpd

    if not isinstance(demand, gpd.GeoDataFrame):
        raise DataError(f"{arg} must be a GeoDataFrame, got {type(demand).__name__}")
    if demand.crs is None:
        raise CRSError(f"{arg} has no CRS; set it (OSM data is EPSG:4326)")
    geom = demand.geometry
    if len(geom) and not (geom.geom_type == "Point").all():
        geom = geom.representative_point()
    return geom


@dataclass
class CoverageResult:
    """Who is covered, by which method, under which parameters.

    Attributes
    ----------
    demand : GeoDataFrame (EPSG:4326), the demand rows with added columns ``cost_m`` or
        ``cost_s`` (cost to/from the nearest facility in ``unit``; ``inf`` if unreachable),
        ``covered`` (cost <= threshold), ``nearest`` (label of the nearest facility),
        ``snap_dist_m`` and ``on_network`` (network method; NaN/True otherwise).
    method : "network", "straight_line" or "approximation".
    unit : "m" (metres) or "s" (seconds).
    threshold : the coverage threshold in ``unit``.
    parameters : every parameter the costs depend on (weight, speeds, circuity, max snap ...).
    """

    demand: Any
    method: str
    unit: str
    threshold: float
    parameters: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise DataError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.unit not in UNITS:
            raise DataError(f"unit must be one of {sorted(UNITS)}, got {self.unit!r}")

    @property
    def cost_column(self) -> str:
        return f"cost_{self.unit}"

    @property
    def cost(self) -> pd.Series:
        """Cost per demand row, in ``unit``."""
        return self.demand[self.cost_column]

    def shares(self) -> dict[str, Any]:
        """Covered shares (0-1) by count, population and area, with the totals behind them.

        ``population`` / ``area`` are None when the demand has no ``population`` column / no
        ``area_m2`` column and no polygon geometry.
        """
        return _shares(self.demand, self._area_m2())

    def _area_m2(self) -> pd.Series | None:
        d = self.demand
        if "area_m2" in d.columns:
            return d["area_m2"].astype(float)
        if len(d) and d.geom_type.isin(["Polygon", "MultiPolygon"]).all():
            return d.geometry.to_crs(metric_crs_of(d)).area
        return None

    def breakdown(self, polygons: Any, *, name_col: str = "name") -> pd.DataFrame:
        """Shares per polygon of ``polygons`` (e.g. townships), by each demand row's
        representative point. Rows outside every polygon are counted under ``(outside)``.

        Returns a DataFrame indexed by ``name_col`` with the columns of :meth:`shares`.
        """
        import geopandas as gpd

        if not isinstance(polygons, gpd.GeoDataFrame) or name_col not in polygons.columns:
            raise DataError(f"polygons must be a GeoDataFrame with a {name_col!r} column "
                            f"(name_col); got columns {list(getattr(polygons, 'columns', []))}")
        if polygons.crs is None:
            raise CRSError("polygons has no CRS; set it (OSM data is EPSG:4326)")
        pts = gpd.GeoDataFrame({"_row": np.arange(len(self.demand))},
                               geometry=demand_points(self.demand).to_numpy(),
                               crs=self.demand.crs)
        joined = gpd.sjoin(pts, polygons[[name_col, "geometry"]].to_crs(self.demand.crs),
                           how="left", predicate="intersects")
        joined = joined[~joined["_row"].duplicated(keep="first")].sort_values("_row")
        names = joined[name_col].astype(object).where(joined[name_col].notna(), "(outside)")
        area = self._area_m2()
        rows = {}
        for name, idx in names.groupby(names.to_numpy(), sort=True).groups.items():
            pos = joined.loc[idx, "_row"].to_numpy()
            part = self.demand.iloc[pos]
            rows[name] = _shares(part, None if area is None else area.iloc[pos])
        out = pd.DataFrame.from_dict(rows, orient="index")
        out.index.name = name_col
        return out

    def summary(self) -> dict[str, Any]:
        """Method, unit, threshold, parameters and shares in one JSON-ready dict."""
        return {"method": self.method, "unit": self.unit, "threshold": self.threshold,
                "parameters": dict(self.parameters), **self.shares()}


def _shares(d: Any, area: pd.Series | None) -> dict[str, Any]:
    covered = d["covered"].to_numpy(dtype=bool)
    n = len(d)
    out: dict[str, Any] = {
        "n": n, "n_covered": int(covered.sum()),
        "n_off_network": int((~d["on_network"].to_numpy(dtype=bool)).sum())
        if "on_network" in d else 0,
        "share_count": float(covered.mean()) if n else float("nan"),
        "population": None, "population_covered": None, "share_population": None,
        "area_km2": None, "area_covered_km2": None, "share_area": None,
    }
    if "population" in d.columns:
        pop = d["population"].astype(float).fillna(0).to_numpy()
        total = float(pop.sum())
        out["population"] = total
        out["population_covered"] = float(pop[covered].sum())
        out["share_population"] = out["population_covered"] / total if total > 0 else float("nan")
    if area is not None:
        a = area.to_numpy(dtype=float)
        total = float(a.sum())
        out["area_km2"] = total / 1e6
        out["area_covered_km2"] = float(a[covered].sum()) / 1e6
        out["share_area"] = float(a[covered].sum()) / total if total > 0 else float("nan")
    return out
