"""Benchmark of the array network pipeline (geo.roadnet) against the networkx/osmnx path, on
SYNTHETIC street networks (bench/synth_network.py; not real data, never a figure about
Tongzhou).

Run: ``GEO_DATA_DIR=../shared/data python bench/bench_network.py [--scale tongzhou|beijing|both]
[--workdir DIR] [--skip-networkx] [--skip-buffer]``. Generates (or reuses) the synthetic PBFs in
``--workdir``, then runs each pipeline in its own child process (so each one's peak memory is
its own) and prints, per stage, wall time next to the networkx path doing the same job:

- read + graph: drive and walk networks inside Tongzhou's bounding box plus a 5 km reach buffer
  (``road_networks_from_pbf``: one pyosmium pass, cold, then again from its npz cache;
  ``graph_from_pbf`` twice: pyrosm, networkx, osmnx projection);
- snap: the ~15,000 centres of 250 m demand cells inside Tongzhou's outline (from the bundle's
  admin layer) onto the drive network;
- search: drive travel time (drive profile) from 8 "stations" to every cell, 15 min cutoff;
- variants: the same for 7 speed variants (speed x 0.6 ... 1.2): the array path divides one
  cached CSR, the networkx path copies the graph and re-adds speeds, as the claims do today;
- cutoff: repeated node search with a 1,500 m cutoff on the walk network, 30 sources (median of
  15) next to bare ``scipy.sparse.csgraph.dijkstra`` on the same CSR;
- map: the service-area polygon from the covered cells (``service_area_from_cells``) next to
  ``service_areas`` (buffer + dissolve of reached streets; 2 stations, walk 1,500 m).

Peak memory is each child's max RSS (``resource.getrusage``), in MB.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import queue
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

TONGZHOU_OSM_ID = 2988902
REACH_BUFFER_DEG = 0.06          # about 5 km around the area's bounding box
CELL_M = 250.0
N_STATIONS = 8
CUTOFF_S = 15 * 60.0
SCALES = (0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2)


def demand_cells(crs: str):
    """250 m cells (polygons) whose centre lies in Tongzhou's outline, in ``crs``."""
    import geopandas as gpd
    import shapely

    from geo.areas import find_admin_layer

    admin = gpd.read_file(find_admin_layer(), where=f"osm_id = '{TONGZHOU_OSM_ID}'")
    outline = admin.to_crs(crs).geometry.union_all()
    x0, y0, x1, y1 = outline.bounds
    xs = np.arange(x0, x1, CELL_M) + CELL_M / 2
    ys = np.arange(y0, y1, CELL_M) + CELL_M / 2
    gx, gy = (a.ravel() for a in np.meshgrid(xs, ys))
    inside = shapely.contains_xy(outline, gx, gy)
    gx, gy = gx[inside], gy[inside]
    h = CELL_M / 2
    cells = gpd.GeoDataFrame(geometry=shapely.box(gx - h, gy - h, gx + h, gy + h), crs=crs)
    bbox = tuple(admin.total_bounds + np.array([-1, -1, 1, 1]) * REACH_BUFFER_DEG)
    return cells, np.column_stack([gx, gy]), bbox


def _timed(out: dict, name: str, fn):
    t = time.perf_counter()
    value = fn()
    out[name] = time.perf_counter() - t
    return value


def _median_ms(fn, repeat: int = 15) -> float:
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return 1000 * statistics.median(ts)


