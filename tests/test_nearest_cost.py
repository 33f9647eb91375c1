"""The multi-source engine against hand-computed toy graphs and networkx."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from geo.errors import NetworkError
from geo.network import add_speeds, clear_cache, nearest_cost


def toy() -> nx.MultiDiGraph:
    """A -> B one-way 100 m; B <-> C two-way with parallel edges 50 m and 70 m; C -> A one-way
    300 m; a ramp C -> M 40 m reachable in one direction only (M is a dead end); island E <-> F."""
    G = nx.MultiDiGraph(crs="EPSG:32650")
    G.add_edge("A", "B", length=100.0)
    G.add_edge("B", "C", length=70.0)
    G.add_edge("B", "C", length=50.0)
    G.add_edge("C", "B", length=50.0)
    G.add_edge("C", "A", length=300.0)
    G.add_edge("C", "M", length=40.0, highway="motorway_link")
    G.add_edge("E", "F", length=10.0)
    G.add_edge("F", "E", length=10.0)
    return G


def test_forward_one_way_parallel_and_ramp():
    cost = nearest_cost(toy(), ["A"])
    assert list(cost.index) == ["A", "B", "C", "M", "E", "F"]
    assert cost.to_dict() == {"A": 0.0, "B": 100.0, "C": 150.0, "M": 190.0,
                              "E": math.inf, "F": math.inf}


def test_reverse_follows_edge_directions_to_the_source():
    cost = nearest_cost(toy(), ["A"], reverse=True)
    # B -> C -> A = 50 + 300; C -> A = 300; the ramp's end M cannot get back; island unreachable
    assert cost.to_dict() == {"A": 0.0, "B": 350.0, "C": 300.0, "M": math.inf,
                              "E": math.inf, "F": math.inf}
    # the ramp is reachable only one way: to M yes, from M no
    assert nearest_cost(toy(), ["M"], reverse=True)["C"] == 40.0
    assert nearest_cost(toy(), ["M"])["C"] == math.inf


def test_cutoff_keeps_equal_and_drops_beyond():
    cost = nearest_cost(toy(), ["A"], cutoff=150)
    assert cost["C"] == 150.0 and cost["B"] == 100.0
    assert cost["M"] == math.inf


def test_multiple_sources_and_nearest_source():
    cost, src = nearest_cost(toy(), ["A", "E"], return_source=True)
    assert cost["F"] == 10.0 and src["F"] == "E"
    assert src["M"] == "A" and src["A"] == "A"
    cost, src = nearest_cost(toy(), ["A", "C"], return_source=True)
    assert cost["B"] == 50.0 and src["B"] == "C"
    assert cost["M"] == 40.0 and src["M"] == "C"
    assert src["E"] is None and cost["E"] == math.inf


def test_undirected_and_simple_graphs():
    G = nx.Graph()
    G.add_edge(1, 2, length=3.0)
    G.add_edge(2, 3, length=4.0)
    assert nearest_cost(G, [3]).to_dict() == {1: 7.0, 2: 4.0, 3: 0.0}
    D = nx.DiGraph()
    D.add_edge(1, 2, length=3.0)
    assert nearest_cost(D, [2]).to_dict() == {1: math.inf, 2: 0.0}


def test_travel_time_weight_and_cache_refresh():
    G = toy()
    for _, _, d in G.edges(data=True):
        d["highway"] = d.get("highway", "primary")
    add_speeds(G, "drive")  # primary 50 km/h, motorway_link 40 km/h (geo/profiles/drive.toml)
    t = nearest_cost(G, ["A"], weight="travel_time")
    assert t["B"] == pytest.approx(100 / (50 / 3.6))
    assert t["M"] == pytest.approx(150 / (50 / 3.6) + 40 / (40 / 3.6))
    assert nearest_cost(G, ["A"])["B"] == 100.0
    G.add_edge("A", "C", length=10.0)   # size change: cache rebuilt automatically
    assert nearest_cost(G, ["A"])["C"] == 10.0
    G["A"]["C"][0]["length"] = 5.0      # in-place weight change: needs clear_cache
    clear_cache(G)
    assert nearest_cost(G, ["A"])["C"] == 5.0


def test_zero_weight_edges_are_edges():
    G = nx.DiGraph()
    G.add_edge(0, 1, length=0.0)
    G.add_edge(1, 2, length=2.0)
    assert nearest_cost(G, [0]).to_dict() == {0: 0.0, 1: 0.0, 2: 2.0}


@pytest.mark.parametrize("make, match", [
    (lambda: nx.MultiDiGraph(), "G is empty"),
])
def test_empty_graph(make, match):
    with pytest.raises(NetworkError, match=match):
        nearest_cost(make(), [])


def test_bad_inputs_name_the_argument():
    G = toy()
    with pytest.raises(NetworkError, match="weight 'travel_time' is missing"):
        nearest_cost(G, ["A"], weight="travel_time")
    with pytest.raises(NetworkError, match=r"sources: 2 node id\(s\) not in G"):
        nearest_cost(G, ["A", "Z", "Y"])
    with pytest.raises(NetworkError, match="cutoff"):
        nearest_cost(G, ["A"], cutoff=-1)
    with pytest.raises(NetworkError, match="G must be a networkx graph"):
        nearest_cost({"A": {}}, ["A"])
    with pytest.raises(NetworkError, match="weight must be an edge attribute name"):
        nearest_cost(G, ["A"], weight=None)
    G2 = toy()
    G2["A"]["B"][0]["length"] = float("nan")
    with pytest.raises(NetworkError, match="finite and >= 0.*edge \\(A, B\\)"):
        nearest_cost(G2, ["A"])
    G3 = toy()
    G3["C"]["A"][0]["length"] = -5.0
    with pytest.raises(NetworkError, match="finite and >= 0"):
        nearest_cost(G3, ["A"])


def test_no_sources_gives_inf():
    cost, src = nearest_cost(toy(), [], return_source=True)
    assert np.isinf(cost).all() and src.isna().all()


@st.composite
def random_graphs(draw):
    n = draw(st.integers(1, 25))
    kind = draw(st.sampled_from([nx.MultiDiGraph, nx.DiGraph, nx.Graph, nx.MultiGraph]))
    G = kind()
    G.add_nodes_from(range(n))
    m = draw(st.integers(0, 3 * n))
    weights = st.one_of(st.integers(0, 20).map(float),
                        st.floats(0, 1000, allow_nan=False, allow_infinity=False))
    for _ in range(m):
        u, v = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        G.add_edge(u, v, length=draw(weights))
    sources = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=4))
    cutoff = draw(st.one_of(st.none(), st.floats(0, 500)))
    return G, sources, cutoff


@hsettings(max_examples=50, deadline=None)
@given(random_graphs(), st.booleans())
def test_matches_networkx(case, reverse):
    G, sources, cutoff = case
    cost, src = nearest_cost(G, sources, cutoff=cutoff, reverse=reverse, return_source=True)
    H = G.reverse(copy=True) if (reverse and G.is_directed()) else G
    ref = nx.multi_source_dijkstra_path_length(H, set(sources), cutoff=cutoff, weight="length")
    expected = pd.Series({n: ref.get(n, math.inf) for n in G.nodes}, dtype=float)
    np.testing.assert_allclose(cost.to_numpy(), expected.reindex(cost.index).to_numpy(),
                               rtol=0, atol=1e-9)
    # the reported nearest source really attains the cost
    for node in G.nodes:
        if math.isfinite(cost[node]):
            d = nx.single_source_dijkstra_path_length(H, src[node], weight="length")
            assert d[node] == pytest.approx(cost[node], abs=1e-9)
