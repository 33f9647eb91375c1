"""One area's report: ``index.html``, claim maps, ``claims.json``, CSV tables, GeoParquet layers.

Layout written by :func:`write_report`::

    out_dir/index.html                    headline verdicts (C01-C04), claims table, details,
                                          sensitivity charts, township breakdowns, provenance
    out_dir/claims.json                   exactly ``evaluation.to_dict()`` (the JSON contract)
    out_dir/maps/<claim_id>.html          one self-contained Folium map per claim with layers
    out_dir/tables/claims.csv             one row per claim
    out_dir/tables/sensitivity.csv        one row per sensitivity variant
    out_dir/tables/breakdown.csv          one row per claim and township
    out_dir/layers/<claim_id>_cells.parquet, _facilities.parquet, _service_areas.parquet

The whole folder is built in a hidden temporary folder beside ``out_dir`` and renamed into
place at the end, so an interrupted run (Ctrl-C, a crash) leaves the previous report or none,
never half of one (``geo.io.staged_dir``). An existing ``out_dir`` is replaced only when it is
empty or a previous report whose ``.geo-report`` marker lists, as a manifest, every file in it at
every depth; anything else (a user's file in ``tables/`` included) is refused.

Every string that comes from data (claim titles, quotes, notes, township and facility names) is
HTML-escaped: the Jinja environment autoescapes, and the maps escape their own labels. Output is
deterministic: the same evaluation gives byte-identical files (no timestamps; Folium's random
element ids are renumbered in order of appearance).
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo.claims.metrics import REGISTRY
from geo.errors import GeoError, OutputError
from geo.format import (
    comparator_words,
    fmt_value,
    key_words,
    method_words,
    param_words,
    prose,
    report_words,
    verdict_words,
)
from geo.io import (
    check_output,
    default_permissions,  # noqa: F401  (re-exported: report callers use it)
    is_empty_folder,
    is_toolkit_folder,
    spreadsheet_safe,
    staged_dir,
    write_marker,
)
from geo.report.charts import sensitivity_svg, svg_data_uri
from geo.report.options import ReportOptions
from geo.report.sites import Siting

if TYPE_CHECKING:
    import geopandas as gpd
    import jinja2

    from geo.claims.result import AreaEvaluation, ClaimResult

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
VERDICT_LABELS = {v: verdict_words(v) for v in ("met", "not_met", "inconclusive")}
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")
#: Layer frames written as GeoParquet, by attribute of ClaimLayers.
LAYER_KINDS = ("cells", "facilities", "service_areas")


# --------------------------------------------------------------------------- small helpers

def claim_slug(claim_id: str) -> str:
    """File-name-safe form of a claim id (claim files already restrict ids to [A-Za-z0-9_.-])."""
    slug = _SAFE_ID.sub("_", str(claim_id)).lstrip(".")
    return slug or "claim"


def geo_version() -> str:
    """The installed ``geo`` version."""
    import geo

    return str(getattr(geo, "__version__", "dev"))


@cache
def jinja_env() -> jinja2.Environment:
    """The report templates' Jinja environment: autoescape on, undefined names are errors."""
    import jinja2

    from geo.format import fmt_date

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=False)
    env.filters["date_words"] = fmt_date
    return env


def render(template: str, **context: Any) -> str:
    """Render one of the report templates (``index.html.j2``, ``batch.html.j2``)."""
    return jinja_env().get_template(template).render(geo_version=geo_version(), **context)


_value_text = param_words   # parameter / provenance values in words (no dicts, no JSON)


def _number_text(value: Any, column: str = "") -> str:
    """A breakdown number; people and areas whole ("777", not "777.3")."""
    if isinstance(value, bool) or value is None:
        return param_words(value)
    if isinstance(value, int | float):
        if not math.isfinite(float(value)):
            return "n/a"
        if "population" in column or "people" in column or abs(value) >= 1000:
            return f"{round(float(value)):,}"
        return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"
    return str(value)


def parameter_rows(parameters: dict[str, Any]) -> list[tuple[str, str]]:
    """(name, value) rows in words; parameters that are not set (``None``) are left out."""
    return [(key_words(k), param_words(v)) for k, v in sorted(parameters.items())
            if v is not None and v != [] and v != {}]


