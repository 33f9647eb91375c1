"""geo.maps / geo.map_assets: claim maps on small synthetic frames.

The frames are a 6 x 6 grid of 250 m squares near Tongzhou (UTM 50N), three facilities, the
straight-line distance from each cell centre to the nearest facility as the cost and
``distance <= 500 m`` as covered, so every count asserted here is recomputed from the frames.
"""

from __future__ import annotations

import html
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, box

from geo import coords, map_assets, maps
from geo.errors import CRSError, DataError, DataNotFoundError

XSS_NAME = "<script>alert(1)</script>"
XSS_TOWN = '<img src=x onerror="alert(2)">'


def synthetic(n: int = 6, size_m: float = 250.0, x0: float = 460_000.0, y0: float = 4_415_000.0):
    """(area polygon, facilities, cells, service areas), all EPSG:4326."""
    cells = gpd.GeoDataFrame(
        {"cell_id": [f"c{i:03d}" for i in range(n * n)]},
        geometry=[box(x0 + i * size_m, y0 + j * size_m, x0 + (i + 1) * size_m,
                      y0 + (j + 1) * size_m) for j in range(n) for i in range(n)],
        crs="EPSG:32650")
    pts = [Point(x0 + 125, y0 + 125), Point(x0 + 625, y0 + 875), Point(x0 + 1375, y0 + 375)]
    fac = gpd.GeoDataFrame({"facility_id": ["f1", "f2", "f3"], "kind": ["park", "park", "rail"],
                            "name": [XSS_NAME, "通州公园", None], "osm_id": ["11", "22", "33"]},
                           geometry=pts, crs="EPSG:32650")
    centres = cells.geometry.centroid
    dist = np.min([centres.distance(p).to_numpy() for p in pts], axis=0)
    cells["distance_m"] = dist
    cells.loc[cells.index[-1], "distance_m"] = np.inf  # an unreachable cell
    cells["covered"] = cells["distance_m"] <= 500
    cells["population"] = np.arange(n * n, dtype=float) * 10
    cells["township"] = XSS_TOWN
    sa = gpd.GeoDataFrame({"facility_id": fac["facility_id"]}, geometry=fac.buffer(500),
                          crs="EPSG:32650")
    area = cells.union_all().buffer(20)
    return (gpd.GeoSeries([area], crs="EPSG:32650").to_crs(4326).iloc[0], fac.to_crs(4326),
            cells.to_crs(4326), sa.to_crs(4326))


@pytest.fixture(scope="module")
def frames():
    return synthetic()


def build(frames, **kw):
    area, fac, cells, sa = frames
    args = {"title": "C99 test <b>claim</b>", "cells": cells, "cost_column": "distance_m",
            "cost_unit": "m", "covered_column": "covered", "threshold": 500, "service_areas": sa}
    args.update(kw)
    return maps.claim_map(area, fac, **args)


def decoded(page: str) -> str:
    """The page with JSON \\uXXXX escapes decoded (what the browser's JavaScript sees)."""
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page)


def geojson_layers(m) -> dict[str, dict]:
    """GeoJSON data of the map's layers by layer name: GeoJson layers and the cell layers (as
    maps.cell_layers gives them: the features the browser builds, with their fill colours)."""
    import folium

    out: dict[str, dict] = {}
    for child in m._children.values():
        if isinstance(child, folium.GeoJson):
            out[child.layer_name] = child.data
    out.update(maps.cell_layers(m))
    return out


@pytest.fixture(scope="module")
def page(frames) -> str:
    return maps.map_html(build(frames))


def test_default_output_loads_nothing_from_cdns(page):
    assert map_assets.cdn_urls(page) == []
    assert not re.search(r"<script[^>]+src=", page)
    assert not re.search(r"<link[^>]+href=[\"']?(https?:)?//", page)
    # the libraries are inlined from node_modules, the tile template stays
    assert "/* leaflet/dist/leaflet.js */" in page
    assert "/* leaflet/dist/leaflet.css */" in page
    assert "/* d3/d3.min.js */" in page  # branca's legend
    assert "tile.openstreetmap.org/{z}/{x}/{y}.png" in page
    # unused icon assets are dropped, not linked
    assert "fontawesome" not in page.lower()
    assert "awesome-markers.js" not in page


