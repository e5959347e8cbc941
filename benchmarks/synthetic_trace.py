"""The simulator benchmark's synthetic trace, generated a chunk at a time.

A year at 1 s is 31.5 million steps: seven float64 series and two int8 series hold 1.8 GB. So the
trace is never built whole: its events (swing periods, stalls, curtailment calls, losses of grid)
are drawn up front as short lists, and :meth:`SyntheticTrace.chunk` renders any range of steps
from them. Noise comes from one generator per hour of trace, seeded by (seed, hour), so every
step's value is the same whatever the chunk boundaries (``tests/simulator/test_bench_trace.py``
checks this bit for bit).

What it exercises: training swings (a square wave whose period, 1-10 s, changes every 10 minutes),
checkpoint dips at each hour's start, stalls (one an hour on average, 2-30 minutes), PV, a
curtailment call every two weeks with its notice, and every month a 10-minute loss of grid and a
reclose sequence of six dips.
"""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from bess_size.simulator.controller import TraceArrays

DAY_S = 86400
SWING_BLOCK_STEPS = 600  # the swing period changes every 10 minutes
NOISE_BLOCK_STEPS = 3600  # one noise generator per hour of trace
CALL_FIRST_S, CALL_EVERY_S, CALL_ACTIVE_S, CALL_RECOVERY_S = 3 * DAY_S, 14 * DAY_S, 7200, 6 * 3600
OUTAGE_FIRST_S, OUTAGE_EVERY_S, OUTAGE_S = 10 * DAY_S, 30 * DAY_S, 600
RECLOSE_AFTER_S, RECLOSE_DIPS, RECLOSE_EVERY_S = 20000, 6, 14


