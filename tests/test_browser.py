"""Real-browser checks: generated pages open in headless Chromium with no JavaScript errors.

Every http(s) request is blocked (the test is offline by construction): tiles fail, which is
allowed, but no script, stylesheet or font may be requested, the vector layers must be drawn,
the layer control must list them, escaped names must show as text (and never run), and a
screenshot must not be blank.

Chromium comes from Debian (``apt-get install chromium chromium-driver fonts-noto-cjk``; ``.ci/run``
installs it when missing) and is driven by Playwright against ``/usr/bin/chromium`` (never
``playwright install``). Without Chromium the tests skip locally but FAIL in CI (``CI=true``).
Set ``GEO_BROWSER_ARTIFACTS=DIR`` to keep the screenshots.

The report tests open a report's ``index.html`` built by :func:`geo.report.write_report` from the
hand-built evaluation of tests/test_report.py, then follow a headline card's link to its map.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from test_maps import XSS_TOWN, synthetic  # tests/ is on sys.path (rootdir conftest)

from geo import maps

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

CHROMIUM = Path(os.environ.get("GEO_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
VIEWPORT = {"width": 1200, "height": 800}
#: A facility name that would set window.__xss if it ever reached the page as HTML.
XSS_FACILITY = '<img src=x onerror="window.__xss=1">'


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        msg = (f"Chromium not found at {CHROMIUM}: install it with 'apt-get install chromium "
               f"chromium-driver fonts-noto-cjk' (.ci/run does this when it is missing)")
        if _in_ci():
            pytest.fail(msg)
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@dataclass
class PageLog:
    """What a page did: console errors, uncaught exceptions, blocked network requests."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked: list[tuple[str, str]] = field(default_factory=list)  # (resource type, url)

    def unexpected_errors(self) -> list[str]:
        """Errors other than the 'Failed to load resource' lines of blocked tile images."""
        n_images = sum(1 for kind, _ in self.blocked if kind == "image")
        load_fails = [e for e in self.console_errors if e.startswith("Failed to load resource")]
        others = [e for e in self.console_errors if not e.startswith("Failed to load resource")]
        if len(load_fails) > n_images:
            others += load_fails[n_images:]
        return self.page_errors + others


