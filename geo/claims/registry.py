"""The claim registry: plan claims as data, each tied to a verbatim quote of the plan.

A claim file is TOML (``data/claims/tongzhou-2026-2030.toml`` is the packaged one)::

    schema_version = 1
    document_title = "..."          # the plan's title as printed
    document_note = "..."           # optional: caveats about the document
    plan_period = "2026-2030"

    [[claims]]
    id = "C01"
    title_zh = "..."
    title_en = "..."
    quote = "..."                   # verbatim, a substring of the cited line
    source = { document = "003_f10f02db6a904725.txt", line = 268 }
    target = { value = 0.29, comparator = "~", unit = "share", year = 2030 }
    binding = "预期性"               # 约束性 | 预期性 | none
    metric = "share_within_distance"
    parameters = { threshold_m = 500, facility_kind = "rail_station", ... }
    notes = ["..."]                 # optional
    headline = true                 # optional: a headline card of the report
    known_unmapped = { count = 4, source = "...", names = ["..."] }   # optional: facilities
                                    # known to exist but missing from OSM (never robust then)

Line numbers are 1-based and count ``\\n``-separated lines, as ``grep -n`` does (one line of
the plan text is one paragraph). :data:`METRICS` lists, for every metric key, its required and
optional parameters with their types, and the unit its targets must use; the metric objects are
written against exactly these names.

Where the default file lives: ``data/`` is outside the ``geo`` package, so :func:`load_claims`
looks for ``<project root>/data/claims/tongzhou-2026-2030.toml`` (the checkout the package is
imported from, which is what an editable install gives). An installed wheel has no project
root: pass the file's path explicitly (``load_claims(path)``).
"""

from __future__ import annotations

import logging
import math
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from geo import settings
from geo.claims.metrics import REGISTRY
from geo.claims.spec import MetricSpec, Param
from geo.claims.verdict import COMPARATORS
from geo.errors import ClaimSpecError, DataNotFoundError

log = logging.getLogger(__name__)

#: The packaged claim file of the Tongzhou 2026-2030 plan: ``data/claims/`` of the checkout, or
#: the copy an installed wheel ships as ``geo/data/claims/`` (setup.py's build step).
DEFAULT_CLAIMS_FILE = next(
    (p for p in (settings.PROJECT_ROOT / "data" / "claims" / "tongzhou-2026-2030.toml",
                 Path(__file__).resolve().parent.parent / "data" / "claims"
                 / "tongzhou-2026-2030.toml") if p.is_file()),
    settings.PROJECT_ROOT / "data" / "claims" / "tongzhou-2026-2030.toml")

SCHEMA_VERSION = 1
BINDINGS = ("约束性", "预期性", "none")

_FILE_KEYS_REQUIRED = ("schema_version", "document_title", "claims")
_FILE_KEYS_OPTIONAL = ("document_note", "plan_period")
_CLAIM_KEYS_REQUIRED = ("id", "title_zh", "title_en", "quote", "source", "target", "binding",
                        "metric", "parameters")
_CLAIM_KEYS_OPTIONAL = ("notes", "scope", "headline", "known_unmapped", "theme")
_KNOWN_UNMAPPED_KEYS = ("count", "source")
#: Report themes (issue 15), in the report's order.
THEMES = ("transport", "green space", "safety", "public services")
_SOURCE_KEYS = ("document", "line")
_TARGET_KEYS = ("value", "comparator", "unit", "year")
_TIER_KEYS = ("min_area_ha", "radius_m")
_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


#: metric key -> contract (parameters, target unit); the metrics themselves are in
#: :mod:`geo.claims.metrics`.
METRICS: Mapping[str, MetricSpec] = MappingProxyType({k: m.spec for k, m in REGISTRY.items()})


def _freeze(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in obj.items()})
    if isinstance(obj, list | tuple):
        return tuple(_freeze(v) for v in obj)
    return obj


