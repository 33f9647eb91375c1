"""Folium maps of one claim: district, facilities, demand cells coloured by cost, blind spots.

:func:`claim_map` builds the map; :func:`map_html` renders it to one self-contained HTML
document (Leaflet & co. inlined from ``geo/assets/node_modules``, see :mod:`geo.map_assets`);
:func:`save_map` writes that document atomically. ``cdn=True`` keeps folium's CDN links instead.

Layers (each toggleable in the layer control): ``District boundary``, ``Service areas``,
``Covered cells`` and ``Blind spots`` (cells split by the covered column, filled by cost to the
nearest facility; or one ``Demand cells`` layer when there is no covered column) and
``Facilities``. A colour legend gives the cost in minutes or metres; a scale bar and the
attribution "© OpenStreetMap contributors" are always shown, also with ``tiles="none"``.

Background tiles and datums: OSM, CartoDB and Tianditu tiles are WGS84-aligned; Amap/Gaode and
Tencent tiles are drawn in GCJ-02, so the (WGS84, from OSM) data is converted to GCJ-02 with
:func:`geo.coords.convert_gdf` before drawing (otherwise it would sit ~500 m off in Beijing).
Baidu tiles use BD-09 in Baidu's own tile grid, which Leaflet's Web Mercator cannot show: refused.

Every string that comes from data (names, ids, townships, the title) is HTML-escaped before it
reaches the page: folium's tooltips and popups insert property values as HTML.
"""

from __future__ import annotations

import contextvars
import html
import itertools
import logging
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from geo import settings
from geo.errors import CRSError, DataError, EmptyResultError
from geo.memo import Memo, geometry_key

if TYPE_CHECKING:
    import folium
    import geopandas as gpd

log = logging.getLogger(__name__)

#: Attribution shown on every map (the vector data is OSM whatever the background).
OSM_ATTRIBUTION = ('&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> '
                   'contributors')
#: Default geometry simplification for display (m): well under a 250 m cell, invisible at
#: district zoom, and it keeps a ~16k-cell map to a few MB.
SIMPLIFY_M = 5.0
#: Decimal places kept in coordinates (1e-6 degree is about 0.1 m).
COORD_DECIMALS = 6
#: Above this many drawn features the map renders on a canvas (SVG slows down a browser).
CANVAS_ABOVE = 3000
#: Environment variable read for the Tianditu key when ``tiles_key`` is not given.
TIANDITU_KEY_ENV = "GEO_TIANDITU_KEY"

#: Cost colours, low (good) to high (bad): a colour-blind-safe sequential ramp (viridis-like,
#: reversed so that near = light yellow-green and far = dark purple).
COST_COLORS = ("#fde725", "#5ec962", "#21918c", "#3b528b", "#440154")
UNREACHABLE_COLOR = "#9e9e9e"
COVERED_COLOR = "#1a9850"
BLIND_COLOR = "#d73027"
#: Facility colours by kind (sorted kinds in turn); no red or green, which mark coverage.
KIND_COLORS = ("#1f78b4", "#6a3d9a", "#ff7f00", "#b15928", "#e7298a", "#000000", "#666666")

_UNITS = {"min": ("min", 1.0, "minutes"), "s": ("min", 1 / 60, "minutes"),
          "m": ("m", 1.0, "metres"), "km": ("m", 1000.0, "metres"),
          "rank": ("", 1.0, "rank")}


@dataclass(frozen=True)
class TileChoice:
    """A background-tile option: the xyzservices provider, its datum and extra Leaflet options."""

    name: str
    datum: str
    label: str
    provider: Any = None
    options: dict[str, Any] | None = None
    needs_key: bool = False


def _providers() -> dict[str, TileChoice]:
    import xyzservices
    import xyzservices.providers as xp

    tencent = xyzservices.TileProvider(
        name="Tencent.Normal",
        url="https://rt{s}.map.gtimg.com/tile?z={z}&x={x}&y={y}&type=vector&styleid=0",
        attribution="(C) Tencent",
        html_attribution='&copy; <a href="https://map.qq.com/">Tencent</a>',
        subdomains="0123", max_zoom=18)
    tianditu = xyzservices.TileProvider(
        name="Tianditu.Normal",
        url=("https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
             "&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}"
             "&TILECOL={x}&tk={apikey}"),
        attribution="(C) Tianditu",
        html_attribution='&copy; <a href="https://www.tianditu.gov.cn/">天地图 Tianditu</a>',
        subdomains="01234567", max_zoom=18, apikey="<insert your Tianditu key here>")
    carto = xp.CartoDB.Positron.copy()
    # the OSM part is added once for the whole map (OSM_ATTRIBUTION)
    carto["html_attribution"] = '&copy; <a href="https://carto.com/attributions">CARTO</a>'
    osm = xp.OpenStreetMap.Mapnik.copy()
    osm["html_attribution"] = OSM_ATTRIBUTION
    gaode = TileChoice("gaode", "gcj02", "Amap/Gaode", xp.Gaode.Normal)
    return {
        "osm": TileChoice("osm", "wgs84", "OpenStreetMap", osm),
        "cartodb": TileChoice("cartodb", "wgs84", "CartoDB Positron", carto),
        "none": TileChoice("none", "wgs84", "no background"),
        "gaode": gaode,
        "amap": gaode,
        "gaode-satellite": TileChoice("gaode-satellite", "gcj02", "Amap/Gaode satellite",
                                      xp.Gaode.Satellite),
        # Tencent numbers tile rows from the bottom (TMS)
        "tencent": TileChoice("tencent", "gcj02", "Tencent", tencent, {"tms": True}),
        "tianditu": TileChoice("tianditu", "wgs84", "Tianditu", tianditu, needs_key=True),
    }


#: Accepted values of ``tiles`` (and the CLI's tiles option).
TILE_NAMES = ("osm", "cartodb", "none", "gaode", "amap", "gaode-satellite", "tencent",
              "tianditu", "baidu")


