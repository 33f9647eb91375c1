"""Synthetic OSM street networks for benchmarks ONLY (pyosmium writes an ``.osm.pbf``).

NOT REAL DATA. Every way carries ``source=synthetic``. The files exist to measure speed and
memory at Tongzhou and Beijing scale; they must never be used for any figure about Tongzhou
or Beijing (no claim, report or map may be computed from them).

Layout (on a lattice of ``step_m`` metres over a bounding box in degrees):

- an arterial grid (``primary`` / ``secondary``, two-way) every ``arterial_cells`` cells;
- motorways along a few lattice rows as two one-way carriageways 15 m either side of the row,
  grade-separated (their nodes are not shared with the streets they cross), with a
  ``highway=motorway_junction`` node and an off-ramp (``motorway_link``, one-way) down to the
  arterial every ``junction_every`` arterial crossings, and an on-ramp back up;
- towns: residential streets every 3-5 cells (150-250 m at 50 m) with footways between them;
- villages: small grids of ``unclassified`` lanes every 2 cells.

Ways are split at every street crossing (as in OSM, where ways often end at junctions).

Run: ``python bench/synth_network.py tongzhou out.osm.pbf`` (or ``beijing``).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Preset:
    """Parameters of one synthetic network; counts are for the whole bounding box."""

    bbox: tuple[float, float, float, float]   # lon_min, lat_min, lon_max, lat_max (degrees)
    step_m: float = 50.0
    arterial_cells: int = 20
    motorway_rows: int = 3
    motorway_cols: int = 2
    junction_every: int = 3
    n_towns: int = 24
    town_half_cells: tuple[int, int] = (30, 60)
    n_villages: int = 700
    village_half_cells: int = 3
    seed: int = 12


PRESETS = {
    # Tongzhou's rough bounding box (lon 116.55-116.95, lat 39.60-40.05)
    "tongzhou": Preset(bbox=(116.55, 39.60, 116.95, 40.05)),
    # Beijing's bounding box; sparser arterials in the outskirts are not modelled
    "beijing": Preset(bbox=(115.42, 39.44, 117.50, 41.06), arterial_cells=26, motorway_rows=8,
                      motorway_cols=8, n_towns=240, n_villages=6500),
    # a few thousand nodes, for tests
    "tiny": Preset(bbox=(116.60, 39.80, 116.66, 39.85), n_towns=2, town_half_cells=(8, 12),
                   n_villages=6, motorway_rows=1, motorway_cols=1, junction_every=1),
}


def generate(preset: Preset, path: str | Path) -> dict[str, int]:
    """Write the synthetic network of ``preset`` to ``path`` (.osm.pbf, via temp + rename).

    Returns counts: ``nodes``, ``ways``. Not real data (every way has ``source=synthetic``).
    """
    import osmium

    rng = np.random.default_rng(preset.seed)
    lon0, lat0, lon1, lat1 = preset.bbox
    lat_c = (lat0 + lat1) / 2
    dlat = preset.step_m / 111_320.0
    dlon = preset.step_m / (111_320.0 * math.cos(math.radians(lat_c)))
    nx_ = int((lon1 - lon0) / dlon) + 1
    ny_ = int((lat1 - lat0) / dlat) + 1

    def lid(i: np.ndarray, j: np.ndarray) -> np.ndarray:   # lattice node id (street nodes)
        return np.asarray(i, np.int64) * ny_ + np.asarray(j, np.int64) + 1

    ways: list[tuple[np.ndarray, dict[str, str]]] = []   # (node ids, tags)
    extra_nodes: dict[int, tuple[float, float, dict[str, str]]] = {}   # id -> lon, lat, tags
    syn = {"source": "synthetic"}

    def add_line(ids: np.ndarray, split: np.ndarray, tags: dict[str, str]) -> None:
        """One way per run between consecutive split positions (indices into ids)."""
        cuts = np.unique(np.r_[0, split, len(ids) - 1])
        for a, b in itertools.pairwise(cuts):
            if b > a:
                ways.append((ids[a:b + 1], {**tags, **syn}))

    A = preset.arterial_cells
    # arterials: columns (constant i) and rows (constant j), split at every arterial crossing
    for k, i in enumerate(range(0, nx_, A)):
        j = np.arange(ny_)
        add_line(lid(np.full(ny_, i), j), np.arange(0, ny_, A),
                 {"highway": "primary" if k % 3 == 0 else "secondary", "name": f"S{k} Rd"})
    for k, j in enumerate(range(0, ny_, A)):
        i = np.arange(nx_)
        add_line(lid(i, np.full(nx_, j)), np.arange(0, nx_, A),
                 {"highway": "primary" if k % 3 == 0 else "secondary", "name": f"W{k} Rd"})

    # towns and villages: local grids clipped to the lattice
    def local_grid(ci: int, cj: int, half: int, spacing: int, hw: str, foot: bool) -> None:
        i0, i1 = max(ci - half, 0), min(ci + half, nx_ - 1)
        j0, j1 = max(cj - half, 0), min(cj + half, ny_ - 1)
        for i in range(i0, i1 + 1, spacing):
            j = np.arange(j0, j1 + 1)
            add_line(lid(np.full(len(j), i), j), np.arange(0, len(j), spacing), {"highway": hw})
            if foot and i + spacing // 2 <= i1:
                ii = i + spacing // 2
                add_line(lid(np.full(len(j), ii), j), np.arange(0, len(j), spacing),
                         {"highway": "footway"})
        for j in range(j0, j1 + 1, spacing):
            i = np.arange(i0, i1 + 1)
            add_line(lid(i, np.full(len(i), j)), np.arange(0, len(i), spacing), {"highway": hw})

    lo, hi = preset.town_half_cells
    for _ in range(preset.n_towns):
        local_grid(int(rng.integers(0, nx_)), int(rng.integers(0, ny_)),
                   int(rng.integers(lo, hi + 1)), int(rng.integers(3, 6)), "residential", True)
    for _ in range(preset.n_villages):
        local_grid(int(rng.integers(0, nx_)), int(rng.integers(0, ny_)),
                   preset.village_half_cells, 2, "unclassified", False)

    # motorways: own node ids above the lattice's, two one-way carriageways per corridor
    next_id = nx_ * ny_ + 10
    off_lat = 15.0 / 111_320.0
    off_lon = 15.0 / (111_320.0 * math.cos(math.radians(lat_c)))

    def corridor(n_cells: int, along_row: bool, fixed: int, name: str) -> None:
        nonlocal next_id
        for side, sign in (("a", 1), ("b", -1)):
            ids = np.arange(next_id, next_id + n_cells, dtype=np.int64)
            next_id += n_cells
            for t, nid in enumerate(ids):
                if along_row:
                    lon, lat = lon0 + t * dlon, lat0 + fixed * dlat + sign * off_lat
                else:
                    lon, lat = lon0 + fixed * dlon + sign * off_lon, lat0 + t * dlat
                extra_nodes[int(nid)] = (lon, lat, {})
            seq = ids if sign == 1 else ids[::-1]      # a: increasing, b: decreasing
            tags = {"highway": "motorway", "oneway": "yes", "ref": name}
            # junctions at every junction_every-th arterial crossing (not at the ends)
            crossings = [t for t in range(A, n_cells - A, A)
                         if (t // A) % preset.junction_every == 0]
            add_line(seq, np.arange(0, n_cells, 4 * A), tags)
            for t in crossings:
                # exit: junction 4 cells before the crossing, ramp to the arterial 2 cells off
                before = t - 4 * sign
                after = t + 4 * sign
                j_node = int(ids[before])
                extra_nodes[j_node] = (*extra_nodes[j_node][:2], {"highway": "motorway_junction",
                                                                  "ref": f"{name}-{t}{side}"})
                street = (lid(t, fixed + 2 * sign) if along_row else lid(fixed + 2 * sign, t))
                street = int(street)
                if not (0 <= (fixed + 2 * sign) < (ny_ if along_row else nx_)):
                    continue
                ways.append((np.array([j_node, street]), {"highway": "motorway_link",
                                                         "oneway": "yes", **syn}))
                ways.append((np.array([street, int(ids[after])]),
                             {"highway": "motorway_link", "oneway": "yes", **syn}))

    rows = np.linspace(0, ny_ - 1, preset.motorway_rows + 2)[1:-1].astype(int)
    cols = np.linspace(0, nx_ - 1, preset.motorway_cols + 2)[1:-1].astype(int)
    # put corridors on arterial lines so that ramps meet arterial streets
    for k, j in enumerate(rows):
        corridor(nx_, True, round(j / A) * A, f"G{k + 1}")
    for k, i in enumerate(cols):
        corridor(ny_, False, round(i / A) * A, f"G{k + 50}")

    # nodes: lattice nodes used by some way + motorway nodes, in id order
    used = np.unique(np.concatenate([w for w, _ in ways]))
    lattice = used[used <= nx_ * ny_]
    ii, jj = np.divmod(lattice - 1, ny_)
    lons, lats = lon0 + ii * dlon, lat0 + jj * dlat
    path = Path(path)
    tmp = path.with_name(path.name + ".part.osm.pbf")
    tmp.unlink(missing_ok=True)
    writer = osmium.SimpleWriter(str(tmp))
    try:
        Node, Way = osmium.osm.mutable.Node, osmium.osm.mutable.Way
        for nid, lon, lat in zip(lattice.tolist(), lons.tolist(), lats.tolist(), strict=True):
            writer.add_node(Node(id=nid, location=(lon, lat)))
        for nid in sorted(extra_nodes):
            lon, lat, tags = extra_nodes[nid]
            writer.add_node(Node(id=nid, location=(lon, lat), tags=tags))
        for wid, (ids, tags) in enumerate(ways, start=1):
            writer.add_way(Way(id=wid, nodes=ids.tolist(), tags=tags))
    finally:
        writer.close()
    os.replace(tmp, path)
    return {"nodes": int(len(lattice) + len(extra_nodes)), "ways": len(ways)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("preset", choices=sorted(PRESETS))
    ap.add_argument("out", type=Path)
    args = ap.parse_args(argv)
    t = time.perf_counter()
    counts = generate(PRESETS[args.preset], args.out)
    print(f"{args.out}: {counts['nodes']:,} nodes, {counts['ways']:,} ways "
          f"(synthetic, NOT real data) in {time.perf_counter() - t:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
