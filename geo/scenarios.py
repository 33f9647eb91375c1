"""Scenarios: planned facilities added to (or removed from) what OSM maps today.

A scenario is a GeoJSON FeatureCollection with a declared datum::

    {"type": "FeatureCollection", "datum": "wgs84",          # or "gcj02" / "bd09"
     "features": [
       {"type": "Feature", "geometry": {"type": "Point", "coordinates": [116.70, 39.86]},
        "properties": {"kind": "fire_station", "name": "规划消防站1", "opens": 2028}},
       {"type": "Feature", "geometry": null,
        "properties": {"kind": "fire_station", "name": "西集消防站", "action": "remove"}}]}

``kind`` is a facility kind (rail_station, park, fire_station, school, ...); ``name`` is
required; ``opens`` (year) is optional; ``action`` is ``add`` (default) or ``remove`` (matched
by exact name or ``osm_id`` among the existing facilities of that kind). Parks may be polygons
(their area counts) or points with an ``area_ha`` property. Points in GCJ-02 (Amap, Tencent)
or BD-09 (Baidu) are converted to WGS84; undeclared files are refused, and points that sit
consistently a GCJ-02/BD-09 offset away from their OSM namesakes trigger a warning.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import settings
from geo.errors import DataError, DataNotFoundError

log = logging.getLogger(__name__)

ACTIONS = ("add", "remove")


@dataclass
class Scenario:
    """Facilities to add (``added``: canonical frame, EPSG:4326) and to remove (by kind:
    names / OSM ids), from a named file."""

    name: str
    datum: str
    added: gpd.GeoDataFrame
    removed: dict[str, list[str]] = field(default_factory=dict)

    def apply(self, kind: str, facilities: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """``facilities`` of ``kind`` with this scenario's removals and additions applied."""
        out = facilities
        gone = set(self.removed.get(kind, []))
        if gone:
            keep = ~(out["name"].isin(gone) | out["osm_id"].astype(str).isin(gone))
            out = out[keep]
        add = self.added[self.added["kind"] == kind]
        if len(add):
            add = add.copy()
            if kind == "park":
                poly = gpd.GeoSeries(add["polygon"].values, crs=settings.geographic_crs)
                add["area_ha"] = poly.to_crs(settings.metric_crs).area.to_numpy() / 1e4
                add["inside_ha"] = add["area_ha"]
            cols = [c for c in out.columns if c in add.columns]
            out = gpd.GeoDataFrame(pd.concat([out, add[cols]], ignore_index=True),
                                   geometry="geometry", crs=settings.geographic_crs)
            if "polygon" in out.columns:
                out["polygon"] = gpd.GeoSeries(out["polygon"].values, crs=settings.geographic_crs)
        return out.reset_index(drop=True)

    def kinds(self) -> set[str]:
        """Facility kinds this scenario touches."""
        return set(self.added["kind"]) | set(self.removed)

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary: file, datum, what is added and removed."""
        return {"name": self.name, "datum": self.datum,
                "added": [{"kind": k, "name": n, "opens": None if o is None or (
                    isinstance(o, float) and math.isnan(o)) else int(o)}
                    for k, n, o in zip(self.added["kind"], self.added["name"],
                                       self.added["opens"], strict=True)],
                "removed": {k: sorted(v) for k, v in sorted(self.removed.items())}}


def _parse_feature(feat: Any, where: str) -> tuple[str, dict[str, Any]]:
    """(kind, row) of one scenario feature: ``{"action": "remove", "ref": osm id or name}``
    or the added facility's ``kind, name, opens, geom, polygon``."""
    from geo.facilities import FACILITY_KINDS

    if not isinstance(feat, dict):
        raise DataError(f"{where} is not a GeoJSON Feature object")
    props = feat.get("properties") or {}
    if not isinstance(props, dict):
        raise DataError(f"{where}: 'properties' must be an object")
    kind = props.get("kind")
    if not kind:
        raise DataError(f"{where} has no 'kind' property (one of "
                        f"{', '.join(FACILITY_KINDS)})")
    if kind not in FACILITY_KINDS:
        raise DataError(f"{where}: kind {kind!r} is not one of {', '.join(FACILITY_KINDS)}")
    name = props.get("name")
    if not name:
        raise DataError(f"{where} has no 'name' property")
    action = props.get("action", "add")
    if action not in ACTIONS:
        raise DataError(f"{where}: action {action!r} is not one of add, remove")
    if action == "remove":
        return kind, {"action": "remove", "ref": str(props.get("osm_id") or name)}
    try:
        geom = shapely.geometry.shape(feat["geometry"]) if feat.get("geometry") else None
    except (KeyError, TypeError, ValueError, AttributeError,
            shapely.errors.ShapelyError) as exc:
        raise DataError(f"{where} ({name}) has an invalid geometry ({exc!r}): expected "
                        "a GeoJSON Point or Polygon") from None
    if geom is None or geom.is_empty:
        raise DataError(f"{where} ({name}) adds a facility but has no geometry")
    if not all(math.isfinite(v) for v in geom.bounds):
        raise DataError(f"{where} ({name}) has non-finite (NaN/inf) coordinates: give "
                        "longitude, latitude numbers")
    opens = props.get("opens")
    if opens is not None and not (isinstance(opens, int) and 1900 < opens < 2200):
        raise DataError(f"{where}: 'opens' must be a year, got {opens!r}")
    if kind == "park" and geom.geom_type == "Point":
        area_ha = props.get("area_ha")
        if (not isinstance(area_ha, (int, float)) or isinstance(area_ha, bool)
                or not math.isfinite(area_ha) or area_ha <= 0):
            raise DataError(f"{where}: a park given as a point needs 'area_ha' (> 0)")
        polygon: Any = ("radius_from_area", float(area_ha))
    elif kind == "park" and geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise DataError(f"{where} ({name}): a park must be a Polygon, or a Point with "
                        f"'area_ha'; got a {geom.geom_type}")
    else:
        polygon = geom if geom.geom_type in ("Polygon", "MultiPolygon") else None
    return kind, {"kind": kind, "name": str(name), "opens": opens, "geom": geom,
                  "polygon": polygon}


