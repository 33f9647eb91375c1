"""Per-process memos keyed by geometry, for work a batch repeats on the same shapes.

A district's claims share one demand grid, so its maps redraw the same cells and its
population readings split the same township pieces; a batch worker process evaluates district
after district. :class:`Memo` keeps the last few results in memory (no disk, no staleness across
runs); :func:`geometry_key` names an input by the WKB of its geometries, so equal shapes hit
the memo whatever frame they come in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np


def geometry_key(*parts: Any) -> str:
    """SHA-1 of the parts: geometry arrays/series (by WKB, with their length) and plain
    values (by ``repr``)."""
    import shapely

    h = hashlib.sha1()
    for part in parts:
        values = getattr(part, "values", part)
        if isinstance(values, np.ndarray) and values.dtype == object or hasattr(values,
                                                                                  "crs"):
            arr = np.asarray(values, dtype=object)
            h.update(b"G" + len(arr).to_bytes(8, "little"))
            wkbs = shapely.to_wkb(arr)
            # WKB is self-delimiting, so the concatenation names the sequence of shapes
            h.update(b"".join(w if w is not None else b"-" for w in wkbs.tolist()))
        elif isinstance(values, np.ndarray):
            h.update(b"A" + values.tobytes())
        else:
            h.update(b"R" + repr(part).encode())
    return h.hexdigest()


class Memo:
    """The last ``size`` results by key (least recently used dropped first)."""

    def __init__(self, size: int = 4) -> None:
        self.size = int(size)
        self._data: dict[Hashable, Any] = {}

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value for ``key``, computed once while it stays among the last ``size``."""
        if key in self._data:
            value = self._data.pop(key)
        else:
            value = compute()
        self._data[key] = value
        while len(self._data) > self.size:
            self._data.pop(next(iter(self._data)))
        return value

    def clear(self) -> None:
        self._data.clear()
