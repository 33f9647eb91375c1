"""geo.sources.overpass: osmnx features_from_polygon against a local Overpass stand-in.

A small HTTP server on 127.0.0.1 plays the Overpass API (``/api/status`` and
``/api/interpreter``) and answers with a small response in Overpass's JSON format
(``version, generator, osm3s, elements``) written below. Nothing leaves the machine.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import urllib.parse

import osmnx as ox
import pytest
import requests
from shapely.geometry import box

from geo import settings
from geo.errors import DataError, OfflineError
from geo.sources import overpass

STAMP = "2026-06-07T20:21:20Z"
AREA = box(116.60, 39.85, 116.75, 39.95)


def _node(i, lon, lat, **tags):
    el = {"type": "node", "id": i, "lat": lat, "lon": lon}
    if tags:
        el["tags"] = tags
    return el


def _way(i, nodes, **tags):
    return {"type": "way", "id": i, "nodes": nodes, "tags": tags}


RESPONSE = {
    "version": 0.6,
    "generator": "Overpass API 0.7.62.7 375dc00a",
    "osm3s": {"timestamp_osm_base": STAMP,
              "copyright": "The data included in this document is from www.openstreetmap.org. "
                           "The data is made available under ODbL."},
    "elements": [
        _node(1, 116.6648, 39.9106, railway="station", name="北关", public_transport="station"),
        _node(2, 116.6800, 39.9000, railway="halt", name="测试乘降所"),
        _node(3, 116.6300, 39.8700, amenity="fire_station", name="梨园消防站"),
        _node(4, 116.7200, 39.9300, place="town", name="宋庄镇"),
        _node(5, 116.6500, 39.9000, highway="bus_stop", name="新华大街"),
        # a park polygon (closed way)
        _node(11, 116.700, 39.880), _node(12, 116.710, 39.880), _node(13, 116.710, 39.890),
        _node(14, 116.700, 39.890),
        _way(100, [11, 12, 13, 14, 11], leisure="park", name="城市绿心森林公园"),
        # a subway line
        _node(21, 116.610, 39.900), _node(22, 116.640, 39.905), _node(23, 116.670, 39.910),
        _way(101, [21, 22, 23], railway="subway", name="八通线"),
        # a station that exists only as a polygon
        _node(31, 116.6900, 39.9200), _node(32, 116.6920, 39.9200), _node(33, 116.6920, 39.9210),
        _node(34, 116.6900, 39.9210),
        _way(102, [31, 32, 33, 34, 31], railway="station", name="通运门", building="train_station"),
    ],
}

STATUS = ("Connected as: 1\nCurrent time: 2026-06-08T00:00:00Z\nAnnounced endpoint: none\n"
          "Rate limit: 2\n2 slots available now.\nCurrently running queries (pid, space limit, "
          "time limit, start time):\n")


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _send(self, code, body, ctype):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.server.log.append(("GET", self.path, None))
        if self.path == "/api/status":
            self._send(200, STATUS.encode(), "text/plain")
        else:
            self._send(404, b"not found", "text/plain")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        query = urllib.parse.parse_qs(body)["data"][0]
        self.server.log.append(("POST", self.path, query))
        if self.server.fail_queries:
            self._send(500, b"<html>server error</html>", "text/html")
        else:
            self._send(200, json.dumps(self.server.response).encode(), "application/json")


@pytest.fixture
def fake_overpass():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.log = []
    srv.fail_queries = False
    srv.response = RESPONSE
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}/api"
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _posts(srv):
    return [q for method, _, q in srv.log if method == "POST"]


def test_layers_and_classes_from_overpass_response(fake_overpass):
    osm = overpass.load_osm_overpass(AREA, overpass_url=fake_overpass.url)
    assert len(_posts(fake_overpass)) == 1
    query = _posts(fake_overpass)[0]
    for clause in ("node['railway'='station']", "way['railway'='station']",
                   "node['amenity'='fire_station']", "way['leisure'='park']",
                   "way['railway'='subway']", "node['place'='town']"):
        assert clause in query
    t = osm.layer("transport")
    assert dict(zip(t["name"], t["fclass"], strict=True)) == {
        "北关": "railway_station", "测试乘降所": "railway_halt", "新华大街": "bus_stop"}
    ta = osm.layer("transport_a")
    assert list(ta["fclass"]) == ["railway_station"] and list(ta["name"]) == ["通运门"]
    assert ta.geometry.iloc[0].geom_type == "Polygon"
    assert list(osm.layer("pois")["fclass"]) == ["fire_station"]
    pa = osm.layer("pois_a")
    assert list(pa["fclass"]) == ["park"] and list(pa["osm_id"]) == ["100"]
    rw = osm.layer("railways")
    assert list(rw["fclass"]) == ["subway"] and rw.geometry.iloc[0].geom_type == "LineString"
    assert list(osm.layer("places")["fclass"]) == ["town"]
    for name, frame in osm.layers.items():
        assert frame.crs.to_epsg() == 4326, name
        assert list(frame.columns[:3]) == ["osm_id", "fclass", "name"], name
        assert all(isinstance(v, str) for v in frame["osm_id"]), name
    assert osm.osm_data_date == STAMP
    assert fake_overpass.url in osm.source and osm.path is None
    assert osm.layers_missing == []


def test_response_is_cached_the_osmnx_way_and_reused_without_network(fake_overpass, tmp_path,
                                                                     monkeypatch):
    first = overpass.load_osm_overpass(AREA, overpass_url=fake_overpass.url)
    query = _posts(fake_overpass)[0]
    # osmnx 2.1 stores the response JSON under sha1(prepared GET URL).json in its cache folder
    prepared = requests.Request("GET", fake_overpass.url + "/interpreter",
                                params={"data": query}).prepare().url
    cache_file = overpass.cache_folder() / f"{hashlib.sha1(prepared.encode()).hexdigest()}.json"
    assert cache_file.parent == settings.cache_dir / "overpass"
    assert json.loads(cache_file.read_text(encoding="utf-8")) == RESPONSE

    # a fresh cache dir holding only a response file written here: the server's query endpoint
    # is broken, so the features must come from the cache
    monkeypatch.setattr(settings, "cache_dir", tmp_path / "fresh")
    (tmp_path / "fresh" / "overpass").mkdir(parents=True)
    (tmp_path / "fresh" / "overpass" / cache_file.name).write_text(json.dumps(RESPONSE),
                                                                   encoding="utf-8")
    fake_overpass.fail_queries = True
    fake_overpass.log.clear()
    again = overpass.load_osm_overpass(AREA, overpass_url=fake_overpass.url)
    assert _posts(fake_overpass) == []
    for name in first.layers:
        assert list(again.layer(name)["osm_id"]) == list(first.layer(name)["osm_id"]), name
    assert again.osm_data_date == STAMP
    # and without the cache the broken server is an error, not an empty result
    monkeypatch.setattr(settings, "cache_dir", tmp_path / "empty")
    with pytest.raises(OfflineError, match="refused the query"):
        overpass.load_osm_overpass(AREA, overpass_url=fake_overpass.url)


def test_osmnx_settings_are_restored(fake_overpass):
    before = (ox.settings.cache_folder, ox.settings.use_cache, ox.settings.overpass_url)
    overpass.load_osm_overpass(AREA, overpass_url=fake_overpass.url, layers=["pois"])
    assert (ox.settings.cache_folder, ox.settings.use_cache, ox.settings.overpass_url) == before


def test_layer_subset_and_unknown_layers(fake_overpass):
    osm = overpass.load_osm_overpass(AREA, overpass_url=fake_overpass.url,
                                     layers=["transport", "water_a"])
    assert set(osm.layers) == {"transport"} and osm.layers_missing == ["water_a"]
    query = _posts(fake_overpass)[0]
    assert "'leisure'" not in query and "'place'" not in query
    # nothing Overpass can answer: no request at all
    fake_overpass.log.clear()
    none = overpass.load_osm_overpass(AREA, overpass_url=fake_overpass.url, layers=["water_a"])
    assert none.layers == {} and none.layers_missing == ["water_a"] and fake_overpass.log == []


def test_empty_response_gives_empty_layers(fake_overpass):
    fake_overpass.response = {**RESPONSE, "elements": []}
    osm = overpass.load_osm_overpass(AREA, overpass_url=fake_overpass.url)
    assert set(osm.layers) == {"transport", "transport_a", "railways", "pois", "pois_a",
                               "places", "places_a"}
    assert all(len(f) == 0 for f in osm.layers.values())


def test_offline_refuses_before_any_request(fake_overpass, monkeypatch):
    monkeypatch.setattr(settings, "offline", True)
    with pytest.raises(OfflineError, match="offline mode"):
        overpass.load_osm_overpass(AREA, overpass_url=fake_overpass.url)
    assert fake_overpass.log == []
    # even an area name is not resolved first
    with pytest.raises(OfflineError):
        overpass.load_osm_overpass("tongzhou", overpass_url=fake_overpass.url)


def test_unreachable_server_is_offline_error(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    with pytest.raises(OfflineError) as err:
        overpass.load_osm_overpass(AREA, overpass_url=url)
    assert url in str(err.value) and "\n" not in str(err.value)


def test_bad_area_arguments():
    with pytest.raises(DataError, match="area is None"):
        overpass.load_osm_overpass(None)
    with pytest.raises(DataError, match="must be a polygon"):
        overpass.load_osm_overpass(box(0, 0, 1, 1).exterior)


def _poly_lats(query):
    return [float(v) for v in query.split("poly:'")[1].split("'")[0].split()[0::2]]


def test_query_polygon_buffer_and_simplification(fake_overpass):
    kw = {"overpass_url": fake_overpass.url, "layers": ["pois"]}
    overpass.load_osm_overpass(AREA, simplify_m=0, **kw)
    overpass.load_osm_overpass(AREA, simplify_m=0, buffer_m=1000, **kw)
    exact, grown = _posts(fake_overpass)
    assert min(_poly_lats(exact)) == pytest.approx(39.85, abs=1e-6)
    assert min(_poly_lats(grown)) == pytest.approx(39.85 - 1000 / 111_000, abs=5e-4)
    # a wiggly 400-vertex boundary: simplified, far fewer vertices, still covering the area
    from shapely.geometry import Point

    wiggly = Point(116.68, 39.90).buffer(0.05, quad_segs=100)
    fake_overpass.log.clear()
    overpass.load_osm_overpass(wiggly, **kw)
    overpass.load_osm_overpass(wiggly, simplify_m=0, **kw)
    simple, full = (len(_poly_lats(q)) for q in _posts(fake_overpass))
    assert full > 300 and simple < full / 4
    poly = overpass.query_polygon(wiggly, 0, 500)
    assert poly.contains(wiggly)
    with pytest.raises(DataError, match="must be >= 0"):
        overpass.query_polygon(wiggly, -1, 0)


def test_load_osm_dispatches_to_overpass(fake_overpass, monkeypatch):
    from geo.areas import Area
    from geo.sources import load_osm

    monkeypatch.setattr(ox.settings, "overpass_url", fake_overpass.url)
    area = Area(name="测试区", name_en="Test", osm_id=None, geometry=AREA)
    osm = load_osm(area, source="overpass", layers=["transport_a", "pois_a"])
    assert list(osm.layer("transport_a")["name"]) == ["通运门"]
    assert list(osm.layer("pois_a")["fclass"]) == ["park"]
    assert osm.osm_data_date == STAMP and len(_posts(fake_overpass)) == 1
