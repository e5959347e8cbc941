"""Atomic writes: the whole file or the old one, never a temporary left behind, and the mode the umask gives."""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager

import pytest

from bess_size.io import atomic_path, write_atomic


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_new_and_replaced_files_get_the_mode_the_umask_gives(tmp_path, mask, expected):
    """0666 masked by the umask, as `open(..., "w")` would give: not mkstemp's 0600 whatever the umask."""
    target = tmp_path / "sub" / "design.json"
    with umask(mask):
        write_atomic(target, "{}\n")
        assert mode(target) == expected
        write_atomic(target, b"[]\n")  # replacing an existing file: again the umask's mode
        assert mode(target) == expected and target.read_bytes() == b"[]\n"
        with atomic_path(tmp_path / "table.csv") as tmp:  # a library writes the temporary path itself
            tmp.write_text("a\n1\n")
        assert mode(tmp_path / "table.csv") == expected
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["design.json", "sub", "table.csv"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "design.json"
    write_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("the writer failed midway")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["design.json"]
