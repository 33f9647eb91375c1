"""Offline map assets: serve folium's JavaScript/CSS from ``geo/assets/node_modules``.

Folium links Leaflet, jQuery, Bootstrap, Font Awesome and the awesome-markers plugin from public
CDNs, and branca's colour legend links d3. With no internet (or behind slow/blocked CDNs in
mainland China) such a page is blank. :func:`inline_assets` rewrites a rendered folium page so
every ``<script src=...>`` / ``<link rel="stylesheet" href=...>`` that points at one of those CDN
URLs becomes an inline ``<script>`` / ``<style>`` holding the npm package's file; images and fonts
the CSS refers to become ``data:`` URIs. The result is one self-contained HTML file. Tile URL
templates are left alone: background tiles still need the network, the vector data does not.

The npm packages are pinned in ``geo/assets/package.json`` / ``package-lock.json`` (the versions
folium 0.20 links) and installed with ``npm ci --prefix geo/assets`` (``make install`` does it).
No third-party JavaScript is committed to the repository.

Assets that the page does not use are dropped instead of inlined: Font Awesome, awesome-markers
and the Bootstrap-3 glyphicons stylesheet are kept only when the page draws an awesome-markers
icon or an ``fa`` icon (glyphicons have no offline copy: use ``prefix="fa"``). Folium's
``leaflet.awesome.rotate`` stylesheet is replaced by the rotation rules the page needs.
"""

from __future__ import annotations

import base64
import html
import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from geo.errors import DataError, DataNotFoundError

log = logging.getLogger(__name__)

#: Folder holding package.json, package-lock.json and (after ``npm ci``) node_modules.
ASSETS_DIR = Path(__file__).resolve().parent / "assets"

INSTALL_HINT = ("run 'make install' (or 'npm ci --prefix geo/assets --no-audit --no-fund' "
                "from the project root), or save the map with cdn=True")

#: folium / branca asset name -> file inside node_modules. Names are folium's keys in
#: ``folium.folium._default_js`` / ``_default_css``; "d3" is branca's colour-legend script.
LOCAL_FILES: dict[str, str] = {
    "leaflet": "leaflet/dist/leaflet.js",
    "jquery": "jquery/dist/jquery.min.js",
    "bootstrap": "bootstrap/dist/js/bootstrap.bundle.min.js",
    "awesome_markers": "leaflet.awesome-markers/dist/leaflet.awesome-markers.js",
    "leaflet_css": "leaflet/dist/leaflet.css",
    "bootstrap_css": "bootstrap/dist/css/bootstrap.min.css",
    "awesome_markers_font_css": "@fortawesome/fontawesome-free/css/all.min.css",
    "awesome_markers_css": "leaflet.awesome-markers/dist/leaflet.awesome-markers.css",
    "d3": "d3/d3.min.js",
}

#: Assets needed only when the page draws awesome-markers / Font Awesome icons.
ICON_ASSETS = frozenset({"awesome_markers", "awesome_markers_font_css", "awesome_markers_css",
                         "awesome_rotate_css", "glyphicons_css"})

#: branca's colormap links d3 v3 from cdnjs (branca.colormap.ColorMap.render).
_D3_URL = re.compile(r"^https?://[^\"']*/d3(?:@|/)3\.[0-9.]+/d3(?:\.min)?\.js$")

_MIME = {".png": "image/png", ".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf",
         ".svg": "image/svg+xml", ".gif": "image/gif", ".jpg": "image/jpeg"}

_SCRIPT_TAG = re.compile(r"<script\s+src=\"(?P<url>[^\"]+)\"\s*>\s*</script>",
                         re.IGNORECASE)
