"""Coverage engines and results.

- :func:`network_coverage` - network costs, demand and facilities snapped to edges;
- :func:`straight_line_coverage` - straight-line distance (official "service radius");
- :func:`approximation_coverage` - straight line x circuity (/ speed), when no network exists;
- :func:`coverage` - picks one; every :class:`CoverageResult` names its ``method``;
- :func:`choose_method` / :func:`variant_methods` - THE rule for which method applies;
- :func:`nearest_network_cost`, :func:`straight_line_distance`, :func:`approximate_cost` -
  per-demand costs to the nearest facility (what metrics and the context cache);
- :func:`straight_line_costs`, :func:`approximation_costs`, :func:`network_costs` - sparse
  demand x candidate cost pairs (siting);
- :func:`service_areas` - buffered reached edges, dissolved (maps).
"""

from geo.coverage.engines import (
    CIRCUITY,
    approximate_cost,
    approximation_coverage,
    coverage,
    nearest_network_cost,
    network_coverage,
    straight_line_coverage,
    straight_line_distance,
)
from geo.coverage.methods import choose_method, variant_methods
from geo.coverage.pairs import approximation_costs, network_costs, straight_line_costs
from geo.coverage.result import METHODS, CoverageResult
from geo.coverage.service_area import BUFFER_M, service_areas

__all__ = [
    "BUFFER_M", "CIRCUITY", "METHODS", "CoverageResult", "approximate_cost",
    "approximation_costs", "approximation_coverage", "choose_method", "coverage",
    "nearest_network_cost", "network_costs", "network_coverage", "service_areas",
    "straight_line_costs", "straight_line_coverage", "straight_line_distance",
    "variant_methods",
]