def test_cdn_mode_keeps_folium_links(frames):
    cdn_page = maps.map_html(build(frames), cdn=True)
    urls = map_assets.cdn_urls(cdn_page)
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in urls
    assert any(u.endswith("bootstrap.min.css") for u in urls)
    assert "/* leaflet/dist/leaflet.js */" not in cdn_page
    assert len(cdn_page) < len(maps.map_html(build(frames))) / 5


def test_layers_legend_scale_and_counts(frames, page):
    _, fac, cells, sa = frames
    n_cov = int(cells["covered"].sum())
    n_blind = len(cells) - n_cov
    assert 0 < n_cov < len(cells)
    text = decoded(page)
    for name in ("District boundary", f"Service areas ({len(sa)})",
                 f"Covered cells (within 500 m) ({n_cov})", f"Blind spots ({n_blind})",
                 f"Facilities ({len(fac)})"):
        assert f'"{name}"' in text, name
    assert "L.control.layers(" in page
    assert "L.control.scale(" in page
    assert "Distance to the nearest facility (metres)" in text
    layers = geojson_layers(build(frames))
    assert len(layers[f"Blind spots ({n_blind})"]["features"]) == n_blind
    blind_costs = [f["properties"]["cost"] for f in layers[f"Blind spots ({n_blind})"]["features"]]
    assert "unreachable" in blind_costs
    # tooltip cost text is the cell's distance, rounded to 0.1 m
    first = cells.loc[cells["covered"]].iloc[0]
    covered_feats = layers[f"Covered cells (within 500 m) ({n_cov})"]["features"]
    assert covered_feats[0]["properties"]["cost"] == f"{first['distance_m']:.1f} m"
    assert covered_feats[0]["properties"]["cell"] == first["cell_id"]


def test_cost_in_seconds_is_shown_in_minutes(frames):
    area, fac, cells, _ = frames
    cells = cells.assign(travel_time_s=cells["distance_m"] / 1.25)  # 1.25 m/s walk
    m = maps.claim_map(area, fac, title="walk", cells=cells, cost_column="travel_time_s",
                       cost_unit="s")
    text = decoded(maps.map_html(m))
    assert "Travel time to the nearest facility (minutes)" in text
    feats = geojson_layers(m)[f"Demand cells ({len(cells)})"]["features"]
    assert feats[0]["properties"]["cost"] == f"{cells['travel_time_s'].iloc[0] / 60:.1f} min"


def test_attribution_always_present_even_without_tiles(frames):
    page = maps.map_html(build(frames, tiles="none"))
    assert "tile.openstreetmap.org" not in page
    assert "L.tileLayer(" not in page
    text = decoded(page)
    assert "addAttribution(" in text
    assert "&copy; <a href=\\\"https://www.openstreetmap.org/copyright\\\">OpenStreetMap</a> " \
           "contributors" in text


def test_data_derived_strings_are_escaped(page):
    text = decoded(page)
    for raw in (XSS_NAME, XSS_TOWN, "<b>claim</b>"):
        assert raw not in page
        assert raw not in text  # not even after JSON decoding, i.e. as the browser sees it
    assert html.escape(XSS_NAME) in text
    assert html.escape(XSS_TOWN) in text
    assert "C99 test &lt;b&gt;claim&lt;/b&gt;" in page
    assert "(unnamed)" in text  # the facility with no name
    assert "通州公园" in page  # Chinese kept as UTF-8 text


def test_gcj02_tiles_convert_drawn_data(frames):
    wgs = geojson_layers(build(frames, tiles="osm"))["Facilities (3)"]["features"]
    for tiles in ("gaode", "tencent"):
        m = build(frames, tiles=tiles)
        gcj = geojson_layers(m)["Facilities (3)"]["features"]
        for a, b in zip(wgs, gcj, strict=True):
            lon0, lat0 = a["geometry"]["coordinates"]
            lon1, lat1 = b["geometry"]["coordinates"]
            shift = coords.haversine_m(lon0, lat0, lon1, lat1)
            assert 200 < shift < 900, shift  # GCJ-02 offset in Beijing: hundreds of metres
            exp_lon, exp_lat = coords.convert(lon0, lat0, src="wgs84", dst="gcj02")
            assert abs(lon1 - exp_lon) < 2e-6 and abs(lat1 - exp_lat) < 2e-6
        text = decoded(maps.map_html(m))
        assert "WGS84 &rarr; GCJ02" in text