#: Report groups in order (issue 15): headline claims first, then the claim file's themes.
THEME_ORDER = ("headline", "transport", "green space", "safety", "public services", "other")


def theme_group(claim: Any) -> str:
    """The report group of a claim: ``headline`` for headline claims, else its ``theme``
    (``other`` when it has none)."""
    if getattr(claim, "headline", False):
        return "headline"
    theme = getattr(claim, "theme", None)
    return theme if theme in THEME_ORDER else "other"


def by_theme(results: Sequence[ClaimResult]) -> list[ClaimResult]:
    """Results ordered by :data:`THEME_ORDER`, keeping the claim file's order within a group."""
    return sorted(results, key=lambda r: THEME_ORDER.index(theme_group(r.claim)))


def target_text(claim: Any) -> str:
    """The plan's target in words: "about 29.0 % by 2030", "≥ 100.0 % by 2030"."""
    t = claim.target
    if t.comparator == "measure":   # the plan gives no number: nothing to reach "by" a year
        return f"no number in the plan (a measurement; plan period to {t.year})"
    return f"{comparator_words(t.comparator, fmt_value(t.value, t.unit))} by {t.year}"


def fetch_area_name(area: dict[str, Any]) -> str:
    """The ``fetch_geofabrik(area=...)`` name for an evaluated area: its district's pinyin
    (``haidian``), else ``beijing`` (whose extract covers any area in the city)."""
    from geo.areas import BEIJING_DISTRICTS

    name, en = str(area.get("name") or ""), str(area.get("name_en") or "").lower()
    for zh, pinyin in BEIJING_DISTRICTS.items():
        if name == zh or en == pinyin.lower():
            return pinyin.lower()
    return "beijing"


def why_inconclusive(r: ClaimResult) -> list[str]:
    """Reasons for an inconclusive verdict: the notes, plus what the numbers show."""
    if r.verdict != "inconclusive":
        return []
    # geo.claims.evaluate states the reason as a note "inconclusive: <why>": show just that
    stated = [str(n)[len("inconclusive: "):] for n in r.notes
              if str(n).startswith("inconclusive: ")]
    if stated:
        return stated
    # otherwise the evaluator's own notes first; the claim file's notes only as a fallback
    claim_notes = set(getattr(r.claim, "notes", ()) or ())
    why = [str(n) for n in r.notes if n not in claim_notes] or [str(n) for n in r.notes]
    if r.value is None or (isinstance(r.value, float) and not math.isfinite(r.value)):
        if not why:
            why.append("nothing could be measured")
    else:
        variants = sorted({str(s.get("verdict")) for s in r.sensitivity})
        if "met" in variants and "not_met" in variants:
            why.append("the sensitivity variants give both met and not met: the result depends "
                       "on the parameters")
        elif not why:
            why.append(f"base verdict {verdict_words(r.base_verdict)}")
    return why


def robust_text(r: ClaimResult) -> str:
    """Robustness in words, counted from the sensitivity variants."""
    n = len(r.sensitivity)
    if r.robust:
        if n == 1:
            return "robust: the one sensitivity variant agrees"
        return f"robust: all {n} sensitivity variants agree" if n else "robust"
    if r.base_verdict == "inconclusive":
        return "not robust: the base case is inconclusive"
    if not n:
        return "not robust: no sensitivity variants"
    differ = [s for s in r.sensitivity if s.get("verdict") != r.base_verdict]
    if not differ:
        return ("not robust: the variant agrees, but see the notes" if n == 1 else
                f"not robust: all {n} variants agree, but see the notes")
    kinds = sorted({str(s.get("verdict")) for s in differ})
    return (f"not robust: {len(differ)} of {n} variants give "
            f"{' / '.join(VERDICT_LABELS.get(k, k) for k in kinds)}")


def _method_text(r: ClaimResult) -> str:
    return method_words(r.method)


def _denominator_text(r: ClaimResult) -> str:
    """What the measure counts over, for the claim card: "counted by population" for a share,
    the counted set ("hospital in OSM", "13 named facilities") for a count or a length."""
    if not r.denominator:
        return ""
    words = prose(str(r.denominator)).replace("_", " ")
    return f"counted by {words}" if r.unit == "share" else words


