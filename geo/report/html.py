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
never half of one. An existing ``out_dir`` is replaced only when it is empty or holds a previous
report (``claims.json``); anything else is refused.

Every string that comes from data (claim titles, quotes, notes, township and facility names) is
HTML-escaped: the Jinja environment autoescapes, and the maps escape their own labels. Output is
deterministic: the same evaluation gives byte-identical files (no timestamps; Folium's random
element ids are renumbered in order of appearance).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo.claims.metrics import REGISTRY
from geo.errors import DataError, GeoError
from geo.report.charts import format_value, sensitivity_svg, svg_data_uri

if TYPE_CHECKING:
    import geopandas as gpd
    import jinja2

    from geo.claims.result import AreaEvaluation, ClaimResult

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
VERDICT_LABELS = {"met": "met", "not_met": "not met", "inconclusive": "inconclusive"}
_COMPARATOR_TEXT = {">=": "≥ {v}", "<=": "≤ {v}", "~": "about {v}", "eliminate": "no gaps left ({v})",
                    "measure": "no number (a measurement)"}
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")
_FOLIUM_ID = re.compile(r"(?<=_)[0-9a-f]{32}(?![0-9a-f])")
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

    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=False)


def render(template: str, **context: Any) -> str:
    """Render one of the report templates (``index.html.j2``, ``batch.html.j2``)."""
    return jinja_env().get_template(template).render(geo_version=geo_version(), **context)


def stable_ids(page: str) -> str:
    """Renumber Folium's random 32-hex element ids in order of first appearance (deterministic)."""
    seen: dict[str, str] = {}

    def _sub(m: re.Match[str]) -> str:
        return seen.setdefault(m.group(0), f"{len(seen):032x}")

    return _FOLIUM_ID.sub(_sub, page)