_LINK_TAG = re.compile(r"<link\s+rel=\"stylesheet\"\s+href=\"(?P<url>[^\"]+)\"\s*/?>",
                       re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*(?P<q>['\"]?)(?P<ref>[^'\")]+)(?P=q)\s*\)")
# A font-face fallback source in TrueType: modern browsers take the woff2 listed before it.
_TTF_SRC = re.compile(r",\s*url\([^)]*\.ttf\)\s*format\([\"']truetype[\"']\)")


@dataclass(frozen=True)
class AssetUrl:
    """One CDN URL folium links, with the asset name it stands for and its kind (js/css)."""

    url: str
    name: str
    kind: str


def node_modules_dir() -> Path:
    """``geo/assets/node_modules``; :class:`~geo.errors.DataNotFoundError` if not installed."""
    path = ASSETS_DIR / "node_modules"
    if not (path / "leaflet" / "dist" / "leaflet.js").is_file():
        raise DataNotFoundError(f"offline map assets not installed: {path} has no leaflet "
                                f"package; {INSTALL_HINT}")
    return path


@cache
def folium_asset_urls() -> dict[str, AssetUrl]:
    """Map every CDN URL that folium's default template and branca link to its asset name."""
    import folium.folium as ff

    out: dict[str, AssetUrl] = {}
    for name, url in ff._default_js:
        out[url] = AssetUrl(url, name, "js")
    for name, url in ff._default_css:
        out[url] = AssetUrl(url, name, "css")
    return out


def classify_url(url: str) -> AssetUrl | None:
    """The asset a CDN URL stands for, or ``None`` if it is not one we can serve offline."""
    known = folium_asset_urls().get(url)
    if known is not None:
        return known
    if _D3_URL.match(url):
        return AssetUrl(url, "d3", "js")
    return None


def _data_uri(path: Path) -> str:
    mime = _MIME.get(path.suffix.lower())
    if mime is None:
        raise DataError(f"cannot inline {path}: unknown file type {path.suffix!r}")
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


@cache
def _read_asset(rel: str, root: Path) -> str:
    """Text of one asset; for CSS, relative url(...) references become data: URIs."""
    path = root / rel
    if not path.is_file():
        raise DataNotFoundError(f"offline map asset {path} is missing; {INSTALL_HINT}")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".css":
        text = _TTF_SRC.sub("", text)

        def _inline(match: re.Match[str]) -> str:
            ref = match.group("ref")
            if ref.startswith(("data:", "#", "http:", "https:", "//")):
                return match.group(0)
            target = (path.parent / ref.split("?")[0].split("#")[0]).resolve()
            if not target.is_file():
                raise DataNotFoundError(f"{path} refers to {ref}, which is missing; "
                                        f"{INSTALL_HINT}")
            return f'url("{_data_uri(target)}")'

        text = _CSS_URL.sub(_inline, text)
    return text


def safe_script(js: str) -> str:
    """Make JavaScript safe inside an inline <script> element (no early '</script')."""
    js = re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)
    return js.replace("<!--", "<\\!--")


def _safe_style(css: str) -> str:
    return re.sub(r"</(style)", r"<\\/\1", css, flags=re.IGNORECASE)


def _leaflet_icon_fix(root: Path) -> str:
    """Point Leaflet's default marker icon at data: URIs (its path detection needs real files)."""
    images = root / "leaflet" / "dist" / "images"
    uris = {key: _data_uri(images / fname) for key, fname in (
        ("iconUrl", "marker-icon.png"), ("iconRetinaUrl", "marker-icon-2x.png"),
        ("shadowUrl", "marker-shadow.png"))}
    opts = ", ".join(f'{k}: "{v}"' for k, v in uris.items())
    return f"L.Icon.Default.imagePath = ''; L.Icon.Default.mergeOptions({{{opts}}});"


def _rotate_css(page: str) -> str:
    """The ``fa-rotate-N`` rules this page uses (folium's rotate stylesheet has all 360)."""
    angles = sorted({int(a) for a in re.findall(r"fa-rotate-(\d+)", page)})
    return "".join(f".fa-rotate-{a}{{transform:rotate({a}deg);}}" for a in angles)


def uses_icons(page: str) -> bool:
    """True if the page draws awesome-markers icons or Font Awesome / glyphicon icons."""
    body = _SCRIPT_TAG.sub("", _LINK_TAG.sub("", page))
    return ("AwesomeMarkers" in body or re.search(r"\bfa-[a-z]", body) is not None
            or "glyphicon" in body)


def inline_assets(page: str, *, root: Path | None = None) -> str:
    """Return ``page`` (a rendered folium HTML document) with its CDN assets inlined.

    Parameters
    ----------
    page
        The HTML from ``folium.Map.get_root().render()``.
    root
        The node_modules folder (default :func:`node_modules_dir`).

    Raises
    ------
    DataNotFoundError
        The npm assets are not installed (the message says how to install them).
    DataError
        The page links a script or stylesheet with no offline copy (a folium plugin not listed
        in ``geo/assets/package.json``), or uses glyphicon icons.
    """
    root = node_modules_dir() if root is None else root
    need_icons = uses_icons(page)
    glyphicons = "glyphicon" in _SCRIPT_TAG.sub("", _LINK_TAG.sub("", page))
    if need_icons and glyphicons:
        raise DataError("map uses Bootstrap-3 glyphicon icons, which have no offline copy: "
                        "draw icons with folium.Icon(prefix='fa') or save with cdn=True")

    def _replace(match: re.Match[str], kind: str) -> str:
        url = html.unescape(match.group("url"))
        asset = classify_url(url)
        if asset is None:
            if url.startswith(("http:", "https:", "//")):
                raise DataError(f"map links {url}, which has no offline copy in "
                                f"geo/assets/package.json: add its npm package to "
                                f"geo.map_assets.LOCAL_FILES or save with cdn=True")
            return match.group(0)  # a local relative link: leave it
        if asset.name == "glyphicons_css" or (asset.name in ICON_ASSETS and not need_icons):
            log.debug("dropping unused icon asset %s", url)
            return ""
        if asset.name == "awesome_rotate_css":
            return f"<style>{_rotate_css(page)}</style>"
        rel = LOCAL_FILES.get(asset.name)
        if rel is None:
            raise DataError(f"map links {url} ({asset.name}), which has no offline copy; "
                            f"save with cdn=True")
        text = _read_asset(rel, root)
        if kind == "js":
            extra = f"\n{_leaflet_icon_fix(root)}" if asset.name == "leaflet" else ""
            return f"<script>/* {rel} */\n{safe_script(text)}{extra}</script>"
        return f"<style>/* {rel} */\n{_safe_style(text)}</style>"

    page = _SCRIPT_TAG.sub(lambda m: _replace(m, "js"), page)
    page = _LINK_TAG.sub(lambda m: _replace(m, "css"), page)
    return page


def cdn_urls(page: str) -> list[str]:
    """The http(s) URLs of scripts and stylesheets a page still loads (empty when inlined)."""
    return [m.group("url") for m in (*_SCRIPT_TAG.finditer(page), *_LINK_TAG.finditer(page))
            if m.group("url").startswith(("http:", "https:", "//"))]


# --------------------------------------------------------------------------- finishing a page

#: CSS added to every map page: controls that fit a phone (360 px) as well as a desktop.
RESPONSIVE_CSS = """
#geo-map-title.leaflet-control { position: static !important; left: auto !important;
  top: auto !important; max-width: min(420px, calc(100vw - 90px)) !important;
  box-sizing: border-box; overflow-wrap: anywhere; }
#geo-map-title .geo-map-head { cursor: pointer; }
#geo-map-title .geo-map-head::after { content: " \\25BE"; font-weight: normal; color: #555; }
#geo-map-title.geo-collapsed .geo-map-head::after { content: " \\25B8"; }
#geo-map-title.geo-collapsed > div:not(.geo-map-head) { display: none; }
.legend.leaflet-control { background: rgba(255,255,255,0.92); padding: 4px 6px;
  border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,0.3); box-sizing: border-box;
  width: min(470px, calc(100vw - 20px)); }
.legend.leaflet-control svg { display: block; width: 100%; height: auto; }
.geo-legend-caption { font: 12px sans-serif; white-space: normal; overflow-wrap: anywhere; }
.leaflet-control-layers-expanded { max-height: 60vh; overflow-y: auto; }
@media (max-width: 700px) {
  .leaflet-control-attribution { font-size: 9px; }
}
"""

#: JavaScript added to every map page (runs after folium's script, on window load): the title
#: box becomes a Leaflet control in the top-left corner (so it stacks under the zoom buttons
#: instead of floating over other controls) that collapses to its headline on a click; the
#: colour bar's caption leaves the fixed-width SVG (it wraps instead of being cut) and the SVG
#: scales to the box; the layer control opens and closes on a click. Below 700 px wide the title
#: box and the layer control start collapsed and the colour bar moves to the bottom-right corner.
RESPONSIVE_JS = """
(function () {
  function setup() {
    var narrow = window.innerWidth < 700;
    var mapDiv = document.querySelector('.folium-map');
    if (!mapDiv) { return; }
    var corner = function (pos) { return mapDiv.querySelector('.leaflet-' + pos[0] + '.leaflet-' + pos[1]); };
    var stop = function (el) {
      if (window.L && L.DomEvent) { L.DomEvent.disableClickPropagation(el); L.DomEvent.disableScrollPropagation(el); }
    };
    var title = document.getElementById('geo-map-title');
    var tl = corner(['top', 'left']);
    if (title && tl) {
      title.classList.add('leaflet-control');
      tl.appendChild(title);
      stop(title);
      var head = title.firstElementChild;
      if (head && title.children.length > 1) {
        head.classList.add('geo-map-head');
        head.setAttribute('role', 'button');
        head.setAttribute('title', 'show or hide the legend');
        head.addEventListener('click', function () { title.classList.toggle('geo-collapsed'); });
        if (narrow) { title.classList.add('geo-collapsed'); }
      }
    }
    mapDiv.querySelectorAll('.legend.leaflet-control').forEach(function (lg) {
      var svg = lg.querySelector('svg');
      if (!svg) { return; }
      var cap = svg.querySelector('text.caption');
      if (cap) {
        var div = document.createElement('div');
        div.className = 'geo-legend-caption';
        div.textContent = cap.textContent;
        cap.parentNode.removeChild(cap);
        lg.insertBefore(div, svg);
      }
      var w = svg.getAttribute('width'), h = svg.getAttribute('height');
      if (w && h && !svg.getAttribute('viewBox')) {
        svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
        svg.style.maxWidth = w + 'px';
        svg.removeAttribute('width'); svg.removeAttribute('height');
      }
      if (narrow) {
        var br = corner(['bottom', 'right']);
        if (br) { br.insertBefore(lg, br.firstChild); }
        var sc = mapDiv.querySelector('.leaflet-control-scale');
        if (sc) {  // lift the colour bar above the scale bar of the bottom-left corner
          var a = lg.getBoundingClientRect(), b = sc.getBoundingClientRect();
          var gap = a.bottom - (b.top - 4);
          if (gap > 0 && a.left < b.right) {
            lg.style.marginBottom = ((parseFloat(getComputedStyle(lg).marginBottom) || 0) + gap) + 'px';
          }
        }
      }
    });
    mapDiv.querySelectorAll('.leaflet-control-layers').forEach(function (lc) {
      var link = lc.querySelector('.leaflet-control-layers-toggle');
      if (!link) { return; }
      var open = 'leaflet-control-layers-expanded', wasOpen = false;
      if (narrow) { lc.classList.remove(open); }
      // Leaflet opens the control on focus (before the click): remember the state at press
      link.addEventListener('mousedown', function () { wasOpen = lc.classList.contains(open); });
      link.addEventListener('click', function (e) {
        e.preventDefault();
        if (wasOpen) { lc.classList.remove(open); } else { lc.classList.add(open); }
        wasOpen = lc.classList.contains(open);
      });
      var map = window[mapDiv.id];
      if (narrow && map && map.on) {  // a tap on the map closes the list again
        map.on('click', function () { lc.classList.remove(open); });
      }
    });
  }
  if (document.readyState === 'complete') { setup(); } else { window.addEventListener('load', setup); }
})();
"""

_cdn_warned = False


def reset_cdn_warning() -> None:
    """Let :func:`finish_page` warn again about missing offline assets (once per process)."""
    global _cdn_warned
    _cdn_warned = False


def assets_installed(root: Path | None = None) -> bool:
    """True if the npm map assets are present (in the checkout or inside the installed wheel)."""
    path = (ASSETS_DIR / "node_modules") if root is None else root
    return (path / "leaflet" / "dist" / "leaflet.js").is_file()


def finish_page(page: str, *, cdn: bool = False) -> str:
    """A rendered folium page made ready to save: assets inlined and responsive controls added.

    With ``cdn=False`` the libraries are inlined from ``geo/assets/node_modules`` (the checkout's
    ``npm ci``, or the copy a built wheel ships). When they are not installed the page keeps
    folium's CDN links instead and one warning per process says so (the map then needs the
    internet to draw); it is never written without a map. ``cdn=True`` keeps the links silently.
    """
    global _cdn_warned
    if not cdn and not assets_installed():
        if not _cdn_warned:
            log.warning("offline map assets not installed (%s): maps link Leaflet & co. from "
                        "public CDNs and need the internet to draw; to make them self-contained "
                        "%s", ASSETS_DIR / "node_modules",
                        INSTALL_HINT.replace(", or save the map with cdn=True", ""))
            _cdn_warned = True
        cdn = True
    if not cdn:
        page = inline_assets(page)
    extra = (f"<style>/* geo: responsive map controls */{_safe_style(RESPONSIVE_CSS)}</style>\n"
             f"<script>/* geo: responsive map controls */{safe_script(RESPONSIVE_JS)}</script>\n")
    idx = page.lower().rfind("</body>")
    return page + extra if idx < 0 else page[:idx] + extra + page[idx:]
