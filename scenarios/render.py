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
def render_pwl(xs, ys, t0, dt, i0, n, out_mean, out_min, out_max):
    """Bin mean, minimum and maximum of a piecewise-linear function over bins ``i0 .. i0 + n - 1``.

    The function is linear between consecutive breakpoints ``(xs[k], ys[k])`` (``xs``
    non-decreasing; two breakpoints at the same time make a jump) and constant beyond the
    first and last breakpoints. Bin i covers ``[t0 + i dt, t0 + (i+1) dt)`` and lands in
    ``out_*[i - i0]``::

        mean_i = (1/dt) * integral of f over the bin      (exact: trapezoids per segment)
        min_i, max_i = extremes of f over the open bin     (at segment ends inside the bin)

    Bins are numbered from ``t0`` whatever ``i0``, so a trace rendered a chunk at a time gives the
    bits of the trace rendered whole.

    Most bins lie on one linear piece (a few hundred breakpoints against 86,400 bins a day):
    such runs of bins are filled by a branch-free loop the compiler vectorizes
    (:func:`_fill_piece`); only bins holding a breakpoint take the general path (:func:`pwl_bin`).
    Both compute a bin with the same operations, so the result does not depend on the path.
    """
    m = xs.shape[0]
    k = 0
    i = np.int64(i0)  # typed, not a literal: one compiled version of the helpers, not two
    stop = i + n
    while i < stop:
        a = t0 + i * dt
        while k < m - 1 and xs[k + 1] <= a:
            k += 1
        if a < xs[0]:  # before the first breakpoint: constant ys[0]
            end = _last_bin_ending_by(xs[0], t0, dt, i, stop)
            x1, y1, slope = xs[0], ys[0], 0.0
        elif k == m - 1:  # beyond the last breakpoint: constant ys[-1]
            end = stop - 1
            x1, y1, slope = xs[k], ys[k], 0.0
        else:  # on segment k: xs[k] <= a < xs[k + 1]
            end = _last_bin_ending_by(xs[k + 1], t0, dt, i, stop)
            x1, y1, slope = xs[k], ys[k], (ys[k + 1] - ys[k]) / (xs[k + 1] - xs[k])
        if end >= i:
            i = _fill_piece(x1, y1, slope, t0, dt, i, end, i0, out_mean, out_min, out_max)
        else:  # bin i holds a breakpoint
            k, out_mean[i - i0], out_min[i - i0], out_max[i - i0] = pwl_bin(xs, ys, k, a, a + dt, dt)
            i += 1


@njit(cache=True)
def _last_bin_ending_by(x, t0, dt, i, n):
    """The last bin j >= i - 1 (at most n - 1) whose end ``(t0 + j dt) + dt`` is <= x; the bin
    ends are computed as the bins compute them, and rounding keeps them in order."""
    j = int(min(max(np.floor((x - t0) / dt) - 1.0, i - 1.0), n - 1.0))  # a guess, clamped as a float
    while j + 1 < n and (t0 + (j + 1) * dt) + dt <= x:
        j += 1
    while j >= i and (t0 + j * dt) + dt > x:
        j -= 1
    return j


@njit(cache=True)
def _fill_piece(x1, y1, slope, t0, dt, i, end, i0, out_mean, out_min, out_max):
    """Bins i..end (stored at ``j - i0``), each lying on the line through (x1, y1) with ``slope``;
    returns end + 1.

    The operations of :func:`pwl_bin` for a bin on one segment: the values at its ends, the
    trapezoid added to a zero accumulator, divided by dt."""
    for j in range(i, end + 1):
        a = t0 + j * dt
        b = a + dt
        ya = y1 + slope * (a - x1)
        yb = y1 + slope * (b - x1)
        out_mean[j - i0] = (0.0 + 0.5 * (ya + yb) * (b - a)) / dt
        out_min[j - i0] = min(np.inf, ya, yb)
        out_max[j - i0] = max(-np.inf, ya, yb)
    return end + 1


@njit(cache=True)
def pwl_bin(xs, ys, k, a, b, dt):
    """One bin ``[a, b)`` of :func:`render_pwl` by the general path: (cursor, mean, min, max).

    ``k`` is the cursor left by the previous bin (0 for the first): bins come in order, so a
    sweep visits each breakpoint once.
    """
    m = xs.shape[0]
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
    return k, acc / dt, lo, hi


def pwl_bins(xs, ys, t0: float, dt: float, n: int, i0: int = 0):
    """(mean, min, max) arrays of a piecewise-linear function over bins ``i0 .. i0 + n - 1`` of the
    grid from ``t0`` (see :func:`render_pwl`)."""
    xs = np.ascontiguousarray(xs, dtype=np.float64)
    ys = np.ascontiguousarray(ys, dtype=np.float64)
    if xs.size == 0:
        z = np.zeros(n)
        return z, z.copy(), z.copy()
    mean, lo, hi = np.empty(n), np.empty(n), np.empty(n)
    render_pwl(xs, ys, float(t0), float(dt), int(i0), int(n), mean, lo, hi)
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


def zoh_bins(times_s, values, t0: float, dt: float, n: int, i0: int = 0):
    """Bin (mean, min, max) of samples held from each time to the next (zero-order hold).

    A measured trace sampled at ``times_s``: each value holds until the next sample, the last
    value continues to the end (padding with the end value, never tiling), and times before the
    first sample take the first value. Coarser bins get the exact bin mean
    (and the samples' extremes); finer bins get the held value.
    """
    return pwl_bins(*zoh_breakpoints(times_s, values), t0, dt, n, i0)


def zoh_breakpoints(times_s, values):
    """Breakpoints of a zero-order hold: xs t0, t1, t1, t2, t2, ...; ys v0, v0, v1, v1, ...
    (a jump at each sample time)."""
    times_s = np.asarray(times_s, dtype=float)
    values = np.asarray(values, dtype=float)
    return np.repeat(times_s, 2)[1:], np.repeat(values, 2)[:-1]


def periodic_bin_means(times_s, values, t_abs0: float, dt: float, n: int, i0: int = 0):
    """Bin means of a zero-order-hold profile repeated with its own period (prices, PV CSV), over
    bins ``i0 .. i0 + n - 1`` of the grid from ``t_abs0``.

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

    edges = t_abs0 + dt * np.arange(i0, i0 + n + 1)
    a = antideriv(edges)
    return np.diff(a) / dt