# --------------------------------------------------------------------------- view models

def _layers_nonempty(r: ClaimResult) -> bool:
    ly = r.layers
    return ly is not None and any(
        getattr(ly, k) is not None and len(getattr(ly, k)) for k in ("cells", "facilities"))


def _no_map_reason(r: ClaimResult) -> str:
    if r.layers is None:
        return ("this kind of claim has nothing to map" if r.value is not None
                else "nothing was measured")
    return "no cells or facilities to draw"


def _breakdown_table(r: ClaimResult) -> tuple[list[str], list[list[str]]]:
    if not r.breakdown:
        return [], []
    cols: list[str] = []
    for row in r.breakdown:
        for k in row:
            if k not in cols:
                cols.append(str(k))
    cols = [c for c in ("name", "measured") if c in cols] + [
        c for c in cols if c not in ("name", "measured")]
    rows = []
    for row in r.breakdown:
        cells = []
        for c in cols:
            v = row.get(c)
            cells.append(fmt_value(v, r.unit) if c == "measured" else
                         (param_words(v) if c == "name" else _number_text(v, c)))
        rows.append(cells)
    return [key_words(c) for c in cols], rows


#: What the rows of a breakdown are, by the metric's method (default: townships).
_BREAKDOWN_ROWS = {"name_match": ("named facility", "named facilities"),
                   "clip_length": ("railway line", "railway lines"),
                   "point_in_polygon": ("street/town", "streets/towns"),
                   "osm_count": ("street/town", "streets/towns")}


def breakdown_title(r: ClaimResult) -> str:
    """The breakdown's heading, naming what its rows are: "Breakdown by township (15
    townships)", "Breakdown by named facility (13 named facilities)"."""
    one, many = _BREAKDOWN_ROWS.get(str(r.method), ("township", "townships"))
    n = len(r.breakdown)
    return f"Breakdown by {one} ({n} {one if n == 1 else many})"


def _source_text(c: Any) -> str:
    """"plan.txt, line 997" and the binding (约束性 / 预期性) when the claim file gives one."""
    text = f"{Path(str(c.source.document)).name}, line {c.source.line}"
    binding = str(c.binding or "").strip()
    return text if binding.lower() in ("", "none") else f"{text}; {binding}"


def claim_view(r: ClaimResult, *, map_href: str | None, map_missing: str | None,
               layer_files: Sequence[str] = (), charts: bool = True,
               siting_href: str | None = None, fetch_area: str | None = None) -> dict[str, Any]:
    """Plain values the template shows for one claim (escaping is left to the template)."""
    c = r.claim
    chart_uri = None
    if charts and r.sensitivity:
        svg = sensitivity_svg(r.sensitivity, title=f"{c.id} {c.title_zh}", unit=r.unit,
                              target=None if c.target.value is None else float(c.target.value),
                              base_value=_finite(r.value),
                              metric=c.metric, comparator=c.target.comparator)
        chart_uri = svg_data_uri(svg) if svg else None
    cols, rows = _breakdown_table(r)
    return {
        "present": True,
        "id": c.id, "title_zh": c.title_zh, "title_en": c.title_en, "quote": c.quote,
        "theme": theme_group(c),
        "source_text": _source_text(c), "binding": "",
        "target_text": target_text(c),
        "measured_text": fmt_value(_finite(r.value), r.unit) + (
            REGISTRY[r.claim.metric].measured_label if _finite(r.value) is not None else ""),
        "method_text": _method_text(r), "denominator": _denominator_text(r),
        "verdict": r.verdict, "verdict_label": verdict_words(r.verdict),
        "base_verdict_label": verdict_words(r.base_verdict),
        "robust_text": robust_text(r),
        "why": [report_words(n, fetch_area=fetch_area) for n in why_inconclusive(r)],
        "notes": [report_words(n, fetch_area=fetch_area) for n in r.notes
                  if not (siting_href and "close_gap(ctx, claim, add=" in str(n))],
        "parameters": parameter_rows(r.parameters),
        "map_href": map_href, "map_missing": map_missing, "chart_uri": chart_uri,
        "siting_href": siting_href,
        "sensitivity": [{"parameter": key_words(s.get("parameter")),
                         "value": param_words(s.get("value")),
                         "measured": fmt_value(_finite(s.get("measured")), r.unit),
                         "verdict": str(s.get("verdict")),
                         "verdict_label": verdict_words(s.get("verdict"))}
                        for s in r.sensitivity],
        "breakdown_title": breakdown_title(r),
        "breakdown_columns": cols, "breakdown_rows": rows,
        "layer_files": list(layer_files),
    }