class SyntheticTrace:
    """The events of ``days`` of synthetic trace at 1 s for ``site``, drawn from ``seed``."""

    dt_s = 1.0

    def __init__(self, site, days: float, seed: int = 7):
        self.site, self.seed = site, seed
        self.steps = n = int(days * DAY_S / self.dt_s)
        rng = np.random.default_rng(seed)
        self.period_s = rng.uniform(1, 10, size=n // SWING_BLOCK_STEPS + 1)
        # swing phase (cycles) at each block's first step: phase(i) = base[b] + (i - b B + 1) / period[b]
        self.phase_base = np.concatenate(([0.0], np.cumsum(SWING_BLOCK_STEPS / self.period_s)[:-1]))
        stalls = rng.integers(0, max(n - 1800, 1), size=int(days * 24))
        lengths = rng.integers(120, 1800, size=stalls.size)
        order = np.argsort(stalls, kind="stable")
        self.stall_start, self.stall_steps = stalls[order], lengths[order]
        self.call_start = np.arange(CALL_FIRST_S, n - 20000, CALL_EVERY_S, dtype=np.int64)
        self.outage_start = np.arange(OUTAGE_FIRST_S, n - 4000, OUTAGE_EVERY_S, dtype=np.int64)
        self.notice_steps = int(site.grid.curtailment.notice_min * 60)

    def chunk(self, i0: int, i1: int) -> TraceArrays:
        """Steps ``[i0, i1)`` of the trace, the same values whatever the chunking."""
        site, dt = self.site, self.dt_s
        i = np.arange(i0, i1, dtype=np.int64)
        t = i * dt
        peak = site.load.peak_mw
        b = i // SWING_BLOCK_STEPS
        phase = self.phase_base[b] + (i - b * SWING_BLOCK_STEPS + 1) / self.period_s[b]
        swing = 0.4 * 0.85 * 300 * 0.5 * np.sign(np.sin(2 * np.pi * phase))
        load = 0.75 * peak + swing + self._noise(i0, i1)
        load[(t % 3600) < 30] -= 0.6 * 0.85 * 300  # checkpoint dips
        # stalls overlapping the chunk started at most 1800 steps before it
        for s, k in zip(*self._overlapping(self.stall_start, self.stall_steps, i0 - 1800, i1)):
            load[max(s, i0) - i0:max(min(s + k, i1) - i0, 0)] -= 0.35 * 300
        load = np.clip(load, site.load.min_load_mw, peak)
        pv = np.clip(40 * np.sin(np.pi * ((t % DAY_S) / DAY_S - 0.25) * 2), 0, None)
        limit = np.full(i1 - i0, site.grid.total_import_mw)
        phase_arr = np.zeros(i1 - i0, np.int8)
        notice = np.zeros(i1 - i0)
        for s in self.call_start[(self.call_start - self.notice_steps < i1)
                                 & (self.call_start + CALL_ACTIVE_S + CALL_RECOVERY_S > i0)]:
            a, c, r = s - self.notice_steps, s + CALL_ACTIVE_S, s + CALL_ACTIVE_S + CALL_RECOVERY_S
            sl = self._slice(a, s, i0, i1)
            phase_arr[sl] = 1
            notice[sl] = (s - i[sl]) * dt  # a notice announces its start: what the controller knows
            phase_arr[self._slice(s, c, i0, i1)] = 2
            limit[self._slice(s, c, i0, i1)] = site.grid.firm_import_mw
            phase_arr[self._slice(c, r, i0, i1)] = 3
        grid = np.ones(i1 - i0, np.int8)
        for s in self.outage_start[(self.outage_start < i1) & (self.outage_start + RECLOSE_AFTER_S + 100 > i0)]:
            grid[self._slice(s, s + OUTAGE_S, i0, i1)] = 0
            for k in range(RECLOSE_DIPS):
                grid[self._slice(s + RECLOSE_AFTER_S + RECLOSE_EVERY_S * k,
                                 s + RECLOSE_AFTER_S + RECLOSE_EVERY_S * k + 1, i0, i1)] = 0
        price = 55.0 + 20.0 * np.sin(2 * np.pi * (t // 3600) / 24.0)
        return TraceArrays(load, load - 5.0, load + 5.0, pv, limit, phase_arr, grid, price, notice, dt)

    def chunks(self, chunk_steps: int) -> Iterator[TraceArrays]:
        """The whole trace as consecutive chunks of ``chunk_steps`` (the last one shorter)."""
        for i0 in range(0, self.steps, chunk_steps):
            yield self.chunk(i0, min(i0 + chunk_steps, self.steps))

    def whole(self, chunk_steps: int = DAY_S) -> TraceArrays:
        """The whole trace in one set of arrays, filled a chunk at a time (for a one-shot replay)."""
        parts = None
        i0 = 0
        for c in self.chunks(chunk_steps):
            if parts is None:
                parts = {k: np.empty(self.steps, getattr(c, k).dtype) for k in _SERIES}
            for k in _SERIES:
                parts[k][i0:i0 + c.steps] = getattr(c, k)
            i0 += c.steps
        return TraceArrays(**parts, dt_s=self.dt_s)

    def _noise(self, i0: int, i1: int) -> np.ndarray:
        """N(0, 2 MW) per step, one generator per hour block seeded by (seed, block)."""
        b0, b1 = i0 // NOISE_BLOCK_STEPS, math.ceil(i1 / NOISE_BLOCK_STEPS)
        z = np.concatenate([np.random.default_rng([self.seed, 1, b]).normal(0, 2.0, NOISE_BLOCK_STEPS)
                            for b in range(b0, b1)])
        return z[i0 - b0 * NOISE_BLOCK_STEPS:i1 - b0 * NOISE_BLOCK_STEPS]

    @staticmethod
    def _overlapping(starts, lengths, lo, hi):
        a, b = np.searchsorted(starts, lo), np.searchsorted(starts, hi)
        return starts[a:b], lengths[a:b]

    @staticmethod
    def _slice(a: int, b: int, i0: int, i1: int) -> slice:
        """Steps ``[a, b)`` of the trace as a slice of the chunk ``[i0, i1)`` (empty when disjoint)."""
        lo, hi = min(max(a, i0), i1) - i0, min(max(b, i0), i1) - i0
        return slice(lo, hi)


_SERIES = ("load_mw", "load_min_mw", "load_max_mw", "pv_mw", "import_limit_mw", "curtailment_phase",
           "grid_available", "price_usd_per_mwh", "notice_left_s")