def run_arrays(pbf: str, q: mp.Queue) -> None:
    """The geo.roadnet pipeline; puts {stage: seconds, ..., "peak_mb": MB} on ``q``."""
    from scipy.sparse.csgraph import dijkstra

    from geo import settings
    from geo.coverage.service_area import service_area_from_cells
    from geo.roadnet import point_costs, road_networks_from_pbf

    settings.cache_dir = Path(os.environ["BENCH_CACHE"])
    r: dict = {}
    t_all = time.perf_counter()
    cells0, _, bbox = demand_cells(settings.metric_crs)
    both = _timed(r, "read+graph drive+walk (cold)", lambda: road_networks_from_pbf(
        pbf, ("drive", "walk"), bbox=bbox, to_crs=settings.metric_crs))
    drive, walk = both["drive"], both["walk"]
    _timed(r, "read+graph drive+walk (cache)", lambda: road_networks_from_pbf(
        pbf, ("drive", "walk"), bbox=bbox, to_crs=settings.metric_crs))
    r["nodes drive/walk"] = f"{drive.n_nodes:,}/{walk.n_nodes:,}"
    cells, xy = cells0, np.column_stack([cells0.centroid.x, cells0.centroid.y])
    r["cells"] = len(xy)
    _timed(r, "snap cells", lambda: drive.snap(xy[:, 0], xy[:, 1]))
    rng = np.random.default_rng(1)
    st = xy[rng.choice(len(xy), N_STATIONS, replace=False)]
    res = _timed(r, "search (15 min)", lambda: point_costs(
        drive, st, xy, weight="travel_time", cutoff=CUTOFF_S))
    r["covered cells"] = int(np.isfinite(res["cost"]).sum())
    _timed(r, "7 speed variants", lambda: [point_costs(
        drive, st, xy, weight="travel_time", cutoff=CUTOFF_S, speed_scale=s) for s in SCALES])
    src = walk.node_id[rng.choice(walk.n_nodes, 30, replace=False)]
    walk.nearest_cost(src, cutoff=1500)
    r["cutoff repeated (ms)"] = _median_ms(lambda: walk.nearest_cost(src, cutoff=1500))
    mat, idx = walk.csr("length"), walk.positions(src)
    r["bare scipy (ms)"] = _median_ms(lambda: dijkstra(mat, directed=True, indices=idx,
                                                       min_only=True, limit=1500))
    _timed(r, "map: area from cells", lambda: service_area_from_cells(
        cells, np.isfinite(res["cost"]), cutoff=CUTOFF_S, unit="s"))
    r["total"] = time.perf_counter() - t_all
    r["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    q.put(r)


def run_networkx(pbf: str, skip_buffer: bool, q: mp.Queue) -> None:
    """The networkx/osmnx path doing the same jobs (geo.network, geo.snapping)."""
    import geopandas as gpd
    import networkx as nx
    import shapely
    from scipy.sparse.csgraph import dijkstra

    from geo import settings
    from geo.coverage import service_areas
    from geo.network import add_speeds, csr_for, graph_from_pbf, nearest_cost, source_positions
    from geo.snapping import point_costs, snap_points

    r: dict = {}
    t_all = time.perf_counter()
    _cells, xy, bbox = demand_cells(settings.metric_crs)
    box = shapely.box(*bbox)
    t = time.perf_counter()
    G = add_speeds(graph_from_pbf(pbf, "drive", bounding_box=box, to_crs=settings.metric_crs),
                   "drive")
    W = graph_from_pbf(pbf, "walk", bounding_box=box, to_crs=settings.metric_crs)
    r["read+graph drive+walk (cold)"] = time.perf_counter() - t
    r["nodes drive/walk"] = f"{G.number_of_nodes():,}/{W.number_of_nodes():,}"
    pts = gpd.GeoSeries(shapely.points(xy), crs=settings.metric_crs)
    r["cells"] = len(xy)
    _timed(r, "snap cells", lambda: snap_points(G, pts))
    rng = np.random.default_rng(1)
    st = pts.iloc[rng.choice(len(xy), N_STATIONS, replace=False)]
    res = _timed(r, "search (15 min)", lambda: point_costs(G, st, pts, weight="travel_time",
                                                           cutoff=CUTOFF_S))
    r["covered cells"] = int(np.isfinite(res["cost"]).sum())

    def variants():
        for s in SCALES:
            H = G.copy()
            for _, _, d in H.edges(data=True):
                d["travel_time"] = d["travel_time"] / s
            point_costs(H, st, pts, weight="travel_time", cutoff=CUTOFF_S)
    _timed(r, "7 speed variants", variants)
    nodes = list(W.nodes)
    src = [nodes[i] for i in rng.choice(len(nodes), 30, replace=False)]
    nearest_cost(W, src, cutoff=1500)
    r["cutoff repeated (ms)"] = _median_ms(lambda: nearest_cost(W, src, cutoff=1500))
    csr = csr_for(W)
    idx = source_positions(csr, src)
    r["bare scipy (ms)"] = _median_ms(lambda: dijkstra(csr.matrix, directed=True, indices=idx,
                                                       min_only=True, limit=1500))
    r["networkx cutoff (ms)"] = _median_ms(lambda: nx.multi_source_dijkstra_path_length(
        W, src, cutoff=1500, weight="length"), repeat=3)
    if not skip_buffer:
        walk_st = st.iloc[:2]
        _timed(r, "map: buffered streets", lambda: service_areas(W, walk_st, cutoff=1500,
                                                                by_facility=False))
    r["total"] = time.perf_counter() - t_all
    r["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    q.put(r)


def in_child(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=target, args=(*args, q))
    p.start()
    while p.is_alive() or not q.empty():
        with contextlib.suppress(queue.Empty):   # keep waiting while the child runs
            return q.get(timeout=1.0)
    raise SystemExit(f"{target.__name__} failed (exit code {p.exitcode}); see its traceback")


def fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.3f}" if v < 100 else f"{v:,.0f}"
    return str(v)


def main(argv: list[str] | None = None) -> int:
    from synth_network import PRESETS, generate

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", choices=["tongzhou", "beijing", "both"], default="tongzhou")
    ap.add_argument("--workdir", type=Path, default=Path("bench_data"))
    ap.add_argument("--skip-networkx", action="store_true")
    ap.add_argument("--skip-buffer", action="store_true")
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    os.environ["BENCH_CACHE"] = str((args.workdir / "cache").resolve())
    scales = ["tongzhou", "beijing"] if args.scale == "both" else [args.scale]
    for scale in scales:
        pbf = args.workdir / f"synthetic-{scale}.osm.pbf"
        if not pbf.is_file():
            t = time.perf_counter()
            counts = generate(PRESETS[scale], pbf)
            print(f"generated {pbf}: {counts['nodes']:,} nodes, {counts['ways']:,} ways "
                  f"in {time.perf_counter() - t:.1f} s (SYNTHETIC)")
        cache = Path(os.environ["BENCH_CACHE"])
        for f in cache.glob("networks/*.npz"):      # the cold read is measured cold
            f.unlink()
        a = in_child(run_arrays, str(pbf))
        b = {} if args.skip_networkx else in_child(run_networkx, str(pbf), args.skip_buffer)
        print(f"\n== {scale}-scale synthetic PBF ({pbf.stat().st_size / 1e6:.1f} MB), "
              f"Tongzhou bbox + {REACH_BUFFER_DEG} deg ==")
        print(f"{'stage':28s} {'geo.roadnet':>14s} {'networkx path':>14s} {'ratio':>7s}")
        for k in dict.fromkeys([*a, *b]):
            va, vb = a.get(k, ""), b.get(k, "")
            ratio = (f"{vb / va:.1f}x" if isinstance(va, float) and isinstance(vb, float)
                     and va > 0 else "")
            print(f"{k:28s} {fmt(va):>14s} {fmt(vb):>14s} {ratio:>7s}")
        print("(seconds unless noted; ratio = networkx path / geo.roadnet)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
