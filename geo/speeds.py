"""Speed profiles: km/h per OSM highway class from ``geo/profiles/*.toml``, and
:func:`add_speeds`, which writes edge ``speed_kph`` (km/h) and ``travel_time`` (seconds)."""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geo.errors import DataError, DataNotFoundError, NetworkError

if TYPE_CHECKING:
    import networkx as nx

@dataclass(frozen=True)
class SpeedProfile:
    """Speeds for one mode, read from a TOML file in ``geo/profiles``.

    ``highway_kph`` maps OSM highway classes to km/h; ``default_kph`` covers other classes;
    ``maxspeed_wins`` lets a parsable ``maxspeed`` tag override the class speed; every speed is
    multiplied by ``speed_factor``; ``offnet_walk_kph`` is the speed of the walk between a point
    and the network.
    """

    name: str
    default_kph: float
    highway_kph: dict[str, float] = field(default_factory=dict)
    maxspeed_wins: bool = True
    speed_factor: float = 1.0
    offnet_walk_kph: float = 3.6
    description: str = ""
    path: str = ""

    def speed_for(self, highway: Any, maxspeed: Any = None) -> float:
        """Speed in km/h for an edge with this ``highway`` (str or list) and ``maxspeed`` tag."""
        if self.maxspeed_wins:
            ms = parse_maxspeed(maxspeed)
            if ms is not None:
                return ms * self.speed_factor
        values = highway if isinstance(highway, list) else [highway]
        speeds = [self.highway_kph.get(str(h), self.default_kph) for h in values]
        return float(np.mean(speeds)) * self.speed_factor if speeds else self.default_kph


def parse_maxspeed(value: Any) -> float | None:
    """Parse an OSM ``maxspeed`` tag ("60", "60 km/h", "30 mph", "50;60", lists) to km/h.

    Returns the mean of the parsable values, or None (e.g. "CN:urban", "none", missing).
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    items = value if isinstance(value, list) else re.split(r"[;|,]", str(value))
    speeds = []
    for item in items:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*", str(item))
        if m:
            v = float(m.group(1)) * (1.609344 if m.group(2) == "mph" else 1.0)
            if v > 0:
                speeds.append(v)
    return float(np.mean(speeds)) if speeds else None


def load_profile(name_or_path: str | Path) -> SpeedProfile:
    """Load a speed profile: ``"drive"``, ``"fire"``, ``"walk"`` (package data) or a TOML path."""
    text: str
    where: str
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        if not p.is_file():
            raise DataNotFoundError(f"profile file {p} does not exist")
        text, where = p.read_text(encoding="utf-8"), str(p)
    else:
        res = resources.files("geo") / "profiles" / f"{name_or_path}.toml"
        if not res.is_file():
            known = sorted(f.name[:-5] for f in (resources.files("geo") / "profiles").iterdir()
                           if f.name.endswith(".toml"))
            raise DataNotFoundError(f"profile {name_or_path!r} is not a file and not one of "
                                    f"{known}; pass a name or a .toml path")
        text, where = res.read_text(encoding="utf-8"), f"geo/profiles/{name_or_path}.toml"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"profile {where} is not valid TOML: {exc}") from exc
    allowed = {"name", "description", "default_kph", "highway_kph", "maxspeed_wins",
               "speed_factor", "offnet_walk_kph"}
    unknown = set(raw) - allowed
    if unknown or "default_kph" not in raw:
        raise DataError(f"profile {where}: expected keys {sorted(allowed)} (default_kph "
                        f"required), got unknown {sorted(unknown)}")
    speeds = {str(k): float(v) for k, v in raw.get("highway_kph", {}).items()}
    prof = SpeedProfile(name=str(raw.get("name", p.stem)), default_kph=float(raw["default_kph"]),
                        highway_kph=speeds, maxspeed_wins=bool(raw.get("maxspeed_wins", True)),
                        speed_factor=float(raw.get("speed_factor", 1.0)),
                        offnet_walk_kph=float(raw.get("offnet_walk_kph", 3.6)),
                        description=str(raw.get("description", "")), path=where)
    bad = [k for k, v in {"default_kph": prof.default_kph, "speed_factor": prof.speed_factor,
                          "offnet_walk_kph": prof.offnet_walk_kph, **speeds}.items()
           if not (v > 0 and math.isfinite(v))]
    if bad:
        raise DataError(f"profile {where}: speeds must be positive numbers; bad: {bad}")
    return prof


def add_speeds(G: nx.MultiDiGraph, profile: str | Path | SpeedProfile = "drive"
               ) -> nx.MultiDiGraph:
    """Set edge ``speed_kph`` (km/h) and ``travel_time`` (s = length_m / speed) in place.

    Returns ``G``. The engine cache for ``G`` is cleared.
    """
    prof = profile if isinstance(profile, SpeedProfile) else load_profile(profile)
    for u, v, d in G.edges(data=True):
        if "length" not in d:
            raise NetworkError(f"G edge ({u}, {v}) has no 'length' (metres); cannot add speeds")
        speed = prof.speed_for(d.get("highway"), d.get("maxspeed"))
        d["speed_kph"] = speed
        d["travel_time"] = float(d["length"]) / (speed / 3.6)
    G.graph["speed_profile"] = prof.name
    from geo.netcost import clear_cache

    clear_cache(G)
    return G
