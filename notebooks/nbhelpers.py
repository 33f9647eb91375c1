"""Display helpers shared by the notebooks in this folder (presentation only, no analysis).

The analysis itself goes through the public ``geo`` API in each notebook; this module only
turns results into Markdown, an offline map frame and matplotlib figures:

- :func:`show_map` shows a Folium map inside Jupyter WITHOUT internet: the page from
  :func:`geo.maps.map_html` (Leaflet & co. inlined) in an ``<iframe srcdoc=...>``. Displaying
  the ``folium.Map`` object itself loads Leaflet from public CDNs and stays blank offline.
  Background tiles always need the network; the data layers do not.
- :func:`use_cjk_font` finds a Noto Sans CJK font for Chinese labels (False when none).
- :func:`claim_header`, :func:`verdict_markdown`, :func:`sensitivity_frame`,
  :func:`plot_sensitivity` present a :class:`geo.claims.result.ClaimResult`.
"""

from __future__ import annotations

import html
import math
from typing import Any

from geo import ReportOptions, map_html
from geo import format as fmt

#: The notebooks' demand cell width (m): the same as ``geo evaluate``, ``geo report`` and
#: ``geo site``, so a notebook shows the same number for a claim as the CLI and the report.
CELL_SIZE_M = ReportOptions().cell_size_m

VERDICT_COLORS = {"met": "#1a9850", "not_met": "#d73027", "inconclusive": "#9e9e9e",
                  "measured": "#4575b4"}
CJK_FONT_NAMES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC",
                  "Source Han Sans SC", "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei")


def show_map(m: Any, *, height_px: int = 600) -> Any:
    """An IPython HTML object: the self-contained map page in an iframe (works offline)."""
    from IPython.display import HTML

    # inside a double-quoted attribute only & and " need escaping (keeps the output smaller)
    srcdoc = map_html(m).replace("&", "&amp;").replace('"', "&quot;")
    return HTML(f'<div><iframe srcdoc="{srcdoc}" title="map" '
                f'style="width:100%;height:{int(height_px)}px;border:1px solid #ccc">'
                f'</iframe></div>')


def use_cjk_font() -> str | None:
    """Make matplotlib draw Chinese: register a Noto Sans CJK (or similar) font if the system
    has one and put it first in ``font.sans-serif``. Returns its name, or None (then use
    English labels)."""
    import matplotlib
    from matplotlib import font_manager as fm

    known = {f.name for f in fm.fontManager.ttflist}
    name = next((n for n in CJK_FONT_NAMES if n in known), None)
    if name is None:
        paths = [p for p in fm.findSystemFonts()
                 if "notosanscjk" in p.lower().replace("-", "").replace("_", "")]
        for path in sorted(paths, key=lambda p: ("regular" not in p.lower(), p)):
                try:
                    fm.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
                name = fm.FontProperties(fname=path).get_name()
                break
    if name is None:
        return None
    matplotlib.rcParams["font.sans-serif"] = [name, *matplotlib.rcParams["font.sans-serif"]]
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["axes.unicode_minus"] = False
    return name


def _esc(text: str) -> str:
    """Escape data-derived text for Markdown/HTML output (& < >)."""
    return html.escape(str(text), quote=False)


def _fmt(value: Any, unit: str) -> str:
    return fmt.fmt_value(value, unit)


def target_text(claim: Any) -> str:
    """The claim's target in words, e.g. '~ 29.0 % by 2030'."""
    t = claim.target
    if t.comparator == "measure":
        return f"no number in the plan: a measurement ({t.year})"
    if t.comparator == "eliminate":
        return f"eliminate (no blind spots left) by {t.year}"
    return f"{t.comparator} {_fmt(t.value, t.unit)} by {t.year}"


def claim_header(claim: Any, document: dict[str, str] | None = None) -> Any:
    """Markdown: the claim's verbatim quote, its source (document, line) and target."""
    from IPython.display import Markdown

    doc = document or {}
    lines = [f"**{claim.id} · {_esc(claim.title_zh)}** ({_esc(claim.title_en)})",
             "", f"> {_esc(claim.quote)}", "",
             f"- Source: `{claim.source.document}`, line {claim.source.line}"
             + (f" — {_esc(doc['document_title'])}" if "document_title" in doc else ""),
             f"- Target: {target_text(claim)}; binding: {_esc(claim.binding)}",
             f"- Metric: `{claim.metric}`; parameters: "
             + "; ".join(f"{_esc(fmt.key_words(k))} {_esc(fmt.param_words(v))}"
                         for k, v in claim.to_dict()["parameters"].items() if v is not None)]
    if "document_note" in doc:
        lines.append(f"- Note on the document: {_esc(doc['document_note'])}")
    return Markdown("\n".join(lines))


