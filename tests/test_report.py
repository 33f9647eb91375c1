"""geo.report.html / geo.report.charts on a hand-built AreaEvaluation (no evaluator needed).

The evaluation is made from the synthetic 6 x 6 grid of tests/test_maps.py: straight-line
distance from each cell to the nearest of three facilities, so every measured value below is
recomputed from the frames and every verdict comes from geo.claims.verdict, not typed in.
A facility, a township and a claim title carry hostile markup.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from conftest import run_cli
from test_maps import XSS_NAME, XSS_TOWN, synthetic

from geo.claims.registry import load_claims
from geo.claims.result import AreaEvaluation, ClaimLayers, ClaimResult
from geo.claims.verdict import combine, verdict
from geo.errors import DataError
from geo.report import charts, write_report

#: The claim file marks these as headline claims (headline = true).
HEADLINE_IDS = ("C01", "C02", "C03", "C04")
from geo.report import html as rhtml
from geo.report.options import ReportOptions

XSS_TITLE = "<script>alert(1)</script> title"
NO_NETWORK_NOTE = "no road network: the data has no roads layer"


def _result(claim, value, *, unit, method, denominator, variants=(), notes=(), layers=None,
            breakdown=(), parameters=None) -> ClaimResult:
    """A ClaimResult whose verdicts follow the claim's target and geo.claims.verdict."""
    t = claim.target
    base = verdict(value, t.value, t.comparator)
    sens = [{"parameter": p, "value": v, "measured": m, "verdict": verdict(m, t.value,
                                                                          t.comparator)}
            for p, v, m in variants]
    overall, robust = combine(base, [s["verdict"] for s in sens])
    return ClaimResult(claim=claim, value=value, unit=unit, method=method,
                       denominator=denominator, verdict=overall, base_verdict=base,
                       robust=robust, sensitivity=sens, breakdown=list(breakdown),
                       notes=list(notes), parameters=dict(parameters or {}), layers=layers)


def _share(cells: gpd.GeoDataFrame, mask: np.ndarray) -> float:
    pop = cells["population"].to_numpy()
    return float(pop[mask].sum() / pop.sum())


def _breakdown(cells: gpd.GeoDataFrame, mask: np.ndarray) -> list[dict]:
    towns = np.where(np.arange(len(cells)) % 2 == 0, XSS_TOWN, "永顺镇")
    out = []
    for town in sorted(set(towns)):
        sel = towns == town
        pop = cells["population"].to_numpy()[sel]
        out.append({"name": town, "measured": float(pop[mask[sel]].sum() / pop.sum()),
                    "population": float(pop.sum())})
    return out


