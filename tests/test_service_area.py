"""Service areas: buffered reached (partial) edges, by hand."""

from __future__ import annotations

import math

import geopandas as gpd
import networkx as nx
import pytest
from shapely.geometry import Point

from geo.coverage import service_areas
from geo.errors import CRSError, DataError

CRS = "EPSG:32650"
X0, Y0 = 450_000.0, 4_410_000.0


def graph(one_way_12=False):
    """0 -(100)- 1 -(100)- 2 along x, then 2 -(100)- 3 up: an L shape."""
    G = nx.MultiDiGraph(crs=CRS)
    for n, (x, y) in enumerate([(0, 0), (100, 0), (200, 0), (200, 100)]):
        G.add_node(n, x=X0 + x, y=Y0 + y)
    for u, v in [(0, 1), (1, 2), (2, 3)]:
        G.add_edge(u, v, length=100.0)
        if not (one_way_12 and (u, v) == (1, 2)):
            G.add_edge(v, u, length=100.0)
    return G


def fac(*xy):
    return gpd.GeoDataFrame({"name": [f"f{i}" for i in range(len(xy))]},
                            geometry=[Point(X0 + x, Y0 + y) for x, y in xy], crs=CRS,
                            index=[f"f{i}" for i in range(len(xy))])


def metric(sa):
    return sa.to_crs(CRS)


def test_partial_edge_and_buffer_area_by_hand():
    sa = metric(service_areas(graph(), fac((0, 0)), cutoff=150, buffer_m=10))
    assert len(sa) == 1 and sa.facility.iloc[0] == "f0"
    assert sa.reached_length_m.iloc[0] == pytest.approx(150)
    # a 150 m straight segment buffered by 10 m: rectangle + two half discs
    assert sa.area.iloc[0] == pytest.approx(150 * 20 + math.pi * 100, rel=2e-3)
    assert sa.area_km2.iloc[0] == pytest.approx(sa.area.iloc[0] / 1e6, rel=1e-6)
    poly = sa.geometry.iloc[0]
    assert poly.contains(Point(X0 + 155, Y0)) and not poly.contains(Point(X0 + 165, Y0))


def test_facility_mid_edge_and_one_way_reverse():
    # facility in the middle of 1->2 (one-way), 5 m off the street, leg counted
    f = fac((150, 5))
    fwd = metric(service_areas(graph(one_way_12=True), f, cutoff=105, buffer_m=1))
    # forward: only toward node 2 (100 m of budget after the 5 m leg: 50 to node 2, 50 up)
    assert fwd.reached_length_m.iloc[0] == pytest.approx(100)
    assert not fwd.geometry.iloc[0].contains(Point(X0 + 120, Y0))
    assert fwd.geometry.iloc[0].contains(Point(X0 + 200, Y0 + 45))
    rev = metric(service_areas(graph(one_way_12=True), f, cutoff=105, buffer_m=1, reverse=True))
    # reverse: places that reach the facility: from node 1 side only
    assert rev.reached_length_m.iloc[0] == pytest.approx(100)
    assert rev.geometry.iloc[0].contains(Point(X0 + 60, Y0))
    assert not rev.geometry.iloc[0].contains(Point(X0 + 180, Y0))


def test_per_facility_and_dissolved():
    f = fac((0, 0), (200, 100))
    sa = metric(service_areas(graph(), f, cutoff=120, buffer_m=5))
    assert list(sa.facility) == ["f0", "f1"]
    # f0: 120 m east along x; f1 (node 3): 100 m down to node 2, then 20 m west
    assert list(sa.reached_length_m.round(6)) == [120.0, 120.0]
    one = metric(service_areas(graph(), f, cutoff=120, buffer_m=5, by_facility=False))
    assert len(one) == 1 and one.facility.iloc[0] is None
    # x 0..120 from f0 and x 180..200 + the vertical from f1: no overlap
    assert one.reached_length_m.iloc[0] == pytest.approx(120 + 120)


def test_not_a_convex_hull():
    sa = metric(service_areas(graph(), fac((0, 0)), cutoff=1000, buffer_m=10))
    poly = sa.geometry.iloc[0]
    hull = poly.convex_hull
    inside_hull_off_street = Point(X0 + 150, Y0 + 40)
    assert hull.contains(inside_hull_off_street) and not poly.contains(inside_hull_off_street)


def test_bad_input():
    G = graph()
    with pytest.raises(DataError, match="cutoff"):
        service_areas(G, fac((0, 0)), cutoff=-1)
    G.graph["crs"] = "EPSG:4326"
    with pytest.raises(CRSError):
        service_areas(G, fac((0, 0)), cutoff=10)


def test_service_area_from_cells_by_hand_and_against_union_all():
    import numpy as np
    import shapely
    from shapely.geometry import box

    from geo.coverage.service_area import service_area_from_cells

    # a 3 x 3 grid of 250 m cells; the L of 5 covered cells is 5 * 62,500 m2
    cells = gpd.GeoDataFrame(geometry=[box(X0 + 250 * i, Y0 + 250 * j, X0 + 250 * (i + 1),
                                           Y0 + 250 * (j + 1)) for i in range(3)
                                       for j in range(3)], crs=CRS)
    covered = np.zeros(9, bool)
    covered[[0, 1, 2, 3, 6]] = True      # column i=0 and row j=0
    sa = service_area_from_cells(cells, covered, cutoff=15 * 60, unit="s")
    assert len(sa) == 1 and sa.n_cells.iloc[0] == 5 and sa.unit.iloc[0] == "s"
    assert sa.area_km2.iloc[0] == pytest.approx(5 * 0.0625, rel=1e-9)
    ref = shapely.union_all(cells.geometry.values[covered])   # slow, obvious reference
    assert metric(sa).geometry.iloc[0].symmetric_difference(ref).area < 1e-3
    assert service_area_from_cells(cells, np.zeros(9, bool), cutoff=1, unit="m").empty
    with pytest.raises(DataError, match="one boolean per cell"):
        service_area_from_cells(cells, [True], cutoff=1, unit="m")