def _value_text(value: Any) -> str:
    """Generic text for a parameter / provenance value."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:,.0f}" if abs(value) >= 1e5 else f"{value:g}"  # 1,283,000 not 1.283e+06
    if isinstance(value, list | tuple):
        return ", ".join(_value_text(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def _number_text(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return _value_text(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    return str(value)


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
    pattern = _COMPARATOR_TEXT.get(t.comparator, f"{t.comparator} {{v}}")
    return f"{pattern.format(v=format_value(t.value, t.unit))} by {t.year}"


def _why_inconclusive(r: ClaimResult) -> list[str]:
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
            why.append(f"base verdict {r.base_verdict}")
    return why


def robust_text(r: ClaimResult) -> str:
    """Robustness in words, counted from the sensitivity variants."""
    n = len(r.sensitivity)
    if r.robust:
        return f"robust: all {n} variants agree" if n else "robust"
    if r.base_verdict == "inconclusive":
        return "not robust: the base case is inconclusive"
    if not n:
        return "not robust: no sensitivity variants"
    differ = [s for s in r.sensitivity if s.get("verdict") != r.base_verdict]
    if not differ:
        return f"not robust: all {n} variants agree, but see the notes"
    kinds = sorted({str(s.get("verdict")) for s in differ})
    return (f"not robust: {len(differ)} of {n} variants give "
            f"{' / '.join(VERDICT_LABELS.get(k, k) for k in kinds)}")


def _method_text(r: ClaimResult) -> str:
    return (r.method or "n/a").replace("_", " ")


# --------------------------------------------------------------------------- view models

def _layers_nonempty(r: ClaimResult) -> bool:
    ly = r.layers
    return ly is not None and any(
        getattr(ly, k) is not None and len(getattr(ly, k)) for k in ("cells", "facilities"))


def _no_map_reason(r: ClaimResult) -> str:
    if r.layers is None:
        return (f"the metric {r.claim.metric!r} has no mapped layers"
                if r.value is not None else "nothing was measured")
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
            cells.append(format_value(v, r.unit) if c == "measured" else
                         (_value_text(v) if c == "name" else _number_text(v)))
        rows.append(cells)
    return cols, rows


def claim_view(r: ClaimResult, *, map_href: str | None, map_missing: str | None,
               layer_files: Sequence[str] = (), charts: bool = True) -> dict[str, Any]:
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
        "source_text": f"{c.source.document}, line {c.source.line}", "binding": c.binding,
        "target_text": target_text(c),
        "measured_text": format_value(_finite(r.value), r.unit) + (
            REGISTRY[r.claim.metric].measured_label if _finite(r.value) is not None else ""),
        "method_text": _method_text(r), "denominator": r.denominator,
        "verdict": r.verdict, "verdict_label": VERDICT_LABELS.get(r.verdict, r.verdict),
        "base_verdict_label": VERDICT_LABELS.get(r.base_verdict, r.base_verdict),
        "robust_text": robust_text(r), "why": _why_inconclusive(r),
        "notes": [str(n) for n in r.notes],
        "parameters": [(str(k), _value_text(v)) for k, v in sorted(r.parameters.items())],
        "map_href": map_href, "map_missing": map_missing, "chart_uri": chart_uri,
        "sensitivity": [{"parameter": str(s.get("parameter")),
                         "value": _value_text(s.get("value")),
                         "measured": format_value(_finite(s.get("measured")), r.unit),
                         "verdict": str(s.get("verdict")),
                         "verdict_label": VERDICT_LABELS.get(str(s.get("verdict")),
                                                             str(s.get("verdict")))}
                        for s in r.sensitivity],
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


def provenance(evaluation: AreaEvaluation) -> list[tuple[str, str]]:
    """(label, text) pairs of the provenance block: area, data sources, software."""
    data = dict(evaluation.data)
    area = {k: v for k, v in evaluation.area.items() if k != "geometry"}
    out = [("area", area_title(evaluation.area))]
    out += [(f"area {k}", _value_text(v)) for k, v in area.items() if k not in ("name", "name_en")]
    net = data.pop("network_source", None)
    if not net:
        net = ("none: no road network was available (network claims use a straight-line "
               "approximation or are inconclusive)")
    out += [
        ("OSM data date", _value_text(data.pop("osm_data_date", None) or "unknown")),
        ("population source", _value_text(data.pop("population_source", None) or "unknown")),
        ("road network", _value_text(net)),
        ("layers missing", _value_text(data.pop("layers_missing", None) or [])),
    ]
    out += [(str(k), _value_text(v)) for k, v in data.items()]
    out.append(("software", f"geo {geo_version()}"))
    return out


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


def claim_map_html(r: ClaimResult, area_geometry: Any, *, tiles: str = "osm",
                   tiles_key: str | None = None, cdn: bool = False) -> str:
    """The self-contained HTML page of one claim's map (deterministic element ids)."""
    from geo import maps

    ly = r.layers
    assert ly is not None
    c = r.claim
    threshold = ly.threshold
    if threshold is not None:
        threshold = float(threshold) * _THRESHOLD_TO_LEGEND.get(ly.cost_unit, 1.0)
    result = (f"measured {format_value(_finite(r.value), r.unit)}, target {target_text(c)}: "
              f"{VERDICT_LABELS.get(r.verdict, r.verdict)} ({_method_text(r)})")
    subtitle = [c.title_zh, result]
    m = maps.claim_map(area_geometry, ly.facilities, title=f"{c.id} {c.title_en}",
                       cells=ly.cells, cost_column=ly.cost_column, cost_unit=ly.cost_unit,
                       covered_column=ly.covered_column, threshold=threshold,
                       cost_label=ly.cost_label,
                       service_areas=ly.service_areas, subtitle=subtitle, tiles=tiles,
                       tiles_key=tiles_key)
    return stable_ids(maps.map_html(m, cdn=cdn))


# --------------------------------------------------------------------------- the report

def check_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """``out_dir`` as a Path if a report may be written there (new, empty, or a previous
    report); :class:`~geo.errors.DataError` otherwise, so nobody's folder is replaced."""
    out = Path(out_dir).resolve()
    if not _is_replaceable(out):
        raise DataError(f"out_dir {out} exists and is not a geo report (no .geo-report marker, "
                        f"or files a report does not write): choose a new or empty folder, e.g. "
                        f"{out / 'report'}")
    return out


#: What a geo report folder may hold; a folder with anything else is never replaced.
REPORT_ENTRIES = frozenset({"index.html", "claims.json", "maps", "tables", "layers", "sites",
                            ".geo-report"})


def _is_replaceable(out_dir: Path) -> bool:
    """Empty, or a previous report: it carries the ``.geo-report`` marker and nothing that a
    report does not write (so a user's folder holding a stray claims.json is never swapped)."""
    if not out_dir.exists():
        return True
    if not out_dir.is_dir():
        return False
    names = {p.name for p in out_dir.iterdir()}
    return not names or (".geo-report" in names and names <= REPORT_ENTRIES)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def default_permissions(path: str | os.PathLike[str]) -> Path:
    """Give ``path`` the permissions a plain ``open``/``mkdir`` would (per the umask):
    temporary files and folders are created private (0600/0700), reports are meant to be
    shared or served."""
    p = Path(path)
    os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~_umask())
    return p


