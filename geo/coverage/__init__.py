"""Coverage engines and results.

- :func:`network_coverage` - network costs, demand and facilities snapped to edges;
- :func:`straight_line_coverage` - straight-line distance (official "service radius");
- :func:`approximation_coverage` - straight line x circuity (/ speed), only without a network;
- :func:`coverage` - picks one; every :class:`CoverageResult` names its ``method``;
- :func:`service_areas` - buffered reached edges, dissolved (maps).
"""

from geo.coverage.engines import (
    CIRCUITY,
    approximation_coverage,
    coverage,
    network_coverage,
    straight_line_coverage,
    straight_line_distance,
)
from geo.coverage.result import METHODS, CoverageResult
from geo.coverage.service_area import BUFFER_M, service_areas

__all__ = [
    "BUFFER_M", "CIRCUITY", "METHODS", "CoverageResult", "approximation_coverage", "coverage",
    "network_coverage", "service_areas", "straight_line_coverage", "straight_line_distance",
]
