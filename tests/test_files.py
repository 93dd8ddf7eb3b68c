"""Replacing a file: readers and crashes see the old contents or the new, whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from pausepact.files import replace_file


@pytest.mark.parametrize("sync", [True, False])
def test_a_replaced_file_holds_the_new_bytes_and_no_temporary_is_left(
    tmp_path: Path, sync: bool
) -> None:
    path = tmp_path / "pact.toml"
    path.write_bytes(b"old")
    replace_file(path, b"new contents", sync=sync)
    assert path.read_bytes() == b"new contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pact.toml"]


def test_a_write_that_fails_leaves_the_old_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "trusted.json"
    path.write_bytes(b"old")
    with pytest.raises(TypeError):
        replace_file(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["trusted.json"]


def test_a_missing_folder_is_the_callers_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        replace_file(tmp_path / "missing" / "file", b"x")