def sample_evaluation(*, name: str = "测试区", name_en: str = "Testville",
                      drop: tuple[str, ...] = ()) -> AreaEvaluation:
    """A small evaluation with the four headline claims (met / not met / inconclusive) and one
    claim without layers; ``drop`` leaves claims out."""
    claims = {c.id: c for c in load_claims()}
    # the fixture exercises every verdict kind on discrete synthetic shares: it judges C01 by
    # ">=" (the claim file's two-sided "~" band, 27-31 %, holds no synthetic share) and C03 by
    # "eliminate" (the claim file now reports C03 as a measurement, issue 11)
    for cid, comp in (("C01", ">="), ("C03", "eliminate")):
        claims[cid] = dataclasses.replace(claims[cid], target=dataclasses.replace(
            claims[cid].target, comparator=comp))
    _area, fac, cells, sa = synthetic()
    dist = cells["distance_m"].to_numpy()

    # C01: share within 500 m; 300/600 m variants straddle the 29 % target -> inconclusive
    within = {r: dist <= r for r in (300, 500, 600)}
    c01_cells = cells[["cell_id", "population", "township", "geometry"]].assign(
        distance_m=dist, covered=within[500])
    c01 = _result(claims["C01"], _share(cells, within[500]), unit="share",
                  method="straight_line", denominator="population",
                  variants=[("threshold_m", r, _share(cells, within[r])) for r in (300, 600)],
                  notes=["jobs are not in OSM: residents only"],
                  layers=ClaimLayers(cells=c01_cells, cost_column="distance_m", cost_unit="m",
                                     covered_column="covered", threshold=500.0,
                                     facilities=fac, service_areas=sa),
                  breakdown=_breakdown(cells, within[500]),
                  parameters={"threshold_m": 500, "mode": "straight_line"})
    # C02: no network -> nothing measured
    c02 = _result(claims["C02"], None, unit="share", method=None, denominator="area",
                  notes=[NO_NETWORK_NOTE])
    # C03: blind spots beyond 300 m (eliminate -> not met, robust)
    blind = {r: ~(dist <= r) for r in (300, 500)}
    c03 = _result(claims["C03"], _share(cells, blind[300]), unit="share",
                  method="straight_line", denominator="population",
                  variants=[("benchmark_radius_m", 500, _share(cells, blind[500]))],
                  layers=ClaimLayers(cells=cells.assign(covered=~blind[300]),
                                     cost_column="distance_m", cost_unit="m",
                                     covered_column="covered", threshold=300.0,
                                     facilities=fac.iloc[:2]),
                  breakdown=_breakdown(cells, blind[300]))
    # C04: response time at 250 m/min from the stations over the reachable cells; share
    # within 8 min vs the 100 % target (met; the 125 m/min variant too)
    reach = cells.iloc[:-1]
    minutes = reach["distance_m"].to_numpy() / 250.0
    c04_cells = reach[["cell_id", "population", "geometry"]].assign(
        time_min=minutes, covered=minutes <= 8)
    c04 = _result(claims["C04"], _share(reach, minutes <= 8), unit="share",
                  method="approximation", denominator="population",
                  variants=[("speed_m_per_min", 125, _share(reach, minutes * 2 <= 8))],
                  layers=ClaimLayers(cells=c04_cells, cost_column="time_min",
                                     cost_unit="min", covered_column="covered", threshold=8.0,
                                     facilities=fac.assign(kind="fire_station")))
    # a count claim with a hostile title and no layers
    c06 = dataclasses.replace(claims["C06b"], title_en=XSS_TITLE)
    c06r = _result(c06, float(len(fac)), unit="count", method="osm_count",
                   denominator=None)
    results = [r for r in (c01, c02, c03, c04, c06r) if r.claim.id not in drop]
    return AreaEvaluation(
        area={"name": name, "name_en": name_en, "osm_id": 123, "area_km2": 2.25},
        data={"osm_data_date": "2026-06-07", "population_source": "WorldPop 2020 (test)",
              "network_source": None, "layers_missing": ["roads"]},
        parameters={"cell_size_m": 250.0, "sensitivity": True},
        claims=results)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[AreaEvaluation, Path]:
    ev = sample_evaluation()
    out = tmp_path_factory.mktemp("report") / "testville"
    index = write_report(ev, out)
    assert index == out / "index.html"
    return ev, out