def verdict_markdown(result: Any, evaluation: Any = None) -> Any:
    """Markdown: measured value, method, denominator, verdict, robustness and notes; with the
    ``evaluation`` also the demand cell size and the population method it used."""
    from IPython.display import Markdown

    r = result
    lines = [f"### Verdict: **{fmt.verdict_words(r.verdict)}**"
             + (" (robust)" if r.robust else " (not robust)"),
             "",
             "| | |", "|---|---|",
             f"| measured | {_fmt(r.value, r.unit)} |",
             f"| target | {target_text(r.claim)} |",
             f"| base verdict (base parameters) | {fmt.verdict_words(r.base_verdict)} |",
             f"| method | {fmt.method_words(r.method) if r.method else 'none'} |",
             f"| denominator | {_esc(str(r.denominator))} |",
             f"| sensitivity variants | {len(r.sensitivity)} |"]
    if evaluation is not None:
        lines += [f"| demand cells | {fmt.fmt_cell_size(evaluation.parameters.get('cell_size_m'))} |",
                  f"| population | {_esc(evaluation.data.get('population_source') or 'n/a')} |"]
    lines += ["", "Notes:", ""]
    lines += [f"- {_esc(fmt.prose(n))}" for n in r.notes]
    return Markdown("\n".join(lines))


def sensitivity_frame(result: Any) -> Any:
    """The base measurement and every sensitivity variant as a DataFrame (shares in %)."""
    import pandas as pd

    r = result
    rows = [{"variant": "base (claim file parameters)", "parameter": "base", "value": "",
             "measured": r.value, "verdict": r.base_verdict, "method": r.method}]
    for s in r.sensitivity:
        rows.append({"variant": f"{fmt.key_words(s['parameter'])} = {fmt.param_words(s['value'])}",
                     "parameter": s["parameter"],
                     "value": s["value"], "measured": s["measured"], "verdict": s["verdict"],
                     "method": s.get("method")})
    df = pd.DataFrame(rows)
    if r.unit == "share":
        df["measured_%"] = [None if v is None else round(100 * float(v), 2)
                            for v in df["measured"]]
    return df


def plot_sensitivity(result: Any, *, ax: Any = None, about_tolerance: Any = None) -> Any:
    """Dot plot of the measured value under each sensitivity variant, coloured by verdict,
    with the target (and, for '~' targets when ``about_tolerance`` is given, the two-sided
    band judged 'about': ``geo.claims.verdict.about_band``)."""
    import matplotlib.pyplot as plt

    r = result
    df = sensitivity_frame(r)
    share = r.unit == "share"
    scale = 100.0 if share else 1.0
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.45 * len(df) + 1.6))
    y = list(range(len(df)))[::-1]
    for yi, (_, row) in zip(y, df.iterrows(), strict=True):
        v = row["measured"]
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            ax.text(0, yi, "  not measured", va="center", color="#666666")
            continue
        ax.scatter(float(v) * scale, yi, s=90 if yi == y[0] else 55,
                   color=VERDICT_COLORS.get(row["verdict"], "#000000"),
                   marker="D" if yi == y[0] else "o", zorder=3)
    t = r.claim.target
    tv = 0.0 if t.value is None else float(t.value) * scale
    if t.value is not None:   # a claim without a number ("measure") has no target line
        ax.axvline(tv, color="#333333", ls="--", lw=1.2, label=f"target {target_text(r.claim)}")
    if t.comparator == "~" and about_tolerance:
        from geo import verdicts  # two-sided band per unit (issue 11)

        low, high = verdicts.about_band(float(t.value), t.unit)
        for edge in (low, high):
            ax.axvline(edge * scale, color="#999999", ls=":", lw=1.2)
        ax.axvspan(low * scale, high * scale, color="#999999", alpha=0.12,
                   label=f"judged 'about' ({low * scale:.3g}-{high * scale:.3g})")
    ax.set_yticks(y)
    ax.set_yticklabels(df["variant"])
    ax.set_xlabel(f"{r.claim.id} measured ({'% of ' + str(r.denominator) if share else r.unit})")
    right = max(ax.get_xlim()[1], tv * 1.05)
    ax.set_xlim(left=-0.03 * right, right=right * 1.03)   # target lines at 0 or 100 % visible
    for name, colour in VERDICT_COLORS.items():
        ax.scatter([], [], color=colour, label=fmt.verdict_words(name))
    ax.legend(loc="best", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"{r.claim.id} sensitivity: one assumption changed at a time")
    return ax
