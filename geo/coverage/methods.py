"""The one rule that decides how coverage costs are measured, given what data exists.

Methods, best first:

- ``network``: costs along a road graph (walk lengths, drive times). Used whenever a graph
  exists for the claim's mode, unless the claim asks for another method.
- the claim's no-network method: ``straight_line`` for distance claims (the official
  服务半径 method) or ``approximation`` (straight line x circuity, at a speed) for time claims.
  Used when there is no graph, or when the claim asks for it by name (e.g. C03's official
  straight-line radius).

Allowed variants: a method that is not the default is always allowed when asked for explicitly
(it is labelled in every output), with one exception: ``network`` needs a graph. So with a
graph, the no-network method runs as a sensitivity variant (how much does the cheaper method
move the verdict?), and a claim measured by straight line runs the network as its variant;
without a graph there is no method variant (the approximation's circuity is varied instead).
"""

from __future__ import annotations

from geo.errors import DataError, NetworkError

METHODS = ("network", "straight_line", "approximation")
#: Methods that need no road graph.
NO_NETWORK_METHODS = ("straight_line", "approximation")


def choose_method(*, network: bool, fallback: str, requested: str | None = None) -> str:
    """The method to measure with.

    ``network``: whether a road graph exists for the mode; ``fallback``: the method without
    one (``straight_line`` or ``approximation``); ``requested``: a method named by the claim
    or a sensitivity variant (None or ``"auto"``: the best available).
    """
    if fallback not in NO_NETWORK_METHODS:
        raise DataError(f"fallback must be one of {NO_NETWORK_METHODS}, got {fallback!r}")
    if requested in (None, "auto"):
        return "network" if network else fallback
    if requested not in METHODS:
        raise DataError(f"method must be 'auto' or one of {METHODS}, got {requested!r}")
    if requested == "network" and not network:
        raise NetworkError("method='network' needs a road graph; build one with geo.network "
                           f"or use method={fallback!r}")
    return requested


def variant_methods(method: str, *, network: bool, fallback: str) -> tuple[str, ...]:
    """The other methods worth a sensitivity run after measuring with ``method``: with a
    graph, the no-network ``fallback`` when ``method`` is the network, else the network;
    without a graph, none."""
    if not network:
        return ()
    return (fallback,) if method == "network" else ("network",)
