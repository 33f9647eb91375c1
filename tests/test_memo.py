"""Per-process memos (geo.memo) and the map helpers that use them, against plain references."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from geo import maps
from geo.memo import Memo, geometry_key


def test_memo_computes_once_and_drops_the_oldest():
    calls = []
    memo = Memo(2)

    def make(v):
        return lambda: calls.append(v) or v

    assert memo.get("a", make(1)) == 1 and memo.get("a", make(9)) == 1
    memo.get("b", make(2))
    memo.get("c", make(3))             # "a" is the least recently used: dropped
    assert memo.get("a", make(4)) == 4
    assert calls == [1, 2, 3, 4]


def test_geometry_key_follows_shapes_not_frames():
    a = gpd.GeoSeries([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)], crs="EPSG:32650")
    b = gpd.GeoDataFrame({"x": [5, 6]}, geometry=a.values, crs="EPSG:32650")
    assert geometry_key(a.values) == geometry_key(b.geometry.values)
    moved = gpd.GeoSeries([shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1.5)])
    assert geometry_key(a.values) != geometry_key(moved.values)
    assert geometry_key(a.values, 10.0) != geometry_key(a.values, 20.0)


def test_dissolve_part_equals_the_plain_union():
    """A 20 x 20 grid of 250 m squares: the outline of the larger part drawn as "all cells
    minus the smaller part" is the union of its cells (the reference), within 1 m²."""
    xs, ys = np.meshgrid(np.arange(20) * 250.0, np.arange(20) * 250.0)
    boxes = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + 250, ys.ravel() + 250)
    cells = gpd.GeoDataFrame(geometry=boxes, crs="EPSG:32650").to_crs("EPSG:4326")
    rng = np.random.default_rng(1)
    mask = rng.random(len(cells)) < 0.8           # the larger part, ragged
    got = maps.dissolve_cells_part(cells, mask, simplify_m=0.0, datum="wgs84")
    ref = maps.dissolve_cells(cells.loc[mask], simplify_m=0.0, datum="wgs84")
    g = got.to_crs("EPSG:32650").geometry.iloc[0]
    r = ref.to_crs("EPSG:32650").geometry.iloc[0]
    assert abs(g.area - mask.sum() * 250.0 ** 2) < 50.0 * 250   # 1 cm buffer on the rim
    assert shapely.symmetric_difference(g, r).area < 0.02 * r.length + 1.0
    small = maps.dissolve_cells_part(cells, ~mask, simplify_m=0.0, datum="wgs84")
    s = small.to_crs("EPSG:32650").geometry.iloc[0]
    assert not s.intersection(g).area > 0.02 * s.length + 1.0   # the parts do not overlap
