"""OSM PBF (pyrosm) and OSM XML (osmnx) files, mapped to Geofabrik's canonical layers.

Both readers pull the tagged features that the toolkit uses and classify them with
:data:`LAYER_RULES` into the Geofabrik layers and classes (``fclass``) that
:mod:`geo.sources.geofabrik` returns, so facilities code never knows which source it got:

========================  ======================================  ==========================
layer                     OSM tags                                fclass
========================  ======================================  ==========================
transport / transport_a   railway=station / halt / tram_stop,     railway_station,
                          highway=bus_stop, amenity=bus_station   railway_halt, tram_stop, ...
railways (lines)          railway=rail / subway / light_rail /    the railway value
                          tram / monorail / narrow_gauge / ...
pois / pois_a             leisure=park, amenity=fire_station /    the tag value
                          school / kindergarten / hospital /
                          clinic / ..., shop=convenience / ...
places / places_a         place=city / town / village / ...       the place value
roads (only if asked)     highway=motorway ... footway            the highway value
========================  ======================================  ==========================

Points go to the point layer, (multi)polygons to the ``_a`` layer, lines to ``railways`` /
``roads``. ``osm_id`` is the element id as a string (Geofabrik's convention).
"""

from __future__ import annotations

import logging
import re
import struct
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import pandas as pd

from geo.errors import DataError, DataNotFoundError
from geo.sources.base import CANONICAL_COLUMNS, OsmData

log = logging.getLogger(__name__)

RAILWAY_LINES = ["rail", "subway", "light_rail", "tram", "monorail", "narrow_gauge",
                 "funicular", "miniature"]
ROAD_CLASSES = ["motorway", "trunk", "primary", "secondary", "tertiary", "unclassified",
                "residential", "living_street", "service", "motorway_link", "trunk_link",
                "primary_link", "secondary_link", "tertiary_link", "pedestrian", "track",
                "footway", "path", "cycleway", "steps", "bridleway", "road"]
PLACE_CLASSES = ["city", "town", "village", "hamlet", "suburb", "locality", "neighbourhood",
                 "quarter", "isolated_dwelling", "farm", "island", "county", "region"]

#: (base layer, [(OSM key, [values])]) in priority order. Each feature enters each base layer
#: at most once (first matching rule); "point" layers get an ``_a`` twin for polygons.
LAYER_RULES: dict[str, list[tuple[str, list[str]]]] = {
    "transport": [
        ("railway", ["station", "halt", "tram_stop"]),
        ("highway", ["bus_stop"]),
        ("amenity", ["bus_station", "taxi", "ferry_terminal"]),
        ("aeroway", ["aerodrome", "helipad"]),
    ],
    "pois": [
        ("amenity", ["fire_station", "school", "kindergarten", "hospital", "clinic", "doctors",
                     "pharmacy", "police", "library", "university", "college",
                     "community_centre", "marketplace", "townhall", "post_office"]),
        ("leisure", ["park", "playground", "sports_centre", "stadium", "pitch"]),
        ("shop", ["convenience", "supermarket", "mall", "department_store"]),
    ],
    "places": [("place", PLACE_CLASSES)],
}
#: Remapped values (OSM value -> Geofabrik fclass) per layer.
FCLASS_RENAME = {"transport": {"station": "railway_station", "halt": "railway_halt",
                               "aerodrome": "airport"}}
LINE_RULES: dict[str, tuple[str, list[str]]] = {
    "railways": ("railway", RAILWAY_LINES),
    "roads": ("highway", ROAD_CLASSES),
}
#: Layers the file readers can produce.
FILE_LAYERS = ["transport", "transport_a", "railways", "pois", "pois_a", "places", "places_a",
               "roads"]
DEFAULT_LAYERS = ["transport", "transport_a", "railways", "pois", "pois_a", "places", "places_a"]
EXTRA_COLUMNS = {"railways": ["bridge", "tunnel", "layer"], "places": ["population"],
                 "places_a": ["population"], "roads": ["oneway", "maxspeed", "ref"],
                 "transport": ["station"], "transport_a": ["station"]}


