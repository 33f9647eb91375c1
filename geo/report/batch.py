"""Batch reports: every claim for many areas (the 16 Beijing districts), one task per area.

:func:`run_batch` writes ``out_dir/<slug>/`` (a full :func:`geo.report.html.write_report` report
per district, ``slug`` = pinyin such as ``tongzhou``), then ``out_dir/index.html`` (every claim's
measured value and verdict by district, linking each district page), ``out_dir/summary.json``
and ``out_dir/summary.csv`` (status, error and wall time per district).

- A district whose folder already holds a complete report (``claims.json`` and ``index.html``;
  reports are written atomically, so present means complete) is reused unless ``force``.
- A district that fails is recorded with its error message; the batch goes on.
- ``jobs > 1`` runs districts in parallel processes (``ProcessPoolExecutor``, spawn start
  method); ``dask_address`` sends the same tasks to a ``dask.distributed`` scheduler. The
  ``evaluate`` callable must then be picklable (a module-level function).
- Ctrl-C: every file is written atomically (district folders are staged and renamed), so an
  interrupted batch leaves complete district reports and no half-written files; the summary
  files are only written once every district has finished.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from geo.errors import DataError, OutputError
from geo.format import fmt_value, verdict_words
from geo.io import check_output, is_empty_folder, is_toolkit_folder, write_marker
from geo.report.html import render
from geo.report.options import ReportOptions

log = logging.getLogger(__name__)

OK, REUSED, FAILED = "ok", "reused", "failed"
#: Seconds to wait for a dask scheduler to answer before giving up.
DASK_CONNECT_TIMEOUT_S = 10.0
#: Called in the parent after each district: ``progress(result, done, total)``.
ProgressCallback = Callable[["DistrictResult", int, int], None]


def area_slug(name: str) -> str:
    """Folder name for an area: the pinyin of a Beijing district (``通州区`` -> ``tongzhou``),
    a GeoJSON file's stem, else the name made file-safe and lower-case."""
    from geo.areas import BEIJING_DISTRICTS

    text = str(name).strip()
    for zh, pinyin in BEIJING_DISTRICTS.items():
        if text in (zh, zh.removesuffix("区")) or text.lower() in (
                pinyin.lower(), f"{pinyin.lower()} district"):
            return pinyin.lower()
    if text.lower().endswith((".geojson", ".json")):
        text = Path(text).stem
    slug = re.sub(r"[^\w.-]+", "_", text, flags=re.UNICODE).strip("._").lower()
    return slug or "area"


@dataclass(frozen=True)
class DistrictTask:
    """Everything one worker needs (picklable): the area, where to write, how to evaluate."""

    name: str
    slug: str
    out_dir: str
    force: bool = False
    evaluate: Callable[..., Any] | None = None
    options: ReportOptions = field(default_factory=ReportOptions)


@dataclass
class DistrictResult:
    """One district's outcome. ``claims`` holds per-claim ``id, title_zh, title_en, value,
    unit, verdict, method, target_text`` (from ``claims.json``); ``report`` is relative to the
    batch folder."""

    name: str
    slug: str
    status: str
    wall_time_s: float
    error: str | None = None
    report: str | None = None
    area: dict[str, Any] = field(default_factory=dict)
    claims: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class BatchSummary:
    """The whole batch: per-district results (input order), total wall time, how it ran."""

    out_dir: Path
    districts: list[DistrictResult]
    wall_time_s: float
    jobs: int
    executor: str

    @property
    def index(self) -> Path:
        return self.out_dir / "index.html"

    def count(self, status: str) -> int:
        return sum(1 for d in self.districts if d.status == status)

    @property
    def failed(self) -> list[DistrictResult]:
        return [d for d in self.districts if d.status == FAILED]

    def to_dict(self) -> dict[str, Any]:
        """The content of ``summary.json``."""
        return {"jobs": self.jobs, "executor": self.executor,
                "wall_time_s": round(self.wall_time_s, 3),
                "n_ok": self.count(OK), "n_reused": self.count(REUSED),
                "n_failed": self.count(FAILED), "claims": _claim_columns(self.districts),
                "districts": [{**asdict(d), "wall_time_s": round(d.wall_time_s, 3)}
                              for d in self.districts]}


