"""bench/compare_outputs.py: same numbers and verdicts pass, any numeric/verdict change fails."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "compare_outputs.py"

BASE = {"claims": [{"id": "C01", "value": 0.05, "verdict": "not_met", "robust": False,
                    "notes": ["a note"], "sensitivity": [{"measured": 0.1}]}],
        "data": {"data_dir": "/a"}, "time_s": 1.0}


def run(tmp_path: Path, after: dict) -> subprocess.CompletedProcess[str]:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(BASE), encoding="utf-8")
    b.write_text(json.dumps(after), encoding="utf-8")
    return subprocess.run([sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True,
                          text=True, check=False)


def changed(**kw) -> dict:
    out = json.loads(json.dumps(BASE))
    out["claims"][0].update(kw)
    return out


def test_identical_except_timing_and_paths_passes(tmp_path):
    after = json.loads(json.dumps(BASE))
    after["time_s"], after["data"]["data_dir"] = 9.0, "/b"
    r = run(tmp_path, after)
    assert r.returncode == 0 and "0 numeric/verdict difference(s)" in r.stdout


def test_numeric_verdict_and_shape_differences_fail(tmp_path):
    for after in (changed(value=0.0500001), changed(verdict="met"), changed(robust=True),
                  changed(sensitivity=[])):
        r = run(tmp_path, after)
        assert r.returncode == 1, after
        assert "$.claims[0]." in r.stdout


def test_text_only_difference_is_printed_but_passes(tmp_path):
    r = run(tmp_path, changed(notes=["another note"]))
    assert r.returncode == 0 and "text: $.claims[0].notes[0]" in r.stdout


def test_missing_file_is_exit_2(tmp_path):
    r = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "x.json"),
                        str(tmp_path / "y.json")], capture_output=True, text=True, check=False)
    assert r.returncode == 2 and "does not exist" in r.stderr
