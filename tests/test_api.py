"""The public API (``geo.__all__``) and the layout rules around it: lazy imports, no module
importing another module's ``_private`` names, no CLI flags outside ``geo/cli.py``, notebooks
importing only from ``geo`` itself."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import geo

ROOT = Path(__file__).resolve().parent.parent
GEO = ROOT / "geo"
NOTEBOOKS = ROOT / "notebooks"


def test_all_names_resolve_and_stay_small():
    assert len(geo.__all__) == len(set(geo.__all__)) <= 28
    for name in geo.__all__:
        assert getattr(geo, name) is not None, name
    lazy = set(geo.__all__) - {"ATTRIBUTION", "__version__"}
    assert all(name in geo.__dir__() for name in lazy)
    assert "get_area" in dir(geo)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        geo.nope  # noqa: B018


def test_public_names_are_the_documented_objects():
    from geo.claims.evaluate import evaluate_area
    from geo.facilities import facilities
    from geo.network import nearest_cost
    from geo.roadnet import RoadNetwork

    assert geo.evaluate_area is evaluate_area
    assert geo.get_facilities is facilities
    assert geo.nearest_cost is nearest_cost
    assert geo.RoadNetwork is RoadNetwork
    assert callable(geo.coverage.coverage)
    assert geo.verdicts.verdict(0.5, 0.4, ">=") == "met"


def test_import_geo_is_lazy():
    """``import geo`` loads none of the heavy libraries (``geo --help`` stays quick)."""
    code = ("import sys, geo; heavy = [m for m in ('geopandas', 'networkx', 'pandas', 'folium', "
            "'scipy', 'geo.claims') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.strip()
    assert out == ""


def _geo_imports(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("geo"):
            names.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.asname or a.name.split(".")[0] for a in node.names
                         if a.name.startswith("geo"))
    return names


def _private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = _geo_imports(tree)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("geo"):
            out += [f"{path.name}:{node.lineno} from {node.module} import {a.name}"
                    for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__") and isinstance(node.value, ast.Name)
                and node.value.id in modules):
            out.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    return out


def test_private_uses_detector_finds_both_forms(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from geo.io import _umask\nfrom geo import io\nio._umask()\n")
    assert len(_private_uses(bad)) == 2
    good = tmp_path / "good.py"
    good.write_text("from geo._graphs import check_network_type\nimport os\nos._exit\n")
    assert _private_uses(good) == []


@pytest.mark.parametrize("folder", ["geo", "tests", "notebooks", "bench"])
def test_no_module_imports_a_private_name(folder):
    found = [u for p in sorted((ROOT / folder).rglob("*.py")) for u in _private_uses(p)]
    assert found == []


#: A long option in a string (``--data-dir``); npm's own options are not the CLI's.
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z-]*")
NPM = re.compile(r"npm ci[^'`]*")


def _flags(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = NPM.sub("", node.value)
            out += [f"{path.relative_to(ROOT)}:{node.lineno} {m}" for m in FLAG.findall(text)]
    return out


def test_only_the_cli_names_flags():
    found = [f for p in sorted(GEO.rglob("*.py")) if p.name != "cli.py" for f in _flags(p)]
    assert found == []
    assert _flags(GEO / "cli.py")  # the check does see flags where they belong


def test_cli_turns_python_names_into_flags():
    from geo.cli import cli_words
    from geo.settings import HOW_TO_GET_DATA

    assert cli_words(HOW_TO_GET_DATA) == (
        "pass --data-dir DIR, set GEO_DATA_DIR, put data in data/local/, or download it with "
        "'geo data fetch --area tongzhou --data-dir data/local'")
    assert cli_words("get one with fetch_geofabrik(area='haidian'), then pass "
                     "network_path=FILE") == ("get one with 'geo data fetch --area haidian', "
                                              "then pass --network FILE")
    assert cli_words("declare the file's datum (datum=gcj02)") == \
        "declare the file's datum (--datum gcj02)"


def _notebook_imports(nb: Path) -> list[str]:
    doc = json.loads(nb.read_text(encoding="utf-8"))
    code = "\n".join("".join(c["source"]) for c in doc["cells"] if c["cell_type"] == "code")
    tree = ast.parse(code)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return out


@pytest.mark.parametrize("nb", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebooks_import_only_from_geo_itself(nb):
    mods = _notebook_imports(nb)
    assert "geo" in mods
    assert [m for m in mods if m.startswith("geo.")] == []


def test_notebook_helpers_import_only_from_geo_itself():
    tree = ast.parse((NOTEBOOKS / "nbhelpers.py").read_text(encoding="utf-8"))
    mods = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    mods += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert [m for m in mods if m.startswith("geo.")] == []


def test_package_ships_py_typed():
    from tomllib import loads

    assert (GEO / "py.typed").is_file()
    conf = loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "py.typed" in conf["tool"]["setuptools"]["package-data"]["geo"]
    assert conf["tool"]["mypy"]["files"] == ["geo"]
