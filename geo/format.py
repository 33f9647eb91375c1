"""Text for people: numbers, shares, counts, units, verdicts and method names.

One module so the CLI, the HTML report, the charts and the notebooks print the same value the
same way ("1,283", "6.6 %", "not met", "straight line"). Machine outputs (JSON) keep the raw
values; only what a person reads goes through here. Nothing here reads data or logs.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "UNIT_WORDS", "fmt_cell_size", "fmt_count", "fmt_date", "fmt_number", "fmt_people", "fmt_share",
    "fmt_value", "key_words", "method_words", "param_words", "prose", "unit_words",
    "verdict_words",
]

#: Unit codes (claim file / metric units) -> the suffix a person reads.
UNIT_WORDS: dict[str, str] = {
    "m": "m", "km": "km", "s": "s", "min": "min", "h": "h", "ha": "ha", "km2": "km²",
    "m2": "m²", "m2_per_person": "m²/person", "kph": "km/h", "km_h": "km/h",
    "people": "people", "persons": "people",
}

_VERDICT_WORDS = {"met": "met", "not_met": "not met", "inconclusive": "inconclusive",
                  "measured": "measured"}

#: Default assumptions of the approximation method (mirrors geo.coverage.engines.CIRCUITY and
#: the usual 30 km/h urban speed); callers pass the values actually used when they know them.
_APPROX_CIRCUITY = 1.3
_APPROX_SPEED_KPH = 30.0


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(float(x))


def fmt_number(x: Any, digits: int = 1) -> str:
    """A plain number: thousands separators, whole numbers without decimals ("1,283", "2.5").

    Values of 100 or more are rounded to whole numbers; smaller ones keep up to ``digits``
    decimals with trailing zeros dropped. ``None`` / NaN / inf -> "n/a".
    """
    if not _finite(x):
        return "n/a"
    v = float(x)
    if v.is_integer() or abs(v) >= 100:
        return f"{v:,.0f}"
    text = f"{v:,.{max(digits, 0)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def fmt_share(x: Any) -> str:
    """A share in [0, 1] as a percentage with one decimal: 0.066 -> "6.6 %".

    Never rounds a share that falls short of 1 up to "100.0 %" ("> 99.9 %"), nor a non-zero
    share down to "0.0 %" ("< 0.1 %").
    """
    if not _finite(x):
        return "n/a"
    pct = float(x) * 100.0
    if 99.95 <= pct < 100.0:
        return "> 99.9 %"
    if 0.0 < pct < 0.05:
        return "< 0.1 %"
    return f"{pct:.1f} %"


def fmt_people(n: Any) -> str:
    """A number of people, rounded to whole people: 777.3 -> "777 people"."""
    if not _finite(n):
        return "n/a"
    return f"{round(float(n)):,} people"


def fmt_count(n: Any, unit: str | None = None) -> str:
    """A count of things: "4", "4 stations"; a fractional count keeps one decimal ("2.5")."""
    if not _finite(n):
        return "n/a"
    v = float(n)
    text = f"{v:,.0f}" if v.is_integer() else f"{v:,.1f}"
    word = unit_words(unit) if unit and unit != "count" else ""
    return f"{text} {word}" if word else text


def unit_words(unit: str | None) -> str:
    """The unit suffix a person reads ("m2_per_person" -> "m²/person"); "" for no unit."""
    if not unit:
        return ""
    return UNIT_WORDS.get(unit, unit.replace("_", " "))


def fmt_value(value: Any, unit: str | None) -> str:
    """A measured value in its unit: shares as %, counts, people whole, others with units.

    ``fmt_value(0.066, "share")`` -> "6.6 %"; ``fmt_value(1283.0, "count")`` -> "1,283";
    ``fmt_value(12.5, "min")`` -> "12.5 min"; ``None`` -> "n/a".
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if unit == "share":
        return fmt_share(value)
    if unit == "count":
        return fmt_count(value)
    if unit in ("people", "persons"):
        return fmt_people(value)
    text = fmt_number(value, digits=2)
    word = unit_words(unit)
    return f"{text} {word}" if word else text


#: A plan target's comparator in words; ``{v}`` is the formatted target value.
COMPARATOR_TEXT = {">=": "≥ {v}", "<=": "≤ {v}", "~": "about {v}",
                   "eliminate": "no gaps left ({v})",
                   "measure": "no number: a measurement"}


def comparator_words(comparator: Any, value_text: str) -> str:
    """A target for prose: ``comparator_words("~", "29.0 %")`` -> "about 29.0 %"."""
    pattern = COMPARATOR_TEXT.get(str(comparator), f"{comparator} {{v}}")
    return pattern.format(v=value_text)


def verdict_words(verdict: Any) -> str:
    """A verdict for prose: "met", "not met", "inconclusive" (never "not_met")."""
    if verdict is None:
        return "n/a"
    return _VERDICT_WORDS.get(str(verdict), str(verdict).replace("_", " "))


