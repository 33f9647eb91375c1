"""Settings in one place (osmnx style: module-level values that tests and the CLI may redirect).

Attributes
----------
data_dir : pathlib.Path or None
    Explicit data directory (the CLI's data directory option). ``None`` means: resolve it with
    :func:`resolve_data_dir` (``GEO_DATA_DIR``, then ``data/local/``, then ``../shared/data``).
cache_dir : pathlib.Path
    Where downloads and Overpass responses are cached (``GEO_CACHE_DIR``, default
    ``~/.cache/geo``).
offline : bool
    Never touch the network (``GEO_OFFLINE=1``). Online sources are used only when asked for.
metric_crs : str
    Projected CRS for every length and area: EPSG:32650 (UTM zone 50N, metres), which covers
    Beijing.
geographic_crs : str
    CRS of frames handed to users and maps: EPSG:4326 (WGS84 degrees), as OSM.
"""

from __future__ import annotations

import os
from pathlib import Path

from geo.errors import DataNotFoundError

data_dir: Path | None = None
cache_dir: Path = Path(os.environ.get("GEO_CACHE_DIR", Path.home() / ".cache" / "geo"))
offline: bool = os.environ.get("GEO_OFFLINE", "") not in ("", "0", "false", "False")
metric_crs: str = "EPSG:32650"
geographic_crs: str = "EPSG:4326"

#: The project checkout (parent of the ``geo`` package); used to find ``data/local`` and
#: ``../shared/data`` when the current directory is elsewhere (a notebook folder, say).
PROJECT_ROOT = Path(__file__).resolve().parent.parent

HOW_TO_GET_DATA = (
    "pass data_dir=DIR, set GEO_DATA_DIR, put data in data/local/, or download it with "
    "fetch_geofabrik(area='tongzhou', data_dir='data/local')"
)


def data_dir_candidates() -> list[tuple[str, Path]]:
    """Where the data directory is looked for, in order, with the reason for each."""
    out: list[tuple[str, Path]] = []
    if data_dir is not None:
        out.append(("data_dir", Path(data_dir)))
    env = os.environ.get("GEO_DATA_DIR")
    if env:
        out.append(("GEO_DATA_DIR", Path(env)))
    for base in dict.fromkeys([Path.cwd(), PROJECT_ROOT]):
        out.append(("data/local", base / "data" / "local"))
    for base in dict.fromkeys([Path.cwd(), PROJECT_ROOT]):
        out.append(("../shared/data", base.parent / "shared" / "data"))
    return out


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Return the data directory to read.

    Order: ``explicit`` (the CLI's data directory option), :data:`data_dir`, ``GEO_DATA_DIR``,
    ``data/local/`` if it exists, ``../shared/data`` if it exists. An explicit choice
    (argument, setting or environment variable) that does not exist is an error rather than a
    silent fall-through.
    """
    if explicit is not None:
        path = Path(explicit)
        if not path.is_dir():
            raise DataNotFoundError(f"data directory {path} (from data_dir) does not exist: "
                                    f"{HOW_TO_GET_DATA}")
        return path
    for reason, path in data_dir_candidates():
        if path.is_dir():
            return path
        if reason in ("data_dir", "GEO_DATA_DIR"):
            raise DataNotFoundError(f"data directory {path} (from {reason}) does not exist: "
                                    f"{HOW_TO_GET_DATA}")
    raise DataNotFoundError(f"no data directory found: {HOW_TO_GET_DATA}")
