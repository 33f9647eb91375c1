"""Per-process memos (geo.memo) and the map helpers that use them, against plain references."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
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


def _same_lines(got, ref) -> None:
    """Two (multi)lines trace the same path: equal length, each within 10 cm of the other
    (display coordinates are rounded to 1e-6 degree, 0.07 m at most here)."""
    assert got.length == pytest.approx(ref.length, rel=1e-5)
    assert shapely.hausdorff_distance(got, ref) < 0.1


@pytest.mark.parametrize("grid", ["squares", "clipped hexagons"])
def test_outline_is_the_boundary_of_the_union(grid):
    """The outline of a ragged selection of cells (sides no other selected cell shares) is the
    boundary of the union of those cells (the reference, shapely), for a square grid and for
    geo.demand.hex_grid's hexagons clipped to a round area; both parts of a split are checked."""
    from geo.areas import Area
    from geo.demand import hex_grid

    if grid == "squares":
        xs, ys = np.meshgrid(np.arange(20) * 250.0, np.arange(20) * 250.0)
        boxes = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + 250, ys.ravel() + 250)
        cells = gpd.GeoDataFrame(geometry=boxes, crs="EPSG:32650").to_crs("EPSG:4326")
    else:
        disk = gpd.GeoSeries([shapely.Point(460_000, 4_415_000).buffer(2_600)],
                             crs="EPSG:32650").to_crs("EPSG:4326").iloc[0]
        cells = hex_grid(Area("disk", "disk", None, disk), cell_size_m=250.0)
        assert (~cells["full"]).sum() > 20          # the rim's clipped cells are in the test
    rng = np.random.default_rng(1)
    mask = rng.random(len(cells)) < 0.7
    metric = cells.to_crs("EPSG:32650").geometry
    for part in (mask, ~mask):
        got = maps.cells_outline(cells, part, simplify_m=0.0, datum="wgs84")
        # snap-rounded to 1 mm: the hexagons of neighbours meet with hairline gaps otherwise
        ref = shapely.union_all(metric[part].values, grid_size=0.001).boundary
        _same_lines(got.to_crs("EPSG:32650").geometry.iloc[0], ref)