def test_tile_choices_and_refusals(monkeypatch):
    assert maps.tile_choice("osm").datum == "wgs84"
    assert maps.tile_choice("Gaode").datum == "gcj02"
    assert maps.tile_choice("tencent").options == {"tms": True}
    monkeypatch.delenv(maps.TIANDITU_KEY_ENV, raising=False)
    with pytest.raises(DataError, match=rf"needs an API key.*{maps.TIANDITU_KEY_ENV}"):
        maps.tile_choice("tianditu")
    choice = maps.tile_choice("tianditu", tiles_key="KEY123")
    assert choice.datum == "wgs84"
    assert "tk=KEY123" in choice.provider.build_url(fill_subdomain=False)
    monkeypatch.setenv(maps.TIANDITU_KEY_ENV, "ENVKEY")
    assert "tk=ENVKEY" in maps.tile_choice("tianditu").provider.build_url(fill_subdomain=False)
    with pytest.raises(DataError, match="BD-09"):
        maps.tile_choice("baidu")
    with pytest.raises(DataError, match="expected one of osm, cartodb, none"):
        maps.tile_choice("googlemaps")


def test_tianditu_map_without_key_is_refused(frames, monkeypatch):
    monkeypatch.delenv(maps.TIANDITU_KEY_ENV, raising=False)
    with pytest.raises(DataError, match="tianditu"):
        build(frames, tiles="tianditu")


def test_coordinates_rounded_and_cells_not_distorted(frames):
    layers = geojson_layers(build(frames))
    for layer in layers.values():
        for feat in layer["features"]:
            flat = np.ravel(np.asarray(
                feat["geometry"]["coordinates"][0] if feat["geometry"]["type"] == "Polygon"
                else feat["geometry"]["coordinates"], dtype=object).tolist())
            for v in np.asarray(flat, dtype=float):
                assert abs(v * 1e6 - round(v * 1e6)) < 1e-3
    # squares keep their 5 ring points; simplification at 5 m does not eat 250 m cells
    cells = [f for name, lyr in layers.items() if name.startswith(("Covered", "Blind"))
             for f in lyr["features"]]
    assert all(len(f["geometry"]["coordinates"][0]) == 5 for f in cells)


def test_input_checks(frames):
    area, fac, cells, _ = frames
    with pytest.raises(CRSError, match="no CRS"):
        maps.claim_map(area, fac.set_crs(None, allow_override=True), title="x")
    with pytest.raises(DataError, match="missing columns osm_id"):
        maps.claim_map(area, fac.drop(columns="osm_id"), title="x")
    with pytest.raises(DataError, match="no column 'cost'"):
        maps.claim_map(area, fac, title="x", cells=cells, cost_column="cost")
    with pytest.raises(DataError, match="cost_unit='h'"):
        maps.claim_map(area, fac, title="x", cells=cells, cost_column="distance_m",
                       cost_unit="h")
    # a metric frame is reprojected, not drawn in the sea
    m = maps.claim_map(area, fac.to_crs(32650), title="x")
    lon, lat = geojson_layers(m)["Facilities (3)"]["features"][0]["geometry"]["coordinates"]
    assert 116 < lon < 117 and 39 < lat < 41


def test_nice_edges():
    assert maps.nice_edges(1984, 8) == [0, 250, 500, 750, 1000, 1250, 1500, 1750, 2000]
    assert maps.nice_edges(40, 8) == [0, 5, 10, 15, 20, 25, 30, 35, 40]
    assert maps.nice_edges(0.7, 5) == [0, 0.2, 0.4, 0.6, 0.8]
    assert maps.nice_edges(0, 5) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]