def tag_filter(layers: Iterable[str]) -> dict[str, bool | str | list[str]]:
    """OSM key -> values to fetch for the requested layers."""
    wanted: dict[str, set[str]] = {}
    bases = {layer.removesuffix("_a") for layer in layers}
    for base, rules in LAYER_RULES.items():
        if base in bases:
            for key, values in rules:
                wanted.setdefault(key, set()).update(values)
    for layer, (key, values) in LINE_RULES.items():
        if layer in bases:
            wanted.setdefault(key, set()).update(values)
    out: dict[str, bool | str | list[str]] = {k: sorted(v) for k, v in wanted.items()}
    return out


def classify_features(features: gpd.GeoDataFrame, *, layers: Iterable[str] | None = None
                      ) -> dict[str, gpd.GeoDataFrame]:
    """Split tagged OSM features into canonical Geofabrik layers.

    Parameters
    ----------
    features : GeoDataFrame
        One row per OSM element, tag keys as columns, an ``osm_id`` column, EPSG:4326.
    layers : iterable of str, optional
        Layers to produce (default :data:`DEFAULT_LAYERS`).

    Returns
    -------
    dict of str to GeoDataFrame
        Every requested layer (possibly empty) with ``osm_id, fclass, name, geometry`` + extras.
    """
    wanted = list(layers if layers is not None else DEFAULT_LAYERS)
    gtype = features.geometry.geom_type if len(features) else pd.Series([], dtype=object)
    is_point = gtype.isin(["Point", "MultiPoint"]).to_numpy()
    is_poly = gtype.isin(["Polygon", "MultiPolygon"]).to_numpy()
    is_line = gtype.isin(["LineString", "MultiLineString"]).to_numpy()
    out: dict[str, gpd.GeoDataFrame] = {}
    for layer in wanted:
        base = layer.removesuffix("_a")
        fclass = pd.Series([None] * len(features), index=features.index, dtype=object)
        if base in LAYER_RULES:
            geom_ok = is_poly if layer.endswith("_a") else is_point
            for key, values in LAYER_RULES[base]:
                if key not in features.columns:
                    continue
                vals = features[key].astype(object)
                hit = fclass.isna() & vals.isin(values) & geom_ok
                fclass[hit] = vals[hit]
            rename = FCLASS_RENAME.get(base, {})
            fclass = fclass.map(lambda v, r=rename: r.get(v, v))
        elif layer in LINE_RULES:
            key, values = LINE_RULES[layer]
            if key in features.columns:
                vals = features[key].astype(object)
                hit = vals.isin(values) & is_line
                fclass[hit] = vals[hit]
        else:
            log.debug("layer %s is not produced from OSM files", layer)
            continue
        sel = fclass.notna().to_numpy()
        frame = gpd.GeoDataFrame({
            "osm_id": features["osm_id"].astype(str).to_numpy()[sel],
            "fclass": fclass.to_numpy()[sel],
            "name": (features["name"].astype(object).to_numpy()[sel]
                     if "name" in features.columns else [None] * int(sel.sum())),
        }, geometry=features.geometry.to_numpy()[sel], crs="EPSG:4326")
        for col in EXTRA_COLUMNS.get(layer, []):
            if col in features.columns:
                frame.insert(len(frame.columns) - 1, col,
                             features[col].astype(object).to_numpy()[sel])
        if layer == "roads":
            frame = _geofabrik_road_attributes(frame, features.loc[sel])
        out[layer] = frame.reset_index(drop=True)
    return out


def _yes(value: object) -> bool:
    return isinstance(value, str) and value.strip().lower() in ("yes", "true", "1")


