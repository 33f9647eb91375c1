"""The command line's own behaviour: help, usage errors, data-directory errors."""

from conftest import run_cli

from geo import settings
from geo.errors import DataNotFoundError


def test_help_lists_commands():
    res = run_cli("--help")
    assert res.returncode == 0
    assert "data" in res.stdout


def test_unknown_option_is_usage_error():
    res = run_cli("--no-such-option")
    assert res.returncode == 2


def test_explicit_missing_data_dir_is_one_line_error(tmp_path):
    missing = tmp_path / "nope"
    try:
        settings.resolve_data_dir(missing)
    except DataNotFoundError as exc:
        msg = str(exc)
    else:
        raise AssertionError("expected DataNotFoundError")
    assert str(missing) in msg and "\n" not in msg and "GEO_DATA_DIR" in msg


def test_env_data_dir_missing_is_error(tmp_path, monkeypatch):
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path / "absent"))
    try:
        settings.resolve_data_dir()
    except DataNotFoundError as exc:
        assert "GEO_DATA_DIR" in str(exc)
    else:
        raise AssertionError("expected DataNotFoundError")


def test_env_data_dir_wins_over_shared(tmp_path, monkeypatch):
    monkeypatch.setenv("GEO_DATA_DIR", str(tmp_path))
    assert settings.resolve_data_dir() == tmp_path
