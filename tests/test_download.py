"""geo.sources.download and `geo data fetch` against a local HTTP server on 127.0.0.1.

The server (written here) serves files from a dict, honours ``Range: bytes=N-`` with 206 and
``Content-Range``, and can misbehave on demand: ignore ranges, cut the body short, lie about
the total size, publish a wrong MD5.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import logging
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import pytest
from conftest import run_cli
from shapely.geometry import Point

from geo import settings
from geo.errors import DataError, DataNotFoundError, OfflineError, UnknownAreaError
from geo.sources import download as dl

PBF_PATH = "/asia/china/beijing-latest.osm.pbf"
ZIP_PATH = "/asia/china/beijing-latest-free.shp.zip"


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, self.headers.get("Range")))
        body = srv.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and not srv.ignore_range and not self.path.endswith(".md5"):
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            total = len(body) + srv.lie_total
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{total}")
        else:
            self.send_response(200)
        payload = body[start:]
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if srv.cut_after is not None and not self.path.endswith(".md5"):
            self.wfile.write(payload[: srv.cut_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(payload)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.ignore_range = False
        self.cut_after: int | None = None
        self.lie_total = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def publish(self, path: str, body: bytes, *, md5: str | None = None) -> None:
        self.files[path] = body
        digest = md5 or hashlib.md5(body).hexdigest()
        self.files[path + ".md5"] = f"{digest}  {path.rsplit('/', 1)[-1]}\n".encode()


def serve() -> Iterator[_Server]:
    """A running :class:`_Server` on 127.0.0.1 (stopped when the generator closes)."""
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def server():
    yield from serve()


def _payload(n=300_000, seed=7) -> bytes:
    import random

    return random.Random(seed).randbytes(n)


def _shapefile_zip(tmp_path: Path, *, date="2026-06-01T20:21:20Z", with_layer=True) -> bytes:
    src = tmp_path / "zipsrc"
    src.mkdir()
    if with_layer:
        gdf = gpd.GeoDataFrame({"osm_id": ["1", "2"], "code": [1001, 1001],
                                "fclass": ["city", "town"], "name": ["通州", "宋庄"]},
                               geometry=[Point(116.65, 39.90), Point(116.72, 39.95)],
                               crs="EPSG:4326")
        gdf.to_file(src / "gis_osm_places_free_1.shp", encoding="utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("README", f"This file contains OpenStreetMap data as of {date}. Every day\n")
        for p in sorted(src.iterdir()):
            zf.write(p, p.name)
    return buf.getvalue()


# --------------------------------------------------------------------------- areas and URLs

def test_region_and_urls_for_beijing_areas():
    for name in ("tongzhou", "Tongzhou", "通州区", "通州", "海淀", "Haidian District", "beijing"):
        assert dl.region_for_area(name) == "beijing"
    urls = dl.geofabrik_urls("tongzhou")
    assert urls == {
        "pbf": "https://download.geofabrik.de/asia/china/beijing-latest.osm.pbf",
        "shp": "https://download.geofabrik.de/asia/china/beijing-latest-free.shp.zip",
    }
    assert dl.geofabrik_urls("tongzhou", url_base="http://m/", what=["shp"]) == {
        "shp": "http://m/asia/china/beijing-latest-free.shp.zip"}
    with pytest.raises(UnknownAreaError, match="tongzhuo.*did you mean tongzhou"):
        dl.region_for_area("tongzhuo")
    with pytest.raises(UnknownAreaError, match="'shanghai'"):
        dl.region_for_area("shanghai")
    with pytest.raises(DataError, match="what 'osm'"):
        dl.geofabrik_urls("tongzhou", what=["osm"])


# --------------------------------------------------------------------------- download_file

def test_full_download_checks_md5_and_reports_progress(server, tmp_path):
    body = _payload()
    server.publish(PBF_PATH, body)
    seen = []
    res = dl.download_file(server.base + PBF_PATH, tmp_path / "b.pbf",
                           progress=lambda label, done, total: seen.append((label, done, total)))
    assert (tmp_path / "b.pbf").read_bytes() == body
    assert res.md5 == hashlib.md5(body).hexdigest() and res.size_bytes == len(body)
    assert not res.skipped and res.resumed_from_bytes == 0
    assert not (tmp_path / "b.pbf.part").exists()
    assert seen[-1] == ("b.pbf", len(body), len(body))
    assert [d for _, d, _ in seen] == sorted(d for _, d, _ in seen)
    # a second run finds the verified file and only asks for the checksum
    server.requests.clear()
    again = dl.download_file(server.base + PBF_PATH, tmp_path / "b.pbf")
    assert again.skipped and server.requests == [(PBF_PATH + ".md5", None)]


def test_resume_from_truncated_part_uses_range(server, tmp_path):
    body = _payload()
    server.publish(PBF_PATH, body)
    (tmp_path / "b.pbf.part").write_bytes(body[:123_456])
    res = dl.download_file(server.base + PBF_PATH, tmp_path / "b.pbf")
    assert res.resumed_from_bytes == 123_456
    assert (PBF_PATH, "bytes=123456-") in server.requests
    assert (tmp_path / "b.pbf").read_bytes() == body
    assert not (tmp_path / "b.pbf.part").exists()


def test_resume_when_server_ignores_range_downloads_whole_file(server, tmp_path):
    body = _payload()
    server.publish(PBF_PATH, body)
    server.ignore_range = True
    (tmp_path / "b.pbf.part").write_bytes(body[:1000])
    res = dl.download_file(server.base + PBF_PATH, tmp_path / "b.pbf")
    assert res.resumed_from_bytes == 0
    assert (tmp_path / "b.pbf").read_bytes() == body


def test_stale_part_from_older_file_is_discarded_and_restarted(server, tmp_path, caplog):
    body = _payload()
    server.publish(PBF_PATH, body)
    (tmp_path / "b.pbf.part").write_bytes(_payload(50_000, seed=99))  # yesterday's bytes
    with caplog.at_level(logging.WARNING, logger="geo.sources.download"):
        res = dl.download_file(server.base + PBF_PATH, tmp_path / "b.pbf")
    assert (tmp_path / "b.pbf").read_bytes() == body and res.resumed_from_bytes == 0
    assert "checksum mismatch after resuming" in caplog.text
    # an oversized .part gets HTTP 416 and is replaced too
    (tmp_path / "c.pbf.part").write_bytes(body + b"extra")
    dl.download_file(server.base + PBF_PATH, tmp_path / "c.pbf")
    assert (tmp_path / "c.pbf").read_bytes() == body


def test_checksum_mismatch_is_an_error_and_leaves_no_file(server, tmp_path):
    server.publish(PBF_PATH, _payload(), md5="0" * 32)
    with pytest.raises(DataError, match=r"checksum mismatch .*expected MD5 0{32}"):
        dl.download_file(server.base + PBF_PATH, tmp_path / "b.pbf")
    assert not (tmp_path / "b.pbf").exists() and not (tmp_path / "b.pbf.part").exists()


def test_body_cut_short_keeps_part_for_resume_and_no_final_file(server, tmp_path):
    body = _payload()
    server.publish(PBF_PATH, body)
    server.cut_after = 200_000
    with pytest.raises(OfflineError, match="interrupted .*run the same command again to resume"):
        dl.download_file(server.base + PBF_PATH, tmp_path / "b.pbf")
    assert not (tmp_path / "b.pbf").exists()
    part = (tmp_path / "b.pbf.part").read_bytes()  # whole chunks received before the break
    assert 0 < len(part) <= 200_000 and body.startswith(part)
    server.cut_after = None
    res = dl.download_file(server.base + PBF_PATH, tmp_path / "b.pbf")
    assert res.resumed_from_bytes == len(part) and (tmp_path / "b.pbf").read_bytes() == body


def test_size_mismatch_against_announced_total(server, tmp_path):
    body = _payload()
    server.publish(PBF_PATH, body)
    server.lie_total = 10  # Content-Range claims 10 more bytes than exist
    (tmp_path / "b.pbf.part").write_bytes(body[:5000])
    with pytest.raises(DataError, match=f"size mismatch, expected {len(body) + 10:,} bytes"):
        dl.download_file(server.base + PBF_PATH, tmp_path / "b.pbf", verify_md5=False)
    assert not (tmp_path / "b.pbf").exists() and not (tmp_path / "b.pbf.part").exists()


def test_server_down_is_offline_error_naming_url_and_fix(tmp_path):
    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}{PBF_PATH}"
    with pytest.raises(OfflineError) as err:
        dl.download_file(url, tmp_path / "b.pbf", timeout=2)
    msg = str(err.value)
    assert url in msg and "data_dir=DIR" in msg and "GEO_DATA_DIR" in msg and "\n" not in msg
    assert not (tmp_path / "b.pbf").exists()


def test_offline_setting_refuses_before_any_request(server, tmp_path, monkeypatch):
    server.publish(PBF_PATH, _payload())
    monkeypatch.setattr(settings, "offline", True)
    with pytest.raises(OfflineError, match="offline mode"):
        dl.fetch_geofabrik("tongzhou", data_dir=tmp_path, url_base=server.base)
    assert server.requests == []


def test_missing_file_is_data_not_found(server, tmp_path):
    with pytest.raises(DataNotFoundError, match="HTTP 404"):
        dl.download_file(server.base + PBF_PATH, tmp_path / "b.pbf")


# --------------------------------------------------------------------------- unzip

def test_fetch_unzips_shapefiles_where_the_data_layer_finds_them(server, tmp_path):
    from geo.sources.geofabrik import find_geofabrik_folder

    server.publish(PBF_PATH, _payload())
    server.publish(ZIP_PATH, _shapefile_zip(tmp_path))
    data = tmp_path / "data"
    res = dl.fetch_geofabrik("通州区", data_dir=data, url_base=server.base)
    assert res.region == "beijing" and set(res.downloads) == {"pbf", "shp"}
    assert res.shapefile_dir == data / "geofabrik-beijing-2026-06-01"
    assert (res.shapefile_dir / "gis_osm_places_free_1.shp").is_file()
    assert "as of 2026-06-01" in (res.shapefile_dir / "README.geofabrik").read_text()
    assert find_geofabrik_folder(data) == res.shapefile_dir
    places = gpd.read_file(res.shapefile_dir / "gis_osm_places_free_1.shp")
    assert sorted(places["name"]) == ["宋庄", "通州"]
    assert not [p for p in data.iterdir() if p.name.startswith(".")]  # no temp leftovers
    # running again downloads nothing and keeps the folder
    server.requests.clear()
    again = dl.fetch_geofabrik("tongzhou", data_dir=data, url_base=server.base)
    assert all(d.skipped for d in again.downloads.values())
    assert {p for p, _ in server.requests} == {PBF_PATH + ".md5", ZIP_PATH + ".md5"}


def test_unzip_rejects_bad_archives_without_leaving_folders(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable zip"):
        dl.unpack_shapefile_zip(bad, tmp_path, region="beijing")
    nolayer = tmp_path / "nolayer.zip"
    nolayer.write_bytes(_shapefile_zip(tmp_path, with_layer=False))
    with pytest.raises(DataError, match="no gis_osm_"):
        dl.unpack_shapefile_zip(nolayer, tmp_path, region="beijing")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("gis_osm_places_free_1.shp", b"x")
        zf.writestr("../escape.txt", b"x")
    with pytest.raises(DataError, match="unsafe path"):
        dl.unpack_shapefile_zip(evil, tmp_path, region="beijing")
    assert not (tmp_path.parent / "escape.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.is_dir() and "geofabrik" in p.name]


def test_unzip_failure_midway_leaves_no_target(tmp_path, monkeypatch):
    z = tmp_path / "ok.zip"
    z.write_bytes(_shapefile_zip(tmp_path))

    real_open = zipfile.ZipFile.open
    calls = []

    def boom(self, name, *args, **kwargs):
        calls.append(name)
        if len(calls) > 1:  # the first member is written, then the disk fills up
            raise OSError("disk full")
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", boom)
    with pytest.raises(OSError, match="disk full"):
        dl.unpack_shapefile_zip(z, tmp_path, region="beijing")
    assert not (tmp_path / "geofabrik-beijing-2026-06-01").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".geofabrik")]


# --------------------------------------------------------------------------- CLI

def test_cli_fetch_success_and_failure(server, tmp_path):
    body = _payload(50_000)
    server.publish(PBF_PATH, body)
    data = tmp_path / "new" / "data"
    env = {"GEO_OFFLINE": "0"}
    ok = run_cli("data", "fetch", "--area", "tongzhou", "--data-dir", str(data),
                 "--url-base", server.base, "--what", "pbf", env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert (data / "beijing-latest.osm.pbf").read_bytes() == body
    assert "pbf:" in ok.stdout and hashlib.md5(body).hexdigest() in ok.stdout

    server.publish(PBF_PATH, body + b"changed", md5="f" * 32)
    (data / "beijing-latest.osm.pbf").unlink()
    bad = run_cli("data", "fetch", "--area", "tongzhou", "--data-dir", str(data),
                  "--url-base", server.base, "--what", "pbf", env=env, timeout=120)
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: checksum mismatch"), bad.stderr
    assert not (data / "beijing-latest.osm.pbf").exists()

    unknown = run_cli("data", "fetch", "--area", "atlantis", "--data-dir", str(data),
                      "--url-base", server.base, env=env, timeout=120)
    assert unknown.returncode == 2 and "atlantis" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1


def test_cli_fetch_offline_flag_exits_2_with_hint(tmp_path):
    res = run_cli("--offline", "data", "fetch", "--area", "tongzhou", "--data-dir",
                  str(tmp_path), timeout=120)
    assert res.returncode == 2
    line = res.stderr.strip()
    assert "\n" not in line and "offline" in line and "GEO_DATA_DIR" in line
    assert "https://download.geofabrik.de/asia/china/beijing-latest.osm.pbf" in line


def test_complete_part_is_renamed_without_downloading_again(server, tmp_path):
    """A run killed between the last byte and the rename: the next run checks the .part
    against the published MD5 and keeps it (no 'Range' request, no second download)."""
    body = _payload()
    server.publish(PBF_PATH, body)
    (tmp_path / "b.pbf.part").write_bytes(body)
    server.requests.clear()
    res = dl.download_file(server.base + PBF_PATH, tmp_path / "b.pbf")
    assert (tmp_path / "b.pbf").read_bytes() == body and not (tmp_path / "b.pbf.part").exists()
    assert server.requests == [(PBF_PATH + ".md5", None)]
    assert res.resumed_from_bytes == len(body) and not res.skipped


# --------------------------------------------------------------------------- unzip limits

def _zip_with(tmp_path, members, name="x.zip"):
    """A zip of ``members``: (name, bytes) pairs or ZipInfo/bytes pairs."""
    z = tmp_path / name
    with zipfile.ZipFile(z, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("gis_osm_places_free_1.shp", b"shp")
        for info, data in members:
            zf.writestr(info, data)
    return z


def test_unzip_refuses_a_symlink_member(tmp_path):
    info = zipfile.ZipInfo("layers")
    info.external_attr = (0o120777 << 16)  # a symbolic link to /etc
    z = _zip_with(tmp_path, [(info, b"/etc")])
    with pytest.raises(DataError, match="symbolic link"):
        dl.unpack_shapefile_zip(z, tmp_path, region="beijing")
    assert not [p for p in tmp_path.iterdir() if "geofabrik" in p.name]


def test_unzip_refuses_a_high_compression_ratio(tmp_path):
    z = _zip_with(tmp_path, [("bomb.dbf", b"\0" * 5_000_000)])  # ~1000:1
    with pytest.raises(DataError, match="compression ratio"):
        dl.unpack_shapefile_zip(z, tmp_path, region="beijing")


def test_unzip_refuses_too_many_members_and_too_many_bytes(tmp_path, monkeypatch):
    z = _zip_with(tmp_path, [(f"m{i}.txt", b"x") for i in range(20)])
    monkeypatch.setattr(dl, "ZIP_MAX_MEMBERS", 10)
    with pytest.raises(DataError, match="21 members"):
        dl.unpack_shapefile_zip(z, tmp_path, region="beijing")
    monkeypatch.setattr(dl, "ZIP_MAX_MEMBERS", 10_000)
    monkeypatch.setattr(dl, "ZIP_MAX_TOTAL_BYTES", 10)
    with pytest.raises(DataError, match="more than 10 bytes"):
        dl.unpack_shapefile_zip(z, tmp_path, region="beijing")


def test_unpacked_data_gets_umask_permissions(tmp_path):
    import os

    from geo.io import current_umask

    z = tmp_path / "ok.zip"
    z.write_bytes(_shapefile_zip(tmp_path))
    target = dl.unpack_shapefile_zip(z, tmp_path, region="beijing")
    assert target.stat().st_mode & 0o777 == 0o777 & ~current_umask()  # not mkdtemp's 0700
    for f in target.rglob("*"):
        assert f.stat().st_mode & 0o777 == (0o777 if f.is_dir() else 0o666) & ~current_umask(), f
    assert os.access(target, os.R_OK)
