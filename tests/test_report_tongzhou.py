"""The main job end to end: the Tongzhou report on the shared bundle (what `make report` runs)."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli


@pytest.mark.shared
@pytest.mark.slow
def test_tongzhou_report(shared_data_dir, tmp_path):
    out = tmp_path / "tongzhou"
    res = run_cli("report", "--area", "tongzhou", "--out", str(out),
                  env={"GEO_DATA_DIR": str(shared_data_dir)})
    assert res.returncode == 0, res.stderr
    assert str(out / "index.html") in res.stdout
    page = (out / "index.html").read_text(encoding="utf-8")
    for cid in ("C01", "C02", "C03", "C04"):
        assert f'id="card-{cid}"' in page
    assert "&copy; <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a> contributors" in page
    d = json.loads((out / "claims.json").read_text(encoding="utf-8"))
    verdicts = {c["id"]: c["verdict"] for c in d["claims"]}
    assert verdicts["C02"] == "inconclusive"          # no road network in the bundle
    for cid in ("C01", "C03", "C04"):
        assert (out / "maps" / f"{cid}.html").stat().st_size > 100_000
        assert (out / "layers" / f"{cid}_cells.parquet").exists()
    assert (out / "tables" / "claims.csv").exists()
