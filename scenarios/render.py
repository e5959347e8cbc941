"""Exact bin statistics of piecewise signals, the building block of every generated series.

Event-driven processes (job stalls, checkpoints, bursts, curtailment calls) are described by a few
breakpoints, not by samples. Rendering them onto a grid of bins ``[t0 + i*dt, t0 + (i+1)*dt)``
by exact integration gives the bin mean at any resolution (1 s for the transient layer, 1 h for
the energy layer) together with the within-bin minimum and maximum, so a drop shorter than a bin
is never averaged away unseen.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def render_pwl(xs, ys, t0, dt, n, out_mean, out_min, out_max):
    """Bin mean, minimum and maximum of a piecewise-linear function.

    The function is linear between consecutive breakpoints ``(xs[k], ys[k])`` (``xs``
    non-decreasing; two breakpoints at the same time make a jump) and constant beyond the
    first and last breakpoints. Bin i covers ``[t0 + i dt, t0 + (i+1) dt)``::

        mean_i = (1/dt) * integral of f over the bin      (exact: trapezoids per segment)
        min_i, max_i = extremes of f over the open bin     (at segment ends inside the bin)
    """
    m = xs.shape[0]
    k = 0
    for i in range(n):
        a = t0 + i * dt
        b = a + dt
        while k < m - 1 and xs[k + 1] <= a:
            k += 1
        acc = 0.0
        lo = np.inf
        hi = -np.inf
        x = a
        if x < xs[0]:  # before the first breakpoint: constant ys[0]
            e = min(b, xs[0])
            acc += ys[0] * (e - x)
            lo = min(lo, ys[0])
            hi = max(hi, ys[0])
            x = e
        j = k
        while x < b and j < m - 1:
            x1 = xs[j]
            x2 = xs[j + 1]
            if x2 > x and x2 > x1:
                e = min(x2, b)
                slope = (ys[j + 1] - ys[j]) / (x2 - x1)
                ya = ys[j] + slope * (x - x1)
                yb = ys[j] + slope * (e - x1)
                acc += 0.5 * (ya + yb) * (e - x)
                lo = min(lo, ya, yb)
                hi = max(hi, ya, yb)
                x = e
            j += 1
        if x < b:  # beyond the last breakpoint: constant ys[-1]
            acc += ys[m - 1] * (b - x)
            lo = min(lo, ys[m - 1])
            hi = max(hi, ys[m - 1])
        out_mean[i] = acc / dt
        out_min[i] = lo
        out_max[i] = hi


def pwl_bins(xs, ys, t0: float, dt: float, n: int):
    """(mean, min, max) arrays of a piecewise-linear function over n bins (see :func:`render_pwl`)."""
    xs = np.ascontiguousarray(xs, dtype=np.float64)
    ys = np.ascontiguousarray(ys, dtype=np.float64)
    if xs.size == 0:
        z = np.zeros(n)
        return z, z.copy(), z.copy()
    mean, lo, hi = np.empty(n), np.empty(n), np.empty(n)
    render_pwl(xs, ys, float(t0), float(dt), int(n), mean, lo, hi)
    return mean, lo, hi


def steps_to_pwl(starts, ends, heights, base: float = 0.0):
    """Breakpoints of ``base + sum_k heights[k] * 1[starts[k] <= t < ends[k]]`` (rectangles may overlap)."""
    starts = np.asarray(starts, dtype=float)
    ends = np.asarray(ends, dtype=float)
    heights = np.asarray(heights, dtype=float)
    if starts.size == 0:
        return np.array([0.0]), np.array([base])
    t = np.concatenate([starts, ends])
    dv = np.concatenate([heights, -heights])
    order = np.argsort(t, kind="stable")
    t, dv = t[order], dv[order]
    level = base + np.cumsum(dv)
    before = np.concatenate([[base], level[:-1]])
    xs = np.repeat(t, 2)
    ys = np.empty(2 * t.size)
    ys[0::2] = before
    ys[1::2] = level
    return xs, ys


def zoh_bins(times_s, values, t0: float, dt: float, n: int):
    """Bin (mean, min, max) of samples held from each time to the next (zero-order hold).

    A measured trace sampled at ``times_s``: each value holds until the next sample, the last
    value continues to the end (padding with the end value, never tiling), and times before the
    first sample take the first value. Coarser bins get the exact bin mean
    (and the samples' extremes); finer bins get the held value.
    """
    return pwl_bins(*zoh_breakpoints(times_s, values), t0, dt, n)


def zoh_breakpoints(times_s, values):
    """Breakpoints of a zero-order hold: xs t0, t1, t1, t2, t2, ...; ys v0, v0, v1, v1, ...
    (a jump at each sample time)."""
    times_s = np.asarray(times_s, dtype=float)
    values = np.asarray(values, dtype=float)
    return np.repeat(times_s, 2)[1:], np.repeat(values, 2)[:-1]


def periodic_bin_means(times_s, values, t_abs0: float, dt: float, n: int):
    """Bin means of a zero-order-hold profile repeated with its own period (prices, PV CSV).

    The period is the last time plus one median step. Exact via the antiderivative
    ``A(x) = floor(x / P) A(P) + A(x mod P)``.
    """
    times_s = np.asarray(times_s, dtype=float)
    values = np.asarray(values, dtype=float)
    step = float(np.median(np.diff(times_s))) if times_s.size > 1 else 3600.0
    period = times_s[-1] + step
    if times_s[0] > 0:  # before the first sample: the first value
        times_s = np.concatenate([[0.0], times_s])
        values = np.concatenate([[values[0]], values])
    widths = np.diff(np.concatenate([times_s, [period]]))
    cum = np.concatenate([[0.0], np.cumsum(values * widths)])
    total = cum[-1]

    def antideriv(x):
        q, r = np.divmod(x, period)
        k = np.searchsorted(times_s, r, side="right") - 1
        return q * total + cum[k] + values[k] * (r - times_s[k])

    edges = t_abs0 + dt * np.arange(n + 1)
    a = antideriv(edges)
    return np.diff(a) / dt