def _geofabrik_road_attributes(frame: gpd.GeoDataFrame, feats: pd.DataFrame) -> gpd.GeoDataFrame:
    """Road attributes as Geofabrik writes them: ``oneway`` F (forward) / T (backward) / B
    (both, from ``oneway=*`` and ``junction=roundabout``), ``maxspeed`` int km/h (0 unknown),
    ``layer`` int, ``bridge`` / ``tunnel`` "T" / "F", ``ref``."""
    def col(name: str) -> list[object]:
        return list(feats[name].astype(object)) if name in feats.columns else [None] * len(feats)

    oneway = []
    for ow, junction in zip(col("oneway"), col("junction")):
        word = ow.strip().lower() if isinstance(ow, str) else ""
        oneway.append("T" if word == "-1" else "F" if word in ("yes", "true", "1") or
                      junction in ("roundabout", "circular") else "B")
    maxspeed = []
    for v in col("maxspeed"):
        m = re.match(r"\s*(\d+)", v) if isinstance(v, str) else None
        maxspeed.append(int(m.group(1)) if m else 0)
    layer = []
    for v in col("layer"):
        try:
            layer.append(int(str(v)))
        except ValueError:
            layer.append(0)
    frame = frame.drop(columns=[c for c in ("oneway", "maxspeed", "ref") if c in frame.columns])
    frame.insert(3, "ref", [v if isinstance(v, str) else None for v in col("ref")])
    frame.insert(4, "oneway", oneway)
    frame.insert(5, "maxspeed", maxspeed)
    frame.insert(6, "layer", layer)
    frame.insert(7, "bridge", ["T" if _yes(v) or v == "viaduct" else "F" for v in col("bridge")])
    frame.insert(8, "tunnel", ["T" if _yes(v) else "F" for v in col("tunnel")])
    return frame


def empty_layers(layers: Iterable[str]) -> dict[str, gpd.GeoDataFrame]:
    """An empty WGS84 frame with the canonical columns for each layer name."""
    return {layer: gpd.GeoDataFrame({c: [] for c in CANONICAL_COLUMNS[:-1]}, geometry=[],
                                    crs="EPSG:4326") for layer in layers}


# --- PBF --------------------------------------------------------------------------------------

def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterable[tuple[int, int | bytes]]:
    """Minimal protobuf decoder: yields (field number, int or bytes)."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = _varint(buf, pos)
            yield num, val
        elif wire == 2:
            n, pos = _varint(buf, pos)
            yield num, buf[pos:pos + n]
            pos += n
        elif wire == 1:
            yield num, buf[pos:pos + 8]
            pos += 8
        elif wire == 5:
            yield num, buf[pos:pos + 4]
            pos += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")


def _zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def pbf_header(path: str | Path) -> dict[str, object]:
    """Read an OSM PBF file's header: ``replication_timestamp`` (ISO str or None), ``bbox``
    ((minx, miny, maxx, maxy) degrees or None), ``writingprogram``.

    Raises
    ------
    DataError
        The file is not an OSM PBF file.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            (hlen,) = struct.unpack(">I", fh.read(4))
            if not 0 < hlen < 64 * 1024:
                raise ValueError("bad BlobHeader length")
            header = dict(_fields(fh.read(hlen)))
            if header.get(1) != b"OSMHeader":
                raise ValueError("first block is not OSMHeader")
            blob = dict(_fields(fh.read(int(header[3]))))
        data = zlib.decompress(blob[3]) if 3 in blob else blob[1]  # type: ignore[arg-type]
        out: dict[str, object] = {"replication_timestamp": None, "bbox": None,
                                  "writingprogram": None}
        for num, val in _fields(data):  # type: ignore[arg-type]
            if num == 32 and isinstance(val, int) and val > 0:
                out["replication_timestamp"] = datetime.fromtimestamp(val, UTC).strftime(
                    "%Y-%m-%dT%H:%M:%SZ")
            elif num == 16 and isinstance(val, bytes):
                out["writingprogram"] = val.decode("utf-8", "replace")
            elif num == 1 and isinstance(val, bytes):
                box = {k: _zigzag(v) / 1e9 for k, v in _fields(val) if isinstance(v, int)}
                if len(box) == 4:
                    out["bbox"] = (box[1], box[4], box[2], box[3])  # left bottom right top
        return out
    except (OSError, ValueError, KeyError, struct.error, zlib.error, IndexError) as exc:
        raise DataError(f"file {path} is not a readable OSM PBF file ({exc}): expected a "
                        "*.osm.pbf extract, e.g. from download.geofabrik.de") from exc


