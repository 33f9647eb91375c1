"""Sensitivity charts for the HTML report (matplotlib, returned as embeddable SVG).

:func:`sensitivity_svg` draws one claim's sensitivity variants as horizontal bars (measured value
per ``parameter = value`` variant, coloured by verdict) with the plan's target as a vertical line
and the base measurement dashed; the value axis says what is measured and which way is better. Text is drawn as paths, so the SVG shows the same everywhere,
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

from geo.format import fmt_count, fmt_value, key_words, param_words, verdict_words

log = logging.getLogger(__name__)

#: Verdict colours (colour-blind-safe pairs; the verdict is also written as text).
VERDICT_COLORS = {"met": "#1a9850", "not_met": "#d73027", "inconclusive": "#f0a30a",
                  "measured": "#4575b4"}
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


def _scale(unit: str | None) -> tuple[float, str]:
    return (100.0, "%") if unit == "share" else (1.0, unit or "")


#: What each metric measures, as a chart axis says it (the unit is added in brackets).
MEASURE_LABELS = {
    "share_within_distance": "share of residents within reach",
    "drive_time_share": "share of the area within the drive time",
    "park_blind_spots": "share of residents in blind spots",
    "network_length": "length of the network",
    "facility_count": "number of facilities",
    "presence_per_township": "share of streets/towns that have one",
}
#: Which direction is better, by the target's comparator (geo.claims.verdict.COMPARATORS).
BETTER = {">=": "higher is better", "<=": "lower is better", "eliminate": "lower is better",
          "~": "closer to the target is better"}
#: Units whose values are whole numbers: integer ticks and labels, no unit word.
INTEGER_UNITS = ("count", "rank")
TARGET_COLOR = "#000000"
BASE_COLOR = "#666666"


def axis_label(unit: str | None, *, metric: str | None = None, measure: str | None = None,
               comparator: str | None = None) -> str:
    """The value axis's caption: what is measured, its unit, and which direction is better.

    ``measure`` wins over the metric's :data:`MEASURE_LABELS` entry; counts and ranks carry no
    unit word ("number of facilities", not "measured (count)").
    """
    what = measure or MEASURE_LABELS.get(metric or "", "measured value")
    _, shown = _scale(unit)
    if shown and unit not in INTEGER_UNITS:
        what += f" ({shown})"
    better = BETTER.get(comparator or "")
    return f"{what}, {better}" if better else what


def value_text(value: float, unit: str | None) -> str:
    """A bar's label in the chart's unit (percent for shares, whole numbers for counts), as
    :func:`geo.format.fmt_value` writes it everywhere else."""
    return fmt_count(value) if unit in INTEGER_UNITS else fmt_value(value, unit)


def variant_label(row: dict[str, Any]) -> str:
    """A sensitivity bar's label in the words of the report's tables:
    ``{"parameter": "threshold_m", "value": 400}`` -> "threshold (m) = 400"."""
    return f"{key_words(row.get('parameter'))} = {param_words(row.get('value'))}"


def _wrap(text: str, width: int) -> str:
    """Break ``text`` into lines of at most ``width`` columns (a CJK character is two)."""
    lines, line, cols = [], "", 0
    for word in re.split(r"(?<=\s)|(?=[\u2e80-\u9fff])|(?<=[\u2e80-\u9fff])", text):
        w = sum(2 if has_cjk(ch) else 1 for ch in word)
        if line and cols + w > width:
            lines.append(line.rstrip())
            line, cols = word.lstrip(), sum(2 if has_cjk(ch) else 1 for ch in word.lstrip())
        else:
            line, cols = line + word, cols + w
    if line.strip():
        lines.append(line.rstrip())
    return "\n".join(lines)


def sensitivity_svg(
    sensitivity: Sequence[dict[str, Any]],
    *,
    title: str,
    unit: str | None,
    target: float | None = None,
    base_value: float | None = None,
    width_in: float = 5.2,
    metric: str | None = None,
    comparator: str | None = None,
    measure: str | None = None,
) -> str | None:
    """SVG document (text) of the sensitivity bars, or ``None`` if no variant has a number.

    One bar per variant, labelled ``parameter = value`` above it (so the chart stays narrow
    and reflows to a phone's width), its value at its end, coloured by verdict. The plan's
    target is a solid black line labelled above the plot, drawn clear of the axis even when it
    is 0; the base measurement is dashed. The legend sits below the plot, never over a bar.
    Counts and ranks get whole-number ticks and labels.

    Parameters
    ----------
    sensitivity
        Entries ``{"parameter", "value", "measured", "verdict"}`` (the JSON contract).
    title
        Chart title (may contain Chinese); wrapped to the chart's width.
    unit
        Unit of ``measured`` and ``target`` ("share" is drawn in percent).
    target
        The plan's target value (vertical line), in ``unit``.
    base_value
        The base measurement (dashed line), in ``unit``.
    width_in
        Figure width in inches; the height grows with the number of variants.
    metric, comparator, measure
        For the value axis's caption (:func:`axis_label`): what is measured and which direction
        is better (``comparator`` of the claim's target: ">=", "<=", "~", "eliminate").
    """
    rows = [s for s in sensitivity
            if isinstance(s.get("measured"), int | float) and not isinstance(s.get("measured"), bool)
            and math.isfinite(s["measured"])]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, MaxNLocator
    from matplotlib.transforms import offset_copy

    factor, _ = _scale(unit)
    labels = [variant_label(s) for s in rows]
    raw = [float(s["measured"]) for s in rows]
    values = [v * factor for v in raw]
    verdicts = [str(s.get("verdict")) for s in rows]
    colours = [VERDICT_COLORS.get(v, UNKNOWN_COLOR) for v in verdicts]
    has_target = target is not None and math.isfinite(target)
    has_base = base_value is not None and math.isfinite(base_value)
    tv = float(target) if target is not None else math.nan        # narrowed for the checker
    bv = float(base_value) if base_value is not None else math.nan

    families = ["DejaVu Sans"]
    missing_glyphs = False
    if has_cjk(title + "".join(labels)):
        font = cjk_font()
        if font is not None:
            families = [font, "DejaVu Sans"]
        else:
            missing_glyphs = True  # already warned once by cjk_font()
    # (dict[Any, Any]: matplotlib's stubs type the keys as a Literal of every rc name)
    # text.parse_math off: a "$" in a claim title or parameter is a dollar sign, not TeX
    # (mathtext would fail on "$x^$" and stop the report)
    rc: dict[Any, Any] = {"font.family": families, "svg.hashsalt": "geo-report",
                          "svg.fonttype": "path", "font.size": 11, "axes.unicode_minus": False,
                          "text.parse_math": False}
    with matplotlib.rc_context(rc), warnings.catch_warnings():
        if missing_glyphs:
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
        fig, ax = plt.subplots(figsize=(width_in, 1.7 + 0.6 * len(rows)))
        try:
            y = [float(i) for i in range(len(rows))][::-1]
            ax.barh(y, values, color=colours, height=0.42, zorder=2)
            xmax = max([*values, tv * factor if has_target else 0.0,
                        bv * factor if has_base else 0.0, 1e-9]) * 1.22
            if unit in INTEGER_UNITS:
                xmax = max(xmax, 1.0)
            # a little room left of 0, so a line at 0 is not hidden by the axis
            ax.set_xlim(-0.02 * xmax, xmax)
            ax.set_ylim(-0.6, len(rows) - 0.2)
            for yy, v, r, lab in zip(y, values, raw, labels, strict=True):
                ax.text(0.035, yy + 0.26, lab, transform=ax.get_yaxis_transform(), va="bottom",
                        ha="left", fontsize=10, color="#333333")
                # above the target / base lines, on a light ground so a line through the
                # label does not cross its digits
                ax.text(max(v, 0) + 0.01 * xmax, yy, value_text(r, unit), va="center",
                        fontsize=10, zorder=5,
                        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85,
                              "pad": 1.0})
            ax.set_yticks([])
            ax.spines["left"].set_visible(False)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            handles: list[Any] = []
            if has_target:
                tx = tv * factor
                ax.axvline(tx, color=TARGET_COLOR, linewidth=2.2, zorder=4)
                ax.text(tx, 1.0, f"target {value_text(tv, unit)}", transform=(
                    ax.get_xaxis_transform()), ha="left" if tx < 0.6 * xmax else "right",
                    va="bottom", fontsize=10)
                handles.append(Line2D([], [], color=TARGET_COLOR, linewidth=2.2,
                                      label=f"target {value_text(tv, unit)}"))
            if has_base:
                ax.axvline(bv * factor, color=BASE_COLOR, linewidth=1.2,
                           linestyle="--", zorder=4)
                handles.append(Line2D([], [], color=BASE_COLOR, linewidth=1.2, linestyle="--",
                                      label=f"base {value_text(bv, unit)}"))
            for verdict in dict.fromkeys(verdicts):
                handles.append(Patch(color=VERDICT_COLORS.get(verdict, UNKNOWN_COLOR),
                                     label=verdict_words(verdict)))
            if unit in INTEGER_UNITS:
                ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
                ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
            ax.set_xlabel(axis_label(unit, metric=metric, measure=measure,
                                     comparator=comparator), fontsize=10)
            ax.set_title(_wrap(title, 50), fontsize=11, loc="left", pad=18)
            if handles:
                # below the tick labels and the axis caption (about 40 points), off the bars
                below = offset_copy(ax.transAxes, fig=fig, y=-46, units="points")
                ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, 0.0),
                          bbox_transform=below, ncol=min(len(handles), 3), fontsize=9,
                          frameon=False, borderaxespad=0.0)
            fig.tight_layout()
            buf = io.StringIO()
            fig.savefig(buf, format="svg", bbox_inches="tight", pad_inches=0.08,
                        metadata={"Date": None, "Creator": None})
        finally:
            plt.close(fig)
    svg = buf.getvalue()
    return svg[svg.index("<svg"):]


def svg_data_uri(svg: str) -> str:
    """``data:image/svg+xml;base64,...`` for an ``<img src>`` (ids cannot clash, no scripts)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
