"""Reports: one area's HTML/JSON/CSV/GeoParquet report (:mod:`geo.report.html`), sensitivity
charts (:mod:`geo.report.charts`), the all-districts batch (:mod:`geo.report.batch`), their
settings (:class:`ReportOptions`) and proposed sites in words (:mod:`geo.report.sites`)."""

from geo.report.batch import BatchSummary, DistrictResult, run_batch
from geo.report.html import write_report
from geo.report.options import DEFAULT_CELL_SIZE_M, ReportOptions
from geo.report.sites import Siting

__all__ = ["DEFAULT_CELL_SIZE_M", "BatchSummary", "DistrictResult",
           "ReportOptions", "Siting", "run_batch", "write_report"]
