"""Build step for wheels and sdists (metadata lives in pyproject.toml).

``build_py`` adds two things a plain package-data list cannot, so that an installed ``geo``
works from any folder:

* the default claim file ``data/claims/*.toml`` (kept at the project root, where the claim
  engineers edit it) is copied into the wheel as ``geo/data/claims/`` (found by
  ``geo.claims.registry.DEFAULT_CLAIMS_FILE``);
* the offline map assets: the files ``geo.map_assets.LOCAL_FILES`` names (plus the images and
  fonts their CSS refers to, and each package's licence) are copied from
  ``geo/assets/node_modules``, which is installed from ``geo/assets/package-lock.json`` with
  ``npm ci`` when it is missing. Without npm the wheel is built without them and ``geo`` warns
  once at run time that maps link the libraries from CDNs (``geo.map_assets.finish_page``).
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
ASSETS = ROOT / "geo" / "assets"
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")


def _local_files() -> dict[str, str]:
    """``LOCAL_FILES`` of geo/map_assets.py, read without importing geo (its deps may be absent)."""
    tree = ast.parse((ROOT / "geo" / "map_assets.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and node.target.id == "LOCAL_FILES"):
            return ast.literal_eval(node.value)
    raise RuntimeError("geo/map_assets.py defines no LOCAL_FILES")


def _asset_files(modules: Path) -> set[Path]:
    """The node_modules files the maps inline: scripts, stylesheets, what the CSS links, licences."""
    out: set[Path] = set()
    for rel in _local_files().values():
        path = modules / rel
        out.add(path)
        if path.suffix == ".css":
            for ref in _CSS_URL.findall(path.read_text(encoding="utf-8")):
                if ref.startswith(("data:", "#", "http:", "https:", "//")):
                    continue
                target = (path.parent / ref.split("?")[0].split("#")[0]).resolve()
                # TrueType fallbacks are dropped when inlined (woff2 is used): not shipped
                if target.is_file() and target.suffix != ".ttf":
                    out.add(target)
    out.update((modules / "leaflet" / "dist" / "images").glob("*.png"))  # default marker icon
    for pkg in {rel.split("/")[0] if not rel.startswith("@") else "/".join(rel.split("/")[:2])
                for rel in _local_files().values()}:
        out.update(p for p in (modules / pkg).glob("LICENSE*") if p.is_file())
        out.update(p for p in [modules / pkg / "package.json"] if p.is_file())
    return out


class BuildPy(build_py):
    """build_py that also ships the default claim file and the npm map assets."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):  # the checkout's own files are used in place
            return
        target = Path(self.build_lib) / "geo"
        claims = target / "data" / "claims"
        claims.mkdir(parents=True, exist_ok=True)
        for src in sorted((ROOT / "data" / "claims").glob("*.toml")):
            shutil.copy2(src, claims / src.name)
        self._copy_assets(target / "assets" / "node_modules")

    def _copy_assets(self, dest: Path) -> None:
        modules = ASSETS / "node_modules"
        if not (modules / "leaflet" / "dist" / "leaflet.js").is_file():
            npm = shutil.which("npm")
            if npm is None:
                self.warn("npm not found: the wheel has no offline map assets; installed maps "
                          "will link Leaflet & co. from CDNs (install Node.js/npm and rebuild)")
                return
            self.announce("npm ci --prefix geo/assets (offline map assets)", level=2)
            done = subprocess.run([npm, "ci", "--prefix", str(ASSETS), "--no-audit", "--no-fund",
                                   "--prefer-offline"], capture_output=True, text=True,
                                  check=False)
            if done.returncode != 0:
                raise RuntimeError(f"npm ci --prefix geo/assets failed:\n{done.stdout}"
                                   f"\n{done.stderr}")
        modules = modules.resolve()
        files = sorted(_asset_files(modules))
        for path in files:
            out = dest / path.resolve().relative_to(modules)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, out)
        self.announce(f"copied {len(files)} map asset files into {dest}", level=2)


setup(cmdclass={"build_py": BuildPy})