def tile_choice(tiles: str, *, tiles_key: str | None = None) -> TileChoice:
    """Resolve a ``tiles`` name to its provider and datum; refuse what cannot be drawn right.

    Raises :class:`~geo.errors.DataError` for unknown names, for Baidu (BD-09 in Baidu's own tile
    grid, not Web Mercator) and for Tianditu without a key (``tiles_key`` or
    ``$GEO_TIANDITU_KEY``).
    """
    key = str(tiles).strip().lower()
    if key == "baidu":
        raise DataError("tiles='baidu' is not supported: Baidu tiles use BD-09 coordinates on "
                        "Baidu's own tile grid, which Leaflet's Web Mercator cannot align (data "
                        "would be off by ~1 km in Beijing); use tiles='gaode' or 'tencent' "
                        "(GCJ-02, data converted), 'tianditu' or 'osm' (WGS84)")
    choices = _providers()
    if key not in choices:
        raise DataError(f"tiles={tiles!r} is not a known tile provider: expected one of "
                        f"{', '.join(TILE_NAMES)}")
    choice = choices[key]
    if choice.needs_key:
        tk = tiles_key or os.environ.get(TIANDITU_KEY_ENV, "").strip()
        if not tk:
            raise DataError(f"tiles={tiles!r} needs an API key: pass tiles_key=... or set "
                            f"{TIANDITU_KEY_ENV}; get a free key at "
                            f"https://console.tianditu.gov.cn/ or use tiles='osm'")
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,200}", tk):
            # the key goes into the page's tile URL (and through folium's templates)
            raise DataError("tiles_key=...: expected letters, digits, '-' or '_' (a Tianditu "
                            "key is 32 hexadecimal characters); check the key you pasted")
        provider = choice.provider.copy()
        provider["apikey"] = tk
        choice = TileChoice(choice.name, choice.datum, choice.label, provider, choice.options)
    return choice


# --------------------------------------------------------------------------- geometry prep

def _as_gdf(obj: Any, what: str) -> gpd.GeoDataFrame:
    """A GeoDataFrame in EPSG:4326 from a frame, series, shapely geometry or an ``Area``."""
    import geopandas as gpd
    from shapely.geometry.base import BaseGeometry

    if isinstance(obj, gpd.GeoDataFrame):
        gdf = obj
    elif isinstance(obj, gpd.GeoSeries):
        gdf = gpd.GeoDataFrame(geometry=obj)
    elif isinstance(obj, BaseGeometry):
        gdf = gpd.GeoDataFrame(geometry=[obj], crs=settings.geographic_crs)
    elif isinstance(getattr(obj, "geometry", None), BaseGeometry):  # geo.areas.Area
        gdf = gpd.GeoDataFrame(geometry=[obj.geometry], crs=settings.geographic_crs)
    else:
        raise DataError(f"{what}: expected a GeoDataFrame, GeoSeries, shapely geometry or Area, "
                        f"got {type(obj).__name__}")
    if gdf.crs is None:
        raise CRSError(f"{what}: frame has no CRS; expected EPSG:4326 (set it with "
                       f".set_crs('EPSG:4326'))")
    if gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(settings.geographic_crs)
    return gdf[~(gdf.geometry.isna() | gdf.geometry.is_empty)]


#: Per-process memos: a district's claim maps redraw the same demand cells (issue 12).
_LIGHT = Memo(8)
_SHAPES = Memo(4)
_EDGES = Memo(4)


def _light(gdf: gpd.GeoDataFrame, *, simplify_m: float, datum: str) -> gpd.GeoDataFrame:
    """Simplify (in metres, non-points only), convert to the tile datum, round coordinates
    (the geometry work is remembered per shapes, simplification and datum)."""
    out = gdf.copy()
    if len(out):
        series = out.geometry
        geoms = _LIGHT.get(geometry_key(series.values, simplify_m, datum),
                           lambda: _light_geoms(series, simplify_m=simplify_m, datum=datum))
        out[out.geometry.name] = geoms
    return out


def _light_geoms(series: gpd.GeoSeries, *, simplify_m: float, datum: str) -> Any:
    import geopandas as gpd
    import numpy as np
    import shapely

    out = gpd.GeoDataFrame(geometry=series.reset_index(drop=True), crs=series.crs)
    if simplify_m > 0:
        not_point = ~out.geometry.geom_type.isin(["Point", "MultiPoint"])
        if not_point.any():
            metric = out.loc[not_point].geometry.to_crs(settings.metric_crs)
            simple = metric.simplify(simplify_m, preserve_topology=True)
            out.loc[not_point, out.geometry.name] = simple.to_crs(settings.geographic_crs)
    if datum != "wgs84":
        from geo.coords import convert_gdf

        out = convert_gdf(out, src="wgs84", dst=datum)
    geoms = shapely.transform(np.asarray(out.geometry.values, dtype=object),
                              lambda xy: np.round(xy, COORD_DECIMALS))
    geoms.flags.writeable = False
    return geoms


#: Vertices closer than this (metres) are one vertex when cells are matched edge to edge.
OUTLINE_SNAP_M = 0.01


@dataclass(frozen=True)
class _Edges:
    """Every cell's boundary cut into segments (metric CRS), each distinct segment once."""

    cell: Any      # cell position of each segment occurrence
    edge: Any      # distinct-segment number of each occurrence
    xy: Any        # (n_distinct, 2, 2) segment end points, metres