def test_save_map_is_atomic(frames, tmp_path, monkeypatch):
    target = tmp_path / "maps" / "c99.html"
    out = maps.save_map(build(frames), target)
    assert out == target and target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    before = target.read_bytes()

    def boom(page, **kw):
        raise RuntimeError("render failed")

    monkeypatch.setattr(map_assets, "inline_assets", boom)
    with pytest.raises(RuntimeError):
        maps.save_map(build(frames), target)
    assert target.read_bytes() == before
    assert [p.name for p in target.parent.iterdir()] == ["c99.html"]  # no temp file left


def test_missing_node_modules_says_how_to_install(frames, tmp_path, monkeypatch):
    monkeypatch.setattr(map_assets, "ASSETS_DIR", tmp_path)
    with pytest.raises(DataNotFoundError, match="make install.*npm ci --prefix geo/assets"):
        map_assets.inline_assets(build(frames).get_root().render())


def test_missing_node_modules_falls_back_to_cdn_with_one_warning(frames, tmp_path, monkeypatch,
                                                                caplog):
    monkeypatch.setattr(map_assets, "ASSETS_DIR", tmp_path)
    map_assets.reset_cdn_warning()
    with caplog.at_level("WARNING", logger="geo.map_assets"):
        first = maps.map_html(build(frames))
        second = maps.map_html(build(frames))
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, warnings
    assert "CDN" in warnings[0].getMessage() and "npm ci" in warnings[0].getMessage()
    for page in (first, second):  # a map all the same, linking its libraries
        assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in page
        assert "geo: responsive map controls" in page
    assert maps.map_html(build(frames), cdn=True)  # --cdn still works


def test_icons_are_inlined_with_fonts_and_glyphicons_refused():
    import folium

    m = folium.Map(location=[39.9, 116.6], tiles=None)
    folium.Marker([39.9, 116.6], icon=folium.Icon(icon="train", prefix="fa", angle=30)).add_to(m)
    page = map_assets.inline_assets(m.get_root().render())
    assert map_assets.cdn_urls(page) == []
    assert "/* @fortawesome/fontawesome-free/css/all.min.css */" in page
    assert "url(\"data:font/woff2;base64," in page
    assert ".ttf" not in page  # TrueType fallbacks dropped, woff2 kept
    assert ".fa-rotate-30{transform:rotate(30deg);}" in page
    assert "url(\"data:image/png;base64," in page  # awesome-markers sprite

    g = folium.Map(location=[39.9, 116.6], tiles=None)
    folium.Marker([39.9, 116.6], icon=folium.Icon(icon="info-sign")).add_to(g)
    with pytest.raises(DataError, match="glyphicon"):
        map_assets.inline_assets(g.get_root().render())


def test_unknown_cdn_asset_is_refused_not_linked():
    import folium
    from folium.plugins import Fullscreen

    m = folium.Map(location=[39.9, 116.6], tiles=None)
    Fullscreen().add_to(m)
    with pytest.raises(DataError, match=r"leaflet.fullscreen.*cdn=True"):
        map_assets.inline_assets(m.get_root().render())


def test_inlined_scripts_cannot_close_their_element():
    assert map_assets.safe_script('var s = "</script><b>";') == 'var s = "<\\/script><b>";'
    assert "<!--" not in map_assets.safe_script("a = '<!--';")


def test_size_per_cell_stays_small():
    """Display geometry is light: bytes per extra cell bounded (a ~16k-cell district map is a
    few MB; measured 6.2 MB for 16,129 hex cells including ~0.7 MB of inlined libraries)."""

    def size(n: int) -> tuple[int, int]:
        area, fac, cells, sa = synthetic(n=n)
        cells["township"] = "永顺镇"
        m = maps.claim_map(area, fac, title="size", cells=cells, cost_column="distance_m",
                           cost_unit="m", covered_column="covered", service_areas=sa)
        return len(cells), len(maps.map_html(m).encode())

    (n0, b0), (n1, b1) = size(10), size(30)
    per_cell = (b1 - b0) / (n1 - n0)
    assert 100 < per_cell < 400, per_cell


