"""Atomic output: write to a temporary file beside the target, then rename over it."""

from __future__ import annotations

import os
import secrets
from contextlib import contextmanager
from pathlib import Path


def _new_file_beside(target: Path) -> Path:
    """Create an empty, unused file next to ``target`` with the mode the umask gives (0644 under 022).

    Not ``tempfile.mkstemp``: it creates 0600 whatever the umask, and the rename keeps that mode, so
    colleagues on a shared drive (or the other machines of a Dask cluster) could not read the outputs.
    """
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # the kernel applies the umask
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temporary name beside {target}")


@contextmanager
def atomic_path(target: str | Path):
    """Yield a temporary path in the target's folder; on success it replaces ``target`` in one rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_file_beside(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(target: str | Path, data: str | bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