class _Text(HTMLParser):
    """Visible text of a page (what a reader sees; scripts and styles skipped)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(page: str) -> str:
    p = _Text()
    p.feed(page)
    return " ".join(" ".join(p.parts).split())


def test_report_files(report):
    ev, out = report
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == sorted([
        ".geo-report", "index.html", "claims.json", "tables/claims.csv", "tables/sensitivity.csv",
        "tables/breakdown.csv", "maps/C01.html", "maps/C03.html", "maps/C04.html",
        "layers/C01_cells.parquet", "layers/C01_facilities.parquet",
        "layers/C01_service_areas.parquet", "layers/C03_cells.parquet",
        "layers/C03_facilities.parquet", "layers/C04_cells.parquet",
        "layers/C04_facilities.parquet"])
    # nothing hidden left beside the report; ordinary permissions (not the temp dir's 0700)
    assert [p.name for p in out.parent.iterdir()] == ["testville"]
    umask = __import__("geo.io").io.current_umask()
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask
    assert (out / "index.html").stat().st_mode & 0o777 == 0o666 & ~umask
    assert json.loads((out / "claims.json").read_text(encoding="utf-8")) == ev.to_dict()

    claims = pd.read_csv(out / "tables/claims.csv")
    assert claims["claim_id"].tolist() == [r.claim.id for r in ev.claims]
    assert claims["verdict"].tolist() == [r.verdict for r in ev.claims]
    assert claims.loc[claims.claim_id == "C01", "measured_value"].item() == pytest.approx(
        ev.claim("C01").value)
    assert claims["map"].fillna("").tolist() == ["maps/C01.html", "", "maps/C03.html",
                                                 "maps/C04.html", ""]
    sens = pd.read_csv(out / "tables/sensitivity.csv")
    assert len(sens) == sum(len(r.sensitivity) for r in ev.claims)
    assert sens.loc[sens.parameter == "threshold_m", "value"].astype(int).tolist() == [300, 600]
    bd = pd.read_csv(out / "tables/breakdown.csv")
    assert len(bd) == 4 and set(bd.claim_id) == {"C01", "C03"}
    assert XSS_TOWN in set(bd.name)  # raw in CSV (data), escaped only in HTML

    cells = gpd.read_parquet(out / "layers/C01_cells.parquet")
    src = ev.claim("C01").layers.cells
    assert len(cells) == len(src) and cells.crs.to_epsg() == 4326
    assert cells["covered"].tolist() == src["covered"].tolist()
    fac = gpd.read_parquet(out / "layers/C01_facilities.parquet")
    assert fac["name"].tolist()[0] == XSS_NAME


def test_headline_cards_at_top(report):
    ev, out = report
    page = (out / "index.html").read_text(encoding="utf-8")
    cards = re.findall(r'<div class="card (\w+)" id="card-(\w+)">', page)
    assert [c.claim.id for c in ev.claims if c.claim.headline] == list(HEADLINE_IDS)
    assert [cid for _, cid in cards] == list(HEADLINE_IDS)
    assert {cid: v for v, cid in cards} == {h: ev.claim(h).verdict for h in HEADLINE_IDS}
    # the cards come before the claims table, and each has a map link or says why not
    assert page.index('id="headline"') < page.index('id="claims-table"')
    assert {v for v, _ in cards} == {"met", "not_met", "inconclusive"}  # all three shown
    card_c02 = page[page.index('id="card-C02"'):page.index('id="card-C03"')]
    assert "Why inconclusive" in card_c02 and NO_NETWORK_NOTE in card_c02
    assert "maps/" not in card_c02
    card_c01 = page[page.index('id="card-C01"'):page.index('id="card-C02"')]
    # C01 straddles the target: its sensitivity variants explain the verdict
    assert "both met and not met" in card_c01 and 'href="maps/C01.html"' in card_c01
    text = visible_text(page)
    assert "29.0 %" in text  # the target, in percent
    assert f"{ev.claim('C01').value * 100:.1f} %" in text


def test_claims_table_and_details(report):
    ev, out = report
    page = (out / "index.html").read_text(encoding="utf-8")
    table = page[page.index('id="claims-table"'):page.index("</table>",
                                                            page.index('id="claims-table"'))]
    rows = re.findall(r'<tr id="row-(\w+)">', table)
    assert rows == [r.claim.id for r in ev.claims]
    row_c06 = table[table.index('id="row-C06b"'):]
    assert "no map:" in row_c06 and "this kind of claim has nothing to map" in row_c06
    text = visible_text(page)
    assert ev.claim("C03").robust and "robust: the one sensitivity variant agrees" in text
    assert "all 1 variants" not in text
    assert not ev.claim("C01").robust and "not robust: 1 of 2 variants give not met" in text
    # sensitivity charts are embedded as SVG images, one per claim with variants
    n_charts = len(re.findall(r'<img class="chart" alt="[^"]*" src="data:image/svg\+xml;base64,',
                              page))
    assert n_charts == sum(1 for r in ev.claims if r.sensitivity)
    # township breakdown tables
    assert page.count('<details class="breakdown">') == 2
    text = visible_text(page)
    for key, value in (("OSM data date", "2026-06-07"), ("population source", "WorldPop"),
                       ("layers missing", "roads")):
        assert re.search(rf"{key}\s+{value}", text), key
    assert "road network none: no road network was available" in text
    assert "cell size (m) 250" in text and "demand cells 250 m cells" in text
    assert "Demand: 250 m hexagonal cells." in text   # the header states the cell size
    for internal in ("cell_size_m", "osm_source", "network_notes", "None", "not_met", "{'"):
        assert internal not in text, internal


def test_every_name_is_escaped(report):
    _, out = report
    pages = [out / "index.html", *sorted((out / "maps").glob("*.html"))]
    for path in pages:
        page = path.read_text(encoding="utf-8")
        for hostile in (XSS_NAME, XSS_TOWN, XSS_TITLE):
            assert hostile not in page, (path.name, hostile)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; title" in index
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in index
    assert XSS_TITLE in visible_text(index) and XSS_TOWN in visible_text(index)
    assert "<script" not in index  # the index runs no script at all


def test_credits_on_every_page(report):
    _, out = report
    for path in [out / "index.html", *sorted((out / "maps").glob("*.html"))]:
        page = path.read_text(encoding="utf-8")
        text = visible_text(page) if path.name == "index.html" else page
        assert "OpenStreetMap" in text and "contributors" in text, path.name
        if path.name == "index.html":
            assert "© OpenStreetMap contributors" in text
            assert "WorldPop" in text


def test_output_is_deterministic(report, tmp_path):
    _, out = report
    again = write_report(sample_evaluation(), tmp_path / "again").parent
    for path in out.rglob("*"):
        if path.is_file():
            assert path.read_bytes() == (again / path.relative_to(out)).read_bytes(), path


def test_interrupted_report_leaves_the_old_one(report, tmp_path, monkeypatch):
    ev, _ = report
    out = tmp_path / "r"
    write_report(ev, out, ReportOptions(maps=False))
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(rhtml, "write_geoparquet", boom)
    with pytest.raises(KeyboardInterrupt):
        write_report(ev, out, ReportOptions(maps=False))
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]
    with pytest.raises(KeyboardInterrupt):
        write_report(ev, tmp_path / "new", ReportOptions(maps=False))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_refuses_a_folder_that_is_not_a_report(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("precious")
    with pytest.raises(DataError, match="not a geo report"):
        write_report(sample_evaluation(), tmp_path / "mine", ReportOptions(maps=False))
    assert (tmp_path / "mine" / "thesis.txt").read_text() == "precious"
    with pytest.raises(DataError, match="baidu"):
        write_report(sample_evaluation(), tmp_path / "x", ReportOptions(tiles="baidu"))
    assert not (tmp_path / "x").exists()


def test_missing_headline_claim_and_no_maps(tmp_path):
    ev = sample_evaluation(drop=("C02",))
    index = write_report(ev, tmp_path / "r", ReportOptions(maps=False, charts=False))
    page = index.read_text(encoding="utf-8")
    # headline cards come from the evaluated claims' headline marks (the claim file): a
    # claim left out of the evaluation has no card
    cards = re.findall(r'<div class="card \w+" id="card-(\w+)">', page)
    assert cards == ["C01", "C03", "C04"]
    assert not (tmp_path / "r" / "maps").exists()
    assert "maps were not drawn" in page and "data:image/svg" not in page


def test_tiles_none_and_cdn_pass_through(tmp_path):
    ev = sample_evaluation(drop=("C01", "C03"))
    write_report(ev, tmp_path / "r", ReportOptions(tiles="none", cdn=True))
    page = (tmp_path / "r" / "maps" / "C04.html").read_text(encoding="utf-8")
    assert "tile.openstreetmap.org" not in page
    assert re.search(r'<script src="https://[^"]*leaflet', page)  # CDN links kept
    assert "minutes" in page


# --------------------------------------------------------------------------- charts

def test_sensitivity_chart_svg():
    sens = [{"parameter": "threshold_m", "value": 400, "measured": 0.2, "verdict": "not_met"},
            {"parameter": "threshold_m", "value": 600, "measured": 0.31, "verdict": "met"},
            {"parameter": "spread", "value": "area", "measured": None, "verdict": "inconclusive"}]
    svg = charts.sensitivity_svg(sens, title="C01 轨道交通", unit="share", target=0.29,
                                 base_value=0.25)
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert svg == charts.sensitivity_svg(sens, title="C01 轨道交通", unit="share",
                                         target=0.29, base_value=0.25)
    # bars coloured by verdict, the null variant left out
    assert charts.VERDICT_COLORS["met"] in svg and charts.VERDICT_COLORS["not_met"] in svg
    assert "Date" not in svg
    if charts.cjk_font() is not None:  # CJK glyphs drawn from the CJK font, not boxes
        assert "NotoSansCJK" in svg or "CJK" in svg
    assert charts.sensitivity_svg(sens[2:], title="x", unit="share") is None


def _drawn_figure(monkeypatch, **kwargs):
    """Draw a sensitivity chart and keep its matplotlib figure open (caught at plt.close)."""
    import matplotlib.pyplot as plt

    kept = []
    monkeypatch.setattr(plt, "close", kept.append)
    assert charts.sensitivity_svg(**kwargs) is not None
    monkeypatch.undo()
    (fig,) = kept
    fig.canvas.draw()
    return fig


def _boxes_overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


@pytest.mark.parametrize(("unit", "target", "comparator", "metric"), [
    ("share", 0.0, "eliminate", "park_blind_spots"),  # C03: a 0 % target, lower is better
    ("count", 6, ">=", "facility_count"),  # C42-like: whole numbers
])
def test_chart_target_visible_and_legend_off_the_bars(monkeypatch, unit, target, comparator,
                                                      metric):
    sens = [{"parameter": "radius_m", "value": v, "measured": m, "verdict": vd}
            for v, m, vd in [(300, 0.62 if unit == "share" else 4, "not_met"),
                             (500, 0.56 if unit == "share" else 5, "not_met"),
                             (800, 0.41 if unit == "share" else 6, "met")]]
    fig = _drawn_figure(monkeypatch, sensitivity=sens, title="C03 公园绿地服务半径消盲",
                        unit=unit, target=target, base_value=sens[1]["measured"],
                        metric=metric, comparator=comparator)
    import matplotlib.pyplot as plt

    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    bars = [p.get_window_extent(renderer) for p in ax.patches]
    texts = [t.get_window_extent(renderer) for t in ax.texts]
    assert len(bars) == 3
    for box in bars + texts:  # the legend covers no bar and no label
        assert not _boxes_overlap(legend, box), (legend, box)
    # the target line lies inside the plot, clear of the left edge, even at 0
    x0, x1 = ax.get_xlim()
    assert x0 < target * (100 if unit == "share" else 1) < x1
    label = ax.get_xlabel()
    assert label == charts.axis_label(unit, metric=metric, comparator=comparator)
    if unit == "count":
        ticks = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
        assert ticks and all(t.replace(",", "").lstrip("-").isdigit() for t in ticks), ticks
        values = [t.get_text() for t in ax.texts]
        assert {"4", "5", "6"} <= set(values) and not any(".0" in v for v in values), values
    plt.close(fig)


def test_axis_label_says_what_and_which_way():
    assert charts.axis_label("share", metric="park_blind_spots", comparator="eliminate") == (
        "share of residents in blind spots (%), lower is better")
    assert charts.axis_label("count", metric="facility_count", comparator=">=") == (
        "number of facilities, higher is better")
    assert charts.axis_label("km", comparator="~") == (
        "measured value (km), closer to the target is better")
    assert charts.axis_label(None) == "measured value"


def test_cjk_font_fallback_warns(monkeypatch, caplog):
    from matplotlib import font_manager

    charts.cjk_font.cache_clear()
    monkeypatch.setattr(charts, "CJK_FAMILIES", ("No Such Font CJK",))
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    try:
        with caplog.at_level(logging.WARNING, logger="geo.report.charts"):
            assert charts.cjk_font() is None
            svg = charts.sensitivity_svg(
                [{"parameter": "p", "value": 1, "measured": 2.0, "verdict": "met"}],
                title="中文", unit="count", target=1)
        assert svg is not None
        assert any("no CJK font" in r.message for r in caplog.records)
    finally:
        charts.cjk_font.cache_clear()


@pytest.mark.parametrize(("value", "unit", "text"), [
    (0.2534, "share", "25.3 %"), (1.0, "share", "100.0 %"), (6.0, "count", "6"),
    (15.63, "km", "15.63 km"), (None, "share", "n/a"), (float("nan"), "km", "n/a"),
    (1234.5, "m2_per_person", "1,234 m²/person"), (12.5, "m2_per_person", "12.5 m²/person")])
def test_format_value(value, unit, text):
    """Charts write values with the one formatter (geo.format), not one of their own."""
    from geo.format import fmt_value

    assert fmt_value(value, unit) == text
    assert charts.value_text(value, unit) == text
    assert not hasattr(charts, "format_value")


def test_chart_variant_labels_use_the_tables_words():
    assert charts.variant_label({"parameter": "threshold_m", "value": 400}) == \
        "threshold (m) = 400"
    assert charts.variant_label({"parameter": "fire_engine_speed_kph", "value": 25.0}) == \
        "fire engine speed (km/h) = 25"
    assert charts.variant_label({"parameter": "stations", "value": "metro and light rail"}) \
        == "stations = metro and light rail"
    assert charts.variant_label({"parameter": "population_spread", "value": "worldpop"}) == \
        "population spread = worldpop"


# --------------------------------------------------------------------------- CLI

def test_cli_report_bad_input_exit_2(tmp_path, shared_data_dir):
    for args, needle in (
            (["--area", "atlantis"], "atlantis"),
            (["--area", "tongzhou", "--jobs", "0"], "--jobs"),
            (["--area", "tongzhou", "--tiles", "baidu"], "baidu"),
            (["--area", "tongzhou", "--cell-size-m", "-5"], "--cell-size-m")):
        res = run_cli("report", *args, "--out", str(tmp_path / "o"), "--data-dir",
                      str(shared_data_dir))
        assert res.returncode == 2, (args, res.stderr)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0], (args, res.stderr)
    assert not (tmp_path / "o").exists()


def test_robustness_and_reasons_in_words():
    ev = sample_evaluation()
    c03 = ev.claim("C03")
    assert rhtml.robust_text(c03) == "robust: the one sensitivity variant agrees"
    # not robust although the variants agree (the evaluator knows why, e.g. jobs missing)
    assert (rhtml.robust_text(dataclasses.replace(c03, robust=False))
            == "not robust: the variant agrees, but see the notes")
    c02 = ev.claim("C02")
    # the claim file's background notes do not crowd out the evaluator's reason
    noisy = dataclasses.replace(c02, notes=[NO_NETWORK_NOTE, *c02.claim.notes])
    assert rhtml.why_inconclusive(noisy) == [NO_NETWORK_NOTE]
    assert rhtml.why_inconclusive(dataclasses.replace(c02, notes=[])) == [
        "nothing could be measured"]
    assert rhtml.why_inconclusive(c03) == []


def test_stated_reason_is_shown_once():
    """The evaluator's "inconclusive: <why>" note is the reason, without the prefix."""
    from types import SimpleNamespace

    from geo.report.html import why_inconclusive

    r = SimpleNamespace(verdict="inconclusive", value=None, sensitivity=[], base_verdict="x",
                        claim=SimpleNamespace(notes=()),
                        notes=["inconclusive: no road network", "background"])
    assert why_inconclusive(r) == ["no road network"]



