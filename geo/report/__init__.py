"""Reports: one area's HTML/JSON/CSV/GeoParquet report (:mod:`geo.report.html`), sensitivity
charts (:mod:`geo.report.charts`) and the all-districts batch (:mod:`geo.report.batch`)."""

from geo.report.batch import BatchSummary, DistrictResult, run_batch
from geo.report.html import write_report

__all__ = ["BatchSummary", "DistrictResult", "run_batch", "write_report"]
