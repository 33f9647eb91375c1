"""Everything one area's claims are measured on, loaded once and cached.

A :class:`StudyContext` holds the area, its OSM layers, population cells (per spread method),
townships, facilities by kind (with scenario additions/removals applied) and, when a road network
is available, walk and drive graphs. Evaluators and their sensitivity variants share it, so a
variant that only changes a threshold costs no reloading.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np

from geo import settings
from geo.areas import Area, get_area, townships
from geo.errors import DataError, DataNotFoundError, GeoError
from geo.sources import OsmData, load_osm

log = logging.getLogger(__name__)

#: How population is spread over cells: the base first, then the sensitivity readings.
SPREADS = ("dasymetric", "area", "settlements", "worldpop")
DEFAULT_SPREAD = SPREADS[0]

#: Most demand cells one evaluation builds (memory: a few kB per cell with its costs).
MAX_CELLS = 300_000

#: Margin (m) around the area's bounding box for road graphs: trips may leave the area.
GRAPH_MARGIN_M = 3000.0
#: Margin (m) of the drive graph: as far as a 15-minute drive (C02's budget) reaches at the
#: drive profile's fastest class (80 km/h): 15 x 60 x 80 / 3.6 = 20 km. Expressway entrances
#: up to the claim's own reach are searched within it (:meth:`StudyContext.coverage_reach_m`).
DRIVE_GRAPH_MARGIN_M = 20_000.0

#: Why a network claim cannot use a network, when none is available.
NO_NETWORK = ("no road network: the data has no roads layer and no OSM PBF/XML was given "
              "(get one with fetch_geofabrik(area='tongzhou'), then pass network_path=FILE)")


#: The study's own input files: (words, what to pass) by argument name.
INPUT_FILES = {"built_up": ("built-up", "a GeoJSON polygon"),
               "jobs": ("jobs", "polygons with a count column or a GeoTIFF of counts")}


def input_file(path: str | os.PathLike[str] | None, arg: str) -> Path | None:
    """``path`` as a Path when it is an existing file (None stays None); otherwise
    DataNotFoundError naming the input (``arg``: a key of :data:`INPUT_FILES`)."""
    if path is None:
        return None
    words, kind = INPUT_FILES[arg]
    if not Path(path).is_file():
        raise DataNotFoundError(f"{words} file {path} ({arg}) does not exist: pass {kind} "
                                f"({arg}=FILE)")
    return Path(path)


def study_inputs(*, built_up: str | os.PathLike[str] | None = None,
                 reference: str | os.PathLike[str] | None = None, datum: str | None = None,
                 jobs: str | os.PathLike[str] | None = None,
                 jobs_count_column: str | None = None) -> dict[str, Any]:
    """The study's own inputs as :class:`StudyContext` keyword arguments, checked (the files
    exist) and read (the reference inventory, converted to WGS84 from ``datum``): what the
    CLI and a batch do once, before any work."""
    out: dict[str, Any] = {"built_up": input_file(built_up, "built_up"),
                           "jobs": input_file(jobs, "jobs"),
                           "jobs_count_column": jobs_count_column}
    if reference is not None:
        from geo.facilities import load_reference

        out["reference"] = load_reference(reference, datum=datum)
    return out


class StudyContext:
    """Inputs for evaluating claims over one area.

    Parameters
    ----------
    area : Area or str
        Study area (anything :func:`geo.areas.get_area` accepts).
    data_dir : path, optional
        Data directory (default: :func:`geo.settings.resolve_data_dir`).
    network_path : path, optional
        OSM PBF or XML file with roads for walk/drive graphs. Without it, a Geofabrik
        ``roads`` layer is used when the data has one; otherwise there is no network.
    cell_size_m : float
        Hex cell width of the demand grid, metres.
    scenario : Scenario, optional
        Facilities to add or remove (``geo.scenarios``), applied to every facility query.
    osm : OsmData, optional
        Preloaded layers (tests); default: :func:`geo.sources.load_osm` for the area.
    built_up : path, optional
        GeoJSON polygon of the built-up area (e.g. the 155 km² sub-center core); it is then
        the ``built_up`` and ``residential`` extent (:mod:`geo.extent`).
    reference : GeoDataFrame, optional
        A reference inventory of facilities (:func:`geo.facilities.load_reference`), merged
        with OSM per claim (found in both / only in OSM / only in the reference).
    jobs, jobs_count_column : path, str, optional
        A jobs layer (polygons with a count column, or a GeoTIFF of counts) spread over the
        demand cells like the population (:meth:`jobs`): the "residents and jobs" denominator
        (C01) and the jobs destinations of commute claims (C19) use it. OSM has no jobs.
    """

    def __init__(self, area: Area | str, *, data_dir: str | os.PathLike[str] | None = None,
                 network_path: str | os.PathLike[str] | None = None, cell_size_m: float = 250.0,
                 scenario: Any = None, osm: OsmData | None = None,
                 built_up: str | os.PathLike[str] | None = None, reference: Any = None,
                 jobs: str | os.PathLike[str] | None = None,
                 jobs_count_column: str | None = None) -> None:
        # reason for 10 parameters: each is one input of the study (the CLI's options)
        self.data_dir = settings.resolve_data_dir(data_dir)
        self.area = get_area(area, data_dir=self.data_dir)
        self.cell_size_m = float(cell_size_m)
        n_cells = self.area.area_km2 * 1e6 / (0.866 * self.cell_size_m ** 2)
        if not self.cell_size_m > 0 or n_cells > MAX_CELLS:
            smallest = (self.area.area_km2 * 1e6 / (0.866 * MAX_CELLS)) ** 0.5
            raise DataError(f"cell size {cell_size_m:g} m would make about {n_cells:,.0f} cells "
                            f"over {self.area.name} ({self.area.area_km2:,.0f} km²); use at "
                            f"least {math.ceil(smallest)} m (cell_size_m={math.ceil(smallest)})")
        self.network_path = Path(network_path) if network_path is not None else None
        if self.network_path is not None and not self.network_path.is_file():
            raise DataNotFoundError(f"network file {self.network_path} (network_path) does not "
                                    "exist: pass an OSM .pbf or .osm/.xml file")
        if self.network_path is not None and not self.network_path.name.lower().endswith(
                (".pbf", ".osm", ".xml")):
            raise DataError(f"network file {self.network_path} (network_path): expected an OSM "
                            ".pbf, .osm or .xml file with roads")
        #: Warnings about the road network (partial coverage), for the output's data block.
        self.network_notes: list[str] = []
        self.built_up_path = input_file(built_up, "built_up")
        self.reference = reference
        self.jobs_path = input_file(jobs, "jobs")
        self.jobs_count_column = jobs_count_column
        self.scenario = scenario
        self.osm = osm if osm is not None else load_osm(self.area, data_dir=self.data_dir)
        self._osm_given = osm is not None
        self._memo: dict[Hashable, Any] = {}

    # ------------------------------------------------------------------ caching

    def _cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """Return the cached value for ``key``, computing it once (keys are built here only)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]

    def use_demand(self, cells: gpd.GeoDataFrame,
                   townships: Sequence[str | None] | None = None) -> None:
        """Measure on these demand ``cells`` instead of the population grid (tests, custom
        demand): columns ``cell_id, area_m2, population, geometry``; both population spreads
        see the same cells. ``townships``: each cell's admin_level8 name (default: found by
        point in polygon). Cached costs are dropped."""
        missing = {"cell_id", "area_m2", "population"} - set(cells.columns)
        if missing:
            raise DataError(f"cells lacks the column(s) {sorted(missing)}; give cell_id, "
                            "area_m2 (m²) and population")
        self._memo.clear()
        for spread in SPREADS:
            self._memo[("cells", spread)] = cells
        if townships is not None:
            if len(townships) != len(cells):
                raise DataError(f"townships has {len(townships)} names for {len(cells)} cells; "
                                "give one per cell")
            self._memo["cell_township"] = np.array(list(townships), dtype=object)

    # ------------------------------------------------------------------ demand

    def cells(self, spread: str = DEFAULT_SPREAD) -> gpd.GeoDataFrame:
        """Population cells (``geo.demand.population_cells``) for a spread method of
        :data:`SPREADS`: ``dasymetric`` (the base: census-adjusted WorldPop split by OSM
        ancillary data), ``area`` (census-adjusted, even over each township), ``settlements``
        (census-adjusted, half by OSM settlement points) or ``worldpop`` (dasymetric on the
        WorldPop counts as published, without the census adjustment)."""
        from geo.demand import population_cells

        def load() -> gpd.GeoDataFrame:
            if spread not in SPREADS:
                raise ValueError(f"spread must be one of {SPREADS}, got {spread!r}")
            source = ("census" if spread != "worldpop" and self.census_available()
                      else "worldpop")
            how = "dasymetric" if spread == "worldpop" else spread
            # The dasymetric spread reads its own OSM layers over whole townships, never the
            # area's clipped ones; the settlements spread takes the area's.
            cells = population_cells(self.area, data_dir=self.data_dir,
                                     cell_size_m=self.cell_size_m, spread=how, source=source,
                                     osm=self.osm if spread == "settlements" else None)
            if spread != "area":  # variants must line up cell by cell with the base grid
                base = self.cells("area")
                if not np.array_equal(base["cell_id"].to_numpy(), cells["cell_id"].to_numpy()):
                    raise GeoError(f"population spread {spread!r} produced a different grid")
            return cells

        return self._cached(("cells", spread), load)

    def jobs(self) -> np.ndarray | None:
        """Jobs per demand cell (``cells("area")`` order) from the jobs layer, spread like the
        population (:func:`geo.population.population_surface` with ``kind="jobs"``), or None
        when the study has no jobs layer."""
        if self.jobs_path is None:
            return None

        def load() -> np.ndarray:
            from geo.population import population_surface

            cells, info = population_surface(self.area, population=self.jobs_path,
                                             count_column=self.jobs_count_column, kind="jobs",
                                             cell_size_m=self.cell_size_m,
                                             data_dir=self.data_dir)
            base = self.cells("area")
            if not np.array_equal(base["cell_id"].to_numpy(), cells["cell_id"].to_numpy()):
                raise GeoError("the jobs surface produced a different grid from the population")
            self._memo["jobs-info"] = info.to_dict()
            return cells["jobs"].to_numpy(dtype=float)

        return self._cached("jobs", load)

    def jobs_info(self) -> dict[str, Any]:
        """How the jobs per cell were formed (``PopulationInfo`` as a dict), or {}."""
        if self.jobs() is None:
            return {}
        return dict(self._memo.get("jobs-info") or {})

    def census_available(self) -> bool:
        """True when the data has the 2020 census district table; without it the township
        counts are WorldPop's as published (and ``population_info`` says so)."""
        from geo.population.surface import census_districts

        def check() -> bool:
            try:
                census_districts(self.data_dir)
            except DataNotFoundError:
                log.warning("no 2020 census table in %s: population is WorldPop's township "
                            "counts as published, not census-adjusted", self.data_dir)
                return False
            return True

        return bool(self._cached("census_available", check))

    def population(self, spread: str = DEFAULT_SPREAD) -> np.ndarray:
        """Residents per cell (float array, in cell order)."""
        return self.cells(spread)["population"].to_numpy(dtype=float)

    def extent(self, name: str = "area") -> Any:
        """The :class:`geo.extent.Extent` a claim is measured over: ``"area"`` (all of it),
        ``"built_up"`` or ``"residential"`` (user polygon, else OSM landuse, else the density
        proxy on the base population surface; :mod:`geo.extent`)."""
        from geo import extent as ext

        if name not in ext.EXTENTS:
            raise DataError(f"extent must be one of {', '.join(ext.EXTENTS)}, got {name!r}")

        def load() -> Any:
            area_m = self.area.geometry_m
            if name == "area":
                return ext.Extent("area", None, float(self.area.area_km2),
                                  f"the whole study area ({self.area.name})")
            if self.built_up_path is not None:
                return ext.from_file(self.built_up_path, area_m, name)
            found = ext.from_landuse(self.osm, area_m, name)
            if found is not None:
                return found
            if name == "residential":  # the proxy is one mask: share it
                e = self.extent("built_up")
                return ext.Extent("residential", e.geometry, e.area_km2,
                                  e.source + "; stands for residential land, which the data "
                                             "does not map")
            return ext.density_proxy(self.cells(), self.population(), name,
                                     population_source=self.population_source())

        return self._cached(("extent", name), load)

    def extent_fraction(self, name: str = "area") -> np.ndarray:
        """Share (0-1) of each demand cell inside the extent ``name``, in cell order."""
        from geo.extent import cell_fraction

        return self._cached(("extent-frac", name),
                            lambda: cell_fraction(self.cells("area"), self.extent(name)))

    def population_source(self, spread: str = DEFAULT_SPREAD) -> str:
        """Provenance of the population of ``spread``, in words (``geo.demand``)."""
        from geo.demand import population_source

        how = "dasymetric" if spread == "worldpop" else spread
        census = spread != "worldpop" and self.census_available()
        return population_source(how, source="census" if census else "worldpop")

    def population_info(self, spread: str = DEFAULT_SPREAD) -> dict[str, Any]:
        """How the population of ``spread`` was formed (``geo.population.PopulationInfo`` as a
        dict: method, source, total, contributing units and their inside shares)."""
        return dict(self.cells(spread).attrs.get("population_info") or {})

    def cell_area_m2(self) -> np.ndarray:
        """Cell areas in m² (clipped to the area), in cell order."""
        return self.cells("area")["area_m2"].to_numpy(dtype=float)

    def townships(self) -> gpd.GeoDataFrame:
        """admin_level8 streets/towns clipped to the area (``name, osm_id, geometry``)."""
        return self._cached("townships", lambda: townships(self.area, data_dir=self.data_dir))

    def cell_township(self) -> np.ndarray:
        """The admin_level8 name of each cell (by representative point; None outside)."""
        def load() -> np.ndarray:
            cells = self.cells("area")
            pts = gpd.GeoDataFrame({"_row": np.arange(len(cells))},
                                   geometry=cells.geometry.representative_point().values,
                                   crs=cells.crs)
            towns = self.townships()
            j = gpd.sjoin(pts, towns[["name", "geometry"]], how="left", predicate="within")
            j = j[~j["_row"].duplicated(keep="first")].sort_values("_row")
            return np.array([n if isinstance(n, str) else None for n in j["name"]], dtype=object)

        return self._cached("cell_township", load)

    # ------------------------------------------------------------------ networks

    def network_source(self) -> str | None:
        """Human-readable description of where roads come from, or None."""
        if self.network_path is not None:
            return f"OSM file {self.network_path.name}"
        roads = self.osm.layers.get("roads")
        if roads is not None and len(roads):
            return f"Geofabrik roads layer ({self.osm.source})"
        return None

    def graph(self, network_type: str, profile: str | None = None) -> Any:
        """The walk or drive network, or None without one.

        From an OSM PBF: a :class:`geo.roadnet.RoadNetwork` (arrays read with pyosmium, only
        the ways touching the area's bounding box plus 3 km, walk and drive in one pass, cached
        on disk); travel times are its ``travel_time:<profile>`` weights, so ``profile`` is
        ignored. From an OSM XML file or a Geofabrik roads layer: a projected networkx graph
        (with ``travel_time`` for ``profile``). Either way trips may leave the area by 3 km.
        """
        def load() -> Any:
            from geo import network

            if self.network_source() is None:
                return None
            base = self.graph(network_type, None) if profile is not None else None
            if profile is not None:
                if base is None or _is_roadnet(base):
                    return base
                G = base.copy()
                network.clear_cache(G)
                return network.add_speeds(G, profile)
            to_crs = None  # the local UTM zone (EPSG:32650 in Beijing): geo.network.metric_crs_for
            source = self.network_source()
            try:
                if self.network_path is None:
                    G = network.graph_from_roads(self.osm.layers["roads"], network_type,
                                                 to_crs=to_crs)
                elif self.network_path.name.lower().endswith(".pbf"):
                    G = self._road_network(network_type)
                else:
                    G = network.graph_from_xml(self.network_path, network_type, to_crs=to_crs)
            except GeoError:
                raise
            except Exception as exc:  # parser errors of pyosmium / osmnx / expat
                first = (str(exc).splitlines() or [""])[0][:200]
                raise DataError(f"{source} cannot be read as an OSM road network "
                                f"({type(exc).__name__}: {first}): pass an OSM .pbf or "
                                ".osm/.xml file with roads") from exc
            self._check_network_extent(G, network_type, source)
            return G

        return self._cached(("graph", network_type, profile), load)

    def _road_network(self, network_type: str) -> Any:
        """The walk or drive :class:`geo.roadnet.RoadNetwork` from the PBF, read over the area's
        bounding box plus its margin (drive: as far as the longest drive budget reaches, so
        expressway entrances beyond the border count; walk: ``GRAPH_MARGIN_M``); cached on
        disk by ``geo.roadnet``."""
        def load() -> Any:
            from geo.roadnet import road_networks_from_pbf

            if self.network_path is None:
                raise DataError("no road network file (network_path) to read a "
                                f"{network_type} RoadNetwork from")
            margin = DRIVE_GRAPH_MARGIN_M if network_type == "drive" else GRAPH_MARGIN_M
            box = self.area.bounds(buffer_m=margin)
            return road_networks_from_pbf(self.network_path, (network_type,),
                                          bbox=box)[network_type]

        return self._cached(("road-network", network_type), load)

    def networkx_graph(self, network_type: str) -> Any:
        """The network as a projected osmnx-style networkx graph (converted from the arrays
        when it was read from a PBF), or None: for the networkx-based siting code."""
        def load() -> Any:
            G = self.graph(network_type)
            return G.to_networkx() if _is_roadnet(G) else G

        return self._cached(("graph-nx", network_type), load)

    def _check_network_extent(self, G: Any, network_type: str, source: str | None) -> None:
        """Refuse a network that misses the area; note one that covers only part of it."""
        import shapely

        if _is_roadnet(G):
            xy, crs = np.column_stack([G.x, G.y]), G.crs
        else:
            xy = np.array([(d["x"], d["y"]) for _, d in G.nodes(data=True)], dtype=float)
            crs = G.graph["crs"]
        area_m = gpd.GeoSeries([self.area.geometry], crs=settings.geographic_crs).to_crs(
            crs).iloc[0]
        if len(xy) == 0:
            share = 0.0
        else:
            from geo.snapping import MAX_SNAP_M  # points this close to the network reach it

            hull = shapely.convex_hull(shapely.multipoints(xy)).buffer(MAX_SNAP_M)
            share = float(shapely.area(shapely.intersection(hull, area_m)) / area_m.area)
        if share < 0.05:
            raise DataError(f"{source} does not cover {self.area.name} ({share:.0%} of its area "
                            f"lies inside the {network_type} network's extent): pass a network "
                            "of this area, e.g. Geofabrik's Beijing PBF ('geo data fetch')")
        if share < 0.9:
            note = (f"the {network_type} network ({source}) covers only {share:.0%} of "
                    f"{self.area.name}: places outside it are unreachable")
            log.warning(note)
            self.network_notes.append(note)

    def cost_graph(self, network_type: str, profile: Any = None) -> tuple[Any, Any] | None:
        """The network and the weight to search it with for pair costs (siting, the
        completeness test, commute times), or None without a network: lengths (metres) without
        ``profile``; with a :class:`geo.network.SpeedProfile`, travel times (seconds): on a
        RoadNetwork the profile itself is the weight (cached arrays, no graph copied or
        converted), on a networkx graph its ``travel_time`` from :meth:`graph_with_speeds`."""
        G = self.graph(network_type)
        if G is None:
            return None
        if profile is None:
            return G, "length"
        if _is_roadnet(G):
            return G, profile
        return self.graph_with_speeds(profile), "travel_time"

    def graph_with_speeds(self, profile: Any) -> Any:
        """The drive network as a networkx graph with ``travel_time`` (s) from a
        :class:`geo.network.SpeedProfile` (speed factor included), or None without a network
        (siting; measuring uses the arrays' weights without copying the graph)."""
        def load() -> Any:
            from geo import network

            G = self.networkx_graph("drive")
            if G is None:
                return None
            H = G.copy()
            network.clear_cache(H)
            return network.add_speeds(H, profile)

        return self._cached(("graph-speed", profile.name, profile.speed_factor), load)

    # ------------------------------------------------------------------ costs

    @staticmethod
    def _fingerprint(fac: gpd.GeoDataFrame) -> str:
        """What identifies a facility set for the cost cache: its ids, CRS and geometry."""
        import hashlib

        import shapely

        h = hashlib.sha1(str(fac.crs).encode())
        ids = fac["facility_id"] if "facility_id" in fac.columns else fac.index
        h.update("\x1f".join(map(str, ids)).encode())
        for wkb in shapely.to_wkb(fac.geometry.values):
            h.update(wkb)
        return h.hexdigest()

    def nearest_cost(self, fac: gpd.GeoDataFrame, *, method: str, network_type: str = "walk",
                     profile: Any = None, weight: str = "length", reverse: bool = False,
                     circuity: float | None = None, speed_kph: float | None = None
                     ) -> np.ndarray:
        """Cost from every demand cell (``cells("area")``, in order) to the nearest of ``fac``.

        ``method`` (see :mod:`geo.coverage.methods`): ``straight_line`` (metres),
        ``approximation`` (straight line x ``circuity``: metres, or seconds at ``speed_kph``),
        ``network`` (on the ``network_type`` graph, drive times from ``profile``; metres for
        ``weight="length"``, seconds for ``"travel_time"``; ``reverse``: from the cell to the
        facility). Computed by :mod:`geo.coverage` and cached per facility set: a variant that
        moves only a threshold, a circuity or a speed re-uses the costs.
        """
        from geo.coverage import (
            CIRCUITY,
            approximate_cost,
            nearest_network_cost,
            straight_line_distance,
        )

        fp = self._fingerprint(fac)
        if method == "straight_line":
            return self._cached(("dist", fp), lambda: straight_line_distance(
                self.cells("area"), fac)[0])
        if method == "approximation":
            dist = self.nearest_cost(fac, method="straight_line")
            return approximate_cost(dist, circuity=CIRCUITY if circuity is None else circuity,
                                    unit="m" if speed_kph is None else "s", speed_kph=speed_kph)
        if method != "network":
            raise DataError(f"method must be 'network', 'straight_line' or 'approximation', "
                            f"got {method!r}")
        G = self.graph(network_type)
        if G is None:
            raise DataError(f"method='network' needs a {network_type} network, and this context "
                            "has none: give StudyContext a network_path (OSM PBF/XML with roads)")
        key = ("net", fp, network_type, None if profile is None else
               (profile.name, profile.path, profile.speed_factor), weight, reverse)
        if _is_roadnet(G):
            return self._cached(key, lambda: self._roadnet_cost(G, fac, profile, weight,
                                                                reverse))
        if profile is not None:
            G = self.graph_with_speeds(profile)
        return self._cached(key, lambda: nearest_network_cost(
            G, self.cells("area"), fac, weight=weight, reverse=reverse))

    def _roadnet_cost(self, net: Any, fac: gpd.GeoDataFrame, profile: Any, weight: str,
                      reverse: bool) -> np.ndarray:
        """:meth:`nearest_cost` on a RoadNetwork: travel times of ``profile`` at speed factor 1
        are one cached weight; a speed variant divides them by its factor (``speed_scale``),
        so no graph is copied and the search arrays are shared."""
        import dataclasses

        from geo.coverage.result import demand_points
        from geo.snapping import point_costs

        scale = 1.0
        w: Any = weight
        if weight != "length":
            if profile is None:
                from geo.network import load_profile

                profile = load_profile("drive")
            w, scale = dataclasses.replace(profile, speed_factor=1.0), profile.speed_factor
        r = point_costs(net, fac, demand_points(self.cells("area")), weight=w,
                        reverse=reverse, speed_scale=scale)
        return r["cost"].to_numpy(dtype=float)

    # ------------------------------------------------------------------ facilities

    def facilities(self, kind: str, *, fclasses: tuple[str, ...] | None = None,
                   name_pattern: str | None = None, extra_name_pattern: str | None = None,
                   reach_m: float = 0.0) -> gpd.GeoDataFrame:
        """Facilities of ``kind`` (canonical columns), scenario applied.

        ``fclasses`` replaces the kind's default Geofabrik classes (for expressway entrances:
        the OSM highway classes that count as expressways, their ``_link`` ramps included);
        ``name_pattern`` keeps only names matching the regex; ``extra_name_pattern`` adds POIs
        of any class whose name matches (e.g. 养老 for elderly care, which OSM rarely tags).
        ``reach_m`` also keeps facilities up to that many metres outside the area: coverage
        does not stop at the border (a resident may use the station across it), counts do.
        """
        key = ("facilities", kind, fclasses, name_pattern, extra_name_pattern, reach_m)
        return self._cached(key, lambda: self._facilities(kind, fclasses, name_pattern,
                                                       extra_name_pattern, reach_m))

    def coverage_reach_m(self, kind: str, *, budget_s: float | None = None,
                         max_speed_kph: float | None = None) -> float:
        """How far outside the area facilities still serve it (m).

        Expressway entrances: as far as the time budget can reach, ``budget_s`` x
        ``max_speed_kph`` (at least the walk graph's margin), capped by the drive graph's
        margin (:data:`DRIVE_GRAPH_MARGIN_M`), which is the default without a budget. Other
        kinds: the margin the OSM layers were read with."""
        from geo.sources import READ_BUFFER_M

        if kind != "expressway_entrance":
            return READ_BUFFER_M
        if budget_s is None or max_speed_kph is None:
            return DRIVE_GRAPH_MARGIN_M
        reach = float(budget_s) * float(max_speed_kph) / 3.6
        return min(max(reach, GRAPH_MARGIN_M), DRIVE_GRAPH_MARGIN_M)

    def area_with_margin(self, margin_m: float) -> Area:
        """The area grown by ``margin_m`` metres (the area itself for 0)."""
        if margin_m <= 0:
            return self.area

        def grow() -> Area:
            g = gpd.GeoSeries([self.area.geometry_m.buffer(margin_m)], crs=settings.metric_crs)
            return Area(self.area.name, self.area.name_en, self.area.osm_id,
                        g.to_crs(settings.geographic_crs).iloc[0])

        return self._cached(("area+", margin_m), grow)

    def _facilities(self, kind: str, fclasses: tuple[str, ...] | None,
                    name_pattern: str | None, extra_name_pattern: str | None,
                    reach_m: float = 0.0) -> gpd.GeoDataFrame:
        from geo.facilities import facilities

        area = self.area_with_margin(reach_m)
        graph = self.graph("drive") if kind == "expressway_entrance" else None
        out = facilities(self.osm, kind, area, fclasses=fclasses, name_pattern=name_pattern,
                         extra_name_pattern=extra_name_pattern, graph=graph)
        if self.scenario is not None:
            out = self.scenario.apply(kind, out)
            added = out["facility_id"].astype(str).str.startswith("scenario:").to_numpy()
            if added.any():  # planned facilities, like mapped ones, only within the query area
                inside = out.geometry.intersects(area.geometry).to_numpy()
                out = out[~added | inside]
        return out.reset_index(drop=True)

    def osm_around(self, buffer_m: float, layers: Sequence[str]) -> OsmData:
        """OSM ``layers`` read ``buffer_m`` metres around the area (a name search that does not
        stop at the border); the context's own layers when they were given preloaded."""
        if self._osm_given:
            return self.osm
        return self._cached(("osm-around", float(buffer_m), tuple(layers)), lambda: load_osm(
            self.area, data_dir=self.data_dir, layers=list(layers), buffer_m=float(buffer_m)))

    def describe(self) -> dict[str, Any]:
        """The ``area`` block of the JSON contract."""
        a = self.area
        return {"name": a.name, "name_en": a.name_en, "osm_id": a.osm_id,
                "area_km2": round(float(a.area_km2), 3), "crs": settings.metric_crs,
                "cell_size_m": self.cell_size_m}


def _is_roadnet(G: Any) -> bool:
    """True for the array network of :mod:`geo.roadnet` (read from a PBF)."""
    from geo.roadnet import RoadNetwork

    return isinstance(G, RoadNetwork)
