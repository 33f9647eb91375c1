"""Geofabrik "free shapefile" folders (``gis_osm_<layer>_free_1.shp``), any region.

A folder may hold any subset of the layers: layers that are asked for but absent are listed in
:attr:`OsmData.layers_missing`, never an error. A layer file that exists but cannot be read
(corrupt, truncated, zero bytes) is a :class:`~geo.errors.DataError`.

Reads are limited to the bounding box of the area (plus a margin) through pyogrio's ``bbox``
filter, and cached in-process per (file, bbox, modification time).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd

from geo.errors import DataError, DataNotFoundError
from geo.sources.base import CANONICAL_COLUMNS, OsmData

log = logging.getLogger(__name__)

#: Layers of Geofabrik's free shapefile product (plus ``adminareas_a``, which newer extracts
#: carry). See https://download.geofabrik.de/osm-data-in-gis-formats-free.pdf
GEOFABRIK_LAYERS = [
    "adminareas_a", "buildings_a", "landuse_a", "natural", "natural_a", "places", "places_a",
    "pofw", "pofw_a", "pois", "pois_a", "railways", "roads", "traffic", "traffic_a",
    "transport", "transport_a", "water_a", "waterways",
]

#: Layers the facilities and demand modules read (the default of :func:`load_geofabrik`).
DEFAULT_LAYERS = ["transport", "transport_a", "railways", "pois", "pois_a", "places", "places_a"]

_FILE_RE = re.compile(r"^gis_osm_(?P<layer>[a-z_]+?)_free_1\.shp$")
_DATE_RE = re.compile(r"(\d{4}-\d{2}-\d{2})")
_README_DATE_RE = re.compile(r"as of (\d{4}-\d{2}-\d{2}T[\d:]+Z?)")


def layer_path(folder: Path, layer: str) -> Path:
    """Path of the shapefile of ``layer`` in a Geofabrik folder (it may not exist)."""
    return Path(folder) / f"gis_osm_{layer}_free_1.shp"


def available_layers(folder: str | Path) -> list[str]:
    """Sorted names of the layers present in a Geofabrik folder."""
    out = []
    for p in Path(folder).glob("gis_osm_*_free_1.shp"):
        m = _FILE_RE.match(p.name)
        if m:
            out.append(m.group("layer"))
    return sorted(out)


def is_geofabrik_folder(folder: str | Path) -> bool:
    """True when ``folder`` holds at least one ``gis_osm_*_free_1.shp`` file."""
    folder = Path(folder)
    return folder.is_dir() and any(folder.glob("gis_osm_*_free_1.shp"))


def find_geofabrik_folder(data_dir: str | Path) -> Path:
    """The Geofabrik folder inside a data directory (the directory itself or a subfolder).

    Searched two levels deep. When several are found, the one with a ``roads`` layer wins,
    then the newest OSM date, then the name.

    Raises
    ------
    DataNotFoundError
        No folder with ``gis_osm_*_free_1.shp`` files exists under ``data_dir``.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataNotFoundError(f"data directory {data_dir} does not exist: pass data_dir=DIR "
                                "or set GEO_DATA_DIR")
    def usable(p: Path) -> bool:  # not a half-unpacked staging folder of 'geo data fetch'
        return p.is_dir() and not p.name.startswith(".") and not p.name.endswith(".tmp")

    candidates = [data_dir] + sorted(p for p in data_dir.glob("*") if usable(p)) + sorted(
        p for p in data_dir.glob("*/*") if usable(p) and usable(p.parent))
    found = [p for p in candidates if is_geofabrik_folder(p)]
    if not found:
        raise DataNotFoundError(
            f"no Geofabrik shapefile folder (gis_osm_*_free_1.shp) under data directory {data_dir}: "
            "download one with fetch_geofabrik(area='tongzhou') or pass data_dir=")

    def rank(p: Path) -> tuple[bool, str, str]:
        return ("roads" in available_layers(p), osm_data_date(p) or "", p.name)

    best = max(found, key=rank)
    if len(found) > 1:
        log.info("several Geofabrik folders under %s; using %s", data_dir, best)
    return best