def load_scenario(path: str | Path, *, datum: str | None = None, area: Any = None,
                  osm_reference: gpd.GeoDataFrame | None = None) -> Scenario:
    """Read a scenario file (module docstring).

    ``datum`` declares the coordinates' datum when the file does not; a
    file that declares one datum and a ``datum`` argument that says another is an error.
    ``area`` (an :class:`geo.areas.Area`): added points must lie inside it.
    ``osm_reference``: OSM facilities to check for an undeclared GCJ-02/BD-09 offset.
    """
    from geo.coords import convert_gdf, detect_datum_offset, normalize_datum

    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"scenario file {path} does not exist")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"scenario file {path} is not UTF-8 GeoJSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise DataError(f"scenario file {path} must be a GeoJSON FeatureCollection")
    declared = doc.get("datum")
    if declared is not None and datum is not None and \
            normalize_datum(declared) != normalize_datum(datum):
        raise DataError(f"scenario file {path} declares datum {declared!r} but datum= says "
                        f"{datum!r}: make them agree")
    chosen = declared or datum
    if chosen is None:
        raise DataError(f"scenario file {path} declares no datum: add \"datum\": \"wgs84\" "
                        "(or gcj02 for Amap/Tencent points, bd09 for Baidu) to the file, or "
                        "pass datum=")
    chosen = normalize_datum(chosen)
    adds: list[dict[str, Any]] = []
    removed: dict[str, list[str]] = {}
    for i, feat in enumerate(doc.get("features") or []):
        kind, row = _parse_feature(feat, f"scenario file {path}: feature {i}")
        if row.get("action") == "remove":
            removed.setdefault(kind, []).append(row["ref"])
        else:
            adds.append(row)
    added = _frame(adds, chosen)
    if chosen != "wgs84" and len(added):
        added = convert_gdf(added, src=chosen, dst="wgs84")
        if "polygon" in added.columns:
            added["polygon"] = convert_gdf(added.set_geometry("polygon")[["polygon"]],
                                           src=chosen, dst="wgs84").geometry.values
    if area is not None and len(added):
        outside = ~added.geometry.within(area.geometry)
        if outside.any():
            names = ", ".join(added.loc[outside, "name"].astype(str))
            raise DataError(f"scenario file {path}: facilities outside {area.name}: {names} "
                            "(check the datum and the coordinates' order: lon, lat)")
    if osm_reference is not None and len(added) and len(osm_reference):
        res = detect_datum_offset(added, osm_reference)
        if res.warn:
            log.warning("scenario %s: %s", path.name, res.message)
    return Scenario(name=path.name, datum=chosen, added=added, removed=removed)


