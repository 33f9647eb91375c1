"""Sensitivity charts for the HTML report (matplotlib, returned as embeddable SVG).

:func:`sensitivity_svg` draws one claim's sensitivity variants as horizontal bars (measured value
per ``parameter = value`` variant, coloured by verdict) with the plan's target as a vertical line
and the base measurement dashed. Text is drawn as paths, so the SVG shows the same everywhere,
Chinese included, when a CJK font is found (:func:`cjk_font`: "Noto Sans CJK" from the Debian
package ``fonts-noto-cjk``); without one the chart still renders, with a logged warning, and
missing glyphs show as boxes. Output is deterministic (no date metadata, fixed id salt).
"""

from __future__ import annotations

import base64
import io
import logging
import math
import re
import warnings
from collections.abc import Sequence
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

#: Verdict colours (colour-blind-safe pairs; the verdict is also written as text).
VERDICT_COLORS = {"met": "#1a9850", "not_met": "#d73027", "inconclusive": "#f0a30a"}
UNKNOWN_COLOR = "#9e9e9e"
#: CJK font families tried in order (the first is what ``fonts-noto-cjk`` installs).
CJK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC", "Source Han Sans SC",
                "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "SimHei", "Microsoft YaHei",
                "PingFang SC")
_CJK_FILE = re.compile(r"NotoSansCJK|SourceHanSans|wqy-", re.IGNORECASE)
_CJK_CHAR = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]")


@cache
def cjk_font() -> str | None:
    """Name of an installed CJK font family matplotlib can use, or ``None`` (warned once).

    Looks in matplotlib's font list first; when its cache predates the font package, scans the
    system font folders for Noto Sans CJK / Source Han Sans / WenQuanYi files and registers them.
    """
    from matplotlib import font_manager as fm

    def _known() -> str | None:
        names = {f.name for f in fm.fontManager.ttflist}
        return next((fam for fam in CJK_FAMILIES if fam in names), None)

    found = _known()
    if found is None:
        for path in sorted(fm.findSystemFonts()):
            if _CJK_FILE.search(path) and "Bold" not in path:
                try:
                    fm.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError) as exc:  # unreadable font file
                    log.debug("cannot register font %s: %s", path, exc)
        found = _known()
    if found is None:
        log.warning("no CJK font found for charts (tried %s): Chinese labels will show as boxes; "
                    "install one with 'apt-get install fonts-noto-cjk'", ", ".join(CJK_FAMILIES))
    else:
        log.debug("charts use CJK font %s", found)
    return found


def has_cjk(text: str) -> bool:
    """True if ``text`` contains Chinese/Japanese/Korean characters."""
    return _CJK_CHAR.search(text) is not None


def format_value(value: Any, unit: str | None) -> str:
    """A measured value for people: shares as percentages, counts as integers, units spelled."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if unit == "share":
        pct = value * 100
        if 99.95 <= pct < 100:   # never show "100.0 %" for a share that falls short of 1
            return "> 99.9 %"
        if 0 < pct < 0.05:
            return "< 0.1 %"
        return f"{pct:.1f} %"
    if unit == "count":
        return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    suffix = {"km": " km", "m": " m", "min": " min", "s": " s", "m2_per_person": " m²/person",
              "km2": " km²", "ha": " ha"}.get(unit or "", f" {unit}" if unit else "")
    if abs(value) >= 100:
        return f"{value:,.0f}{suffix}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") + suffix


def _scale(unit: str | None) -> tuple[float, str]:
    return (100.0, "%") if unit == "share" else (1.0, unit or "")


def sensitivity_svg(
    sensitivity: Sequence[dict[str, Any]],
    *,
    title: str,
    unit: str | None,
    target: float | None = None,
    base_value: float | None = None,
    width_in: float = 7.0,
) -> str | None:
    """SVG document (text) of the sensitivity bars, or ``None`` if no variant has a number.

    Parameters
    ----------
    sensitivity
        Entries ``{"parameter", "value", "measured", "verdict"}`` (the JSON contract).
    title
        Chart title (may contain Chinese).
    unit
        Unit of ``measured`` and ``target`` ("share" is drawn in percent).
    target
        The plan's target value (vertical line), in ``unit``.
    base_value
        The base measurement (dashed line), in ``unit``.
    width_in
        Figure width in inches; the height grows with the number of variants.
    """
    rows = [s for s in sensitivity
            if isinstance(s.get("measured"), int | float) and not isinstance(s.get("measured"), bool)
            and math.isfinite(s["measured"])]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    factor, shown = _scale(unit)
    labels = [f"{s.get('parameter')} = {_param_text(s.get('value'))}" for s in rows]
    values = [float(s["measured"]) * factor for s in rows]
    colours = [VERDICT_COLORS.get(str(s.get("verdict")), UNKNOWN_COLOR) for s in rows]

    families = ["DejaVu Sans"]
    missing_glyphs = False
    if has_cjk(title + "".join(labels)):
        font = cjk_font()
        if font is not None:
            families = [font, "DejaVu Sans"]
        else:
            missing_glyphs = True  # already warned once by cjk_font()
    rc = {"font.family": families, "svg.hashsalt": "geo-report", "svg.fonttype": "path",
          "font.size": 9, "axes.unicode_minus": False}
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        if missing_glyphs:
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
        fig, ax = plt.subplots(figsize=(width_in, 0.9 + 0.32 * len(rows)))
        try:
            y = list(range(len(rows)))[::-1]
            ax.barh(y, values, color=colours, height=0.6)
            ax.set_yticks(y, labels)
            if target is not None and math.isfinite(target):
                ax.axvline(target * factor, color="#222222", linewidth=1.5,
                           label=f"target {format_value(target, unit)}")
            if base_value is not None and math.isfinite(base_value):
                ax.axvline(base_value * factor, color="#555555", linewidth=1, linestyle="--",
                           label=f"base {format_value(base_value, unit)}")
            for yy, v in zip(y, values, strict=True):
                ax.text(v, yy, f" {v:,.1f}{'' if shown == '%' else ' '}{shown}", va="center",
                        fontsize=8)
            ax.set_xlabel(f"measured ({shown})" if shown else "measured")
            ax.set_title(title, fontsize=10, loc="left")
            ax.set_xlim(0, max([*values, (target or 0) * factor, (base_value or 0) * factor,
                                1e-9]) * 1.18)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(loc="lower right", fontsize=8, frameon=False)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            fig.tight_layout()
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
        finally:
            plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def svg_data_uri(svg: str) -> str:
    """``data:image/svg+xml;base64,...`` for an ``<img src>`` (ids cannot clash, no scripts)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _param_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(_param_text(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_param_text(v)}" for k, v in value.items())
    return str(value)
