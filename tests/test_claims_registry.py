"""The claim registry: the packaged Tongzhou claim file and every way a claim file can be bad."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import SHARED_SEEDS, run_cli

from geo.claims.registry import (
    DEFAULT_CLAIMS_FILE,
    METRICS,
    Claim,
    load_claims,
    read_document_title,
    seed_lines,
    verify_quotes,
)
from geo.errors import ClaimSpecError, DataNotFoundError

SEED = "003_f10f02db6a904725.txt"

GOOD_CLAIM = """\
[[claims]]
id = "T1"
title_zh = "测试"
title_en = "Test"
quote = "第二行"
source = { document = "plan.txt", line = 2 }
target = { value = 0.5, comparator = ">=", unit = "share", year = 2030 }
binding = "none"
metric = "share_within_distance"
parameters = { threshold_m = 500, facility_kind = "rail_station", denominator = "population", mode = "walk" }
"""
HEADER = 'schema_version = 1\ndocument_title = "测试规划"\n\n'


def write(tmp_path: Path, body: str, name: str = "claims.toml") -> Path:
    p = tmp_path / name
    p.write_text(body, encoding="utf-8")
    return p


def error_of(path: Path) -> str:
    with pytest.raises(ClaimSpecError) as exc:
        load_claims(path)
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg
    return msg


# ----------------------------------------------------------------- the packaged claim file


def test_packaged_file_loads_with_headline_claims():
    claims = load_claims()
    assert DEFAULT_CLAIMS_FILE.is_file()
    ids = [c.id for c in claims]
    assert len(ids) == len(set(ids)) >= 10
    by_id = {c.id: c for c in claims}
    assert {"C01", "C02", "C03", "C04"} <= set(by_id)
    c01, c02, c03, c04 = (by_id[k] for k in ("C01", "C02", "C03", "C04"))
    assert (c01.target.value, c01.target.comparator, c01.target.year) == (0.29, "~", 2030)
    assert c01.binding == "预期性" and c01.source.line == 268
    assert c01.parameters["threshold_m"] == 500
    assert c01.parameters["denominator"] == "population_and_jobs"
    assert c02.metric == "drive_time_share" and c02.parameters["threshold_min"] == 15
    assert c02.parameters["direction"] == "to_facility"
    assert c02.parameters["facility_kind"] == "expressway_entrance"
    # C03 has no number in the plan: a measurement over residential land, never met/not met
    assert c03.target.comparator == "measure"
    assert c03.parameters["extent"] == "residential" and c03.parameters["denominator"] == "area"
    tiers = {(t["min_area_ha"], t["radius_m"]) for t in c03.parameters["tiers"]}
    assert tiers == {(0.5, 500), (0.2, 300)}
    assert c04.parameters["threshold_min"] == 5 and c04.parameters["turnout_min"] == 1
    assert c04.parameters["direction"] == "from_facility"
    assert c04.parameters["speed_profile"] == "fire"
    assert c04.parameters["planned_new_facilities"] == 6
    # the 责任区 reading: share of built-up area; 4 stations known missing from OSM
    assert (c04.parameters["extent"], c04.parameters["denominator"]) == ("built_up", "area")
    assert c04.known_unmapped["count"] == 4
    # at least six more claims, each on a registry metric with its required parameters
    assert len([c for c in claims if c.id not in {"C01", "C02", "C03", "C04"}]) >= 6
    for c in claims:
        assert set(METRICS[c.metric].required) <= set(c.parameters)
        assert c.target.unit == METRICS[c.metric].unit


def test_document_title_notes_the_14th_vs_15th_mismatch():
    meta = read_document_title()
    assert "第十四个五年" in meta["document_title"]
    assert "十五五" in meta["document_note"] and "2026-2030" in meta["document_note"]
    assert meta["plan_period"] == "2026-2030"


def test_every_quote_is_verbatim_at_its_line(seed_plan):
    claims = load_claims()
    assert verify_quotes(claims, seed_plan.parent) == []
    lines = seed_lines(seed_plan)
    for c in claims:
        assert c.source.document == seed_plan.name
        assert c.quote in lines[c.source.line - 1]
    # the four headline quotes carry the key numbers
    by_id = {c.id: c.quote for c in claims}
    assert "500 米" in by_id["C01"] and "29 左右" in by_id["C01"]
    assert "15 分钟上高快速路" in by_id["C02"]
    assert "消盲" in by_id["C03"]
    assert "5分钟响应覆盖率100%" in by_id["C04"]


def test_quotes_inside_notes_exist_in_the_seeds(seed_plan):
    texts = [p.read_text(encoding="utf-8") for p in sorted(seed_plan.parent.glob("*.txt"))]
    for c in load_claims():
        for q in re.findall("「(.*?)」", " ".join(c.notes)):
            assert any(q in t for t in texts), (c.id, q)


def test_seed_lines_number_like_grep(seed_plan):
    lines = seed_lines(seed_plan)
    assert lines[267].startswith("\t7\t轨道交通站点 500 米")  # grep -n: line 268
    assert lines[996].startswith("域 15 分钟")


def test_claim_is_frozen_and_to_dict_is_json_ready():
    c = load_claims()[0]
    with pytest.raises(AttributeError):
        c.id = "X"  # type: ignore[misc]
    with pytest.raises(TypeError):
        c.parameters["threshold_m"] = 1  # type: ignore[index]
    d = c.to_dict()
    assert json.loads(json.dumps(d, ensure_ascii=False)) == d
    assert set(d) >= {"id", "title_zh", "title_en", "quote", "source", "target"}
    assert set(d["source"]) == {"document", "line"}
    assert set(d["target"]) == {"value", "comparator", "unit", "year"}
    c03 = next(x for x in load_claims() if x.id == "C03").to_dict()
    assert isinstance(c03["parameters"]["tiers"], list)
    assert isinstance(c03["parameters"]["tiers"][0], dict)


# ----------------------------------------------------------------- toy files: good and bad


def test_toy_file_loads(tmp_path):
    claims = load_claims(write(tmp_path, HEADER + GOOD_CLAIM))
    assert len(claims) == 1 and isinstance(claims[0], Claim)
    assert claims[0].target.value == 0.5 and claims[0].notes == ()


def test_missing_file_is_data_not_found(tmp_path):
    with pytest.raises(DataNotFoundError, match="nope.toml"):
        load_claims(tmp_path / "nope.toml")


def test_malformed_toml_names_file_line_and_column(tmp_path):
    p = write(tmp_path, HEADER + GOOD_CLAIM + 'broken = "no end\n')
    msg = error_of(p)
    assert "not valid TOML" in msg and "line 14" in msg and "column" in msg


def test_unknown_claim_key_names_claim_and_key(tmp_path):
    p = write(tmp_path, HEADER + GOOD_CLAIM + 'colour = "red"\n')
    msg = error_of(p)
    assert "claim T1" in msg and "'colour'" in msg and "unknown key" in msg


def test_missing_claim_key_names_claim_and_key(tmp_path):
    body = GOOD_CLAIM.replace('binding = "none"\n', "")
    msg = error_of(write(tmp_path, HEADER + body))
    assert "claim T1" in msg and "missing key 'binding'" in msg


def test_missing_id(tmp_path):
    body = GOOD_CLAIM.replace('id = "T1"\n', "")
    msg = error_of(write(tmp_path, HEADER + body))
    assert "claims[0]" in msg and "missing key 'id'" in msg


def test_unknown_parameter_names_claim_and_key(tmp_path):
    body = GOOD_CLAIM.replace('mode = "walk"', 'mode = "walk", speed = 5')
    msg = error_of(write(tmp_path, HEADER + body))
    assert "claim T1" in msg and "parameters.'speed'" in msg


def test_missing_required_parameter(tmp_path):
    body = GOOD_CLAIM.replace('threshold_m = 500, ', "")
    msg = error_of(write(tmp_path, HEADER + body))
    assert "claim T1" in msg and "missing key parameters.'threshold_m'" in msg


def test_bad_parameter_value(tmp_path):
    body = GOOD_CLAIM.replace('mode = "walk"', 'mode = "fly"')
    msg = error_of(write(tmp_path, HEADER + body))
    assert "'mode'" in msg and "'walk'" in msg and "'fly'" in msg
    body = GOOD_CLAIM.replace('facility_kind = "rail_station"', 'facility_kind = "unicorn"')
    assert "unicorn" in error_of(write(tmp_path, HEADER + body))


def test_turnout_must_leave_a_drive_budget(tmp_path):
    fire = (GOOD_CLAIM.replace('metric = "share_within_distance"', 'metric = "drive_time_share"')
            .replace('threshold_m = 500, facility_kind = "rail_station", denominator = "population", '
                     'mode = "walk"',
                     'threshold_min = 5, turnout_min = 5, facility_kind = "fire_station", '
                     'speed_profile = "fire", direction = "from_facility"'))
    assert "drive budget" in error_of(write(tmp_path, HEADER + fire))
    ok = fire.replace("turnout_min = 5", "turnout_min = 1")
    assert load_claims(write(tmp_path, HEADER + ok))[0].parameters["turnout_min"] == 1


def test_unknown_metric(tmp_path):
    body = GOOD_CLAIM.replace('metric = "share_within_distance"', 'metric = "happiness"')
    msg = error_of(write(tmp_path, HEADER + body))
    assert "unknown metric 'happiness'" in msg and "share_within_distance" in msg


def test_target_without_unit(tmp_path):
    body = GOOD_CLAIM.replace('unit = "share", ', "")
    msg = error_of(write(tmp_path, HEADER + body))
    assert "claim T1" in msg and "target.'unit'" in msg
    body = GOOD_CLAIM.replace('unit = "share"', 'unit = ""')
    assert "target.unit is empty" in error_of(write(tmp_path, HEADER + body))


def test_target_unit_must_match_metric(tmp_path):
    body = GOOD_CLAIM.replace('unit = "share"', 'unit = "km"')
    assert "does not match the metric's unit 'share'" in error_of(write(tmp_path, HEADER + body))


def test_bad_comparator(tmp_path):
    body = GOOD_CLAIM.replace('comparator = ">="', 'comparator = "=>"')
    msg = error_of(write(tmp_path, HEADER + body))
    assert "comparator '=>'" in msg and "'eliminate'" in msg


def test_share_above_one_and_eliminate_nonzero(tmp_path):
    body = GOOD_CLAIM.replace("value = 0.5", "value = 29")
    assert "0.29" in error_of(write(tmp_path, HEADER + body))
    body = GOOD_CLAIM.replace('comparator = ">="', 'comparator = "eliminate"')
    assert "must be 0" in error_of(write(tmp_path, HEADER + body))


def test_bad_binding_and_source_line(tmp_path):
    body = GOOD_CLAIM.replace('binding = "none"', 'binding = "mandatory"')
    assert "约束性" in error_of(write(tmp_path, HEADER + body))
    body = GOOD_CLAIM.replace("line = 2", "line = 0")
    assert "source.line" in error_of(write(tmp_path, HEADER + body))


def test_duplicate_ids(tmp_path):
    msg = error_of(write(tmp_path, HEADER + GOOD_CLAIM + "\n" + GOOD_CLAIM))
    assert "duplicate claim id 'T1'" in msg


def test_bad_tiers(tmp_path):
    park = GOOD_CLAIM.replace('metric = "share_within_distance"', 'metric = "park_blind_spots"')
    park = re.sub(r"parameters = .*\n",
                  'parameters = { min_park_area_ha = 0.2, tiers = [ { min_area_ha = 0.5 } ] }\n',
                  park).replace('comparator = ">="', 'comparator = "eliminate"')
    park = park.replace("value = 0.5", "value = 0")
    msg = error_of(write(tmp_path, HEADER + park))
    assert "missing key tiers[].'radius_m'" in msg
    ok = park.replace("{ min_area_ha = 0.5 }", "{ min_area_ha = 0.5, radius_m = 500 }")
    assert load_claims(write(tmp_path, HEADER + ok))[0].parameters["tiers"][0]["radius_m"] == 500


def test_file_level_keys(tmp_path):
    msg = error_of(write(tmp_path, "schema_version = 1\n\n" + GOOD_CLAIM))
    assert "missing key 'document_title'" in msg
    msg = error_of(write(tmp_path, HEADER + "author = 'x'\n" + GOOD_CLAIM))
    assert "unknown key 'author'" in msg
    msg = error_of(write(tmp_path, HEADER.replace("= 1", "= 2") + GOOD_CLAIM))
    assert "schema_version 2" in msg


# ----------------------------------------------------------------- verify_quotes


def test_verify_quotes_reports_wrong_line_and_missing(tmp_path):
    (tmp_path / "plan.txt").write_text("第一行\n第二行\n第三行", encoding="utf-8")
    good = load_claims(write(tmp_path, HEADER + GOOD_CLAIM))
    assert verify_quotes(good, tmp_path) == []
    wrong = load_claims(write(tmp_path, HEADER + GOOD_CLAIM.replace("line = 2", "line = 3")))
    (problem,) = verify_quotes(wrong, tmp_path)
    assert "claim T1" in problem and "found at line(s) 2" in problem
    absent = load_claims(write(tmp_path, HEADER + GOOD_CLAIM.replace('"第二行"', '"第九行"')))
    assert "not found anywhere" in verify_quotes(absent, tmp_path)[0]
    past = load_claims(write(tmp_path, HEADER + GOOD_CLAIM.replace("line = 2", "line = 9")))
    assert "past the end" in verify_quotes(past, tmp_path)[0]
    assert "not found" in verify_quotes(good, tmp_path / "elsewhere")[0]
    assert verify_quotes(good, tmp_path / "elsewhere", missing_ok=True) == []


# ----------------------------------------------------------------- geo claims check


def test_cli_check_packaged_file():
    res = run_cli("claims", "check", "--seeds", str(SHARED_SEEDS))
    if not (SHARED_SEEDS / SEED).exists():
        pytest.skip("seed plan not available")
    assert res.returncode == 0, res.stderr
    assert "C01\tshare_within_distance" in res.stdout
    assert "every quote found verbatim" in res.stderr


def test_cli_check_bad_file_is_one_line_exit_2(tmp_path):
    p = write(tmp_path, HEADER + GOOD_CLAIM.replace('metric = "share_within_distance"',
                                                    'metric = "nope"'))
    res = run_cli("claims", "check", "--claims", str(p), "--seeds", str(tmp_path))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "unknown metric 'nope'" in res.stderr


def test_cli_check_wrong_quote_exit_2(tmp_path):
    (tmp_path / "plan.txt").write_text("第一行\n第二行\n", encoding="utf-8")
    p = write(tmp_path, HEADER + GOOD_CLAIM.replace("line = 2", "line = 1"))
    res = run_cli("claims", "check", "--claims", str(p), "--seeds", str(tmp_path))
    assert res.returncode == 2 and "found at line(s) 2" in res.stderr


def test_headline_claims_are_marked_in_the_claim_file(tmp_path):
    assert [c.id for c in load_claims() if c.headline] == ["C01", "C02", "C03", "C04"]
    assert not load_claims(write(tmp_path, HEADER + GOOD_CLAIM))[0].headline
    marked = GOOD_CLAIM.replace('binding = "none"', 'binding = "none"\nheadline = true')
    assert load_claims(write(tmp_path, HEADER + marked, "h.toml"))[0].headline
    bad = GOOD_CLAIM.replace('binding = "none"', 'binding = "none"\nheadline = "yes"')
    assert "key 'headline' should be true or false" in error_of(write(tmp_path, HEADER + bad,
                                                                       "b.toml"))


def test_claim_params_are_typed_frozen_and_replaceable():
    import dataclasses

    c04 = {c.id: c for c in load_claims()}["C04"]
    p = c04.params
    assert dataclasses.is_dataclass(p) and p.threshold_min == 5 and p.turnout_min == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.threshold_min = 6
    q = dataclasses.replace(p, turnout_min=0.0)
    assert q.turnout_min == 0.0 and p.turnout_min == 1   # the claim's own stay as they are
    c03 = {c.id: c for c in load_claims()}["C03"]
    assert [(t.min_area_ha, t.radius_m) for t in c03.params.tiers] == [(0.5, 500), (0.2, 300)]