def _cell_edges(cells: gpd.GeoDataFrame) -> _Edges:
    """The segments of the cells' rings, neighbours' shared sides matched by their end points
    (snapped to :data:`OUTLINE_SNAP_M`); remembered per shapes."""
    import numpy as np
    import shapely

    def compute() -> _Edges:
        metric = np.asarray(cells.geometry.to_crs(settings.metric_crs).values, dtype=object)
        parts, part_cell = shapely.get_parts(metric, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        xy, ring = shapely.get_coordinates(rings, return_index=True)
        same = ring[:-1] == ring[1:]                      # consecutive points of one ring
        start = np.flatnonzero(same)
        ends = np.stack([xy[start], xy[start + 1]], axis=1)          # (n, 2, 2)
        key = np.round(ends / OUTLINE_SNAP_M).astype(np.int64)
        # one orientation per segment: the lexicographically smaller end point first
        swap = (key[:, 0, 0] > key[:, 1, 0]) | ((key[:, 0, 0] == key[:, 1, 0])
                                                  & (key[:, 0, 1] > key[:, 1, 1]))
        key[swap] = key[swap][:, ::-1]
        ends[swap] = ends[swap][:, ::-1]
        real = (key[:, 0] != key[:, 1]).any(axis=1)       # drop zero-length segments
        key, ends, start = key[real], ends[real], start[real]
        _, first, edge = np.unique(key.reshape(len(key), 4), axis=0, return_index=True,
                                   return_inverse=True)
        cell = part_cell[ring_part[ring[start]]]
        return _Edges(cell=cell, edge=edge.ravel(), xy=ends[first])

    return _EDGES.get(geometry_key(cells.geometry.values), compute)


def cells_outline(cells: gpd.GeoDataFrame, mask: Any, *, simplify_m: float,
                  datum: str) -> gpd.GeoDataFrame:
    """The outline of ``cells[mask]`` as one (multi)line, prepared for display: the sides of
    the selected cells that no other selected cell shares (the boundary of their union, for
    cells that meet side to side like a grid's; a side shared only in part is drawn)."""
    import geopandas as gpd
    import numpy as np
    import shapely

    edges = _cell_edges(cells)
    mask = np.asarray(mask, dtype=bool)
    counts = np.bincount(edges.edge[mask[edges.cell]], minlength=len(edges.xy))
    lines = shapely.linestrings(edges.xy[counts == 1])
    outline = shapely.line_merge(shapely.multilinestrings(lines)) if len(lines) else \
        shapely.MultiLineString()
    merged = gpd.GeoDataFrame(geometry=[outline], crs=settings.metric_crs).to_crs(
        settings.geographic_crs)
    return _light(merged, simplify_m=simplify_m, datum=datum)


def html_text(text: str) -> str:
    """``text`` made safe as HTML text inside a folium map: HTML-escaped, and its braces as
    character references. Folium (branca) feeds every rendered script back through Jinja as a
    template, so a name such as ``{{ 7*7 }}`` (any OSM contributor can write one) would be
    evaluated as template code; ``&#123;`` shows as ``{`` in the browser and is inert to
    Jinja."""
    return html.escape(text, quote=True).replace("{", "&#123;").replace("}", "&#125;")


def _text(value: Any, *, empty: str = "") -> str:
    """HTML-escaped text of a data value (None/NaN -> ``empty``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return empty
    try:
        import pandas as pd

        if pd.isna(value):
            return empty
    except (TypeError, ValueError):
        pass
    return html_text(str(value))


def _features(gdf: gpd.GeoDataFrame, props: Sequence[dict[str, Any]] | None = None) -> dict:
    """A GeoJSON FeatureCollection with integer ids 0..n-1 and the given properties."""
    from shapely.geometry import mapping

    props = [{}] * len(gdf) if props is None else props
    feats = [{"type": "Feature", "id": i, "properties": p, "geometry": mapping(geom)}
             for i, (geom, p) in enumerate(zip(gdf.geometry.values, props, strict=True))]
    return {"type": "FeatureCollection", "features": feats}


# --------------------------------------------------------------------------- the map

def nice_edges(vmax: float, classes: int) -> list[float]:
    """Class edges 0, step, 2*step, ... covering ``vmax`` with a round step (1, 2, 2.5 or 5
    times a power of ten) and at most ``classes`` classes."""
    if not math.isfinite(vmax) or vmax <= 0:
        vmax = 1.0
    classes = max(1, int(classes))
    raw = vmax / classes
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(k * power for k in (1, 2, 2.5, 5, 10) if k * power >= raw * (1 - 1e-12))
    n = max(1, math.ceil(vmax / step - 1e-9))
    return [round(i * step, 10) for i in range(n + 1)]


def _attribution(m: folium.Map) -> None:
    """Add the OSM attribution to the map's attribution control (shown with any tiles)."""
    import folium
    from branca.element import MacroElement
    from jinja2 import Template

    class _Attribution(MacroElement):
        _template = Template("""
            {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
            {% endmacro %}
        """)

        def __init__(self, text: str) -> None:
            super().__init__()
            self._name = "Attribution"
            self.text = text

    assert isinstance(m, folium.Map)
    m.add_child(_Attribution(OSM_ATTRIBUTION))


def _title_box(title: str, lines: Sequence[str]) -> str:
    rows = "".join(f"<div style='font-size:12px'>{line}</div>" for line in lines)
    return ("<div id='geo-map-title' style='position:fixed;top:10px;left:60px;z-index:1000;"
            "background:rgba(255,255,255,0.92);padding:6px 10px;border-radius:4px;"
            "box-shadow:0 1px 4px rgba(0,0,0,0.3);font-family:sans-serif;max-width:60%'>"
            f"<div style='font-weight:bold;font-size:14px'>{html_text(title)}</div>"
            f"{rows}</div>")


def _swatch(color: str, label: str, *, outline: bool = False) -> str:
    style = (f"border:2px solid {color};background:transparent" if outline
             else f"background:{color}")
    return (f"<span style='display:inline-block;width:12px;height:12px;vertical-align:middle;"
            f"{style};margin-right:4px'></span>{label}")


@dataclass(frozen=True)
class MapOptions:
    """How a map is drawn, whatever it shows.

    tiles : background, one of :data:`TILE_NAMES` (see :func:`tile_choice`).
    tiles_key : API key for providers that need one (Tianditu).
    simplify_m : display simplification tolerance for polygons, metres (0 keeps them exact).
    """

    tiles: str = "osm"
    tiles_key: str | None = None
    simplify_m: float = SIMPLIFY_M


@dataclass(frozen=True)
class CellStyle:
    """What the demand cells show.

    cost_column : column of the cells with the cost to the nearest facility (NaN/inf =
        unreachable); ``None`` draws the cells in one colour.
    cost_unit : unit of ``cost_column``: "min" or "s" (legend in minutes), "m" or "km"
        (legend in metres), "rank" (whole numbers).
    covered_column : boolean column splitting the cells into "Covered cells" and "Blind spots".
    threshold : the claim's threshold in the legend's unit (minutes or metres).
    cost_label : what the cell colour shows, for the legend (default: cost to the nearest
        facility).
    cost_max : upper end of the colour scale in the legend's unit (default: the largest cost).
    cost_classes : number of colour classes in the legend.
    fill_column : column holding each cell's fill colour (hex) for categorical maps; it
        replaces the cost colours (give the legend with ``legend_html``).
    legend_html : extra legend lines for the title box, as trusted HTML built by this module
        (swatches; never data names).
    """

    cost_column: str | None = None
    cost_unit: str = "min"
    covered_column: str | None = None
    threshold: float | None = None
    cost_label: str | None = None
    cost_max: float | None = None
    cost_classes: int = 8
    fill_column: str | None = None
    legend_html: tuple[str, ...] = ()


_STYLE_FIELDS = frozenset(CellStyle.__dataclass_fields__)
_OPTION_FIELDS = frozenset(MapOptions.__dataclass_fields__)


def claim_map(
    area_geometry: Any,
    facilities: gpd.GeoDataFrame | None = None,
    *,
    title: str,
    cells: gpd.GeoDataFrame | None = None,
    service_areas: gpd.GeoDataFrame | None = None,
    subtitle: Sequence[str] = (),
    style: CellStyle | None = None,
    options: MapOptions | None = None,
    **fields: Any,
) -> folium.Map:
    """Build the Folium map of one claim.

    Parameters
    ----------
    area_geometry
        The district (shapely geometry in EPSG:4326, GeoDataFrame/GeoSeries, or a
        ``geo.areas.Area``); drawn as the boundary, and the map is fitted to it.
    facilities
        Columns ``facility_id, kind, name, osm_id, geometry`` (EPSG:4326; points drawn as
        circles, polygons as outlines). Tooltip: name, kind, OSM id; popup adds the facility id.
    title
        Headline shown on the map (escaped).
    cells
        Demand cells (polygons, EPSG:4326), optional columns ``cell_id``, ``population``,
        ``township`` shown in the tooltip.
    service_areas
        Polygons (EPSG:4326) reached within the threshold; drawn as the "Service areas" layer.
    subtitle
        Extra lines under the title (escaped).
    style, options
        What the cells show (:class:`CellStyle`) and how the map is drawn (:class:`MapOptions`).
    **fields
        Shorthand for single fields of either, e.g. ``cost_column="distance_m", tiles="none"``
        (they override ``style`` / ``options``).

    Returns
    -------
    folium.Map
        Render it with :func:`map_html` or write it with :func:`save_map`.
    """
    import dataclasses

    import folium

    unknown = set(fields) - _STYLE_FIELDS - _OPTION_FIELDS
    if unknown:
        raise TypeError(f"claim_map() got unexpected keyword arguments {sorted(unknown)}; "
                        f"known: {sorted(_STYLE_FIELDS | _OPTION_FIELDS)}")
    style = dataclasses.replace(style or CellStyle(),
                                **{k: v for k, v in fields.items() if k in _STYLE_FIELDS})
    options = dataclasses.replace(options or MapOptions(),
                                  **{k: v for k, v in fields.items() if k in _OPTION_FIELDS})
    choice = tile_choice(options.tiles, tiles_key=options.tiles_key)
    if style.cost_unit not in _UNITS:
        raise DataError(f"cost_unit={style.cost_unit!r}: expected one of {', '.join(_UNITS)}")
    draw = _Draw(datum=choice.datum, simplify_m=options.simplify_m)
    area = draw.light(_as_gdf(area_geometry, "area_geometry"))
    if area.empty:
        raise EmptyResultError("area_geometry is empty: nothing to draw the map around")
    m = _base_map(area, choice, n_features=0 if cells is None else len(cells))
    lines = [html_text(line) for line in subtitle] + list(style.legend_html)
    if choice.datum != "wgs84":
        lines.append(f"Data converted WGS84 &rarr; {choice.datum.upper()} to match "
                     f"{choice.label} tiles")
    if service_areas is not None and len(service_areas):
        lines.append(_add_service_areas(m, service_areas, draw))
    if cells is not None and len(cells):
        lines += _add_cells(m, cells, style, draw)
    if facilities is not None and len(facilities):
        lines.append(_add_facilities(m, facilities, draw))
    m.get_root().html.add_child(  # type: ignore[attr-defined]  # folium's Figure has .html
        folium.Element(_title_box(title, lines)))
    folium.LayerControl(collapsed=False).add_to(m)
    return m


@dataclass(frozen=True)
class _Draw:
    """Display preparation shared by the layers: the tiles' datum and the simplification."""

    datum: str
    simplify_m: float

    def light(self, gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        return _light(gdf, simplify_m=self.simplify_m, datum=self.datum)

    def outline(self, gdf: gpd.GeoDataFrame, mask: Any) -> gpd.GeoDataFrame:
        return cells_outline(gdf, mask, simplify_m=self.simplify_m, datum=self.datum)


def _base_map(area: gpd.GeoDataFrame, choice: TileChoice, *, n_features: int) -> folium.Map:
    """The map fitted to the area: tiles, attribution, scale bar, the district boundary."""
    import folium

    x0, y0, x1, y1 = area.total_bounds
    m = folium.Map(location=[(y0 + y1) / 2, (x0 + x1) / 2], zoom_start=11, tiles=None,
                   control_scale=True, prefer_canvas=n_features > CANVAS_ABOVE)
    if choice.provider is not None:
        folium.TileLayer(choice.provider, name=f"{choice.label} tiles", overlay=False,
                         control=True, **(choice.options or {})).add_to(m)
    _attribution(m)
    m.fit_bounds([[float(y0), float(x0)], [float(y1), float(x1)]])
    folium.GeoJson(
        _features(area), name="District boundary",
        style_function=lambda f: {"color": "#222222", "weight": 2.5, "fill": False},
        interactive=False,
    ).add_to(m)
    return m


def _add_service_areas(m: folium.Map, service_areas: gpd.GeoDataFrame, draw: _Draw) -> str:
    """The "Service areas" layer; returns its legend line."""
    import folium

    sa = draw.light(_as_gdf(service_areas, "service_areas"))
    cols = [c for c in ("facility_id", "name", "kind", "threshold") if c in sa.columns]
    sa_props = [{c: _text(sa[c].iloc[i]) for c in cols} for i in range(len(sa))]
    gj = folium.GeoJson(
        _features(sa, sa_props), name=f"Service areas ({len(sa)})",
        style_function=lambda f: {"color": "#2c7fb8", "weight": 1, "fillColor": "#2c7fb8",
                                  "fillOpacity": 0.12},
    )
    if cols:
        folium.GeoJsonTooltip(fields=cols, aliases=[html_text(c) for c in cols]).add_to(gj)
    gj.add_to(m)
    return _swatch("#2c7fb8", "service area", outline=True)


@dataclass(frozen=True)
class _CellColours:
    """Per-cell cost in the shown unit, its tooltip text, and each cell's colour as an index
    into ``palette`` (``None`` when there is no cost column: one fill per layer)."""

    cost: Any
    text: list[str] | None
    palette: list[str] | None = None
    index: Any = None


def cost_classes(cost: Any, edges: Sequence[float]) -> Any:
    """Colour class of each cost (0 .. len(edges) - 2) as branca's StepColormap picks it
    (at or below the first edge: 0; at or above the last: the last class); -1 = not finite."""
    import numpy as np

    cost = np.asarray(cost, dtype=float)
    n = len(edges) - 1
    finite = np.isfinite(cost)
    cls = np.searchsorted(np.asarray(edges, dtype=float), np.where(finite, cost, 0.0),
                          side="right") - 1
    return np.where(finite, np.clip(cls, 0, n - 1), -1)


def _cell_colours(m: folium.Map, cg: gpd.GeoDataFrame, style: CellStyle) -> _CellColours:
    """Colour classes of the cost column (legend added to ``m``), or one fill colour."""
    import branca.colormap as bcm
    import numpy as np

    shown_unit, factor, unit_word = _UNITS[style.cost_unit]
    if style.cost_column is None:
        return _CellColours(np.full(len(cg), np.nan), None)
    cost = cg[style.cost_column].astype(float).to_numpy() * factor   # to the shown unit
    finite = np.isfinite(cost)
    vmax = float(style.cost_max) if style.cost_max is not None else (
        float(cost[finite].max()) if finite.any() else 1.0)
    if vmax <= 0.0:
        vmax = 1.0
    edges = nice_edges(vmax, style.cost_classes)
    vmax = edges[-1]
    ramp = bcm.LinearColormap(list(COST_COLORS), vmin=0.0, vmax=vmax)
    mids = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    class_colours = [ramp.rgb_hex_str(v) for v in mids]
    cmap = bcm.StepColormap(class_colours, index=edges, vmin=0.0, vmax=vmax)
    unreachable = "; grey = unreachable" if not finite.all() else ""
    default = {"m": "Distance to the nearest facility",
               "min": "Travel time to the nearest facility"}.get(shown_unit,
                                                                 "Cost to the nearest facility")
    cmap.caption = (f"{style.cost_label or default} ({unit_word}), "
                    f"lower is better{unreachable}")
    cmap.add_to(m)
    # class k -> palette[k]; unreachable (-1) -> the last entry
    index = cost_classes(cost, edges)
    palette = [*class_colours, UNREACHABLE_COLOR]
    text = [f"{v:.1f} {shown_unit}".strip() if math.isfinite(v) else "unreachable"
            for v in cost.tolist()]
    return _CellColours(cost, text, palette, np.where(index < 0, len(palette) - 1, index))


def _texts(values: Any) -> list[str]:
    """:func:`_text` of every value of a column (missing -> "")."""
    import pandas as pd

    series = pd.Series(values)
    missing = series.isna().to_numpy()
    return ["" if miss else html_text(str(v))
            for v, miss in zip(series.tolist(), missing.tolist(), strict=True)]


def _cell_columns(sub: gpd.GeoDataFrame, texts: list[str] | None) -> dict[str, list[str]]:
    """Tooltip columns of the cells (HTML-escaped text): id, cost, population (whole people),
    township; only those the cells have."""
    cols: dict[str, list[str]] = {}
    if "cell_id" in sub.columns:
        cols["cell"] = _texts(sub["cell_id"])
    if texts is not None:
        cols["cost"] = list(texts)
    if "population" in sub.columns:
        cols["pop"] = [f"{v:,.0f}" if math.isfinite(v) else ""
                       for v in sub["population"].astype(float).tolist()]
    if "township" in sub.columns:
        cols["township"] = _texts(sub["township"])
    return cols


_CELL_LABELS = {"cell": "cell", "cost": "cost to nearest", "pop": "population",
                "township": "township"}


#: Cell shapes are sent as whole numbers of this unit of a degree (1e-6 degree, the rounding
#: of display coordinates, see COORD_DECIMALS).
SHAPE_UNIT = 10 ** COORD_DECIMALS


def _cell_shapes_json(cg: gpd.GeoDataFrame) -> str:
    """Every display cell's shape as compact JSON (remembered per shapes: each claim map of a
    district draws the same cells): per cell a list of polygons, per polygon a list of rings,
    per ring the flat whole-number coordinates in :data:`SHAPE_UNIT`, the first point absolute
    and each next one as the step from the one before (a third of GeoJSON's size; the page
    turns it back into GeoJSON with ``geoShape``, Python with :func:`decode_shape`)."""
    import numpy as np
    import shapely

    def shapes() -> str:
        geoms = np.asarray(cg.geometry.values, dtype=object)
        polys, poly_cell = shapely.get_parts(geoms, return_index=True)
        kinds = shapely.get_type_id(polys)
        if (kinds != 3).any():          # 3 = Polygon
            raise DataError("cells: every cell must be a Polygon or MultiPolygon")
        rings, ring_poly = shapely.get_rings(polys, return_index=True)
        xy, ring_of = shapely.get_coordinates(rings, return_index=True)
        q = np.round(xy * SHAPE_UNIT).astype(np.int64)
        step = np.diff(q, axis=0, prepend=np.zeros((1, 2), np.int64))
        first = np.r_[True, ring_of[1:] != ring_of[:-1]]
        step[first] = q[first]
        flat = step.ravel().tolist()
        bounds = np.r_[0, np.cumsum(np.bincount(ring_of, minlength=len(rings)))] * 2
        ring_text = ["[" + ",".join(map(str, flat[bounds[r]:bounds[r + 1]])) + "]"
                     for r in range(len(rings))]
        poly_rings: list[list[str]] = [[] for _ in range(len(polys))]
        for r, pi in enumerate(ring_poly.tolist()):
            poly_rings[pi].append(ring_text[r])
        cell_polys: list[list[str]] = [[] for _ in range(len(geoms))]
        for pi, ci in enumerate(poly_cell.tolist()):
            cell_polys[ci].append("[" + ",".join(poly_rings[pi]) + "]")
        return "[" + ",".join("[" + ",".join(c) + "]" for c in cell_polys) + "]"

    return _SHAPES.get(geometry_key(cg.geometry.values), shapes)


def decode_shape(cell: list[list[list[int]]]) -> dict[str, Any]:
    """GeoJSON geometry of one cell as the map's data holds it (see :func:`_cell_shapes_json`);
    the Python twin of the page's ``geoShape``."""
    polys = []
    for poly in cell:
        rings = []
        for ring in poly:
            x = y = 0
            pts = []
            for i in range(0, len(ring), 2):
                x, y = x + ring[i], y + ring[i + 1]
                pts.append([x / SHAPE_UNIT, y / SHAPE_UNIT])
            rings.append(pts)
        polys.append(rings)
    if len(polys) == 1:
        return {"type": "Polygon", "coordinates": polys[0]}
    return {"type": "MultiPolygon", "coordinates": polys}


def script_json(value: Any) -> str:
    """Compact JSON text safe inside an inline <script>, as Jinja's ``tojson`` writes it
    (``<``, ``>``, ``&`` and ``'`` escaped)."""
    import json

    from jinja2.utils import htmlsafe_json_dumps

    return str(htmlsafe_json_dumps(value, dumps=json.dumps, **_COMPACT_JSON))


#: The page's one function drawing a cell layer from the map's cell data (see CellData):
#: features are made in the browser from one shared geometry array, styled from a palette
#: index and given a tooltip table of the (already HTML-escaped) columns.
CELL_LAYER_JS = """
function geoShape(cell) {
  var polys = cell.map(function (poly) {
    return poly.map(function (ring) {
      var pts = [], x = 0, y = 0;
      for (var i = 0; i < ring.length; i += 2) {
        x += ring[i]; y += ring[i + 1];
        pts.push([x / UNIT, y / UNIT]);
      }
      return pts;
    });
  });
  return polys.length === 1 ? {type: 'Polygon', coordinates: polys[0]}
                            : {type: 'MultiPolygon', coordinates: polys};
}
function geoCellLayer(d, idx) {
  var feats = idx.map(function (j) {
    var p = {};
    d.fields.forEach(function (k) { p[k] = d.columns[k][j]; });
    return {type: 'Feature', id: j, properties: p, geometry: geoShape(d.shapes[j])};
  });
  var layer = L.geoJson({type: 'FeatureCollection', features: feats}, {
    style: function (f) {
      var c = d.palette[d.fill[f.id]];
      return {fillColor: c, color: c, fillOpacity: 0.6, weight: 0.5};
    }
  });
  if (d.fields.length) {
    layer.bindTooltip(function (l) {
      var rows = d.fields.map(function (k, i) {
        return '<tr><th>' + d.labels[i] + '</th><td>' + l.feature.properties[k] + '</td></tr>';
      });
      return '<table>' + rows.join('') + '</table>';
    }, {sticky: true, className: 'foliumtooltip'});
  }
  return layer;
}
""".replace("UNIT", str(SHAPE_UNIT))

CELL_TOOLTIP_CSS = """
.foliumtooltip table { margin: auto; }
.foliumtooltip tr { text-align: left; }
.foliumtooltip th { padding: 2px; padding-right: 8px; }
"""


def _cell_elements() -> tuple[Any, Any]:
    """The folium elements of the cell layers (built on first use: folium is imported late)."""
    global _CELL_ELEMENTS
    if _CELL_ELEMENTS is not None:
        return _CELL_ELEMENTS
    from branca.element import Element, Figure, MacroElement
    from jinja2 import Template

    from geo.map_assets import safe_script

    class CellData(MacroElement):
        """The cells of one map as one JavaScript object: ``shapes`` (GeoJSON geometries),
        ``palette`` and per-cell ``fill`` (palette index), tooltip ``fields`` / ``labels`` and
        ``columns`` (escaped text per cell). The JSON is put into the page by :func:`map_html`
        after rendering (``slot``), so folium's templates never parse megabytes of data."""

        _template = Template("""
            {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = {{ this.js_value() }};
            {% endmacro %}
        """)

        def __init__(self, payload: str) -> None:
            super().__init__()
            self._name = "cell_data"
            self.payload = payload
            self.slot = f"/*geo-data:{self._id}*/null"

        def js_value(self) -> str:
            """The data as the page's script reads it: the slot :func:`map_html` fills after
            rendering, or, when folium renders the map itself (a notebook's inline display,
            ``Map.save``), the JSON as base64 decoded in the browser (base64 has no braces
            for the templates that re-read the script to take for their own)."""
            if _DEFER_DATA.get():
                return self.slot
            import base64

            b64 = base64.b64encode(self.payload.encode("utf-8")).decode("ascii")
            return ("JSON.parse(new TextDecoder().decode(Uint8Array.from(atob("
                    f"'{b64}'), function (c) {{ return c.charCodeAt(0); }})))")

        def render(self, **kwargs: Any) -> Any:
            figure = self.get_root()
            assert isinstance(figure, Figure)
            figure.header.add_child(
                Element(f"<script>{safe_script(CELL_LAYER_JS)}</script>"
                        f"<style>{CELL_TOOLTIP_CSS}</style>"), name="geo_cell_layer_js")
            return super().render(**kwargs)

    class CellLayer(MacroElement):
        """The cells ``idx`` (positions in the map's CellData) drawn into the parent group."""

        _template = Template("""
            {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = geoCellLayer({{ this.data.get_name() }},
                {{ this.idx|tojson }}).addTo({{ this._parent.get_name() }});
            {% endmacro %}
        """)

        def __init__(self, data: Any, idx: list[int]) -> None:
            super().__init__()
            self._name = "cell_layer"
            self.data = data
            self.idx = idx

    _CELL_ELEMENTS = (CellData, CellLayer)
    return _CELL_ELEMENTS


_CELL_ELEMENTS: tuple[Any, Any] | None = None
#: True while :func:`map_html` renders: cell data goes into slots filled after rendering.
_DEFER_DATA: contextvars.ContextVar[bool] = contextvars.ContextVar("geo_defer_cell_data",
                                                                  default=False)


def _cell_data(m: folium.Map, cg: gpd.GeoDataFrame, colours: _CellColours,
               fills: Sequence[str] | None) -> Any:
    """The map's CellData: every display cell's shape, fill and tooltip text. ``fills`` (a
    colour per cell) replaces the cost colours."""
    import numpy as np

    CellData, _ = _cell_elements()
    if fills is not None:
        palette_arr, index = np.unique(np.asarray(fills, dtype=object).astype(str),
                                       return_inverse=True)
        palette = palette_arr.tolist()
    else:
        palette, index = colours.palette, colours.index
    columns = _cell_columns(cg, colours.text)
    fields = list(columns)
    head = script_json({"palette": [_text(c) for c in palette],
                        "fill": np.asarray(index).astype(int).tolist(), "fields": fields,
                        "labels": [_CELL_LABELS[f] for f in fields], "columns": columns})
    data = CellData(head[:-1] + ',"shapes":' + _cell_shapes_json(cg) + "}")
    m.add_child(data)
    return data


def _cell_layer(m: folium.Map, data: Any, cg: gpd.GeoDataFrame, mask: Any, name: str,
                outline: str | None, draw: _Draw) -> None:
    """One toggleable layer of the cells selected by ``mask`` (outlined when ``outline``)."""
    import folium
    import numpy as np

    _, CellLayer = _cell_elements()
    group = folium.FeatureGroup(name=name)
    group.add_child(CellLayer(data, np.flatnonzero(mask).tolist()))
    if outline is not None:
        # the outline of the group as a whole: readable at district zoom where per-cell
        # outlines would cover the cost colours
        folium.GeoJson(_features(draw.outline(cg, mask)), interactive=False,
                       style_function=lambda f: {"color": outline, "weight": 2,
                                                 "fill": False}).add_to(group)
    group.add_to(m)


def cell_layers(m: folium.Map) -> dict[str, dict[str, Any]]:
    """The cell layers of a map built by :func:`claim_map`, by layer name: ``features`` (GeoJSON
    features with their tooltip properties, as the browser builds them) and ``fill`` (each
    feature's fill colour). For tests and notebooks that inspect a map without a browser."""
    import json

    import folium

    _, CellLayer = _cell_elements()
    out: dict[str, dict[str, Any]] = {}
    for child in m._children.values():
        if not isinstance(child, folium.FeatureGroup):
            continue
        for inner in child._children.values():
            if isinstance(inner, CellLayer):
                d = json.loads(inner.data.payload)
                feats, fill = [], []
                for j in inner.idx:
                    props = {k: d["columns"][k][j] for k in d["fields"]}
                    feats.append({"type": "Feature", "id": j, "properties": props,
                                  "geometry": decode_shape(d["shapes"][j])})
                    fill.append(d["palette"][d["fill"][j]])
                out[child.layer_name] = {"type": "FeatureCollection", "features": feats,
                                         "fill": fill}
    return out


def _add_cells(m: folium.Map, cells: gpd.GeoDataFrame, style: CellStyle,
               draw: _Draw) -> list[str]:
    """The demand-cell layers (one, or covered / blind spots); returns legend lines."""
    import numpy as np

    source = _as_gdf(cells, "cells")
    cg = draw.light(source)
    for col in (style.cost_column, style.covered_column, style.fill_column):
        if col is not None and col not in cg.columns:
            raise DataError(f"cells: no column {col!r}; columns are "
                            f"{', '.join(map(str, cg.columns))}")
    colours = _cell_colours(m, cg, style)
    shown_unit = _UNITS[style.cost_unit][0]
    fills = None if style.fill_column is None else [str(f) for f in cg[style.fill_column]]
    if style.covered_column is None:
        if fills is None and colours.palette is None:
            fills = ["#756bb1"] * len(cg)
        data = _cell_data(m, cg, colours, fills)
        _cell_layer(m, data, source, np.ones(len(cg), bool), f"Demand cells ({len(cg)})",
                    None, draw)
        return ([] if style.threshold is None else
                [f"threshold {style.threshold:g} {shown_unit}".strip()])
    covered = cg[style.covered_column].fillna(False).astype(bool).to_numpy()
    thr = ("" if style.threshold is None else
           f" (within {style.threshold:g} {shown_unit})".replace(" )", ")"))
    if fills is None and colours.palette is None:   # no cost: each group in its outline colour
        fills = np.where(covered, COVERED_COLOR, BLIND_COLOR).tolist()
    data = _cell_data(m, cg, colours, fills)
    n_cov = int(covered.sum())
    if n_cov:
        _cell_layer(m, data, source, covered, f"Covered cells{thr} ({n_cov})",
                    COVERED_COLOR, draw)
    n_blind = int((~covered).sum())
    if n_blind:
        _cell_layer(m, data, source, ~covered, f"Blind spots ({n_blind})", BLIND_COLOR, draw)
    return [_swatch(COVERED_COLOR, f"covered{html_text(thr)}", outline=True)
            + " &nbsp; " + _swatch(BLIND_COLOR, "blind spot", outline=True)]


def _add_facilities(m: folium.Map, facilities: gpd.GeoDataFrame, draw: _Draw) -> str:
    """The "Facilities" layer, coloured by kind; returns its legend line."""
    import folium

    fac = _as_gdf(facilities, "facilities")
    missing = [c for c in ("facility_id", "kind", "name", "osm_id") if c not in fac.columns]
    if missing:
        raise DataError(f"facilities: missing columns {', '.join(missing)}; expected "
                        f"facility_id, kind, name, osm_id, geometry")
    fac = draw.light(fac)
    kinds = sorted({str(k) for k in fac["kind"]})
    kind_colour = {k: KIND_COLORS[i % len(KIND_COLORS)] for i, k in enumerate(kinds)}
    fac_kinds = [str(k) for k in fac["kind"]]
    fac_props = [{"name": _text(n, empty="(unnamed)"), "kind": _text(k),
                  "osm_id": _text(o), "facility_id": _text(f)}
                 for n, k, o, f in zip(fac["name"], fac["kind"], fac["osm_id"],
                                       fac["facility_id"], strict=True)]
    gj = folium.GeoJson(
        _features(fac, fac_props), name=f"Facilities ({len(fac)})",
        marker=folium.CircleMarker(radius=6, fill=True, fill_opacity=0.9, weight=1.5),
        style_function=lambda f: {"color": "#ffffff", "weight": 1.5,
                                  "fillColor": kind_colour[fac_kinds[f["id"]]],
                                  "fillOpacity": 0.9},
    )
    folium.GeoJsonTooltip(fields=["name", "kind", "osm_id"],
                          aliases=["name", "kind", "OSM id"]).add_to(gj)
    folium.GeoJsonPopup(fields=["name", "kind", "osm_id", "facility_id"],
                        aliases=["name", "kind", "OSM id", "facility"]).add_to(gj)
    gj.add_to(m)
    return " &nbsp; ".join(_swatch(kind_colour[k], html_text(k)) for k in kinds)


#: JSON options used while rendering: compact separators and UTF-8 text instead of \uXXXX escapes
#: (about 10 % smaller for a 16k-cell map). Jinja's ``tojson`` still escapes < > & ' so the
#: JSON cannot close the <script> element.
_COMPACT_JSON = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False}


#: Colours of the proposed sites by rank (colour-blind-safe, no red or green: those mark blind
#: spots and covered cells); ranks beyond the list reuse it in turn.
#: Nor the blue and purple of the facility markers (KIND_COLORS[0:2]).
SITE_COLORS = ("#e69f00", "#cc79a7", "#17becf", "#bcbd22", "#8c564b", "#f0e442", "#fdbf6f",
               "#7f7f7f", "#a6cee3")
COVERED_BEFORE_COLOR = "#d9d9d9"


def site_color(rank: int) -> str:
    """Colour of the proposed site of ``rank`` (1 = best) and of the cells it newly covers."""
    return SITE_COLORS[(int(rank) - 1) % len(SITE_COLORS)]


def sites_map(area_geometry: Any, cells: gpd.GeoDataFrame, result: Any, *, title: str,
              options: MapOptions | None = None,
              existing: gpd.GeoDataFrame | None = None) -> folium.Map:
    """Map of proposed sites (a :class:`geo.siting.SitingResult`) over the demand cells.

    Cells are drawn by category, with a categorical legend: covered before (grey), newly
    covered by proposed site k (site k's colour, also the colour of its marker), and blind spots
    still uncovered (red). ``existing`` facilities (columns as for :func:`claim_map`'s
    ``facilities``) are drawn as markers beside the proposed sites.
    """
    import pandas as pd

    from geo.format import fmt_share

    cells = cells.copy()
    status = result.demand_status
    cells["covered"] = status["covered_after"].to_numpy()
    ranks = status["new_site_rank"].fillna(0).astype(int).to_numpy()
    before = status["covered_before"].fillna(False).astype(bool).to_numpy()
    cells["fill"] = [site_color(k) if k > 0 else (COVERED_BEFORE_COLOR if b else BLIND_COLOR)
                     for k, b in zip(ranks, before, strict=True)]
    sites = result.sites.copy()
    sites["kind"] = "proposed site"
    sites["name"] = [f"proposed site {r}" for r in sites["rank"]]
    sites["facility_id"] = sites["site_id"].astype(str)
    sites["osm_id"] = ""
    cols = ["facility_id", "kind", "name", "osm_id", "geometry"]
    points = sites[cols]
    if existing is not None and len(existing):
        old = existing.to_crs(sites.crs)[cols].copy()
        old["kind"] = [f"existing {k}".replace("_", " ") for k in old["kind"].astype(str)]
        points = pd.concat([old, points], ignore_index=True)
    legend = (_swatch(COVERED_BEFORE_COLOR, "covered before")
              + " &nbsp; " + _swatch(BLIND_COLOR, "blind spot (still uncovered)"),
              "newly covered by proposed site: " + " &nbsp; ".join(
                  _swatch(site_color(r), str(int(r))) for r in sorted(sites["rank"])))
    subtitle = [(f"{len(result.sites)} proposed sites: covered {fmt_share(result.share_before)} "
                 f"-> {fmt_share(result.share_after)}")]
    style = CellStyle(covered_column="covered", fill_column="fill", legend_html=legend)
    return claim_map(area_geometry, points, title=title, subtitle=subtitle, cells=cells,
                     style=style, options=options)


def map_html(m: folium.Map, *, cdn: bool = False) -> str:
    """Render ``m`` to one HTML document; assets inlined unless ``cdn`` (see geo.map_assets).

    Folium's random element ids are renumbered in order of appearance, so the same map gives
    the same page. Embedded GeoJSON is written compactly: the ``tojson`` options of folium's
    Jinja environment are switched for the duration of this call and restored afterwards. The
    cell data (the bulk of a page) is put in after rendering and the page work (see
    :class:`CellData`).
    """
    import folium

    from geo.map_assets import finish_page

    env = folium.GeoJson._template.environment
    saved = env.policies["json.dumps_kwargs"]
    env.policies["json.dumps_kwargs"] = dict(_COMPACT_JSON)
    token = _DEFER_DATA.set(True)
    try:
        page = m.get_root().render()
    finally:
        _DEFER_DATA.reset(token)
        env.policies["json.dumps_kwargs"] = saved
    page = stable_ids(finish_page(page, cdn=cdn))
    CellData, _ = _cell_elements()
    for el in _descendants(m):
        if isinstance(el, CellData):
            page = page.replace(el.slot, el.payload, 1)
    return page


def _descendants(el: Any) -> list[Any]:
    out = []
    for child in el._children.values():
        out.append(child)
        out.extend(_descendants(child))
    return out


_FOLIUM_ID = re.compile(r"(?<=_)[0-9a-f]{32}(?![0-9a-f])")


def stable_ids(page: str) -> str:
    """Renumber Folium's random 32-hex element ids in order of first appearance (deterministic)."""
    seen: dict[str, str] = {}

    def _sub(match: re.Match[str]) -> str:
        return seen.setdefault(match.group(0), f"{len(seen):032x}")

    return _FOLIUM_ID.sub(_sub, page)


def save_map(m: folium.Map, path: str | os.PathLike[str], *, cdn: bool = False) -> Path:
    """Write ``m`` as a self-contained HTML file atomically (temp file + rename); return the path.

    With ``cdn=True`` the page loads Leaflet & co. from folium's CDNs (smaller, needs internet).
    """
    from geo.io import write_text

    out = write_text(path, map_html(m, cdn=cdn))
    log.info("wrote map %s (%.1f kB)", out, out.stat().st_size / 1000)
    return out
