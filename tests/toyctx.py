"""Hand-placed demand for evaluator tests: replace a StudyContext's cells with a few points."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from tinydata import pt

from geo.claims.context import StudyContext


def set_demand(ctx: StudyContext, points_xy, population, towns=None):
    """Make ``ctx``'s demand the points (metres from the tiny data's origin) with these
    populations, each in township ``towns[i]`` (default 西镇); both spreads see the same."""
    n = len(points_xy)
    cells = gpd.GeoDataFrame(
        {"cell_id": [f"c{i}" for i in range(n)], "area_m2": np.full(n, 1000.0),
         "population": np.asarray(population, dtype=float), "township": [None] * n,
         "district": ["通州区"] * n},
        geometry=[pt(x, y) for x, y in points_xy], crs="EPSG:32650").to_crs("EPSG:4326")
    ctx.use_demand(cells, towns or ["西镇"] * n)
    return cells
