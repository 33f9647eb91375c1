"""Evaluate plan claims over an area: measured value, method, verdict, sensitivity, breakdown.

The verdict rests on the base parameters of the claim file; each sensitivity variant changes
one assumption (threshold +-20 %, speeds, turnout, circuity, method, park tiers, how population
is spread inside townships) and is judged against the same target. When the variants straddle
the target the verdict is ``inconclusive``; ``robust`` is true only when every variant agrees
with the base verdict (and nothing else, such as a missing denominator, rules it out).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from geo import settings
from geo.claims.context import DEFAULT_SPREAD, SPREADS, StudyContext
from geo.claims.metrics import REGISTRY, Measure
from geo.claims.registry import Claim, load_claims
from geo.claims.result import AreaEvaluation, ClaimResult
from geo.claims.verdict import (
    ABOUT_TOLERANCE,
    INCONCLUSIVE,
    MEASURE,
    MEASURED,
    MET,
    NOT_MET,
    about_band,
    combine,
    verdict,
)
from geo.errors import ClaimSpecError, EmptyResultError, GeoError
from geo.format import fmt_value, verdict_words

log = logging.getLogger(__name__)


def _judge(m: Measure, claim: Claim) -> str:
    """The verdict of one measurement: the comparator's (``geo.claims.verdict``), except that a
    broader kind reaching the target and a lower-bound count below it are inconclusive."""
    if m.value is None:
        return INCONCLUSIVE
    t = claim.target
    if t.comparator == MEASURE or t.value is None:   # no number in the plan: a measurement
        return MEASURED
    v = verdict(m.value, float(t.value), t.comparator, unit=t.unit)
    if v == MET and m.necessary_only:
        return INCONCLUSIVE
    if v == NOT_MET and m.lower_bound:
        return INCONCLUSIVE
    return v


def _data_year(ctx: StudyContext) -> int | None:
    date = ctx.osm.osm_data_date
    try:
        return int(str(date)[:4]) if date else None
    except ValueError:
        return None


def _in_scope(ctx: StudyContext, scope: str) -> bool:
    """Whether the context's area is the claim's area (by OSM id, else by name)."""
    from geo.areas import get_area

    try:
        target = get_area(scope, data_dir=ctx.data_dir)
    except GeoError:
        return ctx.area.name == scope
    if target.osm_id is not None and ctx.area.osm_id is not None:
        return target.osm_id == ctx.area.osm_id
    return target.name == ctx.area.name


def measure_claim(ctx: StudyContext, claim: Claim, *, params: Any = None,
                  detail: bool = True) -> Measure:
    """Measure one claim (no verdict) with its typed parameters (default ``claim.params``;
    a sensitivity variant passes its own). Data problems become a Measure with a ``reason``."""
    if claim.metric not in REGISTRY:
        raise ClaimSpecError(f"claim {claim.id}: metric {claim.metric!r} has no evaluator; "
                             f"known: {', '.join(sorted(REGISTRY))}")
    metric = REGISTRY[claim.metric]
    try:
        return metric.evaluate(ctx, claim.params if params is None else params, detail=detail)
    except GeoError as exc:
        log.warning("claim %s: %s", claim.id, exc)
        return Measure(None, claim.target.unit, reason=str(exc))


def evaluate_claim(ctx: StudyContext, claim: Claim, *, sensitivity: bool = True) -> ClaimResult:
    """Measure, judge and stress-test one claim."""
    base = measure_claim(ctx, claim)
    base_verdict = _judge(base, claim)
    rows: list[dict[str, Any]] = []
    if sensitivity and base.value is not None:
        for v in REGISTRY[claim.metric].variants(ctx, claim.params):
            m = measure_claim(ctx, claim, params=v.params, detail=False)
            rows.append({"parameter": v.parameter, "value": v.value, "measured": m.value,
                         "verdict": _judge(m, claim), "method": m.method})
    overall, robust = combine(base_verdict, [r["verdict"] for r in rows])
    notes = list(base.notes)
    if claim.target.comparator == MEASURE and not base.reason:
        notes.insert(0, "measured: the plan states no number to judge it against, so the claim "
                        "is reported as a measurement (value, variants, map), never met / not "
                        "met")
    if base.reason:
        notes.insert(0, f"inconclusive: {base.reason}")
    elif base.lower_bound and base_verdict == INCONCLUSIVE and \
            base.value is not None and claim.target.value is not None and \
            verdict(base.value, float(claim.target.value), claim.target.comparator,
                    unit=claim.target.unit) == NOT_MET:
        notes.insert(0, f"inconclusive: OSM maps {base.value:g}, below the target "
                        f"{claim.target.value:g}; a count of mapped facilities is a lower bound "
                        "(OSM may miss some), and the missing ones are not named, so they "
                        "cannot be checked")
    elif base.necessary_only and base_verdict == INCONCLUSIVE:
        notes.insert(0, f"inconclusive: OSM counts every {dict(claim.parameters).get('facility_kind')}"
                        f", not only those the claim means, so reaching {fmt_value(claim.target.value, claim.target.unit)} "
                        "is necessary but does not show the claim is met")
    if overall == INCONCLUSIVE and base_verdict != INCONCLUSIVE and base.value is not None:
        vals = [r["measured"] for r in rows if r["measured"] is not None] + [base.value]
        unit = claim.target.unit  # the same words as the tables: 6.6 %, not 0.066
        notes.insert(0, f"inconclusive: the sensitivity range {fmt_value(min(vals), unit)} to "
                        f"{fmt_value(max(vals), unit)} straddles the target "
                        f"{claim.target.comparator} {fmt_value(claim.target.value, unit)} "
                        f"(base {verdict_words(base_verdict)}: {fmt_value(base.value, unit)})")
    if sensitivity and base.value is not None and not rows and not base.not_robust:
        robust = False
        notes.append("not robust: no assumption of this metric can be varied; OSM "
                     "completeness is the open question")
    completeness = base.completeness
    if sensitivity and base.value is not None and overall != MEASURED:
        from geo.claims.completeness import coverage_completeness

        extra = coverage_completeness(ctx, claim, base, overall)
        if extra is not None:
            completeness = {**(completeness or {}), "extra_facilities": extra}
            if extra.get("not_robust"):
                base.not_robust.append(extra["not_robust"])
    ref = _reference_block(ctx, claim)
    if ref is not None:
        completeness = {**(completeness or {}), "reference": ref}
        if ref["counts"]["only_reference"] and overall in (MET, NOT_MET):
            base.not_robust.append(f"the reference inventory lists "
                                   f"{ref['counts']['only_reference']} facilities OSM lacks: "
                                   f"{', '.join(ref['only_reference'][:10])}")
    known = claim.known_unmapped
    if known is not None and overall in (MET, NOT_MET):
        completeness = {**(completeness or {}), "known_unmapped": dict(known)}
        base.not_robust.append(f"OSM is known to miss {known['count']} {dict(claim.parameters).get('facility_kind')} "
                               f"facilities here ({known['source']})")
    year = _data_year(ctx)
    pending = year is not None and claim.target.year > year
    date = str(ctx.osm.osm_data_date or "")[:10]
    note = None
    if overall == MEASURED:
        note = ("measured: the plan sets no number for this task, so it is reported as a "
                "measurement (value, variants, gap map), never met / not met")
    elif overall == NOT_MET and pending:
        note = f"not met on the {date} OSM map, target {claim.target.year}"
    elif overall == MET and pending:
        note = f"met on the {date} OSM map already (target {claim.target.year})"
    if claim.target.comparator == "~" and base.value is not None and \
            claim.target.value is not None:
        low, high = about_band(float(claim.target.value), claim.target.unit)
        notes.append(f"'about' {claim.target.value:g} is read as {low:.4g} to {high:.4g} "
                     f"(tolerance {ABOUT_TOLERANCE.get(claim.target.unit, ABOUT_TOLERANCE['*'])}"
                     f" for unit {claim.target.unit!r}; geo.claims.verdict)")
    if pending and overall not in (INCONCLUSIVE, MEASURED):
        notes.append(f"measured on OSM data of {date}; the target is for "
                     f"{claim.target.year}, so {overall} describes the map today, not the "
                     "plan's end state")
    if base.not_robust:
        robust = False
        notes.extend(f"not robust: {r}" for r in base.not_robust)
    if not sensitivity:
        robust = False
        notes.append("robustness not assessed (sensitivity variants were not run)")
    notes.extend(claim.notes)
    params = {k: v for k, v in dict(claim.parameters).items()}
    return ClaimResult(claim=claim, value=base.value, unit=base.unit or claim.target.unit,
                       method=base.method, denominator=base.denominator, verdict=overall,
                       base_verdict=base_verdict, robust=robust, sensitivity=rows,
                       breakdown=base.breakdown, notes=notes, parameters=params,
                       layers=base.layers, extent=base.extent, verdict_note=note,
                       target_year_pending=bool(pending), completeness=completeness)


def _reference_block(ctx: StudyContext, claim: Claim) -> dict[str, Any] | None:
    """The reference inventory merged with the claim's OSM facilities inside the area
    (:func:`geo.facilities.merge_reference`), or None without a reference of its kind."""
    from geo.claims.metrics import select_facilities
    from geo.facilities import merge_reference

    kind = dict(claim.parameters).get("facility_kind")
    if ctx.reference is None or kind is None:
        return None
    ref = ctx.reference[ctx.reference["kind"] == kind]
    if len(ref) == 0:
        return None
    inside = ref[ref.within(ctx.area.geometry).to_numpy()]
    out = merge_reference(select_facilities(ctx, claim.params, coverage=False), inside)
    out["datum"] = ctx.reference.attrs.get("datum")
    out["outside_area"] = int(len(ref) - len(inside))
    return out


def _parameters(ctx: StudyContext, sensitivity: bool) -> dict[str, Any]:
    """The ``parameters`` block of the output: every setting the numbers rest on."""
    from geo.claims.metrics import (
        CIRCUITY_RANGE,
        DRIVE_SPEED_FACTORS,
        FIRE_SPEEDS_KPH,
        THRESHOLD_STEP,
        TURNOUT_RANGE_MIN,
    )
    from geo.coverage import CIRCUITY

    return {
        "cell_size_m": ctx.cell_size_m,
        "population_spread": (f"{DEFAULT_SPREAD} (census-adjusted township counts split over "
                              "cells by OSM ancillary data; variants: "
                              + ", ".join(s for s in SPREADS if s != DEFAULT_SPREAD) + ")"),
        "circuity": CIRCUITY,
        "about_tolerance": {u: {"kind": k, "size": v} for u, (k, v) in ABOUT_TOLERANCE.items()},
        "sensitivity": {"threshold_step": THRESHOLD_STEP, "circuity_range": CIRCUITY_RANGE,
                        "turnout_range_min": TURNOUT_RANGE_MIN,
                        "fire_speeds_kph": FIRE_SPEEDS_KPH,
                        "drive_speed_factors": DRIVE_SPEED_FACTORS} if sensitivity else None,
        "metric_crs": settings.metric_crs,
    }


def population_block(ctx: StudyContext) -> dict[str, Any]:
    """The ``data.population`` block: method, total and how the total was formed.

    Uses the population surface's own account (:meth:`StudyContext.population_info`) when it
    has one; otherwise lists the source units (townships) the total is made of, each with its
    count, the share of its area inside the study area and what it brings.
    """
    info = ctx.population_info()
    if info:
        return info
    total = float(ctx.population().sum())
    return {"total": round(total, 1), "method": ctx.population_source(),
            **township_account(ctx)}


def township_account(ctx: StudyContext) -> dict[str, Any]:
    """Which source units (population townships) form the area's total: each with its count,
    the share of its area inside the study area and the people it brings (areal share)."""
    import shapely

    from geo.demand import population_townships

    towns = population_townships(data_dir=ctx.data_dir)
    geom = ctx.area.geometry_m
    shapely.prepare(geom)
    towns = towns[shapely.intersects(geom, towns.geometry.values)]
    share = shapely.area(shapely.intersection(towns.geometry.values, geom)) / \
        towns["township_area_m2"].to_numpy()
    rows: list[dict[str, Any]] = []
    for (_, t), sh in zip(towns.iterrows(), share, strict=True):
        brought = float(t["population"]) * float(sh)
        if brought < 0.5:
            continue
        rows.append({"unit": f"{t['district']} {t['township']}", "count": float(t["population"]),
                     "share_inside": round(float(sh), 4), "contributes": round(brought, 1)})
    rows.sort(key=lambda r: -r["contributes"])
    main = [r for r in rows if r["share_inside"] >= 0.5]
    other = [r for r in rows if r["share_inside"] < 0.5]
    return {"source_units": rows,
            "formed_as": (f"{len(main)} source units mostly inside the area bring "
                          f"{sum(r['contributes'] for r in main):,.0f}; {len(other)} units "
                          f"mostly outside (boundary mismatch between the population and OSM "
                          f"boundaries) bring {sum(r['contributes'] for r in other):,.0f} by "
                          "the share of their area inside")}


def evaluate_area(area: Any, *, data_dir: str | os.PathLike[str] | None = None,
                  claims_path: str | os.PathLike[str] | None = None,
                  claims: Iterable[Claim] | None = None,
                  network_path: str | os.PathLike[str] | None = None,
                  cell_size_m: float = 250.0, sensitivity: bool = True, scenario: Any = None,
                  context: StudyContext | None = None,
                  progress: Callable[[str], None] | None = None,
                  context_options: dict[str, Any] | None = None) -> AreaEvaluation:
    """Evaluate every claim for an area.

    (10 keyword parameters: the public entry point mirrors the CLI's options; an options
    object is issue 10 item 6.)

    Parameters
    ----------
    area : area name, GeoJSON path or :class:`geo.areas.Area`.
    claims_path / claims : claim file (default: the packaged Tongzhou file) or loaded claims.
    network_path : OSM PBF/XML with roads (optional; without it network claims fall back to
        straight line / approximation or are inconclusive).
    cell_size_m : demand hex cell width, metres.
    sensitivity : run the sensitivity variants (off: faster, never robust).
    scenario : facilities added/removed (``geo.scenarios.Scenario``).
    context : a prepared :class:`StudyContext` to reuse (its area wins).
    progress : called with each claim id before it is evaluated.
    context_options : further :class:`StudyContext` arguments (``built_up``, ``reference``,
        ``jobs``, ``jobs_count_column``) when no ``context`` is given.
    """

    ctx = context or StudyContext(area, data_dir=data_dir, network_path=network_path,
                                  cell_size_m=cell_size_m, scenario=scenario,
                                  **(context_options or {}))
    claim_list = list(claims) if claims is not None else load_claims(claims_path)
    if ctx.network_source() is not None:  # a bad or misplaced network fails the run, once
        ctx.graph("walk")
        ctx.graph("drive")
    pop_total = float(ctx.population(DEFAULT_SPREAD).sum())
    if pop_total <= 0:
        raise EmptyResultError(f"area {ctx.area.name} has no population in the township layer "
                               f"({ctx.data_dir}): it lies outside the population data (Beijing); "
                               "choose an area inside it")
    results = []
    skipped = []
    for claim in claim_list:
        if claim.scope is not None and not _in_scope(ctx, claim.scope):
            skipped.append({"id": claim.id, "scope": claim.scope,
                            "reason": f"the claim is about {claim.scope} only (its names, "
                                      f"lines or target are that area's), not {ctx.area.name}"})
            continue
        if progress:
            progress(claim.id)
        log.info("evaluating %s (%s)", claim.id, claim.metric)
        results.append(evaluate_claim(ctx, claim, sensitivity=sensitivity))
    data = {
        "osm_data_date": ctx.osm.osm_data_date,
        "osm_source": ctx.osm.source,
        "population_source": ctx.population_source(),
        "population_total": round(pop_total, 1),
        "population": population_block(ctx),
        "built_up": ctx.extent("built_up").describe(),
        "network_source": ctx.network_source(),
        "network_notes": list(ctx.network_notes),
        "claims_skipped": skipped,
        "layers_missing": sorted(ctx.osm.layers_missing),
        "data_dir": str(Path(ctx.data_dir)),
    }
    if scenario is not None:
        data["scenario"] = scenario.describe()
    parameters = _parameters(ctx, sensitivity)
    return AreaEvaluation(area=ctx.describe(), data=data, parameters=parameters,
                          claims=results)
