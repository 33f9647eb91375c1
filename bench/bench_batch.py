"""``geo report --area beijing --jobs N`` on the offline bundle: the all-district batch, timed.

Run: ``GEO_DATA_DIR=../shared/data python bench/bench_batch.py [--jobs 2] [--no-maps-too]
[--workdir DIR]``. Runs the real CLI in a child process (fresh output folder, fresh
``GEO_CACHE_DIR``, so nothing is reused from an earlier run) and prints, from that one run:
wall time, CPU time (user + sys of the child and its workers), CPU / wall, peak RSS of the
largest process, the sum of the districts' own times and how well the workers were kept busy
(sum / (jobs x wall)), the slowest districts and the size of what was written. The issue 12
target is a wall time under 120 s with 2 jobs. ``--no-maps-too`` runs the batch a second time
with ``--no-maps`` and prints the share of the time the maps take (a ratio of the two runs,
measured back to back).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_WALL_S = 120.0


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run_batch(workdir: Path, jobs: int, *, maps: bool) -> dict:
    """One batch in a child process; its figures and the summary the batch wrote."""
    out = workdir / ("batch" if maps else "batch-no-maps")
    cache = workdir / ("cache" if maps else "cache-no-maps")
    cmd = [sys.executable, "-m", "geo", "--quiet", "report", "--area", "beijing",
           "--jobs", str(jobs), "--out", str(out), "--force"]
    if not maps:
        cmd.append("--no-maps")
    env = {**os.environ, "GEO_CACHE_DIR": str(cache),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"batch failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return {"wall_s": wall,
            "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "peak_mb": after.ru_maxrss / 1024, "summary": summary,
            "bytes": folder_bytes(out)}


def report(r: dict, jobs: int, label: str) -> None:
    districts = r["summary"]["districts"]
    times = sorted(((d["wall_time_s"], d["slug"]) for d in districts), reverse=True)
    total = sum(t for t, _ in times)
    failed = [d["slug"] for d in districts if d["status"] != "ok"]
    print(f"\n{label}")
    print(f"  wall {r['wall_s']:.1f} s (target < {TARGET_WALL_S:.0f} s: "
          f"{'met' if r['wall_s'] < TARGET_WALL_S else 'NOT met'}), CPU {r['cpu_s']:.1f} s, "
          f"CPU/wall {r['cpu_s'] / r['wall_s']:.2f}, peak RSS {r['peak_mb']:.0f} MB")
    print(f"  districts: {len(districts)} ({len(failed)} failed{': ' if failed else ''}"
          f"{', '.join(failed)}), sum of district times {total:.1f} s, workers busy "
          f"{total / (jobs * r['wall_s']):.0%} of the wall time")
    print("  slowest: " + ", ".join(f"{s} {t:.1f} s" for t, s in times[:4]))
    print(f"  written: {r['bytes'] / 1e6:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-maps-too", action="store_true",
                    help="also run with --no-maps and print the maps' share of the time")
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()
    if not os.environ.get("GEO_DATA_DIR"):
        sys.exit("set GEO_DATA_DIR to the offline bundle (e.g. ../shared/data)")
    with tempfile.TemporaryDirectory(prefix="geo-bench-batch-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        full = run_batch(workdir, args.jobs, maps=True)
        report(full, args.jobs, f"geo report --area beijing --jobs {args.jobs}")
        if args.no_maps_too:
            bare = run_batch(workdir, args.jobs, maps=False)
            report(bare, args.jobs, "the same with --no-maps")
            print(f"\nmaps: {1 - bare['cpu_s'] / full['cpu_s']:.0%} of the CPU time, "
                  f"{1 - bare['wall_s'] / full['wall_s']:.0%} of the wall time")


if __name__ == "__main__":
    main()