def osm_data_date(folder: str | Path) -> str | None:
    """OSM data date of a Geofabrik folder (ISO): from ``README.geofabrik`` ("as of ..."), else a
    ``YYYY-MM-DD`` in the folder name, else ``None``."""
    folder = Path(folder)
    readme = folder / "README.geofabrik"
    if readme.is_file():
        m = _README_DATE_RE.search(readme.read_text(encoding="utf-8", errors="replace"))
        if m:
            return m.group(1)
    m = _DATE_RE.search(folder.name)
    return m.group(1) if m else None


def check_shapefile(path: str | Path) -> int:
    """Check a shapefile's three parts against each other before reading; return its record
    count.

    A truncated or mismatched layer would otherwise lose features without a word (GDAL reads
    what is there). Checked: ``.shp`` size against the length its header declares, ``.shx``
    present and its record count (header length) equal to the ``.dbf`` header's record count.
    Raises DataError naming the file, the problem and the fix.
    """
    import struct

    shp = Path(path)
    fix = "re-download or unzip the Geofabrik extract again ('geo data fetch')"
    shx, dbf = shp.with_suffix(".shx"), shp.with_suffix(".dbf")
    for part in (shx, dbf):
        if not part.is_file():
            raise DataError(f"shapefile {shp} has no {part.suffix} file beside it (the layer is "
                            f"incomplete): {fix}")
    size = shp.stat().st_size
    with open(shp, "rb") as fh:
        head = fh.read(100)
    if len(head) < 100 or struct.unpack(">i", head[:4])[0] != 9994:
        raise DataError(f"shapefile {shp} has no valid header (not a shapefile, or truncated): "
                        f"{fix}")
    declared = struct.unpack(">i", head[24:28])[0] * 2
    if size < declared:
        raise DataError(f"shapefile {shp} is truncated ({size:,} of {declared:,} bytes): {fix}")
    with open(shx, "rb") as fh:
        shx_head = fh.read(100)
    if len(shx_head) < 100:
        raise DataError(f"shapefile index {shx} is truncated: {fix}")
    shx_len = struct.unpack(">i", shx_head[24:28])[0] * 2
    if shx.stat().st_size < shx_len:
        raise DataError(f"shapefile index {shx} is truncated ({shx.stat().st_size:,} of "
                        f"{shx_len:,} bytes): {fix}")
    n_shx = (shx_len - 100) // 8
    with open(dbf, "rb") as fh:
        dbf_head = fh.read(32)
    if len(dbf_head) < 32:
        raise DataError(f"attribute table {dbf} is truncated: {fix}")
    n_dbf = struct.unpack("<I", dbf_head[4:8])[0]
    header_len, record_len = struct.unpack("<HH", dbf_head[8:12])
    if dbf.stat().st_size < header_len + n_dbf * record_len:
        raise DataError(f"attribute table {dbf} is truncated ({dbf.stat().st_size:,} bytes for "
                        f"{n_dbf:,} records of {record_len} bytes): {fix}")
    if n_shx != n_dbf:
        raise DataError(f"shapefile {shp} has {n_shx:,} shapes but its attribute table has "
                        f"{n_dbf:,} records (the files do not belong together): {fix}")
    return n_dbf


@functools.lru_cache(maxsize=64)
def _read_cached(path: str, bbox: tuple[float, float, float, float] | None, mtime: float,
                 size: int) -> gpd.GeoDataFrame:
    import pyogrio

    if size == 0:
        raise DataError(f"shapefile {path} is empty (0 bytes): re-download or unzip the Geofabrik "
                        "extract again")
    n_records = check_shapefile(path)
    try:
        gdf = pyogrio.read_dataframe(path, bbox=bbox, use_arrow=False)
    except Exception as exc:  # pyogrio raises DataSourceError / DataLayerError / others
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"shapefile {path} cannot be read ({msg}): re-download or unzip the "
                        "Geofabrik extract again") from exc
    if bbox is None and len(gdf) != n_records:
        raise DataError(f"shapefile {path}: read {len(gdf):,} features of the {n_records:,} its "
                        "attribute table holds: re-download or unzip the Geofabrik extract again")
    return gdf