def _claims_digest(contract: dict[str, Any]) -> list[dict[str, Any]]:
    from geo.format import COMPARATOR_TEXT

    out = []
    for c in contract.get("claims", []):
        m, t = c.get("measured") or {}, c.get("target") or {}
        pattern = COMPARATOR_TEXT.get(str(t.get("comparator")), f"{t.get('comparator')} {{v}}")
        out.append({"id": c.get("id"), "title_zh": c.get("title_zh"),
                    "title_en": c.get("title_en"), "value": m.get("value"),
                    "unit": m.get("unit"), "method": m.get("method"),
                    "verdict": c.get("verdict"),
                    "target_text": pattern.format(v=fmt_value(t.get("value"), t.get("unit")))})
    return out


_STAGING_RE = re.compile(r"^\..+\.(tmp-|old-)[A-Za-z0-9_]+$")


def _district_or_staging(path: Path) -> bool:
    """A batch's sub-folder that may be replaced: a district report (its own manifest lists
    every file in it) or a staging folder an interrupted run left behind."""
    return bool(_STAGING_RE.match(path.name)) or is_toolkit_folder(path)


def check_batch_dir(out_dir: str | os.PathLike[str]) -> Path:
    """``out_dir`` as a Path if a batch may write there: new, empty, a previous batch (its
    ``.geo-report`` manifest lists every top-level file) or only district reports (an
    interrupted batch), where every sub-folder is a district report whose own manifest lists
    every file in it. Anything else (a user's ``summary.json`` or a file added in ``tables/``)
    is refused with :class:`~geo.errors.OutputError`."""
    out = check_output(out_dir, kind="folder", what="batch report folder")
    if not out.exists() or is_empty_folder(out):
        return out
    allow = (lambda d: d.parent == out and _district_or_staging(d))
    if is_toolkit_folder(out, allow_dirs=allow):
        return out
    entries = list(out.iterdir())
    if entries and all(p.is_dir() and not p.is_symlink() and allow(p) for p in entries):
        return out
    raise OutputError(f"batch report folder {out} is not a geo batch report: it holds files "
                      f"geo did not write (none listed in a .geo-report manifest): choose a new or empty folder, e.g. "
                      f"{out / 'beijing'}")


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a batch; the message says what finished and how to resume."""


def _complete(folder: Path) -> bool:
    return (folder / "claims.json").is_file() and (folder / "index.html").is_file()


def settings_fingerprint(task: DistrictTask) -> dict[str, Any]:
    """What a district's result depends on besides the data: evaluation and report settings
    (paths and callables as text), compared before an existing result is reused."""
    ev = task.evaluate
    return json.loads(json.dumps({
        "evaluate": None if ev is None else f"{ev.__module__}.{ev.__qualname__}",
        "options": task.options.fingerprint()}, default=str, sort_keys=True))


def _same_settings(folder: Path, task: DistrictTask) -> bool:
    try:
        marker = json.loads((folder / ".geo-report").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return marker.get("settings") == settings_fingerprint(task)


def _default_evaluate(name: str, **kwargs: Any) -> Any:
    """geo.claims.evaluate.evaluate_area on the area resolved by geo.areas.get_area."""
    from geo.areas import get_area
    from geo.claims.evaluate import evaluate_area

    area = get_area(name, data_dir=kwargs.get("data_dir"))
    return evaluate_area(area, **kwargs), area


def run_district(task: DistrictTask) -> DistrictResult:
    """Evaluate one area and write its report (or reuse a complete one). Never raises for a
    failing district (the error is recorded); Ctrl-C propagates."""
    from geo.report.html import write_report

    t0 = time.perf_counter()
    folder = Path(task.out_dir) / task.slug
    report = f"{task.slug}/index.html"
    if not task.force and _complete(folder) and not _same_settings(folder, task):
        log.info("%s: %s was made with other settings; evaluating again", task.name, folder)
    elif not task.force and _complete(folder):
        try:
            contract = json.loads((folder / "claims.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("%s: cannot reuse %s (%s); evaluating again", task.name, folder, exc)
        else:
            log.info("%s: reusing %s", task.name, folder)
            return DistrictResult(task.name, task.slug, REUSED, time.perf_counter() - t0,
                                  report=report, area=contract.get("area", {}),
                                  claims=_claims_digest(contract))
    try:
        kwargs = task.options.evaluate_kwargs()
        if task.evaluate is None:
            evaluation, area = _default_evaluate(task.name, **kwargs)
            geometry = area.geometry
        else:
            evaluation, geometry = task.evaluate(task.name, **kwargs), None
        write_report(evaluation, folder, task.options, area_geometry=geometry,
                     batch_index="../index.html", settings_fingerprint=settings_fingerprint(task))
        contract = evaluation.to_dict()
    except Exception as exc:
        msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
        log.warning("%s failed: %s", task.name, msg)
        log.debug("%s traceback", task.name, exc_info=True)
        return DistrictResult(task.name, task.slug, FAILED, time.perf_counter() - t0, error=msg)
    return DistrictResult(task.name, task.slug, OK, time.perf_counter() - t0, report=report,
                          area=contract.get("area", {}), claims=_claims_digest(contract))


def _failed(task: DistrictTask, exc: BaseException, t0: float) -> DistrictResult:
    msg = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return DistrictResult(task.name, task.slug, FAILED, time.perf_counter() - t0, error=msg)


def run_batch(
    area_names: Sequence[str] | None,
    out_dir: str | os.PathLike[str],
    options: ReportOptions | None = None,
    *,
    jobs: int = 1,
    force: bool = False,
    dask_address: str | None = None,
    evaluate: Callable[..., Any] | None = None,
    progress: ProgressCallback | None = None,
    title: str = "Beijing",
) -> BatchSummary:
    # reason for 9 parameters: what to report (areas, folder, options) and how to run the batch
    # (jobs, force, dask, evaluate, progress, title) are separate concerns; ReportOptions holds
    # everything that changes a district's result
    """Report every area in ``area_names`` (default: the 16 districts) under ``out_dir``.

    Parameters
    ----------
    area_names
        Area names as :func:`geo.areas.get_area` takes them; ``None`` = every district of
        :func:`geo.areas.districts`.
    out_dir
        Batch folder: ``<slug>/`` per area, ``index.html``, ``summary.json``, ``summary.csv``.
    options
        :class:`geo.report.options.ReportOptions`: how each area is evaluated (data, claims,
        network, cell size, sensitivity) and drawn (tiles, CDN, maps, charts).
    jobs
        Parallel worker processes (1 = in this process).
    force
        Evaluate again even where a complete district report exists.
    dask_address
        ``tcp://host:port`` of a dask.distributed scheduler: run the tasks there instead.
    evaluate
        ``evaluate(name, **options.evaluate_kwargs())``
        returning an ``AreaEvaluation``; default :func:`geo.claims.evaluate.evaluate_area`.
        Must be a module-level function for ``jobs > 1`` or dask.
    progress
        ``progress(result, done, total)`` called here after each district.
    title
        Heading of the comparison page.
    """
    from geo.io import write_json, write_text

    if not isinstance(jobs, int) or jobs < 1:
        raise DataError(f"jobs={jobs!r}: expected a whole number of worker processes >= 1")
    opts = (options or ReportOptions()).check()
    out = check_batch_dir(out_dir)
    names, slugs = _names_and_slugs(area_names, opts)
    tasks = [DistrictTask(n, s, str(out), force, evaluate, opts)
             for n, s in zip(names, slugs, strict=True)]
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    results: dict[str, DistrictResult] = {}

    def _done(res: DistrictResult) -> None:
        results[res.slug] = res
        if progress is not None:
            progress(res, len(results), len(tasks))

    try:
        if dask_address:
            executor = f"dask {dask_address}"
            _run_dask(tasks, dask_address, _done)
        elif jobs > 1 and len(tasks) > 1:
            executor = f"{min(jobs, len(tasks))} processes"
            _run_processes(tasks, min(jobs, len(tasks)), _done)
        else:
            executor = "serial"
            for task in tasks:
                _done(run_district(task))
    except KeyboardInterrupt as exc:
        finished = [r.slug for r in results.values() if r.status in (OK, REUSED)]
        raise BatchInterrupted(
            f"{len(finished)} of {len(tasks)} districts finished"
            f"{' (' + ', '.join(finished) + ')' if finished else ''}; queued ones were "
            f"cancelled; run the same command again to resume (finished districts are "
            f"reused)") from exc

    summary = BatchSummary(out, [results[t.slug] for t in tasks], time.perf_counter() - t0,
                           jobs, executor)
    write_json(out / "summary.json", summary.to_dict())
    write_text(out / "summary.csv", summary_csv(summary))
    write_text(out / "index.html", batch_index_html(summary, title=title))
    write_marker(out, {"written_by": "geo report for all Beijing districts (this folder may be replaced "
                                     "by the next batch)"})
    log.info("batch %s: %d ok, %d reused, %d failed in %.1f s", out, summary.count(OK),
             summary.count(REUSED), summary.count(FAILED), summary.wall_time_s)
    return summary


def _names_and_slugs(area_names: Sequence[str] | None,
                     opts: ReportOptions) -> tuple[list[str], list[str]]:
    """The areas to report (default: every district) and their folder names, each once."""
    if area_names is None:
        from geo.areas import districts

        area_names = [d.name for d in districts(data_dir=opts.data_dir)]
    names = list(area_names)
    if not names:
        raise DataError("area_names is empty: give at least one area (or None for all "
                        "districts)")
    slugs = [area_slug(n) for n in names]
    dupes = sorted({s for s in slugs if slugs.count(s) > 1})
    if dupes:
        raise DataError(f"area_names give the same folder name twice ({', '.join(dupes)}): "
                        f"list each area once")
    return names, slugs


def largest_first(tasks: Sequence[DistrictTask]) -> list[DistrictTask]:
    """The tasks in the order workers should take them: the largest districts (km², a
    district's work grows with its cells) first, so that the last task to finish is a small one
    (longest-processing-time-first scheduling); areas that are not districts keep their order
    after them. The results are reported in the input order whatever this order."""
    try:
        from geo.areas import districts

        data_dir = tasks[0].options.data_dir if tasks else None
        size = {area_slug(d.name): d.area_km2 for d in districts(data_dir=data_dir)}
    except Exception:   # only an ordering hint: without the districts, the input order
        log.debug("no district sizes; tasks in input order", exc_info=True)
        return list(tasks)
    return sorted(tasks, key=lambda t: -size.get(t.slug, 0.0))


def _run_processes(tasks: list[DistrictTask], jobs: int,
                   done: Callable[[DistrictResult], None]) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    t0 = time.perf_counter()
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        pending = {pool.submit(run_district, t): t for t in largest_first(tasks)}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                task = pending.pop(fut)
                try:
                    res = fut.result()
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # noqa: BLE001 - a worker died (BrokenProcessPool) or unpicklable
                    res = _failed(task, exc, t0)
                done(res)
    except BaseException:
        # cancel queued work at once: workers would otherwise go on with queued districts
        # (a worker records Ctrl-C as one task's result and takes the next); there is no
        # public terminate before Python 3.14
        procs = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + 2  # a worker hit by the same Ctrl-C cleans its staging
        for proc in procs:
            proc.join(timeout=max(0.0, deadline - time.monotonic()))
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
                proc.join(timeout=5)
        raise
    pool.shutdown(wait=True)


def _run_dask(tasks: list[DistrictTask], address: str,
              done: Callable[[DistrictResult], None]) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:  # pragma: no cover - distributed is a dependency
        raise DataError("a dask cluster needs the 'distributed' package: pip install distributed") \
            from exc
    import uuid

    t0 = time.perf_counter()
    run = uuid.uuid4().hex[:8]
    try:
        client = Client(address, timeout=f"{DASK_CONNECT_TIMEOUT_S}s")
    except OSError as exc:
        raise DataError(f"dask_address {address!r}: cannot reach the scheduler ({exc}); start "
                        f"one with 'dask scheduler' or check the address") from exc
    try:
        futures = {client.submit(run_district, t, key=f"geo-report-{t.slug}-{run}",
                                 pure=False): t for t in largest_first(tasks)}
        try:
            for fut in as_completed(list(futures)):
                task = futures[fut]
                try:
                    res = fut.result()
                except Exception as exc:  # noqa: BLE001 - the worker lost the task or could not run it
                    res = _failed(task, exc, t0)
                done(res)
        except BaseException:
            client.cancel(list(futures))
            raise
    finally:
        client.close()


# --------------------------------------------------------------------------- outputs

def _claim_columns(districts: Sequence[DistrictResult]) -> list[dict[str, Any]]:
    cols: dict[str, dict[str, Any]] = {}
    for d in districts:
        for c in d.claims:
            cols.setdefault(c["id"], {k: c.get(k) for k in ("id", "title_zh", "title_en",
                                                             "unit", "target_text")})
    return list(cols.values())


def summary_csv(summary: BatchSummary) -> str:
    """``summary.csv``: one row per district with status, wall time, error and every claim's
    measured value and verdict."""
    import pandas as pd

    claim_ids = [c["id"] for c in _claim_columns(summary.districts)]
    rows = []
    for d in summary.districts:
        row: dict[str, Any] = {"name": d.name, "name_en": d.area.get("name_en"), "slug": d.slug,
                               "status": d.status, "wall_time_s": round(d.wall_time_s, 3),
                               "error": d.error, "report": d.report}
        by_id = {c["id"]: c for c in d.claims}
        for cid in claim_ids:
            c = by_id.get(cid, {})
            row[f"{cid}_measured"] = c.get("value")
            row[f"{cid}_verdict"] = c.get("verdict")
        rows.append(row)
    from geo.io import spreadsheet_safe

    return spreadsheet_safe(pd.DataFrame(rows)).to_csv(index=False)


def batch_index_html(summary: BatchSummary, *, title: str = "Beijing") -> str:
    """The comparison page: measured value and verdict of every claim by district."""
    claims = _claim_columns(summary.districts)
    rows = []
    for d in summary.districts:
        by_id = {c["id"]: c for c in d.claims}
        values: list[dict[str, Any] | None] = []
        for col in claims:
            c = by_id.get(col["id"])
            if c is None:
                values.append(None)
                continue
            v = c.get("value")
            values.append({"text": fmt_value(v, c.get("unit")),
                           "verdict": c.get("verdict"),
                           "verdict_label": verdict_words(c.get("verdict"))})
        zh = d.area.get("name") or d.name
        en = d.area.get("name_en")
        rows.append({"slug": d.slug, "title": f"{zh} ({en})" if en and en != zh else zh,
                     "status": d.status, "error": d.error, "report": d.report,
                     "wall_time_text": f"{d.wall_time_s:.1f}" if math.isfinite(d.wall_time_s)
                     else "n/a", "cells": values})
    return render("batch.html.j2", title=title, claims=claims, districts=rows,
                  n_ok=summary.count(OK), n_reused=summary.count(REUSED),
                  n_failed=summary.count(FAILED), executor=summary.executor,
                  wall_time_text=f"{summary.wall_time_s:.1f}", lang="en")
