"""End-to-end ``geo evaluate --area tongzhou --network FILE`` on SYNTHETIC street networks
(bench/synth_network.py; not real data, never a figure about Tongzhou), cold and with caches.

Run: ``GEO_DATA_DIR=../shared/data python bench/bench_evaluate.py [--scale tongzhou|beijing|both]
[--workdir DIR]``. For each scale it generates (or reuses) the PBF in ``--workdir``, then runs
the real CLI twice in child processes with a fresh ``GEO_CACHE_DIR``: run 1 cold (reads the PBF,
writes the npz network cache and the population caches), run 2 reusing them. Prints wall time,
peak RSS (the child's ``ru_maxrss``) and the method C02 and C04 were measured with, next to the
issue 12 targets (Tongzhou scale: < 60 s and < 3 GB cold, < 20 s cached; Beijing scale: < 6 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import json, resource, runpy, sys, time
t0 = time.perf_counter()
sys.argv = ["geo"] + sys.argv[1:]
code = 0
try:
    runpy.run_module("geo", run_name="__main__")
except SystemExit as exc:
    code = exc.code or 0
print(json.dumps({"wall_s": time.perf_counter() - t0, "exit": code,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}),
      file=sys.stderr)
"""


def run(pbf: Path, cache: Path, out: Path) -> dict:
    env = {**os.environ, "GEO_CACHE_DIR": str(cache),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-c", CHILD, "evaluate", "--area", "tongzhou",
                        "--network", str(pbf), "--json", str(out)],
                       env=env, capture_output=True, text=True, check=False)
    stats = json.loads(p.stderr.strip().splitlines()[-1])
    if stats["exit"] != 0:
        raise SystemExit(f"geo evaluate failed:\n{p.stderr[-2000:]}")
    claims = {c["id"]: c["measured"] for c in json.loads(out.read_text())["claims"]}
    stats["methods"] = {k: claims.get(k, {}).get("method") for k in ("C02", "C04")}
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", choices=("tongzhou", "beijing", "both"), default="tongzhou")
    ap.add_argument("--workdir", type=Path, default=ROOT / "bench_data")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    scales = ("tongzhou", "beijing") if args.scale == "both" else (args.scale,)
    print("| scale | run | wall (s) | peak RSS (MB) | C02 / C04 method |")
    print("|---|---|---|---|---|")
    for scale in scales:
        pbf = args.workdir / f"synthetic-{scale}.osm.pbf"
        if not pbf.exists():
            subprocess.run([sys.executable, str(ROOT / "bench" / "synth_network.py"), scale,
                            str(pbf)], check=True)
        with tempfile.TemporaryDirectory() as tmp:
            for label in ("cold", "cached"):
                s = run(pbf, Path(tmp) / "cache", Path(tmp) / f"{label}.json")
                print(f"| {scale} | {label} | {s['wall_s']:.1f} | {s['peak_mb']:,.0f} | "
                      f"{s['methods']['C02']} / {s['methods']['C04']} |", flush=True)


if __name__ == "__main__":
    main()