def check_removals(scenario: Scenario, existing: Any) -> None:
    """Raise :class:`DataError` when a ``remove`` names no existing facility.

    ``existing(kind)`` returns the facilities of that kind the evaluation uses (canonical
    columns); a removal matches an exact ``name`` or ``osm_id``.
    """
    missing = []
    for kind, names in sorted(scenario.removed.items()):
        fac = existing(kind)
        have = set(fac["name"].dropna().astype(str)) | set(fac["osm_id"].dropna().astype(str))
        missing += [f"{kind} {n!r}" for n in names if n not in have]
    if missing:
        raise DataError(f"scenario {scenario.name}: nothing to remove for {', '.join(missing)} "
                        "(no OSM facility of that exact name or osm_id): check the names with "
                        "the evaluation's facility notes (its JSON) or the map tooltips")


def _frame(rows: list[dict[str, Any]], datum: str) -> gpd.GeoDataFrame:
    """Canonical facility frame of added facilities (representative points; park polygons)."""
    if not rows:
        return gpd.GeoDataFrame({"facility_id": [], "kind": [], "name": [], "osm_id": [],
                                 "opens": [], "polygon": gpd.GeoSeries([])},
                                geometry=gpd.GeoSeries([]), crs=settings.geographic_crs)
    points, polys = [], []
    for r in rows:
        g = r["geom"]
        points.append(g if g.geom_type == "Point" else g.representative_point())
        poly = r["polygon"]
        if isinstance(poly, tuple):  # a park point with an area: a circle of that area
            radius_m = math.sqrt(poly[1] * 1e4 / math.pi)
            pm = gpd.GeoSeries([g], crs=settings.geographic_crs).to_crs(settings.metric_crs)
            poly = pm.buffer(radius_m).to_crs(settings.geographic_crs).iloc[0]
        polys.append(poly)
    frame = gpd.GeoDataFrame(
        {"facility_id": [f"scenario:{i + 1}" for i in range(len(rows))],
         "kind": [r["kind"] for r in rows], "name": [r["name"] for r in rows],
         "osm_id": pd.Series([None] * len(rows), dtype=object),
         "opens": pd.Series([r["opens"] for r in rows], dtype=object),
         "polygon": gpd.GeoSeries(polys, crs=settings.geographic_crs)},
        geometry=points, crs=settings.geographic_crs)
    return frame


def compare(before: Any, after: Any) -> dict[str, Any]:
    """Before/after evaluations side by side: per claim the change in the measured value and
    verdict, and the change per township (the scenario part of the evaluation JSON)."""
    rows = []
    by_id = {c.claim.id: c for c in before.claims}
    for a in after.claims:
        b = by_id.get(a.claim.id)
        if b is None:
            continue
        bb = {r["name"]: r["measured"] for r in b.breakdown}
        towns = []
        for r in a.breakdown:
            old = bb.get(r["name"])
            new = r["measured"]
            if old is not None and new is not None and not np.isclose(old, new):
                towns.append({"name": r["name"], "before": old, "after": new,
                              "change": new - old})
        delta = (a.value - b.value) if a.value is not None and b.value is not None else None
        late = _opens_after(after.data.get("scenario"), a.claim)
        rows.append({"id": a.claim.id, "before": b.value, "after": a.value, "change": delta,
                     "unit": a.unit, "verdict_before": b.verdict, "verdict_after": a.verdict,
                     "townships_changed": towns, "opens_after_target_year": late})
    return {"scenario": after.data.get("scenario"), "changes": rows,
            "before": before.to_dict(), "after": after.to_dict()}


def _opens_after(described: dict[str, Any] | None, claim: Any) -> list[str]:
    """Names of added facilities of the claim's kind that open after its target year (they
    are counted, but the plan's year would not see them)."""
    if not described:
        return []
    kind = dict(claim.parameters).get("facility_kind")
    return [a["name"] for a in described.get("added", [])
            if a["kind"] == kind and a.get("opens") and a["opens"] > claim.target.year]
