"""Compare two outputs of the same ``geo`` command: same numbers, same verdicts?

Usage::

    python bench/compare_outputs.py BEFORE AFTER [--rtol 0]

BEFORE and AFTER are two JSON files (``geo evaluate --json``, ``geo site --json``) or two
report folders (``geo report``: every ``*.json`` and ``tables/*.csv`` is compared; GeoParquet
layers are compared by their attribute columns and geometry WKB when geopandas is importable).
Fields that record run time or where files live (``time_s``, ``data_dir``, ``path``,
``written_at``, ...) are ignored. Prints every difference (one line each, with its JSON path)
and exits 1 when there is any numeric or verdict difference (numbers, booleans, missing
fields, list lengths, and the verdict, robustness and method fields), 0 when the only
differences are in free text (notes, reasons: printed with a ``text:`` prefix), 2 on bad input.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

#: String fields that ARE results: a change here is a verdict difference, not wording.
RESULT_KEYS = frozenset({"verdict", "base_verdict", "robust", "method", "unit", "id",
                         "denominator", "problem", "solver", "site_id", "cell_id", "kind"})
#: Prefix of differences in free text only (notes, reasons, messages).
TEXT = "text: "

#: Keys whose values depend on when or where the command ran, not on what it computed.
IGNORED_KEYS = frozenset({"time_s", "elapsed_s", "data_dir", "path", "paths", "output",
                          "written_at", "generated_at", "created", "out_dir"})


def _same_number(a: float, b: float, rtol: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    return rtol > 0 and math.isclose(a, b, rel_tol=rtol, abs_tol=0.0)


def compare(a: Any, b: Any, rtol: float = 0.0, where: str = "$") -> list[str]:
    """Differences between two JSON values, one line each, naming the JSON path."""
    num = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return [] if a == b else [f"{where}: {a!r} != {b!r}"]
    if isinstance(a, num) and isinstance(b, num):
        return [] if _same_number(float(a), float(b), rtol) else [f"{where}: {a!r} != {b!r}"]
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b), key=str):
            if k in IGNORED_KEYS:
                continue
            if k not in a:
                out.append(f"{where}.{k}: only in AFTER")
            elif k not in b:
                out.append(f"{where}.{k}: only in BEFORE")
            else:
                out += compare(a[k], b[k], rtol, f"{where}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        out = [] if len(a) == len(b) else [f"{where}: length {len(a)} != {len(b)}"]
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            out += compare(x, y, rtol, f"{where}[{i}]")
        return out
    if a == b:
        return []
    key = where.rsplit(".", 1)[-1].split("[")[0]
    text = isinstance(a, str) and isinstance(b, str) and key not in RESULT_KEYS
    return [f"{TEXT if text else ''}{where}: {a!r} != {b!r}"]


def _csv_rows(path: Path) -> list[list[Any]]:
    def cell(v: str) -> Any:
        try:
            return float(v)
        except ValueError:
            return v

    with path.open(encoding="utf-8", newline="") as f:
        return [[cell(v) for v in row] for row in csv.reader(f)]


def _parquet(path: Path) -> Any:
    import geopandas as gpd

    g = gpd.read_parquet(path)
    rows = json.loads(g.drop(columns=g.geometry.name).to_json(orient="records"))
    return {"rows": rows, "wkb": [x.hex() if x is not None else None
                                  for x in g.geometry.to_wkb()]}


def compare_paths(before: Path, after: Path, rtol: float) -> list[str]:
    if before.is_dir() != after.is_dir():
        raise ValueError(f"{before} and {after} must both be files or both folders")
    if not before.is_dir():
        return compare(json.loads(before.read_text(encoding="utf-8")),
                       json.loads(after.read_text(encoding="utf-8")), rtol)
    out: list[str] = []
    pats = ("*.json", "tables/*.csv", "layers/*.parquet")
    names = sorted({str(p.relative_to(d)) for d in (before, after) for pat in pats
                    for p in d.glob(pat)})
    for name in names:
        x, y = before / name, after / name
        if not x.exists() or not y.exists():
            out.append(f"{name}: only in {'AFTER' if not x.exists() else 'BEFORE'}")
        elif name.endswith(".json"):
            out += [f"{name} {d}" for d in compare_paths(x, y, rtol)]
        elif name.endswith(".csv"):
            out += [f"{name} {d}" for d in compare(_csv_rows(x), _csv_rows(y), rtol)]
        else:
            try:
                out += [f"{name} {d}" for d in compare(_parquet(x), _parquet(y), rtol)]
            except ImportError:
                print(f"skipped {name}: geopandas is not importable", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--rtol", type=float, default=0.0,
                    help="relative tolerance for numbers (default 0: identical)")
    args = ap.parse_args(argv)
    for p in (args.before, args.after):
        if not p.exists():
            print(f"error: {p} does not exist: pass two JSON files or two report folders",
                  file=sys.stderr)
            return 2
    try:
        diffs = compare_paths(args.before, args.after, args.rtol)
    except (ValueError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for d in diffs:
        print(d)
    hard = [d for d in diffs if TEXT not in d]
    print(f"{len(hard)} numeric/verdict difference(s), {len(diffs) - len(hard)} text "
          f"difference(s) between {args.before} and {args.after}")
    return 1 if hard else 0


if __name__ == "__main__":
    sys.exit(main())
