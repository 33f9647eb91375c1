"""geo: check the spatial claims of the Beijing city sub-center (Tongzhou, 通州区) plan against
OpenStreetMap.

Data flows one way: areas -> sources -> facilities / demand / network -> coverage -> claims ->
reports, maps, CLI, notebooks. Metric work happens in EPSG:32650 (UTM 50N); frames handed to users
are WGS84 (EPSG:4326).

The public API is :data:`__all__` below; notebooks, README examples and user-workflow tests use
only these names (``from geo import get_area, evaluate_area``). The submodules are imported
lazily on first use, so ``import geo`` (and the CLI's help) stays fast.

=========================  ==================================================================
load an area               :func:`get_area`, :func:`districts`
OSM layers, facilities     :func:`load_osm`, :func:`get_facilities` (``facilities(osm, kind,
                           area)`` of :mod:`geo.facilities`)
population                 :func:`population_cells` (demand hexagons),
                           :func:`population_surface` (census-adjusted raster)
networks                   :func:`graph_from_pbf`, :func:`add_speeds`, :func:`load_profile`
                           (networkx), :class:`RoadNetwork` (fast arrays, from a PBF)
costs and coverage         :func:`nearest_cost`, :mod:`coverage` (the coverage layer)
claims                     :func:`load_claims`, :func:`read_document_title`,
                           :func:`evaluate_area`, :class:`StudyContext`, :mod:`verdicts`
siting                     :func:`close_gap`, :func:`maximal_covering`
maps and reports           :func:`claim_map`, :func:`save_map`, :func:`map_html`,
                           :func:`write_report`, :class:`ReportOptions`, :mod:`format`
=========================  ==================================================================
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
ATTRIBUTION = "© OpenStreetMap contributors"

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: Public name -> (module, attribute in it; None: the module itself).
_EXPORTS: dict[str, tuple[str, str | None]] = {
    "get_area": ("geo.areas", "get_area"),
    "districts": ("geo.areas", "districts"),
    "load_osm": ("geo.sources", "load_osm"),
    "get_facilities": ("geo.facilities", "facilities"),
    "population_cells": ("geo.demand", "population_cells"),
    "population_surface": ("geo.population", "population_surface"),
    "graph_from_pbf": ("geo.network", "graph_from_pbf"),
    "add_speeds": ("geo.network", "add_speeds"),
    "load_profile": ("geo.network", "load_profile"),
    "RoadNetwork": ("geo.roadnet", "RoadNetwork"),
    "nearest_cost": ("geo.network", "nearest_cost"),
    "coverage": ("geo.coverage", None),
    "load_claims": ("geo.claims.registry", "load_claims"),
    "read_document_title": ("geo.claims.registry", "read_document_title"),
    "evaluate_area": ("geo.claims.evaluate", "evaluate_area"),
    "StudyContext": ("geo.claims.context", "StudyContext"),
    "verdicts": ("geo.claims.verdict", None),
    "close_gap": ("geo.claims.gap", "close_gap"),
    "maximal_covering": ("geo.siting", "maximal_covering"),
    "claim_map": ("geo.maps", "claim_map"),
    "save_map": ("geo.maps", "save_map"),
    "map_html": ("geo.maps", "map_html"),
    "write_report": ("geo.report.html", "write_report"),
    "ReportOptions": ("geo.report.options", "ReportOptions"),
    "format": ("geo.format", None),
}

__all__ = [  # noqa: RUF022 (grouped by the data flow, as in the table above)
    "ATTRIBUTION", "__version__",
    "get_area", "districts", "load_osm", "get_facilities", "population_cells",
    "population_surface", "graph_from_pbf", "add_speeds", "load_profile", "RoadNetwork",
    "nearest_cost", "coverage", "load_claims", "read_document_title", "evaluate_area",
    "StudyContext", "verdicts", "close_gap", "maximal_covering", "claim_map", "save_map",
    "map_html", "write_report", "ReportOptions", "format",
]

if TYPE_CHECKING:  # what the lazy names are, for type checkers and IDEs
    from geo import coverage, format
    from geo.areas import districts, get_area
    from geo.claims import verdict as verdicts
    from geo.claims.context import StudyContext
    from geo.claims.evaluate import evaluate_area
    from geo.claims.gap import close_gap
    from geo.claims.registry import load_claims, read_document_title
    from geo.demand import population_cells
    from geo.facilities import facilities as get_facilities
    from geo.maps import claim_map, map_html, save_map
    from geo.network import add_speeds, graph_from_pbf, load_profile, nearest_cost
    from geo.population import population_surface
    from geo.report.html import write_report
    from geo.report.options import ReportOptions
    from geo.roadnet import RoadNetwork
    from geo.siting import maximal_covering
    from geo.sources import load_osm


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (PEP 562)."""
    try:
        module_name, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'geo' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    if name not in ("coverage", "format"):  # submodules: the import system sets those itself
        globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
