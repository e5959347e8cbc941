"""The replays of one held-out trace that begin as its natural replay, each forked from it.

``simulate`` replays each held-out trace several times: naturally; without each forced event (a
call, a loss of grid, a sag sequence: what the event cost, so annual figures count it at its
natural rate); in the stress state (every contingency, and the calls on their own). Each of those
sees the natural replay's inputs, step for step, up to its first differing step (the event's first
re-rendered bin, the first stress row), so up to there it *is* the natural replay. The natural
replay (``controller.Replay``, resumable) stops at each such step and a copy of its state replays
only the variant's remaining steps: the same results, bit for bit, as replaying the variant whole
(chunks are, see ``tests/simulator/test_kernel_chunks.py``), for about half the steps.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np

from . import controller as C

_SERIES = ("load_mw", "load_min_mw", "load_max_mw", "pv_mw", "import_limit_mw", "curtailment_phase",
           "grid_available", "price_usd_per_mwh", "notice_left_s")


@dataclass
class Variant:
    """A replay of the trace with other inputs (``trace``: the same steps, some re-rendered) or in
    the stress state (``stress`` rows ``(step, stored_mwh)``, see ``controller.stress_points``)."""

    trace: C.TraceArrays
    stress: np.ndarray | None = None


def first_difference(natural: C.TraceArrays, variant: Variant) -> int:
    """The first step at which ``variant``'s inputs differ from the natural replay's (the trace's
    length when they never do): a replay is the natural replay up to it."""
    first = natural.steps
    if variant.stress is not None and len(variant.stress):
        first = min(first, int(math.ceil(float(np.min(variant.stress[:, 0])))))
    if variant.trace is not natural:
        for name in _SERIES:
            a, b = getattr(natural, name), getattr(variant.trace, name)
            if a is not b:
                diff = np.flatnonzero(a[:first] != b[:first])
                if diff.size:
                    first = int(diff[0])
    return max(first, 0)


def replay_variants(trace: C.TraceArrays, cp, gp, pp, variants: list[Variant], record=None,
                    record_length: int = 0) -> tuple[C.KernelRun, list[C.KernelRun]]:
    """The natural replay of ``trace`` and each variant's replay, all recording the windows
    ``record`` of ``record_length`` steps (as ``run_kernel`` takes them)."""
    T = trace.steps
    natural = C.Replay(cp, gp, pp, T, record=record, record_length=record_length)
    runs: list[C.KernelRun | None] = [None] * len(variants)
    starts = [first_difference(trace, v) for v in variants]
    for k in sorted(range(len(variants)), key=lambda k: starts[k]):
        s, v = starts[k], variants[k]
        if s >= T:
            continue  # the natural replay itself
        if s > natural.done:
            natural.feed(trace.chunk(natural.done, s))
        fork = copy.deepcopy(natural)
        fork.stress = np.zeros((0, 2)) if v.stress is None else np.ascontiguousarray(v.stress, dtype=np.float64)
        runs[k] = fork.feed(v.trace.chunk(s, T)).result()
    if natural.done < T:
        natural.feed(trace.chunk(natural.done, T))
    run = natural.result()
    return run, [run if r is None else r for r in runs]