def read_layer(folder: str | Path, layer: str, *,
               bbox: tuple[float, float, float, float] | None = None) -> gpd.GeoDataFrame:
    """Read one layer as a canonical frame (``osm_id`` str, ``fclass``, ``name``, geometry in
    EPSG:4326, plus the layer's other attributes).

    Parameters
    ----------
    folder : path
        Geofabrik folder.
    layer : str
        Layer name, e.g. ``"pois_a"``.
    bbox : tuple, optional
        (minx, miny, maxx, maxy) in degrees; only features intersecting it are read.

    Raises
    ------
    DataNotFoundError
        The layer's file is absent.
    DataError
        The file is corrupt, empty or lacks the ``osm_id``/``fclass`` columns.
    """
    path = layer_path(Path(folder), layer)
    if not path.is_file():
        raise DataNotFoundError(f"layer {layer!r} not found: {path} does not exist")
    st = path.stat()
    key_bbox = tuple(round(float(v), 7) for v in bbox) if bbox is not None else None
    gdf = _read_cached(str(path), key_bbox, st.st_mtime, st.st_size).copy()
    missing = [c for c in ("osm_id", "fclass") if c not in gdf.columns]
    if missing:
        raise DataError(f"shapefile {path} lacks column(s) {missing}: expected a Geofabrik free "
                        f"shapefile with osm_id, fclass, name; got {list(gdf.columns)}")
    if gdf.crs is None:
        log.warning("%s has no .prj; assuming EPSG:4326 as Geofabrik writes", path)
        gdf = gdf.set_crs("EPSG:4326")
    elif not gdf.crs.equals("EPSG:4326") and gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs("EPSG:4326")
    if "name" not in gdf.columns:
        gdf["name"] = None
    gdf["osm_id"] = gdf["osm_id"].astype(str)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    extras = [c for c in gdf.columns if c not in CANONICAL_COLUMNS]
    return gdf[CANONICAL_COLUMNS[:-1] + extras + ["geometry"]].reset_index(drop=True)


def load_geofabrik(folder: str | Path, *, bbox: tuple[float, float, float, float] | None = None,
                   layers: Iterable[str] | None = None) -> OsmData:
    """Read the requested layers of a Geofabrik folder into an :class:`OsmData`.

    Parameters
    ----------
    folder : path
        Geofabrik folder (``gis_osm_<layer>_free_1.shp`` files).
    bbox : tuple, optional
        (minx, miny, maxx, maxy) in degrees to limit the read; ``None`` reads everything.
    layers : iterable of str, optional
        Layers to read; default :data:`DEFAULT_LAYERS`.

    Returns
    -------
    OsmData
        ``layers_missing`` lists every requested layer and every standard Geofabrik layer
        (:data:`GEOFABRIK_LAYERS`) absent from the folder, so a summary can say that, for
        example, ``roads`` is not available.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataNotFoundError(f"Geofabrik folder {folder} does not exist")
    wanted = list(dict.fromkeys(layers if layers is not None else DEFAULT_LAYERS))
    present = set(available_layers(folder))
    out: dict[str, gpd.GeoDataFrame] = {}
    for layer in wanted:
        if layer in present:
            out[layer] = read_layer(folder, layer, bbox=bbox)
    missing = sorted((set(wanted) | set(GEOFABRIK_LAYERS)) - present)
    if missing:
        log.info("Geofabrik folder %s lacks layers %s", folder, missing)
    return OsmData(layers=out, layers_missing=missing, osm_data_date=osm_data_date(folder),
                   source=f"Geofabrik free shapefiles {folder.name}", path=folder)
