"""The settings of one report, as one frozen object passed CLI -> batch -> report -> maps."""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from typing import Any

from geo.errors import DataError

#: The demand cell width (m) every command uses unless told otherwise (evaluate, report, site,
#: notebooks), so the same claim gives the same number everywhere.
DEFAULT_CELL_SIZE_M = 250.0


@dataclass(frozen=True)
class ReportOptions:
    """How a report is evaluated and drawn.

    Evaluation: ``data_dir``, ``claims_path`` (``None``: the packaged Tongzhou claims),
    ``network_path`` (OSM PBF/XML with roads, or ``None``), ``cell_size_m`` (demand hex width,
    metres), ``sensitivity`` (run the sensitivity variants); the study's own inputs
    (:class:`geo.claims.context.StudyContext`): ``built_up`` (GeoJSON polygon of the built-up
    area), ``reference`` (inventory of facilities, GeoJSON or CSV, points in ``datum``),
    ``jobs_layer`` / ``jobs_count_column`` (jobs per polygon or a GeoTIFF of counts).
    Output: ``tiles`` / ``tiles_key`` (map background, see :func:`geo.maps.tile_choice`),
    ``cdn`` (maps load Leaflet from CDNs instead of inlining it), ``maps`` (draw the claim
    maps), ``charts`` (draw the sensitivity charts).
    """

    data_dir: str | os.PathLike[str] | None = None
    claims_path: str | os.PathLike[str] | None = None
    network_path: str | os.PathLike[str] | None = None
    cell_size_m: float = DEFAULT_CELL_SIZE_M
    sensitivity: bool = True
    tiles: str = "osm"
    tiles_key: str | None = None
    cdn: bool = False
    maps: bool = True
    charts: bool = True
    built_up: str | os.PathLike[str] | None = None
    reference: str | os.PathLike[str] | None = None
    datum: str | None = None
    jobs_layer: str | os.PathLike[str] | None = None
    jobs_count_column: str | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.cell_size_m, int | float) and self.cell_size_m > 0):
            raise DataError(f"cell_size_m={self.cell_size_m!r}: expected a cell width > 0 "
                            "metres, e.g. 250")

    def check(self) -> ReportOptions:
        """Refuse what would fail late (an unknown tile provider, a missing key) before any
        work; return ``self``."""
        if self.maps:
            from geo.maps import tile_choice

            tile_choice(self.tiles, tiles_key=self.tiles_key)
        self.context_kwargs()    # a missing or malformed input fails now, not per district
        return self

    def context_kwargs(self) -> dict[str, Any]:
        """The study's own inputs as :class:`geo.claims.context.StudyContext` keyword
        arguments (:func:`geo.claims.context.study_inputs`: checked, the reference read)."""
        from geo.claims.context import study_inputs

        return study_inputs(built_up=self.built_up, reference=self.reference, datum=self.datum,
                            jobs=self.jobs_layer, jobs_count_column=self.jobs_count_column)

    def evaluate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`geo.claims.evaluate.evaluate_area`."""
        return {"data_dir": self.data_dir, "claims_path": self.claims_path,
                "network_path": self.network_path, "cell_size_m": self.cell_size_m,
                "sensitivity": self.sensitivity, "context_options": self.context_kwargs()}

    def map_options(self) -> Any:
        """The :class:`geo.maps.MapOptions` of the report's maps."""
        from geo.maps import MapOptions

        return MapOptions(tiles=self.tiles, tiles_key=self.tiles_key)

    def fingerprint(self) -> dict[str, Any]:
        """The settings as JSON-ready text values (paths as strings; no API key), compared
        before a batch reuses an existing report."""
        d = asdict(self)
        # a secret: only a digest goes into markers (a changed key is still noticed)
        d["tiles_key"] = ("sha256:" + hashlib.sha256(self.tiles_key.encode()).hexdigest()[:16]
                          if self.tiles_key else None)
        return {k: (str(v) if isinstance(v, os.PathLike) else v) for k, v in d.items()}