def _finite(x: Any) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _missing_card(claim_id: str) -> dict[str, Any]:
    return {"present": False, "id": claim_id, "title_zh": "", "title_en": "",
            "verdict": "inconclusive", "verdict_label": "not evaluated",
            "why": [f"claim {claim_id} is not in this evaluation (not in the claim file)"]}


def area_title(area: dict[str, Any]) -> str:
    """"通州区 (Tongzhou)" from an evaluation's area dict."""
    name = str(area.get("name") or area.get("name_en") or "study area")
    en = area.get("name_en")
    return f"{name} ({en})" if en and en != name else name


#: Evaluation data keys a person does not need in the report (local paths, repeats).
_PROVENANCE_HIDDEN = frozenset({"data_dir", "network_notes", "claims_skipped", "population"})


def _network_text(source: Any) -> str:
    """The road network's source in words, without the user's local folders."""
    if not source:
        return ("none: no road network was available (network claims use a straight-line "
                "approximation or are inconclusive)")
    text = str(source)
    return Path(text).name if ("/" in text or "\\" in text) and len(text.split()) == 1 else text


def provenance(evaluation: AreaEvaluation) -> list[tuple[str, str]]:
    """(label, text) pairs of the provenance block: area, data sources, software.

    In words: no machine keys, no ``None``, no local paths (the JSON keeps those).
    """
    from geo.format import fmt_cell_size, fmt_date, fmt_people

    data = dict(evaluation.data)
    area = {k: v for k, v in evaluation.area.items() if k != "geometry"}
    out = [("area", area_title(evaluation.area))]
    out += [(_area_label(k), param_words(v)) for k, v in area.items()
            if k not in ("name", "name_en") and v is not None and not _is_local_path(v)]
    notes = [report_words(n, fetch_area=fetch_area_name(evaluation.area))
             for n in data.get("network_notes") or []]
    out += [
        ("OSM data", param_words(data.pop("osm_source", None) or "unknown")),
        ("OSM data date", fmt_date(data.pop("osm_data_date", None))),
        ("population source", param_words(data.pop("population_source", None) or "unknown")),
        ("demand cells", fmt_cell_size(evaluation.parameters.get("cell_size_m"))),
        ("road network", _network_text(data.pop("network_source", None))
         + (f" ({'; '.join(notes)})" if notes else "")),
        ("layers missing", param_words(data.pop("layers_missing", None) or [])),
    ]
    if data.get("population_total") is not None:
        out.append(("residents in the area", fmt_people(data.pop("population_total"))))
    if isinstance(data.get("population"), dict):
        out.append(("population method", population_text(data["population"])))
    out += [(key_words(k), param_words(v)) for k, v in data.items()
            if k not in _PROVENANCE_HIDDEN and v is not None and not _is_local_path(v)]
    out.append(("software", f"geo {geo_version()}"))
    return out


def population_text(pop: dict[str, Any]) -> str:
    """How residents were put on the cells, in a sentence (the JSON keeps every unit's
    numbers): method, census scaling by district, how many townships contribute."""
    from geo.format import fmt_number

    parts = [str(pop["method"])] if pop.get("method") else []
    if pop.get("source"):
        parts.append(str(pop["source"]))
    scaling = pop.get("scaling")
    if isinstance(scaling, dict) and scaling:
        parts.append("census scaling " + ", ".join(
            f"{k} x {fmt_number(v, 2)}" for k, v in sorted(scaling.items(), key=str)))
    units = pop.get("units")
    if isinstance(units, list) and units:
        parts.append(f"{len(units)} townships overlap the area")
    parts += [str(n) for n in pop.get("notes") or []]
    return "; ".join(parts) or "unknown"


