"""Download Geofabrik extracts (PBF and free shapefile zip) with resume and checksums.

``fetch_geofabrik("tongzhou", data_dir=...)`` puts ``beijing-latest.osm.pbf`` and a folder
``geofabrik-beijing-<date>/`` (the unzipped ``gis_osm_*_free_1.shp`` layers) into the data
directory, where :mod:`geo.sources.geofabrik` finds them.

Every file goes through :func:`download_file`:

* resume: bytes arrive in ``<file>.part``; a later run asks for the rest with an HTTP
  ``Range`` request (a server that ignores it sends the whole file, which is fine);
* checks: the size must equal ``Content-Length`` (or the ``Content-Range`` total) and the MD5
  must equal the one Geofabrik publishes next to each file (``<file>.md5``);
* atomic: only a complete, verified ``.part`` is renamed onto the final name, so a failed or
  interrupted download never leaves a file that looks finished;
* progress is reported through a callback (the CLI draws the bar; this module never prints).

Offline (``geo.settings.offline``) refuses before any request; an unreachable server raises
:class:`~geo.errors.OfflineError` naming the URL and the offline alternative.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo import settings
from geo.errors import DataError, DataNotFoundError, OfflineError, UnknownAreaError
from geo.io import check_output, default_permissions
from geo.validate import check_url

log = logging.getLogger(__name__)

#: Geofabrik's download server (``url_base`` replaces it, e.g. with a mirror).
GEOFABRIK_BASE = "https://download.geofabrik.de"
#: Geofabrik region paths, by region key.
REGIONS = {"beijing": "asia/china/beijing"}
#: File name suffixes per kind (``--what``), appended to the region path.
KINDS = {"pbf": "-latest.osm.pbf", "shp": "-latest-free.shp.zip"}

#: Progress callback: ``progress(label, done_bytes, total_bytes_or_None)``.
ProgressCallback = Callable[[str, int, "int | None"], None]

# Beijing's 16 districts (Chinese, pinyin) and the city itself: all are inside the Beijing
# extract.
_BEIJING_DISTRICTS = {
    "东城": "dongcheng", "西城": "xicheng", "朝阳": "chaoyang", "丰台": "fengtai",
    "石景山": "shijingshan", "海淀": "haidian", "门头沟": "mentougou", "房山": "fangshan",
    "通州": "tongzhou", "顺义": "shunyi", "昌平": "changping", "大兴": "daxing",
    "怀柔": "huairou", "平谷": "pinggu", "密云": "miyun", "延庆": "yanqing",
}
_AREA_REGION: dict[str, str] = {"beijing": "beijing", "北京": "beijing", "北京市": "beijing",
                                "beijing city": "beijing", "beijing municipality": "beijing"}
for _zh, _py in _BEIJING_DISTRICTS.items():
    for _key in (_zh, _zh + "区", _py, _py + " district", _py + "qu"):
        _AREA_REGION[_key] = "beijing"

_CHUNK = 1 << 16  # 64 KiB: a broken connection loses at most this much of the .part
_MD5_RE = re.compile(r"^\s*([0-9a-fA-F]{32})\b")
_README_DATE_RE = re.compile(r"as of (\d{4}-\d{2}-\d{2})")


@dataclass
class DownloadResult:
    """What :func:`download_file` did.

    Attributes
    ----------
    url : str
    path : Path
        The final, verified file.
    size_bytes : int
    md5 : str or None
        MD5 of the file (hex), verified against the published one when that was checked.
    resumed_from_bytes : int
        Bytes already in the ``.part`` file when the transfer that completed it began.
    skipped : bool
        True when the final file already existed with the published checksum.
    """

    url: str
    path: Path
    size_bytes: int
    md5: str | None
    resumed_from_bytes: int = 0
    skipped: bool = False


# --------------------------------------------------------------------------- areas and URLs

def region_for_area(area: str) -> str:
    """The Geofabrik region key for an area name ("tongzhou", "通州区", "beijing" -> "beijing")."""
    key = re.sub(r"\s+", " ", str(area).strip().lower())
    if len(key) > 200:
        raise UnknownAreaError(f"area name of {len(key):,} characters has no known Geofabrik "
                               "extract: give a district such as tongzhou, or beijing")
    if key in _AREA_REGION:
        return _AREA_REGION[key]
    close = difflib.get_close_matches(key, list(_AREA_REGION), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UnknownAreaError(
        f"area {area!r} has no known Geofabrik extract: 'geo data fetch' knows the 16 Beijing "
        f"districts (e.g. tongzhou, 通州区) and beijing{hint}")


def geofabrik_urls(area: str, *, url_base: str = GEOFABRIK_BASE,
                   what: Iterable[str] = ("pbf", "shp")) -> dict[str, str]:
    """URLs of the Geofabrik files for ``area``, keyed by kind ("pbf", "shp")."""
    check_url(url_base, what="url_base", example=GEOFABRIK_BASE)
    region = REGIONS[region_for_area(area)]
    out = {}
    what = list(what)
    if not what:
        raise DataError("what is empty: expected a comma-separated subset of "
                        f"{', '.join(KINDS)}")
    for kind in what:
        if kind not in KINDS:
            raise DataError(f"what {kind!r} is not a file kind: expected a comma-separated "
                            f"subset of {', '.join(KINDS)}")
        out[kind] = f"{url_base.rstrip('/')}/{region}{KINDS[kind]}"
    return out


# --------------------------------------------------------------------------- HTTP

def _offline_hint(url: str) -> str:
    return (f"use the offline data bundle instead (data_dir=DIR or GEO_DATA_DIR), or download "
            f"{url} by hand into the data directory")


def _check_online(url: str) -> None:
    if settings.offline:
        raise OfflineError(f"offline mode (settings.offline / GEO_OFFLINE) forbids downloading {url}: "
                           f"{_offline_hint(url)}")


def _get(session: Any, url: str, *, headers: dict[str, str] | None = None, stream: bool = False,
         timeout: float | tuple[float, float] = (10, 60)) -> Any:
    """GET with connection failures turned into OfflineError and HTTP errors into GeoErrors."""
    import requests

    try:
        resp = session.get(url, headers=headers or {}, stream=stream, timeout=timeout)
    except requests.exceptions.RequestException as exc:
        raise OfflineError(f"cannot reach {url} ({type(exc).__name__}): check the network or "
                           f"proxy, or {_offline_hint(url)}") from exc
    if resp.status_code in (404, 410):
        resp.close()
        raise DataNotFoundError(f"{url} does not exist on the server (HTTP {resp.status_code}): "
                                f"check area= and url_base=")
    if resp.status_code >= 400 and resp.status_code != 416:
        resp.close()
        raise OfflineError(f"download of {url} failed: HTTP {resp.status_code} "
                           f"{resp.reason or ''}".rstrip() + f"; try again later, or "
                           f"{_offline_hint(url)}")
    return resp


def fetch_md5(url: str, *, session: Any = None) -> str:
    """The MD5 hex digest Geofabrik publishes for ``url`` (in ``url + '.md5'``)."""
    import requests

    _check_online(url)
    session = session or requests.Session()
    resp = _get(session, url + ".md5")
    m = _MD5_RE.match(resp.text)
    if not m:
        raise DataError(f"checksum file {url}.md5 does not start with an MD5 hex digest "
                        f"(got {resp.text[:40]!r})")
    return m.group(1).lower()


def md5_of(path: str | os.PathLike[str]) -> str:
    """MD5 hex digest of a file."""
    h = hashlib.md5(usedforsecurity=False)  # integrity check against the published MD5
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


_CONTENT_RANGE_RE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def _transfer(session: Any, url: str, part: Path, label: str,
              progress: ProgressCallback | None, timeout: Any) -> tuple[int, int | None]:
    """Fill ``part`` with the file at ``url`` (resuming); return (resumed_from, expected_size)."""
    import requests

    for _attempt in range(2):
        start = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={start}-"} if start else {}
        resp = _get(session, url, headers=headers, stream=True, timeout=timeout)
        if resp.status_code == 416:  # the .part is not a prefix of the current file
            resp.close()
            log.warning("server refused to resume %s from byte %d; starting again", url, start)
            part.unlink()
            continue
        total: int | None
        if start and resp.status_code == 206:
            m = _CONTENT_RANGE_RE.match(resp.headers.get("Content-Range", ""))
            if not m or int(m.group(1)) != start:
                resp.close()
                log.warning("server answered the resume of %s with an unexpected range %r; "
                            "starting again", url, resp.headers.get("Content-Range"))
                part.unlink()
                continue
            total = int(m.group(3)) if m.group(3) != "*" else None
            mode = "ab"
            log.info("resuming %s at byte %d", url, start)
        else:
            if start:
                log.info("server ignored the range request for %s; downloading it whole", url)
            start = 0
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            mode = "wb"
        done = start
        try:
            with resp, open(part, mode) as fh:
                if progress:
                    progress(label, done, total)
                for chunk in resp.iter_content(chunk_size=_CHUNK):
                    fh.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(label, done, total)
        except requests.exceptions.RequestException as exc:
            raise OfflineError(
                f"download of {url} was interrupted after {done:,} of "
                f"{total if total is not None else '?'} bytes ({type(exc).__name__}): run the "
                f"same command again to resume from {part.name}") from exc
        return start, total
    raise DataError(f"download of {url}: the server would not serve the file after discarding "
                    f"the partial download {part}; try again later")


def download_file(
    url: str,
    dest: str | os.PathLike[str],
    *,
    progress: ProgressCallback | None = None,
    verify_md5: bool = True,
    session: Any = None,
    timeout: float | tuple[float, float] = (10, 60),
) -> DownloadResult:
    """Download ``url`` to ``dest`` with resume, size and MD5 checks, and an atomic rename.

    Parameters
    ----------
    url : str
    dest : path
        Final file name; bytes collect in ``dest + '.part'`` until verified.
    progress : callable, optional
        Called as ``progress(label, done_bytes, total_bytes_or_None)`` while bytes arrive.
    verify_md5 : bool
        Fetch ``url + '.md5'`` first and require the file to match it (default). An existing
        ``dest`` with that checksum is kept and not downloaded again.
    timeout : float or (connect_s, read_s)
        Seconds before a silent server counts as unreachable.

    Raises
    ------
    OfflineError
        Offline mode, server unreachable, or the transfer broke off (the ``.part`` file is
        kept so the next run resumes).
    DataError
        Size or checksum mismatch (the bad ``.part`` is removed; nothing is renamed).
    DataNotFoundError
        The server has no such file (HTTP 404).
    """
    import requests

    _check_online(url)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    session = session or requests.Session()
    expected_md5 = fetch_md5(url, session=session) if verify_md5 else None

    if expected_md5 and dest.is_file() and md5_of(dest) == expected_md5:
        log.info("%s is already present with the published checksum", dest)
        return DownloadResult(url, dest, dest.stat().st_size, expected_md5, 0, True)
    if expected_md5 and part.is_file() and md5_of(part) == expected_md5:
        # the previous run received every byte but stopped before the rename
        size = part.stat().st_size
        os.replace(part, dest)
        log.info("%s was complete and matches the published checksum; renamed", part)
        return DownloadResult(url, dest, size, expected_md5, size, False)

    for attempt in range(2):
        resumed_from, total = _transfer(session, url, part, dest.name, progress, timeout)
        size = part.stat().st_size
        if total is not None and size != total:
            part.unlink()
            raise DataError(f"download of {url}: size mismatch, expected {total:,} bytes "
                            f"(Content-Length) but received {size:,}; the partial file was "
                            f"removed: run the command again")
        got = md5_of(part) if expected_md5 else None
        if expected_md5 and got != expected_md5:
            part.unlink()
            if resumed_from and attempt == 0:
                # A .part from an older version of the file (Geofabrik updates daily) plus the
                # tail of the new one: start once more from scratch.
                log.warning("checksum mismatch after resuming %s; downloading it whole", url)
                continue
            raise DataError(f"checksum mismatch for {url}: expected MD5 {expected_md5} (from "
                            f"{url}.md5) but got {got}; the download was discarded: run the "
                            f"command again")
        os.replace(part, dest)
        log.info("downloaded %s (%d bytes) to %s", url, size, dest)
        return DownloadResult(url, dest, size, got, resumed_from, False)
    raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- unzip

def _zip_date(zf: zipfile.ZipFile) -> str:
    for info in zf.infolist():
        if Path(info.filename).name.upper().startswith("README"):
            m = _README_DATE_RE.search(zf.read(info).decode("utf-8", errors="replace"))
            if m:
                return m.group(1)
    newest = max((i.date_time for i in zf.infolist()), default=None)
    if newest is None:
        raise DataError(f"zip file {zf.filename} is empty: delete it and download it again")
    return "{:04d}-{:02d}-{:02d}".format(*newest[:3])


#: Limits on what a zip may unpack to (a hostile mirror's zip bomb is refused, not unpacked).
#: Beijing's free shapefiles unpack to ~0.6 GB in ~60 members; China's to ~12 GB.
ZIP_MAX_TOTAL_BYTES = 20 * 1024**3
ZIP_MAX_MEMBERS = 10_000
ZIP_MAX_RATIO = 200.0


def check_zip_members(zf: zipfile.ZipFile, zip_path: str | os.PathLike[str], *,
                      max_total_bytes: int | None = None, max_members: int | None = None,
                      max_ratio: float | None = None) -> None:
    """Refuse (DataError) a zip with unsafe paths, symlinks or special files, too many members,
    too large an unpacked size or a compression ratio beyond ``max_ratio`` (a zip bomb).

    Defaults are the module's ``ZIP_MAX_*`` values (read at call time, so tests can lower them).
    """
    max_total_bytes = ZIP_MAX_TOTAL_BYTES if max_total_bytes is None else max_total_bytes
    max_members = ZIP_MAX_MEMBERS if max_members is None else max_members
    max_ratio = ZIP_MAX_RATIO if max_ratio is None else max_ratio
    infos = zf.infolist()
    if len(infos) > max_members:
        raise DataError(f"{zip_path} has {len(infos):,} members (limit {max_members:,}): it is "
                        "not a Geofabrik extract; delete it and download it from a trusted "
                        "server")
    total = 0
    for info in infos:
        n = info.filename
        p = Path(n)
        if p.is_absolute() or ".." in p.parts or n.startswith(("/", "\\")) or ":" in p.parts[0]:
            raise DataError(f"{zip_path} contains an unsafe path {n!r}; refusing to unzip")
        mode = (info.external_attr >> 16) & 0o170000
        if mode not in (0, 0o100000, 0o040000):  # only plain files and folders
            raise DataError(f"{zip_path} member {n!r} is a symbolic link or special file; "
                            "refusing to unzip (links are never followed)")
        total += info.file_size
        if total > max_total_bytes:
            raise DataError(f"{zip_path} would unpack to more than {max_total_bytes:,} bytes: "
                            "refusing (a zip bomb or not a Geofabrik extract)")
        if info.file_size > 1_000_000 and info.file_size > max_ratio * max(info.compress_size, 1):
            raise DataError(f"{zip_path} member {n!r} has compression ratio "
                            f"{info.file_size / max(info.compress_size, 1):,.0f}:1 (limit "
                            f"{max_ratio:g}:1): refusing (a zip bomb)")


def _extract_limited(zf: zipfile.ZipFile, dest: Path, zip_path: Path) -> None:
    """Extract member by member, counting the bytes actually written (headers can lie)."""
    budget = sum(i.file_size for i in zf.infolist())
    written = 0
    for info in zf.infolist():
        out = dest / info.filename
        if info.is_dir():
            out.mkdir(parents=True, exist_ok=True)
            continue
        out.parent.mkdir(parents=True, exist_ok=True)
        with zf.open(info) as src, open(out, "wb") as dst:
            while chunk := src.read(1 << 20):
                written += len(chunk)
                if written > budget:
                    raise DataError(f"{zip_path} unpacks to more bytes than its headers "
                                    "declare: refusing (a tampered zip)")
                dst.write(chunk)


def unpack_shapefile_zip(zip_path: str | os.PathLike[str],
                         data_dir: str | os.PathLike[str], *, region: str) -> Path:
    """Unzip a Geofabrik free-shapefile zip into ``data_dir/geofabrik-<region>-<date>/``.

    The date is the OSM data date from the zip's README ("as of YYYY-MM-DD..."), else the
    newest member date. Extraction goes to a temporary folder that is renamed into place only
    when complete (with umask permissions, not mkdtemp's 0700); an existing complete folder of
    the same name is kept. Members are checked first (:func:`check_zip_members`: no unsafe
    paths, no symlinks, limits on count, total size and compression ratio).
    """
    zip_path, data_dir = Path(zip_path), Path(data_dir)
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{zip_path} is not a readable zip file ({exc}): delete it and run "
                        f"'geo data fetch' again") from exc
    with zf:
        check_zip_members(zf, zip_path)
        names = zf.namelist()
        if not any(re.fullmatch(r"gis_osm_[a-z_]+_free_1\.shp", Path(n).name) for n in names):
            raise DataError(f"{zip_path} holds no gis_osm_*_free_1.shp layer: it is not a "
                            f"Geofabrik free shapefile extract")
        target = data_dir / f"geofabrik-{region}-{_zip_date(zf)}"
        if target.exists():
            if any(target.glob("gis_osm_*_free_1.shp")) or any(target.glob("*/gis_osm_*_free_1.shp")):
                log.info("%s already unpacked; keeping it", target)
                return target
            raise DataError(f"{target} exists but holds no shapefile layers: move it away and "
                            f"run 'geo data fetch' again")
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=data_dir))
        try:
            _extract_limited(zf, tmp, zip_path)
            readmes = [p for p in tmp.rglob("README*") if p.is_file()]
            if readmes and not (tmp / "README.geofabrik").exists():
                shutil.copyfile(readmes[0], tmp / "README.geofabrik")
            default_permissions(tmp, recursive=True)  # mkdtemp made it 0700
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    log.info("unpacked %s into %s", zip_path, target)
    return target


# --------------------------------------------------------------------------- the whole job

@dataclass
class FetchResult:
    """What :func:`fetch_geofabrik` produced: the downloads and the unpacked folder, if any."""

    region: str
    downloads: dict[str, DownloadResult]
    shapefile_dir: Path | None = None


def fetch_geofabrik(
    area: str,
    *,
    data_dir: str | os.PathLike[str],
    url_base: str = GEOFABRIK_BASE,
    what: Iterable[str] = ("pbf", "shp"),
    progress: ProgressCallback | None = None,
    timeout: float | tuple[float, float] = (10, 60),
) -> FetchResult:
    """Download the Geofabrik extract(s) covering ``area`` into ``data_dir`` and unzip shapefiles.

    ``what`` selects "pbf" (``<region>-latest.osm.pbf``) and/or "shp"
    (``<region>-latest-free.shp.zip``, unpacked to ``geofabrik-<region>-<date>/``).
    """
    import requests

    region = region_for_area(area)
    urls = geofabrik_urls(area, url_base=url_base, what=what)
    check_output(data_dir, kind="folder", what="data_dir")  # before any download
    first = next(iter(urls.values()), url_base)
    _check_online(first)
    data_dir = check_output(data_dir, kind="folder", what="data_dir")
    data_dir.mkdir(parents=True, exist_ok=True)
    downloads: dict[str, DownloadResult] = {}
    shp_dir = None
    with requests.Session() as session:
        for kind, url in urls.items():
            dest = data_dir / url.rsplit("/", 1)[-1]
            downloads[kind] = download_file(url, dest, progress=progress, session=session,
                                            timeout=timeout)
            if kind == "shp":
                shp_dir = unpack_shapefile_zip(dest, data_dir, region=region)
    return FetchResult(region, downloads, shp_dir)


with contextlib.suppress(NameError):  # keep the helper names private to this module
    del _zh, _py, _key