def open_page(browser, path: Path, *, wait_for_map: bool = True,
              viewport: dict[str, int] | None = None):
    """Open ``path`` with all http(s) requests blocked; return (page, log).

    ``wait_for_map``: wait until Leaflet has drawn vector layers (off for plain pages).
    ``viewport``: window size in CSS pixels (default :data:`VIEWPORT`)."""
    page = browser.new_page(viewport=viewport or VIEWPORT)
    log = PageLog()
    page.on("console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: log.page_errors.append(str(e)))

    def _route(route):
        req = route.request
        if req.url.startswith(("http:", "https:", "ws:", "wss:")):
            log.blocked.append((req.resource_type, req.url))
            route.abort()
        else:
            route.continue_()

    page.route("**/*", _route)
    page.goto(path.as_uri(), wait_until="load")
    if not wait_for_map:
        return page, log
    # SVG paths, or one canvas when a map has more than geo.maps.CANVAS_ABOVE features
    page.wait_for_selector(".leaflet-overlay-pane path, .leaflet-overlay-pane canvas",
                           state="attached", timeout=20_000)
    page.wait_for_timeout(500)
    wait_until_still(page)
    return page, log


def wait_until_still(page) -> None:
    """Wait until the map has finished any zoom or pan animation (on a busy machine the
    initial fitBounds can still be moving, and points computed then miss their target)."""
    page.wait_for_function(
        """() => {
            const div = document.querySelector('.folium-map');
            const map = div && window[div.id];
            if (!map || !map.getCenter) return true;
            const busy = map._animatingZoom || (map._panAnim && map._panAnim._inProgress);
            const now = JSON.stringify([map.getZoom(), map.getCenter(), map.getSize()]);
            const still = !busy && window.__geoLastView === now;
            window.__geoLastView = now;
            return still;
        }""", polling=200, timeout=10_000)


def check_screenshot(page, path: Path) -> dict[str, float]:
    """Save a screenshot; assert it is not one flat colour; return simple pixel statistics."""
    from PIL import Image

    page.screenshot(path=str(path))
    artifacts = os.environ.get("GEO_BROWSER_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / path.name)
    img = Image.open(path).convert("RGB")
    colours = img.getcolors(maxcolors=img.width * img.height)
    top = max(count for count, _ in colours)
    stats = {"n_colours": len(colours), "dominant_share": top / (img.width * img.height)}
    assert stats["n_colours"] > 20, stats
    assert stats["dominant_share"] < 0.9, stats
    return stats


def map_name(page) -> str:
    return page.evaluate("document.querySelector('.folium-map').id")


@pytest.fixture(scope="module")
def claim_map_file(tmp_path_factory):
    area, fac, cells, sa = synthetic()
    fac = fac.copy()
    fac.loc[fac.index[0], "name"] = XSS_FACILITY
    m = maps.claim_map(area, fac, title="C99 test <b>claim</b>", cells=cells,
                       cost_column="distance_m", cost_unit="m", covered_column="covered",
                       threshold=500, service_areas=sa, subtitle=["通州区 synthetic test"])
    path = maps.save_map(m, tmp_path_factory.mktemp("browser") / "claim_map.html")
    n_cov = int(cells["covered"].sum())
    expected = ["District boundary", f"Service areas ({len(sa)})",
                f"Covered cells (within 500 m) ({n_cov})", f"Blind spots ({len(cells) - n_cov})",
                f"Facilities ({len(fac)})"]
    return path, expected, len(cells), len(fac)


def test_claim_map_renders_offline(browser, claim_map_file, tmp_path):
    path, expected_layers, n_cells, n_fac = claim_map_file
    page, log = open_page(browser, path)
    try:
        assert log.unexpected_errors() == []
        # only tile images were requested from the network; every library was inlined
        assert log.blocked, "the OSM tile layer should have requested tiles"
        assert {kind for kind, _ in log.blocked} == {"image"}, log.blocked
        assert all("tile.openstreetmap.org" in url for _, url in log.blocked)

        labels = page.eval_on_selector_all(
            ".leaflet-control-layers-overlays label", "ls => ls.map(l => l.innerText.trim())")
        assert labels == expected_layers
        n_paths = page.eval_on_selector_all(".leaflet-overlay-pane path", "ps => ps.length")
        # boundary + service areas + every cell + two dissolved outlines + every facility
        assert n_paths >= 1 + n_fac + n_cells + n_fac
        attribution = page.inner_text(".leaflet-control-attribution")
        assert "© OpenStreetMap contributors" in attribution
        assert page.eval_on_selector_all(".leaflet-control-scale-line", "s => s.length") >= 1
        title = page.inner_text("#geo-map-title")
        assert "C99 test <b>claim</b>" in title  # shown as text, not bold markup
        assert "通州区" in title
        assert "metres" in page.inner_text(".legend.leaflet-control")

        # hover and click the facility with the hostile name: text, never HTML
        xy = page.evaluate(
            """(name) => {
                const map = window[name]; let pt = null;
                map.eachLayer(l => {
                    if (l.feature && l.feature.properties.osm_id === '11' && l.getLatLng) {
                        const p = map.latLngToContainerPoint(l.getLatLng());
                        const r = map.getContainer().getBoundingClientRect();
                        pt = [r.left + p.x, r.top + p.y];
                    }
                });
                return pt;
            }""", map_name(page))
        assert xy is not None
        page.mouse.move(*xy)
        page.wait_for_selector(".leaflet-tooltip", timeout=5_000)
        assert XSS_FACILITY in page.inner_text(".leaflet-tooltip")
        page.mouse.click(*xy)
        page.wait_for_selector(".leaflet-popup-content", timeout=5_000)
        assert XSS_FACILITY in page.inner_text(".leaflet-popup-content")
        assert page.evaluate("document.querySelectorAll('.leaflet-popup img, "
                             ".leaflet-tooltip img').length") == 0
        page.mouse.move(5, 5)
        page.wait_for_timeout(300)
        assert page.evaluate("window.__xss") is None

        page.evaluate("(name) => window[name].closePopup()", map_name(page))
        stats = check_screenshot(page, tmp_path / "claim_map.png")
        assert stats["n_colours"] > 20
        assert log.unexpected_errors() == []
    finally:
        page.close()


def test_map_without_tiles_still_shows_data(browser, tmp_path):
    area, fac, cells, sa = synthetic()
    m = maps.claim_map(area, fac, title="no tiles", cells=cells, cost_column="distance_m",
                       cost_unit="m", covered_column="covered", threshold=500,
                       service_areas=sa, tiles="none")
    path = maps.save_map(m, tmp_path / "no_tiles.html")
    page, log = open_page(browser, path)
    try:
        assert log.blocked == []  # nothing at all from the network
        assert log.unexpected_errors() == []
        assert page.eval_on_selector_all(".leaflet-tile", "t => t.length") == 0
        assert "© OpenStreetMap contributors" in page.inner_text(".leaflet-control-attribution")
        # a cell away from the facilities: its township (hostile markup) shows as text. On a
        # busy machine the map can still be settling when the point is computed: the hover is
        # tried again (the point recomputed) until the tooltip is the cell's, at most 5 times.
        tips = []
        for _ in range(5):
            wait_until_still(page)
            xy = page.evaluate(
                """(name) => {
                    const map = window[name]; let pt = null;
                    map.eachLayer(l => {
                        if (l.feature && l.feature.properties.cell === 'c021' && l.getBounds) {
                            const p = map.latLngToContainerPoint(l.getBounds().getCenter());
                            const r = map.getContainer().getBoundingClientRect();
                            pt = [r.left + p.x, r.top + p.y];
                        }
                    });
                    return pt;
                }""", map_name(page))
            page.mouse.move(*xy)
            page.wait_for_selector(".leaflet-tooltip", timeout=5_000)
            tips.append(page.inner_text(".leaflet-tooltip"))
            if "c021" in tips[-1]:
                break
            page.mouse.move(5, 5)
            page.wait_for_timeout(500)
        tip = tips[-1]
        assert XSS_TOWN in tip and "c021" in tip, tips
        assert page.evaluate("document.querySelectorAll('.leaflet-tooltip img').length") == 0
        check_screenshot(page, tmp_path / "no_tiles.png")
    finally:
        page.close()


# --------------------------------------------------------------------------- the report

@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    from test_report import sample_evaluation

    from geo.report import write_report

    out = tmp_path_factory.mktemp("browser-report") / "testville"
    write_report(sample_evaluation(), out)
    return out


def test_report_index_and_map_link(browser, report_dir, tmp_path):
    from test_report import HEADLINE_IDS, XSS_TITLE, sample_evaluation

    from geo.report.html import VERDICT_LABELS

    ev = sample_evaluation()
    page, log = open_page(browser, report_dir / "index.html", wait_for_map=False)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        assert log.blocked == []  # the index loads nothing from the network
        assert log.unexpected_errors() == []
        # the four headline verdicts are visible at the top, before any scrolling
        for cid in HEADLINE_IDS:
            card = page.locator(f"#card-{cid}")
            assert card.is_visible()
            box = card.bounding_box()
            assert box["y"] + box["height"] <= VIEWPORT["height"], (cid, box)
            label = card.locator(".verdict").inner_text().strip()
            assert label == VERDICT_LABELS[ev.claim(cid).verdict]
        assert "Why inconclusive" in page.inner_text("#card-C02")
        # sensitivity charts decode as images
        sizes = page.eval_on_selector_all(
            "img.chart", "imgs => imgs.map(i => [i.complete, i.naturalWidth])")
        assert sizes and all(done and w > 100 for done, w in sizes), sizes
        # the hostile claim title is text
        assert XSS_TITLE in page.inner_text("#claims-table")
        assert page.evaluate("window.__xss") is None and dialogs == []
        footer = page.inner_text("#credits")
        assert "© OpenStreetMap contributors" in footer and "WorldPop" in footer
        check_screenshot(page, tmp_path / "report_index.png")

        # one click from the headline card to the claim's map
        page.click("#card-C01 a.maplink")
        page.wait_for_selector(".leaflet-overlay-pane path, .leaflet-overlay-pane canvas",
                               state="attached", timeout=20_000)
        page.wait_for_timeout(500)
        assert page.url.endswith("/maps/C01.html")
        labels = page.eval_on_selector_all(
            ".leaflet-control-layers-overlays label", "ls => ls.map(l => l.innerText.trim())")
        assert labels[0] == "District boundary" and any("Blind spots" in x for x in labels)
        assert any(x.startswith("Facilities") for x in labels)
        assert "C01" in page.inner_text("#geo-map-title")
        # only tile images were requested; no script, style or font from the network
        assert {kind for kind, _ in log.blocked} <= {"image"}, log.blocked
        assert log.unexpected_errors() == []
        assert dialogs == []
        check_screenshot(page, tmp_path / "report_map.png")
    finally:
        page.close()


# --------------------------------------------------------------------------- any screen width

#: A phone (360 px wide, the narrowest common CSS width) and a laptop.
SCREENS = {"phone": {"width": 360, "height": 740}, "desktop": {"width": 1366, "height": 900}}
#: The boxes a map draws over its corners; none may cover another.
MAP_CONTROLS = {"title legend": "#geo-map-title", "colour bar": ".legend.leaflet-control",
                "layer control": ".leaflet-control-layers", "zoom": ".leaflet-control-zoom",
                "scale bar": ".leaflet-control-scale", "attribution": ".leaflet-control-attribution"}
LONG_CAPTION = "Distance beyond the nearest park's service radius, straight line"


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    """True if two rectangles {x, y, width, height} share an area (touching edges do not)."""
    return (a["x"] < b["x"] + b["width"] - 0.5 and b["x"] < a["x"] + a["width"] - 0.5
            and a["y"] < b["y"] + b["height"] - 0.5 and b["y"] < a["y"] + a["height"] - 0.5)


def test_overlap_on_hand_made_rectangles():
    box = {"x": 0, "y": 0, "width": 10, "height": 10}
    assert overlap(box, {"x": 5, "y": 5, "width": 10, "height": 10})
    assert overlap(box, {"x": 2, "y": 2, "width": 2, "height": 2})  # inside
    assert not overlap(box, {"x": 10, "y": 0, "width": 5, "height": 5})  # touching edge
    assert not overlap(box, {"x": 0, "y": 11, "width": 10, "height": 10})
    assert not overlap(box, {"x": -20, "y": 3, "width": 19, "height": 2})


def page_overflow(page) -> dict[str, int]:
    """The page's scrolling width and the window's width (equal when nothing runs off)."""
    return page.evaluate("({scroll: document.scrollingElement.scrollWidth, "
                         "inner: window.innerWidth})")


def control_boxes(page) -> dict[str, dict[str, float]]:
    """Bounding rectangles (CSS px) of the map controls that are on the page and shown."""
    return page.evaluate("""(sels) => {
        const out = {};
        for (const [name, sel] of Object.entries(sels)) {
            const el = document.querySelector(sel);
            if (!el) continue;
            const r = el.getBoundingClientRect();
            if (r.width > 0 && r.height > 0)
                out[name] = {x: r.x, y: r.y, width: r.width, height: r.height};
        }
        return out;
    }""", MAP_CONTROLS)


def assert_no_overlap(boxes: dict[str, dict[str, float]], width: int, height: int) -> None:
    names = sorted(boxes)
    for i, a in enumerate(names):
        box = boxes[a]
        assert box["x"] >= -0.5 and box["x"] + box["width"] <= width + 0.5, (a, box, width)
        assert box["y"] >= -0.5 and box["y"] + box["height"] <= height + 0.5, (a, box, height)
        for b in names[i + 1:]:
            assert not overlap(box, boxes[b]), (a, box, b, boxes[b])


@pytest.fixture(scope="module")
def legend_map_file(tmp_path_factory):
    """A claim map with every control: title legend (long subtitle), colour bar, layers."""
    area, fac, cells, sa = synthetic()
    m = maps.claim_map(area, fac, title="C03 No blind spots outside park service radii",
                       cells=cells, cost_column="distance_m", cost_unit="m",
                       covered_column="covered", threshold=500, service_areas=sa,
                       cost_label=LONG_CAPTION,
                       subtitle=["公园绿地服务半径消盲 (通州区 synthetic test)",
                                 "measured 56.1 %, target no gaps left (0.0 %) by 2030"])
    path = maps.save_map(m, tmp_path_factory.mktemp("browser-widths") / "legend_map.html")
    unreachable = not np.isfinite(cells["distance_m"].astype(float)).all()
    return path, unreachable


@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_map_controls_fit_any_width(browser, legend_map_file, screen, tmp_path):
    size = SCREENS[screen]
    path, unreachable = legend_map_file
    page, log = open_page(browser, path, viewport=size)
    try:
        assert log.unexpected_errors() == []
        sizes = page_overflow(page)
        assert sizes["scroll"] <= sizes["inner"], sizes
        boxes = control_boxes(page)
        assert {"title legend", "colour bar", "layer control"} <= set(boxes), boxes
        assert_no_overlap(boxes, size["width"], size["height"])
        # the colour bar's caption is whole text that wraps inside its box, never cut
        cap = page.locator(".legend.leaflet-control .geo-legend-caption")
        assert LONG_CAPTION in cap.inner_text() and "lower is better" in cap.inner_text()
        # "grey = unreachable" only where some cell has no finite cost
        assert ("grey = unreachable" in cap.inner_text()) == unreachable
        assert page.evaluate("""() => {
            const c = document.querySelector('.geo-legend-caption');
            return c.scrollWidth <= c.clientWidth + 1;
        }""")
        # both legend and layer control open and close on a click, and still fit when open
        title = page.locator("#geo-map-title")
        layers = page.locator(".leaflet-control-layers")
        collapsed = "geo-collapsed" in (title.get_attribute("class") or "")
        expanded = "leaflet-control-layers-expanded" in (layers.get_attribute("class") or "")
        if screen == "phone":
            assert collapsed and not expanded  # the map stays visible on a phone
        else:
            assert not collapsed and expanded
            assert "service area" in title.inner_text()
        check_screenshot(page, tmp_path / f"legend_map_{screen}.png")
        page.click("#geo-map-title .geo-map-head")
        assert ("geo-collapsed" in (title.get_attribute("class") or "")) != collapsed
        page.click(".leaflet-control-layers-toggle") if not expanded else None
        if not expanded:
            assert "leaflet-control-layers-expanded" in (layers.get_attribute("class") or "")
        sizes = page_overflow(page)
        assert sizes["scroll"] <= sizes["inner"], sizes
        assert log.unexpected_errors() == []
    finally:
        page.close()


@pytest.mark.parametrize("screen", sorted(SCREENS))
def test_report_fits_any_width(browser, report_dir, screen, tmp_path):
    size = SCREENS[screen]
    page, log = open_page(browser, report_dir / "index.html", wait_for_map=False, viewport=size)
    try:
        assert log.unexpected_errors() == []
        sizes = page_overflow(page)
        assert sizes["scroll"] <= sizes["inner"], sizes
        # the wide "All claims" table scrolls inside its own box, which fits the window
        box = page.evaluate("""() => {
            const t = document.querySelector('#claims-table');
            const b = t.parentElement.getBoundingClientRect();
            return {cls: t.parentElement.className, left: b.left, right: b.right};
        }""")
        assert box["cls"] == "table-scroll" and box["left"] >= 0, box
        assert box["right"] <= size["width"], box
        # no column squeezed to a letter per line: on a phone each claim is one block
        narrowest = page.eval_on_selector_all(
            "#claims-table td", "tds => Math.min(...tds.map(t => t.getBoundingClientRect().width))")
        assert narrowest >= (size["width"] / 2 if screen == "phone" else 30), narrowest
        # every chart, table box and card lies within the window
        rights = page.eval_on_selector_all(
            "img.chart, .table-scroll, .card, dl.prov",
            "els => els.map(e => e.getBoundingClientRect().right)")
        assert rights and max(rights) <= size["width"] + 0.5, rights
        check_screenshot(page, tmp_path / f"report_index_{screen}.png")
        page.click("#card-C01 a.maplink")
        page.wait_for_selector(".leaflet-overlay-pane path, .leaflet-overlay-pane canvas",
                               state="attached", timeout=20_000)
        page.wait_for_timeout(500)
        sizes = page_overflow(page)
        assert sizes["scroll"] <= sizes["inner"], sizes
        assert_no_overlap(control_boxes(page), size["width"], size["height"])
        assert log.unexpected_errors() == []
    finally:
        page.close()
