"""`run`'s helper process compiles the replay kernel into numba's on-disk cache."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_helper_compiles_the_kernel_into_a_fresh_cache(tmp_path):
    """With an empty NUMBA_CACHE_DIR the helper leaves an index for simulate_chunk (and the
    rainflow count) there and exits cleanly, without running the kernel on anything."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    code = "from bess_size.simulator.warmup import compile_kernels; compile_kernels()"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    index = sorted(p.name for p in tmp_path.rglob("*.nbi"))
    assert any(name.startswith("kernel.simulate_chunk-") for name in index), index
    assert any(name.startswith("metrics._rainflow_damage-") for name in index), index


def test_wait_without_a_helper_returns_at_once():
    from bess_size.simulator import warmup

    warmup.wait()
    warmup.wait()
