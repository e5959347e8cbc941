"""The replays of one held-out trace, fed its chunks in step, each variant forked from the natural replay.

``simulate`` replays each held-out trace several times: naturally; without each forced event (a
call, a loss of grid, a sag sequence: what the event cost, so annual figures count it at its
natural rate); in the stress state (every contingency, and the calls on their own). Each of those
sees the natural replay's inputs, step for step, up to its first differing step (``Variant.start``:
the event's first re-rendered bin, the first stress row), so up to there it *is* the natural
replay. The natural replay (``controller.Replay``, resumable) stops at each such step and a copy of
its state replays only the variant's remaining steps: the same results, bit for bit, as replaying
the variant whole (chunks are, see ``tests/simulator/test_kernel_chunks.py``), for about half the
steps. All replays take the trace a chunk at a time (``trace_source.py``), each chunk generated
once, so a year-long trace is never held whole.
"""

from __future__ import annotations

import copy

import numpy as np

from . import controller as C
from .trace_source import HeldOutTrace, Variant


def feed_variants(trace: HeldOutTrace, cp, gp, pp, variants: list[Variant], record=None, record_length: int = 0,
                  others: list[C.Replay] = (), until: int | None = None):
    """Feed the natural replay of ``trace`` and each variant's (forked at ``Variant.start``), all
    recording the windows ``record`` of ``record_length`` steps (as ``run_kernel`` takes them), and
    ``others`` (replays of the natural trace with their own arrays, N+1), the trace's chunks up to
    step ``until`` (at least; default: the whole trace). Returns (natural, variants' replays, None
    for a variant that is the natural replay up to there)."""
    T = trace.steps
    until = T if until is None else min(until, T)
    natural = C.Replay(cp, gp, pp, T, record=record, record_length=record_length)
    pending = sorted((v.start, k) for k, v in enumerate(variants) if v.start < until)
    forks: list[tuple[Variant, C.Replay, int]] = []
    replays: list[C.Replay | None] = [None] * len(variants)
    for i0, nat in trace.chunks():
        if i0 >= until:
            break
        i1 = i0 + nat.steps
        while pending and pending[0][0] < i1:
            s, k = pending.pop(0)
            if s > natural.done:
                natural.feed(nat.chunk(natural.done - i0, s - i0))
            fork = copy.deepcopy(natural)
            v = variants[k]
            fork.stress = np.zeros((0, 2)) if v.stress is None else np.ascontiguousarray(v.stress, dtype=np.float64)
            forks.append((v, fork, s))
            replays[k] = fork
        if natural.done < i1:
            natural.feed(nat.chunk(natural.done - i0, nat.steps))
        for v, fork, s in forks:
            a = max(s, i0)
            if a < i1:
                fork.feed(v.chunk(nat.chunk(a - i0, nat.steps), a))
        for rp in others:
            rp.feed(nat)
    return natural, replays


def replay_variants(trace: HeldOutTrace, cp, gp, pp, variants: list[Variant], record=None, record_length: int = 0,
                    others: list[C.Replay] = ()) -> tuple[C.KernelRun, list[C.KernelRun], list[C.KernelRun]]:
    """The whole replays of :func:`feed_variants`: (natural, variants', others')."""
    natural, replays = feed_variants(trace, cp, gp, pp, variants, record, record_length, others)
    run = natural.result()
    return run, [run if rp is None else rp.result() for rp in replays], [rp.result() for rp in others]
