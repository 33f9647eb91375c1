"""geo.report.batch: one report per district, reuse, failures, processes, dask, Ctrl-C.

The batch mechanics run on a fast fake evaluator (module-level, so it pickles for worker
processes and dask) that returns the hand-built evaluation of tests/test_report.py; one test
marked ``shared`` runs the real evaluator on the smallest district of the shared bundle.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from test_report import sample_evaluation, visible_text

from geo.errors import DataError, OutputError
from geo.io import current_umask
from geo.report import batch
from geo.report.batch import area_slug, run_batch
from geo.report.options import ReportOptions

pytestmark = pytest.mark.timeout(120)

TESTS_DIR = Path(__file__).resolve().parent
HOSTILE_ERROR = "<b>no data</b> for this district"


def fake_evaluate(name: str, **kwargs):
    """A quick evaluation named after the district; 'Bad' fails, 'Stop' is Ctrl-C."""
    if name == "Bad":
        raise DataError(HOSTILE_ERROR)
    if name == "Stop":
        raise KeyboardInterrupt
    assert kwargs["cell_size_m"] == 250.0 and "data_dir" in kwargs
    return sample_evaluation(name=name, name_en=area_slug(name).title())


def slow_evaluate(name: str, **kwargs):
    """Fast for 'Tongzhou'; the others leave a marker and sleep (to be interrupted)."""
    if name != "Tongzhou":
        Path(kwargs["data_dir"], f"started-{name}").write_text("x")
        time.sleep(60)
    return sample_evaluation(name=name, name_en=name)


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_area_slug():
    assert area_slug("通州区") == "tongzhou"
    assert area_slug("通州") == "tongzhou"
    assert area_slug("Tongzhou District") == "tongzhou"
    assert area_slug("SHUNYI") == "shunyi"
    assert area_slug("/data/my area.geojson") == "my_area"
    assert area_slug("../..") == "area"


def test_serial_batch_reuse_force_and_failure(tmp_path):
    out = tmp_path / "beijing"
    seen: list[tuple[str, int, int]] = []
    names = ["通州区", "Bad", "Shunyi"]
    summary = run_batch(names, out, ReportOptions(maps=False), evaluate=fake_evaluate,
                        progress=lambda r, done, total: seen.append((r.slug, done, total)))
    assert [d.status for d in summary.districts] == ["ok", "failed", "ok"]
    assert seen == [("tongzhou", 1, 3), ("bad", 2, 3), ("shunyi", 3, 3)]
    bad = summary.districts[1]
    assert bad.error == f"DataError: {HOSTILE_ERROR}" and bad.report is None
    assert all(d.wall_time_s >= 0 for d in summary.districts)
    assert not (out / "bad").exists()
    for slug in ("tongzhou", "shunyi"):
        contract = json.loads((out / slug / "claims.json").read_text(encoding="utf-8"))
        assert contract == sample_evaluation(name="通州区" if slug == "tongzhou" else "Shunyi",
                                             name_en=slug.title()).to_dict()
        assert 'href="../index.html"' in (out / slug / "index.html").read_text("utf-8")

    # summary.json / summary.csv: status, error, wall time, every claim's value
    data = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [d["status"] for d in data["districts"]] == ["ok", "failed", "ok"]
    assert (data["n_ok"], data["n_failed"], data["n_reused"]) == (2, 1, 0)
    assert [c["id"] for c in data["claims"]] == ["C01", "C02", "C03", "C04", "C06b"]
    c01 = sample_evaluation().claim("C01").value
    table = pd.read_csv(out / "summary.csv")
    assert table["slug"].tolist() == ["tongzhou", "bad", "shunyi"]
    assert table["C01_measured"].tolist()[::2] == pytest.approx([c01, c01])
    assert table["C01_verdict"].tolist()[::2] == ["inconclusive"] * 2
    assert table["error"].tolist()[1] == f"DataError: {HOSTILE_ERROR}"
    assert (table["wall_time_s"] >= 0).all()

    assert (out / "index.html").stat().st_mode & 0o777 == 0o666 & ~current_umask()
    # the comparison page: a link per district, values coloured by verdict, error escaped
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="tongzhou/index.html"' in page and 'href="shunyi/index.html"' in page
    assert HOSTILE_ERROR not in page and "&lt;b&gt;no data&lt;/b&gt;" in page
    text = visible_text(page)
    assert text.count(f"{c01 * 100:.1f} %") == 2
    assert "通州区 (Tongzhou)" in text and "© OpenStreetMap contributors" in text
    assert "WorldPop" in text
    row = page[page.index('id="district-tongzhou"'):page.index('id="district-bad"')]
    assert row.count('class="verdict inconclusive"') == 2  # C01 and C02
    assert row.count('class="verdict met"') == 1 and row.count('class="verdict not_met"') == 2

    # a second run reuses complete districts and retries the failed one
    stamp = (out / "tongzhou" / "claims.json").stat().st_mtime_ns
    again = run_batch(names, out, ReportOptions(maps=False), evaluate=fake_evaluate)
    assert [d.status for d in again.districts] == ["reused", "failed", "reused"]
    assert (out / "tongzhou" / "claims.json").stat().st_mtime_ns == stamp
    assert again.districts[0].claims == summary.districts[0].claims
    forced = run_batch(["通州区"], out, ReportOptions(maps=False), evaluate=fake_evaluate, force=True)
    assert forced.districts[0].status == "ok"
    assert (out / "tongzhou" / "claims.json").stat().st_mtime_ns != stamp
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name != ".geo-report"]


def test_ctrl_c_leaves_complete_districts_only(tmp_path):
    out = tmp_path / "b"
    with pytest.raises(KeyboardInterrupt):
        run_batch(["Tongzhou", "Stop", "Shunyi"], out, ReportOptions(maps=False), evaluate=fake_evaluate)
    assert sorted(p.name for p in out.iterdir()) == ["tongzhou"]  # no summary, no temp files
    assert (out / "tongzhou" / "claims.json").is_file()


def test_bad_arguments(tmp_path):
    with pytest.raises(DataError, match="jobs"):
        run_batch(["Tongzhou"], tmp_path / "a", jobs=0, evaluate=fake_evaluate)
    with pytest.raises(DataError, match="same folder name twice"):
        run_batch(["通州区", "tongzhou"], tmp_path / "a", evaluate=fake_evaluate)
    with pytest.raises(DataError, match="baidu"):
        run_batch(["Tongzhou"], tmp_path / "a", ReportOptions(tiles="baidu"), evaluate=fake_evaluate)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(OutputError, match="geo did not write"):
        run_batch(["Tongzhou"], tmp_path / "mine", evaluate=fake_evaluate)
    assert not (tmp_path / "a").exists()


def test_a_users_folder_with_summary_json_is_never_taken_for_a_batch(tmp_path):
    from geo.io import folder_files

    mine = tmp_path / "d"
    mine.mkdir()
    (mine / "summary.json").write_text("{}")
    (mine / "index.html").write_text("my page")
    with pytest.raises(OutputError, match="geo did not write"):
        run_batch(["Tongzhou"], mine, ReportOptions(maps=False), evaluate=fake_evaluate)
    assert (mine / "index.html").read_text() == "my page"
    assert folder_files(mine) == ["index.html", "summary.json"]


def test_a_file_added_deep_inside_a_batch_blocks_the_next_run(tmp_path):
    out = tmp_path / "beijing"
    run_batch(["Tongzhou"], out, ReportOptions(maps=False), evaluate=fake_evaluate)
    mine = out / "tongzhou" / "tables" / "my-notes.txt"
    mine.write_text("keep")
    with pytest.raises(OutputError, match="geo did not write"):
        run_batch(["Tongzhou"], out, ReportOptions(maps=False), evaluate=fake_evaluate, force=True)
    assert mine.read_text() == "keep"
    mine.unlink()
    assert run_batch(["Tongzhou"], out, ReportOptions(maps=False), evaluate=fake_evaluate,
                     force=True).districts[0].status == "ok"


def test_tiles_key_is_never_written_into_markers(tmp_path):
    out = tmp_path / "beijing"
    secret = "SECRETKEY0123456789"
    run_batch(["Tongzhou"], out, ReportOptions(maps=False, tiles="tianditu", tiles_key=secret),
              evaluate=fake_evaluate)
    for f in out.rglob(".geo-report"):
        assert secret not in f.read_text(), f


def test_parallel_processes_match_serial(tmp_path):
    names = ["Tongzhou", "Bad", "Daxing"]
    par = run_batch(names, tmp_path / "par", ReportOptions(maps=False), jobs=2, evaluate=fake_evaluate)
    assert par.executor == "2 processes"
    assert [d.status for d in par.districts] == ["ok", "failed", "ok"]
    ser = run_batch(names, tmp_path / "ser", ReportOptions(maps=False), evaluate=fake_evaluate)
    assert [d.claims for d in ser.districts] == [d.claims for d in par.districts]
    for slug in ("tongzhou", "daxing"):
        for name in ("claims.json", "index.html", "tables/claims.csv"):
            assert ((tmp_path / "par" / slug / name).read_bytes()
                    == (tmp_path / "ser" / slug / name).read_bytes())


def test_dask_local_cluster(tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                      dashboard_address=None) as cluster:
        summary = run_batch(["Tongzhou", "Bad"], tmp_path / "d", ReportOptions(maps=False), evaluate=fake_evaluate, dask_address=cluster.scheduler_address)
    assert summary.executor.startswith("dask tcp://")
    assert [d.status for d in summary.districts] == ["ok", "failed"]
    assert summary.districts[1].error == f"DataError: {HOSTILE_ERROR}"
    assert (tmp_path / "d" / "tongzhou" / "claims.json").is_file()
    assert json.loads((tmp_path / "d" / "summary.json").read_text())["n_ok"] == 1


def test_dask_unreachable_scheduler(tmp_path, monkeypatch):
    monkeypatch.setattr(batch, "DASK_CONNECT_TIMEOUT_S", 0.5)
    with pytest.raises(DataError, match="cannot reach the scheduler"):
        run_batch(["Tongzhou"], tmp_path / "d", ReportOptions(maps=False), evaluate=fake_evaluate, dask_address="tcp://127.0.0.1:9")


def test_sigint_to_parallel_batch(tmp_path):
    """Ctrl-C in a terminal (SIGINT to the process group) during a --jobs 2 batch."""
    out = tmp_path / "out"
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(TESTS_DIR)!r})
        from test_batch import slow_evaluate
        from geo.report.batch import run_batch
        from geo.report.options import ReportOptions
        if __name__ == "__main__":
            run_batch(["Tongzhou", "Shunyi", "Daxing"], {str(out)!r},
                      ReportOptions(maps=False, data_dir={str(tmp_path)!r}), jobs=2,
                      evaluate=slow_evaluate)
    """)
    (tmp_path / "run.py").write_text(script)
    proc = subprocess.Popen([sys.executable, str(tmp_path / "run.py")], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not ((out / "tongzhou" / "claims.json").is_file()
                   and list(tmp_path.glob("started-*"))):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "batch did not start"
            time.sleep(0.1)
        os.killpg(proc.pid, signal.SIGINT)
        t_int = time.monotonic()
        _, err = proc.communicate(timeout=60)
        stop_s = time.monotonic() - t_int
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0 and "BatchInterrupted" in err
    # the message says what finished and how to resume; queued districts do not run on
    assert "1 of 3 districts finished (tongzhou)" in err
    assert "run the same command again to resume" in err
    assert stop_s < 20, f"took {stop_s:.1f} s to stop"
    # the finished district is complete; nothing else, nothing half-written, no summary
    assert sorted(p.name for p in out.iterdir()) == ["tongzhou"]


@pytest.mark.shared
@pytest.mark.slow
def test_real_evaluator_on_smallest_district(tmp_path, shared_data_dir):
    from geo.areas import districts

    smallest = min(districts(data_dir=shared_data_dir), key=lambda d: d.area_km2)
    summary = run_batch([smallest.name], tmp_path / "real", ReportOptions(data_dir=shared_data_dir, sensitivity=False, tiles="none"))
    d = summary.districts[0]
    assert d.status == "ok", d.error
    folder = tmp_path / "real" / d.slug
    contract = json.loads((folder / "claims.json").read_text(encoding="utf-8"))
    assert contract["area"]["name"] == smallest.name
    assert {c["id"] for c in contract["claims"]} >= {"C01", "C02", "C03", "C04"}
    page = (folder / "index.html").read_text(encoding="utf-8")
    for cid in ("C01", "C02", "C03", "C04"):
        assert f'id="card-{cid}"' in page
    maps_written = sorted(p.stem for p in (folder / "maps").glob("*.html"))
    assert "C01" in maps_written  # stations and cells exist in every district
    assert batch.batch_index_html(summary).count(f'href="{d.slug}/index.html"') == 1


def test_results_made_with_other_settings_are_not_reused(tmp_path):
    out = tmp_path / "beijing"
    first = run_batch(["通州区"], out, ReportOptions(maps=False, sensitivity=False), evaluate=fake_evaluate)
    assert [d.status for d in first.districts] == ["ok"]
    same = run_batch(["通州区"], out, ReportOptions(maps=False, sensitivity=False), evaluate=fake_evaluate)
    assert [d.status for d in same.districts] == ["reused"]
    other = run_batch(["通州区"], out, ReportOptions(maps=False, sensitivity=True), evaluate=fake_evaluate)
    assert [d.status for d in other.districts] == ["ok"]


def test_workers_take_the_largest_districts_first(shared_data_dir):
    """Longest-first order: by district area (km²), largest first; areas that are not
    districts keep their input order after them; the summary keeps the input order."""
    from geo.areas import districts

    opts = ReportOptions(data_dir=shared_data_dir)
    ds = districts(data_dir=shared_data_dir)
    tasks = [batch.DistrictTask(n, area_slug(n), "out", options=opts)
             for n in ["my_area.geojson", *[d.name for d in ds], "other.geojson"]]
    order = batch.largest_first(tasks)
    by_size = sorted(ds, key=lambda d: -d.area_km2)
    assert [t.name for t in order] == [d.name for d in by_size] + ["my_area.geojson",
                                                                   "other.geojson"]
    assert order[0].name == max(ds, key=lambda d: d.area_km2).name == "密云区"