def test_seconds_are_converted_to_minutes_not_multiplied():
    """cost_unit='s': 120 s and 600 s are 2 and 10 minutes on the legend scale."""
    import geopandas as gpd
    import shapely

    from geo.maps import claim_map, map_html

    cells = gpd.GeoDataFrame({"cost_s": [120.0, 600.0], "covered": [True, False]},
                             geometry=[shapely.box(116.60, 39.80, 116.601, 39.801),
                                       shapely.box(116.61, 39.80, 116.611, 39.801)],
                             crs="EPSG:4326")
    page = map_html(claim_map(shapely.box(116.59, 39.79, 116.62, 39.81), title="t", cells=cells,
                              cost_column="cost_s", cost_unit="s", covered_column="covered"))
    assert '"cost":["2.0 min","10.0 min"]' in page
    assert '"cost":"7200.0 min"' not in page


def test_sites_map_categorical_cells_and_existing_markers(frames):
    from types import SimpleNamespace

    import pandas as pd

    area, fac, cells, _ = frames
    before = cells["covered"].to_numpy()
    # hand-made siting: uncovered cells of the first column -> site 1, of the last -> site 2
    col = np.array([int(c[1:]) % 6 for c in cells["cell_id"]])
    rank = np.where(~before & (col == 0), 1, np.where(~before & (col == 5), 2, 0))
    status = pd.DataFrame({"covered_before": before, "covered_after": before | (rank > 0),
                           "new_site_rank": rank, "weight": 1.0})
    sites = gpd.GeoDataFrame({"site_id": ["s1", "s2"], "rank": [1, 2]},
                             geometry=list(cells.geometry.representative_point().iloc[[0, 5]]),
                             crs=4326)
    result = SimpleNamespace(demand_status=status, sites=sites, share_before=before.mean(),
                             share_after=float((before | (rank > 0)).mean()))
    m = maps.sites_map(area, cells, result, title="C04 sites", existing=fac)
    expected = {cid: (maps.site_color(k) if k else maps.COVERED_BEFORE_COLOR if b
                      else maps.BLIND_COLOR)
                for cid, k, b in zip(cells["cell_id"], rank, before, strict=True)}
    # hand check of the categories: blind spots red, distinct from covered-before and sites
    assert len(set(expected.values())) == 4
    assert maps.BLIND_COLOR not in {maps.COVERED_BEFORE_COLOR, *maps.SITE_COLORS}
    seen = {}
    for layer in maps.cell_layers(m).values():
        for f, fill in zip(layer["features"], layer["fill"], strict=True):
            seen[f["properties"]["cell"]] = fill
    assert seen == expected
    page = decoded(maps.map_html(m))
    assert "d3.scale" not in page  # no continuous colour bar for a categorical rank
    assert "blind spot (still uncovered)" in page and "newly covered by proposed site" in page
    layers = geojson_layers(m)
    (fac_layer,) = [v for k, v in layers.items() if k.startswith("Facilities")]
    kinds = [f["properties"]["kind"] for f in fac_layer["features"]]
    assert kinds.count("proposed site") == 2
    assert sorted(k for k in kinds if k.startswith("existing")) == [
        "existing park", "existing park", "existing rail"]


def test_cost_classes_match_branca_step_colormap():
    """The vectorised colour classes pick the colour branca's StepColormap picks, value by
    value (edges, below 0, above the top, unreachable) - the slow, obvious reference."""
    import branca.colormap as bcm

    edges = maps.nice_edges(17.3, 8)
    colours = [f"#{k:02x}0000" for k in range(len(edges) - 1)]
    cmap = bcm.StepColormap(colours, index=edges, vmin=0.0, vmax=edges[-1])
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.uniform(-2, 25, 500), edges, [np.inf, np.nan, -np.inf]])
    got = maps.cost_classes(values, edges)
    for v, k in zip(values, got, strict=True):
        if not np.isfinite(v):
            assert k == -1
        else:
            assert colours[k] == cmap.rgb_hex_str(min(v, edges[-1])), v


