"""The toolkit installed with pip (a built wheel, not editable) works from any folder.

Builds the wheel from a clean copy of the source tree (the files git tracks, plus new untracked
ones; no node_modules, no .venv), installs it into a fresh virtual environment and runs
``geo report --area tongzhou`` from an empty temporary folder. The default claim file, the
report templates and the speed profiles must come from the wheel (package data), and every map
must be drawn: self-contained (Leaflet inlined from the npm assets the build step puts in the
wheel) when npm is available at build time, else linked from CDNs with one warning.

The fresh environment gets the project's dependencies by a ``.pth`` line pointing at the
test interpreter's site-packages (offline, seconds), never the checkout itself: the test
asserts that ``geo`` is imported from the fresh environment. Building needs setuptools from
PyPI (pip's build isolation) and, for the map assets, npm with the packages of
geo/assets/package-lock.json (``npm ci --prefer-offline``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow, pytest.mark.shared, pytest.mark.timeout(900)]


def _source_files() -> list[str]:
    """Files of a clean checkout: what git tracks plus new files it does not ignore."""
    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        pytest.skip("needs git to list the source tree's files")
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=PROJECT_ROOT, capture_output=True, check=True).stdout
    return [f for f in out.decode().split("\0") if f and (PROJECT_ROOT / f).is_file()]


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None,
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, (cmd, done.stdout[-3000:], done.stderr[-3000:])
    return done


@pytest.fixture(scope="module")
def installed_geo(tmp_path_factory) -> Path:
    """A fresh venv with the wheel built from a clean copy of the tree; returns its bin dir."""
    base = tmp_path_factory.mktemp("packaging")
    src = base / "src"
    for rel in _source_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / rel, src / rel)
    assert not (src / "geo" / "assets" / "node_modules").exists()
    wheels = base / "wheels"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(wheels),
          str(src)], cwd=base)
    (wheel,) = wheels.glob("geo-*.whl")

    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base)
    py = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--quiet",
          str(wheel)], cwd=base)
    # dependencies: the test interpreter's site-packages, after the venv's own
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = Path(_run([str(py), "-c", code], cwd=base).stdout.strip())
    (purelib / "zz-geo-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(extra)
    return env


def test_installed_wheel_reports_from_any_folder(installed_geo, shared_data_dir, tmp_path):
    bindir = installed_geo
    code = ("import geo, geo.claims.registry as r, geo.map_assets as a; print(geo.__file__); "
            "print(r.DEFAULT_CLAIMS_FILE); print(a.assets_installed())")
    where = _run([str(bindir / "python"), "-c", code], cwd=tmp_path,
                 env=_clean_env()).stdout.split("\n")
    venv = bindir.parent.resolve()
    geo_file, claims_file, assets = Path(where[0]), Path(where[1]), where[2] == "True"
    assert geo_file.resolve().is_relative_to(venv), geo_file  # not the checkout
    assert claims_file.resolve().is_relative_to(venv) and claims_file.is_file(), claims_file
    if shutil.which("npm") is not None:
        assert assets, "the wheel was built with npm but ships no map assets"

    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    done = _run([str(bindir / "geo"), "report", "--area", "tongzhou", "--out", "report"],
                cwd=run_dir, env=_clean_env(GEO_DATA_DIR=str(shared_data_dir)), timeout=600)
    out = run_dir / "report"
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "© OpenStreetMap contributors" in index or "&copy;" in index
    pages = sorted((out / "maps").glob("*.html"))
    assert len(pages) >= 3, pages  # the district's claim maps exist
    linked = done.stderr.count("offline map assets not installed")
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "L.map(" in text or "L.map (" in text, page.name
        if assets:
            assert "/* leaflet/dist/leaflet.js */" in text, page.name  # inlined from the wheel
            assert "cdn.jsdelivr.net/npm/leaflet" not in text, page.name
        else:
            assert "cdn.jsdelivr.net/npm/leaflet" in text, page.name
    assert linked == (0 if assets else 1), done.stderr[-2000:]