def _area_label(key: str) -> str:
    words = key_words(key)
    return words if words.startswith("area") else f"area {words}"


def _is_local_path(value: Any) -> bool:
    text = str(value)
    return isinstance(value, str | os.PathLike) and os.path.isabs(text) and " " not in text


# --------------------------------------------------------------------------- tables, layers

def claims_table(evaluation: AreaEvaluation, maps_written: dict[str, str]) -> Any:
    """pandas DataFrame: one row per claim (target, measured, method, verdict, robustness)."""
    import pandas as pd

    rows = []
    for r in evaluation.claims:
        c = r.claim
        rows.append({
            "claim_id": c.id, "title_zh": c.title_zh, "title_en": c.title_en,
            "metric": c.metric, "binding": c.binding,
            "target_comparator": c.target.comparator, "target_value": c.target.value,
            "target_unit": c.target.unit, "target_year": c.target.year,
            "measured_value": _finite(r.value), "measured_unit": r.unit, "method": r.method,
            "denominator": r.denominator, "verdict": r.verdict, "base_verdict": r.base_verdict,
            "robust": bool(r.robust), "n_variants": len(r.sensitivity),
            "map": maps_written.get(c.id, ""), "notes": " | ".join(map(str, r.notes)),
        })
    return pd.DataFrame(rows, columns=list(rows[0]) if rows else ["claim_id"])


def sensitivity_table(evaluation: AreaEvaluation) -> Any:
    """pandas DataFrame: one row per (claim, sensitivity variant)."""
    import pandas as pd

    rows = [{"claim_id": r.claim.id, "parameter": s.get("parameter"),
             "value": _value_text(s.get("value")), "measured": _finite(s.get("measured")),
             "unit": r.unit, "verdict": s.get("verdict")}
            for r in evaluation.claims for s in r.sensitivity]
    return pd.DataFrame(rows, columns=["claim_id", "parameter", "value", "measured", "unit",
                                       "verdict"])


def breakdown_table(evaluation: AreaEvaluation) -> Any:
    """pandas DataFrame: one row per (claim, township) with every breakdown key as a column."""
    import pandas as pd

    rows = []
    extra: list[str] = []
    for r in evaluation.claims:
        for b in r.breakdown:
            row = {"claim_id": r.claim.id, "name": b.get("name"),
                   "measured": _finite(b.get("measured")), "unit": r.unit}
            for k, v in b.items():
                if k not in ("name", "measured"):
                    row[str(k)] = v
                    if str(k) not in extra:
                        extra.append(str(k))
            rows.append(row)
    return pd.DataFrame(rows, columns=["claim_id", "name", "measured", "unit", *extra])


