"""What a person reads from the CLI: progress on stderr, --quiet, words not internals, one
number per claim across evaluate and site, help without <bool> metavars."""

import json
import re

import pytest
from conftest import run_cli

_PROGRESS = re.compile(r"^\[\s*[\d.]+ s\] ", re.MULTILINE)


def test_help_has_no_bool_metavar_and_offers_quiet():
    for args in (("--help",), ("evaluate", "--help"), ("report", "--help"),
                 ("site", "--help"), ("data", "summary", "--help")):
        res = run_cli(*args)
        assert res.returncode == 0, res.stderr
        assert "<bool>" not in res.stdout, args
    assert "--quiet" in run_cli("--help").stdout
    summary_help = run_cli("data", "summary", "--help").stdout
    assert "--network" in summary_help and "--osm" not in summary_help   # old name hidden


@pytest.mark.shared
def test_evaluate_and_site_give_one_number_and_say_how(shared_data_dir, tmp_path):
    env = {"GEO_DATA_DIR": str(shared_data_dir)}
    ev_json = tmp_path / "ev.json"
    ev = run_cli("evaluate", "--area", "tongzhou", "--no-sensitivity", "--json", str(ev_json),
                 env=env)
    assert ev.returncode == 0, ev.stderr
    assert _PROGRESS.search(ev.stderr), ev.stderr          # one plain line per step (no TTY)
    assert "evaluating Tongzhou: C04" in ev.stderr
    out = " ".join(ev.stdout.split())   # the console wraps long lines
    assert "demand cells: 250 m cells" in out and "2020 census" in out
    assert "road network: none" in out
    for internal in ("not_met", "straight_line", "network_source", "osm_source", "None"):
        assert internal not in out, internal
    assert "approximation" in out and "not met" in out   # (the table may fold long words)
    c04 = next(c for c in json.loads(ev_json.read_text(encoding="utf-8"))["claims"]
               if c["id"] == "C04")
    assert c04["verdict"] == "not_met"                      # the JSON keeps machine values

    site_json = tmp_path / "site.json"
    site = run_cli("site", "--claim", "C04", "--add", "2", "--json", str(site_json), env=env)
    assert site.returncode == 0, site.stderr
    d = json.loads(site_json.read_text(encoding="utf-8"))
    # same default cell size, same cells: the siting starts from the evaluated number
    assert d["model"]["cell_size_m"] == 250
    assert d["share_before"] == pytest.approx(c04["measured"]["value"], abs=1e-12)
    assert "WorldPop" in d["population_source"]
    assert "2 new sites raise the covered population from" in site.stdout
    assert "street / town" in site.stdout and re.search(r"(街道|镇|乡)", site.stdout)
    assert "250 m cells" in site.stdout
    # each warning at most once in everything printed
    printed = (site.stdout + site.stderr).splitlines()
    warnings = [line for line in printed if line.startswith("warning:")]
    assert len(warnings) == len(set(warnings))


@pytest.mark.shared
def test_quiet_shows_no_progress(shared_data_dir):
    res = run_cli("--quiet", "evaluate", "--area", "tongzhou", "--no-sensitivity",
                  "--json", "-", env={"GEO_DATA_DIR": str(shared_data_dir)})
    assert res.returncode == 0, res.stderr
    assert not _PROGRESS.search(res.stderr), res.stderr
    json.loads(res.stdout)
