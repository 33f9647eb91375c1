"""Find measurable targets in a Chinese plan text and write claim stubs for a planner.

The plan text has one paragraph per line (as the seeds do). Each paragraph is split into
sentences at 。 and ；; a sentence is kept when it contains a number with a measurable unit
(%, 米, 公里, 分钟, 个, 座, 万人, 平方米, 公顷, ...) or a coverage keyword (覆盖率, 全覆盖,
服务半径, 消盲, 生活圈, ...). Indicator-table rows (tab-separated: name with its unit in
parentheses, target value such as ``29 左右`` or ``$\\geq 400$``, attribute 约束性/预期性) are
read as one stub each.

Every stub carries the verbatim sentence (a substring of its line), the 1-based line number
(as ``grep -n``), and a guess of the target value, unit, comparator and year where the wording
allows (percentages become shares in [0, 1]). ``metric`` is left empty: a planner chooses it
and completes the parameters (see :data:`geo.claims.registry.METRICS`), so a stub file does not
load as a claim file until it has been completed. Output is deterministic.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from geo.errors import DataError, DataNotFoundError

log = logging.getLogger(__name__)

#: Units recognised after a number: Chinese unit -> (normalised unit, factor to that unit).
#: Longer forms first: the regex alternation takes the first that matches.
UNITS: dict[str, tuple[str, float]] = {
    "公里/平方公里": ("km_per_km2", 1.0),
    "平方公里": ("km2", 1.0),
    "立方米/日": ("m3_per_day", 1.0),
    "微克/立方米": ("ug_per_m3", 1.0),
    "平方米": ("m2", 1.0),
    "公里": ("km", 1.0),
    "千米": ("km", 1.0),
    "米": ("m", 1.0),
    "公顷": ("ha", 1.0),
    "亩": ("mu", 1.0),
    "分钟": ("min", 1.0),
    "小时": ("h", 1.0),
    "个百分点": ("percentage_points", 1.0),
    "%": ("share", 0.01),
    "％": ("share", 0.01),
    "吨/日": ("t_per_day", 1.0),
    "人": ("persons", 1.0),
    "个": ("count", 1.0),
    "座": ("count", 1.0),
    "处": ("count", 1.0),
    "家": ("count", 1.0),
    "所": ("count", 1.0),
    "条": ("count", 1.0),
    "张": ("count", 1.0),
    "项": ("count", 1.0),
}
_MULTIPLIERS = {"万": 1e4, "亿": 1e8}

#: Words that make a sentence worth a stub even without a number.
KEYWORDS = ("覆盖率", "全覆盖", "服务半径", "消盲", "生活圈", "服务圈", "通勤圈")

_NUMBER_RE = re.compile(
    r"(?<![\d.])(\d+(?:\.\d+)?)\s*(万|亿)?\s*("
    + "|".join(re.escape(u) for u in UNITS) + ")"
)
# Comparator cues: words just before the number, or just after the unit.
_BEFORE_GE = ("不低于", "不少于", "至少", "超过", "高于", "大于", "达到", "提升到", "提高到",
              "增加到", "保持", "超", "达", "≥", ">")
_BEFORE_LE = ("不超过", "不高于", "控制在", "降至", "低于", "少于", "小于", "≤", "<")
_BEFORE_ABOUT = ("大约", "约", "近")
_AFTER_GE = ("以上",)
_AFTER_LE = ("以下", "以内")
_AFTER_ABOUT = ("左右",)
_ROW_VALUE_RE = re.compile(
    r"^\s*\$?\s*(\\geq|\\leq|\\ge|\\le|≥|≤|>|<)?\s*(\d+(?:\.\d+)?)\s*\$?\s*(左右)?\s*$"
)
_ROW_UNIT_RE = re.compile(r"[（(]([^（）()]+)[）)]\s*$")
_SENTENCE_END = "。；"


@dataclass(frozen=True)
class NumberMatch:
    """One number with a unit inside a sentence: ``raw`` as written, ``value`` in ``unit``."""

    raw: str
    value: float
    unit: str
    comparator: str
    start: int


@dataclass(frozen=True)
class ClaimStub:
    """A candidate claim: verbatim ``quote`` at ``line``, with a guessed target (``None``
    where the wording gives nothing). ``numbers`` lists every number with a unit found."""

    id: str
    quote: str
    line: int
    value: float | None
    unit: str | None
    comparator: str | None
    year: int | None
    binding: str
    numbers: tuple[str, ...]


def split_sentences(paragraph: str) -> list[str]:
    """Split a paragraph at 。 and ；; strip whitespace and Markdown ``*`` from each end.

    Every returned sentence is a substring of ``paragraph``; empty pieces are dropped.
    """
    out: list[str] = []
    for piece in re.split(f"[{_SENTENCE_END}]", paragraph):
        s = piece.strip().strip("*").strip()
        if s:
            out.append(s)
    return out


def _comparator_at(sentence: str, start: int, end: int) -> str:
    before = sentence[max(0, start - 6):start].rstrip()
    after = sentence[end:end + 3]
    if after.startswith(_AFTER_ABOUT):
        return "~"
    if after.startswith(_AFTER_GE):
        return ">="
    if after.startswith(_AFTER_LE):
        return "<="
    if before.endswith(_BEFORE_LE):
        return "<="
    if before.endswith(_BEFORE_ABOUT):
        return "~"
    if before.endswith(_BEFORE_GE):
        return ">="
    return ""


def find_numbers(sentence: str) -> list[NumberMatch]:
    """Every number followed by a measurable unit, in order (ordinals like 第 5 are skipped)."""
    found: list[NumberMatch] = []
    for m in _NUMBER_RE.finditer(sentence):
        if sentence[max(0, m.start() - 2):m.start()].rstrip().endswith("第"):
            continue
        number, mult, unit_zh = m.group(1), m.group(2), m.group(3)
        unit, factor = UNITS[unit_zh]
        value = float(number) * _MULTIPLIERS.get(mult or "", 1.0) * factor
        found.append(NumberMatch(raw=m.group(0), value=round(value, 10), unit=unit,
                                 comparator=_comparator_at(sentence, m.start(), m.end()),
                                 start=m.start()))
    return found


def _guess_year(text: str) -> int | None:
    m = re.search(r"(?:到|至|于)\s*(20\d\d)\s*年", text)
    if m:
        return int(m.group(1))
    if "十五五" in text:
        return 2030
    return None


def _pick(numbers: list[NumberMatch], sentence: str) -> NumberMatch | None:
    """The number most likely to be the target: one with a comparator cue, else one right
    after a 率 (a rate), else the first."""
    if not numbers:
        return None
    for n in numbers:
        if n.comparator:
            return n
    for n in numbers:
        if sentence[max(0, n.start - 2):n.start].rstrip().endswith("率"):
            return n
    return numbers[0]


def _table_row(line: str, caption: str) -> dict | None:
    """Parse an indicator-table row ``[category]\\t[no]\\tname（unit）\\tvalue\\tattribute``."""
    cols = line.split("\t")
    for i in range(1, len(cols)):
        m = _ROW_VALUE_RE.match(cols[i])
        if not m or not cols[i - 1].strip() or cols[i - 1].strip().isdigit():
            continue
        name = cols[i - 1].strip()
        sign, number, about = m.group(1), float(m.group(2)), m.group(3)
        comparator = ("~" if about else ">=" if sign in ("\\geq", "\\ge", "≥", ">")
                      else "<=" if sign in ("\\leq", "\\le", "≤", "<") else "")
        unit_m = _ROW_UNIT_RE.search(name)
        unit_zh = unit_m.group(1) if unit_m else ""
        unit: str | None
        if unit_zh in ("%", "％"):
            unit, value = "share", round(number / 100.0, 10)
        elif unit_zh.startswith("万") and unit_zh[1:] in UNITS:
            unit, value = UNITS[unit_zh[1:]][0], number * 1e4
        elif unit_zh in UNITS:
            unit, value = UNITS[unit_zh][0], number * UNITS[unit_zh][1]
        else:
            unit, value = unit_zh or None, number
        attribute = cols[i + 1].strip() if i + 1 < len(cols) else ""
        quote_start = line.index(name)
        quote = line[quote_start:].rstrip()
        return {"quote": quote, "value": value, "unit": unit, "comparator": comparator,
                "binding": attribute if attribute in ("约束性", "预期性") else "none",
                "year": _guess_year(caption), "raw": cols[i].strip()}
    return None


def scan_text(text: str) -> list[ClaimStub]:
    """Stubs for every measurable sentence of a plan text (one paragraph per line)."""
    stubs: list[ClaimStub] = []
    caption = ""
    for lineno, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line.rstrip("\r")
        if not line.strip():
            continue
        if re.match(r"^\s*表\s*\d", line):
            caption = line
        k = 0
        row = _table_row(line, caption) if "\t" in line else None
        if row is not None and (row["unit"] is not None or any(w in row["quote"] for w in KEYWORDS)):
            k += 1
            stubs.append(ClaimStub(
                id=f"L{lineno:04d}-{k}", quote=row["quote"], line=lineno, value=row["value"],
                unit=row["unit"], comparator=row["comparator"] or None, year=row["year"],
                binding=row["binding"], numbers=(row["raw"],)))
            continue
        seen: set[str] = set()
        for sentence in split_sentences(line):
            numbers = find_numbers(sentence)
            keyword = next((w for w in KEYWORDS if w in sentence), None)
            if (not numbers and keyword is None) or sentence in seen:
                continue
            seen.add(sentence)
            pick = _pick(numbers, sentence)
            value = unit = comparator = None
            if pick is not None:
                value, unit, comparator = pick.value, pick.unit, pick.comparator or None
                if comparator is None and unit == "share" and value == 1.0:
                    comparator = ">="  # a 100 % rate cannot be exceeded
            elif "消盲" in sentence:
                value, unit, comparator = 0.0, "share", "eliminate"
            elif "全覆盖" in sentence:
                value, unit, comparator = 1.0, "share", ">="
            k += 1
            stubs.append(ClaimStub(
                id=f"L{lineno:04d}-{k}", quote=sentence, line=lineno, value=value, unit=unit,
                comparator=comparator, year=_guess_year(sentence), binding="none",
                numbers=tuple(n.raw for n in numbers)))
    return stubs


def _read_plan(path: str | os.PathLike[str]) -> str:
    p = Path(path)
    if not p.exists():
        raise DataNotFoundError(f"plan file {p} not found: give the path of a UTF-8 plan text")
    if not p.is_file():
        raise DataError(f"plan file {p} is not a file: give the path of a UTF-8 plan text")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"plan file {p} is not UTF-8 text ({exc.reason} at byte {exc.start}): "
                        "convert it, e.g. iconv -f GB18030 -t UTF-8") from None


def extract_stubs(path: str | os.PathLike[str]) -> list[ClaimStub]:
    """Read a plan text and return its claim stubs (see :func:`scan_text`)."""
    stubs = scan_text(_read_plan(path))
    log.info("%d claim stubs in %s", len(stubs), path)
    return stubs


def toml_string(s: str) -> str:
    """``s`` as a TOML basic string (quotes, backslashes and control characters escaped)."""
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_number(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else repr(float(v))


def stubs_to_toml(stubs: list[ClaimStub], *, document: str, document_title: str = "") -> str:
    """The stubs as a claim-file skeleton (TOML text) for a planner to complete."""
    lines = [
        (f"# Claim stubs extracted from {document} by `geo claims extract`: {len(stubs)} "
         "sentences with measurable targets."),
        "# Each quote is verbatim (a substring of source.line, numbered as grep -n). Targets are",
        "# guesses from the wording (percentages as shares in [0, 1]); '# numbers' lists every",
        "# number found. Fill in title_zh, title_en, metric and parameters (metric registry:",
        "# geo.claims.registry.METRICS / data/claims/tongzhou-2026-2030.toml), check target and",
        "# binding, delete stubs that are not spatial claims, then run",
        "# `geo claims check` on this file (geo.claims.verify_quotes).",
        "",
        "schema_version = 1",
        f"document_title = {toml_string(document_title)}",
    ]
    for s in stubs:
        target = []
        if s.value is not None:
            target.append(f"value = {_toml_number(s.value)}")
        target.append(f"comparator = {toml_string(s.comparator or '')}")
        target.append(f"unit = {toml_string(s.unit or '')}")
        if s.year is not None:
            target.append(f"year = {s.year}")
        lines += [
            "",
            "[[claims]]",
            f"id = {toml_string(s.id)}",
        ]
        if s.numbers:
            lines.append("# numbers: " + "; ".join(s.numbers))
        lines += [
            'title_zh = ""',
            'title_en = ""',
            f"quote = {toml_string(s.quote)}",
            f"source = {{ document = {toml_string(document)}, line = {s.line} }}",
            "target = { " + ", ".join(target) + " }",
            f"binding = {toml_string(s.binding)}",
            'metric = ""',
            "parameters = {}",
        ]
    return "\n".join(lines) + "\n"


def extract_to_toml(path: str | os.PathLike[str]) -> tuple[str, int]:
    """Read a plan text; return its stub TOML and the number of stubs."""
    p = Path(path)
    text = _read_plan(p)
    stubs = scan_text(text)
    title = next((ln.strip().lstrip("#").strip() for ln in text.split("\n") if ln.strip()), "")
    return stubs_to_toml(stubs, document=p.name, document_title=title), len(stubs)