def method_words(method: Any, *, circuity: float | None = None,
                 speed_kph: float | None = None) -> str:
    """A coverage method for prose: "network", "straight line",
    "approximation (1.3 x straight line at 30 km/h)".

    ``circuity`` and ``speed_kph`` name the approximation's assumptions (defaults: 1.3, 30).
    """
    if method is None or method == "":
        return "n/a"
    m = str(method)
    if m == "approximation":
        c = _APPROX_CIRCUITY if circuity is None else circuity
        s = _APPROX_SPEED_KPH if speed_kph is None else speed_kph
        return f"approximation ({fmt_number(c, 2)} x straight line at {fmt_number(s)} km/h)"
    return _METHOD_WORDS.get(m, m.replace("_", " "))


#: Method codes whose words are not just the code with spaces.
_METHOD_WORDS = {"osm_count": "OSM count", "clip_length": "track length inside the area"}


def fmt_cell_size(cell_m: Any) -> str:
    """A population grid cell size: 250 -> "250 m cells"."""
    if not _finite(cell_m):
        return "n/a"
    return f"{fmt_number(cell_m)} m cells"


_ISO_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]00:?00)?$")


def fmt_date(value: Any) -> str:
    """An ISO date-time for people: "2026-06-07T20:21:20Z" -> "2026-06-07 20:21 UTC" (other
    text unchanged; ``None`` -> "unknown")."""
    if value is None or value == "":
        return "unknown"
    m = _ISO_TIME.match(str(value).strip())
    if not m:
        return str(value)
    return f"{m.group(1)} {m.group(2)}" + (" UTC" if m.group(3) else "")


def key_words(key: Any) -> str:
    """A machine key for prose: "osm_source" -> "OSM source", "min_area_ha" -> "min area (ha)"."""
    k = str(key).strip("_")
    unit = None
    for suffix in ("_m2_per_person", "_ha", "_km2", "_km", "_m", "_s", "_min", "_kph"):
        if k.endswith(suffix) and len(k) > len(suffix):
            k, unit = k[: -len(suffix)], suffix[1:]
            break
    words = " ".join(("OSM" if w.lower() == "osm" else w) for w in k.split("_") if w)
    return f"{words} ({unit_words(unit)})" if unit else words


_IDENTIFIER = re.compile(r"[a-z]+(?:_[a-z0-9]+)+")
_MACHINE_WORD = re.compile(r"\b(not_met|straight_line|[a-z]+(?:_[a-z]+)+(?= facilit))\b")
_FETCH_AREA = re.compile(r"(fetch_geofabrik\(area=')tongzhou\b")


def prose(text: Any, *, fetch_area: str | None = None) -> str:
    """A library message for people: machine words in it spelled out ("not_met" -> "not met",
    "rail_station facilities" -> "rail station facilities"); with ``fetch_area`` its
    ``fetch_geofabrik(area=...)`` advice names that area instead of the example ``tongzhou``."""
    out = _MACHINE_WORD.sub(lambda m: m.group(1).replace("_", " "), str(text))
    if fetch_area:
        out = _FETCH_AREA.sub(lambda m: m.group(1) + fetch_area, out)
    return out


#: Python calls and argument names in library advice -> words for a report reader, who may
#: not run Python (the CLI maps the same names to its flags instead).
_REPORT_WORDS = (
    (re.compile(r"fetch_geofabrik\(area='([^']*)'(?:, data_dir='[^']*')?\)"),
     r"the toolkit's Geofabrik download (data fetch) for \1"),
    (re.compile(r"\bpass network_path=FILE"), "pass that OSM PBF/XML file as the road network"),
    (re.compile(r"\bnetwork_path=FILE"), "a road network file (OSM PBF/XML)"),
    (re.compile(r"\(network_path\)"), "(the road network file)"),
    (re.compile(r"\bbuilt_up=FILE"), "a built-up outline file (GeoJSON)"),
    (re.compile(r"\breference=FILE"), "a reference inventory file"),
    (re.compile(r"\(jobs=FILE\)"), "(the toolkit's jobs-layer option)"),
)


def report_words(text: Any, *, fetch_area: str | None = None) -> str:
    """:func:`prose` for a report page: Python calls in advice become plain words."""
    out = prose(text, fetch_area=fetch_area)
    for rx, repl in _REPORT_WORDS:
        out = rx.sub(repl, out)
    return out


def param_words(value: Any) -> str:
    """A parameter / provenance value for prose: no Python dicts, no JSON, no "None".

    Mappings become "a 0.5 ha, b 2"; lists "a, b"; ``None`` "none"; booleans "yes"/"no";
    large floats in full ("1,283,000", not "1.283e+06").
    """
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)   # ids and small counts: no separators (an OSM id is not a number)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:,.0f}" if abs(value) >= 1e5 else f"{value:g}"
    if isinstance(value, Mapping):
        if not value:
            return "none"
        return ", ".join(f"{key_words(k)} {param_words(v)}" for k, v in sorted(
            value.items(), key=lambda kv: str(kv[0])))
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        sep = "; " if any(isinstance(v, Mapping) for v in items) else ", "
        return sep.join(param_words(v) for v in items) if items else "none"
    if isinstance(value, str):
        return value.replace("_", " ") if _IDENTIFIER.fullmatch(value) else value
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return str(value)
