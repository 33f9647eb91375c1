"""The bad-input corpus (issue 13): hostile and careless input through the real CLI.

Every case runs ``geo ...`` (in-process through :func:`geo.cli.main`, and a sample in a
subprocess) inside a private workspace the test builds (a tiny data folder, claim files,
scenarios, zips) and checks the promises of the README's "Reliability" section:

* exit code 0 or 2 (never 1, a bug), no traceback without ``-v``;
* a refusal is exactly one ``error:`` line on stderr;
* no file outside the command's outputs changes (files, sizes, mtimes and hashes are compared
  before and after), and a refused command leaves no partial output at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tinydata import make_data_dir

from geo import settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# ----------------------------------------------------------------------------- the workspace

SEED = "北京城市副中心规划\n公园绿地服务半径覆盖率达到 90%\n第三行\n"

GOOD_CLAIM = """schema_version = 1
document_title = "北京城市副中心规划"
[[claims]]
id = "C99"
title_zh = "{title}"
title_en = "Parks near everyone"
quote = "{quote}"
source = {{ document = "{document}", line = {line} }}
target = {{ value = 0.9, comparator = ">=", unit = "share", year = 2030 }}
binding = "none"
metric = "share_within_distance"
parameters = {{ threshold_m = {threshold_m}, facility_kind = "park", denominator = "population", mode = "straight_line" }}
"""

DRIVE_CLAIM = """schema_version = 1
document_title = "北京城市副中心规划"
[[claims]]
id = "C98"
title_zh = "消防"
title_en = "Fire"
quote = "公园绿地"
source = { document = "plan.txt", line = 2 }
target = { value = 1.0, comparator = ">=", unit = "share", year = 2030 }
binding = "none"
metric = "drive_time_share"
parameters = { threshold_min = 0, facility_kind = "fire_station", speed_profile = "fire", direction = "from_facility", denominator = "area" }
"""


def claim_text(*, title="公园", quote="公园绿地", document="plan.txt", line=2,
               threshold_m="500") -> str:
    return GOOD_CLAIM.format(title=title, quote=quote, document=document, line=line,
                             threshold_m=threshold_m)


def feature_collection(geometry: dict | None, **extra) -> str:
    return json.dumps({"type": "FeatureCollection", **extra, "features": [
        {"type": "Feature", "properties": {"name": "x"}, "geometry": geometry}]})


def square(lon0=116.55, lat0=39.77, d=0.02) -> dict:
    return {"type": "Polygon", "coordinates": [[[lon0, lat0], [lon0 + d, lat0],
                                                [lon0 + d, lat0 + d], [lon0, lat0 + d],
                                                [lon0, lat0]]]}


def _zip(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for info, data in members:
            zf.writestr(info, data)


def build_workspace(ws: Path) -> None:
    """Write every input the cases use into ``ws`` (a few hundred KB, built in ~1 s)."""
    data = make_data_dir(ws / "data")
    shp = next(data.glob("osm-*/gis_osm_adminareas_a_free_1.shp"))
    # data folders: empty, a file, truncated admin layer, missing .shx/.dbf, garbage .shp
    (ws / "empty-data").mkdir()
    (ws / "a-file").write_text("not a folder")
    for name, mutate in {
        "trunc": lambda d: _truncate(d / shp.name, shp.stat().st_size // 2),
        "noshx": lambda d: (d / shp.with_suffix(".shx").name).unlink(),
        "nodbf": lambda d: (d / shp.with_suffix(".dbf").name).unlink(),
        "garbage": lambda d: (d / shp.name).write_bytes(b"\0garbage" * 40),
        "zero": lambda d: (d / shp.name).write_bytes(b""),
        "nopois": lambda d: [f.unlink() for layer in ("pois", "pois_a", "railways")
                             for f in d.glob(f"gis_osm_{layer}_free_1.*")],
    }.items():
        copy = ws / f"data-{name}"
        _copytree(data, copy)
        mutate(next(copy.glob("osm-*")))
    # areas (GeoJSON)
    areas = ws / "areas"
    areas.mkdir()
    world = {"type": "Polygon", "coordinates": [[[-180, -90], [180, -90], [180, 90],
                                                  [-180, 90], [-180, -90]]]}
    files = {
        "ok.geojson": feature_collection(square()),
        "world.geojson": feature_collection(world),
        "faraway.geojson": feature_collection(square(-70.0, -30.0)),
        "nan.geojson": feature_collection(square()).replace("116.55,", "NaN,", 1),
        "inf.geojson": feature_collection(square()).replace("116.55,", "1e999,", 1),
        "crslist.geojson": feature_collection(square(), crs={"type": "name",
                                                             "properties": ["EPSG:4326"]}),
        "crsstr.geojson": feature_collection(square(), crs="EPSG:4326"),
        "crsbad.geojson": feature_collection(square(), crs={"type": "name", "properties": {
            "name": "urn:ogc:def:crs:EPSG::999999"}}),
        "hexagon.geojson": feature_collection({"type": "Hexagon", "coordinates": [[0, 0]]}),
        "point.geojson": feature_collection({"type": "Point", "coordinates": [116.6, 39.8]}),
        "line.geojson": feature_collection({"type": "LineString",
                                            "coordinates": [[116.6, 39.8], [116.7, 39.9]]}),
        "nullgeom.geojson": feature_collection(None),
        "nofeatures.geojson": json.dumps({"type": "FeatureCollection", "features": []}),
        "empty.geojson": "",
        "notjson.geojson": "{not json",
        "array.geojson": "[1, 2, 3]",
        "string.geojson": '"hello"',
        "deep.geojson": "[" * 200_000 + "]" * 200_000,
        "deepobj.geojson": '{"a":' * 100_000 + "1" + "}" * 100_000,
        "binary.geojson": None,
        "latin1.geojson": None,
        "huge-coords.geojson": feature_collection(square(1e300, 1e300, 1e300)),
        "projected.geojson": feature_collection(square(460_000, 4_400_000, 5_000)),
        "bowtie.geojson": feature_collection({"type": "Polygon", "coordinates": [[
            [116.55, 39.77], [116.6, 39.82], [116.6, 39.77], [116.55, 39.82], [116.55, 39.77]]]}),
        "tiny.geojson": feature_collection(square(d=1e-9)),
        "ring2.geojson": feature_collection({"type": "Polygon",
                                             "coordinates": [[[116.6, 39.8], [116.7, 39.8]]]}),
        "strcoords.geojson": feature_collection({"type": "Polygon", "coordinates": "abc"}),
        "geometry-only.geojson": json.dumps(square()),
        "bigname.geojson": feature_collection(square()).replace('"x"', json.dumps("区" * 50_000)),
    }
    for name, text in files.items():
        if text is not None:
            (areas / name).write_text(text, encoding="utf-8")
    (areas / "binary.geojson").write_bytes(bytes(range(256)) * 8)
    (areas / "latin1.geojson").write_bytes(feature_collection(square()).replace(
        '"x"', '"caf\u00e9"').encode("latin-1"))
    (areas / "folder.geojson").mkdir()
    # claim files and their seeds folder
    seeds = ws / "seeds"
    seeds.mkdir()
    (seeds / "plan.txt").write_text(SEED, encoding="utf-8")
    (seeds / "binary.txt").write_bytes(b"\x00\x01\x02PK" * 100)
    (seeds / "gbk.txt").write_bytes("公园绿地".encode("gbk"))
    (ws / "secret.txt").write_text("root:x:0:0\n公园绿地 secret\n", encoding="utf-8")
    with contextlib.suppress(OSError):
        (seeds / "link.txt").symlink_to(ws / "secret.txt")
    claims = ws / "claims"
    claims.mkdir()
    cfiles = {
        "ok.toml": claim_text(),
        "markup.toml": claim_text(title="[/][bold red]公园[/]"),
        # terminal escape sequences (TOML escapes: the file itself is plain text)
        "escapes.toml": claim_text(title="\\u001b[2J\\u001b]0;pwned\\u0007公园\\u009b31m"),
        "passwd.toml": claim_text(document="../../../../../../etc/passwd", line=1,
                                  quote="root"),
        "abs.toml": claim_text(document="/etc/passwd", line=1, quote="root"),
        "abs-secret.toml": claim_text(document=str(ws / "secret.txt"), quote="secret"),
        "dotdot.toml": claim_text(document="../secret.txt", quote="secret"),
        "link.toml": claim_text(document="link.txt", quote="secret"),
        "binary-doc.toml": claim_text(document="binary.txt", line=1, quote="PK"),
        "gbk-doc.toml": claim_text(document="gbk.txt", line=1),
        "missing-doc.toml": claim_text(document="nope.txt"),
        "folder-doc.toml": claim_text(document=".", line=1),
        "wrong-quote.toml": claim_text(quote="不存在的句子"),
        "wrong-line.toml": claim_text(line=3),
        "past-end.toml": claim_text(line=999),
        "huge-threshold.toml": claim_text(threshold_m="1e300"),
        "inf-threshold.toml": claim_text(threshold_m="inf"),
        "nan-threshold.toml": claim_text(threshold_m="nan"),
        "neg-threshold.toml": claim_text(threshold_m="-5"),
        "zero-threshold.toml": claim_text(threshold_m="0"),
        "str-threshold.toml": claim_text(threshold_m='"far"'),
        "drive-zero.toml": DRIVE_CLAIM,
        "invalid.toml": "[[claims]\nid = ",
        "empty.toml": "",
        "no-claims.toml": "schema_version = 1\n",
        "binary.toml": None,
        "deep.toml": "a = " + "[" * 100_000 + "]" * 100_000 + "\n",
        "unknown-metric.toml": claim_text().replace("share_within_distance", "magic"),
        "unknown-key.toml": claim_text() + 'colour = "red"\n',
        "dup-id.toml": claim_text() + claim_text().replace("schema_version = 1\n", ""),
        "bad-comparator.toml": claim_text().replace('">="', '"=>"'),
        "bad-line.toml": claim_text(line=0),
        "neg-line.toml": claim_text(line=-3),
        "big-title.toml": claim_text(title="公" * 100_000),
    }
    for name, text in cfiles.items():
        if text is not None:
            (claims / name).write_text(text, encoding="utf-8")
    (claims / "binary.toml").write_bytes(bytes(range(256)) * 4)
    # plan texts for claims extract
    (ws / "plan-binary.txt").write_bytes(b"\x00\xff" * 500)
    (ws / "plan-gbk.txt").write_bytes("公园绿地覆盖率达到 90%".encode("gbk"))
    (ws / "plan-empty.txt").write_text("")
    (ws / "plan-ok.txt").write_text("公园绿地服务半径覆盖率达到 90%。\n", encoding="utf-8")
    # scenarios
    scen = ws / "scenarios"
    scen.mkdir()

    def scenario(props: dict, geom: dict | None = None) -> str:
        return json.dumps({"type": "FeatureCollection", "datum": "wgs84", "features": [{
            "type": "Feature", "properties": {"name": "新设施", **props},
            "geometry": geom or {"type": "Point", "coordinates": [116.6, 39.8]}}]})

    sfiles = {
        "nan-area.geojson": scenario({"action": "add", "kind": "park", "area_ha": float("nan")}),
        "neg-area.geojson": scenario({"action": "add", "kind": "park", "area_ha": -3}),
        "str-area.geojson": scenario({"action": "add", "kind": "park", "area_ha": "big"}),
        "bad-kind.geojson": scenario({"action": "add", "kind": "castle"}),
        "bad-action.geojson": scenario({"action": "explode", "kind": "park"}),
        "no-action.geojson": scenario({"kind": "park"}),
        "nan-point.geojson": scenario({"action": "add", "kind": "fire_station"},
                                      {"type": "Point", "coordinates": [float("nan"), 39.8]}),
        "hexagon.geojson": scenario({"action": "add", "kind": "fire_station"},
                                    {"type": "Hexagon", "coordinates": [1, 2]}),
        "far.geojson": scenario({"action": "add", "kind": "fire_station"},
                                {"type": "Point", "coordinates": [0.0, 0.0]}),
        "remove-unknown.geojson": scenario({"action": "remove", "kind": "fire_station",
                                            "osm_id": "999999999"}),
        "empty.geojson": "",
        "deep.geojson": "[" * 200_000 + "]" * 200_000,
        "notjson.geojson": "{",
        "crslist.geojson": scenario({"action": "add", "kind": "fire_station"}).replace(
            '"features"', '"crs": {"type": "name", "properties": [1]}, "features"'),
        "no-datum.geojson": scenario({"action": "add", "kind": "park"}).replace(
            '"datum": "wgs84", ', ''),
    }
    for name, text in sfiles.items():
        (scen / name).write_text(text, encoding="utf-8")
    (scen / "binary.geojson").write_bytes(bytes(range(256)))
    # networks
    nets = ws / "networks"
    nets.mkdir()
    (nets / "empty.osm.pbf").write_bytes(b"")
    (nets / "garbage.osm.pbf").write_bytes(b"\x00garbage" * 100)
    (nets / "garbage.osm").write_text("<osm><node id='1' lat='x' lon='y'/>")
    (nets / "notxml.osm").write_text("hello")
    (nets / "no-roads.osm").write_text("<?xml version='1.0'?><osm version='0.6'>"
                                       "<node id='1' lat='39.8' lon='116.6'/></osm>")
    (nets / "deep.osm").write_text("<a>" * 50_000 + "</a>" * 50_000)
    (nets / "billion-laughs.osm").write_text(
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
        '"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><osm>&lol2;</osm>')
    (nets / "net.txt").write_text("not a network")
    (nets / "folder.osm.pbf").mkdir()
    # outputs: a folder, a file used as a parent, a user's folders that look like reports
    (ws / "outdir").mkdir()
    (ws / "outfile").write_text("user data")
    user = ws / "userdir"
    user.mkdir()
    (user / "summary.json").write_text("{}")
    (user / "index.html").write_text("my page")
    (ws / "userreport").mkdir()
    (ws / "userreport" / ".geo-report").write_text("{}")
    (ws / "userreport" / "tables").mkdir()
    (ws / "userreport" / "tables" / "mine.csv").write_text("a,b\n")
    (ws / "userreport" / "index.html").write_text("mine")
    # zips served to `geo data fetch` by a local HTTP server (test_hostile_zips_through_fetch)
    zips = ws / "zips"
    zips.mkdir()
    link = zipfile.ZipInfo("layers")
    link.external_attr = 0o120777 << 16
    _zip(zips / "symlink.zip", [("gis_osm_places_free_1.shp", b"x"), (link, b"/etc")])
    _zip(zips / "bomb.zip", [("gis_osm_places_free_1.shp", b"\0" * 3_000_000)])
    _zip(zips / "escape.zip", [("../../escape.txt", b"x"), ("gis_osm_places_free_1.shp", b"")])
    _zip(zips / "abs.zip", [("/tmp/abs.txt", b"x"), ("gis_osm_places_free_1.shp", b"")])
    _zip(zips / "noshp.zip", [("readme.txt", b"x")])
    (zips / "notazip.zip").write_bytes(b"PK\x03\x04garbage")
    (zips / "empty.zip").write_bytes(b"")


def _truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(size)


def _copytree(src: Path, dst: Path) -> None:
    import shutil

    shutil.copytree(src, dst)


# ----------------------------------------------------------------------------- running


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_inprocess(args: list[str], cwd: Path) -> Result:
    """``geo ARGS`` through :func:`geo.cli.main` in this process (settings reset first)."""
    from geo import cli

    settings.data_dir = None
    settings.offline = False
    cli.reset_state()
    out, err = io.StringIO(), io.StringIO()
    old = Path.cwd()
    os.chdir(cwd)
    code: int | str | None = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                cli.main(args)
            except SystemExit as exc:
                code = exc.code
            except BaseException:  # noqa: BLE001 - a bug: record it like the interpreter would
                import traceback

                err.write("Traceback (most recent call last):\n" + traceback.format_exc())
                code = 1
    finally:
        os.chdir(old)
        settings.data_dir = None
        settings.offline = False
    if code is None:
        code = 0
    elif not isinstance(code, int):
        err.write(f"{code}\n")
        code = 1
    return Result(code, out.getvalue(), err.getvalue())


def run_subprocess(args: list[str], cwd: Path) -> Result:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "GEO_OFFLINE": "1"}
    env.pop("GEO_DATA_DIR", None)
    p = subprocess.run([sys.executable, "-m", "geo", *args], capture_output=True, text=True,
                       env=env, cwd=cwd, timeout=300, check=False)
    return Result(p.returncode, p.stdout, p.stderr)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file and link below ``root``: (kind, size, mtime_ns, sha256)."""
    snap: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in filenames + dirnames:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            st = p.lstat()
            if p.is_symlink():
                snap[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                snap[rel] = ("dir",)
            else:
                snap[rel] = ("file", st.st_size, st.st_mtime_ns,
                             hashlib.sha256(p.read_bytes()).hexdigest())
    return snap


# ----------------------------------------------------------------------------- the cases

@dataclass
class Case:
    id: str
    args: list[str]
    codes: tuple[int, ...] = (2,)  # allowed exit codes
    outputs: tuple[str, ...] = ()  # paths (relative to the workspace) a success may write
    match: str = ""  # text the error line must contain
    subprocess: bool = False
    extra: dict = field(default_factory=dict)


D = ["--data-dir", "data"]
CASES: list[Case] = []


def case(id, args, codes=(2,), outputs=(), match="", subprocess=False):
    CASES.append(Case(id, list(args), tuple(codes), tuple(outputs), match, subprocess))


# areas: names
for i, name in enumerate(["", " ", "nowhere", "tongzhou\0", "[/]", "[bold]x[/bold]",
                          "x" * 100_000, "区" * 30_000, "../../etc/passwd", "/etc/passwd",
                          "areas/missing.geojson", "-", "C:\\\\x", "areas"]):
    case(f"area-name-{i}", ["data", "summary", "--area", name, *D])
for i, name in enumerate(["通州", "beijing\n", " Tongzhou District "]):
    case(f"area-name-fuzzy-{i}", ["data", "summary", "--area", name, *D], codes=(0, 2))
case("area-name-ok", ["data", "summary", "--area", "tongzhou", *D], codes=(0,),
     subprocess=True)
case("area-name-zh-ok", ["data", "summary", "--area", "通州区", "--json", *D], codes=(0,))
# areas: files
for f in ["world", "faraway", "nan", "inf", "crslist", "crsbad", "hexagon", "point",
          "line", "nullgeom", "nofeatures", "empty", "notjson", "array", "string", "deep",
          "deepobj", "binary", "latin1", "huge-coords", "projected", "tiny", "ring2",
          "strcoords", "folder"]:
    case(f"area-file-{f}", ["data", "summary", "--area", f"areas/{f}.geojson", *D],
         subprocess=f in ("deep", "world"))
for f in ["bowtie", "geometry-only", "ok", "bigname", "crsstr"]:
    case(f"area-file-{f}", ["data", "summary", "--area", f"areas/{f}.geojson", *D],
         codes=(0, 2))
for f in ["world", "nan", "hexagon", "deep", "crslist"]:
    case(f"evaluate-area-{f}", ["evaluate", "--area", f"areas/{f}.geojson", *D,
                                "--no-sensitivity"])
    case(f"report-area-{f}", ["report", "--area", f"areas/{f}.geojson", *D, "--out", "rep",
                              "--no-maps"])
for f in ["faraway"]:  # a small area far from the data: refused, not 0 km² and 0 people
    case(f"evaluate-area-{f}", ["evaluate", "--area", f"areas/{f}.geojson", *D,
                                "--no-sensitivity"], match="does not intersect the data")
    case(f"report-area-{f}", ["report", "--area", f"areas/{f}.geojson", *D, "--out", "rep",
                              "--no-maps"], match="does not intersect the data")
case("evaluate-area-markup", ["evaluate", "--area", "[/]", *D], match="area")
# data folders
for d in ["missing-folder", "a-file", "empty-data", "data-trunc", "data-noshx", "data-nodbf",
          "data-garbage", "data-zero"]:
    for cmd in (["data", "summary", "--area", "tongzhou"],
                ["evaluate", "--area", "tongzhou", "--no-sensitivity"]):
        case(f"datadir-{d}-{cmd[0]}-{cmd[-1] if cmd[0] == 'data' else 'ev'}",
             [*cmd, "--data-dir", d], subprocess=(d == "data-trunc" and cmd[0] == "data"))
case("datadir-nopois-evaluate", ["evaluate", "--area", "tongzhou", "--data-dir", "data-nopois",
                                  "--no-sensitivity", "--json", "ev.json"], codes=(0,),
     outputs=("ev.json",))
case("datadir-global-option", ["--data-dir", "a-file", "data", "summary", "--area", "tongzhou"])
# claim files: check
for f in ["passwd", "abs", "abs-secret", "dotdot", "link", "binary-doc", "gbk-doc",
          "missing-doc", "folder-doc", "wrong-quote", "wrong-line", "past-end"]:
    case(f"claims-check-{f}", ["claims", "check", "--claims", f"claims/{f}.toml", "--seeds",
                               "seeds"], subprocess=(f == "passwd"))
for f in ["invalid", "empty", "no-claims", "binary", "deep", "unknown-metric", "unknown-key",
          "dup-id", "bad-comparator", "bad-line", "neg-line", "huge-threshold",
          "inf-threshold", "nan-threshold", "neg-threshold", "str-threshold", "drive-zero"]:
    case(f"claims-check-{f}", ["claims", "check", "--claims", f"claims/{f}.toml", "--seeds",
                               "seeds"])
case("claims-check-zero-threshold", ["claims", "check", "--claims",
                                     "claims/zero-threshold.toml", "--seeds", "seeds"],
     codes=(0, 2))
case("claims-check-ok", ["claims", "check", "--claims", "claims/ok.toml", "--seeds", "seeds"],
     codes=(0,))
case("claims-check-markup", ["claims", "check", "--claims", "claims/markup.toml", "--seeds",
                             "seeds"], codes=(0,))
case("claims-check-big-title", ["claims", "check", "--claims", "claims/big-title.toml",
                                "--seeds", "seeds"], codes=(0, 2))
case("claims-check-missing-file", ["claims", "check", "--claims", "claims/nope.toml"])
case("claims-check-folder", ["claims", "check", "--claims", "claims"])
case("claims-check-seeds-file", ["claims", "check", "--claims", "claims/ok.toml", "--seeds",
                                 "a-file"])
case("claims-check-seeds-missing", ["claims", "check", "--claims", "claims/ok.toml",
                                    "--seeds", "nope"])
# claim files: evaluate
for f in ["markup", "escapes", "huge-threshold", "inf-threshold", "nan-threshold",
          "neg-threshold", "drive-zero", "binary", "deep", "invalid", "passwd"]:
    case(f"evaluate-claims-{f}", ["evaluate", "--area", "tongzhou", *D, "--claims",
                                  f"claims/{f}.toml", "--no-sensitivity"],
         codes=(0,) if f in ("markup", "escapes", "passwd") else (2,),
         subprocess=(f in ("markup", "escapes")))
for cmd in (["claims", "check", "--seeds", "seeds"],
            ["evaluate", "--area", "tongzhou", *D, "--no-sensitivity"]):  # the file is named
    case(f"{cmd[0]}-deep-claims-named", [*cmd, "--claims", "claims/deep.toml"],
         match="claims/deep.toml")
# claims extract
for f in ["plan-binary.txt", "plan-gbk.txt", "plan-empty.txt", "missing.txt", "seeds",
          "claims/deep.toml"]:
    case(f"extract-{f}", ["claims", "extract", f])
case("extract-ok", ["claims", "extract", "plan-ok.txt", "--out", "stubs.toml"], codes=(0,),
     outputs=("stubs.toml",))
for o in ["outdir", "outfile/stubs.toml", "outdir/", "x" * 300, ""]:
    case(f"extract-out-{o[:20]}", ["claims", "extract", "plan-ok.txt", "--out", o])
# scenarios
for f in ["nan-area", "neg-area", "str-area", "bad-kind", "bad-action", "no-action",
          "nan-point", "hexagon", "far", "remove-unknown", "empty", "deep", "notjson",
          "binary", "missing", "no-datum"]:
    case(f"scenario-{f}", ["evaluate", "--area", "tongzhou", *D, "--scenario",
                           f"scenarios/{f}.geojson", "--no-sensitivity"],
         subprocess=(f == "nan-area"))
case("scenario-crslist", ["evaluate", "--area", "tongzhou", *D, "--scenario",
                          "scenarios/crslist.geojson", "--no-sensitivity"], codes=(0, 2))
case("scenario-bad-datum", ["evaluate", "--area", "tongzhou", *D, "--scenario",
                            "scenarios/far.geojson", "--datum", "mars"])
# networks
for f in ["empty.osm.pbf", "garbage.osm.pbf", "garbage.osm", "notxml.osm", "deep.osm",
          "billion-laughs.osm", "net.txt", "folder.osm.pbf", "missing.osm.pbf"]:
    case(f"network-{f}", ["evaluate", "--area", "tongzhou", *D, "--network",
                          f"networks/{f}", "--no-sensitivity"])
case("network-no-roads", ["evaluate", "--area", "tongzhou", *D, "--network",
                          "networks/no-roads.osm", "--no-sensitivity"], codes=(0, 2))
# outputs
for o in ["outdir", "outfile/r.json", "a-file/x/y.json", "x" * 300 + ".json"]:
    case(f"evaluate-json-{o[:12]}", ["evaluate", "--area", "tongzhou", *D, "--json", o,
                                     "--no-sensitivity"], match="json",
         subprocess=(o == "outdir"))
case("evaluate-json-ok", ["evaluate", "--area", "tongzhou", *D, "--json", "new/ev.json",
                          "--no-sensitivity"], codes=(0,), outputs=("new",))
for o in ["outfile", "userdir", "userreport", "a-file/r"]:
    case(f"report-out-{o}", ["report", "--area", "tongzhou", *D, "--out", o, "--no-maps",
                             "--no-sensitivity"], subprocess=(o == "userdir"))
    case(f"report-batch-out-{o}", ["report", "--area", "beijing", *D, "--out", o,
                                   "--no-maps", "--no-sensitivity"])
site = ["site", "--claim", "C99", "--claims", "claims/ok.toml", "--area", "tongzhou", *D,
        "--add", "1"]
for name, extra in {
    "map-folder": ["--json", "A.json", "--geojson", "B.geojson", "--map", "outdir"],
    "json-folder": ["--json", "outdir", "--geojson", "B.geojson"],
    "geojson-parent-file": ["--geojson", "outfile/B.geojson"],
    "map-parent-file": ["--json", "A.json", "--map", "a-file/m.html"],
    "same-file": ["--json", "A.json", "--geojson", "A.json"],
    "json-long": ["--json", "y" * 300],
}.items():
    case(f"site-{name}", [*site, *extra], subprocess=(name == "map-folder"))
# numeric options
for flag, values in {"--cell-size-m": ["inf", "-inf", "nan", "0", "-1", "1e9", "1e-9", "abc"],
                     }.items():
    for v in values:
        case(f"evaluate{flag}={v}", ["evaluate", "--area", "tongzhou", *D, flag, v,
                                     "--no-sensitivity"], match="cell")
        case(f"report{flag}={v}", ["report", "--area", "tongzhou", *D, flag, v, "--out",
                                   "rep", "--no-maps"])
for v in ["0", "-5", "nan", "inf", "1e9"]:
    case(f"report--site-cell-size-m={v}", ["report", "--area", "tongzhou", *D, "--site",
                                           "C99:1", "--claims", "claims/ok.toml",
                                           "--site-cell-size-m", v, "--out", "rep"])
for flag, v in [("--add", "0"), ("--add", "-1"), ("--target", "2"), ("--target", "nan"),
                ("--target", "0"), ("--radius-m", "-5"), ("--radius-m", "nan"),
                ("--radius-m", "inf"), ("--time-limit-s", "-1"), ("--time-limit-s", "nan"),
                ("--cell-size-m", "inf"), ("--cell-size-m", "0"), ("--cell-size-m", "nan")]:
    case(f"site{flag}={v}", ["site", "--claim", "C99", "--claims", "claims/ok.toml", "--area",
                             "tongzhou", *D, flag, v])
for v in ["0", "-2", "x"]:
    case(f"report--jobs={v}", ["report", "--area", "beijing", *D, "--jobs", v, "--out", "rep"])
for spec in ["C99", "C99:0", "C99:x", "NOPE:1", ":", "C99:-1"]:
    case(f"report--site={spec}", ["report", "--area", "tongzhou", *D, "--claims",
                                  "claims/ok.toml", "--site", spec, "--out", "rep"])
# report options: dask, tiles
for url in ["not a url", "http://", "tcp://", "tcp://256.1.1.1:99999", "file:///etc/passwd"]:
    case(f"report-dask-{url}", ["report", "--area", "beijing", *D, "--dask", url, "--out",
                                "rep", "--no-maps"], subprocess=(url == "not a url"))
for tiles in ["baidu", "", "[/]"]:
    case(f"report-tiles-{tiles}", ["report", "--area", "tongzhou", *D, "--tiles", tiles,
                                   "--out", "rep"])
case("report-tianditu-no-key", ["report", "--area", "tongzhou", *D, "--tiles", "tianditu",
                                "--out", "rep"])
case("report-tianditu-template-key", ["report", "--area", "tongzhou", *D, "--tiles",
                                      "tianditu", "--tiles-key", "{{ 7*7 }}", "--out", "rep"],
     match="--tiles-key")
# fetch
for name, extra in {
    "url-not-a-url": ["--url-base", "not a url"],
    "url-ftp": ["--url-base", "ftp://example.org"],
    "url-empty": ["--url-base", ""],
    "url-space": ["--url-base", "http://exa mple.org"],
    "what-empty": ["--what", ""],
    "what-unknown": ["--what", "pbf,exe"],
    "datadir-file": ["--data-dir", "a-file"],
    "datadir-parent-file": ["--data-dir", "a-file/sub"],
    "offline": [],
}.items():
    case(f"fetch-{name}", ["--offline", "data", "fetch", "--area", "tongzhou",
                           "--data-dir", "fetched", *extra])
for name in ["nowhere", "", "x" * 100_000, "[/]"]:
    case(f"fetch-area-{name[:10]}", ["--offline", "data", "fetch", "--area", name,
                                     "--data-dir", "fetched"])
# usage errors
for i, args in enumerate([["nope"], ["evaluate"], ["report", "--area"], ["site"],
                          ["evaluate", "--area", "tongzhou", "--bogus"]]):
    case(f"usage-{i}", args)


assert len(CASES) >= 150, len(CASES)
assert len({c.id for c in CASES}) == len(CASES), "duplicate case ids"


# ----------------------------------------------------------------------------- the test

@pytest.fixture(scope="module")
def workspace_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("corpus-template")
    build_workspace(root)
    return root


@pytest.fixture
def workspace(workspace_template, tmp_path) -> Path:
    import shutil

    ws = tmp_path / "ws"
    shutil.copytree(workspace_template, ws, symlinks=True)
    return ws


def check_result(c: Case, res: Result, before: dict, after: dict, ws: Path) -> None:
    assert res.code in c.codes or (res.code == 0 and 0 in c.codes) or res.code in (0, 2) and \
        res.code in c.codes, f"exit {res.code}, expected {c.codes}\n{res.stderr[-3000:]}"
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    # no terminal control sequence from a name, a path or a claim file reaches the terminal
    assert "\x1b" not in res.stdout + res.stderr and "\x9b" not in res.stdout + res.stderr
    if res.code == 2:
        errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) >= 1, res.stderr[-2000:]
        assert len(errors[0]) < 2000, "the error line is not short"
        if c.match:
            assert c.match.lower() in errors[0].lower(), errors[0]
        assert before == after, ("a refused command changed files: "
                                 f"{sorted(set(before.items()) ^ set(after.items()))[:10]}")
    else:
        changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        outside = {k for k in changed if not any(k == o or k.startswith(o.rstrip("/") + "/")
                                                 for o in c.outputs)}
        assert not outside, f"files outside the outputs changed: {sorted(outside)[:10]}"