def load_pbf(path: str | Path, *, bbox: tuple[float, float, float, float] | None = None,
             layers: Iterable[str] | None = None) -> OsmData:
    """Read an OSM PBF file with pyrosm into canonical layers.

    Parameters
    ----------
    path : path
        ``*.osm.pbf`` file.
    bbox : tuple, optional
        (minx, miny, maxx, maxy) degrees to limit the read.
    layers : iterable of str, optional
        Layers to produce (default :data:`DEFAULT_LAYERS`; ``roads`` only when asked).
    """
    import pyrosm

    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"OSM PBF file {path} does not exist")
    header = pbf_header(path)
    wanted = list(dict.fromkeys(layers if layers is not None else DEFAULT_LAYERS))
    try:
        osm = pyrosm.OSM(str(path), bounding_box=list(bbox) if bbox is not None else None)
        feats = osm.get_data_by_custom_criteria(custom_filter=tag_filter(wanted),
                                                keep_relations=True)
    except Exception as exc:
        raise DataError(f"OSM PBF file {path} cannot be read by pyrosm ({exc})") from exc
    if feats is None or len(feats) == 0:
        log.warning("no matching features in %s (bbox %s)", path, bbox)
        produced = empty_layers(w for w in wanted if w in FILE_LAYERS)
    else:
        feats = feats.copy()
        feats["osm_id"] = feats["id"].astype("int64").astype(str)
        if feats.crs is None:
            feats = feats.set_crs("EPSG:4326")
        produced = classify_features(feats, layers=[w for w in wanted if w in FILE_LAYERS])
    missing = sorted(w for w in wanted if w not in produced)
    return OsmData(layers=produced, layers_missing=missing,
                   osm_data_date=header["replication_timestamp"],  # type: ignore[arg-type]
                   source=f"OSM PBF {path.name} (pyrosm)", path=path)


# --- XML --------------------------------------------------------------------------------------

_XML_DATE_RES = [re.compile(r'osm_base="([^"]+)"'), re.compile(r'<osm[^>]*timestamp="([^"]+)"')]


def xml_data_date(path: str | Path) -> str | None:
    """OSM data date of an XML file (Overpass ``<meta osm_base=...>`` or ``<osm timestamp=...>``
    in the first 4 kB), else ``None``."""
    with open(path, "rb") as fh:
        head = fh.read(4096).decode("utf-8", "replace")
    for rx in _XML_DATE_RES:
        m = rx.search(head)
        if m:
            return m.group(1)
    return None


def load_xml(path: str | Path, *, bbox: tuple[float, float, float, float] | None = None,
             layers: Iterable[str] | None = None) -> OsmData:
    """Read an OSM XML file with ``osmnx.features_from_xml`` into canonical layers.

    Parameters
    ----------
    path : path
        ``*.osm`` / ``*.osm.xml`` file.
    bbox : tuple, optional
        (minx, miny, maxx, maxy) degrees; features not intersecting it are dropped.
    layers : iterable of str, optional
        Layers to produce (default :data:`DEFAULT_LAYERS`; ``roads`` only when asked).
    """
    import osmnx as ox
    import shapely

    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"OSM XML file {path} does not exist")
    wanted = list(dict.fromkeys(layers if layers is not None else DEFAULT_LAYERS))
    try:
        feats = ox.features_from_xml(path, tags=tag_filter(wanted))
    except ox._errors.InsufficientResponseError:
        feats = gpd.GeoDataFrame(geometry=[], crs="EPSG:4326")
    except Exception as exc:
        raise DataError(f"OSM XML file {path} cannot be read ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''})") from exc
    feats = feats.reset_index()
    if len(feats):
        feats["osm_id"] = feats["id"].astype(str)
        if bbox is not None:
            feats = feats[feats.intersects(shapely.box(*bbox))]
        produced = classify_features(feats, layers=[w for w in wanted if w in FILE_LAYERS])
    else:
        log.warning("no matching features in %s", path)
        produced = empty_layers(w for w in wanted if w in FILE_LAYERS)
    missing = sorted(w for w in wanted if w not in produced)
    return OsmData(layers=produced, layers_missing=missing, osm_data_date=xml_data_date(path),
                   source=f"OSM XML {path.name} (osmnx)", path=path)
