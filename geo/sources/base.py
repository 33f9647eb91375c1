"""The canonical form every OSM source returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd

#: Columns every layer frame carries (EPSG:4326); readers may add more.
CANONICAL_COLUMNS = ["osm_id", "fclass", "name", "geometry"]


@dataclass
class OsmData:
    """OSM layers for one area, from one source.

    Attributes
    ----------
    layers : dict of str to GeoDataFrame
        Keyed by Geofabrik layer name ("transport", "transport_a", "railways", "pois", "pois_a",
        "places", "places_a", "adminareas_a", "water_a", "roads", ...). Each frame has
        :data:`CANONICAL_COLUMNS` (``osm_id`` as str, ``fclass`` as the Geofabrik class) in
        EPSG:4326.
    layers_missing : list of str
        Layers that were asked for but that this source does not have.
    osm_data_date : str or None
        ISO date-time of the OSM data (replication timestamp), when the source states it.
    source : str
        Human-readable description of where the data came from.
    path : Path or None
        The PBF / XML file or shapefile folder read, so a road network can be built from it.
    """

    layers: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    layers_missing: list[str] = field(default_factory=list)
    osm_data_date: str | None = None
    source: str = ""
    path: Path | None = None

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """The layer ``name``, or an empty canonical frame when this source lacks it."""
        if name in self.layers:
            return self.layers[name]
        return gpd.GeoDataFrame({c: [] for c in CANONICAL_COLUMNS[:-1]}, geometry=[],
                                crs="EPSG:4326")
