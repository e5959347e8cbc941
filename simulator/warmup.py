"""Compile the replay kernel in a helper process while the main process generates and optimizes.

On a fresh install numba compiles the replay kernel (``kernel.simulate_chunk``, the largest
compiled unit: most of a first run's compile time) the first time a held-out scenario is
replayed. ``bess-size run`` calls :func:`start` before it generates scenarios: a helper process
compiles the kernel into numba's on-disk cache on the other core, and :func:`wait`, called by
``simulate`` before its first replay, lets that finish so the main process loads the compiled
kernel instead of compiling it again. With a warm cache the helper only loads it (about two
seconds of one core) and is done long before the replay starts. Nothing here changes a result:
the helper compiles the same function for the same argument types, and if it fails the main
process compiles as it would have.
"""

from __future__ import annotations

import subprocess
import sys

_helper: subprocess.Popen | None = None
WAIT_S = 600.0


def start() -> None:
    """Start the helper (once per process)."""
    global _helper
    if _helper is not None:
        return
    code = "from bess_size.simulator.warmup import compile_kernels; compile_kernels()"
    try:
        _helper = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        _helper = None


def wait() -> None:
    """Let a running helper finish (no-op without one)."""
    global _helper
    helper, _helper = _helper, None
    if helper is None:
        return
    try:
        helper.wait(WAIT_S)
    except subprocess.TimeoutExpired:
        helper.kill()
        helper.wait()


def compile_kernels() -> None:
    """Compile (or load) the kernel for the argument types ``run_kernel`` passes, without running it,
    and the rainflow count (in the helper process)."""
    import numpy as np
    import xarray as xr
    from numba import typeof

    from ..scenarios.poi_policy import poi_params
    from ..site_spec import load_site
    from ..examples import path as example_path
    from . import kernel as K
    from .controller import TRACE_VARIABLES, TraceArrays, run_kernel
    from .metrics import cycle_damage

    real = K.simulate_chunk, K.finish

    def compile_only(fn):
        return lambda *args: fn.compile(tuple(typeof(a) for a in args))

    ints = {"curtailment_phase", "grid_available"}
    ds = xr.Dataset({v: ("time", np.zeros(4, dtype=np.int8 if v in ints else np.float64)) for v in TRACE_VARIABLES})
    trace = TraceArrays.from_dataset(ds, 1.0)
    pp = poi_params(load_site(example_path()))
    # run_kernel builds the arguments; the kernel is compiled, not run
    K.simulate_chunk, K.finish = compile_only(real[0]), compile_only(real[1])
    try:
        run_kernel(trace, np.zeros(K.N_CP), np.zeros((0, K.N_GEN)), pp, record=[0], record_length=2,
                   stress=np.zeros((1, 2)))
    finally:
        K.simulate_chunk, K.finish = real
    cycle_damage(np.array([0.0, 1.0, 0.0, 1.0]), 1.0)
