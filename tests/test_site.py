"""Closing a claim's gap: `geo site` on toy data (hand-checked) and on the shared bundle."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli
from test_evaluate import _claim
from tinydata import make_data_dir
from toyctx import set_demand

from geo.claims.context import StudyContext
from geo.claims.gap import close_gap
from geo.errors import GeoError
from geo.scenarios import load_scenario

FIRE = {"threshold_min": 5, "turnout_min": 1, "facility_kind": "fire_station",
        "speed_profile": "fire", "direction": "from_facility", "denominator": "population"}
TARGET = {"value": 1.0, "comparator": ">=", "unit": "share", "year": 2030}


@pytest.fixture()
def ctx(tmp_path):
    c = StudyContext("tongzhou", data_dir=make_data_dir(tmp_path / "data"))
    # A (1 km from 觅子店, covered today), B and C far from every station
    set_demand(c, [(7020, 6020), (9000, 9000), (9000, 500)], [10, 30, 20])
    return c


def test_one_new_station_goes_to_the_largest_uncovered_population(ctx):
    result, model = close_gap(ctx, _claim("drive_time_share", FIRE, TARGET), add=1)
    assert model["method"] == "approximation" and model["unit"] == "min"
    assert result.covered_before == pytest.approx(10)
    assert result.covered_after == pytest.approx(40)          # B (30 people) joins
    site = result.sites.to_crs("EPSG:32650").geometry.iloc[0]
    b = ctx.cells("area").to_crs("EPSG:32650").geometry.iloc[1]
    assert site.distance(b) < 1.0                             # the candidate at B's centre
    assert result.proven_optimal


def test_full_coverage_needs_two_sites(ctx):
    result, _ = close_gap(ctx, _claim("drive_time_share", FIRE, TARGET), target_share=1.0)
    assert result.n_sites == 2 and result.share_after == pytest.approx(1.0)


def test_claims_that_cannot_be_sited(ctx):
    with pytest.raises(GeoError, match="not a coverage claim"):
        close_gap(ctx, _claim("facility_count", {"facility_kind": "school"},
                              {"value": 1, "comparator": ">=", "unit": "count",
                               "year": 2030}), add=1)
    entrances = _claim("drive_time_share",
                       {"threshold_min": 15, "facility_kind": "expressway_entrance",
                        "speed_profile": "drive", "direction": "to_facility"}, TARGET)
    with pytest.raises(GeoError, match="cannot be measured"):
        close_gap(ctx, entrances, add=1)
    with pytest.raises(GeoError, match="exactly one"):
        close_gap(ctx, _claim("drive_time_share", FIRE, TARGET), add=1, target_share=0.5)


@pytest.mark.shared
def test_tongzhou_six_fire_stations(shared_data_dir, tmp_path):
    out = tmp_path / "site.json"
    geo = tmp_path / "sites.geojson"
    res = run_cli("site", "--claim", "C04", "--add", "6", "--area", "tongzhou", "--json",
                  str(out), "--geojson", str(geo), env={"GEO_DATA_DIR": str(shared_data_dir)})
    assert res.returncode == 0, res.stderr
    d = json.loads(out.read_text(encoding="utf-8"))
    assert d["n_sites"] == 6 and len(d["sites"]) == 6
    assert d["share_after"] > d["share_before"] > 0
    gains = [s["covered_gain"] for s in d["sites"]]
    assert gains == sorted(gains, reverse=True) and min(gains) > 0
    assert d["covered_after"] - d["covered_before"] == pytest.approx(sum(gains), rel=1e-6)
    assert "proposed sites" in res.stdout and "covered" in res.stdout
    assert len(json.loads(geo.read_text(encoding="utf-8"))["features"]) == 6
    scen = load_scenario(geo)   # the sites file is a valid scenario
    assert len(scen.added) == 6 and set(scen.added["kind"]) == {"fire_station"}


def test_cli_site_unknown_claim(tmp_path):
    res = run_cli("site", "--claim", "C99", "--add", "1")
    assert res.returncode == 2 and "C99" in res.stderr


@pytest.mark.shared
def test_report_with_proposed_sites(shared_data_dir, tmp_path):
    out = tmp_path / "r"
    res = run_cli("report", "--area", "tongzhou", "--out", str(out), "--site", "C04:2",
                  "--no-maps", "--no-sensitivity", env={"GEO_DATA_DIR": str(shared_data_dir)})
    assert res.returncode == 0, res.stderr
    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'id="siting-C04"' in page and "2 proposed sites" in page
    start = page.index('id="card-C04"')
    card = page[start:page.index("</section>", start)]
    assert 'href="#siting-C04"' in card                  # the claim card links to its siting
    assert "2 new sites raise the covered population" in page and "street / town" in page
    sites = json.loads((out / "sites" / "C04.geojson").read_text(encoding="utf-8"))
    assert len(sites["features"]) == 2
    assert sites["siting"]["share_after"] > sites["siting"]["share_before"]
    bad = run_cli("report", "--area", "tongzhou", "--out", str(tmp_path / "x"), "--site",
                  "C04:zero", env={"GEO_DATA_DIR": str(shared_data_dir)})
    assert bad.returncode == 2 and "CLAIM:N" in bad.stderr