@contextlib.contextmanager
def staged_dir(out_dir: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty hidden folder beside ``out_dir``; on success it replaces ``out_dir``.

    On any exception (Ctrl-C included) the staging folder is removed and ``out_dir`` is left as
    it was. The swap is two renames; if interrupted between them the old folder is put back.
    """
    target = Path(out_dir).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    try:
        yield tmp
        default_permissions(tmp)
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(target, old)
        try:
            os.replace(tmp, target)
        except BaseException:
            if old is not None and not target.exists():
                os.replace(old, target)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _existing_facilities(evaluation: AreaEvaluation, model: dict[str, Any]) -> Any:
    """The facilities the evaluation drew for the siting's claim (markers on the sites map)."""
    try:
        layers = evaluation.claim(str(model["claim"])).layers
    except KeyError:
        return None
    return None if layers is None else layers.facilities


def _siting_view(result: Any, model: dict[str, Any], cells: Any, tmp: Path, geometry: Any, *,
                 maps: bool, tiles: str, tiles_key: str | None, cdn: bool,
                 existing: Any = None) -> dict[str, Any]:
    """Write one siting's GeoJSON (and map) into the staged report; return its template view."""
    cid = str(model["claim"])
    slug = claim_slug(cid)
    (tmp / "sites").mkdir(exist_ok=True)
    result.to_geojson(tmp / "sites" / f"{slug}.geojson")
    map_href = None
    if maps and geometry is not None and len(result.sites):
        from geo.maps import map_html, sites_map

        m = sites_map(geometry, cells, result, title=f"{cid}: {result.n_sites} proposed sites",
                      tiles=tiles, tiles_key=tiles_key, existing=existing)
        (tmp / "maps").mkdir(exist_ok=True)
        (tmp / "maps" / f"{slug}_sites.html").write_text(stable_ids(map_html(m, cdn=cdn)),
                                                          encoding="utf-8")
        map_href = f"maps/{slug}_sites.html"
    rows = [(int(r["rank"]), f"{r.geometry.x:.5f}", f"{r.geometry.y:.5f}",
             f"{r['covered_gain']:,.0f}", f"{r['covered_gain_share']:.2%}")
            for _, r in result.sites.iterrows()]
    return {"id": cid, "n_sites": result.n_sites, "problem": result.problem,
            "before": f"{result.share_before:.1%}", "after": f"{result.share_after:.1%}",
            "weight": model.get("weight", ""), "method": model.get("method", ""),
            "threshold": f"{model.get('threshold', float('nan')):g} {model.get('unit', '')}",
            "cell_size_m": f"{model.get('cell_size_m', float('nan')):g}",
            "proven": result.proven_optimal, "solver": result.solver,
            "time_s": f"{result.time_s:.1f}", "warnings": list(result.warnings),
            "geojson_href": f"sites/{slug}.geojson", "map_href": map_href, "rows": rows}


def write_report(
    evaluation: AreaEvaluation,
    out_dir: str | os.PathLike[str],
    *,
    tiles: str = "osm",
    cdn: bool = False,
    maps: bool = True,
    area_geometry: Any = None,
    tiles_key: str | None = None,
    charts: bool = True,
    batch_index: str | None = None,
    sitings: Sequence[tuple[Any, dict[str, Any], Any]] = (),
    settings_fingerprint: dict[str, Any] | None = None,
) -> Path:
    """Write the HTML/JSON/CSV/GeoParquet report of one area; return ``out_dir/index.html``.

    Parameters
    ----------
    evaluation
        What :func:`geo.claims.evaluate.evaluate_area` returns.
    out_dir
        Report folder; replaced as a whole (atomically) when it holds a previous report.
    tiles, tiles_key, cdn
        Map background (see :func:`geo.maps.tile_choice`) and asset mode (see
        :func:`geo.maps.save_map`).
    maps
        Draw the claim maps (``False``: tables and charts only, much faster).
    area_geometry
        District outline for the maps (shapely, EPSG:4326, or a ``geo.areas.Area``); default:
        ``evaluation.area["geometry"]``, else the union of the demand cells.
    charts
        Draw the sensitivity charts.
    batch_index
        Relative link to a batch's comparison page, shown in the header.
    settings_fingerprint
        The settings the report was made with, stored in its ``.geo-report`` marker (JSON) so a
        batch reuses it only for the same settings.
    sitings
        ``(result, model, cells)`` per claim from :func:`geo.claims.gap.close_gap` (the
        :class:`geo.siting.SitingResult`, its cost-model dict and the demand cells it ran on):
        a "Closing the gap" section, ``sites/<claim>.geojson`` and a sites map.

    Raises
    ------
    DataError
        ``out_dir`` exists and is neither empty nor a previous report, or ``tiles`` is unknown.
    """
    out = check_out_dir(out_dir)
    if maps:
        from geo.maps import tile_choice

        tile_choice(tiles, tiles_key=tiles_key)  # refuse bad tiles before any work
    geometry = area_geometry.geometry if hasattr(area_geometry, "geometry_m") else area_geometry
    if maps and geometry is None:
        geometry = _fallback_geometry(evaluation)

    with staged_dir(out) as tmp:
        map_hrefs: dict[str, str] = {}
        missing: dict[str, str] = {}
        layer_files: dict[str, list[str]] = {}
        for r in evaluation.claims:
            cid, slug = r.claim.id, claim_slug(r.claim.id)
            for kind, frame in _layer_frames(r).items():
                rel = f"layers/{slug}_{kind}.parquet"
                (tmp / "layers").mkdir(exist_ok=True)
                write_geoparquet(frame, tmp / rel)
                layer_files.setdefault(cid, []).append(rel)
            if not _layers_nonempty(r):
                missing[cid] = _no_map_reason(r)
            elif not maps:
                missing[cid] = "maps were not drawn for this report (--no-maps)"
            elif geometry is None:
                missing[cid] = "no area outline to draw the map around"
            else:
                try:
                    page = claim_map_html(r, geometry, tiles=tiles, tiles_key=tiles_key, cdn=cdn)
                except GeoError as exc:
                    log.warning("map of %s failed: %s", cid, exc)
                    missing[cid] = f"the map could not be drawn ({exc})"
                else:
                    (tmp / "maps").mkdir(exist_ok=True)
                    (tmp / "maps" / f"{slug}.html").write_text(page, encoding="utf-8")
                    map_hrefs[cid] = f"maps/{slug}.html"

        siting_views = [_siting_view(res, model, cells, tmp, geometry, maps=maps,
                                     tiles=tiles, tiles_key=tiles_key, cdn=cdn,
                                     existing=_existing_facilities(evaluation, model))
                        for res, model, cells in sitings]
        views = [claim_view(r, map_href=map_hrefs.get(r.claim.id),
                            map_missing=missing.get(r.claim.id),
                            layer_files=layer_files.get(r.claim.id, ()), charts=charts)
                 for r in by_theme(evaluation.claims)]
        by_id = {v["id"]: v for v in views}
        headline = [by_id[r.claim.id] for r in evaluation.claims if r.claim.headline]
        page = render("index.html.j2", area_title=area_title(evaluation.area),
                      data=evaluation.data, headline=headline, claims=views,
                      provenance=provenance(evaluation),
                      parameters=[(str(k), _value_text(v))
                                  for k, v in sorted(evaluation.parameters.items())],
                      batch_index=batch_index, sitings=siting_views, lang="en")
        (tmp / "index.html").write_text(page, encoding="utf-8")
        (tmp / ".geo-report").write_text(json.dumps(
            {"written_by": "geo report (this folder may be replaced as a whole by the next "
                           "report)", "settings": settings_fingerprint or {}},
            ensure_ascii=False, sort_keys=True, indent=1) + "\n", encoding="utf-8")
        (tmp / "claims.json").write_text(
            json.dumps(evaluation.to_dict(), ensure_ascii=False, indent=2, allow_nan=False)
            + "\n", encoding="utf-8")
        tables = tmp / "tables"
        tables.mkdir()
        claims_table(evaluation, map_hrefs).to_csv(tables / "claims.csv", index=False)
        sensitivity_table(evaluation).to_csv(tables / "sensitivity.csv", index=False)
        breakdown_table(evaluation).to_csv(tables / "breakdown.csv", index=False)
    log.info("wrote report %s (%d claims, %d maps)", out, len(evaluation.claims), len(map_hrefs))
    return out / "index.html"