def write_geoparquet(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    """Write ``gdf`` (EPSG:4326) as GeoParquet; extra shapely columns become geometry columns,
    other mixed-type object columns text."""
    import geopandas as gpd
    import pandas as pd
    from shapely.geometry.base import BaseGeometry

    out = gdf.copy()
    if out.crs is not None and out.crs.to_epsg() != 4326:
        out = out.to_crs(4326)
    for col in out.columns:
        if col == out.geometry.name or isinstance(out[col].dtype, gpd.array.GeometryDtype):
            continue
        s = out[col]
        if s.dtype == object:
            vals = [v for v in s if v is not None and not (isinstance(v, float) and math.isnan(v))]
            if vals and all(isinstance(v, BaseGeometry) for v in vals):
                out[col] = gpd.GeoSeries(s, crs=out.crs, index=out.index)
            elif len({type(v) for v in vals}) > 1 or any(
                    isinstance(v, list | tuple | dict | set | BaseGeometry) for v in vals):
                out[col] = pd.array([None if v is None else str(v) for v in s], dtype=object)
    out.to_parquet(path, index=False)
    return path


def _layer_frames(r: ClaimResult) -> dict[str, gpd.GeoDataFrame]:
    if r.layers is None:
        return {}
    return {k: getattr(r.layers, k) for k in LAYER_KINDS
            if getattr(r.layers, k) is not None and len(getattr(r.layers, k))}


# --------------------------------------------------------------------------- maps

_THRESHOLD_TO_LEGEND = {"s": 1 / 60, "km": 1000.0}


def _fallback_geometry(evaluation: AreaEvaluation) -> Any:
    """The area outline when none is given: the union of the demand cells, else the hull of
    the facilities, else ``None``."""
    geom = evaluation.area.get("geometry") if isinstance(evaluation.area, dict) else None
    if geom is not None:
        from shapely.geometry import shape
        from shapely.geometry.base import BaseGeometry

        return geom if isinstance(geom, BaseGeometry) else shape(geom)
    for r in evaluation.claims:
        if r.layers is not None and r.layers.cells is not None and len(r.layers.cells):
            cells = r.layers.cells.to_crs(4326)
            return cells.geometry.union_all()
    for r in evaluation.claims:
        if r.layers is not None and r.layers.facilities is not None and len(r.layers.facilities):
            return r.layers.facilities.to_crs(4326).geometry.union_all().convex_hull.buffer(0.005)
    return None


def claim_map_html(r: ClaimResult, area_geometry: Any,
                   options: ReportOptions | None = None) -> str:
    """The self-contained HTML page of one claim's map (deterministic element ids)."""
    from geo import maps

    ly = r.layers
    assert ly is not None
    c = r.claim
    threshold = ly.threshold
    if threshold is not None:
        threshold = float(threshold) * _THRESHOLD_TO_LEGEND.get(ly.cost_unit, 1.0)
    result = (f"measured {fmt_value(_finite(r.value), r.unit)}, target {target_text(c)}: "
              f"{verdict_words(r.verdict)} ({_method_text(r)})")
    subtitle = [c.title_zh, result]
    opts = options or ReportOptions()
    style = maps.CellStyle(cost_column=ly.cost_column, cost_unit=ly.cost_unit,
                           covered_column=ly.covered_column, threshold=threshold,
                           cost_label=ly.cost_label)
    m = maps.claim_map(area_geometry, ly.facilities, title=f"{c.id} {c.title_en}",
                       cells=ly.cells, service_areas=ly.service_areas, subtitle=subtitle,
                       style=style, options=opts.map_options())
    return maps.map_html(m, cdn=opts.cdn)


# --------------------------------------------------------------------------- the report

def check_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """``out_dir`` as a Path if a report may be written there: new, empty, or a previous report
    whose ``.geo-report`` manifest lists every file in it at every depth; otherwise
    :class:`~geo.errors.OutputError`, so nobody's folder or file is replaced."""
    out = check_output(out_dir, kind="folder", what="report folder").resolve()
    if out.exists() and not is_empty_folder(out) and not is_toolkit_folder(out):
        raise OutputError(f"report folder {out} is not a geo report: it holds files geo did not "
                          f"write (none listed in a .geo-report manifest): choose a new or empty folder, "
                          f"e.g. {out / 'report'}")
    return out


def _existing_facilities(evaluation: AreaEvaluation, claim_id: str) -> Any:
    """The facilities the evaluation drew for the siting's claim (markers on the sites map)."""
    try:
        layers = evaluation.claim(claim_id).layers
    except KeyError:
        return None
    return None if layers is None else layers.facilities


def _siting_view(siting: Siting, tmp: Path, geometry: Any,
                 opts: ReportOptions, existing: Any = None) -> dict[str, Any]:
    """Write one siting's GeoJSON (and map) into the staged report; return its template view."""
    from geo.report.sites import SITE_COLUMNS, model_words, site_rows, sites_headline

    result, model = siting.result, siting.model
    cid = str(model["claim"])
    slug = claim_slug(cid)
    (tmp / "sites").mkdir(exist_ok=True)
    result.to_geojson(tmp / "sites" / f"{slug}.geojson")
    map_href = None
    if opts.maps and geometry is not None and len(result.sites):
        from geo.maps import map_html, sites_map

        m = sites_map(geometry, siting.cells, result,
                      title=f"{cid}: {result.n_sites} proposed sites",
                      options=opts.map_options(), existing=existing)
        (tmp / "maps").mkdir(exist_ok=True)
        (tmp / "maps" / f"{slug}_sites.html").write_text(map_html(m, cdn=opts.cdn),
                                                          encoding="utf-8")
        map_href = f"maps/{slug}_sites.html"
    return {"id": cid, "n_sites": result.n_sites, "problem": result.problem,
            "headline": sites_headline(result, model), "model_text": model_words(model),
            "before": fmt_value(result.share_before, "share"),
            "after": fmt_value(result.share_after, "share"),
            "weight": "area" if model.get("weight") == "area_m2" else "population",
            "method": method_words(model.get("method")),
            "threshold": fmt_value(model.get("threshold"), model.get("unit")),
            "cell_size_m": f"{model.get('cell_size_m', float('nan')):g}",
            "proven": result.proven_optimal, "solver": result.solver,
            "time_s": f"{result.time_s:.1f}", "warnings": list(dict.fromkeys(result.warnings)),
            "geojson_href": f"sites/{slug}.geojson", "map_href": map_href,
            "columns": list(SITE_COLUMNS), "rows": site_rows(result, siting.towns)}


def write_report(
    evaluation: AreaEvaluation,
    out_dir: str | os.PathLike[str],
    options: ReportOptions | None = None,
    *,
    area_geometry: Any = None,
    sitings: Sequence[Siting | tuple[Any, dict[str, Any], Any]] = (),
    batch_index: str | None = None,
    settings_fingerprint: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Write the HTML/JSON/CSV/GeoParquet report of one area; return ``out_dir/index.html``.

    Parameters
    ----------
    evaluation
        What :func:`geo.claims.evaluate.evaluate_area` returns.
    out_dir
        Report folder; replaced as a whole (atomically) when it holds a previous report.
    options
        :class:`geo.report.options.ReportOptions`: tiles, CDN assets, maps and charts on/off
        (its evaluation fields are not used here: the evaluation is already made).
    area_geometry
        District outline for the maps (shapely, EPSG:4326, or a ``geo.areas.Area``); default:
        ``evaluation.area["geometry"]``, else the union of the demand cells.
    sitings
        :class:`geo.report.sites.Siting` (or ``(result, model, cells)``) per claim from
        :func:`geo.claims.gap.close_gap`: a "Closing the gap" section,
        ``sites/<claim>.geojson`` and a sites map.
    batch_index
        Relative link to a batch's comparison page, shown in the header.
    settings_fingerprint
        The settings the report was made with, stored in its ``.geo-report`` marker (JSON) so a
        batch reuses it only for the same settings.
    progress
        Called with a short description ("map C04") before each slow step.

    Raises
    ------
    DataError
        ``out_dir`` exists and is neither empty nor a previous report, or ``tiles`` is unknown.
    """
    opts = (options or ReportOptions()).check()   # refuse bad tiles before any work
    out = check_out_dir(out_dir)
    geometry = area_geometry.geometry if hasattr(area_geometry, "geometry_m") else area_geometry
    if opts.maps and geometry is None:
        geometry = _fallback_geometry(evaluation)
    with staged_dir(out) as tmp:
        layer_files = _write_layers(evaluation, tmp)
        step = progress or (lambda _desc: None)
        map_hrefs, missing = _write_claim_maps(evaluation, tmp, geometry, opts, step)
        sitings_ = [s if isinstance(s, Siting) else Siting(*s) for s in sitings]
        siting_views = [_siting_view(s, tmp, geometry, opts,
                                     existing=_existing_facilities(evaluation,
                                                                   str(s.model["claim"])))
                        for s in sitings_]
        views = [claim_view(r, map_href=map_hrefs.get(r.claim.id),
                            map_missing=missing.get(r.claim.id),
                            layer_files=layer_files.get(r.claim.id, ()), charts=opts.charts,
                            siting_href=_siting_href(r.claim.id, siting_views),
                            fetch_area=fetch_area_name(evaluation.area))
                 for r in by_theme(evaluation.claims)]
        by_id = {v["id"]: v for v in views}
        headline = [by_id[r.claim.id] for r in evaluation.claims if r.claim.headline]
        page = render("index.html.j2", area_title=area_title(evaluation.area),
                      data=evaluation.data, headline=headline, claims=views,
                      provenance=provenance(evaluation),
                      parameters=parameter_rows(evaluation.parameters),
                      batch_index=batch_index, sitings=siting_views, lang="en",
                      cells_text=_cells_text(evaluation))
        (tmp / "index.html").write_text(page, encoding="utf-8")
        _write_data_files(evaluation, tmp, map_hrefs, settings_fingerprint)
    log.info("wrote report %s (%d claims, %d maps)", out, len(evaluation.claims), len(map_hrefs))
    return out / "index.html"


def _write_data_files(evaluation: AreaEvaluation, tmp: Path, map_hrefs: dict[str, str],
                      settings_fingerprint: dict[str, Any] | None) -> None:
    """``claims.json`` (the JSON contract), the CSV tables, and last the report marker with
    the manifest of every file written (``geo.io.write_marker``)."""
    (tmp / "claims.json").write_text(
        json.dumps(evaluation.to_dict(), ensure_ascii=False, indent=2, allow_nan=False)
        + "\n", encoding="utf-8")
    tables = tmp / "tables"
    tables.mkdir()
    for name, table in (("claims", claims_table(evaluation, map_hrefs)),
                        ("sensitivity", sensitivity_table(evaluation)),
                        ("breakdown", breakdown_table(evaluation))):
        spreadsheet_safe(table).to_csv(tables / f"{name}.csv", index=False)
    write_marker(tmp, {"written_by": "geo report (this folder may be replaced as a whole "
                                     "by the next report)",
                       "settings": settings_fingerprint or {}})


def _cells_text(evaluation: AreaEvaluation) -> str:
    """"250 m hexagonal cells" for the header ("" when the evaluation does not say)."""
    from geo.format import fmt_number

    size = evaluation.parameters.get("cell_size_m")
    return f"{fmt_number(size)} m hexagonal cells" if size is not None else ""


def _siting_href(claim_id: str, siting_views: Sequence[dict[str, Any]]) -> str | None:
    """Link from a claim to its "Closing the gap" section, when the report has one."""
    return next((f"#siting-{v['id']}" for v in siting_views if v["id"] == claim_id), None)


def _write_layers(evaluation: AreaEvaluation, tmp: Path) -> dict[str, list[str]]:
    """Each claim's layers as GeoParquet under ``layers/``; claim id -> relative paths."""
    layer_files: dict[str, list[str]] = {}
    for r in evaluation.claims:
        for kind, frame in _layer_frames(r).items():
            rel = f"layers/{claim_slug(r.claim.id)}_{kind}.parquet"
            (tmp / "layers").mkdir(exist_ok=True)
            write_geoparquet(frame, tmp / rel)
            layer_files.setdefault(r.claim.id, []).append(rel)
    return layer_files


def _write_claim_maps(evaluation: AreaEvaluation, tmp: Path, geometry: Any,
                      opts: ReportOptions,
                      step: Callable[[str], None]) -> tuple[dict[str, str], dict[str, str]]:
    """Each claim's map under ``maps/``: (claim id -> href, claim id -> why there is none)."""
    map_hrefs: dict[str, str] = {}
    missing: dict[str, str] = {}
    for r in evaluation.claims:
        cid, slug = r.claim.id, claim_slug(r.claim.id)
        if not _layers_nonempty(r):
            missing[cid] = _no_map_reason(r)
        elif not opts.maps:
            missing[cid] = "maps were not drawn for this report"
        elif geometry is None:
            missing[cid] = "no area outline to draw the map around"
        else:
            step(f"map {cid}")
            try:
                page = claim_map_html(r, geometry, opts)
            except GeoError as exc:
                log.warning("map of %s failed: %s", cid, exc)
                missing[cid] = f"the map could not be drawn ({exc})"
            else:
                (tmp / "maps").mkdir(exist_ok=True)
                (tmp / "maps" / f"{slug}.html").write_text(page, encoding="utf-8")
                map_hrefs[cid] = f"maps/{slug}.html"
    return map_hrefs, missing
