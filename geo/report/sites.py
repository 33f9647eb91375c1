"""Proposed sites in words: how many, where (street/town), what they bring.

Shared by ``geo site`` and the report's "Closing the gap" section so both say the same thing.
Street/town names come from the admin layer's ``admin_level8`` polygons
(:func:`geo.areas.townships`); nothing here solves or measures anything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from geo.format import fmt_share, fmt_value, method_words

log = logging.getLogger(__name__)

#: Town text for a site outside every named street/town polygon.
NO_TOWN = "(no named street/town)"


@dataclass(frozen=True)
class Siting:
    """One siting run for the report: the result, its cost model, the demand cells it ran on
    and the area's streets/towns (``name``, ``geometry``; ``None`` when unknown)."""

    result: Any
    model: dict[str, Any]
    cells: Any
    towns: Any = None


def site_towns(sites: Any, towns: Any) -> list[str]:
    """Street/town name of each site (a point GeoDataFrame), in row order.

    ``towns``: polygons with a ``name`` column (any CRS; ``None`` -> all unknown). A site on a
    shared border takes the first polygon (by name) that covers it.
    """
    import geopandas as gpd

    if sites is None or not len(sites):
        return []
    if towns is None or not len(towns):
        return [NO_TOWN] * len(sites)
    pts = gpd.GeoDataFrame({"_row": range(len(sites))}, geometry=list(sites.geometry),
                           crs=sites.crs)
    polys = towns[["name", "geometry"]].to_crs(pts.crs) if pts.crs is not None else towns
    joined = gpd.sjoin(pts, polys, how="left", predicate="intersects")
    joined = joined.sort_values(["_row", "name"], na_position="last")
    first = joined.drop_duplicates("_row").set_index("_row")["name"]
    return [str(first.get(i)) if isinstance(first.get(i), str) and first.get(i) else NO_TOWN
            for i in range(len(sites))]


def sites_headline(result: Any, model: dict[str, Any]) -> str:
    """One sentence: "6 new fire stations raise the covered population from 6.6 % to 31.2 %"."""
    n = int(result.n_sites)
    what = "site" if n == 1 else "sites"
    weight = "area" if model.get("weight") == "area_m2" else "population"
    goal = (f" (the fewest reaching {fmt_share(result.parameters.get('target_share'))})"
            if result.problem == "set_covering" and result.parameters.get("target_share")
            is not None else "")
    verb = "raises" if n == 1 else "raise"
    return (f"{n} new {what}{goal} {verb} the covered {weight} from "
            f"{fmt_share(result.share_before)} to {fmt_share(result.share_after)}")


def model_words(model: dict[str, Any]) -> str:
    """The cost model in words: "straight line, within 2,500 m, 250 m cells"."""
    from geo.format import fmt_cell_size

    parts = [method_words(model.get("method")),
             f"within {fmt_value(model.get('threshold'), model.get('unit'))}"]
    if model.get("cell_size_m") is not None:
        parts.append(fmt_cell_size(model.get("cell_size_m")))
    return ", ".join(parts)


def site_rows(result: Any, towns: Any) -> list[tuple[str, ...]]:
    """Table rows: rank, street/town, lon, lat, newly covered, share gained."""
    names = site_towns(result.sites, towns)
    weight_is_area = result.parameters.get("weight_column") == "area_m2"
    rows: list[tuple[str, ...]] = []
    for name, (_, s) in zip(names, result.sites.iterrows(), strict=True):
        gain = (fmt_value(s["covered_gain"] / 1e4, "ha") if weight_is_area
                else f"{round(float(s['covered_gain'])):,}")
        rows.append((str(int(s["rank"])), name, f"{s.geometry.x:.5f}", f"{s.geometry.y:.5f}",
                     gain, fmt_share(s["covered_gain_share"])))
    return rows


SITE_COLUMNS = ("rank", "street / town", "lon", "lat", "newly covered", "share gained")