@pytest.mark.parametrize("c", CASES, ids=[c.id[:60] for c in CASES])
def test_bad_input_inprocess(c: Case, workspace: Path, monkeypatch):
    monkeypatch.setenv("GEO_OFFLINE", "1")
    monkeypatch.delenv("GEO_DATA_DIR", raising=False)
    before = snapshot(workspace)
    res = run_inprocess(c.args, workspace)
    after = snapshot(workspace)
    check_result(c, res, before, after, workspace)


def test_missing_layers_make_count_claims_inconclusive(workspace: Path, monkeypatch):
    """Without the POI and railway layers a count is unknown, not 0 and "not met"."""
    monkeypatch.setenv("GEO_OFFLINE", "1")
    monkeypatch.delenv("GEO_DATA_DIR", raising=False)
    res = run_inprocess(["evaluate", "--area", "tongzhou", "--data-dir", "data-nopois",
                         "--no-sensitivity", "--json", "ev.json"], workspace)
    assert res.code == 0, res.stderr[-2000:]
    claims = json.loads((workspace / "ev.json").read_text(encoding="utf-8"))["claims"]
    by_metric: dict[str, list[dict]] = {}
    for c in claims:
        by_metric.setdefault(c["metric"], []).append(c)
    counts = by_metric["facility_count"] + by_metric.get("network_length", [])
    assert counts
    for c in counts:
        assert c["verdict"] == "inconclusive", (c["id"], c["verdict"], c["measured"])
        assert c["measured"]["value"] is None, c["id"]
        assert any("layer" in n and ("pois" in n or "railways" in n) for n in c["notes"]), \
            (c["id"], c["notes"])
    # the complete folder measures the same claims (so the layers, not the claims, decide)
    res = run_inprocess(["evaluate", "--area", "tongzhou", *D, "--no-sensitivity", "--json",
                         "full.json"], workspace)
    assert res.code == 0, res.stderr[-2000:]
    full = {c["id"]: c for c in json.loads((workspace / "full.json").read_text())["claims"]}
    assert any(full[c["id"]]["measured"]["value"] is not None for c in counts)


