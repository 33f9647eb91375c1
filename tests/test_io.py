"""Atomic writes leave the old file or the new one, never half of one."""

import json

import pytest

from geo import io


def test_write_text_replaces(tmp_path):
    p = tmp_path / "sub" / "a.txt"
    io.write_text(p, "one")
    io.write_text(p, "two")
    assert p.read_text() == "two"
    assert [x.name for x in p.parent.iterdir()] == ["a.txt"]


def test_failure_leaves_old_file_and_no_temp(tmp_path):
    p = tmp_path / "a.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError), io.atomic_path(p) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert p.read_text() == "old"
    assert [x.name for x in tmp_path.iterdir()] == ["a.txt"]


def test_written_files_get_the_umask_mode(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        p = io.write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(mask)
    assert p.stat().st_mode & 0o777 == 0o644


# --------------------------------------------------------------------------- output checks,
# staged multi-file outputs, manifests (hand-made toy folders)

def test_check_output_refuses_the_wrong_kind_and_a_file_as_parent(tmp_path):
    from geo.errors import OutputError
    from geo.io import check_output

    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    assert check_output(tmp_path / "new" / "deeper" / "a.json") == tmp_path / "new" / "deeper" / "a.json"
    assert not (tmp_path / "new").exists()  # nothing is created
    with pytest.raises(OutputError, match="--json .* is a folder"):
        check_output(tmp_path / "d", kind="file", what="--json")
    with pytest.raises(OutputError, match="is a file"):
        check_output(tmp_path / "f", kind="folder")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_output(tmp_path / "f" / "x" / "a.json")
    with pytest.raises(OutputError, match="longer than 255"):
        check_output(tmp_path / ("x" * 300))
    with pytest.raises(OutputError, match="empty path"):
        check_output("")


def test_staged_files_commit_all_or_nothing(tmp_path):
    from geo.errors import OutputError
    from geo.io import staged_files

    a, b = tmp_path / "a.json", tmp_path / "sub" / "b.geojson"
    a.write_text("old")
    with pytest.raises(RuntimeError), staged_files({"--json": a, "--geojson": b}) as tmp:
        tmp["--json"].write_text("new")
        raise RuntimeError("crash before the second file")
    assert a.read_text() == "old" and not b.exists()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.json"]
    with staged_files({"--json": a, "--geojson": b, "--map": None}) as tmp:
        assert tmp["--geojson"].suffix == ".geojson"  # writers choose formats by suffix
        tmp["--json"].write_text("new")
        tmp["--geojson"].write_text("{}")
    assert a.read_text() == "new" and b.read_text() == "{}"
    with pytest.raises(OutputError, match="same file"), staged_files({"x": a, "y": a}):
        pass
    with pytest.raises(OutputError, match="is a folder"), staged_files({"--map": tmp_path}):
        pass


def test_a_folder_is_replaceable_only_when_its_manifest_lists_every_file(tmp_path):
    from geo.io import folder_files, is_toolkit_folder, write_marker

    rep = tmp_path / "rep"
    (rep / "tables").mkdir(parents=True)
    (rep / "index.html").write_text("x")
    (rep / "tables" / "claims.csv").write_text("x")
    assert not is_toolkit_folder(rep)  # no marker
    write_marker(rep, {"written_by": "test"})
    assert json.loads((rep / ".geo-report").read_text())["files"] == ["index.html",
                                                                      "tables/claims.csv"]
    assert is_toolkit_folder(rep)
    (rep / "tables" / "mine.csv").write_text("user")  # a user's file two levels down
    assert not is_toolkit_folder(rep)
    (rep / "tables" / "mine.csv").unlink()
    (rep / "tables" / "link").symlink_to(tmp_path)
    assert not is_toolkit_folder(rep)
    assert "tables/link" in folder_files(rep)
    (rep / "tables" / "link").unlink()
    (rep / ".geo-report").write_text("{}")  # a marker without a manifest
    assert not is_toolkit_folder(rep)
    (rep / ".geo-report").write_text("[" * 100_000)  # hostile marker
    assert not is_toolkit_folder(rep)


def test_staged_dir_swaps_and_restores(tmp_path):
    from geo.io import current_umask, staged_dir

    target = tmp_path / "out"
    target.mkdir()
    (target / "old.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt), staged_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (target / "old.txt").read_text() == "old"
    with staged_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert target.stat().st_mode & 0o777 == 0o777 & ~current_umask()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
