"""Siting: where to add facilities so that more demand is covered within a threshold.

Two classic coverage models (Church & ReVelle 1974; Toregas et al. 1971), solved exactly as
integer programmes with PuLP and CBC (default; bundled with PuLP) or HiGHS:

- :func:`maximal_covering` (MCLP): choose ``add`` new sites among candidates to maximise the
  demand weight (population) covered, i.e. within ``threshold`` of at least one facility;
- :func:`set_covering` (LSCP): the fewest new sites that bring the covered share of demand
  weight to ``target_share`` (1.0 = every unit, solved as one set covering model; below 1,
  the smallest k whose maximal covering optimum reaches the target, found by bisection on k
  with exact MCLP solves, so the answer is also the most weight any k sites cover).

Existing facilities are fixed: demand they already cover counts as covered and is left out of
the choice, so they are never "re-chosen" and their coverage is never double counted.

Costs are a demand x candidate matrix in the threshold's unit: pass ``cost_matrix`` (dense
numpy array, or a scipy.sparse matrix whose stored entries are costs and whose missing entries
mean "beyond reach") or a ``cost_fn(demand, points, *, limit)`` returning one. Builders:
:func:`straight_line_costs` (metres), :func:`approximation_costs` (straight line x circuity,
optionally / speed: for when no network exists), :func:`network_costs` (scipy dijkstra from
every candidate node, ``limit``-bounded, sparse). Candidates come from
:func:`candidate_sites` (demand-cell centroids or network nodes, minus water and existing
facilities).

Why PuLP rather than ``spopt.locate.MCLP``/``LSCP``: spopt (which also uses PuLP) builds a
dense demand x candidate coverage matrix with Python loops, has no minimum-coverage-target
set covering, and raises on a solver time-out instead of returning the incumbent. The models
here are the same formulations on the sparse coverage pairs; tests check them against spopt,
brute force and hand-solved instances.

Modules: :mod:`geo.siting.candidates` (candidate points), :mod:`geo.siting.models` (the models
and solvers), :mod:`geo.siting.result` (:class:`SitingResult`); problem preparation shared by
the models is in the private ``geo.siting._problem``; :func:`prepare`, :func:`coverage_columns`
and :func:`greedy_order` are exported for the claims' OSM completeness test.
"""

# the cost builders live with the coverage layer; re-exported here for siting's callers
from geo.coverage.engines import CIRCUITY
from geo.coverage.pairs import COST_UNITS, approximation_costs, network_costs, straight_line_costs
from geo.siting._problem import Prep, prepare
from geo.siting.candidates import candidate_sites
from geo.siting.models import (
    SOLVERS,
    coverage_columns,
    greedy_order,
    maximal_covering,
    set_covering,
    solve_series,
)
from geo.siting.result import SitingResult

__all__ = ["CIRCUITY", "COST_UNITS", "SOLVERS", "Prep", "SitingResult", "approximation_costs",
           "candidate_sites", "coverage_columns", "greedy_order", "maximal_covering",
           "network_costs", "prepare", "set_covering", "solve_series", "straight_line_costs"]
