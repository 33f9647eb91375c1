"""OSM features from the Overpass API (through osmnx), mapped to Geofabrik's canonical layers.

Used only when asked for (``load_osm(..., source="overpass")``) and online. Responses are cached
on disk by osmnx under ``geo.settings.cache_dir / "overpass"`` (one JSON file per query, named
by the SHA-1 of the query URL), so repeating a query while online costs no server time.

Tags are classified with the same rules as the PBF/XML readers
(:func:`geo.sources.osmfile.classify_features`): ``railway=station/halt`` ->
``railway_station``/``railway_halt`` in ``transport``/``transport_a``, ``leisure=park`` ->
``park`` and ``amenity=fire_station`` -> ``fire_station`` in ``pois``/``pois_a``, railway lines
in ``railways``, ``place=*`` in ``places``/``places_a``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from geo import settings
from geo.errors import DataError, OfflineError
from geo.sources.base import OsmData
from geo.sources.osmfile import (
    DEFAULT_LAYERS,
    FILE_LAYERS,
    classify_features,
    empty_layers,
    tag_filter,
)

log = logging.getLogger(__name__)

#: Seconds to wait for the Overpass status endpoint before calling the server unreachable.
PROBE_TIMEOUT_S = (5.0, 10.0)


def cache_folder() -> Path:
    """Where osmnx caches Overpass responses for the toolkit."""
    return Path(settings.cache_dir) / "overpass"


@contextlib.contextmanager
def _osmnx_settings(**values: Any) -> Iterator[None]:
    """Temporarily set ``osmnx.settings`` attributes; restore them afterwards."""
    import osmnx as ox

    old = {k: getattr(ox.settings, k) for k in values}
    try:
        for k, v in values.items():
            setattr(ox.settings, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(ox.settings, k, v)


def query_polygon(area: Any, buffer_m: float, simplify_m: float) -> Any:
    """The (multi)polygon to query, EPSG:4326, from an Area, an area name or a geometry.

    Grown by ``buffer_m + simplify_m`` and then simplified with tolerance ``simplify_m``, so it
    still covers the area (plus ``buffer_m``) with far fewer vertices: osmnx repeats the
    polygon in every clause of the query (one per tag value and element type).
    """
    import geopandas as gpd
    from shapely.geometry import MultiPolygon, Polygon
    from shapely.geometry.base import BaseGeometry

    if area is None:
        raise DataError("load_osm_overpass: area is None; the Overpass source needs a study "
                        "area (a district name, an Area or a polygon)")
    if isinstance(area, str | Path):
        from geo.areas import get_area

        area = get_area(area)
    geom = area if isinstance(area, BaseGeometry) else getattr(area, "geometry", None)
    if not isinstance(geom, Polygon | MultiPolygon):
        raise DataError(f"load_osm_overpass: area must be a polygon (an Area, a district name "
                        f"or a shapely Polygon/MultiPolygon in EPSG:4326), got "
                        f"{type(geom if geom is not None else area).__name__}")
    if buffer_m < 0 or simplify_m < 0:
        raise DataError(f"load_osm_overpass: buffer_m={buffer_m} and simplify_m={simplify_m} "
                        f"must be >= 0 metres")
    if buffer_m > 0 or simplify_m > 0:
        s = gpd.GeoSeries([geom], crs=settings.geographic_crs).to_crs(settings.metric_crs)
        grown = s.buffer(buffer_m + simplify_m)
        if simplify_m > 0:
            grown = grown.simplify(simplify_m, preserve_topology=True)
        geom = grown.to_crs(settings.geographic_crs).iloc[0]
    if not geom.is_valid:
        geom = geom.buffer(0)
    return geom


def _probe(url: str) -> None:
    """Raise OfflineError unless the Overpass server answers (any HTTP status counts)."""
    import requests

    status = url.rstrip("/") + "/status"
    try:
        requests.get(status, timeout=PROBE_TIMEOUT_S).close()
    except requests.exceptions.RequestException as exc:
        raise OfflineError(
            f"cannot reach the Overpass API at {url} ({type(exc).__name__}): check the network, "
            f"or read OSM from a file instead (fetch_geofabrik, or data_dir= with a Geofabrik "
            f"folder or *.osm.pbf)") from exc


def _cached_base_date(polygon: Any, tags: dict[str, bool | str | list[str]]) -> str | None:
    """OSM base timestamp of the cached Overpass responses for this query (no network).

    Uses osmnx 2.x's query builders to find the cache files; returns None if that fails.
    """
    import json
    from collections import OrderedDict

    import requests

    try:
        import osmnx as ox
        from osmnx import _http, _overpass

        url = ox.settings.overpass_url.rstrip("/") + "/interpreter"
        stamps = []
        for coord_str in _overpass._make_overpass_polygon_coord_strs(polygon):
            query = _overpass._create_overpass_features_query(coord_str, tags)
            prepared = requests.Request("GET", url, params=OrderedDict(data=query)).prepare().url
            path = _http._check_cache(str(prepared))
            if path is None:
                return None
            stamp = json.loads(Path(path).read_text(encoding="utf-8")).get(
                "osm3s", {}).get("timestamp_osm_base")
            if stamp:
                stamps.append(stamp)
        return min(stamps) if stamps else None
    except Exception as exc:  # noqa: BLE001 - provenance only; never fail the load for it
        log.debug("Overpass data date unknown: %s", exc)
        return None


def load_osm_overpass(
    area: Any,
    *,
    layers: Iterable[str] | None = None,
    buffer_m: float = 0.0,
    simplify_m: float = 500.0,
    overpass_url: str | None = None,
) -> OsmData:
    """Query the Overpass API (osmnx ``features_from_polygon``) for the toolkit's layers.

    Parameters
    ----------
    area : Area, str or shapely (Multi)Polygon
        Study area (a name goes through :func:`geo.areas.get_area`); geometry in EPSG:4326.
    layers : iterable of str, optional
        Geofabrik layer names to produce (default: :data:`geo.sources.osmfile.DEFAULT_LAYERS`;
        ``roads`` only when asked). Layers the Overpass reader cannot produce are listed in
        ``layers_missing``.
    buffer_m : float
        Grow the query polygon by this many metres (features just across the border).
    simplify_m : float
        Tolerance (m) for simplifying the query polygon, which is first grown by the same
        amount so it still covers the area. The default 500 m turns Tongzhou's 1,024-vertex
        boundary into about 76 vertices (10 % more area): the query stays small, and the
        result holds features up to ~1 km outside the area, which callers clip. 0 queries the
        exact polygon.
    overpass_url : str, optional
        Overpass API base URL (default: ``osmnx.settings.overpass_url``), e.g. a mirror.

    Raises
    ------
    OfflineError
        ``geo.settings.offline`` is set (raised before any request), or the server cannot be
        reached.
    """
    import osmnx as ox
    import requests

    if settings.offline:
        raise OfflineError("offline mode (settings.offline / GEO_OFFLINE) forbids querying the Overpass "
                           "API: read OSM from the data directory instead (a Geofabrik folder "
                           "or *.osm.pbf; see 'geo data fetch')")
    wanted = list(dict.fromkeys(layers if layers is not None else DEFAULT_LAYERS))
    producible = [w for w in wanted if w in FILE_LAYERS]
    missing = sorted(w for w in wanted if w not in FILE_LAYERS)
    polygon = query_polygon(area, buffer_m, simplify_m)
    url = (overpass_url or ox.settings.overpass_url).rstrip("/")
    tags = tag_filter(producible)
    source = f"Overpass API {url} (osmnx {ox.__version__}), cached in {cache_folder()}"
    if not tags:
        return OsmData(layers=empty_layers(producible), layers_missing=missing, source=source)

    _probe(url)
    folder = cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    with _osmnx_settings(cache_folder=str(folder), use_cache=True, overpass_url=url):
        log.info("querying Overpass %s for %s", url, ", ".join(producible))
        try:
            feats = ox.features_from_polygon(polygon, tags=tags)
        except ox._errors.InsufficientResponseError:
            feats = None
        except requests.exceptions.RequestException as exc:
            raise OfflineError(f"Overpass query to {url} failed ({type(exc).__name__}): check "
                               f"the network and try again, or read OSM from a file (geo data "
                               f"fetch)") from exc
        except ox._errors.ResponseStatusCodeError as exc:
            first = str(exc).splitlines()[0][:200] if str(exc) else ""
            raise OfflineError(f"Overpass API {url} refused the query ({first}): try again "
                               f"later or use another server (overpass_url=...)") from exc
        date = _cached_base_date(polygon, tags)

    if feats is None or len(feats) == 0:
        log.warning("Overpass returned no matching features for the area")
        produced = empty_layers(producible)
    else:
        feats = feats.reset_index()
        feats["osm_id"] = feats["id"].astype(str)
        if feats.crs is None:
            feats = feats.set_crs(settings.geographic_crs)
        produced = classify_features(feats, layers=producible)
    return OsmData(layers=produced, layers_missing=missing, osm_data_date=date, source=source,
                   path=None)


#: The name :func:`geo.sources.load_osm` looks up for ``source="overpass"``.
load_overpass = load_osm_overpass
