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


def test_library_parameter_names_become_cli_flags_in_messages():
    from geo.cli import cli_words

    assert cli_words("solver stopped; raise time_limit_s for a proof") == \
        "solver stopped; raise --time-limit-s for a proof"
    assert cli_words("set covering: target_share=1 is infeasible: at most 0.9873 is "
                     "reachable: pass target_share<=0.9873 or add candidates") == (
        "set covering: a target of 1 is infeasible: at most 0.9873 is reachable: pass "
        "--target 0.9873 or add candidates")
    assert cli_words("pass target_share=SHARE") == "pass --target SHARE"
