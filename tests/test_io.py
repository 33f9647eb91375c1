"""Atomic writes leave the old file or the new one, never half of one."""

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