ZIP_CASES = ["symlink", "bomb", "escape", "abs", "noshp", "notazip", "empty"]


@pytest.fixture(scope="module")
def zip_server():
    """The HTTP server of tests/test_download.py on 127.0.0.1 (a hostile mirror here)."""
    from test_download import serve

    yield from serve()


@pytest.mark.parametrize("name", ZIP_CASES)
def test_hostile_zips_through_fetch(name: str, zip_server, workspace: Path, monkeypatch):
    """`geo data fetch --url-base <hostile mirror>`: each bad zip is refused with one line and
    exit 2; nothing is unpacked, nothing is written outside the data folder."""
    from test_download import ZIP_PATH

    monkeypatch.setenv("GEO_OFFLINE", "0")
    monkeypatch.delenv("GEO_DATA_DIR", raising=False)
    zip_server.publish(ZIP_PATH, (workspace / "zips" / f"{name}.zip").read_bytes())
    before = snapshot(workspace.parent)
    res = run_inprocess(["data", "fetch", "--area", "tongzhou", "--data-dir", "fetched",
                         "--url-base", zip_server.base, "--what", "shp"], workspace)
    after = snapshot(workspace.parent)
    assert res.code == 2, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "beijing-latest-free.shp.zip" in errors[0], res.stderr
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    # only the downloaded zip itself (checksummed, kept for inspection) in the data folder
    assert changed <= {"ws/fetched", "ws/fetched/beijing-latest-free.shp.zip"}, sorted(changed)
    assert not list((workspace / "fetched").rglob("gis_osm_*")) if \
        (workspace / "fetched").exists() else True
    assert not Path("/tmp/abs.txt").exists() or name != "abs"


SUBPROCESS_CASES = [c for c in CASES if c.subprocess]


@pytest.mark.parametrize("c", SUBPROCESS_CASES, ids=[c.id[:60] for c in SUBPROCESS_CASES])
def test_bad_input_subprocess(c: Case, workspace: Path):
    before = snapshot(workspace)
    res = run_subprocess(c.args, workspace)
    after = snapshot(workspace)
    check_result(c, res, before, after, workspace)


def test_the_corpus_is_large_and_spans_every_input_kind():
    prefixes = {c.id.split("-")[0].split("--")[0] for c in CASES}
    assert len(CASES) >= 150
    for kind in ("area", "datadir", "claims", "scenario", "network", "evaluate", "report",
                 "site", "fetch", "extract"):
        assert kind in prefixes, kind
    assert len(SUBPROCESS_CASES) >= 10
    assert not math.isnan(0.0)
