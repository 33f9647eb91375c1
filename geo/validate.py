"""Documented ranges of the numeric options, checked at the boundary with one-line errors.

Each range is part of the interface (the CLI's help and the README quote them): a value outside
it would give a silently wrong or endless computation (a 1e9 m demand cell covers Beijing with
one hexagon and makes every coverage claim "met"), so it is refused before any work starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from geo.errors import DataError


@dataclass(frozen=True)
class Range:
    """A closed or half-open interval ``[lo, hi]`` with a unit, for messages."""

    lo: float
    hi: float
    unit: str = ""
    lo_open: bool = False  # True: lo itself is refused (a width or a time of 0)

    def text(self) -> str:
        left = "(" if self.lo_open else "["
        unit = f" {self.unit}" if self.unit else ""
        return f"{left}{self.lo:g}, {self.hi:g}]{unit}"


#: Demand hexagon width: finer than 10 m is meaningless for OSM, coarser than 5 km hides
#: every 500 m threshold.
CELL_SIZE_M = Range(10, 5_000, "m")
#: Siting cell (candidate spacing) width.
SITE_CELL_SIZE_M = Range(10, 5_000, "m")
#: Service radius of a proposed facility.
RADIUS_M = Range(0, 100_000, "m", lo_open=True)
#: Solver time limit.
TIME_LIMIT_S = Range(0, 86_400, "s", lo_open=True)
#: Covered share to reach.
TARGET_SHARE = Range(0, 1, "", lo_open=True)
#: Worker processes.
JOBS = Range(1, 256, "processes")


def check_number(name: str, value: float, allowed: Range) -> float:
    """``value`` if finite and inside ``allowed``; else DataError naming ``name`` (the caller's
    argument or option name), the value and the documented range."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        low_ok = value > allowed.lo if allowed.lo_open else value >= allowed.lo
        ok = low_ok and value <= allowed.hi
    if not ok:
        raise DataError(f"{name} {value!r}: expected a number in {allowed.text()}")
    return float(value)


def check_url(url: str, *, what: str = "url", schemes: tuple[str, ...] = ("http", "https"),
              example: str = "https://download.geofabrik.de") -> str:
    """``url`` if it has one of ``schemes``, a host and a valid port, and no spaces; else
    DataError naming ``what`` (the caller's argument or option name) with an example."""
    from urllib.parse import urlsplit

    shown = repr(url[:100])
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError as exc:
        raise DataError(f"{what} {shown} is not a valid URL ({exc}): give e.g. {example}") \
            from exc
    if parts.scheme not in schemes or not parts.hostname or not port_ok or any(
            c.isspace() for c in url):
        raise DataError(f"{what} {shown} is not a {'/'.join(schemes)} URL with a host (and a "
                        f"port in 1-65535): give e.g. {example}")
    return url
