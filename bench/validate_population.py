"""Validation of the population surface on Beijing's townships (issue 11).

Run: ``GEO_DATA_DIR=../shared/data python bench/validate_population.py`` (a few seconds).
Disaggregates Beijing's 16 district totals (the sums of the WorldPop township counts of the
bundle's ``population-beijing-townships``) to its 331 townships with the areal spread, bus stops
alone, and the fitted ancillary mixture of :mod:`geo.population.weights` (bundled weights
in-sample, and refitted leave-one-district-out: the honest score), and prints R² and the median
absolute percentage error (MdAPE) of each against the real township counts. Exits 1 when the
leave-one-district-out mixture does not beat areal on both.

``--refit`` also prints the weights refitted on all 16 districts as a ``FITTED_WEIGHTS`` literal
to paste into geo/population/weights.py (after new OSM data, say).

Data: WorldPop (www.worldpop.org) CC BY 4.0 via tsinghua-fib-lab/mosstool; © OpenStreetMap
contributors (Geofabrik Beijing extract).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from geo.population.weights import Validation, validate


def main(argv: list[str] | None = None, data_dir: str | None = None) -> Validation:
    """Run the validation, print its table; returns the :class:`Validation`."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=data_dir, help="data directory (else GEO_DATA_DIR)")
    ap.add_argument("--refit", action="store_true", help="print refitted FITTED_WEIGHTS")
    args = ap.parse_args(argv)
    v = validate(args.data_dir)
    print(v.table())
    if args.refit:
        body = ", ".join(f'"{k}": {w:.4f}' for k, w in v.fitted_weights.items())
        print("FITTED_WEIGHTS = {" + body + "}")
    return v


def beats_areal(v: Validation) -> bool:
    """True when the leave-one-district-out mixture beats areal on R² and on MdAPE."""
    rows = {r["method"]: r for r in v.rows}
    areal = rows["areal (even spread)"]
    lodo = rows["fitted mixture, leave-one-district-out"]
    return lodo["r2"] > areal["r2"] and lodo["mdape_pct"] < areal["mdape_pct"]


if __name__ == "__main__":
    sys.exit(0 if beats_areal(main()) else 1)