def _thaw(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {k: _thaw(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return [_thaw(v) for v in obj]
    return obj


@dataclass(frozen=True)
class Source:
    """Where a quote comes from: a seed file name and a 1-based line (paragraph) number."""

    document: str
    line: int


@dataclass(frozen=True)
class Target:
    """What the plan promises: ``value`` in ``unit`` (shares are fractions), compared with
    ``comparator`` (``>=``, ``<=``, ``~`` about, ``eliminate`` no gaps), by ``year``."""

    value: float | int | None   #: None for comparator "measure" (the plan gives no number)
    comparator: str
    unit: str
    year: int


@dataclass(frozen=True)
class Claim:
    """One plan claim. ``parameters`` is read-only (nested lists become tuples)."""

    id: str
    title_zh: str
    title_en: str
    quote: str
    source: Source
    target: Target
    binding: str
    metric: str
    parameters: Mapping[str, Any]
    notes: tuple[str, ...] = ()
    #: The one area the claim is about (its names, targets or lines are that area's), or None
    #: when the claim's test applies to any area.
    scope: str | None = None
    #: Shown as a headline card at the top of the report (claim file: ``headline = true``).
    headline: bool = False
    #: Facilities known to exist but missing from OSM: ``{count, source, names?}`` (claim file:
    #: ``known_unmapped``); a verdict resting on the OSM inventory is then never robust.
    known_unmapped: Mapping[str, Any] | None = None
    #: Report theme (:data:`THEMES`), or None (the report then files it under "other").
    theme: str | None = None

    @property
    def params(self) -> Any:
        """The typed, frozen parameters of the claim's metric (``geo.claims.metrics``)."""
        return REGISTRY[self.metric].params(self.parameters)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (the ``claims[]`` fields of the evaluation contract)."""
        return {
            "id": self.id,
            "title_zh": self.title_zh,
            "title_en": self.title_en,
            "quote": self.quote,
            "source": {"document": self.source.document, "line": self.source.line},
            "target": {"value": self.target.value, "comparator": self.target.comparator,
                       "unit": self.target.unit, "year": self.target.year},
            "binding": self.binding,
            "metric": self.metric,
            "parameters": _thaw(self.parameters),
            "notes": list(self.notes),
            "scope": self.scope,
            "theme": self.theme,
        }


# --------------------------------------------------------------------------- validation


def _where(path: Path, claim_id: str | None) -> str:
    return f"{path}: claim {claim_id}" if claim_id else f"{path}"


def _check_keys(obj: Mapping[str, Any], required: Iterable[str], optional: Iterable[str], *,
                where: str, what: str) -> None:
    required = tuple(required)
    allowed = set(required) | set(optional)
    for key in obj:
        if key not in allowed:
            raise ClaimSpecError(f"{where}: unknown key {what}{key!r}; expected one of "
                                 f"{', '.join(sorted(allowed))}")
    for key in required:
        if key not in obj:
            raise ClaimSpecError(f"{where}: missing key {what}{key!r}; add it")


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _check_param(name: str, spec: Param, value: Any, where: str) -> None:
    def bad(expected: str) -> ClaimSpecError:
        return ClaimSpecError(f"{where}: parameter {name!r} should be {expected}, got {value!r}")

    t = spec.type
    if t == "number":
        if not _is_number(value) or value < 0:
            raise bad("a non-negative number")
        if value > spec.max:
            raise bad(f"at most {spec.max:g}")
    elif t == "int":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad("a non-negative integer")
    elif t == "bool":
        if not isinstance(value, bool):
            raise bad("true or false")
    elif t == "str":
        if not isinstance(value, str) or not value:
            raise bad("a non-empty string")
        if spec.choices and value not in spec.choices:
            raise bad("one of " + ", ".join(repr(c) for c in spec.choices))
    elif t == "regex":
        if not isinstance(value, str) or not value:
            raise bad("a non-empty regular expression")
        try:
            re.compile(value)
        except re.error as exc:
            raise bad(f"a valid regular expression ({exc})") from None
    elif t == "list[str]":
        if (not isinstance(value, list) or not value
                or not all(isinstance(v, str) and v for v in value)):
            raise bad("a non-empty array of non-empty strings")
    elif t == "tiers":
        if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
            raise bad("a non-empty array of tables {min_area_ha, radius_m}")
        for tier in value:
            _check_keys(tier, _TIER_KEYS, (), where=where, what=f"{name}[].")
            if not all(_is_number(tier[k]) and tier[k] >= 0 for k in _TIER_KEYS):
                raise bad("tiers with non-negative numbers min_area_ha and radius_m")
            if tier["radius_m"] > 100_000:
                raise bad("tiers with radius_m at most 100 km")
        mins = [tier["min_area_ha"] for tier in value]
        if len(set(mins)) != len(mins):
            raise bad("tiers with distinct min_area_ha")
    else:  # pragma: no cover - a bug in METRICS
        raise AssertionError(f"unknown parameter type {t}")


def _check_target(target: Mapping[str, Any], metric: MetricSpec, where: str) -> None:
    if target.get("comparator") == "measure":   # no number in the plan: value may be left out
        _check_keys(target, ("comparator", "unit", "year"), ("value",), where=where,
                    what="target.")
        if target.get("value") is not None:
            raise ClaimSpecError(f"{where}: comparator 'measure' means the plan states no number; "
                                 "leave target.value out")
        target = {**target, "value": 0}
    _check_keys(target, _TARGET_KEYS, (), where=where, what="target.")
    value, comparator, unit, year = (target[k] for k in _TARGET_KEYS)
    if not isinstance(unit, str) or not unit.strip():
        raise ClaimSpecError(f"{where}: target.unit is empty; give the unit of target.value "
                             f"({metric.unit!r} for this metric)")
    if unit != metric.unit:
        raise ClaimSpecError(f"{where}: target.unit {unit!r} does not match the metric's unit "
                             f"{metric.unit!r}")
    if comparator not in COMPARATORS:
        raise ClaimSpecError(f"{where}: target.comparator {comparator!r} is not one of "
                             f"{', '.join(repr(c) for c in COMPARATORS)}")
    if not _is_number(value) or value < 0:
        raise ClaimSpecError(f"{where}: target.value should be a non-negative number, got "
                             f"{value!r}")
    if unit == "share" and value > 1:
        raise ClaimSpecError(f"{where}: target.value {value!r} is a share and must be a fraction "
                             "in [0, 1] (29 % is 0.29)")
    if comparator == "eliminate" and value != 0:
        raise ClaimSpecError(f"{where}: comparator 'eliminate' means no gaps left: target.value "
                             f"must be 0, got {value!r}")
    if not isinstance(year, int) or isinstance(year, bool) or not 1990 <= year <= 2100:
        raise ClaimSpecError(f"{where}: target.year should be a year such as 2030, got {year!r}")


def _claim_from_record(rec: Any, index: int, path: Path) -> Claim:
    if not isinstance(rec, dict):
        raise ClaimSpecError(f"{path}: claims[{index}] should be a table, got {rec!r}")
    if "id" not in rec:
        raise ClaimSpecError(f"{path}: claims[{index}]: missing key 'id'; add it")
    cid = rec["id"]
    if not isinstance(cid, str) or not _ID_RE.match(cid):
        raise ClaimSpecError(f"{path}: claims[{index}]: key 'id' should be a name like 'C01', "
                             f"got {cid!r}")
    where = _where(path, cid)
    _check_keys(rec, _CLAIM_KEYS_REQUIRED, _CLAIM_KEYS_OPTIONAL, where=where, what="")
    for key in ("title_zh", "title_en", "quote"):
        if not isinstance(rec[key], str) or not rec[key].strip():
            raise ClaimSpecError(f"{where}: key {key!r} should be a non-empty string")
    if "\n" in rec["quote"]:
        raise ClaimSpecError(f"{where}: key 'quote' spans lines; quote a part of one line")
    src = rec["source"]
    if not isinstance(src, dict):
        raise ClaimSpecError(f"{where}: key 'source' should be a table {{document, line}}")
    _check_keys(src, _SOURCE_KEYS, (), where=where, what="source.")
    if not isinstance(src["document"], str) or not src["document"]:
        raise ClaimSpecError(f"{where}: source.document should be a file name")
    if not isinstance(src["line"], int) or isinstance(src["line"], bool) or src["line"] < 1:
        raise ClaimSpecError(f"{where}: source.line should be a 1-based line number, got "
                             f"{src['line']!r}")
    if rec["binding"] not in BINDINGS:
        raise ClaimSpecError(f"{where}: binding {rec['binding']!r} is not one of "
                             f"{', '.join(BINDINGS)}")
    metric = METRICS.get(rec["metric"])
    if metric is None:
        raise ClaimSpecError(f"{where}: unknown metric {rec['metric']!r}; known metrics: "
                             f"{', '.join(sorted(METRICS))}")
    if not isinstance(rec["target"], dict):
        raise ClaimSpecError(f"{where}: key 'target' should be a table {{value, comparator, "
                             "unit, year}")
    _check_target(rec["target"], metric, where)
    params = rec["parameters"]
    if not isinstance(params, dict):
        raise ClaimSpecError(f"{where}: key 'parameters' should be a table")
    _check_keys(params, metric.required, metric.optional, where=where, what="parameters.")
    for name, value in params.items():
        spec = metric.required.get(name) or metric.optional[name]
        _check_param(name, spec, value, where)
    try:
        REGISTRY[rec["metric"]].params(_freeze(params))
    except ValueError as exc:
        raise ClaimSpecError(f"{where}: {exc}") from None
    notes = rec.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise ClaimSpecError(f"{where}: key 'notes' should be an array of strings")
    scope = rec.get("scope")
    if scope is not None and (not isinstance(scope, str) or not scope.strip()):
        raise ClaimSpecError(f"{where}: key 'scope' should be the name of the one area the "
                             "claim is about (e.g. \"通州区\"), or left out for any area")
    headline = rec.get("headline", False)
    if not isinstance(headline, bool):
        raise ClaimSpecError(f"{where}: key 'headline' should be true or false, got "
                             f"{headline!r}")
    known = rec.get("known_unmapped")
    if known is not None:
        if not isinstance(known, dict):
            raise ClaimSpecError(f"{where}: key 'known_unmapped' should be a table "
                                 "{count, source, names}")
        _check_keys(known, _KNOWN_UNMAPPED_KEYS, ("names",), where=where,
                    what="known_unmapped.")
        if not isinstance(known["count"], int) or isinstance(known["count"], bool) or \
                known["count"] < 1:
            raise ClaimSpecError(f"{where}: known_unmapped.count should be a positive integer")
        if not isinstance(known["source"], str) or not known["source"].strip():
            raise ClaimSpecError(f"{where}: known_unmapped.source should say where the count "
                                 "comes from")
    theme = rec.get("theme")
    if theme is not None and theme not in THEMES:
        raise ClaimSpecError(f"{where}: theme {theme!r} is not one of "
                             f"{', '.join(repr(t) for t in THEMES)}")
    t = rec["target"]
    value = t.get("value")
    return Claim(
        id=cid, title_zh=rec["title_zh"], title_en=rec["title_en"], quote=rec["quote"],
        source=Source(src["document"], src["line"]),
        target=Target(value, t["comparator"], t["unit"], t["year"]),
        binding=rec["binding"], metric=rec["metric"], parameters=_freeze(params),
        notes=tuple(notes), scope=scope, headline=headline, theme=theme,
        known_unmapped=_freeze(known) if known is not None else None,
    )


def parse_claims(data: Mapping[str, Any], path: Path) -> list[Claim]:
    """Validate an already-parsed claim document; ``path`` names it in error messages."""
    _check_keys(data, _FILE_KEYS_REQUIRED, _FILE_KEYS_OPTIONAL, where=str(path), what="")
    if data["schema_version"] != SCHEMA_VERSION:
        raise ClaimSpecError(f"{path}: schema_version {data['schema_version']!r} is not "
                             f"supported; expected {SCHEMA_VERSION}")
    records = data["claims"]
    if not isinstance(records, list) or not records:
        raise ClaimSpecError(f"{path}: 'claims' should be a non-empty array of tables "
                             "([[claims]])")
    claims: list[Claim] = []
    seen: dict[str, int] = {}
    for i, rec in enumerate(records):
        claim = _claim_from_record(rec, i, path)
        if claim.id in seen:
            raise ClaimSpecError(f"{path}: duplicate claim id {claim.id!r} (claims[{seen[claim.id]}]"
                                 f" and claims[{i}]); ids must be unique")
        seen[claim.id] = i
        claims.append(claim)
    return claims


def _read_toml(p: Path) -> dict[str, Any]:
    """The claim file ``p`` parsed; every way it can fail is a ClaimSpecError naming it."""
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ClaimSpecError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ClaimSpecError(f"{p}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ClaimSpecError(f"{p}: nested too deeply to be a claim file (a broken or hostile "
                             "TOML file): check the claims file (path=FILE)") from None


def load_claims(path: str | os.PathLike[str] | None = None) -> list[Claim]:
    """Read and validate a claim file (default: the packaged Tongzhou 2026-2030 claims).

    Raises
    ------
    DataNotFoundError
        The file does not exist.
    ClaimSpecError
        Malformed TOML (with the parser's line and column), unknown or missing keys (naming
        the file, claim id and key), an unknown metric, a target without unit or with a bad
        comparator, a bad parameter, duplicate ids.
    """
    p = Path(path) if path is not None else DEFAULT_CLAIMS_FILE
    if not p.is_file():
        hint = ("pass the claim file's path (path=FILE)" if path is None
                else "check the path")
        raise DataNotFoundError(f"claim file {p} not found: {hint}")
    claims = parse_claims(_read_toml(p), p)
    log.info("loaded %d claims from %s", len(claims), p)
    return claims


def read_document_title(path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The file-level ``document_title``, ``document_note`` and ``plan_period`` (those set)."""
    p = Path(path) if path is not None else DEFAULT_CLAIMS_FILE
    data = _read_toml(p)
    return {k: data[k] for k in ("document_title", "document_note", "plan_period") if k in data}


#: Largest plan text a claim may cite (the Tongzhou plan is ~60 KB).
MAX_SEED_BYTES = 20_000_000


def seed_lines(path: str | os.PathLike[str]) -> list[str]:
    """A plan text's lines, numbered as ``grep -n`` does: ``lines[n - 1]`` is line ``n``.

    Raises ClaimSpecError for a file that is too large, binary (a NUL byte) or not UTF-8.
    """
    p = Path(path)
    size = p.stat().st_size
    if size > MAX_SEED_BYTES:
        raise ClaimSpecError(f"seed document {p} is {size:,} bytes (limit {MAX_SEED_BYTES:,}): "
                             "cite a plan text, not a data file")
    data = p.read_bytes()
    if b"\0" in data[:65536]:
        raise ClaimSpecError(f"seed document {p} is a binary file: cite a UTF-8 plan text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClaimSpecError(f"seed document {p} is not UTF-8 text ({exc.reason} at byte "
                             f"{exc.start}): convert it with iconv -t UTF-8") from exc
    return [ln.rstrip("\r") for ln in text.split("\n")]


def resolve_document(document: str, seed_dir: str | os.PathLike[str]) -> Path:
    """The file a claim's ``source.document`` names, confined to ``seed_dir``.

    Only a relative path to a regular file inside ``seed_dir`` (after resolving links) is
    accepted; absolute paths, ``..`` components and links leading out are refused with
    ClaimSpecError, so a claim file cannot make the toolkit open anything else.
    """
    root = Path(seed_dir).resolve()
    rel = Path(document)
    if not document or "\0" in document or rel.is_absolute() or ".." in rel.parts or \
            document.startswith(("~", "\\")) or (rel.parts and ":" in rel.parts[0]):
        raise ClaimSpecError(f"source.document {document[:100]!r}: expected a file name "
                             f"relative to the seeds folder {root} (no absolute path, no '..')")
    target = (root / rel).resolve()
    if not target.is_relative_to(root):
        raise ClaimSpecError(f"source.document {document[:100]!r} leads out of the seeds folder "
                             f"{root} (a link?): cite a plan text inside it")
    return target


def verify_quotes(claims: Iterable[Claim], seed_dir: str | os.PathLike[str], *,
                  missing_ok: bool = False) -> list[str]:
    """Check that every quote appears verbatim at its cited line; return the problems found.

    Each problem is one line naming the claim, document and line. A missing seed document is a
    problem unless ``missing_ok``. When a quote is found on another line, the problem says where.
    Documents resolve only inside ``seed_dir`` (:func:`resolve_document`); a document outside
    it, binary or not UTF-8 is a problem and its content is never compared or reported.
    """
    seed_dir = Path(seed_dir)
    cache: dict[str, list[str] | str | None] = {}
    problems: list[str] = []
    for claim in claims:
        doc = claim.source.document
        if doc not in cache:
            try:
                f = resolve_document(doc, seed_dir)
                cache[doc] = seed_lines(f) if f.is_file() else None
            except ClaimSpecError as exc:
                cache[doc] = str(exc)
            except OSError as exc:
                cache[doc] = f"seed document {doc!r} cannot be read ({exc.strerror})"
        lines = cache[doc]
        where = f"claim {claim.id} ({doc[:100]}:{claim.source.line})"
        if isinstance(lines, str):
            problems.append(f"{where}: {lines}")
            continue
        if lines is None:
            if not missing_ok:
                problems.append(f"{where}: seed document {seed_dir / doc} not found")
            continue
        n = claim.source.line
        if n > len(lines):
            problems.append(f"{where}: line {n} is past the end ({len(lines)} lines)")
            continue
        if claim.quote in lines[n - 1]:
            continue
        elsewhere = [i + 1 for i, ln in enumerate(lines) if claim.quote in ln]
        hint = (f"found at line(s) {', '.join(map(str, elsewhere[:5]))}" if elsewhere
                else "not found anywhere in the document")
        problems.append(f"{where}: quote {claim.quote!r} not at the cited line; {hint}")
    return problems
