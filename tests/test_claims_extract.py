"""Claim-stub extraction from plan text: sentence splitting, number guesses, the CLI."""

from __future__ import annotations

import tomllib

import pytest
from conftest import run_cli

from geo.claims.extract import (
    extract_stubs,
    extract_to_toml,
    find_numbers,
    scan_text,
    split_sentences,
    toml_string,
)
from geo.claims.registry import seed_lines
from geo.errors import DataError, DataNotFoundError


def test_split_sentences_keeps_substrings():
    para = "**标题。**实现覆盖率 100%；建设 6 个站。  "
    parts = split_sentences(para)
    assert parts == ["标题", "实现覆盖率 100%", "建设 6 个站"]
    assert all(p in para for p in parts)


def test_find_numbers_units_multipliers_and_comparators():
    nums = find_numbers("到2027年建成约 15.6 公里、10.8 万平方米、80%以上、第 5 名、控制在8%、29 个左右")
    got = [(n.value, n.unit, n.comparator) for n in nums]
    assert got == [(15.6, "km", "~"), (108000.0, "m2", ""), (0.8, "share", ">="),
                   (0.08, "share", "<="), (29.0, "count", "~")]
    assert find_numbers("城区道路路网密度达到 5.12 公里/平方公里")[0].unit == "km_per_km2"
    assert find_numbers("全市第 1")[:1] == []


def test_scan_toy_text_table_row_and_keywords():
    text = ("# 标题\n"
            "表 1-1 “十五五”时期主要指标\n"
            "\t7\t轨道交通站点 500 米范围人口和岗位覆盖率（%）\t29 左右\t预期性\n"
            "\t6\t常住人口规模（万人）\t$\\leq 200$\t约束性\n"
            "没有数字的句子。加快推进公园绿地服务半径消盲；到2027年建成5个公园。\n")
    stubs = scan_text(text)
    assert [(s.id, s.line) for s in stubs] == [("L0003-1", 3), ("L0004-1", 4), ("L0005-1", 5),
                                               ("L0005-2", 5)]
    rail, pop, park, built = stubs
    assert (rail.value, rail.unit, rail.comparator, rail.year, rail.binding) == (
        0.29, "share", "~", 2030, "预期性")
    assert rail.quote == "轨道交通站点 500 米范围人口和岗位覆盖率（%）\t29 左右\t预期性"
    assert (pop.value, pop.unit, pop.comparator, pop.binding) == (2_000_000, "persons", "<=", "约束性")
    assert (park.value, park.unit, park.comparator) == (0.0, "share", "eliminate")
    assert (built.value, built.unit, built.year) == (5, "count", 2027)
    for s in stubs:
        assert s.quote in text.split("\n")[s.line - 1]


def test_toml_string_escapes_round_trip():
    s = 'a"b\\c\td\x01 中文'
    assert tomllib.loads(f"x = {toml_string(s)}")["x"] == s


def test_seed_003_finds_headline_lines(seed_plan):
    stubs = extract_stubs(seed_plan)
    lines = {s.line for s in stubs}
    assert {268, 997, 1136} <= lines  # C01, C02, C04
    assert 734 in lines  # C03, by keyword 消盲
    seed = seed_lines(seed_plan)
    for s in stubs:
        assert s.quote in seed[s.line - 1]
    c01 = next(s for s in stubs if s.line == 268)
    assert (c01.value, c01.unit, c01.comparator, c01.year) == (0.29, "share", "~", 2030)
    c04 = next(s for s in stubs if s.line == 1136 and "消防" in s.quote)
    assert (c04.value, c04.unit, c04.comparator) == (1.0, "share", ">=")
    assert "5分钟" in c04.numbers and "6个" in c04.numbers
    c02 = next(s for s in stubs if s.line == 997)
    assert (c02.value, c02.unit) == (15, "min")


def test_seed_003_toml_is_valid_and_deterministic(seed_plan):
    text, n = extract_to_toml(seed_plan)
    data = tomllib.loads(text)
    assert len(data["claims"]) == n > 50
    assert text == extract_to_toml(seed_plan)[0]
    assert "第十四个五年规划纲要" in data["document_title"]
    ids = [c["id"] for c in data["claims"]]
    assert len(ids) == len(set(ids))
    assert all(c["metric"] == "" and c["source"]["document"] == seed_plan.name
               for c in data["claims"])


def test_missing_and_bad_files(tmp_path):
    with pytest.raises(DataNotFoundError):
        extract_stubs(tmp_path / "nope.txt")
    with pytest.raises(DataError, match="not a file"):
        extract_stubs(tmp_path)
    gbk = tmp_path / "gbk.txt"
    gbk.write_bytes("覆盖率 100%".encode("gb18030"))
    with pytest.raises(DataError, match="not UTF-8"):
        extract_stubs(gbk)


# ----------------------------------------------------------------- CLI


def test_cli_extract_to_stdout_and_file(seed_plan, tmp_path):
    res = run_cli("claims", "extract", str(seed_plan))
    assert res.returncode == 0, res.stderr
    data = tomllib.loads(res.stdout)
    assert {268, 997, 1136} <= {c["source"]["line"] for c in data["claims"]}
    out = tmp_path / "sub" / "stubs.toml"
    res2 = run_cli("claims", "extract", str(seed_plan), "--out", str(out))
    assert res2.returncode == 0, res2.stderr
    assert out.read_text(encoding="utf-8") == res.stdout
    assert f"{len(data['claims'])} claim stubs" in res2.stdout


def test_cli_extract_missing_file_is_one_line_exit_2(tmp_path):
    missing = tmp_path / "absent.txt"
    res = run_cli("claims", "extract", str(missing))
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0
    assert str(missing) in res.stderr and res.stderr.startswith("error:")
    assert res.stdout == ""


def test_cli_extract_finding_nothing_is_an_error(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("今天天气很好。\n我们去公园散步。\n", encoding="utf-8")
    res = run_cli("claims", "extract", str(plain))
    assert res.returncode == 2 and "no measurable targets" in res.stderr
    assert res.stdout == ""