def test_a_user_folder_with_a_stray_claims_json_is_never_replaced(tmp_path, report):
    """`geo evaluate --json claims.json` in a working folder must not make it 'a report'."""
    ev, _ = report
    user = tmp_path / "work"
    (user / "thesis").mkdir(parents=True)
    (user / "notes.txt").write_text("keep me", encoding="utf-8")
    (user / "claims.json").write_text("{}", encoding="utf-8")
    with pytest.raises(DataError, match="not a geo report"):
        write_report(ev, user, ReportOptions(maps=False, charts=False))
    assert (user / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_out_dot_is_the_current_folder(tmp_path, report, monkeypatch):
    ev, _ = report
    here = tmp_path / "empty"
    here.mkdir()
    monkeypatch.chdir(here)
    write_report(ev, ".", ReportOptions(maps=False, charts=False))
    assert (here / "index.html").exists() and (here / ".geo-report").exists()


def test_shares_never_round_to_the_target():
    from geo.format import fmt_value as format_value

    assert format_value(0.99999, "share") == "> 99.9 %"
    assert format_value(1.0, "share") == "100.0 %"
    assert format_value(0.00001, "share") == "< 0.1 %"
    assert format_value(0.0, "share") == "0.0 %"


def test_population_provenance_is_a_sentence_not_a_dump():
    from geo.report.html import population_text

    pop = {"method": "dasymetric", "source": "WorldPop split", "total": 1857311.55,
           "scaling": {"通州区": 1.468495, "大兴区": 1.377001},
           "units": [{"unit": "宋庄镇", "contributed": 85972.3, "inside_share": 6.47e-05}] * 27,
           "notes": ["weights fitted on Beijing"]}
    text = population_text(pop)
    assert text == ("dasymetric; WorldPop split; census scaling 大兴区 x 1.38, 通州区 x 1.47; "
                    "27 townships overlap the area; weights fitted on Beijing")
    assert "85972" not in text and "e-05" not in text


def test_a_claim_card_without_a_measurement_names_no_method():
    """"measured n/a (n/a, counted by area)" says nothing: a card without a number has no
    method in brackets; a measured one keeps its method and what it counts."""
    text = (Path(__file__).resolve().parent.parent / "geo" / "report" / "templates" /
            "index.html.j2").read_text(encoding="utf-8")
    from geo.report.html import jinja_env

    line = next(ln for ln in text.splitlines() if "c.measured_text" in ln and "Target" in ln)
    tpl = jinja_env().from_string(line)
    base = {"target_text": "100.0 %", "method_text": "n/a", "denominator": "counted by area",
            "measured_text": "n/a", "base_verdict_label": "inconclusive",
            "robust_text": "not robust", "map_href": None, "map_missing": "nothing was measured",
            "siting_href": None}
    html_na = tpl.render(c=base)
    assert "(n/a" not in html_na and "counted by area" not in html_na
    html_ok = tpl.render(c={**base, "measured_text": "12.6 %", "method_text": "straight line"})
    assert "(straight line, counted by area)" in html_ok


def test_chart_takes_dollar_signs_as_text():
    """A "$" in a claim title or a variant's value is a dollar sign: matplotlib's TeX
    (mathtext) would fail on "$x^$" and stop the whole report."""
    from geo.report.charts import sensitivity_svg

    rows = [{"parameter": "threshold_m", "value": 400.0, "measured": 0.1, "verdict": "not_met"},
            {"parameter": "names", "value": "$\\frac{a}{ $", "measured": 0.2, "verdict": "met"}]
    svg = sensitivity_svg(rows, title="C99 cost $x^$ per $ \\sqrt{$", unit="share",
                          target=0.3, base_value=0.15)
    assert svg is not None and svg.startswith("<svg")


def test_csv_text_never_runs_as_a_spreadsheet_formula(tmp_path):
    """CSV injection: a township or a claim title starting with =, +, -, @ (any OSM contributor
    or claim-file author can write one) starts with an apostrophe in every table, so Excel /
    WPS show it as text; numbers, negative ones included, are unchanged."""
    from geo.io import spreadsheet_safe

    frame = pd.DataFrame({"name": ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)",
                                   "\tx", "-5.2", "通州", None],
                          "value": [-1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]})
    safe = spreadsheet_safe(frame)
    assert safe["name"].tolist()[:7] == ["'=HYPERLINK(\"http://x\")", "'+1+1", "'-2+3",
                                         "'@SUM(A1)", "'\tx", "-5.2", "通州"]
    assert pd.isna(safe["name"].tolist()[7])            # missing stays missing
    assert safe["value"].tolist() == frame["value"].tolist()
    assert frame["name"][0].startswith("=")            # the input is not changed
    ev = sample_evaluation()
    hostile = "=cmd|' /C calc'!A0"
    for c in ev.claims:
        for row in c.breakdown or []:
            row["name"] = hostile
    write_report(ev, tmp_path / "rep", ReportOptions(maps=False, charts=False))
    breakdown = (tmp_path / "rep" / "tables" / "breakdown.csv").read_text(encoding="utf-8")
    assert hostile in breakdown and "'" + hostile in breakdown
    assert "\n" + hostile not in breakdown and "," + hostile not in breakdown
