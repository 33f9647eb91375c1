"""Population and jobs surfaces: census-adjusted, dasymetric, mass-conserving (see
:mod:`geo.population.surface`); ancillary OSM features (:mod:`geo.population.ancillary`);
fitted weights and their validation (:mod:`geo.population.weights`)."""

from geo.population.surface import PopulationInfo, population_surface, source_units, write_surface
from geo.population.weights import FITTED_WEIGHTS, validate

__all__ = ["FITTED_WEIGHTS", "PopulationInfo", "population_surface", "source_units", "validate",
           "write_surface"]
