"""Private helpers shared by the network modules (:mod:`geo.network`, :mod:`geo.netcost`,
:mod:`geo.roadnet`, :mod:`geo.snapping`): the network-type check, the graph fingerprint and the
CSR array bundles the shortest-path searches run on. Not part of the public API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
import pandas as pd

from geo.errors import NetworkError

NETWORK_TYPES = ("walk", "drive")


def check_network_type(network_type: str) -> str:
    """``network_type`` if it is one of :data:`NETWORK_TYPES`, else NetworkError."""
    if network_type not in NETWORK_TYPES:
        raise NetworkError(f"network_type must be one of {NETWORK_TYPES}, got {network_type!r}")
    return network_type


def graph_stamp(G: nx.Graph) -> tuple[int, int]:
    """Cheap structural fingerprint: node count and adjacent node-pair count (a C-level sum of
    dict sizes, ~6 ms for 250k nodes; ``number_of_edges`` walks every multi-edge, ~50x slower).
    It notices added/removed nodes and node pairs; other in-place edits need
    :func:`geo.netcost.clear_cache`."""
    return len(G._adj), sum(map(len, G._adj.values()))


@dataclass
class Csr:
    """A graph as CSR arrays: ``matrix[i, j]`` is the weight of edge node i -> node j."""

    nodes: pd.Index          # node ids in matrix order
    pos: dict[Any, int]      # node id -> row
    matrix: Any              # scipy.sparse.csr_array, forward
    _transposed: Any = None
    stamp: tuple[int, int] = (0, 0)

    @property
    def transposed(self) -> Any:
        """The reverse graph's matrix (built on first use)."""
        if self._transposed is None:
            self._transposed = self.matrix.T.tocsr()
        return self._transposed


@dataclass
class CsrView:
    """What :func:`geo.snapping.search_from_points` needs: rows are node positions."""

    nodes: Any
    pos: Any
    matrix: Any
    transposed: Any
