"""OSM data sources, all returning the canonical :class:`OsmData`.

:func:`load_osm` picks the source: a Geofabrik free-shapefile folder (:mod:`.geofabrik`), an OSM
PBF or XML file (:mod:`.osmfile`) or, only when asked, the Overpass API (:mod:`.overpass`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import shapely

from geo import settings
from geo.areas import Area, get_area
from geo.errors import DataNotFoundError, EmptyResultError, GeoError
from geo.sources.base import CANONICAL_COLUMNS, OsmData

log = logging.getLogger(__name__)

__all__ = ["CANONICAL_COLUMNS", "OsmData", "find_osm_file", "load_osm"]

#: Margin (m) added around the area's bounding box when reading, so that features just
#: outside (a station across the border, the railway line next to it) are available.
READ_BUFFER_M = 2000.0
SOURCES = ("auto", "geofabrik", "pbf", "xml", "overpass")


def _kind_of(path: Path) -> str:
    name = path.name.lower()
    if path.is_dir():
        return "geofabrik"
    if name.endswith(".pbf"):
        return "pbf"
    if name.endswith((".osm", ".xml", ".osm.xml")):
        return "xml"
    raise DataNotFoundError(f"OSM source {path}: expected a Geofabrik shapefile folder, a "
                            "*.osm.pbf or a *.osm / *.osm.xml file")


def find_osm_file(data_dir: str | Path) -> Path | None:
    """The first ``*.osm.pbf`` file in a data directory (two levels deep), or ``None``."""
    root = Path(data_dir)
    for pattern in ("*.osm.pbf", "*/*.osm.pbf", "*/*/*.osm.pbf"):
        hits = sorted(root.glob(pattern))
        if hits:
            return hits[-1]
    return None


def load_osm(area: Area | str | None, *, data_dir: str | Path | None = None,
             source: str = "auto", path: str | Path | None = None,
             layers: Iterable[str] | None = None, buffer_m: float = READ_BUFFER_M) -> OsmData:
    """Load OSM layers for an area.

    Parameters
    ----------
    area : Area, str or None
        Study area (anything :func:`geo.areas.get_area` accepts); ``None`` reads everything.
    data_dir : path, optional
        Data directory (default :func:`geo.settings.resolve_data_dir`).
    source : {"auto", "geofabrik", "pbf", "xml", "overpass"}
        ``auto``: ``path`` if given, else the Geofabrik folder in the data directory, else an
        ``*.osm.pbf`` there. ``overpass`` queries the Overpass API (online only).
    path : path, optional
        Geofabrik folder, PBF or XML file to read.
    layers : iterable of str, optional
        Layers wanted (default: those the facilities and demand modules use).
    buffer_m : float
        Margin in metres around the area's bounding box for the read.

    Raises
    ------
    DataNotFoundError
        No source found.
    EmptyResultError
        The area does not intersect the data.
    """
    if source not in SOURCES:
        raise GeoError(f"source {source!r} is not one of {', '.join(SOURCES)}")
    if isinstance(area, str | Path):
        area = get_area(area, data_dir=data_dir)
    bbox = area.bounds(buffer_m=buffer_m) if area is not None else None
    if source == "overpass":
        try:
            from geo.sources import overpass as module  # written separately; online only
        except ImportError:
            module = None  # type: ignore[assignment]
        loader = getattr(module, "load_osm_overpass", None)
        if loader is None:
            raise GeoError("the Overpass source is not available in this installation")
        return loader(area, layers=layers, buffer_m=buffer_m)
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise DataNotFoundError(f"OSM source {path} (from path=) does not exist")
        kind = _kind_of(path) if source == "auto" else source
    else:
        root = settings.resolve_data_dir(data_dir)
        if source in ("auto", "geofabrik"):
            from geo.sources.geofabrik import find_geofabrik_folder

            try:
                path, kind = find_geofabrik_folder(root), "geofabrik"
            except DataNotFoundError:
                pbf = find_osm_file(root) if source == "auto" else None
                if pbf is None:
                    raise
                path, kind = pbf, "pbf"
        else:
            found = find_osm_file(root) if source == "pbf" else None
            if found is None:
                raise DataNotFoundError(f"no {source} file in data directory {root}: pass path=")
            path, kind = found, source
    if kind == "geofabrik":
        from geo.sources.geofabrik import load_geofabrik

        osm = load_geofabrik(path, bbox=bbox, layers=layers)
        extent = _geofabrik_extent(path, osm)
    elif kind == "pbf":
        from geo.sources.osmfile import load_pbf, pbf_header

        extent = pbf_header(path)["bbox"]  # type: ignore[assignment]
        _check_overlap(area, extent, osm_source=str(path))
        osm = load_pbf(path, bbox=bbox, layers=layers)
    elif kind == "xml":
        from geo.sources.osmfile import load_xml

        osm = load_xml(path, bbox=bbox, layers=layers)
        extent = None
        if area is not None and not any(len(g) for g in osm.layers.values()):
            raise EmptyResultError(f"area {area.name} does not intersect the OSM XML file {path} "
                                   "(no features inside its bounding box): choose another area "
                                   "or file")
    else:
        raise GeoError(f"source {kind!r} is not one of {', '.join(SOURCES)}")
    _check_overlap(area, extent, osm_source=str(path))
    return osm


def _geofabrik_extent(folder: Path, osm: OsmData) -> tuple[float, float, float, float] | None:
    """Union of the full extents of the layers present (from the shapefile headers)."""
    import pyogrio
    import pyogrio.errors

    from geo.sources.geofabrik import available_layers, layer_path

    boxes = []
    for layer in available_layers(folder):
        try:
            info = pyogrio.read_info(layer_path(folder, layer))
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
            log.debug("extent of %s unknown: %s", layer, exc)  # matters only when it is read
            continue
        if info.get("features") and info.get("total_bounds") is not None:
            boxes.append(tuple(info["total_bounds"]))
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
            max(b[3] for b in boxes))


def _check_overlap(area: Area | None, extent: tuple[float, float, float, float] | None, *,
                   osm_source: str) -> None:
    if area is None or extent is None:
        return
    if not area.geometry.intersects(shapely.box(*extent)):
        b = tuple(round(v, 4) for v in area.geometry.bounds)
        e = tuple(round(v, 4) for v in extent)
        raise EmptyResultError(f"area {area.name} (bounds {b}) does not intersect the data in "
                               f"{osm_source} (extent {e}): use an area inside the data or "
                               "other data (data_dir=)")