def test_cell_shapes_round_trip_through_the_compact_encoding():
    """Cells (a polygon with a hole, a two-part multipolygon, the grid's squares) come back from
    the page data as the same shapes to within the display rounding (1e-6 degree)."""
    import shapely

    area, fac, cells, _ = synthetic()
    holed = shapely.Polygon(shapely.box(116.50, 39.80, 116.52, 39.82).exterior.coords,
                            [shapely.box(116.505, 39.805, 116.51, 39.81).exterior.coords])
    two = shapely.MultiPolygon([shapely.box(116.53, 39.80, 116.531, 39.801),
                                shapely.box(116.54, 39.80, 116.541, 39.801)])
    extra = gpd.GeoDataFrame({"cell_id": ["hole", "two"], "distance_m": [1.0, 2.0],
                              "covered": [True, False]}, geometry=[holed, two], crs=4326)
    cells = pd.concat([cells, extra], ignore_index=True)
    m = maps.claim_map(area, fac, title="t", cells=cells, cost_column="distance_m",
                       cost_unit="m", covered_column="covered", simplify_m=0.0)
    got = {f["properties"]["cell"]: shapely.geometry.shape(f["geometry"])
           for layer in maps.cell_layers(m).values() for f in layer["features"]}
    assert len(got) == len(cells)
    for cid, geom in zip(cells["cell_id"], cells.geometry, strict=True):
        assert got[cid].geom_type == geom.geom_type, cid
        assert shapely.hausdorff_distance(got[cid], geom) < 1e-6, cid
        assert abs(got[cid].area - geom.area) < geom.length * 1e-6, cid   # rounding at the rim


def test_folium_own_render_embeds_the_cells_safely(frames):
    """Rendered by folium itself (a notebook's inline display, Map.save) the cell data is in
    the page as base64 JSON: no slot left empty, and text such as '{{ 7*7 }}' is not taken
    for a template (it comes back as written)."""
    import base64
    import json

    area, fac, cells, sa = frames
    cells = cells.assign(township="{{ 7*7 }} 镇")
    m = build((area, fac, cells, sa))
    page = m.get_root().render()
    assert "/*geo-data:" not in page
    b64 = re.search(r"atob\('([A-Za-z0-9+/=]+)'\)", page).group(1)
    data = json.loads(base64.b64decode(b64).decode("utf-8"))
    assert data["columns"]["township"][0] == maps.html_text("{{ 7*7 }} 镇")
    assert "49 镇" not in page
    # map_html puts the same data in as JSON
    fast = maps.map_html(build((area, fac, cells, sa)))
    assert "atob(" not in fast
    assert '"township":["&#123;&#123; 7*7 &#125;&#125; 镇"' in decoded(fast)


@pytest.mark.parametrize("render", ["map_html", "folium"])
def test_template_code_in_names_is_never_run(frames, render):
    """Folium feeds rendered scripts back through Jinja: names, kinds, townships, titles and
    subtitles carrying template code (any OSM contributor can write such a name) reach the
    page as inert text, in geo's own rendering and in folium's."""
    area, fac, cells, sa = frames
    code = "{{ 'GEO' ~ 'PWNED' }}"
    fac = fac.copy()
    block = "{% set x = 'GEO' ~ 'SET' %}{{ x }}"
    fac["name"] = [code, block, "{# gone #}x"]
    fac["kind"] = [f"park {code}", "park", "rail"]
    cells = cells.assign(township=f"{code}镇", cell_id=[f"{code}{i}" for i in range(len(cells))])
    m = build((area, fac, cells, sa), title=f"C99 {code}", subtitle=[f"sub {code}"])
    page = maps.map_html(m) if render == "map_html" else m.get_root().render()
    if render == "folium":
        import base64

        page += base64.b64decode(re.search(r"atob\('([A-Za-z0-9+/=]+)'\)", page).group(1)
                                 ).decode("utf-8")
    text = decoded(page)
    assert "GEOPWNED" not in text and "GEOSET" not in text
    # shown as written (the browser turns &#123; back into a brace)
    shown = html.unescape(text)
    for written in (code, block, "{# gone #}x", f"sub {code}"):
        assert written in shown, written
